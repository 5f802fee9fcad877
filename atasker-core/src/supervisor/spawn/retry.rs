//! Retries: a task whose run fails (an `Err`, a panic, a deadline, a lost worker process) is
//! run again after an exponential backoff with full jitter, up to its `retries`; its
//! [`Task`] resolves once, with the last run's outcome.
//!
//! Each run is a task of its own (admitted, queued, counted in the stats as one task), made
//! by the same way in as a task without retries; one handle ([`Attempts`] owns its cell)
//! stands for all of them. A driver on the supervisor's runtime awaits each run and sleeps
//! through the backoff, holding no slot. Cancelling the handle cancels the run going on (or
//! the wait) and ends the driver; a stop waits for a waiting retry as for a delayed task, and
//! a stop deadline cancels it.

use super::coroutine::DropGuard;
use super::Spec;
use crate::backoff::unit_random;
pub use crate::backoff::Retry;
use crate::error::TaskError;
use crate::kind::{Outcome, PoolKind};
use crate::priority::Priority;
use crate::stats::NameRef;
use crate::supervisor::{Inner, Supervisor};
use crate::sync::lock;
use crate::task::{Control, DeadlineGuard, Header, NewTask, Owner, Task, TaskCell, QUEUED};
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a task with retries returns: a [`Result`], whose `Err` is run again.
///
/// Sealed: only `Result` implements it, because a cluster node tells a remote task's `Err`
/// from the bytes of its result (bincode writes `Err` as variant 1).
#[diagnostic::on_unimplemented(
    message = "a task with `retries` must return a `Result`, not `{Self}`",
    label = "an `Err` is what makes a task run again",
    note = "return `Result<T, E>` (a panic, a deadline or a lost worker process is retried too)"
)]
pub trait Retryable: sealed::Sealed {
    /// Whether this value is a failure to run again (`Err`).
    fn is_failure(&self) -> bool;
}

mod sealed {
    /// Keeps [`Retryable`](super::Retryable) to the types it is made for.
    pub trait Sealed {}
    impl<T, E> Sealed for Result<T, E> {}
}

impl<T, E> Retryable for Result<T, E> {
    fn is_failure(&self) -> bool {
        self.is_err()
    }
}

/// Whether a run's outcome calls for another run: an `Err` value, a panic, a deadline or a
/// lost worker process; never a cancel, a stop or a refusal.
fn failed<R>(r: &Result<R, TaskError>, is_failure: fn(&R) -> bool) -> bool {
    match r {
        Ok(v) => is_failure(v),
        Err(e) => e.is_retried(),
    }
}

/// The owner of a retried task's handle: it counts nothing (each run counts as a task), and
/// hands a pool thread that waits for the task the run that is queued.
struct Attempts {
    inner: Arc<Inner>,
    /// The run going on, if it has a cell.
    current: Mutex<Option<Arc<dyn Control>>>,
}

impl Owner for Attempts {
    fn started(&self, _: &Header, _: Duration) {}
    fn finished(&self, _: &Header, _: bool, _: Outcome, _: Option<Duration>) {}
    fn released(&self, h: &Header) {
        self.inner.untrack(h);
        self.inner.pending.dec();
    }
    fn kill(&self, _: &Header) {}
    fn deadline(&self, _: Arc<dyn Control>, _: Duration) -> Option<DeadlineGuard> {
        None
    }
    fn take_queued_here(&self, _: &Header) -> Option<Box<dyn FnOnce() + Send>> {
        let run = lock(&self.current).clone()?;
        let h = run.header();
        (h.state() == QUEUED).then(|| h.sup.take_queued_here(h))?
    }
    fn logs_end(&self) -> bool {
        false
    }
}

/// What each run of a retried task is made with (a [`Spec`] without its supervisor).
#[derive(Clone, Copy)]
struct Plan {
    name: &'static str,
    priority: Priority,
    pool: PoolKind,
    delay: Option<Duration>,
    timeout: Option<Duration>,
    limit: Option<NonZeroU32>,
    for_worker: bool,
    retry: Retry,
}

