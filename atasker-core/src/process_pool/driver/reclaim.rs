//! Taking back jobs sent ahead that no child has started, for the ladder to start again: so
//! that a freed child never idles while jobs wait in another's window, and a task queued
//! at a higher priority starts before the ones sent ahead of it.
//!
//! A driver about to idle looks at the windows; jobs another driver took from the ladder
//! before this one's slot freed may land in a window only after that look. So the idling
//! driver counts itself in its pool's [`Hints::idle`] before it looks, and a driver that has
//! just sent jobs ahead looks at that count after they landed: one of the two sees the
//! other.

use super::lane::Hints;
use crate::pool::Queue;
use crate::priority::Priority;
use crate::process_pool::{Processes, WINDOW};
use std::cell::Cell;
use std::sync::atomic::Ordering::SeqCst;

thread_local! {
    /// The entry of its pool's [`Hints::idle`] that counts the calling driver, while it
    /// idles (a driver thread serves one pool).
    static MARK: Cell<Option<usize>> = const { Cell::new(None) };
}

impl Hints {
    /// The calling driver idles, with a free slot that may start `lowest` and above.
    fn mark_idle(&self, lowest: Priority) {
        self.unmark_idle();
        let i = lowest.index().min(self.idle.len() - 1);
        self.idle[i].fetch_add(1, SeqCst);
        MARK.with(|m| m.set(Some(i)));
    }

    /// The calling driver is handed a job, or ends: it no longer idles.
    fn unmark_idle(&self) {
        if let Some(i) = MARK.with(Cell::take) {
            self.idle[i].fetch_sub(1, SeqCst);
        }
    }

    /// Whether a driver idles whose free slot may start a job of priority `p`.
    fn idle_for(&self, p: Priority) -> bool {
        let i = p.index().min(self.idle.len() - 1);
        self.idle[..=i].iter().any(|n| n.load(SeqCst) > 0)
    }
}

impl Processes {
    /// A driver is about to idle: takes back what waits in the windows that its free slot
    /// may start (see [`take_back`](Processes::take_back)).
    pub(crate) fn reclaim_for_idle(&self, queue: &Queue<'_, Self>) {
        let Some(lowest) = queue.room() else {
            return; // no free slot below CRITICAL: nothing it could start
        };
        // Counted before it looks (see the module's doc).
        self.hints.mark_idle(lowest);
        if self.hints.waiting(|p| p >= lowest) {
            self.take_back(lowest, queue);
        }
    }

    /// Jobs up to priority `top` were just sent ahead: a driver idling meanwhile that may
    /// start them (it looked before they landed) gets its share.
    pub(super) fn sent_ahead(&self, top: Priority, queue: &Queue<'_, Self>) {
        if !self.hints.idle_for(top) {
            return;
        }
        if let Some(lowest) = queue.room() {
            self.take_back(lowest, queue);
        }
    }

    /// A task of priority `p` queued: takes back every job of a lower priority waiting in
    /// a window, so that the ladder starts it before them.
    pub(crate) fn reclaim_below(&self, p: Priority, queue: &Queue<'_, Self>) {
        if !self.hints.waiting(|q| q < p) {
            return;
        }
        for lane in self.lanes() {
            lane.withdraw(|q| q < p, |n| n, |back| queue.requeue(back));
        }
    }

    /// The calling driver is handed a job, or ends: it no longer idles.
    pub(super) fn unmark_idle(&self) {
        self.hints.unmark_idle();
    }

    /// Takes back what waits in the windows of a priority `lowest` or above (what a free
    /// slot may start): half of each window's (oldest first), at most a window. The ladder
    /// starts the first on a free driver, which takes the others ahead; the rest stay where
    /// they were.
    fn take_back(&self, lowest: Priority, queue: &Queue<'_, Self>) {
        let mut taken = 0;
        for lane in self.lanes() {
            let room = WINDOW - taken.min(WINDOW);
            if room == 0 {
                break;
            }
            let share = |n: usize| n.div_ceil(2).min(room);
            taken += lane.withdraw(|p| p >= lowest, share, |back| queue.requeue(back));
        }
    }
}
