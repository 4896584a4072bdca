//! Server options: what to bind, how many workers, which backend, and the HTTP knobs.
//! The binary fills these from the command line, the environment and a TOML file
//! (`cli.rs`); embedders set them in code.

use std::time::Duration;

use crate::backend::BackendChoice;
use crate::url::{parse_urls, BindAddress, UrlError};

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// URL prefixes to listen on (default `http://localhost:5000`).
    pub urls: Vec<BindAddress>,
    /// Worker threads, one per core by default.
    pub threads: usize,
    /// Which I/O backend to run on.
    pub backend: BackendChoice,
    /// Permissions for unix socket files (e.g. `0o660`); `None` leaves the umask's.
    pub unix_socket_mode: Option<u32>,
    /// How long in-flight requests may run after shutdown starts (default 30 s).
    pub shutdown_timeout: Duration,
    /// The `Server` header value; `None` sends no `Server` header.
    pub server_header: Option<String>,
    /// Let other processes join our `SO_REUSEPORT` groups (zero-downtime restarts).
    /// Off by default: a port already taken is an error.
    pub port_sharing: bool,
    /// Listen backlog per socket.
    pub backlog: u32,
    /// Pin each worker to its own core.
    pub pin_workers: bool,
    /// Install SIGINT/SIGTERM handling in [`crate::Server::run`].
    pub handle_signals: bool,
    /// Request-parsing limits.
    pub limits: peregrine_protocol::h1::parse::Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            urls: parse_urls(DEFAULT_URLS).unwrap_or_default(),
            threads: default_threads(),
            backend: BackendChoice::Auto,
            unix_socket_mode: None,
            shutdown_timeout: Duration::from_secs(30),
            server_header: Some("peregrine".to_string()),
            port_sharing: false,
            backlog: 1024,
            pin_workers: true,
            handle_signals: true,
            limits: Default::default(),
        }
    }
}

/// The default URL prefix, as Kestrel's.
pub const DEFAULT_URLS: &str = "http://localhost:5000";

/// One worker per core this process may run on.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl Options {
    /// Replace the URL prefixes with a `;`-separated list.
    pub fn urls(mut self, list: &str) -> Result<Self, UrlError> {
        self.urls = parse_urls(list)?;
        Ok(self)
    }

    /// Set the number of worker threads.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Choose the backend.
    pub fn backend(mut self, backend: BackendChoice) -> Self {
        self.backend = backend;
        self
    }
}
