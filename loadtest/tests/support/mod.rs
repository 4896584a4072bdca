//! Purpose-built test servers (std threads, one per connection), a runner for the
//! `peregrine-load` binary with a bounded wait, the `peregrine` server binary when it has
//! been built, and certificates made with the `openssl` command line for the https tests.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How a test server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// 200 `Hello, World!` with Content-Length, keep-alive.
    KeepAlive,
    /// 200 with `Connection: close`, then close.
    CloseEach,
    /// 500 with a body, keep-alive.
    Error500,
    /// Read requests, never answer.
    Stall,
    /// Answer every request with bytes that are not HTTP.
    Garbage,
    /// Read a request, then close without answering.
    CloseWithoutAnswer,
    /// Answer the first request of each connection, then stall.
    AnswerOnceThenStall,
    /// Cycle through different framings and statuses (per connection):
    /// 200 with a body, 404 chunked, 204, 200 chunked with trailers, 301 empty.
    Mixed,
    /// 200 `Hello, World!`, keep-alive, each response written in two parts split inside
    /// its head, a moment apart: the client reads the head in two pieces.
    SplitHead,
}

/// Counters a server keeps.
#[derive(Debug, Default)]
pub struct Counters {
    /// Complete requests read.
    pub requests: AtomicU64,
    /// Responses written.
    pub responses: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Most requests found buffered at once (the pipelining depth seen).
    pub max_depth: AtomicUsize,
    /// Request body bytes received.
    pub body_bytes: AtomicU64,
}

/// A running test server.
pub struct Server {
    /// `http://127.0.0.1:port` or `http://unix:/path`.
    pub base: String,
    /// Its counters.
    pub counters: Arc<Counters>,
    _dir: Option<TempDir>,
}

impl Server {
    /// A TCP server on a free loopback port.
    pub fn tcp(behavior: Behavior) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_nodelay(true);
                c.connections.fetch_add(1, Ordering::Relaxed);
                let c = c.clone();
                std::thread::spawn(move || serve(stream, behavior, &c));
            }
        });
        Server {
            base: format!("http://127.0.0.1:{port}"),
            counters,
            _dir: None,
        }
    }

    /// A unix-socket server.
    pub fn unix(behavior: Behavior) -> Server {
        let dir = TempDir::new();
        let path = dir.0.join("s.sock");
        let listener = UnixListener::bind(&path).expect("bind unix");
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                c.connections.fetch_add(1, Ordering::Relaxed);
                let c = c.clone();
                std::thread::spawn(move || serve(stream, behavior, &c));
            }
        });
        Server {
            base: format!("http://unix:{}:", path.display()),
            counters,
            _dir: Some(dir),
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Requests the server read.
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::Relaxed)
    }
}

trait Conn: Read + Write + Send + 'static {}
impl Conn for TcpStream {}
impl Conn for UnixStream {}

/// Find one complete request at the start of `buf`: (total length, is HEAD, body length).
fn request_len(buf: &[u8]) -> Option<(usize, bool, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut body = 0;
    for line in head.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                body = value.trim().parse().ok()?;
            }
        }
    }
    if buf.len() < end + body {
        return None;
    }
    Some((end + body, head.starts_with("HEAD "), body))
}

pub const HELLO: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
const HELLO_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n";

fn mixed(i: u64) -> &'static [u8] {
    match i % 5 {
        0 => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        1 => b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n",
        2 => b"HTTP/1.1 204 No Content\r\n\r\n",
        3 => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
        _ => b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 301 Moved\r\nLocation: /\r\nContent-Length: 0\r\n\r\n",
    }
}

