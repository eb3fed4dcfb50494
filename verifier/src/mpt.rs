//! A partial Merkle Patricia trie (Ethereum's state and storage tries) built from witness
//! nodes: reads, inserts, updates and deletions on the part the witness holds, and the root
//! after them. What the witness does not hold stays a hash; reaching it is a rejection naming
//! the node and the key path ([`TrieError::MissingNode`]), never a wrong root.
//!
//! Nodes are Ethereum's: a leaf `[hex_prefix(path, leaf), value]`, an extension
//! `[hex_prefix(path, extension), child]`, a branch `[child × 16, value]`, each child referenced
//! by the keccak-256 of its RLP, or embedded when that RLP is shorter than 32 bytes. Keys are
//! fixed-length (the secure tries hash every key to 32 bytes), so no branch holds a value; a
//! witness node that does is malformed.
//!
//! A deletion that leaves a branch with one child collapses it into that child, which needs the
//! child itself (its kind decides the collapse): a witness must hold it, as Ethereum's stateless
//! witnesses do. Unused extra nodes are harmless.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use alloy_rlp::{Encodable, Header};
use sha3::{Digest, Keccak256};
use thiserror::Error;

/// The root of the empty trie: keccak-256 of the RLP of the empty string.
pub const EMPTY_ROOT: [u8; 32] = [
    0x56, 0xe8, 0x1f, 0x17, 0x1b, 0xcc, 0x55, 0xa6, 0xff, 0x83, 0x45, 0xe6, 0x92, 0xc0, 0xf8, 0x6e,
    0x5b, 0x48, 0xe0, 0x1b, 0x99, 0x6c, 0xad, 0xc0, 0x01, 0x62, 0x2f, 0xb5, 0xe3, 0x63, 0xb4, 0x21,
];

/// Keccak-256.
pub fn keccak(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

/// Why a trie operation could not be carried out on the witness.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TrieError {
    /// The witness lacks a node the operation needs.
    #[error("the witness lacks trie node 0x{} ({})", hex(hash), at_path(path))]
    MissingNode {
        /// The node's hash.
        hash: [u8; 32],
        /// The nibbles leading to it from the root.
        path: Vec<u8>,
    },
    /// A witness node is not a well-formed trie node.
    #[error("trie node 0x{} is malformed: {why}", hex(hash))]
    MalformedNode {
        /// The node's hash (of its RLP).
        hash: [u8; 32],
        /// What is wrong.
        why: &'static str,
    },
    /// A key of another length than the trie's keys.
    #[error("a key of {found} nibbles where the trie's keys have {expected}")]
    KeyLength {
        /// The trie's key length in nibbles.
        expected: usize,
        /// The key's.
        found: usize,
    },
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a node sits: "the root", or "key path" and its nibbles in hex.
fn at_path(nibbles: &[u8]) -> String {
    if nibbles.is_empty() {
        "the root".into()
    } else {
        let hex: String = nibbles.iter().map(|n| format!("{n:x}")).collect();
        format!("at key path {hex}")
    }
}

/// A node of the partial trie. `Hash` is a node the witness has not been asked for yet.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Empty,
    Leaf { path: Vec<u8>, value: Vec<u8> },
    Extension { path: Vec<u8>, child: Box<Node> },
    Branch { children: Box<[Node; 16]> },
    Hash([u8; 32]),
}

/// A partial trie over a witness: the nodes by hash, the root resolved as far as operations
/// have needed, and which witness nodes they used.
#[derive(Clone, Debug)]
pub struct PartialTrie {
    root: Node,
    witness: Arc<HashMap<[u8; 32], Vec<u8>>>,
    used: HashSet<[u8; 32]>,
    key_nibbles: usize,
    /// The error an insertion or deletion failed with: it leaves the trie half-changed, so every
    /// later operation, and the root, fail with it too.
    failed: Option<TrieError>,
}

