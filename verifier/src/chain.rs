//! Checking a chain of blocks from its genesis, with no state but a few hashes.

use ark_bls12_381::Bls12_381;
use ark_groth16::VerifyingKey;
use rayon::prelude::*;
use witness_format::{Block, Genesis, Hash32, Model, ModelRoot};

use crate::accumulator::{HistoryAccumulator, blobs_root};
use crate::blob::check_blob_in_block;
use crate::error::{Reason, VerifyError};
use crate::hash::{blob_commitment, genesis_hash, header_hash};
use crate::model::{BlobLink, PendingProof};
use crate::models::model;
use crate::params::ChainParams;
use crate::zk_transfer::batch::{BatchEntry, verify_batch};
use crate::zk_transfer::groth16::PreparedKey;

/// What a verified chain ends with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSummary {
    /// Height of the last block (0 for a chain of only its genesis).
    pub height: u64,
    /// Hash of the last header (of the genesis for height 0).
    pub tip_hash: Hash32,
    /// Each model's state root after the last block.
    pub state_roots: Vec<ModelRoot>,
    /// Blocks checked.
    pub blocks: u64,
    /// Blobs checked.
    pub blobs: u64,
    /// Transactions checked.
    pub transactions: u64,
}

/// Checks consecutive blocks of one chain, keeping only what linkage needs: the tip hash, the
/// history accumulator and each model's current root.
///
/// Blocks can be fed in windows of any size ([`ChainVerifier::verify_blocks`]); the verdict and
/// the error are the same as for one call with all of them.
#[derive(Debug)]
pub struct ChainVerifier {
    params: ChainParams,
    summary: ChainSummary,
    history: HistoryAccumulator,
    /// The models whose blobs link to each other in order ([`ExecutionModel::blob_link`]).
    links: Vec<(Model, Box<dyn BlobLink>)>,
}

impl Clone for ChainVerifier {
    fn clone(&self) -> Self {
        Self {
            params: self.params.clone(),
            summary: self.summary.clone(),
            history: self.history.clone(),
            links: self
                .links
                .iter()
                .map(|(model, link)| (*model, link.clone_box()))
                .collect(),
        }
    }
}

/// Checks every blob of `blocks` against its witness, with no state: all blobs in parallel,
/// then the zk blobs' proofs in one batched pairing check. This is everything
/// [`ChainVerifier::verify_blocks`] checks but the linkage (heights, parents, history and blobs
/// roots, each blob following the previous state root). Returns, block by block and blob by
/// blob, the verdict and the blob's commitment; after a failing zk proof, later zk blobs are
/// left unchecked (marked valid), so only the first failure in chain order is meaningful.
pub fn check_blobs(params: &ChainParams, blocks: &[Block]) -> Vec<Vec<BlobCheck>> {
    check_blobs_linked(params, blocks, &[])
}

/// [`check_blobs`], the blobs at the positions `linked` (block, blob) having been linked to
/// their model's earlier blobs.
fn check_blobs_linked(
    params: &ChainParams,
    blocks: &[Block],
    linked: &[(usize, usize)],
) -> Vec<Vec<BlobCheck>> {
    let checked: Vec<Vec<CheckedBlob<'_>>> = blocks
        .par_iter()
        .enumerate()
        .map(|(block_index, block)| {
            block
                .blobs
                .par_iter()
                .enumerate()
                .map(|(blob_index, blob)| {
                    let is_linked = linked.contains(&(block_index, blob_index));
                    (
                        check_blob_in_block(params, &block.header, blob, is_linked),
                        blob_commitment(blob),
                    )
                })
                .collect()
        })
        .collect();
    check_pending_proofs(params, checked)
}

