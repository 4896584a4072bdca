//! TLS over the in-memory pipe, driven by a rustls client in the test: handshake facts,
//! keep-alive and pipelining, large bodies through a small pipe (rustls's buffers full,
//! ciphertext kept aside), plain HTTP on the TLS port, garbage, the handshake timeout by
//! ticking the clock, and close_notify at shutdown.

use std::io::{Read, Write};
use std::sync::Arc;

use bytes::BytesMut;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig};

use super::config::server_config;
use crate::metrics::CloseReason;
use crate::options::TlsOptions;
use crate::testing::{run, Bench, PATIENCE};
use crate::transport::memory::MemoryStream;
use crate::transport::Transport;
use crate::{Request, Response};

const CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/ca.pem");
const CERT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/cert.pem");
const KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/key.pem");

fn server() -> Arc<ServerConfig> {
    server_config(
        Some(&TlsOptions {
            cert: CERT.into(),
            key: KEY.into(),
        }),
        &[],
        super::config::ClientAuth::NONE,
    )
    .expect("the test certificate loads")
}

fn client_config() -> Arc<ClientConfig> {
    client_config_with(None)
}

/// A client config presenting `identity` (certificate file, key file) when asked.
fn client_config_with(identity: Option<(&str, &str)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(CA).expect("the test certificate") {
        roots.add(cert.expect("a certificate")).expect("a root");
    }
    let provider = Arc::new(crate::tls::provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .expect("a certificate file")
                .collect::<Result<Vec<_>, _>>()
                .expect("certificates");
            let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).expect("a key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("a client identity")
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A TLS client over one end of the pipe.
struct TlsClient {
    stream: MemoryStream,
    conn: ClientConnection,
    /// Plaintext received.
    got: Vec<u8>,
    closed: bool,
}

impl TlsClient {
    async fn connect(stream: MemoryStream) -> TlsClient {
        TlsClient::connect_to(stream, "localhost").await
    }

    async fn connect_to(stream: MemoryStream, host: &str) -> TlsClient {
        TlsClient::connect_with(stream, host, client_config())
            .await
            .expect("a handshake")
    }

    /// Handshake with `config`; `Err` when the server refuses it (alert or close).
    async fn connect_with(
        stream: MemoryStream,
        host: &str,
        config: Arc<ClientConfig>,
    ) -> Result<TlsClient, String> {
        let name = host.to_string().try_into().expect("a server name");
        let conn = ClientConnection::new(config, name).expect("a client");
        let mut c = TlsClient {
            stream,
            conn,
            got: Vec::new(),
            closed: false,
        };
        while c.conn.is_handshaking() {
            c.flush().await;
            if c.conn.is_handshaking() && c.conn.wants_read() && !c.try_pump().await? {
                return Err("the server closed during the handshake".into());
            }
        }
        c.flush().await;
        // TLS 1.3: the server may still refuse the client's certificate after the
        // client's handshake ended; a request then meets an alert or a close.
        Ok(c)
    }

    /// [`TlsClient::pump`] that reports a TLS error instead of panicking.
    async fn try_pump(&mut self) -> Result<bool, String> {
        let (res, buf) = monoio::time::timeout(
            PATIENCE,
            self.stream.read(BytesMut::with_capacity(32 * 1024)),
        )
        .await
        .map_err(|_| "no answer in time".to_string())?;
        let n = res.map_err(|e| e.to_string())?;
        if n == 0 {
            self.closed = true;
            return Ok(false);
        }
        let mut slice = &buf[..];
        while !slice.is_empty() {
            self.conn.read_tls(&mut slice).map_err(|e| e.to_string())?;
            self.conn.process_new_packets().map_err(|e| e.to_string())?;
        }
        let mut plain = Vec::new();
        match self.conn.reader().read_to_end(&mut plain) {
            Ok(_) => self.closed = true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.to_string()),
        }
        self.got.extend_from_slice(&plain);
        Ok(true)
    }

    async fn flush(&mut self) {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            self.conn.write_tls(&mut out).expect("write_tls");
        }
        if !out.is_empty() {
            let (res, _) = monoio::time::timeout(PATIENCE, self.stream.write_all(out))
                .await
                .expect("the server reads");
            res.expect("send");
        }
    }

    /// Read ciphertext once and process it; `false` at end-of-stream.
    async fn pump(&mut self) -> bool {
        self.try_pump()
            .await
            .unwrap_or_else(|e| panic!("valid TLS from the server: {e}"))
    }

    async fn send(&mut self, data: &[u8]) {
        self.conn.writer().write_all(data).expect("plaintext in");
        self.flush().await;
    }

    /// Read until `got` holds `needle` `times` times (bounded).
    async fn until(&mut self, needle: &[u8], times: usize) {
        for _ in 0..10_000 {
            if self
                .got
                .windows(needle.len())
                .filter(|w| *w == needle)
                .count()
                >= times
            {
                return;
            }
            if !self.pump().await {
                break;
            }
        }
        panic!(
            "expected {times} × {:?}, got {:?}",
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(&self.got)
        );
    }
}

