//! The supervisor: one owner for the thread pool, the process pool, the coroutine runtime,
//! the queue-wait watchdog and the workers.

use crate::error::{BuildError, TaskError};
use crate::ladder::{Limits, Overdue};
use crate::priority::Priority;
use crate::process_pool::ProcessPool;
use crate::stats::{Stats, StatsCells};
use crate::task::{
    CatchUnwind, Control, Header, PoolKind, Task, TaskCell, TaskId, TaskInfo, QUEUED, RUNNING,
};
use crate::thread_pool::{BlockingJob, Job, ThreadPool};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Supervisor phases (`Inner::phase`).
const OPEN: u8 = 0;
const DRAINING: u8 = 1;
const CLOSED: u8 = 2;

/// A queue-wait hook.
pub(crate) type Hook = Arc<dyn Fn(&TaskInfo) + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The settings a supervisor was built with.
#[derive(Clone)]
struct Config {
    name: String,
    thread_pool: usize,
    reserve_normal: usize,
    reserve_high: usize,
    process_pool: usize,
    process_reserve_normal: usize,
    process_reserve_high: usize,
    runtime_threads: usize,
    timeout_warning: Duration,
    timeout_critical: Duration,
    on_warning: Option<Hook>,
    on_critical: Option<Hook>,
    runtime: Option<tokio::runtime::Handle>,
}

impl Default for Config {
    fn default() -> Self {
        let cores = cores();
        Config {
            name: "default".into(),
            thread_pool: cores * 5,
            reserve_normal: 5,
            reserve_high: 5,
            process_pool: cores,
            process_reserve_normal: 0,
            process_reserve_high: 0,
            runtime_threads: cores,
            timeout_warning: Duration::from_secs(5),
            timeout_critical: Duration::from_secs(10),
            on_warning: None,
            on_critical: None,
            runtime: None,
        }
    }
}

/// Builds a [`Supervisor`]. Made by [`Supervisor::builder`].
///
/// ```
/// use atasker::{Supervisor, TaskInfo};
/// use std::time::Duration;
/// let sup = Supervisor::builder()
///     .name("plant")
///     .thread_pool(20)          // LOW may use 20 threads
///     .reserve_normal(5)        // NORMAL may use 25
///     .reserve_high(5)          // HIGH may use 30; CRITICAL always starts at once
///     .process_pool(4)
///     .timeout_warning(Duration::from_secs(5))
///     .timeout_critical(Duration::from_secs(10))
///     .on_timeout_warning(|t: &TaskInfo| eprintln!("{} waits", t.name))
///     .build()
///     .unwrap();
/// # drop(sup);
/// ```
#[must_use = "a builder does nothing until `build` or `build_global` is called"]
pub struct SupervisorBuilder {
    config: Config,
}

impl SupervisorBuilder {
    /// The supervisor's name; its threads are named `atasker-<name>-…`. Default: `default`.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().name("plant").build().unwrap();
    /// let thread = sup.task().spawn(|| std::thread::current().name().map(str::to_owned));
    /// assert!(thread.wait().unwrap().unwrap().starts_with("atasker-plant-"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Threads for LOW tasks (the base of the ladder). Default: cores × 5. At least 1.
    ///
    /// Threads start lazily, one per busy slot, and are kept.
    ///
    /// ```
    /// use atasker::Supervisor;
    /// let sup = Supervisor::builder().thread_pool(2).build().unwrap();
    /// let tasks: Vec<_> = (0..4).map(|i| sup.task().spawn(move || i * 10)).collect();
    /// assert_eq!(atasker::wait_completed(tasks, None), Ok(vec![0, 10, 20, 30]));
    /// assert!(Supervisor::builder().thread_pool(0).build().is_err());
    /// ```
    pub fn thread_pool(mut self, n: usize) -> Self {
        self.config.thread_pool = n;
        self
    }

    /// Extra threads NORMAL tasks may use. Default: 5.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder()
    ///     .thread_pool(2)     // LOW tasks may use 2 threads
    ///     .reserve_normal(1)  // NORMAL tasks 3
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(sup.task().spawn(|| 1).wait(), Ok(1));
    /// ```
    pub fn reserve_normal(mut self, n: usize) -> Self {
        self.config.reserve_normal = n;
        self
    }

    /// Extra threads HIGH tasks may use above NORMAL's. Default: 5.
    ///
    /// ```
    /// use atasker::{Priority, Supervisor};
    /// let sup = Supervisor::builder()
    ///     .thread_pool(2)     // LOW tasks may use 2 threads
    ///     .reserve_normal(1)  // NORMAL tasks 3
    ///     .reserve_high(1)    // HIGH tasks 4; CRITICAL ones start at once, always
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(sup.task().priority(Priority::High).spawn(|| 1).wait(), Ok(1));
    /// ```
    pub fn reserve_high(mut self, n: usize) -> Self {
        self.config.reserve_high = n;
        self
    }

