//! Parse stage, part 2: the annotated item — a `fn` for `#[background_task]`,
//! a `fn` or an `impl` block for `#[background_worker]` — and where its code
//! will run.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::{Item, ItemFn, ItemImpl, Signature};

use crate::ctxt::Ctxt;

/// Where a function runs, decided once from its signature and the `static`
/// option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FnKind {
    /// `async fn`: a coroutine on the supervisor's runtime.
    Async,
    /// `fn`: the supervisor's thread pool.
    Blocking,
    /// `fn` with `static`: the supervisor's process pool.
    Static,
}

impl FnKind {
    /// The kind of `sig`; `static_` is the span of the `static` option, if
    /// given. `static` wins over `async` (validation rejects the pair).
    pub(crate) fn of(sig: &Signature, static_: Option<Span>) -> FnKind {
        if static_.is_some() {
            FnKind::Static
        } else if sig.asyncness.is_some() {
            FnKind::Async
        } else {
            FnKind::Blocking
        }
    }
}

/// Parses the annotated item as a `fn`; anything else is reported to `cx`.
pub(crate) fn parse_fn(item: TokenStream, cx: &mut Ctxt) -> Option<ItemFn> {
    match syn::parse2::<Item>(item) {
        Ok(Item::Fn(func)) => Some(func),
        Ok(other) => {
            let (what, tokens) = describe(&other);
            cx.error_spanned(
                tokens,
                format!(
                    "{} cannot be used on {what}; put it on a `fn` or an `async fn`",
                    cx.attr(),
                ),
            );
            None
        }
        Err(error) => {
            cx.push(error);
            None
        }
    }
}

/// What `#[background_worker]` is on.
pub(crate) enum WorkerItem {
    /// A `fn`: it becomes a static handle.
    Fn(ItemFn),
    /// An `impl` block with a `run` method: it gains `into_worker(self)`.
    Impl(ItemImpl),
}

/// Parses the annotated item as a `fn` or an `impl` block; anything else is
/// reported to `cx`.
pub(crate) fn parse_worker_item(item: TokenStream, cx: &mut Ctxt) -> Option<WorkerItem> {
    match syn::parse2::<Item>(item) {
        Ok(Item::Fn(func)) => Some(WorkerItem::Fn(func)),
        Ok(Item::Impl(block)) => Some(WorkerItem::Impl(block)),
        Ok(other) => {
            let (what, tokens) = describe(&other);
            cx.error_spanned(
                tokens,
                format!(
                    "{} cannot be used on {what}; use it on a `fn`, or on an `impl` block \
                     with a `run` method",
                    cx.attr(),
                ),
            );
            None
        }
        Err(error) => {
            cx.push(error);
            None
        }
    }
}

/// What the item is, for the message, and the tokens to point at: its keyword
/// and name, not its whole body.
fn describe(item: &Item) -> (&'static str, TokenStream) {
    match item {
        Item::Struct(item) => ("a struct", head(&item.struct_token, &item.ident)),
        Item::Enum(item) => ("an enum", head(&item.enum_token, &item.ident)),
        Item::Union(item) => ("a union", head(&item.union_token, &item.ident)),
        Item::Trait(item) => ("a trait", head(&item.trait_token, &item.ident)),
        Item::TraitAlias(item) => ("a trait alias", head(&item.trait_token, &item.ident)),
        Item::Impl(item) => ("an `impl` block", head(&item.impl_token, &item.self_ty)),
        Item::Mod(item) => ("a module", head(&item.mod_token, &item.ident)),
        Item::Const(item) => ("a `const`", head(&item.const_token, &item.ident)),
        Item::Static(item) => ("a `static`", head(&item.static_token, &item.ident)),
        Item::Type(item) => ("a type alias", head(&item.type_token, &item.ident)),
        Item::Use(item) => ("a `use` declaration", item.to_token_stream()),
        Item::ExternCrate(item) => ("an `extern crate`", item.to_token_stream()),
        Item::ForeignMod(item) => ("an `extern` block", item.abi.to_token_stream()),
        Item::Macro(item) => ("a macro", item.mac.path.to_token_stream()),
        // e.g. a `fn` without a body, in a trait.
        _ => ("this item", item.to_token_stream()),
    }
}

fn head(keyword: &impl ToTokens, name: &impl ToTokens) -> TokenStream {
    quote!(#keyword #name)
}