/// `/tls` describes the connection; `/big?n` answers n bytes; `/len` the length of the
/// body; anything else `hello`.
async fn app(mut req: Request) -> Response {
    if req.path() == "/len" {
        let body = req.body_mut().to_bytes(64 << 20).await.unwrap_or_default();
        return Response::new(format!("len={}", body.len()));
    }
    let info = req.conn_info();
    match req.path() {
        "/tls" => Response::new(format!("{} {:?}", info.scheme, info.tls)),
        "/big" => {
            let n: usize = req.query().and_then(|q| q.parse().ok()).unwrap_or(0);
            Response::new(vec![b'x'; n])
        }
        _ => Response::new("hello"),
    }
}

#[test]
fn a_request_over_tls_sees_https_and_the_handshake_facts() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = TlsClient::connect(bench.connect_tls(server())).await;
        c.send(b"GET /tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        c.until(b"TLSv1.3", 1).await;
        let text = String::from_utf8_lossy(&c.got).into_owned();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("https Some(TlsInfo { alpn: Some(\"http/1.1\"), sni: Some(\"localhost\"), version: \"TLSv1.3\""), "{text}");
    });
}

#[test]
fn keep_alive_and_pipelining_work_over_tls() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = TlsClient::connect(bench.connect_tls(server())).await;
        c.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").await;
        c.until(b"hello", 1).await;
        c.send(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n").await;
        c.until(b"hello", 4).await;
        assert_eq!(bench.counters().accepted(), 1, "one connection");
    });
}

#[test]
fn a_large_response_crosses_a_small_pipe() {
    run(async {
        let mut bench = Bench::new(app, |_| {});
        bench.pipe_capacity = 8192;
        let mut c = TlsClient::connect(bench.connect_tls(server())).await;
        c.send(b"GET /big?300000 HTTP/1.1\r\nHost: x\r\n\r\n").await;
        c.until(b"Content-Length: 300000", 1).await;
        while c.got.iter().filter(|b| **b == b'x').count() < 300_000 {
            assert!(c.pump().await, "the server closed early");
        }
        c.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n").await;
        c.until(b"hello", 1).await;
    });
}

#[test]
fn plain_http_on_the_tls_port_is_answered_in_cleartext() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut s = bench.connect_tls(server());
        let (res, _) = s
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec())
            .await;
        res.expect("send");
        let mut got = BytesMut::new();
        loop {
            let (res, b) = s.read(got).await;
            got = b;
            if res.expect("read") == 0 {
                break;
            }
        }
        assert_eq!(
            &got[..],
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        bench.drained().await;
        assert_eq!(bench.closed_by(CloseReason::TlsHandshakeFailed), 1);
    });
}

#[test]
fn garbage_ends_the_connection_and_the_next_client_is_served() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut s = bench.connect_tls(server());
        // A handshake record header announcing a length, then bytes that are not TLS.
        let (res, _) = s
            .write_all(b"\x16\x03\x01\x00\x20garbage-garbage-garbage-garbage!".to_vec())
            .await;
        res.expect("send");
        let mut got = BytesMut::new();
        loop {
            let (res, b) = s.read(got).await;
            got = b;
            if res.expect("read") == 0 {
                break;
            }
        }
        let mut c = TlsClient::connect(bench.connect_tls(server())).await;
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        c.until(b"hello", 1).await;
        assert_eq!(bench.closed_by(CloseReason::TlsHandshakeFailed), 1);
    });
}

#[test]
fn a_stalled_handshake_is_closed_after_the_timeout() {
    run(async {
        let bench = Bench::new(app, |o| {
            o.tls_handshake_timeout = std::time::Duration::from_secs(2);
        });
        let mut s = bench.connect_tls(server());
        // Half a ClientHello, then silence.
        let (res, _) = s.write_all(b"\x16\x03\x01\x02\x00\x01".to_vec()).await;
        res.expect("send");
        crate::testing::settle().await;
        bench.tick();
        bench.tick();
        crate::testing::settle().await;
        assert_eq!(bench.active(), 1, "not before the timeout");
        bench.tick();
        let mut got = BytesMut::new();
        loop {
            let (res, b) = monoio::time::timeout(PATIENCE, s.read(got))
                .await
                .expect("closed in time");
            got = b;
            if res.expect("read") == 0 {
                break;
            }
        }
        bench.drained().await;
        assert_eq!(bench.closed_by(CloseReason::TlsHandshakeTimeout), 1);
    });
}

