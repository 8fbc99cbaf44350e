//! fedstack's core: the stack model, its validation, the resource graph, the diff
//! and the plan. **No I/O happens in this crate**: callers read files, talk to clouds
//! and hand the results in as values.

pub mod address;
pub mod graph;
pub mod observe;
pub mod plan;
pub mod schema;
pub mod shift;
pub mod stack;
pub mod state;
pub mod value;
