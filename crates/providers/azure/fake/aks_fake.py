#!/usr/bin/env python3
"""aks_fake -- a contract fake of Azure Resource Manager for AKS, and of Entra ID's token
endpoint, for tests.

No emulator of AKS exists, so this server implements exactly the calls fedstack makes,
under the real URL paths, and checks every request against Microsoft's own published
models: the Python packages generated from the REST API specs, pinned by
scripts/test-peers in `.venv-azure/` -- `azure-mgmt-containerservice` (Microsoft.
ContainerService, api-version 2026-08-01) and `azure-mgmt-resource` (Microsoft.Resources).

- Routing comes from the packages' request builders (`build_*_request` in
  `operations/_operations.py`, called once at startup with placeholder arguments), matched
  case-insensitively as ARM does; a path no published operation has is answered 404, a
  published one fedstack is not expected to call 400; both are recorded as rejections.
- Query parameters must be ones the operation's builder sets, `api-version` the one the
  package was generated for.
- Request bodies are walked against the generated TypeSpec models (`_utils/model_base.py`
  `Model` classes with `rest_field`s: wire name, visibility, type annotation): an unknown,
  read-only or mistyped field, a missing required one, or a value outside a *closed* enum
  is answered 400 InvalidRequestContent and recorded (`GET /_fake/rejections`), which the
  tests assert to be empty. Azure's enums are extensible (`Union[str, Enum]`): any string.

Long-running operations follow ARM's async protocol: PUT answers 201/200 with
`Azure-AsyncOperation` (and `Retry-After`), DELETE 202 with `Location` too. Operations
advance when they are polled, never with the clock: each poll of the operation (either
URL) counts, and after `polls_per_step` polls (per cluster or resource group with
`slow`) the operation moves one step: queued -> running (both `InProgress`) -> done
(`Succeeded`, or `Failed` with `fail`). The resources' `provisioningState` follows.

Authentication is Entra ID's client-credentials flow in miniature:
`POST /{tenant}/oauth2/v2.0/token` takes the fixed test service principal and issues a
bearer token, and every ARM call must carry one it issued. All of that is HTTPS (the Rust
SDK's bearer policy refuses plain HTTP), with the certificate the harness made.

Clusters can be real: given `backing` control planes (config), a cluster that finishes
creating gets the next one's endpoint and CA, `listClusterUserCredential` hands out a
kubeconfig with a token the fake issued, and `POST /authenticate` (control port) answers
the Kubernetes authenticating webhook (TokenReview, authentication.k8s.io/v1) for the
fake's tokens, so a kube-apiserver started with `--authentication-token-webhook-config-file`
pointing there accepts them (group system:masters).

Control (tests only, plain HTTP on the second port): GET /_fake/calls, /_fake/rejections,
/_fake/state; POST /_fake/faults, /_fake/config, /_fake/reset; POST /authenticate.

Usage: aks_fake.py --cert server.pem --key server.key [--port 0] [--control-port 0]
Prints `aks_fake listening on https://127.0.0.1:PORT control http://127.0.0.1:PORT2`.
"""

import argparse
import base64
import collections.abc
import datetime
import decimal
import difflib
import enum
import importlib
import inspect
import json
import re
import secrets
import ssl
import sys
import threading
import traceback
import typing
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The test service principal (fixed; the Rust harness has the same constants).
TENANT_ID = "72f988bf-0000-4000-8000-00000000fed5"
CLIENT_ID = "5a3c1b2d-0000-4000-8000-00000000fed5"
CLIENT_SECRET = "fedstack-test-client-secret"
SUBSCRIPTION_ID = "00000000-0000-4000-8000-00000000fed5"
# What ARM takes: the resource URI's `.default` (both spellings are in use).
ARM_SCOPES = ("https://management.azure.com/.default", "https://management.core.windows.net//.default")

CS_PACKAGE = "azure.mgmt.containerservice"
RG_PACKAGE = "azure.mgmt.resource.resources"

# Operations fedstack calls (the packages' operation names), by handler below.
HANDLED = {
    "resource_groups_create_or_update",
    "resource_groups_get",
    "resource_groups_check_existence",
    "resource_groups_delete",
    "resources_list_by_resource_group",
    "managed_clusters_create_or_update",
    "managed_clusters_get",
    "managed_clusters_delete",
    "managed_clusters_list_cluster_user_credentials",
    "managed_clusters_list_kubernetes_versions",
    "agent_pools_create_or_update",
    "agent_pools_get",
    "agent_pools_delete",
}

# Parameters of azure-mgmt-resource's generic `resources_*` operations (any resource,
# by provider namespace and type, or by id): not routed, so an unknown AKS path stays a
# 404 instead of matching "some resource of some provider".
GENERIC_PARAMS = {"resource_provider_namespace", "resource_id", "parent_resource_path"}

NoneType = type(None)
SCALARS = {
    str: "string",
    int: "integer",
    float: "number",
    decimal.Decimal: "number",
    bool: "boolean",
    bytes: "bytes",
    datetime.datetime: "datetime",
    datetime.date: "date",
    datetime.time: "time",
    datetime.timedelta: "duration",
}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?$", re.IGNORECASE)

# Not a real CA: unbacked clusters are not reachable.
FAKE_CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmZha2UKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
NODE_IMAGE = "AKSUbuntu-2204gen2containerd-202606.01.0"