#[test]
fn shutdown_sends_close_notify_to_an_idle_connection() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = TlsClient::connect(bench.connect_tls(server())).await;
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        c.until(b"hello", 1).await;
        crate::testing::settle().await;
        bench.shutdown();
        while c.pump().await && !c.closed {}
        assert!(c.closed);
        bench.drained().await;
    });
}

#[test]
fn sni_picks_the_certificate_by_host_name() {
    const SNI_CERT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/sni-cert.pem");
    const SNI_KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/sni-key.pem");
    let config = server_config(
        Some(&TlsOptions {
            cert: CERT.into(),
            key: KEY.into(),
        }),
        &[crate::options::SniCertificate {
            host: "sni.test".into(),
            files: TlsOptions {
                cert: SNI_CERT.into(),
                key: SNI_KEY.into(),
            },
        }],
        super::config::ClientAuth::NONE,
    )
    .expect("loads");
    run(async {
        let bench = Bench::new(app, |_| {});
        // The client checks the certificate against the name it asked for: each handshake
        // succeeds only if the server picked the right one.
        for host in ["sni.test", "localhost"] {
            let mut c = TlsClient::connect_to(bench.connect_tls(config.clone()), host).await;
            c.send(b"GET /tls HTTP/1.1\r\nHost: x\r\n\r\n").await;
            c.until(format!("sni: Some(\"{host}\")").as_bytes(), 1)
                .await;
        }
    });
}

const CA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/ca.pem");
const CLIENT: (&str, &str) = (
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/tls/testdata/client-cert.pem"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/tls/testdata/client-key.pem"
    ),
);
const STRANGER: (&str, &str) = (
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/tls/testdata/stranger-cert.pem"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/tls/testdata/stranger-key.pem"
    ),
);

fn mtls_server(mode: crate::ClientCertificateMode) -> Arc<ServerConfig> {
    server_config(
        Some(&TlsOptions {
            cert: CERT.into(),
            key: KEY.into(),
        }),
        &[],
        super::config::ClientAuth {
            mode,
            ca: Some(std::path::Path::new(CA_FILE)),
        },
    )
    .expect("loads")
}

/// Whether a request with `identity` is answered, and what the handler saw.
async fn request_with(
    bench: &Bench<impl crate::Handler>,
    config: Arc<ServerConfig>,
    identity: Option<(&str, &str)>,
) -> Option<String> {
    let stream = bench.connect_tls(config);
    let mut c = TlsClient::connect_with(stream, "localhost", client_config_with(identity))
        .await
        .ok()?;
    c.conn
        .writer()
        .write_all(b"GET /tls HTTP/1.1\r\nHost: x\r\n\r\n")
        .ok()?;
    c.flush().await;
    for _ in 0..100 {
        if String::from_utf8_lossy(&c.got).contains("TLSv1") {
            return Some(String::from_utf8_lossy(&c.got).into_owned());
        }
        if !c.try_pump().await.ok()? {
            return None;
        }
    }
    None
}

#[test]
fn required_client_certificates_are_verified_and_shown_to_the_handler() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let config = mtls_server(crate::ClientCertificateMode::RequireCertificate);
        let seen = request_with(&bench, config.clone(), Some(CLIENT))
            .await
            .expect("a client with a certificate from the CA is served");
        assert!(
            seen.contains("client_subject: Some(\"CN=test client, O=Peregrine\")"),
            "{seen}"
        );
        assert!(
            request_with(&bench, config.clone(), None).await.is_none(),
            "no certificate"
        );
        assert!(
            request_with(&bench, config, Some(STRANGER)).await.is_none(),
            "a certificate no CA vouches for"
        );
    });
}

#[test]
fn allowed_client_certificates_are_optional_but_verified() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let config = mtls_server(crate::ClientCertificateMode::AllowCertificate);
        let seen = request_with(&bench, config.clone(), None)
            .await
            .expect("a client without a certificate is served");
        assert!(
            seen.contains("client_chain: [], client_subject: None"),
            "{seen}"
        );
        assert!(request_with(&bench, config.clone(), Some(CLIENT))
            .await
            .is_some());
        assert!(
            request_with(&bench, config, Some(STRANGER)).await.is_none(),
            "an invalid certificate is refused"
        );
    });
}

#[test]
fn a_client_certificate_mode_needs_a_ca() {
    let e = server_config(
        Some(&TlsOptions {
            cert: CERT.into(),
            key: KEY.into(),
        }),
        &[],
        super::config::ClientAuth {
            mode: crate::ClientCertificateMode::RequireCertificate,
            ca: None,
        },
    )
    .expect_err("refused");
    assert!(e.contains("--client-ca"), "{e}");
}

