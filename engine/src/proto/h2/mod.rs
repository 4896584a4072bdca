//! One HTTP/2 connection (RFC 9113), on the `h2` crate.
//!
//! - The transport becomes its poll-style twin ([`crate::transport::poll`]) behind a
//!   frame watcher ([`watch`]) that replays the bytes read while choosing the protocol
//!   and ends floods h2 itself tolerates.
//! - Everything runs in the connection's own task, on its worker: the connection state,
//!   and every stream's handler ([`stream`]) in one `FuturesUnordered`. No task is spawned
//!   and nothing crosses threads; dropping the connection drops its streams.
//! - Timers: the keep-alive timeout runs while no stream is open (then a graceful
//!   GOAWAY), the keep-alive PING when asked for; per-stream data rates live in
//!   [`body`] and [`stream`].
//! - Shutdown: GOAWAY, the open streams finish (within the shutdown timeout, after which
//!   the worker aborts the socket), then the connection closes.

mod body;
mod head;
mod stream;
#[cfg(test)]
mod tests;
mod tunnel;
mod watch;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::stream::{FuturesUnordered, StreamExt};
use h2::server::{Builder, Connection};
use h2::Reason;

use crate::handler::Handler;
use crate::metrics::{bump, CloseReason};
use crate::registry::{ConnId, Phase};
use crate::shard::Shard;
use crate::transport::poll::PollIo;
use crate::transport::{ConnInfo, Transport};
use watch::{Verdict, Watched};

use super::Served;

/// A stream's work, boxed (each stream's future has its own size).
type StreamTask = Pin<Box<dyn Future<Output = ()>>>;

/// Serve a connection that speaks HTTP/2 over `stream`; `read` holds bytes already read
/// from it (the preface, or part of it, and whatever followed).
pub(crate) async fn serve_transport<H: Handler, T: Transport>(
    shard: Rc<Shard<H>>,
    stream: T,
    read: BytesMut,
    id: ConnId,
) -> Served {
    let info = stream.info().clone();
    match stream.into_poll() {
        Ok(io) => serve(shard, read.freeze(), io, info, id).await,
        Err(e) => {
            tracing::debug!(error = %e, "HTTP/2: the socket cannot switch to poll I/O");
            shard.counters.closed(CloseReason::Aborted);
            Served::Closed
        }
    }
}

/// Serve one HTTP/2 connection until it closes.
async fn serve<H: Handler, P: PollIo>(
    shard: Rc<Shard<H>>,
    read: Bytes,
    io: P,
    info: Rc<ConnInfo>,
    id: ConnId,
) -> Served {
    shard.registry.set_phase(id, Phase::Multiplexed);
    bump(&shard.counters.http2_connections, 1);
    let settings = &shard.http;
    let limits = settings.http2;
    let (io, watch) = Watched::new(read, io);
    let handshake = builder(&shard).handshake::<_, Bytes>(io);
    // The client has the keep-alive timeout to send its preface and settings.
    let conn = match monoio::time::timeout(settings.keep_alive_timeout, handshake).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "HTTP/2 handshake failed");
            shard.counters.closed(CloseReason::Aborted);
            return Served::Closed;
        }
        Err(_) => {
            shard.counters.closed(CloseReason::KeepAliveTimeout);
            return Served::Closed;
        }
    };
    let mut driver = Driver {
        shard: shard.clone(),
        info,
        conn,
        streams: FuturesUnordered::new(),
        watch,
        idle_since: Instant::now(),
        timer: None,
        ping: None,
        ping_sent: None,
        going_away: false,
        flooded: false,
        reason: CloseReason::Normal,
    };
    if limits.keep_alive_ping_delay.is_some() {
        driver.ping = driver.conn.ping_pong();
    }
    let shutdown = shard.shutdown.wait();
    let mut shutdown = std::pin::pin!(shutdown);
    let reason = poll_fn(|cx| {
        if !driver.going_away && shutdown.as_mut().poll(cx).is_ready() {
            driver.go_away(CloseReason::Shutdown);
        }
        driver.poll(cx)
    })
    .await;
    shard.counters.closed(reason);
    Served::Closed
}

/// The `h2` server settings from Kestrel's limits.
fn builder<H>(shard: &Shard<H>) -> Builder {
    let l = shard.http.http2;
    let mut b = Builder::new();
    b.max_concurrent_streams(l.max_streams_per_connection)
        .header_table_size(l.header_table_size)
        .max_frame_size(l.max_frame_size)
        .max_header_list_size(header_list_limit(&shard.http.limits))
        .initial_window_size(l.initial_stream_window_size)
        .initial_connection_window_size(l.initial_connection_window_size)
        // Streams the client resets before they were accepted (rapid reset,
        // CVE-2023-44487): past this, GOAWAY(ENHANCE_YOUR_CALM).
        .max_pending_accept_reset_streams(20)
        .max_concurrent_reset_streams(200)
        .max_send_buffer_size(256 * 1024)
        // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441), as Kestrel always sends it:
        // WebSockets over HTTP/2.
        .enable_connect_protocol();
    b
}

/// SETTINGS_MAX_HEADER_LIST_SIZE: the HTTP/1 header section limit (Kestrel advertises
/// the same). h2 counts 32 bytes per field on top (RFC 9113 §6.5.2); the exact limits
/// are checked again on the decoded request ([`head`]).
fn header_list_limit(limits: &peregrine_protocol::h1::parse::Limits) -> u32 {
    let fields = limits.max_header_count.saturating_add(8);
    let total = limits
        .max_headers_total
        .saturating_add(fields.saturating_mul(32));
    u32::try_from(total).unwrap_or(u32::MAX)
}

