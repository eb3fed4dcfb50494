//! The fixed-depth binary sparse Merkle tree, indexed by account number.
//!
//! ```text
//! level D (root)                 r
//!                             /     \
//! level D-1                 n0       n1          n = node_hash(left, right)
//!                          /  \     /  \
//!   ...                  ...  ...  ...  ...       an empty subtree at level l hashes to
//!                                                 DEFAULT[l], so it is never stored or sent
//! level 0 (leaves)   leaf(0) leaf(1) ... leaf(2^D - 1)
//! ```
//!
//! [`walk`] (as [`tree_root`] for a model's [`SparseTree`]) is the one walk over a set of
//! leaves. It asks for siblings in the canonical multiproof order: level by level from the
//! leaves up, left to right within a level, and only for siblings it cannot compute from the
//! leaves given. The verifier answers from the witness ([`read_multiproof`]), the prover from
//! its database ([`write_multiproof`]), so both agree on the order by construction.

use witness_format::limits::MAX_TREE_DEPTH;
use witness_format::ssz_types::{self, BitList, VariableList};
use witness_format::{AccountLeaf, Hash32, MerkleWitness};

use crate::accounts::TouchedState;
use crate::error::Reason;

/// The hashes of a binary sparse Merkle tree: the state commitment of a model whose state is a
/// fixed-depth tree indexed by account number (`transfer`'s SHA3 tree, `zk-transfer`'s
/// Poseidon tree). The walk, the multiproof reader ([`read_multiproof`]) and its writer
/// ([`write_multiproof`]) are generic over it, so every such model shares them; a model whose
/// state is another structure (a Merkle Patricia trie) has no use for it.
pub trait SparseTree: Sync {
    /// A hash as the tree computes with it (32 bytes, or a field element).
    type Node: Copy + PartialEq + Send + Sync + std::fmt::Debug;

    /// A leaf's hash (the empty slot's is `empty(0)`); `None` for a leaf that cannot be in the
    /// tree (a key the model cannot read).
    fn leaf(&self, leaf: &AccountLeaf) -> Option<Self::Node>;
    /// [`SparseTree::leaf`] of each leaf, appended to `out` in order: what a walk over a
    /// touched state needs at once, so a tree whose hash does several at once can.
    fn leaves(&self, leaves: &[AccountLeaf], out: &mut Vec<Option<Self::Node>>) {
        out.extend(leaves.iter().map(|leaf| self.leaf(leaf)));
    }
    /// The hash of an inner node from its children.
    fn node(&self, left: &Self::Node, right: &Self::Node) -> Self::Node;
    /// The hashes of independent nodes from their children (`[left, right]` each), appended to
    /// `out` in order: what a walk asks for each level, so a tree whose hash does several at
    /// once (SHA3 in vector lanes) can.
    fn nodes(&self, children: &[[Self::Node; 2]], out: &mut Vec<Self::Node>) {
        out.extend(children.iter().map(|[left, right]| self.node(left, right)));
    }
    /// The hash of an empty subtree of height `level` (precomputed).
    fn empty(&self, level: u8) -> Self::Node;
    /// The node a 32-byte hash on the wire encodes; `None` when it encodes none (a value that
    /// is not a canonical field element).
    fn decode(&self, hash: &Hash32) -> Option<Self::Node>;
    /// The node's 32 bytes on the wire.
    fn encode(&self, node: &Self::Node) -> Hash32;

    /// The node a stored hash encodes; one that encodes none (no stored node is one) counts as
    /// the empty leaf.
    fn decode_or_empty(&self, hash: &Hash32) -> Self::Node {
        self.decode(hash).unwrap_or_else(|| self.empty(0))
    }
}

