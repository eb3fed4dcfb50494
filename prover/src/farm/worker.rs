//! A worker (`stateless worker`): pulls jobs for its key from the farm, proves each
//! ([`crate::models::prove_job`], the prover's own function), publishes the proof under the
//! job's id and only then acks the job. While it proves it sends progress acks, so the job is
//! not delivered again while the worker is alive; a worker that dies leaves its job to be
//! delivered again after the ack wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer};
use futures_util::StreamExt;
use verifier::zk_transfer::groth16::verifying_key_hash;
use witness_format::{ProvingJob, decode_file};

use super::{
    FarmConfig, FarmError, JOBS_STREAM, WORKER_HEADER, connect, encode_job, js_error,
    result_subject, workers_consumer,
};
use crate::models::prove_job;
use crate::zk::groth16::KeyedProver;
use crate::zk::keys::Keys;
use crate::zk::proofs::ProofBytes;

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// The farm (only its address and credentials are used: the coordinator sets the rest).
    pub farm: FarmConfig,
    /// The worker's name, sent with every proof.
    pub name: String,
    /// Threads each proof uses.
    pub threads: usize,
    /// Stop after this many jobs (`None`: run until stopped).
    pub max_jobs: Option<u64>,
}

/// What a worker did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Jobs proven and acked.
    pub jobs: u64,
    /// Jobs refused (malformed, for another key, or not provable).
    pub refused: u64,
    /// Bytes sent and received (NATS payloads and headers).
    pub bytes_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
}

/// What a worker tells about a job.
#[derive(Clone, Debug)]
pub enum WorkerEvent {
    /// Waiting for the coordinator to create the farm's queue.
    Waiting,
    /// Proving a job (its id and transaction count).
    Proving(String, usize),
    /// A job proven, its proof published and the job acked, after this long.
    Proved(String, Duration),
    /// A job refused, and why.
    Refused(String, String),
}

/// Runs a worker with `keys` until `stop` is set or `options.max_jobs` are done, telling
/// `on_event` what it does.
pub fn run_worker(
    keys: Keys,
    options: &WorkerOptions,
    stop: &AtomicBool,
    mut on_event: impl FnMut(WorkerEvent),
) -> Result<WorkerReport, FarmError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| js_error("starting the worker's runtime")(&e))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.max(1))
        .build()
        .map_err(|e| js_error("starting the worker's threads")(&e))?;
    let worker = Worker {
        vk_hash: verifying_key_hash(&keys.vk),
        prover: Arc::new(KeyedProver::new(keys.pk, keys.shape)),
        pool: Arc::new(pool),
        options,
    };
    runtime.block_on(worker.run(stop, &mut on_event))
}

struct Worker<'a> {
    prover: Arc<KeyedProver>,
    vk_hash: witness_format::Hash32,
    pool: Arc<rayon::ThreadPool>,
    options: &'a WorkerOptions,
}

