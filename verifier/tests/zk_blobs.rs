//! `zk-transfer` blobs through `verify_blob` and the chain verifier: the pinned proof of
//! `prover/tests/data/zk_pinned_d4_b2.txt` (chain 7, depth 4, batch 2) accepted, and every
//! zk-specific rejection with its reason.

use std::sync::Arc;

use verifier::zk_transfer::groth16::{PreparedKey, ZkVerifyError, decode_verifying_key};
use verifier::{ChainParams, ChainVerifier, Reason, verify_blob, verify_chain_with_zk_keys};
use witness_format::ssz_types::VariableList;
use witness_format::{
    Blob, Bytes, Genesis, Hash32, MerkleWitness, Model, ModelRoot, SszDecode, Transaction, Witness,
    ZK_PROOF_BYTES, ZkKeyPin, ZkWitness,
};

const PINNED: &str = include_str!("../../prover/tests/data/zk_pinned_d4_b2.txt");

struct Pinned {
    pre: Hash32,
    post: Hash32,
    transactions: Vec<Transaction>,
    vk_bytes: Vec<u8>,
    vk_hash: Hash32,
    proof: [u8; ZK_PROOF_BYTES],
}

fn text(name: &str) -> &'static str {
    PINNED
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap()
        .trim()
}

fn field(name: &str) -> Vec<u8> {
    hex::decode(text(name)).unwrap()
}

fn pinned() -> Pinned {
    let h32 = |name| Hash32::from(<[u8; 32]>::try_from(field(name)).unwrap());
    Pinned {
        pre: h32("pre_state_root"),
        post: h32("post_state_root"),
        transactions: text("transactions")
            .split(',')
            .map(|t| Transaction::from_ssz_bytes(&hex::decode(t).unwrap()).unwrap())
            .collect(),
        vk_bytes: field("verifying_key"),
        vk_hash: h32("verifying_key_sha3"),
        proof: field("proof").try_into().unwrap(),
    }
}

/// A `zk-transfer` chain of the pinned proof's depth, pinning `pins`.
fn genesis(p: &Pinned, pins: Vec<ZkKeyPin>) -> Genesis {
    Genesis {
        chain_id: 7,
        tree_depth: 4,
        state_roots: VariableList::new(vec![ModelRoot {
            model: Model::ZkTransfer,
            root: p.pre,
        }])
        .unwrap(),
        zk_keys: VariableList::new(pins).unwrap(),
        evm: None,
        zk_srs: None,
    }
}

/// [`genesis`] hosting `transfer` too: a chain of two models, whose trees' upper halves are the
/// bridge.
fn genesis_of_both(p: &Pinned) -> Genesis {
    let mut genesis = genesis(p, vec![pin(p)]);
    genesis.state_roots = VariableList::new(vec![
        ModelRoot {
            model: Model::Transfer,
            root: Hash32::ZERO,
        },
        ModelRoot {
            model: Model::ZkTransfer,
            root: p.pre,
        },
    ])
    .unwrap();
    genesis
}

fn params_of_both(p: &Pinned) -> ChainParams {
    let mut params = ChainParams::from_genesis(&genesis_of_both(p)).unwrap();
    params
        .add_zk_keys(&[decode_verifying_key(&p.vk_bytes).unwrap()])
        .unwrap();
    params
}

fn pin(p: &Pinned) -> ZkKeyPin {
    ZkKeyPin {
        batch: 2,
        vk_hash: p.vk_hash,
    }
}

fn zk_blob(p: &Pinned) -> Blob {
    Blob {
        model: Model::ZkTransfer,
        pre_state_root: p.pre,
        post_state_root: p.post,
        transactions: VariableList::new(p.transactions.clone()).unwrap(),
        witness: Witness::Zk(ZkWitness {
            proof: Bytes(p.proof),
        }),
    }
}

fn params(p: &Pinned) -> ChainParams {
    let mut params = ChainParams::from_genesis(&genesis(p, vec![pin(p)])).unwrap();
    params
        .add_zk_keys(&[decode_verifying_key(&p.vk_bytes).unwrap()])
        .unwrap();
    params
}

fn reason(params: &ChainParams, blob: &Blob) -> Reason {
    verify_blob(params, blob).unwrap_err().reason
}

#[test]
fn pinned_zk_blob_is_accepted() {
    let p = pinned();
    assert_eq!(p.transactions.len(), 2);
    verify_blob(&params(&p), &zk_blob(&p)).unwrap();
    // A blob with fewer transactions than the batch uses the same key (padding): not here,
    // but the key choice is the smallest pinned batch that fits.
    let params = params(&p);
    assert_eq!(params.zk_key_for(1).unwrap().0, 2);
    assert_eq!(params.zk_key_for(2).unwrap().0, 2);
    assert_eq!(
        params.zk_key_for(3).unwrap_err(),
        Reason::NoZkKeyForBatch { transactions: 3 }
    );
}

