//! A cron schedule in its time zone ([`CronPlan`]), as croner parses and searches it.

use crate::task::run_catching;
use chrono::{DateTime, Local, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

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

    /// Parses `expr` as [`parse`](Self::parse) does, and checks that it has a tick after
    /// `now`: an expression that can never fire (`0 0 0 30 2 *`: February has no 30th; a `+`
    /// weekday its day never falls on; a year gone by) is an error that says so.
    pub(crate) fn parse_firing(
        expr: &str,
        zone: Zone,
        now: DateTime<Utc>,
    ) -> Result<CronPlan, String> {
        let plan = Self::parse(expr, zone)?;
        match run_catching(|| plan.next_after(now)) {
            Ok(Ok(_)) => Ok(plan),
            _ => Err(never_fires(expr)),
        }
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
        next.map_err(|e| format!("no next tick of `{}` after {t}: {e}", self.expr))
    }

    /// The last tick at or before `t`, if any.
    pub(crate) fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
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

/// Why `expr` is refused although it parses, and what to write instead (the macro says the
/// same at compile time).
fn never_fires(expr: &str) -> String {
    format!(
        "the cron expression `{expr}` never fires: no time from now on matches all its fields \
         (a day its months do not have, such as February 30th; a `+` weekday its day never \
         falls on; a year gone by); write a day every chosen month has (`L` is a month's last \
         day), or drop the `+` to run on the day of month or the weekday"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap()
    }

    fn plan(expr: &str) -> CronPlan {
        CronPlan::parse(expr, Zone::Utc).unwrap()
    }

    #[test]
    fn expressions_with_and_without_seconds_and_shorthands() {
        let p = plan("*/10 * * * * *");
        assert_eq!(
            p.next_after(utc(2026, 1, 1, 0, 0, 1)).unwrap(),
            utc(2026, 1, 1, 0, 0, 10)
        );
        let p = plan("*/5 * * * *");
        assert_eq!(
            p.next_after(utc(2026, 1, 1, 0, 0, 1)).unwrap(),
            utc(2026, 1, 1, 0, 5, 0)
        );
        let p = plan("@hourly");
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
    fn an_expression_that_never_fires_is_refused_and_a_rare_one_is_not() {
        let now = utc(2026, 6, 1, 0, 0, 0);
        for expr in [
            "0 0 0 30 2 *",
            "0 0 31 4,6,9,11 *",
            "0 0 0 31 2 +MON",
            "0 0 0 1 1 * 2025",
        ] {
            let why = CronPlan::parse_firing(expr, Zone::Utc, now).unwrap_err();
            assert!(why.contains(&format!("`{expr}` never fires")), "{why}");
        }
        for (expr, next) in [
            ("0 0 0 29 2 *", utc(2028, 2, 29, 0, 0, 0)),
            ("0 0 0 29 2 +TUE", utc(2028, 2, 29, 0, 0, 0)),
            ("0 0 0 1 1 * 2027", utc(2027, 1, 1, 0, 0, 0)),
        ] {
            let p = CronPlan::parse_firing(expr, Zone::Utc, now).unwrap();
            assert_eq!(p.next_after(now).unwrap(), next, "{expr}");
        }
    }

    #[test]
    fn day_of_month_or_day_of_week_and_plus_for_both() {
        // 2026-06-01 is a Monday. Both days given: either day matches (OR) …
        let or = plan("0 0 0 2 * MON");
        let from = utc(2026, 6, 1, 0, 0, 1);
        assert_eq!(or.next_after(from).unwrap(), utc(2026, 6, 2, 0, 0, 0));
        assert_eq!(
            or.next_after(utc(2026, 6, 2, 0, 0, 0)).unwrap(),
            utc(2026, 6, 8, 0, 0, 0)
        );
        // … and `+` asks for both (AND): the next 2nd that is a Monday.
        let and = plan("0 0 0 2 * +MON");
        assert_eq!(and.next_after(from).unwrap(), utc(2026, 11, 2, 0, 0, 0));
    }

    /// The guide and `WorkerBuilder::time_zone` name the tz database chrono-tz carries.
    #[test]
    fn the_documented_tz_database_is_the_bundled_one() {
        assert_eq!(chrono_tz::IANA_TZDB_VERSION, "2025b");
    }
}
