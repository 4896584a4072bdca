//! peer-hyper's own options, taken out before the shared `--listen`/`--threads`:
//! `--h2` (HTTP/2: h2c with prior knowledge, or ALPN `h2` over TLS) and `--cert FILE
//! --key FILE` (TLS: a PEM chain, leaf first, and its PEM key).

use std::path::PathBuf;

/// The protocol options.
pub struct Flags {
    /// Serve HTTP/2 instead of HTTP/1.1.
    pub h2: bool,
    /// TLS certificate chain and key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Split `--h2`, `--cert` and `--key` out of `args`: the flags and the rest.
pub fn split(args: impl Iterator<Item = String>) -> Result<(Flags, Vec<String>), String> {
    let mut h2 = false;
    let (mut cert, mut key) = (None, None);
    let mut rest = Vec::new();
    let mut it = args;
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--h2" => h2 = true,
            "--cert" => cert = Some(PathBuf::from(it.next().ok_or("--cert needs a value")?)),
            "--key" => key = Some(PathBuf::from(it.next().ok_or("--key needs a value")?)),
            _ => rest.push(arg),
        }
    }
    let tls = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err("--cert and --key go together".into()),
    };
    Ok((Flags { h2, tls }, rest))
}
