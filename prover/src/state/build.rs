//! Building a block: blobs cut to size (the credits first, `credits.rs`), transactions selected
//! by the verifier's rules, multiproofs from the stored tree, zk proofs (the model's,
//! `crate::models`), and the one durable commit.

use std::convert::Infallible;

use rayon::prelude::*;
use redb::{ReadTransaction, ReadableDatabase, WriteTransaction};

use super::leaves::{CurrentLeaves, write_leaves};
use super::nodes::{BlockNodes, TreeNodes, write_level};
use super::undo::pack_leaves;
use verifier::accounts::{TouchedState, touched_accounts};
use verifier::accumulator::blobs_root;
use verifier::bridge::bridge;
use verifier::hash::{blob_commitment, header_hash};
use verifier::tree::multiproof_siblings;
use verifier::{Reason, VerifyError, verify_blob_in_block};
use witness_format::frame::fits_in_file;
use witness_format::limits::{MAX_CREDITS_PER_BLOB, MAX_TRANSACTIONS_PER_BLOB};
use witness_format::ssz_types::VariableList;
use witness_format::{
    AccountLeaf, Blob, Block, Bytes, CreditWitness, Hash32, Header, HistoryProof, Model, ModelRoot,
    ProvingJob, PublicKey, SszEncode, Transaction, Witness, ZK_PROOF_BYTES, ZkWitness, encode_file,
};

use crate::tree_hash::ModelTree;
use crate::zk::proofs::ProofBytes;

use super::*;
use crate::BlockFailed;

impl ProverState {
    /// Builds the next block from `transactions` of the chain's one model, commits it
    /// durably, and returns it. A chain of several models needs
    /// [`build_block_of`](Self::build_block_of).
    pub fn build_block(
        &mut self,
        transactions: &[Transaction],
        options: BlockOptions,
    ) -> Result<(Block, BlockReport), ProverError> {
        let model = match self.models.as_slice() {
            [only] => only.model,
            models => {
                return Err(ProverError::ModelNotGiven {
                    models: models.len(),
                });
            }
        };
        self.build_block_of(&[(model, transactions)], options)
    }

    /// Builds the next block from batches of transactions, each for one model, commits it
    /// durably, and returns it.
    ///
    /// Transactions that break a rule are left out and reported (by their index in all the
    /// batches one after another); the rest are packed in order into blobs, batch after batch,
    /// each blob checked by the verifier before the block is committed.
    pub fn build_block_of(
        &mut self,
        batches: &[(Model, &[Transaction])],
        options: BlockOptions,
    ) -> Result<(Block, BlockReport), ProverError> {
        self.build_block_with_evm(batches, None, None, options)
    }

    /// [`build_block_of`](Self::build_block_of) on a chain that hosts the `evm` model beside
    /// the numbered ones, with its next blob, `evm`, when there is one this block: made and
    /// checked by the `evm` producer (`crate::evm_produce`) on top of the chain's last `evm`
    /// state root, it goes after the numbered models' blobs. With `channels` (the producer's
    /// state), the numbered models are credited what the `evm` bridge contract sent them.
    pub fn build_block_with_evm(
        &mut self,
        batches: &[(Model, &[Transaction])],
        evm: Option<Blob>,
        channels: Option<&dyn EvmChannels>,
        options: BlockOptions,
    ) -> Result<(Block, BlockReport), ProverError> {
        let assembled = self.assemble_block(batches, evm, channels, options)?;
        let Staged {
            write,
            block,
            report,
            advance,
        } = self.stage_block(assembled, options)?;
        // The leaves and tree in memory take the block while its transaction commits.
        let (committed, rewind) = std::thread::scope(|scope| {
            let commit = scope.spawn(move || commit_block(write, block));
            let rewind = self.advance(advance);
            (commit.join(), rewind)
        });
        let block = self.settle(committed, rewind)?;
        Ok((block, report))
    }

    /// Builds blocks one after another, each from the batches `next` gives (until it gives
    /// `None`), each committed durably and then handed to `on_durable` with the state as it
    /// leaves it, in order. The same blocks as [`build_block_of`](Self::build_block_of) in a
    /// loop, sooner: block n+1's blobs are built while block n's commit is written (see
    /// docs/DECISIONS.md). If a commit fails, the state is put back to the last durable block
    /// and the error returned; a block built on top of the failed one is dropped unwritten.
    pub fn build_blocks<E: From<BlockFailed>>(
        &mut self,
        mut next: impl FnMut() -> Result<Option<Vec<(Model, Vec<Transaction>)>>, E>,
        options: BlockOptions,
        mut on_durable: impl FnMut(&Self, Block, BlockReport) -> Result<(), E>,
    ) -> Result<(), E> {
        // A block's credits read the database's history, which must hold the block before:
        // chains with bridges wait for each commit.
        let may_overlap = self
            .models
            .iter()
            .all(|lane| bridge(&self.params, lane.model).is_none());
        std::thread::scope(|scope| {
            let mut in_flight: Option<InFlight<'_>> = None;
            let built = (|| -> Result<(), E> {
                loop {
                    if let Some(block) = in_flight.take_if(|block| !block.overlaps) {
                        self.land(block, &mut on_durable)?;
                    }
                    let Some(batches) = next()? else {
                        return Ok(());
                    };
                    let batches: Vec<(Model, &[Transaction])> = batches
                        .iter()
                        .map(|(model, transactions)| (*model, transactions.as_slice()))
                        .collect();
                    let height = self.height.saturating_add(1);
                    let failed = |source| BlockFailed {
                        height,
                        source: Box::new(source),
                    };
                    let assembled = self
                        .assemble_block(&batches, None, None, options)
                        .map_err(failed)?;
                    if let Some(block) = in_flight.take() {
                        self.land(block, &mut on_durable)?;
                    }
                    let Staged {
                        write,
                        block,
                        report,
                        advance,
                    } = self.stage_block(assembled, options).map_err(failed)?;
                    // A checkpoint rewrites the accounts table the next block reads.
                    let overlaps = may_overlap && !advance.checkpoint;
                    let commit = scope.spawn(move || commit_block(write, block));
                    let rewind = self.advance(advance);
                    in_flight = Some(InFlight {
                        commit,
                        height,
                        report,
                        rewind,
                        overlaps,
                    });
                }
            })();
            // However the run ended, the block in flight lands (or is put back) first.
            let landed = match in_flight.take() {
                Some(block) => self.land(block, &mut on_durable),
                None => Ok(()),
            };
            landed.and(built)
        })
    }

