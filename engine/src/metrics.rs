//! Counters: per worker, plain `Cell`s on the hot path (no shared atomics per request).
//! Once a second each worker publishes a [`Snapshot`] into its own slot of a shared
//! board; the admin listener (`--metrics-urls`) renders the board in Prometheus text
//! format on a thread of its own, so scraping never touches a worker.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// The client closed, or the exchange ended with `Connection: close`.
    Normal,
    /// The server answered a bad request (4xx/5xx) and closed.
    Rejected,
    /// The transport failed or the client vanished mid-exchange.
    Aborted,
    /// Idle past the keep-alive timeout.
    KeepAliveTimeout,
    /// Request head not complete within the request-headers timeout.
    HeadersTimeout,
    /// Request body or response slower than the minimum data rate.
    DataRate,
    /// Closed by a graceful shutdown.
    Shutdown,
    /// Upgraded: the HTTP connection ended, its stream went to the handler.
    Upgraded,
    /// The TLS handshake failed (bad records, no common version, plain HTTP).
    TlsHandshakeFailed,
    /// The TLS handshake took longer than the handshake timeout.
    TlsHandshakeTimeout,
}

const REASONS: [(CloseReason, &str); 10] = [
    (CloseReason::Normal, "normal"),
    (CloseReason::Rejected, "rejected"),
    (CloseReason::Aborted, "aborted"),
    (CloseReason::KeepAliveTimeout, "keep_alive_timeout"),
    (CloseReason::HeadersTimeout, "headers_timeout"),
    (CloseReason::DataRate, "data_rate"),
    (CloseReason::Shutdown, "shutdown"),
    (CloseReason::Upgraded, "upgraded"),
    (CloseReason::TlsHandshakeFailed, "tls_handshake_failed"),
    (CloseReason::TlsHandshakeTimeout, "tls_handshake_timeout"),
];

/// Statuses the server itself answers with.
const STATUSES: [u16; 9] = [400, 405, 408, 413, 414, 431, 500, 501, 505];

/// A worker's counters (`!Send`).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub accepted: Cell<u64>,
    pub rejected_over_limit: Cell<u64>,
    closed: [Cell<u64>; REASONS.len()],
    pub requests: Cell<u64>,
    pub bytes_in: Cell<u64>,
    pub bytes_out: Cell<u64>,
    errors: [Cell<u64>; STATUSES.len()],
    pub reads: Cell<u64>,
    pub writes: Cell<u64>,
    pub waits: Cell<u64>,
    pub panics: Cell<u64>,
    pub upgrades: Cell<u64>,
    pub http2_connections: Cell<u64>,
    /// Polls of connection tasks (the run-queue probe counts them).
    pub polls: Cell<u64>,
    /// Accept-loop turns that took a whole batch (a burst of new connections).
    pub accept_batches_full: Cell<u64>,
    /// Gauges sampled by the worker's ticker: the run queue (tasks, microseconds to run
    /// them) and the kernel's accept queues of the worker's TCP listeners.
    pub run_queue_tasks: Cell<u64>,
    pub run_queue_delay_us: Cell<u64>,
    pub accept_queue: Cell<u64>,
    /// The io_uring completion queue as the ticker last saw it (zero on epoll): whether
    /// it is watched at all (0 or 1), whether it was overflowing (0 or 1), how many
    /// samples found it overflowing, and the completions the kernel dropped. (Not the
    /// completions waiting: the ticker runs right after the worker reaped them all.)
    pub ring_watched: Cell<u64>,
    pub ring_overflowing: Cell<u64>,
    pub ring_overflow_samples: Cell<u64>,
    pub ring_dropped: Cell<u64>,
}

#[inline]
pub(crate) fn bump(c: &Cell<u64>, n: u64) {
    c.set(c.get().wrapping_add(n));
}

impl Counters {
    pub fn closed(&self, reason: CloseReason) {
        if let Some(i) = REASONS.iter().position(|(r, _)| *r == reason) {
            bump(&self.closed[i], 1);
        }
    }

    /// Connections that ended for `reason` so far.
    #[cfg(test)]
    pub fn closed_count(&self, reason: CloseReason) -> u64 {
        REASONS
            .iter()
            .position(|(r, _)| *r == reason)
            .map_or(0, |i| self.closed[i].get())
    }

    pub fn error(&self, status: u16) {
        if let Some(i) = STATUSES.iter().position(|s| *s == status) {
            bump(&self.errors[i], 1);
        }
    }

