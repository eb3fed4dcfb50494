//! SHA3-256 for every hash of the `transfer` model and of the chain structure.
//!
//! Each use starts with its own domain byte, so that no hash of one kind can be passed off as
//! another (a leaf as a node, a header as a blob). A node hash is 65 bytes of input: one
//! Keccak-f permutation, the cost floor of a tree level.

use sha3::Digest;
use thiserror::Error;
use witness_format::SszEncode;
use witness_format::{AccountLeaf, Blob, Genesis, Hash32, Header, Model, Transaction, Witness};

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
///
/// By `keccak-asm` (assembly Keccak): the hot path of every tree walk and commitment.
pub fn tagged_hash(tag: u8, parts: &[&[u8]]) -> Hash32 {
    use keccak_asm::Digest as _;
    let mut hasher = keccak_asm::Sha3_256::new();
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

/// [`node_hash`] of each `[left, right]`, appended to `out` in order: several at once, in the
/// vector lanes of one Keccak permutation ([`crate::keccak_lanes`]).
pub fn node_hashes(children: &[[Hash32; 2]], out: &mut Vec<Hash32>) {
    pair_hashes(
        NODE_TAG,
        children.len(),
        |i| {
            let pair = children.get(i);
            (pair.map(|[left, _]| left), pair.map(|[_, right]| right))
        },
        out,
    );
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

/// [`leaf_hash`] of each leaf, in order: several at once where vector lanes pay
/// ([`crate::keccak_lanes`]).
pub fn leaf_hashes(leaves: &[AccountLeaf]) -> Vec<Hash32> {
    let mut hashes = Vec::with_capacity(leaves.len());
    crate::keccak_lanes::sha3_256_each::<49>(
        leaves.len(),
        |i, input| {
            input[0] = LEAF_TAG;
            if let Some(leaf) = leaves.get(i) {
                input[1..33].copy_from_slice(&leaf.public_key.0);
                input[33..41].copy_from_slice(&leaf.balance.to_le_bytes());
                input[41..].copy_from_slice(&leaf.nonce.to_le_bytes());
            }
        },
        &mut hashes,
    );
    // The empty slot is the zero hash, not a hash of its bytes.
    for (hash, leaf) in hashes.iter_mut().zip(leaves) {
        if leaf.is_empty() {
            *hash = Hash32::ZERO;
        }
    }
    hashes
}

/// The commitment to a blob: its model, state roots and the root over its transactions; not
/// its witness.
///
/// Like a segregated witness, the evidence is left out: it proves the commitment's content and
/// has exactly one valid form. Committing to a tree of transactions, rather than their bytes,
/// lets a history proof show one transaction with O(log n) hashes.
pub fn blob_commitment(blob: &Blob) -> Hash32 {
    blob_commitment_of(
        blob.model,
        &blob.pre_state_root,
        &blob.post_state_root,
        &blob_content_root(blob),
    )
}

/// What a blob's commitment binds besides its model and roots: the root over its transactions,
/// or, for a blob whose transactions are inside an Ethereum block (`evm`), the block's hash
/// (keccak-256 of its header's RLP, which commits to the transactions); a block whose header
/// is not an RLP item commits to zero, and is rejected by its check anyway.
pub fn blob_content_root(blob: &Blob) -> Hash32 {
    match &blob.witness {
        Witness::Evm(witness) => ethereum_block_hash(&witness.block).unwrap_or(Hash32::ZERO),
        _ => transactions_root(&blob.transactions),
    }
}

/// Keccak-256 of the first item (the header) of an RLP list (a block).
fn ethereum_block_hash(block: &[u8]) -> Option<Hash32> {
    let mut rest = block;
    let list = alloy_rlp::Header::decode(&mut rest).ok()?;
    if !list.list {
        return None;
    }
    let mut inner = rest;
    let header = alloy_rlp::Header::decode(&mut inner).ok()?;
    let consumed = rest.len().checked_sub(inner.len())?;
    let length = consumed.checked_add(header.payload_length)?;
    let encoded = rest.get(..length)?;
    Some(Hash32::from(<[u8; 32]>::from(sha3::Keccak256::digest(
        encoded,
    ))))
}

/// [`blob_commitment`] from its pre-image, as a history proof carries it: model, state roots
/// and the transaction root.
pub fn blob_commitment_of(
    model: Model,
    pre_state_root: &Hash32,
    post_state_root: &Hash32,
    transactions_root: &Hash32,
) -> Hash32 {
    tagged_hash(
        BLOB_TAG,
        &[
            &[model as u8],
            &pre_state_root.0,
            &post_state_root.0,
            &transactions_root.0,
        ],
    )
}

/// The hash of one transaction: its 128-byte encoding.
pub fn transaction_hash(tx: &Transaction) -> Hash32 {
    tagged_hash(TRANSACTION_TAG, &[&tx.as_ssz_bytes()])
}

/// [`transaction_hash`] of each transaction, in order: several at once where vector lanes pay
/// ([`crate::keccak_lanes`]).
pub fn transaction_hashes(transactions: &[Transaction]) -> Vec<Hash32> {
    let mut hashes = Vec::with_capacity(transactions.len());
    crate::keccak_lanes::sha3_256_each::<{ 1 + TRANSACTION_BYTES }>(
        transactions.len(),
        |i, input| {
            input[0] = TRANSACTION_TAG;
            if let Some(transaction) = transactions.get(i) {
                let encoding = transaction.as_ssz_bytes();
                for (byte, encoded) in input[1..].iter_mut().zip(encoding) {
                    *byte = encoded;
                }
            }
        },
        &mut hashes,
    );
    hashes
}

/// The bytes of a transaction's encoding (fixed: four numbers, a key and a signature).
const TRANSACTION_BYTES: usize = 4 * 8 + 32 + 64;

/// The root over a blob's transactions, in order.
pub fn transactions_root(transactions: &[Transaction]) -> Hash32 {
    list_root(
        TRANSACTIONS_NODE_TAG,
        TRANSACTIONS_ROOT_TAG,
        &transaction_hashes(transactions),
    )
}

/// The root over a list of hashes: a binary Merkle tree over them, padded with zero hashes to a
/// power of two, its nodes hashed with `node_tag`; then the tree root hashed with the count under
/// `root_tag`, so padding cannot pose as items. An empty list has a zero tree root.
pub fn list_root(node_tag: u8, root_tag: u8, items: &[Hash32]) -> Hash32 {
    let mut level = padded_list(items);
    while level.len() > 1 {
        level = list_parents(node_tag, &level);
    }
    let tree_root = level.first().copied().unwrap_or(Hash32::ZERO);
    list_root_of(root_tag, items.len() as u64, &tree_root)
}

/// The items of a list tree's bottom level: the items padded with zero hashes to a power of two
/// (nothing for an empty list).
fn padded_list(items: &[Hash32]) -> Vec<Hash32> {
    let mut level: Vec<Hash32> = items.to_vec();
    if !level.is_empty() {
        level.resize(level.len().next_power_of_two(), Hash32::ZERO);
    }
    level
}

/// The next level up of a list tree whose level has an even number of nodes.
fn list_parents(node_tag: u8, level: &[Hash32]) -> Vec<Hash32> {
    let mut parents = Vec::with_capacity(level.len() / 2);
    pair_hashes(
        node_tag,
        level.chunks_exact(2).len(),
        |i| {
            let left = i.saturating_mul(2);
            (level.get(left), level.get(left.saturating_add(1)))
        },
        &mut parents,
    );
    parents
}

/// The hash under `tag` of each of `count` pairs, `pair(i)` giving the `i`-th (a missing half
/// hashes as zeros, which no caller passes), appended to `out`: several at once where vector
/// lanes pay.
fn pair_hashes<'a>(
    tag: u8,
    count: usize,
    pair: impl Fn(usize) -> (Option<&'a Hash32>, Option<&'a Hash32>),
    out: &mut Vec<Hash32>,
) {
    crate::keccak_lanes::sha3_256_each::<65>(
        count,
        |i, input| {
            input[0] = tag;
            let (left, right) = pair(i);
            input[1..33].copy_from_slice(&left.copied().unwrap_or(Hash32::ZERO).0);
            input[33..].copy_from_slice(&right.copied().unwrap_or(Hash32::ZERO).0);
        },
        out,
    );
}

/// A list root from the count and the tree root.
fn list_root_of(root_tag: u8, count: u64, tree_root: &Hash32) -> Hash32 {
    tagged_hash(root_tag, &[&count.to_le_bytes(), &tree_root.0])
}

/// Height of the padded tree of a list of `count` items, which is the length of every path in
/// it: `ceil(log2(count))`, so 0 for one item (or none).
pub fn list_tree_height(count: u64) -> u32 {
    count
        .checked_next_power_of_two()
        .map_or(u64::BITS, u64::trailing_zeros)
}

/// The path of item `index` in the tree of [`list_root`]: the sibling hash at each level, bottom
/// up. `None` if there is no such item.
///
/// [`list_root_from_path`] turns the item, its index, the count and this path back into the
/// list root.
pub fn list_path(node_tag: u8, items: &[Hash32], index: usize) -> Option<Vec<Hash32>> {
    if index >= items.len() {
        return None;
    }
    let mut level = padded_list(items);
    let mut position = index;
    let mut path = Vec::new();
    while level.len() > 1 {
        path.push(level.get(position ^ 1).copied()?);
        level = list_parents(node_tag, &level);
        position >>= 1;
    }
    Some(path)
}

/// Why an item and a path do not make a list root.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ListPathError {
    /// The index names no item of the list.
    #[error("index {index} is not below the count {count}")]
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// The count.
        count: u64,
    },
    /// The path is not as long as the tree of `count` items is high.
    #[error("path has {found} hashes, a list of this count needs {expected}")]
    PathLength {
        /// The tree height.
        expected: u32,
        /// Hashes in the path.
        found: usize,
    },
}

