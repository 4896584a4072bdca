//! Binding: every kind of URL prefix the `--urls` option accepts (IP literals with port 0,
//! `localhost`, `*`, `+`, host names, unix sockets), the exact `Now listening on:` lines,
//! and every refusal (bad URLs, `https://` without TLS, ports in use, unix socket paths
//! that are live or not sockets). Each case runs on both backends.

#[macro_use]
mod common;

use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::sync::Mutex;

use common::*;

/// Serialises the tests that need the fixed port 80.
static PORT_80: Mutex<()> = Mutex::new(());

/// `GET /plaintext` through `client` answers `Hello, World!`.
fn assert_serves(mut client: Client) {
    let r = client.get("/plaintext");
    assert_eq!(r.status, 200, "{}", r.raw_head);
    assert_eq!(r.text(), "Hello, World!");
}

/// The stdout lines are exactly one `Now listening on:` line per expected URL, in order,
/// then the start line.
fn assert_stdout(server: &Server, urls: &[String]) {
    let mut expected: Vec<String> = urls.iter().map(|u| format!("{LISTENING}{u}")).collect();
    expected.push(STARTED.to_string());
    assert_eq!(server.stdout, expected);
}

fn ipv4_port_zero(backend: Backend) {
    let server = Server::start(backend, &["--urls", "http://127.0.0.1:0"]);
    assert_eq!(server.urls.len(), 1);
    let addr = server.tcp_addr(0);
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0, "port 0 must be reported as the real port");
    assert_stdout(&server, &[format!("http://127.0.0.1:{}", addr.port())]);
    assert_serves(Client::tcp(addr));
}
both_backends!(ipv4_port_zero_reports_the_real_port, ipv4_port_zero);

fn ipv6_port_zero(backend: Backend) {
    if !ipv6_available() {
        return skip("no IPv6 loopback");
    }
    let server = Server::start(backend, &["--urls", "http://[::1]:0"]);
    let addr = server.tcp_addr(0);
    assert!(addr.is_ipv6());
    assert_ne!(addr.port(), 0);
    assert_stdout(&server, &[format!("http://[::1]:{}", addr.port())]);
    assert_serves(Client::tcp(addr));
    // [::1] is IPv6 only: nothing answers on 127.0.0.1 at that port.
    let v4: SocketAddr = format!("127.0.0.1:{}", addr.port()).parse().unwrap();
    assert!(
        std::net::TcpStream::connect_timeout(&v4, IO_TIMEOUT).is_err(),
        "[::1] must not accept IPv4 connections"
    );
}
both_backends!(ipv6_port_zero_reports_the_real_port, ipv6_port_zero);

fn unix_socket(backend: Backend) {
    let dir = TempDir::new("unix");
    let path = dir.join("app.sock");
    let url = format!("http://unix:{}", path.display());
    let server = Server::start(backend, &["--urls", &url]);
    assert_stdout(&server, std::slice::from_ref(&url));
    assert_eq!(server.unix_path(0), path);
    let meta = std::fs::symlink_metadata(&path).expect("the socket file exists");
    assert!(meta.file_type().is_socket());
    assert_serves(Client::unix(&path));

    let mut c = Client::unix(&path);
    let r = c.get("/request");
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["local_addr"], format!("unix:{}", path.display()));
    assert_eq!(j["scheme"], "http");
}
both_backends!(unix_socket_is_served, unix_socket);

fn several_addresses(backend: Backend) {
    let dir = TempDir::new("multi");
    let path = dir.join("m.sock");
    let unix = format!("http://unix:{}", path.display());
    let v6 = ipv6_available();
    let mut list = vec!["http://127.0.0.1:0".to_string()];
    if v6 {
        list.push("http://[::1]:0".into());
    }
    list.push(unix.clone());
    let server = Server::start(backend, &["--urls", &list.join(";")]);
    assert_eq!(server.urls.len(), list.len(), "{:?}", server.stdout);
    let mut expected = vec![format!("http://127.0.0.1:{}", server.port(0))];
    if v6 {
        expected.push(format!("http://[::1]:{}", server.port(1)));
    }
    expected.push(unix);
    assert_stdout(&server, &expected);
    for i in 0..server.urls.len() {
        assert_serves(server.connect(i));
    }
}
both_backends!(
    several_addresses_are_all_reported_and_served,
    several_addresses
);

fn localhost(backend: Backend) {
    let port = free_port();
    let url = format!("http://localhost:{port}");
    let server = Server::start(backend, &["--urls", &url]);
    assert_stdout(&server, std::slice::from_ref(&url));
    assert_serves(Client::tcp(format!("127.0.0.1:{port}").parse().unwrap()));
    if ipv6_available() {
        assert_serves(Client::tcp(format!("[::1]:{port}").parse().unwrap()));
    }
}
both_backends!(localhost_binds_both_loopbacks, localhost);

