//! Unit tests of the ladder's per-name limits (`ladder.rs`, `limits.rs`), on jobs that only
//! have a task cell.

use super::*;
use crate::error::TaskError;
use crate::kind::{Outcome, PoolKind};
use crate::pool::PoolJob;
use crate::stats::NameRef;
use crate::task::{Control, DeadlineGuard, NewTask, Owner, TaskCell, RUNNING};
use std::num::NonZeroU32;
use std::sync::Arc;

/// An owner that counts nothing.
struct Nobody;

impl Owner for Nobody {
    fn started(&self, _: &Header, _: Duration) {}
    fn finished(&self, _: &Header, _: bool, _: Outcome, _: Option<Duration>) {}
    fn released(&self, _: &Header) {}
    fn kill(&self, _: &Header) {}
    fn deadline(&self, _: Arc<dyn Control>, _: Duration) -> Option<DeadlineGuard> {
        None
    }
    fn take_queued_here(&self, _: &Header) -> Option<Box<dyn FnOnce() + Send>> {
        None
    }
}

/// A job that is its task's cell.
struct TestJob(Arc<TaskCell<()>>);

impl PoolJob for TestJob {
    fn header(&self) -> &Header {
        Control::header(&*self.0)
    }
    fn control(&self) -> Arc<dyn Control> {
        self.0.clone()
    }
    fn cancel(self) {
        Control::cancel(&*self.0);
    }
    fn fail(self, err: TaskError) {
        self.0.finish(RUNNING, Err(err));
    }
}

/// A queued job named `name` at `p`, with `limit` (0: none).
fn job(name: &'static str, p: Priority, limit: u32) -> TestJob {
    let task = NewTask {
        sup: Arc::new(Nobody),
        name,
        priority: p,
        pool: PoolKind::Threads,
        timeout: None,
        limit: NonZeroU32::new(limit),
        by_name: NameRef::uncounted(),
    };
    TestJob(TaskCell::new(task, QUEUED))
}

fn ladder(pool: usize) -> Ladder<TestJob> {
    Ladder::new(Limits::new(pool, 0, 0))
}

/// The names of the jobs `next` starts now, in order.
fn started(l: &mut Ladder<TestJob>) -> Vec<&'static str> {
    std::iter::from_fn(|| l.next())
        .map(|j| j.header().name)
        .collect()
}

/// Ends a running job: its slot is released.
fn end(l: &mut Ladder<TestJob>, j: TestJob) {
    l.release(Claim::of(j.header()));
    j.0.finish(RUNNING, Ok(()));
}

#[test]
fn a_blocked_job_holds_no_slot_and_keeps_its_place() {
    use Priority::Normal;
    let mut l = ladder(3);
    let a1 = l.submit(job("a", Normal, 1)).expect("a1 starts");
    assert!(l.submit(job("a", Normal, 1)).is_none(), "a2 is blocked");
    let b = l.submit(job("b", Normal, 0)).expect("b starts past a2");
    assert_eq!((l.busy(), l.queued(), l.waiting()), (2, 1, 0));
    let c = l
        .submit(job("c", Normal, 0))
        .expect("c takes the last slot");
    assert!(
        l.submit(job("d", Normal, 0)).is_none(),
        "d waits for a slot"
    );
    assert_eq!((l.queued(), l.waiting()), (2, 2));
    // A slot frees: d starts, a2 is still blocked.
    end(&mut l, b);
    assert_eq!(started(&mut l), ["d"]);
    assert!(l.submit(job("e", Normal, 0)).is_none());
    // a1 ends: a2 (older than e) starts first, on a1's slot.
    end(&mut l, a1);
    assert_eq!(started(&mut l), ["a"]);
    assert_eq!(l.names.count("a"), 1);
    end(&mut l, c);
    assert_eq!(started(&mut l), ["e"]);
    assert_eq!(l.queued(), 0);
}

