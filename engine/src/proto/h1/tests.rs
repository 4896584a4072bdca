//! In-memory connection tests (filled below).
