//! Cross-model messages on a chain of two models (`docs/CROSS_MODEL.md`).
//!
//! Each model's tree keeps its lower half for accounts and its upper half for bridge leaves:
//! bridge leaf `base + x` (`base = 2^(depth - 1)`) of model M records, in its balance, all M's
//! accounts ever sent to account `x` of the other model, and in its nonce, all M's account `x`
//! was ever credited from the other model.
//!
//! - **Exit** (the receipt): an ordinary signed transfer to bridge leaf `base + x` of the
//!   sender's model. It leaves the model's accounts; the bridge leaf's balance grows.
//! - **Credit**: a transaction of the other model from its bridge leaf `base + x` to account
//!   `x`, unsigned, in a blob of credits. Its witness carries, for each credit, the history proof
//!   of the sending model's bridge leaf `base + x` at an earlier height, checked against the
//!   crediting block's history root: the receipt. The credit's nonce is the receipt's sent total;
//!   its amount, that less what was credited so far; the receiving bridge leaf's nonce becomes
//!   the sent total. So a receipt credits once (a second credit finds nothing left:
//!   [`Reason::ReceiptAlreadyConsumed`]), only from an ancestor of the crediting block (the
//!   history proof), and only to the account it names.
//!
//! Value is conserved: across both models, accounts plus exits not yet credited (sent totals
//! less credited totals, over all bridge leaves) never change.

use rayon::prelude::*;
use witness_format::{
    AccountLeaf, Blob, CreditWitness, Hash32, Header, HistoryFact, Model, PublicKey,
};

use crate::chain::ChainParams;
use crate::error::{Reason, VerifyError};
use crate::hash::tagged_hash;
use crate::history_proof::{ProvenFact, verify_history_proof};
use crate::schnorr::{encode_point, generator};
use crate::transfer::{Bridge, TouchedState, touched_accounts};

/// Domain of the `transfer` bridge key.
const BRIDGE_KEY_TAG: u8 = 0xB1;

/// The key every bridge leaf of `model` holds: a fixed marker that is a valid key of the model
/// (the `zk-transfer` leaf hash needs a Jubjub point). Nobody needs its secret: the rules stop a
/// bridge leaf from sending whatever signs for it.
pub fn bridge_key(model: Model) -> PublicKey {
    match model {
        Model::Transfer => PublicKey::from(tagged_hash(BRIDGE_KEY_TAG, &[b"bridge leaf"]).0),
        Model::ZkTransfer => PublicKey::from(encode_point(&generator())),
    }
}

/// The bridge of `model` on a chain of exactly two models with trees at least 2 deep; `None`
/// otherwise (then every account is an ordinary account).
pub fn bridge(params: &ChainParams, model: Model) -> Option<Bridge> {
    if params.models.len() != 2 || !params.models.contains(&model) {
        return None;
    }
    let base = params
        .tree_depth
        .checked_sub(1)
        .filter(|&shift| shift > 0)
        .and_then(|shift| 1u64.checked_shl(u32::from(shift)))?;
    Some(Bridge {
        base,
        key: bridge_key(model),
    })
}

/// The other model of a two-model chain.
fn other_model(params: &ChainParams, model: Model) -> Option<Model> {
    params.models.iter().copied().find(|&m| m != model)
}

/// Rejects a zk blob that touches a bridge leaf: its proof does not cover the bridge rules, and
/// its transactions are public, so the verifier sees it without executing anything.
pub fn check_zk_blob_avoids_bridge(params: &ChainParams, blob: &Blob) -> Result<(), VerifyError> {
    let Some(bridge) = bridge(params, blob.model) else {
        return Ok(());
    };
    for (index, tx) in blob.transactions.iter().enumerate() {
        if let Some(account) = [tx.from, tx.to].into_iter().find(|&a| a >= bridge.base) {
            return Err(VerifyError::new(Reason::BridgeInZkBlob { account }).at_transaction(index));
        }
    }
    Ok(())
}

