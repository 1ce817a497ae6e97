//! Named messages: what `send` carries between processes, locally or over the network.

use bytes::Bytes;

use crate::pid::Upid;

/// A named message with a byte body, as libprocess's `MessageEvent`.
///
/// Protobuf messages travel under their full type name (`mesos.internal.PingSlaveMessage`)
/// with the encoded message as the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message name; on the wire, the path after the receiver's id.
    pub name: String,
    /// The sender (may be [`Upid::none`] for messages posted from outside any process).
    pub from: Upid,
    /// The receiver.
    pub to: Upid,
    /// The body.
    pub body: Bytes,
}
