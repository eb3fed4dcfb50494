//! A proving farm on NATS JetStream (`docs/FARM.md`): the prover (the coordinator) publishes
//! one [`ProvingJob`] per `zk-transfer` blob of a block to a work-queue stream; workers anywhere
//! pull jobs, prove them and publish the 192-byte proofs to a results stream; the coordinator
//! checks each proof with the verifier before the block takes it.
//!
//! - [`coordinator`]: the [`ProofSource`](crate::zk::proofs::ProofSource) that farms proofs out.
//! - [`worker`]: the loop of `stateless worker`.
//! - [`server`]: credentials and a `nats-server` configuration for a farm, and a local server
//!   for tests and benchmarks.
//!
//! Subjects and streams (one farm per NATS account):
//!
//! ```text
//! stateless.jobs.<vk hash hex>      stream STATELESS_JOBS (work queue, file storage)
//!                                    consumer workers-<first 16 hex of the vk hash>
//! stateless.results.<job id>        stream STATELESS_RESULTS (limits, file storage)
//! ```
//!
//! A job's id is the hex SHA3-256 of its encoded bytes: the same blob on the same key is the
//! same job wherever and whenever it is built, so a resumed coordinator finds the proofs of the
//! jobs it had published, and republishing a job still queued is a duplicate JetStream drops.

pub mod coordinator;
pub mod server;
pub mod worker;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use sha3::{Digest, Sha3_256};
use thiserror::Error;
use witness_format::{Hash32, ProvingJob, encode_file};

pub use coordinator::{FarmProofs, FarmReport};
pub use worker::{WorkerOptions, WorkerReport, run_worker};

/// The stream of proving jobs.
pub const JOBS_STREAM: &str = "STATELESS_JOBS";
/// The stream of proofs.
pub const RESULTS_STREAM: &str = "STATELESS_RESULTS";
/// The header naming the worker that made a proof.
pub const WORKER_HEADER: &str = "Stateless-Worker";

/// How long a job stays in the deduplication window: a job republished within it (by a
/// coordinator resumed after a crash) while still queued is dropped by the server.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(20 * 60);
/// How long proofs are kept: a coordinator resumed within it finds the proofs of the block it
/// was building.
const RESULTS_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Where a farm is and how its jobs are delivered.
#[derive(Clone, Debug)]
pub struct FarmConfig {
    /// The NATS server (or cluster seed), `nats://host:port`.
    pub url: String,
    /// An NKey seed file (`stateless farm init` writes one per role); `None` connects without
    /// credentials, which a farm's server refuses.
    pub credentials: Option<PathBuf>,
    /// How long a worker may hold a job without a sign of life before it is delivered again
    /// (workers send progress acks every third of it while they prove).
    pub ack_wait: Duration,
    /// How many times a job is delivered before the coordinator gives up on it, naming it.
    pub max_deliveries: i64,
    /// How many wrong proofs of one job are ignored (the job re-queued each time) before the
    /// coordinator gives up on it, naming it.
    pub max_wrong_proofs: u32,
}

impl FarmConfig {
    /// The defaults for the farm at `url`.
    pub fn new(url: impl Into<String>, credentials: Option<PathBuf>) -> Self {
        Self {
            url: url.into(),
            credentials,
            ack_wait: Duration::from_secs(30),
            max_deliveries: 5,
            max_wrong_proofs: 8,
        }
    }
}

/// Why a farm failed.
#[derive(Debug, Error)]
pub enum FarmError {
    /// The credentials file could not be read or holds no NKey seed.
    #[error("credentials {}: {why}", path.display())]
    Credentials {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The server could not be reached or refused us.
    #[error("connecting to {url}: {why}")]
    Connect {
        /// The server.
        url: String,
        /// Why.
        why: String,
    },
    /// A JetStream request failed.
    #[error("{what}: {why}")]
    JetStream {
        /// What was asked.
        what: &'static str,
        /// Why it failed.
        why: String,
    },
    /// A job was delivered as many times as allowed and no worker returned its proof.
    #[error(
        "job {job} (blob {blob} of the block) was delivered {deliveries} times and no worker returned a proof: are the workers dying on it?"
    )]
    Undelivered {
        /// The job's id.
        job: String,
        /// Its blob's position among the block's jobs.
        blob: usize,
        /// Deliveries made.
        deliveries: i64,
    },
    /// Workers returned only wrong proofs of a job.
    #[error("job {job} (blob {blob} of the block): {wrong} wrong proofs and no right one")]
    WrongProofs {
        /// The job's id.
        job: String,
        /// Its blob's position among the block's jobs.
        blob: usize,
        /// Wrong proofs received.
        wrong: u32,
    },
    /// A job that is too large for the server's message size.
    #[error("job {job} is {bytes} bytes, more than the server takes")]
    JobTooLarge {
        /// The job's id.
        job: String,
        /// Its size.
        bytes: usize,
    },
    /// Proving failed on a worker.
    #[error(transparent)]
    Prover(#[from] Box<crate::ProverError>),
}

