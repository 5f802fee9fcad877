//! Starting, watching and ending children.
//!
//! Every child is started by one long-lived `atasker-spawner` thread, whichever thread asks:
//! the child's `PR_SET_PDEATHSIG` follows the thread that started it, so a child started from
//! a short-lived thread (a test's thread, say) would be killed when that thread ends.
//!
//! A child is `/proc/self/exe` (the same inode even if the file was deleted or rebuilt) with
//! `argv[0]` set to the executable's path, started by `posix_spawn` (constant cost, whatever
//! the parent's size: no fork of the page tables) with `/dev/null` as fd 0, the request pipe
//! on fd 3, the reply pipe on fd 4, the shared claims on fd 5 (see `claims.rs`), every
//! other fd closed, an empty signal mask, and the marker variable that makes it a child (see
//! `child_main.rs`).
//!
//! On Linux, `spawn.rs` starts children (the spawner thread, their environment and pipes),
//! `posix.rs` makes the `posix_spawn` call, and `wait.rs` waits for them and signals them.

use super::claims::Claims;
#[cfg(target_os = "linux")]
mod posix;
#[cfg(target_os = "linux")]
mod spawn;
#[cfg(target_os = "linux")]
mod wait;

use super::protocol::{self, FrameError, Hello};
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a new child may take to say hello.
const HANDSHAKE: Duration = Duration::from_secs(20);

/// A process id.
pub(crate) type Pid = i32;

/// How a child ended.
pub(crate) use crate::error::ExitStatus as Exit;

/// Why a child could not be started.
#[derive(Debug)]
pub(crate) struct StartError {
    pub(crate) message: String,
    /// The child was killed by a signal before its handshake: starting another may work.
    pub(crate) transient: bool,
}

impl StartError {
    fn fatal(message: String) -> Self {
        StartError {
            message,
            transient: false,
        }
    }
}

/// A running child and the parent's ends of its pipes.
pub(crate) struct Child {
    pub(crate) pid: Pid,
    requests: File,
    replies: BufReader<File>,
    /// The claims of the requests sent to it, shared with it.
    pub(crate) claims: Arc<Claims>,
    /// The most bytes of requests to leave unanswered in its pipe: half the pipe's capacity
    /// (at most the pool's bound), so that a write ahead never blocks.
    pub(crate) ahead_bytes: usize,
}

impl Child {
    /// Starts a child and waits for its hello, which must match `expect`.
    pub(crate) fn start(expect: Hello) -> Result<Child, StartError> {
        let mut child = imp::spawn().map_err(StartError::fatal)?;
        let mut body = Vec::new();
        let hello = match child.read_hello(&mut body) {
            Ok(h) => h,
            Err(e) => {
                let exit = child.reap_now();
                return Err(StartError {
                    message: format!("{e} ({exit})"),
                    // Killed from outside before it could greet: a fresh one may do.
                    transient: exit.signal.is_some(),
                });
            }
        };
        if hello != expect {
            let exit = child.reap_now();
            return Err(StartError::fatal(format!(
                "the child is a different build: it has protocol {} and {} static tasks \
                 (hash {:#x}), the parent protocol {} and {} (hash {:#x}) ({})",
                hello.version,
                hello.entries,
                hello.names_hash,
                expect.version,
                expect.entries,
                expect.names_hash,
                exit
            )));
        }
        Ok(child)
    }

    fn read_hello(&mut self, body: &mut Vec<u8>) -> Result<Hello, String> {
        if !imp::readable(&self.replies, HANDSHAKE)
            .map_err(|e| format!("cannot wait for the child: {e}"))?
        {
            return Err(format!("the child did not answer within {HANDSHAKE:?}"));
        }
        match protocol::read_frame(&mut self.replies, body) {
            Ok(true) => protocol::parse_hello(body).map_err(|e| format!("bad handshake: {e}")),
            Ok(false) => Err("the child exited before its handshake".to_owned()),
            Err(e) => Err(format!("bad handshake: {e}")),
        }
    }

