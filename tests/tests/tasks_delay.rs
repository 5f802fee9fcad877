//! `delay = SECS | EXPR` on `#[background_task]` (API.md §12): every kind of task is queued
//! that much after its call, holding no slot meanwhile; a delayed task can be cancelled
//! before it starts, and its timeout counts from its start.

mod common;

use atasker::prelude::*;
use std::time::{Duration, Instant};

#[background_task(delay = 0.3)]
fn blocking_at() -> Instant {
    Instant::now()
}

#[background_task(delay = Duration::from_millis(300))]
async fn async_at() -> Instant {
    Instant::now()
}

#[background_task(static, delay = 0.3)]
fn static_at(n: u64) -> u64 {
    n + 1
}

#[background_task(delay = 0.2, timeout = 0.5)]
fn sleeps(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[test]
fn each_kind_starts_no_sooner_than_its_delay() {
    let called = Instant::now();
    let (b, a) = (blocking_at(), async_at());
    let s = static_at(41);
    assert!(b.wait().unwrap() - called >= Duration::from_millis(300));
    assert!(a.wait().unwrap() - called >= Duration::from_millis(300));
    assert_eq!(s.wait(), Ok(42));
    assert!(called.elapsed() >= Duration::from_millis(300));
}

#[test]
fn a_delayed_task_is_cancelled_before_it_starts() {
    let mut t = blocking_at();
    assert_eq!(t.wait_timeout(Duration::from_millis(50)), None);
    assert!(t.cancel());
    assert_eq!(t.wait(), Err(TaskError::Cancelled));
}

#[test]
fn the_timeout_counts_from_the_start_not_from_the_call() {
    // 0.2 s of delay + 0.4 s of run: past 0.5 s from the call, within 0.5 s of its start.
    assert_eq!(sleeps(400).wait(), Ok(400));
    assert_eq!(sleeps(900).wait(), Err(TaskError::TimedOut));
}
