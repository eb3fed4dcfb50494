//! The `transfer` model's transaction rules.
//!
//! A transfer names sender and receiver by account number, an amount and the sender's nonce. It
//! is valid when: both accounts fit the tree; the sender exists; the nonce equals the sender's
//! (and then increments); the sender can pay; a receiver that does not exist yet is created with
//! the key the transaction carries, and only then does it carry one; no balance or nonce
//! overflows; and the sender signed the signing message, which binds chain id and model.

pub mod ed25519;
pub mod state;

pub use state::{TRANSFER_TREE, TransferTree};

use rayon::prelude::*;
use witness_format::{Blob, Hash32, Header, MerkleWitness, Model, PublicKey, Transaction, Witness};

use crate::accounts::{AccountRules, TouchedState, touched_accounts};
use crate::bridge::bridge;
use crate::bridge::check_credit_blob;
use crate::error::{Reason, VerifyError};
use crate::model::ExecutionModel;
use crate::model::{PendingProof, StateCommitment, unsupported};
use crate::params::ChainParams;
use crate::transfer::ed25519::{SignatureCheck, first_invalid, invalid_indices, is_valid_new_key};
use crate::tree::{witness_roots, witness_state};

/// Domain of every transaction signature, so a signature made for anything else never verifies.
pub const SIGNING_DOMAIN: &[u8; 16] = b"stateless/tx/v1\0";

/// Length of [`signing_message`]'s output.
pub const SIGNING_MESSAGE_LEN: usize = 16 + 8 + 1 + 8 + 8 + 8 + 8 + 32;

/// The bytes a sender signs: domain, chain id, model, then the transaction's fields, integers
/// little-endian.
pub fn signing_message(chain_id: u64, model: Model, tx: &Transaction) -> [u8; SIGNING_MESSAGE_LEN] {
    let mut message = [0u8; SIGNING_MESSAGE_LEN];
    let parts: [&[u8]; 8] = [
        SIGNING_DOMAIN,
        &chain_id.to_le_bytes(),
        &[model as u8],
        &tx.from.to_le_bytes(),
        &tx.to.to_le_bytes(),
        &tx.amount.to_le_bytes(),
        &tx.nonce.to_le_bytes(),
        &tx.new_account_key.0,
    ];
    // The parts add up to exactly SIGNING_MESSAGE_LEN bytes.
    for (byte, part_byte) in message.iter_mut().zip(parts.into_iter().flatten()) {
        *byte = *part_byte;
    }
    message
}

/// What each transaction's signature must verify against: the sender's key at that point and
/// the signing message.
pub type SignedMessage = (PublicKey, [u8; SIGNING_MESSAGE_LEN]);

/// Applies `transactions` in order to `state` under every rule but signatures (the new-owner key
/// rule, [`AccountRules::check_new_account_key`], then [`TouchedState::apply`]), up to the first
/// failure. Returns the signature inputs of the transactions up to and including the failing
/// one (when its sender exists), and the failure with its index.
///
/// The key rule needs no state, and it is a curve point check: it runs first, on every
/// transaction, on all threads.
pub fn apply_rules(
    chain_id: u64,
    model: Model,
    state: &mut TouchedState,
    transactions: &[Transaction],
) -> (Vec<SignedMessage>, Option<(usize, Reason)>) {
    let keys: Vec<Result<(), Reason>> = transactions
        .par_iter()
        .map(|tx| TRANSFER_MODEL.check_new_account_key(&tx.new_account_key))
        .collect();
    let mut signed = Vec::with_capacity(transactions.len());
    for ((index, tx), key) in transactions.iter().enumerate().zip(keys) {
        if let Some(sender) = state.get(tx.from).filter(|leaf| !leaf.is_empty()) {
            signed.push((sender.public_key, signing_message(chain_id, model, tx)));
        }
        if let Err(reason) = key {
            return (signed, Some((index, reason)));
        }
        if let Err(reason) = state.apply(tx) {
            return (signed, Some((index, reason)));
        }
    }
    (signed, None)
}

/// The signature checks of `transactions`, given the inputs [`apply_rules`] returned.
pub fn signature_checks<'a>(
    signed: &'a [SignedMessage],
    transactions: &'a [Transaction],
) -> Vec<SignatureCheck<'a>> {
    signed
        .iter()
        .zip(transactions)
        .map(|((key, message), tx)| SignatureCheck {
            public_key: &key.0,
            signature: &tx.signature.0,
            message,
        })
        .collect()
}