    /// Worker processes for LOW static tasks (`#[background_task(static)]`, and the runs of
    /// `static` workers). Default: cores. At least 1.
    ///
    /// The process pool runs on **Linux only** for now: elsewhere a static task fails with
    /// [`TaskError::Unavailable`]. Worker processes are copies of the running executable,
    /// started lazily (one per busy slot) and kept; each runs one task at a time, in a
    /// process group of its own (a Ctrl-C in the terminal does not reach it: the parent's
    /// [`Supervisor::stop`] lets it finish, [`Supervisor::stop_timeout`] kills it at the
    /// deadline), and dies with the parent. A static task's arguments (together) and its
    /// result each cross in a frame of at most **64 MiB**; a larger one fails the task with
    /// [`TaskError::Codec`], saying so.
    ///
    /// ```
    /// use atasker::prelude::*;
    ///
    /// let sup = Supervisor::builder().process_pool(2).build_global().unwrap();
    ///
    /// #[background_task(static)] // runs on the global supervisor's process pool
    /// fn double(n: u64) -> u64 {
    ///     n * 2
    /// }
    ///
    /// match double(21).wait() {
    ///     Ok(n) => assert_eq!(n, 42),
    ///     Err(TaskError::Unavailable(_)) => {} // not on Linux
    ///     Err(e) => panic!("{e}"),
    /// }
    /// sup.stop();
    /// ```
    pub fn process_pool(mut self, n: usize) -> Self {
        self.config.process_pool = n;
        self
    }

    /// Extra processes NORMAL static tasks may use. Default: 0.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder()
    ///     .process_pool(2)            // LOW static tasks may use 2 processes
    ///     .process_reserve_normal(1)  // NORMAL ones 3
    ///     .build()
    ///     .unwrap();
    /// assert!(!sup.is_stopped());
    /// ```
    pub fn process_reserve_normal(mut self, n: usize) -> Self {
        self.config.process_reserve_normal = n;
        self
    }

    /// Extra processes HIGH static tasks may use above NORMAL's. Default: 0.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder()
    ///     .process_pool(2)            // LOW static tasks may use 2 processes
    ///     .process_reserve_normal(1)  // NORMAL ones 3
    ///     .process_reserve_high(1)    // HIGH ones 4; CRITICAL ones start at once, always
    ///     .build()
    ///     .unwrap();
    /// assert!(!sup.is_stopped());
    /// ```
    pub fn process_reserve_high(mut self, n: usize) -> Self {
        self.config.process_reserve_high = n;
        self
    }

    /// Worker threads of the supervisor's own tokio runtime. Default: cores.
    ///
    /// The runtime is multi-thread, built on first use with every driver enabled (I/O, time,
    /// signals), and its threads are named `atasker-<name>-rt`. Not used with
    /// [`runtime`](SupervisorBuilder::runtime).
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().runtime_threads(1).build().unwrap();
    /// let t = sup.task().spawn_async(async { std::thread::current().name().map(str::to_owned) });
    /// assert_eq!(t.wait().unwrap().as_deref(), Some("atasker-default-rt"));
    /// ```
    pub fn runtime_threads(mut self, n: usize) -> Self {
        self.config.runtime_threads = n;
        self
    }

