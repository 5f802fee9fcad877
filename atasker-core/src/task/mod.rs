//! Tasks: the handle users hold, [`Task<T>`], and what identifies a task.
//!
//! - `cell.rs`: the shared state behind a handle (header, state machine, answer,
//!   blocking and async waits).
//! - `joined.rs`: the handle of a plain coroutine, whose result lives in tokio's task.
//! - `unwind.rs`: containment of user panics (in tasks, and in user values the library drops
//!   on its own threads).

mod cell;
mod joined;
mod unwind;

pub(crate) use cell::*;
pub(crate) use joined::{Joined, Output as JoinedOutput};
pub(crate) use unwind::*;

use crate::error::TaskError;
use crate::kind::PoolKind;
use crate::priority::Priority;
use serde::Serialize;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
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
    repr: Repr<T>,
}

/// Where a task's result is kept.
enum Repr<T> {
    /// In a cell shared with whatever runs the task (every pool, and coroutines with a delay
    /// or a deadline, or on the user's runtime).
    Cell(Arc<TaskCell<T>>),
    /// In tokio's task (a plain coroutine on the supervisor's own runtime).
    Joined(Joined<T>),
}

impl<T: Send + 'static> Task<T> {
    pub(crate) fn from_cell(cell: Arc<TaskCell<T>>) -> Self {
        Task {
            repr: Repr::Cell(cell),
        }
    }

    pub(crate) fn from_joined(joined: Joined<T>) -> Self {
        Task {
            repr: Repr::Joined(joined),
        }
    }

    /// What the pools and the supervisor may do with this task, if it has a cell (a plain
    /// coroutine has none).
    pub(crate) fn control(&self) -> Option<Arc<dyn Control>> {
        match &self.repr {
            Repr::Cell(cell) => Some(cell.clone()),
            Repr::Joined(_) => None,
        }
    }

    /// A task that has already failed with `err` (used when the supervisor refuses work).
    pub(crate) fn failed(
        sup: Arc<dyn Owner>,
        name: &'static str,
        priority: Priority,
        pool: PoolKind,
        err: TaskError,
    ) -> Self {
        let task = NewTask {
            sup,
            name,
            priority,
            pool,
            timeout: None,
            limit: None,
            // A refused task counts nowhere.
            by_name: crate::stats::NameRef::uncounted(),
        };
        let cell = TaskCell::new(task, DONE);
        *cell.lock() = Answer::Ready(Err(err));
        Task::from_cell(cell)
    }

    /// The task's identifier.
    ///
    /// ```
    /// let t = atasker::spawn(|| ());
    /// println!("started {}", t.id()); // started #1
    /// # t.wait().unwrap();
    /// ```
    pub fn id(&self) -> TaskId {
        match &self.repr {
            Repr::Cell(cell) => cell.header.id,
            Repr::Joined(j) => j.id,
        }
    }

    /// Whether the task has finished (with a value or an error).
    ///
    /// ```
    /// let t = atasker::spawn(|| 1);
    /// while !t.is_finished() { std::thread::yield_now(); }
    /// assert_eq!(t.wait(), Ok(1));
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.repr {
            Repr::Cell(cell) => !matches!(*cell.lock(), Answer::Pending { .. }),
            Repr::Joined(j) => j.is_finished(),
        }
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
    #[track_caller]
    pub fn wait(mut self) -> Result<T, TaskError> {
        self.wait_deadline(None).unwrap_or(Err(TaskError::Consumed))
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
    #[track_caller]
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<T, TaskError>> {
        self.wait_deadline(crate::sync::after(timeout))
    }

    /// Waits for the result until `deadline` (`None`: not in by then).
    #[track_caller]
    fn wait_deadline(&mut self, deadline: Option<Instant>) -> Option<Result<T, TaskError>> {
        match &mut self.repr {
            Repr::Cell(cell) => cell.wait_deadline(deadline),
            Repr::Joined(j) => blocking(deadline, || j.wait_blocking(deadline)),
        }
    }

    /// Cancels the task. `true` if it will not complete normally: a queued (or delayed) task
    /// never starts, a running coroutine is aborted, a running process task's child is killed
    /// and replaced. A running thread task cannot be interrupted: `false`, as for a task that
    /// has already finished or been cancelled. A remote task that no node has been seen to start is removed
    /// from its queue (`true`; a node that took it in that same instant may still run it
    /// once, its answer dropped); once a node runs it, `false` (its `timeout` is enforced on
    /// the node). A coroutine that finishes in the very instant it is cancelled has run to
    /// its end, but its handle still reports `Cancelled` (its value is dropped).
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
        match &self.repr {
            Repr::Cell(cell) => cell.cancel(),
            Repr::Joined(j) => j.cancel(),
        }
    }
}

impl<T> Drop for Task<T> {
    /// Detaches the task: it still runs, and its result is dropped where it is made (a
    /// panic in the result's `Drop` there is contained and logged).
    fn drop(&mut self) {
        // A plain coroutine's result, if nobody takes it, is dropped contained where it is.
        let Repr::Cell(cell) = &self.repr else {
            return;
        };
        let mut answer = crate::sync::lock(&cell.answer);
        match std::mem::replace(&mut *answer, Answer::Detached) {
            Answer::Ready(r) => {
                drop(answer);
                drop_contained(r);
            }
            Answer::Pending { .. } | Answer::Taken | Answer::Detached => {}
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (id, name, priority, pool) = match &self.repr {
            Repr::Cell(cell) => {
                let h = &cell.header;
                (h.id, h.name, h.priority, h.pool)
            }
            Repr::Joined(j) => (j.id, j.name, j.priority, PoolKind::Coroutines),
        };
        f.debug_struct("Task")
            .field("id", &id)
            .field("name", &name)
            .field("priority", &priority)
            .field("pool", &pool)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let cell = match &mut self.get_mut().repr {
            Repr::Cell(cell) => cell,
            Repr::Joined(j) => return j.poll_result(cx),
        };
        let mut answer = cell.lock();
        if let Some(r) = TaskCell::take_ready(&mut answer) {
            return Poll::Ready(r);
        }
        // Polled by `block_on` on a pool thread of the task's own pool: as in `wait`.
        while let Some(job) = cell.take_if_queued_here() {
            drop(answer);
            job();
            answer = cell.lock();
            if let Some(r) = TaskCell::take_ready(&mut answer) {
                return Poll::Ready(r);
            }
        }
        if let Answer::Pending { waker, .. } = &mut *answer {
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
#[track_caller]
pub fn wait_completed<T, I>(tasks: I, timeout: Option<Duration>) -> Result<Vec<T>, TaskError>
where
    T: Send + 'static,
    I: IntoIterator<Item = Task<T>>,
{
    let deadline = timeout.and_then(crate::sync::after);
    let tasks = tasks.into_iter();
    let mut out = Vec::with_capacity(tasks.size_hint().0);
    for mut task in tasks {
        match task.wait_deadline(deadline) {
            Some(r) => out.push(r?),
            None => return Err(TaskError::TimedOut),
        }
    }
    Ok(out)
}
