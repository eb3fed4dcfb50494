//! The prover's full state in redb, and block building.
//!
//! Tables:
//!
//! | table      | key                      | value                                    |
//! |------------|--------------------------|------------------------------------------|
//! | `accounts` | account number           | the leaf, 48 bytes (SSZ `AccountLeaf`)   |
//! | `nodes`    | `level << 64 \| index`   | 32-byte hash, leaves (level 0) included; default (empty) nodes absent |
//! | `blocks`   | height                   | the block file, exactly as exported      |
//! | `headers`  | height (0 = genesis)     | header hash                              |
//! | `history_nodes` | `height << 64 \| index` | 32-byte node `(height, index)` of the history accumulator (leaves: height 0) |
//! | `node_versions` | (`nodes` key, block height `h`) | the node's hash before block `h` changed it (the level's default if it was empty) |
//! | `account_versions` | (account, block height `h`) | the leaf before block `h` changed it (SSZ `AccountLeaf`) |
//! | `meta`     | name                     | genesis file, first height with history  |
//!
//! The database holds one model's state, `transfer` or `zk-transfer`; hashes are the model's
//! ([`crate::tree_hash::ModelTree`]: for `zk-transfer`, field elements in their canonical
//! 32-byte encoding).
//!
//! Every block is one write transaction, committed durably: after a crash the database holds the
//! state after some whole block, and building resumes from there. Blocks are stored in the
//! database too, so the exported chain directory can always be rewritten from it.
//!
//! History (for history proofs, `crate::history`): the accumulator's nodes are stored as they
//! are created, so a leaf's inclusion proof is O(log n) reads and appending is O(log n) writes.
//! `accounts` and `nodes` hold the current state; each block also writes, for every leaf and
//! node it changes, the value it had before the block, under the block's height
//! (`account_versions`, `node_versions`: an undo log). So the value at height `i` is the one
//! saved by the first change after `i` (one forward range read), or the current value if nothing
//! changed it since. That is one write per change and no read (the old value is what the
//! update of the current table returns), and the genesis state costs no extra space.

use std::collections::HashSet;
use std::convert::Infallible;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition};
use thiserror::Error;
use verifier::hash::{blob_commitment, genesis_hash, header_hash};
use verifier::history::{HistoryAccumulator, blobs_root};
use verifier::signature::invalid_indices;
use verifier::transfer::{
    SignedMessage, TouchedState, signature_checks, signing_message, touched_accounts,
};
use verifier::zk_transfer::{hash_to_fr, message_hash};
use verifier::zk_verify::{encode_proof, verifying_key_hash};
use verifier::{ChainParams, Reason, VerifyError, verify_blob};
use witness_format::frame::fits_in_file;
use witness_format::limits::{MAX_FILE_BYTES, MAX_TRANSACTIONS_PER_BLOB};
use witness_format::ssz_types::{BitList, VariableList};
use witness_format::{
    AccountLeaf, Allocation, Blob, Block, Bytes, Genesis, Hash32, Header, MerkleWitness, Model,
    ModelRoot, SszDecode, SszEncode, Transaction, Witness, ZkKeyPin, ZkWitness, decode_file,
    encode_file,
};

use crate::tree_hash::ModelTree;
use crate::zk::circuit::{TransferBatchCircuit, build_witness};
use crate::zk::groth16::{ProvingKey, prove, rng_from_seed};

pub(crate) const ACCOUNTS: TableDefinition<u64, &[u8]> = TableDefinition::new("accounts");
pub(crate) const NODES: TableDefinition<u128, [u8; 32]> = TableDefinition::new("nodes");
pub(crate) const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const HEADERS: TableDefinition<u64, [u8; 32]> = TableDefinition::new("headers");
pub(crate) const HISTORY_NODES: TableDefinition<u128, [u8; 32]> =
    TableDefinition::new("history_nodes");
pub(crate) const NODE_VERSIONS: TableDefinition<(u128, u64), [u8; 32]> =
    TableDefinition::new("node_versions");
pub(crate) const ACCOUNT_VERSIONS: TableDefinition<(u64, u64), &[u8]> =
    TableDefinition::new("account_versions");
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_GENESIS: &str = "genesis";
/// The first height whose state the version tables can give: 0, or for a database written
/// before they existed, its height when it was first opened by a version that keeps them
/// (the undo log has no entries for the blocks before).
pub(crate) const META_HISTORY_FROM: &str = "history_from";

