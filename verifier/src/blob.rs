//! Checking one blob against its witness, with no state.

use witness_format::{Blob, Header};

use crate::error::{Reason, VerifyError};
use crate::model::PendingProof;
use crate::models::model;
use crate::params::ChainParams;

/// Checks that `blob`'s transactions move its pre-state root to its post-state root.
///
/// After step 1 below, the check depends on the model and the witness:
/// - `transfer` with a Merkle witness: the steps below.
/// - `zk-transfer` with a Merkle witness: the same steps with that model's hashes and
///   signatures ([`crate::zk_transfer::verify_merkle_blob`]).
/// - `zk-transfer` with a zk witness: the pinned key with the smallest batch that fits the
///   transactions ([`ChainParams::zk_key_for`]), the public inputs computed from the blob's roots
///   and transactions ([`crate::zk_transfer::blob_public_inputs`]), then the Groth16 check.
/// - a blob of credits (either model): [`verify_blob_in_block`], which knows the block.
/// - any other pair: [`Reason::WitnessNotSupported`].
///
/// On a chain of several models, the rules include the bridge's ([`crate::bridge`]): exits in
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
    match check_blob(params, header, blob, false)? {
        None => Ok(()),
        Some(pending) => pending.verify_alone(params),
    }
}

/// [`verify_blob_in_block`] up to, not including, a zk blob's pairing check, which it returns
/// for the caller to do (alone or batched with others).
/// `linked`: the chain verifier linked the blob to its model's earlier blobs
/// ([`crate::ExecutionModel::check_blob`]).
pub(crate) fn check_blob_in_block<'a>(
    params: &ChainParams,
    header: &Header,
    blob: &'a Blob,
    linked: bool,
) -> Result<Option<PendingProof<'a>>, VerifyError> {
    check_blob(params, Some(header), blob, linked)
}

fn check_blob<'a>(
    params: &ChainParams,
    header: Option<&Header>,
    blob: &'a Blob,
    linked: bool,
) -> Result<Option<PendingProof<'a>>, VerifyError> {
    if !params.models.contains(&blob.model) {
        return Err(Reason::UnknownModel { model: blob.model }.into());
    }
    let model = model(blob.model);
    if model.carries_transactions() && blob.transactions.is_empty() {
        return Err(Reason::EmptyBlob.into());
    }
    model.check_blob(params, header, blob, linked)
}
