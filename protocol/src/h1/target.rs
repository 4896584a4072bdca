//! Request-target processing: the path the handler sees, percent-decoded with dot
//! segments removed, never above `/` (RFC 3986 §5.2.4).

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
use super::sse2::Block;
use super::tokens::hex_val;

/// Why a path could not be normalised (answered with 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// `%00`, a control character, or a bad percent escape.
    Invalid,
}

/// Percent-decode `raw_path` (the path part of an origin-form or absolute-form target,
/// no query) and remove dot segments. `%2F` stays a literal `%2F` byte sequence so that
/// decoding never creates new path separators. The result always starts with `/`.
/// Decoded bytes that are not UTF-8 are an error.
pub fn normalize_path(raw_path: &[u8]) -> Result<String, PathError> {
    if is_normal(raw_path) {
        return String::from_utf8(raw_path.to_vec()).map_err(|_| PathError::Invalid);
    }
    let raw = raw_path.strip_prefix(b"/").unwrap_or(raw_path);
    let mut out = Vec::with_capacity(raw_path.len() + 1);
    let mut segment = Vec::new();
    let mut segments = raw.split(|&b| b == b'/').peekable();
    while let Some(raw_segment) = segments.next() {
        let last = segments.peek().is_none();
        decode_segment(raw_segment, &mut segment)?;
        match segment.as_slice() {
            b"." => {
                if last {
                    out.push(b'/');
                }
            }
            b".." => {
                let parent = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(parent);
                if last {
                    out.push(b'/');
                }
            }
            _ => {
                out.push(b'/');
                out.extend_from_slice(&segment);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    String::from_utf8(out).map_err(|_| PathError::Invalid)
}

/// Whether the path `buf[start..start + len]` (validated by the request parser: no
/// control characters) is already normal: rooted, with no `%` to decode and no dot
/// segment to remove (no `/.`). Such a path is what the handler sees as it is; any
/// other goes through [`normalize_path`]. Short paths are checked sixteen bytes at once
/// when `buf` holds that many from `start`.
#[inline]
pub fn is_plain_path_in(buf: &[u8], start: usize, len: usize) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if let (1..=15, Some(block)) = (len, Block::at(buf, start)) {
        let all = (1u32 << len) - 1;
        // A `/` at k followed by a `.` at k + 1, both in the path.
        let slash_dot = block.eq(b'/') & (block.eq(b'.') >> 1) & (all >> 1);
        return block.eq(b'/') & 1 == 1 && block.eq(b'%') & all == 0 && slash_dot == 0;
    }
    let raw = buf
        .get(start..start.saturating_add(len))
        .unwrap_or_default();
    raw.len() == len
        && raw.first() == Some(&b'/')
        && !raw.contains(&b'%')
        && !raw.windows(2).any(|w| w == b"/.")
}

/// Rooted, with nothing to decode, no dot segment to remove (no `/.`) and no control
/// character: the fast path returns such a path as it is.
fn is_normal(raw: &[u8]) -> bool {
    let mut prev = 0u8;
    let mut plain = raw.first() == Some(&b'/');
    for &b in raw {
        plain &= b != b'%' && !is_ctl(b) && !(prev == b'/' && b == b'.');
        prev = b;
    }
    plain
}

/// Percent-decode one segment into `out` (cleared first), leaving `%2F` as is.
fn decode_segment(raw: &[u8], out: &mut Vec<u8>) -> Result<(), PathError> {
    out.clear();
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                raw.get(i + 1).and_then(|&d| hex_val(d)),
                raw.get(i + 2).and_then(|&d| hex_val(d)),
            ) else {
                return Err(PathError::Invalid);
            };
            let decoded = hi << 4 | lo;
            if decoded == b'/' {
                out.extend_from_slice(raw.get(i..i + 3).unwrap_or_default());
            } else if is_ctl(decoded) {
                return Err(PathError::Invalid);
            } else {
                out.push(decoded);
            }
            i += 3;
        } else {
            if is_ctl(b) {
                return Err(PathError::Invalid);
            }
            out.push(b);
            i += 1;
        }
    }
    Ok(())
}

