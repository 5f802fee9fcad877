//! Watching a child on Linux: waiting for its replies and for its exit, killing it, and the
//! `SIGPIPE` of a write to a dead child.

use super::{Exit, Pid};
use std::fs::File;
use std::io::{self, BufReader};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Whether `file` has data (or EOF) within `timeout`.
pub(super) fn readable(file: &BufReader<File>, timeout: Duration) -> io::Result<bool> {
    if !file.buffer().is_empty() {
        return Ok(true);
    }
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        let mut pfd = libc::pollfd {
            fd: file.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            n if n > 0 => return Ok(true),
            0 => return Ok(false),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Kills the child (SIGKILL).
pub(super) fn kill(pid: Pid) {
    // SAFETY: plain syscall; the caller guarantees the pid is our unreaped child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// How a child ended, from its wait status.
fn decode(status: libc::c_int) -> Exit {
    if libc::WIFEXITED(status) {
        Exit {
            code: Some(libc::WEXITSTATUS(status)),
            signal: None,
        }
    } else if libc::WIFSIGNALED(status) {
        Exit {
            code: None,
            signal: Some(libc::WTERMSIG(status)),
        }
    } else {
        Exit::default()
    }
}

/// `Some(exit)` once the child has ended (and is reaped); `None` while it runs.
fn try_wait(pid: Pid, block: bool) -> Option<Exit> {
    loop {
        let mut status = 0;
        let flags = if block { 0 } else { libc::WNOHANG };
        // SAFETY: plain syscall with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, flags) };
        if r == pid {
            return Some(decode(status));
        }
        if r == 0 {
            return None;
        }
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            // ECHILD: someone else reaped it.
            return Some(Exit::default());
        }
    }
}

/// Waits for the child to exit until `deadline`, then kills it; reaps it either way.
pub(super) fn wait_or_kill(pid: Pid, deadline: Instant) -> Exit {
    let mut nap = Duration::from_micros(50);
    loop {
        if let Some(exit) = try_wait(pid, false) {
            return exit;
        }
        let now = Instant::now();
        if now >= deadline {
            kill(pid);
            return try_wait(pid, true).unwrap_or_default();
        }
        std::thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(Duration::from_millis(10));
    }
}

/// The signal set of SIGPIPE alone.
fn sigpipe_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        set
    }
}

/// Blocks SIGPIPE on the calling thread.
pub(super) fn block_sigpipe() {
    let set = sigpipe_set();
    // SAFETY: changes only the calling thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// Consumes a SIGPIPE left pending on this thread by a write to a dead child.
pub(super) fn drain_sigpipe() {
    let set = sigpipe_set();
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid set and timeout; returns at once.
    unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) };
}
