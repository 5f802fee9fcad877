//! Starting, watching and ending children.
//!
//! Every child is started by one long-lived `atasker-spawner` thread, whichever thread asks:
//! the child's `PR_SET_PDEATHSIG` follows the thread that started it, so a child started from
//! a short-lived thread (a test's thread, say) would be killed when that thread ends.
//!
//! A child is `/proc/self/exe` (the same inode even if the file was deleted or rebuilt) with
//! `argv[0]` set to the executable's path, started by `posix_spawn` (constant cost, whatever
//! the parent's size: no fork of the page tables) with `/dev/null` as fd 0, the request pipe
//! on fd 3, the reply pipe on fd 4, the shared slot states on fd 5 (see `slots.rs`), every
//! other fd closed, an empty signal mask, and the marker variable that makes it a child (see
//! `child_main.rs`).

use super::protocol::{self, FrameError, Hello};
use super::slots::Slots;
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
    /// The states of the requests sent to it, shared with it.
    pub(crate) slots: Arc<Slots>,
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
    /// child is gone (which of its requests it took, its slots tell).
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
        let Child {
            pid,
            requests,
            replies,
            slots: _,
            ahead_bytes: _,
        } = self;
        drop((requests, replies));
        imp::wait_or_kill(pid, Instant::now() + Duration::from_secs(2))
    }

    /// Kills the child at once and reaps it.
    pub(crate) fn reap_now(self) -> Exit {
        imp::kill(self.pid);
        self.reap()
    }

    /// Ends an idle child politely: closes its request pipe, so that it exits 0, and kills it
    /// if it has not exited by `deadline`.
    pub(crate) fn close(self, deadline: Instant) -> Exit {
        let Child {
            pid,
            requests,
            replies,
            slots: _,
            ahead_bytes: _,
        } = self;
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

#[cfg(target_os = "linux")]
mod imp {
    use super::{Child, Exit, Pid};
    use crate::process_pool::child_main::MARKER;
    use crate::process_pool::protocol::PROTOCOL_VERSION;
    use crate::process_pool::slots::{self, Slots};
    use std::ffi::{CString, OsStr, OsString};
    use std::fs::File;
    use std::io::{self, BufReader};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};

    type Reply = Result<(Pid, OwnedFd, OwnedFd, Slots), String>;

    /// The spawner thread's queue.
    static SPAWNER: OnceLock<Result<mpsc::Sender<mpsc::SyncSender<Reply>>, String>> =
        OnceLock::new();

    /// A program to start instead of `/proc/self/exe` (tests).
    static PROGRAM: Mutex<Option<OsString>> = Mutex::new(None);

    pub(super) fn set_program(path: Option<&std::path::Path>) {
        *crate::sync::lock(&PROGRAM) = path.map(|p| p.as_os_str().to_owned());
    }

    pub(super) fn spawn() -> Result<Child, String> {
        let spawner = SPAWNER
            .get_or_init(start_spawner)
            .as_ref()
            .map_err(Clone::clone)?;
        let (tx, rx) = mpsc::sync_channel(1);
        let gone = || "the atasker spawner thread is gone".to_owned();
        spawner.send(tx).map_err(|_| gone())?;
        let (pid, requests, replies, slots) = rx.recv().map_err(|_| gone())??;
        // SAFETY: F_GETPIPE_SZ reads a property of an open fd we own.
        let capacity = unsafe { libc::fcntl(requests.as_raw_fd(), libc::F_GETPIPE_SZ) };
        // A pipe of unknown capacity is taken as the smallest Linux makes (one page).
        let capacity = usize::try_from(capacity).unwrap_or(4096).max(4096);
        Ok(Child {
            pid,
            requests: File::from(requests),
            replies: BufReader::with_capacity(64 << 10, File::from(replies)),
            slots: Arc::new(slots),
            ahead_bytes: (capacity / 2).min(super::super::AHEAD_BYTES),
        })
    }

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

    fn cstring(bytes: Vec<u8>) -> Result<CString, String> {
        CString::new(bytes).map_err(|_| "a NUL byte in the child's environment".to_owned())
    }

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
        let (shared, slots) =
            slots::imp::create().map_err(|e| format!("cannot create shared memory: {e}"))?;
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
        Ok((pid, req_write, rep_read, slots))
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

    fn check(r: libc::c_int) -> io::Result<()> {
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(r))
        }
    }

    /// Destroys posix_spawn's attribute objects on every path.
    struct Actions(libc::posix_spawn_file_actions_t);
    impl Drop for Actions {
        fn drop(&mut self) {
            // SAFETY: initialised by posix_spawn_file_actions_init.
            unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
        }
    }
    struct Attr(libc::posix_spawnattr_t);
    impl Drop for Attr {
        fn drop(&mut self) {
            // SAFETY: initialised by posix_spawnattr_init.
            unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
        }
    }

    /// Starts `program` with fd 0 = /dev/null, 3, 4 and 5 = `fds` (requests, replies, slot
    /// states), all others closed, an empty signal mask, SIGPIPE at its default, and a
    /// process group of its own.
    ///
    /// # Safety
    /// `fds` must be open fds numbered 6 or above.
    unsafe fn posix_spawn(
        program: &CString,
        argv0: &CString,
        env: &[CString],
        fds: [RawFd; 3],
    ) -> io::Result<Pid> {
        // SAFETY: the caller's promise about the fds.
        let fa = unsafe { file_actions(fds) }?;
        let attr = attributes()?;
        let argv = [argv0.as_ptr().cast_mut(), std::ptr::null_mut()];
        let envp: Vec<*mut libc::c_char> = env
            .iter()
            .map(|s| s.as_ptr().cast_mut())
            .chain(std::iter::once(std::ptr::null_mut()))
            .collect();
        let mut pid: libc::pid_t = 0;
        // SAFETY: `fa` and `attr` are initialised (and destroyed by their guards after the
        // call); `program`, `argv` and `envp` are NUL-terminated arrays of C strings that
        // outlive the call.
        check(unsafe {
            libc::posix_spawn(
                &mut pid,
                program.as_ptr(),
                &fa.0,
                &attr.0,
                argv.as_ptr(),
                envp.as_ptr(),
            )
        })?;
        Ok(pid)
    }

    /// The child's fds: 0 = /dev/null, 3, 4 and 5 = `fds`, the rest closed.
    ///
    /// # Safety
    /// `fds` must be open fds numbered 6 or above.
    unsafe fn file_actions(fds: [RawFd; 3]) -> io::Result<Actions> {
        // SAFETY: a zeroed `posix_spawn_file_actions_t` is only storage for `init`, which
        // runs before any other use; from then on the guard destroys it.
        let mut fa = Actions(unsafe {
            let mut fa = std::mem::zeroed::<libc::posix_spawn_file_actions_t>();
            check(libc::posix_spawn_file_actions_init(&mut fa))?;
            fa
        });
        // SAFETY: `fa` is initialised; the path is a C string literal; the fds are open
        // (the caller's promise) and above the targets, so `dup2` clears their O_CLOEXEC.
        unsafe {
            check(libc::posix_spawn_file_actions_addopen(
                &mut fa.0,
                0,
                c"/dev/null".as_ptr(),
                libc::O_RDONLY,
                0,
            ))?;
            for (fd, target) in fds.into_iter().zip(3..) {
                check(libc::posix_spawn_file_actions_adddup2(
                    &mut fa.0, fd, target,
                ))?;
            }
            #[cfg(target_env = "gnu")]
            check(libc::posix_spawn_file_actions_addclosefrom_np(&mut fa.0, 6))?;
        }
        Ok(fa)
    }

    /// The child's signals and group: an empty mask, SIGPIPE at its default, and a process
    /// group of its own, so that a Ctrl-C in a terminal (SIGINT to the foreground group) or a
    /// signal to the parent's group does not reach it: the parent decides what becomes of
    /// its task. It still dies with the parent (PDEATHSIG).
    fn attributes() -> io::Result<Attr> {
        // SAFETY: as for the file actions: zeroed storage, initialised before any use, then
        // destroyed by the guard; `set` is a valid `sigset_t` emptied before use.
        unsafe {
            let mut attr = std::mem::zeroed::<libc::posix_spawnattr_t>();
            check(libc::posix_spawnattr_init(&mut attr))?;
            let mut attr = Attr(attr);
            let mut set = std::mem::zeroed::<libc::sigset_t>();
            libc::sigemptyset(&mut set);
            check(libc::posix_spawnattr_setsigmask(&mut attr.0, &set))?;
            libc::sigaddset(&mut set, libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigdefault(&mut attr.0, &set))?;
            check(libc::posix_spawnattr_setpgroup(&mut attr.0, 0))?;
            let flags = libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETSIGDEF
                | libc::POSIX_SPAWN_SETPGROUP;
            check(libc::posix_spawnattr_setflags(
                &mut attr.0,
                flags as libc::c_short,
            ))?;
            Ok(attr)
        }
    }

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

    pub(super) fn kill(pid: Pid) {
        // SAFETY: plain syscall; the caller guarantees the pid is our unreaped child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }

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

    fn sigpipe_set() -> libc::sigset_t {
        // SAFETY: sigemptyset initialises the set.
        unsafe {
            let mut set = std::mem::zeroed::<libc::sigset_t>();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            set
        }
    }

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
}

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
