//! Rejections: every test tampers with an honest chain that the prover built and checks that the
//! verifier rejects it for the specific reason, at the right block, blob and transaction.
//!
//! Accept and reject sit side by side: each test first checks that the untampered chain (or blob,
//! or file) is accepted, so a rejection can only come from the tampering.

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{
    TestChain, allocation, blob_options, build_chain, build_from, public_key, signature_by,
    small_chain, transfer,
};
use prover::workload::WorkloadSpec;
use rayon::prelude::*;
use verifier::accounts::{TouchedState, touched_accounts};
use verifier::hash::header_hash;
use verifier::transfer::TRANSFER_TREE;
use verifier::tree::{SparseTree, leaf_nodes, tree_root};
use verifier::{
    ChainParams, ChainSummary, ChainVerifier, Location, Reason, VerifyError, verify_blob,
    verify_chain,
};
use witness_format::frame::FRAME_HEADER_LEN;
use witness_format::limits::{MAX_BATCH_TRANSACTIONS, MAX_BLOBS_PER_BLOCK, MAX_FILE_BYTES};
use witness_format::ssz_types::{BitList, VariableList};
use witness_format::{
    AccountLeaf, Blob, Block, DecodeError, Hash32, MerkleWitness, Model, SszEncode, Transaction,
    TransactionBatch, Witness, decode_file, encode_file,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The block most tampering targets: not the first, so heights and parents are non-trivial.
const HEIGHT: u64 = 2;
/// The blob most tampering targets: not the first of its block.
const BLOB: usize = 1;

/// A location with a block.
fn at(block: u64, blob: Option<usize>, transaction: Option<usize>) -> Location {
    Location {
        block: Some(block),
        blob,
        transaction,
    }
}

fn witness(blob: &Blob) -> &MerkleWitness {
    let Witness::Merkle(witness) = &blob.witness else {
        panic!("expected a Merkle witness");
    };
    witness
}

fn witness_mut(blob: &mut Blob) -> &mut MerkleWitness {
    let Witness::Merkle(witness) = &mut blob.witness else {
        panic!("expected a Merkle witness");
    };
    witness
}

/// Blob `index` of the block at `height`.
fn blob_mut(blocks: &mut [Block], height: u64, index: usize) -> &mut Blob {
    &mut blocks[height as usize - 1].blobs[index]
}

/// Edits a block's blob list as a `Vec`.
fn edit_blobs(block: &mut Block, edit: impl FnOnce(&mut Vec<Blob>)) {
    let mut blobs = block.blobs.to_vec();
    edit(&mut blobs);
    block.blobs = VariableList::new(blobs).expect("blob list within its limit");
}

/// Edits a blob's transaction list as a `Vec`.
fn edit_transactions(blob: &mut Blob, edit: impl FnOnce(&mut Vec<Transaction>)) {
    let mut transactions = blob.transactions.to_vec();
    edit(&mut transactions);
    blob.transactions = VariableList::new(transactions).expect("within the limit");
}

/// Edits a witness's leaves as a `Vec`.
fn edit_leaves(blob: &mut Blob, edit: impl FnOnce(&mut Vec<AccountLeaf>)) {
    let witness = witness_mut(blob);
    let mut leaves = witness.leaves.to_vec();
    edit(&mut leaves);
    witness.leaves = VariableList::new(leaves).expect("within the limit");
}

/// Edits a witness's carried siblings as a `Vec`.
fn edit_siblings(blob: &mut Blob, edit: impl FnOnce(&mut Vec<Hash32>)) {
    let witness = witness_mut(blob);
    let mut siblings = witness.siblings.to_vec();
    edit(&mut siblings);
    witness.siblings = VariableList::new(siblings).expect("within the limit");
}

/// Edits a witness's sibling bitmap as a `Vec<bool>` (which may change its length).
fn edit_bitmap(blob: &mut Blob, edit: impl FnOnce(&mut Vec<bool>)) {
    let witness = witness_mut(blob);
    let mut bits: Vec<bool> = witness.sibling_present.iter().collect();
    edit(&mut bits);
    let mut bitmap = BitList::with_capacity(bits.len()).expect("within the limit");
    for (i, bit) in bits.into_iter().enumerate() {
        bitmap.set(i, bit).expect("within the length");
    }
    witness.sibling_present = bitmap;
}

/// Checks that the chain verifies, applies `tamper` to a copy of its blocks, and returns why the
/// copy is rejected.
fn reject_chain(chain: &TestChain, tamper: impl FnOnce(&mut Vec<Block>)) -> VerifyError {
    verify_chain(&chain.genesis, &chain.blocks).expect("the honest chain verifies");
    let mut blocks = chain.blocks.clone();
    tamper(&mut blocks);
    assert_ne!(blocks, chain.blocks, "the tampering changed nothing");
    verify_chain(&chain.genesis, &blocks).expect_err("the tampered chain must be rejected")
}

/// Tampers with blob `index` of the block at `height` and returns why the chain is rejected.
///
/// Also checks the blob alone: `verify_blob` accepts the honest blob, rejects the tampered one
/// for the same reason at the same transaction, and the chain adds exactly block and blob.
fn reject_blob(
    chain: &TestChain,
    height: u64,
    index: usize,
    tamper: impl FnOnce(&mut Blob),
) -> VerifyError {
    let params = chain.params();
    let honest = &chain.block(height).blobs[index];
    verify_blob(&params, honest).expect("the honest blob verifies");
    let mut blob = honest.clone();
    tamper(&mut blob);
    let alone = verify_blob(&params, &blob).expect_err("the tampered blob must be rejected");
    let transaction = alone.location.transaction;
    assert_eq!(
        alone.location,
        Location {
            transaction,
            ..Location::default()
        },
        "verify_blob knows only the transaction"
    );
    let in_chain = reject_chain(chain, |blocks| *blob_mut(blocks, height, index) = blob);
    assert_eq!(in_chain.reason, alone.reason);
    assert_eq!(in_chain.location, at(height, Some(index), transaction));
    in_chain
}

/// The touched state of `blob` just before its transaction `index`, replayed from its witness.
fn state_before(params: &ChainParams, blob: &Blob, index: usize) -> TouchedState {
    let accounts = touched_accounts(&blob.transactions, params.tree_depth).expect("in range");
    let mut state = TouchedState::new(accounts, witness(blob).leaves.to_vec())
        .expect("one leaf per touched account");
    for tx in &blob.transactions[..index] {
        state.apply(tx).expect("honest transactions apply");
    }
    state
}

/// The sender's (or any touched account's) leaf just before a transaction.
fn leaf(state: &TouchedState, account: u64) -> AccountLeaf {
    *state.get(account).expect("a touched account")
}

/// The first transaction of the chain, not the first of its blob (so that its index says
/// something), for which `wanted(state before it, it)` holds: `(height, blob, transaction)`.
fn find_tx(
    chain: &TestChain,
    wanted: impl Fn(&TouchedState, &Transaction) -> bool,
) -> (u64, usize, usize) {
    let params = chain.params();
    for (height, block) in (1u64..).zip(&chain.blocks) {
        for (b, blob) in block.blobs.iter().enumerate() {
            for (i, tx) in blob.transactions.iter().enumerate().skip(1) {
                if wanted(&state_before(&params, blob, i), tx) {
                    return (height, b, i);
                }
            }
        }
    }
    panic!("no transaction of the test chain has the property the test needs")
}

/// The tree level of every sibling position of `blob`'s witness, in canonical order.
fn sibling_levels(params: &ChainParams, blob: &Blob) -> Vec<u8> {
    let state = state_before(params, blob, 0);
    let mut levels = Vec::new();
    let tree = &TRANSFER_TREE;
    let leaves = leaf_nodes(tree, &state).expect("transfer leaves always hash");
    let Ok(_) = tree_root::<_, Infallible>(
        tree,
        params.tree_depth,
        leaves,
        |level, _| {
            levels.push(level);
            Ok(tree.empty(level))
        },
        |_, _, _| {},
    );
    levels
}

/// Changes one bit of a hash.
fn flip(hash: &mut Hash32) {
    hash.0[7] ^= 0x20;
}

/// One block of one blob, built by hand to hold what a random workload may lack: a receiver near
/// `u64::MAX`, an account at its last nonce, two transfers from one sender, two transfers that
/// share no account, and an account created and spent from in the same blob.
fn hand_chain() -> &'static TestChain {
    static CHAIN: OnceLock<TestChain> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let spec = &hand_spec();
        let accounts = [
            (1_000, 0),
            (NEAR_MAX, 0),
            (1_000, 0),
            (1_000, 0),
            (1_000, u64::MAX),
        ];
        let transactions = vec![
            transfer(spec, 0, 1, 1, 0, false), // 0: pays the account near u64::MAX
            transfer(spec, 2, 3, 7, 0, false), // 1: shares no account with 0
            transfer(spec, 0, 2, 5, 1, false), // 2: the same sender as 0
            transfer(spec, 3, 5, 3, 0, true),  // 3: creates account 5
            transfer(spec, 5, 0, 1, 0, false), // 4: spends from account 5
            transfer(spec, 2, 4, 1, 1, false), // 5: pays the account at its last nonce
        ];
        let options = blob_options(8);
        build_from(spec, allocation(spec, &accounts), &[transactions], options)
    })
}

