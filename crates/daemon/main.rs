//! `credence`: runtime behavioural anomaly detection for API credentials.
//!
//! This binary is wiring: argument parsing and the I/O edges. The work is in the library crates
//! (`credence-event`, `credence-detect`, `credence-finding`, `credence-state`, `credence-sim`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
// The shared per-event pipeline, under the name the binary's modules use.
use credence_finding::pipeline;

mod config;
mod demo;
mod input;
mod keys;
mod progress;
mod pseudonym;
mod render;
mod replay;
mod run;
mod state;

/// Runtime behavioural anomaly detection for API credentials.
#[derive(Debug, Parser)]
#[command(name = "credence", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stream log files (or stdin) through the engine on event time and write findings.
    Replay(replay::ReplayArgs),
    /// Run the streaming daemon: consume API logs from Kafka, publish findings.
    Run(run::RunArgs),
    /// Check a daemon configuration file (and the environment's overrides) without starting.
    CheckConfig(run::CheckConfigArgs),
    /// Run the built-in simulator through the engine: readable alerts, then recall and precision.
    Demo(demo::DemoArgs),
    /// Write the simulator's labelled stream as OCSF JSON lines.
    Simulate(demo::SimulateArgs),
    /// Look inside saved state (snapshots of `credence replay --state`).
    #[command(subcommand)]
    State(state::StateCommand),
    /// Compute the pseudonym of candidate credential ids under the configured key.
    Pseudonym(pseudonym::PseudonymArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(args) => replay::run(args).map(|_| ()),
        Command::Run(args) => return run::run_command(args),
        Command::CheckConfig(args) => return run::check_config_command(args),
        Command::Demo(args) => demo::run_demo(args).map(|_| ()),
        Command::Simulate(args) => demo::run_simulate(args),
        Command::State(cmd) => state::run(cmd),
        Command::Pseudonym(args) => pseudonym::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
