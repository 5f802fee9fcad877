//! The shared state behind every worker handle ([`Core`]): one start-to-stop run at a time,
//! its stop signal and end latch, the counters, and the sleep between runs.

use super::*;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::stats::Stats;
use crate::supervisor::Client;
pub(crate) use crate::sync::{lock, Signal};

/// A worker's [`WorkerState`], readable and writable from any thread.
#[derive(Default)]
pub(crate) struct AtomicState(AtomicU8);

impl AtomicState {
    pub(crate) fn set(&self, state: WorkerState) {
        self.0.store(state as u8, SeqCst);
    }

    pub(crate) fn get(&self) -> WorkerState {
        match self.0.load(SeqCst) {
            s if s == WorkerState::Running as u8 => WorkerState::Running,
            s if s == WorkerState::Waiting as u8 => WorkerState::Waiting,
            _ => WorkerState::Stopped,
        }
    }
}

/// Set once when a run's loop has ended (also when it was aborted).
#[derive(Default)]
pub(crate) struct Latch {
    pub(crate) done: Mutex<bool>,
    pub(crate) cv: Condvar,
}

impl Latch {
    pub(crate) fn set(&self) {
        *lock(&self.done) = true;
        self.cv.notify_all();
    }

    pub(crate) fn is_set(&self) -> bool {
        *lock(&self.done)
    }

    /// `false` at the deadline.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        crate::sync::wait_until(&self.cv, lock(&self.done), deadline, |done| *done)
    }
}

/// One start-to-stop run of a worker.
#[derive(Clone)]
pub(crate) struct Run {
    pub(crate) stop: Arc<Signal>,
    /// Set with `stop` by a supervisor stop: a queue worker serves every waiting item first.
    pub(crate) drain: Arc<AtomicBool>,
    pub(crate) done: Arc<Latch>,
    pub(crate) abort: Arc<Mutex<Option<tokio::task::AbortHandle>>>,
}

impl Run {
    pub(crate) fn new() -> Self {
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
pub(crate) struct LoopGuard<'a>(&'a Core, Run);

impl Drop for LoopGuard<'_> {
    fn drop(&mut self) {
        self.0.state.set(WorkerState::Stopped);
        self.0.next_run_at.set(None);
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
    crate::context::enter(crate::context::Role::Worker, key)
}

/// The shared state of a worker behind its handle.
pub(crate) struct Core {
    pub(crate) name: String,
    pub(crate) kind: WorkerKind,
    pub(crate) priority: Priority,
    pub(crate) sup: Supervisor,
    pub(crate) on_error: Option<OnError>,
    pub(crate) starter: Starter,
    /// Counts the items waiting in a queue worker.
    pub(crate) queued: std::sync::OnceLock<Box<dyn Fn() -> usize + Send + Sync>>,
    pub(crate) ctl: Mutex<Option<Run>>,
    /// The run a supervisor stop told to stop: every stop (two may overlap) waits for it.
    stopping: Mutex<Option<Run>>,
    pub(crate) trigger: Signal,
    pub(crate) state: AtomicState,
    pub(crate) runs: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) last_ns: AtomicU64,
    /// The last run's start and the next scheduled run ([`UnixTime`]).
    pub(crate) last_run_at: UnixTime,
    pub(crate) next_run_at: UnixTime,
    pub(crate) missed: AtomicU64,
    /// Its metrics keys (with the `metrics` feature), made once.
    pub(crate) metrics: crate::metrics::WorkerKeys,
}

/// An optional instant, readable from any thread: nanoseconds since the Unix epoch, 0 for
/// none.
#[derive(Default)]
pub(crate) struct UnixTime(AtomicU64);

impl UnixTime {
    pub(crate) fn set(&self, t: Option<SystemTime>) {
        let ns = t
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.0.store(ns, Relaxed);
    }

    /// Sets it to the wall-clock time of the monotonic instant `at` (`None`: never).
    pub(crate) fn set_at(&self, at: Option<Instant>) {
        let Some(at) = at else {
            return self.set(None);
        };
        let now = (SystemTime::now(), Instant::now());
        // `None` beyond what a `SystemTime` holds.
        let t = match at.checked_duration_since(now.1) {
            Some(ahead) => now.0.checked_add(ahead),
            None => now.0.checked_sub(now.1.duration_since(at)),
        };
        self.set(t);
    }