/// Why the prover failed. None of these leaves the database half-written.
#[derive(Debug, Error)]
pub enum ProverError {
    /// The database refused (including: another process has it open).
    #[error("database: {0}")]
    Database(#[from] redb::Error),
    /// The database belongs to another chain than the one asked for.
    #[error("database holds chain {found}, not the workload's chain {expected}")]
    WrongChain {
        /// The genesis hash asked for.
        expected: Hash32,
        /// The genesis hash in the database.
        found: Hash32,
    },
    /// The database content is not what this prover wrote.
    #[error("database is corrupt: {0}")]
    Corrupt(String),
    /// A blob the prover built does not pass the verifier: a bug, never written.
    #[error("built an invalid blob: {0}")]
    InvalidBlob(VerifyError),
    /// The block would not fit in a file; nothing was committed.
    #[error(
        "block of {bytes} bytes exceeds the file limit of {MAX_FILE_BYTES}: submit fewer transactions per block"
    )]
    BlockTooLarge {
        /// The block's encoded size.
        bytes: usize,
    },
    /// The allocation is unusable.
    #[error("invalid allocation: {0}")]
    InvalidAllocation(String),
    /// The file is not a prover database: it holds no genesis.
    #[error("not a prover database (no genesis stored)")]
    NotInitialized,
    /// A history proof's tip must be a block built so far.
    #[error("tip {tip} is not a built block (built: 1..={height})")]
    TipOutOfRange {
        /// The tip asked for.
        tip: u64,
        /// The last block built.
        height: u64,
    },
    /// A history fact must be at or below the tip.
    #[error("height {height} is above the tip {tip}")]
    FactAboveTip {
        /// The fact's height.
        height: u64,
        /// The tip.
        tip: u64,
    },
    /// The block has no such blob.
    #[error("block {height} has {blobs} blobs, no blob {blob}")]
    NoSuchBlob {
        /// The block's height.
        height: u64,
        /// The blob asked for.
        blob: u64,
        /// Blobs in the block.
        blobs: u64,
    },
    /// The blob has no such transaction.
    #[error(
        "block {height}, blob {blob} has {transactions} transactions, no transaction {transaction}"
    )]
    NoSuchTransaction {
        /// The block's height.
        height: u64,
        /// The blob.
        blob: u64,
        /// The transaction asked for.
        transaction: u64,
        /// Transactions in the blob.
        transactions: u64,
    },
    /// The chain does not host the model.
    #[error("model {model} is not in this chain")]
    UnknownModel {
        /// The model.
        model: Model,
    },
    /// The account number does not fit the chain's tree.
    #[error("account {account} is outside a tree of depth {depth}")]
    AccountOutOfRange {
        /// The account.
        account: u64,
        /// The tree depth.
        depth: u8,
    },
    /// The database keeps the state of heights from `from` on only (it was written by a
    /// version that kept no history before then).
    #[error("the database keeps state history from height {from} on, not for height {height}")]
    HistoryUnavailable {
        /// The height asked for.
        height: u64,
        /// The first height kept.
        from: u64,
    },
    /// A history proof the prover built does not pass the verifier: a bug, never written.
    #[error("built an invalid history proof: {0}")]
    InvalidProof(VerifyError),
    /// The zk proving key cannot be used for this chain.
    #[error("zk proving key: {0}")]
    ZkKey(String),
    /// Building a zk witness or proof failed.
    #[error("zk proving: {0}")]
    ZkProving(String),
    /// The request does not apply to this chain's model.
    #[error("{what} is not supported for model {model}")]
    Unsupported {
        /// What was asked.
        what: &'static str,
        /// The chain's model.
        model: Model,
    },
}

macro_rules! impl_from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for ProverError {
            fn from(error: $t) -> Self {
                Self::Database(error.into())
            }
        }
    )*};
}
impl_from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// How blocks are cut into blobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockOptions {
    /// Most transactions per blob.
    pub txs_per_blob: usize,
    /// Most encoded bytes per blob; a blob over it is split.
    pub max_blob_bytes: usize,
}

impl Default for BlockOptions {
    fn default() -> Self {
        Self {
            txs_per_blob: 1024,
            max_blob_bytes: 2 << 20,
        }
    }
}

/// What building one block did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockReport {
    /// Height of the block.
    pub height: u64,
    /// Transactions included.
    pub included: usize,
    /// Transactions left out, with their index in the submitted list and the reason.
    pub dropped: Vec<(usize, Reason)>,
}

/// A proving key for zk witnesses, and its batch size (pinned in the genesis).
struct ZkProver {
    batch: usize,
    pk: ProvingKey,
}

/// The full state of one chain's model (`transfer` or `zk-transfer`), in redb.
pub struct ProverState {
    pub(crate) db: Database,
    genesis: Genesis,
    pub(crate) params: ChainParams,
    pub(crate) model: Model,
    /// The model's tree hashes.
    pub(crate) tree: ModelTree,
    /// With a key, `zk-transfer` blobs carry zk proofs instead of Merkle witnesses.
    zk: Option<ZkProver>,
    history: HistoryAccumulator,
    height: u64,
    tip_hash: Hash32,
    state_root: Hash32,
    /// The first height whose state history is kept (see `META_HISTORY_FROM`).
    pub(crate) history_from: u64,
}

impl ProverState {
    /// Opens the database at `path`, creating it from `allocation` if it is new.
    ///
    /// Fails if another process has the database open, or if it holds another chain.
    pub fn open(path: &Path, allocation: &Allocation) -> Result<Self, ProverError> {
        Self::open_with_zk_keys(path, allocation, &[])
    }

