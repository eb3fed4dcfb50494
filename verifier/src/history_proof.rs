//! Checking a [`HistoryProof`] against one trusted header, the tip, with no other data.
//!
//! ```text
//!   tip.history_root ── MMR path + other peaks ── anchor: leaf i (genesis, or header i)
//!                                                   │
//!                 header.blobs_root ── list path ── blob commitment ── its pre-image
//!                                                   │
//!        blob.transactions_root ── list path ── transaction hash ── the transaction
//!
//!   anchor's state root of a model ── sparse-tree path (bitmap + siblings) ── account leaf
//! ```
//!
//! The account path is read in the fact's model's tree: SHA3-256 for `transfer`, Poseidon for
//! `zk-transfer` (whose hashes travel as canonical field-element encodings, see
//! [`crate::zk_transfer`]). Both go through the one multiproof reader,
//! [`crate::tree::multiproof_root`], so the bitmap rules are the same.
//!
//! Each step recomputes a root the step above commits to and compares, so what is returned
//! ([`ProvenFact`]) is exactly as trustworthy as the tip. Every shape is checked exactly (path
//! lengths, peak counts, indices below counts, no carried default siblings), so a proof has one
//! valid form and every rejection names its reason.

use alloy_primitives::{B256, U256};
use witness_format::limits::MAX_TREE_DEPTH;
use witness_format::ssz_types::{BitList, VariableList};
use witness_format::{
    AccountFact, AccountLeaf, Anchor, BlobInclusion, EvmChannelFact, Genesis, Hash32, Header,
    HistoryFact, HistoryProof, MerkleWitness, Model, Transaction, TransactionInclusion,
};

use crate::accounts::in_range;
use crate::accumulator::{MmrProofError, root_from_proof};
use crate::error::{HistoryProofError, Reason, VerifyError};
use crate::evm::bridge::read_channel;
use crate::evm::{EvmError, WitnessDb};
use crate::hash::{
    BLOBS_NODE_TAG, BLOBS_ROOT_TAG, TRANSACTIONS_NODE_TAG, TRANSACTIONS_ROOT_TAG,
    blob_commitment_of, genesis_hash, header_hash, list_root_from_path, transaction_hash,
};
use crate::states::state_of;

/// What a valid history proof establishes about the tip's chain.
///
/// As JSON (feature `serde`): an object with a `kind` (`genesis`, `header`, `blob`,
/// `transaction`, `account`) beside the variant's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "kind", rename_all = "snake_case")
)]
pub enum ProvenFact {
    /// The chain's genesis.
    Genesis {
        /// Its hash: leaf 0 of the history accumulator.
        hash: Hash32,
        /// The genesis.
        genesis: Genesis,
    },
    /// A header of the chain: the tip or one of its ancestors.
    Header {
        /// Its hash: leaf `header.height` of the history accumulator.
        hash: Hash32,
        /// The header.
        header: Header,
    },
    /// A blob of a block of the chain, by its commitment (the witness is not committed).
    Blob {
        /// The block's height.
        height: u64,
        /// The blob's index in the block (`blob` in JSON, as in a transaction fact).
        #[cfg_attr(feature = "serde", serde(rename = "blob"))]
        index: u64,
        /// The blob's commitment.
        commitment: Hash32,
        /// The blob's model.
        model: Model,
        /// The model's state root before the blob.
        pre_state_root: Hash32,
        /// The model's state root after the blob.
        post_state_root: Hash32,
        /// The root over the blob's transactions.
        transactions_root: Hash32,
    },
    /// A transaction of a blob of a block of the chain.
    Transaction {
        /// The block's height.
        height: u64,
        /// The blob's index in the block.
        blob: u64,
        /// The transaction's index in the blob.
        index: u64,
        /// The transaction's hash.
        hash: Hash32,
        /// The transaction.
        transaction: Transaction,
    },
    /// The leaf of an account of a model after a block (height 0: at genesis).
    Account {
        /// The height whose state it is.
        height: u64,
        /// The model.
        model: Model,
        /// The account number.
        account: u64,
        /// The account's leaf (empty if the slot held no account).
        leaf: AccountLeaf,
        /// The model's state root at that height.
        state_root: Hash32,
    },
    /// What the `evm` model's bridge contract recorded as sent to an account of another model,
    /// after a block (height 0: at genesis).
    EvmChannel {
        /// The height whose state it is.
        height: u64,
        /// The model the value was sent to.
        model: Model,
        /// The account of that model.
        account: u64,
        /// The sent total.
        sent: u64,
        /// The code hash of the account at the bridge address (none: no account): a receipt
        /// counts only from the chain's bridge contract.
        bridge_code_hash: Option<Hash32>,
    },
}

