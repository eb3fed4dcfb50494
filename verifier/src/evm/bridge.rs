//! The `evm` model's side of the bridge (`docs/CROSS_MODEL.md`): value leaves `evm` for an
//! account of a numbered model through a contract at a fixed address, the **bridge contract**,
//! whose storage records, per channel (model, account), the total ever sent: the receipt a
//! credit of that model proves.
//!
//! An exit is a call to [`BRIDGE_ADDRESS`] with 64 bytes of calldata, the target model's tag
//! ([`model_tag`]) and the account, each a 32-byte word, and a value in whole gwei (one unit of
//! a numbered model is one gwei). The contract reverts unless the model is one of the chain's
//! numbered models, the account fits 64 bits, the value is a positive whole number of gwei and
//! the channel's new total fits 64 bits; otherwise it adds the value in gwei to the channel's
//! slot ([`channel_slot`]). The ether stays in the contract: it is the value in flight.
//!
//! The code is part of the rule: a receipt counts only from an account holding exactly
//! [`bridge_code`] for the chain's models (so its storage can only have been written by it).

use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{Address, B256, U256, keccak256};
use revm::Database;
use revm::database::states::{AccountStatus, BundleAccount, StorageSlot};
use revm::database::{BundleState, State};
use thiserror::Error;
use witness_format::Model;

use super::{EvmError, WitnessDb, WitnessError};

/// Where the bridge contract lives on every chain the `evm` model shares with numbered models.
pub const BRIDGE_ADDRESS: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb1, 0xd9,
]);

/// Wei in one gwei: one unit of a numbered model.
pub const WEI_PER_UNIT: u64 = 1_000_000_000;

/// A model's tag in the bridge contract's calldata and slots: its place in [`Model::ALL`].
pub fn model_tag(model: Model) -> u8 {
    match model {
        Model::Transfer => 0,
        Model::ZkTransfer => 1,
        Model::Evm => 2,
    }
}

/// Where the jump to the contract's revert lands (its `JUMPDEST`).
const FAIL: u8 = 0x4e;
/// Where a call without calldata jumps: registration.
const REGISTER: u8 = 0x53;

