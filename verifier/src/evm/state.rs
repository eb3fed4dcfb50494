//! The `evm` model's state commitment: Ethereum's Merkle Patricia tries, which are not a sparse
//! tree of numbered accounts. History proofs of account values are not offered for it.

use witness_format::{AccountFact, Hash32, MerkleWitness, Model};

use crate::error::{Reason, VerifyError};
use crate::model::StateCommitment;
use crate::tree::WireTree;

/// The `evm` state commitment.
pub(crate) struct EvmState;

/// The `evm` state commitment's implementation.
pub(crate) static EVM_STATE: EvmState = EvmState;

impl StateCommitment for EvmState {
    fn account_root(
        &self,
        _fact: &AccountFact,
        _depth: u8,
        _path: &MerkleWitness,
    ) -> Result<Hash32, VerifyError> {
        Err(Reason::AccountFactNotSupported { model: Model::Evm }.into())
    }

    fn state_tree(&self) -> Option<&'static dyn WireTree> {
        None
    }
}
