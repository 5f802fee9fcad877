//! The checks of option values, one per form: a literal where the form
//! wants one (a number of seconds, a count, a string) is checked here, with a
//! message that says what to write; any other expression is kept for rustc
//! to type-check. The checked `SECS | EXPR` and `N | EXPR` values
//! ([`DurationValue`], [`CountValue`]) are defined here too: the model and
//! the expand stage read them as parsed.

use proc_macro2::Span;
use syn::{Expr, ExprLit, ExprUnary, Lit, LitStr, UnOp};

use super::Spec;
use crate::ctxt::Ctxt;

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
#[derive(Clone)]
pub(crate) enum CountValue {
    /// A literal, already checked: at least 1 and small enough for a `usize`
    /// on this machine. `span` is the literal's.
    Literal { n: u64, span: Span },
    /// Any other expression; it must be a `usize`.
    Expr(Expr),
}

/// Any expression: rustc checks its type (`supervisor`, `on_error`).
pub(super) fn any_expr(expr: Expr, _: Spec, _: &mut Ctxt) -> Option<Expr> {
    Some(expr)
}

/// Checks a `priority = EXPR` value: a literal (`priority = 7`, `priority =
/// "high"`) is not a `Priority`, and the message names the four there are.
pub(super) fn priority_value(expr: Expr, _: Spec, cx: &mut Ctxt) -> Option<Expr> {
    if !matches!(peel(&expr), Expr::Lit(_)) && !is_negative_literal(&expr) {
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
pub(super) fn str_value(expr: Expr, spec: Spec, cx: &mut Ctxt) -> Option<LitStr> {
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

/// Checks a `cron = "…"` value: a string literal that the cron library
/// parses exactly as the core will (seconds optional, so 6 fields with seconds
/// first or 5 with minute resolution, or a shorthand such as `@hourly`), and
/// that fires at all (it has a tick after now, as `WorkerBuilder::cron` checks).
/// A bad expression is an error at the literal.
pub(super) fn cron_value(expr: Expr, spec: Spec, cx: &mut Ctxt) -> Option<LitStr> {
    let lit = str_value(expr, spec, cx)?;
    let pattern = lit.value();
    let message = match std::panic::catch_unwind(|| check_cron(&pattern)) {
        Ok(None) => return Some(lit),
        Ok(Some(message)) => message,
        Err(_) => format!(
            " cannot parse the cron expression `{pattern}`: the cron library panicked on it"
        ),
    };
    cx.error_spanned(&lit, format!("{}{message}", cx.attr()));
    None
}

/// What is wrong with the cron expression `pattern`, and what to write, as the
/// rest of a sentence that begins with the macro's name (`None`: nothing).
fn check_cron(pattern: &str) -> Option<String> {
    let parsed = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(pattern);
    let cron = match parsed {
        Ok(cron) => cron,
        Err(error) => {
            return Some(format!(
                " cannot parse the cron expression `{pattern}`: {}; write 6 fields (second \
                 minute hour day-of-month month day-of-week), 5 (minute resolution) or a \
                 shorthand such as `@hourly`",
                error.to_string().trim_end_matches('.'),
            ))
        }
    };
    match cron.find_next_occurrence(&chrono::Utc::now(), false) {
        Ok(_) => None,
        Err(_) => Some(format!(
            ": the cron expression `{pattern}` never fires: no time from now \
             on matches all its fields (a day its months do not have, such as February \
             30th; a `+` weekday its day never falls on; a year gone by); write a day \
             every chosen month has (`L` is a month's last day), or drop the `+` to run \
             on the day of month or the weekday"
        )),
    }
}

/// Checks a `tz = "…"` value: a string literal naming an IANA time zone
/// (`"Europe/Berlin"`, `"UTC"`) or `"local"`; anything else is an error at
/// the literal.
pub(super) fn tz_value(expr: Expr, spec: Spec, cx: &mut Ctxt) -> Option<LitStr> {
    let lit = str_value(expr, spec, cx)?;
    let zone = lit.value();
    if zone == "local" || zone.parse::<chrono_tz::Tz>().is_ok() {
        return Some(lit);
    }
    cx.error_spanned(
        &lit,
        format!(
            "{} does not know the time zone `{zone}`; write an IANA name such as \
             `Europe/Berlin`, or `local`",
            cx.attr(),
        ),
    );
    None
}

/// Checks a `SECS | EXPR` value. A literal must be a non-negative number of
/// seconds; anything else that is not a literal is taken as a `Duration`.
pub(super) fn duration_value(expr: Expr, spec: Spec, cx: &mut Ctxt) -> Option<DurationValue> {
    let key = spec.name;
    match peel(&expr) {
        Expr::Lit(ExprLit { lit, .. }) => literal_seconds(lit, key, cx),
        _ if is_negative_literal(&expr) => {
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

/// Checks a literal `SECS`: a number (see [`seconds`]), not a string or any
/// other literal.
fn literal_seconds(lit: &Lit, key: &str, cx: &mut Ctxt) -> Option<DurationValue> {
    let what = format!(
        "{} expects `{key}` to be a number of seconds or a `Duration`",
        cx.attr(),
    );
    let message = match lit {
        Lit::Int(int) => return seconds(int.base10_digits(), int.suffix(), lit, key, cx),
        Lit::Float(float) => return seconds(float.base10_digits(), float.suffix(), lit, key, cx),
        Lit::Str(string) => {
            let example = match string.value().trim().parse::<f64>() {
                Ok(secs) if secs.is_finite() && secs >= 0.0 => secs.to_string(),
                _ => "5".to_owned(),
            };
            format!(
                "{what}, not a string; write `{key} = {example}` or \
                 `{key} = Duration::from_millis(500)`"
            )
        }
        _ => format!(
            "{what}; write `{key} = 5`, `{key} = 0.5` or `{key} = Duration::from_millis(500)`"
        ),
    };
    cx.error_spanned(lit, message);
    None
}

/// The suffixes of an integer literal.
const INT_SUFFIXES: &[&str] = &[
    "", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
];

/// Checks the digits and suffix of a literal number of seconds.
fn seconds(
    digits: &str,
    suffix: &str,
    lit: &Lit,
    key: &str,
    cx: &mut Ctxt,
) -> Option<DurationValue> {
    if !INT_SUFFIXES.contains(&suffix) && !matches!(suffix, "f32" | "f64") {
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

/// Checks an `N | EXPR` value. A literal must be a whole number of at least 1;
/// anything else that is not a literal is taken as a `usize` expression.
pub(super) fn count_value(expr: Expr, spec: Spec, cx: &mut Ctxt) -> Option<CountValue> {
    let (key, example) = (spec.name, spec.example);
    let what = format!(
        "{} expects `{key}` to be a whole number of at least 1",
        cx.attr()
    );
    match peel(&expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) if INT_SUFFIXES.contains(&int.suffix()) => literal_count(int, &what, spec, cx),
        Expr::Lit(ExprLit { lit, .. }) => {
            cx.error_spanned(lit, format!("{what}; write for example `{example}`"));
            None
        }
        _ if is_negative_literal(&expr) => {
            cx.error_spanned(
                &expr,
                format!("{what}, not a negative number; write for example `{example}`"),
            );
            None
        }
        _ => Some(CountValue::Expr(expr)),
    }
}

/// Checks a literal `N`: at least 1, and small enough for a `usize`. `what`
/// begins the message about 0.
fn literal_count(int: &syn::LitInt, what: &str, spec: Spec, cx: &mut Ctxt) -> Option<CountValue> {
    let (key, example) = (spec.name, spec.example);
    let message = match int.base10_parse::<u64>() {
        Ok(n) if n > 0 && usize::try_from(n).is_ok() => {
            return Some(CountValue::Literal {
                n,
                span: int.span(),
            })
        }
        Ok(0) => format!("{what}, not 0; write for example `{example}`"),
        _ => format!(
            "{} cannot hold this many items in `{key}`; write a smaller number",
            cx.attr()
        ),
    };
    cx.error_spanned(int, message);
    None
}

/// Whether `expr` is a negative literal, `-1` or `-0.5`.
fn is_negative_literal(expr: &Expr) -> bool {
    matches!(
        peel(expr),
        Expr::Unary(ExprUnary { op: UnOp::Neg(_), expr: operand, .. })
            if matches!(peel(operand), Expr::Lit(_))
    )
}

/// Looks through the invisible groups `macro_rules!` puts around `$e:expr`.
pub(crate) fn peel(mut expr: &Expr) -> &Expr {
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    expr
}
