//! Role names: validation and the hierarchy of roles (Mesos `include/mesos/roles.hpp`).
//!
//! A role is a path of `/`-separated components such as `eng/web`; `*` is the default
//! role, which stands for "unreserved" and may not appear as a component of any other
//! role. Role names end up as directory names on agents (persistent volumes live under
//! `volumes/roles/<role>/`), so each component must be a valid directory name: not `.`
//! or `..`, not starting with `-`, without whitespace or DEL.

use thiserror::Error;

/// The default role: resources of this role are unreserved.
pub const DEFAULT_ROLE: &str = "*";

/// Characters a role component may not contain: whitespace (tab, line feed, vertical tab,
/// form feed, carriage return, space) and DEL (`\x7f`), as upstream's list.
const INVALID_CHARACTERS: &[char] = &['\t', '\n', '\x0b', '\x0c', '\r', ' ', '\x7f'];

/// Why a role name is invalid. Messages follow upstream's `roles::validate`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RoleError {
    /// The role is the empty string (or only slashes).
    #[error("role names cannot be the empty string")]
    Empty,
    /// The role starts with `/`.
    #[error("role '{role}' cannot start with a slash")]
    LeadingSlash {
        /// The offending role.
        role: String,
    },
    /// The role ends with `/`.
    #[error("role '{role}' cannot end with a slash")]
    TrailingSlash {
        /// The offending role.
        role: String,
    },
    /// The role contains `//`, i.e. an empty component.
    #[error("role '{role}' cannot contain two adjacent slashes")]
    AdjacentSlashes {
        /// The offending role.
        role: String,
    },
    /// A component is `.`, `..` or `*`.
    #[error("role '{role}' cannot include '{component}' as a component")]
    ReservedComponent {
        /// The offending role.
        role: String,
        /// The component: `.`, `..` or `*`.
        component: String,
    },
    /// A component starts with `-`.
    #[error("role component '{component}' is invalid because it starts with a dash")]
    LeadingDash {
        /// The offending component.
        component: String,
    },
    /// A component contains whitespace or DEL.
    #[error("role component '{component}' is invalid because it contains backspace or whitespace")]
    InvalidCharacter {
        /// The offending component.
        component: String,
    },
}

/// Validates a role name as upstream `roles::validate` does.
///
/// `*` is valid. Otherwise the role must be a non-empty `/`-separated path whose
/// components are not empty, `.`, `..` or `*`, do not start with `-` and contain no
/// whitespace or DEL.
pub fn validate(role: &str) -> Result<(), RoleError> {
    if role == DEFAULT_ROLE {
        return Ok(());
    }
    if role.starts_with('/') {
        return Err(RoleError::LeadingSlash {
            role: role.to_owned(),
        });
    }
    if role.ends_with('/') {
        return Err(RoleError::TrailingSlash {
            role: role.to_owned(),
        });
    }
    if role.contains("//") {
        return Err(RoleError::AdjacentSlashes {
            role: role.to_owned(),
        });
    }
    if role.is_empty() {
        return Err(RoleError::Empty);
    }
    for component in role.split('/') {
        if matches!(component, "." | ".." | "*") {
            return Err(RoleError::ReservedComponent {
                role: role.to_owned(),
                component: component.to_owned(),
            });
        }
        if component.starts_with('-') {
            return Err(RoleError::LeadingDash {
                component: component.to_owned(),
            });
        }
        if component.contains(INVALID_CHARACTERS) {
            return Err(RoleError::InvalidCharacter {
                component: component.to_owned(),
            });
        }
    }
    Ok(())
}

/// Validates every role of a list, returning the first error.
pub fn validate_all<'a>(roles: impl IntoIterator<Item = &'a str>) -> Result<(), RoleError> {
    roles.into_iter().try_for_each(validate)
}

/// Parses a comma-separated list of roles (`"a,b/c"`), skipping empty tokens, and
/// validates each one (upstream `roles::parse`, used by the master's `--roles` flag).
pub fn parse(text: &str) -> Result<Vec<String>, RoleError> {
    let roles: Vec<String> = text
        .split(',')
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .collect();
    validate_all(roles.iter().map(String::as_str))?;
    Ok(roles)
}

