//! History proofs from the prover's database: a past header, blob, transaction or account value,
//! proven against a later header (the tip) with O(log n + depth) hashes.
//!
//! The shapes and every hash come from `verifier` (`history::proof_nodes` names the accumulator
//! nodes to read, `hash::list_path` the list paths, the model's tree walk (`crate::tree_hash`) the account's
//! path), and every proof passes `verify_history_proof` before it is returned.

use std::collections::HashMap;

use redb::{ReadOnlyTable, ReadTransaction, ReadableDatabase};
use verifier::accounts::in_range;
use verifier::accumulator::proof_nodes;
use verifier::hash::{
    BLOBS_NODE_TAG, TRANSACTIONS_NODE_TAG, blob_commitment, blob_content_root, list_path,
    transaction_hashes,
};
use verifier::tree::{SparseTree, bit_list, write_multiproof};
use verifier::verify_history_proof;
use witness_format::ssz_types::VariableList;
use witness_format::{
    AccountFact, AccountLeaf, Anchor, BlobFact, BlobInclusion, Block, EvmChannelFact, Hash32,
    HistoryFact, HistoryProof, Model, TransactionFact, TransactionInclusion, decode_file,
};

use crate::state::{
    BLOCKS, HISTORY_NODES, Leaves, META, META_CHECKPOINT, ProverError, ProverState, history_key,
    read_log, read_meta_u64, read_node,
};
use crate::tree_hash::ModelTree;

/// A fact to prove, by where it is in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactQuery {
    /// The header at `height`; at 0, the genesis.
    Header {
        /// The height.
        height: u64,
    },
    /// Blob `blob` of the block at `height`.
    Blob {
        /// The block's height.
        height: u64,
        /// The blob's index in the block.
        blob: u64,
    },
    /// Transaction `transaction` of blob `blob` of the block at `height`.
    Transaction {
        /// The block's height.
        height: u64,
        /// The blob's index in the block.
        blob: u64,
        /// The transaction's index in the blob.
        transaction: u64,
    },
    /// The leaf of `account` of `model` after the block at `height` (at 0: at genesis).
    Account {
        /// The height.
        height: u64,
        /// The model.
        model: Model,
        /// The account number.
        account: u64,
    },
}

impl FactQuery {
    /// The height the fact is about.
    pub fn height(&self) -> u64 {
        match *self {
            Self::Header { height }
            | Self::Blob { height, .. }
            | Self::Transaction { height, .. }
            | Self::Account { height, .. } => height,
        }
    }
}

impl ProverState {
    /// Proves `query` against the header of the block at `tip`: a proof that
    /// `verifier::verify_history_proof` accepts with that header alone.
    ///
    /// The fact's height must be at most `tip`, and `tip` a built block. Reads O(log tip) nodes
    /// of the history accumulator, one block, and for an account one version of each of the
    /// tree's levels.
    pub fn history_proof(&self, tip: u64, query: FactQuery) -> Result<HistoryProof, ProverError> {
        let height = query.height();
        if tip == 0 || tip > self.height() {
            return Err(ProverError::TipOutOfRange {
                tip,
                height: self.height(),
            });
        }
        if height > tip {
            return Err(ProverError::FactAboveTip { height, tip });
        }
        let read = self.db.begin_read()?;
        let tip_header = self.stored_block(&read, tip)?.header;
        let (peak_path, other_peaks) = if height == tip {
            (Vec::new(), Vec::new())
        } else {
            ancestry(&read.open_table(HISTORY_NODES)?, tip, height)?
        };
        let fact = match query {
            FactQuery::Header { .. } => HistoryFact::Anchor(self.anchor(&read, height)?),
            FactQuery::Blob { blob, .. } => {
                let block = self.block_with_blobs(&read, height, blob)?;
                let blob = blob_inclusion(&block, blob)?;
                HistoryFact::Blob(BlobFact {
                    header: block.header,
                    blob,
                })
            }
            FactQuery::Transaction {
                blob, transaction, ..
            } => {
                let block = self.block_with_blobs(&read, height, blob)?;
                let inclusion_of_blob = blob_inclusion(&block, blob)?;
                let transaction = transaction_inclusion(&block, height, blob, transaction)?;
                HistoryFact::Transaction(TransactionFact {
                    header: block.header,
                    blob: inclusion_of_blob,
                    transaction,
                })
            }
            FactQuery::Account { model, account, .. } => {
                HistoryFact::Account(self.account_fact(&read, height, model, account)?)
            }
        };
        let proof = HistoryProof {
            tip_height: tip,
            peak_path: bounded(peak_path)?,
            other_peaks: bounded(other_peaks)?,
            fact,
        };
        verify_history_proof(&proof, &tip_header).map_err(ProverError::InvalidProof)?;
        Ok(proof)
    }

