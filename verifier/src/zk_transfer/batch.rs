//! Many Groth16 proofs (BLS12-381, [`PUBLIC_INPUTS`] public inputs each) checked in one batched
//! pairing check: span validity ([`crate::verify_span`]) and the chain verifier
//! ([`crate::check_blobs`]) both use it. For random 128-bit scalars `r_i`, one Miller loop over
//! all pairs and one final exponentiation decide
//!
//! ```text
//!   Π e(r_i·A_i, B_i) · Π_k [ e(−(Σ r_i)·α_k, β_k) · e(−Σ r_i·IC_k(x_i), γ_k) · e(−Σ r_i·C_i, δ_k) ] = 1
//! ```
//!
//! (k over the verifying keys, each sum over the proofs under key k; `IC_k(x) = ic_0 + Σ_j
//! x_j·ic_j` over the inputs j = 1 … [`PUBLIC_INPUTS`], so `Σ r_i·IC_k(x_i) = (Σ r_i)·ic_0 +
//! Σ_j (Σ_i r_i·x_ij)·ic_j`: one multiplication of each of the key's `PUBLIC_INPUTS + 1`
//! bases per key, not per proof). Each proof that verifies alone
//! satisfies its own equation, so the product is 1; if one does not, the product is 1 only with
//! probability about 2^-128 over the `r_i`. The `r_i` are derived by hashing every key, every
//! public input of every proof and every proof (Fiat-Shamir), so a prover fixes the proofs
//! before it learns them, and the verdict does not depend on the thread count or any randomness
//! source.

use ark_bls12_381::{Bls12_381, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::{MillerLoopOutput, Pairing};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{AdditiveGroup, One, PrimeField};
use ark_groth16::Proof;
use rayon::prelude::*;
use sha3::{Digest, Sha3_256};
use thiserror::Error;

use crate::zk_transfer::fr_to_hash;
use crate::zk_transfer::groth16::{
    PROOF_BYTES, PUBLIC_INPUTS, PreparedKey, ZkVerifyError, decode_proof, verify_zk_blob,
    verifying_key_hash,
};

/// Pairs per Miller loop call. Each pair holds about 20 KB of precomputed line coefficients for
/// its G2 point, so the loop runs over chunks (multiplying their outputs, which is exact) to keep
/// memory bounded for any number of proofs; 256 pairs are about 5 MB.
const MILLER_CHUNK: usize = 256;

/// Domain separation of the batch's Fiat-Shamir transcript (v2: every entry contributes its
/// [`PUBLIC_INPUTS`] inputs; v1 hashed one).
const BATCH_DOMAIN: &[u8] = b"stateless/span/groth16-batch/v2";

/// A key's input bases (`gamma_abc_g1`): `ic_0`, then one per public input.
const KEY_BASES: usize = PUBLIC_INPUTS + 1;

/// One proof of a batch: the index of its key in the batch's key list, its public inputs, and
/// its [`PROOF_BYTES`] bytes.
#[derive(Clone, Copy, Debug)]
pub struct BatchEntry<'a> {
    /// Index into the keys given to [`verify_batch`].
    pub key: usize,
    /// The proof's public inputs ([`crate::zk_transfer::public_inputs`]).
    pub public_inputs: [Fr; PUBLIC_INPUTS],
    /// The proof, encoded ([`crate::zk_transfer::groth16::encode_proof`]).
    pub proof: &'a [u8; PROOF_BYTES],
}

/// Why a batch of proofs is rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BatchError {
    /// An entry names a key index past the key list.
    #[error("entry {entry} names no key")]
    UnknownKey {
        /// The entry's index.
        entry: usize,
    },
    /// A key does not expect exactly [`PUBLIC_INPUTS`] public inputs.
    #[error("key {key}: {error}")]
    Key {
        /// The key's index.
        key: usize,
        /// Why.
        error: ZkVerifyError,
    },
    /// The first entry (in order) whose proof does not decode or, checked alone after the
    /// batch failed, does not verify.
    #[error("entry {entry}: {error}")]
    Proof {
        /// The entry's index.
        entry: usize,
        /// Why.
        error: ZkVerifyError,
    },
    /// The batch fails but every proof verifies alone (ruled out by the algebra).
    #[error("the batched check fails although every proof verifies alone")]
    Rejected,
}

