//! The coordinator: a [`ProofSource`] that publishes a block's jobs to the farm and collects
//! their proofs, each checked by the verifier before it is accepted.
//!
//! What each fault does (`docs/FARM.md` has the table):
//! - a worker that dies mid-proof stops sending progress acks: after the ack wait the server
//!   delivers its job again, to any worker; after `max_deliveries` it stops, and the
//!   coordinator fails naming the job ([`FarmError::Undelivered`]);
//! - a wrong proof is counted and ignored, and the job published again (a new message, so that
//!   deduplication does not drop it); after `max_wrong_proofs` the coordinator fails naming
//!   the job ([`FarmError::WrongProofs`]);
//! - a second proof of a job already proven is ignored (results are idempotent);
//! - a coordinator killed mid-block loses nothing: the block was not committed, and on resume
//!   it rebuilds the same jobs (same ids), takes the proofs already in the results stream, and
//!   republishes only the others (the ones still queued are dropped as duplicates);
//! - a NATS server restart with file storage loses no job or proof: clients reconnect and the
//!   coordinator, on any error, sweeps the results stream for its jobs' proofs again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, stream};
use futures_util::{FutureExt, StreamExt};
use witness_format::{Hash32, ProvingJob};

use super::{
    FarmConfig, FarmError, WORKER_HEADER, check_job_size, connect, encode_job, ensure_farm,
    jobs_subject, js_error, result_job, result_subject, workers_consumer,
};
use crate::ProverError;
use crate::zk::proofs::{ProofBytes, ProofCheck, ProofSource};

/// How long the coordinator keeps retrying while the server is unreachable before it fails.
const PATIENCE: Duration = Duration::from_secs(300);

/// What a farm did for the coordinator, so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FarmReport {
    /// Jobs published (first publications; republished ones are counted apart).
    pub published: u64,
    /// Bytes of the jobs published (first publications).
    pub job_bytes: u64,
    /// Proofs accepted, by the worker that made them.
    pub by_worker: BTreeMap<String, u64>,
    /// Proofs accepted that were already in the results stream when their block was built (a
    /// resumed run).
    pub found_done: u64,
    /// Wrong proofs ignored.
    pub wrong_proofs: u64,
    /// Proofs of jobs already proven, ignored.
    pub duplicates: u64,
    /// Jobs a worker refused (terminated).
    pub refused: u64,
    /// Jobs published again after a wrong proof or a refusal.
    pub republished: u64,
    /// Bytes the coordinator sent and received (NATS payloads and headers).
    pub bytes_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
}

impl FarmReport {
    /// Proofs accepted, from every worker.
    pub fn accepted(&self) -> u64 {
        self.by_worker.values().sum()
    }
}

/// A farm's proofs, for the key with hash `vk_hash`.
pub struct FarmProofs {
    runtime: tokio::runtime::Runtime,
    farm: Farm,
}

/// The coordinator's connection to the farm.
struct Farm {
    client: async_nats::Client,
    js: jetstream::Context,
    results: stream::Stream,
    /// An ephemeral consumer of new proofs; recreated after a server restart.
    arrivals: Option<consumer::Consumer<consumer::pull::Config>>,
    advisories: async_nats::Subscriber,
    config: FarmConfig,
    vk_hash: Hash32,
    report: Arc<Mutex<FarmReport>>,
}

impl FarmProofs {
    /// Connects to the farm, creating its streams and the workers' consumer of `vk_hash`'s jobs
    /// (with `config`'s ack wait and delivery limit) if they do not exist.
    pub fn connect(config: FarmConfig, vk_hash: Hash32) -> Result<Self, FarmError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| js_error("starting the coordinator's runtime")(&e))?;
        let (client, js, results, advisories) = runtime.block_on(async {
            let client = connect(&config, "stateless-coordinator").await?;
            let js = jetstream::new(client.clone());
            let (_, results) = ensure_farm(&js, &config, &vk_hash).await?;
            // MAX_DELIVERIES and MSG_TERMINATED.
            let advisory = format!(
                "$JS.EVENT.ADVISORY.CONSUMER.*.{}.{}",
                super::JOBS_STREAM,
                workers_consumer(&vk_hash)
            );
            let advisories = client
                .subscribe(advisory)
                .await
                .map_err(|e| js_error("subscribing to delivery advisories")(&e))?;
            Ok::<_, FarmError>((client, js, results, advisories))
        })?;
        let farm = Farm {
            client,
            js,
            results,
            arrivals: None,
            advisories,
            config,
            vk_hash,
            report: Arc::default(),
        };
        Ok(Self { runtime, farm })
    }

    /// A handle on what the farm did, readable after the proof source is handed over.
    pub fn report(&self) -> Arc<Mutex<FarmReport>> {
        Arc::clone(&self.farm.report)
    }
}

