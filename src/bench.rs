//! `stateless bench`: verification against the signature floor, proving, and witness size,
//! measured in one process on one generated workload.
//!
//! Every throughput is a median over repetitions. The signature floor is raw Ed25519 batch
//! verification of exactly the measured blobs' signatures; verification is decode plus
//! `check_blobs` (what the chain verifier checks of each blob, and the blob commitments) on the
//! same blobs (the linkage pass, a few hashes per block, is left out, so no earlier chain is
//! needed). Both use all threads.
//!
//! Each other mode is one flag and one submodule, returning its own report: `--zk`
//! ([`zk`]: the `zk-transfer` proof system against Merkle witnesses and plain Groth16).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use prover::workload::{AccessPattern, WorkloadGenerator, WorkloadSpec};
use prover::{BlockOptions, ProverState};
use rayon::prelude::*;
use serde::Serialize;
use verifier::accounts::{TouchedState, touched_accounts};
use verifier::transfer::ed25519::invalid_indices;
use verifier::transfer::{SignedMessage, apply_rules, signature_checks};
use verifier::{ChainParams, check_blobs};
use witness_format::{Block, SszEncode, Transaction, Witness, decode_file, encode_file};

use crate::Failure;

mod zk;

/// Arguments of `stateless bench`.
#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Measure the zk-transfer proof system instead: constraints, proving against plain
    /// Groth16, verification and witness bytes against Merkle witnesses.
    #[arg(long, group = "mode")]
    zk: bool,
    /// Measure history proofs instead: ancestry proofs 2^20 blocks back (size, verification
    /// time) and batched against one-by-one span verification of 64 zk proofs.
    #[arg(long, group = "mode")]
    history: bool,
    /// Tree depth of the --zk circuit (default 32; 6 with --quick).
    #[arg(long, requires = "zk")]
    depth: Option<u8>,
    /// Transactions per proof with --zk (default 64; 2 with --quick).
    #[arg(long, requires = "zk")]
    batch: Option<usize>,
    /// With --zk: keys written by `stateless zk setup` for the same depth and batch, instead of
    /// generating them here (minutes at depth 32).
    #[arg(long, requires = "zk")]
    keys: Option<PathBuf>,
    /// With --zk: proofs per median, real and baseline each, after one warm-up proof
    /// (default 3; 1 with --quick).
    #[arg(long, requires = "zk")]
    proofs: Option<usize>,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Fewer accounts, blobs and repetitions: under a minute on 2 cores.
    #[arg(long)]
    quick: bool,
    /// Accounts in the state (default 2^20, 2^18 with --quick; with --zk 2^16, 16 with --quick).
    #[arg(long)]
    accounts: Option<u64>,
    /// Transactions per blob (not with --zk, where a blob is one --batch).
    #[arg(long, default_value_t = 1024)]
    txs_per_blob: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Directory for results.json (and throughput.svg, without --zk).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One measured configuration.
#[derive(Clone, Debug, Serialize)]
struct Measurement {
    txs_per_blob: usize,
    sig_floor_tx_per_s: f64,
    verify_tx_per_s: f64,
    floor_ratio: f64,
    prove_tx_per_s: f64,
    witness_bytes_per_tx: f64,
    blob_bytes_per_tx: f64,
}

/// The whole report.
#[derive(Serialize)]
struct BenchReport {
    accounts: u64,
    txs_per_blob: usize,
    threads: usize,
    sig_floor_tx_per_s: f64,
    verify_tx_per_s: f64,
    floor_ratio: f64,
    thread_speedup: f64,
    witness_bytes_per_tx: f64,
    blob_bytes_per_tx: f64,
    prove_tx_per_s: f64,
    zipf: Measurement,
    sweep: Vec<Measurement>,
    repetitions: usize,
    blobs_per_measurement: usize,
}

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
        let mut samples = Vec::new();
        let mut first = None;
        for _ in 0..self.repetitions {
            let batch = self
                .generator
                .next_block(self.blobs * txs_per_blob, pattern);
            let start = Instant::now();
            let (block, report) = self.prover.build_block(&batch.transactions, options)?;
            samples.push(report.included as f64 / start.elapsed().as_secs_f64());
            anyhow::ensure!(
                report.dropped.is_empty(),
                "generated transactions were dropped"
            );
            first.get_or_insert(block);
        }
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
    let mut samples = Vec::with_capacity(repetitions);
    for _ in 0..repetitions {
        let start = Instant::now();
        let block: Block = decode_file(file).map_err(|e| anyhow::anyhow!("{e}"))?;
        let checks = check_blobs(params, std::slice::from_ref(&block));
        if let Some((Err(e), _)) = checks
            .iter()
            .flatten()
            .find(|(verdict, _)| verdict.is_err())
        {
            anyhow::bail!("{e}");
        }
        samples.push(txs as f64 / start.elapsed().as_secs_f64());
    }
    Ok(median(samples))
}

