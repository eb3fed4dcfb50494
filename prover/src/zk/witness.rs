//! The `zk-transfer` circuit's witness: the values of every slot of a batch, computed from the
//! pre-state of the touched accounts and the siblings of their paths ([`build_witness`]), as the
//! circuit computes them. See [`crate::zk::circuit`] for the constraints.

use std::collections::{BTreeMap, HashMap};

use ark_bls12_381::Fr;
use ark_ff::{AdditiveGroup, Field};
use ark_serialize::CanonicalDeserialize;
use thiserror::Error;
use verifier::accounts::TouchedState;
use verifier::tree::{SparseTree, tree_root};
use verifier::zk_transfer::poseidon::hash_many;
use verifier::zk_transfer::schnorr::{self, SIGNATURE_BYTES, SigningKey};
use verifier::zk_transfer::{
    LEAF_DOMAIN, PUBLIC_INPUTS, PublicData, TxCommitment, ZK_TRANSFER_TREE, message_of, node_hash,
    public_inputs, signature_elements,
};
use witness_format::Transaction;

use crate::zk::shape::Shape;

/// Seed of the key that signs padding slots (its signatures prove nothing: padding changes no
/// state and no commitment).
pub const PADDING_KEY_SEED: [u8; 32] = *b"stateless/zk/padding-slot/key/v1";

/// An account leaf as field elements: the key's coordinates ((0, 0) for the empty slot),
/// balance and nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LeafValues {
    /// The key's x coordinate.
    pub x: Fr,
    /// The key's y coordinate.
    pub y: Fr,
    /// The balance.
    pub balance: Fr,
    /// The nonce.
    pub nonce: Fr,
}

impl LeafValues {
    /// `hash_many(LEAF_DOMAIN, [x, y, balance, nonce])`: the leaf's hash when it is not empty.
    pub fn hash(&self) -> Fr {
        hash_many(LEAF_DOMAIN, &[self.x, self.y, self.balance, self.nonce])
    }
}

/// The witness of one slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotWitness {
    /// Whether the slot holds a transfer (false: padding).
    pub is_real: bool,
    /// Sender's account number.
    pub from: u64,
    /// Receiver's account number.
    pub to: u64,
    /// Amount.
    pub amount: u64,
    /// The transaction's nonce.
    pub nonce: u64,
    /// The new-owner key's coordinates, (0, 0) when absent.
    pub new_key: (Fr, Fr),
    /// The sender's signature, R ‖ s.
    pub signature: [u8; SIGNATURE_BYTES],
    /// The sender's leaf before the transfer.
    pub sender: LeafValues,
    /// Sibling hashes of the sender's path, bottom up to the subtree's root, under the root
    /// before the slot.
    pub sender_siblings: Vec<Fr>,
    /// The receiver's leaf after the sender's update (all zero when empty).
    pub receiver: LeafValues,
    /// Whether the receiver's slot is empty.
    pub receiver_empty: bool,
    /// Sibling hashes of the receiver's path, bottom up to the subtree's root, under the root
    /// after the sender's update.
    pub receiver_siblings: Vec<Fr>,
}

/// The witness of a batch: the claimed roots, the top index bits the chain's bridge reserves,
/// the subtree that holds the blob's accounts, and one witness per slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchWitness {
    /// The pre-state root.
    pub pre_state_root: Fr,
    /// The claimed post-state root (a public input).
    pub post_state_root: Fr,
    /// Top index bits no slot's accounts may set (the bridge's regions,
    /// [`verifier::bridge::reserved_bits`]).
    pub reserved_bits: u8,
    /// The index of the subtree of [`Shape::subtree_depth`] that holds every account of the
    /// batch (0 without shared levels).
    pub subtree: u64,
    /// The subtree's root before the first slot (the pre-state root without shared levels).
    pub pre_subtree_root: Fr,
    /// Sibling hashes of the subtree root's path, bottom up: the shared levels'.
    pub subtree_siblings: Vec<Fr>,
    /// Exactly `batch` slots, the real ones first.
    pub slots: Vec<SlotWitness>,
}

