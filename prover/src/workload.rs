//! Synthetic workloads: a genesis allocation and blocks of signed transfers, for any model with
//! numbered accounts, signed with the model's workload keys (`crate::models`: Ed25519 for
//! `transfer`, Schnorr over Jubjub for `zk-transfer`).
//!
//! Keys are derived from the seed, so a workload is reproducible from its parameters. The
//! generator tracks balances and nonces itself, so every transfer it emits is valid; a share of
//! them pays a fresh account and so creates it.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use std::collections::HashMap;
use witness_format::ssz_types::VariableList;
use witness_format::{
    AccountLeaf, Allocation, Model, PublicKey, Signature, Transaction, TransactionBatch,
};

use crate::models::model_keys;
use verifier::accounts::Bridge;
use verifier::bridge::bridge_key;

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

pub use crate::models::{signing_key, zk_signing_key};

/// The public key of `account` under `seed` in `model`'s signature scheme.
pub fn model_public_key(model: Model, seed: u64, account: u64) -> PublicKey {
    model_keys(model).public_key(seed, account)
}

/// How senders and receivers are chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AccessPattern {
    /// Every account equally likely.
    Uniform,
    /// Account popularity follows a Zipf law with this exponent (1.0 is the classic skew); the
    /// popular accounts are spread over the whole tree, not clustered in one subtree.
    Zipf(f64),
}

/// Generates the workload `spec` describes.
///
/// # Panics
/// If the accounts or transactions exceed the wire limits of an allocation or a batch.
pub fn generate(spec: &WorkloadSpec) -> Workload {
    generate_for(spec, Model::Transfer)
}

/// Generates the workload `spec` describes for `model`.
///
/// # Panics
/// If the accounts or transactions exceed the wire limits of an allocation or a batch.
pub fn generate_for(spec: &WorkloadSpec, model: Model) -> Workload {
    let mut generator = WorkloadGenerator::for_model(spec, model);
    let batches = (0..spec.blocks)
        .map(|_| generator.next_block(spec.txs_per_block, AccessPattern::Uniform))
        .collect();
    Workload {
        allocation: generator.allocation(),
        batches,
    }
}

/// The workloads of a chain hosting both numbered-account models: one per model, in
/// [`Model::NUMBERED`] order, with
/// accounts kept below the bridge's channel leaves ([`verifier::accounts::Bridge`]: on a chain
/// of two models, the lower half of the tree) and `exit_percent` percent of transfers exiting
/// to a random genesis account of another model (the prover credits them in a later block).
///
/// # Panics
/// If the accounts or transactions exceed the wire limits of an allocation or a batch.
pub fn generate_both(spec: &WorkloadSpec, exit_percent: u8) -> Vec<Workload> {
    generate_numbered(spec, &Model::NUMBERED, exit_percent)
}

/// [`generate_both`] on a chain of `chain_models` (in genesis order), the `evm` model among
/// them or not: the workloads of its models with numbered accounts, each tree cut into the
/// chain's regions. Exits go to any other model: to an `evm` account by its number in the
/// bridge contract's registry (a generated `evm` genesis registers its accounts in order).
///
/// # Panics
/// If the accounts or transactions exceed the wire limits of an allocation or a batch.
pub fn generate_numbered(
    spec: &WorkloadSpec,
    chain_models: &[Model],
    exit_percent: u8,
) -> Vec<Workload> {
    chain_models
        .iter()
        .copied()
        .filter(|m| Model::NUMBERED.contains(m))
        .map(|model| {
            let mut generator = WorkloadGenerator::for_model(spec, model);
            let others: Vec<Model> = chain_models
                .iter()
                .copied()
                .filter(|&m| m != model)
                .collect();
            generator.exits = bridge_key(model)
                .and_then(|key| Bridge::new(spec.tree_depth, &others, key))
                .map(|bridge| Exits {
                    percent: exit_percent,
                    bridge,
                });
            let batches = (0..spec.blocks)
                .map(|_| generator.next_block(spec.txs_per_block, AccessPattern::Uniform))
                .collect();
            Workload {
                allocation: generator.allocation(),
                batches,
            }
        })
        .collect()
}

/// Exits of a workload on a chain of several models.
#[derive(Clone, Copy, Debug)]
struct Exits {
    /// Percent of transfers that exit to another model.
    percent: u8,
    /// The model's bridge: no account is created from its first channel leaf on.
    bridge: Bridge,
}

/// Produces blocks of valid transfers one after another, tracking the state they leave.
pub struct WorkloadGenerator {
    spec: WorkloadSpec,
    model: Model,
    exits: Option<Exits>,
    genesis_keys: Vec<PublicKey>,
    rng: ChaCha8Rng,
    next_new: u64,
    /// (balance, nonce) of every account that has changed; others are at genesis.
    changed: HashMap<u64, (u64, u64)>,
    /// Cumulative Zipf weights over genesis account ranks, built on first use.
    zipf: Option<(f64, Vec<f64>)>,
}

impl WorkloadGenerator {
    /// Derives the genesis keys (in parallel) and starts at genesis, for `transfer`.
    pub fn new(spec: &WorkloadSpec) -> Self {
        Self::for_model(spec, Model::Transfer)
    }

