//! Ping-pong between two local processes (filled in by issue 2).
fn main() {}
