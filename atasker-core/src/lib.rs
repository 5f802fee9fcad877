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
//!
//! # Where things are
//!
//! ```text
//! supervisor/   the owner of everything: builder.rs (settings), submit.rs (the one path that
//!               starts a task: Spec → admit → cell → job → delay → pool), shutdown.rs (stop,
//!               what a stop waits for and cancels), watchdog.rs (queue-wait hooks)
//! task/         Task<T> (mod.rs), its shared state and waits (cell.rs: Header, the state
//!               machine, the Schedule trait tasks reach their supervisor through), panic
//!               containment (unwind.rs)
//! pool/         the one pool skeleton (mod.rs: ready queue, crew of threads, release and
//!               refill), the admission ladder (ladder.rs), thread bookkeeping (crew.rs)
//! thread_pool.rs   the pool kind whose threads run closures
//! process_pool/ the pool kind whose threads (drivers, driver.rs) each own a child process:
//!               registry.rs (static fns by index), protocol.rs (frames, bincode), process.rs
//!               (the parent's handle to a child, posix_spawn), child_main.rs (the child,
//!               before main)
//! coroutines.rs    async fn tasks on the tokio runtime
//! worker/       core.rs (start/stop/counters), exec.rs (where a run happens), interval.rs,
//!               queue.rs, event.rs (the kinds), macro_api.rs (what the macro calls)
//! context.rs    the thread-local context (current supervisor, worker, pool)
//! sync.rs · error.rs · priority.rs · stats.rs · __private.rs (re-exports for the macros)
//! ```
//!
//! A `#[background_task(static)]` call goes: the generated fn → `__private::static_fn().spawn`
//! (`process_pool/registry.rs`) → `process_pool::spawn_static` → `Inner::submit`
//! (`supervisor/submit.rs`: admit, cell, job) → `ProcessPool::submit` → the ladder
//! (`pool/ladder.rs`) → a driver thread (`pool/mod.rs`) → `Processes::run_job`
//! (`process_pool/driver.rs`: request frame, child, reply) → `TaskCell::finish`
//! (`task/cell.rs`) → the caller's `Task<T>`.
#![doc(test(attr(deny(warnings))))]
#![warn(clippy::print_stdout, clippy::print_stderr)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod context;
mod error;
mod kind;
mod metrics;
mod node;
mod pool;
mod priority;
mod process_pool;
mod remote;
mod static_api;
mod stats;
mod supervisor;
mod sync;
mod task;
mod thread_pool;
mod worker;

#[doc(hidden)]
pub mod __private;

pub use error::{BuildError, ClusterError, TaskError};
pub use kind::PoolKind;
pub use priority::Priority;
pub use stats::{NodeStats, PoolStats, PriorityStats, Stats, TaskStats};
pub use supervisor::{Supervisor, SupervisorBuilder, TaskBuilder};
pub use task::{wait_completed, Task, TaskId, TaskInfo};
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