/// A [`SparseTree`] seen through its wire encoding, every node 32 bytes, and chosen at run
/// time: what the prover stores and walks. Every sparse tree is one.
pub trait WireTree: Sync {
    /// [`SparseTree::leaf`], encoded.
    fn leaf_hash(&self, leaf: &AccountLeaf) -> Option<Hash32>;
    /// [`SparseTree::leaves`], encoded.
    fn leaf_hashes(&self, leaves: &[AccountLeaf], out: &mut Vec<Option<Hash32>>);
    /// [`SparseTree::node`] of two encoded children. A child that does not decode (no stored
    /// node is one) counts as the empty leaf.
    fn node_hash(&self, left: &Hash32, right: &Hash32) -> Hash32;
    /// [`SparseTree::nodes`] of encoded children, as [`WireTree::node_hash`] each.
    fn node_hashes(&self, children: &[[Hash32; 2]], out: &mut Vec<Hash32>);
    /// [`SparseTree::empty`], encoded.
    fn empty_hash(&self, level: u8) -> Hash32;
}

impl<T: SparseTree> WireTree for T {
    fn leaf_hash(&self, leaf: &AccountLeaf) -> Option<Hash32> {
        self.leaf(leaf).map(|node| self.encode(&node))
    }

    fn leaf_hashes(&self, leaves: &[AccountLeaf], out: &mut Vec<Option<Hash32>>) {
        let mut nodes = Vec::with_capacity(leaves.len());
        self.leaves(leaves, &mut nodes);
        out.extend(nodes.iter().map(|node| node.map(|node| self.encode(&node))));
    }

    fn node_hash(&self, left: &Hash32, right: &Hash32) -> Hash32 {
        self.encode(&self.node(&self.decode_or_empty(left), &self.decode_or_empty(right)))
    }

    fn node_hashes(&self, children: &[[Hash32; 2]], out: &mut Vec<Hash32>) {
        let decoded: Vec<[T::Node; 2]> = children
            .iter()
            .map(|pair| pair.map(|hash| self.decode_or_empty(&hash)))
            .collect();
        let mut nodes = Vec::with_capacity(decoded.len());
        self.nodes(&decoded, &mut nodes);
        out.extend(nodes.iter().map(|node| self.encode(node)));
    }

    fn empty_hash(&self, level: u8) -> Hash32 {
        self.encode(&self.empty(level))
    }
}

/// The empty-subtree hashes of every level up to [`MAX_TREE_DEPTH`]: `empty[0]`, then each the
/// node of two of the level below. For implementations of [`SparseTree::empty`].
pub fn empty_hashes<N: Copy>(empty_leaf: N, node: impl Fn(&N, &N) -> N) -> Vec<N> {
    let mut by_level = Vec::with_capacity(usize::from(MAX_TREE_DEPTH) + 1);
    let mut current = empty_leaf;
    by_level.push(current);
    for _ in 0..MAX_TREE_DEPTH {
        current = node(&current, &current);
        by_level.push(current);
    }
    by_level
}

/// The root of `tree` (of `depth` levels) over some of its leaves (`(account, hash)`, strictly
/// ascending), asking `sibling(level, index)` for every other hash needed, in the canonical
/// multiproof order, and handing every inner node computed to `visit(level, index, hash)`.
pub fn tree_root<T: SparseTree, E>(
    tree: &T,
    depth: u8,
    leaves: Vec<(u64, T::Node)>,
    sibling: impl FnMut(u8, u64) -> Result<T::Node, E>,
    visit: impl FnMut(u8, u64, &T::Node),
) -> Result<T::Node, E> {
    walk(
        depth,
        leaves,
        tree.empty(depth),
        |children, out| tree.nodes(children, out),
        sibling,
        visit,
    )
}

/// The `(account, leaf hash)` pairs of a touched state, ascending; `Err(index)` names the first
/// leaf (by its index among the state's) that has no hash.
pub fn leaf_nodes<T: SparseTree>(
    tree: &T,
    state: &TouchedState,
) -> Result<Vec<(u64, T::Node)>, usize> {
    let mut hashes = Vec::with_capacity(state.leaves().len());
    tree.leaves(state.leaves(), &mut hashes);
    state
        .accounts()
        .iter()
        .zip(hashes)
        .enumerate()
        .map(|(index, (&account, hash))| hash.map(|hash| (account, hash)).ok_or(index))
        .collect()
}

