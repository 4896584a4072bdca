//! Fuzz the PROXY protocol parser: never panic; the same outcome however the input is
//! split (the buffer growing as reads arrive, as the engine feeds it); once decided, the
//! outcome never changes with more bytes; a complete header never claims more than it
//! was given. The first input byte picks the version 2 size limit and the split step.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peregrine_protocol::proxy::{parse, Limits, Status};

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_v2_size: 16 + usize::from(control & 0x1f) * 16,
    };
    let whole = parse(input, &limits);
    if let Ok(Status::Complete(n, _)) = &whole {
        assert!(*n <= input.len());
    }
    let step = usize::from(control >> 5) + 1;
    let mut decided = None;
    let mut end = 0;
    while end < input.len() {
        end = (end + step).min(input.len());
        let outcome = parse(&input[..end], &limits);
        match &decided {
            Some(d) => assert_eq!(&outcome, d),
            None if outcome != Ok(Status::Partial) => decided = Some(outcome),
            None => {}
        }
    }
    if let Some(d) = decided {
        assert_eq!(d, whole);
    }
});
