//! The admin listener (`--metrics-urls`): `GET /metrics` in Prometheus text format, served
//! by one plain blocking thread per listening socket, away from the workers. One request
//! per connection; anything else gets 404, a bad request 400.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::time::Duration;

use peregrine_protocol::h1::parse::{RequestHead, RequestParser};
use peregrine_protocol::h1::Status;

use crate::error::Error;
use crate::listen::{self, BindOptions, Endpoint, EndpointSockets};
use crate::metrics::Board;
use crate::url::BindAddress;

/// Bind the admin addresses — or take `passed`, the admin sockets passed to us (socket
/// activation, a restart), when there are some — and start serving them. Returns the
/// display names and the endpoints kept for a restart and for removing unix socket files
/// at shutdown (their TCP sockets are copies of the ones the threads accept on).
pub(crate) fn start(
    addrs: &[BindAddress],
    passed: Vec<Endpoint>,
    board: Board,
) -> Result<(Vec<String>, Vec<Endpoint>), Error> {
    let opts = BindOptions {
        workers: 1,
        backlog: 64,
        port_sharing: false,
        unix_socket_mode: None,
    };
    let endpoints = if passed.is_empty() {
        listen::bind_all(addrs, &opts).map_err(|e| e.prefixed("metrics: "))?
    } else {
        passed
    };
    let copy = |e: std::io::Error| Error::Start(format!("metrics: {e}"));
    let mut names = Vec::new();
    for ep in &endpoints {
        names.push(ep.display.clone());
        match &ep.sockets {
            EndpointSockets::Tcp(groups) => {
                for l in groups.iter().flatten() {
                    spawn_tcp(l.try_clone().map_err(copy)?, board.clone()).map_err(Error::Start)?;
                }
            }
            EndpointSockets::SharedTcp(l) => {
                spawn_tcp(l.try_clone().map_err(copy)?, board.clone()).map_err(Error::Start)?;
            }
            EndpointSockets::Unix(file) => {
                let l = file.listener.try_clone().map_err(copy)?;
                spawn_unix(l, board.clone()).map_err(Error::Start)?;
            }
        }
    }
    Ok((names, endpoints))
}

fn spawn_tcp(l: TcpListener, board: Board) -> Result<(), String> {
    l.set_nonblocking(false).map_err(|e| e.to_string())?;
    spawn_acceptor(board, move |board| {
        for s in l.incoming().flatten() {
            serve_one(s, board, |s, t| {
                let _ = s.set_read_timeout(t);
                let _ = s.set_write_timeout(t);
            });
        }
    })
}

fn spawn_unix(l: UnixListener, board: Board) -> Result<(), String> {
    l.set_nonblocking(false).map_err(|e| e.to_string())?;
    spawn_acceptor(board, move |board| {
        for s in l.incoming().flatten() {
            serve_one(s, board, |s, t| {
                let _ = s.set_read_timeout(t);
                let _ = s.set_write_timeout(t);
            });
        }
    })
}

/// Run an accept loop on a thread of its own.
fn spawn_acceptor(
    board: Board,
    accept_loop: impl FnOnce(&Board) + Send + 'static,
) -> Result<(), String> {
    std::thread::Builder::new()
        .name("peregrine-metrics".into())
        .spawn(move || accept_loop(&board))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Bound the connection's reads and writes, then answer it.
fn serve_one<S: Read + Write>(
    mut s: S,
    board: &Board,
    set_timeouts: impl Fn(&mut S, Option<Duration>),
) {
    set_timeouts(&mut s, Some(Duration::from_secs(5)));
    answer(s, board);
}

fn answer<S: Read + Write>(mut s: S, board: &Board) {
    let mut buf = Vec::with_capacity(1024);
    let mut parser = RequestParser::new(Default::default());
    let mut head = RequestHead::default();
    let mut chunk = [0u8; 1024];
    let path_ok = loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        match parser.parse(&buf, &mut head) {
            Ok(Status::Complete(_)) => {
                let method = head.method.of(&buf);
                break (method == b"GET" || method == b"HEAD") && head.path.of(&buf) == b"/metrics";
            }
            Ok(Status::Partial) if buf.len() < 64 * 1024 => continue,
            _ => {
                let _ = s.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                return;
            }
        }
    };
    if !path_ok {
        let _ = s
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    let body = board.render();
    let head_only = head.method.of(&buf) == b"HEAD";
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    let _ = s.write_all(&out);
}
