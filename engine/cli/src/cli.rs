//! The `peregrine` binary's configuration: command line (clap), environment
//! (`PEREGRINE_<NAME>`) and a TOML file (`--config`). The command line wins over the
//! environment, the environment over the file, the file over the defaults.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use peregrine::{BackendChoice, Options};

use crate::tls_flags::{certificate_layer, client_certificate_layer, parse_sni};
use serde::Deserialize;

/// Peregrine: a thread-per-core HTTP server (serves the sample application).
#[derive(Debug, Parser)]
#[command(name = "peregrine", version, about, long_about = None)]
pub struct Args {
    /// URL prefixes to listen on, separated by ';' (Kestrel's rules): http://127.0.0.1:0,
    /// http://[::]:80, http://localhost:5000, http://*:80, http://unix:/run/app.sock; or
    /// "systemd": only the sockets systemd passes (LISTEN_FDS), which are otherwise used
    /// instead of the prefixes when present [default: http://localhost:5000]
    #[arg(long, env = "PEREGRINE_URLS")]
    pub urls: Option<String>,

    /// Worker threads, one per core [default: available cores]
    #[arg(long, env = "PEREGRINE_THREADS")]
    pub threads: Option<usize>,

    /// I/O backend: auto (io_uring if the kernel allows, else epoll), io-uring or epoll.
    /// On macOS and FreeBSD epoll is the readiness backend, kqueue: auto picks it and
    /// io-uring is an error [default: auto]
    #[arg(long, env = "PEREGRINE_BACKEND")]
    pub backend: Option<String>,

    /// Permissions of unix socket files, octal (e.g. 0660 so nginx can connect)
    #[arg(long, env = "PEREGRINE_UNIX_SOCKET_MODE")]
    pub unix_socket_mode: Option<String>,

    /// How long in-flight requests may run after shutdown starts: 30, 30s, 500ms
    /// [default: 30s]
    #[arg(long, env = "PEREGRINE_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<String>,

    /// Value of the Server header [default: peregrine]
    #[arg(long, env = "PEREGRINE_SERVER_HEADER")]
    pub server_header: Option<String>,

    /// Send no Server header
    #[arg(long, env = "PEREGRINE_NO_SERVER_HEADER", num_args = 0..=1, default_missing_value = "true")]
    pub no_server_header: Option<bool>,

    /// Let other processes join our SO_REUSEPORT groups (zero-downtime restarts); without
    /// it a port already in use is an error
    #[arg(long, env = "PEREGRINE_PORT_SHARING", num_args = 0..=1, default_missing_value = "true")]
    pub port_sharing: Option<bool>,

    /// Listen backlog [default: 1024]
    #[arg(long, env = "PEREGRINE_BACKLOG")]
    pub backlog: Option<u32>,

    /// Do not pin workers to cores
    #[arg(long, env = "PEREGRINE_NO_PIN", num_args = 0..=1, default_missing_value = "true")]
    pub no_pin: Option<bool>,

    /// Every listener but the metrics one expects a PROXY protocol header (v1 or v2) first,
    /// before TLS and HTTP; its source address becomes the client's. A missing or bad
    /// header closes the connection
    #[arg(long, env = "PEREGRINE_PROXY_PROTOCOL", num_args = 0..=1, default_missing_value = "true")]
    pub proxy_protocol: Option<bool>,

    /// Longest request line in bytes; longer gets 414 [default: 8192]
    #[arg(long, env = "PEREGRINE_MAX_REQUEST_LINE_SIZE")]
    pub max_request_line_size: Option<usize>,

    /// Largest request header section in bytes; larger gets 431 [default: 32768]
    #[arg(long, env = "PEREGRINE_MAX_REQUEST_HEADERS_TOTAL_SIZE")]
    pub max_request_headers_total_size: Option<usize>,

    /// Most request headers; more gets 431 [default: 100]
    #[arg(long, env = "PEREGRINE_MAX_REQUEST_HEADER_COUNT")]
    pub max_request_header_count: Option<usize>,

    /// Largest request body in bytes, or "unlimited"; larger gets 413 [default: 30000000]
    #[arg(long, env = "PEREGRINE_MAX_REQUEST_BODY_SIZE")]
    pub max_request_body_size: Option<String>,

    /// Most request bytes buffered per connection (backpressure) [default: 1048576]
    #[arg(long, env = "PEREGRINE_MAX_REQUEST_BUFFER_SIZE")]
    pub max_request_buffer_size: Option<usize>,