    /// [`open`](Self::open) for a chain whose genesis pins `zk_keys` (zk verifying keys, by
    /// hash). A database created with other pins is another chain ([`ProverError::WrongChain`]).
    pub fn open_with_zk_keys(
        path: &Path,
        allocation: &Allocation,
        zk_keys: &[ZkKeyPin],
    ) -> Result<Self, ProverError> {
        let db = Database::create(path)?;
        let genesis_file = {
            let read = db.begin_read()?;
            match read.open_table(META) {
                Ok(meta) => meta.get(META_GENESIS)?.map(|v| v.value().to_vec()),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(error) => return Err(error.into()),
            }
        };
        let genesis = match genesis_file {
            Some(bytes) => {
                let genesis: Genesis = decode_file(&bytes)
                    .map_err(|e| ProverError::Corrupt(format!("stored genesis: {e}")))?;
                let expected = genesis_of(allocation, zk_keys)?;
                if genesis != expected {
                    return Err(ProverError::WrongChain {
                        expected: genesis_hash(&expected),
                        found: genesis_hash(&genesis),
                    });
                }
                genesis
            }
            None => initialize(&db, allocation, zk_keys)?,
        };
        Self::load(db, genesis)
    }

    /// Opens an existing database at `path`, of whatever chain it holds.
    ///
    /// For the verbs that only read the state (history proofs). Like [`open`](Self::open), it
    /// holds the database exclusively, and fails if another process has it open.
    pub fn open_existing(path: &Path) -> Result<Self, ProverError> {
        let db = Database::open(path)?;
        let genesis_file = {
            let read = db.begin_read()?;
            match read.open_table(META) {
                Ok(meta) => meta.get(META_GENESIS)?.map(|v| v.value().to_vec()),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(error) => return Err(error.into()),
            }
        };
        let genesis: Genesis = decode_file(&genesis_file.ok_or(ProverError::NotInitialized)?)
            .map_err(|e| ProverError::Corrupt(format!("stored genesis: {e}")))?;
        Self::load(db, genesis)
    }

    fn load(db: Database, genesis: Genesis) -> Result<Self, ProverError> {
        let history_from = ensure_history(&db)?;
        let params =
            ChainParams::from_genesis(&genesis).map_err(|e| ProverError::Corrupt(e.to_string()))?;
        let read = db.begin_read()?;
        let headers = read.open_table(HEADERS)?;
        let mut history = HistoryAccumulator::new();
        let mut height = 0;
        let mut tip_hash = genesis_hash(&genesis);
        for (expected, entry) in (0u64..).zip(headers.iter()?) {
            let (key, hash) = entry?;
            if key.value() != expected {
                return Err(ProverError::Corrupt(format!("header {expected} missing")));
            }
            height = key.value();
            tip_hash = Hash32::from(hash.value());
            history.append(tip_hash);
        }
        let state_root = match read.open_table(BLOCKS)?.get(height)? {
            Some(bytes) => decode_file::<Block>(bytes.value())
                .map_err(|e| ProverError::Corrupt(format!("block {height}: {e}")))?
                .header
                .state_roots
                .first()
                .map(|r| r.root),
            None => genesis.state_roots.first().map(|r| r.root),
        }
        .ok_or_else(|| ProverError::Corrupt("no state root".into()))?;
        let model = genesis
            .state_roots
            .first()
            .map(|r| r.model)
            .ok_or_else(|| ProverError::Corrupt("no model".into()))?;
        drop(headers);
        drop(read);
        Ok(Self {
            db,
            genesis,
            params,
            model,
            tree: ModelTree::new(model),
            zk: None,
            history,
            height,
            tip_hash,
            state_root,
            history_from,
        })
    }

    /// Checks the database: redb's own integrity check of its pages and checksums, then that
    /// the stored accounts hash to the current state root and every block is stored.
    ///
    /// Reads every account, so it costs a full pass over the state.
    pub fn check_integrity(&mut self) -> Result<(), ProverError> {
        if !self.db.check_integrity().map_err(redb::Error::from)? {
            return Err(ProverError::Corrupt(
                "redb integrity check repaired the file".into(),
            ));
        }
        let read = self.db.begin_read()?;
        let accounts = read.open_table(ACCOUNTS)?;
        let mut leaves = Vec::new();
        for entry in accounts.iter()? {
            let (account, bytes) = entry?;
            let leaf = AccountLeaf::from_ssz_bytes(bytes.value())
                .map_err(|e| ProverError::Corrupt(format!("account {}: {e:?}", account.value())))?;
            let hash = self.tree.leaf(&leaf).ok_or_else(|| {
                ProverError::Corrupt(format!("account {}: key does not decode", account.value()))
            })?;
            leaves.push((account.value(), hash));
        }
        let tree = &self.tree;
        let Ok(root) = tree.root::<Infallible>(
            self.params.tree_depth,
            leaves,
            |level, _| Ok(tree.default(level)),
            |_, _, _| {},
        );
        if root != self.state_root {
            return Err(ProverError::Corrupt(format!(
                "accounts hash to {root}, the last block says {}",
                self.state_root
            )));
        }
        let blocks = read.open_table(BLOCKS)?;
        for height in 1..=self.height {
            if blocks.get(height)?.is_none() {
                return Err(ProverError::Corrupt(format!("block {height} missing")));
            }
        }
        Ok(())
    }