/// The zk blobs' pairing checks, all blocks together: one batched check
/// ([`verify_batch`]) when there are several, each alone otherwise. When the batch fails,
/// the proofs are checked alone in chain order up to the first that fails, so the error
/// and where it is reported are exactly those of one-by-one checking. Blobs after a
/// failing proof are left unchecked; the chain is rejected at the failure anyway.
fn check_pending_proofs(
    params: &ChainParams,
    checked: Vec<Vec<CheckedBlob<'_>>>,
) -> Vec<Vec<BlobCheck>> {
    let mut results: Vec<Vec<BlobCheck>> = Vec::new();
    // (block, blob, pending) of every blob whose pairing check is left, in chain order.
    let mut pending = Vec::new();
    for (block_index, blobs) in checked.into_iter().enumerate() {
        let mut block_results = Vec::with_capacity(blobs.len());
        for (blob_index, (result, commitment)) in blobs.into_iter().enumerate() {
            block_results.push((
                result.map(|left| {
                    if let Some(proof) = left {
                        pending.push((block_index, blob_index, proof));
                    }
                }),
                commitment,
            ));
        }
        results.push(block_results);
    }
    let batch_holds = pending.len() > 1 && {
        let keys: Vec<&PreparedKey> = params.zk_keys.iter().map(|(_, k)| &**k).collect();
        let entries: Option<Vec<BatchEntry<'_>>> = pending
            .iter()
            .map(|(_, _, proof)| {
                Some(BatchEntry {
                    key: params
                        .zk_keys
                        .iter()
                        .position(|(batch, _)| *batch == proof.key_batch)?,
                    public_inputs: proof.public_inputs,
                    proof: proof.proof,
                })
            })
            .collect();
        entries.is_some_and(|entries| verify_batch(&keys, &entries).is_ok())
    };
    if !batch_holds {
        for (block, index, proof) in pending {
            if let Err(error) = proof.verify_alone(params) {
                if let Some((result, _)) = results.get_mut(block).and_then(|r| r.get_mut(index)) {
                    *result = Err(error);
                }
                break;
            }
        }
    }
    results
}

/// Where (block, blob) a blob's link to its model's earlier blobs failed, and why.
type LinkFailure = (usize, usize, VerifyError);

/// A blob's verdict and its commitment, as [`check_blobs`] returns them.
pub type BlobCheck = (Result<(), VerifyError>, Hash32);

/// A blob checked but for its pairing check (if it is a zk blob), and its commitment.
type CheckedBlob<'a> = (Result<Option<PendingProof<'a>>, VerifyError>, Hash32);

impl ChainVerifier {
    /// Starts at the genesis, with no zk verifying key: a zk blob is rejected
    /// ([`Reason::ZkKeyNotLoaded`]); see [`ChainVerifier::with_zk_keys`].
    pub fn new(genesis: &Genesis) -> Result<Self, VerifyError> {
        Self::with_zk_keys(genesis, &[])
    }

    /// Starts at the genesis, with verifying keys for zk blobs. Each key must be pinned in the
    /// genesis ([`Reason::UnpinnedZkKey`]); each is prepared once.
    pub fn with_zk_keys(
        genesis: &Genesis,
        keys: &[VerifyingKey<Bls12_381>],
    ) -> Result<Self, VerifyError> {
        let mut params = ChainParams::from_genesis(genesis)?;
        params.add_zk_keys(keys)?;
        let tip_hash = genesis_hash(genesis);
        let mut history = HistoryAccumulator::new();
        history.append(tip_hash);
        let links = params
            .models
            .iter()
            .filter_map(|&tag| Some((tag, model(tag).blob_link(&params)?)))
            .collect();
        Ok(Self {
            links,
            params,
            summary: ChainSummary {
                height: 0,
                tip_hash,
                state_roots: genesis.state_roots.to_vec(),
                blocks: 0,
                blobs: 0,
                transactions: 0,
            },
            history,
        })
    }

    /// The chain's parameters.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// Where the chain stands after the blocks checked so far.
    pub fn summary(&self) -> &ChainSummary {
        &self.summary
    }

    /// Checks the next blocks: every blob of every block in parallel, the zk blobs' proofs in
    /// one batched pairing check, then the linkage in order.
    ///
    /// On error, reports the first failure in chain order (block, then its header, then its
    /// blobs in order, then its state roots), whatever the thread count; the verifier's state
    /// is then unspecified and it should be dropped.
    pub fn verify_blocks(&mut self, blocks: &[Block]) -> Result<(), VerifyError> {
        // Blobs that link to their model's earlier blobs (an evm block's header to its
        // parent's) are linked first, in order: it is cheap, and it bounds what checking them
        // costs. Nothing at or after a failed link is checked; the failure is reported at its
        // place in chain order.
        let (linked, link_failure) = self.link_models(blocks);
        let checked_blocks = match &link_failure {
            Some((block, _, _)) => blocks.get(..=*block).unwrap_or(blocks),
            None => blocks,
        };
        let blob_results = check_blobs_linked(&self.params, checked_blocks, &linked);
        for (index, (block, results)) in checked_blocks.iter().zip(blob_results).enumerate() {
            // Name the block by where it sits in the chain, not by the height it claims.
            let height = self.summary.height.saturating_add(1);
            let failure = link_failure
                .as_ref()
                .filter(|(at, _, _)| *at == index)
                .map(|(_, blob, error)| (*blob, error.clone()));
            self.link_block(block, results, failure)
                .map_err(|error| error.at_block(height))?;
        }
        Ok(())
    }

