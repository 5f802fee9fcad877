//! What the thread pool and the process pool share: the admission ladder (`ladder.rs`) and
//! the crew of lazily started threads serving one ready queue (`crew.rs`).

pub(crate) mod crew;
pub(crate) mod ladder;
