//! Parse stage, part 1: the attribute's options, e.g.
//! `#[background_task(static, priority = Priority::High, timeout = 5)]`.
//!
//! The parser is driven by a table of [`Key`]s, so `#[background_worker]` can
//! reuse it with its own keys. Each option is stored once, with its key's span;
//! a duplicate or unknown key is an error that lists the valid keys. Errors go
//! to the [`Ctxt`] and parsing goes on, so the user sees all of them at once.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, UnOp};

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
        form: Form::Expr,
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

/// A `SECS | EXPR` value.
pub(crate) enum DurationValue {
    /// A literal number of seconds, already checked: finite, not negative and
    /// small enough for a `Duration`. `span` is the literal's.
    Seconds { secs: f64, span: Span },
    /// Any other expression; it must be a `core::time::Duration`.
    Expr(Expr),
}

/// A parsed option value.
enum Value {
    Flag,
    Expr(Expr),
    Duration(DurationValue),
}

/// One option as written: its key (with the key's span) and its value.
struct Arg {
    key: Ident,
    value: Value,
}

/// The options of one attribute, each key at most once.
pub(crate) struct Args {
    args: Vec<Arg>,
}

impl Args {
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

    fn take(&mut self, name: &str) -> Option<Value> {
        let index = self.args.iter().position(|arg| arg.key == name)?;
        Some(self.args.swap_remove(index).value)
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

    let duplicate = args.args.iter().any(|arg| arg.key == spec.name);
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
            return Ok(());
        }
        Form::Flag => Value::Flag,
        Form::Expr | Form::Duration if !has_value => {
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
            return Ok(());
        }
        Form::Expr => Value::Expr(meta.value()?.parse()?),
        Form::Duration => {
            let expr: Expr = meta.value()?.parse()?;
            match duration_value(expr, spec.name, cx) {
                Some(duration) => Value::Duration(duration),
                None => return Ok(()),
            }
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
fn peel(mut expr: &Expr) -> &Expr {
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
            Form::Expr => format!("`{} = EXPR`", key.name),
            Form::Duration => format!("`{} = SECS | EXPR`", key.name),
        })
        .collect();
    keys.join(", ")
}

/// `a::b` as the user wrote it, without the spaces `ToTokens` puts in.
fn path_to_string(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}
