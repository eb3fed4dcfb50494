//! Span validity: the `zk-transfer` state of a checkpoint *B* follows from checkpoint *A*'s by
//! proven blobs, checked against one trusted header (the tip) in one batched pairing check,
//! executing no transaction.
//!
//! ```text
//!   tip.history_root ── ancestry ── genesis (chain id, pinned key hashes)
//!                    ── ancestry ── A (genesis or header): zk root r_A
//!                    ── ancestry ── B (header, or the tip itself): zk root r_B
//!
//!   r_A ─step 1─> post_1 ─step 2─> post_2 ... ─step n─> post_n = r_B
//!   step i: public input x_i = H(pre_i, post_i, commitment_i, chain_id, 1), proof π_i
//! ```
//!
//! [`verify_span`] numbers its checks. The proofs are checked together by [`verify_batch`]: for
//! random 128-bit scalars `r_i`, one Miller loop over all pairs and one final exponentiation
//! decide
//!
//! ```text
//!   Π e(r_i·A_i, B_i) · Π_k [ e(−(Σ r_i)·α_k, β_k) · e(−Σ r_i·IC_k(x_i), γ_k) · e(−Σ r_i·C_i, δ_k) ] = 1
//! ```
//!
//! (k over the verifying keys, each sum over the proofs under key k; `IC_k(x) = ic_0 + x·ic_1`,
//! so `Σ r_i·IC_k(x_i) = (Σ r_i)·ic_0 + (Σ r_i·x_i)·ic_1`: two scalar multiplications per key,
//! not one per proof). Each proof that verifies alone satisfies its own equation, so the product
//! is 1; if one does not, the product is 1 only with probability about 2^-128 over the `r_i`.
//! The `r_i` are derived by hashing every key, public input and proof (Fiat-Shamir), so a
//! prover fixes the proofs before it learns them, and the verdict does not depend on the thread
//! count or any randomness source. The chain verifier checks the zk blobs of its blocks with the
//! same [`verify_batch`].

use std::sync::Arc;

use ark_bls12_381::{Bls12_381, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::{MillerLoopOutput, Pairing};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{AdditiveGroup, One, PrimeField};
use ark_groth16::Proof;
use rayon::prelude::*;
use sha3::{Digest, Sha3_256};
use thiserror::Error;
use witness_format::{Genesis, Hash32, Header, Model, SpanProof};

use crate::chain::ChainParams;
use crate::error::{Reason, VerifyError};
use crate::hash::{genesis_hash, header_hash};
use crate::history_proof::{ProvenFact, verify_history_proof};
use crate::zk_transfer::{fr_to_hash, hash_to_fr, public_input};
use crate::zk_verify::{
    PROOF_BYTES, PreparedKey, ZkVerifyError, decode_proof, decode_verifying_key, verify_zk_blob,
    verifying_key_hash,
};

/// Pairs per Miller loop call. Each pair holds about 20 KB of precomputed line coefficients for
/// its G2 point, so the loop runs over chunks (multiplying their outputs, which is exact) to keep
/// memory bounded for any number of proofs; 256 pairs are about 5 MB.
const MILLER_CHUNK: usize = 256;

/// Domain separation of the batch's Fiat-Shamir transcript.
const BATCH_DOMAIN: &[u8] = b"stateless/span/groth16-batch/v1";

/// One point of the chain a span starts or ends at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Its height (0: the genesis).
    pub height: u64,
    /// Its hash (the genesis's or the header's).
    pub hash: Hash32,
    /// Its `zk-transfer` state root.
    pub zk_root: Hash32,
}

/// What a valid span proof establishes: the `zk-transfer` state at `to` follows from the one at
/// `from` by `proofs` proven blobs, in a chain whose tip the caller trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenSpan {
    /// The chain's id.
    pub chain_id: u64,
    /// The chain's genesis hash.
    pub genesis_hash: Hash32,
    /// Checkpoint *A*.
    pub from: Checkpoint,
    /// Checkpoint *B*: a verifier can keep it as its new checkpoint.
    pub to: Checkpoint,
    /// Proofs checked (the `zk-transfer` blobs after *A* up to *B*).
    pub proofs: u64,
    /// Transactions those blobs hold, as their steps count them.
    pub transactions: u64,
}

/// Which of a span's three history proofs a rejection concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanPart {
    /// The genesis.
    Genesis,
    /// Checkpoint *A*.
    From,
    /// Checkpoint *B*.
    To,
}

