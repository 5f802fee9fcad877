//! The registry of `static` functions: every `#[background_task(static)]` fn and static
//! worker executor has a [`StaticEntry`] in a linker-gathered slice, addressed on the wire by
//! its index (parent and child run the same executable). The calls the macros make for them
//! are the faces' (`static_api.rs`).

use serde::de::DeserializeOwned;
use serde::Serialize;

/// One `static` task in the registry of the executable: the macro puts one entry per
/// `#[background_task(static)]` function into `ATASKER_STATIC_TASKS_V0_1`.
///
/// Parent and child run the same executable, so the registry has the same order in both;
/// an entry's index in it is its identity on the wire.
#[derive(Debug)]
pub struct StaticEntry {
    /// `module::function`, for diagnostics and the handshake.
    pub name: &'static str,
    /// Runs the function in the child: decodes the argument tuple from the input (all of it),
    /// calls the function and appends the encoded result to the output. `Err`: the arguments
    /// or the result could not cross. Made with [`call_static`].
    pub call: fn(&[u8], &mut Vec<u8>) -> Result<(), String>,
}

/// The registry of `static` tasks, gathered by the linker.
///
/// The name carries the crate's semver-compatible version: two incompatible versions of
/// atasker in one executable get separate registries instead of linkme's duplicate panic.
#[linkme::distributed_slice]
pub static ATASKER_STATIC_TASKS_V0_1: [StaticEntry];

/// The body of a [`StaticEntry::call`]: decodes `A` from all of `input`, calls `f` and
/// appends the encoded result to `out`.
pub fn call_static<A, R>(
    input: &[u8],
    out: &mut Vec<u8>,
    f: impl FnOnce(A) -> R,
) -> Result<(), String>
where
    A: DeserializeOwned,
    R: Serialize,
{
    let args = crate::process_pool::protocol::decode::<A>(input)
        .map_err(|e| format!("the arguments did not cross: {e}"))?;
    let result = f(args);
    crate::process_pool::protocol::encode(&result, out)
        .map_err(|e| format!("the result did not cross: {e}"))
}

/// Every registered static function, in registry order (an entry's index is its position).
pub(crate) fn entries() -> &'static [StaticEntry] {
    &ATASKER_STATIC_TASKS_V0_1
}

/// Where `entry` sits in the registry, if it is registered.
pub(crate) fn index_of(entry: &'static StaticEntry) -> Option<u32> {
    let registry: &[StaticEntry] = &ATASKER_STATIC_TASKS_V0_1;
    let size = std::mem::size_of::<StaticEntry>();
    let offset = (entry as *const StaticEntry as usize).checked_sub(registry.as_ptr() as usize)?;
    let index = offset / size;
    (offset % size == 0 && index < registry.len()).then(|| u32::try_from(index).ok())?
}
