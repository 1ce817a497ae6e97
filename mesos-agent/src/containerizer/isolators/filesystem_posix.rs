//! `filesystem/posix` (upstream `PosixFilesystemIsolatorProcess`): containers share the
//! host's filesystem; the sandbox is their working directory. It makes sure the sandbox
//! exists before launch.
//!
//! FIXME: upstream also links persistent volumes into the sandbox; volumes are not
//! supported yet.

use mesos_core::v0::ContainerId;

use super::{Isolator, IsolatorError, LaunchInfo};
use crate::containerizer::container::ContainerConfig;
use crate::paths;

/// Its `--isolation` name.
pub const NAME: &str = "filesystem/posix";

/// Stateless.
#[derive(Debug, Default)]
pub struct PosixFilesystemIsolator;

impl PosixFilesystemIsolator {
    /// The isolator.
    pub fn new() -> PosixFilesystemIsolator {
        PosixFilesystemIsolator
    }
}

impl Isolator for PosixFilesystemIsolator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(
        &mut self,
        id: &ContainerId,
        config: &ContainerConfig,
    ) -> Result<LaunchInfo, IsolatorError> {
        if !config.sandbox.is_dir() {
            paths::create_sandbox_directory(&config.sandbox, config.effective_user()).map_err(
                |error| IsolatorError::Rejected {
                    isolator: NAME,
                    container_id: paths::container_id_string(id),
                    reason: format!(
                        "cannot create sandbox {}: {error}",
                        config.sandbox.display()
                    ),
                },
            )?;
        }
        Ok(LaunchInfo::default())
    }
}
