//! The supervisor: one owner for the thread pool, the process pool, the coroutine runtime,
//! the queue-wait watchdog and the workers.
//!
//! - `builder.rs`: the settings and [`SupervisorBuilder`];
//! - `spawn/`: every way in to an executor (threads, coroutines, processes, a cluster node)
//!   and the one path they share (options, admission, the task's cell, delay), and
//!   [`TaskBuilder`];
//! - `client.rs`: [`Client`], how the supervisor stops and reports its workers and node;
//! - `shutdown.rs`: `stop`, the count of unfinished tasks it waits for, and the table of what
//!   a stop deadline cancels;
//! - `watchdog.rs`: the queue-wait watchdog.

mod builder;
mod client;
mod shutdown;
pub(crate) mod spawn;
mod watchdog;

pub use builder::SupervisorBuilder;
pub(crate) use builder::*;
pub(crate) use client::Client;
pub(crate) use shutdown::*;
pub(crate) use spawn::*;
pub use spawn::{NoRetry, Retryable, TaskBuilder, WithRetry};
pub(crate) use watchdog::*;

use crate::error::{BuildError, TaskError};
use crate::kind::{Outcome, PoolKind};
use crate::pool::ladder::{Limits, Overdue};
use crate::priority::Priority;
use crate::process_pool::ProcessPool;
use crate::stats::{NameRef, Stats, StatsCells};
use crate::task::{
    Control, DeadlineGuard, Header, Owner, Task, TaskCell, TaskId, TaskInfo, QUEUED,
};
use crate::thread_pool::ThreadPool;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

/// A queue-wait hook.
pub(crate) type Hook = Arc<dyn Fn(&TaskInfo) + Send + Sync>;

pub(crate) use crate::sync::lock;

pub(crate) static GLOBAL: OnceLock<Supervisor> = OnceLock::new();

/// One task supervisor for threads, processes and coroutines.
///
/// It owns a thread pool and a process pool, both governed by the priority ladder (see
/// [`Priority`]), a tokio runtime for coroutines (or the user's, see
/// [`SupervisorBuilder::runtime`]), and the workers. Cheap to clone: clones share one
/// supervisor.
///
/// ```
/// use atasker::{Priority, Supervisor};
/// let sup = Supervisor::builder().name("doc").thread_pool(2).build().unwrap();
/// let t = sup.task().priority(Priority::High).spawn(|| 2 + 2);
/// assert_eq!(t.wait(), Ok(4));
/// sup.stop();
/// ```
#[derive(Clone)]
pub struct Supervisor {
    pub(crate) inner: Arc<Inner>,
}

impl Supervisor {
    /// A builder for a supervisor with custom settings.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().thread_pool(4).build().unwrap();
    /// assert_eq!(sup.task().spawn(|| 1).wait(), Ok(1));
    /// ```
    pub fn builder() -> SupervisorBuilder {
        SupervisorBuilder {
            config: Config::default(),
        }
    }

    /// The global supervisor, built with the defaults on first use unless
    /// [`SupervisorBuilder::build_global`] built it before. Always the same reference.
    ///
    /// Defaults: thread pool = cores × 5, reserves 5/5; process pool = cores, reserves 0/0;
    /// queue-wait warnings at 5 s and 10 s. Threads and processes start lazily.
    ///
    /// ```
    /// let a = atasker::Supervisor::global();
    /// let b = atasker::Supervisor::global();
    /// assert!(std::ptr::eq(a, b));
    /// ```
    pub fn global() -> &'static Supervisor {
        GLOBAL.get_or_init(|| {
            Supervisor::builder()
                .build()
                .expect("the default supervisor settings are valid")
        })
    }

    /// The supervisor's name.
    ///
    /// ```
    /// assert_eq!(atasker::Supervisor::global().name(), "default");
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// A snapshot of the counters: per pool and priority, and per worker. Serializable with
    /// serde; see [`Stats`] for the shape of its JSON.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().build().unwrap();
    /// let json = serde_json::to_string(&sup.stats()).unwrap();
    /// assert!(json.contains("\"max_wait\""));
    /// ```
    pub fn stats(&self) -> Stats {
        let inner = &self.inner;
        let mut stats = Stats {
            threads: inner.stats.snapshot(PoolKind::Threads),
            processes: inner.stats.snapshot(PoolKind::Processes),
            coroutines: inner.stats.snapshot(PoolKind::Coroutines),
            remote: inner.stats.snapshot(PoolKind::Remote),
            node: None,
            pool_threads: inner.threads.load().0,
            tasks: inner.stats.tasks(),
            workers: Vec::new(),
        };
        if let Some(node) = inner.node.get() {
            node.report(&mut stats);
        }
        for w in inner.workers() {
            w.report(&mut stats);
        }
        stats
    }
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("Supervisor")
            .field("name", &c.name)
            .field(
                "thread_pool",
                &(c.thread_pool, c.reserve_normal, c.reserve_high),
            )
            .field(
                "process_pool",
                &(
                    c.process_pool,
                    c.process_reserve_normal,
                    c.process_reserve_high,
                ),
            )
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

