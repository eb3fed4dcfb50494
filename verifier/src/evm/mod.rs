//! The `evm` model: Ethereum blocks checked statelessly. A blob is one block with its witness
//! (`EvmWitness`: trie nodes, codes, ancestor hashes).
//!
//! - [`verify_block`]: the block executed with revm (through alloy-evm's whole-block executor:
//!   system calls, withdrawals, requests) against a database backed only by the witness
//!   ([`WitnessDb`]), the header checked against the execution, and the state changes applied
//!   to the partial tries ([`crate::mpt`]) to give the post-state root the header must carry.
//!   Blocks are independent given their witnesses: the chain verifier runs this in parallel.
//! - [`HeaderChain`]: then, in order, each header against its parent's
//!   ([`check_against_parent`]: link, number, timestamp, gas limit, base fee, excess blob gas)
//!   and the carried ancestor hashes against the chain's.
//! - [`ChainSpec`]: the fork schedule the genesis records (a real chain's published one, or one
//!   fork from the first block); Cancun and Prague are supported.

pub mod bridge;
mod chain;
mod header;
mod model;
mod spec;
mod state;
mod witness;

use std::borrow::Cow;

use alloy_consensus::proofs::{
    calculate_receipt_root, calculate_transaction_root, calculate_withdrawals_root,
};
use alloy_consensus::transaction::{Recovered, SignerRecoverable};
use alloy_consensus::{Block, Header, ReceiptEnvelope, TxEnvelope, TxReceipt};
use alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS;
use alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS;
use alloy_eips::eip7685::Requests;
use alloy_evm::block::{BlockExecutor, BlockExecutorFactory};
use alloy_evm::eth::receipt_builder::AlloyReceiptBuilder;
use alloy_evm::eth::{EthBlockExecutionCtx, EthBlockExecutorFactory};
use alloy_evm::{EthEvmFactory, EvmEnv, EvmFactory};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, B256, Bloom, KECCAK256_EMPTY};
use rayon::prelude::*;
use revm::database::BundleState;
use revm::database::State;
use revm::database::states::bundle_state::BundleRetention;
use revm::database_interface::DatabaseCommitExt;
use revm::database_interface::bal::EvmDatabaseError;
use thiserror::Error;

use bridge::{BridgeCredits, credit_withdrawals, record_credits};
pub use chain::{HeaderChain, LinkError, block_header, decode_header};
pub use header::{check_against_parent, inherited_fees};
pub(crate) use model::EVM_MODEL;
pub use spec::ChainSpec;
pub(crate) use state::EVM_STATE;
pub use witness::{UsedWitness, WitnessDb, WitnessError};