impl std::fmt::Display for SpanPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SpanPart::Genesis => "genesis",
            SpanPart::From => "checkpoint A",
            SpanPart::To => "checkpoint B",
        })
    }
}

/// Why a span proof is rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SpanError {
    /// A history proof does not prove its anchor against the tip: not an ancestor, a fork,
    /// another tip, or an altered proof.
    #[error("{part}: {error}")]
    Ancestry {
        /// Which proof.
        part: SpanPart,
        /// The history proof's rejection.
        error: VerifyError,
    },
    /// A history proof proves another kind of anchor than its part needs (the genesis for
    /// `genesis`, the genesis or a header for *A*, a header for *B*), or not an anchor at all.
    #[error("{part}: the proof does not prove {expected}")]
    WrongAnchor {
        /// Which proof.
        part: SpanPart,
        /// What it must prove.
        expected: &'static str,
    },
    /// The genesis is unusable.
    #[error("genesis: {0}")]
    InvalidGenesis(VerifyError),
    /// *A* is above *B*.
    #[error("checkpoint A at height {from} is above checkpoint B at height {to}")]
    FromAfterTo {
        /// *A*'s height.
        from: u64,
        /// *B*'s height.
        to: u64,
    },
    /// A checkpoint has no `zk-transfer` state root.
    #[error("{part} (height {height}) has no zk-transfer state root")]
    NoZkModel {
        /// Which checkpoint.
        part: SpanPart,
        /// Its height.
        height: u64,
    },
    /// A carried verifying key does not decode or does not expect one public input.
    #[error("verifying key {index}: {error}")]
    Key {
        /// Its index among the carried keys.
        index: usize,
        /// Why.
        error: ZkVerifyError,
    },
    /// A carried verifying key is not pinned in the genesis.
    #[error("verifying key {index} ({vk_hash}) is not pinned in the genesis")]
    UnpinnedKey {
        /// Its index among the carried keys.
        index: usize,
        /// Its hash.
        vk_hash: Hash32,
    },
    /// The carried keys are not in strictly ascending order of their pinned batch size (a key
    /// repeated, or out of order).
    #[error("verifying key {index} (batch {batch}) is not after the previous key's batch")]
    KeysOutOfOrder {
        /// Its index among the carried keys.
        index: usize,
        /// The batch size it is pinned for.
        batch: u16,
    },
    /// A carried verifying key is not the key of any step.
    #[error("verifying key for batch {batch} is carried but no step uses it")]
    UnusedKey {
        /// The batch size it is pinned for.
        batch: u16,
    },
    /// A step claims no transactions: no blob is empty.
    #[error("step {step} has no transactions")]
    EmptyStep {
        /// The step's index.
        step: usize,
    },
    /// No carried key can check a step: no pin fits its transaction count, or the pinned key
    /// that fits is not carried.
    #[error("step {step}: {reason}")]
    StepKey {
        /// The step's index.
        step: usize,
        /// Why ([`Reason::NoZkKeyForBatch`] or [`Reason::ZkKeyNotLoaded`]).
        reason: Reason,
    },
    /// A step's root or commitment is not a canonical field element.
    #[error("step {step}: the {what} is not a canonical field element")]
    NonCanonicalFieldElement {
        /// The step's index.
        step: usize,
        /// Which value.
        what: &'static str,
    },
    /// A step does not start where the previous one ended (or, for the first, at *A*'s root):
    /// a step is missing, reordered or altered.
    #[error("step {step} starts from {found}, the previous state root is {expected}")]
    BrokenLink {
        /// The step's index.
        step: usize,
        /// The root the previous step ended at (*A*'s for step 0).
        expected: Hash32,
        /// The step's pre-state root.
        found: Hash32,
    },
    /// The last step does not end at *B*'s root (with no step: *A*'s root is not *B*'s).
    #[error("the steps end at {found}, checkpoint B's zk-transfer root is {expected}")]
    EndMismatch {
        /// *B*'s root.
        expected: Hash32,
        /// The root the steps end at.
        found: Hash32,
    },
    /// A step's proof does not decode, or does not verify under its key for its public input.
    #[error("step {step}: zk proof: {error}")]
    StepProof {
        /// The step's index.
        step: usize,
        /// Why.
        error: ZkVerifyError,
    },
    /// The batched check fails although every proof verifies alone. The algebra rules this out;
    /// it is reported rather than accepted.
    #[error("the batched pairing check fails although every proof verifies alone")]
    BatchRejected,
}

