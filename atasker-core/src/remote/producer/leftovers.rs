//! The reply streams of this process's producers, deleted when the process exits (an
//! `atexit` hook: a short-lived CLI that submits and exits without a stop leaves nothing
//! behind; a killed process's stream expires after 10 node timeouts).

use super::Producer;
use std::sync::{Arc, Mutex, Once, Weak};

static PRODUCERS: Mutex<Vec<Weak<Producer>>> = Mutex::new(Vec::new());

/// Adds `p` to what the exit hook cleans up (installing the hook once).
pub(super) fn register(p: &Arc<Producer>) {
    static HOOK: Once = Once::new();
    let mut all = crate::sync::lock(&PRODUCERS);
    all.retain(|w| w.strong_count() > 0);
    all.push(Arc::downgrade(p));
    drop(all);
    #[cfg(target_os = "linux")]
    HOOK.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn()` with atexit(3).
        unsafe { libc::atexit(at_exit) };
    });
}

/// Deletes the reply stream of every producer still alive at exit.
#[cfg(target_os = "linux")]
extern "C" fn at_exit() {
    let all: Vec<_> = std::mem::take(&mut *crate::sync::lock(&PRODUCERS));
    for p in all.iter().filter_map(Weak::upgrade) {
        p.delete_replies_said(false);
    }
}
