//! The state a connection shares with the request body it hands to the handler.
//!
//! The connection's [`Io`] (stream + read buffer) has exactly one owner at a time: the
//! connection task while it parses and writes, the [`Exchange`] slot while the handler
//! runs or the response body is pulled. The request body takes it from the slot for each
//! read and puts it back, so the handler reads straight from the socket (streamed,
//! never buffered whole) with natural backpressure: nothing is read until it asks.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;

use bytes::{Buf, Bytes, BytesMut};
use peregrine_protocol::h1::decode::{ChunkedDecoder, LengthDecoder};
use peregrine_protocol::h1::{BodyFraming, HeaderSpan};

use crate::metrics::{bump, Counters};
use crate::registry::{ConnId, Kick, Registry};
use crate::transport::Stream;

/// Largest trailer section accepted after a chunked body.
const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Spare capacity ensured before each body read.
const BODY_READ_SIZE: usize = 16 * 1024;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A connection's stream and read buffer.
#[derive(Debug)]
pub(crate) struct Io {
    pub stream: Stream,
    pub rbuf: BytesMut,
}

enum Decoder {
    Length(LengthDecoder),
    Chunked(ChunkedDecoder),
}

struct BodyState {
    decoder: Decoder,
    done: bool,
    /// The declared length (Content-Length), if any.
    declared: Option<u64>,
    /// Body bytes handed to the handler so far.
    received: u64,
}

/// Shared between a connection and the bodies of its requests.
pub(crate) struct Exchange {
    io: RefCell<Option<Io>>,
    body: RefCell<BodyState>,
    continue_pending: Cell<bool>,
    /// The body failed mid-way (bad framing, early end): the connection must close.
    broken: Cell<bool>,
    /// Response bytes waiting to be written: a body read sends them before it blocks on
    /// the socket, so a client that waits for them is never stalled.
    out: RefCell<BytesMut>,
    /// The largest body this request may have (`None`: unlimited).
    limit: Cell<Option<u64>>,
    default_limit: Option<u64>,
    /// The handler started reading: the limit can no longer change.
    started: Cell<bool>,
    /// The body broke a rule the client is answered for (413, 400, 408); this answer
    /// replaces the handler's response if that has not started.
    reject: Cell<Option<u16>>,
    registry: Rc<Registry>,
    counters: Rc<Counters>,
    id: ConnId,
    /// Some of the stashed output was written (the response has started on the wire).
    flushed_output: Cell<bool>,
    /// A header vector returned by the last request, for the next parse.
    spare_headers: RefCell<Vec<HeaderSpan>>,
    /// Spare capacity ensured before each body read (never above the request buffer
    /// limit: reading only when the handler asks is the backpressure).
    read_size: usize,
}

/// Why a body size limit could not be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimitError;

impl std::fmt::Display for BodyLimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body size limit cannot change after reading has started")
    }
}

impl std::error::Error for BodyLimitError {}

impl Exchange {
    pub fn new(
        registry: Rc<Registry>,
        counters: Rc<Counters>,
        id: ConnId,
        default_limit: Option<u64>,
        max_buffer: usize,
    ) -> Self {
        Exchange {
            io: RefCell::new(None),
            body: RefCell::new(BodyState {
                decoder: Decoder::Length(LengthDecoder::new(0)),
                done: true,
                declared: None,
                received: 0,
            }),
            continue_pending: Cell::new(false),
            broken: Cell::new(false),
            out: RefCell::new(BytesMut::new()),
            limit: Cell::new(default_limit),
            default_limit,
            started: Cell::new(false),
            reject: Cell::new(None),
            registry,
            counters,
            id,
            read_size: BODY_READ_SIZE.min(max_buffer).max(1024),
            spare_headers: RefCell::new(Vec::new()),
            flushed_output: Cell::new(false),
        }
    }

    /// Change this request's body size limit (before reading starts).
    pub fn set_limit(&self, limit: Option<u64>) -> Result<(), BodyLimitError> {
        if self.started.get() {
            return Err(BodyLimitError);
        }
        self.limit.set(limit);
        Ok(())
    }

    /// The status the server answers with instead of the handler's response.
    pub fn rejected(&self) -> Option<u16> {
        self.reject.get()
    }

    /// Whether draining the unread rest of the body is reasonable (within the limit).
    pub fn drainable(&self) -> bool {
        let body = self.body.borrow();
        match (body.declared, self.limit.get()) {
            (Some(n), Some(limit)) => n <= limit,
            _ => true,
        }
    }

    /// Put the connection's I/O in the slot while the handler runs.
    pub fn lend(&self, io: Io) {
        *self.io.borrow_mut() = Some(io);
    }

    /// Keep a cleared header vector for the next request.
    pub fn put_spare_headers(&self, headers: Vec<HeaderSpan>) {
        if headers.capacity() > 0 {
            *self.spare_headers.borrow_mut() = headers;
        }
    }

    /// The header vector to parse the next request into.
    pub fn take_spare_headers(&self) -> Vec<HeaderSpan> {
        self.spare_headers.take()
    }

    /// Hand over buffered response bytes (see `out`).
    pub fn stash_output(&self, out: BytesMut) {
        *self.out.borrow_mut() = out;
    }

    /// Take back the buffered response bytes that were not sent yet, and whether any
    /// were sent meanwhile.
    pub fn take_output(&self) -> (BytesMut, bool) {
        (self.out.take(), self.flushed_output.replace(false))
    }

    /// Take the I/O back; `None` if a body read is in flight elsewhere or it was lost.
    pub fn reclaim(&self) -> Option<Io> {
        self.io.borrow_mut().take()
    }

