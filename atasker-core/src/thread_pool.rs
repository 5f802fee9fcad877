//! The thread pool: lazily started threads, capped by the admission ladder, with an idle
//! keep-alive (the shape of tokio's blocking pool).

use crate::context::{self, Slot};
use crate::error::TaskError;
use crate::pool::crew::{Call, Crew};
use crate::pool::ladder::{Ladder, LadderJob, Limits, Overdue};
use crate::task::{panic_message, run_catching, Contained, Control, Header, TaskCell, RUNNING};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long an idle thread waits for work before it exits.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// A unit of work for the pool: a task's closure and its cell.
pub(crate) trait ThreadJob: Send {
    fn header(&self) -> &Header;
    /// The task, to nudge its waiters.
    fn control(&self) -> Arc<dyn Control>;
    /// Runs the closure and finishes the task.
    fn run(self: Box<Self>);
    /// Finishes the queued task as cancelled.
    fn cancel(self: Box<Self>);
    /// Finishes the admitted task with `err` without running it.
    fn fail(self: Box<Self>, err: TaskError);
}

pub(crate) type Job = Box<dyn ThreadJob>;

impl LadderJob for Job {
    fn header(&self) -> &Header {
        ThreadJob::header(&**self)
    }
}

pub(crate) struct BlockingJob<F, T> {
    pub(crate) cell: Arc<TaskCell<T>>,
    /// The closure; dropped contained if the job never runs.
    pub(crate) f: Contained<F>,
}

impl<F, T> ThreadJob for BlockingJob<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn header(&self) -> &Header {
        Control::header(&*self.cell)
    }

    fn control(&self) -> Arc<dyn Control> {
        self.cell.clone()
    }

    fn run(mut self: Box<Self>) {
        let Some(f) = self.f.take() else { return };
        let cell = self.cell.clone();
        drop(self);
        let h = Control::header(&*cell);
        let _guard = h.timeout.map(|d| h.sup.deadline(cell.clone(), d));
        let span = tracing::debug_span!("atasker.task", id = h.id.as_u64(), name = h.name, priority = %h.priority, pool = "threads");
        let result = {
            let _current = context::enter(Slot::Supervisor, context::key(&*h.sup));
            span.in_scope(|| run_catching(f))
        };
        cell.finish(RUNNING, result);
    }

    fn cancel(self: Box<Self>) {
        Control::cancel(&*self.cell);
    }

    fn fail(self: Box<Self>, err: TaskError) {
        self.cell.finish(RUNNING, Err(err));
    }
}

struct State {
    ladder: Ladder<Job>,
    /// Admitted jobs waiting for a thread.
    ready: VecDeque<Job>,
    crew: Crew,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    name: String,
}

/// The supervisor's thread pool.
pub(crate) struct ThreadPool {
    shared: Arc<Shared>,
}

