//! Helpers shared by the behaviour tests.
#![allow(dead_code)]

use atasker::Supervisor;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Generous bound for anything that should happen "soon".
pub const SOON: Duration = Duration::from_secs(10);
/// How long we watch for something that must not happen.
pub const QUIET: Duration = Duration::from_millis(150);

/// A private supervisor that lives for the whole test binary.
pub fn supervisor(
    name: &str,
    pool: usize,
    reserve_normal: usize,
    reserve_high: usize,
) -> &'static Supervisor {
    Box::leak(Box::new(
        Supervisor::builder()
            .name(name)
            .thread_pool(pool)
            .reserve_normal(reserve_normal)
            .reserve_high(reserve_high)
            .build()
            .unwrap(),
    ))
}

/// A gate tasks block on until the test opens it.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }
    pub fn wait(&self) {
        let mut open = self.0 .0.lock().unwrap();
        let deadline = Instant::now() + SOON * 3;
        while !*open {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "gate never opened");
            open = self.0 .1.wait_timeout(open, left).unwrap().0;
        }
    }
}

/// Records events in order.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    pub fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    pub fn contains(&self, s: &str) -> bool {
        self.0.lock().unwrap().iter().any(|x| x == s)
    }
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Waits until `f` holds, panicking with `what` after `SOON`.
pub fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + SOON;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}