/// The shared state of a supervisor.
pub(crate) struct Inner {
    config: Config,
    stats: StatsCells,
    threads: ThreadPool,
    processes: ProcessPool,
    /// The cluster, when one is configured.
    remote: Option<crate::remote::Remote>,
    /// The cluster node, once `serve_cluster` made this process one.
    node: OnceLock<Arc<dyn Client>>,
    /// The runtime the supervisor owns (none with `.runtime(handle)`), built on first use.
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    /// A handle to the runtime in use, once known (or why it could not start).
    rt_handle: OnceLock<Result<tokio::runtime::Handle, String>>,
    /// `OPEN`, then `DRAINING` while a stop lets the workers finish, then `CLOSED`.
    phase: AtomicU8,
    /// Set when a `stop` call has returned (for [`Supervisor::stopped`]).
    stop_ended: crate::sync::Signal,
    pending: Arc<Pending>,
    /// Coroutines and delayed tasks, so that a stop deadline can cancel them.
    live: [Mutex<LiveTable>; LIVE_SHARDS],
    /// Every worker made on this supervisor (for `stats` and `stop`).
    workers: Mutex<Vec<Weak<dyn Client>>>,
    watchdog: Arc<Watchdog>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        lock(&self.watchdog.state).closed = true;
        self.watchdog.wake.notify_all();
        if let Some(rt) = lock(&self.runtime).take() {
            rt.shutdown_background();
        }
    }
}

impl Inner {
    /// The supervisor's metrics (labelled with its name).
    pub(crate) fn metrics(&self) -> &crate::metrics::Scope {
        &self.stats.metrics
    }

    /// The runtime handle for coroutines and timers, built on first use.
    pub(crate) fn handle(&self) -> Result<&tokio::runtime::Handle, TaskError> {
        let h = self.rt_handle.get_or_init(|| {
            if let Some(h) = &self.config.runtime {
                return Ok(h.clone());
            }
            // A thread about to idle or end releases the plain coroutines it ended (see
            // `spawn::release_ended`).
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(self.config.runtime_threads)
                .thread_name(self.runtime_thread_name())
                .on_thread_park(release_ended)
                .on_thread_stop(release_ended)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let handle = rt.handle().clone();
            *lock(&self.runtime) = Some(rt);
            Ok(handle)
        });
        match h {
            Ok(h) => Ok(h),
            Err(e) => Err(TaskError::Unavailable(format!(
                "cannot start the runtime: {e}"
            ))),
        }
    }

    /// The process pool's limits (a cluster node takes as much as they let start).
    pub(crate) fn process_limits(&self) -> Limits {
        let c = &self.config;
        Limits::new(
            c.process_pool,
            c.process_reserve_normal,
            c.process_reserve_high,
        )
    }

    /// The cluster's settings, when one is configured.
    pub(crate) fn cluster_settings(&self) -> Option<&Arc<crate::remote::Settings>> {
        self.remote.as_ref().map(|r| &r.settings)
    }

    /// The cluster side, when one is configured (for `fleet` leases).
    pub(crate) fn remote(&self) -> Option<&crate::remote::Remote> {
        self.remote.as_ref()
    }

    /// Whether this process serves the cluster already.
    pub(crate) fn has_node(&self) -> bool {
        self.node.get().is_some()
    }

    /// Makes `node` this supervisor's node; `false` if it has one already.
    pub(crate) fn set_node(&self, node: Arc<dyn Client>) -> bool {
        self.node.set(node).is_ok()
    }

    /// Arms `timer` on the thread pool's timers, due at `due` (see `pool::Timer`).
    pub(crate) fn schedule_timer(
        &self,
        due: Instant,
        tag: u64,
        timer: &Arc<dyn crate::pool::Timer>,
    ) {
        self.threads.schedule(due, tag, timer);
    }

