//! `transfer`: Ed25519 keys and signatures over the model's signing message.

use ed25519_zebra::{SigningKey, VerificationKey};
use sha3::{Digest, Sha3_256};
use verifier::transfer::signing_message;
use witness_format::{Model, PublicKey, Signature, Transaction};

use super::WorkloadKeys;

/// The Ed25519 signing key of `account` under `seed`.
pub fn signing_key(seed: u64, account: u64) -> SigningKey {
    let mut hasher = Sha3_256::new();
    hasher.update(b"stateless/workload-key");
    hasher.update(seed.to_le_bytes());
    hasher.update(account.to_le_bytes());
    SigningKey::from(<[u8; 32]>::from(hasher.finalize()))
}

/// Workload keys of `transfer`.
pub(super) struct Ed25519Keys;

impl WorkloadKeys for Ed25519Keys {
    fn public_key(&self, seed: u64, account: u64) -> PublicKey {
        PublicKey::from(<[u8; 32]>::from(VerificationKey::from(&signing_key(
            seed, account,
        ))))
    }

    fn sign(&self, chain_id: u64, seed: u64, tx: &mut Transaction) {
        let message = signing_message(chain_id, Model::Transfer, tx);
        let signature = signing_key(seed, tx.from).sign(&message);
        tx.signature = Signature::from(signature.to_bytes());
    }
}
