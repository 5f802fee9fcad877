//! Workers: long-lived loops around an executor, in four kinds (loop, interval, queue,
//! event). The loop is a coroutine on the supervisor's runtime; the executor runs where its
//! signature says (a coroutine inline in the loop, or a task on the thread pool at the
//! worker's priority).

mod event;
mod interval;
pub(crate) mod macro_api;
mod queue;

pub use event::{EventWorker, EventWorkerBuilder};
pub use interval::{Worker, WorkerBuilder};
pub use queue::{QueueWorker, QueueWorkerBuilder};

use crate::error::TaskError;
use crate::priority::Priority;
use crate::supervisor::Supervisor;
use crate::task::CatchUnwind;
use serde::Serialize;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicU8,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What an executor run reports: `()`, `bool` (`false` stops the worker),
/// `Result<(), E>` or `Result<bool, E>` with `E: Display` (`Err` goes to `on_error` and the
/// worker goes on).
///
/// ```
/// use atasker::WorkerOutput;
/// assert_eq!(().into_outcome(), Ok(true));
/// assert_eq!(false.into_outcome(), Ok(false));
/// assert_eq!(Err::<(), _>("disk full").into_outcome(), Err("disk full".to_string()));
/// ```
#[diagnostic::on_unimplemented(
    message = "a worker executor must return `()`, `bool`, `Result<(), E>` or `Result<bool, E>` with `E: Display`, not `{Self}`",
    label = "this executor's return type"
)]
pub trait WorkerOutput: Send + 'static {
    /// `Ok(true)`: go on; `Ok(false)`: stop the worker; `Err(text)`: report and go on.
    ///
    /// ```
    /// use atasker::WorkerOutput;
    /// assert_eq!(Ok::<bool, String>(false).into_outcome(), Ok(false));
    /// ```
    fn into_outcome(self) -> Result<bool, String>;
}

impl WorkerOutput for () {
    fn into_outcome(self) -> Result<bool, String> {
        Ok(true)
    }
}

impl WorkerOutput for bool {
    fn into_outcome(self) -> Result<bool, String> {
        Ok(self)
    }
}

impl<E: fmt::Display + Send + 'static> WorkerOutput for Result<(), E> {
    fn into_outcome(self) -> Result<bool, String> {
        self.map(|()| true).map_err(|e| e.to_string())
    }
}

impl<E: fmt::Display + Send + 'static> WorkerOutput for Result<bool, E> {
    fn into_outcome(self) -> Result<bool, String> {
        self.map_err(|e| e.to_string())
    }
}

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

/// The kind of a worker.
///
/// ```
/// let w = atasker::EventWorker::builder().build(|| ());
/// assert_eq!(w.stats().kind, atasker::WorkerKind::Event);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerKind {
    /// Runs back to back.
    Loop,
    /// Runs on a fixed schedule (`interval`) or after a pause (`delay`).
    Interval,
    /// Runs once per queued item.
    Queue,
    /// Runs once per trigger.
    Event,
}

/// What a worker is doing.
///
/// ```
/// use atasker::WorkerState;
/// let w = atasker::EventWorker::builder().build(|| ());
/// assert_eq!(w.stats().state, WorkerState::Stopped);
/// w.start();
/// assert_eq!(w.stats().state, WorkerState::Waiting); // for a trigger
/// w.stop();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Not started, or stopped.
    Stopped,
    /// Started, waiting for its next run (a tick, an item, a trigger).
    Waiting,
    /// Running its executor.
    Running,
}

const STOPPED: u8 = 0;
const WAITING: u8 = 1;
const RUNNING: u8 = 2;

/// A snapshot of a worker's counters; serializable with serde.
///
/// ```
/// let w = atasker::Worker::builder().name("idle").build(|| ());
/// let s = w.stats();
/// assert_eq!((s.name.as_str(), s.runs), ("idle", 0));
/// assert_eq!(s.state, atasker::WorkerState::Stopped);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WorkerStats {
    /// The worker's name.
    pub name: String,
    /// Its kind.
    pub kind: WorkerKind,
    /// What it is doing.
    pub state: WorkerState,
    /// Executor runs finished (successful or not).
    pub runs: u64,
    /// Runs that returned `Err` or panicked.
    pub errors: u64,
    /// How long the last run took (`None` before the first run). Serialized as serde
    /// serializes a `Duration`: `{"secs": u64, "nanos": u32}`, or `null`.
    pub last_duration: Option<Duration>,
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

/// A one-way flag that async code can wait for.
#[derive(Default)]
pub(crate) struct Signal {
    set: AtomicBool,
    notify: Notify,
}

