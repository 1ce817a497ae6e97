//! The containerizer with the posix launcher and the posix isolators, on real processes:
//! sandboxes and output files, exit statuses, killing process trees, usage, recovery, and
//! `disk/du` on the paused clock.

mod support;

use std::time::Duration;

use mesos_agent::containerizer::{ContainerConfig, ExitStatus};
use mesos_core::resources::Resources;
use mesos_core::v0::task_status::Reason;
use mesos_core::v0::{CommandInfo, TaskState};
use support::{Fixture, WAIT, eventually, id, read, session};

fn resources(text: &str) -> Resources {
    Resources::parse(text, "*").expect("resources parse")
}

#[test]
fn command_runs_in_its_sandbox_with_output_in_files() {
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder());
    let sandbox = fx.sandbox("hello");
    let config = ContainerConfig::shell(
        "echo hello; echo oops >&2; pwd; echo \"$MESOS_SANDBOX|$FOO\"",
        &sandbox,
    )
    .with_env("FOO", "bar");
    c.launch(id("hello"), config).get().expect("launches");
    let termination = c
        .wait(id("hello"))
        .get()
        .expect("waits")
        .expect("known container");
    assert_eq!(termination.status, Some(ExitStatus::Exited(0)));
    assert_eq!(termination.wait_status(), Some(0));
    assert!(termination.reasons.is_empty());
    let sandbox_text = sandbox.display().to_string();
    assert_eq!(
        read(&sandbox.join("stdout")),
        format!("hello\n{sandbox_text}\n{sandbox_text}|bar\n")
    );
    assert_eq!(read(&sandbox.join("stderr")), "oops\n");
    // Gone, but a late wait still gets the termination.
    assert!(c.containers().get().unwrap().is_empty());
    let again = c.wait(id("hello")).get().unwrap().expect("remembered");
    assert_eq!(again.status, Some(ExitStatus::Exited(0)));
}

#[test]
fn wait_reports_exit_codes_and_signals() {
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder());
    c.launch(
        id("three"),
        ContainerConfig::shell("exit 3", fx.sandbox("three")),
    )
    .get()
    .unwrap();
    c.launch(
        id("killed"),
        ContainerConfig::shell("kill -9 $$", fx.sandbox("killed")),
    )
    .get()
    .unwrap();
    let three = c.wait(id("three")).get().unwrap().unwrap();
    assert_eq!(three.status, Some(ExitStatus::Exited(3)));
    assert_eq!(three.wait_status(), Some(3 << 8));
    assert_eq!(three.message, "Command exited with status 3");
    let killed = c.wait(id("killed")).get().unwrap().unwrap();
    assert_eq!(killed.status, Some(ExitStatus::Signaled(9)));
    assert_eq!(killed.wait_status(), Some(9));
}

#[test]
fn argv_commands_and_programs_that_do_not_exist() {
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder());
    let sandbox = fx.sandbox("argv");
    let echo = CommandInfo {
        shell: Some(false),
        value: Some("echo".into()),
        arguments: vec!["echo".into(), "a b".into(), "$HOME".into()],
        ..Default::default()
    };
    c.launch(id("argv"), ContainerConfig::new(echo, &sandbox))
        .get()
        .unwrap();
    let done = c.wait(id("argv")).get().unwrap().unwrap();
    assert_eq!(done.status, Some(ExitStatus::Exited(0)));
    assert_eq!(read(&sandbox.join("stdout")), "a b $HOME\n");

    let missing = CommandInfo {
        shell: Some(false),
        value: Some("/no/such/program".into()),
        ..Default::default()
    };
    let launch = c.launch(
        id("missing"),
        ContainerConfig::new(missing, fx.sandbox("missing")),
    );
    let failure = launch.get().expect_err("launch fails");
    assert!(
        failure.to_string().contains("/no/such/program"),
        "{failure}"
    );
    let termination = c.wait(id("missing")).get().unwrap().expect("remembered");
    assert_eq!(termination.reasons, vec![Reason::ContainerLaunchFailed]);
    assert_eq!(termination.state, Some(TaskState::TaskFailed));
    assert!(
        termination.message.contains("No such file"),
        "{}",
        termination.message
    );
    assert!(eventually(WAIT, || c
        .containers()
        .get()
        .unwrap()
        .is_empty()));

    // Launching the same container twice is refused.
    c.launch(
        id("twice"),
        ContainerConfig::shell("sleep 1000", fx.sandbox("twice")),
    )
    .get()
    .unwrap();
    assert!(
        c.launch(
            id("twice"),
            ContainerConfig::shell("true", fx.sandbox("twice"))
        )
        .get()
        .is_err()
    );
}

