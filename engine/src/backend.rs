//! Choosing the I/O backend once, at start: io_uring (monoio's uring driver) or epoll
//! (monoio's legacy driver). The choice, its resolution and the io_uring probe live in
//! `peregrine-runtime` (shared with the load generator); they are re-exported here, at
//! the paths the engine has always had.

pub use peregrine_runtime::{resolve, Backend, BackendChoice, RING_ENTRIES};
