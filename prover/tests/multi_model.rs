//! A chain hosting both models in one prover database: `transfer` blobs with Merkle witnesses
//! and `zk-transfer` blobs with zk proofs in the same blocks, each model with its own root.
//! Tiny shapes (depth 4, batch 2) so setup and proving take seconds.

use prover::workload::{Workload, WorkloadSpec, generate_for};
use prover::zk::groth16::{rng_from_seed, setup};
use prover::zk::keys::Shape;
use prover::{BlockOptions, FactQuery, ProverError, ProverState};
use verifier::zk_transfer::groth16::verifying_key_hash;
use verifier::{ProvenFact, verify_chain_with_zk_keys, verify_history_proof};
use witness_format::{Allocation, Model, Transaction, Witness, ZkKeyPin};

const CHAIN: u64 = 7;
const DEPTH: u8 = 4;
const BATCH: usize = 2;

fn spec() -> WorkloadSpec {
    WorkloadSpec {
        chain_id: CHAIN,
        tree_depth: DEPTH,
        accounts: 6,
        blocks: 2,
        txs_per_block: 2,
        seed: 5,
        new_account_percent: 30,
    }
}

fn workloads() -> (Workload, Workload) {
    (
        generate_for(&spec(), Model::Transfer),
        generate_for(&spec(), Model::ZkTransfer),
    )
}

/// The batches of block `i` of both workloads, `zk-transfer` first: the prover takes them in
/// any order, the header lists roots in genesis order.
fn batches<'a>(
    transfer: &'a Workload,
    zk: &'a Workload,
    i: usize,
) -> Vec<(Model, &'a [Transaction])> {
    vec![
        (Model::ZkTransfer, zk.batches[i].transactions.as_ref()),
        (Model::Transfer, transfer.batches[i].transactions.as_ref()),
    ]
}

#[test]
fn both_models_share_blocks_each_with_its_own_root_and_witness_kind() {
    let (transfer, zk) = workloads();
    let (pk, vk) = setup(
        Shape::new(DEPTH, BATCH as u16, CHAIN),
        &mut rng_from_seed([1; 32]),
    )
    .unwrap();
    let pin = ZkKeyPin {
        batch: BATCH as u16,
        vk_hash: verifying_key_hash(&vk),
    };
    let allocations = [zk.allocation.clone(), transfer.allocation.clone()];
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut state = ProverState::open_chain(&db, &allocations, &[pin]).unwrap();
    let models: Vec<Model> = state
        .genesis()
        .state_roots
        .iter()
        .map(|r| r.model)
        .collect();
    assert_eq!(models, [Model::Transfer, Model::ZkTransfer]);
    state.set_zk_proving_key(pk, BATCH).unwrap();

    let mut blocks = Vec::new();
    for i in 0..2 {
        let before = (
            state.state_root(Model::Transfer).unwrap(),
            state.state_root(Model::ZkTransfer).unwrap(),
        );
        let (block, report) = state
            .build_block_of(&batches(&transfer, &zk, i), BlockOptions::default())
            .unwrap();
        assert!(report.dropped.is_empty(), "{:?}", report.dropped);
        assert_eq!(report.included, 4);
        // One blob per model, each with its model's witness kind.
        let kinds: Vec<(Model, &str)> = block
            .blobs
            .iter()
            .map(|b| (b.model, b.witness.kind_name()))
            .collect();
        assert_eq!(
            kinds,
            [(Model::ZkTransfer, "zk"), (Model::Transfer, "merkle")]
        );
        let roots: Vec<_> = block
            .header
            .state_roots
            .iter()
            .map(|r| (r.model, r.root))
            .collect();
        assert_eq!(
            roots,
            [
                (Model::Transfer, state.state_root(Model::Transfer).unwrap()),
                (
                    Model::ZkTransfer,
                    state.state_root(Model::ZkTransfer).unwrap()
                ),
            ]
        );
        assert_ne!(roots[0].1, before.0);
        assert_ne!(roots[1].1, before.1);
        blocks.push(block);
    }
    let summary =
        verify_chain_with_zk_keys(state.genesis(), std::slice::from_ref(&vk), &blocks).unwrap();
    assert_eq!((summary.blobs, summary.transactions), (4, 8));
    state.check_integrity().unwrap();

    // Account history proofs for both models (SHA3 and Poseidon paths), at every height, each
    // proving the value the account had then.
    for (model, workload) in [(Model::Transfer, &transfer), (Model::ZkTransfer, &zk)] {
        for height in 0..=2u64 {
            let query = FactQuery::Account {
                height,
                model,
                account: 0,
            };
            let proof = state.history_proof(2, query).unwrap();
            let fact = verify_history_proof(&proof, &blocks[1].header).unwrap();
            let ProvenFact::Account { leaf, .. } = fact else {
                panic!("{model}: not an account fact: {fact:?}");
            };
            assert_eq!(leaf.public_key, workload.allocation.accounts[0].public_key);
            if height == 2 {
                assert_eq!(leaf, state.account(model, 0).unwrap());
            }
        }
    }

    // Each model's accounts are its own: account 0 differs between the two states.
    assert_ne!(
        state.account(Model::Transfer, 0).unwrap().public_key,
        state.account(Model::ZkTransfer, 0).unwrap().public_key
    );

    // Reopened, the database resumes with both roots.
    let roots = (
        state.state_root(Model::Transfer),
        state.state_root(Model::ZkTransfer),
    );
    drop(state);
    let state = ProverState::open_chain(&db, &allocations, &[pin]).unwrap();
    assert_eq!(state.height(), 2);
    assert_eq!(
        (
            state.state_root(Model::Transfer),
            state.state_root(Model::ZkTransfer)
        ),
        roots
    );
    drop(state);
    // The same allocations without the transfer model are another chain.
    assert!(matches!(
        ProverState::open_chain(&db, &allocations[..1], &[pin]),
        Err(ProverError::WrongChain { .. })
    ));
}

