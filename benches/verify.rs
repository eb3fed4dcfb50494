//! Stateless verification throughput of one 1,024-transfer blob, next to the Ed25519 floor.
//!
//! What is measured, in one criterion group `verify_blob` (throughput in transactions):
//!
//! - `verify/…`: [`verifier::verify_blob`] on a blob of 1,024 transfers over a state of 2^20
//!   accounts (tree depth 32): witness shape, pre-state root, the transfer rules, every signature,
//!   post-state root. This is the whole stateless check of one blob.
//! - `decode_and_verify/…`: the same, starting from the block file's bytes: `decode_file::<Block>`
//!   (frame, bounds, canonical form) and then `verify_blob` on each of its blobs (here, one).
//! - `ed25519_batch/…`: [`verifier::transfer::ed25519::first_invalid`] on exactly that blob's 1,024
//!   signatures (sender keys and signing messages prepared outside the measurement). It is the
//!   same parallel batch check `verify_blob` runs, with nothing else around it.
//!
//! Why: DESIGN.md ("Parallelism") names signature checks the physical floor of the `transfer`
//! path, so everything else should cost little next to them. The number to read is the ratio
//! `verify` / `ed25519_batch` (time per blob) from the same run: close to 1 means the witness,
//! hashing and rules are cheap beside the signatures; an absolute time on a shared machine says
//! less.
//!
//! Setup, once and outside the measurement: a seeded workload of 2^20 accounts and 2 blocks of
//! 1,024 transfers is generated (deriving 2^20 keys takes a while; progress goes to stderr), the
//! blocks are built by a `ProverState` in a temporary directory with the default
//! `BlockOptions` (one blob of 1,024 transactions per block), and the whole chain is checked
//! once. The last block's blob is benchmarked, so its state is past genesis.
//!
//! Run it with:
//!
//! ```sh
//! cargo bench --bench verify
//! ```
//!
//! Smoke mode, `cargo bench --bench verify -- --test` (also `cargo test --benches`, or any run
//! with `STATELESS_BENCH_QUICK=1`), runs each benchmark once over 2^12 accounts instead.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use prover::workload::{WorkloadSpec, generate};
use prover::{BlockOptions, ProverState};
use verifier::accounts::{TouchedState, touched_accounts};
use verifier::transfer::ed25519::{SignatureCheck, first_invalid};
use verifier::transfer::{SIGNING_MESSAGE_LEN, signing_message};
use verifier::{ChainParams, verify_blob, verify_chain};
use witness_format::{Blob, Block, Genesis, PublicKey, Witness, decode_file, encode_file};

/// Transfers per blob: the default `BlockOptions::txs_per_blob`, and the workload's block size,
/// so each block is exactly one full blob.
const TXS_PER_BLOB: usize = 1024;

/// Accounts in a real run: a state large enough that every touched account needs its own
/// multiproof path through most of the tree.
const LOG2_ACCOUNTS: u32 = 20;

/// Accounts in smoke mode: enough for valid 1,024-transfer blobs, quick to generate.
const LOG2_ACCOUNTS_QUICK: u32 = 12;

/// Blocks built. The benchmarked blob is the last block's, so it spends from a state that earlier
/// blocks changed (nonces, balances, created accounts).
const BLOCKS: usize = 2;

/// Fixed, so every run measures the same blobs.
const SEED: u64 = 0x5eed_2024;

/// Whether to run over the small state: asked for by `STATELESS_BENCH_QUICK=1`, or criterion's
/// test mode (`-- --test`, or no `--bench` flag as under `cargo test --benches`), where each
/// benchmark runs once and a 2^20-account setup would dominate.
fn quick() -> bool {
    let env = std::env::var("STATELESS_BENCH_QUICK").is_ok_and(|v| v == "1");
    let test = std::env::args().any(|a| a == "--test");
    let bench = std::env::args().any(|a| a == "--bench");
    env || test || !bench
}

/// What the benchmarks share, prepared once.
struct Fixture {
    params: ChainParams,
    /// The benchmarked block: one blob of [`TXS_PER_BLOB`] transfers.
    block: Block,
    /// `block` as a file.
    block_file: Vec<u8>,
    /// The blob's sender keys and signing messages, in transaction order.
    signed: Vec<(PublicKey, [u8; SIGNING_MESSAGE_LEN])>,
}

impl Fixture {
    fn blob(&self) -> &Blob {
        self.block
            .blobs
            .first()
            .expect("the fixture block has a blob")
    }

    /// The blob's signature checks, borrowing the prepared keys and messages.
    fn checks(&self) -> Vec<SignatureCheck<'_>> {
        self.signed
            .iter()
            .zip(self.blob().transactions.iter())
            .map(|((key, message), tx)| SignatureCheck {
                public_key: &key.0,
                signature: &tx.signature.0,
                message,
            })
            .collect()
    }
}

