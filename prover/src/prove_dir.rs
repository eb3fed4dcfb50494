//! Proving a workload directory into a chain directory, block by block (the mirror of
//! [`crate::verify_dir`]): each height's batches built into one block with one durable commit,
//! then exported once durable (the block files written on a thread of their own, while the
//! next blocks are built). The database is the source of truth: a re-run resumes after the last
//! committed block and rewrites from it every file a crash may have left between commit and
//! export.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use alloy_consensus::TxEnvelope;
use thiserror::Error;
use verifier::Reason;
use verifier::zk_transfer::groth16::{encode_verifying_key, verifying_key_hash};
use witness_format::{
    Block, Genesis, Hash32, Model, Transaction, TransactionBatch, Witness, ZkKeyPin,
};

use crate::evm_produce::{EvmProducer, ProduceError, build_shared_block};
use crate::evm_workload::{EvmWorkloadError, read_workload};
use crate::files::{
    ExportError, FileError, WorkloadDir, WorkloadError, block_files, block_path, chain_key_path,
    decoded, export_chain, genesis_path, workload_models, write_atomic, write_value,
};
use crate::zk::proofs::ZkProving;
use crate::{BlockFailed, BlockOptions, BlockReport, ProverError, ProverState};

/// What proving a workload did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProveReport {
    /// Blocks built by this run (a resumed run builds only the missing ones).
    pub blocks_built: u64,
    /// Transactions left out, for breaking a rule.
    pub dropped: usize,
    /// Cross-model credits delivered.
    pub credited: usize,
    /// Blobs of the proven model left with Merkle witnesses ([`BlockReport::unproven`]).
    pub unproven: usize,
}

/// A transaction the prover left out: the block, the model and the transaction's position in
/// that model's batch, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftOut {
    /// The block being built.
    pub height: u64,
    /// The model of the batch.
    pub model: Model,
    /// The transaction's index in the batch.
    pub index: usize,
    /// The rule it broke.
    pub reason: Reason,
}

