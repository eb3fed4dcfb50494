//! The hash examples of docs/FORMAT.md (section F), computed independently with Python's
//! `hashlib.sha3_256` over bytes assembled by hand from the spec, checked against this crate.

use verifier::accumulator::{HistoryAccumulator, blobs_root};
use verifier::hash::{
    blob_commitment, genesis_hash, header_hash, leaf_hash, transaction_hash, transactions_root,
};
use verifier::transfer::TRANSFER_TREE;
use verifier::transfer::signing_message;
use verifier::tree::{SparseTree, tree_root};
use witness_format::ssz_types::{BitList, VariableList};
use witness_format::{
    AccountLeaf, Blob, Genesis, Hash32, Header, MerkleWitness, Model, ModelRoot, PublicKey,
    Signature, Transaction, Witness,
};

fn h(text: &str) -> Hash32 {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).unwrap();
    Hash32::from(out)
}

fn filled(byte: u8) -> Hash32 {
    Hash32::from([byte; 32])
}

fn tx0() -> Transaction {
    Transaction {
        from: 1,
        to: 2,
        amount: 5,
        nonce: 0,
        new_account_key: PublicKey::from([0x11; 32]),
        signature: Signature::from([0x22; 64]),
    }
}

fn leaf1() -> AccountLeaf {
    AccountLeaf {
        public_key: PublicKey::from([0x55; 32]),
        balance: 100,
        nonce: 0,
    }
}

#[test]
fn default_and_leaf_hashes() {
    let defaults = &TRANSFER_TREE;
    assert_eq!(
        defaults.empty(1),
        h("b86805a796ed09229c23b327537e450bec57b43e9946455fc5e859345adf1abd")
    );
    assert_eq!(
        defaults.empty(2),
        h("d8d0c3ed45ba63075f7f76b78ec2293d0cd7751857716438bdf12690fd87114f")
    );
    assert_eq!(
        defaults.empty(3),
        h("18d28c51e1e862615f595bbe84f427022d42bd8f5a4797cf9aa0a02b4a938095")
    );
    assert_eq!(
        defaults.empty(4),
        h("b07f92a758a5bef3c6a50b3439c78a9677a12676c2273f9e4372ceba60a550d4")
    );
    assert_eq!(
        leaf_hash(&leaf1()),
        h("cf8bc3745a89e3bce96c864bcaae3d31a3312cd1f9a1bc7b5070548425c07e58")
    );
}

#[test]
fn genesis_history_and_header_hashes() {
    let genesis = Genesis {
        chain_id: 7,
        tree_depth: 4,
        state_roots: VariableList::new(vec![ModelRoot {
            model: Model::Transfer,
            root: filled(0xaa),
        }])
        .unwrap(),
        zk_keys: VariableList::empty(),
        evm: None,
        zk_srs: None,
    };
    let genesis_hash = genesis_hash(&genesis);
    assert_eq!(
        genesis_hash,
        h("f373b85f66b16cfc1d8259d961e05d9c9b788508f1d1e96c921240255cb8a7fb")
    );
    let mut history = HistoryAccumulator::new();
    history.append(genesis_hash);
    assert_eq!(
        history.root(),
        h("026410526154d557abda20c8b8bd87833ec5026a4663ef68a0541278eed46300")
    );
    let mut three = HistoryAccumulator::new();
    (0..3).for_each(|b| three.append(filled(b)));
    assert_eq!(
        three.root(),
        h("920abf0023dbb332dde3da05d4e00e77d5308595a8d0355404d5c94acf1853b6")
    );

    let header = Header {
        height: 1,
        parent_hash: filled(0xa1),
        history_root: filled(0xa2),
        blobs_root: filled(0xa3),
        state_roots: VariableList::new(vec![ModelRoot {
            model: Model::Transfer,
            root: filled(0xb2),
        }])
        .unwrap(),
    };
    assert_eq!(
        header_hash(&header),
        h("aa60f018f3265fcf12a66d098b6432e7bfaa7c2bad9dd9cc256db01570a5ea12")
    );
}

#[test]
fn transaction_blob_and_block_commitments() {
    assert_eq!(
        transaction_hash(&tx0()),
        h("0873ae32440b8e584edbb302c7ddb18e158300ecf04172a58fd2a73a5ec1aa56")
    );
    assert_eq!(
        transactions_root(&[tx0()]),
        h("07d1407503f6646820c155a55869e9edc8013cac671693f46649b87580ccb886")
    );
    assert_eq!(
        transactions_root(&[]),
        h("eef7f7309ec37c5469612c63982a6935c76714689024d2a60f0c08f4009fc74c")
    );
    let mut bits = BitList::with_capacity(4).unwrap();
    bits.set(3, true).unwrap();
    let blob = Blob {
        model: Model::Transfer,
        pre_state_root: filled(0xb1),
        post_state_root: filled(0xb2),
        transactions: VariableList::new(vec![tx0()]).unwrap(),
        witness: Witness::Merkle(MerkleWitness {
            leaves: VariableList::new(vec![leaf1(), AccountLeaf::EMPTY]).unwrap(),
            sibling_present: bits,
            siblings: VariableList::new(vec![filled(0xcc)]).unwrap(),
        }),
    };
    let commitment = blob_commitment(&blob);
    assert_eq!(
        commitment,
        h("660a64f000d888d3ee92ce329a4939dfecb349711c262078adc41d2637e86b78")
    );
    assert_eq!(
        blobs_root(&[commitment]),
        h("de42707a6667bc384a874ae7170437444611baaafde71760bf22156ea28aaafe")
    );
    assert_eq!(
        blobs_root(&[]),
        h("c2ffadac3114708df4aafcc620061bd2135b6a9c5ac72659ccd3ae451bd0a50d")
    );
}

#[test]
fn witness_roots_before_and_after_tx0() {
    // Depth 4, accounts 1 and 2 proven: the walk asks for (0,0), (0,3), (2,1) and (3,1), of
    // which only (3,1) is carried (cc × 32); the others are empty subtrees.
    let defaults = &TRANSFER_TREE;
    let root = |leaves: Vec<(u64, Hash32)>| {
        tree_root::<_, ()>(
            defaults,
            4,
            leaves,
            |level, index| {
                Ok(if (level, index) == (3, 1) {
                    filled(0xcc)
                } else {
                    defaults.empty(level)
                })
            },
            |_, _, _| {},
        )
        .unwrap()
    };
    let pre = root(vec![(1, leaf_hash(&leaf1())), (2, Hash32::ZERO)]);
    assert_eq!(
        pre,
        h("da6aba22cb3ef3755c76ced6aaf03078e48438c2f2009e1f382d87e6c875a3ef")
    );
    let sender = AccountLeaf {
        balance: 95,
        nonce: 1,
        ..leaf1()
    };
    let receiver = AccountLeaf {
        public_key: PublicKey::from([0x11; 32]),
        balance: 5,
        nonce: 0,
    };
    let post = root(vec![(1, leaf_hash(&sender)), (2, leaf_hash(&receiver))]);
    assert_eq!(
        post,
        h("776d54d6a89e2190016bc74da8b68c21aed98eaa1dbe171cfa0b2d7b727bfb58")
    );
}

#[test]
fn signing_message_bytes() {
    let expected = "73746174656c6573732f74782f76310007000000000000000001000000000000000200000000000000050000000000000000000000000000001111111111111111111111111111111111111111111111111111111111111111";
    assert_eq!(
        hex::encode(signing_message(7, Model::Transfer, &tx0())),
        expected
    );
}
