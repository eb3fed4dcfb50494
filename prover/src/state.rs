//! The prover's full state in redb, and block building.
//!
//! A database holds one chain: the models its genesis hosts (`transfer`, `zk-transfer` or both),
//! each with its own tables, named `MODEL/TABLE` (for example `zk-transfer/nodes`):
//!
//! | table      | key                      | value                                    |
//! |------------|--------------------------|------------------------------------------|
//! | `MODEL/accounts` | account number     | the leaf, 48 bytes (SSZ `AccountLeaf`)   |
//! | `MODEL/nodes`    | `level << 64 \| index` | 32-byte hash, leaves (level 0) included; default (empty) nodes absent |
//! | `MODEL/node_versions` | (`nodes` key, block height `h`) | the node's hash before block `h` changed it (the level's default if it was empty) |
//! | `MODEL/account_versions` | (account, block height `h`) | the leaf before block `h` changed it (SSZ `AccountLeaf`) |
//! | `blocks`   | height                   | the block file, exactly as exported      |
//! | `headers`  | height (0 = genesis)     | header hash                              |
//! | `history_nodes` | `height << 64 \| index` | 32-byte node `(height, index)` of the history accumulator (leaves: height 0) |
//! | `meta`     | name                     | genesis file, format version             |
//!
//! Hashes are the model's ([`crate::tree_hash::ModelTree`]: for `zk-transfer`, field elements in
//! their canonical 32-byte encoding).
//!
//! Every block is one write transaction, committed durably: after a crash the database holds the
//! state after some whole block, and building resumes from there. Blocks are stored in the
//! database too, so the exported chain directory can always be rewritten from it.
//!
//! History (for history proofs, `crate::history`): the accumulator's nodes are stored as they
//! are created, so a leaf's inclusion proof is O(log n) reads and appending is O(log n) writes.
//! `MODEL/accounts` and `MODEL/nodes` hold the current state; each block also writes, for every
//! leaf and node it changes, the value it had before the block, under the block's height
//! (`MODEL/account_versions`, `MODEL/node_versions`: an undo log). So the value at height `i`
//! is the one saved by the first change after `i` (one forward range read), or the current value
//! if nothing changed it since. That is one write per change and no read (the old value is what
//! the update of the current table returns), and the genesis state costs no extra space.

use std::collections::HashSet;
use std::convert::Infallible;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};
use thiserror::Error;
use verifier::bridge::bridge;
use verifier::hash::{blob_commitment, genesis_hash, header_hash};
use verifier::history::{HistoryAccumulator, blobs_root};
use verifier::signature::invalid_indices;
use verifier::transfer::{
    SignedMessage, TouchedState, check_new_account_key, signature_checks, signing_message,
    touched_accounts,
};
use verifier::tree::write_multiproof;
use verifier::zk_transfer::hash_to_fr;
use verifier::zk_verify::{encode_proof, verifying_key_hash};
use verifier::{ChainParams, Reason, VerifyError, verify_blob_in_block};
use witness_format::frame::fits_in_file;
use witness_format::limits::{MAX_CREDITS_PER_BLOB, MAX_FILE_BYTES, MAX_TRANSACTIONS_PER_BLOB};
use witness_format::ssz_types::VariableList;
use witness_format::{
    AccountLeaf, Allocation, Blob, Block, Bytes, CreditWitness, Genesis, Hash32, Header,
    HistoryProof, Model, ModelRoot, SszDecode, SszEncode, Transaction, Witness, ZkKeyPin,
    ZkWitness, decode_file, encode_file,
};

use crate::tree_hash::ModelTree;
use crate::zk::circuit::{TransferBatchCircuit, build_witness};
use crate::zk::groth16::{ProvingKey, prove, rng_from_seed};

pub(crate) const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const HEADERS: TableDefinition<u64, [u8; 32]> = TableDefinition::new("headers");
pub(crate) const HISTORY_NODES: TableDefinition<u128, [u8; 32]> =
    TableDefinition::new("history_nodes");
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_GENESIS: &str = "genesis";
/// The layout version of the database; another one is refused, not guessed at.
pub(crate) const META_FORMAT: &str = "format";
/// Version 3: blocks of file format 2 (zk proofs bind signatures, counts and the bridge) and
/// `zk-transfer` bridge leaves under the new bridge key. Version 2: tables per model (version 1
/// held one model in unprefixed tables).
pub(crate) const FORMAT_VERSION: u64 = 3;

