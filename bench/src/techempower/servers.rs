//! The servers a TechEmpower-style run can measure: `peregrine` (the sample app of the
//! engine) and, with `--peers`, hyper, actix-web and may_minihttp (built from the separate
//! `bench/peers/` workspace) and nginx (`return 200`, configuration generated here).

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{self, target_dir, Process};

/// One server implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Server {
    Peregrine,
    Hyper,
    Actix,
    MayMinihttp,
    Nginx,
}

/// Everything `--peers` adds.
pub const PEERS: [Server; 4] = [
    Server::Hyper,
    Server::Actix,
    Server::MayMinihttp,
    Server::Nginx,
];

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Peregrine => "peregrine",
            Server::Hyper => "hyper",
            Server::Actix => "actix-web",
            Server::MayMinihttp => "may-minihttp",
            Server::Nginx => "nginx",
        }
    }

    pub fn parse(s: &str) -> Result<Server, String> {
        Ok(match s.trim() {
            "peregrine" => Server::Peregrine,
            "hyper" => Server::Hyper,
            "actix" | "actix-web" => Server::Actix,
            "may" | "may-minihttp" | "may_minihttp" => Server::MayMinihttp,
            "nginx" => Server::Nginx,
            other => {
                return Err(format!(
                    "unknown server `{other}` (peregrine, hyper, actix-web, may-minihttp, nginx)"
                ))
            }
        })
    }

    /// The binary of a peer built in `bench/peers/`.
    pub fn peer_binary(self) -> Option<&'static str> {
        match self {
            Server::Hyper => Some("peer-hyper"),
            Server::Actix => Some("peer-actix"),
            Server::MayMinihttp => Some("peer-may"),
            Server::Peregrine | Server::Nginx => None,
        }
    }

    /// What it is, for the report.
    pub fn description(self) -> &'static str {
        match self {
            Server::Peregrine => "the engine's sample app (target/release/peregrine)",
            Server::Hyper => {
                "hyper 1 + tokio: a current_thread runtime per thread, SO_REUSEPORT listeners"
            }
            Server::Actix => "actix-web 4, one worker per thread",
            Server::MayMinihttp => "may_minihttp (coroutines), one may worker per thread",
            Server::Nginx => "nginx `return 200` (static strings, reference only)",
        }
    }
}

/// Where the servers come from.
#[derive(Debug, Clone)]
pub struct ServerSetup {
    pub peregrine: PathBuf,
    /// `--backend` for peregrine, if any.
    pub peregrine_backend: Option<String>,
    /// `bench/peers/` (its `target/release/` holds the peers).
    pub peers_dir: PathBuf,
    pub nginx: Option<PathBuf>,
    pub threads: u32,
    /// Listen backlog where the server has a knob (peregrine's `--backlog`, nginx's
    /// `listen … backlog=`); `None` leaves peregrine's default and nginx at 4096. The
    /// kernel caps it at `net.core.somaxconn`.
    pub backlog: Option<u32>,
}

/// Where a runner's processes come from and run: the servers' setup, the generator, the
/// CPUs of each side (`None`: not pinned) and the output directory.
#[derive(Debug, Clone)]
pub struct Rig {
    pub setup: ServerSetup,
    pub load_bin: PathBuf,
    pub server_cpus: Option<Vec<usize>>,
    pub load_cpus: Option<Vec<usize>>,
    pub out: PathBuf,
}

/// The `bench/peers/` workspace of this checkout.
pub fn peers_dir() -> PathBuf {
    harness::workspace_root().join("bench").join("peers")
}

/// Builds the peers among `servers` in release (several minutes the first time); nothing
/// when there are none.
pub fn build_peers(dir: &Path, servers: &[Server]) -> Result<(), String> {
    let names: Vec<&str> = servers.iter().filter_map(|s| s.peer_binary()).collect();
    if names.is_empty() {
        return Ok(());
    }
    eprintln!(
        "building the peers ({}) in release: this takes several minutes the first time",
        names.join(", ")
    );
    harness::cargo_build_release(dir, &names)
}

