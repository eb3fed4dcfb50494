//! `stateless demo`: the main job end to end on a default workload, then one cross-model round
//! trip (value out of `transfer` into `zk-transfer` and part of it back) on a small chain that
//! hosts both models.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use prover::workload::{WorkloadSpec, generate_both, sign_for};
use prover::{BlockOptions, ProverState};
use serde::Serialize;
use verifier::ChainParams;
use verifier::bridge::bridge;
use witness_format::{AccountLeaf, Allocation, Model, PublicKey, Signature, Transaction};

use crate::Failure;
use crate::commands::{
    Trust, VERIFY_WINDOW_BLOCKS, WorkloadSize, check_spec, print_json, print_verify_table, ratio,
    run_prove, verify_chain_dir, write_workload,
};
use prover::files::export_chain;

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
    run_prove(&workload, &db, &chain, BlockOptions::default(), None)?;
    let prove_seconds = prove_start.elapsed().as_secs_f64();
    let report = verify_chain_dir(&chain, VERIFY_WINDOW_BLOCKS, Trust::default(), |_, _| {})?;
    if let Some(error) = report.error {
        return Err(Failure::Rejected(error));
    }
    eprintln!("demo: a cross-model round trip on a chain hosting both models");
    let trip = round_trip(&dir.path().join("round-trip"))?;
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

/// The `transfer` account that sends value out and gets part of it back.
const TRANSFER_ACCOUNT: u64 = 1;
/// The `zk-transfer` account that receives it and sends part back.
const ZK_ACCOUNT: u64 = 2;
/// Value leaving `transfer`, then value coming back.
const EXIT_AMOUNT: u64 = 250_000;
const RETURN_AMOUNT: u64 = 100_000;
/// Tree depth of the round trip's chain: small, so it builds in a moment.
const ROUND_TRIP_DEPTH: u8 = 16;

/// The round trip, height by height, as read from the prover's state, and the verdict of
/// verifying its chain statelessly.
#[derive(Serialize)]
struct RoundTrip {
    transfer_account: u64,
    zk_transfer_account: u64,
    steps: Vec<Step>,
    /// Both balances plus the value in flight are the same at every height.
    value_conserved: bool,
    /// The chain's blocks verified from its genesis alone.
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    blocks: u64,
    blobs: u64,
}

/// The two accounts after one block.
#[derive(Serialize)]
struct Step {
    height: u64,
    event: String,
    transfer_balance: u64,
    zk_transfer_balance: u64,
    /// Sent to the other model and not yet credited, both ways.
    in_flight: u64,
}

impl Step {
    /// Both balances plus the value in flight: what conservation keeps constant.
    fn total(&self) -> u128 {
        u128::from(self.transfer_balance)
            + u128::from(self.zk_transfer_balance)
            + u128::from(self.in_flight)
    }
}

/// The two accounts and their channel leaves at the prover's current height.
struct Tally {
    transfer_balance: u64,
    zk_balance: u64,
    /// Credited so far to each account (the nonce of its model's channel leaf for it).
    credited_to_transfer: u64,
    credited_to_zk: u64,
    in_flight: u64,
}

impl Tally {
    fn read(state: &ProverState, params: &ChainParams) -> Result<Self, Failure> {
        let leaf = |model, account| {
            state
                .account(model, account)
                .context("reading the prover's state")
        };
        // A model's channel leaf with account x of the other model: balance = sent to that
        // account, nonce = credited to its own account x from the other model.
        let channel = |model, other, account| -> Result<AccountLeaf, Failure> {
            Ok(leaf(model, channel_leaf(params, model, other, account)?)?)
        };
        let (t, z) = (Model::Transfer, Model::ZkTransfer);
        let sent_to_zk = channel(t, z, ZK_ACCOUNT)?.balance;
        let credited_to_zk = channel(z, t, ZK_ACCOUNT)?.nonce;
        let sent_to_transfer = channel(z, t, TRANSFER_ACCOUNT)?.balance;
        let credited_to_transfer = channel(t, z, TRANSFER_ACCOUNT)?.nonce;
        Ok(Self {
            transfer_balance: leaf(Model::Transfer, TRANSFER_ACCOUNT)?.balance,
            zk_balance: leaf(Model::ZkTransfer, ZK_ACCOUNT)?.balance,
            credited_to_transfer,
            credited_to_zk,
            in_flight: (sent_to_zk - credited_to_zk) + (sent_to_transfer - credited_to_transfer),
        })
    }

    fn step(&self, height: u64, event: String) -> Step {
        Step {
            height,
            event,
            transfer_balance: self.transfer_balance,
            zk_transfer_balance: self.zk_balance,
            in_flight: self.in_flight,
        }
    }
}

/// `model`'s channel leaf with `account` of `other`: where an exit to that account goes, and
/// where credits to `model`'s own `account` from `other` are counted.
fn channel_leaf(
    params: &ChainParams,
    model: Model,
    other: Model,
    account: u64,
) -> Result<u64, Failure> {
    bridge(params, model)
        .and_then(|bridge| bridge.channel_leaf(other, account))
        .context("a chain of both models has a channel for every account")
        .map_err(Failure::from)
}

