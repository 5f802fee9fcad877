//! The task handle, [`Task<T>`], and the shared state behind it.

use crate::error::TaskError;
use crate::priority::Priority;
use crate::supervisor::Inner;
use serde::Serialize;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A task's identifier, unique within the process.
///
/// ```
/// let a = atasker::spawn(|| 1);
/// let b = atasker::spawn(|| 2);
/// assert_ne!(a.id(), b.id());
/// assert_eq!(a.id().to_string(), format!("#{}", a.id().as_u64()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct TaskId(u64);

impl TaskId {
    pub(crate) fn next() -> TaskId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TaskId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The id as a number.
    ///
    /// ```
    /// let t = atasker::spawn(|| ());
    /// assert!(t.id().as_u64() > 0);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a task runs.
///
/// ```
/// use atasker::PoolKind;
/// assert_eq!(PoolKind::Threads.to_string(), "threads");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    /// The supervisor's thread pool (`fn`).
    Threads,
    /// The supervisor's process pool (`static fn`).
    Processes,
    /// The supervisor's tokio runtime (`async fn`).
    Coroutines,
}

impl PoolKind {
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for PoolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PoolKind::Threads => "threads",
            PoolKind::Processes => "processes",
            PoolKind::Coroutines => "coroutines",
        })
    }
}

/// What a queue-wait hook is told about a task that waits too long for a slot.
///
/// ```
/// use std::time::Duration;
/// let sup = atasker::Supervisor::builder()
///     .timeout_warning(Duration::from_secs(1))
///     .on_timeout_warning(|t: &atasker::TaskInfo| {
///         eprintln!("{} ({}) queued for {:?}", t.name, t.priority, t.waited)
///     })
///     .build()
///     .unwrap();
/// # drop(sup);
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task.
    pub id: TaskId,
    /// The task's name (`module::function` for tasks made by the macro).
    pub name: &'static str,
    /// Its priority.
    pub priority: Priority,
    /// The pool it waits for.
    pub pool: PoolKind,
    /// How long it has waited so far.
    pub waited: Duration,
}

/// Task states (in `Header::state`).
pub(crate) const QUEUED: u8 = 0;
pub(crate) const RUNNING: u8 = 1;
pub(crate) const DONE: u8 = 2;
/// A coroutine cancelled while queued (delayed) or running: its future is being dropped, and
/// the drop reports `Cancelled` once it is gone (never before).
pub(crate) const CANCEL_QUEUED: u8 = 3;
pub(crate) const CANCEL_RUNNING: u8 = 4;

/// How a task ended, for the statistics.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Outcome {
    Completed,
    Failed,
    Cancelled,
}

impl Outcome {
    fn of<T>(r: &Result<T, TaskError>) -> Outcome {
        match r {
            Ok(_) => Outcome::Completed,
            Err(TaskError::Cancelled) => Outcome::Cancelled,
            Err(_) => Outcome::Failed,
        }
    }
}

