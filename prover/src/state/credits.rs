//! The credits a block delivers: for every channel leaf of another model whose sent total
//! exceeds what the receiving model credited so far, a credit with its receipt
//! (`docs/CROSS_MODEL.md`).

use alloy_primitives::U256;
use redb::{ReadTransaction, ReadableDatabase};
use verifier::bridge::bridge;
use verifier::evm::bridge::EvmCredit;
use witness_format::{HistoryProof, Transaction};

use super::*;

/// The `evm` state of a chain the model shares with numbered ones, as credits from it need:
/// its bridge contract's sent totals, and the trie nodes proving one (the `evm` producer's
/// store, `crate::evm_produce`).
pub trait EvmChannels {
    /// The sent totals of `channels` (model, account) in the `evm` state of root `root`.
    fn sent_totals(&self, root: Hash32, channels: &[(Model, u64)]) -> Result<Vec<U256>, String>;

    /// The trie nodes proving each of `channels` in that state, in order.
    fn sent_proofs(
        &self,
        root: Hash32,
        channels: &[(Model, u64)],
    ) -> Result<Vec<Vec<Vec<u8>>>, String>;
}

impl ProverState {
    /// The credits `lane` can take now, each with its receipt: for every channel leaf of
    /// another model with an account of `lane` whose sent total (after the last block) exceeds
    /// what `lane` credited to that account from that model so far, if the account exists.
    /// Receipts are proven at the last block's height against the block being built. In the one
    /// order a blob of credits takes: ascending crediting channel leaves.
    ///
    /// On a chain shared with the `evm` model, `evm` reads its bridge contract: every existing
    /// account of `lane` is checked for value sent from `evm`.
    pub(super) fn pending_credits(
        &self,
        lane: &ModelState,
        evm: Option<&dyn EvmChannels>,
    ) -> Result<(Vec<Transaction>, Vec<HistoryProof>), ProverError> {
        let Some(channels) = bridge(&self.params, lane.model) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let read = self.db.begin_read()?;
        let table = read.open_table(lane.tables.accounts)?;
        let accounts = ProverState::leaves(lane, &table);
        let mut pending = Vec::new();
        for source in self.models.iter().filter(|m| m.model != lane.model) {
            // The source's channel leaves with `lane`'s accounts: one region, as large as the
            // accounts' (every model of a chain has the same depth and number of regions).
            let Some(first) = bridge(&self.params, source.model)
                .and_then(|sender| sender.channel_leaf(lane.model, 0))
            else {
                continue;
            };
            let region = first..first.saturating_add(channels.accounts_end());
            let source_table = read.open_table(source.tables.accounts)?;
            for (sending_leaf, leaf) in ProverState::leaves(source, &source_table).range(region)? {
                let sent = leaf.balance;
                let account = sending_leaf.saturating_sub(first);
                let Some(crediting_leaf) = channels.channel_leaf(source.model, account) else {
                    continue;
                };
                let record = accounts.get(crediting_leaf)?;
                let received = if record.is_empty() { 0 } else { record.nonce };
                if sent <= received || accounts.get(account)?.is_empty() {
                    continue;
                }
                let credit = Transaction {
                    from: crediting_leaf,
                    to: account,
                    amount: sent.saturating_sub(received),
                    nonce: sent,
                    new_account_key: witness_format::PublicKey::ZERO,
                    signature: witness_format::Signature::ZERO,
                };
                pending.push((credit, self.receipt(&read, source.model, sending_leaf)?));
            }
        }
        if let (Some(evm), Some(root)) = (evm, self.evm_root) {
            pending.extend(self.credits_from_evm(&read, lane, &channels, evm, root)?);
        }
        pending.sort_by_key(|(credit, _)| credit.from);
        Ok(pending.into_iter().unzip())
    }