    /// Most response bytes buffered per connection before writes wait (backpressure)
    /// [default: 65536]
    #[arg(long, env = "PEREGRINE_MAX_RESPONSE_BUFFER_SIZE")]
    pub max_response_buffer_size: Option<usize>,

    /// Idle keep-alive connections are closed after this long [default: 130s]
    #[arg(long, env = "PEREGRINE_KEEP_ALIVE_TIMEOUT")]
    pub keep_alive_timeout: Option<String>,

    /// A request head must arrive within this long of its first byte, else 408
    /// [default: 30s]
    #[arg(long, env = "PEREGRINE_REQUEST_HEADERS_TIMEOUT")]
    pub request_headers_timeout: Option<String>,

    /// Minimum request body rate in bytes/s, or "off"; slower gets 408 [default: 240]
    #[arg(long, env = "PEREGRINE_MIN_REQUEST_BODY_DATA_RATE")]
    pub min_request_body_data_rate: Option<String>,

    /// Grace period before the request body rate is enforced [default: 5s]
    #[arg(long, env = "PEREGRINE_MIN_REQUEST_BODY_DATA_RATE_GRACE")]
    pub min_request_body_data_rate_grace: Option<String>,

    /// Minimum rate in bytes/s at which clients must read responses, or "off"; slower
    /// connections are aborted [default: 240]
    #[arg(long, env = "PEREGRINE_MIN_RESPONSE_DATA_RATE")]
    pub min_response_data_rate: Option<String>,

    /// Grace period before the response rate is enforced [default: 5s]
    #[arg(long, env = "PEREGRINE_MIN_RESPONSE_DATA_RATE_GRACE")]
    pub min_response_data_rate_grace: Option<String>,

    /// Most connections open at once, or "unlimited"; more are closed at once
    /// [default: unlimited]
    #[arg(long, env = "PEREGRINE_MAX_CONCURRENT_CONNECTIONS")]
    pub max_concurrent_connections: Option<String>,

    /// Most upgraded connections (e.g. WebSockets) open at once, or "unlimited"; an
    /// upgraded connection counts against this limit instead of
    /// --max-concurrent-connections [default: unlimited]
    #[arg(long, env = "PEREGRINE_MAX_CONCURRENT_UPGRADED_CONNECTIONS")]
    pub max_concurrent_upgraded_connections: Option<String>,

    /// The default certificate served on https:// prefixes: a PEM chain (leaf first),
    /// which needs --key, or a PKCS#12 file (.pfx / .p12, key inside; see --cert-password)
    #[arg(long, env = "PEREGRINE_CERT")]
    pub cert: Option<PathBuf>,

    /// The certificate's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC); needs a PEM
    /// --cert
    #[arg(long, env = "PEREGRINE_KEY")]
    pub key: Option<PathBuf>,

    /// The password of a PKCS#12 --cert (.pfx / .p12) [default: empty]
    #[arg(long, env = "PEREGRINE_CERT_PASSWORD", hide_env_values = true)]
    pub cert_password: Option<String>,

    /// A certificate for clients asking for HOST by SNI: HOST=CERT,KEY (PEM files; HOST
    /// may be a wildcard *.example.com). Repeatable, or ';'-separated; other names get
    /// --cert
    #[arg(long, env = "PEREGRINE_SNI", value_delimiter = ';')]
    pub sni: Vec<String>,

    /// Whether TLS clients are asked for a certificate: none, allow (a client may send
    /// none; one it sends must verify) or require; needs --client-ca unless none
    /// [default: none]
    #[arg(long, env = "PEREGRINE_CLIENT_CERTIFICATE_MODE")]
    pub client_certificate_mode: Option<String>,

    /// The CA certificates (PEM) client certificates must chain to
    #[arg(long, env = "PEREGRINE_CLIENT_CA")]
    pub client_ca: Option<PathBuf>,

    /// A TLS handshake must finish within this long, else the connection is closed
    /// (checked once a second): 10, 10s, 1m [default: 10s]
    #[arg(long, env = "PEREGRINE_TLS_HANDSHAKE_TIMEOUT")]
    pub tls_handshake_timeout: Option<String>,

    /// Which HTTP versions to serve: http1, http2 or http1AndHttp2 (TLS: by ALPN;
    /// cleartext: HTTP/2 with prior knowledge, told from HTTP/1 by its preface)
    /// [default: http1AndHttp2]
    #[arg(long, env = "PEREGRINE_PROTOCOLS")]
    pub protocols: Option<String>,

