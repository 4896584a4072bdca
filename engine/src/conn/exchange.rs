//! The state a connection shares with the request body it hands to the handler.
//!
//! The connection's [`Io`] (stream + read buffer) has exactly one owner at a time: the
//! connection task while it parses and writes, the [`Exchange`] slot while the handler
//! runs or the response body is pulled. The request body takes it from the slot for each
//! read and puts it back, so the handler reads straight from the socket (streamed,
//! never buffered whole) with natural backpressure: nothing is read until it asks.

use std::cell::{Cell, RefCell};
use std::io;

use bytes::{Buf, Bytes, BytesMut};
use peregrine_protocol::h1::decode::{ChunkedDecoder, LengthDecoder};
use peregrine_protocol::h1::BodyFraming;

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
}

impl Exchange {
    pub fn new() -> Self {
        Exchange {
            io: RefCell::new(None),
            body: RefCell::new(BodyState {
                decoder: Decoder::Length(LengthDecoder::new(0)),
                done: true,
            }),
            continue_pending: Cell::new(false),
            broken: Cell::new(false),
            out: RefCell::new(BytesMut::new()),
        }
    }

    /// Put the connection's I/O in the slot while the handler runs.
    pub fn lend(&self, io: Io) {
        *self.io.borrow_mut() = Some(io);
    }

    /// Hand over buffered response bytes (see `out`).
    pub fn stash_output(&self, out: BytesMut) {
        *self.out.borrow_mut() = out;
    }

    /// Take back the buffered response bytes that were not sent yet.
    pub fn take_output(&self) -> BytesMut {
        self.out.take()
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
        *self.body.borrow_mut() = BodyState { decoder, done };
        self.continue_pending.set(expect_continue && !done);
        self.broken.set(false);
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
        if self.continue_pending.replace(false) {
            let (res, _) = io.stream.write_all(Bytes::from_static(CONTINUE)).await;
            if let Err(e) = res {
                return Some(Err(e));
            }
        }
        loop {
            match self.decode(&mut io.rbuf) {
                Ok(Some(bytes)) => return Some(Ok(bytes)),
                Ok(None) if self.body.borrow().done => return None,
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
            let out = self.out.take();
            if out.is_empty() {
                *self.out.borrow_mut() = out;
            } else {
                let (res, mut out) = io.stream.write_all(out).await;
                out.clear();
                *self.out.borrow_mut() = out;
                if let Err(e) = res {
                    return Some(Err(e));
                }
            }
            if io.rbuf.capacity() - io.rbuf.len() < BODY_READ_SIZE / 4 {
                io.rbuf.reserve(BODY_READ_SIZE);
            }
            let buf = std::mem::take(&mut io.rbuf);
            let (res, buf) = io.stream.read(buf).await;
            io.rbuf = buf;
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
