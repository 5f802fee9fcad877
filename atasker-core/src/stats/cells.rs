//! The live counters: per pool and priority ([`StatsCells`]) and per task name
//! ([`NameCells`], reached through a [`NameRef`]).

use super::{PoolStats, PriorityStats, TaskStats};
use crate::kind::{Outcome, PoolKind, POOLS};
use crate::priority::Priority;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::ptr::NonNull;
use std::sync::atomic::{
    AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

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
    /// Runs that failed and were followed by another run (a retry).
    retried: AtomicU64,
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
            retried: self.sum(|s| &s.retried),
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
    /// The supervisor's metrics (labelled with its name).
    pub(crate) metrics: crate::metrics::Scope,
    /// Its name's claim in the metrics (a second live supervisor of that name is warned).
    _name: crate::metrics::NameClaim,
    pools: [[Counters; 4]; POOLS],
    /// Per task name; a task looks its name up once, when it is made.
    names: RwLock<Names>,
    /// Unique in the process (never reused, unlike an address): keys the per-thread cache
    /// of the last name looked up.
    id: u64,
}

impl StatsCells {
    /// The counters of the supervisor named `supervisor`.
    pub(crate) fn new(supervisor: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StatsCells {
            metrics: crate::metrics::Scope::new(supervisor),
            _name: crate::metrics::claim_name(supervisor),
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
            self.metrics.load(pool, p, running, queued);
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

    /// A run of a task of `pool` and `p` failed and the task will run again.
    pub(crate) fn retried(&self, pool: PoolKind, p: Priority) {
        self.at(pool, p).mine().retried.fetch_add(1, Relaxed);
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
    retried: AtomicU64,
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

    /// A run of a task of this name failed and the task will run again.
    pub(crate) fn retried(&self) {
        self.stripe().retried.fetch_add(1, Relaxed);
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
            retried: sum(|s| &s.retried),
            mean_duration: mean(sum(|s| &s.run_ns), sum(|s| &s.runs)),
            max_duration: Duration::from_nanos(max(|s| &s.max_run_ns)),
            mean_wait: mean(sum(|s| &s.wait_ns), sum(|s| &s.waits)),
            max_wait: Duration::from_nanos(max(|s| &s.max_wait_ns)),
        }
    }
}
