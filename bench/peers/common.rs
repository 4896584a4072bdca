//! What the peers share (included with `#[path]`): `--listen 127.0.0.1:PORT` (an
//! `http://` prefix is accepted) and `--threads N` parsing, and the TechEmpower bodies.

use std::net::SocketAddr;

/// The plaintext body.
pub const PLAINTEXT: &str = "Hello, World!";

/// The json test's message, serialized per request.
#[derive(serde::Serialize)]
pub struct Message {
    pub message: &'static str,
}

/// Command-line options.
pub struct Args {
    pub listen: SocketAddr,
    pub threads: usize,
}

/// Parses the options; prints usage and exits with status 2 when they are wrong.
#[allow(dead_code)] // peer-hyper takes its own options out first and uses `args_from`
pub fn args(name: &str) -> Args {
    args_from(name, std::env::args().skip(1))
}

/// As [`args`], from `it` (what a peer's own options left).
pub fn args_from(name: &str, it: impl Iterator<Item = String>) -> Args {
    match parse(it) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{name}: {e}\nusage: {name} --listen 127.0.0.1:PORT [--threads N]");
            std::process::exit(2);
        }
    }
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut listen = None;
    let mut threads = 1;
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value()?;
                let v = v
                    .strip_prefix("http://")
                    .unwrap_or(&v)
                    .trim_end_matches('/');
                listen = Some(v.parse().map_err(|e| format!("bad --listen `{v}`: {e}"))?);
            }
            "--threads" => {
                let v = value()?;
                threads = v.parse().map_err(|_| format!("bad --threads `{v}`"))?;
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(Args {
        listen: listen.ok_or("--listen is required")?,
        threads: threads.max(1),
    })
}
