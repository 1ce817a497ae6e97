//! [`Pipe`]: a stream of byte chunks from a writer to a reader, for streaming HTTP bodies.
//!
//! A handler that answers with a stream (the v1 scheduler API keeps one open per framework for
//! hours) returns a [`Response`](super::Response) whose body is the pipe's reader and keeps the
//! writer. The server reads the pipe and sends each chunk with chunked transfer encoding; when
//! the client goes away it closes the reader, so [`PipeWriter::write`] returns false from then on
//! and [`PipeWriter::reader_closed`] completes. A route with
//! [`RouteOptions::request_streaming`](super::RouteOptions::request_streaming) gets the request
//! body the same way, as a reader.
//!
//! Invariants: chunks come out in the order they went in; an empty chunk is never queued (EOF
//! is `None`); once the reader is closed nothing is buffered any more; promises and wakers are
//! completed outside the lock. Dropping every writer without [`PipeWriter::close`] closes the
//! pipe (the reader sees EOF); dropping every reader closes the reader side.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

use crate::future::{Future, Promise};

/// Why a pipe read did not give data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PipeError {
    /// The writer failed the pipe with this message.
    #[error("pipe failed: {0}")]
    Failed(String),
    /// The reader side was closed: nothing more can be read.
    #[error("pipe reader closed")]
    ReaderClosed,
}

/// Why [`PipeReader::collect`] gave up (the server's body reading).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CollectError {
    TooLarge(usize),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum WriteSide {
    Open,
    Closed,
    Failed(String),
}

struct Collector {
    buffer: BytesMut,
    limit: usize,
    promise: Promise<Result<Bytes, CollectError>>,
}

struct State {
    chunks: VecDeque<Bytes>,
    buffered: usize,
    write_side: WriteSide,
    reader_closed: bool,
    reads: VecDeque<Promise<Option<Bytes>>>,
    collector: Option<Collector>,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
    reader_closed_promise: Option<Promise<()>>,
}

struct Shared {
    state: Mutex<State>,
    reader_closed: Future<()>,
}

type ReadCompletion = (Promise<Option<Bytes>>, Result<Option<Bytes>, String>);
type CollectCompletion = (
    Promise<Result<Bytes, CollectError>>,
    Result<Bytes, CollectError>,
);

/// What to do once the lock is released.
#[derive(Default)]
struct Wake {
    reads: Vec<ReadCompletion>,
    collected: Option<CollectCompletion>,
    wakers: Vec<Waker>,
    reader_closed: Option<Promise<()>>,
}

impl Wake {
    fn run(self) {
        for (promise, outcome) in self.reads {
            match outcome {
                Ok(chunk) => promise.set(chunk),
                Err(message) => promise.fail(message),
            };
        }
        if let Some((promise, outcome)) = self.collected {
            promise.set(outcome);
        }
        for waker in self.wakers {
            waker.wake();
        }
        if let Some(promise) = self.reader_closed {
            promise.set(());
        }
    }
}

impl Shared {
    fn new() -> Arc<Shared> {
        let promise = Promise::new();
        let reader_closed = promise.future();
        Arc::new(Shared {
            state: Mutex::new(State {
                chunks: VecDeque::new(),
                buffered: 0,
                write_side: WriteSide::Open,
                reader_closed: false,
                reads: VecDeque::new(),
                collector: None,
                read_waker: None,
                write_waker: None,
                reader_closed_promise: Some(promise),
            }),
            reader_closed,
        })
    }

    fn write(&self, data: Bytes) -> bool {
        let mut wake = Wake::default();
        let accepted = {
            let mut state = self.state.lock();
            if state.reader_closed || state.write_side != WriteSide::Open {
                false
            } else if data.is_empty() {
                true
            } else if let Some(read) = state.reads.pop_front() {
                wake.reads.push((read, Ok(Some(data))));
                true
            } else if let Some(collector) = state.collector.as_mut() {
                if collector.buffer.len() + data.len() > collector.limit {
                    let limit = collector.limit;
                    let collector = state.collector.take().expect("collector present");
                    wake.collected = Some((collector.promise, Err(CollectError::TooLarge(limit))));
                    close_reader(&mut state, &mut wake);
                    false
                } else {
                    collector.buffer.extend_from_slice(&data);
                    true
                }
            } else {
                state.buffered += data.len();
                state.chunks.push_back(data);
                wake.wakers.extend(state.read_waker.take());
                true
            }
        };
        wake.run();
        accepted
    }

