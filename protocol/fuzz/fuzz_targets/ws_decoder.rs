//! Fuzz the WebSocket decoder: never panic; the same messages and outcome however the
//! input is split; no message larger than the limit; and frames the encoder writes for
//! the input (masked as a client would) decode back to it. The first input byte picks the
//! message limit, permessage-deflate on or off and the split step.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use peregrine_protocol::h1::Status;
use peregrine_protocol::ws::deflate::{negotiate, DeflateConfig, DeflateParams};
use peregrine_protocol::ws::mask::apply_mask;
use peregrine_protocol::ws::{DecodeError, Decoder, Encoder, FrameHeader, Message};

fn decoder(max: usize, deflate: Option<&DeflateParams>) -> Decoder {
    let d = Decoder::new(max);
    match deflate {
        Some(p) => d.with_deflate(p),
        None => d,
    }
}

/// Decode `input` fed at the cut points; the messages and how it ended.
fn run(
    input: &[u8],
    cuts: &[usize],
    max: usize,
    deflate: Option<&DeflateParams>,
) -> (Vec<Message>, Option<DecodeError>) {
    let mut d = decoder(max, deflate);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        buf.extend_from_slice(&input[fed..end]);
        fed = end;
        loop {
            match d.decode(&mut buf) {
                Ok(Some(m)) => {
                    if let Message::Text(t) | Message::Binary(t) = &m {
                        assert!(t.len() <= max);
                    }
                    if let Message::Text(t) = &m {
                        assert!(std::str::from_utf8(t).is_ok());
                    }
                    out.push(m);
                }
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(d.decode(&mut buf), Err(e));
                    return (out, Some(e));
                }
            }
        }
    }
    (out, None)
}

/// Server frames re-encoded as a client's (masked).
fn as_client(server: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = server;
    while let Ok(Status::Complete((mut h, n))) = FrameHeader::decode(rest) {
        let len = h.len as usize;
        h.mask = Some([0xde, 0xad, 0xbe, 0xef]);
        h.encode(&mut out);
        let start = out.len();
        out.extend_from_slice(&rest[n..n + len]);
        apply_mask(&mut out[start..], [0xde, 0xad, 0xbe, 0xef], 0);
        rest = &rest[n + len..];
    }
    assert!(rest.is_empty());
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let max = usize::from(control & 0x0f) * 64;
    let params = negotiate(b"permessage-deflate", &DeflateConfig::default());
    let deflate = params.as_ref().filter(|_| control & 0x10 != 0);
    let whole = run(input, &[], max, deflate);
    let step = usize::from(control >> 5) + 1;
    let cuts: Vec<usize> = (1..input.len()).step_by(step).collect();
    assert_eq!(run(input, &cuts, max, deflate), whole);

    // Round trip: the input as one binary message, fragmented and maybe compressed.
    let mut enc = Encoder::new().max_frame_payload(usize::from(control % 29) + 1);
    if let Some(p) = deflate {
        enc = enc.with_deflate(p);
    }
    let mut wire = BytesMut::new();
    enc.binary(&mut wire, input, true);
    let client = as_client(&wire);
    let mirrored = deflate.map(|p| p.mirrored());
    let client_cuts: Vec<usize> = (1..client.len()).step_by(step).collect();
    let (msgs, err) = run(&client, &client_cuts, input.len(), mirrored.as_ref());
    assert_eq!(err, None);
    assert_eq!(msgs, vec![Message::Binary(input.to_vec().into())]);
});
