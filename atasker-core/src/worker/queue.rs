//! Queue workers: [`QueueWorker`].

use super::{
    async_exec, blocking_exec, builder_methods, handle_methods, Common, Core, Exec, Run,
    WorkerKind, WorkerOutput,
};
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

/// A worker that runs once per item put in its queue, in order.
///
/// Items put while it is stopped wait for the next `start()`; `stop()` finishes the current
/// item and keeps the rest. Nothing put is ever dropped while the handle lives.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// static SUM: AtomicU64 = AtomicU64::new(0);
/// let w = atasker_core::QueueWorker::builder()
///     .capacity(100)
///     .build(|n: u64| { SUM.fetch_add(n, Ordering::SeqCst); });
/// for n in 1..=10 { w.put(n); }
/// w.start();
/// while w.queued() > 0 || SUM.load(Ordering::SeqCst) < 55 { std::thread::yield_now(); }
/// w.stop();
/// assert_eq!(SUM.load(Ordering::SeqCst), 55);
/// ```
#[must_use = "a worker does nothing until `start` is called"]
pub struct QueueWorker<T> {
    core: Arc<Core>,
    tx: async_channel::Sender<T>,
    rx: async_channel::Receiver<T>,
}

impl<T> Clone for QueueWorker<T> {
    fn clone(&self) -> Self {
        QueueWorker {
            core: self.core.clone(),
            tx: self.tx.clone(),
            rx: self.rx.clone(),
        }
    }
}

impl QueueWorker<()> {
    /// A builder for a queue worker without macros; the item type is inferred from the
    /// executor given to [`QueueWorkerBuilder::build`].
    pub fn builder() -> QueueWorkerBuilder {
        QueueWorkerBuilder::default()
    }
}

impl<T: Send + 'static> QueueWorker<T> {
    handle_methods!();

    /// Queues `item`; blocks while a bounded queue is full. Do not call it from async code
    /// (use [`put_async`](QueueWorker::put_async)).
    pub fn put(&self, item: T) {
        // The worker holds a receiver, so the channel never closes while this handle lives.
        let _ = self.tx.send_blocking(item);
    }

    /// Queues `item`, waiting while a bounded queue is full.
    pub async fn put_async(&self, item: T) {
        let _ = self.tx.send(item).await;
    }

    /// Queues `item` if there is room; gives it back otherwise.
    pub fn try_put(&self, item: T) -> Result<(), T> {
        self.tx.try_send(item).map_err(|e| e.into_inner())
    }

    /// Items waiting (not counting the one being processed).
    pub fn queued(&self) -> usize {
        self.rx.len()
    }
}

impl<T> fmt::Debug for QueueWorker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.fmt(f)
    }
}

/// Builds a [`QueueWorker`]. Made by [`QueueWorker::builder`].
///
/// ```
/// let w = atasker_core::QueueWorker::builder()
///     .name("mailer")
///     .build_async(|to: String| async move { let _ = to; });
/// w.put("ops@example.com".to_string());
/// assert_eq!(w.queued(), 1);
/// ```
#[derive(Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct QueueWorkerBuilder {
    pub(super) common: Common,
    pub(super) capacity: Option<usize>,
}

impl fmt::Debug for QueueWorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueWorkerBuilder")
            .field("name", &self.common.name)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl QueueWorkerBuilder {
    builder_methods!();

    /// Bounds the waiting items: `put` blocks and `try_put` gives the item back when full.
    /// Default: unbounded. A capacity of 0 is taken as 1.
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = Some(n.max(1));
        self
    }

    /// Builds a worker whose executor runs on the thread pool.
    pub fn build<T, F, R>(self, f: F) -> QueueWorker<T>
    where
        T: Send + 'static,
        F: Fn(T) -> R + Send + Sync + 'static,
        R: WorkerOutput,
    {
        self.build_exec(blocking_exec(f))
    }

    /// Builds a worker whose executor is a coroutine.
    pub fn build_async<T, F, Fut>(self, f: F) -> QueueWorker<T>
    where
        T: Send + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: WorkerOutput,
    {
        self.build_exec(async_exec(f))
    }

    pub(crate) fn build_exec<T: Send + 'static>(self, exec: Exec<T>) -> QueueWorker<T> {
        let (tx, rx) = match self.capacity {
            Some(n) => async_channel::bounded(n),
            None => async_channel::unbounded(),
        };
        let items = rx.clone();
        let starter = Box::new(move |core: Arc<Core>, run: Run| {
            let exec = exec.clone();
            let items = items.clone();
            Box::pin(async move { drive(&core, &run, &exec, &items).await })
                as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
        });
        QueueWorker {
            core: Core::new(WorkerKind::Queue, self.common, starter),
            tx,
            rx,
        }
    }
}

async fn drive<T: Send + 'static>(
    core: &Core,
    run: &Run,
    exec: &Exec<T>,
    items: &async_channel::Receiver<T>,
) {
    loop {
        let item = {
            let mut stop = pin!(run.stop.wait(false));
            let mut next = pin!(items.recv());
            poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                match next.as_mut().poll(cx) {
                    Poll::Ready(Ok(item)) => Poll::Ready(Some(item)),
                    // Closed: cannot happen while the core's handle keeps a sender.
                    Poll::Ready(Err(_)) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await
        };
        let Some(item) = item else { return };
        if !core.exec(run, exec, item).await {
            return;
        }
    }
}
