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
use alloy_consensus::{Block, Header, TxEnvelope, TxReceipt};
use alloy_eips::eip7685::Requests;
use alloy_evm::block::{BlockExecutor, BlockExecutorFactory};
use alloy_evm::eth::receipt_builder::AlloyReceiptBuilder;
use alloy_evm::eth::{EthBlockExecutionCtx, EthBlockExecutorFactory};
use alloy_evm::{EthEvmFactory, EvmEnv, EvmFactory};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{B256, Bloom};
use rayon::prelude::*;
use revm::database::State;
use revm::database::states::bundle_state::BundleRetention;
use thiserror::Error;

pub use chain::{HeaderChain, LinkError, block_header, decode_header};
pub use header::check_against_parent;
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
) -> Result<CheckedBlock, EvmError> {
    execute_block(spec, block, pre_state_root, &mut db)
}

/// [`verify_block`], leaving the database for the caller to read afterwards: the witness data
/// the checks used ([`WitnessDb::used`]) and the state after the block
/// ([`WitnessDb::state_nodes`]). A prover runs this over its full state to learn a block's
/// minimal witness, so the witness is exactly what these same checks read.
pub fn execute_block(
    spec: &ChainSpec,
    block: &Block<TxEnvelope>,
    pre_state_root: B256,
    db: &mut WitnessDb,
) -> Result<CheckedBlock, EvmError> {
    let header = &block.header;
    let blob_params = spec.blob_params(header.timestamp)?;
    header::check_header(header, &block.body.ommers)?;
    // The body's last list is optional in the encoding, not after Shanghai (every supported
    // fork): a body without it is malformed, not a block with a mismatching withdrawals root.
    if block.body.withdrawals.is_none() {
        return Err(EvmError::Decode(alloy_rlp::Error::Custom(
            "a block after Shanghai carries a withdrawals list",
        )));
    }
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

    db.set_root(pre_state_root);
    let mut state = State::builder()
        .with_database(&mut *db)
        .with_bundle_update()
        .build();
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
        withdrawals: block
            .body
            .withdrawals
            .as_ref()
            .map(|w| Cow::Borrowed(w.as_slice())),
        extra_data: header.extra_data.clone(),
        tx_count_hint: Some(transactions.len()),
        slot_number: None,
    };
    let executor = factory.create_executor(evm, ctx);
    let result = executor.execute_block(transactions.iter());
    let result = match result {
        Ok(result) => result,
        Err(error) => {
            // A missing witness node or code is the witness's fault, not the block's.
            if let Some(missing) = state.database.take_error() {
                return Err(missing.into());
            }
            return Err(EvmError::Execution(error.to_string()));
        }
    };
    state.merge_transitions(BundleRetention::PlainState);
    let bundle = state.take_bundle();
    drop(state);

    let mismatch = |field, header: String, computed: String| {
        Err(EvmError::HeaderMismatch {
            field,
            header,
            computed,
        })
    };
    if result.gas_used != header.gas_used {
        return mismatch(
            "gas used",
            header.gas_used.to_string(),
            result.gas_used.to_string(),
        );
    }
    if header.blob_gas_used != Some(result.blob_gas_used) {
        return mismatch(
            "blob gas used",
            format!("{:?}", header.blob_gas_used),
            result.blob_gas_used.to_string(),
        );
    }
    let transactions_root = calculate_transaction_root(&block.body.transactions);
    if transactions_root != header.transactions_root {
        return mismatch(
            "transactions root",
            header.transactions_root.to_string(),
            transactions_root.to_string(),
        );
    }
    let receipts_root = calculate_receipt_root(&result.receipts);
    if receipts_root != header.receipts_root {
        return mismatch(
            "receipts root",
            header.receipts_root.to_string(),
            receipts_root.to_string(),
        );
    }
    let bloom = result
        .receipts
        .iter()
        .fold(Bloom::ZERO, |bloom, receipt| bloom | receipt.bloom());
    if bloom != header.logs_bloom {
        return mismatch(
            "logs bloom",
            header.logs_bloom.to_string(),
            bloom.to_string(),
        );
    }
    let withdrawals_root = block
        .body
        .withdrawals
        .as_ref()
        .map(|w| calculate_withdrawals_root(w));
    if withdrawals_root != header.withdrawals_root {
        return mismatch(
            "withdrawals root",
            format!("{:?}", header.withdrawals_root),
            format!("{withdrawals_root:?}"),
        );
    }
    if spec.is_prague_active_at_timestamp(header.timestamp) {
        let requests_hash = Requests::requests_hash(&result.requests);
        if header.requests_hash != Some(requests_hash) {
            return mismatch(
                "requests hash",
                format!("{:?}", header.requests_hash),
                requests_hash.to_string(),
            );
        }
    }
    let post_state_root = db.apply(&bundle)?;
    if post_state_root != header.state_root {
        return mismatch(
            "state root",
            header.state_root.to_string(),
            post_state_root.to_string(),
        );
    }
    Ok(CheckedBlock {
        header: header.clone(),
        hash: header.hash_slow(),
    })
}
