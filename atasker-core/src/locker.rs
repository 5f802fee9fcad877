//! [`Locker`]: a named lock with a timeout that reports a likely deadlock (the lock's
//! name, the thread that holds it and since when) to a hook and as an error, instead of
//! waiting for ever.

use crate::sync::{after, lock, wait};
use crate::task::run_catching;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, Thread, ThreadId};
use std::time::{Duration, Instant};

/// A critical-timeout hook given at run time (it may capture state).
type Hook = Arc<dyn Fn(&LockInfo) + Send + Sync>;

/// The thread that holds a locker, since when, and how many guards it holds (more than one
/// only for a re-entrant locker).
struct Holder {
    thread: Thread,
    since: Instant,
    depth: usize,
}

/// A named lock that guards a section of code, not a value: [`lock`](Self::lock) returns a
/// [`LockGuard`], and the lock is free again when the guard is dropped.
///
/// A lock not acquired within its timeout (default [`Locker::DEFAULT_TIMEOUT`], 5 s, as in
/// the Python original) is a likely deadlock: `lock` then logs a `tracing` error, calls the
/// critical hook with a [`LockInfo`] (the lock's name, the thread that holds it and since
/// when), and returns `Err(`[`LockTimeout`]`)`, never a silent nothing. A timeout of
/// [`Duration::MAX`] waits for ever.
///
/// The constructor and the settings are `const fn`, so a `static` works:
///
/// ```
/// use atasker::{LockInfo, Locker};
/// use std::time::Duration;
///
/// fn report(info: &LockInfo) {
///     eprintln!("{} held by {:?} for {:?}", info.name, info.holder_name, info.held_for);
/// }
///
/// static PLC: Locker = Locker::new("plc")
///     .timeout(Duration::from_secs(2))
///     .on_critical(report);
///
/// let guard = PLC.lock()?; // at most 2 s; then `report` and an `Err`
/// // … talk to the PLC, one thread at a time …
/// drop(guard);
/// # Ok::<(), atasker::LockTimeout>(())
/// ```
///
/// A `Locker` is re-entrant by default, as the original's (`relative=True`): the thread
/// that holds it may lock it again at once, and it is free when the outermost guard is
/// dropped. [`reentrant(false)`](Self::reentrant) makes such a nested lock wait, and time
/// out, as a deadlock. A hook that captures state is set at run time with
/// [`set_on_critical`](Self::set_on_critical).
pub struct Locker {
    name: &'static str,
    timeout: Duration,
    reentrant: bool,
    on_critical: Option<fn(&LockInfo)>,
    hook: Mutex<Option<Hook>>,
    holder: Mutex<Option<Holder>>,
    freed: Condvar,
}

impl Locker {
    /// The timeout of a new locker: 5 seconds (the Python original's default).
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(atasker::Locker::DEFAULT_TIMEOUT, Duration::from_secs(5));
    /// ```
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A free lock named `name` (for the hook, the error and logs), with the default
    /// timeout, re-entrant, without a critical hook.
    ///
    /// ```
    /// static LOCK: atasker::Locker = atasker::Locker::new("db");
    /// assert_eq!(LOCK.name(), "db");
    /// ```
    pub const fn new(name: &'static str) -> Self {
        Locker {
            name,
            timeout: Self::DEFAULT_TIMEOUT,
            reentrant: true,
            on_critical: None,
            hook: Mutex::new(None),
            holder: Mutex::new(None),
            freed: Condvar::new(),
        }
    }

    /// How long [`lock`](Self::lock) waits before it reports a likely deadlock.
    /// [`Duration::MAX`] (or any wait too long for the clock): for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// static PATIENT: atasker::Locker = atasker::Locker::new("slow").timeout(Duration::MAX);
    /// assert!(PATIENT.lock().is_ok());
    /// ```
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether the holding thread may lock it again (default `true`). With `false`, a nested
    /// lock on the same thread waits for itself: a deadlock, reported at the timeout with
    /// this very thread as the holder.
    ///
    /// ```
    /// use std::time::Duration;
    /// static FLAT: atasker::Locker =
    ///     atasker::Locker::new("flat").timeout(Duration::from_millis(10)).reentrant(false);
    /// let _outer = FLAT.lock().unwrap();
    /// let nested = FLAT.lock().unwrap_err();
    /// assert_eq!(nested.info.holder_thread, std::thread::current().id());
    /// ```
    #[must_use]
    pub const fn reentrant(mut self, reentrant: bool) -> Self {
        self.reentrant = reentrant;
        self
    }

