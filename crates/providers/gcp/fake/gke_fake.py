#!/usr/bin/env python3
"""gke_fake -- a contract fake of the GKE v1 API (container.googleapis.com) for tests.

No emulator of GKE exists, so this server implements exactly the calls fedstack makes,
under the real URL paths, and checks every request against Google's own published
schema: the GKE v1 discovery document shipped in PyPI's `google-api-python-client`
(pinned by scripts/test-peers). Routing comes from the document's `flatPath`s, query
parameters must be ones the method declares, and request bodies must follow the
method's request schema: an unknown, mistyped or output-only field is answered with
400 INVALID_ARGUMENT and recorded as a rejection (`GET /_fake/rejections`), which the
tests assert to be empty.

Operations advance when they are polled, never with the clock: each
`GET .../operations/{op}` moves PENDING -> RUNNING -> DONE after `polls_per_step`
polls (per cluster with `slow`), so a test decides when a create finishes.

Authentication is real OAuth2 in miniature: `POST /token` exchanges the refresh token
of an `authorized_user` credentials file (grant_type=refresh_token) for a bearer token,
and every API call must carry one it issued.

Clusters can be real: given `backing` control planes (config), a cluster that finishes
creating gets the next one's endpoint and CA, and `POST /authenticate` answers the
Kubernetes authenticating webhook (TokenReview, authentication.k8s.io/v1) for the
fake's tokens -- as GKE's apiservers accept Google tokens -- so a kube-apiserver started
with `--authentication-token-webhook-config-file` pointing here lets the same bearer
token that calls the GKE API administer the cluster (group system:masters, as a
project owner gets cluster-admin on GKE).

Control (tests only, under /_fake/): POST faults, POST config, GET calls,
GET rejections, GET state, POST reset.

Usage: gke_fake.py --discovery container.v1.json [--port 0]
Prints `gke_fake listening on http://127.0.0.1:PORT` once ready.
"""

import argparse
import json
import re
import secrets
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENT_ID = "fedstack-test-client.apps.googleusercontent.com"
CLIENT_SECRET = "fedstack-test-secret"
REFRESH_TOKEN = "fedstack-test-refresh-token"

# gRPC code names and their HTTP statuses (google.rpc.Code, AIP-193).
HTTP_OF = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
}
CODE_OF = {
    "INVALID_ARGUMENT": 3,
    "FAILED_PRECONDITION": 9,
    "OUT_OF_RANGE": 11,
    "UNAUTHENTICATED": 16,
    "PERMISSION_DENIED": 7,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "ABORTED": 10,
    "RESOURCE_EXHAUSTED": 8,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
}


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# ---- the published schema -----------------------------------------------------------