impl BatchWitness {
    /// The commitment to the real slots' transactions, as the verifier computes it
    /// ([`TxCommitment`]). A signature that is not a canonical encoding (which the verifier
    /// rejects before it computes anything) contributes (0, 0).
    pub fn commitment(&self) -> Fr {
        let mut commitment = TxCommitment::new(self.real_slots().count());
        for slot in self.real_slots() {
            let signature = signature_elements(&slot.signature).unwrap_or((Fr::ZERO, Fr::ZERO));
            commitment.absorb(
                [slot.from, slot.to, slot.amount, slot.nonce],
                slot.new_key,
                signature,
            );
        }
        commitment.value()
    }

    /// The slots that hold a transaction (the first ones).
    fn real_slots(&self) -> impl Iterator<Item = &SlotWitness> {
        self.slots.iter().filter(|slot| slot.is_real)
    }

    /// The public inputs this witness proves.
    pub fn public_inputs(&self) -> [Fr; PUBLIC_INPUTS] {
        let data = PublicData {
            pre_state_root: self.pre_state_root,
            post_state_root: self.post_state_root,
            commitment: self.commitment(),
            transactions: self.real_slots().count() as u64,
            reserved_bits: self.reserved_bits,
        };
        public_inputs(&data)
    }
}

fn slot_message(chain_id: u64, slot: &SlotWitness) -> Fr {
    message_of(
        chain_id,
        slot.from,
        slot.to,
        slot.amount,
        slot.nonce,
        slot.new_key,
    )
}

/// Why a batch witness cannot be built.
#[derive(Debug, Error)]
pub enum WitnessError<E> {
    /// More transactions than slots.
    #[error("{count} transactions do not fit a batch of {batch}")]
    TooManyTransactions {
        /// Transactions given.
        count: usize,
        /// Slots.
        batch: usize,
    },
    /// A transaction's account is not in the given pre-state (or outside the tree).
    #[error("account {account} is not among the touched accounts")]
    AccountMissing {
        /// The account.
        account: u64,
    },
    /// A new-owner key or a leaf key does not decode.
    #[error("transaction {index}: a key does not decode")]
    InvalidKey {
        /// Transaction index (or leaf index for a pre-state leaf).
        index: usize,
    },
    /// The batch's accounts do not all lie in one subtree under the shared levels.
    #[error(
        "account {account} is outside subtree {subtree} of depth {subtree_depth}, which holds \
         the batch's first account: a proof with {shared_levels} shared levels covers one subtree"
    )]
    OutsideSubtree {
        /// The account.
        account: u64,
        /// The first account's subtree.
        subtree: u64,
        /// The subtree's depth.
        subtree_depth: u8,
        /// The shape's shared levels.
        shared_levels: u8,
    },
    /// The sibling source failed.
    #[error("sibling: {0}")]
    Sibling(E),
    /// The blob does not carry the Merkle witness the circuit's witness is built from.
    #[error("the blob does not carry a Merkle witness")]
    NotAMerkleWitness,
}

