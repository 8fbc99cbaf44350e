//! The example stacks load, their lowering is pinned by a snapshot, no input makes
//! the loader panic, and a 10,000-resource stack loads fast.

use std::fmt::Write as _;

use fedstack_core::address::ResourceKind;
use fedstack_core::stack::{load_stack, DesiredStack, StateBackendConfig, MAX_DIAGNOSTICS};
use fedstack_core::value::{Expr, TemplatePart};

mod common;

const MULTICLOUD: &str = include_str!("../../../stacks/multicloud.yaml");
const MULTICLOUD_SIM: &str = include_str!("../../../stacks/multicloud-sim.yaml");
const MULTICLOUD_SIM_S3: &str = include_str!("../../../stacks/multicloud-sim-s3.yaml");

fn load_ok(file: &str, text: &str) -> DesiredStack {
    match load_stack(file, text, common::CLOUDS) {
        Ok(s) => s,
        Err(e) => panic!("{file} should load:\n{e}"),
    }
}

#[test]
fn the_s3_state_example_is_the_sim_stack_with_its_state_in_a_bucket() {
    let sim = load_ok("stacks/multicloud-sim.yaml", MULTICLOUD_SIM);
    let s3 = load_ok("stacks/multicloud-sim-s3.yaml", MULTICLOUD_SIM_S3);
    let addresses = |s: &DesiredStack| -> Vec<String> {
        s.resources.iter().map(|r| r.address.to_string()).collect()
    };
    assert_eq!(addresses(&s3), addresses(&sim));
    match &s3.state.backend {
        StateBackendConfig::S3(c) => {
            assert_eq!(c.bucket, "fedstack-demo-state");
            assert_eq!(c.key_prefix, "demo/");
        }
        other => panic!("expected the s3 backend, found {other:?}"),
    }
}

#[test]
fn example_stacks_load() {
    let real = load_ok("stacks/multicloud.yaml", MULTICLOUD);
    let sim = load_ok("stacks/multicloud-sim.yaml", MULTICLOUD_SIM);
    assert_eq!(real.name, "multicloud");
    assert_eq!(sim.name, "multicloud-sim");
    // Same resources and attributes; only the clouds differ, and clusters on real
    // clouds also get their clouds' fields (EKS: its network, its roles).
    assert_eq!(real.resources.len(), 27);
    let cloud_only = [
        "release_channel",
        "network",
        "subnetwork",
        "role_arn",
        "node_role_arn",
        "subnet_ids",
        "security_group_ids",
        "endpoint_access",
        "logging",
        "ingress_address",
        // Real clusters' joins are read back by the kubernetes provider.
        "credentials",
        // AKS: its DNS prefix and the system pool it is made with.
        "dns_prefix",
        "system_pool",
        "system_pool_machine_type",
        "network_plugin",
    ];
    let common = |s: &DesiredStack| -> Vec<(String, Vec<String>)> {
        s.resources
            .iter()
            .filter(|r| {
                !matches!(
                    r.address.kind,
                    ResourceKind::Network | ResourceKind::IamRole
                )
            })
            .map(|r| {
                let attrs = r
                    .attrs
                    .iter()
                    .filter(|(k, _)| !cloud_only.contains(&k.as_str()))
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect();
                (r.address.to_string(), attrs)
            })
            .collect()
    };
    assert_eq!(common(&real), common(&sim));
    let extra: Vec<String> = real
        .resources
        .iter()
        .filter(|r| {
            matches!(
                r.address.kind,
                ResourceKind::Network | ResourceKind::IamRole
            )
        })
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(
        extra,
        [
            "network.eks-saopaulo",
            "iam_role.eks-saopaulo-cluster",
            "iam_role.eks-saopaulo-node"
        ]
    );
    assert_eq!(real.outputs.len(), 2);
}

fn render_expr(e: &Expr, out: &mut String) {
    match e {
        Expr::Literal(v) => out.push_str(&v.to_string()),
        Expr::Ref { address, output } => {
            let _ = write!(out, "${{{address}.{output}}}");
        }
        Expr::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_expr(item, out);
            }
            out.push(']');
        }
        Expr::Template(parts) => {
            out.push('"');
            for p in parts {
                match p {
                    TemplatePart::Text(t) => out.push_str(t),
                    TemplatePart::Ref { address, output } => {
                        let _ = write!(out, "${{{address}.{output}}}");
                    }
                }
            }
            out.push('"');
        }
    }
}

