//! The current leaves of one model: the accounts table (the state at the last checkpoint)
//! under the leaves changed since (`recent`, from the redo entries), and under a block's own
//! changes while it is being built.

use std::collections::BTreeMap;
use std::ops::RangeBounds;

use redb::ReadOnlyTable;
use witness_format::AccountLeaf;

use super::{ProverError, read_leaf};

/// A read-only view of one model's current leaves.
pub(crate) struct Leaves<'a> {
    pub(crate) table: &'a ReadOnlyTable<u64, &'static [u8]>,
    pub(crate) recent: &'a BTreeMap<u64, AccountLeaf>,
    /// The block being built's changes so far, if any.
    pub(crate) block: Option<&'a BTreeMap<u64, AccountLeaf>>,
}

impl Leaves<'_> {
    /// The leaf of `account` (empty if it does not exist).
    pub(crate) fn get(&self, account: u64) -> Result<AccountLeaf, ProverError> {
        if let Some(leaf) = self.block.and_then(|block| block.get(&account)) {
            return Ok(*leaf);
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
        for entry in self.table.range(accounts.clone())? {
            let (account, bytes) = entry?;
            let account = account.value();
            let leaf = witness_format::SszDecode::from_ssz_bytes(bytes.value())
                .map_err(|e| ProverError::Corrupt(format!("account {account}: {e:?}")))?;
            leaves.insert(account, leaf);
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
