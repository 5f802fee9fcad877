//! A driver: one pool thread that owns one child process and feeds it jobs through a small
//! window.
//!
//! The driver is handed one admitted job (it holds a slot) and writes its request. While the
//! child runs it, and only while queued jobs wait in the ladder (so every slot their
//! priority may use is busy: a free child always gets the next task first), the driver takes
//! up to [`WINDOW`]` - 1` of them ahead: each is what the ladder would start next on the slot
//! of the job before it once that one ends (highest priority first, reserves respected), and
//! is written at once, the frames of a batch in one `write`. The child answers in order, one
//! reply each (written together while it runs quick requests back to back, see
//! `child_main.rs`); when a reply comes, the next job in the window takes the slot of the one
//! answered. So at most one task per child runs, the
//! others stay *queued* (in the statistics, for the watchdog's queue-wait hooks, for a stop
//! deadline) until the child reaches them, and their deadlines count from then. Jobs are
//! taken when the driver wakes (a reply), so the tasks queued while a long task runs are
//! taken, in ladder order, when it ends.
//!
//! A job of a window that the child has not started goes back to the ladder
//! (`reclaim.rs`) when another driver is about to idle (after its linger, see
//! `pool/mod.rs`) and nothing waits in the ladder for its slot, or when a task of a higher
//! priority queues: its request is withdrawn (the child answers it `Skipped`, and the reader
//! matches that reply to the request number kept in [`Lane`]), so it runs once, elsewhere
//! or later, in ladder order.
//!
//! The window's state lives in a [`Lane`], where a cancel, a deadline, a stop deadline and
//! the watchdog find it. A job written ahead is settled in shared memory (see `claims.rs`): a
//! cancel withdraws it if the child has not taken it (the child answers `Skipped`), and kills
//! the child if it has, as a cancel of any running process task does.
//!
//! When a child dies (abort, signal, exit, a kill by a cancel or a deadline), the jobs it had
//! taken and not answered fail with `ProcessExited` (the one it ran, and quick ones whose
//! replies it still held); the jobs it never took go, in order, to a fresh child. None is
//! run twice. A reply that makes no sense fails its job and retires the child: nothing
//! more is written to it, and once it has answered what it holds it is replaced.
//!
//! Requests written ahead are small (at most [`AHEAD_BYTES`](super::AHEAD_BYTES), and half
//! the pipe's capacity, unanswered): the child does not read while it runs a task, so a
//! larger request waits until the child is idle, and a write never blocks on a busy child.
//!
//! Its parts, in `driver/`:
//! - `lane.rs`: the window ([`Lane`]) and its entries, and what a cancel, a deadline or the
//!   watchdog does with them;
//! - `writer.rs`: writing the window's requests, in one `write`;
//! - `reader.rs`: reading replies and finishing their jobs;
//! - `lost.rs`: what the driver does when its child is lost;
//! - `reclaim.rs`: taking back jobs sent ahead that no child started;
//! - `child.rs`: starting, reaping and closing the driver's child.

mod child;
mod lane;
mod lost;
mod reader;
mod reclaim;
mod writer;

pub(crate) use lane::{Hints, Lane};

use super::process::{self, Child};
use super::{Job, Processes, WINDOW};
use crate::pool::ladder::Ahead;
use crate::pool::Queue;
use crate::priority::Priority;
use crate::task::RUNNING;
use lane::{span, Entry};
use lost::Lost;
use std::sync::Arc;

/// What one driver thread owns.
pub(crate) struct Driver {
    child: Option<Child>,
    lane: Arc<Lane>,
    /// Whether the lane is in the pool's list.
    listed: bool,
    /// The pool's hints (its own until listed).
    hints: Arc<Hints>,
    /// The number of the next request written to the child.
    next_seq: u64,
    /// Requests written and not answered (withdrawn ones too).
    in_flight: usize,
    /// Requests the lane holds: its entries, and those withdrawn and not answered.
    held: usize,
    /// Bytes written ahead and not answered.
    ahead_bytes: usize,
    /// The child sent a reply that made no sense: nothing more is written to it, and it is
    /// replaced once it has answered what it holds.
    retire: bool,
    /// Consecutive children that died without taking a request.
    tries: usize,
    requests: Vec<u8>,
    replies: Vec<u8>,
    taken: Vec<Ahead<Job>>,
}

impl Default for Driver {
    fn default() -> Self {
        process::block_sigpipe();
        Driver {
            child: None,
            lane: Arc::default(),
            listed: false,
            hints: Arc::default(),
            next_seq: 0,
            in_flight: 0,
            held: 0,
            ahead_bytes: 0,
            retire: false,
            tries: 0,
            requests: Vec::new(),
            replies: Vec::new(),
            taken: Vec::new(),
        }
    }
}

impl Processes {
    /// Runs one admitted job on the driver's child (starting one if needed), with queued
    /// jobs taken ahead while the child is busy; returns once none is left. A job with a
    /// limit (`limit = N`) runs alone: its slot, whose release drops its name's count, is
    /// lent to no job behind it.
    pub(super) fn run_job(&self, d: &mut Driver, job: Job, queue: &Queue<'_, Self>) {
        self.enlist(d);
        if job.header().state() != RUNNING {
            return; // cancelled while it waited for a driver
        }
        let alone = job.header().limit.is_some();
        let head = Entry::head(job, &d.hints);
        {
            let _span = span(head.header()).entered();
            head.header().log_start();
        }
        d.lane.lock().entries.push_back(head);
        d.held = 1;
        loop {
            if d.child.is_none() {
                if let Err(e) = self.ensure_child(d) {
                    self.fail_all(d, &e);
                    return;
                }
            }
            let top = (!alone).then(|| self.take_ahead(d, queue)).flatten();
            let written = self.write(d);
            if let Some(top) = top {
                // A driver that looked at the windows before these landed may idle.
                self.sent_ahead(top, queue);
            }
            if let Err(e) = written {
                tracing::debug!(error = %e, "atasker: a worker process was gone when written to");
                self.lost(d, Lost::Gone);
                continue;
            }
            if d.in_flight == 0 {
                if d.held == 0 {
                    return;
                }
                if d.retire {
                    // Retired with jobs not written to it: they go to a fresh child.
                    self.bury(d, true);
                    d.retire = false;
                }
                continue;
            }
            if let Err(lost) = self.read(d) {
                self.lost(d, lost);
                continue;
            }
            if d.retire && d.in_flight == 0 {
                self.bury(d, true);
                d.retire = false;
            }
        }
    }

    /// The driver is handed a job: its lane is in the pool's list, and it no longer idles.
    fn enlist(&self, d: &mut Driver) {
        if !d.listed {
            self.tracked().lanes.push(d.lane.clone());
            d.listed = true;
            d.hints = self.hints.clone();
        }
        self.unmark_idle();
    }

    /// While the child is busy and jobs queue, takes some of them ahead (see above);
    /// returns the highest priority taken.
    fn take_ahead(&self, d: &mut Driver, queue: &Queue<'_, Self>) -> Option<Priority> {
        if d.retire || d.held >= WINDOW || !queue.queued_hint() {
            return None;
        }
        // Taken from the ladder and put in the lane under the lane's lock: the watchdog, which
        // looks at the ladder and then at the lanes, sees each job in one of them.
        let mut lane = d.lane.lock();
        queue.ahead(WINDOW - d.held, &mut d.taken);
        let top = d.taken.iter().map(|a| a.job.header().priority).max();
        let hints = &d.hints;
        (lane.entries).extend(d.taken.drain(..).map(|a| Entry::new(a, hints)));
        top
    }
}
