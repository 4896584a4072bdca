//! A connection between requests, parked outside its task's active state.
//!
//! An HTTP/1 connection that has nothing to do and no hot read (see `HOT_AFTER`) leaves
//! its active state: the [`Conn`](super::Conn), its buffers, its exchange and the state
//! of whatever it awaited are freed, and only [`Parked`] (the transport and a count)
//! waits for readiness in the connection's task. When bytes (or a kick) arrive, the task
//! builds the connection again ([`Conn::resume`](super::Conn::resume)) and it goes on
//! from the wait's result. An idle connection then costs its transport and a small task,
//! not the largest state any request ever needs (measured at 10,000 idle connections:
//! see ARCHITECTURE.md, memory); a connection that leaves and comes back pays one
//! allocation for its active state.

use std::io;

use crate::handler::Handler;
use crate::metrics::bump;
use crate::registry::{ConnId, Phase};
use crate::shard::Shard;
use crate::transport::Transport;

/// What a connection keeps while parked (see the module documentation).
pub(crate) struct Parked<T> {
    /// `None` only while the connection is active.
    pub(super) stream: Option<T>,
    /// Requests answered so far (none: a new connection, before its first request).
    pub(super) served: u32,
    /// The socket was found empty as it parked: the wait may be relaxed (no `poll(2)`
    /// on epoll; see [`Transport::probe_read`]).
    pub(super) relaxed_wait: bool,
    /// The wait's result, once it ended.
    pub(super) ready: Option<io::Result<()>>,
}

impl<T: Transport> Parked<T> {
    /// A new connection, before its first request (it waits inside its active state:
    /// a new connection's first wait has a shutdown grace of its own).
    pub(crate) fn fresh(stream: T) -> Self {
        Parked {
            stream: Some(stream),
            served: 0,
            relaxed_wait: false,
            ready: None,
        }
    }

    /// Wait until the transport is readable (or a kick ends the wait: the worker's
    /// interrupt, for timeouts and shutdown, makes it readable).
    pub(crate) async fn wait<H: Handler>(&mut self, shard: &Shard<H>, id: ConnId) {
        let Some(stream) = self.stream.as_ref() else {
            self.ready = Some(Err(io::ErrorKind::NotConnected.into()));
            return;
        };
        shard.registry.set_phase(id, Phase::Idle);
        bump(&shard.counters.waits, 1);
        self.ready = Some(stream.readable(self.relaxed_wait).await);
    }
}
