//! [`Response`]: what a route handler answers, with builders for the statuses Mesos uses.
//!
//! Bodies built from text get `Content-Type: text/plain; charset=utf-8`, as libprocess's
//! `Response(body, status)`; JSON bodies get `application/json`. `Content-Length` and
//! `Transfer-Encoding` are set by the server from the body (whole bytes or a stream).

use ::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use ::http::{HeaderMap, Method, StatusCode};
use bytes::Bytes;

use super::pipe::PipeReader;
use super::request::Body;

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
const APPLICATION_JSON: &str = "application/json";

/// An HTTP response.
///
/// ```
/// use libprocess::http::{Response, StatusCode};
///
/// let ok = Response::ok("pong");
/// assert_eq!(ok.status, StatusCode::OK);
/// assert_eq!(ok.body_bytes().unwrap(), "pong");
///
/// let state = Response::json(&serde_json::json!({"activated_slaves": 1}));
/// assert_eq!(state.header("content-type"), Some("application/json"));
///
/// let missing = Response::not_found().with_header("x-why", "no such framework");
/// assert_eq!(missing.status, StatusCode::NOT_FOUND);
/// assert_eq!(missing.header("x-why"), Some("no such framework"));
/// ```
#[derive(Clone, Debug)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers (the server adds `Date`, and `Content-Length` or chunked encoding).
    pub headers: HeaderMap,
    /// The body: whole bytes, or a stream the handler keeps writing to.
    pub body: Body,
}

