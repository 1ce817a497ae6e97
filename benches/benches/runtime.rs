//! Criterion bench: runtime (filled in by its issue).
fn main() {}
