//! [`TaskBuilder`]: the options of one task, set by name, and its `spawn` calls.

use super::{coroutine, retry, spawn_thread, Retry, Retryable, Spec};
use crate::priority::Priority;
use crate::task::Task;
use std::future::Future;
use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::time::Duration;

/// Options for one task, made by [`Supervisor::task`](crate::Supervisor::task).
///
/// ```
/// use atasker::{Priority, Supervisor};
/// use std::time::Duration;
/// let t = Supervisor::global()
///     .task()
///     .name("resize")
///     .priority(Priority::High)
///     .timeout(Duration::from_secs(5))
///     .spawn(|| 7);
/// assert_eq!(t.wait(), Ok(7));
/// ```
///
/// With [`retries`](TaskBuilder::retries) it becomes a `TaskBuilder<WithRetry>`, whose
/// `spawn` takes work it can run again (`Fn`, returning a `Result`).
#[must_use = "a task builder does nothing until `spawn` or `spawn_async` is called"]
#[derive(Debug)]
pub struct TaskBuilder<'a, R = NoRetry> {
    pub(super) spec: Spec<'a>,
    _retry: PhantomData<R>,
}

/// A [`TaskBuilder`] state: the task runs once.
#[derive(Debug)]
pub struct NoRetry;

/// A [`TaskBuilder`] state: a failed run is run again ([`TaskBuilder::retries`]).
#[derive(Debug)]
pub struct WithRetry;

impl<'a> TaskBuilder<'a, NoRetry> {
    /// A builder with `spec`'s options.
    pub(super) fn new(spec: Spec<'a>) -> Self {
        TaskBuilder {
            spec,
            _retry: PhantomData,
        }
    }
}

impl<R> TaskBuilder<'_, R> {
    /// The task's name, for logs, spans and hooks. Default: `task`.
    ///
    /// ```
    /// let t = atasker::Supervisor::global().task().name("resize").spawn(|| 1);
    /// assert!(format!("{t:?}").contains("\"resize\""));
    /// assert_eq!(t.wait(), Ok(1));
    /// ```
    pub fn name(mut self, name: &'static str) -> Self {
        self.spec.name = name;
        self
    }

    /// The task's priority. Default: [`Priority::Normal`].
    ///
    /// ```
    /// use atasker::{Priority, Supervisor};
    /// let t = Supervisor::global().task().priority(Priority::Critical).spawn(|| 1);
    /// assert_eq!(t.wait(), Ok(1)); // a CRITICAL task starts at once, even in a full pool
    /// ```
    pub fn priority(mut self, p: Priority) -> Self {
        self.spec.priority = p;
        self
    }

    /// Queue the task only after `d`; it holds no slot while it waits.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let asked = Instant::now();
    /// let t = atasker::Supervisor::global()
    ///     .task()
    ///     .delay(Duration::from_millis(20))
    ///     .spawn(move || asked.elapsed());
    /// assert!(t.wait().unwrap() >= Duration::from_millis(20));
    /// ```
    pub fn delay(mut self, d: Duration) -> Self {
        self.spec.delay = Some(d);
        self
    }

    /// A deadline counted from the moment the task starts: the task fails with
    /// [`TaskError::TimedOut`](crate::TaskError::TimedOut); a coroutine is aborted, a
    /// process task's worker process is killed and replaced, and a thread task (which
    /// cannot be interrupted) is left to finish. With retries, each run has this deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = atasker::Supervisor::global()
    ///     .task()
    ///     .timeout(Duration::from_millis(10))
    ///     .spawn_async(async { tokio::time::sleep(Duration::from_secs(60)).await });
    /// assert_eq!(t.wait(), Err(atasker::TaskError::TimedOut));
    /// ```
    pub fn timeout(mut self, d: Duration) -> Self {
        self.spec.timeout = Some(d);
        self
    }

    /// At most `n` tasks of this name (see [`name`](TaskBuilder::name)) run at once in
    /// this process; the others wait queued, in priority order, holding no slot (a pool
    /// thread that waits for one of them runs it itself, so nested waits never deadlock).
    ///
    /// ```
    /// let t = atasker::Supervisor::global().task().name("plc").limit(1).spawn(|| 1);
    /// assert_eq!(t.wait(), Ok(1));
    /// ```
    ///
    /// # Panics
    ///
    /// If `n` is 0 (no task could ever run).
    #[track_caller]
    pub fn limit(mut self, n: u32) -> Self {
        let Some(n) = NonZeroU32::new(n) else {
            panic!("atasker: `limit(0)`: a limit must be at least 1");
        };
        self.spec.limit = Some(n);
        self
    }

    /// Marks the task as a worker's run (admitted while a stop lets the workers finish).
    pub(crate) fn for_worker(mut self) -> Self {
        self.spec.for_worker = true;
        self
    }
}

