//! Commitments over a chain's structure: the history accumulator and the blob root.
//!
//! The history accumulator is a Merkle Mountain Range over header hashes: a list of perfect
//! binary trees ("peaks") of strictly decreasing height, like the binary digits of the count.
//!
//! ```text
//!   count = 6 = 0b110          p0 (height 2)            p1 (height 1)
//!                             /          \               /      \
//!                           n             n            h4        h5
//!                          / \           / \
//!                        h0   h1       h2   h3
//!   root = H(HISTORY_ROOT_TAG || count || p0 || p1)
//! ```
//!
//! Appending merges equal-height peaks, so it costs O(log n) hashes and the accumulator keeps
//! O(log n) hashes of state.
//!
//! Nodes are named `(height, index)`: node `(h, k)` is the root of the perfect tree over leaves
//! `k·2^h .. (k+1)·2^h`, so leaf `i` is `(0, i)` and its ancestor at height `h` is `(h, i >> h)`.
//! A leaf's inclusion proof is the sibling of each of its ancestors below its peak, bottom up,
//! and the other peaks ([`root_from_proof`]): O(log n) hashes.

use thiserror::Error;
use witness_format::Hash32;

use crate::hash::{
    BLOBS_NODE_TAG, BLOBS_ROOT_TAG, HISTORY_NODE_TAG, HISTORY_ROOT_TAG, list_root, tagged_hash,
};

/// A Merkle Mountain Range over header hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryAccumulator {
    count: u64,
    /// `(height, hash)` of each peak, highest first.
    peaks: Vec<(u32, Hash32)>,
}

impl HistoryAccumulator {
    /// The empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of hashes appended.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Appends one header hash.
    pub fn append(&mut self, leaf: Hash32) {
        self.append_visiting(leaf, |_, _, _| {});
    }

    /// [`append`](Self::append), also handing every node it creates to
    /// `visit(height, index, hash)`: the leaf `(0, count)` first, then each merged node up to the
    /// new peak. The prover stores them, so that it can prove any leaf later without
    /// recomputing from all the leaves.
    pub fn append_visiting(&mut self, leaf: Hash32, mut visit: impl FnMut(u32, u64, &Hash32)) {
        let mut index = self.count;
        let mut node = (0u32, leaf);
        visit(0, index, &leaf);
        while let Some(&(height, left)) = self.peaks.last() {
            if height != node.0 {
                break;
            }
            self.peaks.pop();
            node = (height.saturating_add(1), node_hash(&left, &node.1));
            index >>= 1;
            visit(node.0, index, &node.1);
        }
        self.peaks.push(node);
        self.count = self.count.saturating_add(1);
    }

    /// The root: the count and all peaks, hashed together.
    pub fn root(&self) -> Hash32 {
        bag_peaks(self.count, self.peaks.iter().map(|(_, hash)| hash))
    }
}

/// Hash of an inner node of the accumulator.
fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    tagged_hash(HISTORY_NODE_TAG, &[&left.0, &right.0])
}

/// The root over `count` leaves whose peaks, highest first, are `peaks`.
fn bag_peaks<'a>(count: u64, peaks: impl Iterator<Item = &'a Hash32>) -> Hash32 {
    let count = count.to_le_bytes();
    let mut parts: Vec<&[u8]> = vec![&count];
    parts.extend(peaks.map(|hash| hash.0.as_slice()));
    tagged_hash(HISTORY_ROOT_TAG, &parts)
}

/// One peak of an accumulator over some count of leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peak {
    /// Its position among the peaks, highest first.
    pub position: usize,
    /// Its height: it is the root over `2^height` leaves.
    pub height: u32,
    /// The first of its leaves. It is a multiple of `2^height`, so the peak is node
    /// `(height, first_leaf >> height)`.
    pub first_leaf: u64,
}

impl Peak {
    /// The peak's node index at its height.
    pub fn index(&self) -> u64 {
        self.first_leaf.checked_shr(self.height).unwrap_or(0)
    }
}

/// The peaks of an accumulator over `count` leaves, highest first: one per set bit of `count`.
pub fn peaks(count: u64) -> impl Iterator<Item = Peak> {
    (0..u64::BITS)
        .rev()
        .filter(move |&height| count.checked_shr(height).unwrap_or(0) & 1 == 1)
        .enumerate()
        .map(move |(position, height)| Peak {
            position,
            height,
            // The leaves before this peak are the higher set bits of `count`.
            first_leaf: clear_low_bits(count, height.saturating_add(1)),
        })
}

