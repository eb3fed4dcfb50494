//! The CLI verbs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use prover::BlockOptions;
use prover::evm_workload::{self, EvmBridgeSpec, EvmWorkloadSpec};
use prover::workload::{WorkloadSpec, generate_for, generate_numbered};
use serde::Serialize;
use witness_format::frame::read_frame;
use witness_format::{
    AggregateSpanProof, Allocation, Block, EvmSchedule, FileKind, Genesis, Hash32, HistoryProof,
    Model, ProvingJob, SpanProof, TransactionBatch, decode_file,
};

use crate::Failure;
use prover::files::read_any_file;
use prover::prove_dir::{LeftOut, ProveDirError, ProveReport, prove_workload_dir};
pub(crate) use prover::verify_dir::{
    Trust, VERIFY_WINDOW_BLOCKS, VerifyReport, ratio, verify_chain_dir,
};
use prover::zk::aggregate::read_srs;
use prover::zk::keys::read_keys;
use prover::zk::proofs::ZkProving;

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

// ---------------------------------------------------------------------------------------- gen

/// Arguments of `stateless gen`.
#[derive(Args)]
pub(crate) struct GenArgs {
    /// Output workload directory.
    #[arg(long)]
    out: PathBuf,
    /// Accounts, blocks and transactions per block.
    #[command(flatten)]
    size: WorkloadSize,
    /// Seed of keys and choices.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Chain id the transactions are signed for.
    #[arg(long, default_value_t = 1)]
    chain_id: u64,
    /// The execution models of the chain, comma-separated: `transfer` (SHA3 tree, Ed25519),
    /// `zk-transfer` (Poseidon tree, Schnorr over Jubjub; blobs can carry zk proofs), `evm`
    /// (Ethereum: an ERC-20 token and funded accounts, blocks of ether and token transfers),
    /// `both` (`transfer,zk-transfer`) or `all` (the three). Several models share one chain,
    /// each block with transactions of each.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "transfer")]
    model: Vec<ModelArg>,
    /// Depth of the state tree.
    #[arg(long, default_value_t = 32)]
    depth: u8,
    /// On a chain of several models: percent of transactions that exit to another model
    /// (cross-model messages; the prover credits them in a later block). `transfer` and
    /// `zk-transfer` exit to each other, `evm` (through its bridge contract) to both.
    #[arg(long, default_value_t = 0)]
    exit_percent: u8,
    /// With `evm` on the chain: its fork, from its first block.
    #[arg(long, value_enum, default_value_t = ForkArg::Prague)]
    fork: ForkArg,
    /// With `evm` on the chain: percent of its transactions that are token transfers (the
    /// rest move ether).
    #[arg(long, default_value_t = 50)]
    token_percent: u8,
}

/// The fork of a generated `evm` chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ForkArg {
    /// Cancun (Dencun).
    Cancun,
    /// Prague (Pectra).
    Prague,
}

/// The size of a generated workload (`gen` and `demo`).
#[derive(Args)]
pub(crate) struct WorkloadSize {
    /// Accounts in the genesis allocation.
    #[arg(long, default_value_t = 1 << 16)]
    accounts: u64,
    /// Blocks of transactions.
    #[arg(long, default_value_t = 16)]
    blocks: usize,
    /// Transactions per block.
    #[arg(long, default_value_t = 1024)]
    txs_per_block: usize,
}

impl WorkloadSize {
    /// The default workload spec with this size.
    pub(crate) fn spec(&self) -> WorkloadSpec {
        WorkloadSpec {
            accounts: self.accounts,
            blocks: self.blocks,
            txs_per_block: self.txs_per_block,
            ..WorkloadSpec::default()
        }
    }
}

/// The execution models of a generated chain, on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ModelArg {
    /// The `transfer` model.
    Transfer,
    /// The `zk-transfer` model.
    ZkTransfer,
    /// `transfer` and `zk-transfer`.
    Both,
    /// The `evm` model (Ethereum).
    Evm,
    /// The three models.
    All,
}