/// A stack as readable text: one block per resource.
fn render(s: &DesiredStack) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "stack {} ({})", s.name, s.file);
    for (name, c) in &s.clouds {
        let settings = serde_json::to_string(&c.settings).unwrap_or_default();
        let _ = writeln!(out, "cloud {name}: {} {settings}", c.provider.as_str());
    }
    for r in &s.resources {
        let _ = writeln!(
            out,
            "\n{}  [cloud {}, line {}:{}]",
            r.address,
            r.cloud.as_deref().unwrap_or("-"),
            r.span.line,
            r.span.column
        );
        let deps: Vec<String> = r.depends_on.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "  depends_on: [{}]", deps.join(", "));
        for (k, v) in &r.attrs {
            let _ = write!(out, "  {k} = ");
            render_expr(v, &mut out);
            out.push('\n');
        }
    }
    for (name, o) in &s.outputs {
        let _ = write!(out, "\noutput {name} (sensitive: {}) = ", o.sensitive);
        render_expr(&o.value, &mut out);
        out.push('\n');
    }
    out
}

#[test]
fn multicloud_sim_lowering_snapshot() {
    let s = load_ok("stacks/multicloud-sim.yaml", MULTICLOUD_SIM);
    insta::assert_snapshot!(render(&s));
}

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn check_never_panics(text: &str) {
    match load_stack("m.yaml", text, common::CLOUDS) {
        Ok(_) => {}
        Err(d) => {
            assert!(!d.0.is_empty());
            assert!(d.0.len() <= MAX_DIAGNOSTICS);
            for diag in &d.0 {
                assert!(diag.span.line >= 1 && diag.span.column >= 1, "{diag}");
                assert!(!diag.message.is_empty(), "{diag}");
                assert!(!diag.to_string().contains('\n'), "{diag}");
            }
        }
    }
}

#[test]
fn mangled_examples_never_panic() {
    let bytes = MULTICLOUD_SIM.as_bytes();
    // Truncated at every 37th byte.
    for cut in (0..bytes.len()).step_by(37) {
        check_never_panics(&String::from_utf8_lossy(&bytes[..cut]));
    }
    // Random byte flips, fixed seed.
    let mut rng = Rng(0x5eed_f00d_dead_beef);
    let interesting = b":-[]{}&*!|>'\"#%@`,? \n\t.${}0123456789abcxyz";
    for _ in 0..300 {
        let mut m = bytes.to_vec();
        for _ in 0..1 + rng.below(6) {
            let i = rng.below(m.len());
            m[i] = if rng.below(2) == 0 {
                interesting[rng.below(interesting.len())]
            } else {
                (rng.next() & 0xff) as u8
            };
        }
        check_never_panics(&String::from_utf8_lossy(&m));
    }
    // Lines shuffled around and duplicated.
    let lines: Vec<&str> = MULTICLOUD_SIM.lines().collect();
    for _ in 0..100 {
        let mut l = lines.clone();
        for _ in 0..3 {
            let (a, b) = (rng.below(l.len()), rng.below(l.len()));
            l.swap(a, b);
        }
        let dup = l[rng.below(l.len())];
        l.insert(rng.below(l.len()), dup);
        check_never_panics(&l.join("\n"));
    }
}

#[test]
fn hostile_inputs_never_panic() {
    for text in [
        "[".repeat(10_000),
        "{".repeat(10_000),
        "- ".repeat(10_000),
        "a: &a [x]\nb: *a\nc: *a\n".to_string(),
        "*unknown".to_string(),
        "!!binary aGVsbG8=".to_string(),
        "\u{feff}name: t\nclouds: {}\n".to_string(),
        "name: t\nclouds: {}\ndata:\n  d: { values: { x: \"${\" } }\n".to_string(),
        "name: t\nclouds: {}\ndata:\n  d: { values: { x: \"${}\" } }\n".to_string(),
        "name: t\nclouds: {}\ndata:\n  d: { values: { x: \"${.}\" } }\n".to_string(),
        "name: t\nclouds: {}\noutputs: { o: { value: \"${data..x}\" } }\n".to_string(),
        "name: t\nclouds: {}\ndns: { zone: \"\", cloud: x, records: { \"\": {}, \".\": {}, \"@\": {} } }\n"
            .to_string(),
        "name: t\nclouds: {}\ndns: { zone: a.b, cloud: x, records: { \"a.b.\": { routing: failover, targets: { \"\": [] } } } }\n"
            .to_string(),
        "\t\u{0}\u{7f}".to_string(),
        // Control characters in names end up in messages: they must stay one line.
        "name: t\nclouds: {}\ndata:\n  \"a\\nb\": { depends_on: [\"data.a\\nb\"] }\n  c: { values: { \"x\\ny\": 1 } }\noutputs: { o: { value: \"${data.c.z}\" } }\n"
            .to_string(),
    ] {
        check_never_panics(&text);
    }
}

