//! Property tests of the chunked decoder (against the chunked encoder) and of path
//! normalisation.

use bytes::BytesMut;
use peregrine_protocol::h1::decode::ChunkedDecoder;
use peregrine_protocol::h1::encode::{write_chunk, LAST_CHUNK};
use peregrine_protocol::h1::target::normalize_path;
use peregrine_protocol::h1::ParseError;
use proptest::prelude::*;

/// How decoding ended: the body so far, plus done / needs more / the error.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Done,
    NeedsMore,
    Failed(ParseError),
}

/// Decode `input` handed over in pieces at the cut points (modulo its length), keeping
/// unconsumed bytes for the next call as the engine does.
fn decode_split(input: &[u8], cuts: &[usize], max_trailer: usize) -> (Vec<u8>, End) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(input.len());
    points.sort_unstable();
    points.dedup();
    let mut dec = ChunkedDecoder::new(max_trailer);
    let mut body = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    for p in points {
        buf.extend_from_slice(&input[fed..p]);
        fed = p;
        loop {
            match dec.decode(&buf) {
                Err(e) => return (body, End::Failed(e)),
                Ok(r) => {
                    assert!(r.data.start <= r.data.end && r.data.end <= r.consumed);
                    assert!(r.consumed <= buf.len());
                    body.extend_from_slice(&buf[r.data.clone()]);
                    buf.drain(..r.consumed);
                    if r.done {
                        return (body, End::Done);
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

fn encode(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i)
            .copied()
            .unwrap_or(rest.len())
            .clamp(1, rest.len());
        write_chunk(&mut out, &rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
    out.extend_from_slice(LAST_CHUNK);
    out.to_vec()
}

/// Chunked-ish noise: hex digits, separators and line endings.
fn chunky_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(b"0123456789abcdefABCDEF".to_vec()),
            prop::sample::select(b"; =\"\\\t\r\n:x".to_vec()),
            any::<u8>(),
        ],
        0..200,
    )
}

/// 512 cases by default; set `PROPTEST_CASES` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Encode with `write_chunk` + `LAST_CHUNK`, decode with random splits: same bytes.
    #[test]
    fn encode_decode_round_trip(
        body in prop::collection::vec(any::<u8>(), 0..3000),
        sizes in prop::collection::vec(1usize..700, 0..20),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
        trailing in prop::collection::vec(any::<u8>(), 0..10),
    ) {
        let mut input = encode(&body, &sizes);
        let encoded_len = input.len();
        input.extend_from_slice(&trailing);
        let (decoded, end) = decode_split(&input, &cuts, 0);
        prop_assert_eq!(end, End::Done);
        prop_assert_eq!(decoded, body.clone());
        // One piece: everything up to the end of the chunked body is consumed, no more.
        let mut dec = ChunkedDecoder::new(0);
        let mut off = 0;
        loop {
            let r = dec.decode(&input[off..]).unwrap();
            off += r.consumed;
            if r.done { break; }
            prop_assert!(r.consumed > 0);
        }
        prop_assert_eq!(off, encoded_len);
    }

    /// Random bytes: no panic, and the same body and outcome however they are split.
    #[test]
    fn random_bytes(
        input in prop_oneof![prop::collection::vec(any::<u8>(), 0..300), chunky_bytes()],
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        max_trailer in 0usize..64,
    ) {
        let whole = decode_split(&input, &[], max_trailer);
        prop_assert_eq!(decode_split(&input, &cuts, max_trailer), whole);
    }

    /// Valid bodies with a byte changed: no panic, split-independent.
    #[test]
    fn mangled_bodies(
        body in prop::collection::vec(any::<u8>(), 0..200),
        sizes in prop::collection::vec(1usize..50, 0..10),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut input = encode(&body, &sizes);
        let i = at.index(input.len());
        input[i] = byte;
        let whole = decode_split(&input, &[], 16);
        prop_assert_eq!(decode_split(&input, &cuts, 16), whole);
    }

    /// Normalised paths are rooted and hold no dot segments; no input panics.
    #[test]
    fn normalize_path_properties(raw in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..60),
        "(/(\\.|\\.\\.|%2[eE]|%2[fF]|[a-z]|%[0-9a-fA-F]{2}){0,3}){0,8}".prop_map(String::into_bytes),
    ]) {
        if let Ok(p) = normalize_path(&raw) {
            prop_assert!(p.starts_with('/'));
            for segment in p.split('/').skip(1) {
                prop_assert!(segment != "." && segment != "..", "{:?} -> {:?}", raw, p);
            }
            prop_assert!(!p.bytes().any(|b| b < 0x20 || b == 0x7f));
        }
    }
}
