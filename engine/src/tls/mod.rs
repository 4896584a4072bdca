//! HTTPS: rustls as one more [`Transport`](crate::transport::Transport). The certificate
//! is loaded once at start ([`config`]); each connection runs its handshake on its own
//! task ([`stream::accept`]), then speaks whatever protocol it picked through
//! [`stream::Tls`], exactly as a plain socket would.

pub(crate) mod config;

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!("peregrine needs a TLS crypto provider: enable the `aws-lc-rs` or `ring` feature");

/// The crypto provider the `aws-lc-rs` / `ring` feature chose.
pub(crate) fn provider() -> rustls::crypto::CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    return rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    return rustls::crypto::ring::default_provider();
}
pub(crate) mod poll;
pub(crate) mod reload;
pub(crate) mod stream;

#[cfg(test)]
mod tests;