    /// [`WorkloadGenerator::new`] for `model`'s keys and signatures.
    pub fn for_model(spec: &WorkloadSpec, model: Model) -> Self {
        let genesis_keys = (0..spec.accounts)
            .into_par_iter()
            .map(|account| model_public_key(model, spec.seed, account))
            .collect();
        Self {
            spec: *spec,
            model,
            exits: None,
            genesis_keys,
            rng: ChaCha8Rng::seed_from_u64(spec.seed),
            next_new: spec.accounts,
            changed: HashMap::new(),
            zipf: None,
        }
    }

    /// The genesis allocation.
    ///
    /// # Panics
    /// If the accounts exceed the wire limit of an allocation.
    pub fn allocation(&self) -> Allocation {
        let accounts = self
            .genesis_keys
            .iter()
            .map(|&public_key| AccountLeaf {
                public_key,
                balance: GENESIS_BALANCE,
                nonce: 0,
            })
            .collect();
        Allocation {
            chain_id: self.spec.chain_id,
            tree_depth: self.spec.tree_depth,
            model: self.model,
            accounts: VariableList::new(accounts).expect("allocation within its limit"),
        }
    }

    fn pick(&mut self, pattern: AccessPattern) -> u64 {
        match pattern {
            AccessPattern::Uniform => self.rng.random_range(0..self.next_new),
            AccessPattern::Zipf(exponent) => {
                let n = self.spec.accounts.max(1);
                let cdf = match &self.zipf {
                    Some((e, cdf)) if *e == exponent => cdf,
                    _ => {
                        let mut total = 0.0;
                        let cdf = (1..=n)
                            .map(|rank| {
                                total += 1.0 / (rank as f64).powf(exponent);
                                total
                            })
                            .collect();
                        &self.zipf.insert((exponent, cdf)).1
                    }
                };
                let target = self.rng.random::<f64>() * cdf.last().copied().unwrap_or(1.0);
                let rank = cdf.partition_point(|&c| c < target) as u64;
                // Spread ranks over the tree with a multiplier coprime to n.
                let mut stride = 1_000_003 % n;
                while stride == 0 || gcd(stride, n) != 1 {
                    stride += 1;
                }
                ((u128::from(rank.min(n - 1)) * u128::from(stride)) % u128::from(n)) as u64
            }
        }
    }

    /// The next block: `txs` signed transfers, every one valid after the previous ones.
    ///
    /// # Panics
    /// If `txs` exceeds the wire limit of a batch.
    pub fn next_block(&mut self, txs: usize, pattern: AccessPattern) -> TransactionBatch {
        let mut block = Vec::with_capacity(txs);
        for _ in 0..txs {
            let from = self.pick(pattern);
            let (balance, nonce) = self
                .changed
                .get(&from)
                .copied()
                .unwrap_or((GENESIS_BALANCE, 0));
            let amount = self.rng.random_range(1..=1_000).min(balance);
            if let Some(exits) = self.exits
                && self.rng.random_range(0..100u8) < exits.percent
            {
                // An exit to a genesis account of another model: only the sender changes here.
                // (One random draw for the target model only when there is a choice.)
                let others: Vec<Model> = exits.bridge.others().collect();
                let target = match others.as_slice() {
                    [only] => *only,
                    _ => others[self.rng.random_range(0..others.len())],
                };
                let account = self.rng.random_range(0..self.spec.accounts);
                let to = exits
                    .bridge
                    .channel_leaf(target, account)
                    .expect("genesis accounts are below the channel leaves");
                self.changed.insert(from, (balance - amount, nonce + 1));
                block.push(Transaction {
                    from,
                    to,
                    amount,
                    nonce,
                    new_account_key: PublicKey::ZERO,
                    signature: Signature::ZERO,
                });
                continue;
            }
            let creates = self.rng.random_range(0..100u8) < self.spec.new_account_percent
                && self
                    .exits
                    .is_none_or(|exits| self.next_new < exits.bridge.accounts_end());
            let to = if creates {
                self.next_new += 1;
                self.next_new - 1
            } else {
                self.pick(pattern)
            };
            let new_account_key = if creates {
                model_public_key(self.model, self.spec.seed, to)
            } else {
                PublicKey::ZERO
            };
            self.changed.insert(from, (balance - amount, nonce + 1));
            let (to_balance, to_nonce) = self.changed.get(&to).copied().unwrap_or(if creates {
                (0, 0)
            } else {
                (GENESIS_BALANCE, 0)
            });
            self.changed.insert(to, (to_balance + amount, to_nonce));
            block.push(Transaction {
                from,
                to,
                amount,
                nonce,
                new_account_key,
                signature: Signature::ZERO,
            });
        }
        let (chain_id, seed, model) = (self.spec.chain_id, self.spec.seed, self.model);
        block
            .par_iter_mut()
            .for_each(|tx| sign_for(model, chain_id, seed, tx));
        TransactionBatch {
            model,
            transactions: VariableList::new(block).expect("batch within its limit"),
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Signs `tx` with the sender's workload key in `model`'s scheme.
pub fn sign_for(model: Model, chain_id: u64, seed: u64, tx: &mut Transaction) {
    model_keys(model).sign(chain_id, seed, tx);
}

/// Signs `tx` with the sender's `transfer` workload key.
pub fn sign(chain_id: u64, seed: u64, tx: &mut Transaction) {
    sign_for(Model::Transfer, chain_id, seed, tx);
}
