//! Ancestry proofs: checking that a header 2^20 blocks back is an ancestor of a trusted tip.
//!
//! Setup, once and outside the measurement (`verifier::ancestry::synthetic_history`, shared with
//! `stateless bench --history`): a synthetic history accumulator over 2^20 + 1 leaves (leaf 0
//! stands for the genesis hash, leaf 1 is the hash of a real header at height 1, the others are
//! distinct synthetic hashes), built with `HistoryAccumulator::append_visiting` into an
//! in-memory node store, as the prover builds its redb table. The tip is a header at height
//! 2^20 + 1 carrying the accumulator's root. The proof of header 1 is read from the store with
//! `verifier::accumulator::proof_nodes`, exactly as the prover reads it: 20 path hashes up to the
//! peak over leaves 0 .. 2^20, and one other peak (leaf 2^20).
//!
//! What is measured, in the criterion group `history`:
//!
//! - `ancestry_verify`: `verify_history_proof` of the decoded proof against the tip header:
//!   hashing the anchor header, 20 node hashes up its peak, bagging the two peaks, comparing.
//! - `ancestry_decode_and_verify`: the same from the proof file's bytes (frame, bounds,
//!   canonical form, then the check).
//!
//! Printed on stdout before the criterion runs (criterion itself reports times only):
//!
//! - `ancestry_verify_us`: mean microseconds of `ancestry_verify` over a timed loop. Goal: ≤ 50.
//! - `ancestry_proof_bytes`: bytes of hashes in the proof (path and other peaks, 32 each).
//!   Goal: ≤ 32 × 21 = 672.
//! - `ancestry_proof_file_bytes`: the whole proof file: the frame, the anchor header itself,
//!   the tip height and the list offsets besides the hashes.
//!
//! Run it with:
//!
//! ```sh
//! cargo bench --bench ancestry
//! ```
//!
//! Smoke mode, `cargo bench --bench ancestry -- --test` (also `cargo test --benches`, or any
//! run with `STATELESS_BENCH_QUICK=1`), uses a header 2^12 blocks back and runs each benchmark
//! once.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use verifier::ancestry::synthetic_history;
use verifier::{ProvenFact, verify_history_proof};
use witness_format::{Header, HistoryProof, decode_file, encode_file};

/// How far back the proven header is in a real run: 2^20 blocks.
const LOG2_BACK: u32 = 20;

/// The same in smoke mode.
const LOG2_BACK_QUICK: u32 = 12;

/// Whether to run small: asked for by `STATELESS_BENCH_QUICK=1`, or criterion's test mode
/// (`-- --test`, or no `--bench` flag as under `cargo test --benches`).
fn quick() -> bool {
    let env = std::env::var("STATELESS_BENCH_QUICK").is_ok_and(|v| v == "1");
    let test = std::env::args().any(|a| a == "--test");
    let bench = std::env::args().any(|a| a == "--bench");
    env || test || !bench
}

struct Fixture {
    tip: Header,
    proof: HistoryProof,
    file: Vec<u8>,
}

/// The accumulator over `2^log2_back + 1` leaves, the tip over them, and the proof of header 1.
fn setup(log2_back: u32) -> Fixture {
    let started = Instant::now();
    let (tip, proof, ancestor) = synthetic_history(log2_back).expect("a small enough history");
    let fact = verify_history_proof(&proof, &tip).expect("the proof verifies");
    assert!(matches!(fact, ProvenFact::Header { header, .. } if header == ancestor));
    eprintln!(
        "setup: accumulator over {} leaves, proof of header 1 against tip {}, in {:.1?}",
        tip.height,
        tip.height,
        started.elapsed()
    );
    let file = encode_file(&proof);
    Fixture { tip, proof, file }
}

fn bench_history(c: &mut Criterion) {
    let log2_back = if quick() { LOG2_BACK_QUICK } else { LOG2_BACK };
    let fixture = setup(log2_back);

    let hashes = fixture.proof.peak_path.len() + fixture.proof.other_peaks.len();
    let proof_bytes = 32 * hashes;
    // A timed loop of its own, so the key is printed whatever criterion's output format.
    let rounds = if quick() { 100 } else { 20_000 };
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(verify_history_proof(
            black_box(&fixture.proof),
            &fixture.tip,
        ))
        .expect("valid");
    }
    let verify_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    println!("blocks_back: {}", 1u64 << log2_back);
    println!("ancestry_verify_us: {verify_us:.2}");
    println!("ancestry_proof_bytes: {proof_bytes}");
    println!("ancestry_proof_hashes: {hashes}");
    println!("ancestry_proof_file_bytes: {}", fixture.file.len());
    if !quick() {
        assert!(
            proof_bytes <= 32 * 21,
            "ancestry proof of {proof_bytes} bytes of hashes exceeds 32 x 21"
        );
    }

    let mut group = c.benchmark_group("history");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("ancestry_verify", |b| {
        b.iter(|| verify_history_proof(black_box(&fixture.proof), &fixture.tip).expect("valid"));
    });
    group.bench_function("ancestry_decode_and_verify", |b| {
        b.iter(|| {
            let proof = decode_file::<HistoryProof>(black_box(&fixture.file)).expect("decodes");
            verify_history_proof(&proof, &fixture.tip).expect("valid")
        });
    });
    group.finish();
}

criterion_group!(benches, bench_history);
criterion_main!(benches);
