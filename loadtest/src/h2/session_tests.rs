//! Tests of [`super::Session`]: server byte streams cut at every point, CONTINUATION,
//! padding, flow control in bulk, request bodies held by the peer's windows, GOAWAY,
//! PING, and protocol errors.

use super::*;
use crate::h2::frame::{put_data, put_goaway, put_head, put_ping_ack, put_settings};

/// The server's preface: an empty SETTINGS.
fn preface() -> Vec<u8> {
    let mut b = Vec::new();
    put_settings(&mut b, &[]);
    b
}

/// A HEADERS frame carrying `block`, with `flags`.
fn headers(b: &mut Vec<u8>, stream: u32, block: &[u8], flags: u8) {
    put_head(b, block.len(), kind::HEADERS, flags, stream);
    b.extend_from_slice(block);
}

/// Feed `bytes` to `s` in pieces of `step` bytes, as reads would bring them.
fn feed(s: &mut Session, bytes: &[u8], step: usize) -> Result<Vec<Event>, ConnError> {
    let mut buf = Vec::new();
    let mut events = Vec::new();
    for piece in bytes.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        let taken = s.receive(&buf, b"", &mut events)?;
        buf.drain(..taken);
    }
    assert!(buf.is_empty(), "every frame taken");
    Ok(events)
}

/// Frames of `out`, as (type, flags, stream, payload).
fn frames(out: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut at = out.strip_prefix(frame::PREFACE).unwrap_or(out);
    let mut v = Vec::new();
    while let Some((h, p)) = frame::next(at, 1 << 24).unwrap() {
        v.push((h.kind, h.flags, h.stream, p.to_vec()));
        at = &at[frame::HEAD_LEN + h.len..];
    }
    assert!(at.is_empty());
    v
}

#[test]
fn opening_says_preface_settings_and_window() {
    let s = Session::new();
    assert!(s.out.starts_with(frame::PREFACE));
    let f = frames(&s.out);
    assert_eq!(f[0].0, kind::SETTINGS);
    assert_eq!(f[1].0, kind::WINDOW_UPDATE);
    assert_eq!(be32(&f[1].3), WINDOW - 65_535);
}

fn be32(b: &[u8]) -> u32 {
    frame::be32(b)
}

#[test]
fn responses_cut_at_every_point() {
    // Two streams: one answered by HEADERS + DATA, one by HEADERS alone (with a
    // literal :status 201, Huffman coded, indexed, then reused from the table).
    let mut server = preface();
    headers(&mut server, 1, &[0x88], flag::END_HEADERS);
    put_data(&mut server, 1, b"Hello, World!", true);
    headers(
        &mut server,
        3,
        &[0x48, 0x82, 0x10, 0x03],
        flag::END_HEADERS | flag::END_STREAM,
    );
    for step in 1..=server.len() {
        let mut s = Session::new();
        assert_eq!(s.open(0, &[0x82], b""), 1);
        assert_eq!(s.open(1, &[0x82], b""), 3);
        let ev = feed(&mut s, &server, step).unwrap();
        assert_eq!(
            ev,
            [
                Event::Done {
                    lane: 0,
                    status: 200
                },
                Event::Done {
                    lane: 1,
                    status: 201
                }
            ],
            "{step}"
        );
        assert!(s.got_settings());
    }
    // The table keeps `:status: 201` for the next block (index 62).
    let mut s = Session::new();
    s.open(0, &[0x82], b"");
    s.open(1, &[0x82], b"");
    let mut more = server.clone();
    headers(&mut more, 5, &[0xbe], flag::END_HEADERS | flag::END_STREAM);
    s.open(2, &[0x82], b"");
    let ev = feed(&mut s, &more, 7).unwrap();
    assert_eq!(
        ev[2],
        Event::Done {
            lane: 2,
            status: 201
        }
    );
}