impl ThreadPool {
    pub(crate) fn new(name: &str, limits: Limits) -> Self {
        ThreadPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    ladder: Ladder::new(limits),
                    ready: VecDeque::new(),
                    crew: Crew::default(),
                    shutdown: false,
                }),
                work: Condvar::new(),
                name: format!("atasker-{name}"),
            }),
        }
    }

    /// Offers a job to the ladder. `true` if it had to queue.
    pub(crate) fn submit(&self, job: Job) -> bool {
        // A pool thread may already wait for this task (it was delayed): once it queues,
        // that thread runs it (see `run_queued_here`).
        let awaited = job
            .header()
            .awaited_in_pool
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(|| job.control());
        let mut st = self.shared.lock();
        match st.ladder.submit(job) {
            Some(job) => {
                self.shared.dispatch(&mut st, job, 0);
                false
            }
            None => {
                drop(st);
                if let Some(task) = awaited {
                    task.nudge();
                }
                true
            }
        }
    }

    /// Whether the calling thread is one of this pool's.
    pub(crate) fn is_current(&self) -> bool {
        context::is(Slot::Pool, context::key(&*self.shared))
    }

    /// Takes the queued task `h` out of the ladder for the calling pool thread to run: it
    /// holds a slot and waits for `h`, so `h` takes no new slot, and every other queued task
    /// keeps its place. `None` if `h` is not queued here.
    pub(crate) fn take_queued_here(&self, h: &Header) -> Option<Job> {
        if !self.is_current() {
            return None;
        }
        self.shared.lock().ladder.take(h)
    }

    /// Cancels every queued job.
    pub(crate) fn cancel_queued(&self) {
        let jobs = self.shared.lock().ladder.drain();
        for job in jobs {
            job.cancel();
        }
    }

    pub(crate) fn overdue(&self, now: Instant, warn: Duration, crit: Duration, out: &mut Overdue) {
        self.shared.lock().ladder.overdue(now, warn, crit, out);
    }

    /// (threads alive, slots busy, jobs queued)
    pub(crate) fn load(&self) -> (usize, usize, usize) {
        let st = self.shared.lock();
        (st.crew.threads, st.ladder.busy(), st.ladder.queued())
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands an admitted job to an idle thread, or starts a thread for it. `me` is 1 when
    /// the caller is a pool thread that takes a ready job next itself.
    fn dispatch(self: &Arc<Self>, st: &mut State, job: Job, me: usize) {
        st.ready.push_back(job);
        let n = match st.crew.on_ready(st.ready.len(), me) {
            Call::Nobody => return,
            Call::Notify => return self.work.notify_one(),
            Call::Spawn(n) => n,
        };
        let shared = self.clone();
        let name = format!("{}-{n}", self.name);
        if let Err(e) = st.crew.start("pool thread", name, move || shared.worker()) {
            if let Some(job) = st.ready.pop_back() {
                st.ladder.release();
                job.fail(TaskError::Unavailable(e));
            }
        }
    }

    fn worker(self: Arc<Self>) {
        // For the thread's whole life: never restored.
        std::mem::forget(context::enter(Slot::Pool, context::key(&*self)));
        // Should this thread die anyway (a bug of ours), the guard replaces it. Made before
        // the lock is taken, so that it drops after the lock's guard.
        let replace = Replace(&self);
        let mut st = self.lock();
        st.crew.arrived();
        loop {
            if let Some(job) = st.ready.pop_front() {
                drop(st);
                run_contained(job);
                st = self.lock();
                st.ladder.release();
                // Restore the ladder's invariant: start every job the freed slot allows.
                while let Some(job) = st.ladder.next() {
                    self.dispatch(&mut st, job, 1);
                }
                continue;
            }
            if st.shutdown {
                break;
            }
            st.crew.sleeps();
            let (guard, timeout) = self
                .work
                .wait_timeout(st, KEEP_ALIVE)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            // `woke` takes a notification if there is one: evaluate it first, always.
            if !st.crew.woke() && timeout.timed_out() && st.ready.is_empty() {
                break;
            }
        }
        st.crew.left();
        drop(st);
        std::mem::forget(replace);
    }
}

/// Runs a job; a panic that escapes it (its user code is already caught: this would be a
/// value's `Drop`) is contained and logged, and the thread serves on.
pub(crate) fn run_contained(job: Job) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| job.run())) {
        tracing::error!(panic = %panic_message(&*p), "atasker: a pool job panicked outside its task; contained");
    }
}

/// Replaces a pool thread that unwinds: it leaves the crew, and a new thread is started if
/// jobs are ready for it.
struct Replace<'a>(&'a Arc<Shared>);

impl Drop for Replace<'_> {
    fn drop(&mut self) {
        let shared = self.0;
        let mut st = shared.lock();
        st.crew.left();
        tracing::error!("atasker: a pool thread died; replacing it");
        if let Some(job) = st.ready.pop_front() {
            shared.dispatch(&mut st, job, 0);
        }
    }
}
