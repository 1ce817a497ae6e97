//! v0 <-> v1 conversion by re-encoding, as Mesos's `evolve`/`devolve` do.
//!
//! The v0 types (package `mesos`, "slave" naming) and the v1 types (package
//! `mesos.v1`, "agent" naming) share field numbers and types, so encoding
//! one and decoding the bytes as the other converts it: `SlaveInfo` becomes
//! `AgentInfo`, `TaskInfo.slave_id` becomes `TaskInfo.agent_id`, and enum
//! values keep their numbers (`SOURCE_SLAVE` is `SOURCE_AGENT`).
//!
//! One difference from Mesos: prost does not keep unknown fields, so a field
//! that exists on one side only is dropped (v0 `SlaveInfo.checkpoint`, field
//! 7, has no v1 counterpart). Unknown *enum values* survive, since prost
//! stores enums as `i32`.

use prost::Message;

use crate::{v0, v1};

/// A v0 type with a v1 twin of the same wire format.
pub trait Evolve: Message + Sized {
    /// The v1 twin.
    type Evolved: Message + Default + Devolve<Devolved = Self>;
}

/// A v1 type with a v0 twin of the same wire format.
pub trait Devolve: Message + Sized {
    /// The v0 twin.
    type Devolved: Message + Default;
}

/// Converts a v0 message to its v1 twin.
///
/// ```
/// use mesos_core::{convert::evolve, v0, v1};
/// let id = v0::SlaveId { value: "S1".into() };
/// let agent_id: v1::AgentId = evolve(&id);
/// assert_eq!(agent_id.value, "S1");
/// ```
pub fn evolve<V0: Evolve>(message: &V0) -> V0::Evolved {
    recode(message).expect("v0 and v1 twins share one wire format")
}

/// Converts a v1 message to its v0 twin.
pub fn devolve<V1: Devolve>(message: &V1) -> V1::Devolved {
    recode(message).expect("v0 and v1 twins share one wire format")
}

/// Re-encodes `message` as any type `B`: the general form of [`evolve`] and
/// [`devolve`], for pairs without an [`Evolve`] impl (nested types, say
/// `v0::resource::ReservationInfo` to `v1::resource::ReservationInfo`).
/// Fails only when the two types disagree on the wire.
pub fn recode<A: Message, B: Message + Default>(message: &A) -> Result<B, prost::DecodeError> {
    B::decode(message.encode_to_vec().as_slice())
}

macro_rules! twins {
    ($($v0:ty => $v1:ty,)*) => {
        $(
            impl Evolve for $v0 {
                type Evolved = $v1;
            }
            impl Devolve for $v1 {
                type Devolved = $v0;
            }
        )*
    };
}

