//! Per-name limits of coroutines (`limit = N`). Coroutines do not go through the ladder:
//! one with a limit waits, holding nothing, for a permit of its name's semaphore before it
//! starts, and gives the permit back when its run ends (its future returns, or is dropped
//! by a cancel, an abort, a deadline or a runtime shutdown). Permits go to the waiters first
//! come, first served (tokio's semaphore is fair), in the order they first ask.
//!
//! One semaphore per supervisor and name (by the name's text), made by the first task of
//! the name that needs it, with that task's limit, and dropped when the last task holding it
//! is gone. Tasks of one name are meant to share one limit (a `#[background_task]` fn has
//! one); while the semaphore lives, a task with another limit waits under the first one's.

use crate::pool::ladder::Overdue;
use crate::sync::lock;
use crate::task::Control;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Which semaphore: its supervisor (the address of its `Inner`, see `context::key`) and the
/// task name it counts.
type Key = (usize, &'static str);

/// Every semaphore some task holds (waits on, or runs with a permit of).
static GATES: Mutex<BTreeMap<Key, Arc<Shared>>> = Mutex::new(BTreeMap::new());

/// One name's semaphore, and the tasks waiting for a permit of it (for the queue-wait
/// watchdog).
struct Shared {
    sem: Semaphore,
    waiting: Mutex<Vec<Waiter>>,
}

/// A task waiting for a permit: since when, and whether the warning and the critical hook
/// fired for it.
struct Waiter {
    task: Arc<dyn Control>,
    at: Instant,
    warned: bool,
    critical: bool,
}

/// A task's hold on its name's semaphore, from its spawn until its run ends: it keeps the
/// semaphore in [`GATES`]; the last hold dropped takes it out.
pub(super) struct Gate {
    key: Key,
    sem: Arc<Shared>,
}

impl Gate {
    /// The hold of a task named `name`, with `limit`, on the supervisor whose key is `sup`
    /// (see `context::key`): on the semaphore held already, or on a new one of `limit`
    /// permits.
    pub(super) fn new(sup: usize, name: &'static str, limit: NonZeroU32) -> Self {
        let key = (sup, name);
        let permits = usize::try_from(limit.get())
            .map_or(Semaphore::MAX_PERMITS, |n| n.min(Semaphore::MAX_PERMITS));
        let mut gates = lock(&GATES);
        let sem = gates.entry(key).or_insert_with(|| {
            Arc::new(Shared {
                sem: Semaphore::new(permits),
                waiting: Mutex::default(),
            })
        });
        Gate {
            key,
            sem: sem.clone(),
        }
    }

    /// Waits for a permit (FIFO); it goes back when dropped. `None` only if the semaphore
    /// were closed, which it never is: then the task runs unlimited.
    pub(super) async fn enter(&self) -> Option<SemaphorePermit<'_>> {
        self.sem.sem.acquire().await.ok()
    }

    /// `task` waits for a permit from now on (the watchdog sees it), until the mark is
    /// dropped.
    pub(super) fn waiting(&self, task: Arc<dyn Control>) -> Waiting<'_> {
        let id = task.header().id;
        (lock(&self.sem.waiting)).push(Waiter {
            task,
            at: Instant::now(),
            warned: false,
            critical: false,
        });
        Waiting { gate: self, id }
    }
}

/// A task's mark among the waiters of its gate (see [`Gate::waiting`]).
pub(super) struct Waiting<'g> {
    gate: &'g Gate,
    id: crate::task::TaskId,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        (lock(&self.gate.sem.waiting)).retain(|w| w.task.header().id != self.id);
    }
}

/// Queued coroutines of the supervisor `sup` (see `context::key`) waiting for a permit of
/// their names' limits past `warn` or `crit`, not yet reported.
pub(crate) fn overdue(
    sup: usize,
    now: Instant,
    (warn, crit): (Duration, Duration),
    out: &mut Overdue,
) {
    let gates: Vec<Arc<Shared>> = (lock(&GATES).range((sup, "")..))
        .take_while(|((s, _), _)| *s == sup)
        .map(|(_, g)| g.clone())
        .collect();
    for g in gates {
        for w in lock(&g.waiting).iter_mut() {
            let reported = [&mut w.warned, &mut w.critical];
            out.look(w.task.header(), w.at, reported, (now, warn, crit));
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let mut gates = lock(&GATES);
        // Holds are made under this lock only: if the table's reference and this one are
        // the last, no task holds the semaphore any more.
        let last = Arc::strong_count(&self.sem) == 2
            && (gates.get(&self.key)).is_some_and(|s| Arc::ptr_eq(s, &self.sem));
        if last {
            gates.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(key: Key) -> bool {
        lock(&GATES).contains_key(&key)
    }

    #[tokio::test]
    async fn permits_are_shared_by_name_and_dropped_with_the_last_hold() {
        let two = NonZeroU32::new(2).unwrap();
        let (a, b, c) = (
            Gate::new(1, "limit-test", two),
            Gate::new(1, "limit-test", two),
            Gate::new(1, "limit-test", two),
        );
        let other = Gate::new(2, "limit-test", NonZeroU32::MIN);
        let (pa, pb) = (a.enter().await, b.enter().await);
        assert!(pa.is_some() && pb.is_some());
        // The third waits until a permit goes back.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(20), c.enter());
        assert!(waiting.await.is_err());
        // Another supervisor's semaphore of the same name is its own.
        assert!(other.enter().await.is_some());
        drop(pa);
        assert!(c.enter().await.is_some());
        drop(pb);
        drop(a);
        drop(b);
        assert!(held((1, "limit-test")));
        drop(c);
        assert!(!held((1, "limit-test")));
        drop(other);
        assert!(!held((2, "limit-test")));
    }
}
