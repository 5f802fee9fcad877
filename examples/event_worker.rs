//! An event worker: runs once per trigger; triggers that come during a run coalesce into one
//! more run.
//!
//! `cargo run --example event_worker`

use atasker::prelude::*;
use std::time::Duration;

#[background_worker(event)]
fn flush() {
    println!("  flushing…");
    std::thread::sleep(Duration::from_millis(100));
}

fn main() {
    flush.start();
    println!("one trigger:");
    flush.trigger();
    std::thread::sleep(Duration::from_millis(300));
    println!("five triggers while it runs: one run, plus one more for all of them:");
    for _ in 0..5 {
        flush.trigger();
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(400));
    flush.stop();
    println!("runs: {}", flush.stats().runs);
}
