//! The planner (`make_plan`): small stacks, hand-made states and observations, exact
//! actions, orders, reasons and diffs.

use std::collections::BTreeMap;

use fedstack_core::address::Address;
use fedstack_core::observe::{Condition, Observation, Observations, ObservedResource};
use fedstack_core::plan::{
    make_plan, Action, AttrDiff, Plan, PlanError, PlanMode, PlanOptions, StateVersion, Summary,
};
use fedstack_core::stack::{load_stack, DesiredStack};
use fedstack_core::state::{Intent, IntentOperation, ResourceState, StateSnapshot};
use fedstack_core::value::Values;
use serde_json::{json, Value};

mod common;

// ----- helpers ----------------------------------------------------------------------

fn stack(yaml: &str) -> DesiredStack {
    match load_stack("t.yaml", yaml, common::CLOUDS) {
        Ok(s) => s,
        Err(e) => panic!("the test stack should load:\n{e}"),
    }
}

/// A stack on one cloud `fake` with these `data` resources (YAML flow mappings).
fn data(resources: &[(&str, &str)]) -> DesiredStack {
    let mut yaml = String::from("name: t\nclouds:\n  fake: { provider: sim }\n");
    if !resources.is_empty() {
        yaml.push_str("data:\n");
    }
    for (name, body) in resources {
        yaml.push_str(&format!("  {name}: {{ cloud: fake, {body} }}\n"));
    }
    yaml.push_str("outputs:\n  greeting: { value: hello }\n");
    stack(&yaml)
}

fn addr(s: &str) -> Address {
    s.parse().expect("valid address")
}

fn values(v: Value) -> Values {
    match v {
        Value::Object(m) => m.into_iter().collect(),
        other => panic!("not an object: {other}"),
    }
}

/// A recorded `data` resource on cloud `fake` with the output `id` = `NAME-id`.
fn rec(address: &str, attrs: Value, deps: &[&str]) -> ResourceState {
    let a = addr(address);
    ResourceState {
        cloud: Some("fake".into()),
        cloud_name: a.name.clone(),
        attrs: values(attrs),
        outputs: values(json!({"id": format!("{}-id", a.name)})),
        sensitive: BTreeMap::new(),
        depends_on: deps.iter().map(|d| addr(d)).collect(),
        address: a,
    }
}

fn state(resources: Vec<ResourceState>) -> StateSnapshot {
    let mut s = StateSnapshot::new("t", "lineage-1".into());
    s.serial = 7;
    for r in resources {
        s.resources.insert(r.address.clone(), r);
    }
    s
}

fn create_intent(address: &str, attrs: Value) -> Intent {
    let a = addr(address);
    Intent {
        cloud: Some("fake".into()),
        cloud_name: a.name.clone(),
        operation: IntentOperation::Create,
        attrs: values(attrs),
        depends_on: vec![],
        started_at: 1,
        address: a,
    }
}

fn present(address: &str, attrs: Value, condition: Condition) -> (Address, Observation) {
    let a = addr(address);
    let outputs = values(json!({"id": format!("{}-id", a.name)}));
    (
        a,
        Observation::Present(ObservedResource {
            attrs: values(attrs),
            outputs,
            sensitive: BTreeMap::new(),
            condition,
        }),
    )
}

fn absent(address: &str) -> (Address, Observation) {
    (addr(address), Observation::Absent)
}

fn observed(list: Vec<(Address, Observation)>) -> Observations {
    list.into_iter().collect()
}

fn plan(desired: &DesiredStack, state: &StateSnapshot, obs: &Observations) -> Plan {
    plan_opts(desired, state, obs, &PlanOptions::default())
}

fn plan_opts(
    desired: &DesiredStack,
    state: &StateSnapshot,
    obs: &Observations,
    opts: &PlanOptions,
) -> Plan {
    match make_plan(desired, state, obs, opts) {
        Ok(p) => p,
        Err(e) => panic!("plans: {e}"),
    }
}

