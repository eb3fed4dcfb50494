//! Span validity: the `zk-transfer` state of a checkpoint *B* follows from checkpoint *A*'s by
//! valid blobs, checked against one trusted header (the tip): proven blobs in one batched
//! pairing check, executing no transaction, and blobs without a proof (Merkle witnesses,
//! credits) executed with the native rules.
//!
//! ```text
//!   tip.history_root ── ancestry ── genesis (chain id, pinned key hashes, models)
//!                    ── ancestry ── A (genesis or header): zk root r_A
//!                    ── ancestry ── B (header, or the tip itself): zk root r_B
//!
//!   r_A ─step 1─> post_1 ─step 2─> post_2 ... ─step n─> post_n = r_B
//!   proven step:   public inputs x_i = (pre_i, post_i, commitment_i, n_i, bridge), proof π_i
//!   executed step: blob J of block I (ancestry of I, then the blob's commitment), its
//!                  transactions and witness, checked as `verify` checks it in block I
//! ```
//!
//! So span validity vouches for exactly what `verify` does about the `zk-transfer` state: a
//! proof's circuit holds every native rule a zk blob is held to (bridge leaves included), and
//! a blob without a proof is held to the native rules themselves. [`verify_span`] numbers its
//! checks. The proofs are checked together by [`crate::zk_transfer::batch::verify_batch`], one batched
//! pairing check.

use std::sync::Arc;

use thiserror::Error;
use witness_format::{
    AggregateSpanProof, Blob, ExecutedStep, Genesis, Hash32, Header, HistoryFact, HistoryProof,
    Model, ProvenStep, SpanProof, SpanStep, Witness,
};

use crate::blob::check_blob_in_block;
use crate::bridge::reserved_bits;
use crate::error::{Reason, VerifyError};
use crate::hash::{genesis_hash, header_hash, transactions_root};
use crate::history_proof::{ProvenFact, verify_history_proof};
use crate::params::ChainParams;
use crate::zk_transfer::aggregate::{AggregateError, SrsKey, Statement, verify_aggregate};
use crate::zk_transfer::batch::{BatchEntry, BatchError, verify_batch};
use crate::zk_transfer::groth16::{PreparedKey, ZkVerifyError, decode_verifying_key};
use crate::zk_transfer::{PublicData, hash_to_fr, public_inputs};
use sha3::{Digest, Sha3_256};