    /// Prepare to read the body of a new request.
    pub fn start_body(&self, framing: BodyFraming, expect_continue: bool) {
        let (decoder, done) = match framing {
            BodyFraming::Length(n) => (Decoder::Length(LengthDecoder::new(n)), n == 0),
            BodyFraming::Chunked => (
                Decoder::Chunked(ChunkedDecoder::new(MAX_TRAILER_BYTES)),
                false,
            ),
            BodyFraming::Empty | BodyFraming::CloseDelimited => {
                (Decoder::Length(LengthDecoder::new(0)), true)
            }
        };
        let declared = match framing {
            BodyFraming::Length(n) => Some(n),
            _ => None,
        };
        *self.body.borrow_mut() = BodyState {
            decoder,
            done,
            declared,
            received: 0,
        };
        self.continue_pending.set(expect_continue && !done);
        self.broken.set(false);
        self.limit.set(self.default_limit);
        self.started.set(false);
        self.reject.set(None);
    }

    /// The whole body has been read.
    pub fn body_done(&self) -> bool {
        self.body.borrow().done
    }

    /// The client asked for `100 Continue` and has not been answered.
    pub fn continue_pending(&self) -> bool {
        self.continue_pending.get()
    }

    /// The body broke the framing: the connection cannot be reused.
    pub fn broken(&self) -> bool {
        self.broken.get()
    }

    /// The next piece of the body; `None` at its end.
    pub async fn next_chunk(&self) -> Option<io::Result<Bytes>> {
        if self.body.borrow().done {
            return None;
        }
        let Some(mut io) = self.reclaim() else {
            return Some(Err(io::Error::other(
                "the request body is being read elsewhere",
            )));
        };
        let result = self.read_chunk(&mut io).await;
        if let Some(Err(_)) = &result {
            self.broken.set(true);
        }
        self.lend(io);
        result
    }

    async fn read_chunk(&self, io: &mut Io) -> Option<io::Result<Bytes>> {
        if !self.started.replace(true) {
            // Kestrel: a declared length over the limit fails the first read.
            let declared = self.body.borrow().declared;
            if let (Some(n), Some(limit)) = (declared, self.limit.get()) {
                if n > limit {
                    return Some(Err(self.fail(413, "request body too large")));
                }
            }
        }
        if self.continue_pending.replace(false) {
            let (res, _) = io.stream.write_all(Bytes::from_static(CONTINUE)).await;
            if let Err(e) = res {
                return Some(Err(e));
            }
        }
        loop {
            match self.decode(&mut io.rbuf) {
                Ok(Some(bytes)) => {
                    let received = {
                        let mut body = self.body.borrow_mut();
                        body.received += bytes.len() as u64;
                        body.received
                    };
                    if self.limit.get().is_some_and(|limit| received > limit) {
                        return Some(Err(self.fail(413, "request body too large")));
                    }
                    return Some(Ok(bytes));
                }
                Ok(None) if self.body.borrow().done => return None,
                Ok(None) => {}
                Err(e) => return Some(Err(self.fail(400, &e.to_string()))),
            }
            let out = self.out.take();
            if out.is_empty() {
                *self.out.borrow_mut() = out;
            } else {
                self.flushed_output.set(true);
                let (res, mut out) = io.stream.write_all(out).await;
                out.clear();
                *self.out.borrow_mut() = out;
                if let Err(e) = res {
                    return Some(Err(e));
                }
            }
            if io.rbuf.capacity() - io.rbuf.len() < self.read_size / 4 {
                io.rbuf.reserve(self.read_size);
            }
            let buf = std::mem::take(&mut io.rbuf);
            self.registry.body_read(self.id, true, 0);
            let (res, buf) = io.stream.read(buf).await;
            let n = *res.as_ref().unwrap_or(&0);
            self.registry.body_read(self.id, false, n);
            bump(&self.counters.reads, 1);
            bump(&self.counters.bytes_in, n as u64);
            io.rbuf = buf;
            if self.registry.kicked(self.id) == Some(Kick::BodyRate) {
                return Some(Err(self.fail(408, "request body data rate too low")));
            }
            match res {
                Ok(0) => {
                    return Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the client closed the connection before the end of the request body",
                    )))
                }
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Record a body error the client is answered for.
    fn fail(&self, status: u16, why: &str) -> io::Error {
        tracing::debug!(status, "bad request body: {why}");
        self.reject.set(Some(status));
        self.broken.set(true);
        let kind = if status == 408 {
            io::ErrorKind::TimedOut
        } else {
            io::ErrorKind::InvalidData
        };
        io::Error::new(kind, why.to_string())
    }

    /// Decode what is buffered: `Some(data)`, or `None` when more input is needed (or the
    /// body just ended: check `done`).
    fn decode(&self, rbuf: &mut BytesMut) -> io::Result<Option<Bytes>> {
        let mut st = self.body.borrow_mut();
        loop {
            if st.done {
                return Ok(None);
            }
            let (consumed, data, done) = match &mut st.decoder {
                Decoder::Length(d) => {
                    let r = d.decode(rbuf);
                    (r.consumed, r.data, r.done)
                }
                Decoder::Chunked(d) => {
                    let r = d
                        .decode(rbuf)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    (r.consumed, r.data, r.done)
                }
            };
            st.done = done;
            if consumed == 0 && !done {
                return Ok(None);
            }
            let mut taken = rbuf.split_to(consumed);
            if !data.is_empty() {
                taken.advance(data.start);
                taken.truncate(data.end - data.start);
                return Ok(Some(taken.freeze()));
            }
        }
    }
}