    /// The receipt of a credit in the block being built: the value of `model`'s `account` after
    /// the last block, proven against the next block's history root.
    pub(crate) fn receipt(
        &self,
        read: &ReadTransaction,
        model: Model,
        account: u64,
    ) -> Result<HistoryProof, ProverError> {
        let (height, tip) = (self.height(), self.height().saturating_add(1));
        let (peak_path, other_peaks) = ancestry(&read.open_table(HISTORY_NODES)?, tip, height)?;
        Ok(HistoryProof {
            tip_height: tip,
            peak_path: bounded(peak_path)?,
            other_peaks: bounded(other_peaks)?,
            fact: HistoryFact::Account(self.account_fact(read, height, model, account)?),
        })
    }

    /// The receipt of a credit from the `evm` model in the block being built: the bridge
    /// contract's total `sent` to `account` of `model` after the last block, proven by `nodes`
    /// against the next block's history root.
    pub(crate) fn evm_receipt(
        &self,
        read: &ReadTransaction,
        model: Model,
        account: u64,
        sent: u64,
        nodes: Vec<Vec<u8>>,
    ) -> Result<HistoryProof, ProverError> {
        let (height, tip) = (self.height(), self.height().saturating_add(1));
        let (peak_path, other_peaks) = ancestry(&read.open_table(HISTORY_NODES)?, tip, height)?;
        let nodes = nodes
            .into_iter()
            .map(bounded)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HistoryProof {
            tip_height: tip,
            peak_path: bounded(peak_path)?,
            other_peaks: bounded(other_peaks)?,
            fact: HistoryFact::EvmChannel(EvmChannelFact {
                anchor: self.anchor(read, height)?,
                model,
                account,
                sent,
                nodes: bounded(nodes)?,
            }),
        })
    }

    /// The stored block at `height` (at least 1).
    fn stored_block(&self, read: &ReadTransaction, height: u64) -> Result<Block, ProverError> {
        let blocks = read.open_table(BLOCKS)?;
        let bytes = blocks
            .get(height)?
            .ok_or_else(|| ProverError::Corrupt(format!("block {height} missing")))?;
        decode_file(bytes.value()).map_err(|e| ProverError::Corrupt(format!("block {height}: {e}")))
    }

    /// The stored block at `height`, which must have a blob `blob` (the genesis has none).
    fn block_with_blobs(
        &self,
        read: &ReadTransaction,
        height: u64,
        blob: u64,
    ) -> Result<Block, ProverError> {
        let block = match height {
            0 => None,
            _ => Some(self.stored_block(read, height)?),
        };
        let blobs = block.as_ref().map_or(0, |b| b.blobs.len() as u64);
        match block {
            Some(block) if blob < blobs => Ok(block),
            _ => Err(ProverError::NoSuchBlob {
                height,
                blob,
                blobs,
            }),
        }
    }

    /// The anchor at `height`: the genesis at 0, else the stored header.
    fn anchor(&self, read: &ReadTransaction, height: u64) -> Result<Anchor, ProverError> {
        Ok(match height {
            0 => Anchor::Genesis(self.genesis().clone()),
            _ => Anchor::Header(self.stored_block(read, height)?.header),
        })
    }

    /// The leaf of `account` at `height` and its compressed path in the tree as it was then.
    fn account_fact(
        &self,
        read: &ReadTransaction,
        height: u64,
        model: Model,
        account: u64,
    ) -> Result<AccountFact, ProverError> {
        let lane = self.model_state(model)?;
        let depth = self.params.tree_depth;
        if !in_range(account, depth) {
            return Err(ProverError::AccountOutOfRange { account, depth });
        }
        if height < self.history_from() {
            return Err(ProverError::HistoryPruned {
                height,
                oldest: self.history_from(),
            });
        }
        let anchor = self.anchor(read, height)?;
        let tree = &lane.tree;
        let accounts = read.open_table(lane.tables.accounts)?;
        let checkpoint = read_meta_u64(&read.open_table(META)?, META_CHECKPOINT)?;
        let mut before = HashMap::new();
        let mut changed_since = Vec::new();
        for (_, leaves) in read_log(&read.open_table(lane.tables.undo)?, later(height)..)? {
            for (account, leaf) in leaves {
                before.entry(account).or_insert(leaf);
                changed_since.push(account);
            }
        }
        for (_, leaves) in read_log(&read.open_table(lane.tables.redo)?, later(checkpoint)..)? {
            changed_since.extend(leaves.into_iter().map(|(account, _)| account));
        }
        changed_since.sort_unstable();
        changed_since.dedup();
        let state = VersionedState {
            current: ProverState::leaves(lane, &accounts),
            nodes: read.open_table(lane.tables.nodes)?,
            before,
            changed_since,
            tree,
            height,
        };
        let leaf = state.leaf(account)?;
        let leaf_hash = tree
            .leaf(&leaf)
            .ok_or_else(|| ProverError::Corrupt(format!("account {account}: bad key")))?;
        let proof = write_multiproof(tree, depth, vec![(account, leaf_hash)], |level, index| {
            state.node(level, index)
        })?;
        let root = proof.root;
        let roots = match &anchor {
            Anchor::Genesis(genesis) => &genesis.state_roots,
            Anchor::Header(header) => &header.state_roots,
        };
        let expected = roots.iter().find(|r| r.model == model).map(|r| r.root);
        if expected != Some(root) {
            return Err(ProverError::Corrupt(format!(
                "stored state at height {height} gives root {root}, the chain says {expected:?}"
            )));
        }
        Ok(AccountFact {
            anchor,
            model,
            account,
            leaf,
            sibling_present: bit_list(&proof.present)
                .ok_or_else(|| ProverError::Corrupt("an account path past its limit".into()))?,
            siblings: bounded(proof.carried)?,
        })
    }
}

