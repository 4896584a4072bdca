//! One HTTP/1.x connection: read, parse, dispatch to the handler, write; generic over
//! the [`Transport`] it runs on (kernel sockets, the in-memory pipe, later TLS).
//!
//! - Idle: no buffers held; the connection parks outside its active state ([`park`]),
//!   waits for readability (or shutdown), then takes a read buffer from the worker's
//!   pool. Back-to-back requests wait with a hot read instead.
//! - Pipelining: every complete request already in the read buffer is answered before
//!   anything is written, so all responses to one read leave in one write.
//! - Bodies: the request body is read on demand by the handler (see [`exchange`]); the
//!   response body is written as it is produced, chunked when its length is unknown.
//! - Upgrade: the handler may take the transport for good (`101 Switching Protocols`).

mod dispatch;
mod encode;
mod exchange;
mod panic;
mod park;
#[cfg(test)]
mod tests;
mod write;

pub(crate) use panic::CatchUnwind;
pub(crate) use park::Parked;

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use bytes::BytesMut;
use peregrine_protocol::h1::parse::{RequestHead, RequestParser};
use peregrine_protocol::h1::{ParseError, Status};

use crate::handler::Handler;
use crate::metrics::{bump, CloseReason};
use crate::registry::{ConnId, Kick, Phase};
use crate::shard::Shard;
use crate::transport::{ConnInfo, Probe, Transport};
use encode::encode_error;
use exchange::{Exchange, Io};

/// Bodies up to this size are copied into the write buffer; larger ones are written
/// from their own buffer.
const COPY_LIMIT: usize = 16 * 1024;
/// After this many requests a connection waits for the next one with a pending read (and
/// its buffer), while fewer than `registry::MAX_HOT` of the worker's connections do: on
/// io_uring one operation instead of a readiness wait and a read; on epoll a receive
/// instead of a zero-timeout `poll(2)` and a receive (measured: 2.15 system calls per
/// request instead of 3.11, 4,878 instructions instead of 5,575);
/// otherwise it waits buffer-free. A client that sends one request and stays connected
/// never holds a buffer. A hot read is not taken back when its client falls silent (a
/// cancellable read costs monoio ~440 instructions per request): the cap bounds what
/// quiet connections hold to `MAX_HOT` buffers per worker, until the keep-alive timeout
/// or shutdown ends them.
const HOT_AFTER: u32 = 2;
/// Requests a connection answers before it gives the worker's other ready tasks a turn
/// (tokio's cooperative budget is 128 operations too). On the readiness backend the
/// reads of a client that keeps its pipeline full return at once, so without it one
/// such connection would be served without a pause while its neighbours wait.
const FAIR_TURN: u32 = 128;
/// Largest single write: big bodies go out in pieces so the response data rate sees
/// progress.
const WRITE_PIECE: usize = 64 * 1024;
/// Grow the read buffer by this much when a head does not fit.
const HEAD_READ_SIZE: usize = 4096;
/// At shutdown, how long a connection accepted just before may take to send its first
/// request.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);
/// How long an unread request body may be drained after the response.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to read and discard after an error answer before closing (lingering close,
/// so the client sees the answer rather than a reset).
const LINGER: Duration = Duration::from_millis(500);

/// How a connection left HTTP/1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    /// It closed.
    Closed,
    /// It was upgraded: the stream went to the handler, and the connection already left
    /// the max-concurrent-connections count and the worker's open count (its lease
    /// holds that now).
    Upgraded,
}

/// How HTTP/1 handed a connection back.
pub(crate) enum Exit<T> {
    /// Served to its end (or upgraded).
    Served(Served),
    /// The first bytes were the HTTP/2 preface (prior-knowledge h2c) and HTTP/2 is on:
    /// the transport and the bytes read so far go to HTTP/2.
    Http2 { stream: T, read: BytesMut },
    /// Between requests with nothing to do: the connection left its active state
    /// ([`park`]); wait on it, then [`Conn::resume`].
    Parked(Parked<T>),
}