twins! {
    v0::FrameworkId => v1::FrameworkId,
    v0::OfferId => v1::OfferId,
    v0::SlaveId => v1::AgentId,
    v0::TaskId => v1::TaskId,
    v0::ExecutorId => v1::ExecutorId,
    v0::ContainerId => v1::ContainerId,
    v0::ResourceProviderId => v1::ResourceProviderId,
    v0::OperationId => v1::OperationId,
    v0::TimeInfo => v1::TimeInfo,
    v0::DurationInfo => v1::DurationInfo,
    v0::Address => v1::Address,
    v0::Url => v1::Url,
    v0::Unavailability => v1::Unavailability,
    v0::MachineId => v1::MachineId,
    v0::MachineInfo => v1::MachineInfo,
    v0::FrameworkInfo => v1::FrameworkInfo,
    v0::CheckInfo => v1::CheckInfo,
    v0::HealthCheck => v1::HealthCheck,
    v0::KillPolicy => v1::KillPolicy,
    v0::CommandInfo => v1::CommandInfo,
    v0::ExecutorInfo => v1::ExecutorInfo,
    v0::DomainInfo => v1::DomainInfo,
    v0::MasterInfo => v1::MasterInfo,
    v0::SlaveInfo => v1::AgentInfo,
    v0::CsiPluginContainerInfo => v1::CsiPluginContainerInfo,
    v0::CsiPluginEndpoint => v1::CsiPluginEndpoint,
    v0::CsiPluginInfo => v1::CsiPluginInfo,
    v0::ResourceProviderInfo => v1::ResourceProviderInfo,
    v0::Value => v1::Value,
    v0::Attribute => v1::Attribute,
    v0::Resource => v1::Resource,
    v0::OfferFilters => v1::OfferFilters,
    v0::TrafficControlStatistics => v1::TrafficControlStatistics,
    v0::IpStatistics => v1::IpStatistics,
    v0::IcmpStatistics => v1::IcmpStatistics,
    v0::TcpStatistics => v1::TcpStatistics,
    v0::UdpStatistics => v1::UdpStatistics,
    v0::SnmpStatistics => v1::SnmpStatistics,
    v0::DiskStatistics => v1::DiskStatistics,
    v0::ResourceStatistics => v1::ResourceStatistics,
    v0::ResourceUsage => v1::ResourceUsage,
    v0::PerfStatistics => v1::PerfStatistics,
    v0::Request => v1::Request,
    v0::Offer => v1::Offer,
    v0::InverseOffer => v1::InverseOffer,
    v0::TaskInfo => v1::TaskInfo,
    v0::TaskGroupInfo => v1::TaskGroupInfo,
    v0::Task => v1::Task,
    v0::TaskResourceLimitation => v1::TaskResourceLimitation,
    v0::Uuid => v1::Uuid,
    v0::Operation => v1::Operation,
    v0::OperationStatus => v1::OperationStatus,
    v0::CheckStatusInfo => v1::CheckStatusInfo,
    v0::TaskStatus => v1::TaskStatus,
    v0::Filters => v1::Filters,
    v0::Environment => v1::Environment,
    v0::Parameter => v1::Parameter,
    v0::Parameters => v1::Parameters,
    v0::Credential => v1::Credential,
    v0::Credentials => v1::Credentials,
    v0::Secret => v1::Secret,
    v0::RateLimit => v1::RateLimit,
    v0::RateLimits => v1::RateLimits,
    v0::Image => v1::Image,
    v0::MountPropagation => v1::MountPropagation,
    v0::Volume => v1::Volume,
    v0::NetworkInfo => v1::NetworkInfo,
    v0::CapabilityInfo => v1::CapabilityInfo,
    v0::SeccompInfo => v1::SeccompInfo,
    v0::LinuxInfo => v1::LinuxInfo,
    v0::RLimitInfo => v1::RLimitInfo,
    v0::TtyInfo => v1::TtyInfo,
    v0::ContainerInfo => v1::ContainerInfo,
    v0::ContainerStatus => v1::ContainerStatus,
    v0::CgroupInfo => v1::CgroupInfo,
    v0::Labels => v1::Labels,
    v0::Label => v1::Label,
    v0::Port => v1::Port,
    v0::Ports => v1::Ports,
    v0::DiscoveryInfo => v1::DiscoveryInfo,
    v0::WeightInfo => v1::WeightInfo,
    v0::VersionInfo => v1::VersionInfo,
    v0::Flag => v1::Flag,
    v0::Role => v1::Role,
    v0::Metric => v1::Metric,
    v0::FileInfo => v1::FileInfo,
    v0::Device => v1::Device,
    v0::DeviceAccess => v1::DeviceAccess,
    v0::DeviceWhitelist => v1::DeviceWhitelist,
    v0::DrainConfig => v1::DrainConfig,
    v0::DrainInfo => v1::DrainInfo,
    v0::scheduler::Event => v1::scheduler::Event,
    v0::scheduler::Response => v1::scheduler::Response,
    v0::scheduler::AttributeConstraint => v1::scheduler::AttributeConstraint,
    v0::scheduler::OfferConstraints => v1::scheduler::OfferConstraints,
    v0::scheduler::Call => v1::scheduler::Call,
    v0::executor::Event => v1::executor::Event,
    v0::executor::Call => v1::executor::Call,
    v0::quota::QuotaInfo => v1::quota::QuotaInfo,
    v0::quota::QuotaRequest => v1::quota::QuotaRequest,
    v0::quota::QuotaConfig => v1::quota::QuotaConfig,
    v0::quota::QuotaStatus => v1::quota::QuotaStatus,
    v0::maintenance::Window => v1::maintenance::Window,
    v0::maintenance::Schedule => v1::maintenance::Schedule,
    v0::maintenance::ClusterStatus => v1::maintenance::ClusterStatus,
    v0::allocator::InverseOfferStatus => v1::allocator::InverseOfferStatus,
    v0::resource_provider::Event => v1::resource_provider::Event,
    v0::resource_provider::Call => v1::resource_provider::Call,
}

