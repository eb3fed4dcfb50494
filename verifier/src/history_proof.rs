//! Checking a [`HistoryProof`] against one trusted header, the tip, with no other data.
//!
//! ```text
//!   tip.history_root ── MMR path + other peaks ── anchor: leaf i (genesis, or header i)
//!                                                   │
//!                 header.blobs_root ── list path ── blob commitment ── its pre-image
//!                                                   │
//!        blob.transactions_root ── list path ── transaction hash ── the transaction
//!
//!   anchor's state root of a model ── sparse-tree path (bitmap + siblings) ── account leaf
//! ```
//!
//! Each step recomputes a root the step above commits to and compares, so what is returned
//! ([`ProvenFact`]) is exactly as trustworthy as the tip. Every shape is checked exactly (path
//! lengths, peak counts, indices below counts, no carried default siblings), so a proof has one
//! valid form and every rejection names its reason.

use thiserror::Error;
use witness_format::limits::MAX_TREE_DEPTH;
use witness_format::ssz_types::{BitList, VariableList};
use witness_format::{
    AccountFact, AccountLeaf, Anchor, BlobInclusion, Genesis, Hash32, Header, HistoryFact,
    HistoryProof, MerkleWitness, Model, Transaction, TransactionInclusion,
};

use crate::error::{Reason, VerifyError};
use crate::hash::{
    BLOBS_NODE_TAG, BLOBS_ROOT_TAG, ListPathError, TRANSACTIONS_NODE_TAG, TRANSACTIONS_ROOT_TAG,
    blob_commitment_of, genesis_hash, header_hash, leaf_hash, list_root_from_path, node_hash,
    transaction_hash,
};
use crate::history::{MmrProofError, root_from_proof};
use crate::tree::{DefaultHashes, in_range, multiproof_root};

/// What a valid history proof establishes about the tip's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProvenFact {
    /// The chain's genesis.
    Genesis {
        /// Its hash: leaf 0 of the history accumulator.
        hash: Hash32,
        /// The genesis.
        genesis: Genesis,
    },
    /// A header of the chain: the tip or one of its ancestors.
    Header {
        /// Its hash: leaf `header.height` of the history accumulator.
        hash: Hash32,
        /// The header.
        header: Header,
    },
    /// A blob of a block of the chain, by its commitment (the witness is not committed).
    Blob {
        /// The block's height.
        height: u64,
        /// The blob's index in the block.
        index: u64,
        /// The blob's commitment.
        commitment: Hash32,
        /// The blob's model.
        model: Model,
        /// The model's state root before the blob.
        pre_state_root: Hash32,
        /// The model's state root after the blob.
        post_state_root: Hash32,
        /// The root over the blob's transactions.
        transactions_root: Hash32,
    },
    /// A transaction of a blob of a block of the chain.
    Transaction {
        /// The block's height.
        height: u64,
        /// The blob's index in the block.
        blob: u64,
        /// The transaction's index in the blob.
        index: u64,
        /// The transaction's hash.
        hash: Hash32,
        /// The transaction.
        transaction: Transaction,
    },
    /// The leaf of an account of a model after a block (height 0: at genesis).
    Account {
        /// The height whose state it is.
        height: u64,
        /// The model.
        model: Model,
        /// The account number.
        account: u64,
        /// The account's leaf (empty if the slot held no account).
        leaf: AccountLeaf,
        /// The model's state root at that height.
        state_root: Hash32,
    },
}

