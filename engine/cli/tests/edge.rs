//! Behind a proxy, through the binary, each case on both backends: forwarded headers
//! (`--forwarded-headers`) believed from a trusted peer and not from an untrusted one,
//! RFC 7239 `Forwarded`, `--forward-limit`, the originals kept as `X-Original-*`, over
//! HTTP/1.1 and HTTP/2; and `--allowed-hosts` (400 for another host, wildcards, ports).

#[macro_use]
mod common;

use std::process::{Command, Stdio};

use common::*;

/// `GET /request` with `headers` (curl), over HTTP/1.1 or h2c: the JSON, or the status.
fn request(port: u16, headers: &[&str], h2: bool) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"]);
    if h2 {
        cmd.arg("--http2-prior-knowledge");
    }
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd
        .arg(format!("http://127.0.0.1:{port}/request"))
        .stdin(Stdio::null())
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    if code != "200" {
        return Err(code.to_string());
    }
    serde_json::from_str(body).map_err(|e| format!("not JSON ({e}): {body}"))
}

fn header<'a>(j: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    j["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|h| h[1].as_str())
}

fn forwarded(backend: Backend) {
    let s = Server::start(
        backend,
        &[
            "--urls",
            "http://127.0.0.1:0",
            "--forwarded-headers",
            "--forward-limit",
            "2",
        ],
    );
    let port = s.port(0);
    for h2 in [false, true] {
        let j = request(
            port,
            &[
                "X-Forwarded-For: 198.51.100.1, 127.0.0.9, 203.0.113.5",
                "X-Forwarded-Proto: https",
                "X-Forwarded-Host: shop.example",
            ],
            h2,
        )
        .expect("200");
        // Limit 2: 203.0.113.5 (from our trusted peer), then 127.0.0.9 is not reached
        // because 203.0.113.5 is no known proxy.
        assert_eq!(j["remote_addr"], "203.0.113.5:0", "h2 {h2}: {j}");
        assert_eq!(j["scheme"], "https", "h2 {h2}: {j}");
        assert_eq!(j["host"], "shop.example", "h2 {h2}: {j}");
        assert!(
            header(&j, "x-original-for").is_some_and(|v| v.starts_with("127.0.0.1:")),
            "{j}"
        );
        assert_eq!(header(&j, "x-original-proto"), Some("http"), "{j}");
        assert_eq!(
            header(&j, "x-forwarded-for"),
            Some("198.51.100.1, 127.0.0.9"),
            "{j}"
        );
        // RFC 7239.
        let j = request(
            port,
            &[r#"Forwarded: for="[2001:db8::7]:4711";proto=https;host=api.example"#],
            h2,
        )
        .expect("200");
        assert_eq!(j["remote_addr"], "[2001:db8::7]:4711", "{j}");
        assert_eq!(j["host"], "api.example", "{j}");
    }
    drop(s);
    // A peer that is no known proxy is not believed.
    let s = Server::start(
        backend,
        &[
            "--urls",
            "http://127.0.0.1:0",
            "--forwarded-headers",
            "--known-proxies",
            "10.0.0.0/8",
        ],
    );
    let j = request(s.port(0), &["X-Forwarded-For: 203.0.113.5"], false).expect("200");
    assert!(
        j["remote_addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{j}"
    );
    assert_eq!(header(&j, "x-forwarded-for"), Some("203.0.113.5"), "{j}");
    assert_eq!(header(&j, "x-original-for"), None, "{j}");
}
both_backends!(forwarded_headers_from_known_proxies, forwarded);

fn allowed_hosts(backend: Backend) {
    let s = Server::start(
        backend,
        &[
            "--urls",
            "http://127.0.0.1:0",
            "--allowed-hosts",
            "a.example,*.b.example",
        ],
    );
    let port = s.port(0);
    for h2 in [false, true] {
        for (host, ok) in [
            ("a.example", true),
            ("a.example:8080", true),
            ("x.b.example", true),
            ("b.example", false),
            ("evil.example", false),
        ] {
            let got = request(port, &[&format!("Host: {host}")], h2);
            assert_eq!(got.is_ok(), ok, "h2 {h2}, Host {host}: {got:?}");
            if !ok {
                assert_eq!(got.err().as_deref(), Some("400"), "h2 {h2}, Host {host}");
            }
        }
    }
}
both_backends!(allowed_hosts_refuse_other_hosts, allowed_hosts);
