//! The server's lifecycle: bind everything, start the workers, wait for shutdown
//! (SIGINT/SIGTERM or [`ShutdownHandle::shutdown`]), stop accepting, let in-flight
//! requests finish within the shutdown timeout, remove unix socket files.

use std::fmt;
use std::sync::{mpsc, Arc};

use peregrine_runtime::RuntimeThread;

use crate::admin;
use crate::backend::{self, Backend};
use crate::handler::Handler;
use crate::listen::{self, BindError, BindOptions, Endpoint, EndpointSockets, UnixSocketFile};
use crate::metrics::Board;
use crate::options::Options;
use crate::registry::Timeouts;
use crate::signal::Trigger;
use crate::sys;
use crate::url::{Scheme, UrlError};
use crate::worker::{self, HttpSettings, WorkerListener, WorkerSpec};

/// Why the server could not start.
#[derive(Debug)]
pub enum Error {
    /// A URL prefix is invalid.
    Url(UrlError),
    /// An address could not be bound.
    Bind(BindError),
    /// The configuration cannot be served (e.g. `https://` without TLS).
    Config(String),
    /// The backend or a worker could not start.
    Start(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Url(e) => write!(f, "{e}"),
            Error::Bind(e) => write!(f, "{e}"),
            Error::Config(e) | Error::Start(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for Error {}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Self {
        Error::Url(e)
    }
}

/// A bound, not yet running server. Its addresses are final (real ports for port 0).
#[derive(Debug)]
pub struct Server {
    options: Options,
    endpoints: Vec<Endpoint>,
    addresses: Vec<String>,
    backend: Backend,
    trigger: Trigger,
}

/// Stops a server from any thread.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    trigger: Trigger,
}

impl ShutdownHandle {
    /// Start a graceful shutdown.
    pub fn shutdown(&self) {
        self.trigger.fire();
    }
}

impl Server {
    /// Resolve the backend and bind every address in `options`. Fails, with nothing left
    /// bound, if any address cannot be bound.
    pub fn bind(options: Options) -> Result<Server, Error> {
        if let Some(a) = options.urls.iter().find(|a| a.scheme == Scheme::Https) {
            return Err(Error::Config(format!(
                "TLS is not configured: cannot listen on '{}'. Use an http:// URL.",
                a.original
            )));
        }
        if options.urls.is_empty() {
            return Err(Error::Url(UrlError::Empty));
        }
        options.validate().map_err(Error::Config)?;
        let (backend, fallback) = backend::resolve(options.backend).map_err(Error::Start)?;
        match fallback {
            Some(why) => tracing::warn!("io_uring is unavailable ({why}); using the epoll backend"),
            None => tracing::info!("using the {backend} backend"),
        }
        // Every connection is a descriptor.
        if let Err(e) = sys::raise_nofile_limit() {
            tracing::debug!(error = %e, "cannot raise the open-files limit");
        }
        let bind_opts = BindOptions {
            workers: options.threads.max(1),
            backlog: options.backlog,
            port_sharing: options.port_sharing,
            unix_socket_mode: options.unix_socket_mode,
        };
        let endpoints = listen::bind_all(&options.urls, &bind_opts).map_err(Error::Bind)?;
        let addresses = endpoints.iter().map(|e| e.display.clone()).collect();
        Ok(Server {
            options,
            endpoints,
            addresses,
            backend,
            trigger: Trigger::default(),
        })
    }

    /// The bound addresses, e.g. `http://127.0.0.1:43567` (Kestrel's
    /// `IServerAddressesFeature`).
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }

