//! HTTPS: rustls as one more [`Transport`](crate::transport::Transport). The certificate
//! is loaded once at start ([`config`]); each connection runs its handshake on its own
//! task ([`stream::accept`]), then speaks whatever protocol it picked through
//! [`stream::Tls`], exactly as a plain socket would.

pub(crate) mod config;
pub(crate) mod reload;
pub(crate) mod stream;

#[cfg(test)]
mod tests;
