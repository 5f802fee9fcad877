//! Cron workers: runs at the ticks of a cron expression, in a time zone (UTC unless told).
//!
//! Expressions are parsed and evaluated by [croner](https://docs.rs/croner) (6 fields: seconds
//! first; 5 fields: minute resolution; `@hourly`-style shorthands), zones come from
//! [chrono-tz](https://docs.rs/chrono-tz) (the IANA database) or the machine's local zone.
//! croner handles daylight saving as API.md §8 asks: a job at a fixed hour runs once (a time
//! in a spring-forward gap just after it, a time in a fall-back overlap at its first pass);
//! a job whose hour field is a wildcard or a step follows real time.
//!
//! The loop ([`Ticker`]) never runs twice for one tick nor at or before the last tick it ran
//! (a clock stepped back waits for the clock to catch up), runs once for every tick it missed
//! (an overrun, a stall, a suspended machine) and counts them, and re-reads the wall clock at
//! least once a minute (tokio's timers are monotonic and do not see a suspend).

use super::{Core, Exec, Run, Wake, WorkerError};
use crate::task::run_catching;
use chrono::{DateTime, Local, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long the loop sleeps at most before it reads the wall clock again.
const RECHECK: Duration = Duration::from_secs(60);

/// The most ticks one wake-up counts one by one; past it, `missed` saturates for that stall
/// (a machine off for months costs bounded work and one run).
pub(crate) const MISSED_CAP: u64 = 10_000;

/// A time zone of a cron schedule.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Zone {
    Utc,
    /// The machine's local zone (`tz = "local"`).
    Local,
    /// An IANA zone (`tz = "Europe/Berlin"`).
    Named(chrono_tz::Tz),
}

impl Zone {
    /// `"local"` or an IANA name; `Err` says what to write.
    pub(crate) fn parse(tz: &str) -> Result<Zone, String> {
        if tz == "local" {
            return Ok(Zone::Local);
        }
        tz.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| {
            format!(
                "unknown time zone `{tz}`; write an IANA name such as `Europe/Berlin`, or `local`"
            )
        })
    }
}

/// A parsed cron schedule in its zone.
#[derive(Clone, Debug)]
pub(crate) struct CronPlan {
    cron: Cron,
    zone: Zone,
    /// The expression as written (for `Debug` and errors).
    pub(crate) expr: String,
}

impl CronPlan {
    /// Parses `expr` (6 fields with seconds, 5 without, or a shorthand); `Err` says why.
    pub(crate) fn parse(expr: &str, zone: Zone) -> Result<CronPlan, String> {
        let parser = CronParser::builder().seconds(Seconds::Optional).build();
        let cron = run_catching(|| parser.parse(expr))
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot parse the cron expression `{expr}`: {e}"))?;
        Ok(CronPlan {
            cron,
            zone,
            expr: expr.to_owned(),
        })
    }

    /// The first tick strictly after `t`.
    pub(crate) fn next_after(&self, t: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
        let next = match &self.zone {
            Zone::Utc => self.cron.find_next_occurrence(&t, false),
            Zone::Local => self
                .cron
                .find_next_occurrence(&t.with_timezone(&Local), false)
                .map(|t| t.with_timezone(&Utc)),
            Zone::Named(tz) => self
                .cron
                .find_next_occurrence(&t.with_timezone(tz), false)
                .map(|t| t.with_timezone(&Utc)),
        };
        next.map_err(|e| format!("no next tick of `{}`: {e}", self.expr))
    }

    /// The last tick at or before `t`, if any.
    fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.zone {
            Zone::Utc => self.cron.find_previous_occurrence(&t, true).ok(),
            Zone::Local => self
                .cron
                .find_previous_occurrence(&t.with_timezone(&Local), true)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            Zone::Named(tz) => self
                .cron
                .find_previous_occurrence(&t.with_timezone(tz), true)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }
}

/// What the loop does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Sleep until then (re-reading the wall clock at least every minute).
    Wait(DateTime<Utc>),
    /// Run for the tick scheduled at `tick`, having skipped `missed` earlier ticks.
    Run { tick: DateTime<Utc>, missed: u64 },
}

