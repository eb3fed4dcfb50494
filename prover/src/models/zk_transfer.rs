//! `zk-transfer`: Schnorr keys over Jubjub, signing the model's Poseidon message
//! ([`verifier::zk_transfer::sign_transaction`]), and a blob's zk witness: the proof of its
//! transactions, from the multiproof the shared block builder wrote (the circuit and its
//! gadgets are in `crate::zk`).

use sha3::{Digest, Sha3_256};
use verifier::accounts::touched_accounts;
use verifier::tree::{leaf_nodes, read_multiproof, witness_state};
use verifier::zk_transfer::groth16::encode_proof;
use verifier::zk_transfer::{self, ZK_TRANSFER_TREE, hash_to_fr, schnorr};
use verifier::{Reason, VerifyError};
use witness_format::{ProvingJob, PublicKey, Signature, Transaction, Witness, ZK_PROOF_BYTES};

use super::WorkloadKeys;
use crate::ProverError;
use crate::zk::circuit::TransferBatchCircuit;
use crate::zk::groth16::KeyedProver;
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

/// The proof of a proving job's blob by `prover` (a key and its circuit's shape): the circuit's
/// witness from the blob's Merkle witness (its pre-state
/// leaves, and every sibling its multiproof gives, in the walk's order), then a Groth16 proof
/// without randomizers, so that proving is reproducible: the same job gives the same bytes
/// wherever it is proven.
///
/// The job is checked first as the verifier checks a blob with a Merkle witness (without the
/// bridge: a blob with a proof never exits), so a malformed job gets the verifier's reason.
pub(crate) fn prove_job(
    prover: &KeyedProver,
    job: &ProvingJob,
) -> Result<[u8; ZK_PROOF_BYTES], ProverError> {
    let shape = prover.shape();
    let (depth, chain_id) = (shape.depth, shape.chain_id);
    let blob = &job.blob;
    let Witness::Merkle(merkle) = &blob.witness else {
        return Err(ProverError::ZkProving(format!(
            "a job's blob needs a Merkle witness, this one has a {} witness",
            blob.witness.kind_name()
        )));
    };
    let invalid = |e: VerifyError| ProverError::ZkProving(format!("the job's blob: {e}"));
    let txs = blob.transactions.as_ref();
    zk_transfer::verify_merkle_blob(
        chain_id,
        depth,
        None,
        &blob.pre_state_root,
        &blob.post_state_root,
        txs,
        merkle,
    )
    .map_err(invalid)?;
    let accounts = touched_accounts(txs, depth).map_err(invalid)?;
    let pre_state = witness_state(accounts, merkle).map_err(|r| invalid(r.into()))?;
    let leaves = leaf_nodes(&ZK_TRANSFER_TREE, &pre_state)
        .map_err(|index| invalid(Reason::InvalidLeafKey { index }.into()))?;
    let (_, siblings) = read_multiproof(&ZK_TRANSFER_TREE, depth, leaves, merkle, |h| {
        hash_to_fr(h).ok_or_else(|| {
            VerifyError::from(Reason::NonCanonicalFieldElement {
                what: "a witness sibling",
            })
        })
    })
    .map_err(invalid)?;
    let mut replay = siblings.into_iter();
    let witness = build_witness(shape, job.reserved_bits, &pre_state, txs, |_, _| {
        replay.next().ok_or("the multiproof has too few siblings")
    })
    .map_err(|e| ProverError::ZkProving(e.to_string()))?;
    let circuit = TransferBatchCircuit {
        shape,
        witness: Some(witness),
    };
    let proof = prover
        .prove(circuit)
        .map_err(|e| ProverError::ZkProving(e.to_string()))?;
    Ok(encode_proof(&proof))
}
