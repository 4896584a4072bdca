//! One connection's loop: connect, write a batch of pre-rendered requests (one, or
//! `--pipeline` of them), read until every request of the batch is answered, record,
//! repeat. In rate mode each request waits for its scheduled send time; when it could
//! not be sent then because the connection was still waiting for an earlier answer,
//! its latency is measured from the scheduled time (coordinated omission corrected,
//! as wrk2 does).
//!
//! Accounting is exact: every request sent ends as one response or one error. A
//! connection-fatal event (read/write error, premature close, timeout, malformed
//! response) fails every request of the batch still unanswered with that kind; a
//! response announcing `Connection: close` is not an error — the unanswered rest of the
//! batch is sent again on a new connection.
//!
//! One timer guards each exchange (write plus the reads that answer the batch): a batch
//! not answered in full within `--timeout` fails its unanswered requests as timeouts.
//! Latency and timeline second are computed once per read, for all the responses the
//! read completes.
//!
//! Streams are [`Io`]: owned-buffer reads that append and writes of the shared batch,
//! over TCP, a unix socket, or TLS over either ([`crate::tls`]); a TLS connection runs
//! its handshake once, inside [`Connector::connect`], then the same loop.

use crate::ctx::ThreadCtx;
use crate::framing::{Malformed, ResponseReader};
use crate::schedule;
use crate::stats::ErrorKind;
use monoio::buf::{IoBuf, Slice, SliceMut};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::BufResult;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Initial capacity of a connection's read buffer.
const READ_BUF: usize = 16 * 1024;
/// Least free space offered to a read.
pub(crate) const MIN_SPARE: usize = 4 * 1024;
/// Pause after a failed connect before trying again.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// Bytes a connection writes: the thread's shared request batch, or records a TLS
/// connection encrypted.
pub trait WriteBuf: IoBuf {
    /// The bytes to write.
    fn bytes(&self) -> &[u8];
}

impl WriteBuf for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl WriteBuf for Slice<Rc<Vec<u8>>> {
    fn bytes(&self) -> &[u8] {
        &self.get_ref()[self.begin()..self.end()]
    }
}

/// A connected stream as the request loop uses it, with owned buffers (as io_uring
/// needs).
pub trait Io: 'static {
    /// Read into the spare capacity of `buf`, after the bytes it holds (reserving some
    /// when it has none). `Ok(0)` is the end of the stream.
    fn read(&mut self, buf: Vec<u8>) -> impl Future<Output = BufResult<usize, Vec<u8>>>;
    /// Write all of `buf`.
    fn write_all<B: WriteBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>>;
    /// What the TLS handshake settled; `None` for cleartext.
    fn tls_session(&self) -> Option<crate::tls::Session> {
        None
    }
}

/// A monoio read that appends: the read goes into `buf[len..capacity]`. (A plain
/// `read(vec)` writes from the start of the vector and drops what it held.)
pub(crate) async fn read_append<S: AsyncReadRent>(
    s: &mut S,
    mut buf: Vec<u8>,
) -> BufResult<usize, Vec<u8>> {
    if buf.capacity() == buf.len() {
        buf.reserve(MIN_SPARE);
    }
    let (start, end) = (buf.len(), buf.capacity());
    let (res, slice) = s.read(SliceMut::new(buf, start, end)).await;
    (res, slice.into_inner())
}

impl Io for monoio::net::TcpStream {
    fn read(&mut self, buf: Vec<u8>) -> impl Future<Output = BufResult<usize, Vec<u8>>> {
        read_append(self, buf)
    }

    fn write_all<B: WriteBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        AsyncWriteRentExt::write_all(self, buf)
    }
}

impl Io for monoio::net::UnixStream {
    fn read(&mut self, buf: Vec<u8>) -> impl Future<Output = BufResult<usize, Vec<u8>>> {
        read_append(self, buf)
    }

    fn write_all<B: WriteBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        AsyncWriteRentExt::write_all(self, buf)
    }
}

/// Why a connection could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The transport did not connect (refused, unreachable, not within the timeout).
    Connect,
    /// The TLS handshake failed (why, for the report).
    Tls(String),
}

/// Opens connections to the target: TCP, unix, and TLS over either
/// ([`crate::tls::TlsConnector`]).
pub trait Connector: 'static {
    /// The connected stream.
    type Stream: Io;
    /// Open one connection, handshake included, within `timeout`.
    fn connect(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Self::Stream, ConnectError>>;
}

/// TCP to one resolved address, with `TCP_NODELAY`.
#[derive(Debug, Clone)]
pub struct TcpConnector(pub SocketAddr);

impl Connector for TcpConnector {
    type Stream = monoio::net::TcpStream;

    async fn connect(&self, timeout: Duration) -> Result<Self::Stream, ConnectError> {
        let connect = monoio::net::TcpStream::connect_addr(self.0);
        let stream = match monoio::time::timeout(timeout, connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(_)) | Err(_) => return Err(ConnectError::Connect),
        };
        stream
            .set_nodelay(true)
            .map_err(|_| ConnectError::Connect)?;
        Ok(stream)
    }
}

/// A unix-domain stream socket.
#[derive(Debug, Clone)]
pub struct UnixConnector(pub PathBuf);

impl Connector for UnixConnector {
    type Stream = monoio::net::UnixStream;

    async fn connect(&self, timeout: Duration) -> Result<Self::Stream, ConnectError> {
        let connect = monoio::net::UnixStream::connect(&self.0);
        match monoio::time::timeout(timeout, connect).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(_)) | Err(_) => Err(ConnectError::Connect),
        }
    }
}

