//! Cross-model messages between the models with numbered accounts (`docs/CROSS_MODEL.md`).
//!
//! Each model's tree keeps a region of accounts and one region of channel leaves per other
//! model of the chain ([`Bridge`]): the channel leaf with account `n` of model O records, in
//! its balance, all the model's accounts ever sent to O's account `n`, and in its nonce, all
//! the model's own account `n` was ever credited from O. On a chain of two models that is the
//! upper half of the tree: leaf `base + n` (`base = 2^(depth - 1)`).
//!
//! - **Exit** (the receipt): an ordinary signed transfer to the channel leaf with the target
//!   account of the target model: the leaf names both. It leaves the model's accounts; the
//!   channel leaf's balance grows.
//! - **Credit**: a transaction of the target model from its channel leaf with the source model
//!   for account `n` to account `n`, unsigned, in a blob of credits. Its witness carries, for
//!   each credit, the history proof of the source's channel leaf with the target's account `n`
//!   at an earlier height, checked against the crediting block's history root: the receipt.
//!   The credit's nonce is the receipt's sent total; its amount, that less what was credited
//!   so far; the crediting channel leaf's nonce becomes the sent total. So a receipt credits
//!   once (a second credit finds nothing left: [`Reason::ReceiptAlreadyConsumed`]), only from
//!   an ancestor of the crediting block (the history proof), only from the model the channel
//!   is with, and only to the account it names.
//!
//! Value is conserved: across all models, accounts plus exits not yet credited (sent totals
//! less credited totals, over all channel leaves) never change.

use rayon::prelude::*;
use witness_format::{Blob, CreditWitness, Hash32, Header, HistoryFact, Model, PublicKey};

use crate::accounts::{Bridge, TouchedState, touched_accounts};
use crate::error::{Reason, VerifyError};
use crate::evm::bridge::{EvmCredit, bridge_code_hash};
use crate::hash::tagged_hash;
use crate::history_proof::{ProvenFact, verify_history_proof};
use crate::model::PendingProof;
use crate::params::ChainParams;
use crate::tree::witness_state;

/// Domain of the `transfer` bridge key.
const BRIDGE_KEY_TAG: u8 = 0xB1;

/// What the `zk-transfer` bridge key is derived from (see [`ZK_BRIDGE_KEY`]).
pub const ZK_BRIDGE_KEY_SEED: &[u8] = b"stateless/zk-transfer/bridge-key/v1";

/// The `zk-transfer` bridge key: a Jubjub point of the prime-order subgroup whose discrete log
/// nobody knows. It is `[8]P` for the first point P (x's sign bit clear) whose y is
/// `SHA3-256(ZK_BRIDGE_KEY_SEED ‖ counter) mod q`, counter a little-endian `u32` from 0 (the
/// first, 0, gives a point); a test derives it again. So no signature can be made for a bridge
/// leaf, on top of the rules (natively `BridgeAccountSends`, in the circuit no slot touching the
/// upper half) that already stop one from sending.
pub const ZK_BRIDGE_KEY: [u8; 32] = [
    0x73, 0xbc, 0xe7, 0x9b, 0x7e, 0x89, 0x36, 0xfb, 0x62, 0x74, 0x7c, 0xbd, 0xf7, 0xe2, 0x9a, 0x33,
    0xaf, 0xd9, 0x7b, 0xac, 0x76, 0xcc, 0x68, 0x4d, 0xe1, 0x92, 0x36, 0x23, 0x1c, 0xe5, 0x82, 0x6f,
];

/// The key every bridge leaf of `model` holds: a fixed marker that is a valid key of the model
/// (the `zk-transfer` leaf hash needs a Jubjub point) and that nobody can sign for (a hash, for
/// `transfer`; [`ZK_BRIDGE_KEY`] for `zk-transfer`). The rules stop a bridge leaf from sending
/// in any case. `None` for a model without numbered accounts (`evm`).
pub fn bridge_key(model: Model) -> Option<PublicKey> {
    match model {
        Model::Transfer => Some(PublicKey::from(
            tagged_hash(BRIDGE_KEY_TAG, &[b"bridge leaf"]).0,
        )),
        Model::ZkTransfer => Some(PublicKey::from(ZK_BRIDGE_KEY)),
        Model::Evm => None,
    }
}

