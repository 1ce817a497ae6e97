//! The task status update manager (upstream `src/slave/task_status_update_manager.cpp`):
//! makes task status updates reliable between the agent and the master.
//!
//! Protocol: the agent hands it every update ([`TaskStatusUpdateManager::update`]); the
//! update is checkpointed to the task's `task.updates` file (for checkpointing frameworks)
//! *before* it is forwarded. Per task, one update is in flight at a time: the oldest
//! unacknowledged one is forwarded (through the callback the agent gives, which sends
//! `StatusUpdateMessage` to the master) and re-sent after 10 s, 20 s, … up to 10 min until
//! the master's `StatusUpdateAcknowledgementMessage` arrives
//! ([`TaskStatusUpdateManager::acknowledge`]); then the acknowledgement is checkpointed and the
//! next update goes. An update whose UUID was seen before is a duplicate and ignored, as is a
//! second acknowledgement. While the agent has no master ([`pause`](TaskStatusUpdateManager::pause))
//! nothing is sent; [`resume`](TaskStatusUpdateManager::resume) re-sends every stream's
//! oldest pending update at once.
//!
//! Invariants: a stream's `pending` front is the only update of that task in flight; an
//! update is in `pending` only once it is on disk (when checkpointing); a stream is dropped
//! once its terminal update is acknowledged.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use libprocess::{Future, Pid, Process, Timer, call, delay, dispatch};
use mesos_core::internal::status_update_record::Type as RecordType;
use mesos_core::internal::{StatusUpdate, StatusUpdateRecord};
use mesos_core::v0::{FrameworkId, TaskId, TaskState};
use tracing::{debug, info, warn};

use crate::checkpoint::{self, CheckpointError};

/// The first retry interval for an unacknowledged update.
pub const STATUS_UPDATE_RETRY_INTERVAL_MIN: Duration = Duration::from_secs(10);
/// The longest retry interval.
pub const STATUS_UPDATE_RETRY_INTERVAL_MAX: Duration = Duration::from_secs(600);

/// Whether `state` ends a task.
pub fn is_terminal(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::TaskFinished
            | TaskState::TaskFailed
            | TaskState::TaskKilled
            | TaskState::TaskLost
            | TaskState::TaskError
            | TaskState::TaskDropped
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator
    )
}

fn update_state(update: &StatusUpdate) -> TaskState {
    update.status.state()
}

fn uuid_of(update: &StatusUpdate) -> Vec<u8> {
    update.uuid.clone().unwrap_or_default()
}

/// What a stream file says, once read back after an agent restart.
#[derive(Clone, Debug, Default)]
pub struct RecoveredStream {
    /// Every update received, in order (acknowledged or not).
    pub updates: Vec<StatusUpdate>,
    /// The UUIDs acknowledged.
    pub acknowledged: HashSet<Vec<u8>>,
    /// The file had a partial last record, which was cut off.
    pub truncated: bool,
}

impl RecoveredStream {
    /// The updates not yet acknowledged, oldest first.
    pub fn pending(&self) -> Vec<StatusUpdate> {
        self.updates
            .iter()
            .filter(|u| !self.acknowledged.contains(&uuid_of(u)))
            .cloned()
            .collect()
    }

    /// Whether the terminal update was acknowledged (the stream is complete).
    pub fn terminated(&self) -> bool {
        self.updates
            .iter()
            .any(|u| is_terminal(update_state(u)) && self.acknowledged.contains(&uuid_of(u)))
    }

    /// The latest state, from the last update received.
    pub fn latest(&self) -> Option<&StatusUpdate> {
        self.updates.last()
    }
}

/// Reads a task's `task.updates` file.
pub fn read_stream(path: &Path) -> Result<RecoveredStream, CheckpointError> {
    let read = checkpoint::read_records::<StatusUpdateRecord>(path)?;
    let mut stream = RecoveredStream {
        truncated: read.truncated,
        ..Default::default()
    };
    for record in read.records {
        match record.r#type() {
            RecordType::Update => {
                let update = record.update.ok_or_else(|| CheckpointError::Corrupt {
                    path: path.to_owned(),
                    reason: "an UPDATE record without its update".to_owned(),
                })?;
                stream.updates.push(update);
            }
            RecordType::Ack => {
                let uuid = record.uuid.ok_or_else(|| CheckpointError::Corrupt {
                    path: path.to_owned(),
                    reason: "an ACK record without a uuid".to_owned(),
                })?;
                stream.acknowledged.insert(uuid);
            }
        }
    }
    Ok(stream)
}

type StreamKey = (FrameworkId, TaskId);
type Forward = Arc<dyn Fn(StatusUpdate) + Send + Sync>;