/// One point of the chain a span starts or ends at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProvenSpan {
    /// The chain's id.
    pub chain_id: u64,
    /// The chain's genesis hash.
    pub genesis_hash: Hash32,
    /// Checkpoint *A*.
    pub from: Checkpoint,
    /// Checkpoint *B*: a verifier can keep it as its new checkpoint.
    pub to: Checkpoint,
    /// Proofs checked (the `zk-transfer` blobs with a zk witness after *A* up to *B*).
    pub proofs: u64,
    /// Blobs executed (the `zk-transfer` blobs without a proof after *A* up to *B*).
    pub executed: u64,
    /// Transactions those blobs hold (a proven step's count is bound to its proof).
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
    /// A carried verifying key does not decode or does not expect the circuit's public inputs
    /// ([`crate::zk_transfer::PUBLIC_INPUTS`]).
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
    /// A step's proof does not decode, or does not verify under its key for its public inputs.
    #[error("step {step}: zk proof: {error}")]
    StepProof {
        /// The step's index.
        step: usize,
        /// Why.
        error: ZkVerifyError,
    },
    /// An executed step's inclusion proof does not prove a blob of a block in the tip's history
    /// (not an ancestor, altered, or another kind of fact).
    #[error("step {step}: {error}")]
    StepInclusion {
        /// The step's index.
        step: usize,
        /// The history proof's rejection.
        error: Box<VerifyError>,
    },
    /// An executed step's inclusion proves another kind of fact than a blob.
    #[error("step {step}: the inclusion proof does not prove a blob")]
    StepNotABlob {
        /// The step's index.
        step: usize,
    },
    /// An executed step is a blob of another model than `zk-transfer`.
    #[error("step {step}: block {height}, blob {blob} is a {model} blob")]
    StepOfOtherModel {
        /// The step's index.
        step: usize,
        /// Its block's height.
        height: u64,
        /// Its index in the block.
        blob: u64,
        /// Its model.
        model: Model,
    },
    /// An executed step's block is not after *A* and at most *B*.
    #[error("step {step}: block {height} is outside the span ({from}, {to}]")]
    StepOutsideSpan {
        /// The step's index.
        step: usize,
        /// Its block's height.
        height: u64,
        /// *A*'s height.
        from: u64,
        /// *B*'s height.
        to: u64,
    },
    /// An executed step's transactions are not the ones its inclusion proof commits to.
    #[error("step {step}: the transactions are not those of block {height}, blob {blob}")]
    StepTransactionsMismatch {
        /// The step's index.
        step: usize,
        /// Its block's height.
        height: u64,
        /// Its index in the block.
        blob: u64,
    },
    /// An executed step carries a zk witness: a proven blob is a proven step.
    #[error("step {step}: an executed step carries a zk witness")]
    ExecutedZkWitness {
        /// The step's index.
        step: usize,
    },
    /// An executed step's blob is rejected by the native rules, as `verify` would reject it in
    /// its block: the error is `verify`'s, its location names the block, the blob and the
    /// transaction.
    #[error("executed step: {0}")]
    StepRejected(VerifyError),
    /// An aggregate span is checked under the one verifying key its genesis pins; this genesis
    /// pins another number.
    #[error(
        "an aggregate span needs a genesis that pins exactly one verifying key, it pins {pinned}"
    )]
    AggregateKeyCount {
        /// Keys the genesis pins.
        pinned: usize,
    },
    /// The genesis pins no aggregation SRS.
    #[error("the genesis pins no aggregation SRS (prove the chain with --srs)")]
    NoSrsPin,
    /// The carried SRS key is not the one the genesis pins.
    #[error("the SRS key {srs_hash} is not the one the genesis pins ({pinned})")]
    UnpinnedSrs {
        /// The carried key's hash.
        srs_hash: Hash32,
        /// The pinned hash.
        pinned: Hash32,
    },
    /// A checkpoint's root is not a canonical field element (no zk proof can start or end
    /// there).
    #[error("{part}'s zk-transfer root is not a canonical field element")]
    NonCanonicalRoot {
        /// Which checkpoint.
        part: SpanPart,
    },
    /// The aggregate proof is rejected (its SRS key, its bytes or its equations).
    #[error("aggregate: {0}")]
    Aggregate(AggregateError),
    /// The batched check fails although every proof verifies alone. The algebra rules this out;
    /// it is reported rather than accepted.
    #[error("the batched pairing check fails although every proof verifies alone")]
    BatchRejected,
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
/// 3. Each carried key is pinned in the genesis (its bytes' hash, before they are decoded),
///    decodes and expects the circuit's public inputs; the keys are in strictly ascending order
///    of their pinned batch size.
/// 4. Step by step, in order. A proven step: at least one transaction; the pinned key for that
///    count (the smallest batch that fits, as for a blob) is carried; roots and commitment are
///    canonical field elements. An executed step: its inclusion proves blob J of a block I in
///    the tip's history, with *A* < I ≤ *B*; the blob is `zk-transfer`'s; the step's
///    transactions have the proven transaction root; its witness is not a zk witness; and the
///    blob passes every check `verify` makes of it in block I (credits against I's history).
///    Either way, the step starts where the previous one ended (*A*'s root for the first).
/// 5. The last step ends at *B*'s root (*A*'s root is *B*'s when there is no step), and every
///    carried key is used by some step.
/// 6. All proofs together in one batched pairing check ([`verify_batch`]); if it fails, the
///    first step whose proof fails alone is reported.
///
/// No proven blob's transaction is executed: its public inputs bind its roots, the commitment
/// to its transactions and signatures, their number and the chain's bridge, which is all a
/// proof needs. Never panics, for any input; the work is bounded by the span's limits
/// (`MAX_SPAN_STEPS` steps, `MAX_ZK_KEYS` keys, and each executed blob's own limits).
pub fn verify_span(span: &SpanProof, tip: &Header) -> Result<ProvenSpan, SpanError> {
    // 1. and 2.
    let (genesis, mut params, from, to) = span_ends(tip, &span.genesis, &span.from, &span.to)?;

    // 3. The keys.
    let mut keys: Vec<(u16, Arc<PreparedKey>)> = Vec::with_capacity(span.zk_keys.len());
    for (index, carried) in span.zk_keys.iter().enumerate() {
        // Pinned first (one hash of the bytes), decoded after (curve point checks).
        let vk_hash = Hash32::from(<[u8; 32]>::from(Sha3_256::digest(carried.key.0)));
        let Some(pin) = params.zk_pins.iter().find(|pin| pin.vk_hash == vk_hash) else {
            return Err(SpanError::UnpinnedKey { index, vk_hash });
        };
        let vk = decode_verifying_key(&carried.key.0)
            .map_err(|error| SpanError::Key { index, error })?;
        let batch = pin.batch;
        if keys.last().is_some_and(|(previous, _)| *previous >= batch) {
            return Err(SpanError::KeysOutOfOrder { index, batch });
        }
        let prepared = PreparedKey::new(&vk).map_err(|error| SpanError::Key { index, error })?;
        keys.push((batch, Arc::new(prepared)));
    }
    params.zk_keys = keys;

    // 4. The steps and their links.
    let reserved = reserved_bits(&params, Model::ZkTransfer);
    let mut entries = Vec::with_capacity(span.steps.len());
    // The step of each entry (executed steps have none).
    let mut entry_steps = Vec::with_capacity(span.steps.len());
    let mut used = vec![false; params.zk_keys.len()];
    let mut current = from.zk_root;
    let mut transactions = 0u64;
    let mut executed = 0u64;
    for (step, s) in span.steps.iter().enumerate() {
        let (pre, post, count) = match s {
            SpanStep::Proven(proven) => {
                let (entry, count) = proven_step(&params, reserved, step, proven)?;
                if let Some(flag) = used.get_mut(entry.key) {
                    *flag = true;
                }
                entries.push(entry);
                entry_steps.push(step);
                (proven.pre_state_root, proven.post_state_root, count)
            }
            SpanStep::Executed(executed_step) => {
                executed = executed.saturating_add(1);
                executed_step_roots(&params, tip, (&from, &to), step, executed_step)?
            }
        };
        if pre != current {
            return Err(SpanError::BrokenLink {
                step,
                expected: current,
                found: pre,
            });
        }
        current = post;
        transactions = transactions.saturating_add(count);
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
        BatchError::Proof { entry, error } => SpanError::StepProof {
            step: entry_steps.get(entry).copied().unwrap_or(entry),
            error,
        },
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
        executed,
        transactions,
    })
}

