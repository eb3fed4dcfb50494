//! The prover's full state in redb, and block building.
//!
//! A database holds one chain: the models its genesis hosts (`transfer`, `zk-transfer` or both),
//! each with its own tables, named `MODEL/TABLE` (for example `zk-transfer/nodes`):
//!
//! | table      | key                      | value                                    |
//! |------------|--------------------------|------------------------------------------|
//! | `MODEL/accounts` | `g`                | the leaves of accounts `16g .. 16g + 15` at the checkpoint: a `u16` bitmap of those stored, then their 48-byte SSZ `AccountLeaf`s |
//! | `MODEL/nodes`    | `level << 64 \| g` | nodes `16g .. 16g + 15` of the level at the checkpoint, leaves (level 0) included: a `u16` bitmap of those stored, then their 32-byte hashes; default (empty) nodes absent |
//! | `MODEL/undo`     | block height `h`   | every leaf block `h` changed, as it was before `h`: account (8 bytes, little-endian) and leaf (48), ascending |
//! | `MODEL/redo`     | block height `h` after the checkpoint | the same leaves as block `h` left them |
//! | `blocks`   | height                   | the block file, exactly as exported      |
//! | `headers`  | height (0 = genesis)     | header hash                              |
//! | `history_nodes` | `height << 64 \| index` | 32-byte node `(height, index)` of the history accumulator (leaves: height 0) |
//! | `meta`     | name                     | genesis file, format version, checkpoint height, lowest provable height |
//!
//! Hashes are the model's ([`crate::tree_hash::ModelTree`]: for `zk-transfer`, field elements in
//! their canonical 32-byte encoding).
//!
//! Every block is one write transaction, committed durably: after a crash the database holds the
//! state after some whole block, and building resumes from there. Blocks are stored in the
//! database too, so the exported chain directory can always be rewritten from it.
//!
//! State (`leaves.rs`, `nodes.rs`): `MODEL/accounts` and `MODEL/nodes` hold the state at the
//! last checkpoint, and each block appends its redo entry (the leaves it changed, as it left
//! them); the current leaves are the checkpoint's under the redo entries since, kept in memory.
//! Every [`CHECKPOINT_BLOCKS`] blocks (by default, [`BlockOptions::checkpoint_every`]), a block's transaction also writes every
//! leaf and node changed since into the tables and drops the redo entries. So a block writes a
//! few sequential entries, not one random B-tree update per leaf and node (which would touch
//! most of the tables' pages every block), and a crash loses nothing: the current tree is the
//! checkpoint's with the paths of the leaves changed since recomputed (the first block a
//! process builds does that, and checks the root it gets against the last block's).
//!
//! History (for history proofs, `crate::fact_proofs`): the accumulator's nodes are stored as
//! they are created, so a leaf's inclusion proof is O(log n) reads and appending is O(log n)
//! writes. Each block also appends its undo entry: every leaf it changed, as it was before the
//! block. So a leaf's value at height `i` is the one in the first undo entry after `i` that has
//! it, or the current value; and a node's value at height `i` is the checkpoint's if no leaf
//! below it changed in between, else the hash of its children at `i` (recomputed down to the
//! changed leaves). Tree nodes keep no history: it grows by 56 bytes per changed leaf. With a
//! history window ([`BlockOptions::history_window`]), the undo entries of older blocks are
//! dropped, and states before the window are refused ([`ProverError::HistoryPruned`]).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use verifier::accumulator::HistoryAccumulator;
use verifier::hash::genesis_hash;
use verifier::zk_transfer::groth16::verifying_key_hash;
use verifier::{ChainParams, Reason};
use witness_format::{
    AccountLeaf, Allocation, Block, Genesis, Hash32, Model, ZkKeyPin, decode_file,
};

use crate::tree_hash::ModelTree;
use crate::zk::groth16::ProvingKey;
use crate::zk::keys::Shape;
use crate::zk::proofs::{LocalProofs, ProofSource, ZkProving};
use verifier::accounts::AccountRules;

mod build;
mod credits;
mod error;
mod genesis;
mod groups;
mod leaves;
mod nodes;
mod schema;
mod undo;

