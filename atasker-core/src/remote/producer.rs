//! The submitting side: remote tasks go into their queue in batches, and their answers come
//! back on this process's reply stream.
//!
//! A remote task is `QUEUED` until a node says it started it, then `RUNNING`; its answer
//! finishes it (once: a second answer, after a redelivery, is dropped). The table of waiting
//! tasks is keyed by task id, which is also the task's id in its entry. Two loops run on the
//! supervisor's runtime: the *sender* (batches of `XADD` in one pipeline; cancels) and the
//! *reader* (`XREAD BLOCK` on the reply stream from the last id seen, so that nothing sent
//! while the connection was down is missed).

mod leftovers;
mod reader;

pub(crate) use super::broker::Outgoing;
use super::broker::{Broker, RedisBroker, DELAYED};
use super::link::{Backoff, CallError};
use super::{cluster_error, Remote, Settings};
use crate::error::TaskError;
use crate::kind::PoolKind;
use crate::pool::ladder::Overdue;
use crate::priority::Priority;
use crate::task::{run_catching, Contained, Control, TaskCell, TaskInfo, QUEUED};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// How many tasks one pipeline sends at most.
const BATCH: usize = 1024;

/// How long the reader's `XREAD` blocks.
const READ_BLOCK: Duration = Duration::from_secs(1);

/// A remote task of any result type, as the producer keeps it.
pub(crate) trait RemoteJob: Send {
    fn control(&self) -> Arc<dyn Control>;
    /// Finishes the task with the answer's value (decoded here) or error.
    fn finish(self: Box<Self>, result: Result<Vec<u8>, TaskError>);
}

struct Job<R> {
    cell: Arc<TaskCell<R>>,
}

impl<R: DeserializeOwned + Send + 'static> RemoteJob for Job<R> {
    fn control(&self) -> Arc<dyn Control> {
        self.cell.clone()
    }

    fn finish(self: Box<Self>, result: Result<Vec<u8>, TaskError>) {
        let result = result.and_then(|bytes| {
            run_catching(|| crate::process_pool::protocol::decode::<R>(&bytes))?
                .map_err(|e| TaskError::Codec(format!("the result did not cross: {e}")))
        });
        let h = self.cell.header();
        if h.state() == QUEUED {
            // The answer came without a start notice before it (lost with a connection).
            h.try_start(None);
        }
        self.cell.finish(crate::task::RUNNING, result);
    }
}

/// A task waiting for its answer.
struct Waiting {
    job: Box<dyn RemoteJob>,
    priority: Priority,
    queued_at: Instant,
    /// Its entry id, once Redis has it.
    entry: Option<String>,
    /// The queue-wait hooks fired for it.
    warned: bool,
    critical: bool,
    /// The last audit did not find its entry.
    suspect: bool,
}

enum Command {
    Submit(Outgoing),
    Cancel(Priority, String),
}

/// The producer of one supervisor.
pub(crate) struct Producer {
    broker: Arc<RedisBroker>,
    reply_to: String,
    table: Mutex<HashMap<u64, Waiting>>,
    /// Tasks cancelled while delayed (their id `z:…`), by priority: if a node moved one to
    /// its queue meanwhile, its move notice names the entry to remove. Locked after `table`.
    cancelled_delayed: Mutex<HashMap<u64, Priority>>,
    outbox: mpsc::UnboundedSender<Command>,
    closed: AtomicBool,
    /// The reply stream was deleted (see [`Producer::delete_replies`]).
    deleted: AtomicBool,
    /// For the reply stream's deletion at the stop (a plain connection of its own).
    client: redis::Client,
}

