//! A pool's timers: what it starts at an instant (a thread-executor worker's next run),
//! ordered in a heap and woken on a 1 ms grid.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Something a pool starts at an instant (see [`Pool::schedule`]).
pub(crate) trait Timer: Send + Sync + 'static {
    /// It is due: called on a pool thread (without the pool's lock) with the `tag` it was
    /// scheduled with; whatever it submits to the pool, this thread takes first.
    fn fire(self: Arc<Self>, tag: u64);
    /// The pool stops with it still waiting: it will never fire.
    fn dropped(self: Arc<Self>);
}

/// A timer in a pool's heap: the earliest due (then the first scheduled) on top.
pub(super) struct Timed {
    pub(super) due: Instant,
    pub(super) seq: u64,
    pub(super) tag: u64,
    /// Weak: a timer whose owner is gone (a stopped worker) keeps nothing alive.
    pub(super) timer: std::sync::Weak<dyn Timer>,
}

impl PartialEq for Timed {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Timed {}

impl PartialOrd for Timed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timed {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: `BinaryHeap` is a max-heap.
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// Tells the timers a stopping pool holds that they will never fire (without its lock).
pub(super) fn drop_timers(timers: BinaryHeap<Timed>) {
    for t in timers {
        if let Some(timer) = t.timer.upgrade() {
            timer.dropped();
        }
    }
}

/// Timers wake a thread on a 1 ms grid (as tokio's timer wheel does): never before a timer
/// is due, and at most once a millisecond for many timers due close together.
const TIMER_GRID_NS: u128 = 1_000_000;

/// The first instant on the grid at or after `due`.
pub(super) fn on_grid(due: Instant) -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let ns = due.saturating_duration_since(epoch).as_nanos();
    let up = ns.div_ceil(TIMER_GRID_NS) * TIMER_GRID_NS;
    let extra = u64::try_from(up - ns).unwrap_or(0);
    due + Duration::from_nanos(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_grid_never_fires_early_and_is_late_by_under_a_millisecond() {
        let now = Instant::now();
        for us in [0, 1, 250, 999, 1_000, 1_001, 123_456] {
            let due = now + Duration::from_micros(us);
            let at = on_grid(due);
            assert!(at >= due && at - due < Duration::from_millis(1), "{us} µs");
            assert_eq!(on_grid(at), at, "a grid instant stays put");
        }
    }
}
