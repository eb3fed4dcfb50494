//! The prover's state against a plain map-based oracle, and its database behaviour.

use std::collections::BTreeMap;

use proptest::prelude::*;
use prover::workload::{WorkloadSpec, generate, sign};
use prover::{BlockOptions, ProverError, ProverState};
use sha3::{Digest, Sha3_256};
use verifier::{Reason, verify_chain};
use witness_format::{AccountLeaf, Hash32, Model, PublicKey, Transaction};

/// The oracle's hashes, written out from the spec (docs/FORMAT.md), not taken from `verifier`.
fn sha3(parts: &[&[u8]]) -> Hash32 {
    let mut h = Sha3_256::new();
    for p in parts {
        h.update(p);
    }
    Hash32::from(<[u8; 32]>::from(h.finalize()))
}

/// Root of a full tree of `depth` levels over a map, hashed naively level by level.
fn oracle_root(depth: u8, accounts: &BTreeMap<u64, AccountLeaf>) -> Hash32 {
    let mut level: Vec<Hash32> = (0..1u64 << depth)
        .map(|i| match accounts.get(&i) {
            Some(leaf) => sha3(&[
                &[0x00],
                &leaf.public_key.0,
                &leaf.balance.to_le_bytes(),
                &leaf.nonce.to_le_bytes(),
            ]),
            None => Hash32::ZERO,
        })
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| sha3(&[&[0x01], &pair[0].0, &pair[1].0]))
            .collect();
    }
    level[0]
}

/// Applies a valid transfer to the oracle map.
fn oracle_apply(accounts: &mut BTreeMap<u64, AccountLeaf>, tx: &Transaction) {
    let sender = accounts.get_mut(&tx.from).unwrap();
    sender.balance -= tx.amount;
    sender.nonce += 1;
    let receiver = accounts.entry(tx.to).or_insert(AccountLeaf {
        public_key: tx.new_account_key,
        balance: 0,
        nonce: 0,
    });
    receiver.balance += tx.amount;
}

