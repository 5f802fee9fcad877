//! The engine under the cluster: a small trait of ours ([`Broker`]), and its Redis Streams
//! implementation ([`RedisBroker`]).
//!
//! Redis keys, all under the namespace `ns` (default `atasker`):
//!
//! | key | type | what |
//! |---|---|---|
//! | `ns:q:<fingerprint>:<priority>` | stream, group `nodes` | queued tasks of one build and priority |
//! | `ns:r:<producer>` | stream | replies to one submitting process (it alone reads it) |
//! | `ns:hb:<node>` | string, `PX` = node timeout | a node's heartbeat |
//!
//! A task entry holds `t` (the task's id in its producer), `n` (the static function's name),
//! `r` (the reply stream), `a` (the arguments, bincode), optionally `to` (the timeout in ms)
//! and `d` (how many deliveries ended without an answer). A reply entry holds `t` and `k`:
//! `s` (started; `t` is then a comma-separated list), `m` (moved: queued again as entry `i`
//! after its node went silent), `o` (a value in `v`) or `e` (an error: `c` its kind, `m` its
//! text). See `wire.rs`.

use super::link::{CallError, Link};
use crate::priority::Priority;
use redis::streams::StreamReadReply;
use redis::ScriptInvocation;
use redis::Value;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The consumer group every node reads the task streams with.
pub(crate) const GROUP: &str = "nodes";

/// Priorities, highest first (the order nodes take them in).
pub(crate) const PRIORITIES: [Priority; 4] = [
    Priority::Critical,
    Priority::High,
    Priority::Normal,
    Priority::Low,
];

/// An entry's fields as they came.
pub(crate) type Fields = std::collections::HashMap<String, Value>;

/// One task for the queue.
pub(crate) struct Outgoing {
    pub(crate) tid: u64,
    pub(crate) priority: Priority,
    pub(crate) name: &'static str,
    pub(crate) args: Vec<u8>,
    pub(crate) timeout: Option<Duration>,
}

/// One entry a node took from a queue: its id and its fields as they came.
pub(crate) struct Taken {
    pub(crate) priority: Priority,
    pub(crate) id: String,
    pub(crate) fields: std::collections::HashMap<String, Value>,
}

/// What a reclaim did.
#[derive(Default, Debug)]
pub(crate) struct Reclaimed {
    /// Entries of silent nodes put back in their queue.
    pub(crate) requeued: u64,
    /// Entries failed for having been delivered `max_deliveries` times.
    pub(crate) failed: u64,
}

