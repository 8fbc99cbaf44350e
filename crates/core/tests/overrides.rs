//! The planner honours overrides (`fedstack shift`) while the stack still says what it
//! said when they were set, and reports them stale once it does not.

use std::collections::BTreeMap;

use fedstack_core::address::Address;
use fedstack_core::observe::Observations;
use fedstack_core::plan::{make_plan, stale_overrides, Action, PlanOptions};
use fedstack_core::stack::{load_stack, DesiredStack};
use fedstack_core::state::{JournalEntry, Override, ResourceState, StateChange, StateSnapshot};
use fedstack_core::value::{Expr, Values};
use serde_json::{json, Value};

mod common;

fn stack(blue: i64, green: i64) -> DesiredStack {
    let text = format!(
        "
name: t
clouds:
  sim: {{ provider: sim, emulates: aws }}
dns:
  zone: example.com
  cloud: sim
  records:
    app:
      routing: weighted
      targets:
        blue: {{ address: 192.0.2.1, weight: {blue} }}
        green: {{ address: 192.0.2.2, weight: {green} }}
"
    );
    match load_stack("t.yaml", &text, common::CLOUDS) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn addr(s: &str) -> Address {
    s.parse().expect("address")
}

/// The state after applying `desired` with these weights in the cloud.
fn applied(desired: &DesiredStack, weights: [i64; 2]) -> StateSnapshot {
    let mut state = StateSnapshot::new("t", "l".into());
    for (i, r) in desired.resources.iter().enumerate() {
        let mut attrs = Values::new();
        for (k, e) in &r.attrs {
            let v = match e {
                Expr::Literal(v) => v.clone(),
                Expr::List(items) => Value::Array(
                    items
                        .iter()
                        .map(|i| match i {
                            Expr::Literal(v) => v.clone(),
                            _ => Value::Null,
                        })
                        .collect(),
                ),
                _ => Value::String("zone-id".into()),
            };
            attrs.insert(k.clone(), v);
        }
        if r.address.name.ends_with("/blue") {
            attrs.insert("weight".into(), json!(weights[0]));
        }
        if r.address.name.ends_with("/green") {
            attrs.insert("weight".into(), json!(weights[1]));
        }
        let mut outputs = Values::new();
        outputs.insert("id".into(), json!("zone-id"));
        state.apply(&JournalEntry {
            serial: i as u64 + 1,
            change: StateChange::Put(Box::new(ResourceState {
                address: r.address.clone(),
                cloud: r.cloud.clone(),
                cloud_name: r.address.name.clone(),
                attrs,
                outputs,
                sensitive: BTreeMap::new(),
                depends_on: r.depends_on.clone(),
            })),
        });
    }
    state
}

fn set_override(state: &mut StateSnapshot, a: &str, value: i64, base: i64) {
    let serial = state.serial + 1;
    state.apply(&JournalEntry {
        serial,
        change: StateChange::Override {
            address: addr(a),
            attr: "weight".into(),
            value: Some(Override {
                value: json!(value),
                base: json!(base),
                by: "test".into(),
                at: 0,
                group: Some("app.example.com".into()),
            }),
        },
    });
}

fn actions(desired: &DesiredStack, state: &StateSnapshot) -> Vec<(String, Action)> {
    make_plan(
        desired,
        state,
        &Observations::new(),
        &PlanOptions::default(),
    )
    .expect("plans")
    .changes
    .into_iter()
    .map(|c| (c.address.to_string(), c.action))
    .collect()
}

const BLUE: &str = "dns_record.app.example.com/blue";
const GREEN: &str = "dns_record.app.example.com/green";

#[test]
fn a_shifted_record_is_no_drift() {
    let desired = stack(100, 0);
    // Shifted to 30/70 in the cloud; without overrides that is drift.
    let mut state = applied(&desired, [30, 70]);
    assert!(actions(&desired, &state)
        .iter()
        .any(|(a, act)| a == BLUE && *act == Action::Update));
    set_override(&mut state, BLUE, 30, 100);
    set_override(&mut state, GREEN, 70, 0);
    assert!(actions(&desired, &state)
        .iter()
        .all(|(_, act)| *act == Action::NoOp));
    assert!(stale_overrides(&desired, &state).is_empty());
}

#[test]
fn a_changed_stack_wins_over_an_override() {
    let mut state = applied(&stack(100, 0), [30, 70]);
    set_override(&mut state, BLUE, 30, 100);
    set_override(&mut state, GREEN, 70, 0);
    // The stack now says 50/50: both records go there.
    let desired = stack(50, 50);
    let plan = make_plan(
        &desired,
        &state,
        &Observations::new(),
        &PlanOptions::default(),
    )
    .expect("plans");
    for c in &plan.changes {
        if c.address.name.starts_with("app.") {
            assert_eq!(c.action, Action::Update, "{}", c.address);
            assert_eq!(c.attrs.get("weight"), Some(&Expr::lit(50)));
        }
    }
    assert_eq!(
        stale_overrides(&desired, &state),
        vec![
            (addr(BLUE), "weight".to_string()),
            (addr(GREEN), "weight".to_string())
        ]
    );
}

#[test]
fn overrides_of_one_shift_fall_together() {
    let mut state = applied(&stack(100, 0), [0, 100]);
    set_override(&mut state, BLUE, 0, 100);
    set_override(&mut state, GREEN, 100, 0);
    // Only blue's weight changes in the stack; green's override falls with it.
    let desired = stack(50, 0);
    let plan = make_plan(
        &desired,
        &state,
        &Observations::new(),
        &PlanOptions::default(),
    )
    .expect("plans");
    let weight = |a: &str| {
        plan.changes
            .iter()
            .find(|c| c.address == addr(a))
            .and_then(|c| c.attrs.get("weight").cloned())
    };
    assert_eq!(weight(BLUE), Some(Expr::lit(50)));
    assert_eq!(weight(GREEN), Some(Expr::lit(0)));
    assert_eq!(stale_overrides(&desired, &state).len(), 2);
    assert!(fedstack_core::plan::active_overrides(&desired, &state).is_empty());
}

#[test]
fn an_update_of_another_attribute_keeps_the_shifted_weight() {
    let mut state = applied(&stack(100, 0), [0, 100]);
    set_override(&mut state, BLUE, 0, 100);
    set_override(&mut state, GREEN, 100, 0);
    // The TTL changes; the weights stay where the shift put them.
    let desired = {
        let mut d = stack(100, 0);
        for r in &mut d.resources {
            if r.attrs.contains_key("ttl") {
                r.attrs.insert("ttl".into(), Expr::lit(30));
            }
        }
        d
    };
    let plan = make_plan(
        &desired,
        &state,
        &Observations::new(),
        &PlanOptions::default(),
    )
    .expect("plans");
    let blue = plan
        .changes
        .iter()
        .find(|c| c.address == addr(BLUE))
        .expect("blue");
    assert_eq!(blue.action, Action::Update);
    assert_eq!(blue.attrs.get("weight"), Some(&Expr::lit(0)));
    assert!(
        blue.diffs.iter().all(|d| d.name != "weight"),
        "{:?}",
        blue.diffs
    );
}
