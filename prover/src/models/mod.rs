//! The prover's side of each execution model, one module per model: what it does that the
//! other models do not. Both models here keep their state in a sparse tree, so the witness of a
//! blob (the touched leaves and their multiproof, written with the verifier's writer) is built
//! once for both in `state/build.rs`; what differs is how their owners' keys sign (here, for
//! generated workloads) and, for `zk-transfer`, a blob's proof ([`prove_job`], over the
//! circuit in `crate::zk`).
//!
//! [`model_keys`] is the one place the prover maps a model tag to its module.

mod transfer;
mod zk_transfer;

use witness_format::{Model, PublicKey, Transaction};

pub use transfer::signing_key;
pub(crate) use zk_transfer::prove_job;
pub use zk_transfer::zk_signing_key;

/// The keys of a model's accounts in generated workloads: derived from a seed and the account
/// number, so a workload is reproducible from its parameters.
pub(crate) trait WorkloadKeys: Sync {
    /// The public key of `account` under `seed`, in the model's signature scheme.
    fn public_key(&self, seed: u64, account: u64) -> PublicKey;

    /// Signs `tx` with its sender's key under `seed`, for the chain `chain_id`.
    fn sign(&self, chain_id: u64, seed: u64, tx: &mut Transaction);
}

/// The workload keys of `model`.
///
/// # Panics
/// For a model without numbered accounts (`evm`): its workloads are Ethereum transactions.
pub(crate) fn model_keys(model: Model) -> &'static dyn WorkloadKeys {
    match model {
        Model::Transfer => &transfer::Ed25519Keys,
        Model::ZkTransfer => &zk_transfer::SchnorrKeys,
        Model::Evm => panic!("the evm model has no numbered accounts to key"),
    }
}