class ApiError(Exception):
    def __init__(self, status, code, message, target=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = headers or {}


# ---- the published models -----------------------------------------------------------


class Field:
    __slots__ = ("attr", "type", "visibility", "readonly", "writable", "required", "discriminator")

    def __init__(self, attr, type_, visibility, readonly, required, discriminator):
        self.attr = attr
        self.type = type_
        self.visibility = visibility
        self.readonly = readonly
        self.writable = readonly is False and bool({"create", "update"} & set(visibility))
        self.required = required
        self.discriminator = discriminator


def _optional(hint):
    return typing.get_origin(hint) is typing.Union and NoneType in typing.get_args(hint)


def _short(value):
    return json.dumps(value)[:60]


class Models:
    """The TypeSpec-generated models of one package, walked once at startup.

    Each `Model` subclass's `rest_field`s come from the package itself: `Model.__new__`
    resolves them into `_attr_to_rest_field` (wire name `_rest_name`, `_visibility`,
    `_is_discriminator`), `_is_readonly` says which are read-only, and the class
    annotations (resolved with `typing.get_type_hints`) give the types.
    """

    def __init__(self, package):
        self.package = package
        models = importlib.import_module(package + ".models")
        generated = importlib.import_module(package + ".models._models")
        self.base = importlib.import_module(package + "._utils.model_base")
        self.ns = dict(vars(generated))
        self.ns["_models"] = models
        self.fields = {}
        for obj in list(vars(generated).values()):
            if isinstance(obj, type) and issubclass(obj, self.base.Model) and obj is not self.base.Model:
                self._walk(obj)
        self.by_name = {cls.__name__: cls for cls in self.fields}

    def _walk(self, cls):
        if cls in self.fields:
            return
        cls.__new__(cls)  # resolves the class's rest fields, as the package does on first use
        hints = typing.get_type_hints(cls, globalns=self.ns)
        out = {}
        for attr, rf in cls._attr_to_rest_field.items():
            hint = hints.get(attr, typing.Any)
            visibility = list(rf._visibility) if rf._visibility is not None else ["read", "create", "update", "delete", "query"]
            out[rf._rest_name] = Field(
                attr,
                self._type(hint, f"{cls.__name__}.{attr}"),
                visibility,
                readonly=bool(self.base._is_readonly(rf)) or not ({"create", "update"} & set(visibility)),
                required=not _optional(hint) and hint is not typing.Any,
                discriminator=bool(rf._is_discriminator),
            )
        self.fields[cls] = out

    def _type(self, hint, where):
        if hint is typing.Any:
            return ("any",)
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin is typing.Union:
            rest = [a for a in args if a is not NoneType]
            enums = [a for a in rest if isinstance(a, type) and issubclass(a, enum.Enum)]
            if enums and str in rest and len(rest) == len(enums) + 1:
                # Union[str, SomeEnum]: an extensible enum, any string goes.
                return ("enum", tuple(v.value for e in enums for v in e), True)
            if len(rest) == 1:
                return self._type(rest[0], where)
            return ("union", tuple(self._type(a, where) for a in rest))
        if origin is typing.Literal:
            return ("enum", tuple(args), False)
        if origin in (list, collections.abc.Sequence, collections.abc.MutableSequence):
            return ("list", self._type(args[0], where))
        if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
            return ("dict", self._type(args[1], where))
        if hint in SCALARS:
            return (SCALARS[hint],)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            # A bare enum (not in a Union with str): closed.
            return ("enum", tuple(v.value for v in hint), False)
        if isinstance(hint, type) and issubclass(hint, self.base.Model):
            return ("model", hint)
        raise TypeError(f"{self.package}: {where}: annotation {hint!r} is not one the fake knows how to check")

    def _concrete(self, cls, value):
        """A polymorphic model's subclass named by the discriminator in `value`."""
        mapping = getattr(cls, "__mapping__", None)
        if not mapping:
            return cls
        for name, f in self.fields[cls].items():
            if f.discriminator:
                sub = mapping.get(value.get(name))
                return sub if sub in self.fields else cls
        return cls

    def check(self, cls, value):
        problems = []
        self._check(("model", cls), value, cls.__name__, problems)
        return problems

    def _check(self, t, v, where, problems):
        kind = t[0]
        if v is None or kind == "any":
            return  # null is "not given" to ARM; a required field's null is caught by its model
        if kind == "model":
            if not isinstance(v, dict):
                problems.append(f"{where}: expected an object ({t[1].__name__}), got {_short(v)}")
                return
            cls = self._concrete(t[1], v)
            fields = self.fields[cls]
            for k, item in v.items():
                f = fields.get(k)
                if f is None:
                    near = difflib.get_close_matches(k, list(fields), n=1)
                    hint = f"did you mean `{near[0]}`?" if near else f"{cls.__name__} has no such field"
                    problems.append(f"{where}.{k}: unknown field ({hint})")
                elif f.readonly:
                    problems.append(f"{where}.{k}: read-only field sent in a request")
                elif item is None and f.required:
                    problems.append(f"{where}.{k}: required, got null")
                else:
                    self._check(f.type, item, f"{where}.{k}", problems)
            for k, f in fields.items():
                if f.required and f.writable and k not in v:
                    problems.append(f"{where}.{k}: required field missing")
        elif kind == "list":
            if not isinstance(v, list):
                problems.append(f"{where}: expected an array, got {_short(v)}")
                return
            for i, item in enumerate(v):
                self._check(t[1], item, f"{where}[{i}]", problems)
        elif kind == "dict":
            if not isinstance(v, dict):
                problems.append(f"{where}: expected an object (a map), got {_short(v)}")
                return
            for k, item in v.items():
                self._check(t[1], item, f"{where}[{json.dumps(k)}]", problems)
        elif kind == "union":
            for alt in t[1]:
                sub = []
                self._check(alt, v, where, sub)
                if not sub:
                    return
            problems.append(f"{where}: {_short(v)} matches none of the field's types")
        elif kind == "enum":
            values, extensible = t[1], t[2]
            if extensible:
                if not isinstance(v, str):
                    problems.append(f"{where}: expected a string, got {_short(v)}")
            elif not any(v == x or (isinstance(v, str) and isinstance(x, str) and v.lower() == x.lower()) for x in values):
                problems.append(f"{where}: `{v}` is not one of {', '.join(map(str, values))}")
        elif kind == "string":
            if not isinstance(v, str):
                problems.append(f"{where}: expected a string, got {_short(v)}")
        elif kind == "integer":
            if not isinstance(v, int) or isinstance(v, bool):
                problems.append(f"{where}: expected an integer, got {_short(v)}")
        elif kind == "number":
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                problems.append(f"{where}: expected a number, got {_short(v)}")
        elif kind == "boolean":
            if not isinstance(v, bool):
                problems.append(f"{where}: expected a boolean, got {_short(v)}")
        elif kind == "bytes":
            try:
                base64.b64decode(v, validate=True)
            except (TypeError, ValueError):
                problems.append(f"{where}: expected a base64 string, got {_short(v)}")
        elif kind == "datetime":
            if not isinstance(v, str) or not RFC3339.match(v):
                problems.append(f"{where}: expected an RFC 3339 date-time, got {_short(v)}")
        elif kind in ("date", "time", "duration"):
            if not isinstance(v, str):
                problems.append(f"{where}: expected a string ({kind}), got {_short(v)}")

    def readable(self, cls, value):
        """`value` without the write-only fields (secrets) a response never carries."""
        return self._readable(("model", cls), value)

    def _readable(self, t, v):
        if v is None:
            return v
        if t[0] == "model" and isinstance(v, dict):
            fields = self.fields[self._concrete(t[1], v)]
            out = {}
            for k, item in v.items():
                f = fields.get(k)
                if f is None:
                    out[k] = item
                elif "read" in f.visibility:
                    out[k] = self._readable(f.type, item)
            return out
        if t[0] == "list" and isinstance(v, list):
            return [self._readable(t[1], x) for x in v]
        if t[0] == "dict" and isinstance(v, dict):
            return {k: self._readable(t[1], x) for k, x in v.items()}
        return v


class Route:
    __slots__ = ("method", "regex", "op", "params", "body", "api_version", "api", "literal")

    def __init__(self, method, regex, op, params, body, api_version, api, literal):
        self.method = method
        self.regex = regex
        self.op = op
        self.params = params
        self.body = body
        self.api_version = api_version
        self.api = api
        self.literal = literal


class Api:
    """One generated package: its operations (as routes) and their request models."""

    def __init__(self, package, label, version_error):
        self.package = package
        self.label = label
        self.version_error = version_error
        self.models = Models(package)
        ops = importlib.import_module(package + ".operations._operations")
        bodies = self._bodies(ops)
        self.routes = []
        versions = set()
        for name, fn in vars(ops).items():
            if not (name.startswith("build_") and name.endswith("_request") and inspect.isfunction(fn)):
                continue
            op = name[len("build_") : -len("_request")]
            sentinels, kwargs = {}, {}
            for p in inspect.signature(fn).parameters.values():
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
                    continue
                s = "zz" + re.sub(r"[^a-z0-9]", "", p.name.lower()) + "zz"
                sentinels[s] = p.name
                kwargs[p.name] = s
            if op.startswith("resources_") and GENERIC_PARAMS & set(kwargs):
                continue  # ARM's any-resource operations would route every provider path
            req = fn(**kwargs)  # the package builds the request: method, path, api-version
            url = urllib.parse.urlsplit(req.url)
            version = (urllib.parse.parse_qs(url.query).get("api-version") or [None])[0]
            if version and version.startswith("zz"):
                version = None
            if version:
                versions.add(version)
            pattern = re.escape(url.path)
            literal = len(url.path)
            for s, pname in sentinels.items():
                if s in pattern:
                    literal -= len(s)
                    pattern = pattern.replace(s, f"(?P<{pname}>[^/]+)")
            params = set(re.findall(r'_params\["([^"]+)"\]', inspect.getsource(fn)))
            params.add("api-version")
            self.routes.append(
                Route(req.method, re.compile("^" + pattern + "$", re.IGNORECASE), op, params, bodies.get(op), version, self, literal)
            )
        if len(versions) != 1:
            raise RuntimeError(f"{package}: expected one api-version in its operations, found {sorted(versions)}")
        self.api_version = versions.pop()

    def _bodies(self, ops):
        """Operation name -> the model its request body is (from the operation classes'
        signatures: the parameter typed `Union[_models.X, JSON, IO[bytes]]`)."""
        ns = dict(vars(ops))
        ns["_models"] = importlib.import_module(self.package + ".models")
        found = {}
        for cname, cls in vars(ops).items():
            if not (isinstance(cls, type) and cname.endswith("Operations")):
                continue
            for meth in vars(cls).values():
                if not callable(meth):
                    continue
                raw = inspect.unwrap(meth)
                try:
                    src = inspect.getsource(raw)
                    hints = typing.get_type_hints(raw, globalns=ns)
                except (OSError, TypeError, NameError):
                    continue
                called = re.findall(r"\bbuild_(\w+)_request\(", src)
                for pname, h in hints.items():
                    if pname == "return":
                        continue
                    for a in typing.get_args(h) or (h,):
                        if isinstance(a, type) and issubclass(a, self.models.base.Model):
                            for op in called:
                                found.setdefault(op, set()).add(a)
        return {op: next(iter(c)) for op, c in found.items() if len(c) == 1}


class Router:
    def __init__(self, apis):
        self.apis = apis
        self.routes = [r for api in apis for r in api.routes]
        ops = {r.op for r in self.routes}
        missing = HANDLED - ops
        if missing:
            raise RuntimeError(f"the installed packages have no operation {sorted(missing)}")
        for op in ("managed_clusters_create_or_update", "agent_pools_create_or_update", "resource_groups_create_or_update"):
            if next(r for r in self.routes if r.op == op).body is None:
                raise RuntimeError(f"could not find the request model of {op}")

    def route(self, method, path):
        best = None
        for r in self.routes:
            if r.method == method:
                hit = r.regex.match(path)
                if hit and (best is None or r.literal > best[0].literal):
                    best = (r, {k: urllib.parse.unquote(v) for k, v in hit.groupdict().items()})
        return best


CS = None  # Api of azure-mgmt-containerservice
RG = None  # Api of azure-mgmt-resource (resources)
ROUTER = None

# The fake's own paths: the operation URLs it hands out in headers (ARM has no published
# operation for them). (method, regex, name, api)
OWN_PATTERNS = [
    ("GET", r"/subscriptions/(?P<subscription_id>[^/]+)/providers/Microsoft\.ContainerService/locations/(?P<location>[^/]+)/operations/(?P<operation_id>[^/]+)", "aks_operation_status", "cs"),
    ("GET", r"/subscriptions/(?P<subscription_id>[^/]+)/providers/Microsoft\.ContainerService/locations/(?P<location>[^/]+)/operationresults/(?P<operation_id>[^/]+)", "aks_operation_result", "cs"),
    ("GET", r"/subscriptions/(?P<subscription_id>[^/]+)/operationresults/(?P<operation_id>[^/]+)", "arm_operation_result", "rg"),
]
OWN_ROUTES = [(m, re.compile("^" + p + "$", re.IGNORECASE), n, a) for m, p, n, a in OWN_PATTERNS]


# ---- the world ----------------------------------------------------------------------


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def vkey(v):
    return tuple(int(x) for x in re.findall(r"\d+", v))


class World:
    def __init__(self):
        self.lock = threading.Lock()
        self.arm_tokens = set()
        self.kube_tokens = set()
        self.reset()

    def reset(self):
        self.groups = {}  # rg lower -> group
        self.clusters = {}  # (rg lower, name lower) -> cluster
        self.operations = {}  # operation id -> operation
        self.calls = []
        self.rejections = []
        self.faults = []
        self.reviews = 0
        self.polls_per_step = 1
        self.slow = {}  # cluster / resource group name -> polls per step
        self.fail = {}  # cluster name (or "cluster/pool") -> {"code","message","on"}
        self.backing = []  # [{"endpoint": "127.0.0.1:PORT", "ca": base64 PEM}], used in order
        self.versions = ["1.31.8", "1.31.9", "1.32.5", "1.33.1"]
        self.retry_after = 0
        self.foreign = {}  # rg lower -> [generic resources someone else put in it]


WORLD = World()
BASE_URL = ""  # https://127.0.0.1:PORT, set at startup


# ---- versions -----------------------------------------------------------------------


def minors():
    out = {}
    for v in sorted(WORLD.versions, key=vkey):
        out.setdefault(".".join(v.split(".")[:2]), []).append(v)
    return out


def default_minor():
    """AKS marks one minor isDefault: the one below the newest, as it usually does."""
    ms = sorted(minors(), key=vkey)
    return ms[-2] if len(ms) > 1 else ms[-1]


def upgrades_of(patch):
    ms = minors()
    mine = ".".join(patch.split(".")[:2])
    order = sorted(ms, key=vkey)
    out = [v for v in ms.get(mine, []) if vkey(v) > vkey(patch)]
    i = order.index(mine) if mine in order else -1
    if 0 <= i < len(order) - 1:
        out += ms[order[i + 1]]
    return out


def version_not_supported(asked):
    return ApiError(
        400,
        "AgentPoolK8sVersionNotSupported",
        f"Version {asked} is not supported in this region. Please use [az aks get-versions] command to get the supported version list in this region. For more information, please check https://aka.ms/supported-version-list",
    )


def resolve_version(asked):
    """-> (kubernetesVersion as stored, the patch it runs). `1.31` is an alias of its
    newest offered patch; nothing asked is the default minor's newest patch."""
    ms = minors()
    if not asked:
        v = ms[default_minor()][-1]
        return v, v
    if re.fullmatch(r"\d+\.\d+", asked):
        if asked not in ms:
            raise version_not_supported(asked)
        return asked, ms[asked][-1]
    if asked not in WORLD.versions:
        raise version_not_supported(asked)
    return asked, asked


def kubernetes_versions():
    ms = minors()
    default = default_minor()
    values = []
    for minor in sorted(ms, key=vkey):
        v = {
            "version": minor,
            "capabilities": {"supportPlan": ["KubernetesOfficial", "AKSLongTermSupport"]},
            "patchVersions": {p: {"upgrades": upgrades_of(p)} for p in ms[minor]},
        }
        if minor == default:
            v["isDefault"] = True
        values.append(v)
    return {"values": values}


# ---- operations ---------------------------------------------------------------------


def new_operation(kind, location, slow_key, on_done, cluster=None, pool=None, group=None, fail=None):
    op_id = str(uuid.uuid4())
    op = {
        "id": op_id,
        "kind": kind,  # "create managed cluster", "delete agent pool", ...
        "location": location,
        "cluster": cluster,
        "pool": pool,
        "group": group,
        "slow_key": slow_key,
        "status": "InProgress",
        "phase": 0,
        "polls": 0,
        "per_step": WORLD.polls_per_step,
        "startTime": now(),
        "endTime": None,
        "error": None,
        "on_done": on_done,
        "fail": fail,
    }
    WORLD.operations[op_id] = op
    return op


def op_status_url(op):
    return (
        f"{BASE_URL}/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.ContainerService/locations/"
        f"{op['location']}/operations/{op['id']}?api-version={CS.api_version}"
    )


def op_result_url(op):
    if op["group"] is not None and op["cluster"] is None:
        return f"{BASE_URL}/subscriptions/{SUBSCRIPTION_ID}/operationresults/{op['id']}?api-version={RG.api_version}"
    return (
        f"{BASE_URL}/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.ContainerService/locations/"
        f"{op['location']}/operationresults/{op['id']}?api-version={CS.api_version}"
    )


def retry_after():
    return str(WORLD.retry_after)


def running(op):
    return op["status"] == "InProgress"


def advance(op):
    if not running(op):
        return
    op["polls"] += 1
    # Looked up at each poll, so a test can hold an operation and release it later.
    if op["polls"] < int(WORLD.slow.get(op["slow_key"], op["per_step"])):
        return
    op["polls"] = 0
    op["phase"] += 1
    if op["phase"] < 2:
        return  # queued -> running: still InProgress
    op["endTime"] = now()
    error = op["fail"]
    op["on_done"](error)
    if error:
        op["status"] = "Failed"
        op["error"] = {"code": error["code"], "message": error["message"]}
    else:
        op["status"] = "Succeeded"


def cancel(op, by):
    op["status"] = "Canceled"
    op["endTime"] = now()
    op["error"] = {
        "code": "NotLatestOperation",
        "message": f"Cannot proceed with the operation. Either the operation has been preempted by another one ({by}), or the information needed by the operation failed to be saved (or hasn't been saved yet).",
    }


def op_view(op):
    out = {
        "id": f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.ContainerService/locations/{op['location']}/operations/{op['id']}",
        "name": op["id"],
        "status": op["status"],
        "startTime": op["startTime"],
    }
    if op["endTime"]:
        out["endTime"] = op["endTime"]
    if op["error"]:
        out["error"] = dict(op["error"])
    return out


def ops_of(cluster):
    return [o for o in WORLD.operations.values() if running(o) and o["cluster"] is cluster]


def not_while_running(cluster, pool_name=None):
    """AKS refuses an operation while another runs on the cluster (any pool op blocks
    cluster ops; a cluster op blocks pool ops; pool ops block their pool)."""
    for op in ops_of(cluster):
        if op["pool"] is None:
            raise ApiError(
                409,
                "OperationNotAllowed",
                f"Operation is not allowed because there's an in progress {op['kind']} operation (operation ID: {op['id']}) on the managed cluster started on UTC {op['startTime'][:19]}Z. Please wait for it to finish before starting a new operation. You can also use 'az aks operation-abort ...' to abort the ongoing operation.",
            )
        if pool_name is None or op["pool"].lower() == pool_name.lower():
            state = cluster["pools"].get(op["pool"].lower(), {}).get("provisioningState", "Updating")
            raise ApiError(
                409,
                "OperationNotAllowed",
                f"Operation is not allowed: Another agentpool operation ({op['pool']} - {state}) is in progress, please wait for it to finish before starting a new operation. See https://aka.ms/aks-pending-operation for more details",
            )


# ---- resource groups ----------------------------------------------------------------


def check_subscription(sub):
    if sub.lower() != SUBSCRIPTION_ID:
        raise ApiError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")


def normalize_location(loc):
    return (loc or "").replace(" ", "").lower()


def group_or_404(name):
    g = WORLD.groups.get(name.lower())
    if g is None:
        raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    return g


def group_view(g):
    out = {
        "id": f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{g['name']}",
        "name": g["name"],
        "type": "Microsoft.Resources/resourceGroups",
        "location": g["location"],
    }
    if g.get("tags") is not None:
        out["tags"] = g["tags"]
    if g.get("managedBy"):
        out["managedBy"] = g["managedBy"]
    out["properties"] = {"provisioningState": g["provisioningState"]}
    return out


def not_deleting(g):
    if g["provisioningState"] == "Deleting":
        raise ApiError(
            409,
            "ResourceGroupBeingDeleted",
            f"The resource group '{g['name']}' is in deprovisioning state and cannot perform this operation.",
        )


def put_group(p, body):
    name = p["resource_group_name"]
    if not re.fullmatch(r"[-\w._()]{1,90}", name) or name.endswith("."):
        raise ApiError(400, "InvalidResourceGroupName", f"The resource group name '{name}' is invalid.")
    location = normalize_location(body.get("location"))
    g = WORLD.groups.get(name.lower())
    if g is not None:
        not_deleting(g)
        if location != g["location"]:
            raise ApiError(
                409,
                "InvalidResourceGroupLocation",
                f"Invalid resource group location '{body.get('location')}'. The Resource group already exists in location '{g['location']}'.",
            )
        if "tags" in body:
            g["tags"] = body["tags"]
        if "managedBy" in body:
            g["managedBy"] = body["managedBy"]
        return 200, group_view(g), {}
    g = {"name": name, "location": location, "tags": body.get("tags"), "managedBy": body.get("managedBy"), "provisioningState": "Succeeded"}
    WORLD.groups[name.lower()] = g
    return 201, group_view(g), {}


def get_group(p, body):
    return 200, group_view(group_or_404(p["resource_group_name"])), {}


def head_group(p, body):
    return (204 if p["resource_group_name"].lower() in WORLD.groups else 404), None, {}


def delete_group(p, body):
    g = group_or_404(p["resource_group_name"])
    running_delete = next((o for o in WORLD.operations.values() if running(o) and o["group"] is g and o["cluster"] is None), None)
    if running_delete is None:
        g["provisioningState"] = "Deleting"
        members = [c for c in WORLD.clusters.values() if c["group"] is g]
        for c in members:
            for op in ops_of(c):
                cancel(op, "delete resource group")
            c["provisioningState"] = "Deleting"

        def done(error):
            WORLD.groups.pop(g["name"].lower(), None)
            for c in members:
                WORLD.clusters.pop(c["key"], None)

        running_delete = new_operation("delete resource group", g["location"], g["name"], done, group=g)
    return 202, None, {"Location": op_result_url(running_delete), "Retry-After": retry_after()}


def list_group_resources(p, body):
    """`GET .../resourceGroups/{rg}/resources`: its clusters (and what a test put there)."""
    g = group_or_404(p["resource_group_name"])
    value = [
        {
            "id": f"/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/{g['name']}/providers/Microsoft.ContainerService/managedClusters/{c['name']}",
            "name": c["name"],
            "type": "Microsoft.ContainerService/managedClusters",
            "location": g["location"],
        }
        for c in WORLD.clusters.values()
        if c["group"] is g
    ]
    value += WORLD.foreign.get(g["name"].lower(), [])
    return 200, {"value": value}, {}


# ---- managed clusters ---------------------------------------------------------------

CLUSTER_NAME = re.compile(r"^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$")
POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
DNS_PREFIX = re.compile(r"^[a-zA-Z0-9]$|^[a-zA-Z0-9][-a-zA-Z0-9]{0,52}[a-zA-Z0-9]$")

# Properties AKS cannot change on an existing cluster (wire names; nested with dots).
CLUSTER_IMMUTABLE = [
    "dnsPrefix",
    "fqdnSubdomain",
    "nodeResourceGroup",
    "diskEncryptionSetID",
    "linuxProfile.adminUsername",
    "windowsProfile.adminUsername",
    "apiServerAccessProfile.enablePrivateCluster",
    "networkProfile.networkPlugin",
    "networkProfile.networkMode",
    "networkProfile.serviceCidr",
    "networkProfile.serviceCidrs",
    "networkProfile.dnsServiceIP",
    "networkProfile.loadBalancerSku",
    "networkProfile.ipFamilies",
]
# Properties of an agent pool AKS cannot change (a new pool is needed).
POOL_IMMUTABLE = [
    "vmSize",
    "osType",
    "osDiskSizeGB",
    "osDiskType",
    "kubeletDiskType",
    "maxPods",
    "vnetSubnetID",
    "podSubnetID",
    "availabilityZones",
    "type",
    "scaleSetPriority",
    "enableNodePublicIP",
    "enableEncryptionAtHost",
    "enableUltraSSD",
    "gpuInstanceProfile",
    "hostGroupID",
]
POOL_DEFAULTS = {
    "count": 1,
    "vmSize": "Standard_D2s_v3",
    "osDiskSizeGB": 128,
    "osDiskType": "Managed",
    "kubeletDiskType": "OS",
    "maxPods": 250,
    "type": "VirtualMachineScaleSets",
    "enableAutoScaling": False,
    "scaleDownMode": "Delete",
    "osType": "Linux",
    "osSKU": "Ubuntu",
    "mode": "User",
    "enableNodePublicIP": False,
    "enableFIPS": False,
    "upgradeSettings": {"maxSurge": "10%"},
}


def dig(d, dotted):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def same(a, b):
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def property_change(prop):
    return ApiError(400, "PropertyChangeNotAllowed", f"Changing property '{prop}' is not allowed.", target=prop)


def cluster_id(c):
    # AKS's own ids spell `resourcegroups` in lower case.
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/{c['group']['name']}/providers/Microsoft.ContainerService/managedClusters/{c['name']}"


def cluster_or_404(p):
    g = group_or_404(p["resource_group_name"])
    c = WORLD.clusters.get((g["name"].lower(), p["resource_name"].lower()))
    if c is None:
        raise ApiError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.ContainerService/managedClusters/{p['resource_name']}' under resource group '{p['resource_group_name']}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        )
    return c


