//! Helpers shared by the process-pool tests: static tasks written exactly as
//! `#[background_task(static)]` expands them, and `/proc` probes.
#![allow(dead_code)]

use atasker::__private::TaskOptions;
use atasker::{Priority, Supervisor};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Generous bound for anything that should happen "soon".
pub const SOON: Duration = Duration::from_secs(10);

/// A static task in the shape the macro expands `#[background_task(static)] fn f(..) -> T`
/// to. The only difference: the options come from the caller (first argument), so that one
/// test file can use several supervisors and priorities.
#[allow(unused_macros)]
macro_rules! static_task {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$attr])*
        $vis fn $name(
            __atasker_options: ::atasker::__private::TaskOptions,
            $($arg: $ty),*
        ) -> ::atasker::Task<$ret> {
            fn __atasker_body($($arg: $ty),*) -> $ret $body
            fn __atasker_call(
                input: &[u8],
                out: &mut ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<(), ::std::string::String> {
                ::atasker::__private::call_static(input, out, |($($arg,)*): ($($ty,)*)| {
                    __atasker_body($($arg),*)
                })
            }
            #[::atasker::__private::linkme::distributed_slice(
                ::atasker::__private::ATASKER_STATIC_TASKS_V0_1
            )]
            #[linkme(crate = ::atasker::__private::linkme)]
            static __ATASKER_ENTRY: ::atasker::__private::StaticEntry =
                ::atasker::__private::StaticEntry {
                    name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!($name)),
                    call: __atasker_call,
                };
            ::atasker::__private::spawn_static(__atasker_options, &__ATASKER_ENTRY, ($($arg,)*))
        }
    };
}

static_task! {
    /// Writes its pid to `marker`, then holds its child until the file `release` exists (at
    /// most a minute); returns its pid. A blocker whose end the test decides, not the clock.
    pub fn hold(marker: String, release: String) -> u32 {
        std::fs::write(&marker, std::process::id().to_string()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !Path::new(&release).exists() {
            assert!(Instant::now() < deadline, "never released");
            std::thread::sleep(Duration::from_millis(2));
        }
        std::process::id()
    }
}

static_task! {
    /// When it started, in nanoseconds since the epoch (comparable across processes).
    pub fn started_at(tag: String) -> (String, u128) {
        (tag, SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos())
    }
}

/// A private supervisor with a process pool of `pool`, living for the whole test binary.
pub fn supervisor(name: &str, pool: usize) -> &'static Supervisor {
    Box::leak(Box::new(
        Supervisor::builder()
            .name(name)
            .process_pool(pool)
            .build()
            .unwrap(),
    ))
}

/// Options for `sup` at `priority`.
pub fn on(sup: &'static Supervisor, priority: Priority) -> TaskOptions {
    TaskOptions {
        name: "test",
        priority,
        timeout: None,
        delay: None,
        supervisor: Some(sup),
        limit: None,
        retry: None,
    }
}

/// Options for `sup` with a deadline.
pub fn with_timeout(sup: &'static Supervisor, timeout: Duration) -> TaskOptions {
    TaskOptions {
        timeout: Some(timeout),
        delay: None,
        ..on(sup, Priority::Normal)
    }
}

/// A fresh path in the temp dir for a marker file.
pub fn marker(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("atasker-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// A path as the `String` a static task takes.
pub fn path(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// A release file: tasks holding on it end once [`Release::open`] creates it. Removed on
/// drop, so it must live until the held tasks are waited for.
pub struct Release(PathBuf);

impl Release {
    pub fn new(tag: &str) -> Self {
        Release(marker(&format!("{tag}-release")))
    }
    pub fn path(&self) -> String {
        path(&self.0)
    }
    pub fn open(&self) {
        std::fs::write(&self.0, b"go").unwrap();
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Waits for a marker file and returns the pid written in it.
pub fn pid_in(path: &Path) -> u32 {
    let deadline = Instant::now() + SOON;
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(pid) = s.trim().parse() {
                let _ = std::fs::remove_file(path);
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "no marker at {}", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether `pid` no longer runs (gone, or a zombie nobody reaped yet).
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // `pid (comm) S …`: the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| matches!(rest.trim_start().chars().next(), Some('Z' | 'X'))),
    }
}

/// Waits until `pid` is gone.
pub fn wait_gone(pid: u32) {
    let deadline = Instant::now() + SOON;
    while !gone(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still alive");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends SIGKILL to `pid`.
pub fn sigkill(pid: u32) {
    // SAFETY: a plain kill(2); the pid is a child process the test just learned about.
    let r = unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    assert_eq!(r, 0, "kill({pid}) failed");
}