/// Why a workload could not be proven.
#[derive(Debug, Error)]
pub enum ProveDirError {
    /// The workload directory is wrong (a rejection of the input).
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// The chain directory a resumed `evm` run finds holds other transactions than the
    /// workload at a height.
    #[error("block {height} of the chain directory holds other transactions than the workload's")]
    EvmOtherTransactions {
        /// The block.
        height: u64,
    },
    /// An `evm` workload could not be read.
    #[error(transparent)]
    EvmWorkload(#[from] EvmWorkloadError),
    /// An `evm` block could not be produced.
    #[error(transparent)]
    EvmProduce(#[from] ProduceError),
    /// A block of a chain shared with the `evm` model could not be built.
    #[error("building block {height}: {source}")]
    EvmBlock {
        /// The block.
        height: u64,
        /// Why.
        source: Box<ProduceError>,
    },
    /// zk keys were given for a workload without the `zk-transfer` model.
    #[error("zk keys need a workload with the zk-transfer model, this one has {models}")]
    NoZkModel {
        /// The workload's models, by name.
        models: String,
    },
    /// The zk keys are for another circuit shape than the workload's.
    #[error(
        "the keys are for depth {} and chain {}, the workload has depth {} and chain {}",
        keys.0, keys.1, workload.0, workload.1
    )]
    KeysShape {
        /// The keys' depth and chain id.
        keys: (u8, u64),
        /// The workload's depth and chain id.
        workload: (u8, u64),
    },
    /// The database could not be opened for this workload.
    #[error("opening prover database {}", db.display())]
    Open {
        /// The database file.
        db: PathBuf,
        /// Why.
        source: Box<ProverError>,
    },
    /// The zk proving key does not fit the chain.
    #[error("using the zk proving key")]
    ZkKey {
        /// Why.
        source: Box<ProverError>,
    },
    /// A block could not be built.
    #[error("building block {height}")]
    Build {
        /// The block.
        height: u64,
        /// Why.
        source: Box<ProverError>,
    },
    /// The chain could not be written.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A file could not be written.
    #[error(transparent)]
    File(#[from] FileError),
}

/// Proves the workload in `workload_dir` into `chain_dir` with the database `db`, every block
/// with `options`, `zk-transfer` blobs with zk proofs from `zk` when it is given (its verifying
/// key is pinned in the genesis and copied to the chain's `keys/`), and with `zk_srs`, the
/// hash of an aggregation SRS key, pinned in the genesis too. `on_height` is called once
/// each height is durable and its file queued or written (all are written when this returns),
/// with the height, the number of heights and what that block left out (nothing for a block
/// an earlier run built).
pub fn prove_workload_dir(
    workload_dir: &Path,
    db: &Path,
    chain_dir: &Path,
    options: BlockOptions,
    zk: Option<ZkProving>,
    zk_srs: Option<Hash32>,
    mut on_height: impl FnMut(u64, u64, &[LeftOut]),
) -> Result<ProveReport, ProveDirError> {
    let models = workload_models(workload_dir).map_err(WorkloadError::from)?;
    if models == [Model::Evm] {
        return match zk {
            None => prove_evm_workload(workload_dir, db, chain_dir, on_height),
            Some(_) => Err(ProveDirError::NoZkModel {
                models: Model::Evm.name().into(),
            }),
        };
    }
    // The `evm` model beside numbered ones: its workload and producer, its state in a store of
    // its own next to the prover's database.
    let evm = if models.contains(&Model::Evm) {
        let workload = read_workload(workload_dir)?;
        let mut producer = EvmProducer::create(&evm_store_path(db), &workload.allocation)?;
        producer.share_with(&models);
        Some((workload.blocks, producer))
    } else {
        None
    };
    let workload = WorkloadDir::open(workload_dir)?;
    let allocations = workload.allocations();
    let pins: Vec<ZkKeyPin> = match &zk {
        None => Vec::new(),
        Some(keys) => {
            let Some(zk) = allocations.iter().find(|a| a.model == Model::ZkTransfer) else {
                let names: Vec<&str> = allocations.iter().map(|a| a.model.name()).collect();
                return Err(ProveDirError::NoZkModel {
                    models: names.join(" and "),
                });
            };
            let shape = keys.shape;
            if shape.depth != zk.tree_depth || shape.chain_id != zk.chain_id {
                return Err(ProveDirError::KeysShape {
                    keys: (shape.depth, shape.chain_id),
                    workload: (zk.tree_depth, zk.chain_id),
                });
            }
            vec![ZkKeyPin {
                batch: shape.batch,
                vk_hash: verifying_key_hash(&keys.vk),
            }]
        }
    };
    let evm_genesis = evm.as_ref().map(|(_, producer)| producer.genesis());
    let mut state = ProverState::open_chain_pinned(db, &allocations, &pins, zk_srs, evm_genesis)
        .map_err(|e| ProveDirError::Open {
            db: db.to_path_buf(),
            source: Box::new(e),
        })?;
    let mut evm = match evm {
        Some((blocks, mut producer)) => {
            follow_evm_blobs(&state, db, &mut producer)?;
            Some((blocks, producer))
        }
        None => None,
    };
    if let Some(zk) = zk {
        let key_file = chain_key_path(chain_dir, zk.shape.batch);
        let vk = encode_verifying_key(&zk.vk);
        state.set_zk_proofs(zk).map_err(|e| ProveDirError::ZkKey {
            source: Box::new(e),
        })?;
        write_atomic(&key_file, &vk)?;
    }
    let evm_heights = evm.as_ref().map_or(0, |(blocks, _)| blocks.len() as u64);
    let heights = workload.heights().max(evm_heights);
    let mut report = ProveReport::default();
    // Heights an earlier run built are exported again from the database, which is the source
    // of truth: this also rewrites a file a crash left behind between commit and export.
    let built = state.height().min(heights);
    for height in 1..=built {
        export_chain(&state, chain_dir, height..=height)?;
        on_height(height, heights, &[]);
    }
    // What a built block left out, counted into the report.
    let mut record = |height: u64, batches: &[TransactionBatch], built: BlockReport| {
        let left_out: Vec<LeftOut> = built
            .dropped
            .into_iter()
            .map(|(index, reason)| {
                let (model, index) = batch_position(batches, index);
                LeftOut {
                    height,
                    model,
                    index,
                    reason,
                }
            })
            .collect();
        report.dropped += left_out.len();
        report.credited += built.credited;
        report.unproven += built.unproven;
        report.blocks_built += 1;
        left_out
    };
    let Some((blocks, producer)) = &mut evm else {
        write_value(&genesis_path(chain_dir), state.genesis())?;
        // Each block's batches, kept from when it is built until it is durable.
        let in_flight = RefCell::new(VecDeque::new());
        let mut height = built;
        // Each durable block's file is written on a thread of its own (encoding and writing
        // megabytes while the next block is built), in order; a crash before a file is
        // written leaves it to the next run, which exports every committed block.
        std::thread::scope(|scope| {
            let (durable, written) = std::sync::mpsc::sync_channel::<Block>(2);
            let writer = scope.spawn(move || {
                for block in written {
                    write_value(&block_path(chain_dir, block.header.height), &block)?;
                }
                Ok::<_, FileError>(())
            });
            let proven = state.build_blocks(
                || {
                    if height >= heights {
                        return Ok(None);
                    }
                    height += 1;
                    let batches = workload.batches(height)?;
                    let submitted = batches
                        .iter()
                        .map(|b| (b.model, b.transactions.to_vec()))
                        .collect();
                    in_flight.borrow_mut().push_back(batches);
                    Ok(Some(submitted))
                },
                options,
                |_, block, built| {
                    let height = block.header.height;
                    let batches = in_flight.borrow_mut().pop_front().unwrap_or_default();
                    let left_out = record(height, &batches, built);
                    if durable.send(block).is_err() {
                        // The writer stopped on an error, which the run returns instead.
                        return Err(ProveDirError::File(FileError::Io {
                            what: "writing",
                            path: block_path(chain_dir, height),
                            source: std::io::Error::other("the block files' writer stopped"),
                        }));
                    }
                    on_height(height, heights, &left_out);
                    Ok(())
                },
            );
            drop(durable);
            let written = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            // A file that could not be written stopped the run's exports first.
            written?;
            proven
        })?;
        return Ok(report);
    };
    for height in built.saturating_add(1)..=heights {
        let batches = workload.batches(height)?;
        let submitted: Vec<(Model, &[Transaction])> = batches
            .iter()
            .map(|b| (b.model, b.transactions.as_ref()))
            .collect();
        let transactions = blocks.get(block_index(height)).cloned();
        let (_, built) =
            build_shared_block(&mut state, producer, &submitted, transactions, options).map_err(
                |e| ProveDirError::EvmBlock {
                    height,
                    source: Box::new(e),
                },
            )?;
        let left_out = record(height, &batches, built);
        export_chain(&state, chain_dir, height..=height)?;
        on_height(height, heights, &left_out);
    }
    Ok(report)
}

/// Proves the `evm` workload in `workload_dir` into `chain_dir`: the prover produces each
/// block from its transactions ([`EvmProducer`]), its state in the database at `db`. A re-run
/// on an existing database resumes after the blocks `chain_dir` holds (checked first).
fn prove_evm_workload(
    workload_dir: &Path,
    db: &Path,
    chain_dir: &Path,
    mut on_height: impl FnMut(u64, u64, &[LeftOut]),
) -> Result<ProveReport, ProveDirError> {
    let workload = read_workload(workload_dir)?;
    let allocation = &workload.allocation;
    let mut producer = if db.exists() {
        let (genesis, blocks) = read_evm_chain(chain_dir)?;
        for (height, block) in (1u64..).zip(&blocks) {
            let ours = workload.blocks.get(block_index(height));
            if ours.is_none_or(|ours| !same_transactions(block, ours)) {
                return Err(ProveDirError::EvmOtherTransactions { height });
            }
        }
        EvmProducer::resume(db, allocation, genesis.as_ref(), &blocks)?
    } else {
        EvmProducer::create(db, allocation)?
    };
    write_value(&genesis_path(chain_dir), producer.genesis())?;
    let heights = workload.blocks.len() as u64;
    let mut report = ProveReport::default();
    for (height, transactions) in (1u64..).zip(workload.blocks) {
        if height > producer.blocks().len() as u64 {
            producer.produce(transactions)?;
            report.blocks_built += 1;
        }
        if let Some(block) = producer.blocks().get(block_index(height)) {
            write_value(&block_path(chain_dir, height), block)?;
        }
        on_height(height, heights, &[]);
    }
    Ok(report)
}

impl From<BlockFailed> for ProveDirError {
    fn from(failed: BlockFailed) -> Self {
        ProveDirError::Build {
            height: failed.height,
            source: failed.source,
        }
    }
}

/// The `evm` store of a chain the `evm` model shares with numbered ones, whose prover
/// database is `db`: the file beside it, its name with `.evm` appended.
pub fn evm_store_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".evm");
    PathBuf::from(name)
}

