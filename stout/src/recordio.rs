//! RecordIO framing, as Mesos streams events: each record is `<decimal byte length>\n<record bytes>`,
//! with nothing between records (stout's `recordio.hpp`, Mesos's `docs/recordio.md`).
//!
//! [`encode`] frames one record. [`Decoder`] is fed the stream in chunks of any size (a record may span
//! chunks, a chunk may hold several records, a length header may be cut anywhere) and hands back whole
//! records. A record longer than the decoder's maximum, or a length header that is not 1 to 20 ASCII
//! digits, is an error; after an error the decoder stays failed, since it can no longer tell where the
//! next record starts.
//!
//! ```
//! use stout::recordio::{encode, Decoder};
//! let mut stream = Vec::new();
//! stream.extend_from_slice(&encode(b"hello"));
//! stream.extend_from_slice(&encode(b"world!"));
//! assert_eq!(&stream[..], b"5\nhello6\nworld!");
//!
//! let mut decoder = Decoder::new();
//! let mut records = decoder.decode(&stream[..7]).unwrap();   // "5\nhell" + "o6"
//! records.extend(decoder.decode(&stream[7..]).unwrap());
//! assert_eq!(records, [&b"hello"[..], &b"world!"[..]]);
//! ```

use std::io::Write as _;

use bytes::{Buf as _, Bytes, BytesMut};

/// The maximum record size of [`Decoder::new`]: 256 MiB, far above any event Mesos sends.
pub const DEFAULT_MAX_RECORD_SIZE: usize = 256 * 1024 * 1024;

/// The longest length header accepted, in digits (`u64::MAX` has 20).
const MAX_HEADER_DIGITS: usize = 20;

/// Why a RecordIO stream could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordIoError {
    /// The length header holds something other than ASCII digits, or no digit at all.
    #[error("invalid record length header '{}'", .header.escape_ascii())]
    InvalidHeader {
        /// The header bytes up to and including the offending byte.
        header: Vec<u8>,
    },
    /// The length header runs past 20 digits without a newline.
    #[error("record length header longer than {MAX_HEADER_DIGITS} digits")]
    HeaderTooLong,
    /// The record announced is longer than the decoder accepts.
    #[error("record of {length} bytes exceeds the maximum record size of {max} bytes")]
    RecordTooLarge {
        /// The length announced (or, when the header is still arriving, a lower bound of it).
        length: u64,
        /// The decoder's maximum record size.
        max: usize,
    },
    /// The stream ended inside a record or its header.
    #[error("stream ended inside a record ({buffered} bytes of it buffered)")]
    Truncated {
        /// Bytes received of the unfinished header or record.
        buffered: usize,
    },
    /// The decoder failed earlier and cannot find the next record boundary.
    #[error("decoder failed earlier; no records can be decoded from this stream any more")]
    Failed,
}

/// Frames one record: `<len>\n<record>`.
pub fn encode(record: &[u8]) -> Bytes {
    let mut dst = BytesMut::with_capacity(record.len() + MAX_HEADER_DIGITS + 1);
    encode_into(record, &mut dst);
    dst.freeze()
}

/// Appends one framed record, `<len>\n<record>`, to `dst`.
pub fn encode_into(record: &[u8], dst: &mut BytesMut) {
    let mut header = [0_u8; MAX_HEADER_DIGITS + 1];
    let mut cursor = &mut header[..];
    writeln!(cursor, "{}", record.len()).expect("a usize has at most 20 digits");
    let header_len = MAX_HEADER_DIGITS + 1 - cursor.len();
    dst.reserve(header_len + record.len());
    dst.extend_from_slice(&header[..header_len]);
    dst.extend_from_slice(record);
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Reading the length header; `digits` digits seen so far, worth `length`.
    Header { digits: usize, length: u64 },
    /// Waiting for `length` bytes of record.
    Record { length: usize },
    /// An error happened; the stream is unusable.
    Failed,
}

/// Incremental RecordIO decoder: feed it chunks, take whole records out.
///
/// Records come out as [`Bytes`] split off the decoder's buffer, without copying. A zero-length record
/// (`0\n`) decodes to an empty record, as in stout, though Mesos never sends one.
#[derive(Debug)]
pub struct Decoder {
    buffer: BytesMut,
    state: State,
    max_record_size: usize,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder that accepts records up to [`DEFAULT_MAX_RECORD_SIZE`].
    pub fn new() -> Decoder {
        Decoder::with_max_record_size(DEFAULT_MAX_RECORD_SIZE)
    }

