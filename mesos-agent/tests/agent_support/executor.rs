//! A test executor speaking the v1 executor API in JSON: this test binary, run again with
//! `AGENT_TEST_EXECUTOR=1` and `--exact test_executor_entry`. It behaves as a command
//! executor: each LAUNCHed task's command runs under `sh -c` (output into the sandbox),
//! TASK_RUNNING then TASK_FINISHED/TASK_FAILED/TASK_KILLED are sent, a KILL sends SIGTERM
//! and SIGKILL after the kill policy's grace period, and it exits once its terminal update
//! is acknowledged. With checkpointing it re-subscribes after the agent restarts, listing
//! what is not acknowledged.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::http::{self, base64};

/// The name of the test function that runs the executor.
pub const ENTRY: &str = "test_executor_entry";

/// A directory holding `mesos-executor`: a script that runs this binary as the executor.
pub fn launcher_dir(dir: &Path) -> PathBuf {
    let launcher = dir.join("launcher");
    std::fs::create_dir_all(&launcher).expect("launcher dir");
    let script = launcher.join("mesos-executor");
    let exe = std::env::current_exe().expect("test binary");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nAGENT_TEST_EXECUTOR=1 exec '{}' --exact {ENTRY} --nocapture --test-threads=1 -q\n",
            exe.display()
        ),
    )
    .expect("write the script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    launcher
}

/// Runs the executor when this process was started as one; returns otherwise.
pub fn run_if_requested() {
    if std::env::var("AGENT_TEST_EXECUTOR").as_deref() != Ok("1") {
        return;
    }
    let code = run();
    std::process::exit(code);
}

#[derive(Default)]
struct State {
    tasks: BTreeMap<String, Value>,
    children: BTreeMap<String, i32>,
    killed: BTreeMap<String, bool>,
    unacknowledged: BTreeMap<String, Value>,
    terminal: BTreeMap<String, String>,
    done: bool,
}

struct Executor {
    agent: SocketAddr,
    framework_id: String,
    executor_id: String,
    state: Mutex<State>,
}

fn log(text: &str) {
    eprintln!("test-executor: {text}");
}

