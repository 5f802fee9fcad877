//! Every worker kind, executor and option compiles warning-free and runs,
//! even with `core`, `std`, `Option`, `Result`, `Some`, `None`, `Ok` and `Err`
//! shadowed by the user's own items.
#![deny(warnings)]

use atasker::prelude::*;

mod core {
    pub fn answer() -> u64 {
        42
    }
}
mod std {
    pub fn answer() -> u64 {
        7
    }
}
struct Option;
struct Result;
struct Some;
struct None;
struct Ok;
struct Err;
struct Duration;

static RUNS: ::std::sync::atomic::AtomicU64 = ::std::sync::atomic::AtomicU64::new(0);

fn count() {
    RUNS.fetch_add(1, ::std::sync::atomic::Ordering::SeqCst);
}

fn plant() -> &'static Supervisor {
    Supervisor::global()
}

fn report(error: &WorkerError) {
    let _ = error.to_string();
}

/// A loop worker with a doc comment.
#[background_worker]
pub fn spin() -> bool {
    count();
    false
}

#[background_worker]
async fn spin_async() -> bool {
    count();
    false
}

/// Attributes for a function go on the function that holds the body.
#[background_worker(interval = 1)]
#[inline]
#[must_use]
#[allow(clippy::needless_return)]
fn interval_int() -> bool {
    count();
    return true;
}

#[background_worker(interval = 0.5, delay_before = 0.25)]
async fn interval_float() {
    count();
}

#[background_worker(interval = ::std::time::Duration::from_millis(250))]
fn interval_expr() -> ::core::result::Result<(), ::std::string::String> {
    count();
    ::core::result::Result::Ok(())
}

#[background_worker(delay = 1, delay_before = ::std::time::Duration::ZERO)]
fn delay() -> ::core::result::Result<bool, ::std::string::String> {
    count();
    ::core::result::Result::Ok(crate::core::answer() == 42)
}

#[background_worker(delay = 0.1)]
async fn delay_async() {
    count();
}

#[background_worker(queue)]
fn queue(n: u64) {
    let _ = n + crate::std::answer();
}

#[background_worker(queue, capacity = 10)]
async fn queue_async((a, b): (u64, u64)) {
    let _ = a + b;
}

#[background_worker(queue, capacity = CAPACITY)]
fn queue_static_str(text: &'static str) {
    let _ = text.len();
}

const CAPACITY: usize = 4;

#[background_worker(event)]
fn event() {
    count();
}

#[background_worker(event)]
async fn event_async() {
    count();
}

#[background_worker(
    event,
    name = "all-options",
    priority = Priority::High,
    supervisor = plant(),
    on_error = report
)]
pub(crate) fn all_options() -> ::core::result::Result<(), &'static str> {
    ::core::result::Result::Err("always")
}

#[background_worker(interval = 5)]
fn r#loop() {}

// Cron workers run only at their ticks, so `start()` then `stop()` runs none.
#[background_worker(cron = "0 0 0 1 1 *")]
fn cron() {
    count();
}

#[background_worker(cron = "*/10 * * * *", tz = "Europe/Berlin")]
async fn cron_async() -> bool {
    count();
    true
}

#[background_worker(cron = "@yearly", tz = "local", fleet, name = "cron-fleet")]
pub fn cron_fleet() -> ::core::result::Result<(), ::std::string::String> {
    count();
    ::core::result::Result::Ok(())
}

#[background_worker(cron = r"0 30 2 * * MON-FRI", static)]
fn cron_static() -> bool {
    true
}

/// A worker with state.
pub struct Reporter {
    sent: u64,
}

#[background_worker(interval = 1)]
impl Reporter {
    fn run(&mut self) {
        self.sent += 1;
    }
}

struct AsyncReporter {
    sent: u64,
}

#[background_worker(delay = 0.5, name = "async-reporter")]
impl AsyncReporter {
    async fn run(&mut self) -> bool {
        self.sent += 1;
        self.sent < 3
    }
}

