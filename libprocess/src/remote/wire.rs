//! The bytes of libprocess messages on the wire: encoding requests the way C++ libprocess
//! does, and parsing requests (head and body, `Content-Length` or chunked) incrementally.
//!
//! A message from `from` to `to` named `name` is
//!
//! ```text
//! POST /<to.id>/<name> HTTP/1.1\r\n
//! User-Agent: libprocess/<from>\r\n
//! Libprocess-From: <from>\r\n
//! Connection: Keep-Alive\r\n
//! Host: <to.ip>:<to.port>\r\n
//! Transfer-Encoding: chunked\r\n
//! \r\n
//! <len hex>\r\n<body>\r\n0\r\n\r\n
//! ```
//!
//! with no `Transfer-Encoding` header and nothing after the blank line when the body is empty.

use std::io::Write;

use bytes::{Buf, Bytes, BytesMut};

use crate::message::Message;

/// Headers a request may have before we refuse it.
pub(crate) const MAX_HEADERS: usize = 100;

/// Appends the request that carries `message` to `out`.
pub(crate) fn encode_message(message: &Message, out: &mut Vec<u8>) {
    let from = &message.from;
    let to = &message.to;
    let _ = write!(out, "POST /{}/{} HTTP/1.1\r\n", to.id(), message.name);
    let _ = write!(
        out,
        "User-Agent: libprocess/{from}\r\nLibprocess-From: {from}\r\n"
    );
    let _ = write!(out, "Connection: Keep-Alive\r\nHost: {}\r\n", to.address());
    if message.body.is_empty() {
        out.extend_from_slice(b"\r\n");
    } else {
        let _ = write!(
            out,
            "Transfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            message.body.len()
        );
        out.extend_from_slice(&message.body);
        out.extend_from_slice(b"\r\n0\r\n\r\n");
    }
}

/// Why a request could not be parsed; each maps to the status we answer before closing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WireError {
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    #[error("request head larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(usize),
}

impl WireError {
    pub(crate) fn status_line(&self) -> &'static str {
        match self {
            WireError::Malformed(_) => "400 Bad Request",
            WireError::HeadTooLarge(_) => "431 Request Header Fields Too Large",
            WireError::BodyTooLarge(_) => "413 Payload Too Large",
        }
    }
}

/// A parsed request head: what the message path needs, plus where the body starts.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method_post: bool,
    pub(crate) path: String,
    pub(crate) libprocess_from: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) keep_alive: bool,
    pub(crate) body: BodyKind,
    /// Bytes of the head (request line, headers, blank line).
    pub(crate) head_len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Empty,
    Length(usize),
    Chunked,
}

/// Parses a request head from the front of `buf`; `Ok(None)` if more bytes are needed.
pub(crate) fn parse_head(buf: &[u8], max_head: usize) -> Result<Option<Head>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > max_head {
                Err(WireError::HeadTooLarge(max_head))
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(WireError::HeadTooLarge(max_head)),
        Err(_) => return Err(WireError::Malformed("unparsable request head")),
    };
    if head_len > max_head {
        return Err(WireError::HeadTooLarge(max_head));
    }
    let version_11 = request.version == Some(1);
    let mut head = Head {
        method_post: request.method == Some("POST"),
        path: request.path.unwrap_or("/").to_string(),
        libprocess_from: None,
        user_agent: None,
        keep_alive: version_11,
        body: BodyKind::Empty,
        head_len,
    };
    for header in request.headers.iter() {
        let name = header.name;
        let value = || String::from_utf8_lossy(header.value).trim().to_string();
        if name.eq_ignore_ascii_case("libprocess-from") {
            head.libprocess_from = Some(value());
        } else if name.eq_ignore_ascii_case("user-agent") {
            head.user_agent = Some(value());
        } else if name.eq_ignore_ascii_case("content-length") {
            let length = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(WireError::Malformed("bad Content-Length"))?;
            if head.body != BodyKind::Chunked {
                head.body = if length == 0 {
                    BodyKind::Empty
                } else {
                    BodyKind::Length(length)
                };
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if value().to_ascii_lowercase().ends_with("chunked") {
                head.body = BodyKind::Chunked;
            } else {
                return Err(WireError::Malformed("unsupported Transfer-Encoding"));
            }
        } else if name.eq_ignore_ascii_case("connection") {
            let v = value().to_ascii_lowercase();
            if v.contains("close") {
                head.keep_alive = false;
            } else if v.contains("keep-alive") {
                head.keep_alive = true;
            }
        }
    }
    Ok(Some(head))
}