class Discovery:
    """Routes and schemas from the discovery document."""

    def __init__(self, doc):
        self.doc = doc
        self.schemas = doc["schemas"]
        self.routes = []  # (http method, regex, method id, method)
        self._collect(doc.get("resources", {}))

    def _collect(self, resources):
        for res in resources.values():
            for method in res.get("methods", {}).values():
                flat = method.get("flatPath") or method["path"]
                pattern = re.sub(r"\{[^}]+\}", "([^/:]+)", re.escape(flat).replace(r"\{", "{").replace(r"\}", "}"))
                self.routes.append(
                    (method["httpMethod"], re.compile("^/" + pattern + "$"), method["id"], method)
                )
            self._collect(res.get("resources", {}))

    def route(self, http_method, path):
        for m, rx, mid, method in self.routes:
            if m == http_method:
                hit = rx.match(path)
                if hit:
                    return mid, method, hit.groups()
        return None

    def check_query(self, method, query):
        params = method.get("parameters", {})
        # The document's own top-level parameters are Google's system parameters (alt,
        # fields, $.xgafv...), which every method takes; clients also send them with a
        # `$` prefix (`$alt=json;enum-encoding=int`), as Google's docs allow.
        system = self.doc.get("parameters", {})
        problems = []
        for key in query:
            if key in system or key.lstrip("$") in system:
                continue
            p = params.get(key)
            if p is None or p.get("location") != "query":
                problems.append(f"query parameter `{key}` is not a parameter of {method['id']}")
        return problems

    def check_body(self, method, body):
        ref = method.get("request", {}).get("$ref")
        if ref is None:
            return [] if body in (None, {}) else [f"{method['id']} takes no request body"]
        problems = []
        self._check(body, {"$ref": ref}, ref, problems)
        return problems

    def _check(self, value, schema, where, problems):
        if "$ref" in schema:
            schema = self.schemas[schema["$ref"]]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            if not isinstance(value, dict):
                problems.append(f"{where}: expected an object, got {json.dumps(value)[:60]}")
                return
            props = schema.get("properties")
            extra = schema.get("additionalProperties")
            for k, v in value.items():
                if props is not None and k in props:
                    p = props[k]
                    if p.get("readOnly"):
                        problems.append(f"{where}.{k}: output-only field sent in a request")
                        continue
                    self._check(v, p, f"{where}.{k}", problems)
                elif extra is not None:
                    self._check(v, extra, f"{where}.{k}", problems)
                else:
                    problems.append(f"{where}.{k}: unknown field")
        elif kind == "array":
            if not isinstance(value, list):
                problems.append(f"{where}: expected an array")
                return
            for i, item in enumerate(value):
                self._check(item, schema.get("items", {}), f"{where}[{i}]", problems)
        elif kind == "string":
            fmt = schema.get("format")
            if fmt in ("int64", "uint64") and isinstance(value, int) and not isinstance(value, bool):
                return  # proto3 JSON parsers accept numbers for 64-bit integers
            if not isinstance(value, str):
                problems.append(f"{where}: expected a string, got {json.dumps(value)[:60]}")
                return
            enum = schema.get("enum")
            if enum and value not in enum:
                problems.append(f"{where}: `{value}` is not one of {', '.join(enum)}")
        elif kind == "integer":
            ok = (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, str) and re.fullmatch(r"-?\d+", value)
            )
            if not ok:
                problems.append(f"{where}: expected an integer, got {json.dumps(value)[:60]}")
        elif kind == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                problems.append(f"{where}: expected a number")
        elif kind == "boolean":
            if not isinstance(value, bool):
                problems.append(f"{where}: expected a boolean")


# ---- the world ----------------------------------------------------------------------


class World:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.clusters = {}  # "projects/p/locations/l/clusters/c" -> Cluster
        self.operations = {}  # "projects/p/locations/l/operations/op" -> state
        self.calls = []
        self.rejections = []
        self.faults = []
        self.tokens = set()
        self.reviews = 0  # TokenReviews answered
        self.polls_per_step = 1
        self.slow = {}  # cluster name -> polls per step
        self.fail = {}  # cluster name -> (status name, message): its next create fails
        self.sizes = {}  # node pool name -> size set with setSize
        self.backing = []  # [{"endpoint": "127.0.0.1:PORT", "ca": base64 PEM}], used in order
        self.versions = ["1.33.5-gke.1080000", "1.32.9-gke.1130000", "1.31.13-gke.1023000", "1.31.12-gke.1265000"]
        self.next_op = 1


WORLD = World()


def parent_of(name):
    return name.rsplit("/", 2)[0]


def location_of(name):
    m = re.match(r"^(projects/[^/]+/locations/[^/]+)", name)
    return m.group(1)


def new_operation(cluster_name, op_type, target, on_done, polls=None):
    loc = location_of(cluster_name)
    op_id = f"operation-{WORLD.next_op}-{secrets.token_hex(4)}"
    WORLD.next_op += 1
    name = f"{loc}/operations/{op_id}"
    op = {
        "name": op_id,
        "zone": loc.rsplit("/", 1)[1],
        "operationType": op_type,
        "status": "PENDING",
        "selfLink": f"https://container.googleapis.com/v1/{name}",
        "targetLink": f"https://container.googleapis.com/v1/{target}",
        "startTime": "2026-01-01T00:00:00Z",
    }
    WORLD.operations[name] = {
        "op": op,
        "cluster": cluster_name,
        "on_done": on_done,
        "polls": 0,
        "per_step": polls or WORLD.polls_per_step,
    }
    return dict(op)