/// (address, action) in plan order.
fn actions(p: &Plan) -> Vec<(String, Action)> {
    p.changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

fn act(list: &[(&str, Action)]) -> Vec<(String, Action)> {
    list.iter().map(|(a, x)| (a.to_string(), *x)).collect()
}

fn change<'p>(p: &'p Plan, address: &str) -> &'p fedstack_core::plan::Change {
    p.changes
        .iter()
        .find(|c| c.address.to_string() == address)
        .unwrap_or_else(|| panic!("{address} not in the plan: {:?}", actions(p)))
}

fn reasons(p: &Plan, address: &str) -> Vec<String> {
    change(p, address).reasons.clone()
}

fn diff(name: &str, before: Option<Value>, after: Option<Value>) -> AttrDiff {
    AttrDiff {
        name: name.into(),
        before,
        after,
        after_unknown: false,
        forces_replacement: false,
    }
}

fn unknown(name: &str, before: Option<Value>) -> AttrDiff {
    AttrDiff {
        after_unknown: true,
        ..diff(name, before, None)
    }
}

fn forcing(name: &str, before: Value, after: Value) -> AttrDiff {
    AttrDiff {
        forces_replacement: true,
        ..diff(name, Some(before), Some(after))
    }
}

fn opts_target(targets: &[&str]) -> PlanOptions {
    PlanOptions {
        targets: targets.iter().map(|s| s.to_string()).collect(),
        ..PlanOptions::default()
    }
}

fn opts_exclude(excludes: &[&str]) -> PlanOptions {
    PlanOptions {
        excludes: excludes.iter().map(|s| s.to_string()).collect(),
        ..PlanOptions::default()
    }
}

fn destroy(opts: PlanOptions) -> PlanOptions {
    PlanOptions {
        destroy: true,
        ..opts
    }
}

fn none() -> Observations {
    Observations::new()
}

// ----- creating, no-ops, updates ----------------------------------------------------

