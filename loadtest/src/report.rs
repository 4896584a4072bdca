//! The results of a run: a [`Report`] built from the merged figures, printed as a human
//! table or written as JSON (every figure, the latency distribution and the timeline).

use crate::stats::{ErrorKind, Stats};
use crate::tls::Verify;
use serde::Serialize;
use std::fmt::Write as _;

/// How the run was configured.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    /// The target URL.
    pub target: String,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `http/1.1` or `h2`.
    pub protocol: &'static str,
    /// How the server's certificate is checked (`https` only).
    pub tls_verify: Option<Verify>,
    /// The request method.
    pub method: String,
    /// `io-uring` or `epoll`.
    pub backend: &'static str,
    /// Worker threads.
    pub threads: usize,
    /// Connections.
    pub connections: usize,
    /// Pipelining depth (HTTP/1.1).
    pub pipeline: usize,
    /// Concurrent streams per connection (HTTP/2; 1 for HTTP/1.1).
    pub streams: usize,
    /// `closed` (closed loop) or `rate` (open loop).
    pub mode: &'static str,
    /// Requested duration in seconds (`-d`).
    pub duration_s: Option<f64>,
    /// Requested number of requests (`-n`).
    pub requests: Option<u64>,
    /// Warm-up in seconds.
    pub warmup_s: f64,
    /// Target rate for the open loop, requests per second.
    pub rate: Option<f64>,
    /// Timeout in seconds.
    pub timeout_s: f64,
    /// The WebSocket load (`--ws`; `protocol` is then `websocket`).
    pub websocket: Option<WsSetup>,
}

/// What each `--ws` connection sends.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WsSetup {
    /// Payload bytes of each message (`--ws-size`).
    pub message_size: usize,
    /// Text messages (`--ws-text`) instead of binary.
    pub text: bool,
    /// Messages in flight per connection (`--ws-inflight`).
    pub inflight: usize,
}

/// Latency figures in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Smallest.
    pub min_us: f64,
    /// Mean.
    pub mean_us: f64,
    /// Standard deviation.
    pub stdev_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 75th percentile.
    pub p75_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p99_9_us: f64,
    /// 99.99th percentile.
    pub p99_99_us: f64,
    /// Largest.
    pub max_us: f64,
}

/// One point of the latency-by-percentile curve.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PercentilePoint {
    /// Percentile, 0–100.
    pub percentile: f64,
    /// Latency at that percentile, microseconds.
    pub latency_us: f64,
    /// Responses at or below it.
    pub count: u64,
}

/// Counts by status class.
#[derive(Debug, Clone, Serialize)]
pub struct StatusCounts {
    /// 1xx final responses (should not happen).
    #[serde(rename = "1xx")]
    pub s1xx: u64,
    /// 2xx.
    #[serde(rename = "2xx")]
    pub s2xx: u64,
    /// 3xx.
    #[serde(rename = "3xx")]
    pub s3xx: u64,
    /// 4xx.
    #[serde(rename = "4xx")]
    pub s4xx: u64,
    /// 5xx.
    #[serde(rename = "5xx")]
    pub s5xx: u64,
    /// Outside 100–599.
    pub other: u64,
}

/// Failed requests by kind, plus responses with an error status.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorCounts {
    /// Could not connect.
    pub connect: u64,
    /// Read failed or the server closed before answering.
    pub read: u64,
    /// Write failed.
    pub write: u64,
    /// Not answered within the timeout.
    pub timeout: u64,
    /// Not a valid HTTP/1.x response, or an HTTP/2 protocol error.
    pub malformed: u64,
    /// The TLS handshake failed.
    pub tls: u64,
    /// `--ws`: the WebSocket handshake was refused or answered wrongly.
    pub handshake: u64,
    /// Answered with 4xx.
    pub status_4xx: u64,
    /// Answered with 5xx.
    pub status_5xx: u64,
    /// Requests that got no response (connect + tls + handshake + read + write + timeout
    /// + malformed).
    pub failed_requests: u64,
}