def running_operation(cluster_name):
    for state in WORLD.operations.values():
        if state["cluster"] == cluster_name and state["op"]["status"] != "DONE":
            return state["op"]["name"]
    return None


def advance(state):
    op = state["op"]
    if op["status"] == "DONE":
        return
    state["polls"] += 1
    # Looked up at each poll, so a test can hold an operation and release it later.
    short = state["cluster"].rsplit("/", 1)[1]
    if state["polls"] < WORLD.slow.get(short, state["per_step"]):
        return
    state["polls"] = 0
    if op["status"] == "PENDING":
        op["status"] = "RUNNING"
        op["detail"] = "started"
    elif op["status"] == "RUNNING":
        op["status"] = "DONE"
        op["endTime"] = "2026-01-01T00:05:00Z"
        error = state["on_done"]()
        if error:
            op["error"] = error
            op["statusMessage"] = error["message"]


def status_error(name, message):
    return {"code": CODE_OF[name], "message": message}


# ---- handlers -----------------------------------------------------------------------


def cluster_or_404(name):
    c = WORLD.clusters.get(name)
    if c is None:
        raise ApiError("NOT_FOUND", f"Not found: {name}.")
    return c


def no_running_operation(cluster_name):
    running = running_operation(cluster_name)
    if running:
        raise ApiError(
            "FAILED_PRECONDITION",
            f"Cluster is running incompatible operation {running}.",
        )


def create_cluster(parent, body):
    spec = body.get("cluster") or {}
    short = spec.get("name")
    if not short:
        raise ApiError("INVALID_ARGUMENT", "Cluster.name must be set.")
    name = f"{parent}/clusters/{short}"
    if name in WORLD.clusters:
        raise ApiError("ALREADY_EXISTS", f"Already exists: {name}.")
    location = parent.rsplit("/", 1)[1]
    version = resolve_version(spec.get("initialClusterVersion") or "")
    cluster = dict(spec)
    cluster.update(
        {
            "selfLink": f"https://container.googleapis.com/v1/{name}",
            "location": location,
            "zone": location,
            "status": "PROVISIONING",
            "currentMasterVersion": version,
            "currentNodeVersion": version,
            "initialClusterVersion": version,
            "createTime": "2026-01-01T00:00:00Z",
            "id": secrets.token_hex(16),
            "labelFingerprint": secrets.token_hex(4),
        }
    )
    pools = []
    for p in spec.get("nodePools") or []:
        pools.append(new_pool(name, p, version, "PROVISIONING"))
    cluster["nodePools"] = pools
    WORLD.clusters[name] = cluster
    failure = WORLD.fail.pop(short, None)

    def done():
        if failure:
            cluster["status"] = "ERROR"
            cluster["statusMessage"] = failure[1]
            return status_error(failure[0], failure[1])
        cluster["status"] = "RUNNING"
        cluster["endpoint"] = "203.0.113.10"
        cluster["masterAuth"] = {"clusterCaCertificate": FAKE_CA}
        if WORLD.backing:
            real = WORLD.backing.pop(0)
            cluster["endpoint"] = real["endpoint"]
            cluster["masterAuth"] = {"clusterCaCertificate": real["ca"]}
        for p in cluster["nodePools"]:
            p["status"] = "RUNNING"
        return None

    return new_operation(name, "CREATE_CLUSTER", name, done)


def resolve_version(asked):
    """`1.31` -> the newest 1.31 patch offered; `latest`/empty -> the default."""
    if asked in ("", "latest", "-"):
        return WORLD.versions[0]
    for v in WORLD.versions:
        if v == asked or v.startswith(asked + "."):
            return v
    raise ApiError(
        "INVALID_ARGUMENT",
        f"Master version \"{asked}\" is unsupported.",
    )