    pub(crate) fn get(&self) -> Option<SystemTime> {
        match self.0.load(Relaxed) {
            0 => None,
            ns => Some(UNIX_EPOCH + Duration::from_nanos(ns)),
        }
    }
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
            stopping: Mutex::new(None),
            trigger: Signal::default(),
            state: AtomicState::default(),
            runs: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_ns: AtomicU64::new(u64::MAX),
            last_run_at: UnixTime::default(),
            next_run_at: UnixTime::default(),
            missed: AtomicU64::new(0),
            metrics: Default::default(),
            sup,
        });
        let client: std::sync::Weak<dyn Client> = Arc::downgrade(&core) as _;
        core.sup.inner.register_worker(client);
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
        self.state.set(WorkerState::Waiting);
        let fut = (self.starter)(self.clone(), run.clone());
        let core = self.clone();
        let r = run.clone();
        let join = handle.spawn(async move {
            let _guard = LoopGuard(&core, r);
            // The loop is library code around the user's: should it panic, the worker
            // stops with the panic counted and said, never silently.
            if let Err(e) = crate::task::CatchUnwind::new(fut).await {
                core.errors.fetch_add(1, Relaxed);
                tracing::error!(worker = %core.name, error = %e, "atasker: the worker's loop panicked; the worker stopped");
            }
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
        if let Some(run) = self.signal_stop() {
            self.await_stop(&run, deadline);
        }
    }

    /// Tells the current run to stop. `None`: nothing to wait for (no run, or called by our
    /// own executor, which cannot wait for itself: the loop ends after it).
    fn signal_stop(&self) -> Option<Run> {
        let run = lock(&self.ctl).clone()?;
        run.stop.set();
        let me = self as *const Core as usize;
        (!crate::context::is(crate::context::Role::Worker, me)).then_some(run)
    }

    /// Waits for a stopping run to end, up to `deadline`; then aborts it.
    fn await_stop(&self, run: &Run, deadline: Option<Instant>) {
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

    pub(crate) fn stats(&self) -> WorkerStats {
        let ns = self.last_ns.load(Relaxed);
        WorkerStats {
            name: self.name.clone(),
            kind: self.kind,
            state: self.state.get(),
            runs: self.runs.load(Relaxed),
            errors: self.errors.load(Relaxed),
            last_duration: (ns != u64::MAX).then(|| Duration::from_nanos(ns)),
            last_run_at: self.last_run_at.get(),
            next_run_at: self.next_run_at.get(),
            missed: self.missed.load(Relaxed),
        }
    }

    /// Runs the executor once; `false` when the worker must stop.
    pub(crate) async fn exec<I>(&self, run: &Run, exec: &Exec<I>, item: I) -> bool {
        self.state.set(WorkerState::Running);
        let span = tracing::debug_span!("atasker.worker", worker = %self.name);
        let go_on = tracing::Instrument::instrument(
            async {
                self.run_started();
                let started = Instant::now();
                let result = exec(self, item).await;
                self.record(run, result, started.elapsed())
            },
            span,
        )
        .await;
        self.state.set(WorkerState::Waiting);
        go_on
    }

    /// A run starts: recorded, and logged at `debug`.
    pub(crate) fn run_started(&self) {
        self.last_run_at.set(Some(SystemTime::now()));
        tracing::debug!(worker = %self.name, kind = ?self.kind, "atasker: worker run started");
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
        (self.sup.inner.metrics()).worker_run(&self.metrics, &self.name, result.is_err(), took);
        let secs = took.as_secs_f64();
        match result {
            Ok(go_on) => {
                tracing::debug!(worker = %self.name, outcome = "ok", duration = secs, "atasker: worker run ended");
                go_on && !run.ends_after_run()
            }
            Err(WorkerError::Task {
                error: TaskError::SupervisorStopped,
                ..
            }) => false,
            Err(e) => {
                self.errors.fetch_add(1, Relaxed);
                match &self.on_error {
                    Some(hook) => {
                        tracing::debug!(worker = %self.name, outcome = "error", duration = secs, error = %e, "atasker: worker run failed; on_error handles it");
                        let _ = crate::task::run_catching(|| hook(&e));
                    }
                    None => {
                        tracing::error!(worker = %self.name, outcome = "error", duration = secs, error = %e, "atasker: worker run failed")
                    }
                }
                !run.ends_after_run()
            }
        }
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.state.set(if running {
            WorkerState::Running
        } else {
            WorkerState::Waiting
        });
    }

    /// A builder for one run of this worker's executor as a task (at the worker's priority,
    /// admitted while a stop lets the workers finish).
    pub(crate) fn run_task(&self) -> crate::supervisor::TaskBuilder<'_> {
        self.sup
            .task()
            .priority(self.priority)
            .name("worker run")
            .for_worker()
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
                self.wait(run, crate::sync::after(d), false).await != Wake::Stop
            }
            _ => !run.stopping(),
        }
    }
}

/// A worker as its supervisor's stop sees it: a final stop in two halves (every worker is
/// told first, then each is waited for).
impl Client for Core {
    /// The first half: a queue worker is told to serve every item waiting in it first.
    fn stop_taking(&self, _deadline: Option<Instant>) {
        if self.kind == WorkerKind::Queue {
            if let Some(run) = lock(&self.ctl).as_ref() {
                run.drain.store(true, SeqCst);
            }
        }
        if let Some(run) = self.signal_stop() {
            *lock(&self.stopping) = Some(run);
        }
    }

    /// The second half: waits for the run (up to `deadline`), then reports what is left in a
    /// queue worker.
    fn wait_stopped(&self, deadline: Option<Instant>) {
        // A stop made by this worker's own run must not wait for that run.
        let me = self as *const Core as usize;
        let inside = crate::context::is(crate::context::Role::Worker, me);
        let run = lock(&self.stopping).clone().filter(|_| !inside);
        if let Some(run) = run {
            self.await_stop(&run, deadline);
        }
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

    fn report(&self, stats: &mut Stats) {
        stats.workers.push(self.stats());
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