struct Totals {
    total: u64,
}

#[background_worker(queue, capacity = 2)]
impl Totals {
    fn run(&mut self, n: u64) -> ::core::result::Result<(), ::std::string::String> {
        self.total += n;
        ::core::result::Result::Ok(())
    }
}

struct AsyncTotals {
    total: u64,
}

#[background_worker(queue)]
impl AsyncTotals {
    async fn run(&mut self, (a, b): (u64, u64)) {
        self.total += a + b;
    }
}

struct Sweeper {
    swept: u64,
}

#[background_worker(cron = "@hourly", tz = "UTC", priority = Priority::Low)]
impl Sweeper {
    fn run(&mut self) {
        self.swept += 1;
    }
}

struct AsyncSweeper {
    swept: u64,
}

#[background_worker(cron = "0 0 * * * *")]
impl AsyncSweeper {
    async fn run(&mut self) -> bool {
        self.swept += 1;
        true
    }
}

struct Bell {
    rings: u64,
}

#[background_worker(event, priority = Priority::Low, supervisor = plant())]
impl Bell {
    fn run(&mut self) {
        self.rings += 1;
    }
}

struct AsyncBell {
    rings: u64,
}

#[background_worker(event)]
impl AsyncBell {
    async fn run(&mut self) {
        self.rings += 1;
    }
}

fn main() {
    let _ = (Option, Result, Some, None, Ok, Err, Duration);

    // A worker declared inside a function, as in a doctest.
    #[background_worker(event)]
    fn local() {}
    assert_eq!(local.name(), "local");

    let workers: [&Worker; 12] = [
        &spin,
        &spin_async,
        &interval_int,
        &interval_float,
        &interval_expr,
        &delay,
        &delay_async,
        &r#loop,
        &cron,
        &cron_async,
        &cron_fleet,
        &cron_static,
    ];
    for worker in workers {
        assert!(worker.start());
        worker.stop();
    }
    assert_eq!(r#loop.name(), "loop");
    assert_eq!(cron_fleet.name(), "cron-fleet");
    // `trigger()` runs a cron worker now, without shifting its schedule.
    assert!(cron.start());
    cron.trigger();
    cron.stop();

    let queues: [&QueueWorker<u64>; 1] = [&queue];
    for worker in queues {
        worker.put(1);
        assert!(worker.start());
        worker.stop();
    }
    queue_async.put((1, 2));
    queue_static_str.put("static");
    assert!(queue_async.start());
    assert!(queue_static_str.start());
    queue_async.stop();
    queue_static_str.stop();

    let events: [&EventWorker; 3] = [&event, &event_async, &all_options];
    for worker in events {
        assert!(worker.start());
        worker.trigger();
        worker.stop();
    }
    assert_eq!(all_options.name(), "all-options");

    let worker: Worker = Reporter { sent: 0 }.into_worker();
    assert!(worker.start());
    worker.stop();
    let worker = AsyncReporter { sent: 0 }.into_worker();
    assert_eq!(worker.name(), "async-reporter");
    assert!(worker.start());
    worker.stop();
    let worker: QueueWorker<u64> = Totals { total: 0 }.into_worker();
    worker.put(1);
    assert!(worker.start());
    worker.stop();
    let worker = AsyncTotals { total: 0 }.into_worker();
    worker.put((1, 2));
    assert!(worker.start());
    worker.stop();
    let worker: Worker = Sweeper { swept: 0 }.into_worker();
    assert!(worker.start());
    worker.trigger();
    worker.stop();
    let worker = AsyncSweeper { swept: 0 }.into_worker();
    assert!(worker.start());
    worker.stop();
    let worker: EventWorker = Bell { rings: 0 }.into_worker();
    assert!(worker.start());
    worker.trigger();
    worker.stop();
    let worker = AsyncBell { rings: 0 }.into_worker();
    assert!(worker.start());
    worker.trigger();
    worker.stop();
}
