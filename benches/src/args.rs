//! A tiny argv parser for the bench binaries: flags, `--name value` (or `--name=value`)
//! options, comma-separated lists, and the options every bench binary shares.
//!
//! ```
//! use benches::args::{Argv, CommonArgs};
//! let mut argv = Argv::new(["--json", "--runs", "5", "--only=ping-pong,fan-in-10"]);
//! let common = CommonArgs::parse(&mut argv).unwrap();
//! argv.finish().unwrap();
//! assert!(common.json);
//! assert_eq!(common.runs, 5);
//! assert!(common.wants_workload("fan-in-10"));
//! assert!(!common.wants_workload("spawn-stop"));
//! assert!(common.wants_system("actix"));
//! ```

use std::fmt::Display;
use std::str::FromStr;

/// Why the command line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgError {
    /// An option that takes a value came last.
    #[error("option {0} needs a value")]
    MissingValue(String),
    /// A value did not parse.
    #[error("bad value {value:?} for {name}: {reason}")]
    BadValue {
        /// The option.
        name: String,
        /// What was given.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// Something no option claimed.
    #[error("unknown argument {0:?} (try --help)")]
    Unknown(String),
}

/// The arguments not yet claimed. Each accessor removes what it recognises; [`Argv::finish`]
/// refuses whatever is left.
#[derive(Debug, Clone)]
pub struct Argv {
    args: Vec<String>,
}

impl Argv {
    /// The process's arguments, without the program name.
    pub fn from_env() -> Self {
        Argv::new(std::env::args().skip(1))
    }

    /// These arguments (without a program name).
    pub fn new<S: Into<String>>(args: impl IntoIterator<Item = S>) -> Self {
        Argv {
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// True if the flag `name` (e.g. `--json`) is present; removes every occurrence.
    pub fn flag(&mut self, name: &str) -> bool {
        let before = self.args.len();
        self.args.retain(|a| a != name);
        self.args.len() != before
    }

    /// The raw values of option `name`, in order: `--name value` or `--name=value`.
    pub fn values(&mut self, name: &str) -> Result<Vec<String>, ArgError> {
        let prefix = format!("{name}=");
        let mut values = Vec::new();
        let mut rest = Vec::with_capacity(self.args.len());
        let mut args = std::mem::take(&mut self.args).into_iter();
        while let Some(arg) = args.next() {
            if arg == name {
                match args.next() {
                    Some(value) => values.push(value),
                    None => return Err(ArgError::MissingValue(name.to_string())),
                }
            } else if let Some(value) = arg.strip_prefix(&prefix) {
                values.push(value.to_string());
            } else {
                rest.push(arg);
            }
        }
        self.args = rest;
        Ok(values)
    }

    /// The value of option `name` (the last one if repeated), parsed.
    pub fn value<T>(&mut self, name: &str) -> Result<Option<T>, ArgError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.values(name)?.pop() {
            None => Ok(None),
            Some(value) => value
                .parse()
                .map(Some)
                .map_err(|e: T::Err| ArgError::BadValue {
                    name: name.to_string(),
                    reason: e.to_string(),
                    value,
                }),
        }
    }

    /// The comma-separated items of option `name`, over all its occurrences; `None` if absent.
    pub fn list(&mut self, name: &str) -> Result<Option<Vec<String>>, ArgError> {
        let values = self.values(name)?;
        if values.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            values
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_string)
                .collect(),
        ))
    }

    /// Fails on the first argument nothing claimed.
    pub fn finish(self) -> Result<(), ArgError> {
        match self.args.into_iter().next() {
            Some(arg) => Err(ArgError::Unknown(arg)),
            None => Ok(()),
        }
    }
}

/// The options every bench binary takes.
#[derive(Debug, Clone, PartialEq)]
pub struct CommonArgs {
    /// `--json`: one JSON object per line instead of a table.
    pub json: bool,
    /// `--runs N` (default 3): fresh runs per measurement, of which the median is reported.
    pub runs: usize,
    /// `--only a,b`: the workloads to run (all when absent).
    pub only: Option<Vec<String>>,
    /// `--systems a,b`: the systems to measure (all when absent).
    pub systems: Option<Vec<String>>,
}

