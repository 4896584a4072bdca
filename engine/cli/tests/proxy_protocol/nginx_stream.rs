//! Real nginx's stream module in front of the binary, speaking the PROXY protocol to it
//! (`proxy_protocol on;`): one TCP port relayed to a TCP upstream, one to a unix-socket
//! upstream. Debian builds the module separately (`libnginx-mod-stream`): it is loaded
//! from nginx's modules directory when it is not built in; without it the test skips.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::nginx::Nginx;
use crate::common::{free_port, skip, TempDir};

/// A running nginx with two stream servers.
pub struct NginxStream {
    /// Relays to the TCP upstream.
    pub tcp_port: u16,
    /// Relays to the unix-socket upstream.
    pub unix_port: u16,
    _nginx: Nginx,
}

/// How nginx gets its stream module: built in (`None`), or the `load_module` path.
fn stream_module() -> Option<Option<PathBuf>> {
    let out = Command::new("nginx").arg("-V").output().ok()?;
    let config = String::from_utf8_lossy(&out.stderr).into_owned();
    if config.contains("--with-stream ") || config.ends_with("--with-stream") {
        return Some(None);
    }
    let dir = config
        .split_whitespace()
        .find_map(|a| a.strip_prefix("--modules-path="))
        .unwrap_or("/usr/lib/nginx/modules");
    let so = Path::new(dir).join("ngx_stream_module.so");
    so.exists().then_some(Some(so))
}

impl NginxStream {
    /// nginx relaying with `proxy_protocol on` to `127.0.0.1:upstream` and to the unix
    /// socket `unix_upstream`; `None` (after a skip notice) without nginx or its stream
    /// module.
    pub fn start(upstream: u16, unix_upstream: &Path) -> Option<NginxStream> {
        let Some(module) = stream_module() else {
            skip("nginx or its stream module (libnginx-mod-stream) is not installed");
            return None;
        };
        let load = module
            .map(|so| format!("load_module {};", so.display()))
            .unwrap_or_default();
        let dir = TempDir::new("nginx-stream");
        let (tcp_port, unix_port) = (free_port(), free_port());
        let body = format!(
            "stream {{
    server {{
        listen 127.0.0.1:{tcp_port};
        proxy_pass 127.0.0.1:{upstream};
        proxy_protocol on;
    }}
    server {{
        listen 127.0.0.1:{unix_port};
        proxy_pass unix:{unix};
        proxy_protocol on;
    }}
}}
",
            unix = unix_upstream.display()
        );
        // A connection accepted while waiting for the ports is relayed upstream with a
        // PROXY header and closed.
        let nginx = Nginx::launch(dir, &load, &body, &[tcp_port, unix_port]);
        Some(NginxStream {
            tcp_port,
            unix_port,
            _nginx: nginx,
        })
    }
}
