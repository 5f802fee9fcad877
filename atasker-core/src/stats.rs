//! Counters and their serializable snapshots.

use crate::priority::Priority;
use crate::task::{Outcome, PoolKind};
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::ptr::NonNull;
use std::sync::atomic::{
    AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Monotonic counters: each task transition bumps exactly one, and `queued`/`running` are
/// derived, so that every snapshot satisfies
/// `submitted = queued + running + completed + failed + cancelled` exactly.
///
/// Tasks start on one thread and end on another: the counters are striped over
/// [`STRIPES`] cache lines, a thread writing to its own, and added up when read.
#[derive(Default)]
struct Counters {
    stripes: [CounterStripe; STRIPES],
}

/// One stripe of [`Counters`], alone on its cache line(s).
#[derive(Default)]
#[repr(align(128))]
struct CounterStripe {
    submitted: AtomicU64,
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    /// Cancelled while queued.
    cancelled_queued: AtomicU64,
    /// Cancelled while running.
    cancelled_running: AtomicU64,
    max_wait_ns: AtomicU64,
}

impl Counters {
    /// The calling thread's stripe.
    fn mine(&self) -> &CounterStripe {
        &self.stripes[stripe_index()]
    }

    /// One counter added up over the stripes.
    fn sum(&self, counter: fn(&CounterStripe) -> &AtomicU64) -> u64 {
        self.stripes.iter().map(|s| counter(s).load(SeqCst)).sum()
    }

    fn snapshot(&self) -> PriorityStats {
        self.read(64)
    }

    /// The running and queued counts, from at most three readings (for gauges set on every
    /// task event, where the full snapshot's 64 would cost too much).
    fn load(&self) -> (u64, u64) {
        let s = self.read(2);
        (s.running, s.queued)
    }

    /// A snapshot from up to `1 + retries` readings (see [`Counters::snapshot`]).
    fn read(&self, retries: usize) -> PriorityStats {
        // Downstream counters first: whatever moves on meanwhile only raises the upstream
        // ones read later, so the derived counts never go negative. (Each task bumps its
        // upstream counter before its downstream one, in that order as seen by any thread.)
        // Read until two readings agree: then every counter held its value at the instant
        // between them (they only grow), a true snapshot, so that tasks moving on while the
        // stripes are read do not show as running or queued. Under constant churn, the last
        // of 64 readings.
        let read = || {
            [
                self.sum(|s| &s.completed),
                self.sum(|s| &s.failed),
                self.sum(|s| &s.cancelled_running),
                self.sum(|s| &s.started),
                self.sum(|s| &s.cancelled_queued),
                self.sum(|s| &s.submitted),
            ]
        };
        let mut now = read();
        for _ in 0..retries {
            let again = read();
            if again == now {
                break;
            }
            now = again;
        }
        let [completed, failed, cancelled_running, started, cancelled_queued, submitted] = now;
        let max_wait_ns = self
            .stripes
            .iter()
            .map(|s| s.max_wait_ns.load(Relaxed))
            .max()
            .unwrap_or(0);
        PriorityStats {
            submitted,
            queued: submitted - started - cancelled_queued,
            running: started - completed - failed - cancelled_running,
            completed,
            failed,
            cancelled: cancelled_queued + cancelled_running,
            max_wait: Duration::from_nanos(max_wait_ns),
        }
    }
}

/// The calling thread's stripe of striped counters (fixed for the thread's life).
fn stripe_index() -> usize {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Relaxed) as usize % STRIPES;
    }
    MINE.with(|m| *m)
}

pub(crate) struct StatsCells {
    pools: [[Counters; 4]; crate::task::POOLS],
    /// Per task name; a task looks its name up once, when it is made.
    names: RwLock<Names>,
    /// Unique in the process (never reused, unlike an address): keys the per-thread cache
    /// of the last name looked up.
    id: u64,
}

impl Default for StatsCells {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StatsCells {
            pools: Default::default(),
            names: Default::default(),
            id: NEXT.fetch_add(1, Relaxed),
        }
    }
}