/// Builds a three-block chain of both models in `dir`: `transfer` account 1 exits value to
/// `zk-transfer` account 2; the prover credits it in the next block, where account 2 sends part
/// back; the block after credits that. Then verifies the exported chain statelessly.
fn round_trip(dir: &Path) -> Result<RoundTrip, Failure> {
    let spec = WorkloadSpec {
        tree_depth: ROUND_TRIP_DEPTH,
        accounts: 4,
        blocks: 0,
        ..WorkloadSpec::default()
    };
    let allocations: Vec<Allocation> = generate_both(&spec, 0)
        .into_iter()
        .map(|w| w.allocation)
        .collect();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut state = ProverState::open_chain(&dir.join("prover.redb"), &allocations, &[])
        .context("opening the round trip's prover database")?;
    let params = ChainParams::from_genesis(state.genesis()).context("the round trip's genesis")?;
    let mut tally = Tally::read(&state, &params)?;
    let mut steps = vec![tally.step(0, "genesis".into())];
    let exit = signed(
        &state,
        spec.seed,
        Model::Transfer,
        TRANSFER_ACCOUNT,
        channel_leaf(&params, Model::Transfer, Model::ZkTransfer, ZK_ACCOUNT)?,
        EXIT_AMOUNT,
    )?;
    let back = signed(
        &state,
        spec.seed,
        Model::ZkTransfer,
        ZK_ACCOUNT,
        channel_leaf(
            &params,
            Model::ZkTransfer,
            Model::Transfer,
            TRANSFER_ACCOUNT,
        )?,
        RETURN_AMOUNT,
    )?;
    let blocks: [&[(Model, &[Transaction])]; 3] = [
        &[(Model::Transfer, std::slice::from_ref(&exit))],
        &[(Model::ZkTransfer, std::slice::from_ref(&back))],
        &[],
    ];
    for submitted in blocks {
        let (_, report) = state
            .build_block_of(submitted, BlockOptions::default())
            .context("building a round-trip block")?;
        if let Some((index, reason)) = report.dropped.first() {
            return Err(anyhow::anyhow!(
                "round trip block {}: transaction {index} left out: {reason}",
                report.height
            )
            .into());
        }
        let now = Tally::read(&state, &params)?;
        let mut events = Vec::new();
        for (credited, account) in [
            (
                now.credited_to_zk - tally.credited_to_zk,
                format!("zk-transfer #{ZK_ACCOUNT}"),
            ),
            (
                now.credited_to_transfer - tally.credited_to_transfer,
                format!("transfer #{TRANSFER_ACCOUNT}"),
            ),
        ] {
            if credited > 0 {
                events.push(format!("{account} credited {credited}"));
            }
        }
        for (model, tx) in submitted
            .iter()
            .flat_map(|(model, txs)| txs.iter().map(move |tx| (model, tx)))
        {
            // The channel leaf an exit pays names the target model and account.
            if let Some((Some(other), account)) =
                bridge(&params, *model).and_then(|bridge| bridge.channel(tx.to))
            {
                events.push(format!(
                    "{model} #{} exits {} to {other} #{account}",
                    tx.from, tx.amount
                ));
            }
        }
        steps.push(now.step(report.height, events.join("; ")));
        tally = now;
    }

    // Export the chain and verify it from its genesis alone, as any verifier would.
    let chain = dir.join("chain");
    export_chain(&state, &chain, 1..=state.height())?;
    let report = verify_chain_dir(&chain, VERIFY_WINDOW_BLOCKS, Trust::default(), |_, _| {})?;
    let value_conserved = steps.iter().all(|step| step.total() == steps[0].total());
    Ok(RoundTrip {
        transfer_account: TRANSFER_ACCOUNT,
        zk_transfer_account: ZK_ACCOUNT,
        steps,
        value_conserved,
        valid: report.valid && value_conserved,
        error: report.error.or_else(|| {
            (!value_conserved).then(|| "value was not conserved across the models".to_string())
        }),
        blocks: report.blocks,
        blobs: report.blobs,
    })
}

/// A transfer of `amount` from `from` to `to` in `model`, at the sender's current nonce, signed
/// with its workload key under `seed`.
fn signed(
    state: &ProverState,
    seed: u64,
    model: Model,
    from: u64,
    to: u64,
    amount: u64,
) -> Result<Transaction, Failure> {
    let nonce = state
        .account(model, from)
        .context("reading the prover's state")?
        .nonce;
    let mut tx = Transaction {
        from,
        to,
        amount,
        nonce,
        new_account_key: PublicKey::ZERO,
        signature: Signature::ZERO,
    };
    sign_for(model, state.genesis().chain_id, seed, &mut tx);
    Ok(tx)
}

fn print_round_trip(trip: &RoundTrip) {
    outln!(
        "cross-model round trip: transfer #{} <-> zk-transfer #{} on one chain",
        trip.transfer_account,
        trip.zk_transfer_account
    );
    outln!(
        "{:<7} {:>16} {:>16} {:>10}  event",
        "height",
        "transfer",
        "zk-transfer",
        "in flight"
    );
    for step in &trip.steps {
        outln!(
            "{:<7} {:>16} {:>16} {:>10}  {}",
            step.height,
            step.transfer_balance,
            step.zk_transfer_balance,
            step.in_flight,
            step.event
        );
    }
    let verdict = if trip.valid { "valid" } else { "INVALID" };
    outln!(
        "value across both models {}; {} blocks, {} blobs verified statelessly: {verdict}",
        if trip.value_conserved {
            "conserved at every height"
        } else {
            "NOT conserved"
        },
        trip.blocks,
        trip.blobs
    );
}