    fn finish(&self, side: WriteSide) -> bool {
        let mut wake = Wake::default();
        let changed = {
            let mut state = self.state.lock();
            if state.write_side != WriteSide::Open {
                false
            } else {
                state.write_side = side.clone();
                if state.chunks.is_empty() {
                    let outcome = match &side {
                        WriteSide::Failed(message) => Err(message.clone()),
                        _ => Ok(None),
                    };
                    for read in state.reads.drain(..) {
                        wake.reads.push((read, outcome.clone()));
                    }
                }
                if let Some(collector) = state.collector.take() {
                    let outcome = match &side {
                        WriteSide::Failed(message) => Err(CollectError::Failed(message.clone())),
                        _ => Ok(collector.buffer.freeze()),
                    };
                    wake.collected = Some((collector.promise, outcome));
                }
                wake.wakers.extend(state.read_waker.take());
                true
            }
        };
        wake.run();
        changed
    }

    fn close_reader(&self) -> bool {
        let mut wake = Wake::default();
        let changed = {
            let mut state = self.state.lock();
            if state.reader_closed {
                false
            } else {
                close_reader(&mut state, &mut wake);
                true
            }
        };
        wake.run();
        changed
    }
}

fn close_reader(state: &mut State, wake: &mut Wake) {
    state.reader_closed = true;
    state.chunks.clear();
    state.buffered = 0;
    for read in state.reads.drain(..) {
        wake.reads
            .push((read, Err(PipeError::ReaderClosed.to_string())));
    }
    if let Some(collector) = state.collector.take() {
        wake.collected = Some((
            collector.promise,
            Err(CollectError::Failed(PipeError::ReaderClosed.to_string())),
        ));
    }
    wake.wakers.extend(state.write_waker.take());
    wake.wakers.extend(state.read_waker.take());
    wake.reader_closed = state.reader_closed_promise.take();
}

/// A pipe: what its [`PipeWriter`] writes, its [`PipeReader`] reads, chunk by chunk.
///
/// ```
/// use libprocess::http::Pipe;
///
/// let Pipe { writer, reader } = Pipe::new();
/// assert!(writer.write("hello "));
/// assert!(writer.write("world"));
/// writer.close();
/// assert_eq!(reader.read_all().get().unwrap(), "hello world");
///
/// // Once the reader is gone, writes fail and the writer is told.
/// let Pipe { writer, reader } = Pipe::new();
/// let gone = writer.reader_closed();
/// drop(reader);
/// assert!(gone.is_ready());
/// assert!(!writer.write("anyone there?"));
/// ```
#[derive(Debug)]
pub struct Pipe {
    /// The writing end.
    pub writer: PipeWriter,
    /// The reading end.
    pub reader: PipeReader,
}

impl Pipe {
    /// A new, open pipe.
    #[allow(clippy::new_without_default)] // A pipe is a pair of ends, not a value with defaults.
    pub fn new() -> Pipe {
        let shared = Shared::new();
        Pipe {
            writer: PipeWriter {
                end: Arc::new(WriterEnd {
                    shared: shared.clone(),
                }),
            },
            reader: PipeReader {
                end: Arc::new(ReaderEnd { shared }),
            },
        }
    }
}

struct WriterEnd {
    shared: Arc<Shared>,
}

impl Drop for WriterEnd {
    fn drop(&mut self) {
        self.shared.finish(WriteSide::Closed);
    }
}

struct ReaderEnd {
    shared: Arc<Shared>,
}

impl Drop for ReaderEnd {
    fn drop(&mut self) {
        self.shared.close_reader();
    }
}

/// The writing end of a [`Pipe`]. Clones write to the same pipe; when the last clone is
/// dropped the pipe is closed as by [`PipeWriter::close`].
#[derive(Clone)]
pub struct PipeWriter {
    end: Arc<WriterEnd>,
}

impl fmt::Debug for PipeWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.end.shared.state.lock();
        f.debug_struct("PipeWriter")
            .field("buffered", &state.buffered)
            .field("reader_closed", &state.reader_closed)
            .finish()
    }
}

impl PipeWriter {
    /// Queues a chunk for the reader. False once the reader is closed (for a response: the
    /// client went away) or the pipe was closed or failed; the chunk is then dropped. An empty
    /// chunk is not queued.
    pub fn write(&self, data: impl Into<Bytes>) -> bool {
        self.end.shared.write(data.into())
    }

    /// Ends the stream: the reader gets what is queued, then EOF. False if already closed or
    /// failed.
    pub fn close(&self) -> bool {
        self.end.shared.finish(WriteSide::Closed)
    }

    /// Ends the stream with an error: the reader gets what is queued, then the failure (a
    /// streamed response is cut off without its final chunk). False if already closed.
    pub fn fail(&self, message: impl Into<String>) -> bool {
        self.end.shared.finish(WriteSide::Failed(message.into()))
    }

    /// A future that completes once the reader side is closed: for a streamed response, when
    /// the client disconnected or the response was dropped.
    pub fn reader_closed(&self) -> Future<()> {
        self.end.shared.reader_closed.clone()
    }