/// The inclusion proof of leaf `height` in the accumulator over `tip` leaves, read from the
/// stored nodes: the path to its peak and the other peaks.
fn ancestry(
    nodes: &ReadOnlyTable<u128, [u8; 32]>,
    tip: u64,
    height: u64,
) -> Result<(Vec<Hash32>, Vec<Hash32>), ProverError> {
    let names = proof_nodes(tip, height)
        .ok_or_else(|| ProverError::Corrupt(format!("no leaf {height} below {tip}")))?;
    let read = |&(level, index): &(u32, u64)| {
        nodes
            .get(history_key(level, index))?
            .map(|v| Hash32::from(v.value()))
            .ok_or_else(|| ProverError::Corrupt(format!("history node ({level}, {index}) missing")))
    };
    Ok((
        names.path.iter().map(read).collect::<Result<_, _>>()?,
        names
            .other_peaks
            .iter()
            .map(read)
            .collect::<Result<_, _>>()?,
    ))
}

/// Blob `index` of `block`: its commitment's pre-image and its path under the blob root.
// Exported only with feature `testing` (tests build tampered span steps from it).
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))]
pub fn blob_inclusion(block: &Block, index: u64) -> Result<BlobInclusion, ProverError> {
    let commitments: Vec<Hash32> = block.blobs.iter().map(blob_commitment).collect();
    let position = usize::try_from(index).unwrap_or(usize::MAX);
    let (Some(blob), Some(path)) = (
        block.blobs.get(position),
        list_path(BLOBS_NODE_TAG, &commitments, position),
    ) else {
        return Err(ProverError::NoSuchBlob {
            height: block.header.height,
            blob: index,
            blobs: block.blobs.len() as u64,
        });
    };
    Ok(BlobInclusion {
        index,
        count: block.blobs.len() as u64,
        model: blob.model,
        pre_state_root: blob.pre_state_root,
        post_state_root: blob.post_state_root,
        transactions_root: blob_content_root(blob),
        path: bounded(path)?,
    })
}

/// Transaction `index` of blob `blob` of `block` and its path under the blob's transaction root.
fn transaction_inclusion(
    block: &Block,
    height: u64,
    blob: u64,
    index: u64,
) -> Result<TransactionInclusion, ProverError> {
    let transactions = usize::try_from(blob)
        .ok()
        .and_then(|b| block.blobs.get(b))
        .map(|b| b.transactions.as_ref())
        .unwrap_or_default();
    let hashes = transaction_hashes(transactions);
    let position = usize::try_from(index).unwrap_or(usize::MAX);
    let (Some(transaction), Some(path)) = (
        transactions.get(position),
        list_path(TRANSACTIONS_NODE_TAG, &hashes, position),
    ) else {
        return Err(ProverError::NoSuchTransaction {
            height,
            blob,
            transaction: index,
            transactions: transactions.len() as u64,
        });
    };
    Ok(TransactionInclusion {
        index,
        count: transactions.len() as u64,
        transaction: *transaction,
        path: bounded(path)?,
    })
}

/// The state tree and accounts as they were after the block at `height`, from the current
/// leaves, the checkpoint's tree and the undo log (see `crate::state`).
struct VersionedState<'t> {
    current: Leaves<'t>,
    /// The tree at the checkpoint.
    nodes: ReadOnlyTable<u128, &'static [u8]>,
    /// The leaves changed after the height, as they were at the height.
    before: HashMap<u64, AccountLeaf>,
    /// Every account changed after the height or after the checkpoint, ascending: those whose
    /// leaf may differ between the two.
    changed_since: Vec<u64>,
    tree: &'t ModelTree,
    height: u64,
}

