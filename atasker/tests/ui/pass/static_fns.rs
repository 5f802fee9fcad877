//! `static` tasks and workers compile warning-free and run in the process
//! pool, even with `core`, `std`, `Option`, `Result`, `Some`, `None`, `Ok`
//! and `Err` shadowed by the user's own items, and in a crate that forbids
//! `unsafe` code.
#![deny(warnings)]
#![forbid(unsafe_code)]

use atasker::prelude::*;

mod core {
    pub fn answer() -> u64 {
        42
    }
}
mod std {
    pub fn answer() -> u64 {
        7
    }
}
struct Option;
struct Result;
struct Some;
struct None;
struct Ok;
struct Err;
struct Duration;

/// A static task with a doc comment.
#[background_task(static)]
pub fn crunch(n: u64, (a, b): (u64, u64), _: u8) -> u64 {
    n * 2 + a + b + crate::core::answer()
}

#[background_task(static, priority = Priority::High, timeout = 30)]
fn pid() -> u32 {
    ::std::process::id()
}

#[background_task(static)]
fn nothing() {}

#[background_task(static)]
fn fallible(n: u64) -> ::core::result::Result<u64, ::std::string::String> {
    if n > 0 {
        ::core::result::Result::Ok(n + crate::std::answer())
    } else {
        ::core::result::Result::Err("zero".into())
    }
}

#[background_worker(interval = 0.01, static)]
fn tick() -> bool {
    false
}

#[background_worker(queue, static, capacity = 4)]
fn handle(n: u64) -> ::core::result::Result<(), ::std::string::String> {
    if n > 0 {
        ::core::result::Result::Ok(())
    } else {
        ::core::result::Result::Err("zero".into())
    }
}

#[background_worker(event, static)]
fn flush() {}

fn main() {
    let _ = (Option, Result, Some, None, Ok, Err, Duration);

    assert_eq!(crunch(4, (1, 2), 0).wait().unwrap(), 8 + 3 + 42);
    assert_ne!(pid().wait().unwrap(), ::std::process::id());
    nothing().wait().unwrap();
    assert_eq!(fallible(1).wait().unwrap().unwrap(), 8);
    assert!(fallible(0).wait().unwrap().is_err());

    assert!(tick.start());
    handle.put(1);
    assert!(flush.start());
    flush.trigger();
    flush.stop();
    tick.stop();
}