/// One model's tables: its current state and its undo log (see the module doc).
#[derive(Clone, Copy)]
pub(crate) struct ModelTables {
    pub(crate) accounts: TableDefinition<'static, u64, &'static [u8]>,
    pub(crate) nodes: TableDefinition<'static, u128, [u8; 32]>,
    pub(crate) account_versions: TableDefinition<'static, (u64, u64), &'static [u8]>,
    pub(crate) node_versions: TableDefinition<'static, (u128, u64), [u8; 32]>,
}

impl ModelTables {
    /// The tables of `model`, named `MODEL/TABLE`.
    pub(crate) const fn of(model: Model) -> Self {
        let [accounts, nodes, account_versions, node_versions] = match model {
            Model::Transfer => [
                "transfer/accounts",
                "transfer/nodes",
                "transfer/account_versions",
                "transfer/node_versions",
            ],
            Model::ZkTransfer => [
                "zk-transfer/accounts",
                "zk-transfer/nodes",
                "zk-transfer/account_versions",
                "zk-transfer/node_versions",
            ],
        };
        Self {
            accounts: TableDefinition::new(accounts),
            nodes: TableDefinition::new(nodes),
            account_versions: TableDefinition::new(account_versions),
            node_versions: TableDefinition::new(node_versions),
        }
    }
}

/// One hosted model: its hashes, its tables and its current state root.
pub(crate) struct ModelState {
    pub(crate) model: Model,
    pub(crate) tree: ModelTree,
    pub(crate) tables: ModelTables,
    root: Hash32,
}

impl ModelState {
    fn new(model: Model, root: Hash32) -> Result<Self, ProverError> {
        Ok(Self {
            model,
            tree: tree_of(model)?,
            tables: ModelTables::of(model),
            root,
        })
    }
}

/// The state tree of `model`: every model this prover builds has one.
fn tree_of(model: Model) -> Result<ModelTree, ProverError> {
    ModelTree::new(model).ok_or_else(|| {
        ProverError::InvalidAllocation(format!("model {model} has no sparse state tree"))
    })
}

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
    /// The database was written in another layout version than this prover's.
    #[error(
        "database format {found} is not this prover's format {FORMAT_VERSION}: rebuild it from the workload with `stateless prove`"
    )]
    UnsupportedFormat {
        /// The version found (1 for a database from before versions were recorded).
        found: u64,
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
    /// The chain hosts several models: say which one the transactions are for.
    #[error("the chain hosts {models} models: give each batch of transactions its model")]
    ModelNotGiven {
        /// The number of models hosted.
        models: usize,
    },
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
    /// Credits the prover added (cross-model receipts delivered; not counted in `included`).
    pub credited: usize,
}

/// A proving key for zk witnesses, and its batch size (pinned in the genesis).
struct ZkProver {
    batch: usize,
    pk: ProvingKey,
}

/// The full state of one chain (every model it hosts), in redb.
pub struct ProverState {
    pub(crate) db: Database,
    genesis: Genesis,
    pub(crate) params: ChainParams,
    /// The hosted models, in genesis order.
    pub(crate) models: Vec<ModelState>,
    /// With a key, `zk-transfer` blobs carry zk proofs instead of Merkle witnesses.
    zk: Option<ZkProver>,
    history: HistoryAccumulator,
    height: u64,
    tip_hash: Hash32,
}

impl ProverState {
    /// Opens the database at `path` for a chain of one model, creating it from `allocation` if
    /// it is new. See [`open_chain`](Self::open_chain).
    pub fn open(path: &Path, allocation: &Allocation) -> Result<Self, ProverError> {
        Self::open_chain(path, std::slice::from_ref(allocation), &[])
    }

