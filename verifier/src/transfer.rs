//! The `transfer` model's transaction rules.
//!
//! A transfer names sender and receiver by account number, an amount and the sender's nonce. It
//! is valid when: both accounts fit the tree; the sender exists; the nonce equals the sender's
//! (and then increments); the sender can pay; a receiver that does not exist yet is created with
//! the key the transaction carries, and only then does it carry one; no balance or nonce
//! overflows; and the sender signed the signing message, which binds chain id and model.

use std::sync::LazyLock;

use witness_format::{
    AccountFact, AccountLeaf, Blob, Hash32, Header, MerkleWitness, Model, PublicKey, Signature,
    Transaction, Witness,
};

use crate::blob::{PendingProof, check_credit_blob, unsupported};
use crate::bridge::bridge;
use crate::params::ChainParams;
use crate::error::{Reason, VerifyError};
use crate::model::ExecutionModel;
use crate::schnorr;
use crate::signature::first_invalid;
use crate::signature::{SignatureCheck, is_valid_new_key};
use crate::tree::{
    SparseTree, WireTree, empty_hashes, in_range, read_multiproof, witness_roots, witness_state,
};

/// The `transfer` model's state tree: SHA3-256 leaves and nodes ([`crate::hash::leaf_hash`],
/// [`crate::hash::node_hash`]), the empty slot hashing to 32 zero bytes.
pub struct TransferTree {
    empty: LazyLock<Vec<Hash32>>,
}

/// The `transfer` model's tree; its empty-subtree hashes are computed once.
pub static TRANSFER_TREE: TransferTree = TransferTree {
    empty: LazyLock::new(|| empty_hashes(Hash32::ZERO, crate::hash::node_hash)),
};

impl SparseTree for TransferTree {
    type Node = Hash32;

    fn leaf(&self, leaf: &AccountLeaf) -> Option<Hash32> {
        Some(crate::hash::leaf_hash(leaf))
    }

    fn node(&self, left: &Hash32, right: &Hash32) -> Hash32 {
        crate::hash::node_hash(left, right)
    }

    fn empty(&self, level: u8) -> Hash32 {
        self.empty
            .get(usize::from(level))
            .copied()
            .unwrap_or(Hash32::ZERO)
    }

    fn decode(&self, hash: &Hash32) -> Option<Hash32> {
        Some(*hash)
    }

    fn encode(&self, node: &Hash32) -> Hash32 {
        *node
    }
}

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

/// The new-owner key rule: a non-zero key must be a valid public key of `model`'s signature
/// scheme, the canonical encoding of a point of prime order (Ed25519 for `transfer`:
/// [`is_valid_new_key`]; Jubjub for `zk-transfer`: [`schnorr::decode_point`]). All zero means
/// the transaction carries no key. A key of small order would let anyone spend the account.
pub fn check_new_account_key(model: Model, key: &PublicKey) -> Result<(), Reason> {
    let valid = key.is_zero()
        || match model {
            Model::Transfer => is_valid_new_key(&key.0),
            Model::ZkTransfer => schnorr::decode_point(&key.0).is_some(),
        };
    if valid {
        Ok(())
    } else {
        Err(Reason::InvalidNewAccountKey)
    }
}

/// The accounts a list of transactions touches (senders and receivers), ascending, each once.
///
/// Rejects, at the first offending transaction, an account number outside the tree.
pub fn touched_accounts(transactions: &[Transaction], depth: u8) -> Result<Vec<u64>, VerifyError> {
    let mut accounts = Vec::with_capacity(transactions.len().saturating_mul(2));
    for (index, tx) in transactions.iter().enumerate() {
        for account in [tx.from, tx.to] {
            if !in_range(account, depth) {
                return Err(
                    VerifyError::new(Reason::AccountOutOfRange { account, depth })
                        .at_transaction(index),
                );
            }
            accounts.push(account);
        }
    }
    accounts.sort_unstable();
    accounts.dedup();
    Ok(accounts)
}

/// A model's bridge on a chain of two models: the upper half of its tree, one bridge leaf per
/// account of the lower half (`docs/CROSS_MODEL.md`). Bridge leaf `base + x` holds, in its
/// balance, all this model's accounts ever sent to account `x` of the other model (exits), and
/// in its nonce, all this model's account `x` was ever credited from the other model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bridge {
    /// The first bridge leaf: `2^(depth - 1)`.
    pub base: u64,
    /// The key every bridge leaf holds: a fixed marker. The rules, not the key, stop a bridge
    /// leaf from sending.
    pub key: PublicKey,
}

