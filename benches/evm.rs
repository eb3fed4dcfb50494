//! The `evm` model's stateless check of a real block: Holesky block 2,971,844 (42 transactions
//! of types 0, 2 and 3) with its witness, from `../shared/fixtures/real-blocks/` (the benchmark
//! does nothing without them).
//!
//! What is measured, in the criterion group `evm`:
//!
//! - `verify_block_holesky_2971844`: `verifier::evm::verify_block` from the block's bytes and
//!   the witness database: decoding, sender recovery (in parallel), execution, the header
//!   checks, the state update of the partial tries and the post-state root. Building the
//!   witness database (hashing its nodes and codes) is part of each iteration, as it is part of
//!   a verifier's work.
//!
//! - `recover_senders_k256`, `recover_senders_libsecp256k1`: the block's 42 senders recovered
//!   on one thread with each secp256k1 backend alloy offers: the pure-Rust `k256` and the
//!   `secp256k1` crate (Bitcoin Core's audited libsecp256k1), which the workspace selects
//!   (alloy-consensus feature `secp256k1`) because it measured faster here.
//!
//! Goal (the `evm` issue): at most 3 ms on 2 cores, median, release.
//!
//! ```sh
//! cargo bench --bench evm
//! ```

use std::hint::black_box;
use std::path::PathBuf;

use alloy_primitives::{B256, Signature};
use criterion::{Criterion, criterion_group, criterion_main};
use verifier::evm::{ChainSpec, WitnessDb, decode_block, verify_block};
use witness_format::EvmSchedule;

struct Fixture {
    chain_id: u64,
    anchor: u64,
    root: B256,
    hashes: Vec<B256>,
    rlp: Vec<u8>,
    nodes: Vec<Vec<u8>>,
    codes: Vec<Vec<u8>>,
}

fn load() -> Option<Fixture> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/real-blocks/holesky-2971844.json");
    let text = std::fs::read_to_string(&path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let bytes = |v: &serde_json::Value| hex::decode(v.as_str()?.trim_start_matches("0x")).ok();
    let list = |v: &serde_json::Value| -> Option<Vec<Vec<u8>>> {
        v.as_array()?.iter().map(bytes).collect()
    };
    let anchor = &json["anchor"];
    let block = &json["blocks"][0];
    Some(Fixture {
        chain_id: json["chain_id"].as_u64()?,
        anchor: anchor["number"].as_u64()?,
        root: B256::from_slice(&bytes(&anchor["state_root"])?),
        hashes: list(&anchor["ancestor_hashes"])?
            .iter()
            .map(|h| B256::from_slice(h))
            .collect(),
        rlp: bytes(&block["rlp"])?,
        nodes: list(&block["witness"]["state"])?,
        codes: list(&block["witness"]["codes"])?,
    })
}

fn bench_evm(c: &mut Criterion) {
    let Some(f) = load() else {
        eprintln!("evm bench: ../shared/fixtures/real-blocks is missing; nothing measured");
        return;
    };
    let spec = ChainSpec::new(f.chain_id, EvmSchedule::Published).expect("a published schedule");
    let verify = || {
        // The anchor is the block's parent; its hash comes first.
        let db = WitnessDb::new(
            f.nodes.iter().map(Vec::as_slice),
            f.codes.iter().map(Vec::as_slice),
            f.anchor + 1,
            f.hashes.iter().copied(),
        );
        let block = decode_block(&f.rlp).expect("a block");
        verify_block(&spec, &block, f.root, db, None).expect("the block verifies")
    };
    verify();
    let mut group = c.benchmark_group("evm");
    group.bench_function("verify_block_holesky_2971844", |b| {
        b.iter(|| black_box(verify()))
    });
    let block = decode_block(&f.rlp).expect("a block");
    let signed: Vec<(Signature, B256)> = block
        .body
        .transactions
        .iter()
        .map(|tx| (*tx.signature(), tx.signature_hash()))
        .collect();
    group.bench_function("recover_senders_k256", |b| {
        b.iter(|| {
            for (signature, hash) in &signed {
                black_box(signature.recover_from_prehash(hash).expect("recovers"));
            }
        })
    });
    group.bench_function("recover_senders_libsecp256k1", |b| {
        b.iter(|| {
            for (signature, hash) in &signed {
                black_box(
                    signature
                        .recover_from_prehash_secp256k1(hash)
                        .expect("recovers"),
                );
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_evm);
criterion_main!(benches);
