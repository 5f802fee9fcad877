//! Per-name concurrency limits (`limit = N`) beside the ladder: how many tasks of each
//! limited name run in the pool, so that the ladder starts a task only while fewer tasks
//! of its name run than its limit allows.
//!
//! Only tasks whose header has a limit are counted, keyed by the text of their name (two
//! tasks named alike share a count, whichever `&'static str` holds the name). A run counts
//! from its start until its slot is released ([`PerName::ended`], told by the pool with the
//! [`Claim`] its job left). A run that a pool thread waiting for it takes inline
//! (`Ladder::take`, a nested wait) holds no slot, and the pool is not told when it ends: it
//! counts until its task is seen finished ([`PerName::prune`], called by the ladder before
//! it picks queued jobs).

use crate::task::{Control, Header, RUNNING};
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// What a started job holds for its name until its slot is released: the name, if the
/// task has a limit (then its count drops at the release). Taken before the job runs,
/// since the run consumes the job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Claim(Option<&'static str>);

impl Claim {
    /// The claim of the task `h`: its name if it has a limit, else nothing.
    pub(crate) fn of(h: &Header) -> Self {
        Claim(h.limit.map(|_| h.name))
    }
}

/// The running counts of every limited name of one pool (empty while none runs).
#[derive(Default)]
pub(crate) struct PerName {
    /// Names with at least one counted run.
    running: HashMap<&'static str, Running>,
    /// Inline runs counted, over every name (0: [`prune`](PerName::prune) has nothing to
    /// look at).
    inline: usize,
}

/// The counted runs of one name.
#[derive(Default)]
struct Running {
    /// Runs holding a slot of the pool.
    slots: u32,
    /// Runs taken inline by a waiting pool thread, until seen finished.
    inline: Vec<Weak<dyn Control>>,
}

impl Running {
    /// How many runs of the name count.
    fn count(&self) -> u32 {
        let inline = u32::try_from(self.inline.len()).unwrap_or(u32::MAX);
        self.slots.saturating_add(inline)
    }
}

impl PerName {
    /// Whether the task `h` may start now: it has no limit, or fewer tasks of its name run
    /// than its limit.
    pub(crate) fn has_room(&self, h: &Header) -> bool {
        let Some(limit) = h.limit else {
            return true;
        };
        self.running
            .get(h.name)
            .is_none_or(|r| r.count() < limit.get())
    }

    /// The task `h` started on a slot: counted if it has a limit.
    pub(crate) fn started(&mut self, h: &Header) {
        if h.limit.is_some() {
            let r = self.running.entry(h.name).or_default();
            r.slots = r.slots.saturating_add(1);
        }
    }

    /// The task `task` started inline, without a slot (see the module's doc): counted, if
    /// it has a limit, until it is seen finished.
    pub(crate) fn started_inline(&mut self, task: &Arc<dyn Control>) {
        let h = task.header();
        if h.limit.is_some() {
            (self.running.entry(h.name).or_default().inline).push(Arc::downgrade(task));
            self.inline += 1;
        }
    }

    /// A run that held a slot with `claim` ended. `true` if a count dropped (queued tasks
    /// of that name may start now).
    pub(crate) fn ended(&mut self, claim: Claim) -> bool {
        let Some(name) = claim.0 else {
            return false;
        };
        let Some(r) = self.running.get_mut(name) else {
            debug_assert!(false, "a limited run ended that was never counted");
            return false;
        };
        debug_assert!(r.slots > 0);
        r.slots = r.slots.saturating_sub(1);
        if r.slots == 0 && r.inline.is_empty() {
            self.running.remove(name);
        }
        true
    }

    /// Stops counting the inline runs whose tasks have finished. `true` if a count dropped.
    /// Costs nothing while no inline run is counted.
    pub(crate) fn prune(&mut self) -> bool {
        if self.inline == 0 {
            return false;
        }
        let before = self.inline;
        let mut left = 0;
        self.running.retain(|_, r| {
            r.inline
                .retain(|w| w.upgrade().is_some_and(|t| t.header().state() == RUNNING));
            left += r.inline.len();
            r.slots > 0 || !r.inline.is_empty()
        });
        self.inline = left;
        left < before
    }

    /// How many runs of `name` count (for tests and debugging).
    #[cfg(test)]
    pub(crate) fn count(&self, name: &str) -> u32 {
        self.running.get(name).map_or(0, Running::count)
    }
}
