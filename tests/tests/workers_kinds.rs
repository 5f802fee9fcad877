//! Worker kinds: loop, interval, delay, queue and event.

mod common;

use atasker::{EventWorker, Priority, QueueWorker, Supervisor, Worker};
use common::{supervisor, wait_until, Gate, QUIET, SOON};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// Start instants of each run, relative to `t0`.
#[derive(Clone)]
struct Times(Arc<Mutex<Vec<Duration>>>, Instant);

impl Times {
    fn new() -> Self {
        Times(Arc::default(), Instant::now())
    }
    fn mark(&self) {
        self.0.lock().unwrap().push(self.1.elapsed());
    }
    fn get(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn loop_worker_runs_back_to_back_until_stopped() {
    let n = counter();
    let c = n.clone();
    let w = Worker::builder().name("spin").build_async(move || {
        let c = c.clone();
        async move {
            c.fetch_add(1, SeqCst);
        }
    });
    assert!(!w.is_active());
    assert!(w.start());
    assert!(!w.start(), "already running");
    assert!(w.is_active());
    wait_until("many runs", || n.load(SeqCst) > 1000);
    w.stop();
    assert!(!w.is_active());
    let after = n.load(SeqCst);
    std::thread::sleep(QUIET);
    assert_eq!(n.load(SeqCst), after, "no run after stop returned");
    w.stop(); // idempotent
}

#[test]
fn interval_worker_runs_at_a_fixed_rate_from_start() {
    // The first run comes at start, not one interval later.
    first_run_at_start(Worker::builder().interval(Duration::from_secs(60)));
    // Fixed rate: the k-th run is at start + k·250 ms, whatever the runs take. Each run
    // takes 100 ms, so a schedule that counted from the end of the previous run would put
    // the 12th run at 12 × 350 ms = 4.2 s instead of 3 s. The bounds are a second wide:
    // a run may start late on a busy machine, but lateness does not accumulate.
    const EVERY: Duration = Duration::from_millis(250);
    const K: u32 = 12;
    let times = Times::new();
    let t = times.clone();
    let w = Worker::builder().interval(EVERY).build(move || {
        t.mark();
        std::thread::sleep(ms(100));
    });
    w.start();
    wait_until("13 runs", || times.len() > K as usize);
    w.stop();
    let runs = times.get();
    let last = runs[K as usize];
    assert!(
        last >= EVERY * K - ms(10) && last < EVERY * K + Duration::from_secs(1),
        "drift: {runs:?}"
    );
    // Never early: run k starts no sooner than start + k·EVERY.
    for (k, at) in runs.iter().enumerate() {
        assert!(*at + ms(10) >= EVERY * k as u32, "run {k} early: {runs:?}");
    }
}

/// Starts `builder`'s worker (its interval or delay a minute long) and checks that its
/// first run comes at once, long before the interval or delay could have passed.
fn first_run_at_start(builder: atasker::WorkerBuilder) {
    let n = counter();
    let c = n.clone();
    let w = builder.build(move || {
        c.fetch_add(1, SeqCst);
    });
    w.start();
    wait_until("the first run, at start", || n.load(SeqCst) == 1);
    w.stop();
    assert_eq!(n.load(SeqCst), 1);
}

#[test]
fn an_overrun_delays_the_next_run_without_overlap_or_burst() {
    let times = Times::new();
    let busy = counter();
    let max_busy = counter();
    let (t, b, m) = (times.clone(), busy.clone(), max_busy.clone());
    let w = Worker::builder().interval(ms(40)).build(move || {
        t.mark();
        let now = b.fetch_add(1, SeqCst) + 1;
        m.fetch_max(now, SeqCst);
        std::thread::sleep(ms(100));
        b.fetch_sub(1, SeqCst);
    });
    w.start();
    wait_until("4 runs", || times.len() >= 4);
    w.stop();
    assert_eq!(max_busy.load(SeqCst), 1, "runs never overlap");
    let runs = times.get();
    for pair in runs.windows(2) {
        assert!(
            pair[1] - pair[0] >= ms(95),
            "no burst after an overrun: {runs:?}"
        );
    }
}

#[test]
fn delay_counts_from_the_end_of_the_previous_run() {
    // The first run comes at start, not one delay later.
    first_run_at_start(Worker::builder().delay(Duration::from_secs(60)));
    let times = Times::new();
    let t = times.clone();
    let w = Worker::builder().delay(ms(100)).build(move || {
        t.mark();
        std::thread::sleep(ms(50));
    });
    w.start();
    wait_until("3 runs", || times.len() >= 3);
    w.stop();
    let runs = times.get();
    for pair in runs.windows(2) {
        assert!(
            pair[1] - pair[0] >= ms(145),
            "pause after the end: {runs:?}"
        );
    }
}

#[test]
fn delay_before_offsets_each_tick() {
    // Ticks at 0 s and 2 s from start, each run 500 ms after its tick. Lower bounds are
    // exact (never early); upper bounds leave 1.5 s for a busy machine.
    const EVERY: Duration = Duration::from_secs(2);
    const BEFORE: Duration = Duration::from_millis(500);
    let times = Times::new();
    let t = times.clone();
    let w = Worker::builder()
        .interval(EVERY)
        .delay_before(BEFORE)
        .build_async(move || {
            let t = t.clone();
            async move { t.mark() }
        });
    w.start();
    wait_until("2 runs", || times.len() >= 2);
    w.stop();
    let runs = times.get();
    assert!(runs[0] >= BEFORE - ms(5) && runs[0] < EVERY, "{runs:?}");
    assert!(
        runs[1] >= EVERY + BEFORE - ms(5) && runs[1] < EVERY * 2,
        "{runs:?}"
    );
}

#[test]
fn trigger_runs_an_idle_interval_worker_without_shifting_the_schedule() {
    // Ticks at 0 s and 4 s from start; a trigger at about 2 s runs at once and leaves the
    // 4 s tick where it is (a shifted schedule would put it 4 s after the trigger). Each
    // bound is about 2 s away from what it rules out.
    const EVERY: Duration = Duration::from_secs(4);
    let times = Times::new();
    let t = times.clone();
    let w = Worker::builder().interval(EVERY).build(move || t.mark());
    w.start();
    wait_until("first run", || times.len() == 1);
    std::thread::sleep(Duration::from_secs(2));
    let triggered = times.1.elapsed();
    w.trigger();
    wait_until("triggered run", || times.len() == 2);
    wait_until("next tick", || times.len() == 3);
    w.stop();
    let runs = times.get();
    assert!(
        runs[1] >= triggered && runs[1] < EVERY,
        "the trigger ran at once, before the tick: {runs:?}"
    );
    assert!(
        runs[2] >= EVERY - ms(10) && runs[2] < triggered + EVERY,
        "tick kept its place: {runs:?} (triggered at {triggered:?})"
    );
}

#[test]
fn a_sleeping_worker_stops_at_once() {
    let n = counter();
    let c = n.clone();
    let w = Worker::builder()
        .interval(Duration::from_secs(30))
        .build(move || {
            c.fetch_add(1, SeqCst);
        });
    w.start();
    wait_until("first run", || n.load(SeqCst) == 1);
    let start = Instant::now();
    w.stop();
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn stop_waits_for_the_current_run() {
    let done = counter();
    let started = counter();
    let (d, s) = (done.clone(), started.clone());
    let w = Worker::builder().build(move || {
        s.fetch_add(1, SeqCst);
        std::thread::sleep(ms(300));
        d.fetch_add(1, SeqCst);
    });
    w.start();
    wait_until("run starts", || started.load(SeqCst) == 1);
    w.stop();
    assert_eq!(
        done.load(SeqCst),
        started.load(SeqCst),
        "the run in progress finished first"
    );
}

#[test]
fn stop_from_inside_the_executor_does_not_hang() {
    let slot: Arc<Mutex<Option<Worker>>> = Arc::default();
    let n = counter();
    let (s, c) = (slot.clone(), n.clone());
    let w = Worker::builder().interval(ms(10)).build(move || {
        if c.fetch_add(1, SeqCst) == 2 {
            s.lock().unwrap().as_ref().unwrap().stop();
        }
    });
    *slot.lock().unwrap() = Some(w.clone());
    w.start();
    wait_until("worker stops itself", || {
        !w.is_active() && w.stats().state == atasker::WorkerState::Stopped
    });
    std::thread::sleep(QUIET);
    assert_eq!(n.load(SeqCst), 3);
    // And from inside an async executor.
    let slot: Arc<Mutex<Option<Worker>>> = Arc::default();
    let s = slot.clone();
    let w = Worker::builder().build_async(move || {
        let s = s.clone();
        async move { s.lock().unwrap().as_ref().unwrap().stop() }
    });
    *slot.lock().unwrap() = Some(w.clone());
    w.start();
    wait_until("async worker stops itself", || {
        w.stats().state == atasker::WorkerState::Stopped
    });
    assert_eq!(w.stats().runs, 1);
}

/// A thread-executor interval or delay worker lives on the thread pool's timers: it keeps
/// its schedule while every runtime thread is blocked (a coroutine that never yields).
#[test]
fn thread_interval_workers_tick_while_the_runtime_is_blocked() {
    let sup = Box::leak(Box::new(
        Supervisor::builder()
            .name("blocked-rt")
            .runtime_threads(1)
            .build()
            .unwrap(),
    ));
    let (ticks, delays) = (counter(), counter());
    let (t, d) = (ticks.clone(), delays.clone());
    let interval = Worker::builder()
        .supervisor(sup)
        .interval(ms(20))
        .build(move || {
            t.fetch_add(1, SeqCst);
        });
    let delay = Worker::builder()
        .supervisor(sup)
        .delay(ms(20))
        .build(move || {
            d.fetch_add(1, SeqCst);
        });
    interval.start();
    delay.start();
    wait_until("first runs", || {
        ticks.load(SeqCst) > 0 && delays.load(SeqCst) > 0
    });
    let gate = Gate::new();
    let (g, blocked) = (gate.clone(), Gate::new());
    let b = blocked.clone();
    // Blocks the runtime's one thread until the gate opens.
    let hog = sup.task().spawn_async(async move {
        b.open();
        g.wait();
    });
    blocked.wait();
    let (t0, d0) = (ticks.load(SeqCst), delays.load(SeqCst));
    wait_until("ticks while the runtime is blocked", || {
        ticks.load(SeqCst) >= t0 + 3 && delays.load(SeqCst) >= d0 + 3
    });
    // A stop asked while the runtime is blocked: no run starts after it (the stop itself
    // returns once the runtime is free again).
    let stopping = [interval, delay].map(|w| {
        std::thread::spawn(move || {
            w.stop();
            w
        })
    });
    std::thread::sleep(ms(60));
    let after = (ticks.load(SeqCst), delays.load(SeqCst));
    std::thread::sleep(ms(100));
    assert_eq!((ticks.load(SeqCst), delays.load(SeqCst)), after);
    gate.open();
    hog.wait().unwrap();
    for w in stopping {
        assert!(!w.join().unwrap().is_active());
    }
}

/// A thread-executor queue worker serves its items in one pool task, but gives the slot back
/// as soon as another task waits for one.
#[test]
fn a_busy_queue_worker_gives_its_slot_to_a_waiting_task() {
    let sup = supervisor("queue-slot", 1, 0, 0);
    let served = counter();
    let s = served.clone();
    let w = QueueWorker::builder().supervisor(sup).build(move |_: u32| {
        s.fetch_add(1, SeqCst);
        std::thread::sleep(Duration::from_micros(200));
    });
    for i in 0..20_000 {
        w.put(i);
    }
    w.start();
    wait_until("the batch runs", || served.load(SeqCst) > 10);
    // Without giving the slot back, the task would wait for all 20,000 items (4 s or more).
    let mut t = sup.task().spawn(|| 7);
    assert_eq!(t.wait_timeout(Duration::from_secs(2)), Some(Ok(7)));
    assert!(w.queued() > 1_000, "the task ran while items still waited");
    w.stop();
    assert!(w.take_remaining().len() > 1_000);
}

/// Runs fall due on the pool's timers; a long run holds up no other worker's ticks.
#[test]
fn a_long_run_holds_up_no_other_workers_ticks() {
    let sup = supervisor("long-run", 4, 0, 0);
    let (gate, entered) = (Gate::new(), Gate::new());
    let (g, e) = (gate.clone(), entered.clone());
    let long = Worker::builder()
        .supervisor(sup)
        .interval(ms(10))
        .build(move || {
            e.open();
            g.wait();
        });
    let ticks = counter();
    let t = ticks.clone();
    let quick = Worker::builder()
        .supervisor(sup)
        .interval(ms(10))
        .build(move || {
            t.fetch_add(1, SeqCst);
        });
    long.start();
    entered.wait();
    quick.start();
    wait_until("the quick worker ticks while the long run runs", || {
        ticks.load(SeqCst) >= 5
    });
    gate.open();
    long.stop();
    quick.stop();
}

/// While every pool thread works through a backlog, due runs still start (here in the HIGH
/// reserve): the threads look at the timers between jobs.
#[test]
fn runs_fall_due_through_a_backlog() {
    let sup = Box::leak(Box::new(
        Supervisor::builder()
            .name("backlog")
            .thread_pool(2)
            .reserve_normal(0)
            .reserve_high(1)
            .build()
            .unwrap(),
    ));
    let ticks = counter();
    let t = ticks.clone();
    let w = Worker::builder()
        .supervisor(sup)
        .priority(Priority::High)
        .interval(ms(10))
        .build(move || {
            t.fetch_add(1, SeqCst);
        });
    w.start();
    wait_until("first run", || ticks.load(SeqCst) > 0);
    let backlog: Vec<_> = (0..60)
        .map(|_| sup.task().spawn(|| std::thread::sleep(ms(50))))
        .collect();
    let t0 = ticks.load(SeqCst);
    wait_until("ticks during the backlog", || ticks.load(SeqCst) >= t0 + 5);
    assert!(
        backlog.iter().filter(|t| t.is_finished()).count() < 50,
        "the backlog was still running"
    );
    w.stop();
    atasker::wait_completed(backlog, None).unwrap();
}

/// A tick beyond what an `Instant` holds never comes: the worker runs once, waits, and
/// stops at once.
#[test]
fn an_endless_interval_runs_once_and_stops_at_once() {
    let n = counter();
    let c = n.clone();
    let w = Worker::builder().interval(Duration::MAX).build(move || {
        c.fetch_add(1, SeqCst);
    });
    w.start();
    wait_until("the first run", || n.load(SeqCst) == 1);
    std::thread::sleep(ms(50));
    assert!(w.is_active());
    assert_eq!(n.load(SeqCst), 1);
    let t0 = Instant::now();
    w.stop();
    assert!(t0.elapsed() < SOON && !w.is_active());
}

/// An interval worker whose executor returns `false` stops itself; a restart resumes it.
#[test]
fn returning_false_stops_an_interval_worker_and_restart_resumes() {
    let n = counter();
    let c = n.clone();
    let w = Worker::builder()
        .interval(ms(5))
        .build(move || c.fetch_add(1, SeqCst) % 3 != 2);
    w.start();
    wait_until("stops itself after 3 runs", || !w.is_active());
    assert_eq!(w.stats().state, atasker::WorkerState::Stopped);
    assert_eq!(w.stats().next_run_at, None);
    assert_eq!(n.load(SeqCst), 3);
    assert!(w.start());
    wait_until("3 more runs", || !w.is_active() && n.load(SeqCst) == 6);
}

#[test]
fn returning_false_stops_and_restart_resumes() {
    let n = counter();
    let c = n.clone();
    let w = Worker::builder().build(move || c.fetch_add(1, SeqCst) % 3 != 2);
    w.start();
    wait_until("stops itself after 3 runs", || !w.is_active());
    wait_until("state stopped", || {
        w.stats().state == atasker::WorkerState::Stopped
    });
    assert_eq!(n.load(SeqCst), 3);
    w.restart();
    wait_until("3 more runs", || !w.is_active() && n.load(SeqCst) == 6);
    assert!(w.start());
    wait_until("and again", || n.load(SeqCst) == 9);
}

#[test]
fn errors_and_panics_go_to_on_error_and_the_worker_goes_on() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let n = counter();
    let c = n.clone();
    let w = Worker::builder()
        .name("flaky")
        .on_error(move |e| s.lock().unwrap().push(e.to_string()))
        .build(move || -> Result<(), String> {
            match c.fetch_add(1, SeqCst) {
                0 => Err("disk full".into()),
                1 => panic!("sensor gone"),
                _ => Ok(()),
            }
        });
    w.start();
    wait_until("more runs", || n.load(SeqCst) >= 5);
    w.stop();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "worker flaky: executor failed: disk full",
            "worker flaky: executor panicked: sensor gone"
        ]
    );
    let st = w.stats();
    assert_eq!(st.errors, 2);
    assert!(st.runs >= 5);
    assert!(st.last_duration.is_some());
}