/// Checks `proof` against the trusted header `tip` and returns what it proves.
///
/// Needs nothing but the two: no other header, no genesis, no state. Rejections carry the block
/// (the anchor's height), blob and transaction they concern, where the proof names them.
pub fn verify_history_proof(proof: &HistoryProof, tip: &Header) -> Result<ProvenFact, VerifyError> {
    if proof.tip_height != tip.height {
        return Err(HistoryProofError::TipHeightMismatch {
            proof: proof.tip_height,
            tip: tip.height,
        }
        .into());
    }
    match &proof.fact {
        HistoryFact::Anchor(anchor) => {
            let (_, hash) = check_anchor(proof, tip, anchor)?;
            Ok(match anchor {
                Anchor::Genesis(genesis) => ProvenFact::Genesis {
                    hash,
                    genesis: genesis.clone(),
                },
                Anchor::Header(header) => ProvenFact::Header {
                    hash,
                    header: header.clone(),
                },
            })
        }
        HistoryFact::Blob(fact) => {
            let header = &fact.header;
            check_header_anchor(proof, tip, header)?;
            let commitment = check_blob(header, &fact.blob)?;
            let blob = &fact.blob;
            Ok(ProvenFact::Blob {
                height: header.height,
                index: blob.index,
                commitment,
                model: blob.model,
                pre_state_root: blob.pre_state_root,
                post_state_root: blob.post_state_root,
                transactions_root: blob.transactions_root,
            })
        }
        HistoryFact::Transaction(fact) => {
            let header = &fact.header;
            check_header_anchor(proof, tip, header)?;
            check_blob(header, &fact.blob)?;
            let hash = check_transaction(&fact.blob, &fact.transaction)
                .map_err(|e| e.at_block(header.height).at_blob(to_usize(fact.blob.index)))?;
            Ok(ProvenFact::Transaction {
                height: header.height,
                blob: fact.blob.index,
                index: fact.transaction.index,
                hash,
                transaction: fact.transaction.transaction,
            })
        }
        HistoryFact::Account(fact) => {
            let (height, _) = check_anchor(proof, tip, &fact.anchor)?;
            let state_root = check_account(&fact.anchor, fact).map_err(|e| e.at_block(height))?;
            Ok(ProvenFact::Account {
                height,
                model: fact.model,
                account: fact.account,
                leaf: fact.leaf,
                state_root,
            })
        }
        HistoryFact::EvmChannel(fact) => {
            let (height, _) = check_anchor(proof, tip, &fact.anchor)?;
            let bridge_code_hash = check_evm_channel(fact).map_err(|e| e.at_block(height))?;
            Ok(ProvenFact::EvmChannel {
                height,
                model: fact.model,
                account: fact.account,
                sent: fact.sent,
                bridge_code_hash,
            })
        }
    }
}

/// Checks an `evm` channel fact against the `evm` state root its anchor records: its nodes
/// prove the contract account and the channel's slot, and the slot holds the fact's total.
/// Returns the code hash of the account at the bridge address.
fn check_evm_channel(fact: &EvmChannelFact) -> Result<Option<Hash32>, VerifyError> {
    let roots = match &fact.anchor {
        Anchor::Genesis(genesis) => &genesis.state_roots,
        Anchor::Header(header) => &header.state_roots,
    };
    let root = roots
        .iter()
        .find(|root| root.model == Model::Evm)
        .map(|root| B256::from(root.root.0))
        .ok_or(Reason::UnknownModel { model: Model::Evm })?;
    let mut db = WitnessDb::new(fact.nodes.iter().map(|n| n.as_ref()), [], 0, []);
    let (code_hash, sent) = read_channel(&mut db, root, fact.model, fact.account)
        .map_err(|e| Reason::Evm(Box::new(EvmError::Witness(e))))?;
    if sent != U256::from(fact.sent) {
        return Err(HistoryProofError::EvmChannelMismatch {
            recorded: sent.to_string(),
            fact: fact.sent,
        }
        .into());
    }
    Ok(code_hash.map(|hash| Hash32::from(hash.0)))
}

