//! The node's share of durable delays (see `remote/broker/delayed.rs`): it moves the
//! delayed tasks of its build whose time has come to their queues, as every node does; and
//! a remote task whose run failed and has retries left goes back to the delayed set (not
//! to its producer) for its next run, on whichever node sees it due.

use super::Node;
use crate::backoff::{unit_random, Retry};
use crate::error::TaskError;
use crate::priority::Priority;
use crate::remote::broker::Broker;
use crate::remote::link::{Backoff, CallError};
use crate::remote::within_payload;
use crate::supervisor::{spawn_raw, Spec, Supervisor};
use crate::task::Task;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

/// How many due tasks one call moves at most.
const MOST: usize = 256;

/// The longest the node sleeps between looks: a task delayed while it sleeps is moved at
/// most this late.
const EVERY: Duration = Duration::from_millis(250);

impl Node {
    /// Until the node stops: moves due delayed tasks, then sleeps until the next is due
    /// (at most [`EVERY`]); at once again while a whole batch was due.
    pub(super) async fn promote_loop(self: Arc<Self>) {
        // A refusal is said when it first comes (and when it changes), not every look.
        let mut said = String::new();
        let mut stop = self.stop.subscribe();
        while !self.stopping() {
            let wait = match self.broker.promote(MOST).await {
                Ok((moved, _)) if moved >= MOST as u64 => Duration::ZERO,
                Ok((moved, next)) => {
                    if moved > 0 {
                        tracing::debug!(node = %self.name, moved, "atasker: delayed tasks queued");
                    }
                    next.map_or(EVERY, |n| n.min(EVERY))
                }
                Err(e @ (CallError::Server(_) | CallError::Config(_))) => {
                    let text = e.to_string();
                    if text != said {
                        tracing::error!(error = %text, node = %self.name, "atasker: Redis refuses to move delayed tasks; they wait until it takes them");
                        said = text;
                    }
                    EVERY
                }
                Err(e) => {
                    tracing::debug!(error = %e, "atasker: delayed tasks not looked at; retrying");
                    EVERY
                }
            };
            if !wait.is_zero() {
                // Woken by a stop only: a freed slot's wake-up is the readers'.
                let _ = tokio::time::timeout(wait, stop.wait_for(|stopped| *stopped)).await;
            }
        }
    }
}

/// How long the failed run of a task with retries waits for its next run (`retry`: its
/// policy, with the retries left, and its runs so far); `None`: the outcome is final (a
/// success, no retry left, or a failure that is not retried: a cancel, a refusal).
pub(super) fn retry_delay(
    retry: Option<(Retry, u32)>,
    result: &Result<Vec<u8>, TaskError>,
) -> Option<Duration> {
    let (policy, runs) = retry?;
    let failed = match result {
        // A task with retries returns a `Result` (the macro checks): bincode writes its
        // variant first, as one byte, and `Err` is 1.
        Ok(bytes) => bytes.first() == Some(&1),
        Err(e) => e.is_retried(),
    };
    (failed && policy.retries > 0).then(|| policy.delay(runs.saturating_add(1), unit_random()))
}

impl Node {
    /// Sends the taken entry `id` to the delayed set for `delay`: its run failed and it
    /// runs again (`retry`), or its limit had no free permit. Tries again while Redis cannot
    /// be reached. `Some(false)`: the entry was gone (a reclaim moved it); `None`: Redis
    /// refused (a failed run is then answered as it is).
    pub(super) async fn retry_later(
        &self,
        (priority, id): (Priority, &str),
        delay: Duration,
        retry: bool,
    ) -> Option<bool> {
        let mut backoff = Backoff::new();
        loop {
            match self.broker.retry_later((priority, id), delay, retry).await {
                Ok(moved) => {
                    if moved && retry {
                        tracing::warn!(entry = id, node = %self.name, delay = delay.as_secs_f64(), "atasker: a remote task's run failed; it runs again (waiting in Redis)");
                    }
                    return Some(moved);
                }
                Err(CallError::Connection(_)) => backoff.wait().await,
                Err(e) => {
                    tracing::error!(entry = id, error = %e, "atasker: cannot put a remote task off in Redis; its outcome is final");
                    return None;
                }
            }
        }
    }
}

/// What a node keeps of a taken entry while its run goes on, for what follows it.
pub(super) struct Ran {
    pub(super) priority: Priority,
    pub(super) id: String,
    /// Where the answer goes (reply stream, task id).
    pub(super) address: Option<(String, String)>,
    pub(super) reply_ttl: Option<Duration>,
    pub(super) retry: Option<(Retry, u32)>,
}