    /// A decoder that rejects records longer than `max_record_size` bytes.
    pub fn with_max_record_size(max_record_size: usize) -> Decoder {
        Decoder {
            buffer: BytesMut::new(),
            state: State::Header {
                digits: 0,
                length: 0,
            },
            max_record_size,
        }
    }

    /// The largest record this decoder accepts, in bytes.
    pub fn max_record_size(&self) -> usize {
        self.max_record_size
    }

    /// Appends a chunk of the stream. Take records out with [`Decoder::next_record`].
    pub fn feed(&mut self, chunk: &[u8]) {
        if !matches!(self.state, State::Failed) {
            self.buffer.extend_from_slice(chunk);
        }
    }

    /// The next whole record, or `Ok(None)` until more of the stream is fed.
    ///
    /// An error leaves the decoder failed: every later call returns [`RecordIoError::Failed`].
    pub fn next_record(&mut self) -> Result<Option<Bytes>, RecordIoError> {
        loop {
            match self.state {
                State::Failed => return Err(RecordIoError::Failed),
                State::Header { digits, length } => match self.read_header(digits, length) {
                    Ok(true) => {}
                    Ok(false) => return Ok(None),
                    Err(e) => {
                        self.state = State::Failed;
                        self.buffer = BytesMut::new();
                        return Err(e);
                    }
                },
                State::Record { length } => {
                    if self.buffer.len() < length {
                        // Grow once to the whole record rather than by doubling, now that the
                        // length is known (and bounded by the maximum).
                        self.buffer.reserve(length - self.buffer.len());
                        return Ok(None);
                    }
                    self.state = State::Header {
                        digits: 0,
                        length: 0,
                    };
                    return Ok(Some(self.buffer.split_to(length).freeze()));
                }
            }
        }
    }

    /// Feeds `chunk` and returns every record it completes, in order.
    ///
    /// On an error the records completed before the bad header are lost, as in stout; use
    /// [`Decoder::feed`] and [`Decoder::next_record`] to keep them.
    pub fn decode(&mut self, chunk: &[u8]) -> Result<Vec<Bytes>, RecordIoError> {
        if matches!(self.state, State::Failed) {
            return Err(RecordIoError::Failed);
        }
        self.feed(chunk);
        let mut records = Vec::new();
        while let Some(record) = self.next_record()? {
            records.push(record);
        }
        Ok(records)
    }

    /// Checks that the stream ended between two records, once the sender has closed it.
    pub fn finish(&self) -> Result<(), RecordIoError> {
        match self.state {
            State::Failed => Err(RecordIoError::Failed),
            State::Header { digits: 0, .. } if self.buffer.is_empty() => Ok(()),
            State::Header { digits, .. } => Err(RecordIoError::Truncated {
                buffered: digits + self.buffer.len(),
            }),
            State::Record { .. } => Err(RecordIoError::Truncated {
                buffered: self.buffer.len(),
            }),
        }
    }

