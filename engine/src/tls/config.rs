//! The server's TLS configuration from `Options`: a PEM certificate chain and its private
//! key (PKCS#8, PKCS#1 RSA or SEC1 EC), TLS 1.2 and 1.3 only, the aws-lc-rs provider,
//! ALPN `http/1.1`. Every failure is one line naming the file and what is wrong with it.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{version, ServerConfig};

use crate::options::TlsOptions;

/// ALPN protocols offered, most preferred first (`h2` joins with HTTP/2).
const ALPN: &[&[u8]] = &[b"http/1.1"];

/// Build the server's TLS configuration, or say in one line why it cannot be built.
pub(crate) fn server_config(o: &TlsOptions) -> Result<Arc<ServerConfig>, String> {
    let chain = load_chain(&o.cert)?;
    let key = load_key(&o.key)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => format!(
                "the private key '{}' does not match the certificate '{}'",
                o.key.display(),
                o.cert.display()
            ),
            e => format!(
                "cannot use the certificate '{}' with the key '{}': {e}",
                o.cert.display(),
                o.key.display()
            ),
        })?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path, "certificate")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!(
                "the certificate file '{}' is malformed: {e}",
                path.display()
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "the certificate file '{}' holds no PEM certificate",
            path.display()
        ));
    }
    Ok(chain)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = read(path, "private key")?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        format!(
            "the private key file '{}' holds no usable PEM key (PKCS#8, PKCS#1 RSA or SEC1 EC): {e}",
            path.display()
        )
    })
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path)
        .map_err(|e| format!("cannot read the {what} file '{}': {e}", path.display()))
}
