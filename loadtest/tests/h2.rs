//! End-to-end tests of `peregrine-load --h2` against a purpose-built HTTP/2 server
//! (h2's server side, `support/h2_server.rs`): h2c with prior knowledge and TLS with ALPN
//! `h2` (certificates made with the `openssl` command line; those tests skip, saying so,
//! without it), on both backends; a server that sends `GOAWAY` every 50 requests, one
//! that resets streams, one that leaves requests unanswered (`--timeout`), request
//! bodies, and servers that do not speak HTTP/2 at all.

#[path = "support/h2_server.rs"]
mod h2_server;
mod support;

use h2_server::{Behavior, H2Server, Tls};
use std::time::Duration;
use support::{backends, load, Certs, Run, TempDir};

const LIMIT: Duration = Duration::from_secs(60);

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// Every request answered 2xx, none failed, and the report says HTTP/2.
fn assert_clean(r: &Run, n: u64) {
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.num("/responses"), n, "{r:?}");
    assert_eq!(r.num("/requests"), n, "{r:?}");
    assert_eq!(r.num("/status/2xx"), n, "{r:?}");
    assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
    let json = r.json.as_ref().expect("JSON report");
    assert_eq!(json["setup"]["protocol"], "h2", "{json}");
    assert!(json["h2_failure"].is_null(), "{json}");
}

