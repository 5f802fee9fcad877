//! Attribute macros for [atasker](https://docs.rs/atasker): `#[background_task]`
//! and `#[background_worker]`.
//!
//! Use them through the `atasker` crate (`use atasker::prelude::*;`); the code
//! they generate calls `::atasker::__private`.
//!
//! Three stages, one file each: parse (`args`, `item`) → validate
//! (`validate`, errors collected in a `ctxt::Ctxt`) → expand (`expand`). Every
//! stage works on `proc_macro2` types so unit tests can call it.

use proc_macro::TokenStream;

mod args;
mod ctxt;
mod expand;
mod item;
mod validate;

#[cfg(test)]
mod tests;

/// Runs a function in the background: `fn f(args) -> T` (or `async fn`)
/// becomes `fn f(args) -> Task<T>`, which starts the body at once and returns
/// its handle. Visibility, attributes and docs are kept.
///
/// Where it runs is decided by the signature: an `async fn` on the
/// supervisor's runtime, a `fn` on its thread pool, and a `fn` marked `static`
/// on its process pool.
///
/// Options, in any order:
/// - `static`: run in another process (owned, concrete argument and result
///   types only);
/// - `priority = EXPR`: a `Priority` (default `Priority::Normal`);
/// - `supervisor = EXPR`: a `&'static Supervisor` (default
///   `Supervisor::global()`);
/// - `timeout = SECS | EXPR`: an int or float literal is seconds, any other
///   expression a `Duration`.
///
/// ```ignore
/// use atasker::prelude::*;
///
/// #[background_task(priority = Priority::High, timeout = 5)]
/// fn resize(path: String) -> u64 {
///     path.len() as u64
/// }
///
/// let size = resize("a.png".into()).wait()?;
/// ```
#[proc_macro_attribute]
pub fn background_task(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::background_task(args.into(), item.into()).into()
}

/// Turns a function into a worker handle that runs it repeatedly, on an
/// interval, per queued item or per event. Not implemented yet.
#[proc_macro_attribute]
pub fn background_worker(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::background_worker(args.into(), item.into()).into()
}
