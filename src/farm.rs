//! A proving farm on NATS JetStream (`docs/FARM.md`): `stateless farm init` writes a farm's
//! credentials and server configuration, `stateless worker` proves jobs, and
//! `stateless prove --witness zk --farm URL` hands its proofs to the workers.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use prover::farm::server::{COORDINATOR_CREDENTIALS, SERVER_CONFIG, WORKER_CREDENTIALS, init_farm};
use prover::farm::worker::WorkerEvent;
use prover::farm::{FarmConfig, FarmProofs, FarmReport, WorkerOptions, run_worker};
use prover::zk::keys::{read_keys, read_verifying_key};
use prover::zk::proofs::ZkProving;
use verifier::zk_transfer::groth16::verifying_key_hash;

use crate::Failure;

/// The farm options of `stateless prove`.
#[derive(Args)]
pub(crate) struct FarmArgs {
    /// Farm the zk proofs out to workers through this NATS server (`nats://host:port`)
    /// instead of proving here (for `--witness zk`; only `vk.bin` and `shape.json` of `--keys`
    /// are read).
    #[arg(long, value_name = "URL")]
    pub(crate) farm: Option<String>,
    /// The coordinator's NKey seed file (`coordinator.nk` from `stateless farm init`).
    #[arg(long, requires = "farm")]
    credentials: Option<PathBuf>,
    /// Seconds a worker may hold a job without a sign of life before it is delivered again.
    #[arg(long, default_value_t = 30, requires = "farm")]
    ack_wait: u64,
    /// Deliveries of one job before the prover gives up on it, naming it.
    #[arg(long, default_value_t = 5, requires = "farm")]
    max_deliveries: i64,
}

impl FarmArgs {
    /// The farm to use, if `--farm` is given.
    pub(crate) fn config(&self) -> Option<FarmConfig> {
        let url = self.farm.clone()?;
        Some(FarmConfig {
            ack_wait: Duration::from_secs(self.ack_wait.max(1)),
            max_deliveries: self.max_deliveries.max(1),
            ..FarmConfig::new(url, self.credentials.clone())
        })
    }
}

/// Proofs from the farm `config` under the verifying key in the keys directory `dir`, and a
/// handle on what the farm did.
pub(crate) fn farm_proving(
    dir: &Path,
    config: FarmConfig,
) -> Result<(ZkProving, Arc<Mutex<FarmReport>>), Failure> {
    let (shape, vk) = read_verifying_key(dir).map_err(anyhow::Error::from)?;
    let farm = FarmProofs::connect(config, verifying_key_hash(&vk)).map_err(anyhow::Error::from)?;
    let report = farm.report();
    let proofs = Box::new(farm);
    Ok((ZkProving { shape, vk, proofs }, report))
}

/// Prints what the farm did: the proofs each worker made (the prover makes none itself).
pub(crate) fn print_farm_report(report: &Mutex<FarmReport>) {
    let report = report.lock().unwrap_or_else(PoisonError::into_inner);
    let workers: Vec<String> = report
        .by_worker
        .iter()
        .map(|(name, jobs)| format!("{name}: {jobs}"))
        .collect();
    eprintln!(
        "farm: {} proofs from {} workers ({}), proven here: 0; {} found already proven, {} wrong proofs ignored, {} duplicates ignored, {} jobs refused by workers, {} jobs republished",
        report.accepted(),
        report.by_worker.len(),
        workers.join(", "),
        report.found_done,
        report.wrong_proofs,
        report.duplicates,
        report.refused,
        report.republished,
    );
}

/// Arguments of `stateless worker`.
#[derive(Args)]
pub(crate) struct WorkerArgs {
    /// The farm's NATS server (`nats://host:port`).
    #[arg(long, value_name = "URL")]
    nats: String,
    /// Keys directory written by `stateless zk setup`: the worker proves the jobs of its key.
    #[arg(long)]
    keys: PathBuf,
    /// Threads each proof uses (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// The workers' NKey seed file (`worker.nk` from `stateless farm init`).
    #[arg(long)]
    credentials: Option<PathBuf>,
    /// The name sent with every proof (default: host name and process id).
    #[arg(long)]
    name: Option<String>,
    /// Stop after this many jobs (default: run until stopped).
    #[arg(long)]
    max_jobs: Option<u64>,
}

