//! A blocking wait on a thread that drives a current-thread runtime would hang that runtime
//! for good: it panics at once, saying to `.await` instead.

use atasker::{Supervisor, TaskError};
use std::time::Duration;

fn message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[tokio::test(flavor = "current_thread")]
async fn wait_on_a_current_thread_runtime_panics_at_once() {
    let sup = Supervisor::builder()
        .runtime(tokio::runtime::Handle::current())
        .build()
        .unwrap();
    let task = sup.task().spawn_async(async { 7 });
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.wait()))
        .expect_err("wait() must panic on a current-thread runtime");
    assert!(message(panic).contains(".await"));

    // The same for a timed wait, and for `wait_completed`; awaiting works.
    let mut t = sup.task().spawn(|| 1);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        t.wait_timeout(Duration::from_secs(5))
    }))
    .expect_err("wait_timeout() must panic too");
    assert!(message(panic).contains(".await"));
    let tasks = vec![sup.task().spawn(|| 2)];
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        atasker::wait_completed(tasks, None)
    }))
    .is_err());
    assert_eq!(t.await, Ok(1));
    assert_eq!(sup.task().spawn_async(async { 3 }).await, Ok(3));
    // A zero timeout never blocks: it is allowed.
    let mut t = sup
        .task()
        .spawn(|| std::thread::sleep(Duration::from_secs(1)));
    assert!(t.wait_timeout(Duration::ZERO).is_none());
    drop(t);
    sup.stop_timeout(Duration::ZERO);
    assert_eq!(
        sup.task().spawn_async(async { 4 }).await,
        Err(TaskError::SupervisorStopped)
    );
}

#[test]
fn wait_on_a_multi_thread_runtime_still_works() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let sup = Supervisor::builder().build().unwrap();
    let r = rt.block_on(async { sup.task().spawn(|| 5).wait() });
    assert_eq!(r, Ok(5));
}

#[tokio::test(flavor = "current_thread")]
async fn other_blocking_calls_on_a_current_thread_runtime_panic_too() {
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .runtime(tokio::runtime::Handle::current())
            .build()
            .unwrap(),
    ));
    // A full bounded queue: `put` would block the runtime its worker runs on.
    let w = atasker::QueueWorker::builder()
        .supervisor(sup)
        .capacity(1)
        .build_async(|_: u8| async {});
    w.put(1); // room: fine
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.put(2)))
        .expect_err("put() on a full queue must panic here");
    assert!(message(panic).contains(".await"));
    assert_eq!(w.try_put(3), Err(3));
    // A stop that has to wait for a coroutine of this very runtime.
    let t = sup.task().spawn_async(std::future::pending::<()>());
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sup.stop()))
        .expect_err("stop() waiting on this runtime must panic");
    assert!(message(panic).contains(".await"));
    assert!(t.cancel());
    assert_eq!(t.await, Err(TaskError::Cancelled));
    // With nothing left to wait for, it returns.
    sup.stop();
}

#[tokio::test(flavor = "current_thread")]
async fn the_panic_points_at_the_callers_wait() {
    static WHERE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if let Some(l) = info.location() {
            WHERE.lock().unwrap().push(l.file().to_owned());
        }
    }));
    let sup = Supervisor::builder()
        .runtime(tokio::runtime::Handle::current())
        .build()
        .unwrap();
    let task = sup.task().spawn_async(async { 1 });
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.wait()));
    std::panic::set_hook(previous);
    assert!(caught.is_err());
    let files = WHERE.lock().unwrap().clone();
    assert!(
        files.iter().any(|f| f.ends_with("tasks_current_thread.rs")),
        "the panic should name the caller's line, not the library's: {files:?}"
    );
}
