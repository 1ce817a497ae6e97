//! mesos-local end to end, in this process: a master and two agents on free loopback ports,
//! a framework written with the scheduler library launching real command tasks through the
//! command executor (this crate's binary, linked as `mesos-executor`).

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use libprocess::Runtime;
use mesos_client::ContentType;
use mesos_client::scheduler::{Scheduler, SchedulerConfig, SchedulerEvent, StaticDetector};
use mesos_core::v1;
use mesos_core::v1::scheduler::event;
use mesos_local::{Cluster, LocalError, LocalFlags};

const WAIT: Duration = Duration::from_secs(60);

fn scalar(name: &str, value: f64) -> v1::Resource {
    v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        ..Default::default()
    }
}

fn next_event(events: &Receiver<SchedulerEvent>, deadline: Instant) -> v1::scheduler::Event {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(SchedulerEvent::Event(event)) => return *event,
            Ok(_) => continue,
            Err(error) => panic!("no event in time: {error}"),
        }
    }
}

#[test]
fn flags_go_to_the_master_or_the_agents_or_are_refused() {
    let flags = LocalFlags::parse([
        "--num_agents=3",
        "--offer_timeout=30secs",
        "--isolation",
        "posix/cpu,posix/mem",
        "--hostname=box",
        "--work_dir=/tmp/x",
    ])
    .unwrap();
    assert_eq!(flags.num_agents, 3);
    assert_eq!(
        flags.master_args,
        ["--offer_timeout=30secs", "--hostname=box"]
    );
    assert_eq!(
        flags.agent_args,
        ["--isolation=posix/cpu,posix/mem", "--hostname=box"]
    );

    let error = LocalFlags::parse(["--bogus=1"]).unwrap_err();
    assert!(
        error.to_string().contains("unknown flag --bogus"),
        "{error}"
    );
    let error = LocalFlags::parse(["--master=1.2.3.4:5050"]).unwrap_err();
    assert!(error.to_string().contains("set by mesos-local"), "{error}");
    let error = LocalFlags::parse(["--num_agents=0"]).unwrap_err();
    assert!(error.to_string().contains("at least 1"), "{error}");
    let error = LocalFlags::parse(["--port=http"]).unwrap_err();
    assert!(error.to_string().contains("not a port"), "{error}");
    assert!(matches!(
        LocalFlags::parse(["--help"]),
        Err(LocalError::Help(_))
    ));
}

