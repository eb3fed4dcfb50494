//! The cross-model round trip `stateless demo` ends with, on a chain hosting all three models:
//! `transfer` account 1 exits value to `zk-transfer` account 2, which is credited in the next
//! block and sends part on to `evm` account 0 (paid in as a withdrawal in the block after),
//! which sends part back to `transfer` account 1 through the bridge contract, credited in the
//! last block. The chain is exported and verified statelessly, and value is checked to be
//! conserved at every height (`docs/CROSS_MODEL.md`).

use std::path::Path;

use alloy_consensus::{Transaction as _, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, TxKind, U256};
use serde::Serialize;
use thiserror::Error;
use verifier::ChainParams;
use verifier::bridge::bridge;
use verifier::evm::bridge::{
    BRIDGE_ADDRESS, WEI_PER_UNIT, channel_slot, credited_slot, exit_calldata,
};
use witness_format::{
    AccountLeaf, Allocation, EvmSchedule, Model, PublicKey, Signature, Transaction,
};

use crate::evm_produce::{EvmProducer, ProduceError, build_shared_block};
use crate::evm_workload::{
    EvmBridgeSpec, EvmWorkloadSpec, account_address, allocation, sign_transaction, signing_key,
};
use crate::files::{ExportError, FileError, export_chain};
use crate::prove_dir::evm_store_path;
use crate::verify_dir::{Trust, VERIFY_WINDOW_BLOCKS, verify_chain_dir};
use crate::workload::{WorkloadSpec, generate_numbered, sign_for};
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
    /// The `evm` producer failed.
    #[error(transparent)]
    Evm(#[from] ProduceError),
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
    /// The chain lacks what a chain of the three models has.
    #[error("{0}")]
    Failed(&'static str),
}

/// A block's submitted numbered transactions, each with its model.
type Submitted = Vec<(Model, Transaction)>;

/// The `transfer` account that sends value out and gets part of it back.
const TRANSFER_ACCOUNT: u64 = 1;
/// The `zk-transfer` account that receives it and sends part on.
const ZK_ACCOUNT: u64 = 2;
/// The `evm` account (its number in the bridge's registry) that receives that and sends part
/// back.
const EVM_ACCOUNT: u64 = 0;
/// Value leaving `transfer`, going on to `evm`, and coming back, in units (gwei in `evm`).
const EXIT_AMOUNT: u64 = 250_000;
const ON_AMOUNT: u64 = 100_000;
const BACK_AMOUNT: u64 = 40_000;
/// Tree depth of the round trip's chain: small, so it builds in a moment.
const ROUND_TRIP_DEPTH: u8 = 16;
/// The round trip chain's id.
const CHAIN_ID: u64 = 1;

/// The round trip, height by height, as read from the prover's state, and the verdict of
/// verifying its chain statelessly.
#[derive(Debug, Serialize)]
pub struct RoundTrip {
    /// The `transfer` account that sends value out and gets part of it back.
    pub transfer_account: u64,
    /// The `zk-transfer` account that receives it and sends part on.
    pub zk_transfer_account: u64,
    /// The `evm` account (its address) that receives that and sends part back.
    pub evm_account: Address,
    /// The genesis, then one step per block.
    pub steps: Vec<Step>,
    /// The balances, plus the value in flight, plus the `evm` account's fees, are the same at
    /// every height.
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

/// The three accounts after one block.
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
    /// The `evm` account's balance, in wei (a decimal string in JSON: it exceeds 2^64).
    #[serde(serialize_with = "decimal")]
    pub evm_balance_wei: u128,
    /// The gas fees the `evm` account paid so far, in wei (Ethereum's: they leave its balance
    /// for the block's producer and the burn, not for another model).
    #[serde(serialize_with = "decimal")]
    pub evm_fees_wei: u128,
    /// Sent to another model and not yet credited, all ways, in units.
    pub in_flight: u64,
}

/// A wei amount as a decimal string: JSON numbers above 2^53 lose precision in most readers.
fn decimal<S: serde::Serializer>(wei: &u128, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&wei.to_string())
}

