//! The schedule's state between wake-ups ([`Ticker`]): which tick runs when the wall clock
//! reads a given time, and how many ticks a stall skipped.

use super::CronPlan;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// The most ticks one wake-up counts one by one; past it, `missed` saturates for that stall
/// (a machine off for months costs bounded work and one run).
pub(crate) const MISSED_CAP: u64 = 10_000;

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

#[cfg(test)]
mod tests {
    use super::super::Zone;
    use super::*;

    /// One step of `t` at `now`, which must not fail.
    fn step_at(t: &mut Ticker, now: DateTime<Utc>) -> Step {
        t.step(now).unwrap()
    }
    use chrono::TimeZone;
    use chrono_tz::Europe::Berlin;
    use std::time::Duration;

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
            if let Step::Run { tick, .. } = step_at(t, now) {
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
    fn a_fixed_time_runs_just_after_a_spring_forward_gap_and_once_in_a_fall_back_overlap() {
        let cases = [
            // 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
            (
                "0 30 2 * * *",
                (2026, 3, 29),
                [berlin(2026, 3, 29, 3, 0, 0), berlin(2026, 3, 30, 2, 30, 0)],
            ),
            // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:00-03:00 happens twice,
            // and the run is at its first pass.
            (
                "0 0 2 * * *",
                (2026, 10, 25),
                [utc(2026, 10, 25, 0, 0, 0), utc(2026, 10, 26, 1, 0, 0)],
            ),
        ];
        for (expr, (y, m, d), expected) in cases {
            assert_eq!(around_a_berlin_day(expr, y, m, d), expected, "{expr}");
        }
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
            step_at(&mut t, utc(2026, 1, 1, 10, 0, 30)),
            Step::Wait(utc(2026, 1, 1, 10, 1, 0))
        );
        // The machine slept until 10:05:20: ticks 10:01..10:05 are due; one run, for 10:05.
        assert_eq!(
            step_at(&mut t, utc(2026, 1, 1, 10, 5, 20)),
            Step::Run {
                tick: utc(2026, 1, 1, 10, 5, 0),
                missed: 4
            }
        );
        assert_eq!(
            step_at(&mut t, utc(2026, 1, 1, 10, 5, 21)),
            Step::Wait(utc(2026, 1, 1, 10, 6, 0))
        );
    }

    #[test]
    fn a_stall_of_months_costs_bounded_work() {
        let mut t = Ticker::new(plan("* * * * * *", Zone::Utc));
        step_at(&mut t, utc(2026, 1, 1, 0, 0, 0));
        let started = std::time::Instant::now();
        let step = step_at(&mut t, utc(2026, 7, 1, 0, 0, 0));
        assert_eq!(
            step,
            Step::Run {
                tick: utc(2026, 7, 1, 0, 0, 0),
                missed: MISSED_CAP
            }
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(
            step_at(&mut t, utc(2026, 7, 1, 0, 0, 0)),
            Step::Wait(utc(2026, 7, 1, 0, 0, 1))
        );
    }

    #[test]
    fn a_clock_stepped_back_does_not_repeat_a_tick() {
        let mut t = Ticker::new(plan("0 * * * * *", Zone::Utc));
        step_at(&mut t, utc(2026, 1, 1, 10, 0, 30));
        assert!(matches!(
            step_at(&mut t, utc(2026, 1, 1, 10, 1, 0)),
            Step::Run { .. }
        ));
        // The clock is stepped back five minutes: nothing runs until it passes 10:02 again.
        for back in [
            utc(2026, 1, 1, 9, 56, 0),
            utc(2026, 1, 1, 9, 59, 59),
            utc(2026, 1, 1, 10, 1, 0),
        ] {
            assert_eq!(step_at(&mut t, back), Step::Wait(utc(2026, 1, 1, 10, 2, 0)));
        }
        assert_eq!(
            step_at(&mut t, utc(2026, 1, 1, 10, 2, 0)),
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
            step_at(&mut t, utc(2026, 1, 1, 10, 0, 0)),
            Step::Wait(utc(2026, 1, 1, 11, 0, 0))
        );
    }
}
