//! What the v1 APIs put on the wire: the two content types, calls and events encoded in
//! each, and the RecordIO stream of events a `SUBSCRIBE` answers with.
//!
//! A client picks one [`ContentType`] and uses it both ways: as the `Content-Type` of its calls
//! and as the `Accept` of its `SUBSCRIBE`, so that the events come back in the same encoding.
//! JSON follows Mesos's mapping (`mesos_core::json`: proto field names, enums as names,
//! bytes as base64).

use bytes::Bytes;
use libprocess::Future;
use libprocess::http::{Body, PipeReader, Response};
use prost::{Message, Name};
use stout::recordio::{Decoder, RecordIoError};

/// `application/json`.
pub const APPLICATION_JSON: &str = "application/json";
/// `application/x-protobuf`.
pub const APPLICATION_PROTOBUF: &str = "application/x-protobuf";

/// The encoding of calls and events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// Serialized protobuf, as Mesos's own executors and the C++ scheduler library speak.
    #[default]
    Protobuf,
    /// Mesos's JSON mapping, as pymesos and most other clients speak.
    Json,
}

/// Why a call or an event could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not a valid serialized protobuf of the expected type.
    #[error("invalid protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// Not valid UTF-8, so not JSON.
    #[error("invalid JSON: not UTF-8")]
    NotUtf8,
    /// Not valid JSON of the expected message.
    #[error("invalid JSON: {0}")]
    Json(#[from] mesos_core::json::JsonError),
}

impl ContentType {
    /// The media type, as sent in `Content-Type` and `Accept`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Protobuf => APPLICATION_PROTOBUF,
            ContentType::Json => APPLICATION_JSON,
        }
    }

    /// The content type a `Content-Type` header names (parameters such as `; charset=utf-8`
    /// are ignored), if it is one of the two.
    pub fn from_header(value: &str) -> Option<ContentType> {
        let media = value.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case(APPLICATION_JSON) {
            Some(ContentType::Json)
        } else if media.eq_ignore_ascii_case(APPLICATION_PROTOBUF) {
            Some(ContentType::Protobuf)
        } else {
            None
        }
    }

    /// Encodes `message`.
    pub fn encode<M: Message + Name>(self, message: &M) -> Bytes {
        match self {
            ContentType::Protobuf => Bytes::from(message.encode_to_vec()),
            ContentType::Json => Bytes::from(mesos_core::json::to_string(message)),
        }
    }

    /// Decodes an `M`.
    pub fn decode<M: Message + Name + Default>(self, bytes: &[u8]) -> Result<M, DecodeError> {
        match self {
            ContentType::Protobuf => Ok(M::decode(bytes)?),
            ContentType::Json => {
                let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)?;
                Ok(mesos_core::json::from_str(text)?)
            }
        }
    }
}

impl std::fmt::Display for ContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The RecordIO body of a subscription: the pipe it arrives on and the decoder that finds the
/// records in its chunks, wherever the chunks cut them.
#[derive(Debug)]
pub(crate) struct RecordStream {
    pub(crate) reader: PipeReader,
    decoder: Decoder,
}

impl RecordStream {
    pub(crate) fn new(reader: PipeReader) -> RecordStream {
        RecordStream {
            reader,
            decoder: Decoder::new(),
        }
    }

    /// The records `chunk` completes, in order.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Bytes>, RecordIoError> {
        self.decoder.decode(chunk)
    }

    /// Whether the stream ended between two records.
    pub(crate) fn finish(&self) -> Result<(), RecordIoError> {
        self.decoder.finish()
    }

    /// The events that `chunk` (the outcome of one read of the stream) completes, in order. A
    /// record that does not decode becomes the ERROR event `error_event` makes, as upstream's
    /// libraries do. `Err` says why the stream is over: `peer` closed it, it failed, or it
    /// broke off inside a record.
    pub(crate) fn events<E: Message + Name + Default>(
        &mut self,
        chunk: &Future<Option<Bytes>>,
        content_type: ContentType,
        peer: &str,
        error_event: fn(String) -> E,
    ) -> Result<Vec<E>, String> {
        let chunk = match chunk.result() {
            Some(Ok(Some(chunk))) => chunk,
            Some(Ok(None)) => {
                return Err(match self.finish() {
                    Ok(()) => format!("the {peer} closed the event stream"),
                    Err(e) => format!("the event stream ended inside a record: {e}"),
                });
            }
            _ => {
                return Err(format!(
                    "the event stream failed: {}",
                    chunk.failure().unwrap_or("discarded")
                ));
            }
        };
        let records = self
            .feed(chunk)
            .map_err(|e| format!("failed to decode the event stream: {e}"))?;
        Ok(records
            .iter()
            .map(|record| {
                content_type
                    .decode::<E>(record)
                    .unwrap_or_else(|e| error_event(format!("Failed to de-serialize event: {e}")))
            })
            .collect())
    }
}

/// The body of an answer as text, for error messages.
pub(crate) fn body_text(response: &Response) -> String {
    match &response.body {
        Body::Full(bytes) => String::from_utf8_lossy(bytes).trim().to_string(),
        Body::Stream(_) => String::new(),
    }
}

/// A number in `[0, 1)` for randomised backoff, from a random UUID's bits.
pub(crate) fn random_fraction() -> f64 {
    let bytes: [u8; 16] = stout::Uuid::random().into();
    let mut word = [0_u8; 8];
    word.copy_from_slice(&bytes[..8]);
    // 53 random bits make every double in [0, 1) on a grid of 2^-53.
    (u64::from_le_bytes(word) >> 11) as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_core::v1;
    use mesos_core::v1::executor::{Call, call};

    fn call() -> Call {
        Call {
            executor_id: v1::ExecutorId { value: "e".into() },
            framework_id: v1::FrameworkId { value: "f".into() },
            r#type: Some(call::Type::Message as i32),
            message: Some(call::Message {
                data: b"hi\n".to_vec(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn both_content_types_round_trip() {
        for content_type in [ContentType::Json, ContentType::Protobuf] {
            let bytes = content_type.encode(&call());
            assert_eq!(content_type.decode::<Call>(&bytes).unwrap(), call());
        }
    }

    #[test]
    fn json_is_mesos_mapping() {
        let text = ContentType::Json.encode(&call());
        assert_eq!(
            text,
            r#"{"executor_id":{"value":"e"},"framework_id":{"value":"f"},"type":"MESSAGE","message":{"data":"aGkK"}}"#
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            ContentType::Json.decode::<Call>(b"\xff"),
            Err(DecodeError::NotUtf8)
        ));
        assert!(matches!(
            ContentType::Json.decode::<Call>(b"{\"type\":\"MESSAGE\"}"),
            Err(DecodeError::Json(_))
        ));
        assert!(ContentType::Protobuf.decode::<Call>(b"\xff\xff").is_err());
    }

    #[test]
    fn header_parsing() {
        assert_eq!(
            ContentType::from_header("application/json; charset=utf-8"),
            Some(ContentType::Json)
        );
        assert_eq!(
            ContentType::from_header("application/x-protobuf"),
            Some(ContentType::Protobuf)
        );
        assert_eq!(ContentType::from_header("text/plain"), None);
    }

    #[test]
    fn random_fraction_in_range() {
        for _ in 0..1000 {
            let x = random_fraction();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