impl ModelArg {
    fn models(self) -> &'static [Model] {
        match self {
            ModelArg::Transfer => &[Model::Transfer],
            ModelArg::ZkTransfer => &[Model::ZkTransfer],
            ModelArg::Both => &Model::NUMBERED,
            ModelArg::Evm => &[Model::Evm],
            ModelArg::All => &Model::ALL,
        }
    }

    /// The models `args` name, once each, in ascending (genesis) order.
    fn chain_models(args: &[ModelArg]) -> Vec<Model> {
        let mut models: Vec<Model> = args.iter().flat_map(|a| a.models()).copied().collect();
        models.sort();
        models.dedup();
        models
    }
}

/// The witness kind `prove` builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum WitnessArg {
    /// Pre-state leaves and a multiproof (both models).
    Merkle,
    /// A Groth16 proof (`zk-transfer` only; needs `--keys`).
    Zk,
}

impl GenArgs {
    fn spec(&self) -> WorkloadSpec {
        WorkloadSpec {
            chain_id: self.chain_id,
            tree_depth: self.depth,
            seed: self.seed,
            ..self.size.spec()
        }
    }
}

/// `stateless gen`.
pub(crate) fn gen_workload(args: GenArgs) -> Result<(), Failure> {
    let chain_models = ModelArg::chain_models(&args.model);
    let numbered: Vec<Model> = chain_models
        .iter()
        .copied()
        .filter(|m| Model::NUMBERED.contains(m))
        .collect();
    if args.exit_percent > 0 && chain_models.len() < 2 {
        return Err(anyhow::anyhow!("--exit-percent needs a chain of several models").into());
    }
    if chain_models.contains(&Model::Evm) {
        gen_evm_workload(&args, &chain_models)?;
    }
    if numbered.is_empty() {
        return Ok(());
    }
    let spec = args.spec();
    check_spec(&spec)?;
    let models = numbered.as_slice();
    if let [first, ..] = models
        && chain_models.len() > 1
    {
        let others: Vec<Model> = chain_models
            .iter()
            .copied()
            .filter(|m| m != first)
            .collect();
        // Accounts stay below the channel leaves of the bridge (docs/CROSS_MODEL.md): on two
        // models, the lower half of the tree.
        // (A tree too shallow for a bridge keeps the lower half too, as it always did.)
        let room = verifier::bridge::bridge_key(*first)
            .and_then(|key| verifier::accounts::Bridge::new(spec.tree_depth, &others, key))
            .map_or_else(
                || 1u64 << spec.tree_depth.saturating_sub(1),
                |bridge| bridge.accounts_end(),
            );
        if spec.accounts > room {
            return Err(anyhow::anyhow!(
                "a chain of {} models keeps its accounts below the bridge's channel leaves: at most {room} accounts at depth {}",
                chain_models.len(),
                spec.tree_depth
            )
            .into());
        }
    }
    if args.exit_percent > 100 {
        return Err(anyhow::anyhow!("--exit-percent must be at most 100").into());
    }
    write_workload(&spec, &chain_models, args.exit_percent, &args.out)?;
    let names: Vec<&str> = models.iter().map(|m| m.name()).collect();
    eprintln!(
        "wrote {} accounts and {} blocks of {} transfers for {} to {}",
        spec.accounts,
        spec.blocks,
        spec.txs_per_block,
        names.join(" and "),
        args.out.display()
    );
    Ok(())
}