/// The keys of [`hand_chain`]'s accounts (only chain id, depth and seed matter).
fn hand_spec() -> WorkloadSpec {
    WorkloadSpec {
        chain_id: 9,
        seed: 3,
        ..WorkloadSpec::default()
    }
}

/// Genesis balance of hand-chain account 1.
const NEAR_MAX: u64 = u64::MAX - 10;

#[test]
fn test_chains_have_the_shape_the_tests_rely_on() {
    let chain = small_chain();
    assert_eq!(chain.blocks.len(), 3);
    for block in &chain.blocks {
        assert!(block.blobs.len() >= 3, "several blobs per block");
        assert!(block.blobs.iter().all(|blob| blob.transactions.len() >= 4));
    }
    let summary = verify_chain(&chain.genesis, &chain.blocks).expect("the small chain verifies");
    assert_eq!(summary.height, 3);
    assert_eq!(summary.transactions, 96);

    let hand = hand_chain();
    assert_eq!(hand.blocks.len(), 1);
    assert_eq!(hand.block(1).blobs.len(), 1);
    assert_eq!(hand.block(1).blobs[0].transactions.len(), 6);
    verify_chain(&hand.genesis, &hand.blocks).expect("the hand chain verifies");
}

// ---------------------------------------------------------------------------------------------
// Witness: siblings
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_sibling_hash_gives_a_wrong_pre_state_root() {
    let chain = small_chain();
    let honest_pre = chain.block(HEIGHT).blobs[BLOB].pre_state_root;
    for k in [0, 1] {
        let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
            flip(&mut witness_mut(blob).siblings[k]);
        });
        assert!(
            matches!(err.reason, Reason::PreStateRootMismatch { computed, claimed }
                if claimed == honest_pre && computed != honest_pre),
            "{err}"
        );
    }
}

#[test]
fn missing_sibling_hash_is_rejected() {
    let chain = small_chain();
    let honest = &chain.block(HEIGHT).blobs[BLOB];
    let carried = witness(honest).siblings.len();
    let positions = witness(honest).sibling_present.len();
    assert!(carried >= 2);

    // The bitmap still promises the hash: the carried list is one short.
    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        edit_siblings(blob, |s| {
            s.remove(0);
        });
    });
    assert_eq!(
        err.reason,
        Reason::SiblingCountMismatch {
            expected: carried,
            found: carried - 1,
        }
    );

    // Its bit cleared too, the witness is consistent but claims an empty subtree where there is
    // none, so it proves another root.
    let first_carried = witness(honest)
        .sibling_present
        .iter()
        .position(|bit| bit)
        .expect("a carried sibling");
    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        edit_siblings(blob, |s| {
            s.remove(0);
        });
        edit_bitmap(blob, |bits| bits[first_carried] = false);
    });
    assert!(
        matches!(err.reason, Reason::PreStateRootMismatch { .. }),
        "{err}"
    );

    // The bitmap one position short (whatever that position held): the walk needs one more.
    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        edit_bitmap(blob, |bits| {
            bits.pop();
        });
    });
    assert_eq!(
        err.reason,
        Reason::SiblingPositionsMismatch {
            expected: positions,
            found: positions - 1,
        }
    );
}