    /// HTTP/2: most concurrent streams per connection [default: 100]
    #[arg(long, env = "PEREGRINE_HTTP2_MAX_STREAMS_PER_CONNECTION")]
    pub http2_max_streams_per_connection: Option<String>,

    /// HTTP/2: HPACK dynamic table size for requests, in bytes [default: 4096]
    #[arg(long, env = "PEREGRINE_HTTP2_HEADER_TABLE_SIZE")]
    pub http2_header_table_size: Option<String>,

    /// HTTP/2: largest frame payload accepted, 16384..=16777215 [default: 16384]
    #[arg(long, env = "PEREGRINE_HTTP2_MAX_FRAME_SIZE")]
    pub http2_max_frame_size: Option<String>,

    /// HTTP/2: largest request header field (name + value); larger gets 431
    /// [default: 32768]
    #[arg(long, env = "PEREGRINE_HTTP2_MAX_REQUEST_HEADER_FIELD_SIZE")]
    pub http2_max_request_header_field_size: Option<String>,

    /// HTTP/2: connection receive window in bytes [default: 1048576]
    #[arg(long, env = "PEREGRINE_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE")]
    pub http2_initial_connection_window_size: Option<String>,

    /// HTTP/2: stream receive window in bytes [default: 786432]
    #[arg(long, env = "PEREGRINE_HTTP2_INITIAL_STREAM_WINDOW_SIZE")]
    pub http2_initial_stream_window_size: Option<String>,

    /// HTTP/2: send a PING after this long without traffic, or "off" [default: off]
    #[arg(long, env = "PEREGRINE_HTTP2_KEEP_ALIVE_PING_DELAY")]
    pub http2_keep_alive_ping_delay: Option<String>,

    /// HTTP/2: close the connection when a keep-alive PING gets no answer within this
    /// long [default: 20s]
    #[arg(long, env = "PEREGRINE_HTTP2_KEEP_ALIVE_PING_TIMEOUT")]
    pub http2_keep_alive_ping_timeout: Option<String>,

    /// Origins allowed to open WebSockets, comma-separated (scheme://host[:port]);
    /// another Origin gets 403 [default: any]
    #[arg(long, env = "PEREGRINE_WEBSOCKET_ALLOWED_ORIGINS")]
    pub websocket_allowed_origins: Option<String>,

    /// Largest WebSocket message in bytes (after decompression); larger closes the
    /// socket with 1009 [default: 1048576]
    #[arg(long, env = "PEREGRINE_MAX_WEBSOCKET_MESSAGE_SIZE")]
    pub max_websocket_message_size: Option<String>,

    /// Ping WebSockets quiet this long, and close those that stop answering, or "off"
    /// [default: 120s]
    #[arg(long, env = "PEREGRINE_WEBSOCKET_KEEP_ALIVE_INTERVAL")]
    pub websocket_keep_alive_interval: Option<String>,

    /// Believe X-Forwarded-For/-Proto/-Host and Forwarded from --known-proxies: the
    /// handler's remote address, scheme and host become the client's
    #[arg(long, env = "PEREGRINE_FORWARDED_HEADERS", num_args = 0..=1, default_missing_value = "true")]
    pub forwarded_headers: Option<bool>,

    /// Proxies (IP or CIDR, comma-separated) whose forwarded headers are believed
    /// [default: loopback; unix-socket peers always]
    #[arg(long, env = "PEREGRINE_KNOWN_PROXIES")]
    pub known_proxies: Option<String>,

    /// How many forwarded entries are taken, from the right, or "unlimited" [default: 1]
    #[arg(long, env = "PEREGRINE_FORWARD_LIMIT")]
    pub forward_limit: Option<String>,

    /// Host names requests may name (a.example,*.b.example); another host gets 400
    /// [default: any]
    #[arg(long, env = "PEREGRINE_ALLOWED_HOSTS")]
    pub allowed_hosts: Option<String>,

    /// SIGUSR2 starts a new copy of the binary on the same sockets and hands over; how
    /// long it has to report ready before it is stopped and this one keeps serving
    /// [default: 30s]
    #[arg(long, env = "PEREGRINE_RESTART_TIMEOUT")]
    pub restart_timeout: Option<String>,

    /// Admin listeners serving GET /metrics in Prometheus text format, ';'-separated
    /// (e.g. http://127.0.0.1:9100) [default: none]
    #[arg(long, env = "PEREGRINE_METRICS_URLS")]
    pub metrics_urls: Option<String>,

