//! Coroutines: `async fn` tasks on the supervisor's tokio runtime (its own or the user's).
//! Not limited by the ladder; their priority is recorded. A cancel, an abort or a runtime
//! shutdown reports `Cancelled` from a guard dropped after the future.

use crate::context;
use crate::supervisor::*;

use crate::error::TaskError;
use crate::task::{CatchUnwind, Control, Header, PoolKind, Task, TaskCell, QUEUED, RUNNING};
use std::future::Future;
use std::sync::Arc;
use tracing::Instrument;

/// Runs `fut` as a coroutine on the runtime of `spec`'s supervisor.
pub(crate) fn spawn<F>(spec: Spec<'_>, fut: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let inner = &spec.sup.inner;
    let state = if spec.delay.is_some() {
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
    let lean = spec.delay.is_none() && spec.timeout.is_none();
    // A stop deadline cancels coroutines on an owned runtime by shutting it down (each
    // reports `Cancelled` through its guard); others are found through the table.
    if !(lean && inner.owns_runtime()) {
        inner.track(cell.clone());
    }
    let guard = DropGuard(cell.clone());
    let join = if lean {
        spawn_lean(
            &handle,
            Coroutine {
                fut: CatchUnwind::new(fut),
                guard,
                polled: false,
            },
        )
    } else {
        let fut = with_delay_and_timeout(cell.clone(), spec.delay, fut);
        handle.spawn(
            Coroutine {
                fut,
                guard,
                polled: false,
            }
            .instrument(span(cell.header())),
        )
    };
    cell.set_abort(join.abort_handle());
    Task::from_cell(cell)
}

/// The span of a coroutine task.
fn span(h: &Header) -> tracing::Span {
    tracing::debug_span!("atasker.task", id = h.id.as_u64(), name = h.name, priority = %h.priority, pool = "coroutines")
}

/// The common case: a lean future (no timer state to move around), and no span wrapper when
/// nobody listens.
fn spawn_lean<F, T>(
    handle: &tokio::runtime::Handle,
    run: Coroutine<F, T>,
) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = Result<T, TaskError>> + Send + 'static,
    T: Send + 'static,
{
    let span = span(run.guard.0.header());
    if span.is_disabled() {
        handle.spawn(run)
    } else {
        handle.spawn(run.instrument(span))
    }
}

/// `fut` after its delay (then started, unless cancelled meanwhile) and under its deadline.
async fn with_delay_and_timeout<F>(
    task: Arc<TaskCell<F::Output>>,
    delay: Option<std::time::Duration>,
    fut: F,
) -> Result<F::Output, TaskError>
where
    F: Future,
    F::Output: Send + 'static,
{
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
        if !task.header().try_start(None) {
            return Err(TaskError::Cancelled);
        }
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
pub(crate) struct DropGuard<T: Send + 'static>(Arc<TaskCell<T>>);

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
        let _current = context::enter(context::Slot::Supervisor, context::key(&*cell.header().sup));
        if !*this.polled {
            *this.polled = true;
            cell.header().log_start();
        }
        let result = std::task::ready!(this.fut.poll(cx));
        cell.finish(RUNNING, result);
        std::task::Poll::Ready(())
    }
}