#[test]
fn extra_sibling_hash_is_rejected() {
    let chain = small_chain();
    let honest = &chain.block(HEIGHT).blobs[BLOB];
    let carried = witness(honest).siblings.len();
    let positions = witness(honest).sibling_present.len();

    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        let extra = witness(blob).siblings[0];
        witness_mut(blob).siblings.push(extra).expect("room");
    });
    assert_eq!(
        err.reason,
        Reason::SiblingCountMismatch {
            expected: carried,
            found: carried + 1,
        }
    );

    // One position too many in the bitmap (an empty subtree the walk never asks for).
    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        edit_bitmap(blob, |bits| bits.push(false));
    });
    assert_eq!(
        err.reason,
        Reason::SiblingPositionsMismatch {
            expected: positions,
            found: positions + 1,
        }
    );
}

#[test]
fn carried_default_sibling_is_rejected() {
    let chain = small_chain();
    let params = chain.params();
    let honest = &chain.block(HEIGHT).blobs[BLOB];
    let levels = sibling_levels(&params, honest);
    let bits: Vec<bool> = witness(honest).sibling_present.iter().collect();
    assert_eq!(levels.len(), bits.len());

    // A carried sibling replaced by the empty-subtree hash of its level.
    let first_carried = bits.iter().position(|&bit| bit).expect("a carried sibling");
    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        witness_mut(blob).siblings[0] = TRANSFER_TREE.empty(levels[first_carried]);
    });
    assert_eq!(
        err.reason,
        Reason::DefaultSiblingCarried {
            position: first_carried,
        }
    );

    // An empty subtree carried explicitly instead of being marked 0. The hashes are the same, so
    // this witness proves the right roots: it is rejected only because it is not the one
    // canonical witness (the witness is outside the blob commitment, so it must have one form).
    let first_default = bits.iter().position(|&bit| !bit).expect("an empty subtree");
    let carried_before = bits[..first_default].iter().filter(|&&bit| bit).count();
    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        edit_bitmap(blob, |bits| bits[first_default] = true);
        edit_siblings(blob, |s| {
            s.insert(carried_before, TRANSFER_TREE.empty(levels[first_default]));
        });
    });
    assert_eq!(
        err.reason,
        Reason::DefaultSiblingCarried {
            position: first_default,
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Witness: leaves and roots
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_pre_state_leaf_gives_a_wrong_pre_state_root() {
    let chain = small_chain();
    let honest = &chain.block(HEIGHT).blobs[BLOB];
    let index = witness(honest)
        .leaves
        .iter()
        .position(|leaf| !leaf.is_empty())
        .expect("an existing account");
    let tampers: [fn(&mut AccountLeaf); 3] = [
        |leaf| leaf.balance += 1,
        |leaf| leaf.nonce += 1,
        |leaf| leaf.public_key.0[0] ^= 1,
    ];
    for tamper in tampers {
        let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
            edit_leaves(blob, |leaves| tamper(&mut leaves[index]));
        });
        assert!(
            matches!(err.reason, Reason::PreStateRootMismatch { claimed, .. }
                if claimed == honest.pre_state_root),
            "{err}"
        );
    }
}

#[test]
fn wrong_state_roots_of_a_blob_are_rejected() {
    let chain = small_chain();
    let honest = &chain.block(HEIGHT).blobs[BLOB];

    let mut wrong = honest.pre_state_root;
    flip(&mut wrong);
    let err = reject_blob(chain, HEIGHT, BLOB, |blob| blob.pre_state_root = wrong);
    assert_eq!(
        err.reason,
        Reason::PreStateRootMismatch {
            computed: honest.pre_state_root,
            claimed: wrong,
        }
    );

    let mut wrong = honest.post_state_root;
    flip(&mut wrong);
    let err = reject_blob(chain, HEIGHT, BLOB, |blob| blob.post_state_root = wrong);
    assert_eq!(
        err.reason,
        Reason::PostStateRootMismatch {
            computed: honest.post_state_root,
            claimed: wrong,
        }
    );
}

#[test]
fn witness_with_a_leaf_too_few_or_too_many_is_rejected() {
    let chain = small_chain();
    let leaves = witness(&chain.block(HEIGHT).blobs[BLOB]).leaves.len();

    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        edit_leaves(blob, |l| {
            l.pop();
        });
    });
    assert_eq!(
        err.reason,
        Reason::LeafCountMismatch {
            expected: leaves,
            found: leaves - 1,
        }
    );

    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        edit_leaves(blob, |l| l.push(AccountLeaf::EMPTY));
    });
    assert_eq!(
        err.reason,
        Reason::LeafCountMismatch {
            expected: leaves,
            found: leaves + 1,
        }
    );
}

#[test]
fn non_canonical_empty_leaf_is_rejected() {
    let chain = small_chain();
    // A blob that creates an account carries that account's empty pre-state leaf.
    let (height, index, leaf_index) = (1u64..)
        .zip(&chain.blocks)
        .flat_map(|(height, block)| {
            block.blobs.iter().enumerate().filter_map(move |(b, blob)| {
                let position = witness(blob)
                    .leaves
                    .iter()
                    .position(AccountLeaf::is_empty)?;
                Some((height, b, position))
            })
        })
        .next()
        .expect("a blob creating an account");

    // An empty slot hashes to zero whatever its balance and nonce, so without this rule a witness
    // could carry value in an account that does not exist.
    let tampers: [fn(&mut AccountLeaf); 2] = [|leaf| leaf.balance = 1, |leaf| leaf.nonce = 1];
    for tamper in tampers {
        let err = reject_blob(chain, height, index, |blob| {
            edit_leaves(blob, |leaves| tamper(&mut leaves[leaf_index]));
        });
        assert_eq!(
            err.reason,
            Reason::NonCanonicalEmptyLeaf { index: leaf_index }
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Transaction rules
//
// The tampered transaction is re-signed with the workload key, so only the rule under test
// fails. Rules are checked after the pre-state root and before the post-state root, so the
// rule's error wins even though the post-state root no longer matches.
// ---------------------------------------------------------------------------------------------

/// A change to one transaction.
type TxTamper<'a> = Box<dyn Fn(&mut Transaction) + 'a>;

#[test]
fn bad_signature_is_rejected_at_its_transaction() {
    let chain = small_chain();
    let spec = &chain.spec;
    let tampers: [TxTamper<'_>; 7] = [
        // A bit of R.
        Box::new(|tx| tx.signature.0[0] ^= 1),
        // A bit of s.
        Box::new(|tx| tx.signature.0[40] ^= 1),
        // A field changed after signing.
        Box::new(|tx| tx.amount += 1),
        // Signed for another chain: the chain id is part of the signing message.
        Box::new(|tx| tx.signature = signature_by(spec, spec.chain_id + 1, tx.from, tx)),
        // Signed by another account's key.
        Box::new(|tx| tx.signature = signature_by(spec, spec.chain_id, tx.from ^ 1, tx)),
        // The same signature with s + L: the same verification equation, but a second encoding
        // would make a second blob commitment for one transfer. ZIP-215 requires s < L.
        Box::new(|tx| add_group_order(&mut tx.signature.0[32..])),
        // A rule broken too (a skipped nonce, not re-signed): the signature counts first.
        Box::new(|tx| tx.nonce += 1),
    ];
    for tamper in &tampers {
        let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
            tamper(&mut blob.transactions[3])
        });
        assert_eq!(err.reason, Reason::BadSignature);
        assert_eq!(err.location, at(HEIGHT, Some(BLOB), Some(3)));
    }
}

/// Adds the Ed25519 group order L to a 32-byte little-endian scalar (a valid `s` is below L, so
/// the sum still fits).
fn add_group_order(scalar: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (byte, l) in scalar.iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "s was below L");
}