/// The bridge contract's code on a chain of `models`: exits may name only its numbered models.
pub fn bridge_code(models: &[Model]) -> Vec<u8> {
    let mask = models
        .iter()
        .filter(|m| Model::NUMBERED.contains(m))
        .fold(0u8, |mask, &m| mask | (1 << model_tag(m)));
    // Each line: the offset, the instruction, the stack after it (top last).
    #[rustfmt::skip]
    let code = vec![
        0x36,                           // 00 CALLDATASIZE       size
        0x15,                           // 01 ISZERO             size==0
        0x60, REGISTER,                 // 02 PUSH1 register
        0x57,                           // 04 JUMPI              -
        0x36,                           // 05 CALLDATASIZE       size
        0x60, 0x40,                     // 06 PUSH1 64           size 64
        0x14,                           // 08 EQ                 size==64
        0x15,                           // 09 ISZERO             size!=64
        0x60, FAIL,                     // 0a PUSH1 fail
        0x57,                           // 0c JUMPI              -
        0x60, 0x00,                     // 0d PUSH1 0
        0x35,                           // 0f CALLDATALOAD       model
        0x80,                           // 10 DUP1               model model
        0x60, mask,                     // 11 PUSH1 mask         model model mask
        0x90,                           // 13 SWAP1              model mask model
        0x1c,                           // 14 SHR                model mask>>model
        0x60, 0x01,                     // 15 PUSH1 1
        0x16,                           // 17 AND                model hosted
        0x15,                           // 18 ISZERO             model !hosted
        0x60, FAIL,                     // 19 PUSH1 fail
        0x57,                           // 1b JUMPI              model
        0x60, 0x20,                     // 1c PUSH1 32
        0x35,                           // 1e CALLDATALOAD       model account
        0x80,                           // 1f DUP1               model account account
        0x60, 0x40,                     // 20 PUSH1 64
        0x1c,                           // 22 SHR                model account account>>64
        0x60, FAIL,                     // 23 PUSH1 fail
        0x57,                           // 25 JUMPI              model account
        0x90,                           // 26 SWAP1              account model
        0x60, 0x40,                     // 27 PUSH1 64
        0x1b,                           // 29 SHL                account model<<64
        0x17,                           // 2a OR                 slot
        0x63, 0x3b, 0x9a, 0xca, 0x00,   // 2b PUSH4 1e9          slot gwei
        0x34,                           // 30 CALLVALUE          slot gwei value
        0x06,                           // 31 MOD                slot value%gwei
        0x60, FAIL,                     // 32 PUSH1 fail
        0x57,                           // 34 JUMPI              slot
        0x63, 0x3b, 0x9a, 0xca, 0x00,   // 35 PUSH4 1e9          slot gwei
        0x34,                           // 3a CALLVALUE          slot gwei value
        0x04,                           // 3b DIV                slot units
        0x80,                           // 3c DUP1               slot units units
        0x15,                           // 3d ISZERO             slot units units==0
        0x60, FAIL,                     // 3e PUSH1 fail
        0x57,                           // 40 JUMPI              slot units
        0x81,                           // 41 DUP2               slot units slot
        0x54,                           // 42 SLOAD              slot units sent
        0x01,                           // 43 ADD                slot total (no overflow: sent < 2^64)
        0x80,                           // 44 DUP1               slot total total
        0x60, 0x40,                     // 45 PUSH1 64
        0x1c,                           // 47 SHR                slot total total>>64
        0x60, FAIL,                     // 48 PUSH1 fail
        0x57,                           // 4a JUMPI              slot total
        0x90,                           // 4b SWAP1              total slot
        0x55,                           // 4c SSTORE             -
        0x00,                           // 4d STOP
        0x5b,                           // 4e JUMPDEST (fail)
        0x60, 0x00,                     // 4f PUSH1 0
        0x80,                           // 51 DUP1
        0xfd,                           // 52 REVERT
        0x5b,                           // 53 JUMPDEST (register)
        0x34,                           // 54 CALLVALUE          value
        0x60, FAIL,                     // 55 PUSH1 fail
        0x57,                           // 57 JUMPI              -
        0x60, 0x03,                     // 58 PUSH1 3
        0x60, 0x80,                     // 5a PUSH1 128
        0x1b,                           // 5c SHL                count_slot
        0x80,                           // 5d DUP1               count_slot count_slot
        0x54,                           // 5e SLOAD              count_slot n
        0x33,                           // 5f CALLER             count_slot n caller
        0x81,                           // 60 DUP2               count_slot n caller n
        0x60, 0x02,                     // 61 PUSH1 2
        0x60, 0x80,                     // 63 PUSH1 128
        0x1b,                           // 65 SHL                count_slot n caller n 2<<128
        0x17,                           // 66 OR                 count_slot n caller registry_slot
        0x55,                           // 67 SSTORE             count_slot n
        0x80,                           // 68 DUP1               count_slot n n
        0x60, 0x01,                     // 69 PUSH1 1
        0x01,                           // 6b ADD                count_slot n n+1
        0x82,                           // 6c DUP3               count_slot n n+1 count_slot
        0x55,                           // 6d SSTORE             count_slot n
        0x60, 0x00,                     // 6e PUSH1 0
        0x52,                           // 70 MSTORE             count_slot (memory: n)
        0x60, 0x20,                     // 71 PUSH1 32
        0x60, 0x00,                     // 73 PUSH1 0
        0xf3,                           // 75 RETURN             n
    ];
    code
}

/// The hash of [`bridge_code`] for `models`: the code hash a receipt's contract must have.
pub fn bridge_code_hash(models: &[Model]) -> B256 {
    keccak256(bridge_code(models))
}

/// The bridge contract's storage slot of the channel with `account` of `model`: the total
/// sent to it from `evm`.
pub fn channel_slot(model: Model, account: u64) -> U256 {
    slot(0, model_tag(model), account)
}

/// The slot `kind << 128 | tag << 64 | account`: one space of slots per kind, and in it one per
/// model tag and account.
fn slot(kind: u8, tag: u8, account: u64) -> U256 {
    let [a0, a1, a2, a3, a4, a5, a6, a7] = account.to_be_bytes();
    #[rustfmt::skip]
    let word = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, kind,
        0, 0, 0, 0, 0, 0, 0, tag, a0, a1, a2, a3, a4, a5, a6, a7,
    ];
    U256::from_be_bytes(word)
}

/// The bridge contract's storage slot of the total credited to `evm` account `account` from
/// `model`'s channel with it: written by the credit rule ([`credit_withdrawals`]), never by
/// the contract's code.
pub fn credited_slot(model: Model, account: u64) -> U256 {
    slot(1, model_tag(model), account)
}

/// The bridge contract's storage slot of the address registered as `evm` account `account`
/// (the numbered models name `evm` accounts by number).
pub fn registry_slot(account: u64) -> U256 {
    slot(2, 0, account)
}

/// The bridge contract's storage slot of the number of registered accounts.
pub fn registered_count_slot() -> U256 {
    slot(3, 0, 0)
}