    /// Waits for the commit of the block in flight; hands it to `on_durable` once durable.
    fn land<E: From<BlockFailed>>(
        &mut self,
        block: InFlight<'_>,
        on_durable: &mut impl FnMut(&Self, Block, BlockReport) -> Result<(), E>,
    ) -> Result<(), E> {
        let height = block.height;
        let durable = self
            .settle(block.commit.join(), block.rewind)
            .map_err(|source| BlockFailed {
                height,
                source: Box::new(source),
            })?;
        on_durable(self, durable, block.report)
    }

    /// A commit's outcome ([`commit_block`]'s): the block once durable; on failure the state
    /// in memory is put back (`rewind`) and the leaves and trees read again from the database.
    fn settle(
        &mut self,
        committed: std::thread::Result<(Result<(), ProverError>, Block)>,
        rewind: Rewind,
    ) -> Result<Block, ProverError> {
        match committed {
            Ok((Ok(()), block)) => Ok(block),
            Ok((Err(error), _)) => {
                rewind.put_back(self);
                self.reload_leaves()?;
                Err(error)
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// The next block from `batches` (and `evm`'s blob) on the state in memory, its blobs
    /// checked by the verifier; nothing written.
    fn assemble_block(
        &mut self,
        batches: &[(Model, &[Transaction])],
        evm: Option<Blob>,
        channels: Option<&dyn EvmChannels>,
        options: BlockOptions,
    ) -> Result<Assembled, ProverError> {
        let evm_root = match &evm {
            None => self.evm_root,
            Some(blob) => {
                let current = self
                    .evm_root
                    .filter(|_| blob.model == Model::Evm)
                    .ok_or(ProverError::UnknownModel { model: blob.model })?;
                if blob.pre_state_root != current {
                    return Err(ProverError::InvalidBlob(
                        Reason::BlobDoesNotFollow {
                            model: Model::Evm,
                            expected: current,
                            found: blob.pre_state_root,
                        }
                        .into(),
                    ));
                }
                Some(blob.post_state_root)
            }
        };
        let height = self.height.saturating_add(1);
        let mut report = BlockReport {
            height,
            ..BlockReport::default()
        };
        let mut roots: Vec<Hash32> = self.models.iter().map(|m| m.root).collect();
        let mut changed: Vec<Changed> = self.models.iter().map(|_| Changed::default()).collect();
        let mut blobs = Vec::new();
        self.load_memory()?;
        let read = self.db.begin_read()?;
        for (position, lane) in self.models.iter().enumerate() {
            let (credits, receipts) = self.pending_credits(lane, channels)?;
            if credits.is_empty() {
                continue;
            }
            let unknown = || ProverError::UnknownModel { model: lane.model };
            let root = roots.get_mut(position).ok_or_else(unknown)?;
            let changed = changed.get_mut(position).ok_or_else(unknown)?;
            let indexed: Vec<(usize, Transaction)> = credits.into_iter().enumerate().collect();
            let mut credit_report = BlockReport::default();
            self.build_blobs(
                lane,
                &read,
                root,
                &indexed,
                Some(&receipts),
                changed,
                options,
                &mut credit_report,
                &mut blobs,
            )?;
            report.credited = report.credited.saturating_add(credit_report.included);
        }
        let mut offset = 0usize;
        for &(model, transactions) in batches {
            let position = self
                .models
                .iter()
                .position(|m| m.model == model)
                .ok_or(ProverError::UnknownModel { model })?;
            let lane = self
                .models
                .get(position)
                .ok_or(ProverError::UnknownModel { model })?;
            let root = roots
                .get_mut(position)
                .ok_or(ProverError::UnknownModel { model })?;
            let changed = changed
                .get_mut(position)
                .ok_or(ProverError::UnknownModel { model })?;
            let indexed: Vec<(usize, Transaction)> = transactions
                .iter()
                .copied()
                .enumerate()
                .map(|(i, tx)| (offset.saturating_add(i), tx))
                .collect();
            offset = offset.saturating_add(transactions.len());
            self.build_blobs(
                lane,
                &read,
                root,
                &indexed,
                None,
                changed,
                options,
                &mut report,
                &mut blobs,
            )?;
        }
        if let Some(zk) = &self.zk {
            report.unproven = blobs
                .iter()
                .filter(|(blob, needs_proof)| {
                    blob.model == zk.model
                        && !needs_proof
                        && matches!(blob.witness, Witness::Merkle(_))
                })
                .count();
        }
        let mut blobs = self.prove_blobs(blobs)?;
        blobs.extend(evm);
        let commitments: Vec<Hash32> = blobs.par_iter().map(blob_commitment).collect();
        let mut state_roots: Vec<ModelRoot> = self
            .models
            .iter()
            .zip(&roots)
            .map(|(m, &root)| ModelRoot {
                model: m.model,
                root,
            })
            .chain(evm_root.map(|root| ModelRoot {
                model: Model::Evm,
                root,
            }))
            .collect();
        state_roots.sort_by_key(|r| r.model);
        let header = Header {
            height,
            parent_hash: self.tip_hash,
            history_root: self.history.root(),
            blobs_root: blobs_root(&commitments),
            state_roots: bounded(state_roots)?,
        };
        let block = Block {
            header,
            blobs: bounded(blobs)?,
        };
        if !fits_in_file(&block) {
            return Err(ProverError::BlockTooLarge {
                bytes: block.ssz_bytes_len(),
            });
        }
        Ok(Assembled {
            block,
            report,
            roots,
            changed,
            evm_root,
        })
    }

    /// Writes `assembled` into a write transaction, not committed: its header, the history,
    /// undo and redo entries (or a checkpoint), and the history pruned; the block itself is
    /// written by [`commit_block`].
    fn stage_block(
        &self,
        assembled: Assembled,
        options: BlockOptions,
    ) -> Result<Staged, ProverError> {
        let Assembled {
            block,
            report,
            roots,
            changed,
            evm_root,
        } = assembled;
        let height = block.header.height;
        let hash = header_hash(&block.header);
        let write = self.db.begin_write()?;
        write.open_table(HEADERS)?.insert(height, hash.0)?;
        let mut history = self.history.clone();
        append_history(&mut write.open_table(HISTORY_NODES)?, &mut history, hash)?;
        let checkpoint = height.saturating_sub(self.checkpoint) >= options.checkpoint_every.max(1);
        for (lane, changed) in self.models.iter().zip(&changed) {
            if !changed.before.is_empty() {
                write
                    .open_table(lane.tables.undo)?
                    .insert(height, pack_leaves(&changed.before).as_slice())?;
            }
            if checkpoint {
                self.write_checkpoint(&write, lane, changed)?;
            } else if !changed.after.is_empty() {
                write
                    .open_table(lane.tables.redo)?
                    .insert(height, pack_leaves(&changed.after).as_slice())?;
            }
        }
        if checkpoint {
            write
                .open_table(META)?
                .insert(META_CHECKPOINT, height.to_le_bytes().as_slice())?;
        }
        let history_from = self.prune_history(&write, height, options.history_window)?;
        Ok(Staged {
            write,
            block,
            report,
            advance: Advance {
                changed,
                roots,
                evm_root,
                history,
                tip_hash: hash,
                history_from,
                checkpoint,
            },
        })
    }

    /// Moves the state in memory to the staged block (its leaves, tree nodes, roots, height,
    /// tip and history); returns what puts it back if the block's commit fails.
    fn advance(&mut self, advance: Advance) -> Rewind {
        let height = self.height.saturating_add(1);
        let rewind = Rewind {
            roots: self.models.iter().map(|lane| lane.root).collect(),
            evm_root: self.evm_root,
            history: std::mem::replace(&mut self.history, advance.history),
            height: self.height,
            tip_hash: self.tip_hash,
            checkpoint: self.checkpoint,
            history_from: self.history_from,
        };
        let lanes = self.models.iter_mut().zip(advance.changed);
        for ((lane, changed), root) in lanes.zip(advance.roots) {
            let (recent, current, nodes) = (&mut lane.recent, &mut lane.current, &mut lane.nodes);
            rayon::join(
                || {
                    if let Some(current) = current.as_mut() {
                        current.extend(&changed.after);
                    }
                    match advance.checkpoint {
                        true => recent.clear(),
                        false => recent.extend(changed.after),
                    }
                },
                || {
                    if let Some(nodes) = nodes.as_mut() {
                        nodes.apply(changed.nodes);
                    }
                },
            );
            lane.root = root;
        }
        self.height = height;
        self.tip_hash = advance.tip_hash;
        self.history_from = advance.history_from;
        if advance.checkpoint {
            self.checkpoint = height;
        }
        self.evm_root = advance.evm_root;
        rewind
    }

    /// Reads the leaves changed since the checkpoint again from the database, and drops the
    /// trees in memory (read again by the next block): after a failed commit.
    fn reload_leaves(&mut self) -> Result<(), ProverError> {
        // Dropped first: if the database cannot be read either, nothing stale stays.
        for lane in &mut self.models {
            lane.nodes = None;
            lane.current = None;
        }
        let read = self.db.begin_read()?;
        for lane in &mut self.models {
            lane.recent = read_recent(&read, lane, self.checkpoint)?;
        }
        Ok(())
    }

    /// Reads every hosted model's tree and leaves into memory, if not yet done: the
    /// checkpoint's, with the leaves changed since and their paths recomputed, and checked
    /// against the current root.
    fn load_memory(&mut self) -> Result<(), ProverError> {
        let depth = self.params.tree_depth;
        for lane in &mut self.models {
            if lane.nodes.is_some() && lane.current.is_some() {
                continue;
            }
            let read = self.db.begin_read()?;
            let current =
                CurrentLeaves::load(&read.open_table(lane.tables.accounts)?, &lane.recent)?;
            let mut nodes = TreeNodes::load(&read.open_table(lane.tables.nodes)?)?;
            let tree = &lane.tree;
            let mut since = BlockNodes::default();
            let mut leaves = Vec::with_capacity(lane.recent.len());
            for (&account, leaf) in &lane.recent {
                let hash = tree
                    .leaf(leaf)
                    .ok_or_else(|| ProverError::Corrupt(format!("account {account}: bad key")))?;
                since.set(0, account, hash);
                leaves.push((account, hash));
            }
            let root = if leaves.is_empty() {
                nodes.get(depth, 0).unwrap_or(tree.default(depth))
            } else {
                let Ok(root) = tree.root::<Infallible>(
                    depth,
                    leaves,
                    |level, index| Ok(nodes.get(level, index).unwrap_or(tree.default(level))),
                    |level, index, hash| {
                        since.set(level, index, *hash);
                    },
                );
                root
            };
            if root != lane.root {
                return Err(ProverError::Corrupt(format!(
                    "{} checkpoint and redo log give root {root}, the last block says {}",
                    lane.model, lane.root
                )));
            }
            nodes.apply(since);
            lane.nodes = Some(nodes);
            lane.current = Some(current);
        }
        Ok(())
    }

    /// Writes into `write` every leaf of `lane` changed since the last checkpoint and every
    /// node on their paths, as this block leaves them, and drops the redo entries.
    fn write_checkpoint(
        &self,
        write: &WriteTransaction,
        lane: &ModelState,
        changed: &Changed,
    ) -> Result<(), ProverError> {
        let mut leaves = lane.recent.clone();
        leaves.extend(
            changed
                .after
                .iter()
                .map(|(&account, &leaf)| (account, leaf)),
        );
        let mut accounts = write.open_table(lane.tables.accounts)?;
        write_leaves(
            &mut accounts,
            leaves.iter().map(|(&account, leaf)| (account, leaf)),
        )?;
        let committed = lane
            .nodes
            .as_ref()
            .ok_or_else(|| ProverError::Corrupt("the tree is not loaded".into()))?;
        let mut nodes = write.open_table(lane.tables.nodes)?;
        // Level by level, each level's indices ascending: the table's key order.
        let mut indices: Vec<u64> = leaves.keys().copied().collect();
        for level in 0..=self.params.tree_depth {
            write_level(&mut nodes, level, indices.iter().copied(), |index| {
                changed.nodes.get(committed, level, index)
            })?;
            indices.iter_mut().for_each(|index| *index >>= 1);
            indices.dedup();
        }
        write.open_table(lane.tables.redo)?.retain(|_, _| false)?;
        Ok(())
    }

    /// Drops, in `write`, the undo entries a history of `window` blocks no longer keeps after
    /// block `height`; returns the lowest provable height then.
    fn prune_history(
        &self,
        write: &WriteTransaction,
        height: u64,
        window: Option<u64>,
    ) -> Result<u64, ProverError> {
        let Some(window) = window else {
            return Ok(self.history_from);
        };
        let horizon = height.saturating_sub(window);
        if horizon <= self.history_from {
            return Ok(self.history_from);
        }
        for lane in &self.models {
            write
                .open_table(lane.tables.undo)?
                .retain_in(..=horizon, |_, _| false)?;
        }
        write
            .open_table(META)?
            .insert(META_HISTORY_FROM, horizon.to_le_bytes().as_slice())?;
        Ok(horizon)
    }

    /// Packs one model's transactions into blobs on top of `root` (moved along), collecting
    /// each blob's leaves and nodes in `changed`.
    ///
    /// Transfers are pipelined: while the verifier checks blob n, blob n+1 is built on the
    /// state blob n leaves (taken into `changed` ahead, and taken back out, with blob n+1, if
    /// the check fails). Credits are few: one blob after another.
    #[allow(clippy::too_many_arguments)]
    fn build_blobs(
        &self,
        lane: &ModelState,
        read: &ReadTransaction,
        root: &mut Hash32,
        pending: &[(usize, Transaction)],
        receipts: Option<&[HistoryProof]>,
        changed: &mut Changed,
        options: BlockOptions,
        report: &mut BlockReport,
        blobs: &mut Vec<(Blob, bool)>,
    ) -> Result<(), ProverError> {
        let table = read.open_table(lane.tables.accounts)?;
        let committed = lane
            .nodes
            .as_ref()
            .ok_or_else(|| ProverError::Corrupt("the tree is not loaded".into()))?;
        let mut limit = options.txs_per_blob.clamp(1, MAX_TRANSACTIONS_PER_BLOB);
        if let Some(zk) = self.zk.as_ref().filter(|zk| zk.model == lane.model) {
            limit = limit.min(zk.shape.batch().max(1));
        }
        if receipts.is_some() {
            limit = limit.min(MAX_CREDITS_PER_BLOB);
        }
        let cx = BlobContext {
            lane,
            table: &table,
            committed,
            max_blob_bytes: options.max_blob_bytes,
        };
        let header = self.next_header();
        if let Some(receipts) = receipts {
            let (mut pending, mut receipts) = (pending, receipts);
            while !pending.is_empty() {
                let mut take = limit.min(pending.len());
                let built = loop {
                    let (chunk, _) = pending.split_at(take);
                    let txs = chunk.iter().map(|(_, tx)| *tx).collect();
                    let proofs = receipts.get(..take).unwrap_or_default().to_vec();
                    let accounts = cx.leaves(changed);
                    let nodes = (committed, &changed.nodes);
                    let built =
                        self.assemble(lane, &accounts, nodes, *root, txs, Some(proofs), None)?;
                    if final_len(&built) > cx.max_blob_bytes && take > 1 {
                        take /= 2;
                        continue;
                    }
                    break built;
                };
                verify_blob_in_block(&self.params, &header, &built.blob)
                    .map_err(ProverError::InvalidBlob)?;
                changed.apply(&built.leaves, &built.nodes);
                report.included = report
                    .included
                    .saturating_add(built.blob.transactions.len());
                *root = built.blob.post_state_root;
                blobs.push((built.blob, built.needs_proof));
                pending = pending.get(take..).unwrap_or_default();
                receipts = receipts.get(take..).unwrap_or_default();
            }
            return Ok(());
        }

        // Signatures and new-owner keys (curve point checks, the costly rules) are checked
        // once, by the verifier, which every blob must pass anyway. If it finds a bad one, all
        // bad ones of that kind are found and left out, and the blob is built again from the
        // start: a forged transaction may have taken a nonce or a balance that a later valid
        // one needs. Each round leaves out at least one transaction.
        let mut position = 0usize;
        let mut excluded: Vec<usize> = Vec::new();
        let mut found_invalid: Vec<(usize, Reason)> = Vec::new();
        let mut current = self.prepare(&cx, changed, *root, pending, limit, &[])?;
        while let Some(candidate) = current.take() {
            let end = position.saturating_add(candidate.take);
            let last = pending
                .get(end.saturating_sub(1))
                .map_or(0, |(index, _)| *index);
            let mut accept = |report: &mut BlockReport, dropped: Vec<(usize, Reason)>| {
                let (mut now, later): (Vec<_>, Vec<_>) = found_invalid
                    .drain(..)
                    .partition(|(index, _)| *index <= last);
                found_invalid = later;
                now.extend(dropped);
                now.sort_by_key(|(index, _)| *index);
                report.dropped.extend(now);
            };
            let Some(built) = candidate.built else {
                accept(report, candidate.dropped);
                position = end;
                let rest = pending.get(position..).unwrap_or_default();
                current = self.prepare(&cx, changed, *root, rest, limit, &[])?;
                continue;
            };
            let rest = pending.get(end..).unwrap_or_default();
            // The check needs only the blob; taking its changes in (which the next blob builds
            // on) runs beside it.
            let (verdict, (journal, next)) = rayon::join(
                || verify_blob_in_block(&self.params, &header, &built.blob),
                || {
                    let journal = changed.apply(&built.leaves, &built.nodes);
                    let root = built.blob.post_state_root;
                    let next = self.prepare(&cx, changed, root, rest, limit, &[]);
                    (journal, next)
                },
            );
            match verdict {
                Ok(()) => {
                    accept(report, candidate.dropped);
                    report.included = report
                        .included
                        .saturating_add(built.blob.transactions.len());
                    *root = built.blob.post_state_root;
                    blobs.push((built.blob, built.needs_proof));
                    position = end;
                    current = next?;
                }
                Err(error)
                    if matches!(
                        error.reason,
                        Reason::BadSignature | Reason::InvalidNewAccountKey
                    ) =>
                {
                    changed.roll_back(journal);
                    let transactions = &built.blob.transactions;
                    let invalid = match error.reason {
                        Reason::BadSignature => lane.rules.invalid_signatures(
                            self.params.chain_id,
                            &candidate.signers,
                            transactions,
                        ),
                        _ => invalid_new_keys(lane, transactions),
                    };
                    if invalid.is_empty() {
                        return Err(ProverError::InvalidBlob(error));
                    }
                    for position in invalid {
                        if let Some(&index) = candidate.kept.get(position) {
                            excluded.push(index);
                            found_invalid.push((index, error.reason.clone()));
                        }
                    }
                    let chunk = pending.get(position..).unwrap_or_default();
                    current =
                        self.prepare(&cx, changed, *root, chunk, candidate.take, &excluded)?;
                }
                Err(error) => return Err(ProverError::InvalidBlob(error)),
            }
        }
        Ok(())
    }

    /// The block's blobs, with every one marked as needing a proof given its zk proof: all of
    /// them handed to the chain's proof source at once (so that a farm proves them side by
    /// side), and each proof checked by the verifier, as the blob it completes, before it is
    /// accepted.
    fn prove_blobs(&mut self, built: Vec<(Blob, bool)>) -> Result<Vec<Blob>, ProverError> {
        let (mut blobs, needs_proof): (Vec<Blob>, Vec<bool>) = built.into_iter().unzip();
        let positions: Vec<usize> = (0..blobs.len())
            .filter(|&i| needs_proof.get(i) == Some(&true))
            .collect();
        if positions.is_empty() {
            return Ok(blobs);
        }
        let header = self.next_header();
        let (params, zk) = (&self.params, self.zk.as_mut());
        let zk = zk.ok_or_else(|| ProverError::Corrupt("a blob to prove without a key".into()))?;
        let reserved_bits = verifier::bridge::reserved_bits(params, zk.model);
        let jobs: Vec<ProvingJob> = positions
            .iter()
            .filter_map(|&i| blobs.get(i))
            .map(|blob| ProvingJob {
                vk_hash: zk.vk_hash,
                reserved_bits,
                blob: blob.clone(),
            })
            .collect();
        let check = |job: &ProvingJob, proof: &ProofBytes| {
            verify_blob_in_block(params, &header, &with_proof(&job.blob, proof))
        };
        let proofs = zk.proofs.prove(&jobs, &check)?;
        if proofs.len() != jobs.len() {
            return Err(ProverError::ZkProving(format!(
                "{} proofs for {} jobs",
                proofs.len(),
                jobs.len()
            )));
        }
        for (&position, proof) in positions.iter().zip(&proofs) {
            if let Some(blob) = blobs.get_mut(position) {
                *blob = with_proof(blob, proof);
            }
        }
        Ok(blobs)
    }

    /// The header of the block being built, as far as its blobs can know it: height, parent and
    /// history root (what a blob of credits is checked against).
    fn next_header(&self) -> Header {
        Header {
            height: self.height.saturating_add(1),
            parent_hash: self.tip_hash,
            history_root: self.history.root(),
            blobs_root: Hash32::ZERO,
            state_roots: VariableList::empty(),
        }
    }

    /// The next blob of transfers from `pending` (at most `take` of them, fewer if the blob
    /// would be too large; less `excluded`) on top of `pre_root` and the block's `changed`
    /// state, not yet checked; `None` if nothing is pending. Writes nothing.
    fn prepare(
        &self,
        cx: &BlobContext<'_>,
        changed: &Changed,
        pre_root: Hash32,
        pending: &[(usize, Transaction)],
        take: usize,
        excluded: &[usize],
    ) -> Result<Option<Candidate>, ProverError> {
        if pending.is_empty() {
            return Ok(None);
        }
        let accounts = cx.leaves(changed);
        let nodes = (cx.committed, &changed.nodes);
        let mut take = take.clamp(1, pending.len());
        loop {
            let (chunk, _) = pending.split_at(take);
            let mut selection = self.select(cx.lane, &accounts, chunk, excluded)?;
            if selection.kept.is_empty() {
                return Ok(Some(Candidate {
                    take,
                    built: None,
                    dropped: selection.rule_drops,
                    kept: Vec::new(),
                    signers: Vec::new(),
                }));
            }
            let txs: Vec<Transaction> = selection.kept.iter().map(|(_, tx)| *tx).collect();
            let states = selection.states.take();
            let built = self.assemble(cx.lane, &accounts, nodes, pre_root, txs, None, states)?;
            if final_len(&built) > cx.max_blob_bytes && take > 1 {
                take /= 2;
                continue;
            }
            return Ok(Some(Candidate {
                take,
                built: Some(built),
                dropped: selection.rule_drops,
                kept: selection.kept.iter().map(|(index, _)| *index).collect(),
                signers: selection.signers,
            }));
        }
    }

    /// The transactions of `chunk` (less `excluded`) that pass every rule but signatures and
    /// new-owner keys (left to the verifier: see `build_blobs`), applied in order on the stored
    /// state; and why the others do not.
    fn select(
        &self,
        lane: &ModelState,
        accounts: &Leaves<'_>,
        chunk: &[(usize, Transaction)],
        excluded: &[usize],
    ) -> Result<Selection, ProverError> {
        let candidates: Vec<(usize, Transaction)> = chunk
            .iter()
            .filter(|(index, _)| !excluded.contains(index))
            .copied()
            .collect();
        let all: Vec<Transaction> = candidates.iter().map(|(_, tx)| *tx).collect();
        let mut out_of_range = Vec::new();
        let mut state = self.load_state(
            lane,
            accounts,
            &all,
            self.params.tree_depth,
            &mut |i, reason| out_of_range.push((i, reason)),
        )?;
        let pre_state = state.clone();
        let mut selection = Selection {
            kept: Vec::with_capacity(candidates.len()),
            signers: Vec::with_capacity(candidates.len()),
            rule_drops: Vec::new(),
            states: None,
        };
        for (position, &(index, tx)) in candidates.iter().enumerate() {
            if let Some((_, reason)) = out_of_range.iter().find(|(p, _)| *p == position) {
                selection.rule_drops.push((index, reason.clone()));
                continue;
            }
            let key = state.get(tx.from).map(|leaf| leaf.public_key);
            match state.apply(&tx) {
                Ok(()) => {
                    selection.kept.push((index, tx));
                    selection.signers.push(key.unwrap_or_default());
                }
                Err(reason) => selection.rule_drops.push((index, reason)),
            }
        }
        if selection.kept.len() == candidates.len() {
            selection.states = Some((pre_state, state));
        }
        Ok(selection)
    }

    /// The blob of `txs` (all passing the rules) on top of `pre_root`: its multiproof from the
    /// tree in memory, its post-state, and the nodes and leaves to store. `states`, when given,
    /// are the touched state before and after `txs` (the selection's).
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        lane: &ModelState,
        accounts: &Leaves<'_>,
        (committed, block): (&TreeNodes, &BlockNodes),
        pre_root: Hash32,
        txs: Vec<Transaction>,
        receipts: Option<Vec<HistoryProof>>,
        states: Option<(TouchedState, TouchedState)>,
    ) -> Result<BuiltBlob, ProverError> {
        let depth = self.params.tree_depth;
        let (pre_state, post_state) = match states {
            Some(states) => states,
            None => {
                let pre_state = self.load_state(lane, accounts, &txs, depth, &mut |_, _| {})?;
                let mut post_state = pre_state.clone();
                for tx in &txs {
                    match receipts {
                        Some(_) => post_state.apply_credit(tx),
                        None => post_state.apply(tx),
                    }
                    .map_err(|reason| ProverError::InvalidBlob(VerifyError::new(reason)))?;
                }
                (pre_state, post_state)
            }
        };

        // The multiproof: every sibling the walk asks for, from the tree in memory. Its root
        // is not computed here: the verifier recomputes it from these siblings, and refuses
        // the blob if the tree in memory gave a root other than `pre_root`.
        let tree = &lane.tree;
        let proof = multiproof_siblings(tree, depth, pre_state.accounts(), |level, index| {
            Ok::<_, Infallible>(
                block
                    .get(committed, level, index)
                    .unwrap_or(tree.default(level)),
            )
        });
        let Ok(proof) = proof;
        let mut new_nodes = Vec::new();
        let mut replay = proof.siblings.iter().copied();
        let post_leaves = leaf_hashes(tree, &post_state)?;
        let Ok(post_root) = tree.root::<Infallible>(
            depth,
            post_leaves.clone(),
            |_, _| Ok(replay.next().unwrap_or(Hash32::ZERO)),
            |level, index, hash| new_nodes.push((level, index, *hash)),
        );
        let merkle = proof
            .witness(pre_state.leaves().to_vec())
            .ok_or_else(|| ProverError::Corrupt("a witness past its limits".into()))?;
        // A zk proof does not cover the bridge: blobs that exit take Merkle witnesses; nor,
        // under a key with shared levels, a blob whose accounts span two subtrees.
        let exits = bridge(&self.params, lane.model)
            .is_some_and(|bridge| txs.iter().any(|tx| tx.to >= bridge.accounts_end()));
        // A blob of the zk lane is built with its Merkle witness (checked by the verifier like
        // any) and proven once the block's blobs are all built (`prove_blobs`).
        let needs_proof = receipts.is_none()
            && !exits
            && self.zk.as_ref().is_some_and(|zk| {
                zk.model == lane.model && zk.shape.subtree_of(pre_state.accounts()).is_some()
            });
        let witness = match receipts {
            Some(receipts) => Witness::Credits(CreditWitness {
                merkle,
                receipts: bounded(receipts)?,
            }),
            None => Witness::Merkle(merkle),
        };
        let blob = Blob {
            model: lane.model,
            pre_state_root: pre_root,
            post_state_root: post_root,
            transactions: bounded(txs)?,
            witness,
        };
        let leaves = post_leaves
            .iter()
            .zip(pre_state.leaves())
            .zip(post_state.leaves())
            .map(|((&(account, hash), &prior), &leaf)| (account, prior, leaf, hash))
            .collect();
        Ok(BuiltBlob {
            blob,
            needs_proof,
            leaves,
            nodes: new_nodes,
        })
    }

    /// The touched state of `txs`, read from the accounts table. Out-of-range accounts are
    /// reported through `reject` (by position in `txs`) and left out.
    fn load_state(
        &self,
        lane: &ModelState,
        accounts: &Leaves<'_>,
        txs: &[Transaction],
        depth: u8,
        reject: &mut dyn FnMut(usize, Reason),
    ) -> Result<TouchedState, ProverError> {
        let mut in_range: Vec<Transaction> = Vec::with_capacity(txs.len());
        for (i, tx) in txs.iter().enumerate() {
            match touched_accounts(std::slice::from_ref(tx), depth) {
                Ok(_) => in_range.push(*tx),
                Err(error) => reject(i, error.reason),
            }
        }
        let touched = touched_accounts(&in_range, depth).unwrap_or_default();
        let leaves = touched
            .iter()
            .map(|&account| accounts.get(account))
            .collect::<Result<Vec<_>, _>>()?;
        TouchedState::new(touched, leaves)
            .map(|state| state.with_bridge(bridge(&self.params, lane.model)))
            .ok_or_else(|| ProverError::Corrupt("touched state length".into()))
    }
}

/// The positions in `transactions` of new-owner keys `lane`'s rules refuse.
fn invalid_new_keys(lane: &ModelState, transactions: &[Transaction]) -> Vec<usize> {
    transactions
        .par_iter()
        .enumerate()
        .filter(|(_, tx)| {
            lane.rules
                .check_new_account_key(&tx.new_account_key)
                .is_err()
        })
        .map(|(position, _)| position)
        .collect()
}

/// `blob` with `proof` as its witness.
pub(crate) fn with_proof(blob: &Blob, proof: &ProofBytes) -> Blob {
    Blob {
        witness: Witness::Zk(ZkWitness {
            proof: Bytes(*proof),
        }),
        ..blob.clone()
    }
}

/// The size `built` will have in its block: with a zk proof in place of its Merkle witness
/// when it needs one.
fn final_len(built: &BuiltBlob) -> usize {
    let len = built.blob.ssz_bytes_len();
    if !built.needs_proof {
        return len;
    }
    let proof = Witness::Zk(ZkWitness {
        proof: Bytes([0; ZK_PROOF_BYTES]),
    });
    len.saturating_sub(built.blob.witness.ssz_bytes_len())
        .saturating_add(proof.ssz_bytes_len())
}

/// The `(account, leaf hash)` pairs of a touched state, ascending.
pub(super) fn leaf_hashes(
    tree: &ModelTree,
    state: &TouchedState,
) -> Result<Vec<(u64, Hash32)>, ProverError> {
    verifier::tree::leaf_nodes(tree, state).map_err(|index| {
        let account = state.accounts().get(index).copied().unwrap_or_default();
        ProverError::Corrupt(format!("account {account}: bad key"))
    })
}

/// What passes the rules in a chunk: the transactions kept (with their index in the block) and
/// their signature inputs, and the ones left out with their reason.
pub(super) struct Selection {
    pub(super) kept: Vec<(usize, Transaction)>,
    /// The sender's key of each kept transaction, as the state stood before it.
    pub(super) signers: Vec<PublicKey>,
    pub(super) rule_drops: Vec<(usize, Reason)>,
    /// The touched state before and after the kept transactions, when every candidate was
    /// kept (then they are the blob's).
    pub(super) states: Option<(TouchedState, TouchedState)>,
}

/// What `build_blobs` reads a model's state through.
struct BlobContext<'a> {
    lane: &'a ModelState,
    /// Its accounts table (the checkpoint's leaves).
    table: &'a redb::ReadOnlyTable<u64, &'static [u8]>,
    /// Its tree as of the last block.
    committed: &'a TreeNodes,
    max_blob_bytes: usize,
}

impl BlobContext<'_> {
    /// The current leaves, with the block's changes so far.
    fn leaves<'a>(&'a self, changed: &'a Changed) -> Leaves<'a> {
        Leaves {
            table: self.table,
            recent: &self.lane.recent,
            memory: self.lane.current.as_ref(),
            block: Some(&changed.after),
        }
    }
}

