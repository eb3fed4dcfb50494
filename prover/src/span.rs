//! Building span proofs (`stateless history span`) from a chain's blocks, with no database:
//! every `zk-transfer` blob between two checkpoints *A* and *B*, as a proven step (a blob with a
//! zk witness: its public data and proof) or an executed step (a blob without a proof: the blob
//! itself, with its inclusion under the tip), and the genesis, *A* and *B* as ancestors of the
//! tip *T*. [`verifier::verify_span`] checks what this builds.
//!
//! ```text
//! SpanBuilder::new(genesis, A, B, T) ── push(block 1) … push(block T) ── finish(keys) ──> SpanProof
//! ```

use std::sync::Arc;

use ark_bls12_381::Bls12_381;
use ark_groth16::VerifyingKey;
use thiserror::Error;
use verifier::ancestry::AncestryTree;
use verifier::bridge::reserved_bits;
use verifier::hash::{genesis_hash, header_hash};
use verifier::zk_transfer::groth16::{decode_proof, encode_verifying_key};
use verifier::zk_transfer::{PublicData, fr_to_hash, hash_to_fr, public_inputs, tx_commitment};
use verifier::{ChainParams, Reason, VerifyError};
use witness_format::limits::MAX_SPAN_STEPS;
use witness_format::ssz_types::VariableList;
use witness_format::{
    AggregateSpanProof, Anchor, BlobFact, Block, Bytes, ExecutedStep, Genesis, Hash32, Header,
    HistoryFact, HistoryProof, Model, ProvenStep, SpanProof, SpanStep, Witness,
    ZK_VERIFYING_KEY_BYTES, ZkVerifyingKey,
};

use crate::fact_proofs::blob_inclusion;
use crate::zk::aggregate::{Srs, Step as AggregateStep, aggregate as aggregate_steps};

/// Why a span cannot be built.
#[derive(Clone, Debug, Error)]
pub enum SpanBuildError {
    /// The heights asked for are not `A ≤ B ≤ T` with `B ≥ 1`.
    #[error("need --from A <= --to B <= --tip T and B >= 1 (got A = {from}, B = {to}, T = {tip})")]
    Range {
        /// *A*.
        from: u64,
        /// *B*.
        to: u64,
        /// *T*.
        tip: u64,
    },
    /// The genesis is unusable.
    #[error("genesis: {0}")]
    Genesis(VerifyError),
    /// A block came out of height order: the chain is not the one its files say.
    #[error("expected block {expected}, found a block of height {found}")]
    OutOfOrder {
        /// The height expected next.
        expected: u64,
        /// The height found.
        found: u64,
    },
    /// Blocks were given past the tip.
    #[error("block {height} is past the tip {tip}")]
    PastTip {
        /// Its height.
        height: u64,
        /// The tip's height.
        tip: u64,
    },
    /// A proven blob's transactions have no commitment (the chain is invalid there), or no
    /// pinned verifying key fits it, or the key that fits was not given. The error's location
    /// names the block and the blob.
    #[error("{0}")]
    Blob(VerifyError),
    /// Not every block up to the tip was given.
    #[error("blocks up to the tip {tip} were not all given (the last was {last})")]
    Incomplete {
        /// The tip's height.
        tip: u64,
        /// The last height given.
        last: u64,
    },
    /// A blob's inclusion path could not be built (the prover's own error, as text).
    #[error("block {height}, blob {blob}: {message}")]
    Inclusion {
        /// Its block's height.
        height: u64,
        /// Its index in the block.
        blob: usize,
        /// The error.
        message: String,
    },
    /// More `zk-transfer` blobs than one span holds.
    #[error("more than {MAX_SPAN_STEPS} zk-transfer blobs: split the range into several spans")]
    TooManySteps,
    /// An aggregate needs a genesis that pins exactly one verifying key, given.
    #[error(
        "an aggregate span needs a genesis that pins exactly one verifying key (it pins \
         {pinned}), and that key (--keys)"
    )]
    AggregateKeys {
        /// Keys the genesis pins.
        pinned: usize,
    },
    /// The genesis does not pin the SRS given.
    #[error("the genesis does not pin this SRS (key {srs}): prove the chain with --srs")]
    SrsNotPinned {
        /// The SRS key's hash.
        srs: Hash32,
    },
    /// A `zk-transfer` blob of the span has no zk proof: it cannot be aggregated.
    #[error(
        "block {height}, blob {blob} has no zk proof (a Merkle witness or credits): an \
         aggregate span needs every zk-transfer blob proven; use a plain span"
    )]
    NotProven {
        /// Its block's height.
        height: u64,
        /// Its index in the block.
        blob: usize,
    },
    /// The span holds no proven blob: there is nothing to aggregate.
    #[error("the span holds no zk-transfer blob: nothing to aggregate (a plain span proves it)")]
    NoProvenBlobs,
    /// Aggregation failed (the prover's own error, as text).
    #[error("aggregation: {0}")]
    Aggregate(String),
}