/// `*`, `+` and host names bind every address, reported as `[::]`.
fn any_address(backend: Backend, host: &str) -> Server {
    let port = free_port();
    let url = format!("http://{host}:{port}");
    let server = Server::start(backend, &["--urls", &url]);
    let shown = if ipv6_available() {
        format!("http://[::]:{port}")
    } else {
        format!("http://0.0.0.0:{port}")
    };
    assert_stdout(&server, &[shown]);
    assert_serves(Client::tcp(format!("127.0.0.1:{port}").parse().unwrap()));
    if ipv6_available() {
        assert_serves(Client::tcp(format!("[::1]:{port}").parse().unwrap()));
    }
    server
}

fn star(backend: Backend) {
    let server = any_address(backend, "*");
    assert!(!server.stderr().contains("Binding to all interfaces"));
}
both_backends!(star_binds_all_addresses, star);

fn plus(backend: Backend) {
    any_address(backend, "+");
}
both_backends!(plus_binds_all_addresses, plus);

fn host_name(backend: Backend) {
    let server = any_address(backend, "example.com");
    assert!(
        server.wait_stderr("Binding to all interfaces", IO_TIMEOUT),
        "no warning about the host name; stderr:\n{}",
        server.stderr()
    );
    let stderr = server.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("Binding to all interfaces"))
        .unwrap();
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("example.com"), "{line}");
}
both_backends!(host_name_binds_all_addresses_with_a_warning, host_name);

fn refused(backend: Backend, url: &str, needle: &str) {
    let out = run_to_exit(Some(backend), &["--urls", url]);
    let line = out.assert_error(needle);
    assert!(
        line.contains(url),
        "the error does not name {url:?}: {line}"
    );
}

fn localhost_port_zero(backend: Backend) {
    refused(
        backend,
        "http://localhost:0",
        "Dynamic port binding is not supported when binding to localhost",
    );
}
both_backends!(localhost_port_zero_is_refused, localhost_port_zero);

fn relative_unix_path(backend: Backend) {
    refused(
        backend,
        "http://unix:relative/app.sock",
        "unix socket path must be absolute",
    );
}
both_backends!(relative_unix_path_is_refused, relative_unix_path);

fn path_base(backend: Backend) {
    refused(
        backend,
        "http://127.0.0.1:80/app",
        "path base is not supported",
    );
    refused(
        backend,
        "http://unix:/tmp/x.sock:/api",
        "path base is not supported",
    );
}
both_backends!(path_base_is_refused, path_base);

fn unknown_scheme(backend: Backend) {
    refused(backend, "ftp://127.0.0.1:0", "Unrecognized scheme");
    refused(backend, "127.0.0.1:0", "Invalid url");
    // Entries are not trimmed (Kestrel): " http://..." has the scheme " http".
    let out = run_to_exit(
        Some(backend),
        &["--urls", "http://127.0.0.1:0; http://[::1]:0"],
    );
    out.assert_error("Unrecognized scheme");
}
both_backends!(unknown_scheme_is_refused, unknown_scheme);

fn bad_port(backend: Backend) {
    refused(backend, "http://127.0.0.1:abc", "Invalid port: 'abc'");
    refused(backend, "http://127.0.0.1:70000", "Invalid port: '70000'");
    refused(backend, "http://127.0.0.1:-1", "Invalid port");
    refused(backend, "http://localhost:", "Invalid port");
}
both_backends!(bad_port_is_refused, bad_port);

fn https(backend: Backend) {
    refused(backend, "https://127.0.0.1:0", "TLS is not configured");
    // Even next to a good address, and nothing is reported as listening.
    let out = run_to_exit(
        Some(backend),
        &["--urls", "http://127.0.0.1:0;https://127.0.0.1:0"],
    );
    out.assert_error("TLS is not configured");
}
both_backends!(https_is_refused_without_tls, https);

fn port_in_use(backend: Backend) {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap().port();
    let other = free_port();
    let urls = format!("http://127.0.0.1:{other};http://127.0.0.1:{taken}");
    let out = run_to_exit(Some(backend), &["--urls", &urls]);
    let line = out.assert_error("address already in use");
    assert!(line.contains(&format!("127.0.0.1:{taken}")), "{line}");
    // The address bound before the failure was released.
    TcpListener::bind(("127.0.0.1", other))
        .unwrap_or_else(|e| panic!("127.0.0.1:{other} was left bound: {e}"));
    // Our listener is untouched and still accepts.
    drop(std::net::TcpStream::connect(held.local_addr().unwrap()).unwrap());
}
both_backends!(port_in_use_fails_and_leaves_nothing_bound, port_in_use);

