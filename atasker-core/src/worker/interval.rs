//! Loop, interval and delay workers: [`Worker`].

use super::cron::{self, Clock, CronPlan, Zone};
use super::schedule::{catch_up, Schedule};
use super::{
    async_exec, blocking_exec, builder_methods, debug_as_core, handle_methods, Common, Core, Exec,
    Run, Starter, Wake, WorkerKind, WorkerOutput,
};
use crate::error::BuildError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;
use std::time::{Duration, Instant};

/// A loop, interval or delay worker.
///
/// Made by `#[background_worker]` (a `fn` becomes a static handle; an `impl` block gets
/// `into_worker()`) or by [`Worker::builder`]. Cheap to clone; usable from any thread.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// static TICKS: AtomicU32 = AtomicU32::new(0);
/// let w = atasker::Worker::builder()
///     .name("tick")
///     .interval(Duration::from_millis(10))
///     .build(|| { TICKS.fetch_add(1, Ordering::SeqCst); });
/// assert!(w.start());
/// while TICKS.load(Ordering::SeqCst) < 2 {
///     std::thread::sleep(Duration::from_millis(1));
/// }
/// w.stop();
/// ```
#[derive(Clone)]
#[must_use = "a worker does nothing until `start` is called"]
pub struct Worker {
    pub(crate) core: Arc<Core>,
}

impl Worker {
    /// A builder for a worker without macros.
    ///
    /// ```
    /// use std::time::Duration;
    /// let w = atasker::Worker::builder().interval(Duration::from_secs(1)).build(|| ());
    /// assert!(!w.is_active()); // until `start()`
    /// ```
    pub fn builder() -> WorkerBuilder {
        WorkerBuilder::default()
    }

    handle_methods!();

    /// Interval and delay workers: run now if idle, without shifting the schedule. A loop
    /// worker ignores triggers; a trigger during a run is dropped.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// static RUNS: AtomicU32 = AtomicU32::new(0);
    /// let w = atasker::Worker::builder()
    ///     .interval(Duration::from_secs(3600))
    ///     .build(|| { RUNS.fetch_add(1, Ordering::SeqCst); });
    /// w.start(); // runs at once, then every hour
    /// while RUNS.load(Ordering::SeqCst) < 2 {
    ///     w.trigger(); // runs now if idle; the next tick stays where it was
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// w.stop();
    /// ```
    pub fn trigger(&self) {
        self.core.trigger.set();
    }
}

debug_as_core!(Worker);

/// Builds a [`Worker`]. Made by [`Worker::builder`].
///
/// ```
/// use std::time::Duration;
/// let w = atasker::Worker::builder()
///     .name("poll")
///     .delay(Duration::from_secs(1))        // 1 s after each run ends
///     .delay_before(Duration::from_millis(5))
///     .build_async(|| async { /* await I/O */ });
/// assert_eq!(w.name(), "poll");
/// ```
#[derive(Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct WorkerBuilder {
    pub(super) common: Common,
    pub(super) schedule: Schedule,
    pub(super) delay_before: Option<Duration>,
    /// A cron schedule (validated), and its zone.
    pub(super) cron: Option<String>,
    pub(super) zone: Option<Zone>,
    /// The wall clock a cron worker reads (tests inject one).
    pub(super) clock: Option<Clock>,
    /// One run per tick in the whole cluster.
    pub(super) fleet: bool,
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("name", &self.common.name)
            .field("schedule", &self.schedule)
            .field("cron", &self.cron)
            .field("zone", &self.zone)
            .finish_non_exhaustive()
    }
}

impl WorkerBuilder {
    builder_methods!();

    /// Run at a fixed rate from `start()` (the first run at once). Replaces `delay`.
    ///
    /// An overrun delays the next run: runs never overlap and never burst.
    ///
    /// ```
    /// use std::time::Duration;
    /// let w = atasker::Worker::builder()
    ///     .interval(Duration::from_millis(10))
    ///     .build(|| ());
    /// w.start();
    /// while w.stats().runs < 3 {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// w.stop();
    /// ```
    pub fn interval(mut self, d: Duration) -> Self {
        self.schedule = Schedule::Interval(d);
        self
    }

    /// Run `d` after the previous run ended (the first run at once). Replaces `interval`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let w = atasker::Worker::builder()
    ///     .delay(Duration::from_millis(10))
    ///     .build(|| std::thread::sleep(Duration::from_millis(5))); // then 10 ms of pause
    /// w.start();
    /// while w.stats().runs < 2 {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// w.stop();
    /// ```
    pub fn delay(mut self, d: Duration) -> Self {
        self.schedule = Schedule::Delay(d);
        self
    }

