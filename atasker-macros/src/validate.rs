//! Validate stage: checks the options and the item against each other and
//! turns them into a [`Task`] or a [`Worker`], the final configuration the
//! expand stage reads. Every problem is reported to the [`Ctxt`]; nothing
//! stops at the first one.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::visit::Visit;
use syn::{
    Attribute, FnArg, Generics, ImplItem, ItemFn, ItemImpl, Lifetime, LitStr, ReturnType,
    Signature, Type, TypeImplTrait, TypeReference,
};

use crate::args::{peel, CountValue, DurationValue, Keyed, TaskArgs, WorkerArgs};
use crate::ctxt::Ctxt;
use crate::item::{FnKind, WorkerItem};

/// A `#[background_task]` as validated: the final configuration when
/// validation found no error, else what the stand-in for the item needs.
pub(crate) struct Task {
    /// Where the function runs.
    pub(crate) kind: FnKind,
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
    match kind {
        FnKind::Static => check_static(&func.sig, &attr, cx),
        FnKind::Async | FnKind::Blocking => {
            check_owned_types(&func.sig, &attr, Crossing::Thread, cx)
        }
    }
    if let Some(supervisor) = &args.supervisor {
        let params: Vec<&syn::Ident> = typed_inputs(&func.sig.inputs)
            .filter_map(|arg| match &*arg.pat {
                syn::Pat::Ident(pat) => Some(&pat.ident),
                _ => None,
            })
            .collect();
        check_supervisor(supervisor, &params, "a task", cx);
    }
    Task {
        kind,
        priority: args.priority,
        supervisor: args.supervisor,
        timeout: args.timeout,
        func,
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
    check_qualifiers(sig, attr, cx);
}

/// Rules for every task and worker function besides its receiver: no
/// `const`, `unsafe`, `extern` or `...`.
pub(crate) fn check_qualifiers(sig: &Signature, attr: &str, cx: &mut Ctxt) {
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
    check_static_async(sig, attr, cx);
    check_static_generics(sig, attr, cx);
    check_owned_types(sig, attr, Crossing::Process, cx);
}

/// A `static` function cannot be `async`.
fn check_static_async(sig: &Signature, attr: &str, cx: &mut Ctxt) {
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned(
            asyncness,
            format!("{attr} cannot be used on an `async fn`; remove `static` or `async`"),
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
/// looks like a local variable (one lowercase name that, without `&`, is not
/// one of `params`): an item cannot use the locals around it, and a borrow of
/// one does not live for `'static`. `what` is "a task" or "a worker".
pub(crate) fn check_supervisor(
    supervisor: &syn::Expr,
    params: &[&syn::Ident],
    what: &str,
    cx: &mut Ctxt,
) {
    let local = |expr: &syn::Expr| match peel(expr) {
        syn::Expr::Path(path) if path.qself.is_none() => {
            let ident = path.path.get_ident()?;
            let name = ident.unraw().to_string();
            name.starts_with(|c: char| c.is_lowercase() || c == '_')
                .then_some((ident.clone(), name))
        }
        _ => None,
    };
    let what_it_is = match peel(supervisor) {
        syn::Expr::Reference(reference) => match local(&reference.expr) {
            Some((_, name)) => {
                let expr = supervisor.to_token_stream().to_string().replace("& ", "&");
                format!("`{expr}` borrows `{name}`, which looks like a local variable")
            }
            None => return,
        },
        expr => match local(expr) {
            Some((ident, name)) if !params.contains(&&ident) => {
                format!("`{name}` looks like a local variable")
            }
            _ => return,
        },
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

/// Where the arguments and the result of a task (or a queue worker's item)
/// go, which decides what they may borrow.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Crossing {
    /// `static`: to another process. No references, borrowed lifetimes or
    /// `impl Trait`.
    Process,
    /// A thread or coroutine task: to another thread. Only `'static` borrows.
    Thread,
    /// A queue worker's item: it waits in the queue, then goes to another
    /// thread. Only `'static` borrows.
    Queue,
}

/// The arguments and the result must not borrow what the `crossing` cannot
/// take along.
fn check_owned_types(sig: &Signature, attr: &str, crossing: Crossing, cx: &mut Ctxt) {
    for arg in typed_inputs(&sig.inputs) {
        OwnedTypes {
            attr,
            crossing,
            position: Position::Argument,
            cx: &mut *cx,
        }
        .visit_type(&arg.ty);
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        OwnedTypes {
            attr,
            crossing,
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

/// Reports every reference and borrowed lifetime in a type that the
/// `crossing` cannot take along, and (to another process) every `impl Trait`.
struct OwnedTypes<'a> {
    attr: &'a str,
    crossing: Crossing,
    position: Position,
    cx: &'a mut Ctxt,
}

impl OwnedTypes<'_> {
    /// Why the types must be owned, after "cannot take a reference": e.g.
    /// ": the arguments move to another thread, so they must be owned".
    fn why(&self) -> &'static str {
        match (self.crossing, self.position) {
            (Crossing::Process, _) => ": arguments and results are sent to another process",
            (Crossing::Thread, Position::Argument) => {
                ": the arguments move to another thread, so they must be owned"
            }
            (Crossing::Thread, Position::Return) => {
                ": the result comes back from another thread, so it must be owned"
            }
            (Crossing::Queue, _) => {
                " as the item: items wait in the queue and move to another thread, so they \
                 must be owned"
            }
        }
    }
}

impl<'ast> Visit<'ast> for OwnedTypes<'_> {
    fn visit_type_reference(&mut self, reference: &'ast TypeReference) {
        let is_static = reference
            .lifetime
            .as_ref()
            .is_some_and(|lifetime| lifetime.ident == "static");
        if is_static && self.crossing != Crossing::Process {
            // `&'static T` goes anywhere; what it points to may still borrow.
            self.visit_type(&reference.elem);
            return;
        }
        let (attr, why) = (self.attr, self.why());
        let owned = owned_type(&reference.elem);
        let verb = match self.position {
            Position::Argument => "take",
            Position::Return => "return",
        };
        let message = match self.crossing {
            Crossing::Process => format!(
                "{attr} cannot {verb} a reference{why}; use an owned type such as `{owned}`"
            ),
            Crossing::Thread | Crossing::Queue => format!(
                "{attr} cannot {verb} a reference{why}; {verb} `{owned}` instead of `{}`",
                type_to_string(&Type::Reference(reference.clone())),
            ),
        };
        self.cx.error_spanned(reference, message);
        // Not inside: one error per reference is enough.
    }

    fn visit_type_impl_trait(&mut self, impl_trait: &'ast TypeImplTrait) {
        if self.crossing != Crossing::Process {
            syn::visit::visit_type_impl_trait(self, impl_trait);
            return;
        }
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
        if lifetime.ident == "static" {
            return;
        }
        let (attr, why) = (self.attr, self.why());
        let verb = match (self.crossing, self.position) {
            (Crossing::Process, _) => "use",
            (Crossing::Thread, Position::Return) => "return",
            (Crossing::Thread | Crossing::Queue, _) => "take",
        };
        let message =
            format!("{attr} cannot {verb} borrowed data (`{lifetime}`){why}; use an owned type");
        self.cx.error_spanned(lifetime, message);
    }
}

/// The owned counterpart of a borrowed type, for messages: `str` → `String`,
/// `[T]` → `Vec<T>`, `Path` → `PathBuf`, otherwise the type itself.
fn owned_type(borrowed: &Type) -> String {
    match borrowed {
        Type::Slice(slice) => format!("Vec<{}>", type_to_string(&slice.elem)),
        Type::TraitObject(_) => format!("Box<{}>", type_to_string(borrowed)),
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

// ---- workers ----

/// When a loop, interval or delay worker runs.
pub(crate) enum Schedule {
    /// Back to back: no `interval` or `delay`.
    Loop,
    /// `interval = I`.
    Interval(DurationValue),
    /// `delay = D`.
    Delay(DurationValue),
}

/// The kind of a worker, decided once from its options.
pub(crate) enum WorkerKind {
    /// Loop, interval or delay: a `Worker`.
    Repeat(Schedule),
    /// `queue`: a `QueueWorker<T>`; the executor takes the item.
    Queue,
    /// `event`: an `EventWorker`.
    Event,
}

/// What the worker runs.
pub(crate) enum Executor {
    /// A `fn`, which becomes a static handle.
    Fn(ItemFn),
    /// An `impl` block, which gains `into_worker(self)`; `run` is its method
    /// `run(&mut self[, item])`.
    Impl {
        /// The user's block, unchanged.
        block: ItemImpl,
        /// The signature of `run`; `None` (an error) for a trait `impl` or a
        /// block without `run`.
        run: Option<Signature>,
    },
}

/// A `#[background_worker]` as validated: the final configuration when
/// validation found no error, else what the stand-in for the item needs.
pub(crate) struct Worker {
    /// Loop/interval/delay, queue or event.
    pub(crate) kind: WorkerKind,
    /// Where the executor runs (from `async` and `static`).
    pub(crate) fn_kind: FnKind,
    /// `delay_before = SECS | EXPR`.
    pub(crate) delay_before: Option<DurationValue>,
    /// `capacity = N | EXPR`.
    pub(crate) capacity: Option<CountValue>,
    /// `priority = EXPR`.
    pub(crate) priority: Option<syn::Expr>,
    /// `name = "…"`.
    pub(crate) name: Option<LitStr>,
    /// `supervisor = EXPR`.
    pub(crate) supervisor: Option<syn::Expr>,
    /// `on_error = PATH`.
    pub(crate) on_error: Option<syn::Expr>,
    /// The queue's item type (queue workers).
    pub(crate) item_ty: Option<Type>,
    /// The `fn` or `impl` block.
    pub(crate) executor: Executor,
}

/// Checks a `#[background_worker]` and builds its [`Worker`].
pub(crate) fn worker(args: WorkerArgs, item: WorkerItem, cx: &mut Ctxt) -> Worker {
    let kind = worker_kind(&args, cx);
    if let Some(supervisor) = &args.supervisor {
        check_supervisor(supervisor, &[], "a worker", cx);
    }
    // With conflicting kinds, the executor's arguments cannot be checked
    // against the right kind: the user fixes the options first.
    let kind_is_clear = args.kind_keys.len() < 2;
    let (executor, sig) = match item {
        WorkerItem::Fn(func) => {
            check_worker_fn(&func.sig, &kind, kind_is_clear, args.static_, cx);
            let sig = func.sig.clone();
            (Executor::Fn(func), Some(sig))
        }
        WorkerItem::Impl(block) => {
            let run = check_worker_impl(&block, &kind, kind_is_clear, args.static_, cx).cloned();
            let sig = run.clone();
            (Executor::Impl { block, run }, sig)
        }
    };
    let item_ty = match (&kind, &sig) {
        (WorkerKind::Queue, Some(sig)) => typed_inputs(&sig.inputs)
            .next()
            .map(|arg| (*arg.ty).clone()),
        _ => None,
    };
    let fn_kind = match &sig {
        Some(sig) => FnKind::of(sig, args.static_),
        None => FnKind::Blocking,
    };
    Worker {
        kind,
        fn_kind,
        delay_before: args.delay_before.and_then(|keyed| keyed.value),
        capacity: args.capacity.and_then(|keyed| keyed.value),
        priority: args.priority,
        name: args.name,
        supervisor: args.supervisor,
        on_error: args.on_error,
        item_ty,
        executor,
    }
}

/// Decides the kind from the options, reporting options that do not go
/// together. `interval`, `delay`, `queue` and `event` exclude each other: each
/// one written after the first is an error at its key.
fn worker_kind(args: &WorkerArgs, cx: &mut Ctxt) -> WorkerKind {
    if let Some(((first, _), rest)) = args.kind_keys.split_first() {
        for &(key, span) in rest {
            let message = kind_conflict(first, key, cx);
            cx.error(span, message);
        }
    }
    let has_timing = args.interval.is_some() || args.delay.is_some();
    if let Some(capacity) = &args.capacity {
        if args.queue.is_none() {
            cx.error(
                capacity.key,
                format!(
                    "{}: `capacity` bounds the queue of a queue worker; add `queue` \
                     (`#[background_worker(queue, capacity = 100)]`) or remove `capacity`",
                    cx.attr(),
                ),
            );
        }
    }
    for (key, value) in [("interval", &args.interval), ("delay", &args.delay)] {
        if let Some(Keyed {
            value: Some(DurationValue::Seconds { secs, span }),
            ..
        }) = value
        {
            // With `delay_before`, the pause is there.
            if *secs == 0.0 && args.delay_before.is_none() {
                cx.error(
                    *span,
                    format!(
                        "{} with `{key} = 0` would run the fn back to back without a pause, \
                         keeping a thread busy; for a worker that runs back to back, remove \
                         `{key}` (`#[background_worker]` alone is a loop worker, which yields \
                         between runs); else write a pause such as `{key} = 0.1`",
                        cx.attr(),
                    ),
                );
            }
        }
    }
    if let Some(delay_before) = &args.delay_before {
        if !has_timing {
            cx.error(
                delay_before.key,
                format!(
                    "{}: `delay_before` applies to interval and delay workers; add \
                     `interval = …` or `delay = …`, or remove `delay_before`",
                    cx.attr(),
                ),
            );
        }
    }

    if args.queue.is_some() {
        WorkerKind::Queue
    } else if args.event.is_some() {
        WorkerKind::Event
    } else if let Some(interval) = &args.interval {
        match &interval.value {
            Some(value) => WorkerKind::Repeat(Schedule::Interval(value.clone())),
            None => WorkerKind::Repeat(Schedule::Loop),
        }
    } else if let Some(delay) = &args.delay {
        match &delay.value {
            Some(value) => WorkerKind::Repeat(Schedule::Delay(value.clone())),
            None => WorkerKind::Repeat(Schedule::Loop),
        }
    } else {
        WorkerKind::Repeat(Schedule::Loop)
    }
}

/// The message for kind key `second`, written after kind key `first`.
fn kind_conflict(first: &str, second: &str, cx: &Ctxt) -> String {
    let attr = cx.attr();
    let timed_kind = |key: &str| {
        if key == "delay" {
            "a delay"
        } else {
            "an interval"
        }
    };
    match (first, second) {
        ("interval", "delay") | ("delay", "interval") => format!(
            "{attr} takes `interval` or `delay`, not both: `interval` runs at a fixed rate, \
             `delay` pauses after each run; keep one of them"
        ),
        ("queue", "event") | ("event", "queue") => format!(
            "{attr} takes `queue` or `event`, not both: a queue worker runs once per item, an \
             event worker once per `trigger()`; keep one of them"
        ),
        ("queue", timed) | (timed, "queue") => format!(
            "{} runs once per queued item and takes no `{timed}`; remove `{timed}`, or remove \
             `queue` for {} worker",
            cx.attr_with("queue"),
            timed_kind(timed),
        ),
        ("event", timed) | (timed, _) => format!(
            "{} runs once per `trigger()` and takes no `{timed}`; remove `{timed}`, or remove \
             `event` for {} worker (it has `trigger()` too)",
            cx.attr_with("event"),
            timed_kind(timed),
        ),
    }
}

/// The macro as written in messages about the executor's arguments.
fn kind_attr(kind: &WorkerKind, cx: &Ctxt) -> String {
    match kind {
        WorkerKind::Repeat(Schedule::Loop) => cx.attr(),
        WorkerKind::Repeat(Schedule::Interval(_)) => cx.attr_with("interval = …"),
        WorkerKind::Repeat(Schedule::Delay(_)) => cx.attr_with("delay = …"),
        WorkerKind::Queue => cx.attr_with("queue"),
        WorkerKind::Event => cx.attr_with("event"),
    }
}

/// The typed (non-`self`) arguments of a signature.
fn typed_inputs(inputs: &Punctuated<FnArg, syn::Token![,]>) -> impl Iterator<Item = &syn::PatType> {
    inputs.iter().filter_map(|input| match input {
        FnArg::Typed(arg) => Some(arg),
        FnArg::Receiver(_) => None,
    })
}

/// Rules for a worker `fn`.
fn check_worker_fn(
    sig: &Signature,
    kind: &WorkerKind,
    check_args: bool,
    static_: Option<Span>,
    cx: &mut Ctxt,
) {
    let attr = cx.attr();
    if let Some(receiver) = sig.receiver() {
        cx.error_spanned(
            receiver,
            format!(
                "{attr} cannot be used on a method; remove `self`, or, for a worker with \
                 state, put the attribute on the `impl` block and name the method \
                 `run(&mut self)`"
            ),
        );
    }
    check_qualifiers(sig, &attr, cx);
    check_worker_generics(&sig.generics, "a generic fn", cx);
    if check_args {
        check_executor_args(sig, kind, None, static_.is_some(), cx);
    }
    if static_.is_some() {
        let attr = cx.attr_with("static");
        check_static_async(sig, &attr, cx);
        check_owned_types(sig, &attr, Crossing::Process, cx);
    }
}

/// Rules for a worker `impl` block; returns its `run` method's signature.
fn check_worker_impl<'a>(
    block: &'a ItemImpl,
    kind: &WorkerKind,
    check_args: bool,
    static_: Option<Span>,
    cx: &mut Ctxt,
) -> Option<&'a Signature> {
    let self_ty = &block.self_ty;
    let attr = cx.attr();
    if let Some((_, trait_, for_token)) = &block.trait_ {
        let impl_token = &block.impl_token;
        cx.error_spanned(
            quote!(#impl_token #trait_ #for_token #self_ty),
            format!(
                "{attr} cannot be used on a trait `impl`; put it on an inherent block, \
                 `impl {} {{ fn run(&mut self) {{ … }} }}`",
                type_to_string(self_ty),
            ),
        );
        return None;
    }
    check_worker_generics(&block.generics, "a generic `impl` block", cx);

    let run = block.items.iter().find_map(|item| match item {
        ImplItem::Fn(method) if method.sig.ident == "run" => Some(&method.sig),
        _ => None,
    });
    let Some(run) = run else {
        let impl_token = &block.impl_token;
        let example = match kind {
            WorkerKind::Queue => "fn run(&mut self, item: String) { … }",
            WorkerKind::Repeat(_) | WorkerKind::Event => "fn run(&mut self) { … }",
        };
        cx.error_spanned(
            quote!(#impl_token #self_ty),
            format!("{attr} on an `impl` block needs a `run` method; add `{example}`"),
        );
        return None;
    };

    check_qualifiers(run, &attr, cx);
    check_worker_generics(&run.generics, "a generic `run` method", cx);
    let mut_self = match run.inputs.first() {
        Some(FnArg::Receiver(receiver)) => {
            let ok = receiver.colon_token.is_none()
                && receiver.reference.is_some()
                && receiver.mutability.is_some();
            (!ok).then(|| receiver.to_token_stream())
        }
        _ => Some(run.ident.to_token_stream()),
    };
    if let Some(tokens) = mut_self {
        let example = match kind {
            WorkerKind::Queue => "fn run(&mut self, item: String)",
            WorkerKind::Repeat(_) | WorkerKind::Event => "fn run(&mut self)",
        };
        cx.error_spanned(
            tokens,
            format!("{attr}: `run` must take `&mut self`; write `{example}`"),
        );
    }
    if check_args {
        check_executor_args(run, kind, Some(self_ty), static_.is_some(), cx);
    }
    if let Some(static_) = static_ {
        let example = match kind {
            WorkerKind::Queue => "fn handle(item: Job)",
            WorkerKind::Repeat(_) | WorkerKind::Event => "fn tick()",
        };
        cx.error(
            static_,
            format!(
                "{} cannot be used on an `impl` block: a stateful worker cannot run in the \
                 process pool, its state lives in the parent process; remove `static`, or \
                 write a worker fn without state: `#[background_worker({}static)] {example} \
                 {{ … }}`",
                cx.attr_with("static"),
                static_example_options(kind),
            ),
        );
    }
    Some(run)
}

/// The kind options of a worker, for the example in a message: `queue, `,
/// `event, `, `interval = …, `…
fn static_example_options(kind: &WorkerKind) -> &'static str {
    match kind {
        WorkerKind::Repeat(Schedule::Loop) => "",
        WorkerKind::Repeat(Schedule::Interval(_)) => "interval = …, ",
        WorkerKind::Repeat(Schedule::Delay(_)) => "delay = …, ",
        WorkerKind::Queue => "queue, ",
        WorkerKind::Event => "event, ",
    }
}

/// A worker is one handle of one concrete type: no generic parameters.
fn check_worker_generics(generics: &Generics, what: &str, cx: &mut Ctxt) {
    if !generics.params.is_empty() {
        cx.error_spanned(
            generics,
            format!(
                "{} cannot be used on {what}: a worker runs one concrete executor; remove \
                 the generic parameters and name the types",
                cx.attr(),
            ),
        );
    }
    if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned(
            where_clause,
            format!(
                "{} cannot be used on {what} with a `where` clause: a worker runs one \
                 concrete executor; remove the `where` clause",
                cx.attr(),
            ),
        );
    }
}

/// A queue executor takes exactly one argument, the item, which it owns; the
/// others none. `self_ty` is the type of an `impl` block's `run` (whose `self`
/// is not counted). A `static_` executor's item is checked by
/// [`check_static`]'s rules instead.
fn check_executor_args(
    sig: &Signature,
    kind: &WorkerKind,
    self_ty: Option<&Type>,
    static_: bool,
    cx: &mut Ctxt,
) {
    let attr = kind_attr(kind, cx);
    let args: Vec<&syn::PatType> = typed_inputs(&sig.inputs).collect();
    let (the_fn, example) = match self_ty {
        Some(_) => (
            "`run`".to_owned(),
            "fn run(&mut self, item: String)".to_owned(),
        ),
        None => (
            "the fn".to_owned(),
            format!("fn {}(item: String)", sig.ident),
        ),
    };
    match kind {
        WorkerKind::Queue => match args.as_slice() {
            [] => cx.error(
                sig.paren_token.span.join(),
                format!(
                    "{attr} passes each queued item to {the_fn}, which must take it as its \
                     only argument; write for example `{example}`"
                ),
            ),
            [item] => {
                if !static_ {
                    OwnedTypes {
                        attr: &attr,
                        crossing: Crossing::Queue,
                        position: Position::Argument,
                        cx: &mut *cx,
                    }
                    .visit_type(&item.ty);
                }
                if let Some(impl_trait) = find_impl_trait(&item.ty) {
                    cx.error_spanned(
                        impl_trait,
                        format!(
                            "{attr} needs a named item type, not `impl Trait`; write the type, \
                             e.g. `item: String`"
                        ),
                    );
                }
            }
            [_, extra @ ..] => {
                let besides = if self_ty.is_some() {
                    " besides `&mut self`"
                } else {
                    ""
                };
                cx.error_spanned(
                    comma_separated(extra),
                    format!(
                        "{attr} passes one item per run, so {the_fn} takes exactly one \
                         argument{besides}; put the values in one type, e.g. \
                         `(a, b): (u32, String)`, or remove the extra arguments"
                    ),
                );
            }
        },
        WorkerKind::Repeat(_) | WorkerKind::Event if !args.is_empty() => {
            let besides = if self_ty.is_some() {
                " besides `&mut self`"
            } else {
                ""
            };
            cx.error_spanned(
                comma_separated(&args),
                format!(
                    "{attr} calls {the_fn} with no arguments{besides}; remove them, or use \
                     `#[background_worker(queue)]` to pass each queued item as the only \
                     argument"
                ),
            );
        }
        WorkerKind::Repeat(_) | WorkerKind::Event => {}
    }
}

/// `a: A, b: B` for a span covering every argument.
fn comma_separated(args: &[&syn::PatType]) -> TokenStream {
    quote!(#(#args),*)
}

/// The first `impl Trait` inside a type.
fn find_impl_trait(ty: &Type) -> Option<&TypeImplTrait> {
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