/// Brings `producer` (at its genesis) to where the prover's chain `state` (its database at
/// `db`) is, from the `evm` blobs of its stored blocks.
fn follow_evm_blobs(
    state: &ProverState,
    db: &Path,
    producer: &mut EvmProducer,
) -> Result<(), ProveDirError> {
    for height in 1..=state.height() {
        let stored = |e: String| ProveDirError::Open {
            db: db.to_path_buf(),
            source: Box::new(ProverError::Corrupt(format!("block {height}: {e}"))),
        };
        let bytes = state
            .block_file(height)
            .map_err(|e| stored(e.to_string()))?
            .ok_or_else(|| stored("missing".into()))?;
        let block: Block =
            witness_format::decode_file(&bytes).map_err(|e| stored(e.to_string()))?;
        for witness in block.blobs.iter().filter_map(|blob| blob.witness.evm()) {
            producer.follow_shared(witness)?;
        }
    }
    Ok(())
}

/// The index of block `height` (from 1) in a list of blocks.
fn block_index(height: u64) -> usize {
    usize::try_from(height.saturating_sub(1)).unwrap_or(usize::MAX)
}

/// The genesis and blocks an earlier run wrote to `chain_dir`, as far as it got.
fn read_evm_chain(chain_dir: &Path) -> Result<(Option<Genesis>, Vec<Block>), WorkloadError> {
    let genesis_file = genesis_path(chain_dir);
    if !genesis_file.exists() {
        return Ok((None, Vec::new()));
    }
    let genesis = decoded(&genesis_file)?;
    let mut blocks = Vec::new();
    if chain_dir.join("blocks").is_dir() {
        for path in block_files(chain_dir)? {
            blocks.push(decoded(&path)?);
        }
    }
    Ok((Some(genesis), blocks))
}

