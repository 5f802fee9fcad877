//! One pool skeleton for the thread pool and the process pool: tasks admitted by the ladder
//! (`ladder.rs`; per-name limits counted in `limits.rs`) wait in a ready queue served by a
//! crew of lazily started threads (`crew.rs`), woken one at a time, never more started than
//! there are jobs (the shape of tokio's blocking pool). A pool's runner ([`Runner`])
//! supplies how one of its threads runs one job; the thread pool runs the closure, the
//! process pool's threads (drivers) each hand the job to their child process, and may take
//! more queued jobs to send ahead to it while it runs ([`Queue::ahead`]).
//!
//! A pool also keeps timers ([`Pool::schedule`]): one idle thread sleeps until the first is
//! due, then fires it itself (a thread-executor worker's next run starts where the pool's
//! thread wakes, with no hop through the runtime).

pub(crate) mod crew;
mod job;
pub(crate) mod ladder;
mod limits;
mod timers;

pub(crate) use job::{CellJob, JobTask, PoolJob};
pub(crate) use timers::Timer;
use timers::{drop_timers, on_grid, Timed};

use crate::context::{self, Role};
use crate::error::TaskError;
use crate::task::{Control, Header};
use crew::{Call, Crew};
use ladder::{Ahead, Ladder, Limits, Overdue};
use limits::Claim;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a thread above the persistent count stays idle before it ends.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// How long a dropped pool lets its threads' resources (children) close on their own.
const DROP_GRACE: Duration = Duration::from_secs(5);

/// What a pool's runner supplies to the skeleton: how its threads run a job.
pub(crate) trait Runner: Send + Sync + Sized + 'static {
    type Job: PoolJob;
    /// What one thread keeps between jobs (a process driver: its child and buffers).
    type Local: Default;
    /// What its threads are called in logs.
    const THREAD: &'static str;
    /// Whether an idle thread watches the queue a moment before it sleeps (so that a caller
    /// submitting right after its last result costs no wake-up).
    const LINGER: bool;

    /// Runs one admitted job on the calling pool thread, and finishes its task. The job
    /// holds a slot until this returns; `queue` lends the slot on to queued jobs taken
    /// ahead (a process driver's window).
    fn run(&self, local: &mut Self::Local, job: Self::Job, queue: &Queue<'_, Self>);

    /// A thread ends: releases what it keeps (`close_by`: when it must be gone).
    fn leave(&self, _local: Self::Local, _close_by: Instant) {}

    /// A thread is about to idle (nothing ready): the runner may put queued jobs it took
    /// ahead back into the ladder ([`Queue::requeue`]), which this thread then takes first.
    fn idle(&self, _queue: &Queue<'_, Self>) {}

    /// Threads still run at a stop's hard deadline: make them end (the process pool kills
    /// its children).
    fn hard_stop(&self) {}
}

pub(crate) struct Queue<'a, K: Runner>(&'a Arc<Shared<K>>);

impl<K: Runner> Queue<'_, K> {
    /// Takes up to `max` queued jobs that would start next on the slot of the job that
    /// runs, each in turn once the one before it ends (see [`Ladder::ahead`]); they stay
    /// queued (not started, counted as queued) until the caller starts them.
    pub(crate) fn ahead(&self, max: usize, out: &mut Vec<Ahead<K::Job>>) {
        let mut st = self.0.lock();
        for _ in 0..max {
            match st.ladder.ahead() {
                Some(a) => out.push(a),
                None => break,
            }
        }
        self.0.hint_queued(&st);
    }

    /// Whether some job waits in the ladder for a slot (lock-free hint; may be stale).
    pub(crate) fn queued_hint(&self) -> bool {
        self.0.queued_hint.load(SeqCst) > 0
    }

    /// The lowest priority that would start at once (see [`Ladder::room`]).
    pub(crate) fn room(&self) -> Option<crate::priority::Priority> {
        self.0.lock().ladder.room()
    }

    /// Puts jobs taken ahead and not started back at the head of their queues (see
    /// [`Ladder::requeue`]), and starts those a free slot allows.
    pub(crate) fn requeue(&self, jobs: Vec<Ahead<K::Job>>) {
        let mut st = self.0.lock();
        st.ladder.requeue(jobs);
        self.0.refill(&mut st, 0);
    }
}