/// NUL, the other control characters and DEL.
fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::testing::strings_over;

    /// The sixteen-byte check against its definition: every path of up to five bytes
    /// over the bytes that matter, at the start of a window and padded out to its edge.
    #[test]
    fn plain_paths_agree_with_the_definition() {
        let paths = strings_over(b"/.%a?", 5);
        let definition = |raw: &[u8]| {
            raw.first() == Some(&b'/')
                && !raw.contains(&b'%')
                && !raw.windows(2).any(|w| w == b"/.")
        };
        for path in &paths {
            for pad in [0, 3, 10] {
                let raw: Vec<u8> = path
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(b'x', pad))
                    .collect();
                // The window's byte after the path is a '.' (or none), to catch a
                // look past the end.
                for tail in [&b"."[..], b" HTTP/1.1\r\n\r\n.......", b""] {
                    let buf = [&b"GET "[..], &raw, tail].concat();
                    assert_eq!(
                        is_plain_path_in(&buf, 4, raw.len()),
                        definition(&raw),
                        "{:?}",
                        String::from_utf8_lossy(&buf)
                    );
                }
            }
        }
    }

    fn norm(p: &str) -> Result<String, PathError> {
        normalize_path(p.as_bytes())
    }

    #[test]
    fn fast_path_unchanged() {
        assert_eq!(norm("/").unwrap(), "/");
        assert_eq!(norm("/plaintext").unwrap(), "/plaintext");
        assert_eq!(norm("/a/b/c.txt").unwrap(), "/a/b/c.txt");
        assert_eq!(norm("/a//b/").unwrap(), "/a//b/");
        assert_eq!(norm("/a..b/c.").unwrap(), "/a..b/c.");
    }

    #[test]
    fn dot_segments() {
        assert_eq!(norm("/a/b/../c").unwrap(), "/a/c");
        assert_eq!(norm("/a/./b").unwrap(), "/a/b");
        assert_eq!(norm("/a/b/..").unwrap(), "/a/");
        assert_eq!(norm("/a/.").unwrap(), "/a/");
        assert_eq!(norm("/.").unwrap(), "/");
        assert_eq!(norm("/..").unwrap(), "/");
        assert_eq!(norm("/../../etc/passwd").unwrap(), "/etc/passwd");
        assert_eq!(norm("/a/../../b").unwrap(), "/b");
        assert_eq!(norm("/a//../b").unwrap(), "/a/b");
        assert_eq!(norm("/.hidden").unwrap(), "/.hidden");
        assert_eq!(norm("/a/...").unwrap(), "/a/...");
        assert_eq!(norm("/a/..b/../c").unwrap(), "/a/c");
    }

    #[test]
    fn encoded_dots_are_dot_segments() {
        assert_eq!(norm("/a/%2e%2E/b").unwrap(), "/b");
        assert_eq!(norm("/%2e/x").unwrap(), "/x");
        assert_eq!(norm("/a/.%2e").unwrap(), "/");
        assert_eq!(norm("/%2E%2E/%2e%2e/etc").unwrap(), "/etc");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(norm("/a%20b").unwrap(), "/a b");
        assert_eq!(norm("/caf%C3%A9").unwrap(), "/caf\u{e9}");
        assert_eq!(norm("/%41%62").unwrap(), "/Ab");
    }

    #[test]
    fn encoded_slash_stays_encoded() {
        assert_eq!(norm("/a%2Fb").unwrap(), "/a%2Fb");
        assert_eq!(norm("/a%2fb").unwrap(), "/a%2fb");
        assert_eq!(norm("/a/..%2F..%2Fetc").unwrap(), "/a/..%2F..%2Fetc");
        assert_eq!(norm("/x/%2e%2e%2fy").unwrap(), "/x/..%2fy");
    }

    #[test]
    fn invalid() {
        for p in [
            "/%00", "/a%00b", "/%zz", "/%4", "/%", "/%0a", "/%7F", "/%1f", "/a\x01", "/%C3", "/%FF",
        ] {
            assert_eq!(norm(p), Err(PathError::Invalid), "{p:?}");
        }
        assert_eq!(normalize_path(b"/\xff"), Err(PathError::Invalid));
        assert_eq!(normalize_path(b"/a\x00"), Err(PathError::Invalid));
    }

    #[test]
    fn always_rooted() {
        assert_eq!(norm("").unwrap(), "/");
        assert_eq!(norm("a/b").unwrap(), "/a/b");
        assert_eq!(norm("../a").unwrap(), "/a");
    }
}
