//! A small error collector: every stage reports into it, and the macro reports
//! all errors at once (as serde_derive does).

use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;

/// Collects the errors of one macro invocation and knows the macro's name, so
/// that every message can name it.
pub(crate) struct Ctxt {
    /// The macro's name without `#[…]`, e.g. `background_task`.
    name: &'static str,
    errors: Option<syn::Error>,
}

impl Ctxt {
    /// A collector for the macro called `name` (e.g. `background_task`).
    pub(crate) fn new(name: &'static str) -> Self {
        Ctxt { name, errors: None }
    }

    /// The macro as a user writes it: `` `#[background_task]` ``.
    pub(crate) fn attr(&self) -> String {
        format!("`#[{}]`", self.name)
    }

    /// The macro with one option: `` `#[background_task(static)]` ``.
    pub(crate) fn attr_with(&self, option: &str) -> String {
        format!("`#[{}({option})]`", self.name)
    }

    /// Records an error at `span`.
    pub(crate) fn error(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error that covers `tokens` (from their first to their last token).
    pub(crate) fn error_spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error made elsewhere (e.g. by a `syn` parser).
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(errors) => errors.combine(error),
            None => self.errors = Some(error),
        }
    }

    /// `Err` with every recorded error combined, or `Ok` if there was none.
    pub(crate) fn check(self) -> syn::Result<()> {
        match self.errors {
            Some(errors) => Err(errors),
            None => Ok(()),
        }
    }
}
