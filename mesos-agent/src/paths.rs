//! The agent's on-disk layout, as Mesos's `src/slave/paths.{hpp,cpp}`: sandboxes under
//! `<work_dir>/slaves/...`, checkpoints under `<work_dir>/meta/...`, and the containerizer's
//! runtime directory (`--runtime_dir`, `src/slave/containerizer/mesos/paths.hpp`).
//!
//! ```text
//! <work_dir>
//! |-- slaves/latest -> <agent_id>                                     (meta only)
//! |-- slaves/<agent_id>/frameworks/<framework_id>/executors/<executor_id>/runs/<container_id>
//! |                                                     runs/latest -> runs/<container_id>
//! `-- meta/
//!     |-- boot_id
//!     `-- slaves/<agent_id>/slave.info
//!         `-- frameworks/<framework_id>/{framework.info, framework.pid}
//!             `-- executors/<executor_id>/executor.info
//!                 `-- runs/<container_id>/{pids/forked.pid, pids/libprocess.pid, http.marker}
//!                     `-- tasks/<task_id>/{task.info, task.updates}
//!
//! <runtime_dir>/containers/<container_id>/{pid, status, termination}
//! ```
//!
//! The directory names are the wire names (`slaves`, not `agents`): tools and operators
//! browse them. Functions take the root they join onto: the work directory for sandboxes,
//! [`meta_root`] of it for checkpoints. Nested container IDs are flattened as Mesos
//! `stringify`s them (`parent.child`) in sandbox paths and nested (`<parent>/containers/<child>`)
//! in runtime paths.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use mesos_core::v0::{ContainerId, ExecutorId, FrameworkId, SlaveId as AgentId, TaskId};

/// `latest`: the symlink to the current agent or executor run.
pub const LATEST_SYMLINK: &str = "latest";
/// `boot_id` under the meta root: the host boot the checkpoint was written in.
pub const BOOT_ID_FILE: &str = "boot_id";
/// `slave.info`: the checkpointed `SlaveInfo`.
pub const AGENT_INFO_FILE: &str = "slave.info";
/// `framework.pid`: the checkpointed scheduler pid.
pub const FRAMEWORK_PID_FILE: &str = "framework.pid";
/// `framework.info`: the checkpointed `FrameworkInfo`.
pub const FRAMEWORK_INFO_FILE: &str = "framework.info";
/// `libprocess.pid`: the executor's libprocess pid (v0 executors).
pub const LIBPROCESS_PID_FILE: &str = "libprocess.pid";
/// `executor.info`: the checkpointed `ExecutorInfo`.
pub const EXECUTOR_INFO_FILE: &str = "executor.info";
/// `executor.sentinel`: marks an executor run whose container is gone.
pub const EXECUTOR_SENTINEL_FILE: &str = "executor.sentinel";
/// `http.marker`: the executor speaks the v1 HTTP executor API.
pub const HTTP_MARKER_FILE: &str = "http.marker";
/// `forked.pid`: the pid of the executor's first process.
pub const FORKED_PID_FILE: &str = "forked.pid";
/// `task.info`: the checkpointed `Task`.
pub const TASK_INFO_FILE: &str = "task.info";
/// `task.updates`: the task's status update stream.
pub const TASK_UPDATES_FILE: &str = "task.updates";
/// `resources.info`: the checkpointed total resources.
pub const RESOURCES_INFO_FILE: &str = "resources.info";

const META_DIR: &str = "meta";
const AGENTS_DIR: &str = "slaves";
const FRAMEWORKS_DIR: &str = "frameworks";
const EXECUTORS_DIR: &str = "executors";
const EXECUTOR_RUNS_DIR: &str = "runs";
const TASKS_DIR: &str = "tasks";
const PIDS_DIR: &str = "pids";
const CONTAINERS_DIR: &str = "containers";

/// `pid` under a container's runtime directory: its first process.
pub const CONTAINER_PID_FILE: &str = "pid";
/// `status` under a container's runtime directory: the wait status of its first process.
pub const CONTAINER_STATUS_FILE: &str = "status";
/// `termination` under a container's runtime directory.
pub const CONTAINER_TERMINATION_FILE: &str = "termination";

/// A container ID as Mesos `stringify`s it in sandbox paths: `parent.child`.
pub fn container_id_string(id: &ContainerId) -> String {
    match &id.parent {
        Some(parent) => format!("{}.{}", container_id_string(parent), id.value),
        None => id.value.clone(),
    }
}