#[test]
fn async_executor_errors_are_reported_too() {
    let seen = counter();
    let s = seen.clone();
    let w = EventWorker::builder()
        .on_error(move |e| {
            assert!(e.to_string().contains("async boom"), "{e}");
            s.fetch_add(1, SeqCst);
        })
        .build_async(|| async {
            if true {
                panic!("async boom")
            }
        });
    w.start();
    w.trigger();
    wait_until("reported", || seen.load(SeqCst) == 1);
    w.trigger();
    wait_until("still alive", || seen.load(SeqCst) == 2);
    w.stop();
}

#[test]
fn queue_worker_runs_items_in_order_and_keeps_them_across_stop() {
    let got: Arc<Mutex<Vec<u32>>> = Arc::default();
    let g = got.clone();
    let w = QueueWorker::builder().build(move |item: u32| {
        std::thread::sleep(ms(20));
        g.lock().unwrap().push(item);
    });
    for i in 0..10 {
        w.put(i);
    }
    assert_eq!(w.queued(), 10, "items put while stopped wait");
    std::thread::sleep(QUIET);
    assert!(got.lock().unwrap().is_empty());
    w.start();
    wait_until("two processed", || got.lock().unwrap().len() >= 2);
    w.stop();
    let done = got.lock().unwrap().len();
    assert_eq!(w.queued(), 10 - done, "stop keeps the rest");
    std::thread::sleep(QUIET);
    assert_eq!(got.lock().unwrap().len(), done);
    w.start();
    wait_until("all processed", || got.lock().unwrap().len() == 10);
    assert_eq!(*got.lock().unwrap(), (0..10).collect::<Vec<_>>());
    w.stop();
}