/// The operations the cluster needs from its engine. One implementation today (Redis
/// Streams); the trait keeps the rest of the cluster code free of Redis, so that another
/// engine (NATS JetStream, PostgreSQL) can follow.
pub(crate) trait Broker: Send + Sync + 'static {
    /// A warning about the server's settings, if one applies (Redis: eviction).
    fn settings_warning(&self) -> BoxFut<'_, Option<String>>;
    /// Queues tasks; one result per task (the entry id, or why it was refused).
    fn submit<'a>(
        &'a self,
        reply_to: &'a str,
        batch: &'a [Outgoing],
    ) -> BoxFut<'a, Result<Vec<Result<String, String>>, CallError>>;
    /// Removes a queued task that no node has taken; `true` if it was removed.
    fn cancel<'a>(&'a self, priority: Priority, id: &'a str)
        -> BoxFut<'a, Result<bool, CallError>>;
    /// Replies after `after` in the stream `reply_to`, waiting up to `block` for one.
    #[allow(clippy::type_complexity)]
    fn replies<'a>(
        &'a self,
        reply_to: &'a str,
        after: &'a str,
        block: Duration,
    ) -> BoxFut<'a, Result<Vec<(String, std::collections::HashMap<String, Value>)>, CallError>>;
    /// Drops replies up to and including `upto`, and keeps the reply stream alive for `ttl`.
    fn trim_replies<'a>(
        &'a self,
        reply_to: &'a str,
        upto: &'a str,
        ttl: Duration,
    ) -> BoxFut<'a, Result<(), CallError>>;
    /// Which of `entries` the queues still hold (queued or taken).
    fn exist<'a>(
        &'a self,
        entries: &'a [(Priority, String)],
    ) -> BoxFut<'a, Result<Vec<bool>, CallError>>;
    /// Makes the consumer group of each queue (idempotent).
    fn ensure_groups(&self) -> BoxFut<'_, Result<(), CallError>>;
    /// Takes up to `count[i]` new entries from the queue of `PRIORITIES[i]` for `node`,
    /// waiting up to `block` when none is there (`None`: do not wait).
    fn take<'a>(
        &'a self,
        node: &'a str,
        counts: [usize; 4],
        block: Option<Duration>,
    ) -> BoxFut<'a, Result<Vec<Taken>, CallError>>;
    /// Takes new entries without waiting: from the queues highest first, up to `counts[i]`
    /// for `PRIORITIES[i]` less what higher queues gave (the caps are nested). Their start
    /// notices are sent with them.
    fn take_now<'a>(
        &'a self,
        node: &'a str,
        counts: [usize; 4],
    ) -> BoxFut<'a, Result<Vec<Taken>, CallError>>;
    /// Tells the submitter of each task that it started.
    fn started<'a>(&'a self, notices: &'a [(String, String)]) -> BoxFut<'a, Result<(), CallError>>;
    /// Answers a taken entry (a reply to `reply_to`, if there is one) and acknowledges it.
    fn finish<'a>(
        &'a self,
        priority: Priority,
        id: &'a str,
        reply_to: Option<&'a str>,
        reply: &'a [(&'static str, Vec<u8>)],
    ) -> BoxFut<'a, Result<(), CallError>>;
    /// The entries `node` holds that were delivered at least `idle` ago (a delivery whose
    /// answer was lost with a connection: the node never saw it).
    fn own_idle<'a>(
        &'a self,
        node: &'a str,
        idle: Duration,
    ) -> BoxFut<'a, Result<Vec<Taken>, CallError>>;
    /// Puts the entries held by nodes without a heartbeat back in their queue (or fails
    /// them after `max_deliveries`), and forgets those nodes.
    fn reclaim(&self, max_deliveries: u32) -> BoxFut<'_, Result<Reclaimed, CallError>>;
}

/// How long reply streams live after their last use (a producer that went away).
pub(crate) const REPLY_TTL: Duration = Duration::from_secs(24 * 3600);

/// Removes an entry no consumer holds (atomically: a node cannot take it in between).
const CANCEL: &str = r"
local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[2], ARGV[1], ARGV[1], 1)
if ok and #p > 0 then return 0 end
return redis.call('XDEL', KEYS[1], ARGV[1])
";

/// Acknowledges and deletes a taken entry, and sends its reply (ARGV[4..] are field-value
/// pairs; ARGV[3] the reply stream's TTL in ms; KEYS[2] the reply stream, if any).
/// A reply stream that is not one (a key of another type, named by a malformed entry) is
/// skipped: `redis.pcall`, so that the acknowledgement stands either way.
const FINISH: &str = r"
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if KEYS[2] then
  local r = redis.pcall('XADD', KEYS[2], '*', unpack(ARGV, 4))
  if type(r) == 'table' and r.err then return r.err end
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 'OK'
";