    /// Whether tasks wait in the thread pool's queue.
    pub(crate) fn threads_queued(&self) -> bool {
        self.threads.has_queued()
    }

    pub(crate) fn runtime_thread_name(&self) -> String {
        format!("atasker-{}-rt", self.config.name)
    }

    /// Whether coroutines run on a runtime this supervisor owns (and may shut down).
    pub(crate) fn owns_runtime(&self) -> bool {
        self.config.runtime.is_none()
    }

    /// Shuts the owned runtime down: every task on it is dropped (coroutines report
    /// `Cancelled` through their guard). Not from one of its own threads, which would wait
    /// for itself: then a helper thread does it.
    pub(crate) fn shutdown_runtime(&self) {
        let Some(rt) = lock(&self.runtime).take() else {
            return;
        };
        let mine = std::thread::current()
            .name()
            .is_some_and(|n| n == self.runtime_thread_name());
        if mine {
            let _ = std::thread::Builder::new()
                .name("atasker-shutdown".into())
                .spawn(move || rt.shutdown_background());
        } else {
            rt.shutdown_background();
        }
    }

    /// Adds a worker to those a stop stops and a snapshot reports, for as long as it lives.
    pub(crate) fn register_worker(&self, w: Weak<dyn Client>) {
        let mut list = lock(&self.workers);
        list.retain(|w| w.strong_count() > 0);
        list.push(w);
    }

    pub(crate) fn workers(&self) -> Vec<Arc<dyn Client>> {
        lock(&self.workers)
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }
}

/// Who ended, for [`Inner::record_end`].
pub(crate) struct End {
    pub(crate) pool: PoolKind,
    pub(crate) priority: Priority,
    pub(crate) name: &'static str,
    pub(crate) by_name: NameRef,
    /// It had started.
    pub(crate) was_running: bool,
}

impl Inner {
    /// Counts a task's end with `outcome`, after running `ran` (`None`: it never started).
    pub(crate) fn record_end(&self, end: &End, outcome: Outcome, ran: Option<Duration>) {
        let (pool, p) = (end.pool, end.priority);
        self.stats.finished(pool, p, end.was_running, outcome);
        end.by_name.finished(outcome, ran);
        let keys = &end.by_name.metrics;
        (self.stats.metrics).task_finished(keys, (pool, p), end.name, outcome.as_str(), ran);
        self.stats.export_load(pool, p);
    }
}

/// What a task may ask of its supervisor (see [`Owner`]).
impl Owner for Inner {
    fn started(&self, h: &Header, waited: Duration) {
        self.stats.started(h.pool, h.priority, waited);
        h.by_name.started(waited);
        self.stats.metrics.task_started(h.pool, h.priority, waited);
        self.stats.export_load(h.pool, h.priority);
    }

    fn finished(&self, h: &Header, was_running: bool, outcome: Outcome, ran: Option<Duration>) {
        let end = End {
            pool: h.pool,
            priority: h.priority,
            name: h.name,
            by_name: h.by_name,
            was_running,
        };
        self.record_end(&end, outcome, ran);
    }

    fn released(&self, h: &Header) {
        self.untrack(h);
        self.pending.dec();
    }

    fn kill(&self, h: &Header) {
        // Coroutines are aborted by their handle; thread tasks cannot be interrupted; a
        // remote task is removed from its queue unless a node has taken it.
        match h.pool {
            PoolKind::Processes => self.processes.kill(h.id),
            PoolKind::Remote => {
                if let Some(p) = self.remote.as_ref().and_then(|r| r.producer.get()) {
                    p.cancel(h.id.as_u64());
                }
            }
            PoolKind::Threads | PoolKind::Coroutines => {}
        }
    }

    fn deadline(&self, task: Arc<dyn Control>, d: Duration) -> Option<DeadlineGuard> {
        let handle = self.handle().ok()?;
        let timer = handle.spawn(async move {
            tokio::time::sleep(d).await;
            task.expire();
        });
        Some(DeadlineGuard(timer.abort_handle()))
    }

    fn take_queued_here(&self, h: &Header) -> Option<Box<dyn FnOnce() + Send>> {
        if h.pool != PoolKind::Threads || !self.threads.is_current() {
            return None;
        }
        h.awaited_in_pool.store(true, SeqCst);
        let job = self.threads.take_queued(h)?;
        Some(Box::new(move || crate::thread_pool::run_contained(job)))
    }
}
