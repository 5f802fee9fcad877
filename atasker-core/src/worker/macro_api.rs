//! The worker constructors that `#[background_worker]` calls (through `__private`).

use super::{
    Common, EventWorker, EventWorkerBuilder, OnError, QueueWorker, QueueWorkerBuilder, Worker,
    WorkerBuilder, WorkerError, WorkerOutput,
};
use crate::priority::Priority;
use crate::supervisor::Supervisor;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use super::schedule::Schedule;

/// The options of one `#[background_worker]`.
#[derive(Clone, Copy, Debug)]
pub struct WorkerOptions {
    /// The worker's name.
    pub name: &'static str,
    /// The priority of the executor's runs.
    pub priority: Priority,
    /// The supervisor; `None`: the global one.
    pub supervisor: Option<&'static Supervisor>,
    /// The error hook; `None`: log with `tracing`.
    pub on_error: Option<fn(&WorkerError)>,
    /// Loop, interval or delay (ignored by queue and event workers).
    pub schedule: Schedule,
    /// A pause before each run.
    pub delay_before: Option<Duration>,
    /// The queue's bound (queue workers).
    pub capacity: Option<usize>,
}

impl WorkerOptions {
    fn common(&self) -> Common {
        Common {
            name: Some(self.name.to_owned()),
            priority: self.priority,
            supervisor: self.supervisor.cloned(),
            on_error: self.on_error.map(|f| Arc::new(f) as OnError),
        }
    }

    fn worker_builder(&self) -> WorkerBuilder {
        let builder = WorkerBuilder {
            common: self.common(),
            schedule: self.schedule,
            delay_before: self.delay_before,
            ..WorkerBuilder::default()
        };
        match self.schedule {
            // Validated when the macro expanded.
            // Not `cron()`: its "never fires" check reads the clock, and a schedule that ran
            // out since the build (a year field that passed) must be the worker's error at
            // run time, not a panic where its handle is made.
            Schedule::Cron { expr, tz, fleet } => {
                let b = WorkerBuilder {
                    cron: Some(expr.to_owned()),
                    ..builder
                };
                let b = match tz {
                    Some(tz) => b.time_zone(tz),
                    None => Ok(b),
                }
                .unwrap_or_else(|e| panic!("worker `{}`: {e}", self.name));
                if fleet {
                    b.fleet()
                } else {
                    b
                }
            }
            _ => builder,
        }
    }

    fn queue_builder(&self) -> QueueWorkerBuilder {
        let b = QueueWorkerBuilder {
            common: self.common(),
            capacity: None,
        };
        match self.capacity {
            Some(n) => b.capacity(n),
            None => b,
        }
    }

    fn event_builder(&self) -> EventWorkerBuilder {
        EventWorkerBuilder {
            common: self.common(),
        }
    }
}

/// The state of an `impl`-block worker, locked for one async run.
pub type StateGuard<S> = tokio::sync::OwnedMutexGuard<S>;

/// A loop/interval/delay worker running `f` on the thread pool.
pub fn worker<F, R>(opts: WorkerOptions, f: F) -> Worker
where
    F: Fn() -> R + Send + Sync + 'static,
    R: WorkerOutput,
{
    opts.worker_builder().build(f)
}

/// A loop/interval/delay worker running `f` as a coroutine.
pub fn worker_async<F, Fut>(opts: WorkerOptions, f: F) -> Worker
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: WorkerOutput,
{
    opts.worker_builder().build_async(f)
}

/// A queue worker running `f` on the thread pool.
pub fn queue_worker<T, F, R>(opts: WorkerOptions, f: F) -> QueueWorker<T>
where
    T: Send + 'static,
    F: Fn(T) -> R + Send + Sync + 'static,
    R: WorkerOutput,
{
    opts.queue_builder().build(f)
}

/// A queue worker running `f` as a coroutine.
pub fn queue_worker_async<T, F, Fut>(opts: WorkerOptions, f: F) -> QueueWorker<T>
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: WorkerOutput,
{
    opts.queue_builder().build_async(f)
}