/// `stateless bench`: one mode per run, each with its own report.
pub(crate) fn bench(args: BenchArgs) -> Result<(), Failure> {
    let pool = crate::commands::thread_pool(args.threads)?;
    if args.zk {
        let report = pool.install(|| zk::run(&args))?;
        return emit(&args, &report, zk::print_table);
    }
    if args.history {
        let report = pool.install(|| crate::bench_history::run(args.quick))?;
        return emit(&args, &report, print_key_values);
    }
    let report = pool.install(|| run(&args))?;
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        prover::files::write_atomic(&out.join("throughput.svg"), chart(&report.sweep).as_bytes())?;
    }
    emit(&args, &report, print_table)
}

/// Writes a mode's report: `OUT/results.json` with `--out`, then one JSON object on stdout
/// with `--json`, or the mode's table.
/// A flat JSON object as a two-column table.
fn print_key_values(report: &serde_json::Value) {
    if let Some(object) = report.as_object() {
        for (key, value) in object {
            outln!("{key:<32} {value}");
        }
    }
}

fn emit<T: Serialize>(args: &BenchArgs, report: &T, table: fn(&T)) -> Result<(), Failure> {
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let json = serde_json::to_string_pretty(report).context("encoding JSON")?;
        prover::files::write_atomic(&out.join("results.json"), json.as_bytes())?;
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string(report).context("encoding JSON")?
        );
    } else {
        table(report);
    }
    Ok(())
}

fn run(args: &BenchArgs) -> anyhow::Result<BenchReport> {
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
    };

    eprintln!("bench: uniform access");
    let (main, prepared) = bench.measure(AccessPattern::Uniform, args.txs_per_blob)?;
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
        zipf,
        sweep,
        repetitions,
        blobs_per_measurement: blobs,
    })
}

fn print_table(report: &BenchReport) {
    outln!(
        "{} accounts, {} threads, medians of {} runs of {} blobs",
        report.accounts,
        report.threads,
        report.repetitions,
        report.blobs_per_measurement
    );
    outln!(
        "{:<10} {:>10} {:>12} {:>12} {:>7} {:>12} {:>10} {:>10}",
        "access",
        "txs/blob",
        "floor tx/s",
        "verify tx/s",
        "ratio",
        "prove tx/s",
        "wit B/tx",
        "blob B/tx"
    );
    let row = |name: &str, m: &Measurement| {
        outln!(
            "{name:<10} {:>10} {:>12.0} {:>12.0} {:>7.2} {:>12.0} {:>10.0} {:>10.0}",
            m.txs_per_blob,
            m.sig_floor_tx_per_s,
            m.verify_tx_per_s,
            m.floor_ratio,
            m.prove_tx_per_s,
            m.witness_bytes_per_tx,
            m.blob_bytes_per_tx
        );
    };
    for m in &report.sweep {
        row("uniform", m);
    }
    row("zipf 1.0", &report.zipf);
    outln!(
        "thread speedup (verification, all threads over one): {:.2}",
        report.thread_speedup
    );
}

/// A chart line: name, colour, and the value it plots.
type Series = (&'static str, &'static str, fn(&Measurement) -> f64);

/// An SVG line chart of throughput against blob size: floor, verification, proving.
fn chart(sweep: &[Measurement]) -> String {
    let (width, height, margin) = (640.0, 400.0, 60.0);
    let max_y = sweep
        .iter()
        .flat_map(|m| [m.sig_floor_tx_per_s, m.verify_tx_per_s, m.prove_tx_per_s])
        .fold(1.0, f64::max)
        * 1.1;
    let n = sweep.len().max(2) as f64 - 1.0;
    let x = |i: usize| margin + (width - 2.0 * margin) * i as f64 / n;
    let y = |v: f64| height - margin - (height - 2.0 * margin) * v / max_y;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">Throughput against blob size</text>\n\
         <line x1=\"{margin}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n\
         <line x1=\"{margin}\" y1=\"{margin}\" x2=\"{margin}\" y2=\"{}\" stroke=\"black\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">transactions per blob</text>\n\
         <text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">tx/s</text>\n",
        width / 2.0,
        height - margin,
        width - margin,
        height - margin,
        height - margin,
        width / 2.0,
        height - 16.0,
        height / 2.0,
        height / 2.0,
    );
    for step in 0..=4 {
        let v = max_y * f64::from(step) / 4.0;
        svg += &format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}k</text>\n",
            margin - 6.0,
            y(v) + 4.0,
            v / 1000.0
        );
    }
    for (i, m) in sweep.iter().enumerate() {
        svg += &format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            x(i),
            height - margin + 16.0,
            m.txs_per_blob
        );
    }
    let series: [Series; 3] = [
        ("Ed25519 batch floor", "#999999", |m| m.sig_floor_tx_per_s),
        ("verification", "#1f77b4", |m| m.verify_tx_per_s),
        ("proving", "#d62728", |m| m.prove_tx_per_s),
    ];
    for (k, (name, color, value)) in series.iter().enumerate() {
        let points: Vec<String> = sweep
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{:.1},{:.1}", x(i), y(value(m))))
            .collect();
        svg += &format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n\
             <text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>\n",
            points.join(" "),
            width - margin - 150.0,
            margin + 16.0 * k as f64,
        );
    }
    svg + "</svg>\n"
}