    /// Run coroutines on the user's runtime instead of one the supervisor owns: a program that
    /// runs `#[tokio::main]` keeps one runtime. Coroutines then run only while that runtime
    /// does, and a stop deadline cancels them one by one instead of shutting the runtime down.
    ///
    /// In async code `.await` tasks: on a current-thread runtime
    /// (`#[tokio::main(flavor = "current_thread")]`) a blocking [`Task::wait`] panics, as it
    /// would hang the runtime; on a multi-thread one it works through `block_in_place`.
    ///
    /// ```
    /// # let rt = tokio::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// // inside the user's `#[tokio::main]`:
    /// let sup = atasker::Supervisor::builder()
    ///     .runtime(tokio::runtime::Handle::current())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(sup.task().spawn_async(async { 1 }).await, Ok(1));
    /// # });
    /// ```
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.config.runtime = Some(handle);
        self
    }

    /// A task queued this long gets a `tracing` warning and the warning hook. Default: 5 s.
    /// Not longer than [`timeout_critical`](SupervisorBuilder::timeout_critical).
    ///
    /// The warning goes to `tracing`: without a subscriber it is not shown (see
    /// [`on_timeout_warning`](SupervisorBuilder::on_timeout_warning) for a hook).
    ///
    /// ```
    /// use std::time::Duration;
    /// let sup = atasker::Supervisor::builder()
    ///     .timeout_warning(Duration::from_secs(1))
    ///     .build();
    /// assert!(sup.is_ok());
    /// // longer than the default `timeout_critical` (10 s):
    /// let err = atasker::Supervisor::builder()
    ///     .timeout_warning(Duration::from_secs(30))
    ///     .build();
    /// assert!(err.is_err());
    /// ```
    pub fn timeout_warning(mut self, d: Duration) -> Self {
        self.config.timeout_warning = d;
        self
    }

    /// A task queued this long gets a `tracing` error and the critical hook. Default: 10 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sup = atasker::Supervisor::builder()
    ///     .timeout_warning(Duration::from_secs(1))
    ///     .timeout_critical(Duration::from_secs(3))
    ///     .build()
    ///     .unwrap();
    /// assert!(!sup.is_stopped());
    /// ```
    pub fn timeout_critical(mut self, d: Duration) -> Self {
        self.config.timeout_critical = d;
        self
    }

    /// Called once for each task still queued at `timeout_warning`, on the supervisor's
    /// watchdog thread (a panic in it is contained).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let warned = Arc::new(AtomicUsize::new(0));
    /// let counter = warned.clone();
    /// let sup = atasker::Supervisor::builder()
    ///     .thread_pool(1)
    ///     .reserve_normal(0)
    ///     .reserve_high(0)
    ///     .timeout_warning(Duration::from_millis(20))
    ///     .on_timeout_warning(move |_| {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// let seen = warned.clone();
    /// // Holds the only thread until the hook has fired (or 10 s have passed).
    /// let busy = sup.task().spawn(move || {
    ///     let deadline = std::time::Instant::now() + Duration::from_secs(10);
    ///     while seen.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
    ///         std::thread::sleep(Duration::from_millis(1));
    ///     }
    /// });
    /// let queued = sup.task().spawn(|| ()); // waits for the only thread
    /// queued.wait().unwrap();
    /// busy.wait().unwrap();
    /// assert_eq!(warned.load(Ordering::SeqCst), 1);
    /// ```
    pub fn on_timeout_warning(mut self, f: impl Fn(&TaskInfo) + Send + Sync + 'static) -> Self {
        self.config.on_warning = Some(Arc::new(f));
        self
    }

    /// Called once for each task still queued at `timeout_critical`, on the supervisor's
    /// watchdog thread (a panic in it is contained).
    ///
    /// ```
    /// use atasker::TaskInfo;
    /// let sup = atasker::Supervisor::builder()
    ///     .on_timeout_critical(|t: &TaskInfo| {
    ///         eprintln!("task {} ({}, {}) queued for {:?}", t.id, t.name, t.priority, t.waited)
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(sup.task().spawn(|| 1).wait(), Ok(1));
    /// ```
    pub fn on_timeout_critical(mut self, f: impl Fn(&TaskInfo) + Send + Sync + 'static) -> Self {
        self.config.on_critical = Some(Arc::new(f));
        self
    }

    /// Builds a private supervisor. Give it to the macros with `supervisor = EXPR` (a
    /// `&'static Supervisor`) or to the worker builders with `.supervisor(&sup)`.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().name("private").build()?;
    /// assert_eq!(sup.task().spawn(|| 1).wait(), Ok(1));
    /// sup.stop();
    /// # Ok::<(), atasker::BuildError>(())
    /// ```
    pub fn build(self) -> Result<Supervisor, BuildError> {
        let c = self.config;
        if c.thread_pool == 0 {
            return Err(BuildError::InvalidConfig("thread_pool must be at least 1"));
        }
        if c.process_pool == 0 {
            return Err(BuildError::InvalidConfig("process_pool must be at least 1"));
        }
        if c.runtime.is_none() && c.runtime_threads == 0 {
            return Err(BuildError::InvalidConfig(
                "runtime_threads must be at least 1",
            ));
        }
        if c.timeout_warning > c.timeout_critical {
            return Err(BuildError::InvalidConfig(
                "timeout_warning must not be longer than timeout_critical",
            ));
        }
        let threads = ThreadPool::new(
            &c.name,
            Limits::new(c.thread_pool, c.reserve_normal, c.reserve_high),
        );
        let processes = ProcessPool::new(
            &c.name,
            Limits::new(
                c.process_pool,
                c.process_reserve_normal,
                c.process_reserve_high,
            ),
        );
        Ok(Supervisor {
            inner: Arc::new(Inner {
                stats: StatsCells::default(),
                threads,
                processes,
                runtime: Mutex::new(None),
                rt_handle: OnceLock::new(),
                phase: AtomicU8::new(OPEN),
                stop_ended: Default::default(),
                pending: Pending::default(),
                live: Default::default(),
                workers: Mutex::new(Vec::new()),
                watchdog: Arc::default(),
                config: c,
            }),
        })
    }

    /// Builds the global supervisor that [`Supervisor::global`] returns.
    ///
    /// Fails with [`BuildError::GlobalExists`] once the global supervisor exists (built here
    /// or by a first call of `Supervisor::global()`, which the first task or worker on the
    /// global supervisor makes): call it first thing in `main`.
    ///
    /// ```
    /// use atasker::{BuildError, Supervisor};
    /// let sup = Supervisor::builder().name("app").build_global()?;
    /// assert!(std::ptr::eq(sup, Supervisor::global()));
    /// assert!(matches!(Supervisor::builder().build_global(), Err(BuildError::GlobalExists)));
    /// # Ok::<(), BuildError>(())
    /// ```
    pub fn build_global(self) -> Result<&'static Supervisor, BuildError> {
        let sup = self.build()?;
        let mut fresh = false;
        let global = GLOBAL.get_or_init(|| {
            fresh = true;
            sup
        });
        if fresh {
            Ok(global)
        } else {
            Err(BuildError::GlobalExists)
        }
    }
}

