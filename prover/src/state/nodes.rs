//! The current state tree of a model in memory: every node of `MODEL/nodes`, read once, kept
//! up to date by each committed block.
//!
//! A block reads its siblings here instead of from redb, and collects the nodes it changes
//! with their last values ([`BlockNodes`]); the memory copy takes them when the block's
//! transaction is committed, and is dropped (read again) if that commit fails. The table itself is
//! rewritten only at checkpoints (`build.rs`). Memory is the tree's size: about 2 nodes per account,
//! 32 bytes each where they are numbered from 0 (a 2^20-account tree: about 64 MB, and at most
//! as much again of a vector's spare capacity).
//!
//! The table holds 16 neighbours of one level per entry (`groups.rs`).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use redb::{ReadableTable, Table};
use rustc_hash::FxHasher;
use witness_format::Hash32;

use super::groups::{GROUP, Group, decode, decode_slot, encode, first_index, slot};
use super::{ProverError, node_key};

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

fn corrupt(key: u128) -> ProverError {
    ProverError::Corrupt(format!("tree node entry {key:#x}"))
}

/// Node `(level, index)` as `table` (a `MODEL/nodes` table) stores it (`None`: an empty
/// subtree).
pub(crate) fn read_node(
    table: &impl ReadableTable<u128, &'static [u8]>,
    level: u8,
    index: u64,
) -> Result<Option<Hash32>, ProverError> {
    let key = node_key(level, index / GROUP);
    let Some(bytes) = table.get(key)? else {
        return Ok(None);
    };
    let node = decode_slot::<32>(bytes.value(), slot(index)).ok_or_else(|| corrupt(key))?;
    Ok(node.map(Hash32::from))
}

/// Writes into `table` the entries of level `level` that hold the nodes `indices` (ascending),
/// each of the entries' nodes as `node` gives it.
pub(super) fn write_level(
    table: &mut Table<u128, &'static [u8]>,
    level: u8,
    indices: impl IntoIterator<Item = u64>,
    node: impl Fn(u64) -> Option<Hash32>,
) -> Result<(), ProverError> {
    let mut last = None;
    for group in indices.into_iter().map(|index| index / GROUP) {
        if last == Some(group) {
            continue;
        }
        last = Some(group);
        let first = group * GROUP;
        let nodes: Group<32> =
            std::array::from_fn(|slot| node(first + slot as u64).map(|hash| hash.0));
        table.insert(node_key(level, group), encode(&nodes).as_slice())?;
    }
    Ok(())
}

/// The stored (non-empty) nodes of one model's tree, by level then index.
#[derive(Default)]
pub(crate) struct TreeNodes {
    levels: Vec<Numbered<Hash32>>,
}

/// Values numbered from 0 up to the first missing one in a vector (accounts are numbered from
/// 0, so that is where a large tree's nodes and leaves are, and a vector is one memory access a
/// value where a hash map takes two or more), any others in a map. One level of the tree in
/// memory, and the leaves in memory (`leaves.rs`).
#[derive(Default)]
pub(super) struct Numbered<T> {
    run: Vec<T>,
    others: FastMap<u64, T>,
}

impl<T: Copy> Numbered<T> {
    pub(super) fn get(&self, index: u64) -> Option<T> {
        match usize::try_from(index).ok().and_then(|i| self.run.get(i)) {
            Some(value) => Some(*value),
            None => self.others.get(&index).copied(),
        }
    }

    pub(super) fn set(&mut self, index: u64, value: T) {
        let position = usize::try_from(index).ok();
        if let Some(slot) = position.and_then(|i| self.run.get_mut(i)) {
            *slot = value;
        } else if position == Some(self.run.len()) {
            self.run.push(value);
            self.others.remove(&index);
        } else {
            self.others.insert(index, value);
        }
    }

    /// Every stored index, ascending (those in the map lie beyond the run).
    fn indices(&self) -> Vec<u64> {
        let mut others: Vec<u64> = self.others.keys().copied().collect();
        others.sort_unstable();
        (0u64..).take(self.run.len()).chain(others).collect()
    }
}

impl TreeNodes {
    /// Every node of `table` (a `MODEL/nodes` table).
    pub(super) fn load(
        table: &impl ReadableTable<u128, &'static [u8]>,
    ) -> Result<Self, ProverError> {
        let mut nodes = Self::default();
        for entry in table.iter()? {
            let (key, bytes) = entry?;
            let key = key.value();
            let (level, group) = split_key(key);
            let level = u8::try_from(level).map_err(|_| corrupt(key))?;
            let first = first_index(group).ok_or_else(|| corrupt(key))?;
            let group: Group<32> = decode(bytes.value()).ok_or_else(|| corrupt(key))?;
            for (offset, hash) in (0..GROUP).zip(group) {
                if let Some(hash) = hash {
                    // At most u64::MAX: `first` is at most u64::MAX - 15.
                    nodes.insert_at(level, first + offset, Hash32::from(hash));
                }
            }
        }
        Ok(nodes)
    }

    /// Writes every node into `table` (a new `MODEL/nodes` table).
    pub(super) fn write_all(
        &self,
        table: &mut Table<u128, &'static [u8]>,
    ) -> Result<(), ProverError> {
        for (level, nodes) in (0u8..).zip(&self.levels) {
            write_level(table, level, nodes.indices(), |index| nodes.get(index))?;
        }
        Ok(())
    }

    /// Node `(level, index)`, if stored (`None`: an empty subtree).
    pub(super) fn get(&self, level: u8, index: u64) -> Option<Hash32> {
        self.levels
            .get(usize::from(level))
            .and_then(|nodes| nodes.get(index))
    }

