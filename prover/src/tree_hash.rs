//! The state tree of a model, as the prover stores it: every node 32 bytes (SHA3-256 for
//! `transfer`, Poseidon field elements in their canonical encoding for `zk-transfer`), through
//! the verifier's own tree ([`verifier::StateCommitment::state_tree`]). One walk
//! ([`verifier::tree::walk`]) for every model, so the prover asks for siblings in the order the
//! verifier reads them.

use verifier::tree::{SparseTree, WireTree};
use witness_format::{AccountLeaf, Hash32, Model};

/// The leaf, node and default hashes of one model's tree.
#[derive(Clone, Copy)]
pub(crate) struct ModelTree {
    model: Model,
    tree: &'static dyn WireTree,
}

impl std::fmt::Debug for ModelTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelTree")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl ModelTree {
    /// The tree of `model`; `None` for a model whose state is not a sparse tree.
    pub(crate) fn new(model: Model) -> Option<Self> {
        verifier::state_of(model)
            .state_tree()
            .map(|tree| Self { model, tree })
    }

    /// A leaf's hash; `None` for a leaf that cannot be in the tree (a key the model cannot
    /// read).
    pub(crate) fn leaf(&self, leaf: &AccountLeaf) -> Option<Hash32> {
        self.tree.leaf_hash(leaf)
    }

    /// The hash of an empty subtree of height `level`.
    pub(crate) fn default(&self, level: u8) -> Hash32 {
        self.tree.empty_hash(level)
    }

    /// The root over some leaves' hashes, asking `sibling` for the rest in the canonical
    /// multiproof order and handing every inner node computed to `visit`.
    pub(crate) fn root<E>(
        &self,
        depth: u8,
        leaves: Vec<(u64, Hash32)>,
        sibling: impl FnMut(u8, u64) -> Result<Hash32, E>,
        visit: impl FnMut(u8, u64, &Hash32),
    ) -> Result<Hash32, E> {
        verifier::tree::tree_root(self, depth, leaves, sibling, visit)
    }
}

/// The tree over its wire encoding, so the verifier's generic walk, reader and writer serve
/// the prover's stored nodes.
impl SparseTree for ModelTree {
    type Node = Hash32;

    fn leaf(&self, leaf: &AccountLeaf) -> Option<Hash32> {
        self.tree.leaf_hash(leaf)
    }

    fn leaves(&self, leaves: &[AccountLeaf], out: &mut Vec<Option<Hash32>>) {
        self.tree.leaf_hashes(leaves, out);
    }

    fn node(&self, left: &Hash32, right: &Hash32) -> Hash32 {
        self.tree.node_hash(left, right)
    }

    fn nodes(&self, children: &[[Hash32; 2]], out: &mut Vec<Hash32>) {
        self.tree.node_hashes(children, out);
    }

    fn empty(&self, level: u8) -> Hash32 {
        self.tree.empty_hash(level)
    }

    fn decode(&self, hash: &Hash32) -> Option<Hash32> {
        Some(*hash)
    }

    fn encode(&self, node: &Hash32) -> Hash32 {
        *node
    }
}
