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
//! | `ns:z:<fingerprint>` | sorted set | delayed tasks of one build (`<reply stream>\|<task id>`), by due time in ms |
//! | `ns:zp:<fingerprint>` | hash | the entries of those delayed tasks, packed (msgpack) |
//! | `ns:l:<fingerprint>:<task>` | hash | permits of a fleet-wide `limit` held, one field per run (`<node>\|<entry id>`) |
//!
//! A task entry holds `t` (the task's id in its producer), `n` (the static function's name),
//! `r` (the reply stream), `a` (the arguments, bincode), `rt` (how long, in ms, the producer
//! keeps its reply stream: each answer renews that TTL), optionally `to` (the timeout in ms),
//! `d` (how many deliveries ended without an answer), `lm` (a fleet-wide limit) and, for a
//! task with retries, `rn` (retries left), `rb` and `rx` (the backoff's base and cap in ms)
//! and `ra` (runs so far). A reply entry holds `t` and `k`:
//! `s` (started; `t` is then a comma-separated list), `m` (moved: queued again as entry `i`
//! after its node went silent), `o` (a value in `v`) or `e` (an error: `c` its kind, `m` its
//! text). See `wire.rs`.

mod delayed;
mod scripts;
mod streams;

pub(crate) use self::streams::RedisBroker;
use super::link::CallError;
use crate::priority::Priority;
use redis::Value;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The prefix of a delayed task's id (`z:<member>`), before it is moved to its queue
/// (see `delayed.rs`).
pub(crate) const DELAYED: &str = "z:";

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

/// A reply seen without its value: its entry id, the task id it answers, its size in bytes.
pub(crate) type Peeked = (String, String, usize);

/// One task for the queue.
pub(crate) struct Outgoing {
    pub(crate) tid: u64,
    pub(crate) priority: Priority,
    pub(crate) name: &'static str,
    pub(crate) args: Vec<u8>,
    pub(crate) timeout: Option<Duration>,
    /// Queued only this long from now (by the server's clock): it waits in Redis.
    pub(crate) delay: Option<Duration>,
    /// A failed run is run again (by whichever node sees it due): the retries wait in Redis.
    pub(crate) retry: Option<crate::backoff::Retry>,
    /// At most this many runs of its name at once in the whole fleet.
    pub(crate) limit: Option<std::num::NonZeroU32>,
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
    /// Up to `count` replies after `after` in the stream `reply_to`, waiting up to `block`
    /// for one.
    #[allow(clippy::type_complexity)]
    fn replies<'a>(
        &'a self,
        reply_to: &'a str,
        after: &'a str,
        count: usize,
        block: Duration,
    ) -> BoxFut<'a, Result<Vec<(String, std::collections::HashMap<String, Value>)>, CallError>>;
    /// The reply after `after` in `reply_to` without its value: its entry id, the task id
    /// it answers and its size in bytes (for a reply Redis cannot send whole).
    fn peek_reply<'a>(
        &'a self,
        reply_to: &'a str,
        after: &'a str,
    ) -> BoxFut<'a, Result<Option<Peeked>, CallError>>;
    /// Keeps the reply stream `reply_to` alive for the reply TTL (if it exists).
    fn touch_replies<'a>(&'a self, reply_to: &'a str) -> BoxFut<'a, Result<(), CallError>>;
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
        reply_ttl: Option<Duration>,
    ) -> BoxFut<'a, Result<(), CallError>>;
    /// The entries `node` holds that were delivered at least `idle` ago (a delivery whose
    /// answer was lost with a connection: the node never saw it). One whose fields exceed
    /// `most` bytes comes without its arguments, with its size in field `z`.
    fn own_idle<'a>(
        &'a self,
        node: &'a str,
        idle: Duration,
        most: usize,
    ) -> BoxFut<'a, Result<Vec<Taken>, CallError>>;
    /// Puts the entries held by nodes without a heartbeat back in their queue (or fails
    /// them after `max_deliveries`), and forgets those nodes.
    fn reclaim(&self, max_deliveries: u32) -> BoxFut<'_, Result<Reclaimed, CallError>>;
    /// Moves up to `most` delayed tasks whose time has come to their queues (each once,
    /// whichever node asks); returns how many, and how long until the next is due (`None`:
    /// none waits).
    fn promote(&self, most: usize) -> BoxFut<'_, Result<(u64, Option<Duration>), CallError>>;
    /// The taken entry `(priority, id)` goes back for later, after `delay`: its run failed
    /// and it runs again (`retry`), or no permit of its limit was free. It leaves its queue
    /// for the delayed set in one step; `false` if it was gone.
    fn retry_later<'a>(
        &'a self,
        entry: (Priority, &'a str),
        delay: Duration,
        retry: bool,
    ) -> BoxFut<'a, Result<bool, CallError>>;
    /// Takes the permit `token` (`<node>|<entry id>`: one run's) of task `name`'s fleet-wide
    /// `limit` (the permits of nodes without a heartbeat are free), idempotently; `false`:
    /// none is free.
    fn acquire<'a>(
        &'a self,
        name: &'a str,
        token: &'a str,
        limit: u32,
    ) -> BoxFut<'a, Result<bool, CallError>>;
    /// Gives back the permit `token` of `name`'s limit (idempotent).
    fn release<'a>(&'a self, name: &'a str, token: &'a str) -> BoxFut<'a, Result<(), CallError>>;
}
