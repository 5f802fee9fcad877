//! How a node proves it is alive and takes over from nodes that are not: the heartbeat
//! thread, the reclaim loop, and the recovery of entries delivered over a lost connection.

use super::{Node, TAKE_BLOCK};
use crate::remote::broker::{self, Broker, Taken};
use crate::remote::fingerprint;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

/// Deletes consumer ARGV[2] of group ARGV[1] from each queue (KEYS) where it holds nothing
/// (a consumer's deletion drops what it holds: that is left for a reclaim).
const LEAVE: &str = r"
for _, q in ipairs(KEYS) do
  local ok, held = pcall(redis.call, 'XPENDING', q, ARGV[1], '-', '+', 1, ARGV[2])
  if ok and #held == 0 then redis.call('XGROUP', 'DELCONSUMER', q, ARGV[1], ARGV[2]) end
end
return 1
";

impl Node {
    /// Starts the entries this node holds but never saw (their delivery's answer was lost
    /// with a connection): delivered longer ago than a read's whole deadline, and not
    /// running here.
    async fn recover_own(self: &Arc<Self>) {
        let idle = self.settings.call_deadline() + TAKE_BLOCK + Duration::from_secs(1);
        let Ok(found) = self.broker.own_idle(&self.name, idle).await else {
            return;
        };
        let lost: Vec<Taken> = {
            let held = crate::sync::lock(&self.held);
            found
                .into_iter()
                .filter(|t| !held.contains(&t.id))
                .collect()
        };
        if !lost.is_empty() {
            tracing::warn!(count = lost.len(), node = %self.name, "atasker: tasks delivered to this node over a lost connection; running them now");
            self.start_all(lost, true);
        }
    }

    /// Every third of the node timeout, while the node is alive: recovers its own lost
    /// deliveries and queues again what silent nodes held (once, first: the groups and the
    /// server's settings are checked).
    pub(super) async fn reclaim_loop(self: Arc<Self>) {
        let every = self.settings.node_timeout / 3;
        let mut warned = false;
        while !self.stopping() {
            if self.alive() {
                if !warned {
                    warned = true;
                    let _ = self.broker.ensure_groups().await;
                    if let Some(w) = self.broker.settings_warning().await {
                        tracing::warn!("atasker: {w}");
                    }
                }
                self.recover_own().await;
                match self.broker.reclaim(self.settings.max_deliveries).await {
                    Ok(r) if r.requeued + r.failed > 0 => {
                        self.reclaimed.fetch_add(r.requeued, SeqCst);
                        tracing::warn!(requeued = r.requeued, failed = r.failed, "atasker: tasks of silent nodes queued again (or failed after max_deliveries)");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "atasker: reclaim failed; retrying"),
                }
            }
            let _ = tokio::time::timeout(every, self.freed_stop()).await;
        }
    }

    /// Returns when the node stops.
    async fn freed_stop(&self) {
        while !self.stopping() {
            self.freed.notified().await;
        }
    }

    /// The heartbeat thread: sets `ns:hb:<node>` with the node timeout as TTL every third
    /// of it (on a connection of its own), and leaves the group when the node stops.
    pub(super) fn heartbeat_loop(self: Arc<Self>) {
        let ttl = self.settings.node_timeout;
        let key = format!("{}:hb:{}", self.settings.namespace, self.name);
        let t = self.settings.call_deadline();
        let connect = || -> redis::RedisResult<redis::Connection> {
            let c = self.settings.client.get_connection_with_timeout(t)?;
            c.set_read_timeout(Some(t))?;
            c.set_write_timeout(Some(t))?;
            Ok(c)
        };
        let mut conn: Option<redis::Connection> = None;
        loop {
            let stop = *crate::sync::lock(&self.idle.0);
            if conn.is_none() {
                conn = connect().ok();
            }
            if let Some(c) = conn.as_mut() {
                if stop {
                    self.leave(c, &key);
                    return;
                }
                let set: redis::RedisResult<()> = redis::cmd("SET")
                    .arg(&key)
                    .arg(fingerprint())
                    .arg("PX")
                    .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
                    .query(c);
                match set {
                    Ok(()) => {
                        let ms = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(0);
                        self.beat_ms.store(ms.max(1), SeqCst);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "atasker: heartbeat failed; reconnecting");
                        conn = None;
                    }
                }
            } else if stop {
                return;
            }
            // The next beat after a third of the TTL; soon after a failure.
            let wait = if conn.is_some() {
                ttl / 3
            } else {
                Duration::from_millis(100)
            };
            let (lock, cv) = &self.idle;
            drop(
                cv.wait_timeout_while(crate::sync::lock(lock), wait, |stop| !*stop)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
        }
    }

    /// Deletes the heartbeat and, when the node holds nothing, its consumer in each queue
    /// (a consumer's pending entries would go with it: those are left for a reclaim).
    fn leave(&self, c: &mut redis::Connection, key: &str) {
        let _: redis::RedisResult<()> = redis::cmd("DEL").arg(key).query(c);
        let script = redis::Script::new(LEAVE);
        let left: redis::RedisResult<()> = (self.broker.over_queues(&script))
            .arg(broker::GROUP)
            .arg(&self.name)
            .invoke(c);
        if let Err(e) = left {
            tracing::debug!(error = %e, "atasker: the node could not leave its group (a reclaim will)");
        }
    }
}
