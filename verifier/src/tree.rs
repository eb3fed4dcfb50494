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
//! [`compute_root`] is the one walk over a set of leaves. It asks for siblings in the canonical
//! multiproof order: level by level from the leaves up, left to right within a level, and only for
//! siblings it cannot compute from the leaves given. The verifier answers from the witness, the
//! prover from its database, so both agree on the order by construction.

use witness_format::limits::MAX_TREE_DEPTH;
use witness_format::{Hash32, MerkleWitness};

use crate::error::Reason;
use crate::hash::node_hash;

/// `DEFAULT[l]`: the hash of an empty subtree of height `l`, for every possible depth.
#[derive(Clone, Debug)]
pub struct DefaultHashes {
    by_level: Vec<Hash32>,
}

impl DefaultHashes {
    /// Computes the default hashes of all levels up to [`MAX_TREE_DEPTH`].
    pub fn new() -> Self {
        let mut by_level = Vec::with_capacity(usize::from(MAX_TREE_DEPTH) + 1);
        let mut current = Hash32::ZERO;
        by_level.push(current);
        for _ in 0..MAX_TREE_DEPTH {
            current = node_hash(&current, &current);
            by_level.push(current);
        }
        Self { by_level }
    }

    /// The hash of an empty subtree of height `level`. Levels past [`MAX_TREE_DEPTH`] have no
    /// default; they answer the zero hash, and no valid tree reaches them.
    pub fn at(&self, level: u8) -> Hash32 {
        self.by_level
            .get(usize::from(level))
            .copied()
            .unwrap_or(Hash32::ZERO)
    }
}

impl Default for DefaultHashes {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `account` is a leaf of a tree of `depth` levels.
pub fn in_range(account: u64, depth: u8) -> bool {
    depth >= 64 || account >> depth == 0
}

/// Computes the root of a tree of `depth` levels from some of its leaves.
///
/// `leaves` holds `(account, leaf hash)` pairs in strictly ascending account order, all within
/// the tree. Every other hash needed is requested from `sibling(level, index)`, in canonical
/// order. An empty `leaves` gives the empty tree's root without asking for anything.
pub fn compute_root<E>(
    depth: u8,
    leaves: Vec<(u64, Hash32)>,
    defaults: &DefaultHashes,
    sibling: impl FnMut(u8, u64) -> Result<Hash32, E>,
) -> Result<Hash32, E> {
    compute_root_visiting(depth, leaves, defaults, sibling, |_, _, _| {})
}

/// [`compute_root`], also handing every inner node it computes to `visit(level, index, hash)`,
/// level 1 upwards; the prover stores them.
pub fn compute_root_visiting<E>(
    depth: u8,
    leaves: Vec<(u64, Hash32)>,
    defaults: &DefaultHashes,
    sibling: impl FnMut(u8, u64) -> Result<Hash32, E>,
    visit: impl FnMut(u8, u64, &Hash32),
) -> Result<Hash32, E> {
    walk(depth, leaves, defaults.at(depth), node_hash, sibling, visit)
}

/// The one walk behind [`compute_root_visiting`], for any node type and node hash: the SHA3
/// tree of the `transfer` model passes [`node_hash`], the Poseidon tree of `zk-transfer` its
/// own (see `crate::zk_transfer`). Both therefore ask for siblings in the same canonical order.
///
/// `empty_root` is the root of the empty tree of `depth` levels, returned when `leaves` is
/// empty; `node(left, right)` hashes two children into their parent.
pub fn walk<T: Copy, E>(
    depth: u8,
    leaves: Vec<(u64, T)>,
    empty_root: T,
    node: impl Fn(&T, &T) -> T,
    mut sibling: impl FnMut(u8, u64) -> Result<T, E>,
    mut visit: impl FnMut(u8, u64, &T),
) -> Result<T, E> {
    let mut nodes = leaves;
    if nodes.is_empty() {
        return Ok(empty_root);
    }
    let mut parents = Vec::with_capacity(nodes.len());
    for level in 0..depth {
        parents.clear();
        let mut rest = nodes.as_slice();
        while let Some((&(index, hash), tail)) = rest.split_first() {
            let parent = match tail.first() {
                Some(&(right_index, right_hash)) if index & 1 == 0 && right_index == index | 1 => {
                    rest = tail.get(1..).unwrap_or_default();
                    node(&hash, &right_hash)
                }
                _ => {
                    rest = tail;
                    let other = sibling(level, index ^ 1)?;
                    if index & 1 == 0 {
                        node(&hash, &other)
                    } else {
                        node(&other, &hash)
                    }
                }
            };
            visit(level.saturating_add(1), index >> 1, &parent);
            parents.push((index >> 1, parent));
        }
        std::mem::swap(&mut nodes, &mut parents);
    }
    Ok(nodes.first().map(|&(_, root)| root).unwrap_or(empty_root))
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
    node: impl Fn(&T, &T) -> T,
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
        node,
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
    use crate::hash::leaf_hash;
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
        let defaults = DefaultHashes::new();
        assert_eq!(defaults.at(0), Hash32::ZERO);
        assert_eq!(defaults.at(1), node_hash(&Hash32::ZERO, &Hash32::ZERO));
        assert_eq!(defaults.at(5), oracle_root(5, &BTreeMap::new()));
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
            let defaults = DefaultHashes::new();
            let mut asked = Vec::new();
            let root = compute_root::<()>(depth, leaves, &defaults, |level, index| {
                asked.push((level, index));
                Ok(oracle_node(&accounts, level, index))
            })
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