#[test]
fn a_bounded_queue_pushes_back() {
    let gate = Gate::new();
    let g = gate.clone();
    let got = counter();
    let c = got.clone();
    let w = QueueWorker::builder()
        .capacity(2)
        .build_async(move |_: u8| {
            let (g, c) = (g.clone(), c.clone());
            async move {
                tokio::task::spawn_blocking(move || g.wait()).await.unwrap();
                c.fetch_add(1, SeqCst);
            }
        });
    w.start();
    w.put(1); // taken by the executor, which blocks
    wait_until("first item taken", || w.queued() == 0);
    w.put(2);
    w.put(3);
    assert_eq!(w.try_put(4), Err(4), "full");
    let w2 = w.clone();
    let putter = std::thread::spawn(move || {
        w2.put(5);
        Instant::now()
    });
    std::thread::sleep(QUIET);
    assert!(!putter.is_finished(), "put blocks while full");
    let opened = Instant::now();
    gate.open();
    let returned = putter.join().unwrap();
    assert!(returned >= opened);
    wait_until("all four processed", || got.load(SeqCst) == 4);
    w.stop();
}

#[test]
fn put_async_waits_for_room() {
    let got = counter();
    let c = got.clone();
    let w = QueueWorker::builder().capacity(1).build(move |n: usize| {
        c.fetch_add(n, SeqCst);
    });
    w.start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 1..=100 {
            w.put_async(i).await;
        }
    });
    wait_until("all summed", || got.load(SeqCst) == 5050);
    w.stop();
}

