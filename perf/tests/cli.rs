//! End-to-end tests of each `peregrine-perf` subcommand with tiny workloads, against the
//! `peregrine` and `peregrine-load` binaries of this workspace (`target/release` or
//! `target/debug`, as `cargo test --workspace` builds them). A test whose tool (valgrind,
//! strace, perf) or binaries are missing is skipped with a message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-perf");

/// `peregrine` and `peregrine-load` from the same target directory.
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

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn io_uring_enabled() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map(|s| s.trim() == "0")
        .unwrap_or(true)
}

fn backends() -> &'static str {
    if io_uring_enabled() {
        "io-uring,epoll"
    } else {
        "epoll"
    }
}

/// A fresh scratch directory.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "peregrine-perf-test-{}-{name}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run peregrine-perf")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(path: &Path) -> Value {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&s).expect("valid JSON")
}

/// The workload flags shared by `instructions` and `syscalls`.
fn tiny<'a>(server: &'a str, load: &'a str, out: &'a str, json: &'a str) -> Vec<&'a str> {
    vec![
        "-n",
        "200",
        "-c",
        "4",
        "--warmup-requests",
        "5",
        "--tests",
        "plaintext,plaintext-pipelined",
        "--backends",
        backends(),
        "--server",
        server,
        "--load",
        load,
        "--out",
        out,
        "--json",
        json,
    ]
}

#[test]
fn instructions_per_request_for_a_tiny_workload() {
    let Some((server, load)) = binaries() else {
        eprintln!("skipped: build peregrine and peregrine-load first (cargo build --workspace)");
        return;
    };
    if !have("valgrind") {
        eprintln!("skipped: valgrind is not installed");
        return;
    }
    let dir = scratch("instructions");
    let out = dir.join("result.json");
    let (s, l, d, j) = (
        server.to_str().unwrap(),
        load.to_str().unwrap(),
        dir.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let mut args = vec!["instructions", "--repeat", "1"];
    args.extend(tiny(s, l, d, j));
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("instructions/request"), "{stdout}");
    let v = json(&out);
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 2 * backends().split(',').count(), "{v}");
    for r in results {
        let per = r["per_request"].as_f64().unwrap();
        // A request costs thousands of instructions (more in a debug build), never a few.
        assert!(per > 500.0 && per < 5_000_000.0, "{r}");
        assert_eq!(r["requests"].as_u64(), Some(200));
    }
    assert_eq!(v["workload"]["connections"].as_u64(), Some(4));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn syscalls_per_request_for_a_tiny_workload() {
    let Some((server, load)) = binaries() else {
        eprintln!("skipped: build peregrine and peregrine-load first (cargo build --workspace)");
        return;
    };
    if !have("strace") {
        eprintln!("skipped: strace is not installed");
        return;
    }
    let dir = scratch("syscalls");
    let out = dir.join("result.json");
    let (s, l, d, j) = (
        server.to_str().unwrap(),
        load.to_str().unwrap(),
        dir.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let mut args = vec!["syscalls"];
    args.extend(tiny(s, l, d, j));
    let o = run(&args);
    if !o.status.success() && text(&o).contains("could not attach") {
        eprintln!("skipped: ptrace is not allowed here\n{}", text(&o));
        return;
    }
    assert!(o.status.success(), "{}", text(&o));
    let v = json(&out);
    for r in v["results"].as_array().expect("results") {
        let per = r["per_request"].as_f64().unwrap();
        assert!(per > 0.0, "{r}");
        let by = &r["by_syscall"];
        match r["backend"].as_str() {
            Some("io-uring") => assert!(by["io_uring_enter"].as_f64().unwrap() > 0.0, "{r}"),
            // One read and one write per request at least, without pipelining.
            _ if r["test"] == "plaintext" => assert!(per >= 2.0, "{r}"),
            _ => {}
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flamegraph_of_a_short_load() {
    let Some((server, load)) = binaries() else {
        eprintln!("skipped: build peregrine and peregrine-load first (cargo build --workspace)");
        return;
    };
    let works = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        eprintln!("skipped: perf is missing or perf events are not allowed here");
        return;
    }
    let dir = scratch("flamegraph");
    let svg = dir.join("fg.svg");
    let o = run(&[
        "flamegraph",
        "-d",
        "1s",
        "-c",
        "8",
        "-F",
        "499",
        "--no-inline",
        "--no-pin",
        "--server",
        server.to_str().unwrap(),
        "--load",
        load.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let s = std::fs::read_to_string(&svg).expect("SVG written");
    assert!(s.contains("<svg") && s.trim_end().ends_with("</svg>"));
    assert!(
        s.contains("peregrine"),
        "the server's frames are in the graph"
    );
    let v = json(&svg.with_extension("json"));
    assert!(v["samples"].as_u64().unwrap() > 0, "{v}");
    assert!(v["load"]["responses"].as_u64().unwrap() > 0, "{v}");
    assert!(svg.with_extension("folded").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gate_passes_and_fails_against_a_baseline() {
    let Some((server, load)) = binaries() else {
        eprintln!("skipped: build peregrine and peregrine-load first (cargo build --workspace)");
        return;
    };
    if !have("valgrind") || !io_uring_enabled() {
        eprintln!("skipped: valgrind is not installed or io_uring is disabled");
        return;
    }
    let dir = scratch("gate");
    let baseline = dir.join("baseline.json");
    // Plaintext far above any real count (passes), pipelined far below (fails).
    let b = serde_json::json!({
        "about": "test",
        "commit": null,
        "date": "2024-01-01T00:00:00Z",
        "why": "test",
        "rustc": null,
        "valgrind": null,
        "backend": "io-uring",
        "tolerance_percent": 3.0,
        "workload": {
            "requests": 100,
            "connections": 2,
            "pipeline_depth": 4,
            "warmup_requests_per_connection": 2,
            "repeat": 1,
            "server_threads": 1
        },
        "instructions_per_request": {"plaintext": 1.0e12, "plaintext-pipelined": 1.0}
    });
    std::fs::write(&baseline, b.to_string()).unwrap();
    let report = dir.join("gate.json");
    let o = run(&[
        "gate",
        "--no-build",
        "--baseline",
        baseline.to_str().unwrap(),
        "--json",
        report.to_str().unwrap(),
        "--server",
        server.to_str().unwrap(),
        "--load",
        load.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("REGRESSION"), "{stdout}");
    assert!(stdout.contains("FAIL plaintext-pipelined"), "{stdout}");
    assert!(!stdout.contains("FAIL plaintext:"), "{stdout}");
    let v = json(&report);
    assert_eq!(v["passed"], false);
    assert_eq!(v["verdicts"][0]["ok"], true, "{v}");
    assert_eq!(v["verdicts"][1]["ok"], false, "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gate_without_a_baseline_says_how_to_make_one() {
    let o = run(&[
        "gate",
        "--no-build",
        "--baseline",
        "/nonexistent/baseline.json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("perf/gate.sh --update"), "{err}");
}

#[test]
fn bad_options_are_refused() {
    let o = run(&["instructions", "--tests", "fortunes", "--no-build"]);
    assert_ne!(o.status.code(), Some(0));
    let o = run(&["flamegraph", "--duration", "5 parsecs", "--pid", "1"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("duration"));
}
