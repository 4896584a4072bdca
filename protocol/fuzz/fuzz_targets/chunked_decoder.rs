//! Fuzz the chunked decoder: never panic; the same body and outcome however the input
//! is split; and a body encoded with `write_chunk` decodes back to itself. The first
//! input byte picks the trailer limit and the split points.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use peregrine_protocol::h1::decode::ChunkedDecoder;
use peregrine_protocol::h1::encode::{write_chunk, LAST_CHUNK};
use peregrine_protocol::h1::ParseError;

#[derive(Debug, PartialEq)]
enum End {
    Done(usize),
    NeedsMore,
    Failed(ParseError),
}

/// Decode `input` fed at the cut points; returns the body and how it ended (with the
/// total bytes consumed when done).
fn run(input: &[u8], cuts: &[usize], max_trailer: usize) -> (Vec<u8>, End) {
    let mut dec = ChunkedDecoder::new(max_trailer);
    let mut body = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let (mut fed, mut consumed_total) = (0, 0);
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        buf.extend_from_slice(&input[fed..end]);
        fed = end;
        loop {
            match dec.decode(&buf) {
                Err(e) => return (body, End::Failed(e)),
                Ok(r) => {
                    assert!(r.data.start <= r.data.end && r.data.end <= r.consumed);
                    assert!(r.consumed <= buf.len());
                    body.extend_from_slice(&buf[r.data.clone()]);
                    buf.drain(..r.consumed);
                    consumed_total += r.consumed;
                    if r.done {
                        return (body, End::Done(consumed_total));
                    }
                    if r.consumed == 0 {
                        break;
                    }
                }
            }
        }
    }
    (body, End::NeedsMore)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let max_trailer = usize::from(control & 0x3f);
    let whole = run(input, &[], max_trailer);
    let step = usize::from(control >> 6) + 1;
    let cuts: Vec<usize> = (1..input.len()).step_by(step).collect();
    assert_eq!(run(input, &cuts, max_trailer), whole);

    // Round trip: the input as a body, chunked in pieces sized by the control byte.
    let mut encoded = BytesMut::new();
    for piece in input.chunks(usize::from(control % 13) + 1) {
        write_chunk(&mut encoded, piece);
    }
    encoded.extend_from_slice(LAST_CHUNK);
    let (body, end) = run(&encoded, &cuts, 0);
    assert_eq!(end, End::Done(encoded.len()));
    assert_eq!(body, input);
});