#[test]
fn continuation_padding_priority_and_informational_heads() {
    let mut server = preface();
    // 100 Continue first, then the head split over HEADERS + 2 CONTINUATION, with
    // padding and priority on HEADERS; the body padded.
    headers(
        &mut server,
        1,
        &[0x08, 0x03, b'1', b'0', b'0'],
        flag::END_HEADERS,
    );
    let block = [0x88, 0x0f, 0x0d, 0x02, b'1', b'3'];
    let mut first = vec![3u8];
    first.extend_from_slice(&[0, 0, 0, 0, 16]);
    first.extend_from_slice(&block[..2]);
    first.extend_from_slice(&[0, 0, 0]);
    headers(&mut server, 1, &first, flag::PADDED | flag::PRIORITY);
    put_head(&mut server, 2, kind::CONTINUATION, 0, 1);
    server.extend_from_slice(&block[2..4]);
    put_head(&mut server, 2, kind::CONTINUATION, flag::END_HEADERS, 1);
    server.extend_from_slice(&block[4..]);
    put_head(
        &mut server,
        6,
        kind::DATA,
        flag::PADDED | flag::END_STREAM,
        1,
    );
    server.extend_from_slice(&[2, b'h', b'i', b'!', 0, 0]);
    for step in [1, 2, 5, server.len()] {
        let mut s = Session::new();
        s.open(0, &[0x82], b"");
        let ev = feed(&mut s, &server, step).unwrap();
        assert_eq!(
            ev,
            [Event::Done {
                lane: 0,
                status: 200
            }],
            "{step}"
        );
    }
    // Any other frame between HEADERS and its CONTINUATION is a protocol error.
    let mut bad = preface();
    headers(&mut bad, 1, &[0x88], 0);
    put_ping_ack(&mut bad, &[0; 8]);
    let mut s = Session::new();
    s.open(0, &[0x82], b"");
    let err = feed(&mut s, &bad, bad.len()).unwrap_err();
    assert_eq!(err.send, Some(code::PROTOCOL_ERROR));
}

#[test]
fn windows_are_given_back_in_bulk() {
    let mut s = Session::new();
    s.open(0, &[0x82], b"");
    s.out.clear();
    let mut server = preface();
    headers(&mut server, 1, &[0x88], flag::END_HEADERS);
    let chunk = vec![b'x'; 16_384];
    // 2^29 bytes and a little more in DATA frames: one connection update, one stream
    // update, each for everything consumed so far.
    let frames_needed = (WINDOW_REFILL as usize).div_ceil(chunk.len());
    let mut events = Vec::new();
    let taken = s.receive(&server, b"", &mut events).unwrap();
    assert_eq!(taken, server.len());
    let mut one = Vec::new();
    put_data(&mut one, 1, &chunk, false);
    for _ in 0..frames_needed {
        assert_eq!(s.receive(&one, b"", &mut events).unwrap(), one.len());
    }
    let f = frames(&s.out);
    let updates: Vec<_> = f
        .iter()
        .filter(|f| f.0 == kind::WINDOW_UPDATE)
        .map(|f| (f.2, be32(&f.3)))
        .collect();
    let consumed = (frames_needed * chunk.len()) as u32;
    assert_eq!(updates, [(0, consumed), (1, consumed)]);
    assert!(events.is_empty());
}

#[test]
fn request_bodies_wait_for_the_peers_windows() {
    let body = vec![b'b'; 100_000];
    let mut s = Session::new();
    s.out.clear();
    s.open(0, &[0x83], &body);
    let sent = |out: &[u8]| -> usize {
        frames(out)
            .iter()
            .filter(|f| f.0 == kind::DATA)
            .map(|f| f.3.len())
            .sum()
    };
    assert_eq!(sent(&s.out), 65_535, "the default windows");
    s.out.clear();
    let mut server = preface();
    frame::put_window_update(&mut server, 0, 100_000);
    frame::put_window_update(&mut server, 1, 20_000);
    let mut events = Vec::new();
    s.receive(&server, &body, &mut events).unwrap();
    let f = frames(&s.out);
    assert_eq!(sent(&s.out), 20_000);
    assert!(f.iter().all(|f| f.0 != kind::DATA || f.1 == 0));
    s.out.clear();
    let mut more = Vec::new();
    frame::put_window_update(&mut more, 1, 50_000);
    s.receive(&more, &body, &mut events).unwrap();
    let f = frames(&s.out);
    assert_eq!(sent(&s.out), 100_000 - 85_535);
    assert_eq!(f.last().map(|f| f.1), Some(flag::END_STREAM));
}

