//! Looking at a running server from outside, for the hardening and fault tests:
//!
//! - its open descriptors and resident memory (`/proc/PID/fd`, `VmRSS`);
//! - its Prometheus metrics (`--metrics-urls`): the address it logged, one scrape parsed
//!   into series, sums over workers;
//! - [`wait_until`]: bounded polling of a condition that has no event to wait on
//!   (metrics are published once a second, `/proc` changes silently);
//! - [`expect_error_answer`]: the exact shape of an answer the server gives itself
//!   (status line, `Content-Length: 0`, `Connection: close`, `Date`, [`Allow`], `Server`,
//!   no body, then the close);
//! - the test process's own descriptor limit, raised for tests that open thousands of
//!   sockets.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::{is_imf_fixdate, Client, Response, Server, IO_TIMEOUT};

/// Open descriptors of process `pid`.
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or_else(|e| panic!("cannot list /proc/{pid}/fd: {e}"))
}

/// What the open descriptors of process `pid` are, counted by kind (`socket: 5, pipe: 1,
/// anon_inode:[eventpoll]: 1, ...`).
pub fn fd_kinds(pid: i32) -> String {
    let mut kinds = BTreeMap::<String, usize>::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in dir.flatten() {
            let target = std::fs::read_link(e.path())
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            let kind = match target.split_once(':') {
                Some((k, _)) if k == "socket" || k == "pipe" => k.to_string(),
                _ => target,
            };
            *kinds.entry(kind).or_default() += 1;
        }
    }
    kinds
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resident memory of process `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// Raise this process's soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit
/// now in force.
pub fn raise_nofile_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit read and write a plain struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
        lim.rlim_cur as u64
    }
}

/// Poll `check` every 50 ms until it returns `Some`, at most `timeout`; panics saying
/// `what` (and the last state `describe` gives) if it never does.
pub fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
    describe: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}; {}",
                describe()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Set `SO_LINGER {on, 0}` on a socket: closing it sends a reset instead of a FIN.
pub fn set_linger_zero(s: &impl AsRawFd) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a pointer to a live struct of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER)");
}

/// Set a socket's receive (`SO_RCVBUF`) buffer size (this also turns off the kernel's
/// autotuning for it).
pub fn set_rcvbuf(s: &impl AsRawFd, bytes: i32) {
    set_int_opt(s, libc::SO_RCVBUF, bytes);
}

/// Set a socket's send (`SO_SNDBUF`) buffer size.
pub fn set_sndbuf(s: &impl AsRawFd, bytes: i32) {
    set_int_opt(s, libc::SO_SNDBUF, bytes);
}

fn set_int_opt(s: &impl AsRawFd, opt: libc::c_int, v: i32) {
    // SAFETY: setsockopt with a pointer to a live int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            &v as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt({opt})");
}

/// The reason phrase the server sends with a status it answers itself.
pub fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        505 => "HTTP Version Not Supported",
        other => panic!("no reason phrase known for {other}"),
    }
}

/// Read an answer the server gave itself and check it byte for byte: the status line,
/// `Content-Length: 0`, `Connection: close`, an IMF-fixdate `Date`, `Allow` when given,
/// `Server: peregrine`, the blank line; then no body and the close. `what` names the
/// request in failure messages.
pub fn expect_error_answer(c: &mut Client, status: u16, allow: Option<&str>, what: &str) {
    let r = c.read_head();
    check_error_head(&r, status, allow, what);
    let rest = c.read_to_eof();
    assert!(
        rest.is_empty(),
        "{what}: bytes after the {status} answer: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

/// The head part of [`expect_error_answer`].
pub fn check_error_head(r: &Response, status: u16, allow: Option<&str>, what: &str) {
    let date = r
        .header("date")
        .unwrap_or_else(|| panic!("{what}: no Date in {:?}", r.raw_head));
    assert!(is_imf_fixdate(date), "{what}: bad Date {date:?}");
    let mut expected = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: 0\r\nConnection: close\r\nDate: {date}\r\n",
        reason(status)
    );
    if let Some(a) = allow {
        expected.push_str(&format!("Allow: {a}\r\n"));
    }
    expected.push_str("Server: peregrine\r\n\r\n");
    assert_eq!(r.raw_head, expected, "{what}: unexpected answer");
}

/// The metrics address a server logged (`Metrics on http://ADDR/metrics`, at info level).
pub fn metrics_addr(s: &Server) -> SocketAddr {
    assert!(
        s.wait_stderr("Metrics on http://", IO_TIMEOUT),
        "the server did not log its metrics address; stderr:\n{}",
        s.stderr()
    );
    let text = s.stderr();
    let line = text
        .lines()
        .find(|l| l.contains("Metrics on http://"))
        .unwrap();
    let addr = line
        .split("Metrics on http://")
        .nth(1)
        .and_then(|r| r.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("unexpected metrics line {line:?}"));
    addr.parse()
        .unwrap_or_else(|e| panic!("bad metrics address {addr:?}: {e}"))
}

/// One scrape of `/metrics`: every sample line, keyed by its series (`name{labels}`).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Series → value.
    pub series: BTreeMap<String, u64>,
}

impl Metrics {
    /// Scrape `http://addr/metrics`.
    pub fn scrape(addr: SocketAddr) -> Metrics {
        let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to the metrics endpoint {addr}: {e}"));
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\n\r\n")
            .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)
            .unwrap_or_else(|e| panic!("reading /metrics: {e}"));
        let text = String::from_utf8(raw).expect("metrics are UTF-8");
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no head in the metrics answer: {text:?}"));
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        let series = body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap();
                (
                    k.to_string(),
                    v.parse().unwrap_or_else(|_| panic!("bad sample {l:?}")),
                )
            })
            .collect();
        Metrics { series }
    }

    /// Sum of metric `name` over every series that carries all of `labels`
    /// (`("reason", "data_rate")`); the worker label is summed over unless given.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.series
            .iter()
            .filter(|(k, _)| {
                let (n, rest) = k.split_once('{').unwrap_or((k, ""));
                n == name
                    && labels
                        .iter()
                        .all(|(l, v)| rest.contains(&format!("{l}=\"{v}\"")))
            })
            .map(|(_, v)| *v)
            .sum()
    }

    /// The value of metric `name` for worker `w`.
    pub fn worker(&self, name: &str, w: usize) -> u64 {
        self.sum(name, &[("worker", &w.to_string())])
    }
}
