//! Zero set-up nodes: any executable linking atasker, started with `ATASKER_NODE=redis://…`
//! in its environment, becomes a cluster node before `main` runs and never runs `main`.
//!
//! A plain `#[used]` `.init_array` function (as for worker processes, see
//! `process_pool/child_main.rs`) runs before `main`; in a normal process it costs one
//! `getenv`. In a node it:
//!
//! 1. reads and removes `ATASKER_NODE`, `ATASKER_NODE_PROCESSES` (default: cores),
//!    `ATASKER_NODE_NAMESPACE` (default `atasker`), `ATASKER_NODE_TIMEOUT` (seconds,
//!    default 30), `ATASKER_NODE_MAX_PAYLOAD` (bytes, default 16 MiB), `ATASKER_NODE_TLS_CA`,
//!    `ATASKER_NODE_TLS_CERT` and `ATASKER_NODE_TLS_KEY` (PEM files, for `rediss://`;
//!    feature `cluster-tls`) and `ATASKER_NODE_LOG`
//!    (the level of the events it logs to stderr: `error`, `warn`, `info` — the default —,
//!    `debug`, `trace`), so that the tasks' own child processes are normal processes;
//! 2. blocks SIGTERM and SIGINT before any thread starts (every thread inherits the mask);
//! 3. builds a supervisor named `node` with that process pool and cluster, and serves;
//! 4. waits for SIGTERM or SIGINT with `sigwait`, then stops the supervisor: no new task is
//!    taken, running tasks finish and are answered; then exits 0.
//!
//! Bad settings print one line to stderr and exit 2.

/// The variable that makes a process a node.
pub(crate) const NODE: &str = "ATASKER_NODE";

#[cfg(target_os = "linux")]
mod imp {
    use super::NODE;
    use crate::supervisor::{Supervisor, SupervisorBuilder};
    use libc::{c_char, c_int};
    use std::time::Duration;

    crate::init::before_main!(NODE_ENTRY = node_entry);

    extern "C" fn node_entry(_: c_int, _: *const *const c_char, _: *const *const c_char) {
        // A worker process of a node inherits its environment: it is a child, not a node.
        if std::env::var_os(crate::process_pool::child_main::MARKER).is_some() {
            return;
        }
        let Some(url) = std::env::var_os(NODE).filter(|u| !u.is_empty()) else {
            return;
        };
        // std's `main` set-up, which ignores SIGPIPE and reopens closed standard fds on
        // /dev/null, never runs here: a closed stderr (a log collector gone) must not kill
        // the node (see `say`), nor may a socket of ours take fd 2 and get its log lines.
        // SAFETY: setting a signal's disposition to SIG_IGN before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        reopen_closed_std_fds();
        let code = run(url.to_string_lossy().into_owned());
        std::process::exit(code);
    }

    /// Opens `/dev/null` on each of fds 0, 1 and 2 that is closed, as std's `main` set-up
    /// does, so that no file or socket the node opens later is given one of them.
    fn reopen_closed_std_fds() {
        for fd in 0..3 {
            // SAFETY: F_GETFD on a small fd number only reads its flags.
            let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1;
            if closed {
                // SAFETY: a plain open(2) of a constant path; it takes the lowest free fd,
                // which is `fd` (the lower ones are open).
                unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            }
        }
    }

    /// Writes one line to stderr; a closed stderr is no error (the node goes on).
    fn say(line: std::fmt::Arguments<'_>) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{line}");
    }

    fn fail(what: impl std::fmt::Display) -> i32 {
        say(format_args!("atasker node: {what}"));
        2
    }