/// The per-name counters, found by the name's address (a name is a `&'static str`: one
/// literal, one address) and, the first time an address is seen, by its text (two literals
/// of one name share their counters). Never shrinks: see [`NameRef`].
#[derive(Default)]
struct Names {
    by_address: HashMap<(usize, usize), Arc<NameCells>, BuildHasherDefault<AddressHash>>,
    by_text: BTreeMap<&'static str, Arc<NameCells>>,
}

/// Hashes a name's address and length (a multiply-rotate mix: no text is read).
#[derive(Default)]
struct AddressHash(u64);

impl Hasher for AddressHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A task's reference to the counters of its name, without a reference count: the counters
/// live in their supervisor's [`Names`], which never shrinks, and every task keeps its
/// supervisor alive (its header holds it), so they outlive the task.
#[derive(Clone, Copy)]
pub(crate) struct NameRef(NonNull<NameCells>);

// SAFETY: `NameCells` is atomics and `OnceLock`s, safe to share between threads; the pointee
// outlives every `NameRef` to it (see the type's docs).
unsafe impl Send for NameRef {}
// SAFETY: as above.
unsafe impl Sync for NameRef {}

impl NameRef {
    /// The counters of no name: for refused tasks, which count nowhere.
    pub(crate) fn uncounted() -> NameRef {
        static UNCOUNTED: OnceLock<NameCells> = OnceLock::new();
        NameRef(NonNull::from(UNCOUNTED.get_or_init(NameCells::default)))
    }
}

impl std::ops::Deref for NameRef {
    type Target = NameCells;

    fn deref(&self) -> &NameCells {
        // SAFETY: the pointee outlives every `NameRef` (see the type's docs).
        unsafe { self.0.as_ref() }
    }
}

impl StatsCells {
    /// The counters of the tasks named `name`.
    pub(crate) fn name(&self, name: &'static str) -> NameRef {
        /// The calling thread's last lookup: (stats id, name address, length) and its
        /// counters. A thread spawning many tasks mostly spawns the same one.
        type Last = std::cell::Cell<Option<(u64, usize, usize, NameRef)>>;
        thread_local! {
            static LAST: Last = const { std::cell::Cell::new(None) };
        }
        let address = (name.as_ptr() as usize, name.len());
        if let Some((id, ptr, len, found)) = LAST.with(Last::get) {
            if (id, ptr, len) == (self.id, address.0, address.1) {
                return found;
            }
        }
        let found = self.lookup(name, address);
        LAST.with(|last| last.set(Some((self.id, address.0, address.1, found))));
        found
    }

    /// [`name`](StatsCells::name) without the per-thread cache.
    fn lookup(&self, name: &'static str, address: (usize, usize)) -> NameRef {
        let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = names.by_address.get(&address) {
            return NameRef(NonNull::from(&**c));
        }
        drop(names);
        let mut names = self.names.write().unwrap_or_else(PoisonError::into_inner);
        let cells = names.by_text.entry(name).or_default().clone();
        let cells = names.by_address.entry(address).or_insert(cells);
        NameRef(NonNull::from(&**cells))
    }

    /// The per-name counters, in name order.
    pub(crate) fn tasks(&self) -> BTreeMap<String, TaskStats> {
        let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
        names
            .by_text
            .iter()
            .map(|(name, c)| ((*name).to_owned(), c.snapshot()))
            .collect()
    }

    /// Sets the running and queued gauges of `pool` and `p` (with the `metrics` feature).
    pub(crate) fn export_load(&self, pool: PoolKind, p: Priority) {
        if crate::metrics::ENABLED {
            let (running, queued) = self.at(pool, p).load();
            crate::metrics::load(pool, p, running, queued);
        }
    }

    fn at(&self, pool: PoolKind, p: Priority) -> &Counters {
        &self.pools[pool.index()][p.index()]
    }

    /// A task was accepted; it is queued (or, with `running`, started at once).
    pub(crate) fn submitted(&self, pool: PoolKind, p: Priority, running: bool) {
        let c = self.at(pool, p).mine();
        c.submitted.fetch_add(1, SeqCst);
        if running {
            c.started.fetch_add(1, SeqCst);
        }
    }

    pub(crate) fn started(&self, pool: PoolKind, p: Priority, waited: Duration) {
        let c = self.at(pool, p).mine();
        c.started.fetch_add(1, SeqCst);
        if !waited.is_zero() {
            let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
            c.max_wait_ns.fetch_max(ns, Relaxed);
        }
    }

