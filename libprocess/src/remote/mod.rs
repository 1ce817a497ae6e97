//! Remote messages between runtimes, in libprocess's wire format (HTTP/1.1 `POST`s).
//!
//! `inbound`: the receiving fast path of every connection; `outbound`: one persistent
//! connection per peer, with direct writes, batching, links and reconnects; `wire`: the bytes.

pub(crate) mod inbound;
pub(crate) mod outbound;
pub(crate) mod wire;