fn localhost_port_taken(backend: Backend) {
    // Taken on IPv4.
    let port = free_port();
    let held = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let out = run_to_exit(
        Some(backend),
        &["--urls", &format!("http://localhost:{port}")],
    );
    out.assert_error("address already in use");
    drop(held);
    if !ipv6_available() {
        return skip("no IPv6 loopback for the [::1] half");
    }
    // Taken on IPv6 only: the IPv4 half must not stay bound either.
    let port = free_port();
    let held = TcpListener::bind(("::1", port)).unwrap();
    let out = run_to_exit(
        Some(backend),
        &["--urls", &format!("http://localhost:{port}")],
    );
    out.assert_error("address already in use");
    TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("127.0.0.1:{port} was left bound: {e}"));
    drop(held);
}
both_backends!(
    localhost_fails_if_either_family_is_taken,
    localhost_port_taken
);

fn stale_unix_socket(backend: Backend) {
    let dir = TempDir::new("stale");
    let path = dir.join("stale.sock");
    // A listener that is gone but left its file behind.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let url = format!("http://unix:{}", path.display());
    let server = Server::start(backend, &["--urls", &url]);
    assert_stdout(&server, &[url]);
    assert_serves(Client::unix(&path));
    assert!(
        server.wait_stderr("stale", IO_TIMEOUT),
        "no note about the stale file; stderr:\n{}",
        server.stderr()
    );
}
both_backends!(stale_unix_socket_is_replaced, stale_unix_socket);

fn live_unix_socket(backend: Backend) {
    let dir = TempDir::new("live");
    let path = dir.join("live.sock");
    let live = UnixListener::bind(&path).unwrap();
    let url = format!("http://unix:{}", path.display());
    let out = run_to_exit(Some(backend), &["--urls", &url]);
    let line = out.assert_error(&path.display().to_string());
    assert!(line.contains("listening"), "{line}");
    // The other listener still owns its socket file.
    let _c = std::os::unix::net::UnixStream::connect(&path).expect("the live socket still works");
    let (_s, _) = live.accept().unwrap();
}
both_backends!(live_unix_socket_is_refused, live_unix_socket);

fn regular_file(backend: Backend) {
    let dir = TempDir::new("file");
    let path = dir.join("data.sock");
    std::fs::write(&path, b"precious data").unwrap();
    let url = format!("http://unix:{}", path.display());
    let out = run_to_exit(Some(backend), &["--urls", &url]);
    let line = out.assert_error(&path.display().to_string());
    assert!(line.contains("not a socket"), "{line}");
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_file());
    assert_eq!(std::fs::read(&path).unwrap(), b"precious data");
}
both_backends!(regular_file_at_the_socket_path_is_refused, regular_file);

fn unix_socket_mode(backend: Backend) {
    let dir = TempDir::new("mode");
    for (arg, mode) in [("0660", 0o660), ("600", 0o600), ("0o666", 0o666)] {
        let path = dir.join(&format!("m{arg}.sock"));
        let url = format!("http://unix:{}", path.display());
        let server = Server::start(backend, &["--urls", &url, "--unix-socket-mode", arg]);
        let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "--unix-socket-mode {arg}: mode is {got:o}");
        assert_serves(Client::unix(&path));
        drop(server);
    }
    let out = run_to_exit(
        Some(backend),
        &["--urls", "http://127.0.0.1:0", "--unix-socket-mode", "0999"],
    );
    out.assert_error("invalid unix socket mode");
}
both_backends!(unix_socket_mode_is_applied, unix_socket_mode);

fn default_port_80(backend: Backend) {
    let _serial = PORT_80.lock().unwrap_or_else(|p| p.into_inner());
    match TcpListener::bind("127.0.0.1:80") {
        Ok(probe) => drop(probe),
        Err(e) => return skip(&format!("cannot bind 127.0.0.1:80 here ({e})")),
    }
    let server = Server::start(backend, &["--urls", "http://127.0.0.1"]);
    assert_stdout(&server, &["http://127.0.0.1:80".to_string()]);
    assert_serves(Client::tcp("127.0.0.1:80".parse().unwrap()));
}
both_backends!(omitted_port_means_80, default_port_80);

fn port_sharing(backend: Backend) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    // Without --port-sharing a second server on the same port is refused...
    let first = Server::start(backend, &["--urls", &url]);
    run_to_exit(Some(backend), &["--urls", &url]).assert_error("address already in use");
    first.stop();
    // ...with it on both, both start and the port is served.
    let a = Server::start(backend, &["--urls", &url, "--port-sharing"]);
    let b = Server::start(backend, &["--urls", &url, "--port-sharing"]);
    assert_eq!(a.urls, b.urls);
    for _ in 0..4 {
        assert_serves(Client::tcp(a.tcp_addr(0)));
    }
    // One of them leaves; the other goes on serving.
    a.stop();
    assert_serves(Client::tcp(b.tcp_addr(0)));
}
both_backends!(port_sharing_lets_two_servers_share_a_port, port_sharing);
