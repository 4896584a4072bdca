//! HPACK decoding (RFC 7541) of response header blocks.
//!
//! Servers compress responses with the dynamic table and Huffman coding, so the decoder
//! is complete: indexed fields, literals with and without indexing (and never indexed),
//! dynamic table size updates (only at the start of a block, never above the size this
//! client allows), Huffman strings. Each field is handed to a callback as borrowed
//! bytes and not kept; only the table keeps what it must. Decoding allocates only when
//! an entry enters the table (Huffman strings go through reused scratch buffers).
//!
//! (Written here rather than taken from a crate: the crates that decode HPACK either
//! allocate per field and per Huffman string or panic on some malformed blocks, e.g. a
//! truncated size update, and this client must take any input without panicking.)
//!
//! - [`huffman`]: the Huffman code.
//! - [`table`]: the static and dynamic tables.
//! - [`encode`]: the request's fields, encoded without the dynamic table.

pub mod encode;
pub mod huffman;
pub mod table;

use table::Dynamic;

/// The dynamic table size this client allows (`SETTINGS_HEADER_TABLE_SIZE`, the
/// default: it announces no other).
pub const TABLE_SIZE: usize = 4096;

/// Why a header block could not be decoded (a `COMPRESSION_ERROR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The block ends inside a field.
    Truncated,
    /// An integer too large to be meaningful.
    Overflow,
    /// An index that is in neither table.
    BadIndex(usize),
    /// An invalid Huffman string.
    Huffman,
    /// A table size update above the allowed size, or after a field.
    SizeUpdate,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Truncated => f.write_str("a header block ends inside a field"),
            Error::Overflow => f.write_str("an HPACK integer is too large"),
            Error::BadIndex(i) => write!(f, "HPACK index {i} is in no table"),
            Error::Huffman => f.write_str("an invalid Huffman string"),
            Error::SizeUpdate => f.write_str("an invalid dynamic table size update"),
        }
    }
}

/// Largest integer accepted (far above any table index, length or size in use).
const MAX_INT: usize = 1 << 28;

/// An integer with an `n`-bit prefix at the start of `buf` (RFC 7541 §5.1): the value
/// and the bytes it took.
#[inline]
fn integer(buf: &[u8], n: u32) -> Result<(usize, usize), Error> {
    let mask = (1usize << n) - 1;
    let first = usize::from(*buf.first().ok_or(Error::Truncated)?) & mask;
    if first < mask {
        return Ok((first, 1));
    }
    let mut value = mask;
    let mut shift = 0;
    for (i, &b) in buf.iter().enumerate().skip(1) {
        value += usize::from(b & 0x7f) << shift;
        if value > MAX_INT {
            return Err(Error::Overflow);
        }
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
        shift += 7;
    }
    Err(Error::Truncated)
}

/// A string literal at the start of `buf` (RFC 7541 §5.2): its raw bytes, whether they
/// are Huffman coded, and the bytes it took.
#[inline]
fn string(buf: &[u8]) -> Result<(&[u8], bool, usize), Error> {
    let huffman = buf.first().ok_or(Error::Truncated)? & 0x80 != 0;
    let (len, n) = integer(buf, 7)?;
    let raw = buf.get(n..n + len).ok_or(Error::Truncated)?;
    Ok((raw, huffman, n + len))
}

/// The octets of a string: `raw` itself, or its Huffman decoding in `scratch`.
#[inline]
fn octets<'a>(raw: &'a [u8], huffman: bool, scratch: &'a mut Vec<u8>) -> Result<&'a [u8], Error> {
    if !huffman {
        return Ok(raw);
    }
    scratch.clear();
    huffman::decode(raw, scratch).map_err(|_| Error::Huffman)?;
    Ok(scratch)
}

/// One connection's HPACK decoding context.
#[derive(Debug)]
pub struct Decoder {
    table: Dynamic,
    /// The largest size a table size update may set.
    limit: usize,
    name: Vec<u8>,
    value: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(TABLE_SIZE)
    }
}

impl Decoder {
    /// A decoder whose table may grow to `limit` bytes (the size announced).
    pub fn new(limit: usize) -> Decoder {
        Decoder {
            table: Dynamic::new(limit),
            limit,
            name: Vec::new(),
            value: Vec::new(),
        }
    }

    /// Decode one whole header block, handing each field to `field` as (name, value).
    pub fn decode(
        &mut self,
        block: &[u8],
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), Error> {
        let mut at = 0;
        let mut fields = false;
        while let Some(&b) = block.get(at) {
            let rest = &block[at..];
            if b & 0x80 != 0 {
                // Indexed field (§6.1).
                let (index, n) = integer(rest, 7)?;
                let (name, value) = self.table.get(index).ok_or(Error::BadIndex(index))?;
                field(name, value);
                at += n;
            } else if b & 0xe0 == 0x20 {
                // Dynamic table size update (§6.3): only before the first field.
                let (size, n) = integer(rest, 5)?;
                if fields || size > self.limit {
                    return Err(Error::SizeUpdate);
                }
                self.table.set_max(size);
                at += n;
                continue;
            } else {
                // Literal (§6.2): with incremental indexing (01), without (0000) or
                // never indexed (0001).
                let indexing = b & 0x40 != 0;
                let (index, mut n) = integer(rest, if indexing { 6 } else { 4 })?;
                let name_raw = if index == 0 {
                    let (raw, huffman, len) = string(&rest[n..])?;
                    n += len;
                    Some((raw, huffman))
                } else {
                    None
                };
                let (raw, huffman, len) = string(&rest[n..])?;
                n += len;
                let value = octets(raw, huffman, &mut self.value)?;
                match name_raw {
                    Some((raw, huffman)) => {
                        let name = octets(raw, huffman, &mut self.name)?;
                        field(name, value);
                        if indexing {
                            self.table.insert(name, value);
                        }
                    }
                    None => {
                        let (name, _) = self.table.get(index).ok_or(Error::BadIndex(index))?;
                        if indexing {
                            // Copied: the insert may evict the entry it names.
                            self.name.clear();
                            self.name.extend_from_slice(name);
                            field(&self.name, value);
                            self.table.insert(&self.name, value);
                        } else {
                            field(name, value);
                        }
                    }
                }
                at += n;
            }
            fields = true;
        }
        Ok(())
    }