/// Reads a multiproof in `tree` ([`multiproof_root`] with the tree's hashes); `decode` turns a
/// carried sibling into a node, with the caller's rejection when it does not decode.
pub fn read_multiproof<T: SparseTree, E: From<Reason>>(
    tree: &T,
    depth: u8,
    leaves: Vec<(u64, T::Node)>,
    witness: &MerkleWitness,
    decode: impl Fn(&Hash32) -> Result<T::Node, E>,
) -> Result<(T::Node, Vec<T::Node>), E> {
    multiproof_root(
        depth,
        leaves,
        tree.empty(depth),
        |children, out| tree.nodes(children, out),
        |level| tree.empty(level),
        decode,
        witness,
    )
}

/// The roots a Merkle witness gives a touched state before (`pre`) and after (`post`) its
/// blob: the multiproof recomputes the first, and the same siblings with the new leaves the
/// second (the same accounts ask for the same siblings in the same order). Leaves without a
/// hash are `InvalidLeafKey`; a carried sibling that does not decode is `decode`'s rejection.
pub fn witness_roots<T: SparseTree, E: From<Reason>>(
    tree: &T,
    depth: u8,
    pre: &TouchedState,
    post: &TouchedState,
    witness: &MerkleWitness,
    decode: impl Fn(&Hash32) -> Result<T::Node, E>,
) -> Result<(Hash32, Hash32), E> {
    let leaves =
        |state| leaf_nodes(tree, state).map_err(|index| E::from(Reason::InvalidLeafKey { index }));
    let (pre_root, siblings) = read_multiproof(tree, depth, leaves(pre)?, witness, decode)?;
    let mut replay = siblings.into_iter();
    let empty = tree.empty(0);
    let post_root = tree_root::<T, E>(
        tree,
        depth,
        leaves(post)?,
        |_, _| Ok(replay.next().unwrap_or(empty)),
        |_, _, _| {},
    )?;
    Ok((tree.encode(&pre_root), tree.encode(&post_root)))
}

/// Pairs a blob's touched accounts with its witness's leaves: one canonical leaf per account
/// (an empty slot is 48 zero bytes: `NonCanonicalEmptyLeaf`; another count:
/// `LeafCountMismatch`).
pub fn witness_state(accounts: Vec<u64>, witness: &MerkleWitness) -> Result<TouchedState, Reason> {
    let leaves: Vec<AccountLeaf> = witness.leaves.to_vec();
    if let Some(index) = leaves
        .iter()
        .position(|leaf| leaf.is_empty() && *leaf != AccountLeaf::EMPTY)
    {
        return Err(Reason::NonCanonicalEmptyLeaf { index });
    }
    let (expected, found) = (accounts.len(), leaves.len());
    TouchedState::new(accounts, leaves).ok_or(Reason::LeafCountMismatch { expected, found })
}

/// A multiproof as [`write_multiproof`] writes it.
#[derive(Clone, Debug)]
pub struct WrittenMultiproof<N> {
    /// The root the leaves and siblings give.
    pub root: N,
    /// Every sibling, in order, defaults included (for a second walk over new leaves).
    pub siblings: Vec<N>,
    /// One bit per sibling: carried (true) or an empty subtree's hash (false).
    pub present: Vec<bool>,
    /// The carried siblings, encoded, in order.
    pub carried: Vec<Hash32>,
    /// How many inner nodes the walk hashed (the verifier hashes as many to read it).
    pub inner_nodes: usize,
}

impl<N> WrittenMultiproof<N> {
    /// The Merkle witness of these siblings for `leaves`; `None` past a witness's limits.
    pub fn witness(&self, leaves: Vec<AccountLeaf>) -> Option<MerkleWitness> {
        Some(MerkleWitness {
            leaves: VariableList::new(leaves).ok()?,
            sibling_present: bit_list(&self.present)?,
            siblings: VariableList::new(self.carried.clone()).ok()?,
        })
    }
}

/// A bit list of `bits`; `None` past its limit.
pub fn bit_list<N: ssz_types::typenum::Unsigned + Clone>(bits: &[bool]) -> Option<BitList<N>> {
    let mut list = BitList::with_capacity(bits.len()).ok()?;
    for (position, &bit) in bits.iter().enumerate() {
        list.set(position, bit).ok()?;
    }
    Some(list)
}

