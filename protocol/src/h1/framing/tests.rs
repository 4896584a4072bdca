//! Unit tests of the response framing policy: the whole input matrix against a
//! field-by-field statement of the rules and against invariants, then the notable cases
//! one by one.

use super::*;
use ConnectionHeader::{Close, KeepAlive, Upgrade};
use Version::{Http10, Http11};

/// One status per class, plus every status with a rule of its own.
const STATUSES: &[u16] = &[
    100, 101, 103, 199, 200, 201, 204, 205, 206, 299, 301, 302, 304, 307, 399, 400, 404, 426, 499,
    500, 503, 599,
];

/// (body's own length, handler's Content-Length): known empty, known, unknown, and each
/// with and without a handler length.
const LENGTHS: &[(Option<u64>, Option<u64>)] = &[
    (Some(0), None),
    (Some(5), None),
    (None, None),
    (Some(0), Some(7)),
    (Some(5), Some(7)),
    (None, Some(7)),
    (None, Some(0)),
];

fn input(status: u16, version: Version, is_head: bool) -> FramingInput {
    FramingInput {
        status,
        version,
        is_head,
        body_len: Some(5),
        handler_length: None,
        keep_alive: true,
        upgrade: false,
    }
}

/// Every combination of the inputs.
fn matrix() -> impl Iterator<Item = FramingInput> {
    let mut all = Vec::new();
    for &status in STATUSES {
        for version in [Http10, Http11] {
            for is_head in [false, true] {
                for &(body_len, handler_length) in LENGTHS {
                    for keep_alive in [false, true] {
                        for upgrade in [false, true] {
                            all.push(FramingInput {
                                status,
                                version,
                                is_head,
                                body_len,
                                handler_length,
                                keep_alive,
                                upgrade,
                            });
                        }
                    }
                }
            }
        }
    }
    all.into_iter()
}

/// The rules, stated one output field at a time.
fn expected(i: FramingInput) -> FramingDecision {
    let switching = i.upgrade && i.status == 101;
    let bodiless_status = i.status / 100 == 1 || i.status == 204 || i.status == 304;
    let content_length = if switching || bodiless_status {
        None
    } else if i.is_head && i.body_len == Some(0) {
        // A HEAD handler returns no body but may state the GET body's length.
        i.handler_length.or(Some(0))
    } else {
        i.body_len.or(i.handler_length)
    };
    let undelimited = !switching && !bodiless_status && content_length.is_none();
    let chunked = undelimited && i.version == Http11;
    let close_delimited = undelimited && i.version == Http10;
    let keep_alive = !switching && i.keep_alive && !close_delimited;
    let framing = if switching || bodiless_status || i.is_head {
        Framing::NoBody
    } else if let Some(n) = content_length {
        Framing::Length(n)
    } else if chunked {
        Framing::Chunked
    } else {
        Framing::Close
    };
    let connection = if switching {
        Some(Upgrade)
    } else if !keep_alive {
        Some(Close)
    } else if i.version == Http10 {
        Some(KeepAlive)
    } else {
        None
    };
    FramingDecision {
        framing,
        content_length,
        chunked,
        connection,
        keep_alive,
    }
}

#[test]
fn the_whole_matrix_follows_the_rules() {
    let mut n = 0;
    for i in matrix() {
        assert_eq!(decide(i), expected(i), "{i:?}");
        n += 1;
    }
    assert_eq!(n, STATUSES.len() * 2 * 2 * LENGTHS.len() * 2 * 2);
}

