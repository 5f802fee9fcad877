//! Every task and worker run tells its story through `tracing`: start and end (with outcome
//! and duration) at `debug` inside its span, failures at `error`, queue-wait warnings at
//! `warn`, each with the fields a log search needs. A small recording subscriber (installed
//! for the whole test binary: tasks run on other threads) captures them.

mod common;

use atasker::{EventWorker, Priority, Supervisor, TaskError};
use common::{wait_until, Gate};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

#[derive(Clone, Debug)]
struct Rec {
    level: Level,
    message: String,
    fields: HashMap<String, String>,
    /// The innermost span the event was in, on its thread.
    span: Option<&'static str>,
}

impl Rec {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Rec>>,
    spans: Mutex<HashMap<u64, &'static str>>,
    next: AtomicU64,
}

thread_local! {
    static STACK: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for &'static Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, SeqCst) + 1;
        self.spans
            .lock()
            .unwrap()
            .insert(id, attrs.metadata().name());
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(HashMap::new());
        event.record(&mut fields);
        let span = STACK.with(|s| s.borrow().last().copied());
        let span = span.and_then(|id| self.spans.lock().unwrap().get(&id).copied());
        let message = fields.0.remove("message").unwrap_or_default();
        self.events.lock().unwrap().push(Rec {
            level: *event.metadata().level(),
            message,
            fields: fields.0,
            span,
        });
    }
    fn enter(&self, id: &Id) {
        STACK.with(|s| s.borrow_mut().push(id.into_u64()));
    }
    fn exit(&self, _: &Id) {
        STACK.with(|s| s.borrow_mut().pop());
    }
}

fn recorder() -> &'static Recorder {
    static R: OnceLock<&'static Recorder> = OnceLock::new();
    R.get_or_init(|| {
        let r: &'static Recorder = Box::leak(Box::default());
        tracing::subscriber::set_global_default(r).expect("the only subscriber");
        r
    })
}

fn events(pred: impl Fn(&Rec) -> bool) -> Vec<Rec> {
    recorder()
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|r| pred(r))
        .cloned()
        .collect()
}

fn one(what: &str, pred: impl Fn(&Rec) -> bool) -> Rec {
    let found = events(pred);
    assert_eq!(found.len(), 1, "{what}: {found:#?}");
    found.into_iter().next().unwrap()
}