    /// True once the reader side is closed.
    pub fn is_reader_closed(&self) -> bool {
        self.end.shared.state.lock().reader_closed
    }

    /// Bytes written and not yet read.
    pub fn buffered(&self) -> usize {
        self.end.shared.state.lock().buffered
    }

    /// Ready when fewer than `high_water` bytes wait for the reader, or the reader is closed
    /// (then `false`). Used to apply backpressure to a socket feeding the pipe.
    pub(crate) fn poll_writable(&self, cx: &mut Context<'_>, high_water: usize) -> Poll<bool> {
        let mut state = self.end.shared.state.lock();
        if state.reader_closed {
            return Poll::Ready(false);
        }
        if state.buffered < high_water {
            return Poll::Ready(true);
        }
        state.write_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The reading end of a [`Pipe`]. Clones read from the same pipe (each chunk goes to one
/// reader); when the last clone is dropped the reader side is closed as by
/// [`PipeReader::close`].
#[derive(Clone)]
pub struct PipeReader {
    end: Arc<ReaderEnd>,
}

impl fmt::Debug for PipeReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.end.shared.state.lock();
        f.debug_struct("PipeReader")
            .field("buffered", &state.buffered)
            .field("closed", &state.reader_closed)
            .finish()
    }
}

impl PipeReader {
    /// A reader that yields `data` (if not empty) and then EOF.
    ///
    /// ```
    /// use libprocess::http::PipeReader;
    /// let reader = PipeReader::from_bytes("abc");
    /// assert_eq!(reader.read().get().unwrap().unwrap(), "abc");
    /// assert_eq!(reader.read().get().unwrap(), None);
    /// ```
    pub fn from_bytes(data: impl Into<Bytes>) -> PipeReader {
        let Pipe { writer, reader } = Pipe::new();
        writer.write(data);
        writer.close();
        reader
    }

    /// The next chunk, `None` at the end of the stream. Fails if the writer failed the pipe or
    /// the reader was closed.
    pub fn read(&self) -> Future<Option<Bytes>> {
        let mut wake = Wake::default();
        let future = {
            let mut state = self.end.shared.state.lock();
            if let Some(chunk) = state.chunks.pop_front() {
                state.buffered -= chunk.len();
                wake.wakers.extend(state.write_waker.take());
                Future::ready(Some(chunk))
            } else if state.reader_closed {
                Future::failed(PipeError::ReaderClosed.to_string())
            } else {
                match &state.write_side {
                    WriteSide::Closed => Future::ready(None),
                    WriteSide::Failed(message) => Future::failed(message.clone()),
                    WriteSide::Open => {
                        let promise = Promise::new();
                        let future = promise.future();
                        state.reads.push_back(promise);
                        self.keep_open_until(&future);
                        future
                    }
                }
            }
        };
        wake.run();
        future
    }

    /// Everything until the end of the stream, concatenated. Fails if the pipe fails.
    pub fn read_all(&self) -> Future<Bytes> {
        self.collect(usize::MAX).then(|result| match result {
            Ok(bytes) => Future::ready(bytes),
            Err(CollectError::Failed(message)) => Future::failed(message),
            Err(CollectError::TooLarge(limit)) => {
                Future::failed(format!("stream larger than {limit} bytes"))
            }
        })
    }

    /// Everything until the end of the stream, or an error once more than `limit` bytes came
    /// (the reader is then closed).
    pub(crate) fn collect(&self, limit: usize) -> Future<Result<Bytes, CollectError>> {
        let mut wake = Wake::default();
        let future = {
            let mut state = self.end.shared.state.lock();
            if state.collector.is_some() || !state.reads.is_empty() {
                return Future::failed("the pipe is already being read");
            }
            let mut buffer = BytesMut::with_capacity(state.buffered);
            for chunk in state.chunks.drain(..) {
                buffer.extend_from_slice(&chunk);
            }
            state.buffered = 0;
            wake.wakers.extend(state.write_waker.take());
            if buffer.len() > limit {
                close_reader(&mut state, &mut wake);
                Future::ready(Err(CollectError::TooLarge(limit)))
            } else if state.reader_closed {
                Future::ready(Err(CollectError::Failed(
                    PipeError::ReaderClosed.to_string(),
                )))
            } else {
                match &state.write_side {
                    WriteSide::Closed => Future::ready(Ok(buffer.freeze())),
                    WriteSide::Failed(message) => {
                        Future::ready(Err(CollectError::Failed(message.clone())))
                    }
                    WriteSide::Open => {
                        let promise = Promise::new();
                        let future = promise.future();
                        state.collector = Some(Collector {
                            buffer,
                            limit,
                            promise,
                        });
                        self.keep_open_until(&future);
                        future
                    }
                }
            }
        };
        wake.run();
        future
    }

