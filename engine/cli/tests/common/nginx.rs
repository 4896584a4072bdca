//! Real nginx in front of the binary, as deployments run it: a config written into a
//! temporary directory (every path nginx writes to inside it), one process
//! (`master_process off`), stopped when dropped. `proxy_pass` to a TCP port, HTTP/1.1
//! upstream keepalive, and WebSocket pass-through (`Upgrade`/`Connection` forwarded,
//! an empty `Connection` otherwise so upstream connections are reused).

#![allow(dead_code)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, skip, TempDir};

/// A running nginx.
pub struct Nginx {
    pub port: u16,
    child: Child,
    dir: TempDir,
}

impl Nginx {
    /// nginx listening on a free port, proxying to `127.0.0.1:upstream`; `None` (after a
    /// skip notice) when nginx is not installed.
    pub fn start(upstream: u16) -> Option<Nginx> {
        Nginx::run(|port| {
            format!(
                "    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    upstream peregrine {{ server 127.0.0.1:{upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://peregrine;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 60s;
        }}
    }}
"
            )
        })
    }

    /// nginx with the site configuration `site(port)` (the body of its `http {}`
    /// block, listening on `port`); `None` (after a skip notice) without nginx.
    pub fn run(site: impl FnOnce(u16) -> String) -> Option<Nginx> {
        if Command::new("nginx")
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            skip("nginx is not installed");
            return None;
        }
        let dir = TempDir::new("nginx");
        let port = free_port();
        let d = dir.path().display();
        let body = format!(
            "http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{site}
}}
",
            site = site(port)
        );
        Some(Nginx::launch(dir, "", &body, &[port]))
    }

    /// Start nginx in `dir` with `preamble` (e.g. `load_module`), the settings every test
    /// needs (one process, paths inside `dir`) and `body` (its `http {}` or `stream {}`
    /// block), and wait (bounded) until every one of `ports` accepts; `port` is the
    /// first.
    pub fn launch(dir: TempDir, preamble: &str, body: &str, ports: &[u16]) -> Nginx {
        let d = dir.path().display();
        let conf = format!(
            "{preamble}
worker_processes 1;
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
{body}"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).expect("write nginx.conf");
        let child = Command::new("nginx")
            .args([
                "-c",
                &path.display().to_string(),
                "-e",
                &format!("{d}/error.log"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx");
        let nginx = Nginx {
            port: ports.first().copied().unwrap_or_default(),
            child,
            dir,
        };
        // nginx prints nothing when ready: wait (bounded) until it accepts.
        let deadline = Instant::now() + Duration::from_secs(10);
        for &port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "nginx did not start: {}",
                    std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        nginx
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