def parent_or_404(p):
    try:
        return cluster_or_404(p)
    except ApiError as e:
        if e.code != "ResourceNotFound":
            raise
        raise ApiError(
            404,
            "ParentResourceNotFound",
            f"Can not perform requested operation on nested resource. Parent resource '{p['resource_name']}' not found.",
        )


def pool_profile_view(pool, with_name):
    out = {k: v for k, v in pool.items() if not k.startswith("_")}
    if not with_name:
        out.pop("name", None)
    return out


def cluster_view(c):
    out = {
        "id": cluster_id(c),
        "location": c["location"],
        "name": c["name"],
        "type": "Microsoft.ContainerService/ManagedClusters",
    }
    for k, v in c["top"].items():
        out[k] = json.loads(json.dumps(v))
    props = json.loads(json.dumps(c["properties"]))
    props["provisioningState"] = c["provisioningState"]
    props["agentPoolProfiles"] = [pool_profile_view(p, True) for p in c["pools"].values()]
    out["properties"] = props
    return CS.models.readable(CS.models.by_name["ManagedCluster"], out)


def pool_view(c, pool):
    out = {
        "id": f"{cluster_id(c)}/agentPools/{pool['name']}",
        "name": pool["name"],
        "type": "Microsoft.ContainerService/managedClusters/agentPools",
        "properties": pool_profile_view(pool, False),
    }
    return CS.models.readable(CS.models.by_name["AgentPool"], out)


