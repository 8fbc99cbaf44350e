//! The `registries:` and `images:` sections: image promotion. Each image is copied
//! from its source registry to every registry of its `to`, one `image.<image>.<registry>`
//! resource per destination, on the built-in [`REGISTRY_CLOUD`]. Secrets are never
//! here: a registry's credentials are lowered as their *kind* and the env var names
//! or docker config path the provider reads them from when it calls the registry.

use serde_json::{json, Map as JsonMap, Value};

use super::cx::{as_str, clip, list_hint, Fmt, FxMap, Obj, Sp};
use super::describe::REGISTRY_CLOUD;
use super::load::Loader;
use super::names;
use super::oci_names::{self as oci, Reference};
use super::workloads::manifests_path;
use super::yaml::{Node, Scalar};
use crate::address::{Address, ResourceKind};
use crate::value::{Attrs, Expr};

const REGISTRY_FIELDS: &[&str] = &["url", "credentials", "insecure_http", "ca_file"];
const CREDENTIAL_FIELDS: &[&str] = &["username_env", "password_env", "token_env", "docker_config"];
const IMAGE_FIELDS: &[&str] = &["from", "to", "platforms"];

const FROM_HINT: &str = "write REGISTRY/repository:tag or REGISTRY/repository@sha256:<64 hex>, REGISTRY a name in `registries`, e.g. `from: build/shop:1.4.2`";
const CREDENTIALS_HINT: &str = "use one of `{ username_env: USER_VAR, password_env: PASS_VAR }`, `{ token_env: VAR }` or `{ docker_config: ~/.docker/config.json }`; leave `credentials` out for anonymous access";

/// A declared registry, as its images' attributes carry it.
struct RegistryDecl {
    host: String,
    /// `host`, `insecure_http`, `ca_file` (when set) and `credentials`.
    attrs: Value,
}

/// Where an image comes from, once checked.
struct Source {
    registry: String,
    repository: String,
    reference: Reference,
}