/// What a multiproof carries: every sibling the walk asked for, in order, defaults included
/// (for a second walk over new leaves); one bit per sibling, carried (true) or an empty
/// subtree's hash (false); and the carried ones, encoded.
#[derive(Clone, Debug)]
pub struct MultiproofSiblings<N> {
    /// Every sibling, in order, defaults included.
    pub siblings: Vec<N>,
    /// One bit per sibling: carried (true) or an empty subtree's hash (false).
    pub present: Vec<bool>,
    /// The carried siblings, encoded, in order.
    pub carried: Vec<Hash32>,
}

impl<N: Copy + PartialEq> MultiproofSiblings<N> {
    fn new() -> Self {
        Self {
            siblings: Vec::new(),
            present: Vec::new(),
            carried: Vec::new(),
        }
    }

    /// Takes the next sibling, `hash` at `level`: left out if it is the level's empty hash.
    fn push<T: SparseTree<Node = N>>(&mut self, tree: &T, level: u8, hash: N) {
        let is_default = hash == tree.empty(level);
        self.present.push(!is_default);
        if !is_default {
            self.carried.push(tree.encode(&hash));
        }
        self.siblings.push(hash);
    }

    /// The Merkle witness of these siblings for `leaves`; `None` past a witness's limits.
    pub fn witness(&self, leaves: Vec<AccountLeaf>) -> Option<MerkleWitness> {
        Some(MerkleWitness {
            leaves: VariableList::new(leaves).ok()?,
            sibling_present: bit_list(&self.present)?,
            siblings: VariableList::new(self.carried.clone()).ok()?,
        })
    }
}

/// The siblings of the multiproof of `accounts` (strictly ascending) in `tree`, read from
/// `node_at` in the walk's order without hashing anything: [`write_multiproof`] but the root,
/// for a prover whose stored tree the verifier checks anyway (it recomputes the root from
/// these siblings and the leaves).
pub fn multiproof_siblings<T: SparseTree, E>(
    tree: &T,
    depth: u8,
    accounts: &[u64],
    mut node_at: impl FnMut(u8, u64) -> Result<T::Node, E>,
) -> Result<MultiproofSiblings<T::Node>, E> {
    let mut written = MultiproofSiblings::new();
    walk(
        depth,
        accounts.iter().map(|&account| (account, ())).collect(),
        (),
        |children, out| out.extend(children.iter().map(|_| ())),
        |level, index| {
            written.push(tree, level, node_at(level, index)?);
            Ok(())
        },
        |_, _, _| {},
    )?;
    Ok(written)
}

/// Writes the multiproof of `leaves` in `tree`: the one writer beside the reader
/// ([`read_multiproof`]). `node_at(level, index)` gives any node of the tree (the prover reads
/// its database, a test its full tree); a sibling equal to its level's empty hash is left out
/// (bit 0), any other carried (bit 1), in the walk's order.
pub fn write_multiproof<T: SparseTree, E>(
    tree: &T,
    depth: u8,
    leaves: Vec<(u64, T::Node)>,
    mut node_at: impl FnMut(u8, u64) -> Result<T::Node, E>,
) -> Result<WrittenMultiproof<T::Node>, E> {
    let mut written = MultiproofSiblings::new();
    let mut inner_nodes = 0usize;
    let root = tree_root(
        tree,
        depth,
        leaves,
        |level, index| {
            let hash = node_at(level, index)?;
            written.push(tree, level, hash);
            Ok(hash)
        },
        |_, _, _| inner_nodes = inner_nodes.saturating_add(1),
    )?;
    let MultiproofSiblings {
        siblings,
        present,
        carried,
    } = written;
    Ok(WrittenMultiproof {
        root,
        siblings,
        present,
        carried,
        inner_nodes,
    })
}

