//! A new database: the genesis from the allocations, and their accounts and trees written in one
//! transaction.

use std::convert::Infallible;

use rayon::prelude::*;
use redb::Database;
use verifier::ChainParams;
use verifier::accumulator::HistoryAccumulator;
use verifier::hash::genesis_hash;
use verifier::tree::SparseTree;
use witness_format::ssz_types::VariableList;
use witness_format::{Allocation, Genesis, Hash32, Model, ModelRoot, ZkKeyPin, encode_file};

use crate::tree_hash::ModelTree;

use super::leaves::write_leaves;
use super::nodes::TreeNodes;
use super::*;

/// The genesis allocations give: their chain id and depth, each model's root over its
/// accounts (models in ascending order), and the pinned zk keys.
pub(super) fn genesis_of(
    allocations: &[Allocation],
    zk_keys: &[ZkKeyPin],
    zk_srs: Option<Hash32>,
    evm: Option<&Genesis>,
) -> Result<Genesis, ProverError> {
    let allocations = checked_allocations(allocations)?;
    let roots = allocations
        .iter()
        .map(|allocation| {
            let root = allocation_root(allocation, &tree_of(allocation.model)?, |_, _, _| {})?;
            Ok(ModelRoot {
                model: allocation.model,
                root,
            })
        })
        .collect::<Result<Vec<_>, ProverError>>()?;
    let first = allocations.first().ok_or_else(no_allocation)?;
    with_evm(
        Genesis {
            chain_id: first.chain_id,
            tree_depth: first.tree_depth,
            state_roots: bounded(roots)?,
            zk_keys: zk_pins(zk_keys)?,
            evm: None,
            zk_srs,
        },
        evm,
    )
}

/// `numbered` (a genesis of numbered models) with the `evm` model of the chain whose genesis
/// is `evm` beside them, when there is one: its state root among theirs, in model order, and
/// its anchor. Both are for the same chain id.
fn with_evm(numbered: Genesis, evm: Option<&Genesis>) -> Result<Genesis, ProverError> {
    let Some(evm) = evm else {
        return Ok(numbered);
    };
    if evm.chain_id != numbered.chain_id {
        return Err(ProverError::InvalidAllocation(format!(
            "the evm allocation is for chain {}, the others for chain {}",
            evm.chain_id, numbered.chain_id
        )));
    }
    let root = evm
        .state_roots
        .iter()
        .find(|r| r.model == Model::Evm)
        .filter(|_| evm.evm.is_some())
        .ok_or_else(|| ProverError::InvalidAllocation("no evm chain to share".into()))?;
    let mut roots = numbered.state_roots.to_vec();
    roots.push(*root);
    roots.sort_by_key(|r| r.model);
    Ok(Genesis {
        state_roots: bounded(roots)?,
        evm: evm.evm.clone(),
        ..numbered
    })
}

pub(super) fn no_allocation() -> ProverError {
    ProverError::InvalidAllocation("no allocation: a chain hosts at least one model".into())
}

/// The allocations in ascending model order, checked to make one chain: at least one, one per
/// model, all with the same chain id and depth.
pub(super) fn checked_allocations(
    allocations: &[Allocation],
) -> Result<Vec<&Allocation>, ProverError> {
    let mut sorted: Vec<&Allocation> = allocations.iter().collect();
    sorted.sort_by_key(|a| a.model);
    let first = *sorted.first().ok_or_else(no_allocation)?;
    for pair in sorted.windows(2) {
        if let [a, b] = pair
            && a.model == b.model
        {
            return Err(ProverError::InvalidAllocation(format!(
                "two allocations for model {}",
                a.model
            )));
        }
    }
    if let Some(other) = sorted
        .iter()
        .find(|a| (a.chain_id, a.tree_depth) != (first.chain_id, first.tree_depth))
    {
        return Err(ProverError::InvalidAllocation(format!(
            "the {} allocation is for chain {} at depth {}, the {} allocation for chain {} at depth {}",
            first.model,
            first.chain_id,
            first.tree_depth,
            other.model,
            other.chain_id,
            other.tree_depth
        )));
    }
    Ok(sorted)
}

