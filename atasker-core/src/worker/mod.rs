//! Workers: long-lived loops around an executor, in four kinds (loop, interval, queue,
//! event). The loop is a coroutine on the supervisor's runtime; the executor runs where its
//! signature says (a coroutine inline in the loop, or a task on the thread pool at the
//! worker's priority).
//!
//! - `core.rs`: the shared state behind every handle: start, stop, counters, the loop's
//!   sleep and its stop signal;
//! - `exec.rs`: executors (where a run happens: a coroutine inline in the loop, or a task on
//!   the thread or process pool) and what a run reports ([`WorkerOutput`], [`WorkerError`]);
//! - `interval.rs`, `queue.rs`, `event.rs`: the kinds and their handles;
//! - `macro_api.rs`: the constructors `#[background_worker]` calls.

mod cron;
mod event;
mod interval;
pub(crate) mod macro_api;
mod queue;
pub(crate) mod schedule;
mod timed;
pub use event::{EventWorker, EventWorkerBuilder};
pub use interval::{Worker, WorkerBuilder};
pub use queue::{QueueWorker, QueueWorkerBuilder};
mod core;
mod exec;

pub use crate::stats::{WorkerKind, WorkerState, WorkerStats};
pub(crate) use core::*;
pub use exec::WorkerOutput;
pub(crate) use exec::*;

use crate::error::TaskError;
use crate::priority::Priority;
use crate::supervisor::Supervisor;
use crate::task::CatchUnwind;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicU8,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, Condvar, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

/// A failed executor run, handed to the worker's `on_error` hook (without one, it goes to
/// `tracing` as an error, which nothing shows without a subscriber).
///
/// ```
/// use atasker::WorkerError;
/// let e = WorkerError::Failed { worker: "tick".into(), message: "disk full".into() };
/// assert_eq!(e.to_string(), "worker tick: executor failed: disk full");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The executor returned `Err`; `message` is its `Display` text.
    #[error("worker {worker}: executor failed: {message}")]
    Failed {
        /// The worker's name.
        worker: String,
        /// The error's text.
        message: String,
    },
    /// The executor panicked.
    #[error("worker {worker}: executor panicked: {message}")]
    Panicked {
        /// The worker's name.
        worker: String,
        /// The panic message.
        message: String,
    },
    /// The executor's task could not run or was lost (for example, its process exited).
    #[error("worker {worker}: executor task failed")]
    Task {
        /// The worker's name.
        worker: String,
        /// Why.
        #[source]
        error: TaskError,
    },
}

/// The error hook type.
pub(crate) type OnError = Arc<dyn Fn(&WorkerError) + Send + Sync>;

/// Options every worker kind shares (filled by the builders and the macros).
#[derive(Clone, Default)]
pub(crate) struct Common {
    pub(crate) name: Option<String>,
    pub(crate) priority: Priority,
    pub(crate) supervisor: Option<Supervisor>,
    pub(crate) on_error: Option<OnError>,
}

impl Common {
    fn name(&mut self, name: impl Into<String>) {
        self.name = Some(name.into());
    }
}

/// `Debug` for a worker handle: its core's (name, kind, state).
macro_rules! debug_as_core {
    ($handle:ty $(, $g:ident)?) => {
        impl$(<$g>)? std::fmt::Debug for $handle {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.core.fmt(f)
            }
        }
    };
}