impl Farm {
    fn update(&self, change: impl FnOnce(&mut FarmReport)) {
        change(&mut self.report.lock().unwrap_or_else(PoisonError::into_inner));
    }

    async fn prove_block(
        &mut self,
        jobs: &[ProvingJob],
        check: ProofCheck<'_>,
    ) -> Result<Vec<ProofBytes>, FarmError> {
        let mut block = Block::new(jobs);
        // New proofs are watched for before the stream is searched, so none falls in between
        // (if the server is away, the loop below watches again once it is back).
        self.watch().await.ok();
        self.sweep(&mut block, jobs, check, true).await?;
        for index in block.missing() {
            let (bytes, id) = block.encoded(index);
            let size = bytes.len() as u64;
            let sequence = self.publish(&id, bytes).await?;
            block.job_by_sequence.insert(sequence, index);
            self.update(|r| {
                r.published += 1;
                r.job_bytes += size;
            });
        }
        let mut since_ok = Instant::now();
        while !block.missing().is_empty() {
            self.check_advisories(&mut block).await?;
            match self.receive(&mut block, jobs, check).await {
                Ok(()) => since_ok = Instant::now(),
                Err(error) if !error.is_transient() || since_ok.elapsed() > PATIENCE => {
                    return Err(error);
                }
                Err(_) => {
                    // The server went away or lost our consumer: reconnecting is automatic;
                    // watch again and take whatever arrived in between from the stream.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    self.arrivals = None;
                    if self.watch().await.is_ok()
                        && let Err(error) = self.sweep(&mut block, jobs, check, false).await
                        && !error.is_transient()
                    {
                        return Err(error);
                    }
                }
            }
        }
        let stats = self.client.statistics();
        self.update(|r| {
            r.bytes_out = stats.out_bytes.load(std::sync::atomic::Ordering::Relaxed);
            r.bytes_in = stats.in_bytes.load(std::sync::atomic::Ordering::Relaxed);
        });
        Ok(block.proofs.into_iter().flatten().collect())
    }

    /// Makes sure a consumer of new proofs exists.
    async fn watch(&mut self) -> Result<(), FarmError> {
        if self.arrivals.is_none() {
            let arrivals = self
                .results
                .create_consumer(consumer::pull::Config {
                    deliver_policy: consumer::DeliverPolicy::New,
                    ack_policy: consumer::AckPolicy::None,
                    filter_subject: "stateless.results.>".into(),
                    inactive_threshold: Duration::from_secs(600),
                    ..Default::default()
                })
                .await
                .map_err(|e| js_error("watching the results stream")(&e))?;
            self.arrivals = Some(arrivals);
        }
        Ok(())
    }

    /// Takes the proofs of the block's missing jobs already in the results stream (the last one
    /// of each job, unless it was found wrong). `first`: the block's first sweep, whose finds
    /// are proofs made before this run built the block.
    async fn sweep(
        &self,
        block: &mut Block,
        jobs: &[ProvingJob],
        check: ProofCheck<'_>,
        first: bool,
    ) -> Result<(), FarmError> {
        for index in block.missing() {
            let id = block.ids.get(index).cloned().unwrap_or_default();
            let Ok(message) = self
                .results
                .get_last_raw_message_by_subject(&result_subject(&id))
                .await
            else {
                continue;
            };
            if block.wrong_results.contains(&message.sequence) {
                continue;
            }
            let worker = worker_name(Some(&message.headers));
            let accepted = self
                .consider(
                    block,
                    jobs,
                    check,
                    index,
                    message.sequence,
                    &message.payload,
                )
                .await?;
            if accepted {
                self.update(|r| {
                    *r.by_worker.entry(worker).or_default() += 1;
                    if first {
                        r.found_done += 1;
                    }
                });
            }
        }
        Ok(())
    }

