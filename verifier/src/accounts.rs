//! The accounts of the models whose state is indexed by account number (`transfer` and
//! `zk-transfer`): the accounts a blob touches, their state ([`TouchedState`]), and the rules a
//! transfer and a credit apply to it (`docs/CROSS_MODEL.md` for the bridge). Each model adds
//! its own signatures and new-key rule.

use witness_format::{AccountLeaf, Model, PublicKey, Signature, Transaction};

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

/// The most models a chain's bridge layout serves: every model has its channel region.
const MAX_OTHER_MODELS: usize = Model::ALL.len() - 1;

/// A model's bridge on a chain of several models (`docs/CROSS_MODEL.md`). The tree is cut into
/// `2^reserved_bits` equal regions of `region` leaves (the index's top `reserved_bits` bits
/// name the region): region 0 holds the accounts, region `r ≥ 1` the channel leaves with the
/// `r`-th other model of the chain (genesis order), and any region past the last model is
/// unused. Channel leaf `r · region + n` of model M is M's channel with account number `n` of
/// that model: its balance is all M's accounts ever sent to that account (exits), its nonce
/// all M's own account `n` was ever credited from that model.
///
/// On a chain of two models: one reserved bit, the upper half of the tree is the other
/// model's region, and leaf `base + n` is the channel with its account `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bridge {
    /// Leaves per region, `2^(depth - reserved_bits)`: the accounts are below it.
    region: u64,
    /// Top index bits naming the region: `ceil(log2(models))`.
    reserved_bits: u8,
    /// The other models, region 1 first.
    others: [Option<Model>; MAX_OTHER_MODELS],
    /// The key every channel leaf holds: a fixed marker. The rules, not the key, stop a
    /// channel leaf from sending.
    key: PublicKey,
}

impl Bridge {
    /// The bridge of a model of a tree of `depth` levels on a chain whose other models are
    /// `others` (in genesis order), with `key` for its channel leaves. `None` when there is no
    /// other model, too many, or the tree is too shallow to keep a region of accounts below
    /// the regions of channels.
    pub fn new(depth: u8, others: &[Model], key: PublicKey) -> Option<Self> {
        let regions = others.len().checked_add(1)?;
        if others.is_empty() || others.len() > MAX_OTHER_MODELS {
            return None;
        }
        let reserved_bits = u8::try_from(regions.next_power_of_two().trailing_zeros()).ok()?;
        let shift = depth
            .checked_sub(reserved_bits)
            .filter(|&shift| shift > 0)?;
        let mut slots = [None; MAX_OTHER_MODELS];
        for (slot, &model) in slots.iter_mut().zip(others) {
            *slot = Some(model);
        }
        Some(Self {
            region: 1u64.checked_shl(u32::from(shift))?,
            reserved_bits,
            others: slots,
            key,
        })
    }

    /// The first leaf past the accounts: every leaf from here on is a channel leaf (or unused).
    pub fn accounts_end(&self) -> u64 {
        self.region
    }

    /// Top index bits that are zero for every account (and that a zk blob's slots keep zero).
    pub fn reserved_bits(&self) -> u8 {
        self.reserved_bits
    }

    /// The key every channel leaf holds.
    pub fn key(&self) -> PublicKey {
        self.key
    }