/// The start of the HTTP/2 connection preface (RFC 9113 §3.4): an HTTP/1 parser sees a
/// request line it refuses.
pub(crate) const PREFACE_LINE: &[u8] = b"PRI * HTTP/2.0\r\n";

/// GOAWAY(HTTP_1_1_REQUIRED) on stream 0, last stream 0: the answer to an HTTP/2
/// preface where only HTTP/1 is served (Kestrel sends exactly these 17 bytes).
const GOAWAY_HTTP_1_1_REQUIRED: &[u8] = &[0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0d];

impl<H: Handler, T: Transport> Conn<H, T> {
    /// An HTTP/1 connection over `stream`. `rbuf` holds bytes already read from it (by
    /// protocol detection), the start of the first request.
    pub(crate) fn new(shard: Rc<Shard<H>>, stream: T, rbuf: BytesMut, id: ConnId) -> Self {
        let limits = shard.http.limits;
        let info = stream.info().clone();
        Conn {
            id,
            shard,
            io: Some(Io { stream, rbuf }),
            wbuf: BytesMut::new(),
            parser: RequestParser::new(limits),
            head: RequestHead::default(),
            exchange: None,
            info,
            persist: Persist::KeepAlive,
            served: 0,
            turn: 0,
            fresh: true,
            resumed: None,
            relaxed_wait: false,
        }
    }

    /// The connection again, after it was parked (or before its first request): `None`
    /// when `parked` holds no transport.
    pub(crate) fn resume(shard: Rc<Shard<H>>, parked: &mut Parked<T>, id: ConnId) -> Option<Self> {
        let mut conn = Conn::new(shard, parked.stream.take()?, BytesMut::new(), id);
        conn.served = parked.served;
        // A connection stops being fresh when its first request is answered.
        conn.fresh = parked.served == 0;
        conn.resumed = parked.ready.take();
        Some(conn)
    }

    /// Serve (see [`Conn::serve`]), owning the connection: the future is the connection's
    /// active state.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn moves its arguments into locals: the Conn would be held twice"
    )]
    pub(crate) fn into_serve(mut self) -> impl Future<Output = Exit<T>> {
        async move { self.serve().await }
    }

    /// The exchange of the request being served (made on first use; see the field).
    #[inline]
    fn exchange(&mut self) -> &Rc<Exchange<T>> {
        let (shard, id) = (&self.shard, self.id);
        self.exchange
            .get_or_insert_with(|| Rc::new(Exchange::new(shard.core.clone(), id)))
    }

    /// Serve until the connection closes, is upgraded, or turns out to speak HTTP/2.
    ///
    /// A method, awaited by the caller that owns the `Conn`: an `async fn` taking the
    /// connection's parts would keep them in its state beside the `Conn` they move into,
    /// for the connection's whole life.
    pub(crate) async fn serve(&mut self) -> Exit<T> {
        let conn = self;
        let id = conn.id;
        let end = conn.run().await;
        if end == End::Park {
            if let Some(io) = conn.io.take() {
                return Exit::Parked(Parked {
                    stream: Some(io.stream),
                    served: conn.served,
                    relaxed_wait: conn.relaxed_wait,
                    ready: None,
                });
            }
        }
        if end == End::Http2 {
            if let Some(io) = conn.io.take() {
                conn.release_buffers();
                return Exit::Http2 {
                    stream: io.stream,
                    read: io.rbuf,
                };
            }
        }
        let reason = match (end, conn.shard.registry.kicked(id)) {
            (End::Upgraded, _) => CloseReason::Upgraded,
            (_, Some(Kick::Shutdown)) => CloseReason::Shutdown,
            (_, Some(Kick::KeepAlive)) => CloseReason::KeepAliveTimeout,
            (_, Some(Kick::HeadersTimeout)) => CloseReason::HeadersTimeout,
            (_, Some(Kick::HandshakeTimeout)) => CloseReason::TlsHandshakeTimeout,
            (_, Some(Kick::BodyRate | Kick::ResponseRate)) => CloseReason::DataRate,
            (End::Close | End::Http2 | End::Park, None) => CloseReason::Normal,
            (End::Reject, None) => CloseReason::Rejected,
            (End::Abort, None) => CloseReason::Aborted,
        };
        conn.shard.counters.closed(reason);
        if end == End::Upgraded {
            return Exit::Served(Served::Upgraded);
        }
        // Boxed: closing (flush, lingering read) needs more state than the idle loop.
        Box::pin(conn.finish(end)).await;
        Exit::Served(Served::Closed)
    }
}

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Flush what is buffered and close.
    Close,
    /// An error answer is buffered: flush, then lingering close.
    Reject,
    /// The transport failed or vanished: drop it.
    Abort,
    /// The handler took the transport (opaque upgrade).
    Upgraded,
    /// The connection opened with the HTTP/2 preface, and HTTP/2 is served.
    Http2,
    /// Nothing to do until the client sends more: park outside the active state.
    Park,
}

