//! The `zk-transfer` model's state commitment: its Poseidon domains, field elements on the
//! wire, the leaf and node hashes, and the tree ([`ZK_TRANSFER_TREE`]). See the model's module
//! documentation.

use std::convert::Infallible;
use std::sync::LazyLock;

use ark_bls12_381::Fr;
use ark_ff::{AdditiveGroup, BigInt, BigInteger, PrimeField};
use ark_serialize::CanonicalDeserialize;

use std::cell::Cell;

use witness_format::{AccountFact, AccountLeaf, Hash32, MerkleWitness};

use crate::error::{HistoryProofError, Reason, VerifyError};
use crate::model::StateCommitment;
use crate::tree::{SparseTree, WireTree, empty_hashes, read_multiproof, tree_root};
use crate::zk_transfer::poseidon::{hash_many, hash2};
use crate::zk_transfer::schnorr;

/// The model's tag in signing messages (a constant of the circuit). It is the `zk-transfer`
/// model's wire tag (its `Model` enum discriminant, `transfer` being 0).
pub const MODEL_TAG: u64 = 1;

/// A Poseidon domain from an 8-byte ASCII tag, read as a big-endian integer.
const fn domain(tag: &[u8; 8]) -> Fr {
    Fr::new(BigInt::new([u64::from_be_bytes(*tag), 0, 0, 0]))
}

/// Domain of an account leaf hash.
pub const LEAF_DOMAIN: Fr = domain(b"zkleaf01");
/// Domain of an inner node hash.
pub const NODE_DOMAIN: Fr = domain(b"zknode01");
/// Domain of a transaction's signing message.
pub const TX_DOMAIN: Fr = domain(b"zktxmsg1");
/// Domain of the transaction commitment sponge ([`crate::zk_transfer::TxCommitment`]).
pub const TX_COMMITMENT_DOMAIN: Fr = domain(b"zktxcom1");

/// The canonical encoding of a field element: 32 bytes, little-endian.
pub fn fr_to_hash(x: &Fr) -> Hash32 {
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(x.into_bigint().to_bytes_le()) {
        *o = b;
    }
    Hash32::from(out)
}

/// Decodes a canonical field element; `None` for a value at or above the modulus.
pub fn hash_to_fr(hash: &Hash32) -> Option<Fr> {
    // Validated deserialization rejects values at or above the modulus.
    Fr::deserialize_compressed(hash.0.as_slice()).ok()
}

/// `hash_many(LEAF_DOMAIN, [x, y, balance, nonce])`: the hash of an account with key (x, y).
pub fn leaf_hash_of(x: Fr, y: Fr, balance: u64, nonce: u64) -> Fr {
    hash_many(LEAF_DOMAIN, &[x, y, Fr::from(balance), Fr::from(nonce)])
}

/// The hash of a leaf: 0 for the empty slot, [`leaf_hash_of`] its key's coordinates otherwise;
/// `None` when the key does not decode (no such leaf can be in a tree).
pub fn leaf_hash(leaf: &AccountLeaf) -> Option<Fr> {
    if leaf.is_empty() {
        return Some(Fr::ZERO);
    }
    let (x, y) = schnorr::public_key_coordinates(&leaf.public_key.0)?;
    Some(leaf_hash_of(x, y, leaf.balance, leaf.nonce))
}

/// The hash of an inner node.
pub fn node_hash(left: &Fr, right: &Fr) -> Fr {
    hash2(NODE_DOMAIN, *left, *right)
}

/// The `zk-transfer` model's state tree: Poseidon leaves ([`leaf_hash`]) and nodes
/// ([`node_hash`]) over field elements, which travel as their canonical encodings
/// ([`fr_to_hash`], [`hash_to_fr`]); the empty slot hashes to 0.
pub struct ZkTransferTree {
    empty: LazyLock<Vec<Fr>>,
}

/// The `zk-transfer` model's tree; its empty-subtree hashes are computed once.
pub static ZK_TRANSFER_TREE: ZkTransferTree = ZkTransferTree {
    empty: LazyLock::new(|| empty_hashes(Fr::ZERO, node_hash)),
};

impl SparseTree for ZkTransferTree {
    type Node = Fr;

    fn leaf(&self, leaf: &AccountLeaf) -> Option<Fr> {
        leaf_hash(leaf)
    }

    fn node(&self, left: &Fr, right: &Fr) -> Fr {
        node_hash(left, right)
    }

    /// 0 for levels past `MAX_TREE_DEPTH`, which no valid tree reaches.
    fn empty(&self, level: u8) -> Fr {
        self.empty
            .get(usize::from(level))
            .copied()
            .unwrap_or(Fr::ZERO)
    }

    fn decode(&self, hash: &Hash32) -> Option<Fr> {
        hash_to_fr(hash)
    }

    fn encode(&self, node: &Fr) -> Hash32 {
        fr_to_hash(node)
    }
}

/// The root of a tree whose non-empty leaves are exactly `accounts` (ascending, within the
/// tree): every other slot is empty. For genesis states and tests.
///
/// Rejects a leaf whose key does not decode, by its index in `accounts`.
pub fn root_of_accounts(depth: u8, accounts: &[(u64, AccountLeaf)]) -> Result<Fr, VerifyError> {
    let tree = &ZK_TRANSFER_TREE;
    let leaves = accounts
        .iter()
        .enumerate()
        .map(|(index, (account, leaf))| {
            tree.leaf(leaf)
                .map(|hash| (*account, hash))
                .ok_or(Reason::InvalidLeafKey { index })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Ok(root) = tree_root::<_, Infallible>(
        tree,
        depth,
        leaves,
        |level, _| Ok(tree.empty(level)),
        |_, _, _| {},
    );
    Ok(root)
}

impl StateCommitment for ZkTransferTree {
    /// Its hashes being field elements, a leaf's key must decode to a Jubjub point
    /// (`InvalidLeafKey`) and every carried sibling must be a canonical encoding
    /// (`NonCanonicalSibling`), so that each path has exactly one encoding.
    fn account_root(
        &self,
        fact: &AccountFact,
        depth: u8,
        path: &MerkleWitness,
    ) -> Result<Hash32, VerifyError> {
        let tree = self;
        let leaf = tree
            .leaf(&fact.leaf)
            .ok_or(Reason::InvalidLeafKey { index: 0 })?;
        // The reader decodes each carried hash once, in order, only when it uses it; so the
        // number of decodes so far is the index of the one being decoded.
        let decoded = Cell::new(0usize);
        let (root, _) = read_multiproof(tree, depth, vec![(fact.account, leaf)], path, |hash| {
            let index = decoded.replace(decoded.get().saturating_add(1));
            hash_to_fr(hash)
                .ok_or_else(|| VerifyError::from(HistoryProofError::NonCanonicalSibling { index }))
        })?;
        Ok(fr_to_hash(&root))
    }

    fn state_tree(&self) -> Option<&'static dyn WireTree> {
        Some(&ZK_TRANSFER_TREE)
    }
}
