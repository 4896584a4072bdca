//! `techempower`: a TechEmpower-style run (plaintext pipelined 16 deep at 256, 1024 and
//! 4096 connections; json at 16 … 512 connections) against `peregrine`, and with
//! `--peers` against hyper, actix-web, may_minihttp and nginx too. Writes a markdown
//! report, an SVG bar chart per test type and JSON under `bench/out/`.
//!
//! `cargo run --release -p peregrine-bench --bin techempower -- [--peers]`

use std::process::ExitCode;

use clap::Parser;
use peregrine_bench::check::TestType;
use peregrine_bench::cli::{self, Common};
use peregrine_bench::harness::{self, parse_duration};
use peregrine_bench::techempower::{
    self, chart, report, Config, Server, JSON_CONNECTIONS, PEERS, PLAINTEXT_CONNECTIONS,
};

/// TechEmpower-style plaintext and json runs against peregrine (and peers).
#[derive(Parser, Debug)]
#[command(name = "techempower", version)]
struct Args {
    /// Also run hyper, actix-web, may_minihttp (built from bench/peers/, which takes
    /// minutes the first time) and nginx (installed with apt-get when missing).
    #[arg(long)]
    peers: bool,
    /// Exactly these servers, comma separated: peregrine, hyper, actix-web, may-minihttp, nginx.
    #[arg(long, value_delimiter = ',')]
    servers: Vec<String>,
    /// Test types, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "plaintext,json")]
    tests: Vec<String>,
    /// Measured time per connection level.
    #[arg(long, default_value = "5s")]
    duration: String,
    /// Warm-up before each level (not measured).
    #[arg(long, default_value = "1s")]
    warmup: String,
    /// Connection levels of the plaintext test.
    #[arg(long, value_delimiter = ',')]
    plaintext_connections: Vec<u32>,
    /// Connection levels of the json test.
    #[arg(long, value_delimiter = ',')]
    json_connections: Vec<u32>,
    /// Pipelining depth of the plaintext test.
    #[arg(long, default_value_t = 16)]
    pipeline: u32,
    /// Server threads (workers, processes).
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// peregrine-load threads.
    #[arg(long, default_value_t = 1)]
    load_threads: u32,
    /// peregrine's I/O backend (auto, io-uring, epoll).
    #[arg(long)]
    backend: Option<String>,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("techempower: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<bool, String> {
    let mut servers: Vec<Server> = if args.servers.is_empty() {
        vec![Server::Peregrine]
    } else {
        args.servers
            .iter()
            .map(|s| Server::parse(s))
            .collect::<Result<_, _>>()?
    };
    if args.peers {
        for p in PEERS {
            if !servers.contains(&p) {
                servers.push(p);
            }
        }
    }
    let tests: Vec<TestType> = args
        .tests
        .iter()
        .map(|t| TestType::parse(t))
        .collect::<Result<_, _>>()?;
    let or = |v: Vec<u32>, d: &[u32]| if v.is_empty() { d.to_vec() } else { v };
    let mut rig = args.common.prepare(&servers, args.common.out())?;
    rig.setup.peregrine_backend = args.backend;
    rig.setup.threads = args.threads.max(1);
    let limit = harness::raise_open_files_limit();
    let config = Config {
        servers,
        tests,
        plaintext_connections: or(args.plaintext_connections, &PLAINTEXT_CONNECTIONS),
        json_connections: or(args.json_connections, &JSON_CONNECTIONS),
        pipeline: args.pipeline.max(1),
        duration: parse_duration(&args.duration)?,
        warmup: parse_duration(&args.warmup)?,
        load_threads: args.load_threads.max(1),
        rig,
    };
    let most = config
        .plaintext_connections
        .iter()
        .max()
        .copied()
        .unwrap_or(0) as u64;
    if limit > 0 && most * 2 + 64 > limit {
        eprintln!("warning: the open-files limit ({limit}) is low for {most} connections");
    }
    println!(
        "TechEmpower-style run: {} × {} levels, {} warm-up + {} each: about {:.0} s",
        config
            .servers
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", "),
        config
            .tests
            .iter()
            .map(|t| config.levels(*t).len())
            .sum::<usize>(),
        report::secs(config.warmup.as_secs_f64()),
        report::secs(config.duration.as_secs_f64()),
        config.estimate().as_secs_f64()
    );
    let run = techempower::run(&config)?;
    let mut charts = Vec::new();
    for &test in &run.tests {
        let file = format!("techempower-{}.svg", test.name());
        cli::write_output(&config.rig.out, &file, chart::svg(&run, test)?)?;
        charts.push((test, file));
    }
    let md = report::markdown(&run, &charts);
    println!();
    for &test in &run.tests {
        println!("{}:\n{}", test.name(), report::table(&run, test));
    }
    let files: Vec<String> = charts.into_iter().map(|(_, f)| f).collect();
    cli::finish(
        &config.rig.out,
        ("techempower.md", &md),
        ("techempower.json", &run),
        &files,
    )?;
    let clean = run.clean();
    if !clean {
        println!("some checks failed or some levels had errors: see the report");
    }
    Ok(clean)
}
