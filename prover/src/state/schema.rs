//! The database layout: tables, keys, the format version, and reading stored values.

use std::sync::LazyLock;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use witness_format::ssz_types::VariableList;
use witness_format::{Genesis, Model, decode_file};

use super::*;

pub(crate) const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
pub(super) const HEADERS: TableDefinition<u64, [u8; 32]> = TableDefinition::new("headers");
pub(crate) const HISTORY_NODES: TableDefinition<u128, [u8; 32]> =
    TableDefinition::new("history_nodes");
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(super) const META_GENESIS: &str = "genesis";
/// The layout version of the database; another one is refused, not guessed at.
pub(crate) const META_FORMAT: &str = "format";
/// Version 6: `MODEL/nodes` and `MODEL/accounts` hold 16 neighbours per entry. Version 5:
/// `zk-transfer` trees hashed with Poseidon2 (file format 5). Version 4: accounts
/// and nodes tables hold the state at the last checkpoint, each block adds
/// one undo and one redo entry (`MODEL/undo`, `MODEL/redo`), tree nodes keep no history.
/// Version 3:
/// blocks of file format 2 (zk proofs bind signatures, counts and the bridge) and
/// `zk-transfer` bridge leaves under the new bridge key. Version 2: tables per model (version 1
/// held one model in unprefixed tables).
pub(crate) const FORMAT_VERSION: u64 = 6;
/// The height whose state `MODEL/accounts` and `MODEL/nodes` hold (absent: 0, the genesis).
pub(crate) const META_CHECKPOINT: &str = "checkpoint";
/// The lowest height whose state can still be proven (absent: 0); the undo entries of the
/// blocks up to it are pruned.
pub(crate) const META_HISTORY_FROM: &str = "history_from";

/// One model's tables: its current state and its undo log (see the module doc).
#[derive(Clone, Copy)]
pub(crate) struct ModelTables {
    pub(crate) accounts: TableDefinition<'static, u64, &'static [u8]>,
    pub(crate) nodes: TableDefinition<'static, u128, &'static [u8]>,
    pub(crate) undo: TableDefinition<'static, u64, &'static [u8]>,
    pub(crate) redo: TableDefinition<'static, u64, &'static [u8]>,
}

/// The table names of every model: `MODEL/TABLE`, `MODEL` its name.
static TABLE_NAMES: LazyLock<Vec<(Model, [String; 4])>> = LazyLock::new(|| {
    Model::ALL
        .into_iter()
        .map(|model| {
            let names = ["accounts", "nodes", "undo", "redo"]
                .map(|table| format!("{}/{table}", model.name()));
            (model, names)
        })
        .collect()
});

impl ModelTables {
    /// The tables of `model`, named `MODEL/TABLE`.
    pub(crate) fn of(model: Model) -> Self {
        let names = TABLE_NAMES
            .iter()
            .find(|(m, _)| *m == model)
            .map(|(_, names)| names)
            // Model::ALL lists every model.
            .unwrap_or_else(|| unreachable!("a model missing from Model::ALL"));
        let [accounts, nodes, undo, redo] = names.each_ref().map(String::as_str);
        Self {
            accounts: TableDefinition::new(accounts),
            nodes: TableDefinition::new(nodes),
            undo: TableDefinition::new(undo),
            redo: TableDefinition::new(redo),
        }
    }
}

/// A list within its wire limit; the prover never builds one past it.
pub(super) fn bounded<T, N: witness_format::ssz_types::typenum::Unsigned>(
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

/// The number stored under `key` in the meta table (absent: 0).
pub(crate) fn read_meta_u64(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<u64, ProverError> {
    match meta.get(key)? {
        Some(bytes) => <[u8; 8]>::try_from(bytes.value())
            .map(u64::from_le_bytes)
            .map_err(|_| ProverError::Corrupt(format!("stored {key}"))),
        None => Ok(0),
    }
}

/// The genesis stored in `db`, if it holds one, after checking the database's format version.
pub(super) fn stored_genesis(db: &Database) -> Result<Option<Genesis>, ProverError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use redb::TableHandle;

    /// Node keys order by level, then index, so a level is one contiguous range.
    #[test]
    fn keys_order_by_level_then_index() {
        assert!(node_key(0, u64::MAX) < node_key(1, 0));
        assert!(node_key(3, 5) < node_key(3, 6));
        assert_eq!(node_key(1, 2) >> 64, 1);
        assert!(history_key(0, u64::MAX) < history_key(1, 0));
        assert_ne!(
            ModelTables::of(Model::Transfer).nodes.name(),
            ModelTables::of(Model::ZkTransfer).nodes.name()
        );
    }
}
