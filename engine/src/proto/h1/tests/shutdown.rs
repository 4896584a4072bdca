//! Graceful shutdown: idle connections close at once with nothing said; a new one gets
//! a moment for its first request (answered with `Connection: close`), then closes; a
//! request in flight finishes, its answer says
//! `Connection: close`, and then its connection closes; a head being read is finished
//! and answered the same way.

use crate::metrics::CloseReason;
use crate::testing::{get, run, settle, Bench, Gate};
use crate::{Request, Response};

/// Waits at the gate, then answers with the path.
fn gated(gate: Gate) -> impl crate::Handler {
    move |req: Request| {
        let gate = gate.clone();
        async move {
            gate.pass().await;
            Response::new(req.path().to_string())
        }
    }
}

#[test]
fn shutdown_closes_idle_connections_at_once() {
    run(async {
        let gate = Gate::default();
        gate.open();
        let bench = Bench::new(gated(gate), |_| {});
        let mut used = bench.connect();
        used.send(&get("/a")).await;
        assert_eq!(used.response(false).await.text(), "/a");
        let mut fresh = bench.connect();
        let mut late = bench.connect();
        settle().await;
        assert_eq!(bench.active(), 3);
        bench.shutdown();
        let rest = used.closed().await;
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
        // A new connection's first request, sent just after the shutdown began, is
        // answered (it was on its way when the client connected).
        late.send(&get("/late")).await;
        let r = late.response(false).await;
        assert_eq!(
            (r.text().as_str(), r.header("connection")),
            ("/late", Some("close"))
        );
        // One that sends nothing closes after the grace.
        let rest = fresh.closed().await;
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
        bench.drained().await;
        assert_eq!(bench.closed_by(CloseReason::Shutdown), 2);
    });
}

#[test]
fn shutdown_lets_a_request_in_flight_finish() {
    run(async {
        let gate = Gate::default();
        let bench = Bench::new(gated(gate.clone()), |_| {});
        let mut busy = bench.connect();
        busy.send(&get("/busy")).await;
        let mut idle = bench.connect();
        settle().await;
        assert_eq!(gate.arrived(), 1);
        bench.shutdown();
        assert!(idle.closed().await.is_empty(), "the idle one goes at once");
        assert!(busy.nothing_more().await && busy.open().await);
        assert_eq!(bench.active(), 1);
        gate.open();
        let r = busy.response(false).await;
        assert_eq!((r.status, r.text().as_str()), (200, "/busy"));
        assert_eq!(r.header("connection"), Some("close"));
        assert!(busy.closed().await.is_empty());
        drop((busy, idle));
        bench.drained().await;
    });
}

#[test]
fn shutdown_lets_a_head_being_read_be_answered() {
    run(async {
        let gate = Gate::default();
        gate.open();
        let bench = Bench::new(gated(gate), |_| {});
        let mut c = bench.connect();
        c.send(b"GET /partial HTTP/1.1\r\n").await;
        settle().await;
        bench.shutdown();
        assert!(c.open().await);
        c.send(b"Host: t\r\n\r\n").await;
        let r = c.response(false).await;
        assert_eq!(r.text(), "/partial");
        assert!(!r.keep_alive);
        assert!(c.closed().await.is_empty());
        drop(c);
        bench.drained().await;
    });
}

#[test]
fn shutdown_answers_the_pipelined_request_in_flight_and_no_more() {
    run(async {
        let gate = Gate::default();
        let bench = Bench::new(gated(gate.clone()), |_| {});
        let mut c = bench.connect();
        let mut both = get("/first");
        both.extend(get("/second"));
        c.send(&both).await;
        settle().await;
        bench.shutdown();
        gate.open();
        let r = c.response(false).await;
        assert_eq!(r.text(), "/first");
        assert_eq!(r.header("connection"), Some("close"));
        assert!(c.closed().await.is_empty(), "/second is not answered");
        assert_eq!(bench.counters().requests(), 1);
    });
}
