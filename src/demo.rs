//! `stateless demo`: the main job end to end on a default workload, then one cross-model round
//! trip (value out of `transfer` into `zk-transfer`, on to `evm`, and part of it back) on a
//! small chain that hosts the three models.

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use prover::BlockOptions;
use prover::round_trip::{RoundTrip, round_trip};
use witness_format::Model;

use crate::Failure;
use crate::commands::{
    Trust, VERIFY_WINDOW_BLOCKS, WorkloadSize, check_spec, print_json, print_verify_table, ratio,
    run_prove, verify_chain_dir, write_workload,
};

/// Arguments of `stateless demo`.
#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Accounts, blocks and transactions per block of the main job.
    #[command(flatten)]
    size: WorkloadSize,
}

/// `stateless demo`: gen, prove and verify in a temporary directory, then the round trip.
pub(crate) fn demo(args: DemoArgs) -> Result<(), Failure> {
    let spec = args.size.spec();
    check_spec(&spec)?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let (workload, db, chain) = (
        dir.path().join("workload"),
        dir.path().join("prover.redb"),
        dir.path().join("chain"),
    );
    eprintln!(
        "demo: {} accounts, {} blocks of {} transfers",
        spec.accounts, spec.blocks, spec.txs_per_block
    );
    write_workload(&spec, &[Model::Transfer], 0, &workload)?;
    let prove_start = Instant::now();
    run_prove(&workload, &db, &chain, BlockOptions::default(), None, None)?;
    let prove_seconds = prove_start.elapsed().as_secs_f64();
    let report = verify_chain_dir(&chain, VERIFY_WINDOW_BLOCKS, Trust::default(), |_, _| {})?;
    if let Some(error) = report.error {
        return Err(Failure::Rejected(error));
    }
    eprintln!("demo: a cross-model round trip on a chain hosting the three models");
    let trip = round_trip(&dir.path().join("round-trip")).context("the round trip")?;
    if args.json {
        print_json(&serde_json::json!({
            "valid": report.valid && trip.valid,
            "blocks": report.blocks,
            "blobs": report.blobs,
            "txs": report.txs,
            "witness_bytes_per_tx": report.witness_bytes_per_tx,
            "blob_bytes_per_tx": ratio(report.blob_bytes as f64, report.txs as f64),
            "verify_tx_per_s": report.verify_tx_per_s,
            "prove_tx_per_s": ratio(report.txs as f64, prove_seconds),
            "threads": report.threads,
            "state_roots": report.state_roots,
            "round_trip": trip,
        }))?;
    } else {
        print_verify_table(&report);
        outln!(
            "{:<22} {:.0} tx/s",
            "proving",
            ratio(report.txs as f64, prove_seconds)
        );
        outln!();
        print_round_trip(&trip);
    }
    match trip.error {
        Some(error) => Err(Failure::Rejected(format!("round trip: {error}"))),
        None => Ok(()),
    }
}

fn print_round_trip(trip: &RoundTrip) {
    outln!(
        "cross-model round trip on one chain: transfer #{} -> zk-transfer #{} -> evm {} -> transfer #{}",
        trip.transfer_account,
        trip.zk_transfer_account,
        trip.evm_account,
        trip.transfer_account
    );
    outln!(
        "{:<7} {:>16} {:>16} {:>22} {:>10} {:>14}  event",
        "height",
        "transfer",
        "zk-transfer",
        "evm (gwei)",
        "in flight",
        "evm fees (gwei)"
    );
    let gwei = |wei: u128| wei as f64 / 1e9;
    for step in &trip.steps {
        outln!(
            "{:<7} {:>16} {:>16} {:>22.3} {:>10} {:>14.3}  {}",
            step.height,
            step.transfer_balance,
            step.zk_transfer_balance,
            gwei(step.evm_balance_wei),
            step.in_flight,
            gwei(step.evm_fees_wei),
            step.event
        );
    }
    let verdict = if trip.valid { "valid" } else { "INVALID" };
    outln!(
        "value across the three models (balances, in flight, and the evm account's fees) {}; {} blocks, {} blobs verified statelessly: {verdict}",
        if trip.value_conserved {
            "conserved at every height"
        } else {
            "NOT conserved"
        },
        trip.blocks,
        trip.blobs
    );
}