impl<'a> TaskBuilder<'a, NoRetry> {
    /// A failed run (an `Err`, a panic, a deadline, a lost worker process) is run again, up
    /// to `n` more times, after a backoff (see [`backoff`](TaskBuilder::backoff)); the
    /// handle resolves once, with the last run's outcome. A cancel or a stop is never
    /// retried, and a waiting retry holds no slot. Each run counts as a task in the stats
    /// (and `retried` counts the runs followed by another).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let runs = Arc::new(AtomicU32::new(0));
    /// let seen = runs.clone();
    /// let t = atasker::Supervisor::global()
    ///     .task()
    ///     .retries(3)
    ///     .backoff(Duration::from_millis(5))
    ///     .spawn(move || match seen.fetch_add(1, SeqCst) {
    ///         0 | 1 => Err("not yet"),
    ///         n => Ok(n),
    ///     });
    /// assert_eq!(t.wait(), Ok(Ok(2)));
    /// assert_eq!(runs.load(SeqCst), 3);
    /// ```
    pub fn retries(self, n: u32) -> TaskBuilder<'a, WithRetry> {
        let spec = Spec {
            retry: Some(Retry::new(n)),
            ..self.spec
        };
        TaskBuilder::new(spec).retried()
    }

    /// The same options, with the spec's retry (a macro's `retries`; none: 0 retries).
    pub(super) fn retried(self) -> TaskBuilder<'a, WithRetry> {
        TaskBuilder {
            spec: self.spec,
            _retry: PhantomData,
        }
    }

    /// Runs `f` on the thread pool.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().thread_pool(2).build().unwrap();
    /// let t = sup.task().spawn(|| 2 + 2);
    /// assert_eq!(t.wait(), Ok(4));
    /// ```
    pub fn spawn<T, F>(self, f: F) -> Task<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_thread(self.spec, f)
    }

    /// Runs `fut` as a coroutine on the supervisor's runtime.
    ///
    /// ```
    /// let t = atasker::Supervisor::global().task().spawn_async(async { 5 });
    /// assert_eq!(t.wait(), Ok(5));
    /// ```
    pub fn spawn_async<F>(self, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        coroutine::spawn(self.spec, fut)
    }
}

impl TaskBuilder<'_, WithRetry> {
    fn retry(&mut self) -> &mut Retry {
        self.spec.retry.get_or_insert(Retry::new(0))
    }

    /// The base of the backoff: retry `n` waits a time drawn uniformly from
    /// `0..=min(d × 2^(n-1), backoff_max)` (full jitter). Default 1 s.
    pub fn backoff(mut self, d: Duration) -> Self {
        self.retry().backoff = d;
        self
    }

    /// The cap of every retry's wait. Default 10 min.
    pub fn backoff_max(mut self, d: Duration) -> Self {
        self.retry().backoff_max = d;
        self
    }

    /// Runs `f` on the thread pool, again after a failed run (see
    /// [`retries`](TaskBuilder::retries)).
    pub fn spawn<T, F>(self, f: F) -> Task<T>
    where
        F: Fn() -> T + Send + Sync + 'static,
        T: Retryable + Send + 'static,
    {
        retry::on_threads(self.spec, T::is_failure, f)
    }

    /// Runs the future `f` makes as a coroutine, and a fresh one after a failed run (see
    /// [`retries`](TaskBuilder::retries)).
    ///
    /// ```
    /// let t = atasker::Supervisor::global()
    ///     .task()
    ///     .retries(2)
    ///     .spawn_async(|| async { Ok::<_, String>(5) });
    /// assert_eq!(t.wait(), Ok(Ok(5)));
    /// ```
    pub fn spawn_async<F, Fut>(self, f: F) -> Task<Fut::Output>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Retryable + Send + 'static,
    {
        retry::as_coroutines(self.spec, <Fut::Output>::is_failure, f)
    }
}
