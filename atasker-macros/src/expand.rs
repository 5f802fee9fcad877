//! Expand stage: the whole pipeline per macro (parse → validate → expand), and
//! the generated code.
//!
//! For `fn resize(path: String) -> u64 { body }` the output is:
//!
//! ```text
//! fn resize(path: String) -> ::atasker::Task<u64> {
//!     fn __atasker_body(path: String) -> u64 { body }
//!     ::atasker::__private::spawn_blocking(
//!         ::atasker::__private::TaskOptions { name, priority, timeout, supervisor },
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
//! process (one error per type that does not) and gives the two calls.
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
//!         let __atasker_task_options = ::atasker::__private::TaskOptions { name, priority, timeout: None, supervisor };
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

use proc_macro2::{Delimiter, Group, Ident, Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{
    Attribute, FnArg, Generics, ItemFn, ItemImpl, Lifetime, Pat, PatIdent, ReturnType, Signature,
    Token, Type, TypeReference,
};

use crate::args::{self, CountValue, DurationValue};
use crate::ctxt::Ctxt;
use crate::item::{self, FnKind, WorkerItem};
use crate::validate::{self, Executor, Schedule, Task, Worker, WorkerKind};

/// `#[background_task]`: turns `fn f(args) -> T` (or `async fn`) into
/// `fn f(args) -> ::atasker::Task<T>` that starts the body in the background.
/// On any error, returns every error and a stand-in for the item (see
/// [`task_stand_in`]).
pub(crate) fn background_task(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new("background_task");
    let args = args::parse_task_args(args, &mut cx);
    let mut item = item;
    let mut func = item::parse_fn(item.clone(), &mut cx);
    if let Some(func) = &mut func {
        if validate::remove_other_macro(&mut func.attrs, "background_worker", &mut cx) {
            item = func.to_token_stream();
        }
    }
    let task = func.map(|func| validate::task(args, func, &mut cx));
    if let Err(errors) = cx.check() {
        let item = task.as_ref().and_then(task_stand_in).unwrap_or(item);
        return with_errors(item, errors);
    }
    let Some(task) = task else {
        // `parse_fn` reports an error whenever it returns `None`.
        return item;
    };
    match task.kind {
        FnKind::Async | FnKind::Blocking => task_fn(&task),
        FnKind::Static => static_task_fn(&task),
    }
}

/// `#[background_worker]`: turns a `fn` into a static worker handle, or adds
/// `into_worker(self)` to an `impl` block with a `run` method. On any error,
/// returns every error and a stand-in for the item (see
/// [`worker_stand_in`]).
pub(crate) fn background_worker(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new("background_worker");
    let args = args::parse_worker_args(args, &mut cx);
    let mut item = item;
    let mut parsed = item::parse_worker_item(item.clone(), &mut cx);
    if let Some(WorkerItem::Fn(func)) = &mut parsed {
        if validate::remove_other_macro(&mut func.attrs, "background_task", &mut cx) {
            item = func.to_token_stream();
        }
    }
    let worker = parsed.map(|parsed| validate::worker(args, parsed, &mut cx));
    if let Err(errors) = cx.check() {
        let item = worker.as_ref().map_or(item, worker_stand_in);
        return with_errors(item, errors);
    }
    let Some(worker) = worker else {
        // `parse_worker_item` reports an error whenever it returns `None`.
        return item;
    };
    match (worker.fn_kind, &worker.executor) {
        (FnKind::Async | FnKind::Blocking, Executor::Fn(func)) => worker_fn(&worker, func),
        (
            FnKind::Async | FnKind::Blocking,
            Executor::Impl {
                block,
                run: Some(run),
            },
        ) => worker_impl(&worker, block, run),
        (FnKind::Static, Executor::Fn(func)) => static_worker(&worker, func),
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

// ---- stand-ins, emitted beside errors ----

/// What the code around a task sees when the macro reports an error: the
/// function with the signature the macro would have given it, `-> Task<T>`,
/// and `unimplemented!()` as its body, so that the code that calls it gets no
/// second, misleading error (e.g. no method named `wait` found for `u64`). The
/// user's body stays inside, in a function nothing calls, so that rustc and
/// the IDE still check it.
///
/// `None` when the result is `impl Trait`, which only the body could give a
/// type: the item is then emitted unchanged.
fn task_stand_in(task: &Task) -> Option<TokenStream> {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = &task.func;
    if matches!(&sig.output, ReturnType::Type(_, ty) if contains_impl_trait(ty)) {
        return None;
    }
    let ident = &sig.ident;
    let unsafety = &sig.unsafety;
    let generics = &sig.generics;
    let where_clause = &generics.where_clause;
    let result = result_type(&sig.output);
    let receiver = sig.receiver().map(|receiver| quote!(#receiver,));
    let params = params(&sig.inputs);
    let outer_params = params.iter().map(|(name, ty)| quote!(#name: #ty));
    let names: Vec<TokenStream> = sig
        .receiver()
        .map(|_| quote!(self))
        .into_iter()
        .chain(params.iter().map(|(name, _)| name.to_token_stream()))
        .collect();
    let used = (!names.is_empty()).then(|| quote!(let _ = (#(#names,)*);));
    let body = unused_body(&[], sig, block);
    Some(quote! {
        #(#attrs)*
        #vis #unsafety fn #ident #generics (#receiver #(#outer_params),*) -> ::atasker::Task<#result>
        #where_clause
        {
            #body
            #used
            ::core::unimplemented!()
        }
    })
}

/// What the code around a worker sees when the macro reports an error: for a
/// `fn`, the static handle, built by `unimplemented!()`; for an `impl` block,
/// the block and `into_worker(self)`. Their types are those the macro would
/// have made, so that the code that uses them gets no second, misleading
/// error. A method (which cannot be a worker) and a trait `impl` stay as
/// they are.
fn worker_stand_in(worker: &Worker) -> TokenStream {
    let doc = INTO_WORKER_DOC;
    match &worker.executor {
        // A method is in an `impl` block, where a static cannot be.
        Executor::Fn(func) if func.sig.receiver().is_some() => func.to_token_stream(),
        Executor::Fn(func) => {
            let ItemFn {
                attrs,
                vis,
                sig,
                block,
            } = func;
            let ident = &sig.ident;
            let handle = stand_in_handle(worker, &sig.generics, &Generics::default());
            let (static_attrs, body_attrs): (Vec<&Attribute>, Vec<&Attribute>) =
                attrs.iter().partition(|attr| belongs_on_static(attr));
            let body = unused_body(&body_attrs, sig, block);
            quote! {
                #[allow(non_upper_case_globals)]
                #(#static_attrs)*
                #vis static #ident: ::atasker::__private::Lazy<#handle> =
                    ::atasker::__private::Lazy::new(|| {
                        #body
                        ::core::unimplemented!()
                    });
            }
        }
        // A trait `impl` cannot gain an inherent method.
        Executor::Impl { block, .. } if block.trait_.is_some() => block.to_token_stream(),
        Executor::Impl { block, run } => {
            let self_ty = &block.self_ty;
            let generics = &block.generics;
            let where_clause = &generics.where_clause;
            let run_generics = run.as_ref().map(|run| run.generics.clone());
            let handle = stand_in_handle(worker, &run_generics.unwrap_or_default(), generics);
            quote! {
                #block

                impl #generics #self_ty #where_clause {
                    #[doc = #doc]
                    pub fn into_worker(self) -> #handle {
                        ::core::unimplemented!()
                    }
                }
            }
        }
    }
}

/// The user's body in a function of its own that nothing calls, with
/// `attrs`; `None` for a method or a variadic fn, whose body cannot stand
/// alone.
fn unused_body(attrs: &[&Attribute], sig: &Signature, block: &syn::Block) -> Option<TokenStream> {
    if sig.receiver().is_some() || sig.variadic.is_some() {
        return None;
    }
    let Signature {
        asyncness,
        unsafety,
        generics,
        inputs,
        output,
        ..
    } = sig;
    let where_clause = &generics.where_clause;
    Some(quote! {
        #(#attrs)*
        #[allow(dead_code)]
        #asyncness #unsafety fn __atasker_body #generics (#inputs) #output #where_clause #block
    })
}

/// The handle type of a stand-in. A queue item's borrowed lifetimes become
/// `'static` (but those of `kept`, the `impl` block's), as a `static` or
/// `into_worker(self)` needs; an item that names the executor's own generic
/// parameters (`executor`) or an `impl Trait` becomes `()`.
fn stand_in_handle(worker: &Worker, executor: &Generics, kept: &Generics) -> TokenStream {
    let span = Span::call_site();
    let Some(item_ty) = &worker.item_ty else {
        return handle_type(worker, span);
    };
    let item = if executor.params.is_empty() && !contains_impl_trait(item_ty) {
        let mut item = item_ty.clone();
        StaticLifetimes { kept }.visit_type_mut(&mut item);
        item.to_token_stream()
    } else {
        quote!(())
    };
    match worker.kind {
        WorkerKind::Queue => quote!(::atasker::QueueWorker<#item>),
        WorkerKind::Repeat(_) | WorkerKind::Event => handle_type(worker, span),
    }
}

/// Turns every lifetime but those declared in `kept` into `'static`, and
/// gives elided references `'static`.
struct StaticLifetimes<'a> {
    kept: &'a Generics,
}

impl VisitMut for StaticLifetimes<'_> {
    fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
        let is_kept = self.kept.lifetimes().any(|kept| kept.lifetime == *lifetime);
        if !is_kept {
            *lifetime = Lifetime::new("'static", lifetime.span());
        }
    }

    fn visit_type_reference_mut(&mut self, reference: &mut TypeReference) {
        if reference.lifetime.is_none() {
            reference.lifetime = Some(Lifetime::new("'static", reference.and_token.span));
        }
        syn::visit_mut::visit_type_reference_mut(self, reference);
    }
}

/// Whether a type contains `impl Trait`.
fn contains_impl_trait(ty: &Type) -> bool {
    struct Find(bool);
    impl<'ast> Visit<'ast> for Find {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut find = Find(false);
    find.visit_type(ty);
    find.0
}

/// The `T` of `-> T`: `()` without a return type.
fn result_type(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    }
}

/// A thread-pool (`fn`) or coroutine (`async fn`) task.
fn task_fn(task: &Task) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = &task.func;
    let fn_token = &sig.fn_token;
    let ident = &sig.ident;
    let asyncness = &sig.asyncness;
    let generics = &sig.generics;
    let where_clause = &generics.where_clause;
    let inputs = &sig.inputs;
    let output = &sig.output;
    let result = result_type(output);

    // The outer function takes the arguments by name; the inner one keeps the
    // user's patterns.
    let params = params(inputs);
    let outer_params = params.iter().map(|(name, ty)| quote!(#name: #ty));
    let args = params.iter().map(|(name, _)| name);

    // The spawn call carries the span of the function's name, so that rustc's
    // "cannot be sent between threads safely" and "borrowed data escapes"
    // errors point at the function, not at the attribute. The closure does
    // not: it stays marked as generated, so lints on user code (e.g. clippy's
    // `redundant_closure`) skip it.
    let options = options(task);
    let span = ident.span();
    let spawn = match task.kind {
        FnKind::Async => {
            let future = quote_spanned!(span=> __atasker_body(#(#args),*));
            quote_spanned!(span=> ::atasker::__private::spawn_async(#options, #future))
        }
        // `Static` tasks are made by `static_task_fn`.
        FnKind::Blocking | FnKind::Static => {
            let closure = quote!(move || __atasker_body(#(#args),*));
            quote_spanned!(span=> ::atasker::__private::spawn_blocking(#options, #closure))
        }
    };

    quote! {
        #(#attrs)*
        #vis #fn_token #ident #generics (#(#outer_params),*) -> ::atasker::Task<#result>
        #where_clause
        {
            #asyncness fn __atasker_body #generics (#inputs) #output #where_clause #block
            #spawn
        }
    }
}

/// A process-pool (`static`) task: the body is registered in the executable's
/// registry of static tasks (so that a child process, running the same
/// executable, finds it by its index) and the call sends the arguments to the
/// process pool.
fn static_task_fn(task: &Task) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = &task.func;
    let fn_token = &sig.fn_token;
    let ident = &sig.ident;
    let inputs = &sig.inputs;
    let output = &sig.output;
    let result = result_type(output);
    let params = params(inputs);
    let outer_params = params.iter().map(|(name, ty)| quote!(#name: #ty));
    let names: Vec<&Ident> = params.iter().map(|(name, _)| name).collect();

    // `static_fn::<(A, B), R>()` checks the types that cross (the tuple's
    // parentheses carry the span of the argument list, so that rustc's error
    // about an argument that cannot cross points there) and gives the two
    // calls. Both uses are the same tokens, so rustc reports such a type once.
    let types = params.iter().map(|(_, ty)| ty);
    let mut args = Group::new(Delimiter::Parenthesis, quote!(#(#types,)*));
    args.set_span(sig.paren_token.span.join());
    let span = ident.span();
    let check = quote_spanned!(span=> ::atasker::__private::static_fn::<#args, #result>());
    let entry = static_entry(
        ident,
        &check,
        quote!(|(#(#names,)*)| __atasker_body(#(#names),*)),
    );
    let options = options(task);
    let spawn = quote_spanned!(span=> #check.spawn(#options, &__ATASKER_ENTRY, (#(#names,)*)));

    quote! {
        #(#attrs)*
        #vis #fn_token #ident (#(#outer_params),*) -> ::atasker::Task<#result> {
            fn __atasker_body(#inputs) #output #block
            #entry
            #spawn
        }
    }
}

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

/// The `TaskOptions` literal.
fn options(task: &Task) -> TokenStream {
    let name = task.func.sig.ident.unraw().to_string();
    let priority = match &task.priority {
        Some(priority) => quote!(#priority),
        None => quote!(::atasker::__private::Priority::Normal),
    };
    let timeout = match &task.timeout {
        None => quote!(::core::option::Option::None),
        Some(DurationValue::Seconds { secs, span }) => {
            let mut secs = Literal::f64_suffixed(*secs);
            secs.set_span(*span);
            quote!(::core::option::Option::Some(::atasker::__private::seconds(#secs)))
        }
        Some(DurationValue::Expr(expr)) => {
            quote!(::core::option::Option::Some(::atasker::__private::duration(#expr)))
        }
    };
    let supervisor = match &task.supervisor {
        Some(supervisor) => quote!(::core::option::Option::Some(#supervisor)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::atasker::__private::TaskOptions {
            name: ::core::concat!(::core::module_path!(), "::", #name),
            priority: #priority,
            timeout: #timeout,
            supervisor: #supervisor,
        }
    }
}

// ---- workers ----

/// A `fn` worker: a static handle, built on first use.
fn worker_fn(worker: &Worker, func: &ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let ident = &sig.ident;
    let asyncness = &sig.asyncness;
    let inputs = &sig.inputs;
    let output = &sig.output;
    let span = ident.span();
    let handle = handle_type(worker, span);
    let constructor = constructor(worker, "", span);
    let options = worker_options(worker, || ident.unraw().to_string());
    // As for tasks, the call and the static's type carry the span of the
    // function's name, so that rustc's errors about the executor (not `Send`,
    // not a `WorkerOutput`) and the handle (a queue item that is not `Send`)
    // point at the function.
    let call = quote_spanned!(span=>
        ::atasker::__private::#constructor(#options, __atasker_body)
    );
    let ty = quote_spanned!(span=> ::atasker::__private::Lazy<#handle>);
    let (static_attrs, body_attrs): (Vec<&Attribute>, Vec<&Attribute>) =
        attrs.iter().partition(|attr| belongs_on_static(attr));
    quote! {
        #[allow(non_upper_case_globals)]
        #(#static_attrs)*
        #vis static #ident: #ty =
            ::atasker::__private::Lazy::new(|| {
                #(#body_attrs)*
                #asyncness fn __atasker_body(#inputs) #output #block
                #call
            });
    }
}

/// Whether a `fn` worker's attribute goes on the static handle: docs, `cfg`,
/// lint levels and `deprecated` describe the item. The others (`inline`,
/// `must_use`, `tracing::instrument`, …) only make sense on a function, so
/// they go on the function that holds the body.
fn belongs_on_static(attr: &Attribute) -> bool {
    const ON_STATIC: &[&str] = &[
        "doc",
        "cfg",
        "cfg_attr",
        "allow",
        "warn",
        "deny",
        "forbid",
        "expect",
        "deprecated",
    ];
    let path = attr.path();
    path.leading_colon.is_none()
        && path.segments.len() == 1
        && ON_STATIC.iter().any(|name| path.segments[0].ident == name)
}

/// The docs of `into_worker`. No intra-doc link to `run`: it is usually
/// private, and rustdoc warns about public docs linking to private items.
const INTO_WORKER_DOC: &str = " Turns this value into a worker that calls its `run` method \
                               (made by `#[background_worker]`); start it with `.start()`.";

/// An `impl`-block worker: the block unchanged, plus `into_worker(self)`.
fn worker_impl(worker: &Worker, block: &ItemImpl, run: &Signature) -> TokenStream {
    let self_ty = &block.self_ty;
    let handle = handle_type(worker, Span::call_site());
    let options = worker_options(worker, || validate::type_to_string(self_ty));
    // The call (and `Self::run`) carries the span of `run`, so that rustc's
    // errors about the executor and the state (not `Send`, not a
    // `WorkerOutput`) point at it. The async closures stay marked as
    // generated, so lints on user code skip them.
    let span = run.ident.span();
    let constructor = constructor(worker, "state_", span);
    let run = match (worker.fn_kind, &worker.kind) {
        (FnKind::Async, WorkerKind::Queue) => quote! {
            |mut __atasker_state, __atasker_item| async move {
                __atasker_state.run(__atasker_item).await
            }
        },
        (FnKind::Async, _) => quote! {
            |mut __atasker_state| async move { __atasker_state.run().await }
        },
        (FnKind::Blocking | FnKind::Static, _) => quote_spanned!(span=> Self::run),
    };
    let call = quote_spanned!(span=> ::atasker::__private::#constructor(#options, self, #run));
    let doc = INTO_WORKER_DOC;
    quote! {
        #block

        impl #self_ty {
            #[doc = #doc]
            pub fn into_worker(self) -> #handle {
                #call
            }
        }
    }
}

/// A process-pool (`static`) `fn` worker: a static handle, as for other `fn`
/// workers, whose executor is registered like a static task's body; each run
/// is one process-pool task, awaited by a coroutine.
fn static_worker(worker: &Worker, func: &ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let ident = &sig.ident;
    let inputs = &sig.inputs;
    let output = &sig.output;
    let span = ident.span();
    let handle = handle_type(worker, span);
    let constructor = constructor(worker, "", span);
    let options = worker_options(worker, || ident.unraw().to_string());
    // A queue worker's item (its only argument, by the name the fn gives
    // it) crosses alone; the other kinds send `()`.
    let params = params(inputs);
    let (item_ty, closure, run) = match params.first() {
        Some((name, ty)) => (
            quote!(#ty),
            quote!(|#name| __atasker_body(#name)),
            quote! {
                move |#name| __atasker_static.run(__atasker_task_options, &__ATASKER_ENTRY, #name)
            },
        ),
        None => (
            quote_spanned!(span=> ()),
            quote!(|()| __atasker_body()),
            quote! {
                move || __atasker_static.run(__atasker_task_options, &__ATASKER_ENTRY, ())
            },
        ),
    };
    // `static_worker::<I, R>()` checks the item and the return type, as
    // `static_fn` does for tasks.
    let result = result_type(output);
    let check = quote_spanned!(span=> ::atasker::__private::static_worker::<#item_ty, #result>());
    let entry = static_entry(ident, &check, closure);
    // As for other `fn` workers, the call and the static's type carry the
    // span of the function's name.
    let call = quote_spanned!(span=>
        ::atasker::__private::#constructor(__atasker_options, #run)
    );
    let ty = quote_spanned!(span=> ::atasker::__private::Lazy<#handle>);
    let (static_attrs, body_attrs): (Vec<&Attribute>, Vec<&Attribute>) =
        attrs.iter().partition(|attr| belongs_on_static(attr));
    quote! {
        #[allow(non_upper_case_globals)]
        #(#static_attrs)*
        #vis static #ident: #ty =
            ::atasker::__private::Lazy::new(|| {
                #(#body_attrs)*
                fn __atasker_body(#inputs) #output #block
                #entry
                let __atasker_options = #options;
                // Each run is a process-pool task under the worker's name,
                // priority and supervisor.
                let __atasker_task_options = ::atasker::__private::TaskOptions {
                    name: __atasker_options.name,
                    priority: __atasker_options.priority,
                    timeout: ::core::option::Option::None,
                    supervisor: __atasker_options.supervisor,
                };
                let __atasker_static = #check;
                #call
            });
    }
}

/// The handle type: `Worker`, `QueueWorker<T>` or `EventWorker`, at `span`
/// (the item type keeps its own).
fn handle_type(worker: &Worker, span: Span) -> TokenStream {
    match (&worker.kind, &worker.item_ty) {
        (WorkerKind::Repeat(_), _) => quote_spanned!(span=> ::atasker::Worker),
        (WorkerKind::Queue, Some(item_ty)) => {
            quote_spanned!(span=> ::atasker::QueueWorker<#item_ty>)
        }
        // Rejected by validation.
        (WorkerKind::Queue, None) => quote_spanned!(span=> ::atasker::QueueWorker<()>),
        (WorkerKind::Event, _) => quote_spanned!(span=> ::atasker::EventWorker),
    }
}

/// The `__private` constructor: `[state_]{worker,queue_worker,event_worker}[_async]`,
/// at `span`, where rustc reports the unmet bounds of the call.
fn constructor(worker: &Worker, prefix: &str, span: Span) -> Ident {
    let kind = match worker.kind {
        WorkerKind::Repeat(_) => "worker",
        WorkerKind::Queue => "queue_worker",
        WorkerKind::Event => "event_worker",
    };
    // A static executor's runs are awaited by a coroutine.
    let suffix = match worker.fn_kind {
        FnKind::Async | FnKind::Static => "_async",
        FnKind::Blocking => "",
    };
    Ident::new(&format!("{prefix}{kind}{suffix}"), span)
}

/// The `WorkerOptions` literal; `default_name` gives the name when there is
/// no `name = "…"`.
fn worker_options(worker: &Worker, default_name: impl FnOnce() -> String) -> TokenStream {
    let none = quote!(::core::option::Option::None);
    let some = |value: TokenStream| quote!(::core::option::Option::Some(#value));
    let name = match &worker.name {
        Some(name) => name.to_token_stream(),
        None => Literal::string(&default_name()).to_token_stream(),
    };
    let priority = match &worker.priority {
        Some(priority) => quote!(#priority),
        None => quote!(::atasker::__private::Priority::Normal),
    };
    let supervisor = match &worker.supervisor {
        Some(supervisor) => some(quote!(#supervisor)),
        None => none.clone(),
    };
    let on_error = match &worker.on_error {
        Some(on_error) => some(quote!(#on_error)),
        None => none.clone(),
    };
    let schedule = match &worker.kind {
        WorkerKind::Repeat(Schedule::Interval(interval)) => {
            let interval = duration(interval);
            quote!(::atasker::__private::Schedule::Interval(#interval))
        }
        WorkerKind::Repeat(Schedule::Delay(delay)) => {
            let delay = duration(delay);
            quote!(::atasker::__private::Schedule::Delay(#delay))
        }
        WorkerKind::Repeat(Schedule::Loop) | WorkerKind::Queue | WorkerKind::Event => {
            quote!(::atasker::__private::Schedule::Loop)
        }
    };
    let delay_before = match &worker.delay_before {
        Some(delay_before) => some(duration(delay_before)),
        None => none.clone(),
    };
    let capacity = match &worker.capacity {
        Some(CountValue::Literal { n, span }) => {
            let mut n = Literal::u64_unsuffixed(*n);
            n.set_span(*span);
            some(n.to_token_stream())
        }
        Some(CountValue::Expr(expr)) => some(quote!(#expr)),
        None => none,
    };
    quote! {
        ::atasker::__private::WorkerOptions {
            name: #name,
            priority: #priority,
            supervisor: #supervisor,
            on_error: #on_error,
            schedule: #schedule,
            delay_before: #delay_before,
            capacity: #capacity,
        }
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
