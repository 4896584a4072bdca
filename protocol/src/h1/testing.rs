//! Helpers shared by the unit tests.

/// Every string over `alphabet` of up to `max_len` bytes, the empty one included,
/// shortest first.
pub(crate) fn strings_over(alphabet: &[u8], max_len: usize) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = vec![Vec::new()];
    let mut last = all.clone();
    for _ in 0..max_len {
        last = last
            .iter()
            .flat_map(|s| alphabet.iter().map(move |&b| [s.as_slice(), &[b]].concat()))
            .collect();
        all.extend(last.iter().cloned());
    }
    all
}