/// One proof of a batch: the index of its key in the batch's key list, its public input, and
/// its 192 bytes.
#[derive(Clone, Copy, Debug)]
pub struct BatchEntry<'a> {
    /// Index into the keys given to [`verify_batch`].
    pub key: usize,
    /// The proof's one public input.
    pub public_input: Fr,
    /// The proof, compressed.
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
    /// A key does not expect exactly one public input.
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

/// Checks `span` against the trusted header `tip` and returns what it proves.
///
/// Needs nothing but the two: the genesis, the checkpoints and the verifying keys travel in the
/// span, each tied to the tip by its history root or to the genesis by its pinned hash. Checks,
/// in this order (the first failure is reported):
///
/// 1. The genesis is leaf 0 of the tip's history ([`verify_history_proof`]) and valid.
/// 2. *A* (the genesis or a header) and *B* (a header, or the tip itself) are in the tip's
///    history, *A* not above *B*, and both have a `zk-transfer` state root.
/// 3. Each carried key decodes, expects one public input, and is pinned in the genesis; the
///    keys are in strictly ascending order of their pinned batch size.
/// 4. Step by step, in order: at least one transaction; the pinned key for that count (the
///    smallest batch that fits, as for a blob) is carried; roots and commitment are canonical
///    field elements; the step starts where the previous one ended (*A*'s root for the first).
/// 5. The last step ends at *B*'s root (*A*'s root is *B*'s when there is no step), and every
///    carried key is used by some step.
/// 6. All proofs together in one batched pairing check ([`verify_batch`]); if it fails, the
///    first step whose proof fails alone is reported.
///
/// No transaction is executed: a step's public input binds its roots and the commitment to its
/// transactions, which is all a proof needs. Never panics, for any input; the work is bounded
/// by the span's limits (`MAX_SPAN_STEPS` proofs, `MAX_ZK_KEYS` keys).
pub fn verify_span(span: &SpanProof, tip: &Header) -> Result<ProvenSpan, SpanError> {
    // 1. The genesis.
    let genesis = match anchor(SpanPart::Genesis, &span.genesis, tip)? {
        Anchored::Genesis(genesis) => genesis,
        Anchored::Header(_) => {
            return Err(SpanError::WrongAnchor {
                part: SpanPart::Genesis,
                expected: "the genesis",
            });
        }
    };
    let mut params = ChainParams::from_genesis(&genesis).map_err(SpanError::InvalidGenesis)?;

    // 2. The checkpoints.
    let from = checkpoint(SpanPart::From, anchor(SpanPart::From, &span.from, tip)?)?;
    let to = match anchor(SpanPart::To, &span.to, tip)? {
        Anchored::Header(header) => checkpoint(SpanPart::To, Anchored::Header(header))?,
        Anchored::Genesis(_) => {
            return Err(SpanError::WrongAnchor {
                part: SpanPart::To,
                expected: "a header",
            });
        }
    };
    if from.height > to.height {
        return Err(SpanError::FromAfterTo {
            from: from.height,
            to: to.height,
        });
    }

    // 3. The keys.
    let mut keys: Vec<(u16, Arc<PreparedKey>)> = Vec::with_capacity(span.zk_keys.len());
    for (index, carried) in span.zk_keys.iter().enumerate() {
        let vk = decode_verifying_key(&carried.key.0)
            .map_err(|error| SpanError::Key { index, error })?;
        let vk_hash = verifying_key_hash(&vk);
        let Some(pin) = params.zk_pins.iter().find(|pin| pin.vk_hash == vk_hash) else {
            return Err(SpanError::UnpinnedKey { index, vk_hash });
        };
        let batch = pin.batch;
        if keys.last().is_some_and(|(previous, _)| *previous >= batch) {
            return Err(SpanError::KeysOutOfOrder { index, batch });
        }
        let prepared = PreparedKey::new(&vk).map_err(|error| SpanError::Key { index, error })?;
        keys.push((batch, Arc::new(prepared)));
    }
    params.zk_keys = keys;

    // 4. The steps and their links.
    let mut entries = Vec::with_capacity(span.steps.len());
    let mut used = vec![false; params.zk_keys.len()];
    let mut current = from.zk_root;
    let mut transactions = 0u64;
    for (step, s) in span.steps.iter().enumerate() {
        if s.transactions == 0 {
            return Err(SpanError::EmptyStep { step });
        }
        let (batch, _) = params
            .zk_key_for(usize::from(s.transactions))
            .map_err(|reason| SpanError::StepKey { step, reason })?;
        let key = params
            .zk_keys
            .iter()
            .position(|(b, _)| *b == batch)
            .unwrap_or_default();
        if let Some(flag) = used.get_mut(key) {
            *flag = true;
        }
        let field = |hash: &Hash32, what: &'static str| {
            hash_to_fr(hash).ok_or(SpanError::NonCanonicalFieldElement { step, what })
        };
        let pre = field(&s.pre_state_root, "pre-state root")?;
        let post = field(&s.post_state_root, "post-state root")?;
        let commitment = field(&s.transaction_commitment, "transaction commitment")?;
        if s.pre_state_root != current {
            return Err(SpanError::BrokenLink {
                step,
                expected: current,
                found: s.pre_state_root,
            });
        }
        current = s.post_state_root;
        transactions = transactions.saturating_add(u64::from(s.transactions));
        entries.push(BatchEntry {
            key,
            public_input: public_input(params.chain_id, pre, post, commitment),
            proof: &s.proof.0,
        });
    }

    // 5. The end, and no key carried for nothing.
    if current != to.zk_root {
        return Err(SpanError::EndMismatch {
            expected: to.zk_root,
            found: current,
        });
    }
    if let Some((batch, _)) = params
        .zk_keys
        .iter()
        .zip(&used)
        .find(|(_, used)| !**used)
        .map(|(key, _)| key)
    {
        return Err(SpanError::UnusedKey { batch: *batch });
    }

    // 6. Every proof, in one batch.
    let prepared: Vec<&PreparedKey> = params.zk_keys.iter().map(|(_, k)| k.as_ref()).collect();
    verify_batch(&prepared, &entries).map_err(|error| match error {
        BatchError::Proof { entry, error } => SpanError::StepProof { step: entry, error },
        // Keys were checked in step 3 and every entry names one of them.
        BatchError::Key { .. } | BatchError::UnknownKey { .. } | BatchError::Rejected => {
            SpanError::BatchRejected
        }
    })?;

    Ok(ProvenSpan {
        chain_id: params.chain_id,
        genesis_hash: genesis_hash(&genesis),
        from,
        to,
        proofs: entries.len() as u64,
        transactions,
    })
}

