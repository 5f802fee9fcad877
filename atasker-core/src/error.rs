//! Error types, one per family of operations.

use std::fmt;

/// Why a task did not produce its value.
///
/// ```
/// use atasker::TaskError;
/// let e = TaskError::Panicked { message: "boom".into() };
/// assert_eq!(e.to_string(), "task panicked: boom");
///
/// let t = atasker::spawn(|| -> u32 { panic!("boom") });
/// assert_eq!(t.wait(), Err(e));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; `message` is the panic payload when it was a string.
    #[error("task panicked: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },
    /// The task was cancelled (by [`Task::cancel`](crate::Task::cancel) or a supervisor stop
    /// deadline) before it completed.
    #[error("task cancelled")]
    Cancelled,
    /// The task ran past its deadline, or [`wait_completed`](crate::wait_completed) ran out of time.
    #[error("task timed out")]
    TimedOut,
    /// The worker process running the task exited.
    #[error("worker process exited ({})", ExitStatus { code: *code, signal: *signal })]
    ProcessExited {
        /// The exit code, if the process exited normally.
        code: Option<i32>,
        /// The signal that killed the process, if any.
        signal: Option<i32>,
    },
    /// Arguments or results could not be encoded or decoded across the process boundary,
    /// for example a static task's arguments or result larger than the 64 MiB a frame may
    /// hold (the text says so).
    #[error("codec error: {0}")]
    Codec(String),
    /// The supervisor was stopped; it accepts no new work.
    #[error("supervisor stopped")]
    SupervisorStopped,
    /// The pool could not run the task (for example, no thread or process could be started,
    /// or a static task on a platform other than Linux, where there is no process pool yet).
    #[error("task could not run: {0}")]
    Unavailable(String),
    /// The task's result was already taken by an earlier `wait_timeout` or `.await`.
    #[error("task result already taken")]
    Consumed,
    /// A remote task failed in the cluster rather than in its code: it was delivered more
    /// than `max_deliveries` times (each node that took it stopped), Redis refused it (out
    /// of memory) or no longer knows it, or the node could not run it (an unknown task
    /// name, a malformed entry). The text says which; it never contains credentials.
    #[error("cluster error: {0}")]
    Cluster(String),
}

impl TaskError {
    /// Whether a run that failed with this error is run again when its task has retries
    /// left (`retries = N`): a panic, a deadline, a lost worker process; never a cancel, a
    /// stop or a refusal.
    pub(crate) fn is_retried(&self) -> bool {
        matches!(
            self,
            TaskError::Panicked { .. } | TaskError::TimedOut | TaskError::ProcessExited { .. }
        )
    }
}

/// How a worker process ended: one wording, in logs and in [`TaskError::ProcessExited`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExitStatus {
    /// The exit code, if the process exited normally.
    pub(crate) code: Option<i32>,
    /// The signal that killed the process, if any.
    pub(crate) signal: Option<i32>,
}

impl ExitStatus {
    /// The error of the task the process was running.
    pub(crate) fn error(self) -> TaskError {
        TaskError::ProcessExited {
            code: self.code,
            signal: self.signal,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (_, Some(sig)) => write!(f, "killed by signal {sig}"),
            (Some(code), None) => write!(f, "exit code {code}"),
            (None, None) => f.write_str("exit status unknown"),
        }
    }
}

/// Why a [`Supervisor`](crate::Supervisor) could not be built.
///
/// ```
/// use atasker::{BuildError, Supervisor};
/// let err = Supervisor::builder().thread_pool(0).build().unwrap_err();
/// assert!(matches!(err, BuildError::InvalidConfig(_)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `build_global()` was called after the global supervisor already existed.
    #[error("the global supervisor already exists")]
    GlobalExists,
    /// A setting is out of range; the text says which.
    #[error("invalid supervisor configuration: {0}")]
    InvalidConfig(&'static str),
    /// A cron expression or a time zone that does not parse; the text says which and why.
    #[error("invalid cron schedule: {0}")]
    Cron(String),
    /// The cluster's URL does not parse, or names a scheme this build cannot use (`rediss://`
    /// needs the `cluster-tls` feature); the text says why, without credentials.
    #[error("invalid cluster URL: {0}")]
    ClusterUrl(String),
    /// The tokio runtime for coroutines could not be created.
    #[error("cannot create the coroutine runtime")]
    Runtime(#[source] std::io::Error),
}

/// Why [`Supervisor::serve_cluster`](crate::Supervisor::serve_cluster) could not make this
/// process a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The supervisor was built without
    /// [`SupervisorBuilder::cluster`](crate::SupervisorBuilder::cluster).
    #[error("no cluster is configured: build the supervisor with `.cluster(\"redis://…\")`")]
    NotConfigured,
    /// `serve_cluster` was called before on this supervisor.
    #[error("this supervisor already serves the cluster")]
    AlreadyServing,
    /// The Redis server is older than 7.0 (before it, `XAUTOCLAIM` left deleted entries
    /// pending for ever, redis/redis#10198); the text names its version.
    #[error(
        "the Redis server is too old for atasker's cluster: version {0}, 7.0 or later is needed"
    )]
    ServerTooOld(String),
    /// The supervisor is stopped, or its runtime could not start.
    #[error("the supervisor cannot serve: {0}")]
    Unavailable(String),
    /// Redis refuses this client: the credentials in the cluster URL, the Redis user's
    /// permissions (ACL), protected mode, or a missing command. The text names the kind and
    /// holds Redis's words, never a credential. Retrying does not help; fix the configuration.
    #[error("{0}")]
    Refused(String),
    /// The first heartbeat could not be written within the node timeout (held between 5 s
    /// and 30 s):
    /// Redis is down or out of reach. The text says where and why.
    #[error("cannot reach {0}")]
    Unreachable(String),
}