/// Whether another request may follow the one being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persist {
    /// A persistent connection: read the next request after this response.
    KeepAlive,
    /// This response is the last (`Connection: close`, HTTP/1.0, an error answer,
    /// shutdown, a body that cannot be skipped).
    Close,
}

/// An HTTP/1 connection: its transport, buffers and per-connection state.
pub(crate) struct Conn<H: Handler, T: Transport> {
    id: ConnId,
    shard: Rc<Shard<H>>,
    /// `None` only while lent to the exchange (or lost with a failed body read, or
    /// upgraded away).
    io: Option<Io<T>>,
    wbuf: BytesMut,
    parser: RequestParser,
    head: RequestHead,
    /// What the connection shares with the request it is serving: made when a request
    /// starts, dropped when the connection waits buffer-free between requests (an idle
    /// connection does not hold its ~340 bytes; one waiting with a hot read keeps it).
    exchange: Option<Rc<Exchange<T>>>,
    info: Rc<ConnInfo>,
    persist: Persist,
    /// Requests answered on this connection (see `read_head`).
    served: u32,
    /// Requests answered since the connection last gave way ([`FAIR_TURN`]).
    turn: u32,
    /// No request has been read yet (only then may the HTTP/2 preface arrive).
    fresh: bool,
    /// The result of the readiness wait this connection was parked in, until used.
    resumed: Option<std::io::Result<()>>,
    /// A probe found the socket empty just before parking: the parked wait may be
    /// relaxed (see [`Transport::probe_read`]).
    relaxed_wait: bool,
}

impl<H: Handler, T: Transport> Conn<H, T> {
    async fn run(&mut self) -> End {
        loop {
            let head_len = match self.read_head().await {
                Ok(Some(n)) => n,
                Ok(None) => return End::Close,
                Err(HeadError::Parse(_)) if self.fresh && self.preface_arrived() => {
                    if self.shard.http.protocols.http2() {
                        return End::Http2;
                    }
                    // Only HTTP/1 here: say so in HTTP/2 (Kestrel does the same).
                    tracing::debug!("HTTP/2 preface on an HTTP/1-only endpoint");
                    self.buffer_raw(GOAWAY_HTTP_1_1_REQUIRED);
                    return End::Close;
                }
                Err(HeadError::Parse(e)) => {
                    tracing::debug!(error = %e, "bad request");
                    self.reject(e.status(), e.allow());
                    return End::Reject;
                }
                Err(HeadError::Kicked(Kick::HeadersTimeout)) => {
                    tracing::debug!("request headers timeout");
                    self.reject(408, None);
                    return End::Reject;
                }
                Err(HeadError::Kicked(_) | HeadError::Closed) => return End::Close,
                Err(HeadError::Park) => return End::Park,
                Err(HeadError::Io) => return End::Abort,
            };
            if self.head.upgrade && !self.wbuf.is_empty() && self.flush().await.is_err() {
                // A `101` must follow the responses to earlier pipelined requests (rare:
                // kept out of `dispatch`, which every request runs).
                return End::Abort;
            }
            // Inline, not boxed: an idle connection parks outside this state, so only
            // active ones hold it, and a box per request cost a copy of the whole
            // state and an allocation (see ARCHITECTURE.md, memory).
            if let Some(end) = self.dispatch(head_len).await {
                return end;
            }
            // Whatever follows (a pipelined head, or nothing) is a new request head.
            self.shard.registry.set_phase(self.id, Phase::Head);
        }
    }

