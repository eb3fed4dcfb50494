//! The measurements behind `stateless bench` (feature `bench`): verification against the
//! signature floor, proving, and witness size, measured in one process on one generated
//! workload. The CLI picks the mode and prints the reports.
//!
//! Every throughput is a median over repetitions. The signature floor is raw Ed25519 batch
//! verification of exactly the measured blobs' signatures; verification is decode plus
//! `check_blobs` (what the chain verifier checks of each blob, and the blob commitments) on the
//! same blobs (the linkage pass, a few hashes per block, is left out, so no earlier chain is
//! needed). Both use all threads.
//!
//! `db_bytes_per_tx` is the growth of the prover's database (its allocated pages) over the main
//! measurement's blocks, per transaction included: blocks, state history, history accumulator
//! and state tables, what a long-running prover keeps; `history_bytes_per_tx` is the state
//! history's part (the undo entries).
//!
//! Each other mode is one submodule returning its own report: [`zk`] (`--zk`: the
//! `zk-transfer` proof system against Merkle witnesses and plain Groth16), [`history`]
//! (`--history`: ancestry proofs and span verification), [`evm`] (`--evm`: the `evm` model
//! on a generated workload and on real blocks) and [`farm`] (`--farm`: the proving farm against
//! in-process proving).

use std::time::Instant;

use crate::workload::{AccessPattern, WorkloadGenerator, WorkloadSpec};
use crate::{BlockOptions, ProverState};
use anyhow::Context;
use rayon::prelude::*;
use serde::Serialize;
use verifier::accounts::{TouchedState, touched_accounts};
use verifier::transfer::ed25519::invalid_indices;
use verifier::transfer::{SignedMessage, apply_rules, signature_checks};
use verifier::{ChainParams, check_blobs};
use witness_format::{Block, SszEncode, Transaction, Witness, decode_file, encode_file};

pub mod evm;
pub mod farm;
pub mod history;
pub mod zk;

/// What `stateless bench` measures by default: the size of the state and of the blobs.
#[derive(Clone, Copy, Debug)]
pub struct ThroughputPlan {
    /// Accounts in the state (default 2^20, 2^18 with `quick`).
    pub accounts: Option<u64>,
    /// Transactions per blob.
    pub txs_per_blob: usize,
    /// Fewer accounts, blobs and repetitions: under a minute on 2 cores.
    pub quick: bool,
}

/// One measured configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    /// Transactions per blob.
    pub txs_per_blob: usize,
    /// Raw Ed25519 batch verification of the same signatures, transactions per second.
    pub sig_floor_tx_per_s: f64,
    /// Decoding and checking the same blobs as the chain verifier does, transactions per second.
    pub verify_tx_per_s: f64,
    /// `verify_tx_per_s / sig_floor_tx_per_s`.
    pub floor_ratio: f64,
    /// Block building (the prover's own check of every blob included), transactions per second.
    pub prove_tx_per_s: f64,
    /// Witness bytes per transaction.
    pub witness_bytes_per_tx: f64,
    /// Blob bytes (transactions and witness) per transaction.
    pub blob_bytes_per_tx: f64,
}

/// The whole report.
#[derive(Serialize)]
pub struct BenchReport {
    /// Accounts in the state.
    pub accounts: u64,
    /// Transactions per blob of the main measurement.
    pub txs_per_blob: usize,
    /// Worker threads.
    pub threads: usize,
    /// The main measurement's signature floor.
    pub sig_floor_tx_per_s: f64,
    /// The main measurement's verification throughput.
    pub verify_tx_per_s: f64,
    /// The main measurement's `verify / floor`.
    pub floor_ratio: f64,
    /// Verification on all threads over verification on one.
    pub thread_speedup: f64,
    /// The main measurement's witness bytes per transaction.
    pub witness_bytes_per_tx: f64,
    /// The main measurement's blob bytes per transaction.
    pub blob_bytes_per_tx: f64,
    /// The main measurement's proving throughput.
    pub prove_tx_per_s: f64,
    /// Growth of the prover's database per transaction over the main measurement's blocks
    /// (blocks, state history, history accumulator and state tables).
    pub db_bytes_per_tx: f64,
    /// The state history's part of it (the undo entries).
    pub history_bytes_per_tx: f64,
    /// The same shape with Zipf(1.0) account access.
    pub zipf: Measurement,
    /// Uniform access over several blob sizes.
    pub sweep: Vec<Measurement>,
    /// Runs per median.
    pub repetitions: usize,
    /// Blobs per run.
    pub blobs_per_measurement: usize,
}

/// The median of `samples` (0 for none).
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

/// The measuring context: one prover state that every measurement builds on.
struct Bench {
    generator: WorkloadGenerator,
    prover: ProverState,
    params: ChainParams,
    repetitions: usize,
    blobs: usize,
    /// Transactions included in the blocks built so far.
    built: usize,
}

