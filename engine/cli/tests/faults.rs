//! Faults the server survives, on both backends:
//!
//! - a handler that panics, before or after reading its body, and response body streams
//!   that panic before anything was sent or after the response started (in-process
//!   server, one worker): 500 with `Content-Length: 0` when nothing of the response went
//!   out, else the connection is closed; the worker and every other connection (idle,
//!   in flight) live on;
//! - 1,000 clients that vanish mid-request or mid-response, reset, or half-close: once
//!   they are gone the server has no connection left, its descriptor count is back to
//!   the baseline and its buffer pool shrinks back (counted through `/proc` and
//!   `/metrics`);
//! - slowloris: 2,000 connections trickling header bytes while a normal client is served
//!   within a second, with the server's resident memory reported and bounded;
//! - 10,000 connections of seeded random bytes (set `PEREGRINE_FUZZ_SEED` to replay
//!   one): no worker crashes, every worker still answers.
//!
//! The cases take a lock so that they run one at a time: the heavy ones would measure
//! each other's latency and memory, and a server process started while an in-process
//! io_uring server has connections open inherits them (accepted sockets lack
//! close-on-exec there: see `accepted_connections_are_close_on_exec`), which would hold
//! those connections open past the in-process server's close.

#[macro_use]
mod common;

use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::inproc::InProc;
use common::probe::{
    fd_count, fd_kinds, metrics_addr, raise_nofile_limit, rss_kib, set_linger_zero, wait_until,
    Metrics,
};
use common::*;
use peregrine::{Body, Request, Response};

/// Runs the cases one at a time (see the module documentation).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------------------------
// Panics
// ---------------------------------------------------------------------------------------

/// The panics these tests cause on purpose carry this text; the panic hook keeps them
/// out of the test output (every other panic is reported as usual).
const EXPECTED: &str = "(a panic the test expects)";

fn quiet_expected_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if !text.contains(EXPECTED) {
                previous(info);
            }
        }));
    });
}

type Pause = Pin<Box<dyn Future<Output = ()>>>;

/// A response body: `chunks` pieces, optionally a pause (so the engine sends what it has)
/// after the first, then a panic instead of the end.
struct Faulty {
    chunks: usize,
    pause: Option<Pause>,
    paused: bool,
}

impl futures_core::Stream for Faulty {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.chunks > 0 {
            self.chunks -= 1;
            return Poll::Ready(Some(Ok(Bytes::from_static(b"first"))));
        }
        if !self.paused {
            if let Some(p) = self.pause.as_mut() {
                if p.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            self.paused = true;
        }
        panic!("response body stream {EXPECTED}");
    }
}

/// A body of two pieces with a pause between them (a request in flight).
struct Slow {
    step: u8,
    pause: Pause,
}

impl futures_core::Stream for Slow {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.step {
            0 => {
                self.step = 1;
                Poll::Ready(Some(Ok(Bytes::from_static(b"begin"))))
            }
            1 => match self.pause.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => {
                    self.step = 2;
                    Poll::Ready(Some(Ok(Bytes::from_static(b"end"))))
                }
            },
            _ => Poll::Ready(None),
        }
    }
}

fn pause(ms: u64) -> Pause {
    Box::pin(monoio::time::sleep(Duration::from_millis(ms)))
}

async fn faulty(mut req: Request) -> Response {
    let faulty = |chunks, pause| {
        Response::new(Body::from_stream(Faulty {
            chunks,
            pause,
            paused: false,
        }))
    };
    match req.path() {
        "/panic" => panic!("handler {EXPECTED}"),
        "/panic-after-body" => {
            let _ = req.body_mut().to_bytes(1 << 20).await;
            panic!("handler after reading its body {EXPECTED}")
        }
        "/panic-later" => {
            monoio::time::sleep(Duration::from_millis(20)).await;
            panic!("handler after a wait {EXPECTED}")
        }
        "/stream-panic-at-once" => faulty(0, None),
        "/stream-panic-unsent" => faulty(1, None),
        "/stream-panic-sent" => faulty(1, Some(pause(30))),
        "/slow" => Response::new(Body::from_stream(Slow {
            step: 0,
            pause: pause(800),
        })),
        _ => Response::new("ok"),
    }
}