impl PartialTrie {
    /// The trie of root `root` over the witness `nodes` (RLP trie nodes, any order, extra ones
    /// allowed), for keys of `key_bytes` bytes.
    pub fn new<'a>(
        root: [u8; 32],
        nodes: impl IntoIterator<Item = &'a [u8]>,
        key_bytes: usize,
    ) -> Self {
        let witness = Arc::new(
            nodes
                .into_iter()
                .map(|node| (keccak(node), node.to_vec()))
                .collect(),
        );
        let root = if root == EMPTY_ROOT {
            Node::Empty
        } else {
            Node::Hash(root)
        };
        Self {
            root,
            witness,
            used: HashSet::new(),
            key_nibbles: key_bytes.saturating_mul(2),
            failed: None,
        }
    }

    /// Another trie over the same witness (a storage trie beside the account trie), of root
    /// `root` and keys of `key_bytes` bytes.
    pub fn sibling(&self, root: [u8; 32], key_bytes: usize) -> Self {
        Self {
            root: if root == EMPTY_ROOT {
                Node::Empty
            } else {
                Node::Hash(root)
            },
            witness: Arc::clone(&self.witness),
            used: HashSet::new(),
            key_nibbles: key_bytes.saturating_mul(2),
            failed: None,
        }
    }

    /// The value under `key`, if any.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        let path = self.nibbles_of(key)?;
        self.check()?;
        let mut node = &mut self.root;
        let mut at = 0usize;
        loop {
            resolve(node, &self.witness, &mut self.used, head(&path, at))?;
            match node {
                Node::Empty | Node::Hash(_) => return Ok(None),
                Node::Leaf { path: rest, value } => {
                    return Ok((path.get(at..) == Some(rest.as_slice())).then(|| value.clone()));
                }
                Node::Extension {
                    path: prefix,
                    child,
                } => {
                    if !path.get(at..).is_some_and(|p| p.starts_with(prefix)) {
                        return Ok(None);
                    }
                    at = at.saturating_add(prefix.len());
                    node = child;
                }
                Node::Branch { children } => {
                    let Some(&nibble) = path.get(at) else {
                        return Ok(None);
                    };
                    at = at.saturating_add(1);
                    node = slot(children, nibble);
                }
            }
        }
    }

    /// Sets `key` to `value` (a non-empty value; an empty one removes the key, as Ethereum's
    /// tries hold no empty values).
    pub fn insert(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), TrieError> {
        if value.is_empty() {
            return self.remove(key);
        }
        let path = self.nibbles_of(key)?;
        self.check()?;
        let root = std::mem::replace(&mut self.root, Node::Empty);
        let mut ctx = Ctx {
            witness: &self.witness,
            used: &mut self.used,
        };
        let changed = ctx.insert(root, &path, 0, value);
        self.keep(changed)
    }

    /// Removes `key` (nothing happens if it is absent).
    pub fn remove(&mut self, key: &[u8]) -> Result<(), TrieError> {
        let path = self.nibbles_of(key)?;
        self.check()?;
        let root = std::mem::replace(&mut self.root, Node::Empty);
        let mut ctx = Ctx {
            witness: &self.witness,
            used: &mut self.used,
        };
        let changed = ctx.remove(root, &path, 0);
        self.keep(changed)
    }

    /// The error an earlier operation failed with, if any.
    fn check(&self) -> Result<(), TrieError> {
        self.failed.clone().map_or(Ok(()), Err)
    }

    /// Keeps the new root of an operation, or its error for good. (Restoring the old root
    /// would need a copy of the resolved trie before every operation, which made a block's
    /// storage updates quadratic; a block whose trie update fails is rejected whole anyway.)
    fn keep(&mut self, changed: Result<Node, TrieError>) -> Result<(), TrieError> {
        match changed {
            Ok(node) => {
                self.root = node;
                Ok(())
            }
            Err(error) => {
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    /// The root hash of the trie as it is now; the error of a failed insertion or deletion,
    /// after one.
    pub fn root(&self) -> Result<[u8; 32], TrieError> {
        self.check()?;
        Ok(match &self.root {
            Node::Empty => EMPTY_ROOT,
            Node::Hash(hash) => *hash,
            node => keccak(&encode(node)),
        })
    }

    /// The hashes of the witness nodes the operations so far have used: what a minimal witness
    /// for them holds.
    pub fn used_nodes(&self) -> impl Iterator<Item = &[u8]> {
        self.used
            .iter()
            .filter_map(|hash| self.witness.get(hash).map(Vec::as_slice))
    }

    /// The RLP of every node of the trie as it is now that a parent (or the root) refers to by
    /// hash and that is not a bare hash: with the nodes the trie started from, a store of the
    /// full trie holds every node of the trie after the operations.
    pub fn encoded_nodes(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        collect_encoded(&self.root, true, &mut out);
        out
    }

    fn nibbles_of(&self, key: &[u8]) -> Result<Vec<u8>, TrieError> {
        let path: Vec<u8> = key.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect();
        if path.len() != self.key_nibbles {
            return Err(TrieError::KeyLength {
                expected: self.key_nibbles,
                found: path.len(),
            });
        }
        Ok(path)
    }
}

/// [`PartialTrie::encoded_nodes`] below `node`; recursion is bounded by the key length.
fn collect_encoded(node: &Node, is_root: bool, out: &mut Vec<Vec<u8>>) {
    match node {
        Node::Empty | Node::Hash(_) => return,
        Node::Leaf { .. } => {}
        Node::Extension { child, .. } => collect_encoded(child, false, out),
        Node::Branch { children } => {
            for child in children.iter() {
                collect_encoded(child, false, out);
            }
        }
    }
    let rlp = encode(node);
    if is_root || rlp.len() >= 32 {
        out.push(rlp);
    }
}

/// Replaces a `Hash` node by the node the witness holds for it.
fn resolve(
    node: &mut Node,
    witness: &HashMap<[u8; 32], Vec<u8>>,
    used: &mut HashSet<[u8; 32]>,
    path: &[u8],
) -> Result<(), TrieError> {
    if let Node::Hash(hash) = *node {
        let bytes = witness.get(&hash).ok_or_else(|| TrieError::MissingNode {
            hash,
            path: path.to_vec(),
        })?;
        used.insert(hash);
        *node = decode(bytes).map_err(|why| TrieError::MalformedNode { hash, why })?;
    }
    Ok(())
}

/// What an insertion or a deletion reads from.
struct Ctx<'a> {
    witness: &'a HashMap<[u8; 32], Vec<u8>>,
    used: &'a mut HashSet<[u8; 32]>,
}

impl Ctx<'_> {
    fn resolved(&mut self, mut node: Node, path: &[u8], at: usize) -> Result<Node, TrieError> {
        resolve(
            &mut node,
            self.witness,
            self.used,
            path.get(..at).unwrap_or(path),
        )?;
        Ok(node)
    }

    fn insert(
        &mut self,
        node: Node,
        path: &[u8],
        at: usize,
        value: Vec<u8>,
    ) -> Result<Node, TrieError> {
        let rest = path.get(at..).unwrap_or_default();
        Ok(match self.resolved(node, path, at)? {
            Node::Empty | Node::Hash(_) => Node::Leaf {
                path: rest.to_vec(),
                value,
            },
            Node::Leaf {
                path: leaf,
                value: old,
            } => {
                if leaf == rest {
                    Node::Leaf { path: leaf, value }
                } else {
                    let common = common_prefix(&leaf, rest);
                    let mut children = empty_children();
                    let (Some(&a), Some(&b)) = (leaf.get(common), rest.get(common)) else {
                        return Err(TrieError::KeyLength {
                            expected: path.len(),
                            found: at.saturating_add(common),
                        });
                    };
                    let next = common.saturating_add(1);
                    *slot(&mut children, a) = leaf_node(tail(&leaf, next), old);
                    *slot(&mut children, b) = leaf_node(tail(rest, next), value);
                    extension(head(rest, common), Node::Branch { children })
                }
            }
            Node::Extension {
                path: prefix,
                child,
            } => {
                let common = common_prefix(&prefix, rest);
                if common == prefix.len() {
                    let child = self.insert(*child, path, at.saturating_add(common), value)?;
                    Node::Extension {
                        path: prefix,
                        child: Box::new(child),
                    }
                } else {
                    let mut children = empty_children();
                    let (Some(&a), Some(&b)) = (prefix.get(common), rest.get(common)) else {
                        return Err(TrieError::KeyLength {
                            expected: path.len(),
                            found: at.saturating_add(common),
                        });
                    };
                    let next = common.saturating_add(1);
                    *slot(&mut children, a) = extension(tail(&prefix, next), *child);
                    *slot(&mut children, b) = leaf_node(tail(rest, next), value);
                    extension(head(rest, common), Node::Branch { children })
                }
            }
            Node::Branch { mut children } => {
                let Some(&nibble) = rest.first() else {
                    return Err(TrieError::KeyLength {
                        expected: path.len(),
                        found: at,
                    });
                };
                let child = std::mem::replace(slot(&mut children, nibble), Node::Empty);
                *slot(&mut children, nibble) =
                    self.insert(child, path, at.saturating_add(1), value)?;
                Node::Branch { children }
            }
        })
    }

    fn remove(&mut self, node: Node, path: &[u8], at: usize) -> Result<Node, TrieError> {
        let rest = path.get(at..).unwrap_or_default();
        Ok(match self.resolved(node, path, at)? {
            Node::Empty | Node::Hash(_) => Node::Empty,
            Node::Leaf { path: leaf, value } => {
                if leaf == rest {
                    Node::Empty
                } else {
                    Node::Leaf { path: leaf, value }
                }
            }
            Node::Extension {
                path: prefix,
                child,
            } => {
                if !rest.starts_with(&prefix) {
                    return Ok(Node::Extension {
                        path: prefix,
                        child,
                    });
                }
                let child = self.remove(*child, path, at.saturating_add(prefix.len()))?;
                // The child was a branch; it may have collapsed into a leaf or an extension.
                match child {
                    Node::Empty => Node::Empty,
                    child => extension(&prefix, child),
                }
            }
            Node::Branch { mut children } => {
                let Some(&nibble) = rest.first() else {
                    return Ok(Node::Branch { children });
                };
                let child = std::mem::replace(slot(&mut children, nibble), Node::Empty);
                *slot(&mut children, nibble) = self.remove(child, path, at.saturating_add(1))?;
                let left: Vec<u8> = (0..16u8)
                    .filter(|&i| *slot(&mut children, i) != Node::Empty)
                    .collect();
                match left.as_slice() {
                    [] => Node::Empty,
                    [only] => {
                        // One child left: the branch collapses into it, which needs it resolved.
                        let only = *only;
                        let mut prefix = head(path, at).to_vec();
                        prefix.push(only);
                        let child = std::mem::replace(slot(&mut children, only), Node::Empty);
                        let child = self.resolved(child, &prefix, prefix.len())?;
                        extension(&[only], child)
                    }
                    _ => Node::Branch { children },
                }
            }
        })
    }
}

