//! Parse stage, part 1: the attribute's options, e.g.
//! `#[background_task(static, priority = Priority::High, timeout = 5)]` or
//! `#[background_worker(queue, capacity = 100, name = "mailer")]`.
//!
//! The parser is driven by a table of [`Key`]s, one per macro
//! ([`TASK_KEYS`], [`WORKER_KEYS`]). Each option is stored once, with its key's span;
//! a duplicate or unknown key is an error that lists the valid keys. Errors go
//! to the [`Ctxt`] and parsing goes on, so the user sees all of them at once.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, UnOp};

use crate::ctxt::Ctxt;

/// How an option is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
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
    /// `key = PATH`: a function, e.g. `on_error = report`. Any expression is
    /// accepted; rustc checks its type.
    Path,
    /// `priority = EXPR`: any expression but a literal (rustc checks that it
    /// is a `Priority`).
    Priority,
}

/// One option a macro accepts.
pub(crate) struct Key {
    /// The key as written, e.g. `priority`.
    pub(crate) name: &'static str,
    /// How its value is written.
    pub(crate) form: Form,
    /// An example of a correct use, quoted in error messages.
    pub(crate) example: &'static str,
}

/// The options of `#[background_task]`.
pub(crate) const TASK_KEYS: &[Key] = &[
    Key {
        name: "static",
        form: Form::Flag,
        example: "static",
    },
    Key {
        name: "priority",
        form: Form::Priority,
        example: "priority = Priority::High",
    },
    Key {
        name: "supervisor",
        form: Form::Expr,
        example: "supervisor = my_supervisor()",
    },
    Key {
        name: "timeout",
        form: Form::Duration,
        example: "timeout = 5",
    },
];

/// The options of `#[background_worker]`.
pub(crate) const WORKER_KEYS: &[Key] = &[
    Key {
        name: "interval",
        form: Form::Duration,
        example: "interval = 1",
    },
    Key {
        name: "delay",
        form: Form::Duration,
        example: "delay = 1",
    },
    Key {
        name: "delay_before",
        form: Form::Duration,
        example: "delay_before = 0.5",
    },
    Key {
        name: "queue",
        form: Form::Flag,
        example: "queue",
    },
    Key {
        name: "capacity",
        form: Form::Count,
        example: "capacity = 100",
    },
    Key {
        name: "event",
        form: Form::Flag,
        example: "event",
    },
    Key {
        name: "static",
        form: Form::Flag,
        example: "static",
    },
    Key {
        name: "priority",
        form: Form::Priority,
        example: "priority = Priority::High",
    },
    Key {
        name: "name",
        form: Form::Str,
        example: "name = \"mailer\"",
    },
    Key {
        name: "supervisor",
        form: Form::Expr,
        example: "supervisor = my_supervisor()",
    },
    Key {
        name: "on_error",
        form: Form::Path,
        example: "on_error = report",
    },
];

/// A `SECS | EXPR` value.
#[derive(Clone)]
pub(crate) enum DurationValue {
    /// A literal number of seconds, already checked: finite, not negative and
    /// small enough for a `Duration`. `span` is the literal's.
    Seconds { secs: f64, span: Span },
    /// Any other expression; it must be a `core::time::Duration`.
    Expr(Expr),
}

/// An `N | EXPR` value.
pub(crate) enum CountValue {
    /// A literal, already checked: at least 1 and small enough for a `usize`
    /// on this machine. `span` is the literal's.
    Literal { n: u64, span: Span },
    /// Any other expression; it must be a `usize`.
    Expr(Expr),
}

/// A parsed option value.
enum Value {
    Flag,
    Expr(Expr),
    Duration(DurationValue),
    Str(LitStr),
    Count(CountValue),
    /// The key was written but its value was wrong (already reported). It
    /// still counts as given, so that later checks (e.g. "`delay_before`
    /// needs `interval`") do not report a second, misleading error.
    Invalid,
}

/// One option as written: its key (with the key's span) and its value.
struct Arg {
    key: Ident,
    value: Value,
}

/// The options of one attribute, each key at most once (besides keys whose
/// value was invalid), in the order written.
pub(crate) struct Args {
    args: Vec<Arg>,
}

