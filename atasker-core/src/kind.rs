//! What every layer names: where a task runs ([`PoolKind`]) and how it ended ([`Outcome`]).

use crate::error::TaskError;
use serde::Serialize;
use std::fmt;

/// Where a task runs.
///
/// ```
/// use atasker::PoolKind;
/// assert_eq!(PoolKind::Threads.to_string(), "threads");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    /// The supervisor's thread pool (`fn`).
    Threads,
    /// The supervisor's process pool (`static fn`).
    Processes,
    /// The supervisor's tokio runtime (`async fn`).
    Coroutines,
    /// A node of the supervisor's cluster (`#[background_task(static, remote)]` with
    /// [`SupervisorBuilder::cluster`](crate::SupervisorBuilder::cluster)).
    Remote,
}

/// How many pool kinds there are (the length of per-pool tables).
pub(crate) const POOLS: usize = 4;

/// Every pool kind, in index order.
pub(crate) const ALL_POOLS: [PoolKind; POOLS] = [
    PoolKind::Threads,
    PoolKind::Processes,
    PoolKind::Coroutines,
    PoolKind::Remote,
];

impl PoolKind {
    /// Its name in logs and metrics labels.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            PoolKind::Threads => "threads",
            PoolKind::Processes => "processes",
            PoolKind::Coroutines => "coroutines",
            PoolKind::Remote => "remote",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for PoolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a task ended, for the statistics.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Outcome {
    Completed,
    Failed,
    TimedOut,
    Cancelled,
}

impl Outcome {
    pub(crate) fn of<T>(r: &Result<T, TaskError>) -> Outcome {
        match r {
            Ok(_) => Outcome::Completed,
            Err(TaskError::Cancelled) => Outcome::Cancelled,
            Err(TaskError::TimedOut) => Outcome::TimedOut,
            Err(_) => Outcome::Failed,
        }
    }

    /// Its name in logs and metrics labels.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
        }
    }
}