/// About 10,000 resources (~1.1 MB): clusters with pools, a federation, weighted
/// records with health checks and layers of data resources referencing each other.
pub fn generate_big_stack() -> String {
    let mut s = String::from(
        "name: big\nclouds:\n  sim:\n    provider: sim\n    latency: 0\n  aws:\n    provider: sim\n    emulates: aws\nclusters:\n",
    );
    for c in 0..100 {
        let _ = write!(
            s,
            "  c{c}:\n    cloud: sim\n    region: us-east-{}\n    kubernetes_version: \"1.31\"\n    labels: {{team: t{c}}}\n    node_pools:\n",
            c % 3 + 1
        );
        for p in 0..3 {
            let _ = write!(
                s,
                "      p{p}:\n        machine_type: m5.large\n        node_count: 3\n        min_count: 1\n        max_count: 5\n"
            );
        }
    }
    s.push_str("federation:\n  host: c0\n  members: [");
    for c in 0..100 {
        if c > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "c{c}");
    }
    s.push_str("]\ndns:\n  zone: big.example.com\n  cloud: aws\n  health_checks:\n");
    for c in 0..100 {
        let _ = write!(s, "    hc{c}:\n      cluster: c{c}\n      path: /healthz\n");
    }
    s.push_str("  records:\n");
    for r in 0..1000 {
        let (a, b) = (r % 100, (r + 1) % 100);
        let _ = write!(
            s,
            "    r{r}:\n      routing: weighted\n      targets:\n        blue: {{ cluster: c{a}, weight: 100, health_check: hc{a} }}\n        green: {{ cluster: c{b}, weight: 0, health_check: hc{b} }}\n"
        );
    }
    s.push_str("data:\n");
    for d in 0..7400 {
        let _ = write!(
            s,
            "  d{d}:\n    cloud: sim\n    values:\n      n: {d}\n      text: hello\n"
        );
        if d >= 80 {
            let _ = write!(
                s,
                "      up: \"${{data.d{}.n}}-${{data.d{}.text}}\"\n    depends_on: [data.d{}]\n",
                d - 80,
                d - 79,
                d - 40
            );
        }
    }
    s.push_str("outputs:\n  last:\n    value: ${data.d7399.up}\n");
    s
}

#[test]
fn big_stack_loads() {
    let text = generate_big_stack();
    let s = load_ok("big.yaml", &text);
    assert_eq!(s.resources.len(), 10_002);
}

#[test]
fn long_dependency_chain_does_not_overflow() {
    // 20,000 data resources in one chain, then closed into a cycle.
    let mut text = String::from("name: chain\nclouds: {}\ndata:\n");
    for d in 0..20_000 {
        let _ = writeln!(text, "  d{d}: {{ depends_on: [data.d{}] }}", d + 1);
    }
    text.push_str("  d20000: { depends_on: [data.d0] }\n");
    let e = load_stack("chain.yaml", &text, common::CLOUDS).expect_err("a cycle");
    assert_eq!(e.0.len(), 1);
    assert!(
        e.0[0]
            .to_string()
            .starts_with("chain.yaml:4:3: dependency cycle: data.d0 -> data.d1 -> data.d2 ->"),
        "{}",
        e.0[0]
    );
    assert!(
        e.0[0].message.ends_with("-> ... (19992 more) -> data.d0"),
        "{}",
        e.0[0]
    );
}

/// The YAML examples of STACK_FILE.md: the first is a whole stack; the others are one
/// top-level section each and together form another.
#[test]
fn documentation_examples_load() {
    let doc = include_str!("../STACK_FILE.md");
    let mut blocks = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + 8..];
        let Some(end) = body.find("```") else { break };
        blocks.push(&body[..end]);
        rest = &body[end..];
    }
    assert!(blocks.len() >= 7, "{}", blocks.len());
    load_ok("STACK_FILE.md (first example)", blocks[0]);
    // Complete stacks (they start with `name:`) load alone; the rest together.
    for b in &blocks[1..] {
        if b.starts_with("name:") {
            load_ok("STACK_FILE.md (example)", b);
        }
    }
    let sections: String = blocks[1..]
        .iter()
        .filter(|b| !b.starts_with("name:"))
        .copied()
        .collect();
    let s = load_ok(
        "STACK_FILE.md (sections)",
        &format!("name: doc\n{sections}"),
    );
    assert!(s
        .resources
        .iter()
        .any(|r| r.address.to_string() == "dns_record.fedstack.example.com"));
    match &s.state.backend {
        StateBackendConfig::S3(s3) => {
            assert_eq!(s3.bucket, "acme-fedstack-state");
            assert_eq!(s3.key_prefix, "prod/");
        }
        other => panic!("the documented state is in S3, got {other:?}"),
    }
}
