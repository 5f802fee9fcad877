//! The request writer: builds the frames of the window's jobs that may go now and writes them
//! to the child in one `write`.

use super::lane::{Entry, LaneState};
use super::Driver;
use crate::error::TaskError;
use crate::process_pool::{protocol, Processes};
use crate::task::{QUEUED, RUNNING};

impl Processes {
    /// Writes, in one `write`, every job of the lane not yet written that may go now: the
    /// first unconditionally if the child is idle, the others while they fit in
    /// [`Child::ahead_bytes`](crate::process_pool::process::Child::ahead_bytes). Jobs taken
    /// ahead are in the lane already (see `take_ahead`); jobs cancelled before they were
    /// written are dropped.
    pub(super) fn write(&self, d: &mut Driver) -> std::io::Result<()> {
        let Some(room) = d.child.as_ref().map(|c| c.ahead_bytes) else {
            return Ok(());
        };
        d.requests.clear();
        let refused = frame_window(d, room);
        refuse(refused);
        if d.requests.is_empty() {
            return Ok(());
        }
        let r = d.child.as_mut().map_or(Ok(()), |c| c.send(&d.requests));
        protocol::trim(&mut d.requests);
        r
    }
}

/// Builds in `d.requests` the frames of the jobs that may be written now, with at most
/// `room` bytes written ahead and not answered, and gives each its request number. Returns
/// the jobs whose arguments could not be encoded, taken out of the lane.
fn frame_window(d: &mut Driver, room: usize) -> Vec<(Entry, String)> {
    let mut refused = Vec::new();
    let mut st = d.lane.lock();
    let LaneState {
        child: current,
        entries,
        withdrawn,
    } = &mut *st;
    let claims = &current
        .as_ref()
        .expect("the lane names the driver's child")
        .claims;
    // Those written and not answered come first (withdrawn ones are not in the lane: the
    // child runs none of them, so with no other written it is idle).
    let mut i = entries.iter().take_while(|e| e.seq.is_some()).count();
    while i < entries.len() && !d.retire {
        let idle = i == 0;
        let e = &mut entries[i];
        if !e.unfinished(idle) {
            // Finished meanwhile (cancelled, timed out): nothing to write.
            entries.remove(i);
            continue;
        }
        let start = d.requests.len();
        if let Err(err) = e.build(&mut d.requests) {
            refused.push((entries.remove(i).expect("index in range"), err));
            continue;
        }
        let len = d.requests.len() - start;
        if !idle && d.ahead_bytes + len > room {
            // Held until the child is idle, or enough is answered.
            e.frame = Some(d.requests.split_off(start));
            break;
        }
        let seq = d.next_seq;
        d.next_seq += 1;
        e.seq = Some(seq);
        claims.send(seq);
        if idle {
            e.arm();
        } else {
            e.ahead = len;
            d.ahead_bytes += len;
        }
        d.in_flight += 1;
        i += 1;
    }
    d.held = entries.len() + withdrawn.len();
    refused
}

impl Entry {
    /// Whether the job is still to be written. `idle`: the child is idle, so a queued job
    /// starts now (a job that outlived a child it never reached). `false`: it finished
    /// meanwhile.
    fn unfinished(&mut self, idle: bool) -> bool {
        match self.header().state() {
            RUNNING => true,
            QUEUED if idle => self.start(true),
            QUEUED => true,
            _ => false,
        }
    }

    /// Appends the job's frame to `requests`: the one held back, or a fresh one. On an
    /// error (its arguments could not be encoded) nothing is appended.
    fn build(&mut self, requests: &mut Vec<u8>) -> Result<(), String> {
        match self.frame.take() {
            Some(frame) => {
                requests.extend_from_slice(&frame);
                Ok(())
            }
            None => self.job.request(requests),
        }
    }
}

/// Fails the jobs whose arguments could not be encoded.
fn refuse(refused: Vec<(Entry, String)>) {
    for (mut e, err) in refused {
        if e.header().state() == QUEUED && !e.start(false) {
            continue;
        }
        e.job.fail(TaskError::Codec(format!(
            "the arguments did not cross: {err}"
        )));
    }
}