impl Plan {
    /// The spec of one run: admitted always (it is part of a task admitted already).
    fn spec<'a>(&self, sup: &'a Supervisor) -> Spec<'a> {
        Spec {
            name: self.name,
            priority: self.priority,
            timeout: self.timeout,
            limit: self.limit,
            for_worker: self.for_worker,
            admitted: true,
            ..Spec::new(sup)
        }
    }
}

/// How a retried task's runs are made: `run` starts one (a task of `pool`), `map` turns
/// its result into the task's, `is_failure` tells whether a value calls for another run
/// ([`Retryable::is_failure`]).
pub(crate) struct Runs<R, F, M> {
    pub(crate) pool: PoolKind,
    pub(crate) run: F,
    pub(crate) map: M,
    pub(crate) is_failure: fn(&R) -> bool,
}

/// Runs `f` on the thread pool of `spec`'s supervisor, again after a failed run.
pub(crate) fn on_threads<T, F>(spec: Spec<'_>, is_failure: fn(&T) -> bool, f: F) -> Task<T>
where
    F: Fn() -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    let f = Arc::new(f);
    let run = move |spec: Spec<'_>| {
        let f = f.clone();
        super::spawn_thread(spec, move || f())
    };
    spawn_retried(spec, Runs::direct(PoolKind::Threads, run, is_failure))
}

/// Runs the future `f` makes as a coroutine, and a fresh one after a failed run.
pub(crate) fn as_coroutines<F, Fut>(
    spec: Spec<'_>,
    is_failure: fn(&Fut::Output) -> bool,
    f: F,
) -> Task<Fut::Output>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output: Send> + Send + 'static,
{
    let run = move |spec: Spec<'_>| super::coroutine::spawn(spec, f());
    spawn_retried(spec, Runs::direct(PoolKind::Coroutines, run, is_failure))
}

/// A run's result as it is.
fn as_is<R>(r: Result<R, TaskError>) -> Result<R, TaskError> {
    r
}

impl<R, F> Runs<R, F, fn(Result<R, TaskError>) -> Result<R, TaskError>> {
    /// Runs whose result is the task's.
    fn direct(pool: PoolKind, run: F, is_failure: fn(&R) -> bool) -> Self {
        Runs {
            pool,
            run,
            map: as_is,
            is_failure,
        }
    }
}

