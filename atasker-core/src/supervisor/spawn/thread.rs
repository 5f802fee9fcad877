//! The way in to the thread pool.

use super::Spec;
use crate::kind::PoolKind;
use crate::task::{Contained, Task, TaskCell};
use crate::thread_pool::{BlockingJob, Job};
use std::sync::Arc;

/// Runs `f` on the thread pool of `spec`'s supervisor.
pub(crate) fn spawn_thread<T, F>(spec: Spec<'_>, f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let job = |cell: &Arc<TaskCell<T>>| -> Job {
        Box::new(BlockingJob {
            cell: cell.clone(),
            f: Contained::new(f),
        })
    };
    spec.sup
        .inner
        .submit(&spec, PoolKind::Threads, job, |inner, job| {
            inner.threads.submit(job)
        })
}
