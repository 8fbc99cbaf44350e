//! Workloads on the simulated clouds, through the real binary: the default stack's
//! guestbook (status, no-op re-plan, per-object plan lines, undeploy), the blue-green
//! example with `fedstack shift`, and bad manifests and overrides as one-line errors.

use serde_json::Value;

use crate::common::Env;

fn status(env: &Env, args: &[&str]) -> Vec<Value> {
    let r = env.run(&[&["--json", "status"], args].concat());
    serde_json::from_str::<Value>(&r.stdout)
        .unwrap_or_else(|e| panic!("status --json: {e}\n{}{}", r.stdout, r.stderr))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_default_stack_deploys_the_guestbook_everywhere() {
    let env = Env::multicloud(0.0);
    let r = env.apply();
    assert!(r.stdout.contains("24 added"), "{}", r.stdout);
    // 8 replicas of each of the 3 Deployments, weighted 2:1:1.
    let rows = status(&env, &[]);
    let got: Vec<(String, String, i64, i64, String)> = rows
        .iter()
        .map(|r| {
            (
                r["workload"].as_str().unwrap_or("").to_string(),
                r["cluster"].as_str().unwrap_or("").to_string(),
                r["desired"].as_i64().unwrap_or(-1),
                r["ready"].as_i64().unwrap_or(-1),
                r["rollout"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let row = |c: &str, n: i64| {
        (
            "guestbook".to_string(),
            c.to_string(),
            n,
            n,
            "complete".to_string(),
        )
    };
    assert_eq!(
        got,
        [
            row("aks-toronto", 6),
            row("eks-saopaulo", 6),
            row("gke-sydney", 12)
        ]
    );
    let table = env.run(&["status"]).success();
    assert!(
        table
            .stdout
            .contains("guestbook  gke-sydney    12/12  complete"),
        "{}",
        table.stdout
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    // The override and the share show per object.
    env.write_stack(
        &env.read_stack()
            .replace("value: 200m }", "value: 300m }")
            .replace("total: 8", "total: 12"),
    );
    let r = env.run(&["plan"]).success();
    for line in [
        "~ Deployment guestbook/frontend: spec.replicas 2 -> 3; spec.template.spec.containers[name=php-redis].resources.requests.cpu \"200m\" -> \"300m\"",
        "~ Deployment guestbook/redis-leader: spec.replicas 4 -> 6",
        "Plan: 0 to add, 3 to change, 0 to destroy.",
    ] {
        assert!(r.stdout.contains(line), "{line}\n{}", r.stdout);
    }
    env.apply();
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    // make undeploy-guestbook: the workloads go, nothing else.
    let r = env
        .run(&["destroy", "--auto-approve", "--target", "workload.*"])
        .success();
    assert!(r.stdout.contains("3 destroyed"), "{}", r.stdout);
    assert!(env
        .sim_addresses()
        .iter()
        .all(|a| !a.starts_with("workload.")));
    assert!(env
        .state_addresses()
        .iter()
        .all(|a| !a.starts_with("workload.")));
    assert!(env
        .state_addresses()
        .contains(&"federation_member.aks-toronto".to_string()));
    let rows = status(&env, &["guestbook"]);
    assert!(
        rows.iter().all(|r| r["rollout"] == "not applied"),
        "{rows:?}"
    );
}

#[test]
fn the_blue_green_example_deploys_both_colors_and_shifts_to_green() {
    let mut env = Env::new();
    env.write_stack(
        &std::fs::read_to_string(env.path().join("examples/blue-green/stack.yaml"))
            .expect("example")
            .replace("manifests: shop/", "manifests: examples/blue-green/shop/"),
    );
    env.var("FEDSTACK_SIM_LATENCY_SCALE", "0");
    let r = env.apply();
    assert!(r.stdout.contains("Apply complete!"), "{}", r.stdout);
    let rows = status(&env, &[]);
    let pairs: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["workload"].as_str().unwrap_or(""),
                r["cluster"].as_str().unwrap_or(""),
                r["rollout"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("shop-green", "aks-toronto", "complete"),
            ("shop-blue", "gke-sydney", "complete")
        ]
    );
    // Green runs the new image, blue the old.
    let green = env
        .run(&["--json", "state", "show", "workload.aks-toronto.shop-green"])
        .success();
    assert!(
        green.stdout.contains("registry.example.com/shop:1.4.2"),
        "{}",
        green.stdout
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);

    let r = env
        .run(&[
            "shift",
            "shop",
            "--to",
            "green",
            "--interval",
            "0s",
            "--step",
            "50",
        ])
        .success();
    assert!(
        r.stdout.contains("step 2    blue   0  green 100"),
        "{}",
        r.stdout
    );
    let record = env
        .run(&[
            "--json",
            "state",
            "show",
            "dns_record.shop.shop.example.com/green",
        ])
        .success();
    assert!(
        record.stdout.contains("\"weight\":100"),
        "{}",
        record.stdout
    );
    env.run(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn bad_manifests_and_overrides_are_one_line_errors_with_their_location() {
    let env = Env::new();
    std::fs::create_dir(env.path().join("app")).expect("mkdir");
    std::fs::write(
        env.path().join("app/web.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: 'web:1'}]\n",
    )
    .expect("manifest");
    let stack = |workload: &str| {
        format!(
            "name: w
clouds:
  gcp: {{ provider: sim, emulates: gcp }}
clusters:
  a: {{ cloud: gcp, region: us-central1, kubernetes_version: \"1.31\" }}
federation:
  host: a
  members: [a]
workloads:
{workload}"
        )
    };
    // A patch path that is not in the object: the stack's location, what is there.
    env.write_stack(&stack(
        "  web:
    manifests: app/
    overrides:
      a:
        - { kind: Deployment, name: web, op: replace, path: /spec/template/spec/containers/1/image, value: x }
",
    ));
    let r = env.run(&["plan"]).code(1).clean();
    assert_eq!(
        r.stderr.trim(),
        "error: stack.yaml:10:3: workload `web`, override 1 of cluster `a`: `replace /spec/template/spec/containers/1/image` on Deployment web/web (written at app/web.yaml:1:1): path /spec/template/spec/containers/1 does not exist (the list has 1 item) (hint: the path is an RFC 6901 pointer into the object as written in the manifest, e.g. /spec/template/spec/containers/0/image; `add` may create the last key only)"
    );
    // An object the manifests do not have.
    env.write_stack(&stack(
        "  web:
    manifests: app/
    overrides:
      a:
        - { kind: Deployment, name: webb, op: replace, path: /spec/replicas, value: 2 }
",
    ));
    let r = env.run(&["plan"]).code(1).clean();
    assert!(
        r.stderr.contains("the manifests have no Deployment named `webb` (hint: Deployment objects in the manifests: web)"),
        "{}",
        r.stderr
    );
    // A missing directory: where the stack names it.
    env.write_stack(&stack("  web:\n    manifests: nope/\n"));
    let r = env.run(&["plan"]).code(1).clean();
    assert!(
        r.stderr
            .starts_with("error: stack.yaml:10:3: workload `web`: manifests nope: cannot read it"),
        "{}",
        r.stderr
    );
    // A manifest that is not valid: its own file, line and column.
    std::fs::write(
        env.path().join("app/bad.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
    )
    .expect("bad");
    env.write_stack(&stack("  web:\n    manifests: app/\n"));
    let r = env.run(&["plan"]).code(1).clean();
    assert!(r.stderr.starts_with("error: app/bad.yaml:"), "{}", r.stderr);
    assert!(r.stderr.contains("metadata.name"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
}