/// `value` with its `bits` lowest bits cleared (all of them for 64 or more).
fn clear_low_bits(value: u64, bits: u32) -> u64 {
    value
        .checked_shr(bits)
        .and_then(|high| high.checked_shl(bits))
        .unwrap_or(0)
}

/// The peak whose tree holds leaf `index` of an accumulator over `count` leaves, if any.
pub fn peak_of(count: u64, index: u64) -> Option<Peak> {
    if index >= count {
        return None;
    }
    peaks(count).find(|peak| {
        index
            .checked_sub(peak.first_leaf)
            .is_some_and(|offset| offset.checked_shr(peak.height).unwrap_or(0) == 0)
    })
}

/// A node of the accumulator: `(height, index)`, the root over leaves
/// `index·2^height .. (index+1)·2^height`.
pub type NodeName = (u32, u64);

/// The nodes whose hashes make one leaf's inclusion proof, in the order [`root_from_proof`]
/// takes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofNodes {
    /// The sibling of each of the leaf's ancestors below its peak, bottom up.
    pub path: Vec<NodeName>,
    /// Every other peak, highest first.
    pub other_peaks: Vec<NodeName>,
}

/// The nodes that make the inclusion proof of leaf `index` in an accumulator over `count`
/// leaves; `None` if there is no such leaf.
///
/// The prover reads them from its store: the walk is defined once, here, next to the check.
pub fn proof_nodes(count: u64, index: u64) -> Option<ProofNodes> {
    let peak = peak_of(count, index)?;
    let path = (0..peak.height)
        .map(|height| (height, index.checked_shr(height).unwrap_or(0) ^ 1))
        .collect();
    let other_peaks = peaks(count)
        .filter(|other| other.position != peak.position)
        .map(|other| (other.height, other.index()))
        .collect();
    Some(ProofNodes { path, other_peaks })
}

/// Why an inclusion proof does not fit the accumulator.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum MmrProofError {
    /// The leaf index is not below the count.
    #[error("leaf {index} is not among the {count} leaves")]
    LeafOutOfRange {
        /// The leaf index.
        index: u64,
        /// The count.
        count: u64,
    },
    /// The path is not as long as the leaf's peak is high.
    #[error("path to the peak has {found} hashes, the leaf's peak is {expected} high")]
    PathLength {
        /// The peak's height.
        expected: u32,
        /// Hashes in the path.
        found: usize,
    },
    /// The other peaks are not one fewer than the count's peaks.
    #[error("{found} other peaks, the count has {expected} besides the leaf's")]
    PeakCount {
        /// Peaks of the count, less the leaf's.
        expected: u32,
        /// Peaks carried.
        found: usize,
    },
}

/// The root of an accumulator over `count` leaves whose leaf `index` is `leaf`, from the leaf's
/// inclusion proof: `path`, the sibling of each of the leaf's ancestors below its peak, bottom
/// up; and `other_peaks`, every other peak, highest first.
///
/// Shapes are checked exactly (one hash per level, one per other peak), so a proof has one
/// form; the caller compares the root with the one it trusts.
pub fn root_from_proof(
    count: u64,
    index: u64,
    leaf: &Hash32,
    path: &[Hash32],
    other_peaks: &[Hash32],
) -> Result<Hash32, MmrProofError> {
    let peak = peak_of(count, index).ok_or(MmrProofError::LeafOutOfRange { index, count })?;
    if path.len() != peak.height as usize {
        return Err(MmrProofError::PathLength {
            expected: peak.height,
            found: path.len(),
        });
    }
    let others = count.count_ones().saturating_sub(1);
    if other_peaks.len() != others as usize {
        return Err(MmrProofError::PeakCount {
            expected: others,
            found: other_peaks.len(),
        });
    }
    let mut node = *leaf;
    for (height, sibling) in (0u32..).zip(path) {
        node = if index.checked_shr(height).unwrap_or(0) & 1 == 0 {
            node_hash(&node, sibling)
        } else {
            node_hash(sibling, &node)
        };
    }
    let (higher, lower) = other_peaks.split_at(peak.position.min(other_peaks.len()));
    Ok(bag_peaks(
        count,
        higher.iter().chain(std::iter::once(&node)).chain(lower),
    ))
}

