//! Retries: a flaky fetch that succeeds on its third run, printing each run and the wait
//! before it; then a concurrency limit on a device that takes one connection. Run it with
//! `cargo run --example retries`.

use atasker::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static RUNS: AtomicU32 = AtomicU32::new(0);
static LAST: Mutex<Option<Instant>> = Mutex::new(None);

/// Fails twice (the server is "busy"), then answers. Each `Err` is run again after a wait
/// drawn from `0..=0.2 s × 2^(n-1)` (full jitter).
#[background_task(retries = 4, backoff = 0.2)]
fn fetch(url: String) -> Result<String, String> {
    let run = RUNS.fetch_add(1, SeqCst) + 1;
    let now = Instant::now();
    let waited = LAST.lock().unwrap().replace(now).map(|t| now - t);
    match waited {
        None => println!("run {run}: first try"),
        Some(w) => println!(
            "run {run}: after waiting {:.0} ms",
            w.as_secs_f64() * 1000.0
        ),
    }
    if run < 3 {
        println!("  {url}: 503 busy");
        return Err(format!("{url}: busy"));
    }
    println!("  {url}: 200 ok");
    Ok(format!("reply of {url}"))
}

static TALKING: AtomicU32 = AtomicU32::new(0);

/// A PLC takes one connection: `limit = 1` lets one call talk at a time; the others wait
/// queued, holding no thread.
#[background_task(limit = 1)]
fn talk_to_plc(cmd: u32) -> u32 {
    let now = TALKING.fetch_add(1, SeqCst) + 1;
    assert_eq!(now, 1, "two calls talked at once");
    std::thread::sleep(Duration::from_millis(20));
    TALKING.fetch_sub(1, SeqCst);
    cmd * 10
}

fn main() -> Result<(), TaskError> {
    // The task's result is the last run's: here the `Ok` of the third.
    match fetch("http://plant/status".into()).wait()? {
        Ok(reply) => println!("fetch: {reply:?} after {} runs", RUNS.load(SeqCst)),
        Err(e) => println!("fetch failed for good: {e}"),
    }
    let stats = Supervisor::global().stats();
    println!("retried: {}", stats.tasks["retries::fetch"].retried);

    let calls: Vec<_> = (1..=5).map(talk_to_plc).collect();
    let replies = atasker::wait_completed(calls, Some(Duration::from_secs(10)))?;
    println!("plc replies, one at a time: {replies:?}");
    Supervisor::global().stop();
    Ok(())
}
