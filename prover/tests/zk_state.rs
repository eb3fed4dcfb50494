//! The prover on a `zk-transfer` chain: Merkle witnesses, and zk proofs with a pinned key.
//! Tiny shapes (depth 4, batch 2) so setup and proving take seconds.

use prover::workload::{WorkloadSpec, generate_for, zk_signing_key};
use prover::zk::groth16::{rng_from_seed, setup};
use prover::zk::keys::{Keys, Shape};
use prover::zk::proofs::ZkProving;
use prover::{BlockOptions, ProverError, ProverState};
use verifier::accounts::touched_accounts;
use verifier::zk_transfer::groth16::verifying_key_hash;
use verifier::zk_transfer::sign_transaction;
use verifier::{Reason, verify_chain, verify_chain_with_zk_keys};
use witness_format::{Hash32, Model, PublicKey, Signature, Transaction, Witness, ZkKeyPin};

const CHAIN: u64 = 7;
const DEPTH: u8 = 4;
const BATCH: usize = 2;

fn spec() -> WorkloadSpec {
    WorkloadSpec {
        chain_id: CHAIN,
        tree_depth: DEPTH,
        accounts: 6,
        blocks: 2,
        txs_per_block: 3,
        seed: 5,
        new_account_percent: 30,
    }
}

#[test]
fn zk_transfer_chain_with_merkle_witnesses_verifies() {
    let workload = generate_for(&spec(), Model::ZkTransfer);
    assert_eq!(workload.allocation.model, Model::ZkTransfer);
    let dir = tempfile::tempdir().unwrap();
    let mut state = ProverState::open(&dir.path().join("db"), &workload.allocation).unwrap();
    let mut blocks = Vec::new();
    for batch in &workload.batches {
        let (block, report) = state
            .build_block(&batch.transactions, BlockOptions::default())
            .unwrap();
        assert!(report.dropped.is_empty(), "{:?}", report.dropped);
        assert!(
            block
                .blobs
                .iter()
                .all(|b| b.model == Model::ZkTransfer && matches!(b.witness, Witness::Merkle(_)))
        );
        blocks.push(block);
    }
    let summary = verify_chain(state.genesis(), &blocks).unwrap();
    assert_eq!(summary.transactions, 6);
    state.check_integrity().unwrap();

    // A forged signature is left out, the rest goes in.
    let mut txs = workload.batches[0].transactions.to_vec();
    let dir = tempfile::tempdir().unwrap();
    let mut state = ProverState::open(&dir.path().join("db"), &workload.allocation).unwrap();
    txs[1].signature.0[40] ^= 1;
    let (_, report) = state.build_block(&txs, BlockOptions::default()).unwrap();
    assert!(report.dropped.contains(&(1, Reason::BadSignature)));
}