/// The root over a block's blob commitments, in order (see [`list_root`]).
pub fn blobs_root(commitments: &[Hash32]) -> Hash32 {
    list_root(BLOBS_NODE_TAG, BLOBS_ROOT_TAG, commitments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn h(byte: u8) -> Hash32 {
        Hash32::from([byte; 32])
    }

    fn node(left: Hash32, right: Hash32) -> Hash32 {
        tagged_hash(HISTORY_NODE_TAG, &[&left.0, &right.0])
    }

    #[test]
    fn accumulator_matches_the_diagram() {
        let mut acc = HistoryAccumulator::new();
        for i in 0..6 {
            acc.append(h(i));
        }
        let p0 = node(node(h(0), h(1)), node(h(2), h(3)));
        let p1 = node(h(4), h(5));
        let expected = tagged_hash(HISTORY_ROOT_TAG, &[&6u64.to_le_bytes(), &p0.0, &p1.0]);
        assert_eq!(acc.root(), expected);
        assert_eq!(acc.count(), 6);
    }

    #[test]
    fn accumulator_root_depends_on_every_leaf_and_order() {
        let roots = |leaves: &[u8]| {
            let mut acc = HistoryAccumulator::new();
            leaves.iter().for_each(|&b| acc.append(h(b)));
            acc.root()
        };
        assert_ne!(roots(&[1, 2, 3]), roots(&[1, 3, 2]));
        assert_ne!(roots(&[1, 2, 3]), roots(&[1, 2, 4]));
        assert_ne!(roots(&[1, 2]), roots(&[1, 2, 0]));
    }

    /// Every node `append_visiting` reports, by name.
    fn build(count: u64) -> (HistoryAccumulator, HashMap<(u32, u64), Hash32>) {
        let mut acc = HistoryAccumulator::new();
        let mut nodes = HashMap::new();
        for i in 0..count {
            acc.append_visiting(leaf(i), |height, index, hash| {
                assert!(
                    nodes.insert((height, index), *hash).is_none(),
                    "node written twice"
                );
            });
        }
        (acc, nodes)
    }

    fn leaf(i: u64) -> Hash32 {
        tagged_hash(0xff, &[&i.to_le_bytes()])
    }

    fn prove(
        nodes: &HashMap<(u32, u64), Hash32>,
        count: u64,
        index: u64,
    ) -> (Vec<Hash32>, Vec<Hash32>) {
        let names = proof_nodes(count, index).unwrap();
        (
            names.path.iter().map(|name| nodes[name]).collect(),
            names.other_peaks.iter().map(|name| nodes[name]).collect(),
        )
    }

    #[test]
    fn peaks_follow_the_binary_digits() {
        let found: Vec<(u32, u64)> = peaks(6).map(|p| (p.height, p.first_leaf)).collect();
        assert_eq!(found, [(2, 0), (1, 4)]);
        let found: Vec<(u32, u64, u64)> = peaks(13)
            .map(|p| (p.height, p.first_leaf, p.index()))
            .collect();
        assert_eq!(found, [(3, 0, 0), (2, 8, 2), (0, 12, 12)]);
        assert_eq!(peaks(0).count(), 0);
        assert_eq!(peaks(u64::MAX).count(), 64);
        let last = peaks(u64::MAX).last().unwrap();
        assert_eq!((last.height, last.first_leaf), (0, u64::MAX - 1));
        assert_eq!(peak_of(6, 5).map(|p| p.position), Some(1));
        assert_eq!(peak_of(6, 6), None);
        assert_eq!(peak_of(u64::MAX, u64::MAX - 1).map(|p| p.height), Some(0));
        assert_eq!(peak_of(u64::MAX, 0).map(|p| p.height), Some(63));
    }

    /// The nodes `append_visiting` reports are the tree's: each inner node hashes its children,
    /// and the peaks among them bag to the root.
    #[test]
    fn visited_nodes_are_the_trees() {
        let (acc, nodes) = build(11);
        assert_eq!(nodes.len(), 11 + 5 + 2 + 1);
        for (&(height, index), hash) in &nodes {
            if height > 0 {
                let left = nodes[&(height - 1, index * 2)];
                let right = nodes[&(height - 1, index * 2 + 1)];
                assert_eq!(*hash, node(left, right));
            }
        }
        let peak_hashes: Vec<Hash32> = peaks(11).map(|p| nodes[&(p.height, p.index())]).collect();
        assert_eq!(acc.root(), bag_peaks(11, peak_hashes.iter()));
    }

    #[test]
    fn every_leaf_of_small_counts_proves() {
        for count in 1..=33 {
            let (acc, nodes) = build(count);
            for index in 0..count {
                let (path, others) = prove(&nodes, count, index);
                assert_eq!(
                    root_from_proof(count, index, &leaf(index), &path, &others),
                    Ok(acc.root()),
                    "leaf {index} of {count}"
                );
            }
        }
    }

    #[test]
    fn malformed_proofs_are_rejected() {
        let (acc, nodes) = build(13);
        let (path, others) = prove(&nodes, 13, 9);
        assert_eq!(path.len(), 2);
        assert_eq!(others.len(), 2);
        let root = acc.root();
        assert_eq!(root_from_proof(13, 9, &leaf(9), &path, &others), Ok(root));
        assert_eq!(
            root_from_proof(13, 13, &leaf(9), &path, &others),
            Err(MmrProofError::LeafOutOfRange {
                index: 13,
                count: 13
            })
        );
        assert_eq!(
            root_from_proof(13, 9, &leaf(9), &path[..1], &others),
            Err(MmrProofError::PathLength {
                expected: 2,
                found: 1
            })
        );
        let longer: Vec<Hash32> = path.iter().copied().chain([leaf(0)]).collect();
        assert_eq!(
            root_from_proof(13, 9, &leaf(9), &longer, &others),
            Err(MmrProofError::PathLength {
                expected: 2,
                found: 3
            })
        );
        assert_eq!(
            root_from_proof(13, 9, &leaf(9), &path, &others[..1]),
            Err(MmrProofError::PeakCount {
                expected: 2,
                found: 1
            })
        );
        // Same shapes, other content: another root.
        assert_ne!(root_from_proof(13, 9, &leaf(8), &path, &others), Ok(root));
        assert_ne!(root_from_proof(13, 8, &leaf(9), &path, &others), Ok(root));
        assert_ne!(
            root_from_proof(14, 9, &leaf(9), &path, &[others[0], others[1]]),
            Ok(root)
        );
        let swapped = [others[1], others[0]];
        assert_ne!(root_from_proof(13, 9, &leaf(9), &path, &swapped), Ok(root));
        let mut bad = path.clone();
        bad[1].0[31] ^= 0x80;
        assert_ne!(root_from_proof(13, 9, &leaf(9), &bad, &others), Ok(root));
    }

    /// The example of docs/FORMAT.md section 10, against the history root of section 9.F.
    #[test]
    fn documented_example() {
        let root = root_from_proof(3, 1, &h(1), &[h(0)], &[h(2)]).unwrap();
        assert_eq!(
            hex::encode(root.0),
            "920abf0023dbb332dde3da05d4e00e77d5308595a8d0355404d5c94acf1853b6"
        );
        let names = proof_nodes(3, 1).unwrap();
        assert_eq!(names.path, [(0, 0)]);
        assert_eq!(names.other_peaks, [(0, 2)]);
    }

    proptest! {
        /// For any count and any leaf of it, the proof from the stored nodes gives the
        /// accumulator's root, and a different leaf hash does not.
        #[test]
        fn proofs_verify_for_random_counts(count in 1u64..600, pick in any::<u64>()) {
            let (acc, nodes) = build(count);
            let index = pick % count;
            let (path, others) = prove(&nodes, count, index);
            prop_assert_eq!(path.len() as u32, peak_of(count, index).unwrap().height);
            prop_assert!(path.len() + others.len() <= 2 * (64 - count.leading_zeros() as usize));
            prop_assert_eq!(
                root_from_proof(count, index, &leaf(index), &path, &others),
                Ok(acc.root())
            );
            prop_assert_ne!(
                root_from_proof(count, index, &leaf(index + 1), &path, &others),
                Ok(acc.root())
            );
        }
    }

    #[test]
    fn blobs_root_binds_count_and_order() {
        assert_ne!(blobs_root(&[h(1), h(2)]), blobs_root(&[h(2), h(1)]));
        assert_ne!(blobs_root(&[h(1)]), blobs_root(&[h(1), Hash32::ZERO]));
        assert_ne!(blobs_root(&[]), blobs_root(&[Hash32::ZERO]));
        let three = blobs_root(&[h(1), h(2), h(3)]);
        let l = tagged_hash(BLOBS_NODE_TAG, &[&h(1).0, &h(2).0]);
        let r = tagged_hash(BLOBS_NODE_TAG, &[&h(3).0, &Hash32::ZERO.0]);
        let top = tagged_hash(BLOBS_NODE_TAG, &[&l.0, &r.0]);
        assert_eq!(
            three,
            tagged_hash(BLOBS_ROOT_TAG, &[&3u64.to_le_bytes(), &top.0])
        );
    }
}
