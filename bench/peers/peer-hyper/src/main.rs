//! hyper peer: one thread per `--threads`, each with its own tokio `current_thread`
//! runtime and its own `SO_REUSEPORT` listener (the layout of TechEmpower's hyper entry);
//! hyper's cached Date header. HTTP/1.1 by default, responses flushed once per pipelined
//! batch; `--h2` serves HTTP/2 instead (h2c with prior knowledge, for `h2load`);
//! `--cert FILE --key FILE` puts TLS under either (ALPN `h2` or `http/1.1`).

#[path = "../../common.rs"]
mod common;
mod flags;
mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, SERVER};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (ctype, body) = match req.uri().path() {
        "/plaintext" => (
            "text/plain",
            Bytes::from_static(common::PLAINTEXT.as_bytes()),
        ),
        "/json" => {
            let body = serde_json::to_vec(&common::Message {
                message: "Hello, World!",
            })
            .unwrap_or_default();
            ("application/json", Bytes::from(body))
        }
        _ => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NOT_FOUND;
            return Ok(r);
        }
    };
    let mut r = Response::new(Full::new(body));
    let h = r.headers_mut();
    h.insert(SERVER, HeaderValue::from_static("hyper"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    Ok(r)
}

fn listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// What each connection speaks.
#[derive(Clone)]
struct Protocol {
    /// HTTP/2 instead of HTTP/1.1.
    h2: bool,
    /// TLS first, when given.
    tls: Option<TlsAcceptor>,
}

async fn serve(std_listener: std::net::TcpListener, protocol: Protocol) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(std_listener)?;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        let protocol = protocol.clone();
        tokio::task::spawn_local(async move {
            match protocol.tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        connection(stream, protocol.h2).await;
                    }
                }
                None => connection(stream, protocol.h2).await,
            }
        });
    }
}

async fn connection<S>(io: S, h2: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    if h2 {
        let _ = http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service_fn(handle))
            .await;
    } else {
        let _ = http1::Builder::new()
            .pipeline_flush(true)
            .serve_connection(io, service_fn(handle))
            .await;
    }
}

fn main() {
    let (flags, rest) = match flags::split(std::env::args().skip(1)) {
        Ok(split) => split,
        Err(e) => {
            eprintln!(
                "peer-hyper: {e}\nusage: peer-hyper --listen 127.0.0.1:PORT [--threads N] [--h2] \
                 [--cert FILE --key FILE]"
            );
            std::process::exit(2);
        }
    };
    let args = common::args_from("peer-hyper", rest.into_iter());
    let tls = match &flags.tls {
        Some((cert, key)) => match tls::config(cert, key, flags.h2) {
            Ok(config) => Some(TlsAcceptor::from(config)),
            Err(e) => {
                eprintln!("peer-hyper: {e}");
                std::process::exit(2);
            }
        },
        None => None,
    };
    let protocol = Protocol { h2: flags.h2, tls };
    let mut threads = Vec::new();
    for _ in 0..args.threads {
        let l = match listener(args.listen) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("peer-hyper: cannot listen on {}: {e}", args.listen);
                std::process::exit(1);
            }
        };
        let protocol = protocol.clone();
        threads.push(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            let local = tokio::task::LocalSet::new();
            if let Err(e) = local.block_on(&rt, serve(l, protocol)) {
                eprintln!("peer-hyper: {e}");
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
}
