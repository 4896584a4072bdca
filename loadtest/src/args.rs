//! Command-line options (clap derive) and their validation.

use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// Largest `--ws-size`.
pub const MAX_WS_MESSAGE: usize = 16 << 20;

/// The I/O backend each worker thread runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// io_uring when the kernel allows it, epoll otherwise (kqueue on macOS and FreeBSD).
    Auto,
    /// io_uring (fails if unavailable; Linux only).
    IoUring,
    /// epoll (monoio's legacy driver; kqueue on macOS and FreeBSD).
    Epoll,
}

/// peregrine-load: a thread-per-core HTTP/1.1, HTTP/2 and WebSocket load generator.
///
/// Closed loop by default (each connection sends its next request, or pipelined batch,
/// as soon as the previous one is answered; with --h2, each of a connection's --streams
/// does); open loop at a constant rate with `--rate`, latency then measured from each
/// request's intended send time.
#[derive(Debug, Clone, Parser)]
#[command(name = "peregrine-load", version, about, long_about = None)]
pub struct Args {
    /// Target: http[s]://host:port/path or http[s]://unix:/path/to.sock:/path
    pub url: String,

    /// Connections to keep open (split across threads).
    #[arg(short = 'c', long, default_value_t = 64)]
    pub connections: usize,

    /// Worker threads, each pinned to a core [default: one per core].
    #[arg(short = 't', long)]
    pub threads: Option<usize>,

    /// Test duration, e.g. 10s, 500ms, 2m [default: 10s unless -n is given].
    #[arg(short = 'd', long, value_parser = parse_duration, conflicts_with = "requests")]
    pub duration: Option<Duration>,

    /// Total requests to send (each is answered or counted as an error exactly once).
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,

    /// Requests in flight per connection (HTTP/1.1 pipelining).
    #[arg(short = 'p', long, default_value_t = 1)]
    pub pipeline: usize,

    /// HTTP/2: h2c with prior knowledge for http:// URLs, ALPN h2 over TLS for https://
    /// (the run fails its requests as `tls` errors if the server does not choose h2).
    #[arg(long)]
    pub h2: bool,

    /// HTTP/2: concurrent streams per connection, each one request at a time (as
    /// h2load's -m).
    #[arg(short = 'm', long, value_name = "N", default_value_t = 1, value_parser = parse_streams)]
    pub streams: usize,

    /// WebSocket echo load (implied by a ws:// or wss:// URL): each connection upgrades
    /// to a WebSocket at the URL's path, sends messages and waits for their echoes.
    #[arg(long)]
    pub ws: bool,

    /// WebSocket: payload bytes of each message [default: 64].
    #[arg(long, value_name = "N")]
    pub ws_size: Option<usize>,

    /// WebSocket: send text messages instead of binary ones.
    #[arg(long)]
    pub ws_text: bool,

    /// WebSocket: messages in flight per connection, each echo answered by the next
    /// message [default: 1].
    #[arg(long, value_name = "K")]
    pub ws_inflight: Option<usize>,

    /// Request method.
    #[arg(short = 'X', long, default_value = "GET")]
    pub method: String,

    /// Extra request header `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,

    /// Send the contents of FILE as the request body.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,

    /// Close the connection after each response (`Connection: close`).
    #[arg(long)]
    pub no_keepalive: bool,

    /// Run this long before measuring; requests sent during warm-up are not counted.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub warmup: Duration,

    /// Open loop: send R requests per second in total, on a fixed schedule.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,

    /// A request not answered this long after it was sent counts as a timeout (this
    /// also bounds connecting).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,

    /// https: trust the CA certificates in FILE (PEM) to verify the server's
    /// certificate.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// https: accept any server certificate (the handshake signatures are still
    /// checked).
    #[arg(short = 'k', long, conflicts_with = "cacert")]
    pub insecure: bool,

    /// I/O backend.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub backend: Backend,

    /// Do not pin worker threads to cores.
    #[arg(long)]
    pub no_pin: bool,

    /// Write every figure of the run as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Draw the latency percentile curve and throughput over time to FILE (SVG).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,

    /// Never print the live progress line (it is shown only on a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
}