impl VersionedState<'_> {
    /// The leaf of `account` at the height: the value from before its first change after the
    /// height, or its current value if nothing changed it since.
    fn leaf(&self, account: u64) -> Result<AccountLeaf, ProverError> {
        match self.before.get(&account) {
            Some(leaf) => Ok(*leaf),
            None => self.current.get(account),
        }
    }

    /// Node `(level, index)` of the tree at the height: the checkpoint's if no account below
    /// it changed in between, else recomputed from its children at the height. So the work is
    /// the paths of the accounts changed in between, below the nodes asked for.
    fn node(&self, level: u8, index: u64) -> Result<Hash32, ProverError> {
        let first = u128::from(index) << level;
        let end = u128::from(index).saturating_add(1) << level;
        let below = self
            .changed_since
            .partition_point(|&a| u128::from(a) < first);
        let changed = self
            .changed_since
            .get(below)
            .is_some_and(|&a| u128::from(a) < end);
        if !changed {
            return Ok(read_node(&self.nodes, level, index)?.unwrap_or(self.tree.default(level)));
        }
        let Some(child) = level.checked_sub(1) else {
            return self.tree.leaf(&self.leaf(index)?).ok_or_else(|| {
                ProverError::Corrupt(format!(
                    "account {index} at height {}: bad key",
                    self.height
                ))
            });
        };
        let left = self.node(child, index.saturating_mul(2))?;
        let right = self.node(child, index.saturating_mul(2).saturating_add(1))?;
        Ok(self.tree.node(&left, &right))
    }
}

/// The first block after `height` (saturating: nothing comes after the last height).
fn later(height: u64) -> u64 {
    height.saturating_add(1)
}