#[test]
fn invariants_hold_over_the_whole_matrix() {
    for i in matrix() {
        let d = decide(i);
        let switching = i.upgrade && i.status == 101;
        // One framing header at most, and the framing agrees with it.
        assert!(!(d.chunked && d.content_length.is_some()), "{i:?}");
        match d.framing {
            Framing::Length(n) => assert_eq!(d.content_length, Some(n), "{i:?}"),
            Framing::Chunked => assert!(d.chunked, "{i:?}"),
            Framing::Close => {
                assert!(!d.chunked && d.content_length.is_none(), "{i:?}");
                assert_eq!(i.version, Http10, "{i:?}");
                assert!(!d.keep_alive, "{i:?}");
            }
            Framing::NoBody => {}
        }
        // The policy only ever ends a connection, never revives one.
        assert!(!d.keep_alive || i.keep_alive, "{i:?}");
        // HEAD never carries body bytes.
        if i.is_head {
            assert_eq!(d.framing, Framing::NoBody, "{i:?}");
        }
        // 1xx, 204, 304: no body, no framing headers, keep-alive untouched.
        if status_has_no_body(i.status) {
            assert_eq!(d.framing, Framing::NoBody, "{i:?}");
            assert_eq!(d.content_length, None, "{i:?}");
            assert!(!d.chunked, "{i:?}");
            assert_eq!(d.keep_alive, i.keep_alive && !switching, "{i:?}");
        }
        // The Connection header says what happens to the connection.
        match d.connection {
            Some(Upgrade) => assert!(switching && !d.keep_alive, "{i:?}"),
            Some(Close) => assert!(!switching && !d.keep_alive, "{i:?}"),
            Some(KeepAlive) => assert!(d.keep_alive && i.version == Http10, "{i:?}"),
            None => assert!(d.keep_alive && i.version == Http11, "{i:?}"),
        }
        // A known body length is always written (outside the no-body statuses).
        if let (Some(n), false) = (i.body_len, status_has_no_body(i.status)) {
            if !(i.is_head && n == 0 && i.handler_length.is_some()) {
                assert_eq!(d.content_length, Some(n), "{i:?}");
            }
        }
    }
}

#[test]
fn known_length_gets_content_length() {
    for version in [Http10, Http11] {
        let d = decide(input(200, version, false));
        assert_eq!(d.framing, Framing::Length(5));
        assert_eq!(d.content_length, Some(5));
        assert!(!d.chunked);
        assert!(d.keep_alive);
    }
    let d = decide(FramingInput {
        body_len: Some(0),
        ..input(200, Http11, false)
    });
    assert_eq!(d.framing, Framing::Length(0));
    assert_eq!(d.content_length, Some(0));
}

#[test]
fn the_body_length_wins_over_the_handlers() {
    for is_head in [false, true] {
        let d = decide(FramingInput {
            body_len: Some(5),
            handler_length: Some(7),
            ..input(200, Http11, is_head)
        });
        assert_eq!(d.content_length, Some(5), "head: {is_head}");
    }
    // An empty GET body is empty, whatever the handler declared.
    let d = decide(FramingInput {
        body_len: Some(0),
        handler_length: Some(7),
        ..input(200, Http11, false)
    });
    assert_eq!(d.content_length, Some(0));
    assert_eq!(d.framing, Framing::Length(0));
}

#[test]
fn a_stream_keeps_the_handlers_length() {
    for version in [Http10, Http11] {
        let d = decide(FramingInput {
            body_len: None,
            handler_length: Some(7),
            ..input(200, version, false)
        });
        assert_eq!(d.framing, Framing::Length(7));
        assert_eq!(d.content_length, Some(7));
        assert!(!d.chunked);
        assert!(d.keep_alive, "{version:?}");
    }
}

#[test]
fn head_keeps_the_handlers_length() {
    for body_len in [Some(0), None] {
        for version in [Http10, Http11] {
            let d = decide(FramingInput {
                body_len,
                handler_length: Some(7),
                ..input(200, version, true)
            });
            assert_eq!(d.framing, Framing::NoBody);
            assert_eq!(d.content_length, Some(7));
            assert!(!d.chunked);
            assert!(d.keep_alive);
        }
    }
    // Without one, an empty HEAD answer says Content-Length: 0.
    let d = decide(FramingInput {
        body_len: Some(0),
        ..input(200, Http11, true)
    });
    assert_eq!((d.framing, d.content_length), (Framing::NoBody, Some(0)));
}