    /// From now on, builds `zk-transfer` blobs with zk proofs under `pk` (a key for `batch`
    /// slots on this chain's depth). The genesis must pin its verifying key for that batch.
    pub fn set_zk_proving_key(&mut self, pk: ProvingKey, batch: usize) -> Result<(), ProverError> {
        if self.model != Model::ZkTransfer {
            return Err(ProverError::Unsupported {
                what: "a zk witness",
                model: self.model,
            });
        }
        let vk_hash = verifying_key_hash(&pk.vk);
        let pinned = self
            .genesis
            .zk_keys
            .iter()
            .any(|pin| pin.vk_hash == vk_hash && usize::from(pin.batch) == batch);
        if !pinned {
            return Err(ProverError::ZkKey(format!(
                "verifying key {vk_hash} for batch {batch} is not pinned in this chain's genesis"
            )));
        }
        let mut params = self.params.clone();
        params
            .add_zk_keys(std::slice::from_ref(&pk.vk))
            .map_err(|e| ProverError::ZkKey(e.to_string()))?;
        self.params = params;
        self.zk = Some(ZkProver { batch, pk });
        Ok(())
    }

    /// The chain's genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// Height of the last block built (0 before the first).
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The model's current state root.
    pub fn state_root(&self) -> Hash32 {
        self.state_root
    }

    /// The stored block file at `height`, if built.
    pub fn block_file(&self, height: u64) -> Result<Option<Vec<u8>>, ProverError> {
        let read = self.db.begin_read()?;
        let blocks = read.open_table(BLOCKS)?;
        Ok(blocks.get(height)?.map(|v| v.value().to_vec()))
    }

    /// The current leaf of `account` (empty if it does not exist).
    pub fn account(&self, account: u64) -> Result<AccountLeaf, ProverError> {
        let read = self.db.begin_read()?;
        let accounts = read.open_table(ACCOUNTS)?;
        read_leaf(&accounts, account)
    }

    /// Builds the next block from `transactions`, commits it durably, and returns it.
    ///
    /// Transactions that break a rule are left out and reported; the rest are packed in order
    /// into blobs, each checked by the verifier before the block is committed.
    pub fn build_block(
        &mut self,
        transactions: &[Transaction],
        options: BlockOptions,
    ) -> Result<(Block, BlockReport), ProverError> {
        let height = self.height.saturating_add(1);
        let mut report = BlockReport {
            height,
            ..BlockReport::default()
        };
        let write = self.db.begin_write()?;
        let mut blobs = Vec::new();
        let mut root = self.state_root;
        {
            let mut accounts = write.open_table(ACCOUNTS)?;
            let mut nodes = write.open_table(NODES)?;
            let mut versions = Versions {
                height,
                accounts: write.open_table(ACCOUNT_VERSIONS)?,
                nodes: write.open_table(NODE_VERSIONS)?,
                changed_accounts: HashSet::new(),
                changed_nodes: HashSet::new(),
            };
            let tree = &self.tree;
            let indexed: Vec<(usize, Transaction)> =
                transactions.iter().copied().enumerate().collect();
            let mut limit = options.txs_per_blob.clamp(1, MAX_TRANSACTIONS_PER_BLOB);
            if let Some(zk) = &self.zk {
                limit = limit.min(zk.batch.max(1));
            }
            let mut pending = indexed.as_slice();
            while !pending.is_empty() {
                let mut take = limit.min(pending.len());
                loop {
                    let (chunk, _) = pending.split_at(take);
                    let mut attempt = report.clone();
                    let built = self.build_blob(&accounts, &nodes, root, chunk, &mut attempt)?;
                    match built {
                        Some(built)
                            if built.blob.ssz_bytes_len() > options.max_blob_bytes && take > 1 =>
                        {
                            take /= 2;
                        }
                        Some(BuiltBlob {
                            blob,
                            leaves,
                            nodes: new_nodes,
                        }) => {
                            report = attempt;
                            for (account, leaf) in leaves {
                                let prior = accounts
                                    .insert(account, leaf.as_ssz_bytes().as_slice())?
                                    .map(|v| v.value().to_vec());
                                versions.account(account, prior)?;
                                let key = node_key(0, account);
                                let hash = tree.leaf(&leaf).ok_or_else(|| {
                                    ProverError::Corrupt(format!("account {account}: bad key"))
                                })?;
                                let prior = nodes.insert(key, hash.0)?.map(|v| v.value());
                                versions.node(key, prior.unwrap_or(tree.default(0).0))?;
                            }
                            for (level, index, hash) in new_nodes {
                                let key = node_key(level, index);
                                let prior = nodes.insert(key, hash.0)?.map(|v| v.value());
                                versions.node(key, prior.unwrap_or(tree.default(level).0))?;
                            }
                            root = blob.post_state_root;
                            report.included =
                                report.included.saturating_add(blob.transactions.len());
                            blobs.push(blob);
                            break;
                        }
                        None => {
                            report = attempt;
                            break;
                        }
                    }
                }
                pending = pending.get(take..).unwrap_or_default();
            }
        }
        let commitments: Vec<Hash32> = blobs.iter().map(blob_commitment).collect();
        let header = Header {
            height,
            parent_hash: self.tip_hash,
            history_root: self.history.root(),
            blobs_root: blobs_root(&commitments),
            state_roots: bounded(vec![ModelRoot {
                model: self.model,
                root,
            }])?,
        };
        let block = Block {
            header,
            blobs: bounded(blobs)?,
        };
        if !fits_in_file(&block) {
            return Err(ProverError::BlockTooLarge {
                bytes: block.ssz_bytes_len(),
            });
        }
        let hash = header_hash(&block.header);
        write
            .open_table(BLOCKS)?
            .insert(height, encode_file(&block).as_slice())?;
        write.open_table(HEADERS)?.insert(height, hash.0)?;
        let mut history = self.history.clone();
        append_history(&mut write.open_table(HISTORY_NODES)?, &mut history, hash)?;
        write.commit()?;

        self.history = history;
        self.height = height;
        self.tip_hash = hash;
        self.state_root = root;
        Ok((block, report))
    }

