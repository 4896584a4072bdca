//! Server options: what to bind, how many workers, which backend, and the HTTP knobs.
//! The `peregrine` binary (the `peregrine-cli` package) fills these from the command
//! line, the environment and a TOML file; embedders set them in code.

use std::time::Duration;

use crate::activation::SocketActivation;
use crate::backend::BackendChoice;
use crate::error::Error;
use crate::listen::parse_mode;
use crate::url::{parse_urls, BindAddress, UrlError};

mod http2;
mod websocket;
pub use http2::{Http2Limits, Protocols};
pub use websocket::WebSocketOptions;

/// The certificate `https://` prefixes are served with: a PEM chain (leaf first) and its
/// PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// The certificate chain file.
    pub cert: std::path::PathBuf,
    /// The private key file.
    pub key: std::path::PathBuf,
}

/// The default certificate as a PKCS#12 file (`.pfx` / `.p12`), for users coming from
/// Kestrel: the chain and its private key in one password-protected file.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkcs12Certificate {
    /// The `.pfx` / `.p12` file.
    pub file: std::path::PathBuf,
    /// Its password (empty for none).
    pub password: String,
}

impl std::fmt::Debug for Pkcs12Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        f.debug_struct("Pkcs12Certificate")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// A certificate served to clients that ask for `host` by SNI (Kestrel's
/// `ServerCertificateSelector` order: the exact host, then the longest `*.suffix`
/// wildcard, then the default certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniCertificate {
    /// `example.com`, or a wildcard `*.example.com` (any name ending in `.example.com`).
    pub host: String,
    /// The certificate chain and key.
    pub files: TlsOptions,
}

/// Whether TLS clients are asked for a certificate (Kestrel's `ClientCertificateMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientCertificateMode {
    /// No certificate is asked for.
    #[default]
    NoCertificate,
    /// A certificate is asked for; a client may send none, but one it sends must verify.
    AllowCertificate,
    /// A verified certificate is required: the handshake fails without one.
    RequireCertificate,
}

