//! # atasker
//!
//! Background work one attribute away. Annotate a function and it runs in the background
//! where its signature says: an `async fn` as a coroutine on the supervisor's tokio runtime, a
//! plain `fn` on the supervisor's thread pool, a `static` fn in a pool of worker processes.
//! One [`Supervisor`] governs them all, with hard pool limits and a priority ladder
//! (low/normal/high/critical).
//!
//! ```
//! use atasker::prelude::*;
//!
//! #[background_task]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! #[background_task(priority = Priority::High)]
//! async fn greet(name: String) -> String {
//!     format!("hello, {name}")
//! }
//!
//! let t: Task<u64> = square(7); // starts in the background at once
//! assert_eq!(t.wait(), Ok(49));
//! assert_eq!(greet("plant".into()).wait().unwrap(), "hello, plant");
//! ```
//!
//! `use atasker::prelude::*;` brings the macros and the types most code names; every public
//! type is at the crate root (`atasker::Stats`, `atasker::TaskInfo`, …).
//!
//! # Where a function runs
//!
//! Decided from its signature, for tasks (`#[background_task]`) and workers
//! (`#[background_worker]`) alike:
//!
//! | the function | runs on | for |
//! |---|---|---|
//! | `async fn` | the supervisor's tokio runtime, as a coroutine | waiting on I/O, cheaply |
//! | `fn` | the supervisor's thread pool (never a runtime thread) | blocking or CPU work |
//! | `fn` marked `static`: `#[background_task(static)]` | the supervisor's process pool: another OS process running the same executable (see [Process tasks](#process-tasks)) | isolation, crash containment, CPU work that holds locks |
//! | `fn` marked `static, remote`: `#[background_task(static, remote)]` (tasks only) | a node of the supervisor's cluster, or its process pool without one (see [Process tasks](#process-tasks)) | work spread over several hosts |
//!
//! Without the macros: [`spawn`] (thread pool), [`spawn_async`] (coroutine) and
//! [`Supervisor::task`] (with a priority, a delay, a timeout) for tasks;
//! [`Worker::builder`], [`QueueWorker::builder`] and [`EventWorker::builder`] for workers.
//!
//! # Tasks
//!
//! `#[background_task]` turns `fn f(args) -> T` (or `async fn`) into `fn f(args) -> Task<T>`:
//! a call starts the body at once and returns a [`Task`]. Wait for it with [`Task::wait`] in
//! sync code, or `.await` it in async code (a `Task` is a `Future`); [`Task::wait_timeout`],
//! [`Task::cancel`] and [`wait_completed`] do the rest. Dropping a `Task` detaches it: it
//! still runs. A task that did not produce its value gives a [`TaskError`]; a panic never takes
//! a pool thread, a worker or the process pool with it.
//!
//! ```
//! use atasker::prelude::*;
//! use std::time::Duration;
//!
//! #[background_task(priority = Priority::Low, timeout = 5)] // 5 s, or any `Duration`
//! fn checksum(data: Vec<u8>) -> u32 {
//!     data.iter().map(|&b| u32::from(b)).sum()
//! }
//!
//! let tasks = vec![checksum(vec![1, 2]), checksum(vec![3, 4])];
//! let sums = atasker::wait_completed(tasks, Some(Duration::from_secs(10)));
//! assert_eq!(sums, Ok(vec![3, 7]));
//!
//! let t = atasker::spawn(|| -> u32 { panic!("boom") });
//! assert!(matches!(t.wait(), Err(TaskError::Panicked { .. })));
//! ```
//!
//! A task may wait for another task even when its pool is full: a thread task that waits for
//! a task still queued in its own pool runs that task on its own thread, as rayon's `join`
//! does, so nested waits never deadlock (see [`Task::wait`]).
//!
//! # The supervisor and priorities
//!
//! [`Supervisor::global()`] is built with the defaults on first use (thread pool = cores × 5
//! with reserves 5/5, process pool = cores, queue-wait warnings at 5 s and 10 s; threads and
//! processes start lazily). Build your own with [`Supervisor::builder`], as the global one
//! ([`SupervisorBuilder::build_global`], before its first use) or as a private one
//! ([`SupervisorBuilder::build`], given to the macros with `supervisor = EXPR`):
//!
//! ```
//! use atasker::{Supervisor, TaskInfo};
//! use std::time::Duration;
//!
//! let sup: &'static Supervisor = Supervisor::builder()
//!     .name("plant")            // thread names start with atasker-plant-
//!     .thread_pool(20)          // LOW may use 20 threads
//!     .reserve_normal(5)        // NORMAL may use 25
//!     .reserve_high(5)          // HIGH may use 30; CRITICAL always starts at once
//!     .process_pool(4)          // the same ladder: .process_reserve_normal(n) and _high(n)
//!     .timeout_warning(Duration::from_secs(5))   // queued this long: tracing warn + hook
//!     .timeout_critical(Duration::from_secs(10)) // tracing error + hook
//!     .on_timeout_critical(|t: &TaskInfo| eprintln!("{} waits for {:?}", t.name, t.waited))
//!     .build_global()?;
//! assert_eq!(sup.name(), "plant");
//! # Ok::<(), atasker::BuildError>(())
//! ```
//!
//! The ladder ([`Priority`]) governs the thread pool and the process pool: a `Low` task starts
//! while fewer than `thread_pool` tasks run, `Normal` while fewer than `thread_pool +
//! reserve_normal`, `High` while fewer than `thread_pool + reserve_normal + reserve_high`, and
//! `Critical` at once (the process pool likewise, with `process_pool` and its reserves).
//! Queued tasks start highest priority first, first in first out within a priority, the
//! moment a slot frees. Coroutines are not limited by the ladder.
//!
//! # The runtime, and `#[tokio::main]`
//!
//! Coroutines (`async fn` tasks and workers, and every worker's loop) run on a tokio runtime.
//! By default the supervisor owns one: a multi-thread runtime, built on first use with every
//! driver enabled (I/O, time, signals), so an `async fn` task may open sockets, read files,
//! sleep and wait for `ctrl_c()` as under `#[tokio::main]` (given the tokio features your own
//! crate turns on, such as `net` or `signal`). Its threads are named `atasker-<name>-rt`;
//! [`SupervisorBuilder::runtime_threads`] sets how many.
//!
//! A program that runs `#[tokio::main]` already can keep one runtime: give the supervisor
//! its handle with [`SupervisorBuilder::runtime`]. Creating or using the global supervisor
//! from inside a runtime never panics.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // inside `#[tokio::main] async fn main()`:
//! let sup = atasker::Supervisor::builder()
//!     .runtime(tokio::runtime::Handle::current())
//!     .build_global()
//!     .unwrap();
//! assert_eq!(sup.task().spawn_async(async { 1 + 1 }).await, Ok(2));
//! # });
//! ```
//!
//! In async code, `.await` a task. The blocking [`Task::wait`] is for sync code: called on a
//! thread of a multi-thread runtime it still works (through `tokio::task::block_in_place`, so
//! that the runtime moves its other tasks to other threads), but on a current-thread runtime
//! (`#[tokio::main(flavor = "current_thread")]`, `#[tokio::test]`) blocking would hang that
//! runtime for good, so `wait()` panics at once, saying to `.await` the task instead. The same
//! holds for [`Task::wait_timeout`], [`wait_completed`], a [`QueueWorker::put`] into a full
//! queue and a [`Supervisor::stop`] that has to wait.
//!
//! ```
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let n = rt.block_on(async { atasker::spawn(|| 6 * 7).await }); // not `.wait()`
//! assert_eq!(n, Ok(42));
//! ```
//!
//! ```should_panic
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let _ = atasker::spawn(|| 1).wait(); // panics: this would hang the runtime
//! });
//! ```
//!
//! # Logging: `tracing`
//!
//! atasker reports through [`tracing`](https://docs.rs/tracing) and never prints. **Without a
//! subscriber nothing is shown**: not a worker run that failed (when the worker has no
//! `on_error` hook), not a task left waiting in a queue. It reports:
//!
//! - `error`: a task that failed (`outcome`, `error`), a failed worker run (`Err` or panic)
//!   without an `on_error` hook; a task still queued at `timeout_critical`; items left in a
//!   queue worker at a stop deadline; a user hook or `Drop` that panicked on a library thread
//!   (contained);
//! - `warn`: a task still queued at `timeout_warning`; a stop deadline reached; a worker
//!   process that exited while running a task; a worker not started because its supervisor is
//!   stopped;
//! - `debug`: the start and the end (`outcome`, `duration` in seconds) of every task, inside
//!   its `atasker.task` span, and of every worker run, inside its `atasker.worker` span;
//!   worker processes started and ended.
//!
//! Events carry the fields a log search needs: `task` (its name: `module::fn`, or
//! [`TaskBuilder::name`]), `id`, `priority`, `pool`, `worker`.
//!
//! To see them, install a subscriber first thing in `main`, for example the one of
//! [`tracing-subscriber`](https://docs.rs/tracing-subscriber), which is not a dependency of
//! atasker: add it to your own `Cargo.toml`. Its default prints `info` and above to stdout:
//!
//! ```text
//! # Cargo.toml, [dependencies]:
//! tracing-subscriber = "0.3"
//!
//! // first thing in main():
//! tracing_subscriber::fmt().init();
//! ```
//!
//! A panicking task or worker run is still printed by Rust's own panic hook (to stderr), as
//! any panic is.
//!
//! # Workers
//!
//! `#[background_worker]` turns a `fn` into a static handle (a [`Worker`], [`QueueWorker`] or
//! [`EventWorker`]) that runs it back to back, at an `interval`, after a `delay`, once per
//! item put in its `queue`, or once per `trigger()` (`event`). The executor returns `()`,
//! `bool` (`false` stops the worker), `Result<(), E>` or `Result<bool, E>` (`Err` goes to the
//! `on_error` hook, by default a `tracing` error, and the worker goes on).
//!
//! ```
//! use atasker::prelude::*;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::time::Duration;
//!
//! static TOTAL: AtomicU64 = AtomicU64::new(0);
//!
//! #[background_worker(queue, capacity = 100)] // once per item, in order
//! fn add(n: u64) {
//!     TOTAL.fetch_add(n, Ordering::SeqCst);
//! }
//!
//! #[background_worker(interval = 0.05)] // seconds, or any `Duration` expression
//! fn heartbeat() -> Result<(), String> {
//!     Ok(()) // an `Err` goes to `on_error`
//! }
//!
//! add.start();
//! heartbeat.start(); // an interval worker runs at once, then every 50 ms
//! for n in 1..=10 {
//!     add.put(n); // blocks while the queue is full
//! }
//! while TOTAL.load(Ordering::SeqCst) < 55 || heartbeat.stats().runs == 0 {
//!     std::thread::sleep(Duration::from_millis(1));
//! }
//! add.stop();
//! heartbeat.stop();
//! ```
//!
//! A worker with state is an `impl` block with a `run(&mut self)` method
//! (`run(&mut self, item: T)` for a queue worker):
//!
//! ```
//! use atasker::prelude::*;
//!
//! struct Reporter {
//!     sent: u64,
//! }
//!
//! #[background_worker(event)]
//! impl Reporter {
//!     fn run(&mut self) {
//!         self.sent += 1;
//!     }
//! }
//!
//! let reporter: EventWorker = Reporter { sent: 0 }.into_worker();
//! reporter.start();
//! reporter.trigger(); // one run; triggers during a run coalesce into one more
//! reporter.stop();
//! ```
//!
//! ## Cron workers
//!
//! `cron = "EXPR"` runs a worker at wall-clock times: 6 fields with seconds first, 5 fields
//! with minute resolution, or a shorthand such as `@hourly`
//! ([croner](https://docs.rs/croner)'s syntax); in UTC unless `tz = "Area/City"` or
//! `tz = "local"`. A bad expression, one that can never fire (`"0 0 0 30 2 *"`: February has
//! no 30th) or an unknown zone is a compile error at the string
//! ([`WorkerBuilder::cron`] returns a [`BuildError`] for them).
//!
//! ```
//! use atasker::prelude::*;
//!
//! #[background_worker(cron = "0 */5 * * * *")] // every five minutes, on the minute
//! fn rollup() {}
//!
//! #[background_worker(cron = "0 30 2 * * *", tz = "Europe/Berlin")]
//! fn nightly() {}
//!
//! rollup.start();
//! let next = rollup.stats().next_run_at.unwrap(); // known when `start()` returns
//! let wait = next.duration_since(std::time::SystemTime::now()).unwrap_or_default();
//! assert!(wait <= std::time::Duration::from_secs(300));
//! rollup.stop();
//! ```
//!
//! A cron worker runs only at its ticks (not at `start()`), never overlaps and never bursts:
//! after an overrun or a stall (a suspended machine too) it runs once and counts the ticks it
//! skipped in [`WorkerStats::missed`]. Its next tick is in [`WorkerStats::next_run_at`] by the
//! time `start()` returns; [`WorkerStats::runs`] counts executor runs only. A clock stepped
//! back repeats no tick. Daylight saving: a job at a fixed hour runs once (a time in a
//! spring-forward gap just after it, a time in a fall-back overlap at its first pass); a job
//! whose hour is a wildcard or a step follows real time. Without macros:
//! [`WorkerBuilder::cron`] and [`WorkerBuilder::time_zone`].
//!
//! - **Day of month and day of week.** When both are restricted, a day matches if *either*
//!   does (croner's rule, as in Vixie cron): `"0 0 0 1 * MON"` runs on every 1st and on every
//!   Monday. A `+` before the day of week asks for *both*: `"0 0 0 1 * +MON"` runs on a 1st
//!   that is a Monday.
//! - **Time zones.** `tz = "Area/City"` is looked up in the IANA database compiled into
//!   [chrono-tz](https://docs.rs/chrono-tz), not in the machine's: chrono-tz 0.10.4, which
//!   this release is built and tested with, carries tzdb 2025b (the application's
//!   `Cargo.lock` decides; `cargo update -p chrono-tz` brings a newer database).
//!   `tz = "local"` is the machine's zone (`TZ`, else `/etc/localtime`) with the system's own
//!   tz database, so it follows the system's tzdata updates.
//! - **Clocks.** Cron follows the wall clock, read again at least once a minute, so a stepped
//!   clock or a resumed machine is noticed within a minute. Interval and delay workers run on
//!   the monotonic clock: a stepped wall clock does not move them, and a suspended machine
//!   delays them by as long as it slept.
//! - **Fleet.** `fleet` runs each tick on exactly one node of the supervisor's cluster (a lease
//!   in Redis keyed by the worker's name and the tick's scheduled UTC time), and every tick
//!   locally without a cluster. A tick runs at most once in the fleet whatever the hosts'
//!   clocks say: Redis also keeps the last tick the fleet fired, and no tick at or before it
//!   runs again. So a host whose clock runs ahead fires early (by its skew) and, while it does,
//!   the others run none; keep the clocks in sync. See [`WorkerBuilder::fleet`].
//!
//! # Graceful shutdown
//!
//! [`Supervisor::stop`] ends everything in order: new tasks fail with
//! [`TaskError::SupervisorStopped`], every worker stops, tasks already queued still run, and
//! the call returns once every task is done. A queue worker's waiting items are queued work
//! too: `stop()` serves every one of them before the worker stops for good (a supervisor stop
//! is final, so keeping them would lose them).
//!
//! ```
//! let sup = atasker::Supervisor::builder().name("shop").build().unwrap();
//! let audit = atasker::QueueWorker::builder()
//!     .supervisor(&sup)
//!     .build(|line: String| drop(line)); // writes the line somewhere
//! audit.start();
//! for n in 0..100 {
//!     audit.put(format!("event {n}"));
//! }
//! sup.stop(); // serves the 100 lines, then stops the worker for good
//! assert_eq!(audit.stats().runs, 100);
//! ```
//!
//! [`Supervisor::stop_timeout`] does the same until a deadline. There, queued tasks get
//! [`TaskError::Cancelled`], running coroutines are aborted and running process tasks killed
//! (`Cancelled` too), and running thread tasks, which cannot be interrupted, finish on their
//! own. The items still waiting in a queue worker are reported by a `tracing` error with
//! their count and stay in the worker: take them back with [`QueueWorker::take_remaining`]
//! (to save them for the next run, say), as the stopped supervisor never runs them.
//!
//! ```
//! use std::time::Duration;
//!
//! let sup = atasker::Supervisor::builder().name("shop").build().unwrap();
//! let mailer = atasker::QueueWorker::builder()
//!     .supervisor(&sup)
//!     .build(|to: String| {
//!         drop(to);
//!         std::thread::sleep(Duration::from_millis(100)); // sends a mail, slowly
//!     });
//! mailer.start();
//! for user in ["ann", "bob", "cid", "dee"] {
//!     mailer.put(format!("{user}@example.com"));
//! }
//! sup.stop_timeout(Duration::from_millis(50)); // returns by the deadline
//! let unsent: Vec<String> = mailer.take_remaining();
//! assert!(!unsent.is_empty()); // to be saved and sent on the next start
//! ```
//!
//! From async code, where a blocking `stop()` would stall a runtime thread, run the stop on a
//! blocking thread and await its end with [`Supervisor::stopped`] (`examples/graceful.rs`
//! does this on Ctrl-C, with a queue worker and static tasks):
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let sup: &'static atasker::Supervisor =
//!     Box::leak(Box::new(atasker::Supervisor::builder().build().unwrap()));
//! // … on `tokio::signal::ctrl_c().await`:
//! tokio::task::spawn_blocking(move || sup.stop());
//! sup.stopped().await;
//! # });
//! ```
//!
//! # Process tasks
//!
//! `#[background_task(static)]` runs a `fn` in the supervisor's process pool: another OS
//! process running the same executable. It needs no set-up in `main` and works the same in
//! binaries, examples and `cargo test`: a child recognises itself before `main` runs (it never
//! runs yours) and serves tasks, one at a time, until its parent goes away.
//!
//! ```
//! use atasker::prelude::*;
//!
//! #[background_task(static)]
//! fn fibonacci(n: u64) -> u64 {
//!     let (mut a, mut b) = (0u64, 1u64);
//!     for _ in 0..n {
//!         (a, b) = (b, a + b);
//!     }
//!     a
//! }
//!
//! match fibonacci(50).wait() {
//!     Ok(n) => assert_eq!(n, 12_586_269_025),
//!     Err(TaskError::Unavailable(why)) => eprintln!("no process pool here: {why}"), // not Linux
//!     Err(e) => panic!("{e}"),
//! }
//! ```
//!
//! - **Linux only** for now: elsewhere a static task fails with [`TaskError::Unavailable`].
//! - Arguments and the result are owned values, `serde::Serialize + DeserializeOwned + Send +
//!   'static` (for your own types, add `serde` with its `derive` feature to your
//!   `Cargo.toml`); no references, generics, `self` or `async`. Misuse is a compile error.
//! - They cross the process boundary in bincode frames of at most **64 MiB**: the arguments
//!   (all of them together) or the result. A larger one fails the task with
//!   [`TaskError::Codec`] saying so, and the pool serves on; pass a path or a key for more.
//! - A panic comes back as [`TaskError::Panicked`] and the child serves on; a child that
//!   aborts, crashes or is killed fails its one task with [`TaskError::ProcessExited`] and is
//!   replaced; a `timeout` or a [`Task::cancel`] kills the child.
//! - A static task may print: the tasks travel on pipes of their own.
//! - The pool's size and ladder: [`SupervisorBuilder::process_pool`] (default: cores).
//!
//! `#[background_task(static, remote)]` (`remote` needs `static`) runs the same call on another
//! host: a node of the supervisor's cluster (hosts running the same build that share a Redis
//! server, set with [`SupervisorBuilder::cluster`]). The function, its calls and its [`Task`] are those
//! of a static task; without a cluster it runs in this host's process pool, so code and tests
//! run unchanged on one machine. Delivery is at least once: make remote tasks idempotent.
//!
//! ## Signals and worker processes
//!
//! Worker processes run in a process group of their own, so a Ctrl-C in a terminal (SIGINT
//! to the foreground process group) or a SIGTERM sent to the group does not reach them: the
//! parent decides what becomes of the static tasks they run. A graceful
//! [`stop`](Supervisor::stop) lets them finish; [`stop_timeout`](Supervisor::stop_timeout)
//! kills them at its deadline (their tasks get `Cancelled`). Children still die with their
//! parent (`PR_SET_PDEATHSIG`): a parent that Ctrl-C kills takes them, and their tasks, with
//! it. To stop gracefully, catch the signals in the parent — Ctrl-C (SIGINT) in a terminal,
//! SIGTERM from a service manager (systemd, Docker, Kubernetes) — and stop the supervisor:
//!
//! ```ignore
//! // needs tokio's `signal` feature in your Cargo.toml (or use the `ctrlc` crate)
//! use tokio::signal::unix::{signal, SignalKind};
//! let mut term = signal(SignalKind::terminate())?;
//! tokio::select! {
//!     _ = tokio::signal::ctrl_c() => {}
//!     _ = term.recv() => {}
//! }
//! atasker::Supervisor::global().stop_timeout(std::time::Duration::from_secs(30));
//! ```
//!
//! A service manager that signals every process of a service (systemd's default
//! `KillMode=control-group`) still reaches the children; `KillMode=mixed` signals the main
//! process only.
//!
//! # Statistics
//!
//! [`Supervisor::stats`] returns a [`Stats`] snapshot, which serializes with serde. For a
//! supervisor that ran three thread tasks (two `app::resize`, one `app::boom` that panicked),
//! a coroutine that timed out and an interval worker, `serde_json::to_string_pretty` gives
//! (abbreviated; the shape is pinned by a test):
//!
//! ```json
//! {
//!   "threads": {
//!     "low": { "submitted": 0, "queued": 0, "running": 0, "completed": 0, "failed": 0, … },
//!     "normal": {
//!       "submitted": 4,
//!       "queued": 0,
//!       "running": 0,
//!       "completed": 3,
//!       "failed": 1,
//!       "cancelled": 0,
//!       "max_wait": 0.000712
//!     },
//!     "high": { … },
//!     "critical": { … }
//!   },
//!   "processes": { "low": { … }, "normal": { … }, "high": { … }, "critical": { … } },
//!   "coroutines": { "low": { … }, "normal": { "submitted": 1, …, "failed": 1, … }, … },
//!   "remote": { "low": { … }, "normal": { … }, "high": { … }, "critical": { … } },
//!   "node": null,
//!   "pool_threads": 1,
//!   "tasks": {
//!     "app::boom": { "completed": 0, "failed": 1, "timed_out": 0, "cancelled": 0, … },
//!     "app::resize": {
//!       "completed": 2,
//!       "failed": 0,
//!       "timed_out": 0,
//!       "cancelled": 0,
//!       "mean_duration": 0.005267648,
//!       "max_duration": 0.005329228,
//!       "mean_wait": 0.0,
//!       "max_wait": 0.0
//!     },
//!     "app::slow": { "completed": 0, "failed": 0, "timed_out": 1, … },
//!     "worker run": { "completed": 1, … }
//!   },
//!   "workers": [
//!     {
//!       "name": "tick",
//!       "kind": "interval",
//!       "state": "waiting",
//!       "runs": 1,
//!       "errors": 0,
//!       "last_duration": 0.000321887,
//!       "last_run_at": 1795984244.015714,
//!       "next_run_at": 1795987844.014498,
//!       "missed": 0
//!     }
//!   ]
//! }
//! ```
//!
//! - `threads`, `processes`, `coroutines`: one [`PoolStats`] per pool, with one
//!   [`PriorityStats`] per priority (`low`, `normal`, `high`, `critical`): tasks `submitted`,
//!   `queued` (waiting for a slot or their delay), `running`, `completed`, `failed` (panicked,
//!   timed out, lost their process), `cancelled`, and `max_wait`, the longest time a task
//!   waited in the queue. `submitted = queued + running + completed + failed + cancelled`
//!   holds in every snapshot. A worker's runs on a pool count there as tasks (named
//!   `worker run`).
//! - `remote`: the same for the remote tasks this process sent to its cluster (`queued`: no
//!   node has started them yet).
//! - `node`: `null`, or this process as a cluster node ([`NodeStats`]: `name`, `served`,
//!   `redelivered`, `running`, `rejected`, `reclaimed`, `reconnects`).
//! - `pool_threads`: the threads alive in the thread pool.
//! - `tasks`: one [`TaskStats`] per task name, every pool together: `completed`, `failed`,
//!   `timed_out`, `cancelled`, and the mean and longest run (`mean_duration`,
//!   `max_duration`) and queue wait (`mean_wait`, `max_wait`).
//! - `workers`: one [`WorkerStats`] per worker of the supervisor, stopped ones too: `name`,
//!   `kind` (`loop`, `interval`, `queue`, `event`), `state` (`stopped`, `waiting`,
//!   `running`), `runs`, `errors`, `last_duration`, `last_run_at`, `next_run_at` (an active
//!   interval or delay worker's next tick) and `missed` (ticks an overrun skipped).
//! - Durations are seconds (`f64`); instants are seconds since the Unix epoch (`f64`); a value
//!   not known yet is `null`.
//!
//! # Metrics
//!
//! With the `metrics` cargo feature (`atasker = { version = "…", features = ["metrics"] }`),
//! every counter is also recorded through the [`metrics`](https://docs.rs/metrics) crate
//! facade, so any `metrics` exporter shows them (Prometheus among them):
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `atasker_tasks_submitted_total` | counter | `pool`, `priority`, `task` |
//! | `atasker_tasks_total` | counter | `pool`, `priority`, `outcome`, `task` |
//! | `atasker_tasks_retried_total` | counter | `pool`, `priority`, `task` |
//! | `atasker_task_duration_seconds` | histogram | `pool`, `priority`, `task` |
//! | `atasker_queue_wait_seconds` | histogram | `pool`, `priority` |
//! | `atasker_tasks_running`, `atasker_tasks_queued` | gauge | `pool`, `priority` |
//! | `atasker_worker_runs_total` | counter | `worker`, `outcome` (`ok`, `error`) |
//! | `atasker_worker_run_duration_seconds` | histogram | `worker` |
//! | `atasker_worker_processes_started_total`, `…_replaced_total` | counter | |
//!
//! A task's `outcome` is `completed`, `failed`, `timed_out` or `cancelled`. Labels are
//! bounded (names come from code; never an id). Metrics are recorded at each event, so a
//! recorder installed after the global supervisor exists still sees every later event.
//! Durations are histograms: give the Prometheus exporter buckets, or it renders summaries:
//!
//! ```text
//! let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
//!     .set_buckets_for_metric(Matcher::Suffix("_seconds".into()),
//!                             &[0.001, 0.01, 0.1, 1.0, 10.0])?
//!     .install_recorder()?;              // then serve handle.render() on /metrics
//! ```
//!
//! `examples/metrics.rs` does exactly that and serves `/metrics` on 127.0.0.1
//! (`cargo run --example metrics --features metrics`).
//!
//! # Collections and the Locker
//!
//! A [`FunctionCollection`] runs named functions one after another on the caller's thread,
//! highest priority first; a [`TaskCollection`] runs them all at once, each a thread task at
//! its priority (on the global supervisor, or [`TaskCollection::supervisor`]'s), and
//! [`execute`](TaskCollection::execute) waits for all. Both return every result by name and
//! whether all are `Ok`; a function that fails or panics never stops the others, and its
//! panic (or a task that did not complete) comes back as `E::from(TaskError)`:
//!
//! ```
//! use atasker::{Priority, TaskCollection, TaskError};
//!
//! let mut startup = TaskCollection::new();
//! startup
//!     .add("config", Priority::Critical, || Ok::<&str, TaskError>("loaded"))
//!     .add("cache", Priority::Low, || panic!("cold"));
//! let (results, all_ok) = startup.execute();
//! assert_eq!(results["config"], Ok("loaded"));
//! assert!(matches!(results["cache"], Err(TaskError::Panicked { .. })));
//! assert!(!all_ok);
//! ```
//!
//! A [`Locker`] is a named lock with a timeout (5 s by default; [`Duration::MAX`]: for
//! ever). A lock not acquired in time is a likely deadlock: [`Locker::lock`] calls the
//! critical hook with a [`LockInfo`] (the lock, the thread that holds it, since when) and
//! returns `Err(`[`LockTimeout`]`)`. It has `const` settings, so it can be a `static`:
//!
//! ```
//! use std::time::Duration;
//!
//! static PLC: atasker::Locker = atasker::Locker::new("plc")
//!     .timeout(Duration::from_secs(2))
//!     .on_critical(|info| eprintln!("{} stuck behind {:?}", info.name, info.holder_name));
//!
//! let guard = PLC.lock()?; // a guard, or after 2 s the hook and an `Err`
//! drop(guard); // free again
//! assert_eq!(PLC.run(|| 6 * 7)?, 42);
//! # Ok::<(), atasker::LockTimeout>(())
//! ```
//!
//! [`Duration::MAX`]: std::time::Duration::MAX
//!
//! # What the macros generate
//!
//! Each annotated item expands to a few readable lines that call `::atasker::__private`: the
//! body in an inner function, one options literal, one call into the runtime. To look:
//! `cargo install cargo-expand`, then `cargo expand --example quickstart` (on stable).
#![doc(test(attr(deny(warnings))))]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub use atasker_core::{
    spawn, spawn_async, wait_completed, BuildError, ClusterError, EventWorker, EventWorkerBuilder,
    NodeStats, PoolKind, PoolStats, Priority, PriorityStats, QueueWorker, QueueWorkerBuilder,
    Stats, Supervisor, SupervisorBuilder, Task, TaskBuilder, TaskError, TaskId, TaskInfo,
    TaskStats, Worker, WorkerBuilder, WorkerError, WorkerKind, WorkerOutput, WorkerState,
    WorkerStats,
};
pub use atasker_core::{
    CollectionResults, FunctionCollection, LockGuard, LockInfo, LockTimeout, Locker, NoRetry,
    Retryable, TaskCollection, WithRetry,
};
pub use atasker_macros::{background_task, background_worker};

/// Everything a user of the macros and handles needs: `use atasker::prelude::*;`.
pub mod prelude {
    pub use crate::{
        background_task, background_worker, EventWorker, Priority, QueueWorker, Supervisor, Task,
        TaskError, Worker, WorkerError,
    };
}

/// What the generated code calls. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use atasker_core::__private::*;
    pub use atasker_core::{Priority, Supervisor, Task};
}
