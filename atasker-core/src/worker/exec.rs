//! Executors: where a worker's run happens (a coroutine awaited inline in the loop, or a
//! task on the thread pool at the worker's priority), and what a run reports.

use super::*;

/// What an executor run reports: `()`, `bool` (`false` stops the worker),
/// `Result<(), E>` or `Result<bool, E>` with `E: Display` (`Err` goes to `on_error` and the
/// worker goes on).
///
/// ```
/// use atasker::WorkerOutput;
/// assert_eq!(().into_outcome(), Ok(true));
/// assert_eq!(false.into_outcome(), Ok(false));
/// assert_eq!(Err::<(), _>("disk full").into_outcome(), Err("disk full".to_string()));
/// ```
#[diagnostic::on_unimplemented(
    message = "a worker executor must return `()`, `bool`, `Result<(), E>` or `Result<bool, E>` with `E: Display`, not `{Self}`",
    label = "this executor's return type"
)]
pub trait WorkerOutput: Send + 'static {
    /// `Ok(true)`: go on; `Ok(false)`: stop the worker; `Err(text)`: report and go on.
    ///
    /// ```
    /// use atasker::WorkerOutput;
    /// assert_eq!(Ok::<bool, String>(false).into_outcome(), Ok(false));
    /// ```
    fn into_outcome(self) -> Result<bool, String>;
}

impl WorkerOutput for () {
    fn into_outcome(self) -> Result<bool, String> {
        Ok(true)
    }
}

impl WorkerOutput for bool {
    fn into_outcome(self) -> Result<bool, String> {
        Ok(self)
    }
}

impl<E: fmt::Display + Send + 'static> WorkerOutput for Result<(), E> {
    fn into_outcome(self) -> Result<bool, String> {
        self.map(|()| true).map_err(|e| e.to_string())
    }
}

impl<E: fmt::Display + Send + 'static> WorkerOutput for Result<bool, E> {
    fn into_outcome(self) -> Result<bool, String> {
        self.map_err(|e| e.to_string())
    }
}

/// An executor on the thread pool: each run is a task at the worker's priority.
pub(crate) fn blocking_exec<I, F, R>(f: F) -> Exec<I>
where
    I: Send + 'static,
    F: Fn(I) -> R + Send + Sync + 'static,
    R: WorkerOutput,
{
    let f = Arc::new(f);
    Arc::new(move |core: &Core, item: I| {
        let f = f.clone();
        let (me, name) = (core.key(), core.name.clone());
        let task = core.run_task().spawn(move || {
            let _g = enter_worker(me);
            let span = tracing::debug_span!("atasker.worker", worker = %name);
            span.in_scope(|| f(item).into_outcome())
        });
        let worker = core.name.clone();
        Box::pin(async move { WorkerError::of_run(&worker, task.await) })
    })
}

/// An executor awaited inline in the worker's loop.
pub(crate) fn async_exec<I, F, Fut>(f: F) -> Exec<I>
where
    I: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: WorkerOutput,
{
    Arc::new(move |core: &Core, item: I| {
        let fut = InWorker {
            key: core.key(),
            fut: f(item),
        };
        let worker = core.name.clone();
        // Inside the run's span (see `Core::exec`).
        Box::pin(async move {
            // `into_outcome` runs the error's `Display`: user code, contained too.
            let outcome = CatchUnwind::new(fut)
                .await
                .and_then(|out| crate::task::run_catching(|| out.into_outcome()));
            WorkerError::of_run(&worker, outcome)
        })
    })
}

impl WorkerError {
    /// What a run of `worker` reports, from what its task gave: the executor's outcome
    /// (`Ok(go on)` or its `Err` text), or the task's error (a panic, a lost process).
    pub(crate) fn of_run(
        worker: &str,
        run: Result<Result<bool, String>, TaskError>,
    ) -> Result<bool, WorkerError> {
        // The name is copied only for an error (the success path is per item).
        let worker = || worker.to_owned();
        match run {
            Ok(Ok(go_on)) => Ok(go_on),
            Ok(Err(message)) => Err(WorkerError::Failed {
                worker: worker(),
                message,
            }),
            Err(TaskError::Panicked { message }) => Err(WorkerError::Panicked {
                worker: worker(),
                message,
            }),
            Err(error) => Err(WorkerError::Task {
                worker: worker(),
                error,
            }),
        }
    }
}

pin_project_lite::pin_project! {
    /// Marks the polling thread as running the executor of the worker `key` (see
    /// `context`).
    pub(crate) struct InWorker<F> {
        key: usize,
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for InWorker<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _g = enter_worker(*this.key);
        this.fut.poll(cx)
    }
}