/// The root of a list of `count` hashes (see [`list_root`]) whose item `index` is `item`, from
/// that item's path (see [`list_path`]).
///
/// The index must be below the count, so a padding hash cannot pose as an item, and the path
/// must have exactly one hash per level, so every proof has one form.
pub fn list_root_from_path(
    node_tag: u8,
    root_tag: u8,
    item: &Hash32,
    index: u64,
    count: u64,
    path: &[Hash32],
) -> Result<Hash32, ListPathError> {
    if index >= count {
        return Err(ListPathError::IndexOutOfRange { index, count });
    }
    let height = list_tree_height(count);
    if path.len() != height as usize {
        return Err(ListPathError::PathLength {
            expected: height,
            found: path.len(),
        });
    }
    let mut node = *item;
    for (level, sibling) in (0u32..).zip(path) {
        node = if index.checked_shr(level).unwrap_or(0) & 1 == 0 {
            tagged_hash(node_tag, &[&node.0, &sibling.0])
        } else {
            tagged_hash(node_tag, &[&sibling.0, &node.0])
        };
    }
    Ok(list_root_of(root_tag, count, &node))
}

/// The hash of a header, which the next header names as its parent.
pub fn header_hash(header: &Header) -> Hash32 {
    tagged_hash(HEADER_TAG, &[&header.as_ssz_bytes()])
}