impl Args {
    /// Check option combinations clap cannot express; returns a message for the user.
    pub fn validate(&self) -> Result<(), String> {
        if self.connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        if self.threads == Some(0) {
            return Err("--threads must be at least 1".into());
        }
        if self.pipeline == 0 {
            return Err("--pipeline must be at least 1".into());
        }
        if self.requests == Some(0) {
            return Err("--requests must be at least 1".into());
        }
        if self.duration == Some(Duration::ZERO) {
            return Err("--duration must be positive".into());
        }
        if self.timeout.is_zero() {
            return Err("--timeout must be positive".into());
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return Err("--rate must be a positive number of requests per second".into());
            }
            if self.pipeline > 1 {
                return Err(
                    "--rate and --pipeline cannot be combined: the open loop sends \
                            each request at its own scheduled time"
                        .into(),
                );
            }
        }
        if self.streams == 0 {
            return Err("--streams must be at least 1".into());
        }
        if self.h2 {
            if self.pipeline > 1 {
                return Err(
                    "--pipeline is HTTP/1.1 pipelining; with --h2 use --streams (-m) \
                            for requests in flight per connection"
                        .into(),
                );
            }
            if self.no_keepalive {
                return Err("--no-keepalive applies to HTTP/1.1 only, not --h2".into());
            }
        } else if self.streams > 1 {
            return Err(
                "--streams (-m) needs --h2 (over HTTP/1.1, --pipeline puts several requests \
                 in flight per connection)"
                    .into(),
            );
        }
        self.validate_ws()?;
        if self.no_keepalive && self.pipeline > 1 {
            return Err("--no-keepalive and --pipeline cannot be combined".into());
        }
        if self.method.is_empty()
            || !self
                .method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(format!("invalid method `{}`", self.method));
        }
        Ok(())
    }

    /// Whether this is a WebSocket run: `--ws`, or a `ws://` / `wss://` URL.
    pub fn websocket(&self) -> bool {
        let scheme = self
            .url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        self.ws || matches!(scheme.as_deref(), Some("ws" | "wss"))
    }

    /// Payload bytes of each WebSocket message.
    pub fn ws_message_size(&self) -> usize {
        self.ws_size.unwrap_or(64)
    }

    /// WebSocket messages in flight per connection.
    pub fn ws_window(&self) -> usize {
        self.ws_inflight.unwrap_or(1)
    }

    /// The WebSocket options' own rules, and what they cannot be combined with.
    fn validate_ws(&self) -> Result<(), String> {
        if !self.websocket() {
            if self.ws_size.is_some() || self.ws_text || self.ws_inflight.is_some() {
                return Err(
                    "--ws-size, --ws-text and --ws-inflight need --ws (or a ws:// URL)".into(),
                );
            }
            return Ok(());
        }
        if self.ws_window() == 0 {
            return Err("--ws-inflight must be at least 1".into());
        }
        if self.ws_message_size() > MAX_WS_MESSAGE {
            return Err(format!(
                "--ws-size must be at most {MAX_WS_MESSAGE} bytes (16 MiB)"
            ));
        }
        let conflict = if self.h2 {
            Some("--h2")
        } else if self.pipeline > 1 {
            Some("--pipeline (use --ws-inflight)")
        } else if self.streams > 1 {
            Some("--streams")
        } else if self.no_keepalive {
            Some("--no-keepalive")
        } else if self.body.is_some() {
            Some("--body (use --ws-size)")
        } else if !self.method.eq_ignore_ascii_case("GET") {
            Some("-X (the handshake is a GET)")
        } else if self.rate.is_some() && self.ws_window() > 1 {
            Some("--rate with --ws-inflight above 1 (the open loop sends one message at a time)")
        } else {
            None
        };
        match conflict {
            Some(what) => Err(format!("--ws (WebSocket) cannot be combined with {what}")),
            None => Ok(()),
        }
    }

    /// The number of worker threads to run: `-t`, or one per core, never more than
    /// there are connections.
    pub fn thread_count(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.threads.unwrap_or(cores).min(self.connections).max(1)
    }

    /// The measured duration (`-d`), `None` with `-n`.
    pub fn run_duration(&self) -> Option<Duration> {
        match (self.duration, self.requests) {
            (Some(d), _) => Some(d),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        }
    }
}

