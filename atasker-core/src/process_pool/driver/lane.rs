//! A driver's window, its [`Lane`]: the jobs a child holds and the child they are written
//! to, shared with whoever must find one of those tasks (a cancel, a deadline, a stop
//! deadline, the watchdog).

use crate::pool::ladder::{Ahead, Overdue};
use crate::priority::Priority;
use crate::process_pool::claims::Claims;
use crate::process_pool::process::{self, Pid};
use crate::process_pool::Job;
use crate::task::{Control, DeadlineGuard, Header, TaskId, QUEUED};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One job of a window.
pub(super) struct Entry {
    pub(super) job: Job,
    /// Its request number on the current child; `None`: not written to it (yet).
    pub(super) seq: Option<u64>,
    /// The size of its frame, while it is written ahead and not answered (counted against
    /// [`Child::ahead_bytes`](crate::process_pool::process::Child::ahead_bytes)).
    pub(super) ahead: usize,
    /// Its frame, built but held back: too large to be written to a busy child.
    pub(super) frame: Option<Vec<u8>>,
    /// When it was queued: its queue wait ends when it starts.
    at: Instant,
    /// Whether the queue-wait warning and the critical hook fired for it.
    warned: bool,
    critical: bool,
    /// Its deadline timer, armed when it starts (`Some(None)`: no timer could be armed).
    deadline: Option<Option<DeadlineGuard>>,
    /// Counts it in its pool's [`Hints`] while it is queued (taken ahead, not started).
    waiting: Option<Waiting>,
}

/// What a pool's drivers count for one another without a lock (sequentially consistent:
/// see `reclaim.rs`).
#[derive(Default)]
pub(crate) struct Hints {
    /// Jobs taken ahead into windows and not started, by priority: whether a withdrawal
    /// ([`Lane::withdraw`]) may find some.
    ahead: [AtomicUsize; 3],
    /// Drivers idling, by the lowest priority their free slot may start.
    pub(super) idle: [AtomicUsize; 3],
}

impl Hints {
    /// Whether some window may hold a job not started of a priority `pick` accepts.
    pub(super) fn waiting(&self, pick: impl Fn(Priority) -> bool) -> bool {
        [Priority::Low, Priority::Normal, Priority::High]
            .into_iter()
            .any(|p| pick(p) && self.ahead[p.index()].load(SeqCst) > 0)
    }
}

/// Counts one job in its pool's [`Hints::ahead`] until dropped.
struct Waiting(Arc<Hints>, usize);

impl Waiting {
    /// Counts a job of priority `p` (CRITICAL jobs are never taken ahead: not counted).
    fn new(hints: &Arc<Hints>, p: Priority) -> Option<Self> {
        let i = p.index();
        hints.ahead.get(i)?.fetch_add(1, SeqCst);
        Some(Waiting(hints.clone(), i))
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.ahead[self.1].fetch_sub(1, SeqCst);
    }
}

impl Entry {
    /// The entry of a job taken from the ladder, counted in `hints` while it is queued.
    pub(super) fn new(a: Ahead<Job>, hints: &Arc<Hints>) -> Self {
        let h = a.job.header();
        let waiting = (h.state() == QUEUED)
            .then(|| Waiting::new(hints, h.priority))
            .flatten();
        Entry {
            waiting,
            job: a.job,
            seq: None,
            ahead: 0,
            frame: None,
            at: a.at,
            warned: a.warned,
            critical: a.critical,
            deadline: None,
        }
    }

    /// The entry of an admitted job: it holds a slot (started).
    pub(super) fn head(job: Job, hints: &Arc<Hints>) -> Self {
        let at = Instant::now();
        Entry::new(
            Ahead {
                job,
                at,
                warned: false,
                critical: false,
            },
            hints,
        )
    }

    /// Its task's header.
    pub(super) fn header(&self) -> &Header {
        self.job.header()
    }

    /// The child reached this job: it starts (ends its queue wait). `arm`: it may run a
    /// while, so its deadline is armed. `false` if it was cancelled meanwhile.
    pub(super) fn start(&mut self, arm: bool) -> bool {
        let h = self.job.header();
        if !h.try_start(Some(self.at)) {
            return false;
        }
        self.waiting = None;
        let _span = span(h).entered();
        h.log_start();
        if arm {
            self.arm();
        }
        true
    }

    /// The job back as the ladder gave it (its queue time and reported marks kept).
    fn into_ahead(self) -> Ahead<Job> {
        Ahead {
            job: self.job,
            at: self.at,
            warned: self.warned,
            critical: self.critical,
        }
    }

    /// Arms the deadline of the started job, once.
    pub(super) fn arm(&mut self) {
        if self.deadline.is_none() {
            let h = self.job.header();
            self.deadline = Some(
                h.timeout
                    .and_then(|t| h.sup.deadline(self.job.control(), t)),
            );
        }
    }
}

/// The tracing span of a process task.
pub(super) fn span(h: &Header) -> tracing::Span {
    tracing::debug_span!("atasker.task", id = h.id.as_u64(), name = h.name, priority = %h.priority, pool = "processes")
}

