//! The current leaves of one model: the accounts table (the state at the last checkpoint)
//! under the leaves changed since (`recent`, from the redo entries), and under a block's own
//! changes while it is being built. A block's builder reads them from a copy in memory of the
//! first two ([`CurrentLeaves`]), kept beside the tree in memory.
//!
//! The table holds 16 consecutive accounts' leaves per entry (`groups.rs`), each leaf in its
//! SSZ encoding (48 bytes).

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

use redb::{ReadOnlyTable, ReadableTable, Table};
use witness_format::{AccountLeaf, SszDecode, SszEncode};

use super::ProverError;
use super::groups::{GROUP, Group, decode, decode_slot, encode, first_index, slot};
use super::nodes::Numbered;

const LEAF_BYTES: usize = 48;

fn corrupt(group: u64) -> ProverError {
    ProverError::Corrupt(format!("accounts entry {group}"))
}

fn read_group(
    table: &impl ReadableTable<u64, &'static [u8]>,
    group: u64,
) -> Result<Option<Group<LEAF_BYTES>>, ProverError> {
    match table.get(group)? {
        Some(bytes) => decode(bytes.value())
            .map(Some)
            .ok_or_else(|| corrupt(group)),
        None => Ok(None),
    }
}

fn decode_leaf(account: u64, bytes: &[u8; LEAF_BYTES]) -> Result<AccountLeaf, ProverError> {
    AccountLeaf::from_ssz_bytes(bytes)
        .map_err(|e| ProverError::Corrupt(format!("account {account}: {e:?}")))
}

/// The stored leaf of `account` in `table` (an accounts table; empty if not stored).
fn read_leaf(
    table: &impl ReadableTable<u64, &'static [u8]>,
    account: u64,
) -> Result<AccountLeaf, ProverError> {
    let group = account / GROUP;
    let stored = match table.get(group)? {
        Some(bytes) => decode_slot(bytes.value(), slot(account)).ok_or_else(|| corrupt(group))?,
        None => None,
    };
    match stored {
        Some(bytes) => decode_leaf(account, &bytes),
        None => Ok(AccountLeaf::EMPTY),
    }
}

/// Stores `leaves` (ascending by account) into `table`, over what it holds.
pub(super) fn write_leaves<'a>(
    table: &mut Table<u64, &'static [u8]>,
    leaves: impl IntoIterator<Item = (u64, &'a AccountLeaf)>,
) -> Result<(), ProverError> {
    let mut open: Option<(u64, Group<LEAF_BYTES>)> = None;
    for (account, leaf) in leaves {
        let group = account / GROUP;
        let entry = match &mut open {
            Some((g, entry)) if *g == group => entry,
            _ => {
                if let Some((g, entry)) = open.take() {
                    table.insert(g, encode(&entry).as_slice())?;
                }
                let entry = read_group(table, group)?.unwrap_or([None; GROUP as usize]);
                &mut open.insert((group, entry)).1
            }
        };
        let bytes = <[u8; LEAF_BYTES]>::try_from(leaf.as_ssz_bytes())
            .map_err(|_| ProverError::Corrupt(format!("account {account}: leaf size")))?;
        entry[slot(account)] = Some(bytes);
    }
    if let Some((g, entry)) = open {
        table.insert(g, encode(&entry).as_slice())?;
    }
    Ok(())
}

/// The groups holding the accounts of `range`.
fn groups_of(range: &impl RangeBounds<u64>) -> (Bound<u64>, Bound<u64>) {
    let start = match range.start_bound() {
        Bound::Included(&a) => Bound::Included(a / GROUP),
        Bound::Excluded(&a) => Bound::Included(a.saturating_add(1) / GROUP),
        Bound::Unbounded => Bound::Unbounded,
    };
    let end = match range.end_bound() {
        Bound::Included(&a) => Bound::Included(a / GROUP),
        Bound::Excluded(&0) => Bound::Excluded(0),
        Bound::Excluded(&a) => Bound::Included((a - 1) / GROUP),
        Bound::Unbounded => Bound::Unbounded,
    };
    (start, end)
}

/// Every current leaf of one model in memory: the accounts table under the leaves changed
/// since the checkpoint, numbered like the tree's levels ([`Numbered`]). A block of 8,192
/// transfers reads about 16,000 leaves; from redb, under two ordered maps, that was 6% of a
/// prove run's time. Memory: 48 bytes an account (48 MB for 2^20), as much again of the tree's.
#[derive(Default)]
pub(crate) struct CurrentLeaves(Numbered<AccountLeaf>);

impl CurrentLeaves {
    /// Every leaf of `table` (an accounts table) under `recent`.
    pub(super) fn load(
        table: &impl ReadableTable<u64, &'static [u8]>,
        recent: &BTreeMap<u64, AccountLeaf>,
    ) -> Result<Self, ProverError> {
        let mut leaves = Self::default();
        for entry in table.iter()? {
            let (group, bytes) = entry?;
            for (account, bytes) in entry_slots(group.value(), bytes.value())? {
                leaves.0.set(account, decode_leaf(account, &bytes)?);
            }
        }
        leaves.extend(recent);
        Ok(leaves)
    }