/// The `transfer` model: accounts by number in a SHA3 sparse tree, Ed25519 signatures, Merkle
/// witnesses (and, on a chain of several models, blobs of credits).
pub struct TransferModel;

/// The `transfer` model's implementation.
pub static TRANSFER_MODEL: TransferModel = TransferModel;

impl ExecutionModel for TransferModel {
    fn tag(&self) -> Model {
        Model::Transfer
    }

    fn state(&self) -> &'static dyn StateCommitment {
        &TRANSFER_TREE
    }

    fn account_rules(&self) -> Option<&'static dyn AccountRules> {
        Some(&TRANSFER_MODEL)
    }

    fn check_blob<'a>(
        &self,
        params: &ChainParams,
        header: Option<&Header>,
        blob: &'a Blob,
        _linked: bool,
    ) -> Result<Option<PendingProof<'a>>, VerifyError> {
        match &blob.witness {
            Witness::Merkle(witness) => verify_merkle_blob(params, blob, witness).map(|()| None),
            Witness::Credits(witness) => {
                check_credit_blob(params, header, blob, witness, |pre, post| {
                    transfer_roots(params, pre, post, &witness.merkle)
                })
            }
            Witness::Zk(_) | Witness::Evm(_) | Witness::EvmCredits(_) => Err(unsupported(blob)),
        }
    }
}

/// Ed25519 keys and signatures (ZIP-215), checked in parallel batches.
impl AccountRules for TransferModel {
    /// A canonical encoding of a torsion-free Ed25519 point ([`ed25519::is_valid_new_key`]).
    fn check_new_account_key(&self, key: &PublicKey) -> Result<(), Reason> {
        if key.is_zero() || is_valid_new_key(&key.0) {
            Ok(())
        } else {
            Err(Reason::InvalidNewAccountKey)
        }
    }

    fn invalid_signatures(
        &self,
        chain_id: u64,
        signers: &[PublicKey],
        transactions: &[Transaction],
    ) -> Vec<usize> {
        let signed: Vec<SignedMessage> = signers
            .iter()
            .zip(transactions)
            .map(|(key, tx)| (*key, signing_message(chain_id, Model::Transfer, tx)))
            .collect();
        invalid_indices(&signature_checks(&signed, transactions))
    }
}

