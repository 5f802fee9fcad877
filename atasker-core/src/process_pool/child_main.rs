//! The child side: recognising a child before `main`, and serving requests until EOF.
//!
//! A child is the application's own executable started with the marker variable
//! `ATASKER_CHILD_V0_1=<parent pid>:<protocol version>:<process name>`. A plain, `#[used]`
//! `.init_array` function (no `ctor` crate) runs in every process before `main`; in a normal
//! process it costs one `getenv`. In a child it never returns:
//!
//! 1. removes the marker, so that the task's own children are normal processes;
//! 2. sets `PR_SET_PDEATHSIG` to SIGKILL, then checks the parent is still the one in the
//!    marker (it may have died before the prctl);
//! 3. ignores SIGPIPE (std's `main` set-up never runs here) and sets the process name;
//! 4. checks that fds 3 (requests) and 4 (replies) are pipes, and maps fd 5 (the claims it
//!    shares with the parent, see `claims.rs`);
//! 5. in `panic = "abort"` builds installs a panic hook that sends the panic as a reply;
//! 6. runs the `.init_array` entries that come after its own, which the loader would have
//!    run had it returned (inventory- or typetag-style registrations in the application);
//! 7. sends the hello, serves requests in order until the parent closes the request pipe,
//!    then exits 0 (which flushes stdout). Before each request it takes the request's claim
//!    (`SENT → STARTED`); a request the parent withdrew meanwhile is answered `Skipped`
//!    without running. Replies are held and written together while more requests are
//!    already read and each runs quickly (its function's last run took under 20 µs): before
//!    a request that may run long, and before the child would wait for input, what is held
//!    is written; and should a request expected to be quick run long, a helper thread
//!    (started the first time a reply is held; it looks every millisecond while replies are
//!    held) writes what has been held 100 µs or more, so an answer never waits behind a long
//!    task.
//!
//! A child never runs the application's `main` or test harness. Exit codes of a child that
//! gives up: 121 fds 3/4 are not pipes or fd 5 cannot be mapped, 122 a request frame or its
//! claim was broken, 123 the parent was
//! gone, 124 a reply could not be written, 125 the marker was not understood.

/// The marker variable that makes a process a child.
pub(crate) const MARKER: &str = "ATASKER_CHILD_V0_1";