/// How a batch ended.
enum Outcome {
    /// Every request was answered; the connection may be reused.
    Answered,
    /// Every request so far was answered, the server closes: send `n` again elsewhere.
    Closed { unanswered: usize },
    /// A fatal error; the connection is gone and `n` requests failed.
    Failed { kind: ErrorKind, unanswered: usize },
}

/// Run connection number `index` (global, `0..connections`) until the run's end, its
/// thread's request budget, or the thread's stop.
pub async fn run<C: Connector>(ctx: Rc<ThreadCtx>, connector: C, index: usize) {
    let plan = &*ctx.plan;
    let mut stream: Option<C::Stream> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(READ_BUF);
    let mut reader = ResponseReader::new(plan.request_is_head);
    let mut seq: u64 = 0;
    // Requests to send again after a `Connection: close`, with their batch's send time.
    let mut carry: Option<(usize, Instant, bool)> = None;

    loop {
        // `fresh`: a new batch of a closed loop, whose latency starts when it is written
        // (after connecting, as with wrk), not when it was decided.
        let (k, mut sent_at, measured, fresh) = match carry.take() {
            Some((k, sent_at, measured)) => (k, sent_at, measured, false),
            None => {
                let Some(slot) = schedule::next(&ctx, index, plan.connections, &mut seq).await
                else {
                    break;
                };
                let Some(k) = ctx.take_budget(slot.measured, plan.pipeline) else {
                    break;
                };
                (k, slot.sent_at, slot.measured, slot.fresh)
            }
        };

        if stream.is_none() {
            match connector.connect(plan.timeout).await {
                Ok(s) => {
                    reader.reset();
                    buf.clear();
                    ctx.opened(&s);
                    stream = Some(s);
                    if fresh {
                        sent_at = Instant::now();
                    }
                }
                Err(e) => {
                    let kind = match e {
                        ConnectError::Connect => ErrorKind::Connect,
                        ConnectError::Tls(why) => {
                            ctx.tls_failed(why);
                            ErrorKind::Tls
                        }
                    };
                    ctx.fail(kind, k, measured);
                    monoio::time::sleep(CONNECT_BACKOFF).await;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };

        // One timer for the whole exchange: a batch not answered in full within the
        // timeout fails its unanswered requests as timeouts.
        let mut pending = k;
        let exchange = exchange(
            &ctx,
            s,
            &mut buf,
            &mut reader,
            k,
            sent_at,
            measured,
            &mut pending,
        );
        let outcome = match monoio::time::timeout(plan.timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Failed {
                kind: ErrorKind::Timeout,
                unanswered: pending,
            },
        };
        match outcome {
            Outcome::Answered => {}
            Outcome::Closed { unanswered } => {
                stream = None;
                if unanswered > 0 {
                    carry = Some((unanswered, sent_at, measured));
                }
            }
            Outcome::Failed { kind, unanswered } => {
                ctx.fail(kind, unanswered, measured);
                stream = None;
            }
        }
    }
}

/// Write a batch of `k` requests, then read until all are answered (or the connection
/// fails). `pending` counts the requests not answered yet, also when this future is
/// dropped by the timeout.
#[allow(clippy::too_many_arguments)]
async fn exchange<S: Io>(
    ctx: &ThreadCtx,
    s: &mut S,
    buf: &mut Vec<u8>,
    reader: &mut ResponseReader,
    k: usize,
    sent_at: Instant,
    measured: bool,
    pending: &mut usize,
) -> Outcome {
    let plan = &*ctx.plan;
    let len = k * plan.request_len;
    if s.write_all(ctx.batch.clone().slice(..len)).await.0.is_err() {
        return Outcome::Failed {
            kind: ErrorKind::Write,
            unanswered: *pending,
        };
    }
    if measured {
        ctx.stats.borrow_mut().bytes_written += len as u64;
    }
    // Bytes already buffered (sent ahead by the server) are answers too.
    let mut stamp = ctx.stamp(Instant::now(), sent_at);
    loop {
        // Take every complete response out of the buffer.
        let mut consumed = 0;
        while *pending > 0 {
            match reader.advance(&buf[consumed..]) {
                Ok((n, done)) => {
                    consumed += n;
                    let Some(done) = done else { break };
                    *pending -= 1;
                    if measured {
                        ctx.response(done.status, stamp);
                    }
                    if !(done.keep_alive && plan.keep_alive) {
                        return Outcome::Closed {
                            unanswered: *pending,
                        };
                    }
                }
                Err(Malformed::Parse(_)) | Err(Malformed::SwitchingProtocols) => {
                    return Outcome::Failed {
                        kind: ErrorKind::Malformed,
                        unanswered: *pending,
                    };
                }
            }
        }
        if consumed == buf.len() {
            buf.clear();
        } else if consumed > 0 {
            buf.drain(..consumed);
        }
        if *pending == 0 {
            return Outcome::Answered;
        }

        if buf.capacity() - buf.len() < MIN_SPARE {
            buf.reserve(READ_BUF.max(buf.len()));
        }
        // The buffer is lent to the read; if the timeout drops this future, `buf` stays
        // empty and the connection is discarded anyway.
        let (res, owned) = s.read(std::mem::take(buf)).await;
        *buf = owned;
        stamp = ctx.stamp(Instant::now(), sent_at);
        match res {
            Ok(0) => {
                if let Some(done) = reader.eof() {
                    *pending -= 1;
                    if measured {
                        ctx.response(done.status, stamp);
                    }
                    return Outcome::Closed {
                        unanswered: *pending,
                    };
                }
                return Outcome::Failed {
                    kind: ErrorKind::Read,
                    unanswered: *pending,
                };
            }
            Ok(n) => {
                if measured {
                    ctx.read(n, stamp);
                }
            }
            Err(_) => {
                return Outcome::Failed {
                    kind: ErrorKind::Read,
                    unanswered: *pending,
                };
            }
        }
    }
}
