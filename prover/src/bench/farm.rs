//! `stateless bench --farm`: the proving farm against in-process proving, on this machine.
//!
//! One generated `zk-transfer` workload (tiny depth and batch, so that a run takes a minute) is
//! proven three times from scratch: in-process (`ZkProving::local`, every core on each proof),
//! then through a `nats-server` of its own (127.0.0.1, authentication on, file storage) with
//! one worker on every core, then with two workers on half the cores each. Workers run in this
//! process on threads of their own, as `stateless worker` runs them.
//!
//! - `*_proofs_per_s`, `*_tx_per_s`: jobs (blobs) and transfers proven per second of wall time,
//!   the whole chain included (witnesses, checks, commits).
//! - `coordinator_cpu_ms_per_job`: CPU time of the coordinator's thread (block building, each
//!   job's encoding and publication, each proof's check by the verifier, the commits) per job,
//!   from `/proc/thread-self/schedstat`: what bounds how many workers one coordinator feeds.
//! - `coordinator_bytes_per_job`, `worker_bytes_per_job`: NATS payload and header bytes sent and
//!   received per job, by the coordinator and by the workers.
//! - `job_bytes`, `job_bytes_depth_32_batch_64`: one encoded job here, and one of the real
//!   shape (a 64-transfer blob at depth 32 over 2^16 accounts; the witness only, no proof),
//!   with `real_witness_ms` the time to build that blob's Merkle witness on the prover.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::json;
use witness_format::{Model, ProvingJob, Witness};

use crate::farm::server::{LocalNats, nats_server_available};
use crate::farm::{FarmConfig, FarmProofs, WorkerOptions, encode_job, run_worker};
use crate::files::write_workload;
use crate::prove_dir::prove_workload_dir;
use crate::workload::{AccessPattern, WorkloadGenerator, WorkloadSpec, generate_for};
use crate::zk::groth16::setup_from_seed;
use crate::zk::keys::{Keys, Shape};
use crate::zk::proofs::ZkProving;
use crate::{BlockOptions, ProverState};

/// The farm measurement's shape.
#[derive(Clone, Copy, Debug)]
pub struct FarmBenchOptions {
    /// Tree depth (default 8; 4 with `quick`).
    pub depth: Option<u8>,
    /// Transfers per proof (default 8; 2 with `quick`).
    pub batch: Option<usize>,
    /// Jobs (blobs) to prove (default 16; 4 with `quick`).
    pub jobs: Option<usize>,
    /// Smaller and without the real-shape job.
    pub quick: bool,
}

/// Runs the measurement (module documentation).
pub fn run(options: &FarmBenchOptions) -> Result<serde_json::Value> {
    ensure!(
        nats_server_available(),
        "bench --farm needs nats-server (Debian's package `nats-server`, or set NATS_SERVER)"
    );
    let depth = options.depth.unwrap_or(if options.quick { 4 } else { 8 });
    let batch = options.batch.unwrap_or(if options.quick { 2 } else { 8 });
    let jobs = options.jobs.unwrap_or(if options.quick { 4 } else { 16 });
    let cores = rayon::current_num_threads();
    let blocks = jobs.div_ceil(2);
    let spec = WorkloadSpec {
        chain_id: 7,
        tree_depth: depth,
        accounts: (batch as u64 * 4).min(1 << depth),
        blocks,
        txs_per_block: batch * 2,
        new_account_percent: 0,
        ..WorkloadSpec::default()
    };
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let workload = dir.path().join("workload");
    write_workload(&workload, &generate_for(&spec, Model::ZkTransfer))?;
    eprintln!(
        "bench --farm: depth {depth}, batch {batch}, {blocks} blocks of 2 blobs, {cores} threads"
    );
    let shape = Shape::new(
        depth,
        u16::try_from(batch).context("batch too large")?,
        spec.chain_id,
    );
    let (pk, vk) = setup_from_seed(shape, [11; 32])?;
    let keys = Keys { shape, pk, vk };

    let transfers = (blocks * batch * 2) as f64;
    let jobs = (blocks * 2) as f64;
    let local = {
        let started = Instant::now();
        prove(
            dir.path(),
            "local",
            &workload,
            ZkProving::local(keys.clone()),
        )?;
        started.elapsed().as_secs_f64()
    };
    eprintln!("bench --farm: in-process {local:.2} s");
    let mut report = json!({
        "depth": depth,
        "batch": batch,
        "jobs": jobs,
        "transfers": transfers,
        "threads": cores,
        "local_proofs_per_s": jobs / local,
        "local_tx_per_s": transfers / local,
    });
    for workers in [1, 2] {
        let run = farmed(dir.path(), &workload, &keys, workers, cores)?;
        eprintln!("bench --farm: {workers} workers {:.2} s", run.seconds);
        let object = report.as_object_mut().context("report")?;
        object.insert(
            format!("farm_{workers}_workers_proofs_per_s"),
            json!(jobs / run.seconds),
        );
        object.insert(
            format!("farm_{workers}_workers_tx_per_s"),
            json!(transfers / run.seconds),
        );
        object.insert(
            format!("farm_{workers}_workers_vs_local"),
            json!(local / run.seconds),
        );
        if workers == 2 {
            object.insert(
                "coordinator_cpu_ms_per_job".into(),
                json!(run.coordinator_cpu_ms / jobs),
            );
            object.insert(
                "coordinator_bytes_per_job".into(),
                json!(run.coordinator_bytes / jobs),
            );
            object.insert(
                "worker_bytes_per_job".into(),
                json!(run.worker_bytes / jobs),
            );
            object.insert("job_bytes".into(), json!(run.job_bytes));
        }
    }
    if !options.quick {
        let (bytes, witness_ms) = real_shape_job()?;
        let object = report.as_object_mut().context("report")?;
        object.insert("job_bytes_depth_32_batch_64".into(), json!(bytes));
        object.insert("real_witness_ms".into(), json!(witness_ms));
    }
    Ok(report)
}

