//! Starting a child on Linux: the one spawner thread every child is started from, and the
//! environment, pipes and shared memory each is given.

use super::posix::posix_spawn;
use super::{Child, Pid};
use crate::process_pool::child_main::MARKER;
use crate::process_pool::claims::{self, Claims};
use crate::process_pool::protocol::PROTOCOL_VERSION;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::mpsc;
use std::sync::Arc;
use std::sync::{Mutex, OnceLock};

/// What the spawner thread answers: the child's pid, the parent's ends of its pipes
/// (requests, replies) and the claims it shares.
type Reply = Result<(Pid, OwnedFd, OwnedFd, Claims), String>;

/// The spawner thread's queue.
static SPAWNER: OnceLock<Result<mpsc::Sender<mpsc::SyncSender<Reply>>, String>> = OnceLock::new();

/// A program to start instead of `/proc/self/exe` (tests).
static PROGRAM: Mutex<Option<OsString>> = Mutex::new(None);

/// Overrides the program children are started from (tests).
pub(super) fn set_program(path: Option<&std::path::Path>) {
    *crate::sync::lock(&PROGRAM) = path.map(|p| p.as_os_str().to_owned());
}

/// Starts a child on the spawner thread (starting that thread the first time).
pub(super) fn spawn() -> Result<Child, String> {
    let spawner = SPAWNER
        .get_or_init(start_spawner)
        .as_ref()
        .map_err(Clone::clone)?;
    let (tx, rx) = mpsc::sync_channel(1);
    let gone = || "the atasker spawner thread is gone".to_owned();
    spawner.send(tx).map_err(|_| gone())?;
    let (pid, requests, replies, claims) = rx.recv().map_err(|_| gone())??;
    // SAFETY: F_GETPIPE_SZ reads a property of an open fd we own.
    let capacity = unsafe { libc::fcntl(requests.as_raw_fd(), libc::F_GETPIPE_SZ) };
    // A pipe of unknown capacity is taken as the smallest Linux makes (one page).
    let capacity = usize::try_from(capacity).unwrap_or(4096).max(4096);
    Ok(Child {
        pid,
        requests: File::from(requests),
        replies: BufReader::with_capacity(64 << 10, File::from(replies)),
        claims: Arc::new(claims),
        ahead_bytes: (capacity / 2).min(crate::process_pool::AHEAD_BYTES),
    })
}

/// Starts the spawner thread; its queue takes the reply channel of each spawn.
fn start_spawner() -> Result<mpsc::Sender<mpsc::SyncSender<Reply>>, String> {
    let (tx, rx) = mpsc::channel::<mpsc::SyncSender<Reply>>();
    std::thread::Builder::new()
        .name("atasker-spawner".into())
        .spawn(move || {
            // Never returns: the sender lives in a static. Children's PDEATHSIG is tied to
            // this thread.
            let setup = Setup::new();
            for reply in rx {
                let _ = reply.send(setup.as_ref().map_err(Clone::clone).and_then(spawn_here));
            }
        })
        .map_err(|e| format!("cannot start the atasker spawner thread: {e}"))?;
    Ok(tx)
}

/// What every spawn needs, computed once.
struct Setup {
    argv0: CString,
    /// The child's process name (`PR_SET_NAME`): the parent's.
    name: String,
}

impl Setup {
    /// Reads the executable's path and the process name; refuses a program started
    /// through the loader.
    fn new() -> Result<Setup, String> {
        let exe = std::fs::read_link("/proc/self/exe")
            .map_err(|e| format!("cannot read /proc/self/exe: {e}"))?;
        if let Some(file) = exe.file_name().and_then(OsStr::to_str) {
            if file.starts_with("ld-linux") || file.starts_with("ld-musl") || file == "ld.so" {
                return Err(format!(
                    "the program was started through the loader {}; process tasks need \
                     the executable started directly",
                    exe.display()
                ));
            }
        }
        let path = std::env::current_exe().unwrap_or(exe);
        let argv0 = CString::new(path.into_os_string().into_vec())
            .map_err(|_| "the executable's path contains a NUL byte".to_owned())?;
        let name = std::fs::read_to_string("/proc/self/comm")
            .map(|s| s.trim_end().to_owned())
            .unwrap_or_else(|_| "atasker".to_owned());
        Ok(Setup { argv0, name })
    }
}

/// A C string of `bytes`, for the child's environment.
fn cstring(bytes: Vec<u8>) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| "a NUL byte in the child's environment".to_owned())
}

/// Starts a child, on the spawner thread.
fn spawn_here(setup: &Setup) -> Reply {
    if std::env::var_os(MARKER).is_some() {
        return Err(format!(
            "refusing to start a child from a process that still has {MARKER} set: this \
             process is a child that was not recognised before main"
        ));
    }
    let program = match &*crate::sync::lock(&PROGRAM) {
        Some(p) => cstring(p.clone().into_vec())?,
        None => c"/proc/self/exe".to_owned(),
    };
    // The parent's environment as it is now, plus the marker.
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        if k == MARKER {
            continue;
        }
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        env.push(cstring(kv)?);
    }
    let marker = format!(
        "{MARKER}={}:{PROTOCOL_VERSION}:{}",
        std::process::id(),
        setup.name
    );
    env.push(cstring(marker.into_bytes())?);

    let (req_read, req_write) = pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    let (rep_read, rep_write) = pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    // Lift the child's ends above every target fd, so that no dup2 clobbers another
    // source and none is a no-op that would keep O_CLOEXEC.
    let child_in = lift(req_read).map_err(|e| format!("cannot duplicate a pipe: {e}"))?;
    let child_out = lift(rep_write).map_err(|e| format!("cannot duplicate a pipe: {e}"))?;
    let (shared, claims) =
        claims::imp::create().map_err(|e| format!("cannot create shared memory: {e}"))?;
    let shared = lift(shared).map_err(|e| format!("cannot duplicate a memfd: {e}"))?;
    // SAFETY: every pointer passed lives until the call returns; the fds are open.
    let pid = unsafe {
        posix_spawn(
            &program,
            &setup.argv0,
            &env,
            [
                child_in.as_raw_fd(),
                child_out.as_raw_fd(),
                shared.as_raw_fd(),
            ],
        )
    }
    .map_err(|e| format!("cannot start {}: {e}", program.to_string_lossy()))?;
    // The child's ends close here, so that the parent sees EOF when the child dies.
    drop((child_in, child_out, shared));
    Ok((pid, req_write, rep_read, claims))
}

/// A pipe with O_CLOEXEC on both ends: `(read, write)`.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A copy of `fd` numbered 10 or above, O_CLOEXEC.
fn lift(fd: OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: `fd` is open; F_DUPFD_CLOEXEC returns a new fd that we own.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}