/// The hash of a genesis, the parent of the first block.
pub fn genesis_hash(genesis: &Genesis) -> Hash32 {
    tagged_hash(GENESIS_TAG, &[&genesis.as_ssz_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Hash32> {
        (0..n)
            .map(|i| tagged_hash(0xff, &[&i.to_le_bytes()]))
            .collect()
    }

    /// The batched leaf hash is the one-at-a-time one, the empty slot included.
    #[test]
    fn leaf_hashes_are_leaf_hash_each() {
        let leaves: Vec<AccountLeaf> = (0..13u64)
            .map(|i| {
                if i % 4 == 1 {
                    AccountLeaf::EMPTY
                } else {
                    AccountLeaf {
                        public_key: witness_format::Bytes([i as u8 + 1; 32]),
                        balance: 1000 * i,
                        nonce: i,
                    }
                }
            })
            .collect();
        let expected: Vec<Hash32> = leaves.iter().map(leaf_hash).collect();
        assert!(expected.contains(&Hash32::ZERO));
        assert_eq!(leaf_hashes(&leaves), expected);
    }

    /// The batched transaction hash is the one-at-a-time one.
    #[test]
    fn transaction_hashes_are_transaction_hash_each() {
        let transactions: Vec<Transaction> = (0..11u64)
            .map(|i| Transaction {
                from: i,
                to: i + 1,
                amount: 3 * i,
                nonce: 7 * i,
                new_account_key: witness_format::Bytes([i as u8; 32]),
                signature: witness_format::Bytes([!(i as u8); 64]),
            })
            .collect();
        assert_eq!(transactions[0].as_ssz_bytes().len(), TRANSACTION_BYTES);
        let expected: Vec<Hash32> = transactions.iter().map(transaction_hash).collect();
        assert_eq!(transaction_hashes(&transactions), expected);
    }

    /// The batched node hash is the one-at-a-time one, for any count (lanes filled or not).
    #[test]
    fn node_hashes_are_node_hash_each() {
        let hashes = items(41);
        for count in [0, 1, 2, 3, 7, 8, 9, 20] {
            let children: Vec<[Hash32; 2]> =
                (0..count).map(|i| [hashes[i], hashes[i + 20]]).collect();
            let mut out = Vec::new();
            node_hashes(&children, &mut out);
            let expected: Vec<Hash32> = children.iter().map(|[l, r]| node_hash(l, r)).collect();
            assert_eq!(out, expected, "{count} nodes");
        }
    }

    #[test]
    fn tree_height_is_ceil_log2() {
        let heights: Vec<u32> = (0..10).map(list_tree_height).collect();
        assert_eq!(heights, [0, 0, 1, 2, 2, 3, 3, 3, 3, 4]);
        assert_eq!(list_tree_height(1 << 63), 63);
        assert_eq!(list_tree_height((1 << 63) + 1), 64);
        assert_eq!(list_tree_height(u64::MAX), 64);
    }

    /// Every item of lists of every small count: the path gives back `list_root`.
    #[test]
    fn paths_give_the_list_root() {
        for n in 1..=17 {
            let list = items(n);
            let root = list_root(TRANSACTIONS_NODE_TAG, TRANSACTIONS_ROOT_TAG, &list);
            for (index, item) in list.iter().enumerate() {
                let path = list_path(TRANSACTIONS_NODE_TAG, &list, index).unwrap();
                assert_eq!(path.len(), list_tree_height(n as u64) as usize);
                let from_path = list_root_from_path(
                    TRANSACTIONS_NODE_TAG,
                    TRANSACTIONS_ROOT_TAG,
                    item,
                    index as u64,
                    n as u64,
                    &path,
                );
                assert_eq!(from_path, Ok(root), "item {index} of {n}");
            }
            assert_eq!(list_path(TRANSACTIONS_NODE_TAG, &list, n), None);
        }
    }

    #[test]
    fn bad_paths_are_rejected() {
        let list = items(5);
        let root = list_root(BLOBS_NODE_TAG, BLOBS_ROOT_TAG, &list);
        let path = list_path(BLOBS_NODE_TAG, &list, 2).unwrap();
        let item = list[2];
        let check = |item: &Hash32, index, count, path: &[Hash32]| {
            list_root_from_path(BLOBS_NODE_TAG, BLOBS_ROOT_TAG, item, index, count, path)
        };
        assert_eq!(check(&item, 2, 5, &path), Ok(root));
        // A padding slot is not an item.
        assert_eq!(
            check(&Hash32::ZERO, 5, 5, &path),
            Err(ListPathError::IndexOutOfRange { index: 5, count: 5 })
        );
        assert_eq!(
            check(&item, 2, 5, &path[..2]),
            Err(ListPathError::PathLength {
                expected: 3,
                found: 2
            })
        );
        let mut longer = path.clone();
        longer.push(Hash32::ZERO);
        assert_eq!(
            check(&item, 2, 5, &longer),
            Err(ListPathError::PathLength {
                expected: 3,
                found: 4
            })
        );
        // Another index, another count of the same height, another item, another sibling, or
        // another tag: another root.
        assert_ne!(check(&item, 3, 5, &path), Ok(root));
        assert_ne!(check(&item, 2, 6, &path), Ok(root));
        assert_ne!(check(&list[3], 2, 5, &path), Ok(root));
        let mut wrong = path.clone();
        wrong[1].0[0] ^= 1;
        assert_ne!(check(&item, 2, 5, &wrong), Ok(root));
        assert_ne!(
            list_root_from_path(
                TRANSACTIONS_NODE_TAG,
                TRANSACTIONS_ROOT_TAG,
                &item,
                2,
                5,
                &path
            ),
            Ok(root)
        );
    }
}