    /// The other models, region 1 first.
    pub fn others(&self) -> impl Iterator<Item = Model> + '_ {
        self.others.iter().flatten().copied()
    }

    /// What leaf `leaf` is a channel with: the other model (`None` in an unused region) and
    /// the account number. `None` for an account leaf.
    pub fn channel(&self, leaf: u64) -> Option<(Option<Model>, u64)> {
        let region = leaf.checked_div(self.region)?;
        let index = usize::try_from(region.checked_sub(1)?).ok()?;
        let model = self.others.get(index).copied().flatten();
        Some((model, leaf.checked_rem(self.region)?))
    }

    /// The model and account that channel leaf `leaf` is with: its region belongs to a model
    /// ([`Reason::NoChannel`] otherwise). A leaf among the accounts is no channel
    /// ([`Reason::NotACredit`]).
    pub fn open_channel(&self, leaf: u64) -> Result<(Model, u64), Reason> {
        match self.channel(leaf) {
            Some((Some(model), account)) => Ok((model, account)),
            Some((None, _)) => Err(Reason::NoChannel { account: leaf }),
            None => Err(Reason::NotACredit { account: leaf }),
        }
    }

    /// The channel leaf with account `account` of `other`; `None` if `other` is not another
    /// model of the chain or the account is not below [`Self::accounts_end`].
    pub fn channel_leaf(&self, other: Model, account: u64) -> Option<u64> {
        let position = self.others.iter().position(|&m| m == Some(other))?;
        if account >= self.region {
            return None;
        }
        let region = u64::try_from(position).ok()?.checked_add(1)?;
        region.checked_mul(self.region)?.checked_add(account)
    }
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

    /// The same state under a bridge's rules (on a chain of several models), or none.
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
    /// Under a bridge, a channel leaf never sends, and a transfer to the channel leaf with
    /// account `n` of another model is an exit that names that model (by the leaf's region) and
    /// its account `n` (by the leaf's place in it): it creates the leaf (with the bridge key,
    /// the transaction carrying none) or adds to its balance. A leaf of an unused region is no
    /// channel (`NoChannel`).
    pub fn apply(&mut self, tx: &Transaction) -> Result<(), Reason> {
        if let Some(bridge) = self.bridge
            && tx.from >= bridge.accounts_end()
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
        let exit = self.bridge.filter(|bridge| tx.to >= bridge.accounts_end());
        if let Some(bridge) = exit {
            bridge.open_channel(tx.to)?;
        }
        let receiver_key = match (receiver.is_empty(), tx.new_account_key.is_zero(), exit) {
            (true, true, Some(bridge)) => bridge.key(),
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
    /// Applies one credit: `tx` moves into account `n` what another model sent it beyond what
    /// was credited so far. `tx.from` is the channel leaf with that model for `n` (its nonce:
    /// the total credited), `tx.nonce` the total sent, as the credit's receipt proves (checked
    /// by the caller), and `tx.amount` their difference. On error nothing changes.
    pub fn apply_credit(&mut self, tx: &Transaction) -> Result<(), Reason> {
        let bridge = self
            .bridge
            .filter(|bridge| tx.from >= bridge.accounts_end())
            .ok_or(Reason::NotACredit { account: tx.from })?;
        let (_, account) = bridge.open_channel(tx.from)?;
        if tx.to != account {
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
                public_key: bridge.key(),
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const KEY: PublicKey = PublicKey::ZERO;

    fn owner(balance: u64) -> AccountLeaf {
        AccountLeaf {
            public_key: PublicKey::from([1; 32]),
            balance,
            nonce: 0,
        }
    }

    /// An unsigned transfer (tests sign it in the model's scheme where they need to).
    pub(crate) fn transfer(from: u64, to: u64, amount: u64, nonce: u64) -> Transaction {
        Transaction {
            from,
            to,
            amount,
            nonce,
            new_account_key: PublicKey::ZERO,
            signature: Signature::ZERO,
        }
    }

    /// Two models: one reserved bit, the upper half is the other model's region, and its leaf
    /// `base + n` is the channel with account n. Leaves name their channel both ways.
    #[test]
    fn on_two_models_the_upper_half_is_the_other_models_channels() {
        let bridge = Bridge::new(4, &[Model::ZkTransfer], KEY).unwrap();
        assert_eq!((bridge.accounts_end(), bridge.reserved_bits()), (8, 1));
        assert_eq!(bridge.others().collect::<Vec<_>>(), [Model::ZkTransfer]);
        for n in 0..8 {
            assert_eq!(bridge.channel_leaf(Model::ZkTransfer, n), Some(8 + n));
            assert_eq!(bridge.channel(8 + n), Some((Some(Model::ZkTransfer), n)));
            assert_eq!(bridge.channel(n), None, "account {n} is no channel");
        }
        assert_eq!(bridge.channel_leaf(Model::ZkTransfer, 8), None);
        assert_eq!(
            bridge.channel_leaf(Model::Transfer, 1),
            None,
            "not another model"
        );
        // No bridge without another model, or without room for a region of accounts.
        assert_eq!(Bridge::new(4, &[], KEY), None);
        assert_eq!(Bridge::new(1, &[Model::ZkTransfer], KEY), None);
        assert!(Bridge::new(2, &[Model::ZkTransfer], KEY).is_some());
    }

    /// With more regions than models (three regions need two bits: four regions), the regions
    /// past the last model are no channel: an exit to one and a credit from one are refused,
    /// and no zk slot may reach them either (`reserved_bits`).
    #[test]
    fn a_leaf_of_an_unused_region_is_no_channel() {
        // What a chain of three models gives a model with one account model beside it: the
        // accounts in the lower quarter, its channels in the second quarter.
        let bridge = Bridge {
            region: 4,
            reserved_bits: 2,
            others: [Some(Model::ZkTransfer), None],
            key: KEY,
        };
        assert_eq!(bridge.channel_leaf(Model::ZkTransfer, 3), Some(7));
        assert_eq!(bridge.channel(7), Some((Some(Model::ZkTransfer), 3)));
        assert_eq!(bridge.channel(9), Some((None, 1)));
        assert_eq!(bridge.channel(15), Some((None, 3)));

        let state = TouchedState::new(
            vec![1, 7, 9],
            vec![owner(10), AccountLeaf::EMPTY, AccountLeaf::EMPTY],
        )
        .unwrap()
        .with_bridge(Some(bridge));
        // An exit through the channel with account 3 of the other model.
        let mut exited = state.clone();
        exited.apply(&transfer(1, 7, 4, 0)).unwrap();
        assert_eq!(exited.get(7).map(|leaf| leaf.balance), Some(4));
        // To a leaf of the unused region: refused, nothing changed.
        let mut refused = state.clone();
        assert_eq!(
            refused.apply(&transfer(1, 9, 4, 0)),
            Err(Reason::NoChannel { account: 9 })
        );
        assert_eq!(refused, state);
        // A credit from it: refused too.
        let credit = transfer(9, 1, 5, 5);
        assert_eq!(
            state.clone().apply_credit(&credit),
            Err(Reason::NoChannel { account: 9 })
        );
        // A credit through the real channel with account 3 pays account 3 only.
        assert_eq!(
            state.clone().apply_credit(&transfer(7, 1, 5, 5)),
            Err(Reason::CreditToOtherAccount {
                bridge_account: 7,
                account: 1
            })
        );
    }

    /// On a chain shared with the `evm` model, the numbered models' trees have a region of
    /// channels with it, like any other model's: an exit names an `evm` account by number.
    #[test]
    fn the_evm_model_has_a_region_of_channels() {
        // `transfer` beside `zk-transfer` and `evm`: regions of 4 leaves at depth 4.
        let bridge = Bridge::new(4, &[Model::ZkTransfer, Model::Evm], KEY).unwrap();
        assert_eq!(bridge.reserved_bits(), 2);
        assert_eq!(bridge.channel_leaf(Model::Evm, 1), Some(9));
        assert_eq!(bridge.open_channel(5), Ok((Model::ZkTransfer, 1)));
        assert_eq!(bridge.open_channel(9), Ok((Model::Evm, 1)));
        assert_eq!(
            bridge.open_channel(13),
            Err(Reason::NoChannel { account: 13 })
        );
        assert_eq!(
            bridge.open_channel(1),
            Err(Reason::NotACredit { account: 1 })
        );
        let state = TouchedState::new(vec![1, 9], vec![owner(10), AccountLeaf::EMPTY])
            .unwrap()
            .with_bridge(Some(bridge));
        let mut exited = state.clone();
        exited.apply(&transfer(1, 9, 4, 0)).unwrap();
        assert_eq!(exited.get(9).map(|leaf| leaf.balance), Some(4));
        let mut credited = state.clone();
        credited.apply_credit(&transfer(9, 1, 5, 5)).unwrap();
        assert_eq!(credited.get(9).map(|leaf| leaf.nonce), Some(5));
    }
}
