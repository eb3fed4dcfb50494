//! `stateless`: verify blocks statelessly, build them with witnesses, and inspect their files.
//!
//! Exit codes: 0 valid or done; 1 the input was checked and rejected (one line on stderr says
//! where and why); 2 usage or I/O error.

/// `println!` for everything a verb prints on stdout: when stdout is closed (`stateless inspect
/// FILE | head`), the program ends quietly ([`output::line`]) instead of panicking.
macro_rules! outln {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

mod bench;
mod commands;
mod demo;
mod evm;
mod farm;
mod history;
mod output;
mod zk;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Stateless transaction verification with witness proofs.
#[derive(Parser)]
#[command(name = "stateless", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate, prove and verify a default workload end to end, print a summary, then show one
    /// cross-model round trip.
    Demo(demo::DemoArgs),
    /// Generate a synthetic workload: a genesis allocation and blocks of signed transfers.
    Gen(commands::GenArgs),
    /// Build blocks with witnesses from a workload, keeping the full state in a database.
    Prove(commands::ProveArgs),
    /// Verify a chain directory statelessly, from its genesis.
    Verify(commands::VerifyArgs),
    /// Print any file of this format as JSON.
    Inspect(commands::InspectArgs),
    /// Measure verification against the signature floor, proving, and witness size.
    Bench(bench::BenchArgs),
    /// Prove facts about the chain's past against a later header, and check such proofs.
    History(history::HistoryArgs),
    /// zk-transfer keys: `stateless zk setup` (local, insecure single-party setup).
    Zk(zk::ZkArgs),
    /// Ethereum blocks: `stateless evm import` (blocks with witnesses made elsewhere).
    Evm(evm::EvmArgs),
    /// Prove zk-transfer jobs of a proving farm (NATS JetStream) until stopped.
    Worker(farm::WorkerArgs),
    /// A proving farm's setup: `stateless farm init` (credentials and server configuration).
    Farm(farm::FarmCommandArgs),
}

/// How a command failed: the input was rejected, or the command could not run.
enum Failure {
    /// The input was checked and is invalid (exit 1).
    Rejected(String),
    /// Usage or I/O error (exit 2).
    Error(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::Error(error)
    }
}

impl From<prover::files::FileError> for Failure {
    fn from(error: prover::files::FileError) -> Self {
        Self::Error(error.into())
    }
}

impl From<prover::files::WorkloadError> for Failure {
    fn from(error: prover::files::WorkloadError) -> Self {
        match error {
            prover::files::WorkloadError::File(error) => error.into(),
            rejected => Self::Rejected(rejected.to_string()),
        }
    }
}

impl From<prover::files::ExportError> for Failure {
    fn from(error: prover::files::ExportError) -> Self {
        Self::Error(error.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::demo(args),
        Command::Gen(args) => commands::gen_workload(args),
        Command::Prove(args) => commands::prove(args),
        Command::Verify(args) => commands::verify(args),
        Command::Inspect(args) => commands::inspect(args),
        Command::Bench(args) => bench::bench(args),
        Command::History(args) => history::history(args),
        Command::Zk(args) => zk::zk(args),
        Command::Evm(args) => evm::evm(args),
        Command::Worker(args) => farm::worker(args),
        Command::Farm(args) => farm::farm(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Rejected(line)) => {
            eprintln!("rejected: {line}");
            ExitCode::from(1)
        }
        Err(Failure::Error(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
