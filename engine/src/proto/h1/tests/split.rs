//! Requests split at every byte: a head with a Content-Length body and a chunked body
//! (extensions, a trailer) sent one byte at a time, and in two writes at every split
//! point, are answered exactly as when sent whole.

use bytes::Bytes;

use crate::testing::{run, settle, Bench, Client, Reply};
use crate::{Request, Response};

/// Answers with what it saw: method, path, query, one header and the whole body.
async fn describe(mut req: Request) -> Response {
    let head = format!(
        "{} {} q={:?} x={:?} ",
        req.method(),
        req.path(),
        req.query(),
        req.header_str("x-test"),
    );
    let body = match req.body_mut().to_bytes(1 << 20).await {
        Ok(b) => b,
        Err(e) => Bytes::from(format!("error: {e}")),
    };
    let mut out = head.into_bytes();
    out.extend_from_slice(b"body=");
    out.extend_from_slice(&body);
    Response::new(out)
}

const WITH_LENGTH: &[u8] = b"POST /split/here?q=1 HTTP/1.1\r\nHost: t\r\nX-Test: some value\r\n\
    Content-Length: 11\r\n\r\nhello world";

const CHUNKED: &[u8] = b"POST /chunks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\
    X-Test: c\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-Field: x\r\n\r\n";

/// What must not differ between two answers to the same request.
fn essence(r: &Reply) -> (u16, Vec<(String, String)>, Vec<u8>, bool) {
    (r.status, r.headers.clone(), r.body.clone(), r.keep_alive)
}

/// Send `request` in pieces ending at `cuts`, letting the server run after each.
async fn send_cut(c: &mut Client, request: &[u8], cuts: &[usize]) {
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&request.len())) {
        c.send(&request[from..to]).await;
        settle().await;
        from = to;
    }
}

/// `request` answered whole, then cut at every byte, then in two writes at every point.
fn same_answer_however_split(request: &'static [u8], expected_body: &str) {
    run(async {
        let bench = Bench::new(describe, |_| {});
        let mut c = bench.connect();
        c.send(request).await;
        let whole = c.response(false).await;
        assert_eq!(whole.status, 200);
        assert_eq!(whole.text(), expected_body);
        let reference = essence(&whole);
        drop(c);

        // One byte at a time, on a new connection.
        let mut c = bench.connect();
        let every: Vec<usize> = (1..request.len()).collect();
        let reads_before = bench.reads();
        send_cut(&mut c, request, &every).await;
        assert_eq!(essence(&c.response(false).await), reference, "byte by byte");
        assert!(
            bench.reads() - reads_before >= request.len() as u64,
            "the server read each byte on its own"
        );
        drop(c);

        // Two writes, at every split point, one after another on one connection.
        let mut c = bench.connect();
        for at in 1..request.len() {
            send_cut(&mut c, request, &[at]).await;
            assert_eq!(
                essence(&c.response(false).await),
                reference,
                "split after {at} bytes: {:?} | {:?}",
                String::from_utf8_lossy(&request[..at]),
                String::from_utf8_lossy(&request[at..])
            );
        }
        assert!(c.nothing_more().await);
        drop(c);
        bench.drained().await;
    });
}

#[test]
fn a_content_length_request_split_anywhere_gets_the_same_answer() {
    same_answer_however_split(
        WITH_LENGTH,
        "POST /split/here q=Some(\"q=1\") x=Some(\"some value\") body=hello world",
    );
}

#[test]
fn a_chunked_request_split_anywhere_gets_the_same_answer() {
    same_answer_however_split(
        CHUNKED,
        "POST /chunks q=None x=Some(\"c\") body=hello world",
    );
}