/// The calldata of an exit to `account` of `model`.
pub fn exit_calldata(model: Model, account: u64) -> Vec<u8> {
    let mut calldata = U256::from(model_tag(model)).to_be_bytes_vec();
    calldata.extend_from_slice(&U256::from(account).to_be_bytes::<32>());
    calldata
}

/// The channel with `account` of `model` as the `evm` state of root `root` holds it, read from
/// `db`: the code hash of the account at [`BRIDGE_ADDRESS`] (`None` if there is none) and the
/// channel's sent total. What is read is what proves it ([`WitnessDb::used`]).
pub fn read_channel(
    db: &mut WitnessDb,
    root: B256,
    model: Model,
    account: u64,
) -> Result<(Option<B256>, U256), WitnessError> {
    db.set_root(root);
    let code_hash = db.basic(BRIDGE_ADDRESS)?.map(|info| info.code_hash);
    let sent = db.storage(BRIDGE_ADDRESS, channel_slot(model, account))?;
    Ok((code_hash, sent))
}

/// Storage slot `slot` of the bridge contract in the `evm` state of root `root`, read from
/// `db` (zero where nothing is stored).
pub fn read_bridge_slot(db: &mut WitnessDb, root: B256, slot: U256) -> Result<U256, WitnessError> {
    db.set_root(root);
    db.storage(BRIDGE_ADDRESS, slot)
}

/// A credit into `evm` from a numbered model: the total `sent` through that model's channel
/// with `evm` account `account`, as a receipt proved it at the block's parent height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvmCredit {
    /// The model the value comes from.
    pub model: Model,
    /// The `evm` account (its number in the bridge contract's registry).
    pub account: u64,
    /// The channel's sent total, in units (gwei).
    pub sent: u64,
}

/// What a block of an `evm` chain shared with numbered models pays in: the chain's models (its
/// bridge contract's code depends on them) and the block's credits, in strictly ascending
/// (model, account) order. Each credit is a withdrawal in the block's list (EIP-4895's record:
/// index the account, validator index the model's tag, to the registered address, in gwei, of
/// what the receipt's total adds to what was credited so far), paid in at the start of the
/// block, before its transactions, like every credit of this chain; after the block the
/// contract records the new total ([`credited_slot`]).
#[derive(Clone, Copy, Debug)]
pub struct BridgeCredits<'a> {
    /// The chain's models.
    pub models: &'a [Model],
    /// The credits.
    pub credits: &'a [EvmCredit],
}

/// Why the credits of an `evm` block are wrong.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BridgeError {
    /// The bridge address does not hold the chain's bridge contract.
    #[error("the bridge address holds code {code_hash:?}, not the chain's bridge contract")]
    NotTheBridge {
        /// The account's code hash (none: no account).
        code_hash: Option<B256>,
    },
    /// Credits not in strictly ascending (model, account) order.
    #[error("credit {index} is not after the one before it (ascending model, then account)")]
    OutOfOrder {
        /// Its index.
        index: usize,
    },
    /// A credit to an `evm` account number nobody registered.
    #[error("evm account {account} is not registered with the bridge")]
    Unregistered {
        /// The account number.
        account: u64,
    },
    /// A credit whose total was already credited.
    #[error(
        "the channel of {model} with evm account {account} sent {sent}, {credited} was credited already"
    )]
    AlreadyCredited {
        /// The source model.
        model: Model,
        /// The account.
        account: u64,
        /// The receipt's total.
        sent: u64,
        /// What the contract records as credited.
        credited: U256,
    },
    /// The block's withdrawals are not its credits.
    #[error("the block's withdrawals are {found}, its credits make them {expected}")]
    Withdrawals {
        /// The credits' withdrawals.
        expected: String,
        /// The block's.
        found: String,
    },
}

/// The withdrawals that pay `credits` on the state `db` reads (its root set: the block's
/// pre-state, whose reads are then part of the block's witness).
pub(crate) fn credit_withdrawals(
    db: &mut WitnessDb,
    credits: BridgeCredits<'_>,
) -> Result<Vec<Withdrawal>, EvmError> {
    if credits.credits.is_empty() {
        return Ok(Vec::new());
    }
    let code_hash = db.basic(BRIDGE_ADDRESS)?.map(|info| info.code_hash);
    if code_hash != Some(bridge_code_hash(credits.models)) {
        return Err(BridgeError::NotTheBridge { code_hash }.into());
    }
    let order = |c: &EvmCredit| (model_tag(c.model), c.account);
    if let Some(index) = credits
        .credits
        .windows(2)
        .position(|pair| matches!(pair, [a, b] if order(a) >= order(b)))
    {
        return Err(BridgeError::OutOfOrder {
            index: index.saturating_add(1),
        }
        .into());
    }
    credits
        .credits
        .iter()
        .map(|credit| {
            let (registered, credited) = credit_account(db, credit)?;
            let registered = registered.ok_or(BridgeError::Unregistered {
                account: credit.account,
            })?;
            let amount = U256::from(credit.sent)
                .checked_sub(credited)
                .filter(|amount| !amount.is_zero())
                .ok_or(BridgeError::AlreadyCredited {
                    model: credit.model,
                    account: credit.account,
                    sent: credit.sent,
                    credited,
                })?;
            Ok(Withdrawal {
                index: credit.account,
                validator_index: u64::from(model_tag(credit.model)),
                address: registered,
                // Below the receipt's total, a u64.
                amount: amount.saturating_to(),
            })
        })
        .collect()
}

