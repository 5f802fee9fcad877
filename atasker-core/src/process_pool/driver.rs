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
//! deadline) until the child reaches them, and their deadlines count from then. A
//! higher-priority task queued later may wait behind the jobs of a window taken before it
//! came, never behind one taken after it. Jobs are taken when the driver wakes (a reply), so
//! the tasks queued while a long task runs are taken, in ladder order, when it ends.
//!
//! The window's state lives in a [`Lane`], where a cancel, a deadline, a stop deadline and
//! the watchdog find it. A job written ahead is settled in shared memory (see `slots.rs`): a
//! cancel withdraws it if the child has not taken it (the child answers `Skipped`), and kills
//! the child if it has, as a cancel of any running process task does.
//!
//! When a child dies (abort, signal, exit, a kill by a cancel or a deadline), the jobs it had
//! taken and not answered fail with `ProcessExited` (the one it ran, and quick ones whose
//! replies it still held); the jobs it never took go, in order, to a fresh child. None is
//! run twice. A reply that makes no sense fails its job and retires the child: nothing
//! more is written to it, and once it has answered what it holds it is replaced.
//!
//! Requests written ahead are small (at most [`AHEAD_BYTES`](super::AHEAD_BYTES), and half the pipe's capacity, unanswered): the child does not
//! read while it runs a task, so a larger request waits until the child is idle, and a write
//! never blocks on a busy child.

use super::process::{self, Child, Exit, Pid};
use super::protocol::{self, FrameError, Reply};
use super::slots::{Fate, Slots};
use super::{child_main, Job, Processes, SEND_TRIES, WINDOW};
use crate::error::TaskError;
use crate::pool::ladder::{Ahead, Overdue};
use crate::pool::Queue;
use crate::task::{Control, DeadlineGuard, Header, TaskId, QUEUED, RUNNING};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One job of a window.
struct Entry {
    job: Job,
    /// Its request number on the current child; `None`: not written to it (yet).
    seq: Option<u64>,
    /// The size of its frame, while it is written ahead and not answered (counted against
    /// [`Child::ahead_bytes`]).
    ahead: usize,
    /// Its frame, built but held back: too large to be written to a busy child.
    frame: Option<Vec<u8>>,
    /// When it was queued: its queue wait ends when it starts.
    at: Instant,
    /// Whether the queue-wait warning and the critical hook fired for it.
    warned: bool,
    critical: bool,
    /// Its deadline timer, armed when it starts (`Some(None)`: no timer could be armed).
    deadline: Option<Option<DeadlineGuard>>,
}

