//! A restart that loses nothing, with `--port-sharing`: a second process joins the
//! port's `SO_REUSEPORT` group, the first gets SIGTERM and drains, while clients keep
//! sending requests over keep-alive connections and over a new connection per request.
//! The clients count every request; none may fail. (A keep-alive request that meets a
//! connection the server closed while it was idle is sent again on a new connection,
//! as every HTTP client does for a request that got no byte of answer.)
//!
//! Each case runs in a network namespace of its own (`unshare -n`, root), where
//! `net.ipv4.tcp_migrate_req=1` hands connections still queued on the stopping
//! process's sockets to the one that stays; without root it skips, saying so.
//!
//! Linux only: network namespaces and `net.ipv4.tcp_migrate_req` are Linux's.
#![cfg(target_os = "linux")]

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const INSIDE: &str = "PEREGRINE_TEST_IN_NETNS";

/// Run `name` again inside a new network namespace; `true` when this is that run.
fn inside_netns(name: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        assert!(up.is_ok_and(|s| s.success()), "ip link set lo up");
        std::fs::write("/proc/sys/net/ipv4/tcp_migrate_req", "1").expect("tcp_migrate_req");
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let probe = Command::new("unshare").args(["-n", "true"]).status();
    if !probe.is_ok_and(|s| s.success()) {
        skip("unshare -n is not permitted (needs root): restart test skipped");
        return false;
    }
    let out = Command::new("unshare")
        .arg("-n")
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(INSIDE, "1")
        .output()
        .expect("unshare");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "inside the namespace:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the inner test did not run:\n{text}"
    );
    for line in text.lines().filter(|l| l.contains("restart (")) {
        println!("{line}");
    }
    false
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    /// How the first failures went.
    why: std::sync::Mutex<Vec<String>>,
    /// The test's phase (0 one process, 1 the new one starting, 2 both, 3 the old one stopping, 4 after).
    phase: AtomicU64,
}

impl Tally {
    fn fail(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut w) = self.why.lock() {
            if w.len() < 5 {
                w.push(format!(
                    "phase {}: {why}",
                    self.phase.load(Ordering::Relaxed)
                ));
            }
        }
    }
}

const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
const LAST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/// Read one `/plaintext` answer; `Err(bytes read)` when it did not come whole.
fn answer(s: &mut TcpStream) -> Result<bool, usize> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            if got.len() >= end + 4 + 13 {
                let ok =
                    head.starts_with("http/1.1 200") && &got[end + 4..end + 17] == b"Hello, World!";
                if !ok {
                    return Err(got.len());
                }
                return Ok(head.contains("connection: close"));
            }
        }
        match s.read(&mut buf) {
            Ok(0) => return Err(got.len()),
            Err(e) => {
                if got.is_empty() && std::env::var_os("RESTART_DEBUG").is_some() {
                    eprintln!("read error: {e}");
                }
                return Err(got.len());
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).ok()?;
    s.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    Some(s)
}

/// Requests over one keep-alive connection at a time.
fn keep_alive_client(addr: SocketAddr, stop: Arc<AtomicBool>, t: Arc<Tally>) {
    let mut conn: Option<TcpStream> = None;
    while !stop.load(Ordering::Relaxed) {
        let reused = conn.is_some();
        let Some(mut s) = conn.take().or_else(|| connect(addr)) else {
            t.fail("keep-alive client: connect failed".into());
            continue;
        };
        let sent = s.write_all(REQUEST).is_ok();
        match (sent, answer(&mut s)) {
            (true, Ok(closing)) => {
                t.ok.fetch_add(1, Ordering::Relaxed);
                if !closing {
                    conn = Some(s);
                }
            }
            // Closed while idle before our request reached it: send it again on a new
            // connection.
            (_, Err(0)) if reused => {
                t.retried.fetch_add(1, Ordering::Relaxed);
            }
            (sent, got) => t.fail(format!(
                "keep-alive client (reused {reused}, sent {sent}): {got:?}"
            )),
        }
    }
}

/// A new connection per request.
fn fresh_client(addr: SocketAddr, stop: Arc<AtomicBool>, t: Arc<Tally>) {
    while !stop.load(Ordering::Relaxed) {
        let Some(mut s) = connect(addr) else {
            t.fail("fresh client: connect failed".into());
            continue;
        };
        let sent = s.write_all(LAST).is_ok();
        match answer(&mut s) {
            Ok(_) if sent => {
                t.ok.fetch_add(1, Ordering::Relaxed);
            }
            got => t.fail(format!("fresh client (sent {sent}): {got:?}")),
        }
    }
}

fn port_sharing_restart(backend: Backend) {
    let name = format!(
        "port_sharing_restart_loses_nothing::{}",
        backend.arg().replace('-', "_")
    );
    if !inside_netns(&name) {
        return;
    }
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let args = ["--urls", url.as_str(), "--port-sharing", "--threads", "2"];
    let old = Server::start(backend, &args);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut clients = Vec::new();
    for i in 0..4 {
        let (stop, t) = (stop.clone(), tally.clone());
        clients.push(std::thread::spawn(move || {
            if i % 2 == 0 {
                keep_alive_client(addr, stop, t)
            } else {
                fresh_client(addr, stop, t)
            }
        }));
    }
    let progress = |at_least: u64, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while tally.ok.load(Ordering::Relaxed) < at_least {
            assert!(Instant::now() < deadline, "no progress: {what}");
            std::thread::yield_now();
        }
    };
    progress(500, "before the restart");
    tally.phase.store(1, Ordering::Relaxed);
    let new = Server::start(backend, &args);
    tally.phase.store(2, Ordering::Relaxed);
    let served = tally.ok.load(Ordering::Relaxed);
    progress(served + 500, "with both processes");
    tally.phase.store(3, Ordering::Relaxed);
    old.stop();
    tally.phase.store(4, Ordering::Relaxed);
    let served = tally.ok.load(Ordering::Relaxed);
    progress(served + 1000, "after the old process left");
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client");
    }
    let (ok, failed, retried) = (
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        tally.retried.load(Ordering::Relaxed),
    );
    println!("restart ({backend:?}): {ok} requests answered, {failed} failed, {retried} sent again after an idle close");
    let why = tally.why.lock().map(|w| w.clone()).unwrap_or_default();
    assert_eq!(failed, 0, "{ok} answered, {failed} failed: {why:?}");
    drop(new);
}
both_backends!(port_sharing_restart_loses_nothing, port_sharing_restart);
