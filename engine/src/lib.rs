//! Peregrine: a thread-per-core HTTP/1.1 server engine on io_uring, with an epoll fallback.
//!
//! One worker per core, each pinned, each with its own runtime and its own `SO_REUSEPORT`
//! listening sockets; URL prefixes bound by Kestrel's rules; handlers are async functions
//! from [`Request`] to [`Response`] (an `http::Response<Body>`).
//!
//! ```no_run
//! use peregrine::{Body, Options, Request, Response, Server};
//!
//! async fn hello(_req: Request) -> Response {
//!     Response::new(Body::from("Hello, World!"))
//! }
//!
//! let options = Options::default().urls("http://127.0.0.1:8080").unwrap();
//! let server = Server::bind(options).unwrap();
//! println!("listening on {:?}", server.addresses());
//! server.run(hello).unwrap();
//! ```
#![deny(missing_docs)]

mod accept;
mod activation;
mod admin;
mod backend;
mod body;
mod date;
mod edge;
mod error;
mod fair;
mod fdtable;
mod handler;
mod listen;
pub mod metrics;
mod notify;
mod options;
mod pool;
mod proto;
mod registry;
mod request;
mod response;
mod restart;
mod server;
mod shard;
mod signal;
mod sys;
mod task;
#[cfg(test)]
mod testing;
mod tls;
mod transport;
mod url;
mod worker;
pub mod ws;

pub use activation::SocketActivation;
pub use backend::{Backend, BackendChoice};
pub use body::{Body, BoxStream, TrailersFuture};
pub use edge::cidr::Cidr;
pub use error::{Error, ErrorKind};
pub use handler::Handler;
pub use listen::BindError;
pub use options::{
    default_threads, ClientCertificateMode, Http2Limits, Options, Pkcs12Certificate, Protocols,
    SniCertificate, TlsOptions, WebSocketOptions, DEFAULT_URLS, SYSTEMD_URLS,
};
pub use request::{BodyLimitError, Request, RequestBody, UpgradeError, Upgraded};
pub use response::Response;
pub use server::{Running, Server, ShutdownHandle};
pub use transport::{Addr, ConnInfo, TlsInfo};
pub use url::{BindAddress, ListenTarget, Scheme, UrlError};

/// Re-export of the `http` crate used at the API boundary.
pub use http;

/// The README's examples, compiled as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