impl fmt::Debug for SupervisorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorBuilder")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

static GLOBAL: OnceLock<Supervisor> = OnceLock::new();

/// One task supervisor for threads, processes and coroutines.
///
/// It owns a thread pool and a process pool, both governed by the priority ladder (see
/// [`Priority`]), a tokio runtime for coroutines (or the user's, see
/// [`SupervisorBuilder::runtime`]), and the workers. Cheap to clone: clones share one
/// supervisor.
///
/// ```
/// use atasker::{Priority, Supervisor};
/// let sup = Supervisor::builder().name("doc").thread_pool(2).build().unwrap();
/// let t = sup.task().priority(Priority::High).spawn(|| 2 + 2);
/// assert_eq!(t.wait(), Ok(4));
/// sup.stop();
/// ```
#[derive(Clone)]
pub struct Supervisor {
    pub(crate) inner: Arc<Inner>,
}

impl Supervisor {
    /// A builder for a supervisor with custom settings.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().thread_pool(4).build().unwrap();
    /// assert_eq!(sup.task().spawn(|| 1).wait(), Ok(1));
    /// ```
    pub fn builder() -> SupervisorBuilder {
        SupervisorBuilder {
            config: Config::default(),
        }
    }

    /// The global supervisor, built with the defaults on first use unless
    /// [`SupervisorBuilder::build_global`] built it before. Always the same reference.
    ///
    /// Defaults: thread pool = cores × 5, reserves 5/5; process pool = cores, reserves 0/0;
    /// queue-wait warnings at 5 s and 10 s. Threads and processes start lazily.
    ///
    /// ```
    /// let a = atasker::Supervisor::global();
    /// let b = atasker::Supervisor::global();
    /// assert!(std::ptr::eq(a, b));
    /// ```
    pub fn global() -> &'static Supervisor {
        GLOBAL.get_or_init(|| {
            Supervisor::builder()
                .build()
                .expect("the default supervisor settings are valid")
        })
    }

    /// The supervisor's name.
    ///
    /// ```
    /// assert_eq!(atasker::Supervisor::global().name(), "default");
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

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
            sup: self,
            name: "task",
            priority: Priority::Normal,
            delay: None,
            timeout: None,
            for_worker: false,
        }
    }

    /// Stops the supervisor: new tasks fail with [`TaskError::SupervisorStopped`], every
    /// worker stops, queued tasks still run, and the call returns once every task is done.
    /// Idempotent. A stop is final: the supervisor's workers cannot start again.
    ///
    /// A queue worker's waiting items are queued work too: they are all served before the
    /// worker stops for good (see [`QueueWorker::take_remaining`] for what a
    /// [`stop_timeout`](Supervisor::stop_timeout) leaves). Running static tasks finish in
    /// their worker processes, which then exit.
    ///
    /// # Panics
    ///
    /// When it has to wait on a thread that drives a current-thread tokio runtime (which
    /// would hang for good), as [`Task::wait`].
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().build().unwrap();
    /// let t = sup.task().spawn(|| 1);
    /// sup.stop();
    /// assert_eq!(t.wait(), Ok(1));
    /// assert_eq!(sup.task().spawn(|| 2).wait(), Err(atasker::TaskError::SupervisorStopped));
    /// ```
    ///
    /// [`QueueWorker::take_remaining`]: crate::QueueWorker::take_remaining
    pub fn stop(&self) {
        self.inner.stop(None);
    }

    /// Like [`stop`](Supervisor::stop), but at the deadline queued tasks get
    /// [`TaskError::Cancelled`], running coroutines are aborted and running process tasks
    /// killed (both `Cancelled`); running thread tasks cannot be interrupted and finish on
    /// their own. Returns by the deadline.
    ///
    /// Queue workers are served until the deadline; the items still waiting then are reported
    /// by a `tracing` error with their count and handed back by
    /// [`QueueWorker::take_remaining`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let sup = atasker::Supervisor::builder().build().unwrap();
    /// let t = sup.task().delay(Duration::from_secs(60)).spawn(|| 1);
    /// sup.stop_timeout(Duration::from_millis(50));
    /// assert_eq!(t.wait(), Err(atasker::TaskError::Cancelled));
    /// ```
    ///
    /// [`QueueWorker::take_remaining`]: crate::QueueWorker::take_remaining
    pub fn stop_timeout(&self, timeout: Duration) {
        self.inner.stop(Some(Instant::now() + timeout));
    }

    /// Waits, without blocking a thread, until a [`stop`](Supervisor::stop) or
    /// [`stop_timeout`](Supervisor::stop_timeout) call (made anywhere) has returned: for async
    /// code, where a blocking `stop()` on a runtime thread would stall that runtime. Returns at
    /// once if a stop has already ended; never returns if nobody stops the supervisor.
    ///
    /// ```
    /// let sup: &'static atasker::Supervisor =
    ///     Box::leak(Box::new(atasker::Supervisor::builder().build().unwrap()));
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// rt.block_on(async {
    ///     let t = sup.task().spawn(|| 1);
    ///     std::thread::spawn(move || sup.stop()); // e.g. a signal handler's thread
    ///     sup.stopped().await;
    ///     assert!(t.is_finished());
    /// });
    /// ```
    pub async fn stopped(&self) {
        self.inner.stop_ended.wait(false).await;
    }

    /// Whether [`stop`](Supervisor::stop) (or [`stop_timeout`](Supervisor::stop_timeout)) was
    /// called.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().build().unwrap();
    /// assert!(!sup.is_stopped());
    /// sup.stop();
    /// assert!(sup.is_stopped());
    /// ```
    pub fn is_stopped(&self) -> bool {
        self.inner.phase.load(SeqCst) != OPEN
    }

    /// A snapshot of the counters: per pool and priority, and per worker. Serializable with
    /// serde; see [`Stats`] for the shape of its JSON.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().build().unwrap();
    /// let json = serde_json::to_string(&sup.stats()).unwrap();
    /// assert!(json.contains("\"max_wait\""));
    /// ```
    pub fn stats(&self) -> Stats {
        let inner = &self.inner;
        Stats {
            threads: inner.stats.snapshot(PoolKind::Threads),
            processes: inner.stats.snapshot(PoolKind::Processes),
            coroutines: inner.stats.snapshot(PoolKind::Coroutines),
            pool_threads: inner.threads.load().0,
            workers: inner.workers().iter().map(|w| w.stats()).collect(),
        }
    }

    /// Runs `f` on the thread pool at `opts`' priority (the path behind `#[background_task]`).
    pub(crate) fn spawn_with<T, F>(&self, opts: Spec, f: F) -> Task<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.inner.spawn_blocking(opts, f)
    }

    /// Runs `fut` on the coroutine runtime.
    pub(crate) fn spawn_async_with<F>(&self, opts: Spec, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.spawn_async(opts, fut)
    }
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("Supervisor")
            .field("name", &c.name)
            .field(
                "thread_pool",
                &(c.thread_pool, c.reserve_normal, c.reserve_high),
            )
            .field(
                "process_pool",
                &(
                    c.process_pool,
                    c.process_reserve_normal,
                    c.process_reserve_high,
                ),
            )
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