impl Entry {
    fn new(a: Ahead<Job>) -> Self {
        Entry {
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

    fn header(&self) -> &Header {
        self.job.header()
    }

    /// The child reached this job: it starts (ends its queue wait). `arm`: it may run a
    /// while, so its deadline is armed. `false` if it was cancelled meanwhile.
    fn start(&mut self, arm: bool) -> bool {
        let h = self.job.header();
        if !h.try_start(Some(self.at)) {
            return false;
        }
        let _span = span(h).entered();
        h.log_start();
        if arm {
            self.arm();
        }
        true
    }

    /// Arms the deadline of the started job, once.
    fn arm(&mut self) {
        if self.deadline.is_none() {
            let h = self.job.header();
            self.deadline = Some(
                h.timeout
                    .and_then(|t| h.sup.deadline(self.job.control(), t)),
            );
        }
    }
}

fn span(h: &Header) -> tracing::Span {
    tracing::debug_span!("atasker.task", id = h.id.as_u64(), name = h.name, priority = %h.priority, pool = "processes")
}

/// The child a lane's requests are written to.
struct Current {
    pid: Pid,
    slots: Arc<Slots>,
    /// Set when the child is killed on purpose (a cancel, a deadline): it must be replaced.
    doomed: Arc<AtomicBool>,
}

#[derive(Default)]
struct LaneState {
    /// `None` from the moment the child is about to be reaped: its pid may not be signalled.
    child: Option<Current>,
    /// In order: the jobs written to the child (the first runs, or is about to), then those
    /// not written yet.
    entries: VecDeque<Entry>,
}

/// One driver's window, shared with whoever must find a task a child holds.
#[derive(Default)]
pub(crate) struct Lane {
    state: Mutex<LaneState>,
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, LaneState> {
        crate::sync::lock(&self.state)
    }

    /// Task `id` (cancelled or timed out) must not run on: withdraws its request if the
    /// child has not taken it, else kills the child. `false` if this lane does not hold it.
    pub(super) fn stop(&self, id: TaskId) -> bool {
        let st = self.lock();
        let Some(e) = st.entries.iter().find(|e| e.header().id == id) else {
            return false;
        };
        // Not written yet: the driver drops it when it sees the task finished.
        if let (Some(seq), Some(c)) = (e.seq, &st.child) {
            if !c.slots.cancel(seq) {
                c.doomed.store(true, SeqCst);
                process::kill(c.pid);
            }
        }
        true
    }

    /// The tasks this lane holds.
    pub(super) fn tasks(&self) -> Vec<Arc<dyn Control>> {
        self.lock()
            .entries
            .iter()
            .map(|e| e.job.control())
            .collect()
    }

    /// Queued tasks of the window that have waited past `warn` or `crit`, not yet reported.
    pub(super) fn overdue(&self, now: Instant, warn: Duration, crit: Duration, out: &mut Overdue) {
        let mut st = self.lock();
        for e in &mut st.entries {
            let h = e.job.header();
            if h.state() != QUEUED {
                continue;
            }
            for (flag, limit, list) in [
                (&mut e.warned, warn, &mut out.warnings),
                (&mut e.critical, crit, &mut out.criticals),
            ] {
                if *flag {
                    continue;
                }
                let due = e.at + limit;
                if due <= now {
                    *flag = true;
                    list.push(h.info(now - e.at));
                } else {
                    out.next = Some(out.next.map_or(due, |n| n.min(due)));
                }
            }
        }
    }
}

/// What one driver thread owns.
pub(crate) struct Driver {
    child: Option<Child>,
    lane: Arc<Lane>,
    /// Whether the lane is in the pool's list.
    listed: bool,
    /// The number of the next request written to the child.
    next_seq: u64,
    /// Entries written and not answered.
    in_flight: usize,
    /// Entries in the lane.
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

/// Why the child must be given up.
enum Lost {
    /// It is gone (EOF, a broken pipe).
    Gone,
    /// Its reply stream is broken (an oversized or malformed frame): `Codec` for the job it
    /// answered.
    Broken(String),
}

impl Processes {
    /// Runs one admitted job on the driver's child (starting one if needed), with queued
    /// jobs taken ahead while the child is busy; returns once none is left.
    pub(super) fn run_job(&self, d: &mut Driver, job: Job, queue: &Queue<'_, Self>) {
        if !d.listed {
            self.tracked().lanes.push(d.lane.clone());
            d.listed = true;
        }
        if job.header().state() != RUNNING {
            return; // cancelled while it waited for a driver
        }
        let head = Entry::new(Ahead {
            job,
            at: Instant::now(),
            warned: false,
            critical: false,
        });
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
            if !d.retire && d.held < WINDOW && queue.queued_hint() {
                queue.ahead(WINDOW - d.held, &mut d.taken);
            }
            if let Err(e) = self.write(d) {
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

    /// Writes, in one `write`, every job of the lane not yet written that may go now: the
    /// first unconditionally if the child is idle, the others while they fit in
    /// [`Child::ahead_bytes`]. Jobs taken ahead join the lane first; jobs cancelled before they were
    /// written are dropped.
    fn write(&self, d: &mut Driver) -> std::io::Result<()> {
        let Some(child) = d.child.as_mut() else {
            return Ok(());
        };
        d.requests.clear();
        let mut refused = Vec::new();
        {
            let mut st = d.lane.lock();
            let LaneState {
                child: current,
                entries,
            } = &mut *st;
            entries.extend(d.taken.drain(..).map(Entry::new));
            let slots = &current
                .as_ref()
                .expect("the lane names the driver's child")
                .slots;
            let mut i = d.in_flight;
            while i < entries.len() && !d.retire {
                let idle = i == 0;
                let e = &mut entries[i];
                let state = e.header().state();
                let live = match state {
                    RUNNING => true,
                    // Reached by an idle child (a job that outlived a child it never reached).
                    QUEUED if idle => e.start(true),
                    QUEUED => true,
                    _ => false,
                };
                if !live {
                    // Finished meanwhile (cancelled, timed out): nothing to write.
                    entries.remove(i);
                    continue;
                }
                let start = d.requests.len();
                let built = match e.frame.take() {
                    Some(frame) => {
                        d.requests.extend_from_slice(&frame);
                        Ok(())
                    }
                    None => e.job.request(&mut d.requests),
                };
                if let Err(err) = built {
                    refused.push((entries.remove(i).expect("index in range"), err));
                    continue;
                }
                let len = d.requests.len() - start;
                if !idle && d.ahead_bytes + len > child.ahead_bytes {
                    // Held until the child is idle, or enough is answered.
                    e.frame = Some(d.requests.split_off(start));
                    break;
                }
                let seq = d.next_seq;
                d.next_seq += 1;
                e.seq = Some(seq);
                slots.send(seq);
                if idle {
                    e.arm();
                } else {
                    e.ahead = len;
                    d.ahead_bytes += len;
                }
                d.in_flight += 1;
                i += 1;
            }
            d.held = entries.len();
        }
        for (mut e, err) in refused {
            if e.header().state() == QUEUED && !e.start(false) {
                continue;
            }
            e.job.fail(TaskError::Codec(format!(
                "the arguments did not cross: {err}"
            )));
        }
        if d.requests.is_empty() {
            return Ok(());
        }
        let r = child.send(&d.requests);
        protocol::trim(&mut d.requests);
        r
    }

    /// Reads one reply (waiting for it), then every reply already arrived, and finishes
    /// their jobs; then the job the child has reached starts.
    fn read(&self, d: &mut Driver) -> Result<(), Lost> {
        loop {
            let child = d.child.as_mut().expect("a child to read from");
            match child.recv(&mut d.replies) {
                Ok(true) => {}
                Ok(false) | Err(FrameError::Io(_)) => return Err(Lost::Gone),
                Err(e) => return Err(Lost::Broken(e.to_string())),
            }
            let entry = {
                let mut st = d.lane.lock();
                match st.entries.front() {
                    Some(e) if e.seq.is_some() => st.entries.pop_front(),
                    _ => None,
                }
            };
            let Some(entry) = entry else {
                return Err(Lost::Broken("a reply to no request".to_owned()));
            };
            d.in_flight -= 1;
            d.held -= 1;
            d.ahead_bytes -= entry.ahead;
            d.tries = 0;
            self.answer(d, entry);
            if !d.child.as_ref().is_some_and(Child::reply_ready) {
                break;
            }
        }
        protocol::trim(&mut d.replies);
        if d.in_flight > 0 {
            let mut st = d.lane.lock();
            if let Some(e) = st.entries.front_mut() {
                if e.header().state() == QUEUED {
                    e.start(true);
                }
            }
        }
        Ok(())
    }

    /// Finishes a job with the child's reply (in `d.replies`).
    fn answer(&self, d: &mut Driver, mut e: Entry) {
        // It ran (or was withdrawn): a job taken ahead starts now if it has not yet.
        if e.header().state() == QUEUED && !e.start(false) {
            return;
        }
        let _span = span(e.header()).entered();
        let bad = |e: &dyn std::fmt::Display| {
            TaskError::Codec(format!("bad reply from the worker process: {e}"))
        };
        match protocol::parse_reply(&d.replies) {
            Ok(Reply::Ok(payload)) => {
                // A result that does not decode: the child is suspect.
                if !e.job.complete(payload) {
                    d.retire = true;
                }
            }
            Ok(Reply::Error(message)) => e.job.fail(TaskError::Codec(message)),
            Ok(Reply::Panicked(message) | Reply::Fatal(message)) => {
                // After a fatal panic the child exits: its end of file follows.
                e.job.fail(TaskError::Panicked { message });
            }
            // Withdrawn: its task was finished by whoever withdrew it.
            Ok(Reply::Skipped) => e.job.fail(TaskError::Cancelled),
            Err(err) => {
                e.job.fail(bad(&err));
                d.retire = true;
            }
        }
    }

    /// The child is gone, or must go: it is reaped; the jobs it took fail, those it never
    /// took stay in the lane, in order, for a fresh child.
    fn lost(&self, d: &mut Driver, lost: Lost) {
        let slots = d.child.as_ref().map(|c| c.slots.clone());
        let (exit, doomed) = match &lost {
            Lost::Gone => self.bury(d, false),
            Lost::Broken(_) => self.bury(d, true),
        };
        let mut ran = Vec::new();
        let mut left = 0;
        {
            let mut st = d.lane.lock();
            let entries = std::mem::take(&mut st.entries);
            for mut e in entries {
                let took = match (e.seq, &slots) {
                    (Some(seq), Some(s)) => s.fate(seq) == Fate::Started,
                    _ => false,
                };
                if took {
                    ran.push(e);
                } else {
                    e.seq = None;
                    e.ahead = 0;
                    st.entries.push_back(e);
                    left += 1;
                }
            }
            if ran.is_empty() {
                d.tries += 1;
                if d.tries >= SEND_TRIES {
                    // Every child it was offered to died before taking it.
                    d.tries = 0;
                    if let Some(e) = st.entries.pop_front() {
                        ran.push(e);
                        left -= 1;
                    }
                }
            } else {
                d.tries = 0;
            }
            d.held = st.entries.len();
        }
        d.in_flight = 0;
        d.ahead_bytes = 0;
        d.retire = false;
        let failed = ran.len();
        for (k, mut e) in ran.into_iter().enumerate() {
            if e.header().state() == QUEUED && !e.start(false) {
                continue;
            }
            let _span = span(e.header()).entered();
            match &lost {
                Lost::Broken(m) if k == 0 => e.job.fail(TaskError::Codec(format!(
                    "bad reply from the worker process: {m}"
                ))),
                _ => e.job.fail(exit.error()),
            }
        }
        if doomed || (failed == 0 && left == 0) {
            tracing::debug!(exit = %exit, failed, resent = left, "atasker: worker process replaced");
        } else {
            tracing::warn!(exit = %exit, failed, resent = left, "atasker: worker process exited; the tasks it ran failed, those it had not started go to a fresh one");
        }
    }

    /// Fails every job of the lane: no child could be started.
    fn fail_all(&self, d: &mut Driver, message: &str) {
        let entries = std::mem::take(&mut d.lane.lock().entries);
        d.held = 0;
        for mut e in entries {
            if e.header().state() == QUEUED && !e.start(false) {
                continue;
            }
            e.job.fail(TaskError::Unavailable(format!(
                "cannot start a worker process: {message}"
            )));
        }
    }

    /// Starts a child for the driver. A child killed during its handshake is retried a few
    /// times; the error of one that cannot start is returned.
    fn ensure_child(&self, d: &mut Driver) -> Result<(), String> {
        let mut tries = 0;
        loop {
            match Child::start(child_main::hello()) {
                Ok(c) => {
                    tracing::debug!(pid = c.pid, "atasker: worker process started");
                    crate::metrics::process_started();
                    self.tracked().children.insert(c.pid);
                    d.lane.lock().child = Some(Current {
                        pid: c.pid,
                        slots: c.slots.clone(),
                        doomed: Arc::default(),
                    });
                    d.child = Some(c);
                    d.next_seq = 0;
                    return Ok(());
                }
                Err(e) if e.transient && tries + 1 < SEND_TRIES => {
                    // Killed during its handshake: nothing reached it.
                    tries += 1;
                    tracing::debug!(error = %e.message, "atasker: a worker process died while starting; starting another");
                }
                Err(e) => {
                    tracing::error!(error = %e.message, "atasker: cannot start a worker process");
                    return Err(e.message);
                }
            }
        }
    }

    /// Reaps the driver's child (killing it first with `kill`, or if it was doomed).
    /// Returns how it ended and whether it was doomed.
    fn bury(&self, d: &mut Driver, kill: bool) -> (Exit, bool) {
        let Some(child) = d.child.take() else {
            return (Exit::default(), false);
        };
        let doomed = (d.lane.lock().child.take()).is_some_and(|c| c.doomed.load(SeqCst));
        let pid = child.pid;
        self.tracked().children.remove(&pid);
        let killed = kill || doomed;
        let exit = if killed {
            child.reap_now()
        } else {
            child.reap()
        };
        tracing::debug!(pid, exit = %exit, killed, "atasker: worker process reaped");
        // The next job starts a fresh one.
        crate::metrics::process_replaced();
        (exit, doomed)
    }

    /// The driver ends: its child is closed (exits 0 on end of file), and killed if still
    /// alive at `close_by`; its lane leaves the pool's list.
    pub(super) fn close(&self, d: &mut Driver, close_by: Instant) {
        if let Some(child) = d.child.take() {
            d.lane.lock().child = None;
            self.tracked().children.remove(&child.pid);
            let pid = child.pid;
            let exit = child.close(close_by);
            tracing::debug!(pid, exit = %exit, "atasker: worker process closed");
        }
        self.tracked().lanes.retain(|l| !Arc::ptr_eq(l, &d.lane));
    }
}
