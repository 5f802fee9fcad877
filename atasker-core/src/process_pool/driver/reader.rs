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
}
