use fedstack_core::stack::load_stack;
use std::fmt::Write;

fn gen() -> String {
    let mut s = String::from("name: big\nclouds:\n  sim:\n    provider: sim\n    latency: 0\n  aws:\n    provider: sim\n    emulates: aws\nclusters:\n");
    for c in 0..100 {
        write!(s, "  c{c}:\n    cloud: sim\n    region: us-east-{}\n    kubernetes_version: \"1.31\"\n    labels: {{team: t{c}}}\n    node_pools:\n", c % 3 + 1).unwrap();
        for p in 0..3 {
            write!(s, "      p{p}:\n        machine_type: m5.large\n        node_count: 3\n        min_count: 1\n        max_count: 5\n").unwrap();
        }
    }
    s.push_str("federation:\n  host: c0\n  members: [");
    for c in 0..100 { if c > 0 { s.push_str(", "); } write!(s, "c{c}").unwrap(); }
    s.push_str("]\ndns:\n  zone: big.example.com\n  cloud: aws\n  health_checks:\n");
    for c in 0..100 {
        write!(s, "    hc{c}:\n      cluster: c{c}\n      path: /healthz\n").unwrap();
    }
    s.push_str("  records:\n");
    for r in 0..1000 {
        let a = r % 100; let b = (r + 1) % 100;
        write!(s, "    r{r}:\n      routing: weighted\n      targets:\n        blue: {{ cluster: c{a}, weight: 100, health_check: hc{a} }}\n        green: {{ cluster: c{b}, weight: 0, health_check: hc{b} }}\n").unwrap();
    }
    s.push_str("data:\n");
    for d in 0..6400 {
        write!(s, "  d{d}:\n    cloud: sim\n    values:\n      n: {d}\n      text: hello\n").unwrap();
        if d >= 80 {
            write!(s, "      up: \"${{data.d{}.n}}-${{data.d{}.text}}\"\n    depends_on: [data.d{}]\n", d - 80, d - 79, d - 40).unwrap();
        }
    }
    s.push_str("outputs:\n  last:\n    value: ${data.d6399.up}\n");
    s
}

#[test]
#[ignore]
fn perf() {
    let text = gen();
    let t = std::time::Instant::now();
    let s = load_stack("big.yaml", &text).map_err(|e| e.to_string()).unwrap();
    let el = t.elapsed();
    println!("{} bytes, {} resources, {:?}", text.len(), s.resources.len(), el);
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let s = load_stack("big.yaml", &text).map_err(|e| e.to_string()).unwrap();
        println!("again: {:?}", t.elapsed());
        let t = std::time::Instant::now();
        drop(s);
        println!("drop: {:?}", t.elapsed());
    }
    let t = std::time::Instant::now();
    let p = yaml_only(&text);
    println!("yaml events only: {:?} ({p})", t.elapsed());
}

fn yaml_only(text: &str) -> usize {
    let mut p = yaml_rust2::parser::Parser::new_from_str(text);
    let mut n = 0;
    loop { match p.next_token() { Ok((yaml_rust2::parser::Event::StreamEnd, _)) => break, Ok(_) => n += 1, Err(_) => break } }
    n
}