/// One second of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelinePoint {
    /// Second since the start of measurement.
    pub second: usize,
    /// Responses completed in it.
    pub responses: u64,
    /// Requests failed in it.
    pub errors: u64,
    /// Bytes read in it.
    pub bytes_read: u64,
    /// Mean latency of its responses, microseconds.
    pub mean_latency_us: f64,
}

/// What TLS did, for an `https` run.
#[derive(Debug, Clone, Serialize)]
pub struct TlsReport {
    /// How the server's certificate was checked: `cacert`, `insecure`, or `none`.
    pub verify: Verify,
    /// The protocol version of the first successful handshake, e.g. `TLSv1.3`.
    pub version: Option<&'static str>,
    /// Its cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: Option<&'static str>,
    /// The protocol the server chose by ALPN.
    pub alpn: Option<String>,
    /// Why the first failed handshake failed.
    pub handshake_failure: Option<String>,
}

/// What a `--ws` run sent and how its connections ended. Each echoed message is one
/// response (status class `1xx`: it came over a `101` connection).
#[derive(Debug, Clone, Serialize)]
pub struct WsReport {
    /// Payload bytes of each message.
    pub message_size: usize,
    /// Text messages (`--ws-text`) instead of binary.
    pub text: bool,
    /// Messages in flight per connection.
    pub inflight: usize,
    /// Connections closed with the close handshake (1000) at the end of the run.
    pub clean_closes: u64,
    /// Why the first WebSocket connection failed, if one did.
    pub failure: Option<String>,
}