    /// The backend the workers run on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            trigger: self.trigger.clone(),
        }
    }

    /// Start the workers and return once all of them accept connections.
    pub fn start<H: Handler>(self, handler: H) -> Result<Running, Error> {
        if self.options.handle_signals {
            install_signal_thread(self.trigger.clone()).map_err(Error::Start)?;
        }
        let threads = self.options.threads.max(1);
        let cores = if self.options.pin_workers {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let o = &self.options;
        let secs =
            |d: std::time::Duration| d.as_secs_f64().ceil().clamp(1.0, u32::MAX as f64) as u32;
        let http = Arc::new(HttpSettings {
            server_header: o.server_header.clone().map(String::into_bytes),
            limits: o.limits,
            max_request_body_size: o.max_request_body_size,
            max_request_buffer_size: o.max_request_buffer_size,
            max_response_buffer_size: o.max_response_buffer_size,
            timeouts: Timeouts {
                keep_alive: secs(o.keep_alive_timeout),
                request_headers: secs(o.request_headers_timeout),
                min_body_rate: o.min_request_body_data_rate.map(|(r, g)| (r, secs(g))),
                min_response_rate: o.min_response_data_rate.map(|(r, g)| (r, secs(g))),
            },
            max_concurrent_connections: o.max_concurrent_connections,
            hot_reads: self.backend == Backend::IoUring,
            open_connections: Default::default(),
        });
        let mut per_worker: Vec<Vec<WorkerListener>> = (0..threads).map(|_| Vec::new()).collect();
        for ep in &self.endpoints {
            match &ep.sockets {
                EndpointSockets::Tcp(groups) => {
                    for group in groups {
                        for (i, sock) in group.iter().enumerate() {
                            let sock = sock.try_clone().map_err(|e| {
                                Error::Start(format!("cannot share a listening socket: {e}"))
                            })?;
                            per_worker[i % threads].push(WorkerListener::Tcp(sock));
                        }
                    }
                }
                EndpointSockets::Unix(file) => {
                    for list in per_worker.iter_mut() {
                        let sock = file.listener.try_clone().map_err(|e| {
                            Error::Start(format!("cannot share a listening socket: {e}"))
                        })?;
                        list.push(WorkerListener::Unix(sock, file.path.clone()));
                    }
                }
            }
        }
        let backend_name = match self.backend {
            Backend::IoUring => "io-uring",
            Backend::Epoll => "epoll",
        };
        let board = Board::new(threads, backend_name);
        let (metrics_addresses, metrics_files) = if self.options.metrics_urls.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            admin::start(&self.options.metrics_urls, board.clone()).map_err(Error::Start)?
        };
        for a in &metrics_addresses {
            tracing::info!("Metrics on {a}/metrics");
        }
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut handles = Vec::with_capacity(threads);
        for (id, listeners) in per_worker.into_iter().enumerate() {
            let spec = WorkerSpec {
                id,
                core: (!cores.is_empty()).then(|| cores[id % cores.len()]),
                backend: self.backend,
                handler: handler.clone(),
                listeners,
                http: http.clone(),
                trigger: self.trigger.clone(),
                shutdown_timeout: self.options.shutdown_timeout,
                ready: ready_tx.clone(),
                board: board.clone(),
            };
            match worker::spawn(spec) {
                Ok(h) => handles.push(h),
                Err(e) => {
                    self.trigger.fire();
                    join_all(handles);
                    return Err(Error::Start(format!("cannot start a worker thread: {e}")));
                }
            }
        }
        drop(ready_tx);
        for _ in 0..threads {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(why)) => {
                    self.trigger.fire();
                    join_all(handles);
                    return Err(Error::Start(why));
                }
                Err(_) => {
                    self.trigger.fire();
                    join_all(handles);
                    return Err(Error::Start("a worker exited during start-up".into()));
                }
            }
        }
        // The workers hold their own descriptors now; the endpoints stay with us until
        // shutdown (their drop removes the unix socket files).
        Ok(Running {
            handles,
            endpoints: self.endpoints,
            addresses: self.addresses,
            metrics_addresses,
            metrics_files,
            trigger: self.trigger,
            board,
        })
    }

    /// Start, then block until shut down and every worker has stopped.
    pub fn run<H: Handler>(self, handler: H) -> Result<(), Error> {
        self.start(handler)?.wait();
        Ok(())
    }
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    handles: Vec<RuntimeThread<()>>,
    endpoints: Vec<Endpoint>,
    addresses: Vec<String>,
    metrics_addresses: Vec<String>,
    metrics_files: Vec<UnixSocketFile>,
    trigger: Trigger,
    board: Board,
}

impl Running {
    /// The bound addresses.
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            trigger: self.trigger.clone(),
        }
    }

    /// The admin (metrics) addresses.
    pub fn metrics_addresses(&self) -> &[String] {
        &self.metrics_addresses
    }

    /// The counters each worker published (at most a second old).
    pub fn metrics(&self) -> &Board {
        &self.board
    }

    /// Block until shutdown is requested and every worker has finished; then close the
    /// listeners and remove unix socket files.
    pub fn wait(self) {
        self.trigger.wait_blocking(None);
        tracing::info!("Application is shutting down...");
        // Our copies of the listening sockets close now, so that once the workers close
        // theirs nothing accepts any more; unix socket files are removed.
        drop(self.endpoints);
        join_all(self.handles);
        drop(self.metrics_files);
    }
}

fn join_all(handles: Vec<RuntimeThread<()>>) {
    for h in handles {
        if h.join().is_err() {
            tracing::error!("a worker thread panicked");
        }
    }
}

/// Wait for SIGINT and SIGTERM on a dedicated thread (signal-hook: a handler that writes
/// to a self-pipe): the first starts a graceful shutdown, a second one exits at once.
fn install_signal_thread(trigger: Trigger) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    std::thread::Builder::new()
        .name("peregrine-signals".into())
        .spawn(move || {
            let mut fired = false;
            for _ in signals.forever() {
                if fired {
                    eprintln!("Second signal received: exiting without waiting.");
                    std::process::exit(1);
                }
                fired = true;
                trigger.fire();
            }
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start the signal thread: {e}"))
}
