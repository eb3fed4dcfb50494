//! Synthetic workloads: a genesis allocation and blocks of signed transfers.
//!
//! Keys are derived from the seed, so a workload is reproducible from its parameters. The
//! generator tracks balances and nonces itself, so every transfer it emits is valid; a share of
//! them pays a fresh account and so creates it.

use ed25519_zebra::{SigningKey, VerificationKey};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use sha3::{Digest, Sha3_256};
use std::collections::HashMap;
use verifier::transfer::signing_message;
use witness_format::ssz_types::VariableList;
use witness_format::{
    AccountLeaf, Allocation, Model, PublicKey, Signature, Transaction, TransactionBatch,
};

/// Parameters of a synthetic workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkloadSpec {
    /// The chain id transactions are signed for.
    pub chain_id: u64,
    /// State tree depth.
    pub tree_depth: u8,
    /// Accounts in the genesis allocation.
    pub accounts: u64,
    /// Blocks of transactions.
    pub blocks: usize,
    /// Transactions per block.
    pub txs_per_block: usize,
    /// Seed of keys and choices.
    pub seed: u64,
    /// Percent of transfers that create a new account.
    pub new_account_percent: u8,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        Self {
            chain_id: 1,
            tree_depth: 32,
            accounts: 1 << 16,
            blocks: 16,
            txs_per_block: 1024,
            seed: 0,
            new_account_percent: 5,
        }
    }
}

/// A generated workload: what a prover needs.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Genesis accounts.
    pub allocation: Allocation,
    /// One batch of transactions per block.
    pub batches: Vec<TransactionBatch>,
}

/// Balance of every genesis account: large enough that random transfers never run dry.
pub const GENESIS_BALANCE: u64 = 1_000_000_000_000;

/// The signing key of `account` under `seed`.
pub fn signing_key(seed: u64, account: u64) -> SigningKey {
    let mut hasher = Sha3_256::new();
    hasher.update(b"stateless/workload-key");
    hasher.update(seed.to_le_bytes());
    hasher.update(account.to_le_bytes());
    SigningKey::from(<[u8; 32]>::from(hasher.finalize()))
}

fn public_key(key: &SigningKey) -> PublicKey {
    PublicKey::from(<[u8; 32]>::from(VerificationKey::from(key)))
}

/// Generates the workload `spec` describes.
///
/// # Panics
/// If the accounts or transactions exceed the wire limits of an allocation or a batch.
pub fn generate(spec: &WorkloadSpec) -> Workload {
    let accounts: Vec<AccountLeaf> = (0..spec.accounts)
        .into_par_iter()
        .map(|account| AccountLeaf {
            public_key: public_key(&signing_key(spec.seed, account)),
            balance: GENESIS_BALANCE,
            nonce: 0,
        })
        .collect();
    let allocation = Allocation {
        chain_id: spec.chain_id,
        tree_depth: spec.tree_depth,
        model: Model::Transfer,
        accounts: VariableList::new(accounts).expect("allocation within its limit"),
    };

    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut next_new = spec.accounts;
    // (balance, nonce) of every account that has changed; others are at genesis.
    let mut changed: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut unsigned = Vec::with_capacity(spec.blocks);
    for _ in 0..spec.blocks {
        let mut block = Vec::with_capacity(spec.txs_per_block);
        for _ in 0..spec.txs_per_block {
            let from = rng.random_range(0..next_new);
            let (balance, nonce) = changed.get(&from).copied().unwrap_or((GENESIS_BALANCE, 0));
            let amount = rng.random_range(1..=1_000).min(balance);
            let creates = rng.random_range(0..100u8) < spec.new_account_percent;
            let to = if creates {
                next_new += 1;
                next_new - 1
            } else {
                rng.random_range(0..next_new)
            };
            let new_account_key = if creates {
                public_key(&signing_key(spec.seed, to))
            } else {
                PublicKey::ZERO
            };
            changed.insert(from, (balance - amount, nonce + 1));
            let (to_balance, to_nonce) = changed.get(&to).copied().unwrap_or(if creates {
                (0, 0)
            } else {
                (GENESIS_BALANCE, 0)
            });
            changed.insert(to, (to_balance + amount, to_nonce));
            block.push(Transaction {
                from,
                to,
                amount,
                nonce,
                new_account_key,
                signature: Signature::ZERO,
            });
        }
        unsigned.push(block);
    }
    let batches = unsigned
        .into_iter()
        .map(|mut block| {
            block
                .par_iter_mut()
                .for_each(|tx| sign(spec.chain_id, spec.seed, tx));
            TransactionBatch {
                model: Model::Transfer,
                transactions: VariableList::new(block).expect("batch within its limit"),
            }
        })
        .collect();
    Workload {
        allocation,
        batches,
    }
}

/// Signs `tx` with the sender's workload key.
pub fn sign(chain_id: u64, seed: u64, tx: &mut Transaction) {
    let message = signing_message(chain_id, Model::Transfer, tx);
    let signature = signing_key(seed, tx.from).sign(&message);
    tx.signature = Signature::from(signature.to_bytes());
}