/// `<root>/meta`: where checkpoints live.
pub fn meta_root(work_dir: &Path) -> PathBuf {
    work_dir.join(META_DIR)
}

/// `<root>/slaves`: where sandboxes live.
pub fn sandbox_root(work_dir: &Path) -> PathBuf {
    work_dir.join(AGENTS_DIR)
}

/// `<meta_root>/boot_id`.
pub fn boot_id_path(meta_root: &Path) -> PathBuf {
    meta_root.join(BOOT_ID_FILE)
}

/// `<root>/slaves/latest`.
pub fn latest_agent_path(root: &Path) -> PathBuf {
    root.join(AGENTS_DIR).join(LATEST_SYMLINK)
}

/// `<root>/slaves/<agent_id>`.
pub fn agent_path(root: &Path, agent_id: &AgentId) -> PathBuf {
    root.join(AGENTS_DIR).join(&agent_id.value)
}

/// `<root>/slaves/<agent_id>/slave.info`.
pub fn agent_info_path(root: &Path, agent_id: &AgentId) -> PathBuf {
    agent_path(root, agent_id).join(AGENT_INFO_FILE)
}

/// `<meta_root>/resources/resources.info`: the checkpointed total resources.
pub fn resources_info_path(meta_root: &Path) -> PathBuf {
    meta_root.join("resources").join(RESOURCES_INFO_FILE)
}

/// `<root>/slaves/<agent_id>/frameworks/<framework_id>`.
pub fn framework_path(root: &Path, agent_id: &AgentId, framework_id: &FrameworkId) -> PathBuf {
    agent_path(root, agent_id)
        .join(FRAMEWORKS_DIR)
        .join(&framework_id.value)
}

/// `.../frameworks/<framework_id>/framework.info`.
pub fn framework_info_path(root: &Path, agent_id: &AgentId, framework_id: &FrameworkId) -> PathBuf {
    framework_path(root, agent_id, framework_id).join(FRAMEWORK_INFO_FILE)
}

/// `.../frameworks/<framework_id>/framework.pid`.
pub fn framework_pid_path(root: &Path, agent_id: &AgentId, framework_id: &FrameworkId) -> PathBuf {
    framework_path(root, agent_id, framework_id).join(FRAMEWORK_PID_FILE)
}

/// `.../frameworks/<framework_id>/executors/<executor_id>`.
pub fn executor_path(
    root: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
) -> PathBuf {
    framework_path(root, agent_id, framework_id)
        .join(EXECUTORS_DIR)
        .join(&executor_id.value)
}

/// `.../executors/<executor_id>/executor.info`.
pub fn executor_info_path(
    root: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
) -> PathBuf {
    executor_path(root, agent_id, framework_id, executor_id).join(EXECUTOR_INFO_FILE)
}

/// `.../executors/<executor_id>/runs/<container_id>`: the sandbox (under the work
/// directory) or the run's checkpoints (under the meta root).
pub fn executor_run_path(
    root: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
) -> PathBuf {
    executor_path(root, agent_id, framework_id, executor_id)
        .join(EXECUTOR_RUNS_DIR)
        .join(container_id_string(container_id))
}

/// `.../executors/<executor_id>/runs/latest`.
pub fn executor_latest_run_path(
    root: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
) -> PathBuf {
    executor_path(root, agent_id, framework_id, executor_id)
        .join(EXECUTOR_RUNS_DIR)
        .join(LATEST_SYMLINK)
}

/// `/frameworks/<framework_id>/executors/<executor_id>/runs/latest`: the path the files
/// endpoint shows for the latest run.
pub fn executor_virtual_path(framework_id: &FrameworkId, executor_id: &ExecutorId) -> PathBuf {
    Path::new("/")
        .join(FRAMEWORKS_DIR)
        .join(&framework_id.value)
        .join(EXECUTORS_DIR)
        .join(&executor_id.value)
        .join(EXECUTOR_RUNS_DIR)
        .join(LATEST_SYMLINK)
}

/// `.../runs/<container_id>/http.marker`.
pub fn executor_http_marker_path(
    root: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
) -> PathBuf {
    executor_run_path(root, agent_id, framework_id, executor_id, container_id)
        .join(HTTP_MARKER_FILE)
}