#[test]
fn a_bad_master_flag_stops_the_launch() {
    let dir = std::env::temp_dir().join(format!("mesos-local-bad-{}", std::process::id()));
    let mut flags = LocalFlags::parse(["--allocation_interval=soon"]).unwrap();
    flags.work_dir = dir.clone();
    flags.port = 0;
    flags.agent_port = 0;
    let error = Cluster::launch(&flags).unwrap_err();
    assert!(matches!(error, LocalError::MasterFlags(_)), "{error}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tasks_run_on_a_local_cluster() {
    let dir = std::env::temp_dir().join(format!("mesos-local-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut flags = LocalFlags::parse([
        "--num_agents=2",
        "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31100]",
    ])
    .unwrap();
    flags.work_dir = dir.clone();
    flags.port = 0;
    flags.agent_port = 0;
    flags.executor = Some(env!("CARGO_BIN_EXE_mesos-local").into());
    let cluster = Cluster::launch(&flags).unwrap();
    assert!(cluster.wait_for_agents(WAIT), "the agents did not register");

    let runtime = Runtime::new();
    let framework = v1::FrameworkInfo {
        user: "root".into(),
        name: "local-test".into(),
        roles: vec!["*".into()],
        capabilities: vec![v1::framework_info::Capability {
            r#type: Some(v1::framework_info::capability::Type::MultiRole as i32),
        }],
        ..Default::default()
    };
    let config = SchedulerConfig::new(framework).content_type(ContentType::Json);
    let detector = StaticDetector::new(&cluster.master_address().to_string()).unwrap();
    let (scheduler, events) = Scheduler::with_channel(runtime.handle(), config, detector);

    let deadline = Instant::now() + WAIT;
    let mut launched = 0;
    let mut finished = Vec::new();
    let mut states = Vec::new();
    while finished.len() < 2 {
        match next_event(&events, deadline) {
            event if event.r#type() == event::Type::Offers && launched < 2 => {
                for offer in &event.offers.unwrap().offers {
                    if launched == 2 {
                        scheduler.decline(vec![offer.id.clone()], None);
                        continue;
                    }
                    launched += 1;
                    let task = v1::TaskInfo {
                        name: format!("task-{launched}"),
                        task_id: v1::TaskId {
                            value: format!("task-{launched}"),
                        },
                        agent_id: offer.agent_id.clone(),
                        resources: [scalar("cpus", 0.1), scalar("mem", 32.0)]
                            .into_iter()
                            .map(|mut r| {
                                r.allocation_info = Some(v1::resource::AllocationInfo {
                                    role: Some("*".into()),
                                });
                                r
                            })
                            .collect(),
                        command: Some(v1::CommandInfo {
                            value: Some(format!("echo hello from task-{launched}")),
                            ..Default::default()
                        }),
                        ..Default::default()
                    };
                    let launch = v1::offer::Operation {
                        r#type: Some(v1::offer::operation::Type::Launch as i32),
                        launch: Some(v1::offer::operation::Launch {
                            task_infos: vec![task],
                        }),
                        ..Default::default()
                    };
                    let answer = scheduler.accept(vec![offer.id.clone()], vec![launch], None);
                    assert!(answer.await_for(WAIT));
                    assert_eq!(answer.get().unwrap().status.as_u16(), 202);
                }
            }
            event if event.r#type() == event::Type::Update => {
                let status = event.update.unwrap().status;
                states.push((status.task_id.value.clone(), status.state()));
                if let Some(ack) = scheduler.acknowledge(&status) {
                    assert!(ack.await_for(WAIT));
                }
                match status.state() {
                    v1::TaskState::TaskFinished => finished.push(status.task_id.value.clone()),
                    v1::TaskState::TaskStaging
                    | v1::TaskState::TaskStarting
                    | v1::TaskState::TaskRunning => {}
                    other => panic!("task {} ended {other:?}: {status:?}", status.task_id.value),
                }
            }
            _ => {}
        }
    }
    finished.sort();
    assert_eq!(finished, ["task-1", "task-2"]);
    for task in ["task-1", "task-2"] {
        assert!(
            states.contains(&(task.to_string(), v1::TaskState::TaskRunning)),
            "{states:?}"
        );
    }

    // Each task's output is in its sandbox under one of the agents' work directories.
    let outputs: Vec<String> = glob_stdout(&dir);
    assert!(
        outputs.iter().any(|o| o.contains("hello from task-1")),
        "{outputs:?}"
    );
    assert!(
        outputs.iter().any(|o| o.contains("hello from task-2")),
        "{outputs:?}"
    );

    assert!(scheduler.stop().await_for(WAIT));
    cluster.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The contents of every task sandbox's `stdout` under `root`.
fn glob_stdout(root: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "stdout") {
                found.push(std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    found
}

#[test]
fn agents_answer_the_masters_pings_and_stay_registered() {
    let dir = std::env::temp_dir().join(format!("mesos-local-pings-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Pings every 100 ms: an agent that ignored them would re-register after 5 misses.
    let mut flags =
        LocalFlags::parse(["--agent_ping_timeout=100ms", "--max_agent_ping_timeouts=3"]).unwrap();
    flags.work_dir = dir.clone();
    flags.port = 0;
    flags.agent_port = 0;
    let cluster = Cluster::launch(&flags).unwrap();
    assert!(cluster.wait_for_agents(WAIT));
    std::thread::sleep(Duration::from_millis(1500));
    let (count, reregistered) = cluster
        .master()
        .inspect(|m| {
            let agents = &m.state.agents;
            (
                agents.len(),
                agents
                    .values()
                    .filter(|a| a.reregistered_time.is_some())
                    .count(),
            )
        })
        .get()
        .unwrap();
    assert_eq!((count, reregistered), (1, 0));
    cluster.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