/// An event worker running `f` on the thread pool.
pub fn event_worker<F, R>(opts: WorkerOptions, f: F) -> EventWorker
where
    F: Fn() -> R + Send + Sync + 'static,
    R: WorkerOutput,
{
    opts.event_builder().build(f)
}

/// An event worker running `f` as a coroutine.
pub fn event_worker_async<F, Fut>(opts: WorkerOptions, f: F) -> EventWorker
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: WorkerOutput,
{
    opts.event_builder().build_async(f)
}

/// The state of an `impl` worker whose `run` is an `async fn`, and that `run`: each run
/// awaits the state's lock, then `run` with the guard.
struct AsyncState<S, F> {
    state: Arc<tokio::sync::Mutex<S>>,
    run: Arc<F>,
}

impl<S: Send + 'static, F: Send + Sync + 'static> AsyncState<S, F> {
    fn new(state: S, run: F) -> Self {
        AsyncState {
            state: Arc::new(tokio::sync::Mutex::new(state)),
            run: Arc::new(run),
        }
    }

    /// One run: `call(run, guard)` once the lock is held.
    fn call<Fut: Future + Send>(
        &self,
        call: impl FnOnce(&F, StateGuard<S>) -> Fut + Send + 'static,
    ) -> impl Future<Output = Fut::Output> + Send + 'static {
        let (state, run) = (self.state.clone(), self.run.clone());
        async move { call(&run, state.lock_owned().await).await }
    }
}

fn shared<S>(state: S) -> Arc<Mutex<S>> {
    Arc::new(Mutex::new(state))
}

fn locked<S, R>(state: &Mutex<S>, run: impl FnOnce(&mut S) -> R) -> R {
    run(&mut crate::sync::lock(state))
}

/// A loop/interval/delay worker calling `run(&mut state)` on the thread pool.
pub fn state_worker<S, R>(opts: WorkerOptions, state: S, run: fn(&mut S) -> R) -> Worker
where
    S: Send + 'static,
    R: WorkerOutput,
{
    let state = shared(state);
    worker(opts, move || locked(&state, run))
}

/// A loop/interval/delay worker awaiting `run(guard)` where the guard derefs to the state.
pub fn state_worker_async<S, F, Fut>(opts: WorkerOptions, state: S, run: F) -> Worker
where
    S: Send + 'static,
    F: Fn(StateGuard<S>) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: WorkerOutput,
{
    let state = AsyncState::new(state, run);
    worker_async(opts, move || state.call(|run, guard| run(guard)))
}

/// An event worker calling `run(&mut state)` on the thread pool.
pub fn state_event_worker<S, R>(opts: WorkerOptions, state: S, run: fn(&mut S) -> R) -> EventWorker
where
    S: Send + 'static,
    R: WorkerOutput,
{
    let state = shared(state);
    event_worker(opts, move || locked(&state, run))
}

/// An event worker awaiting `run(guard)`.
pub fn state_event_worker_async<S, F, Fut>(opts: WorkerOptions, state: S, run: F) -> EventWorker
where
    S: Send + 'static,
    F: Fn(StateGuard<S>) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: WorkerOutput,
{
    let state = AsyncState::new(state, run);
    event_worker_async(opts, move || state.call(|run, guard| run(guard)))
}

/// A queue worker calling `run(&mut state, item)` on the thread pool.
pub fn state_queue_worker<S, T, R>(
    opts: WorkerOptions,
    state: S,
    run: fn(&mut S, T) -> R,
) -> QueueWorker<T>
where
    S: Send + 'static,
    T: Send + 'static,
    R: WorkerOutput,
{
    let state = shared(state);
    queue_worker(opts, move |item| locked(&state, |s| run(s, item)))
}

/// A queue worker awaiting `run(guard, item)`.
pub fn state_queue_worker_async<S, T, F, Fut>(
    opts: WorkerOptions,
    state: S,
    run: F,
) -> QueueWorker<T>
where
    S: Send + 'static,
    T: Send + 'static,
    F: Fn(StateGuard<S>, T) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: WorkerOutput,
{
    let state = AsyncState::new(state, run);
    queue_worker_async(opts, move |item| state.call(|run, guard| run(guard, item)))
}
