//! The process pool: `static` tasks run in children, copies of the application's own
//! executable that serve requests on pipes.
//!
//! - **Registry.** Every `#[background_task(static)]` function has a [`StaticEntry`] in a
//!   linker-gathered slice; parent and child run the same file, so an entry's index is its
//!   identity on the wire. A child announces the protocol version and the number and names
//!   hash of the entries; the parent refuses a child that differs.
//! - **Children** (`child.rs`) are recognised before `main` and never run it; they serve one
//!   request at a time until EOF on their request pipe, and die with the parent.
//! - **Spawning** (`spawn.rs`) happens on one long-lived thread, with `posix_spawn`.
//! - **Dispatch** (here). The queue stays in the parent, under the same admission ladder as
//!   the thread pool. One *driver* thread per child takes admitted tasks, writes one request
//!   frame, blocks for its reply and finishes the task: exactly one task in flight per child,
//!   so a short task never waits behind a long one, priorities hold to the letter (a task is
//!   sent only when a child is free for it), and a kill costs the one task the child held.
//!   Children start lazily (one per busy slot) and are kept; those started above the HIGH cap
//!   by CRITICAL tasks exit after an idle keep-alive.
//! - **Faults.** A panic comes back as a reply and the child serves on. A child that dies
//!   (abort, signal, exit) fails the one task it held with `ProcessExited`; a request that
//!   never reached a child (it had died while idle) is sent again to a fresh one. A deadline
//!   or a cancel of a running task kills its child. A reply that cannot be decoded fails the
//!   task with `Codec` and replaces the child. Every replaced child is started again lazily.
//! - **Stop** closes the request pipes, so that idle children exit 0; children that have not
//!   exited by the grace deadline are killed. Every child is reaped.

pub(crate) mod child_main;
mod process;
pub(crate) mod protocol;
pub(crate) mod registry;

use crate::error::TaskError;
use crate::pool::crew::{Call, Crew};
use crate::pool::ladder::{Ladder, LadderJob, Limits, Overdue};
use crate::supervisor::Spec;
use crate::task::{
    run_catching, Contained, Control, Header, PoolKind, Task, TaskCell, TaskId, RUNNING,
};
use process::{Child, Exit, Pid};
use protocol::{FrameError, Reply};
use registry::StaticEntry;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a driver (and its child) above the persistent count stays idle before it ends.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

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

/// Runs the registered static function `entry` with the argument tuple `args` in the
/// process pool of `spec`'s supervisor.
pub(crate) fn spawn_static<A, R>(spec: Spec<'_>, entry: &'static StaticEntry, args: A) -> Task<R>
where
    A: Serialize + Send + 'static,
    R: DeserializeOwned + Send + 'static,
{
    let inner = &spec.sup.inner;
    let Some(index) = registry::index_of(entry) else {
        let e = format!("static task `{}` is not in the registry", entry.name);
        return Task::failed(
            inner.clone(),
            spec.name,
            spec.priority,
            PoolKind::Processes,
            TaskError::Unavailable(e),
        );
    };
    let job = |cell: &Arc<TaskCell<R>>| -> Job {
        Box::new(StaticJob {
            cell: cell.clone(),
            index,
            args: Contained::new(args),
        })
    };
    inner.submit(&spec, PoolKind::Processes, job, |inner, job| {
        inner.processes.submit(job)
    })
}

/// A unit of work for the pool: a task's arguments and its cell, of any types.
pub(crate) trait ProcessJob: Send {
    fn control(&self) -> Arc<dyn Control>;
    fn header(&self) -> &Header;
    /// Builds the request frame.
    fn request(&self, buf: &mut Vec<u8>) -> Result<(), String>;
    /// Finishes the task with the reply's payload; `false` if it did not decode.
    fn complete(self: Box<Self>, payload: &[u8]) -> bool;
    /// Finishes the running task with `err`.
    fn fail(self: Box<Self>, err: TaskError);
    /// Cancels the task (queued or running).
    fn cancel(self: Box<Self>);
}

pub(crate) type Job = Box<dyn ProcessJob>;

impl LadderJob for Job {
    fn header(&self) -> &Header {
        ProcessJob::header(&**self)
    }
}

struct StaticJob<A, R> {
    cell: Arc<TaskCell<R>>,
    index: u32,
    /// The user's arguments: their `Drop` (on a driver thread) is contained.
    args: Contained<A>,
}

