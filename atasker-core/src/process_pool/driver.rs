//! A driver: one pool thread that owns one child process and hands it one job at a time —
//! write the request frame, block for the reply, finish the task. Exactly one task in flight
//! per child, so a short task never waits behind a long one, priorities hold to the letter (a
//! task is sent only when a child is free for it), and a kill costs the one task the child
//! held.

use super::process::{self, Child, Exit};
use super::protocol::{self, FrameError, Reply};
use super::{child_main, Job, Processes, Running, SEND_TRIES};
use crate::error::TaskError;
use crate::task::{Control, DeadlineGuard, RUNNING};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

/// What one driver thread owns.
pub(crate) struct Driver {
    child: Option<Child>,
    /// Set when the child is killed on purpose (a cancel, a deadline): it must be replaced.
    doomed: Arc<AtomicBool>,
    requests: Vec<u8>,
    replies: Vec<u8>,
}

impl Default for Driver {
    fn default() -> Self {
        process::block_sigpipe();
        Driver {
            child: None,
            doomed: Arc::default(),
            requests: Vec::new(),
            replies: Vec::new(),
        }
    }
}

/// Why a job never got an answer from a child.
enum Undelivered {
    /// The task was cancelled meanwhile: nothing to report.
    Cancelled,
    /// No child could be started.
    Unavailable(String),
    /// Every child it was offered to died before reading it.
    Exited(Exit),
}

/// What becomes of the child after a job.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    /// It serves on (unless it was doomed meanwhile).
    Keep,
    /// It must be replaced (a reply it sent made no sense).
    Replace,
    /// It is gone (it said so, or exited).
    Gone,
}

impl Processes {
    /// Runs one admitted job on the driver's child (starting one if needed).
    pub(super) fn run_job(&self, d: &mut Driver, job: Job) {
        let task = job.control();
        let h = task.header();
        let span = tracing::debug_span!("atasker.task", id = h.id.as_u64(), name = h.name, priority = %h.priority, pool = "processes");
        let _span = span.enter();
        if h.state() != RUNNING {
            return; // cancelled while it waited for a driver
        }
        h.log_start();
        if let Err(e) = job.request(&mut d.requests) {
            job.fail(TaskError::Codec(format!(
                "the arguments did not cross: {e}"
            )));
            return;
        }
        let mut deadline = None;
        let after = match self.deliver(d, &task, &mut deadline) {
            Ok(got) => self.answer(d, job, got),
            Err(Undelivered::Cancelled) => After::Keep,
            Err(Undelivered::Unavailable(e)) => {
                job.fail(TaskError::Unavailable(format!(
                    "cannot start a worker process: {e}"
                )));
                After::Keep
            }
            Err(Undelivered::Exited(exit)) => {
                job.fail(exit.error());
                After::Keep
            }
        };
        drop(deadline);
        self.settle(d, after);
    }

    /// Sends the request in `d.requests` to the driver's child (starting one if needed, and
    /// a fresh one when a child turns out dead before reading it), arms the task's deadline,
    /// and waits for the reply frame.
    fn deliver(
        &self,
        d: &mut Driver,
        task: &Arc<dyn Control>,
        deadline: &mut Option<Option<DeadlineGuard>>,
    ) -> Result<Result<bool, FrameError>, Undelivered> {
        let h = task.header();
        let mut tries = 0;
        loop {
            let child = self.ensure_child(d, &mut tries)?;
            self.track(h.id, child.pid, d, task)?;
            if deadline.is_none() {
                *deadline = Some(h.timeout.and_then(|t| h.sup.deadline(task.clone(), t)));
            }
            let child = d.child.as_mut().expect("ensured above");
            if let Err(e) = child.send(&d.requests) {
                // The child died before it could read the request: the task never started.
                self.tracked().running.remove(&h.id);
                let exit = self.bury(d, false);
                tries += 1;
                tracing::debug!(error = %e, exit = %exit, "atasker: worker process was gone; the task goes to a fresh one");
                if tries >= SEND_TRIES {
                    return Err(Undelivered::Exited(exit));
                }
                continue;
            }
            let got = child.recv(&mut d.replies);
            self.tracked().running.remove(&h.id);
            return Ok(got);
        }
    }