#[test]
fn destroy_kills_the_whole_process_tree() {
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder());
    let sandbox = fx.sandbox("tree");
    // A child, a grandchild orphaned to init (it stays in the session), and a child in a
    // process group of its own.
    let script = "sleep 1000 & (sleep 1000 &); (set -m; sleep 1000 &); echo started; wait";
    c.launch(id("tree"), ContainerConfig::shell(script, &sandbox))
        .get()
        .unwrap();
    let pid = c.pid(id("tree")).get().unwrap().expect("has a pid");
    assert!(
        eventually(WAIT, || session(pid).len() >= 4),
        "{:?}",
        session(pid)
    );
    let members = session(pid);

    let termination = c
        .destroy(id("tree"))
        .get()
        .unwrap()
        .expect("known container");
    assert_eq!(termination.status, Some(ExitStatus::Signaled(9)));
    for member in &members {
        assert!(
            !mesos_agent::containerizer::usage::is_alive(*member),
            "{member} survived"
        );
    }
    assert!(session(pid).is_empty());
    // Destroying again: unknown now.
    assert!(c.destroy(id("tree")).get().unwrap().is_none());
}

#[test]
fn destroy_with_a_grace_period_sends_sigterm_first() {
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder().kill_grace_period(Duration::from_secs(60)));
    let sandbox = fx.sandbox("graceful");
    let script = "trap 'echo terminated; exit 7' TERM; echo ready; while true; do sleep 0.05; done";
    c.launch(id("graceful"), ContainerConfig::shell(script, &sandbox))
        .get()
        .unwrap();
    assert!(eventually(WAIT, || read(&sandbox.join("stdout")).contains("ready")));
    // The shell exits on SIGTERM well within the grace period; the rest is killed then.
    let termination = c.destroy(id("graceful")).get().unwrap().unwrap();
    assert_eq!(termination.status, Some(ExitStatus::Exited(7)));
    assert!(read(&sandbox.join("stdout")).contains("terminated"));
}

#[test]
fn usage_reports_cpu_and_memory() {
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder());
    let config = ContainerConfig::shell(
        "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo spun; sleep 1000",
        fx.sandbox("busy"),
    )
    .with_resources(resources("cpus:0.5;mem:64"));
    c.launch(id("busy"), config).get().unwrap();
    let mut last = None;
    let busy = eventually(WAIT, || {
        let stats = c.usage(id("busy")).get().expect("usage");
        let cpu =
            stats.cpus_user_time_secs.unwrap_or(0.0) + stats.cpus_system_time_secs.unwrap_or(0.0);
        last = Some(stats);
        cpu >= 0.05
    });
    let stats = last.unwrap();
    assert!(busy, "{stats:?}");
    assert!(stats.mem_rss_bytes.unwrap() > 0);
    assert!(stats.processes.unwrap() >= 1);
    assert!(stats.timestamp > 1.0e9);
    assert_eq!(stats.cpus_limit, Some(0.5));
    assert_eq!(stats.mem_limit_bytes, Some(64 * 1024 * 1024));

    c.update(id("busy"), resources("cpus:1;mem:128"))
        .get()
        .unwrap();
    let stats = c.usage(id("busy")).get().unwrap();
    assert_eq!(stats.cpus_limit, Some(1.0));
    assert!(c.usage(id("nope")).get().is_err());
    assert!(c.update(id("nope"), Resources::new()).get().is_err());
    assert!(c.wait(id("nope")).get().unwrap().is_none());
}

#[test]
fn recover_reattaches_to_live_containers_and_destroys_orphans() {
    let mut fx = Fixture::new();
    let first = fx.containerizer(fx.builder());
    for name in ["kept", "orphan"] {
        first
            .launch(
                id(name),
                ContainerConfig::shell("sleep 1000", fx.sandbox(name)),
            )
            .get()
            .unwrap();
    }
    let kept_pid = first.pid(id("kept")).get().unwrap().unwrap();
    let orphan_pid = first.pid(id("orphan")).get().unwrap().unwrap();
    // The agent goes away; its containers run on.
    first.terminate().get().unwrap();
    assert!(mesos_agent::containerizer::usage::is_alive(kept_pid));

    let second = fx.containerizer(fx.builder());
    second
        .recover(vec![mesos_agent::containerizer::RecoverState {
            container_id: id("kept"),
            pid: Some(kept_pid),
            sandbox: fx.sandbox("kept"),
            resources: resources("cpus:1"),
        }])
        .get()
        .expect("recovers");
    let orphan = second
        .wait(id("orphan"))
        .get()
        .unwrap()
        .expect("the orphan is being destroyed");
    assert_eq!(orphan.status, None, "not our child: status unknown");
    assert!(eventually(WAIT, || {
        !mesos_agent::containerizer::usage::is_alive(orphan_pid)
    }));

    assert!(mesos_agent::containerizer::usage::is_alive(kept_pid));
    assert_eq!(
        second
            .containers()
            .get()
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![id("kept")]
    );
    let stats = second.usage(id("kept")).get().unwrap();
    assert!(stats.mem_rss_bytes.unwrap() > 0);
    second.destroy(id("kept")).get().unwrap().unwrap();
    assert!(!mesos_agent::containerizer::usage::is_alive(kept_pid));
}