#[test]
fn h2c_prior_knowledge_on_both_backends() {
    let server = H2Server::start(Behavior::Hello, None);
    let url = server.url("/plaintext");
    let mut expected = 0;
    for backend in backends() {
        let r = load(
            &[
                "--h2",
                "-n",
                "3000",
                "-c",
                "4",
                "-m",
                "16",
                "-t",
                "2",
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_clean(&r, 3000);
        expected += 3000;
        assert_eq!(
            server.requests(),
            expected,
            "{backend}: each request sent once"
        );
        assert_eq!(
            r.num("/connections_opened"),
            4,
            "{backend}: one connection each"
        );
        assert_eq!(r.num("/setup/streams"), 16);
        assert!(r.num("/bytes_read") > 3000 * 13, "{r:?}");
        assert!(r.num("/bytes_written") > 0, "{r:?}");
        assert!(
            r.stdout.contains("4 connections, 16 streams each (HTTP/2)"),
            "{}",
            r.stdout
        );
        assert!(r.json.as_ref().unwrap()["tls"].is_null());
    }
}

#[test]
fn h2_over_tls_with_alpn_on_both_backends() {
    let Some(certs) = Certs::generate() else {
        eprintln!("skipped: the openssl command line is not installed");
        return;
    };
    let server = H2Server::start(
        Behavior::Hello,
        Some(Tls {
            cert: &certs.cert,
            key: &certs.key,
            alpn: &[b"h2", b"http/1.1"],
        }),
    );
    let url = server.url("/plaintext");
    for backend in backends() {
        let r = load(
            &[
                "--h2",
                "-n",
                "2000",
                "-c",
                "3",
                "-m",
                "10",
                "-t",
                "1",
                "--cacert",
                path(&certs.ca),
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_clean(&r, 2000);
        assert_eq!(r.num("/connections_opened"), 3, "{backend}");
        let json = r.json.as_ref().unwrap();
        assert_eq!(json["tls"]["alpn"], "h2", "{json}");
        assert_eq!(json["tls"]["verify"], "cacert");
        assert!(json["tls"]["handshake_failure"].is_null(), "{json}");
        assert!(r.stdout.contains("ALPN h2"), "{}", r.stdout);
    }
}

#[test]
fn goaway_requests_are_sent_again_on_a_new_connection() {
    let server = H2Server::start(Behavior::GoAwayAfter(50), None);
    let r = load(
        &[
            "--h2",
            "-n",
            "2000",
            "-c",
            "2",
            "-m",
            "8",
            "-t",
            "1",
            &server.url("/"),
        ],
        LIMIT,
    );
    assert_clean(&r, 2000);
    // 50 requests, plus those in flight or sent before the GOAWAY arrived, each.
    assert!(
        r.num("/connections_opened") > 2000 / 100,
        "a new connection every 50-odd requests: {r:?}"
    );
    assert_eq!(server.requests(), 2000, "nothing processed twice");
}

#[test]
fn reset_streams_fail_only_their_request() {
    let server = H2Server::start(Behavior::ResetEvery(10), None);
    let r = load(
        &[
            "--h2",
            "-n",
            "1000",
            "-c",
            "1",
            "-m",
            "4",
            "-t",
            "1",
            &server.url("/"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.num("/requests"), 1000, "{r:?}");
    assert_eq!(r.num("/responses"), 900, "{r:?}");
    assert_eq!(r.num("/errors/read"), 100, "{r:?}");
    assert_eq!(
        r.num("/connections_opened"),
        1,
        "a reset stream keeps its connection"
    );
}

#[test]
fn unanswered_requests_time_out_and_their_streams_are_reset() {
    let server = H2Server::start(Behavior::StallEvery(10), None);
    let r = load(
        &[
            "--h2",
            "--timeout",
            "300ms",
            "-n",
            "200",
            "-c",
            "1",
            "-m",
            "4",
            "-t",
            "1",
            &server.url("/"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.num("/requests"), 200, "{r:?}");
    assert_eq!(r.num("/responses"), 180, "{r:?}");
    assert_eq!(r.num("/errors/timeout"), 20, "{r:?}");
    assert_eq!(
        r.num("/connections_opened"),
        1,
        "a timeout keeps its connection"
    );
    // Each stream given up on was reset (CANCEL); the server sees the resets shortly.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let resets = || {
        server
            .counters
            .client_resets
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    while resets() < 20 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(resets(), 20);
}

#[test]
fn request_bodies_are_sent() {
    let server = H2Server::start(Behavior::Hello, None);
    let dir = TempDir::new();
    let body = dir.file("body.json");
    std::fs::write(&body, vec![b'x'; 100_000]).unwrap();
    let r = load(
        &[
            "--h2",
            "-X",
            "POST",
            "--body",
            path(&body),
            "-H",
            "Content-Type: application/json",
            "-n",
            "200",
            "-c",
            "2",
            "-m",
            "4",
            "-t",
            "1",
            &server.url("/echo"),
        ],
        LIMIT,
    );
    assert_clean(&r, 200);
    assert_eq!(
        server
            .counters
            .body_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        200 * 100_000
    );
}

#[test]
fn timed_and_open_loop_runs() {
    let server = H2Server::start(Behavior::Hello, None);
    let url = server.url("/");
    let r = load(
        &[
            "--h2", "-d", "500ms", "-c", "2", "-m", "8", "-t", "1", "--warmup", "200ms", &url,
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.num("/responses") > 0, "{r:?}");
    assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
    let r = load(
        &[
            "--h2", "--rate", "400", "-d", "1s", "-c", "2", "-m", "4", "-t", "1", &url,
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
    let responses = r.num("/responses");
    assert!(
        (200..=400).contains(&responses),
        "about 400 requests in 1 s: {r:?}"
    );
}

#[test]
fn a_tls_server_without_h2_fails_clearly() {
    let Some(certs) = Certs::generate() else {
        eprintln!("skipped: the openssl command line is not installed");
        return;
    };
    // One that refuses the handshake (it offers http/1.1 only), one that has no ALPN.
    for (alpn, says) in [
        (&[&b"http/1.1"[..]][..], "offers no h2"),
        (&[][..], "did not choose h2"),
    ] {
        let server = H2Server::start(
            Behavior::Hello,
            Some(Tls {
                cert: &certs.cert,
                key: &certs.key,
                alpn,
            }),
        );
        let r = load(
            &[
                "--h2",
                "-n",
                "20",
                "-c",
                "2",
                "-m",
                "5",
                "-t",
                "1",
                "--cacert",
                path(&certs.ca),
                &server.url("/"),
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(1), "{r:?}");
        assert_eq!(r.num("/errors/tls"), 20, "{r:?}");
        assert!(r.stderr.contains(says), "{says}: {}", r.stderr);
        assert_eq!(server.requests(), 0);
    }
}

#[test]
fn an_http1_server_fails_h2c_clearly() {
    let server = support::Server::tcp(support::Behavior::KeepAlive);
    let r = load(
        &[
            "--h2",
            "-n",
            "20",
            "-c",
            "2",
            "-m",
            "5",
            "-t",
            "1",
            &server.url("/"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.num("/responses"), 0, "{r:?}");
    assert_eq!(r.num("/errors/failed_requests"), 20, "{r:?}");
    assert!(r.stderr.contains("prior knowledge"), "{}", r.stderr);
}

#[test]
fn streams_need_h2_and_m_is_no_longer_the_method() {
    let r = load(&["-m", "8", "-n", "1", "http://127.0.0.1:9/"], LIMIT);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("--h2"), "{}", r.stderr);
    let r = load(&["-m", "POST", "-n", "1", "http://127.0.0.1:9/"], LIMIT);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("-X/--method"), "{}", r.stderr);
}