    /// The leaf of `account` (empty if it does not exist).
    pub(crate) fn get(&self, account: u64) -> AccountLeaf {
        self.0.get(account).unwrap_or(AccountLeaf::EMPTY)
    }

    /// Takes `leaves` (a block's changed ones, as it left them).
    pub(super) fn extend<'a>(
        &mut self,
        leaves: impl IntoIterator<Item = (&'a u64, &'a AccountLeaf)>,
    ) {
        for (&account, &leaf) in leaves {
            self.0.set(account, leaf);
        }
    }
}

/// The stored slots of accounts entry `group` (`bytes`), with their accounts.
fn entry_slots(
    group: u64,
    bytes: &[u8],
) -> Result<impl Iterator<Item = (u64, [u8; LEAF_BYTES])>, ProverError> {
    let first = first_index(group).ok_or_else(|| corrupt(group))?;
    let stored: Group<LEAF_BYTES> = decode(bytes).ok_or_else(|| corrupt(group))?;
    // At most u64::MAX: `first` is at most u64::MAX - 15.
    Ok((0..GROUP)
        .zip(stored)
        .filter_map(move |(offset, bytes)| Some((first + offset, bytes?))))
}

/// A read-only view of one model's current leaves.
pub(crate) struct Leaves<'a> {
    pub(crate) table: &'a ReadOnlyTable<u64, &'static [u8]>,
    pub(crate) recent: &'a BTreeMap<u64, AccountLeaf>,
    /// The same leaves as `table` under `recent`, in memory, when loaded: read instead.
    pub(crate) memory: Option<&'a CurrentLeaves>,
    /// The block being built's changes so far, if any.
    pub(crate) block: Option<&'a BTreeMap<u64, AccountLeaf>>,
}