impl Signal {
    pub(crate) fn set(&self) {
        self.set.store(true, SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_set(&self) -> bool {
        self.set.load(SeqCst)
    }

    /// Takes the flag (for triggers): `true` if it was set.
    fn take(&self) -> bool {
        self.set.swap(false, SeqCst)
    }

    fn clear(&self) {
        self.set.store(false, SeqCst);
    }

    /// Waits until the flag is set; with `take`, clears it.
    pub(crate) async fn wait(&self, take: bool) {
        loop {
            let mut notified = pin!(self.notify.notified());
            notified.as_mut().enable();
            if if take { self.take() } else { self.is_set() } {
                return;
            }
            notified.await;
        }
    }
}

/// Set once when a run's loop has ended (also when it was aborted).
#[derive(Default)]
struct Latch {
    done: Mutex<bool>,
    cv: Condvar,
}

impl Latch {
    fn set(&self) {
        *lock(&self.done) = true;
        self.cv.notify_all();
    }

    fn is_set(&self) -> bool {
        *lock(&self.done)
    }

    /// `false` at the deadline.
    fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut done = lock(&self.done);
        while !*done {
            done = match deadline {
                None => self.cv.wait(done).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    self.cv
                        .wait_timeout(done, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        true
    }
}

/// One start-to-stop run of a worker.
#[derive(Clone)]
pub(crate) struct Run {
    stop: Arc<Signal>,
    /// Set with `stop` by a supervisor stop: a queue worker serves every waiting item first.
    drain: Arc<AtomicBool>,
    done: Arc<Latch>,
    abort: Arc<Mutex<Option<tokio::task::AbortHandle>>>,
}

impl Run {
    fn new() -> Self {
        Run {
            stop: Arc::default(),
            drain: Arc::default(),
            done: Arc::default(),
            abort: Arc::default(),
        }
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.is_set()
    }

    /// Whether the worker ends after its current run (stopping, and not draining a queue).
    pub(crate) fn ends_after_run(&self) -> bool {
        self.stopping() && !self.draining()
    }

    pub(crate) fn draining(&self) -> bool {
        self.drain.load(SeqCst)
    }
}

/// Sets the run's latch and the worker's state when the loop ends, however it ends.
struct LoopGuard<'a>(&'a Core, Run);

impl Drop for LoopGuard<'_> {
    fn drop(&mut self) {
        self.0.state.store(STOPPED, SeqCst);
        self.1.done.set();
    }
}

/// Makes the loop future of one run.
pub(crate) type Starter =
    Box<dyn Fn(Arc<Core>, Run) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Runs one executor call: `Ok(true)` go on, `Ok(false)` stop, `Err` report.
pub(crate) type Exec<I> = Arc<
    dyn Fn(&Core, I) -> Pin<Box<dyn Future<Output = Result<bool, WorkerError>> + Send>>
        + Send
        + Sync,
>;

/// Marks the current thread as running the executor of the worker `key` (see
/// [`Core::key`]) while the guard lives.
pub(crate) fn enter_worker(key: usize) -> crate::context::Enter {
    crate::context::enter(crate::context::Slot::Worker, key)
}

/// The shared state of a worker behind its handle.
pub(crate) struct Core {
    name: String,
    kind: WorkerKind,
    priority: Priority,
    sup: Supervisor,
    on_error: Option<OnError>,
    starter: Starter,
    /// Counts the items waiting in a queue worker.
    pub(crate) queued: std::sync::OnceLock<Box<dyn Fn() -> usize + Send + Sync>>,
    ctl: Mutex<Option<Run>>,
    pub(crate) trigger: Signal,
    state: AtomicU8,
    runs: AtomicU64,
    errors: AtomicU64,
    last_ns: AtomicU64,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("priority", &self.priority)
            .field("active", &self.is_active())
            .finish_non_exhaustive()
    }
}

impl Core {
    pub(crate) fn new(kind: WorkerKind, common: Common, starter: Starter) -> Arc<Core> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = common
            .name
            .unwrap_or_else(|| format!("worker-{}", NEXT.fetch_add(1, SeqCst)));
        let sup = common
            .supervisor
            .unwrap_or_else(|| Supervisor::global().clone());
        let core = Arc::new(Core {
            name,
            kind,
            priority: common.priority,
            on_error: common.on_error,
            starter,
            queued: std::sync::OnceLock::new(),
            ctl: Mutex::new(None),
            trigger: Signal::default(),
            state: AtomicU8::new(STOPPED),
            runs: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_ns: AtomicU64::new(u64::MAX),
            sup,
        });
        core.sup.inner.register_worker(&core);
        core
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn start(self: &Arc<Self>) -> bool {
        let mut ctl = lock(&self.ctl);
        if ctl.as_ref().is_some_and(|r| !r.done.is_set()) {
            return false;
        }
        if self.sup.is_stopped() {
            tracing::warn!(worker = %self.name, "atasker: worker not started: its supervisor is stopped");
            return false;
        }
        let handle = match self.sup.inner.handle() {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(worker = %self.name, error = %e, "atasker: worker not started");
                return false;
            }
        };
        let run = Run::new();
        self.state.store(WAITING, SeqCst);
        let fut = (self.starter)(self.clone(), run.clone());
        let core = self.clone();
        let r = run.clone();
        let join = handle.spawn(async move {
            let _guard = LoopGuard(&core, r);
            fut.await;
        });
        *lock(&run.abort) = Some(join.abort_handle());
        *ctl = Some(run);
        true
    }

