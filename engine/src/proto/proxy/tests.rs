//! PROXY headers over the in-memory pipe, the clock ticked by hand: the source address
//! reaches the handler (version 1 and 2, split byte by byte, pipelined requests behind
//! it), `LOCAL` keeps the real one, refusals close without a word and count as
//! `rejected`, a silent client meets the request-headers timeout, and a graceful
//! shutdown closes a connection still waiting for its header.

use std::time::Duration;

use crate::metrics::CloseReason;
use crate::testing::{get, run, settle, Bench, Client};
use crate::{Request, Response};

/// Answers the client's address as the connection reports it.
async fn remote(req: Request) -> Response {
    Response::new(req.conn_info().remote_addr.to_string())
}

fn proxied(o: &mut crate::Options) {
    o.proxy_protocol = true;
    o.request_headers_timeout = Duration::from_secs(3);
}

const V1: &[u8] = b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n";

/// A version 2 header: PROXY over TCP6 from `[2001:db8::7]:1234`, with one TLV.
fn v2_tcp6() -> Vec<u8> {
    let mut h = peregrine_protocol::proxy::v2::SIGNATURE.to_vec();
    h.extend_from_slice(&[0x21, 0x21, 0, 36 + 5]);
    h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
    h.extend_from_slice(&[0; 15]);
    h.push(1);
    h.extend_from_slice(&1234u16.to_be_bytes());
    h.extend_from_slice(&443u16.to_be_bytes());
    h.extend_from_slice(&[0x01, 0, 2, b'h', b'2']);
    h
}

/// The connection closed without the server sending anything.
async fn closed_quietly(c: &mut Client) {
    let rest = c.closed().await;
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
}

#[test]
fn v1_source_reaches_the_handler_with_pipelined_requests() {
    run(async {
        let bench = Bench::new(remote, proxied);
        let mut c = bench.connect();
        let mut bytes = V1.to_vec();
        bytes.extend_from_slice(&get("/a"));
        bytes.extend_from_slice(&get("/b"));
        c.send(&bytes).await;
        for _ in 0..2 {
            let r = c.response(false).await;
            assert_eq!((r.status, r.text().as_str()), (200, "203.0.113.7:51000"));
        }
    });
}

#[test]
fn v2_split_byte_by_byte() {
    run(async {
        let bench = Bench::new(remote, proxied);
        let mut c = bench.connect();
        let mut bytes = v2_tcp6();
        bytes.extend_from_slice(&get("/"));
        for b in bytes {
            c.send(&[b]).await;
            settle().await;
        }
        let r = c.response(false).await;
        assert_eq!(r.text(), "[2001:db8::7]:1234");
    });
}

#[test]
fn local_and_unknown_keep_the_real_address() {
    run(async {
        let bench = Bench::new(remote, proxied);
        let mut local = peregrine_protocol::proxy::v2::SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 0]);
        for header in [&local[..], b"PROXY UNKNOWN\r\n"] {
            let mut c = bench.connect();
            let mut bytes = header.to_vec();
            bytes.extend_from_slice(&get("/"));
            c.send(&bytes).await;
            assert_eq!(c.response(false).await.text(), "memory:client");
        }
    });
}

#[test]
fn refused_headers_close_quietly_and_count_as_rejected() {
    run(async {
        let bench = Bench::new(remote, proxied);
        let mut oversized = peregrine_protocol::proxy::v2::SIGNATURE.to_vec();
        oversized.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        let cases: [&[u8]; 4] = [
            &get("/"),
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            &[b'P'; 200][..],
            &oversized,
        ];
        for (i, bytes) in cases.iter().enumerate() {
            let mut c = bench.connect();
            c.send(bytes).await;
            closed_quietly(&mut c).await;
            bench.drained().await;
            assert_eq!(bench.closed_by(CloseReason::Rejected), i as u64 + 1);
        }
    });
}

#[test]
fn a_silent_client_meets_the_request_headers_timeout() {
    run(async {
        let bench = Bench::new(remote, proxied);
        let mut c = bench.connect();
        c.send(&V1[..10]).await;
        settle().await;
        for _ in 0..3 {
            bench.tick();
            settle().await;
        }
        assert!(c.open().await, "closed before its timeout");
        bench.tick();
        closed_quietly(&mut c).await;
        bench.drained().await;
        assert_eq!(bench.closed_by(CloseReason::HeadersTimeout), 1);
    });
}

#[test]
fn shutdown_closes_a_connection_waiting_for_its_header() {
    run(async {
        let bench = Bench::new(remote, proxied);
        let mut c = bench.connect();
        settle().await;
        bench.shutdown();
        closed_quietly(&mut c).await;
        bench.drained().await;
        assert_eq!(bench.closed_by(CloseReason::Shutdown), 1);
    });
}
