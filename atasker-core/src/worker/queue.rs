//! Queue workers: [`QueueWorker`].

use super::{
    async_exec, builder_methods, debug_as_core, enter_worker, handle_methods, Common, Core, Exec,
    Run, WorkerError, WorkerKind, WorkerOutput,
};
use crate::error::TaskError;
use crate::task::run_catching;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// A worker that runs once per item put in its queue, in order.
///
/// Items put while it is stopped wait for the next `start()`; `stop()` finishes the current
/// item and keeps the rest. Nothing put is ever dropped while the handle lives: a supervisor
/// stop serves every waiting item first, and what a
/// [`stop_timeout`](crate::Supervisor::stop_timeout) deadline leaves comes back from
/// [`take_remaining`](QueueWorker::take_remaining).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// static SUM: AtomicU64 = AtomicU64::new(0);
/// let w = atasker::QueueWorker::builder()
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
    held: Held<T>,
}

/// An item taken from the channel for a pool task that has not started yet (it counts as
/// the one being processed, so `capacity` still bounds what waits in the channel): until the
/// task takes it, `take_remaining` can, so a task that never runs (refused, or cancelled at a
/// stop deadline) loses nothing.
type Held<T> = Arc<std::sync::Mutex<Option<T>>>;

fn take_held<T>(held: &Held<T>) -> Option<T> {
    crate::sync::lock(held).take()
}

fn waiting<T>(rx: &async_channel::Receiver<T>, held: &Held<T>) -> usize {
    rx.len() + usize::from(crate::sync::lock(held).is_some())
}

impl<T> Clone for QueueWorker<T> {
    fn clone(&self) -> Self {
        QueueWorker {
            core: self.core.clone(),
            tx: self.tx.clone(),
            rx: self.rx.clone(),
            held: self.held.clone(),
        }
    }
}

impl QueueWorker<()> {
    /// A builder for a queue worker without macros; the item type is inferred from the
    /// executor given to [`QueueWorkerBuilder::build`].
    ///
    /// ```
    /// let w: atasker::QueueWorker<u32> = atasker::QueueWorker::builder().build(|_: u32| ());
    /// assert_eq!(w.queued(), 0);
    /// ```
    pub fn builder() -> QueueWorkerBuilder {
        QueueWorkerBuilder::default()
    }
}

impl<T: Send + 'static> QueueWorker<T> {
    handle_methods!();

    /// Queues `item`; blocks while a bounded queue is full. In async code use
    /// [`put_async`](QueueWorker::put_async).
    ///
    /// # Panics
    ///
    /// When the queue is full and the calling thread drives a current-thread tokio runtime
    /// (which would hang for good): as [`Task::wait`](crate::Task::wait).
    ///
    /// ```
    /// let w = atasker::QueueWorker::builder().build(|line: String| drop(line));
    /// w.put("first".to_string());
    /// assert_eq!(w.queued(), 1); // waits for `start()`
    /// ```
    #[track_caller]
    pub fn put(&self, item: T) {
        // The worker holds a receiver, so the channel never closes while this handle lives.
        if let Err(async_channel::TrySendError::Full(item)) = self.tx.try_send(item) {
            crate::task::blocking(None, || {
                let _ = self.tx.send_blocking(item);
            });
        }
    }

    /// Queues `item`, waiting while a bounded queue is full.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let w = atasker::QueueWorker::builder().capacity(10).build(|_: u32| ());
    /// w.put_async(1).await;
    /// assert_eq!(w.queued(), 1);
    /// # });
    /// ```
    pub async fn put_async(&self, item: T) {
        let _ = self.tx.send(item).await;
    }

    /// Queues `item` if there is room; gives it back otherwise.
    ///
    /// ```
    /// let w = atasker::QueueWorker::builder().capacity(1).build(|_: u32| ());
    /// assert_eq!(w.try_put(1), Ok(()));
    /// assert_eq!(w.try_put(2), Err(2)); // full: the item comes back
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), T> {
        self.tx.try_send(item).map_err(|e| e.into_inner())
    }

    /// Items waiting (not counting the one being processed).
    ///
    /// ```
    /// let w = atasker::QueueWorker::builder().build(|_: u32| ());
    /// for n in 0..3 {
    ///     w.put(n);
    /// }
    /// assert_eq!(w.queued(), 3);
    /// w.start();
    /// while w.queued() > 0 {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// w.stop();
    /// ```
    pub fn queued(&self) -> usize {
        self.rx.len()
    }

    /// Takes every item still waiting out of the queue, in order, without running them
    /// (with the item handed to a run that has not started, if any).
    ///
    /// A supervisor stop serves every waiting item before the worker stops for good; at a
    /// [`stop_timeout`](crate::Supervisor::stop_timeout) deadline the items left are reported
    /// by a `tracing` error with their count and stay here, to be taken with this call (a
    /// stopped supervisor never runs its workers again).
    ///
    /// ```
    /// let w = atasker::QueueWorker::builder().build(|line: String| drop(line));
    /// w.put("a".to_string());
    /// w.put("b".to_string());
    /// assert_eq!(w.take_remaining(), ["a", "b"]);
    /// assert_eq!(w.queued(), 0);
    /// ```
    pub fn take_remaining(&self) -> Vec<T> {
        take_held(&self.held)
            .into_iter()
            .chain(std::iter::from_fn(|| self.rx.try_recv().ok()))
            .collect()
    }
}

