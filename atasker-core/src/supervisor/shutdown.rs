//! Stopping a supervisor: phases, the count of unfinished tasks a stop waits for, and the
//! table of coroutines and delayed tasks that a stop deadline cancels.

use super::*;
use crate::context;
use crate::sync::wait_until;

// Supervisor phases (`Inner::phase`).
/// Taking work.
pub(crate) const OPEN: u8 = 0;
/// Stopping: new work is refused, workers finish (their runs are still admitted).
pub(crate) const DRAINING: u8 = 1;
/// Stopped: everything is refused.
pub(crate) const CLOSED: u8 = 2;

impl Supervisor {
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
    #[track_caller]
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
    #[track_caller]
    pub fn stop_timeout(&self, timeout: Duration) {
        self.inner.stop(crate::sync::after(timeout));
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
    pub(crate) fn inc(&self) {
        self.n.fetch_add(1, SeqCst);
    }

    pub(crate) fn dec(&self) {
        self.sub(1);
    }

    /// `n` tasks finished.
    pub(crate) fn sub(&self, n: usize) {
        // A stop waits for at most one pending task (its own, when a task stops its own
        // supervisor): wake it once one or none is left.
        if self.n.fetch_sub(n, SeqCst) <= n + 1 && self.waiters.load(SeqCst) > 0 {
            let _g = lock(&self.lock);
            self.zero.notify_all();
        }
    }

    /// Waits until at most `allowed` tasks are pending; `false` at the deadline.
    pub(crate) fn wait(&self, allowed: usize, deadline: Option<Instant>) -> bool {
        self.waiters.fetch_add(1, SeqCst);
        let done = wait_until(&self.zero, lock(&self.lock), deadline, |_| {
            self.n.load(SeqCst) <= allowed
        });
        self.waiters.fetch_sub(1, SeqCst);
        done
    }
}

/// Task ids are unique sequential numbers: hash them as themselves.
pub(crate) type IdHash = std::hash::BuildHasherDefault<IdHasher>;

#[derive(Default)]
pub(crate) struct IdHasher(u64);

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
pub(crate) type LiveTable = HashMap<TaskId, Arc<dyn Control>, IdHash>;

/// Shards of the table of live coroutines, so that spawning and finishing rarely contend.
pub(crate) const LIVE_SHARDS: usize = 16;

impl Inner {
    pub(crate) fn live_shard(&self, id: TaskId) -> MutexGuard<'_, LiveTable> {
        lock(&self.live[id.as_u64() as usize % LIVE_SHARDS])
    }

    pub(crate) fn track(&self, c: Arc<dyn Control>) {
        let id = c.header().id;
        c.header().tracked.store(true, SeqCst);
        self.live_shard(id).insert(id, c);
    }

    pub(crate) fn untrack(&self, h: &Header) {
        // Most tasks were never tracked: a load spares them the locked swap.
        if h.tracked.load(SeqCst) && h.tracked.swap(false, SeqCst) {
            self.live_shard(h.id).remove(&h.id);
        }
    }

    #[track_caller]
    pub(crate) fn stop(&self, deadline: Option<Instant>) {
        self.stop_inner(deadline);
        self.stop_ended.set();
    }

    #[track_caller]
    pub(crate) fn stop_inner(&self, deadline: Option<Instant>) {
        // Plain coroutines this thread ended count as pending until released.
        release_ended();
        // New work is refused at once; workers still finish (queue workers drain what was
        // put in them: a supervisor stop is final, so keeping the items would lose them).
        let _ = self.phase.compare_exchange(OPEN, DRAINING, SeqCst, SeqCst);
        // A node takes nothing more; what it took runs and is answered below.
        let node = self.node.get();
        if let Some(node) = node {
            node.stop_taking(deadline);
        }
        // Every worker is told first, so that they stop (and queue workers drain) together.
        let workers = self.workers();
        for w in &workers {
            w.stop_taking(deadline);
        }
        for w in &workers {
            w.wait_stopped(deadline);
        }
        self.phase.store(CLOSED, SeqCst);
        // A task that stops its own supervisor must not wait for itself.
        let inside = context::is(context::Role::Supervisor, context::key(self));
        let allowed = usize::from(inside);
        // On a current-thread runtime's own thread, a wait would hang that runtime (its
        // coroutines could never finish): `blocking` refuses it loudly.
        let drained = self.pending.n.load(SeqCst) <= allowed
            || crate::task::blocking(deadline, || self.pending.wait(allowed, deadline));
        let producer = self.remote.as_ref().and_then(|r| r.producer.get());
        if drained {
            if let Some(node) = node {
                node.finish(deadline);
            }
            if let Some(p) = producer {
                p.close();
            }
            self.processes.shutdown(false);
            return;
        }
        tracing::warn!(supervisor = %self.config.name, "atasker: stop deadline reached; cancelling what is left");
        self.threads.cancel_queued();
        self.processes.cancel_all();
        if let Some(p) = producer {
            p.cancel_all();
        }
        if let Some(node) = node {
            node.finish(Some(Instant::now()));
        }
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