    /// A copy of the counters plus the gauges passed in.
    pub fn snapshot(&self, active: u64, pool: (u64, u64, u64)) -> Snapshot {
        Snapshot {
            accepted: self.accepted.get(),
            rejected_over_limit: self.rejected_over_limit.get(),
            closed: std::array::from_fn(|i| self.closed[i].get()),
            requests: self.requests.get(),
            bytes_in: self.bytes_in.get(),
            bytes_out: self.bytes_out.get(),
            errors: std::array::from_fn(|i| self.errors[i].get()),
            reads: self.reads.get(),
            writes: self.writes.get(),
            waits: self.waits.get(),
            panics: self.panics.get(),
            upgrades: self.upgrades.get(),
            http2_connections: self.http2_connections.get(),
            accept_batches_full: self.accept_batches_full.get(),
            run_queue_tasks: self.run_queue_tasks.get(),
            run_queue_delay_us: self.run_queue_delay_us.get(),
            accept_queue: self.accept_queue.get(),
            ring_watched: self.ring_watched.get(),
            ring_overflowing: self.ring_overflowing.get(),
            ring_overflow_samples: self.ring_overflow_samples.get(),
            ring_dropped: self.ring_dropped.get(),
            active,
            pool_idle: pool.0,
            pool_hits: pool.1,
            pool_misses: pool.2,
        }
    }
}

/// What a worker publishes once a second.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    accepted: u64,
    rejected_over_limit: u64,
    closed: [u64; REASONS.len()],
    requests: u64,
    bytes_in: u64,
    bytes_out: u64,
    errors: [u64; STATUSES.len()],
    reads: u64,
    writes: u64,
    waits: u64,
    panics: u64,
    upgrades: u64,
    http2_connections: u64,
    accept_batches_full: u64,
    run_queue_tasks: u64,
    run_queue_delay_us: u64,
    accept_queue: u64,
    ring_watched: u64,
    ring_overflowing: u64,
    ring_overflow_samples: u64,
    ring_dropped: u64,
    /// Connections open now.
    pub active: u64,
    /// Buffers idle in the pool now.
    pub pool_idle: u64,
    pool_hits: u64,
    pool_misses: u64,
}

impl Snapshot {
    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Connections upgraded so far.
    pub fn upgrades(&self) -> u64 {
        self.upgrades
    }

    /// Connections that spoke HTTP/2 so far.
    pub fn http2_connections(&self) -> u64 {
        self.http2_connections
    }
}

/// A metric family rendered one line per worker: name, type, help, value.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Snapshot) -> u64,
);

/// Every worker's latest snapshot.
#[derive(Debug, Clone)]
pub struct Board {
    slots: Arc<Vec<Mutex<Snapshot>>>,
    /// Per worker: how many times it has published (its ticker's heartbeat, read by the
    /// systemd watchdog).
    beats: Arc<Vec<AtomicU64>>,
    backend: &'static str,
}

impl Board {
    pub(crate) fn new(workers: usize, backend: &'static str) -> Self {
        Board {
            slots: Arc::new((0..workers).map(|_| Mutex::default()).collect()),
            beats: Arc::new((0..workers).map(|_| AtomicU64::new(0)).collect()),
            backend,
        }
    }

