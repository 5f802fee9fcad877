//! `#[background_worker]`: the handles the macro makes really run, each kind,
//! `fn` and `impl`-block workers, and the options.

mod common;

use atasker::prelude::*;
use common::{supervisor, wait_until, Log, QUIET};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

// ---- fn workers ----

static TICKS: AtomicU64 = AtomicU64::new(0);

/// Counts its runs.
#[background_worker(interval = 0.02)]
fn tick() {
    TICKS.fetch_add(1, SeqCst);
}

#[test]
fn interval_fn_worker_runs_until_stopped() {
    assert_eq!(tick.name(), "tick");
    assert!(!tick.is_active());
    assert!(tick.start());
    assert!(tick.is_active());
    wait_until("three ticks", || TICKS.load(SeqCst) >= 3);
    tick.stop();
    assert!(!tick.is_active());
    let after = TICKS.load(SeqCst);
    std::thread::sleep(QUIET);
    assert_eq!(TICKS.load(SeqCst), after, "no run after stop returned");
    assert!(tick.stats().runs >= 3);
}

static SUM: AtomicU64 = AtomicU64::new(0);
static ITEMS: AtomicU64 = AtomicU64::new(0);

#[background_worker(queue, capacity = 16)]
fn add(n: u64) {
    SUM.fetch_add(n, SeqCst);
    ITEMS.fetch_add(1, SeqCst);
}

#[test]
fn queue_fn_worker_gets_every_item() {
    assert!(add.start());
    for n in 1..=100 {
        add.put(n);
    }
    wait_until("every item", || ITEMS.load(SeqCst) == 100);
    assert_eq!(SUM.load(SeqCst), 5050);
    add.stop();
}

static ASYNC_SUM: AtomicU64 = AtomicU64::new(0);

#[background_worker(queue)]
async fn add_async((a, b): (u64, u64)) {
    tokio::task::yield_now().await;
    ASYNC_SUM.fetch_add(a * b, SeqCst);
}

#[test]
fn async_queue_fn_worker_gets_every_item() {
    assert!(add_async.start());
    add_async.put((2, 3));
    add_async.put((4, 5));
    wait_until("both items", || ASYNC_SUM.load(SeqCst) == 26);
    add_async.stop();
}

static PINGS: AtomicU64 = AtomicU64::new(0);

#[background_worker(event)]
fn ping() {
    PINGS.fetch_add(1, SeqCst);
}

#[test]
fn event_fn_worker_runs_per_trigger() {
    assert!(ping.start());
    std::thread::sleep(QUIET);
    assert_eq!(PINGS.load(SeqCst), 0, "no run without a trigger");
    ping.trigger();
    wait_until("one run", || PINGS.load(SeqCst) == 1);
    ping.trigger();
    wait_until("two runs", || PINGS.load(SeqCst) == 2);
    ping.stop();
}

static TOCKS: AtomicU64 = AtomicU64::new(0);

#[background_worker(delay = Duration::from_millis(10), delay_before = 0)]
async fn tock() {
    tokio::task::yield_now().await;
    TOCKS.fetch_add(1, SeqCst);
}

#[test]
fn async_fn_worker_runs_as_a_coroutine() {
    assert!(tock.start());
    wait_until("three tocks", || TOCKS.load(SeqCst) >= 3);
    tock.stop();
}

static COUNTDOWN: AtomicU64 = AtomicU64::new(0);

/// A loop worker that stops itself on its third run.
#[background_worker]
fn countdown() -> bool {
    COUNTDOWN.fetch_add(1, SeqCst) + 1 < 3
}

#[test]
fn returning_false_stops_the_worker() {
    assert!(countdown.start());
    wait_until("the worker stopped itself", || !countdown.is_active());
    assert_eq!(COUNTDOWN.load(SeqCst), 3);
    std::thread::sleep(QUIET);
    assert_eq!(COUNTDOWN.load(SeqCst), 3);
}

static SELF_STOPS: AtomicU64 = AtomicU64::new(0);

/// The body may use its own handle.
#[background_worker(delay = 0.01)]
fn stops_itself() {
    if SELF_STOPS.fetch_add(1, SeqCst) + 1 == 2 {
        stops_itself.stop();
    }
}

#[test]
fn the_body_can_stop_its_own_handle() {
    assert!(stops_itself.start());
    wait_until("the worker stopped itself", || !stops_itself.is_active());
    std::thread::sleep(QUIET);
    assert_eq!(SELF_STOPS.load(SeqCst), 2);
}

// ---- options ----

#[background_worker(event, name = "custom", priority = Priority::High)]
fn named() {}

#[test]
fn name_shows_in_the_handle_and_the_stats() {
    assert_eq!(named.name(), "custom");
    assert!(named.start());
    let stats = Supervisor::global().stats();
    let listed = stats.workers.iter().find(|w| w.name == "custom");
    assert!(listed.is_some(), "{:?}", stats.workers);
    named.stop();
}