/// A JetStream request failed with `error`.
fn js_error(what: &'static str) -> impl Fn(&dyn std::fmt::Display) -> FarmError {
    move |error| FarmError::JetStream {
        what,
        why: error.to_string(),
    }
}

/// A job's encoding (a framed file, `docs/FORMAT.md`) and its id.
pub fn encode_job(job: &ProvingJob) -> (Vec<u8>, String) {
    let bytes = encode_file(job);
    let id = hex::encode(Sha3_256::digest(&bytes));
    (bytes, id)
}

/// The subject of the jobs for the key with hash `vk_hash`.
pub fn jobs_subject(vk_hash: &Hash32) -> String {
    format!("stateless.jobs.{}", hex::encode(vk_hash.0))
}

/// The subject of the proofs of job `id`.
pub fn result_subject(id: &str) -> String {
    format!("stateless.results.{id}")
}

/// The job id a result subject names.
fn result_job(subject: &str) -> Option<&str> {
    subject.strip_prefix("stateless.results.")
}

/// The durable consumer the workers of the key with hash `vk_hash` share.
pub fn workers_consumer(vk_hash: &Hash32) -> String {
    format!("workers-{}", hex::encode(&vk_hash.0[..8]))
}

/// Reads the NKey seed in `path`: the first line that starts with `SU` (a user seed), so that a
/// file may carry comments.
pub fn read_credentials(path: &Path) -> Result<String, FarmError> {
    let error = |why: String| FarmError::Credentials {
        path: path.to_path_buf(),
        why,
    };
    let bytes = crate::files::read_limited(path, 64 << 10).map_err(|e| error(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| error("not text".into()))?;
    let seed = text
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("SU"))
        .ok_or_else(|| error("no NKey user seed (a line starting with SU)".into()))?;
    nkeys::KeyPair::from_seed(seed).map_err(|e| error(format!("not an NKey seed: {e}")))?;
    Ok(seed.to_string())
}

/// Connects to the farm's server as `name`, with its credentials, retrying forever when the
/// connection drops (jobs and proofs wait in the streams meanwhile).
pub async fn connect(config: &FarmConfig, name: &str) -> Result<async_nats::Client, FarmError> {
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5));
    if let Some(path) = &config.credentials {
        options = options.nkey(read_credentials(path)?);
    }
    options
        .connect(config.url.as_str())
        .await
        .map_err(|e| FarmError::Connect {
            url: config.url.clone(),
            why: e.to_string(),
        })
}

/// Creates the farm's two streams and the workers' consumer of `vk_hash`'s jobs, or brings
/// their settings to `config`'s (what the coordinator does on start).
async fn ensure_farm(
    js: &jetstream::Context,
    config: &FarmConfig,
    vk_hash: &Hash32,
) -> Result<(stream::Stream, stream::Stream), FarmError> {
    let jobs = js
        .get_or_create_stream(stream::Config {
            name: JOBS_STREAM.into(),
            subjects: vec!["stateless.jobs.>".into()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
        .map_err(|e| js_error("creating the jobs stream")(&e))?;
    let results = js
        .get_or_create_stream(stream::Config {
            name: RESULTS_STREAM.into(),
            subjects: vec!["stateless.results.>".into()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: RESULTS_MAX_AGE,
            ..Default::default()
        })
        .await
        .map_err(|e| js_error("creating the results stream")(&e))?;
    let name = workers_consumer(vk_hash);
    let wanted = consumer::pull::Config {
        durable_name: Some(name.clone()),
        filter_subject: jobs_subject(vk_hash),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliveries,
        ..Default::default()
    };
    // A create with the same name updates the consumer's settings on this server version; a
    // server that refuses to update it gets it deleted and created anew (its jobs wait in the
    // stream meanwhile and are delivered from the start).
    if jobs.create_consumer(wanted.clone()).await.is_err() {
        jobs.delete_consumer(&name)
            .await
            .map_err(|e| js_error("replacing the workers' consumer")(&e))?;
        jobs.create_consumer(wanted)
            .await
            .map_err(|e| js_error("creating the workers' consumer")(&e))?;
    }
    Ok((jobs, results))
}