/// The schedule's state between wake-ups: a pure function of the wall clock it is shown, so
/// that tests drive it through daylight-saving dates, stalls and stepped clocks in no time.
#[derive(Debug)]
pub(crate) struct Ticker {
    plan: Arc<CronPlan>,
    /// The next tick to run (strictly after the last one run).
    next: Option<DateTime<Utc>>,
}

impl Ticker {
    pub(crate) fn new(plan: Arc<CronPlan>) -> Self {
        Ticker { plan, next: None }
    }

    /// What to do at wall-clock time `now`. A worker runs only at its ticks: the first is the
    /// first tick after the first `now` seen.
    pub(crate) fn step(&mut self, now: DateTime<Utc>) -> Result<Step, String> {
        let next = match self.next {
            Some(next) => next,
            None => *self.next.insert(self.plan.next_after(now)?),
        };
        if now < next {
            return Ok(Step::Wait(next));
        }
        let (tick, missed) = self.latest_due(next, now)?;
        // Never again at or before the tick run now (also if the clock steps back).
        self.next = Some(self.plan.next_after(tick.max(now))?);
        Ok(Step::Run { tick, missed })
    }

    /// The latest tick at or before `now`, from the due tick `first`, and how many ticks
    /// before it are skipped; bounded work however long the stall.
    fn latest_due(
        &self,
        first: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(DateTime<Utc>, u64), String> {
        let mut tick = first;
        let mut missed = 0;
        loop {
            let after = self.plan.next_after(tick)?;
            if after > now {
                return Ok((tick, missed));
            }
            if missed + 1 >= MISSED_CAP {
                let latest = self.plan.last_at_or_before(now).unwrap_or(after);
                return Ok((latest.max(after), MISSED_CAP));
            }
            tick = after;
            missed += 1;
        }
    }

    /// When the next tick is due, once known.
    pub(crate) fn next(&self) -> Option<DateTime<Utc>> {
        self.next
    }
}

/// Reads the wall clock (injectable: see `WorkerBuilder::wall_clock`).
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The loop of a cron worker.
pub(crate) async fn drive(
    core: &Core,
    run: &Run,
    exec: &Exec<()>,
    plan: Arc<CronPlan>,
    clock: Clock,
    fleet: bool,
) {
    let mut ticker = Ticker::new(plan);
    loop {
        let now: DateTime<Utc> = clock().into();
        // croner is a library's code on our loop: a panic in it is reported like a run's.
        let step = run_catching(|| ticker.step(now)).unwrap_or_else(|e| Err(e.to_string()));
        match step {
            Ok(Step::Wait(until)) => {
                core.next_run_at.set(Some(until.into()));
                let nap = (until - now).to_std().unwrap_or_default().min(RECHECK);
                match core.wait(run, crate::sync::after(nap), true).await {
                    Wake::Stop => return,
                    // Runs now; the schedule stays as it is.
                    Wake::Trigger => {
                        if !core.exec(run, exec, ()).await {
                            return;
                        }
                    }
                    Wake::Time => {}
                }
            }
            Ok(Step::Run { missed, tick }) => {
                core.missed.fetch_add(missed, Relaxed);
                let next = ticker.next();
                core.next_run_at.set(next.map(Into::into));
                if fleet && !fleet_lease(core, tick, next).await {
                    continue;
                }
                if !core.exec(run, exec, ()).await {
                    return;
                }
                // A trigger during the run is dropped: triggers run the executor only if idle.
                core.trigger.clear();
            }
            Err(message) => {
                let error = WorkerError::Failed {
                    worker: core.name().to_owned(),
                    message,
                };
                if !core.record(run, Err(error), Duration::ZERO)
                    || core.wait(run, crate::sync::after(RECHECK), false).await == Wake::Stop
                {
                    return;
                }
            }
        }
    }
}

/// Whether this node runs `tick` of a `fleet` worker: always without a cluster; with one,
/// if it took the tick's lease. Its TTL: twice the period (up to the `next` tick), at least a
/// minute, at most a day.
async fn fleet_lease(core: &Core, tick: DateTime<Utc>, next: Option<DateTime<Utc>>) -> bool {
    let Some(remote) = core.sup.inner.remote() else {
        return true;
    };
    let period = next
        .and_then(|n| (n - tick).to_std().ok())
        .unwrap_or(Duration::from_secs(60));
    let ttl = (period * 2).clamp(Duration::from_secs(60), Duration::from_secs(86_400));
    match remote
        .lease(core.name(), tick.timestamp_millis(), ttl)
        .await
    {
        Ok(taken) => {
            if !taken {
                tracing::debug!(worker = core.name(), %tick, "atasker: another node runs this tick");
            }
            taken
        }
        Err(e) => {
            tracing::error!(worker = core.name(), %tick, error = %e, "atasker: cannot take a fleet worker's lease; the tick is skipped");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Europe::Berlin;

    fn plan(expr: &str, zone: Zone) -> Arc<CronPlan> {
        Arc::new(CronPlan::parse(expr, zone).unwrap())
    }

    fn berlin(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Berlin
            .with_ymd_and_hms(y, m, d, h, mi, s)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap()
    }

    /// The ticks run when the clock moves from `from` to `to` in steps of `step`.
    fn runs(
        t: &mut Ticker,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: i64,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut now = from;
        while now <= to {
            if let Step::Run { tick, .. } = t.step(now).unwrap() {
                out.push(tick);
            }
            now += chrono::Duration::seconds(step);
        }
        out
    }

    /// The ticks of a fresh ticker for `expr` in `zone`, run as [`runs`] says.
    fn runs_of(
        expr: &str,
        zone: Zone,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: i64,
    ) -> Vec<DateTime<Utc>> {
        runs(&mut Ticker::new(plan(expr, zone)), from, to, step)
    }

    /// The ticks for `expr` in Berlin, minute by minute, from noon the day before day
    /// `y-m-d` to noon the day after.
    fn around_a_berlin_day(expr: &str, y: i32, m: u32, d: u32) -> Vec<DateTime<Utc>> {
        let (from, to) = (berlin(y, m, d - 1, 12, 0, 0), berlin(y, m, d + 1, 12, 0, 0));
        runs_of(expr, Zone::Named(Berlin), from, to, 60)
    }

    #[test]
    fn expressions_with_and_without_seconds_and_shorthands() {
        let p = plan("*/10 * * * * *", Zone::Utc);
        assert_eq!(
            p.next_after(utc(2026, 1, 1, 0, 0, 1)).unwrap(),
            utc(2026, 1, 1, 0, 0, 10)
        );
        let p = plan("*/5 * * * *", Zone::Utc);
        assert_eq!(
            p.next_after(utc(2026, 1, 1, 0, 0, 1)).unwrap(),
            utc(2026, 1, 1, 0, 5, 0)
        );
        let p = plan("@hourly", Zone::Utc);
        assert_eq!(
            p.next_after(utc(2026, 1, 1, 0, 0, 1)).unwrap(),
            utc(2026, 1, 1, 1, 0, 0)
        );
        assert!(CronPlan::parse("61 * * * *", Zone::Utc)
            .unwrap_err()
            .contains("`61 * * * *`"));
        assert!(CronPlan::parse("not cron", Zone::Utc).is_err());
        assert!(Zone::parse("Europe/Berlinx").unwrap_err().contains("IANA"));
        assert_eq!(Zone::parse("local"), Ok(Zone::Local));
    }

    #[test]
    fn a_fixed_time_in_a_spring_forward_gap_runs_once_just_after_it() {
        // 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
        let got = around_a_berlin_day("0 30 2 * * *", 2026, 3, 29);
        assert_eq!(
            got,
            [berlin(2026, 3, 29, 3, 0, 0), berlin(2026, 3, 30, 2, 30, 0)]
        );
    }

    #[test]
    fn a_fixed_time_in_a_fall_back_overlap_runs_once_at_its_first_pass() {
        // 2026-10-25 in Berlin: 03:00 CEST falls back to 02:00 CET; 02:00-03:00 happens twice.
        let got = around_a_berlin_day("0 0 2 * * *", 2026, 10, 25);
        assert_eq!(
            got,
            [utc(2026, 10, 25, 0, 0, 0), utc(2026, 10, 26, 1, 0, 0)]
        );
    }

    #[test]
    fn a_step_schedule_follows_real_time_through_both_passes_of_a_repeated_hour() {
        // From 01:50 CEST (23:50 UTC) to 03:10 CET (02:10 UTC): 2 h 20 min of real time.
        let got = runs_of(
            "0 */15 * * * *",
            Zone::Named(Berlin),
            utc(2026, 10, 24, 23, 50, 0),
            utc(2026, 10, 25, 2, 10, 0),
            30,
        );
        let expected: Vec<_> = (0..9)
            .map(|i| utc(2026, 10, 25, 0, 0, 0) + chrono::Duration::minutes(15 * i))
            .collect();
        assert_eq!(
            got, expected,
            "every 15 real minutes, both passes of 02:xx included"
        );
    }

    #[test]
    fn a_stall_of_several_periods_gives_one_run_and_counts_the_missed_ticks() {
        let mut t = Ticker::new(plan("0 * * * * *", Zone::Utc));
        assert_eq!(
            t.step(utc(2026, 1, 1, 10, 0, 30)).unwrap(),
            Step::Wait(utc(2026, 1, 1, 10, 1, 0))
        );
        // The machine slept until 10:05:20: ticks 10:01..10:05 are due; one run, for 10:05.
        assert_eq!(
            t.step(utc(2026, 1, 1, 10, 5, 20)).unwrap(),
            Step::Run {
                tick: utc(2026, 1, 1, 10, 5, 0),
                missed: 4
            }
        );
        assert_eq!(
            t.step(utc(2026, 1, 1, 10, 5, 21)).unwrap(),
            Step::Wait(utc(2026, 1, 1, 10, 6, 0))
        );
    }

    #[test]
    fn a_stall_of_months_costs_bounded_work() {
        let mut t = Ticker::new(plan("* * * * * *", Zone::Utc));
        t.step(utc(2026, 1, 1, 0, 0, 0)).unwrap();
        let started = std::time::Instant::now();
        let step = t.step(utc(2026, 7, 1, 0, 0, 0)).unwrap();
        assert_eq!(
            step,
            Step::Run {
                tick: utc(2026, 7, 1, 0, 0, 0),
                missed: MISSED_CAP
            }
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(
            t.step(utc(2026, 7, 1, 0, 0, 0)).unwrap(),
            Step::Wait(utc(2026, 7, 1, 0, 0, 1))
        );
    }

    #[test]
    fn a_clock_stepped_back_does_not_repeat_a_tick() {
        let mut t = Ticker::new(plan("0 * * * * *", Zone::Utc));
        t.step(utc(2026, 1, 1, 10, 0, 30)).unwrap();
        assert!(matches!(
            t.step(utc(2026, 1, 1, 10, 1, 0)).unwrap(),
            Step::Run { .. }
        ));
        // The clock is stepped back five minutes: nothing runs until it passes 10:02 again.
        for back in [
            utc(2026, 1, 1, 9, 56, 0),
            utc(2026, 1, 1, 9, 59, 59),
            utc(2026, 1, 1, 10, 1, 0),
        ] {
            assert_eq!(t.step(back).unwrap(), Step::Wait(utc(2026, 1, 1, 10, 2, 0)));
        }
        assert_eq!(
            t.step(utc(2026, 1, 1, 10, 2, 0)).unwrap(),
            Step::Run {
                tick: utc(2026, 1, 1, 10, 2, 0),
                missed: 0
            }
        );
    }

    #[test]
    fn the_first_run_is_at_the_first_tick_after_start_not_at_start() {
        let mut t = Ticker::new(plan("0 0 * * * *", Zone::Utc));
        assert_eq!(
            t.step(utc(2026, 1, 1, 10, 0, 0)).unwrap(),
            Step::Wait(utc(2026, 1, 1, 11, 0, 0))
        );
    }
}
