//! The decoder against RFC 6455's examples and rules, in the order of Autobahn's server
//! test sections (1 framing, 2 pings and pongs, 3 reserved bits, 4 opcodes, 5
//! fragmentation, 6 UTF-8, 7 close, 9 limits, 12–13 permessage-deflate). Every input is
//! also fed split at every byte boundary and byte by byte, with the same outcome.

use super::*;
use crate::ws::deflate::{negotiate, DeflateConfig, Deflater};
use crate::ws::error::DecodeError as E;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked client frame: `b0` is FIN/RSV/opcode as on the wire.
fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut h = FrameHeader::new(b0 & 0x80 != 0, OpCode::Text, payload.len() as u64);
    h.mask = Some(KEY);
    h.encode(&mut out);
    out[0] = b0;
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], KEY, 0);
    out
}

const TEXT: u8 = 0x81;
const BINARY: u8 = 0x82;
const TEXT_START: u8 = 0x01;
const BINARY_START: u8 = 0x02;
const CONT: u8 = 0x00;
const CONT_FIN: u8 = 0x80;
const CLOSE: u8 = 0x88;
const PING: u8 = 0x89;
const PONG: u8 = 0x8a;

fn cat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

type Outcome = (Vec<Message>, Option<DecodeError>);

/// Feed `input` at the cut points, decoding after each piece until `Ok(None)`.
fn feed(new: &dyn Fn() -> Decoder, input: &[u8], cuts: &[usize]) -> Outcome {
    let mut d = new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        buf.extend_from_slice(&input[fed..end]);
        fed = end;
        loop {
            match d.decode(&mut buf) {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(d.decode(&mut buf), Err(e), "errors are final");
                    return (out, Some(e));
                }
            }
        }
    }
    (out, None)
}

/// Decode whole, split at every boundary and byte by byte: all must agree.
fn run_with(new: &dyn Fn() -> Decoder, input: &[u8]) -> Outcome {
    let whole = feed(new, input, &[]);
    for cut in 1..input.len() {
        assert_eq!(feed(new, input, &[cut]), whole, "split at {cut}");
    }
    let bytes: Vec<usize> = (1..input.len()).collect();
    assert_eq!(feed(new, input, &bytes), whole, "byte by byte");
    whole
}

fn run(input: &[u8]) -> Outcome {
    run_with(&|| Decoder::new(1 << 20), input)
}

fn text(s: &str) -> Message {
    Message::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn binary(b: &[u8]) -> Message {
    Message::Binary(Bytes::copy_from_slice(b))
}

fn fails(input: &[u8], e: DecodeError) {
    assert_eq!(run(input).1, Some(e));
}

// 1. Framing.

#[test]
fn rfc_masked_hello() {
    let input = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(run(&input), (vec![text("Hello")], None));
}

#[test]
fn payload_lengths() {
    for len in [0, 1, 125, 126, 127, 300, 65535, 65536] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let s: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let input = cat(&[frame(BINARY, &data), frame(TEXT, s.as_bytes())]);
        let whole = feed(&|| Decoder::new(1 << 20), &input, &[]);
        assert_eq!(whole, (vec![binary(&data), text(&s)], None), "{len}");
        if len <= 300 {
            assert_eq!(run(&input), whole);
        }
    }
}

#[test]
fn non_minimal_length_accepted() {
    let mut input = vec![0x82, 0xfe, 0x00, 0x03];
    input.extend_from_slice(&KEY);
    let mut payload = *b"abc";
    apply_mask(&mut payload, KEY, 0);
    input.extend_from_slice(&payload);
    assert_eq!(run(&input), (vec![binary(b"abc")], None));
}

