//! Every way in to an executor, and the one path they share: options ([`Spec`],
//! [`TaskOptions`], [`TaskBuilder`]), admission, the task's cell, its delay, and the
//! hand-over to its pool.
//!
//! - `thread.rs`: a closure on the thread pool;
//! - `coroutine.rs`: a future on the runtime (plain coroutines as one tokio task each);
//! - `process.rs`: a registered static fn in the process pool (typed, or bytes for a node);
//! - `remote.rs`: a static fn on a node of the cluster, through the producer.

mod coroutine;
mod limit;
pub(crate) use limit::overdue as limit_overdue;
mod process;
mod remote;
mod retry;
mod task_builder;
mod thread;

pub(crate) use coroutine::release_ended;
pub(crate) use process::{spawn_raw, spawn_static, spawn_static_retried};
pub(crate) use remote::{has_cluster, spawn_remote};
pub(crate) use retry::spawn_retried;
pub use retry::{Retry, Retryable};
pub use task_builder::{NoRetry, TaskBuilder, WithRetry};
pub(crate) use thread::spawn_thread;

use super::*;
use std::num::NonZeroU32;

impl Supervisor {
    /// A builder for one task with options (priority, delay, timeout, name).
    ///
    /// ```
    /// use atasker::{Priority, Supervisor};
    /// use std::time::Duration;
    /// let t = Supervisor::global()
    ///     .task()
    ///     .priority(Priority::Low)
    ///     .delay(Duration::from_millis(10))
    ///     .spawn(|| "later");
    /// assert_eq!(t.wait(), Ok("later"));
    /// ```
    pub fn task(&self) -> TaskBuilder<'_> {
        TaskBuilder::new(Spec::new(self))
    }
}

/// What one task is started with: its supervisor and options. The one options type behind
/// `#[background_task]` (made from [`TaskOptions`]), [`TaskBuilder`] and the workers' runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec<'a> {
    pub(crate) sup: &'a Supervisor,
    /// `module::function`, or [`TaskBuilder::name`]'s.
    pub(crate) name: &'static str,
    pub(crate) priority: Priority,
    /// Queued only after this long (holding no slot meanwhile).
    pub(crate) delay: Option<Duration>,
    /// The deadline, counted from the start.
    pub(crate) timeout: Option<Duration>,
    /// A worker's run: admitted while a stop lets the workers finish.
    pub(crate) for_worker: bool,
    /// At most this many tasks of this name run at once (in this process).
    pub(crate) limit: Option<NonZeroU32>,
    /// How a failed run is run again.
    pub(crate) retry: Option<Retry>,
    /// A run of a task admitted already (a retry's): never refused.
    pub(crate) admitted: bool,
}

impl<'a> Spec<'a> {
    /// The defaults: named `task`, NORMAL, no delay, no deadline.
    pub(crate) fn new(sup: &'a Supervisor) -> Self {
        Spec {
            sup,
            name: "task",
            priority: Priority::Normal,
            delay: None,
            timeout: None,
            for_worker: false,
            limit: None,
            retry: None,
            admitted: false,
        }
    }
}

/// The options of one `#[background_task]` call.
#[derive(Clone, Copy, Debug)]
pub struct TaskOptions {
    /// `module::function`.
    pub name: &'static str,
    /// The task's priority.
    pub priority: Priority,
    /// The deadline, counted from the start.
    pub timeout: Option<Duration>,
    /// How long after the call the task is queued (holding no slot meanwhile).
    pub delay: Option<Duration>,
    /// The supervisor; `None`: the global one.
    pub supervisor: Option<&'static Supervisor>,
    /// At most this many runs of this task at once (`limit = N`).
    pub limit: Option<NonZeroU32>,
    /// How a failed run is run again (`retries = N`, `backoff`, `backoff_max`).
    pub retry: Option<Retry>,
}

impl TaskOptions {
    /// The spec of one call of a `#[background_task]` fn.
    pub(crate) fn spec(self) -> Spec<'static> {
        Spec {
            name: self.name,
            priority: self.priority,
            timeout: self.timeout,
            delay: self.delay,
            limit: self.limit,
            retry: self.retry,
            ..Spec::new(self.supervisor.unwrap_or_else(Supervisor::global))
        }
    }
}

impl Inner {
    /// Counts a new task; `false` (and nothing counted) once stopped. While a stop lets the
    /// workers finish (queue workers drain their items), their runs are still admitted.
    pub(crate) fn admit(&self, for_worker: bool) -> bool {
        self.pending.inc();
        let open = match self.phase.load(SeqCst) {
            OPEN => true,
            DRAINING => for_worker,
            _ => false,
        };
        if !open {
            self.pending.dec();
        }
        open
    }