#[test]
fn a_recovered_container_that_exits_is_reported() {
    let mut fx = Fixture::new();
    let first = fx.containerizer(fx.builder());
    let sandbox = fx.sandbox("short");
    first
        .launch(
            id("short"),
            ContainerConfig::shell("while [ ! -e stop ]; do sleep 0.02; done", &sandbox),
        )
        .get()
        .unwrap();
    let pid = first.pid(id("short")).get().unwrap().unwrap();
    first.terminate().get().unwrap();
    let second = fx.containerizer(fx.builder());
    second
        .recover(vec![mesos_agent::containerizer::RecoverState {
            container_id: id("short"),
            pid: Some(pid),
            sandbox: sandbox.clone(),
            resources: Resources::new(),
        }])
        .get()
        .unwrap();
    let waited = second.wait(id("short"));
    std::fs::write(sandbox.join("stop"), "").unwrap();
    let termination = waited.get().unwrap().unwrap();
    assert_eq!(termination.status, None);
}

#[test]
fn disk_du_reports_usage_and_the_quota_limitation() {
    let mut fx = Fixture::new();
    let c = fx.containerizer(
        fx.builder()
            .isolation("disk/du")
            .disk_watch_interval(Duration::from_secs(10))
            .enforce_container_disk_quota(true),
    );
    let clock = fx.runtime.clock();
    clock.pause();
    let sandbox = fx.sandbox("disk");
    let config = ContainerConfig::shell(
        "dd if=/dev/zero of=big bs=1048576 count=3 2>/dev/null; echo written; sleep 1000",
        &sandbox,
    )
    .with_resources(resources("disk:1"));
    c.launch(id("disk"), config).get().unwrap();
    let stats = c.usage(id("disk")).get().unwrap();
    assert_eq!(stats.disk_limit_bytes, Some(1024 * 1024));
    assert!(eventually(WAIT, || read(&sandbox.join("stdout")).contains("written")));
    // Nothing is measured until the watch interval passes on the (paused) clock.
    clock.advance(Duration::from_secs(10));
    clock.settle();
    let termination = c
        .wait(id("disk"))
        .get()
        .unwrap()
        .expect("destroyed for its disk usage");
    assert_eq!(termination.reasons, vec![Reason::ContainerLimitationDisk]);
    assert_eq!(termination.state, Some(TaskState::TaskFailed));
    assert!(
        termination.message.contains("exceeds quota"),
        "{}",
        termination.message
    );
}

#[test]
fn commands_run_as_the_container_user() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: switching users needs root");
        return;
    }
    let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
        eprintln!("skipping: no user 'nobody'");
        return;
    };
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder());
    let sandbox = fx.dir.join("sandboxes/user");
    let mut config = ContainerConfig::shell("id -u; touch mine", &sandbox);
    config.user = Some("nobody".into());
    // The sandbox does not exist yet: filesystem/posix creates it for the user.
    std::fs::create_dir_all(fx.dir.join("sandboxes")).unwrap();
    c.launch(id("user"), config).get().unwrap();
    let done = c.wait(id("user")).get().unwrap().unwrap();
    assert_eq!(
        done.status,
        Some(ExitStatus::Exited(0)),
        "{}",
        read(&sandbox.join("stderr"))
    );
    assert_eq!(read(&sandbox.join("stdout")).trim(), nobody.uid.to_string());
}

#[test]
fn sigterm_is_escalated_to_sigkill_after_the_grace_period() {
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder().kill_grace_period(Duration::from_secs(30)));
    let clock = fx.runtime.clock();
    clock.pause();
    let sandbox = fx.sandbox("stubborn");
    let script = "trap '' TERM; echo ready; while true; do sleep 0.05; done";
    c.launch(id("stubborn"), ContainerConfig::shell(script, &sandbox))
        .get()
        .unwrap();
    assert!(eventually(WAIT, || read(&sandbox.join("stdout")).contains("ready")));
    let destroyed = c.destroy(id("stubborn"));
    clock.settle();
    // The shell ignores SIGTERM: nothing happens until the grace period passes.
    std::thread::sleep(Duration::from_millis(100));
    assert!(destroyed.is_pending());
    clock.advance(Duration::from_secs(30));
    let termination = destroyed.get().unwrap().unwrap();
    assert_eq!(termination.status, Some(ExitStatus::Signaled(9)));
}

#[test]
fn many_containers_launch_and_exit_side_by_side() {
    let mut fx = Fixture::new();
    let c = fx.containerizer(fx.builder());
    let launches: Vec<_> = (0..20)
        .map(|i| {
            let name = format!("c{i}");
            c.launch(
                id(&name),
                ContainerConfig::shell(format!("exit {i}"), fx.sandbox(&name)),
            )
        })
        .collect();
    for launch in launches {
        launch.get().expect("launches");
    }
    for i in 0..20 {
        let termination = c.wait(id(&format!("c{i}"))).get().unwrap().unwrap();
        assert_eq!(termination.status, Some(ExitStatus::Exited(i)));
    }
    assert!(eventually(WAIT, || c
        .containers()
        .get()
        .unwrap()
        .is_empty()));
}
