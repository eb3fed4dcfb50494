//! Checking one blob against its witness, with no state.

use ark_bls12_381::Fr;

use witness_format::{Blob, CreditWitness, Hash32, Header};

use crate::bridge::verify_credit_blob;
use crate::params::ChainParams;
use crate::error::{Reason, VerifyError};
use crate::model::model;
use crate::transfer::TouchedState;
use crate::zk_verify::{PROOF_BYTES, verify_zk_blob};

/// Checks that `blob`'s transactions move its pre-state root to its post-state root.
///
/// After step 1 below, the check depends on the model and the witness:
/// - `transfer` with a Merkle witness: the steps below.
/// - `zk-transfer` with a Merkle witness: the same steps with that model's hashes and
///   signatures ([`zk_transfer::verify_merkle_blob`]).
/// - `zk-transfer` with a zk witness: the pinned key with the smallest batch that fits the
///   transactions ([`ChainParams::zk_key_for`]), the public input computed from the blob's roots
///   and transactions ([`zk_transfer::blob_public_input`]), then the Groth16 check.
/// - a blob of credits (either model): [`verify_blob_in_block`], which knows the block.
/// - any other pair: [`Reason::WitnessNotSupported`].
///
/// On a chain of two models, the rules include the bridge's ([`crate::bridge`]): exits in
/// Merkle-witnessed blobs, no bridge leaf in a zk blob.
///
/// Steps, for a `transfer` blob with a Merkle witness:
/// 1. The model is one of the chain's, and there is at least one transaction.
/// 2. The touched accounts (senders and receivers) fit the tree; the witness has one canonical
///    leaf for each.
/// 3. The leaves and the carried siblings recompute `pre_state_root`; the sibling bitmap has
///    exactly one bit per sibling needed, and no carried sibling is an empty-subtree hash.
/// 4. The transactions apply in order under the model's rules, with valid signatures.
/// 5. The new leaves, with the same siblings, recompute `post_state_root`.
///
/// The tree walks (3, 5) and the signature checks (4) run in parallel: the rules need only the
/// leaves, not the roots. Errors are still reported in step order, so the verdict is the same
/// for every thread count.
///
/// Never panics, for any input. Errors carry the transaction index where there is one; the
/// caller adds block and blob.
pub fn verify_blob(params: &ChainParams, blob: &Blob) -> Result<(), VerifyError> {
    verify_blob_at(params, None, blob)
}

/// [`verify_blob`] for a blob of the block of `header`: a blob of credits checks its receipts
/// against the block's history root (the header's height and history root are all it reads).
pub fn verify_blob_in_block(
    params: &ChainParams,
    header: &Header,
    blob: &Blob,
) -> Result<(), VerifyError> {
    verify_blob_at(params, Some(header), blob)
}

fn verify_blob_at(
    params: &ChainParams,
    header: Option<&Header>,
    blob: &Blob,
) -> Result<(), VerifyError> {
    match check_blob(params, header, blob)? {
        None => Ok(()),
        Some(pending) => pending.verify_alone(params),
    }
}

/// A zk blob whose every check but the pairing check passed: the pinned key's batch size, the
/// public input computed from the blob, and its proof. A chain verifier checks many of these in
/// one batched pairing check ([`crate::zk_batch::verify_batch`]).
#[derive(Clone, Copy, Debug)]
pub struct PendingProof<'a> {
    /// Batch size of the pinned key the proof must verify under.
    pub(crate) key_batch: u16,
    /// The proof's public input.
    pub(crate) public_input: Fr,
    /// The proof, as the blob carries it.
    pub(crate) proof: &'a [u8; PROOF_BYTES],
}

impl PendingProof<'_> {
    /// The pairing check of this proof alone, with the error a blob reports.
    pub(crate) fn verify_alone(&self, params: &ChainParams) -> Result<(), VerifyError> {
        let (_, key) = params.zk_key_for(usize::from(self.key_batch))?;
        verify_zk_blob(key, self.public_input, self.proof).map_err(|e| Reason::ZkProof(e).into())
    }
}

/// [`verify_blob_in_block`] up to, not including, a zk blob's pairing check, which it returns
/// for the caller to do (alone or batched with others).
pub(crate) fn check_blob_in_block<'a>(
    params: &ChainParams,
    header: &Header,
    blob: &'a Blob,
) -> Result<Option<PendingProof<'a>>, VerifyError> {
    check_blob(params, Some(header), blob)
}

fn check_blob<'a>(
    params: &ChainParams,
    header: Option<&Header>,
    blob: &'a Blob,
) -> Result<Option<PendingProof<'a>>, VerifyError> {
    if !params.models.contains(&blob.model) {
        return Err(Reason::UnknownModel { model: blob.model }.into());
    }
    if blob.transactions.is_empty() {
        return Err(Reason::EmptyBlob.into());
    }
    model(blob.model).check_blob(params, header, blob)
}

/// The rejection of a witness kind a model does not take.
pub(crate) fn unsupported(blob: &Blob) -> VerifyError {
    Reason::WitnessNotSupported {
        model: blob.model,
        witness: blob.witness.kind_name(),
    }
    .into()
}

/// A blob of credits of a model whose state is a sparse tree, with the model's roots: it must
/// be in a block, whose history its receipts are checked against.
pub(crate) fn check_credit_blob(
    params: &ChainParams,
    header: Option<&Header>,
    blob: &Blob,
    witness: &CreditWitness,
    roots: impl FnOnce(&TouchedState, &TouchedState) -> Result<(Hash32, Hash32), VerifyError>,
) -> Result<Option<PendingProof<'static>>, VerifyError> {
    let header = header.ok_or(Reason::CreditsOutsideBlock)?;
    verify_credit_blob(params, header, blob, witness, roots).map(|()| None)
}
