//! Which certificate is served, and to whom, through real sockets and real clients, each
//! case on both backends, against the binary. Certificates are made per test by
//! `common::tls` (one test CA, and a second CA for strangers); without `openssl` the tests
//! skip, saying so.
//!
//! - SNI (`--sni HOST=CERT,KEY`): the default certificate for `localhost`, one for
//!   `api.test`, a wildcard `*.wild.test`; curl (`--resolve`) verifies the name it asked
//!   for and prints the subject it got, the rustls client gets the exact certificate,
//!   `openssl s_client -servername` with an unknown name, the bare wildcard suffix or no
//!   name at all gets the default;
//! - client certificates (`--client-certificate-mode require|allow --client-ca`): with
//!   `require`, curl without a certificate and with one from another CA is refused (a TLS
//!   alert), with one from the CA it is served and `/request` shows
//!   `tls.client_cert_subject`; with `allow`, no certificate is served (the subject is
//!   null), a valid one is shown, one from another CA is refused; the rustls client on
//!   TLS 1.2 and 1.3 too;
//! - PKCS#12 (`--cert x.pfx --cert-password`): a file from `openssl pkcs12 -export` serves
//!   curl and the rustls client (also as `.P12`, the password from the environment); a
//!   wrong or missing password refuses to start with one `error:` line and nothing bound;
//! - reloading under a live keep-alive connection: certificate A, then B written the way
//!   certbot does (a temp file renamed over the old) is picked up by the file watcher for
//!   new handshakes while the old connection keeps A and is still served; a broken file
//!   the watcher cannot see (same size, same modification time) is looked at on SIGHUP,
//!   refused with "TLS certificates not reloaded", and B stays; A written back and SIGHUP
//!   switch back.

#[macro_use]
mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::tls::*;
use common::*;

/// How long a reload may take to show: the watcher looks once a second.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Certificates for one test, or `None` after a skip notice when openssl is missing.
fn certs(tag: &str) -> Option<Certs> {
    let c = Certs::generate(tag);
    if c.is_none() {
        skip(NO_OPENSSL);
    }
    c
}

/// A path as an argument.
fn p(path: &Path) -> String {
    path.display().to_string()
}

/// The binary on `https://127.0.0.1:0` with `args`.
fn https_server(backend: Backend, args: &[String]) -> Server {
    let mut all = vec!["--urls", "https://127.0.0.1:0"];
    all.extend(args.iter().map(String::as_str));
    let s = Server::start(backend, &all);
    assert!(
        s.urls.len() == 1 && s.urls[0].starts_with("https://127.0.0.1:"),
        "{:?}",
        s.urls
    );
    s
}

/// `--cert CHAIN --key KEY` for `leaf`.
fn cert_args(leaf: &Leaf) -> Vec<String> {
    vec!["--cert".into(), p(&leaf.cert), "--key".into(), p(&leaf.key)]
}

