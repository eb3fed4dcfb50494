//! The execution models a chain can host, and the one place that maps a model's wire tag to
//! what implements it. Everything that depends on the model (its state commitment, how its
//! witnesses are read, its rules) is reached from here, not chosen by `match` elsewhere.

use witness_format::Model;

use crate::transfer::TRANSFER_TREE;
use crate::tree::WireTree;
use crate::zk_transfer::ZK_TRANSFER_TREE;

/// The state tree of a model whose state is a binary sparse Merkle tree, as the prover stores
/// it (every node 32 bytes); `None` for a model whose state is another structure.
pub fn state_tree(model: Model) -> Option<&'static dyn WireTree> {
    match model {
        Model::Transfer => Some(&TRANSFER_TREE),
        Model::ZkTransfer => Some(&ZK_TRANSFER_TREE),
    }
}