def new_pool(cluster_name, spec, version, status):
    pool = dict(spec)
    pool.update(
        {
            "selfLink": f"https://container.googleapis.com/v1/{cluster_name}/nodePools/{spec.get('name')}",
            "status": status,
            "version": version,
        }
    )
    return pool


def update_cluster(name, body):
    cluster = cluster_or_404(name)
    no_running_operation(name)
    update = body.get("update") or {}
    op_type = "UPDATE_CLUSTER"
    changes = {}
    if "desiredMasterVersion" in update:
        changes["currentMasterVersion"] = resolve_version(update["desiredMasterVersion"])
        op_type = "UPGRADE_MASTER"
    if "desiredLoggingService" in update:
        changes["loggingService"] = update["desiredLoggingService"]
    if "desiredLoggingConfig" in update:
        changes["loggingConfig"] = update["desiredLoggingConfig"]
    if "desiredResourceLabels" in update:
        changes["resourceLabels"] = (update["desiredResourceLabels"] or {}).get("labels", {})
    cluster["status"] = "RECONCILING"

    def done():
        cluster.update(changes)
        cluster["status"] = "RUNNING"
        return None

    return new_operation(name, op_type, name, done)


def delete_cluster(name):
    cluster = cluster_or_404(name)
    no_running_operation(name)
    cluster["status"] = "STOPPING"

    def done():
        WORLD.clusters.pop(name, None)
        return None

    return new_operation(name, "DELETE_CLUSTER", name, done)


def pool_or_404(name):
    cluster_name = parent_of(name)
    cluster = cluster_or_404(cluster_name)
    short = name.rsplit("/", 1)[1]
    for p in cluster["nodePools"]:
        if p.get("name") == short:
            return cluster_name, cluster, p
    raise ApiError("NOT_FOUND", f"Not found: {name}.")


def create_pool(parent, body):
    cluster = cluster_or_404(parent)
    spec = body.get("nodePool") or {}
    short = spec.get("name")
    if not short:
        raise ApiError("INVALID_ARGUMENT", "NodePool.name must be set.")
    if any(p.get("name") == short for p in cluster["nodePools"]):
        raise ApiError("ALREADY_EXISTS", f"Already exists: {parent}/nodePools/{short}.")
    no_running_operation(parent)
    pool = new_pool(parent, spec, cluster["currentMasterVersion"], "PROVISIONING")
    cluster["nodePools"].append(pool)

    def done():
        pool["status"] = "RUNNING"
        return None

    return new_operation(parent, "CREATE_NODE_POOL", f"{parent}/nodePools/{short}", done)


def delete_pool(name):
    cluster_name, cluster, pool = pool_or_404(name)
    no_running_operation(cluster_name)
    pool["status"] = "STOPPING"

    def done():
        cluster["nodePools"] = [p for p in cluster["nodePools"] if p is not pool]
        return None

    return new_operation(cluster_name, "DELETE_NODE_POOL", name, done)


def set_pool_size(name, body):
    cluster_name, _, pool = pool_or_404(name)
    no_running_operation(cluster_name)
    size = int(body.get("nodeCount", 0))

    def done():
        # GKE's NodePool has no current size (only initialNodeCount, fixed at create):
        # the size lives in the Compute API's instance groups; here, in the fake's state.
        WORLD.sizes[name] = size
        return None

    return new_operation(cluster_name, "SET_NODE_POOL_SIZE", name, done)


def set_pool_autoscaling(name, body):
    cluster_name, _, pool = pool_or_404(name)
    no_running_operation(cluster_name)
    autoscaling = body.get("autoscaling") or {}

    def done():
        pool["autoscaling"] = autoscaling
        return None

    return new_operation(cluster_name, "SET_NODE_POOL_AUTOSCALING", name, done)