/// A proven step's entry in the batched pairing check, and its transaction count: the key its
/// count picks must be carried, its roots and commitment canonical field elements.
fn proven_step<'a>(
    params: &ChainParams,
    reserved_bits: u8,
    step: usize,
    s: &'a ProvenStep,
) -> Result<(BatchEntry<'a>, u64), SpanError> {
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
    let field = |hash: &Hash32, what: &'static str| {
        hash_to_fr(hash).ok_or(SpanError::NonCanonicalFieldElement { step, what })
    };
    let data = PublicData {
        pre_state_root: field(&s.pre_state_root, "pre-state root")?,
        post_state_root: field(&s.post_state_root, "post-state root")?,
        commitment: field(&s.transaction_commitment, "transaction commitment")?,
        transactions: u64::from(s.transactions),
        reserved_bits,
    };
    let entry = BatchEntry {
        key,
        public_inputs: public_inputs(&data),
        proof: &s.proof.0,
    };
    Ok((entry, u64::from(s.transactions)))
}

/// Checks an executed step (see [`verify_span`], step 4) and returns its blob's roots and
/// transaction count.
fn executed_step_roots(
    params: &ChainParams,
    tip: &Header,
    (from, to): (&Checkpoint, &Checkpoint),
    step: usize,
    s: &ExecutedStep,
) -> Result<(Hash32, Hash32, u64), SpanError> {
    let proven =
        verify_history_proof(&s.inclusion, tip).map_err(|error| SpanError::StepInclusion {
            step,
            error: Box::new(error),
        })?;
    let (ProvenFact::Blob { height, index, .. }, HistoryFact::Blob(fact)) =
        (proven, &s.inclusion.fact)
    else {
        return Err(SpanError::StepNotABlob { step });
    };
    let inclusion = &fact.blob;
    if inclusion.model != Model::ZkTransfer {
        return Err(SpanError::StepOfOtherModel {
            step,
            height,
            blob: index,
            model: inclusion.model,
        });
    }
    if height <= from.height || height > to.height {
        return Err(SpanError::StepOutsideSpan {
            step,
            height,
            from: from.height,
            to: to.height,
        });
    }
    if transactions_root(&s.transactions) != inclusion.transactions_root {
        return Err(SpanError::StepTransactionsMismatch {
            step,
            height,
            blob: index,
        });
    }
    if matches!(s.witness, Witness::Zk(_)) {
        return Err(SpanError::ExecutedZkWitness { step });
    }
    let blob = Blob {
        model: inclusion.model,
        pre_state_root: inclusion.pre_state_root,
        post_state_root: inclusion.post_state_root,
        transactions: s.transactions.clone(),
        witness: s.witness.clone(),
    };
    let rejected = |error: VerifyError| {
        SpanError::StepRejected(
            error
                .at_blob(usize::try_from(index).unwrap_or(usize::MAX))
                .at_block(height),
        )
    };
    match check_blob_in_block(params, &fact.header, &blob, false).map_err(rejected)? {
        None => Ok((
            blob.pre_state_root,
            blob.post_state_root,
            blob.transactions.len() as u64,
        )),
        // Not reached: a zk witness was refused above.
        Some(_) => Err(SpanError::ExecutedZkWitness { step }),
    }
}