/// Why a history proof is rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HistoryProofError {
    /// The proof was made for a tip of another height.
    #[error("proof is for a tip at height {proof}, the tip given is at height {tip}")]
    TipHeightMismatch {
        /// The proof's tip height.
        proof: u64,
        /// The given tip's height.
        tip: u64,
    },
    /// The anchor's height is above the tip's, or a header claims height 0 (the genesis's).
    #[error("height {height} is not in the history of a tip at height {tip}")]
    NotInHistory {
        /// The anchor's height.
        height: u64,
        /// The tip's height.
        tip: u64,
    },
    /// An anchor at the tip's own height is not the tip.
    #[error("anchor hash {found} at the tip's height is not the tip's hash {expected}")]
    NotTheTip {
        /// The tip's hash.
        expected: Hash32,
        /// The anchor's hash.
        found: Hash32,
    },
    /// The ancestry proof has the wrong shape.
    #[error("ancestry proof: {0}")]
    AncestryShape(#[from] MmrProofError),
    /// The anchor and the ancestry proof do not lead to the tip's history root: the anchor is
    /// not an ancestor of the tip (another chain, a fork) or the proof was altered.
    #[error("ancestry proof leads to history root {computed}, the tip commits to {expected}")]
    NotAnAncestor {
        /// The tip's history root.
        expected: Hash32,
        /// The root the proof leads to.
        computed: Hash32,
    },
    /// The blob's path has the wrong shape or its index is out of range.
    #[error("blob path: {0}")]
    BlobPath(ListPathError),
    /// The blob and its path do not lead to the header's blob root.
    #[error("blob path leads to blob root {computed}, the header commits to {expected}")]
    BlobsRootMismatch {
        /// The header's blob root.
        expected: Hash32,
        /// The root the path leads to.
        computed: Hash32,
    },
    /// The transaction's path has the wrong shape or its index is out of range.
    #[error("transaction path: {0}")]
    TransactionPath(ListPathError),
    /// The transaction and its path do not lead to the blob's transaction root.
    #[error(
        "transaction path leads to transaction root {computed}, the blob commits to {expected}"
    )]
    TransactionsRootMismatch {
        /// The blob's transaction root.
        expected: Hash32,
        /// The root the path leads to.
        computed: Hash32,
    },
    /// The anchor has no state root for the model.
    #[error("the anchor has no {model} state root")]
    UnknownModel {
        /// The model.
        model: Model,
    },
    /// The account path's bitmap does not have one bit per level of a valid tree.
    #[error("account path has {found} levels, not 1..={MAX_TREE_DEPTH}")]
    AccountPathDepth {
        /// Bits in the bitmap.
        found: usize,
    },
    /// The account number does not fit a tree of the path's depth.
    #[error("account {account} is outside a tree of depth {depth}")]
    AccountOutOfRange {
        /// The account number.
        account: u64,
        /// The depth.
        depth: u8,
    },
    /// An empty leaf (zero key) with a non-zero balance or nonce.
    #[error("account leaf has no owner but a non-zero balance or nonce")]
    NonCanonicalEmptyLeaf,
    /// The leaf and its path do not lead to the anchor's state root.
    #[error("account path leads to state root {computed}, the anchor commits to {expected}")]
    StateRootMismatch {
        /// The anchor's state root for the model.
        expected: Hash32,
        /// The root the path leads to.
        computed: Hash32,
    },
}

impl From<HistoryProofError> for VerifyError {
    fn from(error: HistoryProofError) -> Self {
        VerifyError::new(Reason::HistoryProof(error))
    }
}

/// Checks `proof` against the trusted header `tip` and returns what it proves.
///
/// Needs nothing but the two: no other header, no genesis, no state. Rejections carry the block
/// (the anchor's height), blob and transaction they concern, where the proof names them.
pub fn verify_history_proof(proof: &HistoryProof, tip: &Header) -> Result<ProvenFact, VerifyError> {
    if proof.tip_height != tip.height {
        return Err(HistoryProofError::TipHeightMismatch {
            proof: proof.tip_height,
            tip: tip.height,
        }
        .into());
    }
    match &proof.fact {
        HistoryFact::Anchor(anchor) => {
            let (_, hash) = check_anchor(proof, tip, anchor)?;
            Ok(match anchor {
                Anchor::Genesis(genesis) => ProvenFact::Genesis {
                    hash,
                    genesis: genesis.clone(),
                },
                Anchor::Header(header) => ProvenFact::Header {
                    hash,
                    header: header.clone(),
                },
            })
        }
        HistoryFact::Blob(fact) => {
            let header = &fact.header;
            check_header_anchor(proof, tip, header)?;
            let commitment = check_blob(header, &fact.blob)?;
            let blob = &fact.blob;
            Ok(ProvenFact::Blob {
                height: header.height,
                index: blob.index,
                commitment,
                model: blob.model,
                pre_state_root: blob.pre_state_root,
                post_state_root: blob.post_state_root,
                transactions_root: blob.transactions_root,
            })
        }
        HistoryFact::Transaction(fact) => {
            let header = &fact.header;
            check_header_anchor(proof, tip, header)?;
            check_blob(header, &fact.blob)?;
            let hash = check_transaction(&fact.blob, &fact.transaction)
                .map_err(|e| e.at_block(header.height).at_blob(to_usize(fact.blob.index)))?;
            Ok(ProvenFact::Transaction {
                height: header.height,
                blob: fact.blob.index,
                index: fact.transaction.index,
                hash,
                transaction: fact.transaction.transaction,
            })
        }
        HistoryFact::Account(fact) => {
            let (height, _) = check_anchor(proof, tip, &fact.anchor)?;
            let state_root = check_account(&fact.anchor, fact).map_err(|e| e.at_block(height))?;
            Ok(ProvenFact::Account {
                height,
                model: fact.model,
                account: fact.account,
                leaf: fact.leaf,
                state_root,
            })
        }
    }
}