/// The open-loop outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RateOutcome {
    /// Requests per second asked for.
    pub target: f64,
    /// Requests per second completed (responses and failures).
    pub achieved: f64,
    /// Whether `achieved` is within 10 % of `target`.
    pub reached: bool,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The tool version.
    pub version: &'static str,
    /// The configuration.
    pub setup: Setup,
    /// Measured time, seconds.
    pub elapsed_s: f64,
    /// Requests that ended (responses + failed requests).
    pub requests: u64,
    /// Responses received (any status).
    pub responses: u64,
    /// Responses per second.
    pub requests_per_s: f64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Bytes read per second.
    pub bytes_read_per_s: f64,
    /// Connections opened, including reconnects (for https, handshakes that succeeded).
    pub connections_opened: u64,
    /// TLS version, cipher and failures (`https` only).
    pub tls: Option<TlsReport>,
    /// Why the first failed HTTP/2 connection failed (`--h2` only).
    pub h2_failure: Option<String>,
    /// The WebSocket load (`--ws` only).
    pub websocket: Option<WsReport>,
    /// Latency figures (from the intended send time in rate mode).
    pub latency: Latency,
    /// Latency by percentile.
    pub latency_distribution: Vec<PercentilePoint>,
    /// Counts by status class.
    pub status: StatusCounts,
    /// Errors by kind.
    pub errors: ErrorCounts,
    /// Per-second timeline.
    pub timeline: Vec<TimelinePoint>,
    /// Rate mode outcome.
    pub rate: Option<RateOutcome>,
    /// CPU time the generator used (user + system), seconds.
    pub cpu_s: Option<f64>,
    /// Generator CPU time per request, microseconds.
    pub cpu_per_request_us: Option<f64>,
    /// Things the reader should know (e.g. the target rate was not reached).
    pub warnings: Vec<String>,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl Report {
    /// Build the report from the merged figures.
    pub fn new(setup: Setup, stats: &Stats, elapsed_s: f64, cpu_s: Option<f64>) -> Report {
        let h = &stats.latency;
        let empty = h.is_empty();
        let q = |q: f64| {
            if empty {
                0.0
            } else {
                us(h.value_at_quantile(q))
            }
        };
        let latency = Latency {
            min_us: if empty { 0.0 } else { us(h.min()) },
            mean_us: if empty { 0.0 } else { h.mean() / 1000.0 },
            stdev_us: if empty { 0.0 } else { h.stdev() / 1000.0 },
            p50_us: q(0.5),
            p75_us: q(0.75),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p99_9_us: q(0.999),
            p99_99_us: q(0.9999),
            max_us: if empty { 0.0 } else { us(h.max()) },
        };
        let latency_distribution = if empty {
            Vec::new()
        } else {
            h.iter_quantiles(2)
                .map(|v| PercentilePoint {
                    percentile: v.quantile_iterated_to() * 100.0,
                    latency_us: us(h.highest_equivalent(v.value_iterated_to())),
                    count: v.count_since_last_iteration(),
                })
                .collect()
        };
        let e = |k: ErrorKind| stats.errors[k as usize];
        let errors = ErrorCounts {
            connect: e(ErrorKind::Connect),
            read: e(ErrorKind::Read),
            write: e(ErrorKind::Write),
            timeout: e(ErrorKind::Timeout),
            malformed: e(ErrorKind::Malformed),
            tls: e(ErrorKind::Tls),
            handshake: e(ErrorKind::Handshake),
            status_4xx: stats.status[4],
            status_5xx: stats.status[5],
            failed_requests: stats.error_total(),
        };
        let timeline = stats
            .timeline
            .iter()
            .enumerate()
            .map(|(second, s)| TimelinePoint {
                second,
                responses: s.responses,
                errors: s.errors,
                bytes_read: s.bytes_read,
                mean_latency_us: if s.responses == 0 {
                    0.0
                } else {
                    s.latency_sum_ns as f64 / s.responses as f64 / 1000.0
                },
            })
            .collect();
        let requests = stats.responses + stats.error_total();
        let per_s = |n: u64| {
            if elapsed_s > 0.0 {
                n as f64 / elapsed_s
            } else {
                0.0
            }
        };
        let mut warnings = Vec::new();
        let rate = setup.rate.map(|target| {
            let achieved = per_s(requests);
            let reached = achieved >= 0.9 * target;
            if !reached {
                warnings.push(format!(
                    "target rate not reached: asked {target:.1} req/s, achieved {achieved:.1} \
                     req/s (the server or the connections are saturated; latencies include \
                     the time requests waited for their turn)"
                ));
            }
            RateOutcome {
                target,
                achieved,
                reached,
            }
        });
        let tls = setup.tls_verify.map(|verify| TlsReport {
            verify,
            version: stats.tls_session.as_ref().map(|s| s.version),
            cipher: stats.tls_session.as_ref().map(|s| s.cipher),
            alpn: stats.tls_session.as_ref().and_then(|s| s.alpn.clone()),
            handshake_failure: stats.tls_failure.clone(),
        });
        if let Some(problem) = tls.as_ref().and_then(TlsReport::problem) {
            warnings.push(problem);
        }
        if let Some(why) = &stats.h2_failure {
            warnings.push(why.clone());
        }
        let websocket = setup.websocket.map(|w| WsReport {
            message_size: w.message_size,
            text: w.text,
            inflight: w.inflight,
            clean_closes: stats.ws_clean_closes,
            failure: stats.ws_failure.clone(),
        });
        if let Some(why) = &stats.ws_failure {
            warnings.push(why.clone());
        }
        if stats.responses == 0 {
            warnings.push("no response was received: nothing could be measured".into());
        }
        Report {
            version: env!("CARGO_PKG_VERSION"),
            elapsed_s,
            requests,
            responses: stats.responses,
            requests_per_s: per_s(stats.responses),
            bytes_read: stats.bytes_read,
            bytes_written: stats.bytes_written,
            bytes_read_per_s: per_s(stats.bytes_read),
            connections_opened: stats.connections_opened,
            tls,
            h2_failure: stats.h2_failure.clone(),
            websocket,
            latency,
            latency_distribution,
            status: StatusCounts {
                s1xx: stats.status[1],
                s2xx: stats.status[2],
                s3xx: stats.status[3],
                s4xx: stats.status[4],
                s5xx: stats.status[5],
                other: stats.status[0],
            },
            errors,
            timeline,
            rate,
            cpu_per_request_us: cpu_s
                .filter(|_| requests > 0)
                .map(|c| c * 1e6 / requests as f64),
            cpu_s,
            warnings,
            setup,
        }
    }

    /// Why TLS handshakes failed, with what to do about it, if any failed.
    pub fn tls_problem(&self) -> Option<String> {
        self.tls.as_ref().and_then(TlsReport::problem)
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut o = String::new();
        let s = &self.setup;
        let what = match (s.duration_s, s.requests) {
            (Some(d), _) => format!("{} test", fmt_secs(d)),
            (None, Some(n)) if s.websocket.is_some() => format!("{n}-message test"),
            (None, Some(n)) => format!("{n}-request test"),
            (None, None) => "test".into(),
        };
        let _ = writeln!(o, "Running {what} @ {}", s.target);
        let mode = match s.rate {
            Some(r) => format!(", open loop at {r} req/s"),
            None => String::new(),
        };
        let warm = if s.warmup_s > 0.0 {
            format!(", warm-up {}", fmt_secs(s.warmup_s))
        } else {
            String::new()
        };
        let depth = if let Some(w) = s.websocket {
            let kind = if w.text { "text" } else { "binary" };
            format!(
                "{} in flight each (WebSocket, {}-byte {kind} messages echoed)",
                w.inflight, w.message_size
            )
        } else if s.protocol == "h2" {
            format!("{} streams each (HTTP/2)", s.streams)
        } else {
            format!("pipeline {}", s.pipeline)
        };
        let _ = writeln!(
            o,
            "  {} threads ({}), {} connections, {depth}{mode}{warm}",
            s.threads, s.backend, s.connections
        );
        if let Some(tls) = &self.tls {
            let how = tls.verify.describe();
            match (tls.version, tls.cipher) {
                (Some(version), Some(cipher)) => {
                    let alpn = tls.alpn.as_deref().unwrap_or("none");
                    let _ = writeln!(o, "  {version}, {cipher}, ALPN {alpn} ({how})");
                }
                _ => {
                    let _ = writeln!(o, "  TLS: no handshake succeeded ({how})");
                }
            }
        }
        let _ = writeln!(o);
        let l = &self.latency;
        let _ = writeln!(
            o,
            "  {:<10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
            "Latency", "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "stdev"
        );
        let _ = writeln!(
            o,
            "  {:<10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
            "",
            fmt_us(l.p50_us),
            fmt_us(l.p90_us),
            fmt_us(l.p99_us),
            fmt_us(l.p99_9_us),
            fmt_us(l.p99_99_us),
            fmt_us(l.max_us),
            fmt_us(l.mean_us),
            fmt_us(l.stdev_us)
        );
        let _ = writeln!(o);
        let ws = s.websocket.is_some();
        let (what, done, unit) = if ws {
            ("Messages", "echoes", "msg/s")
        } else {
            ("Requests", "responses", "req/s")
        };
        let _ = writeln!(
            o,
            "  {what:<10}{} {done} in {}, {:.1} {unit}",
            self.responses,
            fmt_secs(self.elapsed_s),
            self.requests_per_s
        );
        let _ = writeln!(
            o,
            "  {:<10}{} read ({}/s), {} written",
            "Transfer",
            fmt_bytes(self.bytes_read as f64),
            fmt_bytes(self.bytes_read_per_s),
            fmt_bytes(self.bytes_written as f64)
        );
        let st = &self.status;
        let mut parts = Vec::new();
        for (name, n) in [
            ("1xx", st.s1xx),
            ("2xx", st.s2xx),
            ("3xx", st.s3xx),
            ("4xx", st.s4xx),
            ("5xx", st.s5xx),
            ("other", st.other),
        ] {
            if n > 0 {
                parts.push(format!("{name} {n}"));
            }
        }
        let status = if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        };
        if let Some(w) = &self.websocket {
            let _ = writeln!(
                o,
                "  {:<10}{} connections opened, {} closed cleanly (1000)",
                "WebSocket", self.connections_opened, w.clean_closes
            );
        } else {
            let _ = writeln!(o, "  {:<10}{status}", "Status");
        }
        let e = &self.errors;
        let mut parts = Vec::new();
        for (name, n) in [
            ("connect", e.connect),
            ("tls", e.tls),
            ("handshake", e.handshake),
            ("read", e.read),
            ("write", e.write),
            ("timeout", e.timeout),
            ("malformed", e.malformed),
            ("status 4xx", e.status_4xx),
            ("status 5xx", e.status_5xx),
        ] {
            if n > 0 {
                parts.push(format!("{name} {n}"));
            }
        }
        let errors = if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        };
        let _ = writeln!(o, "  {:<10}{errors}", "Errors");
        // Whole seconds only: a last partial second would read as a drop.
        let whole = (self.elapsed_s.floor() as usize).min(self.timeline.len());
        let shown = if whole == 0 {
            &self.timeline[..]
        } else {
            &self.timeline[..whole]
        };
        let full: Vec<u64> = shown.iter().map(|t| t.responses).collect();
        if let (Some(min), Some(max)) = (full.iter().min(), full.iter().max()) {
            let _ = writeln!(
                o,
                "  {:<10}{unit} per second: min {min}, max {max} over {} s",
                "Timeline",
                full.len()
            );
        }
        if let (Some(c), Some(per)) = (self.cpu_s, self.cpu_per_request_us) {
            let each = if ws { "message" } else { "request" };
            let _ = writeln!(o, "  {:<10}{c:.2} s, {per:.2} us per {each}", "CPU");
        }
        if let Some(r) = &self.rate {
            let _ = writeln!(
                o,
                "  {:<10}target {:.1} req/s, achieved {:.1} req/s",
                "Rate", r.target, r.achieved
            );
        }
        for w in &self.warnings {
            let _ = writeln!(o, "\nwarning: {w}");
        }
        o
    }
}

