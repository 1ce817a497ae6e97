//! [`Request`] as a route handler sees it, the [`Body`] of requests and responses, and the
//! percent-decoding rules of libprocess (`http::decode`, `http::query::decode`).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;

use ::http::{HeaderMap, Method, Uri};
use bytes::Bytes;

use super::pipe::PipeReader;

/// The body of a request or a response: whole bytes, or a stream read from a pipe.
#[derive(Clone)]
pub enum Body {
    /// All of it.
    Full(Bytes),
    /// A stream of chunks (request bodies of streaming routes; streamed responses).
    Stream(PipeReader),
}

impl Body {
    /// An empty body.
    pub fn empty() -> Body {
        Body::Full(Bytes::new())
    }

    /// The bytes of a whole body; `None` for a stream.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Body::Full(bytes) => Some(bytes),
            Body::Stream(_) => None,
        }
    }

    /// The reader of a streamed body; `None` for whole bytes.
    pub fn reader(&self) -> Option<&PipeReader> {
        match self {
            Body::Full(_) => None,
            Body::Stream(reader) => Some(reader),
        }
    }

    /// Makes the body a stream (whole bytes become a finished one).
    pub(crate) fn into_stream(self) -> PipeReader {
        match self {
            Body::Full(bytes) => PipeReader::from_bytes(bytes),
            Body::Stream(reader) => reader,
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Full(bytes) => f.debug_tuple("Full").field(&bytes.len()).finish(),
            Body::Stream(reader) => f.debug_tuple("Stream").field(reader).finish(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::Full(bytes)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::Full(bytes.into())
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::Full(text.into())
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body::Full(Bytes::from_static(text.as_bytes()))
    }
}

impl From<PipeReader> for Body {
    fn from(reader: PipeReader) -> Self {
        Body::Stream(reader)
    }
}

/// Why a request target could not be turned into a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The target is not a valid URI.
    #[error("invalid request target {0:?}")]
    InvalidTarget(String),
    /// A `%` escape in the query is malformed.
    #[error("malformed query: {0}")]
    MalformedQuery(String),
}

/// An HTTP request, as a route handler gets it.
///
/// `path` is the path as routed: it starts with the id of the process serving it, also when
/// the client left the id out and the request went to the runtime's delegate (`/state` arrives
/// as `/master/state`). It is not percent-decoded; `query` is.
///
/// ```
/// use libprocess::http::{Method, Request};
/// let request = Request::new(Method::GET, "/master/state?jsonp=cb&x=a%20b").unwrap();
/// assert_eq!(request.path, "/master/state");
/// assert_eq!(request.query("jsonp"), Some("cb"));
/// assert_eq!(request.query("x"), Some("a b"));
/// assert_eq!(request.principal, None);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The request target as the client sent it.
    pub uri: Uri,
    /// The path as routed, `/<process id>/<route>[/...]`, not percent-decoded.
    pub path: String,
    /// The query parameters, percent-decoded (the last of repeated keys wins).
    pub query: HashMap<String, String>,
    /// The headers.
    pub headers: HeaderMap,
    /// The body: whole bytes, or a stream for routes with
    /// [`RouteOptions::request_streaming`](super::RouteOptions::request_streaming).
    pub body: Body,
    /// The client's address, when the request came from the network.
    pub client: Option<SocketAddr>,
    /// The authenticated principal, for routes of a realm that has an authenticator.
    pub principal: Option<String>,
    /// Whether the client keeps the connection open after this request.
    pub keep_alive: bool,
}

impl Request {
    /// A request for `target` (a path with an optional query) with no headers and no body.
    pub fn new(method: Method, target: &str) -> Result<Request, RequestError> {
        let uri: Uri = target
            .parse()
            .map_err(|_| RequestError::InvalidTarget(target.to_string()))?;
        let query = decode_query(uri.query().unwrap_or_default())
            .map_err(|error| RequestError::MalformedQuery(error.to_string()))?;
        Ok(Request {
            method,
            path: uri.path().to_string(),
            uri,
            query,
            headers: HeaderMap::new(),
            body: Body::empty(),
            client: None,
            principal: None,
            keep_alive: true,
        })
    }

    /// The value of header `name`, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// The whole body, for routes that do not stream requests.
    pub fn body_bytes(&self) -> Option<&Bytes> {
        self.body.as_bytes()
    }
}

/// A malformed `%` escape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed % escape in {0:?}")]
pub(crate) struct DecodeError(pub(crate) String);

/// Percent-decodes `s` as libprocess's `http::decode`: `%XX` becomes the byte, `+` a space.
pub(crate) fn decode(s: &str) -> Result<String, DecodeError> {
    if !s.contains(['%', '+']) {
        return Ok(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(high), Some(low)) => out.push((high * 16 + low) as u8),
                    _ => return Err(DecodeError(s.to_string())),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Decodes a query string as libprocess's `http::query::decode`: pairs split on `&` or `;`,
/// key and value percent-decoded, a key without `=` maps to "", the last repeat wins.
pub(crate) fn decode_query(query: &str) -> Result<HashMap<String, String>, DecodeError> {
    let mut result = HashMap::new();
    for token in query.split(['&', ';']).filter(|t| !t.is_empty()) {
        let (key, value) = token.split_once('=').unwrap_or((token, ""));
        result.insert(decode(key)?, decode(value)?);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_libprocess() {
        assert_eq!(decode("slave%281%29").unwrap(), "slave(1)");
        assert_eq!(decode("a+b").unwrap(), "a b");
        assert_eq!(decode("plain").unwrap(), "plain");
        assert!(decode("bad%2").is_err());
        assert!(decode("bad%zz").is_err());
    }

    #[test]
    fn decodes_queries_like_libprocess() {
        let query = decode_query("a=1&b=x%20y;c&a=2").unwrap();
        assert_eq!(query["a"], "2");
        assert_eq!(query["b"], "x y");
        assert_eq!(query["c"], "");
        assert!(decode_query("a=%").is_err());
    }
}