#[test]
fn replayed_or_skipped_nonce_is_rejected() {
    let chain = small_chain();
    let params = chain.params();
    let (height, index, i) = find_tx(chain, |state, tx| leaf(state, tx.from).nonce >= 1);
    let blob = &chain.block(height).blobs[index];
    let nonce = leaf(&state_before(&params, blob, i), blob.transactions[i].from).nonce;

    for found in [nonce - 1, nonce + 1] {
        let err = reject_blob(chain, height, index, |blob| {
            let tx = &mut blob.transactions[i];
            tx.nonce = found;
            chain.sign(tx);
        });
        assert_eq!(
            err.reason,
            Reason::NonceMismatch {
                expected: nonce,
                found,
            }
        );
        assert_eq!(err.location, at(height, Some(index), Some(i)));
    }

    // The very same signed transaction twice in a row: its signature is valid, its nonce is spent.
    let honest = &chain.block(HEIGHT).blobs[BLOB];
    let nonce = leaf(
        &state_before(&params, honest, 2),
        honest.transactions[2].from,
    )
    .nonce;
    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        edit_transactions(blob, |txs| txs.insert(3, txs[2]));
    });
    assert_eq!(
        err.reason,
        Reason::NonceMismatch {
            expected: nonce + 1,
            found: nonce,
        }
    );
    assert_eq!(err.location, at(HEIGHT, Some(BLOB), Some(3)));
}

#[test]
fn overdraft_is_rejected() {
    let chain = small_chain();
    let params = chain.params();
    let honest = &chain.block(HEIGHT).blobs[BLOB];
    let balance = leaf(
        &state_before(&params, honest, 2),
        honest.transactions[2].from,
    )
    .balance;
    for amount in [balance + 1, u64::MAX] {
        let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
            let tx = &mut blob.transactions[2];
            tx.amount = amount;
            chain.sign(tx);
        });
        assert_eq!(err.reason, Reason::InsufficientBalance { balance, amount });
        assert_eq!(err.location, at(HEIGHT, Some(BLOB), Some(2)));
    }
}

#[test]
fn receiver_balance_overflow_is_rejected() {
    let chain = hand_chain();
    // Transfer 0 pays 1 into account 1, which holds u64::MAX - 10; 11 more overflow it.
    let err = reject_blob(chain, 1, 0, |blob| {
        let tx = &mut blob.transactions[0];
        tx.amount = 11;
        chain.sign(tx);
    });
    assert_eq!(
        err.reason,
        Reason::BalanceOverflow {
            balance: NEAR_MAX,
            amount: 11,
        }
    );
    assert_eq!(err.location, at(1, Some(0), Some(0)));
}

#[test]
fn sender_nonce_overflow_is_rejected() {
    let chain = hand_chain();
    // Transfer 5 (2 pays 4) turned around: account 4, at nonce u64::MAX, pays 2. The touched
    // accounts stay the same, so the witness still fits.
    let err = reject_blob(chain, 1, 0, |blob| {
        let tx = &mut blob.transactions[5];
        (tx.from, tx.to, tx.nonce) = (4, 2, u64::MAX);
        chain.sign(tx);
    });
    assert_eq!(err.reason, Reason::NonceOverflow);
    assert_eq!(err.location, at(1, Some(0), Some(5)));
}

#[test]
fn spending_from_an_account_before_it_exists_is_rejected() {
    let chain = hand_chain();
    // Transfer 4 spends from account 5, which transfer 3 creates: swapped, 5 does not exist yet.
    let err = reject_blob(chain, 1, 0, |blob| blob.transactions.swap(3, 4));
    assert_eq!(err.reason, Reason::SenderMissing { account: 5 });
    assert_eq!(err.location, at(1, Some(0), Some(3)));
}

#[test]
fn new_account_without_its_key_is_rejected() {
    let chain = small_chain();
    let (height, index, i) = find_tx(chain, |_, tx| !tx.new_account_key.is_zero());
    let to = chain.block(height).blobs[index].transactions[i].to;
    let err = reject_blob(chain, height, index, |blob| {
        let tx = &mut blob.transactions[i];
        tx.new_account_key = Default::default();
        chain.sign(tx);
    });
    assert_eq!(err.reason, Reason::MissingNewAccountKey { account: to });
    assert_eq!(err.location, at(height, Some(index), Some(i)));
}

#[test]
fn new_account_key_for_an_existing_account_is_rejected() {
    let chain = small_chain();
    let (height, index, i) = find_tx(chain, |state, tx| {
        tx.to != tx.from && tx.new_account_key.is_zero() && !leaf(state, tx.to).is_empty()
    });
    let to = chain.block(height).blobs[index].transactions[i].to;
    let err = reject_blob(chain, height, index, |blob| {
        let tx = &mut blob.transactions[i];
        tx.new_account_key = public_key(chain.spec.seed, 1_000_000);
        chain.sign(tx);
    });
    assert_eq!(err.reason, Reason::UnexpectedNewAccountKey { account: to });
    assert_eq!(err.location, at(height, Some(index), Some(i)));
}

