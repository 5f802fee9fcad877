//! Cron workers: runs at the ticks of a cron expression, in a time zone (UTC unless told).
//!
//! Expressions are parsed and evaluated by [croner](https://docs.rs/croner) (6 fields: seconds
//! first; 5 fields: minute resolution; `@hourly`-style shorthands), zones come from
//! [chrono-tz](https://docs.rs/chrono-tz) (the IANA database it carries) or the machine's
//! local zone. croner handles daylight saving as API.md §8 asks: a job at a fixed hour runs
//! once (a time in a spring-forward gap just after it, a time in a fall-back overlap at its
//! first pass); a job whose hour field is a wildcard or a step follows real time.
//!
//! - `plan.rs`: the schedule ([`CronPlan`], [`Zone`]): parsed, and checked to fire at all;
//! - `ticker.rs`: the schedule's state between wake-ups ([`Ticker`](ticker::Ticker)): it never
//!   runs twice for one tick nor at or before the last tick it ran (a clock stepped back waits
//!   for the clock to catch up), runs once for every tick it missed (an overrun, a stall, a
//!   suspended machine) and counts them;
//! - `drive.rs`: the loop on the runtime, which re-reads the wall clock at least once a minute
//!   (tokio's timers are monotonic and do not see a suspend), and the first tick computed in
//!   `start()`;
//! - `fleet.rs`: a `fleet` worker's tick taken in Redis (the tick's lease and the fleet's
//!   high-water mark).

mod drive;
mod fleet;
mod plan;
mod ticker;

pub(crate) use drive::{drive, first_tick, Clock};
pub(crate) use plan::{CronPlan, Zone};