/// Proves `workload` into a chain named `name` under `dir` with `zk`.
fn prove(dir: &Path, name: &str, workload: &Path, zk: ZkProving) -> Result<()> {
    let options = BlockOptions {
        txs_per_blob: usize::from(zk.shape.batch),
        ..BlockOptions::default()
    };
    prove_workload_dir(
        workload,
        &dir.join(format!("{name}.redb")),
        &dir.join(name),
        options,
        Some(zk),
        None,
        |_, _, left_out| debug_assert!(left_out.is_empty()),
    )?;
    Ok(())
}

/// One farmed run's measurements.
struct FarmRun {
    seconds: f64,
    coordinator_cpu_ms: f64,
    coordinator_bytes: f64,
    worker_bytes: f64,
    job_bytes: u64,
}

/// Proves `workload` through a fresh farm of `workers` workers sharing `cores` threads.
fn farmed(
    dir: &Path,
    workload: &Path,
    keys: &Keys,
    workers: usize,
    cores: usize,
) -> Result<FarmRun> {
    let farm_dir = dir.join(format!("farm-{workers}"));
    std::fs::create_dir_all(&farm_dir).context("creating the farm's directory")?;
    let nats = LocalNats::start(&farm_dir).context("starting nats-server")?;
    let config = FarmConfig::new(nats.url(), Some(nats.coordinator_credentials()));
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|i| {
                let options = WorkerOptions {
                    farm: FarmConfig::new(nats.url(), Some(nats.worker_credentials())),
                    name: format!("bench-{i}"),
                    threads: (cores / workers).max(1),
                    max_jobs: None,
                };
                let (keys, stop) = (keys.clone(), &stop);
                scope.spawn(move || run_worker(keys, &options, stop, |_| {}))
            })
            .collect();
        let result = (|| {
            let farm = FarmProofs::connect(
                config,
                verifier::zk_transfer::groth16::verifying_key_hash(&keys.vk),
            )?;
            let report = farm.report();
            let zk = ZkProving {
                shape: keys.shape,
                vk: keys.vk.clone(),
                proofs: Box::new(farm),
            };
            let (cpu, started) = (thread_cpu(), Instant::now());
            prove(dir, &format!("farm-{workers}-chain"), workload, zk)?;
            let seconds = started.elapsed().as_secs_f64();
            let coordinator_cpu_ms = thread_cpu().saturating_sub(cpu).as_secs_f64() * 1e3;
            let report = report
                .lock()
                .map_err(|_| anyhow::anyhow!("farm report"))?
                .clone();
            Ok::<_, anyhow::Error>((seconds, coordinator_cpu_ms, report))
        })();
        stop.store(true, Ordering::Relaxed);
        let mut worker_bytes = 0u64;
        for handle in handles {
            let worker = handle
                .join()
                .map_err(|_| anyhow::anyhow!("a worker thread panicked"))??;
            worker_bytes += worker.bytes_in + worker.bytes_out;
        }
        let (seconds, coordinator_cpu_ms, report) = result?;
        ensure!(report.accepted() > 0, "the farm proved nothing");
        Ok(FarmRun {
            seconds,
            coordinator_cpu_ms,
            coordinator_bytes: (report.bytes_in + report.bytes_out) as f64,
            worker_bytes: worker_bytes as f64,
            job_bytes: report.job_bytes / report.published.max(1),
        })
    })
}

/// One job of the real shape (64 transfers at depth 32 over 2^16 accounts): its bytes, and the
/// milliseconds to build its blob's Merkle witness.
fn real_shape_job() -> Result<(usize, f64)> {
    let spec = WorkloadSpec {
        tree_depth: 32,
        accounts: 1 << 16,
        ..WorkloadSpec::default()
    };
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let mut generator = WorkloadGenerator::for_model(&spec, Model::ZkTransfer);
    let mut prover = ProverState::open(&dir.path().join("real.redb"), &generator.allocation())?;
    let transactions = generator.next_block(64, AccessPattern::Uniform);
    let started = Instant::now();
    let (block, _) = prover.build_block(
        &transactions.transactions,
        BlockOptions {
            txs_per_blob: 64,
            ..BlockOptions::default()
        },
    )?;
    let witness_ms = started.elapsed().as_secs_f64() * 1e3;
    let blob = block.blobs.first().context("an empty block")?;
    ensure!(matches!(blob.witness, Witness::Merkle(_)), "a Merkle blob");
    let (bytes, _) = encode_job(&ProvingJob {
        vk_hash: witness_format::Hash32::ZERO,
        reserved_bits: 0,
        blob: blob.clone(),
    });
    Ok((bytes.len(), witness_ms))
}

/// CPU time of the calling thread so far.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}