/// A blob built but not yet checked, from the first `take` pending transactions.
struct Candidate {
    take: usize,
    /// The blob; `None` if no transaction of the chunk passes the rules.
    built: Option<BuiltBlob>,
    /// The transactions left out by the rules, with why.
    dropped: Vec<(usize, Reason)>,
    /// The index in the block of each transaction in the blob.
    kept: Vec<usize>,
    /// The sender's key of each transaction in the blob, as the state stood before it.
    signers: Vec<PublicKey>,
}

/// A blob and the state it leaves: leaves and tree nodes to store.
pub(super) struct BuiltBlob {
    pub(super) blob: Blob,
    /// Whether its Merkle witness is to be replaced by a zk proof.
    pub(super) needs_proof: bool,
    /// Each touched account, with its leaf before and after the blob and the latter's hash.
    pub(super) leaves: Vec<(u64, AccountLeaf, AccountLeaf, Hash32)>,
    pub(super) nodes: Vec<(u8, u64, Hash32)>,
}

/// A block assembled on the state in memory, not yet written.
struct Assembled {
    block: Block,
    report: BlockReport,
    /// Each hosted model's root after the block.
    roots: Vec<Hash32>,
    changed: Vec<Changed>,
    evm_root: Option<Hash32>,
}

/// A block written into its transaction, not yet committed, and what the state in memory
/// becomes with it.
struct Staged {
    write: WriteTransaction,
    block: Block,
    report: BlockReport,
    advance: Advance,
}

