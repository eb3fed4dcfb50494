//! SHA3-256 for every hash of the `transfer` model and of the chain structure.
//!
//! Each use starts with its own domain byte, so that no hash of one kind can be passed off as
//! another (a leaf as a node, a header as a blob). A node hash is 65 bytes of input: one
//! Keccak-f permutation, the cost floor of a tree level.

use sha3::{Digest, Sha3_256};
use witness_format::SszEncode;
use witness_format::{AccountLeaf, Blob, Genesis, Hash32, Header, Transaction};

/// Domain byte of an account leaf.
pub const LEAF_TAG: u8 = 0x00;
/// Domain byte of an inner node of a state tree.
pub const NODE_TAG: u8 = 0x01;
/// Domain byte of an inner node of the history accumulator.
pub const HISTORY_NODE_TAG: u8 = 0x02;
/// Domain byte of the history accumulator's root (its bagged peaks).
pub const HISTORY_ROOT_TAG: u8 = 0x03;
/// Domain byte of a node of a block's blob tree.
pub const BLOBS_NODE_TAG: u8 = 0x04;
/// Domain byte of a block's blob root (tree root and blob count).
pub const BLOBS_ROOT_TAG: u8 = 0x05;
/// Domain byte of a blob commitment.
pub const BLOB_TAG: u8 = 0x06;
/// Domain byte of a header hash.
pub const HEADER_TAG: u8 = 0x07;
/// Domain byte of the genesis hash.
pub const GENESIS_TAG: u8 = 0x08;
/// Domain byte of a transaction hash.
pub const TRANSACTION_TAG: u8 = 0x09;
/// Domain byte of a node of a blob's transaction tree.
pub const TRANSACTIONS_NODE_TAG: u8 = 0x0A;
/// Domain byte of a blob's transaction root (tree root and count).
pub const TRANSACTIONS_ROOT_TAG: u8 = 0x0B;

/// SHA3-256 of a domain byte followed by `parts`.
pub fn tagged_hash(tag: u8, parts: &[&[u8]]) -> Hash32 {
    let mut hasher = Sha3_256::new();
    hasher.update([tag]);
    for part in parts {
        hasher.update(part);
    }
    Hash32::from(<[u8; 32]>::from(hasher.finalize()))
}

/// Hash of an inner node of a state tree.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    tagged_hash(NODE_TAG, &[&left.0, &right.0])
}

/// Hash of an account leaf. The empty slot hashes to all zeros, the default of level 0, so that
/// empty subtrees need not be stored or sent.
pub fn leaf_hash(leaf: &AccountLeaf) -> Hash32 {
    if leaf.is_empty() {
        return Hash32::ZERO;
    }
    tagged_hash(
        LEAF_TAG,
        &[
            &leaf.public_key.0,
            &leaf.balance.to_le_bytes(),
            &leaf.nonce.to_le_bytes(),
        ],
    )
}

/// The commitment to a blob: its model, state roots and the root over its transactions; not
/// its witness.
///
/// Like a segregated witness, the evidence is left out: it proves the commitment's content and
/// has exactly one valid form. Committing to a tree of transactions, rather than their bytes,
/// lets a history proof show one transaction with O(log n) hashes.
pub fn blob_commitment(blob: &Blob) -> Hash32 {
    tagged_hash(
        BLOB_TAG,
        &[
            &[blob.model as u8],
            &blob.pre_state_root.0,
            &blob.post_state_root.0,
            &transactions_root(&blob.transactions).0,
        ],
    )
}

/// The hash of one transaction: its 128-byte encoding.
pub fn transaction_hash(tx: &Transaction) -> Hash32 {
    tagged_hash(TRANSACTION_TAG, &[&tx.as_ssz_bytes()])
}

/// The root over a blob's transactions, in order.
pub fn transactions_root(transactions: &[Transaction]) -> Hash32 {
    let hashes: Vec<Hash32> = transactions.iter().map(transaction_hash).collect();
    list_root(TRANSACTIONS_NODE_TAG, TRANSACTIONS_ROOT_TAG, &hashes)
}

/// The root over a list of hashes: a binary Merkle tree over them, padded with zero hashes to a
/// power of two, its nodes hashed with `node_tag`; then the tree root hashed with the count under
/// `root_tag`, so padding cannot pose as items. An empty list has a zero tree root.
pub fn list_root(node_tag: u8, root_tag: u8, items: &[Hash32]) -> Hash32 {
    let mut level: Vec<Hash32> = items.to_vec();
    if !level.is_empty() {
        level.resize(level.len().next_power_of_two(), Hash32::ZERO);
    }
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| match pair {
                [left, right] => tagged_hash(node_tag, &[&left.0, &right.0]),
                _ => Hash32::ZERO,
            })
            .collect();
    }
    let tree_root = level.first().copied().unwrap_or(Hash32::ZERO);
    let count = (items.len() as u64).to_le_bytes();
    tagged_hash(root_tag, &[&count, &tree_root.0])
}

/// The hash of a header, which the next header names as its parent.
pub fn header_hash(header: &Header) -> Hash32 {
    tagged_hash(HEADER_TAG, &[&header.as_ssz_bytes()])
}

/// The hash of a genesis, the parent of the first block.
pub fn genesis_hash(genesis: &Genesis) -> Hash32 {
    tagged_hash(GENESIS_TAG, &[&genesis.as_ssz_bytes()])
}