/// `stateless worker`.
pub(crate) fn worker(args: WorkerArgs) -> Result<(), Failure> {
    let keys = read_keys(&args.keys).map_err(anyhow::Error::from)?;
    let name = args.name.unwrap_or_else(default_name);
    let options = WorkerOptions {
        farm: FarmConfig::new(args.nats, args.credentials),
        name: name.clone(),
        threads: args.threads.unwrap_or_else(rayon::current_num_threads),
        max_jobs: args.max_jobs,
    };
    eprintln!(
        "worker {name}: proving jobs for key {} at {} with {} threads",
        verifying_key_hash(&keys.vk),
        options.farm.url,
        options.threads
    );
    let mut waiting = false;
    let report = run_worker(
        keys,
        &options,
        &AtomicBool::new(false),
        |event| match event {
            WorkerEvent::Waiting if !waiting => {
                waiting = true;
                eprintln!("waiting for a coordinator to create the farm's job queue");
            }
            WorkerEvent::Waiting => {}
            WorkerEvent::Proving(id, transactions) => {
                eprintln!("proving job {id} ({transactions} transactions)");
            }
            WorkerEvent::Proved(id, took) => {
                eprintln!("proved job {id} in {:.2} s", took.as_secs_f64());
            }
            WorkerEvent::Refused(id, why) => eprintln!("refused job {id}: {why}"),
        },
    )
    .map_err(anyhow::Error::from)?;
    eprintln!(
        "worker {name}: proved {} jobs, refused {}",
        report.jobs, report.refused
    );
    Ok(())
}

/// The host's name and this process's id.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "worker".into());
    format!("{host}-{}", std::process::id())
}

/// Arguments of `stateless farm`.
#[derive(Args)]
pub(crate) struct FarmCommandArgs {
    #[command(subcommand)]
    command: FarmCommand,
}

#[derive(Subcommand)]
enum FarmCommand {
    /// Write a farm's credentials (an NKey per role) and a nats-server configuration that
    /// admits only them.
    Init(InitArgs),
}

/// Arguments of `stateless farm init`.
#[derive(Args)]
pub(crate) struct InitArgs {
    /// Directory to write `coordinator.nk`, `worker.nk` and `nats.conf` into.
    #[arg(long)]
    dir: PathBuf,
    /// Address the server listens on.
    #[arg(long, default_value = "0.0.0.0:4222")]
    listen: String,
    /// JetStream's storage directory (default: DIR/jetstream).
    #[arg(long)]
    store: Option<PathBuf>,
}

/// `stateless farm`.
pub(crate) fn farm(args: FarmCommandArgs) -> Result<(), Failure> {
    let FarmCommand::Init(args) = args.command;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let store = args.store.unwrap_or_else(|| args.dir.join("jetstream"));
    let keys = init_farm(&args.dir, &args.listen, &store)?;
    let dir = args.dir.display();
    outln!(
        "coordinator key {} in {dir}/{COORDINATOR_CREDENTIALS}",
        keys.coordinator
    );
    outln!(
        "worker key      {} in {dir}/{WORKER_CREDENTIALS}",
        keys.worker
    );
    outln!("start the server:  nats-server -c {dir}/{SERVER_CONFIG}");
    outln!(
        "start workers:     stateless worker --nats nats://HOST:PORT --keys KEYS --credentials {dir}/{WORKER_CREDENTIALS}"
    );
    outln!(
        "prove:             stateless prove --witness zk --keys KEYS --farm nats://HOST:PORT --credentials {dir}/{COORDINATOR_CREDENTIALS} ..."
    );
    Ok(())
}
