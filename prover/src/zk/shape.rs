//! The shape of a `zk-transfer` circuit: what a key pair is made for and a proof proves
//! (`KEYS/shape.json`, [`crate::zk::keys`]).

use serde::{Deserialize, Serialize};

/// The circuit shape a key pair is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// The state tree's depth.
    pub depth: u8,
    /// Transactions per proof.
    pub batch: u16,
    /// The chain id (a constant of the circuit).
    pub chain_id: u64,
    /// The top tree levels a proof computes once for its whole blob instead of once per path
    /// (0: none, every path goes up to the root). With L shared levels, a blob can be proven
    /// only when all its accounts lie in one aligned subtree of 2^(depth − L) leaves
    /// ([`Shape::subtree_of`]); the prover gives any other blob a Merkle witness. Absent in
    /// a `shape.json` written before there was a choice: 0.
    #[serde(default)]
    pub shared_levels: u8,
}

impl Shape {
    /// The shape of a circuit whose paths all go up to the root.
    pub fn new(depth: u8, batch: u16, chain_id: u64) -> Self {
        Self {
            depth,
            batch,
            chain_id,
            shared_levels: 0,
        }
    }

    /// Transactions per proof, as a count.
    pub fn batch(&self) -> usize {
        usize::from(self.batch)
    }

    /// The depth of the subtree whose root a slot's paths reach: `depth − shared_levels`.
    pub fn subtree_depth(&self) -> u8 {
        self.depth.saturating_sub(self.shared_levels)
    }

    /// The subtree that holds `account`: its index among the subtrees of
    /// [`Shape::subtree_depth`] (0 without shared levels: the tree).
    pub fn subtree(&self, account: u64) -> u64 {
        account
            .checked_shr(self.subtree_depth().into())
            .unwrap_or(0)
    }

    /// The one subtree that holds every account of `accounts` ([`Shape::subtree`]), or `None`
    /// when they span two (or there are none).
    pub fn subtree_of(&self, accounts: &[u64]) -> Option<u64> {
        let first = self.subtree(*accounts.first()?);
        accounts
            .iter()
            .all(|&account| self.subtree(account) == first)
            .then_some(first)
    }

    /// Why no circuit has this shape, if none does: the shared levels must leave a path of at
    /// least one level under them.
    pub fn check(&self) -> Result<(), String> {
        if self.depth == 0 || self.shared_levels >= self.depth {
            return Err(format!(
                "{} shared levels leave no path in a tree of depth {}",
                self.shared_levels, self.depth
            ));
        }
        Ok(())
    }
}
