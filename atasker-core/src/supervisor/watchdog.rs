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
    let mut said = Said::default();
    loop {
        let Some(inner) = weak.upgrade() else { return };
        // Scanning: a task queued from now on pokes (see `poke_watchdog`), and the scan is
        // repeated before the watchdog sleeps.
        lock(&wd.state).next = None;
        let found = scan(&inner);
        report(&inner.config, &found, &mut said);
        // Tasks held back by `said` are said when their second is up, even if nothing else
        // falls due.
        let next = [found.next, said.next()].into_iter().flatten().min();
        // Hold no strong reference while asleep, so that a dropped supervisor ends this thread.
        drop(inner);
        let mut st = lock(&wd.state);
        if st.closed {
            return;
        }
        st.next = next;
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
    // Coroutines waiting for a permit of their names' limits.
    let key = crate::context::key(inner);
    super::spawn::limit_overdue(
        key,
        Instant::now(),
        (c.timeout_warning, c.timeout_critical),
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

/// How often one pool and priority's queue-wait events are logged at most: a backlog logs a
/// line a second (the first task's, then how many more), not a line a task.
const SAY_EVERY: Duration = Duration::from_secs(1);

/// What the watchdog said of each level (warning, critical), pool and priority: when, and
/// how many overdue tasks it has not said since.
#[derive(Default)]
struct Said([[[Group; 4]; crate::kind::POOLS]; 2]);

/// When one level, pool and priority was last said, and how many tasks since.
type Group = (Option<Instant>, u64);

impl Said {
    /// When the first group with tasks held back may be said.
    fn next(&self) -> Option<Instant> {
        (self.0.iter().flatten().flatten())
            .filter(|(_, held)| *held > 0)
            .filter_map(|(last, _)| last.map(|l| l + SAY_EVERY))
            .min()
    }

    /// Logs `tasks` (overdue at `level`, 0: warning, 1: critical), at most a line a second
    /// per pool and priority; the tasks held back are counted in the next line.
    fn say(&mut self, supervisor: &str, level: usize, tasks: &[TaskInfo]) {
        let now = Instant::now();
        for pool in crate::kind::ALL_POOLS {
            for p in Priority::ALL {
                let mine = tasks.iter().filter(|t| t.pool == pool && t.priority == p);
                let (last, held) = &mut self.0[level][pool.index()][p.index()];
                let due = last.is_none_or(|l| now.duration_since(l) >= SAY_EVERY);
                let mut mine = mine.peekable();
                if !due || (mine.peek().is_none() && *held == 0) {
                    *held += mine.count() as u64;
                    continue;
                }
                if let Some(t) = mine.next() {
                    say_one(supervisor, level, t);
                }
                let more = *held + mine.count() as u64;
                if more > 0 {
                    if level == 0 {
                        tracing::warn!(supervisor, pool = %pool, priority = %p, more, "atasker: more tasks still queued");
                    } else {
                        tracing::error!(supervisor, pool = %pool, priority = %p, more, "atasker: more tasks still queued, critical");
                    }
                }
                *last = Some(now);
                *held = 0;
            }
        }
    }
}

/// The event of one task overdue at `level` (0: warning, 1: critical).
fn say_one(supervisor: &str, level: usize, t: &TaskInfo) {
    if level == 0 {
        tracing::warn!(supervisor, task = t.name, id = t.id.as_u64(), priority = %t.priority, pool = %t.pool, waited = t.waited.as_secs_f64(), "atasker: task still queued");
    } else {
        tracing::error!(supervisor, task = t.name, id = t.id.as_u64(), priority = %t.priority, pool = %t.pool, waited = t.waited.as_secs_f64(), "atasker: task still queued, critical");
    }
}

/// Logs the overdue tasks `found` (see [`Said`]) and calls the supervisor's hooks for each.
fn report(c: &Config, found: &Overdue, said: &mut Said) {
    // The hooks are user code: a panic in one is contained, and the watchdog goes on.
    let call = |hook: &Option<Hook>, t: &TaskInfo| {
        if let Some(hook) = hook {
            if let Err(e) = crate::task::run_catching(|| hook(t)) {
                tracing::error!(error = %e, "atasker: a queue-wait hook panicked; contained");
            }
        }
    };
    said.say(&c.name, 0, &found.warnings);
    for t in &found.warnings {
        call(&c.on_warning, t);
    }
    said.say(&c.name, 1, &found.criticals);
    for t in &found.criticals {
        call(&c.on_critical, t);
    }
}