impl Leaves<'_> {
    /// The leaf of `account` (empty if it does not exist).
    pub(crate) fn get(&self, account: u64) -> Result<AccountLeaf, ProverError> {
        if let Some(leaf) = self.block.and_then(|block| block.get(&account)) {
            return Ok(*leaf);
        }
        if let Some(memory) = self.memory {
            return Ok(memory.get(account));
        }
        match self.recent.get(&account) {
            Some(leaf) => Ok(*leaf),
            None => read_leaf(self.table, account),
        }
    }

    /// Every stored leaf in `accounts`, ascending: those the table holds, as changed since.
    pub(crate) fn range(
        &self,
        accounts: impl RangeBounds<u64> + Clone,
    ) -> Result<Vec<(u64, AccountLeaf)>, ProverError> {
        let mut leaves = BTreeMap::new();
        for entry in self.table.range(groups_of(&accounts))? {
            let (group, bytes) = entry?;
            for (account, bytes) in entry_slots(group.value(), bytes.value())? {
                if accounts.contains(&account) {
                    leaves.insert(account, decode_leaf(account, &bytes)?);
                }
            }
        }
        let changed = self.recent.range(accounts.clone()).chain(
            self.block
                .into_iter()
                .flat_map(|block| block.range(accounts.clone())),
        );
        for (&account, &leaf) in changed {
            leaves.insert(account, leaf);
        }
        Ok(leaves.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableDatabase, TableDefinition};

    const ACCOUNTS: TableDefinition<u64, &[u8]> = TableDefinition::new("test/accounts");

    fn leaf(balance: u64) -> AccountLeaf {
        AccountLeaf {
            balance,
            ..AccountLeaf::EMPTY
        }
    }

    fn database(stored: &[u64]) -> redb::Database {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap();
        let write = db.begin_write().unwrap();
        let leaves: Vec<(u64, AccountLeaf)> = stored.iter().map(|&a| (a, leaf(!a))).collect();
        write_leaves(
            &mut write.open_table(ACCOUNTS).unwrap(),
            leaves.iter().map(|(a, l)| (*a, l)),
        )
        .unwrap();
        write.commit().unwrap();
        db
    }

    /// Leaves written 16 to an entry come back one by one and by range, with every kind of
    /// bound; a second write keeps the entries' other leaves.
    #[test]
    fn grouped_leaves_read_back_by_account_and_range() {
        let db = database(&[0, 5, 15, 16, 33, u64::MAX]);
        let write = db.begin_write().unwrap();
        write_leaves(&mut write.open_table(ACCOUNTS).unwrap(), [(6, &leaf(70))]).unwrap();
        write.commit().unwrap();
        let read = db.begin_read().unwrap();
        let table = read.open_table(ACCOUNTS).unwrap();
        let recent = BTreeMap::from([(16, leaf(99))]);
        let leaves = Leaves {
            table: &table,
            recent: &recent,
            memory: None,
            block: None,
        };
        for account in [0, 5, 15, 33, u64::MAX] {
            assert_eq!(leaves.get(account).unwrap(), leaf(!account));
        }
        assert_eq!(leaves.get(6).unwrap(), leaf(70));
        assert_eq!(leaves.get(16).unwrap(), leaf(99));
        for absent in [1, 14, 17, 32, 1000] {
            assert_eq!(leaves.get(absent).unwrap(), AccountLeaf::EMPTY);
        }
        let accounts = |leaves: Vec<(u64, AccountLeaf)>| -> Vec<u64> {
            leaves.into_iter().map(|(a, _)| a).collect()
        };
        assert_eq!(accounts(leaves.range(5..16).unwrap()), [5, 6, 15]);
        assert_eq!(accounts(leaves.range(6..=16).unwrap()), [6, 15, 16]);
        assert_eq!(accounts(leaves.range(..5).unwrap()), [0]);
        assert_eq!(accounts(leaves.range(..0).unwrap()), [0u64; 0]);
        assert_eq!(accounts(leaves.range(16..16).unwrap()), [0u64; 0]);
        assert_eq!(accounts(leaves.range(16..).unwrap()), [16, 33, u64::MAX]);
        assert_eq!(
            accounts(
                leaves
                    .range((Bound::Excluded(15), Bound::Unbounded))
                    .unwrap()
            ),
            [16, 33, u64::MAX]
        );
        assert_eq!(accounts(leaves.range(..).unwrap()).len(), 7);
    }

    /// The leaves in memory are the table's under the recent ones, account by account, and
    /// stay so as blocks' leaves are taken in (the run from account 0 growing past a gap, and
    /// accounts far from it).
    #[test]
    fn leaves_in_memory_read_as_the_table_under_the_recent_leaves() {
        let db = database(&[0, 2, 5, 15, 16, 33, u64::MAX]);
        let read = db.begin_read().unwrap();
        let table = read.open_table(ACCOUNTS).unwrap();
        let mut recent = BTreeMap::from([(16, leaf(99)), (40, leaf(7))]);
        let mut memory = CurrentLeaves::load(&table, &recent).unwrap();
        let accounts = [
            0,
            1,
            2,
            3,
            5,
            14,
            15,
            16,
            17,
            33,
            40,
            41,
            1000,
            u64::MAX - 1,
            u64::MAX,
        ];
        let agree = |memory: &CurrentLeaves, recent: &BTreeMap<u64, AccountLeaf>| {
            let stored = Leaves {
                table: &table,
                recent,
                memory: None,
                block: None,
            };
            let in_memory = Leaves {
                memory: Some(memory),
                ..stored
            };
            for account in accounts {
                assert_eq!(
                    memory.get(account),
                    stored.get(account).unwrap(),
                    "{account}"
                );
                assert_eq!(
                    in_memory.get(account).unwrap(),
                    stored.get(account).unwrap()
                );
            }
        };
        agree(&memory, &recent);
        assert_eq!(memory.get(16), leaf(99));
        assert_eq!(memory.get(1), AccountLeaf::EMPTY);
        let block = BTreeMap::from([(1, leaf(11)), (3, leaf(33)), (2, leaf(22)), (41, leaf(4))]);
        memory.extend(&block);
        recent.extend(block);
        agree(&memory, &recent);
        assert_eq!((memory.get(1), memory.get(3)), (leaf(11), leaf(33)));
    }

    /// An entry whose bitmap and length disagree, or whose group no account lies in, is
    /// refused as corrupt.
    #[test]
    fn corrupt_account_entries_are_refused() {
        let db = database(&[3]);
        let write = db.begin_write().unwrap();
        {
            let mut table = write.open_table(ACCOUNTS).unwrap();
            table.insert(1, [1u8, 0].as_slice()).unwrap();
            table
                .insert(u64::MAX / GROUP + 1, [0u8, 0].as_slice())
                .unwrap();
        }
        write.commit().unwrap();
        let read = db.begin_read().unwrap();
        let table = read.open_table(ACCOUNTS).unwrap();
        let recent = BTreeMap::new();
        let leaves = Leaves {
            table: &table,
            recent: &recent,
            memory: None,
            block: None,
        };
        assert_eq!(leaves.get(3).unwrap(), leaf(!3));
        let corrupt = |result: Result<_, ProverError>, expected: &str| {
            assert!(matches!(result, Err(ProverError::Corrupt(m)) if m == expected));
        };
        corrupt(leaves.get(16).map(|_| ()), "accounts entry 1");
        corrupt(leaves.range(16..32).map(|_| ()), "accounts entry 1");
        corrupt(
            CurrentLeaves::load(&table, &recent).map(|_| ()),
            "accounts entry 1",
        );
        let last = format!("accounts entry {}", u64::MAX / GROUP + 1);
        corrupt(leaves.range(u64::MAX - 1..).map(|_| ()), &last);
    }
}