/// Checks a `transfer` blob with a Merkle witness ([`crate::blob::verify_blob`]'s steps).
fn verify_merkle_blob(
    params: &ChainParams,
    blob: &Blob,
    witness: &MerkleWitness,
) -> Result<(), VerifyError> {
    let accounts = touched_accounts(&blob.transactions, params.tree_depth)?;
    let pre_state = witness_state(accounts, witness)?.with_bridge(bridge(params, blob.model));
    let mut post_state = pre_state.clone();
    let (signed, rule_failure) = apply_rules(
        params.chain_id,
        blob.model,
        &mut post_state,
        &blob.transactions,
    );

    let (roots, bad_signature) = rayon::join(
        || transfer_roots(params, &pre_state, &post_state, witness),
        || first_invalid(&signature_checks(&signed, &blob.transactions)),
    );

    let (pre_root, post_root) = roots?;
    if pre_root != blob.pre_state_root {
        return Err(Reason::PreStateRootMismatch {
            computed: pre_root,
            claimed: blob.pre_state_root,
        }
        .into());
    }
    if let Some(index) = bad_signature {
        return Err(VerifyError::new(Reason::BadSignature).at_transaction(index));
    }
    if let Some((index, reason)) = rule_failure {
        return Err(VerifyError::new(reason).at_transaction(index));
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

/// The `transfer` roots a Merkle witness gives a touched state before and after its blob.
fn transfer_roots(
    params: &ChainParams,
    pre: &TouchedState,
    post: &TouchedState,
    witness: &MerkleWitness,
) -> Result<(Hash32, Hash32), VerifyError> {
    witness_roots(
        &TRANSFER_TREE,
        params.tree_depth,
        pre,
        post,
        witness,
        |hash| Ok(*hash),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Bridge, TouchedState};
    use witness_format::{AccountLeaf, Signature};

    #[test]
    fn signing_message_lays_out_every_field() {
        let tx = Transaction {
            from: 0x0102,
            to: 0x0304,
            amount: 0x0506,
            nonce: 0x0708,
            new_account_key: PublicKey::from([0xAB; 32]),
            signature: Signature::ZERO,
        };
        let message = signing_message(0x0A0B, Model::Transfer, &tx);
        let mut expected = Vec::new();
        expected.extend_from_slice(b"stateless/tx/v1\0");
        expected.extend_from_slice(&0x0A0Bu64.to_le_bytes());
        expected.push(0);
        for field in [0x0102u64, 0x0304, 0x0506, 0x0708] {
            expected.extend_from_slice(&field.to_le_bytes());
        }
        expected.extend_from_slice(&[0xAB; 32]);
        assert_eq!(message.as_slice(), expected.as_slice());
    }

    /// The credit rules on a bridge at 8 (a depth-4 tree): bridge leaf 9 records credits to
    /// account 1.
    #[test]
    fn credits_move_what_the_receipt_leaves_once_and_bridge_leaves_never_send() {
        let bridge = Bridge::new(4, &[Model::ZkTransfer], PublicKey::from([0xB1; 32])).unwrap();
        assert_eq!(bridge.accounts_end(), 8);
        let owner = AccountLeaf {
            public_key: PublicKey::from([1; 32]),
            balance: 10,
            nonce: 0,
        };
        let state = TouchedState::new(
            vec![1, 2, 9],
            vec![owner, AccountLeaf::EMPTY, AccountLeaf::EMPTY],
        )
        .unwrap()
        .with_bridge(Some(bridge));
        let credit = Transaction {
            from: 9,
            to: 1,
            amount: 5,
            nonce: 5,
            new_account_key: PublicKey::ZERO,
            signature: Signature::ZERO,
        };
        let mut credited = state.clone();
        credited.apply_credit(&credit).unwrap();
        assert_eq!(credited.get(1).unwrap().balance, 15);
        assert_eq!(credited.get(9).unwrap().nonce, 5);
        assert_eq!(credited.get(9).unwrap().public_key, bridge.key());
        // The same receipt again: nothing left to credit.
        assert_eq!(
            credited.clone().apply_credit(&credit),
            Err(Reason::ReceiptAlreadyConsumed {
                sent: 5,
                received: 5
            })
        );
        // A later receipt (8 sent in all) credits only the rest.
        let rest = Transaction {
            amount: 3,
            nonce: 8,
            ..credit
        };
        credited.clone().apply_credit(&rest).unwrap();
        assert_eq!(
            credited
                .clone()
                .apply_credit(&Transaction { amount: 8, ..rest }),
            Err(Reason::CreditAmountMismatch {
                expected: 3,
                found: 8
            })
        );
        let mut to_empty = state.clone();
        assert_eq!(
            to_empty.apply_credit(&Transaction {
                from: 10,
                to: 2,
                ..credit
            }),
            Err(Reason::CreditToEmptyAccount { account: 2 })
        );
        assert_eq!(
            to_empty.apply_credit(&Transaction { to: 2, ..credit }),
            Err(Reason::CreditToOtherAccount {
                bridge_account: 9,
                account: 2
            })
        );
        assert_eq!(
            to_empty.apply_credit(&Transaction {
                signature: Signature::from([1; 64]),
                ..credit
            }),
            Err(Reason::NonCanonicalCredit)
        );
        assert_eq!(
            to_empty.apply_credit(&Transaction { from: 2, ..credit }),
            Err(Reason::NotACredit { account: 2 })
        );
        // A bridge leaf never sends an ordinary transfer.
        assert_eq!(
            credited.apply(&Transaction {
                from: 9,
                to: 1,
                amount: 1,
                nonce: 5,
                ..credit
            }),
            Err(Reason::BridgeAccountSends { account: 9 })
        );
        // An exit creates its bridge leaf with the bridge key and carries no key itself.
        let exit = Transaction {
            from: 1,
            to: 9,
            amount: 4,
            nonce: 0,
            ..credit
        };
        let mut exited = state.clone();
        exited.apply(&exit).unwrap();
        assert_eq!(
            exited.get(9),
            Some(&AccountLeaf {
                public_key: bridge.key(),
                balance: 4,
                nonce: 0
            })
        );
        assert_eq!(
            state.clone().apply(&Transaction {
                new_account_key: PublicKey::from([3; 32]),
                ..exit
            }),
            Err(Reason::UnexpectedNewAccountKey { account: 9 })
        );
    }
}
