//! The undo log: for every leaf and node a block changes, its value before the block, under
//! the block's height; and the history accumulator's new nodes.

use std::collections::HashSet;

use redb::Table;
use verifier::accumulator::HistoryAccumulator;
use witness_format::{AccountLeaf, Hash32, SszEncode};

use super::*;

/// What a block changed so far in one model's state: a later blob's change must not overwrite
/// the value from before the block with one from within it. One per model for the whole block,
/// whatever number of batches (credits, transfers) fill it.
#[derive(Default)]
pub(super) struct Changed {
    pub(super) accounts: HashSet<u64>,
    pub(super) nodes: HashSet<u128>,
}

/// The undo log of one block's write transaction, for one model: the value of each leaf and
/// node before the block first changed it.
pub(super) struct Versions<'txn, 'c> {
    pub(super) height: u64,
    pub(super) accounts: Table<'txn, (u64, u64), &'static [u8]>,
    pub(super) nodes: Table<'txn, (u128, u64), [u8; 32]>,
    pub(super) changed: &'c mut Changed,
}

impl Versions<'_, '_> {
    /// Records the value `account` had before this block (SSZ; `None`: the empty slot), on its
    /// first change in the block.
    pub(super) fn account(
        &mut self,
        account: u64,
        prior: Option<Vec<u8>>,
    ) -> Result<(), ProverError> {
        if self.changed.accounts.insert(account) {
            let prior = prior.unwrap_or_else(|| AccountLeaf::EMPTY.as_ssz_bytes());
            self.accounts
                .insert((account, self.height), prior.as_slice())?;
        }
        Ok(())
    }

    /// Records the hash node `key` had before this block (the level's default if it was
    /// absent), on its first change in the block.
    pub(super) fn node(&mut self, key: u128, prior: [u8; 32]) -> Result<(), ProverError> {
        if self.changed.nodes.insert(key) {
            self.nodes.insert((key, self.height), prior)?;
        }
        Ok(())
    }
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
    const NODES: TableDefinition<(u128, u64), [u8; 32]> = TableDefinition::new("n");

    /// Within one block only the first change of a leaf or node is logged: the value from
    /// before the block, not one from within it.
    #[test]
    fn only_the_value_before_the_block_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("db")).unwrap();
        let write = db.begin_write().unwrap();
        let mut changed = Changed::default();
        {
            let mut versions = Versions {
                height: 5,
                accounts: write.open_table(ACCOUNTS).unwrap(),
                nodes: write.open_table(NODES).unwrap(),
                changed: &mut changed,
            };
            let leaf = |balance| {
                AccountLeaf {
                    balance,
                    ..AccountLeaf::EMPTY
                }
                .as_ssz_bytes()
            };
            versions.account(3, None).unwrap();
            versions.account(3, Some(leaf(9))).unwrap();
            versions.account(4, Some(leaf(1))).unwrap();
            versions.node(node_key(2, 1), [1; 32]).unwrap();
            versions.node(node_key(2, 1), [2; 32]).unwrap();
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
        let nodes = read.open_table(NODES).unwrap();
        assert_eq!(
            nodes.get((node_key(2, 1), 5)).unwrap().unwrap().value(),
            [1; 32]
        );
        assert_eq!(nodes.len().unwrap(), 1);
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
