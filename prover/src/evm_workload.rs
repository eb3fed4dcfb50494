//! Synthetic `evm` workloads (`stateless gen --model evm`): a genesis with a deployed ERC-20
//! token and N funded accounts, and blocks of signed transactions mixing ether transfers and
//! token transfers. Keys derive from the seed and every transaction is signed (secp256k1,
//! RFC 6979), so a workload is reproducible from its parameters; the generator tracks nonces
//! and keeps amounts far below balances, so every transaction it emits is valid.
//!
//! On disk, under the workload directory's `evm/`: `allocation.json` (chain id, fork, gas limit,
//! accounts) and `blocks/NNNNNNNN.bin`, each the RLP list of one block's transactions.

use std::path::Path;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2935::{HISTORY_STORAGE_ADDRESS, HISTORY_STORAGE_CODE};
use alloy_eips::eip4788::{BEACON_ROOTS_ADDRESS, BEACON_ROOTS_CODE};
use alloy_eips::eip7002::{
    WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, WITHDRAWAL_REQUEST_PREDEPLOY_CODE,
};
use alloy_eips::eip7251::{
    CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS, CONSOLIDATION_REQUEST_PREDEPLOY_CODE,
};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, keccak256};
use k256::ecdsa::SigningKey;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use verifier::evm::bridge::{
    BRIDGE_ADDRESS, WEI_PER_UNIT, bridge_code, exit_calldata, registered_count_slot, registry_slot,
};
use witness_format::limits::MAX_EVM_BLOCK_BYTES;
use witness_format::{EvmSchedule, Model};

use crate::evm_state::GenesisAccount;
use crate::files::{FileError, block_files, block_path, model_dir, read_limited, write_atomic};

/// Where the generated chains' token lives.
pub const TOKEN_ADDRESS: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x20,
]);

/// The gas limit of a generated chain's blocks: room for `gen`'s default 1,024 transactions a
/// block at [`TOKEN_TRANSFER_GAS`] each.
pub const BLOCK_GAS_LIMIT: u64 = 100_000_000;

/// Gas each token transfer may use (it uses about 35,000 to 52,000).
pub const TOKEN_TRANSFER_GAS: u64 = 80_000;

/// Gas of a plain ether transfer.
const ETHER_TRANSFER_GAS: u64 = 21_000;

/// Each genesis account's ether: 1,000 ether.
const GENESIS_ETHER: u128 = 1_000 * 10u128.pow(18);

/// Each genesis account's tokens: a million, of 18 decimals.
const GENESIS_TOKENS: u128 = 1_000_000 * 10u128.pow(18);

/// What every transaction offers per gas: far above the base fee a generated chain reaches.
const MAX_FEE_PER_GAS: u128 = 100_000_000_000;
const MAX_PRIORITY_FEE_PER_GAS: u128 = 1_000_000_000;

/// Parameters of an `evm` workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvmWorkloadSpec {
    /// The chain id transactions are signed for.
    pub chain_id: u64,
    /// The fork (a fixed schedule: `Cancun` or `Prague`).
    pub schedule: EvmSchedule,
    /// Funded accounts in the genesis.
    pub accounts: u64,
    /// Blocks of transactions.
    pub blocks: usize,
    /// Transactions per block.
    pub txs_per_block: usize,
    /// Seed of keys and choices.
    pub seed: u64,
    /// Percent of transactions that are token transfers (the rest move ether).
    pub token_percent: u8,
    /// The numbered models the chain shares with the `evm` model, if any: the bridge contract
    /// in the genesis, and exits to them.
    pub bridge: Option<EvmBridgeSpec>,
}

/// The bridge of an `evm` workload on a chain shared with numbered models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvmBridgeSpec {
    /// The chain's models with numbered accounts.
    pub models: [Option<Model>; 2],
    /// Genesis accounts of each of them (exits go to these).
    pub accounts: u64,
    /// Percent of transactions that exit to one of them, among those not token transfers.
    pub exit_percent: u8,
}

impl EvmBridgeSpec {
    /// The bridge on a chain of `models` whose numbered models have `accounts` genesis
    /// accounts each; `None` without a numbered model.
    pub fn of(models: &[Model], accounts: u64, exit_percent: u8) -> Option<Self> {
        let mut numbered = models
            .iter()
            .copied()
            .filter(|m| Model::NUMBERED.contains(m));
        let models = [numbered.next(), numbered.next()];
        models[0].map(|_| Self {
            models,
            accounts,
            exit_percent,
        })
    }

    fn numbered(&self) -> Vec<Model> {
        self.models.iter().flatten().copied().collect()
    }
}

