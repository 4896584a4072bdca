//! End-to-end tests of the TechEmpower-style runner: a very short run against this
//! workspace's `peregrine` (skipped with a message when it has not been built), and the
//! endpoint checks against small hand-written servers that break the rules.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;

use peregrine_bench::check::{check_endpoint, TestType};

const BIN: &str = env!("CARGO_BIN_EXE_techempower");

fn binaries() -> Option<(PathBuf, PathBuf)> {
    // The most recently built pair: a stale release build must not stand in for the
    // debug build `cargo test --workspace` just made (or the other way round).
    let target = Path::new(BIN).parent()?.parent()?;
    let built = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    ["release", "debug"]
        .iter()
        .filter_map(|profile| {
            let dir = target.join(profile);
            let (s, l) = (dir.join("peregrine"), dir.join("peregrine-load"));
            let when = built(&s)?.min(built(&l)?);
            Some((when, s, l))
        })
        .max_by_key(|(when, _, _)| *when)
        .map(|(_, s, l)| (s, l))
}

#[test]
fn a_short_run_writes_tables_charts_and_json() {
    let Some((server, load)) = binaries() else {
        eprintln!("skipped: build peregrine and peregrine-load first (cargo build --workspace)");
        return;
    };
    let out = std::env::temp_dir().join(format!("techempower-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(BIN)
        .args([
            "--no-build",
            "--no-pin",
            "--duration",
            "300ms",
            "--warmup",
            "100ms",
        ])
        .args(["--plaintext-connections", "8,16", "--json-connections", "4"])
        .arg("--server-bin")
        .arg(&server)
        .arg("--load-bin")
        .arg(&load)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run techempower");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("| server | 8 | 16 | best |"), "{stdout}");
    let md = std::fs::read_to_string(out.join("techempower.md")).expect("report");
    assert!(md.contains("## plaintext (pipeline 16): requests/s by connections"));
    assert!(md.contains("| peregrine | plaintext | 16 |"), "{md}");
    assert!(md.contains("| peregrine | json | ok | peregrine |"), "{md}");
    for chart in ["techempower-plaintext.svg", "techempower-json.svg"] {
        let svg = std::fs::read_to_string(out.join(chart)).expect(chart);
        assert!(svg.starts_with("<svg") && svg.contains("connections"));
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("techempower.json")).unwrap())
            .unwrap();
    let levels = json["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 3);
    for l in levels {
        assert!(l["load"]["requests_per_s"].as_f64().unwrap() > 0.0, "{l}");
        assert_eq!(l["load"]["failed_requests"], 0, "{l}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// Serves each connection's requests with `respond(request number)`.
fn serve(respond: fn(usize) -> Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let mut answered = 0;
                loop {
                    let n = match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        if stream.write_all(&respond(answered)).is_err() {
                            return;
                        }
                        answered += 1;
                    }
                }
            });
        }
    });
    addr
}

fn now() -> String {
    // The harness's own formatting of dates would make this test circular: use `date`.
    let o = Command::new("date")
        .args(["-u", "+%a, %d %b %Y %H:%M:%S GMT"])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

fn plaintext_response(body: &str, date: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nServer: t\r\nDate: {date}\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn checks_accept_a_correct_server() {
    let addr = serve(|_| plaintext_response("Hello, World!", &now()));
    let r = check_endpoint(addr, TestType::Plaintext).expect("passes");
    assert_eq!(r.header("server"), Some("t"));
}

#[test]
fn checks_report_a_wrong_body_and_missing_headers() {
    let addr = serve(|_| b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello".to_vec());
    let problems = check_endpoint(addr, TestType::Plaintext).unwrap_err();
    let all = problems.join("; ");
    for p in ["no Content-Type", "body `Hello`", "no Server", "no Date"] {
        assert!(all.contains(p), "{p} not in {all}");
    }
    let addr = serve(|_| plaintext_response("Hello, World!", &now()));
    let problems = check_endpoint(addr, TestType::Json).unwrap_err();
    assert!(
        problems.join("; ").contains("expected application/json"),
        "{problems:?}"
    );
}

#[test]
fn checks_catch_a_server_that_breaks_under_pipelining() {
    // Right once, then a stale Date.
    let addr = serve(|n| {
        let date = if n == 0 {
            now()
        } else {
            "Mon, 01 Jan 2001 00:00:00 GMT".to_string()
        };
        plaintext_response("Hello, World!", &date)
    });
    let problems = check_endpoint(addr, TestType::Plaintext).unwrap_err();
    assert!(
        problems[0].starts_with("pipelined #0: Date"),
        "{problems:?}"
    );
}