/// The child slot of `nibble` in a branch.
#[allow(clippy::indexing_slicing)] // `& 0x0f` keeps the index below 16
fn slot(children: &mut [Node; 16], nibble: u8) -> &mut Node {
    &mut children[usize::from(nibble & 0x0f)]
}

/// `bytes` from `from` on (empty past the end).
fn tail(bytes: &[u8], from: usize) -> &[u8] {
    bytes.get(from..).unwrap_or_default()
}

/// The first `to` of `bytes` (all of them if fewer).
fn head(bytes: &[u8], to: usize) -> &[u8] {
    bytes.get(..to).unwrap_or(bytes)
}

fn empty_children() -> Box<[Node; 16]> {
    Box::new(std::array::from_fn(|_| Node::Empty))
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn leaf_node(path: &[u8], value: Vec<u8>) -> Node {
    Node::Leaf {
        path: path.to_vec(),
        value,
    }
}

/// `child` under `prefix`: merged into it when it is a leaf or an extension, so that no
/// extension points at either (the canonical form every client computes the same root for).
fn extension(prefix: &[u8], child: Node) -> Node {
    if prefix.is_empty() {
        return child;
    }
    match child {
        Node::Leaf { path, value } => Node::Leaf {
            path: [prefix, &path].concat(),
            value,
        },
        Node::Extension { path, child } => Node::Extension {
            path: [prefix, &path].concat(),
            child,
        },
        child => Node::Extension {
            path: prefix.to_vec(),
            child: Box::new(child),
        },
    }
}

// ----------------------------------------------------------------------------------- encoding

/// The RLP of a node.
fn encode(node: &Node) -> Vec<u8> {
    let mut payload = Vec::new();
    match node {
        Node::Empty => return vec![0x80],
        Node::Hash(hash) => {
            hash.as_slice().encode(&mut payload);
            return payload;
        }
        Node::Leaf { path, value } => {
            hex_prefix(path, true).as_slice().encode(&mut payload);
            value.as_slice().encode(&mut payload);
        }
        Node::Extension { path, child } => {
            hex_prefix(path, false).as_slice().encode(&mut payload);
            payload.extend(reference(child));
        }
        Node::Branch { children } => {
            for child in children.iter() {
                payload.extend(reference(child));
            }
            payload.push(0x80);
        }
    }
    let mut out = Vec::with_capacity(payload.len().saturating_add(3));
    Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut out);
    out.extend(payload);
    out
}

