//! `stateless bench --zk`: the `zk-transfer` proof system against its alternatives, in one
//! process, on the same transactions (the CLI prints the report).
//!
//! 1. Keys: read from `--keys` (written by `stateless zk setup`), or generated here (the setup's
//!    time and peak memory are then measured).
//! 2. One blob of `batch` generated `zk-transfer` transfers is built by the prover with a
//!    Merkle witness; the same transactions are then proven: the circuit's witness is built
//!    from that Merkle witness ([`crate::zk::witness::build_witness`]) and proven by a
//!    [`KeyedProver`], as the chain's prover proves (the circuit's matrices built once, at the
//!    first proof; each proof checked before it is returned). One warm-up proof, which builds
//!    the matrices, measures proving's peak memory.
//! 3. The baseline: plain ark-groth16 key generation and proving of a
//!    [`SyntheticCircuit`] with the real circuit's constraint count, witness variable count,
//!    witness value classes and appearances in A and B. Real and synthetic proofs alternate, so load on a shared machine
//!    hits both alike; each time is the median of `proofs` proofs.
//! 4. Verification, all threads: a block of `verify_blobs` copies of the zk blob, decoded and
//!    checked as the chain verifier does (`check_blobs`: the proofs in one batched pairing
//!    check) and committed to, against the same for the Merkle-witness
//!    blob of the same transactions, and for a `transfer` chain's blobs of the same size (the
//!    fastest alternative a user has: SHA3 and Ed25519). The three blocks take turns, one run
//!    each per round, so a change of load on a shared machine hits them alike;
//!    `zk_over_transfer_verify` is the median of each round's zk / `transfer` ratio.
//!
//! `zk_prove_overhead` is therefore (witness building + a satisfaction check, which is one
//! synthesis + the prover's own synthesis + Groth16) over (one synthesis of a sparse circuit +
//! Groth16), for the same constraint count and witness value sizes.

use std::path::PathBuf;
use std::time::Instant;

use crate::workload::{AccessPattern, WorkloadGenerator, WorkloadSpec};
use crate::zk::circuit::{TransferBatchCircuit, merkle_blob_circuit};
use crate::zk::groth16::{self, KeyedProver, ProvingKey, VerifyingKey};
use crate::zk::keys::Shape;
use crate::zk::synthetic::{self, SyntheticCircuit, WitnessProfile, witness_profile};
use crate::{BlockOptions, ProverState};
use anyhow::Context;
use serde::Serialize;
use verifier::zk_transfer::groth16::{encode_proof, verifying_key_hash};
use verifier::{ChainParams, verify_blob};
use witness_format::ssz_types::VariableList;
use witness_format::{
    Blob, Block, Bytes, Model, SszEncode, Witness, ZK_PROOF_BYTES, ZkKeyPin, ZkWitness, encode_file,
};

use super::{Bench, Prepared, VerifyCase, median, verify_rounds};

/// The goals of the benchmark issue, checked in the report.
pub mod goals {
    /// Most constraints per transfer (a depth-32 Poseidon path is about 8,000 constraints, an
    /// in-circuit Jubjub signature check about 6,000).
    pub const CONSTRAINTS_PER_TX: f64 = 40_000.0;
    /// Most proving time over plain Groth16 of the same size.
    pub const PROVE_OVERHEAD: f64 = 1.15;
    /// Most zk witness bytes as a share of the Merkle witness's, for the same transactions.
    pub const BYTES_SHARE: f64 = 0.1;
}

/// What `stateless bench --zk` is asked for; unset sizes take their defaults (smaller with
/// `quick`).
#[derive(Clone, Debug, Default)]
pub struct ZkOptions {
    /// Tree depth of the circuit (default 32; 6 with `quick`).
    pub depth: Option<u8>,
    /// Transactions per proof (default 64; 2 with `quick`).
    pub batch: Option<usize>,
    /// Keys written by `stateless zk setup` for the same depth and batch, instead of
    /// generating them here.
    pub keys: Option<PathBuf>,
    /// Proofs per median, real and baseline each, after one warm-up proof (default 3; 1 with
    /// `quick`).
    pub proofs: Option<usize>,
    /// Top tree levels a proof computes once for its blob (default 0; with `keys`, the keys'
    /// own, which this must then equal).
    pub shared_levels: Option<u8>,
    /// Accounts in the state (default 2^16; 16 with `quick`).
    pub accounts: Option<u64>,
    /// Smaller shapes and fewer repetitions.
    pub quick: bool,
}