impl SpanBuildError {
    /// Whether the error is a defect of the chain (its blocks, genesis or keys), as opposed to
    /// a request this chain cannot serve (a range, a missing block, a span too long).
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Self::Genesis(_) | Self::OutOfOrder { .. } | Self::Blob(_) | Self::Aggregate(_)
        )
    }
}

/// A span proof in the making: blocks `1 ..= T` go in, in height order.
pub struct SpanBuilder {
    genesis: Genesis,
    params: ChainParams,
    from: u64,
    to: u64,
    tip: u64,
    /// Header hashes below the tip (leaf 0 the genesis), for the ancestry proofs.
    tree: AncestryTree,
    /// The height the next block must have.
    next: u64,
    from_header: Option<Header>,
    to_header: Option<Header>,
    tip_header: Option<Header>,
    /// The steps, each with where it comes from (height, blob index). An executed step's
    /// inclusion proof has its fact (the block's header and the blob) but not yet its path to
    /// the tip, which needs the whole accumulator: [`Self::finish`] fills it in.
    steps: Vec<(u64, usize, SpanStep)>,
}

impl SpanBuilder {
    /// Starts a span of the `zk-transfer` state from *A* (`from`, 0 for the genesis) to *B*
    /// (`to`), proven against the header of block *T* (`tip`).
    pub fn new(genesis: Genesis, from: u64, to: u64, tip: u64) -> Result<Self, SpanBuildError> {
        if to == 0 || from > to || to > tip {
            return Err(SpanBuildError::Range { from, to, tip });
        }
        let params = ChainParams::from_genesis(&genesis).map_err(SpanBuildError::Genesis)?;
        let mut tree = AncestryTree::new();
        tree.append(genesis_hash(&genesis));
        Ok(Self {
            genesis,
            params,
            from,
            to,
            tip,
            tree,
            next: 1,
            from_header: None,
            to_header: None,
            tip_header: None,
            steps: Vec::new(),
        })
    }

    /// The next block (height 1, then 2, …, up to the tip).
    pub fn push(&mut self, block: Block) -> Result<(), SpanBuildError> {
        let height = block.header.height;
        if height != self.next {
            return Err(SpanBuildError::OutOfOrder {
                expected: self.next,
                found: height,
            });
        }
        if height > self.tip {
            return Err(SpanBuildError::PastTip {
                height,
                tip: self.tip,
            });
        }
        self.next = height.saturating_add(1);
        if height > self.from && height <= self.to {
            self.add_steps(&block)?;
        }
        if height == self.from {
            self.from_header = Some(block.header.clone());
        }
        if height == self.to {
            self.to_header = Some(block.header.clone());
        }
        if height < self.tip {
            self.tree.append(header_hash(&block.header));
        } else {
            self.tip_header = Some(block.header);
        }
        Ok(())
    }