    /// The dynamic table (tests).
    #[cfg(test)]
    fn table(&self) -> &Dynamic {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn fields(d: &mut Decoder, block: &[u8]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        d.decode(block, |n, v| {
            out.push((
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            ))
        })
        .unwrap();
        out
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn integers_of_appendix_c1() {
        assert_eq!(integer(&[0x0a], 5), Ok((10, 1)));
        assert_eq!(integer(&[0x1f, 0x9a, 0x0a], 5), Ok((1337, 3)));
        assert_eq!(integer(&[0x2a], 8), Ok((42, 1)));
        assert_eq!(integer(&[0x1f, 0x9a], 5), Err(Error::Truncated));
        assert_eq!(integer(&[], 5), Err(Error::Truncated));
        assert_eq!(
            integer(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 5),
            Err(Error::Overflow)
        );
    }

    #[test]
    fn requests_without_huffman_appendix_c3() {
        let mut d = Decoder::default();
        let got = fields(
            &mut d,
            &hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"),
        );
        let first = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ];
        assert_eq!(got, pairs(&first));
        assert_eq!(d.table().size(), 57);
        let got = fields(&mut d, &hex("8286 84be 5808 6e6f 2d63 6163 6865"));
        let mut second = first.to_vec();
        second.push(("cache-control", "no-cache"));
        assert_eq!(got, pairs(&second));
        assert_eq!(d.table().size(), 110);
        let got = fields(
            &mut d,
            &hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"),
        );
        let third = [
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ];
        assert_eq!(got, pairs(&third));
        assert_eq!((d.table().entries(), d.table().size()), (3, 164));
    }

    #[test]
    fn requests_with_huffman_appendix_c4() {
        let mut d = Decoder::default();
        let got = fields(&mut d, &hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"));
        let first = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ];
        assert_eq!(got, pairs(&first));
        fields(&mut d, &hex("8286 84be 5886 a8eb 1064 9cbf"));
        let got = fields(
            &mut d,
            &hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
        );
        assert_eq!(
            got[4],
            ("custom-key".to_string(), "custom-value".to_string())
        );
        assert_eq!((d.table().entries(), d.table().size()), (3, 164));
    }

    /// RFC 7541 C.5 (plain) and C.6 (Huffman): responses with a 256-byte table, so
    /// entries are evicted.
    fn responses(blocks: [&str; 3]) {
        let mut d = Decoder::new(256);
        let got = fields(&mut d, &hex(blocks[0]));
        let first = [
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ];
        assert_eq!(got, pairs(&first));
        assert_eq!((d.table().entries(), d.table().size()), (4, 222));
        let got = fields(&mut d, &hex(blocks[1]));
        let mut second = first;
        second[0] = (":status", "307");
        assert_eq!(got, pairs(&second));
        assert_eq!((d.table().entries(), d.table().size()), (4, 222));
        let got = fields(&mut d, &hex(blocks[2]));
        let third = [
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", "https://www.example.com"),
            ("content-encoding", "gzip"),
            (
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
        ];
        assert_eq!(got, pairs(&third));
        assert_eq!((d.table().entries(), d.table().size()), (3, 215));
    }

    #[test]
    fn responses_without_huffman_appendix_c5() {
        responses([
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
             2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
             6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
             54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
             5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
             3d31",
        ]);
    }

    #[test]
    fn responses_with_huffman_appendix_c6() {
        responses([
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
             2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ff c1 c0 bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
             77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
             9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ]);
    }

    #[test]
    fn size_updates() {
        let mut d = Decoder::default();
        fields(&mut d, &hex("4003 6162 6303 6465 66"));
        assert_eq!(d.table().entries(), 1);
        // An update to 0 empties the table, then 4096 again; then a field.
        assert_eq!(fields(&mut d, &hex("20 3fe1 1f 88")).len(), 1);
        assert_eq!(d.table().entries(), 0);
        assert!(matches!(
            d.decode(&hex("be"), |_, _| {}),
            Err(Error::BadIndex(62))
        ));
        // After a field, or above the limit: refused.
        assert_eq!(d.decode(&hex("88 20"), |_, _| {}), Err(Error::SizeUpdate));
        assert_eq!(d.decode(&hex("3fe2 1f"), |_, _| {}), Err(Error::SizeUpdate));
    }

    #[test]
    fn malformed_blocks_are_errors_not_panics() {
        let mut d = Decoder::default();
        for block in [
            &[0x80][..],
            &[0xff, 0xff],
            &[0x3f],
            &[0x40, 0x05, b'a'],
            &[0x00, 0x01, b'a', 0x85, 0xff],
            &[0x0f],
            &[0x1f, 0x80],
            &[0x01],
            &[0x00],
        ] {
            assert!(d.decode(block, |_, _| {}).is_err(), "{block:?}");
        }
    }
}
