//! Test support: a worker without a thread, its connections over the in-memory pipe,
//! and its clock advanced by hand. Tests drive a whole connection deterministically —
//! every byte, every tick — with no sockets, no sleeping and no background threads.
//!
//! ```ignore
//! testing::run(async {
//!     let bench = Bench::new(handler, |o| o.keep_alive_timeout = Duration::from_secs(2));
//!     let mut c = bench.connect();
//!     c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
//!     let r = c.response(false).await;
//!     bench.tick(); // one second of the worker's clock
//! });
//! ```

#![allow(
    dead_code,
    reason = "test support: not every helper is used by every test"
)]

use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use peregrine_protocol::h1::decode::ChunkedDecoder;
use peregrine_protocol::h1::response::{parse_response, ResponseHead};
use peregrine_protocol::h1::{BodyFraming, Status};

use crate::handler::Handler;
use crate::metrics::{Board, CloseReason, Snapshot};
use crate::options::Options;
use crate::shard::{HttpSettings, Shard, ShardCore};
use crate::transport::memory::{pipe, MemoryStream};
use crate::transport::Transport;

/// How long a test waits for anything before it fails (nothing here should take long:
/// the bound only turns a hang into a failure).
pub(crate) const PATIENCE: Duration = Duration::from_secs(5);

/// Run `f` on a fresh single-threaded runtime (the epoll driver: the in-memory pipe
/// needs no kernel I/O; timers work).
pub(crate) fn run<F: Future>(f: F) -> F::Output {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("a runtime")
        .block_on(f)
}

pub(crate) use crate::fair::yield_now;

/// Let every task that can run, run (the connection reacts to what the client sent).
pub(crate) async fn settle() {
    for _ in 0..64 {
        yield_now().await;
    }
}

/// Wait (bounded: a number of turns, not a time) until `cond` holds, letting every other
/// task run meanwhile.
pub(crate) async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        yield_now().await;
    }
    panic!("never happened: {what}");
}

/// `GET path` over HTTP/1.1.
pub(crate) fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

/// `POST path` over HTTP/1.1 with `body` (Content-Length).
pub(crate) fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A counting gate between a test and its handler (handlers are `Send`, so this is
/// too): [`Gate::pass`] waits for a permit that the test hands out with
/// [`Gate::give`] or [`Gate::open`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Gate {
    inner: Arc<Mutex<GateState>>,
}

#[derive(Debug, Default)]
struct GateState {
    permits: u64,
    /// Times `pass` was called (waiting or not).
    arrived: u64,
    waiters: Vec<Waker>,
}

impl Gate {
    fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Let `n` more `pass` calls through.
    pub fn give(&self, n: u64) {
        let waiters = {
            let mut st = self.state();
            st.permits = st.permits.saturating_add(n);
            std::mem::take(&mut st.waiters)
        };
        waiters.into_iter().for_each(Waker::wake);
    }

    /// Let every `pass` through from now on.
    pub fn open(&self) {
        self.give(u64::MAX / 2);
    }

    /// How many times `pass` was called.
    pub fn arrived(&self) -> u64 {
        self.state().arrived
    }

