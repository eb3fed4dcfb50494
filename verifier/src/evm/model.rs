//! The `evm` model behind the [`ExecutionModel`] interface: a blob is one Ethereum block with
//! its witness ([`EvmWitness`]), executed and checked on its own; its header is then linked to
//! the chain's last in order ([`EvmLink`]).

use alloy_primitives::B256;
use witness_format::{Blob, EvmWitness, Header, Model, Witness};

use super::bridge::BridgeCredits;
use super::chain::{HeaderChain, block_header};
use super::state::EVM_STATE;
use super::{WitnessDb, decode_block, verify_block};
use crate::bridge::evm_credits;
use crate::error::{Reason, VerifyError};
use crate::model::{BlobLink, ExecutionModel, PendingProof, StateCommitment, unsupported};
use crate::params::ChainParams;

/// The `evm` model.
pub(crate) struct EvmModel;

/// The `evm` model's implementation.
pub(crate) static EVM_MODEL: EvmModel = EvmModel;

impl ExecutionModel for EvmModel {
    fn tag(&self) -> Model {
        Model::Evm
    }

    fn state(&self) -> &'static dyn StateCommitment {
        &EVM_STATE
    }

    fn carries_transactions(&self) -> bool {
        false
    }

    fn check_blob<'a>(
        &self,
        params: &ChainParams,
        header: Option<&Header>,
        blob: &'a Blob,
        linked: bool,
    ) -> Result<Option<PendingProof<'a>>, VerifyError> {
        let Some(witness) = blob.witness.evm() else {
            return Err(unsupported(blob));
        };
        if !blob.transactions.is_empty() {
            return Err(Reason::TransactionsOutsideBlock.into());
        }
        if !linked {
            return Err(Reason::EvmBlockNotLinked.into());
        }
        let Some(anchor) = &params.evm else {
            return Err(Reason::UnknownModel { model: Model::Evm }.into());
        };
        // On a chain shared with numbered models, the block's withdrawals are the credits its
        // receipts prove (none without receipts); an `evm` chain of its own has Ethereum's.
        let shared = params.models.iter().any(|m| Model::NUMBERED.contains(m));
        let credits = match (&blob.witness, shared) {
            // One form: a block without credits is an `evm` blob.
            (Witness::EvmCredits(credits), true) if credits.receipts.is_empty() => {
                return Err(Reason::NoEvmCredits.into());
            }
            (Witness::EvmCredits(credits), true) => {
                let header = header.ok_or(Reason::CreditsOutsideBlock)?;
                evm_credits(params, header, &credits.receipts)?
            }
            (Witness::EvmCredits(_), false) => return Err(Reason::NoBridge.into()),
            _ => Vec::new(),
        };
        let credits = shared.then_some(BridgeCredits {
            models: &params.models,
            credits: &credits,
        });
        check_evm_blob(anchor.spec(), blob, witness, credits)
            .map(|_| None)
            .map_err(|error| Reason::Evm(Box::new(error)).into())
    }

    fn blob_link(&self, params: &ChainParams) -> Option<Box<dyn BlobLink>> {
        params
            .evm
            .clone()
            .map(|chain| Box::new(EvmLink(chain)) as Box<dyn BlobLink>)
    }
}

/// Executes the block of an `evm` blob against its witness; its post-state root must be the
/// blob's.
fn check_evm_blob(
    spec: &super::ChainSpec,
    blob: &Blob,
    witness: &EvmWitness,
    credits: Option<BridgeCredits<'_>>,
) -> Result<B256, super::EvmError> {
    let block = decode_block(&witness.block)?;
    let db = WitnessDb::new(
        witness.nodes.iter().map(|node| &node[..]),
        witness.codes.iter().map(|code| &code[..]),
        block.header.number,
        witness
            .ancestor_hashes
            .iter()
            .map(|hash| B256::from(hash.0)),
    );
    let checked = verify_block(spec, &block, B256::from(blob.pre_state_root.0), db, credits)?;
    let post = checked.header.state_root;
    if post.0 != blob.post_state_root.0 {
        return Err(super::EvmError::HeaderMismatch {
            field: "blob's post-state root",
            header: blob.post_state_root.to_string(),
            computed: post.to_string(),
        });
    }
    Ok(checked.hash)
}

/// The `evm` chain's head, as [`BlobLink`].
#[derive(Clone, Debug)]
struct EvmLink(HeaderChain);

impl BlobLink for EvmLink {
    fn follow(&mut self, blob: &Blob) -> Result<(), VerifyError> {
        let Some(witness) = blob.witness.evm() else {
            return Err(unsupported(blob));
        };
        let header = block_header(&witness.block).map_err(|error| Reason::Evm(Box::new(error)))?;
        self.0
            .follow(&header, &witness.ancestor_hashes)
            .map_err(|error| Reason::EvmLink(Box::new(error)).into())
    }

    fn clone_box(&self) -> Box<dyn BlobLink> {
        Box::new(self.clone())
    }
}
