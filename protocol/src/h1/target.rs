//! Request-target processing: the path the handler sees, percent-decoded with dot
//! segments removed, never above `/` (RFC 3986 §5.2.4).

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
    let _ = raw_path;
    todo!("implemented in the protocol work")
}
