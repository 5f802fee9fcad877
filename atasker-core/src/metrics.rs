//! Metrics through the [`metrics`](https://docs.rs/metrics) crate facade, with the `metrics`
//! cargo feature (without it every call here compiles to nothing).
//!
//! Each event records through the facade's macros as it happens — no handle is cached when a
//! supervisor is built — so a recorder installed later (after the global supervisor exists)
//! still sees every later event. Labels are bounded: the supervisor's name, pool, priority,
//! outcome, and the task's and worker's names (all come from code); never an id. Every
//! series carries `supervisor`, so that two supervisors in one process never write the same
//! gauge.
//!
//! | name | kind | labels (besides `supervisor`) |
//! |---|---|---|
//! | `atasker_tasks_submitted_total` | counter | `pool`, `priority`, `task` |
//! | `atasker_tasks_total` | counter | `pool`, `priority`, `outcome`, `task` |
//! | `atasker_tasks_retried_total` | counter | `pool`, `priority`, `task` |
//! | `atasker_task_duration_seconds` | histogram | `pool`, `priority`, `task` |
//! | `atasker_queue_wait_seconds` | histogram | `pool`, `priority` |
//! | `atasker_tasks_running` | gauge | `pool`, `priority` |
//! | `atasker_tasks_queued` | gauge | `pool`, `priority` |
//! | `atasker_worker_runs_total` | counter | `worker`, `outcome` (`ok`, `error`) |
//! | `atasker_worker_run_duration_seconds` | histogram | `worker` |
//! | `atasker_worker_processes_started_total` | counter | |
//! | `atasker_worker_processes_replaced_total` | counter | |
//!
//! `outcome` of a task is `completed`, `failed`, `timed_out` or `cancelled`.

#[cfg(feature = "metrics")]
mod imp {
    use crate::kind::PoolKind;
    use crate::priority::Priority;
    use metrics::{with_recorder, Key, Label, Level, Metadata};
    use std::sync::OnceLock;
    use std::time::Duration;

    /// Whether metrics are recorded (the `metrics` feature).
    pub(crate) const ENABLED: bool = true;

    /// The keys of one task name, per pool and priority, each made on first use.
    pub(crate) type NameKeys = [[OnceLock<TaskKeys>; 4]; crate::kind::POOLS];

    /// The keys of one task name at one pool and priority.
    pub(crate) struct TaskKeys {
        submitted: Key,
        /// Per outcome, in [`OUTCOMES`]' order.
        ended: [Key; 4],
        retried: Key,
        duration: Key,
    }

    const OUTCOMES: [&str; 4] = ["completed", "failed", "timed_out", "cancelled"];

    /// The keys of one worker, made on its first run (no allocation per run).
    pub(crate) type WorkerKeys = OnceLock<WorkerKeysOf>;

    /// See [`WorkerKeys`].
    pub(crate) struct WorkerKeysOf {
        ok: Key,
        error: Key,
        duration: Key,
    }

    /// What the metrics of every pool and priority are registered with (keys, not handles:
    /// each event still goes to the recorder installed then).
    static META: Metadata<'static> =
        Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

    /// Keys labelled by pool and priority, made once per supervisor (no allocation per
    /// event).
    struct Keys {
        queue_wait: [[Key; 4]; crate::kind::POOLS],
        running: [[Key; 4]; crate::kind::POOLS],
        queued: [[Key; 4]; crate::kind::POOLS],
        processes_started: Key,
        processes_replaced: Key,
    }

    /// The names of the live supervisors, with how many carry each.
    static NAMES: std::sync::Mutex<Vec<(String, usize)>> = std::sync::Mutex::new(Vec::new());

    /// A supervisor's hold on its name in the metrics (see [`claim_name`]); let go on drop.
    pub(crate) struct NameClaim(String);

