//! Model stage: the typed model that validation and expansion read — a
//! [`Task`] or a [`Worker`], with its final options and the decisions made
//! once from the options and the item: where the function runs ([`FnKind`]),
//! the kind of worker ([`WorkerKind`]), what it runs ([`Executor`]).
//!
//! Building the model reports nothing (as thiserror-impl's `ast.rs`, whose
//! `valid.rs` checks it afterwards): a model is built for an invalid use too,
//! for the stand-in emitted beside the errors.

use proc_macro2::Span;
use syn::{Expr, ImplItem, ItemFn, ItemImpl, LitStr, Signature, Type};

use crate::args::{CountValue, DurationValue, Given, TaskArgs, WorkerArgs};
use crate::item::{typed_inputs, WorkerItem};

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

// ---- tasks ----

/// The valid value of an option as written, if any.
fn valid<T: Clone>(given: &Option<Given<T>>) -> Option<T> {
    given.as_ref().and_then(|given| given.value.clone())
}

/// The options of `#[background_task]` with a valid value.
pub(crate) struct TaskOptions {
    /// The span of `static`.
    pub(crate) static_: Option<Span>,
    /// The span of `remote`: the task runs on a node of the supervisor's
    /// cluster (validation requires `static` too).
    pub(crate) remote: Option<Span>,
    /// `priority = EXPR`.
    pub(crate) priority: Option<Expr>,
    /// `supervisor = EXPR`.
    pub(crate) supervisor: Option<Expr>,
    /// `timeout = SECS | EXPR`.
    pub(crate) timeout: Option<DurationValue>,
    /// `delay = SECS | EXPR`.
    pub(crate) delay: Option<DurationValue>,
    /// `retries = N | EXPR`.
    pub(crate) retries: Option<CountValue>,
    /// `backoff = SECS | EXPR`.
    pub(crate) backoff: Option<DurationValue>,
    /// `backoff_max = SECS | EXPR`.
    pub(crate) backoff_max: Option<DurationValue>,
    /// `limit = N | EXPR`.
    pub(crate) limit: Option<CountValue>,
}

impl From<&TaskArgs> for TaskOptions {
    fn from(args: &TaskArgs) -> Self {
        TaskOptions {
            static_: valid(&args.static_),
            remote: valid(&args.remote),
            priority: valid(&args.priority),
            supervisor: valid(&args.supervisor),
            timeout: valid(&args.timeout),
            delay: valid(&args.delay),
            retries: valid(&args.retries),
            backoff: valid(&args.backoff),
            backoff_max: valid(&args.backoff_max),
            limit: valid(&args.limit),
        }
    }
}

/// A `#[background_task]`.
pub(crate) struct Task {
    /// Where the function runs.
    pub(crate) kind: FnKind,
    /// The options.
    pub(crate) options: TaskOptions,
    /// The user's function, unchanged.
    pub(crate) func: ItemFn,
}

impl Task {
    /// The task of `func` with the options `args`.
    pub(crate) fn new(args: &TaskArgs, func: ItemFn) -> Task {
        let options = TaskOptions::from(args);
        Task {
            kind: FnKind::of(&func.sig, options.static_),
            options,
            func,
        }
    }
}

// ---- workers ----

/// When a loop, interval, delay or cron worker runs.
pub(crate) enum Schedule {
    /// Back to back: no `interval`, `delay` or `cron`.
    Loop,
    /// `interval = I`.
    Interval(DurationValue),
    /// `delay = D`.
    Delay(DurationValue),
    /// `cron = "…"`, with `tz = "…"` and `fleet` if given.
    Cron {
        /// The expression, already parsed by the cron library.
        expr: LitStr,
        /// The time zone (`"Area/City"` or `"local"`); `None` for UTC.
        tz: Option<LitStr>,
        /// Whether one node of the cluster runs each tick.
        fleet: bool,
    },
}

/// The kind of a worker, decided once from its options.
pub(crate) enum WorkerKind {
    /// Loop, interval, delay or cron: a `Worker`.
    Repeat(Schedule),
    /// `queue`: a `QueueWorker<T>`; the executor takes the item.
    Queue,
    /// `event`: an `EventWorker`.
    Event,
}

impl WorkerKind {
    /// The kind the options ask for. Of conflicting kind options (an error),
    /// `queue` wins, then `event`, `interval`, `delay` and `cron`; an
    /// `interval`, a `delay` or a `cron` whose value was invalid (an error)
    /// counts as a loop, and an invalid `tz` as none.
    fn of(args: &WorkerArgs) -> WorkerKind {
        let timed = |given: &Given<DurationValue>, schedule: fn(DurationValue) -> Schedule| {
            WorkerKind::Repeat(given.value.clone().map_or(Schedule::Loop, schedule))
        };
        if args.queue.is_some() {
            WorkerKind::Queue
        } else if args.event.is_some() {
            WorkerKind::Event
        } else if let Some(interval) = &args.interval {
            timed(interval, Schedule::Interval)
        } else if let Some(delay) = &args.delay {
            timed(delay, Schedule::Delay)
        } else if let Some(cron) = &args.cron {
            WorkerKind::Repeat(
                cron.value
                    .clone()
                    .map_or(Schedule::Loop, |expr| Schedule::Cron {
                        expr,
                        tz: args.tz.as_ref().and_then(|tz| tz.value.clone()),
                        fleet: args.fleet.is_some(),
                    }),
            )
        } else {
            WorkerKind::Repeat(Schedule::Loop)
        }
    }

