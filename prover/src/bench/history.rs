//! `stateless bench --history`: ancestry proofs and span verification, measured in one process.
//!
//! - `ancestry_verify_us`, `ancestry_proof_bytes`: checking that a header 2^20 blocks back
//!   (2^12 in quick mode) is an ancestor of a tip, in a synthetic accumulator of as many headers
//!   ([`verifier::ancestry::synthetic_history`]); the median of several timed loops of
//!   `verify_history_proof`, and the bytes of hashes the proof carries. Goals: ≤ 50 µs and
//!   ≤ 32 × 21 bytes.
//! - `span_batched_ms_per_proof`, `span_individual_ms_per_proof`: 64 Groth16 proofs (one public
//!   input each, distinct statements) checked in one batch ([`verifier::zk_transfer::batch::verify_batch`])
//!   and one by one ([`verifier::zk_transfer::groth16::verify_zk_blob`]), both decoding the proofs with
//!   validation; medians of several rounds. Goal: batched ≥ 5x faster per proof.
//!
//! - `span_aggregate`: for n = 2^10 and 2^16 proofs (8 in quick mode), one SnarkPack aggregate
//!   with chained statements ([`crate::zk::aggregate`]): `span_aggregate_verify_ms` (median,
//!   all threads), `span_aggregate_bytes`, `span_aggregate_prove_s` (one run), and the batched
//!   check of the same n proofs on the same threads (`span_batched_verify_ms`) for the ratio.
//!   Goal at 2^16: verify ≤ 100 ms, ≤ 64 KB. The proofs are of a one-constraint circuit with the
//!   blob circuit's five public inputs ([`crate::zk::aggregate::chained`]): an aggregate's size
//!   and verification depend on n and the key's shape, not on the circuit's size.
//!
//! The proofs come from a tiny synthetic circuit (`crate::zk::synthetic`, 64 constraints):
//! Groth16 verification does not depend on the circuit's size, only on its public-input count
//! (one, as `zk-transfer`'s), so the 64 proofs take milliseconds to make instead of minutes.
//! Both span timings run on one thread, so their ratio is the algorithm's, not the core count's.

use std::hint::black_box;

use super::median;
use std::time::Instant;

use crate::zk::groth16::rng_from_seed;
use crate::zk::synthetic::{self, SyntheticCircuit};
use anyhow::{Context, Result, ensure};
use serde_json::json;
use verifier::ancestry::synthetic_history;
use verifier::verify_history_proof;
use verifier::zk_transfer::batch::{BatchEntry, verify_batch};
use verifier::zk_transfer::groth16::{PROOF_BYTES, PreparedKey, encode_proof, verify_zk_blob};

/// How far back the proven header is: 2^20 blocks (2^12 in quick mode).
const LOG2_BACK: u32 = 20;
const LOG2_BACK_QUICK: u32 = 12;

/// Proofs in the span measurement (the same in quick mode: they are cheap).
const SPAN_PROOFS: usize = 64;

/// Constraints of the synthetic circuit the span proofs are for.
const SYNTHETIC_CONSTRAINTS: usize = 64;

/// A synthetic proof with its circuit, which gives its public inputs.
type SpanProofOf = (SyntheticCircuit, [u8; PROOF_BYTES]);

