//! Expand stage: the whole pipeline per macro (parse → model → validate →
//! expand), and the generated code: tasks in `expand/task.rs`, workers in
//! `expand/worker.rs`, the stand-ins emitted beside errors in
//! `expand/stand_in.rs`.
//!
//! For `fn resize(path: String) -> u64 { body }` the output is:
//!
//! ```text
//! fn resize(path: String) -> ::atasker::Task<u64> {
//!     fn __atasker_body(path: String) -> u64 { body }
//!     ::atasker::__private::spawn_blocking(
//!         ::atasker::__private::TaskOptions { name, priority, timeout, delay, supervisor },
//!         move || __atasker_body(path),
//!     )
//! }
//! ```
//!
//! With `static` (the process pool), the body is also registered, so that a
//! child process running the same executable finds it:
//!
//! ```text
//! fn crunch(n: u64) -> ::atasker::Task<u64> {
//!     fn __atasker_body(n: u64) -> u64 { body }
//!     fn __atasker_call(__atasker_input: &[u8], __atasker_output: &mut Vec<u8>) -> Result<(), String> {
//!         ::atasker::__private::static_fn::<(u64,), u64>()
//!             .call(__atasker_input, __atasker_output, |(n,)| __atasker_body(n))
//!     }
//!     #[::atasker::__private::linkme::distributed_slice(::atasker::__private::ATASKER_STATIC_TASKS_V0_1)]
//!     #[linkme(crate = ::atasker::__private::linkme)]
//!     static __ATASKER_ENTRY: ::atasker::__private::StaticEntry =
//!         ::atasker::__private::StaticEntry { name: "module::crunch", call: __atasker_call };
//!     ::atasker::__private::static_fn::<(u64,), u64>()
//!         .spawn(::atasker::__private::TaskOptions { … }, &__ATASKER_ENTRY, (n,))
//! }
//! ```
//!
//! `static_fn::<(Args…), Result>()` checks that the types cross to another
//! process (one error per type that does not) and gives the calls: `call` in
//! the child, `spawn` (or `spawn_remote`) in the parent.
//!
//! With `static, remote` the code is the same but for the last call,
//! `.spawn_remote(…, &__ATASKER_ENTRY, (n,))`: a node of the supervisor's
//! cluster runs the body (its process pool does when it has no cluster).
//!
//! For `#[background_worker(interval = 1)] fn tick() { body }`:
//!
//! ```text
//! #[allow(non_upper_case_globals)]
//! static tick: ::atasker::__private::Lazy<::atasker::Worker> =
//!     ::atasker::__private::Lazy::new(|| {
//!         fn __atasker_body() { body }
//!         ::atasker::__private::worker(
//!             ::atasker::__private::WorkerOptions { name, priority, …, capacity },
//!             __atasker_body,
//!         )
//!     });
//! ```
//!
//! A `static` worker registers its body as a static task does, with
//! `static_worker::<Item, Return>()` (whose `call` turns the executor's return
//! value into its outcome in the child; the item is `()` but for queue
//! workers), and each run is one process-pool task awaited by a coroutine. For
//! `#[background_worker(queue, static)] fn handle(item: Job) { body }`:
//!
//! ```text
//! static handle: ::atasker::__private::Lazy<::atasker::QueueWorker<Job>> =
//!     ::atasker::__private::Lazy::new(|| {
//!         fn __atasker_body(item: Job) { body }
//!         fn __atasker_call(…) -> … {
//!             ::atasker::__private::static_worker::<Job, ()>().call(…, |item| __atasker_body(item))
//!         }
//!         static __ATASKER_ENTRY: ::atasker::__private::StaticEntry = …; // registered
//!         let __atasker_options = ::atasker::__private::WorkerOptions { … };
//!         let __atasker_task_options = ::atasker::__private::TaskOptions { name, priority, timeout: None, delay: None, supervisor };
//!         let __atasker_static = ::atasker::__private::static_worker::<Job, ()>();
//!         ::atasker::__private::queue_worker_async(__atasker_options, move |item| {
//!             __atasker_static.run(__atasker_task_options, &__ATASKER_ENTRY, item)
//!         })
//!     });
//! ```
//!
//! and for `#[background_worker(interval = 1)] impl Reporter { fn run(&mut self) { … } }`
//! the block is kept and a second one added:
//!
//! ```text
//! impl Reporter {
//!     pub fn into_worker(self) -> ::atasker::Worker {
//!         ::atasker::__private::state_worker(
//!             ::atasker::__private::WorkerOptions { … },
//!             self,
//!             Self::run,
//!         )
//!     }
//! }
//! ```
//!
//! On an error, the errors come with a stand-in for the item: the function
//! `-> ::atasker::Task<T>`, the handle static or `into_worker(self)`, with the
//! types the macro would have made and `unimplemented!()` as the body, so that
//! the code that uses the item sees no second, misleading error.
//!
//! The user's body keeps its tokens (and so its spans) in the inner function;
//! everything generated goes through `::atasker::__private`, `::core` and
//! `::std`, so it compiles whatever the user names their own items.