/// Checks many Groth16 proofs (BLS12-381, [`PUBLIC_INPUTS`] public inputs each) in one batched
/// pairing check: one Miller loop over `n + 3k` pairs (n proofs, k keys) and one final
/// exponentiation.
///
/// Every proof is decoded with validation first (in parallel; the first undecodable one in
/// entry order is reported). When the batch fails, the proofs are checked one by one and the
/// first that fails is reported, so a rejection names its proof, as a one-by-one check would.
/// The random scalars come from a hash of all keys, public inputs and proofs: the verdict and
/// the error are the same for every thread count. Never panics, for any input.
pub fn verify_batch(keys: &[&PreparedKey], entries: &[BatchEntry<'_>]) -> Result<(), BatchError> {
    // The key bases: ark-groth16 does not check the public-input count, so each key's bases
    // are taken only if there are exactly KEY_BASES (ic_0, then one per input).
    let mut bases = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        let vk = key.verifying_key();
        match <[G1Affine; KEY_BASES]>::try_from(vk.gamma_abc_g1.as_slice()) {
            Ok(key_bases) => bases.push(key_bases),
            Err(_) => {
                return Err(BatchError::Key {
                    key: index,
                    error: ZkVerifyError::PublicInputCount {
                        found: vk.gamma_abc_g1.len().saturating_sub(1),
                    },
                });
            }
        }
    }
    if let Some(entry) = entries.iter().position(|e| e.key >= keys.len()) {
        return Err(BatchError::UnknownKey { entry });
    }
    let proofs: Vec<Result<Proof<Bls12_381>, ZkVerifyError>> =
        entries.par_iter().map(|e| decode_proof(e.proof)).collect();
    let mut decoded = Vec::with_capacity(proofs.len());
    for (entry, proof) in proofs.into_iter().enumerate() {
        decoded.push(proof.map_err(|error| BatchError::Proof { entry, error })?);
    }

    let scalars = batch_scalars(keys, entries);
    if batch_holds(keys, &bases, entries, &decoded, &scalars) {
        return Ok(());
    }
    // Find the culprit: the first proof that fails alone.
    for (entry, e) in entries.iter().enumerate() {
        let Some(key) = keys.get(e.key) else {
            return Err(BatchError::UnknownKey { entry });
        };
        if let Err(error) = verify_zk_blob(key, &e.public_inputs, e.proof) {
            return Err(BatchError::Proof { entry, error });
        }
    }
    Err(BatchError::Rejected)
}