/// The `evm` part of `stateless gen` on a chain of `chain_models`.
fn gen_evm_workload(args: &GenArgs, chain_models: &[Model]) -> Result<(), Failure> {
    let spec = EvmWorkloadSpec {
        chain_id: args.chain_id,
        schedule: match args.fork {
            ForkArg::Cancun => EvmSchedule::Cancun,
            ForkArg::Prague => EvmSchedule::Prague,
        },
        accounts: args.size.accounts,
        blocks: args.size.blocks,
        txs_per_block: args.size.txs_per_block,
        seed: args.seed,
        token_percent: args.token_percent,
        bridge: EvmBridgeSpec::of(chain_models, args.size.accounts, args.exit_percent),
    };
    let bar = progress(1, "generate");
    let workload = evm_workload::generate(&spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    evm_workload::write_workload(&args.out, &workload).map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    eprintln!(
        "wrote {} accounts, an ERC-20 token and {} blocks of {} transactions for evm ({:?}) to {}",
        spec.accounts,
        spec.blocks,
        spec.txs_per_block,
        spec.schedule,
        args.out.display()
    );
    Ok(())
}

pub(crate) fn check_spec(spec: &WorkloadSpec) -> Result<(), Failure> {
    use witness_format::limits::{MAX_ALLOCATION_ACCOUNTS, MAX_BATCH_TRANSACTIONS, MAX_TREE_DEPTH};
    if spec.tree_depth == 0 || spec.tree_depth > MAX_TREE_DEPTH {
        return Err(Failure::Error(anyhow::anyhow!(
            "--depth must be in 1..={MAX_TREE_DEPTH}"
        )));
    }
    if spec.accounts == 0 || spec.accounts > MAX_ALLOCATION_ACCOUNTS as u64 {
        return Err(Failure::Error(anyhow::anyhow!(
            "--accounts must be in 1..={MAX_ALLOCATION_ACCOUNTS}"
        )));
    }
    if spec.txs_per_block > MAX_BATCH_TRANSACTIONS {
        return Err(Failure::Error(anyhow::anyhow!(
            "--txs-per-block must be at most {MAX_BATCH_TRANSACTIONS}"
        )));
    }
    Ok(())
}

/// Writes a workload of `spec` for each model of the chain with numbered accounts (of
/// `chain_models`): the same accounts and block sizes, each with its own keys and transfers.
pub(crate) fn write_workload(
    spec: &WorkloadSpec,
    chain_models: &[Model],
    exit_percent: u8,
    out: &Path,
) -> Result<()> {
    let bar = progress(chain_models.len() as u64, "generate");
    let workloads = match chain_models {
        [model] => vec![generate_for(spec, *model)],
        _ => generate_numbered(spec, chain_models, exit_percent),
    };
    for workload in workloads {
        prover::files::write_workload(out, &workload)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

// -------------------------------------------------------------------------------------- prove

/// Arguments of `stateless prove`.
#[derive(Args)]
pub(crate) struct ProveArgs {
    /// Workload directory written by `stateless gen`.
    #[arg(long)]
    workload: PathBuf,
    /// Prover database (created if missing; a re-run continues where it stopped).
    #[arg(long)]
    db: PathBuf,
    /// Output chain directory.
    #[arg(long)]
    out: PathBuf,
    /// Most transactions per blob.
    #[arg(long, default_value_t = 1024)]
    txs_per_blob: usize,
    /// Witness kind of the blobs: `merkle`, or `zk` (zk-transfer only; needs `--keys`).
    #[arg(long, value_enum, default_value_t = WitnessArg::Merkle)]
    witness: WitnessArg,
    /// Keys directory written by `stateless zk setup` (for `--witness zk`). The genesis pins
    /// its verifying key; a copy goes to `OUT/keys/`.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Aggregation SRS written by `stateless zk srs` (for `--witness zk`): the genesis pins its
    /// key, so that spans of the chain can be aggregated (`history span --aggregate`).
    #[arg(long, requires = "keys")]
    srs: Option<PathBuf>,
    /// Keep the state history (for account history proofs) of the last K blocks only; older
    /// states are then refused. Default: all of it.
    #[arg(long, value_name = "K")]
    keep_history: Option<u64>,
    /// Blocks between two checkpoints of the database's state tables: fewer mean less to
    /// replay on opening it, more mean less rewriting.
    #[arg(long, value_name = "N", default_value_t = prover::CHECKPOINT_BLOCKS,
          value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every: u64,
    #[command(flatten)]
    farm: crate::farm::FarmArgs,
}

/// `stateless prove`.
pub(crate) fn prove(args: ProveArgs) -> Result<(), Failure> {
    let options = BlockOptions {
        txs_per_blob: args.txs_per_blob,
        checkpoint_every: args.checkpoint_every,
        history_window: args.keep_history,
        ..BlockOptions::default()
    };
    let keys = match (args.witness, &args.keys) {
        (WitnessArg::Merkle, None) => None,
        (WitnessArg::Zk, Some(dir)) => Some(dir.as_path()),
        (WitnessArg::Zk, None) => {
            return Err(anyhow::anyhow!("--witness zk needs --keys KEYS_DIR").into());
        }
        (WitnessArg::Merkle, Some(_)) => {
            return Err(anyhow::anyhow!("--keys is for --witness zk").into());
        }
    };
    let (zk, farm_report) = match keys {
        None if args.farm.farm.is_some() => {
            return Err(anyhow::anyhow!("--farm is for --witness zk").into());
        }
        None => (None, None),
        Some(dir) => match args.farm.config() {
            None => (
                Some(ZkProving::local(
                    read_keys(dir).map_err(anyhow::Error::from)?,
                )),
                None,
            ),
            Some(config) => {
                let (zk, report) = crate::farm::farm_proving(dir, config)?;
                (Some(zk), Some(report))
            }
        },
    };
    let srs = args
        .srs
        .as_deref()
        .map(|path| {
            let srs = read_srs(path).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok::<_, anyhow::Error>(srs.key().map_err(|e| anyhow::anyhow!("{e}"))?.hash())
        })
        .transpose()?;
    let stats = run_prove(&args.workload, &args.db, &args.out, options, zk, srs)?;
    if let Some(report) = farm_report {
        crate::farm::print_farm_report(&report);
    }
    eprintln!(
        "built {} blocks ({} transactions left out, {} cross-model credits) into {}",
        stats.blocks_built,
        stats.dropped,
        stats.credited,
        args.out.display()
    );
    if stats.unproven > 0 {
        eprintln!(
            "{} zk-transfer blobs kept Merkle witnesses: they exit through the bridge, or their \
             accounts span two of the key's subtrees (zk setup --shared-levels)",
            stats.unproven
        );
    }
    Ok(())
}

/// Proves `workload` into the chain directory `out` with the database `db`, with a progress bar
/// and a line per transaction left out.
pub(crate) fn run_prove(
    workload: &Path,
    db: &Path,
    out: &Path,
    options: BlockOptions,
    zk: Option<ZkProving>,
    zk_srs: Option<Hash32>,
) -> Result<ProveReport, Failure> {
    let bar = progress(0, "prove");
    let proved = prove_workload_dir(
        workload,
        db,
        out,
        options,
        zk,
        zk_srs,
        |height, heights, left_out| {
            bar.set_length(heights);
            for LeftOut {
                height,
                model,
                index,
                reason,
            } in left_out
            {
                bar.suspend(|| {
                    eprintln!("block {height}: left out {model} transaction {index}: {reason}")
                });
            }
            bar.set_position(height);
        },
    );
    bar.finish_and_clear();
    proved.map_err(|error| match error {
        ProveDirError::Workload(error) => error.into(),
        ProveDirError::EvmWorkload(
            error @ (prover::evm_workload::EvmWorkloadError::Allocation { .. }
            | prover::evm_workload::EvmWorkloadError::Transactions { .. }),
        ) => Failure::Rejected(error.to_string()),
        ProveDirError::NoZkModel { models } => anyhow::anyhow!(
            "--witness zk needs a workload with the zk-transfer model, this one has {models}"
        )
        .into(),
        other => Failure::Error(other.into()),
    })
}

// ------------------------------------------------------------------------------------- verify

/// Arguments of `stateless verify`.
#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// Chain directory: `genesis.bin` and `blocks/*.bin`.
    chain_dir: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Blocks decoded and checked at a time; memory grows with this, not with the chain.
    #[arg(long, default_value_t = VERIFY_WINDOW_BLOCKS)]
    window: usize,
    /// A keys directory whose `vk.bin` checks zk blobs (besides `CHAIN_DIR/keys/*.vk`). Every
    /// key must be pinned in the genesis.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// The hash of the only genesis to trust (64 hex digits, as `verify` prints it): a chain
    /// directory with any other genesis is rejected.
    #[arg(long, value_parser = parse_hash)]
    genesis_hash: Option<Hash32>,
}

/// Parses 32 bytes written as 64 hex digits (an optional `0x` prefix allowed).
pub(crate) fn parse_hash(text: &str) -> Result<Hash32, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(digits).map_err(|e| format!("not hex: {e}"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("{} bytes, a hash is 32", b.len()))?;
    Ok(Hash32::from(bytes))
}

/// `stateless verify`.
pub(crate) fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let pool = thread_pool(args.threads)?;
    if args.window == 0 {
        return Err(Failure::Error(anyhow::anyhow!(
            "--window must be at least 1"
        )));
    }
    let trust = Trust {
        keys: args.keys.as_deref(),
        genesis_hash: args.genesis_hash,
    };
    let bar = progress(0, "verify");
    let report = pool.install(|| {
        verify_chain_dir(&args.chain_dir, args.window, trust, |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
    })?;
    bar.finish_and_clear();
    if args.json {
        print_json(&report)?;
    } else {
        print_verify_table(&report);
    }
    match report.error {
        Some(error) => Err(Failure::Rejected(error)),
        None => Ok(()),
    }
}

pub(crate) fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(threads) = threads {
        anyhow::ensure!(threads > 0, "--threads must be at least 1");
        builder = builder.num_threads(threads);
    }
    builder.build().context("starting worker threads")
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<()> {
    outln!("{}", serde_json::to_string(value).context("encoding JSON")?);
    Ok(())
}

pub(crate) fn print_verify_table(report: &VerifyReport) {
    let verdict = if report.valid { "valid" } else { "INVALID" };
    outln!("{:<22} {verdict}", "chain");
    if let (Some(chain_id), Some(genesis_hash)) = (report.chain_id, &report.genesis_hash) {
        outln!("{:<22} {chain_id}", "chain id");
        outln!("{:<22} {genesis_hash}", "genesis hash");
    }
    outln!("{:<22} {}", "height", report.height);
    outln!("{:<22} {}", "blocks", report.blocks);
    outln!("{:<22} {}", "blobs", report.blobs);
    outln!("{:<22} {}", "transactions", report.txs);
    outln!(
        "{:<22} {:.0}",
        "witness bytes / tx",
        report.witness_bytes_per_tx
    );
    outln!(
        "{:<22} {:.0} tx/s ({} threads, {:.2} s)",
        "verification",
        report.verify_tx_per_s,
        report.threads,
        report.seconds
    );
    for root in &report.state_roots {
        outln!("{:<22} {}", format!("{} state root", root.model), root.root);
    }
    for block in &report.evm_blocks {
        outln!(
            "{:<22} {} ({} txs), state root {}",
            format!("evm block {}", block.number),
            block.hash,
            block.transactions,
            block.state_root
        );
    }
    for note in &report.notes {
        outln!("note: {note}");
    }
}

// ------------------------------------------------------------------------------------ inspect

/// Arguments of `stateless inspect`.
#[derive(Args)]
pub(crate) struct InspectArgs {
    /// Any file: genesis, block, allocation, transaction batch, history or span proof.
    file: PathBuf,
    /// One line of JSON instead of indented JSON.
    #[arg(long)]
    json: bool,
}

/// `stateless inspect`.
pub(crate) fn inspect(args: InspectArgs) -> Result<(), Failure> {
    let reject = |e| Failure::Rejected(format!("{}: {e}", args.file.display()));
    let bytes = read_any_file(&args.file)?.map_err(reject)?;
    let (kind, _) = read_frame(&bytes).map_err(reject)?;
    let value = match kind {
        FileKind::Genesis => serde_json::to_value(decode_file::<Genesis>(&bytes).map_err(reject)?),
        FileKind::Block => serde_json::to_value(decode_file::<Block>(&bytes).map_err(reject)?),
        FileKind::Allocation => {
            serde_json::to_value(decode_file::<Allocation>(&bytes).map_err(reject)?)
        }
        FileKind::TransactionBatch => {
            serde_json::to_value(decode_file::<TransactionBatch>(&bytes).map_err(reject)?)
        }
        FileKind::HistoryProof => {
            serde_json::to_value(decode_file::<HistoryProof>(&bytes).map_err(reject)?)
        }
        FileKind::SpanProof => {
            serde_json::to_value(decode_file::<SpanProof>(&bytes).map_err(reject)?)
        }
        FileKind::AggregateSpanProof => {
            serde_json::to_value(decode_file::<AggregateSpanProof>(&bytes).map_err(reject)?)
        }
        FileKind::ProvingJob => {
            serde_json::to_value(decode_file::<ProvingJob>(&bytes).map_err(reject)?)
        }
    }
    .context("encoding JSON")?;
    let text = if args.json {
        serde_json::to_string(&value)
    } else {
        serde_json::to_string_pretty(&value)
    }
    .context("encoding JSON")?;
    outln!("{text}");
    Ok(())
}