#[test]
fn goaway_ping_and_resets() {
    let mut s = Session::new();
    for lane in 0..4 {
        s.open(lane, &[0x82], b"");
    }
    s.out.clear();
    let mut server = preface();
    let mut ping = Vec::new();
    put_head(&mut ping, 8, kind::PING, 0, 0);
    ping.extend_from_slice(b"12345678");
    server.extend_from_slice(&ping);
    frame::put_rst_stream(&mut server, 1, code::REFUSED_STREAM);
    put_goaway(&mut server, 3, code::NO_ERROR);
    headers(
        &mut server,
        3,
        &[0x88],
        flag::END_HEADERS | flag::END_STREAM,
    );
    let ev = feed(&mut s, &server, 3).unwrap();
    assert_eq!(
        ev,
        [
            Event::Reset {
                lane: 0,
                code: code::REFUSED_STREAM
            },
            Event::Unprocessed { lane: 2 },
            Event::Unprocessed { lane: 3 },
            Event::Done {
                lane: 1,
                status: 200
            },
        ]
    );
    assert!(!s.can_open() && s.going_away());
    let f = frames(&s.out);
    assert!(f.contains(&(kind::PING, flag::ACK, 0, b"12345678".to_vec())));
    // A GOAWAY with an error ends the connection, saying so.
    let mut s = Session::new();
    s.open(0, &[0x82], b"");
    let mut server = preface();
    put_goaway(&mut server, 0, 0xb);
    server.extend_from_slice(b"calm down");
    server[frame::HEAD_LEN + 2] += 9;
    let err = feed(&mut s, &server, server.len()).unwrap_err();
    assert_eq!(err.send, None);
    assert!(
        err.why.contains("ENHANCE_YOUR_CALM: calm down"),
        "{}",
        err.why
    );
}

#[test]
fn protocol_errors() {
    let cases: Vec<(Vec<u8>, u32)> = vec![
        // An HTTP/1.1 answer: its first bytes read as a frame too long.
        (
            b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
            code::FRAME_SIZE_ERROR,
        ),
        // A first frame other than SETTINGS.
        (
            {
                let mut b = Vec::new();
                put_ping_ack(&mut b, &[0; 8]);
                b
            },
            code::PROTOCOL_ERROR,
        ),
        // A broken header block.
        (
            {
                let mut b = preface();
                headers(&mut b, 1, &[0xff, 0xff], flag::END_HEADERS);
                b
            },
            code::COMPRESSION_ERROR,
        ),
        // Push.
        (
            {
                let mut b = preface();
                put_head(&mut b, 4, kind::PUSH_PROMISE, flag::END_HEADERS, 1);
                b.extend_from_slice(&[0, 0, 0, 2]);
                b
            },
            code::PROTOCOL_ERROR,
        ),
        // A SETTINGS of 5 bytes.
        (
            {
                let mut b = Vec::new();
                put_head(&mut b, 5, kind::SETTINGS, 0, 0);
                b.extend_from_slice(&[0; 5]);
                b
            },
            code::FRAME_SIZE_ERROR,
        ),
    ];
    for (bytes, want) in cases {
        let mut s = Session::new();
        s.open(0, &[0x82], b"");
        let err = feed(&mut s, &bytes, bytes.len()).unwrap_err();
        assert_eq!(err.send, Some(want), "{}", err.why);
    }
    // A response without :status fails its stream only.
    let mut b = preface();
    headers(&mut b, 1, &[0x82], flag::END_HEADERS | flag::END_STREAM);
    let mut s = Session::new();
    s.open(0, &[0x82], b"");
    assert_eq!(feed(&mut s, &b, 4).unwrap(), [Event::Malformed { lane: 0 }]);
    assert!(frames(&s.out).iter().any(|f| f.0 == kind::RST_STREAM));
}