/// A value with the span of its key, for errors about the option as a whole
/// (e.g. "`capacity` needs `queue`").
pub(crate) struct Keyed<T> {
    /// The key's span.
    pub(crate) key: Span,
    /// The value.
    pub(crate) value: T,
}

impl Args {
    /// Where key `name` was first written (also when its value was invalid):
    /// its index among the options and its span.
    pub(crate) fn position(&self, name: &str) -> Option<(usize, Span)> {
        self.args
            .iter()
            .enumerate()
            .find_map(|(index, arg)| (arg.key == name).then(|| (index, arg.key.span())))
    }

    /// The string literal of `name = "…"`, if it was given.
    pub(crate) fn str(&mut self, name: &str) -> Option<LitStr> {
        self.take(name).and_then(|value| match value {
            Value::Str(lit) => Some(lit),
            _ => None,
        })
    }

    /// The value of `name = N | EXPR`, if it was given.
    pub(crate) fn count(&mut self, name: &str) -> Option<CountValue> {
        self.take(name).and_then(|value| match value {
            Value::Count(count) => Some(count),
            _ => None,
        })
    }

    /// The span of flag `name`, if it was given.
    pub(crate) fn flag(&self, name: &str) -> Option<Span> {
        self.args.iter().find_map(|arg| match arg.value {
            Value::Flag if arg.key == name => Some(arg.key.span()),
            _ => None,
        })
    }

    /// The expression of `name = EXPR`, if it was given.
    pub(crate) fn expr(&mut self, name: &str) -> Option<Expr> {
        self.take(name).and_then(|value| match value {
            Value::Expr(expr) => Some(expr),
            _ => None,
        })
    }

    /// The value of `name = SECS | EXPR`, if it was given.
    pub(crate) fn duration(&mut self, name: &str) -> Option<DurationValue> {
        self.take(name).and_then(|value| match value {
            Value::Duration(duration) => Some(duration),
            _ => None,
        })
    }

    /// Removes the valid value of `name`. Keys with an invalid value stay,
    /// so that [`Args::position`] still finds them.
    fn take(&mut self, name: &str) -> Option<Value> {
        let index = self
            .args
            .iter()
            .position(|arg| arg.key == name && !matches!(arg.value, Value::Invalid))?;
        Some(self.args.remove(index).value)
    }
}

/// The options of `#[background_task]`, as given.
pub(crate) struct TaskArgs {
    /// The span of `static`, if given.
    pub(crate) static_: Option<Span>,
    /// `priority = EXPR`.
    pub(crate) priority: Option<Expr>,
    /// `supervisor = EXPR`.
    pub(crate) supervisor: Option<Expr>,
    /// `timeout = SECS | EXPR`.
    pub(crate) timeout: Option<DurationValue>,
}

/// Parses the options of `#[background_task]`.
pub(crate) fn parse_task_args(tokens: TokenStream, cx: &mut Ctxt) -> TaskArgs {
    let mut args = parse(tokens, TASK_KEYS, cx);
    TaskArgs {
        static_: args.flag("static"),
        priority: args.expr("priority"),
        supervisor: args.expr("supervisor"),
        timeout: args.duration("timeout"),
    }
}

