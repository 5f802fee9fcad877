//! A validation rule of its own: the types that cross to another thread or
//! process (a task's arguments and result, a queue worker's item) must own
//! what they hold — no references or borrowed lifetimes but `'static` ones,
//! and, to another process, no `impl Trait`.

use syn::visit::Visit;
use syn::{Lifetime, ReturnType, Signature, Type, TypeImplTrait, TypeReference};

use crate::ctxt::Ctxt;
use crate::item::{type_to_string, typed_inputs};

/// Where the arguments and the result of a task (or a queue worker's item)
/// go, which decides what they may borrow.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Crossing {
    /// `static`: to another process. No references, borrowed lifetimes or
    /// `impl Trait`.
    Process,
    /// A thread or coroutine task: to another thread. Only `'static` borrows.
    Thread,
    /// A queue worker's item: it waits in the queue, then goes to another
    /// thread. Only `'static` borrows.
    Queue,
}

/// The arguments and the result of `sig` must not borrow what the
/// `crossing` cannot take along.
pub(super) fn check_owned_types(sig: &Signature, attr: &str, crossing: Crossing, cx: &mut Ctxt) {
    for arg in typed_inputs(&sig.inputs) {
        check_owned_type(&arg.ty, attr, crossing, Position::Argument, cx);
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        check_owned_type(ty, attr, crossing, Position::Return, cx);
    }
}

/// `ty`, at `position`, must not borrow what the `crossing` cannot take
/// along.
pub(super) fn check_owned_type(
    ty: &Type,
    attr: &str,
    crossing: Crossing,
    position: Position,
    cx: &mut Ctxt,
) {
    OwnedTypes {
        attr,
        crossing,
        position,
        cx,
    }
    .visit_type(ty);
}

/// Where a type appears in a signature.
#[derive(Clone, Copy)]
pub(super) enum Position {
    Argument,
    Return,
}

/// Reports every reference and borrowed lifetime in a type that the
/// `crossing` cannot take along, and (to another process) every `impl Trait`.
struct OwnedTypes<'a> {
    attr: &'a str,
    crossing: Crossing,
    position: Position,
    cx: &'a mut Ctxt,
}

impl OwnedTypes<'_> {
    /// Why the types must be owned, after "cannot take a reference": e.g.
    /// ": the arguments move to another thread, so they must be owned".
    fn why(&self) -> &'static str {
        match (self.crossing, self.position) {
            (Crossing::Process, _) => ": arguments and results are sent to another process",
            (Crossing::Thread, Position::Argument) => {
                ": the arguments move to another thread, so they must be owned"
            }
            (Crossing::Thread, Position::Return) => {
                ": the result comes back from another thread, so it must be owned"
            }
            (Crossing::Queue, _) => {
                " as the item: items wait in the queue and move to another thread, so they \
                 must be owned"
            }
        }
    }
}

impl<'ast> Visit<'ast> for OwnedTypes<'_> {
    fn visit_type_reference(&mut self, reference: &'ast TypeReference) {
        let is_static = reference
            .lifetime
            .as_ref()
            .is_some_and(|lifetime| lifetime.ident == "static");
        if is_static && self.crossing != Crossing::Process {
            // `&'static T` goes anywhere; what it points to may still borrow.
            self.visit_type(&reference.elem);
            return;
        }
        let (attr, why) = (self.attr, self.why());
        let owned = owned_type(&reference.elem);
        let verb = match self.position {
            Position::Argument => "take",
            Position::Return => "return",
        };
        let message = match self.crossing {
            Crossing::Process => format!(
                "{attr} cannot {verb} a reference{why}; use an owned type such as `{owned}`"
            ),
            Crossing::Thread | Crossing::Queue => format!(
                "{attr} cannot {verb} a reference{why}; {verb} `{owned}` instead of `{}`",
                type_to_string(&Type::Reference(reference.clone())),
            ),
        };
        self.cx.error_spanned(reference, message);
        // Not inside: one error per reference is enough.
    }

    fn visit_type_impl_trait(&mut self, impl_trait: &'ast TypeImplTrait) {
        if self.crossing != Crossing::Process {
            syn::visit::visit_type_impl_trait(self, impl_trait);
            return;
        }
        let what = match self.position {
            Position::Argument => "take an `impl Trait` argument",
            Position::Return => "return `impl Trait`",
        };
        self.cx.error_spanned(
            impl_trait,
            format!(
                "{} cannot {what}: a process task needs concrete types; name the type instead",
                self.attr,
            ),
        );
    }

    fn visit_lifetime(&mut self, lifetime: &'ast Lifetime) {
        if lifetime.ident == "static" {
            return;
        }
        let (attr, why) = (self.attr, self.why());
        let verb = match (self.crossing, self.position) {
            (Crossing::Process, _) => "use",
            (Crossing::Thread, Position::Return) => "return",
            (Crossing::Thread | Crossing::Queue, _) => "take",
        };
        let message =
            format!("{attr} cannot {verb} borrowed data (`{lifetime}`){why}; use an owned type");
        self.cx.error_spanned(lifetime, message);
    }
}

/// The owned counterpart of a borrowed type, for messages: `str` → `String`,
/// `[T]` → `Vec<T>`, `Path` → `PathBuf`, otherwise the type itself.
fn owned_type(borrowed: &Type) -> String {
    match borrowed {
        Type::Slice(slice) => format!("Vec<{}>", type_to_string(&slice.elem)),
        Type::TraitObject(_) => format!("Box<{}>", type_to_string(borrowed)),
        Type::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
            match path.path.segments[0].ident.to_string().as_str() {
                "str" => "String".to_owned(),
                "Path" => "PathBuf".to_owned(),
                "OsStr" => "OsString".to_owned(),
                "CStr" => "CString".to_owned(),
                _ => type_to_string(borrowed),
            }
        }
        _ => type_to_string(borrowed),
    }
}
