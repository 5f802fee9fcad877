//! # atasker
//!
//! Background work one attribute away. Annotate a function and it runs in the background
//! where its signature says: an `async fn` as a coroutine on the supervisor's tokio runtime, a
//! plain `fn` on the supervisor's thread pool, a `static` fn in a pool of worker processes.
//! One [`Supervisor`] governs them all, with hard pool limits and a priority ladder
//! (low/normal/high/critical).
//!
//! ```
//! use atasker::prelude::*;
//!
//! #[background_task]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! #[background_task(priority = Priority::High)]
//! async fn greet(name: String) -> String {
//!     format!("hello, {name}")
//! }
//!
//! let t: Task<u64> = square(7); // starts in the background at once
//! assert_eq!(t.wait(), Ok(49));
//! assert_eq!(greet("plant".into()).wait().unwrap(), "hello, plant");
//! ```
#![doc(test(attr(deny(warnings))))]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub use atasker_core::{
    spawn, spawn_async, wait_completed, BuildError, EventWorker, EventWorkerBuilder, PoolKind,
    PoolStats, Priority, PriorityStats, QueueWorker, QueueWorkerBuilder, Stats, Supervisor,
    SupervisorBuilder, Task, TaskBuilder, TaskError, TaskId, TaskInfo, Worker, WorkerBuilder,
    WorkerError, WorkerKind, WorkerOutput, WorkerState, WorkerStats,
};
pub use atasker_macros::{background_task, background_worker};

/// Everything a user of the macros and handles needs: `use atasker::prelude::*;`.
pub mod prelude {
    pub use crate::{
        background_task, background_worker, EventWorker, Priority, QueueWorker, Supervisor, Task,
        TaskError, Worker, WorkerError,
    };
}

/// What the generated code calls. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use atasker_core::__private::*;
    pub use atasker_core::{Priority, Supervisor, Task};
}
