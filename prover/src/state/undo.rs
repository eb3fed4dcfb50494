//! What each block logs beside the current state: its undo entry (every leaf it changed, as it
//! was before the block: history) and its redo entry (the same leaves after it: what the
//! accounts table has not taken yet, until the next checkpoint); and the history accumulator's
//! new nodes. Tree nodes have no log: a past node is recomputed from the leaves of its subtree
//! (`crate::fact_proofs`), the current tree from the checkpoint's and the redo entries.

use std::collections::BTreeMap;

use redb::Table;
use verifier::accumulator::HistoryAccumulator;
use witness_format::{AccountLeaf, Hash32, SszDecode, SszEncode};

use super::nodes::BlockNodes;
use super::*;

/// A packed leaf: the account number (8 bytes, little-endian) and the SSZ leaf (48 bytes).
const PACKED_LEAF_BYTES: usize = 56;

/// What a block changed so far in one model's state. One per model for the whole block,
/// whatever number of batches (credits, transfers) fill it.
#[derive(Default)]
pub(super) struct Changed {
    /// Each changed account's leaf before the block: the undo entry.
    pub(super) before: BTreeMap<u64, AccountLeaf>,
    /// Each changed account's leaf as the block leaves it so far: the redo entry, and what the
    /// block's later blobs read.
    pub(super) after: BTreeMap<u64, AccountLeaf>,
    /// The tree nodes it changed, with their latest values.
    pub(super) nodes: BlockNodes,
}

impl Changed {
    /// Sets `account` to `leaf`; `prior` is its value before this change (kept only if it is
    /// the first change in the block: the value from before the block). Returns what puts it
    /// back: whether `prior` was kept, and the value the block had set before.
    fn set_leaf(
        &mut self,
        account: u64,
        prior: AccountLeaf,
        leaf: AccountLeaf,
    ) -> (bool, Option<AccountLeaf>) {
        let first = match self.before.entry(account) {
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(prior);
                true
            }
            std::collections::btree_map::Entry::Occupied(_) => false,
        };
        (first, self.after.insert(account, leaf))
    }

    /// Takes a blob's leaves (each touched account with its leaf before and after the blob,
    /// and the leaf's hash) and new tree nodes, returning what takes them back out.
    pub(super) fn apply(
        &mut self,
        leaves: &[(u64, AccountLeaf, AccountLeaf, Hash32)],
        nodes: &[(u8, u64, Hash32)],
    ) -> Journal {
        let mut journal = Journal::default();
        for &(account, prior, leaf, hash) in leaves {
            let (first, was) = self.set_leaf(account, prior, leaf);
            journal.leaves.push((account, first, was));
            journal
                .nodes
                .push((0, account, self.nodes.set(0, account, hash)));
        }
        for &(level, index, hash) in nodes {
            journal
                .nodes
                .push((level, index, self.nodes.set(level, index, hash)));
        }
        journal
    }

    /// Takes back what [`apply`](Self::apply) took.
    pub(super) fn roll_back(&mut self, journal: Journal) {
        for (level, index, prior) in journal.nodes.into_iter().rev() {
            self.nodes.restore(level, index, prior);
        }
        for (account, first, was) in journal.leaves.into_iter().rev() {
            if first {
                self.before.remove(&account);
            }
            match was {
                Some(leaf) => self.after.insert(account, leaf),
                None => self.after.remove(&account),
            };
        }
    }
}

/// What [`Changed::apply`] changed, to take it back: per leaf, whether its value before the
/// block was recorded then and the block's value before; per node, the block's value before.
#[derive(Default)]
pub(super) struct Journal {
    leaves: Vec<(u64, bool, Option<AccountLeaf>)>,
    nodes: Vec<(u8, u64, Option<Hash32>)>,
}

/// `leaves`, ascending by account, as one log entry.
pub(super) fn pack_leaves(leaves: &BTreeMap<u64, AccountLeaf>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(leaves.len().saturating_mul(PACKED_LEAF_BYTES));
    for (account, leaf) in leaves {
        bytes.extend_from_slice(&account.to_le_bytes());
        bytes.extend_from_slice(&leaf.as_ssz_bytes());
    }
    bytes
}

/// The leaves of a log entry; `None` if it is not a whole number of packed leaves.
pub(crate) fn unpack_leaves(bytes: &[u8]) -> Option<LogEntry> {
    let chunks = bytes.chunks_exact(PACKED_LEAF_BYTES);
    if !chunks.remainder().is_empty() {
        return None;
    }
    chunks
        .map(|chunk| {
            let (account, leaf) = chunk.split_at(8);
            let account = u64::from_le_bytes(account.try_into().ok()?);
            Some((account, AccountLeaf::from_ssz_bytes(leaf).ok()?))
        })
        .collect()
}

/// The leaves of one log entry: `(account, leaf)`, ascending by account.
pub(crate) type LogEntry = Vec<(u64, AccountLeaf)>;

/// The leaves of every entry of a log table in `heights`, ascending by height.
pub(crate) fn read_log(
    table: &impl redb::ReadableTable<u64, &'static [u8]>,
    heights: impl std::ops::RangeBounds<u64>,
) -> Result<Vec<(u64, LogEntry)>, ProverError> {
    let mut entries = Vec::new();
    for entry in table.range(heights)? {
        let (height, bytes) = entry?;
        let height = height.value();
        let leaves = unpack_leaves(bytes.value())
            .ok_or_else(|| ProverError::Corrupt(format!("log entry of block {height}")))?;
        entries.push((height, leaves));
    }
    Ok(entries)
}

/// Appends `hash` to `history`, storing every node the append creates.
pub(super) fn append_history(
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

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableTableMetadata, TableDefinition};

    /// Within one block only the first change of a leaf is kept as its value before the
    /// block, and the last as its value after; entries pack and unpack ascending.
    #[test]
    fn a_block_logs_the_first_prior_and_the_last_value() {
        let leaf = |balance| AccountLeaf {
            balance,
            ..AccountLeaf::EMPTY
        };
        let mut changed = Changed::default();
        changed.set_leaf(4, leaf(1), leaf(2));
        changed.set_leaf(3, AccountLeaf::EMPTY, leaf(5));
        changed.set_leaf(3, leaf(5), leaf(9));
        assert_eq!(
            unpack_leaves(&pack_leaves(&changed.before)),
            Some(vec![(3, AccountLeaf::EMPTY), (4, leaf(1))])
        );
        assert_eq!(
            unpack_leaves(&pack_leaves(&changed.after)),
            Some(vec![(3, leaf(9)), (4, leaf(2))])
        );
        assert_eq!(unpack_leaves(&[0; 57]), None);
    }

    /// Appending stores every accumulator node the append creates, under its key.
    #[test]
    fn appending_stores_the_new_accumulator_nodes() {
        const HISTORY: TableDefinition<u128, [u8; 32]> = TableDefinition::new("h");
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("db")).unwrap();
        let write = db.begin_write().unwrap();
        let mut history = HistoryAccumulator::new();
        {
            let mut table = write.open_table(HISTORY).unwrap();
            for n in 0..3u8 {
                append_history(&mut table, &mut history, Hash32::from([n; 32])).unwrap();
            }
        }
        write.commit().unwrap();
        let read = db.begin_read().unwrap();
        let table = read.open_table(HISTORY).unwrap();
        // Three leaves and the one parent of the first two.
        assert_eq!(table.len().unwrap(), 4);
        assert_eq!(
            table.get(history_key(0, 2)).unwrap().unwrap().value(),
            [2; 32]
        );
        assert!(table.get(history_key(1, 0)).unwrap().is_some());
    }
}
