//! hyper peer: one thread per `--threads`, each with its own tokio `current_thread`
//! runtime and its own `SO_REUSEPORT` listener (the layout of TechEmpower's hyper entry);
//! HTTP/1.1 only, responses flushed once per pipelined batch, hyper's cached Date header.

#[path = "../../common.rs"]
mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, SERVER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use socket2::{Domain, Socket, Type};

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (ctype, body) = match req.uri().path() {
        "/plaintext" => ("text/plain", Bytes::from_static(common::PLAINTEXT.as_bytes())),
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

async fn serve(std_listener: std::net::TcpListener) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(std_listener)?;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        tokio::task::spawn_local(async move {
            let _ = http1::Builder::new()
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .await;
        });
    }
}

fn main() {
    let args = common::args("peer-hyper");
    let mut threads = Vec::new();
    for _ in 0..args.threads {
        let l = match listener(args.listen) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("peer-hyper: cannot listen on {}: {e}", args.listen);
                std::process::exit(1);
            }
        };
        threads.push(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            let local = tokio::task::LocalSet::new();
            if let Err(e) = local.block_on(&rt, serve(l)) {
                eprintln!("peer-hyper: {e}");
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
}
