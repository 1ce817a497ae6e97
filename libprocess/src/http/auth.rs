//! HTTP authentication per realm: the [`Authenticator`] trait and [`BasicAuthenticator`].
//!
//! A route may name a realm ([`RouteOptions::realm`](super::RouteOptions::realm)). When the
//! runtime has an authenticator for that realm ([`Handle::set_authenticator`]), every request
//! to the route is authenticated first: a principal goes into [`Request::principal`]; otherwise
//! the client gets `401` with the authenticator's challenge, or `403`. A realm without an
//! authenticator is served unauthenticated, as Mesos does when HTTP authentication is off.
//! Authentication sees the request's head; the body is read only once it succeeds.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;

use super::request::Request;
use crate::future::Future;
use crate::runtime::Handle;

/// What an [`Authenticator`] concluded about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthenticationOutcome {
    /// Authenticated as this principal.
    Principal(String),
    /// Not authenticated: answer `401` with this `WWW-Authenticate` challenge.
    Unauthorized {
        /// E.g. `Basic realm="mesos-master-readonly"`.
        challenge: String,
    },
    /// Not authenticated and no challenge: answer `403` saying why.
    Forbidden {
        /// Why.
        reason: String,
    },
}

/// Authenticates the HTTP requests of one realm. May be asynchronous (e.g. ask another
/// process with [`call`](crate::call)); a failed future answers `500`.
///
/// ```
/// use libprocess::Future;
/// use libprocess::http::{AuthenticationOutcome, Authenticator, Request};
///
/// /// Lets in whoever sends `X-Token: secret`.
/// struct Token;
/// impl Authenticator for Token {
///     fn authenticate(&self, request: &Request) -> Future<AuthenticationOutcome> {
///         Future::ready(match request.header("x-token") {
///             Some("secret") => AuthenticationOutcome::Principal("token-holder".into()),
///             _ => AuthenticationOutcome::Forbidden { reason: "bad token".into() },
///         })
///     }
///     fn scheme(&self) -> &str { "Token" }
/// }
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// Authenticates `request` (its body may not have been read yet).
    fn authenticate(&self, request: &Request) -> Future<AuthenticationOutcome>;

    /// The scheme, e.g. `Basic`.
    fn scheme(&self) -> &str;
}

/// HTTP Basic authentication against a fixed map of usernames to passwords, as libprocess's
/// `BasicAuthenticator`.
///
/// ```
/// use std::collections::HashMap;
/// use libprocess::http::{AuthenticationOutcome, Authenticator, BasicAuthenticator, Method, Request};
///
/// let auth = BasicAuthenticator::new(
///     "mesos-master-readonly",
///     HashMap::from([("ops".to_string(), "s3cret".to_string())]),
/// );
/// let mut request = Request::new(Method::GET, "/master/state").unwrap();
/// assert_eq!(
///     auth.authenticate(&request).get().unwrap(),
///     AuthenticationOutcome::Unauthorized {
///         challenge: "Basic realm=\"mesos-master-readonly\"".into()
///     }
/// );
/// // "ops:s3cret" in base64.
/// request.headers.insert("authorization", "Basic b3BzOnMzY3JldA==".parse().unwrap());
/// assert_eq!(
///     auth.authenticate(&request).get().unwrap(),
///     AuthenticationOutcome::Principal("ops".into())
/// );
/// ```
#[derive(Debug, Clone)]
pub struct BasicAuthenticator {
    realm: String,
    credentials: HashMap<String, String>,
}

impl BasicAuthenticator {
    /// An authenticator for `realm` that accepts these username/password pairs.
    pub fn new(realm: impl Into<String>, credentials: HashMap<String, String>) -> Self {
        BasicAuthenticator {
            realm: realm.into(),
            credentials,
        }
    }

    fn check(&self, request: &Request) -> Option<String> {
        let header = request.header("authorization")?;
        let mut parts = header.split(' ');
        let (Some("Basic"), Some(encoded), None) = (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        (self.credentials.get(user)? == password).then(|| user.to_string())
    }
}

impl Authenticator for BasicAuthenticator {
    fn authenticate(&self, request: &Request) -> Future<AuthenticationOutcome> {
        Future::ready(match self.check(request) {
            Some(user) => AuthenticationOutcome::Principal(user),
            None => AuthenticationOutcome::Unauthorized {
                challenge: format!("Basic realm=\"{}\"", self.realm),
            },
        })
    }

    fn scheme(&self) -> &str {
        "Basic"
    }
}

impl Handle {
    /// Authenticates requests to routes of `realm` with `authenticator` (replacing any
    /// earlier one for that realm).
    ///
    /// ```
    /// use std::{collections::HashMap, sync::Arc};
    /// use libprocess::{Runtime, http::BasicAuthenticator};
    ///
    /// let runtime = Runtime::new();
    /// let credentials = HashMap::from([("ops".to_string(), "s3cret".to_string())]);
    /// runtime.set_authenticator(
    ///     "mesos-master-readonly",
    ///     Arc::new(BasicAuthenticator::new("mesos-master-readonly", credentials)),
    /// );
    /// runtime.unset_authenticator("mesos-master-readonly");
    /// ```
    pub fn set_authenticator(
        &self,
        realm: impl Into<String>,
        authenticator: Arc<dyn Authenticator>,
    ) {
        self.shared
            .http
            .authenticators
            .write()
            .insert(realm.into(), authenticator);
    }

    /// Serves routes of `realm` unauthenticated again.
    pub fn unset_authenticator(&self, realm: &str) {
        self.shared.http.authenticators.write().remove(realm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::Method;

    fn request(authorization: Option<&str>) -> Request {
        let mut request = Request::new(Method::GET, "/p/r").unwrap();
        if let Some(value) = authorization {
            request
                .headers
                .insert("authorization", value.parse().unwrap());
        }
        request
    }

    #[test]
    fn basic_rejects_what_libprocess_rejects() {
        let auth =
            BasicAuthenticator::new("r", HashMap::from([("u".to_string(), "p:w".to_string())]));
        let encode = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let principal = |req: &Request| match auth.authenticate(req).get().unwrap() {
            AuthenticationOutcome::Principal(p) => Some(p),
            _ => None,
        };
        assert_eq!(principal(&request(None)), None);
        assert_eq!(principal(&request(Some("Bearer x"))), None);
        assert_eq!(principal(&request(Some("Basic !!!"))), None);
        assert_eq!(
            principal(&request(Some(&format!("Basic {}", encode("u:bad"))))),
            None
        );
        assert_eq!(
            principal(&request(Some(&format!("Basic  {}", encode("u:p:w"))))),
            None
        );
        assert_eq!(
            principal(&request(Some(&format!("Basic {}", encode("u:p:w"))))),
            Some("u".into())
        );
    }
}