thread_local! {
    /// The pool (its key, see `context::key`) whose timer the calling thread fires: the first
    /// job submitted to that pool meanwhile counts as this thread's.
    static FIRING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A pool of `K`'s threads under the admission ladder.
pub(crate) struct Pool<K: Runner> {
    shared: Arc<Shared<K>>,
}

struct State<J> {
    ladder: Ladder<J>,
    /// Admitted jobs waiting for a thread.
    ready: VecDeque<J>,
    crew: Crew,
    /// Set by a stop: threads end when idle; what they keep must be closed by then.
    shutdown: Option<Instant>,
    /// Timers, the first due on top.
    timers: BinaryHeap<Timed>,
    /// Numbers timers in the order they are scheduled.
    timer_seq: u64,
    /// An idle thread sleeps until the first timer is due.
    watched: bool,
    /// A thread was called to watch the timers and has not looked at them yet.
    watcher_called: bool,
}

struct Shared<K: Runner> {
    state: Mutex<State<K::Job>>,
    /// `ready.len()`, readable without the lock (for threads that linger).
    ready_hint: AtomicUsize,
    /// `ladder.waiting()` (jobs queued for a slot, not those blocked by their names' limits
    /// only) as of the last change under the lock (for drivers that look for jobs to send
    /// ahead, and workers that yield to queued tasks, without taking the lock).
    queued_hint: AtomicUsize,
    work: Condvar,
    /// Signalled when a thread ends.
    gone: Condvar,
    /// Thread names start with this.
    name: String,
    /// Threads kept however long they idle.
    persistent: usize,
    runner: K,
}

impl<K: Runner> Pool<K> {
    /// A pool named `name` (its threads are `name-N`), admitting by `limits`, keeping
    /// `persistent` idle threads (the others end after an idle keep-alive).
    pub(crate) fn new(name: String, limits: Limits, persistent: usize, runner: K) -> Self {
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    ladder: Ladder::new(limits),
                    ready: VecDeque::new(),
                    crew: Crew::default(),
                    shutdown: None,
                    timers: BinaryHeap::new(),
                    timer_seq: 0,
                    watched: false,
                    watcher_called: false,
                }),
                ready_hint: AtomicUsize::new(0),
                queued_hint: AtomicUsize::new(0),
                work: Condvar::new(),
                gone: Condvar::new(),
                name,
                persistent,
                runner,
            }),
        }
    }

    pub(crate) fn runner(&self) -> &K {
        &self.shared.runner
    }

    /// The pool's queue, as its threads see it.
    pub(crate) fn queue(&self) -> Queue<'_, K> {
        Queue(&self.shared)
    }

    /// Offers a job to the ladder. `true` if it had to queue. After a stop it is cancelled.
    pub(crate) fn submit(&self, job: K::Job) -> bool {
        // A pool thread may already wait for this task (it was delayed): once it queues,
        // that thread runs it itself (see `take_queued`).
        let awaited = job
            .header()
            .awaited_in_pool
            .load(SeqCst)
            .then(|| job.control());
        let mut st = self.shared.lock();
        if st.shutdown.is_some() {
            drop(st);
            job.cancel();
            return false;
        }
        if st.ladder.refresh() {
            // Runs taken inline ended unseen: the queued jobs of their names start first.
            self.shared.refill(&mut st, 0);
        }
        match st.ladder.submit(job) {
            Some(job) => {
                // A thread firing a timer of this pool takes the job the timer submits.
                let key = context::key(&*self.shared);
                let me = FIRING.with(|f| f.get() == key && f.replace(0) == key);
                self.shared.dispatch(&mut st, job, usize::from(me));
                false
            }
            None => {
                self.shared.hint_queued(&st);
                drop(st);
                if let Some(task) = awaited {
                    task.nudge();
                }
                true
            }
        }
    }

    /// Fires `timer` with `tag` on a pool thread once `due` has passed (at most a
    /// millisecond later when the pool idles, see [`TIMER_GRID_NS`]; while every thread
    /// runs a job, when the first comes back for the next). The pool holds it weakly: its owner keeps
    /// it alive. After a stop it is dropped at once.
    pub(crate) fn schedule(&self, due: Instant, tag: u64, timer: &Arc<dyn Timer>) {
        let mut st = self.shared.lock();
        if st.shutdown.is_some() {
            drop(st);
            timer.clone().dropped();
            return;
        }
        let first = st.timers.peek().map(|t| t.due);
        st.timer_seq += 1;
        let seq = st.timer_seq;
        st.timers.push(Timed {
            due,
            seq,
            tag,
            timer: Arc::downgrade(timer),
        });
        if st.watched {
            if first.is_some_and(|f| due < f) {
                // The watching thread sleeps too long now; whoever wakes re-evaluates.
                self.shared.work.notify_all();
            }
            return;
        }
        // A thread of ours looks at the timers when it comes back to the queue.
        if !self.is_current() {
            self.shared.call_watcher(&mut st);
        }
    }

    /// Whether some task waits for a slot (lock-free; as of the ladder's last change). Tasks
    /// blocked only by their names' limits do not count: a slot freed would not start them.
    pub(crate) fn has_queued(&self) -> bool {
        self.shared.queued_hint.load(SeqCst) > 0
    }

    /// Whether the calling thread is one of this pool's.
    pub(crate) fn is_current(&self) -> bool {
        context::is(Role::Pool, context::key(&*self.shared))
    }

    /// Takes the queued task `h` out of the ladder for the calling pool thread to run: it
    /// holds a slot and waits for `h`, so `h` takes no new slot, and every other queued task
    /// keeps its place. `h`'s limit does not hold it back (see [`Ladder::take`]). `None` if
    /// `h` is not queued here, or the caller is no thread of ours.
    pub(crate) fn take_queued(&self, h: &Header) -> Option<K::Job> {
        if !self.is_current() {
            return None;
        }
        let mut st = self.shared.lock();
        let job = st.ladder.take(h);
        self.shared.hint_queued(&st);
        job
    }

    /// Cancels every queued job (at a stop deadline).
    pub(crate) fn cancel_queued(&self) {
        let jobs = {
            let mut st = self.shared.lock();
            let jobs = st.ladder.drain();
            self.shared.hint_queued(&st);
            jobs
        };
        for job in jobs {
            job.cancel();
        }
    }

    /// The tasks admitted and waiting for a thread.
    pub(crate) fn ready(&self) -> Vec<Arc<dyn Control>> {
        self.shared
            .lock()
            .ready
            .iter()
            .map(|j| j.control())
            .collect()
    }

    pub(crate) fn overdue(&self, now: Instant, warn: Duration, crit: Duration, out: &mut Overdue) {
        self.shared.lock().ladder.overdue(now, warn, crit, out);
    }

    /// (threads alive, slots busy, jobs queued)
    pub(crate) fn load(&self) -> (usize, usize, usize) {
        let st = self.shared.lock();
        (st.crew.threads, st.ladder.busy(), st.ladder.queued())
    }

    /// Ends every thread: idle ones at once, busy ones after their job; what they keep must
    /// be closed within `grace`. Returns once every thread has ended, or shortly after the
    /// grace deadline (then [`Runner::hard_stop`] makes the rest end).
    pub(crate) fn shutdown(&self, grace: Duration) {
        let mut st = self.shared.lock();
        let close_by = *st.shutdown.get_or_insert(Instant::now() + grace);
        self.shared.work.notify_all();
        if !st.timers.is_empty() {
            let timers = std::mem::take(&mut st.timers);
            drop(st);
            drop_timers(timers);
            st = self.shared.lock();
        }
        let until = close_by + Duration::from_millis(100);
        let ended = crate::sync::wait_until(&self.shared.gone, st, Some(until), |st| {
            st.crew.threads == 0
        });
        if !ended {
            // A thread still waits on a task nobody cancelled.
            self.shared.runner.hard_stop();
            let threads = self.shared.lock().crew.threads;
            tracing::warn!(pool = %self.shared.name, threads, "atasker: pool threads still busy at stop; ended");
        }
    }
}