#[test]
fn tasks_workers_and_waits_tell_their_story() {
    recorder();
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("story")
            .thread_pool(1)
            .reserve_normal(0)
            .reserve_high(0)
            .timeout_warning(Duration::from_millis(50))
            .build()
            .unwrap(),
    ));

    // A task that completes, and one that panics, on the thread pool.
    let ok = sup
        .task()
        .name("app::ok")
        .priority(Priority::High)
        .spawn(|| 1);
    let ok_id = ok.id().as_u64().to_string();
    assert_eq!(ok.wait(), Ok(1));
    let bad = sup
        .task()
        .name("app::bad")
        .spawn(|| -> u8 { panic!("bad input") });
    assert!(matches!(bad.wait(), Err(TaskError::Panicked { .. })));
    // A coroutine.
    assert_eq!(
        sup.task().name("app::co").spawn_async(async { 2 }).wait(),
        Ok(2)
    );

    let started = one("ok started", |r| {
        r.message == "atasker: task started" && r.field("task") == Some("app::ok")
    });
    assert_eq!(started.level, Level::DEBUG);
    assert_eq!(started.span, Some("atasker.task"), "inside the task's span");
    assert_eq!(started.field("id"), Some(ok_id.as_str()));
    assert_eq!(started.field("priority"), Some("high"));
    assert_eq!(started.field("pool"), Some("threads"));
    let ended = one("ok ended", |r| {
        r.message == "atasker: task ended" && r.field("task") == Some("app::ok")
    });
    assert_eq!(
        (ended.level, ended.span),
        (Level::DEBUG, Some("atasker.task"))
    );
    assert_eq!(ended.field("outcome"), Some("completed"));
    assert!(ended.field("duration").unwrap().parse::<f64>().unwrap() >= 0.0);

    let failed = one("bad failed", |r| {
        r.field("task") == Some("app::bad") && r.level == Level::ERROR
    });
    assert_eq!(failed.message, "atasker: task failed");
    assert_eq!(failed.field("outcome"), Some("failed"));
    assert!(failed.field("error").unwrap().contains("bad input"));
    assert_eq!(failed.span, Some("atasker.task"));

    let co = one("coroutine ended", |r| {
        r.message == "atasker: task ended" && r.field("task") == Some("app::co")
    });
    assert_eq!(
        (co.field("pool"), co.span),
        (Some("coroutines"), Some("atasker.task"))
    );

    // A worker run that succeeds, then one that fails (default `on_error`: logged).
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = fail.clone();
    let w = EventWorker::builder()
        .name("app::pump")
        .supervisor(sup)
        .build_async(move || {
            let fail = f.load(SeqCst);
            async move {
                if fail {
                    Err("pump jammed")
                } else {
                    Ok(())
                }
            }
        });
    assert!(w.start());
    w.trigger();
    wait_until("the first run", || w.stats().runs == 1);
    fail.store(true, SeqCst);
    w.trigger();
    wait_until("the second run", || w.stats().runs == 2);
    w.stop();
    let runs = events(|r| r.field("worker") == Some("app::pump"));
    let started: Vec<_> = runs
        .iter()
        .filter(|r| r.message == "atasker: worker run started")
        .collect();
    assert_eq!(started.len(), 2, "{runs:#?}");
    assert!(started
        .iter()
        .all(|r| r.span == Some("atasker.worker") && r.level == Level::DEBUG));
    let ended = runs
        .iter()
        .find(|r| r.message == "atasker: worker run ended")
        .unwrap();
    assert_eq!(
        (ended.field("outcome"), ended.span),
        (Some("ok"), Some("atasker.worker"))
    );
    let failed = runs
        .iter()
        .find(|r| r.level == Level::ERROR)
        .expect("an error event");
    assert_eq!(failed.message, "atasker: worker run failed");
    assert!(failed.field("error").unwrap().contains("pump jammed"));

    // A task stuck in the queue: a warning with its fields.
    let gate = Gate::new();
    let g = gate.clone();
    let blocker = sup.task().spawn(move || g.wait());
    let stuck = sup.task().name("app::stuck").spawn(|| ());
    wait_until("the queue-wait warning", || {
        !events(|r| r.level == Level::WARN && r.field("task") == Some("app::stuck")).is_empty()
    });
    let warn = one("stuck warned", |r| {
        r.level == Level::WARN && r.field("task") == Some("app::stuck")
    });
    assert_eq!(warn.message, "atasker: task still queued");
    assert_eq!(
        warn.field("id"),
        Some(stuck.id().as_u64().to_string().as_str())
    );
    assert_eq!(warn.field("pool"), Some("threads"));
    assert!(warn.field("waited").unwrap().parse::<f64>().unwrap() >= 0.05);
    gate.open();
    blocker.wait().unwrap();
    stuck.wait().unwrap();
    sup.stop();
}

/// A backlog logs its queue-wait warnings per pool and priority, about a line a second (the
/// first task's, then how many more), not a line a task; the hook still sees every task.
#[test]
fn a_backlog_logs_a_line_a_second_not_a_line_a_task() {
    recorder();
    let hooked = Arc::new(AtomicU64::new(0));
    let h = hooked.clone();
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("backlog")
            .thread_pool(1)
            .reserve_normal(0)
            .reserve_high(0)
            .timeout_warning(Duration::from_millis(20))
            .on_timeout_warning(move |_| {
                h.fetch_add(1, SeqCst);
            })
            .build()
            .unwrap(),
    ));
    let gate = Gate::new();
    let g = gate.clone();
    let blocker = sup.task().name("backlog::blocker").spawn(move || g.wait());
    // 400 tasks queued over about 400 ms: each crosses the threshold at its own moment.
    let tasks: Vec<_> = (0..400)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(1));
            sup.task().name("backlog::item").spawn(|| ())
        })
        .collect();
    wait_until("every task warned through the hook", || {
        hooked.load(SeqCst) == 400
    });
    let lines = || {
        events(|r| {
            r.level == Level::WARN
                && r.field("supervisor") == Some("backlog")
                && (r.message == "atasker: task still queued"
                    || r.message == "atasker: more tasks still queued")
        })
    };
    // Every task is said: one line of its own, or counted in a "more" line (held-back ones
    // once their second is up, even if nothing else falls due).
    let said = |lines: &[Rec]| -> u64 {
        (lines.iter())
            .map(|r| r.field("more").map_or(1, |m| m.parse::<u64>().unwrap()))
            .sum()
    };
    wait_until("every task said", || said(&lines()) >= 400);
    let lines = lines();
    assert_eq!(said(&lines), 400);
    assert!(
        (1..=6).contains(&lines.len()),
        "{} lines for 400 tasks over about 0.4 s",
        lines.len()
    );
    gate.open();
    blocker.wait().unwrap();
    for t in tasks {
        t.wait().unwrap();
    }
    sup.stop();
}
