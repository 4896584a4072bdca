//! Incremental UTF-8 validation: a text message checked piece by piece as its bytes
//! arrive, failing as soon as an invalid sequence is certain (a sequence cut at a piece
//! boundary is kept until the next piece decides it).

/// Validator state: the bytes of a sequence cut at the end of the last piece.
#[derive(Debug, Clone, Default)]
pub(crate) struct Utf8Validator {
    pending: [u8; 4],
    len: u8,
}

/// Length of the sequence a lead byte starts (0 for a byte that cannot lead).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

impl Utf8Validator {
    /// Check the next piece. `Err(())` once the text cannot be UTF-8 whatever follows.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> Result<(), ()> {
        if self.len > 0 {
            let have = usize::from(self.len);
            let need = sequence_len(self.pending[0]).saturating_sub(have);
            let take = need.min(data.len());
            let mut seq = self.pending;
            seq[have..have + take].copy_from_slice(&data[..take]);
            let filled = have + take;
            match std::str::from_utf8(&seq[..filled]) {
                Ok(_) => self.len = 0,
                // Still a valid prefix: the piece ended inside the sequence.
                Err(e) if e.error_len().is_none() && take == data.len() => {
                    self.pending = seq;
                    self.len = filled as u8;
                    return Ok(());
                }
                Err(_) => return Err(()),
            }
            data = &data[take..];
        }
        match std::str::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &data[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(()),
        }
    }

    /// Whether the text so far ends on a character boundary (the message may end here).
    pub(crate) fn is_complete(&self) -> bool {
        self.len == 0
    }

    /// Back to the start of a new text.
    pub(crate) fn reset(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Valid-so-far after every piece, however the input is split, exactly when the
    /// whole is valid (or a valid prefix), and complete exactly when it is valid.
    fn check(input: &[u8]) {
        let whole = std::str::from_utf8(input);
        let prefix_ok = match &whole {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        };
        for cut in 0..=input.len() {
            let mut v = Utf8Validator::default();
            let r = v.feed(&input[..cut]).and_then(|()| v.feed(&input[cut..]));
            assert_eq!(r.is_ok(), prefix_ok, "{input:x?} cut {cut}");
            if r.is_ok() {
                assert_eq!(v.is_complete(), whole.is_ok(), "{input:x?} cut {cut}");
            }
        }
        // Byte by byte: fails at the first byte that makes it certain.
        let mut v = Utf8Validator::default();
        let first_bad = input.iter().position(|&b| v.feed(&[b]).is_err());
        let certain = (1..=input.len()).find(
            |&n| matches!(std::str::from_utf8(&input[..n]), Err(e) if e.error_len().is_some()),
        );
        assert_eq!(first_bad.map(|i| i + 1), certain, "{input:x?}");
    }

    #[test]
    fn splits_and_fail_fast() {
        let cases: &[&[u8]] = &[
            b"",
            b"hello",
            "κόσμε".as_bytes(),
            "a€b𝄞c".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xf0\x9f\x98",
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xed\xa0\x80",
            b"\xff",
            b"ab\xf0\x9f\x98\x80\x80",
            b"\xe2\x82",
            b"\xe2\x82\xac\xe2",
        ];
        for case in cases {
            check(case);
        }
    }
}
