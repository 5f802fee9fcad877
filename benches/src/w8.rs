//! W8, priorities under saturation: a pool of 4 threads (reserves 0/0) is held busy by 4
//! blockers; 1,000 tasks are queued at each priority — all LOW first, then all NORMAL, then
//! all HIGH, so that FIFO order would be the worst order — then the blockers are released
//! → `inversions`, which must be 0. No baseline.
//!
//! An inversion is a pair (lower `a`, higher `b`) where `a` started while `b`, queued before
//! `a` started, was still waiting. Every task, as it starts, reads the supervisor's queued
//! counts (`Supervisor::stats`): the higher-priority tasks still queued at that moment are
//! exactly the pairs it inverts. (Comparing the order in which task bodies *begin* instead
//! would count false pairs: between the pool admitting a task and its body's first line, a
//! thread can be preempted while another thread admits and begins the next, lower task.)
//! The start order is recorded too and the number of pairs it shows out of order is
//! printed to stderr for information.
//!
//! Every repetition's value is kept and the **largest** is reported (a must-be-zero check).
//! The binary exits non-zero when it is above 0 (see [`verdict`]).

use crate::harness::{Agg, Collector, Config, Figure};
use crate::util::Gate;
use atasker::{Priority, Supervisor, Task};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pool threads (all held by the blockers).
const THREADS: usize = 4;

/// How long the whole run may take before it is declared stuck.
const LIMIT: Duration = Duration::from_secs(60);

/// What a task records as it starts.
#[derive(Clone, Copy, Debug)]
struct Start {
    /// 0 = LOW, 1 = NORMAL, 2 = HIGH.
    rank: usize,
    /// Its position in the start order.
    seq: usize,
    /// Tasks still queued at that moment, per rank.
    queued: [u64; 3],
}

/// The priorities in submission order (lowest first), with their ranks.
const LADDER: [Priority; 3] = [Priority::Low, Priority::Normal, Priority::High];

/// Runs W8's repetitions.
pub(crate) fn run(cfg: &Config, out: &mut Collector) {
    let per = cfg.size(1_000);
    for _ in 0..cfg.reps {
        let inversions = once(per);
        out.add_agg(
            "atasker",
            "inversions",
            inversions as f64,
            "count",
            Agg::Max,
        );
    }
}

/// One saturation test with `per` tasks per priority; the inversions counted.
fn once(per: usize) -> u64 {
    let sup = Supervisor::builder()
        .name("w8")
        .thread_pool(THREADS)
        .reserve_normal(0)
        .reserve_high(0)
        .build()
        .expect("valid W8 settings");
    let deadline = Instant::now() + LIMIT;

    // Hold every pool thread.
    let gate = Arc::new(Gate::default());
    let held = Arc::new(AtomicUsize::new(0));
    let blockers: Vec<Task<()>> = (0..THREADS)
        .map(|_| {
            let (gate, held) = (gate.clone(), held.clone());
            sup.task().name("w8 blocker").spawn(move || {
                held.fetch_add(1, Ordering::SeqCst);
                gate.wait();
            })
        })
        .collect();
    while held.load(Ordering::SeqCst) < THREADS {
        assert!(
            Instant::now() < deadline,
            "W8: the blockers never all started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }

    // Queue LOW, then NORMAL, then HIGH behind them.
    let seq = Arc::new(AtomicUsize::new(0));
    let log: Arc<Mutex<Vec<Start>>> = Arc::new(Mutex::new(Vec::with_capacity(3 * per)));
    let mut tasks: Vec<Task<()>> = Vec::with_capacity(3 * per);
    for (rank, p) in LADDER.into_iter().enumerate() {
        for _ in 0..per {
            let (sup2, seq, log) = (sup.clone(), seq.clone(), log.clone());
            tasks.push(sup.task().name("w8").priority(p).spawn(move || {
                let s = sup2.stats().threads;
                let queued = [s.low.queued, s.normal.queued, s.high.queued];
                let seq = seq.fetch_add(1, Ordering::SeqCst);
                log.lock().unwrap().push(Start { rank, seq, queued });
            }));
        }
    }
    let queued = sup.stats().threads;
    assert_eq!(
        (queued.low.queued, queued.normal.queued, queued.high.queued),
        (per as u64, per as u64, per as u64),
        "W8: every task waits behind the blockers"
    );

    gate.open();
    for mut t in blockers.into_iter().chain(tasks) {
        let left = deadline.saturating_duration_since(Instant::now());
        match t.wait_timeout(left) {
            Some(r) => r.expect("W8: a task ran"),
            None => panic!("W8: tasks still queued after {LIMIT:?}"),
        }
    }
    sup.stop();

    let mut starts = std::mem::take(&mut *log.lock().unwrap());
    assert_eq!(starts.len(), 3 * per, "W8: every task started once");
    starts.sort_by_key(|s| s.seq);
    let inversions: u64 = starts
        .iter()
        .map(|s| s.queued[s.rank + 1..].iter().sum::<u64>())
        .sum();
    let apparent = starts
        .iter()
        .enumerate()
        .map(|(i, a)| starts[i + 1..].iter().filter(|b| b.rank > a.rank).count())
        .sum::<usize>();
    eprintln!(
        "  [W8] start order: {apparent} pair(s) where a lower task's body began before a higher one's"
    );
    inversions
}

/// `Err` if a W8 figure shows an inversion (the process then exits non-zero).
pub(crate) fn verdict(figures: &[Figure]) -> Result<(), String> {
    match figures
        .iter()
        .find(|f| f.workload == "W8" && f.metric == "inversions" && f.value > 0.0)
    {
        Some(f) => Err(format!("W8: {} priority inversion(s)", f.value)),
        None => Ok(()),
    }
}
