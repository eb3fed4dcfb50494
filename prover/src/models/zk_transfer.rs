//! `zk-transfer`: Schnorr keys over Jubjub, signing the model's Poseidon message
//! ([`verifier::zk_transfer::sign_transaction`]). Its proving is in `crate::zk`.

use sha3::{Digest, Sha3_256};
use verifier::zk_transfer::{self, schnorr};
use witness_format::{PublicKey, Signature, Transaction};

use super::WorkloadKeys;

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
