//! Span verification: 64 Groth16 proofs checked in one batched pairing check against one by
//! one.
//!
//! The proofs are for a tiny synthetic circuit (`prover::zk::synthetic`, 64 constraints, five
//! public inputs), 64 distinct statements under one key. Groth16 verification cost does not
//! depend on the circuit's size, only on its public-input count, which is `zk-transfer`'s
//! (five, `verifier::zk_transfer::PUBLIC_INPUTS`): so the proofs take milliseconds to make and
//! the timings are those of `zk-transfer` proofs.
//!
//! What is measured, in the criterion group `span`, both on one thread (so the ratio is the
//! algorithm's, not the core count's), both decoding every proof with validation:
//!
//! - `batched`: `verifier::zk_transfer::batch::verify_batch` of the 64 proofs: 64 + 3 Miller loop pairs and
//!   one final exponentiation;
//! - `individual`: `verifier::zk_transfer::groth16::verify_zk_blob` of each: 3 pairs and one final
//!   exponentiation per proof.
//!
//! Goal: batched at least 5x faster per proof. `stateless bench --history` prints the same two
//! figures as `span_batched_ms_per_proof` and `span_individual_ms_per_proof`.
//!
//! The group `span_aggregate` checks 256 chained proofs (of a one-constraint circuit with the
//! same five public inputs, `prover::zk::aggregate::chained`) as one SnarkPack aggregate
//! (`verifier::zk_transfer::aggregate::verify_aggregate`: 8 rounds) against the batched check
//! of the same 256 proofs, both on every thread. `stateless bench --history` measures the same at
//! 2^10 and 2^16 proofs (`span_aggregate`).
//!
//! ```sh
//! cargo bench --bench span
//! ```
//!
//! Smoke mode (`cargo bench --bench span -- --test`, or `cargo test --benches`) runs each once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prover::zk::groth16::rng_from_seed;
use prover::zk::synthetic::{self, SyntheticCircuit};
use verifier::zk_transfer::batch::{BatchEntry, verify_batch};
use verifier::zk_transfer::groth16::{PreparedKey, encode_proof, verify_zk_blob};

/// Proofs per batch.
const PROOFS: u64 = 64;

/// Constraints of the synthetic circuit.
const CONSTRAINTS: usize = 64;

fn bench_span(c: &mut Criterion) {
    let mut rng = rng_from_seed([7; 32]);
    let pk = synthetic::setup(SyntheticCircuit::of_size(CONSTRAINTS, 0), &mut rng).expect("setup");
    let key = PreparedKey::new(&pk.vk).expect("the real circuit's public-input count");
    let proofs: Vec<_> = (1..=PROOFS)
        .map(|seed| {
            let circuit = SyntheticCircuit::of_size(CONSTRAINTS, seed);
            let proof = synthetic::prove(&pk, circuit).expect("prove");
            (circuit.public_inputs(), encode_proof(&proof))
        })
        .collect();
    let entries: Vec<BatchEntry<'_>> = proofs
        .iter()
        .map(|(public_inputs, proof)| BatchEntry {
            key: 0,
            public_inputs: *public_inputs,
            proof,
        })
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    pool.install(|| verify_batch(&[&key], &entries))
        .expect("the batch verifies");

    let mut group = c.benchmark_group("span");
    group
        .throughput(Throughput::Elements(PROOFS))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("batched", |b| {
        b.iter(|| pool.install(|| verify_batch(&[&key], black_box(&entries)).expect("valid")));
    });
    group.bench_function("individual", |b| {
        b.iter(|| {
            pool.install(|| {
                for (input, proof) in &proofs {
                    verify_zk_blob(&key, input, black_box(proof)).expect("valid");
                }
            })
        });
    });
    group.finish();
}

/// Proofs in the aggregate group.
const AGGREGATED: usize = 256;

fn bench_aggregate(c: &mut Criterion) {
    use prover::zk::aggregate::{Srs, aggregate, chained};
    use verifier::zk_transfer::aggregate::verify_aggregate;
    let pk = chained::keys(1);
    let steps = chained::chain(&pk, AGGREGATED, 2);
    let srs = Srs::insecure(AGGREGATED, &mut rng_from_seed([3; 32])).expect("srs");
    let srs_key = srs.key().expect("srs key");
    let (statement, bytes) = aggregate(&srs, &pk.vk, &steps).expect("aggregate");
    let key = PreparedKey::new(&pk.vk).expect("five public inputs");
    let proofs = chained::encoded_proofs(&steps);
    let entries = chained::batch_entries(&steps, &proofs);

    let mut group = c.benchmark_group("span_aggregate");
    group
        .throughput(Throughput::Elements(AGGREGATED as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("aggregate", |b| {
        b.iter(|| {
            verify_aggregate(&pk.vk, &srs_key, &statement, black_box(&bytes)).expect("valid")
        });
    });
    group.bench_function("batched", |b| {
        b.iter(|| verify_batch(&[&key], black_box(&entries)).expect("valid"));
    });
    group.finish();
}

criterion_group!(benches, bench_span, bench_aggregate);
criterion_main!(benches);
