//! Validate stage: checks the options and the `fn` against each other and
//! turns them into a [`Task`], the final configuration the expand stage reads.
//! Every problem is reported to the [`Ctxt`]; nothing stops at the first one.

use proc_macro2::Span;
use quote::ToTokens;
use syn::visit::Visit;
use syn::{FnArg, ItemFn, Lifetime, ReturnType, Signature, Type, TypeImplTrait, TypeReference};

use crate::args::{DurationValue, TaskArgs};
use crate::ctxt::Ctxt;
use crate::item::FnKind;

/// A `#[background_task]` that passed validation.
pub(crate) struct Task {
    /// Where the function runs.
    pub(crate) kind: FnKind,
    /// The span of the `static` option, if given.
    pub(crate) static_: Option<Span>,
    /// `priority = EXPR`.
    pub(crate) priority: Option<syn::Expr>,
    /// `supervisor = EXPR`.
    pub(crate) supervisor: Option<syn::Expr>,
    /// `timeout = SECS | EXPR`.
    pub(crate) timeout: Option<DurationValue>,
    /// The user's function, unchanged.
    pub(crate) func: ItemFn,
}

/// Checks a `#[background_task]` and builds its [`Task`].
pub(crate) fn task(args: TaskArgs, func: ItemFn, cx: &mut Ctxt) -> Task {
    let kind = FnKind::of(&func.sig, args.static_);
    let attr = match kind {
        FnKind::Static => cx.attr_with("static"),
        FnKind::Async | FnKind::Blocking => cx.attr(),
    };
    check_fn(&func.sig, &attr, cx);
    if kind == FnKind::Static {
        check_static(&func.sig, &attr, cx);
    }
    Task {
        kind,
        static_: args.static_,
        priority: args.priority,
        supervisor: args.supervisor,
        timeout: args.timeout,
        func,
    }
}

/// Rules for every task and worker function. `attr` is the macro as written in
/// messages, e.g. `` `#[background_task]` ``.
pub(crate) fn check_fn(sig: &Signature, attr: &str, cx: &mut Ctxt) {
    if let Some(receiver) = sig.receiver() {
        cx.error_spanned(
            receiver,
            format!(
                "{attr} cannot be used on a method: tasks are free functions; remove `self` \
                 and take what you need as an ordinary argument",
            ),
        );
    }
    if let Some(constness) = &sig.constness {
        cx.error_spanned(
            constness,
            format!("{attr} cannot be used on a `const fn`; remove `const`"),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned(
            unsafety,
            format!(
                "{attr} cannot be used on an `unsafe fn`; remove `unsafe` and use an \
                 `unsafe {{ … }}` block inside the function"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        let abi_text = abi.to_token_stream().to_string();
        cx.error_spanned(
            abi,
            format!("{attr} cannot be used on an `extern` fn; remove `{abi_text}`"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned(
            variadic,
            format!("{attr} cannot be used on a variadic fn; remove `...`"),
        );
    }
}

/// Rules for `static` functions, whose arguments and result cross a process
/// boundary: owned, concrete types only.
pub(crate) fn check_static(sig: &Signature, attr: &str, cx: &mut Ctxt) {
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned(
            asyncness,
            format!("{attr} cannot be used on an `async fn`; remove `static` or `async`"),
        );
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned(
            &sig.generics,
            format!(
                "{attr} cannot be used on a generic fn: a process task needs concrete types; \
                 remove the generic parameters and name the types"
            ),
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        cx.error_spanned(
            where_clause,
            format!(
                "{attr} cannot be used on a fn with a `where` clause: a process task needs \
                 concrete types; remove the `where` clause"
            ),
        );
    }
    for input in &sig.inputs {
        if let FnArg::Typed(arg) = input {
            OwnedTypes {
                attr,
                position: Position::Argument,
                cx: &mut *cx,
            }
            .visit_type(&arg.ty);
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        OwnedTypes {
            attr,
            position: Position::Return,
            cx: &mut *cx,
        }
        .visit_type(ty);
    }
}

/// Where a type appears in a signature.
#[derive(Clone, Copy)]
enum Position {
    Argument,
    Return,
}

/// Reports every reference, borrowed lifetime and `impl Trait` in a type of a
/// `static` function.
struct OwnedTypes<'a> {
    attr: &'a str,
    position: Position,
    cx: &'a mut Ctxt,
}

impl<'ast> Visit<'ast> for OwnedTypes<'_> {
    fn visit_type_reference(&mut self, reference: &'ast TypeReference) {
        let what = match self.position {
            Position::Argument => "take a reference",
            Position::Return => "return a reference",
        };
        let owned = owned_type(&reference.elem);
        self.cx.error_spanned(
            reference,
            format!(
                "{} cannot {what}: arguments and results are sent to another process; \
                 use an owned type such as `{owned}`",
                self.attr,
            ),
        );
        // Not inside: one error per reference is enough.
    }

    fn visit_type_impl_trait(&mut self, impl_trait: &'ast TypeImplTrait) {
        let what = match self.position {
            Position::Argument => "take an `impl Trait` argument",
            Position::Return => "return `impl Trait`",
        };
        self.cx.error_spanned(
            impl_trait,
            format!(
                "{} cannot {what}: a process task needs concrete types; name the type instead",
                self.attr,
            ),
        );
    }

    fn visit_lifetime(&mut self, lifetime: &'ast Lifetime) {
        if lifetime.ident != "static" {
            self.cx.error_spanned(
                lifetime,
                format!(
                    "{} cannot use borrowed data (`{lifetime}`): arguments and results are \
                     sent to another process; use an owned type",
                    self.attr,
                ),
            );
        }
    }
}

/// The owned counterpart of a borrowed type, for messages: `str` → `String`,
/// `[T]` → `Vec<T>`, `Path` → `PathBuf`, otherwise the type itself.
fn owned_type(borrowed: &Type) -> String {
    match borrowed {
        Type::Slice(slice) => format!("Vec<{}>", type_to_string(&slice.elem)),
        Type::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
            match path.path.segments[0].ident.to_string().as_str() {
                "str" => "String".to_owned(),
                "Path" => "PathBuf".to_owned(),
                "OsStr" => "OsString".to_owned(),
                "CStr" => "CString".to_owned(),
                _ => type_to_string(borrowed),
            }
        }
        _ => type_to_string(borrowed),
    }
}

/// A type as a user would write it, without the spaces `ToTokens` puts in.
fn type_to_string(ty: &Type) -> String {
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