/// How a parent refers to `child`: its RLP when shorter than 32 bytes, else its hash.
fn reference(child: &Node) -> Vec<u8> {
    match child {
        Node::Empty => vec![0x80],
        Node::Hash(hash) => encode(&Node::Hash(*hash)),
        node => {
            let rlp = encode(node);
            if rlp.len() < 32 {
                rlp
            } else {
                encode(&Node::Hash(keccak(&rlp)))
            }
        }
    }
}

/// Hex-prefix encoding of a nibble path, with the leaf flag.
fn hex_prefix(path: &[u8], leaf: bool) -> Vec<u8> {
    let flag = if leaf { 2u8 } else { 0 };
    let mut out = Vec::with_capacity(path.len().div_ceil(2).saturating_add(1));
    let rest = if path.len() % 2 == 1 {
        out.push(((flag | 1) << 4) | path.first().copied().unwrap_or_default());
        path.get(1..).unwrap_or_default()
    } else {
        out.push(flag << 4);
        path
    };
    for pair in rest.chunks(2) {
        if let [high, low] = pair {
            out.push((high << 4) | low);
        }
    }
    out
}

/// A node from its RLP; children of 32 bytes become `Hash` nodes, embedded ones are decoded.
fn decode(bytes: &[u8]) -> Result<Node, &'static str> {
    let mut buf = bytes;
    let node = decode_item(&mut buf, 0)?;
    if !buf.is_empty() {
        return Err("bytes after the node");
    }
    match node {
        Node::Empty | Node::Hash(_) => Err("not a list"),
        node => Ok(node),
    }
}