/// A `transfer` account created with a key of small order could be spent by anyone: under
/// ZIP-215's cofactored equation such a key verifies a signature nobody made (R the identity,
/// s = 0) for every message. So new-owner keys must be canonical points of prime order: each of
/// the eight small-order points, a non-canonical encoding and a mixed-order point are rejected.
#[test]
fn new_account_key_of_small_order_or_non_canonical_is_rejected() {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use verifier::transfer::ed25519::{SignatureCheck, verify_single};
    let chain = small_chain();
    let (height, index, i) = find_tx(chain, |_, tx| !tx.new_account_key.is_zero());
    let identity = curve25519_dalek::EdwardsPoint::default()
        .compress()
        .to_bytes();
    let mut forged = [0u8; 64];
    forged[..32].copy_from_slice(&identity);
    let mut bad_keys: Vec<(String, [u8; 32])> = EIGHT_TORSION
        .iter()
        .enumerate()
        .map(|(n, point)| {
            let key = point.compress().to_bytes();
            // The attack the rule stops: a signature made with no secret verifies.
            assert!(verify_single(&SignatureCheck {
                public_key: &key,
                signature: &forged,
                message: b"any message at all",
            }));
            (format!("torsion point {n}"), key)
        })
        .collect();
    // y = p (2^255 - 19), a non-canonical encoding of y = 0 (a point of order 4).
    let mut non_canonical = [0xff; 32];
    non_canonical[0] = 0xed;
    non_canonical[31] = 0x7f;
    bad_keys.push(("non-canonical y".into(), non_canonical));
    let mixed = (ED25519_BASEPOINT_POINT + EIGHT_TORSION[1])
        .compress()
        .to_bytes();
    bad_keys.push(("mixed order".into(), mixed));
    for (what, key) in bad_keys {
        let to = chain.block(height).blobs[index].transactions[i].to;
        let err = reject_blob(chain, height, index, |blob| {
            let tx = &mut blob.transactions[i];
            tx.new_account_key = witness_format::PublicKey::from(key);
            chain.sign(tx);
        });
        // One torsion point, (x, 0) of order 4 with x's sign bit clear, encodes as 32 zero
        // bytes, which is how a transaction says it carries no key at all.
        let expected = if key == [0; 32] {
            Reason::MissingNewAccountKey { account: to }
        } else {
            Reason::InvalidNewAccountKey
        };
        assert_eq!(err.reason, expected, "{what}");
        assert_eq!(err.location, at(height, Some(index), Some(i)), "{what}");
    }
}

#[test]
fn account_out_of_range_is_rejected() {
    let chain = small_chain();
    let depth = chain.spec.tree_depth;
    let first_outside = 1u64 << depth;
    type SetAccount = fn(&mut Transaction, u64);
    let tampers: [(SetAccount, u64); 3] = [
        (|tx, a| tx.to = a, first_outside),
        (|tx, a| tx.from = a, first_outside),
        (|tx, a| tx.to = a, u64::MAX),
    ];
    for (tamper, account) in tampers {
        let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
            let tx = &mut blob.transactions[3];
            tamper(tx, account);
            chain.sign(tx);
        });
        assert_eq!(err.reason, Reason::AccountOutOfRange { account, depth });
        assert_eq!(err.location, at(HEIGHT, Some(BLOB), Some(3)));
    }

    // The last account of the tree is in range: the transfer is then rejected by the witness,
    // which has no leaf for that account (the leaf it carries for the receiver it replaced no
    // longer fits the proof, or there is one leaf too few).
    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        let tx = &mut blob.transactions[3];
        tx.to = first_outside - 1;
        chain.sign(tx);
    });
    assert!(
        matches!(
            err.reason,
            Reason::LeafCountMismatch { .. }
                | Reason::SiblingPositionsMismatch { .. }
                | Reason::PreStateRootMismatch { .. }
        ),
        "{err}"
    );
    assert_eq!(err.location, at(HEIGHT, Some(BLOB), None));
}

#[test]
fn transfers_of_one_sender_swapped_are_rejected() {
    let chain = hand_chain();
    // Transfers 0 and 2 both come from account 0, with nonces 0 and 1.
    let err = reject_blob(chain, 1, 0, |blob| blob.transactions.swap(0, 2));
    assert_eq!(
        err.reason,
        Reason::NonceMismatch {
            expected: 0,
            found: 1,
        }
    );
    assert_eq!(err.location, at(1, Some(0), Some(0)));
}

#[test]
fn independent_transfers_swapped_are_rejected_by_the_blob_root() {
    let chain = hand_chain();
    let params = chain.params();
    // Transfers 0 (0 pays 1) and 1 (2 pays 3) share no account: swapped, they reach the same
    // post-state, so the blob on its own still verifies. But the order is part of what the
    // block committed to.
    let mut swapped = chain.block(1).blobs[0].clone();
    swapped.transactions.swap(0, 1);
    verify_blob(&params, &swapped).expect("the same post-state, whatever the order");
    let err = reject_chain(chain, |blocks| blocks[0].blobs[0] = swapped);
    assert!(
        matches!(err.reason, Reason::BlobsRootMismatch { found, .. }
            if found == chain.block(1).header.blobs_root),
        "{err}"
    );
    assert_eq!(err.location, at(1, None, None));
}

// ---------------------------------------------------------------------------------------------
// Blocks and chain linkage
// ---------------------------------------------------------------------------------------------

#[test]
fn blob_moved_to_another_block_is_rejected() {
    let chain = small_chain();
    let genesis_root = chain.genesis.state_roots[0].root;

    // Block 2's first blob starts from block 1's last post-state root. Appended to block 1 it
    // links on (every blob valid, each following the previous), so only the header's blob root
    // gives it away.
    let err = reject_chain(chain, |blocks| {
        let moved = blocks[1].blobs[0].clone();
        edit_blobs(&mut blocks[0], |blobs| blobs.push(moved));
        edit_blobs(&mut blocks[1], |blobs| {
            blobs.remove(0);
        });
    });
    assert!(
        matches!(err.reason, Reason::BlobsRootMismatch { .. }),
        "{err}"
    );
    assert_eq!(err.location, at(1, None, None));

    // Block 1's last blob moved to the front of block 2: block 1 still links (its remaining blobs
    // follow each other) and is caught by its blob root too.
    let err = reject_chain(chain, |blocks| {
        let moved = blocks[0].blobs.last().expect("a blob").clone();
        edit_blobs(&mut blocks[0], |blobs| {
            blobs.pop();
        });
        edit_blobs(&mut blocks[1], |blobs| blobs.insert(0, moved));
    });
    assert!(
        matches!(err.reason, Reason::BlobsRootMismatch { .. }),
        "{err}"
    );
    assert_eq!(err.location, at(1, None, None));

    // Put at the front of block 1, it starts from a root the chain has not reached yet: the
    // linkage pass, which runs blob by blob before the blob root, catches it first.
    let moved = chain.block(2).blobs[0].clone();
    let err = reject_chain(chain, |blocks| {
        edit_blobs(&mut blocks[0], |blobs| blobs.insert(0, moved.clone()));
    });
    assert_eq!(
        err.reason,
        Reason::BlobDoesNotFollow {
            model: Model::Transfer,
            expected: genesis_root,
            found: moved.pre_state_root,
        }
    );
    assert_eq!(err.location, at(1, Some(0), None));

    // A blob repeated in its own block: the copy starts from a root already left behind.
    let err = reject_chain(chain, |blocks| {
        edit_blobs(&mut blocks[1], |blobs| {
            blobs.insert(BLOB + 1, blobs[BLOB].clone())
        });
    });
    assert!(
        matches!(err.reason, Reason::BlobDoesNotFollow { .. }),
        "{err}"
    );
    assert_eq!(err.location, at(HEIGHT, Some(BLOB + 1), None));
}

