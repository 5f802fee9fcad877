//! The admission ladder shared by the thread and process pools.
//!
//! LOW runs while fewer than `pool` tasks are busy, NORMAL while fewer than
//! `pool + reserve_normal`, HIGH while fewer than `pool + reserve_normal + reserve_high`;
//! CRITICAL is admitted at once and counts as busy. A task that cannot be admitted waits in
//! the FIFO queue of its priority; when a slot frees, queues are served highest first. The
//! ladder keeps one invariant after every call: a queue is non-empty only while its priority's
//! cap is reached, so a lower priority can never start before a higher one that waits.
//!
//! Per-name limits (`limit = N`, counted in [`PerName`]) bend that invariant one way: a job
//! whose name runs its limit is *blocked*: it stays queued in its place, holding no slot,
//! while the next eligible job (highest priority first, FIFO within one) starts; once its
//! name has room (a run of that name ends and its slot is released), it starts first. So
//! a queue is non-empty while its priority's cap is not reached only if every job in it is
//! blocked. Jobs without a limit pay one `Option` test for this; the scan past blocked jobs
//! runs only in a queue that holds limited jobs, and resumes where it stopped (`skip`)
//! until a count drops.

use super::limits::{Claim, PerName};
use crate::priority::Priority;
use crate::task::{Header, TaskInfo, QUEUED};
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
    /// One FIFO queue per priority, by [`Priority::index`]: CRITICAL's holds only jobs
    /// blocked by their names' limits (it is admitted at once otherwise).
    queues: [VecDeque<Queued<J>>; 4],
    busy: usize,
    /// How many entries at the head of each queue fired the warning / the critical hook.
    warned: [usize; 4],
    critical: [usize; 4],
    /// The running count of every limited name.
    names: PerName,
    /// How many jobs with a limit each queue holds (0: it is served without a scan).
    limited: [usize; 4],
    /// How many entries at the head of each queue are known blocked by their names'
    /// limits (where the last scan stopped): valid until a count drops, which resets it.
    skip: [usize; 4],
}

/// What the watchdog found in one scan.
#[derive(Default)]
pub(crate) struct Overdue {
    pub(crate) warnings: Vec<TaskInfo>,
    pub(crate) criticals: Vec<TaskInfo>,
    /// When the next entry becomes due, if any waits.
    pub(crate) next: Option<Instant>,
}

impl Overdue {
    /// Looks at the task `h`, queued since `at` and still queued: reports it once past the
    /// warning (`warn`) and once past the critical threshold (`crit`), `reported` holding
    /// whether each was (the warning's, the critical's), or notes when it will be due.
    pub(crate) fn look(
        &mut self,
        h: &Header,
        at: Instant,
        reported: [&mut bool; 2],
        (now, warn, crit): (Instant, Duration, Duration),
    ) {
        if h.state() != QUEUED {
            return;
        }
        let [warned, critical] = reported;
        for (flag, limit, list) in [
            (warned, warn, &mut self.warnings),
            (critical, crit, &mut self.criticals),
        ] {
            if *flag {
                continue;
            }
            // A threshold beyond what an `Instant` holds is never reached.
            let Some(due) = at.checked_add(limit) else {
                continue;
            };
            if due <= now {
                *flag = true;
                list.push(h.info(now - at));
            } else {
                self.next = Some(self.next.map_or(due, |n| n.min(due)));
            }
        }
    }
}

impl<J: super::PoolJob> Ladder<J> {
    pub(crate) fn new(limits: Limits) -> Self {
        Ladder {
            limits,
            queues: Default::default(),
            busy: 0,
            warned: [0; 4],
            critical: [0; 4],
            names: PerName::default(),
            limited: [0; 4],
            skip: [0; 4],
        }
    }

    pub(crate) fn busy(&self) -> usize {
        self.busy
    }

