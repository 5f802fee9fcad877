//! The serializable snapshots of the counters: [`Stats`] and the types it holds, the
//! worker and node snapshots among them.

use crate::kind::PoolKind;
use crate::priority::Priority;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// Runs that failed and were set to run again (`retries`), counted when the retry is
    /// scheduled (a cancel during its backoff does not take it back). Each run counts as a
    /// task above (a run that returned `Err` as `completed`): a task run three times counts
    /// 3 in `submitted` and 2 here.
    pub retried: u64,
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
        [&self.low, &self.normal, &self.high, &self.critical][p.index()]
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
                retried: a.retried + b.retried,
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
    pub node: Option<NodeStats>,
    /// Threads alive in the thread pool.
    pub pool_threads: usize,
    /// Counters per task name (`module::fn` for the macros' tasks, [`TaskBuilder::name`]
    /// otherwise; `"task"` by default), every pool together, in name order.
    ///
    /// [`TaskBuilder::name`]: crate::TaskBuilder::name
    pub tasks: BTreeMap<String, TaskStats>,
    /// Every worker of the supervisor (stopped ones too).
    pub workers: Vec<WorkerStats>,
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
    /// Runs that failed and were set to run again (`retries`); each run counts as a task in
    /// the outcomes above (a run that returned `Err` as `completed`).
    pub retried: u64,
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
        [
            &self.threads,
            &self.processes,
            &self.coroutines,
            &self.remote,
        ][pool.index()]
    }
}

/// The kind of a worker.
///
/// ```
/// let w = atasker::EventWorker::builder().build(|| ());
/// assert_eq!(w.stats().kind, atasker::WorkerKind::Event);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerKind {
    /// Runs back to back.
    Loop,
    /// Runs on a fixed schedule (`interval`) or after a pause (`delay`).
    Interval,
    /// Runs once per queued item.
    Queue,
    /// Runs once per trigger.
    Event,
    /// Runs at the ticks of a cron expression.
    Cron,
}

/// What a worker is doing.
///
/// ```
/// use atasker::WorkerState;
/// let w = atasker::EventWorker::builder().build(|| ());
/// assert_eq!(w.stats().state, WorkerState::Stopped);
/// w.start();
/// assert_eq!(w.stats().state, WorkerState::Waiting); // for a trigger
/// w.stop();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum WorkerState {
    /// Not started, or stopped.
    Stopped = 0,
    /// Started, waiting for its next run (a tick, an item, a trigger).
    Waiting,
    /// Running its executor.
    Running,
}

/// A snapshot of a worker's counters; serializable with serde.
///
/// ```
/// let w = atasker::Worker::builder().name("idle").build(|| ());
/// let s = w.stats();
/// assert_eq!((s.name.as_str(), s.runs), ("idle", 0));
/// assert_eq!(s.state, atasker::WorkerState::Stopped);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WorkerStats {
    /// The worker's name.
    pub name: String,
    /// Its kind.
    pub kind: WorkerKind,
    /// What it is doing.
    pub state: WorkerState,
    /// Executor runs finished (successful or not).
    pub runs: u64,
    /// Runs that returned `Err` or panicked.
    pub errors: u64,
    /// How long the last run took (`None` before the first run); serialized as seconds
    /// (`f64`) or `null`.
    #[serde(serialize_with = "opt_secs")]
    pub last_duration: Option<Duration>,
    /// When the last run started (`None` before the first run); serialized as seconds since
    /// the Unix epoch (`f64`) or `null`.
    #[serde(serialize_with = "opt_unix_secs")]
    pub last_run_at: Option<SystemTime>,
    /// When the next scheduled run is due, while an interval or delay worker is active and
    /// waiting for it (`None` otherwise, and for loop, queue and event workers); serialized as
    /// seconds since the Unix epoch (`f64`) or `null`.
    #[serde(serialize_with = "opt_unix_secs")]
    pub next_run_at: Option<SystemTime>,
    /// Scheduled ticks skipped because a run overran them: after an overrun an interval worker
    /// runs once at once, then keeps its rate from that run (no burst); the ticks that run
    /// stands for are counted here.
    pub missed: u64,
}

/// Counters of this process as a cluster node ([`Stats::node`](crate::Stats::node)).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct NodeStats {
    /// The node's consumer name in Redis (`host:pid:random`, unique per process and run).
    pub name: String,
    /// Tasks this node took and answered, their answers taken by Redis (whatever their
    /// outcome). An answer given up on (Redis refused it for about a minute) is not counted.
    pub served: u64,
    /// Of those, tasks that had been delivered before to a node that stopped or went silent.
    pub redelivered: u64,
    /// Tasks running on this node now (in its process pool).
    pub running: u64,
    /// Tasks that finished here and whose answers Redis has not taken yet.
    pub answering: u64,
    /// Entries this node acknowledged without running them (missing fields, an unknown
    /// task name); each was answered with an error where the submitter could be named.
    pub rejected: u64,
    /// Entries this node put back in their queue from nodes found silent.
    pub reclaimed: u64,
    /// How many times a connection to Redis was made again after it failed.
    pub reconnects: u64,
}