/// Starts `server` on a free port of 127.0.0.1, pinned to `cpus`, its output in `log`
/// (its files under `work`), and waits until it answers `GET path`; returns the process,
/// its address and how long it took to answer.
pub fn start(
    server: Server,
    setup: &ServerSetup,
    cpus: Option<&[usize]>,
    work: &Path,
    log: &Path,
    path: &str,
) -> Result<(Process, SocketAddr, Duration), String> {
    let port = harness::free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut cmd = command(server, setup, port, work)?;
    if let Some(cpus) = cpus {
        harness::pin_command(&mut cmd, cpus)?;
    }
    let mut process = Process::spawn(server.name(), &mut cmd, Some(log))?;
    let started = harness::wait_until_answers(&mut process, addr, path, Duration::from_secs(30))?;
    Ok((process, addr, started))
}

/// The command that starts `server` on 127.0.0.1:`port`; `work` is a directory for its
/// files (nginx configuration).
pub fn command(
    server: Server,
    setup: &ServerSetup,
    port: u16,
    work: &Path,
) -> Result<Command, String> {
    let threads = setup.threads.max(1).to_string();
    match server {
        Server::Peregrine => {
            let mut cmd = Command::new(&setup.peregrine);
            cmd.args(["--urls", &format!("http://127.0.0.1:{port}")])
                .args(["--threads", &threads]);
            if let Some(b) = &setup.peregrine_backend {
                cmd.args(["--backend", b]);
            }
            if let Some(b) = setup.backlog {
                cmd.args(["--backlog", &b.to_string()]);
            }
            Ok(cmd)
        }
        Server::Hyper | Server::Actix | Server::MayMinihttp => {
            let name = server.peer_binary().unwrap_or_default();
            let bin = target_dir(&setup.peers_dir).join("release").join(name);
            if !bin.is_file() {
                return Err(format!(
                    "{} is missing: build the peers (cargo build --release --manifest-path {}/Cargo.toml)",
                    bin.display(),
                    setup.peers_dir.display()
                ));
            }
            let mut cmd = Command::new(bin);
            cmd.args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--threads", &threads]);
            Ok(cmd)
        }
        Server::Nginx => {
            let nginx = setup
                .nginx
                .clone()
                .ok_or("nginx is not installed (apt-get install nginx)")?;
            let dir = work.join("nginx");
            fs::create_dir_all(dir.join("tmp"))
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let conf = dir.join("nginx.conf");
            let backlog = setup.backlog.unwrap_or(4096);
            fs::write(&conf, nginx_config(&dir, port, setup.threads, backlog))
                .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
            let mut cmd = Command::new(nginx);
            cmd.arg("-p")
                .arg(&dir)
                .arg("-e")
                .arg(dir.join("error.log"))
                .arg("-c")
                .arg(&conf);
            Ok(cmd)
        }
    }
}

/// An nginx configuration answering the two test types with `return 200`, in the
/// foreground, logging nothing per request, keeping connections for ever.
pub fn nginx_config(dir: &Path, port: u16, workers: u32, backlog: u32) -> String {
    let d = dir.display();
    format!(
        r#"# Generated by peregrine-bench techempower: nginx as a reference point.
daemon off;
master_process on;
worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
worker_rlimit_nofile 65536;
events {{
    worker_connections 16384;
}}
http {{
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port} reuseport backlog={backlog};
        location = /plaintext {{
            default_type text/plain;
            return 200 "Hello, World!";
        }}
        location = /json {{
            default_type application/json;
            return 200 '{{"message":"Hello, World!"}}';
        }}
    }}
}}
"#,
        workers = workers.max(1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [Server::Peregrine].into_iter().chain(PEERS) {
            assert_eq!(Server::parse(s.name()), Ok(s));
        }
        assert!(Server::parse("apache").is_err());
    }

    #[test]
    fn nginx_config_answers_both_tests() {
        let c = nginx_config(Path::new("/tmp/x"), 8080, 2, 4096);
        assert!(c.contains("listen 127.0.0.1:8080 reuseport backlog=4096;"));
        assert!(c.contains("worker_processes 2;"));
        assert!(c.contains(r#"return 200 "Hello, World!";"#));
        assert!(c.contains(r#"return 200 '{"message":"Hello, World!"}';"#));
        assert_eq!(c.matches('{').count(), c.matches('}').count());
    }
}