/// How long a task whose fleet-wide limit has no free permit waits in Redis before a node
/// tries again: 150 to 350 ms (jittered, so that waiting tasks do not all come back at once).
fn permit_wait() -> Duration {
    Duration::from_millis(150 + (unit_random() * 200.0) as u64)
}

impl Node {
    /// After the run of entry `ran`: a retry (waiting in Redis) if it failed and has one
    /// left, else its answer.
    pub(super) async fn after_run(self: Arc<Self>, run: Task<Vec<u8>>, ran: Ran) {
        let result = run.await;
        // The slot is free as soon as the pool's task ended: the answer goes out while the
        // next task runs.
        self.busy.fetch_sub(1, SeqCst);
        self.freed.notify_one();
        if let Some(d) = retry_delay(ran.retry, &result) {
            // Put off for its retry, or gone (a reclaim gave it to another node while this
            // one was silent): either way this run's outcome is not the answer. `None`:
            // Redis refused, and the failure is the outcome.
            if self
                .retry_later((ran.priority, &ran.id), d, true)
                .await
                .is_some()
            {
                return self.ended(&ran.id);
            }
        }
        let limit = self.settings.max_payload;
        let result = result.and_then(|b| within_payload("the result is", b, limit));
        let (p, id) = (ran.priority, &ran.id);
        if self.answer(p, id, ran.address, result, ran.reply_ttl).await {
            self.served.fetch_add(1, SeqCst);
        }
        self.ended(id);
    }

    /// Starts the run of a task with a fleet-wide limit of `n` (static fn `index`, named
    /// `name`, with `args`) once this node has taken a permit; without one free, the entry
    /// waits in Redis (see [`permit_wait`]) for whichever node tries next. The permit is
    /// given back when the run has been answered (or, if this node dies, once its
    /// heartbeat has expired).
    pub(super) fn start_limited(
        self: &Arc<Self>,
        (index, args, name, n): (u32, Vec<u8>, &'static str, u32),
        (spec, ran): (Spec<'_>, Ran),
    ) {
        let me = self.clone();
        let sup = Supervisor {
            inner: spec.sup.inner.clone(),
        };
        let (priority, timeout) = (spec.priority, spec.timeout);
        tokio::spawn(async move {
            // One permit per run, named by it: asked again, and given back, idempotently.
            let token = format!("{}|{}", me.name, ran.id);
            let permit = me.permit(name, &token, Some(n)).await;
            if !matches!(permit, Ok(true)) {
                me.busy.fetch_sub(1, SeqCst);
                me.freed.notify_one();
                let (p, id) = (ran.priority, &ran.id);
                if let Err(e @ (CallError::Server(_) | CallError::Config(_))) = permit {
                    // Refused (a missing permission, say): the task fails, by name.
                    let why = format!("cannot take a permit of the task's limit: {e}");
                    let failed = Err(TaskError::Cluster(why));
                    me.answer(p, id, ran.address, failed, ran.reply_ttl).await;
                    return me.ended(id);
                }
                if me
                    .retry_later((p, id), permit_wait(), false)
                    .await
                    .is_none()
                {
                    let why = "Redis refused to put the task off until a permit of its limit frees";
                    let failed = Err(TaskError::Cluster(why.into()));
                    me.answer(p, id, ran.address, failed, ran.reply_ttl).await;
                }
                return me.ended(id);
            }
            let spec = Spec {
                name,
                priority,
                timeout,
                for_worker: true,
                ..Spec::new(&sup)
            };
            let run = spawn_raw(spec, index, args);
            me.clone().after_run(run, ran).await;
            if let Err(e) = me.permit(name, &token, None).await {
                tracing::warn!(error = %e, task = name, "atasker: a permit of a fleet-wide limit was not given back; it frees when this node stops");
            }
        });
    }

    /// Takes (`limit`: `Some`) or gives back (`None`) the permit `token` of task `name`,
    /// trying again while Redis cannot be reached (both are idempotent, so a reply lost
    /// with a connection is safe to ask again). `Ok(false)`: no permit was free.
    async fn permit(&self, name: &str, token: &str, limit: Option<u32>) -> Result<bool, CallError> {
        let mut backoff = Backoff::new();
        loop {
            let done = match limit {
                Some(n) => self.broker.acquire(name, token, n).await,
                None => self.broker.release(name, token).await.map(|()| true),
            };
            match done {
                Err(CallError::Connection(_)) => backoff.wait().await,
                other => return other,
            }
        }
    }
}
