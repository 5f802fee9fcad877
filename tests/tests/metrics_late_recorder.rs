//! A recorder installed after the global supervisor exists still sees every later event:
//! metrics go through the facade at each event, never through handles cached when the
//! supervisor was built (handles bound to the no-op recorder stay silent for ever).
//! Run with `cargo test -p atasker-tests --features metrics`.
#![cfg(feature = "metrics")]

mod metrics_common;

use atasker::Supervisor;
use metrics_common::{install_and_serve, scrape, value};

#[test]
fn a_recorder_installed_after_the_global_supervisor_sees_everything() {
    // The global supervisor exists and has run work before any recorder.
    let sup = Supervisor::global();
    sup.task().name("late::before").spawn(|| ()).wait().unwrap();
    sup.task()
        .name("late::co")
        .spawn_async(async {})
        .wait()
        .unwrap();

    let addr = install_and_serve();
    for _ in 0..3 {
        sup.task().name("late::after").spawn(|| ()).wait().unwrap();
    }
    sup.task()
        .name("late::co")
        .spawn_async(async {})
        .wait()
        .unwrap();

    let m = scrape(addr);
    let total = |task: &str, pool: &str| {
        value(
            &m,
            "atasker_tasks_total",
            &[
                ("supervisor", "default"),
                ("outcome", "completed"),
                ("pool", pool),
                ("priority", "normal"),
                ("task", task),
            ],
        )
    };
    assert_eq!(total("late::after", "threads"), Some(3.0));
    assert_eq!(
        total("late::co", "coroutines"),
        Some(1.0),
        "only what came after the install"
    );
    assert_eq!(total("late::before", "threads"), None);
    assert!(value(
        &m,
        "atasker_tasks_running",
        &[
            ("supervisor", "default"),
            ("pool", "threads"),
            ("priority", "normal")
        ]
    )
    .is_some());
}
