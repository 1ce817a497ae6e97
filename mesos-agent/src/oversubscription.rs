//! Oversubscription: the resource estimator and the QoS controller the agent consults, with
//! upstream's defaults, the no-op ones (`src/slave/resource_estimators/noop.cpp`,
//! `src/slave/qos_controllers/noop.cpp`).
//!
//! The agent asks the estimator for the revocable resources it may offer
//! ([`ResourceEstimator::oversubscribable`]) and the controller for corrections
//! ([`QosController::corrections`]), and asks again each time an answer arrives. The no-op
//! ones never answer: their futures stay pending, so an agent with them never offers
//! revocable resources and never kills for QoS. Both refuse a second `initialize`, and
//! fail their calls before the first, as upstream.

use libprocess::{Future, Pid, Process, Promise, call};
use mesos_core::resources::Resources;
use mesos_core::v0::{ContainerId, ExecutorId, FrameworkId, ResourceUsage};

/// How the agent's resource usage is obtained (the agent's `usage()`), handed to the
/// estimator and the controller at `initialize`.
pub type UsageCallback = Box<dyn Fn() -> Future<ResourceUsage> + Send + Sync>;

/// A QoS correction: what the controller asks the agent to do to a container.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum QosCorrection {
    /// Kill this executor's container (its revocable tasks go with it).
    Kill {
        /// The framework.
        framework_id: Option<FrameworkId>,
        /// The executor.
        executor_id: Option<ExecutorId>,
        /// The container.
        container_id: Option<ContainerId>,
    },
}

/// Estimates the revocable resources the agent may offer (`--resource_estimator`).
pub trait ResourceEstimator: Send {
    /// Takes the usage callback; called once.
    fn initialize(&mut self, usage: UsageCallback) -> Result<(), String>;
    /// The revocable resources now available; the agent asks again once it is answered.
    fn oversubscribable(&self) -> Future<Resources>;
}

/// Decides corrections against revocable tasks (`--qos_controller`).
pub trait QosController: Send {
    /// Takes the usage callback; called once.
    fn initialize(&mut self, usage: UsageCallback) -> Result<(), String>;
    /// The next corrections; the agent asks again once it is answered.
    fn corrections(&self) -> Future<Vec<QosCorrection>>;
}

/// Holds the one future the no-op components hand out, never completed.
struct NeverProcess<T: Clone + Send + Sync + 'static> {
    never: Promise<T>,
}

impl<T: Clone + Send + Sync + 'static> Process for NeverProcess<T> {}

/// Upstream's default estimator: never offers revocable resources.
#[derive(Debug, Default)]
pub struct NoopResourceEstimator {
    pid: Option<Pid<NeverProcess<Resources>>>,
}

impl NoopResourceEstimator {
    /// An estimator not yet initialized.
    pub fn new() -> NoopResourceEstimator {
        NoopResourceEstimator::default()
    }
}

impl ResourceEstimator for NoopResourceEstimator {
    fn initialize(&mut self, _usage: UsageCallback) -> Result<(), String> {
        if self.pid.is_some() {
            return Err("Noop resource estimator has already been initialized".to_owned());
        }
        self.pid = Some(libprocess::spawn(NeverProcess {
            never: Promise::new(),
        }));
        Ok(())
    }

    fn oversubscribable(&self) -> Future<Resources> {
        match &self.pid {
            None => Future::failed("Noop resource estimator is not initialized"),
            Some(pid) => call(pid, |p: &mut NeverProcess<Resources>| p.never.future()).flatten(),
        }
    }
}

impl Drop for NoopResourceEstimator {
    fn drop(&mut self) {
        if let Some(pid) = &self.pid {
            libprocess::terminate(pid);
        }
    }
}

/// Upstream's default QoS controller: never asks for a correction.
#[derive(Debug, Default)]
pub struct NoopQosController {
    pid: Option<Pid<NeverProcess<Vec<QosCorrection>>>>,
}

impl NoopQosController {
    /// A controller not yet initialized.
    pub fn new() -> NoopQosController {
        NoopQosController::default()
    }
}

impl QosController for NoopQosController {
    fn initialize(&mut self, _usage: UsageCallback) -> Result<(), String> {
        if self.pid.is_some() {
            return Err("Noop QoS Controller has already been initialized".to_owned());
        }
        self.pid = Some(libprocess::spawn(NeverProcess {
            never: Promise::new(),
        }));
        Ok(())
    }

    fn corrections(&self) -> Future<Vec<QosCorrection>> {
        match &self.pid {
            None => Future::failed("Noop QoS Controller is not initialized"),
            Some(pid) => call(pid, |p: &mut NeverProcess<Vec<QosCorrection>>| {
                p.never.future()
            })
            .flatten(),
        }
    }
}

impl Drop for NoopQosController {
    fn drop(&mut self) {
        if let Some(pid) = &self.pid {
            libprocess::terminate(pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libprocess::Runtime;
    use std::time::Duration;

    fn no_usage() -> UsageCallback {
        Box::new(|| Future::ready(ResourceUsage::default()))
    }

    #[test]
    fn noop_estimator_never_answers_and_refuses_a_second_initialize() {
        let runtime = Runtime::new();
        let _guard = runtime.enter();
        let mut estimator = NoopResourceEstimator::new();
        assert!(estimator.oversubscribable().is_failed());
        estimator.initialize(no_usage()).unwrap();
        assert!(estimator.initialize(no_usage()).is_err());
        let answer = estimator.oversubscribable();
        assert!(!answer.await_for(Duration::from_millis(50)));
        assert!(answer.is_pending());
    }

    #[test]
    fn noop_qos_controller_never_corrects() {
        let runtime = Runtime::new();
        let _guard = runtime.enter();
        let mut controller = NoopQosController::new();
        assert!(controller.corrections().is_failed());
        controller.initialize(no_usage()).unwrap();
        assert!(controller.initialize(no_usage()).is_err());
        let answer = controller.corrections();
        assert!(!answer.await_for(Duration::from_millis(50)));
        assert!(answer.is_pending());
    }
}
