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
//! The user's body keeps its tokens (and so its spans) in the inner function;
//! everything generated goes through `::atasker::__private`, `::core` and
//! `::std`, so it compiles whatever the user names their own items.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{FnArg, ItemFn, Pat, PatIdent, ReturnType};

use crate::args::{self, DurationValue};
use crate::ctxt::Ctxt;
use crate::item::{self, FnKind};
use crate::validate::{self, Task};

/// `#[background_task]`: turns `fn f(args) -> T` (or `async fn`) into
/// `fn f(args) -> ::atasker::Task<T>` that starts the body in the background.
/// On any error, returns the user's item unchanged plus every error.
pub(crate) fn background_task(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new("background_task");
    let args = args::parse_task_args(args, &mut cx);
    let task =
        item::parse_fn(item.clone(), &mut cx).map(|func| validate::task(args, func, &mut cx));
    if let Err(errors) = cx.check() {
        return with_errors(item, errors);
    }
    let Some(task) = task else {
        // `parse_fn` reports an error whenever it returns `None`.
        return item;
    };
    let expanded = match task.kind {
        FnKind::Async | FnKind::Blocking => Ok(task_fn(&task)),
        FnKind::Static => static_task_fn(&task),
    };
    expanded.unwrap_or_else(|errors| with_errors(item, errors))
}

/// `#[background_worker]`: not implemented yet.
pub(crate) fn background_worker(_args: TokenStream, item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        "`#[background_worker]` is not implemented yet",
    );
    with_errors(item, error)
}

/// The user's item, unchanged, followed by the errors, so that the IDE and the
/// code that calls the item keep working.
fn with_errors(item: TokenStream, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    quote!(#item #errors)
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
    let result = match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };

    // The outer function takes the arguments by name; the inner one keeps the
    // user's patterns.
    let params: Vec<_> = inputs
        .iter()
        .enumerate()
        .filter_map(|(index, input)| match input {
            FnArg::Typed(arg) => Some((param_name(&arg.pat, index), &arg.ty)),
            // Rejected by validation.
            FnArg::Receiver(_) => None,
        })
        .collect();
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

/// A process-pool (`static`) task. The process pool does not exist yet, so a
/// valid `static` task is, for now, an error at `static`.
fn static_task_fn(task: &Task) -> syn::Result<TokenStream> {
    let span = task.static_.unwrap_or_else(Span::call_site);
    Err(syn::Error::new(
        span,
        "`#[background_task(static)]`: the process pool is not available yet",
    ))
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
