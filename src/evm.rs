//! `stateless evm import`: Ethereum blocks with witnesses made elsewhere, as a chain directory
//! that `stateless verify` checks (`prover::evm_import` has the input format).

use std::path::PathBuf;

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use prover::ef_test::{TestOutcome, run_paths};
use prover::evm_import::{ImportError, read_import, write_chain};
use serde::Serialize;
use serde_json::json;
use verifier::hash::genesis_hash;

use crate::Failure;

/// Arguments of `stateless evm`.
#[derive(Args)]
pub(crate) struct EvmArgs {
    #[command(subcommand)]
    command: EvmCommand,
}

#[derive(Subcommand)]
enum EvmCommand {
    /// Turn Ethereum blocks with their witnesses (JSON) into a chain directory; its genesis is
    /// the anchor block. Nothing is executed: `stateless verify CHAIN` checks it.
    Import(ImportArgs),
    /// Run Ethereum's BlockchainTests through the prover and the verifier: each test's blocks
    /// executed by the prover over its redb state, their minimal witnesses verified statelessly.
    EfTest(EfTestArgs),
}

/// Arguments of `stateless evm ef-test`.
#[derive(Args)]
pub(crate) struct EfTestArgs {
    /// Test files, or directories searched for them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print the counts (and every failure) as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `stateless evm import`.
#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The blocks and witnesses: {"chain_id", "anchor", "blocks": [{"rlp", "witness"}]}.
    input: PathBuf,
    /// The chain directory to write (genesis.bin, blocks/).
    #[arg(long)]
    out: PathBuf,
}

/// `stateless evm ...`.
pub(crate) fn evm(args: EvmArgs) -> Result<(), Failure> {
    match args.command {
        EvmCommand::Import(args) => import(args),
        EvmCommand::EfTest(args) => ef_test(args),
    }
}

fn import(args: ImportArgs) -> Result<(), Failure> {
    let chain = read_import(&args.input).map_err(|error| match error {
        ImportError::File(error) => Failure::from(error),
        rejected => Failure::Rejected(format!("{}: {rejected}", args.input.display())),
    })?;
    write_chain(&args.out, &chain)?;
    let anchor = chain.genesis.evm.as_ref().map_or(0, |anchor| anchor.number);
    outln!(
        "imported {} evm block(s) after block {anchor} of chain {} into {}",
        chain.blocks.len(),
        chain.genesis.chain_id,
        args.out.display()
    );
    outln!("genesis hash {}", genesis_hash(&chain.genesis));
    Ok(())
}

/// Counts of one directory's tests.
#[derive(Default, Serialize)]
struct Counts {
    passed: u64,
    failed: u64,
    skipped: u64,
}

fn ef_test(args: EfTestArgs) -> Result<(), Failure> {
    let results = run_paths(&args.paths).map_err(|e| Failure::Error(e.into()))?;
    let mut by_dir: BTreeMap<String, Counts> = BTreeMap::new();
    let mut total = Counts::default();
    let mut failures = Vec::new();
    let blocks_run: usize = results.iter().map(|r| r.blocks_run).sum();
    let blocks_off_chain: usize = results.iter().map(|r| r.blocks_off_chain).sum();
    for result in &results {
        let dir = result
            .file
            .parent()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        let counts = by_dir.entry(dir).or_default();
        match &result.outcome {
            TestOutcome::Passed => {
                counts.passed += 1;
                total.passed += 1;
            }
            TestOutcome::Failed(reason) => {
                counts.failed += 1;
                total.failed += 1;
                failures.push(json!({
                    "file": result.file.display().to_string(),
                    "test": result.name,
                    "reason": reason,
                }));
            }
            TestOutcome::Skipped(_) => {
                counts.skipped += 1;
                total.skipped += 1;
            }
        }
    }
    if args.json {
        crate::commands::print_json(&json!({
            "passed": total.passed,
            "failed": total.failed,
            "skipped": total.skipped,
            "blocks_run": blocks_run,
            "blocks_off_chain": blocks_off_chain,
            "directories": by_dir,
            "failures": failures,
        }))?;
    } else {
        for (dir, counts) in &by_dir {
            outln!(
                "{dir}: {} passed, {} failed, {} skipped",
                counts.passed,
                counts.failed,
                counts.skipped
            );
        }
        for failure in &failures {
            outln!(
                "FAILED {} {}: {}",
                failure["file"],
                failure["test"],
                failure["reason"]
            );
        }
        outln!(
            "total: {} passed, {} failed, {} skipped; {blocks_run} blocks run, \
             {blocks_off_chain} off the canonical chain not run",
            total.passed,
            total.failed,
            total.skipped
        );
    }
    if total.failed > 0 {
        return Err(Failure::Rejected(format!("{} tests failed", total.failed)));
    }
    Ok(())
}
