//! peregrine-load: a thread-per-core HTTP/1.1, HTTP/2 and WebSocket load generator on
//! monoio (io_uring, or epoll).
//!
//! - [`args`]: command-line options.
//! - [`url`]: target URLs, TCP or unix socket, `http` or `https`.
//! - [`request`]: the request, rendered once.
//! - [`framing`]: splitting a connection's bytes into responses (sans-IO, on
//!   `peregrine-protocol`'s response parser and chunked decoder).
//! - [`ctx`]: what a thread's connections share: the plan, the clock, the thread's
//!   figures.
//! - [`schedule`]: when a lane (a connection, or an HTTP/2 stream slot) sends next.
//! - [`conn`]: one HTTP/1.1 connection's loop, closed or open (rate) loop, over any
//!   [`conn::Io`].
//! - [`h2`]: HTTP/2 (`--h2`): h2c or ALPN `h2`, `--streams` lanes per connection.
//! - [`ws`]: WebSocket echo load (`--ws`, `ws://`, `wss://`): upgrade, messages, close.
//! - [`tls`]: `https`: the client configuration and a TLS stream driving rustls by hand
//!   with owned buffers.
//! - [`worker`]: pinned worker threads, one runtime each (`peregrine-runtime`).
//! - [`stats`]: per-thread histograms and counters, merged at the end.
//! - [`report`]: the human table and the JSON; [`plot`]: the SVG.
//!
//! [`run`] drives a whole run from parsed [`args::Args`].
#![deny(missing_docs)]

pub mod args;
pub mod conn;
pub mod ctx;
pub mod framing;
pub mod h2;
pub mod plot;
pub mod report;
pub mod request;
pub mod schedule;
pub mod stats;
pub mod tls;
pub mod url;
pub mod worker;
pub mod ws;

use args::Args;
use ctx::{Clock, Dial, Plan};
use report::{Report, Setup};
use stats::Stats;
use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tls::TlsPlan;
use url::{Endpoint, Scheme, Target};
use worker::Progress;

/// Why a run could not take place (the process exits non-zero with this message).
#[derive(Debug)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

impl From<String> for RunError {
    fn from(s: String) -> Self {
        RunError(s)
    }
}

/// Resolve the target and check that it accepts connections, so that an unreachable
/// target is one clear message instead of a run full of connect errors.
fn dial(target: &Target, timeout: Duration) -> Result<Dial, RunError> {
    match &target.endpoint {
        Endpoint::Unix(path) => {
            std::os::unix::net::UnixStream::connect(path).map_err(|e| {
                RunError(format!(
                    "cannot connect to {target} ({}): {e}",
                    path.display()
                ))
            })?;
            Ok(Dial::Unix(path.clone()))
        }
        Endpoint::Tcp { host, port } => {
            let addrs: Vec<SocketAddr> = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|e| RunError(format!("cannot resolve `{host}`: {e}")))?
                .collect();
            let mut last = None;
            for addr in &addrs {
                match TcpStream::connect_timeout(addr, timeout) {
                    Ok(_) => return Ok(Dial::Tcp(*addr)),
                    Err(e) => last = Some(format!("{addr}: {e}")),
                }
            }
            Err(RunError(format!(
                "cannot connect to {target}: {}",
                last.unwrap_or_else(|| format!("`{host}` has no address"))
            )))
        }
    }
}

