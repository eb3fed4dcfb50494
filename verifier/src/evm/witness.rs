//! The state an `evm` block reads, backed only by its witness: the account trie and the
//! storage tries as partial tries over the witness nodes, the codes by hash, the ancestor block
//! hashes. Reading what the witness lacks is a [`WitnessError`] naming it; the block's state
//! changes are applied to the same partial tries to give the post-state root.

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256, keccak256};
use alloy_rlp::{Decodable, Encodable};
use alloy_trie::TrieAccount;
use revm::bytecode::Bytecode;
use revm::database::BundleState;
use revm::database_interface::DBErrorMarker;
use revm::state::AccountInfo;
use thiserror::Error;

use crate::mpt::{EMPTY_ROOT, PartialTrie, TrieError};

/// What the witness lacks, or holds malformed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WitnessError {
    /// A trie node the block needs (reading, or updating the state after it).
    #[error("account {address}: {error}")]
    Account {
        /// The account whose path needs the node.
        address: Address,
        /// The trie's error.
        error: TrieError,
    },
    /// A storage trie node the block needs.
    #[error("account {address}, storage slot {slot}: {error}")]
    Storage {
        /// The account.
        address: Address,
        /// The slot.
        slot: U256,
        /// The trie's error.
        error: TrieError,
    },
    /// A leaf that is not what its trie holds (an account, or a storage value).
    #[error("account {address}: its leaf does not decode")]
    MalformedLeaf {
        /// The account.
        address: Address,
    },
    /// A contract code the block runs.
    #[error("the witness lacks the code of hash {0}")]
    MissingCode(B256),
    /// An ancestor block hash `BLOCKHASH` reads.
    #[error("the witness lacks the hash of block {0}")]
    MissingBlockHash(u64),
}

impl DBErrorMarker for WitnessError {}

/// What a block's checks used of a witness ([`WitnessDb::used`]).
#[derive(Clone, Debug, Default)]
pub struct UsedWitness {
    /// The trie nodes read or needed for updates.
    pub nodes: Vec<Vec<u8>>,
    /// The codes run.
    pub codes: Vec<Vec<u8>>,
    /// The oldest block whose hash `BLOCKHASH` read.
    pub oldest_block_hash: Option<u64>,
}

/// The witness of one block, as the database its execution reads.
#[derive(Debug)]
pub struct WitnessDb {
    accounts: PartialTrie,
    storage: HashMap<Address, PartialTrie>,
    codes: HashMap<B256, Bytecode>,
    block_hashes: HashMap<u64, B256>,
    /// Codes execution asked for.
    used_codes: std::collections::HashSet<B256>,
    /// Codes the block deployed (after [`Self::apply`]).
    new_codes: Vec<Vec<u8>>,
    /// The oldest block whose hash execution asked for.
    oldest_block_hash: Option<u64>,
    /// The first witness error execution met: revm reports it among execution errors, and a
    /// missing node is the witness's fault, not the block's.
    error: Option<WitnessError>,
}