    /// The critical hook, called once per timed-out [`lock`](Self::lock), on the waiting
    /// thread, before it returns `Err`. A `fn` (or a closure that captures nothing), so it
    /// can be given in a `static`; [`set_on_critical`](Self::set_on_critical) sets one that
    /// captures. A panic in the hook is contained (logged). Default: none (the `tracing`
    /// error is always logged).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Duration;
    /// static ALARMS: AtomicUsize = AtomicUsize::new(0);
    /// static LOCK: atasker::Locker = atasker::Locker::new("valve")
    ///     .timeout(Duration::from_millis(10))
    ///     .reentrant(false)
    ///     .on_critical(|_info| {
    ///         ALARMS.fetch_add(1, Ordering::SeqCst);
    ///     });
    /// let _held = LOCK.lock().unwrap();
    /// assert!(LOCK.lock().is_err());
    /// assert_eq!(ALARMS.load(Ordering::SeqCst), 1);
    /// ```
    #[must_use]
    pub const fn on_critical(mut self, hook: fn(&LockInfo)) -> Self {
        self.on_critical = Some(hook);
        self
    }

    /// Sets the critical hook at run time (it may capture state), replacing the one given by
    /// [`on_critical`](Self::on_critical) or set before.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// static LOCK: atasker::Locker =
    ///     atasker::Locker::new("pump").timeout(Duration::from_millis(10)).reentrant(false);
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// LOCK.set_on_critical(move |info| s.lock().unwrap().push(info.name));
    /// let _held = LOCK.lock().unwrap();
    /// assert!(LOCK.lock().is_err());
    /// assert_eq!(*seen.lock().unwrap(), ["pump"]);
    /// ```
    pub fn set_on_critical(&self, hook: impl Fn(&LockInfo) + Send + Sync + 'static) {
        *lock(&self.hook) = Some(Arc::new(hook));
    }

    /// The lock's name.
    ///
    /// ```
    /// assert_eq!(atasker::Locker::new("plc").name(), "plc");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Takes the lock, waiting while another thread holds it, at most the timeout. `Err`: not
    /// acquired in time (a likely deadlock), after the `tracing` error and the critical hook.
    ///
    /// ```
    /// let lock = atasker::Locker::new("state");
    /// {
    ///     let _guard = lock.lock()?;
    ///     // … only one thread at a time here …
    /// } // free again
    /// assert!(lock.lock().is_ok());
    /// # Ok::<(), atasker::LockTimeout>(())
    /// ```
    pub fn lock(&self) -> Result<LockGuard<'_>, LockTimeout> {
        let asked = Instant::now();
        let deadline = after(self.timeout);
        let me = thread::current();
        let mut holder = lock(&self.holder);
        loop {
            match holder.as_mut() {
                None => {
                    *holder = Some(Holder {
                        thread: me,
                        since: Instant::now(),
                        depth: 1,
                    });
                    return Ok(self.guard());
                }
                Some(h) if self.reentrant && h.thread.id() == me.id() => {
                    h.depth += 1;
                    return Ok(self.guard());
                }
                Some(h) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        let info = LockInfo::new(self.name, h, asked);
                        drop(holder);
                        return Err(self.critical(info));
                    }
                    holder = match wait(&self.freed, holder, deadline) {
                        Ok(g) | Err(g) => g, // `Err`: the deadline, seen above next time
                    };
                }
            }
        }
    }

    /// Runs `f` holding the lock (the original's use as a decorator): `Err` when the lock
    /// was not acquired in time, and then `f` does not run.
    ///
    /// ```
    /// static COUNTER: atasker::Locker = atasker::Locker::new("counter");
    /// assert_eq!(COUNTER.run(|| 2 + 2), Ok(4));
    /// ```
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> Result<R, LockTimeout> {
        let _guard = self.lock()?;
        Ok(f())
    }

    fn guard(&self) -> LockGuard<'_> {
        LockGuard {
            locker: self,
            _not_send: PhantomData,
        }
    }

    /// Reports a timed-out wait: the `tracing` error, then the hook (contained).
    fn critical(&self, info: LockInfo) -> LockTimeout {
        tracing::error!(
            lock = self.name,
            holder = %info.holder_label(),
            held_for = info.held_for.as_secs_f64(),
            waited = info.waited.as_secs_f64(),
            "atasker: lock not acquired in time: a likely deadlock"
        );
        let hook = lock(&self.hook).clone();
        let called = match (hook, self.on_critical) {
            (Some(h), _) => run_catching(|| h(&info)),
            (None, Some(h)) => run_catching(|| h(&info)),
            (None, None) => Ok(()),
        };
        if let Err(e) = called {
            tracing::error!(
                lock = self.name,
                error = %e,
                "atasker: a Locker's critical hook panicked; contained"
            );
        }
        LockTimeout { info }
    }

    /// Drops one guard: the lock is free once the holder's last guard is gone.
    fn release(&self) {
        let mut holder = lock(&self.holder);
        if let Some(h) = holder.as_mut() {
            h.depth = h.depth.saturating_sub(1);
            if h.depth == 0 {
                *holder = None;
                drop(holder);
                self.freed.notify_one();
            }
        }
    }
}