/// `.../runs/<container_id>/executor.sentinel`.
pub fn executor_sentinel_path(
    root: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
) -> PathBuf {
    executor_run_path(root, agent_id, framework_id, executor_id, container_id)
        .join(EXECUTOR_SENTINEL_FILE)
}

/// `.../runs/<container_id>/pids/forked.pid`.
pub fn forked_pid_path(
    root: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
) -> PathBuf {
    executor_run_path(root, agent_id, framework_id, executor_id, container_id)
        .join(PIDS_DIR)
        .join(FORKED_PID_FILE)
}

/// `.../runs/<container_id>/pids/libprocess.pid`.
pub fn libprocess_pid_path(
    root: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
) -> PathBuf {
    executor_run_path(root, agent_id, framework_id, executor_id, container_id)
        .join(PIDS_DIR)
        .join(LIBPROCESS_PID_FILE)
}

/// `.../runs/<container_id>/tasks/<task_id>`.
pub fn task_path(
    root: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
    task_id: &TaskId,
) -> PathBuf {
    executor_run_path(root, agent_id, framework_id, executor_id, container_id)
        .join(TASKS_DIR)
        .join(&task_id.value)
}

/// `.../tasks/<task_id>/task.info`.
pub fn task_info_path(
    root: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
    task_id: &TaskId,
) -> PathBuf {
    task_path(
        root,
        agent_id,
        framework_id,
        executor_id,
        container_id,
        task_id,
    )
    .join(TASK_INFO_FILE)
}

/// `.../tasks/<task_id>/task.updates`.
pub fn task_updates_path(
    root: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
    task_id: &TaskId,
) -> PathBuf {
    task_path(
        root,
        agent_id,
        framework_id,
        executor_id,
        container_id,
        task_id,
    )
    .join(TASK_UPDATES_FILE)
}

/// The IDs an executor run path names (upstream `parseExecutorRunPath`).
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutorRunPath {
    /// The agent.
    pub agent_id: AgentId,
    /// The framework.
    pub framework_id: FrameworkId,
    /// The executor.
    pub executor_id: ExecutorId,
    /// The container (the run).
    pub container_id: ContainerId,
}

/// Parses `<root>/slaves/A/frameworks/F/executors/E/runs/C[/...]` back into its IDs, or
/// `None` if `dir` is not under `root` in that shape.
pub fn parse_executor_run_path(root: &Path, dir: &Path) -> Option<ExecutorRunPath> {
    let rest = dir.strip_prefix(root).ok()?;
    let tokens: Vec<&str> = rest.iter().filter_map(|c| c.to_str()).collect();
    match tokens[..] {
        [
            AGENTS_DIR,
            agent,
            FRAMEWORKS_DIR,
            framework,
            EXECUTORS_DIR,
            executor,
            EXECUTOR_RUNS_DIR,
            container,
            ..,
        ] => Some(ExecutorRunPath {
            agent_id: AgentId {
                value: agent.to_owned(),
            },
            framework_id: FrameworkId {
                value: framework.to_owned(),
            },
            executor_id: ExecutorId {
                value: executor.to_owned(),
            },
            container_id: ContainerId {
                value: container.to_owned(),
                parent: None,
            },
        }),
        _ => None,
    }
}

/// Creates a sandbox directory with mode 0750 (task data is private), owned by `user`
/// when given (upstream `createSandboxDirectory`).
pub fn create_sandbox_directory(directory: &Path, user: Option<&str>) -> io::Result<()> {
    std::fs::create_dir_all(directory)?;
    std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o750))?;
    if let Some(user) = user {
        let found = nix::unistd::User::from_name(user)
            .map_err(io::Error::from)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no user '{user}'")))?;
        if let Err(error) = nix::unistd::chown(directory, Some(found.uid), Some(found.gid)) {
            let _ = std::fs::remove_dir(directory);
            return Err(error.into());
        }
    }
    Ok(())
}

/// Creates the sandbox of an executor run under the work directory and points
/// `runs/latest` at it (upstream `createExecutorDirectory`). Returns the sandbox path.
pub fn create_executor_directory(
    work_dir: &Path,
    agent_id: &AgentId,
    framework_id: &FrameworkId,
    executor_id: &ExecutorId,
    container_id: &ContainerId,
    user: Option<&str>,
) -> io::Result<PathBuf> {
    let directory = executor_run_path(work_dir, agent_id, framework_id, executor_id, container_id);
    create_sandbox_directory(&directory, user)?;
    let latest = executor_latest_run_path(work_dir, agent_id, framework_id, executor_id);
    match std::fs::remove_file(&latest) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    std::os::unix::fs::symlink(&directory, &latest)?;
    Ok(directory)
}

