//! The way in to the process pool: a registered static fn's call, typed (a
//! `#[background_task(static)]` call) or as bytes (a task a cluster node took).

use super::Spec;
use crate::error::TaskError;
use crate::kind::PoolKind;
use crate::process_pool::registry::{self, StaticEntry};
use crate::process_pool::{Job, RawJob, StaticJob};
use crate::task::{Task, TaskCell};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// Runs the registered static function `entry` with the argument tuple `args` in the
/// process pool of `spec`'s supervisor.
pub(crate) fn spawn_static<A, R>(spec: Spec<'_>, entry: &'static StaticEntry, args: A) -> Task<R>
where
    A: Serialize + Send + 'static,
    R: DeserializeOwned + Send + 'static,
{
    let inner = &spec.sup.inner;
    let Some(index) = registry::index_of(entry) else {
        let e = format!("static task `{}` is not in the registry", entry.name);
        return Task::failed(
            inner.clone(),
            spec.name,
            spec.priority,
            PoolKind::Processes,
            TaskError::Unavailable(e),
        );
    };
    let job =
        |cell: &Arc<TaskCell<R>>| -> Job { Box::new(StaticJob::new(cell.clone(), index, args)) };
    inner.submit(&spec, PoolKind::Processes, job, |inner, job| {
        inner.processes.submit(job)
    })
}

/// Runs the registered static function at `index` with arguments already encoded (a
/// cluster node's task: it forwards the bytes as they came); the result is the reply's
/// payload, as encoded by the child.
pub(crate) fn spawn_raw(spec: Spec<'_>, index: u32, args: Vec<u8>) -> Task<Vec<u8>> {
    let job =
        |cell: &Arc<TaskCell<Vec<u8>>>| -> Job { Box::new(RawJob::new(cell.clone(), index, args)) };
    spec.sup
        .inner
        .submit(&spec, PoolKind::Processes, job, |inner, job| {
            inner.processes.submit(job)
        })
}

/// Reads a static fn's result from its reply's payload.
pub(crate) type Decode<R> = fn(&[u8]) -> Result<R, String>;

/// Runs the registered static function `entry` with its arguments encoded once (`args`),
/// again after a failed run (`retries`); `decode` reads a run's result.
pub(crate) fn spawn_static_retried<R>(
    spec: Spec<'_>,
    entry: &'static StaticEntry,
    args: Vec<u8>,
    (decode, is_failure): (Decode<R>, fn(&R) -> bool),
) -> Task<R>
where
    R: Send + 'static,
{
    let Some(index) = registry::index_of(entry) else {
        let e = format!("static task `{}` is not in the registry", entry.name);
        let inner = &spec.sup.inner;
        let (name, p) = (spec.name, spec.priority);
        return Task::failed(
            inner.clone(),
            name,
            p,
            PoolKind::Processes,
            TaskError::Unavailable(e),
        );
    };
    let args = Arc::new(args);
    let run = move |spec: Spec<'_>| spawn_raw(spec, index, args.to_vec());
    let map = move |r: Result<Vec<u8>, TaskError>| {
        let bytes = r?;
        decode(&bytes).map_err(|e| TaskError::Codec(format!("the result did not cross: {e}")))
    };
    let pool = PoolKind::Processes;
    super::spawn_retried(
        spec,
        super::retry::Runs {
            pool,
            run,
            map,
            is_failure,
        },
    )
}