    /// Builds one blob from `chunk` on top of `pre_root`, leaving out invalid transactions.
    /// Returns `None` if none is valid. Writes nothing: the caller stores what it returns.
    ///
    /// Signatures are checked once, by the verifier's own `verify_blob`, which every blob must
    /// pass anyway. If it finds a bad signature, all bad ones are found and left out, and the
    /// rules run again from the start: a forged transaction may have taken a nonce or a balance
    /// that a later valid one needs. Each round leaves out at least one transaction.
    fn build_blob(
        &self,
        accounts: &Table<u64, &[u8]>,
        nodes: &Table<u128, [u8; 32]>,
        pre_root: Hash32,
        chunk: &[(usize, Transaction)],
        report: &mut BlockReport,
    ) -> Result<Option<BuiltBlob>, ProverError> {
        let mut bad_signatures: Vec<usize> = Vec::new();
        loop {
            let selection = self.select(accounts, chunk, &bad_signatures)?;
            if selection.kept.is_empty() {
                report.dropped.extend(selection.rule_drops);
                return Ok(None);
            }
            let txs: Vec<Transaction> = selection.kept.iter().map(|(_, tx)| *tx).collect();
            let built = self.assemble(accounts, nodes, pre_root, txs)?;
            match verify_blob(&self.params, &built.blob) {
                Ok(()) => {
                    report.dropped.extend(selection.rule_drops);
                    return Ok(Some(built));
                }
                Err(error) if error.reason == Reason::BadSignature => {
                    let invalid = match self.model {
                        Model::Transfer => invalid_indices(&signature_checks(
                            &selection.signed,
                            &built.blob.transactions,
                        )),
                        // One at a time: the verifier names the first bad signature.
                        Model::ZkTransfer => error.location.transaction.into_iter().collect(),
                    };
                    if invalid.is_empty() {
                        return Err(ProverError::InvalidBlob(error));
                    }
                    for position in invalid {
                        if let Some(&(index, _)) = selection.kept.get(position) {
                            bad_signatures.push(index);
                            report.dropped.push((index, Reason::BadSignature));
                        }
                    }
                }
                Err(error) => return Err(ProverError::InvalidBlob(error)),
            }
        }
    }

    /// The transactions of `chunk` (less `excluded`) that pass every rule but signatures, applied
    /// in order on the stored state; and why the others do not.
    fn select(
        &self,
        accounts: &Table<u64, &[u8]>,
        chunk: &[(usize, Transaction)],
        excluded: &[usize],
    ) -> Result<Selection, ProverError> {
        let candidates: Vec<(usize, Transaction)> = chunk
            .iter()
            .filter(|(index, _)| !excluded.contains(index))
            .copied()
            .collect();
        let all: Vec<Transaction> = candidates.iter().map(|(_, tx)| *tx).collect();
        let mut out_of_range = Vec::new();
        let mut state =
            self.load_state(accounts, &all, self.params.tree_depth, &mut |i, reason| {
                out_of_range.push((i, reason))
            })?;
        let mut selection = Selection {
            kept: Vec::with_capacity(candidates.len()),
            signed: Vec::with_capacity(candidates.len()),
            rule_drops: Vec::new(),
        };
        for (position, &(index, tx)) in candidates.iter().enumerate() {
            if let Some((_, reason)) = out_of_range.iter().find(|(p, _)| *p == position) {
                selection.rule_drops.push((index, reason.clone()));
                continue;
            }
            if self.model == Model::ZkTransfer && message_hash(self.params.chain_id, &tx).is_none()
            {
                selection
                    .rule_drops
                    .push((index, Reason::InvalidNewAccountKey));
                continue;
            }
            let key = state.get(tx.from).map(|leaf| leaf.public_key);
            match state.apply(&tx) {
                Ok(()) => {
                    selection.kept.push((index, tx));
                    selection.signed.push((
                        key.unwrap_or_default(),
                        signing_message(self.params.chain_id, self.model, &tx),
                    ));
                }
                Err(reason) => selection.rule_drops.push((index, reason)),
            }
        }
        Ok(selection)
    }

