//! Coroutines: `async fn` tasks on the supervisor's tokio runtime (its own or the user's).
//! Not limited by the ladder; their priority is recorded. A cancel, an abort or a runtime
//! shutdown reports `Cancelled` from a guard dropped after the future. A coroutine with a
//! limit (`limit = N`) waits queued, holding nothing, for a permit of its name (`limit.rs`).
//!
//! A plain coroutine (no delay, no deadline, no limit, on the supervisor's own runtime) is
//! [`Lean`]: one tokio task that holds its own accounting and returns its result through
//! tokio's `JoinHandle`, so that it costs about what `tokio::spawn` costs. The others keep a
//! [`TaskCell`] (a cancel while delayed or waiting for its limit, a deadline and a stop on
//! the user's runtime need its state machine and the supervisor's table).

use super::limit::Gate;
use crate::context;
use crate::supervisor::*;

use crate::error::TaskError;
use crate::kind::{Outcome, PoolKind};
use crate::priority::Priority;
use crate::stats::NameRef;
use crate::task::{
    blocked_in_place, log_end, log_start, CatchUnwind, Contained, Control, Joined, JoinedOutput,
    Task, TaskCell, TaskId, QUEUED, RUNNING,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::Instrument;

/// Runs `fut` as a coroutine on the runtime of `spec`'s supervisor.
pub(crate) fn spawn<F>(spec: Spec<'_>, fut: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let inner = &spec.sup.inner;
    let plain = spec.delay.is_none() && spec.timeout.is_none() && spec.limit.is_none();
    if plain && inner.owns_runtime() {
        return spawn_lean(spec, fut);
    }
    let gate = (spec.limit).map(|n| {
        (
            Gate::new(context::key(&**inner), spec.name, n),
            inner.clone(),
        )
    });
    // Queued while it waits for its delay, or for a permit of its name's limit.
    let state = if spec.delay.is_some() || gate.is_some() {
        QUEUED
    } else {
        RUNNING
    };
    let cell = match inner.open_task(&spec, PoolKind::Coroutines, state) {
        Ok(cell) => cell,
        Err(refused) => return refused,
    };
    let handle = match inner.handle() {
        Ok(h) => h,
        Err(e) => {
            cell.finish(state, Err(e));
            return Task::from_cell(cell);
        }
    };
    // A stop deadline finds these in the table (on the user's runtime, or with a timer).
    inner.track(cell.clone());
    let guard = DropGuard(cell.clone());
    let run = Coroutine {
        fut: with_delay_and_timeout(cell.clone(), spec.delay, gate, fut),
        guard,
        polled: false,
    };
    let join = handle.spawn(run.instrument(span(cell.header().id, spec.name, spec.priority)));
    cell.set_abort(join.abort_handle());
    Task::from_cell(cell)
}

/// The span of a coroutine task.
fn span(id: TaskId, name: &'static str, priority: Priority) -> tracing::Span {
    tracing::debug_span!("atasker.task", id = id.as_u64(), name = name, priority = %priority, pool = "coroutines")
}

/// Spawns a plain coroutine (see the module's docs). Its span wraps it only when somebody
/// listens.
fn spawn_lean<F>(spec: Spec<'_>, fut: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let inner = &spec.sup.inner;
    let by_name = match inner.count_task(&spec, PoolKind::Coroutines, true) {
        Ok(by_name) => by_name,
        Err(refused) => return refused,
    };
    let guard = LeanGuard {
        inner: inner.clone(),
        id: TaskId::next(),
        name: spec.name,
        priority: spec.priority,
        by_name,
        started: Instant::now(),
        polled: false,
        done: false,
    };
    let handle = match inner.handle() {
        Ok(h) => h,
        Err(e) => return guard.end_refused(e),
    };
    let (id, name, priority) = (guard.id, guard.name, guard.priority);
    let span = span(id, name, priority);
    let run = Lean {
        fut: CatchUnwind::new(fut),
        guard,
    };
    let join = if span.is_disabled() {
        handle.spawn(run)
    } else {
        handle.spawn(run.instrument(span))
    };
    Task::from_joined(Joined::new(id, name, priority, join))
}

thread_local! {
    /// Plain coroutines this thread ended, not yet released from their supervisor's pending
    /// count: tokio stores a task's result only after its future returns, and a stop that
    /// returns must find every result there. (One supervisor's count at a time.)
    static ENDED: std::cell::RefCell<Option<(Arc<Pending>, usize)>> = const { std::cell::RefCell::new(None) };
}

/// Releases the plain coroutines the calling thread ended: their results are stored by now
/// (a thread does nothing else between a task's end and its next step). Called when a
/// runtime thread polls a plain coroutine, idles or ends, and at the start of a stop.
pub(crate) fn release_ended() {
    if let Some((pending, n)) = ENDED.with(|e| e.borrow_mut().take()) {
        pending.sub(n);
    }
}

pin_project_lite::pin_project! {
    /// A plain coroutine as spawned on the runtime: the task's future, then its guard (so
    /// the future is gone before the guard reports a cancel). It returns the task's result.
    struct Lean<F> {
        #[pin]
        fut: F,
        guard: LeanGuard,
    }
}

/// A plain coroutine's accounting: what its task cell's header holds for the others.
struct LeanGuard {
    inner: Arc<Inner>,
    id: TaskId,
    name: &'static str,
    priority: Priority,
    by_name: NameRef,
    /// When it was spawned (it runs from then on).
    started: Instant,
    /// It was polled (its start logged).
    polled: bool,
    /// Its end is counted.
    done: bool,
}

impl LeanGuard {
    /// Counts and logs the task's end with `result`. With `defer` (a runtime worker thread
    /// ends it, and tokio stores its result next) it stays pending for its supervisor's stop
    /// until this thread releases it (see [`release_ended`]); else at once.
    fn end<T>(&mut self, result: &Result<T, TaskError>, defer: bool) {
        self.done = true;
        let ran = self.started.elapsed();
        let end = End {
            pool: PoolKind::Coroutines,
            priority: self.priority,
            name: self.name,
            by_name: self.by_name,
            was_running: true,
        };
        self.inner.record_end(&end, Outcome::of(result), Some(ran));
        log_end(
            self.id,
            self.name,
            self.priority,
            PoolKind::Coroutines,
            result,
            Some(ran),
        );
        if !defer {
            self.inner.pending.dec();
            return;
        }
        ENDED.with(|ended| {
            let mut ended = ended.borrow_mut();
            match &mut *ended {
                Some((pending, n)) if Arc::ptr_eq(pending, &self.inner.pending) => *n += 1,
                other => {
                    if let Some((pending, n)) = other.replace((self.inner.pending.clone(), 1)) {
                        pending.sub(n);
                    }
                }
            }
        });
    }

    /// The task could not be spawned (no runtime): it fails with `err`.
    fn end_refused<T: Send + 'static>(mut self, err: TaskError) -> Task<T> {
        self.end(&Err::<(), _>(err.clone()), false);
        let (pool, name, priority) = (PoolKind::Coroutines, self.name, self.priority);
        Task::failed(self.inner.clone(), name, priority, pool, err)
    }
}

