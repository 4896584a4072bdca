//! The command-line options the runners share (`techempower`, `latency`): where the
//! server and the generator run (`--server-cpus`, `--load-cpus`, `--no-pin`), where the
//! output goes (`--out`) and which binaries to use (`--server-bin`, `--load-bin`,
//! `--no-build`).

use std::path::PathBuf;

use crate::harness::{self, parse_cpu_list};
use crate::techempower::servers::{self, Server, ServerSetup};

/// Where the server and the generator run: `None` leaves a side unpinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinning {
    pub server: Option<Vec<usize>>,
    pub load: Option<Vec<usize>>,
}

/// Placement, output and binaries (flattened into each runner's options).
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// CPUs of the server.
    #[arg(long, default_value = "0")]
    pub server_cpus: String,
    /// CPUs of peregrine-load.
    #[arg(long, default_value = "1")]
    pub load_cpus: String,
    /// Pin nothing.
    #[arg(long)]
    pub no_pin: bool,
    /// Output directory (default bench/out).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The peregrine binary (default: target/release/peregrine, built first).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// The peregrine-load binary (default: target/release/peregrine-load, built first).
    #[arg(long)]
    pub load_bin: Option<PathBuf>,
    /// Build nothing: use the binaries as they are.
    #[arg(long)]
    pub no_build: bool,
}

impl Common {
    /// The server's and the generator's CPUs; neither with `--no-pin`.
    pub fn pinning(&self) -> Result<Pinning, String> {
        if self.no_pin {
            return Ok(Pinning {
                server: None,
                load: None,
            });
        }
        Ok(Pinning {
            server: Some(parse_cpu_list(&self.server_cpus)?),
            load: Some(parse_cpu_list(&self.load_cpus)?),
        })
    }

    /// `--out`, else `bench/out` of the workspace.
    pub fn out(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| harness::workspace_root().join("bench").join("out"))
    }

    /// Everything `servers` need, built first unless `--no-build` (peregrine,
    /// peregrine-load, the peers among them; nginx installed when missing): their setup
    /// (one thread, peregrine's default backend and backlog) and the generator.
    pub fn prepare(&self, servers: &[Server]) -> Result<(ServerSetup, PathBuf), String> {
        let bins = harness::locate_binaries(
            self.server_bin.clone(),
            self.load_bin.clone(),
            !self.no_build,
        )?;
        let peers_dir = servers::peers_dir();
        if !self.no_build {
            servers::build_peers(&peers_dir, servers)?;
        }
        let nginx = if servers.contains(&Server::Nginx) {
            Some(harness::ensure_tool("nginx", "nginx")?)
        } else {
            None
        };
        let setup = ServerSetup {
            peregrine: bins.server,
            peregrine_backend: None,
            peers_dir,
            nginx,
            threads: 1,
            backlog: None,
        };
        Ok((setup, bins.load))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        common: Common,
    }

    #[test]
    fn defaults_and_no_pin() {
        let a = Args::try_parse_from(["x"]).unwrap().common;
        let pin = a.pinning().unwrap();
        assert_eq!((pin.server, pin.load), (Some(vec![0]), Some(vec![1])));
        assert!(a.out().ends_with("bench/out"));
        let a = Args::try_parse_from(["x", "--server-cpus", "2-3", "--out", "/tmp/o"])
            .unwrap()
            .common;
        assert_eq!(a.pinning().unwrap().server, Some(vec![2, 3]));
        assert_eq!(a.out(), PathBuf::from("/tmp/o"));
        let a = Args::try_parse_from(["x", "--no-pin"]).unwrap().common;
        let pin = a.pinning().unwrap();
        assert_eq!((pin.server, pin.load), (None, None));
    }
}