    pub(crate) fn finished(
        &self,
        pool: PoolKind,
        p: Priority,
        was_running: bool,
        outcome: Outcome,
    ) {
        let c = self.at(pool, p).mine();
        match (outcome, was_running) {
            (Outcome::Completed, _) => &c.completed,
            (Outcome::Failed | Outcome::TimedOut, _) => &c.failed,
            (Outcome::Cancelled, false) => &c.cancelled_queued,
            (Outcome::Cancelled, true) => &c.cancelled_running,
        }
        .fetch_add(1, SeqCst);
    }

    pub(crate) fn snapshot(&self, pool: PoolKind) -> PoolStats {
        let s = |p: Priority| self.at(pool, p).snapshot();
        PoolStats {
            low: s(Priority::Low),
            normal: s(Priority::Normal),
            high: s(Priority::High),
            critical: s(Priority::Critical),
        }
    }
}

/// Counts for one priority of one pool.
///
/// `submitted = queued + running + completed + failed + cancelled` holds in every snapshot
/// (tasks that timed out count as failed; a delayed task counts as queued while it waits).
///
/// ```
/// let sup = atasker::Supervisor::builder().build().unwrap();
/// sup.task().spawn(|| ()).wait().unwrap();
/// let s = sup.stats().threads.normal;
/// assert_eq!((s.submitted, s.completed), (1, 1));
/// assert_eq!(s.submitted, s.queued + s.running + s.completed + s.failed + s.cancelled);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PriorityStats {
    /// Tasks accepted.
    pub submitted: u64,
    /// Tasks waiting for a slot (or for their delay).
    pub queued: u64,
    /// Tasks running.
    pub running: u64,
    /// Tasks that returned a value.
    pub completed: u64,
    /// Tasks that panicked, timed out or lost their process.
    pub failed: u64,
    /// Tasks cancelled.
    pub cancelled: u64,
    /// The longest time a task waited in the queue; serialized as seconds (`f64`).
    #[serde(serialize_with = "secs")]
    pub max_wait: Duration,
}

/// Counts for one pool, per priority.
///
/// ```
/// let sup = atasker::Supervisor::builder().build().unwrap();
/// let stats = sup.stats();
/// assert_eq!(stats.threads.normal.submitted, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PoolStats {
    /// [`Priority::Low`] tasks.
    pub low: PriorityStats,
    /// [`Priority::Normal`] tasks.
    pub normal: PriorityStats,
    /// [`Priority::High`] tasks.
    pub high: PriorityStats,
    /// [`Priority::Critical`] tasks.
    pub critical: PriorityStats,
}

impl PoolStats {
    /// The counts of one priority.
    ///
    /// ```
    /// use atasker::{Priority, Supervisor};
    /// let sup = Supervisor::builder().build().unwrap();
    /// sup.task().priority(Priority::High).spawn(|| ()).wait().unwrap();
    /// assert_eq!(sup.stats().threads.priority(Priority::High).completed, 1);
    /// ```
    pub fn priority(&self, p: Priority) -> &PriorityStats {
        match p {
            Priority::Low => &self.low,
            Priority::Normal => &self.normal,
            Priority::High => &self.high,
            Priority::Critical => &self.critical,
        }
    }

    /// The counts of every priority added up (`max_wait` is the longest).
    ///
    /// ```
    /// use atasker::{Priority, Supervisor};
    /// let sup = Supervisor::builder().build().unwrap();
    /// for p in [Priority::Low, Priority::Critical] {
    ///     sup.task().priority(p).spawn(|| ()).wait().unwrap();
    /// }
    /// assert_eq!(sup.stats().threads.total().completed, 2);
    /// ```
    pub fn total(&self) -> PriorityStats {
        [&self.low, &self.normal, &self.high, &self.critical]
            .into_iter()
            .fold(PriorityStats::default(), |a, b| PriorityStats {
                submitted: a.submitted + b.submitted,
                queued: a.queued + b.queued,
                running: a.running + b.running,
                completed: a.completed + b.completed,
                failed: a.failed + b.failed,
                cancelled: a.cancelled + b.cancelled,
                max_wait: a.max_wait.max(b.max_wait),
            })
    }
}