    /// Wait for a permit and use it.
    pub async fn pass(&self) {
        self.state().arrived += 1;
        std::future::poll_fn(|cx| {
            let mut st = self.state();
            if st.permits > 0 {
                st.permits -= 1;
                return Poll::Ready(());
            }
            st.waiters.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// A counter shared between a test and its handler.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally(Arc<AtomicU64>);

impl Tally {
    /// Add `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::SeqCst);
    }

    /// The count now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// One worker's state with a handler, serving in-memory connections on the current
/// runtime. The sweep (timeouts, data rates) runs only when the test calls
/// [`Bench::tick`].
pub(crate) struct Bench<H> {
    shard: Rc<Shard<H>>,
    /// Bytes each direction of a new pipe buffers.
    pub pipe_capacity: usize,
}

impl<H: Handler> Bench<H> {
    /// A worker serving `handler` with the default options, after `configure`.
    pub fn new(handler: H, configure: impl FnOnce(&mut Options)) -> Self {
        let mut o = Options::default();
        configure(&mut o);
        o.validate().expect("valid options");
        let http = Arc::new(HttpSettings::new(&o));
        let core = Rc::new(ShardCore::new(http, Board::new(1, "memory"), 0));
        Bench {
            shard: Rc::new(Shard { handler, core }),
            pipe_capacity: 64 * 1024,
        }
    }

    /// The worker's state.
    pub fn shard(&self) -> &Rc<Shard<H>> {
        &self.shard
    }

    /// A new client connection (its server side is served on a task of its own).
    pub fn connect(&self) -> Client {
        let (client, server) = pipe(self.pipe_capacity);
        crate::worker::start_conn(&self.shard, server, None);
        Client {
            stream: client,
            buf: BytesMut::new(),
        }
    }

    /// A new connection to a TLS listener: the raw pipe end (the test drives the TLS
    /// client itself).
    pub fn connect_tls(&self, config: std::sync::Arc<rustls::ServerConfig>) -> MemoryStream {
        let (client, server) = pipe(self.pipe_capacity);
        crate::worker::start_conn(&self.shard, server, Some(config));
        client
    }

    /// Run the worker's accept loop over `acceptor` (plain connections) on a task.
    pub fn accept_from<A: crate::accept::Acceptor + 'static>(&self, acceptor: A) {
        monoio::spawn(crate::accept::accept_loop(
            self.shard.clone(),
            acceptor,
            None,
        ));
    }

    /// One second passes on the worker's clock: the sweep enforces timeouts and rates.
    pub fn tick(&self) {
        self.shard.registry.sweep();
    }

    /// Start a graceful shutdown, as the worker does.
    pub fn shutdown(&self) {
        self.shard.shutdown.fire();
        self.shard.registry.kick_idle();
    }

    /// The shutdown timeout ran out, as the worker handles it: end every connection.
    pub fn abort_all(&self) {
        self.shard.abort_all();
    }

    /// Open connections (and upgraded streams).
    pub fn active(&self) -> usize {
        self.shard.active()
    }

    /// Wait (bounded) until every connection has closed.
    pub async fn drained(&self) {
        for _ in 0..10_000 {
            if self.shard.active() == 0 {
                return;
            }
            yield_now().await;
        }
        panic!("{} connections still open", self.shard.active());
    }

    /// The worker's counters now.
    pub fn counters(&self) -> Snapshot {
        self.shard
            .counters
            .snapshot(self.shard.active() as u64, (0, 0, 0))
    }

    /// Idle buffers in the worker's pool.
    pub fn pool_idle(&self) -> usize {
        self.shard.pool.borrow().idle()
    }

    /// Buffers the pool ever allocated (takes it could not serve from idle ones).
    pub fn pool_allocated(&self) -> u64 {
        self.shard.pool.borrow().stats().1
    }

    /// Reads from transports so far.
    pub fn reads(&self) -> u64 {
        self.shard.counters.reads.get()
    }

    /// Writes to transports so far.
    pub fn writes(&self) -> u64 {
        self.shard.counters.writes.get()
    }

    /// Bytes read from transports so far.
    pub fn bytes_in(&self) -> u64 {
        self.shard.counters.bytes_in.get()
    }

    /// Bytes written to transports so far.
    pub fn bytes_out(&self) -> u64 {
        self.shard.counters.bytes_out.get()
    }

    /// Connections that ended for `reason` so far.
    pub fn closed_by(&self, reason: CloseReason) -> u64 {
        self.shard.counters.closed_count(reason)
    }

    /// Connections refused for the max-concurrent-connections limit so far.
    pub fn rejected_over_limit(&self) -> u64 {
        self.shard.counters.rejected_over_limit.get()
    }
}

/// A response as the client read it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    /// `(name, value)` as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Reply {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The client end of an in-memory connection.
pub(crate) struct Client {
    pub stream: MemoryStream,
    /// Bytes read and not consumed yet.
    pub buf: BytesMut,
}

impl Client {
    /// Send `bytes` (waits while the pipe is full: backpressure).
    pub async fn send(&mut self, bytes: &[u8]) {
        let (res, _) = monoio::time::timeout(PATIENCE, self.stream.write_all(bytes.to_vec()))
            .await
            .expect("the server never read what we sent");
        res.expect("send");
    }

    /// Send `bytes` while reading whatever the server sends meanwhile into `buf` (a
    /// client that reads as it writes, so neither side's full pipe stalls the other).
    pub async fn send_reading(&mut self, bytes: &[u8]) {
        let mut sent = 0;
        let mut idle_turns = 0;
        while sent < bytes.len() {
            let wrote = self.stream.try_write(&bytes[sent..]);
            sent += wrote;
            let read = self.stream.try_read(&mut self.buf);
            if wrote + read > 0 {
                idle_turns = 0;
            } else {
                idle_turns += 1;
                assert!(
                    idle_turns < 10_000,
                    "stuck after sending {sent} of {} bytes",
                    bytes.len()
                );
                yield_now().await;
            }
        }
    }

    /// Read more into `buf`; `0` at end-of-stream. Bounded by [`PATIENCE`].
    pub async fn fill(&mut self) -> usize {
        let buf = std::mem::take(&mut self.buf);
        let (res, buf) = monoio::time::timeout(PATIENCE, self.stream.read(buf))
            .await
            .unwrap_or_else(|_| panic!("no answer; buffered: {:?}", self.buf));
        self.buf = buf;
        res.expect("read")
    }

    /// Whether the server has sent nothing more (after letting it run).
    pub async fn nothing_more(&mut self) -> bool {
        settle().await;
        self.buf.is_empty() && self.stream.unread_by_us() == 0
    }

    /// Whether the server has kept the connection (after letting it run): it neither
    /// finished its side nor went away.
    pub async fn open(&mut self) -> bool {
        settle().await;
        !self.stream.peer_closed()
    }

    /// Read exactly `n` more bytes (bounded).
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(
                self.fill().await > 0,
                "end-of-stream after {} of {n} bytes",
                self.buf.len()
            );
        }
        self.buf.split_to(n).to_vec()
    }

    /// Read one whole response (`head`: it answers a HEAD request).
    pub async fn response(&mut self, head: bool) -> Reply {
        let mut parsed = ResponseHead::default();
        let head_len = loop {
            if !self.buf.is_empty() {
                match parse_response(&self.buf, head, &mut parsed) {
                    Ok(Status::Complete(n)) => break n,
                    Ok(Status::Partial) => {}
                    Err(e) => panic!("bad response head: {e}: {:?}", self.buf),
                }
            }
            if self.fill().await == 0 {
                panic!("end-of-stream before a whole head: {:?}", self.buf);
            }
        };
        let headers = parsed
            .headers
            .iter()
            .map(|h| {
                (
                    String::from_utf8_lossy(h.name.of(&self.buf)).into_owned(),
                    String::from_utf8_lossy(h.value.of(&self.buf)).into_owned(),
                )
            })
            .collect();
        self.buf.advance(head_len);
        let mut body = Vec::new();
        match parsed.framing {
            Some(BodyFraming::Length(n)) => {
                while (self.buf.len() as u64) < n {
                    assert!(self.fill().await > 0, "end-of-stream inside a body");
                }
                body.extend_from_slice(&self.buf.split_to(n as usize));
            }
            Some(BodyFraming::Chunked) => {
                let mut d = ChunkedDecoder::new(64 * 1024);
                loop {
                    let r = d.decode(&self.buf).expect("valid chunked framing");
                    body.extend_from_slice(&self.buf[r.data.clone()]);
                    self.buf.advance(r.consumed);
                    if r.done {
                        break;
                    }
                    if r.consumed == 0 {
                        assert!(self.fill().await > 0, "end-of-stream inside a body");
                    }
                }
            }
            Some(BodyFraming::CloseDelimited) => {
                while self.fill().await > 0 {}
                body.extend_from_slice(&self.buf.split());
            }
            Some(BodyFraming::Empty) | None => {}
        }
        Reply {
            status: parsed.status,
            headers,
            body,
            keep_alive: parsed.keep_alive,
        }
    }

    /// Wait (bounded) for the server to close: everything it sent is read, then
    /// end-of-stream. Returns what it sent.
    pub async fn closed(&mut self) -> BytesMut {
        while self.fill().await > 0 {}
        self.buf.split()
    }
}