fn setup(log2_accounts: u32) -> Fixture {
    let spec = WorkloadSpec {
        accounts: 1 << log2_accounts,
        blocks: BLOCKS,
        txs_per_block: TXS_PER_BLOB,
        tree_depth: 32,
        seed: SEED,
        ..WorkloadSpec::default()
    };

    let started = Instant::now();
    eprintln!(
        "setup: generating 2^{log2_accounts} accounts and {BLOCKS} blocks of {TXS_PER_BLOB} \
         signed transfers (seed {SEED:#x})..."
    );
    let workload = generate(&spec);
    eprintln!("setup: generated in {:.1?}", started.elapsed());

    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut state = ProverState::open(&dir.path().join("prover.redb"), &workload.allocation)
        .expect("prover database");
    eprintln!(
        "setup: prover state of 2^{log2_accounts} accounts written in {:.1?}",
        started.elapsed()
    );
    let genesis: Genesis = state.genesis().clone();
    let mut blocks = Vec::with_capacity(BLOCKS);
    for batch in &workload.batches {
        let started = Instant::now();
        let (block, report) = state
            .build_block(&batch.transactions, BlockOptions::default())
            .expect("block builds");
        assert!(
            report.dropped.is_empty(),
            "the workload's transfers are all valid: {:?}",
            report.dropped
        );
        eprintln!(
            "setup: built block {} ({} blobs, {} transactions) in {:.1?}",
            report.height,
            block.blobs.len(),
            report.included,
            started.elapsed()
        );
        blocks.push(block);
    }
    drop(state);
    drop(dir);
    drop(workload);

    let params = ChainParams::from_genesis(&genesis).expect("genesis parameters");
    verify_chain(&genesis, &blocks).expect("the built chain verifies");
    let block = blocks.pop().expect("at least one block");
    let [blob] = block.blobs.as_ref() else {
        panic!("expected one blob per block, found {}", block.blobs.len());
    };
    assert_eq!(blob.transactions.len(), TXS_PER_BLOB);
    let Witness::Merkle(witness) = &blob.witness else {
        panic!("expected a Merkle witness");
    };
    eprintln!(
        "setup: benchmarked blob: {} transactions, {} witness leaves, {} carried siblings, \
         {} bytes as a block file",
        blob.transactions.len(),
        witness.leaves.len(),
        witness.siblings.len(),
        encode_file(&block).len()
    );

    // The key that must sign each transaction is its sender's as the blob's rules see it: the
    // witness leaf, or the key of an account an earlier transaction of this blob created. Walking
    // the rules once, as `verify_blob` does, gives both.
    let accounts = touched_accounts(&blob.transactions, params.tree_depth).expect("in range");
    let mut touched =
        TouchedState::new(accounts, witness.leaves.to_vec()).expect("one leaf per account");
    let signed = blob
        .transactions
        .iter()
        .map(|tx| {
            let sender = touched.get(tx.from).expect("sender is touched").public_key;
            touched.apply(tx).expect("the transfer is valid");
            (sender, signing_message(params.chain_id, blob.model, tx))
        })
        .collect();

    let fixture = Fixture {
        params,
        block_file: encode_file(&block),
        block,
        signed,
    };
    assert_eq!(first_invalid(&fixture.checks()), None, "signatures verify");
    fixture
}

fn bench_verify_blob(c: &mut Criterion) {
    let log2_accounts = if quick() {
        LOG2_ACCOUNTS_QUICK
    } else {
        LOG2_ACCOUNTS
    };
    let fixture = setup(log2_accounts);
    // Plain digits: criterion would rewrite `^` in the directory name of its results.
    let label = format!("{}_accounts", 1u64 << log2_accounts);
    let blob = fixture.blob();
    let checks = fixture.checks();

    let mut group = c.benchmark_group("verify_blob");
    group
        .throughput(Throughput::Elements(TXS_PER_BLOB as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));

    group.bench_with_input(BenchmarkId::new("verify", &label), blob, |b, blob| {
        b.iter(|| verify_blob(&fixture.params, black_box(blob)).expect("blob verifies"));
    });

    group.bench_with_input(
        BenchmarkId::new("decode_and_verify", &label),
        fixture.block_file.as_slice(),
        |b, file| {
            b.iter(|| {
                let block = decode_file::<Block>(black_box(file)).expect("block decodes");
                for blob in block.blobs.iter() {
                    verify_blob(&fixture.params, blob).expect("blob verifies");
                }
                block
            });
        },
    );

    group.bench_with_input(
        BenchmarkId::new("ed25519_batch", &label),
        checks.as_slice(),
        |b, checks| {
            b.iter(|| assert_eq!(first_invalid(black_box(checks)), None));
        },
    );

    group.finish();
}

criterion_group!(benches, bench_verify_blob);
criterion_main!(benches);
