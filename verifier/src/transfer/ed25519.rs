//! Ed25519 under the ZIP-215 validation rules, checked one by one or in batches.
//!
//! ZIP-215 fixes which keys and signatures are valid so that the cofactored batch equation and
//! the single-signature check accept exactly the same inputs. That is a consensus property here:
//! the verifier splits a blob's signatures into batches whose size depends on the thread count, and
//! the verdict must not.

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_zebra::{Signature, VerificationKey, VerificationKeyBytes, batch};
use rayon::prelude::*;

/// Whether 32 bytes are a key a new account may be created with: the canonical encoding of a
/// point in Ed25519's prime-order subgroup (so not of small order, and with no small-order
/// component).
///
/// ZIP-215 accepts any point as a signature key, so this is where keys are held to the stricter
/// rule: under the cofactored verification equation, a key of small order verifies a signature
/// made by anyone (pick R = \[s\]B), so an account created with one could be spent by anyone. A
/// key with a small-order component verifies only its owner's signatures, but no honest key has
/// one. Non-canonical encodings (y at or above p, or x = 0 with the sign bit set) are refused so
/// that every key has one encoding.
pub fn is_valid_new_key(bytes: &[u8; 32]) -> bool {
    let compressed = CompressedEdwardsY(*bytes);
    // The identity is the one torsion-free point of small order.
    compressed.decompress().is_some_and(|point| {
        point.compress() == compressed && point.is_torsion_free() && !point.is_small_order()
    })
}

/// One signature to check: the signer's key, the signature and the signed message.
#[derive(Clone, Copy, Debug)]
pub struct SignatureCheck<'a> {
    /// The signer's 32-byte Ed25519 public key, as stored in its account.
    pub public_key: &'a [u8; 32],
    /// The 64-byte signature `R || s`.
    pub signature: &'a [u8; 64],
    /// The exact bytes that were signed.
    pub message: &'a [u8],
}

/// Signatures per batch. Batching amortises the multiscalar multiplication; past a few hundred
/// signatures the gain per signature is small, while smaller batches spread better over threads.
pub const SIGNATURE_BATCH_SIZE: usize = 128;

/// Checks one signature with the ZIP-215 single-signature rule.
pub fn verify_single(check: &SignatureCheck<'_>) -> bool {
    let Ok(key) = VerificationKey::try_from(*check.public_key) else {
        return false;
    };
    key.verify(&Signature::from_bytes(check.signature), check.message)
        .is_ok()
}

/// Checks a set of signatures in one batch. Accepts exactly when every signature would pass
/// [`verify_single`].
pub fn verify_batch(checks: &[SignatureCheck<'_>]) -> bool {
    let mut verifier = batch::Verifier::new();
    for check in checks {
        verifier.queue((
            VerificationKeyBytes::from(*check.public_key),
            Signature::from_bytes(check.signature),
            check.message,
        ));
    }
    verifier.verify(rand::rng()).is_ok()
}

/// Checks all signatures, in parallel batches, and returns the indices of the invalid ones,
/// ascending.
///
/// The answer is the same for every thread count: a failed batch is re-checked one by one.
pub fn invalid_indices(checks: &[SignatureCheck<'_>]) -> Vec<usize> {
    checks
        .par_chunks(SIGNATURE_BATCH_SIZE)
        .enumerate()
        .flat_map_iter(|(chunk_index, chunk)| {
            let offset = chunk_index.saturating_mul(SIGNATURE_BATCH_SIZE);
            let failed = !verify_batch(chunk);
            chunk
                .iter()
                .enumerate()
                .filter(move |(_, check)| failed && !verify_single(check))
                .map(move |(position, _)| offset.saturating_add(position))
        })
        .collect()
}

/// The index of the first invalid signature, if any; see [`invalid_indices`].
pub fn first_invalid(checks: &[SignatureCheck<'_>]) -> Option<usize> {
    invalid_indices(checks).first().copied()
}
