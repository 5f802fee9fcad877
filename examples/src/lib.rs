//! Examples for atasker (see the `[[example]]` targets).
