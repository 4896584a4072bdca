//! Fuzz permessage-deflate: negotiation over arbitrary offers never panics and any
//! agreement's response header negotiates to itself; inflating arbitrary data never
//! panics and never returns more than the limit; compressing the input and inflating it
//! gives the input back. The first input byte picks the limit, the split step and the
//! server's configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peregrine_protocol::ws::deflate::{negotiate, DeflateConfig, Deflater, Inflater};
use peregrine_protocol::ws::DecodeError;

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let config = DeflateConfig {
        server_max_window_bits: 9 + (control & 0x07).min(6),
        client_max_window_bits: 8 + (control >> 3 & 0x07),
        server_no_context_takeover: control & 0x40 != 0,
        client_no_context_takeover: control & 0x80 != 0,
        level: u32::from(control % 10),
    };
    if let Some(p) = negotiate(input, &config) {
        let again = negotiate(p.response_header().as_bytes(), &config);
        assert!(again.is_some());
    }

    let p = negotiate(b"permessage-deflate; client_max_window_bits", &config).unwrap();
    let limit = usize::from(control) * 16;
    let mut out = Vec::new();
    let step = usize::from(control % 7) + 1;
    let mut inf = Inflater::new(&p);
    let mut result = Ok(());
    for piece in input.chunks(step) {
        result = inf.inflate(piece, &mut out, limit);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = inf.finish(&mut out, limit);
    }
    match result {
        Ok(()) => assert!(out.len() <= limit),
        Err(DecodeError::MessageTooBig) => assert!(out.len() <= limit + 1),
        Err(e) => assert_eq!(e, DecodeError::InvalidCompressedData),
    }

    // Round trip, twice (the second may refer to the first).
    let mut def = Deflater::new(&p.mirrored());
    let mut inf = Inflater::new(&p);
    for _ in 0..2 {
        let mut z = Vec::new();
        assert!(def.compress(input, &mut z));
        let mut back = Vec::new();
        inf.inflate(&z, &mut back, input.len()).unwrap();
        inf.finish(&mut back, input.len()).unwrap();
        assert_eq!(back, input);
    }
});