    pub(crate) fn is_active(&self) -> bool {
        lock(&self.ctl)
            .as_ref()
            .is_some_and(|r| !r.stopping() && !r.done.is_set())
    }

    /// Signals the current run to stop and waits for it (up to `deadline`; then aborts it).
    pub(crate) fn stop(&self, deadline: Option<Instant>) {
        let Some(run) = lock(&self.ctl).clone() else {
            return;
        };
        run.stop.set();
        let me = self as *const Core as usize;
        if crate::context::is(crate::context::Slot::Worker, me) {
            // Called by our own executor: it cannot wait for itself; the loop ends after it.
            return;
        }
        let finished = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| run.done.wait(deadline))
            }
            Ok(_) => {
                // A current-thread runtime cannot block for its own tasks: the loop ends on
                // its own after the current run.
                return;
            }
            Err(_) => run.done.wait(deadline),
        };
        if !finished {
            // Past the deadline a draining queue worker takes no further item.
            run.drain.store(false, SeqCst);
            if let Some(a) = lock(&run.abort).as_ref() {
                a.abort();
            }
        }
    }

    /// Stops the worker for good, as part of its supervisor's stop: a queue worker first
    /// serves every item waiting in it (up to `deadline`); what is left then is reported.
    pub(crate) fn stop_final(&self, deadline: Option<Instant>) {
        if self.kind == WorkerKind::Queue {
            if let Some(run) = lock(&self.ctl).as_ref() {
                run.drain.store(true, SeqCst);
            }
        }
        self.stop(deadline);
        let left = self.queued.get().map_or(0, |n| n());
        if left > 0 {
            tracing::error!(
                worker = %self.name,
                items = left,
                "atasker: the supervisor stopped with items still waiting in this queue worker; \
                 `QueueWorker::take_remaining()` hands them back"
            );
        }
    }

    pub(crate) fn stats(&self) -> WorkerStats {
        let ns = self.last_ns.load(Relaxed);
        WorkerStats {
            name: self.name.clone(),
            kind: self.kind,
            state: match self.state.load(SeqCst) {
                RUNNING => WorkerState::Running,
                WAITING => WorkerState::Waiting,
                _ => WorkerState::Stopped,
            },
            runs: self.runs.load(Relaxed),
            errors: self.errors.load(Relaxed),
            last_duration: (ns != u64::MAX).then(|| Duration::from_nanos(ns)),
        }
    }

    /// Runs the executor once; `false` when the worker must stop.
    pub(crate) async fn exec<I>(&self, run: &Run, exec: &Exec<I>, item: I) -> bool {
        self.state.store(RUNNING, SeqCst);
        let started = Instant::now();
        let result = exec(self, item).await;
        let go_on = self.record(run, result, started.elapsed());
        self.state.store(WAITING, SeqCst);
        go_on
    }

    /// Counts one finished run and reports its error; `false` when the worker must stop.
    pub(crate) fn record(
        &self,
        run: &Run,
        result: Result<bool, WorkerError>,
        took: Duration,
    ) -> bool {
        self.last_ns.store(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX - 1),
            Relaxed,
        );
        self.runs.fetch_add(1, Relaxed);
        match result {
            Ok(go_on) => go_on && !run.ends_after_run(),
            Err(WorkerError::Task {
                error: TaskError::SupervisorStopped,
                ..
            }) => false,
            Err(e) => {
                self.errors.fetch_add(1, Relaxed);
                match &self.on_error {
                    Some(hook) => {
                        let _ = crate::task::run_catching(|| hook(&e));
                    }
                    None => {
                        tracing::error!(worker = %self.name, error = %e, "atasker: worker run failed")
                    }
                }
                !run.ends_after_run()
            }
        }
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.state
            .store(if running { RUNNING } else { WAITING }, SeqCst);
    }

    /// The error for a failed run of this worker.
    pub(crate) fn error(&self, message: String, panicked: bool) -> WorkerError {
        let worker = self.name.clone();
        if panicked {
            WorkerError::Panicked { worker, message }
        } else {
            WorkerError::Failed { worker, message }
        }
    }

    pub(crate) fn priority(&self) -> Priority {
        self.priority
    }

    pub(crate) fn supervisor(&self) -> &Supervisor {
        &self.sup
    }

    /// The address that identifies this worker in the thread context.
    pub(crate) fn key(&self) -> usize {
        self as *const Core as usize
    }

    /// Sleeps until `until` (if any), a trigger (with `trigger`), or a stop.
    pub(crate) async fn wait(&self, run: &Run, until: Option<Instant>, trigger: bool) -> Wake {
        let mut stop = pin!(run.stop.wait(false));
        let mut trig = pin!(self.trigger.wait(true));
        let mut sleep = pin!(until.map(|t| tokio::time::sleep_until(t.into())));
        poll_fn(|cx| {
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Wake::Stop);
            }
            if trigger && trig.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Wake::Trigger);
            }
            if let Some(s) = sleep.as_mut().as_pin_mut() {
                if s.poll(cx).is_ready() {
                    return Poll::Ready(Wake::Time);
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Sleeps `d`; `false` if stopped meanwhile.
    pub(crate) async fn pause(&self, run: &Run, d: Option<Duration>) -> bool {
        match d {
            Some(d) if !d.is_zero() => {
                self.wait(run, Some(Instant::now() + d), false).await != Wake::Stop
            }
            _ => !run.stopping(),
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if let Some(run) = lock(&self.ctl).as_ref() {
            run.stop.set();
        }
    }
}

/// Why a worker woke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    Stop,
    Trigger,
    Time,
}

/// An executor on the thread pool: each run is a task at the worker's priority.
pub(crate) fn blocking_exec<I, F, R>(f: F) -> Exec<I>
where
    I: Send + 'static,
    F: Fn(I) -> R + Send + Sync + 'static,
    R: WorkerOutput,
{
    let f = Arc::new(f);
    Arc::new(move |core: &Core, item: I| {
        let f = f.clone();
        let me = core as *const Core as usize;
        let name = core.name.clone();
        let task = core
            .sup
            .task()
            .priority(core.priority)
            .name("worker run")
            .for_worker()
            .spawn(move || {
                let _g = enter_worker(me);
                let span = tracing::debug_span!("atasker.worker", worker = %name);
                span.in_scope(|| f(item).into_outcome())
            });
        let worker = core.name.clone();
        let reporter = ReportCtx { worker };
        Box::pin(async move {
            match task.await {
                Ok(Ok(go)) => Ok(go),
                Ok(Err(msg)) => Err(reporter.failed(msg)),
                Err(TaskError::Panicked { message }) => Err(reporter.panicked(message)),
                Err(error) => Err(WorkerError::Task {
                    worker: reporter.worker,
                    error,
                }),
            }
        })
    })
}

/// An executor awaited inline in the worker's loop.
pub(crate) fn async_exec<I, F, Fut>(f: F) -> Exec<I>
where
    I: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: WorkerOutput,
{
    Arc::new(move |core: &Core, item: I| {
        let me = core as *const Core as usize;
        let fut = f(item);
        let reporter = ReportCtx {
            worker: core.name.clone(),
        };
        let span = tracing::debug_span!("atasker.worker", worker = %core.name);
        Box::pin(tracing::Instrument::instrument(
            async move {
                // `into_outcome` runs the error's `Display`: user code, contained too.
                let outcome = CatchUnwind(InWorker(me, fut))
                    .await
                    .and_then(|out| crate::task::run_catching(|| out.into_outcome()));
                match outcome {
                    Ok(out) => out.map_err(|m| reporter.failed(m)),
                    Err(TaskError::Panicked { message }) => Err(reporter.panicked(message)),
                    Err(error) => Err(WorkerError::Task {
                        worker: reporter.worker,
                        error,
                    }),
                }
            },
            span,
        ))
    })
}

struct ReportCtx {
    worker: String,
}

impl ReportCtx {
    fn failed(self, message: String) -> WorkerError {
        WorkerError::Failed {
            worker: self.worker,
            message,
        }
    }
    fn panicked(self, message: String) -> WorkerError {
        WorkerError::Panicked {
            worker: self.worker,
            message,
        }
    }
}

/// Marks the polling thread as running the executor of a worker (see `context`).
struct InWorker<F>(usize, F);

impl<F: Future> Future for InWorker<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning of the future field; it is never moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let _g = enter_worker(this.0);
        // SAFETY: as above.
        unsafe { Pin::new_unchecked(&mut this.1) }.poll(cx)
    }
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
pub(crate) use handle_methods;

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
        pub fn priority(mut self, p: $crate::Priority) -> Self {
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
        pub fn supervisor(mut self, s: &$crate::Supervisor) -> Self {
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
            f: impl Fn(&$crate::WorkerError) + Send + Sync + 'static,
        ) -> Self {
            self.common.on_error = Some(std::sync::Arc::new(f));
            self
        }
    };
}
pub(crate) use builder_methods;