    /// The credits `lane` can take from the `evm` model, whose state root after the last
    /// block is `root`: for each existing account of `lane`, what the bridge contract records
    /// as sent to it beyond what `lane` credited from `evm` so far.
    fn credits_from_evm(
        &self,
        read: &ReadTransaction,
        lane: &ModelState,
        channels: &verifier::accounts::Bridge,
        evm: &dyn EvmChannels,
        root: Hash32,
    ) -> Result<Vec<(Transaction, HistoryProof)>, ProverError> {
        let table = read.open_table(lane.tables.accounts)?;
        let accounts = ProverState::leaves(lane, &table);
        let existing: Vec<(Model, u64)> = accounts
            .range(0..channels.accounts_end())?
            .into_iter()
            .map(|(account, _)| (lane.model, account))
            .collect();
        let sent = evm
            .sent_totals(root, &existing)
            .map_err(ProverError::Corrupt)?;
        let mut credits = Vec::new();
        for ((_, account), sent) in existing.into_iter().zip(sent) {
            let Some(crediting_leaf) = channels.channel_leaf(Model::Evm, account) else {
                continue;
            };
            let record = accounts.get(crediting_leaf)?;
            let received = if record.is_empty() { 0 } else { record.nonce };
            // The contract keeps totals below 2^64.
            let sent = u64::try_from(sent).map_err(|_| {
                ProverError::Corrupt(format!("the evm bridge's total for {account} is {sent}"))
            })?;
            if sent > received {
                credits.push(Transaction {
                    from: crediting_leaf,
                    to: account,
                    amount: sent - received,
                    nonce: sent,
                    new_account_key: witness_format::PublicKey::ZERO,
                    signature: witness_format::Signature::ZERO,
                });
            }
        }
        // The proofs in one pass over the `evm` state.
        let proven: Vec<(Model, u64)> = credits.iter().map(|c| (lane.model, c.to)).collect();
        let proofs = evm
            .sent_proofs(root, &proven)
            .map_err(ProverError::Corrupt)?;
        let mut pending = Vec::with_capacity(credits.len());
        for (credit, nodes) in credits.into_iter().zip(proofs) {
            let receipt = self.evm_receipt(read, lane.model, credit.to, credit.nonce, nodes)?;
            pending.push((credit, receipt));
        }
        Ok(pending)
    }

    /// Every channel of a numbered model with an `evm` account that ever sent anything, with
    /// its sent total after the last block, ascending by model then account: the candidates of
    /// the next block's credits into `evm` (the `evm` producer picks those it can pay,
    /// `crate::evm_produce::EvmProducer::payable_credits`).
    pub fn evm_channel_totals(&self) -> Result<Vec<EvmCredit>, ProverError> {
        let read = self.db.begin_read()?;
        let mut totals = Vec::new();
        for lane in &self.models {
            let Some(channels) = bridge(&self.params, lane.model) else {
                continue;
            };
            let Some(first) = channels.channel_leaf(Model::Evm, 0) else {
                continue;
            };
            let table = read.open_table(lane.tables.accounts)?;
            let channel_leaves = first..first.saturating_add(channels.accounts_end());
            for (leaf, value) in ProverState::leaves(lane, &table).range(channel_leaves)? {
                let sent = value.balance;
                if sent > 0 {
                    totals.push(EvmCredit {
                        model: lane.model,
                        account: leaf.saturating_sub(first),
                        sent,
                    });
                }
            }
        }
        Ok(totals)
    }

    /// The receipts of `credits` into `evm` in the block being built: each the channel leaf of
    /// its model with its `evm` account after the last block.
    pub fn evm_credit_receipts(
        &self,
        credits: &[EvmCredit],
    ) -> Result<Vec<HistoryProof>, ProverError> {
        let read = self.db.begin_read()?;
        credits
            .iter()
            .map(|credit| {
                let leaf = bridge(&self.params, credit.model)
                    .and_then(|channels| channels.channel_leaf(Model::Evm, credit.account))
                    .ok_or(ProverError::UnknownModel { model: Model::Evm })?;
                self.receipt(&read, credit.model, leaf)
            })
            .collect()
    }
}