/// The one walk over a set of leaves ([`tree_root`] for a [`SparseTree`]), for any node type
/// and node hash, so every tree asks for siblings in the same canonical order.
///
/// `empty_root` is the root of the empty tree of `depth` levels, returned when `leaves` is
/// empty; `nodes(children, out)` hashes each `[left, right]` into its parent, appended to
/// `out`: a level's nodes at once, since none depends on another. Within a level, `sibling`
/// is asked for every missing sibling first, left to right, then `visit` is shown every parent.
pub fn walk<T: Copy, E>(
    depth: u8,
    leaves: Vec<(u64, T)>,
    empty_root: T,
    nodes: impl Fn(&[[T; 2]], &mut Vec<T>),
    mut sibling: impl FnMut(u8, u64) -> Result<T, E>,
    mut visit: impl FnMut(u8, u64, &T),
) -> Result<T, E> {
    let mut level_nodes = leaves;
    if level_nodes.is_empty() {
        return Ok(empty_root);
    }
    let mut children = Vec::with_capacity(level_nodes.len());
    let mut parent_indices = Vec::with_capacity(level_nodes.len());
    let mut parents = Vec::with_capacity(level_nodes.len());
    for level in 0..depth {
        children.clear();
        parent_indices.clear();
        let mut rest = level_nodes.as_slice();
        while let Some((&(index, hash), tail)) = rest.split_first() {
            let pair = match tail.first() {
                Some(&(right_index, right_hash)) if index & 1 == 0 && right_index == index | 1 => {
                    rest = tail.get(1..).unwrap_or_default();
                    [hash, right_hash]
                }
                _ => {
                    rest = tail;
                    let other = sibling(level, index ^ 1)?;
                    if index & 1 == 0 {
                        [hash, other]
                    } else {
                        [other, hash]
                    }
                }
            };
            children.push(pair);
            parent_indices.push(index >> 1);
        }
        parents.clear();
        nodes(&children, &mut parents);
        level_nodes.clear();
        for (&index, &parent) in parent_indices.iter().zip(&parents) {
            visit(level.saturating_add(1), index, &parent);
            level_nodes.push((index, parent));
        }
    }
    Ok(level_nodes
        .first()
        .map(|&(_, root)| root)
        .unwrap_or(empty_root))
}