impl Step {
    /// Everything the three accounts hold or have in flight, fees included, in wei: what
    /// conservation keeps constant.
    pub fn total_wei(&self) -> u128 {
        let units = u128::from(self.transfer_balance)
            + u128::from(self.zk_transfer_balance)
            + u128::from(self.in_flight);
        units * u128::from(WEI_PER_UNIT) + self.evm_balance_wei + self.evm_fees_wei
    }
}

/// The chain being built: the numbered models' state and the `evm` producer.
struct Chain {
    state: ProverState,
    producer: EvmProducer,
    params: ChainParams,
    evm_address: Address,
    /// Fees the `evm` account paid so far.
    fees: u128,
}

impl Chain {
    /// `model`'s channel leaf with `account` of `other`: balance = sent to that account,
    /// nonce = credited to `model`'s own `account` from `other`.
    fn channel(
        &self,
        model: Model,
        other: Model,
        account: u64,
    ) -> Result<AccountLeaf, RoundTripError> {
        Ok(self
            .state
            .account(model, self.channel_leaf(model, other, account)?)?)
    }

    /// `model`'s channel leaf with `account` of `other`: where an exit to it goes.
    fn channel_leaf(
        &self,
        model: Model,
        other: Model,
        account: u64,
    ) -> Result<u64, RoundTripError> {
        bridge(&self.params, model)
            .and_then(|bridge| bridge.channel_leaf(other, account))
            .ok_or(RoundTripError::Failed(
                "a chain of the three models has a channel for every account",
            ))
    }

    /// The bridge contract's slot, as a number of units.
    fn bridge_units(&self, slot: U256) -> Result<u64, RoundTripError> {
        u64::try_from(self.producer.bridge_slot(slot)?)
            .map_err(|_| RoundTripError::Failed("the bridge keeps totals below 2^64"))
    }

    /// The three accounts now, and what is in flight between them.
    fn step(&self, height: u64, event: String) -> Result<Step, RoundTripError> {
        let (t, z, e) = (Model::Transfer, Model::ZkTransfer, Model::Evm);
        let to_zk = self.channel(t, z, ZK_ACCOUNT)?.balance - self.channel(z, t, ZK_ACCOUNT)?.nonce;
        let to_evm = self.channel(z, e, EVM_ACCOUNT)?.balance
            - self.bridge_units(credited_slot(z, EVM_ACCOUNT))?;
        let to_transfer = self.bridge_units(channel_slot(t, TRANSFER_ACCOUNT))?
            - self.channel(t, e, TRANSFER_ACCOUNT)?.nonce;
        Ok(Step {
            height,
            event,
            transfer_balance: self.state.account(t, TRANSFER_ACCOUNT)?.balance,
            zk_transfer_balance: self.state.account(z, ZK_ACCOUNT)?.balance,
            evm_balance_wei: self.producer.balance(self.evm_address)?.saturating_to(),
            evm_fees_wei: self.fees,
            in_flight: to_zk + to_evm + to_transfer,
        })
    }
}

