//! The accounts of the models whose state is indexed by account number (`transfer` and
//! `zk-transfer`): the accounts a blob touches, their state ([`TouchedState`]), and the rules a
//! transfer and a credit apply to it (`docs/CROSS_MODEL.md` for the bridge). Each model adds
//! its own signatures and new-key rule.

use witness_format::{AccountLeaf, PublicKey, Signature, Transaction};

use crate::error::{Reason, VerifyError};

/// Whether `account` is a leaf of a tree of `depth` levels.
pub fn in_range(account: u64, depth: u8) -> bool {
    depth >= 64 || account >> depth == 0
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

/// What a model whose accounts are numbered adds to the shared rules ([`TouchedState`]): which
/// keys a new account may have, and whose signatures verify. The prover uses it to leave out a
/// transaction with a bad key or signature before it builds a blob; a model reaches it through
/// [`crate::model::ExecutionModel::account_rules`].
pub trait AccountRules: Sync {
    /// The new-owner key rule: a non-zero key must be a valid public key of the model's
    /// signature scheme, the canonical encoding of a point of prime order (all zero: no key). A
    /// key of small order would let anyone spend the account. `InvalidNewAccountKey` otherwise.
    fn check_new_account_key(&self, key: &PublicKey) -> Result<(), Reason>;

    /// The indices, ascending, of the transactions whose signature does not verify under their
    /// sender's key (`signers[i]` for transaction `i`), on the chain `chain_id`.
    fn invalid_signatures(
        &self,
        chain_id: u64,
        signers: &[PublicKey],
        transactions: &[Transaction],
    ) -> Vec<usize>;
}
