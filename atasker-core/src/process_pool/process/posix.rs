//! The `posix_spawn` call that starts a child: its fds, its signals and its process group.

use super::Pid;
use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;

/// A `posix_spawn*` call's result: 0, or an error number.
fn check(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(r))
    }
}

/// Destroys posix_spawn's file actions on every path.
struct Actions(libc::posix_spawn_file_actions_t);
impl Drop for Actions {
    fn drop(&mut self) {
        // SAFETY: initialised by posix_spawn_file_actions_init.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}
/// Destroys posix_spawn's attributes on every path.
struct Attr(libc::posix_spawnattr_t);
impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised by posix_spawnattr_init.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// Starts `program` with fd 0 = /dev/null, 3, 4 and 5 = `fds` (requests, replies,
/// claims), all others closed, an empty signal mask, SIGPIPE at its default, and a
/// process group of its own.
///
/// # Safety
/// `fds` must be open fds numbered 6 or above.
pub(super) unsafe fn posix_spawn(
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
