//! Interval and delay workers whose executor runs on the thread pool: their loop lives on the
//! pool's timers ([`Pool::schedule`](crate::pool::Pool::schedule)), not on the runtime.
//!
//! A run falls due → the pool thread that wakes for it starts the run as a task (at the
//! worker's priority, through the ladder, so it takes that same thread when a slot is free)
//! → when the run ends, it schedules the next. No hop through the runtime per run; the
//! runtime only watches for a stop or a trigger ([`Chain::watch`]).
//!
//! A chain is in one of three states: waiting for its timer, running (due: its run task
//! queued or running), or ended. A timer is fired only if its tag is the chain's current one
//! (a trigger moves the next run to now with a new tag; the old timer then does nothing).

use super::schedule::{catch_up, Schedule};
use super::*;
use crate::pool::Timer;
use crate::task::run_catching;
use std::sync::atomic::AtomicU8;

/// A worker's executor, as its outcome (see [`WorkerOutput`]).
pub(crate) type Body = Arc<dyn Fn() -> Result<bool, String> + Send + Sync>;

const WAITING: u8 = 0;
const RUNNING: u8 = 1;
const ENDED: u8 = 2;

/// The loop of one run (start to stop) of a thread-executor interval or delay worker.
pub(crate) struct Chain {
    core: Arc<Core>,
    run: Run,
    body: Body,
    schedule: Schedule,
    state: AtomicU8,
    /// The tag of the timer that may fire: a generation, shifted left; the low bit set for a
    /// trigger's run (which does not advance an interval's ticks).
    tag: AtomicU64,
    /// An interval's next tick.
    next: Mutex<Instant>,
    /// Set when the chain has ended (no timer will start a run any more).
    ended: Signal,
}

/// Makes the loop of each run of a worker that runs `body` on `schedule` (an interval or a
/// delay).
pub(crate) fn starter(body: Body, schedule: Schedule) -> Starter {
    Box::new(move |core: Arc<Core>, run: Run| {
        let chain = Arc::new(Chain {
            core,
            run,
            body: body.clone(),
            schedule,
            state: AtomicU8::new(RUNNING),
            tag: AtomicU64::new(0),
            next: Mutex::new(Instant::now()),
            ended: Signal::default(),
        });
        Box::pin(chain.watch()) as Pin<Box<dyn Future<Output = ()> + Send>>
    })
}

/// Why [`Chain::watch`] woke.
enum Event {
    Stop,
    Trigger,
    Ended,
}

