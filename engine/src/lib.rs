//! Peregrine: a thread-per-core HTTP/1.1 server engine.
#![deny(missing_docs)]
