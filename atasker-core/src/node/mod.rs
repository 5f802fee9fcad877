//! A cluster node: takes remote tasks of its own build, runs them in its process pool and
//! answers them.
//!
//! - Two readers: one for CRITICAL (always, on a connection of its own), one for the other
//!   priorities, which takes only what the pool's ladder would start now, highest first, and
//!   otherwise waits for a slot to free. A reader that finds nothing blocks in `XREADGROUP`
//!   (never polls).
//! - Each task runs as a process-pool task with the arguments' bytes as they came; its
//!   answer and acknowledgement go in one script (`FINISH`), retried until Redis takes them.
//! - A heartbeat thread (a plain thread with a connection of its own, so that busy user code
//!   or a saturated runtime cannot starve it) sets `ns:hb:<name>` with the node timeout as
//!   TTL every third of it. Every node runs `RECLAIM` as often: entries held by nodes whose
//!   heartbeat expired (judged by Redis's clock) go back to their queue.
//! - Every node moves the delayed tasks of its build that are due to their queues
//!   (`delayed.rs`).
//! - Stop: the readers stop taking, running tasks finish and are answered, the heartbeat is
//!   deleted and the node leaves the group.

mod delayed;
mod liveness;
pub(crate) mod zero_setup;

use crate::error::{ClusterError, TaskError};
use crate::pool::ladder::Limits;
use crate::priority::Priority;
use crate::process_pool::registry::{entries, StaticEntry};
use crate::remote::broker::{Broker, RedisBroker, Taken};
use crate::remote::link::{Backoff, CallError};
use crate::remote::{fingerprint, process_name, wire, Settings};
use crate::stats::{NodeStats, Stats};
use crate::supervisor::{spawn_raw, Client, Inner, Spec, Supervisor};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long a reader's `XREADGROUP` blocks (and so, at most, how long a stop waits for it).
const TAKE_BLOCK: Duration = Duration::from_secs(1);

/// How many times a node retries an answer Redis refuses (about a minute with the backoff).
const MAX_REFUSALS: u32 = 30;

/// How many CRITICAL entries one read takes at most.
const CRITICAL_BATCH: usize = 64;

/// A node: this process serving its supervisor's cluster.
pub(crate) struct Node {
    sup: Weak<Inner>,
    settings: Arc<Settings>,
    broker: Arc<RedisBroker>,
    pub(crate) name: String,
    /// Registered static functions by name.
    registry: HashMap<&'static str, (u32, &'static StaticEntry)>,
    limits: Limits,
    /// Of those, tasks not yet finished in the pool: what the ladder's caps count.
    busy: AtomicUsize,
    readers: AtomicUsize,
    /// When the heartbeat was last set (ms since `born`; 0: never). Readers take only while
    /// it is fresh: a node must be alive before it holds anything, and a node whose beats
    /// fail (Redis unreachable from it alone) stops taking what would be taken over anyway.
    beat_ms: AtomicU64,
    born: Instant,
    /// A task ended (a slot may be free), or the node stops.
    freed: tokio::sync::Notify,
    /// `running` and `readers` fell to zero; the heartbeat thread's stop.
    idle: (Mutex<bool>, Condvar),
    served: AtomicU64,
    redelivered: AtomicU64,
    rejected: AtomicU64,
    reclaimed: AtomicU64,
    heartbeat: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Ids of the entries this node runs (taken, not yet answered).
    held: Mutex<std::collections::HashSet<String>>,
    /// The last look at this node's own entries lost its connection (see `recover_own`).
    own_lost: std::sync::atomic::AtomicBool,
    /// Set at the stop: readers drop a read in progress.
    stop: tokio::sync::watch::Sender<bool>,
}

