//! The execution models a chain can host: the interface every model implements
//! ([`ExecutionModel`]), and the one place that maps a model's wire tag to its implementation
//! ([`model`]). The chain verifier, history proofs, span validity and the prover reach a model
//! only through these; nothing else chooses by model.
//!
//! The interface assumes nothing about a model's state (a sparse tree, a Merkle Patricia trie),
//! its signatures or its witnesses: a model checks its own blobs, reads its own account facts,
//! and says whether its state is a sparse tree the prover can store node by node.

use witness_format::{AccountFact, Blob, Hash32, Header, MerkleWitness, Model};

use crate::blob::PendingProof;
use crate::params::ChainParams;
use crate::error::VerifyError;
use crate::transfer::TRANSFER_MODEL;
use crate::tree::WireTree;
use crate::zk_transfer::ZK_TRANSFER_MODEL;

/// One execution model: one set of rules for one kind of state.
pub trait ExecutionModel: Sync {
    /// The model's wire tag.
    fn tag(&self) -> Model;

    /// Checks that `blob`'s transactions move its pre-state root to its post-state root, by
    /// whatever witness it carries, in the block of `header` when there is one (a blob of
    /// credits needs its block's history; without a block it is rejected). The chain's common
    /// checks (the model is the chain's, the blob is not empty) are done. A witness that is a
    /// proof is checked up to its pairing check, which is returned for the caller to batch.
    ///
    /// Never panics, for any input; errors carry the transaction index where there is one.
    fn check_blob<'a>(
        &self,
        params: &ChainParams,
        header: Option<&Header>,
        blob: &'a Blob,
    ) -> Result<Option<PendingProof<'a>>, VerifyError>;

    /// The state root an account fact's leaf leads to along its path, given as a one-leaf
    /// witness of a tree `depth` levels deep (history proofs of account values).
    fn account_root(
        &self,
        fact: &AccountFact,
        depth: u8,
        path: &MerkleWitness,
    ) -> Result<Hash32, VerifyError>;

    /// The model's state tree as the prover stores it, when its state is a binary sparse tree.
    fn state_tree(&self) -> Option<&'static dyn WireTree>;
}

/// The implementation of the model with wire tag `tag`.
pub fn model(tag: Model) -> &'static dyn ExecutionModel {
    match tag {
        Model::Transfer => &TRANSFER_MODEL,
        Model::ZkTransfer => &ZK_TRANSFER_MODEL,
    }
}
