//! `latency`: the open-loop latency matrix of issue 15 — peregrine (io_uring and epoll),
//! hyper and nginx at 50 % and 80 % of the lowest maximum throughput, 1,000 and 10,000
//! connections, coordinated-omission corrected (`peregrine-load --rate`), three repeats.
//! Writes `results.md`, `results.json` and a latency-by-percentile SVG per cell under
//! `bench/out/latency-<UTC time>/`. See bench/README.md; `bench/latency.sh` builds and
//! runs it.

use std::process::ExitCode;

use clap::Parser;
use peregrine_bench::cli::{self, Common};
use peregrine_bench::harness::{self, parse_duration};
use peregrine_bench::latency::{self, chart, report, Config, Entry};

/// Open-loop latency of peregrine (both backends) against hyper and nginx.
#[derive(Parser, Debug)]
#[command(name = "latency", version)]
struct Args {
    /// Servers, comma separated: peregrine (both backends), peregrine-io-uring,
    /// peregrine-epoll, hyper, nginx, nginx-control (nginx again, held to the bar
    /// outside the verdict: the bar's failure rate for a copy of a reference).
    #[arg(long, default_value = "peregrine,hyper,nginx,nginx-control")]
    servers: String,
    /// Repeats of the whole matrix (maxima included).
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Connection counts of the open-loop runs.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    connections: Vec<u32>,
    /// Offered rates, in percent of the lowest maximum of the repeat.
    #[arg(long, value_delimiter = ',', default_value = "50,80")]
    levels: Vec<f64>,
    /// Measured part of each open-loop run.
    #[arg(long, default_value = "10s")]
    duration: String,
    /// Warm-up of every run (connections opened, requests not counted).
    #[arg(long, default_value = "2s")]
    warmup: String,
    /// Measured part of each maximum-throughput run (closed loop).
    #[arg(long, default_value = "5s")]
    max_duration: String,
    /// Connections of the maximum-throughput runs.
    #[arg(long, default_value_t = 1000)]
    max_connections: u32,
    /// A request unanswered this long counts as a timeout.
    #[arg(long, default_value = "10s")]
    timeout: String,
    /// Listen backlog asked of peregrine (--backlog) and nginx (backlog=); hyper's is
    /// fixed at 4096; the kernel caps all at net.core.somaxconn.
    #[arg(long, default_value_t = 65535)]
    backlog: u32,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("latency: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<bool, String> {
    let entries = Entry::parse_list(&args.servers)?;
    if args.repeat == 0 || args.connections.is_empty() || args.levels.is_empty() {
        return Err("--repeat, --connections and --levels must not be empty".into());
    }
    if let Some(l) = args.levels.iter().find(|l| !(**l > 0.0 && **l <= 100.0)) {
        return Err(format!("--levels: {l} is not a percentage in (0, 100]"));
    }
    let out = latency::out_dir(&args.common.out(), &harness::utc_now());
    let servers: Vec<_> = entries.iter().map(|e| e.server()).collect();
    let mut rig = args.common.prepare(&servers, out)?;
    rig.setup.backlog = Some(args.backlog);
    let config = Config {
        entries,
        repeats: args.repeat,
        connections: args.connections,
        levels: args.levels.iter().map(|l| l / 100.0).collect(),
        duration: parse_duration(&args.duration)?,
        warmup: parse_duration(&args.warmup)?,
        max_duration: parse_duration(&args.max_duration)?,
        max_connections: args.max_connections.max(1),
        timeout: parse_duration(&args.timeout)?,
        rig,
    };
    let limit = harness::raise_open_files_limit();
    let most = config.connections.iter().copied().max().unwrap_or(0) as u64;
    if limit > 0 && most + 64 > limit {
        eprintln!("warning: the open-files limit ({limit}) is low for {most} connections");
    }
    println!(
        "latency: {} × {} repeat(s), connections {:?}, levels {}: about {:.0} s of \
         measuring; output in {}",
        config
            .entries
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(", "),
        config.repeats,
        config.connections,
        config
            .levels
            .iter()
            .map(|l| report::percent(*l))
            .collect::<Vec<_>>()
            .join(", "),
        config.estimate().as_secs_f64(),
        config.rig.out.display()
    );
    let run = latency::run(&config)?;
    let mut charts = Vec::new();
    for &c in &run.connections {
        for &l in &run.levels {
            let file = chart::file_name(c, l);
            cli::write_output(&config.rig.out, &file, chart::svg(&run, c, l)?)?;
            charts.push(((c, l), file));
        }
    }
    let md = report::markdown(&run, &charts);
    let comparisons = report::comparisons(&run);
    println!("\n{md}");
    let json = serde_json::json!({ "run": run, "comparisons": comparisons });
    let files: Vec<String> = charts.into_iter().map(|(_, f)| f).collect();
    cli::finish(
        &config.rig.out,
        ("results.md", &md),
        ("results.json", &json),
        &files,
    )?;
    Ok(report::verdict(&run, &comparisons))
}