/// `count` proofs of distinct statements under one key of the synthetic circuit: the prepared
/// key, and each proof's circuit (which gives its public inputs) and bytes.
fn span_proofs(count: usize) -> Result<(PreparedKey, Vec<SpanProofOf>)> {
    let mut rng = rng_from_seed([7; 32]);
    let pk = synthetic::setup(
        SyntheticCircuit::of_size(SYNTHETIC_CONSTRAINTS, 0),
        &mut rng,
    )
    .context("synthetic setup")?;
    let key = PreparedKey::new(&pk.vk).map_err(|e| anyhow::anyhow!("synthetic key: {e}"))?;
    let proofs = (1..=count as u64)
        .map(|seed| {
            let circuit = SyntheticCircuit::of_size(SYNTHETIC_CONSTRAINTS, seed);
            let proof = synthetic::prove(&pk, circuit).context("synthetic proof")?;
            Ok((circuit, encode_proof(&proof)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((key, proofs))
}

/// Proof counts of the aggregate measurement: 2^10 and 2^16 (8 in quick mode).
const AGGREGATE_SIZES: [usize; 2] = [1 << 10, 1 << 16];
const AGGREGATE_SIZES_QUICK: [usize; 1] = [8];

/// One aggregate measurement at `n` proofs (module documentation).
fn aggregate_at(n: usize, rounds: usize) -> Result<serde_json::Value> {
    use crate::zk::aggregate::{Srs, aggregate, chained};
    use verifier::zk_transfer::aggregate::verify_aggregate;
    let pk = chained::keys(n as u64);
    let started = Instant::now();
    let steps = chained::chain(&pk, n, 11);
    let proving_s = started.elapsed().as_secs_f64();
    let srs = Srs::insecure(n.next_power_of_two(), &mut rng_from_seed([8; 32]))
        .map_err(|e| anyhow::anyhow!("srs: {e}"))?;
    let srs_key = srs.key().map_err(|e| anyhow::anyhow!("srs: {e}"))?;
    let started = Instant::now();
    let (statement, bytes) =
        aggregate(&srs, &pk.vk, &steps).map_err(|e| anyhow::anyhow!("aggregate: {e}"))?;
    let prove_s = started.elapsed().as_secs_f64();
    let verify_ms = median(
        (0..rounds)
            .map(|_| {
                let started = Instant::now();
                let verdict = verify_aggregate(&pk.vk, &srs_key, &statement, black_box(&bytes));
                ensure!(verdict.is_ok(), "the aggregate failed: {verdict:?}");
                Ok(started.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<Result<Vec<_>>>()?,
    );
    let key = PreparedKey::new(&pk.vk).map_err(|e| anyhow::anyhow!("key: {e}"))?;
    let proofs = chained::encoded_proofs(&steps);
    let entries = chained::batch_entries(&steps, &proofs);
    let batched_ms = median(
        (0..rounds)
            .map(|_| {
                let started = Instant::now();
                let verdict = verify_batch(&[&key], black_box(&entries));
                ensure!(verdict.is_ok(), "the batch failed");
                Ok(started.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<Result<Vec<_>>>()?,
    );
    eprintln!(
        "aggregate of {n} proofs: verify {verify_ms:.1} ms, {} bytes, prove {prove_s:.1} s; \
         batched check {batched_ms:.1} ms",
        bytes.len()
    );
    Ok(json!({
        "proofs": n,
        "span_aggregate_verify_ms": verify_ms,
        "span_aggregate_bytes": bytes.len(),
        "span_aggregate_prove_s": prove_s,
        "span_batched_verify_ms": batched_ms,
        "span_aggregate_speedup": batched_ms / verify_ms,
        "groth16_proving_s": proving_s,
    }))
}

/// Runs the measurements (`stateless bench --history`) and returns their keys as one JSON
/// object.
pub fn run(quick: bool) -> Result<serde_json::Value> {
    // Ancestry.
    let log2_back = if quick { LOG2_BACK_QUICK } else { LOG2_BACK };
    let (tip, proof, _) = synthetic_history(log2_back).context("synthetic history")?;
    verify_history_proof(&proof, &tip).context("the synthetic ancestry proof")?;
    let hashes = proof.peak_path.len() + proof.other_peaks.len();
    let loops = if quick { 3 } else { 7 };
    let rounds = if quick { 200 } else { 5_000 };
    let ancestry_us = median(
        (0..loops)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..rounds {
                    let _ = black_box(verify_history_proof(black_box(&proof), &tip));
                }
                started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
            })
            .collect(),
    );

    // Span proofs: batched against one by one, on one thread.
    let (key, proofs) = span_proofs(SPAN_PROOFS)?;
    let proofs: Vec<_> = proofs
        .iter()
        .map(|(circuit, proof)| (circuit.public_inputs(), proof))
        .collect();
    let entries: Vec<BatchEntry<'_>> = proofs
        .iter()
        .map(|&(public_inputs, proof)| BatchEntry {
            key: 0,
            public_inputs,
            proof,
        })
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .context("a one-thread pool")?;
    let span_rounds = if quick { 3 } else { 9 };
    let (batched, individual) = pool.install(|| -> Result<(f64, f64)> {
        verify_batch(&[&key], &entries).context("the batch of synthetic proofs")?;
        let mut batched = Vec::new();
        let mut individual = Vec::new();
        for _ in 0..span_rounds {
            let started = Instant::now();
            let verdict = verify_batch(&[&key], black_box(&entries));
            batched.push(started.elapsed().as_secs_f64() * 1e3);
            ensure!(verdict.is_ok(), "the batch failed");
            let started = Instant::now();
            for (input, proof) in &proofs {
                let verdict = verify_zk_blob(&key, input, black_box(proof));
                ensure!(verdict.is_ok(), "a synthetic proof failed");
            }
            individual.push(started.elapsed().as_secs_f64() * 1e3);
        }
        Ok((median(batched), median(individual)))
    })?;
    let per_proof = |total_ms: f64| total_ms / SPAN_PROOFS as f64;

    // Aggregates, on every thread of the caller's pool.
    let sizes: &[usize] = if quick {
        &AGGREGATE_SIZES_QUICK
    } else {
        &AGGREGATE_SIZES
    };
    let aggregates = sizes
        .iter()
        .map(|&n| aggregate_at(n, if n > 1 << 12 { 3 } else { 7 }))
        .collect::<Result<Vec<_>>>()?;

    Ok(json!({
        "ancestry_blocks_back": 1u64 << log2_back,
        "ancestry_verify_us": ancestry_us,
        "ancestry_proof_bytes": 32 * hashes,
        "ancestry_proof_hashes": hashes,
        "span_proofs": SPAN_PROOFS,
        "span_threads": 1,
        "span_batched_ms_per_proof": per_proof(batched),
        "span_individual_ms_per_proof": per_proof(individual),
        "span_batched_speedup": individual / batched,
        "span_aggregate": aggregates,
        "span_aggregate_circuit": "one constraint with the zk-transfer circuit's five public \
            inputs: an aggregate's size and verification time depend on the proof count and the \
            key's shape, not on the circuit's size",
        "threads": rayon::current_num_threads(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_run_reports_every_key() {
        let value = run(true).unwrap();
        for key in [
            "ancestry_verify_us",
            "ancestry_proof_bytes",
            "span_batched_ms_per_proof",
            "span_individual_ms_per_proof",
        ] {
            assert!(
                value[key].as_f64().is_some_and(|v| v > 0.0),
                "{key}: {value}"
            );
        }
        let aggregate = &value["span_aggregate"][0];
        assert_eq!(aggregate["proofs"], 8);
        for key in [
            "span_aggregate_verify_ms",
            "span_aggregate_bytes",
            "span_batched_verify_ms",
        ] {
            assert!(
                aggregate[key].as_f64().is_some_and(|v| v > 0.0),
                "{key}: {value}"
            );
        }
        // 2^12 blocks back: 12 path hashes and one other peak.
        assert_eq!(value["ancestry_proof_bytes"], 32 * 13);
    }

    /// The full measurement, on request (until `stateless bench --history` calls [`run`]):
    /// `cargo test --release -p prover --features bench bench::history -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check: run on request"]
    fn full_run() {
        let value = run(false).unwrap();
        println!("{}", serde_json::to_string_pretty(&value).unwrap());
        assert_eq!(value["ancestry_proof_bytes"], 32 * 21);
    }
}
