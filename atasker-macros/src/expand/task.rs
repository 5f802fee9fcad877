//! The code of a `#[background_task]`: the outer function that starts the
//! body (kept in an inner `__atasker_body`) on the runtime, the thread pool
//! or, registered, the process pool (or, `remote`, the cluster).

use proc_macro2::{Delimiter, Group, Ident, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{ItemFn, Token, Type};

use super::{count, duration, optional, params, priority, result_type, static_entry};
use crate::model::{FnKind, Task};

/// A thread-pool (`fn`) or coroutine (`async fn`) task.
pub(super) fn task_fn(task: &Task) -> TokenStream {
    let ItemFn { sig, block, .. } = &task.func;
    let ident = &sig.ident;
    let asyncness = &sig.asyncness;
    let generics = &sig.generics;
    let where_clause = &generics.where_clause;
    let inputs = &sig.inputs;
    let output = &sig.output;

    // The outer function takes the arguments by name; the inner one keeps the
    // user's patterns.
    let params = params(inputs);
    let args: Vec<&Ident> = params.iter().map(|(name, _)| name).collect();

    // The spawn call carries the span of the function's name, so that rustc's
    // "cannot be sent between threads safely" and "borrowed data escapes"
    // errors point at the function, not at the attribute. The closure does
    // not: it stays marked as generated, so lints on user code (e.g. clippy's
    // `redundant_closure`) skip it.
    let options = options(task);
    let span = ident.span();
    let spawn = match task.kind {
        _ if task.options.retries.is_some() => retried_call(task, &params, options),
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

    outer_fn(
        &task.func,
        &sig.fn_token,
        &params,
        quote! {
            #asyncness fn __atasker_body #generics (#inputs) #output #where_clause #block
            #spawn
        },
    )
}

/// The spawn call of a thread-pool or coroutine task with `retries`: each run
/// gets its own copy of the arguments.
fn retried_call(task: &Task, params: &[(Ident, &Type)], options: TokenStream) -> TokenStream {
    let sig = &task.func.sig;
    let span = sig.ident.span();
    let retried = match task.kind {
        FnKind::Async => Ident::new("spawn_async_retried", span),
        _ => Ident::new("spawn_blocking_retried", span),
    };
    let check = retryable(sig);
    // Each copy carries the span of its argument's type, so that a type
    // without `Clone` is one error there.
    let copies = params.iter().map(|(name, ty)| {
        let span = syn::spanned::Spanned::span(ty);
        quote_spanned!(span=> ::atasker::__private::RetriedArg::again(&#name))
    });
    let closure = quote!(move || __atasker_body(#(#copies),*));
    let call = quote_spanned!(span=>
        ::atasker::__private::#retried(#options, __atasker_failure, #closure)
    );
    quote! {
        #check
        #call
    }
}

/// A process-pool (`static`) task: the body is registered in the executable's
/// registry of static tasks (so that a child process, running the same
/// executable, finds it by its index) and the call sends the arguments to the
/// process pool. A `remote` one is the same but for the call, `spawn_remote`,
/// which sends them to a node of the supervisor's cluster (to the process
/// pool when it has none).
pub(super) fn static_task_fn(task: &Task) -> TokenStream {
    let ItemFn { sig, block, .. } = &task.func;
    let ident = &sig.ident;
    let inputs = &sig.inputs;
    let output = &sig.output;
    let result = result_type(output);
    let params = params(inputs);
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
    let remote = task.options.remote.is_some();
    let spawn = if task.options.retries.is_some() {
        let failure = retryable(sig);
        let method = Ident::new(
            if remote {
                "spawn_remote_retried"
            } else {
                "spawn_retried"
            },
            span,
        );
        let call = quote_spanned!(span=>
            #check.#method(#options, &__ATASKER_ENTRY, (#(#names,)*), __atasker_failure)
        );
        quote!(#failure #call)
    } else if remote {
        quote_spanned!(span=> #check.spawn_remote(#options, &__ATASKER_ENTRY, (#(#names,)*)))
    } else {
        quote_spanned!(span=> #check.spawn(#options, &__ATASKER_ENTRY, (#(#names,)*)))
    };

    // Validation leaves a static task no generics.
    outer_fn(
        &task.func,
        &sig.fn_token,
        &params,
        quote! {
            fn __atasker_body(#inputs) #output #block
            #entry
            #spawn
        },
    )
}

/// The function a task becomes (or its stand-in): the user's attributes,
/// visibility and `unsafe`, `fn_token`, the user's name and generics, the
/// receiver and the arguments by the names `params` gives them, `->
/// ::atasker::Task<T>`, and `body`. Only a stand-in has `unsafe` or a
/// receiver (validation rejects both).
pub(super) fn outer_fn(
    func: &ItemFn,
    fn_token: &Token![fn],
    params: &[(Ident, &Type)],
    body: TokenStream,
) -> TokenStream {
    let ItemFn {
        attrs, vis, sig, ..
    } = func;
    let unsafety = &sig.unsafety;
    let ident = &sig.ident;
    let generics = &sig.generics;
    let where_clause = &generics.where_clause;
    let result = result_type(&sig.output);
    let receiver = sig.receiver().map(|receiver| quote!(#receiver,));
    let outer_params = params.iter().map(|(name, ty)| quote!(#name: #ty));
    quote! {
        #(#attrs)*
        #vis #unsafety #fn_token #ident #generics (#receiver #(#outer_params),*) -> ::atasker::Task<#result>
        #where_clause
        {
            #body
        }
    }
}

/// The `TaskOptions` literal.
fn options(task: &Task) -> TokenStream {
    let name = task.func.sig.ident.unraw().to_string();
    let priority = priority(task.options.priority.as_ref());
    let timeout = optional(task.options.timeout.as_ref().map(duration));
    let delay = optional(task.options.delay.as_ref().map(duration));
    let supervisor = optional(task.options.supervisor.as_ref());
    let limit = match &task.options.limit {
        Some(n) => {
            let n = count(n);
            quote!(::atasker::__private::limit(#n))
        }
        None => quote!(::core::option::Option::None),
    };
    let retry = optional(task.options.retries.as_ref().map(|n| {
        let n = count(n);
        let backoff = task
            .options
            .backoff
            .as_ref()
            .map_or_else(|| quote!(::atasker::__private::Retry::BACKOFF), duration);
        let backoff_max = task.options.backoff_max.as_ref().map_or_else(
            || quote!(::atasker::__private::Retry::BACKOFF_MAX),
            duration,
        );
        quote! {
            ::atasker::__private::Retry {
                retries: #n,
                backoff: #backoff,
                backoff_max: #backoff_max,
            }
        }
    }));
    quote! {
        ::atasker::__private::TaskOptions {
            name: ::core::concat!(::core::module_path!(), "::", #name),
            priority: #priority,
            timeout: #timeout,
            delay: #delay,
            supervisor: #supervisor,
            limit: #limit,
            retry: #retry,
        }
    }
}

/// `__atasker_failure`, how a run's failure is told; it checks that a task
/// with `retries` returns a `Result` (an error points at the return type, or
/// at the function's name when it has none).
fn retryable(sig: &syn::Signature) -> TokenStream {
    let (result, span) = match &sig.output {
        syn::ReturnType::Default => (quote_spanned!(sig.ident.span()=> ()), sig.ident.span()),
        syn::ReturnType::Type(_, ty) => (quote!(#ty), syn::spanned::Spanned::span(&**ty)),
    };
    quote_spanned!(span=>
        let __atasker_failure = ::atasker::__private::retryable::<#result>();
    )
}