impl Response {
    /// A response with `status`, no headers and no body.
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            headers: HeaderMap::new(),
            body: Body::empty(),
        }
    }

    /// A response with `status` and a plain-text body.
    pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response {
        Response::new(status)
            .with_content_type(TEXT_PLAIN)
            .with_body(Body::Full(body.into()))
    }

    /// `200 OK` with a plain-text body.
    pub fn ok(body: impl Into<Bytes>) -> Response {
        Response::text(StatusCode::OK, body)
    }

    /// `200 OK` with `value` as JSON (`?jsonp=` is applied by the server).
    pub fn json(value: &serde_json::Value) -> Response {
        Response::json_body(value.to_string())
    }

    /// `200 OK` with an already serialised JSON body.
    pub fn json_body(body: impl Into<Bytes>) -> Response {
        Response::new(StatusCode::OK)
            .with_content_type(APPLICATION_JSON)
            .with_body(Body::Full(body.into()))
    }

    /// `200 OK` whose body is streamed from `reader` with chunked transfer encoding.
    ///
    /// ```
    /// use libprocess::http::{Pipe, Response};
    /// let Pipe { writer, reader } = Pipe::new();
    /// let response = Response::stream(reader, "application/recordio");
    /// assert!(response.body.reader().is_some());
    /// writer.write("14\n{\"type\":\"HEARTBEAT\"}");
    /// ```
    pub fn stream(reader: PipeReader, content_type: &str) -> Response {
        Response::new(StatusCode::OK)
            .with_content_type(content_type)
            .with_body(Body::Stream(reader))
    }

    /// `202 Accepted`, no body.
    pub fn accepted() -> Response {
        Response::new(StatusCode::ACCEPTED)
    }

    /// `307 Temporary Redirect` to `location`.
    pub fn temporary_redirect(location: &str) -> Response {
        Response::new(StatusCode::TEMPORARY_REDIRECT).with_header("location", location)
    }

    /// `400 Bad Request` saying why.
    pub fn bad_request(message: impl Into<Bytes>) -> Response {
        Response::text(StatusCode::BAD_REQUEST, message)
    }

    /// `401 Unauthorized` with the `WWW-Authenticate` challenge (e.g.
    /// `Basic realm="mesos-master-readonly"`).
    pub fn unauthorized(challenge: &str) -> Response {
        Response::text(
            StatusCode::UNAUTHORIZED,
            "401 Unauthorized: authentication required",
        )
        .with_header("www-authenticate", challenge)
    }

    /// `403 Forbidden` saying why.
    pub fn forbidden(message: impl Into<Bytes>) -> Response {
        Response::text(StatusCode::FORBIDDEN, message)
    }

    /// `404 Not Found`.
    pub fn not_found() -> Response {
        Response::text(StatusCode::NOT_FOUND, "404 Not Found")
    }

    /// `405 Method Not Allowed` with an `Allow` header, worded as Mesos's `MethodNotAllowed`.
    pub fn method_not_allowed(allowed: &[&str], received: &Method) -> Response {
        let quoted: Vec<String> = allowed.iter().map(|m| format!("'{m}'")).collect();
        Response::text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "Expecting one of {{ {} }}, but received '{received}'",
                quoted.join(", ")
            ),
        )
        .with_header("allow", allowed.join(", "))
    }

    /// `406 Not Acceptable` saying why.
    pub fn not_acceptable(message: impl Into<Bytes>) -> Response {
        Response::text(StatusCode::NOT_ACCEPTABLE, message)
    }

    /// `409 Conflict` saying why.
    pub fn conflict(message: impl Into<Bytes>) -> Response {
        Response::text(StatusCode::CONFLICT, message)
    }

    /// `413 Payload Too Large` saying why.
    pub fn payload_too_large(message: impl Into<Bytes>) -> Response {
        Response::text(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// `415 Unsupported Media Type` saying why.
    pub fn unsupported_media_type(message: impl Into<Bytes>) -> Response {
        Response::text(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// `500 Internal Server Error` saying why.
    pub fn internal_server_error(message: impl Into<Bytes>) -> Response {
        Response::text(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// `501 Not Implemented` saying why.
    pub fn not_implemented(message: impl Into<Bytes>) -> Response {
        Response::text(StatusCode::NOT_IMPLEMENTED, message)
    }

    /// `503 Service Unavailable` saying why.
    pub fn service_unavailable(message: impl Into<Bytes>) -> Response {
        Response::text(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// Sets header `name` (replacing earlier values). A name or value that is not valid in
    /// HTTP is logged and skipped.
    pub fn with_header<K, V>(mut self, name: K, value: V) -> Response
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
            }
            _ => tracing::warn!("invalid response header skipped"),
        }
        self
    }

    /// Sets `Content-Type`.
    pub fn with_content_type(self, content_type: &str) -> Response {
        self.with_header(CONTENT_TYPE, content_type)
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Body>) -> Response {
        self.body = body.into();
        self
    }

    /// The value of header `name`, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The whole body; `None` for a streamed one.
    pub fn body_bytes(&self) -> Option<&Bytes> {
        self.body.as_bytes()
    }

    /// Wraps a `200` JSON body as `callback(<json>)` with `Content-Type: text/javascript`, as
    /// libprocess's `OK(json, jsonp)`. Other responses are returned as they are.
    pub(crate) fn apply_jsonp(mut self, callback: &str) -> Response {
        let is_json = self
            .header("content-type")
            .is_some_and(|ct| ct.starts_with(APPLICATION_JSON));
        if self.status != StatusCode::OK || !is_json {
            return self;
        }
        let Body::Full(json) = &self.body else {
            return self;
        };
        let mut body = Vec::with_capacity(callback.len() + json.len() + 2);
        body.extend_from_slice(callback.as_bytes());
        body.push(b'(');
        body.extend_from_slice(json);
        body.push(b')');
        self.body = Body::Full(body.into());
        self.with_content_type("text/javascript")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonp_wraps_only_ok_json() {
        let wrapped = Response::json(&serde_json::json!({"a": 1})).apply_jsonp("cb");
        assert_eq!(wrapped.body_bytes().unwrap(), "cb({\"a\":1})");
        assert_eq!(wrapped.header("content-type"), Some("text/javascript"));
        let text = Response::ok("x").apply_jsonp("cb");
        assert_eq!(text.body_bytes().unwrap(), "x");
        let error = Response::bad_request("no").apply_jsonp("cb");
        assert_eq!(error.body_bytes().unwrap(), "no");
    }

    #[test]
    fn method_not_allowed_names_the_methods() {
        let response = Response::method_not_allowed(&["POST"], &Method::GET);
        assert_eq!(response.header("allow"), Some("POST"));
        assert_eq!(
            response.body_bytes().unwrap(),
            "Expecting one of { 'POST' }, but received 'GET'"
        );
    }
}