/// Checks a blob of credits in the block of `header` (only its height and history root are
/// read: a receipt must come from the block before). Every transaction is a credit with its
/// receipt; the pre-state leaves and multiproof are checked as for any Merkle witness, with the
/// model's hashes (`roots`: pre-state and post-state root of a touched state and its witness).
///
/// One block has one blob of credits in one form: credits in strictly ascending order of their
/// bridge leaf ([`Reason::CreditsOutOfOrder`]), each receipt proven at the height just before the
/// crediting block ([`Reason::ReceiptNotLatest`]).
pub fn verify_credit_blob(
    params: &ChainParams,
    header: &Header,
    blob: &Blob,
    witness: &CreditWitness,
    roots: impl FnOnce(&TouchedState, &TouchedState) -> Result<(Hash32, Hash32), VerifyError>,
) -> Result<(), VerifyError> {
    let bridge = bridge(params, blob.model).ok_or(Reason::NoBridge)?;
    let source = other_model(params, blob.model).ok_or(Reason::NoBridge)?;
    let credits = &blob.transactions;
    if witness.receipts.len() != credits.len() {
        return Err(Reason::ReceiptCountMismatch {
            expected: credits.len(),
            found: witness.receipts.len(),
        }
        .into());
    }
    // One order: strictly ascending bridge leaves (so no account is credited twice).
    for (index, pair) in credits.windows(2).enumerate() {
        if let [previous, credit] = pair
            && credit.from <= previous.from
        {
            return Err(VerifyError::new(Reason::CreditsOutOfOrder {
                account: credit.from,
            })
            .at_transaction(index.saturating_add(1)));
        }
    }
    // The receipts, in parallel; the first failure in order is reported.
    let checked: Vec<Result<(), VerifyError>> = credits
        .par_iter()
        .zip(witness.receipts.par_iter())
        .enumerate()
        .map(|(index, (tx, receipt))| {
            check_receipt(header, blob.model, source, tx, receipt)
                .map_err(|error| error.at_transaction(index))
        })
        .collect();
    checked.into_iter().collect::<Result<(), _>>()?;

    let accounts = touched_accounts(credits, params.tree_depth)?;
    let leaves: Vec<AccountLeaf> = witness.merkle.leaves.to_vec();
    if let Some(index) = leaves
        .iter()
        .position(|leaf| leaf.is_empty() && *leaf != AccountLeaf::EMPTY)
    {
        return Err(Reason::NonCanonicalEmptyLeaf { index }.into());
    }
    let (expected, found) = (accounts.len(), leaves.len());
    let pre_state = TouchedState::new(accounts, leaves)
        .ok_or(Reason::LeafCountMismatch { expected, found })?
        .with_bridge(Some(bridge));
    let mut post_state = pre_state.clone();
    let mut failure = None;
    for (index, tx) in credits.iter().enumerate() {
        if let Err(reason) = post_state.apply_credit(tx) {
            failure = Some(VerifyError::new(reason).at_transaction(index));
            break;
        }
    }
    let (pre_root, post_root) = roots(&pre_state, &post_state)?;
    if pre_root != blob.pre_state_root {
        return Err(Reason::PreStateRootMismatch {
            computed: pre_root,
            claimed: blob.pre_state_root,
        }
        .into());
    }
    if let Some(error) = failure {
        return Err(error);
    }
    if post_root != blob.post_state_root {
        return Err(Reason::PostStateRootMismatch {
            computed: post_root,
            claimed: blob.post_state_root,
        }
        .into());
    }
    Ok(())
}

/// Checks that `receipt` proves, against the crediting block, the `source` model's bridge leaf
/// the credit `tx` names, at an earlier height, with the sent total the credit claims.
fn check_receipt(
    header: &Header,
    model: Model,
    source: Model,
    tx: &witness_format::Transaction,
    receipt: &witness_format::HistoryProof,
) -> Result<(), VerifyError> {
    if !matches!(receipt.fact, HistoryFact::Account(_)) {
        return Err(Reason::ReceiptNotAnAccount.into());
    }
    let fact = verify_history_proof(receipt, header)?;
    let ProvenFact::Account {
        height,
        model: found,
        account,
        leaf,
        ..
    } = fact
    else {
        return Err(Reason::ReceiptNotAnAccount.into());
    };
    if found != source {
        return Err(Reason::ReceiptFromWrongModel { model, found }.into());
    }
    if height >= header.height {
        return Err(Reason::ReceiptNotEarlier {
            height,
            block: header.height,
        }
        .into());
    }
    let expected = header.height.saturating_sub(1);
    if height != expected {
        return Err(Reason::ReceiptNotLatest {
            height,
            block: header.height,
            expected,
        }
        .into());
    }
    if account != tx.from {
        return Err(Reason::ReceiptForOtherAccount {
            receipt_account: account,
            credit_account: tx.from,
        }
        .into());
    }
    if leaf.balance != tx.nonce {
        return Err(Reason::ReceiptSentMismatch {
            receipt: leaf.balance,
            credit: tx.nonce,
        }
        .into());
    }
    Ok(())
}