impl<A, R> ProcessJob for StaticJob<A, R>
where
    A: Serialize + Send + 'static,
    R: DeserializeOwned + Send + 'static,
{
    fn control(&self) -> Arc<dyn Control> {
        self.cell.clone()
    }

    fn header(&self) -> &Header {
        Control::header(&*self.cell)
    }

    fn request(&self, buf: &mut Vec<u8>) -> Result<(), String> {
        let args = self.args.get().ok_or("the arguments were taken")?;
        // `Serialize` is user code running on a driver thread: a panic in it is contained.
        run_catching(|| protocol::request(buf, self.index, |b| protocol::encode(args, b)))
            .map_err(|e| e.to_string())?
    }

    fn complete(self: Box<Self>, payload: &[u8]) -> bool {
        let decoded =
            run_catching(|| protocol::decode::<R>(payload)).unwrap_or_else(|e| Err(e.to_string()));
        match decoded {
            Ok(v) => {
                self.cell.finish(RUNNING, Ok(v));
                true
            }
            Err(e) => {
                let e = TaskError::Codec(format!("the result did not cross: {e}"));
                self.cell.finish(RUNNING, Err(e));
                false
            }
        }
    }

    fn fail(self: Box<Self>, err: TaskError) {
        self.cell.finish(RUNNING, Err(err));
    }

    fn cancel(self: Box<Self>) {
        Control::cancel(&*self.cell);
    }
}

/// A task written to a child and not yet answered.
struct Running {
    pid: Pid,
    /// Set when the child is killed on purpose: its driver must replace it.
    doomed: Arc<AtomicBool>,
    task: Arc<dyn Control>,
}

struct State {
    ladder: Ladder<Job>,
    /// Admitted jobs waiting for a driver.
    ready: VecDeque<Job>,
    /// The driver threads, one per child.
    crew: Crew,
    running: HashMap<TaskId, Running>,
    /// Every child not yet reaped: a pid may be signalled only while it is here.
    children: HashSet<Pid>,
    /// Set by a stop: idle children are closed, and killed if still alive at this instant.
    shutdown: Option<Instant>,
}

struct Shared {
    state: Mutex<State>,
    /// `ready.len()`, readable without the lock (for drivers that linger).
    ready_hint: AtomicUsize,
    work: Condvar,
    /// Signalled when a driver ends.
    gone: Condvar,
    name: String,
    /// Drivers (children) kept however long they idle: the HIGH cap of the ladder.
    persistent: usize,
}

/// The supervisor's process pool.
pub(crate) struct ProcessPool {
    shared: Arc<Shared>,
}

impl ProcessPool {
    pub(crate) fn new(name: &str, limits: Limits) -> Self {
        ProcessPool {
            shared: Arc::new(Shared {
                ready_hint: AtomicUsize::new(0),
                state: Mutex::new(State {
                    ladder: Ladder::new(limits),
                    ready: VecDeque::new(),
                    crew: Crew::default(),
                    running: HashMap::new(),
                    children: HashSet::new(),
                    shutdown: None,
                }),
                work: Condvar::new(),
                gone: Condvar::new(),
                name: format!("atasker-{name}-proc"),
                persistent: limits.top(),
            }),
        }
    }

    /// Offers a job to the ladder. `true` if it had to queue.
    pub(crate) fn submit(&self, job: Job) -> bool {
        let mut st = self.shared.lock();
        if st.shutdown.is_some() {
            drop(st);
            job.cancel();
            return false;
        }
        match st.ladder.submit(job) {
            Some(job) => {
                self.shared.dispatch(&mut st, job, 0);
                false
            }
            None => true,
        }
    }

    /// Kills the child running task `id`, if any (a cancel or a deadline).
    pub(crate) fn kill(&self, id: TaskId) {
        let st = self.shared.lock();
        if let Some(r) = st.running.get(&id) {
            r.doomed.store(true, SeqCst);
            process::kill(r.pid);
        }
    }

    /// At a stop deadline: cancels every queued task and kills every running one.
    pub(crate) fn cancel_all(&self) {
        let (queued, tasks) = {
            let mut st = self.shared.lock();
            let tasks: Vec<_> = (st.ready.iter().map(|j| j.control()))
                .chain(st.running.values().map(|r| r.task.clone()))
                .collect();
            (st.ladder.drain(), tasks)
        };
        for job in queued {
            job.cancel();
        }
        for task in tasks {
            task.cancel();
        }
    }

