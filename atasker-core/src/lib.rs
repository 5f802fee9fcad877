//! The runtime of [atasker](https://docs.rs/atasker): one task supervisor for threads,
//! processes and coroutines, with a priority ladder and workers.
//!
//! Users depend on the `atasker` facade crate, which re-exports everything here together with
//! the `#[background_task]` and `#[background_worker]` macros; its crate documentation is the
//! guide (the runtime, logging, shutdown, process tasks, statistics). The examples here are
//! written as users write them, with `atasker::` paths.
//!
//! ```
//! let t = atasker::spawn(|| 1 + 1);
//! assert_eq!(t.wait(), Ok(2));
//! ```
#![doc(test(attr(deny(warnings))))]
#![warn(clippy::print_stdout, clippy::print_stderr)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod context;
mod coroutines;

mod error;
mod pool;
mod priority;
mod process_pool;
mod stats;
mod supervisor;
mod sync;
mod task;
mod thread_pool;
mod worker;

#[doc(hidden)]
pub mod __private;

pub use error::{BuildError, TaskError};
pub use priority::Priority;
pub use stats::{PoolStats, PriorityStats, Stats};
pub use supervisor::{Supervisor, SupervisorBuilder, TaskBuilder};
pub use task::{wait_completed, PoolKind, Task, TaskId, TaskInfo};
pub use worker::{
    EventWorker, EventWorkerBuilder, QueueWorker, QueueWorkerBuilder, Worker, WorkerBuilder,
    WorkerError, WorkerKind, WorkerOutput, WorkerState, WorkerStats,
};

use std::future::Future;

/// Runs `f` on the global supervisor's thread pool at [`Priority::Normal`].
///
/// For other options (a priority, a delay, a timeout, another supervisor), use
/// [`Supervisor::task`].
///
/// ```
/// let t = atasker::spawn(|| std::thread::current().name().map(str::to_owned));
/// assert!(t.wait().unwrap().unwrap().starts_with("atasker-"));
/// ```
pub fn spawn<T, F>(f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Supervisor::global().task().spawn(f)
}

/// Runs `fut` as a coroutine on the global supervisor's runtime.
///
/// ```
/// let t = atasker::spawn_async(async { 40 + 2 });
/// assert_eq!(t.wait(), Ok(42));
/// ```
pub fn spawn_async<F>(fut: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Supervisor::global().task().spawn_async(fut)
}
