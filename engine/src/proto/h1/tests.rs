//! HTTP/1 connections driven over the in-memory transport: no sockets, no sleeping, the
//! worker's clock advanced by hand (see `crate::testing`).

mod backpressure;
mod buffers;
mod drain;
mod expect;
mod fairness;
mod pipelining;
mod shutdown;
mod shutdown_timeout;
mod split;
mod timeouts;
mod upgrade;
mod upgrade_shutdown;