/// Run the load test described by `args` and return its report. Prints the live
/// progress line when `progress` is set.
pub fn run(args: &Args, progress: bool) -> Result<Report, RunError> {
    args.validate()?;
    let target = Target::parse(&args.url).map_err(|e| RunError(e.to_string()))?;
    let tls = match target.scheme {
        Scheme::Https => Some(TlsPlan::new(
            &target,
            args.cacert.as_deref(),
            args.insecure,
            args.h2,
        )?),
        Scheme::Http if args.cacert.is_some() || args.insecure => {
            return Err(RunError(format!(
                "--cacert and --insecure apply to https:// URLs only, not {target}"
            )));
        }
        Scheme::Http => None,
    };
    let body = match &args.body {
        Some(path) => std::fs::read(path)
            .map_err(|e| RunError(format!("cannot read --body {}: {e}", path.display())))?,
        None => Vec::new(),
    };
    let keep_alive = !args.no_keepalive;
    let ws = if args.websocket() {
        Some(ws::Plan {
            upgrade: ws::handshake::Upgrade::new(&target.path, &target.authority, &args.headers)?,
            size: args.ws_message_size(),
            text: args.ws_text,
            inflight: args.ws_window(),
        })
    } else {
        None
    };
    let ws_setup = ws.as_ref().map(|w| report::WsSetup {
        message_size: w.size,
        text: w.text,
        inflight: w.inflight,
    });
    let h2 = if args.h2 {
        Some(h2::Template::new(
            &target,
            &args.method,
            &args.headers,
            body.clone(),
        )?)
    } else {
        None
    };
    let request = request::render(
        &args.method,
        &target.path,
        &target.authority,
        &args.headers,
        &body,
        keep_alive,
    )?;
    if let Some(limit) = open_files_limit() {
        if args.connections as u64 + 64 > limit {
            return Err(RunError(format!(
                "{} connections need as many file descriptors, but this process may open \
                 only {limit}; raise the limit (ulimit -n) or lower -c",
                args.connections
            )));
        }
    }
    let backend = worker::resolve_backend(args.backend)?;
    let dial = dial(&target, args.timeout)?;

    let threads = args.thread_count();
    let duration = args.run_duration();
    let tls_verify = tls.as_ref().map(|t| t.verify);
    let plan = Arc::new(Plan {
        dial,
        tls,
        request_len: request.len(),
        request,
        pipeline: args.pipeline,
        h2,
        streams: args.streams,
        ws,
        request_is_head: args.method.eq_ignore_ascii_case("HEAD"),
        keep_alive,
        connections: args.connections,
        rate: args.rate,
        timeout: args.timeout,
        backend,
        pin: !args.no_pin,
    });

    let (done_tx, done_rx) = mpsc::channel();
    let mut go = Vec::with_capacity(threads);
    let mut progresses = Vec::new();
    let mut handles = Vec::with_capacity(threads);
    // Each returns once its thread's runtime is built; a failure cancels the threads
    // already started (their `go` closes).
    for share in worker::shares(args.connections, threads, args.requests) {
        let (go_tx, go_rx) = mpsc::channel();
        go.push(go_tx);
        let p = progress.then(|| Arc::new(Progress::default()));
        progresses.extend(p.clone());
        handles.push(worker::start(
            plan.clone(),
            share,
            go_rx,
            p,
            done_tx.clone(),
        )?);
    }
    drop(done_tx);

    let start = Instant::now();
    let measure_start = start + args.warmup;
    let clock = Clock {
        start,
        measure_start,
        end: duration.map(|d| measure_start + d),
    };
    for g in &go {
        let _ = g.send(clock);
    }

    let mut merged = Stats::new();
    let mut finished_at = start;
    let mut failures = Vec::new();
    let mut remaining = threads;
    let mut last = (Instant::now(), 0u64);
    // CPU time is counted from the end of warm-up, like the requests.
    let mut cpu_before = None;
    let mut next_tick = start + Duration::from_secs(1);
    while remaining > 0 {
        let now = Instant::now();
        if cpu_before.is_none() && now >= measure_start {
            cpu_before = report::process_cpu_seconds();
        }
        let mut wake = next_tick;
        if cpu_before.is_none() {
            wake = wake.min(measure_start);
        }
        match done_rx.recv_timeout(wake.saturating_duration_since(now)) {
            Ok(f) => {
                remaining -= 1;
                finished_at = finished_at.max(f.at);
                match f.result {
                    Ok(s) => merged.merge(&s),
                    Err(e) => failures.push(format!("thread {}: {e}", f.index)),
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if Instant::now() >= next_tick {
                    next_tick += Duration::from_secs(1);
                    if progress {
                        last = print_progress(&progresses, clock, last);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if progress {
        print!("\r\x1b[2K");
        let _ = std::io::stdout().flush();
    }
    for h in handles {
        let _ = h.join();
    }
    if remaining > 0 || !failures.is_empty() {
        failures.push(format!("{remaining} worker thread(s) did not report"));
        return Err(RunError(failures.join("; ")));
    }

    let elapsed = match clock.end {
        Some(end) => end.saturating_duration_since(measure_start),
        None => finished_at.saturating_duration_since(measure_start),
    };
    let cpu = match (cpu_before, report::process_cpu_seconds()) {
        (Some(a), Some(b)) => Some((b - a).max(0.0)),
        _ => None,
    };
    let setup = Setup {
        target: target.to_string(),
        scheme: target.scheme.name(),
        protocol: if ws_setup.is_some() {
            "websocket"
        } else if args.h2 {
            "h2"
        } else {
            "http/1.1"
        },
        tls_verify,
        method: args.method.clone(),
        backend: backend.name(),
        threads,
        connections: args.connections,
        pipeline: args.pipeline,
        streams: args.streams,
        mode: if args.rate.is_some() {
            "rate"
        } else {
            "closed"
        },
        duration_s: duration.map(|d| d.as_secs_f64()),
        requests: args.requests,
        warmup_s: args.warmup.as_secs_f64(),
        rate: args.rate,
        timeout_s: args.timeout.as_secs_f64(),
        websocket: ws_setup,
    };
    Ok(Report::new(setup, &merged, elapsed.as_secs_f64(), cpu))
}

fn print_progress(
    progresses: &[Arc<Progress>],
    clock: Clock,
    last: (Instant, u64),
) -> (Instant, u64) {
    let now = Instant::now();
    let responses: u64 = progresses
        .iter()
        .map(|p| p.responses.load(Ordering::Relaxed))
        .sum();
    let errors: u64 = progresses
        .iter()
        .map(|p| p.errors.load(Ordering::Relaxed))
        .sum();
    let dt = now.saturating_duration_since(last.0).as_secs_f64();
    let rate = if dt > 0.0 {
        responses.saturating_sub(last.1) as f64 / dt
    } else {
        0.0
    };
    // The tick that lands on the end of warm-up has nothing measured yet.
    let warming =
        clock.measure_start > clock.start && now < clock.measure_start + Duration::from_millis(500);
    if warming {
        let t = now.saturating_duration_since(clock.start).as_secs_f64();
        let w = clock
            .measure_start
            .saturating_duration_since(clock.start)
            .as_secs_f64();
        print!("\r\x1b[2K  warming up {t:.0}s / {w:.0}s");
    } else {
        let t = now
            .saturating_duration_since(clock.measure_start)
            .as_secs_f64();
        print!(
            "\r\x1b[2K  {t:5.1}s  {rate:>12.0} req/s  {responses:>10} responses  {errors} errors"
        );
    }
    let _ = std::io::stdout().flush();
    (now, responses)
}

/// The soft limit on open files, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// True when the live progress line should be shown.
pub fn progress_wanted(args: &Args) -> bool {
    !args.no_progress && std::io::stdout().is_terminal()
}