/// The child a lane's requests are written to.
pub(super) struct Current {
    pub(super) pid: Pid,
    pub(super) claims: Arc<Claims>,
    /// Set when the child is killed on purpose (a cancel, a deadline): it must be replaced.
    pub(super) doomed: Arc<AtomicBool>,
}

/// What a lane's lock guards.
#[derive(Default)]
pub(super) struct LaneState {
    /// `None` from the moment the child is about to be reaped: its pid may not be signalled.
    pub(super) child: Option<Current>,
    /// In order: the jobs written to the child (the first runs, or is about to), then those
    /// not written yet.
    pub(super) entries: VecDeque<Entry>,
    /// Requests written to the child and withdrawn before it took them (their jobs went
    /// back to the ladder), by request number, with their size: the child still answers
    /// each (`Skipped`), in order with the others.
    pub(super) withdrawn: BTreeMap<u64, usize>,
}

/// One driver's window, shared with whoever must find a task a child holds.
#[derive(Default)]
pub(crate) struct Lane {
    state: Mutex<LaneState>,
}

impl Lane {
    /// Locks the window.
    pub(super) fn lock(&self) -> MutexGuard<'_, LaneState> {
        crate::sync::lock(&self.state)
    }

    /// Task `id` (cancelled or timed out) must not run on: withdraws its request if the
    /// child has not taken it, else kills the child. `false` if this lane does not hold it.
    pub(crate) fn stop(&self, id: TaskId) -> bool {
        let st = self.lock();
        let Some(e) = st.entries.iter().find(|e| e.header().id == id) else {
            return false;
        };
        // Not written yet: the driver drops it when it sees the task finished.
        if let (Some(seq), Some(c)) = (e.seq, &st.child) {
            if !c.claims.cancel(seq) {
                c.doomed.store(true, SeqCst);
                process::kill(c.pid);
            }
        }
        true
    }

    /// Takes jobs of the window the child has not started, of a priority `pick` accepts,
    /// back to the ladder (`requeue`, called under the lane's lock: see [`Lane::overdue`]),
    /// oldest first: `share(n)` of the `n` there are. One written to the child is withdrawn
    /// through its claim (the child answers it `Skipped`); one the child took meanwhile
    /// stays. Returns how many it took.
    pub(super) fn withdraw(
        &self,
        pick: impl Fn(Priority) -> bool,
        share: impl FnOnce(usize) -> usize,
        requeue: impl FnOnce(Vec<Ahead<Job>>),
    ) -> usize {
        let mut out = Vec::new();
        let mut st = self.lock();
        let LaneState {
            child,
            entries,
            withdrawn,
        } = &mut *st;
        // A request written to a child being reaped cannot be withdrawn: its fate is read.
        let claims = child.as_ref().map(|c| &c.claims);
        let free = |e: &Entry| {
            e.header().state() == QUEUED
                && pick(e.header().priority)
                && (e.seq.is_none() || claims.is_some())
        };
        let mut left = share(entries.iter().filter(|e| free(e)).count());
        let mut i = 0;
        while left > 0 && i < entries.len() {
            let e = &entries[i];
            if !free(e) {
                i += 1;
                continue;
            }
            if let (Some(seq), Some(c)) = (e.seq, claims) {
                if !c.cancel(seq) {
                    i += 1; // the child took it
                    continue;
                }
                withdrawn.insert(seq, e.ahead);
            }
            let e = entries.remove(i).expect("index in range");
            out.push(e.into_ahead());
            left -= 1;
        }
        let n = out.len();
        if n > 0 {
            requeue(out);
        }
        n
    }

    /// The tasks this lane holds.
    pub(crate) fn tasks(&self) -> Vec<Arc<dyn Control>> {
        self.lock()
            .entries
            .iter()
            .map(|e| e.job.control())
            .collect()
    }

    /// Queued tasks of the windows `lanes` and of the ladder that have waited past `warn` or
    /// `crit`, not yet reported: `ladder` looks at the ladder while every lane is locked. A
    /// job moves between the ladder and a lane only under that lane's lock (see
    /// `take_ahead` and [`Lane::withdraw`]), so each is seen in one of them.
    pub(crate) fn overdue(
        lanes: &[Arc<Lane>],
        ladder: impl FnOnce(&mut Overdue),
        (now, warn, crit): (Instant, Duration, Duration),
        out: &mut Overdue,
    ) {
        let mut held: Vec<_> = lanes.iter().map(|l| l.lock()).collect();
        ladder(out);
        for st in &mut held {
            st.overdue(now, warn, crit, out);
        }
    }
}

impl LaneState {
    /// Queued tasks of the window that have waited past `warn` or `crit`, not yet reported.
    fn overdue(&mut self, now: Instant, warn: Duration, crit: Duration, out: &mut Overdue) {
        for e in &mut self.entries {
            let reported = [&mut e.warned, &mut e.critical];
            out.look(e.job.header(), e.at, reported, (now, warn, crit));
        }
    }
}