    /// The driver's child, started if it has none. A child killed during its handshake is
    /// retried (counted in `tries`); one that cannot start is `Unavailable`.
    fn ensure_child<'d>(
        &self,
        d: &'d mut Driver,
        tries: &mut usize,
    ) -> Result<&'d mut Child, Undelivered> {
        while d.child.is_none() {
            match Child::start(child_main::hello()) {
                Ok(c) => {
                    tracing::debug!(pid = c.pid, "atasker: worker process started");
                    crate::metrics::process_started();
                    self.tracked().children.insert(c.pid);
                    d.child = Some(c);
                    d.doomed = Arc::default();
                }
                Err(e) if e.transient && *tries + 1 < SEND_TRIES => {
                    // Killed during its handshake: the task never reached it.
                    *tries += 1;
                    tracing::debug!(error = %e.message, "atasker: a worker process died while starting; starting another");
                }
                Err(e) => {
                    tracing::error!(error = %e.message, "atasker: cannot start a worker process");
                    return Err(Undelivered::Unavailable(e.message));
                }
            }
        }
        Ok(d.child.as_mut().expect("started above"))
    }

    /// Records that the task is about to run on `pid`, so that a cancel or a deadline can
    /// kill that child; `Cancelled` if the task was cancelled meanwhile.
    fn track(
        &self,
        id: crate::task::TaskId,
        pid: process::Pid,
        d: &Driver,
        task: &Arc<dyn Control>,
    ) -> Result<(), Undelivered> {
        let mut tracked = self.tracked();
        if task.header().state() != RUNNING {
            return Err(Undelivered::Cancelled);
        }
        let running = Running {
            pid,
            doomed: d.doomed.clone(),
            task: task.clone(),
        };
        tracked.running.insert(id, running);
        Ok(())
    }

    /// Finishes the job with the child's reply (or its death).
    fn answer(&self, d: &mut Driver, job: Job, got: Result<bool, FrameError>) -> After {
        let bad = |e: &dyn std::fmt::Display| {
            TaskError::Codec(format!("bad reply from the worker process: {e}"))
        };
        match got {
            Ok(true) => match protocol::parse_reply(&d.replies) {
                Ok(Reply::Ok(payload)) => {
                    // A result that does not decode: the child is suspect.
                    if job.complete(payload) {
                        After::Keep
                    } else {
                        After::Replace
                    }
                }
                Ok(Reply::Error(message)) => {
                    job.fail(TaskError::Codec(message));
                    After::Keep
                }
                Ok(Reply::Panicked(message)) => {
                    job.fail(TaskError::Panicked { message });
                    After::Keep
                }
                Ok(Reply::Fatal(message)) => {
                    job.fail(TaskError::Panicked { message });
                    After::Gone
                }
                Err(e) => {
                    job.fail(bad(&e));
                    After::Replace
                }
            },
            Ok(false) | Err(FrameError::Io(_)) => {
                let exit = self.bury(d, false);
                tracing::warn!(exit = %exit, "atasker: worker process exited while running a task");
                job.fail(exit.error());
                After::Keep
            }
            Err(e) => {
                job.fail(bad(&e));
                After::Replace
            }
        }
    }

    /// Replaces or reaps the child as the job's end requires, and trims the buffers.
    fn settle(&self, d: &mut Driver, after: After) {
        match after {
            After::Keep if !d.doomed.load(SeqCst) => {}
            After::Keep | After::Replace => {
                self.bury(d, true);
            }
            After::Gone => {
                self.bury(d, false);
            }
        }
        protocol::trim(&mut d.requests);
        protocol::trim(&mut d.replies);
    }

    /// Reaps the driver's child (killing it first with `kill`, or if it was doomed).
    fn bury(&self, d: &mut Driver, kill: bool) -> Exit {
        let Some(child) = d.child.take() else {
            return Exit::default();
        };
        let pid = child.pid;
        self.tracked().children.remove(&pid);
        let killed = kill || d.doomed.load(SeqCst);
        let exit = if killed {
            child.reap_now()
        } else {
            child.reap()
        };
        tracing::debug!(pid, exit = %exit, killed, "atasker: worker process reaped");
        // The next job starts a fresh one.
        crate::metrics::process_replaced();
        exit
    }

    /// The driver ends: its child is closed (exits 0 on end of file), and killed if still
    /// alive at `close_by`.
    pub(super) fn close(&self, d: &mut Driver, close_by: Instant) {
        if let Some(child) = d.child.take() {
            self.tracked().children.remove(&child.pid);
            let pid = child.pid;
            let exit = child.close(close_by);
            tracing::debug!(pid, exit = %exit, "atasker: worker process closed");
        }
    }
}
