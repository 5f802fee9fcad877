//! Validate stage: the rules, checked on the model (and, for the options that
//! exclude each other, on the options as written). Every problem is reported
//! to the [`Ctxt`], whose errors are combined; nothing stops at the first one.
//! The rules run in the order of the item, so the errors come in that order.
//!
//! Here: the rules of `#[background_task]` (its options against each other,
//! as written, then its function) and those both macros share; in
//! `validate/worker.rs`, those of `#[background_worker]`; in
//! `validate/owned.rs`, the types that cross to another thread or process.

mod owned;
mod worker;

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Attribute, Expr, Ident, Pat, Signature};

use self::owned::{check_owned_types, Crossing};
pub(crate) use self::worker::worker;
use crate::args::{peel, TaskArgs};
use crate::ctxt::Ctxt;
use crate::item::typed_inputs;
use crate::model::{FnKind, Task};

// ---- tasks ----

/// Checks a `#[background_task]`: its options against each other (as
/// written, in `args`), then its function.
pub(crate) fn task(args: &TaskArgs, task: &Task, cx: &mut Ctxt) {
    let sig = &task.func.sig;
    check_remote_is_static(args, sig, cx);
    check_retry_options(args, cx);
    let remote = task.options.remote.is_some();
    let attr = match task.kind {
        FnKind::Static if remote => cx.attr_with("static, remote"),
        FnKind::Static => cx.attr_with("static"),
        FnKind::Async | FnKind::Blocking => cx.attr(),
    };
    check_fn(sig, &attr, cx);
    match task.kind {
        FnKind::Static => check_static(sig, &attr, remote, cx),
        FnKind::Async | FnKind::Blocking => check_owned_types(sig, &attr, Crossing::Thread, cx),
    }
    if let Some(supervisor) = &task.options.supervisor {
        let params: Vec<&Ident> = typed_inputs(&sig.inputs)
            .filter_map(|arg| match &*arg.pat {
                Pat::Ident(pat) => Some(&pat.ident),
                _ => None,
            })
            .collect();
        check_supervisor(supervisor, &params, "a task", cx);
    }
}

/// `remote` runs the task on another host, whose arguments and result cross
/// as those of a `static` task do: it needs `static` (as written, so that a
/// `static = true`, already reported, adds no second error).
fn check_remote_is_static(args: &TaskArgs, sig: &Signature, cx: &mut Ctxt) {
    let (Some(remote), None) = (&args.remote, &args.static_) else {
        return;
    };
    let and_async = if sig.asyncness.is_some() {
        " and remove `async`"
    } else {
        ""
    };
    cx.error(
        remote.key,
        format!(
            "{} runs the task on another host, so it must be `static` (owned serde arguments \
             and result): write `#[background_task(static, remote)]`{and_async}",
            cx.attr_with("remote"),
        ),
    );
}

/// `backoff` and `backoff_max` shape the waits between retries: they need
/// `retries`.
fn check_retry_options(args: &TaskArgs, cx: &mut Ctxt) {
    if args.retries.is_none() {
        for (given, key) in [
            (&args.backoff, "backoff"),
            (&args.backoff_max, "backoff_max"),
        ] {
            if let Some(given) = given {
                let message = format!(
                    "{}: `{key}` sets the wait between retries, so it needs `retries`; add \
                     `retries = 3` (for example) or remove `{key}`",
                    cx.attr(),
                );
                cx.error(given.key, message);
            }
        }
    }
}

/// Removes every `#[other]` attribute (matched by the last segment of its
/// path, so `#[atasker::background_task]` counts too) from a fn that carries
/// this macro, and reports each one. Returns whether any was removed; the
/// item is then emitted without them, so that the other macro does not add
/// errors of its own.
pub(crate) fn remove_other_macro(attrs: &mut Vec<Attribute>, other: &str, cx: &mut Ctxt) -> bool {
    let before = attrs.len();
    attrs.retain(|attr| {
        let is_other = attr
            .path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == other);
        if is_other {
            cx.error_spanned(
                attr,
                format!(
                    "{} and `#[{other}]` cannot be used on the same fn: a worker runs its fn \
                     over and over, a task runs it once per call; remove one of them",
                    cx.attr(),
                ),
            );
        }
        !is_other
    });
    attrs.len() != before
}

