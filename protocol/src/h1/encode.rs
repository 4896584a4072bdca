//! Response encoding: status line, header lines, Content-Length, chunked framing.
//! Appends to a caller-owned [`BytesMut`]; never allocates beyond growing it.

use super::Version;
use bytes::BytesMut;

/// The terminating chunk plus the empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The canonical reason phrase for `status` (RFC 9110 §15), or `""` if unknown.
pub fn reason_phrase(status: u16) -> &'static str {
    let _ = status;
    todo!("implemented in the protocol work")
}

/// Append `HTTP/1.1 200 OK\r\n` (the status line; the version is always `HTTP/1.1`
/// for HTTP/1.x servers per RFC 9110 §6.2, `version` is accepted for clients that
/// need `HTTP/1.0`). Common statuses use precomputed lines.
pub fn write_status_line(dst: &mut BytesMut, version: Version, status: u16) {
    let _ = (dst, version, status);
    todo!("implemented in the protocol work")
}

/// Append `name: value\r\n`.
pub fn write_header(dst: &mut BytesMut, name: &[u8], value: &[u8]) {
    let _ = (dst, name, value);
    todo!("implemented in the protocol work")
}

/// Append `Content-Length: n\r\n`.
pub fn write_content_length(dst: &mut BytesMut, len: u64) {
    let _ = (dst, len);
    todo!("implemented in the protocol work")
}

/// Append a chunk-size line (`{len:x}\r\n`) for a data chunk of `len` bytes (`len > 0`).
pub fn write_chunk_header(dst: &mut BytesMut, len: usize) {
    let _ = (dst, len);
    todo!("implemented in the protocol work")
}

/// Append one whole chunk: size line, data, CRLF. Empty `data` appends nothing.
pub fn write_chunk(dst: &mut BytesMut, data: &[u8]) {
    let _ = (dst, data);
    todo!("implemented in the protocol work")
}
