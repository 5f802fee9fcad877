//! Attribute macros for [atasker](https://docs.rs/atasker): `#[background_task]`
//! and `#[background_worker]`.
//!
//! Use them through the `atasker` crate (`use atasker::prelude::*;`); the code
//! they generate calls `::atasker::__private`.
//!
//! The stages, one module each: parse (`args`, the options; `item`, the
//! annotated item) → model (`model`, the typed `Task` or `Worker`) → validate
//! (`validate`, errors collected in a `ctxt::Ctxt`) → expand (`expand`, which
//! also runs the pipeline). Every stage works on `proc_macro2` types so unit
//! tests can call it.

use proc_macro::TokenStream;

mod args;
mod ctxt;
mod expand;
mod item;
mod model;
mod validate;

#[cfg(test)]
mod tests;

/// Runs a function in the background: `fn f(args) -> T` (or `async fn`)
/// becomes `fn f(args) -> Task<T>`, which starts the body at once and returns
/// its handle. Visibility, attributes and docs are kept.
///
/// Where it runs is decided by the signature: an `async fn` on the
/// supervisor's runtime, a `fn` on its thread pool, a `fn` marked `static`
/// on its process pool, and one marked `static, remote` on its cluster.
///
/// Options, in any order:
/// - `static`: run in another process (owned, concrete argument and result
///   types only);
/// - `remote` (with `static`: `#[background_task(static, remote)]`): run on a
///   node of the supervisor's cluster, or in its process pool when it has
///   none;
/// - `priority = EXPR`: a `Priority` (default `Priority::Normal`);
/// - `supervisor = EXPR`: a `&'static Supervisor` (default
///   `Supervisor::global()`);
/// - `timeout = SECS | EXPR`: an int or float literal is seconds, any other
///   expression a `Duration`;
/// - `delay = SECS | EXPR` (the same forms): each call is queued that much later,
///   holding no pool slot meanwhile (a remote task's delay waits in the calling
///   process, not in Redis: it is lost if that process exits first).
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

/// Turns a function into a worker: a static handle (`tick.start()`,
/// `tick.stop()`) that runs the function back to back, on an interval, after
/// a delay, on a cron schedule, once per queued item or once per `trigger()`.
///
/// The kind, from the options:
/// - none: a loop worker (`Worker`), run back to back;
/// - `interval = SECS | EXPR`: at a fixed rate (`Worker`);
/// - `delay = SECS | EXPR`: after a pause that follows each run (`Worker`);
/// - `delay_before = SECS | EXPR`: a pause before each run (with `interval`
///   or `delay` only);
/// - `cron = "…"`: at the times a cron expression names (`Worker`): 6 fields
///   (seconds first), 5 (minute resolution) or a shorthand such as
///   `@hourly`, checked at compile time; with `tz = "Area/City"` or `tz =
///   "local"` (default UTC) and `fleet` (one node of the cluster runs each
///   tick; a `fn` only);
/// - `queue` (and `capacity = N`): once per item, the fn's only argument
///   (`QueueWorker<T>`);
/// - `event`: once per `trigger()` (`EventWorker`).
///
/// Other options: `static` (run the fn in the process pool), `priority =
/// EXPR`, `name = "…"` (default: the fn's name), `supervisor = EXPR` (a
/// `&'static Supervisor`) and `on_error = PATH` (a `fn(&WorkerError)`). An
/// int or float literal is seconds, any other expression a `Duration`.
///
/// An `async fn` runs as a coroutine, a `fn` on the thread pool, a `fn` marked
/// `static` in another process (its queue item must be `Serialize` and
/// `Deserialize`, as a static task's arguments). It returns `()`, `bool`
/// (`false` stops the worker), `Result<(), E>` or `Result<bool, E>` (`Err`
/// goes to `on_error`, which runs in this process).
///
/// ```ignore
/// use atasker::prelude::*;
///
/// #[background_worker(interval = 1)]
/// fn tick() {
///     println!("I run every second!");
/// }
///
/// tick.start();
/// ```
///
/// On an `impl` block with a `run(&mut self)` method (`run(&mut self, item:
/// T)` for `queue`), it adds `fn into_worker(self)` returning the handle, for
/// a worker with state:
///
/// ```ignore
/// struct Reporter { sent: u64 }
///
/// #[background_worker(interval = 1)]
/// impl Reporter {
///     fn run(&mut self) { self.sent += 1; }
/// }
///
/// let worker: Worker = Reporter { sent: 0 }.into_worker();
/// worker.start();
/// ```
///
/// Such a worker cannot be `static`: its state lives in this process.
#[proc_macro_attribute]
pub fn background_worker(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::background_worker(args.into(), item.into()).into()
}