    /// Receives the proofs that arrive within a second.
    async fn receive(
        &mut self,
        block: &mut Block,
        jobs: &[ProvingJob],
        check: ProofCheck<'_>,
    ) -> Result<(), FarmError> {
        let arrivals = self.arrivals.as_ref().ok_or_else(|| FarmError::JetStream {
            what: "receiving proofs",
            why: "not watching".into(),
        })?;
        let mut batch = arrivals
            .fetch()
            .max_messages(block.ids.len().max(1))
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .map_err(|e| js_error("receiving proofs")(&e))?;
        let mut received = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| js_error("receiving proofs")(&e))?;
            let sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            let worker = worker_name(message.headers.as_ref());
            received.push((
                message.subject.to_string(),
                sequence,
                worker,
                message.payload.clone(),
            ));
        }
        for (subject, sequence, worker, payload) in received {
            let Some(index) = result_job(&subject).and_then(|id| block.index.get(id).copied())
            else {
                continue; // a proof of another block's job (an earlier run's)
            };
            if self
                .consider(block, jobs, check, index, sequence, &payload)
                .await?
            {
                self.update(|r| *r.by_worker.entry(worker).or_default() += 1);
            }
        }
        Ok(())
    }

    /// Takes `payload` as the proof of job `index` if it is one the verifier accepts; otherwise
    /// counts it wrong and publishes the job again. Returns whether it was taken.
    async fn consider(
        &self,
        block: &mut Block,
        jobs: &[ProvingJob],
        check: ProofCheck<'_>,
        index: usize,
        sequence: u64,
        payload: &[u8],
    ) -> Result<bool, FarmError> {
        let (Some(slot), Some(job)) = (block.proofs.get(index), jobs.get(index)) else {
            return Ok(false);
        };
        if slot.is_some() {
            self.update(|r| r.duplicates += 1);
            return Ok(false);
        }
        let proof: Option<ProofBytes> = payload.try_into().ok();
        if let Some(proof) = proof.filter(|proof| check(job, proof).is_ok()) {
            if let Some(slot) = block.proofs.get_mut(index) {
                *slot = Some(proof);
            }
            return Ok(true);
        }
        block.wrong_results.insert(sequence);
        let wrong = block.wrong.entry(index).or_default();
        *wrong += 1;
        let wrong = *wrong;
        self.update(|r| r.wrong_proofs += 1);
        let (bytes, id) = block.encoded(index);
        if wrong > self.config.max_wrong_proofs {
            return Err(FarmError::WrongProofs {
                job: id,
                blob: index,
                wrong,
            });
        }
        // A new message id: the first publication's would be dropped as a duplicate.
        let sequence = self.publish(&format!("{id}.{wrong}"), bytes).await?;
        block.job_by_sequence.insert(sequence, index);
        self.update(|r| r.republished += 1);
        Ok(false)
    }

    /// Publishes a job with deduplication id `message_id`, retrying while the server is away;
    /// returns its stream sequence (the first publication's, for a duplicate).
    async fn publish(&self, message_id: &str, bytes: Vec<u8>) -> Result<u64, FarmError> {
        let job = message_id.split('.').next().unwrap_or_default();
        check_job_size(job, bytes.len(), self.client.server_info().max_payload)?;
        let started = Instant::now();
        loop {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", message_id);
            let attempt = async {
                self.js
                    .publish_with_headers(
                        jobs_subject(&self.vk_hash),
                        headers,
                        bytes.clone().into(),
                    )
                    .await?
                    .await
            };
            match attempt.await {
                Ok(ack) => return Ok(ack.sequence),
                Err(error) if started.elapsed() > PATIENCE => {
                    return Err(js_error("publishing a job")(&error));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    /// Acts on the server's advisories about the block's jobs: one it gave up delivering ends
    /// the run, naming it; one a worker refused (terminated) is published again, as after a
    /// wrong proof (honest workers refuse only jobs they could never prove, so a refusal of an
    /// honest job is a worker's lie).
    async fn check_advisories(&mut self, block: &mut Block) -> Result<(), FarmError> {
        while let Some(Some(message)) = self.advisories.next().now_or_never() {
            let Ok(advisory) = serde_json::from_slice::<serde_json::Value>(&message.payload) else {
                continue;
            };
            let sequence = advisory.get("stream_seq").and_then(|v| v.as_u64());
            let deliveries = advisory.get("deliveries").and_then(|v| v.as_i64());
            let Some(index) = sequence.and_then(|s| block.job_by_sequence.get(&s).copied()) else {
                continue;
            };
            if block.proofs.get(index).is_none_or(Option::is_some) {
                continue;
            }
            let (bytes, id) = block.encoded(index);
            if message.subject.contains(".MSG_TERMINATED.") {
                let refused = block.refused.entry(index).or_default();
                *refused += 1;
                let refused = *refused;
                self.update(|r| r.refused += 1);
                if refused > self.config.max_wrong_proofs {
                    return Err(FarmError::Refused {
                        job: id,
                        blob: index,
                        refused,
                    });
                }
                let sequence = self.publish(&format!("{id}.r{refused}"), bytes).await?;
                block.job_by_sequence.insert(sequence, index);
                self.update(|r| r.republished += 1);
            } else {
                return Err(FarmError::Undelivered {
                    job: id,
                    blob: index,
                    deliveries: deliveries.unwrap_or(self.config.max_deliveries),
                });
            }
        }
        Ok(())
    }
}

impl ProofSource for FarmProofs {
    fn prove(
        &mut self,
        jobs: &[ProvingJob],
        check: ProofCheck<'_>,
    ) -> Result<Vec<ProofBytes>, ProverError> {
        self.runtime
            .block_on(self.farm.prove_block(jobs, check))
            .map_err(|e| ProverError::ZkProving(format!("proving farm: {e}")))
    }
}

/// The state of one block's jobs.
struct Block {
    encoded: Vec<Vec<u8>>,
    ids: Vec<String>,
    index: HashMap<String, usize>,
    proofs: Vec<Option<ProofBytes>>,
    /// Stream sequences of the jobs' messages, for delivery advisories.
    job_by_sequence: HashMap<u64, usize>,
    /// Stream sequences of proofs found wrong, not to be considered again.
    wrong_results: HashSet<u64>,
    wrong: HashMap<usize, u32>,
    refused: HashMap<usize, u32>,
}

impl Block {
    fn new(jobs: &[ProvingJob]) -> Self {
        let (encoded, ids): (Vec<Vec<u8>>, Vec<String>) = jobs.iter().map(encode_job).unzip();
        let index = ids.iter().cloned().zip(0..).collect();
        Self {
            proofs: vec![None; ids.len()],
            encoded,
            ids,
            index,
            job_by_sequence: HashMap::new(),
            wrong_results: HashSet::new(),
            wrong: HashMap::new(),
            refused: HashMap::new(),
        }
    }

    /// The jobs without a proof yet.
    fn missing(&self) -> Vec<usize> {
        (0..self.proofs.len())
            .filter(|&i| self.proofs.get(i).is_some_and(Option::is_none))
            .collect()
    }

    /// Job `index`'s bytes and id.
    fn encoded(&self, index: usize) -> (Vec<u8>, String) {
        (
            self.encoded.get(index).cloned().unwrap_or_default(),
            self.ids.get(index).cloned().unwrap_or_default(),
        )
    }
}

/// The worker a proof's headers name.
fn worker_name(headers: Option<&HeaderMap>) -> String {
    headers
        .and_then(|h| h.get(WORKER_HEADER))
        .map(|v| v.as_str().to_string())
        .unwrap_or_else(|| "unnamed".into())
}