/// The type-independent part of a task: identity, state and accounting.
pub(crate) struct Header {
    pub(crate) id: TaskId,
    pub(crate) name: &'static str,
    pub(crate) priority: Priority,
    pub(crate) pool: PoolKind,
    pub(crate) timeout: Option<Duration>,
    state: AtomicU8,
    /// Whether the supervisor's table of live coroutines and delayed tasks holds this task.
    pub(crate) tracked: AtomicBool,
    pub(crate) sup: Arc<Inner>,
    /// Set for coroutines once spawned: how to abort them.
    abort: OnceLock<tokio::task::AbortHandle>,
    /// A pool thread of the task's own pool waits for this (queued) task: when it queues,
    /// the pool nudges the waiter, which then runs it itself (see `Inner::run_queued_here`).
    pub(crate) awaited_in_pool: AtomicBool,
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
        let waited = queued_at.map(|t| t.elapsed()).unwrap_or_default();
        self.sup.stats.started(self.pool, self.priority, waited);
        true
    }

    /// Moves the task from `from` to done, recording the outcome. `false` if another path
    /// (a cancel, a deadline, the run itself) finished it first.
    fn finish(&self, from: u8, outcome: Outcome) -> bool {
        if self
            .state
            .compare_exchange(from, DONE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let was_running = from == RUNNING || from == CANCEL_RUNNING;
        self.sup
            .stats
            .finished(self.pool, self.priority, was_running, outcome);
        true
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

enum Slot<T> {
    Pending {
        waker: Option<Waker>,
        sleepers: bool,
    },
    Ready(Result<T, TaskError>),
    Taken,
    /// The handle was dropped: a result is dropped where it is made, its `Drop` contained.
    Detached,
}

/// A task's shared state: the header plus a one-shot result slot.
pub(crate) struct TaskCell<T> {
    header: Header,
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

impl<T: Send + 'static> TaskCell<T> {
    pub(crate) fn new(
        sup: Arc<Inner>,
        name: &'static str,
        priority: Priority,
        pool: PoolKind,
        timeout: Option<Duration>,
        state: u8,
    ) -> Arc<Self> {
        Arc::new(TaskCell {
            header: Header {
                id: TaskId::next(),
                name,
                priority,
                pool,
                timeout,
                state: AtomicU8::new(state),
                tracked: AtomicBool::new(false),
                sup,
                abort: OnceLock::new(),
                awaited_in_pool: AtomicBool::new(false),
            },
            slot: Mutex::new(Slot::Pending {
                waker: None,
                sleepers: false,
            }),
            ready: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        // The slot is never left inconsistent by a panic, so a poisoned lock is still usable.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Finishes the task from state `from` with `result`, unless it was finished already.
    ///
    /// Where nobody holds the handle any more, the result is dropped here, and a panic in its
    /// `Drop` is contained (this runs on the library's own threads).
    pub(crate) fn finish(&self, from: u8, result: Result<T, TaskError>) -> bool {
        if !self.header.finish(from, Outcome::of(&result)) {
            drop_contained(result);
            return false;
        }
        let mut slot = self.lock();
        if matches!(*slot, Slot::Detached) {
            drop(slot);
            drop_contained(result);
        } else {
            let prev = std::mem::replace(&mut *slot, Slot::Ready(result));
            drop(slot);
            if let Slot::Pending { waker, sleepers } = prev {
                if let Some(w) = waker {
                    w.wake();
                }
                if sleepers {
                    self.ready.notify_all();
                }
            }
        }
        self.header.sup.task_released(&self.header);
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

    /// Before sleeping on the condition variable, watch the task's state for a few
    /// microseconds, yielding the core meanwhile: a result that comes that soon (a short task on another core) then costs
    /// no sleep and wake-up, which on a virtual machine is the larger part of a round trip.
    fn spin_briefly(&self, deadline: Option<Instant>) {
        const SPIN: Duration = Duration::from_micros(30);
        static CORES: OnceLock<usize> = OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if cores < 2 || self.header.state() == DONE {
            return;
        }
        let until = Instant::now()
            + deadline.map_or(SPIN, |d| {
                d.saturating_duration_since(Instant::now()).min(SPIN)
            });
        // Yield rather than spin: where the task's thread (or process) needs this core, it
        // gets it at once.
        while self.header.state() != DONE && Instant::now() < until {
            std::thread::yield_now();
        }
    }

    fn take_ready(slot: &mut Slot<T>) -> Option<Result<T, TaskError>> {
        match std::mem::replace(slot, Slot::Taken) {
            Slot::Ready(r) => Some(r),
            Slot::Taken | Slot::Detached => Some(Err(TaskError::Consumed)),
            pending => {
                *slot = pending;
                None
            }
        }
    }

    fn wait_deadline(&self, deadline: Option<Instant>) -> Option<Result<T, TaskError>> {
        blocking(deadline, || self.wait_blocking(deadline))
    }

    /// Takes the task's job if it is still queued in the pool this thread serves (a task
    /// waiting for another task of its own full pool), for this thread to run. Otherwise,
    /// asks the pool to nudge this waiter should the task queue later (a delayed task).
    ///
    /// Called with the slot locked (so that a nudge cannot slip in between this look and the
    /// waiter's sleep); the job it returns runs after the lock is released.
    fn take_if_queued_here(&self) -> Option<crate::thread_pool::Job> {
        let h = &self.header;
        if h.state() != QUEUED || !h.sup.serves_current_thread(h) {
            return None;
        }
        h.awaited_in_pool.store(true, Ordering::SeqCst);
        h.sup.take_queued_here(h)
    }

    fn wait_blocking(&self, deadline: Option<Instant>) -> Option<Result<T, TaskError>> {
        self.spin_briefly(deadline);
        let mut slot = self.lock();
        loop {
            if let Some(r) = Self::take_ready(&mut slot) {
                return Some(r);
            }
            // Checked with the slot locked: a nudge (which takes the lock) cannot slip in
            // between this look and the sleep below.
            if let Some(job) = self.take_if_queued_here() {
                drop(slot);
                crate::thread_pool::run_contained(job);
                slot = self.lock();
                continue;
            }
            if let Slot::Pending { sleepers, .. } = &mut *slot {
                *sleepers = true;
            }
            slot = match deadline {
                None => self.ready.wait(slot).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return None;
                    }
                    self.ready
                        .wait_timeout(slot, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
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
                }
                done
            }
            RUNNING if self.header.pool != PoolKind::Threads => {
                let done = self.finish(RUNNING, Err(TaskError::Cancelled));
                if done {
                    if let Some(h) = self.header.abort.get() {
                        h.abort();
                    }
                    self.header.sup.kill_running(&self.header);
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
            self.header.sup.kill_running(&self.header);
        }
    }

    fn nudge(&self) {
        let mut slot = self.lock();
        if let Slot::Pending { waker, sleepers } = &mut *slot {
            if let Some(w) = waker.take() {
                w.wake();
            }
            if *sleepers {
                self.ready.notify_all();
            }
        }
    }
}

/// A handle to a task running in the background.
///
/// Made by `#[background_task]` functions, [`spawn`](crate::spawn),
/// [`spawn_async`](crate::spawn_async) and [`TaskBuilder`](crate::TaskBuilder).
/// Wait for it with [`wait`](Task::wait) from sync code or `.await` it from async code.
/// Dropping the handle detaches the task: it still runs.
///
/// ```
/// let t = atasker::spawn(|| 6 * 7);
/// assert_eq!(t.wait().unwrap(), 42);
/// ```
///
/// In async code (a `Task` is a `Future`):
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let n = atasker::spawn_async(async { 6 * 7 }).await;
/// assert_eq!(n, Ok(42));
/// # });
/// ```
#[must_use = "a task runs in the background even if dropped; wait for it to get its result"]
pub struct Task<T> {
    cell: Arc<TaskCell<T>>,
}

impl<T: Send + 'static> Task<T> {
    pub(crate) fn from_cell(cell: Arc<TaskCell<T>>) -> Self {
        Task { cell }
    }

    /// A task that has already failed with `err` (used when the supervisor refuses work).
    pub(crate) fn failed(
        sup: Arc<Inner>,
        name: &'static str,
        priority: Priority,
        pool: PoolKind,
        err: TaskError,
    ) -> Self {
        let cell = TaskCell::new(sup, name, priority, pool, None, DONE);
        *cell.lock() = Slot::Ready(Err(err));
        Task { cell }
    }

    /// The task's identifier.
    ///
    /// ```
    /// let t = atasker::spawn(|| ());
    /// println!("started {}", t.id()); // started #1
    /// # t.wait().unwrap();
    /// ```
    pub fn id(&self) -> TaskId {
        self.cell.header.id
    }

    /// Whether the task has finished (with a value or an error).
    ///
    /// ```
    /// let t = atasker::spawn(|| 1);
    /// while !t.is_finished() { std::thread::yield_now(); }
    /// assert_eq!(t.wait(), Ok(1));
    /// ```
    pub fn is_finished(&self) -> bool {
        !matches!(*self.cell.lock(), Slot::Pending { .. })
    }

    /// Blocks the current thread until the task finishes, and returns its result.
    ///
    /// For sync code; in async code `.await` the task instead. Called on a thread of a
    /// multi-thread tokio runtime it still works (through `block_in_place`, so the runtime
    /// moves its other tasks away).
    ///
    /// Called from a pool thread on a task still queued in the same full pool (a task that
    /// waits for another task of its own pool), it runs that task on the waiting thread, as
    /// rayon's `join` does: the awaited task takes no new slot and nothing else queued is
    /// passed over, so nested waiting never deadlocks.
    ///
    /// # Panics
    ///
    /// On a thread that drives a current-thread tokio runtime (inside its `block_on`, e.g.
    /// `#[tokio::main(flavor = "current_thread")]` or `#[tokio::test]`), where blocking would
    /// hang that runtime for good: it panics at once, saying to `.await` the task instead, as
    /// tokio's own `block_on` does inside a runtime. The same holds for
    /// [`wait_timeout`](Task::wait_timeout) with a non-zero timeout and for
    /// [`wait_completed`](crate::wait_completed).
    ///
    /// ```
    /// let t = atasker::spawn(|| "done");
    /// assert_eq!(t.wait(), Ok("done"));
    /// ```
    ///
    /// A task that waits for another task of its own full pool:
    ///
    /// ```
    /// // One thread and no reserves: while `outer` runs, the pool is full.
    /// let sup = atasker::Supervisor::builder()
    ///     .thread_pool(1)
    ///     .reserve_normal(0)
    ///     .reserve_high(0)
    ///     .build()
    ///     .unwrap();
    /// let s = sup.clone();
    /// let outer = sup.task().spawn(move || {
    ///     let inner = s.task().spawn(|| 20); // queued: the only thread runs `outer`
    ///     inner.wait().unwrap() + 1 // runs `inner` here, on this thread
    /// });
    /// assert_eq!(outer.wait(), Ok(21));
    /// ```
    pub fn wait(self) -> Result<T, TaskError> {
        self.cell
            .wait_deadline(None)
            .unwrap_or(Err(TaskError::Consumed))
    }

    /// Waits up to `timeout` for the task. `None`: not finished yet (the task goes on).
    ///
    /// Once it has returned `Some`, the result is taken: later calls return
    /// `Some(Err(TaskError::Consumed))`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (go, wait_for_go) = std::sync::mpsc::channel::<()>();
    /// let mut t = atasker::spawn(move || wait_for_go.recv().unwrap());
    /// assert!(t.wait_timeout(Duration::from_millis(1)).is_none());
    /// go.send(()).unwrap();
    /// assert_eq!(t.wait_timeout(Duration::from_secs(30)), Some(Ok(())));
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<T, TaskError>> {
        self.cell.wait_deadline(Some(Instant::now() + timeout))
    }

    /// Cancels the task. `true` if it will not complete normally: a queued (or delayed) task
    /// never starts, a running coroutine is aborted, a running process task's child is killed
    /// and replaced. A running thread task cannot be interrupted: `false`, as for a task that
    /// has already finished.
    ///
    /// ```
    /// use atasker::{Supervisor, TaskError};
    /// use std::time::Duration;
    /// let sup = Supervisor::builder().build().unwrap();
    /// let t = sup.task().delay(Duration::from_secs(60)).spawn(|| 1);
    /// assert!(t.cancel());
    /// assert_eq!(t.wait(), Err(TaskError::Cancelled));
    /// ```
    pub fn cancel(&self) -> bool {
        self.cell.cancel()
    }
}

impl<T> Drop for Task<T> {
    /// Detaches the task: it still runs, and its result is dropped where it is made (a
    /// panic in the result's `Drop` there is contained and logged).
    fn drop(&mut self) {
        let mut slot = self.cell.slot.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *slot, Slot::Detached) {
            Slot::Ready(r) => {
                drop(slot);
                drop_contained(r);
            }
            Slot::Pending { .. } | Slot::Taken | Slot::Detached => {}
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.cell.header;
        f.debug_struct("Task")
            .field("id", &h.id)
            .field("name", &h.name)
            .field("priority", &h.priority)
            .field("pool", &h.pool)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.cell.lock();
        if let Some(r) = TaskCell::take_ready(&mut slot) {
            return Poll::Ready(r);
        }
        // Polled by `block_on` on a pool thread of the task's own pool: as in `wait`.
        while let Some(job) = self.cell.take_if_queued_here() {
            drop(slot);
            crate::thread_pool::run_contained(job);
            slot = self.cell.lock();
            if let Some(r) = TaskCell::take_ready(&mut slot) {
                return Poll::Ready(r);
            }
        }
        if let Slot::Pending { waker, .. } = &mut *slot {
            match waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *waker = Some(cx.waker().clone()),
            }
        }
        Poll::Pending
    }
}

/// Waits for every task, in input order, against one shared deadline.
///
/// Returns the results in input order, the first error met (in input order), or
/// `Err(TaskError::TimedOut)` once `timeout` has passed; tasks not waited for go on.
///
/// ```
/// let tasks = (1..=3).map(|i| atasker::spawn(move || i * 10)).collect::<Vec<_>>();
/// assert_eq!(atasker::wait_completed(tasks, None), Ok(vec![10, 20, 30]));
/// ```
pub fn wait_completed<T, I>(tasks: I, timeout: Option<Duration>) -> Result<Vec<T>, TaskError>
where
    T: Send + 'static,
    I: IntoIterator<Item = Task<T>>,
{
    let deadline = timeout.map(|t| Instant::now() + t);
    let tasks = tasks.into_iter();
    let mut out = Vec::with_capacity(tasks.size_hint().0);
    for task in tasks {
        match task.cell.wait_deadline(deadline) {
            Some(r) => out.push(r?),
            None => return Err(TaskError::TimedOut),
        }
    }
    Ok(out)
}

/// Runs a blocking wait that may last until `deadline`. Inside a multi-thread tokio runtime
/// it tells the runtime first (`block_in_place`), so that other tasks move to another thread
/// instead of starving. On a current-thread runtime it panics (unless the wait cannot block):
/// the runtime's one thread would block for good.
pub(crate) fn blocking<R>(deadline: Option<Instant>, f: impl FnOnce() -> R) -> R {
    use tokio::runtime::RuntimeFlavor;
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        Ok(_) if deadline.is_none_or(|d| d > Instant::now()) => panic!(
            "atasker: a blocking wait on a current-thread tokio runtime would hang that \
             runtime; `.await` the task instead (a `Task` is a `Future`), or call from a \
             blocking thread (`tokio::task::spawn_blocking`)"
        ),
        _ => f(),
    }
}

/// Drops `value`, containing a panic in its `Drop` (logged): used where the library drops
/// user values on its own threads.
pub(crate) fn drop_contained<V>(value: V) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        tracing::error!(
            panic = %panic_message(&*p),
            "atasker: a value's `Drop` panicked on a library thread; contained"
        );
    }
}

/// Holds a user value (a closure, arguments) in a library structure: if the structure is
/// dropped with the value still inside, the value's `Drop` runs contained.
pub(crate) struct Contained<V>(Option<V>);

impl<V> Contained<V> {
    pub(crate) fn new(v: V) -> Self {
        Contained(Some(v))
    }

    /// Takes the value out (once).
    pub(crate) fn take(&mut self) -> Option<V> {
        self.0.take()
    }

    pub(crate) fn get(&self) -> Option<&V> {
        self.0.as_ref()
    }
}

impl<V> Drop for Contained<V> {
    fn drop(&mut self) {
        if let Some(v) = self.0.take() {
            drop_contained(v);
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Runs `f`, turning a panic into `TaskError::Panicked`.
pub(crate) fn run_catching<T>(f: impl FnOnce() -> T) -> Result<T, TaskError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| TaskError::Panicked {
        message: panic_message(&*p),
    })
}

/// A future that turns a panic while polling its inner future into `TaskError::Panicked`.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field; it is never moved out.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match run_catching(|| inner.poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