    /// Claims `supervisor` for a supervisor's series. A second live supervisor of the same
    /// name is warned about: its series would be the first one's.
    pub(crate) fn claim_name(supervisor: &str) -> NameClaim {
        let mut names = crate::sync::lock(&NAMES);
        match names.iter_mut().find(|(n, _)| n == supervisor) {
            Some((_, count)) => {
                *count += 1;
                tracing::warn!(supervisor, "atasker: two live supervisors are named `{supervisor}`: they write the same metrics series; give each its own name");
            }
            None => names.push((supervisor.to_owned(), 1)),
        }
        NameClaim(supervisor.to_owned())
    }

    impl Drop for NameClaim {
        fn drop(&mut self) {
            let mut names = crate::sync::lock(&NAMES);
            if let Some(i) = names.iter().position(|(n, _)| *n == self.0) {
                names[i].1 -= 1;
                if names[i].1 == 0 {
                    names.swap_remove(i);
                }
            }
        }
    }

    /// One supervisor's metrics: every key it makes carries `supervisor = <its name>`.
    pub(crate) struct Scope {
        supervisor: String,
        keys: OnceLock<Keys>,
    }

    impl Scope {
        /// The metrics of the supervisor named `supervisor`.
        pub(crate) fn new(supervisor: &str) -> Self {
            Scope {
                supervisor: supervisor.to_owned(),
                keys: OnceLock::new(),
            }
        }

        /// `supervisor` and then `labels`.
        fn labels(&self, labels: impl IntoIterator<Item = Label>) -> Vec<Label> {
            let mut all = vec![Label::new("supervisor", self.supervisor.clone())];
            all.extend(labels);
            all
        }

        fn keys(&self) -> &Keys {
            self.keys.get_or_init(|| {
                let table = |name: &'static str| {
                    crate::kind::ALL_POOLS.map(|pool| {
                        Priority::ALL.map(|p| {
                            let labels = self.labels([
                                Label::from_static_parts("pool", pool.as_str()),
                                Label::from_static_parts("priority", p.as_str()),
                            ]);
                            Key::from_parts(name, labels)
                        })
                    })
                };
                Keys {
                    queue_wait: table("atasker_queue_wait_seconds"),
                    running: table("atasker_tasks_running"),
                    queued: table("atasker_tasks_queued"),
                    processes_started: Key::from_parts(
                        "atasker_worker_processes_started_total",
                        self.labels([]),
                    ),
                    processes_replaced: Key::from_parts(
                        "atasker_worker_processes_replaced_total",
                        self.labels([]),
                    ),
                }
            })
        }

