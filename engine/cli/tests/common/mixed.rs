//! A server on one cleartext and one TLS port with the engine's test certificate
//! (`engine/src/tls/testdata`: `localhost` and `127.0.0.1`, from a test CA), for the
//! HTTP/2 and WebSocket tests, and the check for the Python modules they drive.

#![allow(dead_code)]

use std::process::{Command, Stdio};

use super::{skip, Backend, Server, TempDir};

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

/// Whether python3 can import `module` (`websockets.sync.client`: the sync client
/// arrived in websockets 11; Debian's python3-websockets 10 lacks it); a skip notice
/// when not.
pub fn python_has(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let package = module.split('.').next().unwrap_or(module);
        skip(&format!(
            "python3 cannot import {module} (pip install --upgrade {package})"
        ));
    }
    ok
}

/// The WebSocket client script (Python `websockets`).
pub const WS_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ws_client.py");

/// One tests/ws_client.py case against `url`; its JSON report.
pub fn ws_case(case: &str, url: &str, extra: &[&str]) -> serde_json::Value {
    let out = Command::new("python3")
        .args([WS_CLIENT, case, url, CA])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{case}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{case}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A file of `n` pseudo-random bytes in `dir` (no tool loses a newline of it): its
/// path and contents.
pub fn payload(dir: &TempDir, n: usize) -> (std::path::PathBuf, Vec<u8>) {
    let mut x: u32 = 0x1234_5678;
    let bytes: Vec<u8> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let path = dir.join("payload.bin");
    std::fs::write(&path, &bytes).expect("write payload");
    (path, bytes)
}