/// Expect the 500 a panic before the response started gets, then the close.
fn expect_500(c: &mut Client, what: &str) {
    let r = c.read_head();
    assert_eq!(r.status, 500, "{what}: {}", r.raw_head);
    assert_eq!(r.reason, "Internal Server Error", "{what}");
    assert_eq!(
        r.header("content-length"),
        Some("0"),
        "{what}: {}",
        r.raw_head
    );
    assert_eq!(
        r.header("connection"),
        Some("close"),
        "{what}: {}",
        r.raw_head
    );
    assert_standard_headers(&r);
    let rest = c.read_to_eof();
    assert!(
        rest.is_empty(),
        "{what}: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

fn handler_panics(backend: Backend) {
    let _one = one_at_a_time();
    quiet_expected_panics();
    let s = InProc::start(backend, faulty, |_| {});
    // An idle keep-alive connection, and a request in flight (its first piece arrived,
    // its handler waits), both opened before the panics.
    let mut idle = s.connect();
    assert_eq!(idle.get("/ok").text(), "ok");
    let mut in_flight = s.connect();
    in_flight.send(get("/slow"));
    assert_eq!(in_flight.read_head().status, 200);
    in_flight.wait_for_bytes(b"begin");

    for (path, body) in [
        ("/panic", ""),
        ("/panic-later", ""),
        ("/panic-after-body", "hello"),
    ] {
        let mut c = s.connect();
        c.send(format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        expect_500(&mut c, path);
    }
    // A panic answered on a connection that served requests before: those answers
    // stand, the 500 follows, then the close.
    let mut c = s.connect();
    c.send(format!("{}{}", get("/ok"), get("/panic")));
    assert_eq!(c.read_response().text(), "ok");
    expect_500(&mut c, "pipelined after a good request");

    // The worker lives on: the request in flight completes, the idle connection and new
    // ones are served.
    let (body, _) = in_flight.read_chunked_body();
    assert_eq!(body, b"beginend");
    assert_eq!(in_flight.get("/ok").text(), "ok");
    assert_eq!(idle.get("/ok").text(), "ok");
    for _ in 0..3 {
        assert_eq!(s.connect().get("/ok").text(), "ok");
    }
    let requests = wait_until(
        Duration::from_secs(5),
        "the worker to publish its counters",
        || {
            s.snapshots()
                .first()
                .map(|w| w.requests())
                .filter(|&n| n >= 10)
        },
        || format!("{:?}", s.snapshots()),
    );
    assert!(requests >= 10);
}
both_backends!(
    a_panicking_handler_gets_500_and_the_worker_lives_on,
    handler_panics
);

/// A body stream that panics once its first piece went out: the response has started,
/// so the connection is closed (no last chunk); the worker lives on.
fn stream_panic_after_start(backend: Backend) {
    let _one = one_at_a_time();
    quiet_expected_panics();
    let s = InProc::start(backend, faulty, |_| {});
    let mut idle = s.connect();
    assert_eq!(idle.get("/ok").text(), "ok");
    let mut c = s.connect();
    c.send(get("/stream-panic-sent"));
    let head = c.read_head();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    let rest = c.read_to_eof();
    assert_eq!(
        rest,
        b"5\r\nfirst\r\n",
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
    assert_eq!(idle.get("/ok").text(), "ok");
    assert_eq!(s.connect().get("/ok").text(), "ok");
}
both_backends!(
    a_body_stream_panicking_after_the_response_started_closes_the_connection,
    stream_panic_after_start
);

/// A body stream that panics before anything of the response went out (at its first
/// poll, or after a first piece that was still buffered): nothing has started on the
/// wire, so the client is owed the 500 with `Content-Length: 0`.
fn stream_panic_before_start(backend: Backend) {
    let _one = one_at_a_time();
    quiet_expected_panics();
    let s = InProc::start(backend, faulty, |_| {});
    for path in ["/stream-panic-at-once", "/stream-panic-unsent"] {
        let mut c = s.connect();
        c.send(get(path));
        expect_500(&mut c, path);
    }
    assert_eq!(s.connect().get("/ok").text(), "ok");
}
both_backends!(
    a_body_stream_panicking_before_anything_was_sent_gets_500,
    stream_panic_before_start
);

// ---------------------------------------------------------------------------------------
// Vanishing clients: no leaks
// ---------------------------------------------------------------------------------------

/// The ways a client misbehaves.
const KINDS: usize = 8;

fn misbehave(addr: SocketAddr, kind: usize) {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, IO_TIMEOUT) else {
        panic!("connect to {addr} failed");
    };
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let stream = b"GET /stream?chunks=100&size=65536 HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut buf = vec![0u8; 64 * 1024];
    // Errors on our side are part of the game (the server may close first): ignored.
    match kind {
        // Vanish mid-head.
        0 => {
            let _ = s.write_all(b"GET /plaintext HTTP/1.1\r\nHo");
        }
        // Vanish mid-body (the echo of the first part is left unread: a reset).
        1 => {
            let _ = s.write_all(
                b"POST /echo/stream HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n",
            );
            let _ = s.write_all(&[b'b'; 1000]);
            let _ = s.read(&mut buf);
        }
        // Vanish mid-response: read part of a 6.4 MB response.
        2 => {
            let _ = s.write_all(stream);
            let _ = s.read(&mut buf);
        }
        // Reset mid-head.
        3 => {
            let _ = s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-A: ");
            set_linger_zero(&s);
        }
        // Reset mid-response.
        4 => {
            let _ = s.write_all(stream);
            let _ = s.read(&mut buf);
            set_linger_zero(&s);
        }
        // Reset right after a whole request, not waiting for the answer.
        5 => {
            let _ = s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
            set_linger_zero(&s);
        }
        // Half-close mid-head, then wait for the server to close.
        6 => {
            let _ = s.write_all(b"GET /plaintext HTTP/1.1\r\nHost");
            let _ = s.shutdown(Shutdown::Write);
            let _ = s.read_to_end(&mut Vec::new());
        }
        // Half-close mid-body, then wait for the server to close.
        _ => {
            let _ =
                s.write_all(b"POST /request HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\nab");
            let _ = s.shutdown(Shutdown::Write);
            let _ = s.read_to_end(&mut Vec::new());
        }
    }
}

/// Run `n` clients, `parallel` at a time, client `i` doing `f(i)`.
fn storm(n: usize, parallel: usize, f: impl Fn(usize) + Send + Sync + 'static) {
    let next = Arc::new(AtomicUsize::new(0));
    let f = Arc::new(f);
    let threads: Vec<_> = (0..parallel)
        .map(|_| {
            let next = next.clone();
            let f = f.clone();
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                f(i);
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a client thread panicked");
    }
}

/// Connections accepted and open, descriptors and idle pool buffers of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Counts {
    accepted: u64,
    active: u64,
    fds: usize,
    pool: u64,
}

fn counts(pid: i32, metrics: SocketAddr) -> Counts {
    let m = Metrics::scrape(metrics);
    Counts {
        accepted: m.sum("peregrine_connections_accepted_total", &[]),
        active: m.sum("peregrine_connections_active", &[]),
        fds: fd_count(pid),
        pool: m.sum("peregrine_buffer_pool_idle", &[]),
    }
}

fn vanishing_clients(backend: Backend) {
    let _one = one_at_a_time();
    let s = Server::start(
        backend,
        &[
            "--urls",
            "http://127.0.0.1:0",
            "--metrics-urls",
            "http://127.0.0.1:0",
        ],
    );
    let addr = s.tcp_addr(0);
    let pid = s.pid();
    let metrics = metrics_addr(&s);
    // Warm up (every route the storm uses), then take the baseline once no connection
    // is open.
    for path in ["/plaintext", "/stream?chunks=2&size=65536"] {
        let mut c = Client::tcp(addr);
        assert_eq!(c.get(path).status, 200);
    }
    let before = wait_until(
        Duration::from_secs(20),
        "no connection open before the storm",
        || {
            let c = counts(pid, metrics);
            (c.accepted >= 2 && c.active == 0).then_some(c)
        },
        || format!("{:?}", counts(pid, metrics)),
    );
    let rss_before = rss_kib(pid);
    let kinds_before = fd_kinds(pid);

    // The storm, with the peaks sampled from the side.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampling = done.clone();
    let sampler = std::thread::spawn(move || {
        let mut peak = Counts::default();
        while !sampling.load(Ordering::Relaxed) {
            let c = counts(pid, metrics);
            peak.active = peak.active.max(c.active);
            peak.fds = peak.fds.max(c.fds);
            peak.pool = peak.pool.max(c.pool);
            std::thread::sleep(Duration::from_millis(100));
        }
        peak
    });
    let t0 = Instant::now();
    storm(1000, 16, move |i| misbehave(addr, i % KINDS));
    let took = t0.elapsed();

    // Metrics published after the storm (all 1,000 accepted) with nothing open, and the
    // descriptors back to the baseline.
    let after = wait_until(
        Duration::from_secs(20),
        "every connection to close and the descriptors to return to the baseline",
        || {
            let c = counts(pid, metrics);
            (c.accepted >= before.accepted + 1000 && c.active == 0 && c.fds <= before.fds)
                .then_some(c)
        },
        || format!("before {before:?}, now {:?}", counts(pid, metrics)),
    );
    // The pool gives back what it no longer needs (it frees half of its unused buffers
    // each second), down to where it was.
    let drained = wait_until(
        Duration::from_secs(20),
        "the buffer pool to shrink back to its baseline",
        || {
            let c = counts(pid, metrics);
            (c.pool <= before.pool).then_some(c)
        },
        || format!("{:?}", counts(pid, metrics)),
    );
    done.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    let rss_after = rss_kib(pid);
    let kinds_after = fd_kinds(pid);
    eprintln!(
        "vanishing clients ({backend:?}): descriptors before [{kinds_before}], after [{kinds_after}]"
    );
    eprintln!(
        "vanishing clients ({backend:?}): 1000 clients in {took:?}; before {before:?}; \
         peaks during the storm: {} open, {} descriptors, {} idle buffers; once closed \
         {after:?}; finally {drained:?}; RSS {rss_before} -> {rss_after} KiB",
        peak.active, peak.fds, peak.pool
    );
    // No descriptor is left behind (tolerance 0): the worker's own (listeners, the ring
    // or the epoll instance, the metrics listener) exist before the storm, and a
    // connection adds exactly one, closed with it.
    assert_eq!(after.fds, before.fds);
    assert!(
        rss_after < rss_before + 32 * 1024,
        "RSS {rss_before} -> {rss_after} KiB"
    );
    // And it still serves.
    assert_eq!(Client::tcp(addr).get("/plaintext").status, 200);
}
both_backends!(a_thousand_vanishing_clients_leak_nothing, vanishing_clients);

/// The server's end of our connection `c` to an in-process server: the descriptor in
/// this process whose peer is `c`'s local address.
fn server_side_fd(c: &Client) -> std::os::fd::RawFd {
    use std::os::fd::FromRawFd;
    let ours = c.local_addr();
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(fd) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: the descriptor is only borrowed (never closed: ManuallyDrop) to ask
        // for its peer; a descriptor that is not a TCP socket just fails the call.
        let s = std::mem::ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
        if s.peer_addr().ok() == Some(ours) && fd != c.raw_fd() {
            return fd;
        }
    }
    panic!("no descriptor in this process is the server's end of {ours}");
}

/// Accepted connections are close-on-exec, like the listeners: a program embedding the
/// server that starts a child process must not hand it its clients' connections (the
/// connection would outlive the server's close for as long as the child runs). They are
/// `TCP_NODELAY` too (inherited from the listener, not set per connection). A burst of
/// connections opened before any is served covers both ways in: the accept the worker
/// waited on and the ones it took already queued.
fn accepted_cloexec(backend: Backend) {
    let _one = one_at_a_time();
    let s = InProc::start(backend, faulty, |_| {});
    let mut clients: Vec<Client> = (0..32).map(|_| s.connect()).collect();
    for c in &mut clients {
        assert_eq!(c.get("/ok").text(), "ok");
        let fd = server_side_fd(c);
        // SAFETY: fcntl(F_GETFD) reads the descriptor's flags.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert!(flags >= 0);
        assert!(
            flags & libc::FD_CLOEXEC != 0,
            "the accepted connection (fd {fd}) is not close-on-exec"
        );
        let mut nodelay: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `nodelay`, a live c_int.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&mut nodelay as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        assert_ne!(
            nodelay, 0,
            "the accepted connection (fd {fd}) is not TCP_NODELAY"
        );
    }
}
both_backends!(accepted_connections_are_close_on_exec, accepted_cloexec);

// ---------------------------------------------------------------------------------------
// Slowloris
// ---------------------------------------------------------------------------------------

fn slowloris(backend: Backend) {
    let _one = one_at_a_time();
    const SLOW: usize = 2000;
    let limit = raise_nofile_limit();
    assert!(
        limit > SLOW as u64 + 200,
        "the open-files limit ({limit}) is too low for {SLOW} connections"
    );
    let s = Server::start(backend, &["--urls", "http://127.0.0.1:0"]);
    let addr = s.tcp_addr(0);
    let pid = s.pid();
    let rss_before = rss_kib(pid);
    // Each connection sends a partial head, then one more header byte every ~0.5 s from
    // a single driver thread (non-blocking sockets).
    let mut slow = Vec::with_capacity(SLOW);
    for i in 0..SLOW {
        let mut c = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("slow connection {i}: {e}"));
        c.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            .unwrap();
        c.set_nonblocking(true).unwrap();
        slow.push(c);
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let driver_stop = stop.clone();
    let driver = std::thread::spawn(move || {
        let mut rounds = 0;
        while !driver_stop.load(Ordering::Relaxed) {
            for c in slow.iter_mut() {
                match c.write(b"a") {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => {}
                }
            }
            rounds += 1;
            std::thread::sleep(Duration::from_millis(500));
        }
        (slow, rounds)
    });

    // A normal client, on new connections and on one kept alive, every 250 ms for 5 s.
    let mut kept = Client::tcp(addr);
    let mut worst = Duration::ZERO;
    let started = Instant::now();
    let mut probes = 0;
    while started.elapsed() < Duration::from_secs(5) {
        let t0 = Instant::now();
        let mut c = Client::tcp(addr);
        c.set_read_timeout(Duration::from_secs(2));
        assert_eq!(c.get("/plaintext").text(), "Hello, World!");
        assert_eq!(kept.get("/plaintext").text(), "Hello, World!");
        let took = t0.elapsed();
        worst = worst.max(took);
        assert!(
            took < Duration::from_secs(1),
            "a normal client waited {took:?} behind {SLOW} slow ones"
        );
        probes += 1;
        std::thread::sleep(Duration::from_millis(250));
    }
    let fds = fd_count(pid);
    let rss = rss_kib(pid);
    stop.store(true, Ordering::Relaxed);
    let (slow, rounds) = driver.join().unwrap();
    // The slow connections are all still open (the request-headers timeout is 30 s).
    let open = slow
        .iter()
        .filter(|c| {
            let mut r: &TcpStream = c;
            matches!(r.read(&mut [0u8; 64]), Err(e) if e.kind() == ErrorKind::WouldBlock)
        })
        .count();
    eprintln!(
        "slowloris ({backend:?}): {SLOW} connections, {rounds} trickle rounds, {open} still open; \
         {probes} normal requests, slowest {worst:?}; server: {fds} descriptors, \
         RSS {rss_before} -> {rss} KiB ({} MiB)",
        rss >> 10
    );
    assert!(open >= SLOW * 99 / 100, "only {open} slow connections open");
    assert!(fds >= SLOW, "the server holds {fds} descriptors");
    assert!(rss < 200 * 1024, "server RSS {rss} KiB");
}
both_backends!(slowloris_does_not_stop_normal_clients, slowloris);

// ---------------------------------------------------------------------------------------
// Random bytes
// ---------------------------------------------------------------------------------------

/// xorshift64*: small, seeded, good enough to make noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick(&mut self, from: &[u8]) -> u8 {
        from[self.below(from.len())]
    }
}