#[test]
fn event_worker_coalesces_triggers_during_a_run() {
    let gate = Gate::new();
    let started = counter();
    let (g, s) = (gate.clone(), started.clone());
    let w = EventWorker::builder().build(move || {
        if s.fetch_add(1, SeqCst) == 0 {
            g.wait();
        }
    });
    w.start();
    std::thread::sleep(QUIET);
    assert_eq!(started.load(SeqCst), 0, "no run without a trigger");
    w.trigger();
    wait_until("first run", || started.load(SeqCst) == 1);
    for _ in 0..5 {
        w.trigger();
    }
    gate.open();
    wait_until("exactly one more run", || started.load(SeqCst) == 2);
    std::thread::sleep(QUIET);
    assert_eq!(started.load(SeqCst), 2);
    w.stop();
}

#[test]
fn thread_executors_run_at_the_worker_priority() {
    let sup = supervisor("worker-prio", 1, 0, 0);
    let gate = Gate::new();
    let g = gate.clone();
    let blocker = sup.task().spawn(move || g.wait());
    let n = counter();
    let c = n.clone();
    let w = EventWorker::builder()
        .supervisor(sup)
        .priority(Priority::Critical)
        .build(move || {
            c.fetch_add(1, SeqCst);
        });
    w.start();
    w.trigger();
    wait_until("critical run passes the full pool", || n.load(SeqCst) == 1);
    // The counter moves inside the run; the run is counted complete just after it returns.
    wait_until("the run counted as a CRITICAL thread task", || {
        sup.stats().threads.critical.completed == 1
    });
    gate.open();
    blocker.wait().unwrap();
    w.stop();
}

