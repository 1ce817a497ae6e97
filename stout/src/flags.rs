//! Mesos-style command-line flags on top of `clap`'s derive API (stout's `flags/flags.hpp`).
//!
//! A binary declares its flags as a `#[derive(clap::Parser)]` struct and parses them with [`parse`] or
//! [`try_parse_from`], which add Mesos's conventions on top of clap:
//!
//! * `--name=value`; names are snake_case as in Mesos (`--work_dir`), so put
//!   `#[command(rename_all = "snake_case")]` on the struct. Names are case-insensitive, as in Mesos.
//! * Booleans (`bool` fields): `--name`, `--name=true|false|1|0`, and `--no-name` for false. A `bool`
//!   field defaults to false; give it `#[arg(long, default_value_t = true)]` for a default of true.
//!   `--no-name` on a flag that is not boolean is an error, as in Mesos.
//! * An environment variable fallback `<PREFIX><NAME>` for every long flag (`MESOS_WORK_DIR` for
//!   `--work_dir` with prefix `MESOS_`; the runtime uses `LIBPROCESS_`). The command line wins.
//! * `file:///path` values, read from that file: use [`fetch`] (any `FromStr` type) or
//!   [`resolve_file_value`] (a `String`) as the flag's `value_parser`; for Durations and Bytes,
//!   `value_parser = fetch::<Duration>`.
//!
//! ```
//! use clap::Parser;
//! use stout::{flags, Bytes, Duration};
//!
//! #[derive(Parser, Debug)]
//! #[command(rename_all = "snake_case")]
//! struct AgentFlags {
//!     #[arg(long)]
//!     work_dir: String,
//!     #[arg(long, default_value = "75secs", value_parser = flags::fetch::<Duration>)]
//!     registration_backoff_factor: Duration,
//!     #[arg(long, value_parser = flags::fetch::<Bytes>)]
//!     max_size: Option<Bytes>,
//!     #[arg(long, default_value_t = true)]
//!     hostname_lookup: bool,
//!     #[arg(long)]
//!     strict: bool,
//! }
//!
//! let flags: AgentFlags = flags::try_parse_from(
//!     "MESOS_",
//!     ["mesos-agent", "--work_dir=/var/lib/mesos", "--no-hostname_lookup", "--strict", "--max_size=1GB"],
//! )
//! .unwrap();
//! assert_eq!(flags.work_dir, "/var/lib/mesos");
//! assert!(!flags.hostname_lookup);
//! assert!(flags.strict);
//! assert_eq!(flags.max_size, Some(Bytes::from_gigabytes(1)));
//! assert_eq!(flags.registration_backoff_factor, Duration::from_secs(75));
//! ```
//!
//! Differences from Mesos that remain: environment variable names are matched exactly (Mesos also takes
//! `MESOS_work_dir`), `MESOS_NO_NAME` is not a way to set a boolean to false, and clap also accepts
//! `--name value` for flags that are not boolean.

use std::any::TypeId;
use std::error::Error as StdError;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::str::FromStr;

use clap::{ArgAction, Command, CommandFactory, Parser};

/// The prefix Mesos's master and agent read flags from the environment with.
pub const MESOS_ENV_PREFIX: &str = "MESOS_";
/// The prefix libprocess reads its own flags (`LIBPROCESS_IP`, `LIBPROCESS_PORT`, …) with.
pub const LIBPROCESS_ENV_PREFIX: &str = "LIBPROCESS_";

