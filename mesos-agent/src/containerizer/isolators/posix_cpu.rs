//! `posix/cpu` (upstream `PosixCpuIsolatorProcess`): no enforcement; reports the cpu time of
//! the container's process tree from `/proc`.

use std::collections::HashMap;

use libprocess::Future;
use mesos_core::v0::{ContainerId, ResourceStatistics};

use super::{Isolator, IsolatorError};
use crate::containerizer::container::RecoverState;
use crate::containerizer::usage::{UsageKinds, tree_usage};

/// Its `--isolation` name.
pub const NAME: &str = "posix/cpu";

/// Remembers each container's first pid to walk its tree.
#[derive(Debug, Default)]
pub struct PosixCpuIsolator {
    pids: HashMap<ContainerId, i32>,
}

impl PosixCpuIsolator {
    /// An isolator with no containers.
    pub fn new() -> PosixCpuIsolator {
        PosixCpuIsolator::default()
    }
}

impl Isolator for PosixCpuIsolator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn recover(
        &mut self,
        states: &[RecoverState],
        _orphans: &[ContainerId],
    ) -> Result<(), IsolatorError> {
        for state in states {
            if let Some(pid) = state.pid {
                self.pids.insert(state.container_id.clone(), pid);
            }
        }
        Ok(())
    }

    fn isolate(&mut self, id: &ContainerId, pid: i32) -> Result<(), IsolatorError> {
        self.pids.insert(id.clone(), pid);
        Ok(())
    }

    fn usage(&mut self, id: &ContainerId) -> Future<ResourceStatistics> {
        match self.pids.get(id) {
            Some(pid) => Future::ready(tree_usage(
                *pid,
                UsageKinds {
                    cpus: true,
                    mem: false,
                },
            )),
            None => Future::failed(IsolatorError::unknown(NAME, id).to_string()),
        }
    }

    fn cleanup(&mut self, id: &ContainerId) -> Result<(), IsolatorError> {
        self.pids.remove(id);
        Ok(())
    }
}
