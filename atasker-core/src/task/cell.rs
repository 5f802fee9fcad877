//! The shared state of a task: its [`Header`] (identity, state machine, accounting), the
//! one-shot answer, and the waits on it (blocking, with a deadline, and as a future).

use super::unwind::drop_contained;
use super::{TaskId, TaskInfo};
use crate::kind::{Outcome, PoolKind};

use crate::error::TaskError;
use crate::priority::Priority;
use crate::stats::NameRef;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

// Task states (in `Header::state`).
/// Waiting for a slot (or for its delay).
pub(crate) const QUEUED: u8 = 0;
/// Started.
pub(crate) const RUNNING: u8 = 1;
/// Finished: its result is set (or dropped, if nobody holds the handle).
pub(crate) const DONE: u8 = 2;
/// A coroutine cancelled while queued (delayed) or running: its future is being dropped, and
/// the drop reports `Cancelled` once it is gone (never before).
pub(crate) const CANCEL_QUEUED: u8 = 3;
/// See [`CANCEL_QUEUED`].
pub(crate) const CANCEL_RUNNING: u8 = 4;

/// The type-independent part of a task: identity, state and accounting.
pub(crate) struct Header {
    pub(crate) id: TaskId,
    pub(crate) name: &'static str,
    pub(crate) priority: Priority,
    pub(crate) pool: PoolKind,
    pub(crate) timeout: Option<Duration>,
    /// At most this many tasks of its name run at once in its pool (`limit = N`).
    pub(crate) limit: Option<NonZeroU32>,
    state: AtomicU8,
    /// Whether the supervisor's table of live coroutines and delayed tasks holds this task.
    pub(crate) tracked: AtomicBool,
    /// The task's supervisor, through what a task may ask of it.
    pub(crate) sup: Arc<dyn Owner>,
    /// Set for coroutines once spawned: how to abort them.
    abort: OnceLock<tokio::task::AbortHandle>,
    /// A pool thread of the task's own pool waits for this (queued) task: when it queues,
    /// the pool nudges the waiter, which then runs it itself (see `Owner::take_queued_here`).
    pub(crate) awaited_in_pool: AtomicBool,
    /// When it started ([`now_ns`]; 0: not yet).
    started_ns: AtomicU64,
    /// The counters of its name.
    pub(crate) by_name: NameRef,
}

/// What a task is made of, besides its result type.
pub(crate) struct NewTask {
    pub(crate) sup: Arc<dyn Owner>,
    pub(crate) name: &'static str,
    pub(crate) priority: Priority,
    pub(crate) pool: PoolKind,
    pub(crate) timeout: Option<Duration>,
    pub(crate) limit: Option<NonZeroU32>,
    pub(crate) by_name: NameRef,
}

/// Monotonic nanoseconds (never 0): on Linux the clock `Instant` reads (`CLOCK_MONOTONIC`),
/// read straight into a number; elsewhere since the process's first task.
pub(crate) fn now_ns() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid `timespec` to write; CLOCK_MONOTONIC exists on every Linux.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
        let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
        secs.wrapping_mul(1_000_000_000).wrapping_add(nanos) | 1
    }
    #[cfg(not(target_os = "linux"))]
    {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        let since = EPOCH.get_or_init(Instant::now).elapsed();
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }
}

impl Header {
    /// Moves a queued task to running. `false` if it was cancelled meanwhile.
    pub(crate) fn try_start(&self, queued_at: Option<Instant>) -> bool {
        if self
            .state
            .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        self.started_ns.store(now_ns(), Ordering::Relaxed);
        let waited = queued_at.map(|t| t.elapsed()).unwrap_or_default();
        self.sup.started(self, waited);
        true
    }