#[test]
fn broken_parent_hash_is_rejected() {
    let chain = small_chain();
    let parent = header_hash(&chain.block(HEIGHT - 1).header);
    let mut wrong = parent;
    flip(&mut wrong);
    let err = reject_chain(chain, |blocks| {
        blocks[HEIGHT as usize - 1].header.parent_hash = wrong;
    });
    assert_eq!(
        err.reason,
        Reason::ParentHashMismatch {
            expected: parent,
            found: wrong,
        }
    );
    assert_eq!(err.location, at(HEIGHT, None, None));

    // A fork spliced in: the same transfers cut into bigger blobs give other valid blocks with
    // the same state roots. Block 3 of that fork starts from exactly the state block 2 of this
    // chain leaves, so its blobs link on; only its parent hash (checked first) and history root
    // name the other block 2.
    let fork = build_chain(&chain.spec, blob_options(16));
    assert_eq!(fork.genesis, chain.genesis);
    assert_eq!(
        fork.block(2).header.state_roots,
        chain.block(2).header.state_roots
    );
    let err = reject_chain(chain, |blocks| blocks[2] = fork.block(3).clone());
    assert_eq!(
        err.reason,
        Reason::ParentHashMismatch {
            expected: header_hash(&chain.block(2).header),
            found: header_hash(&fork.block(2).header),
        }
    );
    assert_eq!(err.location, at(3, None, None));
}

#[test]
fn wrong_height_is_rejected() {
    let chain = small_chain();
    let err = reject_chain(chain, |blocks| {
        blocks[HEIGHT as usize - 1].header.height = 3
    });
    assert_eq!(
        err.reason,
        Reason::HeightMismatch {
            expected: HEIGHT,
            found: 3,
        }
    );
    assert_eq!((err.location.blob, err.location.transaction), (None, None));

    // Blocks out of order, and a block repeated.
    let err = reject_chain(chain, |blocks| blocks.swap(1, 2));
    assert_eq!(
        err.reason,
        Reason::HeightMismatch {
            expected: 2,
            found: 3,
        }
    );
    let err = reject_chain(chain, |blocks| blocks.push(blocks[2].clone()));
    assert_eq!(
        err.reason,
        Reason::HeightMismatch {
            expected: 4,
            found: 3,
        }
    );
}

#[test]
fn height_mismatch_names_the_block_by_its_position() {
    let chain = small_chain();
    // The second block claims height 258 (one flipped bit). The error names "block 258", which a
    // user cannot find in a chain of three blocks; the position (2) is where the fault is.
    let err = reject_chain(chain, |blocks| blocks[1].header.height ^= 0x100);
    assert_eq!(
        err.reason,
        Reason::HeightMismatch {
            expected: 2,
            found: 258,
        }
    );
    assert_eq!(err.location, at(2, None, None));
}

#[test]
fn wrong_history_root_is_rejected() {
    let chain = small_chain();
    let honest = chain.block(HEIGHT).header.history_root;
    let mut wrong = honest;
    flip(&mut wrong);
    let err = reject_chain(chain, |blocks| {
        blocks[HEIGHT as usize - 1].header.history_root = wrong;
    });
    assert_eq!(
        err.reason,
        Reason::HistoryRootMismatch {
            expected: honest,
            found: wrong,
        }
    );
    assert_eq!(err.location, at(HEIGHT, None, None));
}

#[test]
fn wrong_header_state_root_is_rejected() {
    let chain = small_chain();
    let err = reject_chain(chain, |blocks| {
        flip(&mut blocks[HEIGHT as usize - 1].header.state_roots[0].root);
    });
    assert_eq!(err.reason, Reason::HeaderStateRootsMismatch);
    assert_eq!(err.location, at(HEIGHT, None, None));

    // The header's state roots are each model's root after the block, never before it.
    let err = reject_chain(chain, |blocks| {
        let before = chain.block(HEIGHT - 1).header.state_roots.clone();
        blocks[HEIGHT as usize - 1].header.state_roots = before;
    });
    assert_eq!(err.reason, Reason::HeaderStateRootsMismatch);
    assert_eq!(err.location, at(HEIGHT, None, None));
}

#[test]
fn blob_without_transactions_is_rejected() {
    let chain = small_chain();
    let err = reject_blob(chain, HEIGHT, BLOB, |blob| {
        blob.transactions = VariableList::empty();
    });
    assert_eq!(err.reason, Reason::EmptyBlob);
    assert_eq!(err.location, at(HEIGHT, Some(BLOB), None));
}

#[test]
fn chain_under_another_trust_anchor_is_rejected() {
    let chain = small_chain();
    verify_chain(&chain.genesis, &chain.blocks).expect("the honest chain verifies");

    // Another chain id: the first block's parent is this genesis's hash, not that one's.
    let mut other = chain.genesis.clone();
    other.chain_id += 1;
    let err = verify_chain(&other, &chain.blocks).expect_err("another genesis");
    assert!(
        matches!(err.reason, Reason::ParentHashMismatch { found, .. }
            if found == chain.block(1).header.parent_hash),
        "{err}"
    );
    assert_eq!(err.location, at(1, None, None));

    // An unusable genesis is rejected before any block.
    let mut other = chain.genesis.clone();
    other.tree_depth = 0;
    let err = verify_chain(&other, &chain.blocks).expect_err("depth 0");
    assert!(matches!(err.reason, Reason::InvalidGenesis(_)), "{err}");
    assert_eq!(err.location, Location::default());
}

// ---------------------------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------------------------

