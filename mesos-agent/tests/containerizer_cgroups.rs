//! The containerizer on real cgroups: cpu shares and CFS quota, memory limits and OOM
//! limitations, the devices allow-list, GPUs without a driver, the linux launcher
//! (freezer tracking, pid namespaces) and recovery of cgroups. Each test skips, saying
//! why, where the host does not let us create cgroups (not root, nothing mounted).

mod support;

use std::path::PathBuf;

use mesos_agent::containerizer::cgroups::{CgroupsVersion, Hierarchies};
use mesos_agent::containerizer::isolators::gpu_nvidia;
use mesos_agent::containerizer::usage::is_alive;
use mesos_agent::containerizer::{ContainerConfig, ExitStatus, LauncherKind, RecoverState};
use mesos_core::resources::Resources;
use mesos_core::v0::TaskState;
use mesos_core::v0::task_status::Reason;
use support::{Fixture, WAIT, eventually, id, read};

fn resources(text: &str) -> Resources {
    Resources::parse(text, "*").expect("resources parse")
}

/// The directory of container `name`'s cgroup for `controller`.
fn cgroup_dir(h: &Hierarchies, fx: &Fixture, controller: &'static str, name: &str) -> PathBuf {
    h.cgroup(controller, &fx.cgroups_root, &id(name))
        .expect("controller mounted")
        .path()
        .to_path_buf()
}

fn procs(dir: &std::path::Path) -> Vec<i32> {
    read(&dir.join("cgroup.procs"))
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn cpu_shares_and_cfs_quota_are_written() {
    let h = require_cgroups!("cpu");
    let mut fx = Fixture::new();
    let c = fx.containerizer(
        fx.builder()
            .isolation("cgroups/cpu")
            .cgroups_enable_cfs(true),
    );
    let config = ContainerConfig::shell("sleep 1000", fx.sandbox("cpu"))
        .with_resources(resources("cpus:0.5;mem:32"));
    c.launch(id("cpu"), config).get().unwrap();
    let pid = c.pid(id("cpu")).get().unwrap().unwrap();
    let dir = cgroup_dir(&h, &fx, "cpu", "cpu");
    match h.version() {
        CgroupsVersion::V1 => {
            assert_eq!(read(&dir.join("cpu.shares")).trim(), "512");
            assert_eq!(read(&dir.join("cpu.cfs_period_us")).trim(), "100000");
            assert_eq!(read(&dir.join("cpu.cfs_quota_us")).trim(), "50000");
        }
        CgroupsVersion::V2 => {
            assert_eq!(read(&dir.join("cpu.max")).trim(), "50000 100000");
        }
    }
    assert!(procs(&dir).contains(&pid));
    if h.version() == CgroupsVersion::V1 && h.has("cpuacct") {
        assert!(procs(&cgroup_dir(&h, &fx, "cpuacct", "cpu")).contains(&pid));
    }

    c.update(id("cpu"), resources("cpus:2;mem:32"))
        .get()
        .unwrap();
    if h.version() == CgroupsVersion::V1 {
        assert_eq!(read(&dir.join("cpu.shares")).trim(), "2048");
        assert_eq!(read(&dir.join("cpu.cfs_quota_us")).trim(), "200000");
    }
    let stats = c.usage(id("cpu")).get().unwrap();
    assert!(stats.cpus_user_time_secs.is_some(), "{stats:?}");
    assert!(stats.cpus_nr_periods.is_some(), "{stats:?}");
    assert_eq!(stats.cpus_limit, Some(2.0));

    c.destroy(id("cpu")).get().unwrap().unwrap();
    assert!(!dir.exists(), "cgroup removed");
    assert!(!is_alive(pid));
}

#[test]
fn memory_limit_is_enforced_and_an_oom_is_a_memory_limitation() {
    let h = require_cgroups!("memory");
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder().isolation("cgroups/mem"));
    let sandbox = fx.sandbox("hog");
    // `dd` reads 256 MB into one buffer: far over the 64 MB limit.
    let config = ContainerConfig::shell(
        "echo start; dd if=/dev/zero of=/dev/null bs=256M count=1; sleep 1000",
        &sandbox,
    )
    .with_resources(resources("cpus:0.1;mem:64"));
    c.launch(id("hog"), config).get().unwrap();
    let termination = c.wait(id("hog")).get().unwrap().expect("known container");
    assert_eq!(termination.reasons, vec![Reason::ContainerLimitationMemory]);
    assert_eq!(termination.state, Some(TaskState::TaskFailed));
    assert!(
        termination
            .message
            .starts_with("Memory limit exceeded: Requested: 64MB"),
        "{}",
        termination.message
    );
    assert_eq!(termination.limitations.len(), 1);
    assert!(!cgroup_dir(&h, &fx, "memory", "hog").exists());
}

