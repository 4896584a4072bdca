//! A purpose-built HTTP/2 server for the `--h2` tests: h2's server side on a tokio
//! runtime of its own thread, over h2c (prior knowledge) or TLS (tokio-rustls, with the
//! ALPN list a test chooses), answering `200 Hello, World!` and counting what it sees.

use bytes::Bytes;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// `200 Hello, World!` to every request.
    Hello,
    /// As `Hello`, and after this many requests on a connection a graceful `GOAWAY`
    /// (as nginx's `keepalive_requests`).
    GoAwayAfter(u64),
    /// As `Hello`, but every n-th request of a connection is reset (`INTERNAL_ERROR`).
    ResetEvery(u64),
    /// As `Hello`, but every n-th request of a connection is never answered (until the
    /// client resets its stream, which is counted).
    StallEvery(u64),
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests accepted.
    pub requests: AtomicU64,
    /// Responses sent in full.
    pub responses: AtomicU64,
    /// Connections whose HTTP/2 handshake completed.
    pub connections: AtomicU64,
    /// Request body bytes received.
    pub body_bytes: AtomicU64,
    /// Streams the client reset (a stalled request given up on).
    pub client_resets: AtomicU64,
}

/// A running server (its thread lives as long as the test process).
pub struct H2Server {
    /// `http://127.0.0.1:port` or `https://127.0.0.1:port`.
    pub base: String,
    /// Its counters.
    pub counters: Arc<Counters>,
}

/// TLS for the server: a PEM chain and key, and the ALPN protocols it accepts (empty:
/// no ALPN at all).
pub struct Tls<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
    pub alpn: &'a [&'a [u8]],
}

fn tls_config(tls: &Tls<'_>) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(tls.cert)
        .expect("read cert")
        .collect::<Result<_, _>>()
        .expect("parse cert");
    let key = PrivateKeyDer::from_pem_file(tls.key).expect("read key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("certificate");
    config.alpn_protocols = tls.alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

impl H2Server {
    /// Start a server on a free loopback port: h2c, or TLS with `tls`.
    pub fn start(behavior: Behavior, tls: Option<Tls<'_>>) -> H2Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let acceptor = tls
            .as_ref()
            .map(|t| tokio_rustls::TlsAcceptor::from(tls_config(t)));
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let c = c.clone();
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        match acceptor {
                            Some(a) => {
                                if let Ok(s) = a.accept(stream).await {
                                    serve(s, behavior, c).await;
                                }
                            }
                            None => serve(stream, behavior, c).await,
                        }
                    });
                }
            });
        });
        H2Server {
            base: format!("{scheme}://127.0.0.1:{port}"),
            counters,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Requests the server accepted.
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::Relaxed)
    }
}

async fn serve<S>(io: S, behavior: Behavior, c: Arc<Counters>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Ok(mut conn) = h2::server::handshake(io).await else {
        return;
    };
    c.connections.fetch_add(1, Ordering::Relaxed);
    let mut nth = 0u64;
    while let Some(next) = conn.accept().await {
        let Ok((request, mut respond)) = next else {
            return;
        };
        nth += 1;
        c.requests.fetch_add(1, Ordering::Relaxed);
        if let Behavior::GoAwayAfter(n) = behavior {
            if nth == n {
                conn.graceful_shutdown();
            }
        }
        let reset = matches!(behavior, Behavior::ResetEvery(n) if nth.checked_rem(n) == Some(0));
        let stall = matches!(behavior, Behavior::StallEvery(n) if nth.checked_rem(n) == Some(0));
        let c = c.clone();
        tokio::spawn(async move {
            let mut body = request.into_body();
            while let Some(Ok(chunk)) = body.data().await {
                c.body_bytes
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            if reset {
                respond.send_reset(h2::Reason::INTERNAL_ERROR);
                return;
            }
            if stall {
                // Wait for the client to give up (its reset), or the connection's end.
                if std::future::poll_fn(|cx| respond.poll_reset(cx))
                    .await
                    .is_ok()
                {
                    c.client_resets.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            let response = http::Response::builder()
                .status(200)
                .header("content-type", "text/plain")
                .header("content-length", "13")
                .body(())
                .expect("response");
            let Ok(mut send) = respond.send_response(response, false) else {
                return;
            };
            if send
                .send_data(Bytes::from_static(b"Hello, World!"), true)
                .is_ok()
            {
                c.responses.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}