/// What one task is started with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) priority: Priority,
    pub(crate) delay: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    /// A worker's run: admitted while a stop lets the workers finish.
    pub(crate) for_worker: bool,
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
    sup: &'a Supervisor,
    name: &'static str,
    priority: Priority,
    delay: Option<Duration>,
    timeout: Option<Duration>,
    for_worker: bool,
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
        self.name = name;
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
        self.priority = p;
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
        self.delay = Some(d);
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
        self.timeout = Some(d);
        self
    }

    /// Marks the task as a worker's run (admitted while a stop lets the workers finish).
    pub(crate) fn for_worker(mut self) -> Self {
        self.for_worker = true;
        self
    }

    fn spec(&self) -> Spec {
        Spec {
            name: self.name,
            priority: self.priority,
            delay: self.delay,
            timeout: self.timeout,
            for_worker: self.for_worker,
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
        self.sup.spawn_with(self.spec(), f)
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
        self.sup.spawn_async_with(self.spec(), fut)
    }
}

/// Counts tasks not yet finished, so that `stop` can wait for zero without polling.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) n: AtomicUsize,
    waiters: AtomicUsize,
    lock: Mutex<()>,
    zero: Condvar,
}

impl Pending {
    fn inc(&self) {
        self.n.fetch_add(1, SeqCst);
    }

    fn dec(&self) {
        if self.n.fetch_sub(1, SeqCst) == 1 && self.waiters.load(SeqCst) > 0 {
            let _g = lock(&self.lock);
            self.zero.notify_all();
        }
    }

    /// Waits until at most `allowed` tasks are pending; `false` at the deadline.
    fn wait(&self, allowed: usize, deadline: Option<Instant>) -> bool {
        self.waiters.fetch_add(1, SeqCst);
        let mut g = lock(&self.lock);
        let ok = loop {
            if self.n.load(SeqCst) <= allowed {
                break true;
            }
            // `dec` notifies only at zero; with `allowed > 0` re-check now and then.
            let step = if allowed > 0 {
                Duration::from_millis(20)
            } else {
                Duration::from_secs(3600)
            };
            let wait = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break false;
                    }
                    (d - now).min(step)
                }
                None => step,
            };
            g = self
                .zero
                .wait_timeout(g, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        drop(g);
        self.waiters.fetch_sub(1, SeqCst);
        ok
    }
}