    /// The blob of `txs` (all passing the rules) on top of `pre_root`: its multiproof from the
    /// nodes table, its post-state, and the nodes and leaves to store.
    fn assemble(
        &self,
        accounts: &Table<u64, &[u8]>,
        nodes: &Table<u128, [u8; 32]>,
        pre_root: Hash32,
        txs: Vec<Transaction>,
    ) -> Result<BuiltBlob, ProverError> {
        let depth = self.params.tree_depth;
        let pre_state = self.load_state(accounts, &txs, depth, &mut |_, _| {})?;
        let mut post_state = pre_state.clone();
        for tx in &txs {
            post_state
                .apply(tx)
                .map_err(|reason| ProverError::InvalidBlob(VerifyError::new(reason)))?;
        }

        // The multiproof: every sibling the walk asks for, from the nodes table.
        let tree = &self.tree;
        let mut present = Vec::new();
        let mut siblings = Vec::new();
        let mut used = Vec::new();
        let computed_pre = tree.root(
            depth,
            self.leaf_hashes(&pre_state)?,
            |level, index| {
                let default = tree.default(level);
                let hash = read_node(nodes, level, index)?.unwrap_or(default);
                present.push(hash != default);
                if hash != default {
                    siblings.push(hash);
                }
                used.push(hash);
                Ok::<_, ProverError>(hash)
            },
            |_, _, _| {},
        )?;
        if computed_pre != pre_root {
            return Err(ProverError::Corrupt(format!(
                "stored tree gives root {computed_pre}, expected {pre_root}"
            )));
        }
        let mut new_nodes = Vec::new();
        let mut replay = used.iter().copied();
        let Ok(post_root) = tree.root::<Infallible>(
            depth,
            self.leaf_hashes(&post_state)?,
            |_, _| Ok(replay.next().unwrap_or(Hash32::ZERO)),
            |level, index, hash| new_nodes.push((level, index, *hash)),
        );

        let mut sibling_present = BitList::with_capacity(present.len())
            .map_err(|e| ProverError::Corrupt(format!("sibling bitmap: {e:?}")))?;
        for (i, &bit) in present.iter().enumerate() {
            sibling_present
                .set(i, bit)
                .map_err(|e| ProverError::Corrupt(format!("sibling bitmap: {e:?}")))?;
        }
        let witness = match &self.zk {
            Some(zk) if self.model == Model::ZkTransfer => {
                self.zk_witness(zk, &pre_state, &txs, used, (pre_root, post_root))?
            }
            _ => Witness::Merkle(MerkleWitness {
                leaves: bounded(pre_state.leaves().to_vec())?,
                sibling_present,
                siblings: bounded(siblings)?,
            }),
        };
        let blob = Blob {
            model: self.model,
            pre_state_root: pre_root,
            post_state_root: post_root,
            transactions: bounded(txs)?,
            witness,
        };
        let leaves = post_state
            .accounts()
            .iter()
            .copied()
            .zip(post_state.leaves().iter().copied())
            .collect();
        Ok(BuiltBlob {
            blob,
            leaves,
            nodes: new_nodes,
        })
    }

    /// A zk witness for `txs` on `pre_state`: the circuit's witness from the multiproof's
    /// siblings (`used`, in the walk's order), then a Groth16 proof.
    fn zk_witness(
        &self,
        zk: &ZkProver,
        pre_state: &TouchedState,
        txs: &[Transaction],
        used: Vec<Hash32>,
        (pre_root, post_root): (Hash32, Hash32),
    ) -> Result<Witness, ProverError> {
        let chain_id = self.params.chain_id;
        let depth = self.params.tree_depth;
        let mut replay = used.into_iter();
        let witness = build_witness(depth, zk.batch, chain_id, pre_state, txs, |_, _| {
            replay
                .next()
                .and_then(|h| hash_to_fr(&h))
                .ok_or("stored node is not a field element")
        })
        .map_err(|e| ProverError::ZkProving(e.to_string()))?;
        let circuit = TransferBatchCircuit {
            depth,
            batch: zk.batch,
            chain_id,
            witness: Some(witness),
        };
        // Proof randomness from the blob's roots: reproducible, and the blob is public anyway.
        let mut seed = [0u8; 32];
        for (s, (a, b)) in seed.iter_mut().zip(pre_root.0.iter().zip(post_root.0)) {
            *s = a ^ b.rotate_left(3);
        }
        let proof = prove(&zk.pk, circuit, &mut rng_from_seed(seed))
            .map_err(|e| ProverError::ZkProving(e.to_string()))?;
        Ok(Witness::Zk(ZkWitness {
            proof: Bytes(encode_proof(&proof)),
        }))
    }

    /// The `(account, leaf hash)` pairs of a touched state, ascending.
    fn leaf_hashes(&self, state: &TouchedState) -> Result<Vec<(u64, Hash32)>, ProverError> {
        state
            .accounts()
            .iter()
            .zip(state.leaves())
            .map(|(&account, leaf)| {
                self.tree
                    .leaf(leaf)
                    .map(|hash| (account, hash))
                    .ok_or_else(|| ProverError::Corrupt(format!("account {account}: bad key")))
            })
            .collect()
    }

