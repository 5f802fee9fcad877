//! Parse stage, part 1: the attribute's options, e.g.
//! `#[background_task(static, priority = Priority::High, timeout = 5)]` or
//! `#[background_worker(queue, capacity = 100, name = "mailer")]`.
//!
//! Each macro's keys are an enum ([`TaskKey`], [`WorkerKey`]) and its options
//! a struct with one field per key ([`TaskArgs`], [`WorkerArgs`], the options
//! as written, as tokio-macros' `Configuration`). `syn::meta::parser` reads
//! each option: its key becomes a variant (an unknown key is an error that
//! lists the valid keys; a key that belongs elsewhere, as `remote` on a
//! worker, one that says where), and its checked value goes to the key's
//! field, once, with the key's span (a duplicate key is an error too). Errors
//! go to the [`Ctxt`] and parsing goes on, so the user sees all of them at
//! once. The checks of the values themselves, and the checked values
//! ([`DurationValue`], [`CountValue`]) that the later stages read, are in
//! `args/value.rs`.

mod value;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, Ident, LitStr};

use self::value::{
    any_expr, count_value, cron_value, duration_value, priority_value, str_value, tz_value,
};
pub(crate) use self::value::{peel, CountValue, DurationValue};
use crate::ctxt::Ctxt;

// ---- keys ----

/// How an option's value is written, as the list of valid keys shows it.
#[derive(Clone, Copy)]
enum Form {
    /// A bare keyword: `static`.
    Flag,
    /// `key = EXPR`.
    Expr,
    /// `key = SECS | EXPR`: an int or float literal is seconds, any other
    /// expression a `core::time::Duration`.
    Duration,
    /// `key = "…"`: a string literal.
    Str,
    /// `key = N | EXPR`: an integer literal of at least 1, or any other
    /// expression (a `usize`).
    Count,
    /// `key = PATH`: a function, e.g. `on_error = report`.
    Path,
}

/// What messages say about a key.
#[derive(Clone, Copy)]
pub(crate) struct Spec {
    /// The key as written, e.g. `priority`.
    pub(crate) name: &'static str,
    /// How its value is written.
    form: Form,
    /// An example of a correct use.
    pub(crate) example: &'static str,
}

/// A [`Spec`] on one line.
const fn spec(name: &'static str, form: Form, example: &'static str) -> Spec {
    Spec {
        name,
        form,
        example,
    }
}

const STATIC: Spec = spec("static", Form::Flag, "static");
const PRIORITY: Spec = spec("priority", Form::Expr, "priority = Priority::High");
const SUPERVISOR: Spec = spec("supervisor", Form::Expr, "supervisor = my_supervisor()");

impl Spec {
    /// How the option is written, for the list of valid keys:
    /// `` `static` ``, `` `priority = EXPR` ``…
    fn syntax(&self) -> String {
        let name = self.name;
        match self.form {
            Form::Flag => format!("`{name}`"),
            Form::Expr => format!("`{name} = EXPR`"),
            Form::Duration => format!("`{name} = SECS | EXPR`"),
            Form::Str => format!("`{name} = \"…\"`"),
            Form::Count => format!("`{name} = N`"),
            Form::Path => format!("`{name} = PATH`"),
        }
    }
}

/// The keys of one macro.
pub(crate) trait Key: Copy + 'static {
    /// Every key, in the order the list of valid keys shows them.
    const ALL: &'static [Self];
    /// What messages say about the key.
    fn spec(self) -> Spec;
    /// The message for `name`, a key this macro does not take but another
    /// use does (e.g. `remote` on a worker), saying what to write instead;
    /// `None` for an unknown key, which gets the list of valid keys.
    fn misplaced(name: &str, cx: &Ctxt) -> Option<String> {
        let _ = (name, cx);
        None
    }
}

/// The keys of `#[background_task]`.
#[derive(Clone, Copy)]
pub(crate) enum TaskKey {
    Static,
    Remote,
    Priority,
    Supervisor,
    Timeout,
    Delay,
    Retries,
    Backoff,
    BackoffMax,
    Limit,
}