/// A block as bytes, with what the signature floor needs precomputed.
struct Prepared {
    file: Vec<u8>,
    signed: Vec<(Vec<SignedMessage>, Vec<Transaction>)>,
    txs: usize,
    witness_bytes: usize,
    blob_bytes: usize,
}

impl Bench {
    /// Builds `repetitions` blocks of `blobs` blobs each; returns the median proving throughput
    /// and the first block.
    fn prove(
        &mut self,
        pattern: AccessPattern,
        txs_per_blob: usize,
    ) -> anyhow::Result<(f64, Block)> {
        let options = BlockOptions {
            txs_per_blob,
            ..BlockOptions::default()
        };
        // The blocks are built as a run, as `stateless prove` builds them (each block's commit
        // overlapping the next block's blobs); a block's time is from the last one's landing
        // to its own.
        let mut samples = Vec::new();
        let mut first = None;
        // Signed ahead: signing is the users' work, not the prover's.
        let mut batches = (0..self.repetitions)
            .map(|_| {
                let batch = self
                    .generator
                    .next_block(self.blobs * txs_per_blob, pattern);
                vec![(batch.model, batch.transactions.to_vec())]
            })
            .collect::<Vec<_>>()
            .into_iter();
        let mut built = 0;
        let mut since = Instant::now();
        self.prover.build_blocks(
            || Ok::<_, anyhow::Error>(batches.next()),
            options,
            |_, block, report| {
                samples.push(report.included as f64 / since.elapsed().as_secs_f64());
                since = Instant::now();
                built += report.included;
                anyhow::ensure!(
                    report.dropped.is_empty(),
                    "generated transactions were dropped"
                );
                first.get_or_insert(block);
                Ok(())
            },
        )?;
        self.built += built;
        Ok((median(samples), first.context("no repetitions")?))
    }

    fn prepare(&self, block: &Block) -> Prepared {
        let mut prepared = Prepared {
            file: encode_file(block),
            signed: Vec::new(),
            txs: 0,
            witness_bytes: 0,
            blob_bytes: 0,
        };
        for blob in block.blobs.iter() {
            let Witness::Merkle(witness) = &blob.witness else {
                continue;
            };
            let touched =
                touched_accounts(&blob.transactions, self.params.tree_depth).unwrap_or_default();
            if let Some(mut state) = TouchedState::new(touched, witness.leaves.to_vec()) {
                let (signed, _) = apply_rules(
                    self.params.chain_id,
                    blob.model,
                    &mut state,
                    &blob.transactions,
                );
                prepared.signed.push((signed, blob.transactions.to_vec()));
            }
            prepared.txs += blob.transactions.len();
            prepared.witness_bytes += witness.ssz_bytes_len();
            prepared.blob_bytes += blob.ssz_bytes_len();
        }
        prepared
    }

    /// Median signature-floor throughput over the prepared block's signatures.
    fn floor(&self, prepared: &Prepared) -> f64 {
        let samples = (0..self.repetitions)
            .map(|_| {
                let start = Instant::now();
                let invalid: usize = prepared
                    .signed
                    .par_iter()
                    .map(|(signed, txs)| invalid_indices(&signature_checks(signed, txs)).len())
                    .sum();
                assert_eq!(
                    invalid, 0,
                    "the floor's signatures are the chain's, all valid"
                );
                prepared.txs as f64 / start.elapsed().as_secs_f64()
            })
            .collect();
        median(samples)
    }

    /// Median verification throughput: decode, verify every blob, commit to every blob.
    fn verify(&self, prepared: &Prepared) -> anyhow::Result<f64> {
        verify_throughput(&self.params, &prepared.file, prepared.txs, self.repetitions)
    }

    fn measure(
        &mut self,
        pattern: AccessPattern,
        txs_per_blob: usize,
    ) -> anyhow::Result<(Measurement, Prepared)> {
        let (prove_tx_per_s, block) = self.prove(pattern, txs_per_blob)?;
        let prepared = self.prepare(&block);
        let sig_floor_tx_per_s = self.floor(&prepared);
        let verify_tx_per_s = self.verify(&prepared)?;
        let txs = prepared.txs.max(1) as f64;
        Ok((
            Measurement {
                txs_per_blob,
                sig_floor_tx_per_s,
                verify_tx_per_s,
                floor_ratio: verify_tx_per_s / sig_floor_tx_per_s,
                prove_tx_per_s,
                witness_bytes_per_tx: prepared.witness_bytes as f64 / txs,
                blob_bytes_per_tx: prepared.blob_bytes as f64 / txs,
            },
            prepared,
        ))
    }
}