/// The handle methods every worker kind shares, implemented once on the core.
macro_rules! handle_methods {
    () => {
        /// Starts the worker. `false` if it is already running, or its supervisor is stopped.
        ///
        /// Every worker handle ([`Worker`](crate::Worker), [`QueueWorker`](crate::QueueWorker),
        /// [`EventWorker`](crate::EventWorker)) has `start`, `stop`, `restart`, `is_active`,
        /// `name` and `stats`.
        ///
        /// ```
        /// use atasker::{EventWorker, QueueWorker, Worker};
        /// use std::time::Duration;
        /// let w = Worker::builder().interval(Duration::from_secs(1)).build(|| ());
        /// let q = QueueWorker::builder().build(|_: u32| ());
        /// let e = EventWorker::builder().build(|| ());
        /// assert!(w.start() && q.start() && e.start());
        /// assert!(!w.start()); // already running
        /// w.stop();
        /// q.stop();
        /// e.stop();
        /// ```
        pub fn start(&self) -> bool {
            self.core.start()
        }

        /// Stops the worker: a waiting worker stops at once, a running one after its current
        /// run (this call waits for it). Idempotent; safe to call from inside the executor
        /// (it then returns at once and the worker stops after the run).
        ///
        /// A stopped worker may be started again; a queue worker keeps its waiting items for
        /// that. (A supervisor stop is final and serves a queue worker's items first: see
        /// [`Supervisor::stop`](crate::Supervisor::stop).)
        ///
        /// ```
        /// let q = atasker::QueueWorker::builder().build(|_: u32| ());
        /// q.start();
        /// q.stop();
        /// q.put(1); // waits for the next start
        /// assert!(!q.is_active());
        /// assert_eq!(q.queued(), 1);
        /// q.stop(); // idempotent
        /// ```
        pub fn stop(&self) {
            self.core.stop(None)
        }

        /// Stops the worker, then starts it again.
        ///
        /// ```
        /// let e = atasker::EventWorker::builder().build(|| ());
        /// e.start();
        /// e.restart();
        /// assert!(e.is_active());
        /// e.stop();
        /// ```
        pub fn restart(&self) {
            self.core.stop(None);
            self.core.start();
        }

        /// Whether the worker is started and not stopping.
        ///
        /// ```
        /// let e = atasker::EventWorker::builder().build(|| ());
        /// assert!(!e.is_active());
        /// e.start();
        /// assert!(e.is_active());
        /// e.stop();
        /// assert!(!e.is_active());
        /// ```
        pub fn is_active(&self) -> bool {
            self.core.is_active()
        }

        /// The worker's name.
        ///
        /// ```
        /// let w = atasker::Worker::builder().name("tick").build(|| ());
        /// let q = atasker::QueueWorker::builder().build(|line: String| drop(line));
        /// assert_eq!(w.name(), "tick");
        /// assert!(q.name().starts_with("worker-")); // a generated name
        /// ```
        pub fn name(&self) -> &str {
            self.core.name()
        }

        /// The worker's counters.
        ///
        /// ```
        /// let e = atasker::EventWorker::builder().build(|| ());
        /// e.start();
        /// e.trigger();
        /// while e.stats().runs == 0 {
        ///     std::thread::sleep(std::time::Duration::from_millis(1));
        /// }
        /// e.stop();
        /// assert_eq!(e.stats().errors, 0);
        /// ```
        pub fn stats(&self) -> $crate::worker::WorkerStats {
            self.core.stats()
        }
    };
}

pub(crate) use {debug_as_core, handle_methods};

/// The builder options every worker kind shares.
macro_rules! builder_methods {
    () => {
        /// The worker's name (default: a generated `worker-N`).
        ///
        /// Every worker builder has `name`, `priority`, `supervisor` and `on_error`.
        ///
        /// ```
        /// let w = atasker::Worker::builder().name("tick").build(|| ());
        /// let q = atasker::QueueWorker::builder().name("mail").build(|to: String| drop(to));
        /// let e = atasker::EventWorker::builder().name("flush").build(|| ());
        /// assert_eq!([w.name(), q.name(), e.name()], ["tick", "mail", "flush"]);
        /// ```
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.common.name(name);
            self
        }

        /// The priority of the executor's runs on the thread or process pool (default:
        /// [`Priority::Normal`](crate::Priority::Normal)). A coroutine executor runs on the
        /// runtime, outside the ladder.
        ///
        /// ```
        /// use atasker::{EventWorker, Priority};
        /// let e = EventWorker::builder().priority(Priority::High).build(|| ());
        /// e.start();
        /// e.trigger();
        /// while e.stats().runs == 0 {
        ///     std::thread::sleep(std::time::Duration::from_millis(1));
        /// }
        /// e.stop();
        /// ```
        pub fn priority(mut self, p: $crate::priority::Priority) -> Self {
            self.common.priority = p;
            self
        }

        /// The supervisor (default: the global one).
        ///
        /// ```
        /// let sup = atasker::Supervisor::builder().name("jobs").build().unwrap();
        /// let q = atasker::QueueWorker::builder()
        ///     .name("mail")
        ///     .supervisor(&sup)
        ///     .build(|to: String| drop(to));
        /// assert_eq!(sup.stats().workers[0].name, q.name());
        /// ```
        pub fn supervisor(mut self, s: &$crate::supervisor::Supervisor) -> Self {
            self.common.supervisor = Some(s.clone());
            self
        }

        /// Called with every failed run (an `Err` or a panic); default: a `tracing` error
        /// (which nothing shows without a subscriber). A panic in the hook is contained.
        ///
        /// ```
        /// use std::sync::atomic::{AtomicUsize, Ordering};
        /// static FAILED: AtomicUsize = AtomicUsize::new(0);
        ///
        /// let e = atasker::EventWorker::builder()
        ///     .name("flush")
        ///     .on_error(|err: &atasker::WorkerError| {
        ///         eprintln!("{err}"); // worker flush: executor failed: disk full
        ///         FAILED.fetch_add(1, Ordering::SeqCst);
        ///     })
        ///     .build(|| Err::<(), _>("disk full"));
        /// e.start();
        /// e.trigger();
        /// while FAILED.load(Ordering::SeqCst) == 0 {
        ///     std::thread::sleep(std::time::Duration::from_millis(1));
        /// }
        /// e.stop();
        /// assert_eq!(e.stats().errors, 1);
        /// ```
        pub fn on_error(
            mut self,
            f: impl Fn(&$crate::worker::WorkerError) + Send + Sync + 'static,
        ) -> Self {
            self.common.on_error = Some(std::sync::Arc::new(f));
            self
        }
    };
}

pub(crate) use builder_methods;
