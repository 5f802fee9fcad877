//! Zero set-up nodes: any executable linking atasker, started with `ATASKER_NODE=redis://…`
//! in its environment, becomes a cluster node before `main` runs and never runs `main`.
//!
//! A plain `#[used]` `.init_array` function (as for worker processes, see
//! `process_pool/child_main.rs`) runs before `main`; in a normal process it costs one
//! `getenv`. In a node it:
//!
//! 1. reads and removes `ATASKER_NODE`, `ATASKER_NODE_PROCESSES` (default: cores),
//!    `ATASKER_NODE_NAMESPACE` (default `atasker`) and `ATASKER_NODE_TIMEOUT` (seconds,
//!    default 30), so that the tasks' own child processes are normal processes;
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
        let code = run(url.to_string_lossy().into_owned());
        std::process::exit(code);
    }

    #[allow(clippy::print_stderr)]
    fn fail(what: impl std::fmt::Display) -> i32 {
        eprintln!("atasker node: {what}");
        2
    }

    #[allow(clippy::print_stderr)]
    fn run(url: String) -> i32 {
        // Before main and before any thread of ours: nothing reads the environment
        // concurrently.
        let take = |name: &str| {
            let v = std::env::var(name).ok();
            std::env::remove_var(name);
            v
        };
        std::env::remove_var(NODE);
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
        eprintln!("atasker node {name}: serving {shown}");
        let mut sig: c_int = 0;
        // SAFETY: `set` is a valid signal set; `sig` receives the signal number.
        while unsafe { libc::sigwait(&set, &mut sig) } != 0 {}
        eprintln!("atasker node {name}: signal {sig}, finishing the running tasks");
        sup.stop();
        eprintln!("atasker node {name}: stopped");
        0
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
        let mut b = Supervisor::builder().name("node").cluster(url);
        if let Some(n) = processes {
            match n.parse::<usize>() {
                Ok(n) if n > 0 => b = b.process_pool(n),
                _ => {
                    return Err(format!(
                        "ATASKER_NODE_PROCESSES={n} is not a count of 1 or more"
                    ))
                }
            }
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
        Ok(b)
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