/// A file with its payload replaced and the frame's length updated to match.
fn reframe(file: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = file[..FRAME_HEADER_LEN].to_vec();
    out[6..10].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn truncated_file_is_rejected() {
    let chain = small_chain();
    let file = chain.block_file(HEIGHT);
    assert_eq!(
        decode_file::<Block>(&file).as_ref(),
        Ok(chain.block(HEIGHT))
    );
    let n = file.len() - FRAME_HEADER_LEN;

    for cut in [1, 100, n] {
        assert_eq!(
            decode_file::<Block>(&file[..file.len() - cut]),
            Err(DecodeError::LengthMismatch {
                claimed: n,
                actual: n - cut,
            })
        );
    }
    for len in [0, 4, FRAME_HEADER_LEN - 1] {
        assert_eq!(
            decode_file::<Block>(&file[..len]),
            Err(DecodeError::Truncated { len })
        );
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let chain = small_chain();
    let file = chain.block_file(HEIGHT);
    let payload = &file[FRAME_HEADER_LEN..];
    let n = payload.len();
    assert_eq!(reframe(&file, payload), file);

    // After the frame's payload.
    let mut longer = file.clone();
    longer.push(0);
    assert_eq!(
        decode_file::<Block>(&longer),
        Err(DecodeError::LengthMismatch {
            claimed: n,
            actual: n + 1,
        })
    );

    // Inside the payload, with the frame's length updated. The last field of an SSZ container
    // absorbs extra bytes: here, the carried siblings of the block's last blob, a list of 32-byte
    // hashes, so one extra byte leaves a partial hash.
    let mut payload_plus_one = payload.to_vec();
    payload_plus_one.push(0);
    assert!(matches!(
        decode_file::<Block>(&reframe(&file, &payload_plus_one)),
        Err(DecodeError::Payload(_))
    ));

    // 32 extra bytes are one more sibling hash: that is the canonical encoding of another block,
    // one whose last blob carries a sibling its bitmap does not promise. The verifier rejects it.
    let mut payload_plus_hash = payload.to_vec();
    payload_plus_hash.extend_from_slice(&[0xab; 32]);
    let block = decode_file::<Block>(&reframe(&file, &payload_plus_hash))
        .expect("a different, canonically encoded block");
    let last = block.blobs.len() - 1;
    let carried = witness(&chain.block(HEIGHT).blobs[last]).siblings.len();
    assert_eq!(witness(&block.blobs[last]).siblings.len(), carried + 1);
    let err = reject_chain(chain, |blocks| blocks[HEIGHT as usize - 1] = block);
    assert_eq!(
        err.reason,
        Reason::SiblingCountMismatch {
            expected: carried,
            found: carried + 1,
        }
    );
    assert_eq!(err.location, at(HEIGHT, Some(last), None));
}

#[test]
fn oversized_counts_are_rejected_before_allocation() {
    // A batch one transaction over its limit: model tag, offset of the list, then the items.
    let batch = TransactionBatch {
        model: Model::Transfer,
        transactions: VariableList::new(vec![small_chain().block(1).blobs[0].transactions[0]; 2])
            .expect("within the limit"),
    };
    let honest = encode_file(&batch);
    assert_eq!(decode_file::<TransactionBatch>(&honest), Ok(batch));
    let mut payload = honest[FRAME_HEADER_LEN..FRAME_HEADER_LEN + 5].to_vec();
    payload.resize(5 + 128 * (MAX_BATCH_TRANSACTIONS + 1), 0);
    assert!(payload.len() < MAX_FILE_BYTES);
    let file = reframe(&honest, &payload);
    let start = Instant::now();
    let result = decode_file::<TransactionBatch>(&file);
    let elapsed = start.elapsed();
    // The batch file's own size limit is exactly its largest list, so the frame shows it.
    assert!(
        matches!(&result, Err(DecodeError::TooLarge { .. })),
        "{result:?}"
    );
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");

    // A block whose blob list claims one blob over its limit. A list of variable-size items
    // starts with one 4-byte offset per item, so the first offset gives the count.
    let chain = small_chain();
    let block = chain.block(HEIGHT);
    let file = chain.block_file(HEIGHT);
    let header = block.header.as_ssz_bytes();
    let block_payload = |blobs: &[u8]| {
        // Block = { header (variable), blobs (variable) }: two offsets, then the two parts.
        let mut out = Vec::new();
        out.extend_from_slice(&8u32.to_le_bytes());
        out.extend_from_slice(&(8 + header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(blobs);
        out
    };
    assert_eq!(
        block_payload(&block.blobs.as_ssz_bytes()),
        &file[FRAME_HEADER_LEN..],
        "the layout this test forges"
    );
    let count = MAX_BLOBS_PER_BLOCK + 1;
    let mut blobs = ((4 * count) as u32).to_le_bytes().to_vec();
    blobs.resize(4 * count, 0);
    let start = Instant::now();
    let result = decode_file::<Block>(&reframe(&file, &block_payload(&blobs)));
    let elapsed = start.elapsed();
    assert!(
        matches!(&result, Err(DecodeError::Payload(message)) if message.contains("exceeds maximum")),
        "{result:?}"
    );
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");

    // A frame claiming more than any file may hold is rejected from its header alone.
    let mut huge = file.clone();
    huge[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        decode_file::<Block>(&huge),
        Err(DecodeError::TooLarge {
            len: u32::MAX as usize,
            limit: 128 << 20,
        })
    );
}

/// The name of the enum variant at the start of a `Debug` rendering.
fn variant(debug: &str) -> String {
    debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

#[test]
fn no_single_bit_or_byte_flip_of_a_block_file_verifies() {
    // One block of four transfers in two blobs: a file of a few kilobytes.
    let spec = WorkloadSpec {
        chain_id: 11,
        accounts: 16,
        blocks: 1,
        txs_per_block: 4,
        seed: 5,
        new_account_percent: 25,
        ..WorkloadSpec::default()
    };
    let options = blob_options(2);
    let chain = build_chain(&spec, options);
    let file = chain.block_file(1);
    assert_eq!(chain.block(1).blobs.len(), 2);
    assert!(file.len() < 8 << 10, "{} bytes", file.len());
    let honest: Block = decode_file(&file).expect("the honest file decodes");
    verify_chain(&chain.genesis, &[honest]).expect("the honest file verifies");

    let outcomes: Vec<Result<String, (usize, u8)>> = (0..file.len())
        .into_par_iter()
        .flat_map_iter(|position| {
            // Every single bit, and the whole byte.
            [1u8, 2, 4, 8, 16, 32, 64, 128, 0xff].map(|mask| (position, mask))
        })
        .map(|(position, mask)| {
            let mut bytes = file.clone();
            bytes[position] ^= mask;
            match decode_file::<Block>(&bytes) {
                Err(error) => Ok(format!("decode {}", variant(&format!("{error:?}")))),
                Ok(block) => match verify_chain(&chain.genesis, &[block]) {
                    Err(error) => Ok(format!(
                        "verify {}",
                        variant(&format!("{:?}", error.reason))
                    )),
                    Ok(_) => Err((position, mask)),
                },
            }
        })
        .collect();

    let accepted: Vec<(usize, u8)> = outcomes.iter().filter_map(|o| o.clone().err()).collect();
    assert!(
        accepted.is_empty(),
        "mutated files that verify (position, xor mask): {accepted:?}"
    );
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for outcome in outcomes.into_iter().flatten() {
        *tally.entry(outcome).or_default() += 1;
    }
    eprintln!(
        "{} bytes, {} mutations: {tally:#?}",
        file.len(),
        9 * file.len()
    );
    // The flips reach every kind of check, not just the decoder.
    for expected in [
        "decode BadMagic",
        "decode UnsupportedVersion",
        "decode LengthMismatch",
        "decode Payload",
        "verify HeightMismatch",
        "verify ParentHashMismatch",
        "verify HistoryRootMismatch",
        "verify BlobsRootMismatch",
        "verify HeaderStateRootsMismatch",
        "verify PreStateRootMismatch",
        "verify PostStateRootMismatch",
        "verify BadSignature",
    ] {
        assert!(tally.contains_key(expected), "no mutation gave {expected}");
    }
}

// ---------------------------------------------------------------------------------------------
// Thread count
// ---------------------------------------------------------------------------------------------

/// Runs `f` on a pool of `threads` threads.
fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(f)
}

/// Feeds the blocks one at a time to a [`ChainVerifier`].
fn verify_one_by_one(chain: &TestChain, blocks: &[Block]) -> Result<ChainSummary, VerifyError> {
    let mut verifier = ChainVerifier::new(&chain.genesis)?;
    for block in blocks {
        verifier.verify_blocks(std::slice::from_ref(block))?;
    }
    Ok(verifier.summary().clone())
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let small = small_chain();
    // One blob of 300 transfers: three signature batches.
    let big = build_chain(
        &WorkloadSpec {
            chain_id: 13,
            accounts: 64,
            blocks: 1,
            txs_per_block: 300,
            seed: 8,
            new_account_percent: 20,
            ..WorkloadSpec::default()
        },
        blob_options(300),
    );
    assert_eq!(big.block(1).blobs.len(), 1);

    let bad_signature = |blocks: &mut Vec<Block>, height: u64, blob: usize, tx: usize| {
        blob_mut(blocks, height, blob).transactions[tx].signature.0[0] ^= 1;
    };
    let bad_nonce = |chain: &TestChain, blocks: &mut Vec<Block>, tx: usize| {
        let tx = &mut blob_mut(blocks, 1, 0).transactions[tx];
        tx.nonce += 1;
        chain.sign(tx);
    };

    type Tamper<'a> = Box<dyn Fn(&mut Vec<Block>) + 'a>;
    /// Where the first fault is, and the name of its reason; `None` for an honest chain.
    type Expected = Option<(Location, &'static str)>;
    let cases: Vec<(&str, &TestChain, Tamper<'_>, Expected)> = vec![
        ("honest small chain", small, Box::new(|_| {}), None),
        ("honest big blob", &big, Box::new(|_| {}), None),
        (
            // Faults in two blocks and three blobs: the first in chain order is reported.
            "several faults",
            small,
            Box::new(|blocks| {
                bad_signature(blocks, 2, 2, 5);
                flip(&mut blob_mut(blocks, 2, 1).post_state_root);
                edit_leaves(blob_mut(blocks, 3, 0), |l| {
                    l.pop();
                });
            }),
            Some((at(2, Some(1), None), "PostStateRootMismatch")),
        ),
        (
            // A header fault comes before the blob faults of its block.
            "header and blob faults",
            small,
            Box::new(|blocks| {
                bad_signature(blocks, 2, 0, 1);
                flip(&mut blocks[1].header.history_root);
            }),
            Some((at(2, None, None), "HistoryRootMismatch")),
        ),
        (
            // Bad signatures in the third and second batch: the lower index wins.
            "two bad signatures",
            &big,
            Box::new(|blocks| {
                bad_signature(blocks, 1, 0, 250);
                bad_signature(blocks, 1, 0, 140);
            }),
            Some((at(1, Some(0), Some(140)), "BadSignature")),
        ),
        (
            // Transfers after a rule failure are not executed, so their signatures do not count.
            "rule failure before a bad signature",
            &big,
            Box::new(|blocks| {
                bad_signature(blocks, 1, 0, 250);
                bad_nonce(&big, blocks, 200);
            }),
            Some((at(1, Some(0), Some(200)), "NonceMismatch")),
        ),
        (
            "bad signature before a rule failure",
            &big,
            Box::new(|blocks| {
                bad_signature(blocks, 1, 0, 140);
                bad_nonce(&big, blocks, 200);
            }),
            Some((at(1, Some(0), Some(140)), "BadSignature")),
        ),
    ];

    for (name, chain, tamper, expected) in &cases {
        let mut blocks = chain.blocks.clone();
        tamper(&mut blocks);
        let one = with_threads(1, || verify_chain(&chain.genesis, &blocks));
        let four = with_threads(4, || verify_chain(&chain.genesis, &blocks));
        assert_eq!(one, four, "{name}: 1 thread and 4 threads disagree");
        // Blocks fed one at a time give the same answer as all at once.
        let windowed = with_threads(4, || verify_one_by_one(chain, &blocks));
        assert_eq!(one, windowed, "{name}: one block at a time disagrees");
        match (expected, &one) {
            (None, Ok(summary)) => assert_eq!(summary.blocks, chain.blocks.len() as u64),
            (Some((location, reason)), Err(error)) => {
                assert_eq!(error.location, *location, "{name}: {error}");
                assert_eq!(variant(&format!("{:?}", error.reason)), *reason, "{name}");
            }
            (_, result) => panic!("{name}: unexpected {result:?}"),
        }
    }
}