impl Key for TaskKey {
    const ALL: &'static [Self] = &[
        Self::Static,
        Self::Remote,
        Self::Priority,
        Self::Supervisor,
        Self::Timeout,
        Self::Delay,
        Self::Retries,
        Self::Backoff,
        Self::BackoffMax,
        Self::Limit,
    ];

    fn spec(self) -> Spec {
        match self {
            Self::Static => STATIC,
            Self::Remote => spec("remote", Form::Flag, "remote"),
            Self::Priority => PRIORITY,
            Self::Supervisor => SUPERVISOR,
            Self::Timeout => spec("timeout", Form::Duration, "timeout = 5"),
            Self::Delay => spec("delay", Form::Duration, "delay = 5"),
            Self::Retries => spec("retries", Form::Count, "retries = 3"),
            Self::Backoff => spec("backoff", Form::Duration, "backoff = 0.5"),
            Self::BackoffMax => spec("backoff_max", Form::Duration, "backoff_max = 60"),
            Self::Limit => spec("limit", Form::Count, "limit = 1"),
        }
    }
}

/// The keys of `#[background_worker]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkerKey {
    Interval,
    Delay,
    DelayBefore,
    Cron,
    Tz,
    Fleet,
    Queue,
    Capacity,
    Event,
    Static,
    Priority,
    Name,
    Supervisor,
    OnError,
}

impl Key for WorkerKey {
    const ALL: &'static [Self] = &[
        Self::Interval,
        Self::Delay,
        Self::DelayBefore,
        Self::Cron,
        Self::Tz,
        Self::Fleet,
        Self::Queue,
        Self::Capacity,
        Self::Event,
        Self::Static,
        Self::Priority,
        Self::Name,
        Self::Supervisor,
        Self::OnError,
    ];

    fn spec(self) -> Spec {
        match self {
            Self::Interval => spec("interval", Form::Duration, "interval = 1"),
            Self::Delay => spec("delay", Form::Duration, "delay = 1"),
            Self::DelayBefore => spec("delay_before", Form::Duration, "delay_before = 0.5"),
            Self::Cron => spec("cron", Form::Str, "cron = \"0 */5 * * * *\""),
            Self::Tz => spec("tz", Form::Str, "tz = \"Europe/Berlin\""),
            Self::Fleet => spec("fleet", Form::Flag, "fleet"),
            Self::Queue => spec("queue", Form::Flag, "queue"),
            Self::Capacity => spec("capacity", Form::Count, "capacity = 100"),
            Self::Event => spec("event", Form::Flag, "event"),
            Self::Static => STATIC,
            Self::Priority => PRIORITY,
            Self::Name => spec("name", Form::Str, "name = \"mailer\""),
            Self::Supervisor => SUPERVISOR,
            Self::OnError => spec("on_error", Form::Path, "on_error = report"),
        }
    }

    fn misplaced(name: &str, cx: &Ctxt) -> Option<String> {
        (name == "remote").then(|| {
            format!(
                "{} has no option `remote`: a worker's runs cannot be remote yet, `remote` is \
                 for tasks, `#[background_task(static, remote)]`; remove `remote` (`static` \
                 runs a worker fn in this host's process pool)",
                cx.attr(),
            )
        })
    }
}

// ---- the options as written ----

/// An option as written: where its key stands and its value.
pub(crate) struct Given<T> {
    /// The span of the key where it is first written.
    pub(crate) key: Span,
    /// Its place among the options, for the order in which they are written.
    pub(crate) order: usize,
    /// The value; `None` when every value written for the key was wrong
    /// (already reported). The key still counts as given, so that later
    /// checks (e.g. "`delay_before` needs `interval`") report no second,
    /// misleading error.
    pub(crate) value: Option<T>,
}

/// The options of one macro, one field per key.
pub(crate) trait Options: Default {
    /// The macro's keys.
    type Key: Key;
    /// Reads the value of `option.key` into its field.
    fn read(&mut self, option: &mut Reader<'_, '_, Self::Key>) -> syn::Result<()>;
}