impl WitnessDb {
    /// The witness of block `number`: trie nodes (account and storage tries together), codes,
    /// and the hashes of its ancestors, parent (`number - 1`) first.
    pub fn new<'a>(
        nodes: impl IntoIterator<Item = &'a [u8]>,
        codes: impl IntoIterator<Item = &'a [u8]>,
        number: u64,
        ancestors: impl IntoIterator<Item = B256>,
    ) -> Self {
        let parent = number.checked_sub(1);
        let block_hashes = ancestors
            .into_iter()
            .zip(0u64..)
            .filter_map(|(hash, back)| Some((parent?.checked_sub(back)?, hash)));
        Self {
            accounts: PartialTrie::new(EMPTY_ROOT, nodes, 32),
            storage: HashMap::new(),
            codes: codes
                .into_iter()
                .map(|code| (keccak256(code), Bytecode::new_raw(code.to_vec().into())))
                .collect(),
            block_hashes: block_hashes.collect(),
            used_codes: std::collections::HashSet::new(),
            new_codes: Vec::new(),
            oldest_block_hash: None,
            error: None,
        }
    }

    /// The same witness, unread and unchanged: a database for another execution over it (a
    /// producer seals a block over its state, then checks the sealed block over the same).
    pub fn fresh(&self) -> Self {
        Self {
            accounts: self.accounts.sibling(EMPTY_ROOT, 32),
            storage: HashMap::new(),
            codes: self.codes.clone(),
            block_hashes: self.block_hashes.clone(),
            used_codes: std::collections::HashSet::new(),
            new_codes: Vec::new(),
            oldest_block_hash: None,
            error: None,
        }
    }

    /// Reads the witness under the state root `root` from now on.
    pub(super) fn set_root(&mut self, root: B256) {
        self.accounts = self.accounts.sibling(root.0, 32);
        self.storage.clear();
    }

    /// What the reads and updates so far used of the witness: the minimal witness for them,
    /// nodes and codes each in order of hash (so a prover's witness is the same bytes every
    /// run).
    pub fn used(&self) -> UsedWitness {
        let mut nodes: BTreeMap<B256, Vec<u8>> = BTreeMap::new();
        for trie in std::iter::once(&self.accounts).chain(self.storage.values()) {
            for node in trie.used_nodes() {
                nodes
                    .entry(keccak256(node))
                    .or_insert_with(|| node.to_vec());
            }
        }
        let mut used_codes: Vec<&B256> = self.used_codes.iter().collect();
        used_codes.sort();
        let codes = used_codes
            .into_iter()
            .filter_map(|hash| self.codes.get(hash))
            .map(|code| code.original_bytes().to_vec())
            .collect();
        UsedWitness {
            nodes: nodes.into_values().collect(),
            codes,
            oldest_block_hash: self.oldest_block_hash,
        }
    }

    /// The codes the block deployed (after [`super::execute_block`]).
    pub fn new_codes(&self) -> &[Vec<u8>] {
        &self.new_codes
    }

    /// The trie nodes of the state as it is now (after [`super::execute_block`]: the post-state)
    /// that are not bare hashes: with the nodes it started from, every node of the new state.
    pub fn state_nodes(&self) -> Vec<Vec<u8>> {
        std::iter::once(&self.accounts)
            .chain(self.storage.values())
            .flat_map(PartialTrie::encoded_nodes)
            .collect()
    }

    /// The first witness error execution met, if any.
    pub(super) fn take_error(&mut self) -> Option<WitnessError> {
        self.error.take()
    }

    fn note<T>(&mut self, result: Result<T, WitnessError>) -> Result<T, WitnessError> {
        if let Err(error) = &result {
            self.error.get_or_insert_with(|| error.clone());
        }
        result
    }

    /// The account's leaf in the pre-state.
    fn account(&mut self, address: Address) -> Result<Option<TrieAccount>, WitnessError> {
        let leaf = self
            .accounts
            .get(keccak256(address).as_slice())
            .map_err(|error| WitnessError::Account { address, error })?;
        leaf.map(|bytes| {
            TrieAccount::decode(&mut bytes.as_slice())
                .map_err(|_| WitnessError::MalformedLeaf { address })
        })
        .transpose()
    }

    /// The account's storage trie, over its pre-state storage root.
    fn storage_trie(&mut self, address: Address) -> Result<&mut PartialTrie, WitnessError> {
        // The pre-state storage root, read only for an account not met before.
        let root = match self.storage.contains_key(&address) {
            true => EMPTY_ROOT,
            false => self
                .account(address)?
                .map_or(EMPTY_ROOT, |account| account.storage_root.0),
        };
        let accounts = &self.accounts;
        Ok(self
            .storage
            .entry(address)
            .or_insert_with(|| accounts.sibling(root, 32)))
    }

    fn slot(&mut self, address: Address, slot: U256) -> Result<U256, WitnessError> {
        let key = keccak256(B256::from(slot));
        let trie = self.storage_trie(address)?;
        let leaf = trie
            .get(key.as_slice())
            .map_err(|error| WitnessError::Storage {
                address,
                slot,
                error,
            })?;
        leaf.map_or(Ok(U256::ZERO), |bytes| {
            U256::decode(&mut bytes.as_slice()).map_err(|_| WitnessError::MalformedLeaf { address })
        })
    }

    /// Applies the block's state changes to the partial tries; returns the post-state root.
    pub(super) fn apply(&mut self, bundle: &BundleState) -> Result<B256, WitnessError> {
        self.new_codes = bundle
            .contracts
            .values()
            .map(|code| code.original_bytes().to_vec())
            .collect();
        // Storage first, from each account's pre-state root, then the accounts.
        let mut leaves = Vec::with_capacity(bundle.state.len());
        for (address, account) in &bundle.state {
            let address = *address;
            let Some(info) = &account.info else {
                leaves.push((address, None));
                continue;
            };
            if account.was_destroyed() {
                let fresh = self.accounts.sibling(EMPTY_ROOT, 32);
                self.storage.insert(address, fresh);
            }
            let trie = self.storage_trie(address)?;
            for (slot, value) in &account.storage {
                let key = keccak256(B256::from(*slot));
                let mut encoded = Vec::new();
                value.present_value.encode(&mut encoded);
                let changed = if value.present_value.is_zero() {
                    trie.remove(key.as_slice())
                } else {
                    trie.insert(key.as_slice(), encoded)
                };
                changed.map_err(|error| WitnessError::Storage {
                    address,
                    slot: *slot,
                    error,
                })?;
            }
            let storage_root = trie
                .root()
                .map_err(|error| WitnessError::Account { address, error })?;
            let leaf = TrieAccount {
                nonce: info.nonce,
                balance: info.balance,
                storage_root: B256::from(storage_root),
                code_hash: info.code_hash,
            };
            let mut encoded = Vec::new();
            leaf.encode(&mut encoded);
            leaves.push((address, Some(encoded)));
        }
        for (address, leaf) in leaves {
            let key = keccak256(address);
            let changed = match leaf {
                Some(encoded) => self.accounts.insert(key.as_slice(), encoded),
                None => self.accounts.remove(key.as_slice()),
            };
            changed.map_err(|error| WitnessError::Account { address, error })?;
        }
        // Every update above succeeded (a failed one returned), so the root is there.
        let root = self
            .accounts
            .root()
            .map_err(|error| WitnessError::Account {
                address: Address::ZERO,
                error,
            })?;
        Ok(B256::from(root))
    }
}

impl revm::Database for WitnessDb {
    type Error = WitnessError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let account = self.account(address);
        let account = self.note(account)?;
        Ok(account.map(|account| AccountInfo {
            balance: account.balance,
            nonce: account.nonce,
            code_hash: account.code_hash,
            code: None,
            ..AccountInfo::default()
        }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK256_EMPTY {
            return Ok(Bytecode::default());
        }
        self.used_codes.insert(code_hash);
        let code = self
            .codes
            .get(&code_hash)
            .cloned()
            .ok_or(WitnessError::MissingCode(code_hash));
        self.note(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        let value = self.slot(address, index);
        self.note(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.oldest_block_hash = Some(self.oldest_block_hash.map_or(number, |n| n.min(number)));
        let hash = self
            .block_hashes
            .get(&number)
            .copied()
            .ok_or(WitnessError::MissingBlockHash(number));
        self.note(hash)
    }
}