/// A snapshot of a supervisor's counters, made by [`Supervisor::stats`]; serializable with
/// serde.
///
/// Serialized, it has one object per pool (`threads`, `processes`, `coroutines`), each with
/// one [`PriorityStats`] object per priority (`low`, `normal`, `high`, `critical`), then
/// `pool_threads`, the `tasks` object of [`TaskStats`] per task name, and the `workers` list
/// of [`WorkerStats`]. Durations serialize as seconds (`f64`), instants as seconds since the
/// Unix epoch (`f64`), absent values as `null`. The `atasker` crate documentation (section
/// *Statistics*) shows a whole snapshot; a test pins this shape.
///
/// ```
/// let sup = atasker::Supervisor::builder().build().unwrap();
/// sup.task().spawn(|| ()).wait().unwrap();
/// assert_eq!(sup.stats().threads.normal.completed, 1);
///
/// let json = serde_json::to_value(sup.stats()).unwrap();
/// assert_eq!(json["threads"]["normal"]["completed"], 1);
/// assert_eq!(json["coroutines"]["high"]["max_wait"], 0.0);
/// assert_eq!(json["tasks"]["task"]["completed"], 1);
/// assert!(json["workers"].as_array().unwrap().is_empty());
/// ```
///
/// [`Supervisor::stats`]: crate::Supervisor::stats
/// [`WorkerStats`]: crate::WorkerStats
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// The thread pool.
    pub threads: PoolStats,
    /// The process pool.
    pub processes: PoolStats,
    /// Coroutines (not limited by the ladder; their priority is recorded).
    pub coroutines: PoolStats,
    /// Remote tasks this process submitted to its cluster (`queued`: no node has taken them
    /// yet; `running`: a node runs them). Zero without a cluster: remote tasks then run in
    /// the process pool and count there.
    pub remote: PoolStats,
    /// This process as a cluster node, once [`Supervisor::serve_cluster`] was called (`null`
    /// in JSON before).
    ///
    /// [`Supervisor::serve_cluster`]: crate::Supervisor::serve_cluster
    pub node: Option<crate::cluster::NodeStats>,
    /// Threads alive in the thread pool.
    pub pool_threads: usize,
    /// Counters per task name (`module::fn` for the macros' tasks, [`TaskBuilder::name`]
    /// otherwise; `"task"` by default), every pool together, in name order.
    ///
    /// [`TaskBuilder::name`]: crate::TaskBuilder::name
    pub tasks: BTreeMap<String, TaskStats>,
    /// Every worker of the supervisor (stopped ones too).
    pub workers: Vec<crate::worker::WorkerStats>,
}

/// Counters of the tasks of one name, every pool and priority together.
///
/// Each ended task counts once, in `completed`, `failed` (panicked, lost its process, could
/// not cross), `timed_out` or `cancelled`. Durations are the time from a task's start to its
/// end, over the tasks that started; waits are the time a task spent queued for a slot (0
/// for a task that started at once). All serialize as seconds (`f64`).
///
/// ```
/// let sup = atasker::Supervisor::builder().build().unwrap();
/// for _ in 0..3 {
///     sup.task().name("resize").spawn(|| ()).wait().unwrap();
/// }
/// let resize = &sup.stats().tasks["resize"];
/// assert_eq!((resize.completed, resize.failed), (3, 0));
/// assert!(resize.max_duration >= resize.mean_duration);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TaskStats {
    /// Tasks that returned a value.
    pub completed: u64,
    /// Tasks that panicked, lost their process or whose values could not cross.
    pub failed: u64,
    /// Tasks that ran past their deadline.
    pub timed_out: u64,
    /// Tasks cancelled.
    pub cancelled: u64,
    /// The mean time from start to end.
    #[serde(serialize_with = "secs")]
    pub mean_duration: Duration,
    /// The longest time from start to end.
    #[serde(serialize_with = "secs")]
    pub max_duration: Duration,
    /// The mean time a task waited for a slot.
    #[serde(serialize_with = "secs")]
    pub mean_wait: Duration,
    /// The longest time a task waited for a slot.
    #[serde(serialize_with = "secs")]
    pub max_wait: Duration,
}