/// The hello this executable's children send (and its parent expects): the protocol
/// version, and the number and names of the registered static tasks.
pub(crate) fn hello() -> super::protocol::Hello {
    let registry: &[super::registry::StaticEntry] = &super::registry::ATASKER_STATIC_TASKS_V0_1;
    super::protocol::Hello {
        version: super::protocol::PROTOCOL_VERSION,
        entries: u32::try_from(registry.len()).unwrap_or(u32::MAX),
        names_hash: super::protocol::names_hash(registry.iter().map(|e| e.name)),
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{hello, MARKER};
    use crate::process_pool::claims::{self, Claims};
    use crate::process_pool::protocol::{self, Status};
    use crate::process_pool::registry::{StaticEntry, ATASKER_STATIC_TASKS_V0_1};
    use crate::task::panic_message;
    use libc::{c_char, c_int};
    use std::ffi::{CString, OsString};
    use std::fs::File;
    use std::io::{BufReader, Write};
    use std::mem::ManuallyDrop;
    use std::os::fd::{BorrowedFd, FromRawFd};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Condvar, Mutex};
    use std::time::{Duration, Instant};

    crate::init::before_main!(CHILD_ENTRY = child_entry);

    /// Set while a task runs: a panic then belongs to it.
    static IN_TASK: AtomicBool = AtomicBool::new(false);

    extern "C" fn child_entry(argc: c_int, argv: *const *const c_char, envp: *const *const c_char) {
        let Some(marker) = std::env::var_os(MARKER) else {
            return;
        };
        become_child(marker, argc, argv, envp);
    }

    fn exit(code: i32) -> ! {
        std::process::exit(code)
    }

    fn become_child(
        marker: OsString,
        argc: c_int,
        argv: *const *const c_char,
        envp: *const *const c_char,
    ) -> ! {
        // Before main and before any thread of ours: nothing reads the environment
        // concurrently.
        std::env::remove_var(MARKER);
        let marker = marker.to_string_lossy().into_owned();
        let mut parts = marker.splitn(3, ':');
        let (Some(ppid), Some(version), name) = (parts.next(), parts.next(), parts.next()) else {
            exit(125)
        };
        let (Ok(ppid), Ok(version)) = (ppid.parse::<libc::pid_t>(), version.parse::<u32>()) else {
            exit(125)
        };
        if version != protocol::PROTOCOL_VERSION {
            exit(125);
        }
        // SAFETY: plain prctl/getppid/signal calls with valid arguments.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != ppid {
                exit(123);
            }
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        set_name(name.unwrap_or("atasker"));
        if !is_pipe(3) || !is_pipe(4) {
            exit(121);
        }
        // SAFETY: fd 5 is open for the child's life (the parent passed it); mapped, then
        // closed: the mapping stays.
        let claims = match claims::imp::map(unsafe { BorrowedFd::borrow_raw(5) }) {
            Ok(s) => s,
            Err(_) => exit(121),
        };
        // SAFETY: fd 5 is ours and nothing else uses it.
        unsafe { libc::close(5) };
        install_panic_hook();
        // SAFETY: we are inside the loader's run of `.init_array`, with its arguments.
        unsafe { run_later_constructors(argc, argv, envp) };
        serve(&claims)
    }

    fn set_name(name: &str) {
        // The kernel keeps 15 bytes.
        let mut end = name.len().min(15);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        if let Ok(name) = CString::new(&name[..end]) {
            // SAFETY: PR_SET_NAME reads a NUL-terminated string.
            unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
        }
    }

    fn is_pipe(fd: c_int) -> bool {
        // SAFETY: fstat writes into a zeroed stat of the right type.
        unsafe {
            let mut st = std::mem::zeroed::<libc::stat>();
            if libc::fstat(fd, &mut st) != 0 {
                return false;
            }
            matches!(st.st_mode & libc::S_IFMT, libc::S_IFIFO | libc::S_IFSOCK)
        }
    }

    extern "C" {
        static __init_array_start: [usize; 0];
        static __init_array_end: [usize; 0];
    }

    /// Runs the `.init_array` entries after ours, with the loader's arguments.
    ///
    /// # Safety
    /// Must be called from our own `.init_array` entry, before `main`.
    unsafe fn run_later_constructors(
        argc: c_int,
        argv: *const *const c_char,
        envp: *const *const c_char,
    ) {
        // SAFETY: the linker defines both symbols around the executable's `.init_array`,
        // an array of function pointers that the loader has relocated before running it.
        unsafe {
            let start = std::ptr::addr_of!(__init_array_start).cast::<usize>();
            let end = std::ptr::addr_of!(__init_array_end).cast::<usize>();
            let len = (end as usize).saturating_sub(start as usize) / std::mem::size_of::<usize>();
            let entries = std::slice::from_raw_parts(start, len);
            for &f in after(entries, child_entry as crate::init::InitFn as usize) {
                if f == 0 || f == usize::MAX {
                    continue;
                }
                let f = std::mem::transmute::<usize, crate::init::InitFn>(f);
                f(argc, argv, envp);
            }
        }
    }

    /// The entries after `me`; none if `me` is not there.
    pub(super) fn after(entries: &[usize], me: usize) -> &[usize] {
        match entries.iter().position(|&f| f == me) {
            Some(pos) => &entries[pos + 1..],
            None => &[],
        }
    }

    /// The reply pipe, for writers that must not close it.
    fn replies() -> ManuallyDrop<File> {
        // SAFETY: fd 4 stays open for the child's life; ManuallyDrop never closes it.
        ManuallyDrop::new(unsafe { File::from_raw_fd(4) })
    }

    /// In `panic = "abort"` builds the process dies right after the hook: the hook sends the
    /// panic message first, as a `Fatal` reply, so that the task reports `Panicked`.
    fn install_panic_hook() {
        if !cfg!(panic = "abort") {
            return;
        }
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_TASK.swap(false, Ordering::SeqCst) {
                let message = panic_message(info.payload());
                let mut frame = Vec::new();
                protocol::error_reply(&mut frame, Status::Fatal, &message);
                let _ = replies().write_all(&frame);
            }
            prev(info);
        }));
    }

    /// A task whose function last ran this long or longer (or never ran) goes out alone:
    /// the replies held before it are written first.
    const QUICK: Duration = Duration::from_micros(20);
    /// The longest a reply is held in a batch.
    const HOLD: Duration = Duration::from_micros(100);
    /// The most bytes of replies held.
    const BATCH: usize = 16 << 10;

    /// Sends the hello, then serves requests in order until the parent closes the request
    /// pipe.
    fn serve(claims: &Claims) -> ! {
        let registry: &[StaticEntry] = &ATASKER_STATIC_TASKS_V0_1;
        // SAFETY: fd 3 is the request pipe our parent gave us; nothing else uses it.
        let mut requests = BufReader::with_capacity(64 << 10, unsafe { File::from_raw_fd(3) });
        let mut out = Vec::with_capacity(4096);
        let mut body = Vec::new();
        protocol::hello(&mut out, hello());
        send(&out);
        let held = Held::leak();
        // How long each function last ran.
        let mut last = vec![Duration::MAX; registry.len()];
        for seq in 0u64.. {
            if !protocol::whole_frame(requests.buffer()) {
                // Nothing more to run without reading (and maybe waiting): answer first.
                held.flush();
            }
            read_request(&mut requests, &mut body);
            let Ok((index, args)) = protocol::parse_request(&body) else {
                exit(122)
            };
            let entry = usize::try_from(index)
                .ok()
                .and_then(|i| Some((i, registry.get(i)?)));
            held.before_run(entry.is_some_and(|(i, _)| last[i] < QUICK));
            match claims.start(seq) {
                Some(true) => run_request(entry, index, args, &mut last, &mut out),
                Some(false) => {
                    protocol::start_reply(&mut out, Status::Skipped);
                    protocol::seal_reply(&mut out);
                }
                None => exit(122),
            }
            held.hold(&out);
            protocol::trim(&mut body);
            protocol::trim(&mut out);
        }
        // 2^64 requests.
        exit(122)
    }

    /// Reads the next request frame into `body`; exits 0 when the parent has closed the
    /// request pipe, 122 on a broken frame.
    fn read_request(requests: &mut BufReader<File>, body: &mut Vec<u8>) {
        match protocol::read_frame(requests, body) {
            Ok(true) => {}
            Ok(false) => exit(0),
            Err(_) => exit(122),
        }
    }

    /// Runs the request for the registry's entry at `index` (`entry`: its position and the
    /// entry, if this build has it) and notes in `last` how long it ran; leaves its reply in
    /// `out`.
    fn run_request(
        entry: Option<(usize, &StaticEntry)>,
        index: u32,
        args: &[u8],
        last: &mut [Duration],
        out: &mut Vec<u8>,
    ) {
        match entry {
            Some((i, entry)) => {
                let t0 = Instant::now();
                run(entry, args, out);
                last[i] = t0.elapsed();
            }
            None => protocol::error_reply(
                out,
                Status::Error,
                &format!("unknown static task index {index}"),
            ),
        }
    }

    /// Replies held to be written together, and since when (`None`: none held).
    struct Held {
        batch: Mutex<(Vec<u8>, Option<Instant>)>,
        /// Wakes the flusher when a batch starts.
        started: Condvar,
        /// Starts the flusher, the first time a reply may be held while a request runs.
        flusher: std::sync::Once,
        /// The flusher looks at the batch every millisecond (else it sleeps until woken).
        /// Changed with the batch locked.
        polling: AtomicBool,
    }

    impl Held {
        /// Replies held while more requests are waiting, for the child's life; a helper
        /// thread writes them once held for `HOLD`, should a request run longer than its
        /// last run said.
        fn leak() -> &'static Held {
            Box::leak(Box::new(Held {
                batch: Mutex::new((Vec::with_capacity(4096), None)),
                started: Condvar::new(),
                flusher: std::sync::Once::new(),
                polling: AtomicBool::new(false),
            }))
        }

        /// Readies the batch for a request about to run. `quick`: its function's last run
        /// was quick.
        fn before_run(&'static self, quick: bool) {
            // A request held back by a task that may run long would be answered late:
            // answer what is held before such a task starts (and before each in a
            // `panic = "abort"` build, whose panic hook writes a reply of its own).
            if quick && !cfg!(panic = "abort") {
                // Replies may wait while this request runs: from now on a thread watches.
                self.start_flusher();
            } else {
                self.flush();
            }
        }

        /// Holds one reply (written at once if the batch is full).
        fn hold(&self, reply: &[u8]) {
            let mut b = crate::sync::lock(&self.batch);
            b.0.extend_from_slice(reply);
            if b.1.is_none() {
                b.1 = Some(Instant::now());
                if self.flusher.is_completed() && !self.polling.load(Ordering::Relaxed) {
                    self.started.notify_one();
                }
            }
            if b.0.len() >= BATCH {
                Self::write(&mut b);
            }
        }

        /// Writes the replies held, in one `write`.
        fn flush(&self) {
            let mut b = crate::sync::lock(&self.batch);
            if !b.0.is_empty() {
                Self::write(&mut b);
            }
        }

        fn write(b: &mut (Vec<u8>, Option<Instant>)) {
            send(&b.0);
            b.0.clear();
            protocol::trim(&mut b.0);
            b.1 = None;
        }
    }

    impl Held {
        /// Starts (once) the thread that writes replies held for [`HOLD`]: the main thread
        /// may be running a request that was expected to be quick and is not. If it cannot
        /// start, replies wait for the main thread.
        fn start_flusher(&'static self) {
            self.flusher.call_once(|| {
                let _ = std::thread::Builder::new()
                    .name("atasker-replies".into())
                    .spawn(move || self.flush_held());
            });
        }

        /// The flusher: while batches are held, looks every millisecond and writes one held
        /// [`HOLD`] or longer; sleeps until woken once none is held.
        fn flush_held(&self) -> ! {
            let mut b = crate::sync::lock(&self.batch);
            loop {
                match b.1 {
                    None => {
                        self.polling.store(false, Ordering::Relaxed);
                        b = self
                            .started
                            .wait(b)
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        self.polling.store(true, Ordering::Relaxed);
                    }
                    Some(t) if t.elapsed() >= HOLD => Held::write(&mut b),
                    Some(_) => {
                        drop(b);
                        std::thread::sleep(Duration::from_millis(1));
                        b = crate::sync::lock(&self.batch);
                    }
                }
            }
        }
    }

    fn send(frame: &[u8]) {
        if replies().write_all(frame).is_err() {
            exit(124);
        }
    }

    /// Runs one task and leaves its reply frame in `out`.
    fn run(entry: &StaticEntry, args: &[u8], out: &mut Vec<u8>) {
        protocol::start_reply(out, Status::Ok);
        IN_TASK.store(true, Ordering::SeqCst);
        let r = catch_unwind(AssertUnwindSafe(|| (entry.call)(args, out)));
        IN_TASK.store(false, Ordering::SeqCst);
        // What the task printed goes out before its reply.
        let _ = std::io::stdout().flush();
        match r {
            Ok(Ok(())) => protocol::seal_reply(out),
            Ok(Err(message)) => protocol::error_reply(out, Status::Error, &message),
            Err(payload) => {
                let message = panic_message(&*payload);
                // A payload whose drop panics must not take the child down.
                let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
                protocol::error_reply(out, Status::Panicked, &message);
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use crate::process_pool::registry::{call_static, StaticEntry};
    use crate::static_api::spawn_static;
    use crate::supervisor::spawn::TaskOptions;
    use crate::{Priority, Supervisor};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Set by a plain constructor of this crate, like an inventory registration: the child
    /// must see it whether it comes before or after the child's own in `.init_array`.
    static LATE_CONSTRUCTOR_RAN: AtomicBool = AtomicBool::new(false);

    extern "C" fn late_constructor() {
        LATE_CONSTRUCTOR_RAN.store(true, Ordering::SeqCst);
    }

    #[used]
    #[unsafe(link_section = ".init_array")]
    static LATE: extern "C" fn() = late_constructor;

    fn late_ran(opts: TaskOptions) -> crate::Task<bool> {
        fn call(input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
            call_static(input, out, |(): ()| {
                LATE_CONSTRUCTOR_RAN.load(Ordering::SeqCst)
            })
        }
        #[linkme::distributed_slice(crate::process_pool::registry::ATASKER_STATIC_TASKS_V0_1)]
        static ENTRY: StaticEntry = StaticEntry {
            name: "late_ran",
            call,
        };
        spawn_static(opts, &ENTRY, ())
    }

    #[test]
    fn the_constructors_after_the_child_entry_are_found() {
        assert_eq!(super::imp::after(&[1, 2, 3, 4], 2), [3, 4]);
        assert_eq!(super::imp::after(&[1, 2], 2), [] as [usize; 0]);
        assert_eq!(super::imp::after(&[1, 2], 9), [] as [usize; 0]);
    }

    #[test]
    fn the_child_runs_every_constructor() {
        let sup: &'static Supervisor = Box::leak(Box::new(
            Supervisor::builder().process_pool(1).build().unwrap(),
        ));
        let opts = TaskOptions {
            name: "late_ran",
            priority: Priority::Normal,
            timeout: None,
            delay: None,
            supervisor: Some(sup),
            limit: None,
            retry: None,
        };
        assert_eq!(late_ran(opts).wait(), Ok(true));
        sup.stop();
    }
}
