//! Expansion tests: `expand::…` on `quote!` input, pretty-printed and
//! snapshotted with `insta` (snapshots in `src/snapshots`), plus the error
//! messages. How the errors look to a user is tested in `atasker/tests/ui`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand;

/// The pretty-printed expansion of `#[background_task(args)] item`.
fn task(args: TokenStream, item: TokenStream) -> String {
    pretty(expand::background_task(args, item))
}

fn pretty(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses as a file");
    prettyplease::unparse(&file)
}

/// The messages of the `compile_error!`s in the expansion, in order.
fn errors(args: TokenStream, item: TokenStream) -> Vec<String> {
    let file: syn::File =
        syn::parse2(expand::background_task(args, item)).expect("the expansion parses as a file");
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Macro(mac) if mac.mac.path.segments.last()?.ident == "compile_error" => {
                Some(
                    mac.mac
                        .parse_body::<syn::LitStr>()
                        .expect("a message")
                        .value(),
                )
            }
            _ => None,
        })
        .collect()
}

/// The single error of the expansion.
fn error(args: TokenStream, item: TokenStream) -> String {
    let mut errors = errors(args, item);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    errors.remove(0)
}

// ---- expansions ----

#[test]
fn plain_fn() {
    insta::assert_snapshot!(task(
        quote!(),
        quote! {
            /// Resizes the image.
            pub fn resize(path: String) -> u64 {
                path.len() as u64
            }
        }
    ));
}

#[test]
fn async_fn() {
    insta::assert_snapshot!(task(
        quote!(),
        quote! {
            pub async fn fetch(url: String) -> Result<String, MyError> {
                let body = get(&url).await?;
                Ok(body)
            }
        }
    ));
}

#[test]
fn no_return_type() {
    insta::assert_snapshot!(task(
        quote!(),
        quote! {
            fn log(line: String) {
                eprintln!("{line}");
            }
        }
    ));
}

#[test]
fn no_arguments() {
    insta::assert_snapshot!(task(
        quote!(),
        quote! {
            async fn tick() {}
        }
    ));
}

#[test]
fn priority() {
    insta::assert_snapshot!(task(
        quote!(priority = Priority::High),
        quote! {
            fn crunch(n: u64) -> u64 { n * 2 }
        }
    ));
}

#[test]
fn supervisor() {
    insta::assert_snapshot!(task(
        quote!(supervisor = plant()),
        quote! {
            fn crunch(n: u64) -> u64 { n * 2 }
        }
    ));
}

#[test]
fn timeout_int() {
    insta::assert_snapshot!(task(
        quote!(timeout = 5),
        quote! {
            fn crunch(n: u64) -> u64 { n * 2 }
        }
    ));
}

#[test]
fn timeout_float() {
    insta::assert_snapshot!(task(
        quote!(timeout = 0.25),
        quote! {
            fn crunch(n: u64) -> u64 { n * 2 }
        }
    ));
}

#[test]
fn timeout_expr() {
    insta::assert_snapshot!(task(
        quote!(timeout = Duration::from_millis(250)),
        quote! {
            fn crunch(n: u64) -> u64 { n * 2 }
        }
    ));
}

#[test]
fn all_options() {
    insta::assert_snapshot!(task(
        quote!(
            timeout = 1_000,
            supervisor = &PLANT,
            priority = Priority::Critical
        ),
        quote! {
            pub(crate) async fn fetch(url: String) -> Vec<u8> {
                download(url).await
            }
        }
    ));
}

#[test]
fn patterns_in_args() {
    insta::assert_snapshot!(task(
        quote!(),
        quote! {
            fn sum(mut total: u32, (a, b): (u8, u8), _: u8, Point { x, y }: Point, ref r: u8, _unused: u8) -> u32 {
                total += a as u32 + b as u32 + x + y + *r as u32;
                total
            }
        }
    ));
}

#[test]
fn generics() {
    insta::assert_snapshot!(task(
        quote!(),
        quote! {
            pub fn pick<T: Send + 'static, const N: usize>(items: [T; N], show: impl Display + Send + 'static) -> Option<T>
            where
                T: Clone,
            {
                items.into_iter().next()
            }
        }
    ));
}

#[test]
fn docs_and_attrs_kept() {
    insta::assert_snapshot!(task(
        quote!(),
        quote! {
            /// First line.
            ///
            /// Second paragraph.
            #[inline]
            #[allow(clippy::needless_pass_by_value)]
            #[cfg(feature = "images")]
            pub(crate) fn resize(#[allow(unused_mut)] mut path: String) -> u64 {
                path.len() as u64
            }
        }
    ));
}