/// The counters behind one [`TaskStats`]; every task refers to its name's.
///
/// Tasks of one name end on many threads at once: the counters are striped over
/// [`STRIPES`] cache lines, a thread writing to its own, and added up when read.
#[derive(Default)]
pub(crate) struct NameCells {
    /// The metrics keys of this name (with the `metrics` feature), made once.
    pub(crate) metrics: crate::metrics::NameKeys,
    stripes: [Stripe; STRIPES],
}

/// How many cache lines a name's counters are striped over.
const STRIPES: usize = 8;

/// One stripe of a name's counters, alone on its cache line(s).
#[derive(Default)]
#[repr(align(128))]
struct Stripe {
    completed: AtomicU64,
    failed: AtomicU64,
    timed_out: AtomicU64,
    cancelled: AtomicU64,
    runs: AtomicU64,
    run_ns: AtomicU64,
    max_run_ns: AtomicU64,
    waits: AtomicU64,
    wait_ns: AtomicU64,
    max_wait_ns: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl NameCells {
    /// The calling thread's stripe.
    fn stripe(&self) -> &Stripe {
        &self.stripes[stripe_index()]
    }

    pub(crate) fn started(&self, waited: Duration) {
        let ns = nanos(waited);
        let s = self.stripe();
        s.waits.fetch_add(1, Relaxed);
        s.wait_ns.fetch_add(ns, Relaxed);
        s.max_wait_ns.fetch_max(ns, Relaxed);
    }

    /// A task ended with `outcome`, after running `ran` (`None`: it never started).
    pub(crate) fn finished(&self, outcome: Outcome, ran: Option<Duration>) {
        let s = self.stripe();
        match outcome {
            Outcome::Completed => &s.completed,
            Outcome::Failed => &s.failed,
            Outcome::TimedOut => &s.timed_out,
            Outcome::Cancelled => &s.cancelled,
        }
        .fetch_add(1, Relaxed);
        if let Some(ran) = ran {
            let ns = nanos(ran);
            s.runs.fetch_add(1, Relaxed);
            s.run_ns.fetch_add(ns, Relaxed);
            s.max_run_ns.fetch_max(ns, Relaxed);
        }
    }

    fn snapshot(&self) -> TaskStats {
        let sum = |f: fn(&Stripe) -> &AtomicU64| -> u64 {
            self.stripes.iter().map(|s| f(s).load(Relaxed)).sum()
        };
        let max = |f: fn(&Stripe) -> &AtomicU64| -> u64 {
            self.stripes
                .iter()
                .map(|s| f(s).load(Relaxed))
                .max()
                .unwrap_or(0)
        };
        let mean = |total: u64, n: u64| Duration::from_nanos(total / n.max(1));
        TaskStats {
            completed: sum(|s| &s.completed),
            failed: sum(|s| &s.failed),
            timed_out: sum(|s| &s.timed_out),
            cancelled: sum(|s| &s.cancelled),
            mean_duration: mean(sum(|s| &s.run_ns), sum(|s| &s.runs)),
            max_duration: Duration::from_nanos(max(|s| &s.max_run_ns)),
            mean_wait: mean(sum(|s| &s.wait_ns), sum(|s| &s.waits)),
            max_wait: Duration::from_nanos(max(|s| &s.max_wait_ns)),
        }
    }
}

/// Serializes a duration as seconds.
pub(crate) fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Serializes an optional duration as seconds, or `null`.
pub(crate) fn opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// Serializes an optional instant as seconds since the Unix epoch, or `null`.
pub(crate) fn opt_unix_secs<S: Serializer>(
    t: &Option<SystemTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl Stats {
    /// The counts of one pool.
    ///
    /// ```
    /// use atasker::{PoolKind, Supervisor};
    /// let sup = Supervisor::builder().build().unwrap();
    /// sup.task().spawn_async(async {}).wait().unwrap();
    /// assert_eq!(sup.stats().pool(PoolKind::Coroutines).normal.completed, 1);
    /// ```
    pub fn pool(&self, pool: PoolKind) -> &PoolStats {
        match pool {
            PoolKind::Threads => &self.threads,
            PoolKind::Processes => &self.processes,
            PoolKind::Coroutines => &self.coroutines,
            PoolKind::Remote => &self.remote,
        }
    }
}
