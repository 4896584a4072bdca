//! Certificates replaced while the server runs (Kestrel reloads from configuration;
//! nginx needs `reload`): on SIGHUP, on request (`Running::reload_certificates`), and
//! when a certificate or key file changes on disk. Files are polled once a second by
//! modification time and size — no inotify dependency, and a file replaced by a rename or
//! a symlink swap (certbot's way) is seen too. New handshakes use the new certificates;
//! open connections keep theirs; a broken new file keeps the old certificates and logs
//! why.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::config::Reloadable;
use crate::signal::Trigger;

/// How often the files are looked at.
const POLL: Duration = Duration::from_secs(1);

/// Asks the watcher thread for a reload, or reloads at once.
#[derive(Debug, Clone)]
pub(crate) struct ReloadHandle {
    certificates: Arc<Reloadable>,
    requested: Arc<AtomicBool>,
}

impl ReloadHandle {
    /// Reload on the watcher's next look (from a signal handler's thread: no I/O here).
    pub fn request(&self) {
        self.requested.store(true, Ordering::Relaxed);
    }

    /// Reload now; `Err` says why the old certificates stay.
    pub fn reload_now(&self) -> Result<(), String> {
        self.certificates.reload()
    }
}

/// What a file looked like: modified time and length (`None`: could not be read).
pub(crate) type Stamp = Option<(SystemTime, u64)>;

/// The stamps of `files`, in order.
pub(crate) fn stamps(files: &[PathBuf]) -> Vec<Stamp> {
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

/// Start the watcher thread; it ends when `stop` fires.
pub(crate) fn start(certificates: Arc<Reloadable>, stop: Trigger) -> std::io::Result<ReloadHandle> {
    let handle = ReloadHandle {
        certificates: certificates.clone(),
        requested: Arc::new(AtomicBool::new(false)),
    };
    let requested = handle.requested.clone();
    let files = certificates.files();
    // The files as they were when they were loaded (not when this thread first looks):
    // a file replaced after loading but before the watcher started is seen as changed.
    let mut seen = certificates.loaded_stamps();
    std::thread::Builder::new()
        .name("peregrine-tls-reload".into())
        .spawn(move || {
            while !stop.wait_blocking(Some(POLL)) {
                let now = stamps(&files);
                let asked = requested.swap(false, Ordering::Relaxed);
                if now == seen && !asked {
                    continue;
                }
                seen = now;
                match certificates.reload() {
                    Ok(()) => tracing::info!("TLS certificates reloaded"),
                    Err(e) => {
                        tracing::error!("TLS certificates not reloaded; the old ones stay: {e}")
                    }
                }
            }
        })?;
    Ok(handle)
}