/// Rules for every task function. `attr` is the macro as written in
/// messages, e.g. `` `#[background_task]` ``.
fn check_fn(sig: &Signature, attr: &str, cx: &mut Ctxt) {
    if let Some(receiver) = sig.receiver() {
        cx.error_spanned(
            receiver,
            format!(
                "{attr} cannot be used on a method: tasks are free functions; remove `self` \
                 and take what you need as an ordinary argument",
            ),
        );
    }
    check_qualifiers(sig, attr, cx);
}

/// Rules for every task and worker function besides its receiver: no
/// `const`, `unsafe`, `extern` or `...`.
pub(super) fn check_qualifiers(sig: &Signature, attr: &str, cx: &mut Ctxt) {
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
/// boundary: owned, concrete types only. A `remote` one is told to keep
/// `static` (which `remote` needs).
fn check_static(sig: &Signature, attr: &str, remote: bool, cx: &mut Ctxt) {
    let remove = if remote {
        "`async`"
    } else {
        "`static` or `async`"
    };
    check_static_async(sig, attr, remove, cx);
    check_static_generics(sig, attr, cx);
    check_owned_types(sig, attr, Crossing::Process, cx);
}

/// A `static` function cannot be `async`; `remove` says what to remove, e.g.
/// "`static` or `async`".
pub(super) fn check_static_async(sig: &Signature, attr: &str, remove: &str, cx: &mut Ctxt) {
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned(
            asyncness,
            format!("{attr} cannot be used on an `async fn`; remove {remove}"),
        );
    }
}

/// A `static` function needs concrete types.
fn check_static_generics(sig: &Signature, attr: &str, cx: &mut Ctxt) {
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
}

/// The supervisor of `supervisor = &sup` or `supervisor = sup`, where `sup`
/// looks like a local variable (see [`local_name`]) that, without `&`, is not
/// one of `params`: an item cannot use the locals around it, and a borrow of
/// one does not live for `'static`. `what` is "a task" or "a worker".
pub(super) fn check_supervisor(supervisor: &Expr, params: &[&Ident], what: &str, cx: &mut Ctxt) {
    let Some(what_it_is) = looks_local(supervisor, params) else {
        return;
    };
    cx.error_spanned(
        supervisor,
        format!(
            "{} needs a `&'static Supervisor` for `supervisor`, and {what_it_is}: {what} is \
             an item of its own and cannot use the locals around it; leave `supervisor` out \
             to use `Supervisor::global()` (set it up once with \
             `Supervisor::builder()….build_global()?`), or keep your supervisor in a static, \
             `static SUP: LazyLock<Supervisor> = LazyLock::new(|| \
             Supervisor::builder().build().unwrap());`, and write `supervisor = &SUP`",
            cx.attr(),
        ),
    );
}

/// Why `supervisor` looks like a local variable, for the message; `None` when
/// it does not.
fn looks_local(supervisor: &Expr, params: &[&Ident]) -> Option<String> {
    match peel(supervisor) {
        Expr::Reference(reference) => {
            let (_, name) = local_name(&reference.expr)?;
            let expr = supervisor.to_token_stream().to_string().replace("& ", "&");
            Some(format!(
                "`{expr}` borrows `{name}`, which looks like a local variable"
            ))
        }
        expr => {
            let (ident, name) = local_name(expr)?;
            (!params.contains(&&ident)).then(|| format!("`{name}` looks like a local variable"))
        }
    }
}

/// The name of an expression that looks like a local variable: a single
/// lowercase name (or one starting with `_`).
fn local_name(expr: &Expr) -> Option<(Ident, String)> {
    match peel(expr) {
        Expr::Path(path) if path.qself.is_none() => {
            let ident = path.path.get_ident()?;
            let name = ident.unraw().to_string();
            name.starts_with(|c: char| c.is_lowercase() || c == '_')
                .then_some((ident.clone(), name))
        }
        _ => None,
    }
}
