//! Fairness between connections of one worker: a client that keeps its pipeline full
//! (its reads return at once, as on the readiness backend) gives way to its neighbours
//! every `FAIR_TURN` requests instead of being served to the end first.

use std::sync::{Arc, Mutex};

use crate::testing::{get, run, Bench};
use crate::{Request, Response};

#[test]
fn a_full_pipeline_does_not_starve_a_neighbour() {
    run(async {
        // Which requests the handler saw, in order.
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = seen.clone();
        let handler = move |req: Request| {
            log.lock().unwrap().push(req.path().to_string());
            async { Response::new("ok") }
        };
        let mut bench = Bench::new(handler, |_| {});
        // Room for every request and every answer: nothing ever waits on the pipe.
        bench.pipe_capacity = 1 << 20;
        let mut greedy = bench.connect();
        let mut neighbour = bench.connect();
        let flood: Vec<u8> = (0..1000).flat_map(|_| get("/greedy")).collect();
        greedy.send(&flood).await;
        neighbour.send(&get("/neighbour")).await;
        let r = neighbour.response(false).await;
        assert_eq!(r.status, 200);
        let at = seen
            .lock()
            .unwrap()
            .iter()
            .position(|p| p == "/neighbour")
            .expect("served");
        // The greedy connection was served first (its task started first), for one
        // turn plus what its last read held; then the neighbour got its turn.
        assert_eq!(super::super::FAIR_TURN, 128);
        assert!(
            at <= 256,
            "the neighbour waited for {at} requests of the greedy pipeline"
        );
        for _ in 0..1000 {
            assert_eq!(greedy.response(false).await.status, 200);
        }
    });
}