/// What a span's history proof anchors.
enum Anchored {
    Genesis(Genesis),
    Header(Header),
}

/// Checks one of the span's history proofs against the tip; it must prove an anchor.
fn anchor(
    part: SpanPart,
    proof: &witness_format::HistoryProof,
    tip: &Header,
) -> Result<Anchored, SpanError> {
    match verify_history_proof(proof, tip).map_err(|error| SpanError::Ancestry { part, error })? {
        ProvenFact::Genesis { genesis, .. } => Ok(Anchored::Genesis(genesis)),
        ProvenFact::Header { header, .. } => Ok(Anchored::Header(header)),
        _ => Err(SpanError::WrongAnchor {
            part,
            expected: match part {
                SpanPart::Genesis => "the genesis",
                SpanPart::From => "the genesis or a header",
                SpanPart::To => "a header",
            },
        }),
    }
}

/// A checkpoint's height, hash and `zk-transfer` root.
fn checkpoint(part: SpanPart, anchored: Anchored) -> Result<Checkpoint, SpanError> {
    let (height, hash, roots) = match &anchored {
        Anchored::Genesis(genesis) => (0, genesis_hash(genesis), &genesis.state_roots),
        Anchored::Header(header) => (header.height, header_hash(header), &header.state_roots),
    };
    let zk_root = roots
        .iter()
        .find(|root| root.model == Model::ZkTransfer)
        .map(|root| root.root)
        .ok_or(SpanError::NoZkModel { part, height })?;
    Ok(Checkpoint {
        height,
        hash,
        zk_root,
    })
}

