//! Fuzz the request-head parser: never panic, and the outcome of parsing the input in
//! one piece equals the outcome of feeding it in pieces (growing buffer, as the engine
//! does). The first input byte picks the limits and the split points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peregrine_protocol::h1::parse::{Limits, RequestHead, RequestParser};
use peregrine_protocol::h1::target::normalize_path;
use peregrine_protocol::h1::{ParseError, Status};

type Outcome = Result<Option<(RequestHead, usize)>, ParseError>;

fn run(input: &[u8], cuts: &[usize], limits: Limits) -> Outcome {
    let mut parser = RequestParser::new(limits);
    let mut head = RequestHead::default();
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        if let Status::Complete(n) = parser.parse(&input[..end], &mut head)? {
            return Ok(Some((head, n)));
        }
    }
    Ok(None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let limits = if control & 0x80 == 0 {
        Limits::default()
    } else {
        Limits {
            max_request_line: usize::from(control & 0x1f) * 4,
            max_headers_total: usize::from(control & 0x60) * 2,
            max_header_count: usize::from(control & 0x07),
        }
    };
    let whole = run(input, &[], limits);

    // Split points from a small generator seeded by the control byte.
    let mut cuts = Vec::new();
    let mut x = u32::from(control).wrapping_mul(2_654_435_761) | 1;
    let mut at = 0;
    while at < input.len() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        at += 1 + (x as usize % 24);
        if at < input.len() {
            cuts.push(at);
        }
    }
    let split = run(input, &cuts, limits);
    let bytewise: Vec<usize> = (0..input.len().min(600)).collect();
    let one_by_one = run(input, &bytewise, limits);
    assert_eq!(whole, split);
    assert_eq!(whole, one_by_one);

    if let Ok(Some((head, n))) = &whole {
        assert!(*n <= input.len());
        assert_eq!(head.head_len, *n);
        for h in &head.headers {
            assert!(h.name.end as usize <= *n && h.value.end as usize <= *n);
            assert!(!h.name.is_empty());
        }
        if let Ok(path) = normalize_path(head.path.of(input)) {
            assert!(path.starts_with('/'));
        }
    }
});
