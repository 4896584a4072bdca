//! The accept loop's fairness, over in-memory connections from a scripted acceptor: a
//! flood of new connections cannot keep an established one waiting, and a busy
//! established connection cannot keep a new one waiting.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use bytes::BytesMut;
use monoio::io::CancelHandle;

use super::{Acceptor, ACCEPT_BATCH};
use crate::testing::{get, run, Bench, Client};
use crate::transport::memory::{pipe, MemoryStream};
use crate::{Request, Response};

/// Connections for the accept loop: those queued by the test, then (when `endless`)
/// a new one every time, up to `limit` in all.
#[derive(Clone, Default)]
struct Script(Rc<RefCell<ScriptState>>);

#[derive(Default)]
struct ScriptState {
    queued: VecDeque<MemoryStream>,
    endless: bool,
    accepted: usize,
    limit: usize,
    waker: Option<Waker>,
}

impl Script {
    fn push(&self, server_end: MemoryStream) {
        let mut s = self.0.borrow_mut();
        s.queued.push_back(server_end);
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    }

    fn accepted(&self) -> usize {
        self.0.borrow().accepted
    }

    fn next(&self) -> Option<MemoryStream> {
        let mut s = self.0.borrow_mut();
        if s.accepted >= s.limit {
            return None;
        }
        let conn = s.queued.pop_front().or_else(|| {
            // A client that connects and leaves at once.
            s.endless.then(|| pipe(1024).1)
        })?;
        s.accepted += 1;
        Some(conn)
    }
}

impl Acceptor for Script {
    type Conn = MemoryStream;

    async fn accept(&self, _cancel: CancelHandle) -> io::Result<MemoryStream> {
        std::future::poll_fn(|cx| match self.next() {
            Some(conn) => Poll::Ready(Ok(conn)),
            None => {
                self.0.borrow_mut().waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    fn accept_queued(&self) -> io::Result<Option<MemoryStream>> {
        Ok(self.next())
    }

    fn fd(&self) -> std::os::fd::RawFd {
        -1
    }
}

/// A handler that logs the paths it sees, in order.
fn logging() -> (
    impl Fn(Request) -> std::future::Ready<Response> + Clone + Send + 'static,
    Arc<Mutex<Vec<String>>>,
) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let handler = move |req: Request| {
        log.lock().unwrap().push(req.path().to_string());
        std::future::ready(Response::new("ok"))
    };
    (handler, seen)
}

#[test]
fn a_flood_of_new_connections_does_not_starve_an_established_one() {
    run(async {
        let (handler, _) = logging();
        let bench = Bench::new(handler, |_| {});
        let mut established = bench.connect();
        let script = Script::default();
        {
            let mut s = script.0.borrow_mut();
            s.endless = true;
            s.limit = 100_000;
        }
        bench.accept_from(script.clone());
        established.send(&get("/established")).await;
        assert_eq!(established.response(false).await.status, 200);
        // Served after a few turns of the accept loop, not after the flood ended.
        let accepted = script.accepted();
        assert!(
            accepted <= 4 * ACCEPT_BATCH,
            "the established connection waited for {accepted} accepts"
        );
    });
}

#[test]
fn a_busy_established_connection_does_not_starve_a_new_one() {
    run(async {
        let (handler, seen) = logging();
        let mut bench = Bench::new(handler, |_| {});
        // Room for every request and every answer: the greedy client never waits.
        bench.pipe_capacity = 1 << 20;
        let mut greedy = bench.connect();
        let script = Script::default();
        script.0.borrow_mut().limit = usize::MAX;
        bench.accept_from(script.clone());
        let flood: Vec<u8> = (0..1000).flat_map(|_| get("/greedy")).collect();
        greedy.send(&flood).await;
        let (mut newcomer, server_end) = pipe(64 * 1024);
        script.push(server_end);
        let request = get("/newcomer");
        assert_eq!(newcomer.try_write(&request), request.len());
        let mut newcomer = Client {
            stream: newcomer,
            buf: BytesMut::new(),
        };
        assert_eq!(newcomer.response(false).await.status, 200);
        let at = seen
            .lock()
            .unwrap()
            .iter()
            .position(|p| p == "/newcomer")
            .expect("served");
        assert!(at <= 256, "the new connection waited for {at} requests");
        for _ in 0..1000 {
            assert_eq!(greedy.response(false).await.status, 200);
        }
    });
}

#[test]
fn after_shutdown_no_accept_starts() {
    run(async {
        let (handler, _) = logging();
        let bench = Bench::new(handler, |_| {});
        let script = Script::default();
        script.0.borrow_mut().limit = usize::MAX;
        bench.accept_from(script.clone());
        crate::testing::settle().await;
        // Shutdown, and a burst queued at the same moment: the pending accept's
        // connection is served, the rest stay queued (a restart's new copy takes them).
        bench.shutdown();
        for _ in 0..300 {
            script.push(pipe(1024).1);
        }
        crate::testing::settle().await;
        assert_eq!(script.accepted(), 1);
    });
}

#[test]
fn drained_waits_for_the_accept_loops_to_end() {
    run(async {
        let (handler, _) = logging();
        let bench = Bench::new(handler, |_| {});
        let shard = bench.shard();
        // Every connection ended after shutdown began, but an accept loop still runs:
        // it may yet start one, so the worker is not drained.
        shard.enter();
        shard.shutdown.fire();
        shard.leave();
        assert!(!shard.drained.is_fired());
        // A connection it started then, still open when the loops end.
        shard.enter();
        shard.accepting_ended();
        assert!(!shard.drained.is_fired());
        shard.leave();
        assert!(shard.drained.is_fired());
    });
}

#[test]
fn drained_fires_when_the_accept_loops_end_with_no_connection_open() {
    run(async {
        let (handler, _) = logging();
        let bench = Bench::new(handler, |_| {});
        let shard = bench.shard();
        shard.shutdown.fire();
        shard.accepting_ended();
        assert!(shard.drained.is_fired());
    });
}
