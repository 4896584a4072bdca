//! End-to-end tests of `peregrine-load` over https: against the real `peregrine` binary
//! (when it has been built: `cargo build -p peregrine-cli`) serving a certificate made
//! with the `openssl` command line (the tests skip, saying so, without either), on both
//! backends; and against purpose-built servers that do not speak TLS.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::{backends, load, Behavior, Certs, Peregrine, Server};

const LIMIT: Duration = Duration::from_secs(60);

/// The server binary and fresh certificates, or `None` (and a note) to skip.
fn prerequisites() -> Option<(PathBuf, Certs)> {
    let Some(bin) = support::peregrine_binary() else {
        eprintln!("skipped: no target/{{release,debug}}/peregrine binary (build the engine first)");
        return None;
    };
    let Some(certs) = Certs::generate() else {
        eprintln!("skipped: the openssl command line is not installed");
        return None;
    };
    Some((bin, certs))
}

/// `peregrine` serving https on `listen` with the test certificate.
fn serve(bin: &std::path::Path, certs: &Certs, listen: &str) -> Option<Peregrine> {
    let server = Peregrine::start_with(
        bin,
        &[
            "--urls",
            listen,
            "--cert",
            certs.cert.to_str()?,
            "--key",
            certs.key.to_str()?,
        ],
    );
    if server.is_none() {
        eprintln!(
            "skipped: {} did not report a listening address",
            bin.display()
        );
    }
    server
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

#[test]
fn https_with_cacert_on_both_backends() {
    let Some((bin, certs)) = prerequisites() else {
        return;
    };
    let Some(server) = serve(&bin, &certs, "https://127.0.0.1:0") else {
        return;
    };
    let url = format!("{}/plaintext", server.base);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    for backend in backends() {
        let r = load(
            &[
                "-n",
                "1000",
                "-c",
                "8",
                "-t",
                "2",
                "--cacert",
                path(&certs.ca),
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 1000, "{backend}: {r:?}");
        assert_eq!(r.num("/status/2xx"), 1000);
        assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
        assert_eq!(r.num("/errors/tls"), 0);
        assert!(
            r.num("/connections_opened") <= 8,
            "keep-alive: one handshake per connection"
        );
        let json = r.json.as_ref().unwrap();
        assert_eq!(json["setup"]["scheme"], "https");
        assert_eq!(json["tls"]["verify"], "cacert");
        assert_eq!(json["tls"]["alpn"], "http/1.1");
        assert!(json["tls"]["handshake_failure"].is_null(), "{json}");
        let version = json["tls"]["version"].as_str().unwrap_or_default();
        assert!(version.starts_with("TLSv1."), "{json}");
        assert!(json["tls"]["cipher"].as_str().is_some(), "{json}");
        assert!(r.stdout.contains(version), "{}", r.stdout);
        assert!(r.stdout.contains("ALPN http/1.1"), "{}", r.stdout);
    }
}

#[test]
fn https_pipelined_and_timed() {
    let Some((bin, certs)) = prerequisites() else {
        return;
    };
    let Some(server) = serve(&bin, &certs, "https://127.0.0.1:0") else {
        return;
    };
    let url = format!("{}/plaintext", server.base);
    for backend in backends() {
        let r = load(
            &[
                "-n",
                "2000",
                "-c",
                "4",
                "-t",
                "1",
                "--pipeline",
                "16",
                "--cacert",
                path(&certs.ca),
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 2000, "{backend}: {r:?}");
        assert_eq!(r.num("/status/2xx"), 2000);
        assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
        assert!(r.num("/connections_opened") <= 4, "{r:?}");

        // A timed run: the connections cut off at the end are not errors.
        let r = load(
            &[
                "-d",
                "1s",
                "-c",
                "4",
                "--pipeline",
                "8",
                "--cacert",
                path(&certs.ca),
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert!(r.num("/responses") > 100, "{backend}: {r:?}");
        assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
        assert_eq!(r.num("/responses"), r.num("/status/2xx"));
    }
}

#[test]
fn large_bodies_both_ways() {
    // Responses of 1 MiB (many full records per read, more plaintext than rustls buffers
    // at once) and request bodies of 200 KB (more than one record, pipelined).
    let Some((bin, certs)) = prerequisites() else {
        return;
    };
    let Some(server) = serve(&bin, &certs, "https://127.0.0.1:0") else {
        return;
    };
    let dir = support::TempDir::new();
    let body = dir.file("body");
    std::fs::write(&body, vec![b'b'; 200_000]).unwrap();
    for backend in backends() {
        let r = load(
            &[
                "-n",
                "40",
                "-c",
                "2",
                "--pipeline",
                "2",
                "--cacert",
                path(&certs.ca),
                "--backend",
                backend,
                &format!("{}/stream?chunks=64&size=16384", server.base),
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/status/2xx"), 40, "{backend}: {r:?}");
        assert!(r.num("/bytes_read") > 40 * 64 * 16384, "{r:?}");

        let r = load(
            &[
                "-n",
                "20",
                "-c",
                "2",
                "--pipeline",
                "2",
                "-X",
                "POST",
                "--body",
                path(&body),
                "--cacert",
                path(&certs.ca),
                "--backend",
                backend,
                &format!("{}/echo", server.base),
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/status/2xx"), 20, "{backend}: {r:?}");
        assert!(r.num("/bytes_read") > 20 * 200_000, "{r:?}");
        assert!(r.num("/bytes_written") > 20 * 200_000, "{r:?}");
    }
}

#[test]
fn https_over_a_unix_socket() {
    let Some((bin, certs)) = prerequisites() else {
        return;
    };
    let dir = support::TempDir::new();
    let sock = dir.file("https.sock");
    let Some(server) = serve(&bin, &certs, &format!("https://unix:{}", path(&sock))) else {
        return;
    };
    // The server says `https://unix:/path`; a request path follows a second colon.
    let url = format!("{}:/plaintext", server.base);
    for backend in backends() {
        let r = load(
            &[
                "-n",
                "300",
                "-c",
                "2",
                "--pipeline",
                "4",
                "--cacert",
                path(&certs.ca),
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 300, "{backend}: {r:?}");
        assert_eq!(r.num("/status/2xx"), 300);
        assert_eq!(r.json.as_ref().unwrap()["tls"]["alpn"], "http/1.1");
    }
}

#[test]
fn without_cacert_or_insecure_the_run_fails_clearly() {
    let Some((bin, certs)) = prerequisites() else {
        return;
    };
    let Some(server) = serve(&bin, &certs, "https://127.0.0.1:0") else {
        return;
    };
    let r = load(
        &["-n", "10", "-c", "2", &format!("{}/plaintext", server.base)],
        LIMIT,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.num("/responses"), 0);
    assert_eq!(r.num("/errors/tls"), 10, "{r:?}");
    assert_eq!(r.num("/errors/failed_requests"), 10);
    assert!(r.stderr.contains("UnknownIssuer"), "{}", r.stderr);
    assert!(
        r.stderr.contains("pass --cacert FILE") && r.stderr.contains("--insecure"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("tls 10"), "{}", r.stdout);
    assert!(r.stdout.contains("no handshake succeeded"), "{}", r.stdout);
    let json = r.json.as_ref().unwrap();
    assert_eq!(json["tls"]["verify"], "none");
    assert!(json["tls"]["version"].is_null());
}

#[test]
fn insecure_accepts_the_certificate_without_a_ca() {
    let Some((bin, certs)) = prerequisites() else {
        return;
    };
    let Some(server) = serve(&bin, &certs, "https://127.0.0.1:0") else {
        return;
    };
    for flag in ["--insecure", "-k"] {
        let r = load(
            &[
                "-n",
                "200",
                "-c",
                "2",
                "--pipeline",
                "2",
                flag,
                &format!("{}/plaintext", server.base),
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 200, "{r:?}");
        assert_eq!(r.num("/status/2xx"), 200);
        assert_eq!(r.json.as_ref().unwrap()["tls"]["verify"], "insecure");
        assert!(r.stdout.contains("not verified"), "{}", r.stdout);
    }
}

#[test]
fn a_wrong_ca_is_a_tls_error_not_a_hang() {
    let Some((bin, certs)) = prerequisites() else {
        return;
    };
    let Some(server) = serve(&bin, &certs, "https://127.0.0.1:0") else {
        return;
    };
    for backend in backends() {
        let started = Instant::now();
        let r = load(
            &[
                "-n",
                "10",
                "-c",
                "2",
                "--timeout",
                "20s",
                "--cacert",
                path(&certs.other_ca),
                "--backend",
                backend,
                &format!("{}/plaintext", server.base),
            ],
            LIMIT,
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the handshakes failed at once, not at --timeout: {r:?}"
        );
        assert_eq!(r.code, Some(1), "{r:?}");
        assert_eq!(r.num("/errors/tls"), 10, "{backend}: {r:?}");
        assert_eq!(r.num("/errors/timeout"), 0);
        assert_eq!(r.num("/errors/connect"), 0);
        assert!(r.stderr.contains("UnknownIssuer"), "{}", r.stderr);
        assert!(
            !r.stderr.contains("pass --cacert"),
            "a CA was given: no hint to pass one: {}",
            r.stderr
        );
        let json = r.json.as_ref().unwrap();
        let why = json["tls"]["handshake_failure"]
            .as_str()
            .unwrap_or_default();
        assert!(why.contains("UnknownIssuer"), "{json}");
    }
}

#[test]
fn no_keepalive_handshakes_for_each_request() {
    let Some((bin, certs)) = prerequisites() else {
        return;
    };
    let Some(server) = serve(&bin, &certs, "https://127.0.0.1:0") else {
        return;
    };
    let r = load(
        &[
            "-n",
            "40",
            "-c",
            "2",
            "--no-keepalive",
            "--cacert",
            path(&certs.ca),
            &format!("{}/plaintext", server.base),
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.num("/responses"), 40, "{r:?}");
    assert_eq!(r.num("/connections_opened"), 40);
    assert_eq!(r.num("/errors/failed_requests"), 0);
}

#[test]
fn plain_http_on_an_https_url_is_a_tls_error() {
    // A server answering in cleartext: the answer is not a TLS record.
    if let Some(bin) = support::peregrine_binary() {
        if let Some(server) = Peregrine::start(&bin) {
            let url = server.base.replacen("http://", "https://", 1);
            let r = load(&["-n", "4", "-c", "1", "-k", &url], LIMIT);
            assert_eq!(r.code, Some(1), "{r:?}");
            assert_eq!(r.num("/errors/tls"), 4, "{r:?}");
            assert!(r.stderr.contains("plain HTTP?"), "{}", r.stderr);
        }
    }
    // A server that never answers the ClientHello: the handshake is bounded by --timeout.
    let server = Server::tcp(Behavior::Stall);
    let url = server.url("/").replacen("http://", "https://", 1);
    let r = load(
        &["-n", "3", "-c", "1", "-k", "--timeout", "300ms", &url],
        LIMIT,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.num("/errors/tls"), 3, "{r:?}");
    assert!(
        r.stderr.contains("did not finish within --timeout"),
        "{}",
        r.stderr
    );
}

#[test]
fn tls_options_are_checked() {
    let dir = support::TempDir::new();
    let not_pem = dir.file("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    for (args, message) in [
        (
            &["-n", "1", "--insecure", "http://127.0.0.1:1/"][..],
            "apply to https:// URLs only",
        ),
        (
            &[
                "-n",
                "1",
                "--cacert",
                "/nonexistent/ca.pem",
                "https://127.0.0.1:1/",
            ],
            "cannot read --cacert",
        ),
        (
            &[
                "-n",
                "1",
                "--cacert",
                path(&not_pem),
                "https://127.0.0.1:1/",
            ],
            "holds no certificate",
        ),
        (
            &[
                "-n",
                "1",
                "-k",
                "--cacert",
                path(&not_pem),
                "https://127.0.0.1:1/",
            ],
            "cannot be used with",
        ),
    ] {
        let r = load(args, LIMIT);
        assert!(matches!(r.code, Some(1) | Some(2)), "{args:?}: {r:?}");
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
}
