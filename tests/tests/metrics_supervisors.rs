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

/// Counts the warning events whose message names two live supervisors of one name.
#[derive(Default)]
struct TwinWarnings(std::sync::atomic::AtomicUsize);

impl tracing::Subscriber for TwinWarnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "message" {
                    self.0 = format!("{v:?}");
                }
            }
        }
        let mut m = Message(String::new());
        event.record(&mut m);
        if *event.metadata().level() == tracing::Level::WARN
            && m.0.contains("two live supervisors are named `twin`")
        {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_second_live_supervisor_of_the_same_name_is_warned_about() {
    let warnings = std::sync::Arc::new(TwinWarnings::default());
    tracing::subscriber::with_default(warnings.clone(), || {
        let twin = || Supervisor::builder().name("twin").build().unwrap();
        let first = twin();
        let count = || warnings.0.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(count(), 0);
        let second = twin();
        assert_eq!(count(), 1, "the second `twin` is warned about");
        drop((first, second));
        // Once both are gone the name is free again.
        let third = twin();
        assert_eq!(count(), 1);
        drop(third);
    });
}
