//! The edge as a handler wrapper: when forwarded headers or allowed hosts are configured,
//! the workers run `Edged<H>` instead of the application's handler, so that requests
//! pass the edge before the handler sees them — on HTTP/1.1 and HTTP/2 alike — and a
//! server without them pays nothing per request (not even a branch in the dispatch).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::StatusCode;

use super::{apply, Edge};
use crate::handler::Handler;
use crate::request::Request;
use crate::response::Response;

/// The application's handler behind the edge.
#[derive(Clone)]
pub(crate) struct Edged<H> {
    pub inner: H,
    pub edge: Arc<Edge>,
}

pin_project_lite::pin_project! {
    /// The handler's future, or the edge's answer (`400` for a host not allowed).
    #[project = EdgedProj]
    pub(crate) enum EdgedFuture<F> {
        Inner { #[pin] fut: F },
        Refused { status: u16 },
    }
}

impl<F: Future<Output = Response>> Future for EdgedFuture<F> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        match self.project() {
            EdgedProj::Inner { fut } => fut.poll(cx),
            EdgedProj::Refused { status } => Poll::Ready(Response::with_status(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            )),
        }
    }
}

impl<H: Handler> Handler for Edged<H> {
    type Future = EdgedFuture<H::Future>;

    fn call(&self, mut req: Request) -> Self::Future {
        match apply(&mut req, &self.edge) {
            Ok(()) => EdgedFuture::Inner {
                fut: self.inner.call(req),
            },
            Err(status) => EdgedFuture::Refused { status },
        }
    }
}
