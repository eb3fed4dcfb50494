//! The `evm` prover's state: every trie node (account and storage tries) and every code, by
//! hash, in redb. A block is executed with the verifier's own checks
//! ([`verifier::evm::execute_block`]) over the whole state, and its witness is exactly what
//! those checks used: a minimal witness, read by the same code that will check it. The nodes of
//! the state after a valid block are added in one durable commit; nothing is ever removed, so
//! every earlier state root stays readable (and a crash leaves the last commit).
//!
//! Being append-only and keyed by hash, the store needs no record of how far a chain got: a
//! producer resuming from a chain directory finds every state it committed.
//!
//! The whole store is read into memory for each block: right for the test suite's states (tens
//! of accounts), not for mainnet's; reading nodes on demand is the next step.

use std::path::Path;

use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::TrieAccount;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use thiserror::Error;
use verifier::evm::bridge::{
    BridgeCredits, EvmCredit, payable_credits, read_bridge_slot, read_channel,
};
use verifier::evm::{ChainSpec, CheckedBlock, EvmError, UsedWitness, WitnessDb, execute_block};
use verifier::mpt::{EMPTY_ROOT, PartialTrie};
use witness_format::Model;

const NODES: TableDefinition<'static, [u8; 32], &'static [u8]> = TableDefinition::new("evm/nodes");
const CODES: TableDefinition<'static, [u8; 32], &'static [u8]> = TableDefinition::new("evm/codes");

/// Why the `evm` prover's store failed.
#[derive(Debug, Error)]
#[error("evm state: {0}")]
pub struct EvmStateError(String);

fn failed(error: impl std::fmt::Display) -> EvmStateError {
    EvmStateError(error.to_string())
}

/// One account of an initial state.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GenesisAccount {
    /// Its address.
    pub address: Address,
    /// Its nonce.
    pub nonce: u64,
    /// Its balance.
    pub balance: U256,
    /// Its code (empty for none).
    pub code: Bytes,
    /// Its storage: (slot, value); zero values hold nothing.
    pub storage: Vec<(U256, U256)>,
}

/// The state root of `accounts` and every node of its tries.
pub fn state_of(accounts: &[GenesisAccount]) -> Result<(B256, Vec<Vec<u8>>), EvmStateError> {
    let mut trie = PartialTrie::new(EMPTY_ROOT, [], 32);
    let mut nodes = Vec::new();
    for account in accounts {
        let mut storage = trie.sibling(EMPTY_ROOT, 32);
        for (slot, value) in &account.storage {
            if value.is_zero() {
                continue;
            }
            let key = keccak256(B256::from(*slot));
            storage
                .insert(key.as_slice(), alloy_rlp::encode(value))
                .map_err(failed)?;
        }
        nodes.extend(storage.encoded_nodes());
        let leaf = TrieAccount {
            nonce: account.nonce,
            balance: account.balance,
            storage_root: B256::from(storage.root().map_err(failed)?),
            code_hash: keccak256(&account.code),
        };
        trie.insert(
            keccak256(account.address).as_slice(),
            alloy_rlp::encode(leaf),
        )
        .map_err(failed)?;
    }
    nodes.extend(trie.encoded_nodes());
    Ok((B256::from(trie.root().map_err(failed)?), nodes))
}

/// A block's execution by the prover: the verdict of the verifier's checks, and what they used.
#[derive(Debug)]
pub struct ProvenBlock {
    /// The checks' verdict.
    pub verdict: Result<CheckedBlock, EvmError>,
    /// The witness they used (as far as they got, for a block they reject).
    pub used: UsedWitness,
    /// The nodes of the state after the block (valid blocks only).
    state_nodes: Vec<Vec<u8>>,
    /// The codes the block deployed (valid blocks only).
    new_codes: Vec<Vec<u8>>,
}

impl ProvenBlock {
    /// How many of the chain's last block hashes the block read (BLOCKHASH, EIP-2935 aside):
    /// its witness carries that many, parent first.
    pub fn ancestors_used(&self, number: u64) -> usize {
        self.used.oldest_block_hash.map_or(0, |oldest| {
            usize::try_from(number.saturating_sub(oldest)).unwrap_or(usize::MAX)
        })
    }
}

/// Executes `block` on the state of root `pre_state_root` in `db` with the verifier's checks:
/// the verdict, and the minimal witness of what the checks read.
///
/// `credits` are what the block pays in on a chain shared with numbered models
/// ([`BridgeCredits`]); `None` on an `evm` chain of its own.
pub fn check_block(
    spec: &ChainSpec,
    block: &Block<TxEnvelope>,
    pre_state_root: B256,
    mut db: WitnessDb,
    credits: Option<BridgeCredits<'_>>,
) -> ProvenBlock {
    let verdict = execute_block(spec, block, pre_state_root, &mut db, credits);
    let (state_nodes, new_codes) = if verdict.is_ok() {
        (db.state_nodes(), db.new_codes().to_vec())
    } else {
        (Vec::new(), Vec::new())
    };
    ProvenBlock {
        verdict,
        used: db.used(),
        state_nodes,
        new_codes,
    }
}

/// Every trie node and every code of the store.
type Everything = (Vec<Vec<u8>>, Vec<Vec<u8>>);

/// The prover's store of every `evm` state it has seen.
pub struct EvmState {
    db: Database,
}