    /// Moves the task from `from` to done, recording the outcome. `None` if another path (a
    /// cancel, a deadline, the run itself) finished it first; else how long it ran, if it
    /// started.
    fn finish(&self, from: u8, outcome: Outcome) -> Option<Option<Duration>> {
        self.state
            .compare_exchange(from, DONE, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        let was_running = from == RUNNING || from == CANCEL_RUNNING;
        let started = self.started_ns.load(Ordering::Relaxed);
        let ran = (was_running && started != 0)
            .then(|| Duration::from_nanos(now_ns().saturating_sub(started)));
        self.sup.finished(self, was_running, outcome, ran);
        Some(ran)
    }

    /// Logs the task's end (inside its span where it ran there).
    fn log_end<T>(&self, result: &Result<T, TaskError>, ran: Option<Duration>) {
        log_end(self.id, self.name, self.priority, self.pool, result, ran);
    }

    /// Logs the task's start (called inside its span).
    pub(crate) fn log_start(&self) {
        log_start(self.id, self.name, self.priority, self.pool);
    }

    /// Marks a coroutine as cancelled; its future's drop then reports it. `false` if it had
    /// finished (or was being cancelled) already.
    fn start_cancel(&self) -> bool {
        let mut state = self.state();
        loop {
            let to = match state {
                QUEUED => CANCEL_QUEUED,
                RUNNING => CANCEL_RUNNING,
                _ => return false,
            };
            match self
                .state
                .compare_exchange(state, to, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        if let Some(h) = self.abort.get() {
            h.abort();
        }
        true
    }

    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    pub(crate) fn info(&self, waited: Duration) -> TaskInfo {
        TaskInfo {
            id: self.id,
            name: self.name,
            priority: self.priority,
            pool: self.pool,
            waited,
        }
    }
}

/// Logs a task's end: `debug` for a value or a cancel, `error` for a failure.
pub(crate) fn log_end<T>(
    id: TaskId,
    name: &'static str,
    priority: Priority,
    pool: PoolKind,
    result: &Result<T, TaskError>,
    ran: Option<Duration>,
) {
    let duration = ran.map(|d| d.as_secs_f64());
    let outcome = Outcome::of(result).as_str();
    match result {
        Ok(_) | Err(TaskError::Cancelled) => {
            tracing::debug!(task = name, id = id.as_u64(), priority = %priority, pool = %pool, outcome, duration, "atasker: task ended")
        }
        Err(e) => {
            tracing::error!(task = name, id = id.as_u64(), priority = %priority, pool = %pool, outcome, duration, error = %e, "atasker: task failed")
        }
    }
}

/// Logs a task's start.
pub(crate) fn log_start(id: TaskId, name: &'static str, priority: Priority, pool: PoolKind) {
    tracing::debug!(task = name, id = id.as_u64(), priority = %priority, pool = %pool, "atasker: task started");
}

/// What a task may ask of its supervisor, and nothing more (as tokio's tasks hold a
/// `Owner`): accounting, release, and what a cancel, a deadline or a nested wait needs.
pub(crate) trait Owner: Send + Sync + 'static {
    /// The queued task `h` started, after waiting `waited` for a slot.
    fn started(&self, h: &Header, waited: Duration);
    /// The task `h` ended with `outcome`; `was_running`: it had started, `ran` this long.
    fn finished(&self, h: &Header, was_running: bool, outcome: Outcome, ran: Option<Duration>);
    /// The task's result is set: it no longer counts as unfinished.
    fn released(&self, h: &Header);
    /// The running task `h` was cancelled or timed out: stop what runs it, where that can
    /// be done (a process task's child is killed; a thread cannot be interrupted).
    fn kill(&self, h: &Header);
    /// Arms a timer that reports the running `task` as timed out after `d`; dropping the
    /// guard disarms it. `None`: no timer could be armed (no runtime).
    fn deadline(&self, task: Arc<dyn Control>, d: Duration) -> Option<DeadlineGuard>;
    /// Where the calling thread serves the pool of the queued task `h` (a task waiting for
    /// another of its own pool): marks `h` as awaited there, and takes it out of the queue
    /// for this thread to run, if it is queued already.
    fn take_queued_here(&self, h: &Header) -> Option<Box<dyn FnOnce() + Send>>;
    /// Whether a task's end is logged when its result is set (not where the runs behind one
    /// handle log their own ends: a retried task's).
    fn logs_end(&self) -> bool {
        true
    }
}

/// Disarms a deadline timer when dropped (the task finished first).
pub(crate) struct DeadlineGuard(pub(crate) tokio::task::AbortHandle);

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the pools and the supervisor may do with a task of any result type.
pub(crate) trait Control: Send + Sync {
    fn header(&self) -> &Header;
    /// Cancels the task if it is queued, or running as a coroutine.
    fn cancel(&self) -> bool;
    /// Reports a running task as timed out.
    fn expire(&self);
    /// Wakes whoever waits for the task, so that it looks at the task's state again.
    fn nudge(&self);
}

/// Where a task's result waits for its handle: still to come, set, taken, or unwanted.
pub(crate) enum Answer<T> {
    /// No result yet; `waker`: an awaiting future, `sleepers`: threads blocked in a wait.
    Pending {
        waker: Option<Waker>,
        sleepers: bool,
    },
    /// The result, not yet taken by the handle.
    Ready(Result<T, TaskError>),
    /// The handle took the result.
    Taken,
    /// The handle was dropped: a result is dropped where it is made, its `Drop` contained.
    Detached,
}

/// A task's shared state: the header plus a one-shot answer.
pub(crate) struct TaskCell<T> {
    pub(super) header: Header,
    pub(super) answer: Mutex<Answer<T>>,
    ready: Condvar,
}

impl<T: Send + 'static> TaskCell<T> {
    pub(crate) fn new(task: NewTask, state: u8) -> Arc<Self> {
        let started_ns = if state == RUNNING { now_ns() } else { 0 };
        Arc::new(TaskCell {
            header: Header {
                id: TaskId::next(),
                name: task.name,
                priority: task.priority,
                pool: task.pool,
                timeout: task.timeout,
                limit: task.limit,
                state: AtomicU8::new(state),
                tracked: AtomicBool::new(false),
                sup: task.sup,
                abort: OnceLock::new(),
                awaited_in_pool: AtomicBool::new(false),
                started_ns: AtomicU64::new(started_ns),
                by_name: task.by_name,
            },
            answer: Mutex::new(Answer::Pending {
                waker: None,
                sleepers: false,
            }),
            ready: Condvar::new(),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Answer<T>> {
        crate::sync::lock(&self.answer)
    }

    /// Finishes the task from state `from` with `result`, unless it was finished already.
    ///
    /// Where nobody holds the handle any more, the result is dropped here, and a panic in its
    /// `Drop` is contained (this runs on the library's own threads).
    pub(crate) fn finish(&self, from: u8, result: Result<T, TaskError>) -> bool {
        let Some(ran) = self.header.finish(from, Outcome::of(&result)) else {
            drop_contained(result);
            return false;
        };
        if self.header.sup.logs_end() {
            self.header.log_end(&result, ran);
        }
        let mut answer = self.lock();
        if matches!(*answer, Answer::Detached) {
            drop(answer);
            drop_contained(result);
        } else {
            let prev = std::mem::replace(&mut *answer, Answer::Ready(result));
            drop(answer);
            if let Answer::Pending { waker, sleepers } = prev {
                if let Some(w) = waker {
                    w.wake();
                }
                if sleepers {
                    self.ready.notify_all();
                }
            }
        }
        self.header.sup.released(&self.header);
        true
    }

    /// Finishes a coroutine whose future is gone (dropped by a cancel, an abort or a runtime
    /// shutdown) as cancelled, unless it finished before.
    pub(crate) fn finish_dropped(&self) {
        for from in [CANCEL_RUNNING, CANCEL_QUEUED, RUNNING, QUEUED] {
            if self.finish(from, Err(TaskError::Cancelled)) {
                return;
            }
        }
    }

    /// Records the abort handle of the coroutine running this task.
    pub(crate) fn set_abort(&self, handle: tokio::task::AbortHandle) {
        let _ = self.header.abort.set(handle);
        if matches!(self.header.state(), CANCEL_QUEUED | CANCEL_RUNNING) {
            // Cancelled while being spawned.
            if let Some(h) = self.header.abort.get() {
                h.abort();
            }
        }
    }

    pub(super) fn take_ready(answer: &mut Answer<T>) -> Option<Result<T, TaskError>> {
        match std::mem::replace(answer, Answer::Taken) {
            Answer::Ready(r) => Some(r),
            Answer::Taken | Answer::Detached => Some(Err(TaskError::Consumed)),
            pending => {
                *answer = pending;
                None
            }
        }
    }

    #[track_caller]
    pub(super) fn wait_deadline(&self, deadline: Option<Instant>) -> Option<Result<T, TaskError>> {
        blocking(deadline, || self.wait_blocking(deadline))
    }

    /// Takes the task's job if it is still queued in the pool this thread serves (a task
    /// waiting for another task of its own full pool), for this thread to run. Otherwise,
    /// asks the pool to nudge this waiter should the task queue later (a delayed task).
    ///
    /// Called with the answer locked (so that a nudge cannot slip in between this look and the
    /// waiter's sleep); the job it returns runs after the lock is released.
    pub(super) fn take_if_queued_here(&self) -> Option<Box<dyn FnOnce() + Send>> {
        let h = &self.header;
        if h.state() != QUEUED {
            return None;
        }
        h.sup.take_queued_here(h)
    }

    fn wait_blocking(&self, deadline: Option<Instant>) -> Option<Result<T, TaskError>> {
        spin_briefly(deadline, || self.header.state() == DONE);
        let mut answer = self.lock();
        loop {
            if let Some(r) = Self::take_ready(&mut answer) {
                return Some(r);
            }
            // Checked with the answer locked: a nudge (which takes the lock) cannot slip in
            // between this look and the sleep below.
            if let Some(job) = self.take_if_queued_here() {
                drop(answer);
                job();
                answer = self.lock();
                continue;
            }
            if let Answer::Pending { sleepers, .. } = &mut *answer {
                *sleepers = true;
            }
            answer = crate::sync::wait(&self.ready, answer, deadline).ok()?;
        }
    }
}

impl<T: Send + 'static> Control for TaskCell<T> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn cancel(&self) -> bool {
        if self.header.pool == PoolKind::Coroutines {
            // Reported by the future's drop guard once the future is gone.
            return self.header.start_cancel();
        }
        match self.header.state() {
            QUEUED => {
                let done = self.finish(QUEUED, Err(TaskError::Cancelled));
                if done {
                    if let Some(h) = self.header.abort.get() {
                        h.abort();
                    }
                    if matches!(self.header.pool, PoolKind::Remote | PoolKind::Processes) {
                        // Out of its queue, unless a node took it meanwhile; a request sent
                        // ahead to a child is withdrawn (or the child killed, if it took it).
                        self.header.sup.kill(&self.header);
                    }
                }
                done
            }
            // A thread cannot be interrupted; a remote task a node runs is the node's.
            RUNNING if self.header.pool == PoolKind::Processes => {
                let done = self.finish(RUNNING, Err(TaskError::Cancelled));
                if done {
                    if let Some(h) = self.header.abort.get() {
                        h.abort();
                    }
                    self.header.sup.kill(&self.header);
                }
                done
            }
            _ => false,
        }
    }

    fn expire(&self) {
        if self.finish(RUNNING, Err(TaskError::TimedOut)) {
            if let Some(h) = self.header.abort.get() {
                h.abort();
            }
            self.header.sup.kill(&self.header);
        }
    }

    fn nudge(&self) {
        let mut answer = self.lock();
        if let Answer::Pending { waker, sleepers } = &mut *answer {
            if let Some(w) = waker.take() {
                w.wake();
            }
            if *sleepers {
                self.ready.notify_all();
            }
        }
    }
}

/// Before a waiter sleeps, watches for `done` for up to 30 µs (never past `deadline`), see
/// [`watch_briefly`](crate::sync::watch_briefly).
pub(super) fn spin_briefly(deadline: Option<Instant>, done: impl Fn() -> bool) {
    const SPIN: Duration = Duration::from_micros(30);
    let most = deadline.map_or(SPIN, |d| {
        d.saturating_duration_since(Instant::now()).min(SPIN)
    });
    crate::sync::watch_briefly(most, done);
}

thread_local! {
    static BLOCKED_IN_PLACE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread went through `block_in_place` (in [`blocking`]) since the
/// last call; clears the mark. A runtime thread that did may not come back to its runtime
/// as a worker (it may end up in tokio's blocking pool, which never parks).
pub(crate) fn blocked_in_place() -> bool {
    BLOCKED_IN_PLACE.with(|b| b.replace(false))
}

/// Runs a blocking wait that may last until `deadline`. Inside a multi-thread tokio runtime
/// it tells the runtime first (`block_in_place`), so that other tasks move to another thread
/// instead of starving. On a current-thread runtime it panics (unless the wait cannot block):
/// the runtime's one thread would block for good.
#[track_caller]
pub(crate) fn blocking<R>(deadline: Option<Instant>, f: impl FnOnce() -> R) -> R {
    use tokio::runtime::RuntimeFlavor;
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => {
            // The thread may give its runtime core away for good (see `blocked_in_place`).
            BLOCKED_IN_PLACE.with(|b| b.set(true));
            tokio::task::block_in_place(f)
        }
        Ok(_) if deadline.is_none_or(|d| d > Instant::now()) => panic!(
            "atasker: a blocking wait on a current-thread tokio runtime would hang that \
             runtime; `.await` the task instead (a `Task` is a `Future`), or call from a \
             blocking thread (`tokio::task::spawn_blocking`)"
        ),
        _ => f(),
    }
}
