//! The code of a `#[background_worker]`: for a `fn`, a static handle built on
//! first use (for a `static` one, with the body registered as a static task's
//! is); for an `impl` block, `into_worker(self)`.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::{Attribute, ItemFn, ItemImpl, Signature, Type};

use super::{count, duration, optional, params, priority, result_type, static_entry};
use crate::item::type_to_string;
use crate::model::{FnKind, Schedule, Worker, WorkerKind};

/// A `fn` worker: a static handle, built on first use, whose body runs on
/// the runtime or the thread pool or, `static`, in the process pool.
pub(super) fn worker_fn(worker: &Worker, func: &ItemFn) -> TokenStream {
    let ident = &func.sig.ident;
    // As for tasks, the call (in `local_init` and `static_init`) and the
    // static's type carry the span of the function's name, so that rustc's
    // errors about the executor (not `Send`, not a `WorkerOutput`) and the
    // handle (a queue item that is not `Send`) point at the function.
    let span = ident.span();
    let constructor = constructor(worker, "", span);
    let options = worker_options(worker, || ident.unraw().to_string());
    let init = match worker.fn_kind {
        FnKind::Async | FnKind::Blocking => local_init(func, &constructor, options),
        FnKind::Static => static_init(func, &constructor, options),
    };
    handle_static(
        func,
        lazy_handle_type(worker, span),
        |body_attrs| quote!(#(#body_attrs)* #init),
    )
}

/// What builds the handle of a worker that runs `func` in this process: the
/// body, and the call to `constructor`.
fn local_init(func: &ItemFn, constructor: &Ident, options: TokenStream) -> TokenStream {
    let ItemFn { sig, block, .. } = func;
    let (asyncness, inputs, output) = (&sig.asyncness, &sig.inputs, &sig.output);
    let call = quote_spanned!(sig.ident.span()=>
        ::atasker::__private::#constructor(#options, __atasker_body)
    );
    quote! {
        #asyncness fn __atasker_body(#inputs) #output #block
        #call
    }
}

/// What builds the handle of a process-pool (`static`) worker: the body,
/// registered like a static task's, and the call to `constructor` with an
/// executor that runs each run as one process-pool task, awaited by a
/// coroutine.
fn static_init(func: &ItemFn, constructor: &Ident, options: TokenStream) -> TokenStream {
    let ItemFn { sig, block, .. } = func;
    let (ident, inputs, output) = (&sig.ident, &sig.inputs, &sig.output);
    let span = ident.span();
    let params = params(inputs);
    let (item_ty, closure, run) = static_item(params.first(), span);
    // `static_worker::<I, R>()` checks the item and the return type, as
    // `static_fn` does for tasks.
    let result = result_type(output);
    let check = quote_spanned!(span=> ::atasker::__private::static_worker::<#item_ty, #result>());
    let entry = static_entry(ident, &check, closure);
    let call = quote_spanned!(span=>
        ::atasker::__private::#constructor(__atasker_options, #run)
    );
    quote! {
        fn __atasker_body(#inputs) #output #block
        #entry
        let __atasker_options = #options;
        // Each run is a process-pool task under the worker's name,
        // priority and supervisor.
        let __atasker_task_options = ::atasker::__private::TaskOptions {
            name: __atasker_options.name,
            priority: __atasker_options.priority,
            timeout: ::core::option::Option::None,
            delay: ::core::option::Option::None,
            supervisor: __atasker_options.supervisor,
            limit: ::core::option::Option::None,
            retry: ::core::option::Option::None,
        };
        let __atasker_static = #check;
        #call
    }
}

/// What crosses to the process pool for each run of a static worker: a queue
/// worker's item (its only argument, `param`, by the name the fn gives it)
/// alone, the other kinds `()`. Returns the item's type, the closure that
/// calls the body in the child, and the executor that sends it.
fn static_item(
    param: Option<&(Ident, &Type)>,
    span: Span,
) -> (TokenStream, TokenStream, TokenStream) {
    match param {
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
    }
}

/// The static handle of the worker `fn` `func`: `static NAME: TY =
/// Lazy::new(|| { … })`. Its docs, `cfg` and lint attributes go on the static
/// (see [`belongs_on_static`]); `init` gets the others, for the function that
/// holds the body, and gives the closure's body.
pub(super) fn handle_static(
    func: &ItemFn,
    ty: TokenStream,
    init: impl FnOnce(&[&Attribute]) -> TokenStream,
) -> TokenStream {
    let (static_attrs, body_attrs): (Vec<&Attribute>, Vec<&Attribute>) =
        func.attrs.iter().partition(|attr| belongs_on_static(attr));
    let init = init(&body_attrs);
    let vis = &func.vis;
    let ident = &func.sig.ident;
    quote! {
        #[allow(non_upper_case_globals)]
        #(#static_attrs)*
        #vis static #ident: #ty =
            ::atasker::__private::Lazy::new(|| {
                #init
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
const INTO_WORKER_DOC: &str = " Turns this value into a worker that calls its `run` \
                               method (made by `#[background_worker]`); start it with \
                               `.start()`.";

/// An `impl`-block worker: the block unchanged, plus `into_worker(self)`.
pub(super) fn worker_impl(worker: &Worker, block: &ItemImpl, run: &Signature) -> TokenStream {
    let self_ty = &block.self_ty;
    let handle = handle_type(worker, Span::call_site());
    let options = worker_options(worker, || type_to_string(self_ty));
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
    // Validation leaves the block no generics, so its second block is
    // `impl Type`.
    with_into_worker(block, &handle, call)
}

/// The user's `block` unchanged, plus a second block with
/// `into_worker(self) -> handle`, whose body is `body` (also for the
/// stand-in). The second block has the generics and `where` clause of the
/// user's.
pub(super) fn with_into_worker(
    block: &ItemImpl,
    handle: &TokenStream,
    body: TokenStream,
) -> TokenStream {
    let self_ty = &block.self_ty;
    let generics = &block.generics;
    let where_clause = &generics.where_clause;
    let doc = INTO_WORKER_DOC;
    quote! {
        #block

        impl #generics #self_ty #where_clause {
            #[doc = #doc]
            pub fn into_worker(self) -> #handle {
                #body
            }
        }
    }
}

/// `::atasker::__private::Lazy<Handle>`, the type of a `fn` worker's static,
/// at `span`.
fn lazy_handle_type(worker: &Worker, span: Span) -> TokenStream {
    let handle = handle_type(worker, span);
    quote_spanned!(span=> ::atasker::__private::Lazy<#handle>)
}

/// The handle type: `Worker`, `QueueWorker<T>` or `EventWorker`, at `span`
/// (the item type keeps its own).
pub(super) fn handle_type(worker: &Worker, span: Span) -> TokenStream {
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
    let options = &worker.options;
    let name = match &options.name {
        Some(name) => name.to_token_stream(),
        None => Literal::string(&default_name()).to_token_stream(),
    };
    let priority = priority(options.priority.as_ref());
    let supervisor = optional(options.supervisor.as_ref());
    let on_error = optional(options.on_error.as_ref());
    let schedule = schedule(&worker.kind);
    let delay_before = optional(options.delay_before.as_ref().map(duration));
    let capacity = optional(options.capacity.as_ref().map(count));
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

/// The `Schedule`: a queue or event worker's is `Loop` (it waits for work).
fn schedule(kind: &WorkerKind) -> TokenStream {
    match kind {
        WorkerKind::Repeat(Schedule::Interval(interval)) => {
            let interval = duration(interval);
            quote!(::atasker::__private::Schedule::Interval(#interval))
        }
        WorkerKind::Repeat(Schedule::Delay(delay)) => {
            let delay = duration(delay);
            quote!(::atasker::__private::Schedule::Delay(#delay))
        }
        WorkerKind::Repeat(Schedule::Cron { expr, tz, fleet }) => {
            let tz = optional(tz.as_ref());
            quote! {
                ::atasker::__private::Schedule::Cron { expr: #expr, tz: #tz, fleet: #fleet }
            }
        }
        WorkerKind::Repeat(Schedule::Loop) | WorkerKind::Queue | WorkerKind::Event => {
            quote!(::atasker::__private::Schedule::Loop)
        }
    }
}