/// The shapes and sizes of one run.
struct Plan {
    depth: u8,
    batch: usize,
    accounts: u64,
    /// Proofs per median (real and synthetic each), after one warm-up proof.
    proofs: usize,
    /// Shared levels of keys generated here (`--keys` bring their own).
    shared_levels: Option<u8>,
    /// Blobs per verification measurement.
    verify_blobs: usize,
    /// Verification rounds (each block once per round) per median.
    repetitions: usize,
    keys: Option<PathBuf>,
}

impl Plan {
    fn new(args: &ZkOptions) -> anyhow::Result<Self> {
        let quick = args.quick;
        let plan = Self {
            depth: args.depth.unwrap_or(if quick { 6 } else { 32 }),
            batch: args.batch.unwrap_or(if quick { 2 } else { 64 }),
            accounts: args.accounts.unwrap_or(if quick { 16 } else { 1 << 16 }),
            proofs: args.proofs.unwrap_or(if quick { 1 } else { 3 }),
            shared_levels: args.shared_levels,
            verify_blobs: if quick { 8 } else { 32 },
            repetitions: if quick { 3 } else { 15 },
            keys: args.keys.clone(),
        };
        anyhow::ensure!(
            (1..=64).contains(&plan.depth) && plan.batch >= 1 && plan.proofs >= 1,
            "--depth must be in 1..=64, --batch and --proofs at least 1"
        );
        anyhow::ensure!(
            plan.depth >= 64 || plan.accounts < 1 << plan.depth,
            "{} accounts leave no room in a tree of depth {}",
            plan.accounts,
            plan.depth
        );
        Ok(plan)
    }
}

/// The report of `stateless bench --zk`: the keys first, then what they come from.
#[derive(Serialize)]
pub struct ZkReport {
    /// Constraints per transfer slot.
    pub zk_constraints_per_tx: f64,
    /// Proving seconds per transfer (a median proof over the batch).
    pub zk_prove_s_per_tx: f64,
    /// Verification of zk blobs, transactions per second.
    pub zk_verify_tx_per_s: f64,
    /// zk witness bytes per transaction.
    pub zk_bytes_per_tx: f64,
    /// Merkle witness bytes per transaction, the same transactions.
    pub merkle_bytes_per_tx: f64,
    /// `zk_prove_s / baseline_prove_s`.
    pub zk_prove_overhead: f64,
    /// `transfer` model, Merkle witness, blobs of `batch` transfers: the comparison for
    /// `zk_verify_tx_per_s`.
    pub transfer_verify_tx_per_s: f64,
    /// The median over rounds of `zk-transfer` over `transfer` verification throughput, each
    /// round measuring both once, one after the other.
    pub zk_over_transfer_verify: f64,
    /// `zk-transfer` model with a Merkle witness, the same transactions as the zk blob.
    pub zk_merkle_verify_tx_per_s: f64,
    /// Median time of one real proof (witness building, its synthesis, Groth16, the proof's
    /// check; the circuit's matrices are built once, at the warm-up proof).
    pub zk_prove_s: f64,
    /// Median time of one plain ark-groth16 proof of the synthetic circuit.
    pub baseline_prove_s: f64,
    /// Key generation of the real circuit, when done here (not with `--keys`).
    pub setup_s: Option<f64>,
    /// Key generation of the synthetic circuit, the same ark-groth16 call.
    pub baseline_setup_s: f64,
    /// Peak resident memory while generating the real keys (`VmHWM`, reset before), when done
    /// here.
    pub setup_peak_memory_bytes: Option<u64>,
    /// Peak resident memory of one real proof, its proving key loaded (`VmHWM`, reset before).
    pub prove_peak_memory_bytes: Option<u64>,
    /// Constraints of the circuit.
    pub constraints: usize,
    /// Witness variables of the circuit.
    pub witness_variables: usize,
    /// Tree depth.
    pub depth: u8,
    /// Transactions per proof.
    pub batch: usize,
    /// Chain id of the keys.
    pub chain_id: u64,
    /// Top tree levels each proof computes once for its blob.
    pub shared_levels: u8,
    /// Accounts in the state.
    pub accounts: u64,
    /// Worker threads.
    pub threads: usize,
    /// Proofs per median.
    pub proofs: usize,
    /// Blobs per verification measurement.
    pub verify_blobs: usize,
    /// Verification rounds (each block once per round) per median.
    pub repetitions: usize,
    /// Which goals this run meets.
    pub goals_met: Goals,
}