/// [`check_anchor`] for a header: the anchors that have blocks.
fn check_header_anchor(
    proof: &HistoryProof,
    tip: &Header,
    header: &Header,
) -> Result<(), VerifyError> {
    check_leaf(proof, tip, header.height, header_hash(header), true)
        .map_err(|e| VerifyError::from(e).at_block(header.height))
}

/// Checks that the anchor is in the tip's chain; returns its height and hash.
fn check_anchor(
    proof: &HistoryProof,
    tip: &Header,
    anchor: &Anchor,
) -> Result<(u64, Hash32), VerifyError> {
    let (height, hash, is_header) = match anchor {
        Anchor::Genesis(genesis) => (0, genesis_hash(genesis), false),
        Anchor::Header(header) => (header.height, header_hash(header), true),
    };
    check_leaf(proof, tip, height, hash, is_header)
        .map_err(|e| VerifyError::from(e).at_block(height))?;
    Ok((height, hash))
}

/// Checks that `hash` is leaf `height` of the tip's history, or the tip itself at its height.
/// Leaf 0 is the genesis's: no header has height 0.
fn check_leaf(
    proof: &HistoryProof,
    tip: &Header,
    height: u64,
    hash: Hash32,
    is_header: bool,
) -> Result<(), HistoryProofError> {
    if height > tip.height || (is_header && height == 0) {
        return Err(HistoryProofError::NotInHistory {
            height,
            tip: tip.height,
        });
    }
    if height == tip.height {
        // The tip itself: nothing to walk, so nothing may be carried.
        if !proof.peak_path.is_empty() {
            return Err(MmrProofError::PathLength {
                expected: 0,
                found: proof.peak_path.len(),
            }
            .into());
        }
        if !proof.other_peaks.is_empty() {
            return Err(MmrProofError::PeakCount {
                expected: 0,
                found: proof.other_peaks.len(),
            }
            .into());
        }
        let expected = header_hash(tip);
        if hash != expected {
            return Err(HistoryProofError::NotTheTip {
                expected,
                found: hash,
            });
        }
        return Ok(());
    }
    let computed = root_from_proof(
        tip.height,
        height,
        &hash,
        &proof.peak_path,
        &proof.other_peaks,
    )?;
    if computed != tip.history_root {
        return Err(HistoryProofError::NotAnAncestor {
            expected: tip.history_root,
            computed,
        });
    }
    Ok(())
}

/// Checks the blob's path under the header's blob root; returns its commitment.
fn check_blob(header: &Header, blob: &BlobInclusion) -> Result<Hash32, VerifyError> {
    let at = |error: HistoryProofError| {
        VerifyError::from(error)
            .at_block(header.height)
            .at_blob(to_usize(blob.index))
    };
    let commitment = blob_commitment_of(
        blob.model,
        &blob.pre_state_root,
        &blob.post_state_root,
        &blob.transactions_root,
    );
    let computed = list_root_from_path(
        BLOBS_NODE_TAG,
        BLOBS_ROOT_TAG,
        &commitment,
        blob.index,
        blob.count,
        &blob.path,
    )
    .map_err(|e| at(HistoryProofError::BlobPath(e)))?;
    if computed != header.blobs_root {
        return Err(at(HistoryProofError::BlobsRootMismatch {
            expected: header.blobs_root,
            computed,
        }));
    }
    Ok(commitment)
}

/// Checks the transaction's path under the blob's transaction root; returns its hash.
fn check_transaction(
    blob: &BlobInclusion,
    transaction: &TransactionInclusion,
) -> Result<Hash32, VerifyError> {
    let at = |error: HistoryProofError| {
        VerifyError::from(error).at_transaction(to_usize(transaction.index))
    };
    let hash = transaction_hash(&transaction.transaction);
    let computed = list_root_from_path(
        TRANSACTIONS_NODE_TAG,
        TRANSACTIONS_ROOT_TAG,
        &hash,
        transaction.index,
        transaction.count,
        &transaction.path,
    )
    .map_err(|e| at(HistoryProofError::TransactionPath(e)))?;
    if computed != blob.transactions_root {
        return Err(at(HistoryProofError::TransactionsRootMismatch {
            expected: blob.transactions_root,
            computed,
        }));
    }
    Ok(hash)
}