impl<K: Runner> Drop for Pool<K> {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.shutdown
            .get_or_insert_with(|| Instant::now() + DROP_GRACE);
        self.shared.work.notify_all();
        let timers = std::mem::take(&mut st.timers);
        drop(st);
        drop_timers(timers);
    }
}

impl<K: Runner> Shared<K> {
    fn lock(&self) -> MutexGuard<'_, State<K::Job>> {
        crate::sync::lock(&self.state)
    }

    /// Hands an admitted job to an idle thread, or starts a thread for it.
    ///
    /// `me` is 1 when the caller is a pool thread that takes a ready job next itself.
    /// Threads already on their way to `ready` (woken or starting) are counted, so that a
    /// burst never starts more threads than there are jobs.
    fn dispatch(self: &Arc<Self>, st: &mut State<K::Job>, job: K::Job, me: usize) {
        st.ready.push_back(job);
        self.ready_hint.store(st.ready.len(), SeqCst);
        let n = match st.crew.on_ready(st.ready.len(), me) {
            Call::Nobody => return,
            Call::Notify => return self.work.notify_one(),
            Call::Spawn(n) => n,
        };
        let shared = self.clone();
        let name = format!("{}-{n}", self.name);
        if let Err(e) = st.crew.start(K::THREAD, name, move || shared.serve()) {
            if let Some(job) = st.ready.pop_back() {
                st.ladder.release(Claim::of(job.header()));
                job.fail(TaskError::Unavailable(e));
            }
        }
    }

    /// Does what the crew asked for a job or a timer that needs a thread (without a new
    /// thread, the work waits for a busy one).
    fn answer(self: &Arc<Self>, st: &mut State<K::Job>, call: Call) {
        match call {
            Call::Nobody => {}
            Call::Notify => self.work.notify_one(),
            Call::Spawn(n) => {
                let shared = self.clone();
                let name = format!("{}-{n}", self.name);
                let _ = st.crew.start(K::THREAD, name, move || shared.serve());
            }
        }
    }

    /// A pool thread: runs ready jobs until the pool stops or it idles past its keep-alive.
    fn serve(self: Arc<Self>) {
        // For the thread's whole life: never restored.
        std::mem::forget(context::enter(Role::Pool, context::key(&*self)));
        // Should this thread die anyway (a bug of ours), the guard replaces it. Made before
        // the lock is taken, so that it drops after the lock's guard.
        let replace = Replace(&self);
        let mut local = K::Local::default();
        let mut st = self.lock();
        st.crew.arrived();
        let mut lingered = false;
        // The last look at the timers fired one: a job comes next.
        let mut fired_last = false;
        loop {
            if !fired_last && !st.timers.is_empty() && st.shutdown.is_none() {
                // A due timer, one between two jobs (its run goes through the ladder like any
                // task, and this thread takes it next): timers keep their time through a
                // backlog; only while every thread runs a long job do they wait (as tokio's
                // timers wait while every worker is blocked), for the first to come back.
                let (guard, fired) = self.fire_due(st);
                st = guard;
                if fired {
                    fired_last = true;
                    continue;
                }
            }
            fired_last = false;
            if let Some(job) = st.ready.pop_front() {
                self.ready_hint.store(st.ready.len(), SeqCst);
                lingered = false;
                drop(st);
                let claim = Claim::of(job.header());
                self.runner.run(&mut local, job, &Queue(&self));
                st = self.lock();
                self.release_and_refill(&mut st, claim);
                continue;
            }
            if st.shutdown.is_some() {
                break;
            }
            if K::LINGER && !lingered {
                lingered = true;
                st = self.linger(st);
                continue;
            }
            let (guard, go_on) = self.sleep(st);
            st = guard;
            if !go_on {
                break;
            }
        }
        let close_by = st.shutdown.unwrap_or_else(|| Instant::now() + DROP_GRACE);
        drop(st);
        self.runner.leave(local, close_by);
        self.lock().crew.left();
        self.gone.notify_all();
        std::mem::forget(replace);
    }

    /// Frees the slot of a finished job, whose `claim` counted it for its name's limit, and
    /// restores the ladder's invariant: starts every queued job the freed slot allows.
    fn release_and_refill(self: &Arc<Self>, st: &mut State<K::Job>, claim: Claim) {
        st.ladder.release(claim);
        self.refill(st, 1);
    }

    /// Starts every queued job the ladder allows now (`me` as for [`dispatch`]).
    ///
    /// [`dispatch`]: Shared::dispatch
    fn refill(self: &Arc<Self>, st: &mut State<K::Job>, me: usize) {
        while let Some(job) = st.ladder.next() {
            self.dispatch(st, job, me);
        }
        self.hint_queued(st);
    }

    /// Publishes how many jobs wait in the ladder for a slot (see `queued_hint`).
    fn hint_queued(&self, st: &State<K::Job>) {
        self.queued_hint.store(st.ladder.waiting(), SeqCst);
    }

    /// Fires the first timer if it is due, without the lock; the job it submits is counted
    /// as this thread's (see [`FIRING`]), which takes it next unless older jobs wait (then
    /// one more thread is called for them). One at a time: a thread runs a batch of quick
    /// runs due together back to back, with no other thread woken. `false` if none was due.
    fn fire_due<'a>(
        self: &'a Arc<Self>,
        mut st: MutexGuard<'a, State<K::Job>>,
    ) -> (MutexGuard<'a, State<K::Job>>, bool) {
        let now = Instant::now();
        let Some(t) = st.timers.peek_mut().filter(|t| t.due <= now) else {
            return (st, false);
        };
        let t = std::collections::binary_heap::PeekMut::pop(t);
        st.watcher_called = false;
        drop(st);
        if let Some(timer) = t.timer.upgrade() {
            FIRING.with(|f| f.set(context::key(&**self)));
            timer.fire(t.tag);
            FIRING.with(|f| f.set(0));
        }
        let mut st = self.lock();
        let ready = st.ready.len();
        let call = st.crew.on_ready(ready, 1);
        self.answer(&mut st, call);
        (st, true)
    }

    /// Calls one thread to watch the timers (an idle one, or a new one), unless one was
    /// called already and has not come yet.
    fn call_watcher(self: &Arc<Self>, st: &mut State<K::Job>) {
        if st.watcher_called {
            return;
        }
        st.watcher_called = true;
        let call = st.crew.call_one();
        self.answer(st, call);
    }

    /// Watches for up to 30 µs, yielding the core meanwhile, until a job is ready; if none
    /// is, lets the runner put jobs back for this thread ([`Runner::idle`]).
    fn linger<'a>(
        self: &'a Arc<Self>,
        st: MutexGuard<'a, State<K::Job>>,
    ) -> MutexGuard<'a, State<K::Job>> {
        let mut st = st;
        st.crew.spinning(true);
        drop(st);
        let until = Instant::now() + Duration::from_micros(30);
        while self.ready_hint.load(SeqCst) == 0 && Instant::now() < until {
            std::thread::yield_now();
        }
        if self.ready_hint.load(SeqCst) == 0 {
            self.runner.idle(&Queue(self));
        }
        st = self.lock();
        st.crew.spinning(false);
        st
    }

    /// Sleeps until notified; `false` (with the lock) when this thread should end: it is
    /// above the persistent count and idled past the keep-alive.
    fn sleep<'a>(
        &'a self,
        mut st: MutexGuard<'a, State<K::Job>>,
    ) -> (MutexGuard<'a, State<K::Job>>, bool) {
        let extra = st.crew.threads > self.persistent;
        st.crew.sleeps();
        let mut wait = if extra {
            KEEP_ALIVE
        } else {
            Duration::from_secs(3600)
        };
        // One idle thread watches the timers: it sleeps until the first is due.
        let watch = !st.watched && !st.timers.is_empty();
        if let Some(first) = st.timers.peek().filter(|_| watch).map(|t| t.due) {
            st.watched = true;
            st.watcher_called = false;
            wait = on_grid(first).saturating_duration_since(Instant::now());
        }
        let (st, timeout) = self
            .work
            .wait_timeout(st, wait)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut st = st;
        if watch {
            st.watched = false;
        }
        // `woke` takes a notification if there is one: evaluate it first, always.
        let end = !st.crew.woke()
            && extra
            && timeout.timed_out()
            && st.ready.is_empty()
            && !watch
            && st.crew.threads > self.persistent;
        (st, !end)
    }
}

/// Replaces a pool thread that unwinds: it leaves the crew, and a new thread is started if
/// jobs are ready for it.
struct Replace<'a, K: Runner>(&'a Arc<Shared<K>>);

impl<K: Runner> Drop for Replace<'_, K> {
    fn drop(&mut self) {
        let shared = self.0;
        let mut st = shared.lock();
        st.crew.left();
        tracing::error!(pool = %shared.name, "atasker: a pool thread died; replacing it");
        if let Some(job) = st.ready.pop_front() {
            shared.dispatch(&mut st, job, 0);
        }
        drop(st);
        shared.gone.notify_all();
    }
}