impl CommonArgs {
    /// The help text for these options, to include in a binary's `--help`.
    pub const HELP: &'static str = "  --json            one JSON object per line instead of a table
  --runs N          fresh runs per measurement; the median is reported (default 3)
  --only a,b        run only these workloads
  --systems a,b     measure only these systems";

    /// Takes `--json`, `--runs`, `--only` and `--systems` out of `argv`.
    pub fn parse(argv: &mut Argv) -> Result<Self, ArgError> {
        let json = argv.flag("--json");
        let runs = argv.value::<usize>("--runs")?.unwrap_or(3);
        if runs == 0 {
            return Err(ArgError::BadValue {
                name: "--runs".into(),
                value: "0".into(),
                reason: "at least one run is needed".into(),
            });
        }
        Ok(CommonArgs {
            json,
            runs,
            only: argv.list("--only")?,
            systems: argv.list("--systems")?,
        })
    }

    /// True if `workload` was not filtered out by `--only`.
    pub fn wants_workload(&self, workload: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|w| w == workload))
    }

    /// True if `system` was not filtered out by `--systems`.
    pub fn wants_system(&self, system: &str) -> bool {
        self.systems
            .as_ref()
            .is_none_or(|systems| systems.iter().any(|s| s == system))
    }

    /// Fails on a name in `--only` or `--systems` that is not among the known ones (so a
    /// typo does not silently run nothing).
    pub fn check_names(&self, workloads: &[&str], systems: &[&str]) -> Result<(), ArgError> {
        let check = |name: &str, given: &Option<Vec<String>>, known: &[&str]| {
            for item in given.iter().flatten() {
                if !known.contains(&item.as_str()) {
                    return Err(ArgError::BadValue {
                        name: name.to_string(),
                        value: item.clone(),
                        reason: format!("not one of {}", known.join(", ")),
                    });
                }
            }
            Ok(())
        };
        check("--only", &self.only, workloads)?;
        check("--systems", &self.systems, systems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_nothing_given() {
        let mut argv = Argv::new(Vec::<String>::new());
        let common = CommonArgs::parse(&mut argv).unwrap();
        argv.finish().unwrap();
        assert_eq!(
            common,
            CommonArgs {
                json: false,
                runs: 3,
                only: None,
                systems: None
            }
        );
        assert!(common.wants_workload("anything"));
        assert!(common.wants_system("anything"));
    }

    #[test]
    fn lists_split_on_commas_and_accumulate() {
        let mut argv = Argv::new(["--systems", "actix, ractor", "--systems=kameo"]);
        assert_eq!(
            argv.list("--systems").unwrap(),
            Some(vec!["actix".into(), "ractor".into(), "kameo".into()])
        );
        argv.finish().unwrap();
    }

    #[test]
    fn errors_are_specific() {
        let mut argv = Argv::new(["--runs"]);
        assert_eq!(
            CommonArgs::parse(&mut argv),
            Err(ArgError::MissingValue("--runs".into()))
        );
        let mut argv = Argv::new(["--runs", "many"]);
        assert!(matches!(
            CommonArgs::parse(&mut argv),
            Err(ArgError::BadValue { .. })
        ));
        let mut argv = Argv::new(["--runs", "0"]);
        assert!(CommonArgs::parse(&mut argv).is_err());
        let mut argv = Argv::new(["--jsn"]);
        CommonArgs::parse(&mut argv).unwrap();
        assert_eq!(argv.finish(), Err(ArgError::Unknown("--jsn".into())));
    }

    #[test]
    fn unknown_names_in_filters_are_refused() {
        let mut argv = Argv::new(["--only", "ping-pong,pingpong"]);
        let common = CommonArgs::parse(&mut argv).unwrap();
        let err = common.check_names(&["ping-pong"], &["libprocess"]);
        assert!(matches!(err, Err(ArgError::BadValue { value, .. }) if value == "pingpong"));
    }
}