    /// Log level or filter (error, warn, info, debug, trace, or a tracing filter)
    /// [default: info]
    #[arg(long, env = "PEREGRINE_LOG_LEVEL")]
    pub log_level: Option<String>,

    /// A TOML file with any of these options (kebab-case keys, e.g. urls = "http://*:80")
    #[arg(long, env = "PEREGRINE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The options a TOML file may hold: the same names as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileConfig {
    urls: Option<String>,
    threads: Option<usize>,
    backend: Option<String>,
    unix_socket_mode: Option<String>,
    shutdown_timeout: Option<toml::Value>,
    server_header: Option<String>,
    no_server_header: Option<bool>,
    port_sharing: Option<bool>,
    backlog: Option<u32>,
    no_pin: Option<bool>,
    proxy_protocol: Option<bool>,
    max_request_line_size: Option<usize>,
    max_request_headers_total_size: Option<usize>,
    max_request_header_count: Option<usize>,
    max_request_body_size: Option<toml::Value>,
    max_request_buffer_size: Option<usize>,
    max_response_buffer_size: Option<usize>,
    keep_alive_timeout: Option<toml::Value>,
    request_headers_timeout: Option<toml::Value>,
    min_request_body_data_rate: Option<toml::Value>,
    min_request_body_data_rate_grace: Option<toml::Value>,
    min_response_data_rate: Option<toml::Value>,
    min_response_data_rate_grace: Option<toml::Value>,
    max_concurrent_connections: Option<toml::Value>,
    max_concurrent_upgraded_connections: Option<toml::Value>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    cert_password: Option<String>,
    sni: Option<Vec<String>>,
    client_certificate_mode: Option<String>,
    client_ca: Option<PathBuf>,
    tls_handshake_timeout: Option<toml::Value>,
    metrics_urls: Option<String>,
    restart_timeout: Option<toml::Value>,
    log_level: Option<String>,
    protocols: Option<String>,
    http2_max_streams_per_connection: Option<toml::Value>,
    http2_header_table_size: Option<toml::Value>,
    http2_max_frame_size: Option<toml::Value>,
    http2_max_request_header_field_size: Option<toml::Value>,
    http2_initial_connection_window_size: Option<toml::Value>,
    http2_initial_stream_window_size: Option<toml::Value>,
    http2_keep_alive_ping_delay: Option<toml::Value>,
    http2_keep_alive_ping_timeout: Option<toml::Value>,
    websocket_allowed_origins: Option<String>,
    max_websocket_message_size: Option<toml::Value>,
    websocket_keep_alive_interval: Option<toml::Value>,
    forwarded_headers: Option<bool>,
    known_proxies: Option<String>,
    forward_limit: Option<toml::Value>,
    allowed_hosts: Option<String>,
}

/// Read the file named by `--config`, if any.
pub fn load_file(args: &Args) -> Result<FileConfig, String> {
    let Some(path) = &args.config else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let message = e.message().replace('\n', " ");
        match line {
            Some(l) => format!(
                "invalid config file {} (line {l}): {message}",
                path.display()
            ),
            None => format!("invalid config file {}: {message}", path.display()),
        }
    })
}

/// The log filter to use.
pub fn log_level(args: &Args, file: &FileConfig) -> String {
    args.log_level
        .clone()
        .or_else(|| file.log_level.clone())
        .unwrap_or_else(|| "info".into())
}

