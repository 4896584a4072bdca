//! Per-thread figures: the latency histogram, counters by status class and error kind,
//! bytes, and a per-second timeline. Each worker thread owns one [`Stats`] (no shared
//! atomics on the request path); the main thread merges them at the end.

use crate::tls::Session;
use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histogram tracks, in nanoseconds (one hour); larger values are
/// clamped to it.
pub const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// The kinds of failure a request can end with. Every request sent ends as exactly one
/// response or one error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The connection could not be established.
    Connect = 0,
    /// Reading failed, or the server closed the connection before answering.
    Read = 1,
    /// Writing the request failed.
    Write = 2,
    /// Not answered within `--timeout`.
    Timeout = 3,
    /// The server answered something that is not valid HTTP: not an HTTP/1.x response,
    /// or (HTTP/2) a protocol error.
    Malformed = 4,
    /// The TLS handshake failed (certificate not trusted, no common version, …).
    Tls = 5,
    /// `--ws`: the WebSocket opening handshake was refused (not `101`) or its answer was
    /// wrong (`Sec-WebSocket-Accept`, an extension not offered, …).
    Handshake = 6,
}

impl ErrorKind {
    /// All kinds, in report order.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::Handshake,
        ErrorKind::Read,
        ErrorKind::Write,
        ErrorKind::Timeout,
        ErrorKind::Malformed,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Read => "read",
            ErrorKind::Write => "write",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Tls => "tls",
            ErrorKind::Handshake => "handshake",
        }
    }
}

/// One second of the timeline (seconds counted from the start of measurement).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Second {
    /// Responses completed in this second.
    pub responses: u64,
    /// Requests that failed in this second.
    pub errors: u64,
    /// Bytes read in this second.
    pub bytes_read: u64,
    /// Sum of the latencies of this second's responses (for the mean), nanoseconds.
    pub latency_sum_ns: u64,
}

/// Everything one worker thread measured.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Response latencies in nanoseconds.
    pub latency: Histogram<u64>,
    /// Responses received (any status).
    pub responses: u64,
    /// Responses by status class: index 1 = 1xx … 5 = 5xx, 0 = anything else.
    pub status: [u64; 6],
    /// Failed requests by [`ErrorKind`].
    pub errors: [u64; 7],
    /// Bytes read from the sockets while measuring.
    pub bytes_read: u64,
    /// Bytes written to the sockets while measuring.
    pub bytes_written: u64,
    /// Connections opened (including reconnects).
    pub connections_opened: u64,
    /// Per-second timeline.
    pub timeline: Vec<Second>,
    /// What the first TLS handshake settled.
    pub tls_session: Option<Session>,
    /// Why the first failed TLS handshake failed.
    pub tls_failure: Option<String>,
    /// Why the first failed HTTP/2 connection failed.
    pub h2_failure: Option<String>,
    /// `--ws`: why the first WebSocket connection failed (handshake refused, the server
    /// closed, a frame it should not have sent).
    pub ws_failure: Option<String>,
    /// `--ws`: connections closed with the close handshake (code 1000) at the end.
    pub ws_clean_closes: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    /// Empty figures.
    pub fn new() -> Stats {
        Stats {
            // 3 significant figures from 1 ns to an hour.
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
                .expect("static histogram bounds are valid"),
            responses: 0,
            status: [0; 6],
            errors: [0; 7],
            bytes_read: 0,
            bytes_written: 0,
            connections_opened: 0,
            timeline: Vec::new(),
            tls_session: None,
            tls_failure: None,
            h2_failure: None,
            ws_failure: None,
            ws_clean_closes: 0,
        }
    }

    #[inline]
    fn second(&mut self, sec: usize) -> &mut Second {
        if sec >= self.timeline.len() {
            self.timeline.resize(sec + 1, Second::default());
        }
        &mut self.timeline[sec]
    }

    /// Count one response with status `status` and latency `latency_ns` in second `sec`.
    #[inline]
    pub fn record_response(&mut self, status: u16, latency_ns: u64, sec: usize) {
        self.responses += 1;
        let class = (status / 100) as usize;
        self.status[if (1..=5).contains(&class) { class } else { 0 }] += 1;
        self.latency
            .saturating_record(latency_ns.clamp(1, MAX_LATENCY_NS));
        let s = self.second(sec);
        s.responses += 1;
        s.latency_sum_ns += latency_ns;
    }

    /// Count `n` failed requests of kind `kind` in second `sec`.
    #[inline]
    pub fn record_errors(&mut self, kind: ErrorKind, n: u64, sec: usize) {
        if n == 0 {
            return;
        }
        self.errors[kind as usize] += n;
        self.second(sec).errors += n;
    }

    /// Count `n` bytes read in second `sec`.
    #[inline]
    pub fn record_read(&mut self, n: u64, sec: usize) {
        self.bytes_read += n;
        self.second(sec).bytes_read += n;
    }

    /// Total failed requests (not counting 4xx/5xx responses).
    pub fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Requests answered with a 4xx or 5xx status.
    pub fn status_errors(&self) -> u64 {
        self.status[4] + self.status[5]
    }

    /// Add another thread's figures to these.
    pub fn merge(&mut self, other: &Stats) {
        // Both histograms share the same bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        self.responses += other.responses;
        for (a, b) in self.status.iter_mut().zip(other.status) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.connections_opened += other.connections_opened;
        if self.tls_session.is_none() {
            self.tls_session.clone_from(&other.tls_session);
        }
        if self.tls_failure.is_none() {
            self.tls_failure.clone_from(&other.tls_failure);
        }
        if self.h2_failure.is_none() {
            self.h2_failure.clone_from(&other.h2_failure);
        }
        if self.ws_failure.is_none() {
            self.ws_failure.clone_from(&other.ws_failure);
        }
        self.ws_clean_closes += other.ws_clean_closes;
        if other.timeline.len() > self.timeline.len() {
            self.timeline
                .resize(other.timeline.len(), Second::default());
        }
        for (a, b) in self.timeline.iter_mut().zip(&other.timeline) {
            a.responses += b.responses;
            a.errors += b.errors;
            a.bytes_read += b.bytes_read;
            a.latency_sum_ns += b.latency_sum_ns;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_and_merge() {
        let mut a = Stats::new();
        a.record_response(200, 1_000, 0);
        a.record_response(503, 2_000, 2);
        a.record_errors(ErrorKind::Timeout, 3, 1);
        a.record_read(100, 0);
        let mut b = Stats::new();
        b.record_response(404, 5_000, 4);
        b.record_response(99, 5_000, 0);
        b.record_errors(ErrorKind::Timeout, 1, 0);
        b.record_errors(ErrorKind::Malformed, 0, 9);
        a.merge(&b);
        assert_eq!(a.responses, 4);
        assert_eq!(a.status, [1, 0, 1, 0, 1, 1]);
        assert_eq!(a.errors, [0, 0, 0, 4, 0, 0, 0]);
        assert_eq!(a.error_total(), 4);
        assert_eq!(a.status_errors(), 2);
        assert_eq!(a.latency.len(), 4);
        assert_eq!(a.timeline.len(), 5);
        assert_eq!(a.timeline[0].responses, 2);
        assert_eq!(a.timeline[0].errors, 1);
        assert_eq!(a.timeline[0].bytes_read, 100);
        assert_eq!(a.timeline[1].errors, 3);
    }
}
