//! `static, remote` tasks compile warning-free, even with `core`, `std`,
//! `Option`, `Result`, `Some`, `None`, `Ok` and `Err` shadowed by the user's
//! own items, and run without a cluster (in the local process pool).
#![deny(warnings)]
#![forbid(unsafe_code)]

use atasker::prelude::*;

mod core {}
mod std {}
struct Option;
struct Result;
struct Some;
struct None;
struct Ok;
struct Err;

/// A remote task with a doc comment.
#[background_task(static, remote)]
pub fn render(scene: ::std::string::String, (w, h): (u32, u32)) -> ::std::vec::Vec<u8> {
    let mut png = scene.into_bytes();
    png.extend([w as u8, h as u8]);
    png
}

#[background_task(remote, priority = Priority::High, timeout = 30, static)]
fn pid() -> u32 {
    ::std::process::id()
}

fn main() {
    let _ = (Option, Result, Some, None, Ok, Err);

    assert_eq!(render("ab".into(), (1, 2)).wait().unwrap(), b"ab\x01\x02");
    assert_ne!(pid().wait().unwrap(), ::std::process::id());
}