impl Loader<'_> {
    /// Both sections (images name registries). Called once from the top level.
    pub(super) fn registries_and_images(&mut self, top: &Obj) {
        let mut registries: Option<FxMap<String, RegistryDecl>> = None;
        let mut order: Vec<String> = Vec::new();
        if top.raw("registries").is_some() {
            if let Some(entries) = top.map_opt(&mut self.cx, "registries") {
                let mut decls = FxMap::default();
                for (k, v) in entries {
                    order.push(k.text.to_string());
                    if let Some(d) = self.registry(k, v) {
                        decls.insert(k.text.to_string(), d);
                    }
                }
                registries = Some(decls);
            }
        } else {
            registries = Some(FxMap::default());
        }
        let Some((ikey, _)) = top.raw("images") else {
            return;
        };
        let Some(images) = top.map_opt(&mut self.cx, "images") else {
            return;
        };
        if images.is_empty() {
            return;
        }
        let unchecked = images.iter().map(|(k, _)| k.text.to_string());
        if top.raw("registries").is_none() {
            self.broken_images.extend(unchecked);
            self.cx.error(
                ikey.span,
                "`images` needs `registries`: images are copied between them",
                Some("add a `registries` section, e.g. `registries: { build: { url: registry.example.com } }`".to_string()),
            );
            return;
        }
        let Some(registries) = registries else {
            // `registries` is not a mapping (reported): names can't be checked.
            self.broken_images.extend(unchecked);
            return;
        };
        let known = Known {
            decls: &registries,
            order: &order,
        };
        for (k, v) in images {
            self.image(&known, k, v);
        }
    }

    fn registry(&mut self, key: &Scalar, node: &Node) -> Option<RegistryDecl> {
        let name = key.text.to_string();
        let mut ok = true;
        if !names::simple_name_ok(&name) {
            self.cx.error(
                key.span,
                format!("invalid registry name `{}`", clip(&name)),
                Some(names::SIMPLE_NAME_HINT.to_string()),
            );
            ok = false;
        }
        let what = format!("registry `{}`", clip(&name));
        let obj = Obj::new(&mut self.cx, node, what.clone(), key.span)?;
        obj.check_fields(&mut self.cx, REGISTRY_FIELDS);
        let host = obj.str_req(&mut self.cx, "url").and_then(|u| {
            if oci::registry_host_ok(&u.v) {
                Some(u.v)
            } else {
                self.cx.error(
                    u.span,
                    format!("`url` of {what} is not a registry host: `{}`", clip(&u.v)),
                    Some(oci::HOST_HINT.to_string()),
                );
                None
            }
        });
        let insecure_http = match obj.get("insecure_http") {
            None => Some(false),
            Some(_) => obj.bool_opt(&mut self.cx, "insecure_http").map(|b| b.v),
        };
        let ca_file = match obj.str_opt(&mut self.cx, "ca_file") {
            None => Some(None),
            Some(f) if f.v.trim().is_empty() => {
                self.cx.error(
                    f.span,
                    format!("`ca_file` of {what} must not be empty"),
                    None,
                );
                None
            }
            Some(f) => Some(Some(manifests_path(self.cx.file, &f.v))),
        };
        let credentials = match obj.get("credentials") {
            None => Some(json!({ "kind": "anonymous" })),
            Some((ckey, cnode)) => self.credentials(ckey, cnode, &what),
        };
        let (true, Some(host), Some(insecure_http), Some(ca_file), Some(credentials)) =
            (ok, host, insecure_http, ca_file, credentials)
        else {
            return None;
        };
        let mut attrs = JsonMap::new();
        attrs.insert("host".into(), json!(host));
        attrs.insert("insecure_http".into(), json!(insecure_http));
        if let Some(ca) = ca_file {
            attrs.insert("ca_file".into(), json!(ca));
        }
        attrs.insert("credentials".into(), credentials);
        Some(RegistryDecl {
            host,
            attrs: Value::Object(attrs),
        })
    }

    /// `credentials`: exactly one kind, lowered as `{kind, <where to find it>}`.
    fn credentials(&mut self, key: &Scalar, node: &Node, what: &str) -> Option<Value> {
        let label = format!("`credentials` of {what}");
        let obj = Obj::new(&mut self.cx, node, label.clone(), key.span)?;
        obj.check_fields(&mut self.cx, CREDENTIAL_FIELDS);
        let basic = obj.get("username_env").is_some() || obj.get("password_env").is_some();
        let token = obj.get("token_env").is_some();
        let docker = obj.get("docker_config").is_some();
        let kinds = [basic, token, docker].iter().filter(|k| **k).count();
        if kinds == 0 {
            if !obj.entries.is_empty() {
                // Only unknown fields (reported with their did-you-mean): no second error.
                return None;
            }
            self.cx.error(
                key.span,
                format!("{label} names no credentials"),
                Some(CREDENTIALS_HINT.to_string()),
            );
            return None;
        }
        if kinds > 1 {
            self.cx.error(
                key.span,
                format!("{label} sets more than one kind of credentials"),
                Some(CREDENTIALS_HINT.to_string()),
            );
            return None;
        }
        let mut env = |field: &str| -> Option<String> {
            let s = obj.str_req(&mut self.cx, field)?;
            if oci::env_name_ok(&s.v) {
                Some(s.v)
            } else {
                self.cx.error(
                    s.span,
                    format!(
                        "`{field}` in {label} is not an env var name: `{}`",
                        clip(&s.v)
                    ),
                    Some(oci::ENV_HINT.to_string()),
                );
                None
            }
        };
        if basic {
            let user = env("username_env");
            let pass = env("password_env");
            return Some(json!({
                "kind": "basic",
                "username_env": user?,
                "password_env": pass?,
            }));
        }
        if token {
            return Some(json!({ "kind": "token", "token_env": env("token_env")? }));
        }
        let path = obj.str_req(&mut self.cx, "docker_config")?;
        if path.v.trim().is_empty() {
            self.cx.error(
                path.span,
                format!("`docker_config` in {label} must not be empty"),
                Some("e.g. `docker_config: ~/.docker/config.json`".to_string()),
            );
            return None;
        }
        // `~/` is the home directory of whoever runs fedstack: the provider expands it.
        let p = if path.v.starts_with("~/") {
            path.v
        } else {
            manifests_path(self.cx.file, &path.v)
        };
        Some(json!({ "kind": "docker_config", "path": p }))
    }

    fn image(&mut self, known: &Known, key: &Scalar, node: &Node) {
        let name = key.text.to_string();
        let mut ok = true;
        if !names::simple_name_ok(&name) {
            self.cx.error(
                key.span,
                format!("invalid image name `{}`", clip(&name)),
                Some(names::SIMPLE_NAME_HINT.to_string()),
            );
            ok = false;
        }
        let what = format!("image `{}`", clip(&name));
        let Some(obj) = Obj::new(&mut self.cx, node, what.clone(), key.span) else {
            self.broken_images.insert(name);
            return;
        };
        obj.check_fields(&mut self.cx, IMAGE_FIELDS);
        let source = self.image_from(known, &obj, &what);
        let platforms = self.platforms(&obj, &what);
        let to = self.image_to(known, &obj, &what, source.as_ref());
        let (true, Some(source), Some(platforms), Some(to)) = (ok, source, platforms, to) else {
            self.broken_images.insert(name);
            return;
        };
        let Some(src_decl) = known.decls.get(&source.registry) else {
            return;
        };
        let source_ref = format!(
            "{}/{}{}",
            src_decl.host,
            source.repository,
            source.reference.suffix()
        );
        for dest in to {
            let Some(dst_decl) = known.decls.get(&dest.v) else {
                continue;
            };
            let destination = format!(
                "{}/{}{}",
                dst_decl.host,
                source.repository,
                source.reference.suffix()
            );
            let mut attrs = Attrs::new();
            attrs.insert("image".into(), Expr::lit(name.clone()));
            attrs.insert("source".into(), Expr::lit(source_ref.clone()));
            attrs.insert("destination".into(), Expr::lit(destination));
            attrs.insert("platforms".into(), Expr::lit(platforms.clone()));
            attrs.insert("source_registry".into(), Expr::lit(src_decl.attrs.clone()));
            attrs.insert(
                "destination_registry".into(),
                Expr::lit(dst_decl.attrs.clone()),
            );
            // The provider reads whether the destination has what the source has now
            // (`false` after the source tag moved), so a moved tag plans an update.
            attrs.insert("in_sync".into(), Expr::lit(true));
            let address = Address::new(ResourceKind::Image, format!("{name}.{}", dest.v));
            self.push(
                address,
                Some(REGISTRY_CLOUD.to_string()),
                attrs,
                Vec::new(),
                dest.span,
            );
        }
    }

    fn image_from(&mut self, known: &Known, obj: &Obj, what: &str) -> Option<Source> {
        let from = match obj.raw("from") {
            None => {
                self.cx.error(
                    obj.at,
                    format!("missing field `from` in {what}"),
                    Some(FROM_HINT.to_string()),
                );
                return None;
            }
            Some((_, v)) => as_str(&mut self.cx, v, Fmt(|f| write!(f, "`from` in {what}")))?,
        };
        let bad = |l: &mut Self, reason: String| {
            l.cx.error(
                from.span,
                format!("`from` in {what} is not an image reference: {reason}"),
                Some(FROM_HINT.to_string()),
            );
        };
        let Some((registry, rest)) = from.v.split_once('/') else {
            bad(self, format!("`{}` names no registry", clip(&from.v)));
            return None;
        };
        let (repository, reference) = match oci::split_reference(rest) {
            Ok(r) => r,
            Err(reason) => {
                bad(self, reason);
                return None;
            }
        };
        let registry = Sp {
            v: registry.to_string(),
            span: from.span,
        };
        if !self.known_registry(known, &registry, &format!("`from` in {what}")) {
            return None;
        }
        Some(Source {
            registry: registry.v,
            repository,
            reference,
        })
    }

    /// `to`: declared registries, each once, not the source's own (a copy onto
    /// itself). In the order written.
    fn image_to(
        &mut self,
        known: &Known,
        obj: &Obj,
        what: &str,
        source: Option<&Source>,
    ) -> Option<Vec<Sp<String>>> {
        let label = format!("`to` in {what}");
        let items: Vec<&Node> = match obj.raw("to") {
            None => {
                self.cx.error(
                    obj.at,
                    format!("missing field `to` in {what}"),
                    Some(
                        "name the registries to copy it to, e.g. `to: [sydney, saopaulo]`"
                            .to_string(),
                    ),
                );
                return None;
            }
            // One registry may be written without the brackets.
            Some((_, n @ Node::Scalar(s))) if !s.is_null() => vec![n],
            Some(_) => obj.list_opt(&mut self.cx, "to")?.iter().collect(),
        };
        if items.is_empty() {
            self.cx.error(
                obj.raw("to").map_or(obj.at, |(k, _)| k.span),
                format!("{label} is empty"),
                Some("name at least one registry to copy the image to".to_string()),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        let mut first_seen: FxMap<String, super::Span> = FxMap::default();
        for item in items {
            let Some(r) = as_str(
                &mut self.cx,
                item,
                Fmt(|f| write!(f, "an entry of {label}")),
            ) else {
                ok = false;
                continue;
            };
            if let Some(first) = first_seen.get(&r.v) {
                self.cx.error(
                    r.span,
                    format!("registry `{}` is listed twice in {label}", clip(&r.v)),
                    Some(format!(
                        "it is first listed at line {}, column {}",
                        first.line, first.column
                    )),
                );
                ok = false;
                continue;
            }
            first_seen.insert(r.v.clone(), r.span);
            if !self.known_registry(known, &r, &label) {
                ok = false;
                continue;
            }
            let host = |name: &str| known.decls.get(name).map(|d| d.host.as_str());
            if source.is_some_and(|s| s.registry == r.v || host(&s.registry) == host(&r.v)) {
                // Same registry, same repository, same tag: the copy would be onto itself.
                self.cx.error(
                    r.span,
                    format!(
                        "{label} names `{}`, the registry it comes from: the copy would be onto itself",
                        clip(&r.v)
                    ),
                    Some("remove it from `to`: the image is there already".to_string()),
                );
                ok = false;
                continue;
            }
            out.push(r);
        }
        ok.then_some(out)
    }

    fn known_registry(&mut self, known: &Known, r: &Sp<String>, what: &str) -> bool {
        if known.decls.contains_key(&r.v) {
            return true;
        }
        if known.order.contains(&r.v) {
            // Declared, but wrong (reported there).
            return false;
        }
        let hint = match self
            .cx
            .closest(&r.v, known.order.iter().map(String::as_str))
        {
            Some(c) => Some(format!("did you mean `{}`?", clip(c))),
            None => list_hint(
                "the declared registries",
                known.order.iter().map(String::as_str),
            ),
        };
        self.cx.error(
            r.span,
            format!("unknown registry `{}` in {what}", clip(&r.v)),
            hint,
        );
        false
    }

    /// `platforms`: `"all"` (also when absent) or the list, as written.
    fn platforms(&mut self, obj: &Obj, what: &str) -> Option<Value> {
        let label = format!("`platforms` in {what}");
        let Some((_, node)) = obj.get("platforms") else {
            return Some(json!("all"));
        };
        if let Node::Scalar(s) = node {
            if s.text == "all" {
                return Some(json!("all"));
            }
            self.cx.error(
                s.span,
                format!(
                    "{label} must be `all` or a list of platforms; found `{}`",
                    clip(&s.text)
                ),
                Some(format!("e.g. `platforms: [{}]`", clip(&s.text))),
            );
            return None;
        }
        let items = obj.list_opt(&mut self.cx, "platforms")?;
        if items.is_empty() {
            self.cx.error(
                node.span(),
                format!("{label} is empty"),
                Some(oci::PLATFORM_HINT.to_string()),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for item in items {
            let Some(p) = as_str(
                &mut self.cx,
                item,
                Fmt(|f| write!(f, "an entry of {label}")),
            ) else {
                ok = false;
                continue;
            };
            if !oci::platform_ok(&p.v) {
                self.cx.error(
                    p.span,
                    format!("`{}` in {label} is not a platform", clip(&p.v)),
                    Some(oci::PLATFORM_HINT.to_string()),
                );
                ok = false;
                continue;
            }
            if out.contains(&Value::String(p.v.clone())) {
                self.cx.error(
                    p.span,
                    format!("platform `{}` is listed twice in {label}", clip(&p.v)),
                    None,
                );
                ok = false;
                continue;
            }
            out.push(Value::String(p.v));
        }
        ok.then_some(Value::Array(out))
    }
}

/// The registries images may name: the good ones and every declared name.
struct Known<'a> {
    decls: &'a FxMap<String, RegistryDecl>,
    order: &'a [String],
}