        fn task_keys<'a>(
            &self,
            keys: &'a NameKeys,
            pool: PoolKind,
            p: Priority,
            task: &'static str,
        ) -> &'a TaskKeys {
            keys[pool.index()][p.index()].get_or_init(|| {
                let labels = |more: &[(&'static str, &'static str)]| {
                    let mut labels = self.labels([
                        Label::from_static_parts("pool", pool.as_str()),
                        Label::from_static_parts("priority", p.as_str()),
                    ]);
                    labels.extend(more.iter().map(|&(k, v)| Label::from_static_parts(k, v)));
                    labels.push(Label::from_static_parts("task", task));
                    labels
                };
                TaskKeys {
                    submitted: Key::from_parts("atasker_tasks_submitted_total", labels(&[])),
                    ended: OUTCOMES
                        .map(|o| Key::from_parts("atasker_tasks_total", labels(&[("outcome", o)]))),
                    retried: Key::from_parts("atasker_tasks_retried_total", labels(&[])),
                    duration: Key::from_parts("atasker_task_duration_seconds", labels(&[])),
                }
            })
        }

        /// Counts a task of `task`'s name as submitted, or (`retried`) one of its runs as
        /// followed by another.
        pub(crate) fn task_counted(
            &self,
            keys: &NameKeys,
            (pool, p): (PoolKind, Priority),
            task: &'static str,
            retried: bool,
        ) {
            let k = self.task_keys(keys, pool, p, task);
            let key = if retried { &k.retried } else { &k.submitted };
            with_recorder(|r| r.register_counter(key, &META)).increment(1);
        }

        pub(crate) fn task_started(&self, pool: PoolKind, p: Priority, waited: Duration) {
            let key = &self.keys().queue_wait[pool.index()][p.index()];
            with_recorder(|r| r.register_histogram(key, &META)).record(waited.as_secs_f64());
        }

        pub(crate) fn task_finished(
            &self,
            keys: &NameKeys,
            (pool, p): (PoolKind, Priority),
            task: &'static str,
            outcome: &'static str,
            ran: Option<Duration>,
        ) {
            let k = self.task_keys(keys, pool, p, task);
            let i = OUTCOMES.iter().position(|&o| o == outcome).unwrap_or(1);
            with_recorder(|r| r.register_counter(&k.ended[i], &META)).increment(1);
            if let Some(ran) = ran {
                with_recorder(|r| r.register_histogram(&k.duration, &META))
                    .record(ran.as_secs_f64());
            }
        }

        pub(crate) fn load(&self, pool: PoolKind, p: Priority, running: u64, queued: u64) {
            let k = self.keys();
            let (i, j) = (pool.index(), p.index());
            with_recorder(|r| r.register_gauge(&k.running[i][j], &META)).set(running as f64);
            with_recorder(|r| r.register_gauge(&k.queued[i][j], &META)).set(queued as f64);
        }

        pub(crate) fn worker_run(
            &self,
            keys: &WorkerKeys,
            worker: &str,
            failed: bool,
            took: Duration,
        ) {
            let k = keys.get_or_init(|| {
                let labels = |more: Option<&'static str>| {
                    let worker = Label::new("worker", worker.to_owned());
                    let outcome = more.map(|o| Label::from_static_parts("outcome", o));
                    self.labels(std::iter::once(worker).chain(outcome))
                };
                WorkerKeysOf {
                    ok: Key::from_parts("atasker_worker_runs_total", labels(Some("ok"))),
                    error: Key::from_parts("atasker_worker_runs_total", labels(Some("error"))),
                    duration: Key::from_parts("atasker_worker_run_duration_seconds", labels(None)),
                }
            });
            let runs = if failed { &k.error } else { &k.ok };
            with_recorder(|r| r.register_counter(runs, &META)).increment(1);
            with_recorder(|r| r.register_histogram(&k.duration, &META)).record(took.as_secs_f64());
        }

        pub(crate) fn process_started(&self) {
            let key = &self.keys().processes_started;
            with_recorder(|r| r.register_counter(key, &META)).increment(1);
        }

        pub(crate) fn process_replaced(&self) {
            let key = &self.keys().processes_replaced;
            with_recorder(|r| r.register_counter(key, &META)).increment(1);
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod imp {
    use crate::kind::PoolKind;
    use crate::priority::Priority;
    use std::time::Duration;

    pub(crate) const ENABLED: bool = false;

    /// Nothing to keep without the feature.
    pub(crate) type NameKeys = ();
    /// Nothing to keep without the feature.
    pub(crate) type WorkerKeys = ();

    /// Nothing to keep without the feature.
    pub(crate) struct Scope;

    /// Nothing to hold without the feature.
    pub(crate) struct NameClaim;

    /// Nothing to claim without the feature (no series to share).
    pub(crate) fn claim_name(_: &str) -> NameClaim {
        NameClaim
    }

    impl Scope {
        pub(crate) fn new(_: &str) -> Self {
            Scope
        }
        pub(crate) fn task_counted(&self, _: &NameKeys, _: (PoolKind, Priority), _: &str, _: bool) {
        }
        pub(crate) fn task_started(&self, _: PoolKind, _: Priority, _: Duration) {}
        pub(crate) fn task_finished(
            &self,
            _: &NameKeys,
            _: (PoolKind, Priority),
            _: &str,
            _: &str,
            _: Option<Duration>,
        ) {
        }
        pub(crate) fn load(&self, _: PoolKind, _: Priority, _: u64, _: u64) {}
        pub(crate) fn worker_run(&self, _: &WorkerKeys, _: &str, _: bool, _: Duration) {}
        pub(crate) fn process_started(&self) {}
        pub(crate) fn process_replaced(&self) {}
    }
}

pub(crate) use imp::*;
