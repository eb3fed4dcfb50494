//! The credits a block delivers: for every channel leaf of another model whose sent total
//! exceeds what the receiving model credited so far, a credit with its receipt
//! (`docs/CROSS_MODEL.md`).

use redb::ReadableDatabase;
use verifier::bridge::bridge;
use witness_format::{AccountLeaf, HistoryProof, SszDecode, Transaction};

use super::*;

impl ProverState {
    /// The credits `lane` can take now, each with its receipt: for every channel leaf of
    /// another model with an account of `lane` whose sent total (after the last block) exceeds
    /// what `lane` credited to that account from that model so far, if the account exists.
    /// Receipts are proven at the last block's height against the block being built. In the one
    /// order a blob of credits takes: ascending crediting channel leaves.
    pub(super) fn pending_credits(
        &self,
        lane: &ModelState,
    ) -> Result<(Vec<Transaction>, Vec<HistoryProof>), ProverError> {
        let Some(channels) = bridge(&self.params, lane.model) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let read = self.db.begin_read()?;
        let accounts = read.open_table(lane.tables.accounts)?;
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
            let sent_totals = read.open_table(source.tables.accounts)?;
            for entry in sent_totals.range(region)? {
                let (sending_leaf, leaf) = entry?;
                let sending_leaf = sending_leaf.value();
                let sent = AccountLeaf::from_ssz_bytes(leaf.value())
                    .map_err(|e| {
                        ProverError::Corrupt(format!("channel leaf {sending_leaf}: {e:?}"))
                    })?
                    .balance;
                let account = sending_leaf.saturating_sub(first);
                let Some(crediting_leaf) = channels.channel_leaf(source.model, account) else {
                    continue;
                };
                let record = read_leaf(&accounts, crediting_leaf)?;
                let received = if record.is_empty() { 0 } else { record.nonce };
                if sent <= received || read_leaf(&accounts, account)?.is_empty() {
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
        pending.sort_by_key(|(credit, _)| credit.from);
        Ok(pending.into_iter().unzip())
    }
}
