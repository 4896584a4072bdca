//! HTTP/1 connections driven over the in-memory transport: no sockets, no sleeping, the
//! worker's clock advanced by hand (see `crate::testing`).

mod shutdown;
mod upgrade;