def set_resource_labels(name, body):
    cluster = cluster_or_404(name)
    no_running_operation(name)
    if body.get("labelFingerprint") != cluster["labelFingerprint"]:
        raise ApiError("FAILED_PRECONDITION", "Labels could not be set due to fingerprint mismatch; please get the latest fingerprint and retry.")
    labels = body.get("resourceLabels") or {}

    def done():
        cluster["resourceLabels"] = labels
        cluster["labelFingerprint"] = secrets.token_hex(4)
        return None

    return new_operation(name, "SET_LABELS", name, done)


def list_operations(parent):
    ops = [dict(s["op"]) for k, s in WORLD.operations.items() if k.startswith(parent + "/")]
    return {"operations": ops}


def get_operation(name):
    state = WORLD.operations.get(name)
    if state is None:
        raise ApiError("NOT_FOUND", f"Not found: {name}.")
    advance(state)
    return dict(state["op"])


def server_config(name):
    return {
        "defaultClusterVersion": WORLD.versions[0],
        "validMasterVersions": list(WORLD.versions),
        "validNodeVersions": list(WORLD.versions),
    }


HANDLERS = {
    "container.projects.locations.clusters.create": lambda a, b: create_cluster(a, b),
    "container.projects.locations.clusters.get": lambda a, b: dict(cluster_or_404(a)),
    "container.projects.locations.clusters.update": lambda a, b: update_cluster(a, b),
    "container.projects.locations.clusters.delete": lambda a, b: delete_cluster(a),
    "container.projects.locations.clusters.nodePools.create": lambda a, b: create_pool(a, b),
    "container.projects.locations.clusters.nodePools.get": lambda a, b: dict(pool_or_404(a)[2]),
    "container.projects.locations.clusters.nodePools.delete": lambda a, b: delete_pool(a),
    "container.projects.locations.clusters.nodePools.setSize": lambda a, b: set_pool_size(a, b),
    "container.projects.locations.clusters.nodePools.setAutoscaling": lambda a, b: set_pool_autoscaling(a, b),
    "container.projects.locations.clusters.setResourceLabels": lambda a, b: set_resource_labels(a, b),
    "container.projects.locations.operations.get": lambda a, b: get_operation(a),
    "container.projects.locations.operations.list": lambda a, b: list_operations(a),
    "container.projects.locations.getServerConfig": lambda a, b: server_config(a),
}

