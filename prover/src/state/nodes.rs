//! The current state tree of a model in memory: every node of `MODEL/nodes`, read once, kept
//! up to date by each committed block.
//!
//! A block reads its siblings here instead of from redb, and collects the nodes it changes
//! with their last values ([`BlockNodes`]); the memory copy takes them only once the block's
//! transaction is durable, so a block that fails leaves it as it was. The table itself is
//! rewritten only at checkpoints (`build.rs`). Memory is the tree's size: about 2 nodes per account,
//! 40 bytes each (a 2^20-account tree: about 90 MB).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use redb::ReadableTable;
use rustc_hash::FxHasher;
use witness_format::Hash32;

use super::{ProverError, node_key};

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The stored (non-empty) nodes of one model's tree, by level then index.
#[derive(Default)]
pub(crate) struct TreeNodes {
    levels: Vec<FastMap<u64, Hash32>>,
}

impl TreeNodes {
    /// Every node of `table` (a `MODEL/nodes` table).
    pub(super) fn load(table: &impl ReadableTable<u128, [u8; 32]>) -> Result<Self, ProverError> {
        let mut nodes = Self::default();
        for entry in table.iter()? {
            let (key, hash) = entry?;
            let key = key.value();
            nodes.insert(key, Hash32::from(hash.value()));
        }
        Ok(nodes)
    }

    /// Node `(level, index)`, if stored (`None`: an empty subtree).
    pub(super) fn get(&self, level: u8, index: u64) -> Option<Hash32> {
        self.levels
            .get(usize::from(level))
            .and_then(|nodes| nodes.get(&index))
            .copied()
    }

    /// Takes a committed block's nodes.
    pub(super) fn apply(&mut self, block: BlockNodes) {
        for (key, hash) in block.changed {
            self.insert(key, hash);
        }
    }

    fn insert(&mut self, key: u128, hash: Hash32) {
        let (level, index) = split_key(key);
        if self.levels.len() <= level {
            self.levels
                .resize_with(level.saturating_add(1), FastMap::default);
        }
        if let Some(nodes) = self.levels.get_mut(level) {
            nodes.insert(index, hash);
        }
    }
}

/// The nodes one block changed in one model's tree, each with its latest value: read before
/// the memory copy while the block is built, written to `MODEL/nodes` at its end.
#[derive(Default)]
pub(super) struct BlockNodes {
    changed: FastMap<u128, Hash32>,
}

impl BlockNodes {
    /// Node `(level, index)` as the block left it so far, else as `committed` holds it.
    pub(super) fn get(&self, committed: &TreeNodes, level: u8, index: u64) -> Option<Hash32> {
        match self.changed.get(&node_key(level, index)) {
            Some(hash) => Some(*hash),
            None => committed.get(level, index),
        }
    }

    /// Sets node `(level, index)`; returns what the block had set it to before, if anything.
    pub(super) fn set(&mut self, level: u8, index: u64, hash: Hash32) -> Option<Hash32> {
        self.changed.insert(node_key(level, index), hash)
    }

    /// Puts back what [`set`](Self::set) returned.
    pub(super) fn restore(&mut self, level: u8, index: u64, prior: Option<Hash32>) {
        let key = node_key(level, index);
        match prior {
            Some(hash) => self.changed.insert(key, hash),
            None => self.changed.remove(&key),
        };
    }
}

/// `(level, index)` of a `nodes` key.
fn split_key(key: u128) -> (usize, u64) {
    // A key is `level << 64 | index` (`node_key`): the casts take those two parts back.
    ((key >> 64) as usize, key as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block's nodes shadow the committed ones until applied; keys split back into their
    /// level and index.
    #[test]
    fn block_nodes_shadow_then_apply() {
        let mut committed = TreeNodes::default();
        committed.insert(node_key(3, 7), Hash32::from([1; 32]));
        let mut block = BlockNodes::default();
        assert_eq!(block.get(&committed, 3, 7), Some(Hash32::from([1; 32])));
        block.set(3, 7, Hash32::from([2; 32]));
        block.set(0, u64::MAX, Hash32::from([3; 32]));
        assert_eq!(block.get(&committed, 3, 7), Some(Hash32::from([2; 32])));
        assert_eq!(committed.get(3, 7), Some(Hash32::from([1; 32])));
        assert_eq!(committed.get(4, 7), None);
        committed.apply(block);
        assert_eq!(committed.get(3, 7), Some(Hash32::from([2; 32])));
        assert_eq!(committed.get(0, u64::MAX), Some(Hash32::from([3; 32])));
    }
}