/// Parse `-m` / `--streams`, telling those who expect `-m` to be the method (it was,
/// before HTTP/2) where that went.
fn parse_streams(s: &str) -> Result<usize, String> {
    s.parse().map_err(|_| {
        format!(
            "`{s}` is not a number of streams: -m is --streams (concurrent HTTP/2 streams \
             per connection, as h2load's -m); the request method is -X/--method"
        )
    })
}

/// Parse `10s`, `250ms`, `2m`, `1h`, `1.5s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration `{s}` (examples: 10s, 500ms, 2m)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" => n / 1e6,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in `{s}` (use ms, s, m or h)"
            ))
        }
    };
    if !secs.is_finite() || secs > 1e9 {
        return Err(format!("duration `{s}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn validation() {
        let ok = Args::try_parse_from(["p", "http://h/"]).unwrap();
        assert!(ok.validate().is_ok());
        assert_eq!(ok.run_duration(), Some(Duration::from_secs(10)));
        let n = Args::try_parse_from(["p", "-n", "5", "http://h/"]).unwrap();
        assert_eq!(n.run_duration(), None);
        assert!(Args::try_parse_from(["p", "-n", "5", "-d", "1s", "http://h/"]).is_err());
        assert!(
            Args::try_parse_from(["p", "-k", "--cacert", "ca.pem", "https://h/"]).is_err(),
            "--insecure and --cacert conflict"
        );
        for bad in [
            &["p", "-c", "0", "http://h/"][..],
            &["p", "--pipeline", "0", "http://h/"],
            &["p", "--rate", "10", "--pipeline", "2", "http://h/"],
            &["p", "--rate", "0", "http://h/"],
            &["p", "-X", "G T", "http://h/"],
            &["p", "-m", "0", "--h2", "http://h/"],
            &["p", "-m", "8", "http://h/"],
            &["p", "--h2", "--pipeline", "2", "http://h/"],
            &["p", "--h2", "--no-keepalive", "http://h/"],
        ] {
            let a = Args::try_parse_from(bad).unwrap();
            assert!(a.validate().is_err(), "{bad:?}");
        }
        for bad in [
            &["p", "--ws", "--h2", "http://h/"][..],
            &["p", "--pipeline", "2", "ws://h/"],
            &["p", "--ws", "-X", "POST", "http://h/"],
            &["p", "--ws-inflight", "0", "ws://h/"],
            &["p", "--ws-size", "99999999", "ws://h/"],
            &["p", "--rate", "10", "--ws-inflight", "2", "ws://h/"],
            &["p", "--ws-size", "10", "http://h/"],
            &["p", "--ws-text", "http://h/"],
        ] {
            let a = Args::try_parse_from(bad).unwrap();
            assert!(a.validate().is_err(), "{bad:?}");
        }
        let ws = Args::try_parse_from(["p", "--ws-size", "16384", "WSS://h/ws"]).unwrap();
        assert!(ws.validate().is_ok() && ws.websocket());
        assert_eq!((ws.ws_message_size(), ws.ws_window()), (16384, 1));
        let ws = Args::try_parse_from(["p", "--ws", "--rate", "5", "http://h/ws"]).unwrap();
        assert!(ws.validate().is_ok() && ws.websocket());
        assert!(!Args::try_parse_from(["p", "http://h/"])
            .unwrap()
            .websocket());
        let h2 = Args::try_parse_from(["p", "--h2", "-m", "100", "-c", "16", "http://h/"]).unwrap();
        assert!(h2.validate().is_ok());
        assert_eq!((h2.streams, h2.connections), (100, 16));
        let e = Args::try_parse_from(["p", "-m", "POST", "http://h/"]).unwrap_err();
        assert!(e.to_string().contains("-X/--method"), "{e}");
        let t = Args::try_parse_from(["p", "-t", "8", "-c", "2", "http://h/"]).unwrap();
        assert_eq!(t.thread_count(), 2);
    }
}
