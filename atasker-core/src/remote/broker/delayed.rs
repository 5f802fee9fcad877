//! Durable delays: a remote task with a `delay` waits in Redis, not in its producer, so it
//! runs even if the producer has exited. Its entry is kept in a hash and its due time in a
//! sorted set of its build (keys `ns:z:<fingerprint>` and `ns:zp:<fingerprint>`); any node
//! moves due ones to their queues (`PROMOTE`, one script per batch: each moves once), and
//! the producer learns the new entry id from a move notice, as after a reclaim.

use super::scripts::{ACQUIRE, CANCEL_DELAYED, DELAY, PROMOTE, RELEASE, RETRY};
use super::streams::RedisBroker;
use super::GROUP;
use super::{Outgoing, PRIORITIES};
use crate::priority::Priority;

use crate::remote::link::CallError;
use std::time::Duration;

impl RedisBroker {
    /// The delayed set and the hash of delayed entries of this build.
    pub(super) fn delayed_keys(&self) -> [String; 2] {
        let (ns, fp) = self.build();
        [format!("{ns}:z:{fp}"), format!("{ns}:zp:{fp}")]
    }

    /// Adds to `pipe` the `DELAY` call that puts `t` (with `fields`, its entry's field-value
    /// pairs) off by `delay`; its reply is the id `z:<member>`.
    pub(super) fn delay_in<'p>(
        &self,
        pipe: &'p mut redis::Pipeline,
        reply_to: &str,
        t: &Outgoing,
        delay: Duration,
    ) -> &'p mut redis::Pipeline {
        let [set, hash] = self.delayed_keys();
        let index = queue_index(t.priority);
        let member = format!("{reply_to}|{}", t.tid);
        (pipe.cmd("EVAL").arg(DELAY).arg(2).arg(set).arg(hash))
            .arg(millis(delay))
            .arg(member)
            .arg(index)
    }

    /// Puts the taken entry `id` (of `priority`'s queue) off by `delay`, for another run
    /// (`retry`) or for a permit of its limit (see `RETRY`); `false` if the entry was gone.
    pub(super) async fn retry_in(
        &self,
        (priority, id): (Priority, &str),
        delay: Duration,
        retry: bool,
    ) -> Result<bool, CallError> {
        let [set, hash] = self.delayed_keys();
        let index = queue_index(priority);
        let (queue, ms) = (self.queue(priority), millis(delay));
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(RETRY)
            .arg(3)
            .arg(queue)
            .arg(set)
            .arg(hash)
            .arg(GROUP)
            .arg(id);
        cmd.arg(ms).arg(index).arg(u8::from(retry));
        Ok(self.eval::<i64>(cmd).await? > 0)
    }

    /// The hash of the permits of task `name`'s fleet-wide limit.
    fn permits(&self, name: &str) -> String {
        let (ns, fp) = self.build();
        format!("{ns}:l:{fp}:{name}")
    }

    /// Takes the permit `token` of `name`'s fleet-wide `limit`; `false`: none is free.
    pub(super) async fn acquire_in(
        &self,
        name: &str,
        token: &str,
        limit: u32,
    ) -> Result<bool, CallError> {
        let (key, beats) = (self.permits(name), self.heartbeat_prefix());
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(ACQUIRE)
            .arg(1)
            .arg(key)
            .arg(token)
            .arg(limit)
            .arg(beats);
        Ok(self.eval::<i64>(cmd).await? > 0)
    }

    /// Gives back the permit `token` of `name`'s limit.
    pub(super) async fn release_in(&self, name: &str, token: &str) -> Result<(), CallError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(RELEASE).arg(1).arg(self.permits(name)).arg(token);
        self.eval::<i64>(cmd).await.map(drop)
    }

    /// Removes the delayed task `member` if no node has moved it yet; `true` if removed.
    pub(super) async fn cancel_delayed(&self, member: &str) -> Result<bool, CallError> {
        let [set, hash] = self.delayed_keys();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(CANCEL_DELAYED)
            .arg(2)
            .arg(set)
            .arg(hash)
            .arg(member);
        Ok(self.eval::<i64>(cmd).await? > 0)
    }

    /// Runs one script call (`EVAL`) on the command connection.
    async fn eval<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, CallError> {
        (self.cmd)
            .call(Duration::ZERO, |mut c| async move {
                cmd.query_async(&mut c).await
            })
            .await
    }

    /// Adds to `pipe` a look-up of the delayed task `member`: nil once it is gone.
    pub(super) fn exists_delayed(&self, pipe: &mut redis::Pipeline, member: &str) {
        let [set, _] = self.delayed_keys();
        pipe.cmd("ZSCORE").arg(set).arg(member);
    }

    /// Moves up to `most` due tasks to their queues; returns how many it moved and how long
    /// until the next one is due (`None`: none waits).
    pub(super) async fn promote_due(
        &self,
        most: usize,
    ) -> Result<(u64, Option<Duration>), CallError> {
        let [set, hash] = self.delayed_keys();
        let queues: Vec<String> = PRIORITIES.iter().map(|&p| self.queue(p)).collect();
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(PROMOTE)
            .arg(2 + queues.len())
            .arg(set)
            .arg(hash)
            .arg(&queues)
            .arg(most);
        let (moved, wait): (u64, i64) = self.eval(cmd).await?;
        let wait = u64::try_from(wait).ok().map(Duration::from_millis);
        Ok((moved, wait))
    }
}

/// The index of `p`'s queue in `PRIORITIES`, from 1 (as the scripts count their keys).
fn queue_index(p: Priority) -> usize {
    PRIORITIES.iter().position(|&q| q == p).unwrap_or(2) + 1
}

/// `d` in whole milliseconds (saturating).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