impl EvmState {
    /// Creates the store at `path`, holding `accounts` (codes and trie nodes); returns it and
    /// the state root.
    pub fn create(path: &Path, accounts: &[GenesisAccount]) -> Result<(Self, B256), EvmStateError> {
        let db = Database::create(path).map_err(failed)?;
        let (root, nodes) = state_of(accounts)?;
        let state = Self { db };
        let codes = accounts
            .iter()
            .map(|a| a.code.to_vec())
            .filter(|c| !c.is_empty());
        state.add(nodes, codes.collect())?;
        Ok((state, root))
    }

    /// Opens the existing store at `path`.
    pub fn open(path: &Path) -> Result<Self, EvmStateError> {
        Ok(Self {
            db: Database::open(path).map_err(failed)?,
        })
    }

    /// Adds nodes and codes in one durable commit.
    fn add(&self, nodes: Vec<Vec<u8>>, codes: Vec<Vec<u8>>) -> Result<(), EvmStateError> {
        let write = self.db.begin_write().map_err(failed)?;
        {
            let mut table = write.open_table(NODES).map_err(failed)?;
            for node in &nodes {
                table
                    .insert(keccak256(node).0, node.as_slice())
                    .map_err(failed)?;
            }
            let mut table = write.open_table(CODES).map_err(failed)?;
            for code in &codes {
                table
                    .insert(keccak256(code).0, code.as_slice())
                    .map_err(failed)?;
            }
        }
        write.commit().map_err(failed)
    }

    /// Every node and code of the store.
    fn everything(&self) -> Result<Everything, EvmStateError> {
        let read = self.db.begin_read().map_err(failed)?;
        let all = |table: TableDefinition<'static, [u8; 32], &'static [u8]>| {
            let table = read.open_table(table).map_err(failed)?;
            table
                .iter()
                .map_err(failed)?
                .map(|entry| entry.map(|(_, v)| v.value().to_vec()).map_err(failed))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok((all(NODES)?, all(CODES)?))
    }

    /// A witness database over the whole store, for block `number` with the chain's last block
    /// hashes `ancestors` (parent first).
    pub fn full_db(&self, number: u64, ancestors: &[B256]) -> Result<WitnessDb, EvmStateError> {
        let (nodes, codes) = self.everything()?;
        Ok(WitnessDb::new(
            nodes.iter().map(Vec::as_slice),
            codes.iter().map(Vec::as_slice),
            number,
            ancestors.iter().copied(),
        ))
    }

    /// Executes `block` on the state of root `pre_state_root` with the verifier's checks,
    /// `ancestors` the chain's last block hashes (parent first): the verdict, and the minimal
    /// witness of what the checks read.
    pub fn execute(
        &self,
        spec: &ChainSpec,
        block: &Block<TxEnvelope>,
        pre_state_root: B256,
        ancestors: &[B256],
    ) -> Result<ProvenBlock, EvmStateError> {
        let db = self.full_db(block.header.number, ancestors)?;
        Ok(check_block(spec, block, pre_state_root, db, None))
    }

    /// Of `candidates`, the credits into `evm` the state of root `root` can pay
    /// ([`payable_credits`]).
    pub fn payable_credits(
        &self,
        root: B256,
        candidates: &[EvmCredit],
    ) -> Result<Vec<EvmCredit>, EvmStateError> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let mut db = self.full_db(0, &[])?;
        payable_credits(&mut db, root, candidates).map_err(failed)
    }

    /// The bridge contract's storage slot `slot` in the state of root `root`.
    pub fn bridge_slot(&self, root: B256, slot: U256) -> Result<U256, EvmStateError> {
        let mut db = self.full_db(0, &[])?;
        read_bridge_slot(&mut db, root, slot).map_err(failed)
    }

    /// The balance of `address` in the state of root `root` (zero for no account).
    pub fn balance(&self, root: B256, address: Address) -> Result<U256, EvmStateError> {
        let (nodes, _) = self.everything()?;
        let mut trie = PartialTrie::new(root.0, nodes.iter().map(Vec::as_slice), 32);
        let Some(rlp) = trie.get(keccak256(address).as_slice()).map_err(failed)? else {
            return Ok(U256::ZERO);
        };
        let account: TrieAccount = alloy_rlp::decode_exact(&rlp).map_err(failed)?;
        Ok(account.balance)
    }

    /// The bridge contract's sent totals of `channels` (model, account) in the state of root
    /// `root`, in order.
    pub fn channel_totals(
        &self,
        root: B256,
        channels: &[(Model, u64)],
    ) -> Result<Vec<U256>, EvmStateError> {
        if channels.is_empty() {
            return Ok(Vec::new());
        }
        let mut db = self.full_db(0, &[])?;
        channels
            .iter()
            .map(|&(model, account)| {
                read_channel(&mut db, root, model, account)
                    .map(|(_, sent)| sent)
                    .map_err(failed)
            })
            .collect()
    }

    /// The trie nodes proving each of the bridge contract's `channels` (model, account) in the
    /// state of root `root`: what the verifier's reading of each reads. The store is loaded
    /// once for all of them.
    pub fn channel_proofs(
        &self,
        root: B256,
        channels: &[(Model, u64)],
    ) -> Result<Vec<Vec<Vec<u8>>>, EvmStateError> {
        if channels.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.full_db(0, &[])?;
        channels
            .iter()
            .map(|&(model, account)| {
                let mut db = store.fresh();
                read_channel(&mut db, root, model, account).map_err(failed)?;
                Ok(db.used().nodes)
            })
            .collect()
    }

    /// Keeps the state after a valid block (one durable commit).
    pub fn commit(&self, block: &ProvenBlock) -> Result<(), EvmStateError> {
        self.add(block.state_nodes.clone(), block.new_codes.clone())
    }
}
