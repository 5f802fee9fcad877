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
//! Rooms from top to bottom: each names only rooms on its own line or below it
//! (`.ci/layers.py` checks this in CI). A lower room reaches a higher one only through a
//! trait it defines itself: `task::Owner` (a task's supervisor), `pool::Timer` (a
//! pool's timers), `supervisor::Client` (what a stop stops: workers, the node).
//!
//! ```text
//! lib.rs · __private.rs · static_api.rs   the faces: the public API, what generated code
//!               calls (static_api.rs: the typed calls of static fns and static workers)
//! node/         a cluster node: serve_cluster, readers, answers (mod.rs), heartbeat and
//!               reclaim (liveness.rs), due delayed tasks and remote retries (delayed.rs),
//!               zero set-up nodes (zero_setup.rs)
//! worker/       core.rs (start/stop/counters; a supervisor Client), exec.rs (where a run
//!               happens), schedule.rs, interval.rs, timed.rs (pool-timer chains), cron.rs,
//!               queue.rs, event.rs, macro_api.rs (what the macro calls)
//! collection.rs FunctionCollection (in turn), TaskCollection (as tasks of a supervisor)
//! supervisor/   the owner of everything: builder.rs (settings), spawn/ (every way in:
//!               mod.rs: Spec → admit → cell → job → delay → pool; thread.rs, coroutine.rs,
//!               process.rs, remote.rs; retry.rs: retried tasks; task_builder.rs; limit.rs:
//!               coroutines' limits), client.rs (Client), shutdown.rs (stop, what a stop
//!               waits for and cancels), watchdog.rs (queue-wait hooks)
//! remote/       the cluster's producer side on Redis Streams: settings (mod.rs), producer.rs,
//!               broker/ (the engine's trait in mod.rs, Redis Streams in streams.rs, its Lua
//!               in scripts.rs, durable delays in delayed.rs), link.rs (connections), wire.rs (entry fields)
//! process_pool/ the pool kind whose threads (drivers, driver.rs) each own a child process:
//!               registry.rs (static fns by index), job.rs, protocol.rs (frames, bincode),
//!               process.rs (posix_spawn), claims.rs (shared request words), child_main.rs
//! thread_pool.rs   the pool kind whose threads run closures
//! pool/         the one pool skeleton and its Runner trait (mod.rs), the admission ladder
//!               (ladder.rs, per-name limits in limits.rs), thread bookkeeping (crew.rs), timers (timers.rs), boxed
//!               jobs (job.rs)
//! locker.rs     Locker: a named lock whose timeout reports a likely deadlock
//! task/         Task<T> (mod.rs), its cell and the Owner trait (cell.rs), tokio-joined
//!               plain coroutines (joined.rs), panic containment (unwind.rs)
//! stats/        live counters (cells.rs) and serializable snapshots (snapshot.rs)
//! metrics.rs    the `metrics` facade calls (behind the `metrics` feature)
//! kind.rs       PoolKind, Outcome
//! context.rs · error.rs · priority.rs · sync.rs · backoff.rs   the ground types (backoff.rs:
//!               Retry, full jitter); init.rs: what runs
//!               before `main` (the `.init_array` entries of children and nodes)
//! ```
//!
//! A `#[background_task(static)]` call goes: the generated fn → `__private::static_fn().spawn`
//! (`static_api.rs`) → `supervisor::spawn::spawn_static` (`spawn/process.rs`) →
//! `Inner::submit` (`spawn/mod.rs`: admit, cell, job) → `ProcessPool::submit` → the ladder
//! (`pool/ladder.rs`) → a driver thread (`pool/mod.rs`) → `Processes::run_job`
//! (`process_pool/driver.rs`: request frame, child, reply) → `TaskCell::finish`
//! (`task/cell.rs`) → the caller's `Task<T>`. A remote one goes `static_api.rs` →
//! `spawn/remote.rs` (cell, encoded arguments) → `remote/producer.rs` (pipeline, reply
//! stream) → a node (`node/mod.rs`) → `spawn/process.rs::spawn_raw` there.
#![doc(test(attr(deny(warnings))))]
#![warn(clippy::print_stdout, clippy::print_stderr)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod backoff;
mod collection;
mod context;
mod error;
mod init;
mod kind;
mod locker;
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

pub use collection::{CollectionResults, FunctionCollection, TaskCollection};
pub use error::{BuildError, ClusterError, TaskError};
pub use kind::PoolKind;
pub use locker::{LockGuard, LockInfo, LockTimeout, Locker};
pub use priority::Priority;
pub use stats::{NodeStats, PoolStats, PriorityStats, Stats, TaskStats};
pub use supervisor::{NoRetry, Retryable, Supervisor, SupervisorBuilder, TaskBuilder, WithRetry};
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
