//! The application seam: an async function from [`Request`] to [`Response`].

use std::future::Future;

use crate::request::Request;
use crate::response::Response;

/// An HTTP handler. Cloned once per worker; the futures it returns run on that worker
/// and need not be `Send`.
pub trait Handler: Clone + Send + 'static {
    /// The future producing the response.
    type Future: Future<Output = Response> + 'static;

    /// Handle one request.
    fn call(&self, req: Request) -> Self::Future;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Response> + 'static,
{
    type Future = Fut;

    #[inline]
    fn call(&self, req: Request) -> Fut {
        self(req)
    }
}