/// Checks the account's leaf and path under the anchor's state root for the model; returns
/// that root.
fn check_account(anchor: &Anchor, fact: &AccountFact) -> Result<Hash32, VerifyError> {
    let roots = match anchor {
        Anchor::Genesis(genesis) => &genesis.state_roots,
        Anchor::Header(header) => &header.state_roots,
    };
    let expected = roots
        .iter()
        .find(|root| root.model == fact.model)
        .map(|root| root.root)
        .ok_or(Reason::UnknownModel { model: fact.model })?;
    let computed = account_root(fact)?;
    if computed != expected {
        return Err(HistoryProofError::StateRootMismatch { expected, computed }.into());
    }
    Ok(expected)
}

/// The state root an account's leaf and compressed path lead to, in the tree of the fact's
/// model.
///
/// The path is a multiproof of one leaf, read by the one multiproof reader
/// ([`multiproof_root`]): so the same bitmap rules hold (a carried default is
/// `DefaultSiblingCarried`, a carried list that does not match the bitmap
/// `SiblingCountMismatch`). The depth is the bitmap's length. It need not be trusted: leaves and
/// inner nodes hash under different domains (tag bytes for SHA3, domain constants for
/// Poseidon), so a path of another depth than the tree's cannot reach its root.
///
/// `zk-transfer` adds two checks of its own, since its hashes are field elements: the leaf's key
/// must decode to a Jubjub point (`InvalidLeafKey`), and every carried sibling must be a
/// canonical encoding (`NonCanonicalSibling`), so that each path has exactly one encoding.
fn account_root(fact: &AccountFact) -> Result<Hash32, VerifyError> {
    let present = &fact.sibling_present;
    let bad_depth = || HistoryProofError::AccountPathDepth {
        found: present.len(),
    };
    let depth = u8::try_from(present.len())
        .ok()
        .filter(|depth| (1..=MAX_TREE_DEPTH).contains(depth))
        .ok_or_else(bad_depth)?;
    if !in_range(fact.account, depth) {
        return Err(Reason::AccountOutOfRange {
            account: fact.account,
            depth,
        }
        .into());
    }
    if fact.leaf.is_empty() && fact.leaf != AccountLeaf::EMPTY {
        // The one leaf of the path is leaf 0 of its witness.
        return Err(Reason::NonCanonicalEmptyLeaf { index: 0 }.into());
    }
    // The path as a witness of one leaf (its leaves are not read: the leaf is given below).
    // At most 64 bits and hashes, far within a witness's limits.
    let mut sibling_present = BitList::with_capacity(present.len()).map_err(|_| bad_depth())?;
    for (position, bit) in present.iter().enumerate() {
        sibling_present
            .set(position, bit)
            .map_err(|_| bad_depth())?;
    }
    let witness = MerkleWitness {
        leaves: VariableList::empty(),
        sibling_present,
        siblings: VariableList::new(fact.siblings.to_vec()).map_err(|_| bad_depth())?,
    };
    state_of(fact.model).account_root(fact, depth, &witness)
}

