//! The command-line options the runners share (`techempower`, `latency`): where the
//! server and the generator run (`--server-cpus`, `--load-cpus`, `--no-pin`), where the
//! output goes (`--out`) and which binaries to use (`--server-bin`, `--load-bin`,
//! `--no-build`); and writing a run's outputs.

use std::fs;
use std::path::{Path, PathBuf};

use crate::harness::{self, parse_cpu_list};
use crate::techempower::servers::{self, Rig, Server, ServerSetup};

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
    /// (one thread, peregrine's default backend and backlog), the generator, the CPUs,
    /// and `out` as the output directory.
    pub fn prepare(&self, servers: &[Server], out: PathBuf) -> Result<Rig, String> {
        let pin = self.pinning()?;
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
        Ok(Rig {
            setup,
            load_bin: bins.load,
            server_cpus: pin.server,
            load_cpus: pin.load,
            out,
        })
    }
}

/// Writes `name` in `dir`; returns its path.
pub fn write_output(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> Result<PathBuf, String> {
    let path = dir.join(name);
    fs::write(&path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Writes a run's markdown report and JSON in `dir` and prints where they and the
/// charts (already written there) are.
pub fn finish(
    dir: &Path,
    report: (&str, &str),
    json: (&str, &impl serde::Serialize),
    charts: &[String],
) -> Result<(), String> {
    let md = write_output(dir, report.0, report.1)?;
    let text = serde_json::to_string_pretty(json.1).map_err(|e| e.to_string())?;
    let json = write_output(dir, json.0, text)?;
    println!(
        "report {}\njson   {}\ncharts {}",
        md.display(),
        json.display(),
        charts
            .iter()
            .map(|f| dir.join(f).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
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

    #[test]
    fn outputs() {
        let dir = std::env::temp_dir().join(format!("peregrine-bench-cli-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        finish(&dir, ("r.md", "# hi\n"), ("r.json", &vec![1, 2]), &[]).unwrap();
        assert_eq!(fs::read_to_string(dir.join("r.md")).unwrap(), "# hi\n");
        assert_eq!(
            fs::read_to_string(dir.join("r.json")).unwrap(),
            "[\n  1,\n  2\n]"
        );
        let err = write_output(&dir.join("missing"), "x", "y").unwrap_err();
        assert!(err.starts_with("cannot write "), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
