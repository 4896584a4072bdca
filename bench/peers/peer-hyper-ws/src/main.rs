//! WebSocket peer for `bench/ws.sh`: hyper 1 serving `GET /ws` as an HTTP/1.1 upgrade,
//! tokio-tungstenite echoing every text and binary message on the upgraded connection
//! (no permessage-deflate: tungstenite has none). The thread layout of peer-hyper: one
//! thread per `--threads`, each with its own tokio `current_thread` runtime and its own
//! `SO_REUSEPORT` listener. Anything but `/ws` is 404.
//!
//!   peer-hyper-ws --listen 127.0.0.1:PORT [--threads N]

#[path = "../../common.rs"]
#[allow(dead_code)] // the TechEmpower bodies are not served here
mod common;
mod echo;

use std::net::SocketAddr;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use socket2::{Domain, Socket, Type};

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
            // `with_upgrades`: the connection is handed to the echo task after the 101.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(echo::handle))
                .with_upgrades()
                .await;
        });
    }
}

fn main() {
    let args = common::args("peer-hyper-ws");
    let mut threads = Vec::new();
    for _ in 0..args.threads {
        let l = match listener(args.listen) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("peer-hyper-ws: cannot listen on {}: {e}", args.listen);
                std::process::exit(1);
            }
        };
        threads.push(std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("peer-hyper-ws: tokio runtime: {e}");
                    std::process::exit(1);
                }
            };
            let local = tokio::task::LocalSet::new();
            if let Err(e) = local.block_on(&rt, serve(l)) {
                eprintln!("peer-hyper-ws: {e}");
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
}
