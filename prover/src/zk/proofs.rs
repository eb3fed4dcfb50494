//! Where a block's zk proofs come from. The block builder hands every blob that needs a proof
//! to a [`ProofSource`] as a [`ProvingJob`] (the blob with its Merkle witness, already checked
//! by the verifier) and gets one proof per job back; each proof is checked by the verifier
//! before the block is committed. [`LocalProofs`] proves them here, one after another, each on
//! every core; `crate::farm` hands them to workers over NATS JetStream.

use verifier::VerifyError;
use witness_format::{ProvingJob, ZK_PROOF_BYTES};

use crate::ProverError;
use crate::models::prove_job;
use crate::zk::groth16::{KeyedProver, ProvingKey, VerifyingKey};
use crate::zk::keys::{Keys, Shape};

/// A proof's bytes: a Groth16 proof over BLS12-381, compressed.
pub type ProofBytes = [u8; ZK_PROOF_BYTES];

/// The verifier's check of a proof of a job (the job's blob with that proof, checked as a
/// block's blob): what a source runs on every proof before it returns it.
pub type ProofCheck<'a> = &'a (dyn Fn(&ProvingJob, &ProofBytes) -> Result<(), VerifyError> + Sync);

/// Proves a block's jobs.
pub trait ProofSource: Send + Sync {
    /// One proof per job of `jobs`, in their order, each one that passed `check`.
    fn prove(
        &mut self,
        jobs: &[ProvingJob],
        check: ProofCheck<'_>,
    ) -> Result<Vec<ProofBytes>, ProverError>;
}

/// A `zk-transfer` circuit's proofs for a chain: the key's shape and verifying key (pinned in
/// the genesis), and where the proofs come from.
pub struct ZkProving {
    /// The circuit's shape.
    pub shape: Shape,
    /// The verifying key the proofs are under.
    pub vk: VerifyingKey,
    /// Who proves.
    pub proofs: Box<dyn ProofSource>,
}

impl ZkProving {
    /// Proofs made here, with `keys`.
    pub fn local(keys: Keys) -> Self {
        let Keys { shape, pk, vk } = keys;
        Self {
            shape,
            vk,
            proofs: Box::new(LocalProofs::new(pk, shape)),
        }
    }
}

/// Proofs made in this process, one job after another, each proof on every core.
pub struct LocalProofs {
    prover: KeyedProver,
}

impl LocalProofs {
    /// Proofs under `pk`, a key for `shape`.
    pub fn new(pk: ProvingKey, shape: Shape) -> Self {
        Self {
            prover: KeyedProver::new(pk, shape),
        }
    }
}

impl ProofSource for LocalProofs {
    fn prove(
        &mut self,
        jobs: &[ProvingJob],
        check: ProofCheck<'_>,
    ) -> Result<Vec<ProofBytes>, ProverError> {
        jobs.iter()
            .map(|job| {
                let proof = prove_job(&self.prover, job)?;
                check(job, &proof).map_err(ProverError::InvalidBlob)?;
                Ok(proof)
            })
            .collect()
    }
}
