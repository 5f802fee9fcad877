//! How exactly an interval worker keeps its schedule: 10 ms for 2 s, lateness of each run
//! measured against the ideal `start + k × 10 ms`.
//!
//! `cargo run --release --example interval_drift`

use atasker::prelude::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static RUNS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

#[background_worker(interval = 0.01)]
fn sample() {
    RUNS.lock().unwrap().push(Instant::now());
}

fn main() {
    let start = Instant::now();
    sample.start();
    std::thread::sleep(Duration::from_secs(2));
    sample.stop();
    let runs = RUNS.lock().unwrap();
    let late: Vec<f64> = runs
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let ideal = start + Duration::from_millis(10) * k as u32;
            t.saturating_duration_since(ideal).as_secs_f64() * 1000.0
        })
        .collect();
    let mean = late.iter().sum::<f64>() / late.len() as f64;
    let max = late.iter().cloned().fold(0.0, f64::max);
    println!("runs: {} (ideal 200)", runs.len());
    println!(
        "lateness: mean {mean:.3} ms, max {max:.3} ms; the last run is {:.3} ms late (no drift)",
        late.last().unwrap()
    );
}