/// For each queue (KEYS): every consumer whose heartbeat key (ARGV[2] .. name) is gone has
/// its pending entries put back at the end of the queue with `d` + 1, or failed with a
/// reply once `d` + 1 reaches ARGV[3]; then the consumer is deleted. ARGV[1]: the group;
/// ARGV[4]: the reply streams' TTL in ms. Replies go through `redis.pcall`: a reply key
/// that is not a stream (a malformed entry's) must not stop the reclaim. Returns
/// {requeued, failed}.
const RECLAIM: &str = r"
local requeued, failed = 0, 0
for _, q in ipairs(KEYS) do
  local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', q, ARGV[1])
  if ok then
    for _, c in ipairs(consumers) do
      local name, pending = nil, 0
      for i = 1, #c, 2 do
        if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = c[i + 1] end
      end
      if name and redis.call('EXISTS', ARGV[2] .. name) == 0 then
        if pending > 0 then
          local held = redis.call('XPENDING', q, ARGV[1], '-', '+', pending, name)
          for _, e in ipairs(held) do
            local id = e[1]
            local r = redis.call('XRANGE', q, id, id)
            if #r > 0 then
              local f = r[1][2]
              local d, reply, tid, out = 0, nil, nil, {}
              for i = 1, #f, 2 do
                if f[i] == 'd' then
                  d = tonumber(f[i + 1]) or 0
                else
                  if f[i] == 'r' then reply = f[i + 1] elseif f[i] == 't' then tid = f[i + 1] end
                  out[#out + 1] = f[i]
                  out[#out + 1] = f[i + 1]
                end
              end
              d = d + 1
              if d >= tonumber(ARGV[3]) then
                if reply and tid then
                  redis.pcall('XADD', reply, '*', 't', tid, 'k', 'e', 'c', 'cluster', 'm',
                    'delivered ' .. d .. ' times; each node that took it stopped or went silent before answering')
                  redis.pcall('PEXPIRE', reply, ARGV[4])
                end
                failed = failed + 1
              else
                out[#out + 1] = 'd'
                out[#out + 1] = tostring(d)
                local moved = redis.call('XADD', q, '*', unpack(out))
                if reply and tid then
                  redis.pcall('XADD', reply, '*', 't', tid, 'k', 'm', 'i', moved)
                  redis.pcall('PEXPIRE', reply, ARGV[4])
                end
                requeued = requeued + 1
              end
            end
            redis.call('XACK', q, ARGV[1], id)
            redis.call('XDEL', q, id)
          end
        end
        redis.call('XGROUP', 'DELCONSUMER', q, ARGV[1], name)
      end
    end
  end
end
return {requeued, failed}
";

/// Takes new entries for consumer ARGV[2] of group ARGV[1] from the queues (KEYS, highest
/// priority first): ARGV[2 + i] is the room for queue i, and the rooms are nested (what a
/// higher queue gives uses the room of every lower one), as the ladder's caps are. Sends
/// each taken entry's start notice in the same call. Returns `{{queue index, id, fields}, …}`.
const TAKE: &str = r"
local out, taken = {}, 0
for i, q in ipairs(KEYS) do
  local n = tonumber(ARGV[2 + i]) - taken
  if n > 0 then
    local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', n, 'STREAMS', q, '>')
    if r then
      for _, e in ipairs(r[1][2]) do
        out[#out + 1] = {i, e[1], e[2]}
        taken = taken + 1
        local f, reply, tid = e[2], nil, nil
        for j = 1, #f, 2 do
          if f[j] == 'r' then reply = f[j + 1] elseif f[j] == 't' then tid = f[j + 1] end
        end
        if reply and tid then redis.pcall('XADD', reply, '*', 't', tid, 'k', 's') end
      end
    end
  end
end
return out
";

/// The entries a consumer (ARGV[2]) holds in each queue (KEYS) that were delivered at
/// least ARGV[3] ms ago, with their fields: `{{queue index, id, fields}, …}`. ARGV[1]: the
/// group.
const OWN_IDLE: &str = r"
local out = {}
for i, q in ipairs(KEYS) do
  local ok, held = pcall(redis.call, 'XPENDING', q, ARGV[1], 'IDLE', ARGV[3], '-', '+', 256, ARGV[2])
  if ok then
    for _, e in ipairs(held) do
      local r = redis.call('XRANGE', q, e[1], e[1])
      if #r > 0 then out[#out + 1] = {i, r[1][1], r[1][2]} end
    end
  end
end
return out
";

/// The Redis Streams engine.
pub(crate) struct RedisBroker {
    /// Commands that answer at once.
    pub(crate) cmd: Link,
    /// Blocking reads (a node's takes, a producer's replies): on their own connection, so
    /// that a `BLOCK` never delays a command.
    pub(crate) blocking: Link,
    /// A node's CRITICAL reads: a connection of their own.
    pub(crate) critical: Link,
    namespace: String,
    fingerprint: String,
    cancel: redis::Script,
    finish: redis::Script,
    reclaim: redis::Script,
    own_idle: redis::Script,
    take_now: redis::Script,
}

impl RedisBroker {
    /// The engine for `settings`, for the tasks of this build.
    pub(crate) fn new(settings: &super::Settings) -> Self {
        RedisBroker {
            cmd: settings.link(),
            blocking: settings.link(),
            critical: settings.link(),
            namespace: settings.namespace.clone(),
            fingerprint: super::fingerprint().to_owned(),
            cancel: redis::Script::new(CANCEL),
            finish: redis::Script::new(FINISH),
            reclaim: redis::Script::new(RECLAIM),
            own_idle: redis::Script::new(OWN_IDLE),
            take_now: redis::Script::new(TAKE),
        }
    }

    pub(crate) fn queue(&self, p: Priority) -> String {
        queue_key(&self.namespace, &self.fingerprint, p)
    }

    /// A call of `script` with every queue as its keys, highest priority first (the order
    /// of `PRIORITIES`, which the scripts' queue indexes count in).
    pub(crate) fn over_queues<'s>(&self, script: &'s redis::Script) -> ScriptInvocation<'s> {
        let mut inv = script.prepare_invoke();
        for p in PRIORITIES {
            inv.key(self.queue(p));
        }
        inv
    }

    fn heartbeat_prefix(&self) -> String {
        format!("{}:hb:", self.namespace)
    }

    /// How many times any of the links connected again.
    pub(crate) fn reconnects(&self) -> u64 {
        use std::sync::atomic::Ordering::SeqCst;
        self.cmd.reconnects.load(SeqCst)
            + self.blocking.reconnects.load(SeqCst)
            + self.critical.reconnects.load(SeqCst)
    }
}

/// The queue of tasks of build `fingerprint` at priority `p`.
pub(crate) fn queue_key(namespace: &str, fingerprint: &str, p: Priority) -> String {
    format!("{namespace}:q:{fingerprint}:{}", p.as_str())
}

/// Entries as the scripts return them: `(queue index from 1, id, fields)`.
fn taken(found: Vec<(usize, String, Fields)>) -> Vec<Taken> {
    found
        .into_iter()
        .filter_map(|(i, id, fields)| {
            Some(Taken {
                priority: *PRIORITIES.get(i.checked_sub(1)?)?,
                id,
                fields,
            })
        })
        .collect()
}

fn priority_of(key: &str) -> Option<Priority> {
    PRIORITIES
        .into_iter()
        .find(|p| key.rsplit(':').next() == Some(p.as_str()))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Broker for RedisBroker {
    fn settings_warning(&self) -> BoxFut<'_, Option<String>> {
        Box::pin(async move {
            let r: Result<Vec<String>, _> = self
                .cmd
                .call(Duration::ZERO, |mut c| async move {
                    redis::cmd("CONFIG")
                        .arg("GET")
                        .arg("maxmemory-policy")
                        .query_async(&mut c)
                        .await
                })
                .await;
            match r.ok()?.get(1).map(String::as_str) {
                Some("noeviction") | None => None,
                Some(policy) => Some(format!(
                    "Redis evicts keys (maxmemory-policy is {policy}): queued tasks and \
                     heartbeats may vanish under memory pressure; set it to noeviction"
                )),
            }
        })
    }

    fn submit<'a>(
        &'a self,
        reply_to: &'a str,
        batch: &'a [Outgoing],
    ) -> BoxFut<'a, Result<Vec<Result<String, String>>, CallError>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.ignore_errors();
            for t in batch {
                let cmd = pipe
                    .cmd("XADD")
                    .arg(self.queue(t.priority))
                    .arg("*")
                    .arg("t")
                    .arg(t.tid)
                    .arg("n")
                    .arg(t.name)
                    .arg("r")
                    .arg(reply_to)
                    .arg("a")
                    .arg(&t.args[..]);
                if let Some(to) = t.timeout {
                    cmd.arg("to").arg(ms(to));
                }
            }
            let replies: Vec<redis::RedisResult<String>> = self
                .cmd
                .call(Duration::ZERO, |mut c| async move {
                    pipe.query_async(&mut c).await
                })
                .await?;
            Ok(replies
                .into_iter()
                .map(|r| r.map_err(|e| e.to_string()))
                .collect())
        })
    }

    fn cancel<'a>(
        &'a self,
        priority: Priority,
        id: &'a str,
    ) -> BoxFut<'a, Result<bool, CallError>> {
        Box::pin(async move {
            let key = self.queue(priority);
            let removed: i64 = self
                .cmd
                .call(Duration::ZERO, |mut c| async move {
                    self.cancel
                        .key(key)
                        .arg(id)
                        .arg(GROUP)
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            Ok(removed > 0)
        })
    }

    fn replies<'a>(
        &'a self,
        reply_to: &'a str,
        after: &'a str,
        block: Duration,
    ) -> BoxFut<'a, Result<Vec<(String, std::collections::HashMap<String, Value>)>, CallError>>
    {
        Box::pin(async move {
            let read: Option<StreamReadReply> = self
                .blocking
                .call(block, |mut c| async move {
                    redis::cmd("XREAD")
                        .arg("COUNT")
                        .arg(4096)
                        .arg("BLOCK")
                        .arg(ms(block))
                        .arg("STREAMS")
                        .arg(reply_to)
                        .arg(after)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            Ok(read
                .into_iter()
                .flat_map(|r| r.keys)
                .flat_map(|k| k.ids)
                .map(|e| (e.id, e.map))
                .collect())
        })
    }

    fn trim_replies<'a>(
        &'a self,
        reply_to: &'a str,
        upto: &'a str,
        ttl: Duration,
    ) -> BoxFut<'a, Result<(), CallError>> {
        Box::pin(async move {
            self.cmd
                .call(Duration::ZERO, |mut c| async move {
                    redis::pipe()
                        .cmd("XTRIM")
                        .arg(reply_to)
                        .arg("MINID")
                        .arg(upto)
                        .ignore()
                        .cmd("XDEL")
                        .arg(reply_to)
                        .arg(upto)
                        .ignore()
                        .cmd("PEXPIRE")
                        .arg(reply_to)
                        .arg(ms(ttl))
                        .ignore()
                        .query_async::<()>(&mut c)
                        .await
                })
                .await
        })
    }

    fn exist<'a>(
        &'a self,
        entries: &'a [(Priority, String)],
    ) -> BoxFut<'a, Result<Vec<bool>, CallError>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            for (p, id) in entries {
                pipe.cmd("XRANGE")
                    .arg(self.queue(*p))
                    .arg(id)
                    .arg(id)
                    .arg("COUNT")
                    .arg(1);
            }
            let found: Vec<Vec<Value>> = self
                .cmd
                .call(Duration::ZERO, |mut c| async move {
                    pipe.query_async(&mut c).await
                })
                .await?;
            Ok(found.iter().map(|f| !f.is_empty()).collect())
        })
    }

    fn ensure_groups(&self) -> BoxFut<'_, Result<(), CallError>> {
        Box::pin(async move {
            for p in PRIORITIES {
                let key = self.queue(p);
                let r: Result<(), CallError> = self
                    .cmd
                    .call(Duration::ZERO, |mut c| async move {
                        redis::cmd("XGROUP")
                            .arg("CREATE")
                            .arg(key)
                            .arg(GROUP)
                            .arg("0")
                            .arg("MKSTREAM")
                            .query_async(&mut c)
                            .await
                    })
                    .await;
                match r {
                    Err(CallError::Server(e)) if e.code() == Some("BUSYGROUP") => {}
                    other => other?,
                }
            }
            Ok(())
        })
    }

    fn take<'a>(
        &'a self,
        node: &'a str,
        counts: [usize; 4],
        block: Option<Duration>,
    ) -> BoxFut<'a, Result<Vec<Taken>, CallError>> {
        Box::pin(async move {
            let chosen: Vec<(Priority, usize)> = PRIORITIES
                .into_iter()
                .zip(counts)
                .filter(|&(_, n)| n > 0)
                .collect();
            let Some(count) = chosen.iter().map(|&(_, n)| n).max() else {
                return Ok(Vec::new());
            };
            let mut cmd = redis::cmd("XREADGROUP");
            cmd.arg("GROUP")
                .arg(GROUP)
                .arg(node)
                .arg("COUNT")
                .arg(count);
            if let Some(b) = block {
                cmd.arg("BLOCK").arg(ms(b));
            }
            cmd.arg("STREAMS");
            for &(p, _) in &chosen {
                cmd.arg(self.queue(p));
            }
            for _ in &chosen {
                cmd.arg(">");
            }
            // CRITICAL alone goes through its own connection (its reader never waits for
            // another's BLOCK).
            let link = if chosen.len() == 1 && chosen[0].0 == Priority::Critical {
                &self.critical
            } else {
                &self.blocking
            };
            let read: Option<StreamReadReply> = link
                .call(block.unwrap_or_default(), |mut c| async move {
                    cmd.query_async(&mut c).await
                })
                .await?;
            let mut out = Vec::new();
            for k in read.into_iter().flat_map(|r| r.keys) {
                let Some(priority) = priority_of(&k.key) else {
                    continue;
                };
                for e in k.ids {
                    out.push(Taken {
                        priority,
                        id: e.id,
                        fields: e.map,
                    });
                }
            }
            Ok(out)
        })
    }

    fn started<'a>(&'a self, notices: &'a [(String, String)]) -> BoxFut<'a, Result<(), CallError>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            for (reply_to, tids) in notices {
                pipe.cmd("XADD")
                    .arg(reply_to)
                    .arg("*")
                    .arg("t")
                    .arg(tids)
                    .arg("k")
                    .arg("s")
                    .ignore();
            }
            self.cmd
                .call(Duration::ZERO, |mut c| async move {
                    pipe.query_async::<()>(&mut c).await
                })
                .await
        })
    }

    fn finish<'a>(
        &'a self,
        priority: Priority,
        id: &'a str,
        reply_to: Option<&'a str>,
        reply: &'a [(&'static str, Vec<u8>)],
    ) -> BoxFut<'a, Result<(), CallError>> {
        Box::pin(async move {
            let key = self.queue(priority);
            self.cmd
                .call(Duration::ZERO, |mut c| async move {
                    let mut inv = self.finish.key(key);
                    if let Some(r) = reply_to {
                        inv.key(r);
                    }
                    inv.arg(GROUP).arg(id).arg(ms(REPLY_TTL));
                    for (f, v) in reply {
                        inv.arg(*f).arg(&v[..]);
                    }
                    let said: String = inv.invoke_async(&mut c).await?;
                    if said != "OK" {
                        // Acknowledged, but the reply stream is not one: nobody to answer.
                        tracing::error!(entry = id, error = %said, "atasker: a task's reply stream is not a stream; the answer is dropped");
                    }
                    Ok(())
                })
                .await
        })
    }

    fn take_now<'a>(
        &'a self,
        node: &'a str,
        counts: [usize; 4],
    ) -> BoxFut<'a, Result<Vec<Taken>, CallError>> {
        Box::pin(async move {
            let found: Vec<(usize, String, Fields)> = self
                .blocking
                .call(Duration::ZERO, |mut c| async move {
                    let mut inv = self.over_queues(&self.take_now);
                    inv.arg(GROUP).arg(node);
                    for n in counts {
                        inv.arg(n);
                    }
                    inv.invoke_async(&mut c).await
                })
                .await?;
            Ok(taken(found))
        })
    }

    fn own_idle<'a>(
        &'a self,
        node: &'a str,
        idle: Duration,
    ) -> BoxFut<'a, Result<Vec<Taken>, CallError>> {
        Box::pin(async move {
            let found: Vec<(usize, String, Fields)> = self
                .cmd
                .call(Duration::ZERO, |mut c| async move {
                    self.over_queues(&self.own_idle)
                        .arg(GROUP)
                        .arg(node)
                        .arg(ms(idle))
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            Ok(taken(found))
        })
    }

    fn reclaim(&self, max_deliveries: u32) -> BoxFut<'_, Result<Reclaimed, CallError>> {
        Box::pin(async move {
            let (requeued, failed): (u64, u64) = self
                .cmd
                .call(Duration::ZERO, |mut c| async move {
                    self.over_queues(&self.reclaim)
                        .arg(GROUP)
                        .arg(self.heartbeat_prefix())
                        .arg(max_deliveries)
                        .arg(ms(REPLY_TTL))
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            Ok(Reclaimed { requeued, failed })
        })
    }
}
