//! One `--ws` connection: connect (TLS for `wss://`), the upgrade handshake, then the
//! message loop, then the close handshake; reopened when it fails while messages are
//! still to be sent.
//!
//! The loop keeps `--ws-inflight` messages outstanding: it takes as many from the
//! schedule (and the `-n` budget) as the window has room for, writes them in one write
//! (slices of the connection's pre-rendered batch), then reads until at least one echo
//! is back, and repeats. Echoes come back in order, so each is matched to the oldest
//! message in flight. In the open loop (`--rate`, one message in flight) each message
//! waits for its scheduled time, and its latency counts from then when the connection
//! was still busy (as for HTTP).
//!
//! Accounting is exact: every message taken from the budget ends as one echo or one
//! error. A failed connect, TLS or upgrade handshake fails the next message (`connect`,
//! `tls`, `handshake`, or `malformed` for an answer that is not HTTP); a connection that
//! fails later fails every message in flight: `write`, `read` (also when the server
//! closes), `malformed` (a frame a server must not send, or an echo of another length
//! or kind) or `timeout` (the oldest message not echoed within `--timeout` of being
//! written). When the run is over (its end, or the budget spent), the messages in flight
//! are drained — after the end of a timed run they are not counted, as with wrk — and the
//! connection is closed with code 1000; one that gets the server's Close back counts as
//! closed cleanly.

use super::frames::{self, NORMAL_CLOSURE};
use super::handshake::{self, Refusal};
use super::reader::{Event, Reader};
use super::Plan;
use crate::conn::{ConnectError, Connector, Io, MIN_SPARE};
use crate::ctx::ThreadCtx;
use crate::schedule::{self, Slot};
use crate::stats::ErrorKind;
use monoio::buf::IoBuf;
use peregrine_protocol::h1::Status;
use peregrine_protocol::ws::OpCode;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

/// Pause after a failed connect or handshake before trying again.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);
/// How long to wait for the server to close the TCP connection after its Close frame
/// (it closes first, RFC 6455 §7.1.1), at most.
const LINGER: Duration = Duration::from_secs(1);
/// Largest read buffer a connection starts with.
const MAX_READ_BUF: usize = 256 * 1024;

/// A message in flight.
#[derive(Debug, Clone, Copy)]
struct Sent {
    /// Where its latency counts from.
    from: Instant,
    /// When it was written (its timeout counts from here).
    written: Instant,
    /// Sent after warm-up: counted.
    measured: bool,
}

/// Why a connection ended: its messages in flight fail with `kind`; `why` is for the
/// report (the first one is kept).
#[derive(Debug)]
struct Failure {
    kind: ErrorKind,
    why: Option<String>,
}

impl Failure {
    fn new(kind: ErrorKind, why: impl Into<Option<String>>) -> Failure {
        Failure {
            kind,
            why: why.into(),
        }
    }
}

/// The parts of a connection the message loop works with.
struct Session<'a, S> {
    ctx: &'a ThreadCtx,
    ws: &'a Plan,
    stream: &'a mut S,
    buf: &'a mut Vec<u8>,
    reader: Reader,
    /// `ws.inflight` copies of the masked message frame.
    batch: Rc<Vec<u8>>,
    frame_len: usize,
    mask: [u8; 4],
}

/// Run connection number `index` (global, `0..connections`) until the run's end or its
/// thread's budget.
pub async fn run<C: Connector>(ctx: Rc<ThreadCtx>, connector: C, index: usize) {
    let plan = ctx.plan.clone();
    let Some(ws) = plan.ws.as_ref() else { return };
    let mut seq = 0;
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut seed = nanos ^ (index as u64).rotate_left(32);
    let mut inflight = VecDeque::with_capacity(ws.inflight);
    let frame = ws.size + 14;
    let mut buf = Vec::with_capacity((ws.inflight * frame).clamp(16 * 1024, MAX_READ_BUF));
    let mut finished = false;
    while !finished {
        let key = handshake::key(handshake::splitmix(&mut seed));
        let mask = (handshake::splitmix(&mut seed) as u32).to_ne_bytes();
        buf.clear();
        let mut stream = match open(&ctx, &connector, ws, &key, &mut buf).await {
            Ok(s) => s,
            Err(f) => {
                if let Some(why) = f.why {
                    ctx.ws_failed(why);
                }
                match next_message(&ctx, index, &mut seq).await {
                    Some(slot) => ctx.fail(f.kind, 1, slot.measured),
                    None => break,
                }
                monoio::time::sleep(CONNECT_BACKOFF).await;
                continue;
            }
        };
        ctx.opened(&stream);
        let (batch, frame_len) = frames::batch(ws.size, ws.text, mask, ws.inflight);
        let mut session = Session {
            ctx: &ctx,
            ws,
            stream: &mut stream,
            buf: &mut buf,
            reader: Reader::new(),
            batch: Rc::new(batch),
            frame_len,
            mask,
        };
        match session
            .messages(index, &mut seq, &mut inflight, &mut finished)
            .await
        {
            Ok(()) => session.close().await,
            Err(f) => {
                for sent in inflight.drain(..) {
                    ctx.fail(f.kind, 1, sent.measured);
                }
                if let Some(why) = f.why {
                    ctx.ws_failed(why);
                }
            }
        }
    }
}

