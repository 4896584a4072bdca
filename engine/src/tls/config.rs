//! The server's TLS configuration from `Options`: PEM certificate chains and their private
//! keys (PKCS#8, PKCS#1 RSA or SEC1 EC), chosen per connection by SNI in Kestrel's order
//! (exact host, longest `*.suffix` wildcard, default); TLS 1.2 and 1.3 only; the aws-lc-rs
//! provider; ALPN `h2` and `http/1.1` as `--protocols` says. Every failure is one line naming the file and what is wrong.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{version, RootCertStore, ServerConfig};

use crate::options::{
    ClientCertificateMode, Pkcs12Certificate, Protocols, SniCertificate, TlsOptions,
};

/// Who may connect: whether a client certificate is asked for, and what it must chain to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAuth<'a> {
    pub mode: ClientCertificateMode,
    pub ca: Option<&'a Path>,
}

#[cfg(test)]
impl ClientAuth<'_> {
    /// No client certificates.
    pub const NONE: ClientAuth<'static> = ClientAuth {
        mode: ClientCertificateMode::NoCertificate,
        ca: None,
    };
}

/// ALPN protocols offered, most preferred first (Kestrel's order: `h2`, then
/// `http/1.1`).
fn alpn(protocols: Protocols) -> Vec<Vec<u8>> {
    let mut list = Vec::new();
    if protocols.http2() {
        list.push(b"h2".to_vec());
    }
    if protocols.http1() {
        list.push(b"http/1.1".to_vec());
    }
    list
}

/// Build the server's TLS configuration, or say in one line why it cannot be built.
#[cfg(test)]
pub(crate) fn server_config(
    default: Option<&TlsOptions>,
    sni: &[SniCertificate],
    client: ClientAuth<'_>,
) -> Result<Arc<ServerConfig>, String> {
    server_config_reloadable(default, None, sni, client, Protocols::default())
        .map(|(config, _)| config)
}

/// [`server_config`], with the handle that replaces its certificates while it runs.
pub(crate) fn server_config_reloadable(
    default: Option<&TlsOptions>,
    pkcs12: Option<&Pkcs12Certificate>,
    sni: &[SniCertificate],
    client: ClientAuth<'_>,
    protocols: Protocols,
) -> Result<(Arc<ServerConfig>, Arc<Reloadable>), String> {
    if default.is_some() && pkcs12.is_some() {
        return Err(
            "give the default certificate as PEM files (--cert and --key) or as a PKCS#12 \
             file (--cert x.pfx), not both"
                .into(),
        );
    }
    let provider = Arc::new(crate::tls::provider());
    let files = watched_files(default, pkcs12, sni);
    let stamps = super::reload::stamps(&files);
    let certificates = load_certificates(default, pkcs12, sni, &provider)?;
    let reloadable = Arc::new(Reloadable {
        current: RwLock::new(Arc::new(certificates)),
        stamps: std::sync::Mutex::new(stamps),
        pkcs12: pkcs12.cloned(),
        default: default.cloned(),
        sni: sni.to_vec(),
        provider: provider.clone(),
    });
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])
        .map_err(|e| format!("TLS configuration: {e}"))?;
    let builder = client_auth(builder, client, provider)?;
    let mut config = builder.with_cert_resolver(reloadable.clone());
    config.alpn_protocols = alpn(protocols);
    Ok((Arc::new(config), reloadable))
}

/// Load every certificate `Options` names.
fn load_certificates(
    default: Option<&TlsOptions>,
    pkcs12: Option<&Pkcs12Certificate>,
    sni: &[SniCertificate],
    provider: &CryptoProvider,
) -> Result<Certificates, String> {
    let mut certificates = Certificates::default();
    if let Some(files) = default {
        certificates.default = Some(certified(files, provider)?);
    }
    if let Some(p12) = pkcs12 {
        certificates.default = Some(certified_pkcs12(p12, provider)?);
    }
    for entry in sni {
        let key = certified(&entry.files, provider)?;
        let host = entry.host.trim().to_ascii_lowercase();
        if host.is_empty() || host == "*" || host.contains(['/', ' ', ':']) {
            return Err(format!("--sni: '{}' is not a host name", entry.host));
        }
        match host.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') && suffix.len() > 1 => {
                certificates.wildcards.push((suffix.to_string(), key));
            }
            Some(_) => {
                return Err(format!(
                    "--sni: '{}': a wildcard is written *.example.com",
                    entry.host
                ))
            }
            None => {
                certificates.exact.insert(host, key);
            }
        }
    }
    // The longest suffix first: `*.a.example.com` before `*.example.com`.
    certificates
        .wildcards
        .sort_by_key(|w| std::cmp::Reverse(w.0.len()));
    Ok(certificates)
}