pub use credits::EvmChannels;
pub use error::{BlockFailed, ProverError};
use genesis::*;
pub(crate) use leaves::Leaves;
pub(crate) use nodes::read_node;
pub(crate) use schema::*;
pub(crate) use undo::read_log;
use undo::*;

/// One hosted model: its hashes, its tables and its current state root.
pub(crate) struct ModelState {
    pub(crate) model: Model,
    pub(crate) tree: ModelTree,
    /// Its key and signature rules (every model this prover builds numbers its accounts).
    pub(crate) rules: &'static dyn AccountRules,
    pub(crate) tables: ModelTables,
    root: Hash32,
    /// The current tree, once a block needs it (`build.rs`).
    nodes: Option<nodes::TreeNodes>,
    /// The current leaves in memory, loaded and dropped with `nodes`.
    current: Option<leaves::CurrentLeaves>,
    /// The leaves changed since the checkpoint, as they are now.
    pub(crate) recent: BTreeMap<u64, AccountLeaf>,
}

impl ModelState {
    fn new(model: Model, root: Hash32) -> Result<Self, ProverError> {
        let rules = verifier::model(model).account_rules().ok_or_else(|| {
            ProverError::InvalidAllocation(format!("model {model} has no numbered accounts"))
        })?;
        Ok(Self {
            model,
            tree: tree_of(model)?,
            rules,
            tables: ModelTables::of(model),
            root,
            nodes: None,
            current: None,
            recent: BTreeMap::new(),
        })
    }
}

/// The leaves of `lane` changed since the checkpoint at `checkpoint`, as they are now: its redo
/// entries since, in order.
fn read_recent(
    read: &redb::ReadTransaction,
    lane: &ModelState,
    checkpoint: u64,
) -> Result<BTreeMap<u64, AccountLeaf>, ProverError> {
    let mut recent = BTreeMap::new();
    let redo = read.open_table(lane.tables.redo)?;
    for (_, leaves) in read_log(&redo, checkpoint.saturating_add(1)..)? {
        recent.extend(leaves);
    }
    Ok(recent)
}

/// The state tree of `model`: every model this prover builds has one.
pub(super) fn tree_of(model: Model) -> Result<ModelTree, ProverError> {
    ModelTree::new(model).ok_or_else(|| {
        ProverError::InvalidAllocation(format!("model {model} has no sparse state tree"))
    })
}

/// How blocks are built: cut into blobs, and what the database keeps of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockOptions {
    /// Most transactions per blob.
    pub txs_per_blob: usize,
    /// Most encoded bytes per blob; a blob over it is split.
    pub max_blob_bytes: usize,
    /// Blocks between checkpoints of the accounts and nodes tables (at least 1; see the module
    /// doc).
    pub checkpoint_every: u64,
    /// Keep the state history of the last this many blocks only (`None`: all of it): states
    /// from this many blocks before the tip on can be proven, older ones are refused. What is
    /// dropped stays dropped.
    pub history_window: Option<u64>,
}

