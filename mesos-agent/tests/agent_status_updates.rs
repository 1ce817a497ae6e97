//! The task status update manager alone, on a paused clock: one update in flight per
//! task, retries from 10 s doubling to 10 min, acknowledgements, duplicates, pause and
//! resume, and checkpointed streams read back after a restart.

use std::sync::Arc;
use std::time::Duration;

use libprocess::Runtime;
use mesos_agent::status_update::{TaskStatusUpdateManager, read_stream};
use mesos_core::internal::StatusUpdate;
use mesos_core::v0::{FrameworkId, TaskId, TaskState, TaskStatus};
use parking_lot::Mutex;

fn update(task: &str, state: TaskState, n: u8) -> StatusUpdate {
    let uuid = vec![n; 16];
    let mut status = TaskStatus {
        task_id: TaskId {
            value: task.to_owned(),
        },
        uuid: Some(uuid.clone()),
        ..Default::default()
    };
    status.set_state(state);
    StatusUpdate {
        framework_id: FrameworkId {
            value: "fw".to_owned(),
        },
        status,
        timestamp: 1.0,
        uuid: Some(uuid),
        ..Default::default()
    }
}

/// A forwarded update: its task and uuid.
type Sent = (String, Vec<u8>);

struct Fixture {
    runtime: Runtime,
    sent: Arc<Mutex<Vec<Sent>>>,
    manager: TaskStatusUpdateManager,
}

impl Fixture {
    fn new() -> Fixture {
        let runtime = Runtime::new();
        runtime.clock().pause();
        let _enter = runtime.handle().enter();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        let manager = TaskStatusUpdateManager::spawn(move |u: StatusUpdate| {
            log.lock()
                .push((u.status.task_id.value.clone(), u.uuid.clone().unwrap()));
        });
        manager.resume();
        Fixture {
            runtime,
            sent,
            manager,
        }
    }

    fn advance(&self, secs: u64) {
        self.runtime.clock().advance(Duration::from_secs(secs));
        self.runtime.clock().settle();
    }

    fn sent(&self) -> Vec<Sent> {
        self.runtime.clock().settle();
        self.sent.lock().clone()
    }

    fn ack(&self, task: &str, n: u8) -> Result<bool, String> {
        self.manager
            .acknowledge(
                FrameworkId {
                    value: "fw".to_owned(),
                },
                TaskId {
                    value: task.to_owned(),
                },
                vec![n; 16],
            )
            .get()
            .map_err(|e| e.to_string())
    }
}

#[test]
fn one_update_in_flight_retried_with_backoff_until_acknowledged() {
    let fx = Fixture::new();
    fx.manager
        .update(update("t", TaskState::TaskRunning, 1), None)
        .get()
        .unwrap();
    fx.manager
        .update(update("t", TaskState::TaskFinished, 2), None)
        .get()
        .unwrap();
    // Another task's stream is independent.
    fx.manager
        .update(update("u", TaskState::TaskRunning, 3), None)
        .get()
        .unwrap();
    assert_eq!(
        fx.sent(),
        vec![("t".to_owned(), vec![1; 16]), ("u".to_owned(), vec![3; 16])]
    );
    fx.advance(9);
    assert_eq!(fx.sent().len(), 2, "nothing before 10 s");
    fx.advance(1);
    assert_eq!(fx.sent().len(), 4, "both re-sent after 10 s");
    fx.advance(19);
    assert_eq!(fx.sent().len(), 4);
    fx.advance(1);
    assert_eq!(fx.sent().len(), 6, "then after 20 s more");
    // Acknowledged: the next update of the task goes at once.
    assert_eq!(fx.ack("t", 1), Ok(false));
    let sent = fx.sent();
    assert_eq!(sent.last().unwrap(), &("t".to_owned(), vec![2; 16]));
    // Duplicates and stray acknowledgements change nothing.
    fx.manager
        .update(update("t", TaskState::TaskRunning, 1), None)
        .get()
        .unwrap();
    fx.manager
        .update(update("t", TaskState::TaskFinished, 2), None)
        .get()
        .unwrap();
    assert_eq!(fx.sent().len(), sent.len());
    assert!(fx.ack("t", 1).is_err(), "a second acknowledgement");
    assert!(
        fx.ack("t", 9).is_err(),
        "an acknowledgement of nothing in flight"
    );
    // The terminal update acknowledged completes the stream: no more retries.
    assert_eq!(fx.ack("t", 2), Ok(true));
    let before = fx.sent().iter().filter(|(t, _)| t == "t").count();
    fx.advance(3600);
    assert_eq!(fx.sent().iter().filter(|(t, _)| t == "t").count(), before);
}

