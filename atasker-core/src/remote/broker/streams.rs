//! [`RedisBroker`]: the [`Broker`] on Redis Streams (the keys are in the parent's table).

use super::scripts::{CANCEL, FINISH, OWN_IDLE, PEEK_REPLY, RECLAIM, TAKE};
use super::{
    BoxFut, Broker, Fields, Outgoing, Peeked, Reclaimed, Taken, DELAYED, GROUP, PRIORITIES,
};
use crate::priority::Priority;
use crate::remote::link::{refusal, CallError, Link};
use redis::streams::StreamReadReply;
use redis::ScriptInvocation;
use redis::Value;
use std::time::Duration;

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
    /// How long a reply stream lives after its last use (see `Settings::reply_ttl`).
    pub(crate) reply_ttl: Duration,
    cancel: redis::Script,
    finish: redis::Script,
    reclaim: redis::Script,
    own_idle: redis::Script,
    peek_reply: redis::Script,
    take_now: redis::Script,
}

impl RedisBroker {
    /// The engine for `settings`, for the tasks of this build.
    pub(crate) fn new(settings: &crate::remote::Settings) -> Self {
        RedisBroker {
            cmd: settings.link(),
            blocking: settings.link(),
            critical: settings.link(),
            namespace: settings.namespace.clone(),
            fingerprint: crate::remote::fingerprint().to_owned(),
            reply_ttl: settings.reply_ttl(),
            cancel: redis::Script::new(CANCEL),
            finish: redis::Script::new(FINISH),
            reclaim: redis::Script::new(RECLAIM),
            own_idle: redis::Script::new(OWN_IDLE),
            peek_reply: redis::Script::new(PEEK_REPLY),
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

    /// The namespace and the build's fingerprint, which the keys of this build carry.
    pub(super) fn build(&self) -> (&str, &str) {
        (&self.namespace, &self.fingerprint)
    }

    pub(super) fn heartbeat_prefix(&self) -> String {
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
            // From `INFO memory`, not `CONFIG` (which managed services and least-privilege
            // users are refused); skipped if even `INFO` is refused.
            let r: Result<String, _> =
                self.cmd
                    .probe(|mut c| async move {
                        redis::cmd("INFO").arg("memory").query_async(&mut c).await
                    })
                    .await;
            let info = r.ok()?;
            let policy = (info.lines())
                .find_map(|l| l.strip_prefix("maxmemory_policy:"))
                .map(str::trim);
            match policy {
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
                let cmd = match t.delay.filter(|d| !d.is_zero()) {
                    Some(d) => self.delay_in(&mut pipe, reply_to, t, d),
                    None => pipe.cmd("XADD").arg(self.queue(t.priority)).arg("*"),
                };
                cmd.arg("t")
                    .arg(t.tid)
                    .arg("n")
                    .arg(t.name)
                    .arg("r")
                    .arg(reply_to)
                    .arg("a")
                    .arg(&t.args[..])
                    .arg("rt")
                    .arg(ms(self.reply_ttl));
                if let Some(to) = t.timeout {
                    cmd.arg("to").arg(ms(to));
                }
                if let Some(n) = t.limit {
                    cmd.arg("lm").arg(n.get());
                }
                if let Some(r) = t.retry {
                    cmd.arg("rn").arg(r.retries).arg("ra").arg(0);
                    cmd.arg("rb")
                        .arg(ms(r.backoff))
                        .arg("rx")
                        .arg(ms(r.backoff_max));
                }
            }
            let replies: Vec<redis::RedisResult<String>> = self
                .cmd
                .call(Duration::ZERO, |mut c| async move {
                    pipe.query_async(&mut c).await
                })
                .await?;
            // A server that cannot take writes (a replica after a failover): every command
            // failed and none went in; the connection is made again and the batch resent.
            if let Some(Err(e)) = replies.first() {
                if replies.iter().all(Result::is_err) {
                    if let CallError::Connection(why) = CallError::of(e.clone()) {
                        self.cmd.invalidate().await;
                        return Err(CallError::Connection(why));
                    }
                }
            }
            Ok(replies
                .into_iter()
                .map(|r| r.map_err(|e| refusal(&e).unwrap_or_else(|| e.to_string())))
                .collect())
        })
    }

