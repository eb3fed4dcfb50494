//! Regenerates the committed seed corpora and the `verify_block` genesis from one small honest
//! chain built by the prover:
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds
//! ```
//!
//! The chain: 16 genesis accounts in a tree of depth 32, two blocks of 4 signed transfers (a
//! quarter of them creating an account), cut into blobs of 2 transfers. It writes
//!
//! - `fixtures/genesis.bin`: the genesis `verify_block` checks blocks against;
//! - `seeds/decode_genesis/genesis.bin`, `seeds/decode_allocation/allocation.bin`;
//! - `seeds/decode_batch/batch-{1,2}.bin`, `seeds/decode_block/block-{1,2}.bin`;
//! - `seeds/verify_block/block-1.bin`: the block that follows the fixture genesis.
//!
//! Everything is derived from fixed seeds, so running it again without a format change rewrites
//! the same bytes.

use std::fs;
use std::path::Path;

use prover::workload::{self, WorkloadSpec};
use prover::{BlockOptions, ProverState};
use verifier::verify_chain;
use witness_format::{FramedValue, encode_file};

fn write<T: FramedValue>(dir: &Path, name: &str, value: &T) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().expect("a file in a folder")).expect("create the folder");
    let bytes = encode_file(value);
    fs::write(&path, &bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    println!("{:>6} bytes  {}", bytes.len(), path.display());
}

fn main() {
    let spec = WorkloadSpec {
        chain_id: 7,
        tree_depth: 32,
        accounts: 16,
        blocks: 2,
        txs_per_block: 4,
        seed: 1,
        new_account_percent: 25,
    };
    let options = BlockOptions {
        txs_per_blob: 2,
        ..BlockOptions::default()
    };
    let workload = workload::generate(&spec);

    let dir = tempfile::tempdir().expect("create a temporary directory");
    let mut prover = ProverState::open(&dir.path().join("state.redb"), &workload.allocation)
        .expect("open the prover");
    let blocks: Vec<_> = workload
        .batches
        .iter()
        .map(|batch| {
            let (block, report) = prover
                .build_block(&batch.transactions, options)
                .expect("build a block");
            assert!(
                report.dropped.is_empty(),
                "the prover left out honest transactions: {:?}",
                report.dropped
            );
            block
        })
        .collect();
    let genesis = prover.genesis().clone();
    drop(prover);
    verify_chain(&genesis, &blocks).expect("the seed chain verifies");
    let created = workload
        .batches
        .iter()
        .flat_map(|batch| batch.transactions.iter())
        .filter(|tx| !tx.new_account_key.is_zero())
        .count();
    assert!(created > 0, "some seed transfer creates an account");

    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    write(&fuzz.join("fixtures"), "genesis.bin", &genesis);
    let seeds = fuzz.join("seeds");
    write(&seeds.join("decode_genesis"), "genesis.bin", &genesis);
    write(
        &seeds.join("decode_allocation"),
        "allocation.bin",
        &workload.allocation,
    );
    for (height, (batch, block)) in (1..).zip(workload.batches.iter().zip(&blocks)) {
        write(
            &seeds.join("decode_batch"),
            &format!("batch-{height}.bin"),
            batch,
        );
        write(
            &seeds.join("decode_block"),
            &format!("block-{height}.bin"),
            block,
        );
        assert_eq!(block.blobs.len(), 2, "two blobs per seed block");
    }
    write(&seeds.join("verify_block"), "block-1.bin", &blocks[0]);
}