/// Builds the witness of a batch from the pre-state of the touched accounts and a source of
/// sibling hashes of the pre-state tree (asked in the canonical multiproof order, as
/// [`verifier::tree::walk`] asks; a Merkle witness answers it).
///
/// The transactions are applied as the circuit computes, with no rule checked (field
/// arithmetic), so an invalid batch gives the witness that shows its circuit unsatisfied. The
/// claimed post-state root is the root this computation reaches. `reserved_bits` are the top
/// index bits the chain's bridge reserves ([`verifier::bridge::reserved_bits`]). With shared
/// levels, every account must lie in one subtree ([`Shape::subtree_of`]): the circuit cannot
/// express any other batch.
pub fn build_witness<E>(
    shape: Shape,
    reserved_bits: u8,
    pre_state: &TouchedState,
    transactions: &[Transaction],
    sibling: impl FnMut(u8, u64) -> Result<Fr, E>,
) -> Result<BatchWitness, WitnessError<E>> {
    let (depth, batch) = (shape.depth, shape.batch());
    if transactions.len() > batch {
        return Err(WitnessError::TooManyTransactions {
            count: transactions.len(),
            batch,
        });
    }
    let subtree_depth = shape.subtree_depth();
    let subtree = pre_state
        .accounts()
        .first()
        .map_or(0, |&a| shape.subtree(a));
    if let Some(&account) = pre_state
        .accounts()
        .iter()
        .find(|&&account| shape.subtree(account) != subtree)
    {
        return Err(WitnessError::OutsideSubtree {
            account,
            subtree,
            subtree_depth,
            shared_levels: shape.shared_levels,
        });
    }
    let mut tree = PartialTree::new(depth);
    let mut leaves = Vec::with_capacity(pre_state.accounts().len());
    let mut state = BTreeMap::new();
    for (index, (&account, leaf)) in pre_state
        .accounts()
        .iter()
        .zip(pre_state.leaves())
        .enumerate()
    {
        let hash =
            verifier::zk_transfer::leaf_hash(leaf).ok_or(WitnessError::InvalidKey { index })?;
        let values = if leaf.is_empty() {
            LeafValues::default()
        } else {
            let (x, y) = schnorr::public_key_coordinates(&leaf.public_key.0)
                .ok_or(WitnessError::InvalidKey { index })?;
            LeafValues {
                x,
                y,
                balance: Fr::from(leaf.balance),
                nonce: Fr::from(leaf.nonce),
            }
        };
        state.insert(account, (values, leaf.is_empty()));
        leaves.push((account, hash));
        tree.nodes.insert((0, account), hash);
    }
    let mut sibling = sibling;
    let mut asked = Vec::new();
    let pre_state_root = tree_root(
        &ZK_TRANSFER_TREE,
        depth,
        leaves,
        |level, index| {
            let hash = sibling(level, index).map_err(WitnessError::Sibling)?;
            asked.push(((level, index), hash));
            Ok(hash)
        },
        |level, index, hash| {
            tree.nodes.insert((level, index), *hash);
        },
    )?;
    tree.nodes.extend(asked);
    // The slots change nodes inside the subtree only: the siblings above it stay as they are.
    let pre_subtree_root = tree.node(subtree_depth, subtree);
    let subtree_siblings = (subtree_depth..depth)
        .map(|level| tree.node(level, (subtree >> (level - subtree_depth)) ^ 1))
        .collect();
    let path = |tree: &PartialTree, account: u64| {
        let mut path = tree.path(account);
        path.truncate(subtree_depth.into());
        path
    };

    let mut slots = Vec::with_capacity(batch);
    for (index, tx) in transactions.iter().enumerate() {
        let new_key = unchecked_key_coordinates(tx).ok_or(WitnessError::InvalidKey { index })?;
        let (mut sender, sender_empty) = *state
            .get(&tx.from)
            .ok_or(WitnessError::AccountMissing { account: tx.from })?;
        if sender_empty {
            // No valid witness exists (the slot's hash is 0, no leaf hashes to it). Put a curve
            // point in the key so that witness generation runs and the membership check fails.
            let g = schnorr::generator();
            (sender.x, sender.y) = (g.x, g.y);
        }
        let sender_siblings = path(&tree, tx.from);
        let amount = Fr::from(tx.amount);
        let sender_after = LeafValues {
            balance: sender.balance - amount,
            nonce: sender.nonce + Fr::ONE,
            ..sender
        };
        state.insert(tx.from, (sender_after, false));
        tree.set_leaf(tx.from, sender_after.hash());

        let (receiver, receiver_empty) = *state
            .get(&tx.to)
            .ok_or(WitnessError::AccountMissing { account: tx.to })?;
        let receiver_siblings = path(&tree, tx.to);
        let receiver_after = LeafValues {
            x: receiver.x + new_key.0,
            y: receiver.y + new_key.1,
            balance: receiver.balance + amount,
            nonce: receiver.nonce,
        };
        state.insert(tx.to, (receiver_after, false));
        tree.set_leaf(tx.to, receiver_after.hash());

        slots.push(SlotWitness {
            is_real: true,
            from: tx.from,
            to: tx.to,
            amount: tx.amount,
            nonce: tx.nonce,
            new_key,
            signature: tx.signature.0,
            sender,
            sender_siblings,
            receiver,
            receiver_empty,
            receiver_siblings,
        });
    }
    if slots.len() < batch {
        let first_account = subtree.checked_shl(subtree_depth.into()).unwrap_or(0);
        let padding = padding_slot(shape, first_account);
        slots.resize(batch, padding);
    }
    Ok(BatchWitness {
        pre_state_root,
        post_state_root: tree.root(),
        reserved_bits,
        subtree,
        pre_subtree_root,
        subtree_siblings,
        slots,
    })
}