/// True if the request is a libprocess message: a POST with `Libprocess-From`, or with a
/// `User-Agent` starting with `libprocess/` (older peers).
pub(crate) fn is_message(head: &Head) -> bool {
    head.method_post
        && (head.libprocess_from.is_some()
            || head
                .user_agent
                .as_deref()
                .is_some_and(|ua| ua.starts_with("libprocess/")))
}

/// Looks for a complete body at the front of `buf` (just after the head). Returns the body
/// and how many bytes of `buf` it used, or `Ok(None)` if more bytes are needed.
pub(crate) fn parse_body(
    kind: BodyKind,
    buf: &[u8],
    max_body: usize,
) -> Result<Option<(Bytes, usize)>, WireError> {
    match kind {
        BodyKind::Empty => Ok(Some((Bytes::new(), 0))),
        BodyKind::Length(n) => {
            if n > max_body {
                return Err(WireError::BodyTooLarge(max_body));
            }
            Ok((buf.len() >= n).then(|| (Bytes::copy_from_slice(&buf[..n]), n)))
        }
        BodyKind::Chunked => parse_chunked(buf, max_body),
    }
}

fn parse_chunked(buf: &[u8], max_body: usize) -> Result<Option<(Bytes, usize)>, WireError> {
    // First pass: find the extent without copying, so an incomplete body costs no copy.
    let mut pos = 0;
    let mut total = 0usize;
    let mut chunks: Vec<(usize, usize)> = Vec::new();
    loop {
        let Some(line_end) = find_crlf(&buf[pos..]) else {
            return if buf.len() - pos > 1024 {
                Err(WireError::Malformed("chunk size line too long"))
            } else {
                Ok(None)
            };
        };
        let line = &buf[pos..pos + line_end];
        let size_text = line.split(|&b| b == b';').next().unwrap_or(line);
        let size_text =
            std::str::from_utf8(size_text).map_err(|_| WireError::Malformed("bad chunk size"))?;
        let size = usize::from_str_radix(size_text.trim(), 16)
            .map_err(|_| WireError::Malformed("bad chunk size"))?;
        pos += line_end + 2;
        if size == 0 {
            // Trailers (usually none) end with an empty line.
            loop {
                let Some(end) = find_crlf(&buf[pos..]) else {
                    return Ok(None);
                };
                pos += end + 2;
                if end == 0 {
                    break;
                }
            }
            break;
        }
        total = total
            .checked_add(size)
            .ok_or(WireError::BodyTooLarge(max_body))?;
        if total > max_body {
            return Err(WireError::BodyTooLarge(max_body));
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err(WireError::Malformed("chunk not followed by CRLF"));
        }
        chunks.push((pos, size));
        pos += size + 2;
    }
    let body = match chunks.as_slice() {
        [] => Bytes::new(),
        [(start, size)] => Bytes::copy_from_slice(&buf[*start..start + size]),
        many => {
            let mut body = BytesMut::with_capacity(total);
            for (start, size) in many {
                body.extend_from_slice(&buf[*start..start + size]);
            }
            body.freeze()
        }
    };
    Ok(Some((body, pos)))
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// Splits a message request path `/<id>/<name>` into the percent-decoded receiver id and the
/// message name (which may itself contain `/`).
pub(crate) fn split_message_path(path: &str) -> Option<(String, &str)> {
    let path = path.split('?').next().unwrap_or(path);
    let rest = path.strip_prefix('/')?;
    let (id, name) = rest.split_once('/')?;
    Some((percent_decode(id), name))
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
pub(crate) fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Consumes one HTTP response (status line, headers, `Content-Length` body) from the front
/// of `buf`; returns its status code, or `None` if incomplete.
pub(crate) fn take_response(buf: &mut BytesMut) -> Result<Option<u16>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(WireError::Malformed("unparsable response")),
    };
    let code = response.code.unwrap_or(0);
    let mut length = 0usize;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
        }
    }
    if buf.len() < head_len + length {
        return Ok(None);
    }
    buf.advance(head_len + length);
    Ok(Some(code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pid::Upid;

    fn message(body: &'static [u8]) -> Message {
        Message {
            name: "pong".into(),
            from: "server@127.0.0.1:5151".parse().unwrap(),
            to: "probe@127.0.0.1:35555".parse::<Upid>().unwrap(),
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn encodes_exactly_like_cpp_libprocess() {
        let mut out = Vec::new();
        encode_message(&message(b"hello"), &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "POST /probe/pong HTTP/1.1\r\n\
             User-Agent: libprocess/server@127.0.0.1:5151\r\n\
             Libprocess-From: server@127.0.0.1:5151\r\n\
             Connection: Keep-Alive\r\n\
             Host: 127.0.0.1:35555\r\n\
             Transfer-Encoding: chunked\r\n\r\n\
             5\r\nhello\r\n0\r\n\r\n"
        );
        out.clear();
        encode_message(&message(b""), &mut out);
        assert!(
            std::str::from_utf8(&out)
                .unwrap()
                .ends_with("Host: 127.0.0.1:35555\r\n\r\n")
        );
    }

    #[test]
    fn parses_what_it_encodes_in_any_split() {
        let mut wire = Vec::new();
        encode_message(&message(b"hello world"), &mut wire);
        encode_message(&message(b""), &mut wire);
        for cut in 0..wire.len() {
            let head = parse_head(&wire[..cut], 8192).unwrap();
            if let Some(head) = head {
                let body = parse_body(head.body, &wire[head.head_len..cut], 1 << 20).unwrap();
                if let Some((body, _)) = body {
                    assert_eq!(&body[..], b"hello world");
                }
            }
        }
        let head = parse_head(&wire, 8192).unwrap().unwrap();
        assert!(is_message(&head));
        assert_eq!(
            head.libprocess_from.as_deref(),
            Some("server@127.0.0.1:5151")
        );
        let (body, used) = parse_body(head.body, &wire[head.head_len..], 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(&body[..], b"hello world");
        let rest = &wire[head.head_len + used..];
        let head = parse_head(rest, 8192).unwrap().unwrap();
        assert_eq!(head.body, BodyKind::Empty);
        assert_eq!(head.head_len, rest.len());
    }

    #[test]
    fn multi_chunk_bodies_and_limits() {
        let wire = b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (body, used) = parse_body(BodyKind::Chunked, wire, 100).unwrap().unwrap();
        assert_eq!(&body[..], b"abcde");
        assert_eq!(&wire[used..], b"NEXT");
        assert_eq!(
            parse_body(BodyKind::Chunked, wire, 4),
            Err(WireError::BodyTooLarge(4))
        );
        assert_eq!(
            parse_body(BodyKind::Length(10), b"", 4),
            Err(WireError::BodyTooLarge(4))
        );
        assert!(parse_body(BodyKind::Chunked, b"zz\r\n", 100).is_err());
    }

    #[test]
    fn paths_and_escapes() {
        assert_eq!(
            split_message_path("/slave(1)/mesos.internal.Ping"),
            Some(("slave(1)".into(), "mesos.internal.Ping"))
        );
        assert_eq!(
            split_message_path("/a%28b%29/x/y"),
            Some(("a(b)".into(), "x/y"))
        );
        assert_eq!(split_message_path("/nobody"), None);
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn responses_are_consumed_one_by_one() {
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\n404 Not Found.HTTP/1.1 2"[..],
        );
        assert_eq!(take_response(&mut buf), Ok(Some(202)));
        assert_eq!(take_response(&mut buf), Ok(Some(404)));
        assert_eq!(take_response(&mut buf), Ok(None));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::pid::Upid;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a peer sends, parsing answers or asks for more; it never panics.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(Some(head)) = parse_head(&bytes, 1024) {
                let rest = bytes.get(head.head_len..).unwrap_or_default();
                let _ = parse_body(head.body, rest, 1024);
            }
            let _ = parse_body(BodyKind::Chunked, &bytes, 1024);
            let _ = take_response(&mut BytesMut::from(&bytes[..]));
            let _ = split_message_path(&String::from_utf8_lossy(&bytes));
        }

        /// A stream of messages, cut anywhere, parses back to the same messages.
        #[test]
        fn encoded_streams_parse_back_whatever_the_cut(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..8),
            cut in 0usize..4096,
        ) {
            let from: Upid = "a(1)@127.0.0.1:1".parse().unwrap();
            let to: Upid = "b(2)@127.0.0.1:2".parse().unwrap();
            let mut wire = Vec::new();
            for body in &bodies {
                let message = Message { name: "n".into(), from: from.clone(), to: to.clone(), body: Bytes::from(body.clone()) };
                encode_message(&message, &mut wire);
            }
            let cut = cut.min(wire.len());
            // What a reader holding only the first `cut` bytes can parse is a prefix of the
            // messages; with everything, it is all of them.
            for available in [cut, wire.len()] {
                let mut parsed = Vec::new();
                let mut at = 0;
                while let Ok(Some(head)) = parse_head(&wire[at..available], 8192) {
                    match parse_body(head.body, &wire[at + head.head_len..available], 1 << 20).unwrap() {
                        Some((body, used)) => {
                            parsed.push(body.to_vec());
                            at += head.head_len + used;
                        }
                        None => break,
                    }
                }
                prop_assert_eq!(&parsed[..], &bodies[..parsed.len()]);
                if available == wire.len() {
                    prop_assert_eq!(parsed.len(), bodies.len());
                }
            }
        }
    }
}