fn serve<S: Conn>(mut s: S, behavior: Behavior, c: &Counters) {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    let mut nth: u64 = 0;
    loop {
        let n = match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut out = Vec::new();
        let mut depth = 0;
        let mut close = false;
        while let Some((len, head, body)) = request_len(&buf) {
            buf.drain(..len);
            depth += 1;
            c.requests.fetch_add(1, Ordering::Relaxed);
            c.body_bytes.fetch_add(body as u64, Ordering::Relaxed);
            match behavior {
                Behavior::KeepAlive => out.extend_from_slice(if head { HELLO_HEAD } else { HELLO }),
                Behavior::CloseEach => {
                    out.extend_from_slice(
                        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 13\r\n\r\nHello, World!",
                    );
                    close = true;
                    break;
                }
                Behavior::Error500 => out.extend_from_slice(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops",
                ),
                Behavior::Stall => {}
                Behavior::AnswerOnceThenStall => {
                    if nth == 0 {
                        out.extend_from_slice(HELLO);
                    }
                }
                Behavior::Garbage => out.extend_from_slice(b"this is not http at all\r\n\r\n"),
                Behavior::CloseWithoutAnswer => return,
                Behavior::Mixed => out.extend_from_slice(mixed(nth)),
                Behavior::SplitHead => {
                    // Not a wait for anything: a gap between the two writes, so that they
                    // arrive as two reads (a read taking both is fine too).
                    let (a, b) = HELLO.split_at(20);
                    if s.write_all(a).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                    out.extend_from_slice(b);
                }
            }
            nth += 1;
        }
        c.max_depth.fetch_max(depth, Ordering::Relaxed);
        if !out.is_empty() {
            if s.write_all(&out).is_err() {
                return;
            }
            let answered = if behavior == Behavior::CloseEach {
                1
            } else {
                depth as u64
            };
            c.responses.fetch_add(answered, Ordering::Relaxed);
        }
        if close {
            return;
        }
    }
}

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory under the system temp dir.
    pub fn new() -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "peregrine-load-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    /// A path inside it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The outcome of one `peregrine-load` run.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None` if killed).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The `--json` report, when the run wrote one.
    pub json: Option<serde_json::Value>,
}

impl Run {
    /// A figure from the JSON report, by JSON pointer (e.g. `/errors/timeout`).
    pub fn num(&self, pointer: &str) -> u64 {
        let json = self
            .json
            .as_ref()
            .unwrap_or_else(|| panic!("no JSON report: {self:?}"));
        json.pointer(pointer)
            .and_then(|v| v.as_u64())
            .unwrap_or_else(|| panic!("no number at {pointer}: {json}"))
    }
}

/// Wait for `child`; a watchdog kills it (by its pid) if it outlives `limit`. `None`
/// when it had to be killed.
pub fn wait_bounded(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            let _ = Command::new("kill").args(["-9", &pid]).status();
            return true;
        }
        false
    });
    let status = child.wait().expect("wait");
    drop(tx);
    let killed = watchdog.join().unwrap_or(false);
    (!killed).then_some(status)
}

/// Run `peregrine-load` with `args` (plus `--json`), killing it after `limit`.
pub fn load(args: &[&str], limit: Duration) -> Run {
    let dir = TempDir::new();
    let json = dir.file("report.json");
    let out = dir.file("stdout");
    let err = dir.file("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_peregrine-load"))
        .args(args)
        .arg("--json")
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("spawn peregrine-load");
    let status = wait_bounded(&mut child, limit);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let run = Run {
        code: status.and_then(|s| s.code()),
        stdout: read(&out),
        stderr: read(&err),
        json: std::fs::read_to_string(&json)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok()),
    };
    assert!(
        status.is_some(),
        "peregrine-load did not finish within {limit:?}: {run:?}"
    );
    run
}

/// Both backends where io_uring is available, epoll only otherwise.
pub fn backends() -> Vec<&'static str> {
    let mut v = vec!["epoll"];
    if io_uring_available() {
        v.push("io-uring");
    }
    v
}