#[test]
fn memory_usage_and_limits_are_reported() {
    let h = require_cgroups!("memory", "cpu");
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder().isolation("cgroups/cpu,cgroups/mem"));
    let config = ContainerConfig::shell("sleep 1000", fx.sandbox("mem"))
        .with_resources(resources("cpus:1;mem:96"));
    c.launch(id("mem"), config).get().unwrap();
    let pid = c.pid(id("mem")).get().unwrap().unwrap();
    let memory = cgroup_dir(&h, &fx, "memory", "mem");
    assert!(procs(&memory).contains(&pid));
    if h.version() == CgroupsVersion::V1 {
        assert_eq!(
            read(&memory.join("memory.limit_in_bytes")).trim(),
            (96u64 << 20).to_string()
        );
    }
    let stats = c.usage(id("mem")).get().unwrap();
    assert_eq!(stats.mem_limit_bytes, Some(96 << 20));
    assert!(stats.mem_total_bytes.unwrap() > 0, "{stats:?}");
    assert!(stats.mem_rss_bytes.is_some(), "{stats:?}");
    // Raising the limit is applied at once.
    c.update(id("mem"), resources("cpus:1;mem:128"))
        .get()
        .unwrap();
    if h.version() == CgroupsVersion::V1 {
        assert_eq!(
            read(&memory.join("memory.limit_in_bytes")).trim(),
            (128u64 << 20).to_string()
        );
    }
    c.destroy(id("mem")).get().unwrap().unwrap();
    assert!(!memory.exists());
    assert!(!cgroup_dir(&h, &fx, "cpu", "mem").exists());
}

#[test]
fn devices_isolator_allows_only_the_default_devices() {
    let h = require_cgroups!("devices");
    if h.version() == CgroupsVersion::V2 {
        eprintln!("skipping: cgroups/devices needs cgroups v1");
        return;
    }
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder().isolation("cgroups/devices"));
    let sandbox = fx.sandbox("dev");
    let script = "echo x > /dev/null && echo null-ok; \
                  if head -c 1 /dev/kmsg > /dev/null 2>&1; then echo kmsg-ok; else echo kmsg-denied; fi; \
                  sleep 1000";
    c.launch(id("dev"), ContainerConfig::shell(script, &sandbox))
        .get()
        .unwrap();
    let dir = cgroup_dir(&h, &fx, "devices", "dev");
    let list = read(&dir.join("devices.list"));
    assert!(list.contains("c 1:3 rwm"), "{list}");
    assert!(!list.contains("a *:* rwm"), "{list}");
    assert!(eventually(WAIT, || read(&sandbox.join("stdout")).contains("kmsg")));
    let out = read(&sandbox.join("stdout"));
    assert!(out.contains("null-ok"), "{out}");
    if std::path::Path::new("/dev/kmsg").exists() {
        assert!(out.contains("kmsg-denied"), "{out}");
    }
    c.destroy(id("dev")).get().unwrap().unwrap();
    assert!(!dir.exists());
}

#[test]
fn gpu_isolator_without_a_driver_is_a_no_op() {
    if let Ok(gpus) = gpu_nvidia::detect()
        && !gpus.is_empty()
    {
        eprintln!("skipping: this host has NVIDIA GPUs");
        return;
    }
    let mut fx = Fixture::new();
    // With the devices isolator where the host allows it, alone otherwise: no GPUs means
    // gpu/nvidia needs no cgroups at all.
    let with_devices =
        support::cgroups_allowed(&["devices"]).is_ok_and(|h| h.version() == CgroupsVersion::V1);
    let isolation = if with_devices {
        "cgroups/devices,gpu/nvidia"
    } else {
        "gpu/nvidia"
    };
    let c = fx.containerizer(fx.builder().isolation(isolation));
    c.launch(
        id("plain"),
        ContainerConfig::shell("exit 0", fx.sandbox("plain")),
    )
    .get()
    .unwrap();
    let done = c.wait(id("plain")).get().unwrap().unwrap();
    assert_eq!(done.status, Some(ExitStatus::Exited(0)));

    let wants_gpu = ContainerConfig::shell("exit 0", fx.sandbox("gpu"))
        .with_resources(resources("cpus:1;gpus:1"));
    let failure = c
        .launch(id("gpu"), wants_gpu)
        .get()
        .expect_err("no GPU to give");
    assert!(
        failure.to_string().contains("requested 1 gpus"),
        "{failure}"
    );

    let detected = mesos_agent::resources::HostResources::new(&fx.dir)
        .detect_gpus(true)
        .detect()
        .unwrap();
    assert!(detected.gpus().is_none());
}

