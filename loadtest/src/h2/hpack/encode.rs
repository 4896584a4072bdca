//! HPACK encoding for a request built once (RFC 7541 §6): static-table indices and
//! literals without indexing, never Huffman, so the block never depends on the dynamic
//! table and can be sent unchanged on any connection, any number of times.

use super::table::{static_name, STATIC};

/// Append integer `v` with an `n`-bit prefix whose high bits are `high` (§5.1).
pub fn integer(out: &mut Vec<u8>, high: u8, n: u32, mut v: usize) {
    let mask = (1usize << n) - 1;
    if v < mask {
        out.push(high | v as u8);
        return;
    }
    out.push(high | mask as u8);
    v -= mask;
    while v >= 0x80 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Append a plain (not Huffman) string literal (§5.2).
fn string(out: &mut Vec<u8>, s: &[u8]) {
    integer(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// Append the field `name: value`: a static index when the table has both, else a
/// literal without indexing, its name indexed when the static table has it (§6.2.2).
pub fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    if let Some(i) = STATIC.iter().position(|&(n, v)| n == name && v == value) {
        integer(out, 0x80, 7, i + 1);
        return;
    }
    match static_name(name) {
        Some(i) => integer(out, 0x00, 4, i),
        None => {
            out.push(0x00);
            string(out, name);
        }
    }
    string(out, value);
}

#[cfg(test)]
mod tests {
    use super::super::Decoder;
    use super::*;

    #[test]
    fn fields_decode_back_and_leave_the_table_empty() {
        let mut block = Vec::new();
        field(&mut block, b":method", b"GET");
        field(&mut block, b":path", b"/plaintext?x=1");
        field(&mut block, b":authority", b"127.0.0.1:8080");
        field(&mut block, b"x-long", &[b'v'; 300]);
        assert_eq!(block[0], 0x82);
        let mut d = Decoder::default();
        let mut got = Vec::new();
        d.decode(&block, |n, v| got.push((n.to_vec(), v.to_vec())))
            .unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[1], (b":path".to_vec(), b"/plaintext?x=1".to_vec()));
        assert_eq!(got[3].1.len(), 300);
        // Nothing entered the dynamic table: index 62 is still empty.
        assert!(d.decode(&[0xbe], |_, _| {}).is_err());
    }

    #[test]
    fn integers_of_appendix_c1() {
        let mut out = Vec::new();
        integer(&mut out, 0, 5, 1337);
        assert_eq!(out, [0x1f, 0x9a, 0x0a]);
        out.clear();
        integer(&mut out, 0x80, 7, 10);
        assert_eq!(out, [0x8a]);
    }
}
