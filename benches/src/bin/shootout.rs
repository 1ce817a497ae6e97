//! The shootout: our runtime against tokio, actix, ractor and kameo (filled in by issue 2).
fn main() {}