    /// Read until a whole head is buffered. `Ok(None)`: the client closed between
    /// requests, or shutdown arrived while idle.
    async fn read_head(&mut self) -> Result<Option<usize>, HeadError> {
        loop {
            let io = self.io.as_mut().ok_or(HeadError::Io)?;
            if !io.rbuf.is_empty() {
                match self.parser.parse(&io.rbuf, &mut self.head) {
                    Ok(Status::Complete(n)) => return Ok(Some(n)),
                    Ok(Status::Partial) => {}
                    Err(e) => return Err(HeadError::Parse(e)),
                }
            }
            // More bytes are needed: first send what the previous reads produced.
            if !self.wbuf.is_empty() {
                self.flush().await.map_err(|_| HeadError::Io)?;
            }
            if self.turn >= FAIR_TURN {
                self.turn = 0;
                crate::fair::yield_now().await;
            }
            let idle = self.io.as_ref().is_some_and(|io| io.rbuf.is_empty());
            if idle && self.persist == Persist::Close {
                return Ok(None);
            }
            if idle && self.shard.shutdown.is_fired() && !self.fresh {
                return Ok(None);
            }
            if idle
                && self.resumed.is_none()
                && T::HOT_READS
                && self.served >= HOT_AFTER
                && self.shard.registry.room_for_hot()
            {
                // Back-to-back requests: wait for the next one with the read itself (one
                // operation instead of readiness + read), keeping the read buffer.
                self.hot_read().await?;
                continue;
            }
            if idle && self.resumed.is_none() && !self.fresh {
                // Before parking, one read that does not wait: on the readiness backend
                // it either finds the next request or leaves the socket known drained,
                // so the parked wait needs no `poll(2)` to check (two per request
                // otherwise: one before waiting, one after the wake).
                let io = self.io.as_mut().ok_or(HeadError::Io)?;
                if io.rbuf.capacity() > 0 {
                    match io.stream.probe_read(std::mem::take(&mut io.rbuf)) {
                        Probe::Read((res, buf)) => {
                            io.rbuf = buf;
                            let buffered = !io.rbuf.is_empty();
                            if !self.took(res, true, buffered)? {
                                return Ok(None);
                            }
                            continue;
                        }
                        Probe::WouldBlock => self.relaxed_wait = true,
                        Probe::Unsupported(buf) => io.rbuf = buf,
                    }
                }
            }
            if idle && self.resumed.is_none() {
                self.release_buffers();
                if !self.fresh {
                    // Wait for the next request parked, holding nothing else ([`park`]).
                    return Err(HeadError::Park);
                }
            }
            let io = self.io.as_mut().ok_or(HeadError::Io)?;
            if idle {
                // Idle until bytes arrive: a kick (shutdown) completes the wait or the
                // read below with end-of-stream.
                let registry = &self.shard.registry;
                let ready = match self.resumed.take() {
                    Some(ready) => ready,
                    None => {
                        // Inline: only a new connection waits here, in its active
                        // state (an idle one parks), so a box would only cost an
                        // allocation and a copy per connection.
                        bump(&self.shard.counters.waits, 1);
                        registry.set_phase(self.id, Phase::Fresh);
                        first_wait(&self.shard, &io.stream).await
                    }
                };
                if let Some(kick) = registry.kicked(self.id) {
                    return Err(HeadError::Kicked(kick));
                }
                if ready.is_err() {
                    if self.fresh && self.shard.shutdown.is_fired() {
                        // No first request within the grace: a shutdown close.
                        registry.note(self.id, Kick::Shutdown);
                        return Err(HeadError::Kicked(Kick::Shutdown));
                    }
                    return Ok(None);
                }
                io.rbuf = self.shard.pool.borrow_mut().take();
            } else if io.rbuf.capacity() - io.rbuf.len() < HEAD_READ_SIZE / 4 {
                io.rbuf.reserve(HEAD_READ_SIZE);
            }
            let buf = std::mem::take(&mut io.rbuf);
            let (res, buf) = io.stream.read(buf).await;
            io.rbuf = buf;
            let buffered = !io.rbuf.is_empty();
            if !self.took(res, idle, buffered)? {
                return Ok(None);
            }
        }
    }

