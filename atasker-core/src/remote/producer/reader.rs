//! The reader: answers come back on this process's reply stream (`XREAD BLOCK` from the last
//! id seen, so that nothing sent while the connection was down is missed), and an answer
//! Redis will not send fails its task alone.

use super::{Producer, READ_BLOCK};
use crate::remote::broker::{Broker, Fields};
use crate::remote::cluster_error;
use crate::remote::link::{Backoff, CallError};
use crate::remote::wire::{self, Answer};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Weak;
use std::time::{Duration, Instant};

/// A reply this large that keeps losing the connection that reads it is one Redis will
/// not send (its `client-output-buffer-limit`): 64 KiB.
const UNSENDABLE: usize = 64 << 10;

impl Producer {
    /// Reads of the reply after `last` keep losing their connection: a look at it without
    /// its value. When it is larger than [`UNSENDABLE`] and a read lost its connection
    /// between two such looks (Redis answered the looks, so it is up), Redis closes the
    /// connection rather than send it: its task fails with `TaskError::Cluster` saying so
    /// and the reader goes past it (`true`). Later answers are read as before.
    async fn skip_unsendable(&self, last: &mut String, peeked: &mut Option<String>) -> bool {
        let Ok(Some((id, tid, size))) = self.broker.peek_reply(&self.reply_to, last).await else {
            *peeked = None;
            return false;
        };
        if size < UNSENDABLE || peeked.as_deref() != Some(id.as_str()) {
            *peeked = (size >= UNSENDABLE).then_some(id);
            return false;
        }
        tracing::error!(entry = %id, size, "atasker: Redis closes the connection rather than send a remote task's answer (its client-output-buffer-limit); the task fails");
        if let Ok(tid) = tid.parse::<u64>() {
            self.resolve(
                tid,
                Err(cluster_error(format!(
                    "the answer is {size} bytes, more than Redis sends this process (its \
                     client-output-buffer-limit normal): raise that limit, or lower \
                     cluster_max_payload"
                ))),
            );
        }
        *peeked = None;
        *last = id;
        true
    }
}

/// Reads answers from the reply stream until the producer is gone or closed and idle.
pub(super) async fn read_loop(producer: Weak<Producer>) {
    let mut last = "0-0".to_owned();
    let mut backoff = Backoff::new();
    let mut trim = Trim {
        unseen: 0,
        at: Instant::now(),
    };
    // Reads in a row at `last` that lost their connection, and the large reply a look found
    // there (see `skip_unsendable`).
    let mut lost_reads = 0u32;
    let mut peeked: Option<String> = None;
    loop {
        let Some(p) = producer.upgrade() else { return };
        if p.closed.load(SeqCst) && p.table().is_empty() {
            return;
        }
        // After a read that lost its connection, one reply at a time; after two, a look
        // at the next reply without its value (see `skip_unsendable`).
        let count = if lost_reads == 0 { 4096 } else { 1 };
        if lost_reads >= 2 && p.skip_unsendable(&mut last, &mut peeked).await {
            lost_reads = 0;
            continue;
        }
        match p
            .broker
            .replies(&p.reply_to, &last, count, READ_BLOCK)
            .await
        {
            Ok(entries) => {
                backoff.reset();
                lost_reads = 0;
                peeked = None;
                trim.unseen += entries.len();
                for (id, fields) in entries {
                    last = id;
                    p.take_answer(&last, fields);
                }
                p.trim(&mut trim, &last).await;
            }
            Err(e) => {
                if matches!(e, CallError::Connection(_)) {
                    lost_reads += 1;
                }
                tracing::debug!(error = %e, "atasker: reading remote answers failed; retrying");
                drop(p);
                backoff.wait().await;
            }
        }
    }
}

/// The replies read and not trimmed yet, and when the stream was last trimmed.
struct Trim {
    unseen: usize,
    at: Instant,
}

impl Producer {
    /// Applies the reply entry `id` (its `fields`): a start notice, a move, or an answer.
    fn take_answer(&self, id: &str, fields: Fields) {
        match wire::answer(fields) {
            Some(Answer::Started(tids)) => {
                let table = self.table();
                for tid in tids {
                    if let Some(w) = table.get(&tid) {
                        w.job.control().header().try_start(Some(w.queued_at));
                    }
                }
            }
            Some(Answer::Moved(tid, entry)) => {
                let mut table = self.table();
                if let Some(w) = table.get_mut(&tid) {
                    w.entry = Some(entry);
                    w.suspect = false;
                } else if let Some(p) = crate::sync::lock(&self.cancelled_delayed).remove(&tid) {
                    // Cancelled while a node moved it from the delayed set: it goes now.
                    drop(table);
                    self.cancel_moved(p, entry);
                }
            }
            Some(Answer::Done(tid, result)) => self.resolve(tid, result),
            None => {
                tracing::error!(entry = %id, "atasker: a reply entry that is not atasker's; ignored")
            }
        }
    }

    /// Drops the replies read up to `last` from the stream (every 4096, or 5 s), which also
    /// refreshes its TTL.
    async fn trim(&self, trim: &mut Trim, last: &str) {
        let due = trim.unseen >= 4096 || trim.at.elapsed() > Duration::from_secs(5);
        if trim.unseen > 0
            && due
            && self
                .broker
                .trim_replies(&self.reply_to, last, self.broker.reply_ttl)
                .await
                .is_ok()
        {
            trim.unseen = 0;
            trim.at = Instant::now();
        }
    }
}