/// The next message of lane `index`, taken from the budget; `None` once the run is over.
async fn next_message(ctx: &ThreadCtx, index: usize, seq: &mut u64) -> Option<Slot> {
    let slot = schedule::next(ctx, index, ctx.plan.connections, seq).await?;
    ctx.take_budget(slot.measured, 1)?;
    Some(slot)
}

/// Connect and upgrade, within `--timeout`; bytes the server sent after its `101` stay in
/// `buf`.
async fn open<C: Connector>(
    ctx: &ThreadCtx,
    connector: &C,
    ws: &Plan,
    key: &str,
    buf: &mut Vec<u8>,
) -> Result<C::Stream, Failure> {
    let timeout = ctx.plan.timeout;
    let deadline = monoio::time::Instant::now() + timeout;
    let mut s = match connector.connect(timeout).await {
        Ok(s) => s,
        Err(ConnectError::Connect) => return Err(Failure::new(ErrorKind::Connect, None)),
        Err(ConnectError::Tls(why)) => {
            ctx.tls_failed(why);
            return Err(Failure::new(ErrorKind::Tls, None));
        }
    };
    let upgrade = async {
        if s.write_all(ws.upgrade.request(key)).await.0.is_err() {
            return Err(Failure::new(ErrorKind::Write, None));
        }
        loop {
            match handshake::check(buf, key) {
                Ok(Status::Complete(n)) => {
                    buf.drain(..n);
                    return Ok(());
                }
                Ok(Status::Partial) => {}
                Err(Refusal::NotHttp(why)) => {
                    return Err(Failure::new(ErrorKind::Malformed, why));
                }
                Err(Refusal::Refused(why)) => {
                    return Err(Failure::new(ErrorKind::Handshake, why));
                }
            }
            let (res, owned) = s.read(std::mem::take(buf)).await;
            *buf = owned;
            match res {
                Ok(0) => {
                    return Err(Failure::new(
                        ErrorKind::Read,
                        "the server closed the connection during the WebSocket handshake"
                            .to_string(),
                    ))
                }
                Ok(_) => {}
                Err(_) => return Err(Failure::new(ErrorKind::Read, None)),
            }
        }
    };
    match monoio::time::timeout_at(deadline, upgrade).await {
        Ok(Ok(())) => Ok(s),
        Ok(Err(f)) => Err(f),
        Err(_) => Err(Failure::new(
            ErrorKind::Timeout,
            "no answer to the WebSocket handshake within --timeout".to_string(),
        )),
    }
}