/// The state of the accounts a blob touches, in ascending account order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TouchedState {
    accounts: Vec<u64>,
    leaves: Vec<AccountLeaf>,
    bridge: Option<Bridge>,
}

impl TouchedState {
    /// Pairs ascending account numbers with their leaves. `None` if the lengths differ.
    pub fn new(accounts: Vec<u64>, leaves: Vec<AccountLeaf>) -> Option<Self> {
        (accounts.len() == leaves.len()).then_some(Self {
            accounts,
            leaves,
            bridge: None,
        })
    }

    /// The same state under a bridge's rules (on a chain of two models), or none.
    pub fn with_bridge(mut self, bridge: Option<Bridge>) -> Self {
        self.bridge = bridge;
        self
    }

    /// The account numbers, ascending.
    pub fn accounts(&self) -> &[u64] {
        &self.accounts
    }

    /// The leaves, in account order.
    pub fn leaves(&self) -> &[AccountLeaf] {
        &self.leaves
    }

    /// The current leaf of `account`, if it is one of the touched accounts.
    pub fn get(&self, account: u64) -> Option<&AccountLeaf> {
        let position = self.accounts.binary_search(&account).ok()?;
        self.leaves.get(position)
    }

    fn get_mut(&mut self, account: u64) -> Option<&mut AccountLeaf> {
        let position = self.accounts.binary_search(&account).ok()?;
        self.leaves.get_mut(position)
    }

    /// Applies one transaction's rules, signatures aside. On error nothing changes.
    ///
    /// Callers build the state from [`touched_accounts`], so both accounts are present; one that
    /// is not is rejected as a missing sender, or as a receiver that cannot be created.
    ///
    /// Under a bridge, a bridge leaf never sends, and a transfer to bridge leaf `base + x` is an
    /// exit to account `x` of the other model: it creates the leaf (with the bridge key, the
    /// transaction carrying none) or adds to its balance.
    pub fn apply(&mut self, tx: &Transaction) -> Result<(), Reason> {
        if let Some(bridge) = self.bridge
            && tx.from >= bridge.base
        {
            return Err(Reason::BridgeAccountSends { account: tx.from });
        }
        let sender = self
            .get(tx.from)
            .filter(|leaf| !leaf.is_empty())
            .copied()
            .ok_or(Reason::SenderMissing { account: tx.from })?;
        if tx.nonce != sender.nonce {
            return Err(Reason::NonceMismatch {
                expected: sender.nonce,
                found: tx.nonce,
            });
        }
        let debited_balance =
            sender
                .balance
                .checked_sub(tx.amount)
                .ok_or(Reason::InsufficientBalance {
                    balance: sender.balance,
                    amount: tx.amount,
                })?;
        let next_nonce = sender.nonce.checked_add(1).ok_or(Reason::NonceOverflow)?;
        // The receiver as it is after the debit (the same account when sending to oneself).
        let receiver = if tx.to == tx.from {
            AccountLeaf {
                balance: debited_balance,
                ..sender
            }
        } else {
            self.get(tx.to)
                .copied()
                .ok_or(Reason::MissingNewAccountKey { account: tx.to })?
        };
        let exit = self.bridge.filter(|bridge| tx.to >= bridge.base);
        let receiver_key = match (receiver.is_empty(), tx.new_account_key.is_zero(), exit) {
            (true, true, Some(bridge)) => bridge.key,
            (true, true, None) => return Err(Reason::MissingNewAccountKey { account: tx.to }),
            (true, false, None) => tx.new_account_key,
            (false, true, _) => receiver.public_key,
            (_, false, _) => return Err(Reason::UnexpectedNewAccountKey { account: tx.to }),
        };
        let credited_balance =
            receiver
                .balance
                .checked_add(tx.amount)
                .ok_or(Reason::BalanceOverflow {
                    balance: receiver.balance,
                    amount: tx.amount,
                })?;

        // All checks passed: write both accounts.
        if let Some(leaf) = self.get_mut(tx.from) {
            leaf.balance = debited_balance;
            leaf.nonce = next_nonce;
        }
        if let Some(leaf) = self.get_mut(tx.to) {
            leaf.public_key = receiver_key;
            leaf.balance = credited_balance;
            if tx.to == tx.from {
                leaf.nonce = next_nonce;
            }
        }
        Ok(())
    }
}

