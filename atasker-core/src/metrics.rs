//! Metrics through the [`metrics`](https://docs.rs/metrics) crate facade, with the `metrics`
//! cargo feature (without it every call here compiles to nothing).
//!
//! Each event records through the facade's macros as it happens — no handle is cached when a
//! supervisor is built — so a recorder installed later (after the global supervisor exists)
//! still sees every later event. Labels are bounded: pool, priority, outcome, and the task's
//! and worker's names (both come from code); never an id.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `atasker_tasks_submitted_total` | counter | `pool`, `priority`, `task` |
//! | `atasker_tasks_total` | counter | `pool`, `priority`, `outcome`, `task` |
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
    use crate::priority::Priority;
    use crate::task::PoolKind;
    use metrics::{counter, gauge, histogram};
    use std::time::Duration;

    /// Whether metrics are recorded (the `metrics` feature).
    pub(crate) const ENABLED: bool = true;

    pub(crate) fn task_submitted(pool: PoolKind, p: Priority, task: &'static str) {
        counter!("atasker_tasks_submitted_total", "pool" => pool.as_str(), "priority" => p.as_str(), "task" => task)
            .increment(1);
    }

    pub(crate) fn task_started(pool: PoolKind, p: Priority, waited: Duration) {
        histogram!("atasker_queue_wait_seconds", "pool" => pool.as_str(), "priority" => p.as_str())
            .record(waited.as_secs_f64());
    }

    pub(crate) fn task_finished(
        pool: PoolKind,
        p: Priority,
        task: &'static str,
        outcome: &'static str,
        ran: Option<Duration>,
    ) {
        counter!("atasker_tasks_total", "pool" => pool.as_str(), "priority" => p.as_str(), "outcome" => outcome, "task" => task)
            .increment(1);
        if let Some(ran) = ran {
            histogram!("atasker_task_duration_seconds", "pool" => pool.as_str(), "priority" => p.as_str(), "task" => task)
                .record(ran.as_secs_f64());
        }
    }

    pub(crate) fn load(pool: PoolKind, p: Priority, running: u64, queued: u64) {
        let labels = [("pool", pool.as_str()), ("priority", p.as_str())];
        gauge!("atasker_tasks_running", &labels).set(running as f64);
        gauge!("atasker_tasks_queued", &labels).set(queued as f64);
    }

    pub(crate) fn worker_run(worker: &str, failed: bool, took: Duration) {
        let outcome = if failed { "error" } else { "ok" };
        counter!("atasker_worker_runs_total", "worker" => worker.to_owned(), "outcome" => outcome)
            .increment(1);
        histogram!("atasker_worker_run_duration_seconds", "worker" => worker.to_owned())
            .record(took.as_secs_f64());
    }

    pub(crate) fn process_started() {
        counter!("atasker_worker_processes_started_total").increment(1);
    }

    pub(crate) fn process_replaced() {
        counter!("atasker_worker_processes_replaced_total").increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
mod imp {
    use crate::priority::Priority;
    use crate::task::PoolKind;
    use std::time::Duration;

    pub(crate) const ENABLED: bool = false;

    pub(crate) fn task_submitted(_: PoolKind, _: Priority, _: &'static str) {}
    pub(crate) fn task_started(_: PoolKind, _: Priority, _: Duration) {}
    pub(crate) fn task_finished(
        _: PoolKind,
        _: Priority,
        _: &'static str,
        _: &'static str,
        _: Option<Duration>,
    ) {
    }
    pub(crate) fn load(_: PoolKind, _: Priority, _: u64, _: u64) {}
    pub(crate) fn worker_run(_: &str, _: bool, _: Duration) {}
    pub(crate) fn process_started() {}
    pub(crate) fn process_replaced() {}
}

pub(crate) use imp::*;