/// The options of `#[background_task]`, as written. A flag's value is the
/// span of its key.
#[derive(Default)]
pub(crate) struct TaskArgs {
    /// `static`.
    pub(crate) static_: Option<Given<Span>>,
    /// `remote` (which needs `static`).
    pub(crate) remote: Option<Given<Span>>,
    /// `priority = EXPR`.
    pub(crate) priority: Option<Given<Expr>>,
    /// `supervisor = EXPR`.
    pub(crate) supervisor: Option<Given<Expr>>,
    /// `timeout = SECS | EXPR`.
    pub(crate) timeout: Option<Given<DurationValue>>,
    /// `delay = SECS | EXPR`.
    pub(crate) delay: Option<Given<DurationValue>>,
    /// `retries = N | EXPR`.
    pub(crate) retries: Option<Given<CountValue>>,
    /// `backoff = SECS | EXPR` (which needs `retries`).
    pub(crate) backoff: Option<Given<DurationValue>>,
    /// `backoff_max = SECS | EXPR` (which needs `retries`).
    pub(crate) backoff_max: Option<Given<DurationValue>>,
    /// `limit = N | EXPR`.
    pub(crate) limit: Option<Given<CountValue>>,
}

impl Options for TaskArgs {
    type Key = TaskKey;

    fn read(&mut self, option: &mut Reader<'_, '_, TaskKey>) -> syn::Result<()> {
        match option.key {
            TaskKey::Static => option.flag(&mut self.static_),
            TaskKey::Remote => option.flag(&mut self.remote),
            TaskKey::Priority => option.value(&mut self.priority, priority_value),
            TaskKey::Supervisor => option.value(&mut self.supervisor, any_expr),
            TaskKey::Timeout => option.value(&mut self.timeout, duration_value),
            TaskKey::Delay => option.value(&mut self.delay, duration_value),
            TaskKey::Retries => option.value(&mut self.retries, count_value),
            TaskKey::Backoff => option.value(&mut self.backoff, duration_value),
            TaskKey::BackoffMax => option.value(&mut self.backoff_max, duration_value),
            TaskKey::Limit => option.value(&mut self.limit, count_value),
        }
    }
}

/// The options of `#[background_worker]`, as written. A flag's value is the
/// span of its key. Which of them go together is checked by the validate
/// stage.
#[derive(Default)]
pub(crate) struct WorkerArgs {
    /// `interval = SECS | EXPR`.
    pub(crate) interval: Option<Given<DurationValue>>,
    /// `delay = SECS | EXPR`.
    pub(crate) delay: Option<Given<DurationValue>>,
    /// `delay_before = SECS | EXPR`.
    pub(crate) delay_before: Option<Given<DurationValue>>,
    /// `cron = "…"`, a valid cron expression.
    pub(crate) cron: Option<Given<LitStr>>,
    /// `tz = "…"`, a known time zone or `"local"`.
    pub(crate) tz: Option<Given<LitStr>>,
    /// `fleet`.
    pub(crate) fleet: Option<Given<Span>>,
    /// `queue`.
    pub(crate) queue: Option<Given<Span>>,
    /// `capacity = N | EXPR`.
    pub(crate) capacity: Option<Given<CountValue>>,
    /// `event`.
    pub(crate) event: Option<Given<Span>>,
    /// `static`.
    pub(crate) static_: Option<Given<Span>>,
    /// `priority = EXPR`.
    pub(crate) priority: Option<Given<Expr>>,
    /// `name = "…"`.
    pub(crate) name: Option<Given<LitStr>>,
    /// `supervisor = EXPR`.
    pub(crate) supervisor: Option<Given<Expr>>,
    /// `on_error = PATH`.
    pub(crate) on_error: Option<Given<Expr>>,
}

impl Options for WorkerArgs {
    type Key = WorkerKey;

