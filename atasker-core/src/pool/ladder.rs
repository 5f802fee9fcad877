//! The admission ladder shared by the thread and process pools.
//!
//! LOW runs while fewer than `pool` tasks are busy, NORMAL while fewer than
//! `pool + reserve_normal`, HIGH while fewer than `pool + reserve_normal + reserve_high`;
//! CRITICAL is admitted at once and counts as busy. A task that cannot be admitted waits in
//! the FIFO queue of its priority; when a slot frees, queues are served highest first. The
//! ladder keeps one invariant after every call: a queue is non-empty only while its priority's
//! cap is reached, so a lower priority can never start before a higher one that waits.

use crate::priority::Priority;
use crate::task::{Header, TaskInfo};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub(crate) struct Queued<J> {
    pub(crate) job: J,
    pub(crate) at: Instant,
}

/// A queued job taken out of the ladder to be sent ahead (see [`Ladder::ahead`]).
pub(crate) struct Ahead<J> {
    pub(crate) job: J,
    /// When it was queued.
    pub(crate) at: Instant,
    /// Whether the queue-wait warning, and the critical hook, fired for it already.
    pub(crate) warned: bool,
    pub(crate) critical: bool,
}

/// Busy-slot caps: `pool`, `pool + reserve_normal`, `pool + reserve_normal + reserve_high`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    caps: [usize; 3],
}

impl Limits {
    pub(crate) fn new(pool: usize, reserve_normal: usize, reserve_high: usize) -> Self {
        let normal = pool.saturating_add(reserve_normal);
        Limits {
            caps: [pool, normal, normal.saturating_add(reserve_high)],
        }
    }

    /// The HIGH cap: how many slots the ladder grants below CRITICAL.
    pub(crate) fn top(&self) -> usize {
        self.caps[2]
    }

    pub(crate) fn cap(&self, p: Priority) -> usize {
        match p {
            Priority::Critical => usize::MAX,
            p => self.caps[p.index()],
        }
    }
}

pub(crate) struct Ladder<J> {
    limits: Limits,
    queues: [VecDeque<Queued<J>>; 3],
    busy: usize,
    /// How many entries at the head of each queue fired the warning / the critical hook.
    warned: [usize; 3],
    critical: [usize; 3],
}

/// What the watchdog found in one scan.
#[derive(Default)]
pub(crate) struct Overdue {
    pub(crate) warnings: Vec<TaskInfo>,
    pub(crate) criticals: Vec<TaskInfo>,
    /// When the next entry becomes due, if any waits.
    pub(crate) next: Option<Instant>,
}

impl<J: super::PoolJob> Ladder<J> {
    pub(crate) fn new(limits: Limits) -> Self {
        Ladder {
            limits,
            queues: Default::default(),
            busy: 0,
            warned: [0; 3],
            critical: [0; 3],
        }
    }

    pub(crate) fn busy(&self) -> usize {
        self.busy
    }

