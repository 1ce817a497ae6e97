//! `zk://` URLs as Mesos takes them: `zk://[user:password@]host:port[,host:port...]/path`.
//!
//! The credentials, when given, authenticate the session with ZooKeeper's `digest` scheme and
//! make the nodes we create readable by anyone and writable by their creator only (Mesos's
//! ACLs). The path is absolute; a trailing `/` is dropped.

use std::fmt;
use std::str::FromStr;

/// Errors of this crate that are not a store's (see [`crate::StoreError`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ZkError {
    /// The text is not a valid `zk://` URL.
    #[error("invalid ZooKeeper URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },
}

/// A parsed `zk://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ZkUrl {
    credentials: Option<(String, String)>,
    servers: String,
    path: String,
}

impl ZkUrl {
    /// Parses `zk://[user:pass@]host:port[,host:port...]/path`.
    pub fn parse(s: &str) -> Result<ZkUrl, ZkError> {
        let invalid = |reason: &str| ZkError::InvalidUrl {
            url: redact(s),
            reason: reason.to_owned(),
        };
        let text = s.trim();
        let rest = text
            .strip_prefix("zk://")
            .ok_or_else(|| invalid("expecting 'zk://' at the beginning"))?;
        let slash = rest.find('/').ok_or_else(|| {
            invalid("expecting an absolute path after the servers, as in zk://host:2181/mesos")
        })?;
        let (authority, path) = rest.split_at(slash);
        let (credentials, servers) = match authority.rsplit_once('@') {
            Some((credentials, servers)) => {
                let (user, password) = credentials
                    .split_once(':')
                    .ok_or_else(|| invalid("credentials must be 'user:password'"))?;
                if user.is_empty() {
                    return Err(invalid("empty user name in the credentials"));
                }
                (Some((user.to_owned(), password.to_owned())), servers)
            }
            None => (None, authority),
        };
        if servers.is_empty() {
            return Err(invalid("no servers"));
        }
        for server in servers.split(',') {
            let (host, port) = server
                .rsplit_once(':')
                .ok_or_else(|| invalid(&format!("server '{server}' has no ':port'")))?;
            if host.is_empty() || host.chars().any(char::is_whitespace) {
                return Err(invalid(&format!("server '{server}' has no host")));
            }
            if port.parse::<u16>().ok().filter(|p| *p != 0).is_none() {
                return Err(invalid(&format!("server '{server}' has an invalid port")));
            }
        }
        let mut path = path.to_owned();
        while path.len() > 1 && path.ends_with('/') {
            path.pop();
        }
        if path.contains("//") {
            return Err(invalid("empty path component"));
        }
        if path
            .split('/')
            .skip(1)
            .any(|part| part == "." || part == ".." || part.chars().any(char::is_control))
        {
            return Err(invalid(
                "path components '.', '..' and control characters are not allowed",
            ));
        }
        Ok(ZkUrl {
            credentials,
            servers: servers.to_owned(),
            path,
        })
    }

    /// The servers, as ZooKeeper's connect string: `h1:2181,h2:2181`.
    pub fn servers(&self) -> &str {
        &self.servers
    }

    /// The absolute znode path: `/mesos`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `user:password` for the `digest` scheme, when the URL has credentials.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// The same servers and credentials, with `/child` appended to the path.
    pub fn join(&self, child: &str) -> ZkUrl {
        let child = child.trim_matches('/');
        let path = if child.is_empty() {
            self.path.clone()
        } else if self.path == "/" {
            format!("/{child}")
        } else {
            format!("{}/{child}", self.path)
        };
        ZkUrl {
            credentials: self.credentials.clone(),
            servers: self.servers.clone(),
            path,
        }
    }

    /// The path of `child` under this URL's path.
    pub(crate) fn child_path(&self, child: &str) -> String {
        if self.path == "/" {
            format!("/{child}")
        } else {
            format!("{}/{child}", self.path)
        }
    }
}

impl FromStr for ZkUrl {
    type Err = ZkError;

    fn from_str(s: &str) -> Result<ZkUrl, ZkError> {
        ZkUrl::parse(s)
    }
}

impl fmt::Display for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("zk://")?;
        if let Some((user, password)) = &self.credentials {
            write!(f, "{user}:{password}@")?;
        }
        write!(f, "{}{}", self.servers, self.path)
    }
}

impl fmt::Debug for ZkUrl {
    // Never prints the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZkUrl")
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("servers", &self.servers)
            .field("path", &self.path)
            .finish()
    }
}

/// The URL with any password hidden, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