#[test]
fn unmasked_and_overlong() {
    fails(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'], E::Unmasked);
    fails(
        &[0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
        E::LengthOverflow,
    );
}

#[test]
fn single_frame_message_is_not_copied() {
    let input = frame(BINARY, &[5; 1000]);
    let mut buf = BytesMut::from(&input[..]);
    let start = buf.as_ptr() as usize;
    let mut d = Decoder::new(1 << 20);
    let Ok(Some(Message::Binary(b))) = d.decode(&mut buf) else {
        panic!()
    };
    assert_eq!(b.as_ptr() as usize, start + 8);
    assert_eq!(&b[..], &[5; 1000][..]);
}

// 2. Pings and pongs.

#[test]
fn pings_and_pongs() {
    let input = cat(&[
        frame(PING, b""),
        frame(PING, b"ping"),
        frame(PONG, &[9; 125]),
    ]);
    let expect = vec![
        Message::Ping(Bytes::new()),
        Message::Ping(Bytes::from_static(b"ping")),
        Message::Pong(Bytes::from_static(&[9; 125])),
    ];
    assert_eq!(run(&input), (expect, None));
    fails(&frame(PING, &[0; 126]), E::ControlTooLong);
    fails(&frame(PONG, &[0; 126]), E::ControlTooLong);
    fails(&frame(0x09, b"frag"), E::FragmentedControl);
}

// 3. Reserved bits.

#[test]
fn reserved_bits() {
    for b0 in [
        TEXT | 0x40,
        TEXT | 0x20,
        TEXT | 0x10,
        BINARY | 0x70,
        PING | 0x40,
        CLOSE | 0x20,
    ] {
        let input = cat(&[frame(TEXT, b"ok"), frame(b0, b"x"), frame(TEXT, b"never")]);
        assert_eq!(
            run(&input),
            (vec![text("ok")], Some(E::ReservedBits)),
            "{b0:#x}"
        );
    }
}

// 4. Opcodes.

#[test]
fn unknown_opcodes() {
    for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        let input = cat(&[frame(TEXT, b"ok"), frame(0x80 | op, b"x")]);
        assert_eq!(run(&input), (vec![text("ok")], Some(E::UnknownOpcode(op))));
    }
}

// 5. Fragmentation.

#[test]
fn fragments_with_control_frames_between() {
    let input = cat(&[
        frame(TEXT_START, b"fragment1 "),
        frame(PING, b"p1"),
        frame(CONT, b""),
        frame(PONG, b"p2"),
        frame(CONT_FIN, b"fragment2"),
        frame(BINARY_START, &[1]),
        frame(CONT_FIN, &[2, 3]),
    ]);
    let expect = vec![
        Message::Ping(Bytes::from_static(b"p1")),
        Message::Pong(Bytes::from_static(b"p2")),
        text("fragment1 fragment2"),
        binary(&[1, 2, 3]),
    ];
    assert_eq!(run(&input), (expect, None));
    // Many one-byte fragments.
    let mut frames = vec![frame(TEXT_START, b"a")];
    frames.extend((0..50).map(|_| frame(CONT, b"b")));
    frames.push(frame(CONT_FIN, b""));
    assert_eq!(
        run(&cat(&frames)).0,
        vec![text(&format!("a{}", "b".repeat(50)))]
    );
}

#[test]
fn fragmentation_errors() {
    fails(&frame(CONT_FIN, b"x"), E::UnexpectedContinuation);
    fails(&frame(CONT, b"x"), E::UnexpectedContinuation);
    fails(
        &cat(&[frame(TEXT_START, b"a"), frame(TEXT, b"b")]),
        E::ExpectedContinuation,
    );
    fails(
        &cat(&[frame(TEXT_START, b"a"), frame(BINARY_START, b"b")]),
        E::ExpectedContinuation,
    );
    // A finished message leaves no continuation to accept.
    let input = cat(&[
        frame(TEXT_START, b"a"),
        frame(CONT_FIN, b"b"),
        frame(CONT_FIN, b"c"),
    ]);
    assert_eq!(
        run(&input),
        (vec![text("ab")], Some(E::UnexpectedContinuation))
    );
}

// 6. UTF-8.

#[test]
fn utf8_valid_across_fragments() {
    let s = "κόσμε 𝄞 €";
    let b = s.as_bytes();
    for cut in 0..=b.len() {
        let input = cat(&[frame(TEXT_START, &b[..cut]), frame(CONT_FIN, &b[cut..])]);
        assert_eq!(
            feed(&|| Decoder::new(1 << 20), &input, &[]),
            (vec![text(s)], None)
        );
    }
    assert_eq!(
        run(&cat(&[
            frame(TEXT_START, &b[..3]),
            frame(CONT_FIN, &b[3..])
        ]))
        .0,
        vec![text(s)]
    );
}

#[test]
fn utf8_invalid() {
    let bad: [&[u8]; 6] = [
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
        b"\xc0\xaf",
        b"\xf4\x90\x80\x80",
        b"\xff",
        b"abc\xe2\x82",                  // cut short at the message's end
        b"\xed\x9f\xbf\xee\x80\x80\xf0", // incomplete at the end
    ];
    for b in bad {
        fails(&frame(TEXT, b), E::InvalidUtf8);
        fails(
            &cat(&[frame(TEXT_START, &b[..1]), frame(CONT_FIN, &b[1..])]),
            E::InvalidUtf8,
        );
    }
    // Binary messages are not checked.
    assert_eq!(run(&frame(BINARY, b"\xff")).0, vec![binary(b"\xff")]);
}

#[test]
fn utf8_fails_fast_inside_a_frame() {
    // Autobahn 6.4: the frame's first bytes already hold an invalid sequence; the rest
    // never comes, yet the decoder fails.
    let payload =
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64";
    let input = frame(TEXT, payload);
    // Header (6 bytes) + up to and including 0xf4 0x90 (the first certain-invalid byte).
    let upto = 6 + 13;
    let (msgs, err) = feed(&|| Decoder::new(1 << 20), &input[..upto], &[]);
    assert_eq!((msgs, err), (vec![], Some(E::InvalidUtf8)));
    let (_, err) = feed(&|| Decoder::new(1 << 20), &input[..upto - 1], &[]);
    assert_eq!(err, None);
    // Same across fragments: the first fragment's bad bytes fail before the next comes.
    let (_, err) = feed(
        &|| Decoder::new(1 << 20),
        &frame(TEXT_START, &payload[..13]),
        &[],
    );
    assert_eq!(err, Some(E::InvalidUtf8));
}

// 7. Close.

#[test]
fn close_frames() {
    assert_eq!(run(&frame(CLOSE, b"")), (vec![Message::Close(None)], None));
    let input = cat(&[frame(CLOSE, b"\x03\xe8bye"), frame(TEXT, b"after")]);
    let close = Message::Close(Some((1000, Bytes::from_static(b"bye"))));
    assert_eq!(run(&input), (vec![close], None));
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let f = frame(CLOSE, &code.to_be_bytes());
        assert_eq!(
            run(&f).0,
            vec![Message::Close(Some((code, Bytes::new())))],
            "{code}"
        );
    }
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        fails(
            &frame(CLOSE, &code.to_be_bytes()),
            E::InvalidCloseCode(code),
        );
    }
    fails(&frame(CLOSE, b"\x03"), E::CloseLength);
    fails(
        &frame(
            CLOSE,
            b"\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
        ),
        E::InvalidUtf8,
    );
    let mut long = vec![0x03, 0xe8];
    long.extend_from_slice(&[b'a'; 124]);
    fails(&frame(CLOSE, &long), E::ControlTooLong);
    // A close in the middle of a fragmented message.
    let input = cat(&[frame(TEXT_START, b"a"), frame(CLOSE, b"")]);
    assert_eq!(run(&input), (vec![Message::Close(None)], None));
}

