//! Every metrics series carries a `supervisor` label: two supervisors in one process never
//! write the same gauge (API.md §10). Run with `cargo test -p atasker-tests --features metrics`.
#![cfg(feature = "metrics")]

mod common;
mod metrics_common;

use atasker::Supervisor;
use common::wait_until;
use metrics_common::{install_and_serve, scrape, value};

#[test]
fn two_supervisors_in_one_process_never_write_the_same_gauge() {
    let addr = install_and_serve();
    let make = |name: &str| -> &'static Supervisor {
        Box::leak(Box::new(
            Supervisor::builder()
                .name(name)
                .thread_pool(4)
                .build()
                .unwrap(),
        ))
    };
    let (a, b) = (make("gauge-a"), make("gauge-b"));
    let gate = std::sync::Arc::new(std::sync::Barrier::new(4));
    let busy: Vec<_> = (0..3)
        .map(|_| {
            let g = gate.clone();
            a.task().name("g::hold").spawn(move || {
                g.wait();
            })
        })
        .collect();
    wait_until("a runs three", || a.stats().threads.normal.running == 3);
    // `b` ends a task after `a`'s three started: it writes its own gauge, not `a`'s.
    b.task().name("g::quick").spawn(|| ()).wait().unwrap();
    let m = scrape(addr);
    let running = |sup: &str| {
        value(
            &m,
            "atasker_tasks_running",
            &[
                ("supervisor", sup),
                ("pool", "threads"),
                ("priority", "normal"),
            ],
        )
    };
    assert_eq!(running("gauge-a"), Some(3.0));
    assert_eq!(running("gauge-b"), Some(0.0));
    gate.wait();
    for t in busy {
        t.wait().unwrap();
    }
}
