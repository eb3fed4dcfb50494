//! The undo log: for every leaf a block changes, its value before the block, under the block's
//! height, and the list of the accounts it changed; and the history accumulator's new nodes.
//! Tree nodes have no undo log: a past node is recomputed from the leaves of its subtree
//! (`crate::fact_proofs`), so history grows by what changed at the leaves.

use std::collections::HashSet;

use redb::Table;
use verifier::accumulator::HistoryAccumulator;
use witness_format::{AccountLeaf, Hash32, SszEncode};

use super::nodes::BlockNodes;
use super::*;

/// What a block changed so far in one model's state: the accounts (a later blob's change must
/// not overwrite the value from before the block with one from within it) and the tree nodes
/// with their latest values. One per model for the whole block, whatever number of batches
/// (credits, transfers) fill it.
#[derive(Default)]
pub(super) struct Changed {
    pub(super) accounts: HashSet<u64>,
    pub(super) nodes: BlockNodes,
}

impl Changed {
    /// Records in `versions` the value `account` had before block `height` (SSZ; `None`: the
    /// empty slot), on its first change in the block.
    pub(super) fn account(
        &mut self,
        versions: &mut Table<(u64, u64), &'static [u8]>,
        height: u64,
        account: u64,
        prior: Option<Vec<u8>>,
    ) -> Result<(), ProverError> {
        if self.accounts.insert(account) {
            let prior = prior.unwrap_or_else(|| AccountLeaf::EMPTY.as_ssz_bytes());
            versions.insert((account, height), prior.as_slice())?;
        }
        Ok(())
    }

    /// The accounts changed, ascending, as little-endian `u64`s: the block's `MODEL/changes`
    /// entry.
    pub(super) fn packed_accounts(&self) -> Vec<u8> {
        let mut accounts: Vec<u64> = self.accounts.iter().copied().collect();
        accounts.sort_unstable();
        accounts.iter().flat_map(|a| a.to_le_bytes()).collect()
    }
}

/// The accounts of a `MODEL/changes` entry; `None` if its length is not a multiple of 8.
pub(crate) fn unpack_accounts(bytes: &[u8]) -> Option<Vec<u64>> {
    let chunks = bytes.chunks_exact(8);
    if !chunks.remainder().is_empty() {
        return None;
    }
    Some(
        chunks
            .map(|chunk| {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                u64::from_le_bytes(word)
            })
            .collect(),
    )
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

    const ACCOUNTS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("a");

    /// Within one block only the first change of a leaf is logged: the value from before the
    /// block, not one from within it; the block's changed accounts pack ascending.
    #[test]
    fn only_the_value_before_the_block_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("db")).unwrap();
        let write = db.begin_write().unwrap();
        let mut changed = Changed::default();
        {
            let mut versions = write.open_table(ACCOUNTS).unwrap();
            let leaf = |balance| {
                AccountLeaf {
                    balance,
                    ..AccountLeaf::EMPTY
                }
                .as_ssz_bytes()
            };
            changed.account(&mut versions, 5, 4, Some(leaf(1))).unwrap();
            changed.account(&mut versions, 5, 3, None).unwrap();
            changed.account(&mut versions, 5, 3, Some(leaf(9))).unwrap();
        }
        write.commit().unwrap();
        let read = db.begin_read().unwrap();
        let accounts = read.open_table(ACCOUNTS).unwrap();
        let empty = AccountLeaf::EMPTY.as_ssz_bytes();
        assert_eq!(
            accounts.get((3, 5)).unwrap().unwrap().value(),
            empty.as_slice()
        );
        assert_eq!(accounts.len().unwrap(), 2);
        assert_eq!(
            unpack_accounts(&changed.packed_accounts()),
            Some(vec![3, 4])
        );
        assert_eq!(unpack_accounts(&[0; 9]), None);
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
