//! The process pool: `static` tasks run in children, copies of the application's own
//! executable that serve requests on pipes.
//!
//! - **Registry.** Every `#[background_task(static)]` function has a [`StaticEntry`] in a
//!   linker-gathered slice; parent and child run the same file, so an entry's index is its
//!   identity on the wire. A child announces the protocol version and the number and names
//!   hash of the entries; the parent refuses a child that differs.
//! - **Children** (`child_main.rs`) are recognised before `main` and never run it; they
//!   serve requests in order until EOF on their request pipe, and die with the parent.
//! - **Spawning** (`process.rs`) happens on one long-lived thread, with `posix_spawn`.
//! - **Dispatch** (here and `driver.rs`). The queue stays in the parent, under the same
//!   admission ladder as the thread pool. One *driver* thread per child takes an admitted
//!   task and writes its request; while every slot is busy and tasks queue, it also sends
//!   queued ones ahead, a window of at most [`WINDOW`] per child (what the ladder would start
//!   next on the slot as each one before ends), batched in one write. At most one task per
//!   child runs; those sent ahead count as queued until the child reaches them. Those not
//!   started are withdrawn through memory shared with the child (`claims.rs`) and go back to
//!   the ladder when another child frees, or when a task of a higher priority queues, so
//!   that none waits behind a slow task and the ladder's order holds (`driver/reclaim.rs`).
//!   A cancel of a task sent ahead withdraws it the same way, or kills the child if it has
//!   just taken it. Children start lazily (one per busy slot) and
//!   are kept; those started above the HIGH cap by CRITICAL tasks exit after an idle
//!   keep-alive.
//! - **Faults.** A panic comes back as a reply and the child serves on. A child that dies
//!   (abort, signal, exit) fails the tasks it had taken and not answered with
//!   `ProcessExited`; the tasks it never took (the shared memory says which) go to a fresh
//!   one, and none runs twice. A deadline or a cancel of a running task kills its child. A
//!   reply that cannot be decoded fails the task with `Codec` and retires the child. Every
//!   replaced child is started again lazily.
//! - **Stop** closes the request pipes, so that idle children exit 0; children that have not
//!   exited by the grace deadline are killed. Every child is reaped.

pub(crate) mod child_main;
pub(crate) mod claims;
mod driver;
mod job;
mod process;
pub(crate) mod protocol;
pub(crate) mod registry;

pub(crate) use job::{Job, RawJob, StaticJob};

use crate::pool::ladder::{Limits, Overdue};
use crate::pool::{Pool, Queue, Runner};
use crate::task::TaskId;
use process::Pid;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long `stop` lets idle children exit on their own before killing them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// After a stop deadline, how long idle children get to exit on their own.
const DEADLINE_GRACE: Duration = Duration::from_millis(100);

/// How many fresh children a request may be offered to when each one turns out dead before
/// reading it.
const SEND_TRIES: usize = 3;

/// See [`crate::__private::set_child_program`].
pub(crate) fn set_child_program(path: Option<&std::path::Path>) {
    process::set_program(path);
}

/// How many requests a child holds at most: the one it runs and those sent ahead of it
/// (W2 on 2 vCPUs: 16 gives about 1.5× the calls/s of 8, 32 another 1.2×).
const WINDOW: usize = 16;
const _: () = assert!(WINDOW <= claims::CLAIMS);

/// How many request bytes may be sent ahead and not yet answered: well under a pipe's
/// default capacity (64 KiB), and each child also keeps to half its pipe's measured capacity
/// (`Child::ahead_bytes`), so that writing to a busy child never blocks (it does not read
/// while it runs a task). A larger request waits until the child is idle.
const AHEAD_BYTES: usize = 32 << 10;

/// What the process pool tracks beside the pool skeleton's queue.
#[derive(Default)]
struct Tracked {
    /// Every driver's lane: where a cancel, a deadline, a stop or the watchdog finds the
    /// tasks a child holds.
    lanes: Vec<Arc<driver::Lane>>,
    /// Every child not yet reaped: a pid may be signalled only while it is here.
    children: HashSet<Pid>,
}

