//! Accepting: a burst of connections larger than one accept batch, over TCP and a unix
//! socket, with one worker: every connection is taken (the one waited for and those
//! taken from the queue by hand, blocking on io_uring, non-blocking on epoll) and served
//! like any other, its peer address known. Each case runs on both backends.

#[macro_use]
mod common;

use common::*;

/// More than `accept::ACCEPT_BATCH` (128): the loop waits, drains a full batch, yields
/// and goes on.
const BURST: usize = 400;

fn burst(backend: Backend) {
    let dir = TempDir::new("burst");
    let path = dir.join("burst.sock");
    let unix = format!("http://unix:{}", path.display());
    let s = Server::start(
        backend,
        &[
            "--urls",
            &format!("http://127.0.0.1:0;{unix}"),
            "--threads",
            "1",
            "--backlog",
            "1024",
        ],
    );
    for listener in 0..2 {
        // Every client connects and sends its request before any answer is read, so
        // the connections queue up behind the listener together.
        let mut clients: Vec<Client> = (0..BURST).map(|_| s.connect(listener)).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            c.send(format!("GET /request?i={i} HTTP/1.1\r\nHost: t\r\n\r\n"));
        }
        for (i, c) in clients.iter_mut().enumerate() {
            let r = c.read_response();
            assert_eq!(r.status, 200, "connection {i}");
            let j = r.json();
            assert_eq!(j["query"], format!("i={i}"));
            if s.is_unix(listener) {
                assert_eq!(j["local_addr"], format!("unix:{}", path.display()));
            } else {
                assert_eq!(j["remote_addr"], c.local_addr().to_string());
            }
            // The connection stays usable.
            assert_eq!(c.get("/plaintext").status, 200);
        }
    }
}
both_backends!(a_burst_of_connections_is_served_whole, burst);
