//! Every way in to an executor, and the one path they share: options ([`Spec`],
//! [`TaskOptions`], [`TaskBuilder`]), admission, the task's cell, its delay, and the
//! hand-over to its pool.
//!
//! - `thread.rs`: a closure on the thread pool;
//! - `coroutine.rs`: a future on the runtime (plain coroutines as one tokio task each);
//! - `process.rs`: a registered static fn in the process pool (typed, or bytes for a node);
//! - `remote.rs`: a static fn on a node of the cluster, through the producer.

mod coroutine;
mod process;
mod remote;
mod thread;

pub(crate) use coroutine::release_ended;
pub(crate) use process::{spawn_raw, spawn_static};
pub(crate) use remote::spawn_remote;
pub(crate) use thread::spawn_thread;

use super::*;

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
        TaskBuilder {
            spec: Spec::new(self),
        }
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
}

impl TaskOptions {
    /// The spec of one call of a `#[background_task]` fn.
    pub(crate) fn spec(self) -> Spec<'static> {
        Spec {
            name: self.name,
            priority: self.priority,
            timeout: self.timeout,
            delay: self.delay,
            ..Spec::new(self.supervisor.unwrap_or_else(Supervisor::global))
        }
    }
}

/// Options for one task, made by [`Supervisor::task`].
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
#[must_use = "a task builder does nothing until `spawn` or `spawn_async` is called"]
#[derive(Debug)]
pub struct TaskBuilder<'a> {
    spec: Spec<'a>,
}

impl TaskBuilder<'_> {
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
    /// [`TaskError::TimedOut`]; a coroutine is aborted, a process task's worker process is
    /// killed and replaced, and a thread task (which cannot be interrupted) is left to finish.
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

    /// Marks the task as a worker's run (admitted while a stop lets the workers finish).
    pub(crate) fn for_worker(mut self) -> Self {
        self.spec.for_worker = true;
        self
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
        if !self.admit(spec.for_worker) {
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
        (self.stats.metrics).task_submitted(&by_name.metrics, pool, spec.priority, spec.name);
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

/// A timeout given as a number of seconds (validated non-negative by the macro).
pub fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// A timeout given as an expression: it must be a `Duration`.
pub fn duration(d: Duration) -> Duration {
    d
}