debug_as_core!(QueueWorker<T>, T);

/// Builds a [`QueueWorker`]. Made by [`QueueWorker::builder`].
///
/// ```
/// let w = atasker::QueueWorker::builder()
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
    ///
    /// ```
    /// let w = atasker::QueueWorker::builder().capacity(2).build(|_: u32| ());
    /// assert!(w.try_put(1).is_ok() && w.try_put(2).is_ok());
    /// assert_eq!(w.try_put(3), Err(3));
    /// ```
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = Some(n.max(1));
        self
    }

    /// Builds a worker whose executor runs on the thread pool.
    ///
    /// One pool task serves a batch of items: while more items wait (or come within 20 µs),
    /// unless the worker is stopping or another task waits for a slot of the pool, it goes
    /// on with the next without giving its slot back. Each item is still one run, in order.
    ///
    /// ```
    /// use std::path::PathBuf;
    /// let w = atasker::QueueWorker::builder()
    ///     .name("cleaner")
    ///     .build(|path: PathBuf| -> std::io::Result<()> {
    ///         // an `Err` goes to `on_error`, and the worker goes on
    ///         match std::fs::remove_file(&path) {
    ///             Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
    ///             _ => Ok(()),
    ///         }
    ///     });
    /// w.start();
    /// w.put(std::env::temp_dir().join("atasker-doc-no-such-file"));
    /// w.stop();
    /// ```
    pub fn build<T, F, R>(self, f: F) -> QueueWorker<T>
    where
        T: Send + 'static,
        F: Fn(T) -> R + Send + Sync + 'static,
        R: WorkerOutput,
    {
        let f = Arc::new(f);
        self.build_with(move |core, run, items, held| {
            Box::pin(drive_batches(core, run, f.clone(), items, held))
        })
    }

    /// Builds a worker whose executor is a coroutine.
    ///
    /// ```
    /// use std::time::Duration;
    /// let w = atasker::QueueWorker::builder().build_async(|ms: u64| async move {
    ///     tokio::time::sleep(Duration::from_millis(ms)).await;
    /// });
    /// w.start();
    /// w.put(1);
    /// while w.stats().runs == 0 {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// w.stop();
    /// ```
    pub fn build_async<T, F, Fut>(self, f: F) -> QueueWorker<T>
    where
        T: Send + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: WorkerOutput,
    {
        self.build_exec(async_exec(f))
    }

    /// Builds a worker around an executor that runs one item per call.
    pub(crate) fn build_exec<T: Send + 'static>(self, exec: Exec<T>) -> QueueWorker<T> {
        self.build_with(move |core, run, items, _| {
            let exec = exec.clone();
            Box::pin(async move { drive(&core, &run, &exec, &items).await })
        })
    }

    fn build_with<T, D>(self, driver: D) -> QueueWorker<T>
    where
        T: Send + 'static,
        D: Fn(
                Arc<Core>,
                Run,
                async_channel::Receiver<T>,
                Held<T>,
            ) -> Pin<Box<dyn Future<Output = ()> + Send>>
            + Send
            + Sync
            + 'static,
    {
        let (tx, rx) = match self.capacity {
            Some(n) => async_channel::bounded(n),
            None => async_channel::unbounded(),
        };
        let held = Held::default();
        let (items, h) = (rx.clone(), held.clone());
        let starter =
            Box::new(move |core: Arc<Core>, run: Run| driver(core, run, items.clone(), h.clone()));
        let core = Core::new(WorkerKind::Queue, self.common, starter);
        let (items, h) = (rx.clone(), held.clone());
        let _ = core.queued.set(Box::new(move || waiting(&items, &h)));
        QueueWorker { core, tx, rx, held }
    }
}