impl std::str::FromStr for ClientCertificateMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "nocertificate" => Ok(ClientCertificateMode::NoCertificate),
            "allow" | "allowcertificate" => Ok(ClientCertificateMode::AllowCertificate),
            "require" | "requirecertificate" => Ok(ClientCertificateMode::RequireCertificate),
            other => Err(format!(
                "unknown client certificate mode '{other}': expected none, allow or require"
            )),
        }
    }
}

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
    /// Pin each worker to its own core (Linux, FreeBSD; where threads cannot be pinned,
    /// macOS, the workers run unpinned after one warning).
    pub pin_workers: bool,
    /// Install SIGINT/SIGTERM handling in [`crate::Server::run`].
    pub handle_signals: bool,
    /// Every application listener (not the metrics one) expects a PROXY protocol header
    /// (HAProxy's, version 1 or 2) first, before TLS and HTTP: its source address becomes
    /// the connection's remote address. A missing, malformed or oversized header closes
    /// the connection; the header must arrive within the request-headers timeout.
    /// Off by default.
    pub proxy_protocol: bool,
    /// Request-parsing limits: request line (414), header section and count (431).
    pub limits: peregrine_protocol::h1::parse::Limits,
    /// Largest request body (413); `None` is unlimited. Handlers may change it per
    /// request before reading. Default 30,000,000 bytes.
    pub max_request_body_size: Option<u64>,
    /// Most request bytes buffered per connection (backpressure, not an error); must be
    /// at least the request-line and header limits. Default 1 MiB.
    pub max_request_buffer_size: usize,
    /// Most response bytes buffered per connection before writing waits for the client
    /// (backpressure). Default 64 KiB.
    pub max_response_buffer_size: usize,
    /// Idle keep-alive connections are closed after this long (default 130 s).
    pub keep_alive_timeout: Duration,
    /// A request head must arrive within this long of its first byte, else 408
    /// (default 30 s).
    pub request_headers_timeout: Duration,
    /// Minimum request body rate in bytes/s and its grace period (default 240 B/s after
    /// 5 s): slower gets 408 (or a close once the response started). `None` disables.
    pub min_request_body_data_rate: Option<(u64, Duration)>,
    /// Minimum rate at which the client must read responses (default 240 B/s after 5 s):
    /// slower is aborted. `None` disables.
    pub min_response_data_rate: Option<(u64, Duration)>,
    /// Most connections open at once across all workers; more are closed at once
    /// with a warning. `None` (the default) is unlimited.
    pub max_concurrent_connections: Option<u64>,
    /// Most upgraded connections (e.g. WebSockets, after `101 Switching Protocols`) open
    /// at once across all workers: Kestrel's `MaxConcurrentUpgradedConnections`. An
    /// upgraded connection leaves the [`max_concurrent_connections`] count and counts
    /// against this one instead. `None` (the default) is unlimited; `Some(0)` refuses
    /// every upgrade.
    ///
    /// [`max_concurrent_connections`]: Options::max_concurrent_connections
    pub max_concurrent_upgraded_connections: Option<u64>,
    /// The default certificate for `https://` prefixes (an https prefix needs it, or at
    /// least one SNI certificate).
    pub tls: Option<TlsOptions>,
    /// The default certificate as a PKCS#12 file instead of PEM files (`tls`); not both.
    pub pkcs12: Option<Pkcs12Certificate>,
    /// Certificates chosen by the host name the client asks for (SNI).
    pub sni: Vec<SniCertificate>,
    /// Whether clients are asked for a certificate (default: not asked).
    pub client_certificate_mode: ClientCertificateMode,
    /// The CA certificates (PEM) client certificates must chain to; required unless the
    /// mode is `NoCertificate`.
    pub client_ca: Option<std::path::PathBuf>,
    /// A TLS handshake must finish within this long, else the connection is closed
    /// (default 10 s, Kestrel's).
    pub tls_handshake_timeout: Duration,
    /// Admin listeners serving `GET /metrics` (Prometheus text); none by default.
    pub metrics_urls: Vec<BindAddress>,
    /// Which HTTP versions the listeners speak (default both; see [`Protocols`]).
    pub protocols: Protocols,
    /// Kestrel's `Http2Limits`.
    pub http2: Http2Limits,
    /// How accepted WebSockets behave (ASP.NET's `WebSocketOptions`).
    pub websocket: WebSocketOptions,
    /// Believe `X-Forwarded-For`/`-Proto`/`-Host` and `Forwarded` from known proxies
    /// (ASP.NET's `ForwardedHeadersMiddleware`); off by default.
    pub forwarded_headers: bool,
    /// The proxies whose forwarded headers are believed; empty: loopback (and, always,
    /// unix-socket peers).
    pub known_proxies: Vec<crate::Cidr>,
    /// How many forwarded entries are taken, from the right (ASP.NET's
    /// `ForwardLimit`); `None`: all the trusted chain. Default 1.
    pub forward_limit: Option<usize>,
    /// Host names a request may name (ASP.NET's `AllowedHosts`: `a.example`,
    /// `*.b.example`); empty or `*`: any. Another host → `400`.
    pub allowed_hosts: Vec<String>,
    /// Serve sockets passed by systemd (`LISTEN_FDS`) instead of binding [`urls`]
    /// (default: when there are some for this process). [`Options::urls`] with
    /// `"systemd"` sets [`SocketActivation::Required`].
    ///
    /// [`urls`]: Options::urls
    pub socket_activation: SocketActivation,
    /// SIGUSR2 restarts: how long the new copy of the binary has to report ready before
    /// it is stopped and this one keeps serving (default 30 s).
    pub restart_timeout: Duration,
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
            proxy_protocol: false,
            limits: Default::default(),
            max_request_body_size: Some(30_000_000),
            max_request_buffer_size: 1024 * 1024,
            max_response_buffer_size: 64 * 1024,
            keep_alive_timeout: Duration::from_secs(130),
            request_headers_timeout: Duration::from_secs(30),
            min_request_body_data_rate: Some((240, Duration::from_secs(5))),
            min_response_data_rate: Some((240, Duration::from_secs(5))),
            max_concurrent_connections: None,
            max_concurrent_upgraded_connections: None,
            tls: None,
            pkcs12: None,
            sni: Vec::new(),
            client_certificate_mode: ClientCertificateMode::NoCertificate,
            client_ca: None,
            tls_handshake_timeout: Duration::from_secs(10),
            metrics_urls: Vec::new(),
            protocols: Protocols::default(),
            http2: Http2Limits::default(),
            websocket: WebSocketOptions::default(),
            forwarded_headers: false,
            known_proxies: Vec::new(),
            forward_limit: Some(1),
            allowed_hosts: Vec::new(),
            socket_activation: SocketActivation::Auto,
            restart_timeout: Duration::from_secs(30),
        }
    }
}

