//! A proving farm on NATS JetStream (`docs/FARM.md`): the prover (the coordinator) publishes
//! one [`ProvingJob`] per `zk-transfer` blob of a block to a work-queue stream; workers anywhere
//! pull jobs, prove them and publish the 384-byte proofs to a results stream; the coordinator
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
    /// How many wrong proofs of one job, and how many refusals of it by workers, are ignored
    /// (the job re-queued each time) before the coordinator gives up on it, naming it.
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
    /// Workers refused a job (terminated it) more times than allowed.
    #[error("job {job} (blob {blob} of the block) was refused by workers {refused} times")]
    Refused {
        /// The job's id.
        job: String,
        /// Its blob's position among the block's jobs.
        blob: usize,
        /// Refusals received.
        refused: u32,
    },
    /// A job that is too large for the server's message size.
    #[error("job {job} is {bytes} bytes, more than the server takes")]
    JobTooLarge {
        /// The job's id.
        job: String,
        /// Its size.
        bytes: usize,
    },
}

impl FarmError {
    /// Whether the error may pass once the server is back (a failed request), rather than
    /// being the run's end (a job named as lost, wrong proofs, bad credentials).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::JetStream { .. } | Self::Connect { .. })
    }
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

/// Refuses a job of `bytes` that a server taking at most `max_payload` bytes per message would
/// refuse.
fn check_job_size(id: &str, bytes: usize, max_payload: usize) -> Result<(), FarmError> {
    if bytes > max_payload {
        return Err(FarmError::JobTooLarge {
            job: id.to_string(),
            bytes,
        });
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::prove_job;
    use crate::workload::{WorkloadSpec, generate_for};
    use crate::zk::groth16::{KeyedProver, setup_from_seed};
    use crate::zk::keys::Shape;
    use crate::{BlockOptions, ProverError, ProverState};
    use witness_format::{Blob, Bytes, Model, Witness, ZK_PROOF_BYTES, ZkWitness};

    /// A `zk-transfer` blob of two transfers with its Merkle witness, at depth 4.
    fn merkle_blob() -> Blob {
        let spec = WorkloadSpec {
            chain_id: 7,
            tree_depth: 4,
            accounts: 4,
            blocks: 1,
            txs_per_block: 2,
            new_account_percent: 0,
            ..WorkloadSpec::default()
        };
        let workload = generate_for(&spec, Model::ZkTransfer);
        let dir = tempfile::tempdir().unwrap();
        let mut state = ProverState::open(&dir.path().join("db"), &workload.allocation).unwrap();
        let (block, _) = state
            .build_block(&workload.batches[0].transactions, BlockOptions::default())
            .unwrap();
        block.blobs[0].clone()
    }

    fn job(blob: Blob) -> ProvingJob {
        ProvingJob {
            vk_hash: Hash32::ZERO,
            reserved_bits: 0,
            blob,
        }
    }

    /// A job's id is its bytes' hash: the same job, the same id; another job, another id.
    #[test]
    fn a_job_id_is_the_hash_of_its_bytes() {
        let blob = merkle_blob();
        let (bytes, id) = encode_job(&job(blob.clone()));
        assert_eq!(encode_job(&job(blob.clone())), (bytes.clone(), id.clone()));
        assert_eq!(id, hex::encode(Sha3_256::digest(&bytes)));
        let mut other = job(blob);
        other.reserved_bits = 1;
        assert_ne!(encode_job(&other).1, id);
        assert_eq!(result_job(&result_subject(&id)), Some(id.as_str()));
        assert_eq!(result_job("stateless.jobs.x"), None);
    }

    /// A worker refuses a job it could never prove: no Merkle witness, or a witness the
    /// verifier rejects (a changed leaf), each with the reason.
    #[test]
    fn a_job_without_a_valid_merkle_witness_is_refused() {
        let shape = Shape::new(4, 2, 7);
        let (pk, _) = setup_from_seed(shape, [1; 32]).unwrap();
        let prover = KeyedProver::new(pk, shape);
        let blob = merkle_blob();
        let mut proven = blob.clone();
        proven.witness = Witness::Zk(ZkWitness {
            proof: Bytes([0; ZK_PROOF_BYTES]),
        });
        let error = prove_job(&prover, &job(proven)).unwrap_err();
        assert!(
            matches!(&error, ProverError::ZkProving(why) if why.contains("needs a Merkle witness, this one has a zk witness")),
            "{error}"
        );
        let mut changed = blob;
        if let Witness::Merkle(merkle) = &mut changed.witness {
            let mut leaves = merkle.leaves.to_vec();
            leaves[0].balance += 1;
            merkle.leaves = leaves.try_into().unwrap();
        }
        let error = prove_job(&prover, &job(changed)).unwrap_err();
        assert!(
            matches!(&error, ProverError::ZkProving(why) if why.contains("the job's blob") && why.contains("pre-state root")),
            "{error}"
        );
    }

    /// A job larger than the server's message size is refused, naming it.
    #[test]
    fn a_job_too_large_for_the_server_is_refused() {
        assert!(check_job_size("ab", 100, 100).is_ok());
        let error = check_job_size("ab", 101, 100).unwrap_err();
        assert!(
            matches!(&error, FarmError::JobTooLarge { job, bytes: 101 } if job == "ab"),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            "job ab is 101 bytes, more than the server takes"
        );
    }

    /// Credentials: a missing file, a file with no seed and one with a malformed seed are each
    /// refused by name; a file with comments and a seed is read.
    #[test]
    fn credentials_are_an_nkey_user_seed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.nk");
        let error = read_credentials(&path).unwrap_err().to_string();
        assert!(error.contains("c.nk"), "{error}");
        std::fs::write(&path, "# nothing here\n").unwrap();
        let error = read_credentials(&path).unwrap_err().to_string();
        assert!(error.contains("no NKey user seed"), "{error}");
        std::fs::write(&path, "SUNOTASEED\n").unwrap();
        let error = read_credentials(&path).unwrap_err().to_string();
        assert!(error.contains("not an NKey seed"), "{error}");
        let seed = nkeys::KeyPair::new_user().seed().unwrap();
        std::fs::write(&path, format!("# the workers' key\n{seed}\n")).unwrap();
        assert_eq!(read_credentials(&path).unwrap(), seed);
    }

    /// `farm init`'s configuration admits the two public keys it wrote, with each role's
    /// permissions, and the seeds are readable by their owner only.
    #[test]
    fn a_farm_is_initialized_with_one_key_per_role() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keys = server::init_farm(dir.path(), "127.0.0.1:4222", &dir.path().join("js")).unwrap();
        let config = std::fs::read_to_string(dir.path().join(server::SERVER_CONFIG)).unwrap();
        assert!(config.contains(&format!("nkey: \"{}\"", keys.coordinator)));
        assert!(config.contains(&format!("nkey: \"{}\"", keys.worker)));
        assert!(config.contains("listen: \"127.0.0.1:4222\""));
        for (file, public) in [
            (server::COORDINATOR_CREDENTIALS, &keys.coordinator),
            (server::WORKER_CREDENTIALS, &keys.worker),
        ] {
            let path = dir.path().join(file);
            let seed = read_credentials(&path).unwrap();
            assert_eq!(
                &nkeys::KeyPair::from_seed(&seed).unwrap().public_key(),
                public
            );
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
