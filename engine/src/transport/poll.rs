//! Poll-style transports: what HTTP/2 runs over. The `h2` crate wants tokio's
//! `AsyncRead`/`AsyncWrite` and keeps a read pending while it writes, which the
//! owned-buffer [`Transport`](super::Transport) API (one operation at a time, `&mut self`)
//! cannot express. A transport therefore turns into its poll-style twin once a
//! connection is known to speak HTTP/2: kernel sockets through monoio's `poll-io`
//! (readiness plus plain syscalls, on io_uring and epoll alike), TLS as rustls over the
//! socket's twin ([`crate::tls::poll`]), the in-memory pipe directly.

pub(crate) use monoio::io::poll_io::{AsyncRead, AsyncWrite, ReadBuf};

/// A poll-style duplex byte stream.
pub(crate) trait PollIo: AsyncRead + AsyncWrite + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + 'static> PollIo for T {}
