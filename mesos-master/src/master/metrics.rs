//! The master's cumulative counters, by their upstream names (`src/master/metrics.cpp`,
//! `docs/monitoring.md`): tasks that entered each terminal state, the messages the master
//! received by kind, and how many status updates, acknowledgements and executor/framework
//! messages were valid. They count events since the master started, unlike the gauges of
//! `http/endpoints.rs` (`master/tasks_running`, ...), which count what the master holds.
//!
//! The counters live in [`MasterState::counters`](super::state::MasterState::counters);
//! the master's handlers bump them, `/metrics/snapshot` reads them through
//! [`Counters::get`].

use mesos_core::v0::TaskState;

macro_rules! counters {
    ($($field:ident),* $(,)?) => {
        /// Cumulative counters of the master (see the module's documentation).
        #[derive(Debug, Default, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Counters {
            $(
                #[doc = concat!("`master/", stringify!($field), "`")]
                pub $field: u64,
            )*
        }

        /// The names of the counters, as `/metrics/snapshot` lists them.
        pub const COUNTER_METRICS: &[&str] = &[$(concat!("master/", stringify!($field))),*];

        impl Counters {
            /// The value of counter `name` (`master/tasks_finished` or `tasks_finished`),
            /// `None` if there is no such counter.
            pub fn get(&self, name: &str) -> Option<f64> {
                let name = name.strip_prefix("master/").unwrap_or(name);
                match name {
                    $(stringify!($field) => Some(self.$field as f64),)*
                    _ => None,
                }
            }
        }
    };
}

counters! {
    tasks_finished,
    tasks_failed,
    tasks_killed,
    tasks_lost,
    tasks_error,
    tasks_dropped,
    tasks_gone,
    tasks_gone_by_operator,
    dropped_messages,
    messages_register_framework,
    messages_reregister_framework,
    messages_unregister_framework,
    messages_deactivate_framework,
    messages_kill_task,
    messages_status_update_acknowledgement,
    messages_resource_request,
    messages_launch_tasks,
    messages_decline_offers,
    messages_revive_offers,
    messages_suppress_offers,
    messages_reconcile_tasks,
    messages_framework_to_executor,
    messages_executor_to_framework,
    messages_register_slave,
    messages_reregister_slave,
    messages_unregister_slave,
    messages_status_update,
    messages_exited_executor,
    messages_update_slave,
    messages_authenticate,
    valid_framework_to_executor_messages,
    invalid_framework_to_executor_messages,
    valid_executor_to_framework_messages,
    invalid_executor_to_framework_messages,
    valid_status_updates,
    invalid_status_updates,
    valid_status_update_acknowledgements,
    invalid_status_update_acknowledgements,
    slave_registrations,
    slave_reregistrations,
    slave_removals,
}

impl Counters {
    /// A task entered `state`: the terminal states are counted (`tasks_finished`, ...);
    /// the others are gauges of the tasks the master holds.
    pub fn task_entered(&mut self, state: TaskState) {
        let counter = match state {
            TaskState::TaskFinished => &mut self.tasks_finished,
            TaskState::TaskFailed => &mut self.tasks_failed,
            TaskState::TaskKilled => &mut self.tasks_killed,
            TaskState::TaskLost => &mut self.tasks_lost,
            TaskState::TaskError => &mut self.tasks_error,
            TaskState::TaskDropped => &mut self.tasks_dropped,
            TaskState::TaskGone => &mut self.tasks_gone,
            TaskState::TaskGoneByOperator => &mut self.tasks_gone_by_operator,
            _ => return,
        };
        *counter += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_as_upstream_and_count_terminal_states() {
        let mut counters = Counters::default();
        assert!(COUNTER_METRICS.contains(&"master/tasks_finished"));
        assert!(COUNTER_METRICS.contains(&"master/messages_reregister_slave"));
        assert!(COUNTER_METRICS.contains(&"master/invalid_status_update_acknowledgements"));
        counters.task_entered(TaskState::TaskFinished);
        counters.task_entered(TaskState::TaskFinished);
        counters.task_entered(TaskState::TaskRunning);
        counters.task_entered(TaskState::TaskGoneByOperator);
        assert_eq!(counters.get("master/tasks_finished"), Some(2.0));
        assert_eq!(counters.get("tasks_gone_by_operator"), Some(1.0));
        assert_eq!(counters.get("master/tasks_running"), None);
        assert_eq!(counters.get("master/no_such_counter"), None);
    }
}
