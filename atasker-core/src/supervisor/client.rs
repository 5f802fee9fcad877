//! What a supervisor stops and reports beside its tasks: its workers and its cluster node.
//! Both live in rooms above the supervisor (`worker/`, `node/`) and register here; the
//! supervisor reaches them only through [`Client`].

use crate::stats::Stats;
use std::time::Instant;

/// A long-lived user of a supervisor that a stop must end: a worker, the cluster node.
pub(crate) trait Client: Send + Sync {
    /// The first half of a stop: take nothing new. A stop calls it on every client before
    /// it calls [`wait_stopped`](Client::wait_stopped) on any, so that they stop together.
    fn stop_taking(&self, deadline: Option<Instant>);

    /// The second half: waits (until `deadline`) for what the client runs to end.
    fn wait_stopped(&self, _deadline: Option<Instant>) {}

    /// After the supervisor's tasks have ended (or were cancelled at `deadline`): releases
    /// what the client still holds.
    fn finish(&self, _deadline: Option<Instant>) {}

    /// Adds the client's counters to a snapshot.
    fn report(&self, stats: &mut Stats);
}
