//! The whole-stack checks, once every resource is lowered: duplicate addresses,
//! references (declared address, known output), final `depends_on` lists and
//! dependency cycles. Linear in the number of resources and dependencies.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::cx::{clip, Cx, FxBuild, FxMap};
use super::load::{kind_outputs, Loader, UserRef};
use super::DesiredResource;
use crate::address::{Address, ResourceKind};
use crate::value::{Expr, TemplatePart};

/// A cycle longer than this is shown abbreviated.
const CYCLE_SHOWN: usize = 10;

impl Loader<'_> {
    pub(super) fn finish_graph(&mut self) {
        for (r, explicit) in self.resources.iter_mut().zip(self.explicit.iter_mut()) {
            let mut refs: Vec<&Address> = explicit.iter().collect();
            for e in r.attrs.values() {
                references(e, &mut refs);
            }
            refs.sort_unstable();
            refs.dedup();
            let deps: Vec<Address> = refs.into_iter().cloned().collect();
            r.depends_on = deps;
        }

        let resources = &self.resources;
        let cx = &mut self.cx;
        let mut index: FxMap<&Address, usize> =
            FxMap::with_capacity_and_hasher(resources.len(), FxBuild);
        for (i, r) in resources.iter().enumerate() {
            match index.entry(&r.address) {
                Entry::Occupied(e) => {
                    let first = resources[*e.get()].span;
                    cx.error(
                        r.span,
                        format!("duplicate address `{}`", clip(&r.address.to_string())),
                        Some(format!(
                            "it is first declared at line {}, column {}",
                            first.line, first.column
                        )),
                    );
                }
                Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
        // A wrong image entry made no resources: its error was the one to report.
        let broken = &self.broken_images;
        self.user_refs.retain(|u| {
            u.address.kind != ResourceKind::Image
                || !u
                    .address
                    .name
                    .split('.')
                    .next()
                    .is_some_and(|n| broken.contains(n))
        });
        check_references(cx, resources, &index, &self.user_refs, &self.whats);
        check_cycles(cx, resources, &index);
    }
}

fn check_references(
    cx: &mut Cx,
    resources: &[DesiredResource],
    index: &FxMap<&Address, usize>,
    refs: &[UserRef],
    whats: &[String],
) {
    // Addresses by kind, built on the first dangling reference only.
    let mut by_kind: Option<HashMap<ResourceKind, Vec<String>>> = None;
    for u in refs {
        let Some(&target) = index.get(&u.address) else {
            let by_kind = by_kind.get_or_insert_with(|| {
                let mut m: HashMap<ResourceKind, Vec<String>> = HashMap::new();
                for r in resources {
                    m.entry(r.address.kind)
                        .or_default()
                        .push(r.address.to_string());
                }
                m
            });
            let candidates: &[String] = by_kind.get(&u.address.kind).map_or(&[], |v| v.as_slice());
            let hint = cx.suggest(
                &u.address.to_string(),
                candidates.iter().map(String::as_str),
                &format!("{} addresses", u.address.kind),
            );
            cx.error(
                u.span,
                format!(
                    "reference to undeclared resource `{}` in {}",
                    clip(&u.address.to_string()),
                    whats.get(u.what).map_or("the stack", String::as_str)
                ),
                hint,
            );
            continue;
        };
        let Some(output) = &u.output else { continue };
        let fixed = kind_outputs(u.address.kind);
        // A data resource's outputs are its value keys (its attributes) and `id`.
        let is_data = u.address.kind == ResourceKind::Data;
        let attrs = &resources[target].attrs;
        if fixed.contains(&output.as_str()) || (is_data && attrs.contains_key(output)) {
            continue;
        }
        let mut candidates: Vec<&str> = fixed.to_vec();
        if is_data {
            candidates.extend(attrs.keys().map(String::as_str));
        }
        let label = if u.address.kind == ResourceKind::Data {
            format!("outputs of `{}`", clip(&u.address.to_string()))
        } else {
            format!("{} outputs", u.address.kind)
        };
        let hint = cx.suggest(output, candidates.iter().copied(), &label);
        cx.error(
            u.span,
            format!(
                "unknown output `{}` of `{}` in {}",
                clip(output),
                clip(&u.address.to_string()),
                whats.get(u.what).map_or("the stack", String::as_str)
            ),
            hint,
        );
    }
}

fn check_cycles(cx: &mut Cx, resources: &[DesiredResource], index: &FxMap<&Address, usize>) {
    let n = resources.len();
    let edges: usize = resources.iter().map(|r| r.depends_on.len()).sum();
    let mut g: DiGraph<(), ()> = DiGraph::with_capacity(n, edges);
    for _ in 0..n {
        g.add_node(());
    }
    let mut self_loop = vec![false; n];
    for (i, r) in resources.iter().enumerate() {
        for d in &r.depends_on {
            if let Some(&j) = index.get(d) {
                g.add_edge(NodeIndex::new(i), NodeIndex::new(j), ());
                if i == j {
                    self_loop[i] = true;
                }
            }
        }
    }
    // Kosaraju (iterative) rather than Tarjan: petgraph's Tarjan recurses once per
    // node of a chain, which overflows the stack on long dependency chains.
    let sccs = kosaraju_scc(&g);
    let mut comp = vec![usize::MAX; n];
    for (c, scc) in sccs.iter().enumerate() {
        for v in scc {
            comp[v.index()] = c;
        }
    }
    for (c, scc) in sccs.iter().enumerate() {
        let Some(start) = scc.iter().map(|v| v.index()).min() else {
            continue;
        };
        if scc.len() == 1 && !self_loop[start] {
            continue;
        }
        let path = shortest_cycle(&g, &comp, c, start);
        let names: Vec<String> = path
            .iter()
            .map(|&i| clip(&resources[i].address.to_string()).into_owned())
            .collect();
        let shown = if names.len() > CYCLE_SHOWN {
            let mut s = names[..CYCLE_SHOWN - 1].join(" -> ");
            s.push_str(&format!(
                " -> ... ({} more) -> {}",
                names.len() - CYCLE_SHOWN,
                names[names.len() - 1]
            ));
            s
        } else {
            names.join(" -> ")
        };
        cx.error(
            resources[start].span,
            format!("dependency cycle: {shown}"),
            Some("remove one of these references or `depends_on` entries".to_string()),
        );
    }
}

/// Like [`Expr::references`], without cloning.
fn references<'e>(e: &'e Expr, out: &mut Vec<&'e Address>) {
    match e {
        Expr::Literal(_) => {}
        Expr::Ref { address, .. } => out.push(address),
        Expr::List(items) => items.iter().for_each(|i| references(i, out)),
        Expr::Template(parts) => {
            for p in parts {
                if let TemplatePart::Ref { address, .. } = p {
                    out.push(address);
                }
            }
        }
    }
}

/// The shortest path from `start` back to itself inside component `c` (BFS), as
/// node indices with `start` at both ends.
fn shortest_cycle(g: &DiGraph<(), ()>, comp: &[usize], c: usize, start: usize) -> Vec<usize> {
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        // Neighbours in the order the dependencies were added.
        let mut next: Vec<usize> = g.neighbors(NodeIndex::new(v)).map(|w| w.index()).collect();
        next.reverse();
        for w in next {
            if comp[w] != c {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                let mut at = v;
                while at != start {
                    match prev.get(&at) {
                        Some(&p) => {
                            path.push(p);
                            at = p;
                        }
                        None => break,
                    }
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if let Entry::Vacant(e) = prev.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start, start]
}