    /// A pending read counts as a reader: the reader side stays open until it completes,
    /// even if every `PipeReader` is dropped meanwhile.
    fn keep_open_until<T: Send + Sync + 'static>(&self, future: &Future<T>) {
        let end = self.end.clone();
        future.on_any(move |_| drop(end));
    }

    /// Closes the reader side: queued chunks are dropped, writes fail from now on and the
    /// writer's [`PipeWriter::reader_closed`] completes. False if already closed.
    pub fn close(&self) -> bool {
        self.end.shared.close_reader()
    }

    /// True once the reader side is closed.
    pub fn is_closed(&self) -> bool {
        self.end.shared.state.lock().reader_closed
    }

    /// The next chunk for a poll-based consumer (the server's response body).
    pub(crate) fn poll_chunk(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, PipeError>>> {
        let mut wake = Wake::default();
        let poll = {
            let mut state = self.end.shared.state.lock();
            if let Some(chunk) = state.chunks.pop_front() {
                state.buffered -= chunk.len();
                wake.wakers.extend(state.write_waker.take());
                Poll::Ready(Some(Ok(chunk)))
            } else if state.reader_closed {
                Poll::Ready(Some(Err(PipeError::ReaderClosed)))
            } else {
                match &state.write_side {
                    WriteSide::Closed => Poll::Ready(None),
                    WriteSide::Failed(message) => {
                        Poll::Ready(Some(Err(PipeError::Failed(message.clone()))))
                    }
                    WriteSide::Open => {
                        state.read_waker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                }
            }
        };
        wake.run();
        poll
    }

    /// True when the writer is done and nothing is left to read.
    pub(crate) fn is_end_stream(&self) -> bool {
        let state = self.end.shared.state.lock();
        state.chunks.is_empty() && state.write_side == WriteSide::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wait_for_writes_in_order() {
        let Pipe { writer, reader } = Pipe::new();
        let first = reader.read();
        let second = reader.read();
        assert!(first.is_pending());
        writer.write("a");
        writer.write("b");
        writer.write("c");
        assert_eq!(first.get().unwrap().unwrap(), "a");
        assert_eq!(second.get().unwrap().unwrap(), "b");
        assert_eq!(writer.buffered(), 1);
        writer.close();
        assert_eq!(reader.read().get().unwrap().unwrap(), "c");
        assert_eq!(reader.read().get().unwrap(), None);
        assert!(!writer.write("late"));
    }

    #[test]
    fn failure_reaches_the_reader_after_queued_chunks() {
        let Pipe { writer, reader } = Pipe::new();
        writer.write("x");
        writer.fail("boom");
        assert_eq!(reader.read().get().unwrap().unwrap(), "x");
        assert_eq!(
            reader.read().get(),
            Err(crate::FutureError::Failed("boom".into()))
        );
    }

    #[test]
    fn dropping_the_writers_ends_the_stream() {
        let Pipe { writer, reader } = Pipe::new();
        let other = writer.clone();
        writer.write("x");
        drop(writer);
        assert!(!reader.is_end_stream());
        drop(other);
        assert_eq!(reader.read_all().get().unwrap(), "x");
    }

    #[test]
    fn collect_enforces_its_limit() {
        let Pipe { writer, reader } = Pipe::new();
        writer.write("12345");
        let collected = reader.collect(8);
        assert!(collected.is_pending());
        assert!(!writer.write("6789"));
        assert_eq!(collected.get().unwrap(), Err(CollectError::TooLarge(8)));
        assert!(writer.reader_closed().is_ready());
    }

    #[test]
    fn collect_gathers_until_close() {
        let Pipe { writer, reader } = Pipe::new();
        writer.write("ab");
        let collected = reader.collect(100);
        writer.write("cd");
        writer.close();
        assert_eq!(collected.get().unwrap(), Ok(Bytes::from_static(b"abcd")));
    }

    #[test]
    fn a_pending_read_keeps_the_reader_open() {
        let Pipe { writer, reader } = Pipe::new();
        let all = reader.read_all();
        drop(reader);
        assert!(!writer.is_reader_closed());
        assert!(writer.write("still read"));
        writer.close();
        assert_eq!(all.get().unwrap(), "still read");
        assert!(writer.reader_closed().is_ready());
    }

    #[test]
    fn closing_the_reader_fails_pending_reads_and_tells_the_writer() {
        let Pipe { writer, reader } = Pipe::new();
        let pending = reader.read();
        let closed = writer.reader_closed();
        assert!(closed.is_pending());
        assert!(reader.close());
        assert!(pending.is_failed());
        assert!(closed.is_ready());
        assert!(writer.is_reader_closed());
        assert!(!writer.write("x"));
    }
}