#[cfg(test)]
#[allow(deprecated)] // Resource.role is deprecated upstream; tests still set it
mod tests {
    use super::*;

    fn slave_info() -> v0::SlaveInfo {
        v0::SlaveInfo {
            hostname: "node1".into(),
            port: Some(5052),
            resources: vec![v0::Resource {
                name: "cpus".into(),
                r#type: v0::value::Type::Scalar as i32,
                scalar: Some(v0::value::Scalar { value: 4.0 }),
                role: Some("*".into()),
                ..Default::default()
            }],
            id: Some(v0::SlaveId {
                value: "m-S0".into(),
            }),
            checkpoint: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn slave_info_evolves_to_agent_info() {
        let agent: v1::AgentInfo = evolve(&slave_info());
        assert_eq!(agent.hostname, "node1");
        assert_eq!(agent.port(), 5052);
        assert_eq!(agent.id.as_ref().unwrap().value, "m-S0");
        assert_eq!(agent.resources[0].scalar.unwrap().value, 4.0);
        assert_eq!(agent.resources[0].role.as_deref(), Some("*"));

        // Back again: everything but the v0-only `checkpoint` survives.
        let back = devolve(&agent);
        assert_eq!(
            back,
            v0::SlaveInfo {
                checkpoint: None,
                ..slave_info()
            }
        );
    }

    #[test]
    fn task_info_slave_id_becomes_agent_id() {
        let task = v0::TaskInfo {
            name: "t".into(),
            task_id: v0::TaskId {
                value: "t-1".into(),
            },
            slave_id: v0::SlaveId { value: "S1".into() },
            command: Some(v0::CommandInfo {
                value: Some("sleep 10".into()),
                ..Default::default()
            }),
            data: Some(vec![0, 1, 2]),
            ..Default::default()
        };
        let v1_task: v1::TaskInfo = evolve(&task);
        assert_eq!(v1_task.agent_id.value, "S1");
        assert_eq!(v1_task.task_id.value, "t-1");
        assert_eq!(v1_task.command.as_ref().unwrap().value(), "sleep 10");
        assert_eq!(devolve(&v1_task), task);
    }

    #[test]
    fn enums_keep_their_numbers() {
        let status = v0::TaskStatus {
            task_id: v0::TaskId { value: "t".into() },
            state: v0::TaskState::TaskRunning as i32,
            source: Some(v0::task_status::Source::Slave as i32),
            reason: Some(v0::task_status::Reason::SlaveRemoved as i32),
            ..Default::default()
        };
        let evolved: v1::TaskStatus = evolve(&status);
        assert_eq!(evolved.state(), v1::TaskState::TaskRunning);
        assert_eq!(evolved.source(), v1::task_status::Source::Agent);
        assert_eq!(evolved.reason(), v1::task_status::Reason::AgentRemoved);
    }

    #[test]
    fn unknown_enum_values_survive() {
        // QUOTA_V2 (3) exists in v0 MasterInfo.Capability but not in v1.
        let cap = v0::master_info::Capability {
            r#type: Some(v0::master_info::capability::Type::QuotaV2 as i32),
        };
        let master = v0::MasterInfo {
            capabilities: vec![cap],
            ..Default::default()
        };
        let evolved: v1::MasterInfo = evolve(&master);
        assert_eq!(evolved.capabilities[0].r#type, Some(3));
        assert_eq!(devolve(&evolved), master);
    }

    #[test]
    fn nested_types_recode() {
        let call = v0::scheduler::call::Acknowledge {
            slave_id: v0::SlaveId { value: "S".into() },
            task_id: v0::TaskId { value: "t".into() },
            uuid: vec![7; 16],
        };
        let v1_call: v1::scheduler::call::Acknowledge = recode(&call).unwrap();
        assert_eq!(v1_call.agent_id.value, "S");
        assert_eq!(v1_call.uuid, vec![7; 16]);
    }

    #[test]
    fn every_twin_pair_round_trips_its_default() {
        fn check<V0: Evolve + Default + PartialEq + std::fmt::Debug>() {
            let v0 = V0::default();
            assert_eq!(devolve(&evolve(&v0)), v0);
        }
        check::<v0::FrameworkInfo>();
        check::<v0::Offer>();
        check::<v0::scheduler::Call>();
        check::<v0::executor::Event>();
        check::<v0::quota::QuotaConfig>();
    }
}