impl Producer {
    fn start(settings: &Settings, handle: &Handle) -> Arc<Producer> {
        let broker = Arc::new(RedisBroker::new(settings));
        let (outbox, rx) = mpsc::unbounded_channel();
        let producer = Arc::new(Producer {
            broker,
            reply_to: format!("{}:r:{}", settings.namespace, super::process_name()),
            table: Mutex::new(HashMap::new()),
            cancelled_delayed: Mutex::default(),
            outbox,
            closed: AtomicBool::new(false),
            deleted: AtomicBool::new(false),
            client: settings.client.clone(),
        });
        leftovers::register(&producer);
        let broker = producer.broker.clone();
        handle.spawn(async move {
            if let Some(w) = broker.settings_warning().await {
                tracing::warn!("atasker: {w}");
            }
        });
        handle.spawn(send_loop(Arc::downgrade(&producer), rx));
        handle.spawn(reader::read_loop(Arc::downgrade(&producer)));
        handle.spawn(audit_loop(Arc::downgrade(&producer), settings.node_timeout));
        producer
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waiting>> {
        crate::sync::lock(&self.table)
    }

    /// Fails every waiting task with `Cancelled` (a stop deadline), ends the loops and
    /// deletes the reply stream.
    pub(crate) fn cancel_all(&self) {
        self.closed.store(true, SeqCst);
        let all: Vec<_> = self.table().drain().map(|(_, w)| w.job).collect();
        for job in all {
            job.finish(Err(TaskError::Cancelled));
        }
        self.delete_replies();
    }

    /// Ends the loops (a stop, once nothing waits) and deletes the reply stream.
    pub(crate) fn close(&self) {
        self.closed.store(true, SeqCst);
        if self.table().is_empty() {
            self.delete_replies();
        }
    }

    /// Deletes this producer's reply stream (once): nothing is left in a shared Redis by a
    /// process that stopped. One try on a connection of its own, within a second.
    pub(crate) fn delete_replies(&self) {
        self.delete_replies_said(true);
    }

    /// [`delete_replies`](Self::delete_replies); `say`: a failure is logged (never from the
    /// exit hook, where thread-locals — a subscriber's buffers — may be gone).
    pub(crate) fn delete_replies_said(&self, say: bool) {
        if self.deleted.swap(true, SeqCst) {
            return;
        }
        let t = Duration::from_secs(1);
        let deleted = self
            .client
            .get_connection_with_timeout(t)
            .and_then(|mut c| {
                c.set_read_timeout(Some(t))?;
                c.set_write_timeout(Some(t))?;
                redis::cmd("DEL").arg(&self.reply_to).query::<()>(&mut c)
            });
        if let (Err(e), true) = (deleted, say) {
            tracing::debug!(error = %e, "atasker: the reply stream was not deleted; it expires");
        }
    }

    /// A cancel of the queued task `tid`: forgets it, and removes its entry unless a node
    /// has taken it.
    pub(crate) fn cancel(&self, tid: u64) {
        let mut table = self.table();
        let Some(w) = table.remove(&tid) else {
            return;
        };
        if w.entry.as_deref().is_some_and(|id| id.starts_with(DELAYED)) {
            crate::sync::lock(&self.cancelled_delayed).insert(tid, w.priority);
        }
        drop(table);
        if let Some(id) = w.entry {
            let _ = self.outbox.send(Command::Cancel(w.priority, id));
        }
        // Without an id the sender has not sent it yet: it finds the task gone and cancels
        // the entry it made.
    }

    /// Removes the entry `id` of a task cancelled while it moved from the delayed set.
    pub(super) fn cancel_moved(&self, priority: Priority, id: String) {
        let _ = self.outbox.send(Command::Cancel(priority, id));
    }

    /// Queue-wait warnings for tasks no node has started.
    pub(crate) fn overdue(&self, now: Instant, warn: Duration, crit: Duration, out: &mut Overdue) {
        for w in self.table().values_mut() {
            let control = w.job.control();
            let h = control.header();
            if h.state() != QUEUED {
                continue;
            }
            let waited = now.saturating_duration_since(w.queued_at);
            let info = || TaskInfo {
                id: h.id,
                name: h.name,
                priority: h.priority,
                pool: PoolKind::Remote,
                waited,
            };
            if !w.warned && waited >= warn {
                w.warned = true;
                out.warnings.push(info());
            }
            if !w.critical && waited >= crit {
                w.critical = true;
                out.criticals.push(info());
            }
            // `None` also for a threshold beyond what an `Instant` holds: never due.
            let due = if !w.warned {
                w.queued_at.checked_add(warn)
            } else if !w.critical {
                w.queued_at.checked_add(crit)
            } else {
                None
            };
            if let Some(due) = due {
                out.next = Some(out.next.map_or(due, |n| n.min(due)));
            }
        }
    }

    /// Finishes `tid` with `result` if it still waits.
    fn resolve(&self, tid: u64, result: Result<Vec<u8>, TaskError>) {
        let w = self.table().remove(&tid);
        if let Some(w) = w {
            w.job.finish(result);
        }
    }
}

impl Remote {
    /// The producer, started on the first call (its loops run on the runtime `handle`
    /// gives; asked for only then).
    pub(crate) fn producer<'h>(
        &self,
        handle: impl FnOnce() -> Result<&'h Handle, TaskError>,
    ) -> Result<Arc<Producer>, TaskError> {
        if let Some(p) = self.producer.get() {
            return Ok(p.clone());
        }
        let p = Producer::start(&self.settings, handle()?);
        Ok(self.producer.get_or_init(|| p).clone())
    }
}

