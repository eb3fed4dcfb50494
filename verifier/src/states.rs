//! Each execution model's state commitment, by wire tag: what history proofs of account values
//! read (below the models' rules, which use history proofs for credits).

use witness_format::Model;

use crate::evm::EVM_STATE;
use crate::model::StateCommitment;
use crate::transfer::state::TRANSFER_TREE;
use crate::zk_transfer::state::ZK_TRANSFER_TREE;

/// The state commitment of the model with wire tag `tag`.
pub fn state_of(tag: Model) -> &'static dyn StateCommitment {
    match tag {
        Model::Transfer => &TRANSFER_TREE,
        Model::ZkTransfer => &ZK_TRANSFER_TREE,
        Model::Evm => &EVM_STATE,
    }
}
