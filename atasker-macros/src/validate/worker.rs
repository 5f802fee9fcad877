//! The rules of `#[background_worker]`: its options against each other (as
//! written: the kind options exclude each other, `capacity` needs `queue`,
//! `tz` and `fleet` need `cron`…),
//! then its `fn` or `impl` block and `run` method against its options.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::{Generics, ItemImpl, PatType, Signature};

use super::owned::{check_owned_type, check_owned_types, Crossing, Position};
use super::{check_qualifiers, check_static_async, check_supervisor};
use crate::args::{DurationValue, Given, Key, WorkerArgs, WorkerKey};
use crate::ctxt::Ctxt;
use crate::item::{find_impl_trait, type_to_string, typed_inputs};
use crate::model::{Executor, Worker, WorkerKind};

// ---- the options ----

/// Checks a `#[background_worker]`: its options against each other (as
/// written, in `args`), then its item against its options.
pub(crate) fn worker(args: &WorkerArgs, worker: &Worker, cx: &mut Ctxt) {
    let kind_keys = args.kind_keys();
    check_kind_conflicts(&kind_keys, cx);
    check_capacity_has_queue(args, cx);
    check_pause_not_zero(args, cx);
    check_delay_before_has_timing(args, cx);
    check_tz_has_cron(args, cx);
    check_fleet(args, worker, cx);
    if let Some(supervisor) = &worker.options.supervisor {
        check_supervisor(supervisor, &[], "a worker", cx);
    }
    // With conflicting kinds, the executor's arguments cannot be checked
    // against the right kind: the user fixes the options first.
    let check_args = kind_keys.len() < 2;
    match &worker.executor {
        Executor::Fn(func) => check_worker_fn(&func.sig, worker, check_args, cx),
        Executor::Impl { block, run } => {
            check_worker_impl(block, run.as_ref(), worker, check_args, cx);
        }
    }
}

/// `interval`, `delay`, `cron`, `queue` and `event` exclude each other: each
/// one written after the first is an error at its key.
fn check_kind_conflicts(kind_keys: &[(WorkerKey, Span)], cx: &mut Ctxt) {
    if let Some(((first, _), rest)) = kind_keys.split_first() {
        for &(key, span) in rest {
            let message = kind_conflict(*first, key, cx);
            cx.error(span, message);
        }
    }
}

/// The message for kind key `second`, written after kind key `first`.
fn kind_conflict(first: WorkerKey, second: WorkerKey, cx: &Ctxt) -> String {
    use WorkerKey::{Cron, Delay, Event, Interval, Queue};
    let attr = cx.attr();
    let timed_kind = |key| match key {
        Delay => "a delay",
        Cron => "a cron",
        _ => "an interval",
    };
    match (first, second) {
        (Interval, Delay) | (Delay, Interval) => format!(
            "{attr} takes `interval` or `delay`, not both: `interval` runs at a fixed rate, \
             `delay` pauses after each run; keep one of them"
        ),
        (Cron, timed @ (Interval | Delay)) | (timed @ (Interval | Delay), Cron) => {
            let (name, what) = if timed == Delay {
                ("delay", "pauses after each run")
            } else {
                ("interval", "runs at a fixed rate from `start()`")
            };
            format!(
                "{attr} takes `cron` or `{name}`, not both: `cron` runs at the times its \
                 expression names, `{name}` {what}; keep one of them"
            )
        }
        (Queue, Event) | (Event, Queue) => format!(
            "{attr} takes `queue` or `event`, not both: a queue worker runs once per item, an \
             event worker once per `trigger()`; keep one of them"
        ),
        (Queue, timed) | (timed, Queue) => format!(
            "{} runs once per queued item and takes no `{name}`; remove `{name}`, or remove \
             `queue` for {} worker",
            cx.attr_with("queue"),
            timed_kind(timed),
            name = timed.spec().name,
        ),
        (Event, timed) | (timed, _) => format!(
            "{} runs once per `trigger()` and takes no `{name}`; remove `{name}`, or remove \
             `event` for {} worker (it has `trigger()` too)",
            cx.attr_with("event"),
            timed_kind(timed),
            name = timed.spec().name,
        ),
    }
}