def new_pool(spec, cluster_version):
    pool = json.loads(json.dumps(POOL_DEFAULTS))
    pool.update(json.loads(json.dumps(spec)))
    name = pool.get("name", "")
    if not POOL_NAME.match(name) or (str(pool.get("osType", "")).lower() == "windows" and len(name) > 6):
        raise ApiError(
            400,
            "InvalidParameter",
            "The value of parameter agentPoolProfile.name is invalid. Please see https://aka.ms/aks-naming-rules for more details.",
            target="agentPoolProfile.name",
        )
    asked = pool.get("orchestratorVersion")
    if asked:
        _, current = resolve_version(asked)
    else:
        current = cluster_version
        pool["orchestratorVersion"] = cluster_version
    pool["currentOrchestratorVersion"] = current
    pool["nodeImageVersion"] = NODE_IMAGE
    pool["provisioningState"] = "Creating"
    pool["powerState"] = {"code": "Running"}
    pool["eTag"] = str(uuid.uuid4())
    return pool


def update_pool(pool, spec):
    """Applies a pool PUT (present fields replace; absent ones are kept)."""
    for prop in POOL_IMMUTABLE:
        if prop in spec and spec[prop] is not None and prop in pool and not same(spec[prop], pool[prop]):
            raise property_change(f"agentPoolProfile.{prop}")
    changes = {k: v for k, v in spec.items() if v is not None}
    current = pool["currentOrchestratorVersion"]
    if changes.get("orchestratorVersion") and not same(changes["orchestratorVersion"], pool.get("orchestratorVersion")):
        _, current = resolve_version(changes["orchestratorVersion"])
        check_upgrade(pool["currentOrchestratorVersion"], current)
    return changes, current