/// The options of `#[background_worker]`, as given. Which of them go
/// together is checked by the validate stage.
pub(crate) struct WorkerArgs {
    /// The span of `static`, if given.
    pub(crate) static_: Option<Span>,
    /// `interval = SECS | EXPR`.
    pub(crate) interval: Option<Keyed<Option<DurationValue>>>,
    /// `delay = SECS | EXPR`.
    pub(crate) delay: Option<Keyed<Option<DurationValue>>>,
    /// `delay_before = SECS | EXPR`.
    pub(crate) delay_before: Option<Keyed<Option<DurationValue>>>,
    /// The span of `queue`, if given.
    pub(crate) queue: Option<Span>,
    /// `capacity = N | EXPR`.
    pub(crate) capacity: Option<Keyed<Option<CountValue>>>,
    /// The span of `event`, if given.
    pub(crate) event: Option<Span>,
    /// `priority = EXPR`.
    pub(crate) priority: Option<Expr>,
    /// `name = "…"`.
    pub(crate) name: Option<LitStr>,
    /// `supervisor = EXPR`.
    pub(crate) supervisor: Option<Expr>,
    /// `on_error = PATH`.
    pub(crate) on_error: Option<Expr>,
    /// The order in which the kind keys (`interval`, `delay`, `queue`,
    /// `event`) were written, with their spans; validation points at the
    /// later of two that conflict.
    pub(crate) kind_keys: Vec<(&'static str, Span)>,
}

/// Parses the options of `#[background_worker]`. A key whose value was
/// invalid (already reported) is still recorded as given, with `None` as its
/// value.
pub(crate) fn parse_worker_args(tokens: TokenStream, cx: &mut Ctxt) -> WorkerArgs {
    let mut args = parse(tokens, WORKER_KEYS, cx);
    let mut kind_keys: Vec<(usize, &'static str, Span)> = ["interval", "delay", "queue", "event"]
        .into_iter()
        .filter_map(|name| {
            let (index, span) = args.position(name)?;
            Some((index, name, span))
        })
        .collect();
    kind_keys.sort_by_key(|(index, _, _)| *index);
    let flag = |args: &Args, name: &str| args.position(name).map(|(_, span)| span);
    let keyed_duration = |args: &mut Args, name: &str| {
        let (_, key) = args.position(name)?;
        Some(Keyed {
            key,
            value: args.duration(name),
        })
    };
    WorkerArgs {
        static_: args.flag("static"),
        interval: keyed_duration(&mut args, "interval"),
        delay: keyed_duration(&mut args, "delay"),
        delay_before: keyed_duration(&mut args, "delay_before"),
        queue: flag(&args, "queue"),
        capacity: args.position("capacity").map(|(_, key)| Keyed {
            key,
            value: args.count("capacity"),
        }),
        event: flag(&args, "event"),
        priority: args.expr("priority"),
        name: args.str("name"),
        supervisor: args.expr("supervisor"),
        on_error: args.expr("on_error"),
        kind_keys: kind_keys
            .into_iter()
            .map(|(_, name, span)| (name, span))
            .collect(),
    }
}

/// Parses `tokens` as options from `keys`, reporting every problem to `cx`.
pub(crate) fn parse(tokens: TokenStream, keys: &[Key], cx: &mut Ctxt) -> Args {
    let mut args = Args { args: Vec::new() };
    let parser = syn::meta::parser(|meta| {
        parse_one(&meta, keys, &mut args, cx)?;
        Ok(())
    });
    if let Err(error) = parser.parse2(tokens) {
        cx.push(error);
    }
    args
}

/// Parses one `key` or `key = value`. Problems with this option are reported
/// to `cx` and its tokens skipped, so the next options are still checked; only
/// a value that is not an expression at all stops parsing (returns `Err`).
fn parse_one(
    meta: &ParseNestedMeta<'_>,
    keys: &[Key],
    args: &mut Args,
    cx: &mut Ctxt,
) -> syn::Result<()> {
    let Some((key, spec)) = find_key(&meta.path, keys) else {
        cx.error_spanned(
            &meta.path,
            format!(
                "{} has no option `{}`; valid options: {}",
                cx.attr(),
                path_to_string(&meta.path),
                valid_keys(keys),
            ),
        );
        skip_value(meta)?;
        return Ok(());
    };

    let duplicate = args
        .args
        .iter()
        .any(|arg| arg.key == spec.name && !matches!(arg.value, Value::Invalid));
    if duplicate {
        cx.error(
            key.span(),
            format!(
                "{} takes `{}` only once; remove one of them (valid options: {})",
                cx.attr(),
                spec.name,
                valid_keys(keys),
            ),
        );
        skip_value(meta)?;
        return Ok(());
    }

    let has_value = meta.input.peek(syn::Token![=]);
    let value = match spec.form {
        Form::Flag if has_value || !at_end_of_option(meta) => {
            let value = skip_value(meta)?;
            cx.error_spanned(
                quote!(#key #value),
                format!(
                    "{}: `{}` takes no value; write {}",
                    cx.attr(),
                    spec.name,
                    cx.attr_with(spec.name),
                ),
            );
            Value::Invalid
        }
        Form::Flag => Value::Flag,
        _ if !has_value => {
            cx.error(
                key.span(),
                format!(
                    "{} needs a value for `{}`; write `{}`",
                    cx.attr(),
                    spec.name,
                    spec.example,
                ),
            );
            skip_value(meta)?;
            Value::Invalid
        }
        Form::Expr | Form::Path => Value::Expr(meta.value()?.parse()?),
        Form::Priority => {
            let expr: Expr = meta.value()?.parse()?;
            priority_value(expr, cx).map_or(Value::Invalid, Value::Expr)
        }
        Form::Duration => {
            let expr: Expr = meta.value()?.parse()?;
            duration_value(expr, spec.name, cx).map_or(Value::Invalid, Value::Duration)
        }
        Form::Str => {
            let expr: Expr = meta.value()?.parse()?;
            str_value(expr, spec, cx).map_or(Value::Invalid, Value::Str)
        }
        Form::Count => {
            let expr: Expr = meta.value()?.parse()?;
            count_value(expr, spec.name, cx).map_or(Value::Invalid, Value::Count)
        }
    };
    args.args.push(Arg { key, value });
    Ok(())
}

/// The key named by `path` (a single identifier, keywords included), with its
/// span.
fn find_key<'k>(path: &syn::Path, keys: &'k [Key]) -> Option<(Ident, &'k Key)> {
    if path.leading_colon.is_some() || path.segments.len() != 1 {
        return None;
    }
    let ident = &path.segments[0].ident;
    let spec = keys.iter().find(|key| ident == key.name)?;
    Some((ident.clone(), spec))
}

/// Checks a `SECS | EXPR` value. A literal must be a non-negative number of
/// seconds; anything else that is not a literal is taken as a `Duration`.
fn duration_value(expr: Expr, key: &str, cx: &mut Ctxt) -> Option<DurationValue> {
    let what = format!(
        "{} expects `{key}` to be a number of seconds or a `Duration`",
        cx.attr(),
    );
    match peel(&expr) {
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Int(int) => seconds(int.base10_digits(), int.suffix(), lit, key, cx),
            Lit::Float(float) => seconds(float.base10_digits(), float.suffix(), lit, key, cx),
            Lit::Str(string) => {
                let example = match string.value().trim().parse::<f64>() {
                    Ok(secs) if secs.is_finite() && secs >= 0.0 => secs.to_string(),
                    _ => "5".to_owned(),
                };
                cx.error_spanned(
                    lit,
                    format!(
                        "{what}, not a string; write `{key} = {example}` or \
                         `{key} = Duration::from_millis(500)`"
                    ),
                );
                None
            }
            _ => {
                cx.error_spanned(
                    lit,
                    format!(
                        "{what}; write `{key} = 5`, `{key} = 0.5` or \
                         `{key} = Duration::from_millis(500)`"
                    ),
                );
                None
            }
        },
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: operand,
            ..
        }) if matches!(peel(operand), Expr::Lit(_)) => {
            cx.error_spanned(
                &expr,
                format!(
                    "{} expects `{key}` to be zero or more seconds, not a negative number; \
                     write for example `{key} = 5`",
                    cx.attr(),
                ),
            );
            None
        }
        _ => Some(DurationValue::Expr(expr)),
    }
}

