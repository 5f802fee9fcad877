//! Event workers: [`EventWorker`].

use super::{
    async_exec, blocking_exec, builder_methods, debug_as_core, handle_methods, Common, Core, Exec,
    Run, Wake, WorkerKind, WorkerOutput,
};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// A worker that runs once per [`trigger`](EventWorker::trigger); triggers during a run
/// coalesce into one more run.
///
/// ```
/// let w = atasker::EventWorker::builder().name("flush").build(|| { /* flush */ });
/// w.start();
/// w.trigger();
/// w.stop();
/// ```
#[derive(Clone)]
#[must_use = "a worker does nothing until `start` is called"]
pub struct EventWorker {
    core: Arc<Core>,
}

impl EventWorker {
    /// A builder for an event worker without macros.
    ///
    /// ```
    /// let w = atasker::EventWorker::builder().name("flush").build(|| ());
    /// assert_eq!(w.name(), "flush");
    /// ```
    pub fn builder() -> EventWorkerBuilder {
        EventWorkerBuilder::default()
    }

    handle_methods!();

    /// Asks for one run. A trigger while the worker is stopped runs once it starts; triggers
    /// during a run coalesce into one more run.
    ///
    /// ```
    /// let w = atasker::EventWorker::builder().build(|| ());
    /// w.trigger(); // runs once the worker starts
    /// w.start();
    /// while w.stats().runs == 0 {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// w.stop();
    /// ```
    pub fn trigger(&self) {
        self.core.trigger.set();
    }
}

debug_as_core!(EventWorker);

/// Builds an [`EventWorker`]. Made by [`EventWorker::builder`].
///
/// ```
/// let w = atasker::EventWorker::builder()
///     .name("on-change")
///     .build_async(|| async { /* react */ });
/// assert_eq!(w.name(), "on-change");
/// ```
#[derive(Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct EventWorkerBuilder {
    pub(super) common: Common,
}

impl fmt::Debug for EventWorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWorkerBuilder")
            .field("name", &self.common.name)
            .finish_non_exhaustive()
    }
}

impl EventWorkerBuilder {
    builder_methods!();

    /// Builds a worker whose executor runs on the thread pool.
    ///
    /// ```
    /// let w = atasker::EventWorker::builder()
    ///     .build(|| -> Result<bool, String> { Ok(false) }); // `false` stops the worker
    /// w.start();
    /// w.trigger();
    /// while w.is_active() {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// assert_eq!(w.stats().runs, 1);
    /// ```
    pub fn build<F, R>(self, f: F) -> EventWorker
    where
        F: Fn() -> R + Send + Sync + 'static,
        R: WorkerOutput,
    {
        self.build_exec(blocking_exec(move |()| f()))
    }

    /// Builds a worker whose executor is a coroutine.
    ///
    /// ```
    /// let w = atasker::EventWorker::builder().build_async(|| async { /* await I/O */ });
    /// w.start();
    /// w.trigger();
    /// while w.stats().runs == 0 {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// w.stop();
    /// ```
    pub fn build_async<F, Fut>(self, f: F) -> EventWorker
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: WorkerOutput,
    {
        self.build_exec(async_exec(move |()| f()))
    }

    pub(crate) fn build_exec(self, exec: Exec<()>) -> EventWorker {
        let starter = Box::new(move |core: Arc<Core>, run: Run| {
            let exec = exec.clone();
            Box::pin(async move { drive(&core, &run, &exec).await })
                as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
        });
        EventWorker {
            core: Core::new(WorkerKind::Event, self.common, starter),
        }
    }
}

async fn drive(core: &Core, run: &Run, exec: &Exec<()>) {
    loop {
        // The trigger flag is taken before the run, so one that comes during it runs again.
        if core.wait(run, None, true).await == Wake::Stop || !core.exec(run, exec, ()).await {
            return;
        }
    }
}