#[test]
fn an_http11_stream_is_chunked() {
    let d = decide(FramingInput {
        body_len: None,
        ..input(200, Http11, false)
    });
    assert_eq!(d.framing, Framing::Chunked);
    assert!(d.chunked);
    assert_eq!(d.content_length, None);
    assert_eq!(d.connection, None);
    assert!(d.keep_alive);
    // HEAD gets the header a GET would, and no body.
    let d = decide(FramingInput {
        body_len: None,
        ..input(200, Http11, true)
    });
    assert_eq!(d.framing, Framing::NoBody);
    assert!(d.chunked);
    assert!(d.keep_alive);
}

#[test]
fn an_http10_stream_ends_keep_alive() {
    for is_head in [false, true] {
        let d = decide(FramingInput {
            body_len: None,
            ..input(200, Http10, is_head)
        });
        let framing = if is_head {
            Framing::NoBody
        } else {
            Framing::Close
        };
        assert_eq!(d.framing, framing);
        assert_eq!(d.content_length, None);
        assert!(!d.chunked);
        assert_eq!(d.connection, Some(Close));
        assert!(!d.keep_alive);
    }
}

#[test]
fn bodiless_statuses_drop_the_handlers_length() {
    for status in [100, 103, 204, 304] {
        for version in [Http10, Http11] {
            for is_head in [false, true] {
                for body_len in [Some(0), None] {
                    let d = decide(FramingInput {
                        body_len,
                        handler_length: Some(7),
                        ..input(status, version, is_head)
                    });
                    assert_eq!(d.framing, Framing::NoBody, "{status}");
                    assert_eq!(d.content_length, None, "{status}");
                    assert!(!d.chunked, "{status}");
                    // No body to delimit: even an HTTP/1.0 stream keeps the connection.
                    assert!(d.keep_alive, "{status}");
                }
            }
        }
    }
}

#[test]
fn connection_header_follows_version_and_keep_alive() {
    for status in [200, 204, 304, 404, 500] {
        let d = decide(input(status, Http11, false));
        assert_eq!((d.connection, d.keep_alive), (None, true), "{status}");
        let d = decide(input(status, Http10, false));
        assert_eq!(
            (d.connection, d.keep_alive),
            (Some(KeepAlive), true),
            "{status}"
        );
        for version in [Http10, Http11] {
            let d = decide(FramingInput {
                keep_alive: false,
                ..input(status, version, false)
            });
            assert_eq!(
                (d.connection, d.keep_alive),
                (Some(Close), false),
                "{status}"
            );
        }
    }
}

#[test]
fn switching_protocols_upgrades() {
    for version in [Http10, Http11] {
        for is_head in [false, true] {
            for &(body_len, handler_length) in LENGTHS {
                for keep_alive in [false, true] {
                    let i = FramingInput {
                        body_len,
                        handler_length,
                        keep_alive,
                        upgrade: true,
                        ..input(101, version, is_head)
                    };
                    let d = decide(i);
                    let upgraded = FramingDecision {
                        framing: Framing::NoBody,
                        content_length: None,
                        chunked: false,
                        connection: Some(Upgrade),
                        keep_alive: false,
                    };
                    assert_eq!(d, upgraded, "{i:?}");
                }
            }
        }
    }
}

#[test]
fn an_upgrade_offer_answered_otherwise_is_ordinary() {
    for status in [200, 400, 426] {
        let plain = input(status, Http11, false);
        let offered = FramingInput {
            upgrade: true,
            ..plain
        };
        assert_eq!(decide(offered), decide(plain), "{status}");
    }
    // A 101 without an upgrade offer is just another 1xx.
    let d = decide(input(101, Http11, false));
    assert_eq!(d, decide(input(100, Http11, false)));
    assert_eq!(d.connection, None);
    assert!(d.keep_alive);
}

#[test]
fn connection_header_values() {
    assert_eq!(Close.as_bytes(), b"close");
    assert_eq!(KeepAlive.as_bytes(), b"keep-alive");
    assert_eq!(Upgrade.as_bytes(), b"Upgrade");
}

#[test]
fn no_body_statuses() {
    for status in 0..1000u16 {
        let expected = (100..=199).contains(&status) || status == 204 || status == 304;
        assert_eq!(status_has_no_body(status), expected, "{status}");
    }
}