/// Whether each goal of the issue holds in this run.
#[derive(Serialize)]
pub struct Goals {
    /// At most [`goals::CONSTRAINTS_PER_TX`].
    pub zk_constraints_per_tx: bool,
    /// At most [`goals::PROVE_OVERHEAD`].
    pub zk_prove_overhead: bool,
    /// At most [`goals::BYTES_SHARE`] of the Merkle witness's bytes.
    pub zk_bytes_per_tx: bool,
    /// At least the `transfer` model's verification throughput.
    pub zk_verify_tx_per_s: bool,
}

/// Resets the process's peak resident size (`VmHWM`) to its current size. Linux only: returns
/// whether it worked, so that a peak is only reported for a phase it really measured.
fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident size since `reset` (if the reset worked).
fn phase_peak(reset: bool) -> Option<u64> {
    reset.then(crate::verify_dir::peak_memory_bytes).flatten()
}

/// `stateless bench --zk`, on the current thread pool.
pub fn run(args: &ZkOptions) -> anyhow::Result<ZkReport> {
    let plan = Plan::new(args)?;
    let threads = rayon::current_num_threads();

    // 1. Keys.
    let Keys {
        pk,
        vk,
        shape,
        setup_s,
        setup_peak,
    } = keys(&plan)?;
    let chain_id = shape.chain_id;

    // 2. The transactions, with a Merkle witness from the prover.
    eprintln!(
        "bench --zk: depth {}, batch {}, {} shared levels, {} accounts, {threads} threads",
        plan.depth, plan.batch, shape.shared_levels, plan.accounts
    );
    let spec = WorkloadSpec {
        chain_id,
        tree_depth: plan.depth,
        accounts: plan.accounts,
        ..WorkloadSpec::default()
    };
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let mut generator = WorkloadGenerator::for_model(&spec, Model::ZkTransfer);
    let mut prover = ProverState::open(&dir.path().join("zk.redb"), &generator.allocation())?;
    let transactions = generator.next_block(plan.batch, AccessPattern::Uniform);
    let (block, report) = prover.build_block(
        &transactions.transactions,
        BlockOptions {
            txs_per_blob: plan.batch,
            ..BlockOptions::default()
        },
    )?;
    anyhow::ensure!(
        report.dropped.is_empty() && block.blobs.len() == 1,
        "the generated transactions should make exactly one blob"
    );
    let merkle_blob = block.blobs.first().context("no blob")?.clone();

    // The real circuit's size and witness, for the constraint count and the baseline.
    let profile = witness_profile(real_circuit(shape, &merkle_blob)?)
        .map_err(|e| anyhow::anyhow!("synthesis: {e}"))?;
    eprintln!(
        "bench --zk: {} constraints, {} witness variables ({} zero, {} ±1, {} small)",
        profile.constraints, profile.witness_variables, profile.zeros, profile.units, profile.small
    );

    // The warm-up proof, which also measures proving's peak memory.
    let reset = reset_peak_memory();
    let keyed = KeyedProver::new(pk, shape);
    let (proof, seconds) = prove_real(&keyed, &merkle_blob)?;
    let prove_peak = phase_peak(reset);
    eprintln!("bench --zk: warm-up proof {seconds:.2} s");

    // 3. The baseline's keys, then real and synthetic proofs in turn.
    let (baseline_pk, baseline_setup_s) = baseline_keys(profile)?;
    let (mut real, mut plain) = (Vec::new(), Vec::new());
    for round in 1..=plan.proofs {
        real.push(prove_real(&keyed, &merkle_blob)?.1);
        plain.push(prove_baseline(&baseline_pk, profile, round)?);
        eprintln!(
            "bench --zk: proof {round}/{}: {:.2} s, baseline {:.2} s",
            plan.proofs,
            real.last().copied().unwrap_or_default(),
            plain.last().copied().unwrap_or_default()
        );
    }
    drop(baseline_pk);
    drop(keyed);
    let (zk_prove_s, baseline_prove_s) = (median(real), median(plain));

    // 4. Verification of the same transactions, both witnesses, and of `transfer`, in turns.
    let zk_blob = Blob {
        witness: Witness::Zk(ZkWitness {
            proof: Bytes(proof),
        }),
        ..merkle_blob.clone()
    };
    let mut params =
        ChainParams::from_genesis(prover.genesis()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let batch_pin = u16::try_from(plan.batch).context("--batch must fit 16 bits")?;
    params.zk_pins = vec![ZkKeyPin {
        batch: batch_pin,
        vk_hash: verifying_key_hash(&vk),
    }];
    params
        .add_zk_keys(std::slice::from_ref(&vk))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    verify_blob(&params, &zk_blob).map_err(|e| anyhow::anyhow!("the zk blob: {e}"))?;
    let copies = |blob: &Blob| -> anyhow::Result<Vec<u8>> {
        let blobs = VariableList::new(vec![blob.clone(); plan.verify_blobs])
            .map_err(|e| anyhow::anyhow!("too many blobs: {e:?}"))?;
        Ok(encode_file(&Block {
            header: block.header.clone(),
            blobs,
        }))
    };
    let txs = plan.batch * plan.verify_blobs;
    let (zk_file, zk_merkle_file) = (copies(&zk_blob)?, copies(&merkle_blob)?);
    let (transfer_params, transfer) = transfer_block(&plan, chain_id)?;
    eprintln!("bench --zk: verification, {} rounds", plan.repetitions);
    let [zk_samples, transfer_samples, zk_merkle_samples] = verify_rounds(
        [
            VerifyCase {
                params: &params,
                file: &zk_file,
                txs,
            },
            VerifyCase {
                params: &transfer_params,
                file: &transfer.file,
                txs: transfer.txs,
            },
            VerifyCase {
                params: &params,
                file: &zk_merkle_file,
                txs,
            },
        ],
        plan.repetitions,
    )?;
    let zk_over_transfer = median(
        zk_samples
            .iter()
            .zip(&transfer_samples)
            .map(|(zk, transfer)| zk / transfer)
            .collect(),
    );
    let (zk_verify, transfer_verify, zk_merkle_verify) = (
        median(zk_samples),
        median(transfer_samples),
        median(zk_merkle_samples),
    );

    let per_tx = |witness: &Witness| witness.ssz_bytes_len() as f64 / plan.batch as f64;
    let (zk_bytes, merkle_bytes) = (per_tx(&zk_blob.witness), per_tx(&merkle_blob.witness));
    let constraints_per_tx = profile.constraints as f64 / plan.batch as f64;
    let overhead = zk_prove_s / baseline_prove_s;
    Ok(ZkReport {
        zk_constraints_per_tx: constraints_per_tx,
        zk_prove_s_per_tx: zk_prove_s / plan.batch as f64,
        zk_verify_tx_per_s: zk_verify,
        zk_bytes_per_tx: zk_bytes,
        merkle_bytes_per_tx: merkle_bytes,
        zk_prove_overhead: overhead,
        transfer_verify_tx_per_s: transfer_verify,
        zk_over_transfer_verify: zk_over_transfer,
        zk_merkle_verify_tx_per_s: zk_merkle_verify,
        zk_prove_s,
        baseline_prove_s,
        setup_s,
        baseline_setup_s,
        setup_peak_memory_bytes: setup_peak,
        prove_peak_memory_bytes: prove_peak,
        constraints: profile.constraints,
        witness_variables: profile.witness_variables,
        depth: plan.depth,
        batch: plan.batch,
        chain_id,
        shared_levels: shape.shared_levels,
        accounts: plan.accounts,
        threads,
        proofs: plan.proofs,
        verify_blobs: plan.verify_blobs,
        repetitions: plan.repetitions,
        goals_met: Goals {
            zk_constraints_per_tx: constraints_per_tx <= goals::CONSTRAINTS_PER_TX,
            zk_prove_overhead: overhead <= goals::PROVE_OVERHEAD,
            zk_bytes_per_tx: zk_bytes <= goals::BYTES_SHARE * merkle_bytes,
            zk_verify_tx_per_s: zk_verify >= transfer_verify,
        },
    })
}

/// A key pair, the chain id it is for (a constant of the circuit), and what generating it
/// took when that happened here.
struct Keys {
    pk: ProvingKey,
    vk: VerifyingKey,
    shape: Shape,
    setup_s: Option<f64>,
    setup_peak: Option<u64>,
}

/// Keys from `--keys`, or generated here with their setup time and peak memory.
fn keys(plan: &Plan) -> anyhow::Result<Keys> {
    if let Some(dir) = &plan.keys {
        eprintln!("bench --zk: loading keys from {}", dir.display());
        let crate::zk::keys::Keys { shape, pk, vk } = crate::zk::keys::read_keys(dir)?;
        anyhow::ensure!(
            shape.depth == plan.depth && shape.batch() == plan.batch,
            "{} holds keys for depth {}, batch {}; the bench is for depth {}, batch {}",
            dir.display(),
            shape.depth,
            shape.batch,
            plan.depth,
            plan.batch
        );
        anyhow::ensure!(
            plan.shared_levels
                .is_none_or(|levels| levels == shape.shared_levels),
            "{} holds keys with {} shared levels",
            dir.display(),
            shape.shared_levels
        );
        return Ok(Keys {
            pk,
            vk,
            shape,
            setup_s: None,
            setup_peak: None,
        });
    }
    let shape = Shape {
        shared_levels: plan.shared_levels.unwrap_or(0),
        ..Shape::new(
            plan.depth,
            u16::try_from(plan.batch).context("--batch must fit 16 bits")?,
            WorkloadSpec::default().chain_id,
        )
    };
    shape
        .check()
        .map_err(|e| anyhow::anyhow!("--shared-levels: {e}"))?;
    eprintln!(
        "bench --zk: key generation, depth {}, batch {} (local, insecure)",
        plan.depth, plan.batch
    );
    let reset = reset_peak_memory();
    let start = Instant::now();
    let (pk, vk) = groth16::setup_from_seed(shape, rand::random())
        .map_err(|e| anyhow::anyhow!("setup: {e}"))?;
    let seconds = start.elapsed().as_secs_f64();
    let peak = phase_peak(reset);
    eprintln!("bench --zk: setup {seconds:.1} s");
    Ok(Keys {
        pk,
        vk,
        shape,
        setup_s: Some(seconds),
        setup_peak: peak,
    })
}

/// The circuit for the blob's transactions, its witness built from the blob's Merkle witness
/// (the pre-state leaves, and the siblings in the multiproof's canonical order).
fn real_circuit(shape: Shape, blob: &Blob) -> anyhow::Result<TransferBatchCircuit> {
    merkle_blob_circuit(shape, 0, blob).map_err(|e| anyhow::anyhow!("witness: {e}"))
}

/// One real proof of the blob's transactions, from its Merkle witness: the proof bytes and the
/// seconds taken (witness building and proving).
fn prove_real(prover: &KeyedProver, blob: &Blob) -> anyhow::Result<([u8; ZK_PROOF_BYTES], f64)> {
    let start = Instant::now();
    let circuit = real_circuit(prover.shape(), blob)?;
    let proof = prover
        .prove(circuit)
        .map_err(|e| anyhow::anyhow!("proving: {e}"))?;
    Ok((encode_proof(&proof), start.elapsed().as_secs_f64()))
}

/// Keys for the synthetic twin of the real circuit, and the seconds their generation took.
fn baseline_keys(profile: WitnessProfile) -> anyhow::Result<(ProvingKey, f64)> {
    eprintln!("bench --zk: baseline key generation");
    let start = Instant::now();
    let pk = synthetic::setup_from_seed(SyntheticCircuit::matching(profile, 0), rand::random())
        .map_err(|e| anyhow::anyhow!("baseline setup: {e}"))?;
    Ok((pk, start.elapsed().as_secs_f64()))
}

/// Seconds for one plain ark-groth16 proof of the synthetic twin (a witness drawn per round).
fn prove_baseline(pk: &ProvingKey, profile: WitnessProfile, round: usize) -> anyhow::Result<f64> {
    let circuit = SyntheticCircuit::matching(profile, round as u64);
    let start = Instant::now();
    synthetic::prove(pk, circuit).map_err(|e| anyhow::anyhow!("baseline proving: {e}"))?;
    Ok(start.elapsed().as_secs_f64())
}

/// A block of the `transfer` model with as many blobs of `batch` transfers as the zk
/// measurement's, on a state of the same size and depth, and its chain's parameters.
fn transfer_block(plan: &Plan, chain_id: u64) -> anyhow::Result<(ChainParams, Prepared)> {
    eprintln!("bench --zk: a transfer block");
    let spec = WorkloadSpec {
        chain_id,
        tree_depth: plan.depth,
        accounts: plan.accounts,
        ..WorkloadSpec::default()
    };
    let generator = WorkloadGenerator::new(&spec);
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let prover = ProverState::open(&dir.path().join("transfer.redb"), &generator.allocation())?;
    let params = ChainParams::from_genesis(prover.genesis()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut bench = Bench {
        generator,
        prover,
        params,
        repetitions: 1,
        blobs: plan.verify_blobs,
        built: 0,
    };
    let (_, block) = bench.prove(AccessPattern::Uniform, plan.batch)?;
    let prepared = bench.prepare(&block);
    Ok((bench.params, prepared))
}