    /// Takes a committed block's nodes.
    pub(super) fn apply(&mut self, block: BlockNodes) {
        for (key, hash) in block.changed {
            self.insert(key, hash);
        }
    }

    fn insert(&mut self, key: u128, hash: Hash32) {
        let (level, index) = split_key(key);
        // A block's keys come from `node_key`, whose level is a u8.
        self.insert_at(level as u8, index, hash);
    }

    /// Sets node `(level, index)`.
    pub(super) fn insert_at(&mut self, level: u8, index: u64, hash: Hash32) {
        let level = usize::from(level);
        if self.levels.len() <= level {
            self.levels
                .resize_with(level.saturating_add(1), Numbered::default);
        }
        if let Some(nodes) = self.levels.get_mut(level) {
            nodes.set(index, hash);
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
    use redb::{ReadableDatabase, ReadableTableMetadata};

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

    /// A level keeps the nodes from index 0 in its run and the others in its map, whatever
    /// the order they come in: each index once, the last value set.
    #[test]
    fn a_level_holds_each_node_once() {
        let mut level = Numbered::default();
        for (index, byte) in [
            (0, 1),
            (1, 2),
            (3, 4),
            (u64::MAX, 9),
            (2, 3),
            (1, 5),
            (3, 6),
        ] {
            level.set(index, hash(byte));
        }
        assert_eq!(level.run.len(), 4);
        assert_eq!(level.indices(), [0, 1, 2, 3, u64::MAX]);
        let values: Vec<_> = level.indices().into_iter().map(|i| level.get(i)).collect();
        let expected = [1, 5, 3, 6, 9].map(|byte| Some(hash(byte)));
        assert_eq!(values, expected);
        assert_eq!(level.get(4), None);
        assert_eq!(level.get(u64::MAX - 1), None);
    }

    const NODES: redb::TableDefinition<u128, &[u8]> = redb::TableDefinition::new("test/nodes");

    fn hash(byte: u8) -> Hash32 {
        Hash32::from([byte; 32])
    }

    fn database() -> redb::Database {
        redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap()
    }

    /// Nodes written level by level come back one by one and all at once; the neighbours an
    /// entry holds but nobody stored stay empty.
    #[test]
    fn grouped_nodes_round_trip() {
        let db = database();
        let stored = [(0, 0, 1), (0, 1, 2), (0, 17, 3), (0, 40, 4), (5, 3, 5)];
        let write = db.begin_write().unwrap();
        {
            let mut table = write.open_table(NODES).unwrap();
            let node = |level: u8, index: u64| {
                stored
                    .iter()
                    .find(|&&(l, i, _)| (l, i) == (level, index))
                    .map(|&(_, _, byte)| hash(byte))
            };
            write_level(&mut table, 0, [0, 1, 17, 40], |i| node(0, i)).unwrap();
            write_level(&mut table, 5, [3], |i| node(5, i)).unwrap();
        }
        write.commit().unwrap();
        let read = db.begin_read().unwrap();
        let table = read.open_table(NODES).unwrap();
        // Entries: level 0 groups 0, 1 and 2; level 5 group 0.
        assert_eq!(table.len().unwrap(), 4);
        let loaded = TreeNodes::load(&table).unwrap();
        for (level, index, byte) in stored {
            assert_eq!(read_node(&table, level, index).unwrap(), Some(hash(byte)));
            assert_eq!(loaded.get(level, index), Some(hash(byte)));
        }
        for (level, index) in [(0, 2), (0, 16), (0, 1000), (5, 2), (6, 0)] {
            assert_eq!(read_node(&table, level, index).unwrap(), None);
            assert_eq!(loaded.get(level, index), None);
        }
    }

    /// An entry whose bitmap and length disagree, or whose key is no node group, is refused
    /// as corrupt, not read as some other tree.
    #[test]
    fn corrupt_node_entries_are_refused() {
        let one = encode::<32>(&std::array::from_fn(|slot| (slot == 3).then_some([7; 32])));
        assert_eq!(one.len(), 2 + 32);
        let short = &one[..one.len() - 1];
        let long = [one.as_slice(), &[0]].concat();
        let no_bitmap = [8u8];
        let bad_keys = [
            (u128::from(u8::MAX) + 1) << 64,
            node_key(0, u64::MAX / GROUP + 1),
        ];
        for bytes in [short, &long, &no_bitmap] {
            let db = database();
            let write = db.begin_write().unwrap();
            write
                .open_table(NODES)
                .unwrap()
                .insert(node_key(0, 0), bytes)
                .unwrap();
            write.commit().unwrap();
            let read = db.begin_read().unwrap();
            let table = read.open_table(NODES).unwrap();
            assert!(
                matches!(read_node(&table, 0, 3), Err(ProverError::Corrupt(m)) if m == "tree node entry 0x0")
            );
            assert!(matches!(
                TreeNodes::load(&table),
                Err(ProverError::Corrupt(_))
            ));
        }
        for key in bad_keys {
            let db = database();
            let write = db.begin_write().unwrap();
            write
                .open_table(NODES)
                .unwrap()
                .insert(key, one.as_slice())
                .unwrap();
            write.commit().unwrap();
            let read = db.begin_read().unwrap();
            let table = read.open_table(NODES).unwrap();
            let expected = format!("tree node entry {key:#x}");
            assert!(
                matches!(TreeNodes::load(&table), Err(ProverError::Corrupt(m)) if m == expected)
            );
        }
    }
}