#[test]
fn supervisor_lists_and_stops_its_workers() {
    let sup: &'static Supervisor = supervisor("worker-stop", 2, 0, 0);
    let n = counter();
    let c = n.clone();
    let w = Worker::builder()
        .name("ticker")
        .supervisor(sup)
        .interval(ms(10))
        .build(move || {
            c.fetch_add(1, SeqCst);
        });
    let idle = QueueWorker::builder()
        .name("idle-queue")
        .supervisor(sup)
        .build(|_: ()| ());
    w.start();
    wait_until("runs", || n.load(SeqCst) > 2);
    let stats = sup.stats();
    let names: Vec<_> = stats.workers.iter().map(|w| w.name.as_str()).collect();
    assert!(
        names.contains(&"ticker") && names.contains(&"idle-queue"),
        "{names:?}"
    );
    let json = serde_json::to_value(&stats).unwrap();
    assert!(json["workers"][0].get("last_duration").is_some());
    sup.stop();
    assert!(!w.is_active());
    let after = n.load(SeqCst);
    std::thread::sleep(QUIET);
    assert_eq!(n.load(SeqCst), after);
    assert!(!w.start(), "a stopped supervisor starts no worker");
    assert!(!idle.start());
    let ticker = sup
        .stats()
        .workers
        .into_iter()
        .find(|w| w.name == "ticker")
        .unwrap();
    assert_eq!(
        ticker.state,
        atasker::WorkerState::Stopped,
        "stays listed as stopped"
    );
    let _ = SOON;
}

#[test]
fn worker_handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Worker>();
    send_sync::<QueueWorker<String>>();
    send_sync::<EventWorker>();
}

#[test]
fn queue_batches_lose_no_item_at_their_boundaries() {
    // More items than one batch serves, all waiting at start: every one runs once, in order.
    let got: Arc<Mutex<Vec<u32>>> = Arc::default();
    let g = got.clone();
    let w = QueueWorker::builder().build(move |i: u32| g.lock().unwrap().push(i));
    for i in 0..5000 {
        w.put(i);
    }
    w.start();
    wait_until("all processed", || got.lock().unwrap().len() >= 5000);
    w.stop();
    assert_eq!(*got.lock().unwrap(), (0..5000).collect::<Vec<_>>());
    assert_eq!(w.stats().runs, 5000);
}
