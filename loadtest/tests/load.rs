//! End-to-end tests of the `peregrine-load` binary against purpose-built servers:
//! exact counts, pipelining, error classification, rate mode, outputs, bad input.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;
use support::{backends, load, Behavior, Server, TempDir};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn exact_count_keep_alive() {
    let server = Server::tcp(Behavior::KeepAlive);
    let mut expected_server = 0;
    for backend in backends() {
        let url = server.url("/plaintext");
        let r = load(
            &[
                "-n",
                "1000",
                "-c",
                "8",
                "-t",
                "2",
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 1000, "{backend}");
        assert_eq!(r.num("/requests"), 1000);
        assert_eq!(r.num("/status/2xx"), 1000);
        assert_eq!(r.num("/errors/failed_requests"), 0);
        assert_eq!(r.num("/bytes_read"), 1000 * support::HELLO.len() as u64);
        assert!(
            r.num("/connections_opened") <= 8,
            "keep-alive reuses connections"
        );
        expected_server += 1000;
        assert_eq!(
            server.requests(),
            expected_server,
            "server saw each request once"
        );
        assert!(r.stdout.contains("Latency"), "{}", r.stdout);
        assert!(r.stdout.contains("1000 responses"), "{}", r.stdout);
    }
}

#[test]
fn exact_count_pipelined() {
    for backend in backends() {
        let server = Server::tcp(Behavior::KeepAlive);
        let url = server.url("/");
        let r = load(
            &[
                "-n",
                "1000",
                "-c",
                "4",
                "-t",
                "2",
                "--pipeline",
                "16",
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 1000, "{backend}");
        assert_eq!(r.num("/errors/failed_requests"), 0);
        assert_eq!(server.requests(), 1000);
        let depth = server.counters.max_depth.load(Ordering::Relaxed);
        assert!(
            depth > 1 && depth <= 16,
            "pipelining depth seen by the server: {depth}"
        );
    }
}

#[test]
fn pipelined_responses_keep_their_order_and_framing() {
    // Five kinds of response in a fixed cycle per connection: Content-Length, chunked,
    // 204, chunked with extensions and trailers, 100 Continue then 301. Batches of 10
    // are whole cycles, so the status classes come out exact only if every boundary is
    // found in order.
    for backend in backends() {
        let server = Server::tcp(Behavior::Mixed);
        let url = server.url("/");
        let r = load(
            &[
                "-n",
                "400",
                "-c",
                "4",
                "-t",
                "1",
                "--pipeline",
                "10",
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 400, "{backend}: {r:?}");
        assert_eq!(r.num("/errors/failed_requests"), 0);
        assert_eq!(r.num("/status/2xx"), 240);
        assert_eq!(r.num("/status/3xx"), 80);
        assert_eq!(r.num("/status/4xx"), 80);
        assert_eq!(r.num("/status/1xx"), 0, "interim responses are skipped");
        assert_eq!(r.num("/errors/status_4xx"), 80);
    }
}

#[test]
fn response_head_split_across_reads() {
    // The part of a head already read must survive the read that completes it.
    for backend in backends() {
        let server = Server::tcp(Behavior::SplitHead);
        let url = server.url("/");
        let r = load(&["-n", "100", "-c", "2", "--backend", backend, &url], LIMIT);
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 100, "{backend}: {r:?}");
        assert_eq!(r.num("/status/2xx"), 100);
        assert_eq!(r.num("/errors/failed_requests"), 0, "{backend}: {r:?}");
    }
}

#[test]
fn unix_socket() {
    for backend in backends() {
        let server = Server::unix(Behavior::KeepAlive);
        let url = server.url("/plaintext");
        let r = load(
            &[
                "-n",
                "500",
                "-c",
                "4",
                "--pipeline",
                "4",
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 500, "{backend}");
        assert_eq!(server.requests(), 500);
    }
}

#[test]
fn server_closing_after_each_response_is_not_an_error() {
    for backend in backends() {
        for pipeline in ["1", "4"] {
            let server = Server::tcp(Behavior::CloseEach);
            let url = server.url("/");
            let r = load(
                &[
                    "-n",
                    "200",
                    "-c",
                    "4",
                    "--pipeline",
                    pipeline,
                    "--backend",
                    backend,
                    &url,
                ],
                LIMIT,
            );
            assert_eq!(r.code, Some(0), "{r:?}");
            assert_eq!(r.num("/responses"), 200, "{backend} pipeline {pipeline}");
            assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
            assert!(r.num("/connections_opened") >= 200);
            assert_eq!(server.counters.responses.load(Ordering::Relaxed), 200);
        }
    }
}

#[test]
fn no_keepalive_reconnects_for_each_request() {
    let server = Server::tcp(Behavior::KeepAlive);
    let r = load(
        &["-n", "100", "-c", "2", "--no-keepalive", &server.url("/")],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.num("/responses"), 100);
    assert_eq!(r.num("/connections_opened"), 100);
}

#[test]
fn error_500_is_counted_by_status_class() {
    let server = Server::tcp(Behavior::Error500);
    let r = load(&["-n", "100", "-c", "2", &server.url("/")], LIMIT);
    assert_eq!(r.code, Some(0), "answers were measured: {r:?}");
    assert_eq!(r.num("/responses"), 100);
    assert_eq!(r.num("/status/5xx"), 100);
    assert_eq!(r.num("/errors/status_5xx"), 100);
    assert_eq!(r.num("/errors/failed_requests"), 0);
    assert!(r.stdout.contains("status 5xx 100"), "{}", r.stdout);
}

#[test]
fn stalled_server_times_out() {
    for backend in backends() {
        let server = Server::tcp(Behavior::Stall);
        let url = server.url("/");
        let r = load(
            &[
                "-n",
                "6",
                "-c",
                "2",
                "--pipeline",
                "3",
                "--timeout",
                "300ms",
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(1), "nothing measured: {r:?}");
        assert_eq!(r.num("/errors/timeout"), 6, "{backend}: {r:?}");
        assert_eq!(r.num("/responses"), 0);
        assert!(r.stderr.contains("no response"), "{}", r.stderr);
        assert!(r.stdout.contains("timeout 6"), "{}", r.stdout);
    }
}

#[test]
fn partly_answered_batch_times_out_the_rest() {
    // Each connection gets one answer, then silence: of every batch of 3, one response
    // and two timeouts, and the accounting stays exact.
    let server = Server::tcp(Behavior::AnswerOnceThenStall);
    let r = load(
        &[
            "-n",
            "6",
            "-c",
            "1",
            "--pipeline",
            "3",
            "--timeout",
            "300ms",
            &server.url("/"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.num("/responses"), 2, "{r:?}");
    assert_eq!(r.num("/errors/timeout"), 4);
    assert_eq!(r.num("/requests"), 6);
}

#[test]
fn garbage_is_malformed() {
    for backend in backends() {
        let server = Server::tcp(Behavior::Garbage);
        let url = server.url("/");
        let r = load(&["-n", "10", "-c", "2", "--backend", backend, &url], LIMIT);
        assert_eq!(r.code, Some(1), "{r:?}");
        assert_eq!(r.num("/errors/malformed"), 10, "{backend}: {r:?}");
        assert_eq!(r.num("/errors/failed_requests"), 10);
        assert!(r.stdout.contains("malformed 10"), "{}", r.stdout);
    }
}

#[test]
fn close_without_answer_is_a_read_error() {
    for backend in backends() {
        let server = Server::tcp(Behavior::CloseWithoutAnswer);
        let url = server.url("/");
        let r = load(&["-n", "20", "-c", "2", "--backend", backend, &url], LIMIT);
        assert_eq!(r.code, Some(1), "{r:?}");
        assert_eq!(
            r.num("/errors/read") + r.num("/errors/write"),
            20,
            "{backend}: {r:?}"
        );
        assert!(r.num("/errors/read") > 0);
    }
}

#[test]
fn unreachable_target_is_a_clear_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = load(&["-n", "10", &format!("http://127.0.0.1:{port}/")], LIMIT);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("cannot connect to"), "{}", r.stderr);
    assert!(r.json.is_none());
    let r = load(
        &["-n", "1", "http://unix:/nonexistent/peregrine.sock:/"],
        LIMIT,
    );
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("cannot connect to"), "{}", r.stderr);
}

#[test]
fn bad_input_is_rejected() {
    for (args, message) in [
        (&["-n", "1", "localhost:8080"][..], "invalid URL"),
        (&["-n", "1", "ftp://localhost/"], "unsupported scheme"),
        (&["-n", "1", "http://h:99999/"], "invalid port"),
        (&["-c", "0", "http://h/"], "--connections"),
        (
            &["-H", "no colon", "-n", "1", "http://127.0.0.1:1/"],
            "invalid header",
        ),
        (&["-d", "5x", "http://h/"], "invalid duration"),
        (
            &["--body", "/nonexistent/body", "http://127.0.0.1:1/"],
            "cannot read --body",
        ),
    ] {
        let r = load(args, LIMIT);
        assert!(matches!(r.code, Some(1) | Some(2)), "{args:?}: {r:?}");
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn post_body_is_sent_with_each_request() {
    let server = Server::tcp(Behavior::KeepAlive);
    let dir = TempDir::new();
    let body = dir.file("body");
    std::fs::write(&body, vec![b'x'; 3000]).unwrap();
    let r = load(
        &[
            "-n",
            "50",
            "-c",
            "2",
            "-X",
            "POST",
            "--body",
            body.to_str().unwrap(),
            "-H",
            "Content-Type: application/octet-stream",
            &server.url("/echo"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.num("/responses"), 50);
    assert_eq!(
        server.counters.body_bytes.load(Ordering::Relaxed),
        50 * 3000
    );
}

#[test]
fn head_responses_have_no_body() {
    let server = Server::tcp(Behavior::KeepAlive);
    let r = load(
        &[
            "-n",
            "200",
            "-c",
            "2",
            "--pipeline",
            "4",
            "-X",
            "HEAD",
            &server.url("/"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.num("/responses"), 200);
    assert_eq!(r.num("/errors/failed_requests"), 0);
}

#[test]
fn rate_mode_sends_at_the_asked_rate() {
    for backend in backends() {
        let server = Server::tcp(Behavior::KeepAlive);
        let url = server.url("/");
        let r = load(
            &[
                "--rate",
                "200",
                "-d",
                "2s",
                "-c",
                "4",
                "-t",
                "2",
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        let n = r.num("/responses");
        assert!(
            (250..=500).contains(&n),
            "{backend}: {n} responses at 200/s for 2 s"
        );
        let json = r.json.as_ref().unwrap();
        assert_eq!(json["setup"]["mode"], "rate");
        assert_eq!(json["rate"]["reached"], true, "{json}");
        assert!(!r.stdout.contains("warning"), "{}", r.stdout);
    }
}

#[test]
fn rate_mode_warns_when_the_rate_is_not_reached() {
    // One connection to a server that never answers cannot send 1000 requests/s.
    let server = Server::tcp(Behavior::Stall);
    let r = load(
        &[
            "--rate",
            "1000",
            "-d",
            "1s",
            "-c",
            "1",
            "--timeout",
            "5s",
            &server.url("/"),
        ],
        LIMIT,
    );
    assert!(r.stdout.contains("target rate not reached"), "{r:?}");
    assert_eq!(r.json.as_ref().unwrap()["rate"]["reached"], false);
}

#[test]
fn duration_mode_with_warmup_and_outputs() {
    let server = Server::tcp(Behavior::KeepAlive);
    let dir = TempDir::new();
    let svg = dir.file("plot.svg");
    let r = load(
        &[
            "-d",
            "1500ms",
            "--warmup",
            "500ms",
            "-c",
            "4",
            "-t",
            "2",
            "--plot",
            svg.to_str().unwrap(),
            &server.url("/"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let json = r.json.as_ref().expect("JSON report");
    assert!((json["elapsed_s"].as_f64().unwrap() - 1.5).abs() < 1e-6);
    let responses = r.num("/responses");
    assert!(responses > 100, "{responses}");
    assert!(
        server.requests() > responses,
        "warm-up requests are sent but not counted"
    );
    for key in [
        "setup",
        "latency",
        "latency_distribution",
        "status",
        "errors",
        "timeline",
        "requests_per_s",
        "bytes_read_per_s",
        "cpu_s",
    ] {
        assert!(json.get(key).is_some(), "missing {key}: {json}");
    }
    for key in [
        "p50_us",
        "p90_us",
        "p99_us",
        "p99_9_us",
        "p99_99_us",
        "max_us",
    ] {
        assert!(json["latency"][key].as_f64().unwrap() > 0.0, "{key}");
    }
    let timeline = json["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 2, "1.5 s of timeline: {timeline:?}");
    let sum: u64 = timeline
        .iter()
        .map(|t| t["responses"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, responses);
    let svg = std::fs::read_to_string(&svg).expect("SVG written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<svg").count(), svg.matches("</svg>").count());
}

/// Against the real server, when it has been built (`cargo build -p peregrine-cli`).
#[test]
fn against_peregrine_binary() {
    let Some(bin) = support::peregrine_binary() else {
        eprintln!("skipped: no target/{{release,debug}}/peregrine binary (build the engine first)");
        return;
    };
    let Some(server) = support::Peregrine::start(&bin) else {
        eprintln!(
            "skipped: {} did not report a listening address",
            bin.display()
        );
        return;
    };
    for backend in backends() {
        let url = format!("{}/plaintext", server.base);
        let r = load(
            &[
                "-n",
                "2000",
                "-c",
                "8",
                "--pipeline",
                "4",
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 2000, "{backend}");
        assert_eq!(r.num("/status/2xx"), 2000);
        assert_eq!(r.num("/errors/failed_requests"), 0);
    }
}
