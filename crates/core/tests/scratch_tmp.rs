use fedstack_core::stack::load_stack;
#[test]
fn scratch() {
    for f in ["multicloud.yaml", "multicloud-sim.yaml"] {
        let text = std::fs::read_to_string(format!("../../stacks/{f}")).unwrap();
        match load_stack(f, &text) {
            Ok(s) => {
                println!("{} clouds={:?}", s.name, s.clouds);
                for r in &s.resources {
                    println!("{} cloud={:?} span={}:{} deps={:?}", r.address, r.cloud, r.span.line, r.span.column, r.depends_on.iter().map(|a| a.to_string()).collect::<Vec<_>>());
                    println!("   {}", serde_json::to_string(&r.attrs).unwrap());
                }
                println!("{:?}", s.outputs);
            }
            Err(e) => println!("{e}"),
        }
    }
}