    fn run(url: String) -> i32 {
        // Before main and before any thread of ours: nothing reads the environment
        // concurrently.
        let take = |name: &str| {
            let v = std::env::var(name).ok();
            std::env::remove_var(name);
            v
        };
        std::env::remove_var(NODE);
        log_to_stderr(take("ATASKER_NODE_LOG").as_deref());
        let b = match from_env(&url, take) {
            Ok(b) => b,
            Err(e) => return fail(e),
        };
        let set = block_signals();
        let sup = match b.build() {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        if let Err(e) = sup.serve_cluster() {
            return fail(e);
        }
        let shown = (sup.inner.cluster_settings())
            .map(|s| s.shown.clone())
            .unwrap_or_default();
        let name = sup.stats().node.map(|n| n.name).unwrap_or_default();
        say(format_args!("atasker node {name}: serving {shown}"));
        let mut sig: c_int = 0;
        // SAFETY: `set` is a valid signal set; `sig` receives the signal number.
        while unsafe { libc::sigwait(&set, &mut sig) } != 0 {}
        say(format_args!(
            "atasker node {name}: signal {sig}, finishing the running tasks"
        ));
        sup.stop();
        say(format_args!("atasker node {name}: stopped"));
        0
    }

    /// Logs atasker's events at `level` (`ATASKER_NODE_LOG`: error, warn, info — the
    /// default —, debug or trace) to stderr, one line each; a closed stderr is no error.
    fn log_to_stderr(level: Option<&str>) {
        let level = level
            .and_then(|l| l.parse::<tracing::Level>().ok())
            .unwrap_or(tracing::Level::INFO);
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(level)
            .with_ansi(false)
            .log_internal_errors(false)
            .try_init();
    }

    /// The node's supervisor as the environment asks (`take` reads and removes a variable),
    /// or the line that says which variable is wrong.
    fn from_env(
        url: &str,
        take: impl Fn(&str) -> Option<String>,
    ) -> Result<SupervisorBuilder, String> {
        let processes = take("ATASKER_NODE_PROCESSES");
        let namespace = take("ATASKER_NODE_NAMESPACE");
        let timeout = take("ATASKER_NODE_TIMEOUT");
        let max_payload = take("ATASKER_NODE_MAX_PAYLOAD");
        let mut b = Supervisor::builder().name("node").cluster(url);
        if let Some(n) = count("ATASKER_NODE_PROCESSES", processes)? {
            b = b.process_pool(n);
        }
        if let Some(ns) = namespace {
            if ns.is_empty() || ns.contains(|c: char| c.is_whitespace() || c == ':') {
                return Err(format!(
                    "ATASKER_NODE_NAMESPACE={ns} must be non-empty, without spaces or `:`"
                ));
            }
            b = b.cluster_namespace(&ns);
        }
        if let Some(t) = timeout {
            let secs = t.parse::<f64>().ok();
            match secs.and_then(|s| Duration::try_from_secs_f64(s).ok()) {
                Some(d) if d >= Duration::from_millis(300) => b = b.node_timeout(d),
                _ => {
                    return Err(format!(
                        "ATASKER_NODE_TIMEOUT={t} is not a number of seconds of 0.3 or more"
                    ))
                }
            }
        }
        if let Some(n) = count("ATASKER_NODE_MAX_PAYLOAD", max_payload)? {
            b = b.cluster_max_payload(n);
        }
        tls_from_env(b, take)
    }

    /// The TLS certificates the files `ATASKER_NODE_TLS_CA`, `ATASKER_NODE_TLS_CERT` and
    /// `ATASKER_NODE_TLS_KEY` hold (PEM), or the line that says which cannot be read.
    fn tls_from_env(
        b: SupervisorBuilder,
        take: impl Fn(&str) -> Option<String>,
    ) -> Result<SupervisorBuilder, String> {
        let read = |name: &str| -> Result<Option<Vec<u8>>, String> {
            take(name)
                .map(|path| {
                    std::fs::read(&path).map_err(|e| format!("{name}={path}: cannot read it: {e}"))
                })
                .transpose()
        };
        let (ca, cert, key) = (
            read("ATASKER_NODE_TLS_CA")?,
            read("ATASKER_NODE_TLS_CERT")?,
            read("ATASKER_NODE_TLS_KEY")?,
        );
        let client = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("ATASKER_NODE_TLS_CERT and ATASKER_NODE_TLS_KEY go together".into()),
        };
        if ca.is_none() && client.is_none() {
            return Ok(b);
        }
        with_tls(b, ca, client)
    }

    #[cfg(feature = "cluster-tls")]
    fn with_tls(
        mut b: SupervisorBuilder,
        ca: Option<Vec<u8>>,
        client: Option<(Vec<u8>, Vec<u8>)>,
    ) -> Result<SupervisorBuilder, String> {
        if let Some(ca) = ca {
            b = b.cluster_tls_ca(ca);
        }
        if let Some((cert, key)) = client {
            b = b.cluster_tls_client(cert, key);
        }
        Ok(b)
    }

    #[cfg(not(feature = "cluster-tls"))]
    fn with_tls(
        _: SupervisorBuilder,
        _: Option<Vec<u8>>,
        _: Option<(Vec<u8>, Vec<u8>)>,
    ) -> Result<SupervisorBuilder, String> {
        Err("ATASKER_NODE_TLS_* need atasker's `cluster-tls` feature".to_owned())
    }

    /// The count of 1 or more the variable `name` holds (`None`: not set), or the line that
    /// says it is not one.
    fn count(name: &str, value: Option<String>) -> Result<Option<usize>, String> {
        match value.map(|v| (v.parse::<usize>(), v)) {
            None => Ok(None),
            Some((Ok(n), _)) if n > 0 => Ok(Some(n)),
            Some((_, v)) => Err(format!("{name}={v} is not a count of 1 or more")),
        }
    }

    /// Blocks SIGTERM and SIGINT in this thread (and the threads it starts), to be waited
    /// for with `sigwait`; returns the set.
    fn block_signals() -> libc::sigset_t {
        // SAFETY: plain signal-mask calls on a set made by sigemptyset/sigaddset.
        unsafe {
            let mut set = std::mem::zeroed::<libc::sigset_t>();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            set
        }
    }
}
