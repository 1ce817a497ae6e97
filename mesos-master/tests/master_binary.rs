//! The `mesos-master` binary: `--help` lists Mesos's flags, bad values stop start-up with a
//! clear message, and a master started on a port serves the scheduler API.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn master() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mesos-master"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

#[test]
fn help_lists_the_flags() {
    let output = master().arg("--help").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--port",
        "--work_dir",
        "--registry",
        "--allocation_interval",
        "--agent_ping_timeout",
        "--max_agent_ping_timeouts",
        "--agent_reregister_timeout",
        "--agent_removal_rate_limit",
        "--offer_timeout",
        "--min_allocatable_resources",
        "--max_completed_frameworks",
        "--weights",
        "--firewall_rules",
        "--authenticate_http_frameworks",
        "--credentials",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn bad_values_stop_start_up_with_a_message() {
    let cases: [(&[&str], &str); 4] = [
        (&["--port=notaport"], "port"),
        (
            &["--registry=in_memory", "--agent_ping_timeout=soon"],
            "agent_ping_timeout",
        ),
        (&["--registry=zookeeper"], "in_memory"),
        (&["--registry=replicated_log"], "work_dir"),
    ];
    for (args, expected) in cases {
        let output = master().args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?} should fail");
        let text = String::from_utf8_lossy(&output.stderr);
        assert!(text.contains(expected), "{args:?}: {text}");
    }
    // From the environment too.
    let output = master()
        .env("MESOS_MAX_AGENT_PING_TIMEOUTS", "many")
        .arg("--registry=in_memory")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("max_agent_ping_timeouts"));
}

#[test]
fn a_corrupt_registry_stops_start_up() {
    let dir = std::env::temp_dir().join(format!("mesos-master-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("registry"), b"garbage").unwrap();
    let output = master()
        .arg(format!("--work_dir={}", dir.display()))
        .args(["--ip=127.0.0.1", "--port=0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("corrupt"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serves_the_scheduler_api() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut child = master()
        .args([
            "--ip=127.0.0.1",
            &format!("--port={port}"),
            "--registry=in_memory",
            "--quiet",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/scheduler");
    let deadline = Instant::now() + Duration::from_secs(10);
    // 503 until the master has elected itself and recovered (upstream's order of checks).
    let status = loop {
        match libprocess::http::client::get(&url).get() {
            Ok(response)
                if response.status == libprocess::http::StatusCode::SERVICE_UNAVAILABLE
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(response) => break response.status,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => panic!("master never answered: {error}"),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, libprocess::http::StatusCode::METHOD_NOT_ALLOWED);
}