    /// Run at the ticks of the cron expression `expr`, in UTC unless [`time_zone`] says
    /// otherwise: 6 fields with seconds first (`"0 */5 * * * *"`), 5 fields with minute
    /// resolution (`"*/5 * * * *"`), or a shorthand (`"@hourly"`, `"@daily"`, …), as
    /// [croner](https://docs.rs/croner) parses them. Replaces `interval` and `delay`.
    ///
    /// Day of month and day of week: when both are restricted, a day matches if *either*
    /// does (croner's rule, as in Vixie cron: `"0 0 0 1 * MON"` runs on every 1st and every
    /// Monday); a `+` before the day of week asks for *both* (`"0 0 0 1 * +MON"`: a 1st that
    /// is a Monday).
    ///
    /// A cron worker runs only at its ticks (not at `start()`); runs never overlap and never
    /// burst: after an overrun or a stall (a suspended machine too) it runs once for the ticks
    /// it missed, counts them in [`WorkerStats::missed`](crate::WorkerStats::missed), then
    /// keeps to the schedule. Its next tick is in
    /// [`WorkerStats::next_run_at`](crate::WorkerStats::next_run_at) by the time `start()`
    /// returns. A tick never runs at or before the last one run (a clock stepped back waits).
    /// Daylight saving: a job at a fixed hour runs once (a time in a spring-forward gap just
    /// after it, a time in a fall-back overlap at its first pass); a job whose hour is a
    /// wildcard or a step follows real time. `trigger()` runs it now without shifting the
    /// schedule.
    ///
    /// Clocks: a cron worker follows the wall clock, read again at least once a minute, so a
    /// stepped clock or a resumed machine is noticed within a minute. Interval and delay
    /// workers run on the monotonic clock instead: a stepped wall clock does not move them,
    /// and a suspended machine delays them by as long as it slept.
    ///
    /// A schedule that cannot be evaluated at run time (it ran out of ticks: a year field
    /// gone by; the cron library failed) runs nothing: it is reported like an executor error
    /// (in `errors`, to `on_error`), once, not counted in `runs`, and tried again every minute.
    ///
    /// # Errors
    ///
    /// [`BuildError::Cron`](crate::BuildError::Cron) if `expr` does not parse, or can never
    /// fire (`"0 0 0 30 2 *"`: February has no 30th; a `+` weekday its day never falls on;
    /// a year gone by).
    ///
    /// ```
    /// let w = atasker::Worker::builder()
    ///     .name("rollup")
    ///     .cron("0 */5 * * * *")?          // every five minutes, on the minute
    ///     .build(|| ());
    /// assert_eq!(w.stats().kind, atasker::WorkerKind::Cron);
    /// assert!(atasker::Worker::builder().cron("61 * * * *").is_err());
    /// let never = atasker::Worker::builder().cron("0 0 0 30 2 *").unwrap_err();
    /// assert!(never.to_string().contains("never fires"));
    /// # Ok::<(), atasker::BuildError>(())
    /// ```
    ///
    /// [`time_zone`]: WorkerBuilder::time_zone
    pub fn cron(mut self, expr: &str) -> Result<Self, BuildError> {
        CronPlan::parse_firing(expr, Zone::Utc, chrono::Utc::now()).map_err(BuildError::Cron)?;
        self.cron = Some(expr.to_owned());
        Ok(self)
    }

    /// The time zone of a [`cron`](WorkerBuilder::cron) schedule: an IANA name
    /// (`"Europe/Berlin"`) or `"local"` (the machine's zone). Default: UTC.
    ///
    /// Which tz database: an IANA name is looked up in the database compiled into
    /// [chrono-tz](https://docs.rs/chrono-tz), not in the machine's `/usr/share/zoneinfo`
    /// (chrono-tz 0.10.4, which this release is built and tested with, carries tzdb 2025b;
    /// the application's `Cargo.lock` decides, and `cargo update -p chrono-tz` brings a newer
    /// database). `"local"` is the machine's zone as [chrono](https://docs.rs/chrono) reads it
    /// (`TZ`, else `/etc/localtime`) with the system's own tz database, so it follows the
    /// system's tzdata updates.
    ///
    /// # Errors
    ///
    /// [`BuildError::Cron`](crate::BuildError::Cron) for an unknown zone.
    ///
    /// ```
    /// let nightly = atasker::Worker::builder()
    ///     .cron("0 30 2 * * *")?               // 02:30 …
    ///     .time_zone("Europe/Berlin")?         // … Berlin time
    ///     .build(|| ());
    /// # drop(nightly);
    /// assert!(atasker::Worker::builder().time_zone("Mars/Olympus").is_err());
    /// # Ok::<(), atasker::BuildError>(())
    /// ```
    pub fn time_zone(mut self, tz: &str) -> Result<Self, BuildError> {
        self.zone = Some(Zone::parse(tz).map_err(BuildError::Cron)?);
        Ok(self)
    }

