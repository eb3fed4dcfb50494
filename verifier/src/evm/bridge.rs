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

use alloy_primitives::{Address, B256, U256, keccak256};
use revm::Database;
use witness_format::Model;

use super::{WitnessDb, WitnessError};

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
const FAIL: u8 = 0x49;

/// The bridge contract's code on a chain of `models`: exits may name only its numbered models.
pub fn bridge_code(models: &[Model]) -> Vec<u8> {
    let mask = models
        .iter()
        .filter(|m| Model::NUMBERED.contains(m))
        .fold(0u8, |mask, &m| mask | (1 << model_tag(m)));
    // Each line: offset, instruction, the stack after it (top last).
    #[rustfmt::skip]
    let code = vec![
        0x36,             // 00 CALLDATASIZE          size
        0x60, 0x40,       // 01 PUSH1 64              size 64
        0x14,             // 03 EQ                    size==64
        0x15,             // 04 ISZERO                size!=64
        0x60, FAIL,       // 05 PUSH1 fail
        0x57,             // 07 JUMPI                 -
        0x60, 0x00,       // 08 PUSH1 0
        0x35,             // 0a CALLDATALOAD          model
        0x80,             // 0b DUP1                  model model
        0x60, mask,       // 0c PUSH1 mask            model model mask
        0x90,             // 0e SWAP1                 model mask model
        0x1c,             // 0f SHR                   model mask>>model
        0x60, 0x01,       // 10 PUSH1 1
        0x16,             // 12 AND                   model hosted
        0x15,             // 13 ISZERO                model !hosted
        0x60, FAIL,       // 14 PUSH1 fail
        0x57,             // 16 JUMPI                 model
        0x60, 0x20,       // 17 PUSH1 32
        0x35,             // 19 CALLDATALOAD          model account
        0x80,             // 1a DUP1                  model account account
        0x60, 0x40,       // 1b PUSH1 64
        0x1c,             // 1d SHR                   model account account>>64
        0x60, FAIL,       // 1e PUSH1 fail
        0x57,             // 20 JUMPI                 model account
        0x90,             // 21 SWAP1                 account model
        0x60, 0x40,       // 22 PUSH1 64
        0x1b,             // 24 SHL                   account model<<64
        0x17,             // 25 OR                    slot
        0x63, 0x3b, 0x9a, 0xca, 0x00, // 26 PUSH4 1e9  slot gwei
        0x34,             // 2b CALLVALUE             slot gwei value
        0x06,             // 2c MOD                   slot value%gwei
        0x60, FAIL,       // 2d PUSH1 fail
        0x57,             // 2f JUMPI                 slot
        0x63, 0x3b, 0x9a, 0xca, 0x00, // 30 PUSH4 1e9  slot gwei
        0x34,             // 35 CALLVALUE             slot gwei value
        0x04,             // 36 DIV                   slot units
        0x80,             // 37 DUP1                  slot units units
        0x15,             // 38 ISZERO                slot units units==0
        0x60, FAIL,       // 39 PUSH1 fail
        0x57,             // 3b JUMPI                 slot units
        0x81,             // 3c DUP2                  slot units slot
        0x54,             // 3d SLOAD                 slot units sent
        0x01,             // 3e ADD                   slot total (no overflow: sent < 2^64)
        0x80,             // 3f DUP1                  slot total total
        0x60, 0x40,       // 40 PUSH1 64
        0x1c,             // 42 SHR                   slot total total>>64
        0x60, FAIL,       // 43 PUSH1 fail
        0x57,             // 45 JUMPI                 slot total
        0x90,             // 46 SWAP1                 total slot
        0x55,             // 47 SSTORE                -
        0x00,             // 48 STOP
        0x5b,             // 49 JUMPDEST (fail)
        0x60, 0x00,       // 4a PUSH1 0
        0x80,             // 4c DUP1
        0xfd,             // 4d REVERT
    ];
    code
}

/// The hash of [`bridge_code`] for `models`: the code hash a receipt's contract must have.
pub fn bridge_code_hash(models: &[Model]) -> B256 {
    keccak256(bridge_code(models))
}

/// The bridge contract's storage slot of the channel with `account` of `model`.
pub fn channel_slot(model: Model, account: u64) -> U256 {
    (U256::from(model_tag(model)) << 64) | U256::from(account)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_jumps_to_its_revert_and_names_the_chains_models() {
        let code = bridge_code(&[Model::Transfer, Model::Evm]);
        assert_eq!(code.len(), 0x4e);
        assert_eq!(code[usize::from(FAIL)], 0x5b, "fail is a JUMPDEST");
        assert_eq!(code[0x0d], 0b01, "transfer only");
        assert_eq!(bridge_code(&Model::ALL)[0x0d], 0b11);
        assert_ne!(
            bridge_code_hash(&Model::ALL),
            bridge_code_hash(&[Model::Transfer, Model::Evm])
        );
        assert_eq!(
            channel_slot(Model::ZkTransfer, 5),
            U256::from((1u128 << 64) | 5)
        );
        let calldata = exit_calldata(Model::ZkTransfer, 0x0102);
        assert_eq!(calldata[31], 1);
        assert_eq!(&calldata[62..], &[1, 2]);
    }
}
