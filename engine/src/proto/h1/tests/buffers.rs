//! Memory of quiet connections: a connection holds read and write buffers only while a
//! request is in progress; once it is answered and the client goes quiet, both are back
//! in the worker's pool, whatever the request was (pipelined, with a body, streamed).

use crate::testing::{get, post, run, settle, Bench, Gate};
use crate::{Request, Response};

/// Waits at the gate, reads the body, answers with its length.
fn gated(gate: Gate) -> impl crate::Handler {
    move |mut req: Request| {
        let gate = gate.clone();
        async move {
            gate.pass().await;
            let body = req.body_mut().to_bytes(1 << 20).await.unwrap_or_default();
            Response::new(format!("{}", body.len()))
        }
    }
}

#[test]
fn quiet_connections_hold_no_buffers() {
    const CONNECTIONS: usize = 4;
    run(async {
        let gate = Gate::default();
        let bench = Bench::new(gated(gate.clone()), |_| {});
        let mut clients: Vec<_> = (0..CONNECTIONS).map(|_| bench.connect()).collect();
        settle().await;
        assert_eq!(bench.pool_allocated(), 0, "connecting takes no buffer");
        let requests = [
            get("/plain"),
            post("/body", &[b'b'; 3000]),
            [get("/one"), get("/two")].concat(),
            b"POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
              4\r\nabcd\r\n0\r\n\r\n"
                .to_vec(),
        ];
        for (c, r) in clients.iter_mut().zip(&requests) {
            c.send(r).await;
        }
        settle().await;
        // Every request is in progress (at the gate): each connection holds its read
        // buffer.
        assert_eq!(gate.arrived(), CONNECTIONS as u64);
        let busy_idle = bench.pool_idle() as u64;
        assert!(
            bench.pool_allocated() - busy_idle >= CONNECTIONS as u64,
            "{} allocated, {busy_idle} idle",
            bench.pool_allocated()
        );
        gate.open();
        for (c, expected) in clients.iter_mut().zip(["0", "3000", "0", "4"]) {
            assert_eq!(c.response(false).await.text(), expected);
        }
        assert_eq!(clients[2].response(false).await.text(), "0");
        settle().await;
        assert_eq!(
            bench.pool_idle() as u64,
            bench.pool_allocated(),
            "every buffer is back in the pool"
        );
        // The next round reuses them.
        let allocated = bench.pool_allocated();
        for c in clients.iter_mut() {
            c.send(&get("/again")).await;
            assert_eq!(c.response(false).await.text(), "0");
        }
        settle().await;
        assert_eq!(bench.pool_allocated(), allocated);
        assert_eq!(bench.pool_idle() as u64, allocated);
        assert_eq!(bench.active(), CONNECTIONS);
    });
}