#[test]
fn zk_transfer_chain_with_zk_proofs_verifies_under_the_pinned_key() {
    let workload = generate_for(&spec(), Model::ZkTransfer);
    let (pk, vk) = setup(
        Shape::new(DEPTH, BATCH as u16, CHAIN),
        &mut rng_from_seed([1; 32]),
    )
    .unwrap();
    let pin = ZkKeyPin {
        batch: BATCH as u16,
        vk_hash: verifying_key_hash(&vk),
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut state =
        ProverState::open_chain(&db, std::slice::from_ref(&workload.allocation), &[pin]).unwrap();
    assert_eq!(state.genesis().zk_keys.to_vec(), vec![pin]);
    state.set_zk_proving_key(pk.clone(), BATCH).unwrap();
    let mut blocks = Vec::new();
    for batch in &workload.batches {
        let (block, report) = state
            .build_block(&batch.transactions, BlockOptions::default())
            .unwrap();
        assert!(report.dropped.is_empty());
        // Three transactions, batch 2: two blobs, each with a proof.
        assert_eq!(block.blobs.len(), 2);
        assert!(
            block
                .blobs
                .iter()
                .all(|b| matches!(b.witness, Witness::Zk(_)))
        );
        blocks.push(block);
    }
    let genesis = state.genesis().clone();
    verify_chain_with_zk_keys(&genesis, std::slice::from_ref(&vk), &blocks).unwrap();
    // Without the key, the zk blobs cannot be checked.
    let error = verify_chain(&genesis, &blocks).unwrap_err();
    assert!(matches!(error.reason, Reason::ZkKeyNotLoaded { .. }));
    drop(state);

    // Reopening with another pin is another chain.
    let other = ZkKeyPin {
        vk_hash: Hash32::from([9; 32]),
        ..pin
    };
    assert!(matches!(
        ProverState::open_chain(&db, std::slice::from_ref(&workload.allocation), &[other]),
        Err(ProverError::WrongChain { .. })
    ));
    // A key the genesis does not pin is refused.
    let mut state =
        ProverState::open_chain(&db, std::slice::from_ref(&workload.allocation), &[pin]).unwrap();
    let (other_pk, _) = setup(
        Shape::new(DEPTH, BATCH as u16, CHAIN),
        &mut rng_from_seed([2; 32]),
    )
    .unwrap();
    assert!(matches!(
        state.set_zk_proving_key(other_pk, BATCH),
        Err(ProverError::ZkKey(_))
    ));
}

/// Under a key with shared levels, a blob whose accounts lie in one subtree gets a proof and
/// any other keeps its Merkle witness; the chain verifies either way.
#[test]
fn zk_blobs_across_subtrees_keep_their_merkle_witness() {
    let spec = spec();
    let workload = generate_for(&spec, Model::ZkTransfer);
    // Subtrees of 4 accounts: the workload's accounts 0-5 lie in two.
    let shape = Shape {
        shared_levels: 2,
        ..Shape::new(DEPTH, BATCH as u16, CHAIN)
    };
    let (pk, vk) = setup(shape, &mut rng_from_seed([3; 32])).unwrap();
    let pin = ZkKeyPin {
        batch: BATCH as u16,
        vk_hash: verifying_key_hash(&vk),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut state = ProverState::open_chain(
        &dir.path().join("db"),
        std::slice::from_ref(&workload.allocation),
        &[pin],
    )
    .unwrap();
    let keys = Keys {
        shape,
        pk,
        vk: vk.clone(),
    };
    // A shape whose shared levels leave no path is no key for this chain.
    let no_path = ZkProving {
        shape: Shape {
            shared_levels: DEPTH,
            ..shape
        },
        ..ZkProving::local(keys.clone())
    };
    assert!(matches!(
        state.set_zk_proofs(no_path),
        Err(ProverError::ZkKey(why)) if why.contains("leave no path")
    ));
    state.set_zk_proofs(ZkProving::local(keys)).unwrap();
    let transfer = |from: u64, to: u64| {
        let mut tx = Transaction {
            from,
            to,
            amount: 1,
            nonce: 0,
            new_account_key: PublicKey::ZERO,
            signature: Signature::ZERO,
        };
        let key = zk_signing_key(spec.seed, from);
        tx.signature = Signature::from(sign_transaction(&key, CHAIN, &tx).unwrap());
        tx
    };
    // Blobs of two: one in subtree 0; then one across subtrees 0 and 1, and one in subtree 1.
    let blocks_of = [
        vec![transfer(0, 1), transfer(2, 3)],
        vec![transfer(1, 5), transfer(4, 5), transfer(5, 4)],
    ];
    let mut witnesses = Vec::new();
    let mut blocks = Vec::new();
    for (txs, unproven) in blocks_of.iter().zip([0, 1]) {
        let (block, report) = state.build_block(txs, BlockOptions::default()).unwrap();
        assert!(report.dropped.is_empty(), "{:?}", report.dropped);
        assert_eq!(report.unproven, unproven, "blobs the key cannot prove");
        for blob in block.blobs.iter() {
            let accounts = touched_accounts(&blob.transactions, DEPTH).unwrap();
            witnesses.push((shape.subtree_of(&accounts), blob.witness.kind_name()));
        }
        blocks.push(block);
    }
    let (zk, merkle) = ("zk", "merkle");
    assert_eq!(
        witnesses,
        [(Some(0), zk), (None, merkle), (Some(1), zk)],
        "(subtree, witness) of each blob"
    );
    verify_chain_with_zk_keys(state.genesis(), &[vk], &blocks).unwrap();
}

#[test]
fn transfer_chain_takes_no_zk_key() {
    let workload = generate_for(&spec(), Model::Transfer);
    let (pk, vk) = setup(
        Shape::new(DEPTH, BATCH as u16, CHAIN),
        &mut rng_from_seed([1; 32]),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pin = ZkKeyPin {
        batch: BATCH as u16,
        vk_hash: verifying_key_hash(&vk),
    };
    // Pins without the zk-transfer model make no valid genesis.
    assert!(matches!(
        ProverState::open_chain(
            &dir.path().join("a"),
            std::slice::from_ref(&workload.allocation),
            &[pin]
        ),
        Err(ProverError::InvalidAllocation(_))
    ));
    let mut state = ProverState::open(&dir.path().join("b"), &workload.allocation).unwrap();
    assert!(matches!(
        state.set_zk_proving_key(pk, BATCH),
        Err(ProverError::Unsupported { .. })
    ));
}