/// An index from the wire as a location; past `usize` it saturates (only in messages).
fn to_usize(index: u64) -> usize {
    usize::try_from(index).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    //! Account paths in the `zk-transfer` tree, built by hand from the Poseidon leaf and node
    //! hashes for a depth-3 tree, anchored at the tip itself (so no ancestry proof is needed).

    use super::*;
    use crate::error::Reason;
    use crate::tree::SparseTree;
    use crate::zk_transfer::schnorr::{SigningKey, public_key};
    use crate::zk_transfer::{
        ZK_TRANSFER_TREE, fr_to_hash, leaf_hash as zk_leaf, node_hash as zk_node, root_of_accounts,
    };
    use ark_bls12_381::Fr;
    use ark_ff::{BigInteger, PrimeField};
    use std::collections::BTreeMap;
    use witness_format::{Bytes, ModelRoot, PublicKey};

    const DEPTH: u8 = 3;
    /// A placeholder `transfer` root, for anchors that host both models.
    const TRANSFER_ROOT: Hash32 = Bytes([0x11; 32]);

    fn owner(seed: u8, balance: u64, nonce: u64) -> AccountLeaf {
        AccountLeaf {
            public_key: PublicKey::from(public_key(&SigningKey::from_seed(&[seed; 32]))),
            balance,
            nonce,
        }
    }

    /// Accounts 0, 1 and 5 of a depth-3 tree; the rest are empty.
    ///
    /// ```text
    /// level 3                     root
    /// level 2          n20                   n21
    /// level 1     n10       D1          n12        D1
    /// level 0   a0   a1   -    -      -    a5    -    -
    /// ```
    fn state() -> BTreeMap<u64, AccountLeaf> {
        [
            (0, owner(1, 100, 0)),
            (1, owner(2, 7, 3)),
            (5, owner(3, 42, 1)),
        ]
        .into_iter()
        .collect()
    }

    fn leaf_of(state: &BTreeMap<u64, AccountLeaf>, account: u64) -> Fr {
        zk_leaf(&state[&account]).unwrap()
    }

    /// The tree of [`state`] hashed by hand, node by node: (n10, n12, n20, n21, root).
    fn nodes() -> (Fr, Fr, Fr, Fr, Fr) {
        let state = state();
        let n10 = zk_node(&leaf_of(&state, 0), &leaf_of(&state, 1));
        let n12 = zk_node(&Fr::from(0u64), &leaf_of(&state, 5));
        let n20 = zk_node(&n10, &ZK_TRANSFER_TREE.empty(1));
        let n21 = zk_node(&n12, &ZK_TRANSFER_TREE.empty(1));
        (n10, n12, n20, n21, zk_node(&n20, &n21))
    }

    fn root() -> Hash32 {
        fr_to_hash(&nodes().4)
    }

    fn bits(values: &[bool]) -> BitList<witness_format::limits::MaxAccountPathSiblings> {
        let mut list = BitList::with_capacity(values.len()).unwrap();
        for (i, &bit) in values.iter().enumerate() {
            list.set(i, bit).unwrap();
        }
        list
    }

    /// A tip at height 1 with the given state roots.
    fn tip_with(state_roots: Vec<ModelRoot>) -> Header {
        Header {
            height: 1,
            parent_hash: Bytes([0xa1; 32]),
            history_root: Bytes([0xa2; 32]),
            blobs_root: Bytes([0xa3; 32]),
            state_roots: VariableList::new(state_roots).unwrap(),
        }
    }

    /// A tip hosting both models, the `zk-transfer` one with [`root`].
    fn both_models() -> Header {
        tip_with(vec![
            ModelRoot {
                model: Model::Transfer,
                root: TRANSFER_ROOT,
            },
            ModelRoot {
                model: Model::ZkTransfer,
                root: root(),
            },
        ])
    }

    /// An account fact anchored at `tip` itself.
    fn proof(
        tip: &Header,
        account: u64,
        leaf: AccountLeaf,
        path: &[bool],
        siblings: &[Fr],
    ) -> HistoryProof {
        HistoryProof {
            tip_height: tip.height,
            peak_path: VariableList::empty(),
            other_peaks: VariableList::empty(),
            fact: HistoryFact::Account(AccountFact {
                anchor: Anchor::Header(tip.clone()),
                model: Model::ZkTransfer,
                account,
                leaf,
                sibling_present: bits(path),
                siblings: VariableList::new(siblings.iter().map(fr_to_hash).collect()).unwrap(),
            }),
        }
    }

    /// The path of account 1, by hand: its sibling at level 0 is account 0 (carried), at level 1
    /// the empty pair 2–3 (`DEFAULT[1]`, not carried), at level 2 the subtree of 4–7 (carried).
    fn account_1(tip: &Header) -> HistoryProof {
        let (_, _, _, n21, _) = nodes();
        proof(
            tip,
            1,
            state()[&1],
            &[true, false, true],
            &[leaf_of(&state(), 0), n21],
        )
    }

    fn fact(proof: &mut HistoryProof) -> &mut AccountFact {
        match &mut proof.fact {
            HistoryFact::Account(fact) => fact,
            _ => unreachable!("an account proof"),
        }
    }

    fn reason(proof: &HistoryProof, tip: &Header) -> Reason {
        let error = verify_history_proof(proof, tip).unwrap_err();
        assert_eq!(error.location.block, Some(tip.height), "{error}");
        error.reason
    }

    fn history(error: HistoryProofError) -> Reason {
        Reason::HistoryProof(error)
    }

    #[test]
    fn hand_built_tree_is_the_model_tree() {
        let list: Vec<(u64, AccountLeaf)> = state().into_iter().collect();
        assert_eq!(root_of_accounts(DEPTH, &list).unwrap(), nodes().4);
    }

    #[test]
    fn zk_transfer_account_paths_verify() {
        let tip = both_models();
        assert_eq!(
            verify_history_proof(&account_1(&tip), &tip),
            Ok(ProvenFact::Account {
                height: 1,
                model: Model::ZkTransfer,
                account: 1,
                leaf: state()[&1],
                state_root: root(),
            })
        );
        // Account 5: siblings an empty slot (not carried: DEFAULT[0] = 0), the empty pair 6–7
        // (DEFAULT[1]), the subtree of 0–3 (carried).
        let (_, _, n20, _, _) = nodes();
        let five = proof(&tip, 5, state()[&5], &[false, false, true], &[n20]);
        assert!(verify_history_proof(&five, &tip).is_ok());
        // An empty slot is proven as the empty leaf: account 3, sibling the empty slot 2, then
        // n10, then n21.
        let (n10, _, _, n21, _) = nodes();
        let three = proof(
            &tip,
            3,
            AccountLeaf::EMPTY,
            &[false, true, true],
            &[n10, n21],
        );
        assert!(verify_history_proof(&three, &tip).is_ok());
        // A tip hosting only zk-transfer needs nothing else.
        let alone = tip_zk_only();
        assert!(verify_history_proof(&account_1(&alone), &alone).is_ok());
    }

    fn tip_zk_only() -> Header {
        tip_with(vec![ModelRoot {
            model: Model::ZkTransfer,
            root: root(),
        }])
    }

    #[test]
    fn tampered_zk_transfer_account_paths_are_rejected() {
        let tip = both_models();
        let mismatch = |proof: &HistoryProof| match reason(proof, &tip) {
            Reason::HistoryProof(HistoryProofError::StateRootMismatch { expected, computed }) => {
                assert_eq!(expected, root());
                assert_ne!(computed, root());
            }
            other => panic!("expected StateRootMismatch, got {other:?}"),
        };

        // The leaf: another balance, another nonce.
        let mut wrong = account_1(&tip);
        fact(&mut wrong).leaf.balance += 1;
        mismatch(&wrong);
        let mut wrong = account_1(&tip);
        fact(&mut wrong).leaf.nonce += 1;
        mismatch(&wrong);
        // Another account's leaf, or another account number, with the same path.
        let mut wrong = account_1(&tip);
        fact(&mut wrong).leaf = state()[&0];
        mismatch(&wrong);
        let mut wrong = account_1(&tip);
        fact(&mut wrong).account = 0;
        mismatch(&wrong);

        // A sibling: another canonical field element.
        for index in 0..2 {
            let mut wrong = account_1(&tip);
            let sibling = &mut fact(&mut wrong).siblings[index];
            *sibling =
                fr_to_hash(&(crate::zk_transfer::hash_to_fr(sibling).unwrap() + Fr::from(1u64)));
            mismatch(&wrong);
        }

        // A sibling that is not a canonical encoding: the modulus itself, and all ones.
        let mut modulus = [0u8; 32];
        modulus.copy_from_slice(&Fr::MODULUS.to_bytes_le());
        for bytes in [modulus, [0xff; 32]] {
            for index in 0..2 {
                let mut wrong = account_1(&tip);
                fact(&mut wrong).siblings[index] = Bytes(bytes);
                assert_eq!(
                    reason(&wrong, &tip),
                    history(HistoryProofError::NonCanonicalSibling { index })
                );
            }
        }
        // The same value written as itself plus the modulus: the only difference from the honest
        // path is the encoding, and it is refused.
        let mut wrong = account_1(&tip);
        let honest = crate::zk_transfer::hash_to_fr(&fact(&mut wrong).siblings[0]).unwrap();
        let mut plus_p = honest.into_bigint();
        assert!(!plus_p.add_with_carry(&Fr::MODULUS), "fits 256 bits");
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&plus_p.to_bytes_le());
        fact(&mut wrong).siblings[0] = Bytes(bytes);
        assert_eq!(
            reason(&wrong, &tip),
            history(HistoryProofError::NonCanonicalSibling { index: 0 })
        );

        // The bitmap. Clearing a carried bit: the walk takes DEFAULT[0] there, and one carried
        // hash is left over.
        let (_, _, _, n21, _) = nodes();
        let mut wrong = account_1(&tip);
        fact(&mut wrong).sibling_present = bits(&[false, false, true]);
        assert_eq!(
            reason(&wrong, &tip),
            Reason::SiblingCountMismatch {
                expected: 1,
                found: 2
            }
        );
        // ... and dropping that hash too: consistent, but it claims an empty slot at account 0.
        fact(&mut wrong).siblings = VariableList::new(vec![fr_to_hash(&n21)]).unwrap();
        mismatch(&wrong);
        // Setting a bit with no hash for it.
        let mut wrong = account_1(&tip);
        fact(&mut wrong).sibling_present = bits(&[true, true, true]);
        assert_eq!(
            reason(&wrong, &tip),
            Reason::SiblingCountMismatch {
                expected: 3,
                found: 2
            }
        );
        // Carrying the default it could have left out.
        let mut wrong = account_1(&tip);
        fact(&mut wrong).sibling_present = bits(&[true, true, true]);
        fact(&mut wrong).siblings = VariableList::new(
            [leaf_of(&state(), 0), ZK_TRANSFER_TREE.empty(1), n21]
                .iter()
                .map(fr_to_hash)
                .collect(),
        )
        .unwrap();
        assert_eq!(
            reason(&wrong, &tip),
            Reason::DefaultSiblingCarried { position: 1 }
        );
        // One level more or less: the walk needs another number of siblings, or reaches
        // another root.
        let mut wrong = account_1(&tip);
        fact(&mut wrong).sibling_present = bits(&[true, false]);
        assert_eq!(
            reason(&wrong, &tip),
            Reason::SiblingCountMismatch {
                expected: 1,
                found: 2
            }
        );
        let mut wrong = account_1(&tip);
        fact(&mut wrong).sibling_present = bits(&[true, false, true, false]);
        mismatch(&wrong);

        // A leaf whose key is not a Jubjub point has no hash.
        let mut wrong = account_1(&tip);
        fact(&mut wrong).leaf.public_key.0[0] ^= 1;
        assert_eq!(zk_leaf(&fact(&mut wrong).leaf), None);
        assert_eq!(reason(&wrong, &tip), Reason::InvalidLeafKey { index: 0 });
        // An empty key with a balance is not the empty leaf, whatever the model.
        let mut wrong = proof(
            &tip,
            3,
            AccountLeaf {
                balance: 1,
                ..AccountLeaf::EMPTY
            },
            &[false, true, true],
            &[nodes().0, n21],
        );
        assert_eq!(
            reason(&wrong, &tip),
            Reason::NonCanonicalEmptyLeaf { index: 0 }
        );
        fact(&mut wrong).leaf = AccountLeaf::EMPTY;
        assert!(verify_history_proof(&wrong, &tip).is_ok());
    }

    #[test]
    fn a_zk_transfer_path_under_another_model_is_rejected() {
        // Read as a `transfer` path, the Poseidon path is hashed with SHA3 and reaches another
        // root than the anchor's `transfer` root.
        let tip = both_models();
        let mut swapped = account_1(&tip);
        fact(&mut swapped).model = Model::Transfer;
        match reason(&swapped, &tip) {
            Reason::HistoryProof(HistoryProofError::StateRootMismatch { expected, .. }) => {
                assert_eq!(expected, TRANSFER_ROOT);
            }
            other => panic!("expected StateRootMismatch, got {other:?}"),
        }
        // An anchor without that model has no root to check against.
        let alone = tip_zk_only();
        let mut swapped = account_1(&alone);
        fact(&mut swapped).model = Model::Transfer;
        assert_eq!(
            reason(&swapped, &alone),
            Reason::UnknownModel {
                model: Model::Transfer
            }
        );
        // The `transfer` root given as the `zk-transfer` one: the path does not reach it.
        let crossed = tip_with(vec![ModelRoot {
            model: Model::ZkTransfer,
            root: TRANSFER_ROOT,
        }]);
        assert_eq!(
            reason(&account_1(&crossed), &crossed),
            history(HistoryProofError::StateRootMismatch {
                expected: TRANSFER_ROOT,
                computed: root(),
            })
        );
    }
}
