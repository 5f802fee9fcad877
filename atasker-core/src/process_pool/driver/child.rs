//! The driver's child: starting it, reaping it and closing it when the driver ends; and
//! failing the lane's jobs when no child can be started.

use super::lane::Current;
use super::Driver;
use crate::error::TaskError;
use crate::process_pool::process::{Child, Exit};
use crate::process_pool::{child_main, Processes, SEND_TRIES};
use crate::task::QUEUED;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Instant;

impl Processes {
    /// Fails every job of the lane: no child could be started.
    pub(super) fn fail_all(&self, d: &mut Driver, message: &str) {
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
    pub(super) fn ensure_child(&self, d: &mut Driver) -> Result<(), String> {
        let mut tries = 0;
        loop {
            match Child::start(child_main::hello()) {
                Ok(c) => {
                    tracing::debug!(pid = c.pid, "atasker: worker process started");
                    self.metrics.process_started();
                    self.tracked().children.insert(c.pid);
                    d.lane.lock().child = Some(Current {
                        pid: c.pid,
                        claims: c.claims.clone(),
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
    pub(super) fn bury(&self, d: &mut Driver, kill: bool) -> (Exit, bool) {
        let Some(child) = d.child.take() else {
            return (Exit::default(), false);
        };
        let doomed = {
            let mut st = d.lane.lock();
            // Withdrawn requests it never took: their jobs are elsewhere, and it answers none.
            st.withdrawn.clear();
            (st.child.take()).is_some_and(|c| c.doomed.load(SeqCst))
        };
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
        self.metrics.process_replaced();
        (exit, doomed)
    }

    /// The driver ends: its child is closed (exits 0 on end of file), and killed if still
    /// alive at `close_by`; its lane leaves the pool's list.
    pub(crate) fn close(&self, d: &mut Driver, close_by: Instant) {
        self.unmark_idle();
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