/// `capacity` bounds a queue: it needs `queue`.
fn check_capacity_has_queue(args: &WorkerArgs, cx: &mut Ctxt) {
    if let (Some(capacity), None) = (&args.capacity, &args.queue) {
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

/// `interval = 0` or `delay = 0` would keep a thread busy, unless
/// `delay_before` gives the pause.
fn check_pause_not_zero(args: &WorkerArgs, cx: &mut Ctxt) {
    if args.delay_before.is_some() {
        return;
    }
    for (key, given) in [("interval", &args.interval), ("delay", &args.delay)] {
        let Some(Given {
            value: Some(DurationValue::Seconds { secs, span }),
            ..
        }) = given
        else {
            continue;
        };
        if *secs == 0.0 {
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

/// `delay_before` pauses before each run of an interval or delay worker; a
/// cron worker's times are all in its expression.
fn check_delay_before_has_timing(args: &WorkerArgs, cx: &mut Ctxt) {
    let Some(delay_before) = &args.delay_before else {
        return;
    };
    if args.interval.is_some() || args.delay.is_some() {
        return;
    }
    if args.cron.is_some() {
        cx.error(
            delay_before.key,
            format!(
                "{} runs at the times its expression names and takes no `delay_before`; \
                 write the later time in the expression (e.g. `30 */5 * * * *` for 30 \
                 seconds past every fifth minute), or remove `delay_before`",
                cx.attr_with("cron = …"),
            ),
        );
    } else {
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

/// `tz` is the time zone of a cron worker's expression: it needs `cron`.
fn check_tz_has_cron(args: &WorkerArgs, cx: &mut Ctxt) {
    if let (Some(tz), None) = (&args.tz, &args.cron) {
        cx.error(
            tz.key,
            format!(
                "{}: `tz` is the time zone of a cron worker's expression; add `cron = \"…\"` \
                 (`#[background_worker(cron = \"0 30 2 * * *\", tz = \"Europe/Berlin\")]`) \
                 or remove `tz`",
                cx.attr(),
            ),
        );
    }
}

/// `fleet` runs each tick of a cron worker on one node of the cluster: it
/// needs `cron`, and a `fn` (an `impl` worker's state lives on one host).
fn check_fleet(args: &WorkerArgs, worker: &Worker, cx: &mut Ctxt) {
    let Some(fleet) = &args.fleet else {
        return;
    };
    if matches!(worker.executor, Executor::Impl { .. }) {
        cx.error(
            fleet.key,
            format!(
                "{} cannot be used on an `impl` block: a stateful worker's state lives on \
                 one host, so no other node of the cluster can run its ticks; remove \
                 `fleet`, or use a worker fn without state: `#[background_worker(cron = \
                 \"…\", fleet)] fn sweep() {{ … }}`",
                cx.attr_with("fleet"),
            ),
        );
    } else if args.cron.is_none() {
        cx.error(
            fleet.key,
            format!(
                "{}: `fleet` runs each tick of a cron worker on one node of the cluster; add \
                 `cron = \"…\"` (`#[background_worker(cron = \"0 * * * * *\", fleet)]`) or \
                 remove `fleet`",
                cx.attr(),
            ),
        );
    }
}

// ---- the item ----

/// Rules for a worker `fn`; `check_args` says whether to check its arguments
/// against the kind.
fn check_worker_fn(sig: &Signature, worker: &Worker, check_args: bool, cx: &mut Ctxt) {
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
    let static_ = worker.options.static_.is_some();
    if check_args {
        check_executor_args(sig, &worker.kind, false, static_, cx);
    }
    if static_ {
        let attr = cx.attr_with("static");
        check_static_async(sig, &attr, "`static` or `async`", cx);
        check_owned_types(sig, &attr, Crossing::Process, cx);
    }
}

/// Rules for a worker `impl` block and its `run` method (`None` for a trait
/// `impl` or a block without `run`).
fn check_worker_impl(
    block: &ItemImpl,
    run: Option<&Signature>,
    worker: &Worker,
    check_args: bool,
    cx: &mut Ctxt,
) {
    if !check_inherent(block, cx) {
        return;
    }
    check_worker_generics(&block.generics, "a generic `impl` block", cx);
    let Some(run) = run else {
        let (impl_token, self_ty) = (&block.impl_token, &block.self_ty);
        cx.error_spanned(
            quote!(#impl_token #self_ty),
            format!(
                "{} on an `impl` block needs a `run` method; add `{} {{ … }}`",
                cx.attr(),
                run_example(&worker.kind),
            ),
        );
        return;
    };
    check_run(run, worker, check_args, cx);
    if let Some(static_) = worker.options.static_ {
        report_static_impl(static_, &worker.kind, cx);
    }
}

/// Whether `block` is an inherent `impl` (a trait `impl` cannot gain
/// `into_worker`, and is reported).
fn check_inherent(block: &ItemImpl, cx: &mut Ctxt) -> bool {
    let Some((_, trait_, for_token)) = &block.trait_ else {
        return true;
    };
    let (impl_token, self_ty) = (&block.impl_token, &block.self_ty);
    cx.error_spanned(
        quote!(#impl_token #trait_ #for_token #self_ty),
        format!(
            "{} cannot be used on a trait `impl`; put it on an inherent block, \
             `impl {} {{ fn run(&mut self) {{ … }} }}`",
            cx.attr(),
            type_to_string(self_ty),
        ),
    );
    false
}

/// Rules for the `run` method of a worker `impl` block.
fn check_run(run: &Signature, worker: &Worker, check_args: bool, cx: &mut Ctxt) {
    let attr = cx.attr();
    check_qualifiers(run, &attr, cx);
    check_worker_generics(&run.generics, "a generic `run` method", cx);
    let takes_mut_self = match run.inputs.first() {
        Some(syn::FnArg::Receiver(receiver)) => {
            let ok = receiver.colon_token.is_none()
                && receiver.reference.is_some()
                && receiver.mutability.is_some();
            (!ok).then(|| receiver.to_token_stream())
        }
        _ => Some(run.ident.to_token_stream()),
    };
    if let Some(tokens) = takes_mut_self {
        cx.error_spanned(
            tokens,
            format!(
                "{attr}: `run` must take `&mut self`; write `{}`",
                run_example(&worker.kind),
            ),
        );
    }
    if check_args {
        let static_ = worker.options.static_.is_some();
        check_executor_args(run, &worker.kind, true, static_, cx);
    }
}

/// The signature of `run` for this kind, for messages.
fn run_example(kind: &WorkerKind) -> &'static str {
    if kind.takes_item() {
        "fn run(&mut self, item: String)"
    } else {
        "fn run(&mut self)"
    }
}

/// A stateful worker cannot be `static`: its state lives in this process.
fn report_static_impl(static_: Span, kind: &WorkerKind, cx: &mut Ctxt) {
    let options = kind
        .option()
        .map_or(String::new(), |option| format!("{option}, "));
    let example = if kind.takes_item() {
        "fn handle(item: Job)"
    } else {
        "fn tick()"
    };
    cx.error(
        static_,
        format!(
            "{} cannot be used on an `impl` block: a stateful worker cannot run in the \
             process pool, its state lives in the parent process; remove `static`, or \
             write a worker fn without state: `#[background_worker({options}static)] {example} \
             {{ … }}`",
            cx.attr_with("static"),
        ),
    );
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
/// others none. `in_impl`: the executor is an `impl` block's `run`, whose
/// `self` is not counted. A `static_` executor's item is checked by
/// `check_static`'s rules instead.
fn check_executor_args(
    sig: &Signature,
    kind: &WorkerKind,
    in_impl: bool,
    static_: bool,
    cx: &mut Ctxt,
) {
    let attr = kind
        .option()
        .map_or_else(|| cx.attr(), |option| cx.attr_with(option));
    let args: Vec<&PatType> = typed_inputs(&sig.inputs).collect();
    let (the_fn, besides) = if in_impl {
        ("`run`", " besides `&mut self`")
    } else {
        ("the fn", "")
    };
    match (kind.takes_item(), args.as_slice()) {
        (true, []) => {
            let example = if in_impl {
                run_example(kind).to_owned()
            } else {
                format!("fn {}(item: String)", sig.ident)
            };
            cx.error(
                sig.paren_token.span.join(),
                format!(
                    "{attr} passes each queued item to {the_fn}, which must take it as its \
                     only argument; write for example `{example}`"
                ),
            );
        }
        (true, [item]) => check_queue_item(item, &attr, static_, cx),
        (true, [_, extra @ ..]) => cx.error_spanned(
            comma_separated(extra),
            format!(
                "{attr} passes one item per run, so {the_fn} takes exactly one \
                 argument{besides}; put the values in one type, e.g. \
                 `(a, b): (u32, String)`, or remove the extra arguments"
            ),
        ),
        (false, []) => {}
        (false, args) => cx.error_spanned(
            comma_separated(args),
            format!(
                "{attr} calls {the_fn} with no arguments{besides}; remove them, or use \
                 `#[background_worker(queue)]` to pass each queued item as the only \
                 argument"
            ),
        ),
    }
}

/// A queue item must be owned (unless `static_`: `check_static`'s rules
/// apply) and of a named type. `attr` is the macro as written in messages.
fn check_queue_item(item: &PatType, attr: &str, static_: bool, cx: &mut Ctxt) {
    if !static_ {
        check_owned_type(&item.ty, attr, Crossing::Queue, Position::Argument, cx);
    }
    if let Some(impl_trait) = find_impl_trait(&item.ty) {
        cx.error_spanned(
            impl_trait,
            format!(
                "{attr} needs a named item type, not `impl Trait`; write the type, e.g. \
                 `item: String`"
            ),
        );
    }
}

/// `a: A, b: B` for a span covering every argument.
fn comma_separated(args: &[&PatType]) -> TokenStream {
    quote!(#(#args),*)
}
