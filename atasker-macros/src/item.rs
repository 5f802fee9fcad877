//! Parse stage, part 2: the annotated item — a `fn` for `#[background_task]`,
//! a `fn` or an `impl` block for `#[background_worker]` (anything else is an
//! error that names it) — and the questions the later stages ask of its
//! signature and types.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::punctuated::Punctuated;
use syn::visit::Visit;
use syn::{FnArg, Item, ItemFn, ItemImpl, PatType, Type, TypeImplTrait};

use crate::ctxt::Ctxt;

/// Parses the annotated item as a `fn`; anything else is reported to `cx`.
pub(crate) fn parse_fn(item: TokenStream, cx: &mut Ctxt) -> Option<ItemFn> {
    match parse_item(item, cx)? {
        Item::Fn(func) => Some(func),
        other => wrong_item(&other, "put it on a `fn` or an `async fn`", cx),
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
    match parse_item(item, cx)? {
        Item::Fn(func) => Some(WorkerItem::Fn(func)),
        Item::Impl(block) => Some(WorkerItem::Impl(block)),
        other => wrong_item(
            &other,
            "use it on a `fn`, or on an `impl` block with a `run` method",
            cx,
        ),
    }
}

/// Parses any item; a syntax error is reported to `cx`.
fn parse_item(item: TokenStream, cx: &mut Ctxt) -> Option<Item> {
    syn::parse2::<Item>(item)
        .map_err(|error| cx.push(error))
        .ok()
}

/// Reports that the macro cannot be used on `item`; `fix` says where to put
/// it instead.
fn wrong_item<T>(item: &Item, fix: &str, cx: &mut Ctxt) -> Option<T> {
    let (what, tokens) = describe(item);
    cx.error_spanned(
        tokens,
        format!("{} cannot be used on {what}; {fix}", cx.attr()),
    );
    None
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

/// The typed (non-`self`) arguments of a signature.
pub(crate) fn typed_inputs(
    inputs: &Punctuated<FnArg, syn::Token![,]>,
) -> impl Iterator<Item = &PatType> {
    inputs.iter().filter_map(|input| match input {
        FnArg::Typed(arg) => Some(arg),
        FnArg::Receiver(_) => None,
    })
}

/// The first `impl Trait` inside a type.
pub(crate) fn find_impl_trait(ty: &Type) -> Option<&TypeImplTrait> {
    struct Find<'ast>(Option<&'ast TypeImplTrait>);
    impl<'ast> Visit<'ast> for Find<'ast> {
        fn visit_type_impl_trait(&mut self, impl_trait: &'ast TypeImplTrait) {
            self.0.get_or_insert(impl_trait);
        }
    }
    let mut find = Find(None);
    find.visit_type(ty);
    find.0
}

/// A type as a user would write it, without the spaces `ToTokens` puts in.
pub(crate) fn type_to_string(ty: &Type) -> String {
    let text = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let prev = out.chars().last();
        let drop_space = c == ' '
            && (matches!(next, Some('<' | '>' | ',' | ':' | ';' | ')' | ']'))
                || matches!(prev, Some('<' | '&' | ':' | '(' | '[')));
        if !drop_space {
            out.push(c);
        }
    }
    out
}