/// Builds a four-block chain of the three models in `dir`: `transfer` account 1 exits value to
/// `zk-transfer` account 2; the prover credits it in the next block, where account 2 sends
/// part on to `evm` account 0; the block after pays that in, and the `evm` account sends part
/// back to `transfer` account 1 through the bridge contract; the last block credits it. Then
/// verifies the exported chain statelessly.
pub fn round_trip(dir: &Path) -> Result<RoundTrip, RoundTripError> {
    let spec = WorkloadSpec {
        chain_id: CHAIN_ID,
        tree_depth: ROUND_TRIP_DEPTH,
        accounts: 4,
        blocks: 0,
        ..WorkloadSpec::default()
    };
    let allocations: Vec<Allocation> = generate_numbered(&spec, &Model::ALL, 0)
        .into_iter()
        .map(|w| w.allocation)
        .collect();
    let evm_allocation = allocation(&EvmWorkloadSpec {
        chain_id: CHAIN_ID,
        schedule: EvmSchedule::Prague,
        accounts: 4,
        bridge: EvmBridgeSpec::of(&Model::ALL, 4, 0),
        ..EvmWorkloadSpec::default()
    });
    std::fs::create_dir_all(dir).map_err(|source| FileError::Io {
        what: "creating",
        path: dir.to_path_buf(),
        source,
    })?;
    let db = dir.join("prover.redb");
    let mut producer = EvmProducer::create(&evm_store_path(&db), &evm_allocation)?;
    producer.share_with(&Model::ALL);
    let state = ProverState::open_chain_with_evm(&db, &allocations, &[], Some(producer.genesis()))?;
    let params = ChainParams::from_genesis(state.genesis())
        .map_err(|_| RoundTripError::Failed("the round trip's genesis has no parameters"))?;
    let mut chain = Chain {
        state,
        producer,
        params,
        evm_address: account_address(0, EVM_ACCOUNT),
        fees: 0,
    };
    let mut steps = vec![chain.step(0, "genesis".into())?];

    let to_zk = numbered_exit(
        &chain,
        Model::Transfer,
        TRANSFER_ACCOUNT,
        Model::ZkTransfer,
        ZK_ACCOUNT,
        EXIT_AMOUNT,
    )?;
    let blocks: [(Submitted, Option<u64>); 4] = [
        (vec![(Model::Transfer, to_zk)], None),
        (Vec::new(), None),
        (Vec::new(), Some(BACK_AMOUNT)),
        (Vec::new(), None),
    ];
    for (index, (mut transfers, back)) in blocks.into_iter().enumerate() {
        // zk-transfer #2 sends on in the block that credits it (its nonce is known then).
        if index == 1 {
            transfers.push((
                Model::ZkTransfer,
                numbered_exit(
                    &chain,
                    Model::ZkTransfer,
                    ZK_ACCOUNT,
                    Model::Evm,
                    EVM_ACCOUNT,
                    ON_AMOUNT,
                )?,
            ));
        }
        let evm = back.map(|amount| vec![evm_exit(amount)]);
        let batches: Vec<(Model, Vec<Transaction>)> = Model::NUMBERED
            .iter()
            .map(|&model| {
                let txs = transfers
                    .iter()
                    .filter(|(m, _)| *m == model)
                    .map(|(_, tx)| *tx)
                    .collect();
                (model, txs)
            })
            .collect();
        let submitted: Vec<(Model, &[Transaction])> = batches
            .iter()
            .map(|(model, txs)| (*model, txs.as_slice()))
            .collect();
        let before = chain.step(0, String::new())?;
        let (block, report) = build_shared_block(
            &mut chain.state,
            &mut chain.producer,
            &submitted,
            evm.clone(),
            BlockOptions::default(),
        )?;
        if let Some((index, reason)) = report.dropped.first() {
            return Err(RoundTripError::LeftOut {
                height: report.height,
                index: *index,
                reason: reason.to_string(),
            });
        }
        chain.fees += fees_paid(&block, evm.as_deref().unwrap_or_default())?;
        let mut now = chain.step(report.height, String::new())?;
        now.event = events(&before, &now, &transfers, back).join("; ");
        steps.push(now);
    }

    // Export the chain and verify it from its genesis alone, as any verifier would.
    let exported = dir.join("chain");
    export_chain(&chain.state, &exported, 1..=chain.state.height())?;
    let report = verify_chain_dir(&exported, VERIFY_WINDOW_BLOCKS, Trust::default(), |_, _| {})?;
    let value_conserved = steps
        .iter()
        .all(|step| step.total_wei() == steps[0].total_wei());
    Ok(RoundTrip {
        transfer_account: TRANSFER_ACCOUNT,
        zk_transfer_account: ZK_ACCOUNT,
        evm_account: chain.evm_address,
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

/// What changed between two steps, in words: credits, then exits.
fn events(
    before: &Step,
    now: &Step,
    transfers: &[(Model, Transaction)],
    back: Option<u64>,
) -> Vec<String> {
    let mut events = Vec::new();
    let gained =
        |after: u64, before: u64, sent: u64| after.saturating_add(sent).saturating_sub(before);
    let zk_sent: u64 = transfers
        .iter()
        .filter(|(m, _)| *m == Model::ZkTransfer)
        .map(|(_, tx)| tx.amount)
        .sum();
    let transfer_sent: u64 = transfers
        .iter()
        .filter(|(m, _)| *m == Model::Transfer)
        .map(|(_, tx)| tx.amount)
        .sum();
    let zk_credit = gained(now.zk_transfer_balance, before.zk_transfer_balance, zk_sent);
    if zk_credit > 0 {
        events.push(format!("zk-transfer #{ZK_ACCOUNT} credited {zk_credit}"));
    }
    let transfer_credit = gained(now.transfer_balance, before.transfer_balance, transfer_sent);
    if transfer_credit > 0 {
        events.push(format!(
            "transfer #{TRANSFER_ACCOUNT} credited {transfer_credit}"
        ));
    }
    // The evm account's balance gains the withdrawal, less what it sent and its fees.
    let sent_wei = u128::from(back.unwrap_or(0)) * u128::from(WEI_PER_UNIT);
    let evm_credit = (now.evm_balance_wei + sent_wei + (now.evm_fees_wei - before.evm_fees_wei))
        .saturating_sub(before.evm_balance_wei)
        / u128::from(WEI_PER_UNIT);
    if evm_credit > 0 {
        events.push(format!("evm #{EVM_ACCOUNT} paid in {evm_credit} gwei"));
    }
    for (model, tx) in transfers {
        let target = match model {
            Model::Transfer => format!("zk-transfer #{ZK_ACCOUNT}"),
            _ => format!("evm #{EVM_ACCOUNT}"),
        };
        events.push(format!(
            "{model} #{} exits {} to {target}",
            tx.from, tx.amount
        ));
    }
    if let Some(amount) = back {
        events.push(format!(
            "evm #{EVM_ACCOUNT} exits {amount} gwei to transfer #{TRANSFER_ACCOUNT}"
        ));
    }
    events
}

/// An exit of `amount` from `from` of `model` to `account` of `other`, at the sender's current
/// nonce, signed with its workload key.
fn numbered_exit(
    chain: &Chain,
    model: Model,
    from: u64,
    other: Model,
    account: u64,
    amount: u64,
) -> Result<Transaction, RoundTripError> {
    let to = chain.channel_leaf(model, other, account)?;
    let nonce = chain.state.account(model, from)?.nonce;
    let mut tx = Transaction {
        from,
        to,
        amount,
        nonce,
        new_account_key: PublicKey::ZERO,
        signature: Signature::ZERO,
    };
    sign_for(model, CHAIN_ID, 0, &mut tx);
    Ok(tx)
}

/// The `evm` account's exit of `amount` gwei to `transfer` account 1 through the bridge.
fn evm_exit(amount: u64) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        // The account's first transaction.
        nonce: 0,
        gas_limit: 100_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(BRIDGE_ADDRESS),
        value: U256::from(amount) * U256::from(WEI_PER_UNIT),
        input: exit_calldata(Model::Transfer, TRANSFER_ACCOUNT).into(),
        ..TxEip1559::default()
    };
    sign_transaction(&signing_key(0, EVM_ACCOUNT), tx)
}

/// The fees `transactions` paid in `block`'s `evm` block: gas used times the effective gas
/// price (EIP-1559), taken from the block as the chain holds it.
fn fees_paid(
    block: &witness_format::Block,
    transactions: &[TxEnvelope],
) -> Result<u128, RoundTripError> {
    if transactions.is_empty() {
        return Ok(0);
    }
    let witness = block
        .blobs
        .iter()
        .find_map(|blob| blob.witness.evm())
        .ok_or(RoundTripError::Failed("the block has no evm blob"))?;
    let ethereum = verifier::evm::decode_block(&witness.block)
        .map_err(|_| RoundTripError::Failed("the evm block decodes"))?;
    let base_fee = ethereum.header.base_fee_per_gas.unwrap_or(0);
    let price: u128 = transactions
        .iter()
        .map(|tx| tx.effective_gas_price(Some(base_fee)))
        .max()
        .unwrap_or(0);
    // One transaction: the block's gas is its gas.
    Ok(u128::from(ethereum.header.gas_used) * price)
}
