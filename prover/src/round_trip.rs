//! The cross-model round trip `stateless demo` ends with: a chain of both models where
//! `transfer` account 1 exits value to `zk-transfer` account 2, which is credited in the next
//! block and sends part back, credited in the block after; the chain is exported and verified
//! statelessly, and value is checked to be conserved at every height (`docs/CROSS_MODEL.md`).

use std::path::Path;

use serde::Serialize;
use thiserror::Error;
use verifier::ChainParams;
use verifier::bridge::bridge;
use witness_format::{AccountLeaf, Allocation, Model, PublicKey, Signature, Transaction};

use crate::files::{ExportError, FileError, export_chain};
use crate::verify_dir::{Trust, VERIFY_WINDOW_BLOCKS, verify_chain_dir};
use crate::workload::{WorkloadSpec, generate_both, sign_for};
use crate::{BlockOptions, ProverError, ProverState};

impl From<ProverError> for RoundTripError {
    fn from(error: ProverError) -> Self {
        Self::Prover(Box::new(error))
    }
}

/// Why the round trip could not be run (a chain that does not verify is a result, not this).
#[derive(Debug, Error)]
pub enum RoundTripError {
    /// The prover failed (boxed: a prover error is large).
    #[error(transparent)]
    Prover(Box<ProverError>),
    /// The chain could not be exported.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The chain directory could not be read back.
    #[error(transparent)]
    File(#[from] FileError),
    /// The prover left out one of the round trip's transactions.
    #[error("round trip block {height}: transaction {index} left out: {reason}")]
    LeftOut {
        /// The block.
        height: u64,
        /// The transaction's index in the block's submissions.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The chain lacks what a chain of both models has.
    #[error("{0}")]
    Failed(&'static str),
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
#[derive(Debug, Serialize)]
pub struct RoundTrip {
    /// The `transfer` account that sends value out and gets part of it back.
    pub transfer_account: u64,
    /// The `zk-transfer` account that receives it and sends part back.
    pub zk_transfer_account: u64,
    /// The genesis, then one step per block.
    pub steps: Vec<Step>,
    /// Both balances plus the value in flight are the same at every height.
    pub value_conserved: bool,
    /// The chain's blocks verified from its genesis alone.
    pub valid: bool,
    /// Why the chain or the conservation check failed, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Blocks verified.
    pub blocks: u64,
    /// Blobs verified.
    pub blobs: u64,
}

/// The two accounts after one block.
#[derive(Debug, Serialize)]
pub struct Step {
    /// The height (0: the genesis).
    pub height: u64,
    /// What the block did: exits and credits.
    pub event: String,
    /// The `transfer` account's balance.
    pub transfer_balance: u64,
    /// The `zk-transfer` account's balance.
    pub zk_transfer_balance: u64,
    /// Sent to the other model and not yet credited, both ways.
    pub in_flight: u64,
}

impl Step {
    /// Both balances plus the value in flight: what conservation keeps constant.
    pub fn total(&self) -> u128 {
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
    fn read(state: &ProverState, params: &ChainParams) -> Result<Self, RoundTripError> {
        let leaf = |model, account| state.account(model, account);
        // A model's channel leaf with account x of the other model: balance = sent to that
        // account, nonce = credited to its own account x from the other model.
        let channel = |model, other, account| -> Result<AccountLeaf, RoundTripError> {
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
) -> Result<u64, RoundTripError> {
    bridge(params, model)
        .and_then(|bridge| bridge.channel_leaf(other, account))
        .ok_or(RoundTripError::Failed(
            "a chain of both models has a channel for every account",
        ))
}

/// Builds a three-block chain of both models in `dir`: `transfer` account 1 exits value to
/// `zk-transfer` account 2; the prover credits it in the next block, where account 2 sends part
/// back; the block after credits that. Then verifies the exported chain statelessly.
pub fn round_trip(dir: &Path) -> Result<RoundTrip, RoundTripError> {
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
    std::fs::create_dir_all(dir).map_err(|source| FileError::Io {
        what: "creating",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut state = ProverState::open_chain(&dir.join("prover.redb"), &allocations, &[])?;
    let params = ChainParams::from_genesis(state.genesis())
        .map_err(|_| RoundTripError::Failed("the round trip's genesis has no parameters"))?;
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
        let (_, report) = state.build_block_of(submitted, BlockOptions::default())?;
        if let Some((index, reason)) = report.dropped.first() {
            return Err(RoundTripError::LeftOut {
                height: report.height,
                index: *index,
                reason: reason.to_string(),
            });
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
) -> Result<Transaction, RoundTripError> {
    let nonce = state.account(model, from)?.nonce;
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