#[test]
fn reloaded_certificates_serve_new_handshakes_and_open_connections_go_on() {
    let dir = std::env::temp_dir().join(format!("peregrine-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let copy = |from: &str, to: &std::path::Path| std::fs::copy(from, to).expect("copy");
    copy(CERT, &cert);
    copy(KEY, &key);
    let files = TlsOptions {
        cert: cert.clone(),
        key: key.clone(),
    };
    let (config, certificates) = super::config::server_config_reloadable(
        Some(&files),
        None,
        &[],
        super::config::ClientAuth::NONE,
        crate::options::Protocols::default(),
    )
    .expect("loads");
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut open = TlsClient::connect(bench.connect_tls(config.clone())).await;
        // A broken file: the old certificate stays.
        std::fs::write(&cert, b"not a certificate").expect("write");
        let e = certificates.reload().expect_err("refused");
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let c = TlsClient::connect_with(
            bench.connect_tls(config.clone()),
            "localhost",
            client_config(),
        )
        .await;
        assert!(c.is_ok(), "the old certificate is still served");
        // The SNI test certificate (for sni.test) replaces it.
        copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/sni-cert.pem"),
            &cert,
        );
        copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/sni-key.pem"),
            &key,
        );
        certificates.reload().expect("reloads");
        let c = TlsClient::connect_with(
            bench.connect_tls(config.clone()),
            "sni.test",
            client_config(),
        )
        .await;
        assert!(c.is_ok(), "new handshakes get the new certificate");
        let c = TlsClient::connect_with(
            bench.connect_tls(config.clone()),
            "localhost",
            client_config(),
        )
        .await;
        assert!(c.is_err(), "the old certificate is gone");
        // The connection opened before the reload goes on.
        open.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        open.until(b"hello", 1).await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

fn pkcs12_config(file: &str, password: &str) -> Result<Arc<ServerConfig>, String> {
    super::config::server_config_reloadable(
        None,
        Some(&crate::options::Pkcs12Certificate {
            file: file.into(),
            password: password.into(),
        }),
        &[],
        super::config::ClientAuth::NONE,
        crate::options::Protocols::default(),
    )
    .map(|(config, _)| config)
}

#[test]
fn a_pkcs12_certificate_serves_handshakes() {
    const PFX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/cert.pfx");
    let config = pkcs12_config(PFX, "peregrine").expect("the PKCS#12 file loads");
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = TlsClient::connect(bench.connect_tls(config)).await;
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        c.until(b"hello", 1).await;
    });
    let e = pkcs12_config(PFX, "wrong").expect_err("a wrong password");
    assert!(e.contains("wrong password"), "{e}");
    let e = pkcs12_config(CERT, "peregrine").expect_err("PEM is not PKCS#12");
    assert!(e.contains("not PKCS#12"), "{e}");
}

#[test]
fn a_legacy_pkcs12_file_loads() {
    // `openssl pkcs12 -legacy` (RC2-40 certificates, 3DES key): what older Windows and
    // .NET tooling exports.
    const LEGACY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/legacy.pfx");
    pkcs12_config(LEGACY, "peregrine").expect("the legacy PKCS#12 file loads");
}

#[test]
fn garbage_after_the_handshake_ends_that_connection_only() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = TlsClient::connect(bench.connect_tls(server())).await;
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        c.until(b"hello", 1).await;
        // Not a TLS record: an application-data header with a bogus length, then noise.
        let (res, _) = c
            .stream
            .write_all(b"\x17\x03\x03\x00\x10not-a-real-record!".to_vec())
            .await;
        res.expect("send");
        // The server answers with an alert and closes.
        while let Ok(true) = c.try_pump().await {}
        bench.drained().await;
        let mut other = TlsClient::connect(bench.connect_tls(server())).await;
        other.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        other.until(b"hello", 1).await;
    });
}

#[test]
fn a_large_request_body_and_pipelined_requests_arrive_whole() {
    run(async {
        let mut bench = Bench::new(app, |_| {});
        bench.pipe_capacity = 8192;
        let mut c = TlsClient::connect(bench.connect_tls(server())).await;
        // A 300 KB body in records of up to 16 KiB, then two requests in the same flight:
        // rustls gets more ciphertext than it takes at once, the rest is kept aside.
        let body = vec![b'b'; 300_000];
        let mut flight = format!(
            "POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        flight.extend_from_slice(&body);
        flight.extend_from_slice(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        c.conn.set_buffer_limit(None);
        c.conn.writer().write_all(&flight).expect("plaintext in");
        let mut out = Vec::new();
        while c.conn.wants_write() {
            c.conn.write_tls(&mut out).expect("write_tls");
        }
        // Written while reading, so neither direction of the small pipe stalls the other.
        let mut stream_out = out.as_slice();
        while !stream_out.is_empty() {
            let n = stream_out.len().min(4096);
            let (res, _) = c.stream.write_all(stream_out[..n].to_vec()).await;
            res.expect("send");
            stream_out = &stream_out[n..];
        }
        c.until(b"len=300000", 1).await;
        c.until(b"hello", 2).await;
    });
}