#[test]
fn tampered_zk_blobs_are_rejected() {
    let p = pinned();
    let params = params(&p);

    // A tampered proof byte: either no longer valid points or a proof that does not verify.
    for i in [0, 50, 100, 200, 300, 383] {
        let mut blob = zk_blob(&p);
        if let Witness::Zk(w) = &mut blob.witness {
            w.proof.0[i] ^= 0x01;
        }
        assert!(
            matches!(
                reason(&params, &blob),
                Reason::ZkProof(ZkVerifyError::UndecodableProof | ZkVerifyError::ProofRejected)
            ),
            "byte {i}"
        );
    }
    // Tampered transaction data: the commitment changes, so the public input does.
    let mut blob = zk_blob(&p);
    let mut txs = blob.transactions.to_vec();
    txs[0].amount += 1;
    blob.transactions = VariableList::new(txs).unwrap();
    assert_eq!(
        reason(&params, &blob),
        Reason::ZkProof(ZkVerifyError::ProofRejected)
    );
    // A reordered batch, and a dropped transaction.
    let mut blob = zk_blob(&p);
    let mut txs = blob.transactions.to_vec();
    txs.swap(0, 1);
    blob.transactions = VariableList::new(txs.clone()).unwrap();
    assert_eq!(
        reason(&params, &blob),
        Reason::ZkProof(ZkVerifyError::ProofRejected)
    );
    blob.transactions = VariableList::new(txs[..1].to_vec()).unwrap();
    assert_eq!(
        reason(&params, &blob),
        Reason::ZkProof(ZkVerifyError::ProofRejected)
    );
    // Another post-state root.
    let mut blob = zk_blob(&p);
    blob.post_state_root = p.pre;
    assert_eq!(
        reason(&params, &blob),
        Reason::ZkProof(ZkVerifyError::ProofRejected)
    );
    // Roots that are not field elements.
    let mut blob = zk_blob(&p);
    blob.pre_state_root = Hash32::from([0xff; 32]);
    assert_eq!(
        reason(&params, &blob),
        Reason::NonCanonicalFieldElement {
            what: "pre-state root"
        }
    );
    // A new-owner key that is not a curve point.
    let mut blob = zk_blob(&p);
    let mut txs = blob.transactions.to_vec();
    txs[1].new_account_key = Bytes([0xff; 32]);
    blob.transactions = VariableList::new(txs).unwrap();
    let error = verify_blob(&params, &blob).unwrap_err();
    assert_eq!(error.reason, Reason::InvalidNewAccountKey);
    assert_eq!(error.location.transaction, Some(1));
    // Too many transactions for every pinned key.
    let mut blob = zk_blob(&p);
    let mut txs = blob.transactions.to_vec();
    txs.push(txs[0]);
    blob.transactions = VariableList::new(txs).unwrap();
    assert_eq!(
        reason(&params, &blob),
        Reason::NoZkKeyForBatch { transactions: 3 }
    );
}

#[test]
fn zk_witness_needs_the_zk_model_and_a_loaded_pinned_key() {
    let p = pinned();
    let params_with_key = params(&p);

    // A transfer blob cannot carry a zk witness.
    let mut blob = zk_blob(&p);
    blob.model = Model::Transfer;
    assert_eq!(
        reason(&params_of_both(&p), &blob),
        Reason::WitnessNotSupported {
            model: Model::Transfer,
            witness: "zk"
        }
    );

    // Pinned, but the verifier was not given the key.
    let no_key = ChainParams::from_genesis(&genesis(&p, vec![pin(&p)])).unwrap();
    assert_eq!(
        reason(&no_key, &zk_blob(&p)),
        Reason::ZkKeyNotLoaded {
            batch: 2,
            vk_hash: p.vk_hash
        }
    );
    // Nothing pinned at all.
    let unpinned = ChainParams::from_genesis(&genesis(&p, vec![])).unwrap();
    assert_eq!(
        reason(&unpinned, &zk_blob(&p)),
        Reason::NoZkKeyForBatch { transactions: 2 }
    );

    // A key that the genesis does not pin is refused up front.
    let vk = decode_verifying_key(&p.vk_bytes).unwrap();
    let other_pin = ZkKeyPin {
        batch: 2,
        vk_hash: Hash32::from([0x42; 32]),
    };
    let error =
        ChainVerifier::with_zk_keys(&genesis(&p, vec![other_pin]), std::slice::from_ref(&vk))
            .unwrap_err();
    assert_eq!(error.reason, Reason::UnpinnedZkKey { vk_hash: p.vk_hash });
    // And under a pin with another hash, the proof has no key.
    let other = ChainParams::from_genesis(&genesis(&p, vec![other_pin])).unwrap();
    assert_eq!(
        reason(&other, &zk_blob(&p)),
        Reason::ZkKeyNotLoaded {
            batch: 2,
            vk_hash: other_pin.vk_hash
        }
    );

    // A prepared key is shared, not copied, between clones of the parameters.
    let cloned = params_with_key.clone();
    assert!(Arc::ptr_eq(
        &params_with_key.zk_keys[0].1,
        &cloned.zk_keys[0].1
    ));
    let _: &PreparedKey = cloned.zk_key_for(2).unwrap().1;
}

