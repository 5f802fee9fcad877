//! The handle of a plain coroutine (no delay, no deadline, on the supervisor's own runtime):
//! its result lives in tokio's task and is read through the `JoinHandle`, so the task costs
//! one allocation, tokio's own. Its accounting is done by the future itself
//! (`coroutines::Lean`).

use super::unwind::{drop_contained, panic_message, Contained};
use super::TaskId;
use crate::error::TaskError;
use crate::priority::Priority;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;
use tokio::task::{JoinError, JoinHandle};

/// What a plain coroutine's future returns: its result, dropped contained (and logged) if
/// nobody takes it.
pub(crate) type Output<T> = Contained<Result<T, TaskError>>;

/// A plain coroutine's side of a [`Task`](super::Task).
pub(crate) struct Joined<T> {
    pub(super) id: TaskId,
    pub(super) name: &'static str,
    pub(super) priority: Priority,
    join: JoinHandle<Output<T>>,
    /// The result was taken: later waits report `Consumed`.
    taken: bool,
    /// `cancel` returned `true`: the handle reports `Cancelled`, even where the future's
    /// last poll finished it in that same instant.
    cancelled: AtomicBool,
}

impl<T> Joined<T> {
    pub(crate) fn new(
        id: TaskId,
        name: &'static str,
        priority: Priority,
        join: JoinHandle<Output<T>>,
    ) -> Self {
        Joined {
            id,
            name,
            priority,
            join,
            taken: false,
            cancelled: AtomicBool::new(false),
        }
    }

    pub(super) fn is_finished(&self) -> bool {
        self.taken || self.join.is_finished()
    }

    /// Aborts the coroutine unless it has finished. See `Task::cancel`.
    pub(super) fn cancel(&self) -> bool {
        if self.is_finished() || self.cancelled.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.join.abort();
        true
    }

    /// What the `JoinHandle` gave, as the task's result.
    fn settle(&mut self, joined: Result<Output<T>, JoinError>) -> Result<T, TaskError> {
        self.taken = true;
        let result = match joined {
            Ok(mut out) => out.take().unwrap_or(Err(TaskError::Consumed)),
            Err(e) if e.is_cancelled() => Err(TaskError::Cancelled),
            // The future itself catches the task's panics: this is one of the library's own.
            Err(e) => Err(TaskError::Panicked {
                message: panic_message(&*e.into_panic()),
            }),
        };
        if result.is_ok() && self.cancelled.load(Ordering::Acquire) {
            drop_contained(result);
            return Err(TaskError::Cancelled);
        }
        result
    }

    /// Polls for the result, as `Task`'s `Future` does.
    pub(super) fn poll_result(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, TaskError>> {
        if self.taken {
            return Poll::Ready(Err(TaskError::Consumed));
        }
        let joined = std::task::ready!(Pin::new(&mut self.join).poll(cx));
        Poll::Ready(self.settle(joined))
    }

    /// Blocks the calling thread until the result is in, or `deadline` (`None`: not yet).
    pub(super) fn wait_blocking(
        &mut self,
        deadline: Option<Instant>,
    ) -> Option<Result<T, TaskError>> {
        if self.taken {
            return Some(Err(TaskError::Consumed));
        }
        super::cell::spin_briefly(deadline, || self.join.is_finished());
        THREAD_WAKER.with(|waker| {
            let mut cx = Context::from_waker(waker);
            loop {
                if let Poll::Ready(joined) = Pin::new(&mut self.join).poll(&mut cx) {
                    return Some(self.settle(joined));
                }
                match deadline {
                    None => std::thread::park(),
                    Some(d) => {
                        let left = d.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return None;
                        }
                        std::thread::park_timeout(left);
                    }
                }
            }
        })
    }
}

/// Wakes a thread parked in [`Joined::wait_blocking`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    /// The calling thread's waker, made once.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unpark(std::thread::current())));
}