/// Merge the layers into server options.
pub fn options(args: &Args, file: FileConfig) -> Result<Options, String> {
    let mut o = Options::default();
    if let Some(urls) = args.urls.clone().or(file.urls) {
        o = o.urls(&urls).map_err(|e| e.to_string())?;
    }
    if let Some(t) = args.threads.or(file.threads) {
        if t == 0 {
            return Err("--threads must be at least 1".into());
        }
        o.threads = t;
    }
    if let Some(b) = args.backend.clone().or(file.backend) {
        o.backend = b.parse::<BackendChoice>()?;
    }
    if let Some(m) = args.unix_socket_mode.clone().or(file.unix_socket_mode) {
        o = o.unix_socket_mode_str(&m).map_err(|e| e.to_string())?;
    }
    if let Some(t) = duration_layer(
        "shutdown-timeout",
        &args.shutdown_timeout,
        file.shutdown_timeout,
    )? {
        o.shutdown_timeout = t;
    }
    if let Some(t) = duration_layer(
        "keep-alive-timeout",
        &args.keep_alive_timeout,
        file.keep_alive_timeout,
    )? {
        o.keep_alive_timeout = t;
    }
    if let Some(t) = duration_layer(
        "request-headers-timeout",
        &args.request_headers_timeout,
        file.request_headers_timeout,
    )? {
        o.request_headers_timeout = t;
    }
    if let Some(v) = text_layer(&args.max_request_body_size, file.max_request_body_size) {
        o.max_request_body_size = parse_limit("max-request-body-size", "bytes", &v)?;
    }
    if let Some(n) = args
        .max_request_buffer_size
        .or(file.max_request_buffer_size)
    {
        o.max_request_buffer_size = positive("max-request-buffer-size", n)?;
    }
    if let Some(n) = args
        .max_response_buffer_size
        .or(file.max_response_buffer_size)
    {
        o.max_response_buffer_size = positive("max-response-buffer-size", n)?;
    }
    o.min_request_body_data_rate = rate_layer(
        "min-request-body-data-rate",
        o.min_request_body_data_rate,
        text_layer(
            &args.min_request_body_data_rate,
            file.min_request_body_data_rate,
        ),
        duration_layer(
            "min-request-body-data-rate-grace",
            &args.min_request_body_data_rate_grace,
            file.min_request_body_data_rate_grace,
        )?,
    )?;
    o.min_response_data_rate = rate_layer(
        "min-response-data-rate",
        o.min_response_data_rate,
        text_layer(&args.min_response_data_rate, file.min_response_data_rate),
        duration_layer(
            "min-response-data-rate-grace",
            &args.min_response_data_rate_grace,
            file.min_response_data_rate_grace,
        )?,
    )?;
    if let Some(v) = text_layer(
        &args.max_concurrent_connections,
        file.max_concurrent_connections,
    ) {
        o.max_concurrent_connections =
            parse_limit("max-concurrent-connections", "connections", &v)?;
    }
    if let Some(v) = text_layer(
        &args.max_concurrent_upgraded_connections,
        file.max_concurrent_upgraded_connections,
    ) {
        o.max_concurrent_upgraded_connections =
            parse_limit("max-concurrent-upgraded-connections", "connections", &v)?;
    }
    if let Some(s) = args.server_header.clone().or(file.server_header) {
        o.server_header = Some(s);
    }
    if args.no_server_header.or(file.no_server_header) == Some(true) {
        o.server_header = None;
    }
    if let Some(p) = args.port_sharing.or(file.port_sharing) {
        o.port_sharing = p;
    }
    if let Some(b) = args.backlog.or(file.backlog) {
        o.backlog = b;
    }
    if let Some(n) = args.no_pin.or(file.no_pin) {
        o.pin_workers = !n;
    }
    if let Some(p) = args.proxy_protocol.or(file.proxy_protocol) {
        o.proxy_protocol = p;
    }
    if let Some(n) = args.max_request_line_size.or(file.max_request_line_size) {
        o.limits.max_request_line = positive("max-request-line-size", n)?;
    }
    if let Some(n) = args
        .max_request_headers_total_size
        .or(file.max_request_headers_total_size)
    {
        o.limits.max_headers_total = positive("max-request-headers-total-size", n)?;
    }
    if let Some(n) = args
        .max_request_header_count
        .or(file.max_request_header_count)
    {
        o.limits.max_header_count = positive("max-request-header-count", n)?;
    }
    (o.tls, o.pkcs12) = certificate_layer(
        args.cert.clone().or(file.cert),
        args.key.clone().or(file.key),
        args.cert_password.clone().or(file.cert_password),
    )?;
    // The whole list from the highest layer that gives one, like every other option.
    let sni = if args.sni.is_empty() {
        file.sni.unwrap_or_default()
    } else {
        args.sni.clone()
    };
    o.sni = sni.iter().map(|v| parse_sni(v)).collect::<Result<_, _>>()?;
    (o.client_certificate_mode, o.client_ca) = client_certificate_layer(
        args.client_certificate_mode
            .clone()
            .or(file.client_certificate_mode),
        args.client_ca.clone().or(file.client_ca),
    )?;
    if let Some(t) = duration_layer(
        "tls-handshake-timeout",
        &args.tls_handshake_timeout,
        file.tls_handshake_timeout,
    )? {
        if t.is_zero() {
            return Err("--tls-handshake-timeout must be greater than 0".into());
        }
        o.tls_handshake_timeout = t;
    }
    if let Some(t) = duration_layer(
        "restart-timeout",
        &args.restart_timeout,
        file.restart_timeout,
    )? {
        if t.is_zero() {
            return Err("--restart-timeout must be greater than 0".into());
        }
        o.restart_timeout = t;
    }
    if let Some(m) = args.metrics_urls.clone().or(file.metrics_urls) {
        o = o
            .metrics_urls(&m)
            .map_err(|e| format!("--metrics-urls: {e}"))?;
    }
    crate::http2_flags::apply(
        &mut o,
        crate::http2_flags::Http2Text {
            protocols: args.protocols.clone().or(file.protocols),
            max_streams: text_layer(
                &args.http2_max_streams_per_connection,
                file.http2_max_streams_per_connection,
            ),
            header_table_size: text_layer(
                &args.http2_header_table_size,
                file.http2_header_table_size,
            ),
            max_frame_size: text_layer(&args.http2_max_frame_size, file.http2_max_frame_size),
            max_field_size: text_layer(
                &args.http2_max_request_header_field_size,
                file.http2_max_request_header_field_size,
            ),
            connection_window: text_layer(
                &args.http2_initial_connection_window_size,
                file.http2_initial_connection_window_size,
            ),
            stream_window: text_layer(
                &args.http2_initial_stream_window_size,
                file.http2_initial_stream_window_size,
            ),
            ping_delay: text_layer(
                &args.http2_keep_alive_ping_delay,
                file.http2_keep_alive_ping_delay,
            ),
            ping_timeout: text_layer(
                &args.http2_keep_alive_ping_timeout,
                file.http2_keep_alive_ping_timeout,
            ),
        },
    )?;
    crate::websocket_flags::apply(
        &mut o,
        args.websocket_allowed_origins
            .clone()
            .or(file.websocket_allowed_origins),
        text_layer(
            &args.max_websocket_message_size,
            file.max_websocket_message_size,
        ),
        text_layer(
            &args.websocket_keep_alive_interval,
            file.websocket_keep_alive_interval,
        ),
    )?;
    crate::edge_flags::apply(
        &mut o,
        args.forwarded_headers.or(file.forwarded_headers),
        args.known_proxies.clone().or(file.known_proxies),
        text_layer(&args.forward_limit, file.forward_limit),
        args.allowed_hosts.clone().or(file.allowed_hosts),
    )?;
    o.validate()?;
    Ok(o)
}