    /// With a cluster ([`SupervisorBuilder::cluster`]), each tick of this cron worker runs on
    /// exactly one node of the fleet: the first node to take the tick's lease in Redis (a
    /// key named by the worker's name and the tick's scheduled UTC time, with a TTL of twice
    /// the schedule's period, at least a minute and at most a day), so that nodes whose
    /// clocks differ still agree. The others skip the tick. Without a cluster the worker runs
    /// every tick locally. Ignored by workers without [`cron`]. A tick whose lease cannot be
    /// asked for (Redis unreachable within the call deadline) is skipped with an error event,
    /// never run twice.
    ///
    /// Clock skew: a tick runs at most once in the fleet whatever the hosts' clocks say. Beside
    /// the leases, Redis keeps the fleet's high-water mark for the worker (the last tick it
    /// fired: `<ns>:lease:<name>:last`, kept for 30 days after that tick), compared and
    /// advanced in the same step that takes a lease: no tick at or before it runs again, also
    /// after its lease has expired. So a host whose clock runs ahead fires each tick early (by
    /// its skew), and while it does, the hosts with right clocks run none (their ticks are
    /// behind the mark); should it leave, they resume once their clocks pass the last tick it
    /// fired. Keep the hosts' clocks in sync (NTP).
    ///
    /// ```
    /// let sweep = atasker::Worker::builder()
    ///     .name("sweep")
    ///     .cron("0 * * * * *")?
    ///     .fleet()
    ///     .build(|| ());
    /// # drop(sweep);
    /// # Ok::<(), atasker::BuildError>(())
    /// ```
    ///
    /// [`SupervisorBuilder::cluster`]: crate::SupervisorBuilder::cluster
    /// [`cron`]: WorkerBuilder::cron
    pub fn fleet(mut self) -> Self {
        self.fleet = true;
        self
    }

    /// Test support: the wall clock a cron worker reads (default: `SystemTime::now`).
    #[doc(hidden)]
    pub fn wall_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Wait `d` after each tick before running (interval and delay workers).
    ///
    /// ```
    /// use std::sync::OnceLock;
    /// use std::time::{Duration, Instant};
    /// static FIRST_RUN: OnceLock<Duration> = OnceLock::new();
    /// let started = Instant::now();
    /// let w = atasker::Worker::builder()
    ///     .interval(Duration::from_secs(3600))
    ///     .delay_before(Duration::from_millis(20))
    ///     .build(move || {
    ///         let _ = FIRST_RUN.set(started.elapsed());
    ///     });
    /// w.start();
    /// while FIRST_RUN.get().is_none() {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// w.stop();
    /// assert!(FIRST_RUN.get().unwrap() >= &Duration::from_millis(20));
    /// ```
    pub fn delay_before(mut self, d: Duration) -> Self {
        self.delay_before = Some(d);
        self
    }

    /// Builds a worker whose executor runs on the thread pool.
    ///
    /// Without `interval` or `delay`, a loop worker: it runs back to back until stopped or
    /// until its executor returns `false`.
    ///
    /// With `interval` or `delay` (and no `delay_before`), the runs fall due on the thread
    /// pool's own timer: an idle pool thread sleeps until the next run is due (to within a
    /// millisecond, never early) and starts it itself, at the worker's priority, so a tick
    /// costs one thread wake-up and keeps its time even while the runtime's threads are
    /// busy. A stop or a trigger still goes through the runtime.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// static LEFT: AtomicU32 = AtomicU32::new(3);
    /// let w = atasker::Worker::builder()
    ///     .build(|| LEFT.fetch_sub(1, Ordering::SeqCst) > 1); // `false` stops the worker
    /// w.start();
    /// while w.is_active() {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// assert_eq!(LEFT.load(Ordering::SeqCst), 0);
    /// ```
    pub fn build<F, R>(self, f: F) -> Worker
    where
        F: Fn() -> R + Send + Sync + 'static,
        R: WorkerOutput,
    {
        // An interval or delay worker lives on the pool's timers (see `timed`); a loop, a
        // cron schedule or a pause before each run keep the loop on the runtime.
        let timed = matches!(self.schedule, Schedule::Interval(_) | Schedule::Delay(_))
            && self.cron.is_none()
            && self.delay_before.is_none_or(|d| d.is_zero());
        if timed {
            let body: super::timed::Body = Arc::new(move || f().into_outcome());
            let starter = due_at_start(super::timed::starter(body, self.schedule));
            return Worker {
                core: Core::new(WorkerKind::Interval, self.common, starter),
            };
        }
        self.build_exec(blocking_exec(move |()| f()))
    }

