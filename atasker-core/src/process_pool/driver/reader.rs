//! The reply reader: reads the child's replies, in order, and finishes their jobs.

use super::lane::{span, Entry};
use super::lost::Lost;
use super::Driver;
use crate::error::TaskError;
use crate::process_pool::process::Child;
use crate::process_pool::protocol::{self, FrameError, Reply};
use crate::process_pool::Processes;
use crate::task::QUEUED;

impl Processes {
    /// Reads one reply (waiting for it), then every reply already arrived, and finishes
    /// their jobs; then the job the child has reached starts.
    pub(super) fn read(&self, d: &mut Driver) -> Result<(), Lost> {
        loop {
            let child = d.child.as_mut().expect("a child to read from");
            match child.recv(&mut d.replies) {
                Ok(true) => {}
                Ok(false) | Err(FrameError::Io(_)) => return Err(Lost::Gone),
                Err(e) => return Err(Lost::Broken(e.to_string())),
            }
            let Some(answered) = answered(d) else {
                return Err(Lost::Broken("a reply to no request".to_owned()));
            };
            d.in_flight -= 1;
            d.tries = 0;
            match answered {
                Answered::Job(entry) => {
                    d.ahead_bytes -= entry.ahead;
                    self.answer(d, entry);
                }
                Answered::Withdrawn(len) => {
                    d.ahead_bytes -= len;
                    if !matches!(protocol::parse_reply(&d.replies), Ok(Reply::Skipped)) {
                        // It ran although withdrawn: the child is suspect.
                        tracing::error!("atasker: a worker process ran a withdrawn request");
                        d.retire = true;
                    }
                }
            }
            if !d.child.as_ref().is_some_and(Child::reply_ready) {
                break;
            }
        }
        protocol::trim(&mut d.replies);
        if d.in_flight > 0 {
            start_reached(d);
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
}

/// What a reply answers.
enum Answered {
    /// The job of the lane's first entry.
    Job(Entry),
    /// A request withdrawn from the child (its job went back to the ladder), of this size.
    Withdrawn(usize),
}

/// Takes out of the lane what the reply that came answers: the request written first and
/// not answered yet (the child answers in order). `None`: no request is unanswered.
fn answered(d: &mut Driver) -> Option<Answered> {
    let mut st = d.lane.lock();
    let first = st.entries.front().and_then(|e| e.seq);
    let withdrawn = st
        .withdrawn
        .first_key_value()
        .map(|(&seq, &len)| (seq, len));
    let answered = match (first, withdrawn) {
        (first, Some((seq, len))) if first.is_none_or(|f| seq < f) => {
            st.withdrawn.remove(&seq);
            Answered::Withdrawn(len)
        }
        (Some(_), _) => Answered::Job(st.entries.pop_front()?),
        _ => return None,
    };
    d.held = st.entries.len() + st.withdrawn.len();
    Some(answered)
}

/// The job the child has reached starts: the first written, once every request before it
/// is answered.
fn start_reached(d: &Driver) {
    let mut st = d.lane.lock();
    let withdrawn = st.withdrawn.keys().next().copied();
    if let Some(e) = st.entries.front_mut() {
        let reached = e.seq.is_some_and(|s| withdrawn.is_none_or(|w| w > s));
        if reached && e.header().state() == QUEUED {
            e.start(true);
        }
    }
}
