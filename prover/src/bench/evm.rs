//! `stateless bench --evm`: the `evm` model on the generated ERC-20 workload and on imported
//! real blocks. For each: stateless verification of the whole chain (the chain verifier:
//! headers linked in order, then blocks executed in parallel) on one thread and on all, the
//! speedup between them, witness bytes per transaction; for the workload also the prover's
//! throughput (sealing, the check over its full state, the durable commit).
//!
//! Witness bytes are the trie nodes, codes and ancestor hashes a block carries; block bytes,
//! the Ethereum block itself, are reported apart.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use verifier::ChainVerifier;
use witness_format::{Block, Genesis, SszEncode, Witness};

use super::median;
use crate::evm_import::read_import;
use crate::evm_produce::EvmProducer;
use crate::evm_workload::{EvmWorkloadSpec, generate};

/// What `stateless bench --evm` measures.
#[derive(Clone, Debug)]
pub struct EvmBenchOptions {
    /// Funded accounts of the workload (default 10,000; 1,000 with `quick`).
    pub accounts: Option<u64>,
    /// Transactions per block (default 500; 200 with `quick`).
    pub txs_per_block: Option<usize>,
    /// Import files of real blocks (`stateless evm import`'s input) to measure too.
    pub real_blocks: Vec<PathBuf>,
    /// Fewer blocks and repetitions.
    pub quick: bool,
}

/// The figures of one chain.
#[derive(Clone, Debug, Serialize)]
pub struct EvmFigures {
    /// What was measured: "workload", or the import file's name.
    pub chain: String,
    /// Blocks.
    pub blocks: usize,
    /// Transactions.
    pub transactions: usize,
    /// Verification of the whole chain on one thread, transactions per second (median).
    pub verify_tx_per_s_1_thread: f64,
    /// The same on all threads.
    pub verify_tx_per_s: f64,
    /// `verify_tx_per_s / verify_tx_per_s_1_thread`.
    pub thread_speedup: f64,
    /// Median milliseconds per block on all threads.
    pub verify_ms_per_block: f64,
    /// Witness bytes (trie nodes, codes, ancestor hashes) per transaction.
    pub witness_bytes_per_tx: f64,
    /// Ethereum block bytes per transaction.
    pub block_bytes_per_tx: f64,
    /// The prover producing the chain, transactions per second (the workload only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prove_tx_per_s: Option<f64>,
}

/// The report of `stateless bench --evm`.
#[derive(Clone, Debug, Serialize)]
pub struct EvmBenchReport {
    /// Worker threads of the "all threads" figures.
    pub threads: usize,
    /// Runs per median.
    pub repetitions: usize,
    /// Funded accounts of the workload.
    pub accounts: u64,
    /// Percent of the workload's transactions that are token transfers.
    pub token_percent: u8,
    /// The workload, then each file of real blocks.
    pub chains: Vec<EvmFigures>,
}

/// The shared fixtures' real blocks, where a checkout next to them has them.
pub fn default_real_blocks() -> Vec<PathBuf> {
    let dir = Path::new("../shared/fixtures/real-blocks");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Runs the measurements.
pub fn run(options: &EvmBenchOptions) -> anyhow::Result<EvmBenchReport> {
    let repetitions = if options.quick { 3 } else { 7 };
    let spec = EvmWorkloadSpec {
        accounts: options
            .accounts
            .unwrap_or(if options.quick { 1_000 } else { 10_000 }),
        blocks: if options.quick { 4 } else { 8 },
        txs_per_block: options
            .txs_per_block
            .unwrap_or(if options.quick { 200 } else { 500 }),
        ..EvmWorkloadSpec::default()
    };
    eprintln!(
        "evm: generating {} blocks of {} transactions over {} accounts",
        spec.blocks, spec.txs_per_block, spec.accounts
    );
    let workload = generate(&spec)?;
    let dir = tempfile::tempdir().context("a temporary directory")?;
    let allocation = &workload.allocation;
    let mut producer = EvmProducer::create(&dir.path().join("evm.redb"), allocation)?;
    eprintln!("evm: proving");
    let start = Instant::now();
    for transactions in workload.blocks {
        producer.produce(transactions)?;
    }
    let prove_seconds = start.elapsed().as_secs_f64();
    let chain = producer.finish();
    let mut workload_figures = measure("workload", &chain.genesis, &chain.blocks, repetitions)?;
    workload_figures.prove_tx_per_s = Some(workload_figures.transactions as f64 / prove_seconds);

    let mut chains = vec![workload_figures];
    for file in &options.real_blocks {
        eprintln!("evm: {}", file.display());
        let imported =
            read_import(file).with_context(|| format!("importing {}", file.display()))?;
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        chains.push(measure(
            &name,
            &imported.genesis,
            &imported.blocks,
            repetitions,
        )?);
    }
    Ok(EvmBenchReport {
        threads: rayon::current_num_threads(),
        repetitions,
        accounts: spec.accounts,
        token_percent: spec.token_percent,
        chains,
    })
}

/// Verification of `blocks` from `genesis`, `repetitions` times on one thread and on all.
fn measure(
    name: &str,
    genesis: &Genesis,
    blocks: &[Block],
    repetitions: usize,
) -> anyhow::Result<EvmFigures> {
    let verify_once = || -> anyhow::Result<f64> {
        let mut verifier = ChainVerifier::new(genesis)?;
        let start = Instant::now();
        verifier.verify_blocks(blocks)?;
        Ok(start.elapsed().as_secs_f64())
    };
    let all: Vec<f64> = (0..repetitions)
        .map(|_| verify_once())
        .collect::<anyhow::Result<_>>()?;
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let one: Vec<f64> = one_thread.install(|| {
        (0..repetitions)
            .map(|_| verify_once())
            .collect::<anyhow::Result<_>>()
    })?;
    let (mut witness, mut block_bytes, mut transactions) = (0usize, 0usize, 0usize);
    for blob in blocks.iter().flat_map(|b| b.blobs.iter()) {
        if let Witness::Evm(evm) = &blob.witness {
            block_bytes += evm.block.len();
            witness += evm.ssz_bytes_len() - evm.block.len();
            transactions += verifier::evm::decode_block(&evm.block)
                .map(|b| b.body.transactions.len())
                .unwrap_or(0);
        }
    }
    let (all, one) = (median(all), median(one));
    let per_tx = |bytes: usize| bytes as f64 / transactions.max(1) as f64;
    Ok(EvmFigures {
        chain: name.to_string(),
        blocks: blocks.len(),
        transactions,
        verify_tx_per_s_1_thread: transactions as f64 / one,
        verify_tx_per_s: transactions as f64 / all,
        thread_speedup: one / all,
        verify_ms_per_block: all * 1000.0 / blocks.len().max(1) as f64,
        witness_bytes_per_tx: per_tx(witness),
        block_bytes_per_tx: per_tx(block_bytes),
        prove_tx_per_s: None,
    })
}