/// What a span's history proof anchors.
/// What a valid aggregate span proof establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregatedSpan {
    /// The span, as [`verify_span`] reports one (`executed` is 0: every blob is proven).
    pub span: ProvenSpan,
    /// The KZG commitment to the blobs' transaction commitments, in order (compressed G1).
    pub transaction_commitments: Vec<u8>,
}

/// Checks an aggregate span proof against the trusted header `tip`: the genesis, *A* and *B*
/// as [`verify_span`] checks them (steps 1 and 2), then that the genesis pins exactly one
/// verifying key and it is the carried one, that it pins the carried SRS key, and the
/// aggregate ([`verify_aggregate`]) for the statement "`proofs` valid blobs chain *A*'s
/// `zk-transfer` root to *B*'s" under the chain's reserved bits. The blobs' count of
/// transactions comes from the aggregate. Never panics; the work is bounded by the aggregate's
/// at most 16 rounds.
pub fn verify_aggregate_span(
    span: &AggregateSpanProof,
    tip: &Header,
) -> Result<AggregatedSpan, SpanError> {
    let (genesis, params, from, to) = span_ends(tip, &span.genesis, &span.from, &span.to)?;
    let vk_hash = Hash32::from(<[u8; 32]>::from(Sha3_256::digest(span.zk_key.key.0)));
    match params.zk_pins.as_slice() {
        [pin] if pin.vk_hash == vk_hash => {}
        [_] => return Err(SpanError::UnpinnedKey { index: 0, vk_hash }),
        pins => return Err(SpanError::AggregateKeyCount { pinned: pins.len() }),
    }
    let vk = decode_verifying_key(&span.zk_key.key.0)
        .map_err(|error| SpanError::Key { index: 0, error })?;
    let pinned = genesis.zk_srs.ok_or(SpanError::NoSrsPin)?;
    let srs = SrsKey::decode(&span.srs_key.0).map_err(SpanError::Aggregate)?;
    let srs_hash = srs.hash();
    if srs_hash != pinned {
        return Err(SpanError::UnpinnedSrs { srs_hash, pinned });
    }
    let root = |part, checkpoint: &Checkpoint| {
        hash_to_fr(&checkpoint.zk_root).ok_or(SpanError::NonCanonicalRoot { part })
    };
    let statement = Statement {
        proofs: span.proofs,
        pre_state_root: root(SpanPart::From, &from)?,
        post_state_root: root(SpanPart::To, &to)?,
        reserved_bits: reserved_bits(&params, Model::ZkTransfer),
    };
    let outcome =
        verify_aggregate(&vk, &srs, &statement, &span.aggregate).map_err(SpanError::Aggregate)?;
    Ok(AggregatedSpan {
        span: ProvenSpan {
            chain_id: genesis.chain_id,
            genesis_hash: genesis_hash(&genesis),
            from,
            to,
            proofs: u64::from(span.proofs),
            executed: 0,
            transactions: outcome.transactions,
        },
        transaction_commitments: outcome.commitments.to_vec(),
    })
}

/// Steps 1 and 2 of [`verify_span`] (and [`verify_aggregate_span`]): the genesis, *A* and *B*
/// hung from the tip, *A* not above *B*, both with a `zk-transfer` root.
fn span_ends(
    tip: &Header,
    genesis: &HistoryProof,
    from: &HistoryProof,
    to: &HistoryProof,
) -> Result<(Genesis, ChainParams, Checkpoint, Checkpoint), SpanError> {
    let genesis = match anchor(SpanPart::Genesis, genesis, tip)? {
        Anchored::Genesis(genesis) => genesis,
        Anchored::Header(_) => {
            return Err(SpanError::WrongAnchor {
                part: SpanPart::Genesis,
                expected: "the genesis",
            });
        }
    };
    let params = ChainParams::from_genesis(&genesis).map_err(SpanError::InvalidGenesis)?;

    // 2. The checkpoints.
    let from = checkpoint(SpanPart::From, anchor(SpanPart::From, from, tip)?)?;
    let to = match anchor(SpanPart::To, to, tip)? {
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

    Ok((genesis, params, from, to))
}

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
