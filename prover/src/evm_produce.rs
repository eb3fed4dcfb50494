//! The prover as the block producer of the `evm` chains it generates: it orders the given
//! transactions into a block on top of the last one, fills in the header fields its execution
//! decides ([`verifier::evm::seal_block`], the verifier's own execution), checks the sealed
//! block with the verifier's checks over its full state, keeps the new state in one durable
//! commit, and appends the block with its minimal witness to the chain.
//!
//! A generated chain starts from a genesis block the producer makes from the allocation: block
//! 0 at timestamp 0, its header in the chain's genesis, so block 1 gets every check against
//! its parent. Blocks follow every 12 seconds; the gas limit stays the genesis's.

use std::path::Path;

use alloy_consensus::{
    Block, BlockBody, EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header, ReceiptEnvelope, TxEnvelope,
};
use alloy_eips::eip4895::Withdrawals;
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, B256, U256, keccak256};
use thiserror::Error;
use verifier::ChainVerifier;
use verifier::evm::bridge::{BridgeCredits, EvmCredit};
use verifier::evm::{ChainSpec, EvmError, decode_block, inherited_fees, seal_block};
use witness_format::limits::MAX_CREDITS_PER_BLOB;
use witness_format::ssz_types::VariableList;
use witness_format::{
    Blob, EvmCreditWitness, EvmWitness, Genesis, Hash32, HistoryProof, Model, Transaction, Witness,
};

use crate::evm_import::{EvmChainBuilder, ImportError, ImportedChain, anchored_genesis};
use crate::evm_state::{EvmState, EvmStateError, check_block, state_of};
use crate::evm_workload::EvmAllocation;
use crate::state::EvmChannels;
use crate::{BlockOptions, BlockReport, ProverError, ProverState};

/// Seconds between blocks.
pub const BLOCK_SECONDS: u64 = 12;

/// The base fee of the genesis block (EIP-1559's initial base fee).
const INITIAL_BASE_FEE: u64 = 1_000_000_000;

/// Who receives the priority fees of generated blocks.
const BENEFICIARY: Address = Address::new([0xbe; 20]);