impl Default for EvmWorkloadSpec {
    fn default() -> Self {
        Self {
            chain_id: 1,
            schedule: EvmSchedule::Prague,
            accounts: 1_000,
            blocks: 4,
            txs_per_block: 200,
            seed: 0,
            token_percent: 50,
            bridge: None,
        }
    }
}

/// The genesis of a generated chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvmAllocation {
    /// The chain id.
    pub chain_id: u64,
    /// The fork.
    pub schedule: EvmSchedule,
    /// The blocks' gas limit.
    pub gas_limit: u64,
    /// The accounts.
    pub accounts: Vec<GenesisAccount>,
}

/// A generated workload: the genesis and each block's transactions.
#[derive(Clone, Debug)]
pub struct EvmWorkload {
    /// The genesis.
    pub allocation: EvmAllocation,
    /// One list of signed transactions per block.
    pub blocks: Vec<Vec<TxEnvelope>>,
}

/// Why a workload is refused.
#[derive(Debug, Error)]
pub enum EvmWorkloadError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// The allocation is not one.
    #[error("{path}: {error}")]
    Allocation {
        /// The file.
        path: String,
        /// Why.
        error: serde_json::Error,
    },
    /// A block file is not an RLP list of transactions.
    #[error("{path}: not an RLP list of transactions: {error}")]
    Transactions {
        /// The file.
        path: String,
        /// Why.
        error: alloy_rlp::Error,
    },
    /// The parameters cannot make a workload.
    #[error("{0}")]
    Spec(String),
}

/// The secret key of account `index` under `seed`.
pub fn signing_key(seed: u64, index: u64) -> SigningKey {
    // A hash is a valid secp256k1 scalar but with negligible probability; hash again then.
    let mut material = keccak256([&seed.to_be_bytes()[..], &index.to_be_bytes()[..]].concat());
    loop {
        if let Ok(key) = SigningKey::from_slice(material.as_slice()) {
            return key;
        }
        material = keccak256(material);
    }
}

/// The address of account `index` under `seed`.
pub fn account_address(seed: u64, index: u64) -> Address {
    Address::from_private_key(&signing_key(seed, index))
}

/// Signs `hash` with `key`: a recoverable signature (RFC 6979 nonces, so deterministic).
pub fn sign_hash(key: &SigningKey, hash: B256) -> Signature {
    let (signature, recovery) = key
        .sign_prehash_recoverable(hash.as_slice())
        .expect("a 32-byte prehash always signs");
    Signature::from_signature_and_parity(signature, recovery.is_y_odd())
}

/// `tx` signed with `key`.
pub fn sign_transaction(key: &SigningKey, tx: TxEip1559) -> TxEnvelope {
    let signature = sign_hash(key, tx.signature_hash());
    tx.into_signed(signature).into()
}

/// The token's storage slot of `holder`'s balance (Solidity's layout of a mapping at slot 0).
pub fn token_balance_slot(holder: Address) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(holder.as_slice());
    U256::from_be_bytes(keccak256(preimage).0)
}

/// The calldata of `transfer(to, amount)`.
pub fn transfer_calldata(to: Address, amount: U256) -> Bytes {
    let mut data = Vec::with_capacity(68);
    data.extend_from_slice(&TRANSFER_SELECTOR);
    data.extend_from_slice(B256::left_padding_from(to.as_slice()).as_slice());
    data.extend_from_slice(&amount.to_be_bytes::<32>());
    data.into()
}

/// The ERC-20 `transfer(address,uint256)` selector.
const TRANSFER_SELECTOR: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
/// The ERC-20 `balanceOf(address)` selector.
const BALANCE_OF_SELECTOR: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];
/// The topic of ERC-20's `Transfer(address,address,uint256)` event.
const TRANSFER_TOPIC: [u8; 32] = [
    0xdd, 0xf2, 0x52, 0xad, 0x1b, 0xe2, 0xc8, 0x9b, 0x69, 0xc2, 0xb0, 0x68, 0xfc, 0x37, 0x8d, 0xaa,
    0x95, 0x2b, 0xa7, 0xf1, 0x63, 0xc4, 0xa1, 0x16, 0x28, 0xf5, 0x5a, 0x4d, 0xf5, 0x23, 0xb3, 0xef,
];