/// The bridge of `model` on a chain of several models ([`Bridge`]); `None` on a chain of one
/// model or a tree too shallow for the regions (then every leaf is an ordinary account).
pub fn bridge(params: &ChainParams, model: Model) -> Option<Bridge> {
    if !params.models.contains(&model) {
        return None;
    }
    let others: Vec<Model> = params
        .models
        .iter()
        .copied()
        .filter(|&other| other != model)
        .collect();
    Bridge::new(params.tree_depth, &others, bridge_key(model)?)
}

/// The top index bits `model`'s accounts keep zero on this chain (its bridge's; 0 without
/// one): a zk proof's public inputs bind them, and its circuit keeps every slot below them.
pub fn reserved_bits(params: &ChainParams, model: Model) -> u8 {
    bridge(params, model).map_or(0, |bridge| bridge.reserved_bits())
}

/// Rejects a zk blob that touches a bridge leaf: its proof does not cover the bridge rules, and
/// its transactions are public, so the verifier sees it without executing anything.
pub fn check_zk_blob_avoids_bridge(params: &ChainParams, blob: &Blob) -> Result<(), VerifyError> {
    let Some(bridge) = bridge(params, blob.model) else {
        return Ok(());
    };
    for (index, tx) in blob.transactions.iter().enumerate() {
        if let Some(account) = [tx.from, tx.to]
            .into_iter()
            .find(|&a| a >= bridge.accounts_end())
        {
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
            check_receipt(params, header, &bridge, blob.model, tx, receipt)
                .map_err(|error| error.at_transaction(index))
        })
        .collect();
    checked.into_iter().collect::<Result<(), _>>()?;

    let accounts = touched_accounts(credits, params.tree_depth)?;
    let pre_state = witness_state(accounts, &witness.merkle)?.with_bridge(Some(bridge));
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

/// A blob of credits of a model whose state is a sparse tree, with the model's roots: it must
/// be in a block, whose history its receipts are checked against.
pub(crate) fn check_credit_blob(
    params: &ChainParams,
    header: Option<&Header>,
    blob: &Blob,
    witness: &CreditWitness,
    roots: impl FnOnce(&TouchedState, &TouchedState) -> Result<(Hash32, Hash32), VerifyError>,
) -> Result<Option<PendingProof<'static>>, VerifyError> {
    let header = header.ok_or(Reason::CreditsOutsideBlock)?;
    verify_credit_blob(params, header, blob, witness, roots).map(|()| None)
}

/// Checks that `receipt` proves, against the crediting block, the channel leaf of the model
/// the credit `tx`'s channel leaf is with, for the credited account, at the height before, with
/// the sent total the credit claims. `channels` is the crediting `model`'s bridge.
fn check_receipt(
    params: &ChainParams,
    header: &Header,
    channels: &Bridge,
    model: Model,
    tx: &witness_format::Transaction,
    receipt: &witness_format::HistoryProof,
) -> Result<(), VerifyError> {
    let (source, credited) = channels.open_channel(tx.from)?;
    if !matches!(
        receipt.fact,
        HistoryFact::Account(_) | HistoryFact::EvmChannel(_)
    ) {
        return Err(Reason::ReceiptNotAnAccount.into());
    }
    // What the receipt proves: its height, its model, whether it is the source's channel with
    // the credited account of this model, and the sent total.
    let (height, found, channel, sent) = match verify_history_proof(receipt, header)? {
        ProvenFact::Account {
            height,
            model: found,
            account,
            leaf,
            ..
        } => {
            // The source's channel leaf with the account of this model the credit's channel
            // names (that the credit pays that account is the credit rule's:
            // `CreditToOtherAccount`).
            let sending_leaf =
                bridge(params, source).and_then(|sender| sender.channel_leaf(model, credited));
            let channel = match sending_leaf == Some(account) {
                true => Ok(()),
                false => Err(Reason::ReceiptForOtherAccount {
                    receipt_account: account,
                    credit_account: sending_leaf.unwrap_or(tx.from),
                }),
            };
            (height, found, channel, leaf.balance)
        }
        ProvenFact::EvmChannel {
            height,
            model: target,
            account,
            sent,
            bridge_code_hash: code_hash,
        } => {
            let expected = Hash32::from(bridge_code_hash(&params.models).0);
            let channel = if code_hash != Some(expected) {
                Err(Reason::ReceiptNotFromBridge { code_hash })
            } else if (target, account) != (model, credited) {
                Err(Reason::ReceiptForOtherChannel {
                    model: target,
                    account,
                })
            } else {
                Ok(())
            };
            (height, Model::Evm, channel, sent)
        }
        _ => return Err(Reason::ReceiptNotAnAccount.into()),
    };
    if found != source {
        return Err(Reason::ReceiptFromWrongModel {
            model: source,
            found,
        }
        .into());
    }
    check_receipt_height(height, header)?;
    channel?;
    if sent != tx.nonce {
        return Err(Reason::ReceiptSentMismatch {
            receipt: sent,
            credit: tx.nonce,
        }
        .into());
    }
    Ok(())
}