    /// Feeds every blob of a model with a [`BlobLink`] to it, in chain order, up to the first
    /// failure: the positions (block, blob) linked, and the failure's position and error.
    fn link_models(&mut self, blocks: &[Block]) -> (Vec<(usize, usize)>, Option<LinkFailure>) {
        let mut linked = Vec::new();
        if self.links.is_empty() {
            return (linked, None);
        }
        for (block_index, block) in blocks.iter().enumerate() {
            for (blob_index, blob) in block.blobs.iter().enumerate() {
                let Some((_, link)) = self.links.iter_mut().find(|(m, _)| *m == blob.model) else {
                    continue;
                };
                match link.follow(blob) {
                    Ok(()) => linked.push((block_index, blob_index)),
                    Err(error) => return (linked, Some((block_index, blob_index, error))),
                }
            }
        }
        (linked, None)
    }

    /// Links `block` to the chain; `link_failure` is the blob (index) whose link to its model's
    /// earlier blobs failed, and why: it is reported when the blobs before it pass.
    fn link_block(
        &mut self,
        block: &Block,
        blob_results: Vec<(Result<(), VerifyError>, Hash32)>,
        link_failure: Option<(usize, VerifyError)>,
    ) -> Result<(), VerifyError> {
        let header = &block.header;
        let expected_height = self.summary.height.saturating_add(1);
        if header.height != expected_height {
            return Err(Reason::HeightMismatch {
                expected: expected_height,
                found: header.height,
            }
            .into());
        }
        if header.parent_hash != self.summary.tip_hash {
            return Err(Reason::ParentHashMismatch {
                expected: self.summary.tip_hash,
                found: header.parent_hash,
            }
            .into());
        }
        if header.history_root != self.history.root() {
            return Err(Reason::HistoryRootMismatch {
                expected: self.history.root(),
                found: header.history_root,
            }
            .into());
        }
        let mut roots = self.summary.state_roots.clone();
        let mut commitments = Vec::with_capacity(blob_results.len());
        let mut transactions = 0u64;
        for (index, (blob, (result, commitment))) in
            block.blobs.iter().zip(blob_results).enumerate()
        {
            if let Some((_, error)) = link_failure.as_ref().filter(|(at, _)| *at == index) {
                return Err(error.clone().at_blob(index));
            }
            result.map_err(|error| error.at_blob(index))?;
            let Some(current) = roots.iter_mut().find(|r| r.model == blob.model) else {
                return Err(
                    VerifyError::new(Reason::UnknownModel { model: blob.model }).at_blob(index)
                );
            };
            if blob.pre_state_root != current.root {
                return Err(VerifyError::new(Reason::BlobDoesNotFollow {
                    model: blob.model,
                    expected: current.root,
                    found: blob.pre_state_root,
                })
                .at_blob(index));
            }
            current.root = blob.post_state_root;
            commitments.push(commitment);
            transactions = transactions.saturating_add(blob.transactions.len() as u64);
        }
        let expected_blobs_root = blobs_root(&commitments);
        if header.blobs_root != expected_blobs_root {
            return Err(Reason::BlobsRootMismatch {
                expected: expected_blobs_root,
                found: header.blobs_root,
            }
            .into());
        }
        if header.state_roots.as_ref() != roots.as_slice() {
            return Err(Reason::HeaderStateRootsMismatch.into());
        }

        let hash = header_hash(header);
        self.history.append(hash);
        let summary = &mut self.summary;
        summary.height = header.height;
        summary.tip_hash = hash;
        summary.state_roots = roots;
        summary.blocks = summary.blocks.saturating_add(1);
        summary.blobs = summary.blobs.saturating_add(block.blobs.len() as u64);
        summary.transactions = summary.transactions.saturating_add(transactions);
        Ok(())
    }

    /// The history root the next header must carry.
    pub fn next_history_root(&self) -> Hash32 {
        self.history.root()
    }
}

/// Checks a whole chain given as its genesis and all its blocks, in order.
pub fn verify_chain(genesis: &Genesis, blocks: &[Block]) -> Result<ChainSummary, VerifyError> {
    verify_chain_with_zk_keys(genesis, &[], blocks)
}

/// [`verify_chain`] with verifying keys for zk blobs (see [`ChainVerifier::with_zk_keys`]).
pub fn verify_chain_with_zk_keys(
    genesis: &Genesis,
    keys: &[VerifyingKey<Bls12_381>],
    blocks: &[Block],
) -> Result<ChainSummary, VerifyError> {
    let mut verifier = ChainVerifier::with_zk_keys(genesis, keys)?;
    verifier.verify_blocks(blocks)?;
    Ok(verifier.summary().clone())
}