#[test]
fn everything_is_created_from_an_empty_state() {
    let desired = data(&[
        ("a", "values: { x: hello }"),
        ("b", r#"values: { r: "${data.a.id}", w: "${data.a.x}!" }"#),
    ]);
    let p = plan(&desired, &StateSnapshot::new("t", "l".into()), &none());
    assert_eq!(p.format_version, 1);
    assert_eq!(p.stack, "t");
    assert_eq!(p.mode, PlanMode::Apply);
    assert_eq!(
        p.state,
        StateVersion {
            lineage: "l".into(),
            serial: 0
        }
    );
    assert_eq!(
        actions(&p),
        act(&[("data.a", Action::Create), ("data.b", Action::Create)])
    );
    let a = change(&p, "data.a");
    assert_eq!(a.cloud.as_deref(), Some("fake"));
    assert_eq!(a.cloud_name, "a");
    assert_eq!(a.before, None);
    assert!(a.reasons.is_empty());
    assert_eq!(a.diffs, vec![diff("x", None, Some(json!("hello")))]);
    let b = change(&p, "data.b");
    assert_eq!(b.depends_on, vec![addr("data.a")]);
    // a's id is known only once a exists; its value x is known now.
    assert_eq!(
        b.diffs,
        vec![unknown("r", None), diff("w", None, Some(json!("hello!")))]
    );
    assert_eq!(
        p.summary,
        Summary {
            add: 2,
            ..Summary::default()
        }
    );
    assert!(p.has_changes());
    assert_eq!(
        p.outputs["greeting"].value,
        fedstack_core::value::Expr::lit("hello")
    );
}

const ABC: [(&str, &str); 3] = [
    ("a", "values: { x: hello }"),
    ("b", r#"values: { w: "${data.a.x}" }"#),
    ("c", r#"values: { r: "${data.a.id}" }"#),
];

fn abc_state() -> StateSnapshot {
    state(vec![
        rec("data.a", json!({"x": "hello"}), &[]),
        rec("data.b", json!({"w": "hello"}), &["data.a"]),
        rec("data.c", json!({"r": "a-id"}), &["data.a"]),
    ])
}

#[test]
fn nothing_to_do_when_the_state_matches() {
    let s = abc_state();
    let obs = observed(vec![
        present("data.a", json!({"x": "hello"}), Condition::Ready),
        present("data.b", json!({"w": "hello"}), Condition::Ready),
        present("data.c", json!({"r": "a-id"}), Condition::Ready),
    ]);
    for obs in [none(), obs] {
        let p = plan(&data(&ABC), &s, &obs);
        assert_eq!(
            actions(&p),
            act(&[
                ("data.a", Action::NoOp),
                ("data.b", Action::NoOp),
                ("data.c", Action::NoOp),
            ])
        );
        assert!(p.changes.iter().all(|c| c.diffs.is_empty()));
        assert_eq!(p.summary, Summary::default());
        assert!(!p.has_changes());
        assert_eq!(
            p.state,
            StateVersion {
                lineage: "lineage-1".into(),
                serial: 7
            }
        );
    }
}

#[test]
fn an_attribute_change_is_an_update_and_flows_to_what_refers_to_it() {
    let desired = data(&[
        ("a", "values: { x: bye }"),
        ("b", r#"values: { w: "${data.a.x}" }"#),
        ("c", r#"values: { r: "${data.a.id}" }"#),
    ]);
    let p = plan(&desired, &abc_state(), &none());
    // c refers to a's id, which an update keeps.
    assert_eq!(
        actions(&p),
        act(&[
            ("data.a", Action::Update),
            ("data.b", Action::Update),
            ("data.c", Action::NoOp),
        ])
    );
    let a = change(&p, "data.a");
    assert_eq!(
        a.diffs,
        vec![diff("x", Some(json!("hello")), Some(json!("bye")))]
    );
    assert!(a.reasons.is_empty());
    assert_eq!(a.before, Some(values(json!({"x": "hello"}))));
    assert_eq!(
        change(&p, "data.b").diffs,
        vec![diff("w", Some(json!("hello")), Some(json!("bye")))]
    );
    assert_eq!(
        p.summary,
        Summary {
            change: 2,
            ..Summary::default()
        }
    );
}

// ----- replacement ------------------------------------------------------------------

#[test]
fn a_replace_forcing_change_replaces_and_so_does_what_refers_to_it() {
    let s = state(vec![
        rec("data.a", json!({"replace_triggers": 1, "x": "hello"}), &[]),
        rec("data.b", json!({"r": "a-id"}), &["data.a"]),
        rec("data.c", json!({}), &["data.a"]),
        rec("data.d", json!({"w": "hello"}), &["data.a"]),
        rec("data.e", json!({"r": "b-id"}), &["data.b"]),
    ]);
    let desired = data(&[
        ("a", "values: { replace_triggers: 2, x: hello }"),
        ("b", r#"values: { r: "${data.a.id}" }"#),
        ("c", "depends_on: [data.a]"),
        ("d", r#"values: { w: "${data.a.x}" }"#),
        ("e", r#"values: { r: "${data.b.id}" }"#),
    ]);
    let p = plan(&desired, &s, &none());
    assert_eq!(
        actions(&p),
        act(&[
            ("data.a", Action::Replace),
            ("data.b", Action::Replace),
            ("data.c", Action::NoOp),
            ("data.d", Action::Replace),
            ("data.e", Action::Replace),
        ])
    );
    assert_eq!(
        change(&p, "data.a").diffs,
        vec![forcing("replace_triggers", json!(1), json!(2))]
    );
    assert_eq!(
        reasons(&p, "data.a"),
        vec!["replace_triggers cannot change in place"]
    );
    assert_eq!(
        change(&p, "data.b").diffs,
        vec![unknown("r", Some(json!("a-id")))]
    );
    assert_eq!(
        reasons(&p, "data.b"),
        vec!["refers to data.a, which is replaced"]
    );
    // Only ordered after a: stays.
    assert!(change(&p, "data.c").reasons.is_empty());
    // Refers to a value that stays the same, but still to a replaced resource.
    assert!(change(&p, "data.d").diffs.is_empty());
    assert_eq!(
        reasons(&p, "data.d"),
        vec!["refers to data.a, which is replaced"]
    );
    assert_eq!(
        reasons(&p, "data.e"),
        vec!["refers to data.b, which is replaced"]
    );
    assert_eq!(
        p.summary,
        Summary {
            replace: 4,
            ..Summary::default()
        }
    );
}

#[test]
fn replace_flag_forces_a_replacement() {
    let opts = PlanOptions {
        replace: vec!["data.a".into()],
        ..PlanOptions::default()
    };
    let p = plan_opts(&data(&ABC), &abc_state(), &none(), &opts);
    // b refers to a value a keeps; c to a's id, unknown until a is created again.
    assert_eq!(
        actions(&p),
        act(&[
            ("data.a", Action::Replace),
            ("data.b", Action::Replace),
            ("data.c", Action::Replace),
        ])
    );
    assert!(change(&p, "data.a").diffs.is_empty());
    assert_eq!(
        reasons(&p, "data.a"),
        vec!["replacement requested with --replace"]
    );
    assert_eq!(
        change(&p, "data.c").diffs,
        vec![unknown("r", Some(json!("a-id")))]
    );
}

#[test]
fn replace_flag_that_matches_nothing_is_an_error() {
    let opts = PlanOptions {
        replace: vec!["data.typo".into()],
        ..PlanOptions::default()
    };
    let err = make_plan(&data(&ABC), &abc_state(), &none(), &opts).expect_err("a typo");
    assert_eq!(
        err.to_string(),
        "--replace data.typo matches no resource in the stack or the state (hint: `fedstack state list` shows recorded addresses)"
    );
}

#[test]
fn moving_to_another_cloud_replaces() {
    let desired = stack(
        "
name: t
clouds:
  fake: { provider: sim }
  other: { provider: sim }
data:
  a: { cloud: other, values: { x: hello } }
",
    );
    let s = state(vec![rec("data.a", json!({"x": "hello"}), &[])]);
    let p = plan(&desired, &s, &none());
    assert_eq!(actions(&p), act(&[("data.a", Action::Replace)]));
    assert_eq!(
        reasons(&p, "data.a"),
        vec!["moves from cloud fake to other"]
    );
    assert_eq!(change(&p, "data.a").cloud.as_deref(), Some("other"));
}

// ----- what the refresh found -------------------------------------------------------

#[test]
fn drift_is_an_update_back_to_the_stack() {
    let s = abc_state();
    let obs = observed(vec![present(
        "data.a",
        json!({"x": "edited"}),
        Condition::Ready,
    )]);
    let p = plan(&data(&ABC), &s, &obs);
    assert_eq!(
        actions(&p),
        act(&[
            ("data.a", Action::Update),
            ("data.b", Action::NoOp),
            ("data.c", Action::NoOp),
        ])
    );
    let a = change(&p, "data.a");
    assert_eq!(a.reasons, vec!["changed outside fedstack"]);
    assert_eq!(
        a.diffs,
        vec![diff("x", Some(json!("edited")), Some(json!("hello")))]
    );
    assert_eq!(a.before, Some(values(json!({"x": "edited"}))));
}

#[test]
fn refresh_false_trusts_the_state() {
    // The same drift, not read: the state stands.
    let p = plan(&data(&ABC), &abc_state(), &none());
    assert_eq!(p.changes[0].action, Action::NoOp);
    assert_eq!(p.summary, Summary::default());
    // A pending create that was not read back is created (again).
    let mut s = StateSnapshot::new("t", "l".into());
    s.intents.insert(
        addr("data.a"),
        create_intent("data.a", json!({"x": "hello"})),
    );
    let p = plan(&data(&ABC[..1]), &s, &none());
    assert_eq!(actions(&p), act(&[("data.a", Action::Create)]));
}

#[test]
fn deleted_outside_is_created_again() {
    let obs = observed(vec![absent("data.a")]);
    let p = plan(&data(&ABC), &abc_state(), &obs);
    // What refers to a's id learns the new one.
    assert_eq!(
        actions(&p),
        act(&[
            ("data.a", Action::Create),
            ("data.b", Action::NoOp),
            ("data.c", Action::Update),
        ])
    );
    let a = change(&p, "data.a");
    assert_eq!(a.reasons, vec!["was deleted outside fedstack"]);
    assert_eq!(a.before, None);
    assert_eq!(a.diffs, vec![diff("x", None, Some(json!("hello")))]);
    assert_eq!(
        change(&p, "data.c").diffs,
        vec![unknown("r", Some(json!("a-id")))]
    );
}

#[test]
fn a_value_unknown_until_apply_stays_unknown_down_the_chain() {
    // a was deleted outside: b's copy of its id changes, and so does c's copy of b's.
    let desired = data(&[
        ("a", "values: { x: hello }"),
        ("b", r#"values: { r: "${data.a.id}" }"#),
        ("c", r#"values: { w: "${data.b.r}" }"#),
    ]);
    let s = state(vec![
        rec("data.a", json!({"x": "hello"}), &[]),
        rec("data.b", json!({"r": "a-id"}), &["data.a"]),
        rec("data.c", json!({"w": "a-id"}), &["data.b"]),
    ]);
    let p = plan(&desired, &s, &observed(vec![absent("data.a")]));
    assert_eq!(
        actions(&p),
        act(&[
            ("data.a", Action::Create),
            ("data.b", Action::Update),
            ("data.c", Action::Update),
        ])
    );
    assert_eq!(
        change(&p, "data.c").diffs,
        vec![unknown("w", Some(json!("a-id")))]
    );
}

#[test]
fn an_interrupted_create_found_ready_is_adopted_and_one_not_found_is_created() {
    let desired = data(&[("a", "values: { x: hello }"), ("b", "values: { x: 2 }")]);
    let mut s = StateSnapshot::new("t", "l".into());
    s.intents.insert(
        addr("data.a"),
        create_intent("data.a", json!({"x": "hello"})),
    );
    s.intents
        .insert(addr("data.b"), create_intent("data.b", json!({"x": 2})));
    let obs = observed(vec![
        present("data.a", json!({"x": "hello"}), Condition::Ready),
        absent("data.b"),
    ]);
    let p = plan(&desired, &s, &obs);
    let mut got = actions(&p);
    got.sort();
    assert_eq!(
        got,
        act(&[("data.a", Action::Adopt), ("data.b", Action::Create)])
    );
    let a = change(&p, "data.a");
    assert_eq!(
        a.reasons,
        vec!["found in the cloud from an interrupted run"]
    );
    assert_eq!(a.before, Some(values(json!({"x": "hello"}))));
    assert!(a.diffs.is_empty());
    let b = change(&p, "data.b");
    assert!(b.reasons.is_empty());
    assert_eq!(b.before, None);
    assert_eq!(
        p.summary,
        Summary {
            add: 1,
            adopt: 1,
            ..Summary::default()
        }
    );
}

#[test]
fn pending_is_adopted_failed_and_deleting_are_replaced() {
    let desired = data(&[
        ("a", "values: { x: 1 }"),
        ("b", "values: { x: 1 }"),
        ("c", "values: { x: 1 }"),
        ("d", "values: { x: 1 }"),
    ]);
    let mut s = state(vec![
        rec("data.a", json!({"x": 1}), &[]),
        rec("data.b", json!({"x": 1}), &[]),
        rec("data.c", json!({"x": 1}), &[]),
    ]);
    s.intents
        .insert(addr("data.d"), create_intent("data.d", json!({"x": 1})));
    let obs = observed(vec![
        present(
            "data.a",
            json!({"x": 1}),
            Condition::Pending("PROVISIONING".into()),
        ),
        present("data.b", json!({"x": 1}), Condition::Failed("quota".into())),
        present("data.c", json!({"x": 1}), Condition::Deleting),
        present(
            "data.d",
            json!({"x": 1}),
            Condition::Pending("CREATING".into()),
        ),
    ]);
    let p = plan(&desired, &s, &obs);
    let mut got = actions(&p);
    got.sort();
    assert_eq!(
        got,
        act(&[
            ("data.a", Action::Adopt),
            ("data.b", Action::Replace),
            ("data.c", Action::Replace),
            ("data.d", Action::Adopt),
        ])
    );
    assert_eq!(
        reasons(&p, "data.a"),
        vec!["still PROVISIONING from an interrupted run"]
    );
    assert_eq!(reasons(&p, "data.b"), vec!["is in a failed state (quota)"]);
    assert_eq!(
        reasons(&p, "data.c"),
        vec!["is being deleted; will be created again"]
    );
    assert_eq!(
        reasons(&p, "data.d"),
        vec!["found in the cloud (CREATING) from an interrupted run"]
    );
}

// ----- resources leaving the stack, destroy -----------------------------------------

fn chain_state() -> StateSnapshot {
    state(vec![
        rec("data.a", json!({}), &[]),
        rec("data.b", json!({}), &["data.a"]),
        rec("data.c", json!({}), &["data.b"]),
        rec("data.x", json!({}), &[]),
    ])
}

#[test]
fn what_left_the_stack_is_deleted_dependents_first() {
    let desired = data(&[("x", "values: {}")]);
    let p = plan(&desired, &chain_state(), &none());
    assert_eq!(
        actions(&p),
        act(&[
            ("data.x", Action::NoOp),
            ("data.c", Action::Delete),
            ("data.b", Action::Delete),
            ("data.a", Action::Delete),
        ])
    );
    let b = change(&p, "data.b");
    assert_eq!(b.reasons, vec!["no longer in the stack"]);
    assert_eq!(b.depends_on, vec![addr("data.a")]);
    assert_eq!(b.cloud.as_deref(), Some("fake"));
    assert!(b.attrs.is_empty());
    assert_eq!(b.before, Some(Values::new()));
    assert_eq!(
        p.summary,
        Summary {
            destroy: 3,
            ..Summary::default()
        }
    );
}

#[test]
fn what_left_the_stack_and_the_cloud_is_forgotten() {
    let desired = data(&[("x", "values: {}")]);
    let mut s = chain_state();
    s.intents
        .insert(addr("data.gone"), create_intent("data.gone", json!({})));
    let obs = observed(vec![absent("data.b"), absent("data.gone")]);
    let p = plan(&desired, &s, &obs);
    assert_eq!(
        actions(&p),
        act(&[
            ("data.x", Action::NoOp),
            ("data.gone", Action::Forget),
            ("data.c", Action::Delete),
            ("data.b", Action::Forget),
            ("data.a", Action::Delete),
        ])
    );
    assert_eq!(reasons(&p, "data.b"), vec!["already gone from the cloud"]);
    assert_eq!(change(&p, "data.b").before, None);
    assert_eq!(
        reasons(&p, "data.gone"),
        vec!["an interrupted create that never happened"]
    );
    assert_eq!(
        p.summary,
        Summary {
            destroy: 2,
            forget: 2,
            ..Summary::default()
        }
    );
}

#[test]
fn destroy_deletes_everything_dependents_first() {
    let desired = data(&[
        ("a", "values: {}"),
        ("b", "depends_on: [data.a]"),
        ("c", "depends_on: [data.b]"),
        ("x", "values: {}"),
    ]);
    let p = plan_opts(
        &desired,
        &chain_state(),
        &none(),
        &destroy(PlanOptions::default()),
    );
    assert_eq!(p.mode, PlanMode::Destroy);
    assert!(p.outputs.is_empty());
    assert_eq!(
        actions(&p),
        act(&[
            ("data.x", Action::Delete),
            ("data.c", Action::Delete),
            ("data.b", Action::Delete),
            ("data.a", Action::Delete),
        ])
    );
    assert!(change(&p, "data.c").reasons.is_empty());
    assert_eq!(
        p.summary,
        Summary {
            destroy: 4,
            ..Summary::default()
        }
    );
}

// ----- selection --------------------------------------------------------------------

fn chain_stack() -> DesiredStack {
    data(&[
        ("a", "values: {}"),
        ("b", "depends_on: [data.a]"),
        ("c", "depends_on: [data.b]"),
        ("x", "values: {}"),
    ])
}

fn empty() -> StateSnapshot {
    StateSnapshot::new("t", "l".into())
}

#[test]
fn target_brings_what_it_depends_on() {
    let p = plan_opts(&chain_stack(), &empty(), &none(), &opts_target(&["data.b"]));
    assert_eq!(
        actions(&p),
        act(&[("data.a", Action::Create), ("data.b", Action::Create)])
    );
    assert_eq!(
        p.summary,
        Summary {
            add: 2,
            ..Summary::default()
        }
    );
}

#[test]
fn exclude_drops_what_depends_on_it() {
    let p = plan_opts(
        &chain_stack(),
        &empty(),
        &none(),
        &opts_exclude(&["data.b"]),
    );
    let mut got = actions(&p);
    got.sort();
    assert_eq!(
        got,
        act(&[("data.a", Action::Create), ("data.x", Action::Create)])
    );
}

#[test]
fn destroy_target_brings_what_depends_on_it() {
    let p = plan_opts(
        &chain_stack(),
        &chain_state(),
        &none(),
        &destroy(opts_target(&["data.b"])),
    );
    assert_eq!(
        actions(&p),
        act(&[("data.c", Action::Delete), ("data.b", Action::Delete)])
    );
}

#[test]
fn destroy_exclude_keeps_what_it_depends_on() {
    let p = plan_opts(
        &chain_stack(),
        &chain_state(),
        &none(),
        &destroy(opts_exclude(&["data.b"])),
    );
    assert_eq!(
        actions(&p),
        act(&[("data.x", Action::Delete), ("data.c", Action::Delete)])
    );
}

#[test]
fn selecting_what_left_the_stack_follows_the_delete_order() {
    // a <- b <- c left the stack; x stays.
    let desired = data(&[("x", "values: {}")]);
    // A target brings what depends on it (deleted first), not what it depends on.
    let p = plan_opts(&desired, &chain_state(), &none(), &opts_target(&["data.b"]));
    assert_eq!(
        actions(&p),
        act(&[("data.c", Action::Delete), ("data.b", Action::Delete)])
    );
    // An exclusion keeps what it depends on too, not what depends on it.
    let p = plan_opts(
        &desired,
        &chain_state(),
        &none(),
        &opts_exclude(&["data.b"]),
    );
    assert_eq!(
        actions(&p),
        act(&[("data.x", Action::NoOp), ("data.c", Action::Delete)])
    );
    // Resources that stay are selected as before, in the same plan.
    let p = plan_opts(
        &desired,
        &chain_state(),
        &none(),
        &opts_target(&["data.x", "data.c"]),
    );
    assert_eq!(
        actions(&p),
        act(&[("data.x", Action::NoOp), ("data.c", Action::Delete)])
    );
}

#[test]
fn wildcards_select_too() {
    let p = plan_opts(
        &chain_stack(),
        &empty(),
        &none(),
        &opts_target(&["data.c*"]),
    );
    assert_eq!(
        actions(&p),
        act(&[
            ("data.a", Action::Create),
            ("data.b", Action::Create),
            ("data.c", Action::Create),
        ])
    );
    let p = plan_opts(
        &chain_stack(),
        &empty(),
        &none(),
        &opts_exclude(&["data.*"]),
    );
    assert!(p.changes.is_empty());
    assert!(!p.has_changes());
}

#[test]
fn a_pattern_that_matches_nothing_is_an_error() {
    for (opts, flag) in [
        (opts_target(&["data.nope"]), "target"),
        (opts_exclude(&["data.nope"]), "exclude"),
        (destroy(opts_target(&["data.nope"])), "target"),
    ] {
        let e = make_plan(&chain_stack(), &chain_state(), &none(), &opts).expect_err("no match");
        assert_eq!(
            e,
            PlanError::NoMatch {
                flag,
                pattern: "data.nope".into()
            }
        );
        assert_eq!(
            e.to_string(),
            format!("--{flag} data.nope matches no resource in the stack or the state (hint: `fedstack state list` shows recorded addresses)")
        );
    }
    // A good pattern does not excuse an address that matches nothing...
    let e = make_plan(
        &chain_stack(),
        &empty(),
        &none(),
        &opts_target(&["data.a", "data.nope"]),
    )
    .expect_err("no match");
    assert_eq!(
        e,
        PlanError::NoMatch {
            flag: "target",
            pattern: "data.nope".into()
        }
    );
    // ...but does excuse a wildcard (a kind this stack happens not to have)...
    let p = plan_opts(
        &chain_stack(),
        &empty(),
        &none(),
        &opts_target(&["data.a", "cluster.*"]),
    );
    assert_eq!(actions(&p), act(&[("data.a", Action::Create)]));
    // ...which alone is an error.
    let e = make_plan(
        &chain_stack(),
        &empty(),
        &none(),
        &opts_exclude(&["cluster.*"]),
    )
    .expect_err("no match");
    assert_eq!(
        e,
        PlanError::NoMatch {
            flag: "exclude",
            pattern: "cluster.*".into()
        }
    );
}

#[test]
fn a_dependency_cycle_is_an_error() {
    let mut desired = data(&[("a", "values: {}"), ("b", "depends_on: [data.a]")]);
    desired.resources[0].depends_on = vec![addr("data.b")];
    assert_eq!(
        make_plan(&desired, &empty(), &none(), &PlanOptions::default()),
        Err(PlanError::Cycle("t".into()))
    );
}

// ----- the plan as a value ----------------------------------------------------------

#[test]
fn summary_counts_every_kind_of_change() {
    let desired = data(&[
        ("keep", "values: { x: 1 }"),
        ("new", "values: { x: 1 }"),
        ("upd", "values: { x: 2 }"),
        ("rep", "values: { replace_triggers: 2 }"),
        ("adopt", "values: { x: 1 }"),
    ]);
    let mut s = state(vec![
        rec("data.keep", json!({"x": 1}), &[]),
        rec("data.upd", json!({"x": 1}), &[]),
        rec("data.rep", json!({"replace_triggers": 1}), &[]),
        rec("data.old", json!({}), &[]),
        rec("data.lost", json!({}), &[]),
    ]);
    s.intents.insert(
        addr("data.adopt"),
        create_intent("data.adopt", json!({"x": 1})),
    );
    let obs = observed(vec![
        present("data.adopt", json!({"x": 1}), Condition::Ready),
        absent("data.lost"),
    ]);
    let p = plan(&desired, &s, &obs);
    assert_eq!(
        p.summary,
        Summary {
            add: 1,
            change: 1,
            replace: 1,
            destroy: 1,
            adopt: 1,
            forget: 1,
        }
    );
    assert_eq!(p.changes.len(), 7, "no-ops are listed too");
}

#[test]
fn a_plan_survives_json() {
    let desired = data(&[
        ("a", "values: { x: bye, replace_triggers: 1 }"),
        ("b", r#"values: { r: "${data.a.id}", l: [1, 2] }"#),
        ("n", r#"values: { w: "${data.b.r}" }"#),
    ]);
    let mut s = abc_state();
    s.resources.remove(&addr("data.b"));
    let p = plan(&desired, &s, &none());
    let text = serde_json::to_string(&p).expect("serializes");
    assert!(
        text.starts_with(r#"{"format_version":1,"stack":"t","mode":"apply""#),
        "{text}"
    );
    assert!(text.contains(r#""action":"update""#), "{text}");
    let back: Plan = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, p);
    let pretty = serde_json::to_string_pretty(&p).expect("serializes");
    assert_eq!(serde_json::from_str::<Plan>(&pretty).expect("parses"), p);
}