impl Drop for LeanGuard {
    /// The future was dropped before it finished (an abort, the runtime shutting down).
    fn drop(&mut self) {
        if !self.done {
            // Dropped by a runtime thread (an abort, a shutdown) or, for a task spawned after
            // its runtime shut down, by the spawning thread: only the first may defer.
            let defer = tokio::runtime::Handle::try_current().is_ok() && !blocked_in_place();
            self.end(&Err::<(), _>(TaskError::Cancelled), defer);
        }
    }
}

impl<F, T> Future for Lean<F>
where
    F: Future<Output = Result<T, TaskError>>,
    T: Send + 'static,
{
    type Output = JoinedOutput<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<JoinedOutput<T>> {
        release_ended();
        // Marks whether this poll blocks in place (see `blocked_in_place`).
        let _ = blocked_in_place();
        let this = self.project();
        let guard = this.guard;
        let _current = context::enter(context::Role::Supervisor, context::key(&*guard.inner));
        if !guard.polled {
            guard.polled = true;
            log_start(guard.id, guard.name, guard.priority, PoolKind::Coroutines);
        }
        let result = std::task::ready!(this.fut.poll(cx));
        // After a `block_in_place` this thread may never park as a runtime worker: released
        // at once (tokio stores the result a moment later).
        guard.end(&result, !blocked_in_place());
        Poll::Ready(Contained::new(result))
    }
}

/// `fut` after its delay, then (with a `gate`: its name's limit) once it holds a permit of
/// its name, which it keeps until the run ends; then started, unless cancelled meanwhile;
/// and under its deadline, counted from that start. Its queue wait is the permit's.
async fn with_delay_and_timeout<F>(
    task: Arc<TaskCell<F::Output>>,
    delay: Option<std::time::Duration>,
    gate: Option<(Gate, Arc<Inner>)>,
    fut: F,
) -> Result<F::Output, TaskError>
where
    F: Future,
    F::Output: Send + 'static,
{
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let queued_at = Instant::now();
    let _permit = match &gate {
        Some((gate, inner)) => {
            // Seen by the queue-wait watchdog while it waits.
            let _waiting = gate.waiting(task.clone());
            inner.poke_watchdog();
            gate.enter().await
        }
        None => None,
    };
    let waited = gate.is_some().then_some(queued_at);
    if (delay.is_some() || gate.is_some()) && !task.header().try_start(waited) {
        return Err(TaskError::Cancelled);
    }
    match task.header().timeout {
        None => CatchUnwind::new(fut).await,
        Some(t) => tokio::time::timeout(t, CatchUnwind::new(fut))
            .await
            .unwrap_or(Err(TaskError::TimedOut)),
    }
}

/// Finishes a coroutine as cancelled when its future is dropped before it finished (a
/// cancel, an abort, the runtime shutting down); after a normal finish it does nothing.
/// A retried task's driver holds one for its handle too (`retry.rs`).
pub(crate) struct DropGuard<T: Send + 'static>(pub(super) Arc<TaskCell<T>>);

impl<T: Send + 'static> Drop for DropGuard<T> {
    fn drop(&mut self) {
        self.0.finish_dropped();
    }
}

pin_project_lite::pin_project! {
    /// A coroutine task as spawned on the runtime: the task's future, then its guard. Fields
    /// drop in this order, so the future (and every lock or file it holds) is gone before
    /// the guard reports the task cancelled. Polling marks the thread as running a task of
    /// the supervisor (see `context`).
    struct Coroutine<F, T>
    where
        T: Send,
        T: 'static,
    {
        #[pin]
        fut: F,
        guard: DropGuard<T>,
        // Whether it was polled (its start logged).
        polled: bool,
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
        let _current = context::enter(context::Role::Supervisor, context::key(&*cell.header().sup));
        if !*this.polled {
            *this.polled = true;
            cell.header().log_start();
        }
        let result = std::task::ready!(this.fut.poll(cx));
        cell.finish(RUNNING, result);
        std::task::Poll::Ready(())
    }
}
