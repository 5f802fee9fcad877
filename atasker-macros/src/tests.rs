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

/// The pretty-printed expansion of `#[background_worker(args)] item`.
fn worker(args: TokenStream, item: TokenStream) -> String {
    pretty(expand::background_worker(args, item))
}

fn pretty(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses as a file");
    prettyplease::unparse(&file)
}

/// The messages of the `compile_error!`s in the expansion, in order.
fn errors(args: TokenStream, item: TokenStream) -> Vec<String> {
    messages(expand::background_task(args, item))
}

/// The messages of the `compile_error!`s of `#[background_worker]`, in order.
fn worker_errors(args: TokenStream, item: TokenStream) -> Vec<String> {
    messages(expand::background_worker(args, item))
}

/// The single error of `#[background_worker]`.
fn worker_error(args: TokenStream, item: TokenStream) -> String {
    let mut errors = worker_errors(args, item);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    errors.remove(0)
}

/// The messages of the `compile_error!`s in an expansion, in order.
fn messages(expansion: TokenStream) -> Vec<String> {
    let file: syn::File = syn::parse2(expansion).expect("the expansion parses as a file");
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

/// Asserts, for each `(args, item, expected)`, that `error(args, item)` (the
/// single error of one macro) is `expected`.
fn assert_errors<E: AsRef<str>>(
    error: fn(TokenStream, TokenStream) -> String,
    cases: impl IntoIterator<Item = (TokenStream, TokenStream, E)>,
) {
    for (args, item, expected) in cases {
        assert_eq!(
            error(args.clone(), item.clone()),
            expected.as_ref(),
            "{args} {item}"
        );
    }
}

/// [`assert_errors`] with the item `fn f() {}` for every case of `(args, expected)`.
fn assert_errors_on_plain_fn<E: AsRef<str>>(
    error: fn(TokenStream, TokenStream) -> String,
    cases: impl IntoIterator<Item = (TokenStream, E)>,
) {
    let plain = quote!(
        fn f() {}
    );
    assert_errors(
        error,
        (cases.into_iter()).map(|(args, expected)| (args, plain.clone(), expected)),
    );
}

/// The pretty-printed expansion of `#[background_task(args)] fn crunch(n:
/// u64) -> u64 { n * 2 }`.
fn crunch(args: TokenStream) -> String {
    task(
        args,
        quote! {
            fn crunch(n: u64) -> u64 { n * 2 }
        },
    )
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
    insta::assert_snapshot!(crunch(quote!(priority = Priority::High)));
}

#[test]
fn supervisor() {
    insta::assert_snapshot!(crunch(quote!(supervisor = plant())));
}

#[test]
fn timeout_int() {
    insta::assert_snapshot!(crunch(quote!(timeout = 5)));
}

#[test]
fn timeout_float() {
    insta::assert_snapshot!(crunch(quote!(timeout = 0.25)));
}

#[test]
fn timeout_expr() {
    insta::assert_snapshot!(crunch(quote!(timeout = Duration::from_millis(250))));
}

#[test]
fn task_delay_seconds_and_expression() {
    insta::assert_snapshot!(crunch(quote!(
        delay = 0.5,
        timeout = Duration::from_secs(1)
    )));
}

#[test]
fn task_retries_and_limit() {
    insta::assert_snapshot!(task(
        quote!(retries = 3, backoff = 0.5, limit = 2),
        quote!(
            fn fetch(url: String, tries: u8) -> Result<String, String> {
                get(&url, tries)
            }
        ),
    ));
}

#[test]
fn remote_task_retries() {
    insta::assert_snapshot!(task(
        quote!(static, remote, retries = 5),
        quote!(
            fn render(job: Job) -> Result<Vec<u8>, String> {
                draw(job)
            }
        ),
    ));
}

#[test]
fn async_and_static_task_retries() {
    insta::assert_snapshot!(task(
        quote!(retries = n(), backoff_max = Duration::from_secs(5)),
        quote!(
            async fn fetch(url: String) -> Result<String, String> {
                get(&url).await
            }
        ),
    ));
    insta::assert_snapshot!(task(
        quote!(static, retries = 2, limit = LIMIT),
        quote!(
            fn render(job: Job) -> Result<Vec<u8>, String> {
                draw(job)
            }
        ),
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
fn static_fn() {
    insta::assert_snapshot!(task(
        quote!(static),
        quote! {
            /// Crunches.
            pub fn crunch(n: u64) -> u64 { n * 2 }
        }
    ));
}

#[test]
fn static_no_arguments() {
    insta::assert_snapshot!(task(
        quote!(static),
        quote! {
            fn pid() -> u32 { std::process::id() }
        }
    ));
}

#[test]
fn static_no_return_type() {
    insta::assert_snapshot!(task(
        quote!(static),
        quote! {
            fn log(line: String, level: u8) {
                println!("{level}: {line}");
            }
        }
    ));
}

#[test]
fn static_patterns_in_args() {
    insta::assert_snapshot!(task(
        quote!(static),
        quote! {
            fn sum(mut total: u32, (a, b): (u8, u8), _: u8, Point { x, y }: Point, _unused: String) -> u32 {
                total += a as u32 + b as u32 + x + y;
                total
            }
        }
    ));
}

#[test]
fn static_all_options() {
    insta::assert_snapshot!(task(
        quote!(
            timeout = 0.5,
            static,
            supervisor = &PLANT,
            priority = Priority::Critical
        ),
        quote! {
            #[inline]
            pub(crate) fn crunch(job: Job) -> Result<Report, String> {
                job.run()
            }
        }
    ));
}

#[test]
fn static_remote() {
    insta::assert_snapshot!(task(
        quote!(static, remote),
        quote! {
            /// Renders on a node of the cluster.
            pub fn render(job: RenderJob) -> Vec<u8> { job.render() }
        }
    ));
}

#[test]
fn remote_is_static_but_for_the_spawn_call() {
    // The same code as `static`, `spawn_remote` for `spawn`, whatever the
    // order of the options. Compared as tokens: pretty-printing may break
    // the longer call over other lines.
    let item = quote! {
        pub fn render(job: RenderJob, (w, h): (u32, u32)) -> Vec<u8> { job.render(w, h) }
    };
    let local = expand::background_task(
        quote!(static, priority = Priority::High, timeout = 5),
        item.clone(),
    )
    .to_string();
    assert_eq!(local.matches(". spawn (").count(), 1, "{local}");
    let expected = local.replace(". spawn (", ". spawn_remote (");
    for args in [
        quote!(static, remote, priority = Priority::High, timeout = 5),
        quote!(remote, timeout = 5, static, priority = Priority::High),
    ] {
        let remote = expand::background_task(args.clone(), item.clone()).to_string();
        assert_eq!(remote, expected, "{args}");
    }
}

// ---- errors ----

#[test]
fn errors_leave_a_stand_in() {
    // The function with the signature the macro makes, so that the code that
    // calls it sees no second error; the body stays, in a fn nothing calls.
    insta::assert_snapshot!(task(
        quote!(static, prio = 1),
        quote! {
            /// Docs.
            pub async fn crunch(n: &u64, (a, b): (u8, u8)) -> u64 { *n + a + b }
        }
    ));
}

#[test]
fn stand_in_of_a_method_keeps_self() {
    let output = task(
        quote!(prio = 1),
        quote! {
            fn resize(&self, n: u64) -> u64 { n }
        },
    );
    assert!(
        output.contains("fn resize(&self, n: u64) -> ::atasker::Task<u64> {"),
        "{output}"
    );
    assert!(output.contains("let _ = (self, n);"), "{output}");
    // A method's body cannot stand alone.
    assert!(!output.contains("__atasker_body"), "{output}");
}

#[test]
fn no_stand_in_for_an_impl_trait_result() {
    // Only the body could give `impl Trait` a type: the item stays as it is.
    let output = task(
        quote!(prio = 1),
        quote! {
            fn shown(n: u64) -> impl Display { n }
        },
    );
    assert!(
        output.starts_with("fn shown(n: u64) -> impl Display {"),
        "{output}"
    );
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
    assert_errors(
        error,
        cases.map(|(item, expected)| (quote!(static), item, expected)),
    );
}

#[test]
fn static_accepts_owned_types_and_patterns() {
    let errors = errors(
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
    assert_eq!(errors, Vec::<String>::new());
}

#[test]
fn thread_task_borrow_rules() {
    let arg = "`#[background_task]` cannot take a reference: the arguments move to another thread, so they must be owned;";
    let cases = [
        (quote!(fn f(x: &str) {}), format!("{arg} take `String` instead of `&str`")),
        (quote!(async fn f(x: &mut Vec<u8>) {}), format!("{arg} take `Vec<u8>` instead of `&mut Vec<u8>`")),
        (quote!(fn f<'a>(x: &'a [u8]) {}), format!("{arg} take `Vec<u8>` instead of `&'a [u8]`")),
        (quote!(fn f(x: &dyn Display) {}), format!("{arg} take `Box<dyn Display>` instead of `&dyn Display`")),
        (quote!(fn f(x: Option<&Path>) {}), format!("{arg} take `PathBuf` instead of `&Path`")),
        (quote!(fn f(x: Cow<'_, str>) {}), "`#[background_task]` cannot take borrowed data (`'_`): the arguments move to another thread, so they must be owned; use an owned type".to_owned()),
        (quote!(async fn f(x: &'static Foo<'a>) {}), "`#[background_task]` cannot take borrowed data (`'a`): the arguments move to another thread, so they must be owned; use an owned type".to_owned()),
        (quote!(fn f<'a>() -> &'a str {}), "`#[background_task]` cannot return a reference: the result comes back from another thread, so it must be owned; return `String` instead of `&'a str`".to_owned()),
        (quote!(fn f<'a>() -> Cow<'a, str> {}), "`#[background_task]` cannot return borrowed data (`'a`): the result comes back from another thread, so it must be owned; use an owned type".to_owned()),
    ];
    assert_errors(
        error,
        cases.map(|(item, expected)| (quote!(), item, expected)),
    );
    // `'static` borrows go anywhere.
    let errors = errors(
        quote!(),
        quote!(
            fn f(
                a: &'static str,
                b: Cow<'static, str>,
                c: impl Fn() + Send + 'static,
            ) -> &'static [u8] {
            }
        ),
    );
    assert_eq!(errors, Vec::<String>::new());
}

#[test]
fn supervisor_that_looks_like_a_local() {
    let message = |attr: &str, what_it_is: &str, what: &str| {
        format!(
            "{attr} needs a `&'static Supervisor` for `supervisor`, and {what_it_is}: {what} is an \
             item of its own and cannot use the locals around it; leave `supervisor` out to use \
             `Supervisor::global()` (set it up once with `Supervisor::builder()….build_global()?`), \
             or keep your supervisor in a static, `static SUP: LazyLock<Supervisor> = \
             LazyLock::new(|| Supervisor::builder().build().unwrap());`, and write \
             `supervisor = &SUP`"
        )
    };
    let t = "`#[background_task]`";
    let cases = [
        (
            quote!(supervisor = &sup),
            message(
                t,
                "`&sup` borrows `sup`, which looks like a local variable",
                "a task",
            ),
        ),
        (
            quote!(supervisor = &mut my_sup),
            message(
                t,
                "`&mut my_sup` borrows `my_sup`, which looks like a local variable",
                "a task",
            ),
        ),
        (
            quote!(supervisor = sup),
            message(t, "`sup` looks like a local variable", "a task"),
        ),
        // Even when an argument has that name: a borrow of it is not `'static`.
        (
            quote!(supervisor = &n),
            message(
                t,
                "`&n` borrows `n`, which looks like a local variable",
                "a task",
            ),
        ),
    ];
    assert_errors(
        error,
        cases.map(|(args, expected)| {
            (
                args,
                quote!(
                    fn f(n: u64) {}
                ),
                expected,
            )
        }),
    );
    assert_eq!(
        worker_error(
            quote!(interval = 1, supervisor = sup),
            quote!(
                fn tick() {}
            )
        ),
        message(
            "`#[background_worker]`",
            "`sup` looks like a local variable",
            "a worker"
        ),
    );
    // A static, a call, a path or an argument of the task are not locals.
    for args in [
        quote!(supervisor = &SUP),
        quote!(supervisor = *SUP),
        quote!(supervisor = plant()),
        quote!(supervisor = Supervisor::global()),
        quote!(supervisor = self::sup),
        quote!(supervisor = sup),
    ] {
        let errors = errors(
            args.clone(),
            quote!(
                fn f(sup: &'static Supervisor) {}
            ),
        );
        assert_eq!(errors, Vec::<String>::new(), "{args}");
    }
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
    let valid = "valid options: `static`, `remote`, `priority = EXPR`, `supervisor = EXPR`, \
                 `timeout = SECS | EXPR`, `delay = SECS | EXPR`, `retries = N`, \
                 `backoff = SECS | EXPR`, `backoff_max = SECS | EXPR`, `limit = N`";
    let cases = [
        (quote!(prio = 1), format!("`#[background_task]` has no option `prio`; {valid}")),
        (quote!(a::b), format!("`#[background_task]` has no option `a::b`; {valid}")),
        (quote!(priority = Priority::Low, priority = Priority::High), format!("`#[background_task]` takes `priority` only once; remove one of them ({valid})")),
        (quote!(static, static), format!("`#[background_task]` takes `static` only once; remove one of them ({valid})")),
        (quote!(static = true), "`#[background_task]`: `static` takes no value; write `#[background_task(static)]`".to_owned()),
        (quote!(static(true)), "`#[background_task]`: `static` takes no value; write `#[background_task(static)]`".to_owned()),
        (quote!(priority), "`#[background_task]` needs a value for `priority`; write `priority = Priority::High`".to_owned()),
        (quote!(supervisor), "`#[background_task]` needs a value for `supervisor`; write `supervisor = my_supervisor()`".to_owned()),
        (quote!(priority = 7), "`#[background_task]` expects `priority` to be a `Priority`, not a literal; write one of `Priority::{Low, Normal, High, Critical}`, e.g. `priority = Priority::High`".to_owned()),
        (quote!(priority = "high"), "`#[background_task]` expects `priority` to be a `Priority`, not a literal; write one of `Priority::{Low, Normal, High, Critical}`, e.g. `priority = Priority::High`".to_owned()),
        (quote!(priority = -1), "`#[background_task]` expects `priority` to be a `Priority`, not a literal; write one of `Priority::{Low, Normal, High, Critical}`, e.g. `priority = Priority::High`".to_owned()),
        (quote!(timeout), "`#[background_task]` needs a value for `timeout`; write `timeout = 5`".to_owned()),
        (quote!(timeout = "5"), "`#[background_task]` expects `timeout` to be a number of seconds or a `Duration`, not a string; write `timeout = 5` or `timeout = Duration::from_millis(500)`".to_owned()),
        (quote!(timeout = "soon"), "`#[background_task]` expects `timeout` to be a number of seconds or a `Duration`, not a string; write `timeout = 5` or `timeout = Duration::from_millis(500)`".to_owned()),
        (quote!(timeout = true), "`#[background_task]` expects `timeout` to be a number of seconds or a `Duration`; write `timeout = 5`, `timeout = 0.5` or `timeout = Duration::from_millis(500)`".to_owned()),
        (quote!(timeout = -1), "`#[background_task]` expects `timeout` to be zero or more seconds, not a negative number; write for example `timeout = 5`".to_owned()),
        (quote!(timeout = -0.5), "`#[background_task]` expects `timeout` to be zero or more seconds, not a negative number; write for example `timeout = 5`".to_owned()),
        (quote!(timeout = 5ms), "`#[background_task]` reads `timeout` as seconds and does not know the suffix `ms`; write a plain number of seconds such as `timeout = 0.5`, or a `Duration` such as `timeout = Duration::from_millis(500)`".to_owned()),
        (quote!(timeout = 1e300), "`#[background_task]` cannot hold this many seconds in `timeout`; write a smaller number".to_owned()),
        (quote!(timeout = 18446744073709551615), "`#[background_task]` cannot hold this many seconds in `timeout`; write a smaller number".to_owned()),
        (quote!(retries), "`#[background_task]` needs a value for `retries`; write `retries = 3`".to_owned()),
        (quote!(retries = 0), "`#[background_task]` expects `retries` to be a whole number of at least 1, not 0; write for example `retries = 3`".to_owned()),
        (quote!(retries = 1.5), "`#[background_task]` expects `retries` to be a whole number of at least 1; write for example `retries = 3`".to_owned()),
        (quote!(limit = 0), "`#[background_task]` expects `limit` to be a whole number of at least 1, not 0; write for example `limit = 1`".to_owned()),
        (quote!(limit = "one"), "`#[background_task]` expects `limit` to be a whole number of at least 1; write for example `limit = 1`".to_owned()),
        (quote!(backoff = 1), "`#[background_task]`: `backoff` sets the wait between retries, so it needs `retries`; add `retries = 3` (for example) or remove `backoff`".to_owned()),
        (quote!(backoff_max = 60), "`#[background_task]`: `backoff_max` sets the wait between retries, so it needs `retries`; add `retries = 3` (for example) or remove `backoff_max`".to_owned()),
        (quote!(retries = 2, backoff = "1s"), "`#[background_task]` expects `backoff` to be a number of seconds or a `Duration`, not a string; write `backoff = 5` or `backoff = Duration::from_millis(500)`".to_owned()),
    ];
    assert_errors_on_plain_fn(error, cases);
}

#[test]
fn remote_errors() {
    let valid = "valid options: `static`, `remote`, `priority = EXPR`, `supervisor = EXPR`, \
                 `timeout = SECS | EXPR`, `delay = SECS | EXPR`, `retries = N`, \
                 `backoff = SECS | EXPR`, `backoff_max = SECS | EXPR`, `limit = N`";
    let needs_static = "`#[background_task(remote)]` runs the task on another host, so it must \
                        be `static` (owned serde arguments and result): write \
                        `#[background_task(static, remote)]`";
    let remote = "`#[background_task(static, remote)]`";
    let cases = [
        (quote!(remote), quote!(fn f() {}), needs_static.to_owned()),
        (quote!(priority = Priority::High, remote), quote!(fn f(n: u64) -> u64 { n }), needs_static.to_owned()),
        (quote!(remote), quote!(async fn f() {}), format!("{needs_static} and remove `async`")),
        (quote!(static, remote, remote), quote!(fn f() {}), format!("`#[background_task]` takes `remote` only once; remove one of them ({valid})")),
        (quote!(remote, static, remote), quote!(fn f() {}), format!("`#[background_task]` takes `remote` only once; remove one of them ({valid})")),
        (quote!(static, remote = true), quote!(fn f() {}), "`#[background_task]`: `remote` takes no value; write `#[background_task(remote)]`".to_owned()),
        // `static = true` is reported; `remote` adds no second error.
        (quote!(static = true, remote), quote!(fn f() {}), "`#[background_task]`: `static` takes no value; write `#[background_task(static)]`".to_owned()),
        // The rules of `static`, naming `remote` too; `static` must stay.
        (quote!(static, remote), quote!(async fn f() {}), format!("{remote} cannot be used on an `async fn`; remove `async`")),
        (quote!(remote, static), quote!(fn f(x: &str) {}), format!("{remote} cannot take a reference: arguments and results are sent to another process; use an owned type such as `String`")),
        (quote!(static, remote), quote!(fn f<T>(x: T) {}), format!("{remote} cannot be used on a generic fn: a process task needs concrete types; remove the generic parameters and name the types")),
        (quote!(static, remote), quote!(fn f(&self) {}), format!("{remote} cannot be used on a method: tasks are free functions; remove `self` and take what you need as an ordinary argument")),
    ];
    assert_errors(error, cases);
}

#[test]
fn remote_errors_leave_a_stand_in() {
    let output = task(
        quote!(remote),
        quote! {
            pub fn render(job: RenderJob) -> Vec<u8> { job.render() }
        },
    );
    assert!(
        output.starts_with("pub fn render(job: RenderJob) -> ::atasker::Task<Vec<u8>> {"),
        "{output}"
    );
    assert!(output.contains("::core::unimplemented!()"), "{output}");
    assert!(!output.contains("spawn"), "{output}");
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

#[test]
fn task_and_worker_on_one_fn() {
    let message = error(
        quote!(),
        quote!(
            #[background_worker(interval = 1)]
            fn tick() {}
        ),
    );
    assert_eq!(
        message,
        "`#[background_task]` and `#[background_worker]` cannot be used on the same fn: a worker \
         runs its fn over and over, a task runs it once per call; remove one of them"
    );
    // The other attribute is removed from the item, so it adds no errors.
    let output = task(
        quote!(),
        quote!(
            #[atasker::background_worker(queue)]
            fn tick() {}
        ),
    );
    assert!(!output.contains("#[atasker::background_worker"), "{output}");
    assert!(
        output.contains("fn tick() -> ::atasker::Task<()> {"),
        "{output}"
    );
}

// ---- #[background_worker] expansions ----

#[test]
fn worker_loop_fn() {
    insta::assert_snapshot!(worker(
        quote!(),
        quote! {
            /// Spins.
            pub fn spin() {
                work();
            }
        }
    ));
}

#[test]
fn worker_interval_int() {
    insta::assert_snapshot!(worker(
        quote!(interval = 1),
        quote! {
            fn tick() {
                println!("I run every second!");
            }
        }
    ));
}

#[test]
fn worker_interval_float() {
    insta::assert_snapshot!(worker(
        quote!(interval = 0.25),
        quote! {
            fn tick() {}
        }
    ));
}

#[test]
fn worker_interval_expr() {
    insta::assert_snapshot!(worker(
        quote!(interval = Duration::from_millis(250)),
        quote! {
            fn tick() {}
        }
    ));
}

#[test]
fn worker_delay() {
    insta::assert_snapshot!(worker(
        quote!(delay = 2),
        quote! {
            pub(crate) fn poll() -> bool {
                check()
            }
        }
    ));
}

#[test]
fn worker_delay_before() {
    insta::assert_snapshot!(worker(
        quote!(interval = 1, delay_before = 0.5),
        quote! {
            fn tick() -> Result<(), String> {
                Ok(())
            }
        }
    ));
}

#[test]
fn worker_queue() {
    insta::assert_snapshot!(worker(
        quote!(queue),
        quote! {
            /// Sends one mail.
            pub fn mailer(mail: Mail) -> Result<(), SendError> {
                mail.send()
            }
        }
    ));
}

#[test]
fn worker_queue_capacity() {
    insta::assert_snapshot!(worker(
        quote!(queue, capacity = 100),
        quote! {
            fn add((a, b): (u64, u64)) {
                total(a + b);
            }
        }
    ));
}

#[test]
fn worker_event() {
    insta::assert_snapshot!(worker(
        quote!(event),
        quote! {
            fn flush() {}
        }
    ));
}

#[test]
fn worker_async_loop() {
    insta::assert_snapshot!(worker(
        quote!(),
        quote! {
            async fn spin() {
                work().await;
            }
        }
    ));
}

#[test]
fn worker_async_interval() {
    insta::assert_snapshot!(worker(
        quote!(interval = 1),
        quote! {
            async fn tick() -> bool {
                ping().await
            }
        }
    ));
}

#[test]
fn worker_async_delay() {
    insta::assert_snapshot!(worker(
        quote!(delay = 0.5, delay_before = Duration::from_secs(1)),
        quote! {
            async fn poll() {}
        }
    ));
}

#[test]
fn worker_async_queue() {
    insta::assert_snapshot!(worker(
        quote!(queue, capacity = 8),
        quote! {
            async fn mailer(mail: Mail) -> Result<(), SendError> {
                mail.send().await
            }
        }
    ));
}

#[test]
fn worker_async_event() {
    insta::assert_snapshot!(worker(
        quote!(event),
        quote! {
            async fn flush() {}
        }
    ));
}

#[test]
fn worker_options() {
    insta::assert_snapshot!(worker(
        quote!(
            interval = 5,
            name = "reporter",
            priority = Priority::High,
            supervisor = plant(),
            on_error = report_error
        ),
        quote! {
            fn report() {}
        }
    ));
}

#[test]
fn worker_docs_and_attrs_kept() {
    insta::assert_snapshot!(worker(
        quote!(interval = 1),
        quote! {
            /// First line.
            ///
            /// Second paragraph.
            #[cfg(feature = "reports")]
            #[allow(clippy::needless_return)]
            #[deprecated = "use `report`"]
            #[inline]
            #[tracing::instrument]
            #[must_use]
            pub(crate) fn tick() -> bool {
                return true;
            }
        }
    ));
}

#[test]
fn worker_capacity_expr() {
    let output = worker(
        quote!(queue, capacity = CAPACITY),
        quote!(
            fn add(n: u64) {}
        ),
    );
    assert!(
        output.contains("capacity: ::core::option::Option::Some(CAPACITY)"),
        "{output}"
    );
}

#[test]
fn worker_raw_identifier_name() {
    let output = worker(
        quote!(),
        quote!(
            fn r#loop() {}
        ),
    );
    assert!(output.contains("static r#loop:"), "{output}");
    assert!(output.contains(r#"name: "loop""#), "{output}");
}

#[test]
fn worker_impl_sync() {
    insta::assert_snapshot!(worker(
        quote!(interval = 1),
        quote! {
            /// Reports.
            impl Reporter {
                fn run(&mut self) {
                    self.sent += 1;
                }

                fn sent(&self) -> u64 {
                    self.sent
                }
            }
        }
    ));
}

#[test]
fn worker_impl_async() {
    insta::assert_snapshot!(worker(
        quote!(interval = 1),
        quote! {
            impl Reporter {
                async fn run(&mut self) {
                    self.sent += 1;
                }
            }
        }
    ));
}

#[test]
fn worker_impl_event() {
    insta::assert_snapshot!(worker(
        quote!(event, name = "flusher"),
        quote! {
            impl Flusher {
                fn run(&mut self) -> bool {
                    self.flush()
                }
            }
        }
    ));
}

#[test]
fn worker_impl_queue() {
    insta::assert_snapshot!(worker(
        quote!(queue, capacity = 10),
        quote! {
            impl Totals {
                fn run(&mut self, n: u64) {
                    self.total += n;
                }
            }
        }
    ));
}

#[test]
fn worker_impl_async_queue() {
    insta::assert_snapshot!(worker(
        quote!(queue),
        quote! {
            impl Totals {
                pub async fn run(&mut self, n: u64) {
                    self.total += n;
                }
            }
        }
    ));
}

#[test]
fn worker_impl_async_event() {
    insta::assert_snapshot!(worker(
        quote!(event),
        quote! {
            impl Bell {
                async fn run(&mut self) {}
            }
        }
    ));
}

#[test]
fn worker_static_interval() {
    insta::assert_snapshot!(worker(
        quote!(interval = 1, static),
        quote! {
            /// Ticks in another process.
            pub fn tick() -> bool {
                check()
            }
        }
    ));
}

#[test]
fn worker_static_queue() {
    insta::assert_snapshot!(worker(
        quote!(queue, static),
        quote! {
            fn handle(item: Job) -> Result<(), String> {
                item.run()
            }
        }
    ));
}

#[test]
fn worker_static_queue_pattern() {
    insta::assert_snapshot!(worker(
        quote!(
            queue,
            capacity = 10,
            static,
            name = "adder",
            on_error = report
        ),
        quote! {
            fn add((a, b): (u64, u64)) {
                total(a + b);
            }
        }
    ));
}

#[test]
fn worker_static_other_kinds() {
    for (args, constructor) in [
        (quote!(static), "::atasker::__private::worker_async("),
        (
            quote!(static, delay = 2),
            "::atasker::__private::worker_async(",
        ),
        (
            quote!(static, event),
            "::atasker::__private::event_worker_async(",
        ),
    ] {
        let output = worker(
            args.clone(),
            quote!(
                fn run() {}
            ),
        );
        assert!(output.contains(constructor), "{args}: {output}");
        assert!(
            output.contains("static_worker::<(), ()>()")
                && output.contains(".run(__atasker_task_options, &__ATASKER_ENTRY, ())"),
            "{args}: {output}"
        );
    }
}

#[test]
fn worker_cron() {
    insta::assert_snapshot!(worker(
        quote!(cron = "0 30 2 * * *", tz = "Europe/Berlin", fleet),
        quote! {
            /// Rolls the day up.
            pub fn nightly() -> Result<(), String> {
                rollup()
            }
        }
    ));
}

#[test]
fn worker_cron_kinds() {
    // Every executor of a cron worker gets a `Worker` and the same schedule;
    // the expression is the literal as written.
    let compact = |output: String| output.split_whitespace().collect::<String>();
    let schedule = |expr: &str, tz: Option<&str>, fleet: bool| {
        let tz = tz.map_or("::core::option::Option::None".to_owned(), |tz| {
            format!("::core::option::Option::Some(\"{tz}\")")
        });
        compact(format!(
            "schedule: ::atasker::__private::Schedule::Cron {{ expr: \"{expr}\", tz: {tz}, \
             fleet: {fleet},"
        ))
    };
    let cases = [
        (
            quote!(cron = "*/10 * * * *"),
            quote!(
                fn tick() {}
            ),
            schedule("*/10 * * * *", None, false),
            "::atasker::__private::worker(",
        ),
        (
            quote!(cron = "@hourly", tz = "local"),
            quote!(
                async fn tick() -> bool {
                    true
                }
            ),
            schedule("@hourly", Some("local"), false),
            "::atasker::__private::worker_async(",
        ),
        (
            quote!(static, fleet, cron = "0 0 * * * *"),
            quote!(
                fn tick() {}
            ),
            schedule("0 0 * * * *", None, true),
            "::atasker::__private::worker_async(",
        ),
        (
            quote!(cron = "0 0 * * * *", tz = "UTC"),
            quote!(impl Sweeper { fn run(&mut self) {} }),
            schedule("0 0 * * * *", Some("UTC"), false),
            "::atasker::__private::state_worker(",
        ),
        (
            quote!(cron = "0 0 * * * *"),
            quote!(impl Sweeper { async fn run(&mut self) {} }),
            schedule("0 0 * * * *", None, false),
            "::atasker::__private::state_worker_async(",
        ),
    ];
    for (args, item, schedule, constructor) in cases {
        let output = compact(worker(args.clone(), item));
        assert!(output.contains(&schedule), "{args}: {output}");
        assert!(output.contains(constructor), "{args}: {output}");
        assert!(output.contains("::atasker::Worker"), "{args}: {output}");
    }
}

#[test]
fn worker_cron_accepts_what_the_core_accepts() {
    for (args, item) in [
        (
            quote!(cron = "0 */5 * * * *"),
            quote!(
                fn f() {}
            ),
        ),
        (
            quote!(cron = "*/5 * * * *"),
            quote!(
                fn f() {}
            ),
        ),
        (
            quote!(cron = "@daily", tz = "America/New_York"),
            quote!(
                fn f() {}
            ),
        ),
        (
            quote!(cron = "0 0 12 * * MON-FRI"),
            quote!(
                fn f() {}
            ),
        ),
        (
            quote!(cron = r"0 0 * * *", tz = "Etc/GMT+5"),
            quote!(
                fn f() {}
            ),
        ),
        (
            quote!(cron = "@weekly", fleet, static),
            quote!(
                fn f() {}
            ),
        ),
        (
            quote!(cron = "@hourly", name = "sweeper", priority = Priority::Low),
            quote!(impl Sweeper { fn run(&mut self) {} }),
        ),
    ] {
        assert_eq!(
            worker_errors(args.clone(), item),
            Vec::<String>::new(),
            "{args}"
        );
    }
}

#[test]
fn worker_cron_errors() {
    let w = "`#[background_worker]`";
    let fields = "write 6 fields (second minute hour day-of-month month day-of-week), 5 (minute resolution) or a shorthand such as `@hourly`";
    let parse = |expr: &str| {
        let error = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(expr)
            .expect_err("a bad expression")
            .to_string();
        format!(
            "{w} cannot parse the cron expression `{expr}`: {}; {fields}",
            error.trim_end_matches('.')
        )
    };
    let zone = |tz: &str| {
        format!("{w} does not know the time zone `{tz}`; write an IANA name such as `Europe/Berlin`, or `local`")
    };
    let fn_cases = [
        (quote!(cron = "every minute"), parse("every minute")),
        (quote!(cron = "61 * * * * *"), parse("61 * * * * *")),
        (quote!(cron = "* * *"), parse("* * *")),
        (quote!(cron = ""), parse("")),
        (quote!(cron = "@often"), parse("@often")),
        (quote!(cron = "0 * * * *", tz = "Mars/Olympus"), zone("Mars/Olympus")),
        (quote!(cron = "0 * * * *", tz = "europe/berlin"), zone("europe/berlin")),
        (quote!(cron = "0 * * * *", tz = "Local"), zone("Local")),
        (quote!(cron = 5), format!("{w} expects `cron` to be a string literal; write `cron = \"0 */5 * * * *\"`")),
        (quote!(cron = EVERY_MINUTE), format!("{w} expects `cron` to be a string literal; write `cron = \"0 */5 * * * *\"`")),
        (quote!(cron), format!("{w} needs a value for `cron`; write `cron = \"0 */5 * * * *\"`")),
        (quote!(cron = "0 * * * *", tz = Berlin), format!("{w} expects `tz` to be a string literal; write `tz = \"Europe/Berlin\"`")),
        (quote!(cron = "0 * * * *", fleet = true), format!("{w}: `fleet` takes no value; write `#[background_worker(fleet)]`")),
        (quote!(cron = "0 * * * *", cron = "1 * * * *"), format!("{w} takes `cron` only once; remove one of them (valid options: `interval = SECS | EXPR`, `delay = SECS | EXPR`, `delay_before = SECS | EXPR`, `cron = \"…\"`, `tz = \"…\"`, `fleet`, `queue`, `capacity = N`, `event`, `static`, `priority = EXPR`, `name = \"…\"`, `supervisor = EXPR`, `on_error = PATH`)")),
        (quote!(cron = "0 * * * *", interval = 1), format!("{w} takes `cron` or `interval`, not both: `cron` runs at the times its expression names, `interval` runs at a fixed rate from `start()`; keep one of them")),
        (quote!(delay = 1, cron = "0 * * * *"), format!("{w} takes `cron` or `delay`, not both: `cron` runs at the times its expression names, `delay` pauses after each run; keep one of them")),
        (quote!(cron = "0 * * * *", queue), "`#[background_worker(queue)]` runs once per queued item and takes no `cron`; remove `cron`, or remove `queue` for a cron worker".to_owned()),
        (quote!(event, cron = "0 * * * *"), "`#[background_worker(event)]` runs once per `trigger()` and takes no `cron`; remove `cron`, or remove `event` for a cron worker (it has `trigger()` too)".to_owned()),
        (quote!(cron = "0 * * * *", delay_before = 1), "`#[background_worker(cron = …)]` runs at the times its expression names and takes no `delay_before`; write the later time in the expression (e.g. `30 */5 * * * *` for 30 seconds past every fifth minute), or remove `delay_before`".to_owned()),
        (quote!(tz = "Europe/Berlin"), format!("{w}: `tz` is the time zone of a cron worker's expression; add `cron = \"…\"` (`#[background_worker(cron = \"0 30 2 * * *\", tz = \"Europe/Berlin\")]`) or remove `tz`")),
        (quote!(interval = 1, tz = "UTC"), format!("{w}: `tz` is the time zone of a cron worker's expression; add `cron = \"…\"` (`#[background_worker(cron = \"0 30 2 * * *\", tz = \"Europe/Berlin\")]`) or remove `tz`")),
        (quote!(fleet), format!("{w}: `fleet` runs each tick of a cron worker on one node of the cluster; add `cron = \"…\"` (`#[background_worker(cron = \"0 * * * * *\", fleet)]`) or remove `fleet`")),
        (quote!(event, fleet), format!("{w}: `fleet` runs each tick of a cron worker on one node of the cluster; add `cron = \"…\"` (`#[background_worker(cron = \"0 * * * * *\", fleet)]`) or remove `fleet`")),
    ];
    assert_errors_on_plain_fn(worker_error, fn_cases);
    let on_impl = "`#[background_worker(fleet)]` cannot be used on an `impl` block: a stateful worker's state lives on one host, so no other node of the cluster can run its ticks; remove `fleet`, or use a worker fn without state: `#[background_worker(cron = \"…\", fleet)] fn sweep() { … }`";
    let impl_cases = [
        (quote!(cron = "0 * * * * *", fleet), quote!(impl Sweeper { fn run(&mut self) {} }), on_impl.to_owned()),
        (quote!(fleet), quote!(impl Sweeper { async fn run(&mut self) {} }), on_impl.to_owned()),
        (quote!(cron = "0 * * * *", static), quote!(impl Sweeper { fn run(&mut self) {} }), "`#[background_worker(static)]` cannot be used on an `impl` block: a stateful worker cannot run in the process pool, its state lives in the parent process; remove `static`, or write a worker fn without state: `#[background_worker(cron = …, static)] fn tick() { … }`".to_owned()),
        (quote!(cron = "0 * * * *"), quote!(fn f(n: u8) {}), "`#[background_worker(cron = …)]` calls the fn with no arguments; remove them, or use `#[background_worker(queue)]` to pass each queued item as the only argument".to_owned()),
    ];
    assert_errors(worker_error, impl_cases);
}

#[test]
fn worker_cron_error_is_at_the_literal() {
    let expansion = expand::background_worker(
        quote!(cron = "nope", tz = "Nowhere/Land"),
        quote!(
            fn f() {}
        ),
    );
    // Both literals are reported (where the errors point is checked by the
    // UI tests, `worker_cron_*.rs`).
    let errors = messages(expansion.clone());
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].contains("`nope`"), "{errors:#?}");
    assert!(errors[1].contains("`Nowhere/Land`"), "{errors:#?}");
    // The stand-in is still the `Worker` handle.
    let output = pretty(expansion);
    assert!(
        output.contains("static f: ::atasker::__private::Lazy<::atasker::Worker>"),
        "{output}"
    );
}

// ---- #[background_worker] errors ----

#[test]
fn worker_errors_leave_a_stand_in() {
    // The static handle the macro makes, so that the code that uses it sees
    // no second error; the body stays, in a fn nothing calls.
    insta::assert_snapshot!(worker(
        quote!(interval = 1, delay = 2),
        quote! {
            /// Docs.
            #[inline]
            pub fn tick() {}
        }
    ));
}

#[test]
fn worker_queue_stand_in_has_a_static_item() {
    // `QueueWorker<&str>` in a static is `QueueWorker<&'static str>`; the
    // stand-in says so, so that `store.put("…")` compiles.
    let output = worker(
        quote!(queue, capacity = 0),
        quote!(
            fn store(line: &str) {}
        ),
    );
    let compact: String = output.split_whitespace().collect();
    assert!(
        compact.contains(
            "staticstore:::atasker::__private::Lazy<::atasker::QueueWorker<&'staticstr>>"
        ),
        "{output}"
    );
}

#[test]
fn worker_impl_errors_leave_a_stand_in() {
    insta::assert_snapshot!(worker(
        quote!(queue, static),
        quote! {
            impl<'a> Log<'a> {
                fn run(&mut self, line: Cow<'a, str>, extra: &str) {}
            }
        }
    ));
}

#[test]
fn worker_method_and_trait_impl_stay_as_they_are() {
    // A static cannot be in an `impl` block; a trait `impl` cannot gain an
    // inherent method.
    let output = worker(
        quote!(interval = 1),
        quote!(
            fn report(&self) {}
        ),
    );
    assert!(output.starts_with("fn report(&self) {}"), "{output}");
    let output = worker(
        quote!(interval = 1),
        quote!(impl Default for Reporter { fn default() -> Self { Reporter } }),
    );
    assert!(
        output.starts_with("impl Default for Reporter {"),
        "{output}"
    );
    assert!(!output.contains("into_worker"), "{output}");
}

#[test]
fn worker_every_error_is_reported() {
    let errors = worker_errors(
        quote!(
            interval = "abc",
            delay_before = 1,
            capacity = 0,
            colour = "red",
            name = 5,
            interval = 2
        ),
        quote! {
            const unsafe extern "C" fn f<T>(&self, x: T) -> u64 {}
        },
    );
    insta::assert_debug_snapshot!(errors);
}

#[test]
fn worker_option_errors() {
    let valid = "valid options: `interval = SECS | EXPR`, `delay = SECS | EXPR`, \
                 `delay_before = SECS | EXPR`, `cron = \"…\"`, `tz = \"…\"`, `fleet`, `queue`, \
                 `capacity = N`, `event`, `static`, `priority = EXPR`, `name = \"…\"`, \
                 `supervisor = EXPR`, `on_error = PATH`";
    let w = "`#[background_worker]`";
    let cases = [
        (quote!(period = 1), format!("{w} has no option `period`; {valid}")),
        (quote!(event, event), format!("{w} takes `event` only once; remove one of them ({valid})")),
        (quote!(interval = 1, interval = 2), format!("{w} takes `interval` only once; remove one of them ({valid})")),
        (quote!(interval = 1, delay = 2), format!("{w} takes `interval` or `delay`, not both: `interval` runs at a fixed rate, `delay` pauses after each run; keep one of them")),
        (quote!(delay = 1, interval = 2), format!("{w} takes `interval` or `delay`, not both: `interval` runs at a fixed rate, `delay` pauses after each run; keep one of them")),
        (quote!(queue, interval = 1), "`#[background_worker(queue)]` runs once per queued item and takes no `interval`; remove `interval`, or remove `queue` for an interval worker".to_owned()),
        (quote!(delay = 1, queue), "`#[background_worker(queue)]` runs once per queued item and takes no `delay`; remove `delay`, or remove `queue` for a delay worker".to_owned()),
        (quote!(queue, event), format!("{w} takes `queue` or `event`, not both: a queue worker runs once per item, an event worker once per `trigger()`; keep one of them")),
        (quote!(event, interval = 1), "`#[background_worker(event)]` runs once per `trigger()` and takes no `interval`; remove `interval`, or remove `event` for an interval worker (it has `trigger()` too)".to_owned()),
        (quote!(delay = 1, event), "`#[background_worker(event)]` runs once per `trigger()` and takes no `delay`; remove `delay`, or remove `event` for a delay worker (it has `trigger()` too)".to_owned()),
        (quote!(capacity = 10), format!("{w}: `capacity` bounds the queue of a queue worker; add `queue` (`#[background_worker(queue, capacity = 100)]`) or remove `capacity`")),
        (quote!(event, capacity = 10), format!("{w}: `capacity` bounds the queue of a queue worker; add `queue` (`#[background_worker(queue, capacity = 100)]`) or remove `capacity`")),
        (quote!(delay_before = 1), format!("{w}: `delay_before` applies to interval and delay workers; add `interval = …` or `delay = …`, or remove `delay_before`")),
        (quote!(event, delay_before = 1), format!("{w}: `delay_before` applies to interval and delay workers; add `interval = …` or `delay = …`, or remove `delay_before`")),
        (quote!(interval = "abc"), format!("{w} expects `interval` to be a number of seconds or a `Duration`, not a string; write `interval = 5` or `interval = Duration::from_millis(500)`")),
        (quote!(interval = -1), format!("{w} expects `interval` to be zero or more seconds, not a negative number; write for example `interval = 5`")),
        (quote!(delay = -0.5), format!("{w} expects `delay` to be zero or more seconds, not a negative number; write for example `delay = 5`")),
        (quote!(interval = 1, delay_before = true), format!("{w} expects `delay_before` to be a number of seconds or a `Duration`; write `delay_before = 5`, `delay_before = 0.5` or `delay_before = Duration::from_millis(500)`")),
        (quote!(interval), format!("{w} needs a value for `interval`; write `interval = 1`")),
        (quote!(name = 5), format!("{w} expects `name` to be a string literal; write `name = \"mailer\"`")),
        (quote!(name = tick), format!("{w} expects `name` to be a string literal; write `name = \"mailer\"`")),
        (quote!(name), format!("{w} needs a value for `name`; write `name = \"mailer\"`")),
        (quote!(on_error), format!("{w} needs a value for `on_error`; write `on_error = report`")),
        (quote!(interval = 1, priority = 2), format!("{w} expects `priority` to be a `Priority`, not a literal; write one of `Priority::{{Low, Normal, High, Critical}}`, e.g. `priority = Priority::High`")),
        (quote!(interval = 0), format!("{w} with `interval = 0` would run the fn back to back without a pause, keeping a thread busy; for a worker that runs back to back, remove `interval` (`#[background_worker]` alone is a loop worker, which yields between runs); else write a pause such as `interval = 0.1`")),
        (quote!(interval = 0.0), format!("{w} with `interval = 0` would run the fn back to back without a pause, keeping a thread busy; for a worker that runs back to back, remove `interval` (`#[background_worker]` alone is a loop worker, which yields between runs); else write a pause such as `interval = 0.1`")),
        (quote!(delay = 0u64), format!("{w} with `delay = 0` would run the fn back to back without a pause, keeping a thread busy; for a worker that runs back to back, remove `delay` (`#[background_worker]` alone is a loop worker, which yields between runs); else write a pause such as `delay = 0.1`")),
    ];
    assert_errors_on_plain_fn(worker_error, cases);
}

#[test]
fn worker_remote() {
    // A worker's runs cannot be remote yet: the message says where `remote`
    // belongs, without the list of valid options (which has no `remote`).
    let expected = "`#[background_worker]` has no option `remote`: a worker's runs cannot be \
                    remote yet, `remote` is for tasks, `#[background_task(static, remote)]`; \
                    remove `remote` (`static` runs a worker fn in this host's process pool)";
    assert_errors(
        worker_error,
        [
            (
                quote!(remote),
                quote!(
                    fn tick() {}
                ),
                expected,
            ),
            (
                quote!(interval = 1, static, remote),
                quote!(
                    fn tick() {}
                ),
                expected,
            ),
            (
                quote!(queue, remote = true),
                quote!(
                    fn handle(job: Job) {}
                ),
                expected,
            ),
            (
                quote!(remote),
                quote!(impl Reporter { fn run(&mut self) {} }),
                expected,
            ),
        ],
    );
    // Beside the error, the stand-in: the handle the worker would have.
    let output = worker(
        quote!(interval = 1, remote),
        quote! {
            fn tick() {}
        },
    );
    assert!(
        output.contains("static tick: ::atasker::__private::Lazy<::atasker::Worker> ="),
        "{output}"
    );
    assert!(output.contains("::core::unimplemented!()"), "{output}");
}

#[test]
fn worker_capacity_errors() {
    let w = "`#[background_worker]`";
    let cases = [
        (quote!(queue, capacity = 0), format!("{w} expects `capacity` to be a whole number of at least 1, not 0; write for example `capacity = 100`")),
        (quote!(queue, capacity = 1.5), format!("{w} expects `capacity` to be a whole number of at least 1; write for example `capacity = 100`")),
        (quote!(queue, capacity = "10"), format!("{w} expects `capacity` to be a whole number of at least 1; write for example `capacity = 100`")),
        (quote!(queue, capacity = 10ms), format!("{w} expects `capacity` to be a whole number of at least 1; write for example `capacity = 100`")),
        (quote!(queue, capacity = -3), format!("{w} expects `capacity` to be a whole number of at least 1, not a negative number; write for example `capacity = 100`")),
        (quote!(queue, capacity = 99999999999999999999), format!("{w} cannot hold this many items in `capacity`; write a smaller number")),
        (quote!(queue = true, capacity = 5), format!("{w}: `queue` takes no value; write `#[background_worker(queue)]`")),
        (quote!(queue, capacity), format!("{w} needs a value for `capacity`; write `capacity = 100`")),
    ];
    assert_errors(
        worker_error,
        cases.map(|(args, expected)| {
            (
                args,
                quote!(
                    fn f(n: u64) {}
                ),
                expected,
            )
        }),
    );
}

#[test]
fn worker_argument_errors() {
    let cases = [
        (quote!(queue), quote!(fn f() {}), "`#[background_worker(queue)]` passes each queued item to the fn, which must take it as its only argument; write for example `fn f(item: String)`"),
        (quote!(queue), quote!(fn f(a: u8, b: u8) {}), "`#[background_worker(queue)]` passes one item per run, so the fn takes exactly one argument; put the values in one type, e.g. `(a, b): (u32, String)`, or remove the extra arguments"),
        (quote!(queue), quote!(fn f(a: impl Display) {}), "`#[background_worker(queue)]` needs a named item type, not `impl Trait`; write the type, e.g. `item: String`"),
        (quote!(), quote!(fn f(a: u8) {}), "`#[background_worker]` calls the fn with no arguments; remove them, or use `#[background_worker(queue)]` to pass each queued item as the only argument"),
        (quote!(event), quote!(fn f(a: u8) {}), "`#[background_worker(event)]` calls the fn with no arguments; remove them, or use `#[background_worker(queue)]` to pass each queued item as the only argument"),
        (quote!(interval = 1), quote!(async fn f(a: u8, b: u8) {}), "`#[background_worker(interval = …)]` calls the fn with no arguments; remove them, or use `#[background_worker(queue)]` to pass each queued item as the only argument"),
        (quote!(delay = 1), quote!(fn f(a: u8) {}), "`#[background_worker(delay = …)]` calls the fn with no arguments; remove them, or use `#[background_worker(queue)]` to pass each queued item as the only argument"),
    ];
    assert_errors(worker_error, cases);
}

#[test]
fn worker_signature_errors() {
    let cases = [
        (quote!(fn f<T>() {}), "`#[background_worker]` cannot be used on a generic fn: a worker runs one concrete executor; remove the generic parameters and name the types"),
        (quote!(fn f() where u8: Copy {}), "`#[background_worker]` cannot be used on a generic fn with a `where` clause: a worker runs one concrete executor; remove the `where` clause"),
        (quote!(fn f(&self) {}), "`#[background_worker]` cannot be used on a method; remove `self`, or, for a worker with state, put the attribute on the `impl` block and name the method `run(&mut self)`"),
        (quote!(const fn f() {}), "`#[background_worker]` cannot be used on a `const fn`; remove `const`"),
        (quote!(unsafe fn f() {}), "`#[background_worker]` cannot be used on an `unsafe fn`; remove `unsafe` and use an `unsafe { … }` block inside the function"),
        (quote!(extern "C" fn f() {}), "`#[background_worker]` cannot be used on an `extern` fn; remove `extern \"C\"`"),
    ];
    assert_errors(
        worker_error,
        cases.map(|(item, expected)| (quote!(), item, expected)),
    );
}

#[test]
fn worker_queue_item_borrow_rules() {
    let reference = "`#[background_worker(queue)]` cannot take a reference as the item: items wait in the queue and move to another thread, so they must be owned; take `String` instead of `&str`";
    let cases = [
        (quote!(fn store(line: &str) {}), reference),
        (quote!(async fn store(line: &str) {}), reference),
        (quote!(impl Log { fn run(&mut self, line: &str) {} }), reference),
        (quote!(fn store(line: Cow<'_, str>) {}), "`#[background_worker(queue)]` cannot take borrowed data (`'_`) as the item: items wait in the queue and move to another thread, so they must be owned; use an owned type"),
    ];
    assert_errors(
        worker_error,
        cases.map(|(item, expected)| (quote!(queue), item, expected)),
    );
    // `'static` items are fine.
    let errors = worker_errors(
        quote!(queue),
        quote!(
            fn label(name: &'static str) {}
        ),
    );
    assert_eq!(errors, Vec::<String>::new());
}

#[test]
fn worker_static_rules() {
    let cases = [
        (quote!(async fn f(x: u8) {}), "`#[background_worker(static)]` cannot be used on an `async fn`; remove `static` or `async`"),
        (quote!(fn f(x: &str) {}), "`#[background_worker(static)]` cannot take a reference: arguments and results are sent to another process; use an owned type such as `String`"),
        (quote!(fn f(x: Cow<'_, str>) {}), "`#[background_worker(static)]` cannot use borrowed data (`'_`): arguments and results are sent to another process; use an owned type"),
        (quote!(fn f(x: String) -> &'static str {}), "`#[background_worker(static)]` cannot return a reference: arguments and results are sent to another process; use an owned type such as `String`"),
    ];
    assert_errors(
        worker_error,
        cases.map(|(item, expected)| (quote!(static, queue), item, expected)),
    );
}

#[test]
fn worker_static_impl() {
    let message = |options: &str, example: &str| {
        format!(
            "`#[background_worker(static)]` cannot be used on an `impl` block: a stateful \
             worker cannot run in the process pool, its state lives in the parent process; \
             remove `static`, or write a worker fn without state: \
             `#[background_worker({options}static)] {example} {{ … }}`"
        )
    };
    let cases = [
        (
            quote!(static),
            quote!(impl Reporter { async fn run(&mut self) {} }),
            message("", "fn tick()"),
        ),
        (
            quote!(static, interval = 1),
            quote!(impl Reporter { fn run(&mut self) {} }),
            message("interval = …, ", "fn tick()"),
        ),
        (
            quote!(delay = 1, static),
            quote!(impl Reporter { fn run(&mut self) {} }),
            message("delay = …, ", "fn tick()"),
        ),
        (
            quote!(static, event),
            quote!(impl Reporter { fn run(&mut self) {} }),
            message("event, ", "fn tick()"),
        ),
        (
            quote!(static, queue),
            quote!(impl Totals { fn run(&mut self, n: &str) {} }),
            message("queue, ", "fn handle(item: Job)"),
        ),
    ];
    assert_errors(worker_error, cases);
}

#[test]
fn worker_item_errors() {
    let expected = |what: &str| {
        format!(
            "`#[background_worker]` cannot be used on {what}; use it on a `fn`, or on an `impl` \
             block with a `run` method"
        )
    };
    let cases = [
        (
            quote!(
                struct Foo {
                    x: u8,
                }
            ),
            "a struct",
        ),
        (
            quote!(
                enum Foo {
                    A,
                }
            ),
            "an enum",
        ),
        (
            quote!(
                trait Foo {}
            ),
            "a trait",
        ),
        (
            quote!(
                static FOO: u8 = 1;
            ),
            "a `static`",
        ),
        (
            quote!(
                mod foo {}
            ),
            "a module",
        ),
    ];
    assert_errors(
        worker_error,
        cases.map(|(item, what)| (quote!(), item, expected(what))),
    );
}

#[test]
fn worker_and_task_on_one_fn() {
    let expected =
        "`#[background_worker]` and `#[background_task]` cannot be used on the same fn: \
                    a worker runs its fn over and over, a task runs it once per call; remove one \
                    of them";
    for attr in [
        quote!(#[background_task]),
        quote!(#[atasker::background_task(priority = Priority::High)]),
    ] {
        let item = quote!(#attr fn tick() {});
        assert_eq!(
            worker_error(quote!(interval = 1), item.clone()),
            expected,
            "{item}"
        );
        let output = worker(quote!(interval = 1), item);
        let attrs = output
            .lines()
            .filter(|line| line.trim_start().starts_with("#["));
        assert!(
            attrs.clone().all(|attr| !attr.contains("background_task")),
            "{output}"
        );
        assert!(
            output.contains("static tick: ::atasker::__private::Lazy<::atasker::Worker>"),
            "{output}"
        );
    }
}

#[test]
fn worker_impl_errors() {
    let w = "`#[background_worker]`";
    let cases = [
        (quote!(), quote!(impl Display for Reporter { fn run(&mut self) {} }), format!("{w} cannot be used on a trait `impl`; put it on an inherent block, `impl Reporter {{ fn run(&mut self) {{ … }} }}`")),
        (quote!(), quote!(impl Reporter { fn tick(&mut self) {} }), format!("{w} on an `impl` block needs a `run` method; add `fn run(&mut self) {{ … }}`")),
        (quote!(queue), quote!(impl Reporter {}), format!("{w} on an `impl` block needs a `run` method; add `fn run(&mut self, item: String) {{ … }}`")),
        (quote!(), quote!(impl<T> Reporter<T> { fn run(&mut self) {} }), format!("{w} cannot be used on a generic `impl` block: a worker runs one concrete executor; remove the generic parameters and name the types")),
        (quote!(), quote!(impl Reporter { fn run<T>(&mut self) {} }), format!("{w} cannot be used on a generic `run` method: a worker runs one concrete executor; remove the generic parameters and name the types")),
        (quote!(), quote!(impl Reporter { fn run(&self) {} }), format!("{w}: `run` must take `&mut self`; write `fn run(&mut self)`")),
        (quote!(), quote!(impl Reporter { fn run(self) {} }), format!("{w}: `run` must take `&mut self`; write `fn run(&mut self)`")),
        (quote!(), quote!(impl Reporter { fn run(self: Box<Self>) {} }), format!("{w}: `run` must take `&mut self`; write `fn run(&mut self)`")),
        (quote!(queue), quote!(impl Reporter { fn run(item: u8) {} }), format!("{w}: `run` must take `&mut self`; write `fn run(&mut self, item: String)`")),
        (quote!(), quote!(impl Reporter { unsafe fn run(&mut self) {} }), format!("{w} cannot be used on an `unsafe fn`; remove `unsafe` and use an `unsafe {{ … }}` block inside the function")),
        (quote!(), quote!(impl Reporter { fn run(&mut self, n: u8) {} }), "`#[background_worker]` calls `run` with no arguments besides `&mut self`; remove them, or use `#[background_worker(queue)]` to pass each queued item as the only argument".to_owned()),
        (quote!(queue), quote!(impl Reporter { fn run(&mut self) {} }), "`#[background_worker(queue)]` passes each queued item to `run`, which must take it as its only argument; write for example `fn run(&mut self, item: String)`".to_owned()),
        (quote!(queue), quote!(impl Reporter { fn run(&mut self, a: u8, b: u8) {} }), "`#[background_worker(queue)]` passes one item per run, so `run` takes exactly one argument besides `&mut self`; put the values in one type, e.g. `(a, b): (u32, String)`, or remove the extra arguments".to_owned()),
    ];
    assert_errors(worker_error, cases);
}

#[test]
fn worker_syntax_errors_do_not_panic() {
    for args in [
        quote!(5),
        quote!(interval =),
        quote!(interval = 1 queue),
        quote!(,),
        quote!(queue,, event),
        quote!(name = ),
    ] {
        let errors = worker_errors(
            args.clone(),
            quote!(
                fn f() {}
            ),
        );
        assert!(!errors.is_empty(), "{args}");
    }
}

#[test]
fn worker_values_inside_a_macro_rules_group() {
    let group = |tokens| proc_macro2::Group::new(proc_macro2::Delimiter::None, tokens);
    let (one, name, eight) = (group(quote!(1)), group(quote!("n")), group(quote!(8)));
    let output = worker(
        quote!(queue, capacity = #eight, name = #name),
        quote!(
            fn f(n: u8) {}
        ),
    );
    assert!(
        output.contains("capacity: ::core::option::Option::Some(8)"),
        "{output}"
    );
    assert!(output.contains(r#"name: "n""#), "{output}");
    let output = worker(
        quote!(interval = #one),
        quote!(
            fn f() {}
        ),
    );
    assert!(output.contains("seconds(1f64)"), "{output}");
}
