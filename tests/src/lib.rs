//! Behaviour tests for atasker live in `tests/tests/`.