def check_upgrade(old, new):
    if vkey(new) == vkey(old):
        return
    ups = upgrades_of(old)
    if vkey(new) < vkey(old):
        raise ApiError(
            400,
            "OperationNotAllowed",
            f"Downgrading Kubernetes version {old} to {new} is not allowed. Available upgrades: [{' '.join(ups)}]. Please see https://aka.ms/aks-supported-k8s-ver for version details.",
        )
    if new not in ups:
        raise ApiError(
            400,
            "OperationNotAllowed",
            f"Upgrading Kubernetes version {old} to {new} is not allowed. Available upgrades: [{' '.join(ups)}]. Please see https://aka.ms/aks-supported-k8s-ver for version details.",
        )


def has_system_pool(pools):
    return any(str(p.get("mode", "")).lower() == "system" for p in pools)


def network_defaults(given):
    net = json.loads(json.dumps(given or {}))
    if "networkPlugin" not in net:
        net["networkPlugin"] = "azure"
        net.setdefault("networkPluginMode", "overlay")
    overlay = str(net.get("networkPluginMode", "")).lower() == "overlay" or str(net["networkPlugin"]).lower() == "kubenet"
    if overlay:
        net.setdefault("podCidr", "10.244.0.0/16")
        net.setdefault("podCidrs", [net["podCidr"]])
    net.setdefault("networkPolicy", "none")
    net.setdefault("serviceCidr", "10.0.0.0/16")
    net.setdefault("serviceCidrs", [net["serviceCidr"]])
    net.setdefault("dnsServiceIP", "10.0.0.10")
    net.setdefault("outboundType", "loadBalancer")
    net.setdefault("loadBalancerSku", "standard")
    net.setdefault("ipFamilies", ["IPv4"])
    return net


def fail_for(key, kind):
    f = WORLD.fail.get(key)
    if f and f.get("on", "create") == kind:
        return WORLD.fail.pop(key)
    return None


def async_headers(op, status):
    h = {"Azure-AsyncOperation": op_status_url(op), "Retry-After": retry_after()}
    if status == 202:
        h["Location"] = op_result_url(op)
    return h


def put_cluster(p, body):
    g = group_or_404(p["resource_group_name"])
    not_deleting(g)
    name = p["resource_name"]
    if not CLUSTER_NAME.match(name):
        raise ApiError(
            400,
            "InvalidParameter",
            "The value of parameter resourceName is invalid. Please see https://aka.ms/aks-naming-rules for more details.",
            target="resourceName",
        )
    key = (g["name"].lower(), name.lower())
    existing = WORLD.clusters.get(key)
    if existing is not None:
        return update_cluster(existing, body)
    location = normalize_location(body.get("location"))
    props = dict(body.get("properties") or {})
    specs = props.pop("agentPoolProfiles", None) or []
    if not has_system_pool(specs):
        raise ApiError(400, "MustDefineAtLeastOneSystemPool", "Must define at least one system pool.")
    asked, current = resolve_version(props.get("kubernetesVersion"))
    dns = props.get("dnsPrefix")
    if dns is None and not props.get("fqdnSubdomain"):
        dns = f"{name[:10]}-{g['name'][:16]}-{SUBSCRIPTION_ID[:6]}"
        props["dnsPrefix"] = dns
    if dns is not None and not DNS_PREFIX.match(dns):
        raise ApiError(
            400,
            "InvalidParameter",
            "The value of parameter dnsPrefix is invalid. Please see https://aka.ms/aks-naming-rules for more details.",
            target="dnsPrefix",
        )
    pools = {}
    for spec in specs:
        pool = new_pool(spec, current)
        if pool["name"] in pools:
            raise ApiError(400, "InvalidParameter", f"Agent pool name '{pool['name']}' is used more than once.", target="agentPoolProfiles")
        pools[pool["name"]] = pool
    props["kubernetesVersion"] = asked
    props["currentKubernetesVersion"] = current
    prefix = dns or props.get("fqdnSubdomain")
    props["fqdn"] = f"{prefix}-{secrets.token_hex(4)}.hcp.{location}.azmk8s.io"
    props["azurePortalFQDN"] = props["fqdn"].replace(".hcp.", ".portal.hcp.", 1)
    props.setdefault("nodeResourceGroup", f"MC_{g['name']}_{name}_{location}")
    props.setdefault("enableRBAC", True)
    props.setdefault("supportPlan", "KubernetesOfficial")
    props["networkProfile"] = network_defaults(props.get("networkProfile"))
    props["maxAgentPools"] = 100
    props["powerState"] = {"code": "Running"}
    props["resourceUID"] = secrets.token_hex(12)
    top = {k: body[k] for k in ("tags", "sku", "identity", "kind", "extendedLocation") if body.get(k) is not None}
    top.setdefault("sku", {"name": "Base", "tier": "Free"})
    if isinstance(top.get("identity"), dict) and "systemassigned" in str(top["identity"].get("type", "")).lower():
        top["identity"] = dict(top["identity"], principalId=str(uuid.uuid4()), tenantId=TENANT_ID)
    cluster = {
        "key": key,
        "name": name,
        "group": g,
        "location": location,
        "top": top,
        "properties": props,
        "pools": pools,
        "provisioningState": "Creating",
        "ca": FAKE_CA,
        "server": f"https://{props['fqdn']}:443",
    }
    WORLD.clusters[key] = cluster

    def done(error):
        if cluster["key"] not in WORLD.clusters:
            return
        if error:
            cluster["provisioningState"] = "Failed"
            for pool in cluster["pools"].values():
                pool["provisioningState"] = "Failed"
            return
        cluster["provisioningState"] = "Succeeded"
        for pool in cluster["pools"].values():
            pool["provisioningState"] = "Succeeded"
        if WORLD.backing:
            real = WORLD.backing.pop(0)
            endpoint = re.sub(r"^https://", "", real["endpoint"]).rstrip("/")
            cluster["properties"]["fqdn"] = endpoint
            cluster["server"] = f"https://{endpoint}"
            cluster["ca"] = real["ca"]

    op = new_operation("create managed cluster", location, name, done, cluster=cluster, fail=fail_for(name, "create"))
    return 201, cluster_view(cluster), async_headers(op, 201)