    /// Builds a worker whose executor is a coroutine.
    ///
    /// ```
    /// use std::time::Duration;
    /// let w = atasker::Worker::builder()
    ///     .interval(Duration::from_millis(10))
    ///     .build_async(|| async { tokio::time::sleep(Duration::from_millis(1)).await });
    /// w.start();
    /// while w.stats().runs == 0 {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// w.stop();
    /// ```
    pub fn build_async<F, Fut>(self, f: F) -> Worker
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: WorkerOutput,
    {
        self.build_exec(async_exec(move |()| f()))
    }

    pub(crate) fn build_exec(self, exec: Exec<()>) -> Worker {
        let (schedule, before) = (self.schedule, self.delay_before);
        if let Some(expr) = &self.cron {
            let zone = self.zone.clone().unwrap_or(Zone::Utc);
            // Validated by `cron` (and `time_zone`).
            let plan = CronPlan::parse(expr, zone).expect("a validated cron expression");
            let plan = Arc::new(plan);
            let clock = self.clock.unwrap_or_else(|| Arc::new(SystemTime::now));
            let fleet = self.fleet;
            let starter = Box::new(move |core: Arc<Core>, run: Run| {
                // The first tick, known before `start()` returns.
                let ticker = cron::first_tick(&core, plan.clone(), &clock);
                let (exec, clock) = (exec.clone(), clock.clone());
                Box::pin(async move { cron::drive(&core, &run, &exec, ticker, clock, fleet).await })
                    as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
            });
            return Worker {
                core: Core::new(WorkerKind::Cron, self.common, starter),
            };
        }
        let kind = match schedule {
            Schedule::Loop => WorkerKind::Loop,
            _ => WorkerKind::Interval,
        };
        let starter: Starter = Box::new(move |core: Arc<Core>, run: Run| {
            let exec = exec.clone();
            Box::pin(async move { drive(&core, &run, &exec, schedule, before).await })
                as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
        });
        let starter = match schedule {
            Schedule::Loop => starter,
            _ => due_at_start(starter),
        };
        Worker {
            core: Core::new(kind, self.common, starter),
        }
    }
}

/// `starter`, with `next_run_at` set before `start()` returns: an interval or delay worker's
/// first run is due at once.
fn due_at_start(starter: Starter) -> Starter {
    Box::new(move |core: Arc<Core>, run: Run| {
        core.next_run_at.set(Some(SystemTime::now()));
        starter(core, run)
    })
}

async fn drive(
    core: &Core,
    run: &Run,
    exec: &Exec<()>,
    schedule: Schedule,
    before: Option<Duration>,
) {
    match schedule {
        Schedule::Loop => loop {
            if !core.pause(run, before).await || !core.exec(run, exec, ()).await {
                return;
            }
            tokio::task::yield_now().await;
        },
        Schedule::Interval(every) => {
            // `None`: a tick beyond what an `Instant` holds, which never comes (only a
            // trigger runs the worker again).
            let mut next = Some(Instant::now());
            loop {
                core.next_run_at.set_at(next);
                let is_tick = match core.wait(run, next, true).await {
                    Wake::Stop => return,
                    Wake::Time => true,
                    Wake::Trigger => false,
                };
                core.next_run_at.set(None);
                if !core.pause(run, before).await || !core.exec(run, exec, ()).await {
                    return;
                }
                // A trigger during the run is dropped: triggers run the executor only if idle.
                core.trigger.clear();
                if is_tick {
                    next = next
                        .and_then(|n| n.checked_add(every))
                        .map(|tick| catch_up(core, tick, every));
                }
            }
        }
        // Built as a cron worker (see `build_exec`).
        Schedule::Cron { .. } => {}
        Schedule::Delay(pause) => {
            let mut next = Some(Instant::now());
            loop {
                core.next_run_at.set_at(next);
                if core.wait(run, next, true).await == Wake::Stop {
                    return;
                }
                core.next_run_at.set(None);
                if !core.pause(run, before).await || !core.exec(run, exec, ()).await {
                    return;
                }
                core.trigger.clear();
                next = crate::sync::after(pause);
            }
        }
    }
}
