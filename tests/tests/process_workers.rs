//! The shape a `static` worker expands to: the executor runs in the process pool, one task per
//! run, awaited by a coroutine; its outcome (`Ok(go on)` / `Err(text)`) is made in the child.

#[macro_use]
mod process_common;

use atasker::__private::{Schedule, TaskOptions, WorkerOptions};
use atasker::{Priority, Supervisor, Worker};
use process_common::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(e: &atasker::WorkerError) {
    ERRORS.lock().unwrap().push(e.to_string());
}

fn options(name: &'static str, sup: &'static Supervisor) -> WorkerOptions {
    WorkerOptions {
        name,
        priority: Priority::Normal,
        supervisor: Some(sup),
        on_error: Some(record),
        schedule: Schedule::Interval(Duration::from_millis(20)),
        delay_before: None,
        capacity: None,
    }
}

fn task_options(opts: &WorkerOptions) -> TaskOptions {
    TaskOptions {
        name: opts.name,
        priority: opts.priority,
        timeout: None,
        delay: None,
        supervisor: opts.supervisor,
        limit: None,
        retry: None,
    }
}

/// `#[background_worker(static, interval = 0.02, on_error = record)]
/// fn flaky() -> Result<(), String> { Err(format!("disk full in {}", std::process::id())) }`
fn flaky(sup: &'static Supervisor) -> Worker {
    fn __atasker_body() -> Result<(), String> {
        Err(format!("disk full in {}", std::process::id()))
    }
    fn __atasker_call(input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        atasker::__private::call_static_worker(input, out, |(): ()| __atasker_body())
    }
    #[atasker::__private::linkme::distributed_slice(atasker::__private::ATASKER_STATIC_TASKS_V0_1)]
    #[linkme(crate = atasker::__private::linkme)]
    static __ATASKER_ENTRY: atasker::__private::StaticEntry = atasker::__private::StaticEntry {
        name: concat!(module_path!(), "::flaky"),
        call: __atasker_call,
    };
    let opts = options("flaky", sup);
    let task = task_options(&opts);
    atasker::__private::worker_async(opts, move || {
        atasker::__private::run_static_worker(task, &__ATASKER_ENTRY, ())
    })
}

/// `#[background_worker(static)] fn once() -> bool { false }`: stops itself.
fn once(sup: &'static Supervisor) -> Worker {
    fn __atasker_body() -> bool {
        false
    }
    fn __atasker_call(input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        atasker::__private::call_static_worker(input, out, |(): ()| __atasker_body())
    }
    #[atasker::__private::linkme::distributed_slice(atasker::__private::ATASKER_STATIC_TASKS_V0_1)]
    #[linkme(crate = atasker::__private::linkme)]
    static __ATASKER_ENTRY: atasker::__private::StaticEntry = atasker::__private::StaticEntry {
        name: concat!(module_path!(), "::once"),
        call: __atasker_call,
    };
    let opts = options("once", sup);
    let task = task_options(&opts);
    atasker::__private::worker_async(opts, move || {
        atasker::__private::run_static_worker(task, &__ATASKER_ENTRY, ())
    })
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + SOON;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_static_worker_runs_in_a_child_and_reports_its_errors() {
    let sup = supervisor("static-worker", 1);
    let w = flaky(sup);
    assert!(w.start());
    wait_for("two failed runs", || ERRORS.lock().unwrap().len() >= 2);
    w.stop();
    let errors = ERRORS.lock().unwrap().clone();
    let me = format!("disk full in {}", std::process::id());
    assert!(
        errors
            .iter()
            .all(|e| e.contains("disk full in") && !e.contains(&me)),
        "{errors:?}"
    );
    assert!(w.stats().errors >= 2);
    assert_eq!(
        sup.stats().processes.total().failed,
        0,
        "the runs themselves succeeded"
    );

    let w = once(sup);
    assert!(w.start());
    wait_for("the worker stops itself", || !w.is_active());
    assert_eq!(w.stats().runs, 1);
}