#[test]
fn a_chain_of_several_models_needs_each_batch_to_name_its_model() {
    let (transfer, zk) = workloads();
    let dir = tempfile::tempdir().unwrap();
    let allocations = [transfer.allocation.clone(), zk.allocation.clone()];
    let mut state = ProverState::open_chain(&dir.path().join("db"), &allocations, &[]).unwrap();
    assert!(matches!(
        state.build_block(&transfer.batches[0].transactions, BlockOptions::default()),
        Err(ProverError::ModelNotGiven { models: 2 })
    ));
    // Without a zk key, zk-transfer blobs carry Merkle witnesses; transactions of one model
    // only leave the other's root alone.
    let zk_root = state.state_root(Model::ZkTransfer);
    let (block, _) = state
        .build_block_of(
            &[(Model::Transfer, &transfer.batches[0].transactions)],
            BlockOptions::default(),
        )
        .unwrap();
    assert!(
        block
            .blobs
            .iter()
            .all(|b| matches!(b.witness, Witness::Merkle(_)))
    );
    assert_eq!(state.state_root(Model::ZkTransfer), zk_root);
    assert_eq!(block.header.state_roots[1].root, zk_root.unwrap());
    assert_eq!(state.height(), 1);

    // A chain of one model refuses a batch of the other, and builds nothing.
    let dir = tempfile::tempdir().unwrap();
    let mut single = ProverState::open(&dir.path().join("db"), &transfer.allocation).unwrap();
    assert!(matches!(
        single.build_block_of(
            &[(Model::ZkTransfer, &zk.batches[0].transactions)],
            BlockOptions::default()
        ),
        Err(ProverError::UnknownModel {
            model: Model::ZkTransfer
        })
    ));
    assert_eq!(single.height(), 0);
}

#[test]
fn allocations_must_make_one_chain() {
    let (transfer, zk) = workloads();
    let dir = tempfile::tempdir().unwrap();
    // The error message when the allocations are refused (and no database is made).
    let refusal = |name: &str, allocations: &[Allocation]| match ProverState::open_chain(
        &dir.path().join(name),
        allocations,
        &[],
    ) {
        Err(ProverError::InvalidAllocation(message)) => message,
        Err(other) => panic!("{name}: expected InvalidAllocation, got {other}"),
        Ok(_) => panic!("{name}: expected InvalidAllocation, got a database"),
    };
    let invalid = |message: String, expected: &str| {
        assert!(message.contains(expected), "{message}");
    };
    invalid(refusal("none", &[]), "no allocation");
    invalid(
        refusal(
            "twice",
            &[transfer.allocation.clone(), transfer.allocation.clone()],
        ),
        "two allocations for model transfer",
    );
    let other_chain = Allocation {
        chain_id: CHAIN + 1,
        ..zk.allocation.clone()
    };
    invalid(
        refusal("chains", &[transfer.allocation.clone(), other_chain]),
        "for chain 8",
    );
    let other_depth = Allocation {
        tree_depth: DEPTH + 1,
        ..zk.allocation.clone()
    };
    invalid(
        refusal("depths", &[transfer.allocation.clone(), other_depth]),
        "at depth 5",
    );
}

/// The sum of every account's balance below the bridge, and the value in flight (sent totals
/// less credited totals over all bridge leaves), for a chain of both models.
fn value(state: &ProverState, base: u64) -> (u128, u128) {
    let mut accounts = 0u128;
    let mut in_flight = 0i128;
    for (model, other) in [
        (Model::Transfer, Model::ZkTransfer),
        (Model::ZkTransfer, Model::Transfer),
    ] {
        for account in 0..base {
            accounts += u128::from(state.account(model, account).unwrap().balance);
            let sent = state.account(model, base + account).unwrap().balance;
            let credited = state.account(other, base + account).unwrap().nonce;
            in_flight += i128::from(sent) - i128::from(credited);
        }
    }
    (accounts, u128::try_from(in_flight).unwrap())
}