impl fmt::Debug for Locker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held_by = lock(&self.holder).as_ref().map(|h| h.thread.id());
        f.debug_struct("Locker")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("reentrant", &self.reentrant)
            .field("held_by", &held_by)
            .finish()
    }
}

/// Holds a [`Locker`] until dropped. Made by [`Locker::lock`]. Not `Send`: the thread that
/// locked is the holder (the one a [`LockInfo`] names), so it is the one that unlocks.
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard<'a> {
    locker: &'a Locker,
    _not_send: PhantomData<*const ()>,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.locker.release();
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("lock", &self.locker.name)
            .finish()
    }
}

/// A likely deadlock, as the critical hook and [`LockTimeout`] report it: which lock, the
/// thread that held it when the wait gave up, since when, and how long the wait lasted.
///
/// ```
/// use std::time::Duration;
/// static LOCK: atasker::Locker =
///     atasker::Locker::new("plc").timeout(Duration::from_millis(10)).reentrant(false);
/// let _held = LOCK.lock().unwrap();
/// let info = LOCK.lock().unwrap_err().info;
/// assert_eq!(info.name, "plc");
/// assert_eq!(info.holder_thread, std::thread::current().id());
/// assert!(info.waited >= Duration::from_millis(10) && info.held_for >= info.waited);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockInfo {
    /// The lock's name, given to [`Locker::new`].
    pub name: &'static str,
    /// The thread that holds the lock.
    pub holder_thread: ThreadId,
    /// That thread's name, when it has one.
    pub holder_name: Option<String>,
    /// When that thread took the lock.
    pub held_since: Instant,
    /// How long it has held it, when the wait gave up.
    pub held_for: Duration,
    /// How long the wait lasted (the locker's timeout, or a little more).
    pub waited: Duration,
}

impl LockInfo {
    /// The holder `h` of lock `name`, as a waiter that asked at `asked` sees it now.
    fn new(name: &'static str, h: &Holder, asked: Instant) -> Self {
        let now = Instant::now();
        LockInfo {
            name,
            holder_thread: h.thread.id(),
            holder_name: h.thread.name().map(str::to_owned),
            held_since: h.since,
            held_for: now.saturating_duration_since(h.since),
            waited: now.saturating_duration_since(asked),
        }
    }

    /// `thread `name` (ThreadId(n))`, or `thread ThreadId(n)` for an unnamed one.
    fn holder_label(&self) -> String {
        match &self.holder_name {
            Some(n) => format!("thread `{n}` ({:?})", self.holder_thread),
            None => format!("thread {:?}", self.holder_thread),
        }
    }
}

/// [`Locker::lock`] gave up: the lock was not acquired within its timeout, a likely
/// deadlock. `info` says which lock, who held it and since when. Its `Display` names the
/// lock, the wait and the holder.
///
/// ```
/// use std::time::Duration;
/// static LOCK: atasker::Locker =
///     atasker::Locker::new("plc").timeout(Duration::from_millis(10)).reentrant(false);
/// let _held = LOCK.lock().unwrap();
/// let e: atasker::LockTimeout = LOCK.lock().unwrap_err();
/// assert!(e.to_string().starts_with("lock `plc` not acquired in "), "{e}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "lock `{}` not acquired in {:?}: held by {} for {:?} (a likely deadlock)",
    info.name, info.waited, info.holder_label(), info.held_for
)]
#[non_exhaustive]
pub struct LockTimeout {
    /// Which lock, who held it and since when.
    pub info: LockInfo,
}
