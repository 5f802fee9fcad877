//! The bookkeeping shared by the thread pool and the process pool: a crew of lazily started
//! threads serving one ready queue, woken one at a time, never more started than there are
//! jobs for them (the shape of tokio's blocking pool).

/// What a dispatcher must do after pushing a job to the ready queue.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Call {
    /// A thread already on its way to the queue takes it.
    Nobody,
    /// Notify one idle thread (the condition variable's `notify_one`).
    Notify,
    /// Start thread number `n`, then report [`Crew::spawned`].
    Spawn(usize),
}

/// Counts of a crew's threads; lives under the pool's lock.
#[derive(Default, Debug)]
pub(crate) struct Crew {
    /// Threads alive.
    pub(crate) threads: usize,
    /// Threads asleep waiting for a job, not yet notified.
    idle: usize,
    /// Notifications sent and not yet taken by a waking thread.
    notified: usize,
    /// Threads started that have not taken the lock yet (each takes a ready job first).
    starting: usize,
    /// Threads watching the queue a moment before they sleep.
    spinning: usize,
    next: usize,
}

impl Crew {
    /// A job was pushed; `ready` jobs now wait, and `me` (0 or 1) is the calling crew thread
    /// when it takes a ready job next itself.
    pub(crate) fn on_ready(&mut self, ready: usize, me: usize) -> Call {
        if ready <= self.notified + self.starting + self.spinning + me {
            return Call::Nobody;
        }
        self.call_one()
    }

    /// Calls one thread (for a job, or to watch timers): an idle one, else a new one.
    pub(crate) fn call_one(&mut self) -> Call {
        if self.idle > 0 {
            self.idle -= 1;
            self.notified += 1;
            return Call::Notify;
        }
        self.next += 1;
        Call::Spawn(self.next - 1)
    }

    /// The thread of a [`Call::Spawn`] was started.
    fn spawned(&mut self) {
        self.threads += 1;
        self.starting += 1;
    }

    /// Starts crew thread `name` running `body` (after a [`Call::Spawn`]). If it cannot
    /// start while other crew threads live, the job waits for one of them; if no thread is
    /// left to take it, the error comes back so that the caller fails the job.
    pub(crate) fn start(
        &mut self,
        what: &str,
        name: String,
        body: impl FnOnce() + Send + 'static,
    ) -> Result<(), String> {
        match std::thread::Builder::new().name(name).spawn(body) {
            Ok(_) => {
                self.spawned();
                Ok(())
            }
            Err(e) if self.threads > 0 => {
                tracing::warn!(error = %e, "atasker: cannot start another {what}; the job waits for a busy one");
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "atasker: cannot start a {what}");
                Err(format!("cannot start a {what}: {e}"))
            }
        }
    }

    /// A new thread took the lock for the first time.
    pub(crate) fn arrived(&mut self) {
        self.starting -= 1;
    }

    /// A thread starts or stops watching the queue before sleeping.
    pub(crate) fn spinning(&mut self, on: bool) {
        if on {
            self.spinning += 1;
        } else {
            self.spinning -= 1;
        }
    }

    /// A thread goes to sleep on the condition variable.
    pub(crate) fn sleeps(&mut self) {
        self.idle += 1;
    }

    /// A sleeping thread woke; `true` if by a notification (which it now takes).
    pub(crate) fn woke(&mut self) -> bool {
        if self.notified > 0 {
            self.notified -= 1;
            true
        } else {
            self.idle -= 1;
            false
        }
    }

    /// A thread exits.
    pub(crate) fn left(&mut self) {
        self.threads -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_no_more_threads_than_jobs() {
        let mut c = Crew::default();
        assert_eq!(c.on_ready(1, 0), Call::Spawn(0));
        c.spawned();
        // A second job while the first thread is still starting: one more thread.
        assert_eq!(c.on_ready(2, 0), Call::Spawn(1));
        c.spawned();
        // Both arrive, take their jobs; one sleeps.
        c.arrived();
        c.arrived();
        c.sleeps();
        assert_eq!(c.on_ready(1, 0), Call::Notify);
        // A job pushed by a crew thread that takes it itself needs nobody.
        assert_eq!(c.on_ready(1, 1), Call::Nobody);
        // The notified thread is counted until it wakes.
        assert_eq!(c.on_ready(1, 0), Call::Nobody);
        assert!(c.woke());
        assert_eq!(c.threads, 2);
    }

    #[test]
    fn timers_wake_an_idle_thread_or_start_one() {
        let mut c = Crew::default();
        c.spawned();
        c.arrived();
        c.sleeps();
        assert_eq!(c.call_one(), Call::Notify);
        assert!(c.woke());
        // Nobody idle: a new thread.
        assert_eq!(c.call_one(), Call::Spawn(0));
    }
}