#[test]
fn exits_are_credited_once_in_later_blocks_and_value_is_conserved() {
    let spec = WorkloadSpec {
        tree_depth: 6,
        blocks: 5,
        txs_per_block: 6,
        ..spec()
    };
    let base = 1u64 << 5;
    let workloads = prover::workload::generate_both(&spec, 40);
    let allocations: Vec<Allocation> = workloads.iter().map(|w| w.allocation.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut state = ProverState::open_chain(&dir.path().join("db"), &allocations, &[]).unwrap();
    let (total, in_flight) = value(&state, base);
    assert_eq!(in_flight, 0);
    let mut blocks = Vec::new();
    let mut credited = 0;
    for i in 0..spec.blocks {
        let batches: Vec<(Model, &[Transaction])> = workloads
            .iter()
            .map(|w| (w.allocation.model, w.batches[i].transactions.as_ref()))
            .collect();
        let (block, report) = state
            .build_block_of(&batches, BlockOptions::default())
            .unwrap();
        assert!(report.dropped.is_empty(), "{:?}", report.dropped);
        credited += report.credited;
        let (accounts, in_flight) = value(&state, base);
        assert_eq!(
            accounts + in_flight,
            total,
            "value changed in block {}",
            i + 1
        );
        blocks.push(block);
    }
    assert!(credited > 0, "no exit was credited");
    // Credits come from blobs of credits, which take effect one block after their exits.
    let credit_blobs: Vec<_> = blocks
        .iter()
        .flat_map(|b| b.blobs.iter())
        .filter(|b| matches!(b.witness, Witness::Credits(_)))
        .collect();
    assert!(!credit_blobs.is_empty());
    assert!(
        blocks[0]
            .blobs
            .iter()
            .all(|b| !matches!(b.witness, Witness::Credits(_)))
    );
    let models: std::collections::BTreeSet<Model> = credit_blobs.iter().map(|b| b.model).collect();
    assert_eq!(models.len(), 2, "credits in both directions");
    verifier::verify_chain(state.genesis(), &blocks).unwrap();
    state.check_integrity().unwrap();
    // The state history of blocks that hold both credits and transfers of one model: every
    // account and bridge leaf is provable at every height (the prover checks each proof's
    // root against the chain's, so a wrong undo-log entry fails here).
    let tip = blocks.len() as u64;
    for model in Model::NUMBERED {
        for height in 0..=tip {
            for account in (0..spec.accounts).chain(base..base + spec.accounts) {
                let query = FactQuery::Account {
                    height,
                    model,
                    account,
                };
                let proof = state.history_proof(tip, query).unwrap();
                verify_history_proof(&proof, &blocks[tip as usize - 1].header).unwrap();
            }
        }
    }
}

/// Each way a credit can be wrong, on a real chain with one part changed: the verifier names it.
#[test]
fn forged_credits_are_rejected_with_their_reason() {
    use verifier::{HistoryProofError, Reason};
    use witness_format::{Anchor, HistoryFact};
    let spec = WorkloadSpec {
        tree_depth: 6,
        blocks: 3,
        txs_per_block: 6,
        ..spec()
    };
    let workloads = prover::workload::generate_both(&spec, 60);
    let allocations: Vec<Allocation> = workloads.iter().map(|w| w.allocation.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut state = ProverState::open_chain(&dir.path().join("db"), &allocations, &[]).unwrap();
    let mut blocks = Vec::new();
    for i in 0..spec.blocks {
        let batches: Vec<(Model, &[Transaction])> = workloads
            .iter()
            .map(|w| (w.allocation.model, w.batches[i].transactions.as_ref()))
            .collect();
        blocks.push(
            state
                .build_block_of(&batches, BlockOptions::default())
                .unwrap()
                .0,
        );
    }
    let genesis = state.genesis().clone();
    verifier::verify_chain(&genesis, &blocks).unwrap();
    let (height, index) = blocks
        .iter()
        .enumerate()
        .find_map(|(h, b)| {
            b.blobs
                .iter()
                .position(|blob| matches!(blob.witness, Witness::Credits(_)))
                .map(|i| (h, i))
        })
        .expect("a blob of credits");
    let forged = |change: &dyn Fn(&mut witness_format::Blob)| {
        let mut chain = blocks.clone();
        change(&mut chain[height].blobs[index]);
        verifier::verify_chain(&genesis, &chain).unwrap_err().reason
    };
    // (A credit to another account than its bridge leaf's is `CreditToOtherAccount`: see the
    // verifier's unit tests; here the witness would no longer match first.)
    // A receipt of another bridge leaf.
    assert!(matches!(
        forged(&|blob| blob.transactions[0].from ^= 1),
        Reason::ReceiptForOtherAccount { .. }
    ));
    // More than the receipt shows sent.
    assert!(matches!(
        forged(&|blob| blob.transactions[0].nonce += 1),
        Reason::ReceiptSentMismatch { .. }
    ));
    // A receipt anchored on a header that is not an ancestor of the crediting block.
    let not_an_ancestor = forged(&|blob| {
        let Witness::Credits(witness) = &mut blob.witness else {
            unreachable!()
        };
        let HistoryFact::Account(fact) = &mut witness.receipts[0].fact else {
            unreachable!()
        };
        let Anchor::Header(header) = &mut fact.anchor else {
            unreachable!()
        };
        header.blobs_root.0[0] ^= 1;
    });
    assert!(
        matches!(
            not_an_ancestor,
            Reason::HistoryProof(HistoryProofError::NotAnAncestor { .. })
        ),
        "{not_an_ancestor:?}"
    );
    // Receipts that prove something else, each made by the prover against the crediting
    // block: the receiving model's own bridge leaf, the source's bridge leaf at the crediting
    // block itself, and a header.
    let block_height = height as u64 + 1;
    let blob = &blocks[height].blobs[index];
    let bridge_account = blob.transactions[0].from;
    let source = Model::NUMBERED
        .into_iter()
        .find(|&m| m != blob.model)
        .unwrap();
    let with_receipt = |query: FactQuery| {
        let receipt = state.history_proof(block_height, query).unwrap();
        forged(&|blob| {
            let Witness::Credits(witness) = &mut blob.witness else {
                unreachable!()
            };
            witness.receipts[0] = receipt.clone();
        })
    };
    assert_eq!(
        with_receipt(FactQuery::Account {
            height: block_height - 1,
            model: blob.model,
            account: bridge_account,
        }),
        Reason::ReceiptFromWrongModel {
            model: source,
            found: blob.model
        }
    );
    assert_eq!(
        with_receipt(FactQuery::Account {
            height: block_height,
            model: source,
            account: bridge_account,
        }),
        Reason::ReceiptNotEarlier {
            height: block_height,
            block: block_height
        }
    );
    assert_eq!(
        with_receipt(FactQuery::Header {
            height: block_height - 1
        }),
        Reason::ReceiptNotAnAccount
    );
    // One form per credit: a receipt proven at an older height (here the genesis) is refused
    // even before its sent total is compared.
    assert_eq!(
        with_receipt(FactQuery::Account {
            height: block_height - 2,
            model: source,
            account: bridge_account,
        }),
        Reason::ReceiptNotLatest {
            height: block_height - 2,
            block: block_height,
            expected: block_height - 1
        }
    );
    // One order: the same credits with their receipts, two of them swapped.
    assert!(blob.transactions.len() >= 2, "the blob has two credits");
    let swapped = {
        let mut chain = blocks.clone();
        let blob = &mut chain[height].blobs[index];
        let mut txs = blob.transactions.to_vec();
        txs.swap(0, 1);
        blob.transactions = txs.try_into().unwrap();
        let Witness::Credits(witness) = &mut blob.witness else {
            unreachable!()
        };
        let mut receipts = witness.receipts.to_vec();
        receipts.swap(0, 1);
        witness.receipts = receipts.try_into().unwrap();
        verifier::verify_chain(&genesis, &chain).unwrap_err()
    };
    assert_eq!(swapped.location.transaction, Some(1));
    assert_eq!(
        swapped.reason,
        Reason::CreditsOutOfOrder {
            account: blob.transactions[0].from
        }
    );
    // A blob of credits needs its block, and a chain with a bridge.
    assert_eq!(
        verifier::verify_blob(
            &verifier::ChainParams::from_genesis(&genesis).unwrap(),
            blob
        )
        .unwrap_err()
        .reason,
        Reason::CreditsOutsideBlock
    );
    let mut one_model = genesis.clone();
    one_model.state_roots = one_model
        .state_roots
        .iter()
        .copied()
        .filter(|r| r.model == blob.model)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    assert_eq!(
        verifier::verify_blob_in_block(
            &verifier::ChainParams::from_genesis(&one_model).unwrap(),
            &blocks[height].header,
            blob
        )
        .unwrap_err()
        .reason,
        Reason::NoBridge
    );
    // One receipt too few.
    assert!(matches!(
        forged(&|blob| {
            let Witness::Credits(witness) = &mut blob.witness else {
                unreachable!()
            };
            let mut receipts = witness.receipts.to_vec();
            receipts.pop();
            witness.receipts = receipts.try_into().unwrap();
        }),
        Reason::ReceiptCountMismatch { .. }
    ));
}
