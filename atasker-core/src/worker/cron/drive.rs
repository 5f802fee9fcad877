//! The loop of a cron worker on the runtime, and its first tick, computed in `start()`.

use super::ticker::{Step, Ticker};
use super::{fleet, CronPlan};
use crate::task::run_catching;
use crate::worker::{Core, Exec, Run, Wake, WorkerError};
use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long the loop sleeps at most before it reads the wall clock again.
const RECHECK: Duration = Duration::from_secs(60);

/// Reads the wall clock (injectable: see `WorkerBuilder::wall_clock`).
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The schedule of one run of a worker, from `start()` (which calls this before it returns):
/// the first tick is computed now, so that `next_run_at` is known when `start()` returns.
/// A schedule that fails here fails again in the loop, which reports it.
pub(crate) fn first_tick(core: &Core, plan: Arc<CronPlan>, clock: &Clock) -> Ticker {
    let mut ticker = Ticker::new(plan);
    let first = run_catching(|| ticker.step(clock().into()));
    if let Ok(Ok(Step::Wait(until))) = first {
        core.next_run_at.set(Some(until.into()));
    }
    ticker
}

/// The loop of a cron worker, from the schedule [`first_tick`] began.
pub(crate) async fn drive(
    core: &Core,
    run: &Run,
    exec: &Exec<()>,
    mut ticker: Ticker,
    clock: Clock,
    fleet: bool,
) {
    // Whether the last step failed too (a failing schedule is reported once, not per retry).
    let mut failing = false;
    loop {
        let now: DateTime<Utc> = clock().into();
        // croner is a library's code on our loop: a panic in it is reported like a run's.
        let step = run_catching(|| ticker.step(now)).unwrap_or_else(|e| Err(e.to_string()));
        let go_on = match step {
            Ok(Step::Wait(until)) => {
                failing = false;
                wait(core, run, exec, now, until).await
            }
            Ok(Step::Run { tick, missed }) => {
                failing = false;
                core.missed.fetch_add(missed, Relaxed);
                run_tick(core, run, exec, tick, ticker.next(), fleet).await
            }
            Err(message) => {
                let report = !failing;
                failing = true;
                schedule_failed(core, run, message, report).await
            }
        };
        if !go_on {
            return;
        }
    }
}

/// Sleeps until the tick `until` (or a minute, to read the clock again); a trigger runs the
/// executor now without moving the schedule. `false`: the worker stops.
async fn wait(
    core: &Core,
    run: &Run,
    exec: &Exec<()>,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> bool {
    core.next_run_at.set(Some(until.into()));
    let nap = (until - now).to_std().unwrap_or_default().min(RECHECK);
    match core.wait(run, crate::sync::after(nap), true).await {
        Wake::Stop => false,
        Wake::Trigger => core.exec(run, exec, ()).await,
        Wake::Time => true,
    }
}

/// Runs for the due `tick` (a `fleet` worker only if the fleet gives it the tick); `next` is
/// the tick after it. `false`: the worker stops.
async fn run_tick(
    core: &Core,
    run: &Run,
    exec: &Exec<()>,
    tick: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
    fleet: bool,
) -> bool {
    core.next_run_at.set(next.map(Into::into));
    if fleet && !fleet::take(core, tick, next).await {
        return true;
    }
    if !core.exec(run, exec, ()).await {
        return false;
    }
    // A trigger during the run is dropped: triggers run the executor only if idle.
    core.trigger.clear();
    true
}

/// The schedule cannot be evaluated (it has no tick left, or the cron library failed): no
/// run, so `runs` stays as it is; the first failure of a streak is reported like an
/// executor error (`errors`, `on_error` or a `tracing` error); the clock is read again a
/// minute later. `false`: the worker stopped meanwhile.
async fn schedule_failed(core: &Core, run: &Run, message: String, report: bool) -> bool {
    core.next_run_at.set(None);
    if report {
        let error = WorkerError::Failed {
            worker: core.name().to_owned(),
            message,
        };
        core.errors.fetch_add(1, Relaxed);
        match &core.on_error {
            Some(hook) => drop(run_catching(|| hook(&error))),
            None => {
                tracing::error!(worker = core.name(), error = %error, "atasker: the cron schedule failed; no run; trying again every minute")
            }
        }
    }
    !run.stopping() && core.wait(run, crate::sync::after(RECHECK), false).await != Wake::Stop
}
