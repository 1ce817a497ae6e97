//! `gpu/nvidia` (upstream `NvidiaGpuIsolatorProcess` and `NvidiaGpuAllocator`): finds the
//! host's NVIDIA GPUs through NVML (nvml-wrapper), hands each container the number of GPUs
//! its `gpus` resource asks for, and lets it open only those: in its v1 devices cgroup every
//! GPU (`/dev/nvidia<minor>`) it was not given is denied, the ones it was given and the
//! control devices (`/dev/nvidiactl`, `/dev/nvidia-uvm`, `/dev/nvidia-uvm-tools`,
//! `/dev/nvidia-modeset`) are allowed.
//!
//! Without an NVIDIA driver (NVML cannot be loaded) there are no GPUs and the isolator does
//! nothing: containers that ask for no GPUs launch as usual; one that asks for some is
//! refused, as there are none to give.
//!
//! FIXME: upstream also mounts a volume with the driver's libraries and binaries into the
//! container; not done yet.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use mesos_core::v0::ContainerId;
use tracing::info;

use super::cgroups_devices::{DeviceEntry, devices_hierarchy};
use super::{Isolator, IsolatorError, LaunchInfo};
use crate::containerizer::cgroups::{Cgroup, Hierarchies};
use crate::containerizer::container::{ContainerConfig, RecoverState};
use crate::paths::container_id_string;

/// Its `--isolation` name.
pub const NAME: &str = "gpu/nvidia";

/// The character device major of NVIDIA GPUs.
pub const NVIDIA_MAJOR: u64 = 195;

/// Control devices every GPU container needs (those that exist).
const CONTROL_DEVICES: &[&str] = &[
    "/dev/nvidiactl",
    "/dev/nvidia-uvm",
    "/dev/nvidia-uvm-tools",
    "/dev/nvidia-modeset",
];

/// One GPU as NVML reports it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Gpu {
    /// `/dev/nvidia<minor>`.
    pub minor: u32,
    /// NVML's index.
    pub index: u32,
    /// NVML's UUID.
    pub uuid: String,
}

impl Gpu {
    /// Its device file.
    pub fn device_path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/nvidia{}", self.minor))
    }
}

/// The host's NVIDIA GPUs, or why NVML could not tell (no driver, most often).
pub fn detect() -> Result<Vec<Gpu>, String> {
    let nvml = nvml_wrapper::Nvml::init().map_err(|e| format!("cannot load NVML: {e}"))?;
    let count = nvml
        .device_count()
        .map_err(|e| format!("cannot count GPUs: {e}"))?;
    let mut gpus = Vec::new();
    for index in 0..count {
        let device = nvml
            .device_by_index(index)
            .map_err(|e| format!("cannot open GPU {index}: {e}"))?;
        gpus.push(Gpu {
            index,
            minor: device
                .minor_number()
                .map_err(|e| format!("cannot read the minor number of GPU {index}: {e}"))?,
            uuid: device.uuid().unwrap_or_default(),
        });
    }
    gpus.sort();
    Ok(gpus)
}

/// Allocates GPUs to containers and fences them in.
#[derive(Debug)]
pub struct NvidiaGpuIsolator {
    /// `None` when the host has no GPUs: then the isolator does nothing.
    hierarchies: Option<Hierarchies>,
    root: String,
    gpus: Vec<Gpu>,
    free: BTreeSet<u32>,
    allocated: HashMap<ContainerId, Vec<Gpu>>,
}

impl NvidiaGpuIsolator {
    /// Detects the GPUs; with some, requires the v1 devices controller.
    pub fn new(
        hierarchies: Option<Hierarchies>,
        root: &str,
    ) -> Result<NvidiaGpuIsolator, IsolatorError> {
        let gpus = match detect() {
            Ok(gpus) => gpus,
            Err(reason) => {
                info!(%reason, "no NVIDIA GPUs; gpu/nvidia isolates nothing");
                Vec::new()
            }
        };
        let hierarchies = if gpus.is_empty() {
            None
        } else {
            let h = hierarchies.ok_or_else(|| IsolatorError::Unavailable {
                isolator: NAME,
                reason: "no cgroups hierarchy is mounted".to_owned(),
            })?;
            devices_hierarchy(&h, NAME)?;
            Some(h)
        };
        Ok(NvidiaGpuIsolator {
            hierarchies,
            root: root.to_owned(),
            free: gpus.iter().map(|g| g.minor).collect(),
            gpus,
            allocated: HashMap::new(),
        })
    }