/// Why a block could not be produced.
#[derive(Debug, Error)]
pub enum ProduceError {
    /// The prover's store failed.
    #[error(transparent)]
    State(#[from] EvmStateError),
    /// The chain could not be assembled.
    #[error(transparent)]
    Chain(#[from] ImportError),
    /// The blocks to resume from are not this chain's.
    #[error("cannot resume: {0}")]
    Resume(String),
    /// More credits than one block carries (`MAX_CREDITS_PER_BLOB`).
    #[error("{count} credits are more than one evm block carries")]
    TooManyCredits {
        /// The credits given.
        count: usize,
    },
    /// The state of the numbered models of the chain the `evm` model shares failed.
    #[error(transparent)]
    Shared(#[from] Box<ProverError>),
    /// The block breaks a rule (an invalid transaction, say).
    #[error("block {number}: {error}")]
    Invalid {
        /// The block's number.
        number: u64,
        /// The rule it breaks.
        error: EvmError,
    },
}

/// The fork schedule of `allocation`'s chain.
fn spec_of(allocation: &EvmAllocation) -> Result<ChainSpec, ProduceError> {
    ChainSpec::new(allocation.chain_id, allocation.schedule)
        .map_err(|error| ProduceError::Invalid { number: 0, error })
}

/// The genesis block of a generated chain: block 0 at timestamp 0 over `state_root`.
fn genesis_header(spec: &ChainSpec, state_root: B256, gas_limit: u64) -> Header {
    Header {
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        gas_limit,
        base_fee_per_gas: Some(INITIAL_BASE_FEE),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: spec
            .is_prague_active_at_timestamp(0)
            .then_some(EMPTY_REQUESTS_HASH),
        ..Header::default()
    }
}

/// A produced block and its minimal witness.
struct Produced {
    rlp: Vec<u8>,
    nodes: Vec<Vec<u8>>,
    codes: Vec<Vec<u8>>,
    /// How many ancestor hashes it reads (newest first).
    ancestors: usize,
}

/// An `evm` chain being produced, its state in the prover's database.
pub struct EvmProducer {
    spec: ChainSpec,
    state: EvmState,
    chain: EvmChainBuilder,
    parent: Header,
    /// The models of the chain the `evm` model shares with numbered ones (its bridge's);
    /// empty for a chain of its own.
    chain_models: Vec<Model>,
}

impl EvmProducer {
    /// A new chain whose genesis is `allocation` (its fork a fixed one: `Cancun` or `Prague`);
    /// its state in a database at `db`, created if missing. The store only ever gains nodes,
    /// so creating over an existing one (of a run that stopped) loses nothing.
    pub fn create(db: &Path, allocation: &EvmAllocation) -> Result<Self, ProduceError> {
        let spec = spec_of(allocation)?;
        let (state, state_root) = EvmState::create(db, &allocation.accounts)?;
        let parent = genesis_header(&spec, state_root, allocation.gas_limit);
        let genesis = anchored_genesis(allocation.chain_id, allocation.schedule, &parent)?;
        Ok(Self {
            spec,
            state,
            chain: EvmChainBuilder::new(genesis)?,
            parent,
            chain_models: Vec::new(),
        })
    }

    /// Resumes the chain of `allocation` (as [`EvmProducer::create`] made it) from the blocks a
    /// run already produced, `genesis` and `blocks` (a chain directory's; no genesis when a run
    /// stopped before writing it, and then no blocks), its state in the existing database at
    /// `db`. The
    /// blocks must be that chain's and pass the chain verifier; the store, append-only, holds
    /// every state a run committed.
    pub fn resume(
        db: &Path,
        allocation: &EvmAllocation,
        genesis: Option<&Genesis>,
        blocks: &[witness_format::Block],
    ) -> Result<Self, ProduceError> {
        let mut producer = Self::reopen(db, allocation)?;
        if genesis.is_some_and(|genesis| genesis != producer.genesis()) {
            return Err(ProduceError::Resume(
                "the chain directory's genesis is not this workload's".into(),
            ));
        }
        let mut verifier = ChainVerifier::new(producer.genesis())
            .map_err(|e| ProduceError::Resume(format!("the chain directory: {e}")))?;
        verifier
            .verify_blocks(blocks)
            .map_err(|e| ProduceError::Resume(format!("the chain directory: {e}")))?;
        let witnesses = blocks
            .iter()
            .map(|block| match block.blobs.first().map(|b| &b.witness) {
                Some(Witness::Evm(witness)) => Ok(witness),
                _ => Err(ProduceError::Resume(format!(
                    "block {} of the chain directory has no evm blob",
                    block.header.height
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        for witness in witnesses {
            producer.replay(witness, true)?;
        }
        Ok(producer)
    }

    /// `allocation`'s chain at its genesis block, its state in the existing database at `db`.
    fn reopen(db: &Path, allocation: &EvmAllocation) -> Result<Self, ProduceError> {
        let spec = spec_of(allocation)?;
        let (state_root, _) = state_of(&allocation.accounts)?;
        let parent = genesis_header(&spec, state_root, allocation.gas_limit);
        let genesis = anchored_genesis(allocation.chain_id, allocation.schedule, &parent)?;
        Ok(Self {
            spec,
            state: EvmState::open(db)?,
            chain: EvmChainBuilder::new(genesis)?,
            parent,
            chain_models: Vec::new(),
        })
    }

    /// Follows the `evm` blob of a block of a chain the model shares with others, produced
    /// earlier ([`EvmProducer::produce_blob`]) and kept in that chain (the prover's own,
    /// checked when it was built): how a producer made with [`EvmProducer::create`] on the
    /// existing store resumes. Its next blocks come after it.
    pub fn follow_shared(&mut self, witness: &EvmWitness) -> Result<(), ProduceError> {
        self.replay(witness, false)
    }

    /// Follows a block produced earlier, given as its `evm` witness: as a block of this
    /// chain (`push`) or as a blob of a shared one.
    fn replay(&mut self, witness: &EvmWitness, push: bool) -> Result<(), ProduceError> {
        let nodes = witness.nodes.iter().map(|n| n.to_vec()).collect();
        let codes = witness.codes.iter().map(|c| c.to_vec()).collect();
        let ancestors = witness.ancestor_hashes.len();
        if push {
            self.chain.push(&witness.block, nodes, codes, ancestors)?;
        } else {
            self.chain
                .next_blob(&witness.block, nodes, codes, ancestors)?;
        }
        self.parent = decode_block(&witness.block)
            .map_err(|error| ProduceError::Invalid {
                number: self.parent.number.saturating_add(1),
                error,
            })?
            .header;
        Ok(())
    }

    /// Produces for a chain of `models`, the `evm` model among numbered ones: its blocks pay in
    /// the credits given to [`EvmProducer::produce_blob`] ([`BridgeCredits`]).
    pub fn share_with(&mut self, models: &[Model]) {
        self.chain_models = models.to_vec();
    }

    /// Of `candidates` (the numbered models' channels with `evm` accounts and their sent
    /// totals, ascending), the credits the state after the last block can pay.
    pub fn payable_credits(
        &self,
        candidates: &[EvmCredit],
    ) -> Result<Vec<EvmCredit>, ProduceError> {
        let root = B256::from(self.chain.state_root().0);
        Ok(self.state.payable_credits(root, candidates)?)
    }

    /// The chain's genesis.
    pub fn genesis(&self) -> &Genesis {
        self.chain.genesis()
    }

    /// The header of the last block (the genesis block's before any).
    pub fn head(&self) -> &Header {
        &self.parent
    }

    /// The producer's store: every state it committed.
    pub fn state(&self) -> &EvmState {
        &self.state
    }

    /// The bridge contract's storage slot `slot` after the last block
    /// (`verifier::evm::bridge::channel_slot`, `credited_slot`).
    pub fn bridge_slot(&self, slot: U256) -> Result<U256, ProduceError> {
        Ok(self.state.bridge_slot(self.parent.state_root, slot)?)
    }

    /// The balance of `address` after the last block.
    pub fn balance(&self, address: Address) -> Result<U256, ProduceError> {
        Ok(self.state.balance(self.parent.state_root, address)?)
    }

    /// The fork schedule.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The next block's header before sealing: its place in the chain and what its parent
    /// decides (base fee, excess blob gas).
    fn next_header(&self) -> Result<Header, ProduceError> {
        let parent = &self.parent;
        let number = parent.number.saturating_add(1);
        let timestamp = parent.timestamp.saturating_add(BLOCK_SECONDS);
        let invalid = |error| ProduceError::Invalid { number, error };
        let blob_params = self.spec.blob_params(timestamp).map_err(invalid)?;
        let (base_fee_per_gas, excess_blob_gas) = inherited_fees(parent, blob_params);
        Ok(Header {
            parent_hash: parent.hash_slow(),
            beneficiary: BENEFICIARY,
            number,
            timestamp,
            gas_limit: parent.gas_limit,
            // Stand-ins for the beacon chain's randomness and block root: deterministic, so a
            // generated chain is reproducible.
            mix_hash: keccak256(number.to_be_bytes()),
            parent_beacon_block_root: Some(keccak256(parent.hash_slow())),
            base_fee_per_gas,
            excess_blob_gas,
            ..Header::default()
        })
    }

    /// Produces the next block from `transactions`, in order, and appends it to this chain;
    /// returns its receipts. The block is checked by the verifier's rules before its state is
    /// kept: a block that breaks one is an error and changes nothing.
    pub fn produce(
        &mut self,
        transactions: Vec<TxEnvelope>,
    ) -> Result<Vec<ReceiptEnvelope>, ProduceError> {
        let (produced, receipts) = self.produce_block(transactions, &[])?;
        self.chain.push(
            &produced.rlp,
            produced.nodes,
            produced.codes,
            produced.ancestors,
        )?;
        Ok(receipts)
    }

    /// [`EvmProducer::produce`] for a chain the `evm` model shares with other models: the
    /// block's `evm` blob, for the caller to put in its block (this chain's own list of
    /// blocks stays empty). The block pays in `credits` (payable ones,
    /// [`EvmProducer::payable_credits`]), each with its receipt, in order.
    pub fn produce_blob(
        &mut self,
        transactions: Vec<TxEnvelope>,
        credits: &[EvmCredit],
        receipts: Vec<HistoryProof>,
    ) -> Result<Blob, ProduceError> {
        let (produced, _) = self.produce_block(transactions, credits)?;
        let mut blob = self.chain.next_blob(
            &produced.rlp,
            produced.nodes,
            produced.codes,
            produced.ancestors,
        )?;
        if !receipts.is_empty() {
            let count = receipts.len();
            let receipts =
                VariableList::new(receipts).map_err(|_| ProduceError::TooManyCredits { count })?;
            blob.witness = match blob.witness {
                Witness::Evm(evm) => Witness::EvmCredits(EvmCreditWitness { evm, receipts }),
                other => other,
            };
        }
        Ok(blob)
    }

    /// The next block from `transactions`: sealed, checked, its state kept.
    fn produce_block(
        &mut self,
        transactions: Vec<TxEnvelope>,
        credits: &[EvmCredit],
    ) -> Result<(Produced, Vec<ReceiptEnvelope>), ProduceError> {
        let shared = self
            .chain_models
            .iter()
            .any(|m| Model::NUMBERED.contains(m));
        let credits = shared.then_some(BridgeCredits {
            models: &self.chain_models,
            credits,
        });
        let mut block = Block {
            header: self.next_header()?,
            body: BlockBody {
                transactions,
                ommers: Vec::new(),
                withdrawals: Some(Withdrawals::default()),
            },
        };
        let number = block.header.number;
        let invalid = |error| ProduceError::Invalid { number, error };
        let pre_state_root = B256::from(self.chain.state_root().0);
        let ancestors: Vec<B256> = self
            .chain
            .ancestors()
            .iter()
            .map(|h| B256::from(h.0))
            .collect();
        let mut db = self.state.full_db(number, &ancestors)?;
        let unread = db.fresh();
        let receipts = seal_block(&self.spec, &mut block, pre_state_root, &mut db, credits)
            .map_err(invalid)?;
        // The check: the verifier's execution of the sealed block over the same state, whose
        // reads are its witness.
        let proven = check_block(&self.spec, &block, pre_state_root, unread, credits);
        proven.verdict.as_ref().map_err(|e| invalid(e.clone()))?;
        // Kept before the block is appended: the store only ever gains nodes, so a block the
        // chain then refuses leaves it as good as before.
        self.state.commit(&proven)?;
        let produced = Produced {
            rlp: alloy_rlp::encode(&block),
            ancestors: proven.ancestors_used(number),
            nodes: proven.used.nodes,
            codes: proven.used.codes,
        };
        self.parent = block.header;
        Ok((produced, receipts))
    }

    /// The blocks produced so far.
    pub fn blocks(&self) -> &[witness_format::Block] {
        self.chain.blocks()
    }

    /// The genesis and the blocks produced.
    pub fn finish(self) -> ImportedChain {
        self.chain.finish()
    }
}

impl EvmChannels for EvmProducer {
    fn sent_totals(&self, root: Hash32, channels: &[(Model, u64)]) -> Result<Vec<U256>, String> {
        self.state
            .channel_totals(B256::from(root.0), channels)
            .map_err(|e| e.to_string())
    }

    fn sent_proofs(
        &self,
        root: Hash32,
        channels: &[(Model, u64)],
    ) -> Result<Vec<Vec<Vec<u8>>>, String> {
        self.state
            .channel_proofs(B256::from(root.0), channels)
            .map_err(|e| e.to_string())
    }
}

/// Builds the next block of a chain the `evm` model shares with numbered ones, `state` (theirs)
/// and `producer` (the `evm` model's, [`EvmProducer::share_with`] the chain's models): the
/// `evm` block of `transactions`, paying in the credits the numbered models' channels with
/// `evm` accounts make payable, when it has either; then the numbered models' `batches` and
/// credits, in the state's one durable commit. The `evm` store keeps its block's state first:
/// it only gains nodes, so a crash in between leaves nothing a re-run does not produce again.
pub fn build_shared_block(
    state: &mut ProverState,
    producer: &mut EvmProducer,
    batches: &[(Model, &[Transaction])],
    transactions: Option<Vec<TxEnvelope>>,
    options: BlockOptions,
) -> Result<(witness_format::Block, BlockReport), ProduceError> {
    let candidates = state.evm_channel_totals().map_err(Box::new)?;
    let mut credits = producer.payable_credits(&candidates)?;
    // At most a block's worth; the rest, in order, in the next blocks.
    credits.truncate(MAX_CREDITS_PER_BLOB);
    let evm_blob = if transactions.is_some() || !credits.is_empty() {
        let receipts = state.evm_credit_receipts(&credits).map_err(Box::new)?;
        let transactions = transactions.unwrap_or_default();
        Some(producer.produce_blob(transactions, &credits, receipts)?)
    } else {
        None
    };
    let built = state
        .build_block_with_evm(batches, evm_blob, Some(&*producer), options)
        .map_err(Box::new)?;
    Ok(built)
}
