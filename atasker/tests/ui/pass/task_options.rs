//! Every option and argument form compiles warning-free and runs, even with
//! `core`, `std`, `Option`, `Result`, `Some`, `None`, `Ok` and `Err` shadowed
//! by the user's own items.
#![deny(warnings)]

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

fn plant() -> &'static Supervisor {
    Supervisor::global()
}

/// A blocking task with a doc comment.
#[background_task]
pub fn resize(path: String) -> u64 {
    path.len() as u64 + crate::core::answer()
}

#[background_task]
async fn fetch(url: String) -> String {
    format!("got {url}")
}

#[background_task]
fn nothing() {}

#[background_task(priority = Priority::High)]
fn high(n: u64) -> u64 {
    n + 1
}

#[background_task(priority = Priority::Low)]
async fn low(n: u64) -> u64 {
    n + 2
}

#[background_task(supervisor = plant())]
fn supervised(n: u64) -> u64 {
    n + crate::std::answer()
}

#[background_task(timeout = 5)]
fn timeout_int(n: u64) -> u64 {
    n
}

#[background_task(timeout = 2.5)]
async fn timeout_float(n: u64) -> u64 {
    n
}

#[background_task(timeout = ::std::time::Duration::from_millis(5_000))]
fn timeout_expr(n: u64) -> u64 {
    n
}

#[background_task(timeout = 0.5, priority = Priority::Critical, supervisor = plant())]
async fn all_options(mut total: u64, (a, b): (u64, u64), _: u8) -> u64 {
    total += a + b;
    total
}

#[background_task]
fn generic<T: Clone + Send + 'static>(
    items: Vec<T>,
    extra: impl Into<u64> + Send + 'static,
) -> (usize, u64)
where
    T: ::core::fmt::Debug,
{
    (items.len(), extra.into())
}

#[background_task]
fn fallible(n: u64) -> ::core::result::Result<u64, ::std::string::String> {
    if n > 0 {
        ::core::result::Result::Ok(n)
    } else {
        ::core::result::Result::Err("zero".into())
    }
}

// Generic parameters that only the result type names are inferred from the
// caller's `Task<T>`.
#[background_task]
fn default_of<T: Default + Send + 'static>() -> T {
    T::default()
}

#[background_task]
async fn zeros<const N: usize>() -> [u8; N] {
    [0; N]
}

// A private supervisor kept in a static (`&PLANT` derefs to `&'static
// Supervisor`), and a `'static` reference argument.
static PLANT: ::std::sync::LazyLock<Supervisor> =
    ::std::sync::LazyLock::new(|| Supervisor::builder().name("plant").build().unwrap());

#[background_task(supervisor = &PLANT)]
fn in_plant(greeting: &'static str) -> usize {
    greeting.len()
}

#[background_task]
fn r#match(_ignored: u8, r#in: u8) -> u8 {
    r#in
}

fn main() {
    let _ = (Option, Result, Some, None, Ok, Err, Duration);

    // A task declared inside a function, as in a doctest.
    #[background_task(priority = Priority::High)]
    fn local(n: u64) -> u64 {
        n * 10
    }
    assert_eq!(local(4).wait().unwrap(), 40);
    let t: Task<u32> = default_of();
    assert_eq!(t.wait().unwrap(), 0);
    let t: Task<[u8; 3]> = zeros();
    assert_eq!(t.wait().unwrap(), [0, 0, 0]);
    assert_eq!(r#match(1, 2).wait().unwrap(), 2);

    let t: Task<u64> = resize("a.png".into());
    assert_eq!(t.wait().unwrap(), 5 + 42);
    assert_eq!(fetch("x".into()).wait().unwrap(), "got x");
    nothing().wait().unwrap();
    assert_eq!(high(1).wait().unwrap(), 2);
    assert_eq!(low(1).wait().unwrap(), 3);
    assert_eq!(supervised(1).wait().unwrap(), 8);
    assert_eq!(timeout_int(1).wait().unwrap(), 1);
    assert_eq!(timeout_float(2).wait().unwrap(), 2);
    assert_eq!(timeout_expr(3).wait().unwrap(), 3);
    assert_eq!(all_options(1, (2, 3), 0).wait().unwrap(), 6);
    assert_eq!(generic(vec!['a', 'b'], 7u8).wait().unwrap(), (2, 7));
    assert_eq!(fallible(4).wait().unwrap().unwrap(), 4);
    assert_eq!(in_plant("hi").wait().unwrap(), 2);
}