# Not a real CA: the fake's clusters are not reachable unless a test gives the fake
# `backing` control planes.
FAKE_CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmZha2UKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    discovery = None

    def log_message(self, fmt, *args):  # quiet: tests read /_fake/calls instead
        pass

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status_name, message):
        self._send(
            HTTP_OF[status_name],
            {"error": {"code": HTTP_OF[status_name], "message": message, "status": status_name}},
        )

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return raw

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, http_method):
        url = urllib.parse.urlsplit(self.path)
        raw = self._body()
        if url.path.startswith("/_fake/"):
            return self._control(http_method, url.path, raw)
        if url.path == "/token" and http_method == "POST":
            return self._token(raw)
        if url.path == "/authenticate" and http_method == "POST":
            return self._token_review(raw)
        with WORLD.lock:
            return self._api(http_method, url, raw)

    def _token(self, raw):
        # Google's token endpoint takes a form or JSON (Google's Rust client sends JSON).
        if self.headers.get("Content-Type", "").startswith("application/json"):
            try:
                fields = json.loads(raw or b"{}")
            except ValueError:
                fields = {}
            one = lambda k: str(fields.get(k) or "")
        else:
            form = urllib.parse.parse_qs(raw.decode())
            one = lambda k: (form.get(k) or [""])[0]
        if (
            one("grant_type") != "refresh_token"
            or one("client_id") != CLIENT_ID
            or one("client_secret") != CLIENT_SECRET
            or one("refresh_token") != REFRESH_TOKEN
        ):
            return self._send(400, {"error": "invalid_grant", "error_description": "Bad Request"})
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with WORLD.lock:
            WORLD.tokens.add(token)
        return self._send(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer", "scope": "https://www.googleapis.com/auth/cloud-platform"})

    def _token_review(self, raw):
        """The kube-apiserver's authenticating webhook: is this one of our tokens?"""
        try:
            review = json.loads(raw or b"{}")
        except ValueError:
            return self._send(400, {"error": "not JSON"})
        token = ((review.get("spec") or {}).get("token")) or ""
        with WORLD.lock:
            known = token in WORLD.tokens
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

    def _api(self, http_method, url, raw):
        WORLD.calls.append({"method": http_method, "path": url.path, "query": url.query})
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer "):] not in WORLD.tokens:
            return self._error("UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
        routed = self.discovery.route(http_method, url.path)
        if routed is None:
            return self._reject(f"{http_method} {url.path}: no method of the GKE v1 API has this path", status="NOT_FOUND")
        method_id, method, _ = routed
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        problems = self.discovery.check_query(method, query)
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as e:
                problems.append(f"the body is not JSON: {e}")
        problems += self.discovery.check_body(method, body)
        if problems:
            return self._reject(f"{method_id}: " + "; ".join(problems))
        for fault in WORLD.faults:
            if fault["times"] > 0 and fault["method"] == http_method and re.search(fault["path"], url.path):
                fault["times"] -= 1
                return self._error(fault["status"], fault.get("message", "injected by the test"))
        handler = HANDLERS.get(method_id)
        if handler is None:
            return self._reject(f"{method_id} is published but fedstack is not expected to call it")
        name = url.path[len("/v1/"):]
        for suffix in (":setSize", ":setAutoscaling", ":setResourceLabels"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
        if method_id.endswith(".create") or method_id.endswith(".list"):
            name = name.rsplit("/", 1)[0]  # .../clusters, .../nodePools, .../operations -> its parent
        if method_id.endswith("getServerConfig"):
            name = name[: -len("/serverConfig")]
        try:
            return self._send(200, handler(name, body or {}))
        except ApiError as e:
            return self._error(e.status, e.message)

    def _reject(self, message, status="INVALID_ARGUMENT"):
        WORLD.rejections.append(message)
        return self._error(status, "fake GKE: " + message)

    def _control(self, http_method, path, raw):
        body = json.loads(raw) if raw else {}
        with WORLD.lock:
            if path == "/_fake/calls":
                return self._send(200, WORLD.calls)
            if path == "/_fake/rejections":
                return self._send(200, WORLD.rejections)
            if path == "/_fake/state":
                return self._send(200, {"clusters": WORLD.clusters, "sizes": WORLD.sizes, "operations": {k: v["op"] for k, v in WORLD.operations.items()}, "reviews": WORLD.reviews, "backing_left": len(WORLD.backing)})
            if path == "/_fake/faults" and http_method == "POST":
                body.setdefault("times", 1)
                WORLD.faults.append(body)
                return self._send(200, {})
            if path == "/_fake/config" and http_method == "POST":
                if "polls_per_step" in body:
                    WORLD.polls_per_step = int(body["polls_per_step"])
                WORLD.slow.update(body.get("slow", {}))
                for k, v in (body.get("fail") or {}).items():
                    WORLD.fail[k] = (v["status"], v["message"])
                if "versions" in body:
                    WORLD.versions = list(body["versions"])
                WORLD.backing.extend(body.get("backing") or [])
                return self._send(200, {})
            if path == "/_fake/reset" and http_method == "POST":
                tokens = WORLD.tokens
                WORLD.reset()
                WORLD.tokens = tokens
                return self._send(200, {})
        return self._send(404, {"error": f"no control endpoint {http_method} {path}"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--discovery", required=True, help="container.v1.json (the GKE v1 discovery document)")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    with open(args.discovery) as f:
        Handler.discovery = Discovery(json.load(f))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"gke_fake listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