#[test]
fn linux_launcher_kills_everything_in_the_freezer_cgroup() {
    let h = require_cgroups!("freezer");
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder().launcher(LauncherKind::Linux));
    let sandbox = fx.sandbox("tree");
    // `setsid` escapes the session, not the cgroup.
    let script = "sleep 1000 & echo $! >> pids; setsid sleep 1000 & echo $! >> pids; wait";
    c.launch(id("tree"), ContainerConfig::shell(script, &sandbox))
        .get()
        .unwrap();
    let pid = c.pid(id("tree")).get().unwrap().unwrap();
    let dir = cgroup_dir(&h, &fx, "freezer", "tree");
    assert!(eventually(WAIT, || read(&sandbox.join("pids"))
        .lines()
        .count()
        == 2));
    let children: Vec<i32> = read(&sandbox.join("pids"))
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let tracked = procs(&dir);
    assert!(tracked.contains(&pid), "{tracked:?}");
    for child in &children {
        assert!(tracked.contains(child), "{child} not in {tracked:?}");
    }
    c.destroy(id("tree")).get().unwrap().unwrap();
    for p in children.iter().chain([&pid]) {
        assert!(!is_alive(*p), "{p} survived");
    }
    assert!(!dir.exists());
}

#[test]
fn pid_namespace_makes_the_task_pid_one() {
    let _h = require_cgroups!("freezer");
    let mut fx = Fixture::new();
    let c = fx.containerizer(
        fx.builder()
            .launcher(LauncherKind::Linux)
            .isolation("namespaces/pid"),
    );
    let sandbox = fx.sandbox("ns");
    let script = "echo pid=$$; sleep 1000 & sleep 0.05; ls /proc | grep -c '^[0-9]*$'; wait";
    c.launch(id("ns"), ContainerConfig::shell(script, &sandbox))
        .get()
        .unwrap();
    assert!(eventually(WAIT, || read(&sandbox.join("stdout"))
        .lines()
        .count()
        >= 2));
    let out = read(&sandbox.join("stdout"));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("pid=1"), "{out}");
    // sh, sleep, ls and grep: only the namespace's processes are visible.
    let visible: usize = lines.next().unwrap().trim().parse().unwrap();
    assert!(visible <= 4, "{out}");
    // The host's /proc was not touched.
    assert!(std::path::Path::new(&format!("/proc/{}", std::process::id())).exists());
    let termination = c.destroy(id("ns")).get().unwrap().unwrap();
    assert_eq!(termination.status, Some(ExitStatus::Signaled(9)));
}

#[test]
fn recovery_destroys_orphan_cgroups_and_keeps_known_containers() {
    let h = require_cgroups!("freezer", "memory");
    let mut fx = Fixture::new();
    let builder = fx
        .builder()
        .launcher(LauncherKind::Linux)
        .isolation("cgroups/mem");
    let first = fx.containerizer(builder.clone());
    for name in ["kept", "orphan"] {
        first
            .launch(
                id(name),
                ContainerConfig::shell("sleep 1000", fx.sandbox(name))
                    .with_resources(resources("mem:64")),
            )
            .get()
            .unwrap();
    }
    let kept = first.pid(id("kept")).get().unwrap().unwrap();
    let orphan = first.pid(id("orphan")).get().unwrap().unwrap();
    first.terminate().get().unwrap();
    // Forget the orphan's runtime directory: only its cgroup tells of it now.
    let _ = std::fs::remove_dir_all(fx.dir.join("runtime/containers/orphan"));

    let second = fx.containerizer(builder);
    second
        .recover(vec![RecoverState {
            container_id: id("kept"),
            pid: Some(kept),
            sandbox: fx.sandbox("kept"),
            resources: resources("mem:64"),
        }])
        .get()
        .unwrap();
    assert!(second.wait(id("orphan")).get().unwrap().is_some());
    assert!(eventually(WAIT, || !is_alive(orphan)));
    assert!(!cgroup_dir(&h, &fx, "freezer", "orphan").exists());
    assert!(!cgroup_dir(&h, &fx, "memory", "orphan").exists());

    assert!(is_alive(kept));
    let stats = second.usage(id("kept")).get().unwrap();
    assert_eq!(stats.mem_limit_bytes, Some(64 << 20));
    second.destroy(id("kept")).get().unwrap().unwrap();
    assert!(!is_alive(kept));
    assert!(!cgroup_dir(&h, &fx, "memory", "kept").exists());
}
