//! The claims a parent and its child share: who decides whether a request sent ahead runs.
//!
//! A request is sent ahead (pipelined) while the child still runs earlier ones, so a cancel
//! of it races with the child reaching it. One word of shared memory per request, its claim,
//! settles the race: the parent writes `SENT` before the frame; the child moves
//! `SENT → STARTED` before it runs the request, and the parent's cancel moves
//! `SENT → CANCELLED`. Both are compare-and-swap, so exactly one wins: a cancelled request
//! never starts (the child answers it with a `Skipped` reply), and a cancel that finds it
//! started kills the child, as for any running task. When a child dies, the same words tell
//! which of its requests started: the others never ran and go to a fresh child.
//!
//! The memory is a `memfd` of [`CLAIMS`] words that the child gets as fd 5; request number
//! `seq` (counted from 0 by both sides) uses word `seq % CLAIMS`, holding `seq << 2 | state`,
//! so a stale word is never mistaken for a live one. A window is at most [`CLAIMS`] requests
//! deep, so a word is reused only once its request was answered.

use std::sync::atomic::{AtomicU64, Ordering::AcqRel, Ordering::Acquire, Ordering::Release};

/// Words in the shared memory: the deepest window possible.
pub(crate) const CLAIMS: usize = 64;

/// The request was written and waits for the child.
const SENT: u64 = 1;
/// The child took the request and runs it (or ran it).
const STARTED: u64 = 2;
/// The parent withdrew the request before the child took it.
const CANCELLED: u64 = 3;

/// What became of a request sent ahead, as the shared word says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// The child never took it.
    Waiting,
    /// The child took it.
    Started,
    /// The parent withdrew it.
    Cancelled,
}

/// The shared words, mapped in this process.
pub(crate) struct Claims {
    words: *const AtomicU64,
}

// SAFETY: the words are atomics in a mapping that lives as long as `Claims`; every access
// goes through atomic operations.
unsafe impl Send for Claims {}
// SAFETY: as above.
unsafe impl Sync for Claims {}

impl Claims {
    /// Wraps a mapping of at least `CLAIMS` words.
    ///
    /// # Safety
    /// `words` must point to `CLAIMS` writable, 8-aligned `u64`s that stay mapped until the
    /// `Claims` is dropped, which unmaps them (`munmap` of [`BYTES`] bytes).
    pub(crate) unsafe fn from_raw(words: *mut u64) -> Self {
        Claims {
            words: words.cast_const().cast(),
        }
    }

    fn word(&self, seq: u64) -> &AtomicU64 {
        let i = (seq % CLAIMS as u64) as usize;
        // SAFETY: `i < CLAIMS`, within the mapping (see `from_raw`).
        unsafe { &*self.words.add(i) }
    }

    /// The parent: request `seq` is about to be written.
    pub(crate) fn send(&self, seq: u64) {
        self.word(seq).store(seq << 2 | SENT, Release);
    }

    /// The parent: withdraws request `seq`. `true`: it will never start; `false`: the child
    /// took it already.
    pub(crate) fn cancel(&self, seq: u64) -> bool {
        self.word(seq)
            .compare_exchange(seq << 2 | SENT, seq << 2 | CANCELLED, AcqRel, Acquire)
            .is_ok()
    }

    /// The child: takes request `seq`. `Some(true)`: run it; `Some(false)`: it was
    /// withdrawn; `None`: the word does not describe it (a protocol error).
    pub(crate) fn start(&self, seq: u64) -> Option<bool> {
        match self
            .word(seq)
            .compare_exchange(seq << 2 | SENT, seq << 2 | STARTED, AcqRel, Acquire)
        {
            Ok(_) => Some(true),
            Err(w) if w == seq << 2 | CANCELLED => Some(false),
            Err(_) => None,
        }
    }

    /// What became of request `seq` (meaningful while its word is not reused).
    pub(crate) fn fate(&self, seq: u64) -> Fate {
        let w = self.word(seq).load(Acquire);
        match w {
            _ if w == seq << 2 | STARTED => Fate::Started,
            _ if w == seq << 2 | CANCELLED => Fate::Cancelled,
            _ => Fate::Waiting,
        }
    }
}

impl Drop for Claims {
    fn drop(&mut self) {
        imp::unmap(self.words.cast_mut().cast());
    }
}

/// The size of the mapping in bytes.
pub(crate) const BYTES: usize = CLAIMS * std::mem::size_of::<u64>();

#[cfg(target_os = "linux")]
pub(crate) mod imp {
    use super::{Claims, BYTES};
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

    /// A fresh shared memory (zeroed, close-on-exec) and its mapping in this process.
    pub(crate) fn create() -> io::Result<(OwnedFd, Claims)> {
        // The memfd's name, seen in /proc, is the one earlier releases gave it.
        // SAFETY: a C string literal name; flags valid.
        let fd = unsafe { libc::memfd_create(c"atasker-slots".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh fd owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: plain syscall on our fd.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), BYTES as libc::off_t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let claims = map(fd.as_fd())?;
        Ok((fd, claims))
    }

    /// Maps the shared memory open as `fd` (it must be at least [`BYTES`] long).
    pub(crate) fn map(fd: BorrowedFd<'_>) -> io::Result<Claims> {
        // SAFETY: a fresh shared mapping of `BYTES` bytes of `fd`; checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: page-aligned, `BYTES` long, mapped until `Claims` drops.
        Ok(unsafe { Claims::from_raw(p.cast()) })
    }

    pub(super) fn unmap(p: *mut libc::c_void) {
        // SAFETY: `p` is the start of a mapping of `BYTES` bytes made by `map`.
        unsafe { libc::munmap(p, BYTES) };
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) mod imp {
    pub(super) fn unmap(_: *mut u8) {}
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_side_wins_a_request() {
        let (_fd, s) = imp::create().unwrap();
        s.send(0);
        assert_eq!(s.fate(0), Fate::Waiting);
        assert_eq!(s.start(0), Some(true));
        assert!(!s.cancel(0), "a started request cannot be withdrawn");
        assert_eq!(s.fate(0), Fate::Started);

        s.send(1);
        assert!(s.cancel(1));
        assert_eq!(s.start(1), Some(false), "a withdrawn request never starts");
        assert_eq!(s.fate(1), Fate::Cancelled);

        // Word reuse: request CLAIMS shares request 0's word, never its state.
        s.send(CLAIMS as u64);
        assert_eq!(s.fate(0), Fate::Waiting);
        assert_eq!(
            s.start(0),
            None,
            "a stale sequence number is a protocol error"
        );
        assert_eq!(s.start(CLAIMS as u64), Some(true));
    }
}
