//! Code that runs before `main`: the ELF `.init_array` entries that make a process a
//! worker process of a pool (`process_pool/child_main.rs`) or a cluster node
//! (`node/zero_setup.rs`) before any of the user's code runs.

/// What the loader calls from `.init_array`: `(argc, argv, envp)`, as glibc passes them.
#[cfg(target_os = "linux")]
pub(crate) type InitFn =
    extern "C" fn(libc::c_int, *const *const libc::c_char, *const *const libc::c_char);

/// Puts `$entry` (an [`InitFn`]) in this executable's `.init_array` as `$name`, so that the
/// loader runs it before `main` (and before any thread of ours starts).
#[cfg(target_os = "linux")]
macro_rules! before_main {
    ($name:ident = $entry:path) => {
        #[used]
        #[unsafe(link_section = ".init_array")]
        static $name: $crate::init::InitFn = $entry;
    };
}

#[cfg(target_os = "linux")]
pub(crate) use before_main;