impl Supervisor {
    /// Makes this process a node of the supervisor's cluster: it takes remote tasks of its
    /// own build from Redis and runs them in its process pool, under the same ladder (what
    /// it can start now, highest priority first; CRITICAL at once). Returns once the
    /// node's first heartbeat is in Redis; the node serves until the supervisor stops, and
    /// a [`stop`](Supervisor::stop) lets the tasks it runs finish and be answered first.
    ///
    /// `build()` does not connect: this call does. It checks the server's version and
    /// writes the first heartbeat, retrying a server that is down or starting for the node
    /// timeout (held between 5 s and 30 s). After that the node rides out lost connections by itself
    /// (it connects again after every failure, for ever).
    ///
    /// # Errors
    ///
    /// [`ClusterError::NotConfigured`] without [`SupervisorBuilder::cluster`];
    /// [`ClusterError::AlreadyServing`] on a second call; [`ClusterError::ServerTooOld`]
    /// for a Redis older than 7.0; [`ClusterError::Unavailable`] once the supervisor is
    /// stopped; [`ClusterError::Refused`] at once when Redis refuses the credentials or
    /// the permissions the node needs; [`ClusterError::Unreachable`] when the first
    /// heartbeat cannot be written within the node timeout (held between 5 s and 30 s). It returns
    /// `Ok` only once the node's first heartbeat is in Redis.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().build().unwrap();
    /// assert_eq!(sup.serve_cluster(), Err(atasker::ClusterError::NotConfigured));
    /// ```
    ///
    /// [`ClusterError::NotConfigured`]: crate::ClusterError::NotConfigured
    /// [`ClusterError::AlreadyServing`]: crate::ClusterError::AlreadyServing
    /// [`ClusterError::ServerTooOld`]: crate::ClusterError::ServerTooOld
    /// [`ClusterError::Unavailable`]: crate::ClusterError::Unavailable
    /// [`ClusterError::Refused`]: crate::ClusterError::Refused
    /// [`ClusterError::Unreachable`]: crate::ClusterError::Unreachable
    /// [`SupervisorBuilder::cluster`]: crate::SupervisorBuilder::cluster
    pub fn serve_cluster(&self) -> Result<(), ClusterError> {
        let inner = &self.inner;
        let Some(settings) = inner.cluster_settings() else {
            return Err(ClusterError::NotConfigured);
        };
        if self.is_stopped() {
            return Err(ClusterError::Unavailable(
                "the supervisor is stopped".into(),
            ));
        }
        if inner.has_node() {
            return Err(ClusterError::AlreadyServing);
        }
        let name = process_name();
        liveness::first_beat(settings, &name)?;
        let handle = inner
            .handle()
            .map_err(|e| ClusterError::Unavailable(e.to_string()))?;
        let node = Node::new(inner, settings.clone(), name);
        if !inner.set_node(node.clone()) {
            return Err(ClusterError::AlreadyServing);
        }
        node.start(handle);
        Ok(())
    }
}