impl TlsReport {
    /// The first handshake failure, with the likely fix when no CA was trusted.
    fn problem(&self) -> Option<String> {
        let why = self.handshake_failure.as_ref()?;
        Some(match self.verify.hint() {
            Some(hint) => format!("TLS handshake failed: {why}; {hint}"),
            None => format!("TLS handshake failed: {why}"),
        })
    }
}

/// Format microseconds with a unit that keeps 3–4 significant digits.
pub fn fmt_us(v: f64) -> String {
    if v < 1000.0 {
        format!("{v:.1}us")
    } else if v < 1_000_000.0 {
        format!("{:.2}ms", v / 1000.0)
    } else {
        format!("{:.2}s", v / 1e6)
    }
}

fn fmt_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s:.2}s")
    }
}

/// Format a byte count with a binary unit.
pub fn fmt_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0}{}", UNITS[i])
    } else {
        format!("{v:.2}{}", UNITS[i])
    }
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line: 11 and 12 after ')'.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux configuration in use.
    Some((utime + stime) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> Setup {
        Setup {
            target: "http://h/".into(),
            scheme: "http",
            protocol: "http/1.1",
            tls_verify: None,
            method: "GET".into(),
            backend: "epoll",
            threads: 1,
            connections: 1,
            pipeline: 1,
            streams: 1,
            mode: "closed",
            duration_s: Some(1.0),
            requests: None,
            warmup_s: 0.0,
            rate: None,
            timeout_s: 1.0,
            websocket: None,
        }
    }

    #[test]
    fn report_from_stats() {
        let mut s = Stats::new();
        for i in 1..=1000 {
            s.record_response(200, i * 1000, 0);
        }
        s.record_response(503, 5_000_000, 1);
        s.record_errors(ErrorKind::Timeout, 2, 1);
        let r = Report::new(setup(), &s, 2.0, Some(0.5));
        assert_eq!(r.responses, 1001);
        assert_eq!(r.requests, 1003);
        assert_eq!(r.errors.timeout, 2);
        assert_eq!(r.errors.status_5xx, 1);
        assert!(
            (r.latency.p50_us - 500.0).abs() < 2.0,
            "{}",
            r.latency.p50_us
        );
        assert!((r.latency.max_us - 5000.0).abs() < 10.0);
        assert!(r.latency_distribution.len() > 5);
        assert_eq!(r.timeline.len(), 2);
        assert!((r.requests_per_s - 500.5).abs() < 1e-9);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["errors"]["timeout"], 2);
        assert_eq!(v["status"]["2xx"], 1000);
        let t = r.table();
        assert!(t.contains("timeout 2"), "{t}");
        assert!(t.contains("status 5xx 1"), "{t}");
    }

    #[test]
    fn tls_facts_and_failures() {
        let mut st = setup();
        st.scheme = "https";
        st.tls_verify = Some(Verify::NoRoots);
        let mut s = Stats::new();
        s.record_errors(ErrorKind::Tls, 3, 0);
        s.tls_failure = Some("invalid peer certificate: UnknownIssuer".into());
        let r = Report::new(st.clone(), &s, 1.0, None);
        assert_eq!(r.errors.tls, 3);
        assert_eq!(r.errors.failed_requests, 3);
        let problem = r.tls_problem().unwrap();
        assert!(problem.contains("UnknownIssuer") && problem.contains("--cacert"));
        let t = r.table();
        assert!(t.contains("tls 3"), "{t}");
        assert!(t.contains("no handshake succeeded"), "{t}");
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["tls"]["verify"], "none");
        assert_eq!(v["setup"]["scheme"], "https");

        st.tls_verify = Some(Verify::CaFile);
        let mut s = Stats::new();
        s.record_response(200, 1000, 0);
        s.tls_session = Some(crate::tls::Session {
            version: "TLSv1.3",
            cipher: "TLS13_AES_128_GCM_SHA256",
            alpn: Some("http/1.1".into()),
        });
        let r = Report::new(st, &s, 1.0, None);
        assert!(r.tls_problem().is_none());
        let t = r.table();
        assert!(
            t.contains("TLSv1.3, TLS13_AES_128_GCM_SHA256, ALPN http/1.1"),
            "{t}"
        );
        let http = Report::new(setup(), &s, 1.0, None);
        assert!(http.tls.is_none());
        assert!(!http.table().contains("TLS"));
    }

    #[test]
    fn websocket_table() {
        let mut st = setup();
        st.protocol = "websocket";
        st.websocket = Some(WsSetup {
            message_size: 64,
            text: false,
            inflight: 1,
        });
        let mut s = Stats::new();
        for _ in 0..10 {
            s.record_response(101, 1000, 0);
        }
        s.record_errors(ErrorKind::Handshake, 2, 0);
        s.connections_opened = 4;
        s.ws_clean_closes = 3;
        s.ws_failure = Some("the server answered 404 to the WebSocket handshake".into());
        let r = Report::new(st, &s, 2.0, Some(0.001));
        let t = r.table();
        assert!(t.contains("10 echoes in 2s, 5.0 msg/s"), "{t}");
        assert!(!t.contains("-request test"), "{t}");
        assert!(t.contains("64-byte binary messages"), "{t}");
        assert!(t.contains("4 connections opened, 3 closed cleanly"), "{t}");
        assert!(t.contains("handshake 2"), "{t}");
        assert!(t.contains("us per message"), "{t}");
        assert!(t.contains("warning: the server answered 404"), "{t}");
        assert!(!t.contains("Status"), "{t}");
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["websocket"]["clean_closes"], 3);
        assert_eq!(v["errors"]["handshake"], 2);
        assert_eq!(v["status"]["1xx"], 10);
    }

    #[test]
    fn empty_run_warns() {
        let r = Report::new(setup(), &Stats::new(), 1.0, None);
        assert_eq!(r.latency.p99_us, 0.0);
        assert!(!r.warnings.is_empty());
        assert!(r.table().contains("warning: no response"));
    }

    #[test]
    fn units() {
        assert_eq!(fmt_us(12.34), "12.3us");
        assert_eq!(fmt_us(1234.0), "1.23ms");
        assert_eq!(fmt_us(2_500_000.0), "2.50s");
        assert_eq!(fmt_bytes(512.0), "512B");
        assert_eq!(fmt_bytes(1536.0), "1.50KiB");
        assert!(process_cpu_seconds().is_some());
    }
}
