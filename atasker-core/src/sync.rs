//! Locks and condition-variable waits as the library uses them everywhere: a poisoned lock
//! is still used (no state behind one is left inconsistent by a panic), and a wait may have
//! a deadline; and [`Signal`], a one-way flag async code waits for.

use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The instant `d` from now, or `None` when `d` is too large for an [`Instant`]: a
/// duration that long means "never" (no deadline, never falls due). Every user-given
/// duration that becomes an instant goes through here, so `Duration::MAX` never panics.
pub(crate) fn after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

/// Locks `m`, whether or not a panic poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One wait on `cv`, until notified (or spuriously woken) or `deadline`. `Err` (with the
/// guard, not having waited): the deadline has passed.
pub(crate) fn wait<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Option<Instant>,
) -> Result<MutexGuard<'a, T>, MutexGuard<'a, T>> {
    match deadline {
        None => Ok(cv.wait(guard).unwrap_or_else(PoisonError::into_inner)),
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                return Err(guard);
            }
            let (guard, _) = cv
                .wait_timeout(guard, d - now)
                .unwrap_or_else(PoisonError::into_inner);
            Ok(guard)
        }
    }
}

/// Waits on `cv` until `done` holds (`true`) or `deadline` passes (`false`).
pub(crate) fn wait_until<T>(
    cv: &Condvar,
    mut guard: MutexGuard<'_, T>,
    deadline: Option<Instant>,
    mut done: impl FnMut(&mut T) -> bool,
) -> bool {
    loop {
        if done(&mut guard) {
            return true;
        }
        guard = match wait(cv, guard, deadline) {
            Ok(g) => g,
            Err(_) => return false,
        };
    }
}

/// Watches for `done` up to `for_at_most`, yielding the core meanwhile (a thread that has
/// work for it gets it at once), before the caller sleeps: something that comes that soon
/// (a short task on another core, an item a steady producer puts) then costs no sleep and
/// wake-up, which on a virtual machine is the larger part of a round trip. Only on a machine
/// with more than one core. Whether `done` held.
pub(crate) fn watch_briefly(for_at_most: Duration, mut done: impl FnMut() -> bool) -> bool {
    if done() {
        return true;
    }
    if !multi_core() {
        return false;
    }
    let Some(until) = after(for_at_most) else {
        return false;
    };
    while Instant::now() < until {
        std::thread::yield_now();
        if done() {
            return true;
        }
    }
    false
}

/// Whether the machine has more than one core: only then is watching for a result (or an
/// item) a few microseconds before sleeping worth it.
pub(crate) fn multi_core() -> bool {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
}

/// A one-way flag that async code can wait for.
#[derive(Default)]
pub(crate) struct Signal {
    pub(crate) set: AtomicBool,
    pub(crate) notify: Notify,
}

impl Signal {
    pub(crate) fn set(&self) {
        self.set.store(true, SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_set(&self) -> bool {
        self.set.load(SeqCst)
    }

    /// Takes the flag (for triggers): `true` if it was set.
    pub(crate) fn take(&self) -> bool {
        self.set.swap(false, SeqCst)
    }

    pub(crate) fn clear(&self) {
        self.set.store(false, SeqCst);
    }

    /// Waits until the flag is set; with `take`, clears it.
    pub(crate) async fn wait(&self, take: bool) {
        loop {
            let mut notified = pin!(self.notify.notified());
            notified.as_mut().enable();
            if if take { self.take() } else { self.is_set() } {
                return;
            }
            notified.await;
        }
    }
}