/// A receipt must be of the height just before the crediting block's.
fn check_receipt_height(height: u64, header: &Header) -> Result<(), Reason> {
    if height >= header.height {
        return Err(Reason::ReceiptNotEarlier {
            height,
            block: header.height,
        });
    }
    let expected = header.height.saturating_sub(1);
    if height != expected {
        return Err(Reason::ReceiptNotLatest {
            height,
            block: header.height,
            expected,
        });
    }
    Ok(())
}

/// The credits into `evm` that `receipts` prove, in the block of `header`: each receipt is a
/// numbered model's channel leaf with an `evm` account, at the height just before, and the
/// credit is its sent total (what the block pays in is then the `evm` rules':
/// [`crate::evm::bridge::BridgeCredits`]). In parallel; the first failure in order is
/// reported, at its index.
pub(crate) fn evm_credits(
    params: &ChainParams,
    header: &Header,
    receipts: &[witness_format::HistoryProof],
) -> Result<Vec<EvmCredit>, VerifyError> {
    let credits: Vec<Result<EvmCredit, VerifyError>> = receipts
        .par_iter()
        .enumerate()
        .map(|(index, receipt)| {
            evm_credit(params, header, receipt).map_err(|error| error.at_transaction(index))
        })
        .collect();
    credits.into_iter().collect()
}

fn evm_credit(
    params: &ChainParams,
    header: &Header,
    receipt: &witness_format::HistoryProof,
) -> Result<EvmCredit, VerifyError> {
    if !matches!(receipt.fact, HistoryFact::Account(_)) {
        return Err(Reason::ReceiptNotAnAccount.into());
    }
    let ProvenFact::Account {
        height,
        model,
        account: leaf,
        leaf: channel,
        ..
    } = verify_history_proof(receipt, header)?
    else {
        return Err(Reason::ReceiptNotAnAccount.into());
    };
    let account = match bridge(params, model).map(|sender| sender.open_channel(leaf)) {
        Some(Ok((Model::Evm, account))) => account,
        _ => {
            return Err(Reason::ReceiptNotToEvm {
                model,
                account: leaf,
            }
            .into());
        }
    };
    check_receipt_height(height, header)?;
    Ok(EvmCredit {
        model,
        account,
        sent: channel.balance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zk_transfer::schnorr::{decode_point, encode_point, generator};
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ed_on_bls12_381::{EdwardsAffine, Fq};
    use ark_ff::PrimeField;
    use sha3::{Digest, Sha3_256};

    #[test]
    fn the_zk_bridge_key_is_derived_from_its_seed_and_in_the_subgroup() {
        let mut derived = None;
        for counter in 0u32..16 {
            let digest = Sha3_256::new()
                .chain_update(ZK_BRIDGE_KEY_SEED)
                .chain_update(counter.to_le_bytes())
                .finalize();
            let y = Fq::from_le_bytes_mod_order(&digest);
            if let Some(p) = EdwardsAffine::get_point_from_y_unchecked(y, false) {
                derived = Some(p.mul_by_cofactor_to_group().into_affine());
                break;
            }
        }
        let derived = derived.expect("a point within 16 tries");
        assert_eq!(encode_point(&derived), ZK_BRIDGE_KEY);
        let key = decode_point(&ZK_BRIDGE_KEY).expect("a valid subgroup point");
        assert_ne!(key, generator(), "not the generator, whose secret is 1");
    }
}