/// Checks a `priority = EXPR` value: a literal (`priority = 7`, `priority =
/// "high"`) is not a `Priority`, and the message names the four there are.
fn priority_value(expr: Expr, cx: &mut Ctxt) -> Option<Expr> {
    let is_literal = match peel(&expr) {
        Expr::Lit(_) => true,
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: operand,
            ..
        }) => matches!(peel(operand), Expr::Lit(_)),
        _ => false,
    };
    if !is_literal {
        return Some(expr);
    }
    cx.error_spanned(
        &expr,
        format!(
            "{} expects `priority` to be a `Priority`, not a literal; write one of \
             `Priority::{{Low, Normal, High, Critical}}`, e.g. `priority = Priority::High`",
            cx.attr(),
        ),
    );
    None
}

/// Checks a `"…"` value: a string literal (also inside `macro_rules!`'s
/// invisible group).
fn str_value(expr: Expr, spec: &Key, cx: &mut Ctxt) -> Option<LitStr> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = peel(&expr)
    {
        return Some(lit.clone());
    }
    cx.error_spanned(
        &expr,
        format!(
            "{} expects `{}` to be a string literal; write `{}`",
            cx.attr(),
            spec.name,
            spec.example,
        ),
    );
    None
}

/// Checks an `N | EXPR` value. A literal must be a whole number of at least 1;
/// anything else that is not a literal is taken as a `usize` expression.
fn count_value(expr: Expr, key: &str, cx: &mut Ctxt) -> Option<CountValue> {
    const INT_SUFFIXES: &[&str] = &[
        "", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
    ];
    let what = format!(
        "{} expects `{key}` to be a whole number of at least 1",
        cx.attr()
    );
    match peel(&expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) if INT_SUFFIXES.contains(&int.suffix()) => match int.base10_parse::<u64>() {
            Ok(0) => {
                cx.error_spanned(
                    int,
                    format!("{what}, not 0; write for example `{key} = 100`"),
                );
                None
            }
            Ok(n) if usize::try_from(n).is_ok() => Some(CountValue::Literal {
                n,
                span: int.span(),
            }),
            _ => {
                cx.error_spanned(
                    int,
                    format!(
                        "{} cannot hold this many items in `{key}`; write a smaller number",
                        cx.attr()
                    ),
                );
                None
            }
        },
        Expr::Lit(ExprLit { lit, .. }) => {
            cx.error_spanned(lit, format!("{what}; write for example `{key} = 100`"));
            None
        }
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: operand,
            ..
        }) if matches!(peel(operand), Expr::Lit(_)) => {
            cx.error_spanned(
                &expr,
                format!("{what}, not a negative number; write for example `{key} = 100`"),
            );
            None
        }
        _ => Some(CountValue::Expr(expr)),
    }
}