/// Why a flag's value, or the command line, was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlagError {
    /// `--no-name` names a flag that is not boolean.
    #[error("failed to load non-boolean flag '{name}' via '--no-{name}'")]
    NotBoolean {
        /// The flag's name.
        name: String,
    },
    /// `--no-name=value` with a value.
    #[error("failed to load boolean flag '{name}' via '--no-{name}' with value '{value}'")]
    NegatedWithValue {
        /// The flag's name.
        name: String,
        /// The value given.
        value: String,
    },
    /// A boolean that is not `true`, `false`, `1` or `0`.
    #[error("expecting a boolean (e.g., true or false), got '{value}'")]
    InvalidBool {
        /// The value given.
        value: String,
    },
    /// A `file://` value whose file could not be read.
    #[error("error reading file '{}': {source}", .path.display())]
    ReadFile {
        /// The file named by the value.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// A `file://` value whose file is not UTF-8.
    #[error("file '{}' is not valid UTF-8", .path.display())]
    NotUtf8 {
        /// The file named by the value.
        path: PathBuf,
    },
    /// The value (read from its file, for a `file://` value) did not parse.
    #[error("{source}")]
    Parse {
        /// The value's own parse error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// Resolves a `file://` value to the file's contents, as Mesos does for most flags; any other value
/// comes back unchanged.
///
/// `file:///etc/mesos/credentials` reads `/etc/mesos/credentials`; `file://relative` reads `relative`
/// from the working directory, as Mesos does. The contents are returned as they are, trailing newline
/// included.
pub fn resolve_file_value(value: &str) -> Result<String, FlagError> {
    let Some(path) = value.strip_prefix("file://") else {
        return Ok(value.to_owned());
    };
    let path = PathBuf::from(path);
    let contents = std::fs::read(&path).map_err(|source| FlagError::ReadFile {
        path: path.clone(),
        source,
    })?;
    String::from_utf8(contents).map_err(|_| FlagError::NotUtf8 { path })
}

/// A `value_parser` for any `FromStr` type that also accepts `file://` values: the file's contents,
/// less surrounding whitespace, are parsed instead (Mesos parses them as they are, so a file holding
/// `10secs\n` fails there and works here).
///
/// ```
/// let timeout: stout::Duration = stout::flags::fetch("10secs").unwrap();
/// assert_eq!(timeout, stout::Duration::from_secs(10));
/// ```
pub fn fetch<T>(value: &str) -> Result<T, FlagError>
where
    T: FromStr,
    T::Err: StdError + Send + Sync + 'static,
{
    let parse = |s: &str| {
        s.parse::<T>().map_err(|e| FlagError::Parse {
            source: Box::new(e),
        })
    };
    if value.starts_with("file://") {
        parse(resolve_file_value(value)?.trim())
    } else {
        parse(value)
    }
}

/// A `value_parser` for booleans the way Mesos reads them: `true`/`1` and `false`/`0`, and the
/// empty value as `true` (Mesos loads `--name=` and an empty `MESOS_NAME` as true).
pub fn parse_bool(value: &str) -> Result<bool, FlagError> {
    match value {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(FlagError::InvalidBool {
            value: value.to_owned(),
        }),
    }
}

/// The environment variable Mesos reads flag `name` from: `env_var_name("MESOS_", "work_dir")` is
/// `MESOS_WORK_DIR`.
pub fn env_var_name(prefix: &str, name: &str) -> String {
    format!("{prefix}{}", name.to_ascii_uppercase().replace('-', "_"))
}

/// `T`'s clap command, adjusted to Mesos's conventions: every long flag without an explicit `env`
/// gets `<env_prefix><NAME>` (its value hidden from `--help`), and every boolean flag (`bool` or
/// `Option<bool>`) takes an optional `=value`: `--name`, `--name=false`, `--name=0`.
///
/// Use it with [`normalize_args`] when [`try_parse_from`] does not fit (subcommands, say).
pub fn command<T: CommandFactory>(env_prefix: &str) -> Command {
    T::command().mut_args(|mut arg| {
        let Some(long) = arg.get_long().map(str::to_owned) else {
            return arg;
        };
        if arg.get_env().is_none() {
            // Hide the values: `--help` would otherwise print secrets such as credentials.
            arg = arg
                .env(env_var_name(env_prefix, &long))
                .hide_env_values(true);
        }
        if is_bool(&arg) {
            // A plain `bool` (derive gives it `SetTrue`) defaults to false unless the struct gives a
            // default; clap adds that implicit "false" only when it builds the command, so add it
            // here. An `Option<bool>` stays `None` when absent.
            let unset = matches!(arg.get_action(), ArgAction::SetTrue)
                && arg.get_default_values().is_empty();
            arg = arg
                .action(ArgAction::Set)
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .value_parser(parse_bool);
            if unset {
                arg = arg.default_value("false");
            }
        }
        arg
    })
}

/// Whether clap parses `arg` into a `bool`.
fn is_bool(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue)
        || arg.get_value_parser().type_id() == TypeId::of::<bool>()
}

/// Rewrites Mesos-only argv forms into ones clap understands: `--no-name` becomes `--name=false` for
/// a boolean flag of `cmd` (and is an error for another known flag), and flag names are lower-cased.
/// `args` includes the program name; everything after a bare `--` is left alone.
pub fn normalize_args<I, S>(cmd: &Command, args: I) -> Result<Vec<OsString>, FlagError>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let flags: Vec<(String, bool)> = cmd
        .get_arguments()
        .filter_map(|arg| Some((arg.get_long()?.to_owned(), is_bool(arg))))
        .collect();
    let lookup = |name: &str| {
        flags
            .iter()
            .find(|(long, _)| long == name)
            .map(|&(_, boolean)| boolean)
    };

    let mut out = Vec::new();
    let mut args = args.into_iter().map(Into::into);
    out.extend(args.next()); // The program name.
    for arg in args.by_ref() {
        if arg == OsStr::new("--") {
            out.push(arg);
            break;
        }
        let Some(flag) = arg.to_str().and_then(|s| s.strip_prefix("--")) else {
            out.push(arg);
            continue;
        };
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name.to_ascii_lowercase(), Some(value)),
            None => (flag.to_ascii_lowercase(), None),
        };
        if lookup(&name).is_none() {
            if let Some(negated) = name.strip_prefix("no-") {
                match (lookup(negated), value) {
                    (Some(true), None | Some("")) => {
                        out.push(format!("--{negated}=false").into());
                        continue;
                    }
                    (Some(true), Some(value)) => {
                        return Err(FlagError::NegatedWithValue {
                            name: negated.to_owned(),
                            value: value.to_owned(),
                        });
                    }
                    (Some(false), _) => {
                        return Err(FlagError::NotBoolean {
                            name: negated.to_owned(),
                        });
                    }
                    (None, _) => {}
                }
            }
            // Unknown: leave it to clap to report.
            out.push(arg);
            continue;
        }
        out.push(match value {
            Some(value) => format!("--{name}={value}").into(),
            None => format!("--{name}").into(),
        });
    }
    out.extend(args);
    Ok(out)
}