impl TouchedState {
    /// Applies one credit: `tx` moves into account `x` what the other model sent it beyond what
    /// was credited so far. `tx.from` is the bridge leaf `base + x` (its nonce: the total
    /// credited), `tx.nonce` the total sent, as the credit's receipt proves (checked by the
    /// caller), and `tx.amount` their difference. On error nothing changes.
    pub fn apply_credit(&mut self, tx: &Transaction) -> Result<(), Reason> {
        let bridge = self
            .bridge
            .filter(|bridge| tx.from >= bridge.base)
            .ok_or(Reason::NotACredit { account: tx.from })?;
        if tx.to.checked_add(bridge.base) != Some(tx.from) {
            return Err(Reason::CreditToOtherAccount {
                bridge_account: tx.from,
                account: tx.to,
            });
        }
        if !tx.new_account_key.is_zero() || tx.signature != Signature::ZERO {
            return Err(Reason::NonCanonicalCredit);
        }
        let record = self.get(tx.from).copied().unwrap_or(AccountLeaf::EMPTY);
        let received = if record.is_empty() { 0 } else { record.nonce };
        let sent = tx.nonce;
        let expected = sent
            .checked_sub(received)
            .filter(|&amount| amount > 0)
            .ok_or(Reason::ReceiptAlreadyConsumed { sent, received })?;
        if tx.amount != expected {
            return Err(Reason::CreditAmountMismatch {
                expected,
                found: tx.amount,
            });
        }
        let receiver = self
            .get(tx.to)
            .filter(|leaf| !leaf.is_empty())
            .copied()
            .ok_or(Reason::CreditToEmptyAccount { account: tx.to })?;
        let balance = receiver
            .balance
            .checked_add(tx.amount)
            .ok_or(Reason::BalanceOverflow {
                balance: receiver.balance,
                amount: tx.amount,
            })?;
        if let Some(leaf) = self.get_mut(tx.from) {
            *leaf = AccountLeaf {
                public_key: bridge.key,
                balance: record.balance,
                nonce: sent,
            };
        }
        if let Some(leaf) = self.get_mut(tx.to) {
            leaf.balance = balance;
        }
        Ok(())
    }
}

/// What each transaction's signature must verify against: the sender's key at that point and
/// the signing message.
pub type SignedMessage = (PublicKey, [u8; SIGNING_MESSAGE_LEN]);

/// Applies `transactions` in order to `state` under every rule but signatures (the new-owner key
/// rule, [`check_new_account_key`], then [`TouchedState::apply`]), up to the first failure. Returns the signature inputs of the transactions up to and including the failing
/// one (when its sender exists), and the failure with its index.
pub fn apply_rules(
    chain_id: u64,
    model: Model,
    state: &mut TouchedState,
    transactions: &[Transaction],
) -> (Vec<SignedMessage>, Option<(usize, Reason)>) {
    let mut signed = Vec::with_capacity(transactions.len());
    for (index, tx) in transactions.iter().enumerate() {
        if let Some(sender) = state.get(tx.from).filter(|leaf| !leaf.is_empty()) {
            signed.push((sender.public_key, signing_message(chain_id, model, tx)));
        }
        if let Err(reason) = check_new_account_key(model, &tx.new_account_key) {
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
/// witnesses (and, on a chain of two models, blobs of credits).
pub struct TransferModel;

/// The `transfer` model's implementation.
pub static TRANSFER_MODEL: TransferModel = TransferModel;

impl ExecutionModel for TransferModel {
    fn tag(&self) -> Model {
        Model::Transfer
    }

    fn check_blob<'a>(
        &self,
        params: &ChainParams,
        header: Option<&Header>,
        blob: &'a Blob,
    ) -> Result<Option<PendingProof<'a>>, VerifyError> {
        match &blob.witness {
            Witness::Merkle(witness) => verify_merkle_blob(params, blob, witness).map(|()| None),
            Witness::Credits(witness) => {
                check_credit_blob(params, header, blob, witness, |pre, post| {
                    transfer_roots(params, pre, post, &witness.merkle)
                })
            }
            Witness::Zk(_) => Err(unsupported(blob)),
        }
    }

    fn account_root(
        &self,
        fact: &AccountFact,
        depth: u8,
        path: &MerkleWitness,
    ) -> Result<Hash32, VerifyError> {
        let leaf = TRANSFER_TREE.leaf(&fact.leaf).unwrap_or(Hash32::ZERO);
        let (root, _) = read_multiproof(
            &TRANSFER_TREE,
            depth,
            vec![(fact.account, leaf)],
            path,
            |hash| Ok::<_, VerifyError>(*hash),
        )?;
        Ok(root)
    }

    fn state_tree(&self) -> Option<&'static dyn WireTree> {
        Some(&TRANSFER_TREE)
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
        let bridge = Bridge {
            base: 8,
            key: PublicKey::from([0xB1; 32]),
        };
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
        assert_eq!(credited.get(9).unwrap().public_key, bridge.key);
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
                public_key: bridge.key,
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