mod stand_in;
mod task;
mod worker;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{Expr, FnArg, Pat, PatIdent, ReturnType, Token, Type};

use crate::args::{self, CountValue, DurationValue, TaskArgs, WorkerArgs};
use crate::ctxt::Ctxt;
use crate::item::{self, WorkerItem};
use crate::model::{Executor, FnKind, Task, Worker};
use crate::validate;

/// `#[background_task]`: turns `fn f(args) -> T` (or `async fn`) into
/// `fn f(args) -> ::atasker::Task<T>` that starts the body in the background.
/// On any error, returns every error and a stand-in for the item (see
/// [`stand_in::task`]).
pub(crate) fn background_task(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new("background_task");
    let args = args::parse::<TaskArgs>(args, &mut cx);
    let mut item = item;
    let mut func = item::parse_fn(item.clone(), &mut cx);
    if let Some(func) = &mut func {
        if validate::remove_other_macro(&mut func.attrs, "background_worker", &mut cx) {
            item = func.to_token_stream();
        }
    }
    let task = func.map(|func| Task::new(&args, func));
    if let Some(task) = &task {
        validate::task(&args, task, &mut cx);
    }
    if let Err(errors) = cx.check() {
        let item = task.as_ref().and_then(stand_in::task).unwrap_or(item);
        return with_errors(item, errors);
    }
    let Some(task) = task else {
        // `parse_fn` reports an error whenever it returns `None`.
        return item;
    };
    match task.kind {
        FnKind::Async | FnKind::Blocking => task::task_fn(&task),
        FnKind::Static => task::static_task_fn(&task),
    }
}

/// `#[background_worker]`: turns a `fn` into a static worker handle, or adds
/// `into_worker(self)` to an `impl` block with a `run` method. On any error,
/// returns every error and a stand-in for the item (see [`stand_in::worker`]).
pub(crate) fn background_worker(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new("background_worker");
    let args = args::parse::<WorkerArgs>(args, &mut cx);
    let mut item = item;
    let mut parsed = item::parse_worker_item(item.clone(), &mut cx);
    if let Some(WorkerItem::Fn(func)) = &mut parsed {
        if validate::remove_other_macro(&mut func.attrs, "background_task", &mut cx) {
            item = func.to_token_stream();
        }
    }
    let worker = parsed.map(|parsed| Worker::new(&args, parsed));
    if let Some(worker) = &worker {
        validate::worker(&args, worker, &mut cx);
    }
    if let Err(errors) = cx.check() {
        let item = worker.as_ref().map_or(item, stand_in::worker);
        return with_errors(item, errors);
    }
    let Some(worker) = worker else {
        // `parse_worker_item` reports an error whenever it returns `None`.
        return item;
    };
    match (worker.fn_kind, &worker.executor) {
        (_, Executor::Fn(func)) => worker::worker_fn(&worker, func),
        (
            FnKind::Async | FnKind::Blocking,
            Executor::Impl {
                block,
                run: Some(run),
            },
        ) => worker::worker_impl(&worker, block, run),
        // Rejected by validation: an `impl` block without `run`, and a
        // `static` one (its state lives in this process).
        (_, Executor::Impl { .. }) => item,
    }
}