/// The `--urls` value that asks for the sockets systemd passes.
pub const SYSTEMD_URLS: &str = "systemd";

/// The default URL prefix, as Kestrel's.
pub const DEFAULT_URLS: &str = "http://localhost:5000";

/// One worker per core this process may run on.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl Options {
    /// Serve clients that ask for `host` (SNI; `*.suffix` for a wildcard) with this
    /// certificate chain and key (PEM files).
    pub fn sni_certificate(
        mut self,
        host: impl Into<String>,
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.sni.push(SniCertificate {
            host: host.into(),
            files: TlsOptions {
                cert: cert.into(),
                key: key.into(),
            },
        });
        self
    }

    /// Serve `https://` prefixes with this certificate chain and key (PEM files).
    pub fn certificate(
        mut self,
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.tls = Some(TlsOptions {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// Replace the URL prefixes with a `;`-separated list. `"systemd"` instead serves only
    /// the sockets systemd passes ([`SocketActivation::Required`]).
    pub fn urls(mut self, list: &str) -> Result<Self, UrlError> {
        if list.trim().eq_ignore_ascii_case(SYSTEMD_URLS) {
            self.urls = Vec::new();
            self.socket_activation = SocketActivation::Required;
            return Ok(self);
        }
        self.urls = parse_urls(list)?;
        if self.socket_activation == SocketActivation::Required {
            self.socket_activation = SocketActivation::Auto;
        }
        Ok(self)
    }

    /// Replace the admin (`GET /metrics`) listeners with a `;`-separated list of URL
    /// prefixes, as [`Options::urls`] does for the application's.
    pub fn metrics_urls(mut self, list: &str) -> Result<Self, UrlError> {
        self.metrics_urls = parse_urls(list)?;
        Ok(self)
    }

    /// Set the permissions of unix socket files from octal text: `0660`, `660` or
    /// `0o660` (at most `07777`). Anything else is an [`ErrorKind::InvalidConfig`]
    /// error.
    ///
    /// [`ErrorKind::InvalidConfig`]: crate::ErrorKind::InvalidConfig
    pub fn unix_socket_mode_str(mut self, text: &str) -> Result<Self, Error> {
        self.unix_socket_mode = Some(parse_mode(text).map_err(Error::Config)?);
        Ok(self)
    }

    /// Set the number of worker threads.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Check that the limits fit together (Kestrel's start-up checks).
    pub fn validate(&self) -> Result<(), String> {
        let l = &self.limits;
        if self.max_request_buffer_size < l.max_request_line {
            return Err(format!(
                "Maximum request buffer size ({}) must be greater than or equal to maximum request line size ({}).",
                self.max_request_buffer_size, l.max_request_line
            ));
        }
        if self.max_request_buffer_size < l.max_headers_total {
            return Err(format!(
                "Maximum request buffer size ({}) must be greater than or equal to maximum request headers size ({}).",
                self.max_request_buffer_size, l.max_headers_total
            ));
        }
        if self.max_response_buffer_size == 0 {
            return Err("Maximum response buffer size must be greater than 0.".into());
        }
        if self.keep_alive_timeout.is_zero()
            || self.request_headers_timeout.is_zero()
            || self.tls_handshake_timeout.is_zero()
        {
            return Err("Timeouts must be greater than 0.".into());
        }
        if self.max_concurrent_connections == Some(0) {
            return Err("Maximum concurrent connections must be greater than 0.".into());
        }
        if self.forward_limit == Some(0) {
            return Err("The forward limit must be greater than 0.".into());
        }
        self.http2.validate()?;
        self.websocket.validate()
    }

    /// Choose the backend.
    pub fn backend(mut self, backend: BackendChoice) -> Self {
        self.backend = backend;
        self
    }
}
