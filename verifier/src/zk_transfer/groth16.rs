//! Groth16 verification of `zk-transfer` proofs (BLS12-381), and the verifying key's hash.
//!
//! A proof is 384 bytes: arkworks' canonical uncompressed encoding of A (G1, 96 bytes), B (G2,
//! 192 bytes) and C (G1, 96 bytes), both coordinates of each point, so decoding takes no square
//! root (the compressed form, half the size, cost a verifier about as much again as the rest of
//! a proof's decoding: `docs/DECISIONS.md`). Decoding validates every point (canonical
//! coordinates and flags, on the curve, in the prime-order subgroup), so no malformed point
//! reaches the pairing.
//!
//! ark-groth16 0.6 does not check that the number of public inputs given matches the verifying
//! key: it zips them with the key's `gamma_abc_g1` and silently ignores extra ones on either
//! side. The `zk-transfer` circuit has exactly [`PUBLIC_INPUTS`] public inputs
//! ([`crate::zk_transfer::public_inputs`], in the order of the `INPUT_*` indices), so
//! [`PreparedKey::new`] and [`verify_zk_blob`] both reject a key that expects any other number
//! ([`ZkVerifyError::PublicInputCount`]).

use ark_bls12_381::{Bls12_381, Fr};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, VerifyingKey, prepare_verifying_key};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use sha3::{Digest, Sha3_256};
use thiserror::Error;
use witness_format::Hash32;

/// Length of an encoded proof: A and C in G1 (96 bytes each), B in G2 (192 bytes),
/// uncompressed.
pub const PROOF_BYTES: usize = witness_format::ZK_PROOF_BYTES;

/// The number of public inputs of the `zk-transfer` circuit.
pub const PUBLIC_INPUTS: usize = 5;

/// Index of the pre-state root among the public inputs.
pub const INPUT_PRE_ROOT: usize = 0;
/// Index of the post-state root among the public inputs.
pub const INPUT_POST_ROOT: usize = 1;
/// Index of the transaction commitment among the public inputs.
pub const INPUT_COMMITMENT: usize = 2;
/// Index of the transaction count among the public inputs.
pub const INPUT_TRANSACTIONS: usize = 3;
/// Index of the bridge's reserved index bits among the public inputs.
pub const INPUT_RESERVED_BITS: usize = 4;

/// Why a proof or a key is rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ZkVerifyError {
    /// The verifying key is built for another number of public inputs.
    #[error("verifying key expects {found} public inputs, zk-transfer has {PUBLIC_INPUTS}")]
    PublicInputCount {
        /// Public inputs the key expects (`gamma_abc_g1.len() - 1`).
        found: usize,
    },
    /// The proof bytes do not decode to three valid curve points.
    #[error("proof bytes do not decode to valid curve points")]
    UndecodableProof,
    /// The verifying key bytes do not decode.
    #[error("verifying key bytes do not decode")]
    UndecodableKey,
    /// The proof does not verify for this key and these public inputs.
    #[error("proof does not verify")]
    ProofRejected,
}

/// A verifying key checked for its public-input count and prepared for verification (one
/// pairing precomputed): prepare once, verify many proofs.
#[derive(Clone, Debug)]
pub struct PreparedKey {
    prepared: PreparedVerifyingKey<Bls12_381>,
}

impl PreparedKey {
    /// Checks that `vk` expects exactly [`PUBLIC_INPUTS`] public inputs (`gamma_abc_g1` holds
    /// one base more) and prepares it.
    pub fn new(vk: &VerifyingKey<Bls12_381>) -> Result<Self, ZkVerifyError> {
        check_input_count(vk)?;
        Ok(Self {
            prepared: prepare_verifying_key(vk),
        })
    }

    /// The verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey<Bls12_381> {
        &self.prepared.vk
    }
}

/// [`PreparedKey::new`] as a function.
pub fn prepare(vk: &VerifyingKey<Bls12_381>) -> Result<PreparedKey, ZkVerifyError> {
    PreparedKey::new(vk)
}

fn check_input_count(vk: &VerifyingKey<Bls12_381>) -> Result<(), ZkVerifyError> {
    let found = vk.gamma_abc_g1.len().saturating_sub(1);
    if vk.gamma_abc_g1.len() != PUBLIC_INPUTS.saturating_add(1) {
        return Err(ZkVerifyError::PublicInputCount { found });
    }
    Ok(())
}

/// Decodes a proof, validating its points.
pub fn decode_proof(bytes: &[u8; PROOF_BYTES]) -> Result<Proof<Bls12_381>, ZkVerifyError> {
    Proof::deserialize_uncompressed(bytes.as_slice()).map_err(|_| ZkVerifyError::UndecodableProof)
}

/// Encodes a proof in its 384-byte uncompressed form.
pub fn encode_proof(proof: &Proof<Bls12_381>) -> [u8; PROOF_BYTES] {
    let mut out = [0u8; PROOF_BYTES];
    // A proof of valid points always serializes to exactly PROOF_BYTES bytes.
    let _ = proof.serialize_uncompressed(out.as_mut_slice());
    out
}

/// Decodes a verifying key from its compressed form, validating its points; the bytes must be
/// exactly one key.
pub fn decode_verifying_key(bytes: &[u8]) -> Result<VerifyingKey<Bls12_381>, ZkVerifyError> {
    let mut reader = bytes;
    let vk = VerifyingKey::deserialize_compressed(&mut reader)
        .map_err(|_| ZkVerifyError::UndecodableKey)?;
    if !reader.is_empty() {
        return Err(ZkVerifyError::UndecodableKey);
    }
    Ok(vk)
}

/// The canonical compressed encoding of a verifying key.
pub fn encode_verifying_key(vk: &VerifyingKey<Bls12_381>) -> Vec<u8> {
    let mut out = Vec::with_capacity(vk.compressed_size());
    // Writing to a Vec cannot fail.
    let _ = vk.serialize_compressed(&mut out);
    out
}

/// The hash that pins a verifying key (in a genesis): SHA3-256 of its canonical compressed
/// encoding.
pub fn verifying_key_hash(vk: &VerifyingKey<Bls12_381>) -> Hash32 {
    Hash32::from(<[u8; 32]>::from(Sha3_256::digest(encode_verifying_key(vk))))
}

/// Verifies a `zk-transfer` proof for its public inputs
/// ([`crate::zk_transfer::blob_public_inputs`]): the key's public-input count is checked again,
/// the proof decoded with validation, then the pairing equation checked.
pub fn verify_zk_blob(
    key: &PreparedKey,
    public_inputs: &[Fr; PUBLIC_INPUTS],
    proof_bytes: &[u8; PROOF_BYTES],
) -> Result<(), ZkVerifyError> {
    check_input_count(&key.prepared.vk)?;
    let proof = decode_proof(proof_bytes)?;
    match Groth16::<Bls12_381>::verify_proof(&key.prepared, &proof, public_inputs) {
        Ok(true) => Ok(()),
        _ => Err(ZkVerifyError::ProofRejected),
    }
}
