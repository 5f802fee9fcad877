//! Cron workers: a job every second on the second, one at a fixed local time, and what each
//! tick's scheduled and actual times were.
//!
//! ```sh
//! cargo run --example cron                      # 5 ticks
//! ATASKER_CRON_TICKS=60 cargo run --example cron    # 60 ticks, then the lateness figures
//! ```

use atasker::prelude::*;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The lateness of each run, in seconds after the second it was scheduled for.
static LATENESS: Mutex<Vec<f64>> = Mutex::new(Vec::new());

#[background_worker(cron = "* * * * * *")]
fn every_second() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let scheduled = Duration::from_secs(now.as_secs());
    let late = (now - scheduled).as_secs_f64();
    println!(
        "tick scheduled {} actual {:.6} (late {:.3} ms)",
        scheduled.as_secs(),
        now.as_secs_f64(),
        late * 1e3
    );
    LATENESS.lock().unwrap().push(late);
}

/// A report at 02:30 Berlin time: once a night, also across daylight-saving changes.
#[background_worker(cron = "0 30 2 * * *", tz = "Europe/Berlin")]
fn nightly_report() {
    println!("nightly report");
}

fn main() {
    let ticks: usize = std::env::var("ATASKER_CRON_TICKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    nightly_report.start();
    every_second.start();
    while LATENESS.lock().unwrap().len() < ticks {
        std::thread::sleep(Duration::from_millis(50));
    }
    every_second.stop();
    let next = nightly_report
        .stats()
        .next_run_at
        .expect("it waits for 02:30");
    let secs = next
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .as_secs();
    println!(
        "nightly report due in {} h {} min",
        secs / 3600,
        secs % 3600 / 60
    );
    nightly_report.stop();

    let late = LATENESS.lock().unwrap();
    let mean = late.iter().sum::<f64>() / late.len() as f64;
    let max = late.iter().cloned().fold(0.0, f64::max);
    println!(
        "lateness over {} ticks: mean {:.3} ms, max {:.3} ms",
        late.len(),
        mean * 1e3,
        max * 1e3
    );
}
