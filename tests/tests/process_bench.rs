//! A rough timing of the process pool (W2), ignored by default; speed lives in the benchmark.
//! `cargo test --release -p atasker-tests --test process_bench -- --ignored --nocapture`

#[macro_use]
mod process_common;

use atasker::Priority;
use process_common::*;
use std::time::{Duration, Instant};

static_task! {
    fn add(a: u64, b: u64) -> u64 { a.wrapping_add(b) }
}

const TOP: u64 = 1 << 63;

#[test]
#[ignore = "timing; run by hand in release"]
fn w2_process_pool_timing() {
    let sup = supervisor("bench-seq", 1);
    for i in 0..200 {
        add(on(sup, Priority::Normal), TOP | i, TOP).wait().unwrap();
    }
    let mut times: Vec<Duration> = (0..2000)
        .map(|i| {
            let t0 = Instant::now();
            add(on(sup, Priority::Normal), TOP | i, TOP).wait().unwrap();
            t0.elapsed()
        })
        .collect();
    times.sort();
    let pct = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
    println!(
        "sequential round trip, 1 child: p50 {:.1} µs, p99 {:.1} µs",
        pct(50).as_secs_f64() * 1e6,
        pct(99).as_secs_f64() * 1e6
    );

    let sup = supervisor("bench-tput", 2);
    let warm: Vec<_> = (0..2)
        .map(|i| add(on(sup, Priority::Normal), i, 1))
        .collect();
    atasker::wait_completed(warm, None).unwrap();
    for _ in 0..3 {
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..20_000u64)
            .map(|i| add(on(sup, Priority::Normal), TOP | i, TOP))
            .collect();
        let n = atasker::wait_completed(tasks, None).unwrap().len();
        let dt = t0.elapsed();
        println!(
            "{n} calls on 2 processes: {:.0} calls/s ({:?})",
            n as f64 / dt.as_secs_f64(),
            dt
        );
    }
}