/// Parses `T`'s flags from `args` (program name first) and the environment, the Mesos way (see the
/// module docs). Errors are clap's, ready for `.exit()`.
pub fn try_parse_from<T, I, S>(env_prefix: &str, args: I) -> Result<T, clap::Error>
where
    T: Parser,
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let mut cmd = command::<T>(env_prefix);
    let args = normalize_args(&cmd, args)
        .map_err(|e| cmd.error(clap::error::ErrorKind::ValueValidation, e))?;
    let matches = cmd.try_get_matches_from_mut(args)?;
    T::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// Parses `T`'s flags from the process's arguments and environment, the Mesos way; on an error (or
/// `--help`) prints clap's message and exits.
pub fn parse<T: Parser>(env_prefix: &str) -> T {
    try_parse_from(env_prefix, std::env::args_os()).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bytes, Duration};

    #[derive(Parser, Debug)]
    #[command(name = "test-agent", rename_all = "snake_case")]
    struct TestFlags {
        /// Where the agent keeps its state.
        #[arg(long)]
        work_dir: Option<String>,
        #[arg(long, default_value = "1mins", value_parser = fetch::<Duration>)]
        executor_registration_timeout: Duration,
        #[arg(long, value_parser = fetch::<Bytes>)]
        max_size: Option<Bytes>,
        #[arg(long, value_parser = resolve_file_value)]
        credentials: Option<String>,
        #[arg(long, default_value_t = true)]
        hostname_lookup: bool,
        #[arg(long)]
        strict: bool,
        #[arg(long)]
        checkpoint: Option<bool>,
        #[arg(long, default_value_t = 5051)]
        port: u16,
    }

    fn parse_args(args: &[&str]) -> Result<TestFlags, clap::Error> {
        // A prefix no real environment sets, so the tests do not depend on the machine.
        let argv = std::iter::once("test-agent").chain(args.iter().copied());
        try_parse_from("STOUT_FLAGS_TEST_NOBODY_", argv)
    }

    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("stout-flags-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn defaults() {
        let flags = parse_args(&[]).unwrap();
        assert_eq!(flags.work_dir, None);
        assert_eq!(flags.executor_registration_timeout, Duration::from_mins(1));
        assert!(flags.hostname_lookup);
        assert!(!flags.strict);
        assert_eq!(flags.checkpoint, None);
        assert_eq!(flags.port, 5051);
    }

    #[test]
    fn name_equals_value() {
        let flags = parse_args(&[
            "--work_dir=/tmp/mesos",
            "--executor_registration_timeout=0.5secs",
            "--max_size=512MB",
            "--port=5052",
        ])
        .unwrap();
        assert_eq!(flags.work_dir.as_deref(), Some("/tmp/mesos"));
        assert_eq!(
            flags.executor_registration_timeout,
            Duration::from_millis(500)
        );
        assert_eq!(flags.max_size, Some(Bytes::from_megabytes(512)));
        assert_eq!(flags.port, 5052);
    }

    #[test]
    fn names_are_case_insensitive() {
        let flags = parse_args(&["--WORK_DIR=/x", "--No-Hostname_Lookup"]).unwrap();
        assert_eq!(flags.work_dir.as_deref(), Some("/x"));
        assert!(!flags.hostname_lookup);
    }

    #[test]
    fn booleans_take_every_mesos_form() {
        let strict = |args: &[&str]| parse_args(args).unwrap().strict;
        let lookup = |args: &[&str]| parse_args(args).unwrap().hostname_lookup;
        assert!(strict(&["--strict"]));
        assert!(strict(&["--strict=true"]));
        assert!(strict(&["--strict=1"]));
        assert!(strict(&["--strict="]));
        assert!(!strict(&["--strict=false"]));
        assert!(!strict(&["--strict=0"]));
        assert!(!strict(&["--no-strict"]));
        assert!(!strict(&["--no-strict="]));
        assert!(lookup(&["--hostname_lookup"]));
        assert!(!lookup(&["--hostname_lookup=false"]));
        assert!(!lookup(&["--no-hostname_lookup"]));
        let checkpoint = |args: &[&str]| parse_args(args).unwrap().checkpoint;
        assert_eq!(checkpoint(&["--checkpoint"]), Some(true));
        assert_eq!(checkpoint(&["--no-checkpoint"]), Some(false));
        assert_eq!(checkpoint(&["--checkpoint=0"]), Some(false));
        // `--name` never takes the next argument as its value.
        assert!(parse_args(&["--strict", "false"]).is_err());
    }

    #[test]
    fn rejects_what_mesos_rejects() {
        let err = parse_args(&["--no-port"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("failed to load non-boolean flag 'port' via '--no-port'"),
            "{err}"
        );
        let err = parse_args(&["--no-strict=true"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("via '--no-strict' with value 'true'"),
            "{err}"
        );
        let err = parse_args(&["--strict=yes"]).unwrap_err();
        assert!(err.to_string().contains("expecting a boolean"), "{err}");
        let err = parse_args(&["--executor_registration_timeout=10"]).unwrap_err();
        assert!(err.to_string().contains("invalid duration '10'"), "{err}");
        let err = parse_args(&["--max_size=1.5GB"]).unwrap_err();
        assert!(
            err.to_string().contains("fractional bytes '1.5GB'"),
            "{err}"
        );
        // Duplicates, as Mesos's master and agent load flags with `duplicates = false`.
        assert!(parse_args(&["--port=1", "--port=2"]).is_err());
        assert!(parse_args(&["--strict", "--no-strict"]).is_err());
        assert!(parse_args(&["--no-such_flag=1"]).is_err());
        assert!(parse_args(&["--no-such_flag"]).is_err());
    }

    #[test]
    fn file_values_are_read_from_the_file() {
        let credentials = temp_file("credentials", "{\"credentials\": []}\n");
        let timeout = temp_file("timeout", "10secs\n");
        let flags = parse_args(&[
            &format!("--credentials=file://{}", credentials.display()),
            &format!(
                "--executor_registration_timeout=file://{}",
                timeout.display()
            ),
        ])
        .unwrap();
        assert_eq!(
            flags.credentials.as_deref(),
            Some("{\"credentials\": []}\n")
        );
        assert_eq!(flags.executor_registration_timeout, Duration::from_secs(10));
        std::fs::remove_file(credentials).unwrap();
        std::fs::remove_file(timeout).unwrap();

        let err = parse_args(&["--credentials=file:///nonexistent/stout/credentials"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("error reading file '/nonexistent/stout/credentials'"),
            "{err}"
        );
    }

    #[test]
    fn resolve_file_value_passes_other_values_through() {
        assert_eq!(resolve_file_value("secret").unwrap(), "secret");
        assert_eq!(resolve_file_value("/etc/passwd").unwrap(), "/etc/passwd");
        assert!(matches!(
            resolve_file_value("file:///nonexistent/x"),
            Err(FlagError::ReadFile { .. })
        ));
    }

    #[test]
    fn environment_fallback_with_a_per_binary_prefix() {
        let cmd = command::<TestFlags>("MESOS_");
        let env = |long: &str| {
            cmd.get_arguments()
                .find(|a| a.get_long() == Some(long))
                .and_then(|a| a.get_env())
                .map(|e| e.to_string_lossy().into_owned())
        };
        assert_eq!(env("work_dir").as_deref(), Some("MESOS_WORK_DIR"));
        assert_eq!(
            env("hostname_lookup").as_deref(),
            Some("MESOS_HOSTNAME_LOOKUP")
        );
        assert_eq!(
            env_var_name(LIBPROCESS_ENV_PREFIX, "port"),
            "LIBPROCESS_PORT"
        );
    }

    /// Set by [`environment_variables_are_read`] in the child process it starts.
    const CHILD_MARKER: &str = "STOUT_FLAGS_TEST_CHILD";

    #[test]
    fn environment_variables_are_read() {
        // Setting variables in this process needs `unsafe` (edition 2024), so run a child test with them.
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "flags::tests::environment_child", "--nocapture"])
            .env(CHILD_MARKER, "1")
            .env("STOUT_TEST_WORK_DIR", "/from/env")
            .env("STOUT_TEST_HOSTNAME_LOOKUP", "false")
            .env("STOUT_TEST_STRICT", "") // Empty means true for a boolean, as in Mesos.
            .env("STOUT_TEST_MAX_SIZE", "2GB")
            .env("STOUT_TEST_PORT", "6000")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("1 passed"), "{stdout}");
    }

    /// Does its work only when started by [`environment_variables_are_read`].
    #[test]
    fn environment_child() {
        if std::env::var_os(CHILD_MARKER).is_none() {
            return;
        }
        let flags: TestFlags =
            try_parse_from("STOUT_TEST_", ["test-agent", "--port=7000"]).unwrap();
        assert_eq!(flags.work_dir.as_deref(), Some("/from/env"));
        assert!(!flags.hostname_lookup);
        assert!(flags.strict);
        assert_eq!(flags.max_size, Some(Bytes::from_gigabytes(2)));
        // The command line wins over the environment.
        assert_eq!(flags.port, 7000);
    }

    #[test]
    fn help_shows_snake_case_names_and_environment_variables() {
        let err = parse_args(&["--help"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
        let help = err.to_string();
        assert!(help.contains("--work_dir <WORK_DIR>"), "{help}");
        assert!(
            help.contains("[env: STOUT_FLAGS_TEST_NOBODY_WORK_DIR]"),
            "{help}"
        );
        assert!(
            help.contains("--hostname_lookup[=<HOSTNAME_LOOKUP>]"),
            "{help}"
        );
    }

    #[test]
    fn normalize_leaves_positional_and_trailing_arguments_alone() {
        let cmd = command::<TestFlags>("MESOS_");
        let args =
            normalize_args(&cmd, ["prog", "pos", "--no-strict", "--", "--no-strict"]).unwrap();
        assert_eq!(args, ["prog", "pos", "--strict=false", "--", "--no-strict"]);
    }
}
