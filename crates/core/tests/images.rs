//! `registries:` and `images:` lowered to one `image.<image>.<registry>` per destination.

mod common;

use common::{errors, ok, one_error};
use fedstack_core::address::ResourceKind;
use fedstack_core::stack::{DesiredResource, DesiredStack, REGISTRY_CLOUD};
use fedstack_core::value::Expr;
use serde_json::{json, Value};

const HEAD: &str = "\
name: t
clouds:
  sim: { provider: sim }
registries:
  build:    { url: registry.test.example.com, credentials: { username_env: BUILD_USER, password_env: BUILD_TOKEN } }
  sydney:   { url: syd.example.com, credentials: { docker_config: ~/.docker/config.json } }
  saopaulo: { url: \"127.0.0.1:5001\", insecure_http: true, ca_file: certs/ca.pem, credentials: { token_env: SP_TOKEN } }
  anon:     { url: anon.example.com }
";

fn stack(images: &str) -> DesiredStack {
    ok(&format!("{HEAD}images:\n{images}"))
}

fn err(images: &str) -> String {
    one_error(&format!("{HEAD}images:\n{images}"))
}

fn images(s: &DesiredStack) -> Vec<&DesiredResource> {
    s.resources
        .iter()
        .filter(|r| r.address.kind == ResourceKind::Image)
        .collect()
}

fn attrs_json(r: &DesiredResource) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in &r.attrs {
        let Expr::Literal(v) = v else {
            panic!("{}: `{k}` is not a literal: {v:?}", r.address)
        };
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

#[test]
fn an_image_lowers_to_one_resource_per_destination_with_registry_settings() {
    let s = stack(
        "  shop:
    from: build/team/shop:1.4.2
    to: [sydney, saopaulo]
    platforms: [linux/amd64, linux/arm64/v8]
",
    );
    let got = images(&s);
    let addrs: Vec<String> = got.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(addrs, ["image.shop.sydney", "image.shop.saopaulo"]);
    for r in &got {
        assert_eq!(r.cloud.as_deref(), Some(REGISTRY_CLOUD));
    }
    let build = json!({
        "host": "registry.test.example.com",
        "insecure_http": false,
        "credentials": { "kind": "basic", "username_env": "BUILD_USER", "password_env": "BUILD_TOKEN" },
    });
    assert_eq!(
        attrs_json(got[0]),
        json!({
            "image": "shop",
            "source": "registry.test.example.com/team/shop:1.4.2",
            "destination": "syd.example.com/team/shop:1.4.2",
            "platforms": ["linux/amd64", "linux/arm64/v8"],
            "source_registry": build,
            "destination_registry": {
                "host": "syd.example.com",
                "insecure_http": false,
                "credentials": { "kind": "docker_config", "path": "~/.docker/config.json" },
            },
            "in_sync": true,
        })
    );
    assert_eq!(
        attrs_json(got[1])["destination_registry"],
        json!({
            "host": "127.0.0.1:5001",
            "insecure_http": true,
            "ca_file": "certs/ca.pem",
            "credentials": { "kind": "token", "token_env": "SP_TOKEN" },
        })
    );
}

#[test]
fn defaults_digest_sources_and_a_single_destination() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let s = stack(&format!(
        "  shop: {{ from: \"anon/shop@{digest}\", to: sydney }}\n"
    ));
    let got = images(&s);
    assert_eq!(got.len(), 1);
    let a = attrs_json(got[0]);
    assert_eq!(
        a["source"],
        json!(format!("anon.example.com/shop@{digest}"))
    );
    assert_eq!(
        a["destination"],
        json!(format!("syd.example.com/shop@{digest}"))
    );
    assert_eq!(a["platforms"], json!("all"));
    assert_eq!(
        a["source_registry"]["credentials"],
        json!({ "kind": "anonymous" })
    );
}

#[test]
fn image_outputs_can_be_referenced() {
    let s = ok(&format!(
        "{HEAD}images:\n  shop: {{ from: build/shop:1, to: [sydney] }}\noutputs:\n  shop_ref: {{ value: \"${{image.shop.sydney.ref}}\" }}\n  shop_digest: {{ value: \"${{image.shop.sydney.digest}}\" }}\n"
    ));
    assert_eq!(s.outputs.len(), 2);
    let e = one_error(&format!(
        "{HEAD}images:\n  shop: {{ from: build/shop:1, to: [sydney] }}\noutputs:\n  x: {{ value: \"${{image.shop.sydney.tag}}\" }}\n"
    ));
    assert!(e.contains("image.shop.sydney"), "{e}");
}

#[test]
fn unknown_registries_are_named_with_the_declared_ones() {
    assert_eq!(
        err("  shop: { from: buidl/shop:1, to: [sydney] }\n"),
        "t.yaml:10:17: unknown registry `buidl` in `from` in image `shop` (hint: did you mean `build`?)"
    );
    assert_eq!(
        err("  shop: { from: build/shop:1, to: [tokyo] }\n"),
        "t.yaml:10:36: unknown registry `tokyo` in `to` in image `shop` (hint: the declared registries are: build, sydney, saopaulo, anon)"
    );
}

#[test]
fn malformed_sources_say_what_a_reference_looks_like() {
    let hint = "(hint: write REGISTRY/repository:tag or REGISTRY/repository@sha256:<64 hex>, REGISTRY a name in `registries`, e.g. `from: build/shop:1.4.2`)";
    assert_eq!(
        err("  shop: { from: build/shop, to: [sydney] }\n"),
        format!("t.yaml:10:17: `from` in image `shop` is not an image reference: it has no tag (there is no implicit `latest`) {hint}")
    );
    assert_eq!(
        err("  shop: { from: build/shop@sha256:abc, to: [sydney] }\n"),
        format!("t.yaml:10:17: `from` in image `shop` is not an image reference: `sha256:abc` is not a digest (sha256: and 64 lowercase hex digits) {hint}")
    );
    assert_eq!(
        err("  shop: { from: build/Shop:1, to: [sydney] }\n"),
        format!("t.yaml:10:17: `from` in image `shop` is not an image reference: repository `Shop` is not valid (lowercase letters and digits, separated by `.`, `_`, `__`, `-` or `/`) {hint}")
    );
    assert_eq!(
        err("  shop: { from: shop, to: [sydney] }\n"),
        format!("t.yaml:10:17: `from` in image `shop` is not an image reference: `shop` names no registry {hint}")
    );
}

#[test]
fn a_wrong_image_is_reported_once_not_again_at_its_references() {
    assert_eq!(
        errors(&format!(
            "{HEAD}images:\n  shop: {{ from: build/shop:1, to: [sydny] }}\noutputs:\n  r: {{ value: \"${{image.shop.sydney.ref}}\" }}\n  d: {{ value: \"${{image.shopp.sydney.ref}}\" }}\n"
        )),
        [
            "t.yaml:10:36: unknown registry `sydny` in `to` in image `shop` (hint: did you mean `sydney`?)",
            "t.yaml:13:15: reference to undeclared resource `image.shopp.sydney` in output `d` (hint: there are no image addresses)",
        ]
    );
}

#[test]
fn duplicate_and_self_destinations_are_refused() {
    assert_eq!(
        err("  shop: { from: build/shop:1, to: [sydney, sydney] }\n"),
        "t.yaml:10:44: registry `sydney` is listed twice in `to` in image `shop` (hint: it is first listed at line 10, column 36)"
    );
    assert_eq!(
        err("  shop: { from: build/shop:1, to: [build] }\n"),
        "t.yaml:10:36: `to` in image `shop` names `build`, the registry it comes from: the copy would be onto itself (hint: remove it from `to`: the image is there already)"
    );
}

#[test]
fn platforms_are_all_or_os_arch() {
    assert_eq!(
        err("  shop: { from: build/shop:1, to: [sydney], platforms: [linux] }\n"),
        "t.yaml:10:57: `linux` in `platforms` in image `shop` is not a platform (hint: write os/arch or os/arch/variant, e.g. `linux/amd64` or `linux/arm64/v8`, or `platforms: all`)"
    );
    assert_eq!(
        err("  shop: { from: build/shop:1, to: [sydney], platforms: any }\n"),
        "t.yaml:10:56: `platforms` in image `shop` must be `all` or a list of platforms; found `any` (hint: e.g. `platforms: [any]`)"
    );
}

#[test]
fn credentials_have_one_kind_and_valid_env_names() {
    let base = "name: t\nclouds:\n  sim: { provider: sim }\nregistries:\n";
    let e = one_error(&format!(
        "{base}  r: {{ url: r.example.com, credentials: {{ token_env: T, docker_config: x.json }} }}\n"
    ));
    assert_eq!(
        e,
        "t.yaml:5:28: `credentials` of registry `r` sets more than one kind of credentials (hint: use one of `{ username_env: USER_VAR, password_env: PASS_VAR }`, `{ token_env: VAR }` or `{ docker_config: ~/.docker/config.json }`; leave `credentials` out for anonymous access)"
    );
    let e = one_error(&format!(
        "{base}  r: {{ url: r.example.com, credentials: {{ token_env: 1TOKEN }} }}\n"
    ));
    assert_eq!(
        e,
        "t.yaml:5:54: `token_env` in `credentials` of registry `r` is not an env var name: `1TOKEN` (hint: an env var name is letters, digits and `_`, not starting with a digit, e.g. `BUILD_TOKEN`)"
    );
    let e = one_error(&format!(
        "{base}  r: {{ url: r.example.com, credentials: {{ username_env: U }} }}\n"
    ));
    assert_eq!(
        e,
        "t.yaml:5:28: missing field `password_env` in `credentials` of registry `r`"
    );
    let e = one_error(&format!(
        "{base}  r: {{ url: r.example.com, credentials: {{ tokn_env: T }} }}\n"
    ));
    assert!(
        e.starts_with("t.yaml:5:43: unknown field `tokn_env` in `credentials` of registry `r` (hint: did you mean `token_env`?)"),
        "{e}"
    );
}

#[test]
fn registry_urls_are_hosts_and_unknown_fields_get_did_you_mean() {
    let base = "name: t\nclouds:\n  sim: { provider: sim }\nregistries:\n";
    assert_eq!(
        one_error(&format!("{base}  r: {{ url: \"https://r.example.com\" }}\n")),
        "t.yaml:5:13: `url` of registry `r` is not a registry host: `https://r.example.com` (hint: write the registry's host[:port] without a scheme, e.g. `registry.example.com` or `127.0.0.1:5000`; for plain http set `insecure_http: true`)"
    );
    assert_eq!(
        one_error(&format!("{base}  r: {{ url: r.example.com, insecure: true }}\n")),
        "t.yaml:5:28: unknown field `insecure` in registry `r` (hint: did you mean `insecure_http`?)"
    );
    let e = errors(&format!(
        "{base}  r: {{ url: r.example.com }}\nimages:\n  shop: {{ form: r/shop:1, to: [r] }}\n"
    ));
    assert_eq!(
        e,
        [
            "t.yaml:7:3: missing field `from` in image `shop` (hint: write REGISTRY/repository:tag or REGISTRY/repository@sha256:<64 hex>, REGISTRY a name in `registries`, e.g. `from: build/shop:1.4.2`)",
            "t.yaml:7:11: unknown field `form` in image `shop` (hint: did you mean `from`?)",
        ]
    );
}

#[test]
fn images_need_registries_and_the_cloud_name_is_reserved() {
    assert_eq!(
        one_error("name: t\nclouds:\n  sim: { provider: sim }\nimages:\n  shop: { from: a/b:1, to: [c] }\n"),
        "t.yaml:4:1: `images` needs `registries`: images are copied between them (hint: add a `registries` section, e.g. `registries: { build: { url: registry.example.com } }`)"
    );
    let e = errors("name: t\nclouds:\n  registry: { provider: sim }\n");
    assert!(
        e.iter()
            .any(|e| e.starts_with("t.yaml:3:3: cloud name `registry` is reserved")),
        "{e:#?}"
    );
}