def update_cluster(c, body):
    not_while_running(c)
    location = normalize_location(body.get("location"))
    if location != c["location"]:
        raise ApiError(
            409,
            "InvalidResourceLocation",
            f"The resource '{c['name']}' already exists in location '{c['location']}' in resource group '{c['group']['name']}'. A resource with the same name cannot be created in location '{location}'. Please select a new resource name.",
        )
    props = dict(body.get("properties") or {})
    specs = props.pop("agentPoolProfiles", None) or []
    for prop in CLUSTER_IMMUTABLE:
        new, old = dig(props, prop), dig(c["properties"], prop)
        if new is not None and old is not None and not same(new, old):
            raise property_change(prop)
    current = c["properties"]["currentKubernetesVersion"]
    asked = props.get("kubernetesVersion")
    if asked and not same(asked, c["properties"]["kubernetesVersion"]):
        asked, target = resolve_version(asked)
        check_upgrade(current, target)
    else:
        asked, target = c["properties"]["kubernetesVersion"], current
    # Validate every pool before changing anything.
    planned = []
    for spec in specs:
        old = c["pools"].get(str(spec.get("name", "")).lower())
        if old is None:
            spec = dict(spec)
            spec.setdefault("orchestratorVersion", target)
            planned.append(("new", new_pool(spec, target), None, None))
        else:
            spec = dict(spec)
            if not spec.get("orchestratorVersion") and target != current:
                spec["orchestratorVersion"] = target
            changes, pool_version = update_pool(old, spec)
            planned.append(("old", old, changes, pool_version))
    after = [dict(p) for p in c["pools"].values()]
    for kind, pool, changes, _ in planned:
        if kind == "new":
            after.append(pool)
        else:
            next(a for a in after if a["name"] == pool["name"]).update(changes)
    if not has_system_pool(after):
        raise ApiError(400, "OperationNotAllowed", "There has to be at least one system agent pool.")
    # Accepted: the resource shows the goal at once, provisioningState Updating.
    for k in ("tags", "sku", "identity", "kind", "extendedLocation"):
        if body.get(k) is not None:
            c["top"][k] = body[k]
    for k, v in props.items():
        if v is None or k in ("kubernetesVersion",):
            continue
        c["properties"][k] = network_defaults(dict(c["properties"]["networkProfile"], **v)) if k == "networkProfile" else v
    c["properties"]["kubernetesVersion"] = asked
    c["provisioningState"] = "Updating"
    touched = []
    for kind, pool, changes, pool_version in planned:
        if kind == "new":
            c["pools"][pool["name"]] = pool
        else:
            pool.update({k: v for k, v in changes.items() if k != "currentOrchestratorVersion"})
            pool["provisioningState"] = "Updating"
            pool["_version"] = pool_version
        touched.append(pool)

    def done(error):
        if c["key"] not in WORLD.clusters:
            return
        state = "Failed" if error else "Succeeded"
        c["provisioningState"] = state
        for pool in touched:
            pool["provisioningState"] = state
            if not error:
                pool["currentOrchestratorVersion"] = pool.pop("_version", pool["currentOrchestratorVersion"])
        if not error:
            c["properties"]["currentKubernetesVersion"] = target

    op = new_operation("update managed cluster", c["location"], c["name"], done, cluster=c, fail=fail_for(c["name"], "update"))
    return 200, cluster_view(c), async_headers(op, 200)


def get_cluster(p, body):
    # Reading a resource polls what runs on it, as much as its operation URL does (a
    # client that lost the URL -- after a crash -- follows provisioningState instead).
    for op in list(ops_of(cluster_or_404(p))):
        advance(op)
    return 200, cluster_view(cluster_or_404(p)), {}


def delete_cluster(p, body):
    try:
        c = cluster_or_404(p)
    except ApiError as e:
        if e.code == "ResourceNotFound":
            return 204, None, {}
        raise
    existing = next((o for o in ops_of(c) if o["kind"] == "delete managed cluster"), None)
    if existing is not None:
        return 202, None, async_headers(existing, 202)
    # A delete preempts whatever runs on the cluster, as AKS's does.
    for op in ops_of(c):
        cancel(op, "delete managed cluster")
    c["provisioningState"] = "Deleting"
    for pool in c["pools"].values():
        pool["provisioningState"] = "Deleting"

    def done(error):
        if error:
            c["provisioningState"] = "Failed"
            return
        WORLD.clusters.pop(c["key"], None)

    op = new_operation("delete managed cluster", c["location"], c["name"], done, cluster=c, fail=fail_for(c["name"], "delete"))
    return 202, None, async_headers(op, 202)


def kubeconfig(c):
    token = "aks-fake-kube-" + secrets.token_urlsafe(24)
    WORLD.kube_tokens.add(token)
    user = f"clusterUser_{c['group']['name']}_{c['name']}"
    q = json.dumps
    return (
        "apiVersion: v1\n"
        "clusters:\n"
        "- cluster:\n"
        f"    certificate-authority-data: {q(c['ca'])}\n"
        f"    server: {q(c['server'])}\n"
        f"  name: {q(c['name'])}\n"
        "contexts:\n"
        "- context:\n"
        f"    cluster: {q(c['name'])}\n"
        f"    user: {q(user)}\n"
        f"  name: {q(c['name'])}\n"
        f"current-context: {q(c['name'])}\n"
        "kind: Config\n"
        "preferences: {}\n"
        "users:\n"
        f"- name: {q(user)}\n"
        "  user:\n"
        f"    token: {q(token)}\n"
    )


def list_user_credential(p, body):
    c = cluster_or_404(p)
    value = base64.b64encode(kubeconfig(c).encode()).decode()
    return 200, {"kubeconfigs": [{"name": "clusterUser", "value": value}]}, {}


def list_versions(p, body):
    return 200, kubernetes_versions(), {}


# ---- agent pools --------------------------------------------------------------------