/// Runs the task of `spec` (which has a `retry`) as the runs `runs` makes, behind one
/// handle.
pub(crate) fn spawn_retried<R, X, F, M>(spec: Spec<'_>, runs: Runs<R, F, M>) -> Task<R>
where
    R: Send + 'static,
    X: Send + 'static,
    F: Fn(Spec<'_>) -> Task<X> + Send + Sync + 'static,
    M: Fn(Result<X, TaskError>) -> Result<R, TaskError> + Send + Sync + 'static,
{
    let inner = &spec.sup.inner;
    let pool = runs.pool;
    let refused = |e| Task::failed(inner.clone(), spec.name, spec.priority, pool, e);
    let handle = match inner.handle() {
        Ok(h) => h.clone(),
        Err(e) => return refused(e),
    };
    if !inner.admit(spec.for_worker) {
        return refused(TaskError::SupervisorStopped);
    }
    let owner = Arc::new(Attempts {
        inner: inner.clone(),
        current: Mutex::default(),
    });
    let task = NewTask {
        sup: owner.clone(),
        name: spec.name,
        priority: spec.priority,
        pool,
        timeout: spec.timeout,
        limit: spec.limit,
        by_name: NameRef::uncounted(),
    };
    let outer = TaskCell::<R>::new(task, QUEUED);
    inner.track(outer.clone());
    let plan = Plan {
        name: spec.name,
        priority: spec.priority,
        pool,
        delay: spec.delay,
        timeout: spec.timeout,
        limit: spec.limit,
        for_worker: spec.for_worker,
        retry: spec.retry.unwrap_or(Retry::new(0)),
    };
    // Made before the spawn: a driver dropped unpolled (a runtime shutting down) still
    // resolves the handle.
    let end = DropGuard(outer.clone());
    let driver = handle.spawn(drive(plan, owner, end, runs));
    outer.set_abort(driver.abort_handle());
    Task::from_cell(outer)
}

/// The driver of a retried task: each run, then the backoff, until a run succeeds, fails
/// for good or the retries are spent; then the handle's result.
async fn drive<R, X, F, M>(plan: Plan, owner: Arc<Attempts>, end: DropGuard<R>, runs: Runs<R, F, M>)
where
    R: Send + 'static,
    X: Send + 'static,
    F: Fn(Spec<'_>) -> Task<X> + Send + Sync + 'static,
    M: Fn(Result<X, TaskError>) -> Result<R, TaskError> + Send + Sync + 'static,
{
    let sup = Supervisor {
        inner: owner.inner.clone(),
    };
    // Dropped unfinished (a cancel aborts the driver, as a stop deadline or the runtime's
    // end does), `end` resolves the handle `Cancelled`.
    let outer = end.0.clone();
    let mut wait = plan.delay;
    let mut n = 0;
    loop {
        if let Some(d) = wait.take() {
            pause(d).await;
        }
        if outer.header().state() != QUEUED {
            return; // cancelled (before its abort handle was set, say)
        }
        let task = (runs.run)(plan.spec(&sup));
        *lock(&owner.current) = task.control();
        // A pool thread waiting for the handle may run this run itself, if it queued.
        outer.nudge();
        let r = (runs.map)(CancelOnDrop(Some(task)).finish().await);
        *lock(&owner.current) = None;
        let again = failed(&r, runs.is_failure);
        if n >= plan.retry.retries || !again || outer.header().state() != QUEUED {
            outer.finish(QUEUED, r);
            return;
        }
        n += 1;
        let d = plan.retry.delay(n, unit_random());
        owner.inner.count_retry(&plan, n, d, &r);
        wait = Some(d);
    }
}

impl Inner {
    /// Counts and logs that run `n` of a task failed and it runs again after `d`.
    fn count_retry<R>(&self, plan: &Plan, n: u32, d: Duration, r: &Result<R, TaskError>) {
        let (pool, p, name) = (plan.pool, plan.priority, plan.name);
        self.stats.retried(pool, p);
        let by_name = self.stats.name(name);
        by_name.retried();
        (self.stats.metrics).task_counted(&by_name.metrics, (pool, p), name, true);
        let error = match r {
            Ok(_) => "returned `Err`".to_owned(),
            Err(e) => e.to_string(),
        };
        let (retry, of) = (n, plan.retry.retries);
        tracing::warn!(task = name, priority = %p, pool = %pool, retry, of, delay = d.as_secs_f64(), error, "atasker: task run failed; it runs again");
    }
}

/// Sleeps for `d` (for ever if `d` is past what an `Instant` holds).
async fn pause(d: Duration) {
    match crate::sync::after(d) {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A run awaited by the driver: cancelled if the driver is dropped (the handle was
/// cancelled, a stop deadline came, the runtime shut down) before it ends.
struct CancelOnDrop<X: Send + 'static>(Option<Task<X>>);

impl<X: Send + 'static> CancelOnDrop<X> {
    /// The run's result.
    async fn finish(mut self) -> Result<X, TaskError> {
        let r = match self.0.as_mut() {
            Some(task) => task.await,
            None => Err(TaskError::Consumed),
        };
        self.0 = None;
        r
    }
}

impl<X: Send + 'static> Drop for CancelOnDrop<X> {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.cancel();
        }
    }
}