/// One instruction of the token's code, or a jump target.
enum Asm {
    Op(u8),
    Push(&'static [u8]),
    /// A one-byte push of a label's offset.
    PushLabel(&'static str),
    Label(&'static str),
}

/// Assembles `program`: labels become `JUMPDEST`s, their pushes their offsets.
fn assemble(program: &[Asm]) -> Vec<u8> {
    const JUMPDEST: u8 = 0x5b;
    const PUSH1: u8 = 0x60;
    let mut labels = std::collections::HashMap::new();
    let mut offset = 0usize;
    for asm in program {
        if let Asm::Label(name) = asm {
            labels.insert(*name, offset);
        }
        offset += match asm {
            Asm::Op(_) | Asm::Label(_) => 1,
            Asm::Push(bytes) => 1 + bytes.len(),
            Asm::PushLabel(_) => 2,
        };
    }
    let mut code = Vec::with_capacity(offset);
    for asm in program {
        match asm {
            Asm::Op(op) => code.push(*op),
            Asm::Label(_) => code.push(JUMPDEST),
            Asm::Push(bytes) => {
                code.push(PUSH1 + (bytes.len() as u8 - 1));
                code.extend_from_slice(bytes);
            }
            Asm::PushLabel(name) => {
                let target = u8::try_from(labels[name]).expect("the token's code is short");
                code.extend_from_slice(&[PUSH1, target]);
            }
        }
    }
    code
}

/// The token's runtime code: a minimal ERC-20 with `transfer` (reverts when the balance is
/// short; logs `Transfer`; returns true) and `balanceOf`, balances in a mapping at slot 0.
pub fn token_code() -> Bytes {
    use Asm::*;
    const SHR: u8 = 0x1c;
    const EQ: u8 = 0x14;
    const LT: u8 = 0x10;
    const ADD: u8 = 0x01;
    const SUB: u8 = 0x03;
    const SHA3: u8 = 0x20;
    const CALLER: u8 = 0x33;
    const CALLDATALOAD: u8 = 0x35;
    const MSTORE: u8 = 0x52;
    const SLOAD: u8 = 0x54;
    const SSTORE: u8 = 0x55;
    const JUMPI: u8 = 0x57;
    const DUP1: u8 = 0x80;
    const DUP3: u8 = 0x82;
    const DUP4: u8 = 0x83;
    const SWAP1: u8 = 0x90;
    const LOG3: u8 = 0xa3;
    const RETURN: u8 = 0xf3;
    const REVERT: u8 = 0xfd;
    // Each line's comment is the stack after it, top last.
    let program = [
        Push(&[0]),
        Op(CALLDATALOAD),
        Push(&[0xe0]),
        Op(SHR), // selector
        Op(DUP1),
        Push(&TRANSFER_SELECTOR),
        Op(EQ),
        PushLabel("transfer"),
        Op(JUMPI),
        Op(DUP1),
        Push(&BALANCE_OF_SELECTOR),
        Op(EQ),
        PushLabel("balance_of"),
        Op(JUMPI),
        Label("fail"),
        Push(&[0]),
        Op(DUP1),
        Op(REVERT),
        // transfer(to, amount)
        Label("transfer"),
        Op(CALLER),
        Push(&[0]),
        Op(MSTORE), // memory: caller, 0 (slot 0 of the mapping, as memory starts zeroed)
        Push(&[0x40]),
        Push(&[0]),
        Op(SHA3), // sel, from_slot
        Op(DUP1),
        Op(SLOAD), // sel, from_slot, from_balance
        Push(&[0x24]),
        Op(CALLDATALOAD), // sel, from_slot, from_balance, amount
        Op(DUP1),
        Op(DUP3),
        Op(LT), // from_balance < amount
        PushLabel("fail"),
        Op(JUMPI),
        Op(DUP1),
        Op(DUP3),
        Op(SUB), // ..., amount, from_balance - amount
        Op(DUP4),
        Op(SSTORE), // sel, from_slot, from_balance, amount
        Push(&[4]),
        Op(CALLDATALOAD),
        Push(&[0]),
        Op(MSTORE), // memory: to, 0
        Push(&[0x40]),
        Push(&[0]),
        Op(SHA3), // ..., amount, to_slot
        Op(DUP1),
        Op(SLOAD),
        Op(DUP3),
        Op(ADD), // ..., amount, to_slot, to_balance + amount
        Op(SWAP1),
        Op(SSTORE), // sel, from_slot, from_balance, amount
        Push(&[0]),
        Op(MSTORE), // memory: amount
        Push(&[4]),
        Op(CALLDATALOAD),
        Op(CALLER),
        Push(&TRANSFER_TOPIC),
        Push(&[0x20]),
        Push(&[0]),
        Op(LOG3), // Transfer(caller, to, amount)
        Push(&[1]),
        Push(&[0]),
        Op(MSTORE),
        Push(&[0x20]),
        Push(&[0]),
        Op(RETURN), // true
        // balanceOf(holder)
        Label("balance_of"),
        Push(&[4]),
        Op(CALLDATALOAD),
        Push(&[0]),
        Op(MSTORE),
        Push(&[0x40]),
        Push(&[0]),
        Op(SHA3),
        Op(SLOAD),
        Push(&[0]),
        Op(MSTORE),
        Push(&[0x20]),
        Push(&[0]),
        Op(RETURN),
    ];
    assemble(&program).into()
}

/// The system contracts the fork calls (EIP-4788 and, under Prague, EIP-2935, 7002, 7251),
/// with their published code.
pub fn system_contracts(schedule: EvmSchedule) -> Vec<GenesisAccount> {
    let mut contracts = vec![(BEACON_ROOTS_ADDRESS, &BEACON_ROOTS_CODE)];
    if schedule == EvmSchedule::Prague {
        contracts.extend([
            (HISTORY_STORAGE_ADDRESS, &HISTORY_STORAGE_CODE),
            (
                WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
                &WITHDRAWAL_REQUEST_PREDEPLOY_CODE,
            ),
            (
                CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
                &CONSOLIDATION_REQUEST_PREDEPLOY_CODE,
            ),
        ]);
    }
    contracts
        .into_iter()
        .map(|(address, code)| GenesisAccount {
            address,
            nonce: 1,
            code: code.clone(),
            ..GenesisAccount::default()
        })
        .collect()
}

/// The genesis of `spec`: the funded accounts, the token holding a balance for each, and the
/// system contracts.
pub fn allocation(spec: &EvmWorkloadSpec) -> EvmAllocation {
    let holders: Vec<Address> = (0..spec.accounts)
        .into_par_iter()
        .map(|i| account_address(spec.seed, i))
        .collect();
    let mut accounts: Vec<GenesisAccount> = holders
        .iter()
        .map(|&address| GenesisAccount {
            address,
            balance: U256::from(GENESIS_ETHER),
            ..GenesisAccount::default()
        })
        .collect();
    accounts.push(GenesisAccount {
        address: TOKEN_ADDRESS,
        nonce: 1,
        code: token_code(),
        storage: holders
            .iter()
            .map(|&holder| (token_balance_slot(holder), U256::from(GENESIS_TOKENS)))
            .collect(),
        ..GenesisAccount::default()
    });
    accounts.extend(system_contracts(spec.schedule));
    if let Some(bridge) = &spec.bridge {
        // Every funded account registered, in order: the numbered models name them by number.
        let mut storage: Vec<(U256, U256)> = (0u64..)
            .zip(&holders)
            .map(|(n, holder)| (registry_slot(n), U256::from_be_slice(holder.as_slice())))
            .collect();
        storage.push((registered_count_slot(), U256::from(spec.accounts)));
        accounts.push(GenesisAccount {
            address: BRIDGE_ADDRESS,
            nonce: 1,
            code: bridge_code(&bridge.numbered()).into(),
            storage,
            ..GenesisAccount::default()
        });
    }
    EvmAllocation {
        chain_id: spec.chain_id,
        schedule: spec.schedule,
        gas_limit: BLOCK_GAS_LIMIT,
        accounts,
    }
}

/// Checks that `spec` can make a workload: accounts to send from, and blocks whose every
/// transaction fits the gas limit.
pub fn check_spec(spec: &EvmWorkloadSpec) -> Result<(), EvmWorkloadError> {
    let most = BLOCK_GAS_LIMIT / TOKEN_TRANSFER_GAS;
    if spec.accounts == 0 {
        return Err(EvmWorkloadError::Spec(
            "an evm workload needs accounts".into(),
        ));
    }
    if spec.txs_per_block as u64 > most {
        return Err(EvmWorkloadError::Spec(format!(
            "at most {most} transactions fit an evm block of gas limit {BLOCK_GAS_LIMIT}"
        )));
    }
    if spec.token_percent > 100 {
        return Err(EvmWorkloadError::Spec(
            "the token share is a percent".into(),
        ));
    }
    if !matches!(spec.schedule, EvmSchedule::Cancun | EvmSchedule::Prague) {
        return Err(EvmWorkloadError::Spec(
            "a generated chain has a fixed fork: Cancun or Prague".into(),
        ));
    }
    Ok(())
}

/// Generates the workload of `spec` (checked with [`check_spec`] first).
pub fn generate(spec: &EvmWorkloadSpec) -> Result<EvmWorkload, EvmWorkloadError> {
    check_spec(spec)?;
    let allocation = allocation(spec);
    let keys: Vec<SigningKey> = (0..spec.accounts)
        .into_par_iter()
        .map(|i| signing_key(spec.seed, i))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut nonces = vec![0u64; keys.len()];
    let mut blocks = Vec::with_capacity(spec.blocks);
    for _ in 0..spec.blocks {
        // Choices in order (nonces), signatures in parallel.
        let unsigned: Vec<(usize, TxEip1559)> = (0..spec.txs_per_block)
            .map(|_| {
                let from = rng.random_range(0..keys.len());
                let to = account_address(spec.seed, rng.random_range(0..spec.accounts));
                let token = rng.random_range(0..100u8) < spec.token_percent;
                let amount = U256::from(rng.random_range(1..1_000_000_000u64));
                // An exit: a whole number of gwei to a genesis account of a numbered model.
                let exit = spec
                    .bridge
                    .filter(|bridge| !token && rng.random_range(0..100u8) < bridge.exit_percent);
                let exit = exit.map(|bridge| {
                    let models = bridge.numbered();
                    let model = models[rng.random_range(0..models.len())];
                    let account = rng.random_range(0..bridge.accounts);
                    let value = U256::from(rng.random_range(1..=1_000u64) * WEI_PER_UNIT);
                    (exit_calldata(model, account), value)
                });
                let nonce = nonces[from];
                nonces[from] += 1;
                let tx = TxEip1559 {
                    chain_id: spec.chain_id,
                    nonce,
                    max_fee_per_gas: MAX_FEE_PER_GAS,
                    max_priority_fee_per_gas: MAX_PRIORITY_FEE_PER_GAS,
                    ..if token {
                        TxEip1559 {
                            gas_limit: TOKEN_TRANSFER_GAS,
                            to: TxKind::Call(TOKEN_ADDRESS),
                            input: transfer_calldata(to, amount),
                            ..TxEip1559::default()
                        }
                    } else if let Some((calldata, value)) = exit {
                        TxEip1559 {
                            gas_limit: TOKEN_TRANSFER_GAS,
                            to: TxKind::Call(BRIDGE_ADDRESS),
                            value,
                            input: calldata.into(),
                            ..TxEip1559::default()
                        }
                    } else {
                        TxEip1559 {
                            gas_limit: ETHER_TRANSFER_GAS,
                            to: TxKind::Call(to),
                            value: amount,
                            ..TxEip1559::default()
                        }
                    }
                };
                (from, tx)
            })
            .collect();
        let signed = unsigned
            .into_par_iter()
            .map(|(from, tx)| sign_transaction(&keys[from], tx))
            .collect();
        blocks.push(signed);
    }
    Ok(EvmWorkload { allocation, blocks })
}

/// The allocation file of an `evm` workload.
fn allocation_path(workload_dir: &Path) -> std::path::PathBuf {
    model_dir(workload_dir, witness_format::Model::Evm).join("allocation.json")
}

/// Writes `workload` under `workload_dir/evm/`.
pub fn write_workload(workload_dir: &Path, workload: &EvmWorkload) -> Result<(), EvmWorkloadError> {
    let json =
        serde_json::to_vec(&workload.allocation).map_err(|error| EvmWorkloadError::Allocation {
            path: allocation_path(workload_dir).display().to_string(),
            error,
        })?;
    write_atomic(&allocation_path(workload_dir), &json)?;
    let dir = model_dir(workload_dir, witness_format::Model::Evm);
    for (height, transactions) in (1u64..).zip(&workload.blocks) {
        write_atomic(&block_path(&dir, height), &alloy_rlp::encode(transactions))?;
    }
    Ok(())
}

/// Reads the workload under `workload_dir/evm/`.
pub fn read_workload(workload_dir: &Path) -> Result<EvmWorkload, EvmWorkloadError> {
    let path = allocation_path(workload_dir);
    let json = read_limited(&path, crate::evm_import::MAX_IMPORT_BYTES)?;
    let allocation =
        serde_json::from_slice(&json).map_err(|error| EvmWorkloadError::Allocation {
            path: path.display().to_string(),
            error,
        })?;
    let dir = model_dir(workload_dir, witness_format::Model::Evm);
    let mut blocks = Vec::new();
    for path in block_files(&dir)? {
        let bytes = read_limited(&path, MAX_EVM_BLOCK_BYTES as u64)?;
        let transactions =
            alloy_rlp::decode_exact(&bytes).map_err(|error| EvmWorkloadError::Transactions {
                path: path.display().to_string(),
                error,
            })?;
        blocks.push(transactions);
    }
    Ok(EvmWorkload { allocation, blocks })
}
