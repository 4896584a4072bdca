//! The state a connection shares with the request it hands to the handler.
//!
//! The connection's [`Io`] (transport + read buffer) has exactly one owner at a time: the
//! connection task while it parses and writes, the [`Exchange`] slot while the handler
//! runs or the response body is pulled. The request body takes it from the slot for each
//! read and puts it back, so the handler reads straight from the transport (streamed,
//! never buffered whole) with natural backpressure: nothing is read until it asks. An
//! upgrade takes it for good.
//!
//! Where the exchange is, is two state machines: [`Reading`] (the request side) and
//! [`Writing`] (the response side).

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderValue;
use peregrine_protocol::h1::decode::{ChunkedDecoder, LengthDecoder};
use peregrine_protocol::h1::{BodyFraming, HeaderSpan};

use super::encode::encode_switching;
use crate::metrics::bump;
use crate::registry::{ConnId, Kick, Phase};
use crate::request::{
    BodyLimitError, LocalFuture, RequestIo, SpareHeaders, UpgradeError, UpgradeHeaders, Upgraded,
};
use crate::shard::{HttpSettings, Lease, ShardCore};
use crate::transport::Transport;

/// Largest trailer section accepted after a chunked body.
const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Spare capacity ensured before each body read.
const BODY_READ_SIZE: usize = 16 * 1024;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A connection's transport and read buffer.
#[derive(Debug)]
pub(crate) struct Io<T> {
    pub stream: T,
    pub rbuf: BytesMut,
}

/// The request side of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// The current request's body is over (or there was none): the next bytes are a
    /// request head.
    Head,
    /// A body is announced and nobody asked for it yet; its size limit may still change.
    Announced,
    /// As `Announced`, and the client waits for `100 Continue` before sending it.
    Continue,
    /// The handler is reading the body; the limit is fixed.
    Body,
    /// The response is out; the server reads and discards the rest of the body.
    Draining,
    /// The body broke its framing or a limit, or the connection was upgraded: no further
    /// request can be read from this connection.
    Closed,
}

/// The response side of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writing {
    /// No response in progress (between requests; earlier pipelined responses may be
    /// buffered whole).
    Idle,
    /// This response's head is buffered from this offset of the write buffer and none of
    /// it was sent: an error answer can still replace it.
    Head(usize),
    /// Some of this response went out: a failure can only end the connection.
    Body,
    /// The connection was upgraded: HTTP writes nothing more.
    Upgraded,
}

enum Decoder {
    Length(LengthDecoder),
    Chunked(ChunkedDecoder),
}

struct BodyState {
    decoder: Decoder,
    /// The declared length (Content-Length), if any.
    declared: Option<u64>,
    /// Body bytes handed to the handler so far.
    received: u64,
}

/// Shared between a connection and the requests it hands to the handler.
pub(crate) struct Exchange<T> {
    io: RefCell<Option<Io<T>>>,
    body: RefCell<BodyState>,
    reading: Cell<Reading>,
    writing: Cell<Writing>,
    /// Response bytes waiting to be written: a body read sends them before it blocks on
    /// the transport, so a client that waits for them is never stalled.
    out: RefCell<BytesMut>,
    /// The largest body this request may have (`None`: unlimited).
    limit: Cell<Option<u64>>,
    default_limit: Option<u64>,
    /// The body broke a rule the client is answered for (413, 400, 408); this answer
    /// replaces the handler's response if that has not started.
    reject: Cell<Option<u16>>,
    shard: Rc<ShardCore>,
    id: ConnId,
    /// A header vector returned by the last request, for the next parse.
    spare_headers: SpareHeaders,
    /// Spare capacity ensured before each body read (never above the request buffer
    /// limit: reading only when the handler asks is the backpressure).
    read_size: usize,
}

impl<T: Transport> Exchange<T> {
    pub fn new(shard: Rc<ShardCore>, id: ConnId) -> Self {
        let http = &shard.http;
        let default_limit = http.max_request_body_size;
        let read_size = BODY_READ_SIZE.min(http.max_request_buffer_size).max(1024);
        Exchange {
            io: RefCell::new(None),
            body: RefCell::new(BodyState {
                decoder: Decoder::Length(LengthDecoder::new(0)),
                declared: None,
                received: 0,
            }),
            reading: Cell::new(Reading::Head),
            writing: Cell::new(Writing::Idle),
            out: RefCell::new(BytesMut::new()),
            limit: Cell::new(default_limit),
            default_limit,
            reject: Cell::new(None),
            shard,
            id,
            read_size,
            spare_headers: SpareHeaders::default(),
        }
    }

    /// Where the request side is.
    #[inline]
    pub fn reading(&self) -> Reading {
        self.reading.get()
    }

