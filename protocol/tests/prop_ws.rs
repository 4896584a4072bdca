//! Property tests of the WebSocket codec: the fast mask against its scalar twin, messages
//! through the encoder and back through the decoder (as client frames, split anywhere),
//! and arbitrary input decoded whole and in pieces alike.

use bytes::BytesMut;
use peregrine_protocol::h1::Status;
use peregrine_protocol::ws::deflate::{negotiate, DeflateConfig};
use peregrine_protocol::ws::mask::{apply_mask, apply_mask_scalar};
use peregrine_protocol::ws::{DecodeError, Decoder, Encoder, FrameHeader, Message};
use proptest::prelude::*;

/// Server frames → the same frames as a client sends them (masked with `key`).
fn as_client(server: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = server;
    while !rest.is_empty() {
        let Ok(Status::Complete((mut h, n))) = FrameHeader::decode(rest) else {
            panic!("encoder wrote a bad header");
        };
        let len = h.len as usize;
        h.mask = Some(key);
        h.encode(&mut out);
        let start = out.len();
        out.extend_from_slice(&rest[n..n + len]);
        apply_mask(&mut out[start..], key, 0);
        rest = &rest[n + len..];
    }
    out
}

/// Decode `input` fed at the cut points (modulo its length).
fn decode_split(
    new: &dyn Fn() -> Decoder,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<Message>, Option<DecodeError>) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(input.len());
    points.sort_unstable();
    let mut d = new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for p in points {
        buf.extend_from_slice(&input[fed..p]);
        fed = p;
        loop {
            match d.decode(&mut buf) {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

#[derive(Debug, Clone)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        ".{0,300}".prop_map(Msg::Text),
        proptest::collection::vec(any::<u8>(), 0..2000).prop_map(Msg::Binary),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Msg::Ping),
        // Compressible.
        (0usize..5000).prop_map(|n| Msg::Binary(vec![b'z'; n])),
    ]
}

const OFFERS: [&str; 4] = [
    "",
    "permessage-deflate",
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    "permessage-deflate; server_max_window_bits=9; client_max_window_bits=8",
];

proptest! {
    #[test]
    fn mask_matches_scalar(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        key in any::<[u8; 4]>(),
        offset in 0usize..64,
        start in 0usize..16,
    ) {
        let start = start.min(data.len());
        let mut a = data.clone();
        let mut b = data;
        apply_mask(&mut a[start..], key, offset);
        apply_mask_scalar(&mut b[start..], key, offset);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn encode_then_decode(
        msgs in proptest::collection::vec(msg(), 1..8),
        offer in 0usize..OFFERS.len(),
        compress in any::<bool>(),
        max_frame in 1usize..700,
        key in any::<[u8; 4]>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let params = negotiate(OFFERS[offer].as_bytes(), &DeflateConfig::default());
        let mut enc = Encoder::new().max_frame_payload(max_frame);
        if let Some(p) = &params {
            enc = enc.with_deflate(p);
        }
        let mut wire = BytesMut::new();
        for m in &msgs {
            match m {
                Msg::Text(s) => enc.text(&mut wire, s, compress),
                Msg::Binary(b) => enc.binary(&mut wire, b, compress),
                Msg::Ping(p) => enc.ping(&mut wire, p),
            }
        }
        enc.close(&mut wire, Some((1000, "done")));
        let input = as_client(&wire, key);
        let mirrored = params.map(|p| p.mirrored());
        let new = || {
            let d = Decoder::new(1 << 20);
            match &mirrored {
                Some(p) => d.with_deflate(p),
                None => d,
            }
        };
        let (got, err) = decode_split(&new, &input, &cuts);
        prop_assert_eq!(err, None);
        let mut expect: Vec<Message> = msgs
            .iter()
            .map(|m| match m {
                Msg::Text(s) => Message::Text(s.clone().into()),
                Msg::Binary(b) => Message::Binary(b.clone().into()),
                Msg::Ping(p) => Message::Ping(p.clone().into()),
            })
            .collect();
        expect.push(Message::Close(Some((1000, "done".into()))));
        prop_assert_eq!(got, expect);
    }

    #[test]
    fn arbitrary_input_same_whole_or_split(
        input in proptest::collection::vec(any::<u8>(), 0..400),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
        deflate in any::<bool>(),
        max in 0usize..300,
    ) {
        let p = negotiate(b"permessage-deflate", &DeflateConfig::default());
        let new = || {
            let d = Decoder::new(max);
            match (&p, deflate) {
                (Some(p), true) => d.with_deflate(p),
                _ => d,
            }
        };
        prop_assert_eq!(decode_split(&new, &input, &[]), decode_split(&new, &input, &cuts));
    }
}