/// The handle: clone freely.
#[derive(Clone)]
pub struct TaskStatusUpdateManager {
    pid: Pid<ManagerProcess>,
}

impl std::fmt::Debug for TaskStatusUpdateManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskStatusUpdateManager")
            .field("pid", self.pid.upid())
            .finish()
    }
}

impl TaskStatusUpdateManager {
    /// Spawns the manager on the current runtime; `forward` is called (on the manager's
    /// worker) with each update to send to the master. It starts paused.
    pub fn spawn(
        forward: impl Fn(StatusUpdate) + Send + Sync + 'static,
    ) -> TaskStatusUpdateManager {
        let pid = libprocess::spawn(ManagerProcess {
            forward: Arc::new(forward),
            streams: HashMap::new(),
            paused: true,
            me: None,
        });
        TaskStatusUpdateManager { pid }
    }

    /// Takes an update: checkpoints it to `checkpoint` (when given) and forwards it when it
    /// is the task's oldest unacknowledged one. Fails if it cannot be checkpointed.
    /// Duplicates (a UUID seen before) are ignored.
    pub fn update(&self, update: StatusUpdate, checkpoint: Option<PathBuf>) -> Future<()> {
        call(&self.pid, move |p: &mut ManagerProcess| {
            p.update(update, checkpoint)
        })
        .then(|result: Result<(), String>| match result {
            Ok(()) => Future::ready(()),
            Err(message) => Future::failed(message),
        })
    }

    /// The master acknowledged `uuid` of the task: `Ok(true)` if that completed the stream
    /// (its terminal update), `Ok(false)` otherwise; fails for an unexpected or duplicate
    /// acknowledgement.
    pub fn acknowledge(
        &self,
        framework_id: FrameworkId,
        task_id: TaskId,
        uuid: Vec<u8>,
    ) -> Future<bool> {
        call(&self.pid, move |p: &mut ManagerProcess| {
            p.acknowledge(framework_id, task_id, uuid)
        })
        .then(|result: Result<bool, String>| match result {
            Ok(done) => Future::ready(done),
            Err(message) => Future::failed(message),
        })
    }

    /// Re-creates streams read from checkpoints after an agent restart.
    pub fn recover(
        &self,
        streams: Vec<(FrameworkId, TaskId, PathBuf, RecoveredStream)>,
    ) -> Future<()> {
        call(&self.pid, move |p: &mut ManagerProcess| {
            for (framework_id, task_id, path, recovered) in streams {
                if recovered.terminated() {
                    continue;
                }
                let stream = Stream {
                    checkpoint: Some(path),
                    received: recovered.updates.iter().map(uuid_of).collect(),
                    acknowledged: recovered.acknowledged.clone(),
                    pending: recovered.pending().into(),
                    timer: None,
                    interval: STATUS_UPDATE_RETRY_INTERVAL_MIN,
                };
                p.streams.insert((framework_id, task_id), stream);
            }
        })
    }

    /// Stops sending (the agent lost its master).
    pub fn pause(&self) {
        dispatch(&self.pid, |p: &mut ManagerProcess| {
            p.paused = true;
            for stream in p.streams.values_mut() {
                if let Some(timer) = stream.timer.take() {
                    timer.cancel();
                }
            }
        });
    }

    /// Starts sending again: every stream's oldest pending update goes out now.
    pub fn resume(&self) {
        dispatch(&self.pid, |p: &mut ManagerProcess| {
            p.paused = false;
            let keys: Vec<StreamKey> = p.streams.keys().cloned().collect();
            for key in keys {
                if let Some(stream) = p.streams.get_mut(&key) {
                    stream.interval = STATUS_UPDATE_RETRY_INTERVAL_MIN;
                }
                p.forward_front(&key);
            }
        });
    }

    /// Forgets every stream of a framework (it was removed).
    pub fn cleanup(&self, framework_id: FrameworkId) {
        dispatch(&self.pid, move |p: &mut ManagerProcess| {
            p.streams.retain(|(f, _), stream| {
                let keep = *f != framework_id;
                if !keep && let Some(timer) = stream.timer.take() {
                    timer.cancel();
                }
                keep
            });
        });
    }

    /// The unacknowledged updates of every stream, oldest first per task.
    pub fn pending(&self) -> Future<Vec<StatusUpdate>> {
        call(&self.pid, |p: &mut ManagerProcess| {
            p.streams
                .values()
                .flat_map(|s| s.pending.iter().cloned())
                .collect()
        })
    }

    /// Stops the process.
    pub fn terminate(&self) -> Future<()> {
        libprocess::terminate(&self.pid);
        libprocess::wait(&self.pid)
    }
}