    /// Consumes header bytes from the buffer. `Ok(true)` once the header is complete (state is then
    /// `Record`), `Ok(false)` if the buffer ran out first (progress saved in the state).
    fn read_header(&mut self, mut digits: usize, mut length: u64) -> Result<bool, RecordIoError> {
        let mut consumed = 0;
        let mut complete = false;
        for &byte in self.buffer.iter() {
            consumed += 1;
            match byte {
                b'\n' if digits > 0 => {
                    complete = true;
                    break;
                }
                b'0'..=b'9' => {
                    digits += 1;
                    if digits > MAX_HEADER_DIGITS {
                        return Err(RecordIoError::HeaderTooLong);
                    }
                    // More digits only make the length larger, so fail as soon as it is too big
                    // rather than buffering the rest of a header we will reject anyway.
                    length = length
                        .checked_mul(10)
                        .and_then(|l| l.checked_add(u64::from(byte - b'0')))
                        .ok_or(RecordIoError::HeaderTooLong)?;
                    if length > self.max_record_size as u64 {
                        return Err(RecordIoError::RecordTooLarge {
                            length,
                            max: self.max_record_size,
                        });
                    }
                }
                _ => {
                    // Report the digits seen so far (already consumed, so rebuilt from their
                    // value, leading zeros included) and the bad byte.
                    let value = if digits > 0 {
                        length.to_string()
                    } else {
                        String::new()
                    };
                    let mut header = "0".repeat(digits - value.len()).into_bytes();
                    header.extend_from_slice(value.as_bytes());
                    header.push(byte);
                    return Err(RecordIoError::InvalidHeader { header });
                }
            }
        }
        self.buffer.advance(consumed);
        self.state = if complete {
            State::Record {
                length: usize::try_from(length)
                    .expect("length was checked against a usize maximum"),
            }
        } else {
            State::Header { digits, length }
        };
        Ok(complete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(decoder: &mut Decoder, chunks: &[&[u8]]) -> Vec<Bytes> {
        let mut records = Vec::new();
        for chunk in chunks {
            records.extend(decoder.decode(chunk).expect("valid stream"));
        }
        records
    }

    #[test]
    fn encodes_length_newline_record() {
        assert_eq!(&encode(b"hello")[..], b"5\nhello");
        assert_eq!(&encode(b"")[..], b"0\n");
        let mut dst = BytesMut::new();
        encode_into(b"{}", &mut dst);
        encode_into(&[b'x'; 12], &mut dst);
        assert_eq!(&dst[..], b"2\n{}12\nxxxxxxxxxxxx");
    }

    #[test]
    fn decodes_several_records_in_one_chunk() {
        let mut decoder = Decoder::new();
        let records = decode_all(&mut decoder, &[b"5\nhello6\nworld!1\n{"]);
        assert_eq!(records, [&b"hello"[..], b"world!", b"{"]);
        decoder.finish().unwrap();
    }

    #[test]
    fn decodes_records_and_headers_split_across_chunks() {
        let mut decoder = Decoder::new();
        let records = decode_all(
            &mut decoder,
            &[
                b"1", b"2", b"\nhello", b" ", b"world!", b"1", b"", b"\n", b"x",
            ],
        );
        assert_eq!(records, [&b"hello world!"[..], b"x"]);
        decoder.finish().unwrap();
    }

    #[test]
    fn decodes_byte_by_byte() {
        let stream = b"3\nabc0\n10\n0123456789";
        let mut decoder = Decoder::new();
        let chunks: Vec<&[u8]> = stream.chunks(1).collect();
        let records = decode_all(&mut decoder, &chunks);
        assert_eq!(records, [&b"abc"[..], b"", b"0123456789"]);
    }

    #[test]
    fn records_may_hold_newlines_and_binary() {
        let record = b"\n5\n\x00\xff";
        let mut decoder = Decoder::new();
        assert_eq!(decoder.decode(&encode(record)).unwrap(), [&record[..]]);
    }

    #[test]
    fn rejects_records_over_the_maximum() {
        let mut decoder = Decoder::with_max_record_size(10);
        assert_eq!(decoder.max_record_size(), 10);
        assert_eq!(decoder.decode(b"10\n0123456789").unwrap().len(), 1);
        assert_eq!(
            decoder.decode(b"11\n"),
            Err(RecordIoError::RecordTooLarge {
                length: 11,
                max: 10
            })
        );
        assert_eq!(decoder.decode(b"1\nx"), Err(RecordIoError::Failed));
        assert_eq!(decoder.finish(), Err(RecordIoError::Failed));

        // Detected while the header is still arriving.
        let mut decoder = Decoder::with_max_record_size(1000);
        assert_eq!(decoder.decode(b"99").unwrap(), Vec::<Bytes>::new());
        let err = decoder.decode(b"99").unwrap_err();
        assert_eq!(
            err,
            RecordIoError::RecordTooLarge {
                length: 9999,
                max: 1000
            }
        );
        assert_eq!(
            err.to_string(),
            "record of 9999 bytes exceeds the maximum record size of 1000 bytes"
        );
    }

    #[test]
    fn rejects_invalid_headers() {
        let err = |stream: &[u8]| Decoder::new().decode(stream).unwrap_err();
        assert_eq!(
            err(b"\n"),
            RecordIoError::InvalidHeader {
                header: b"\n".to_vec()
            }
        );
        assert_eq!(
            err(b"12a\n"),
            RecordIoError::InvalidHeader {
                header: b"12a".to_vec()
            }
        );
        assert_eq!(
            err(b"007x"),
            RecordIoError::InvalidHeader {
                header: b"007x".to_vec()
            }
        );
        assert_eq!(
            err(b"00\x00"),
            RecordIoError::InvalidHeader {
                header: b"00\x00".to_vec()
            }
        );
        assert_eq!(
            err(b"-1\n"),
            RecordIoError::InvalidHeader {
                header: b"-".to_vec()
            }
        );
        assert_eq!(
            err(b" 1\n"),
            RecordIoError::InvalidHeader {
                header: b" ".to_vec()
            }
        );
        assert_eq!(
            err(b"1\r\n"),
            RecordIoError::InvalidHeader {
                header: b"1\r".to_vec()
            }
        );
        assert_eq!(
            err(b"{\"type\":\"HEARTBEAT\"}"),
            RecordIoError::InvalidHeader {
                header: b"{".to_vec()
            }
        );
        assert_eq!(
            err(b"12a\n").to_string(),
            "invalid record length header '12a'"
        );
        assert_eq!(
            err(b"1\r\n").to_string(),
            "invalid record length header '1\\r'"
        );
        assert_eq!(err(&[b'0'; 21]), RecordIoError::HeaderTooLong);
        // A bad header after good records: the good ones are still available through next_record.
        let mut decoder = Decoder::new();
        decoder.feed(b"1\na1\nbx\n");
        assert_eq!(decoder.next_record().unwrap().as_deref(), Some(&b"a"[..]));
        assert_eq!(decoder.next_record().unwrap().as_deref(), Some(&b"b"[..]));
        assert!(matches!(
            decoder.next_record(),
            Err(RecordIoError::InvalidHeader { .. })
        ));
        assert_eq!(decoder.next_record(), Err(RecordIoError::Failed));
    }

    #[test]
    fn zero_padded_headers_are_fine_up_to_twenty_digits() {
        let mut decoder = Decoder::new();
        let records = decode_all(&mut decoder, &[b"00000000000000000003\nabc"]);
        assert_eq!(records, [&b"abc"[..]]);
    }

    #[test]
    fn finish_detects_truncated_streams() {
        let mut decoder = Decoder::new();
        decoder.decode(b"5\nhel").unwrap();
        assert_eq!(
            decoder.finish(),
            Err(RecordIoError::Truncated { buffered: 3 })
        );
        let mut decoder = Decoder::new();
        decoder.decode(b"12").unwrap();
        assert_eq!(
            decoder.finish(),
            Err(RecordIoError::Truncated { buffered: 2 })
        );
        let mut decoder = Decoder::new();
        decoder.decode(b"5\nhello").unwrap();
        assert_eq!(decoder.finish(), Ok(()));
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    fn records() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20)
    }

    /// Encodes `records` as one stream and cuts it into chunks at `cuts` (positions, any order).
    fn chunked(records: &[Vec<u8>], cuts: &[prop::sample::Index]) -> Vec<Vec<u8>> {
        let mut stream = BytesMut::new();
        for record in records {
            encode_into(record, &mut stream);
        }
        let mut positions: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        positions.push(0);
        positions.push(stream.len());
        positions.sort_unstable();
        positions
            .windows(2)
            .map(|w| stream[w[0]..w[1]].to_vec())
            .collect()
    }

    proptest! {
        #[test]
        fn decodes_what_was_encoded_however_it_is_chunked(
            records in records(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        ) {
            let mut decoder = Decoder::new();
            let mut decoded = Vec::new();
            for chunk in chunked(&records, &cuts) {
                decoded.extend(decoder.decode(&chunk).unwrap().into_iter().map(|r| r.to_vec()));
            }
            prop_assert_eq!(decoded, records);
            prop_assert_eq!(decoder.finish(), Ok(()));
        }

        #[test]
        fn the_maximum_record_size_is_exact(
            records in records().prop_filter("needs a record", |r| !r.is_empty()),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let largest = records.iter().map(Vec::len).max().unwrap();
            let chunks = chunked(&records, &cuts);

            let mut decoder = Decoder::with_max_record_size(largest);
            for chunk in &chunks {
                prop_assert!(decoder.decode(chunk).is_ok());
            }

            if largest > 0 {
                let mut decoder = Decoder::with_max_record_size(largest - 1);
                let failed = chunks.iter().any(|chunk| {
                    matches!(decoder.decode(chunk), Err(RecordIoError::RecordTooLarge { .. }))
                });
                prop_assert!(failed);
            }
        }

        #[test]
        fn garbage_never_panics(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let mut decoder = Decoder::with_max_record_size(1024);
            for chunk in &chunks {
                let _ = decoder.decode(chunk);
            }
            let _ = decoder.finish();
        }
    }
}