#[test]
fn genesis_zk_pins_are_checked() {
    let p = pinned();
    let invalid = |g: &Genesis| {
        matches!(
            ChainParams::from_genesis(g).unwrap_err().reason,
            Reason::InvalidGenesis(_)
        )
    };
    // Pins without the zk-transfer model.
    let mut g = genesis_of_both(&p);
    g.state_roots = VariableList::new(vec![g.state_roots[0]]).unwrap();
    assert_eq!(g.state_roots[0].model, Model::Transfer);
    assert!(invalid(&g));
    // Batch 0, and batches not strictly ascending.
    let zero = ZkKeyPin {
        batch: 0,
        ..pin(&p)
    };
    assert!(invalid(&genesis(&p, vec![zero])));
    assert!(invalid(&genesis(&p, vec![pin(&p), pin(&p)])));
    let four = ZkKeyPin {
        batch: 4,
        ..pin(&p)
    };
    assert!(invalid(&genesis(&p, vec![four, pin(&p)])));
    assert!(ChainParams::from_genesis(&genesis(&p, vec![pin(&p), four])).is_ok());
}

#[test]
fn zk_model_with_a_merkle_witness_dispatches_to_its_rules() {
    let p = pinned();
    let mut blob = zk_blob(&p);
    blob.witness = Witness::Merkle(MerkleWitness {
        leaves: VariableList::empty(),
        sibling_present: witness_format::ssz_types::BitList::with_capacity(0).unwrap(),
        siblings: VariableList::empty(),
    });
    assert!(matches!(
        reason(&params(&p), &blob),
        Reason::LeafCountMismatch { found: 0, .. }
    ));
}

#[test]
fn chain_of_one_zk_block_verifies_with_the_pinned_key() {
    let p = pinned();
    let g = genesis(&p, vec![pin(&p)]);
    let blob = zk_blob(&p);
    let commitments = vec![verifier::hash::blob_commitment(&blob)];
    let mut history = verifier::accumulator::HistoryAccumulator::new();
    history.append(verifier::hash::genesis_hash(&g));
    let block = witness_format::Block {
        header: witness_format::Header {
            height: 1,
            parent_hash: verifier::hash::genesis_hash(&g),
            history_root: history.root(),
            blobs_root: verifier::accumulator::blobs_root(&commitments),
            state_roots: VariableList::new(vec![ModelRoot {
                model: Model::ZkTransfer,
                root: p.post,
            }])
            .unwrap(),
        },
        blobs: VariableList::new(vec![blob]).unwrap(),
    };
    let vk = decode_verifying_key(&p.vk_bytes).unwrap();
    let summary = verify_chain_with_zk_keys(&g, &[vk], std::slice::from_ref(&block)).unwrap();
    assert_eq!(summary.transactions, 2);
    // Without the key, the same chain is rejected at its zk blob.
    let error = verifier::verify_chain(&g, &[block]).unwrap_err();
    assert_eq!(error.location.block, Some(1));
    assert_eq!(error.location.blob, Some(0));
    assert!(matches!(error.reason, Reason::ZkKeyNotLoaded { .. }));
}

/// On a chain of two models the upper half of each tree is the bridge, which a zk proof does not
/// cover: the pinned blob pays account 12 of a depth-4 tree, a bridge leaf there, so the same
/// blob is rejected before its proof is looked at.
#[test]
fn a_zk_blob_cannot_touch_the_bridge() {
    let p = pinned();
    let blob = zk_blob(&p);
    let account = blob
        .transactions
        .iter()
        .flat_map(|tx| [tx.from, tx.to])
        .find(|&a| a >= 8)
        .expect("the pinned blob touches the upper half");
    let error = verify_blob(&params_of_both(&p), &blob).unwrap_err();
    assert_eq!(error.reason, Reason::BridgeInZkBlob { account });
    assert!(error.location.transaction.is_some());
}
