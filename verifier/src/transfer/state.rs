//! The `transfer` model's state commitment: a SHA3-256 sparse tree.

use std::sync::LazyLock;

use witness_format::{AccountFact, AccountLeaf, Hash32, MerkleWitness};

use crate::error::VerifyError;
use crate::model::StateCommitment;
use crate::tree::{SparseTree, WireTree, empty_hashes, read_multiproof};

/// The `transfer` model's state tree: SHA3-256 leaves and nodes ([`crate::hash::leaf_hash`],
/// [`crate::hash::node_hash`]), the empty slot hashing to 32 zero bytes.
pub struct TransferTree {
    empty: LazyLock<Vec<Hash32>>,
}

/// The `transfer` model's tree; its empty-subtree hashes are computed once.
pub static TRANSFER_TREE: TransferTree = TransferTree {
    empty: LazyLock::new(|| empty_hashes(Hash32::ZERO, crate::hash::node_hash)),
};

impl SparseTree for TransferTree {
    type Node = Hash32;

    fn leaf(&self, leaf: &AccountLeaf) -> Option<Hash32> {
        Some(crate::hash::leaf_hash(leaf))
    }

    fn leaves(&self, leaves: &[AccountLeaf], out: &mut Vec<Option<Hash32>>) {
        out.extend(crate::hash::leaf_hashes(leaves).into_iter().map(Some));
    }

    fn node(&self, left: &Hash32, right: &Hash32) -> Hash32 {
        crate::hash::node_hash(left, right)
    }

    fn nodes(&self, children: &[[Hash32; 2]], out: &mut Vec<Hash32>) {
        crate::hash::node_hashes(children, out);
    }

    fn empty(&self, level: u8) -> Hash32 {
        self.empty
            .get(usize::from(level))
            .copied()
            .unwrap_or(Hash32::ZERO)
    }

    fn decode(&self, hash: &Hash32) -> Option<Hash32> {
        Some(*hash)
    }

    fn encode(&self, node: &Hash32) -> Hash32 {
        *node
    }
}

impl StateCommitment for TransferTree {
    fn account_root(
        &self,
        fact: &AccountFact,
        depth: u8,
        path: &MerkleWitness,
    ) -> Result<Hash32, VerifyError> {
        let leaf = self.leaf(&fact.leaf).unwrap_or(Hash32::ZERO);
        let (root, _) = read_multiproof(self, depth, vec![(fact.account, leaf)], path, |hash| {
            Ok::<_, VerifyError>(*hash)
        })?;
        Ok(root)
    }

    fn state_tree(&self) -> Option<&'static dyn WireTree> {
        Some(&TRANSFER_TREE)
    }
}