/// Whether `block`'s `evm` blob holds exactly `transactions`.
fn same_transactions(block: &Block, transactions: &[TxEnvelope]) -> bool {
    block.blobs.first().is_some_and(|blob| match &blob.witness {
        Witness::Evm(witness) => verifier::evm::decode_block(&witness.block)
            .is_ok_and(|ethereum| ethereum.body.transactions == transactions),
        _ => false,
    })
}

/// The model and position in its batch of transaction `index` of all `batches` one after
/// another (how a block report counts them).
fn batch_position(batches: &[TransactionBatch], mut index: usize) -> (Model, usize) {
    for batch in batches {
        if index < batch.transactions.len() {
            return (batch.model, index);
        }
        index -= batch.transactions.len();
    }
    (Model::Transfer, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::write_workload;
    use crate::workload::{WorkloadSpec, generate_for};
    use crate::zk::groth16::setup_from_seed;
    use crate::zk::keys::{Keys, Shape};

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            tree_depth: 4,
            accounts: 4,
            blocks: 2,
            txs_per_block: 2,
            ..WorkloadSpec::default()
        }
    }

    fn keys(depth: u8) -> Keys {
        let chain_id = spec().chain_id;
        let shape = Shape::new(depth, 1, chain_id);
        let (pk, vk) = setup_from_seed(shape, [3; 32]).unwrap();
        Keys { shape, pk, vk }
    }

    /// A workload of `model` written in a temporary directory, with where its database and
    /// chain go.
    fn setup(model: Model) -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (workload, db, chain) = (
            dir.path().join("w"),
            dir.path().join("db"),
            dir.path().join("c"),
        );
        write_workload(&workload, &generate_for(&spec(), model)).unwrap();
        (dir, workload, db, chain)
    }

    /// Proves with `keys`, seeing each height's report in `on_height`.
    fn prove(
        (workload, db, chain): (&Path, &Path, &Path),
        keys: Option<Keys>,
        on_height: impl FnMut(u64, u64, &[LeftOut]),
    ) -> Result<ProveReport, ProveDirError> {
        prove_workload_dir(
            workload,
            db,
            chain,
            BlockOptions::default(),
            keys.map(ZkProving::local),
            None,
            on_height,
        )
    }

    /// Every height is exported and reported once; a second run over the same database builds
    /// nothing and exports the same chain.
    #[test]
    fn a_workload_is_proven_height_by_height_and_resumes() {
        let (_dir, workload, db, chain) = setup(Model::Transfer);
        let paths = (workload.as_path(), db.as_path(), chain.as_path());
        let mut seen = Vec::new();
        let report = prove(paths, None, |h, n, left| seen.push((h, n, left.len()))).unwrap();
        assert_eq!(seen, [(1, 2, 0), (2, 2, 0)]);
        assert_eq!(report.blocks_built, 2);
        let again = prove(paths, None, |_, _, _| {}).unwrap();
        assert_eq!(again, ProveReport::default());
    }

    /// A block file that cannot be written (here a directory stands in its place) ends the
    /// run with the file's error; the blocks are durable, and the next run writes the file.
    #[test]
    fn a_block_file_that_cannot_be_written_ends_the_run_and_the_next_writes_it() {
        let (_dir, workload, db, chain) = setup(Model::Transfer);
        let paths = (workload.as_path(), db.as_path(), chain.as_path());
        let first = block_path(&chain, 1);
        std::fs::create_dir_all(&first).unwrap();
        let failed = prove(paths, None, |_, _, _| {});
        assert!(
            matches!(
                &failed,
                Err(ProveDirError::File(FileError::Io { what: "renaming to", path, .. }))
                    if *path == first
            ),
            "{failed:?}"
        );
        std::fs::remove_dir(&first).unwrap();
        let again = prove(paths, None, |_, _, _| {}).unwrap();
        assert_eq!(again.blocks_built, 0);
        let state = ProverState::open_existing(&db).unwrap();
        for height in 1..=2 {
            let file = std::fs::read(block_path(&chain, height)).unwrap();
            assert_eq!(Some(file), state.block_file(height).unwrap());
        }
    }

    /// zk keys for a workload without `zk-transfer`, or for another depth, are refused before
    /// the database is touched.
    #[test]
    fn zk_keys_must_fit_the_workload() {
        let (_dir, workload, db, chain) = setup(Model::Transfer);
        let error = prove((&workload, &db, &chain), Some(keys(4)), |_, _, _| {}).unwrap_err();
        assert!(
            matches!(&error, ProveDirError::NoZkModel { models } if models == "transfer"),
            "{error}"
        );
        let (_zk_dir, zk_workload, zk_db, zk_chain) = setup(Model::ZkTransfer);
        let error = prove(
            (&zk_workload, &zk_db, &zk_chain),
            Some(keys(3)),
            |_, _, _| {},
        )
        .unwrap_err();
        assert!(
            matches!(
                error,
                ProveDirError::KeysShape {
                    keys: (3, _),
                    workload: (4, _)
                }
            ),
            "{error}"
        );
        assert!(!db.exists() && !zk_db.exists());
    }
}