/// The process pool's kind: each thread (a driver) owns one child and hands it one job,
/// and queued jobs ahead of it while every child is busy (see `driver.rs`).
pub(crate) struct Processes {
    tracked: Mutex<Tracked>,
    /// The supervisor's metrics (children started and replaced).
    metrics: crate::metrics::Scope,
    /// What the drivers count for one another (see `driver/reclaim.rs`).
    hints: Arc<driver::Hints>,
}

impl Processes {
    fn tracked(&self) -> MutexGuard<'_, Tracked> {
        crate::sync::lock(&self.tracked)
    }

    fn lanes(&self) -> Vec<Arc<driver::Lane>> {
        self.tracked().lanes.clone()
    }
}

impl Runner for Processes {
    type Job = Job;
    type Local = driver::Driver;
    const THREAD: &'static str = "process driver thread";
    const LINGER: bool = true;

    fn run(&self, d: &mut driver::Driver, job: Job, queue: &Queue<'_, Self>) {
        self.run_job(d, job, queue);
    }

    fn leave(&self, mut d: driver::Driver, close_by: Instant) {
        self.close(&mut d, close_by);
    }

    fn idle(&self, queue: &Queue<'_, Self>) {
        self.reclaim_for_idle(queue);
    }

    fn hard_stop(&self) {
        for &pid in &self.tracked().children {
            process::kill(pid);
        }
    }
}

/// The supervisor's process pool.
pub(crate) struct ProcessPool {
    pool: Pool<Processes>,
}

impl ProcessPool {
    /// A pool whose drivers are named `atasker-<name>-proc-N`; as many drivers (and children)
    /// as the HIGH cap are kept however long they idle, those started above it by CRITICAL
    /// tasks end after the keep-alive.
    pub(crate) fn new(name: &str, limits: Limits) -> Self {
        let metrics = crate::metrics::Scope::new(name);
        let name = format!("atasker-{name}-proc");
        ProcessPool {
            pool: Pool::new(
                name,
                limits,
                limits.top(),
                Processes {
                    tracked: Mutex::default(),
                    metrics,
                    hints: Arc::default(),
                },
            ),
        }
    }

    /// Offers a job to the ladder. `true` if it had to queue: then jobs of a lower priority
    /// sent ahead to a busy child and not started are taken back, so that it starts first.
    pub(crate) fn submit(&self, job: Job) -> bool {
        let p = job.header().priority;
        let queued = self.pool.submit(job);
        if queued {
            self.pool.runner().reclaim_below(p, &self.pool.queue());
        }
        queued
    }

    /// Task `id` was cancelled or timed out: if a child holds it, it must not run on. A
    /// request sent ahead that the child has not taken is withdrawn; one it has taken (it
    /// runs) is stopped by killing the child.
    pub(crate) fn kill(&self, id: TaskId) {
        for lane in self.pool.runner().lanes() {
            if lane.stop(id) {
                return;
            }
        }
    }

    /// At a stop deadline: cancels every queued task (in the ladder or sent ahead to a
    /// child) and kills every running one.
    pub(crate) fn cancel_all(&self) {
        self.pool.cancel_queued();
        let held: Vec<_> = (self.pool.runner().lanes().iter())
            .flat_map(|lane| lane.tasks())
            .collect();
        for task in self.pool.ready().into_iter().chain(held) {
            task.cancel();
        }
    }

    /// Ends every child: idle ones are closed and exit 0; what is still alive at the grace
    /// deadline is killed. Returns once every driver has reaped its child, or shortly after
    /// the grace deadline. `deadline`: a stop deadline that has passed.
    pub(crate) fn shutdown(&self, deadline: bool) {
        self.pool
            .shutdown(if deadline { DEADLINE_GRACE } else { STOP_GRACE });
    }

    /// Finds queued tasks, in the ladder or sent ahead to a child, that have waited past
    /// `warn` or `crit` and were not reported yet.
    pub(crate) fn overdue(&self, now: Instant, warn: Duration, crit: Duration, out: &mut Overdue) {
        let lanes = self.pool.runner().lanes();
        let ladder = |out: &mut Overdue| self.pool.overdue(now, warn, crit, out);
        driver::Lane::overdue(&lanes, ladder, (now, warn, crit), out);
    }
}
