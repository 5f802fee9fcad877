//! The thread-local context: which supervisor's task, which worker's executor and which
//! pool's thread the current thread is running. Each is identified by the address of its
//! shared state (0: none), so that the check costs no allocation and no reference count.

use std::cell::Cell;

/// A role the current thread plays, each with the key of whom it plays it for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The supervisor whose task this thread runs (so that a task stopping its own supervisor
    /// does not wait for itself).
    Supervisor,
    /// The worker whose executor this thread runs (so that `stop()` from inside the executor
    /// does not wait for itself).
    Worker,
    /// The pool this thread belongs to (so that a task waiting for a queued task of its own
    /// pool runs it itself). Set once for the thread's life.
    Pool,
}

thread_local! {
    static CONTEXT: [Cell<usize>; 3] = const { [Cell::new(0), Cell::new(0), Cell::new(0)] };
}

/// The address of `value`, as a context key.
pub(crate) fn key<T: ?Sized>(value: &T) -> usize {
    value as *const T as *const () as usize
}

/// Whether the current thread's `role` is `key`.
pub(crate) fn is(role: Role, key: usize) -> bool {
    CONTEXT.with(|c| c[role as usize].get()) == key
}

/// Sets the current thread's `role` to `key` until the guard drops (then restores it).
#[must_use = "the context is restored when the guard drops"]
pub(crate) fn enter(role: Role, key: usize) -> Enter {
    Enter {
        role,
        previous: CONTEXT.with(|c| c[role as usize].replace(key)),
    }
}

/// Restores a thread's role when dropped (see [`enter`]).
pub(crate) struct Enter {
    role: Role,
    previous: usize,
}

impl Drop for Enter {
    fn drop(&mut self) {
        CONTEXT.with(|c| c[self.role as usize].set(self.previous));
    }
}