#[test]
fn a_blocked_critical_job_waits_in_its_own_queue() {
    let mut l = ladder(2);
    let c1 = l.submit(job("c", Priority::Critical, 1)).expect("c1");
    assert!(l.submit(job("c", Priority::Critical, 1)).is_none());
    let n = l
        .submit(job("n", Priority::Normal, 0))
        .expect("n: c2 holds no slot");
    end(&mut l, c1);
    assert_eq!(started(&mut l), ["c"], "critical starts above the cap");
    assert_eq!(l.busy(), 2);
    end(&mut l, n);
}

#[test]
fn limited_jobs_are_never_taken_ahead() {
    use Priority::Normal;
    let mut l = ladder(1);
    let _b = l.submit(job("b", Normal, 0)).expect("b");
    for (name, limit) in [("x", 0), ("a", 5), ("y", 0)] {
        assert!(l.submit(job(name, Normal, limit)).is_none());
    }
    let x = l.ahead().expect("x is taken ahead");
    assert_eq!(x.job.header().name, "x");
    assert!(
        l.ahead().is_none(),
        "a stops the window, though it has room"
    );
    l.requeue(vec![x]);
    assert_eq!(l.queued(), 3);
}

/// A ladder of `slots` where `a` (limit 1) runs once and a second `a` is blocked: the
/// ladder, the running job and the blocked one's cell.
fn one_runs_one_blocked(slots: usize) -> (Ladder<TestJob>, TestJob, Arc<TaskCell<()>>) {
    let mut l = ladder(slots);
    let a1 = l.submit(job("a", Priority::Normal, 1)).expect("a1");
    let a2 = job("a", Priority::Normal, 1);
    let cell = a2.0.clone();
    assert!(l.submit(a2).is_none());
    (l, a1, cell)
}

#[test]
fn take_ignores_the_limit_and_counts_the_run_until_it_ends() {
    let (mut l, _a1, cell) = one_runs_one_blocked(4);
    let a2 = l.take(Control::header(&*cell)).expect("taken inline");
    assert_eq!(l.names.count("a"), 2);
    assert!(!l.refresh(), "it still runs");
    a2.0.finish(RUNNING, Ok(()));
    assert!(l.refresh(), "seen finished");
    assert_eq!(l.names.count("a"), 1);
}

#[test]
fn a_cancelled_blocked_job_leaks_no_count() {
    let (mut l, a1, cell) = one_runs_one_blocked(2);
    assert!(Control::cancel(&*cell));
    end(&mut l, a1);
    assert!(started(&mut l).is_empty(), "the cancelled one is dropped");
    assert_eq!((l.busy(), l.queued(), l.names.count("a")), (0, 0, 0));
    assert!(l.submit(job("a", Priority::Normal, 1)).is_some());
}

#[test]
fn watchdog_marks_follow_a_job_taken_from_the_middle() {
    use Priority::Normal;
    let mut l = ladder(2);
    let a1 = l.submit(job("a", Normal, 1)).expect("a1");
    let b = l.submit(job("b", Normal, 0)).expect("b");
    assert!(l.submit(job("a", Normal, 1)).is_none());
    assert!(l.submit(job("x", Normal, 0)).is_none());
    let now = Instant::now() + Duration::from_secs(1);
    let (warn, crit) = (Duration::ZERO, Duration::from_secs(3600));
    let mut found = Overdue::default();
    l.overdue(now, warn, crit, &mut found);
    assert_eq!(found.warnings.len(), 2);
    // b ends: x starts from behind the blocked a2.
    end(&mut l, b);
    assert_eq!(started(&mut l), ["x"]);
    assert!(l.submit(job("y", Normal, 0)).is_none());
    let mut found = Overdue::default();
    l.overdue(now, warn, crit, &mut found);
    let names: Vec<_> = found.warnings.iter().map(|t| t.name).collect();
    assert_eq!(names, ["y"], "a2 was reported already, y was not");
    end(&mut l, a1);
    assert_eq!(started(&mut l), ["a"]);
}