/// What the bridge contract holds, in the state `db` reads (its root set), for the `evm`
/// account a credit pays: the address registered as it (none if nobody registered), and what
/// was credited to it from the credit's model so far.
fn credit_account(
    db: &mut WitnessDb,
    credit: &EvmCredit,
) -> Result<(Option<Address>, U256), WitnessError> {
    let registered = db.storage(BRIDGE_ADDRESS, registry_slot(credit.account))?;
    let credited = db.storage(BRIDGE_ADDRESS, credited_slot(credit.model, credit.account))?;
    let address = (!registered.is_zero()).then(|| Address::from_word(B256::from(registered)));
    Ok((address, credited))
}

/// Of `candidates` (in order), the credits the state of root `root` read from `db` can pay:
/// to a registered `evm` account, with something left to credit. How a producer picks the
/// credits [`credit_withdrawals`] then accepts.
pub fn payable_credits(
    db: &mut WitnessDb,
    root: B256,
    candidates: &[EvmCredit],
) -> Result<Vec<EvmCredit>, WitnessError> {
    db.set_root(root);
    let mut payable = Vec::new();
    for credit in candidates {
        let (registered, credited) = credit_account(db, credit)?;
        if registered.is_some() && U256::from(credit.sent) > credited {
            payable.push(*credit);
        }
    }
    Ok(payable)
}

/// Records in the bridge contract's storage, in `bundle` (the block's changes), the totals
/// `credits` credited; `state` gives the contract account as the block leaves it.
pub(crate) fn record_credits(
    state: &mut State<&mut WitnessDb>,
    bundle: &mut BundleState,
    credits: BridgeCredits<'_>,
) -> Result<(), EvmError> {
    if credits.credits.is_empty() {
        return Ok(());
    }
    let info = revm::Database::basic(state, BRIDGE_ADDRESS)
        .map_err(super::state_error)?
        .ok_or(BridgeError::NotTheBridge { code_hash: None })?;
    let account = bundle
        .state
        .entry(BRIDGE_ADDRESS)
        .or_insert_with(|| BundleAccount {
            info: Some(info.clone()),
            original_info: Some(info),
            storage: Default::default(),
            status: AccountStatus::Changed,
        });
    for credit in credits.credits {
        let slot = credited_slot(credit.model, credit.account);
        let before =
            revm::Database::storage(state, BRIDGE_ADDRESS, slot).map_err(super::state_error)?;
        account.storage.insert(
            slot,
            StorageSlot::new_changed(before, U256::from(credit.sent)),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_jumps_to_its_revert_and_names_the_chains_models() {
        let code = bridge_code(&[Model::Transfer, Model::Evm]);
        assert_eq!(code.len(), 0x76);
        assert_eq!(code[usize::from(FAIL)], 0x5b, "fail is a JUMPDEST");
        assert_eq!(code[usize::from(REGISTER)], 0x5b, "register is a JUMPDEST");
        assert_eq!(code[0x12], 0b01, "transfer only");
        assert_eq!(bridge_code(&Model::ALL)[0x12], 0b11);
        assert_ne!(
            bridge_code_hash(&Model::ALL),
            bridge_code_hash(&[Model::Transfer, Model::Evm])
        );
        assert_eq!(
            channel_slot(Model::ZkTransfer, 5),
            U256::from((1u128 << 64) | 5)
        );
        assert_eq!(
            credited_slot(Model::ZkTransfer, 5),
            (U256::from(1u8) << 128) | U256::from((1u128 << 64) | 5)
        );
        assert_eq!(registry_slot(7), (U256::from(2u8) << 128) | U256::from(7u8));
        assert_eq!(registered_count_slot(), U256::from(3u8) << 128);
        let calldata = exit_calldata(Model::ZkTransfer, 0x0102);
        assert_eq!(calldata[31], 1);
        assert_eq!(&calldata[62..], &[1, 2]);
    }
}
