//! Counters and their serializable snapshots.
//!
//! - `cells.rs`: the live counters, per pool and priority and per task name;
//! - `snapshot.rs`: what [`Supervisor::stats`](crate::Supervisor::stats) returns, with the
//!   worker and node snapshots it holds.

mod cells;
mod snapshot;

pub(crate) use cells::{NameRef, StatsCells};
pub use snapshot::{
    NodeStats, PoolStats, PriorityStats, Stats, TaskStats, WorkerKind, WorkerState, WorkerStats,
};
