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
        let mut node = (0u32, leaf);
        while let Some(&(height, left)) = self.peaks.last() {
            if height != node.0 {
                break;
            }
            self.peaks.pop();
            node = (
                height.saturating_add(1),
                tagged_hash(HISTORY_NODE_TAG, &[&left.0, &node.1.0]),
            );
        }
        self.peaks.push(node);
        self.count = self.count.saturating_add(1);
    }

    /// The root: the count and all peaks, hashed together.
    pub fn root(&self) -> Hash32 {
        let count = self.count.to_le_bytes();
        let mut parts: Vec<&[u8]> = Vec::with_capacity(self.peaks.len().saturating_add(1));
        parts.push(&count);
        parts.extend(self.peaks.iter().map(|(_, hash)| hash.0.as_slice()));
        tagged_hash(HISTORY_ROOT_TAG, &parts)
    }
}

/// The root over a block's blob commitments, in order (see [`list_root`]).
pub fn blobs_root(commitments: &[Hash32]) -> Hash32 {
    list_root(BLOBS_NODE_TAG, BLOBS_ROOT_TAG, commitments)
}

#[cfg(test)]
mod tests {
    use super::*;

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