    /// Account for a read of the head (`idle`: between requests; `buffered`: bytes are
    /// in the read buffer). `Ok(false)`: the client closed between requests.
    #[inline]
    fn took(
        &self,
        res: std::io::Result<usize>,
        idle: bool,
        buffered: bool,
    ) -> Result<bool, HeadError> {
        let counters = &self.shard.counters;
        bump(&counters.reads, 1);
        bump(&counters.bytes_in, *res.as_ref().unwrap_or(&0) as u64);
        if let Some(kick) = self.shard.registry.kicked(self.id) {
            return Err(HeadError::Kicked(kick));
        }
        match res {
            Ok(0) if !buffered => Ok(false),
            Ok(0) => {
                tracing::debug!("client closed the connection mid-head");
                Err(HeadError::Io)
            }
            Ok(_) => {
                if idle {
                    self.shard.registry.set_phase(self.id, Phase::Head);
                }
                Ok(true)
            }
            Err(_) => Err(HeadError::Io),
        }
    }

    /// Wait for the next request with a pending read (see `read_head`). The keep-alive
    /// timeout and shutdown end it as they end a readiness wait (the interrupt).
    async fn hot_read(&mut self) -> Result<(), HeadError> {
        let io = self.io.as_mut().ok_or(HeadError::Io)?;
        {
            let mut pool = self.shard.pool.borrow_mut();
            if self.wbuf.capacity() > 0 {
                pool.give(std::mem::take(&mut self.wbuf));
            }
            if io.rbuf.capacity() == 0 {
                io.rbuf = pool.take();
            }
        }
        let registry = &self.shard.registry;
        registry.go_hot(self.id);
        let buf = std::mem::take(&mut io.rbuf);
        let (res, buf) = io.stream.read(buf).await;
        registry.cool(self.id);
        io.rbuf = buf;
        let counters = &self.shard.counters;
        bump(&counters.reads, 1);
        if let Some(kick) = registry.kicked(self.id) {
            return Err(HeadError::Kicked(kick));
        }
        match res {
            Ok(0) => Err(HeadError::Closed),
            Ok(n) => {
                bump(&counters.bytes_in, n as u64);
                registry.set_phase(self.id, Phase::Head);
                Ok(())
            }
            Err(_) => Err(HeadError::Io),
        }
    }

    /// Whether the read buffer starts with the HTTP/2 preface's first line.
    fn preface_arrived(&self) -> bool {
        self.io
            .as_ref()
            .is_some_and(|io| io.rbuf.starts_with(PREFACE_LINE))
    }

    /// Buffer bytes to send as they are; the connection ends after them.
    fn buffer_raw(&mut self, bytes: &[u8]) {
        if self.wbuf.capacity() == 0 {
            self.wbuf = self.shard.pool.borrow_mut().take();
        }
        self.wbuf.extend_from_slice(bytes);
        self.persist = Persist::Close;
    }

