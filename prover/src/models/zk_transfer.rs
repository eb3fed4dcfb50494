//! `zk-transfer`: Schnorr keys over Jubjub, signing the model's Poseidon message
//! ([`verifier::zk_transfer::sign_transaction`]), and a blob's zk witness: the proof of its
//! transactions, from the multiproof the shared block builder wrote (the circuit and its
//! gadgets are in `crate::zk`).

use sha3::{Digest, Sha3_256};
use verifier::accounts::TouchedState;
use verifier::zk_transfer::groth16::encode_proof;
use verifier::zk_transfer::{self, hash_to_fr, schnorr};
use witness_format::{Bytes, Hash32, PublicKey, Signature, Transaction, Witness, ZkWitness};

use super::WorkloadKeys;
use crate::ProverError;
use crate::zk::circuit::TransferBatchCircuit;
use crate::zk::groth16::{ProvingKey, prove, rng_from_seed};
use crate::zk::witness::build_witness;

/// The Schnorr (Jubjub) signing key of `account` under `seed`.
pub fn zk_signing_key(seed: u64, account: u64) -> schnorr::SigningKey {
    let mut hasher = Sha3_256::new();
    hasher.update(b"stateless/workload-zk-key");
    hasher.update(seed.to_le_bytes());
    hasher.update(account.to_le_bytes());
    schnorr::SigningKey::from_seed(&<[u8; 32]>::from(hasher.finalize()))
}

/// Workload keys of `zk-transfer`.
pub(super) struct SchnorrKeys;

impl WorkloadKeys for SchnorrKeys {
    fn public_key(&self, seed: u64, account: u64) -> PublicKey {
        PublicKey::from(schnorr::public_key(&zk_signing_key(seed, account)))
    }

    fn sign(&self, chain_id: u64, seed: u64, tx: &mut Transaction) {
        let key = zk_signing_key(seed, tx.from);
        // Workload keys always decode, so the message exists.
        if let Some(signature) = zk_transfer::sign_transaction(&key, chain_id, tx) {
            tx.signature = Signature::from(signature);
        }
    }
}

/// The zk witness of a blob of `txs` on `pre_state` (a proof under `pk` for a circuit of
/// `(depth, batch, chain_id, reserved_bits)`): the circuit's witness from the multiproof's
/// siblings (`used`, in the walk's order, as the prover's tree hands them out), then a Groth16
/// proof whose randomness is derived from the blob's roots, so that proving is reproducible.
pub(crate) fn prove_blob(
    pk: &ProvingKey,
    (depth, batch, chain_id, reserved_bits): (u8, usize, u64, u8),
    pre_state: &TouchedState,
    txs: &[Transaction],
    used: Vec<Hash32>,
    (pre_root, post_root): (Hash32, Hash32),
) -> Result<Witness, ProverError> {
    let mut replay = used.into_iter();
    let witness = build_witness(
        depth,
        batch,
        chain_id,
        reserved_bits,
        pre_state,
        txs,
        |_, _| {
            replay
                .next()
                .and_then(|h| hash_to_fr(&h))
                .ok_or("stored node is not a field element")
        },
    )
    .map_err(|e| ProverError::ZkProving(e.to_string()))?;
    let circuit = TransferBatchCircuit {
        depth,
        batch,
        chain_id,
        witness: Some(witness),
    };
    // Proof randomness from the blob's roots: reproducible, and the blob is public anyway.
    let mut seed = [0u8; 32];
    for (s, (a, b)) in seed.iter_mut().zip(pre_root.0.iter().zip(post_root.0)) {
        *s = a ^ b.rotate_left(3);
    }
    let proof = prove(pk, circuit, &mut rng_from_seed(seed))
        .map_err(|e| ProverError::ZkProving(e.to_string()))?;
    Ok(Witness::Zk(ZkWitness {
        proof: Bytes(encode_proof(&proof)),
    }))
}