/// A list within its wire limit; proofs never exceed them (depths and counts are `u64`-bounded).
fn bounded<T, N: witness_format::ssz_types::typenum::Unsigned>(
    items: Vec<T>,
) -> Result<VariableList<T, N>, ProverError> {
    VariableList::new(items)
        .map_err(|e| ProverError::Corrupt(format!("list over its limit: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{META, META_FORMAT, ModelTables};
    use crate::workload::{WorkloadSpec, generate};
    use crate::{BlockOptions, ProverState};
    use redb::ReadableTable;
    use verifier::ProvenFact;
    use verifier::hash::{genesis_hash, header_hash};

    /// A prover that built a small chain, kept open, with every account's leaf after each block.
    struct Built {
        dir: tempfile::TempDir,
        state: ProverState,
        blocks: Vec<Block>,
        /// `leaves[h][a]`: account `a` after block `h` (0: at genesis).
        leaves: Vec<Vec<AccountLeaf>>,
    }

    const ACCOUNTS: u64 = 24;

    fn spec(blocks: usize) -> WorkloadSpec {
        WorkloadSpec {
            chain_id: 3,
            tree_depth: 12,
            accounts: ACCOUNTS,
            blocks,
            txs_per_block: 7,
            seed: 9,
            new_account_percent: 30,
        }
    }

    fn snapshot(state: &ProverState) -> Vec<AccountLeaf> {
        (0..ACCOUNTS * 3)
            .map(|a| state.account(Model::Transfer, a).unwrap())
            .collect()
    }

    fn build(blocks: usize) -> Built {
        let dir = tempfile::tempdir().unwrap();
        let workload = generate(&spec(blocks));
        let mut state =
            ProverState::open(&dir.path().join("p.redb"), &workload.allocation).unwrap();
        let mut leaves = vec![snapshot(&state)];
        let mut built = Vec::new();
        let options = BlockOptions {
            txs_per_blob: 3,
            ..BlockOptions::default()
        };
        for batch in &workload.batches {
            let (block, report) = state.build_block(&batch.transactions, options).unwrap();
            assert!(report.dropped.is_empty());
            built.push(block);
            leaves.push(snapshot(&state));
        }
        Built {
            dir,
            state,
            blocks: built,
            leaves,
        }
    }

    impl Built {
        fn header(&self, height: u64) -> &witness_format::Header {
            &self.header_block(height).header
        }

        fn header_block(&self, height: u64) -> &Block {
            &self.blocks[height as usize - 1]
        }

        fn prove(&self, tip: u64, query: FactQuery) -> ProvenFact {
            let proof = self.state.history_proof(tip, query).unwrap();
            verify_history_proof(&proof, self.header(tip)).unwrap()
        }

        /// `account`'s leaf at `height`, as `state` proves it against this chain's header
        /// `tip` (the proof checked by the verifier).
        fn proven_leaf(
            &self,
            state: &ProverState,
            tip: u64,
            height: u64,
            account: u64,
        ) -> AccountLeaf {
            let query = FactQuery::Account {
                height,
                model: Model::Transfer,
                account,
            };
            let proof = state.history_proof(tip, query).unwrap();
            match verify_history_proof(&proof, self.header(tip)).unwrap() {
                ProvenFact::Account { leaf, .. } => leaf,
                other => panic!("not an account fact: {other:?}"),
            }
        }
    }

    #[test]
    fn every_fact_at_every_height_round_trips() {
        let built = build(6);
        for tip in 1..=6u64 {
            for height in 0..=tip {
                let fact = built.prove(tip, FactQuery::Header { height });
                match (height, fact) {
                    (0, ProvenFact::Genesis { hash, .. }) => {
                        assert_eq!(hash, genesis_hash(built.state.genesis()))
                    }
                    (_, ProvenFact::Header { hash, header }) => {
                        assert_eq!(&header, built.header(height));
                        assert_eq!(hash, header_hash(&header));
                    }
                    (_, other) => panic!("unexpected {other:?}"),
                }
                for account in [0, 5, ACCOUNTS, ACCOUNTS * 2 + 1] {
                    let query = FactQuery::Account {
                        height,
                        model: Model::Transfer,
                        account,
                    };
                    let ProvenFact::Account { leaf, .. } = built.prove(tip, query) else {
                        panic!("not an account fact");
                    };
                    assert_eq!(leaf, built.leaves[height as usize][account as usize]);
                }
                if height == 0 {
                    continue;
                }
                let block = &built.blocks[height as usize - 1];
                for (j, blob) in (0u64..).zip(block.blobs.iter()) {
                    let fact = built.prove(tip, FactQuery::Blob { height, blob: j });
                    let ProvenFact::Blob { commitment, .. } = fact else {
                        panic!("not a blob fact");
                    };
                    assert_eq!(commitment, blob_commitment(blob));
                    let last = blob.transactions.len() as u64 - 1;
                    for k in [0, last] {
                        let query = FactQuery::Transaction {
                            height,
                            blob: j,
                            transaction: k,
                        };
                        let ProvenFact::Transaction { transaction, .. } = built.prove(tip, query)
                        else {
                            panic!("not a transaction fact");
                        };
                        assert_eq!(transaction, blob.transactions[k as usize]);
                    }
                }
            }
        }
    }

    #[test]
    fn every_account_is_proven_as_it_was_at_each_height() {
        let built = build(4);
        // Some account changed in every block, so versions are really exercised.
        for h in 1..built.leaves.len() {
            assert_ne!(built.leaves[h], built.leaves[h - 1]);
        }
        for height in 0..=4u64 {
            for account in 0..ACCOUNTS * 3 {
                assert_eq!(
                    built.proven_leaf(&built.state, 4, height, account),
                    built.leaves[height as usize][account as usize]
                );
            }
        }
    }

    #[test]
    fn queries_outside_the_chain_are_refused() {
        let built = build(2);
        let state = &built.state;
        let header = |height| FactQuery::Header { height };
        assert!(matches!(
            state.history_proof(0, header(0)),
            Err(ProverError::TipOutOfRange { tip: 0, height: 2 })
        ));
        assert!(matches!(
            state.history_proof(3, header(0)),
            Err(ProverError::TipOutOfRange { tip: 3, height: 2 })
        ));
        assert!(matches!(
            state.history_proof(1, header(2)),
            Err(ProverError::FactAboveTip { height: 2, tip: 1 })
        ));
        let blobs = built.blocks[0].blobs.len() as u64;
        assert!(matches!(
            state.history_proof(2, FactQuery::Blob { height: 1, blob: blobs }),
            Err(ProverError::NoSuchBlob { height: 1, blob, blobs: b }) if blob == blobs && b == blobs
        ));
        assert!(matches!(
            state.history_proof(2, FactQuery::Blob { height: 0, blob: 0 }),
            Err(ProverError::NoSuchBlob {
                height: 0,
                blob: 0,
                blobs: 0
            })
        ));
        let txs = built.blocks[1].blobs[1].transactions.len() as u64;
        assert!(matches!(
            state.history_proof(2, FactQuery::Transaction { height: 2, blob: 1, transaction: txs }),
            Err(ProverError::NoSuchTransaction { height: 2, blob: 1, transaction, transactions })
                if transaction == txs && transactions == txs
        ));
        let account = |account| FactQuery::Account {
            height: 1,
            model: Model::Transfer,
            account,
        };
        assert!(matches!(
            state.history_proof(2, account(1 << 12)),
            Err(ProverError::AccountOutOfRange {
                account: 4096,
                depth: 12
            })
        ));
        assert!(state.history_proof(2, account((1 << 12) - 1)).is_ok());
    }

    /// A checkpoint every 2 blocks and 3 blocks of history, 3 transactions to a blob.
    fn checkpointed() -> BlockOptions {
        BlockOptions {
            txs_per_blob: 3,
            checkpoint_every: 2,
            history_window: Some(3),
            ..BlockOptions::default()
        }
    }

    /// The database at `path`, after `reference`'s 7 blocks built with [`checkpointed`],
    /// reopened: whole, and proving every account at heights 4 to 7 as it was.
    fn reopened_keeping_states_4_to_7(reference: &Built, path: &std::path::Path) -> ProverState {
        let mut state = ProverState::open_existing(path).unwrap();
        state.check_integrity().unwrap();
        assert_eq!(state.history_from(), 4);
        for height in 4..=7u64 {
            for account in 0..ACCOUNTS * 3 {
                assert_eq!(
                    reference.proven_leaf(&state, 7, height, account),
                    reference.leaves[height as usize][account as usize]
                );
            }
        }
        state
    }

    /// With a checkpoint every 2 blocks and 3 blocks of history, reopened before every block
    /// (so the tree comes back from the checkpoint and the redo log each time), the prover
    /// builds the same chain as with the defaults; every kept state proves, each account as
    /// it was, and older states are refused by name.
    #[test]
    fn checkpoints_and_a_history_window_keep_the_chain_and_refuse_older_states() {
        let reference = build(7);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.redb");
        let workload = generate(&spec(7));
        let options = checkpointed();
        for (batch, expected) in workload.batches.iter().zip(&reference.blocks) {
            let mut state = ProverState::open(&path, &workload.allocation).unwrap();
            let (block, _) = state.build_block(&batch.transactions, options).unwrap();
            assert_eq!(
                witness_format::encode_file(&block),
                witness_format::encode_file(expected)
            );
        }
        let state = reopened_keeping_states_4_to_7(&reference, &path);
        let query = FactQuery::Account {
            height: 3,
            model: Model::Transfer,
            account: 0,
        };
        assert!(matches!(
            state.history_proof(7, query),
            Err(ProverError::HistoryPruned {
                height: 3,
                oldest: 4
            })
        ));
        // Headers, blobs and transactions stay provable: blocks are kept.
        assert!(
            state
                .history_proof(7, FactQuery::Header { height: 1 })
                .is_ok()
        );
    }

    /// A run of blocks (each block's commit overlapping the next one's blobs), with a
    /// checkpoint every 2 blocks and 3 blocks of history, builds the chain that building block
    /// by block builds; each block is handed over with the state exactly as it leaves it, and
    /// every kept state proves.
    #[test]
    fn a_run_of_blocks_builds_the_same_chain_and_hands_each_block_over_durable() {
        let reference = build(7);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.redb");
        let workload = generate(&spec(7));
        let options = checkpointed();
        let mut state = ProverState::open(&path, &workload.allocation).unwrap();
        let mut batches = workload.batches.iter();
        let mut landed = 0u64;
        state
            .build_blocks(
                || {
                    let batch = batches.next();
                    Ok::<_, Stop>(batch.map(|b| vec![(b.model, b.transactions.to_vec())]))
                },
                options,
                |state, block, report| {
                    landed += 1;
                    assert_eq!(block.header.height, landed);
                    assert_eq!(state.height(), landed);
                    assert!(report.dropped.is_empty());
                    assert_eq!(
                        witness_format::encode_file(&block),
                        witness_format::encode_file(reference.header_block(landed))
                    );
                    assert_eq!(snapshot(state), reference.leaves[landed as usize]);
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(landed, 7);
        drop(state);
        let state = reopened_keeping_states_4_to_7(&reference, &path);
        assert_eq!(state.height(), 7);
    }

    /// Why a test's run of blocks stopped.
    type Stop = Box<dyn std::error::Error + Send + Sync>;

    /// A run its caller stops (a block it refuses, or no next batches) keeps every block
    /// handed over as durable and no other: the block built on top of the refused one is
    /// dropped unwritten, and the chain goes on from there as if nothing happened.
    #[test]
    fn a_run_stopped_by_its_caller_keeps_the_blocks_handed_over_and_no_other() {
        let reference = build(7);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.redb");
        let workload = generate(&spec(7));
        let options = BlockOptions {
            txs_per_blob: 3,
            ..BlockOptions::default()
        };
        let batch = |height: u64| {
            let b = &workload.batches[height as usize - 1];
            vec![(b.model, b.transactions.to_vec())]
        };
        let mut state = ProverState::open(&path, &workload.allocation).unwrap();
        // Refused by the caller when block 3 lands; block 4 was built by then.
        let (mut next, mut landed) = (0u64, Vec::new());
        let stopped = state.build_blocks(
            || {
                next += 1;
                Ok::<_, Stop>(Some(batch(next)))
            },
            options,
            |_, block, _| {
                landed.push(block.header.height);
                if block.header.height == 3 {
                    return Err(format!("refused block {}", landed.len()).into());
                }
                Ok(())
            },
        );
        assert_eq!(stopped.unwrap_err().to_string(), "refused block 3");
        assert_eq!((landed, next, state.height()), (vec![1, 2, 3], 4, 3));
        // The next batches fail to come for block 6: block 5 still lands.
        let (mut next, mut landed) = (3u64, Vec::new());
        let stopped: Result<(), Stop> = state.build_blocks(
            || {
                next += 1;
                if next == 6 {
                    return Err(format!("no batches for block {next}").into());
                }
                Ok(Some(batch(next)))
            },
            options,
            |_, block, _| {
                landed.push(block.header.height);
                Ok(())
            },
        );
        assert_eq!(stopped.unwrap_err().to_string(), "no batches for block 6");
        assert_eq!((landed, state.height()), (vec![4, 5], 5));
        drop(state);
        let mut state = ProverState::open(&path, &workload.allocation).unwrap();
        assert_eq!(state.height(), 5);
        for height in 6..=7u64 {
            let (block, _) = state
                .build_block(&workload.batches[height as usize - 1].transactions, options)
                .unwrap();
            assert_eq!(
                witness_format::encode_file(&block),
                witness_format::encode_file(reference.header_block(height))
            );
        }
        assert_eq!(snapshot(&state), reference.leaves[7]);
    }

    /// In-memory storage whose syncs fail once `fail` is set: a commit that cannot be made
    /// durable.
    #[derive(Debug)]
    struct FailingSyncs {
        storage: redb::backends::InMemoryBackend,
        fail: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl redb::StorageBackend for FailingSyncs {
        fn len(&self) -> Result<u64, std::io::Error> {
            self.storage.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
            self.storage.read(offset, out)
        }
        fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
            self.storage.set_len(len)
        }
        fn sync_data(&self) -> Result<(), std::io::Error> {
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(std::io::Error::other("the disk is gone"));
            }
            self.storage.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
            self.storage.write(offset, data)
        }
    }

    /// A commit that fails in a run ends it with that block's height, puts the state back to
    /// the last durable block (height, roots), drops the block built on top unwritten and
    /// hands nothing over; a single block's failed commit leaves the state as it was.
    #[test]
    fn a_failed_commit_puts_the_state_back_to_the_last_durable_block() {
        let reference = build(3);
        let workload = generate(&spec(3));
        let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let storage = FailingSyncs {
            storage: redb::backends::InMemoryBackend::new(),
            fail: fail.clone(),
        };
        let db = redb::Database::builder()
            .create_with_backend(storage)
            .unwrap();
        let allocation = std::slice::from_ref(&workload.allocation);
        let mut state = ProverState::open_database(db, allocation, &[], None, None).unwrap();
        let options = BlockOptions {
            txs_per_blob: 3,
            ..BlockOptions::default()
        };
        let (block, _) = state
            .build_block(&workload.batches[0].transactions, options)
            .unwrap();
        assert_eq!(block, reference.blocks[0]);
        let root = state.state_root(Model::Transfer);
        assert_eq!(root, Some(reference.blocks[0].header.state_roots[0].root));
        fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let (mut asked, mut landed) = (1, Vec::new());
        let failed: Result<(), crate::BlockFailed> = state.build_blocks(
            || {
                asked += 1;
                let batch = workload.batches.get(asked - 1);
                Ok(batch.map(|b| vec![(b.model, b.transactions.to_vec())]))
            },
            options,
            |_, block, _| {
                landed.push(block.header.height);
                Ok(())
            },
        );
        let Err(crate::BlockFailed { height, .. }) = failed else {
            panic!("a block landed without a durable commit");
        };
        assert_eq!((height, asked, landed), (2, 3, vec![]));
        assert_eq!(
            (state.height(), state.state_root(Model::Transfer)),
            (1, root)
        );
        assert!(
            state
                .build_block(&workload.batches[1].transactions, options)
                .is_err()
        );
        assert_eq!(
            (state.height(), state.state_root(Model::Transfer)),
            (1, root)
        );
    }

    /// A block of a run that cannot be built is named by its height, and the blocks before it
    /// stay durable.
    #[test]
    fn a_run_names_the_block_it_cannot_build() {
        let dir = tempfile::tempdir().unwrap();
        let workload = generate(&spec(2));
        let mut state =
            ProverState::open(&dir.path().join("p.redb"), &workload.allocation).unwrap();
        let mut next = 0;
        let failed = state.build_blocks(
            || {
                next += 1;
                // Block 2 names a model the chain does not host.
                let model = if next == 1 {
                    Model::Transfer
                } else {
                    Model::ZkTransfer
                };
                Ok::<_, crate::BlockFailed>(Some(vec![(model, Vec::new())]))
            },
            BlockOptions::default(),
            |_, _, _| Ok(()),
        );
        let Err(crate::BlockFailed { height, source }) = failed else {
            panic!("block 2 was built");
        };
        assert_eq!(height, 2);
        assert!(matches!(
            *source,
            ProverError::UnknownModel {
                model: Model::ZkTransfer
            }
        ));
        assert_eq!(state.height(), 1);
    }

    /// Flips a bit of the first leaf's balance in the entry of block `height` of a log table
    /// (undo or redo) of the database at `path`.
    fn damage_first_leaf(
        path: &std::path::Path,
        table: redb::TableDefinition<'static, u64, &'static [u8]>,
        height: u64,
    ) {
        let db = redb::Database::open(path).unwrap();
        let write = db.begin_write().unwrap();
        let mut log = write.open_table(table).unwrap();
        let mut entry = log.get(height).unwrap().unwrap().value().to_vec();
        // The first leaf's balance: after its account (8 bytes) and key (32).
        entry[40] ^= 1;
        log.insert(height, entry.as_slice()).unwrap();
        drop(log);
        write.commit().unwrap();
    }

    /// A damaged redo entry (here the last block's: a leaf the accounts table has not taken
    /// yet) is caught when the tree is rebuilt on opening: its root is not the last block's,
    /// and no block is built.
    #[test]
    fn a_damaged_redo_entry_is_caught_before_a_block_is_built() {
        let Built { dir, state, .. } = build(3);
        drop(state);
        let path = dir.path().join("p.redb");
        damage_first_leaf(&path, ModelTables::of(Model::Transfer).redo, 3);
        let mut state = ProverState::open_existing(&path).unwrap();
        assert!(matches!(
            state.build_block(&[], BlockOptions::default()),
            Err(ProverError::Corrupt(message)) if message.contains("checkpoint and redo log")
        ));
        assert_eq!(state.height(), 3);
    }

    /// A database of another layout version (here: one from before versions were recorded)
    /// is refused, not misread.
    #[test]
    fn databases_of_another_format_are_refused() {
        let Built { dir, state, .. } = build(1);
        drop(state);
        let path = dir.path().join("p.redb");
        {
            let db = redb::Database::open(&path).unwrap();
            let write = db.begin_write().unwrap();
            write.open_table(META).unwrap().remove(META_FORMAT).unwrap();
            write.commit().unwrap();
        }
        assert!(matches!(
            ProverState::open_existing(&path),
            Err(ProverError::UnsupportedFormat { found: 1 })
        ));
        let workload = generate(&spec(1));
        assert!(matches!(
            ProverState::open(&path, &workload.allocation),
            Err(ProverError::UnsupportedFormat { found: 1 })
        ));
    }

    /// The prover checks every proof it builds: a damaged store gives an error, not a proof.
    #[test]
    fn damaged_history_is_caught_before_a_proof_leaves() {
        let Built { dir, state, .. } = build(5);
        drop(state);
        let path = dir.path().join("p.redb");
        {
            // Leaf 1 of the accumulator (header 1's hash).
            let db = redb::Database::open(&path).unwrap();
            let write = db.begin_write().unwrap();
            let mut history = write.open_table(HISTORY_NODES).unwrap();
            history.insert(history_key(0, 1), [7u8; 32]).unwrap();
            drop(history);
            write.commit().unwrap();
        }
        // The genesis value of the first account block 1 changed.
        damage_first_leaf(&path, ModelTables::of(Model::Transfer).undo, 1);
        let state = ProverState::open_existing(&path).unwrap();
        // Header 0's path uses leaf 1 as its sibling.
        assert!(matches!(
            state.history_proof(5, FactQuery::Header { height: 0 }),
            Err(ProverError::InvalidProof(_))
        ));
        let found = (0..ACCOUNTS * 3).any(|account| {
            let query = FactQuery::Account {
                height: 0,
                model: Model::Transfer,
                account,
            };
            matches!(
                state.history_proof(5, query),
                Err(ProverError::Corrupt(message)) if message.contains("height 0 gives root")
            )
        });
        assert!(found, "no account proof noticed the damaged node");
    }

    #[test]
    fn open_existing_needs_a_prover_database() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            ProverState::open_existing(&dir.path().join("missing.redb")),
            Err(ProverError::Database(_))
        ));
        let path = dir.path().join("empty.redb");
        drop(redb::Database::create(&path).unwrap());
        assert!(matches!(
            ProverState::open_existing(&path),
            Err(ProverError::NotInitialized)
        ));
    }
}