/// [`check_anchor`] for a header: the anchors that have blocks.
fn check_header_anchor(
    proof: &HistoryProof,
    tip: &Header,
    header: &Header,
) -> Result<(), VerifyError> {
    check_leaf(proof, tip, header.height, header_hash(header), true)
        .map_err(|e| VerifyError::from(e).at_block(header.height))
}

/// Checks that the anchor is in the tip's chain; returns its height and hash.
fn check_anchor(
    proof: &HistoryProof,
    tip: &Header,
    anchor: &Anchor,
) -> Result<(u64, Hash32), VerifyError> {
    let (height, hash, is_header) = match anchor {
        Anchor::Genesis(genesis) => (0, genesis_hash(genesis), false),
        Anchor::Header(header) => (header.height, header_hash(header), true),
    };
    check_leaf(proof, tip, height, hash, is_header)
        .map_err(|e| VerifyError::from(e).at_block(height))?;
    Ok((height, hash))
}

/// Checks that `hash` is leaf `height` of the tip's history, or the tip itself at its height.
/// Leaf 0 is the genesis's: no header has height 0.
fn check_leaf(
    proof: &HistoryProof,
    tip: &Header,
    height: u64,
    hash: Hash32,
    is_header: bool,
) -> Result<(), HistoryProofError> {
    if height > tip.height || (is_header && height == 0) {
        return Err(HistoryProofError::NotInHistory {
            height,
            tip: tip.height,
        });
    }
    if height == tip.height {
        // The tip itself: nothing to walk, so nothing may be carried.
        if !proof.peak_path.is_empty() {
            return Err(MmrProofError::PathLength {
                expected: 0,
                found: proof.peak_path.len(),
            }
            .into());
        }
        if !proof.other_peaks.is_empty() {
            return Err(MmrProofError::PeakCount {
                expected: 0,
                found: proof.other_peaks.len(),
            }
            .into());
        }
        let expected = header_hash(tip);
        if hash != expected {
            return Err(HistoryProofError::NotTheTip {
                expected,
                found: hash,
            });
        }
        return Ok(());
    }
    let computed = root_from_proof(
        tip.height,
        height,
        &hash,
        &proof.peak_path,
        &proof.other_peaks,
    )?;
    if computed != tip.history_root {
        return Err(HistoryProofError::NotAnAncestor {
            expected: tip.history_root,
            computed,
        });
    }
    Ok(())
}

/// Checks the blob's path under the header's blob root; returns its commitment.
fn check_blob(header: &Header, blob: &BlobInclusion) -> Result<Hash32, VerifyError> {
    let at = |error: HistoryProofError| {
        VerifyError::from(error)
            .at_block(header.height)
            .at_blob(to_usize(blob.index))
    };
    let commitment = blob_commitment_of(
        blob.model,
        &blob.pre_state_root,
        &blob.post_state_root,
        &blob.transactions_root,
    );
    let computed = list_root_from_path(
        BLOBS_NODE_TAG,
        BLOBS_ROOT_TAG,
        &commitment,
        blob.index,
        blob.count,
        &blob.path,
    )
    .map_err(|e| at(HistoryProofError::BlobPath(e)))?;
    if computed != header.blobs_root {
        return Err(at(HistoryProofError::BlobsRootMismatch {
            expected: header.blobs_root,
            computed,
        }));
    }
    Ok(commitment)
}

