//! TLS for peer-hyper: a rustls server configuration (aws-lc-rs, TLS 1.2 and 1.3) from a
//! PEM chain and key, offering ALPN `h2` or `http/1.1` (whichever protocol it serves).

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{crypto, ServerConfig};

/// The configuration for `cert` and `key`, with ALPN `h2` when `h2`, else `http/1.1`.
pub fn config(cert: &Path, key: &Path, h2: bool) -> Result<Arc<ServerConfig>, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read --cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("--cert {} holds no certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read --key {}: {e}", key.display()))?;
    let provider = Arc::new(crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("certificate and key: {e}"))?;
    config.alpn_protocols = vec![if h2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    Ok(Arc::new(config))
}
