//! The stand-ins emitted beside errors: the item with the types the macro
//! would have given it and `unimplemented!()` as its body, so that the code
//! that uses the item sees no second, misleading error.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::visit_mut::VisitMut;
use syn::{Attribute, Generics, ItemFn, ItemImpl, Lifetime, ReturnType, Signature, TypeReference};

use super::params;
use super::task::outer_fn;
use super::worker::{handle_static, handle_type, with_into_worker};
use crate::item::find_impl_trait;
use crate::model::{Executor, Task, Worker, WorkerKind};

/// What the code around a task sees when the macro reports an error: the
/// function with the signature the macro would have given it, `-> Task<T>`,
/// and `unimplemented!()` as its body, so that the code that calls it gets no
/// second, misleading error (e.g. no method named `wait` found for `u64`). The
/// user's body stays inside, in a function nothing calls, so that rustc and
/// the IDE still check it.
///
/// `None` when the result is `impl Trait`, which only the body could give a
/// type: the item is then emitted unchanged.
pub(super) fn task(task: &Task) -> Option<TokenStream> {
    let ItemFn { sig, block, .. } = &task.func;
    if matches!(&sig.output, ReturnType::Type(_, ty) if find_impl_trait(ty).is_some()) {
        return None;
    }
    let params = params(&sig.inputs);
    let names: Vec<TokenStream> = sig
        .receiver()
        .map(|_| quote!(self))
        .into_iter()
        .chain(params.iter().map(|(name, _)| name.to_token_stream()))
        .collect();
    let used = (!names.is_empty()).then(|| quote!(let _ = (#(#names,)*);));
    let body = unused_body(&[], sig, block);
    // The stand-in's `fn` has the macro's span, not the user's.
    Some(outer_fn(
        &task.func,
        &Default::default(),
        &params,
        quote! {
            #body
            #used
            ::core::unimplemented!()
        },
    ))
}

/// What the code around a worker sees when the macro reports an error: for a
/// `fn`, the static handle, built by `unimplemented!()`; for an `impl` block,
/// the block and `into_worker(self)`. Their types are those the macro would
/// have made, so that the code that uses them gets no second, misleading
/// error. A method (which cannot be a worker) and a trait `impl` stay as
/// they are.
pub(super) fn worker(worker: &Worker) -> TokenStream {
    match &worker.executor {
        // A method is in an `impl` block, where a static cannot be.
        Executor::Fn(func) if func.sig.receiver().is_some() => func.to_token_stream(),
        Executor::Fn(func) => worker_fn(worker, func),
        // A trait `impl` cannot gain an inherent method.
        Executor::Impl { block, .. } if block.trait_.is_some() => block.to_token_stream(),
        Executor::Impl { block, run } => worker_impl(worker, block, run.as_ref()),
    }
}

/// The stand-in of a worker `fn`: its static handle, built by
/// `unimplemented!()`, with the body in a function nothing calls.
fn worker_fn(worker: &Worker, func: &ItemFn) -> TokenStream {
    let handle = handle(worker, &func.sig.generics, &Generics::default());
    let ty = quote!(::atasker::__private::Lazy<#handle>);
    handle_static(func, ty, |body_attrs| {
        let body = unused_body(body_attrs, &func.sig, &func.block);
        quote! {
            #body
            ::core::unimplemented!()
        }
    })
}

/// The stand-in of a worker `impl` block: the block and `into_worker(self)`,
/// built by `unimplemented!()`.
fn worker_impl(worker: &Worker, block: &ItemImpl, run: Option<&Signature>) -> TokenStream {
    let run_generics = run.map(|run| run.generics.clone());
    let handle = handle(worker, &run_generics.unwrap_or_default(), &block.generics);
    with_into_worker(block, &handle, quote!(::core::unimplemented!()))
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
fn handle(worker: &Worker, executor: &Generics, kept: &Generics) -> TokenStream {
    let span = Span::call_site();
    let Some(item_ty) = &worker.item_ty else {
        return handle_type(worker, span);
    };
    let item = if executor.params.is_empty() && find_impl_trait(item_ty).is_none() {
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