/// Embedded nodes nest at most this deep (an embedded node is under 32 bytes, so real tries
/// nest far less); bounds the recursion on hostile input.
const MAX_EMBEDDED_DEPTH: usize = 8;

fn decode_item(buf: &mut &[u8], depth: usize) -> Result<Node, &'static str> {
    if depth > MAX_EMBEDDED_DEPTH {
        return Err("embedded nodes nest too deep");
    }
    let header = Header::decode(buf).map_err(|_| "bad RLP")?;
    let payload = buf
        .get(..header.payload_length)
        .ok_or("RLP longer than the node")?;
    *buf = buf.get(header.payload_length..).unwrap_or_default();
    if !header.list {
        return match payload.len() {
            0 => Ok(Node::Empty),
            32 => {
                let mut hash = [0u8; 32];
                hash.copy_from_slice(payload);
                Ok(Node::Hash(hash))
            }
            _ => Err("a child reference is neither empty, a hash nor an embedded node"),
        };
    }
    let mut items = payload;
    let mut parts: Vec<&[u8]> = Vec::with_capacity(17);
    while !items.is_empty() {
        let start = items;
        let item = Header::decode(&mut items).map_err(|_| "bad RLP")?;
        let end = item.payload_length;
        items = items.get(end..).ok_or("RLP longer than the node")?;
        parts.push(head(start, start.len().saturating_sub(items.len())));
        if parts.len() > 17 {
            return Err("more than 17 items");
        }
    }
    match parts.as_slice() {
        [encoded_path, second] => {
            let mut p = *encoded_path;
            let path_bytes = Header::decode_bytes(&mut p, false).map_err(|_| "bad path")?;
            let (leaf, path) = decode_hex_prefix(path_bytes)?;
            if leaf {
                let mut v = *second;
                let value = Header::decode_bytes(&mut v, false).map_err(|_| "bad value")?;
                if value.is_empty() {
                    return Err("a leaf with an empty value");
                }
                Ok(Node::Leaf {
                    path,
                    value: value.to_vec(),
                })
            } else {
                if path.is_empty() {
                    return Err("an extension with an empty path");
                }
                let mut c = *second;
                let child = decode_item(&mut c, depth.saturating_add(1))?;
                if matches!(child, Node::Empty) {
                    return Err("an extension without a child");
                }
                Ok(Node::Extension {
                    path,
                    child: Box::new(child),
                })
            }
        }
        [children @ .., value] if children.len() == 16 => {
            if *value != [0x80] {
                return Err("a branch with a value (keys are fixed-length)");
            }
            let mut decoded = empty_children();
            for (slot, child) in decoded.iter_mut().zip(children) {
                let mut c = *child;
                *slot = decode_item(&mut c, depth.saturating_add(1))?;
            }
            Ok(Node::Branch { children: decoded })
        }
        _ => Err("neither 2 nor 17 items"),
    }
}