fn io_uring_available() -> bool {
    let st = Command::new(env!("CARGO_BIN_EXE_peregrine-load"))
        .args([
            "--backend",
            "io-uring",
            "-c",
            "1",
            "http://unix:/nonexistent.sock:/",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run peregrine-load");
    !String::from_utf8_lossy(&st.stderr).contains("io_uring is not available")
}

/// The `peregrine` server binary, if it has been built in this target directory: the
/// most recently built of the release and debug ones (an older one may lack options).
pub fn peregrine_binary() -> Option<PathBuf> {
    let own = Path::new(env!("CARGO_BIN_EXE_peregrine-load"));
    let target = own.parent()?.parent()?;
    ["release", "debug"]
        .iter()
        .map(|profile| target.join(profile).join("peregrine"))
        .filter_map(|p| {
            let built = std::fs::metadata(&p).ok()?.modified().ok()?;
            p.is_file().then_some((built, p))
        })
        .max_by_key(|(built, _)| *built)
        .map(|(_, p)| p)
}

/// A running `peregrine` server, killed on drop.
pub struct Peregrine {
    /// `http://127.0.0.1:port` (what the server says it listens on).
    pub base: String,
    child: std::process::Child,
}

impl Peregrine {
    /// Start `bin` on a free loopback port; `None` if it does not say where it listens
    /// within ten seconds.
    pub fn start(bin: &Path) -> Option<Peregrine> {
        Peregrine::start_with(bin, &["--urls", "http://127.0.0.1:0"])
    }

    /// Start `bin` with `args` (which say where to listen: one address); `None` if it does
    /// not say where it listens within ten seconds.
    pub fn start_with(bin: &Path, args: &[&str]) -> Option<Peregrine> {
        use std::io::BufRead;
        let mut child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let stdout = child.stdout.take()?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(i) = line.find("Now listening on: ") {
                    let _ = tx.send(line[i + "Now listening on: ".len()..].trim().to_string());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(base) => Some(Peregrine { base, child }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }
}

impl Drop for Peregrine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the `openssl` command line runs.
pub fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `openssl` configuration: a CA, and a server certificate rustls's verifier (webpki)
/// accepts: v3, the names in subjectAltName, serverAuth.
const OPENSSL_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// Certificates for one test, in a temp dir removed on drop: a CA, a server certificate
/// for `localhost` and `127.0.0.1` signed by it (ECDSA P-256), and a second CA that signed
/// nothing the server has.
pub struct Certs {
    /// The CA that issued the server's certificate (PEM).
    pub ca: PathBuf,
    /// The server's certificate chain: its certificate, then the CA (PEM).
    pub cert: PathBuf,
    /// The server's key (PKCS#8 PEM).
    pub key: PathBuf,
    /// A CA that did not issue the server's certificate (PEM).
    pub other_ca: PathBuf,
    _dir: TempDir,
}

/// Run `openssl` with `args`, bounded; panics with its stderr if it fails.
fn openssl(args: &[&str]) {
    let dir = TempDir::new();
    let err = dir.file("stderr");
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("spawn openssl");
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "openssl {args:?} failed: {}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
}

impl Certs {
    /// Make the certificates; `None` when `openssl` is not installed (the caller skips).
    pub fn generate() -> Option<Certs> {
        if !openssl_available() {
            return None;
        }
        let dir = TempDir::new();
        let p = |name: &str| dir.file(name);
        let s = |path: &Path| path.to_str().expect("UTF-8 temp path").to_string();
        let config = p("openssl.cnf");
        std::fs::write(&config, OPENSSL_CONFIG).unwrap();
        let ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
        let ca_key = p("ca.key");
        let ca = p("ca.pem");
        let other_key = p("other-ca.key");
        let other_ca = p("other-ca.pem");
        for (key, cert, cn) in [
            (&ca_key, &ca, "test CA"),
            (&other_key, &other_ca, "other CA"),
        ] {
            openssl(&[&["genpkey"][..], &ec, &["-out", &s(key)]].concat());
            openssl(&[
                "req",
                "-config",
                &s(&config),
                "-x509",
                "-new",
                "-key",
                &s(key),
                "-subj",
                &format!("/CN=peregrine-load {cn}"),
                "-days",
                "2",
                "-extensions",
                "ca",
                "-out",
                &s(cert),
            ]);
        }
        let key = p("server.key");
        let csr = p("server.csr");
        let leaf = p("server-leaf.pem");
        openssl(&[&["genpkey"][..], &ec, &["-out", &s(&key)]].concat());
        openssl(&[
            "req",
            "-config",
            &s(&config),
            "-new",
            "-key",
            &s(&key),
            "-subj",
            "/CN=localhost",
            "-out",
            &s(&csr),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &s(&csr),
            "-CA",
            &s(&ca),
            "-CAkey",
            &s(&ca_key),
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            &s(&config),
            "-extensions",
            "server",
            "-out",
            &s(&leaf),
        ]);
        let cert = p("server.pem");
        let mut chain = std::fs::read(&leaf).unwrap();
        chain.extend(std::fs::read(&ca).unwrap());
        std::fs::write(&cert, chain).unwrap();
        Some(Certs {
            ca,
            cert,
            key,
            other_ca,
            _dir: dir,
        })
    }
}