/// The batch's 128-bit scalars: `r_i` is the first 16 bytes (little-endian) of
/// `SHA3-256(seed ‖ i)`, the seed hashing the domain, every key's hash, and every entry's key
/// index, public inputs (in order, 32 bytes little-endian each) and proof.
fn batch_scalars(keys: &[&PreparedKey], entries: &[BatchEntry<'_>]) -> Vec<u128> {
    let mut transcript = Sha3_256::new();
    transcript.update(BATCH_DOMAIN);
    transcript.update((keys.len() as u64).to_le_bytes());
    for key in keys {
        transcript.update(verifying_key_hash(key.verifying_key()).0);
    }
    transcript.update((entries.len() as u64).to_le_bytes());
    for entry in entries {
        transcript.update((entry.key as u64).to_le_bytes());
        for input in &entry.public_inputs {
            transcript.update(fr_to_hash(input).0);
        }
        transcript.update(entry.proof);
    }
    let seed: [u8; 32] = transcript.finalize().into();
    (0u64..)
        .take(entries.len())
        .map(|index| {
            let digest: [u8; 32] = Sha3_256::new()
                .chain_update(seed)
                .chain_update(index.to_le_bytes())
                .finalize()
                .into();
            let mut low = [0u8; 16];
            low.iter_mut().zip(digest).for_each(|(l, d)| *l = d);
            u128::from_le_bytes(low)
        })
        .collect()
}

/// `r` as the two 64-bit limbs a scalar multiplication takes, low first: the multiplication
/// then walks 128 bits, not 255.
fn limbs(r: u128) -> [u64; 2] {
    [r as u64, (r >> 64) as u64]
}

/// The batched equation, with the decoded proofs and their scalars (all of equal length).
///
/// Every scalar multiplication runs on the caller's rayon pool: `r_i·A_i` and `r_i·C_i` per
/// proof with the 128-bit `r_i` (half the doublings of a full scalar), the input bases per key.
/// arkworks' multi-scalar multiplication would walk all 255 bits of `−r_i` and build a thread
/// pool of its own on every call.
fn batch_holds(
    keys: &[&PreparedKey],
    bases: &[[G1Affine; KEY_BASES]],
    entries: &[BatchEntry<'_>],
    proofs: &[Proof<Bls12_381>],
    scalars: &[u128],
) -> bool {
    // Per proof: r_i·A_i (paired with B_i) and r_i·C_i.
    let (weighted_a, weighted_c): (Vec<G1Projective>, Vec<G1Projective>) = proofs
        .par_iter()
        .zip(scalars)
        .map(|(proof, &r)| (proof.a.mul_bigint(limbs(r)), proof.c.mul_bigint(limbs(r))))
        .unzip();
    // One field inversion for all of them, not one each.
    let mut pairs: Vec<(G1Affine, G2Affine)> = G1Projective::normalize_batch(&weighted_a)
        .into_iter()
        .zip(proofs.iter().map(|proof| proof.b))
        .collect();
    // Per key: the three fixed pairs, with the sums over that key's proofs, negated.
    for (index, (key, key_bases)) in keys.iter().zip(bases).enumerate() {
        let mut sum_r = Fr::ZERO;
        // Σ r_i·x_ij, one sum per input j.
        let mut sum_rx = [Fr::ZERO; PUBLIC_INPUTS];
        let mut sum_c = G1Projective::ZERO;
        let mut any = false;
        for ((entry, c), &r) in entries.iter().zip(&weighted_c).zip(scalars) {
            if entry.key == index {
                let r = Fr::from(r);
                sum_r += r;
                for (sum, x) in sum_rx.iter_mut().zip(&entry.public_inputs) {
                    *sum += r * x;
                }
                sum_c += c;
                any = true;
            }
        }
        if !any {
            continue;
        }
        let vk = key.verifying_key();
        // (Σ r_i)·α and (Σ r_i)·ic_0 + Σ_j (Σ_i r_i·x_ij)·ic_j, negated: the scalars are full
        // size, the bases few, so one multiplication each, in parallel.
        let mut input_scalars = [sum_r; KEY_BASES];
        for (scalar, sum) in input_scalars.iter_mut().skip(1).zip(sum_rx) {
            *scalar = sum;
        }
        let (alpha, inputs) = rayon::join(
            || vk.alpha_g1.mul_bigint(sum_r.into_bigint()),
            || {
                key_bases
                    .par_iter()
                    .zip(&input_scalars)
                    .map(|(base, scalar)| base.mul_bigint(scalar.into_bigint()))
                    .sum::<G1Projective>()
            },
        );
        let [alpha, inputs, c] = [-alpha, -inputs, -sum_c];
        let Ok([alpha, inputs, c]) =
            <[G1Affine; 3]>::try_from(G1Projective::normalize_batch(&[alpha, inputs, c]))
        else {
            return false;
        };
        pairs.push((alpha, vk.beta_g2));
        pairs.push((inputs, vk.gamma_g2));
        pairs.push((c, vk.delta_g2));
    }
    // One chunk per thread (at most MILLER_CHUNK pairs each), so every core runs Miller loops.
    let chunk = pairs
        .len()
        .div_ceil(rayon::current_num_threads())
        .clamp(1, MILLER_CHUNK);
    let product = pairs
        .par_chunks(chunk)
        .map(|chunk| {
            Bls12_381::multi_miller_loop(
                chunk.iter().map(|(g1, _)| *g1),
                chunk.iter().map(|(_, g2)| *g2),
            )
            .0
        })
        .collect::<Vec<_>>()
        .into_iter()
        .product();
    Bls12_381::final_exponentiation(MillerLoopOutput(product)).is_some_and(|out| out.0.is_one())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bls12_381::G1Projective;
    use ark_ec::PrimeGroup;
    use ark_ff::Field;
    use witness_format::ZK_VERIFYING_KEY_BYTES;

    use crate::zk_transfer::groth16::{
        INPUT_COMMITMENT, INPUT_POST_ROOT, INPUT_PRE_ROOT, INPUT_RESERVED_BITS, INPUT_TRANSACTIONS,
        decode_verifying_key, encode_proof,
    };
    use crate::zk_transfer::hash_to_fr;
    use witness_format::Hash32;

    type Inputs = [Fr; PUBLIC_INPUTS];

    /// The prover's pinned proof (chain 7, depth 4, batch 2): key, public inputs, proof.
    fn pinned() -> (PreparedKey, Inputs, Proof<Bls12_381>, Vec<u8>) {
        let text = include_str!("../../../prover/tests/data/zk_pinned_d4_b2.txt");
        let line = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(&format!("{name}=")))
                .unwrap()
        };
        let field = |name: &str| hex::decode(line(name)).unwrap();
        let vk_bytes = field("verifying_key");
        let vk = decode_verifying_key(&vk_bytes).unwrap();
        let input: Inputs = line("public_inputs")
            .split(',')
            .map(|x| {
                hash_to_fr(&Hash32::from(
                    <[u8; 32]>::try_from(hex::decode(x).unwrap()).unwrap(),
                ))
                .unwrap()
            })
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        let proof_bytes: [u8; PROOF_BYTES] = field("proof").try_into().unwrap();
        let proof = decode_proof(&proof_bytes).unwrap();
        (PreparedKey::new(&vk).unwrap(), input, proof, vk_bytes)
    }

    /// Another valid proof of the same statement: A/t, t·B + t·s·δ, C + s·A (Groth16 proofs
    /// are malleable this way), so a test can have many distinct valid proofs from one.
    fn rerandomize(key: &PreparedKey, proof: &Proof<Bls12_381>, seed: u64) -> Proof<Bls12_381> {
        let t = Fr::from(seed + 2);
        let s = Fr::from(seed * 7 + 3);
        let delta = key.verifying_key().delta_g2;
        Proof {
            a: (proof.a * t.inverse().unwrap()).into_affine(),
            b: (proof.b * t + delta * (t * s)).into_affine(),
            c: (proof.c + proof.a * s).into_affine(),
        }
    }

    fn batch_of(key: &PreparedKey, proof: &Proof<Bls12_381>, n: u64) -> Vec<[u8; PROOF_BYTES]> {
        (0..n)
            .map(|seed| encode_proof(&rerandomize(key, proof, seed)))
            .collect()
    }

    fn entries(input: Inputs, proofs: &[[u8; PROOF_BYTES]]) -> Vec<BatchEntry<'_>> {
        proofs
            .iter()
            .map(|proof| BatchEntry {
                key: 0,
                public_inputs: input,
                proof,
            })
            .collect()
    }

    #[test]
    fn the_verifying_key_is_fixed_size() {
        let (_, _, _, vk_bytes) = pinned();
        assert_eq!(vk_bytes.len(), ZK_VERIFYING_KEY_BYTES);
    }

    #[test]
    fn a_batch_of_valid_proofs_verifies_and_each_proof_alone_too() {
        let (key, input, proof, _) = pinned();
        let proofs = batch_of(&key, &proof, 8);
        assert_eq!(
            proofs
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            8
        );
        for bytes in &proofs {
            assert_eq!(verify_zk_blob(&key, &input, bytes), Ok(()));
        }
        assert_eq!(verify_batch(&[&key], &entries(input, &proofs)), Ok(()));
        assert_eq!(verify_batch(&[&key], &[]), Ok(()));
    }

    #[test]
    fn the_first_bad_proof_is_named() {
        let (key, input, proof, _) = pinned();
        let proofs = batch_of(&key, &proof, 6);

        // Another value of any one public input of one proof.
        for index in [
            INPUT_PRE_ROOT,
            INPUT_POST_ROOT,
            INPUT_COMMITMENT,
            INPUT_TRANSACTIONS,
            INPUT_RESERVED_BITS,
        ] {
            let mut list = entries(input, &proofs);
            list[4].public_inputs[index] += Fr::ONE;
            assert_eq!(
                verify_batch(&[&key], &list),
                Err(BatchError::Proof {
                    entry: 4,
                    error: ZkVerifyError::ProofRejected
                }),
                "input {index}"
            );
        }
        // Two proofs' inputs swapped where their sum over the batch is unchanged: the random
        // scalars weigh them differently.
        let mut list = entries(input, &proofs);
        list[1].public_inputs[INPUT_POST_ROOT] += Fr::ONE;
        list[3].public_inputs[INPUT_POST_ROOT] -= Fr::ONE;
        assert_eq!(
            verify_batch(&[&key], &list),
            Err(BatchError::Proof {
                entry: 1,
                error: ZkVerifyError::ProofRejected
            })
        );

        // An altered point that still decodes, and a later one that does not.
        let mut bad = proofs.clone();
        let mut altered = decode_proof(&bad[2]).unwrap();
        altered.c = (altered.c + G1Projective::generator()).into_affine();
        bad[2] = encode_proof(&altered);
        assert_eq!(
            verify_batch(&[&key], &entries(input, &bad)),
            Err(BatchError::Proof {
                entry: 2,
                error: ZkVerifyError::ProofRejected
            })
        );
        bad[5] = [0xff; PROOF_BYTES];
        assert_eq!(
            verify_batch(&[&key], &entries(input, &bad)),
            Err(BatchError::Proof {
                entry: 5,
                error: ZkVerifyError::UndecodableProof
            })
        );

        // An entry naming no key.
        let mut list = entries(input, &proofs);
        list[1].key = 1;
        assert_eq!(
            verify_batch(&[&key], &list),
            Err(BatchError::UnknownKey { entry: 1 })
        );
    }

    /// Two wrong proofs whose errors cancel in an unweighted product (C + D and C − D) are
    /// caught: the random scalars weigh them differently.
    #[test]
    fn errors_that_cancel_without_random_scalars_are_caught() {
        let (key, input, proof, _) = pinned();
        let d = G1Projective::generator() * Fr::from(12345u64);
        let plus = Proof {
            c: (proof.c + d).into_affine(),
            ..proof.clone()
        };
        let minus = Proof {
            c: (proof.c - d).into_affine(),
            ..proof.clone()
        };
        let proofs = [encode_proof(&plus), encode_proof(&minus)];
        assert_eq!(
            verify_batch(&[&key], &entries(input, &proofs)),
            Err(BatchError::Proof {
                entry: 0,
                error: ZkVerifyError::ProofRejected
            })
        );
    }

    #[test]
    fn scalars_depend_on_every_proof_and_input() {
        let (key, input, proof, _) = pinned();
        let proofs = batch_of(&key, &proof, 3);
        let base = batch_scalars(&[&key], &entries(input, &proofs));
        assert_eq!(base, batch_scalars(&[&key], &entries(input, &proofs)));
        assert_eq!(base.len(), 3);
        assert!(base.iter().all(|&r| r != 0));
        let mut other = proofs.clone();
        other[2][10] ^= 1;
        assert_ne!(base, batch_scalars(&[&key], &entries(input, &other)));
        for entry in 0..3 {
            for index in 0..PUBLIC_INPUTS {
                let mut list = entries(input, &proofs);
                list[entry].public_inputs[index] += Fr::ONE;
                assert_ne!(
                    base,
                    batch_scalars(&[&key], &list),
                    "entry {entry}, input {index}"
                );
            }
        }
    }
}
