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
        while !self.stopping() {
            let wait = match self.broker.promote(MOST).await {
                Ok((moved, _)) if moved >= MOST as u64 => Duration::ZERO,
                Ok((moved, next)) => {
                    if moved > 0 {
                        tracing::debug!(node = %self.name, moved, "atasker: delayed tasks queued");
                    }
                    next.map_or(EVERY, |n| n.min(EVERY))
                }
                Err(e) => {
                    tracing::debug!(error = %e, "atasker: delayed tasks not looked at; retrying");
                    EVERY
                }
            };
            if !wait.is_zero() {
                let _ = tokio::time::timeout(wait, self.freed_stop()).await;
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
        Err(e) => matches!(
            e,
            TaskError::Panicked { .. } | TaskError::TimedOut | TaskError::ProcessExited { .. }
        ),
    };
    (failed && policy.retries > 0).then(|| policy.delay(runs.saturating_add(1), unit_random()))
}

impl Node {
    /// Sends the taken entry `id`, whose run failed, to the delayed set for its next run
    /// after `delay`, retrying while Redis cannot be reached; `false` if that cannot be
    /// done (the entry is then answered with this run's outcome).
    pub(super) async fn retry_later(&self, priority: Priority, id: &str, delay: Duration) -> bool {
        let mut backoff = Backoff::new();
        loop {
            match self.broker.retry_later(priority, id, delay).await {
                Ok(moved) => {
                    if moved {
                        tracing::warn!(entry = id, node = %self.name, delay = delay.as_secs_f64(), "atasker: a remote task's run failed; it runs again (waiting in Redis)");
                    }
                    return moved;
                }
                Err(CallError::Connection(_)) => backoff.wait().await,
                Err(e) => {
                    tracing::error!(entry = id, error = %e, "atasker: cannot put a failed remote task off for its retry; its outcome is final");
                    return false;
                }
            }
        }
    }
}