    pub(crate) fn publish(&self, worker: usize, snap: Snapshot) {
        if let Some(slot) = self.slots.get(worker) {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = snap;
        }
        if let Some(beat) = self.beats.get(worker) {
            beat.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Each worker's publish count: it grows once a second while the worker runs.
    pub(crate) fn beats(&self) -> Vec<u64> {
        self.beats
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }

    /// The latest snapshot of each worker (at most a second old).
    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.slots
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }

    /// Prometheus text exposition of every worker's counters.
    pub fn render(&self) -> String {
        let snaps = self.snapshots();
        let mut out = String::with_capacity(4096);
        let _ = writeln!(
            out,
            "# HELP peregrine_info Server information.\n# TYPE peregrine_info gauge\nperegrine_info{{backend=\"{}\",workers=\"{}\"}} 1",
            self.backend,
            snaps.len()
        );
        let simple: [Family; 24] = [
            (
                "connections_accepted_total",
                "counter",
                "Connections accepted.",
                |s| s.accepted,
            ),
            (
                "connections_rejected_total",
                "counter",
                "Connections closed at once: over --max-concurrent-connections.",
                |s| s.rejected_over_limit,
            ),
            (
                "connections_active",
                "gauge",
                "Connections open now.",
                |s| s.active,
            ),
            (
                "connections_upgraded_total",
                "counter",
                "Connections upgraded to an opaque stream (101 Switching Protocols).",
                |s| s.upgrades,
            ),
            (
                "connections_http2_total",
                "counter",
                "Connections that spoke HTTP/2 (ALPN h2 or the h2c preface).",
                |s| s.http2_connections,
            ),
            (
                "requests_total",
                "counter",
                "Requests dispatched to the handler (HTTP/2: streams).",
                |s| s.requests,
            ),
            (
                "received_bytes_total",
                "counter",
                "Bytes read from clients.",
                |s| s.bytes_in,
            ),
            (
                "sent_bytes_total",
                "counter",
                "Bytes written to clients.",
                |s| s.bytes_out,
            ),
            (
                "io_reads_total",
                "counter",
                "Socket reads submitted.",
                |s| s.reads,
            ),
            (
                "io_writes_total",
                "counter",
                "Socket writes submitted.",
                |s| s.writes,
            ),
            (
                "io_readiness_waits_total",
                "counter",
                "Readiness waits of idle connections (io_uring PollAdd / epoll).",
                |s| s.waits,
            ),
            (
                "handler_panics_total",
                "counter",
                "Handler panics answered with 500 or a close.",
                |s| s.panics,
            ),
            (
                "run_queue_tasks",
                "gauge",
                "Connection tasks ready to run on the worker when last sampled (once a second).",
                |s| s.run_queue_tasks,
            ),
            (
                "run_queue_delay_microseconds",
                "gauge",
                "How long the worker took to give each of those tasks its turn: the wait of a connection that became ready then.",
                |s| s.run_queue_delay_us,
            ),
            (
                "accept_queue_length",
                "gauge",
                "Connections waiting in the kernel's accept queues of the worker's TCP listeners when last sampled.",
                |s| s.accept_queue,
            ),
            (
                "io_uring_watched",
                "gauge",
                "1 when the worker reads its io_uring completion queue (the io_uring gauges are live); 0 on epoll.",
                |s| s.ring_watched,
            ),
            (
                "io_uring_overflowing",
                "gauge",
                "1 when the last sample (once a second) found the io_uring completion queue full, with more completions held in the kernel's overflow list until the worker next enters the ring.",
                |s| s.ring_overflowing,
            ),
            (
                "io_uring_overflow_samples_total",
                "counter",
                "Once-a-second samples that found the io_uring completion queue overflowing.",
                |s| s.ring_overflow_samples,
            ),
            (
                "io_uring_completions_dropped_total",
                "counter",
                "Completions the kernel dropped because the completion queue and its overflow list had no room (the kernel's own count).",
                |s| s.ring_dropped,
            ),
            (
                "accept_batches_full_total",
                "counter",
                "Accept-loop turns that took a whole batch of queued connections (bursts).",
                |s| s.accept_batches_full,
            ),
            (
                "buffer_pool_idle",
                "gauge",
                "Buffers idle in the pool.",
                |s| s.pool_idle,
            ),
            (
                "buffer_pool_hits_total",
                "counter",
                "Buffers taken from the pool.",
                |s| s.pool_hits,
            ),
            (
                "buffer_pool_misses_total",
                "counter",
                "Buffers allocated because the pool was empty.",
                |s| s.pool_misses,
            ),
            (
                "buffer_pool_size",
                "gauge",
                "Alias of buffer_pool_idle.",
                |s| s.pool_idle,
            ),
        ];
        for (name, kind, help, get) in simple {
            let _ = writeln!(
                out,
                "# HELP peregrine_{name} {help}\n# TYPE peregrine_{name} {kind}"
            );
            for (w, s) in snaps.iter().enumerate() {
                let _ = writeln!(out, "peregrine_{name}{{worker=\"{w}\"}} {}", get(s));
            }
        }
        if let Some(n) = crate::sys::listen_overflows() {
            let _ = writeln!(
                out,
                "# HELP peregrine_listen_overflows_total Connections the kernel dropped because an accept queue was full (TcpExt ListenOverflows of the network namespace, all processes).\n# TYPE peregrine_listen_overflows_total counter\nperegrine_listen_overflows_total {n}"
            );
        }
        let _ = writeln!(out, "# HELP peregrine_connections_closed_total Connections closed, by reason.\n# TYPE peregrine_connections_closed_total counter");
        for (w, s) in snaps.iter().enumerate() {
            for (i, (_, reason)) in REASONS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "peregrine_connections_closed_total{{worker=\"{w}\",reason=\"{reason}\"}} {}",
                    s.closed[i]
                );
            }
        }
        let _ = writeln!(out, "# HELP peregrine_error_responses_total Answers the server gave itself (bad requests, limits, timeouts, panics), by status.\n# TYPE peregrine_error_responses_total counter");
        for (w, s) in snaps.iter().enumerate() {
            for (i, status) in STATUSES.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "peregrine_error_responses_total{{worker=\"{w}\",status=\"{status}\"}} {}",
                    s.errors[i]
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let c = Counters::default();
        bump(&c.requests, 3);
        c.closed(CloseReason::KeepAliveTimeout);
        c.error(431);
        c.ring_overflowing.set(1);
        bump(&c.ring_overflow_samples, 2);
        let board = Board::new(2, "epoll");
        board.publish(1, c.snapshot(5, (2, 10, 1)));
        let text = board.render();
        assert!(text.contains("peregrine_io_uring_overflowing{worker=\"1\"} 1"));
        assert!(text.contains("peregrine_io_uring_overflow_samples_total{worker=\"1\"} 2"));
        assert!(text.contains("# TYPE peregrine_io_uring_completions_dropped_total counter"));
        assert!(text.contains("peregrine_requests_total{worker=\"1\"} 3"));
        assert!(text.contains("peregrine_requests_total{worker=\"0\"} 0"));
        assert!(text.contains(
            "peregrine_connections_closed_total{worker=\"1\",reason=\"keep_alive_timeout\"} 1"
        ));
        assert!(text.contains("peregrine_error_responses_total{worker=\"1\",status=\"431\"} 1"));
        assert!(text.contains("peregrine_buffer_pool_idle{worker=\"1\"} 2"));
        assert!(text.contains("peregrine_info{backend=\"epoll\",workers=\"2\"} 1"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            value.parse::<u64>().unwrap();
        }
    }
}
