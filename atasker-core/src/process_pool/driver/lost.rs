//! What a driver does when its child is lost (gone, or its replies broken): the child is
//! reaped, the jobs it took fail, and those it never took (its claims say which) stay in the
//! lane, in order, for a fresh child.

use super::lane::{span, Entry};
use super::Driver;
use crate::error::TaskError;
use crate::process_pool::claims::{Claims, Fate};
use crate::process_pool::process::Exit;
use crate::process_pool::{Processes, SEND_TRIES};
use crate::task::QUEUED;

/// Why the child must be given up.
pub(super) enum Lost {
    /// It is gone (EOF, a broken pipe).
    Gone,
    /// Its reply stream is broken (an oversized or malformed frame): `Codec` for the job it
    /// answered.
    Broken(String),
}

impl Processes {
    /// The child is gone, or must go: it is reaped; the jobs it took fail, those it never
    /// took stay in the lane, in order, for a fresh child.
    pub(super) fn lost(&self, d: &mut Driver, lost: Lost) {
        let claims = d.child.as_ref().map(|c| c.claims.clone());
        let (exit, doomed) = match &lost {
            Lost::Gone => self.bury(d, false),
            Lost::Broken(_) => self.bury(d, true),
        };
        let (ran, left) = take_out_started(d, claims.as_deref());
        d.in_flight = 0;
        d.ahead_bytes = 0;
        d.retire = false;
        let failed = ran.len();
        fail_started(ran, &lost, exit);
        if doomed || (failed == 0 && left == 0) {
            tracing::debug!(exit = %exit, failed, resent = left, "atasker: worker process replaced");
        } else {
            tracing::warn!(exit = %exit, failed, resent = left, "atasker: worker process exited; the tasks it ran failed, those it had not started go to a fresh one");
        }
    }
}

/// Takes out of the lane the jobs the lost child had started (as `claims` say); the others
/// stay, in order and no longer written, for a fresh child. A job that every child it was
/// offered to died before taking is taken out too. Returns the jobs taken out and how many
/// stay.
fn take_out_started(d: &mut Driver, claims: Option<&Claims>) -> (Vec<Entry>, usize) {
    let mut ran = Vec::new();
    let mut left = 0;
    let mut st = d.lane.lock();
    let entries = std::mem::take(&mut st.entries);
    for mut e in entries {
        let took = match (e.seq, claims) {
            (Some(seq), Some(c)) => c.fate(seq) == Fate::Started,
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
    (ran, left)
}

/// Fails the jobs taken out of the lane of a lost child: with `Codec` the one whose reply was
/// broken (the first), with how the child ended every other.
fn fail_started(ran: Vec<Entry>, lost: &Lost, exit: Exit) {
    for (k, mut e) in ran.into_iter().enumerate() {
        if e.header().state() == QUEUED && !e.start(false) {
            continue;
        }
        let _span = span(e.header()).entered();
        match lost {
            Lost::Broken(m) if k == 0 => e.job.fail(TaskError::Codec(format!(
                "bad reply from the worker process: {m}"
            ))),
            _ => e.job.fail(exit.error()),
        }
    }
}