    fn read(&mut self, option: &mut Reader<'_, '_, WorkerKey>) -> syn::Result<()> {
        match option.key {
            WorkerKey::Interval => option.value(&mut self.interval, duration_value),
            WorkerKey::Delay => option.value(&mut self.delay, duration_value),
            WorkerKey::DelayBefore => option.value(&mut self.delay_before, duration_value),
            WorkerKey::Cron => option.value(&mut self.cron, cron_value),
            WorkerKey::Tz => option.value(&mut self.tz, tz_value),
            WorkerKey::Fleet => option.flag(&mut self.fleet),
            WorkerKey::Queue => option.flag(&mut self.queue),
            WorkerKey::Capacity => option.value(&mut self.capacity, count_value),
            WorkerKey::Event => option.flag(&mut self.event),
            WorkerKey::Static => option.flag(&mut self.static_),
            WorkerKey::Priority => option.value(&mut self.priority, priority_value),
            WorkerKey::Name => option.value(&mut self.name, str_value),
            WorkerKey::Supervisor => option.value(&mut self.supervisor, any_expr),
            WorkerKey::OnError => option.value(&mut self.on_error, any_expr),
        }
    }
}

impl WorkerArgs {
    /// The kind keys given (`interval`, `delay`, `cron`, `queue`, `event`,
    /// which exclude each other), in the order written, with their spans.
    pub(crate) fn kind_keys(&self) -> Vec<(WorkerKey, Span)> {
        fn place<T>(given: &Option<Given<T>>) -> Option<(usize, Span)> {
            given.as_ref().map(|given| (given.order, given.key))
        }
        let mut keys: Vec<(usize, WorkerKey, Span)> = [
            (WorkerKey::Interval, place(&self.interval)),
            (WorkerKey::Delay, place(&self.delay)),
            (WorkerKey::Cron, place(&self.cron)),
            (WorkerKey::Queue, place(&self.queue)),
            (WorkerKey::Event, place(&self.event)),
        ]
        .into_iter()
        .filter_map(|(key, place)| place.map(|(order, span)| (order, key, span)))
        .collect();
        keys.sort_by_key(|(order, _, _)| *order);
        keys.into_iter().map(|(_, key, span)| (key, span)).collect()
    }
}

// ---- reading ----

/// Parses `tokens` as the options `T`, reporting every problem to `cx`.
pub(crate) fn parse<T: Options>(tokens: TokenStream, cx: &mut Ctxt) -> T {
    let mut options = T::default();
    let mut order = 0;
    let parser = syn::meta::parser(|meta| {
        order += 1;
        parse_one(&mut options, &meta, order, cx)
    });
    if let Err(error) = parser.parse2(tokens) {
        cx.push(error);
    }
    options
}

/// Parses one `key` or `key = value` into `options`. Problems with this
/// option are reported to `cx` and its tokens skipped, so the next options are
/// still checked; only a value that is not an expression at all stops parsing
/// (returns `Err`).
fn parse_one<T: Options>(
    options: &mut T,
    meta: &ParseNestedMeta<'_>,
    order: usize,
    cx: &mut Ctxt,
) -> syn::Result<()> {
    let Some((key, ident)) = find_key::<T::Key>(&meta.path) else {
        let name = path_to_string(&meta.path);
        let message = T::Key::misplaced(&name, cx).unwrap_or_else(|| {
            format!(
                "{} has no option `{name}`; valid options: {}",
                cx.attr(),
                valid_keys::<T::Key>(),
            )
        });
        cx.error_spanned(&meta.path, message);
        skip_value(meta)?;
        return Ok(());
    };
    options.read(&mut Reader {
        key,
        ident,
        order,
        meta,
        cx,
    })
}

/// The key named by `path` (a single identifier, keywords included), with
/// its identifier.
fn find_key<K: Key>(path: &syn::Path) -> Option<(K, Ident)> {
    if path.leading_colon.is_some() || path.segments.len() != 1 {
        return None;
    }
    let ident = &path.segments[0].ident;
    let key = K::ALL.iter().find(|key| ident == key.spec().name)?;
    Some((*key, ident.clone()))
}

/// One option being read: its key, and the input after it.
pub(crate) struct Reader<'a, 'm, K> {
    /// The key.
    key: K,
    /// The key as written, with its span.
    ident: Ident,
    /// The option's place among the options.
    order: usize,
    meta: &'a ParseNestedMeta<'m>,
    cx: &'a mut Ctxt,
}

