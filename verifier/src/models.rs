//! Each execution model's rules, by wire tag: the one place a model is chosen for a blob.

use witness_format::Model;

use crate::evm::EVM_MODEL;
use crate::model::ExecutionModel;
use crate::transfer::TRANSFER_MODEL;
use crate::zk_transfer::ZK_TRANSFER_MODEL;

/// The rules of the model with wire tag `tag`.
pub fn model(tag: Model) -> &'static dyn ExecutionModel {
    match tag {
        Model::Transfer => &TRANSFER_MODEL,
        Model::ZkTransfer => &ZK_TRANSFER_MODEL,
        Model::Evm => &EVM_MODEL,
    }
}