impl<S: Io> Session<'_, S> {
    /// Send and read back messages until the run is over (`finished`, nothing in flight:
    /// `Ok`) or the connection fails (the messages left in `inflight` fail).
    async fn messages(
        &mut self,
        index: usize,
        seq: &mut u64,
        inflight: &mut VecDeque<Sent>,
        finished: &mut bool,
    ) -> Result<(), Failure> {
        let timeout = self.ctx.plan.timeout;
        loop {
            let mut k = 0;
            let mut measured = 0;
            while !*finished && inflight.len() < self.ws.inflight {
                let Some(slot) = next_message(self.ctx, index, seq).await else {
                    *finished = true;
                    break;
                };
                let written = if slot.fresh {
                    slot.sent_at
                } else {
                    Instant::now()
                };
                inflight.push_back(Sent {
                    from: slot.sent_at,
                    written,
                    measured: slot.measured,
                });
                k += 1;
                measured += usize::from(slot.measured);
            }
            let Some(oldest) = inflight.front() else {
                return Ok(());
            };
            let deadline = monoio::time::Instant::from_std(oldest.written + timeout);
            let cycle = async {
                if k > 0 {
                    let frames = self.batch.clone().slice(..k * self.frame_len);
                    if self.stream.write_all(frames).await.0.is_err() {
                        return Err(Failure::new(ErrorKind::Write, None));
                    }
                    self.ctx.written(measured * self.frame_len, true);
                }
                self.echoes(inflight).await
            };
            match monoio::time::timeout_at(deadline, cycle).await {
                Ok(Ok(())) => {}
                Ok(Err(f)) => return Err(f),
                Err(_) => return Err(Failure::new(ErrorKind::Timeout, None)),
            }
        }
    }

    /// Read until at least one message of `inflight` has come back, recording each echo.
    async fn echoes(&mut self, inflight: &mut VecDeque<Sent>) -> Result<(), Failure> {
        let want = if self.ws.text {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        let mut now = Instant::now();
        loop {
            let mut echoed = false;
            let mut consumed = 0;
            loop {
                let (n, event) = self.reader.advance(&self.buf[consumed..]).map_err(|b| {
                    Failure::new(ErrorKind::Malformed, format!("the server sent {b}"))
                })?;
                consumed += n;
                match event {
                    None => break,
                    Some(Event::Message { opcode, len }) => {
                        if opcode != want || len != self.ws.size as u64 {
                            return Err(Failure::new(
                                ErrorKind::Malformed,
                                format!(
                                    "the server sent a {len}-byte {opcode:?} message back for a \
                                     {}-byte {want:?} one",
                                    self.ws.size
                                ),
                            ));
                        }
                        let Some(sent) = inflight.pop_front() else {
                            return Err(Failure::new(
                                ErrorKind::Malformed,
                                "the server sent a message that echoes none of ours".to_string(),
                            ));
                        };
                        if sent.measured {
                            self.ctx.response(101, self.ctx.stamp(now, sent.from));
                        }
                        echoed = true;
                    }
                    Some(Event::Ping(payload)) => {
                        let pong = frames::pong(&payload, self.mask);
                        if self.stream.write_all(pong).await.0.is_err() {
                            return Err(Failure::new(ErrorKind::Write, None));
                        }
                    }
                    Some(Event::Close(code)) => {
                        let code = code.map_or("none".to_string(), |c| c.to_string());
                        return Err(Failure::new(
                            ErrorKind::Read,
                            format!(
                                "the server closed the WebSocket (code {code}) with messages \
                                 in flight"
                            ),
                        ));
                    }
                }
            }
            if consumed == self.buf.len() {
                self.buf.clear();
            } else if consumed > 0 {
                self.buf.drain(..consumed);
            }
            if echoed {
                return Ok(());
            }
            if self.buf.capacity() - self.buf.len() < MIN_SPARE {
                self.buf.reserve(self.buf.len().max(MIN_SPARE));
            }
            // Lent to the read; if the timeout drops this future the connection goes.
            let (res, owned) = self.stream.read(std::mem::take(self.buf)).await;
            *self.buf = owned;
            now = Instant::now();
            match res {
                Ok(0) => {
                    return Err(Failure::new(
                        ErrorKind::Read,
                        "the server closed the connection with messages in flight".to_string(),
                    ))
                }
                Ok(n) => self.ctx.read_at(n, std::time::Instant::now()),
                Err(_) => return Err(Failure::new(ErrorKind::Read, None)),
            }
        }
    }

    /// The close handshake (code 1000), within `--timeout`: counted as clean when the
    /// server's Close comes back; then a short wait for the server to close the TCP
    /// connection first.
    async fn close(&mut self) {
        let timeout = self.ctx.plan.timeout;
        let closing = async {
            let close = frames::close(NORMAL_CLOSURE, self.mask);
            if self.stream.write_all(close).await.0.is_err() {
                return false;
            }
            loop {
                let mut consumed = 0;
                loop {
                    match self.reader.advance(&self.buf[consumed..]) {
                        Ok((n, Some(Event::Close(code)))) => {
                            self.buf.drain(..consumed + n);
                            return code.is_none_or(|c| c == NORMAL_CLOSURE);
                        }
                        Ok((n, Some(_))) => consumed += n,
                        Ok((n, None)) => {
                            consumed += n;
                            break;
                        }
                        Err(_) => return false,
                    }
                }
                self.buf.drain(..consumed);
                if self.buf.capacity() - self.buf.len() < MIN_SPARE {
                    self.buf.reserve(MIN_SPARE);
                }
                let (res, owned) = self.stream.read(std::mem::take(self.buf)).await;
                *self.buf = owned;
                if !matches!(res, Ok(n) if n > 0) {
                    return false;
                }
            }
        };
        let clean = matches!(monoio::time::timeout(timeout, closing).await, Ok(true));
        if !clean {
            return;
        }
        self.ctx.ws_closed_cleanly();
        let linger = async {
            loop {
                self.buf.clear();
                let (res, owned) = self.stream.read(std::mem::take(self.buf)).await;
                *self.buf = owned;
                if !matches!(res, Ok(n) if n > 0) {
                    return;
                }
            }
        };
        let _ = monoio::time::timeout(timeout.min(LINGER), linger).await;
    }
}