/// Checks many Groth16 proofs (BLS12-381, one public input each) in one batched pairing check:
/// one Miller loop over `n + 3k` pairs (n proofs, k keys) and one final exponentiation.
///
/// Every proof is decoded with validation first (in parallel; the first undecodable one in
/// entry order is reported). When the batch fails, the proofs are checked one by one and the
/// first that fails is reported, so a rejection names its proof, as a one-by-one check would.
/// The random scalars come from a hash of all keys, public inputs and proofs: the verdict and
/// the error are the same for every thread count. Never panics, for any input.
pub fn verify_batch(keys: &[&PreparedKey], entries: &[BatchEntry<'_>]) -> Result<(), BatchError> {
    // The key bases: ark-groth16 does not check the public-input count, so each key's bases
    // are taken only if there are exactly two (ic_0 and ic_1).
    let mut bases = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        let vk = key.verifying_key();
        match vk.gamma_abc_g1.as_slice() {
            [ic0, ic1] => bases.push((*ic0, *ic1)),
            _ => {
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
        if let Err(error) = verify_zk_blob(key, e.public_input, e.proof) {
            return Err(BatchError::Proof { entry, error });
        }
    }
    Err(BatchError::Rejected)
}

/// The batch's 128-bit scalars: `r_i` is the first 16 bytes (little-endian) of
/// `SHA3-256(seed ‖ i)`, the seed hashing the domain, every key's hash, and every entry's key
/// index, public input and proof.
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
        transcript.update(fr_to_hash(&entry.public_input).0);
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
fn batch_holds(
    keys: &[&PreparedKey],
    bases: &[(G1Affine, G1Affine)],
    entries: &[BatchEntry<'_>],
    proofs: &[Proof<Bls12_381>],
    scalars: &[u128],
) -> bool {
    // Per proof: (r_i·A_i, B_i).
    let mut pairs: Vec<(G1Affine, G2Affine)> = proofs
        .par_iter()
        .zip(scalars)
        .map(|(proof, &r)| (proof.a.mul_bigint(limbs(r)).into_affine(), proof.b))
        .collect();
    // Per key: the three fixed pairs, with the sums over that key's proofs, negated.
    for (index, (key, (ic0, ic1))) in keys.iter().zip(bases).enumerate() {
        let mut sum_r = Fr::ZERO;
        let mut sum_rx = Fr::ZERO;
        let mut c_points = Vec::new();
        let mut c_scalars = Vec::new();
        for ((entry, proof), &r) in entries.iter().zip(proofs).zip(scalars) {
            if entry.key == index {
                let r = Fr::from(r);
                sum_r += r;
                sum_rx += r * entry.public_input;
                c_points.push(proof.c);
                c_scalars.push(-r);
            }
        }
        if c_points.is_empty() {
            continue;
        }
        let vk = key.verifying_key();
        let alpha = vk.alpha_g1.mul_bigint((-sum_r).into_bigint());
        let Ok(inputs) = G1Projective::msm(&[*ic0, *ic1], &[-sum_r, -sum_rx]) else {
            return false;
        };
        let Ok(c) = G1Projective::msm(&c_points, &c_scalars) else {
            return false;
        };
        pairs.push((alpha.into_affine(), vk.beta_g2));
        pairs.push((inputs.into_affine(), vk.gamma_g2));
        pairs.push((c.into_affine(), vk.delta_g2));
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

    use crate::zk_verify::encode_proof;

    /// The prover's pinned proof (chain 7, depth 4, batch 2): key, public input, proof.
    fn pinned() -> (PreparedKey, Fr, Proof<Bls12_381>, Vec<u8>) {
        let text = include_str!("../../prover/tests/data/zk_pinned_d4_b2.txt");
        let field = |name: &str| {
            let line = text
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name}=")))
                .unwrap();
            hex::decode(line).unwrap()
        };
        let vk_bytes = field("verifying_key");
        let vk = decode_verifying_key(&vk_bytes).unwrap();
        let input = hash_to_fr(&Hash32::from(
            <[u8; 32]>::try_from(field("public_input")).unwrap(),
        ))
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

    fn entries(input: Fr, proofs: &[[u8; PROOF_BYTES]]) -> Vec<BatchEntry<'_>> {
        proofs
            .iter()
            .map(|proof| BatchEntry {
                key: 0,
                public_input: input,
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
            assert_eq!(verify_zk_blob(&key, input, bytes), Ok(()));
        }
        assert_eq!(verify_batch(&[&key], &entries(input, &proofs)), Ok(()));
        assert_eq!(verify_batch(&[&key], &[]), Ok(()));
    }

    #[test]
    fn the_first_bad_proof_is_named() {
        let (key, input, proof, _) = pinned();
        let proofs = batch_of(&key, &proof, 6);

        // Another public input for one proof.
        let mut list = entries(input, &proofs);
        list[4].public_input = input + Fr::ONE;
        assert_eq!(
            verify_batch(&[&key], &list),
            Err(BatchError::Proof {
                entry: 4,
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
        let mut list = entries(input, &proofs);
        list[0].public_input = input + Fr::ONE;
        assert_ne!(base, batch_scalars(&[&key], &list));
    }
}
