//! Backpressure over a small pipe: a streamed response is produced only as fast as the
//! client reads it; a request body is read only as fast as the handler asks for it (the
//! client's writes wait); pipelined requests whose answers are not read stop being read.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::testing::{run, settle, Bench, Gate, Tally};
use crate::{Body, Request, Response};

/// Pieces of `size` bytes, `count` of them, produced on demand and counted.
struct Counted {
    left: usize,
    size: usize,
    produced: Tally,
}

impl futures_core::Stream for Counted {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        self.produced.add(self.size as u64);
        let byte = b'a' + (self.left % 26) as u8;
        Poll::Ready(Some(Ok(Bytes::from(vec![byte; self.size]))))
    }
}

#[test]
fn a_streamed_response_advances_only_as_the_client_reads() {
    const PIECE: usize = 4096;
    const PIECES: usize = 256;
    const CAPACITY: usize = 4096;
    // What may run ahead of the reader: the pipe, the write buffer (flushed from 16 KiB),
    // and the piece in hand, with chunk framing.
    const AHEAD: u64 = (CAPACITY + 16 * 1024 + 2 * PIECE) as u64;
    let produced = Tally::default();
    let tally = produced.clone();
    run(async move {
        let handler = move |_req: Request| {
            let produced = tally.clone();
            async move {
                Response::new(Body::from_stream(Counted {
                    left: PIECES,
                    size: PIECE,
                    produced,
                }))
            }
        };
        let mut bench = Bench::new(handler, |_| {});
        bench.pipe_capacity = CAPACITY;
        let mut c = bench.connect();
        c.send(&crate::testing::get("/big")).await;
        settle().await;
        let stalled = produced.get();
        assert!(stalled > 0 && stalled <= AHEAD, "produced {stalled} unread");
        settle().await;
        assert_eq!(produced.get(), stalled, "nothing more while nobody reads");
        // Read as it comes: production follows the reader, never far ahead.
        let mut reads = 0;
        while !c.buf.ends_with(b"\r\n0\r\n\r\n") {
            assert!(c.fill().await > 0);
            reads += 1;
            settle().await;
            let (made, read) = (produced.get(), c.buf.len() as u64);
            assert!(made <= read + AHEAD, "produced {made}, read {read}");
        }
        assert!(reads >= (PIECE * PIECES) / CAPACITY, "{reads} reads");
        assert_eq!(produced.get(), (PIECE * PIECES) as u64);
        let r = c.response(false).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), PIECE * PIECES);
        assert!(r.keep_alive);
    });
}

#[test]
fn a_request_body_is_read_only_as_the_handler_asks() {
    const CAPACITY: usize = 1024;
    const BODY: usize = 64 * 1024;
    let gate = Gate::default();
    let received = Tally::default();
    let (g, got) = (gate.clone(), received.clone());
    run(async move {
        let handler = move |mut req: Request| {
            let (gate, received) = (g.clone(), got.clone());
            async move {
                loop {
                    gate.pass().await;
                    match req.body_mut().chunk().await {
                        Some(Ok(chunk)) => received.add(chunk.len() as u64),
                        Some(Err(e)) => return Response::new(format!("error: {e}")),
                        None => break,
                    }
                }
                Response::new(format!("{}", received.get()))
            }
        };
        let mut bench = Bench::new(handler, |_| {});
        bench.pipe_capacity = CAPACITY;
        let mut c = bench.connect();
        let request = crate::testing::post("/upload", &vec![b'x'; BODY]);
        let head_len = request.len() - BODY;
        let sent = Tally::default();
        let done = sent.clone();
        let writer = monoio::spawn(async move {
            c.send(&request).await;
            done.add(1);
            c
        });
        settle().await;
        assert_eq!(gate.arrived(), 1, "the handler waits before its first read");
        assert_eq!(
            bench.bytes_in(),
            CAPACITY as u64,
            "one read for the head, no more"
        );
        // One chunk at a time: the server reads at most one pipe-full ahead of the
        // handler, and the client's write waits.
        let mut asked = 0;
        while sent.get() == 0 {
            gate.give(1);
            asked += 1;
            settle().await;
            let (read, handed) = (bench.bytes_in(), received.get());
            assert!(
                read <= head_len as u64 + handed + CAPACITY as u64,
                "read {read} for {handed} handed over"
            );
            assert!(asked < 1000, "the client never finished sending");
        }
        assert!(
            asked as usize >= BODY / CAPACITY,
            "{asked} reads for {BODY} bytes"
        );
        gate.open();
        let mut c = writer.await;
        let r = c.response(false).await;
        assert_eq!(r.text(), BODY.to_string());
    });
}

#[test]
fn unread_answers_stop_the_reading_of_pipelined_requests() {
    const CAPACITY: usize = 4096;
    const REQUESTS: usize = 100;
    async fn kilobyte(_req: Request) -> Response {
        Response::new(vec![b'k'; 1000])
    }
    run(async {
        let mut bench = Bench::new(kilobyte, |o| o.max_response_buffer_size = 8192);
        bench.pipe_capacity = CAPACITY;
        let mut c = bench.connect();
        let padding = "p".repeat(500);
        let one = format!("GET /k HTTP/1.1\r\nHost: t\r\nX-Pad: {padding}\r\n\r\n");
        let all = one.repeat(REQUESTS).into_bytes();
        // Send what the server takes, without reading.
        let mut sent = 0;
        for _ in 0..100 {
            sent += c.stream.try_write(&all[sent..]);
            settle().await;
        }
        let answered = bench.counters().requests();
        // Answers in the pipe and the write buffer, and the requests of one read.
        assert!(
            answered <= ((8192 + CAPACITY) / 1000 + CAPACITY / one.len() + 2) as u64,
            "{answered} requests answered with nobody reading"
        );
        assert!(
            sent <= (answered as usize + 1) * one.len() + 2 * CAPACITY,
            "{sent} bytes taken for {answered} answers"
        );
        assert_eq!(
            c.stream.unread_by_peer(),
            CAPACITY,
            "the server stopped reading"
        );
        // Reading the answers lets the rest through, in order, intact.
        c.send_reading(&all[sent..]).await;
        for i in 0..REQUESTS {
            let r = c.response(false).await;
            assert_eq!((r.status, r.body.len()), (200, 1000), "answer {i}");
        }
        assert!(c.nothing_more().await);
        assert_eq!(bench.counters().requests(), REQUESTS as u64);
    });
}
