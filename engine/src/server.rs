//! The server's lifecycle: bind everything (or take the sockets systemd or a restarting
//! parent passed: `activation.rs`), start the workers, tell systemd we are ready
//! (`notify.rs`), wait for shutdown (SIGINT/SIGTERM, [`ShutdownHandle::shutdown`], or a
//! SIGUSR2 restart that handed the sockets over: `restart.rs`), stop accepting, let
//! in-flight requests finish within the shutdown timeout, remove unix socket files.

use std::sync::{mpsc, Arc};

use peregrine_runtime::RuntimeThread;

use crate::activation::{self, SocketActivation};
use crate::admin;
use crate::backend::{self, Backend};
use crate::error::Error;
use crate::handler::Handler;
use crate::listen::{self, BindOptions, Endpoint, EndpointSockets, Origin};
use crate::metrics::Board;
use crate::notify::{self, SystemdEnv};
use crate::options::Options;
use crate::restart::{Kept, KeptSockets, Restarter};
use crate::shard::HttpSettings;
use crate::signal::Trigger;
use crate::sys;
use crate::tls::config::{server_config_reloadable, ClientAuth, Reloadable};
use crate::tls::reload::{self, ReloadHandle};
use crate::url::{Scheme, UrlError};
use crate::worker::{self, ListenSocket, WorkerListener, WorkerSpec};