/// The bytes connection `i` sends: pure noise, noise with line structure, and noise
/// after valid heads (headers, chunked bodies), or a valid request with bytes flipped.
fn noise(seed: u64, i: usize) -> Vec<u8> {
    let mut rng = Rng(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let len = 1 + rng.below(2048);
    let text = b"GETPOSTHEADabcxyz/?%&=:;, \t\r\n\r\n0123456789-_.*\"\\";
    let chunky = b"0123456789abcdefABCDEF;= \t\"\r\n\r\n\r\nxyz";
    let mut out = Vec::with_capacity(len + 100);
    match i % 6 {
        0 => out.extend((0..len).map(|_| rng.next() as u8)),
        1 => out.extend((0..len).map(|_| rng.pick(text))),
        2 => {
            out.extend_from_slice(b"GET /request HTTP/1.1\r\n");
            out.extend((0..len).map(|_| rng.pick(text)));
        }
        3 => {
            out.extend_from_slice(
                b"POST /request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
            out.extend((0..len).map(|_| rng.pick(chunky)));
        }
        4 => {
            out.extend_from_slice(
                b"POST /echo/stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
            out.extend((0..len).map(|_| rng.pick(chunky)));
        }
        _ => {
            out.extend_from_slice(
                b"POST /request?a=b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nX-Y: z\r\n\r\nhello",
            );
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(out.len());
                out[at] = rng.next() as u8;
            }
        }
    }
    out
}

fn random_bytes(backend: Backend) {
    let _one = one_at_a_time();
    let seed: u64 = std::env::var("PEREGRINE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x005e_ed0f_9e7e_6121);
    let mut s = Server::start(
        backend,
        &[
            "--urls",
            "http://127.0.0.1:0",
            "--threads",
            "2",
            "--metrics-urls",
            "http://127.0.0.1:0",
        ],
    );
    let addr = s.tcp_addr(0);
    let metrics = metrics_addr(&s);
    let t0 = Instant::now();
    storm(10_000, 64, move |i| {
        let bytes = noise(seed, i);
        let Ok(mut c) = TcpStream::connect_timeout(&addr, IO_TIMEOUT) else {
            panic!("connection {i} (seed {seed}): connect failed: the server is gone?");
        };
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        // The server may answer and close before all is written: errors are fine.
        let _ = c.write_all(&bytes);
        if i % 4 == 0 {
            // Let the server finish with it: half-close, read what it says.
            let _ = c.shutdown(Shutdown::Write);
            let _ = c.read_to_end(&mut Vec::new());
        }
    });
    let took = t0.elapsed();
    assert!(!s.has_exited(), "the server died (seed {seed})");
    // Every worker still answers: new connections until both have served some.
    let base: Vec<u64> = (0..2)
        .map(|w| Metrics::scrape(metrics).worker("peregrine_requests_total", w))
        .collect();
    wait_until(
        Duration::from_secs(20),
        "both workers to answer /plaintext",
        || {
            for _ in 0..8 {
                let mut c = Client::tcp(addr);
                for _ in 0..2 {
                    assert_eq!(c.get("/plaintext").text(), "Hello, World!");
                }
            }
            let m = Metrics::scrape(metrics);
            (0..2)
                .all(|w| m.worker("peregrine_requests_total", w) > base[w] + 1)
                .then_some(())
        },
        || format!("{:?}", Metrics::scrape(metrics).series),
    );
    let m = Metrics::scrape(metrics);
    let panics = m.sum("peregrine_handler_panics_total", &[]);
    let errors = m.sum("peregrine_error_responses_total", &[]);
    eprintln!(
        "random bytes ({backend:?}, seed {seed}): 10000 connections in {took:?}; \
         {errors} error answers, {panics} panics"
    );
    assert_eq!(panics, 0, "a connection task panicked (seed {seed})");
    assert!(
        !s.stderr().contains("panicked"),
        "seed {seed}:\n{}",
        s.stderr()
    );
}
both_backends!(random_bytes_never_crash_a_worker, random_bytes);