    /// The `zk-transfer` blobs of `block`, as steps.
    fn add_steps(&mut self, block: &Block) -> Result<(), SpanBuildError> {
        let height = block.header.height;
        for (index, blob) in block.blobs.iter().enumerate() {
            if blob.model != Model::ZkTransfer {
                continue;
            }
            if self.steps.len() >= MAX_SPAN_STEPS {
                return Err(SpanBuildError::TooManySteps);
            }
            let step = match &blob.witness {
                Witness::Zk(witness) => {
                    let commitment = tx_commitment(&blob.transactions)
                        .map_err(|e| SpanBuildError::Blob(e.at_blob(index).at_block(height)))?;
                    SpanStep::Proven(ProvenStep {
                        pre_state_root: blob.pre_state_root,
                        post_state_root: blob.post_state_root,
                        transaction_commitment: fr_to_hash(&commitment),
                        // At most MAX_TRANSACTIONS_PER_BLOB (4,096).
                        transactions: u16::try_from(blob.transactions.len()).unwrap_or(u16::MAX),
                        proof: witness.proof,
                    })
                }
                Witness::Merkle(_)
                | Witness::Credits(_)
                | Witness::Evm(_)
                | Witness::EvmCredits(_) => {
                    let inclusion = blob_inclusion(block, index as u64).map_err(|e| {
                        SpanBuildError::Inclusion {
                            height,
                            blob: index,
                            message: e.to_string(),
                        }
                    })?;
                    SpanStep::Executed(Arc::new(ExecutedStep {
                        inclusion: HistoryProof {
                            tip_height: self.tip,
                            peak_path: VariableList::empty(),
                            other_peaks: VariableList::empty(),
                            fact: HistoryFact::Blob(BlobFact {
                                header: block.header.clone(),
                                blob: inclusion,
                            }),
                        },
                        transactions: blob.transactions.clone(),
                        witness: blob.witness.clone(),
                    }))
                }
            };
            self.steps.push((height, index, step));
        }
        Ok(())
    }

    /// The chain's parameters with `keys` added, once every block up to the tip is in.
    fn complete_params(
        &self,
        keys: &[VerifyingKey<Bls12_381>],
    ) -> Result<ChainParams, SpanBuildError> {
        if self.tip_header.is_none() {
            return Err(self.incomplete());
        }
        let mut params = self.params.clone();
        params.add_zk_keys(keys).map_err(SpanBuildError::Genesis)?;
        Ok(params)
    }

    /// The error of a span asked for before every block up to the tip was pushed.
    fn incomplete(&self) -> SpanBuildError {
        SpanBuildError::Incomplete {
            tip: self.tip,
            last: self.next.saturating_sub(1),
        }
    }

    /// The span, with the verifying keys its proven steps need (from `keys`, each pinned in the
    /// genesis). Every block up to the tip must have been pushed.
    pub fn finish(mut self, keys: &[VerifyingKey<Bls12_381>]) -> Result<SpanProof, SpanBuildError> {
        let params = self.complete_params(keys)?;
        let mut batches = Vec::new();
        for (height, blob, step) in &self.steps {
            if let SpanStep::Proven(step) = step {
                let (batch, _) =
                    params
                        .zk_key_for(usize::from(step.transactions))
                        .map_err(|reason| {
                            SpanBuildError::Blob(
                                VerifyError::from(reason).at_blob(*blob).at_block(*height),
                            )
                        })?;
                batches.push(batch);
            }
        }
        batches.sort_unstable();
        batches.dedup();
        let zk_keys = batches
            .iter()
            .filter_map(|batch| params.zk_keys.iter().find(|(b, _)| b == batch))
            .filter_map(|(_, key)| {
                let encoded = encode_verifying_key(key.verifying_key());
                <[u8; ZK_VERIFYING_KEY_BYTES]>::try_from(encoded.as_slice()).ok()
            })
            .map(|key| ZkVerifyingKey {
                key: Bytes::from(key),
            })
            .collect::<Vec<_>>();

        let incomplete = self.incomplete();
        let tree = &self.tree;
        // Every anchor is at most the tip, whose accumulator is complete.
        let anchor = |anchor: Anchor| tree.anchor_proof(anchor);
        let mut steps = Vec::with_capacity(self.steps.len());
        for (_, _, mut step) in std::mem::take(&mut self.steps) {
            if let SpanStep::Executed(executed) = &mut step {
                let executed = Arc::make_mut(executed);
                if let HistoryFact::Blob(fact) = &executed.inclusion.fact {
                    let path = anchor(Anchor::Header(fact.header.clone()))
                        .ok_or_else(|| incomplete.clone())?;
                    executed.inclusion.peak_path = path.peak_path;
                    executed.inclusion.other_peaks = path.other_peaks;
                }
            }
            steps.push(step);
        }
        let (genesis, from, to) = self.anchors()?;
        Ok(SpanProof {
            genesis,
            from,
            to,
            // Keys are by distinct pinned batch, at most MAX_ZK_KEYS.
            zk_keys: VariableList::new(zk_keys).unwrap_or_default(),
            steps: VariableList::new(steps).map_err(|_| SpanBuildError::TooManySteps)?,
        })
    }