fn run() -> i32 {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let agent: SocketAddr = match env("MESOS_AGENT_ENDPOINT").parse() {
        Ok(a) => a,
        Err(_) => {
            log("MESOS_AGENT_ENDPOINT missing");
            return 2;
        }
    };
    let checkpoint = env("MESOS_CHECKPOINT") == "1";
    let executor = Arc::new(Executor {
        agent,
        framework_id: env("MESOS_FRAMEWORK_ID"),
        executor_id: env("MESOS_EXECUTOR_ID"),
        state: Mutex::new(State::default()),
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let subscribed = executor.subscribe_and_serve();
        if executor.state.lock().done {
            return 0;
        }
        if !checkpoint || Instant::now() > deadline {
            log("subscription ended; exiting");
            return 1;
        }
        if !subscribed {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Executor {
    fn call(&self, kind: &str) -> Value {
        json!({
            "framework_id": {"value": self.framework_id},
            "executor_id": {"value": self.executor_id},
            "type": kind,
        })
    }

    /// One subscription; false if it could not be made.
    fn subscribe_and_serve(self: &Arc<Self>) -> bool {
        let mut call = self.call("SUBSCRIBE");
        {
            let state = self.state.lock();
            call["subscribe"] = json!({
                "unacknowledged_tasks": state.tasks.values().cloned().collect::<Vec<_>>(),
                "unacknowledged_updates": state.unacknowledged.values().cloned().collect::<Vec<_>>(),
            });
        }
        let body = call.to_string();
        let Ok((status, _, mut stream)) = http::stream(
            self.agent,
            "/api/v1/executor",
            &[
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body.as_bytes(),
        ) else {
            return false;
        };
        if status != 200 {
            log(&format!("SUBSCRIBE answered {status}"));
            return false;
        }
        while let Some(event) = stream.next_json() {
            let kind = event["type"].as_str().unwrap_or_default().to_owned();
            log(&format!("event {kind}"));
            match kind.as_str() {
                "SUBSCRIBED" => {}
                "LAUNCH" => self.launch(event["launch"]["task"].clone()),
                "KILL" => {
                    let task = event["kill"]["task_id"]["value"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let grace = event["kill"]["kill_policy"]["grace_period"]["nanoseconds"]
                        .as_u64()
                        .map(Duration::from_nanos)
                        .unwrap_or(Duration::from_secs(3));
                    self.kill(&task, grace);
                }
                "ACKNOWLEDGED" => {
                    let uuid = event["acknowledged"]["uuid"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let mut state = self.state.lock();
                    state.unacknowledged.remove(&uuid);
                    let task = event["acknowledged"]["task_id"]["value"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    if state.terminal.get(&task) == Some(&uuid) {
                        state.tasks.remove(&task);
                        if state.tasks.is_empty() {
                            state.done = true;
                            return true;
                        }
                    }
                }
                "SHUTDOWN" => {
                    let children: Vec<i32> = self.state.lock().children.values().copied().collect();
                    for pid in children {
                        unsafe_kill(-pid, 9);
                    }
                    self.state.lock().done = true;
                    return true;
                }
                _ => {}
            }
        }
        true
    }

    fn update(&self, task: &str, state: &str, message: &str) -> String {
        let uuid = base64(&uuid_bytes());
        let mut call = self.call("UPDATE");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let status = json!({
            "task_id": {"value": task},
            "state": state,
            "source": "SOURCE_EXECUTOR",
            "uuid": uuid,
            "message": message,
            "timestamp": now,
        });
        call["update"] = json!({ "status": status });
        {
            let mut s = self.state.lock();
            s.unacknowledged
                .insert(uuid.clone(), json!({ "status": status }));
            if matches!(state, "TASK_FINISHED" | "TASK_FAILED" | "TASK_KILLED") {
                s.terminal.insert(task.to_owned(), uuid.clone());
            }
        }
        // Retries while the agent is away (it re-sends unacknowledged ones on re-subscribe anyway).
        for _ in 0..5 {
            match http::request(
                self.agent,
                "POST",
                "/api/v1/executor",
                &[("Content-Type", "application/json")],
                call.to_string().as_bytes(),
            ) {
                Ok(r) if r.status == 202 => break,
                Ok(r) => log(&format!("UPDATE answered {} {}", r.status, r.text())),
                Err(e) => log(&format!("UPDATE failed: {e}")),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        uuid
    }

    fn launch(self: &Arc<Self>, task: Value) {
        let id = task["task_id"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let command = task["command"]["value"]
            .as_str()
            .unwrap_or("true")
            .to_owned();
        self.state.lock().tasks.insert(id.clone(), task);
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(&command)
            .process_group(0)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                self.update(&id, "TASK_FAILED", &format!("cannot run: {e}"));
                return;
            }
        };
        self.state
            .lock()
            .children
            .insert(id.clone(), child.id() as i32);
        self.update(&id, "TASK_RUNNING", "");
        let me = self.clone();
        std::thread::spawn(move || {
            let status = child.wait();
            let killed = me.state.lock().killed.get(&id).copied().unwrap_or(false);
            let (state, message) = match status {
                _ if killed => ("TASK_KILLED", "Command killed".to_owned()),
                Ok(s) if s.success() => {
                    ("TASK_FINISHED", "Command exited with status 0".to_owned())
                }
                Ok(s) => ("TASK_FAILED", format!("Command {s}")),
                Err(e) => ("TASK_FAILED", e.to_string()),
            };
            me.update(&id, state, &message);
        });
    }

    fn kill(&self, task: &str, grace: Duration) {
        let Some(pid) = self.state.lock().children.get(task).copied() else {
            return;
        };
        self.state.lock().killed.insert(task.to_owned(), true);
        unsafe_kill(-pid, 15);
        std::thread::spawn(move || {
            std::thread::sleep(grace);
            unsafe_kill(-pid, 9);
        });
    }
}

fn unsafe_kill(pid: i32, signal: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(pid.to_string())
        .status();
}

fn uuid_bytes() -> [u8; 16] {
    stout::Uuid::random().into()
}