/// Median throughput of decoding `file` (one block) and checking and committing to each of
/// its blobs as the chain verifier does ([`check_blobs`]: every blob in parallel, zk proofs in
/// one batched pairing check), all threads. `txs` is the block's transaction count.
fn verify_throughput(
    params: &ChainParams,
    file: &[u8],
    txs: usize,
    repetitions: usize,
) -> anyhow::Result<f64> {
    let case = VerifyCase { params, file, txs };
    let [samples] = verify_rounds([case], repetitions)?;
    Ok(median(samples))
}

/// One block whose verification throughput is measured: its chain's parameters, its bytes
/// and its transaction count.
struct VerifyCase<'a> {
    params: &'a ChainParams,
    file: &'a [u8],
    txs: usize,
}

/// Throughput samples (transactions per second) of verifying each case's block as
/// [`verify_throughput`] does, `rounds` each. The cases take turns, one run each per round,
/// so a change in the machine's load during the measurement hits them alike and the ratio of
/// two cases within a round is a fair comparison.
fn verify_rounds<const N: usize>(
    cases: [VerifyCase<'_>; N],
    rounds: usize,
) -> anyhow::Result<[Vec<f64>; N]> {
    let mut samples = std::array::from_fn(|_| Vec::with_capacity(rounds));
    for _ in 0..rounds {
        for (case, samples) in cases.iter().zip(&mut samples) {
            let start = Instant::now();
            let block: Block = decode_file(case.file).map_err(|e| anyhow::anyhow!("{e}"))?;
            let checks = check_blobs(case.params, std::slice::from_ref(&block));
            if let Some((Err(e), _)) = checks
                .iter()
                .flatten()
                .find(|(verdict, _)| verdict.is_err())
            {
                anyhow::bail!("{e}");
            }
            samples.push(case.txs as f64 / start.elapsed().as_secs_f64());
        }
    }
    Ok(samples)
}

/// The throughput measurements of `stateless bench`, on the current thread pool.
pub fn throughput(args: &ThroughputPlan) -> anyhow::Result<BenchReport> {
    let accounts = args
        .accounts
        .unwrap_or(if args.quick { 1 << 18 } else { 1 << 20 });
    let (repetitions, blobs) = if args.quick { (3, 4) } else { (5, 8) };
    let mut sweep_sizes: Vec<usize> = if args.quick {
        vec![256]
    } else {
        vec![64, 256, 4096]
    };
    sweep_sizes.push(args.txs_per_blob);
    sweep_sizes.sort_unstable();
    sweep_sizes.dedup();

    let spec = WorkloadSpec {
        accounts,
        ..WorkloadSpec::default()
    };
    eprintln!(
        "bench: {accounts} accounts, blobs of {} transfers, {} threads",
        args.txs_per_blob,
        rayon::current_num_threads()
    );
    let generator = WorkloadGenerator::new(&spec);
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let prover = ProverState::open(&dir.path().join("bench.redb"), &generator.allocation())?;
    let params = ChainParams::from_genesis(prover.genesis()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut bench = Bench {
        generator,
        prover,
        params,
        repetitions,
        blobs,
        built: 0,
    };
    let before = bench.prover.storage()?;

    eprintln!("bench: uniform access");
    let (main, prepared) = bench.measure(AccessPattern::Uniform, args.txs_per_blob)?;
    let after = bench.prover.storage()?;
    let per_tx = |grown: u64| grown as f64 / bench.built.max(1) as f64;
    let db_bytes_per_tx = per_tx(after.allocated_bytes.saturating_sub(before.allocated_bytes));
    let history_bytes_per_tx = per_tx(after.history_bytes.saturating_sub(before.history_bytes));
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .context("starting one worker thread")?;
    let one_thread = single.install(|| bench.verify(&prepared))?;
    eprintln!("bench: Zipf access");
    let (zipf, _) = bench.measure(AccessPattern::Zipf(1.0), args.txs_per_blob)?;
    let mut sweep = Vec::new();
    for &size in &sweep_sizes {
        if size == args.txs_per_blob {
            sweep.push(main.clone());
        } else {
            eprintln!("bench: blobs of {size}");
            sweep.push(bench.measure(AccessPattern::Uniform, size)?.0);
        }
    }
    Ok(BenchReport {
        accounts,
        txs_per_blob: args.txs_per_blob,
        threads: rayon::current_num_threads(),
        sig_floor_tx_per_s: main.sig_floor_tx_per_s,
        verify_tx_per_s: main.verify_tx_per_s,
        floor_ratio: main.floor_ratio,
        thread_speedup: main.verify_tx_per_s / one_thread,
        witness_bytes_per_tx: main.witness_bytes_per_tx,
        blob_bytes_per_tx: main.blob_bytes_per_tx,
        prove_tx_per_s: main.prove_tx_per_s,
        db_bytes_per_tx,
        history_bytes_per_tx,
        zipf,
        sweep,
        repetitions,
        blobs_per_measurement: blobs,
    })
}