/// What a block changes in the state in memory.
struct Advance {
    changed: Vec<Changed>,
    roots: Vec<Hash32>,
    evm_root: Option<Hash32>,
    history: HistoryAccumulator,
    tip_hash: Hash32,
    history_from: u64,
    /// Whether the block is a checkpoint (the recent leaves are then in the accounts table).
    checkpoint: bool,
}

/// The state in memory before a block whose commit is in flight.
struct Rewind {
    roots: Vec<Hash32>,
    evm_root: Option<Hash32>,
    history: HistoryAccumulator,
    height: u64,
    tip_hash: Hash32,
    checkpoint: u64,
    history_from: u64,
}

impl Rewind {
    /// Puts the fields back; the leaves and trees are read again by the caller.
    fn put_back(self, state: &mut ProverState) {
        for (lane, root) in state.models.iter_mut().zip(self.roots) {
            lane.root = root;
        }
        state.evm_root = self.evm_root;
        state.history = self.history;
        state.height = self.height;
        state.tip_hash = self.tip_hash;
        state.checkpoint = self.checkpoint;
        state.history_from = self.history_from;
    }
}

/// Writes `block` into `write`, staged with the rest of the block's entries
/// ([`ProverState::stage_block`]), and commits it durably; gives the block back. Run on its own
/// thread: encoding a block (megabytes) and the disk's wait need none of the state.
fn commit_block(write: WriteTransaction, block: Block) -> (Result<(), ProverError>, Block) {
    let committed = (|| {
        write
            .open_table(BLOCKS)?
            .insert(block.header.height, encode_file(&block).as_slice())?;
        write.commit()?;
        Ok(())
    })();
    (committed, block)
}

/// A block whose commit runs on its own thread while the next block is built.
struct InFlight<'scope> {
    commit: std::thread::ScopedJoinHandle<'scope, (Result<(), ProverError>, Block)>,
    height: u64,
    report: BlockReport,
    rewind: Rewind,
    /// Whether the next block may be built before this commit lands.
    overlaps: bool,
}