    /// Whether the executor takes an item (queue workers).
    pub(crate) fn takes_item(&self) -> bool {
        matches!(self, WorkerKind::Queue)
    }

    /// The option that makes this kind, as messages write it (`queue`,
    /// `interval = …`); `None` for a loop worker, which has none.
    pub(crate) fn option(&self) -> Option<&'static str> {
        match self {
            WorkerKind::Repeat(Schedule::Loop) => None,
            WorkerKind::Repeat(Schedule::Interval(_)) => Some("interval = …"),
            WorkerKind::Repeat(Schedule::Delay(_)) => Some("delay = …"),
            WorkerKind::Repeat(Schedule::Cron { .. }) => Some("cron = …"),
            WorkerKind::Queue => Some("queue"),
            WorkerKind::Event => Some("event"),
        }
    }
}

/// The options of `#[background_worker]` with a valid value, besides those
/// that make its [`WorkerKind`].
pub(crate) struct WorkerOptions {
    /// The span of `static`.
    pub(crate) static_: Option<Span>,
    /// `delay_before = SECS | EXPR`.
    pub(crate) delay_before: Option<DurationValue>,
    /// `capacity = N | EXPR`.
    pub(crate) capacity: Option<CountValue>,
    /// `priority = EXPR`.
    pub(crate) priority: Option<Expr>,
    /// `name = "…"`.
    pub(crate) name: Option<LitStr>,
    /// `supervisor = EXPR`.
    pub(crate) supervisor: Option<Expr>,
    /// `on_error = PATH`.
    pub(crate) on_error: Option<Expr>,
}

impl From<&WorkerArgs> for WorkerOptions {
    fn from(args: &WorkerArgs) -> Self {
        WorkerOptions {
            static_: valid(&args.static_),
            delay_before: valid(&args.delay_before),
            capacity: valid(&args.capacity),
            priority: valid(&args.priority),
            name: valid(&args.name),
            supervisor: valid(&args.supervisor),
            on_error: valid(&args.on_error),
        }
    }
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

impl Executor {
    /// The signature of what runs: the `fn` or the `run` method.
    pub(crate) fn sig(&self) -> Option<&Signature> {
        match self {
            Executor::Fn(func) => Some(&func.sig),
            Executor::Impl { run, .. } => run.as_ref(),
        }
    }
}

impl From<WorkerItem> for Executor {
    fn from(item: WorkerItem) -> Self {
        match item {
            WorkerItem::Fn(func) => Executor::Fn(func),
            WorkerItem::Impl(block) => Executor::Impl {
                run: run_method(&block),
                block,
            },
        }
    }
}

/// The signature of an inherent block's `run` method.
fn run_method(block: &ItemImpl) -> Option<Signature> {
    if block.trait_.is_some() {
        return None;
    }
    block.items.iter().find_map(|item| match item {
        ImplItem::Fn(method) if method.sig.ident == "run" => Some(method.sig.clone()),
        _ => None,
    })
}

/// A `#[background_worker]`.
pub(crate) struct Worker {
    /// Loop/interval/delay, queue or event.
    pub(crate) kind: WorkerKind,
    /// Where the executor runs (from `async` and `static`).
    pub(crate) fn_kind: FnKind,
    /// The other options.
    pub(crate) options: WorkerOptions,
    /// The queue's item type (queue workers).
    pub(crate) item_ty: Option<Type>,
    /// The `fn` or `impl` block.
    pub(crate) executor: Executor,
}

impl Worker {
    /// The worker of `item` with the options `args`.
    pub(crate) fn new(args: &WorkerArgs, item: WorkerItem) -> Worker {
        let kind = WorkerKind::of(args);
        let options = WorkerOptions::from(args);
        let executor = Executor::from(item);
        let sig = executor.sig();
        let item_ty = match sig {
            Some(sig) if kind.takes_item() => typed_inputs(&sig.inputs)
                .next()
                .map(|arg| (*arg.ty).clone()),
            _ => None,
        };
        let fn_kind = sig.map_or(FnKind::Blocking, |sig| FnKind::of(sig, options.static_));
        Worker {
            kind,
            fn_kind,
            options,
            item_ty,
            executor,
        }
    }
}