/// curl -v `https://HOST:PORT{path}` with HOST resolved to 127.0.0.1, trusting the test
/// CA, HTTP/1.1, with `extra` options.
fn curl_as(s: &Server, c: &Certs, host: &str, path: &str, extra: &[&str]) -> Output {
    let port = s.port(0);
    let resolve = format!("{host}:{port}:127.0.0.1");
    let url = format!("https://{host}:{port}{path}");
    let ca = c.ca_arg();
    let mut args = vec![
        "-v",
        "--cacert",
        ca.as_str(),
        "--http1.1",
        "--resolve",
        &resolve,
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    curl(&args)
}

/// Assert curl succeeded; its stdout as JSON.
fn curl_json(out: &Output, what: &str) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{what}: curl failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Assert curl was refused during or right after the handshake: it failed, got no HTTP
/// response, and says the server sent a TLS alert.
fn curl_refused(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: curl was served:\n{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{what}: a response arrived: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.to_ascii_lowercase().contains("alert"),
        "{what}: curl failed without a TLS alert from the server:\n{stderr}"
    );
}

/// `/request`'s `tls.client_cert_subject`: present, a string or null.
fn client_subject(j: &serde_json::Value) -> Option<String> {
    let tls = j["tls"]
        .as_object()
        .unwrap_or_else(|| panic!("no tls object in {j}"));
    let subject = tls
        .get("client_cert_subject")
        .unwrap_or_else(|| panic!("no client_cert_subject in {j}"));
    if subject.is_null() {
        None
    } else {
        Some(
            subject
                .as_str()
                .unwrap_or_else(|| panic!("client_cert_subject is not text: {j}"))
                .to_string(),
        )
    }
}

/// s_client's output with names printed as `CN=x, O=y` (OpenSSL 3.0 prints `CN = x`,
/// 3.2 and later `CN=x`).
fn subject_line(stdout: &str) -> String {
    stdout.replace(" = ", "=")
}

/// Assert nothing listens on 127.0.0.1:`port`: binding it succeeds.
fn assert_port_free(port: u16, what: &str) {
    if let Err(e) = TcpListener::bind(("127.0.0.1", port)) {
        panic!("{what}: 127.0.0.1:{port} is still bound: {e}");
    }
}

// ---------------------------------------------------------------------------------------
// SNI
// ---------------------------------------------------------------------------------------

fn sni(backend: Backend) {
    let Some(c) = certs("sni") else { return };
    let api = c.issue_for("api", &["api.test"]);
    let wild = c.issue_for("wild", &["*.wild.test"]);
    let mut args = cert_args(&c.server);
    args.extend([
        "--sni".into(),
        format!("api.test={},{}", p(&api.cert), p(&api.key)),
        "--sni".into(),
        format!("*.wild.test={},{}", p(&wild.cert), p(&wild.key)),
    ]);
    let s = https_server(backend, &args);

    // curl checks the name it asked for against the certificate it got.
    for (host, subject, san) in [
        ("api.test", "CN=api.test; O=Peregrine test api", "api.test"),
        (
            "x.wild.test",
            "CN=*.wild.test; O=Peregrine test wild",
            "*.wild.test",
        ),
        (
            "localhost",
            "CN=localhost; O=Peregrine test server",
            "localhost",
        ),
    ] {
        let out = curl_as(&s, &c, host, "/request", &[]);
        let j = curl_json(&out, host);
        assert_eq!(j["tls"]["sni"], host, "{j}");
        let verbose = String::from_utf8_lossy(&out.stderr);
        assert!(
            verbose.contains(&format!("subject: {subject}")),
            "{host}: not served {subject}:\n{verbose}"
        );
        assert!(
            verbose.contains(&format!("matched cert's \"{san}\"")),
            "{host}: curl did not match {san}:\n{verbose}"
        );
    }

    // The rustls client gets exactly the configured certificate, by name.
    for (name, leaf) in [
        ("api.test", &api),
        ("a.wild.test", &wild),
        ("API.Test", &api),
        ("localhost", &c.server),
    ] {
        let mut t = s.connect_tls_with(0, c.client(ALL_VERSIONS, &["http/1.1"]), name);
        assert!(t.tls_peer_leaf() == leaf.der, "{name}: another certificate");
        assert_eq!(t.get("/plaintext").status, 200, "{name}");
    }

    // Names no SNI certificate is for, and no name at all: the default certificate.
    let connect = format!("127.0.0.1:{}", s.port(0));
    let ca = c.ca_arg();
    let request = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    for name in [Some("unknown.test"), Some("wild.test"), None] {
        let mut a = vec!["-connect", &connect, "-CAfile", &ca, "-ign_eof"];
        match name {
            Some(n) => a.extend(["-servername", n]),
            None => a.push("-noservername"),
        }
        let out = s_client(&a, request, Duration::from_secs(30));
        let all = format!("{}\n{}", out.stdout, out.stderr);
        assert!(
            subject_line(&out.stdout).contains("subject=CN=localhost, O=Peregrine test server"),
            "{name:?}: not the default certificate:\n{all}"
        );
        assert!(
            out.stdout.contains("Verify return code: 0 (ok)"),
            "{name:?}:\n{all}"
        );
        assert!(out.stdout.contains("Hello, World!"), "{name:?}:\n{all}");
    }
    // And the SNI one through s_client too.
    let out = s_client(
        &[
            "-connect",
            &connect,
            "-CAfile",
            &ca,
            "-servername",
            "api.test",
            "-verify_hostname",
            "api.test",
            "-verify_return_error",
        ],
        b"",
        Duration::from_secs(30),
    );
    assert!(
        subject_line(&out.stdout).contains("subject=CN=api.test, O=Peregrine test api"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}
both_backends!(sni_picks_the_certificate_by_name, sni);

/// Only SNI certificates, no default: names without one are refused, the others served.
fn sni_only(backend: Backend) {
    let Some(c) = certs("snionly") else { return };
    let api = c.issue_for("api", &["api.test"]);
    let s = https_server(
        backend,
        &[
            "--sni".into(),
            format!("api.test={},{}", p(&api.cert), p(&api.key)),
        ],
    );
    let j = curl_json(&curl_as(&s, &c, "api.test", "/request", &[]), "api.test");
    assert_eq!(j["tls"]["sni"], "api.test", "{j}");
    let out = curl_as(&s, &c, "localhost", "/request", &[]);
    curl_refused(&out, "a name with no certificate");
    // Still serving.
    curl_json(&curl_as(&s, &c, "api.test", "/request", &[]), "api.test");
}
both_backends!(sni_without_a_default_certificate, sni_only);

// ---------------------------------------------------------------------------------------
// Client certificates
// ---------------------------------------------------------------------------------------

/// The client certificates of the client tests: one from the test CA and one from
/// another CA, both with the subject `CN=test client, O=Peregrine`.
struct ClientCerts {
    trusted: Leaf,
    stranger: Leaf,
    _other_ca: Certs,
}

fn client_certs(c: &Certs) -> Option<ClientCerts> {
    let other = certs("otherca")?;
    Some(ClientCerts {
        trusted: c.issue_client("client", "test client"),
        stranger: other.issue_client("stranger", "test client"),
        _other_ca: other,
    })
}

/// curl `--cert --key` for `leaf`.
fn with_cert(leaf: &Leaf) -> [String; 4] {
    ["--cert".into(), p(&leaf.cert), "--key".into(), p(&leaf.key)]
}

const SUBJECT: &str = "CN=test client, O=Peregrine";

fn require(backend: Backend) {
    let Some(c) = certs("require") else { return };
    let Some(clients) = client_certs(&c) else {
        return;
    };
    let mut args = cert_args(&c.server);
    args.extend([
        "--client-certificate-mode".into(),
        "require".into(),
        "--client-ca".into(),
        c.ca_arg(),
    ]);
    let s = https_server(backend, &args);

    for (what, versions) in [
        ("TLS 1.3", &["--tlsv1.3"][..]),
        ("TLS 1.2", &["--tlsv1.2", "--tls-max", "1.2"][..]),
    ] {
        let out = curl_as(&s, &c, "localhost", "/request", versions);
        curl_refused(&out, &format!("{what}, no client certificate"));

        let cert = with_cert(&clients.stranger);
        let mut extra: Vec<&str> = cert.iter().map(String::as_str).collect();
        extra.extend_from_slice(versions);
        let out = curl_as(&s, &c, "localhost", "/request", &extra);
        curl_refused(&out, &format!("{what}, a certificate from another CA"));

        let cert = with_cert(&clients.trusted);
        let mut extra: Vec<&str> = cert.iter().map(String::as_str).collect();
        extra.extend_from_slice(versions);
        let out = curl_as(&s, &c, "localhost", "/request", &extra);
        let j = curl_json(&out, &format!("{what}, a certificate from the CA"));
        assert_eq!(client_subject(&j).as_deref(), Some(SUBJECT), "{j}");
    }

    // The rustls client, keep-alive: the subject on every request.
    for versions in [TLS13, TLS12] {
        let config = client_config_with_cert(&c.ca, versions, &clients.trusted);
        let mut t = s.connect_tls_with(0, config, "localhost");
        for _ in 0..3 {
            let j = t.get("/request").json();
            assert_eq!(client_subject(&j).as_deref(), Some(SUBJECT), "{j}");
        }
    }
}
both_backends!(required_client_certificates, require);

fn allow(backend: Backend) {
    let Some(c) = certs("allow") else { return };
    let Some(clients) = client_certs(&c) else {
        return;
    };
    let mut args = cert_args(&c.server);
    args.extend([
        "--client-certificate-mode".into(),
        "allow".into(),
        "--client-ca".into(),
        c.ca_arg(),
    ]);
    let s = https_server(backend, &args);

    let j = curl_json(
        &curl_as(&s, &c, "localhost", "/request", &[]),
        "no client certificate",
    );
    assert_eq!(client_subject(&j), None, "{j}");

    let cert = with_cert(&clients.trusted);
    let extra: Vec<&str> = cert.iter().map(String::as_str).collect();
    let j = curl_json(
        &curl_as(&s, &c, "localhost", "/request", &extra),
        "a certificate from the CA",
    );
    assert_eq!(client_subject(&j).as_deref(), Some(SUBJECT), "{j}");

    let cert = with_cert(&clients.stranger);
    let extra: Vec<&str> = cert.iter().map(String::as_str).collect();
    let out = curl_as(&s, &c, "localhost", "/request", &extra);
    curl_refused(&out, "a certificate from another CA");

    // The rustls client with and without a certificate, side by side.
    let mut without = s.connect_tls(0, &c);
    let config = client_config_with_cert(&c.ca, ALL_VERSIONS, &clients.trusted);
    let mut with = s.connect_tls_with(0, config, "localhost");
    for _ in 0..2 {
        assert_eq!(client_subject(&without.get("/request").json()), None);
        let j = with.get("/request").json();
        assert_eq!(client_subject(&j).as_deref(), Some(SUBJECT), "{j}");
    }
}
both_backends!(allowed_client_certificates, allow);

/// Without a client certificate mode, `/request` reports the subject as null and a client
/// that offers a certificate is not asked for it.
fn not_asked(backend: Backend) {
    let Some(c) = certs("notasked") else { return };
    let client = c.issue_client("client", "test client");
    let s = https_server(backend, &cert_args(&c.server));
    let config = client_config_with_cert(&c.ca, ALL_VERSIONS, &client);
    let j = s
        .connect_tls_with(0, config, "localhost")
        .get("/request")
        .json();
    assert_eq!(client_subject(&j), None, "{j}");
}
both_backends!(client_certificates_are_not_asked_for_by_default, not_asked);

// ---------------------------------------------------------------------------------------
// PKCS#12
// ---------------------------------------------------------------------------------------

fn pkcs12(backend: Backend) {
    let Some(c) = certs("pfx") else { return };
    let pfx = c.pkcs12(&c.server, "server.pfx", "s3cret");
    let s = https_server(
        backend,
        &[
            "--cert".into(),
            p(&pfx),
            "--cert-password".into(),
            "s3cret".into(),
        ],
    );
    let j = curl_json(&curl_as(&s, &c, "localhost", "/request", &[]), "curl");
    assert_eq!(j["scheme"], "https", "{j}");
    let mut t = s.connect_tls(0, &c);
    assert!(t.tls_peer_leaf() == c.server.der, "another certificate");
    assert_eq!(t.get("/plaintext").text(), "Hello, World!");
    drop(t);
    s.stop();

    // `.P12` in capitals, the password from the environment.
    let p12 = c.dir().join("SERVER.P12");
    std::fs::copy(&pfx, &p12).unwrap();
    let mut cmd = command(
        Some(backend),
        &["--urls", "https://127.0.0.1:0", "--cert", &p(&p12)],
    );
    cmd.env("PEREGRINE_CERT_PASSWORD", "s3cret");
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("did not start: {}", f.stderr));
    assert!(s.connect_tls(0, &c).tls_peer_leaf() == c.server.der);
    s.stop();

    // A wrong password, and none: one line naming the file, nothing bound.
    for password in [Some("wrong"), None] {
        let port = free_port();
        let url = format!("https://127.0.0.1:{port}");
        let pfx = p(&pfx);
        let mut args = vec!["--urls", url.as_str(), "--cert", pfx.as_str()];
        if let Some(pw) = password {
            args.extend(["--cert-password", pw]);
        }
        let out = run_to_exit(Some(backend), &args);
        let line = out.assert_error("wrong password");
        assert!(line.contains(&pfx), "{line}");
        assert!(!line.contains("panicked"), "{line}");
        assert_port_free(port, &format!("password {password:?}"));
    }
}
both_backends!(pkcs12_certificates, pkcs12);

// ---------------------------------------------------------------------------------------
// Reloading
// ---------------------------------------------------------------------------------------

/// Put `leaf`'s chain and key at `cert` and `key` as certbot-like tools do: each written
/// to a temp name beside it, then renamed over the old file (the certificate first).
fn install(leaf: &Leaf, cert: &Path, key: &Path) {
    for (from, to) in [(&leaf.cert, cert), (&leaf.key, key)] {
        let tmp = to.with_extension("tmp");
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, to).unwrap();
    }
}

/// Break the certificate file at `path` without the watcher noticing: the same size and
/// the same modification time, some base64 replaced by characters that are not base64.
/// Only SIGHUP makes the server look at it.
fn break_unnoticed(path: &Path) {
    let before = std::fs::metadata(path).unwrap();
    let mut pem = std::fs::read(path).unwrap();
    // Past `-----BEGIN CERTIFICATE-----\n`, inside the first line of base64.
    for b in &mut pem[40..60] {
        *b = b'!';
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &pem).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();
    std::fs::rename(&tmp, path).unwrap();
    let after = std::fs::metadata(path).unwrap();
    assert_eq!(
        (after.len(), after.modified().unwrap()),
        (before.len(), before.modified().unwrap()),
        "the broken file does not look like the old one"
    );
}

fn reload(backend: Backend) {
    let Some(c) = certs("reload") else { return };
    let a = c.issue("a", KeyType::EcP256);
    let b = c.issue("b", KeyType::EcP256);
    let cert = c.dir().join("live.pem");
    let key = c.dir().join("live.key");
    install(&a, &cert, &key);
    let s = https_server(
        backend,
        &["--cert".into(), p(&cert), "--key".into(), p(&key)],
    );
    let new_leaf = || s.connect_tls(0, &c).tls_peer_leaf();
    let mut old = s.connect_tls(0, &c);
    assert!(old.tls_peer_leaf() == a.der, "not certificate A at first");
    assert_eq!(old.get("/plaintext").status, 200);

    // B replaces A on disk: the watcher loads it (once both files are B's: the pair in
    // between does not match and is refused), new handshakes get it.
    let mark = s.stderr_lines();
    install(&b, &cert, &key);
    s.wait_stderr_from(mark, "TLS certificates reloaded", RELOAD_TIMEOUT)
        .unwrap_or_else(|| {
            panic!(
                "certificate B was not loaded within {RELOAD_TIMEOUT:?}:\n{}",
                s.stderr()
            )
        });
    assert!(
        new_leaf() == b.der,
        "a new handshake did not get certificate B"
    );
    // The open connection keeps its session and is served.
    assert_eq!(old.get("/plaintext").text(), "Hello, World!");
    assert!(old.tls_peer_leaf() == a.der);

    // A broken certificate the watcher cannot see; SIGHUP looks, refuses it, B stays.
    let mark = s.stderr_lines();
    break_unnoticed(&cert);
    s.signal(libc::SIGHUP);
    let hup = s
        .wait_stderr_from(
            mark,
            "SIGHUP: reloading the TLS certificates",
            RELOAD_TIMEOUT,
        )
        .unwrap_or_else(|| panic!("SIGHUP was not taken:\n{}", s.stderr()));
    let refused = s
        .wait_stderr_from(hup, "TLS certificates not reloaded", RELOAD_TIMEOUT)
        .unwrap_or_else(|| panic!("the broken file was not refused:\n{}", s.stderr()));
    let line = s
        .stderr()
        .lines()
        .nth(refused)
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains(&p(&cert)),
        "the error does not name the file: {line}"
    );
    assert!(
        new_leaf() == b.der,
        "certificate B is gone after a broken reload"
    );
    assert_eq!(old.get("/plaintext").status, 200);

    // A written back, SIGHUP: A again.
    let mark = s.stderr_lines();
    install(&a, &cert, &key);
    s.signal(libc::SIGHUP);
    let hup = s
        .wait_stderr_from(
            mark,
            "SIGHUP: reloading the TLS certificates",
            RELOAD_TIMEOUT,
        )
        .unwrap_or_else(|| panic!("SIGHUP was not taken:\n{}", s.stderr()));
    s.wait_stderr_from(hup, "TLS certificates reloaded", RELOAD_TIMEOUT)
        .unwrap_or_else(|| panic!("certificate A was not loaded again:\n{}", s.stderr()));
    assert!(
        new_leaf() == a.der,
        "a new handshake did not get certificate A back"
    );
    assert_eq!(old.get("/request").json()["scheme"], "https");
    drop(old);
    s.stop();
}
both_backends!(certificates_reload_under_a_live_connection, reload);