#[test]
fn nothing_after_close() {
    let mut d = Decoder::new(100);
    let mut buf = BytesMut::from(&cat(&[frame(CLOSE, b""), frame(TEXT, b"x")])[..]);
    assert_eq!(d.decode(&mut buf), Ok(Some(Message::Close(None))));
    assert!(d.is_closed());
    assert_eq!(d.decode(&mut buf), Ok(None));
    assert_eq!(buf.len(), 7, "left in the buffer");
}

// 9. Limits.

#[test]
fn max_message_size() {
    let new = || Decoder::new(10);
    assert_eq!(
        run_with(&new, &frame(BINARY, &[0; 10])).0,
        vec![binary(&[0; 10])]
    );
    // One frame too big fails on its header, before the payload arrives.
    let (_, err) = feed(&new, &frame(BINARY, &[0; 11])[..6], &[]);
    assert_eq!(err, Some(E::MessageTooBig));
    let parts = cat(&[
        frame(TEXT_START, b"12345"),
        frame(PING, b""),
        frame(CONT, b"67890"),
        frame(CONT_FIN, b"1"),
    ]);
    let (msgs, err) = run_with(&new, &parts);
    assert_eq!(
        (msgs, err),
        (vec![Message::Ping(Bytes::new())], Some(E::MessageTooBig))
    );
    let exact = cat(&[frame(TEXT_START, b"12345"), frame(CONT_FIN, b"67890")]);
    assert_eq!(run_with(&new, &exact).0, vec![text("1234567890")]);
    // Control frames do not count.
    assert_eq!(run_with(&new, &frame(PING, &[1; 100])).1, None);
}