impl Worker<'_> {
    async fn run(
        &self,
        stop: &AtomicBool,
        on_event: &mut impl FnMut(WorkerEvent),
    ) -> Result<WorkerReport, FarmError> {
        let client = connect(&self.options.farm, &self.options.name).await?;
        let js = jetstream::new(client.clone());
        let mut report = WorkerReport::default();
        let mut queue = None;
        while !stop.load(Ordering::Relaxed)
            && self.options.max_jobs.is_none_or(|most| report.jobs < most)
        {
            let Some((jobs, ack_wait)) = &queue else {
                queue = self.queue(&js).await;
                if queue.is_none() {
                    on_event(WorkerEvent::Waiting);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                continue;
            };
            let fetched = jobs
                .fetch()
                .max_messages(1)
                .expires(Duration::from_secs(1))
                .messages()
                .await;
            let Ok(mut batch) = fetched else {
                // The server is away, or the consumer was replaced: find it again.
                queue = None;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            };
            while let Some(message) = batch.next().await {
                let Ok(message) = message else { continue };
                self.handle(&js, message, *ack_wait, &mut report, on_event)
                    .await;
            }
        }
        let stats = client.statistics();
        report.bytes_out = stats.out_bytes.load(Ordering::Relaxed);
        report.bytes_in = stats.in_bytes.load(Ordering::Relaxed);
        Ok(report)
    }

    /// The workers' consumer of this key's jobs, once the coordinator has created it, and its
    /// ack wait (the coordinator's setting).
    async fn queue(
        &self,
        js: &jetstream::Context,
    ) -> Option<(consumer::Consumer<consumer::pull::Config>, Duration)> {
        let stream = js.get_stream(JOBS_STREAM).await.ok()?;
        let consumer: consumer::Consumer<consumer::pull::Config> = stream
            .get_consumer(&workers_consumer(&self.vk_hash))
            .await
            .ok()?;
        let ack_wait = consumer.cached_info().config.ack_wait;
        Some((consumer, ack_wait))
    }

    /// Proves one job and publishes its proof, then acks it; refuses (terminates) a job it
    /// could never prove.
    async fn handle(
        &self,
        js: &jetstream::Context,
        message: jetstream::Message,
        ack_wait: Duration,
        report: &mut WorkerReport,
        on_event: &mut impl FnMut(WorkerEvent),
    ) {
        let job = decode_file::<ProvingJob>(&message.payload);
        let id = match &job {
            Ok(job) => encode_job(job).1,
            Err(_) => "(undecodable)".to_string(),
        };
        let refuse = |why: String, report: &mut WorkerReport| {
            report.refused += 1;
            (id.clone(), why)
        };
        let job = match job {
            Ok(job) if job.vk_hash == self.vk_hash => job,
            Ok(job) => {
                let why = format!(
                    "the job is for key {}, this worker's key is {}",
                    job.vk_hash, self.vk_hash
                );
                let (id, why) = refuse(why, report);
                message.ack_with(AckKind::Term).await.ok();
                on_event(WorkerEvent::Refused(id, why));
                return;
            }
            Err(error) => {
                let (id, why) = refuse(format!("not a proving job: {error}"), report);
                message.ack_with(AckKind::Term).await.ok();
                on_event(WorkerEvent::Refused(id, why));
                return;
            }
        };
        on_event(WorkerEvent::Proving(
            id.clone(),
            job.blob.transactions.len(),
        ));
        let started = Instant::now();
        let proof = match self.prove(&message, job, ack_wait).await {
            Ok(proof) => proof,
            Err(why) => {
                let (id, why) = refuse(why, report);
                message.ack_with(AckKind::Term).await.ok();
                on_event(WorkerEvent::Refused(id, why));
                return;
            }
        };
        // The proof goes out before the ack: a worker that dies in between leaves the job to
        // be proven again, and the coordinator ignores the second proof.
        let mut headers = HeaderMap::new();
        headers.insert(WORKER_HEADER, self.options.name.as_str());
        loop {
            let published = async {
                js.publish_with_headers(result_subject(&id), headers.clone(), proof.to_vec().into())
                    .await?
                    .await
            };
            if published.await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // If the ack is lost, the job is delivered again and its second proof ignored.
        message.double_ack().await.ok();
        report.jobs += 1;
        on_event(WorkerEvent::Proved(id, started.elapsed()));
    }

    /// Proves `job` on the worker's threads, sending progress acks for `message` meanwhile.
    async fn prove(
        &self,
        message: &jetstream::Message,
        job: ProvingJob,
        ack_wait: Duration,
    ) -> Result<ProofBytes, String> {
        let (prover, pool) = (Arc::clone(&self.prover), Arc::clone(&self.pool));
        let mut proving =
            tokio::task::spawn_blocking(move || pool.install(|| prove_job(&prover, &job)));
        // Three signs of life per ack wait: one lost on the way does not cost the job.
        let period = ack_wait.checked_div(3).unwrap_or_default();
        let mut beat = tokio::time::interval(period.max(Duration::from_millis(100)));
        beat.tick().await;
        loop {
            tokio::select! {
                done = &mut proving => {
                    return match done {
                        Ok(proof) => proof.map_err(|e| e.to_string()),
                        Err(e) => Err(format!("the proving thread failed: {e}")),
                    };
                }
                _ = beat.tick() => {
                    message.ack_with(AckKind::Progress).await.ok();
                }
            }
        }
    }
}