    /// Ends every child: idle ones are closed and exit 0; what is still alive at the grace
    /// deadline is killed. Returns once every driver has reaped its child, or shortly after
    /// the grace deadline. `deadline`: a stop deadline that has passed.
    pub(crate) fn shutdown(&self, deadline: bool) {
        let grace = if deadline { DEADLINE_GRACE } else { STOP_GRACE };
        let close_by = Instant::now() + grace;
        let mut st = self.shared.lock();
        let close_by = *st.shutdown.get_or_insert(close_by);
        self.shared.work.notify_all();
        let until = close_by + Duration::from_millis(100);
        while st.crew.threads > 0 {
            let now = Instant::now();
            if now >= until {
                // A driver still waits on a task nobody cancelled.
                for &pid in &st.children {
                    process::kill(pid);
                }
                tracing::warn!(pool = %self.shared.name, drivers = st.crew.threads, "atasker: worker processes killed at stop");
                break;
            }
            st = self
                .shared
                .gone
                .wait_timeout(st, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    pub(crate) fn overdue(&self, now: Instant, warn: Duration, crit: Duration, out: &mut Overdue) {
        self.shared.lock().ladder.overdue(now, warn, crit, out);
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.shutdown
            .get_or_insert_with(|| Instant::now() + STOP_GRACE);
        self.shared.work.notify_all();
    }
}

/// What one driver thread owns.
struct Driver {
    child: Option<Child>,
    doomed: Arc<AtomicBool>,
    requests: Vec<u8>,
    replies: Vec<u8>,
}

/// How a child answered.
enum Answer {
    /// The task is finished; `true`: the child must be replaced.
    Done(bool),
    /// The child is gone.
    Exited,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands an admitted job to an idle driver, or starts a driver for it.
    ///
    /// `me` is 1 when the caller is a driver that takes a ready job next itself. Drivers
    /// already on their way to `ready` (woken or starting) are counted, so that a burst
    /// never starts more drivers, and so children, than there are jobs.
    fn dispatch(self: &Arc<Self>, st: &mut State, job: Job, me: usize) {
        st.ready.push_back(job);
        self.ready_hint.store(st.ready.len(), SeqCst);
        let n = match st.crew.on_ready(st.ready.len(), me) {
            Call::Nobody => return,
            Call::Notify => return self.work.notify_one(),
            Call::Spawn(n) => n,
        };
        let shared = self.clone();
        let name = format!("{}-{n}", self.name);
        if let Err(e) = st
            .crew
            .start("process driver thread", name, move || shared.driver())
        {
            if let Some(job) = st.ready.pop_back() {
                st.ladder.release();
                job.fail(TaskError::Unavailable(e));
            }
        }
    }

    fn driver(self: Arc<Self>) {
        process::block_sigpipe();
        let mut d = Driver {
            child: None,
            doomed: Arc::default(),
            requests: Vec::new(),
            replies: Vec::new(),
        };
        let mut st = self.lock();
        st.crew.arrived();
        let mut lingered = false;
        loop {
            if let Some(job) = st.ready.pop_front() {
                self.ready_hint.store(st.ready.len(), SeqCst);
                lingered = false;
                drop(st);
                self.run(&mut d, job);
                st = self.lock();
                st.ladder.release();
                // Restore the ladder's invariant: start every job the freed slot allows.
                while let Some(job) = st.ladder.next() {
                    self.dispatch(&mut st, job, 1);
                }
                continue;
            }
            if st.shutdown.is_some() {
                break;
            }
            if !lingered {
                // Watch for the next job a moment before sleeping: a caller submitting
                // right after its last result then costs no wake-up of this thread.
                lingered = true;
                st.crew.spinning(true);
                drop(st);
                self.linger();
                st = self.lock();
                st.crew.spinning(false);
                continue;
            }
            let extra = st.crew.threads > self.persistent;
            st.crew.sleeps();
            let wait = if extra {
                KEEP_ALIVE
            } else {
                Duration::from_secs(3600)
            };
            let (guard, timeout) = self
                .work
                .wait_timeout(st, wait)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            // `woke` takes a notification if there is one: evaluate it first, always.
            if !st.crew.woke()
                && extra
                && timeout.timed_out()
                && st.ready.is_empty()
                && st.crew.threads > self.persistent
            {
                break;
            }
        }
        let close_by = st.shutdown.unwrap_or_else(|| Instant::now() + STOP_GRACE);
        if let Some(child) = &d.child {
            st.children.remove(&child.pid);
        }
        drop(st);
        if let Some(child) = d.child.take() {
            let pid = child.pid;
            let exit = child.close(close_by);
            tracing::debug!(pid, exit = %process::describe(exit), "atasker: worker process closed");
        }
        let mut st = self.lock();
        st.crew.left();
        drop(st);
        self.gone.notify_all();
    }

    /// Watches for up to 30 µs, yielding the core meanwhile, until a job is ready.
    fn linger(&self) {
        let until = Instant::now() + Duration::from_micros(30);
        while self.ready_hint.load(SeqCst) == 0 && Instant::now() < until {
            std::thread::yield_now();
        }
    }

    /// Runs one admitted job on this driver's child (starting one if needed).
    fn run(&self, d: &mut Driver, job: Job) {
        let task = job.control();
        let h = task.header();
        let span = tracing::debug_span!("atasker.task", id = h.id.as_u64(), name = h.name, priority = %h.priority, pool = "processes");
        let _span = span.enter();
        if h.state() != RUNNING {
            return; // cancelled while it waited for a driver
        }
        if let Err(e) = job.request(&mut d.requests) {
            job.fail(TaskError::Codec(format!(
                "the arguments did not cross: {e}"
            )));
            return;
        }
        let mut deadline = None;
        let mut tries = 0;
        let answer = loop {
            if d.child.is_none() {
                match Child::start(child_main::hello()) {
                    Ok(c) => {
                        tracing::debug!(pid = c.pid, "atasker: worker process started");
                        self.lock().children.insert(c.pid);
                        d.child = Some(c);
                        d.doomed = Arc::default();
                    }
                    Err(e) if e.transient && tries + 1 < SEND_TRIES => {
                        // Killed during its handshake: the task never reached it.
                        tries += 1;
                        tracing::debug!(error = %e.message, "atasker: a worker process died while starting; starting another");
                        continue;
                    }
                    Err(e) => {
                        let e = e.message;
                        tracing::error!(error = %e, "atasker: cannot start a worker process");
                        job.fail(TaskError::Unavailable(format!(
                            "cannot start a worker process: {e}"
                        )));
                        return;
                    }
                }
            }
            let Some(child) = d.child.as_mut() else {
                return;
            };
            {
                let mut st = self.lock();
                if h.state() != RUNNING {
                    return;
                }
                st.running.insert(
                    h.id,
                    Running {
                        pid: child.pid,
                        doomed: d.doomed.clone(),
                        task: task.clone(),
                    },
                );
            }
            if deadline.is_none() {
                deadline = Some(h.timeout.and_then(|t| h.sup.deadline(task.clone(), t)));
            }
            if let Err(e) = child.send(&d.requests) {
                // The child died before it could read the request: the task never started.
                self.lock().running.remove(&h.id);
                let exit = self.bury(d, false);
                tries += 1;
                tracing::debug!(error = %e, exit = %process::describe(exit), "atasker: worker process was gone; the task goes to a fresh one");
                if tries < SEND_TRIES {
                    continue;
                }
                job.fail(TaskError::ProcessExited {
                    code: exit.0,
                    signal: exit.1,
                });
                return;
            }
            let got = child.recv(&mut d.replies);
            self.lock().running.remove(&h.id);
            break match got {
                Ok(true) => match protocol::parse_reply(&d.replies) {
                    Ok(Reply::Ok(payload)) => Answer::Done(!job.complete(payload)),
                    Ok(Reply::Error(message)) => {
                        job.fail(TaskError::Codec(message));
                        Answer::Done(false)
                    }
                    Ok(Reply::Panicked(message)) => {
                        job.fail(TaskError::Panicked { message });
                        Answer::Done(false)
                    }
                    Ok(Reply::Fatal(message)) => {
                        job.fail(TaskError::Panicked { message });
                        Answer::Exited
                    }
                    Err(e) => {
                        job.fail(TaskError::Codec(format!(
                            "bad reply from the worker process: {e}"
                        )));
                        Answer::Done(true)
                    }
                },
                Ok(false) | Err(FrameError::Io(_)) => {
                    let exit = self.bury(d, false);
                    tracing::warn!(exit = %process::describe(exit), "atasker: worker process exited while running a task");
                    job.fail(TaskError::ProcessExited {
                        code: exit.0,
                        signal: exit.1,
                    });
                    Answer::Done(false)
                }
                Err(e) => {
                    job.fail(TaskError::Codec(format!(
                        "bad reply from the worker process: {e}"
                    )));
                    Answer::Done(true)
                }
            };
        };
        drop(deadline);
        match answer {
            Answer::Done(false) if !d.doomed.load(SeqCst) => {}
            Answer::Done(_) => {
                self.bury(d, true);
            }
            Answer::Exited => {
                self.bury(d, false);
            }
        }
        protocol::trim(&mut d.requests);
        protocol::trim(&mut d.replies);
    }

    /// Reaps the driver's child (killing it first with `kill`, or if it lingers).
    fn bury(&self, d: &mut Driver, kill: bool) -> Exit {
        let Some(child) = d.child.take() else {
            return (None, None);
        };
        let pid = child.pid;
        self.lock().children.remove(&pid);
        let killed = kill || d.doomed.load(SeqCst);
        let exit = if killed {
            child.reap_now()
        } else {
            child.reap()
        };
        tracing::debug!(pid, exit = %process::describe(exit), killed, "atasker: worker process reaped");
        exit
    }
}