/// `<runtime_dir>/containers/<id>`, nested containers under their parent's
/// `containers/` (upstream `containerizer::paths::getRuntimePath`).
pub fn container_runtime_path(runtime_dir: &Path, container_id: &ContainerId) -> PathBuf {
    let mut chain = Vec::new();
    let mut current = Some(container_id);
    while let Some(id) = current {
        chain.push(id.value.as_str());
        current = id.parent.as_deref();
    }
    let mut path = runtime_dir.to_path_buf();
    for value in chain.iter().rev() {
        path.push(CONTAINERS_DIR);
        path.push(value);
    }
    path
}

/// The top-level container IDs with a runtime directory under `runtime_dir`.
pub fn runtime_container_ids(runtime_dir: &Path) -> io::Result<Vec<ContainerId>> {
    let dir = runtime_dir.join(CONTAINERS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir()
            && let Some(name) = entry.file_name().to_str()
        {
            ids.push(ContainerId {
                value: name.to_owned(),
                parent: None,
            });
        }
    }
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (AgentId, FrameworkId, ExecutorId, ContainerId) {
        (
            AgentId { value: "S1".into() },
            FrameworkId { value: "F1".into() },
            ExecutorId { value: "E1".into() },
            ContainerId {
                value: "C1".into(),
                parent: None,
            },
        )
    }

    #[test]
    fn layout_matches_upstream() {
        let (a, f, e, c) = ids();
        let root = Path::new("/w");
        assert_eq!(
            executor_run_path(root, &a, &f, &e, &c),
            Path::new("/w/slaves/S1/frameworks/F1/executors/E1/runs/C1")
        );
        assert_eq!(
            forked_pid_path(&meta_root(root), &a, &f, &e, &c),
            Path::new("/w/meta/slaves/S1/frameworks/F1/executors/E1/runs/C1/pids/forked.pid")
        );
        let t = TaskId { value: "T".into() };
        assert_eq!(
            task_updates_path(&meta_root(root), &a, &f, &e, &c, &t),
            Path::new("/w/meta/slaves/S1/frameworks/F1/executors/E1/runs/C1/tasks/T/task.updates")
        );
        assert_eq!(
            executor_virtual_path(&f, &e),
            Path::new("/frameworks/F1/executors/E1/runs/latest")
        );
        assert_eq!(latest_agent_path(root), Path::new("/w/slaves/latest"));
    }

    #[test]
    fn run_paths_parse_back() {
        let (a, f, e, c) = ids();
        let root = Path::new("/w");
        let dir = executor_run_path(root, &a, &f, &e, &c).join("stdout");
        let parsed = parse_executor_run_path(root, &dir).expect("parses");
        assert_eq!(parsed.agent_id, a);
        assert_eq!(parsed.container_id, c);
        assert!(parse_executor_run_path(root, Path::new("/w/slaves/S1")).is_none());
        assert!(parse_executor_run_path(Path::new("/x"), &dir).is_none());
    }

    #[test]
    fn nested_ids() {
        let parent = ContainerId {
            value: "P".into(),
            parent: None,
        };
        let child = ContainerId {
            value: "K".into(),
            parent: Some(Box::new(parent)),
        };
        assert_eq!(container_id_string(&child), "P.K");
        assert_eq!(
            container_runtime_path(Path::new("/run"), &child),
            Path::new("/run/containers/P/containers/K")
        );
    }

    #[test]
    fn executor_directory_gets_latest_symlink() {
        let (a, f, e, c) = ids();
        let work = std::env::temp_dir().join(format!("mesos-paths-{}", std::process::id()));
        let dir = create_executor_directory(&work, &a, &f, &e, &c, None).unwrap();
        let latest = executor_latest_run_path(&work, &a, &f, &e);
        assert_eq!(std::fs::read_link(&latest).unwrap(), dir);
        let c2 = ContainerId {
            value: "C2".into(),
            parent: None,
        };
        let dir2 = create_executor_directory(&work, &a, &f, &e, &c2, None).unwrap();
        assert_eq!(std::fs::read_link(&latest).unwrap(), dir2);
        let mode = std::fs::metadata(&dir2).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o750);
        std::fs::remove_dir_all(&work).unwrap();
    }
}