    /// Opens the database at `path`, creating it if it is new for the chain whose genesis hosts
    /// the models of `allocations` (one per model, same chain id and depth) and pins `zk_keys`
    /// (zk verifying keys, by hash).
    ///
    /// Fails if another process has the database open, or if it holds another chain (other
    /// accounts, models or pins: [`ProverError::WrongChain`]).
    pub fn open_chain(
        path: &Path,
        allocations: &[Allocation],
        zk_keys: &[ZkKeyPin],
    ) -> Result<Self, ProverError> {
        let db = Database::create(path)?;
        let genesis = match stored_genesis(&db)? {
            Some(genesis) => {
                let expected = genesis_of(allocations, zk_keys)?;
                if genesis != expected {
                    return Err(ProverError::WrongChain {
                        expected: genesis_hash(&expected),
                        found: genesis_hash(&genesis),
                    });
                }
                genesis
            }
            None => initialize(&db, allocations, zk_keys)?,
        };
        Self::load(db, genesis)
    }

    /// Opens an existing database at `path`, of whatever chain it holds.
    ///
    /// For the verbs that only read the state (history proofs). Like [`open`](Self::open), it
    /// holds the database exclusively, and fails if another process has it open.
    pub fn open_existing(path: &Path) -> Result<Self, ProverError> {
        let db = Database::open(path)?;
        let genesis = stored_genesis(&db)?.ok_or(ProverError::NotInitialized)?;
        Self::load(db, genesis)
    }

    fn load(db: Database, genesis: Genesis) -> Result<Self, ProverError> {
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
        let roots = match read.open_table(BLOCKS)?.get(height)? {
            Some(bytes) => {
                decode_file::<Block>(bytes.value())
                    .map_err(|e| ProverError::Corrupt(format!("block {height}: {e}")))?
                    .header
                    .state_roots
            }
            None => genesis.state_roots.clone(),
        };
        if roots
            .iter()
            .map(|r| r.model)
            .ne(params.models.iter().copied())
        {
            return Err(ProverError::Corrupt(format!(
                "block {height} has other models than the genesis"
            )));
        }
        let models = roots
            .iter()
            .map(|r| ModelState::new(r.model, r.root))
            .collect::<Result<_, _>>()?;
        drop(headers);
        drop(read);
        Ok(Self {
            db,
            genesis,
            params,
            models,
            zk: None,
            history,
            height,
            tip_hash,
        })
    }

    /// The hosted model `model`.
    pub(crate) fn model_state(&self, model: Model) -> Result<&ModelState, ProverError> {
        self.models
            .iter()
            .find(|m| m.model == model)
            .ok_or(ProverError::UnknownModel { model })
    }