/// A value given on the command line / environment, else in the file, as text.
fn text_layer(arg: &Option<String>, file: Option<toml::Value>) -> Option<String> {
    arg.clone().or_else(|| {
        file.map(|v| match v {
            toml::Value::String(s) => s,
            other => other.to_string(),
        })
    })
}

/// A duration from the command line / environment, else from the file (a number of
/// seconds or a string such as "500ms").
fn duration_layer(
    name: &str,
    arg: &Option<String>,
    file: Option<toml::Value>,
) -> Result<Option<Duration>, String> {
    match text_layer(arg, file) {
        Some(t) => parse_duration(&t)
            .map(Some)
            .map_err(|e| format!("--{name}: {e}")),
        None => Ok(None),
    }
}

/// A count of `unit` (bytes, connections) or "unlimited".
fn parse_limit(name: &str, unit: &str, text: &str) -> Result<Option<u64>, String> {
    if text.eq_ignore_ascii_case("unlimited") || text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    text.parse::<u64>()
        .map(Some)
        .map_err(|_| format!("--{name}: '{text}' is not a number of {unit} or 'unlimited'"))
}

/// A minimum data rate (bytes/s or "off") and its grace period.
fn rate_layer(
    name: &str,
    default: Option<(u64, Duration)>,
    rate: Option<String>,
    grace: Option<Duration>,
) -> Result<Option<(u64, Duration)>, String> {
    let default_grace = default.map(|d| d.1).unwrap_or(Duration::from_secs(5));
    let rate = match rate {
        None => default.map(|d| d.0),
        Some(t) if t.eq_ignore_ascii_case("off") || t == "0" => None,
        Some(t) => Some(
            t.parse::<u64>()
                .map_err(|_| format!("--{name}: '{t}' is not a rate in bytes/s or 'off'"))?,
        ),
    };
    Ok(rate.map(|r| (r, grace.unwrap_or(default_grace))))
}

fn positive(name: &str, n: usize) -> Result<usize, String> {
    if n == 0 {
        Err(format!("--{name} must be greater than 0"))
    } else {
        Ok(n)
    }
}

/// `30`, `30s`, `500ms`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration '{text}': use seconds (30), 30s, 500ms or 2m");
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
