//! Criterion bench: sorter (filled in by its issue).
fn main() {}
