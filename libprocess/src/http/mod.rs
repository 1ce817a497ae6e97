//! HTTP routes of processes, served on the runtime's socket.
//!
//! (Being filled in: routes, delegate, streaming, firewall, authentication, built-ins.)

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::runtime::RtShared;

/// Serves the HTTP requests of a connection; `prefix` holds bytes already read from it.
pub(crate) async fn serve(
    mut stream: TcpStream,
    prefix: BytesMut,
    peer: SocketAddr,
    shared: Arc<RtShared>,
) {
    let _ = (prefix, peer, shared);
    let _ = stream
        .write_all(b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .await;
}