#[test]
fn raw_identifier_name() {
    let output = task(
        quote!(),
        quote!(
            fn r#type(x: u8) -> u8 {
                x
            }
        ),
    );
    assert!(output.contains("fn r#type(x: u8)"), "{output}");
    assert!(output.contains(r#""::", "type")"#), "{output}");
}

#[test]
fn timeout_literal_forms() {
    for (args, secs) in [
        (quote!(timeout = 0), "0f64"),
        (quote!(timeout = 7u64), "7f64"),
        (quote!(timeout = 0x10), "16f64"),
        (quote!(timeout = 1.5e3), "1500f64"),
        (quote!(timeout = 0.5f32), "0.5f64"),
    ] {
        let output = task(
            args,
            quote!(
                fn f() {}
            ),
        );
        assert!(
            output.contains(&format!("seconds({secs})")),
            "{secs}: {output}"
        );
    }
}

#[test]
fn static_is_not_available_yet() {
    insta::assert_snapshot!(task(
        quote!(static),
        quote! {
            /// Crunches.
            pub fn crunch(n: u64) -> u64 { n * 2 }
        }
    ));
}

#[test]
fn worker_is_not_implemented_yet() {
    insta::assert_snapshot!(pretty(expand::background_worker(
        quote!(interval = 1),
        quote!(
            fn tick() {}
        )
    )));
}

// ---- errors ----

#[test]
fn errors_keep_the_item_unchanged() {
    insta::assert_snapshot!(task(
        quote!(static, prio = 1),
        quote! {
            /// Docs.
            pub async fn crunch(n: &u64) -> u64 { *n }
        }
    ));
}

#[test]
fn every_error_is_reported() {
    let errors = errors(
        quote!(priority, static = true, static, timeout = "5", nope),
        quote! {
            const unsafe extern "C" fn f<T>(&self, x: &str, y: impl Copy) -> Vec<&'static str> {}
        },
    );
    insta::assert_debug_snapshot!(errors);
}

#[test]
fn not_a_fn() {
    assert_eq!(
        error(
            quote!(),
            quote!(
                struct Foo {
                    x: u8,
                }
            )
        ),
        "`#[background_task]` cannot be used on a struct; put it on a `fn` or an `async fn`"
    );
    assert_eq!(
        error(quote!(), quote!(impl Foo { fn f() {} })),
        "`#[background_task]` cannot be used on an `impl` block; put it on a `fn` or an `async fn`"
    );
}

#[test]
fn self_receivers() {
    for receiver in [
        quote!(self),
        quote!(&self),
        quote!(&mut self),
        quote!(mut self),
        quote!(self: Box<Self>),
        quote!(&'a self),
    ] {
        let message = error(quote!(), quote!(fn f(#receiver, x: u8) {}));
        assert!(message.contains("remove `self`"), "{receiver}: {message}");
    }
}

#[test]
fn static_rules() {
    let cases = [
        (quote!(async fn f() {}), "`#[background_task(static)]` cannot be used on an `async fn`; remove `static` or `async`"),
        (quote!(fn f<T>(x: T) {}), "`#[background_task(static)]` cannot be used on a generic fn: a process task needs concrete types; remove the generic parameters and name the types"),
        (quote!(fn f<'a>(x: String) {}), "`#[background_task(static)]` cannot be used on a generic fn: a process task needs concrete types; remove the generic parameters and name the types"),
        (quote!(fn f(x: u8) where u8: Copy {}), "`#[background_task(static)]` cannot be used on a fn with a `where` clause: a process task needs concrete types; remove the `where` clause"),
        (quote!(fn f(x: &str) {}), "`#[background_task(static)]` cannot take a reference: arguments and results are sent to another process; use an owned type such as `String`"),
        (quote!(fn f(x: &[u8]) {}), "`#[background_task(static)]` cannot take a reference: arguments and results are sent to another process; use an owned type such as `Vec<u8>`"),
        (quote!(fn f(x: Option<&mut Vec<u8>>) {}), "`#[background_task(static)]` cannot take a reference: arguments and results are sent to another process; use an owned type such as `Vec<u8>`"),
        (quote!(fn f() -> Vec<&'static str> {}), "`#[background_task(static)]` cannot return a reference: arguments and results are sent to another process; use an owned type such as `String`"),
        (quote!(fn f(x: Cow<'_, str>) {}), "`#[background_task(static)]` cannot use borrowed data (`'_`): arguments and results are sent to another process; use an owned type"),
        (quote!(fn f(x: impl Serialize) {}), "`#[background_task(static)]` cannot take an `impl Trait` argument: a process task needs concrete types; name the type instead"),
        (quote!(fn f() -> impl Serialize {}), "`#[background_task(static)]` cannot return `impl Trait`: a process task needs concrete types; name the type instead"),
        (quote!(fn f(&self) {}), "`#[background_task(static)]` cannot be used on a method: tasks are free functions; remove `self` and take what you need as an ordinary argument"),
    ];
    for (item, expected) in cases {
        assert_eq!(error(quote!(static), item.clone()), expected, "{item}");
    }
}

#[test]
fn static_accepts_owned_types_and_patterns() {
    let message = error(
        quote!(static),
        quote!(
            fn f(
                mut a: u8,
                (b, c): (String, Vec<u8>),
                _: Cow<'static, str>,
            ) -> Result<String, String> {
            }
        ),
    );
    assert_eq!(
        message,
        "`#[background_task(static)]`: the process pool is not available yet"
    );
}

#[test]
fn signature_rules() {
    let cases = [
        (quote!(const fn f() {}), "`#[background_task]` cannot be used on a `const fn`; remove `const`"),
        (quote!(unsafe fn f() {}), "`#[background_task]` cannot be used on an `unsafe fn`; remove `unsafe` and use an `unsafe { … }` block inside the function"),
        (quote!(extern "C" fn f() {}), "`#[background_task]` cannot be used on an `extern` fn; remove `extern \"C\"`"),
        (quote!(unsafe extern "C" fn f(x: i32, ...) {}), "`#[background_task]` cannot be used on a variadic fn; remove `...`"),
    ];
    for (item, expected) in cases {
        let errors = errors(quote!(), item.clone());
        assert!(errors.iter().any(|e| e == expected), "{item}: {errors:#?}");
    }
}

#[test]
fn option_errors() {
    let valid =
        "valid options: `static`, `priority = EXPR`, `supervisor = EXPR`, `timeout = SECS | EXPR`";
    let cases = [
        (quote!(prio = 1), format!("`#[background_task]` has no option `prio`; {valid}")),
        (quote!(a::b), format!("`#[background_task]` has no option `a::b`; {valid}")),
        (quote!(priority = Priority::Low, priority = Priority::High), format!("`#[background_task]` takes `priority` only once; remove one of them ({valid})")),
        (quote!(static, static), format!("`#[background_task]` takes `static` only once; remove one of them ({valid})")),
        (quote!(static = true), "`#[background_task]`: `static` takes no value; write `#[background_task(static)]`".to_owned()),
        (quote!(static(true)), "`#[background_task]`: `static` takes no value; write `#[background_task(static)]`".to_owned()),
        (quote!(priority), "`#[background_task]` needs a value for `priority`; write `priority = Priority::High`".to_owned()),
        (quote!(supervisor), "`#[background_task]` needs a value for `supervisor`; write `supervisor = my_supervisor()`".to_owned()),
        (quote!(timeout), "`#[background_task]` needs a value for `timeout`; write `timeout = 5`".to_owned()),
        (quote!(timeout = "5"), "`#[background_task]` expects `timeout` to be a number of seconds or a `Duration`, not a string; write `timeout = 5` or `timeout = Duration::from_millis(500)`".to_owned()),
        (quote!(timeout = "soon"), "`#[background_task]` expects `timeout` to be a number of seconds or a `Duration`, not a string; write `timeout = 5` or `timeout = Duration::from_millis(500)`".to_owned()),
        (quote!(timeout = true), "`#[background_task]` expects `timeout` to be a number of seconds or a `Duration`; write `timeout = 5`, `timeout = 0.5` or `timeout = Duration::from_millis(500)`".to_owned()),
        (quote!(timeout = -1), "`#[background_task]` expects `timeout` to be zero or more seconds, not a negative number; write for example `timeout = 5`".to_owned()),
        (quote!(timeout = -0.5), "`#[background_task]` expects `timeout` to be zero or more seconds, not a negative number; write for example `timeout = 5`".to_owned()),
        (quote!(timeout = 5ms), "`#[background_task]` reads `timeout` as seconds and does not know the suffix `ms`; write a plain number of seconds such as `timeout = 0.5`, or a `Duration` such as `timeout = Duration::from_millis(500)`".to_owned()),
        (quote!(timeout = 1e300), "`#[background_task]` cannot hold this many seconds in `timeout`; write a smaller number".to_owned()),
        (quote!(timeout = 18446744073709551615), "`#[background_task]` cannot hold this many seconds in `timeout`; write a smaller number".to_owned()),
    ];
    for (args, expected) in cases {
        assert_eq!(
            error(
                args.clone(),
                quote!(
                    fn f() {}
                )
            ),
            expected,
            "{args}"
        );
    }
}

#[test]
fn syntax_errors_do_not_panic() {
    for args in [
        quote!(5),
        quote!(priority =),
        quote!(priority = Priority::High timeout),
        quote!(,),
        quote!(timeout = 5,, static),
    ] {
        let errors = errors(
            args.clone(),
            quote!(
                fn f() {}
            ),
        );
        assert!(!errors.is_empty(), "{args}");
    }
}

#[test]
fn timeout_inside_a_macro_rules_group() {
    // `macro_rules!` wraps `$e:expr` in an invisible group.
    let five = proc_macro2::Group::new(proc_macro2::Delimiter::None, quote!(5));
    let output = task(
        quote!(timeout = #five),
        quote!(
            fn f() {}
        ),
    );
    assert!(output.contains("seconds(5f64)"), "{output}");
    let minus_one = proc_macro2::Group::new(proc_macro2::Delimiter::None, quote!(-1));
    let message = error(
        quote!(timeout = #minus_one),
        quote!(
            fn f() {}
        ),
    );
    assert!(message.contains("not a negative number"), "{message}");
}