impl Node {
    fn new(inner: &Arc<Inner>, settings: Arc<Settings>, name: String) -> Arc<Node> {
        let broker = Arc::new(RedisBroker::new(&settings));
        let registry = entries()
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((e.name, (u32::try_from(i).ok()?, e))))
            .collect();
        Arc::new(Node {
            sup: Arc::downgrade(inner),
            broker,
            name,
            registry,
            limits: inner.process_limits(),
            settings,
            busy: AtomicUsize::new(0),
            readers: AtomicUsize::new(0),
            beat_ms: AtomicU64::new(0),
            born: Instant::now(),
            freed: tokio::sync::Notify::new(),
            idle: (Mutex::new(false), Condvar::new()),
            served: AtomicU64::new(0),
            redelivered: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            reclaimed: AtomicU64::new(0),
            heartbeat: Mutex::new(None),
            held: Mutex::new(std::collections::HashSet::new()),
            own_lost: std::sync::atomic::AtomicBool::new(false),
            stop: tokio::sync::watch::Sender::new(false),
        })
    }

    fn start(self: &Arc<Self>, handle: &tokio::runtime::Handle) {
        tracing::info!(node = %self.name, redis = %self.settings.shown, namespace = %self.settings.namespace, build = fingerprint(), "atasker: serving the cluster");
        let me = self.clone();
        let beat = std::thread::Builder::new()
            .name("atasker-heartbeat".into())
            .spawn(move || me.heartbeat_loop());
        match beat {
            Ok(h) => *crate::sync::lock(&self.heartbeat) = Some(h),
            Err(e) => {
                tracing::error!(error = %e, "atasker: cannot start the node's heartbeat thread; the node does not serve");
                return;
            }
        }
        self.readers.fetch_add(2, SeqCst);
        let me = self.clone();
        handle.spawn(async move {
            // The queues of a first start are made before the readers read them.
            if let Err(e) = me.broker.ensure_groups().await {
                tracing::debug!(error = %e, "atasker: the task queues are not made yet; the readers will");
            }
            tokio::spawn(me.clone().take_loop(true));
            me.take_loop(false).await;
        });
        handle.spawn(self.clone().reclaim_loop());
        handle.spawn(self.clone().promote_loop());
    }

    pub(crate) fn stats(&self) -> NodeStats {
        NodeStats {
            name: self.name.clone(),
            served: self.served.load(SeqCst),
            redelivered: self.redelivered.load(SeqCst),
            running: self.busy.load(SeqCst) as u64,
            answering: self.running().saturating_sub(self.busy.load(SeqCst)) as u64,
            rejected: self.rejected.load(SeqCst),
            reclaimed: self.reclaimed.load(SeqCst),
            reconnects: self.broker.reconnects(),
        }
    }

    /// Whether the last heartbeat is younger than two thirds of the node timeout (so that it
    /// still holds for at least a third).
    fn alive(&self) -> bool {
        let beat = self.beat_ms.load(SeqCst);
        let now = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        let fresh = u64::try_from((self.settings.node_timeout * 2 / 3).as_millis()).unwrap_or(0);
        beat != 0 && now.saturating_sub(beat) < fresh
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Tasks taken and not yet answered (a stop waits for them).
    fn running(&self) -> usize {
        crate::sync::lock(&self.held).len()
    }

    /// How many entries of each priority (in `PRIORITIES` order) the pool would start now.
    fn counts(&self, critical: bool) -> [usize; 4] {
        if critical {
            return [CRITICAL_BATCH, 0, 0, 0];
        }
        let busy = self.busy.load(SeqCst);
        let free = |p: Priority| self.limits.cap(p).saturating_sub(busy);
        [
            0,
            free(Priority::High),
            free(Priority::Normal),
            free(Priority::Low),
        ]
    }

    async fn take_loop(self: Arc<Self>, critical: bool) {
        let mut backoff = Backoff::new();
        // Whether a read found the queues: only then is a missing one data lost.
        let mut had_queues = false;
        while !self.stopping() {
            if !self.alive() {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let counts = self.counts(critical);
            if counts.iter().all(|&n| n == 0) {
                // Full: wait for a slot (or the stop).
                let _ = tokio::time::timeout(TAKE_BLOCK, self.freed.notified()).await;
                continue;
            }
            let take = async {
                if critical {
                    (self.broker.take(&self.name, counts, Some(TAKE_BLOCK)).await)
                        .map(|t| (t, true))
                } else {
                    self.take_highest_first(counts).await
                }
            };
            // A stop does not wait for a read that cannot finish (Redis unreachable). What a
            // dropped read was given stays held by this node in Redis: the heartbeat goes
            // with the stop, and another node takes it over.
            let mut stop = self.stop.subscribe();
            let taken = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                taken = take => taken,
            };
            match taken {
                Ok((entries, notify)) => {
                    backoff.reset();
                    had_queues = true;
                    self.start_all(entries, notify);
                }
                Err(e) if e.is_nogroup() => {
                    if std::mem::take(&mut had_queues) {
                        tracing::warn!(node = %self.name, "atasker: the task queues are gone from Redis (its data was lost?); making them again");
                    }
                    if self.broker.ensure_groups().await.is_err() {
                        backoff.wait().await;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "atasker: taking tasks failed; retrying");
                    backoff.wait().await;
                }
            }
        }
        if self.readers.fetch_sub(1, SeqCst) == 1 {
            self.notify_idle();
        }
    }

    /// One entry-taking round for HIGH, NORMAL, LOW: the queues highest first in one script
    /// (what the caps allow, start notices sent), then, if all were empty, one blocking read
    /// over those with room (whose notices are still to send: `true`).
    async fn take_highest_first(
        &self,
        counts: [usize; 4],
    ) -> Result<(Vec<Taken>, bool), CallError> {
        let got = self.broker.take_now(&self.name, counts).await?;
        if !got.is_empty() {
            return Ok((got, false));
        }
        let got = self
            .broker
            .take(&self.name, counts, Some(TAKE_BLOCK))
            .await?;
        Ok((got, true))
    }

    /// Starts `entries`, and sends their start notices if `notify`.
    fn start_all(self: &Arc<Self>, entries: Vec<Taken>, notify: bool) {
        let mut notices: HashMap<String, Vec<String>> = HashMap::new();
        for t in entries {
            self.start_one(t, &mut notices);
        }
        if notices.is_empty() || !notify {
            return;
        }
        let notices: Vec<(String, String)> = notices
            .into_iter()
            .map(|(r, tids)| (r, tids.join(",")))
            .collect();
        // Best effort, and off the taking path: a lost notice only delays the submitter's
        // `running` count.
        let broker = self.broker.clone();
        tokio::spawn(async move {
            if let Err(e) = broker.started(&notices).await {
                tracing::debug!(error = %e, "atasker: start notices not sent");
            }
        });
    }

    /// Starts entry `t` as a process-pool task, unless it runs here already; its start
    /// notice joins `notices` (by reply stream), its answer goes out when it ends.
    fn start_one(self: &Arc<Self>, t: Taken, notices: &mut HashMap<String, Vec<String>>) {
        if !crate::sync::lock(&self.held).insert(t.id.clone()) {
            return; // Runs here already.
        }
        let task = match wire::incoming(&t.fields) {
            Ok(task) => task,
            Err(why) => return self.reject(&t, format!("a malformed task entry: {why}")),
        };
        let Some(&(index, entry)) = self.registry.get(task.name.as_str()) else {
            let why = format!("no static task `{}` in this node's build", task.name);
            return self.reject(&t, why);
        };
        let Some(inner) = self.sup.upgrade() else {
            crate::sync::lock(&self.held).remove(&t.id);
            return;
        };
        let sup = Supervisor { inner };
        if task.deliveries > 0 {
            self.redelivered.fetch_add(1, SeqCst);
        }
        self.busy.fetch_add(1, SeqCst);
        notices
            .entry(task.reply_to.clone())
            .or_default()
            .push(task.tid.clone());
        let spec = Spec {
            name: entry.name,
            priority: t.priority,
            timeout: task.timeout,
            // Admitted while a stop lets running work finish: the node took it.
            for_worker: true,
            ..Spec::new(&sup)
        };
        let ran = delayed::Ran {
            priority: t.priority,
            id: t.id,
            address: Some((task.reply_to, task.tid)),
            reply_ttl: task.reply_ttl,
            retry: task.retry,
        };
        if let Some(n) = task.limit {
            // A fleet-wide limit: the run starts once a permit is taken.
            return self.start_limited((index, task.args, entry.name, n), (spec, ran));
        }
        let run = spawn_raw(spec, index, task.args);
        tokio::spawn(self.clone().after_run(run, ran));
    }

    /// Answers entry `t`, which this node cannot run, with the error `why` (and acknowledges it).
    pub(super) fn reject(self: &Arc<Self>, t: &Taken, why: String) {
        let address = wire::reply_address(&t.fields);
        tracing::error!(entry = %t.id, node = %self.name, error = %why, "atasker: a task entry this node cannot run; acknowledged");
        self.rejected.fetch_add(1, SeqCst);
        let me = self.clone();
        let (priority, id) = (t.priority, t.id.clone());
        tokio::spawn(async move {
            me.answer(priority, &id, address, Err(TaskError::Cluster(why)), None)
                .await;
            me.ended(&id);
        });
    }

    /// Entry `id` was answered: it is no longer held, and a stop or a reader waiting for a
    /// free slot is told.
    fn ended(&self, id: &str) {
        let left = {
            let mut held = crate::sync::lock(&self.held);
            held.remove(id);
            held.len()
        };
        if left == 0 && self.stopping() {
            self.notify_idle();
        }
        self.freed.notify_waiters();
        self.freed.notify_one();
    }

    /// Answers and acknowledges entry `id`, retrying until Redis takes it; `false`: given
    /// up after Redis refused it for about a minute. The answer renews the reply stream's
    /// TTL: `reply_ttl`, its producer's (`None`: this node's).
    pub(super) async fn answer(
        &self,
        priority: Priority,
        id: &str,
        address: Option<(String, String)>,
        result: Result<Vec<u8>, TaskError>,
        reply_ttl: Option<Duration>,
    ) -> bool {
        let mut reply = wire::reply(result);
        let reply_to = address.map(|(r, tid)| {
            reply.push(("t", tid.into_bytes()));
            r
        });
        let mut backoff = Backoff::new();
        let mut refusals = 0;
        loop {
            match self
                .broker
                .finish(priority, id, reply_to.as_deref(), &reply, reply_ttl)
                .await
            {
                Ok(()) => return true,
                // Out of memory, say: worth a minute of retries; then the entry stays held
                // (answered by nobody) rather than the slot being lost for good.
                Err(e @ (CallError::Server(_) | CallError::Config(_))) => {
                    refusals += 1;
                    if refusals >= MAX_REFUSALS {
                        tracing::error!(entry = id, node = %self.name, error = %e, "atasker: Redis keeps refusing a task's answer; given up");
                        return false;
                    }
                    tracing::warn!(entry = id, error = %e, "atasker: Redis refused a task's answer; retrying");
                }
                Err(CallError::Connection(_)) => {}
            }
            backoff.wait().await;
        }
    }

    fn notify_idle(&self) {
        let (lock, cv) = &self.idle;
        let _g = crate::sync::lock(lock);
        cv.notify_all();
    }

    fn wait(&self, deadline: Option<Instant>, done: impl Fn() -> bool) -> bool {
        let (lock, cv) = &self.idle;
        let mut g = crate::sync::lock(lock);
        while !done() {
            let step = Duration::from_millis(50);
            let step = deadline.map_or(step, |d| {
                step.min(d.saturating_duration_since(Instant::now()))
            });
            if step.is_zero() {
                return false;
            }
            g = cv
                .wait_timeout(g, step)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        true
    }
}

/// The node as its supervisor's stop sees it.
impl Client for Node {
    /// Stops taking tasks and waits (until `deadline`) for the readers to end, so that
    /// nothing is taken after this returns.
    fn stop_taking(&self, deadline: Option<Instant>) {
        self.stop.send_replace(true);
        self.freed.notify_waiters();
        self.wait(deadline, || self.readers.load(SeqCst) == 0);
    }

    /// Waits (until `deadline`, and at most a node timeout: answers that cannot reach Redis
    /// are not waited for for ever) for the running tasks' answers to be sent, then ends the
    /// heartbeat and leaves the group where it holds nothing (what it still holds is taken
    /// over by another node once the heartbeat is gone).
    fn finish(&self, deadline: Option<Instant>) {
        let most = crate::sync::after(self.settings.node_timeout);
        let deadline = match (deadline, most) {
            (Some(d), Some(m)) => Some(d.min(m)),
            (d, m) => d.or(m),
        };
        if !self.wait(deadline, || self.running() == 0) {
            tracing::error!(node = %self.name, unanswered = self.running(), "atasker: the node stops with answers Redis did not take; their tasks go to another node");
        }
        {
            let (lock, cv) = &self.idle;
            *crate::sync::lock(lock) = true;
            cv.notify_all();
        }
        if let Some(h) = crate::sync::lock(&self.heartbeat).take() {
            let _ = h.join();
        }
        tracing::info!(node = %self.name, "atasker: the node stopped serving");
    }

    fn report(&self, stats: &mut Stats) {
        stats.node = Some(self.stats());
    }
}