    /// Buffer an error answer; the connection ends after it.
    fn reject(&mut self, status: u16, allow: Option<&str>) {
        self.shard.counters.error(status);
        if self.wbuf.capacity() == 0 {
            self.wbuf = self.shard.pool.borrow_mut().take();
        }
        let date = self.shard.date.get();
        encode_error(
            &mut self.wbuf,
            status,
            allow,
            &date,
            self.shard.http.server_header.as_deref(),
        );
        self.persist = Persist::Close;
    }

    /// Give idle buffers back to the pool (and drop the spare header vector: a quiet
    /// connection keeps nothing it does not need).
    fn release_buffers(&mut self) {
        self.exchange = None;
        drop(std::mem::take(&mut self.head.headers));
        let mut pool = self.shard.pool.borrow_mut();
        if self.wbuf.capacity() > 0 {
            pool.give(std::mem::take(&mut self.wbuf));
        }
        if let Some(io) = self.io.as_mut() {
            if io.rbuf.is_empty() && io.rbuf.capacity() > 0 {
                pool.give(std::mem::take(&mut io.rbuf));
            }
        }
    }

    async fn finish(&mut self, end: End) {
        if end != End::Abort && self.flush().await.is_ok() {
            if let Some(io) = self.io.as_mut() {
                let _ = io.stream.shutdown().await;
                if end == End::Reject {
                    linger(io).await;
                }
            }
        }
        self.release_buffers();
        if let Some(io) = self.io.as_mut() {
            let rbuf = std::mem::take(&mut io.rbuf);
            if rbuf.capacity() > 0 {
                self.shard.pool.borrow_mut().give(rbuf);
            }
        }
    }
}

/// A new connection waits for its first request: like an idle one, but a graceful
/// shutdown does not end the wait at once (the registry does not kick `Fresh`
/// connections): the client connected before the listener closed and its request is
/// likely on the way, so it gets [`FIRST_REQUEST_GRACE`] to arrive. Closing at once
/// would fail a request the client already sent.
///
/// Relaxed where nothing was read yet ([`Transport::UNREAD_AT_START`]): a socket just
/// registered has no stale readiness to mistake for bytes, so on epoll the wait needs no
/// `poll(2)` to check it (one system call per connection).
async fn first_wait<H: Handler, T: Transport>(shard: &Shard<H>, stream: &T) -> std::io::Result<()> {
    let ready = stream.readable(T::UNREAD_AT_START);
    let mut ready = std::pin::pin!(ready);
    let shutdown = shard.shutdown.wait();
    let mut shutdown = std::pin::pin!(shutdown);
    let raced = std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(r) = ready.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(r));
        }
        shutdown.as_mut().poll(cx).map(|()| None)
    })
    .await;
    match raced {
        Some(r) => r,
        // Boxed: a timer is 640 bytes aligned to 128, and only a shutdown needs one;
        // inline, it would grow every connection's active state by half.
        None => match Box::pin(monoio::time::timeout(FIRST_REQUEST_GRACE, ready)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        },
    }
}

/// After an error answer and FIN, read and discard for a moment so that unread request
/// bytes do not turn the close into a reset that destroys the answer in flight.
async fn linger<T: Transport>(io: &mut Io<T>) {
    let _ = monoio::time::timeout(LINGER, async {
        let mut discarded = 0usize;
        while discarded < 256 * 1024 {
            io.rbuf.clear();
            if io.rbuf.capacity() < 4096 {
                io.rbuf.reserve(4096);
            }
            let buf = std::mem::take(&mut io.rbuf);
            let (res, buf) = io.stream.read(buf).await;
            io.rbuf = buf;
            match res {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    })
    .await;
    io.rbuf.clear();
}

enum HeadError {
    Parse(ParseError),
    Kicked(Kick),
    /// The client closed between requests.
    Closed,
    Io,
    /// Idle, and no hot read: leave the active state ([`park`]).
    Park,
}