/// Walks a multiproof: recomputes the root from `leaves` and a witness's sibling bitmap and
/// carried siblings, and returns it with every sibling used, in order, defaults included (for a
/// second walk over the new leaves). One definition for both models' trees.
///
/// Rejects a bitmap with more or fewer bits than siblings needed, a carried list that does not
/// match the bitmap, and a carried sibling equal to the default it could have been left out for.
/// Past the end of the bitmap or the carried list the walk goes on with defaults, so the error
/// can say how many positions were needed.
pub fn multiproof_root<T: Copy + PartialEq, E: From<Reason>>(
    depth: u8,
    leaves: Vec<(u64, T)>,
    empty_root: T,
    nodes: impl Fn(&[[T; 2]], &mut Vec<T>),
    default: impl Fn(u8) -> T,
    decode: impl Fn(&Hash32) -> Result<T, E>,
    witness: &MerkleWitness,
) -> Result<(T, Vec<T>), E> {
    let present = &witness.sibling_present;
    let carried = &witness.siblings;
    let mut used = Vec::with_capacity(present.len());
    let mut position = 0usize;
    let mut next_carried = 0usize;
    let root = walk(
        depth,
        leaves,
        empty_root,
        nodes,
        |level, _index| {
            let default = default(level);
            let hash = match (present.get(position), carried.get(next_carried)) {
                (Ok(true), Some(bytes)) => {
                    let hash = decode(bytes)?;
                    if hash == default {
                        return Err(E::from(Reason::DefaultSiblingCarried { position }));
                    }
                    next_carried = next_carried.saturating_add(1);
                    hash
                }
                (Ok(true), None) => {
                    next_carried = next_carried.saturating_add(1);
                    default
                }
                (Ok(false) | Err(_), _) => default,
            };
            position = position.saturating_add(1);
            used.push(hash);
            Ok(hash)
        },
        |_, _, _| {},
    )?;
    if position != present.len() {
        return Err(E::from(Reason::SiblingPositionsMismatch {
            expected: position,
            found: present.len(),
        }));
    }
    if next_carried != carried.len() || present.num_set_bits() != carried.len() {
        return Err(E::from(Reason::SiblingCountMismatch {
            expected: present.num_set_bits(),
            found: carried.len(),
        }));
    }
    Ok((root, used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::in_range;
    use crate::hash::{leaf_hash, node_hash};
    use crate::transfer::TRANSFER_TREE;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use witness_format::{AccountLeaf, PublicKey};

    /// The reference: a full tree over a plain map, hashed level by level with no shortcuts.
    fn oracle_root(depth: u8, accounts: &BTreeMap<u64, Hash32>) -> Hash32 {
        let mut level: Vec<Hash32> = (0..1u64 << depth)
            .map(|i| accounts.get(&i).copied().unwrap_or(Hash32::ZERO))
            .collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
        }
        level[0]
    }

    /// Hash of any node of the oracle tree.
    fn oracle_node(accounts: &BTreeMap<u64, Hash32>, level: u8, index: u64) -> Hash32 {
        if level == 0 {
            return accounts.get(&index).copied().unwrap_or(Hash32::ZERO);
        }
        node_hash(
            &oracle_node(accounts, level - 1, index * 2),
            &oracle_node(accounts, level - 1, index * 2 + 1),
        )
    }

    fn leaf(seed: u8) -> Hash32 {
        leaf_hash(&AccountLeaf {
            public_key: PublicKey::from([seed | 1; 32]),
            balance: u64::from(seed),
            nonce: 0,
        })
    }

    #[test]
    fn defaults_chain_up_from_zero() {
        let tree = &TRANSFER_TREE;
        assert_eq!(tree.empty(0), Hash32::ZERO);
        assert_eq!(tree.empty(1), node_hash(&Hash32::ZERO, &Hash32::ZERO));
        assert_eq!(tree.empty(5), oracle_root(5, &BTreeMap::new()));
    }

    #[test]
    fn range_check_matches_depth() {
        assert!(in_range(15, 4));
        assert!(!in_range(16, 4));
        assert!(in_range(u64::MAX, 64));
    }

    proptest! {
        /// Any subset of leaves, with siblings taken from the oracle, gives the oracle's root;
        /// and the siblings asked for are exactly the nodes not computable from that subset.
        #[test]
        fn matches_map_oracle(
            depth in 1u8..=8,
            entries in proptest::collection::btree_map(0u64..256, 0u8..255, 0..40),
            proven_mask in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let accounts: BTreeMap<u64, Hash32> = entries
                .iter()
                .filter(|(account, _)| in_range(**account, depth))
                .map(|(&account, &seed)| (account, leaf(seed)))
                .collect();
            // Prove a subset of the accounts, plus possibly empty slots (the mask picks).
            let proven: Vec<u64> = accounts
                .keys()
                .copied()
                .chain((0..1u64 << depth).step_by(7))
                .enumerate()
                .filter(|(i, _)| proven_mask[i % proven_mask.len()])
                .map(|(_, account)| account)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            prop_assume!(!proven.is_empty());
            let leaves: Vec<(u64, Hash32)> = proven
                .iter()
                .map(|&a| (a, accounts.get(&a).copied().unwrap_or(Hash32::ZERO)))
                .collect();
            let mut asked = Vec::new();
            let root = tree_root::<_, ()>(&TRANSFER_TREE, depth, leaves, |level, index| {
                asked.push((level, index));
                Ok(oracle_node(&accounts, level, index))
            }, |_, _, _| {})
            .unwrap();
            prop_assert_eq!(root, oracle_root(depth, &accounts));
            // No sibling asked for lies on a path of a proven leaf (it would be computable),
            // and none is asked twice.
            for &(level, index) in &asked {
                prop_assert!(!proven.iter().any(|&a| a >> level == index));
            }
            let unique: std::collections::BTreeSet<_> = asked.iter().collect();
            prop_assert_eq!(unique.len(), asked.len());
        }
    }
}
