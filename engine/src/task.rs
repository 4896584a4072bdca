//! A connection's task: the connection's future and what the worker does around it.
//! Each poll is counted (the run-queue probe in [`crate::fair`] reads the count); a
//! panic anywhere in the connection (the handler's own panics are answered with a 500
//! earlier) ends this connection only, never the worker; and its end is accounted for.
//!
//! A plain future rather than an `async` block around the connection's future: such a
//! block keeps the future it captured beside the one it awaits, so every connection's
//! task would hold its state twice for its whole life.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::handler::Handler;
use crate::metrics::{bump, CloseReason};
use crate::proto::Served;
use crate::registry::ConnId;
use crate::shard::Shard;

pin_project_lite::pin_project! {
    /// A connection's future as the worker runs it (see the module documentation).
    pub(crate) struct ConnTask<H: Handler, F> {
        #[pin]
        conn: F,
        shard: Rc<Shard<H>>,
        id: ConnId,
    }
}

impl<H: Handler, F: Future<Output = Served>> ConnTask<H, F> {
    /// The task for connection `id`, whose future is `conn`.
    pub fn new(shard: Rc<Shard<H>>, id: ConnId, conn: F) -> Self {
        ConnTask { conn, shard, id }
    }
}

impl<H: Handler, F: Future<Output = Served>> Future for ConnTask<H, F> {
    type Output = ();

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let shard = &**this.shard;
        bump(&shard.counters.polls, 1);
        let conn = this.conn;
        // The future is never polled again after a panic (the task ends here and
        // drops it), so nobody observes its broken state: AssertUnwindSafe is sound.
        let served = match catch_unwind(AssertUnwindSafe(|| conn.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(served)) => Some(served),
            Err(_) => {
                tracing::error!("a connection task panicked; the connection was dropped");
                bump(&shard.counters.panics, 1);
                shard.counters.closed(CloseReason::Aborted);
                None
            }
        };
        // Nothing ran since the connection's stream was dropped (or upgraded away), or,
        // after a panic, it is still open until the task drops the future: the sweep
        // cannot have seen its descriptor number reused.
        shard.registry.unregister(*this.id);
        if served != Some(Served::Upgraded) {
            // An upgraded connection left both counts when it switched.
            shard.http.release_connection();
            shard.leave();
        }
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{run, Bench};
    use crate::transport::memory::pipe;
    use crate::transport::Transport;
    use crate::{Request, Response};

    /// What an idle HTTP/1 connection costs is mostly its task: the HTTP/2 paths and the
    /// connection's parts must not be kept in it beside the HTTP/1 state (they were:
    /// 6,144 bytes, and 7,778 bytes of RSS per idle connection).
    #[test]
    fn an_http1_connection_task_stays_small() {
        run(async {
            async fn ok(_req: Request) -> Response {
                Response::new("ok")
            }
            let bench = Bench::new(ok, |_| {});
            let shard = bench.shard().clone();
            let (_client, server) = pipe(1024);
            let id = shard.registry.register(server.interrupt());
            let task = ConnTask::new(shard.clone(), id, crate::proto::serve(shard, server, id));
            let size = std::mem::size_of_val(&task);
            assert!(size <= 384, "an HTTP/1 connection's task is {size} bytes");
        });
    }
}