/// A remote task waiting for its answer, to be finished through `cell`.
pub(crate) fn job<R: DeserializeOwned + Send + 'static>(
    cell: Arc<TaskCell<R>>,
) -> Box<dyn RemoteJob> {
    Box::new(Job { cell })
}

/// The argument tuple of a remote task, encoded as the child decodes it. The user's
/// `Serialize` and `Drop` run here: contained.
pub(crate) fn encode_args<A: Serialize>(args: A) -> Result<Vec<u8>, TaskError> {
    let args = Contained::new(args);
    let mut bytes = Vec::new();
    let encoded = run_catching(|| {
        args.get()
            .map(|a| crate::process_pool::protocol::encode(a, &mut bytes))
    });
    drop(args);
    match encoded {
        Ok(Some(Ok(()))) => Ok(bytes),
        Ok(None) => Err(TaskError::Codec("the arguments were taken".into())),
        Ok(Some(Err(e))) => Err(TaskError::Codec(format!(
            "the arguments did not cross: {e}"
        ))),
        Err(e) => Err(TaskError::Codec(format!(
            "the arguments did not cross: {e}"
        ))),
    }
}

impl Producer {
    /// Hands a task over: keeps `job` until its answer comes and sends `entry` (of the task
    /// numbered `entry.tid`) in the next pipeline.
    pub(crate) fn submit(&self, job: Box<dyn RemoteJob>, entry: Outgoing) {
        let tid = entry.tid;
        self.table().insert(
            tid,
            Waiting {
                job,
                priority: entry.priority,
                // A delayed task counts as queued from its due time.
                queued_at: entry
                    .delay
                    .and_then(|d| Instant::now().checked_add(d))
                    .unwrap_or_else(Instant::now),
                entry: None,
                warned: false,
                critical: false,
                suspect: false,
            },
        );
        if self.outbox.send(Command::Submit(entry)).is_err() {
            self.resolve(tid, Err(cluster_error("the cluster client has stopped")));
        }
    }
}

/// Sends what `spawn` and `cancel` queue, a batch per pipeline, until the producer is gone.
async fn send_loop(producer: Weak<Producer>, mut rx: mpsc::UnboundedReceiver<Command>) {
    let mut batch = Vec::new();
    let mut cancels = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(c) = next.take().or_else(|| rx.try_recv().ok()) {
            match c {
                Command::Submit(t) => batch.push(t),
                Command::Cancel(p, id) => cancels.push((p, id)),
            }
            if batch.len() >= BATCH {
                break;
            }
        }
        let Some(p) = producer.upgrade() else { return };
        p.send(&mut batch).await;
        for (priority, id) in cancels.drain(..) {
            p.cancel_entry(priority, &id).await;
        }
    }
}

impl Producer {
    /// Sends `batch` (emptied), retrying across lost connections; a task Redis refuses
    /// (out of memory, say) fails with `TaskError::Cluster`.
    async fn send(&self, batch: &mut Vec<Outgoing>) {
        let mut backoff = Backoff::new();
        loop {
            // Tasks cancelled meanwhile are not sent.
            {
                let table = self.table();
                batch.retain(|t| table.contains_key(&t.tid));
            }
            if batch.is_empty() {
                return;
            }
            match self.broker.submit(&self.reply_to, batch).await {
                Ok(ids) => {
                    self.sent(batch, ids).await;
                    batch.clear();
                    return;
                }
                Err(CallError::Server(e)) => {
                    // The whole pipeline failed (not one command of it): fail the batch.
                    let e = format!("Redis refused the tasks: {e}");
                    tracing::error!(error = %e, "atasker: remote tasks refused");
                    for t in batch.drain(..) {
                        self.resolve(t.tid, Err(cluster_error(&e)));
                    }
                    return;
                }
                Err(CallError::Config(why)) => {
                    // Said at once: no retry mends a refusal.
                    for t in batch.drain(..) {
                        self.resolve(t.tid, Err(cluster_error(&why)));
                    }
                    return;
                }
                Err(CallError::Connection(e)) => {
                    if self.closed.load(SeqCst) && self.table().is_empty() {
                        return;
                    }
                    tracing::debug!(error = %e, "atasker: remote tasks not sent yet; retrying");
                    backoff.wait().await;
                }
            }
        }
    }

