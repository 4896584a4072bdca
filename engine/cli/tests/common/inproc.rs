//! An in-process server: the library (`peregrine::Server`) with a handler written in the
//! test, for what the binary's sample application cannot do (panicking handlers and
//! body streams, per-request body limits, the raw target). One worker by default,
//! unpinned, no signal handling, a short shutdown timeout; stopped and joined on drop.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Backend, Client};

/// A running in-process server.
pub struct InProc {
    addr: SocketAddr,
    handle: peregrine::ShutdownHandle,
    running: Option<peregrine::Running>,
}

impl InProc {
    /// Start `handler` on 127.0.0.1:0 on `backend`, after `configure` adjusted the
    /// options (one worker unless it says otherwise).
    pub fn start<H: peregrine::Handler>(
        backend: Backend,
        handler: H,
        configure: impl FnOnce(&mut peregrine::Options),
    ) -> InProc {
        let choice = match backend {
            Backend::IoUring => peregrine::BackendChoice::IoUring,
            Backend::Epoll => peregrine::BackendChoice::Epoll,
        };
        let mut o = peregrine::Options::default()
            .urls("http://127.0.0.1:0")
            .expect("a valid URL")
            .threads(1)
            .backend(choice);
        o.handle_signals = false;
        o.pin_workers = false;
        o.shutdown_timeout = Duration::from_secs(2);
        configure(&mut o);
        let server = peregrine::Server::bind(o).expect("bind the in-process server");
        let running = server.start(handler).expect("start the in-process server");
        let url = &running.addresses()[0];
        let addr = url
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("not an IP address: {url}"));
        InProc {
            addr,
            handle: running.shutdown_handle(),
            running: Some(running),
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A new client connection.
    pub fn connect(&self) -> Client {
        Client::tcp(self.addr)
    }

    /// Start a graceful shutdown and wait for the server to stop on a thread of its own;
    /// the receiver gets `()` once it has (so the caller can bound the wait).
    pub fn shutdown_in_background(&mut self) -> std::sync::mpsc::Receiver<()> {
        self.handle.shutdown();
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(r) = self.running.take() {
            std::thread::spawn(move || {
                r.wait();
                let _ = tx.send(());
            });
        }
        rx
    }

    /// Each worker's latest published counters (at most a second old).
    pub fn snapshots(&self) -> Vec<peregrine::metrics::Snapshot> {
        self.running
            .as_ref()
            .map(|r| r.metrics().snapshots())
            .unwrap_or_default()
    }
}

impl Drop for InProc {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(r) = self.running.take() {
            r.wait();
        }
    }
}