// 12–13. permessage-deflate.

fn params(offer: &str) -> DeflateParams {
    negotiate(offer.as_bytes(), &DeflateConfig::default()).unwrap()
}

/// Compressed payload of each message, as a client with these parameters sends them.
fn client_compress(p: &DeflateParams, msgs: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut d = Deflater::new(&p.mirrored());
    msgs.iter()
        .map(|m| {
            let mut z = Vec::new();
            assert!(d.compress(m, &mut z));
            z
        })
        .collect()
}

#[test]
fn rfc7692_frames() {
    let p = params("permessage-deflate");
    let new = move || Decoder::new(1000).with_deflate(&p);
    // §7.2.3.1 and §7.2.3.2 (masked), then §7.2.3.1 fragmented as in the RFC.
    let input = cat(&[
        frame(0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
        frame(0xc1, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
        frame(0x41, &[0xf2, 0x48, 0xcd]),
        frame(PING, b""),
        frame(CONT_FIN, &[0xc9, 0xc9, 0x07, 0x00]),
        frame(TEXT, b"plain"),
    ]);
    let expect = vec![
        text("Hello"),
        text("Hello"),
        Message::Ping(Bytes::new()),
        text("Hello"),
        text("plain"),
    ];
    assert_eq!(run_with(&new, &input), (expect, None));
}

#[test]
fn compressed_round_trips_each_mode() {
    let long: Vec<u8> = (0..5000u32)
        .map(|i| b"websocket "[(i % 10) as usize])
        .collect();
    for offer in [
        "permessage-deflate",
        "permessage-deflate; client_no_context_takeover",
        "permessage-deflate; client_max_window_bits=9",
    ] {
        let p = params(offer);
        let msgs: [&[u8]; 4] = [b"Hello", &long, b"", b"Hello"];
        let z = client_compress(&p, &msgs);
        let mut frames = Vec::new();
        for zi in &z {
            // Fragmented in three, RSV1 on the first only.
            let (a, rest) = zi.split_at(zi.len() / 3);
            let (b, c) = rest.split_at(rest.len() / 2);
            frames.push(frame(0x42, a));
            frames.push(frame(CONT, b));
            frames.push(frame(CONT_FIN, c));
        }
        let input = cat(&frames);
        let (got, err) = feed(&|| Decoder::new(1 << 20).with_deflate(&p), &input, &[]);
        assert_eq!(err, None, "{offer}");
        let expect: Vec<Message> = msgs.iter().map(|m| binary(m)).collect();
        assert_eq!(got, expect, "{offer}");
    }
}

#[test]
fn deflate_errors() {
    let p = params("permessage-deflate");
    let new = move || Decoder::new(1000).with_deflate(&p);
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    // RSV1 on a continuation or a control frame.
    let input = cat(&[frame(0x41, &hello[..2]), frame(0xc0, &hello[2..])]);
    assert_eq!(run_with(&new, &input).1, Some(E::ReservedBits));
    assert_eq!(run_with(&new, &frame(0xc9, b"")).1, Some(E::ReservedBits));
    // Not deflate data.
    assert_eq!(
        run_with(&new, &frame(0xc2, &[0xff; 8])).1,
        Some(E::InvalidCompressedData)
    );
    // Compressed text that inflates to invalid UTF-8.
    let z = client_compress(&p, &[b"ok \xff"]);
    assert_eq!(run_with(&new, &frame(0xc1, &z[0])).1, Some(E::InvalidUtf8));
    // A bomb: 1 MiB of zeros in a few hundred bytes, limit 1000.
    let z = client_compress(&p, &[&vec![0; 1 << 20]]);
    assert!(z[0].len() < 2000);
    assert_eq!(
        feed(&new, &frame(0xc2, &z[0]), &[]).1,
        Some(E::MessageTooBig)
    );
    // RSV1 without the extension.
    assert_eq!(run(&frame(0xc1, &hello)).1, Some(E::ReservedBits));
}

#[test]
fn endless_empty_blocks_are_bounded() {
    let p = params("permessage-deflate");
    // Empty stored blocks inflate to nothing; 2500 bytes of them exceed 1000 + slack
    // (a sixteenth and 1 KiB).
    let mut frames = vec![frame(0x42, &[0x00, 0x00, 0x00, 0xff, 0xff])];
    for _ in 0..500 {
        frames.push(frame(CONT, &[0x00, 0x00, 0x00, 0xff, 0xff]));
    }
    let (_, err) = feed(&|| Decoder::new(1000).with_deflate(&p), &cat(&frames), &[]);
    assert_eq!(err, Some(E::MessageTooBig));
}

/// A message at the size limit compressed as small stored blocks (zlib at a low
/// memLevel, as Python's `websockets` uses: its deflate adds 5 bytes per block) is
/// accepted: the compressed-size bound leaves room for that framing.
#[test]
fn small_stored_blocks_at_the_limit_are_accepted() {
    let limit = 1 << 20;
    let data: Vec<u8> = (0..limit).map(|i| (i * 7 + i / 251) as u8).collect();
    // Raw deflate: non-final stored blocks of 128 bytes (BTYPE 00, LEN, NLEN, data).
    let mut deflated = Vec::new();
    for block in data.chunks(128) {
        let n = block.len() as u16;
        deflated.push(0x00);
        deflated.extend_from_slice(&n.to_le_bytes());
        deflated.extend_from_slice(&(!n).to_le_bytes());
        deflated.extend_from_slice(block);
    }
    let params = negotiate(b"permessage-deflate", &DeflateConfig::default()).expect("agreed");
    let mut d = Decoder::new(limit).with_deflate(&params);
    let mut buf = BytesMut::from(&frame(BINARY | 0x40, &deflated)[..]);
    let got = d.decode(&mut buf).expect("decodes").expect("a message");
    assert_eq!(got, Message::Binary(Bytes::from(data)));
}

#[test]
fn compressed_failures_do_not_depend_on_splits() {
    // Found by proptest: inflated text that is not UTF-8 followed by corrupt deflate data
    // (1007 from the text whichever way it is split), and a compressed payload past the
    // bound (only the allowed prefix is inflated).
    let p = params("permessage-deflate");
    let mut input = vec![65, 141, 184, 80, 12, 96, 98];
    input.extend_from_slice(&[0; 29]);
    assert_eq!(
        run_with(&move || Decoder::new(1).with_deflate(&p), &input).1,
        Some(E::InvalidUtf8)
    );
    // 1100 bytes: past the bound for a limit of 0 (1 KiB of framing room).
    let input = frame(0xc1, &[0; 1100]);
    assert_eq!(
        run_with(&move || Decoder::new(0).with_deflate(&p), &input).1,
        Some(E::InvalidCompressedData)
    );
}

#[test]
fn inflated_past_the_limit_before_corrupt_data() {
    // Found by the ws_decoder fuzz target: one inflate call that both passes the limit
    // and then meets corrupt data is a 1009, as it is when the input comes in pieces.
    let p = params("permessage-deflate");
    let mut input = vec![0xc1, 0x87, 0xfa, 0x30, 0x30, 0x30];
    input.extend_from_slice(&[0x30; 50]);
    input.push(0x34);
    input.extend_from_slice(&[0x30; 61]);
    input.extend_from_slice(&[0x3a, 0x37]);
    let (_, err) = run_with(&move || Decoder::new(0).with_deflate(&p), &input);
    assert_eq!(err, Some(E::MessageTooBig));
}