static PLANT: LazyLock<&'static Supervisor> = LazyLock::new(|| supervisor("macro", 2, 1, 1));
static PLANTED: AtomicU64 = AtomicU64::new(0);

#[background_worker(event, supervisor = *PLANT)]
fn planted() {
    PLANTED.fetch_add(1, SeqCst);
}

#[test]
fn supervisor_option_picks_the_supervisor() {
    assert!(planted.start());
    planted.trigger();
    wait_until("one run", || PLANTED.load(SeqCst) == 1);
    let listed = PLANT.stats().workers.iter().any(|w| w.name == "planted");
    assert!(listed, "listed in its supervisor's stats");
    planted.stop();
}

static ERRORS: LazyLock<Log> = LazyLock::new(Log::new);

fn report(error: &WorkerError) {
    ERRORS.push(error.to_string());
}

#[background_worker(event, on_error = report)]
fn failing() -> Result<(), String> {
    Err("disk full".into())
}

#[test]
fn on_error_gets_the_err_text() {
    assert!(failing.start());
    failing.trigger();
    wait_until("the error reported", || ERRORS.len() == 1);
    let reported = ERRORS.get();
    assert!(reported[0].contains("failing"), "{reported:?}");
    assert!(reported[0].contains("disk full"), "{reported:?}");
    failing.trigger();
    wait_until("the worker goes on", || ERRORS.len() == 2);
    assert!(failing.is_active());
    failing.stop();
}

// ---- impl-block workers ----

/// Counts its runs in its own state and publishes the count.
struct Reporter {
    sent: u64,
    seen: Arc<AtomicU64>,
}

#[background_worker(interval = Duration::from_millis(10))]
impl Reporter {
    fn run(&mut self) {
        self.sent += 1;
        self.seen.store(self.sent, SeqCst);
    }
}

#[test]
fn impl_worker_keeps_its_state() {
    let seen = Arc::new(AtomicU64::new(0));
    let worker: Worker = Reporter {
        sent: 0,
        seen: seen.clone(),
    }
    .into_worker();
    assert_eq!(worker.name(), "Reporter");
    assert!(worker.start());
    wait_until("the state counts up", || seen.load(SeqCst) >= 3);
    worker.stop();
}

struct AsyncCounter {
    n: u64,
    seen: Arc<AtomicU64>,
}

#[background_worker(name = "async-counter")]
impl AsyncCounter {
    async fn run(&mut self) -> bool {
        tokio::task::yield_now().await;
        self.n += 1;
        self.seen.store(self.n, SeqCst);
        self.n < 5
    }
}

#[test]
fn async_impl_worker_keeps_its_state() {
    let seen = Arc::new(AtomicU64::new(0));
    let worker = AsyncCounter {
        n: 0,
        seen: seen.clone(),
    }
    .into_worker();
    assert_eq!(worker.name(), "async-counter");
    assert!(worker.start());
    wait_until("the worker stopped itself", || !worker.is_active());
    assert_eq!(seen.load(SeqCst), 5);
}

struct Totals {
    total: u64,
    seen: Arc<AtomicU64>,
}

#[background_worker(queue)]
impl Totals {
    fn run(&mut self, n: u64) {
        self.total += n;
        self.seen.store(self.total, SeqCst);
    }
}

struct AsyncTotals {
    total: u64,
    seen: Arc<AtomicU64>,
}

#[background_worker(queue, capacity = 4)]
impl AsyncTotals {
    async fn run(&mut self, n: u64) {
        tokio::task::yield_now().await;
        self.total += n;
        self.seen.store(self.total, SeqCst);
    }
}

#[test]
fn queue_impl_workers_keep_their_state() {
    let seen = Arc::new(AtomicU64::new(0));
    let worker: QueueWorker<u64> = Totals {
        total: 0,
        seen: seen.clone(),
    }
    .into_worker();
    assert!(worker.start());
    for n in 1..=10 {
        worker.put(n);
    }
    wait_until("every item", || seen.load(SeqCst) == 55);
    worker.stop();

    let seen = Arc::new(AtomicU64::new(0));
    let worker = AsyncTotals {
        total: 0,
        seen: seen.clone(),
    }
    .into_worker();
    assert!(worker.start());
    for n in 1..=10 {
        worker.put(n);
    }
    wait_until("every item", || seen.load(SeqCst) == 55);
    worker.stop();
}

struct Bell {
    rings: u64,
    seen: Arc<AtomicU64>,
}

#[background_worker(event)]
impl Bell {
    async fn run(&mut self) {
        self.rings += 1;
        self.seen.store(self.rings, SeqCst);
    }
}

#[test]
fn event_impl_worker_runs_per_trigger() {
    let seen = Arc::new(AtomicU64::new(0));
    let bell: EventWorker = Bell {
        rings: 0,
        seen: seen.clone(),
    }
    .into_worker();
    assert!(bell.start());
    bell.trigger();
    wait_until("one ring", || seen.load(SeqCst) == 1);
    bell.trigger();
    wait_until("two rings", || seen.load(SeqCst) == 2);
    bell.stop();
}