fn small_spec(seed: u64) -> WorkloadSpec {
    WorkloadSpec {
        tree_depth: 8,
        accounts: 40,
        blocks: 3,
        txs_per_block: 20,
        seed,
        new_account_percent: 20,
        ..WorkloadSpec::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// After every block, the prover's root equals the oracle's, and the chain verifies.
    #[test]
    fn state_root_matches_map_oracle(seed in any::<u64>(), txs_per_blob in 1usize..12) {
        let spec = small_spec(seed);
        let workload = generate(&spec);
        let dir = tempfile::tempdir().unwrap();
        let mut prover = ProverState::open(&dir.path().join("db"), &workload.allocation).unwrap();
        let mut oracle: BTreeMap<u64, AccountLeaf> =
            (0u64..).zip(workload.allocation.accounts.iter().copied()).collect();
        prop_assert_eq!(prover.state_root(Model::Transfer).unwrap(), oracle_root(8, &oracle));
        let mut blocks = Vec::new();
        let options = BlockOptions { txs_per_blob, ..BlockOptions::default() };
        for batch in &workload.batches {
            let (block, report) = prover.build_block(&batch.transactions, options).unwrap();
            prop_assert!(report.dropped.is_empty());
            batch.transactions.iter().for_each(|tx| oracle_apply(&mut oracle, tx));
            prop_assert_eq!(prover.state_root(Model::Transfer).unwrap(), oracle_root(8, &oracle));
            blocks.push(block);
        }
        verify_chain(prover.genesis(), &blocks).unwrap();
    }
}

#[test]
fn invalid_transactions_are_left_out_with_their_reason() {
    let spec = small_spec(7);
    let workload = generate(&spec);
    let dir = tempfile::tempdir().unwrap();
    let mut prover = ProverState::open(&dir.path().join("db"), &workload.allocation).unwrap();
    let mut txs: Vec<Transaction> = workload.batches[0].transactions.to_vec();
    // A bad signature, an overdraft (re-signed, so only the balance rule fails), a transfer
    // to an empty slot without a key, and one with a key that is no valid point (y = p, a
    // non-canonical encoding). The forged copy and the bad key must not take the nonce their
    // honest twins need: every honest transaction is kept.
    let mut bad_signature = txs[0];
    bad_signature.signature.0[5] ^= 1;
    let mut overdraft = Transaction {
        amount: u64::MAX,
        ..txs[1]
    };
    sign(spec.chain_id, spec.seed, &mut overdraft);
    let mut keyless = Transaction {
        to: 200,
        new_account_key: PublicKey::ZERO,
        ..txs[2]
    };
    sign(spec.chain_id, spec.seed, &mut keyless);
    let mut y_is_p = [0xff; 32];
    y_is_p[0] = 0xed;
    y_is_p[31] = 0x7f;
    let mut bad_key = Transaction {
        to: 201,
        new_account_key: PublicKey::from(y_is_p),
        ..txs[3]
    };
    sign(spec.chain_id, spec.seed, &mut bad_key);
    // Placed first, so their nonces are current and only the intended rule fails.
    let honest = txs.len();
    txs.splice(0..0, [bad_signature, overdraft, keyless, bad_key]);
    let (block, report) = prover.build_block(&txs, BlockOptions::default()).unwrap();
    assert_eq!(report.included, honest);
    let reasons: Vec<(usize, Reason)> = report.dropped.clone();
    assert!(
        matches!(
            reasons.as_slice(),
            [
                (0, Reason::BadSignature),
                (1, Reason::InsufficientBalance { .. }),
                (2, Reason::MissingNewAccountKey { account: 200 }),
                (3, Reason::InvalidNewAccountKey),
            ]
        ),
        "{reasons:?}"
    );
    verify_chain(prover.genesis(), &[block]).unwrap();
}

/// Blobs are built while the one before is checked: a forged transaction found in one blob
/// takes that blob and the one built ahead on it back out, and both are built again. Forged
/// copies in several blobs are each left out, every honest transaction is kept, and the state
/// is the one the honest transactions alone give.
#[test]
fn forged_transactions_in_several_blobs_are_left_out_and_the_rest_kept() {
    let spec = small_spec(11);
    let workload = generate(&spec);
    let honest: Vec<Transaction> = workload.batches[0].transactions.to_vec();
    let forge = |tx: Transaction| {
        let mut forged = tx;
        forged.signature.0[9] ^= 1;
        forged
    };
    // Copies ahead of their honest twins, in the second and fourth blob of 4 and the last.
    let mut txs = honest.clone();
    txs.insert(5, forge(honest[5]));
    txs.insert(14, forge(honest[13]));
    let last = txs.len() - 1;
    txs.insert(last, forge(honest[honest.len() - 1]));
    let options = BlockOptions {
        txs_per_blob: 4,
        ..BlockOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut prover = ProverState::open(&dir.path().join("db"), &workload.allocation).unwrap();
    let (block, report) = prover.build_block(&txs, options).unwrap();
    assert_eq!(report.included, honest.len());
    assert_eq!(
        report.dropped,
        vec![
            (5, Reason::BadSignature),
            (14, Reason::BadSignature),
            (last, Reason::BadSignature)
        ]
    );
    verify_chain(prover.genesis(), &[block]).unwrap();

    let mut reference =
        ProverState::open(&dir.path().join("reference"), &workload.allocation).unwrap();
    reference.build_block(&honest, options).unwrap();
    assert_eq!(
        prover.state_root(Model::Transfer),
        reference.state_root(Model::Transfer)
    );
}

#[test]
fn reopening_continues_and_a_second_opener_is_refused() {
    let workload = generate(&small_spec(3));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (root, height) = {
        let mut prover = ProverState::open(&path, &workload.allocation).unwrap();
        prover
            .build_block(&workload.batches[0].transactions, BlockOptions::default())
            .unwrap();
        let second = ProverState::open(&path, &workload.allocation);
        assert!(
            matches!(
                second,
                Err(ProverError::Database(redb::Error::DatabaseAlreadyOpen))
            ),
            "a second opener must be refused"
        );
        (prover.state_root(Model::Transfer).unwrap(), prover.height())
    };
    let prover = ProverState::open(&path, &workload.allocation).unwrap();
    assert_eq!(
        (prover.state_root(Model::Transfer).unwrap(), prover.height()),
        (root, height)
    );
    assert!(prover.block_file(1).unwrap().is_some());

    // Another chain's allocation does not open this database.
    let other = generate(&WorkloadSpec {
        chain_id: 9,
        ..small_spec(3)
    });
    drop(prover);
    assert!(matches!(
        ProverState::open(&path, &other.allocation),
        Err(ProverError::WrongChain { .. })
    ));
}
