//! The worker's table of open connections: what each is doing and since when.
//!
//! Waiting connections are woken by the worker, not by per-request timers: at shutdown,
//! and once a second by the ticker for connections whose wait ran out, the worker calls
//! `shutdown(fd, SHUT_RD)`, which completes the connection's pending readiness wait (or
//! read) with end-of-stream. The connection then looks at why it was woken. This keeps
//! the per-request cost to two stores into this table.

use std::cell::RefCell;
use std::os::fd::RawFd;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the next request, holding no buffers.
    Idle,
    /// Reading a request head.
    Head,
    /// Running the handler or writing a response.
    Busy,
}

/// Why the worker woke a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kick {
    /// The server is shutting down.
    Shutdown,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    fd: RawFd,
    phase: Phase,
    kicked: Option<Kick>,
    live: bool,
}

/// Index of a connection in the table.
pub(crate) type ConnId = u32;

#[derive(Debug, Default)]
pub(crate) struct Registry {
    entries: RefCell<Vec<Entry>>,
    free: RefCell<Vec<ConnId>>,
}

impl Registry {
    /// Add a connection (in the `Head` phase).
    pub fn register(&self, fd: RawFd) -> ConnId {
        let entry = Entry {
            fd,
            phase: Phase::Head,
            kicked: None,
            live: true,
        };
        let mut entries = self.entries.borrow_mut();
        match self.free.borrow_mut().pop() {
            Some(id) => {
                entries[id as usize] = entry;
                id
            }
            None => {
                entries.push(entry);
                (entries.len() - 1) as ConnId
            }
        }
    }

    /// Remove a connection (before its descriptor is closed).
    pub fn unregister(&self, id: ConnId) {
        if let Some(e) = self.entries.borrow_mut().get_mut(id as usize) {
            e.live = false;
            e.kicked = None;
            self.free.borrow_mut().push(id);
        }
    }

    /// Record the phase a connection enters.
    #[inline]
    pub fn set_phase(&self, id: ConnId, phase: Phase) {
        if let Some(e) = self.entries.borrow_mut().get_mut(id as usize) {
            e.phase = phase;
        }
    }

    /// Why the connection was woken, if it was.
    #[inline]
    pub fn kicked(&self, id: ConnId) -> Option<Kick> {
        self.entries
            .borrow()
            .get(id as usize)
            .and_then(|e| e.kicked)
    }

    /// Wake every idle connection: the server is shutting down.
    pub fn kick_idle(&self) {
        let mut entries = self.entries.borrow_mut();
        for e in entries.iter_mut() {
            if e.live && e.phase == Phase::Idle && e.kicked.is_none() {
                e.kicked = Some(Kick::Shutdown);
                wake(e.fd);
            }
        }
    }
}

/// Make the pending read side of `fd` complete with end-of-stream.
fn wake(fd: RawFd) {
    // SAFETY: `fd` belongs to a live connection of this worker (entries are removed
    // before their descriptor closes); shutdown(2) has no memory effects.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RD);
    }
}