    pub(crate) fn queued(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// Offers a job. `Some(job)`: admitted, it holds a slot and is running; `None`: queued, or
    /// dropped because it was cancelled meanwhile.
    pub(crate) fn submit(&mut self, job: J) -> Option<J> {
        let p = job.header().priority;
        if self.busy < self.limits.cap(p) {
            if job.header().try_start(None) {
                self.busy += 1;
                return Some(job);
            }
            return None;
        }
        self.queues[p.index()].push_back(Queued {
            job,
            at: Instant::now(),
        });
        None
    }

    /// Frees one slot.
    pub(crate) fn release(&mut self) {
        debug_assert!(self.busy > 0);
        self.busy -= 1;
    }

    /// The next queued job that may start now, highest priority first; it holds a slot.
    pub(crate) fn next(&mut self) -> Option<J> {
        for p in [Priority::High, Priority::Normal, Priority::Low] {
            let i = p.index();
            while self.busy < self.limits.cap(p) {
                let Some(q) = self.queues[i].pop_front() else {
                    break;
                };
                self.warned[i] = self.warned[i].saturating_sub(1);
                self.critical[i] = self.critical[i].saturating_sub(1);
                if q.job.header().try_start(Some(q.at)) {
                    self.busy += 1;
                    return Some(q.job);
                }
            }
            if !self.queues[i].is_empty() {
                // This priority waits, so every lower one (with a smaller cap) waits too.
                return None;
            }
        }
        None
    }

    /// The queued job that [`next`](Ladder::next) would start if one busy slot freed, taken
    /// out of its queue without a slot and still queued: a process driver sends it ahead to
    /// its child, to start on the slot of the task before it once that one ends (see
    /// `process_pool/driver.rs`). Highest priority first, reserves respected, as `next`.
    pub(crate) fn ahead(&mut self) -> Option<Ahead<J>> {
        let busy = self.busy.saturating_sub(1);
        for p in [Priority::High, Priority::Normal, Priority::Low] {
            let i = p.index();
            if busy < self.limits.cap(p) {
                while let Some(q) = self.queues[i].pop_front() {
                    let warned = self.warned[i] > 0;
                    let critical = self.critical[i] > 0;
                    self.warned[i] = self.warned[i].saturating_sub(1);
                    self.critical[i] = self.critical[i].saturating_sub(1);
                    if q.job.header().state() == crate::task::QUEUED {
                        return Some(Ahead {
                            job: q.job,
                            at: q.at,
                            warned,
                            critical,
                        });
                    }
                }
            }
            if !self.queues[i].is_empty() {
                return None;
            }
        }
        None
    }

    /// Puts back queued jobs taken ahead that no child started, at the head of their
    /// queues (they were taken from there: older than every job queued behind them), oldest
    /// first. One counts as reported if it was, or if the head of its queue was.
    pub(crate) fn requeue(&mut self, mut jobs: Vec<Ahead<J>>) {
        jobs.sort_by_key(|a| a.at);
        for a in jobs.into_iter().rev() {
            // Never CRITICAL (it is never queued); kept anyway, as HIGH.
            let i = a.job.header().priority.index().min(self.queues.len() - 1);
            for (marks, reported) in [
                (&mut self.warned[i], a.warned),
                (&mut self.critical[i], a.critical),
            ] {
                if reported || *marks > 0 {
                    *marks += 1;
                }
            }
            self.queues[i].push_front(Queued {
                job: a.job,
                at: a.at,
            });
        }
    }

    /// The lowest priority that would start at once (a slot it may use is free); `None`:
    /// only CRITICAL would.
    pub(crate) fn room(&self) -> Option<Priority> {
        [Priority::Low, Priority::Normal, Priority::High]
            .into_iter()
            .find(|&p| self.busy < self.limits.cap(p))
    }

    /// Takes the queued job of task `h` out of its queue and starts it without a slot (it
    /// runs on a thread that already holds one: a pool thread waiting for it). `None` if it
    /// is not queued here.
    pub(crate) fn take(&mut self, h: &Header) -> Option<J> {
        let i = h.priority.index();
        if i >= self.queues.len() {
            return None;
        }
        let k = self.queues[i]
            .iter()
            .position(|q| q.job.header().id == h.id)?;
        let q = self.queues[i].remove(k)?;
        // The marks count reported entries at the head of the queue.
        if k < self.warned[i] {
            self.warned[i] -= 1;
        }
        if k < self.critical[i] {
            self.critical[i] -= 1;
        }
        q.job.header().try_start(Some(q.at)).then_some(q.job)
    }

    /// Takes every queued job out (for a stop deadline).
    pub(crate) fn drain(&mut self) -> Vec<J> {
        self.warned = [0; 3];
        self.critical = [0; 3];
        self.queues
            .iter_mut()
            .flat_map(|q| q.drain(..).map(|q| q.job))
            .collect()
    }

    /// Finds queued tasks that have waited past `warn` or `crit` and were not reported yet.
    pub(crate) fn overdue(
        &mut self,
        now: Instant,
        warn: Duration,
        crit: Duration,
        out: &mut Overdue,
    ) {
        for i in 0..3 {
            let q = &self.queues[i];
            for (mark, limit, list) in [
                (&mut self.warned[i], warn, &mut out.warnings),
                (&mut self.critical[i], crit, &mut out.criticals),
            ] {
                while let Some(e) = q.get(*mark) {
                    // A threshold beyond what an `Instant` holds is never reached.
                    let Some(due) = e.at.checked_add(limit) else {
                        break;
                    };
                    if due > now {
                        out.next = Some(out.next.map_or(due, |n| n.min(due)));
                        break;
                    }
                    if e.job.header().state() == crate::task::QUEUED {
                        list.push(e.job.header().info(now - e.at));
                    }
                    *mark += 1;
                }
            }
        }
    }
}
