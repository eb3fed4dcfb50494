//! The interface every execution model implements. A model is two layers:
//!
//! - its **state commitment** ([`StateCommitment`]): how an account's value is proven under a
//!   state root (history proofs read it), and whether the state is a sparse tree the prover
//!   stores node by node;
//! - its **rules** ([`ExecutionModel`]): how a blob of the model is checked against whatever
//!   witness it carries, in its block.
//!
//! The lookups by wire tag are [`crate::states::state_of`] and [`crate::models::model`]: the
//! chain verifier, history proofs, span validity and the prover reach a model only through
//! these, so nothing else chooses by model. The state commitment sits below the history proofs
//! and the rules above them (a model's credits are checked with history proofs), so the two are
//! looked up apart and no module depends on itself.
//!
//! The interface assumes nothing about a model's state (a sparse tree, a Merkle Patricia trie),
//! its signatures or its witnesses.

use ark_bls12_381::Fr;
use witness_format::{AccountFact, Blob, Hash32, Header, MerkleWitness, Model};

use crate::accounts::AccountRules;
use crate::error::{Reason, VerifyError};
use crate::params::ChainParams;
use crate::tree::WireTree;
use crate::zk_transfer::groth16::{PROOF_BYTES, PUBLIC_INPUTS, verify_zk_blob};

/// A model's state commitment.
pub trait StateCommitment: Sync {
    /// The state root an account fact's leaf leads to along its path, given as a one-leaf
    /// witness of a tree `depth` levels deep (history proofs of account values).
    fn account_root(
        &self,
        fact: &AccountFact,
        depth: u8,
        path: &MerkleWitness,
    ) -> Result<Hash32, VerifyError>;

    /// The state as the prover stores it, when it is a binary sparse tree.
    fn state_tree(&self) -> Option<&'static dyn WireTree>;
}

/// One execution model: one set of rules for one kind of state.
pub trait ExecutionModel: Sync {
    /// The model's wire tag.
    fn tag(&self) -> Model;

    /// The model's state commitment.
    fn state(&self) -> &'static dyn StateCommitment;

    /// Checks that `blob`'s transactions move its pre-state root to its post-state root, by
    /// whatever witness it carries, in the block of `header` when there is one (a blob of
    /// credits needs its block's history; without a block it is rejected). The chain's common
    /// checks (the model is the chain's, the blob is not empty) are done. A witness that is a
    /// proof is checked up to its pairing check, which is returned for the caller to batch.
    ///
    /// `linked` says the chain verifier has already linked the blob to the chain's earlier
    /// blobs of its model ([`ExecutionModel::blob_link`]); a model with a link checks its blobs
    /// only when they are (an Ethereum block's gas limit, which bounds the work of executing
    /// it, is bounded by its parent's).
    ///
    /// Never panics, for any input; errors carry the transaction index where there is one.
    fn check_blob<'a>(
        &self,
        params: &ChainParams,
        header: Option<&Header>,
        blob: &'a Blob,
        linked: bool,
    ) -> Result<Option<PendingProof<'a>>, VerifyError>;

    /// The rules of a model whose accounts are numbered (new-owner keys, signatures under the
    /// sender's key); `None` for a model of another kind.
    fn account_rules(&self) -> Option<&'static dyn AccountRules> {
        None
    }

    /// Whether the model's transactions are the blob's `transactions` list (so a blob without
    /// any is refused), or live inside its witness (an `evm` blob's block).
    fn carries_transactions(&self) -> bool {
        true
    }

    /// What the chain verifier keeps to link this model's blobs in order beyond their state
    /// roots, for a model whose blobs form a chain of their own (the `evm` model's Ethereum
    /// headers); `None` for the others.
    fn blob_link(&self, _params: &ChainParams) -> Option<Box<dyn BlobLink>> {
        None
    }
}

/// A model's blobs linked in chain order, after each was checked on its own
/// ([`ExecutionModel::blob_link`]).
pub trait BlobLink: Send + Sync + std::fmt::Debug {
    /// Links the model's next blob (already checked on its own) to those before it.
    fn follow(&mut self, blob: &Blob) -> Result<(), VerifyError>;

    /// A copy, to fork a chain verifier.
    fn clone_box(&self) -> Box<dyn BlobLink>;
}

/// A zk blob whose every check but the pairing check passed: the pinned key's batch size, the
/// public inputs computed from the blob, and its proof. A chain verifier checks many of these in
/// one batched pairing check ([`crate::zk_transfer::batch::verify_batch`]).
#[derive(Clone, Copy, Debug)]
pub struct PendingProof<'a> {
    /// Batch size of the pinned key the proof must verify under.
    pub(crate) key_batch: u16,
    /// The proof's public inputs.
    pub(crate) public_inputs: [Fr; PUBLIC_INPUTS],
    /// The proof, as the blob carries it.
    pub(crate) proof: &'a [u8; PROOF_BYTES],
}

impl PendingProof<'_> {
    /// The pairing check of this proof alone, with the error a blob reports.
    pub(crate) fn verify_alone(&self, params: &ChainParams) -> Result<(), VerifyError> {
        let (_, key) = params.zk_key_for(usize::from(self.key_batch))?;
        verify_zk_blob(key, &self.public_inputs, self.proof).map_err(|e| Reason::ZkProof(e).into())
    }
}

/// The rejection of a witness kind a model does not take.
pub(crate) fn unsupported(blob: &Blob) -> VerifyError {
    Reason::WitnessNotSupported {
        model: blob.model,
        witness: blob.witness.kind_name(),
    }
    .into()
}