    /// The genesis, *A* and *B* as history proofs against the tip.
    fn anchors(&mut self) -> Result<(HistoryProof, HistoryProof, HistoryProof), SpanBuildError> {
        let incomplete = self.incomplete();
        let tree = &self.tree;
        let anchor = |anchor: Anchor| tree.anchor_proof(anchor);
        let from = match self.from_header.take() {
            Some(header) => Anchor::Header(header),
            None => Anchor::Genesis(self.genesis.clone()),
        };
        let to = self.to_header.take();
        let (Some(genesis), Some(from), Some(to)) = (
            anchor(Anchor::Genesis(self.genesis.clone())),
            anchor(from),
            to.and_then(|to| anchor(Anchor::Header(to))),
        ) else {
            return Err(incomplete);
        };
        Ok((genesis, from, to))
    }

    /// The span as one aggregate proof ([`AggregateSpanProof`]) under `srs`: every
    /// `zk-transfer` blob of the span must carry a zk proof (at least one), the genesis must pin
    /// exactly one verifying key (given in `keys`) and the SRS's key. Every block up to the tip
    /// must have been pushed. The aggregate is verified before it is returned.
    pub fn finish_aggregate(
        mut self,
        keys: &[VerifyingKey<Bls12_381>],
        srs: &Srs,
    ) -> Result<AggregateSpanProof, SpanBuildError> {
        let params = self.complete_params(keys)?;
        let vk = match params.zk_keys.as_slice() {
            [(_, key)] if params.zk_pins.len() == 1 => key.verifying_key().clone(),
            _ => {
                return Err(SpanBuildError::AggregateKeys {
                    pinned: params.zk_pins.len(),
                });
            }
        };
        let srs_key = srs
            .key()
            .map_err(|e| SpanBuildError::Aggregate(e.to_string()))?;
        if self.genesis.zk_srs != Some(srs_key.hash()) {
            return Err(SpanBuildError::SrsNotPinned {
                srs: srs_key.hash(),
            });
        }
        let reserved_bits = reserved_bits(&params, Model::ZkTransfer);
        let mut steps = Vec::with_capacity(self.steps.len());
        for (height, blob, step) in &self.steps {
            let SpanStep::Proven(proven) = step else {
                return Err(SpanBuildError::NotProven {
                    height: *height,
                    blob: *blob,
                });
            };
            let at = |reason: Reason| {
                SpanBuildError::Blob(VerifyError::from(reason).at_blob(*blob).at_block(*height))
            };
            params
                .zk_key_for(usize::from(proven.transactions))
                .map_err(at)?;
            let field = |what, hash: &Hash32| {
                hash_to_fr(hash).ok_or(at(Reason::NonCanonicalFieldElement { what }))
            };
            let data = PublicData {
                pre_state_root: field("pre-state root", &proven.pre_state_root)?,
                post_state_root: field("post-state root", &proven.post_state_root)?,
                commitment: field("transaction commitment", &proven.transaction_commitment)?,
                transactions: u64::from(proven.transactions),
                reserved_bits,
            };
            let proof = decode_proof(&proven.proof.0).map_err(|e| at(Reason::ZkProof(e)))?;
            steps.push(AggregateStep {
                proof,
                inputs: public_inputs(&data),
            });
        }
        if steps.is_empty() {
            return Err(SpanBuildError::NoProvenBlobs);
        }
        let (statement, aggregate) = aggregate_steps(srs, &vk, &steps)
            .map_err(|e| SpanBuildError::Aggregate(e.to_string()))?;
        let (genesis, from, to) = self.anchors()?;
        let zk_key = <[u8; ZK_VERIFYING_KEY_BYTES]>::try_from(encode_verifying_key(&vk).as_slice())
            .map_err(|_| SpanBuildError::Aggregate("the key does not encode".into()))?;
        Ok(AggregateSpanProof {
            genesis,
            from,
            to,
            zk_key: ZkVerifyingKey {
                key: Bytes::from(zk_key),
            },
            srs_key: Bytes::from(srs_key.encode()),
            proofs: statement.proofs,
            aggregate: VariableList::new(aggregate)
                .map_err(|_| SpanBuildError::Aggregate("longer than the format allows".into()))?,
        })
    }
}