/// Waits for the next item; `None` on stop (or once every handle is gone and the queue is
/// empty).
async fn next_item<T>(run: &Run, items: &async_channel::Receiver<T>) -> Option<T> {
    // An item that waits already, and no stop: no futures to set up.
    if !run.stopping() {
        if let Ok(item) = items.try_recv() {
            return Some(item);
        }
    }
    let mut stop = pin!(run.stop.wait(false));
    let mut next = pin!(items.recv());
    poll_fn(|cx| {
        if stop.as_mut().poll(cx).is_ready() {
            // A supervisor stop drains the queue: serve what waits, then end.
            return Poll::Ready(run.draining().then(|| items.try_recv().ok()).flatten());
        }
        match next.as_mut().poll(cx) {
            Poll::Ready(item) => Poll::Ready(item.ok()),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// The loop of a queue worker with a coroutine executor.
async fn drive<T: Send + 'static>(
    core: &Core,
    run: &Run,
    exec: &Exec<T>,
    items: &async_channel::Receiver<T>,
) {
    while let Some(item) = next_item(run, items).await {
        if !core.exec(run, exec, item).await {
            return;
        }
    }
}

/// The loop of a queue worker whose executor runs on the thread pool, in batches: one pool
/// task serves the first item and the ones that wait behind it (see [`serve_batch`]).
async fn drive_batches<T, F, R>(
    core: Arc<Core>,
    run: Run,
    f: Arc<F>,
    items: async_channel::Receiver<T>,
    held: Held<T>,
) where
    T: Send + 'static,
    F: Fn(T) -> R + Send + Sync + 'static,
    R: WorkerOutput,
{
    while let Some(first) = next_item(&run, &items).await {
        core.set_running(true);
        *crate::sync::lock(&held) = Some(first);
        let (c, r, f, rx, h) = (
            core.clone(),
            run.clone(),
            f.clone(),
            items.clone(),
            held.clone(),
        );
        let batch = core
            .run_task()
            .spawn(move || serve_batch(&c, &r, &*f, &rx, &h));
        let go_on = match batch.await {
            Ok(go_on) => go_on,
            Err(TaskError::SupervisorStopped) => false,
            Err(error) => {
                let worker = core.name().to_owned();
                core.record(
                    &run,
                    Err(WorkerError::Task { worker, error }),
                    Duration::ZERO,
                )
            }
        };
        core.set_running(false);
        if !go_on {
            return;
        }
    }
}

/// One pool task of a thread-executor queue worker: runs the held item, then the items that
/// wait, each one run, until the queue is empty or another task waits for a slot of the pool
/// (then this one gives its slot back); `false` when the worker must stop.
fn serve_batch<T, F, R>(
    core: &Core,
    run: &Run,
    f: &F,
    items: &async_channel::Receiver<T>,
    held: &Held<T>,
) -> bool
where
    F: Fn(T) -> R,
    R: WorkerOutput,
{
    let _current = enter_worker(core.key());
    let span = tracing::debug_span!("atasker.worker", worker = %core.name());
    let _span = span.enter();
    // Taken by `take_remaining` meanwhile: nothing to serve.
    let Some(mut item) = take_held(held) else {
        return true;
    };
    // For a batch, `last_run_at` is its start.
    core.run_started();
    // One clock reading per item: a run ends when the next one starts, unless the next item
    // had to be waited for.
    let mut started = Instant::now();
    loop {
        let outcome = run_catching(|| f(item).into_outcome());
        let result = WorkerError::of_run(core.name(), outcome);
        let ended = Instant::now();
        if !core.record(run, result, ended - started) {
            return false;
        }
        // Take the next item only when it will be served here.
        if core.sup.inner.threads_queued() {
            break;
        }
        started = ended;
        match items.try_recv() {
            Ok(next) => item = next,
            Err(_) => match next_soon(run, items) {
                Some(next) => {
                    item = next;
                    started = Instant::now();
                }
                None => break,
            },
        }
    }
    true
}

/// The next item for a batch whose queue is empty: one put within a few microseconds (the
/// thread watches the queue meanwhile, yielding its core, so that a steady producer keeps
/// one batch going instead of paying a task per item). `None` if none came, or the worker
/// ends after this run.
fn next_soon<T>(run: &Run, items: &async_channel::Receiver<T>) -> Option<T> {
    const LINGER: Duration = Duration::from_micros(20);
    let mut item = None;
    crate::sync::watch_briefly(LINGER, || {
        // A worker that ends after this run takes no further item.
        if run.ends_after_run() {
            return true;
        }
        item = items.try_recv().ok();
        item.is_some()
    });
    item
}