def pool_or_404(c, p):
    pool = c["pools"].get(p["agent_pool_name"].lower())
    if pool is None:
        raise ApiError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.ContainerService/managedClusters/{c['name']}/agentPools/{p['agent_pool_name']}' under resource group '{c['group']['name']}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        )
    return pool


def put_pool(p, body):
    c = parent_or_404(p)
    name = p["agent_pool_name"]
    not_while_running(c, name)
    spec = dict(body.get("properties") or {})
    pool = c["pools"].get(name.lower())
    slow_key = c["name"]
    fail_key = f"{c['name']}/{name}"
    current = c["properties"]["currentKubernetesVersion"]
    if pool is None:
        spec["name"] = name
        pool = new_pool(spec, current)
        c["pools"][pool["name"]] = pool

        def created(error):
            pool["provisioningState"] = "Failed" if error else "Succeeded"

        op = new_operation("create agent pool", c["location"], slow_key, created, cluster=c, pool=pool["name"], fail=fail_for(fail_key, "create"))
        return 201, pool_view(c, pool), async_headers(op, 201)
    changes, version = update_pool(pool, spec)
    if "mode" in changes and str(changes["mode"]).lower() != "system":
        others = [q for q in c["pools"].values() if q is not pool]
        if not has_system_pool(others):
            raise ApiError(400, "OperationNotAllowed", "There has to be at least one system agent pool.")
    pool.update(changes)
    pool["provisioningState"] = "Updating"

    def updated(error):
        pool["provisioningState"] = "Failed" if error else "Succeeded"
        if not error:
            pool["currentOrchestratorVersion"] = version

    op = new_operation("update agent pool", c["location"], slow_key, updated, cluster=c, pool=pool["name"], fail=fail_for(fail_key, "update"))
    return 200, pool_view(c, pool), async_headers(op, 200)


def get_pool(p, body):
    c = parent_or_404(p)
    name = pool_or_404(c, p)["name"]
    for op in list(ops_of(c)):
        if op["pool"] == name:
            advance(op)
    c = parent_or_404(p)
    return 200, pool_view(c, pool_or_404(c, p)), {}


def delete_pool(p, body):
    c = parent_or_404(p)
    pool = c["pools"].get(p["agent_pool_name"].lower())
    if pool is None:
        return 204, None, {}
    existing = next((o for o in ops_of(c) if o["kind"] == "delete agent pool" and o["pool"] == pool["name"]), None)
    if existing is not None:
        return 202, None, async_headers(existing, 202)
    not_while_running(c, pool["name"])
    others = [q for q in c["pools"].values() if q is not pool]
    if not others:
        raise ApiError(400, "OperationNotAllowed", "There has to be at least one agent pool.")
    if str(pool.get("mode", "")).lower() == "system" and not has_system_pool(others):
        raise ApiError(400, "OperationNotAllowed", "There has to be at least one system agent pool.")
    pool["provisioningState"] = "Deleting"

    def done(error):
        if error:
            pool["provisioningState"] = "Failed"
            return
        c["pools"].pop(pool["name"], None)

    op = new_operation("delete agent pool", c["location"], c["name"], done, cluster=c, pool=pool["name"], fail=fail_for(f"{c['name']}/{pool['name']}", "delete"))
    return 202, None, async_headers(op, 202)


# ---- operation URLs -----------------------------------------------------------------


def op_or_404(p):
    op = WORLD.operations.get(p["operation_id"].lower())
    if op is None:
        raise ApiError(404, "NotFound", f"Operation {p['operation_id']} was not found.")
    return op


def operation_status(p, body):
    op = op_or_404(p)
    advance(op)
    return 200, op_view(op), {}


def operation_result(p, body):
    op = op_or_404(p)
    advance(op)
    if running(op):
        return 202, None, {"Location": op_result_url(op), "Retry-After": retry_after()}
    if op["status"] != "Succeeded":
        return 400, {"error": dict(op["error"])}, {}
    if op["group"] is not None and op["cluster"] is None:
        return 200, None, {}
    return 204, None, {}


HANDLERS = {
    "resource_groups_create_or_update": put_group,
    "resource_groups_get": get_group,
    "resource_groups_check_existence": head_group,
    "resource_groups_delete": delete_group,
    "resources_list_by_resource_group": list_group_resources,
    "managed_clusters_create_or_update": put_cluster,
    "managed_clusters_get": get_cluster,
    "managed_clusters_delete": delete_cluster,
    "managed_clusters_list_cluster_user_credentials": list_user_credential,
    "managed_clusters_list_kubernetes_versions": list_versions,
    "agent_pools_create_or_update": put_pool,
    "agent_pools_get": get_pool,
    "agent_pools_delete": delete_pool,
    "aks_operation_status": operation_status,
    "aks_operation_result": operation_result,
    "arm_operation_result": operation_result,
}


def state():
    return {
        "api_versions": {CS.package: CS.api_version, RG.package: RG.api_version},
        "resource_groups": {g["name"]: group_view(g) for g in WORLD.groups.values()},
        "clusters": {f"{c['group']['name']}/{c['name']}": cluster_view(c) for c in WORLD.clusters.values()},
        "operations": {
            k: dict(op_view(o), kind=o["kind"], cluster=(o["cluster"] or {}).get("name"), pool=o["pool"])
            for k, o in WORLD.operations.items()
        },
        "reviews": WORLD.reviews,
        "backing_left": len(WORLD.backing),
        "tokens_issued": len(WORLD.arm_tokens),
    }


