//! The `peregrine` binary: serves the sample application (see `app.rs`) on the configured
//! URL prefixes and prints the bound addresses the way Kestrel's host does.

mod app;
mod cli;
mod edge_flags;
mod http2_flags;
mod tls_flags;
mod websocket_flags;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use peregrine::Server;
use tracing_subscriber::EnvFilter;

/// mimalloc, without transparent huge pages: cheaper allocations than glibc's when many
/// connections come and go (glibc's small per-thread cache misses), and memory that is
/// given back after a burst (see ARCHITECTURE.md, memory). The library leaves the
/// allocator to its embedder.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let file = match cli::load_file(&args) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    let filter =
        EnvFilter::try_new(cli::log_level(&args, &file)).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let options = match cli::options(&args, file) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let server = match Server::bind(options) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let addresses = server.addresses().to_vec();
    let running = match server.start(app::handle) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    let mut out = std::io::stdout().lock();
    for a in &addresses {
        let _ = writeln!(out, "Now listening on: {a}");
    }
    let _ = writeln!(out, "Application started. Press Ctrl+C to shut down.");
    let _ = out.flush();
    drop(out);
    running.wait();
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
