//! What a worker thread's connection tasks share: the run's [`Plan`] and [`Clock`]
//! (fixed before the run starts), and the thread's [`ThreadCtx`], which records each
//! response, read and failure into the thread's own figures (no atomics on the request
//! path).

use crate::conn::Io;
use crate::stats::{ErrorKind, Stats};
use crate::tls::{Session, TlsPlan};
use peregrine_runtime::Backend;
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the connections go, resolved.
#[derive(Debug, Clone)]
pub enum Dial {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A unix-domain socket path.
    Unix(PathBuf),
}

/// What every thread needs to know, fixed before the run starts.
#[derive(Debug)]
pub struct Plan {
    /// Where to connect.
    pub dial: Dial,
    /// TLS over the connection (`https`), or cleartext.
    pub tls: Option<TlsPlan>,
    /// One request, rendered.
    pub request: Vec<u8>,
    /// Length of one request in bytes.
    pub request_len: usize,
    /// Requests per batch (HTTP/1.1).
    pub pipeline: usize,
    /// HTTP/2 (`--h2`): the request every stream sends; `None` for HTTP/1.1.
    pub h2: Option<crate::h2::Template>,
    /// Concurrent streams per HTTP/2 connection (1 for HTTP/1.1).
    pub streams: usize,
    /// `--ws`: the WebSocket echo load (the handshake and the messages); `None` for HTTP.
    pub ws: Option<crate::ws::Plan>,
    /// The method is HEAD (responses have no body).
    pub request_is_head: bool,
    /// Reuse connections.
    pub keep_alive: bool,
    /// Connections in total.
    pub connections: usize,
    /// Open loop rate, requests per second in total.
    pub rate: Option<f64>,
    /// Timeout of each connect, write and read.
    pub timeout: Duration,
    /// The backend.
    pub backend: Backend,
    /// Pin threads to cores.
    pub pin: bool,
}

/// The run's time points, set when every thread is ready.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The start of the run (and of the open-loop schedule).
    pub start: Instant,
    /// The end of warm-up: requests sent from here on are measured.
    pub measure_start: Instant,
    /// The end of the run (`-d`); `None` with `-n`.
    pub end: Option<Instant>,
}

/// State shared by the connection tasks of one thread.
#[derive(Debug)]
pub struct ThreadCtx {
    /// The plan.
    pub plan: Arc<Plan>,
    /// The run's time points.
    pub clock: Clock,
    /// This thread's figures.
    pub stats: RefCell<Stats>,
    /// Measured requests this thread may still send.
    pub budget: Cell<u64>,
    /// `pipeline` copies of the request, this thread's own copy.
    pub batch: Rc<Vec<u8>>,
}

/// When a read completed, relative to the run: the latency of the responses it
/// completes and the timeline second it falls in (computed once per read, not once per
/// response).
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    latency_ns: u64,
    second: usize,
    /// False after the end of a timed run: such late answers are not counted.
    in_run: bool,
}

impl ThreadCtx {
    /// The timeline second of instant `t`.
    #[inline]
    fn second(&self, t: Instant) -> usize {
        t.saturating_duration_since(self.clock.measure_start)
            .as_secs() as usize
    }

    /// The stamp of a read completed at `now` for a batch sent (or due) at `sent_at`.
    #[inline]
    pub fn stamp(&self, now: Instant, sent_at: Instant) -> Stamp {
        Stamp {
            latency_ns: now.saturating_duration_since(sent_at).as_nanos() as u64,
            second: self.second(now),
            in_run: self.clock.end.is_none_or(|end| now < end),
        }
    }

    /// Count a response.
    #[inline]
    pub fn response(&self, status: u16, at: Stamp) {
        if !at.in_run {
            return;
        }
        self.stats
            .borrow_mut()
            .record_response(status, at.latency_ns, at.second);
    }

    /// Count `n` bytes read.
    #[inline]
    pub fn read(&self, n: usize, at: Stamp) {
        if !at.in_run {
            return;
        }
        self.stats.borrow_mut().record_read(n as u64, at.second);
    }

    /// Count a connection opened (and note its TLS session, the first time).
    pub fn opened<S: Io>(&self, stream: &S) {
        self.opened_with(|| stream.tls_session());
    }

    /// Count a connection opened; `session` tells its TLS session (asked the first
    /// time only).
    pub fn opened_with(&self, session: impl FnOnce() -> Option<Session>) {
        let mut stats = self.stats.borrow_mut();
        stats.connections_opened += 1;
        if stats.tls_session.is_none() {
            stats.tls_session = session();
        }
    }

    /// Take up to `want` requests from the budget when they are `measured` (warm-up
    /// requests are free): how many may go, `None` when the budget is spent.
    pub fn take_budget(&self, measured: bool, want: usize) -> Option<usize> {
        if !measured {
            return Some(want);
        }
        let budget = self.budget.get();
        if budget == 0 {
            return None;
        }
        let k = budget.min(want as u64);
        self.budget.set(budget - k);
        Some(k as usize)
    }

    /// Whether `now` falls in the measured part of the run.
    #[inline]
    fn measuring(&self, now: Instant) -> bool {
        now >= self.clock.measure_start && self.clock.end.is_none_or(|end| now < end)
    }

    /// Count `n` bytes read at `now`, if the run is measuring then (HTTP/2, where reads
    /// are not tied to one request).
    #[inline]
    pub fn read_at(&self, n: usize, now: Instant) {
        if self.measuring(now) {
            let sec = self.second(now);
            self.stats.borrow_mut().record_read(n as u64, sec);
        }
    }

    /// Count `n` bytes written at `now`, if the run is measuring then (HTTP/2).
    #[inline]
    pub fn written_at(&self, n: usize, now: Instant) {
        if self.measuring(now) {
            self.stats.borrow_mut().bytes_written += n as u64;
        }
    }

    /// Note why an HTTP/2 connection failed (the first reason is kept for the report).
    pub fn h2_failed(&self, why: String) {
        let mut stats = self.stats.borrow_mut();
        if stats.h2_failure.is_none() {
            stats.h2_failure = Some(why);
        }
    }

    /// Note why a WebSocket connection failed (the first reason is kept for the report).
    pub fn ws_failed(&self, why: String) {
        let mut stats = self.stats.borrow_mut();
        if stats.ws_failure.is_none() {
            stats.ws_failure = Some(why);
        }
    }

    /// Count a WebSocket connection closed with the close handshake.
    pub fn ws_closed_cleanly(&self) {
        self.stats.borrow_mut().ws_clean_closes += 1;
    }

    /// Count `n` bytes written for `measured` messages (WebSocket frames).
    #[inline]
    pub fn written(&self, n: usize, measured: bool) {
        if measured {
            self.stats.borrow_mut().bytes_written += n as u64;
        }
    }

    /// Note why a TLS handshake failed (the first reason is kept for the report).
    pub fn tls_failed(&self, why: String) {
        let mut stats = self.stats.borrow_mut();
        if stats.tls_failure.is_none() {
            stats.tls_failure = Some(why);
        }
    }

    /// Count `n` failed requests, if they were measured.
    pub fn fail(&self, kind: ErrorKind, n: usize, measured: bool) {
        let now = Instant::now();
        if measured && self.clock.end.is_none_or(|end| now < end) {
            let sec = self.second(now);
            self.stats.borrow_mut().record_errors(kind, n as u64, sec);
        }
    }
}
