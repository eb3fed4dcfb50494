//! Ancestry proofs from an in-memory history accumulator that keeps every node.
//!
//! The prover reads accumulator nodes from its database; tools that have only a chain directory
//! (`stateless history span`) and benchmarks that build a synthetic history need the same proofs
//! with no database. [`AncestryTree`] appends leaves with
//! [`HistoryAccumulator::append_visiting`] and stores every node it reports, level by level, so
//! a proof is read with [`proof_nodes`], the one definition of which nodes a proof holds.
//!
//! Memory is two hashes per leaf (a perfect tree over n leaves has 2n - 1 nodes): 64 MiB for
//! 2^20 headers.

use witness_format::ssz_types::VariableList;
use witness_format::{Anchor, Hash32, HistoryFact, HistoryProof};

use crate::accumulator::{HistoryAccumulator, NodeName, proof_nodes};

/// A history accumulator that keeps all its nodes, to prove any leaf's ancestry.
#[derive(Clone, Debug, Default)]
pub struct AncestryTree {
    accumulator: HistoryAccumulator,
    /// `levels[h][k]` is node `(h, k)`: `append_visiting` creates each level's nodes in index
    /// order, so pushing keeps them addressable by index.
    levels: Vec<Vec<Hash32>>,
}

impl AncestryTree {
    /// The empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one header hash (the genesis hash first).
    pub fn append(&mut self, leaf: Hash32) {
        let levels = &mut self.levels;
        self.accumulator.append_visiting(leaf, |height, _, node| {
            let height = height as usize;
            if levels.len() <= height {
                levels.resize_with(height.saturating_add(1), Vec::new);
            }
            if let Some(level) = levels.get_mut(height) {
                level.push(*node);
            }
        });
    }

    /// Number of leaves appended.
    pub fn count(&self) -> u64 {
        self.accumulator.count()
    }

    /// The accumulator's root: the history root of a header at height [`count`](Self::count).
    pub fn root(&self) -> Hash32 {
        self.accumulator.root()
    }

    fn node(&self, (height, index): NodeName) -> Option<Hash32> {
        let index = usize::try_from(index).ok()?;
        self.levels.get(height as usize)?.get(index).copied()
    }

    /// The inclusion proof of leaf `index`: the path up to its peak, bottom up, and the other
    /// peaks, highest first (as [`crate::accumulator::root_from_proof`] takes them); `None` if
    /// there is no such leaf.
    pub fn proof(&self, index: u64) -> Option<(Vec<Hash32>, Vec<Hash32>)> {
        let names = proof_nodes(self.count(), index)?;
        let read = |names: &[NodeName]| -> Option<Vec<Hash32>> {
            names.iter().map(|&name| self.node(name)).collect()
        };
        Some((read(&names.path)?, read(&names.other_peaks)?))
    }

    /// A [`HistoryProof`] that `anchor` is in the history of a tip at height
    /// [`count`](Self::count): an ancestor (a leaf of this accumulator, at the anchor's height)
    /// or the tip itself (a header at height `count`, with nothing carried). `None` if the
    /// anchor's height is above the tip's.
    pub fn anchor_proof(&self, anchor: Anchor) -> Option<HistoryProof> {
        let tip_height = self.count();
        let height = match &anchor {
            Anchor::Genesis(_) => 0,
            Anchor::Header(header) => header.height,
        };
        let (path, others) = if height == tip_height {
            (Vec::new(), Vec::new())
        } else {
            self.proof(height)?
        };
        Some(HistoryProof {
            tip_height,
            peak_path: VariableList::new(path).ok()?,
            other_peaks: VariableList::new(others).ok()?,
            fact: HistoryFact::Anchor(anchor),
        })
    }
}

#[cfg(any(test, feature = "testing"))]
pub use synthetic::{MAX_SYNTHETIC_LOG2, synthetic_history};

/// Synthetic histories for measuring ancestry proofs (feature `testing`).
#[cfg(any(test, feature = "testing"))]
mod synthetic {
    use super::*;
    use crate::hash::{header_hash, tagged_hash};
    use witness_format::{Header, Model, ModelRoot};

    /// The largest synthetic history [`synthetic_history`] builds: 2^28 headers back, whose nodes
    /// take 16 GiB.
    pub const MAX_SYNTHETIC_LOG2: u32 = 28;

    /// A synthetic history for measuring ancestry proofs (`benches/ancestry.rs`,
    /// `stateless bench --history`), built as the prover builds its table: an accumulator over
    /// `2^log2_back + 1` leaves (leaf 0 stands for the genesis hash, leaf 1 is the hash of a header
    /// at height 1, the others are distinct synthetic hashes), a tip header at height
    /// `2^log2_back + 1` carrying its root, and the proof that header 1, `2^log2_back` blocks back,
    /// is an ancestor of the tip.
    ///
    /// Returns the tip, the proof, and the header proven. `None` for `log2_back` above
    /// [`MAX_SYNTHETIC_LOG2`].
    pub fn synthetic_history(log2_back: u32) -> Option<(Header, HistoryProof, Header)> {
        if log2_back > MAX_SYNTHETIC_LOG2 {
            return None;
        }
        let count = 1u64.checked_shl(log2_back)?.checked_add(1)?;
        let ancestor = synthetic_header(1, tagged_hash(0xf0, &[b"history root of block 1"]));
        let mut tree = AncestryTree::new();
        for leaf in 0..count {
            tree.append(match leaf {
                1 => header_hash(&ancestor),
                _ => tagged_hash(0xfe, &[&leaf.to_le_bytes()]),
            });
        }
        let tip = synthetic_header(count, tree.root());
        let proof = tree.anchor_proof(Anchor::Header(ancestor.clone()))?;
        Some((tip, proof, ancestor))
    }

    /// A header with every field filled, at `height`.
    fn synthetic_header(height: u64, history_root: Hash32) -> Header {
        let filler = |tag: u8| tagged_hash(tag, &[&height.to_le_bytes()]);
        Header {
            height,
            parent_hash: filler(0xf1),
            history_root,
            blobs_root: filler(0xf2),
            state_roots: VariableList::new(vec![ModelRoot {
                model: Model::Transfer,
                root: filler(0xf3),
            }])
            .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accumulator::root_from_proof;
    use crate::hash::{header_hash, tagged_hash};

    fn leaf(i: u64) -> Hash32 {
        tagged_hash(0xfe, &[&i.to_le_bytes()])
    }

    #[test]
    fn every_leaf_proves_against_the_root() {
        for count in 1..=40u64 {
            let mut tree = AncestryTree::new();
            (0..count).for_each(|i| tree.append(leaf(i)));
            assert_eq!(tree.count(), count);
            for index in 0..count {
                let (path, others) = tree.proof(index).unwrap();
                assert_eq!(
                    root_from_proof(count, index, &leaf(index), &path, &others),
                    Ok(tree.root()),
                    "leaf {index} of {count}"
                );
            }
            assert_eq!(tree.proof(count), None);
        }
    }

    #[test]
    fn the_synthetic_history_proves_its_header() {
        let (tip, proof, ancestor) = synthetic_history(10).unwrap();
        assert_eq!(tip.height, 1025);
        assert_eq!(proof.peak_path.len() + proof.other_peaks.len(), 11);
        assert_eq!(
            crate::verify_history_proof(&proof, &tip),
            Ok(crate::ProvenFact::Header {
                hash: header_hash(&ancestor),
                header: ancestor
            })
        );
        assert!(synthetic_history(MAX_SYNTHETIC_LOG2 + 1).is_none());
    }
}
