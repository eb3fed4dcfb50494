//! `zk-transfer` proving and verification at a small shape, next to plain Groth16 of the same
//! size.
//!
//! What is measured (throughput in transactions of one batch):
//!
//! - `zk_prove/transfer_batch/…`: one proof of a full batch of generated transfers, from the
//!   blob's Merkle witness: the circuit's witness ([`build_witness`]), then a
//!   [`KeyedProver`]'s proof (the witness synthesised alone, ark-groth16 with the circuit's
//!   matrices, built once before, then the proof's check), as the chain's prover proves.
//! - `zk_prove/synthetic_baseline/…`: plain ark-groth16 proving of a [`SyntheticCircuit`] with
//!   the real circuit's constraint count, witness variable count and witness value classes
//!   (`prover::zk::synthetic` says why those). The ratio of the two is `zk_prove_overhead` of
//!   `stateless bench --zk`.
//! - `zk_verify/zk_blob/…` and `zk_verify/merkle_blob/…`: [`verify_blob`] on the same
//!   transactions with a zk proof and with a Merkle witness.
//!
//! Setup, once and outside the measurement: a seeded `zk-transfer` workload of 16 accounts, one
//! block of one batch built by a `ProverState` (Merkle witness), key generation for the real and
//! the synthetic circuit.
//!
//! ```sh
//! cargo bench --bench zk          # depth 8, batch 4: a few minutes
//! ```
//!
//! Smoke mode (`-- --test`, `cargo test --benches`, or `STATELESS_BENCH_QUICK=1`): depth 6,
//! batch 2, each benchmark once. The full-size figures (depth 32, batch 64) come from
//! `stateless bench --zk`, whose setup alone takes minutes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use prover::workload::{AccessPattern, WorkloadGenerator, WorkloadSpec};
use prover::zk::circuit::{TransferBatchCircuit, merkle_blob_circuit};
use prover::zk::groth16::{self, KeyedProver, ProvingKey};
use prover::zk::keys::Shape;
use prover::zk::synthetic::{self, SyntheticCircuit, WitnessProfile, witness_profile};
use prover::{BlockOptions, ProverState};
use verifier::zk_transfer::groth16::{encode_proof, verifying_key_hash};
use verifier::{ChainParams, verify_blob};
use witness_format::{Blob, Bytes, Model, Witness, ZkKeyPin, ZkWitness};

/// Accounts of the workload: few enough for the smoke mode's tree of 64 leaves, with room for
/// the accounts that transfers create.
const ACCOUNTS: u64 = 16;

/// Fixed, so every run measures the same batch.
const SEED: u64 = 0x5eed_2024;

/// Whether to run the small shape once: `STATELESS_BENCH_QUICK=1`, or criterion's test mode.
fn quick() -> bool {
    let env = std::env::var("STATELESS_BENCH_QUICK").is_ok_and(|v| v == "1");
    let test = std::env::args().any(|a| a == "--test");
    let bench = std::env::args().any(|a| a == "--bench");
    env || test || !bench
}

/// What the benchmarks share, prepared once.
struct Fixture {
    shape: Shape,
    params: ChainParams,
    merkle_blob: Blob,
    zk_blob: Blob,
    keyed: KeyedProver,
    profile: WitnessProfile,
    baseline_pk: ProvingKey,
}

impl Fixture {
    fn new(depth: u8, batch: usize) -> Self {
        let spec = WorkloadSpec {
            tree_depth: depth,
            accounts: ACCOUNTS,
            seed: SEED,
            ..WorkloadSpec::default()
        };
        let chain_id = spec.chain_id;
        let mut generator = WorkloadGenerator::for_model(&spec, Model::ZkTransfer);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut prover = ProverState::open(&dir.path().join("zk.redb"), &generator.allocation())
            .expect("a prover state");
        let txs = generator.next_block(batch, AccessPattern::Uniform);
        let options = BlockOptions {
            txs_per_blob: batch,
            ..BlockOptions::default()
        };
        let (block, _) = prover
            .build_block(&txs.transactions, options)
            .expect("a block");
        let merkle_blob = block.blobs.first().expect("one blob").clone();

        eprintln!("setup: keys for depth {depth}, batch {batch}, and for the baseline...");
        let shape = Shape::new(
            depth,
            u16::try_from(batch).expect("a small batch"),
            chain_id,
        );
        let (pk, vk) = groth16::setup_from_seed(shape, [1; 32]).expect("keys");
        let circuit = circuit(shape, &merkle_blob);
        let profile = witness_profile(circuit.clone()).expect("a profile");
        let baseline_pk =
            synthetic::setup_from_seed(SyntheticCircuit::matching(profile, 0), [2; 32])
                .expect("baseline keys");
        let keyed = KeyedProver::new(pk, shape);
        let proof = keyed.prove(circuit).expect("a proof");
        let zk_blob = Blob {
            witness: Witness::Zk(ZkWitness {
                proof: Bytes(encode_proof(&proof)),
            }),
            ..merkle_blob.clone()
        };
        let mut params = ChainParams::from_genesis(prover.genesis()).expect("params");
        params.zk_pins = vec![ZkKeyPin {
            batch: u16::try_from(batch).expect("a small batch"),
            vk_hash: verifying_key_hash(&vk),
        }];
        params.add_zk_keys(&[vk]).expect("a pinned key");
        verify_blob(&params, &zk_blob).expect("the zk blob verifies");
        verify_blob(&params, &merkle_blob).expect("the Merkle blob verifies");
        eprintln!(
            "setup: {} constraints ({} per transaction)",
            profile.constraints,
            profile.constraints / batch
        );
        Self {
            shape,
            params,
            merkle_blob,
            zk_blob,
            keyed,
            profile,
            baseline_pk,
        }
    }
}

/// The circuit for the blob's transactions, its witness built from the blob's Merkle witness
/// (what `stateless bench --zk` measures too).
fn circuit(shape: Shape, blob: &Blob) -> TransferBatchCircuit {
    merkle_blob_circuit(shape, 0, blob).expect("a witness")
}

fn benches(c: &mut Criterion) {
    let (depth, batch) = if quick() { (6, 2) } else { (8, 4) };
    let f = Fixture::new(depth, batch);
    let shape = format!("depth{}_batch{}", f.shape.depth, f.shape.batch);

    let mut group = c.benchmark_group("zk_prove");
    group.throughput(Throughput::Elements(u64::from(f.shape.batch)));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(30));
    group.bench_function(BenchmarkId::new("transfer_batch", &shape), |b| {
        b.iter(|| black_box(f.keyed.prove(circuit(f.shape, &f.merkle_blob))));
    });
    group.bench_function(BenchmarkId::new("synthetic_baseline", &shape), |b| {
        let mut round = 0u8;
        b.iter(|| {
            round = round.wrapping_add(1);
            let circuit = SyntheticCircuit::matching(f.profile, u64::from(round));
            black_box(synthetic::prove(&f.baseline_pk, circuit))
        });
    });
    group.finish();

    let mut group = c.benchmark_group("zk_verify");
    group.throughput(Throughput::Elements(u64::from(f.shape.batch)));
    group.bench_function(BenchmarkId::new("zk_blob", &shape), |b| {
        b.iter(|| verify_blob(&f.params, black_box(&f.zk_blob)));
    });
    group.bench_function(BenchmarkId::new("merkle_blob", &shape), |b| {
        b.iter(|| verify_blob(&f.params, black_box(&f.merkle_blob)));
    });
    group.finish();
}

criterion_group!(zk, benches);
criterion_main!(zk);