fn decode_hex_prefix(bytes: &[u8]) -> Result<(bool, Vec<u8>), &'static str> {
    let (&first, rest) = bytes.split_first().ok_or("an empty path")?;
    let flag = first >> 4;
    if flag > 3 {
        return Err("a bad hex-prefix flag");
    }
    let mut path = Vec::with_capacity(rest.len().saturating_mul(2).saturating_add(1));
    if flag & 1 == 1 {
        path.push(first & 0x0f);
    } else if first & 0x0f != 0 {
        return Err("a non-zero pad nibble");
    }
    for b in rest {
        path.extend([b >> 4, b & 0x0f]);
    }
    Ok((flag & 2 == 2, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_trie::{HashBuilder, Nibbles};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const KEY_BYTES: usize = 3;

    /// The oracle: alloy-trie's root over the sorted leaves.
    fn oracle(leaves: &BTreeMap<Vec<u8>, Vec<u8>>) -> [u8; 32] {
        let mut builder = HashBuilder::default();
        for (key, value) in leaves {
            builder.add_leaf(Nibbles::unpack(key), value);
        }
        builder.root().0
    }

    /// A full trie of `leaves`, and a witness of all its nodes (what a prover's store of the
    /// full trie holds: [`PartialTrie::encoded_nodes`]).
    fn full(leaves: &BTreeMap<Vec<u8>, Vec<u8>>) -> ([u8; 32], Vec<Vec<u8>>) {
        let mut trie = PartialTrie::new(EMPTY_ROOT, [], KEY_BYTES);
        for (key, value) in leaves {
            trie.insert(key, value.clone()).unwrap();
        }
        (trie.root().unwrap(), trie.encoded_nodes())
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set(Vec<u8>, Vec<u8>),
        Remove(Vec<u8>),
    }

    /// Keys from a small alphabet, so that they share prefixes and branches collapse.
    fn key() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![Just(0x00u8), Just(0x01), Just(0x10), Just(0xff)],
            KEY_BYTES,
        )
    }

    /// Values of both kinds of reference: short ones (embedded nodes) and long ones (hashed).
    fn value() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 1..40)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (key(), value()).prop_map(|(k, v)| Op::Set(k, v)),
            key().prop_map(Op::Remove),
        ]
    }

    fn apply(trie: &mut PartialTrie, ops: &[Op]) -> Result<(), TrieError> {
        for op in ops {
            match op {
                Op::Set(k, v) => trie.insert(k, v.clone())?,
                Op::Remove(k) => trie.remove(k)?,
            }
        }
        Ok(())
    }

    fn expected(mut leaves: BTreeMap<Vec<u8>, Vec<u8>>, ops: &[Op]) -> BTreeMap<Vec<u8>, Vec<u8>> {
        for op in ops {
            match op {
                Op::Set(k, v) => leaves.insert(k.clone(), v.clone()),
                Op::Remove(k) => leaves.remove(k),
            };
        }
        leaves
    }

    #[test]
    fn the_empty_root_is_the_hash_of_the_empty_string() {
        assert_eq!(keccak(&[0x80]), EMPTY_ROOT);
        assert_eq!(
            PartialTrie::new(EMPTY_ROOT, [], 32).root().unwrap(),
            EMPTY_ROOT
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Inserts, updates and deletions on a trie read from a witness give the root the full
        /// trie of the resulting leaves has, and reads see the leaves.
        #[test]
        fn operations_on_a_witness_match_the_full_trie(
            initial in proptest::collection::btree_map(key(), value(), 0..24),
            ops in proptest::collection::vec(op(), 0..24),
        ) {
            let (root, nodes) = full(&initial);
            prop_assert_eq!(root, oracle(&initial));
            let mut trie = PartialTrie::new(root, nodes.iter().map(Vec::as_slice), KEY_BYTES);
            apply(&mut trie, &ops).unwrap();
            let after = expected(initial, &ops);
            prop_assert_eq!(trie.root().unwrap(), oracle(&after));
            for (k, v) in &after {
                prop_assert_eq!(trie.get(k).unwrap(), Some(v.clone()));
            }
        }

        /// The nodes the operations used are a witness for them (extra ones dropped), and every
        /// one of them is needed: without it, the operations are refused as a missing node.
        #[test]
        fn the_used_nodes_are_a_minimal_witness(
            initial in proptest::collection::btree_map(key(), value(), 1..16),
            ops in proptest::collection::vec(op(), 1..8),
        ) {
            let (root, nodes) = full(&initial);
            let mut trie = PartialTrie::new(root, nodes.iter().map(Vec::as_slice), KEY_BYTES);
            apply(&mut trie, &ops).unwrap();
            let want = trie.root().unwrap();
            let used: Vec<Vec<u8>> = trie.used_nodes().map(<[u8]>::to_vec).collect();
            let mut minimal = PartialTrie::new(root, used.iter().map(Vec::as_slice), KEY_BYTES);
            apply(&mut minimal, &ops).unwrap();
            prop_assert_eq!(minimal.root().unwrap(), want);
            for dropped in 0..used.len() {
                let fewer = used.iter().enumerate().filter(|(i, _)| *i != dropped).map(|(_, n)| n.as_slice());
                let mut short = PartialTrie::new(root, fewer, KEY_BYTES);
                let missing = keccak(&used[dropped]);
                let outcome = apply(&mut short, &ops);
                prop_assert!(
                    matches!(&outcome, Err(TrieError::MissingNode { hash, .. }) if *hash == missing),
                    "{:?}", outcome
                );
            }
        }
    }

    proptest! {
        /// Arbitrary bytes as witness nodes: every operation ends in a result, never a panic.
        #[test]
        fn arbitrary_witness_bytes_never_panic(
            nodes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..6),
            ops in proptest::collection::vec(op(), 1..6),
        ) {
            let root = keccak(&nodes[0]);
            let mut trie = PartialTrie::new(root, nodes.iter().map(Vec::as_slice), KEY_BYTES);
            let _ = apply(&mut trie, &ops);
            let _ = trie.get(&[0; KEY_BYTES]);
            let _ = trie.root();
        }
    }

    /// A deletion that collapses a branch needs the remaining sibling: without it, a missing
    /// node naming it, and the trie, half-changed, refuses everything after with that error.
    #[test]
    fn a_collapse_needs_the_sibling_node() {
        let (long, other) = (vec![7u8; 40], vec![8u8; 40]);
        let leaves: BTreeMap<Vec<u8>, Vec<u8>> =
            [(vec![0x00, 0, 0], other), (vec![0x10, 0, 0], long.clone())].into();
        let (root, nodes) = full(&leaves);
        let sibling = encode(&leaf_node(&[0, 0, 0, 0, 0], long.clone()));
        let without: Vec<&[u8]> = nodes
            .iter()
            .map(Vec::as_slice)
            .filter(|n| *n != sibling.as_slice())
            .collect();
        assert_eq!(without.len(), nodes.len() - 1);
        let mut trie = PartialTrie::new(root, without, KEY_BYTES);
        let missing = TrieError::MissingNode {
            hash: keccak(&sibling),
            path: vec![1],
        };
        assert_eq!(trie.remove(&[0x00, 0, 0]), Err(missing.clone()));
        assert_eq!(trie.root(), Err(missing.clone()));
        assert_eq!(trie.get(&[0x10, 0, 0]), Err(missing.clone()));
        assert_eq!(trie.insert(&[0x20, 0, 0], vec![1]), Err(missing));
        let mut full_trie = PartialTrie::new(root, nodes.iter().map(Vec::as_slice), KEY_BYTES);
        full_trie.remove(&[0x00, 0, 0]).unwrap();
        assert_eq!(
            full_trie.root().unwrap(),
            oracle(&[(vec![0x10, 0, 0], long)].into())
        );
    }

    /// Hostile witness nodes are refused by name, never a panic: garbage, a branch with a
    /// value, a leaf with an empty value, too many items, deep embedding.
    #[test]
    fn malformed_nodes_are_refused() {
        let key = [0u8; KEY_BYTES];
        let mut branch_with_value = vec![0xd1];
        branch_with_value.extend([0x80; 16]);
        branch_with_value.push(0x01);
        for (bytes, why) in [
            (vec![0xff, 0x00], "bad RLP"),
            (vec![0x83, 1, 2, 3], "not a list"),
            (
                branch_with_value,
                "a branch with a value (keys are fixed-length)",
            ),
            (vec![0xc3, 0x82, 0x20, 0x00, 0x80], "bad value"),
            (
                vec![0xc4, 0x82, 0x20, 0x00, 0x80],
                "RLP longer than the node",
            ),
        ] {
            let root = keccak(&bytes);
            let mut trie = PartialTrie::new(root, [bytes.as_slice()], KEY_BYTES);
            let outcome = trie.get(&key);
            assert!(
                matches!(&outcome, Err(TrieError::MalformedNode { hash, .. }) if *hash == root),
                "{bytes:02x?}: {outcome:?} (expected {why})"
            );
        }
        // A key of the wrong length.
        let mut trie = PartialTrie::new(EMPTY_ROOT, [], KEY_BYTES);
        assert_eq!(
            trie.insert(&[1, 2], vec![1]),
            Err(TrieError::KeyLength {
                expected: 6,
                found: 4
            })
        );
    }
}
