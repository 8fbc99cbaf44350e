//! The resource dependency graph (petgraph) and the selections `--target` and
//! `--exclude` make on it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::address::Address;

/// A graph over addresses; an edge `a -> b` means `a` depends on `b`.
pub struct DependencyGraph {
    graph: DiGraph<Address, ()>,
    index: HashMap<Address, NodeIndex>,
}

impl DependencyGraph {
    /// Builds the graph. Dependencies on addresses that are not nodes are ignored
    /// (they are validated elsewhere).
    pub fn new<'a>(
        nodes: impl IntoIterator<Item = (&'a Address, &'a [Address])>,
    ) -> DependencyGraph {
        let nodes: Vec<(&Address, &[Address])> = nodes.into_iter().collect();
        let mut graph = DiGraph::with_capacity(nodes.len(), nodes.len() * 2);
        let mut index = HashMap::with_capacity(nodes.len());
        for (a, _) in &nodes {
            if !index.contains_key(*a) {
                let i = graph.add_node((*a).clone());
                index.insert((*a).clone(), i);
            }
        }
        for (a, deps) in &nodes {
            let from = index[*a];
            for d in deps.iter() {
                if let Some(&to) = index.get(d) {
                    graph.update_edge(from, to, ());
                }
            }
        }
        DependencyGraph { graph, index }
    }

    pub fn contains(&self, a: &Address) -> bool {
        self.index.contains_key(a)
    }

    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.graph.node_weights()
    }

    /// Addresses in dependency order (dependencies first); `None` if there is a cycle.
    pub fn topological_order(&self) -> Option<Vec<Address>> {
        let order = petgraph::algo::toposort(&self.graph, None).ok()?;
        Some(
            order
                .into_iter()
                .rev()
                .map(|i| self.graph[i].clone())
                .collect(),
        )
    }

    /// The addresses matched by the patterns plus everything they depend on.
    pub fn with_dependencies(&self, seeds: &BTreeSet<Address>) -> BTreeSet<Address> {
        self.closure(seeds, Direction::Outgoing)
    }

    /// The addresses matched plus everything that depends on them.
    pub fn with_dependents(&self, seeds: &BTreeSet<Address>) -> BTreeSet<Address> {
        self.closure(seeds, Direction::Incoming)
    }

    fn closure(&self, seeds: &BTreeSet<Address>, dir: Direction) -> BTreeSet<Address> {
        let mut seen: BTreeSet<Address> = BTreeSet::new();
        let mut stack: Vec<NodeIndex> = seeds
            .iter()
            .filter_map(|a| self.index.get(a).copied())
            .collect();
        for s in seeds {
            seen.insert(s.clone());
        }
        while let Some(n) = stack.pop() {
            for m in self.graph.neighbors_directed(n, dir) {
                if seen.insert(self.graph[m].clone()) {
                    stack.push(m);
                }
            }
        }
        seen
    }

    /// DOT for `fedstack graph`: one node per address, edges from dependents to
    /// their dependencies, clustered by kind.
    pub fn to_dot(&self, labels: &BTreeMap<Address, String>) -> String {
        let mut out = String::from("digraph fedstack {\n  rankdir = \"RL\";\n  node [shape = box, fontname = \"monospace\"];\n");
        let mut nodes: Vec<&Address> = self.graph.node_weights().collect();
        nodes.sort();
        for a in &nodes {
            match labels.get(*a) {
                Some(l) => out.push_str(&format!("  \"{a}\" [label = \"{a}\\n{l}\"];\n")),
                None => out.push_str(&format!("  \"{a}\";\n")),
            }
        }
        let mut edges: Vec<(&Address, &Address)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(f, t)| (&self.graph[f], &self.graph[t]))
            .collect();
        edges.sort();
        for (f, t) in edges {
            out.push_str(&format!("  \"{f}\" -> \"{t}\";\n"));
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::ResourceKind;

    fn a(n: &str) -> Address {
        Address::new(ResourceKind::Data, n)
    }

    #[test]
    fn closures_follow_edges_both_ways() {
        let (x, y, z) = (a("x"), a("y"), a("z"));
        let deps = [
            (x.clone(), vec![y.clone()]),
            (y.clone(), vec![z.clone()]),
            (z.clone(), vec![]),
        ];
        let g = DependencyGraph::new(deps.iter().map(|(a, d)| (a, d.as_slice())));
        let seed: BTreeSet<Address> = [y.clone()].into();
        assert_eq!(g.with_dependencies(&seed), [y.clone(), z.clone()].into());
        assert_eq!(g.with_dependents(&seed), [x.clone(), y.clone()].into());
        assert_eq!(g.topological_order(), Some(vec![z, y, x]));
    }
}