/// Why an `evm` block is rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EvmError {
    /// The block's bytes are not a block.
    #[error("the block does not decode: {0}")]
    Decode(alloy_rlp::Error),
    /// The block's gas limit is above what any block may be executed with.
    #[error(
        "gas limit {gas_limit} is above the cap of {} for a block whose parent header is not known",
        witness_format::limits::MAX_EVM_GAS_LIMIT
    )]
    GasLimitAboveCap {
        /// The header's gas limit.
        gas_limit: u64,
    },
    /// The chain's fork schedule is not known, or the block is of a fork not supported.
    #[error("{0}")]
    Fork(&'static str),
    /// A transaction's signature does not recover a sender.
    #[error("transaction {index}: no sender recovers from its signature")]
    BadSignature {
        /// The transaction's index.
        index: usize,
    },
    /// The witness lacks what execution or the state update needs, or is malformed.
    #[error(transparent)]
    Witness(#[from] WitnessError),
    /// Execution failed (an invalid transaction, a failed system call).
    #[error("execution: {0}")]
    Execution(String),
    /// The block's credits from numbered models are wrong.
    #[error("bridge: {0}")]
    Bridge(#[from] bridge::BridgeError),
    /// A system contract the fork calls has no code.
    #[error("the {eip} system contract at {address} has no code")]
    MissingSystemContract {
        /// The EIP that defines it.
        eip: &'static str,
        /// Its address.
        address: Address,
    },
    /// A header field is invalid on its own.
    #[error("{field}: {why}")]
    InvalidHeader {
        /// The field.
        field: &'static str,
        /// Why.
        why: String,
    },
    /// A header field disagrees with what its parent makes it.
    #[error("{field}: the header has {header}, its parent makes it {expected}")]
    ParentMismatch {
        /// The field.
        field: &'static str,
        /// The header's value.
        header: String,
        /// What the parent gives.
        expected: String,
    },
    /// A header field disagrees with the execution.
    #[error("{field}: the header has {header}, the execution gives {computed}")]
    HeaderMismatch {
        /// The field.
        field: &'static str,
        /// The header's value.
        header: String,
        /// The value execution gives.
        computed: String,
    },
}

/// An Ethereum block as the network encodes it, decoded; trailing bytes are refused.
pub fn decode_block(rlp: &[u8]) -> Result<Block<TxEnvelope>, EvmError> {
    alloy_rlp::decode_exact(rlp).map_err(EvmError::Decode)
}

/// A block whose checks of its own all passed: what the chain then links in order.
#[derive(Clone, Debug)]
pub struct CheckedBlock {
    /// Its header.
    pub header: Header,
    /// Its hash.
    pub hash: B256,
}

/// Executes `block` of the chain of `spec` on the state of root `pre_state_root`, read from the
/// witness `db`; checks the header against the execution, and the post-state root computed from
/// the witness against the header's.
///
/// Execution is bounded by the block's gas limit: the caller bounds that first (the chain
/// verifier links the header to its parent's, [`HeaderChain`], before it executes a block).
pub fn verify_block(
    spec: &ChainSpec,
    block: &Block<TxEnvelope>,
    pre_state_root: B256,
    mut db: WitnessDb,
    credits: Option<BridgeCredits<'_>>,
) -> Result<CheckedBlock, EvmError> {
    execute_block(spec, block, pre_state_root, &mut db, credits)
}

/// [`verify_block`], leaving the database for the caller to read afterwards: the witness data
/// the checks used ([`WitnessDb::used`]) and the state after the block
/// ([`WitnessDb::state_nodes`]). A prover runs this over its full state to learn a block's
/// minimal witness, so the witness is exactly what these same checks read.
///
/// On a chain the `evm` model shares with numbered models, `credits` are what the block pays
/// in from them ([`BridgeCredits`]: its withdrawals must be exactly theirs); `None` on an
/// `evm` chain of its own, whose withdrawals are Ethereum's.
pub fn execute_block(
    spec: &ChainSpec,
    block: &Block<TxEnvelope>,
    pre_state_root: B256,
    db: &mut WitnessDb,
    credits: Option<BridgeCredits<'_>>,
) -> Result<CheckedBlock, EvmError> {
    let header = &block.header;
    header::check_header(header, &block.body.ommers)?;
    let (outcome, bundle) = execute(spec, block, pre_state_root, db, credits)?;
    outcome.check(spec, header)?;
    let post_state_root = db.apply(&bundle)?;
    if post_state_root != header.state_root {
        return Err(EvmError::HeaderMismatch {
            field: "state root",
            header: header.state_root.to_string(),
            computed: post_state_root.to_string(),
        });
    }
    Ok(CheckedBlock {
        header: header.clone(),
        hash: header.hash_slow(),
    })
}

/// Fills in the header fields of `block` that its execution decides (gas used, blob gas used,
/// the transactions, receipts and withdrawals roots, the logs bloom, the requests hash under
/// Prague, the state root), executing it on the state of root `pre_state_root` read from
/// `db`: how a block producer seals a block the same rules then check. Returns the receipts.
///
/// With `credits` (a chain shared with numbered models), the block's withdrawals are theirs.
pub fn seal_block(
    spec: &ChainSpec,
    block: &mut Block<TxEnvelope>,
    pre_state_root: B256,
    db: &mut WitnessDb,
    credits: Option<BridgeCredits<'_>>,
) -> Result<Vec<ReceiptEnvelope>, EvmError> {
    if let Some(credits) = credits {
        db.set_root(pre_state_root);
        block.body.withdrawals = Some(credit_withdrawals(db, credits)?.into());
    }
    let (outcome, bundle) = execute(spec, block, pre_state_root, db, credits)?;
    let header = &mut block.header;
    header.gas_used = outcome.gas_used;
    header.blob_gas_used = Some(outcome.blob_gas_used);
    header.transactions_root = outcome.transactions_root;
    header.receipts_root = outcome.receipts_root;
    header.logs_bloom = outcome.logs_bloom;
    header.withdrawals_root = outcome.withdrawals_root;
    header.requests_hash = outcome.requests_hash;
    header.state_root = db.apply(&bundle)?;
    Ok(outcome.receipts)
}

/// The header fields a block's execution decides, as the execution gives them (the state root
/// aside: it comes from applying the changes to the witness's tries).
struct Outcome {
    gas_used: u64,
    blob_gas_used: u64,
    transactions_root: B256,
    receipts_root: B256,
    logs_bloom: Bloom,
    withdrawals_root: Option<B256>,
    requests_hash: Option<B256>,
    receipts: Vec<ReceiptEnvelope>,
}

impl Outcome {
    /// Checks `header`'s fields against the execution's, in the order a client checks them.
    fn check(&self, spec: &ChainSpec, header: &Header) -> Result<(), EvmError> {
        let mismatch = |field, header: String, computed: String| {
            Err(EvmError::HeaderMismatch {
                field,
                header,
                computed,
            })
        };
        if self.gas_used != header.gas_used {
            return mismatch(
                "gas used",
                header.gas_used.to_string(),
                self.gas_used.to_string(),
            );
        }
        if header.blob_gas_used != Some(self.blob_gas_used) {
            return mismatch(
                "blob gas used",
                format!("{:?}", header.blob_gas_used),
                self.blob_gas_used.to_string(),
            );
        }
        if self.transactions_root != header.transactions_root {
            return mismatch(
                "transactions root",
                header.transactions_root.to_string(),
                self.transactions_root.to_string(),
            );
        }
        if self.receipts_root != header.receipts_root {
            return mismatch(
                "receipts root",
                header.receipts_root.to_string(),
                self.receipts_root.to_string(),
            );
        }
        if self.logs_bloom != header.logs_bloom {
            return mismatch(
                "logs bloom",
                header.logs_bloom.to_string(),
                self.logs_bloom.to_string(),
            );
        }
        if self.withdrawals_root != header.withdrawals_root {
            return mismatch(
                "withdrawals root",
                format!("{:?}", header.withdrawals_root),
                format!("{:?}", self.withdrawals_root),
            );
        }
        if spec.is_prague_active_at_timestamp(header.timestamp)
            && header.requests_hash != self.requests_hash
        {
            return mismatch(
                "requests hash",
                format!("{:?}", header.requests_hash),
                format!("{:?}", self.requests_hash),
            );
        }
        Ok(())
    }
}

/// The request contracts of EIP-7002 and EIP-7251 must hold code when the block ends (their
/// system calls succeed on an empty account, so the executor does not catch it; the EIPs make
/// such a block invalid). Both accounts were read by those calls: no witness is added.
fn check_request_contracts(state: &mut State<&mut WitnessDb>) -> Result<(), EvmError> {
    for (eip, address) in [
        ("EIP-7002", WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS),
        ("EIP-7251", CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS),
    ] {
        let account = revm::Database::basic(state, address).map_err(state_error)?;
        if account.is_none_or(|account| account.code_hash == KECCAK256_EMPTY) {
            return Err(EvmError::MissingSystemContract { eip, address });
        }
    }
    Ok(())
}

/// An error of the execution's state: a missing witness node or code is the witness's.
pub(crate) fn state_error(error: EvmDatabaseError<WitnessError>) -> EvmError {
    match error {
        EvmDatabaseError::Database(missing) => EvmError::Witness(missing),
        other => EvmError::Execution(other.to_string()),
    }
}

/// Executes `block` on the state of root `pre_state_root` read from `db`: what the execution
/// decides of the header, and the state changes (not yet applied to the tries).
fn execute(
    spec: &ChainSpec,
    block: &Block<TxEnvelope>,
    pre_state_root: B256,
    db: &mut WitnessDb,
    credits: Option<BridgeCredits<'_>>,
) -> Result<(Outcome, BundleState), EvmError> {
    let header = &block.header;
    let blob_params = spec.blob_params(header.timestamp)?;
    // The body's last list is optional in the encoding, not after Shanghai (every supported
    // fork): a body without it is malformed, not a block with a mismatching withdrawals root.
    let Some(withdrawals) = &block.body.withdrawals else {
        return Err(EvmError::Decode(alloy_rlp::Error::Custom(
            "a block after Shanghai carries a withdrawals list",
        )));
    };
    // Senders in parallel: recovery is most of a block's signature cost.
    let transactions: Vec<Recovered<TxEnvelope>> = block
        .body
        .transactions
        .par_iter()
        .enumerate()
        .map(|(index, tx)| {
            tx.clone()
                .try_into_recovered()
                .map_err(|_| EvmError::BadSignature { index })
        })
        .collect::<Result<_, _>>()?;

    // The root set once: what the credits read is part of the witness the block uses.
    db.set_root(pre_state_root);
    if let Some(credits) = credits {
        let expected = credit_withdrawals(db, credits)?;
        if expected != withdrawals.as_slice() {
            return Err(bridge::BridgeError::Withdrawals {
                expected: format!("{expected:?}"),
                found: format!("{:?}", withdrawals.as_slice()),
            }
            .into());
        }
    }
    let mut state = State::builder()
        .with_database(&mut *db)
        .with_bundle_update()
        .build();
    // On a chain shared with numbered models the withdrawals are the bridge's credits, paid in
    // at the start of the block (`docs/CROSS_MODEL.md`); elsewhere they are Ethereum's, applied
    // by the executor after the transactions.
    let executor_withdrawals = match credits {
        Some(_) => {
            state
                .increment_balances(withdrawals.iter().map(|w| {
                    (
                        w.address,
                        u128::from(w.amount).saturating_mul(u128::from(bridge::WEI_PER_UNIT)),
                    )
                }))
                .map_err(state_error)?;
            Cow::Owned(Vec::new())
        }
        None => Cow::Borrowed(withdrawals.as_slice()),
    };
    let evm_env = EvmEnv::for_eth_block(header, spec, spec.chain_id(), Some(blob_params));
    let factory = EthBlockExecutorFactory::new(
        AlloyReceiptBuilder::default(),
        spec.clone(),
        EthEvmFactory::default(),
    );
    let evm = factory.evm_factory().create_evm(&mut state, evm_env);
    let ctx = EthBlockExecutionCtx {
        parent_hash: header.parent_hash,
        parent_beacon_block_root: header.parent_beacon_block_root,
        ommers: &block.body.ommers,
        withdrawals: Some(executor_withdrawals),
        extra_data: header.extra_data.clone(),
        tx_count_hint: Some(transactions.len()),
        slot_number: None,
    };
    let executor = factory.create_executor(evm, ctx);
    let result = match executor.execute_block(transactions.iter()) {
        Ok(result) => result,
        Err(error) => {
            // A missing witness node or code is the witness's fault, not the block's.
            if let Some(missing) = state.database.take_error() {
                return Err(missing.into());
            }
            return Err(EvmError::Execution(error.to_string()));
        }
    };
    if spec.is_prague_active_at_timestamp(header.timestamp) {
        check_request_contracts(&mut state)?;
    }
    state.merge_transitions(BundleRetention::PlainState);
    let mut bundle = state.take_bundle();
    if let Some(credits) = credits {
        record_credits(&mut state, &mut bundle, credits)?;
    }
    let outcome = Outcome {
        gas_used: result.gas_used,
        blob_gas_used: result.blob_gas_used,
        transactions_root: calculate_transaction_root(&block.body.transactions),
        receipts_root: calculate_receipt_root(&result.receipts),
        logs_bloom: result
            .receipts
            .iter()
            .fold(Bloom::ZERO, |bloom, receipt| bloom | receipt.bloom()),
        withdrawals_root: Some(calculate_withdrawals_root(withdrawals)),
        requests_hash: spec
            .is_prague_active_at_timestamp(header.timestamp)
            .then(|| Requests::requests_hash(&result.requests)),
        receipts: result.receipts,
    };
    Ok((outcome, bundle))
}