    /// Checks the database: redb's own integrity check of its pages and checksums, then that
    /// each model's stored accounts hash to its current state root and every block is stored.
    ///
    /// Reads every account, so it costs a full pass over the state.
    pub fn check_integrity(&mut self) -> Result<(), ProverError> {
        if !self.db.check_integrity().map_err(redb::Error::from)? {
            return Err(ProverError::Corrupt(
                "redb integrity check repaired the file".into(),
            ));
        }
        let read = self.db.begin_read()?;
        for lane in &self.models {
            let accounts = read.open_table(lane.tables.accounts)?;
            let mut leaves = Vec::new();
            for entry in accounts.iter()? {
                let (account, bytes) = entry?;
                let account = account.value();
                let leaf = AccountLeaf::from_ssz_bytes(bytes.value()).map_err(|e| {
                    ProverError::Corrupt(format!("{} account {account}: {e:?}", lane.model))
                })?;
                let hash = lane.tree.leaf(&leaf).ok_or_else(|| {
                    ProverError::Corrupt(format!(
                        "{} account {account}: key does not decode",
                        lane.model
                    ))
                })?;
                leaves.push((account, hash));
            }
            let tree = &lane.tree;
            let Ok(root) = tree.root::<Infallible>(
                self.params.tree_depth,
                leaves,
                |level, _| Ok(tree.default(level)),
                |_, _, _| {},
            );
            if root != lane.root {
                return Err(ProverError::Corrupt(format!(
                    "{} accounts hash to {root}, the last block says {}",
                    lane.model, lane.root
                )));
            }
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
        if let [only] = self.models.as_slice()
            && only.model != Model::ZkTransfer
        {
            return Err(ProverError::Unsupported {
                what: "a zk witness",
                model: only.model,
            });
        }
        self.model_state(Model::ZkTransfer)?;
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

    /// The current state root of `model`, if the chain hosts it.
    pub fn state_root(&self, model: Model) -> Option<Hash32> {
        self.model_state(model).ok().map(|m| m.root)
    }

    /// The stored block file at `height`, if built.
    pub fn block_file(&self, height: u64) -> Result<Option<Vec<u8>>, ProverError> {
        let read = self.db.begin_read()?;
        let blocks = read.open_table(BLOCKS)?;
        Ok(blocks.get(height)?.map(|v| v.value().to_vec()))
    }

    /// The current leaf of `account` of `model` (empty if it does not exist).
    pub fn account(&self, model: Model, account: u64) -> Result<AccountLeaf, ProverError> {
        let tables = self.model_state(model)?.tables;
        let read = self.db.begin_read()?;
        let accounts = read.open_table(tables.accounts)?;
        read_leaf(&accounts, account)
    }

    /// Builds the next block from `transactions` of the chain's one model, commits it
    /// durably, and returns it. A chain of several models needs
    /// [`build_block_of`](Self::build_block_of).
    pub fn build_block(
        &mut self,
        transactions: &[Transaction],
        options: BlockOptions,
    ) -> Result<(Block, BlockReport), ProverError> {
        let model = match self.models.as_slice() {
            [only] => only.model,
            models => {
                return Err(ProverError::ModelNotGiven {
                    models: models.len(),
                });
            }
        };
        self.build_block_of(&[(model, transactions)], options)
    }

    /// Builds the next block from batches of transactions, each for one model, commits it
    /// durably, and returns it.
    ///
    /// Transactions that break a rule are left out and reported (by their index in all the
    /// batches one after another); the rest are packed in order into blobs, batch after batch,
    /// each blob checked by the verifier before the block is committed.
    pub fn build_block_of(
        &mut self,
        batches: &[(Model, &[Transaction])],
        options: BlockOptions,
    ) -> Result<(Block, BlockReport), ProverError> {
        let height = self.height.saturating_add(1);
        let mut report = BlockReport {
            height,
            ..BlockReport::default()
        };
        let mut roots: Vec<Hash32> = self.models.iter().map(|m| m.root).collect();
        let mut changed: Vec<Changed> = self.models.iter().map(|_| Changed::default()).collect();
        let mut blobs = Vec::new();
        let write = self.db.begin_write()?;
        for (position, lane) in self.models.iter().enumerate() {
            let (credits, receipts) = self.pending_credits(lane)?;
            if credits.is_empty() {
                continue;
            }
            let unknown = || ProverError::UnknownModel { model: lane.model };
            let root = roots.get_mut(position).ok_or_else(unknown)?;
            let changed = changed.get_mut(position).ok_or_else(unknown)?;
            let indexed: Vec<(usize, Transaction)> = credits.into_iter().enumerate().collect();
            let mut credit_report = BlockReport::default();
            self.build_blobs(
                lane,
                &write,
                height,
                root,
                &indexed,
                Some(&receipts),
                changed,
                options,
                &mut credit_report,
                &mut blobs,
            )?;
            report.credited = report.credited.saturating_add(credit_report.included);
        }
        let mut offset = 0usize;
        for &(model, transactions) in batches {
            let position = self
                .models
                .iter()
                .position(|m| m.model == model)
                .ok_or(ProverError::UnknownModel { model })?;
            let lane = self
                .models
                .get(position)
                .ok_or(ProverError::UnknownModel { model })?;
            let root = roots
                .get_mut(position)
                .ok_or(ProverError::UnknownModel { model })?;
            let changed = changed
                .get_mut(position)
                .ok_or(ProverError::UnknownModel { model })?;
            let indexed: Vec<(usize, Transaction)> = transactions
                .iter()
                .copied()
                .enumerate()
                .map(|(i, tx)| (offset.saturating_add(i), tx))
                .collect();
            offset = offset.saturating_add(transactions.len());
            self.build_blobs(
                lane,
                &write,
                height,
                root,
                &indexed,
                None,
                changed,
                options,
                &mut report,
                &mut blobs,
            )?;
        }
        let commitments: Vec<Hash32> = blobs.iter().map(blob_commitment).collect();
        let header = Header {
            height,
            parent_hash: self.tip_hash,
            history_root: self.history.root(),
            blobs_root: blobs_root(&commitments),
            state_roots: bounded(
                self.models
                    .iter()
                    .zip(&roots)
                    .map(|(m, &root)| ModelRoot {
                        model: m.model,
                        root,
                    })
                    .collect(),
            )?,
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
        for (lane, root) in self.models.iter_mut().zip(roots) {
            lane.root = root;
        }
        Ok((block, report))
    }

    /// Packs one model's transactions into blobs on top of `root` (moved along), writing each
    /// blob's leaves, nodes and undo log into `write`.
    #[allow(clippy::too_many_arguments)]
    fn build_blobs(
        &self,
        lane: &ModelState,
        write: &WriteTransaction,
        height: u64,
        root: &mut Hash32,
        pending: &[(usize, Transaction)],
        receipts: Option<&[HistoryProof]>,
        changed: &mut Changed,
        options: BlockOptions,
        report: &mut BlockReport,
        blobs: &mut Vec<Blob>,
    ) -> Result<(), ProverError> {
        let mut accounts = write.open_table(lane.tables.accounts)?;
        let mut nodes = write.open_table(lane.tables.nodes)?;
        let mut versions = Versions {
            height,
            accounts: write.open_table(lane.tables.account_versions)?,
            nodes: write.open_table(lane.tables.node_versions)?,
            changed,
        };
        let tree = &lane.tree;
        let mut limit = options.txs_per_blob.clamp(1, MAX_TRANSACTIONS_PER_BLOB);
        if let (Some(zk), Model::ZkTransfer) = (&self.zk, lane.model) {
            limit = limit.min(zk.batch.max(1));
        }
        if receipts.is_some() {
            limit = limit.min(MAX_CREDITS_PER_BLOB);
        }
        let (mut pending, mut receipts) = (pending, receipts);
        while !pending.is_empty() {
            let mut take = limit.min(pending.len());
            loop {
                let (chunk, _) = pending.split_at(take);
                let mut attempt = report.clone();
                let built = match receipts {
                    Some(receipts) => {
                        let txs = chunk.iter().map(|(_, tx)| *tx).collect();
                        let receipts = receipts.get(..take).unwrap_or_default().to_vec();
                        let built =
                            self.assemble(lane, &accounts, &nodes, *root, txs, Some(receipts))?;
                        verify_blob_in_block(&self.params, &self.next_header(), &built.blob)
                            .map_err(ProverError::InvalidBlob)?;
                        Some(built)
                    }
                    None => self.build_blob(lane, &accounts, &nodes, *root, chunk, &mut attempt)?,
                };
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
                        *report = attempt;
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
                        *root = blob.post_state_root;
                        report.included = report.included.saturating_add(blob.transactions.len());
                        blobs.push(blob);
                        break;
                    }
                    None => {
                        *report = attempt;
                        break;
                    }
                }
            }
            pending = pending.get(take..).unwrap_or_default();
            receipts = receipts.map(|r| r.get(take..).unwrap_or_default());
        }
        Ok(())
    }

    /// The header of the block being built, as far as its blobs can know it: height, parent and
    /// history root (what a blob of credits is checked against).
    fn next_header(&self) -> Header {
        Header {
            height: self.height.saturating_add(1),
            parent_hash: self.tip_hash,
            history_root: self.history.root(),
            blobs_root: Hash32::ZERO,
            state_roots: VariableList::empty(),
        }
    }

    /// The credits `lane` can take now, each with its receipt: for every bridge leaf of the
    /// other model whose sent total (after the last block) exceeds what `lane` credited to that
    /// account so far, if the account exists. Receipts are proven at the last block's height
    /// against the block being built.
    fn pending_credits(
        &self,
        lane: &ModelState,
    ) -> Result<(Vec<Transaction>, Vec<HistoryProof>), ProverError> {
        let (Some(bridge), Some(source)) = (
            bridge(&self.params, lane.model),
            self.models.iter().find(|m| m.model != lane.model),
        ) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let read = self.db.begin_read()?;
        let sent_totals = read.open_table(source.tables.accounts)?;
        let accounts = read.open_table(lane.tables.accounts)?;
        let (mut credits, mut receipts) = (Vec::new(), Vec::new());
        for entry in sent_totals.range(bridge.base..)? {
            let (bridge_account, leaf) = entry?;
            let bridge_account = bridge_account.value();
            let sent = AccountLeaf::from_ssz_bytes(leaf.value())
                .map_err(|e| ProverError::Corrupt(format!("bridge leaf {bridge_account}: {e:?}")))?
                .balance;
            let account = bridge_account.saturating_sub(bridge.base);
            let record = read_leaf(&accounts, bridge_account)?;
            let received = if record.is_empty() { 0 } else { record.nonce };
            if sent <= received || read_leaf(&accounts, account)?.is_empty() {
                continue;
            }
            credits.push(Transaction {
                from: bridge_account,
                to: account,
                amount: sent.saturating_sub(received),
                nonce: sent,
                new_account_key: witness_format::PublicKey::ZERO,
                signature: witness_format::Signature::ZERO,
            });
            receipts.push(self.receipt(&read, source.model, bridge_account)?);
        }
        Ok((credits, receipts))
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
        lane: &ModelState,
        accounts: &Table<u64, &[u8]>,
        nodes: &Table<u128, [u8; 32]>,
        pre_root: Hash32,
        chunk: &[(usize, Transaction)],
        report: &mut BlockReport,
    ) -> Result<Option<BuiltBlob>, ProverError> {
        let mut bad_signatures: Vec<usize> = Vec::new();
        loop {
            let selection = self.select(lane, accounts, chunk, &bad_signatures)?;
            if selection.kept.is_empty() {
                report.dropped.extend(selection.rule_drops);
                return Ok(None);
            }
            let txs: Vec<Transaction> = selection.kept.iter().map(|(_, tx)| *tx).collect();
            let built = self.assemble(lane, accounts, nodes, pre_root, txs, None)?;
            match verify_blob_in_block(&self.params, &self.next_header(), &built.blob) {
                Ok(()) => {
                    report.dropped.extend(selection.rule_drops);
                    return Ok(Some(built));
                }
                Err(error) if error.reason == Reason::BadSignature => {
                    let invalid = match lane.model {
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
        lane: &ModelState,
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
        let mut state = self.load_state(
            lane,
            accounts,
            &all,
            self.params.tree_depth,
            &mut |i, reason| out_of_range.push((i, reason)),
        )?;
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
            if let Err(reason) = check_new_account_key(lane.model, &tx.new_account_key) {
                selection.rule_drops.push((index, reason));
                continue;
            }
            let key = state.get(tx.from).map(|leaf| leaf.public_key);
            match state.apply(&tx) {
                Ok(()) => {
                    selection.kept.push((index, tx));
                    selection.signed.push((
                        key.unwrap_or_default(),
                        signing_message(self.params.chain_id, lane.model, &tx),
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
        lane: &ModelState,
        accounts: &Table<u64, &[u8]>,
        nodes: &Table<u128, [u8; 32]>,
        pre_root: Hash32,
        txs: Vec<Transaction>,
        receipts: Option<Vec<HistoryProof>>,
    ) -> Result<BuiltBlob, ProverError> {
        let depth = self.params.tree_depth;
        let pre_state = self.load_state(lane, accounts, &txs, depth, &mut |_, _| {})?;
        let mut post_state = pre_state.clone();
        for tx in &txs {
            match receipts {
                Some(_) => post_state.apply_credit(tx),
                None => post_state.apply(tx),
            }
            .map_err(|reason| ProverError::InvalidBlob(VerifyError::new(reason)))?;
        }

        // The multiproof: every sibling the walk asks for, from the nodes table.
        let tree = &lane.tree;
        let proof = write_multiproof(
            tree,
            depth,
            leaf_hashes(tree, &pre_state)?,
            |level, index| {
                Ok::<_, ProverError>(read_node(nodes, level, index)?.unwrap_or(tree.default(level)))
            },
        )?;
        if proof.root != pre_root {
            return Err(ProverError::Corrupt(format!(
                "stored tree gives root {}, expected {pre_root}",
                proof.root
            )));
        }
        let mut new_nodes = Vec::new();
        let mut replay = proof.siblings.iter().copied();
        let Ok(post_root) = tree.root::<Infallible>(
            depth,
            leaf_hashes(tree, &post_state)?,
            |_, _| Ok(replay.next().unwrap_or(Hash32::ZERO)),
            |level, index, hash| new_nodes.push((level, index, *hash)),
        );
        let merkle = proof
            .witness(pre_state.leaves().to_vec())
            .ok_or_else(|| ProverError::Corrupt("a witness past its limits".into()))?;
        // A zk proof does not cover the bridge: blobs that exit take Merkle witnesses.
        let exits = bridge(&self.params, lane.model)
            .is_some_and(|bridge| txs.iter().any(|tx| tx.to >= bridge.base));
        let witness = match (&self.zk, receipts) {
            (_, Some(receipts)) => Witness::Credits(CreditWitness {
                merkle,
                receipts: bounded(receipts)?,
            }),
            (Some(zk), None) if lane.model == Model::ZkTransfer && !exits => {
                self.zk_witness(zk, &pre_state, &txs, proof.siblings, (pre_root, post_root))?
            }
            _ => Witness::Merkle(merkle),
        };
        let blob = Blob {
            model: lane.model,
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
        let bridge = verifier::bridge::bridge(&self.params, Model::ZkTransfer).is_some();
        let witness = build_witness(depth, zk.batch, chain_id, bridge, pre_state, txs, |_, _| {
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

    /// The touched state of `txs`, read from the accounts table. Out-of-range accounts are
    /// reported through `reject` (by position in `txs`) and left out.
    fn load_state(
        &self,
        lane: &ModelState,
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
            .map(|state| state.with_bridge(bridge(&self.params, lane.model)))
            .ok_or_else(|| ProverError::Corrupt("touched state length".into()))
    }
}

/// The `(account, leaf hash)` pairs of a touched state, ascending.
fn leaf_hashes(tree: &ModelTree, state: &TouchedState) -> Result<Vec<(u64, Hash32)>, ProverError> {
    state
        .accounts()
        .iter()
        .zip(state.leaves())
        .map(|(&account, leaf)| {
            tree.leaf(leaf)
                .map(|hash| (account, hash))
                .ok_or_else(|| ProverError::Corrupt(format!("account {account}: bad key")))
        })
        .collect()
}

/// What a block changed so far in one model's state: a later blob's change must not overwrite
/// the value from before the block with one from within it. One per model for the whole block,
/// whatever number of batches (credits, transfers) fill it.
#[derive(Default)]
struct Changed {
    accounts: HashSet<u64>,
    nodes: HashSet<u128>,
}

/// The undo log of one block's write transaction, for one model: the value of each leaf and
/// node before the block first changed it.
struct Versions<'txn, 'c> {
    height: u64,
    accounts: Table<'txn, (u64, u64), &'static [u8]>,
    nodes: Table<'txn, (u128, u64), [u8; 32]>,
    changed: &'c mut Changed,
}

impl Versions<'_, '_> {
    /// Records the value `account` had before this block (SSZ; `None`: the empty slot), on its
    /// first change in the block.
    fn account(&mut self, account: u64, prior: Option<Vec<u8>>) -> Result<(), ProverError> {
        if self.changed.accounts.insert(account) {
            let prior = prior.unwrap_or_else(|| AccountLeaf::EMPTY.as_ssz_bytes());
            self.accounts
                .insert((account, self.height), prior.as_slice())?;
        }
        Ok(())
    }

    /// Records the hash node `key` had before this block (the level's default if it was
    /// absent), on its first change in the block.
    fn node(&mut self, key: u128, prior: [u8; 32]) -> Result<(), ProverError> {
        if self.changed.nodes.insert(key) {
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

/// The genesis stored in `db`, if it holds one, after checking the database's format version.
fn stored_genesis(db: &Database) -> Result<Option<Genesis>, ProverError> {
    let read = db.begin_read()?;
    let meta = match read.open_table(META) {
        Ok(meta) => meta,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let Some(genesis) = meta.get(META_GENESIS)? else {
        return Ok(None);
    };
    let found = match meta.get(META_FORMAT)? {
        Some(bytes) => <[u8; 8]>::try_from(bytes.value())
            .map(u64::from_le_bytes)
            .map_err(|_| ProverError::Corrupt("stored format version".into()))?,
        None => 1,
    };
    if found != FORMAT_VERSION {
        return Err(ProverError::UnsupportedFormat { found });
    }
    decode_file(genesis.value())
        .map(Some)
        .map_err(|e| ProverError::Corrupt(format!("stored genesis: {e}")))
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

/// The genesis allocations give: their chain id and depth, each model's root over its
/// accounts (models in ascending order), and the pinned zk keys.
fn genesis_of(allocations: &[Allocation], zk_keys: &[ZkKeyPin]) -> Result<Genesis, ProverError> {
    let allocations = checked_allocations(allocations)?;
    let roots = allocations
        .iter()
        .map(|allocation| {
            let root = allocation_root(allocation, &tree_of(allocation.model)?, |_, _, _| {})?;
            Ok(ModelRoot {
                model: allocation.model,
                root,
            })
        })
        .collect::<Result<Vec<_>, ProverError>>()?;
    let first = allocations.first().ok_or_else(no_allocation)?;
    Ok(Genesis {
        chain_id: first.chain_id,
        tree_depth: first.tree_depth,
        state_roots: bounded(roots)?,
        zk_keys: zk_pins(zk_keys)?,
    })
}

fn no_allocation() -> ProverError {
    ProverError::InvalidAllocation("no allocation: a chain hosts at least one model".into())
}

/// The allocations in ascending model order, checked to make one chain: at least one, one per
/// model, all with the same chain id and depth.
fn checked_allocations(allocations: &[Allocation]) -> Result<Vec<&Allocation>, ProverError> {
    let mut sorted: Vec<&Allocation> = allocations.iter().collect();
    sorted.sort_by_key(|a| a.model);
    let first = *sorted.first().ok_or_else(no_allocation)?;
    for pair in sorted.windows(2) {
        if let [a, b] = pair
            && a.model == b.model
        {
            return Err(ProverError::InvalidAllocation(format!(
                "two allocations for model {}",
                a.model
            )));
        }
    }
    if let Some(other) = sorted
        .iter()
        .find(|a| (a.chain_id, a.tree_depth) != (first.chain_id, first.tree_depth))
    {
        return Err(ProverError::InvalidAllocation(format!(
            "the {} allocation is for chain {} at depth {}, the {} allocation for chain {} at depth {}",
            first.model,
            first.chain_id,
            first.tree_depth,
            other.model,
            other.chain_id,
            other.tree_depth
        )));
    }
    Ok(sorted)
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

/// Writes each allocation's accounts and tree, and the genesis, in one transaction.
fn initialize(
    db: &Database,
    allocations: &[Allocation],
    zk_keys: &[ZkKeyPin],
) -> Result<Genesis, ProverError> {
    let allocations = checked_allocations(allocations)?;
    let first = allocations.first().ok_or_else(no_allocation)?;
    let probe = Genesis {
        chain_id: first.chain_id,
        tree_depth: first.tree_depth,
        state_roots: bounded(
            allocations
                .iter()
                .map(|a| ModelRoot {
                    model: a.model,
                    root: Hash32::ZERO,
                })
                .collect(),
        )?,
        zk_keys: zk_pins(zk_keys)?,
    };
    ChainParams::from_genesis(&probe).map_err(|e| ProverError::InvalidAllocation(e.to_string()))?;
    let write = db.begin_write()?;
    let mut roots = Vec::with_capacity(allocations.len());
    for allocation in &allocations {
        let tree = tree_of(allocation.model)?;
        let tables = ModelTables::of(allocation.model);
        let mut accounts = write.open_table(tables.accounts)?;
        let mut nodes = write.open_table(tables.nodes)?;
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
        write.open_table(tables.account_versions)?;
        write.open_table(tables.node_versions)?;
        roots.push(ModelRoot {
            model: allocation.model,
            root,
        });
    }
    let genesis = Genesis {
        state_roots: bounded(roots)?,
        ..probe
    };
    {
        let mut meta = write.open_table(META)?;
        meta.insert(META_GENESIS, encode_file(&genesis).as_slice())?;
        meta.insert(META_FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())?;
    }
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
    write.commit()?;
    Ok(genesis)
}