thread_local! {
    /// The supervisor whose task this thread is running, if any (its address).
    static CURRENT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Marks the current thread as running a task of `inner` while the guard lives.
pub(crate) struct CurrentGuard(usize);

impl CurrentGuard {
    pub(crate) fn enter(inner: &Inner) -> Self {
        CurrentGuard(CURRENT.with(|c| c.replace(inner as *const Inner as usize)))
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// The queue-wait watchdog: one thread per supervisor, started on the first queued task,
/// sleeping until the next task becomes overdue.
#[derive(Default)]
pub(crate) struct Watchdog {
    state: Mutex<WatchState>,
    wake: Condvar,
}

#[derive(Default)]
struct WatchState {
    started: bool,
    /// The supervisor is gone.
    closed: bool,
    /// The watchdog sleeps until then; `None`: until poked.
    next: Option<Instant>,
    /// A task queued since the watchdog's last scan may be due before `next`.
    poked: bool,
}

/// Task ids are unique sequential numbers: hash them as themselves.
type IdHash = std::hash::BuildHasherDefault<IdHasher>;
#[derive(Default)]
struct IdHasher(u64);
impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = (self.0 << 8) | u64::from(x);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One shard of the table of live coroutines and delayed tasks.
type LiveTable = HashMap<TaskId, Arc<dyn Control>, IdHash>;

/// Shards of the table of live coroutines, so that spawning and finishing rarely contend.
const LIVE_SHARDS: usize = 16;

/// The shared state of a supervisor.
pub(crate) struct Inner {
    config: Config,
    pub(crate) stats: StatsCells,
    threads: ThreadPool,
    pub(crate) processes: ProcessPool,
    /// The runtime the supervisor owns (none with `.runtime(handle)`), built on first use.
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    /// A handle to the runtime in use, once known (or why it could not start).
    rt_handle: OnceLock<Result<tokio::runtime::Handle, String>>,
    /// `OPEN`, then `DRAINING` while a stop lets the workers finish, then `CLOSED`.
    phase: AtomicU8,
    /// Set when a `stop` call has returned (for [`Supervisor::stopped`]).
    stop_ended: crate::worker::Signal,
    pending: Pending,
    /// Coroutines and delayed tasks, so that a stop deadline can cancel them.
    live: [Mutex<LiveTable>; LIVE_SHARDS],
    /// Every worker made on this supervisor (for `stats` and `stop`).
    workers: Mutex<Vec<Weak<crate::worker::Core>>>,
    watchdog: Arc<Watchdog>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        lock(&self.watchdog.state).closed = true;
        self.watchdog.wake.notify_all();
        if let Some(rt) = lock(&self.runtime).take() {
            rt.shutdown_background();
        }
    }
}

impl Inner {
    /// The runtime handle for coroutines and timers, built on first use.
    pub(crate) fn handle(&self) -> Result<tokio::runtime::Handle, TaskError> {
        let h = self.rt_handle.get_or_init(|| {
            if let Some(h) = &self.config.runtime {
                return Ok(h.clone());
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(self.config.runtime_threads)
                .thread_name(self.runtime_thread_name())
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let handle = rt.handle().clone();
            *lock(&self.runtime) = Some(rt);
            Ok(handle)
        });
        match h {
            Ok(h) => Ok(h.clone()),
            Err(e) => Err(TaskError::Unavailable(format!(
                "cannot start the runtime: {e}"
            ))),
        }
    }

    fn runtime_thread_name(&self) -> String {
        format!("atasker-{}-rt", self.config.name)
    }

    /// Whether coroutines run on a runtime this supervisor owns (and may shut down).
    fn owns_runtime(&self) -> bool {
        self.config.runtime.is_none()
    }

    /// Shuts the owned runtime down: every task on it is dropped (coroutines report
    /// `Cancelled` through their guard). Not from one of its own threads, which would wait
    /// for itself: then a helper thread does it.
    fn shutdown_runtime(&self) {
        let Some(rt) = lock(&self.runtime).take() else {
            return;
        };
        let mine = std::thread::current()
            .name()
            .is_some_and(|n| n == self.runtime_thread_name());
        if mine {
            let _ = std::thread::Builder::new()
                .name("atasker-shutdown".into())
                .spawn(move || rt.shutdown_background());
        } else {
            rt.shutdown_background();
        }
    }

    pub(crate) fn register_worker(&self, w: &Arc<crate::worker::Core>) {
        let mut list = lock(&self.workers);
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(w));
    }

    fn workers(&self) -> Vec<Arc<crate::worker::Core>> {
        lock(&self.workers)
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

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

    /// Whether the calling thread is one of this supervisor's pool threads, and `h` a task of
    /// that pool (a task it may run itself while waiting for it).
    pub(crate) fn serves_current_thread(&self, h: &Header) -> bool {
        h.pool == PoolKind::Threads && self.threads.is_current()
    }

    /// Takes the queued thread task `h` for the calling pool thread to run (see
    /// [`ThreadPool::take_queued_here`]).
    pub(crate) fn take_queued_here(&self, h: &Header) -> Option<Job> {
        self.threads.take_queued_here(h)
    }

    /// Called once per task when it is done, after its result is set.
    pub(crate) fn task_released(&self, h: &Header) {
        if h.tracked.swap(false, SeqCst) {
            self.live_shard(h.id).remove(&h.id);
        }
        self.pending.dec();
    }

    fn live_shard(&self, id: TaskId) -> MutexGuard<'_, LiveTable> {
        lock(&self.live[id.as_u64() as usize % LIVE_SHARDS])
    }

    fn track(&self, c: Arc<dyn Control>) {
        let id = c.header().id;
        c.header().tracked.store(true, SeqCst);
        self.live_shard(id).insert(id, c);
    }

    fn untrack(&self, h: &Header) {
        if h.tracked.swap(false, SeqCst) {
            self.live_shard(h.id).remove(&h.id);
        }
    }

    /// A running task of this supervisor was cancelled or timed out: make it stop.
    pub(crate) fn kill_running(&self, h: &Header) {
        // Coroutines are aborted by their handle; thread tasks cannot be interrupted.
        if h.pool == PoolKind::Processes {
            self.processes.kill(h.id);
        }
    }

    /// Reports `task` as timed out after `d`, unless the guard is dropped first.
    pub(crate) fn deadline(&self, task: Arc<dyn Control>, d: Duration) -> Option<DeadlineGuard> {
        let handle = self.handle().ok()?;
        let timer = handle.spawn(async move {
            tokio::time::sleep(d).await;
            task.expire();
        });
        Some(DeadlineGuard(timer.abort_handle()))
    }

    fn spawn_blocking<T, F>(self: &Arc<Self>, spec: Spec, f: F) -> Task<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if !self.admit(spec.for_worker) {
            return Task::failed(
                self.clone(),
                spec.name,
                spec.priority,
                PoolKind::Threads,
                TaskError::SupervisorStopped,
            );
        }
        let cell = TaskCell::new(
            self.clone(),
            spec.name,
            spec.priority,
            PoolKind::Threads,
            spec.timeout,
            QUEUED,
        );
        self.stats
            .submitted(PoolKind::Threads, spec.priority, false);
        let job: Job = Box::new(BlockingJob {
            cell: cell.clone(),
            f: crate::task::Contained::new(f),
        });
        match spec.delay {
            None => self.submit_thread_job(job),
            Some(d) => self.after_delay(cell.clone(), d, move |inner| inner.submit_thread_job(job)),
        }
        Task::from_cell(cell)
    }

    fn submit_thread_job(self: &Arc<Self>, job: Job) {
        if self.threads.submit(job) {
            self.poke_watchdog();
        }
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

    fn spawn_async<F>(self: &Arc<Self>, spec: Spec, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let fail = |e| {
            Task::failed(
                self.clone(),
                spec.name,
                spec.priority,
                PoolKind::Coroutines,
                e,
            )
        };
        if !self.admit(spec.for_worker) {
            return fail(TaskError::SupervisorStopped);
        }
        let handle = match self.handle() {
            Ok(h) => h,
            Err(e) => {
                self.pending.dec();
                return fail(e);
            }
        };
        let delay = spec.delay;
        let state = if delay.is_some() { QUEUED } else { RUNNING };
        let cell = TaskCell::new(
            self.clone(),
            spec.name,
            spec.priority,
            PoolKind::Coroutines,
            spec.timeout,
            state,
        );
        self.stats
            .submitted(PoolKind::Coroutines, spec.priority, delay.is_none());
        let lean = delay.is_none() && spec.timeout.is_none();
        // A stop deadline cancels coroutines on an owned runtime by shutting it down (each
        // reports `Cancelled` through its guard); others are found through the table.
        if !(lean && self.owns_runtime()) {
            self.track(cell.clone());
        }
        let h = cell.header();
        let span = tracing::debug_span!("atasker.task", id = h.id.as_u64(), name = h.name, priority = %h.priority, pool = "coroutines");
        let guard = DropGuard(cell.clone());
        let join = if lean {
            // The common case: a lean future (no timer state to move around), and no
            // span wrapper when nobody listens.
            let run = Coroutine {
                fut: CatchUnwind(fut),
                guard,
            };
            if span.is_disabled() {
                handle.spawn(run)
            } else {
                handle.spawn(run.instrument(span))
            }
        } else {
            let task = cell.clone();
            let fut = async move {
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                    if !task.header().try_start(None) {
                        return Err(TaskError::Cancelled);
                    }
                }
                match task.header().timeout {
                    None => CatchUnwind(fut).await,
                    Some(t) => tokio::time::timeout(t, CatchUnwind(fut))
                        .await
                        .unwrap_or(Err(TaskError::TimedOut)),
                }
            };
            handle.spawn(Coroutine { fut, guard }.instrument(span))
        };
        cell.set_abort(join.abort_handle());
        Task::from_cell(cell)
    }

    pub(crate) fn poke_watchdog(self: &Arc<Self>) {
        let mut st = lock(&self.watchdog.state);
        if !st.started {
            st.started = true;
            let weak = Arc::downgrade(self);
            let wd = self.watchdog.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("atasker-{}-watchdog", self.config.name))
                .spawn(move || watchdog(weak, wd));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "atasker: cannot start the queue-wait watchdog");
            }
        } else if st
            .next
            .is_none_or(|n| n > Instant::now() + self.config.timeout_warning)
        {
            // The watchdog sleeps past this task's first due time (or until poked), or is
            // scanning and may have missed this task: make it scan again.
            st.poked = true;
            self.watchdog.wake.notify_one();
        }
    }

    fn stop(&self, deadline: Option<Instant>) {
        self.stop_inner(deadline);
        self.stop_ended.set();
    }

    fn stop_inner(&self, deadline: Option<Instant>) {
        // New work is refused at once; workers still finish (queue workers drain what was
        // put in them: a supervisor stop is final, so keeping the items would lose them).
        let _ = self.phase.compare_exchange(OPEN, DRAINING, SeqCst, SeqCst);
        for w in self.workers() {
            w.stop_final(deadline);
        }
        self.phase.store(CLOSED, SeqCst);
        // A task that stops its own supervisor must not wait for itself.
        let me = self as *const Inner as usize;
        let inside = CURRENT.with(|c| c.get()) == me;
        let allowed = usize::from(inside);
        // On a current-thread runtime's own thread, a wait would hang that runtime (its
        // coroutines could never finish): `blocking` refuses it loudly.
        let drained = self.pending.n.load(SeqCst) <= allowed
            || crate::task::blocking(deadline, || self.pending.wait(allowed, deadline));
        if drained {
            self.processes.shutdown(false);
            return;
        }
        tracing::warn!(supervisor = %self.config.name, "atasker: stop deadline reached; cancelling what is left");
        self.threads.cancel_queued();
        self.processes.cancel_all();
        let live: Vec<_> = self
            .live
            .iter()
            .flat_map(|m| lock(m).values().cloned().collect::<Vec<_>>())
            .collect();
        for task in live {
            task.cancel();
        }
        if self.owns_runtime() {
            self.shutdown_runtime();
        }
        self.processes.shutdown(true);
    }
}

