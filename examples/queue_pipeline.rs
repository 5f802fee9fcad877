//! A two-stage pipeline of queue workers: a thread-pool stage parses lines, a coroutine stage
//! "stores" the records. Items put while a worker is stopped wait; nothing is dropped.
//!
//! `cargo run --example queue_pipeline`

use atasker::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static STORED: AtomicU64 = AtomicU64::new(0);
static TOTAL: AtomicU64 = AtomicU64::new(0);

/// Stage 1 (thread pool): parse a line, hand the number to stage 2.
#[background_worker(queue, capacity = 64)]
fn parse(line: String) -> Result<(), std::num::ParseIntError> {
    let n: u64 = line.trim().parse()?;
    store.put(n);
    Ok(())
}

/// Stage 2 (coroutine): store a record.
#[background_worker(queue)]
async fn store(n: u64) {
    tokio::time::sleep(Duration::from_micros(200)).await;
    TOTAL.fetch_add(n, Ordering::SeqCst);
    STORED.fetch_add(1, Ordering::SeqCst);
}

fn main() {
    // Put before starting: the items wait for `start()` (up to the capacity; a full bounded
    // queue makes `put` wait, and `try_put` hand the item back).
    for i in 1..=10 {
        parse.put(i.to_string());
    }
    println!("{} lines queued before start", parse.queued());
    parse.start();
    store.start();
    parse.put("not a number".to_string()); // an `Err`: reported, and the worker goes on
    for i in 11..=100 {
        parse.put(i.to_string());
    }
    while STORED.load(Ordering::SeqCst) < 100 {
        std::thread::sleep(Duration::from_millis(10));
    }
    parse.stop();
    store.stop();
    println!(
        "stored {} records, total {} (parse runs: {}, errors: {})",
        STORED.load(Ordering::SeqCst),
        TOTAL.load(Ordering::SeqCst),
        parse.stats().runs,
        parse.stats().errors
    );
}
