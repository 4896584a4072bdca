//! HPACK's Huffman code (RFC 7541 §5.2 and Appendix B), decoding only.
//!
//! The code is canonical, so the bit lengths of Appendix B ([`LENGTHS`]) are all it
//! takes: the codes follow from them (sorted by length, then by symbol, each the
//! previous plus one, shifted left when the length grows). Decoding reads bits through
//! a 64-bit accumulator and, per symbol, tries each code length from the shortest: at
//! length `L` the next `L` bits `v` are a code when `v < first[L] + count[L]` (shorter
//! codes have been ruled out, and canonical codes of length `L` are all above them).
//! The tables are built at compile time.

/// Code length in bits of each symbol, 0..=255 and EOS (256), from RFC 7541 Appendix B.
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/// The end-of-string symbol: never valid inside a string.
const EOS: u16 = 256;
/// The longest code.
const MAX_LEN: usize = 30;
/// The shortest code.
const MIN_LEN: usize = 5;

/// Decoding tables derived from [`LENGTHS`].
struct Tables {
    /// The first (smallest) code of each length.
    first: [u32; MAX_LEN + 1],
    /// How many codes have each length.
    count: [u32; MAX_LEN + 1],
    /// Where the symbols of each length start in `symbols`.
    offset: [u16; MAX_LEN + 1],
    /// Symbols sorted by code.
    symbols: [u16; 257],
}

const fn tables() -> Tables {
    let mut count = [0u32; MAX_LEN + 1];
    let mut s = 0;
    while s < 257 {
        count[LENGTHS[s] as usize] += 1;
        s += 1;
    }
    let mut first = [0u32; MAX_LEN + 1];
    let mut offset = [0u16; MAX_LEN + 1];
    let mut len = 1;
    while len <= MAX_LEN {
        first[len] = (first[len - 1] + count[len - 1]) << 1;
        offset[len] = offset[len - 1] + count[len - 1] as u16;
        len += 1;
    }
    // Symbols of one length take consecutive codes in symbol order.
    let mut symbols = [0u16; 257];
    let mut next = offset;
    let mut s = 0;
    while s < 257 {
        let l = LENGTHS[s] as usize;
        symbols[next[l] as usize] = s as u16;
        next[l] += 1;
        s += 1;
    }
    Tables {
        first,
        count,
        offset,
        symbols,
    }
}

static TABLES: Tables = tables();

/// The Huffman string was invalid: a code for EOS, padding longer than 7 bits or not
/// all ones, or bits that are no code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HuffmanError;

/// Decode `src`, appending the octets to `out`.
pub fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    let t = &TABLES;
    let mut acc: u64 = 0;
    let mut bits: usize = 0;
    let mut input = src.iter();
    out.reserve(src.len() * 8 / 5);
    loop {
        while bits <= 56 - 8 {
            match input.next() {
                Some(&b) => {
                    acc = (acc << 8) | u64::from(b);
                    bits += 8;
                }
                None => break,
            }
        }
        if bits < MIN_LEN {
            break;
        }
        let mut matched = false;
        let mut len = MIN_LEN;
        while len <= MAX_LEN && len <= bits {
            let v = ((acc >> (bits - len)) & ((1u64 << len) - 1)) as u32;
            if v < t.first[len] + t.count[len] {
                let sym = t.symbols[usize::from(t.offset[len]) + (v - t.first[len]) as usize];
                if sym == EOS {
                    return Err(HuffmanError);
                }
                out.push(sym as u8);
                bits -= len;
                matched = true;
                break;
            }
            len += 1;
        }
        if !matched {
            break;
        }
    }
    // What is left must be padding: fewer than 8 bits, all ones (EOS's first bits).
    if bits > 7 || input.next().is_some() {
        return Err(HuffmanError);
    }
    let mask = (1u64 << bits) - 1;
    if acc & mask != mask {
        return Err(HuffmanError);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code of `sym`, rebuilt from the tables.
    fn code(sym: u16) -> (u32, usize) {
        let t = &TABLES;
        let pos = t.symbols.iter().position(|&s| s == sym).unwrap();
        let len = usize::from(LENGTHS[usize::from(sym)]);
        let v = t.first[len] + (pos - usize::from(t.offset[len])) as u32;
        (v, len)
    }

    #[test]
    fn codes_match_appendix_b() {
        // A few codes as printed in RFC 7541 Appendix B.
        assert_eq!(code(b'0'.into()), (0x0, 5));
        assert_eq!(code(b'a'.into()), (0x3, 5));
        assert_eq!(code(b' '.into()), (0x14, 6));
        assert_eq!(code(b'A'.into()), (0x21, 6));
        assert_eq!(code(b'z'.into()), (0x7b, 7));
        assert_eq!(code(0), (0x1ff8, 13));
        assert_eq!(code(255), (0x3ffffee, 26));
        assert_eq!(code(EOS), (0x3fff_ffff, 30));
        // A complete prefix code: the Kraft sum is exactly one.
        let kraft: u64 = LENGTHS
            .iter()
            .map(|&l| 1u64 << (MAX_LEN - usize::from(l)))
            .sum();
        assert_eq!(kraft, 1 << MAX_LEN);
    }

    fn dec(src: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        decode(src, &mut out).map(|()| out)
    }

    #[test]
    fn appendix_c_strings() {
        // RFC 7541 C.4.1 and C.6.1.
        let www = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        assert_eq!(dec(&www).unwrap(), b"www.example.com");
        assert_eq!(dec(&[0x64, 0x02]).unwrap(), b"302");
        assert_eq!(dec(&[0xae, 0xc3, 0x77, 0x1a, 0x4b]).unwrap(), b"private");
        let date = [
            0xd0, 0x7a, 0xbe, 0x94, 0x10, 0x54, 0xd4, 0x44, 0xa8, 0x20, 0x05, 0x95, 0x04, 0x0b,
            0x81, 0x66, 0xe0, 0x82, 0xa6, 0x2d, 0x1b, 0xff,
        ];
        assert_eq!(dec(&date).unwrap(), b"Mon, 21 Oct 2013 20:13:21 GMT");
        assert_eq!(dec(&[]).unwrap(), b"");
    }

    #[test]
    fn bad_padding_and_eos_are_refused() {
        // '0' (00000) padded with zeros instead of ones.
        assert_eq!(dec(&[0x00]), Err(HuffmanError));
        // '0' padded with ones: fine.
        assert_eq!(dec(&[0x07]).unwrap(), b"0");
        // A whole byte of padding.
        assert_eq!(dec(&[0x07, 0xff]), Err(HuffmanError));
        // EOS itself (30 ones), padded.
        assert_eq!(dec(&[0xff, 0xff, 0xff, 0xff]), Err(HuffmanError));
    }
}