/// Checks the digits and suffix of a literal number of seconds.
fn seconds(
    digits: &str,
    suffix: &str,
    lit: &Lit,
    key: &str,
    cx: &mut Ctxt,
) -> Option<DurationValue> {
    const NUMERIC_SUFFIXES: &[&str] = &[
        "", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64",
    ];
    if !NUMERIC_SUFFIXES.contains(&suffix) {
        cx.error_spanned(
            lit,
            format!(
                "{} reads `{key}` as seconds and does not know the suffix `{suffix}`; write \
                 a plain number of seconds such as `{key} = 0.5`, or a `Duration` such as \
                 `{key} = Duration::from_millis(500)`",
                cx.attr(),
            ),
        );
        return None;
    }
    // A `Duration` holds at most `u64::MAX` seconds; 2^64 is the first `f64`
    // above that.
    const TOO_MANY_SECS: f64 = 18_446_744_073_709_551_616.0;
    match digits.parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..TOO_MANY_SECS).contains(&secs) => {
            Some(DurationValue::Seconds {
                secs,
                span: lit.span(),
            })
        }
        _ => {
            cx.error_spanned(
                lit,
                format!(
                    "{} cannot hold this many seconds in `{key}`; write a smaller number",
                    cx.attr(),
                ),
            );
            None
        }
    }
}

/// Looks through the invisible groups `macro_rules!` puts around `$e:expr`.
pub(crate) fn peel(mut expr: &Expr) -> &Expr {
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    expr
}

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
fn valid_keys(keys: &[Key]) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|key| match key.form {
            Form::Flag => format!("`{}`", key.name),
            Form::Expr | Form::Priority => format!("`{} = EXPR`", key.name),
            Form::Duration => format!("`{} = SECS | EXPR`", key.name),
            Form::Str => format!("`{} = \"…\"`", key.name),
            Form::Count => format!("`{} = N`", key.name),
            Form::Path => format!("`{} = PATH`", key.name),
        })
        .collect();
    keys.join(", ")
}

/// `a::b` as the user wrote it, without the spaces `ToTokens` puts in.
fn path_to_string(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}