/// The coordinates of a transaction's new-owner key as the circuit takes them: (0, 0) when
/// absent, else any curve point the bytes encode, *without* the subgroup check that the
/// native rule makes ([`verifier::zk_transfer::new_key_coordinates`]), so that a batch creating
/// an account with a key of small order gives the witness that shows the circuit refusing it.
/// `None` when the bytes are no curve point at all.
fn unchecked_key_coordinates(tx: &Transaction) -> Option<(Fr, Fr)> {
    if tx.new_account_key.is_zero() {
        return Some((Fr::ZERO, Fr::ZERO));
    }
    let point = schnorr::Point::deserialize_compressed_unchecked(tx.new_account_key.0.as_slice())
        .ok()
        .filter(|point| point.is_on_curve())?;
    Some((point.x, point.y))
}

/// The dummy slot of the module documentation: a transfer of 0 from `account` (the first of
/// the batch's subtree, 0 without shared levels) to itself under the padding key, correctly
/// signed, with all-zero siblings (its paths are not checked).
pub fn padding_slot(shape: Shape, account: u64) -> SlotWitness {
    let levels = usize::from(shape.subtree_depth());
    let key = SigningKey::from_seed(&PADDING_KEY_SEED);
    let point = key.public_point();
    let sender = LeafValues {
        x: point.x,
        y: point.y,
        balance: Fr::ZERO,
        nonce: Fr::ZERO,
    };
    let mut slot = SlotWitness {
        is_real: false,
        from: account,
        to: account,
        amount: 0,
        nonce: 0,
        new_key: (Fr::ZERO, Fr::ZERO),
        signature: [0; SIGNATURE_BYTES],
        sender,
        sender_siblings: vec![Fr::ZERO; levels],
        receiver: LeafValues {
            nonce: Fr::ONE,
            ..sender
        },
        receiver_empty: false,
        receiver_siblings: vec![Fr::ZERO; levels],
    };
    slot.signature = schnorr::sign(&key, slot_message(shape.chain_id, &slot));
    slot
}

/// The nodes of the tree the batch's paths go through, updated as leaves change.
struct PartialTree {
    depth: u8,
    nodes: HashMap<(u8, u64), Fr>,
}

impl PartialTree {
    fn new(depth: u8) -> Self {
        Self {
            depth,
            nodes: HashMap::new(),
        }
    }

    fn node(&self, level: u8, index: u64) -> Fr {
        self.nodes
            .get(&(level, index))
            .copied()
            .unwrap_or_else(|| ZK_TRANSFER_TREE.empty(level))
    }

    fn path(&self, account: u64) -> Vec<Fr> {
        (0..self.depth)
            .map(|level| self.node(level, (account >> level) ^ 1))
            .collect()
    }

    fn set_leaf(&mut self, account: u64, hash: Fr) {
        let mut current = hash;
        self.nodes.insert((0, account), current);
        for level in 0..self.depth {
            let index = account >> level;
            let other = self.node(level, index ^ 1);
            current = if index & 1 == 0 {
                node_hash(&current, &other)
            } else {
                node_hash(&other, &current)
            };
            self.nodes.insert((level + 1, index >> 1), current);
        }
    }

    fn root(&self) -> Fr {
        self.node(self.depth, 0)
    }
}