    /// The start of every task: admission, its cell, the count. `Err`: the task is refused
    /// (the supervisor is stopped), as a task that has failed.
    pub(crate) fn open_task<T: Send + 'static>(
        self: &Arc<Self>,
        spec: &Spec<'_>,
        pool: PoolKind,
        state: u8,
    ) -> Result<Arc<TaskCell<T>>, Task<T>> {
        let by_name = self.count_task(spec, pool, state == crate::task::RUNNING)?;
        let task = crate::task::NewTask {
            sup: self.clone(),
            name: spec.name,
            priority: spec.priority,
            pool,
            timeout: spec.timeout,
            limit: spec.limit,
            by_name,
        };
        Ok(TaskCell::new(task, state))
    }

    /// Admits a task and counts it as submitted (with `running`: started at once too), for
    /// [`open_task`](Inner::open_task) and for tasks kept without a cell. Returns its name's
    /// counters; `Err`: it is refused (the supervisor is stopped), as a task that has failed.
    pub(crate) fn count_task<T: Send + 'static>(
        self: &Arc<Self>,
        spec: &Spec<'_>,
        pool: PoolKind,
        running: bool,
    ) -> Result<NameRef, Task<T>> {
        let admitted = if spec.admitted {
            self.pending.inc();
            true
        } else {
            self.admit(spec.for_worker)
        };
        if !admitted {
            return Err(Task::failed(
                self.clone(),
                spec.name,
                spec.priority,
                pool,
                TaskError::SupervisorStopped,
            ));
        }
        self.stats.submitted(pool, spec.priority, running);
        let by_name = self.stats.name(spec.name);
        let keys = &by_name.metrics;
        (self.stats.metrics).task_counted(keys, (pool, spec.priority), spec.name, false);
        Ok(by_name)
    }

    /// The one path of a task that waits for a slot of a pool (threads, processes): opens the
    /// task, makes its job, and hands the job to the pool (`submit`: `true` if it queued) now
    /// or after its delay; a queued job wakes the watchdog.
    pub(crate) fn submit<T, J>(
        self: &Arc<Self>,
        spec: &Spec<'_>,
        pool: PoolKind,
        job: impl FnOnce(&Arc<TaskCell<T>>) -> J,
        submit: fn(&Inner, J) -> bool,
    ) -> Task<T>
    where
        T: Send + 'static,
        J: Send + 'static,
    {
        let cell = match self.open_task(spec, pool, QUEUED) {
            Ok(cell) => cell,
            Err(refused) => return refused,
        };
        let job = job(&cell);
        let hand_over = move |inner: &Arc<Inner>| {
            if submit(inner, job) {
                inner.poke_watchdog();
            }
        };
        match spec.delay {
            None => hand_over(self),
            Some(d) => self.after_delay(cell.clone(), d, hand_over),
        }
        Task::from_cell(cell)
    }

    /// Runs `then` after `d` unless the task was cancelled meanwhile.
    pub(crate) fn after_delay(
        self: &Arc<Self>,
        cell: Arc<dyn Control>,
        d: Duration,
        then: impl FnOnce(&Arc<Inner>) + Send + 'static,
    ) {
        match self.handle() {
            Ok(handle) => {
                self.track(cell.clone());
                let inner = self.clone();
                handle.spawn(async move {
                    tokio::time::sleep(d).await;
                    inner.untrack(cell.header());
                    if cell.header().state() == QUEUED {
                        then(&inner);
                    }
                });
            }
            Err(e) => {
                tracing::error!(error = %e, "atasker: no timer for a delayed task; it starts now");
                then(self);
            }
        }
    }
}

/// Runs `f` on the thread pool.
pub fn spawn_blocking<T, F>(opts: TaskOptions, f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_thread(opts.spec(), f)
}

/// Runs `fut` as a coroutine.
pub fn spawn_async<F>(opts: TaskOptions, fut: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    coroutine::spawn(opts.spec(), fut)
}

/// Runs `f` on the thread pool, again after a failed run (`retries`: `opts.retry`);
/// `is_failure` comes from [`retryable`].
pub fn spawn_blocking_retried<T: Send + 'static>(
    opts: TaskOptions,
    is_failure: fn(&T) -> bool,
    f: impl Fn() -> T + Send + Sync + 'static,
) -> Task<T> {
    retry::on_threads(opts.spec(), is_failure, f)
}

/// Runs the future `f` makes as a coroutine, and a fresh one after a failed run.
pub fn spawn_async_retried<Fut: Future<Output: Send> + Send + 'static>(
    opts: TaskOptions,
    is_failure: fn(&Fut::Output) -> bool,
    f: impl Fn() -> Fut + Send + Sync + 'static,
) -> Task<Fut::Output> {
    retry::as_coroutines(opts.spec(), is_failure, f)
}

/// `limit = N`: at most `n` runs at once (a `u32`, as [`TaskBuilder::limit`]'s).
///
/// # Panics
///
/// If `n` is 0 (the macro rejects a literal 0; this is an expression's).
#[track_caller]
pub fn limit(n: u32) -> Option<NonZeroU32> {
    let Some(n) = NonZeroU32::new(n) else {
        panic!("atasker: `limit = 0`: a limit must be at least 1");
    };
    Some(n)
}

/// How a failure of a task with `retries` is told: its return type must be
/// [`Retryable`] (the macro's check, at the return type).
pub fn retryable<R: Retryable>() -> fn(&R) -> bool {
    R::is_failure
}

/// Each run of a task with `retries` gets a copy of its arguments: `again(&arg)`.
#[diagnostic::on_unimplemented(
    message = "a task with `retries` runs again with a copy of each argument, so `{Self}` must be `Clone`",
    label = "each run needs its own `{Self}`",
    note = "derive or implement `Clone` for it, or pass something that is (an `Arc<{Self}>`)"
)]
pub trait RetriedArg: Sized {
    /// The copy the next run gets.
    fn again(&self) -> Self;
}

impl<T: Clone> RetriedArg for T {
    fn again(&self) -> Self {
        self.clone()
    }
}

/// A timeout given as a number of seconds (validated non-negative by the macro).
pub fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// A timeout given as an expression: it must be a `Duration`.
pub fn duration(d: Duration) -> Duration {
    d
}
