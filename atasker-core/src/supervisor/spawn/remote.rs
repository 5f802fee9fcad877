//! The way in to the cluster: a static fn's call sent to a node through the producer, or
//! run in the local process pool when the supervisor has no cluster.

use super::{spawn_static, Spec};
use crate::kind::PoolKind;
use crate::process_pool::registry::StaticEntry;
use crate::remote::{encode_args, job, within_payload, Outgoing};
use crate::task::{Control, Task, QUEUED};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Whether `spec`'s supervisor has a cluster (its remote tasks go to nodes).
pub(crate) fn has_cluster(spec: &Spec<'_>) -> bool {
    spec.sup.inner.remote.is_some()
}

/// Runs `entry` on a node of `spec`'s cluster, or in the local process pool without one.
pub(crate) fn spawn_remote<A, R>(spec: Spec<'_>, entry: &'static StaticEntry, args: A) -> Task<R>
where
    A: Serialize + Send + 'static,
    R: DeserializeOwned + Send + 'static,
{
    let inner = &spec.sup.inner;
    let Some(remote) = &inner.remote else {
        return spawn_static(spec, entry, args);
    };
    let cell = match inner.open_task::<R>(&spec, PoolKind::Remote, QUEUED) {
        Ok(cell) => cell,
        Err(refused) => return refused,
    };
    let limit = remote.settings.max_payload;
    let prepared = encode_args(args)
        .and_then(|bytes| within_payload("the arguments are", bytes, limit))
        .and_then(|bytes| Ok((remote.producer(|| inner.handle())?, bytes)));
    let (producer, bytes) = match prepared {
        Ok(ready) => ready,
        Err(e) => {
            cell.finish(QUEUED, Err(e));
            return Task::from_cell(cell);
        }
    };
    let entry = Outgoing {
        tid: cell.header().id.as_u64(),
        priority: spec.priority,
        name: entry.name,
        args: bytes,
        timeout: spec.timeout,
        // The delay waits in Redis (durable: the task runs even if this process exits).
        delay: spec.delay,
        retry: spec.retry,
        limit: spec.limit,
    };
    producer.submit(job(cell.clone()), entry);
    inner.poke_watchdog();
    Task::from_cell(cell)
}
