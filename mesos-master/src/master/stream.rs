//! A subscribed scheduler's event stream: a pipe whose reader is the body of the SUBSCRIBE
//! response, RecordIO framed, each record a `mesos.v1.scheduler.Event` in the encoding the
//! scheduler accepted. The master computes with v0 events and converts them here.

use libprocess::http::PipeWriter;
use mesos_core::convert::evolve;
use mesos_core::v0;
use prost::Message;

/// `application/json`.
pub const APPLICATION_JSON: &str = "application/json";
/// `application/x-protobuf`.
pub const APPLICATION_PROTOBUF: &str = "application/x-protobuf";

/// The encoding of a request or a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// Mesos's JSON mapping.
    Json,
    /// Serialized protobuf.
    Protobuf,
}

impl ContentType {
    /// The media type.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Json => APPLICATION_JSON,
            ContentType::Protobuf => APPLICATION_PROTOBUF,
        }
    }

    /// Encodes a v1 message.
    pub fn encode<M: Message + prost::Name>(self, message: &M) -> Vec<u8> {
        match self {
            ContentType::Json => mesos_core::json::to_string(message).into_bytes(),
            ContentType::Protobuf => message.encode_to_vec(),
        }
    }
}

/// One scheduler event stream.
#[derive(Debug, Clone)]
pub struct EventStream {
    /// Writes records to the scheduler.
    pub writer: PipeWriter,
    /// How records are encoded.
    pub content_type: ContentType,
    /// The `Mesos-Stream-Id` given at subscription.
    pub stream_id: String,
}

impl EventStream {
    /// Sends one event; false if the scheduler has gone.
    pub fn send(&self, event: &v0::scheduler::Event) -> bool {
        let event = evolve(event);
        let record = self.content_type.encode(&event);
        self.writer.write(stout::recordio::encode(&record))
    }

    /// Closes the stream.
    pub fn close(&self) {
        self.writer.close();
    }
}

/// Builders of the v0 events the master sends.
pub mod events {
    use mesos_core::v0;
    use mesos_core::v0::scheduler::event;
    use mesos_core::v0::scheduler::event::Type;

    fn of(kind: Type) -> v0::scheduler::Event {
        let mut event = v0::scheduler::Event::default();
        event.set_type(kind);
        event
    }

    /// SUBSCRIBED.
    pub fn subscribed(
        framework_id: v0::FrameworkId,
        heartbeat_interval_seconds: f64,
        master_info: v0::MasterInfo,
    ) -> v0::scheduler::Event {
        let mut e = of(Type::Subscribed);
        e.subscribed = Some(event::Subscribed {
            framework_id,
            heartbeat_interval_seconds: Some(heartbeat_interval_seconds),
            master_info: Some(master_info),
        });
        e
    }

    /// HEARTBEAT.
    pub fn heartbeat() -> v0::scheduler::Event {
        of(Type::Heartbeat)
    }

    /// OFFERS.
    pub fn offers(offers: Vec<v0::Offer>) -> v0::scheduler::Event {
        let mut e = of(Type::Offers);
        e.offers = Some(event::Offers { offers });
        e
    }

    /// RESCIND.
    pub fn rescind(offer_id: v0::OfferId) -> v0::scheduler::Event {
        let mut e = of(Type::Rescind);
        e.rescind = Some(event::Rescind { offer_id });
        e
    }

    /// UPDATE.
    pub fn update(status: v0::TaskStatus) -> v0::scheduler::Event {
        let mut e = of(Type::Update);
        e.update = Some(event::Update { status });
        e
    }

    /// MESSAGE.
    pub fn message(
        agent_id: v0::SlaveId,
        executor_id: v0::ExecutorId,
        data: Vec<u8>,
    ) -> v0::scheduler::Event {
        let mut e = of(Type::Message);
        e.message = Some(event::Message {
            slave_id: agent_id,
            executor_id,
            data,
        });
        e
    }

    /// FAILURE: an agent was lost (no executor), or an executor exited.
    pub fn failure(
        agent_id: v0::SlaveId,
        executor_id: Option<v0::ExecutorId>,
        status: Option<i32>,
    ) -> v0::scheduler::Event {
        let mut e = of(Type::Failure);
        e.failure = Some(event::Failure {
            slave_id: Some(agent_id),
            executor_id,
            status,
        });
        e
    }

    /// ERROR.
    pub fn error(message: impl Into<String>) -> v0::scheduler::Event {
        let mut e = of(Type::Error);
        e.error = Some(event::Error {
            message: message.into(),
        });
        e
    }
}