    fn cancel<'a>(
        &'a self,
        priority: Priority,
        id: &'a str,
    ) -> BoxFut<'a, Result<bool, CallError>> {
        Box::pin(async move {
            if let Some(member) = id.strip_prefix(DELAYED) {
                return self.cancel_delayed(member).await;
            }
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
        count: usize,
        block: Duration,
    ) -> BoxFut<'a, Result<Vec<(String, std::collections::HashMap<String, Value>)>, CallError>>
    {
        Box::pin(async move {
            let read: Option<StreamReadReply> = self
                .blocking
                .call(block, |mut c| async move {
                    redis::cmd("XREAD")
                        .arg("COUNT")
                        .arg(count)
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

    fn peek_reply<'a>(
        &'a self,
        reply_to: &'a str,
        after: &'a str,
    ) -> BoxFut<'a, Result<Option<Peeked>, CallError>> {
        Box::pin(async move {
            self.cmd
                .call(Duration::ZERO, |mut c| async move {
                    self.peek_reply
                        .key(reply_to)
                        .arg(after)
                        .invoke_async(&mut c)
                        .await
                })
                .await
        })
    }

    fn touch_replies<'a>(&'a self, reply_to: &'a str) -> BoxFut<'a, Result<(), CallError>> {
        Box::pin(async move {
            self.cmd
                .call(Duration::ZERO, |mut c| async move {
                    redis::cmd("PEXPIRE")
                        .arg(reply_to)
                        .arg(ms(self.reply_ttl))
                        .query_async::<()>(&mut c)
                        .await
                })
                .await
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
                if let Some(member) = id.strip_prefix(DELAYED) {
                    self.exists_delayed(&mut pipe, member);
                    continue;
                }
                pipe.cmd("XRANGE")
                    .arg(self.queue(*p))
                    .arg(id)
                    .arg(id)
                    .arg("COUNT")
                    .arg(1);
            }
            let found: Vec<Value> = self
                .cmd
                .call(Duration::ZERO, |mut c| async move {
                    pipe.query_async(&mut c).await
                })
                .await?;
            // An `XRANGE` finds an array (empty: gone), a `ZSCORE` a score (nil: gone).
            let there = |v: &Value| match v {
                Value::Nil => false,
                Value::Array(a) => !a.is_empty(),
                _ => true,
            };
            Ok(found.iter().map(there).collect())
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
                    .ignore()
                    // A notice after its producer deleted the stream makes a new one: it
                    // expires like any reply stream. `NX`: a TTL already there is the
                    // producer's (set by an answer, perhaps before this notice), and stays.
                    .cmd("PEXPIRE")
                    .arg(reply_to)
                    .arg(ms(self.reply_ttl))
                    .arg("NX")
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
        reply_ttl: Option<Duration>,
    ) -> BoxFut<'a, Result<(), CallError>> {
        Box::pin(async move {
            let key = self.queue(priority);
            let ttl = ms(reply_ttl.unwrap_or(self.reply_ttl));
            self.cmd
                .call(Duration::ZERO, |mut c| async move {
                    let mut inv = self.finish.key(key);
                    if let Some(r) = reply_to {
                        inv.key(r);
                    }
                    inv.arg(GROUP).arg(id).arg(ttl);
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
        most: usize,
    ) -> BoxFut<'a, Result<Vec<Taken>, CallError>> {
        Box::pin(async move {
            let found: Vec<(usize, String, Fields)> = self
                .cmd
                .call(Duration::ZERO, |mut c| async move {
                    self.over_queues(&self.own_idle)
                        .arg(GROUP)
                        .arg(node)
                        .arg(ms(idle))
                        .arg(most)
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            Ok(taken(found))
        })
    }

    fn promote(&self, most: usize) -> BoxFut<'_, Result<(u64, Option<Duration>), CallError>> {
        Box::pin(self.promote_due(most))
    }

    fn retry_later<'a>(
        &'a self,
        entry: (Priority, &'a str),
        delay: Duration,
        retry: bool,
    ) -> BoxFut<'a, Result<bool, CallError>> {
        Box::pin(self.retry_in(entry, delay, retry))
    }

    fn acquire<'a>(
        &'a self,
        name: &'a str,
        token: &'a str,
        limit: u32,
    ) -> BoxFut<'a, Result<bool, CallError>> {
        Box::pin(self.acquire_in(name, token, limit))
    }

    fn release<'a>(&'a self, name: &'a str, token: &'a str) -> BoxFut<'a, Result<(), CallError>> {
        Box::pin(self.release_in(name, token))
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
                        .arg(ms(self.reply_ttl))
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            Ok(Reclaimed { requeued, failed })
        })
    }
}