    /// `batch` went out and Redis answered each entry with `ids`: records each entry id,
    /// removes those of tasks cancelled meanwhile, and fails the tasks Redis refused.
    async fn sent(&self, batch: &[Outgoing], ids: Vec<Result<String, String>>) {
        let mut late_cancels = Vec::new();
        let mut refused = Vec::new();
        {
            let mut table = self.table();
            for (t, id) in batch.iter().zip(ids) {
                match (id, table.get_mut(&t.tid)) {
                    // A move notice read first holds the newer id.
                    (Ok(id), Some(w)) => {
                        w.entry.get_or_insert(id);
                    }
                    (Ok(id), None) => late_cancels.push((t.priority, id)),
                    (Err(e), _) => refused.push((t.tid, e)),
                }
            }
        }
        for (tid, e) in refused {
            tracing::error!(error = %e, "atasker: Redis refused a remote task");
            // A refusal already says who refused what.
            let why = if e.starts_with("Redis refuses") {
                e
            } else {
                format!("Redis refused the task: {e}")
            };
            self.resolve(tid, Err(cluster_error(why)));
        }
        for (priority, id) in late_cancels {
            self.cancel_entry(priority, &id).await;
        }
    }

    async fn cancel_entry(&self, priority: Priority, id: &str) {
        let mut backoff = Backoff::new();
        for _ in 0..10 {
            match self.broker.cancel(priority, id).await {
                Ok(removed) => {
                    tracing::debug!(entry = id, removed, "atasker: remote task cancelled");
                    if removed {
                        // Still delayed: no move notice will come for it.
                        let tid = id.rsplit('|').next().and_then(|t| t.parse::<u64>().ok());
                        if let Some(tid) = tid.filter(|_| id.starts_with(DELAYED)) {
                            crate::sync::lock(&self.cancelled_delayed).remove(&tid);
                        }
                    }
                    return;
                }
                Err(e @ (CallError::Server(_) | CallError::Config(_))) => {
                    tracing::error!(error = %e, "atasker: cannot remove a cancelled remote task");
                    return;
                }
                Err(CallError::Connection(_)) => backoff.wait().await,
            }
        }
    }
}

/// Every `node_timeout`: a task whose entry Redis no longer holds (lost in a failover to a
/// replica that lagged, or deleted by hand), in two audits in a row, with no answer in
/// between, fails with `TaskError::Cluster` instead of waiting for ever. Two audits, because
/// an entry is deleted in the same script that sends its answer: the answer is then in the
/// reply stream, read well before the next audit.
async fn audit_loop(producer: Weak<Producer>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(p) = producer.upgrade() else { return };
        if p.closed.load(SeqCst) && p.table().is_empty() {
            return;
        }
        // A live producer keeps its reply stream alive (its TTL is 10 node timeouts).
        if let Err(e) = p.broker.touch_replies(&p.reply_to).await {
            tracing::debug!(error = %e, "atasker: the reply stream's TTL was not refreshed");
        }
        let old: Vec<(u64, Priority, String)> = p
            .table()
            .iter()
            .filter(|(_, w)| w.queued_at.elapsed() >= every)
            .filter_map(|(&tid, w)| Some((tid, w.priority, w.entry.clone()?)))
            .collect();
        for chunk in old.chunks(BATCH) {
            let entries: Vec<(Priority, String)> =
                chunk.iter().map(|(_, p, id)| (*p, id.clone())).collect();
            let Ok(found) = p.broker.exist(&entries).await else {
                break;
            };
            let mut lost = Vec::new();
            {
                let mut table = p.table();
                for ((tid, _, id), there) in chunk.iter().zip(found) {
                    let Some(w) = table.get_mut(tid) else {
                        continue;
                    };
                    if there || w.entry.as_deref() != Some(id) {
                        w.suspect = false;
                    } else if w.suspect {
                        lost.push(*tid);
                    } else {
                        w.suspect = true;
                    }
                }
            }
            for tid in lost {
                tracing::error!(
                    task = tid,
                    "atasker: Redis no longer knows a remote task; it fails"
                );
                p.resolve(
                    tid,
                    Err(cluster_error(
                        "Redis no longer knows the task (its data was lost: a failover to a \
                         replica that lagged, a restart without AOF, or a deletion)",
                    )),
                );
            }
        }
    }
}