impl Chain {
    /// The run's future on the runtime: arms the first run, then waits for a stop (calls the
    /// chain off, waits for a run in progress), a trigger (moves the next run to now) or the
    /// chain's end (the executor returned `false`, the run was refused).
    async fn watch(self: Arc<Self>) {
        // Also when this future is dropped (aborted at a stop deadline): no further run.
        let _off = CallOff(&self);
        self.arm(Some(Instant::now()));
        loop {
            let mut stop = pin!(self.run.stop.wait(false));
            let mut trigger = pin!(self.core.trigger.wait(true));
            let mut ended = pin!(self.ended.wait(false));
            let event = poll_fn(|cx| {
                if ended.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Event::Ended)
                } else if stop.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Event::Stop)
                } else if trigger.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Event::Trigger)
                } else {
                    Poll::Pending
                }
            })
            .await;
            match event {
                Event::Ended => return,
                Event::Stop => {
                    self.call_off();
                    // A run in progress ends the chain when it is over.
                    self.ended.wait(false).await;
                    return;
                }
                Event::Trigger => self.trigger(),
            }
        }
    }

    /// Schedules the next run at `due` (a tick, or the end of a delay; `None`: beyond what an
    /// `Instant` holds, so only a trigger or a stop comes).
    fn arm(self: &Arc<Self>, due: Option<Instant>) {
        let tag = self.tag.fetch_add(2, SeqCst).wrapping_add(2) & !1;
        self.tag.store(tag, SeqCst);
        self.core.state.set(WorkerState::Waiting);
        self.core.next_run_at.set_at(due);
        self.state.store(WAITING, SeqCst);
        // A stop signalled while the last run ran found the chain running: end it here.
        if self.run.stopping() {
            self.call_off();
            return;
        }
        if let Some(due) = due {
            let timer: Arc<dyn Timer> = self.clone();
            self.core.sup.inner.schedule_timer(due, tag, &timer);
        }
    }

    /// A trigger: the worker runs now, unless a run is due or running (then it is dropped,
    /// as for the other workers).
    fn trigger(self: &Arc<Self>) {
        if self.state.load(SeqCst) != WAITING {
            return;
        }
        let tag = self.tag.fetch_add(2, SeqCst).wrapping_add(2) | 1;
        self.tag.store(tag, SeqCst);
        let timer: Arc<dyn Timer> = self.clone();
        self.core
            .sup
            .inner
            .schedule_timer(Instant::now(), tag, &timer);
    }

    /// No further run: ends the chain if it waits for its timer (a run due or running ends it
    /// when it is over).
    fn call_off(&self) {
        if self
            .state
            .compare_exchange(WAITING, ENDED, SeqCst, SeqCst)
            .is_ok()
        {
            self.end();
        }
    }

    /// Ends the chain: no timer starts a run any more, and the watch future returns.
    fn end(&self) {
        self.state.store(ENDED, SeqCst);
        self.core.next_run_at.set(None);
        self.ended.set();
    }

    /// One run, on a pool thread; then the next is armed (or the chain ends).
    fn tick(self: &Arc<Self>, triggered: bool) {
        let core = &*self.core;
        core.state.set(WorkerState::Running);
        let go_on = {
            let _current = enter_worker(core.key());
            let span = tracing::debug_span!("atasker.worker", worker = %core.name);
            span.in_scope(|| {
                core.run_started();
                let started = Instant::now();
                let outcome = run_catching(|| (self.body)());
                let result = WorkerError::of_run(core.name(), outcome);
                core.record(&self.run, result, started.elapsed())
            })
        };
        // A trigger during the run is dropped: triggers run the executor only if idle.
        core.trigger.clear();
        if !go_on {
            self.end();
            return;
        }
        let due = match self.schedule {
            Schedule::Delay(pause) => Instant::now().checked_add(pause),
            Schedule::Interval(every) => {
                let mut next = crate::sync::lock(&self.next);
                if !triggered {
                    // A tick beyond what an `Instant` holds never comes.
                    let Some(tick) = next.checked_add(every) else {
                        drop(next);
                        self.arm(None);
                        return;
                    };
                    *next = catch_up(core, tick, every);
                }
                Some(*next)
            }
            // Not built as a chain (see `WorkerBuilder::build`).
            Schedule::Loop | Schedule::Cron { .. } => Some(Instant::now()),
        };
        self.arm(due);
    }
}

impl Timer for Chain {
    fn fire(self: Arc<Self>, tag: u64) {
        if self.tag.load(SeqCst) != tag
            || self
                .state
                .compare_exchange(WAITING, RUNNING, SeqCst, SeqCst)
                .is_err()
        {
            return; // moved by a trigger, or called off
        }
        // A stop the runtime has not handled yet (it may be busy): no further run.
        if self.run.stopping() {
            self.end();
            return;
        }
        self.core.next_run_at.set(None);
        let core = self.core.clone();
        let run = RunGuard(Some(self));
        // Detached: the run reports through the worker's stats and events.
        drop(core.run_task().spawn(move || run.go(tag & 1 == 1)));
    }

    fn dropped(self: Arc<Self>) {
        self.call_off();
    }
}

/// Ends the chain when the run's closure is dropped without running (refused by a stopped
/// supervisor, cancelled at a stop deadline) or unwinds.
struct RunGuard(Option<Arc<Chain>>);

impl RunGuard {
    fn go(mut self, triggered: bool) {
        if let Some(chain) = &self.0 {
            chain.tick(triggered);
        }
        // Armed until the run has armed the next: a panic in between ends the chain.
        self.0 = None;
    }
}

impl Drop for RunGuard {
    /// The run never ran, or panicked outside the executor (a tracing layer, a clock
    /// overflow): the chain ends, so a stop does not wait for it.
    fn drop(&mut self) {
        if let Some(chain) = self.0.take() {
            chain.end();
        }
    }
}

/// Calls the chain off when the run's future ends or is dropped.
struct CallOff<'a>(&'a Chain);

impl Drop for CallOff<'_> {
    fn drop(&mut self) {
        self.0.call_off();
    }
}