impl<K: Key> Reader<'_, '_, K> {
    /// Reads a bare keyword (`static`) into `field`: its value is its key's
    /// span.
    fn flag(&mut self, field: &mut Option<Given<Span>>) -> syn::Result<()> {
        self.read_into(field, Self::flag_value)
    }

    /// Reads `key = EXPR` into `field`; `check` turns the expression into the
    /// value, or reports why it cannot.
    fn value<T>(
        &mut self,
        field: &mut Option<Given<T>>,
        check: fn(Expr, Spec, &mut Ctxt) -> Option<T>,
    ) -> syn::Result<()> {
        self.read_into(field, |reader| reader.checked_value(check))
    }

    /// Stores the value `read` gives in `field`, unless `field` already holds a
    /// valid value (then the key is a duplicate). A key whose earlier values
    /// were invalid keeps its first span.
    fn read_into<T>(
        &mut self,
        field: &mut Option<Given<T>>,
        read: impl FnOnce(&mut Self) -> syn::Result<Option<T>>,
    ) -> syn::Result<()> {
        if field.as_ref().is_some_and(|given| given.value.is_some()) {
            return self.duplicate();
        }
        let value = read(self)?;
        let (key, order) = (self.ident.span(), self.order);
        field
            .get_or_insert(Given {
                key,
                order,
                value: None,
            })
            .value = value;
        Ok(())
    }

    /// Reports a key written twice, and skips its value.
    fn duplicate(&mut self) -> syn::Result<()> {
        self.cx.error(
            self.ident.span(),
            format!(
                "{} takes `{}` only once; remove one of them (valid options: {})",
                self.cx.attr(),
                self.key.spec().name,
                valid_keys::<K>(),
            ),
        );
        skip_value(self.meta)?;
        Ok(())
    }

    /// A flag's value: its key's span, or `None` (reported) when a value
    /// follows, as in `static = true`.
    fn flag_value(&mut self) -> syn::Result<Option<Span>> {
        if !self.meta.input.peek(syn::Token![=]) && at_end_of_option(self.meta) {
            return Ok(Some(self.ident.span()));
        }
        let value = skip_value(self.meta)?;
        let (ident, name) = (&self.ident, self.key.spec().name);
        self.cx.error_spanned(
            quote!(#ident #value),
            format!(
                "{}: `{name}` takes no value; write {}",
                self.cx.attr(),
                self.cx.attr_with(name),
            ),
        );
        Ok(None)
    }

    /// The value of `key = EXPR` as `check` turns it; `None` (reported) when
    /// there is no `= EXPR` or `check` rejects it.
    fn checked_value<T>(
        &mut self,
        check: fn(Expr, Spec, &mut Ctxt) -> Option<T>,
    ) -> syn::Result<Option<T>> {
        let spec = self.key.spec();
        if !self.meta.input.peek(syn::Token![=]) {
            self.cx.error(
                self.ident.span(),
                format!(
                    "{} needs a value for `{}`; write `{}`",
                    self.cx.attr(),
                    spec.name,
                    spec.example,
                ),
            );
            skip_value(self.meta)?;
            return Ok(None);
        }
        let expr: Expr = self.meta.value()?.parse()?;
        Ok(check(expr, spec, self.cx))
    }
}

// ---- tokens ----

/// Whether the option ends here (at a `,` or at the end of the arguments).
fn at_end_of_option(meta: &ParseNestedMeta<'_>) -> bool {
    meta.input.is_empty() || meta.input.peek(syn::Token![,])
}

/// Skips what is left of the current option, up to the next top-level `,`,
/// and returns the skipped tokens.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<TokenStream> {
    meta.input.step(|cursor| {
        let mut skipped = TokenStream::new();
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            if matches!(&tree, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
            skipped.extend([tree]);
            rest = next;
        }
        Ok((skipped, rest))
    })
}

/// The valid options, for error messages: `` `static`, `priority = EXPR` ``…
fn valid_keys<K: Key>() -> String {
    let keys: Vec<String> = K::ALL.iter().map(|key| key.spec().syntax()).collect();
    keys.join(", ")
}

/// `a::b` as the user wrote it, without the spaces `ToTokens` puts in.
fn path_to_string(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}