/// The item (or its stand-in) followed by the errors.
fn with_errors(item: TokenStream, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    quote!(#item #errors)
}

// ---- shared by tasks and workers ----

/// The outer function's arguments: for each typed argument, the name it gets
/// (see [`param_name`]) and its type. The user's patterns stay on the inner
/// function.
fn params(inputs: &Punctuated<FnArg, Token![,]>) -> Vec<(Ident, &Type)> {
    inputs
        .iter()
        .enumerate()
        .filter_map(|(index, input)| match input {
            FnArg::Typed(arg) => Some((param_name(&arg.pat, index), &*arg.ty)),
            // Rejected by validation.
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// The name the outer function gives argument `index`: the user's own name
/// when the pattern is just a name (`x`, `mut x`), so that the docs show it;
/// else a hygienic `__argN`. A name starting with `_` says "unused", so it is
/// not reused for an argument the outer function passes on.
fn param_name(pat: &Pat, index: usize) -> Ident {
    match pat {
        Pat::Ident(PatIdent {
            by_ref: None,
            subpat: None,
            ident,
            ..
        }) if !ident.unraw().to_string().starts_with('_') => ident.clone(),
        _ => Ident::new(&format!("__arg{index}"), Span::mixed_site()),
    }
}

/// The `T` of `-> T`: `()` without a return type.
fn result_type(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    }
}

/// The registration of a `static` function's `__atasker_body`:
/// `__atasker_call`, which the child runs (`check` gives the call that decodes
/// the arguments, calls `closure` and encodes the result), and
/// `__ATASKER_ENTRY`, its entry in the registry.
fn static_entry(ident: &Ident, check: &TokenStream, closure: TokenStream) -> TokenStream {
    let name = ident.unraw().to_string();
    let call = quote_spanned!(ident.span()=>
        #check.call(__atasker_input, __atasker_output, #closure)
    );
    quote! {
        fn __atasker_call(
            __atasker_input: &[u8],
            __atasker_output: &mut ::std::vec::Vec<u8>,
        ) -> ::core::result::Result<(), ::std::string::String> {
            #call
        }
        #[::atasker::__private::linkme::distributed_slice(::atasker::__private::ATASKER_STATIC_TASKS_V0_1)]
        #[linkme(crate = ::atasker::__private::linkme)]
        static __ATASKER_ENTRY: ::atasker::__private::StaticEntry = ::atasker::__private::StaticEntry {
            name: ::core::concat!(::core::module_path!(), "::", #name),
            call: __atasker_call,
        };
    }
}

/// `priority = EXPR`, or `Priority::Normal`.
fn priority(priority: Option<&Expr>) -> TokenStream {
    match priority {
        Some(priority) => quote!(#priority),
        None => quote!(::atasker::__private::Priority::Normal),
    }
}

/// `Some(value)` or `None`.
fn optional(value: Option<impl ToTokens>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// A `N | EXPR` value: the literal, or the expression as written.
fn count(value: &CountValue) -> TokenStream {
    match value {
        CountValue::Literal { n, span } => {
            let mut n = Literal::u64_unsuffixed(*n);
            n.set_span(*span);
            n.to_token_stream()
        }
        CountValue::Expr(expr) => quote!(#expr),
    }
}

/// A `SECS | EXPR` value as a `Duration` expression.
fn duration(value: &DurationValue) -> TokenStream {
    match value {
        DurationValue::Seconds { secs, span } => {
            let mut secs = Literal::f64_suffixed(*secs);
            secs.set_span(*span);
            quote!(::atasker::__private::seconds(#secs))
        }
        DurationValue::Expr(expr) => quote!(::atasker::__private::duration(#expr)),
    }
}