struct Driver<H: Handler, P: PollIo> {
    shard: Rc<Shard<H>>,
    info: Rc<ConnInfo>,
    conn: Connection<Watched<P>, Bytes>,
    streams: FuturesUnordered<StreamTask>,
    watch: Rc<watch::Watch>,
    /// When the last stream ended (the keep-alive timeout runs from here).
    idle_since: Instant,
    /// The one timer: keep-alive, or the keep-alive PING's delay or timeout.
    timer: Option<Pin<Box<monoio::time::Sleep>>>,
    ping: Option<h2::PingPong>,
    /// A keep-alive PING is out, sent then (and the bytes read by then).
    ping_sent: Option<(Instant, u64)>,
    going_away: bool,
    /// A flood was seen (and answered).
    flooded: bool,
    reason: CloseReason,
}

impl<H: Handler, P: PollIo> Driver<H, P> {
    /// Stop taking new streams: GOAWAY, then close once the open ones finish.
    fn go_away(&mut self, reason: CloseReason) {
        if !self.going_away {
            self.going_away = true;
            self.reason = reason;
            self.conn.graceful_shutdown();
        }
    }

    /// End at once with GOAWAY(`code`).
    fn abort(&mut self, code: Reason, reason: CloseReason) {
        self.going_away = true;
        self.reason = reason;
        self.conn.abrupt_shutdown(code);
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<CloseReason> {
        loop {
            if let Verdict::Flood(what) = self.watch.verdict() {
                if !self.flooded {
                    self.flooded = true;
                    tracing::debug!(flood = what, "HTTP/2 flood: GOAWAY(ENHANCE_YOUR_CALM)");
                    self.abort(Reason::ENHANCE_YOUR_CALM, CloseReason::Rejected);
                }
            }
            match self.conn.poll_accept(cx) {
                Poll::Ready(Some(Ok((req, respond)))) => {
                    bump(&self.shard.counters.requests, 1);
                    let task = stream::serve(
                        self.shard.clone(),
                        self.info.clone(),
                        self.watch.clone(),
                        req,
                        respond,
                    );
                    self.streams.push(Box::pin(task));
                    continue;
                }
                Poll::Ready(Some(Err(e))) => {
                    tracing::debug!(error = %e, "HTTP/2 connection error");
                    return Poll::Ready(if e.reason() == Some(Reason::ENHANCE_YOUR_CALM) {
                        CloseReason::Rejected
                    } else if e.is_io() {
                        CloseReason::Aborted
                    } else {
                        self.reason
                    });
                }
                Poll::Ready(None) => return Poll::Ready(self.reason),
                Poll::Pending => {}
            }
            let was_busy = !self.streams.is_empty();
            while let Poll::Ready(Some(())) = self.streams.poll_next_unpin(cx) {}
            if was_busy && self.streams.is_empty() {
                self.idle_since = Instant::now();
            }
            if !self.flooded && self.watch.verdict() != Verdict::Fine {
                // A stream reported an attack: GOAWAY goes out on the next round.
                continue;
            }
            if self.poll_timers(cx) {
                // A timer acted (GOAWAY, PING): let h2 send it.
                continue;
            }
            return Poll::Pending;
        }
    }

    /// Keep-alive timeout and keep-alive PING; `true` when one of them acted.
    fn poll_timers(&mut self, cx: &mut Context<'_>) -> bool {
        let settings = &self.shard.http;
        let limits = settings.http2;
        let now = Instant::now();
        let due = |at: Instant| now + SLACK >= at;
        let mut next: Option<Instant> = None;
        let mut wake_at = |at: Instant| next = Some(next.map_or(at, |n| n.min(at)));
        if !self.going_away && self.streams.is_empty() {
            let at = self.idle_since + settings.keep_alive_timeout;
            if due(at) {
                self.go_away(CloseReason::KeepAliveTimeout);
                return true;
            }
            wake_at(at);
        }
        if let (Some(ping), Some(delay)) = (self.ping.as_mut(), limits.keep_alive_ping_delay) {
            let _ = ping.poll_pong(cx);
            let received = self.watch.bytes_read();
            if let Some((sent, before)) = self.ping_sent {
                if received > before {
                    // Anything from the client (the PONG or more) answers the PING.
                    self.ping_sent = None;
                } else if due(sent + limits.keep_alive_ping_timeout) {
                    tracing::debug!("HTTP/2 keep-alive PING not answered");
                    self.ping_sent = None;
                    self.abort(Reason::INTERNAL_ERROR, CloseReason::KeepAliveTimeout);
                    return true;
                } else {
                    wake_at(sent + limits.keep_alive_ping_timeout);
                }
            }
            if self.ping_sent.is_none() && !self.going_away {
                let at = self.watch.last_read() + delay;
                if due(at) {
                    if ping.send_ping(h2::Ping::opaque()).is_ok() {
                        self.ping_sent = Some((now, received));
                        return true;
                    }
                } else {
                    wake_at(at);
                }
            }
        }
        match next {
            Some(at) => {
                let at = monoio::time::Instant::from_std(at);
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(monoio::time::sleep_until(at)));
                if timer.deadline() != at {
                    timer.as_mut().reset(at);
                }
                // Ready means due: the caller goes round again.
                timer.as_mut().poll(cx).is_ready()
            }
            None => {
                self.timer = None;
                false
            }
        }
    }
}

/// Deadlines closer than this count as due (timers fire at millisecond granularity).
const SLACK: Duration = Duration::from_millis(2);
