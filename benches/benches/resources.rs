//! Criterion bench: resources (filled in by its issue).
fn main() {}