impl Default for BlockOptions {
    fn default() -> Self {
        Self {
            txs_per_blob: 1024,
            max_blob_bytes: 2 << 20,
            checkpoint_every: CHECKPOINT_BLOCKS,
            history_window: None,
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
    /// Blobs of the proven model that keep their Merkle witness because the key cannot prove
    /// them: they exit through the bridge, or their accounts span two of the key's subtrees.
    pub unproven: usize,
}

/// Where zk proofs come from, and the batch size and verifying key they are for (pinned in the
/// genesis).
struct ZkProver {
    /// The model whose blobs it proves (the one model with a circuit).
    model: Model,
    /// The key's shape: its batch, and the subtree a proof's accounts must share.
    shape: Shape,
    vk_hash: Hash32,
    proofs: Box<dyn ProofSource>,
}

/// The full state of one chain (every model it hosts), in redb.
pub struct ProverState {
    pub(crate) db: Database,
    genesis: Genesis,
    pub(crate) params: ChainParams,
    /// The hosted models with numbered accounts, in genesis order.
    pub(crate) models: Vec<ModelState>,
    /// The `evm` model's state root, when the chain hosts it beside them (its state is the
    /// `evm` producer's; this state only links its blobs).
    evm_root: Option<Hash32>,
    /// With a key, `zk-transfer` blobs carry zk proofs instead of Merkle witnesses.
    zk: Option<ZkProver>,
    history: HistoryAccumulator,
    height: u64,
    tip_hash: Hash32,
    /// The height whose state the accounts and nodes tables hold.
    checkpoint: u64,
    /// The lowest height whose state can be proven.
    history_from: u64,
}

/// What a prover's database takes ([`ProverState::storage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Storage {
    /// All its allocated pages, in bytes.
    pub allocated_bytes: u64,
    /// The state history's (undo entries') pages, in bytes.
    pub history_bytes: u64,
}

/// Blocks between two checkpoints of the accounts and nodes tables, by default: the redo
/// entries a crash leaves to replay, against one rewrite of the changed part of the tables.
pub const CHECKPOINT_BLOCKS: u64 = 64;

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
        Self::open_chain_with_evm(path, allocations, zk_keys, None)
    }

    /// [`open_chain`](Self::open_chain) for a chain that also hosts the `evm` model: the
    /// chain whose genesis is `evm` (its state root and anchor; its own state is the
    /// producer's, `crate::evm_produce`). Its blobs come with
    /// [`build_block_with_evm`](Self::build_block_with_evm).
    pub fn open_chain_with_evm(
        path: &Path,
        allocations: &[Allocation],
        zk_keys: &[ZkKeyPin],
        evm: Option<&Genesis>,
    ) -> Result<Self, ProverError> {
        Self::open_chain_pinned(path, allocations, zk_keys, None, evm)
    }

    /// [`open_chain_with_evm`](Self::open_chain_with_evm) with, when given, the hash of an
    /// aggregation SRS key pinned in the genesis too (`Genesis.zk_srs`: spans of this chain
    /// can then be aggregated under that SRS).
    pub fn open_chain_pinned(
        path: &Path,
        allocations: &[Allocation],
        zk_keys: &[ZkKeyPin],
        zk_srs: Option<Hash32>,
        evm: Option<&Genesis>,
    ) -> Result<Self, ProverError> {
        Self::open_database(Database::create(path)?, allocations, zk_keys, zk_srs, evm)
    }

    /// [`open_chain_pinned`](Self::open_chain_pinned) on an open database (tests give one on
    /// storage of their own).
    pub(crate) fn open_database(
        db: Database,
        allocations: &[Allocation],
        zk_keys: &[ZkKeyPin],
        zk_srs: Option<Hash32>,
        evm: Option<&Genesis>,
    ) -> Result<Self, ProverError> {
        let genesis = match stored_genesis(&db)? {
            Some(genesis) => {
                let expected = genesis_of(allocations, zk_keys, zk_srs, evm)?;
                if genesis != expected {
                    return Err(ProverError::WrongChain {
                        expected: genesis_hash(&expected),
                        found: genesis_hash(&genesis),
                    });
                }
                genesis
            }
            None => initialize(&db, allocations, zk_keys, zk_srs, evm)?,
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
        let evm_root = roots.iter().find(|r| r.model == Model::Evm).map(|r| r.root);
        let mut models: Vec<ModelState> = roots
            .iter()
            .filter(|r| r.model != Model::Evm)
            .map(|r| ModelState::new(r.model, r.root))
            .collect::<Result<_, _>>()?;
        let meta = read.open_table(META)?;
        let checkpoint = read_meta_u64(&meta, META_CHECKPOINT)?;
        let history_from = read_meta_u64(&meta, META_HISTORY_FROM)?;
        for lane in &mut models {
            lane.recent = read_recent(&read, lane, checkpoint)?;
        }
        drop(headers);
        drop(meta);
        drop(read);
        Ok(Self {
            db,
            genesis,
            params,
            models,
            evm_root,
            zk: None,
            history,
            height,
            tip_hash,
            checkpoint,
            history_from,
        })
    }

    /// The lowest height whose state (accounts) can still be proven.
    pub fn history_from(&self) -> u64 {
        self.history_from
    }

    /// The current leaves of `lane`, over `table` (its accounts table).
    pub(crate) fn leaves<'a>(
        lane: &'a ModelState,
        table: &'a redb::ReadOnlyTable<u64, &'static [u8]>,
    ) -> Leaves<'a> {
        Leaves {
            table,
            recent: &lane.recent,
            memory: None,
            block: None,
        }
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
            for (account, leaf) in Self::leaves(lane, &accounts).range(..)? {
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
    /// slots on this chain's depth), proven here. The genesis must pin its verifying key for
    /// that batch.
    pub fn set_zk_proving_key(&mut self, pk: ProvingKey, batch: usize) -> Result<(), ProverError> {
        let shape = Shape::new(
            self.params.tree_depth,
            u16::try_from(batch)
                .map_err(|_| ProverError::ZkKey(format!("batch {batch} is too large")))?,
            self.params.chain_id,
        );
        let vk = pk.vk.clone();
        self.set_zk_proofs(ZkProving {
            shape,
            vk,
            proofs: Box::new(LocalProofs::new(pk, shape)),
        })
    }

    /// From now on, builds `zk-transfer` blobs with zk proofs from `zk` (under its verifying
    /// key, for its batch size). The genesis must pin that key for that batch, and the shape
    /// must be this chain's.
    pub fn set_zk_proofs(&mut self, zk: ZkProving) -> Result<(), ProverError> {
        // The `zk-transfer` circuit is the one circuit (`crate::zk`).
        let model = Model::ZkTransfer;
        if let [only] = self.models.as_slice()
            && only.model != model
        {
            return Err(ProverError::Unsupported {
                what: "a zk witness",
                model: only.model,
            });
        }
        self.model_state(model)?;
        let ZkProving { shape, vk, proofs } = zk;
        if shape.depth != self.params.tree_depth || shape.chain_id != self.params.chain_id {
            return Err(ProverError::ZkKey(format!(
                "the key is for depth {} and chain {}, the chain has depth {} and chain {}",
                shape.depth, shape.chain_id, self.params.tree_depth, self.params.chain_id
            )));
        }
        shape.check().map_err(ProverError::ZkKey)?;
        let batch = shape.batch();
        let vk_hash = verifying_key_hash(&vk);
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
            .add_zk_keys(std::slice::from_ref(&vk))
            .map_err(|e| ProverError::ZkKey(e.to_string()))?;
        self.params = params;
        self.zk = Some(ZkProver {
            model,
            shape,
            vk_hash,
            proofs,
        });
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
        match model {
            Model::Evm => self.evm_root,
            _ => self.model_state(model).ok().map(|m| m.root),
        }
    }

    /// The stored block file at `height`, if built.
    pub fn block_file(&self, height: u64) -> Result<Option<Vec<u8>>, ProverError> {
        let read = self.db.begin_read()?;
        let blocks = read.open_table(BLOCKS)?;
        Ok(blocks.get(height)?.map(|v| v.value().to_vec()))
    }

    /// The bytes the database takes: in all (its allocated pages) and for state history (the
    /// pages of the undo entries).
    pub fn storage(&self) -> Result<Storage, ProverError> {
        let write = self.db.begin_write()?;
        let stats = write.stats().map_err(redb::Error::from)?;
        let allocated_bytes = stats
            .allocated_pages()
            .saturating_mul(stats.page_size() as u64);
        let mut history_bytes = 0u64;
        for lane in &self.models {
            let table = write.open_table(lane.tables.undo)?.stats()?;
            history_bytes = history_bytes
                .saturating_add(table.stored_bytes())
                .saturating_add(table.metadata_bytes())
                .saturating_add(table.fragmented_bytes());
        }
        write.abort()?;
        Ok(Storage {
            allocated_bytes,
            history_bytes,
        })
    }

    /// The current leaf of `account` of `model` (empty if it does not exist).
    pub fn account(&self, model: Model, account: u64) -> Result<AccountLeaf, ProverError> {
        let lane = self.model_state(model)?;
        let read = self.db.begin_read()?;
        let accounts = read.open_table(lane.tables.accounts)?;
        Self::leaves(lane, &accounts).get(account)
    }
}