    /// Where the response side is.
    #[inline]
    pub fn writing(&self) -> Writing {
        self.writing.get()
    }

    /// Move the response side (the connection's transitions: a head buffered, a flush,
    /// a response finished).
    #[inline]
    pub fn set_writing(&self, to: Writing) {
        if self.writing.get() != Writing::Upgraded {
            self.writing.set(to);
        }
    }

    /// Some output was sent: a response whose head was only buffered has started.
    #[inline]
    pub fn output_sent(&self) {
        if let Writing::Head(_) = self.writing.get() {
            self.writing.set(Writing::Body);
        }
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
    pub fn lend(&self, io: Io<T>) {
        *self.io.borrow_mut() = Some(io);
    }

    /// The header vector to parse the next request into.
    pub fn take_spare_headers(&self) -> Vec<HeaderSpan> {
        self.spare_headers.take()
    }

    /// The slot a request puts its header vector back into.
    pub fn spare_headers(&self) -> &SpareHeaders {
        &self.spare_headers
    }

    /// Hand over buffered response bytes (see `out`).
    pub fn stash_output(&self, out: BytesMut) {
        *self.out.borrow_mut() = out;
    }

    /// Take back the buffered response bytes that were not sent yet.
    pub fn take_output(&self) -> BytesMut {
        self.out.take()
    }

    /// Take the I/O back; `None` if a body read is in flight elsewhere, or it was lost
    /// or upgraded away.
    pub fn reclaim(&self) -> Option<Io<T>> {
        self.io.borrow_mut().take()
    }

    /// Prepare to read the body of a new request.
    pub fn start_body(&self, framing: BodyFraming, expect_continue: bool) {
        let (decoder, reading) = match framing {
            BodyFraming::Length(0) | BodyFraming::Empty | BodyFraming::CloseDelimited => {
                (Decoder::Length(LengthDecoder::new(0)), Reading::Head)
            }
            BodyFraming::Length(n) => (Decoder::Length(LengthDecoder::new(n)), Reading::Announced),
            BodyFraming::Chunked => (
                Decoder::Chunked(ChunkedDecoder::new(MAX_TRAILER_BYTES)),
                Reading::Announced,
            ),
        };
        let declared = match framing {
            BodyFraming::Length(n) => Some(n),
            _ => None,
        };
        *self.body.borrow_mut() = BodyState {
            decoder,
            declared,
            received: 0,
        };
        self.reading.set(match reading {
            Reading::Announced if expect_continue => Reading::Continue,
            r => r,
        });
        self.writing.set(Writing::Idle);
        self.limit.set(self.default_limit);
        self.reject.set(None);
    }

    /// The rest of the body is read and discarded (after the response).
    pub fn start_draining(&self) {
        if matches!(self.reading.get(), Reading::Announced | Reading::Body) {
            self.reading.set(Reading::Draining);
        }
    }

    /// The whole body has been read.
    pub fn body_done(&self) -> bool {
        self.reading() == Reading::Head
    }

    /// The client asked for `100 Continue` and has not been answered.
    pub fn continue_pending(&self) -> bool {
        self.reading() == Reading::Continue
    }

    /// No further request can be read (broken framing, a limit, an upgrade).
    pub fn closed(&self) -> bool {
        self.reading() == Reading::Closed
    }

    /// The next piece of the body; `None` at its end.
    pub async fn next_chunk(&self) -> Option<io::Result<Bytes>> {
        match self.reading.get() {
            Reading::Head => return None,
            Reading::Closed => {
                return Some(Err(io::Error::other(
                    "the request body cannot be read any more (its framing broke or the \
                     connection was upgraded)",
                )))
            }
            Reading::Announced | Reading::Continue | Reading::Body | Reading::Draining => {}
        }
        let Some(mut io) = self.reclaim() else {
            return Some(Err(io::Error::other(
                "the request body is being read elsewhere",
            )));
        };
        let result = self.read_chunk(&mut io).await;
        if let Some(Err(_)) = &result {
            self.reading.set(Reading::Closed);
        }
        self.lend(io);
        result
    }

    async fn read_chunk(&self, io: &mut Io<T>) -> Option<io::Result<Bytes>> {
        let state = self.reading.get();
        if matches!(state, Reading::Announced | Reading::Continue) {
            // Kestrel: a declared length over the limit fails the first read.
            let declared = self.body.borrow().declared;
            if let (Some(n), Some(limit)) = (declared, self.limit.get()) {
                if n > limit {
                    return Some(Err(self.fail(413, "request body too large")));
                }
            }
            self.reading.set(Reading::Body);
            // What arrived with the head (the start of the body) counts toward the body
            // data rate, as Kestrel counts what its input already holds: uncounted, it
            // left a client sending at the minimum rate short by up to a whole read, and
            // timed out.
            self.shard.registry.body_read(self.id, false, io.rbuf.len());
        }
        if state == Reading::Continue {
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
                Ok(None) if self.reading.get() == Reading::Head => return None,
                Ok(None) => {}
                Err(e) => return Some(Err(self.fail(400, &e.to_string()))),
            }
            let out = self.out.take();
            if out.is_empty() {
                *self.out.borrow_mut() = out;
            } else {
                self.output_sent();
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
            let registry = &self.shard.registry;
            registry.body_read(self.id, true, 0);
            let (res, buf) = io.stream.read(buf).await;
            let n = *res.as_ref().unwrap_or(&0);
            registry.body_read(self.id, false, n);
            bump(&self.shard.counters.reads, 1);
            bump(&self.shard.counters.bytes_in, n as u64);
            io.rbuf = buf;
            if registry.kicked(self.id) == Some(Kick::BodyRate) {
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
        self.reading.set(Reading::Closed);
        let kind = if status == 408 {
            io::ErrorKind::TimedOut
        } else {
            io::ErrorKind::InvalidData
        };
        io::Error::new(kind, why.to_string())
    }

    /// Decode what is buffered: `Some(data)`, or `None` when more input is needed (or the
    /// body just ended: the state is back to `Head`).
    fn decode(&self, rbuf: &mut BytesMut) -> io::Result<Option<Bytes>> {
        let mut st = self.body.borrow_mut();
        loop {
            if self.reading.get() == Reading::Head {
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
            if done {
                self.reading.set(Reading::Head);
            }
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

    /// Send `101 Switching Protocols` and hand the transport to the handler.
    async fn switch(
        &self,
        protocol: HeaderValue,
        extra: UpgradeHeaders,
    ) -> Result<Upgraded, UpgradeError> {
        if self.writing.get() == Writing::Upgraded {
            return Err(UpgradeError::AlreadyUpgraded);
        }
        if self.writing.get() != Writing::Idle || !self.body_done() {
            return Err(UpgradeError::ConnectionLost);
        }
        let lease = Lease::take(&self.shard).ok_or(UpgradeError::LimitReached)?;
        let Some(mut io) = self.reclaim() else {
            return Err(UpgradeError::ConnectionLost);
        };
        let mut head = self.out.take();
        head.clear();
        let shard = &self.shard;
        encode_switching(
            &mut head,
            protocol.as_bytes(),
            &extra,
            &shard.date,
            shard.http.server_header.as_deref(),
        );
        let (res, _) = io.stream.write_all(head).await;
        bump(&shard.counters.writes, 1);
        if res.is_err() {
            // The transport is gone: the connection ends (its I/O is not lent back).
            return Err(UpgradeError::ConnectionLost);
        }
        bump(
            &shard.counters.bytes_out,
            *res.as_ref().unwrap_or(&0) as u64,
        );
        // From here on the stream is the handler's: no HTTP limits or timeouts, and the
        // connection leaves the max-concurrent-connections count.
        self.writing.set(Writing::Upgraded);
        self.reading.set(Reading::Closed);
        shard.registry.set_phase(self.id, Phase::Upgraded);
        lease.watch(io.stream.interrupt());
        shard.http.release_connection();
        // The lease counts it as open from here on (the handler usually keeps the stream
        // inside the request, so the connection task lives on: counting both made one
        // upgraded connection two in `connections_active`).
        shard.leave();
        let Io { stream, rbuf } = io;
        Ok(Upgraded::new(Box::new(stream), rbuf, Box::new(lease)))
    }
}

impl<T: Transport> RequestIo for Exchange<T> {
    fn next_chunk(&self) -> LocalFuture<'_, Option<io::Result<Bytes>>> {
        Box::pin(Exchange::next_chunk(self))
    }

    fn set_body_limit(&self, limit: Option<u64>) -> Result<(), BodyLimitError> {
        match self.reading.get() {
            Reading::Announced | Reading::Continue => {
                self.limit.set(limit);
                Ok(())
            }
            // `Head`: the body was read to its end (requests without a body never ask).
            Reading::Head | Reading::Body | Reading::Draining | Reading::Closed => {
                Err(BodyLimitError)
            }
        }
    }

    fn upgrade(
        &self,
        protocol: HeaderValue,
        extra: UpgradeHeaders,
    ) -> LocalFuture<'_, Result<Upgraded, UpgradeError>> {
        Box::pin(self.switch(protocol, extra))
    }

    fn settings(&self) -> &HttpSettings {
        &self.shard.http
    }
}
