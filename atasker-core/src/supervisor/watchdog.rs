//! The queue-wait watchdog: one thread per supervisor, started on the first queued task,
//! sleeping until the next task becomes overdue, firing the warning and critical hooks.

use super::*;

/// The queue-wait watchdog: one thread per supervisor, started on the first queued task,
/// sleeping until the next task becomes overdue.
#[derive(Default)]
pub(crate) struct Watchdog {
    pub(crate) state: Mutex<WatchState>,
    pub(crate) wake: Condvar,
}

#[derive(Default)]
pub(crate) struct WatchState {
    pub(crate) started: bool,
    /// The supervisor is gone.
    pub(crate) closed: bool,
    /// The watchdog sleeps until then; `None`: until poked.
    pub(crate) next: Option<Instant>,
    /// A task queued since the watchdog's last scan may be due before `next`.
    pub(crate) poked: bool,
}

impl Inner {
    pub(crate) fn poke_watchdog(self: &Arc<Self>) {
        let mut st = lock(&self.watchdog.state);
        if !st.started {
            st.started = true;
            let weak = Arc::downgrade(self);
            let wd = self.watchdog.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("atasker-{}-watchdog", self.config.name))
                .spawn(move || watchdog(weak, wd));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "atasker: cannot start the queue-wait watchdog");
            }
        } else if crate::sync::after(self.config.timeout_warning)
            // A warning due never needs no scan.
            .is_some_and(|due| st.next.is_none_or(|n| n > due))
        {
            // The watchdog sleeps past this task's first due time (or until poked), or is
            // scanning and may have missed this task: make it scan again.
            st.poked = true;
            self.watchdog.wake.notify_one();
        }
    }
}

/// The watchdog thread: scans for overdue queued tasks, reports them, and sleeps until the
/// next one could be overdue (or a task is queued).
pub(crate) fn watchdog(weak: Weak<Inner>, wd: Arc<Watchdog>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        // Scanning: a task queued from now on pokes (see `poke_watchdog`), and the scan is
        // repeated before the watchdog sleeps.
        lock(&wd.state).next = None;
        let found = scan(&inner);
        report(&inner.config, &found);
        // Hold no strong reference while asleep, so that a dropped supervisor ends this thread.
        drop(inner);
        let mut st = lock(&wd.state);
        if st.closed {
            return;
        }
        st.next = found.next;
        if std::mem::take(&mut st.poked) {
            // A task queued during the scan: scan again before sleeping.
            continue;
        }
        let wait = match st.next {
            Some(n) => n.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        drop(wd.wake.wait_timeout(st, wait));
    }
}

/// The tasks of every pool queued past a warning or critical threshold, and when the next
/// one will be.
fn scan(inner: &Inner) -> Overdue {
    let c = &inner.config;
    let mut found = Overdue::default();
    inner.threads.overdue(
        Instant::now(),
        c.timeout_warning,
        c.timeout_critical,
        &mut found,
    );
    inner.processes.overdue(
        Instant::now(),
        c.timeout_warning,
        c.timeout_critical,
        &mut found,
    );
    if let Some(p) = inner.remote.as_ref().and_then(|r| r.producer.get()) {
        p.overdue(
            Instant::now(),
            c.timeout_warning,
            c.timeout_critical,
            &mut found,
        );
    }
    found
}

/// Logs the overdue tasks `found` and calls the supervisor's hooks for them.
fn report(c: &Config, found: &Overdue) {
    // The hooks are user code: a panic in one is contained, and the watchdog goes on.
    let call = |hook: &Option<Hook>, t: &TaskInfo| {
        if let Some(hook) = hook {
            if let Err(e) = crate::task::run_catching(|| hook(t)) {
                tracing::error!(error = %e, "atasker: a queue-wait hook panicked; contained");
            }
        }
    };
    for t in &found.warnings {
        tracing::warn!(task = t.name, id = t.id.as_u64(), priority = %t.priority, pool = %t.pool, waited = t.waited.as_secs_f64(), "atasker: task still queued");
        call(&c.on_warning, t);
    }
    for t in &found.criticals {
        tracing::error!(task = t.name, id = t.id.as_u64(), priority = %t.priority, pool = %t.pool, waited = t.waited.as_secs_f64(), "atasker: task still queued, critical");
        call(&c.on_critical, t);
    }
}