    /// Writes whole frames, in one `write` where the pipe takes them. An error means the
    /// child is gone (which of its requests it took, its claims tell).
    pub(crate) fn send(&mut self, frames: &[u8]) -> io::Result<()> {
        let r = self.requests.write_all(frames);
        if matches!(&r, Err(e) if e.kind() == io::ErrorKind::BrokenPipe) {
            imp::drain_sigpipe();
        }
        r
    }

    /// Reads one reply body; `Ok(false)`: the child closed its end (it is gone).
    pub(crate) fn recv(&mut self, body: &mut Vec<u8>) -> Result<bool, FrameError> {
        protocol::read_frame(&mut self.replies, body)
    }

    /// Whether a whole reply frame has been read already (so [`recv`](Child::recv) returns
    /// it without waiting).
    pub(crate) fn reply_ready(&self) -> bool {
        protocol::whole_frame(self.replies.buffer())
    }

    /// Reaps a child that has ended or is ending: after EOF, waits a moment for the exit
    /// status, and kills it if it lingers. The caller must have made sure that nobody kills
    /// this pid any more.
    pub(crate) fn reap(self) -> Exit {
        let (pid, requests, replies) = self.into_pipes();
        drop((requests, replies));
        imp::wait_or_kill(pid, Instant::now() + Duration::from_secs(2))
    }

    /// The child's pid and its two pipes (its claims are let go).
    fn into_pipes(self) -> (Pid, File, BufReader<File>) {
        let Child {
            pid,
            requests,
            replies,
            claims: _,
            ahead_bytes: _,
        } = self;
        (pid, requests, replies)
    }

    /// Kills the child at once and reaps it.
    pub(crate) fn reap_now(self) -> Exit {
        imp::kill(self.pid);
        self.reap()
    }

    /// Ends an idle child politely: closes its request pipe, so that it exits 0, and kills it
    /// if it has not exited by `deadline`.
    pub(crate) fn close(self, deadline: Instant) -> Exit {
        let (pid, requests, replies) = self.into_pipes();
        drop(requests);
        let exit = imp::wait_or_kill(pid, deadline);
        drop(replies);
        exit
    }
}

/// Kills a child (SIGKILL); the caller makes sure it is not reaped yet.
pub(crate) fn kill(pid: Pid) {
    imp::kill(pid);
}

/// Prepares a thread that writes to children: a write to a dead child must return `EPIPE`,
/// never raise `SIGPIPE` (the application may have restored its default action).
pub(crate) fn block_sigpipe() {
    imp::block_sigpipe();
}

/// Overrides the program children are started from (tests).
pub(crate) fn set_program(path: Option<&std::path::Path>) {
    imp::set_program(path);
}

/// What the functions above call on Linux.
#[cfg(target_os = "linux")]
mod imp {
    pub(super) use super::spawn::{set_program, spawn};
    pub(super) use super::wait::{block_sigpipe, drain_sigpipe, kill, readable, wait_or_kill};
}

/// What the functions above call elsewhere: no child can be started.
#[cfg(not(target_os = "linux"))]
mod imp {
    use super::{Child, Exit, Pid};
    use std::fs::File;
    use std::io::{self, BufReader};
    use std::time::{Duration, Instant};

    pub(super) fn set_program(_: Option<&std::path::Path>) {}

    pub(super) fn spawn() -> Result<Child, String> {
        Err("the process pool is supported on Linux only".to_owned())
    }

    pub(super) fn readable(_: &BufReader<File>, _: Duration) -> io::Result<bool> {
        Ok(false)
    }

    pub(super) fn kill(_: Pid) {}

    pub(super) fn wait_or_kill(_: Pid, _: Instant) -> Exit {
        Exit::default()
    }

    pub(super) fn block_sigpipe() {}

    pub(super) fn drain_sigpipe() {}
}
