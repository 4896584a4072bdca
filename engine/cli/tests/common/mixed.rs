//! A server on one cleartext and one TLS port with the engine's test certificate
//! (`engine/src/tls/testdata`: `localhost` and `127.0.0.1`, from a test CA), for the
//! HTTP/2 and WebSocket tests, and the check for the Python modules they drive.

#![allow(dead_code)]

use std::process::{Command, Stdio};

use super::{skip, Backend, Server};

/// The test certificate, its key and the CA that signed it.
pub const CERT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../src/tls/testdata/cert.pem");
pub const KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../src/tls/testdata/key.pem");
pub const CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../src/tls/testdata/ca.pem");

/// The binary on `http://127.0.0.1:0` (port 0) and `https://127.0.0.1:0` (port 1).
pub fn server(backend: Backend, extra: &[&str]) -> Server {
    let mut args = vec![
        "--urls",
        "http://127.0.0.1:0;https://127.0.0.1:0",
        "--cert",
        CERT,
        "--key",
        KEY,
    ];
    args.extend_from_slice(extra);
    Server::start(backend, &args)
}

/// Whether python3 can import `module`; a skip notice when not.
pub fn python_has(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(&format!(
            "python3 with the {module} module is not installed (pip install {module})"
        ));
    }
    ok
}
