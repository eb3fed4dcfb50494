//! Ed25519 under the ZIP-215 validation rules, checked one by one or in batches.
//!
//! ZIP-215 fixes which keys and signatures are valid so that the cofactored batch equation and
//! the single-signature check accept exactly the same inputs. That is a consensus property here:
//! the verifier splits a blob's signatures into batches whose size depends on the thread count, and
//! the verdict must not.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::VartimeMultiscalarMul;
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
///
/// About 16 µs a key here (23 µs with a re-encoding and a constant-time torsion check): 5% of
/// the default workload's transfers carry one, and each is checked by every verifier.
pub fn is_valid_new_key(bytes: &[u8; 32]) -> bool {
    // The identity is the one torsion-free point of small order.
    y_below_p(bytes)
        && CompressedEdwardsY(*bytes)
            .decompress()
            .is_some_and(|point| is_torsion_free(&point) && !point.is_small_order())
}

/// Whether the y of an encoding (its sign bit cleared) is below p = 2²⁵⁵ − 19. For a point not
/// of small order that is exactly a canonical encoding: decompression reduces y mod p, and its
/// only other non-canonical encodings, x = 0 with the sign bit set, are those of y = ±1, the
/// points of order 1 and 2.
fn y_below_p(bytes: &[u8; 32]) -> bool {
    // y ≥ p exactly when bits 0..255 are p + k for k < 19: the top byte 0x7f (sign cleared),
    // every middle byte 0xff, and the low byte at least p's 0xed.
    let [low, middle @ .., top] = bytes;
    !(top & 0x7f == 0x7f && middle.iter().all(|&byte| byte == 0xff) && *low >= 0xed)
}

/// Whether `[ℓ]P` is the identity, ℓ the prime order of the base point, checked as
/// `[ℓ − 1]P = −P`: ℓ − 1 is a scalar (ℓ itself reduces to 0), and a variable-time
/// multiplication is fine for public keys. With a torsion component T (of order dividing 8),
/// `[ℓ − 1]T = [4]T` since ℓ ≡ 5 (mod 8), which equals −T only when T is the identity.
/// Group arithmetic cannot overflow, hence the allowed lint.
#[allow(clippy::arithmetic_side_effects)]
fn is_torsion_free(point: &EdwardsPoint) -> bool {
    EdwardsPoint::vartime_multiscalar_mul([-Scalar::ONE], [point]) == -point
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

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

    /// The rule as first written: decompress, re-encode and compare, and the constant-time
    /// torsion check.
    fn reference(bytes: &[u8; 32]) -> bool {
        let compressed = CompressedEdwardsY(*bytes);
        compressed.decompress().is_some_and(|point| {
            point.compress() == compressed && point.is_torsion_free() && !point.is_small_order()
        })
    }

    /// Little-endian bytes of 2²⁵⁵ − 19 + `k`, with the sign bit `sign`.
    fn p_plus(k: u8, sign: bool) -> [u8; 32] {
        let mut bytes = [0xff; 32];
        bytes[31] = 0x7f;
        bytes[0] = 0xedu8.checked_add(k).expect("k < 19");
        bytes[31] |= u8::from(sign) << 7;
        bytes
    }

    #[test]
    fn new_key_rule_agrees_with_its_first_definition() {
        let mut inputs: Vec<[u8; 32]> = Vec::new();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        // Keys of the prime-order subgroup, with each torsion component, and the torsion
        // points themselves.
        for _ in 0..64 {
            let key = ED25519_BASEPOINT_POINT * Scalar::from(rng.random::<u64>());
            for torsion in EIGHT_TORSION {
                inputs.push((key + torsion).compress().to_bytes());
                inputs.push(torsion.compress().to_bytes());
            }
        }
        // Every y at or above p (y = p + k, k < 19), either sign; y = 1 and y = p − 1 (x = 0),
        // either sign. None of the first decodes to a point of prime order, so both rules
        // refuse them all whatever the encoding check says; it stays to state the rule.
        for sign in [false, true] {
            inputs.extend((0..19).map(|k| p_plus(k, sign)));
            let mut one = [0u8; 32];
            one[0] = 1;
            let mut minus_one = p_plus(0, false);
            minus_one[0] = 0xec;
            for mut y in [one, minus_one] {
                y[31] |= u8::from(sign) << 7;
                inputs.push(y);
            }
        }
        // Random bytes: about half decompress, nearly all of those have a torsion component.
        inputs.extend((0..4096).map(|_| rng.random::<[u8; 32]>()));
        let accepted = inputs.iter().filter(|bytes| reference(bytes)).count();
        assert!(accepted >= 64, "the inputs include valid keys: {accepted}");
        for bytes in &inputs {
            assert_eq!(
                is_valid_new_key(bytes),
                reference(bytes),
                "{}",
                hex::encode(bytes)
            );
        }
    }
}