    /// The GPUs on the host.
    pub fn gpus(&self) -> &[Gpu] {
        &self.gpus
    }

    fn cgroup(&self, id: &ContainerId) -> Option<Cgroup> {
        self.hierarchies
            .as_ref()
            .and_then(|h| h.cgroup("devices", &self.root, id))
    }

    fn requested(id: &ContainerId, config: &ContainerConfig) -> Result<usize, IsolatorError> {
        let gpus = config.resources.gpus().unwrap_or(0.0);
        if gpus.fract() != 0.0 || gpus < 0.0 {
            return Err(IsolatorError::Rejected {
                isolator: NAME,
                container_id: container_id_string(id),
                reason: format!("gpus must be a whole number, not {gpus}"),
            });
        }
        Ok(gpus as usize)
    }
}

impl Isolator for NvidiaGpuIsolator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn recover(
        &mut self,
        states: &[RecoverState],
        _orphans: &[ContainerId],
    ) -> Result<(), IsolatorError> {
        // The allocation is what each container's devices cgroup allows.
        for state in states {
            let Some(list) = self
                .cgroup(&state.container_id)
                .and_then(|c| c.read("devices.list").ok())
            else {
                continue;
            };
            let mut mine = Vec::new();
            for line in list.lines() {
                if let Some(('c', Some(NVIDIA_MAJOR), Some(minor))) = DeviceEntry::parse(line)
                    && let Some(gpu) = self.gpus.iter().find(|g| u64::from(g.minor) == minor)
                {
                    self.free.remove(&gpu.minor);
                    mine.push(gpu.clone());
                }
            }
            if !mine.is_empty() {
                self.allocated.insert(state.container_id.clone(), mine);
            }
        }
        Ok(())
    }

    fn prepare(
        &mut self,
        id: &ContainerId,
        config: &ContainerConfig,
    ) -> Result<LaunchInfo, IsolatorError> {
        let requested = Self::requested(id, config)?;
        if requested == 0 {
            return Ok(LaunchInfo::default());
        }
        if self.free.len() < requested {
            return Err(IsolatorError::Rejected {
                isolator: NAME,
                container_id: container_id_string(id),
                reason: format!(
                    "requested {requested} gpus but only {} are available",
                    self.free.len()
                ),
            });
        }
        let minors: Vec<u32> = self.free.iter().take(requested).copied().collect();
        let mut mine = Vec::new();
        for minor in minors {
            self.free.remove(&minor);
            if let Some(gpu) = self.gpus.iter().find(|g| g.minor == minor) {
                mine.push(gpu.clone());
            }
        }
        let mut info = LaunchInfo::default();
        let visible: Vec<String> = mine.iter().map(|g| g.index.to_string()).collect();
        info.environment
            .insert("NVIDIA_VISIBLE_DEVICES".to_owned(), visible.join(","));
        self.allocated.insert(id.clone(), mine);
        Ok(info)
    }

    fn isolate(&mut self, id: &ContainerId, pid: i32) -> Result<(), IsolatorError> {
        let Some(cgroup) = self.cgroup(id) else {
            return Ok(()); // No GPUs on this host: nothing to fence.
        };
        let error = |e| IsolatorError::cgroups(NAME, id, e);
        cgroup.create().map_err(error)?;
        cgroup.add_process(pid).map_err(error)?;
        let mine = self.allocated.get(id).cloned().unwrap_or_default();
        for gpu in &self.gpus {
            let entry = DeviceEntry::char(Some(NVIDIA_MAJOR), Some(u64::from(gpu.minor)), "rwm");
            let file = if mine.contains(gpu) {
                "devices.allow"
            } else {
                "devices.deny"
            };
            cgroup.write(file, &entry.to_string()).map_err(error)?;
        }
        if !mine.is_empty() {
            for path in CONTROL_DEVICES {
                if let Some(entry) = DeviceEntry::of_path(Path::new(path), "rwm") {
                    cgroup
                        .write("devices.allow", &entry.to_string())
                        .map_err(error)?;
                }
            }
        }
        Ok(())
    }

    fn cleanup(&mut self, id: &ContainerId) -> Result<(), IsolatorError> {
        if let Some(mine) = self.allocated.remove(id) {
            self.free.extend(mine.iter().map(|g| g.minor));
        }
        if let Some(cgroup) = self.cgroup(id) {
            cgroup
                .destroy()
                .map_err(|e| IsolatorError::cgroups(NAME, id, e))?;
        }
        Ok(())
    }
}
