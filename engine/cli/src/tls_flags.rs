//! The TLS flags of the `peregrine` binary, turned into `Options`: the default
//! certificate (PEM chain and key, or a PKCS#12 file and its password), `--sni` values,
//! and the client certificate mode with its CA. `cli.rs` takes each value from whichever
//! layer gives it (command line, environment, file) and hands it here; the engine checks
//! the files themselves when it loads them.

use std::path::{Path, PathBuf};

use peregrine::{ClientCertificateMode, Pkcs12Certificate, SniCertificate, TlsOptions};

/// Whether `path` names a PKCS#12 file: `.pfx` or `.p12`, in any case.
fn is_pkcs12(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pfx") || e.eq_ignore_ascii_case("p12"))
}

/// The default certificate, each part from whichever layer gives it: a PEM chain with
/// its key, or a PKCS#12 file with its password (empty when none is given).
pub fn certificate_layer(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    password: Option<String>,
) -> Result<(Option<TlsOptions>, Option<Pkcs12Certificate>), String> {
    match (cert, key, password) {
        (Some(file), None, password) if is_pkcs12(&file) => Ok((
            None,
            Some(Pkcs12Certificate {
                file,
                password: password.unwrap_or_default(),
            }),
        )),
        (Some(file), Some(key), _) if is_pkcs12(&file) => Err(format!(
            "--key ('{}') is given with the PKCS#12 certificate '{}': a .pfx / .p12 file \
             holds its own key; drop --key (or PEREGRINE_KEY, or `key` in the config file)",
            key.display(),
            file.display()
        )),
        (Some(file), _, Some(_)) => Err(format!(
            "--cert-password is given with the PEM certificate '{}': the password is for a \
             PKCS#12 file (.pfx / .p12); drop --cert-password (or PEREGRINE_CERT_PASSWORD, \
             or `cert-password` in the config file)",
            file.display()
        )),
        (None, None, Some(_)) => Err(
            "--cert-password is given without --cert (or PEREGRINE_CERT, or `cert` in the \
             config file): it is the password of a PKCS#12 certificate (.pfx / .p12)"
                .into(),
        ),
        (cert, key, _) => Ok((pem_layer(cert, key)?, None)),
    }
}

/// A PEM certificate and its key: both or neither.
fn pem_layer(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<Option<TlsOptions>, String> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsOptions { cert, key })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(
            "--cert is given without --key (or PEREGRINE_KEY, or `key` in the config file): \
             both are needed to serve https://"
                .into(),
        ),
        (None, Some(_)) => Err(
            "--key is given without --cert (or PEREGRINE_CERT, or `cert` in the config file): \
             both are needed to serve https://"
                .into(),
        ),
    }
}

/// How an `--sni` value is written.
pub const SNI_FORM: &str = "HOST=CERT,KEY (e.g. api.example.com=/etc/tls/api.pem,/etc/tls/api.key)";

/// `HOST=CERT,KEY`: a host name (or `*.suffix`) and its PEM chain and key files. The
/// engine checks the host name itself when it loads the certificates.
pub fn parse_sni(value: &str) -> Result<SniCertificate, String> {
    let bad = || format!("--sni '{value}': expected {SNI_FORM}");
    let (host, files) = value.split_once('=').ok_or_else(bad)?;
    let (cert, key) = files.split_once(',').ok_or_else(bad)?;
    let (host, cert, key) = (host.trim(), cert.trim(), key.trim());
    if host.is_empty() || cert.is_empty() || key.is_empty() || key.contains(',') {
        return Err(bad());
    }
    Ok(SniCertificate {
        host: host.to_string(),
        files: TlsOptions {
            cert: cert.into(),
            key: key.into(),
        },
    })
}

/// The client certificate mode and the CA it verifies against, each from whichever
/// layer gives it. A mode other than none needs a CA; a CA with mode none would check
/// nothing, so it is refused rather than silently ignored.
pub fn client_certificate_layer(
    mode: Option<String>,
    ca: Option<PathBuf>,
) -> Result<(ClientCertificateMode, Option<PathBuf>), String> {
    let mode = match mode {
        Some(m) => m
            .trim()
            .parse::<ClientCertificateMode>()
            .map_err(|e| format!("--client-certificate-mode: {e}"))?,
        None => ClientCertificateMode::NoCertificate,
    };
    match (mode, &ca) {
        (ClientCertificateMode::NoCertificate, Some(ca)) => Err(format!(
            "--client-ca ('{}') is given but --client-certificate-mode is none, so client \
             certificates are not asked for: add --client-certificate-mode allow or require",
            ca.display()
        )),
        (ClientCertificateMode::NoCertificate, None) => Ok((mode, None)),
        (_, None) => Err(
            "--client-certificate-mode allow / require needs --client-ca (or \
             PEREGRINE_CLIENT_CA, or `client-ca` in the config file): the CA certificates \
             (PEM) client certificates must chain to"
                .into(),
        ),
        (_, Some(_)) => Ok((mode, ca)),
    }
}
