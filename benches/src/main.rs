//! The atasker benchmark (see BENCH.md). Placeholder until the harness lands.
fn main() {}