#[test]
fn retries_are_capped_at_ten_minutes() {
    let fx = Fixture::new();
    fx.manager
        .update(update("t", TaskState::TaskRunning, 1), None)
        .get()
        .unwrap();
    // Retries at 10, 30, 70, 150, 310, 630 s (doubling), then every 600 s: 1230, 1830.
    let mut retries_at = Vec::new();
    let mut seen = fx.sent().len();
    for step in 1..=190 {
        fx.advance(10);
        let now = fx.sent().len();
        if now > seen {
            retries_at.push(step * 10);
            seen = now;
        }
    }
    assert_eq!(retries_at, vec![10, 30, 70, 150, 310, 630, 1230, 1830]);
}

#[test]
fn paused_manager_holds_updates_and_resume_sends_them() {
    let fx = Fixture::new();
    fx.manager.pause();
    fx.manager
        .update(update("t", TaskState::TaskRunning, 1), None)
        .get()
        .unwrap();
    fx.advance(100);
    assert!(fx.sent().is_empty());
    fx.manager.resume();
    assert_eq!(fx.sent(), vec![("t".to_owned(), vec![1; 16])]);
}

#[test]
fn checkpointed_streams_are_read_back_without_what_was_acknowledged() {
    let dir = std::env::temp_dir().join(format!("mesos-agent-sum-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("task.updates");
    let fx = Fixture::new();
    for (state, n) in [
        (TaskState::TaskStarting, 1),
        (TaskState::TaskRunning, 2),
        (TaskState::TaskFinished, 3),
    ] {
        fx.manager
            .update(update("t", state, n), Some(path.clone()))
            .get()
            .unwrap();
    }
    assert_eq!(fx.ack("t", 1), Ok(false));

    let stream = read_stream(&path).unwrap();
    assert_eq!(stream.updates.len(), 3);
    assert_eq!(stream.acknowledged.len(), 1);
    assert!(!stream.terminated());
    let pending: Vec<_> = stream
        .pending()
        .iter()
        .map(|u| u.uuid.clone().unwrap())
        .collect();
    assert_eq!(pending, vec![vec![2; 16], vec![3; 16]]);

    // A new manager (the agent restarted) re-sends only the pending front.
    let restarted = Fixture::new();
    restarted.manager.pause();
    restarted
        .manager
        .recover(vec![(
            FrameworkId {
                value: "fw".to_owned(),
            },
            TaskId {
                value: "t".to_owned(),
            },
            path.clone(),
            stream,
        )])
        .get()
        .unwrap();
    restarted.manager.resume();
    assert_eq!(restarted.sent(), vec![("t".to_owned(), vec![2; 16])]);
    assert_eq!(restarted.ack("t", 2), Ok(false));
    assert_eq!(restarted.ack("t", 3), Ok(true));
    assert!(read_stream(&path).unwrap().terminated());
    // A checkpoint that cannot be written fails the update and forwards nothing.
    let blocked = dir.join("file");
    std::fs::write(&blocked, "").unwrap();
    let failed = restarted
        .manager
        .update(
            update("v", TaskState::TaskRunning, 7),
            Some(blocked.join("task.updates")),
        )
        .get();
    assert!(failed.is_err());
    assert_eq!(restarted.sent().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
