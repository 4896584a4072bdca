//! Real nginx in front of the binary with exactly `docs/deploy/nginx.conf` (the unix
//! socket path and the listening port substituted), each case on both backends:
//!
//! - GET, a 1 MB POST to `/echo` (read whole before the answer: nginx forwards no more
//!   of a body once the answer starts) and a chunked upload, byte-exact;
//! - a WebSocket through it (Python `websockets`);
//! - forwarded headers (`--forwarded-headers`): the handler sees the client nginx saw,
//!   not an address the client wrote into `X-Forwarded-For` itself; the original peer
//!   (the unix socket) is kept as `X-Original-For`;
//! - nginx reuses its upstream connections: 40 client connections to nginx become a
//!   handful of connections to Peregrine (its metrics count them).
//!
//! Without nginx (or curl), the cases skip, saying so.

#[macro_use]
mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::mixed::{payload, python_has, ws_case};
use common::nginx::Nginx;
use common::probe::{metrics_addr, wait_until, Metrics};
use common::*;

const SITE: &str = include_str!("../../../docs/deploy/nginx.conf");

/// Peregrine on a unix socket, and nginx in front with the deploy file.
fn deployed(backend: Backend, dir: &TempDir) -> Option<(Server, Nginx)> {
    let sock = dir.join("peregrine.sock");
    let url = format!("http://unix:{}", sock.display());
    let s = Server::start(
        backend,
        &[
            "--urls",
            &url,
            "--forwarded-headers",
            "--metrics-urls",
            "http://127.0.0.1:0",
        ],
    );
    let sock = sock.display().to_string();
    let nginx = Nginx::run(|port| {
        let site = SITE
            .replace("/run/peregrine/peregrine.sock", &sock)
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
        assert!(site.contains(&sock) && site.contains("listen 127.0.0.1:"));
        site
    })?;
    Some((s, nginx))
}

fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "30"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn through_nginx(backend: Backend) {
    let dir = TempDir::new("deploy-nginx");
    let Some((s, nginx)) = deployed(backend, &dir) else {
        return;
    };
    let base = format!("http://127.0.0.1:{}", nginx.port);

    assert_eq!(curl(&[&format!("{base}/plaintext")]), b"Hello, World!");

    let (file, bytes) = payload(&dir, 1_000_000);
    let file = file.display().to_string();
    let echoed = curl(&[
        "--data-binary",
        &format!("@{file}"),
        &format!("{base}/echo"),
    ]);
    assert!(
        echoed == bytes,
        "1 MB echo differs ({} bytes)",
        echoed.len()
    );
    let echoed = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &format!("@{file}"),
        &format!("{base}/echo"),
    ]);
    assert!(
        echoed == bytes,
        "chunked upload differs ({} bytes)",
        echoed.len()
    );

    // The client's own X-Forwarded-For is not believed: nginx appends the address it
    // saw, and the limit (1) takes only that one.
    let j: serde_json::Value = serde_json::from_slice(&curl(&[
        "-H",
        "X-Forwarded-For: 6.6.6.6",
        &format!("{base}/request"),
    ]))
    .expect("JSON");
    assert_eq!(j["remote_addr"], "127.0.0.1:0", "{j}");
    assert_eq!(j["scheme"], "http", "{j}");
    // nginx's `$host` is the name without the port.
    assert_eq!(j["host"], "127.0.0.1", "{j}");
    let headers = j["headers"].as_array().expect("headers");
    let has = |name: &str, value: &str| {
        headers
            .iter()
            .any(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)) && h[1] == value)
    };
    assert!(has("x-original-for", "unix"), "{j}");
    assert!(
        has("x-forwarded-for", "6.6.6.6"),
        "what was not believed stays: {j}"
    );

    if python_has("websockets.sync.client") {
        let j = ws_case(
            "echo",
            &format!("ws://127.0.0.1:{}/ws", nginx.port),
            &["on"],
        );
        assert_eq!(j["binary_same"], true, "{j}");
        assert_eq!(j["close_code"], 1000, "{j}");
    }

    // Upstream keepalive: many client connections, few upstream ones.
    let m = metrics_addr(&s);
    let accepted = || Metrics::scrape(m).sum("peregrine_connections_accepted_total", &[]);
    let before = wait_until(
        Duration::from_secs(5),
        "the metrics to count the connections so far",
        || Some(accepted()),
        String::new,
    );
    for _ in 0..40 {
        assert_eq!(curl(&[&format!("{base}/plaintext")]), b"Hello, World!");
    }
    // Published once a second: read after the counters caught up with the requests.
    let requests = || Metrics::scrape(m).sum("peregrine_requests_total", &[]);
    wait_until(
        Duration::from_secs(5),
        "the 40 requests to be counted",
        || (requests() >= 45).then_some(()),
        || format!("{:?}", Metrics::scrape(m).series),
    );
    let opened = accepted() - before;
    assert!(
        opened <= 4,
        "nginx opened {opened} upstream connections for 40 requests"
    );
}
both_backends!(nginx_with_the_deploy_file, through_nginx);
