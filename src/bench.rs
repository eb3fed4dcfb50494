//! `stateless bench`: the mode's measurements (`prover::bench`, where what each one measures is
//! described), printed as a table or JSON.
//!

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use prover::bench::{BenchReport, Measurement, ThroughputPlan, throughput};
use serde::Serialize;

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
    /// Measure the evm model instead: verification (one thread and all) and proving of a
    /// generated ERC-20 workload, and verification of real blocks (the shared fixtures', or
    /// --real-blocks).
    #[arg(long, group = "mode")]
    evm: bool,
    /// Measure the proving farm instead: proofs and transfers per second with 1 and 2 workers
    /// (NATS JetStream, a local nats-server) against in-process proving, and the
    /// coordinator's CPU and network bytes per job.
    #[arg(long, group = "mode")]
    farm: bool,
    /// With --evm: import files of real blocks (`stateless evm import`'s input) to measure.
    #[arg(long, requires = "evm", num_args = 1..)]
    real_blocks: Vec<PathBuf>,
    /// Tree depth of the --zk circuit (default 32; 6 with --quick); with --farm, of the
    /// farmed chain (default 8; 4 with --quick).
    #[arg(long)]
    depth: Option<u8>,
    /// Transactions per proof with --zk (default 64; 2 with --quick); with --farm (default 8;
    /// 2 with --quick).
    #[arg(long)]
    batch: Option<usize>,
    /// With --zk: keys written by `stateless zk setup` for the same depth and batch, instead of
    /// generating them here (minutes at depth 32).
    #[arg(long, requires = "zk")]
    keys: Option<PathBuf>,
    /// With --zk: proofs per median, real and baseline each, after one warm-up proof
    /// (default 3; 1 with --quick).
    #[arg(long, requires = "zk")]
    proofs: Option<usize>,
    /// With --zk: top tree levels each proof computes once for its blob, for keys generated
    /// here (default 0; keys from --keys carry their own: `zk setup --shared-levels`).
    #[arg(long, requires = "zk")]
    shared_levels: Option<u8>,
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

/// `stateless bench`: one mode per run, each with its own report.
pub(crate) fn bench(args: BenchArgs) -> Result<(), Failure> {
    let pool = crate::commands::thread_pool(args.threads)?;
    if (args.depth.is_some() || args.batch.is_some()) && !(args.zk || args.farm) {
        return Err(anyhow::anyhow!("--depth and --batch are for --zk or --farm").into());
    }
    if args.zk {
        let options = prover::bench::zk::ZkOptions {
            depth: args.depth,
            batch: args.batch,
            keys: args.keys.clone(),
            proofs: args.proofs,
            shared_levels: args.shared_levels,
            accounts: args.accounts,
            quick: args.quick,
        };
        let report = pool.install(|| prover::bench::zk::run(&options))?;
        return emit(&args, &report, zk::print_table);
    }
    if args.evm {
        let real_blocks = if args.real_blocks.is_empty() {
            prover::bench::evm::default_real_blocks()
        } else {
            args.real_blocks.clone()
        };
        let options = prover::bench::evm::EvmBenchOptions {
            accounts: args.accounts,
            txs_per_block: None,
            real_blocks,
            quick: args.quick,
        };
        let report = pool.install(|| prover::bench::evm::run(&options))?;
        return emit(&args, &report, print_evm_table);
    }
    if args.farm {
        let options = prover::bench::farm::FarmBenchOptions {
            depth: args.depth,
            batch: args.batch,
            jobs: None,
            quick: args.quick,
        };
        let report = pool.install(|| prover::bench::farm::run(&options))?;
        return emit(&args, &report, print_key_values);
    }
    if args.history {
        let report = pool.install(|| prover::bench::history::run(args.quick))?;
        return emit(&args, &report, print_key_values);
    }
    let plan = ThroughputPlan {
        accounts: args.accounts,
        txs_per_blob: args.txs_per_blob,
        quick: args.quick,
    };
    let report = pool.install(|| throughput(&plan))?;
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        prover::files::write_atomic(&out.join("throughput.svg"), chart(&report.sweep).as_bytes())?;
    }
    emit(&args, &report, print_table)
}

/// Writes a mode's report: `OUT/results.json` with `--out`, then one JSON object on stdout
/// with `--json`, or the mode's table.
/// The `--evm` report as a table, one row per chain.
fn print_evm_table(report: &prover::bench::evm::EvmBenchReport) {
    outln!(
        "evm: {} threads, medians of {} runs; workload: {} accounts, {}% token transfers",
        report.threads,
        report.repetitions,
        report.accounts,
        report.token_percent
    );
    outln!(
        "{:<28} {:>6} {:>6} {:>12} {:>12} {:>8} {:>9} {:>9} {:>10} {:>10}",
        "chain",
        "blocks",
        "txs",
        "verify1 tx/s",
        "verify tx/s",
        "speedup",
        "ms/block",
        "wit B/tx",
        "block B/tx",
        "prove tx/s"
    );
    for c in &report.chains {
        outln!(
            "{:<28} {:>6} {:>6} {:>12.0} {:>12.0} {:>8.2} {:>9.2} {:>9.0} {:>10.0} {:>10}",
            c.chain,
            c.blocks,
            c.transactions,
            c.verify_tx_per_s_1_thread,
            c.verify_tx_per_s,
            c.thread_speedup,
            c.verify_ms_per_block,
            c.witness_bytes_per_tx,
            c.block_bytes_per_tx,
            c.prove_tx_per_s
                .map_or_else(|| "-".to_string(), |p| format!("{p:.0}"))
        );
    }
}

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
        "prover database growth: {:.0} bytes per transaction ({:.0} of them state history)",
        report.db_bytes_per_tx,
        report.history_bytes_per_tx
    );
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
