//! `fleet` cron workers: with a cluster, each tick runs on exactly one member of the fleet —
//! also when one member's clock runs 700 ms ahead (the lease is keyed by the tick's scheduled
//! time, not by anyone's clock), and again after a member is killed; with one member's clock
//! 65 s ahead (beyond a lease's TTL), no tick runs twice (the fleet's high-water mark).
//! Members are helper processes (this test binary, running `fleet_member` only).

#[macro_use]
mod cluster_common;

use atasker::{Supervisor, Worker};
use cluster_common::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::Child;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MEMBER: &str = "ATASKER_TEST_FLEET_MEMBER";
const LOG: &str = "ATASKER_TEST_FLEET_LOG";
const SKEW_MS: &str = "ATASKER_TEST_FLEET_SKEW_MS";

/// Not a test of its own: one member of the fleet (a process with a supervisor on the
/// cluster and a started `fleet` cron worker firing every second), for
/// `each_tick_runs_once_in_the_fleet`. Logs `<tick second> <pid>` per run, the tick read on
/// its own (maybe skewed) clock.
#[test]
fn fleet_member() {
    let Ok(url) = std::env::var(MEMBER) else {
        return;
    };
    let log = std::env::var(LOG).unwrap();
    let skew = Duration::from_millis(std::env::var(SKEW_MS).map_or(0, |s| s.parse().unwrap()));
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder().cluster(url).build().unwrap(),
    ));
    let clock = move || SystemTime::now() + skew;
    let w = Worker::builder()
        .name("sweep")
        .supervisor(sup)
        .cron("* * * * * *")
        .unwrap()
        .fleet()
        .wall_clock(clock)
        .build(move || {
            let second = clock().duration_since(UNIX_EPOCH).unwrap().as_secs();
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&log)
                .unwrap();
            // One write(2) per line: O_APPEND keeps it whole among the members' lines
            // (`writeln!` on a `File` may split it into several writes).
            let line = format!("{second} {}\n", std::process::id());
            f.write_all(line.as_bytes()).unwrap();
        });
    w.start();
    std::thread::sleep(Duration::from_secs(120));
}

struct Members(Vec<Child>);

impl Drop for Members {
    fn drop(&mut self) {
        for c in &mut self.0 {
            kill9(c);
        }
    }
}

/// Runs per tick second (and which pids ran it), read from the log: its complete lines (a
/// member may be writing the last one).
fn ticks(log: &str) -> BTreeMap<u64, Vec<u32>> {
    let mut out: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    for line in complete.lines() {
        let mut parts = line.split(' ');
        let (Some(t), Some(pid)) = (parts.next(), parts.next()) else {
            continue;
        };
        out.entry(t.parse().unwrap())
            .or_default()
            .push(pid.parse().unwrap());
    }
    out
}

/// A log path of this test process, removed if it was there.
fn fresh_log(name: &str) -> String {
    let log = std::env::temp_dir().join(format!("{name}-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    log.to_string_lossy().into_owned()
}

/// A fleet member of `redis` logging its runs to `log`, its clock `skew` ms ahead.
fn member_of(redis: &RedisServer, log: &str, skew: &str) -> Child {
    let url = redis.url();
    spawn_self_as(
        &[(MEMBER, url.as_str()), (LOG, log), (SKEW_MS, skew)],
        "fleet_member",
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn each_tick_runs_once_in_the_fleet() {
    let redis = RedisServer::start();
    let log = fresh_log("atasker-fleet");
    let member = |skew: &str| member_of(&redis, &log, skew);
    let mut members = Members(vec![member("0"), member("700")]);
    let pids: Vec<u32> = members.0.iter().map(Child::id).collect();

    // Twelve ticks with both members (the first two may come before both are up).
    let start = now_secs() + 3;
    eventually(Duration::from_secs(30), "ticks with both members", || {
        ticks(&log).range(start..).count() >= 12
    });
    let both = ticks(&log);
    for (t, ran) in both.range(start..start + 10) {
        assert_eq!(ran.len(), 1, "tick {t} ran {ran:?} (members {pids:?})");
    }
    let seconds: Vec<_> = both.range(start..start + 10).map(|(t, _)| *t).collect();
    assert_eq!(
        seconds,
        (start..start + 10).collect::<Vec<_>>(),
        "a tick was skipped"
    );
    // Kill the member that ran the last tick (the one whose clock is ahead takes every lease
    // first): the other goes on alone.
    let last = both.iter().next_back().unwrap().1[0];
    let killed = members.0.iter().position(|c| c.id() == last).unwrap();
    kill9(&mut members.0[killed]);
    let after = now_secs() + 2;
    eventually(Duration::from_secs(30), "ticks after the kill", || {
        ticks(&log).range(after..).count() >= 6
    });
    let alone = ticks(&log);
    for (t, ran) in alone.range(after..after + 5) {
        assert_eq!(ran, &vec![pids[1 - killed]], "tick {t} after the kill");
    }
    let seconds: Vec<_> = alone.range(after..after + 5).map(|(t, _)| *t).collect();
    assert_eq!(
        seconds,
        (after..after + 5).collect::<Vec<_>>(),
        "a tick was skipped"
    );
    drop(members);
    let _ = std::fs::remove_file(&log);
}

/// gocron#841: a member whose clock runs further ahead than a lease lives (its TTL is at
/// least 60 s) fires each tick early; when the others' clocks reach that tick, its lease is
/// gone, and only the fleet's high-water mark (the last tick it fired) keeps them from
/// running it again.
#[test]
fn a_clock_ahead_by_more_than_a_lease_lives_runs_no_tick_twice() {
    let redis = RedisServer::start();
    let log = fresh_log("atasker-fleet-ahead");
    let member = |skew: &str| member_of(&redis, &log, skew);
    let members = Members(vec![member("65000"), member("0"), member("0")]);
    let pids: Vec<u32> = members.0.iter().map(Child::id).collect();
    let ahead = pids[0];
    let first_early = || {
        let all = ticks(&log);
        all.into_iter()
            .find(|(_, ran)| ran.contains(&ahead))
            .map(|(t, _)| t)
    };
    eventually(
        Duration::from_secs(30),
        "a first tick on the clock ahead",
        || first_early().is_some(),
    );
    let first = first_early().unwrap();
    // The first tick ran about 65 s before the right clocks reach it; 15 s more of ticks
    // whose leases have expired by the time the right clocks reach them.
    let until = first + 15;
    eventually(
        Duration::from_secs(150),
        "the right clocks pass the early ticks",
        || now_secs() > until + 1,
    );
    let all = ticks(&log);
    for (t, ran) in &all {
        assert_eq!(ran.len(), 1, "tick {t} ran {ran:?} (members {pids:?})");
    }
    // The fleet went on firing: one run a second (early, on the clock ahead).
    let last = *all.keys().next_back().unwrap();
    assert!(last >= until + 60, "ticks {first}..={last}");
    let gaps: Vec<_> = (first..=last).filter(|t| !all.contains_key(t)).collect();
    assert!(gaps.len() <= 3, "ticks not run: {gaps:?}");
    drop(members);
    let _ = std::fs::remove_file(&log);
}