/// Finishes a coroutine as cancelled when its future is dropped before it finished (a
/// cancel, an abort, the runtime shutting down); after a normal finish it does nothing.
struct DropGuard<T: Send + 'static>(Arc<TaskCell<T>>);

impl<T: Send + 'static> Drop for DropGuard<T> {
    fn drop(&mut self) {
        self.0.finish_dropped();
    }
}

pin_project_lite::pin_project! {
    /// A coroutine task as spawned on the runtime: the task's future, then its guard. Fields
    /// drop in this order, so the future (and every lock or file it holds) is gone before
    /// the guard reports the task cancelled. Polling marks the thread as running a task of
    /// the supervisor (see `CURRENT`).
    struct Coroutine<F, T>
    where
        T: Send,
        T: 'static,
    {
        #[pin]
        fut: F,
        guard: DropGuard<T>,
    }
}

impl<F, T> Future for Coroutine<F, T>
where
    F: Future<Output = Result<T, TaskError>>,
    T: Send + 'static,
{
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let this = self.project();
        let cell = &this.guard.0;
        let _current = CurrentGuard::enter(&cell.header().sup);
        let result = std::task::ready!(this.fut.poll(cx));
        cell.finish(RUNNING, result);
        std::task::Poll::Ready(())
    }
}

/// Aborts a deadline timer when the task finishes first.
pub(crate) struct DeadlineGuard(tokio::task::AbortHandle);

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn watchdog(weak: Weak<Inner>, wd: Arc<Watchdog>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let c = &inner.config;
        let mut found = Overdue::default();
        inner.threads.overdue(
            Instant::now(),
            c.timeout_warning,
            c.timeout_critical,
            &mut found,
        );
        inner.processes.overdue(
            Instant::now(),
            c.timeout_warning,
            c.timeout_critical,
            &mut found,
        );
        // The hooks are user code: a panic in one is contained, and the watchdog goes on.
        let call = |hook: &Option<Hook>, t: &TaskInfo| {
            if let Some(hook) = hook {
                if let Err(e) = crate::task::run_catching(|| hook(t)) {
                    tracing::error!(error = %e, "atasker: a queue-wait hook panicked; contained");
                }
            }
        };
        for t in &found.warnings {
            tracing::warn!(task = t.id.as_u64(), name = t.name, priority = %t.priority, pool = %t.pool, waited = ?t.waited, "atasker: task still queued");
            call(&c.on_warning, t);
        }
        for t in &found.criticals {
            tracing::error!(task = t.id.as_u64(), name = t.name, priority = %t.priority, pool = %t.pool, waited = ?t.waited, "atasker: task still queued, critical");
            call(&c.on_critical, t);
        }
        // Hold no strong reference while asleep, so that a dropped supervisor ends this thread.
        drop(inner);
        let mut st = lock(&wd.state);
        if st.closed {
            return;
        }
        st.next = found.next;
        if std::mem::take(&mut st.poked) {
            // A task queued during the scan: scan again before sleeping.
            continue;
        }
        let wait = match st.next {
            Some(n) => n.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        drop(wd.wake.wait_timeout(st, wait));
    }
}
