//! Coroutines and runtimes: the supervisor's own, or the user's.

mod common;

use atasker::{Supervisor, Task, TaskError};
use std::time::Duration;

#[test]
fn coroutines_run_on_the_supervisor_runtime() {
    let t = atasker::spawn_async(async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        std::thread::current().name().unwrap_or("").to_owned()
    });
    let name = t.wait().unwrap();
    assert!(name.starts_with("atasker-default-rt"), "{name}");
}

#[test]
fn the_global_supervisor_works_inside_a_user_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Creating and using the global supervisor from async code never panics.
        let a = atasker::spawn(|| 1).await;
        let b = atasker::spawn_async(async { 2 }).await;
        assert_eq!((a, b), (Ok(1), Ok(2)));
        let sup = Supervisor::builder().build().unwrap();
        assert_eq!(sup.task().spawn_async(async { 3 }).await, Ok(3));
        drop(sup); // dropping a private supervisor inside a runtime is fine too
    });
}

#[test]
fn a_supervisor_can_use_the_users_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("user-rt")
        .enable_all()
        .build()
        .unwrap();
    let sup = Supervisor::builder()
        .runtime(rt.handle().clone())
        .build()
        .unwrap();
    let t: Task<String> = sup
        .task()
        .spawn_async(async { std::thread::current().name().unwrap().to_owned() });
    assert_eq!(t.wait().unwrap(), "user-rt");
    let t = sup
        .task()
        .timeout(Duration::from_millis(50))
        .spawn_async(async { tokio::time::sleep(Duration::from_secs(30)).await });
    assert_eq!(t.wait(), Err(TaskError::TimedOut));
}

#[test]
fn build_global_after_the_global_exists_is_an_error() {
    let _ = Supervisor::global();
    assert!(matches!(
        Supervisor::builder().build_global(),
        Err(atasker::BuildError::GlobalExists)
    ));
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Supervisor>();
    send::<Task<u64>>();
    send::<Task<String>>();
    send_sync::<TaskError>();
}