    /// The touched state of `txs`, read from the accounts table. Out-of-range accounts are
    /// reported through `reject` (by position in `txs`) and left out.
    fn load_state(
        &self,
        accounts: &Table<u64, &[u8]>,
        txs: &[Transaction],
        depth: u8,
        reject: &mut dyn FnMut(usize, Reason),
    ) -> Result<TouchedState, ProverError> {
        let mut in_range: Vec<Transaction> = Vec::with_capacity(txs.len());
        for (i, tx) in txs.iter().enumerate() {
            match touched_accounts(std::slice::from_ref(tx), depth) {
                Ok(_) => in_range.push(*tx),
                Err(error) => reject(i, error.reason),
            }
        }
        let touched = touched_accounts(&in_range, depth).unwrap_or_default();
        let leaves = touched
            .iter()
            .map(|&account| read_leaf(accounts, account))
            .collect::<Result<Vec<_>, _>>()?;
        TouchedState::new(touched, leaves)
            .ok_or_else(|| ProverError::Corrupt("touched state length".into()))
    }
}

/// The undo log of one block's write transaction: the value of each leaf and node before the
/// block first changed it.
struct Versions<'txn> {
    height: u64,
    accounts: Table<'txn, (u64, u64), &'static [u8]>,
    nodes: Table<'txn, (u128, u64), [u8; 32]>,
    /// What this block changed already: a later blob's change must not overwrite the value
    /// from before the block with one from within it.
    changed_accounts: HashSet<u64>,
    changed_nodes: HashSet<u128>,
}

impl Versions<'_> {
    /// Records the value `account` had before this block (SSZ; `None`: the empty slot), on its
    /// first change in the block.
    fn account(&mut self, account: u64, prior: Option<Vec<u8>>) -> Result<(), ProverError> {
        if self.changed_accounts.insert(account) {
            let prior = prior.unwrap_or_else(|| AccountLeaf::EMPTY.as_ssz_bytes());
            self.accounts
                .insert((account, self.height), prior.as_slice())?;
        }
        Ok(())
    }

    /// Records the hash node `key` had before this block (the level's default if it was
    /// absent), on its first change in the block.
    fn node(&mut self, key: u128, prior: [u8; 32]) -> Result<(), ProverError> {
        if self.changed_nodes.insert(key) {
            self.nodes.insert((key, self.height), prior)?;
        }
        Ok(())
    }
}

/// Appends `hash` to `history`, storing every node the append creates.
fn append_history(
    table: &mut Table<u128, [u8; 32]>,
    history: &mut HistoryAccumulator,
    hash: Hash32,
) -> Result<(), ProverError> {
    let mut result = Ok(());
    history.append_visiting(hash, |height, index, node| {
        if result.is_ok() {
            result = table.insert(history_key(height, index), node.0).map(|_| ());
        }
    });
    Ok(result?)
}

/// Makes sure the history tables are there, and returns the first height they cover. A
/// database written before they existed gets its accumulator's nodes (from the stored header
/// hashes) and empty version tables, covering heights from its current height on.
fn ensure_history(db: &Database) -> Result<u64, ProverError> {
    {
        let read = db.begin_read()?;
        let meta = read.open_table(META)?;
        if let Some(from) = meta.get(META_HISTORY_FROM)? {
            return decode_height(from.value());
        }
    }
    let write = db.begin_write()?;
    let from = {
        let headers = write.open_table(HEADERS)?;
        let mut table = write.open_table(HISTORY_NODES)?;
        let mut history = HistoryAccumulator::new();
        let mut height = 0;
        for entry in headers.iter()? {
            let (key, hash) = entry?;
            height = key.value();
            append_history(&mut table, &mut history, Hash32::from(hash.value()))?;
        }
        write.open_table(NODE_VERSIONS)?;
        write.open_table(ACCOUNT_VERSIONS)?;
        write
            .open_table(META)?
            .insert(META_HISTORY_FROM, height.to_le_bytes().as_slice())?;
        height
    };
    write.commit()?;
    Ok(from)
}

fn decode_height(bytes: &[u8]) -> Result<u64, ProverError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_le_bytes)
        .map_err(|_| ProverError::Corrupt("stored history height".into()))
}

/// What passes the rules in a chunk: the transactions kept (with their index in the block) and
/// their signature inputs, and the ones left out with their reason.
struct Selection {
    kept: Vec<(usize, Transaction)>,
    signed: Vec<SignedMessage>,
    rule_drops: Vec<(usize, Reason)>,
}

/// A blob and the state it leaves: leaves and tree nodes to store.
struct BuiltBlob {
    blob: Blob,
    leaves: Vec<(u64, AccountLeaf)>,
    nodes: Vec<(u8, u64, Hash32)>,
}

/// A list within its wire limit; the prover never builds one past it.
fn bounded<T, N: witness_format::ssz_types::typenum::Unsigned>(
    items: Vec<T>,
) -> Result<VariableList<T, N>, ProverError> {
    VariableList::new(items)
        .map_err(|e| ProverError::Corrupt(format!("list over its limit: {e:?}")))
}

pub(crate) fn node_key(level: u8, index: u64) -> u128 {
    (u128::from(level) << 64) | u128::from(index)
}

/// Key of node `(height, index)` of the history accumulator.
pub(crate) fn history_key(height: u32, index: u64) -> u128 {
    (u128::from(height) << 64) | u128::from(index)
}

