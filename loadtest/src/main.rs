//! The `peregrine-load` command: parse options, run, print the table, write `--json`
//! and `--plot`. Exit status: 0 when something was measured (error counts are in the
//! report), 1 when the run could not take place or no response at all came back,
//! 2 for invalid options.

use clap::Parser;
use peregrine_load::args::Args;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = args.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let report = match peregrine_load::run(&args, peregrine_load::progress_wanted(&args)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    print!("{}", report.table());
    let mut ok = true;
    if let Some(path) = &args.json {
        if let Err(e) = std::fs::write(path, report.to_json() + "\n") {
            eprintln!("error: cannot write {}: {e}", path.display());
            ok = false;
        }
    }
    if let Some(path) = &args.plot {
        match peregrine_load::plot::svg(&report) {
            Ok(svg) => {
                if let Err(e) = std::fs::write(path, svg) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    ok = false;
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ok = false;
            }
        }
    }
    if report.responses == 0 {
        let (answers, asked) = match report.websocket {
            Some(_) => ("echo", "messages"),
            None => ("response", "requests"),
        };
        eprintln!(
            "error: no {answers} was received from {} ({} {asked} failed)",
            report.setup.target, report.errors.failed_requests
        );
        if let Some(problem) = report.tls_problem() {
            eprintln!("error: {problem}");
        }
        if let Some(why) = &report.h2_failure {
            eprintln!("error: {why}");
        }
        if let Some(why) = report.websocket.as_ref().and_then(|w| w.failure.as_ref()) {
            eprintln!("error: {why}");
        }
        return ExitCode::from(1);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