/// A bound, not yet running server. Its addresses are final (real ports for port 0).
#[derive(Debug)]
pub struct Server {
    /// The TLS configuration of `https` endpoints, and the handle that reloads its
    /// certificates.
    tls: Option<(Arc<rustls::ServerConfig>, Arc<Reloadable>)>,
    options: Options,
    endpoints: Vec<Endpoint>,
    /// Admin (`/metrics`) sockets that were passed to us, served instead of binding
    /// `metrics_urls`.
    passed_metrics: Vec<Endpoint>,
    addresses: Vec<String>,
    backend: Backend,
    trigger: Trigger,
    systemd: SystemdEnv,
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
        // Sockets passed by systemd or by a restarting parent replace the URL prefixes.
        let passed = activation::take(options.socket_activation).map_err(Error::Config)?;
        if passed.is_none() {
            if let Some((http, https)) = scheme_clash(&options.urls) {
                return Err(Error::Config(format!(
                    "'{http}' and '{https}' ask for the same port: one port serves one scheme \
                     (plain HTTP sent to an https port is answered 400)"
                )));
            }
        }
        let https = match &passed {
            Some(p) => p
                .sockets
                .iter()
                .find(|s| s.role == activation::Role::App(Scheme::Https))
                .map(|s| format!("the passed socket {} ('https')", s.number)),
            None => options
                .urls
                .iter()
                .find(|a| a.scheme == Scheme::Https)
                .map(|a| format!("'{}'", a.original)),
        };
        let tls = match (
            https,
            options
                .tls
                .as_ref()
                .map(|_| ())
                .or(options.pkcs12.as_ref().map(|_| ()))
                .or(options.sni.first().map(|_| ())),
        ) {
            (Some(what), None) => {
                return Err(Error::Config(format!(
                    "TLS is not configured: cannot listen on {what} without a certificate \
                     (--cert and --key). Use an http:// URL, or give a certificate."
                )))
            }
            (Some(_), Some(_)) => {
                let client = ClientAuth {
                    mode: options.client_certificate_mode,
                    ca: options.client_ca.as_deref(),
                };
                Some(
                    server_config_reloadable(
                        options.tls.as_ref(),
                        options.pkcs12.as_ref(),
                        &options.sni,
                        client,
                        options.protocols,
                    )
                    .map_err(Error::Config)?,
                )
            }
            (None, _) => None,
        };
        if passed.is_none() && options.urls.is_empty() {
            return Err(Error::Url(UrlError::Empty));
        }
        options.validate().map_err(Error::Config)?;
        let (backend, fallback) = backend::resolve(options.backend).map_err(Error::Backend)?;
        match fallback {
            Some(why) => tracing::warn!("io_uring is unavailable ({why}); using the epoll backend"),
            None => tracing::info!("using the {backend} backend"),
        }
        // Every connection is a descriptor.
        if let Err(e) = sys::raise_nofile_limit() {
            tracing::debug!(error = %e, "cannot raise the open-files limit");
        }
        crate::fdtable::reserve_at_start();
        if let Some(caveat) = options
            .port_sharing
            .then(sys::port_sharing_caveat)
            .flatten()
        {
            tracing::warn!("{caveat}");
        }
        let bind_opts = BindOptions {
            workers: options.threads.max(1),
            backlog: options.backlog,
            port_sharing: options.port_sharing,
            unix_socket_mode: options.unix_socket_mode,
        };
        let (endpoints, passed_metrics) = match passed {
            Some(p) => {
                let from = if p.from_restart {
                    "the old copy of this server (SIGUSR2 restart)"
                } else {
                    "the service manager (LISTEN_FDS)"
                };
                let count = p.sockets.len();
                let (app, metrics) = listen::adopt_all(p, &bind_opts).map_err(Error::Bind)?;
                if app.is_empty() {
                    return Err(Error::Config(format!(
                        "socket activation: {from} passed no socket for the application \
                         (only 'metrics' ones)"
                    )));
                }
                if options.socket_activation == SocketActivation::Auto {
                    tracing::info!(
                        "Serving {count} socket(s) passed by {from}; the URL prefixes are not bound"
                    );
                }
                (app, metrics)
            }
            None => (
                listen::bind_all(&options.urls, &bind_opts).map_err(Error::Bind)?,
                Vec::new(),
            ),
        };
        let addresses = endpoints.iter().map(|e| e.display.clone()).collect();
        Ok(Server {
            tls,
            options,
            endpoints,
            passed_metrics,
            addresses,
            backend,
            trigger: Trigger::default(),
            systemd: SystemdEnv::from_env(),
        })
    }

    /// The TLS configuration for an endpoint (`None` for `http`).
    fn tls_for(&self, ep: &Endpoint) -> Option<Arc<rustls::ServerConfig>> {
        match ep.scheme {
            Scheme::Https => self.tls.as_ref().map(|(config, _)| config.clone()),
            Scheme::Http => None,
        }
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
        // Forwarded headers or allowed hosts: every request passes the edge first (a
        // wrapper, so a server without them pays nothing per request).
        match crate::edge::Edge::from_options(&self.options) {
            Some(edge) => self.start_with(crate::edge::handler::Edged {
                inner: handler,
                edge: Arc::new(edge),
            }),
            None => self.start_with(handler),
        }
    }

    fn start_with<H: Handler>(mut self, handler: H) -> Result<Running, Error> {
        let tls_reload = match &self.tls {
            Some((_, certificates)) => Some(
                reload::start(certificates.clone(), self.trigger.clone()).map_err(|e| {
                    Error::Start(format!("cannot start the certificate reload thread: {e}"))
                })?,
            ),
            None => None,
        };
        // The listening sockets are kept here once the workers have theirs.
        let kept = Arc::new(Kept::default());
        if self.options.handle_signals {
            let restarter = Arc::new(Restarter::new(
                kept.clone(),
                self.trigger.clone(),
                self.systemd.notify.clone(),
                self.options.restart_timeout,
            ));
            install_signal_thread(self.trigger.clone(), tls_reload.clone(), restarter)
                .map_err(Error::Start)?;
        }
        let threads = self.options.threads.max(1);
        let cores = if !self.options.pin_workers {
            Vec::new()
        } else if let Some(why) = peregrine_runtime::pinning_unsupported() {
            // Said once, not once per worker.
            tracing::warn!("the workers are not pinned to cores: {why}");
            Vec::new()
        } else {
            peregrine_runtime::cores()
        };
        let o = &self.options;
        let mut http = HttpSettings::new(o);
        http.listeners_handed_over = kept.handed_over.clone();
        http.always_tick = self.systemd.notify.is_some() && self.systemd.watchdog.is_some();
        let http = Arc::new(http);
        let mut per_worker: Vec<Vec<WorkerListener>> = (0..threads).map(|_| Vec::new()).collect();
        for ep in &self.endpoints {
            match &ep.sockets {
                EndpointSockets::Tcp(groups) => {
                    for group in groups {
                        for (i, sock) in group.iter().enumerate() {
                            let sock = sock.try_clone().map_err(|e| {
                                Error::Start(format!("cannot share a listening socket: {e}"))
                            })?;
                            per_worker[i % threads].push(WorkerListener {
                                socket: ListenSocket::Tcp(sock),
                                tls: self.tls_for(ep),
                            });
                        }
                    }
                }
                EndpointSockets::SharedTcp(listener) => {
                    for list in per_worker.iter_mut() {
                        let sock = listener.try_clone().map_err(|e| {
                            Error::Start(format!("cannot share a listening socket: {e}"))
                        })?;
                        list.push(WorkerListener {
                            socket: ListenSocket::Tcp(sock),
                            tls: self.tls_for(ep),
                        });
                    }
                }
                EndpointSockets::Unix(file) => {
                    for list in per_worker.iter_mut() {
                        let sock = file.listener.try_clone().map_err(|e| {
                            Error::Start(format!("cannot share a listening socket: {e}"))
                        })?;
                        list.push(WorkerListener {
                            socket: ListenSocket::Unix(sock, file.path.clone()),
                            tls: self.tls_for(ep),
                        });
                    }
                }
            }
        }
        let board = Board::new(threads, self.backend.name());
        let passed_metrics = std::mem::take(&mut self.passed_metrics);
        let (metrics_addresses, metrics_endpoints) =
            if self.options.metrics_urls.is_empty() && passed_metrics.is_empty() {
                (Vec::new(), Vec::new())
            } else {
                admin::start(&self.options.metrics_urls, passed_metrics, board.clone())?
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
        // shutdown (their drop removes the unix socket files), for a restart to hand over.
        kept.keep(KeptSockets {
            app: std::mem::take(&mut self.endpoints),
            metrics: metrics_endpoints,
        });
        let watchdog = match (&self.systemd.notify, self.systemd.watchdog) {
            (Some(n), Some(interval)) => {
                match notify::start_watchdog(n.clone(), interval, board.clone()) {
                    Ok(stop) => Some(stop),
                    Err(e) => {
                        self.trigger.fire();
                        join_all(handles);
                        return Err(Error::Start(format!(
                            "cannot start the watchdog thread: {e}"
                        )));
                    }
                }
            }
            _ => None,
        };
        Ok(Running {
            handles,
            kept,
            addresses: std::mem::take(&mut self.addresses),
            metrics_addresses,
            trigger: self.trigger.clone(),
            board,
            tls_reload,
            systemd: std::mem::take(&mut self.systemd),
            watchdog,
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
    /// The listening sockets (ours, for a restart, and for the unix socket files).
    kept: Arc<Kept>,
    addresses: Vec<String>,
    metrics_addresses: Vec<String>,
    trigger: Trigger,
    board: Board,
    tls_reload: Option<ReloadHandle>,
    systemd: SystemdEnv,
    /// Dropped to stop the watchdog thread.
    watchdog: Option<mpsc::Sender<()>>,
}

impl Running {
    /// Load the TLS certificate and key files again (as SIGHUP and a change on disk do):
    /// new handshakes use them, open connections keep theirs. On failure the old
    /// certificates stay and the error says why.
    pub fn reload_certificates(&self) -> Result<(), Error> {
        match &self.tls_reload {
            Some(tls) => tls.reload_now().map_err(Error::Config),
            None => Err(Error::Config("no TLS certificates are configured".into())),
        }
    }

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

    /// Tell the service manager the server is ready (`READY=1` to `NOTIFY_SOCKET`, or to
    /// the old copy on a SIGUSR2 restart), then block until shutdown is requested and
    /// every worker has finished; then close the listeners and remove unix socket files
    /// (not those a restart handed over to the new copy).
    pub fn wait(self) {
        self.systemd.ready(&self.addresses);
        self.trigger.wait_blocking(None);
        // The watchdog stops with the running state (systemd stops expecting pings once
        // told STOPPING=1, or once the new copy is the main process).
        drop(self.watchdog);
        let handed_over = self.kept.handed_over();
        if !handed_over {
            self.systemd.stopping();
        }
        tracing::info!("Application is shutting down...");
        let mut kept = self.kept.take().unwrap_or_default();
        for ep in kept.app.iter_mut().chain(kept.metrics.iter_mut()) {
            if let EndpointSockets::Unix(file) = &mut ep.sockets {
                // The new copy serves them now; a restart's new copy owns what it got.
                file.remove = !handed_over && (file.remove || ep.origin == Origin::Restart);
            }
        }
        // Our copies of the listening sockets close now, so that once the workers close
        // theirs nothing accepts any more; unix socket files are removed.
        drop(kept.app);
        join_all(self.handles);
        drop(kept.metrics);
    }
}

fn join_all(handles: Vec<RuntimeThread<()>>) {
    for h in handles {
        if h.join().is_err() {
            tracing::error!("a worker thread panicked");
        }
    }
}

/// An `http` and an `https` prefix that would listen on the same address and port.
fn scheme_clash(urls: &[crate::url::BindAddress]) -> Option<(&str, &str)> {
    use crate::url::ListenTarget as T;
    let overlaps = |a: &T, b: &T| match (a, b) {
        (T::Unix(x), T::Unix(y)) => x == y,
        (T::Unix(_), _) | (_, T::Unix(_)) => false,
        _ => {
            let port = |t: &T| match t {
                T::Ip(sa) => sa.port(),
                T::Localhost(p) => *p,
                T::Any { port, .. } => *port,
                T::Unix(_) => 0,
            };
            let specific = |t: &T| match t {
                T::Ip(sa) if !sa.ip().is_unspecified() => Some(sa.ip()),
                _ => None,
            };
            let loopback = |t: &T| matches!(t, T::Localhost(_));
            port(a) != 0
                && port(a) == port(b)
                && match (specific(a), specific(b)) {
                    (Some(x), Some(y)) => x == y,
                    (Some(x), None) if loopback(b) => x.is_loopback(),
                    (None, Some(y)) if loopback(a) => y.is_loopback(),
                    _ => true,
                }
        }
    };
    urls.iter()
        .filter(|a| a.scheme == Scheme::Http)
        .flat_map(|a| {
            urls.iter()
                .filter(|b| b.scheme == Scheme::Https)
                .map(move |b| (a, b))
        })
        .find(|(a, b)| overlaps(&a.target, &b.target))
        .map(|(a, b)| (a.original.as_str(), b.original.as_str()))
}

/// Wait for signals on a dedicated thread (signal-hook: a handler that writes to a
/// self-pipe): the first SIGINT or SIGTERM starts a graceful shutdown, a second one exits
/// at once; SIGHUP reloads the certificates; SIGUSR2 restarts (`restart.rs`).
fn install_signal_thread(
    trigger: Trigger,
    tls: Option<ReloadHandle>,
    restarter: Arc<Restarter>,
) -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR2};
    // SIGHUP reloads the certificates (systemd's `reload` convention); without TLS it is
    // left alone. SIGUSR2 restarts the binary without dropping a connection.
    let mut wanted = vec![SIGINT, SIGTERM, SIGUSR2];
    if tls.is_some() {
        wanted.push(SIGHUP);
    }
    let mut signals = signal_hook::iterator::Signals::new(wanted)
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    std::thread::Builder::new()
        .name("peregrine-signals".into())
        .spawn(move || {
            let mut fired = false;
            for signal in signals.forever() {
                if signal == SIGUSR2 {
                    restarter.request();
                    continue;
                }
                if signal == SIGHUP {
                    if let Some(tls) = &tls {
                        tracing::info!("SIGHUP: reloading the TLS certificates");
                        tls.request();
                    }
                    continue;
                }
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

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::path::PathBuf;

    use super::*;
    use crate::backend::BackendChoice;
    use crate::error::ErrorKind;
    use crate::listen::BindError;
    use crate::request::Request;
    use crate::response::Response;
    use std::io;

    /// One worker on epoll, no signals: binding only, nothing is served.
    fn options(urls: &str) -> Options {
        let mut o = Options::default()
            .urls(urls)
            .expect("a valid URL")
            .threads(1)
            .backend(BackendChoice::Epoll);
        o.handle_signals = false;
        o.pin_workers = false;
        o
    }

    fn bind_error(o: Options) -> Error {
        match Server::bind(o) {
            Ok(s) => panic!("bound {:?}", s.addresses()),
            Err(e) => e,
        }
    }

    /// A fresh path in the temp directory, removed on drop.
    struct TempPath(PathBuf);

    impl TempPath {
        fn new(tag: &str) -> TempPath {
            let name = format!("peregrine-server-{tag}-{}", std::process::id());
            let p = std::env::temp_dir().join(name);
            let _ = std::fs::remove_file(&p);
            TempPath(p)
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_held_port_is_address_in_use() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let e = bind_error(options(&format!("http://127.0.0.1:{port}")));
        assert_eq!(e.kind(), ErrorKind::AddressInUse, "{e}");
        assert!(matches!(e, Error::Bind(_)));
        assert_eq!(
            e.to_string(),
            format!("Failed to bind to address http://127.0.0.1:{port}: address already in use.")
        );
    }

    #[test]
    fn a_held_metrics_port_is_address_in_use() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let o = options("http://127.0.0.1:0")
            .metrics_urls(&format!("http://127.0.0.1:{port}"))
            .unwrap();
        let server = Server::bind(o).unwrap();
        let e = match server.start(|_req: Request| async { Response::new("") }) {
            Ok(r) => panic!("started with metrics on {:?}", r.metrics_addresses()),
            Err(e) => e,
        };
        assert_eq!(e.kind(), ErrorKind::AddressInUse, "{e}");
        assert!(e.to_string().starts_with("metrics: Failed to bind"), "{e}");
    }

    #[test]
    fn a_unix_path_that_is_not_a_socket_is_address_in_use() {
        let path = TempPath::new("file");
        std::fs::write(&path.0, "not a socket").unwrap();
        let e = bind_error(options(&format!("http://unix:{}", path.0.display())));
        assert_eq!(e.kind(), ErrorKind::AddressInUse, "{e}");
        assert!(e.to_string().contains("is not a socket"), "{e}");
    }

    #[test]
    fn a_foreign_address_is_address_unavailable() {
        // 192.0.2.0/24 is TEST-NET-1: never an address of this host.
        let e = bind_error(options("http://192.0.2.1:0"));
        assert_eq!(e.kind(), ErrorKind::AddressUnavailable, "{e}");
    }

    #[test]
    fn other_bind_failures_are_start() {
        let dir = TempPath::new("nodir");
        let sock = dir.0.join("x.sock");
        let e = bind_error(options(&format!("http://unix:{}", sock.display())));
        assert_eq!(e.kind(), ErrorKind::Start, "{e}");
        assert!(matches!(e, Error::Bind(_)));
    }

    #[test]
    fn bind_failures_follow_the_os_error() {
        let kind = |io: Option<io::ErrorKind>| {
            Error::Bind(BindError::new("Failed to bind".into(), io)).kind()
        };
        assert_eq!(
            kind(Some(io::ErrorKind::AddrInUse)),
            ErrorKind::AddressInUse
        );
        assert_eq!(
            kind(Some(io::ErrorKind::AlreadyExists)),
            ErrorKind::AddressInUse
        );
        assert_eq!(
            kind(Some(io::ErrorKind::PermissionDenied)),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            kind(Some(io::ErrorKind::AddrNotAvailable)),
            ErrorKind::AddressUnavailable
        );
        assert_eq!(kind(Some(io::ErrorKind::NotFound)), ErrorKind::Start);
        assert_eq!(kind(None), ErrorKind::Start);
    }

    #[test]
    fn a_bad_url_is_invalid_url() {
        let e: Error = Options::default()
            .urls("ftp://127.0.0.1:80")
            .unwrap_err()
            .into();
        assert_eq!(e.kind(), ErrorKind::InvalidUrl);
        assert!(e.to_string().starts_with("Unrecognized scheme"), "{e}");
        let e: Error = Options::default()
            .metrics_urls("http://127.0.0.1:80/metrics")
            .unwrap_err()
            .into();
        assert_eq!(e.kind(), ErrorKind::InvalidUrl);
        let mut o = options("http://127.0.0.1:0");
        o.urls.clear();
        let e = bind_error(o);
        assert_eq!(e.kind(), ErrorKind::InvalidUrl);
        assert_eq!(e.to_string(), "No URL prefix was given to listen on.");
    }

    #[test]
    fn the_same_port_for_http_and_https_is_refused() {
        let clash = |urls: &str| {
            let o = Options::default().urls(urls).expect("valid URLs");
            scheme_clash(&o.urls).map(|(a, b)| (a.to_string(), b.to_string()))
        };
        let pair = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(
            clash("http://127.0.0.1:8080;https://127.0.0.1:8080"),
            pair("http://127.0.0.1:8080", "https://127.0.0.1:8080")
        );
        assert_eq!(
            clash("http://*:8080;https://127.0.0.1:8080"),
            pair("http://*:8080", "https://127.0.0.1:8080")
        );
        assert!(clash("http://localhost:8080;https://127.0.0.1:8080").is_some());
        assert!(clash("http://unix:/tmp/a.sock;https://unix:/tmp/a.sock").is_some());
        assert_eq!(clash("http://127.0.0.1:8080;https://127.0.0.1:8443"), None);
        assert_eq!(clash("http://10.0.0.1:8080;https://10.0.0.2:8080"), None);
        assert_eq!(clash("http://127.0.0.1:0;https://127.0.0.1:0"), None);
        assert_eq!(clash("http://localhost:8080;https://10.0.0.2:8080"), None);
        let e = bind_error(options("http://127.0.0.1:8080;https://127.0.0.1:8080"));
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.to_string().contains("ask for the same port"), "{e}");
    }

    #[test]
    fn https_without_tls_is_invalid_config() {
        let e = bind_error(options("https://127.0.0.1:0"));
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert_eq!(
            e.to_string(),
            "TLS is not configured: cannot listen on 'https://127.0.0.1:0' without a certificate \
             (--cert and --key). Use an http:// URL, or give a certificate."
        );
    }

    #[test]
    fn limits_that_do_not_fit_are_invalid_config() {
        let mut o = options("http://127.0.0.1:0");
        o.max_concurrent_connections = Some(0);
        let e = bind_error(o);
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert_eq!(
            e.to_string(),
            "Maximum concurrent connections must be greater than 0."
        );
    }

    #[test]
    fn unix_socket_modes() {
        let o = Options::default().unix_socket_mode_str("0660").unwrap();
        assert_eq!(o.unix_socket_mode, Some(0o660));
        let o = Options::default().unix_socket_mode_str("0o600").unwrap();
        assert_eq!(o.unix_socket_mode, Some(0o600));
        let e = Options::default().unix_socket_mode_str("rw").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert_eq!(
            e.to_string(),
            "invalid unix socket mode 'rw': expected octal such as 0660"
        );
    }

    #[test]
    fn an_unavailable_io_uring_is_backend() {
        let e = Error::Backend("io_uring was requested but is unavailable: x".into());
        assert_eq!(e.kind(), ErrorKind::Backend);
        // On a host without io_uring, asking for it fails with that kind.
        if peregrine_runtime::probe_io_uring().is_err() {
            let e = bind_error(options("http://127.0.0.1:0").backend(BackendChoice::IoUring));
            assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
        }
    }
}