struct Stream {
    checkpoint: Option<PathBuf>,
    received: HashSet<Vec<u8>>,
    acknowledged: HashSet<Vec<u8>>,
    pending: VecDeque<StatusUpdate>,
    timer: Option<Timer>,
    interval: Duration,
}

struct ManagerProcess {
    forward: Forward,
    streams: HashMap<StreamKey, Stream>,
    paused: bool,
    me: Option<Pid<ManagerProcess>>,
}

impl Process for ManagerProcess {
    fn initialize(&mut self, ctx: &mut libprocess::Context<'_, Self>) {
        self.me = Some(ctx.pid());
    }
}

impl ManagerProcess {
    fn update(&mut self, update: StatusUpdate, checkpoint: Option<PathBuf>) -> Result<(), String> {
        let key = (update.framework_id.clone(), update.status.task_id.clone());
        let uuid = uuid_of(&update);
        let stream = self.streams.entry(key.clone()).or_insert_with(|| Stream {
            checkpoint: checkpoint.clone(),
            received: HashSet::new(),
            acknowledged: HashSet::new(),
            pending: VecDeque::new(),
            timer: None,
            interval: STATUS_UPDATE_RETRY_INTERVAL_MIN,
        });
        if stream.received.contains(&uuid) {
            debug!(task_id = %key.1.value, "duplicate status update ignored");
            return Ok(());
        }
        if let Some(path) = &stream.checkpoint {
            let record = StatusUpdateRecord {
                r#type: RecordType::Update as i32,
                update: Some(update.clone()),
                uuid: None,
            };
            checkpoint::append_message(path, &record)
                .map_err(|e| format!("cannot checkpoint the status update: {}", error_chain(&e)))?;
        }
        stream.received.insert(uuid);
        stream.pending.push_back(update);
        if stream.pending.len() == 1 {
            self.forward_front(&key);
        }
        Ok(())
    }

    fn acknowledge(
        &mut self,
        framework_id: FrameworkId,
        task_id: TaskId,
        uuid: Vec<u8>,
    ) -> Result<bool, String> {
        let key = (framework_id, task_id);
        let Some(stream) = self.streams.get_mut(&key) else {
            return Err(format!("no status update stream for task {}", key.1.value));
        };
        if stream.acknowledged.contains(&uuid) {
            return Err("duplicate acknowledgement".to_owned());
        }
        let Some(front) = stream.pending.front() else {
            return Err("unexpected acknowledgement: nothing is pending".to_owned());
        };
        if uuid_of(front) != uuid {
            return Err("unexpected acknowledgement: not of the update in flight".to_owned());
        }
        if let Some(path) = &stream.checkpoint {
            let record = StatusUpdateRecord {
                r#type: RecordType::Ack as i32,
                update: None,
                uuid: Some(uuid.clone()),
            };
            checkpoint::append_message(path, &record).map_err(|e| {
                format!("cannot checkpoint the acknowledgement: {}", error_chain(&e))
            })?;
        }
        let acked = stream.pending.pop_front().expect("front exists");
        stream.acknowledged.insert(uuid);
        if let Some(timer) = stream.timer.take() {
            timer.cancel();
        }
        stream.interval = STATUS_UPDATE_RETRY_INTERVAL_MIN;
        if is_terminal(update_state(&acked)) {
            info!(task_id = %key.1.value, "terminal status update acknowledged");
            self.streams.remove(&key);
            return Ok(true);
        }
        self.forward_front(&key);
        Ok(false)
    }

    fn forward_front(&mut self, key: &StreamKey) {
        if self.paused {
            return;
        }
        let me = self.me.clone().expect("initialized");
        let Some(stream) = self.streams.get_mut(key) else {
            return;
        };
        let Some(front) = stream.pending.front().cloned() else {
            return;
        };
        if let Some(timer) = stream.timer.take() {
            timer.cancel();
        }
        let interval = stream.interval;
        let uuid = uuid_of(&front);
        let key2 = key.clone();
        stream.timer = Some(delay(interval, &me, move |p: &mut ManagerProcess| {
            p.retry(key2, uuid)
        }));
        debug!(task_id = %key.1.value, state = ?update_state(&front), "forwarding status update");
        (self.forward)(front);
    }

    fn retry(&mut self, key: StreamKey, uuid: Vec<u8>) {
        let Some(stream) = self.streams.get_mut(&key) else {
            return;
        };
        stream.timer = None;
        if stream.pending.front().map(uuid_of) != Some(uuid) {
            return;
        }
        stream.interval = (stream.interval * 2).min(STATUS_UPDATE_RETRY_INTERVAL_MAX);
        warn!(task_id = %key.1.value, "status update not acknowledged; resending");
        self.forward_front(&key);
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
