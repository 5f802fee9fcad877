//! Containment of user panics: a task's panic becomes `TaskError::Panicked`; a panic in a
//! user value's `Drop` on a library thread is contained and logged.

use crate::error::TaskError;
use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

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

pin_project_lite::pin_project! {
    /// A future that turns a panic while polling its inner future into `TaskError::Panicked`.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        fut: F,
    }
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(fut: F) -> Self {
        CatchUnwind { fut }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.project().fut;
        match run_catching(|| fut.poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
