//! The state tree's hashes for each model, as 32-byte values: SHA3-256 for `transfer`
//! ([`verifier::hash`]), Poseidon field elements in their canonical encoding for `zk-transfer`
//! ([`verifier::zk_transfer`]). One walk ([`verifier::tree::walk`]) for both, so the prover
//! asks for siblings in the order the verifier reads them.

use verifier::tree::{DefaultHashes, walk};
use verifier::{hash, zk_transfer};
use witness_format::limits::MAX_TREE_DEPTH;
use witness_format::{AccountLeaf, Hash32, Model};

/// The leaf, node and default hashes of one model's tree.
#[derive(Clone, Debug)]
pub struct ModelTree {
    model: Model,
    defaults: Vec<Hash32>,
}

impl ModelTree {
    /// The tree hashes of `model`.
    pub fn new(model: Model) -> Self {
        let defaults = match model {
            Model::Transfer => {
                let defaults = DefaultHashes::new();
                (0..=MAX_TREE_DEPTH).map(|l| defaults.at(l)).collect()
            }
            Model::ZkTransfer => (0..=MAX_TREE_DEPTH)
                .map(|l| zk_transfer::fr_to_hash(&zk_transfer::default_hash(l)))
                .collect(),
        };
        Self { model, defaults }
    }

    /// The model.
    pub fn model(&self) -> Model {
        self.model
    }

    /// A leaf's hash; `None` for a `zk-transfer` leaf whose key is not a Jubjub point.
    pub fn leaf(&self, leaf: &AccountLeaf) -> Option<Hash32> {
        match self.model {
            Model::Transfer => Some(hash::leaf_hash(leaf)),
            Model::ZkTransfer => zk_transfer::leaf_hash(leaf).map(|h| zk_transfer::fr_to_hash(&h)),
        }
    }

    /// An inner node's hash.
    pub fn node(&self, left: &Hash32, right: &Hash32) -> Hash32 {
        match self.model {
            Model::Transfer => hash::node_hash(left, right),
            Model::ZkTransfer => {
                let fr = |h: &Hash32| zk_transfer::hash_to_fr(h).unwrap_or_default();
                zk_transfer::fr_to_hash(&zk_transfer::node_hash(&fr(left), &fr(right)))
            }
        }
    }

    /// The hash of an empty subtree of height `level`.
    pub fn default(&self, level: u8) -> Hash32 {
        self.defaults
            .get(usize::from(level))
            .copied()
            .unwrap_or(Hash32::ZERO)
    }

    /// The root over some leaves' hashes, asking `sibling` for the rest in the canonical
    /// multiproof order and handing every inner node computed to `visit`.
    pub fn root<E>(
        &self,
        depth: u8,
        leaves: Vec<(u64, Hash32)>,
        sibling: impl FnMut(u8, u64) -> Result<Hash32, E>,
        visit: impl FnMut(u8, u64, &Hash32),
    ) -> Result<Hash32, E> {
        walk(
            depth,
            leaves,
            self.default(depth),
            |l, r| self.node(l, r),
            sibling,
            visit,
        )
    }
}