/// Whether `left` is a strict subrole of `right`: a descendant of `right` in the role
/// hierarchy and not `right` itself. `eng/web` is a strict subrole of `eng`; `engine`
/// is not, and neither is `eng` itself.
pub fn is_strict_subrole_of(left: &str, right: &str) -> bool {
    left.len() > right.len() && left.as_bytes()[right.len()] == b'/' && left.starts_with(right)
}

/// Whether `role` is `ancestor` itself or one of its descendants.
pub fn is_subrole_or_self(role: &str, ancestor: &str) -> bool {
    role == ancestor || is_strict_subrole_of(role, ancestor)
}

/// The parent of a role: `eng` for `eng/web`, `None` for a top-level role.
pub fn parent(role: &str) -> Option<&str> {
    role.rfind('/').map(|i| &role[..i])
}

/// The ancestors of a role, nearest first: `a/b/c/d` gives `["a/b/c", "a/b", "a"]`.
/// Assumes the role is valid.
pub fn ancestors(role: &str) -> impl Iterator<Item = &str> + '_ {
    role.char_indices()
        .rev()
        .filter(|&(_, c)| c == '/')
        .map(move |(i, _)| &role[..i])
}

/// The top-level component of a role: `eng` for `eng/web/frontend`.
pub fn root(role: &str) -> &str {
    role.split('/').next().unwrap_or(role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_roles() {
        for role in [
            "*", "foo", "foo/bar", "a/b/c", "foo-bar", "foo.bar", "..foo", "a*b", "é",
        ] {
            assert_eq!(validate(role), Ok(()), "{role}");
        }
    }

    #[test]
    fn invalid_roles() {
        let cases = [
            ("", RoleError::Empty),
            ("/", RoleError::LeadingSlash { role: "/".into() }),
            (
                "/foo",
                RoleError::LeadingSlash {
                    role: "/foo".into(),
                },
            ),
            (
                "foo/",
                RoleError::TrailingSlash {
                    role: "foo/".into(),
                },
            ),
            (
                "a//b",
                RoleError::AdjacentSlashes {
                    role: "a//b".into(),
                },
            ),
            (
                ".",
                RoleError::ReservedComponent {
                    role: ".".into(),
                    component: ".".into(),
                },
            ),
            (
                "a/../b",
                RoleError::ReservedComponent {
                    role: "a/../b".into(),
                    component: "..".into(),
                },
            ),
            (
                "a/*",
                RoleError::ReservedComponent {
                    role: "a/*".into(),
                    component: "*".into(),
                },
            ),
            (
                "-foo",
                RoleError::LeadingDash {
                    component: "-foo".into(),
                },
            ),
            (
                "a/-b",
                RoleError::LeadingDash {
                    component: "-b".into(),
                },
            ),
            (
                "a b",
                RoleError::InvalidCharacter {
                    component: "a b".into(),
                },
            ),
            (
                "a/b\tc",
                RoleError::InvalidCharacter {
                    component: "b\tc".into(),
                },
            ),
            (
                "x\x7f",
                RoleError::InvalidCharacter {
                    component: "x\x7f".into(),
                },
            ),
        ];
        for (role, expected) in cases {
            assert_eq!(validate(role), Err(expected), "{role:?}");
        }
    }

    #[test]
    fn error_messages_are_lowercase() {
        let message = validate("/x").unwrap_err().to_string();
        assert_eq!(message, "role '/x' cannot start with a slash");
    }

    #[test]
    fn parse_list() {
        assert_eq!(parse("a,b/c,,d").unwrap(), vec!["a", "b/c", "d"]);
        assert!(parse("a,-b").is_err());
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn hierarchy_helpers() {
        assert!(is_strict_subrole_of("foo/bar", "foo"));
        assert!(is_strict_subrole_of("foo/bar/baz", "foo"));
        assert!(!is_strict_subrole_of("foo", "foo"));
        assert!(!is_strict_subrole_of("foobar", "foo"));
        assert!(!is_strict_subrole_of("foo", "foo/bar"));
        assert!(is_subrole_or_self("foo", "foo"));
        assert_eq!(parent("a/b/c"), Some("a/b"));
        assert_eq!(parent("a"), None);
        assert_eq!(
            ancestors("a/b/c/d").collect::<Vec<_>>(),
            vec!["a/b/c", "a/b", "a"]
        );
        assert_eq!(ancestors("a").count(), 0);
        assert_eq!(root("a/b/c"), "a");
    }
}
