//! Compile-time behaviour of the macros, as users see it: every misuse is a
//! compile error at the offending tokens (`tests/ui/*.rs` with their
//! `.stderr`), and correct uses compile and run warning-free (`tests/ui/pass`).
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p atasker --test ui`,
//! then read every one of them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