# ---- HTTP ---------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    control = False

    def log_message(self, fmt, *args):  # quiet: tests read /_fake/calls instead
        pass

    def _send(self, status, body=None, headers=None):
        data = b"" if body is None or self.command == "HEAD" else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        if not self.control:
            self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(data)) if status not in (204,) else "0")
        self.end_headers()
        if status != 204:
            self.wfile.write(data)

    def _error(self, e):
        err = {"code": e.code, "message": e.message}
        if e.target:
            err["target"] = e.target
        return self._send(e.status, {"error": err}, e.headers)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method):
        url = urllib.parse.urlsplit(self.path)
        raw = self._body()
        try:
            if self.control:
                if url.path == "/authenticate" and method == "POST":
                    return self._token_review(raw)
                return self._control(method, url.path, raw)
            hit = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", url.path)
            if hit and method == "POST":
                return self._token(hit.group(1), raw)
            with WORLD.lock:
                return self._arm(method, url, raw)
        except Exception as e:  # a bug in the fake: say so where the tests look
            with WORLD.lock:
                WORLD.rejections.append(f"fake AKS internal error on {method} {url.path}: {e!r}\n{traceback.format_exc()}")
            return self._send(500, {"error": {"code": "InternalServerError", "message": f"fake AKS: {e!r}"}})

    # -- Entra ID --

    def _token(self, tenant, raw):
        form = urllib.parse.parse_qs(raw.decode(errors="replace"))
        one = lambda k: (form.get(k) or [""])[0]

        def entra_error(status, error, code, text):
            body = {
                "error": error,
                "error_description": f"AADSTS{code}: {text} Trace ID: {uuid.uuid4()} Correlation ID: {uuid.uuid4()} Timestamp: {now()[:19]}Z",
                "error_codes": [code],
                "timestamp": now()[:19] + "Z",
                "trace_id": str(uuid.uuid4()),
                "correlation_id": str(uuid.uuid4()),
                "error_uri": f"{BASE_URL}/error?code={code}",
            }
            return self._send(status, body)

        if tenant.lower() != TENANT_ID:
            return entra_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
        if one("grant_type") != "client_credentials":
            return entra_error(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{one('grant_type')}'.")
        if one("client_id").lower() != CLIENT_ID:
            return entra_error(400, "unauthorized_client", 700016, f"Application with identifier '{one('client_id')}' was not found in the directory '{TENANT_ID}'.")
        if one("client_secret") != CLIENT_SECRET:
            return entra_error(401, "invalid_client", 7000215, f"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{CLIENT_ID}'.")
        if one("scope") not in ARM_SCOPES:
            return entra_error(400, "invalid_scope", 1002012, f"The provided value for scope {one('scope')} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
        token = "aks-fake-arm-" + secrets.token_urlsafe(24)
        with WORLD.lock:
            WORLD.arm_tokens.add(token)
        return self._send(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})

    # -- the kube-apiserver's webhook --

    def _token_review(self, raw):
        try:
            review = json.loads(raw or b"{}")
        except ValueError:
            return self._send(400, {"error": "not JSON"})
        token = ((review.get("spec") or {}).get("token")) or ""
        with WORLD.lock:
            known = token in WORLD.arm_tokens or token in WORLD.kube_tokens
            WORLD.reviews += 1
        status = {"authenticated": known}
        if known:
            status["user"] = {
                "username": "fedstack-test-user@example.com",
                "uid": "fedstack-test-user",
                "groups": ["system:masters", "system:authenticated"],
            }
        else:
            status["error"] = "not a token this fake issued"
        return self._send(200, {"apiVersion": review.get("apiVersion") or "authentication.k8s.io/v1", "kind": "TokenReview", "status": status})

    # -- ARM --

    def _arm(self, method, url, raw):
        WORLD.calls.append({"method": method, "path": url.path, "query": url.query})
        auth = self.headers.get("Authorization", "")
        if not auth:
            return self._error(ApiError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.", headers=self._challenge("missing 'Authorization' header")))
        if not auth.startswith("Bearer ") or auth[len("Bearer ") :] not in WORLD.arm_tokens:
            return self._error(ApiError(401, "InvalidAuthenticationToken", "The access token is invalid.", headers=self._challenge("the access token is invalid")))
        routed = self._route(method, url.path)
        if routed is None:
            return self._reject(404, "NotFound", f"{method} {url.path}: no operation of the published AKS or resource group APIs has this path")
        op, api, body_model, allowed, version, params = routed
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        asked = query.get("api-version")
        if not asked:
            return self._reject(400, "MissingApiVersionParameter", f"{op}: The api-version query parameter (?api-version=) is required for all requests.")
        if version is not None and asked[-1] != version:
            if api.version_error == "NoRegisteredProviderFound":
                text = f"No registered resource provider found for location '{params.get('location', 'global')}' and API version '{asked[-1]}' for type '{api.label}'. The supported api-versions are '{version}'."
            else:
                text = f"The api-version '{asked[-1]}' is invalid. The supported versions are '{version}'."
            return self._reject(400, api.version_error, f"{op}: {text}")
        problems = [f"query parameter `{k}` is not a parameter of {op}" for k in query if k not in allowed]
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as e:
                problems.append(f"the body is not JSON: {e}")
        if body_model is not None:
            if body is None:
                problems.append(f"{op} needs a request body ({body_model.__name__})")
            else:
                problems += api.models.check(body_model, body)
        elif body not in (None, {}):
            problems.append(f"{op} takes no request body")
        if problems:
            return self._reject(400, "InvalidRequestContent", f"{op}: " + "; ".join(problems))
        for fault in WORLD.faults:
            if fault["times"] > 0 and fault["method"].upper() == method and re.search(fault["path"], url.path, re.IGNORECASE):
                fault["times"] -= 1
                headers = {}
                if fault.get("retry_after") is not None:
                    headers["Retry-After"] = str(fault["retry_after"])
                return self._error(ApiError(int(fault["status"]), fault.get("code") or "InjectedFault", fault.get("message") or "injected by the test", headers=headers))
        handler = HANDLERS.get(op)
        if handler is None:
            return self._reject(400, "UnsupportedByFake", f"{op} is published but fedstack is not expected to call it")
        try:
            check_subscription(params["subscription_id"])
            status, out, headers = handler(params, body or {})
        except ApiError as e:
            return self._error(e)
        return self._send(status, out, headers)

    def _challenge(self, why):
        return {"WWW-Authenticate": f'Bearer authorization_uri="{BASE_URL}/{TENANT_ID}", error="invalid_token", error_description="The authentication failed because of {why}."'}

    def _route(self, method, path):
        for m, rx, name, which in OWN_ROUTES:
            hit = rx.match(path)
            if hit and m == method:
                api = CS if which == "cs" else RG
                return name, api, None, {"api-version"}, api.api_version, dict(hit.groupdict())
        routed = ROUTER.route(method, path)
        if routed is None:
            return None
        r, params = routed
        return r.op, r.api, r.body, r.params, r.api_version, params

    def _reject(self, status, code, message):
        WORLD.rejections.append(message)
        return self._error(ApiError(status, code, "fake AKS: " + message))

    # -- control --

    def _control(self, method, path, raw):
        body = json.loads(raw) if raw else {}
        with WORLD.lock:
            if path == "/_fake/calls":
                return self._send(200, WORLD.calls)
            if path == "/_fake/rejections":
                return self._send(200, WORLD.rejections)
            if path == "/_fake/state":
                return self._send(200, state())
            if path == "/_fake/faults" and method == "POST":
                body.setdefault("times", 1)
                WORLD.faults.append(body)
                return self._send(200, {})
            if path == "/_fake/config" and method == "POST":
                if "polls_per_step" in body:
                    WORLD.polls_per_step = int(body["polls_per_step"])
                WORLD.slow.update(body.get("slow") or {})
                for k, v in (body.get("fail") or {}).items():
                    WORLD.fail[k] = {"code": v["code"], "message": v["message"], "on": v.get("on", "create")}
                if "versions" in body:
                    WORLD.versions = [str(v) for v in body["versions"]]
                if "retry_after" in body:
                    WORLD.retry_after = int(body["retry_after"])
                WORLD.backing.extend(body.get("backing") or [])
                for rg, items in (body.get("foreign") or {}).items():
                    WORLD.foreign.setdefault(rg.lower(), []).extend(items)
                return self._send(200, {})
            if path == "/_fake/reset" and method == "POST":
                arm, kube = WORLD.arm_tokens, WORLD.kube_tokens
                WORLD.reset()
                WORLD.arm_tokens, WORLD.kube_tokens = arm, kube
                return self._send(200, {})
        return self._send(404, {"error": f"no control endpoint {method} {path}"})


class ControlHandler(Handler):
    control = True


class TLSServer(ThreadingHTTPServer):
    """HTTPS, the handshake done in the connection's own thread (not in accept)."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, handler, context):
        super().__init__(address, handler)
        self.context = context

    def finish_request(self, request, client_address):
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.settimeout(2)
                tls.unwrap()  # close_notify, so clients see a clean end of stream
            except (ssl.SSLError, OSError, ValueError):
                pass
            tls.close()


class ControlServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def main():
    global CS, RG, ROUTER, BASE_URL
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert", required=True, help="the server certificate (PEM), for 127.0.0.1")
    ap.add_argument("--key", required=True, help="its private key (PEM)")
    ap.add_argument("--port", type=int, default=0, help="the HTTPS port (ARM and Entra ID)")
    ap.add_argument("--control-port", type=int, default=0, help="the plain HTTP port (/_fake/..., /authenticate)")
    args = ap.parse_args()
    CS = Api(CS_PACKAGE, "managedClusters", "NoRegisteredProviderFound")
    RG = Api(RG_PACKAGE, "resourceGroups", "InvalidApiVersionParameter")
    ROUTER = Router([CS, RG])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    context.set_alpn_protocols(["http/1.1"])
    arm = TLSServer(("127.0.0.1", args.port), Handler, context)
    control = ControlServer(("127.0.0.1", args.control_port), ControlHandler)
    BASE_URL = f"https://127.0.0.1:{arm.server_address[1]}"
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(f"aks_fake listening on {BASE_URL} control http://127.0.0.1:{control.server_address[1]}", flush=True)
    try:
        arm.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