    /// Every queued job, blocked ones included.
    pub(crate) fn queued(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// The queued jobs that wait for a slot: those of every priority whose cap is reached
    /// (the others are blocked by their names' limits only, see the module's doc). Without
    /// limits, every queued job.
    pub(crate) fn waiting(&self) -> usize {
        [Priority::High, Priority::Normal, Priority::Low]
            .into_iter()
            .filter(|&p| self.busy >= self.limits.cap(p))
            .map(|p| self.queues[p.index()].len())
            .sum()
    }

    /// Offers a job. `Some(job)`: admitted, it holds a slot and is running; `None`: queued
    /// (every slot its priority may use is busy, or its name runs its limit), or dropped
    /// because it was cancelled meanwhile.
    pub(crate) fn submit(&mut self, job: J) -> Option<J> {
        let h = job.header();
        let p = h.priority;
        if self.busy < self.limits.cap(p) && self.names.has_room(h) {
            if h.try_start(None) {
                self.busy += 1;
                self.names.started(h);
                return Some(job);
            }
            return None;
        }
        let q = Queued {
            job,
            at: Instant::now(),
        };
        self.push(p.index(), q, false);
        None
    }

    /// Frees the slot of a run that ended; `claim` is what its job left (see [`Claim`]): its
    /// name's count drops.
    pub(crate) fn release(&mut self, claim: Claim) {
        debug_assert!(self.busy > 0);
        self.busy -= 1;
        if self.names.ended(claim) {
            self.skip = [0; 4];
        }
    }

    /// Looks again at the runs taken inline (see [`PerName::prune`]). `true` if a count
    /// dropped: blocked jobs may start now, and the caller should ask [`next`](Ladder::next)
    /// before it offers a new job, so that they start first. Nothing to do (and `false`)
    /// while no inline run of a limited task is counted.
    pub(crate) fn refresh(&mut self) -> bool {
        let dropped = self.names.prune();
        if dropped {
            self.skip = [0; 4];
        }
        dropped
    }

    /// The next queued job that may start now, highest priority first (FIFO within one,
    /// past the jobs blocked by their names' limits); it holds a slot.
    pub(crate) fn next(&mut self) -> Option<J> {
        self.refresh();
        for p in [
            Priority::Critical,
            Priority::High,
            Priority::Normal,
            Priority::Low,
        ] {
            let i = p.index();
            while self.busy < self.limits.cap(p) {
                let Some(q) = self.first_eligible(i).and_then(|k| self.remove_at(i, k)) else {
                    break;
                };
                let h = q.job.header();
                if h.try_start(Some(q.at)) {
                    self.busy += 1;
                    self.names.started(h);
                    return Some(q.job);
                }
            }
            if self.busy >= self.limits.cap(p) {
                // This priority waits, so every lower one (with a smaller cap) waits too.
                return None;
            }
        }
        None
    }

    /// Where the first job of queue `i` that may start is: one not blocked by its name's
    /// limit, or a cancelled one (for the caller to drop). `None`: the queue is empty, or
    /// every job in it is blocked. Scans only a queue that holds limited jobs, from where
    /// the last scan stopped.
    fn first_eligible(&mut self, i: usize) -> Option<usize> {
        let q = &self.queues[i];
        if self.limited[i] == 0 {
            return (!q.is_empty()).then_some(0);
        }
        let mut k = self.skip[i];
        while let Some(e) = q.get(k) {
            let h = e.job.header();
            if h.state() != QUEUED || self.names.has_room(h) {
                break;
            }
            k += 1;
        }
        self.skip[i] = k;
        (k < q.len()).then_some(k)
    }

    /// Puts `q` at the back of queue `i`, or with `front` at its head.
    fn push(&mut self, i: usize, q: Queued<J>, front: bool) {
        if q.job.header().limit.is_some() {
            self.limited[i] += 1;
        }
        if front {
            // Whatever the scan knew of the head is off by one now.
            self.skip[i] = 0;
            self.queues[i].push_front(q);
        } else {
            self.queues[i].push_back(q);
        }
    }

    /// Takes entry `k` out of queue `i`, keeping right what counts entries at the queue's
    /// head (the watchdog's marks, the blocked ones skipped) and its limited jobs.
    fn remove_at(&mut self, i: usize, k: usize) -> Option<Queued<J>> {
        let q = self.queues[i].remove(k)?;
        for mark in [
            &mut self.warned[i],
            &mut self.critical[i],
            &mut self.skip[i],
        ] {
            if k < *mark {
                *mark -= 1;
            }
        }
        if q.job.header().limit.is_some() {
            self.limited[i] -= 1;
        }
        Some(q)
    }

    /// The queued job that [`next`](Ladder::next) would start if one busy slot freed, taken
    /// out of its queue without a slot and still queued: a process driver sends it ahead to
    /// its child, to start on the slot of the task before it once that one ends (see
    /// `process_pool/driver.rs`). Highest priority first, reserves respected, as `next`. A
    /// job with a limit is never taken ahead (its name's count is checked when it starts,
    /// on a slot of its own): at one, whether it is blocked or not, this stops (`None`).
    pub(crate) fn ahead(&mut self) -> Option<Ahead<J>> {
        let busy = self.busy.saturating_sub(1);
        for p in [Priority::High, Priority::Normal, Priority::Low] {
            let i = p.index();
            if busy < self.limits.cap(p) {
                while let Some(front) = self.queues[i].front() {
                    let h = front.job.header();
                    if h.limit.is_some() && h.state() == QUEUED {
                        return None;
                    }
                    let warned = self.warned[i] > 0;
                    let critical = self.critical[i] > 0;
                    let q = self.remove_at(i, 0)?;
                    if q.job.header().state() == QUEUED {
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
            // Never CRITICAL (only a job blocked by its limit queues there, and such a job is
            // never taken ahead); kept anyway.
            let i = a.job.header().priority.index().min(self.queues.len() - 1);
            for (marks, reported) in [
                (&mut self.warned[i], a.warned),
                (&mut self.critical[i], a.critical),
            ] {
                if reported || *marks > 0 {
                    *marks += 1;
                }
            }
            let q = Queued {
                job: a.job,
                at: a.at,
            };
            self.push(i, q, true);
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
    /// is not queued here. It ignores `h`'s limit (which is what keeps a nested wait from
    /// deadlocking: the waiter may hold the name's last room), yet counts it: until it is
    /// seen finished (see [`PerName::prune`]), it keeps other tasks of its name waiting.
    pub(crate) fn take(&mut self, h: &Header) -> Option<J> {
        let i = h.priority.index();
        let k = (self.queues.get(i)?)
            .iter()
            .position(|q| q.job.header().id == h.id)?;
        let q = self.remove_at(i, k)?;
        if !q.job.header().try_start(Some(q.at)) {
            return None;
        }
        if q.job.header().limit.is_some() {
            self.names.started_inline(&q.job.control());
        }
        Some(q.job)
    }

    /// Takes every queued job out (for a stop deadline).
    pub(crate) fn drain(&mut self) -> Vec<J> {
        self.warned = [0; 4];
        self.critical = [0; 4];
        self.limited = [0; 4];
        self.skip = [0; 4];
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
        for i in 0..self.queues.len() {
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
                    if e.job.header().state() == QUEUED {
                        list.push(e.job.header().info(now - e.at));
                    }
                    *mark += 1;
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "ladder_tests.rs"]
mod tests;