pub(super) fn zk_pins(
    zk_keys: &[ZkKeyPin],
) -> Result<VariableList<ZkKeyPin, witness_format::limits::MaxZkKeys>, ProverError> {
    let mut pins = zk_keys.to_vec();
    pins.sort_by_key(|pin| pin.batch);
    bounded(pins)
}

/// The root of `allocation`'s accounts in `tree`, handing every node to `visit`: each
/// account's leaf hash (level 0), then each inner node the walk computes.
pub(super) fn allocation_root(
    allocation: &Allocation,
    tree: &ModelTree,
    mut visit: impl FnMut(u8, u64, &Hash32),
) -> Result<Hash32, ProverError> {
    let depth = allocation.tree_depth;
    let count = allocation.accounts.len() as u64;
    if !verifier::accounts::in_range(count.saturating_sub(1), depth) {
        return Err(ProverError::InvalidAllocation(format!(
            "{count} accounts do not fit a tree of depth {depth}"
        )));
    }
    if let Some(i) = allocation.accounts.iter().position(|a| a.is_empty()) {
        return Err(ProverError::InvalidAllocation(format!(
            "account {i} has no key"
        )));
    }
    // Hashed a chunk at a time (in vector lanes where the tree's hash has them), on all threads:
    // a 2^20-account genesis is a million leaves.
    let hashes: Vec<Option<Hash32>> = allocation
        .accounts
        .par_chunks(1 << 14)
        .flat_map_iter(|chunk| {
            let mut hashes = Vec::with_capacity(chunk.len());
            tree.leaves(chunk, &mut hashes);
            hashes
        })
        .collect();
    let leaves: Vec<(u64, Hash32)> = (0u64..)
        .zip(hashes)
        .map(|(account, hash)| {
            hash.map(|hash| (account, hash)).ok_or_else(|| {
                ProverError::InvalidAllocation(format!(
                    "account {account}: the key is not a valid {} key",
                    allocation.model
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    for (account, hash) in &leaves {
        visit(0, *account, hash);
    }
    let Ok(root) =
        tree.root::<Infallible>(depth, leaves, |level, _| Ok(tree.default(level)), visit);
    Ok(root)
}

/// Writes each allocation's accounts and tree, and the genesis, in one transaction.
pub(super) fn initialize(
    db: &Database,
    allocations: &[Allocation],
    zk_keys: &[ZkKeyPin],
    zk_srs: Option<Hash32>,
    evm: Option<&Genesis>,
) -> Result<Genesis, ProverError> {
    let allocations = checked_allocations(allocations)?;
    let first = allocations.first().ok_or_else(no_allocation)?;
    let probe = Genesis {
        chain_id: first.chain_id,
        tree_depth: first.tree_depth,
        state_roots: bounded(
            allocations
                .iter()
                .map(|a| ModelRoot {
                    model: a.model,
                    root: Hash32::ZERO,
                })
                .collect(),
        )?,
        zk_keys: zk_pins(zk_keys)?,
        evm: None,
        zk_srs,
    };
    ChainParams::from_genesis(&with_evm(probe.clone(), evm)?)
        .map_err(|e| ProverError::InvalidAllocation(e.to_string()))?;
    let write = db.begin_write()?;
    let mut roots = Vec::with_capacity(allocations.len());
    for allocation in &allocations {
        let tree = tree_of(allocation.model)?;
        let tables = ModelTables::of(allocation.model);
        let mut accounts = write.open_table(tables.accounts)?;
        let mut nodes = TreeNodes::default();
        let root = allocation_root(allocation, &tree, |level, index, hash| {
            nodes.insert_at(level, index, *hash);
        })?;
        write_leaves(&mut accounts, (0u64..).zip(allocation.accounts.iter()))?;
        nodes.write_all(&mut write.open_table(tables.nodes)?)?;
        write.open_table(tables.undo)?;
        write.open_table(tables.redo)?;
        roots.push(ModelRoot {
            model: allocation.model,
            root,
        });
    }
    let genesis = with_evm(
        Genesis {
            state_roots: bounded(roots)?,
            ..probe
        },
        evm,
    )?;
    {
        let mut meta = write.open_table(META)?;
        meta.insert(META_GENESIS, encode_file(&genesis).as_slice())?;
        meta.insert(META_FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())?;
    }
    write
        .open_table(HEADERS)?
        .insert(0, genesis_hash(&genesis).0)?;
    write.open_table(BLOCKS)?;
    // The genesis is leaf 0 of the history; no state version yet (see the module doc).
    append_history(
        &mut write.open_table(HISTORY_NODES)?,
        &mut HistoryAccumulator::new(),
        genesis_hash(&genesis),
    )?;
    write.commit()?;
    Ok(genesis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use witness_format::AccountLeaf;

    fn allocation(model: Model, chain_id: u64, tree_depth: u8) -> Allocation {
        Allocation {
            chain_id,
            tree_depth,
            model,
            accounts: VariableList::new(vec![AccountLeaf {
                public_key: crate::workload::model_public_key(model, 1, 0),
                balance: 10,
                nonce: 0,
            }])
            .unwrap(),
        }
    }

    fn invalid(result: Result<Vec<&Allocation>, ProverError>) -> String {
        match result {
            Err(ProverError::InvalidAllocation(message)) => message,
            other => panic!("expected an invalid allocation, got {other:?}"),
        }
    }

    #[test]
    fn allocations_make_one_chain_in_model_order() {
        let (t, z) = (
            allocation(Model::Transfer, 7, 6),
            allocation(Model::ZkTransfer, 7, 6),
        );
        let both = [z.clone(), t.clone()];
        let sorted = checked_allocations(&both).unwrap();
        assert_eq!(
            sorted.iter().map(|a| a.model).collect::<Vec<_>>(),
            [Model::Transfer, Model::ZkTransfer]
        );
        assert!(invalid(checked_allocations(&[])).contains("no allocation"));
        assert!(invalid(checked_allocations(&[t.clone(), t.clone()])).contains("two allocations"));
        let other_chain = allocation(Model::ZkTransfer, 8, 6);
        assert!(invalid(checked_allocations(&[t.clone(), other_chain])).contains("chain 8"));
        let other_depth = allocation(Model::ZkTransfer, 7, 5);
        assert!(invalid(checked_allocations(&[t, other_depth])).contains("depth 5"));
    }

    /// The leaves are hashed a chunk of 2^14 at a time on all threads: past a chunk, the root is
    /// still the verifier's, and a bad key is still named by its account.
    #[test]
    fn a_genesis_of_several_chunks_has_the_verifiers_root_and_names_a_bad_key() {
        let public_key = crate::workload::model_public_key(Model::ZkTransfer, 1, 0);
        let accounts: Vec<AccountLeaf> = (0..20_000u64)
            .map(|i| AccountLeaf {
                public_key,
                balance: i.saturating_add(1),
                nonce: 0,
            })
            .collect();
        let mut z = allocation(Model::ZkTransfer, 7, 16);
        z.accounts = VariableList::new(accounts.clone()).unwrap();
        let genesis = genesis_of(std::slice::from_ref(&z), &[], None, None).unwrap();
        let numbered: Vec<(u64, AccountLeaf)> = (0u64..).zip(accounts.iter().copied()).collect();
        let expected = verifier::zk_transfer::root_of_accounts(16, &numbered).unwrap();
        assert_eq!(
            genesis.state_roots[0].root,
            verifier::zk_transfer::fr_to_hash(&expected)
        );

        let mut bad = accounts;
        bad[17_000].public_key = witness_format::PublicKey::from([0xff; 32]);
        z.accounts = VariableList::new(bad).unwrap();
        let refused = genesis_of(std::slice::from_ref(&z), &[], None, None);
        assert!(
            matches!(&refused, Err(ProverError::InvalidAllocation(message))
                if message.contains("account 17000: the key is not a valid")),
            "{refused:?}"
        );
    }

    #[test]
    fn the_genesis_root_is_the_verifiers_root_of_the_accounts() {
        let z = allocation(Model::ZkTransfer, 7, 4);
        let genesis = genesis_of(std::slice::from_ref(&z), &[], None, None).unwrap();
        let expected = verifier::zk_transfer::root_of_accounts(4, &[(0, z.accounts[0])]).unwrap();
        assert_eq!(
            genesis.state_roots[0].root,
            verifier::zk_transfer::fr_to_hash(&expected)
        );
        assert_eq!((genesis.chain_id, genesis.tree_depth), (7, 4));
    }
}
