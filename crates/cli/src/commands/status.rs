//! `status [WORKLOAD] [--json] [--watch]`: one row per workload and cluster, read live
//! from the clusters (the provider's read): desired and ready replicas, the rollout,
//! and the error that kept it from being read. Takes no lock and writes nothing.

use std::io::IsTerminal;
use std::time::Duration;

use fedstack_core::address::{Address, ResourceKind};
use fedstack_core::stack::DesiredStack;
use fedstack_core::state::StateSnapshot;
use fedstack_engine::Providers;
use fedstack_provider::ResourceSpec;
use serde_json::{json, Value};

use crate::args::StatusArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::terminal::{out, outln};

/// How often `--watch` reads again.
const WATCH_EVERY: Duration = Duration::from_secs(2);

struct Row {
    workload: String,
    cluster: String,
    desired: Option<i64>,
    ready: Option<i64>,
    rollout: String,
    error: Option<String>,
}

impl Row {
    fn healthy(&self) -> bool {
        self.error.is_none() && self.rollout == "complete"
    }

    fn json(&self) -> Value {
        json!({
            "workload": self.workload,
            "cluster": self.cluster,
            "desired": self.desired,
            "ready": self.ready,
            "rollout": self.rollout,
            "error": self.error,
        })
    }
}

pub fn run(ctx: &Context, a: StatusArgs) -> Result<u8, CliError> {
    let rt = super::runtime()?;
    let stack = ctx.stack()?;
    let declared: Vec<&str> = stack
        .resources
        .iter()
        .filter(|r| r.address.kind == ResourceKind::Workload)
        .filter_map(|r| r.address.name.split_once('.').map(|(_, w)| w))
        .collect();
    if let Some(w) = &a.workload {
        if !declared.contains(&w.as_str()) {
            let mut names = declared.clone();
            names.sort_unstable();
            names.dedup();
            let hint = if names.is_empty() {
                "the stack declares no workloads".to_string()
            } else {
                format!("the stack's workloads: {}", names.join(", "))
            };
            return Err(CliError::new(format!("no workload `{w}` in the stack")).hint(hint));
        }
    }
    let redraw = a.watch && !ctx.json && std::io::stdout().is_terminal();
    loop {
        let state = ctx.read_state(&stack)?;
        let providers = ctx.providers(&stack, &state, true)?;
        let rows = rt.block_on(read_rows(&stack, &state, &providers, a.workload.as_deref()));
        if ctx.json {
            let v: Vec<Value> = rows.iter().map(Row::json).collect();
            outln!("{}", Value::Array(v))?;
        } else {
            if redraw {
                // Home and clear: the table replaces the last one.
                out!("\x1b[H\x1b[2J")?;
            }
            out!("{}", table(&rows))?;
        }
        if !a.watch {
            return Ok(if rows.iter().all(Row::healthy) { 0 } else { 1 });
        }
        std::thread::sleep(WATCH_EVERY);
    }
}

/// Every workload resource the stack declares or the state records, read live.
async fn read_rows(
    stack: &DesiredStack,
    state: &StateSnapshot,
    providers: &Providers,
    only: Option<&str>,
) -> Vec<Row> {
    let mut addresses: Vec<Address> = stack
        .resources
        .iter()
        .map(|r| r.address.clone())
        .chain(state.resources.keys().cloned())
        .chain(state.intents.keys().cloned())
        .filter(|a| a.kind == ResourceKind::Workload)
        .filter(|a| only.is_none_or(|w| a.name.split_once('.').map(|(_, n)| n) == Some(w)))
        .collect();
    addresses.sort();
    addresses.dedup();
    let reads = addresses.into_iter().map(|address| async move {
        let (cluster, workload) = address
            .name
            .split_once('.')
            .map(|(c, w)| (c.to_string(), w.to_string()))
            .unwrap_or_default();
        let mut row = Row {
            workload,
            cluster,
            desired: None,
            ready: None,
            rollout: "not applied".into(),
            error: None,
        };
        // What the state knows: a recorded resource, or the intent of an apply that did
        // not finish (a rollout that failed leaves its objects on the cluster).
        let known = match (state.resources.get(&address), state.intents.get(&address)) {
            (Some(r), _) => Some((&r.cloud, &r.cloud_name, &r.attrs)),
            (None, Some(i)) => Some((&i.cloud, &i.cloud_name, &i.attrs)),
            (None, None) => None,
        };
        let Some((cloud, cloud_name, attrs)) = known else {
            return row;
        };
        let Some(provider) = cloud.as_ref().and_then(|c| providers.get(c)) else {
            row.error = Some("its cloud is not in the stack".into());
            return row;
        };
        let spec = ResourceSpec {
            address: address.clone(),
            cloud_name: cloud_name.clone(),
            attrs: attrs.clone(),
        };
        match provider.read(&spec).await {
            Ok(Some(o)) => {
                row.desired = o.outputs.get("desired").and_then(Value::as_i64);
                row.ready = o.outputs.get("ready").and_then(Value::as_i64);
                row.rollout = o
                    .outputs
                    .get("rollout")
                    .and_then(Value::as_str)
                    .unwrap_or("complete")
                    .to_string();
            }
            Ok(None) => row.rollout = "missing (deleted outside fedstack?)".into(),
            Err(e) => {
                row.rollout = "unknown".into();
                row.error = Some(e.message);
            }
        }
        row
    });
    futures::future::join_all(reads).await
}

fn table(rows: &[Row]) -> String {
    if rows.is_empty() {
        return "no workloads\n".to_string();
    }
    let head = ["WORKLOAD", "CLUSTER", "READY", "ROLLOUT", "ERROR"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let ready = match (r.ready, r.desired) {
                (Some(r), Some(d)) => format!("{r}/{d}"),
                _ => "-".into(),
            };
            [
                r.workload.clone(),
                r.cluster.clone(),
                ready,
                r.rollout.clone(),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for c in &cells {
        for (i, s) in c.iter().enumerate() {
            width[i] = width[i].max(s.chars().count());
        }
    }
    let line = |c: [&str; 5]| {
        let mut s = String::new();
        for (i, cell) in c.iter().enumerate() {
            if i == 4 {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = width[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(head);
    for c in &cells {
        out.push_str(&line([&c[0], &c[1], &c[2], &c[3], &c[4]]));
    }
    out
}