/// Checks the transaction's path under the blob's transaction root; returns its hash.
fn check_transaction(
    blob: &BlobInclusion,
    transaction: &TransactionInclusion,
) -> Result<Hash32, VerifyError> {
    let at = |error: HistoryProofError| {
        VerifyError::from(error).at_transaction(to_usize(transaction.index))
    };
    let hash = transaction_hash(&transaction.transaction);
    let computed = list_root_from_path(
        TRANSACTIONS_NODE_TAG,
        TRANSACTIONS_ROOT_TAG,
        &hash,
        transaction.index,
        transaction.count,
        &transaction.path,
    )
    .map_err(|e| at(HistoryProofError::TransactionPath(e)))?;
    if computed != blob.transactions_root {
        return Err(at(HistoryProofError::TransactionsRootMismatch {
            expected: blob.transactions_root,
            computed,
        }));
    }
    Ok(hash)
}

/// Checks the account's leaf and path under the anchor's state root for the model; returns
/// that root.
fn check_account(anchor: &Anchor, fact: &AccountFact) -> Result<Hash32, VerifyError> {
    let roots = match anchor {
        Anchor::Genesis(genesis) => &genesis.state_roots,
        Anchor::Header(header) => &header.state_roots,
    };
    let expected = roots
        .iter()
        .find(|root| root.model == fact.model)
        .map(|root| root.root)
        .ok_or(HistoryProofError::UnknownModel { model: fact.model })?;
    let computed = account_root(fact)?;
    if computed != expected {
        return Err(HistoryProofError::StateRootMismatch { expected, computed }.into());
    }
    Ok(expected)
}

/// The state root an account's leaf and compressed path lead to.
///
/// The path is a multiproof of one leaf, read by the one multiproof reader
/// ([`multiproof_root`]): so the same bitmap rules hold (a carried default is
/// `DefaultSiblingCarried`, a carried list that does not match the bitmap
/// `SiblingCountMismatch`). The depth is the bitmap's length. It need not be trusted: leaves and
/// inner nodes hash under different domain bytes, so a path of another depth than the tree's
/// cannot reach its root.
fn account_root(fact: &AccountFact) -> Result<Hash32, VerifyError> {
    let present = &fact.sibling_present;
    let bad_depth = || HistoryProofError::AccountPathDepth {
        found: present.len(),
    };
    let depth = u8::try_from(present.len())
        .ok()
        .filter(|depth| (1..=MAX_TREE_DEPTH).contains(depth))
        .ok_or_else(bad_depth)?;
    if !in_range(fact.account, depth) {
        return Err(HistoryProofError::AccountOutOfRange {
            account: fact.account,
            depth,
        }
        .into());
    }
    if fact.leaf.is_empty() && fact.leaf != AccountLeaf::EMPTY {
        return Err(HistoryProofError::NonCanonicalEmptyLeaf.into());
    }
    // The path as a witness of one leaf (its leaves are not read: the leaf is given below).
    // At most 64 bits and hashes, far within a witness's limits.
    let mut sibling_present = BitList::with_capacity(present.len()).map_err(|_| bad_depth())?;
    for (position, bit) in present.iter().enumerate() {
        sibling_present
            .set(position, bit)
            .map_err(|_| bad_depth())?;
    }
    let witness = MerkleWitness {
        leaves: VariableList::empty(),
        sibling_present,
        siblings: VariableList::new(fact.siblings.to_vec()).map_err(|_| bad_depth())?,
    };
    let defaults = DefaultHashes::new();
    let (root, _) = multiproof_root::<Hash32, VerifyError>(
        depth,
        vec![(fact.account, leaf_hash(&fact.leaf))],
        defaults.at(depth),
        node_hash,
        |level| defaults.at(level),
        |hash| Ok(*hash),
        &witness,
    )?;
    Ok(root)
}

/// An index from the wire as a location; past `usize` it saturates (only in messages).
fn to_usize(index: u64) -> usize {
    usize::try_from(index).unwrap_or(usize::MAX)
}
