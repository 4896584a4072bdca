//! End-to-end tests of `peregrine-load --ws` against the in-test WebSocket echo server
//! (tests/support/ws_server.rs) and the `peregrine` binary when it has been built: exact
//! message counts, zero errors, clean closes, refusals, pings, dropped connections.

mod support;
#[path = "support/ws_server.rs"]
mod ws_server;

use std::time::Duration;
use support::{backends, load};
use ws_server::{WsBehavior, WsServer};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn exact_count_closed_loop() {
    for backend in backends() {
        let server = WsServer::start(WsBehavior::Echo);
        let url = server.url("/ws");
        let r = load(
            &[
                "-n",
                "2000",
                "-c",
                "4",
                "-t",
                "2",
                "--timeout",
                "5s",
                "--backend",
                backend,
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 2000, "{backend}");
        assert_eq!(r.num("/requests"), 2000);
        assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
        assert_eq!(r.num("/connections_opened"), 4);
        assert_eq!(r.num("/websocket/clean_closes"), 4);
        assert_eq!(r.num("/websocket/message_size"), 64);
        assert_eq!(r.num("/bytes_read"), 2000 * (2 + 64));
        assert_eq!(r.num("/bytes_written"), 2000 * (2 + 4 + 64));
        assert_eq!(server.get(|c| &c.messages), 2000);
        assert_eq!(server.get(|c| &c.bytes), 2000 * 64);
        assert_eq!(
            server.get(|c| &c.closes),
            4,
            "a close 1000 from every connection"
        );
        assert_eq!(server.get(|c| &c.broken), 0);
        assert!(r.stdout.contains("2000 echoes in"), "{}", r.stdout);
        assert!(r.stdout.contains("4 closed cleanly (1000)"), "{}", r.stdout);
    }
}

#[test]
fn large_text_messages_in_flight() {
    let server = WsServer::start(WsBehavior::Echo);
    let url = server.url("/ws");
    let r = load(
        &[
            "--ws-size",
            "16384",
            "--ws-text",
            "--ws-inflight",
            "4",
            "-n",
            "500",
            "-c",
            "2",
            "-t",
            "1",
            "--timeout",
            "5s",
            &url,
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.num("/responses"), 500);
    assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
    assert_eq!(r.num("/websocket/clean_closes"), 2);
    assert_eq!(r.num("/websocket/inflight"), 4);
    assert_eq!(server.get(|c| &c.messages), 500);
    assert_eq!(server.get(|c| &c.bytes), 500 * 16384);
    assert_eq!(r.num("/bytes_read"), 500 * (4 + 16384));
}

#[test]
fn http_url_with_ws_flag_and_duration() {
    let server = WsServer::start(WsBehavior::Echo);
    let url = server.url("/ws").replacen("ws://", "http://", 1);
    let r = load(
        &[
            "--ws",
            "-d",
            "1s",
            "-c",
            "3",
            "-t",
            "1",
            "--timeout",
            "5s",
            &url,
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.num("/responses") > 0);
    assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
    assert_eq!(r.num("/websocket/clean_closes"), 3);
    assert_eq!(server.get(|c| &c.closes), 3);
    // Echoes still in flight at the end were drained, not counted.
    assert!(server.get(|c| &c.messages) >= r.num("/responses"));
}

#[test]
fn pings_are_answered() {
    let server = WsServer::start(WsBehavior::PingEach);
    let r = load(
        &[
            "-n",
            "300",
            "-c",
            "2",
            "-t",
            "1",
            "--timeout",
            "5s",
            &server.url("/ws"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.num("/responses"), 300);
    assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
    assert_eq!(server.get(|c| &c.pongs), 300);
}

#[test]
fn refused_handshake_fails_each_message() {
    let server = WsServer::start(WsBehavior::Refuse);
    let r = load(
        &[
            "-n",
            "5",
            "-c",
            "1",
            "-t",
            "1",
            "--timeout",
            "5s",
            &server.url("/nope"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(1), "no echo at all: {r:?}");
    assert_eq!(r.num("/responses"), 0);
    assert_eq!(r.num("/errors/handshake"), 5);
    assert_eq!(r.num("/errors/failed_requests"), 5);
    assert!(r.stderr.contains("answered 404"), "{}", r.stderr);
}

#[test]
fn dropped_connections_fail_their_message_and_reopen() {
    let server = WsServer::start(WsBehavior::DropAfter(10));
    let r = load(
        &[
            "-n",
            "100",
            "-c",
            "1",
            "-t",
            "1",
            "--timeout",
            "5s",
            &server.url("/ws"),
        ],
        LIMIT,
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    // Each connection: 10 echoes, then the 11th message fails as the server closes.
    assert_eq!(r.num("/responses"), 91, "{r:?}");
    assert_eq!(r.num("/errors/read"), 9);
    assert_eq!(r.num("/requests"), 100);
    assert_eq!(r.num("/connections_opened"), 10);
    assert_eq!(r.num("/websocket/clean_closes"), 1);
}

/// Against the real server's `/ws` echo, when it has been built.
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
    let url = format!("{}/ws", server.base.replacen("http://", "ws://", 1));
    for size in ["64", "16384"] {
        let r = load(
            &[
                "-n",
                "1000",
                "-c",
                "4",
                "-t",
                "1",
                "--ws-size",
                size,
                "--ws-inflight",
                "2",
                "--timeout",
                "5s",
                &url,
            ],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(r.num("/responses"), 1000, "{size}");
        assert_eq!(r.num("/errors/failed_requests"), 0, "{r:?}");
        assert_eq!(r.num("/websocket/clean_closes"), 4, "{r:?}");
    }
}
