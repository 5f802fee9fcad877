//! When an interval, delay, loop or cron worker runs ([`Schedule`]), and how an interval
//! worker catches up after an overrun: what both of its drivers share (the runtime loop in
//! `interval.rs`, the pool-timer chain in `timed.rs`).

use super::Core;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// When a [`Worker`](crate::worker::Worker) runs (what `#[background_worker]` fills through `__private`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Schedule {
    /// Back to back, yielding between runs.
    #[default]
    Loop,
    /// At a fixed rate from `start()`; an overrun delays the next run (no overlap, no burst).
    Interval(Duration),
    /// This long after the previous run ended.
    Delay(Duration),
    /// At the ticks of a cron expression (validated by the macro), in a time zone (`None`:
    /// UTC; `"local"`; an IANA name). `fleet`: once per tick in a cluster; without one (as
    /// now), locally.
    Cron {
        /// The expression.
        expr: &'static str,
        /// The zone.
        tz: Option<&'static str>,
        /// Once per tick in a cluster.
        fleet: bool,
    },
}

/// The tick `next` of an interval worker ticking `every`, or now if a run overran it: then
/// the worker runs at once and keeps the rate from there (no burst), and the ticks before
/// now that this run stands for count as missed.
pub(crate) fn catch_up(core: &Core, next: Instant, every: Duration) -> Instant {
    let now = Instant::now();
    if next >= now {
        return next;
    }
    let behind = (now - next).as_nanos() / every.as_nanos().max(1);
    core.missed
        .fetch_add(u64::try_from(behind).unwrap_or(u64::MAX), Relaxed);
    now
}
