//! How a node proves it is alive and takes over from nodes that are not: the heartbeat
//! thread, the reclaim loop, and the recovery of entries delivered over a lost connection.

use super::{Node, TAKE_BLOCK};
use crate::error::ClusterError;
use crate::remote::broker::{self, Broker, Taken};
use crate::remote::link::CallError;
use crate::remote::{fingerprint, wire, Settings};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest entry a node asks for whole after a look at its own entries lost its
/// connection: 256 KiB.
const WHOLE: usize = 256 << 10;

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
    /// running here. After a look that lost its connection, entries over [`WHOLE`] bytes
    /// come without their arguments: Redis closed the connection rather than send them (its
    /// `client-output-buffer-limit`), and they fail instead of running.
    async fn recover_own(self: &Arc<Self>) {
        let idle = self.settings.call_deadline() + TAKE_BLOCK + Duration::from_secs(1);
        let most = if self.own_lost.load(SeqCst) {
            WHOLE
        } else {
            usize::MAX
        };
        let found = match self.broker.own_idle(&self.name, idle, most).await {
            Ok(found) => found,
            Err(e) => {
                // Only while the heartbeat reaches Redis: a lost connection in an outage
                // says nothing about the entries.
                let lost = matches!(e, CallError::Connection(_)) && self.alive();
                self.own_lost.store(lost, SeqCst);
                return;
            }
        };
        self.own_lost.store(false, SeqCst);
        let (too_big, lost): (Vec<Taken>, Vec<Taken>) = {
            let held = crate::sync::lock(&self.held);
            found
                .into_iter()
                .filter(|t| !held.contains(&t.id))
                .partition(|t| t.fields.contains_key("z"))
        };
        for t in too_big {
            let size = wire::text(&t.fields, "z").unwrap_or_default();
            let why = format!("the task's entry is {size} bytes, more than Redis sends this node (its client-output-buffer-limit): raise that limit, or lower cluster_max_payload");
            self.reject(&t, why);
        }
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
        // Woken by a stop only: a freed slot's wake-up (`freed`) is the readers'.
        let mut stop = self.stop.subscribe();
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
                        tracing::warn!(node = %self.name, requeued = r.requeued, failed = r.failed, "atasker: tasks of silent nodes queued again (or failed after max_deliveries)");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "atasker: reclaim failed; retrying"),
                }
            }
            let _ = tokio::time::timeout(every, stop.wait_for(|stopped| *stopped)).await;
        }
    }

    /// The heartbeat thread: sets `ns:hb:<node>` with the node timeout as TTL every third
    /// of it (on a connection of its own), and leaves the group when the node stops. A lost
    /// Redis, its return and a refusal are each said once.
    pub(super) fn heartbeat_loop(self: Arc<Self>) {
        let key = heartbeat_key(&self.settings, &self.name);
        let mut conn: Option<redis::Connection> = None;
        // While beats fail: whether Redis refuses them (else it is out of reach).
        let mut failing: Option<bool> = None;
        loop {
            let stop = *crate::sync::lock(&self.idle.0);
            if stop {
                if conn.is_none() {
                    conn = connect(&self.settings).ok();
                }
                if let Some(c) = conn.as_mut() {
                    self.leave(c, &key);
                }
                return;
            }
            match beat(&self.settings, &key, &mut conn) {
                Ok(()) => {
                    let ms = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(0);
                    self.beat_ms.store(ms.max(1), SeqCst);
                    if failing.take().is_some() {
                        tracing::info!(node = %self.name, "atasker: the node's heartbeat is in Redis again");
                    }
                }
                Err(e) => {
                    // Said once per outage (and again if it turns into a refusal).
                    let refused = matches!(e, CallError::Config(_));
                    if failing != Some(refused) {
                        if refused {
                            tracing::error!(node = %self.name, error = %e, "atasker: Redis refuses the node's heartbeat; other nodes will take its tasks");
                        } else {
                            tracing::warn!(node = %self.name, error = %e, "atasker: the node lost Redis; its heartbeat retries");
                        }
                        failing = Some(refused);
                    }
                }
            }
            // The next beat after a third of the TTL; soon after a failure.
            let wait = if failing.is_none() {
                self.settings.node_timeout / 3
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

/// The heartbeat key of node `name`.
fn heartbeat_key(settings: &Settings, name: &str) -> String {
    format!("{}:hb:{name}", settings.namespace)
}

/// A connection of the heartbeat's own, with the call deadline on every read and write.
fn connect(settings: &Settings) -> Result<redis::Connection, CallError> {
    let t = settings.call_deadline();
    let open = || -> redis::RedisResult<redis::Connection> {
        let c = settings.client.get_connection_with_timeout(t)?;
        c.set_read_timeout(Some(t))?;
        c.set_write_timeout(Some(t))?;
        Ok(c)
    };
    open().map_err(CallError::of)
}

/// One heartbeat on `conn` (made first if there is none; dropped after a failure).
fn beat(
    settings: &Settings,
    key: &str,
    conn: &mut Option<redis::Connection>,
) -> Result<(), CallError> {
    if conn.is_none() {
        *conn = Some(connect(settings)?);
    }
    let Some(c) = conn.as_mut() else {
        return Ok(());
    };
    let ttl = u64::try_from(settings.node_timeout.as_millis()).unwrap_or(u64::MAX);
    let set: redis::RedisResult<()> = redis::cmd("SET")
        .arg(key)
        .arg(fingerprint())
        .arg("PX")
        .arg(ttl)
        .query(c);
    set.map_err(|e| {
        *conn = None;
        CallError::of(e)
    })
}

/// Before a node says it serves: checks the server's version and writes the first
/// heartbeat of node `name`, retrying what may pass (Redis starting, a lost connection)
/// for the node timeout (at least 5 s, at most 30 s). A refusal (credentials, permissions) is an error
/// at once, by its name.
pub(super) fn first_beat(settings: &Settings, name: &str) -> Result<(), ClusterError> {
    let patience = settings
        .node_timeout
        .clamp(Duration::from_secs(5), Duration::from_secs(30));
    let until = crate::sync::after(patience);
    let key = heartbeat_key(settings, name);
    let mut conn = None;
    let mut pause = Duration::from_millis(50);
    loop {
        let tried = connect(settings).and_then(|mut c| {
            let version = server_version(&mut c)?;
            if let Some(v) = version.filter(|v| major(v).is_some_and(|m| m < 7)) {
                return Ok(Err(ClusterError::ServerTooOld(v)));
            }
            conn = Some(c);
            beat(settings, &key, &mut conn).map(Ok)
        });
        match tried {
            Ok(result) => return result,
            Err(CallError::Config(why)) => return Err(ClusterError::Refused(why)),
            Err(e) if until.is_some_and(|u| Instant::now() >= u) => {
                let why = format!("Redis at {}: {e}", settings.shown);
                return Err(ClusterError::Unreachable(why));
            }
            Err(_) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// The major number of version `v` (`7` of `7.2.4`).
fn major(v: &str) -> Option<u32> {
    v.split('.').next()?.parse().ok()
}

/// The server's version (`None` if `INFO` does not say it).
fn server_version(c: &mut redis::Connection) -> Result<Option<String>, CallError> {
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query(c)
        .map_err(CallError::of)?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(|v| v.trim().to_owned()))
}
