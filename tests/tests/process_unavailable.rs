//! A child that cannot start gives a clear error, never a hang; and a child's frame reader
//! refuses corrupt and oversized frames. (Its own binary: `set_child_program` affects every
//! supervisor of the process.)

#[macro_use]
mod process_common;

use atasker::{Priority, TaskError};
use process_common::*;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

static_task! {
    fn double(n: u64) -> u64 { n * 2 }
}

#[test]
fn a_child_that_cannot_start_gives_a_clear_error() {
    let sup = supervisor("unavailable", 1);
    let t0 = Instant::now();
    atasker::__private::set_child_program(Some(Path::new("/nonexistent/atasker-child")));
    let e = double(on(sup, Priority::Normal), 1).wait().unwrap_err();
    assert!(
        matches!(&e, TaskError::Unavailable(m) if m.contains("/nonexistent/atasker-child") && m.contains("No such file")),
        "{e}"
    );
    // A program that is not an atasker child: it exits without a handshake.
    atasker::__private::set_child_program(Some(Path::new("/bin/true")));
    let e = double(on(sup, Priority::Normal), 1).wait().unwrap_err();
    assert!(
        matches!(&e, TaskError::Unavailable(m) if m.contains("handshake") && m.contains("exit code 0")),
        "{e}"
    );
    assert!(t0.elapsed() < SOON);
    // Back to the real executable: the pool recovers.
    atasker::__private::set_child_program(None);
    assert_eq!(double(on(sup, Priority::Normal), 21).wait(), Ok(42));
    let s = sup.stats().processes.normal;
    assert_eq!((s.failed, s.completed), (2, 1));
}

/// Starts this test binary as a child by hand, with its pipes on fds 3 and 4 and its slot
/// states (shared memory, 64 words) on fd 5, where request 0 is marked sent (protocol 2).
fn raw_child() -> (std::process::Child, std::fs::File, std::fs::File) {
    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into the array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both fds are fresh and owned here.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }
    use std::os::fd::AsRawFd;
    let (req_r, req_w) = pipe();
    let (rep_r, rep_w) = pipe();
    // SAFETY: a fresh memfd owned here.
    let slots = unsafe { OwnedFd::from_raw_fd(libc::memfd_create(c"slots".as_ptr(), 0)) };
    let mut words = [0u8; 64 * 8];
    // Request 0: `0 << 2 | SENT`.
    words[0] = 1;
    std::fs::File::from(slots.try_clone().unwrap())
        .write_all(&words)
        .unwrap();
    let (a, b, c) = (req_r.as_raw_fd(), rep_w.as_raw_fd(), slots.as_raw_fd());
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(
        "ATASKER_CHILD_V0_1",
        format!("{}:2:probe", std::process::id()),
    )
    .stdin(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Lift first, so that neither dup2 clobbers the other's source.
            let a2 = libc::fcntl(a, libc::F_DUPFD, 10);
            let b2 = libc::fcntl(b, libc::F_DUPFD, 10);
            let c2 = libc::fcntl(c, libc::F_DUPFD, 10);
            if a2 < 0
                || b2 < 0
                || c2 < 0
                || libc::dup2(a2, 3) < 0
                || libc::dup2(b2, 4) < 0
                || libc::dup2(c2, 5) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    drop((req_r, rep_w, slots));
    let mut replies = std::fs::File::from(rep_r);
    // The hello: length 20, then "ATSK".
    let mut hello = [0u8; 24];
    replies.read_exact(&mut hello).unwrap();
    assert_eq!(&hello[..8], &[20, 0, 0, 0, b'A', b'T', b'S', b'K']);
    (child, std::fs::File::from(req_w), replies)
}

fn exit_code_soon(child: &mut std::process::Child) -> Option<i32> {
    let deadline = Instant::now() + SOON;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.signal(), None);
            return status.code();
        }
        assert!(Instant::now() < deadline, "the child did not exit");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_child_refuses_an_oversized_frame_without_reading_it() {
    let (mut child, mut requests, _replies) = raw_child();
    // Claims 4 GiB: refused at once (exit 122), long before anything that size could arrive.
    requests.write_all(&u32::MAX.to_le_bytes()).unwrap();
    assert_eq!(exit_code_soon(&mut child), Some(122));
}

#[test]
fn a_child_refuses_a_corrupt_frame_and_answers_an_unknown_index() {
    let (mut child, mut requests, mut replies) = raw_child();
    // A well-formed request for an index that does not exist: an error reply.
    let mut frame = 4u32.to_le_bytes().to_vec();
    frame.extend_from_slice(&u32::MAX.to_le_bytes());
    requests.write_all(&frame).unwrap();
    let mut len = [0u8; 4];
    replies.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    replies.read_exact(&mut body).unwrap();
    assert_eq!(body[0], 1, "an error reply");
    assert!(String::from_utf8_lossy(&body[1..]).contains("unknown static task index"));
    // A frame too short to hold an index: the stream cannot be trusted any more.
    requests.write_all(&[2, 0, 0, 0, 9, 9]).unwrap();
    assert_eq!(exit_code_soon(&mut child), Some(122));
}

#[test]
fn a_child_exits_0_when_its_request_pipe_closes() {
    let (mut child, requests, _replies) = raw_child();
    drop(requests);
    assert_eq!(exit_code_soon(&mut child), Some(0));
}