/// Ask for client certificates as `client` says.
fn client_auth(
    builder: rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier>,
    client: ClientAuth<'_>,
    provider: Arc<CryptoProvider>,
) -> Result<rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>, String> {
    Ok(match (client.mode, client.ca) {
        (ClientCertificateMode::NoCertificate, _) => builder.with_no_client_auth(),
        (_, None) => {
            return Err(
                "a client certificate mode other than none needs --client-ca (the CA \
                 certificates client certificates must chain to)"
                    .into(),
            )
        }
        (mode, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for cert in load_chain(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("the client CA file '{}': {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match mode {
                ClientCertificateMode::AllowCertificate => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| format!("the client CA file '{}': {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    })
}

/// The certificates in use, replaceable while the server runs (SIGHUP, changed files):
/// new handshakes use the new ones, open connections keep theirs.
#[derive(Debug)]
pub(crate) struct Reloadable {
    current: RwLock<Arc<Certificates>>,
    /// The files' stamps taken just before they were last read.
    stamps: std::sync::Mutex<Vec<super::reload::Stamp>>,
    default: Option<TlsOptions>,
    pkcs12: Option<Pkcs12Certificate>,
    sni: Vec<SniCertificate>,
    provider: Arc<CryptoProvider>,
}

impl Reloadable {
    /// Load the files again; on success new handshakes use them, on failure the old
    /// certificates stay and the error says why.
    pub fn reload(&self) -> Result<(), String> {
        let stamps = super::reload::stamps(&self.files());
        let fresh = load_certificates(
            self.default.as_ref(),
            self.pkcs12.as_ref(),
            &self.sni,
            &self.provider,
        )?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        *self.stamps.lock().unwrap_or_else(|p| p.into_inner()) = stamps;
        Ok(())
    }

    /// The files' stamps taken just before they were last loaded.
    pub fn loaded_stamps(&self) -> Vec<super::reload::Stamp> {
        self.stamps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every certificate and key file, to watch for changes.
    pub fn files(&self) -> Vec<std::path::PathBuf> {
        watched_files(self.default.as_ref(), self.pkcs12.as_ref(), &self.sni)
    }
}

/// Every file the certificates are read from.
fn watched_files(
    default: Option<&TlsOptions>,
    pkcs12: Option<&Pkcs12Certificate>,
    sni: &[SniCertificate],
) -> Vec<std::path::PathBuf> {
    default
        .into_iter()
        .chain(sni.iter().map(|s| &s.files))
        .flat_map(|f| [f.cert.clone(), f.key.clone()])
        .chain(pkcs12.iter().map(|p| p.file.clone()))
        .collect()
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        current.select(hello.server_name())
    }
}

/// The certificates, by the name the client asks for.
#[derive(Debug, Default)]
struct Certificates {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `(".example.com", key)`, longest suffix first.
    wildcards: Vec<(String, Arc<CertifiedKey>)>,
    default: Option<Arc<CertifiedKey>>,
}

impl Certificates {
    fn select(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = name {
            // rustls hands the name over lower-cased and without a trailing dot.
            if let Some(key) = self.exact.get(name) {
                return Some(key.clone());
            }
            if let Some((_, key)) = self
                .wildcards
                .iter()
                .find(|(suffix, _)| name.len() > suffix.len() && name.ends_with(suffix.as_str()))
            {
                return Some(key.clone());
            }
        }
        self.default.clone()
    }
}

/// Load a chain and its key, checking that they belong together.
fn certified(files: &TlsOptions, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, String> {
    let chain = load_chain(&files.cert)?;
    let key = load_key(&files.key)?;
    CertifiedKey::from_der(chain, key, provider)
        .map(Arc::new)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => format!(
                "the private key '{}' does not match the certificate '{}'",
                files.key.display(),
                files.cert.display()
            ),
            e => format!(
                "cannot use the certificate '{}' with the key '{}': {e}",
                files.cert.display(),
                files.key.display()
            ),
        })
}

/// Load the chain and key of a PKCS#12 file (p12-keystore: PBES2/AES as OpenSSL 3 writes
/// them, and the legacy 3DES/RC4 schemes).
fn certified_pkcs12(
    p12: &Pkcs12Certificate,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    let bytes = read(&p12.file, "PKCS#12")?;
    let store = p12_keystore::KeyStore::from_pkcs12(
        &bytes,
        &p12.password,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .map_err(|e| {
        format!(
            "cannot open the PKCS#12 file '{}' (wrong password, or not PKCS#12): {e}",
            p12.file.display()
        )
    })?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(format!(
            "the PKCS#12 file '{}' holds no private key with its certificate",
            p12.file.display()
        ));
    };
    let certs: Vec<CertificateDer<'static>> = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(chain.key().as_der().to_vec().into());
    CertifiedKey::from_der(certs, key, provider)
        .map(Arc::new)
        .map_err(|e| format!("the PKCS#12 file '{}': {e}", p12.file.display()))
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

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/cert.pem");
    const KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/key.pem");
    const CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tls/testdata/ca.pem");

    fn files() -> TlsOptions {
        TlsOptions {
            cert: CERT.into(),
            key: KEY.into(),
        }
    }

    fn sni(host: &str) -> SniCertificate {
        SniCertificate {
            host: host.into(),
            files: files(),
        }
    }

    #[test]
    fn selection_follows_kestrels_order() {
        let provider = crate::tls::provider();
        let key = |_: &str| certified(&files(), &provider).expect("loads");
        let (exact, short, long, default) = (key("a"), key("b"), key("c"), key("d"));
        let mut c = Certificates {
            exact: HashMap::from([("api.example.com".to_string(), exact.clone())]),
            wildcards: vec![
                (".example.com".to_string(), short.clone()),
                (".eu.example.com".to_string(), long.clone()),
            ],
            default: Some(default.clone()),
        };
        c.wildcards.sort_by_key(|w| std::cmp::Reverse(w.0.len()));
        let pick = |n: Option<&str>| c.select(n).expect("a certificate");
        assert!(Arc::ptr_eq(&pick(Some("api.example.com")), &exact));
        assert!(Arc::ptr_eq(&pick(Some("www.eu.example.com")), &long));
        assert!(Arc::ptr_eq(&pick(Some("www.example.com")), &short));
        assert!(Arc::ptr_eq(&pick(Some("example.com")), &default));
        assert!(Arc::ptr_eq(&pick(Some("other.org")), &default));
        assert!(Arc::ptr_eq(&pick(None), &default));
        c.default = None;
        assert!(c.select(Some("other.org")).is_none());
    }

    #[test]
    fn bad_files_are_one_clear_line() {
        let missing = TlsOptions {
            cert: "/nonexistent/cert.pem".into(),
            key: KEY.into(),
        };
        let e = server_config(Some(&missing), &[], ClientAuth::NONE).expect_err("refused");
        assert!(
            e.starts_with("cannot read the certificate file '/nonexistent/cert.pem'"),
            "{e}"
        );
        let not_a_key = TlsOptions {
            cert: CERT.into(),
            key: CERT.into(),
        };
        let e = server_config(Some(&not_a_key), &[], ClientAuth::NONE).expect_err("refused");
        assert!(e.contains("holds no usable PEM key"), "{e}");
        let not_a_cert = TlsOptions {
            cert: KEY.into(),
            key: KEY.into(),
        };
        let e = server_config(Some(&not_a_cert), &[], ClientAuth::NONE).expect_err("refused");
        assert!(e.contains("holds no PEM certificate"), "{e}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        // The CA's certificate with the server's key: they do not belong together.
        let mismatched = TlsOptions {
            cert: CA.into(),
            key: KEY.into(),
        };
        let e = server_config(Some(&mismatched), &[], ClientAuth::NONE).expect_err("refused");
        assert!(e.contains("does not match the certificate"), "{e}");
    }

    #[test]
    fn sni_host_names_are_checked() {
        assert!(server_config(
            None,
            &[sni("example.com"), sni("*.example.com")],
            ClientAuth::NONE
        )
        .is_ok());
        for bad in ["", "*", "*example.com", "a b", "http://x"] {
            let e = server_config(None, &[sni(bad)], ClientAuth::NONE).expect_err(bad);
            assert!(e.starts_with("--sni"), "{e}");
        }
    }
}