fn read_node(
    nodes: &Table<u128, [u8; 32]>,
    level: u8,
    index: u64,
) -> Result<Option<Hash32>, ProverError> {
    Ok(nodes
        .get(node_key(level, index))?
        .map(|v| Hash32::from(v.value())))
}

pub(crate) fn read_leaf(
    accounts: &impl ReadableTable<u64, &'static [u8]>,
    account: u64,
) -> Result<AccountLeaf, ProverError> {
    match accounts.get(account)? {
        Some(bytes) => AccountLeaf::from_ssz_bytes(bytes.value())
            .map_err(|e| ProverError::Corrupt(format!("account {account}: {e:?}"))),
        None => Ok(AccountLeaf::EMPTY),
    }
}

/// The genesis an allocation gives: its chain id and depth, the root over its accounts, and the
/// pinned zk keys.
fn genesis_of(allocation: &Allocation, zk_keys: &[ZkKeyPin]) -> Result<Genesis, ProverError> {
    let tree = ModelTree::new(allocation.model);
    let root = allocation_root(allocation, &tree, |_, _, _| {})?;
    Ok(Genesis {
        chain_id: allocation.chain_id,
        tree_depth: allocation.tree_depth,
        state_roots: bounded(vec![ModelRoot {
            model: allocation.model,
            root,
        }])?,
        zk_keys: zk_pins(zk_keys)?,
    })
}

fn zk_pins(
    zk_keys: &[ZkKeyPin],
) -> Result<VariableList<ZkKeyPin, witness_format::limits::MaxZkKeys>, ProverError> {
    let mut pins = zk_keys.to_vec();
    pins.sort_by_key(|pin| pin.batch);
    bounded(pins)
}

fn allocation_root(
    allocation: &Allocation,
    tree: &ModelTree,
    visit: impl FnMut(u8, u64, &Hash32),
) -> Result<Hash32, ProverError> {
    let depth = allocation.tree_depth;
    let count = allocation.accounts.len() as u64;
    if !verifier::tree::in_range(count.saturating_sub(1), depth) {
        return Err(ProverError::InvalidAllocation(format!(
            "{count} accounts do not fit a tree of depth {depth}"
        )));
    }
    if let Some(i) = allocation.accounts.iter().position(|a| a.is_empty()) {
        return Err(ProverError::InvalidAllocation(format!(
            "account {i} has no key"
        )));
    }
    let leaves: Vec<(u64, Hash32)> = (0u64..)
        .zip(allocation.accounts.iter())
        .map(|(account, leaf)| {
            tree.leaf(leaf).map(|hash| (account, hash)).ok_or_else(|| {
                ProverError::InvalidAllocation(format!(
                    "account {account}: the key is not a valid {} key",
                    allocation.model
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let Ok(root) =
        tree.root::<Infallible>(depth, leaves, |level, _| Ok(tree.default(level)), visit);
    Ok(root)
}

/// Writes the allocation's accounts and tree, and the genesis, in one transaction.
fn initialize(
    db: &Database,
    allocation: &Allocation,
    zk_keys: &[ZkKeyPin],
) -> Result<Genesis, ProverError> {
    let probe = Genesis {
        chain_id: allocation.chain_id,
        tree_depth: allocation.tree_depth,
        state_roots: bounded(vec![ModelRoot {
            model: allocation.model,
            root: Hash32::ZERO,
        }])?,
        zk_keys: zk_pins(zk_keys)?,
    };
    ChainParams::from_genesis(&probe).map_err(|e| ProverError::InvalidAllocation(e.to_string()))?;
    let tree = ModelTree::new(allocation.model);
    let write = db.begin_write()?;
    let genesis = {
        let mut accounts = write.open_table(ACCOUNTS)?;
        let mut nodes = write.open_table(NODES)?;
        let mut result = Ok(());
        let root = allocation_root(allocation, &tree, |level, index, hash| {
            if result.is_ok() {
                result = nodes.insert(node_key(level, index), hash.0).map(|_| ());
            }
        })?;
        result?;
        for (account, leaf) in (0u64..).zip(allocation.accounts.iter()) {
            accounts.insert(account, leaf.as_ssz_bytes().as_slice())?;
            if let Some(hash) = tree.leaf(leaf) {
                nodes.insert(node_key(0, account), hash.0)?;
            }
        }
        let genesis = Genesis {
            state_roots: bounded(vec![ModelRoot {
                model: allocation.model,
                root,
            }])?,
            ..probe
        };
        write
            .open_table(META)?
            .insert(META_GENESIS, encode_file(&genesis).as_slice())?;
        write
            .open_table(HEADERS)?
            .insert(0, genesis_hash(&genesis).0)?;
        write.open_table(BLOCKS)?;
        // The genesis is leaf 0 of the history; no state version yet (see the module doc).
        append_history(
            &mut write.open_table(HISTORY_NODES)?,
            &mut HistoryAccumulator::new(),
            genesis_hash(&genesis),
        )?;
        write.open_table(NODE_VERSIONS)?;
        write.open_table(ACCOUNT_VERSIONS)?;
        write
            .open_table(META)?
            .insert(META_HISTORY_FROM, 0u64.to_le_bytes().as_slice())?;
        genesis
    };
    write.commit()?;
    Ok(genesis)
}
