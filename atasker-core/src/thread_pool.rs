//! The thread pool: the pool skeleton (`pool/`) whose threads run the task's closure.

use crate::context::{self, Role};
use crate::pool::ladder::Limits;
use crate::pool::{CellJob, JobTask, Pool, Queue, Runner};
use crate::task::{panic_message, run_catching, Contained, Control, TaskCell, RUNNING};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// A unit of work for the pool: a task's closure and its cell.
pub(crate) trait ThreadJob: JobTask {
    /// Runs the closure and finishes the task.
    fn run(self: Box<Self>);
}

pub(crate) type Job = Box<dyn ThreadJob>;

pub(crate) struct BlockingJob<F, T> {
    pub(crate) cell: Arc<TaskCell<T>>,
    /// The closure; dropped contained if the job never runs.
    pub(crate) f: Contained<F>,
}

impl<F, T> CellJob for BlockingJob<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    type Output = T;

    fn cell(&self) -> &Arc<TaskCell<T>> {
        &self.cell
    }
}

impl<F, T> ThreadJob for BlockingJob<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run(mut self: Box<Self>) {
        let Some(f) = self.f.take() else { return };
        let cell = self.cell.clone();
        drop(self);
        let h = Control::header(&*cell);
        let _guard = h.timeout.map(|d| h.sup.deadline(cell.clone(), d));
        let span = tracing::debug_span!("atasker.task", id = h.id.as_u64(), name = h.name, priority = %h.priority, pool = "threads");
        let _current = context::enter(Role::Supervisor, context::key(&*h.sup));
        span.in_scope(|| {
            h.log_start();
            let result = run_catching(f);
            cell.finish(RUNNING, result);
        });
    }
}

/// The thread pool's kind: a thread runs the closure itself.
pub(crate) struct Threads;

impl Runner for Threads {
    type Job = Job;
    type Local = ();
    const THREAD: &'static str = "pool thread";
    const LINGER: bool = false;

    fn run(&self, _: &mut (), job: Job, _: &Queue<'_, Self>) {
        run_contained(job);
    }
}

/// The supervisor's thread pool.
pub(crate) type ThreadPool = Pool<Threads>;

/// A thread pool whose threads are named `atasker-<name>-N`; every idle thread ends after
/// the keep-alive.
pub(crate) fn new(name: &str, limits: Limits) -> ThreadPool {
    Pool::new(format!("atasker-{name}"), limits, 0, Threads)
}

/// Runs a job; a panic that escapes it (its user code is already caught: this would be a
/// value's `Drop`) is contained and logged, and the thread serves on.
pub(crate) fn run_contained(job: Job) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| job.run())) {
        tracing::error!(panic = %panic_message(&*p), "atasker: a pool job panicked outside its task; contained");
    }
}
