//! Directory layouts on disk, the one bounded reader of their files, and the chain export.
//!
//! ```text
//! WORKLOAD_DIR/MODEL/allocation.bin        MODEL's genesis accounts (prover input)
//! WORKLOAD_DIR/MODEL/blocks/00000001.bin   MODEL's transactions submitted for block 1, ...
//! CHAIN_DIR/genesis.bin                    the trust anchor
//! CHAIN_DIR/blocks/00000001.bin            block 1, ...
//! CHAIN_DIR/keys/batch-BBBBB.vk            the pinned zk verifying keys
//! ```
//!
//! `MODEL` is a model's name (`transfer`, `zk-transfer`): a workload holds one directory per
//! model its chain hosts.
//!
//! Every read is bounded ([`read_bounded`]): a file must be a regular file (opened without
//! blocking, so a FIFO is refused rather than waited on) and is refused from its size when it is
//! larger than its kind allows, never read past that limit plus one byte. Every write is atomic
//! ([`write_atomic`]).

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use thiserror::Error;
use witness_format::{
    Allocation, DecodeError, FramedValue, Model, TransactionBatch, decode_file, encode_file,
};

use crate::ProverState;
use crate::workload::Workload;

/// Why a file of these layouts cannot be read or written: an I/O condition, not a rejection of
/// what the file holds (that is a [`DecodeError`], or the verifier's).
#[derive(Debug, Error)]
pub enum FileError {
    /// The operating system refused.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done ("reading", "writing", ...).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file to read is a FIFO, a device, a directory: no input is one.
    #[error("{} is not a regular file", path.display())]
    NotARegularFile {
        /// The file.
        path: PathBuf,
    },
    /// A `.bin` file under `blocks/` that no layout writes.
    #[error("{} is not a block file (blocks are named by height, e.g. {})", path.display(), example.display())]
    NotABlockFile {
        /// The file.
        path: PathBuf,
        /// What a block file is called.
        example: PathBuf,
    },
    /// A workload lacks a block every earlier one has.
    #[error("{} is missing (the next file is {})", missing.display(), next.display())]
    MissingBlock {
        /// The block file expected.
        missing: PathBuf,
        /// The file found in its place.
        next: PathBuf,
    },
    /// A workload directory with no model directory.
    #[error("{} has no model directory (transfer/ or zk-transfer/): not a workload written by `stateless gen`", dir.display())]
    NotAWorkload {
        /// The directory.
        dir: PathBuf,
    },
    /// An operator's file (a key, a shape) larger than any of its kind.
    #[error("{}: {too_large}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size and limit.
        too_large: TooLarge,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FileError {
    let path = path.to_path_buf();
    move |source| FileError::Io { what, path, source }
}

/// A file larger than its kind may be: refused from its size, before it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge {
    /// The file's size (or the bytes read before giving up).
    pub len: u64,
    /// The largest size its kind may have.
    pub limit: u64,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "file is {} bytes, over the limit of {}",
            self.len, self.limit
        )
    }
}

/// Reads a regular file of at most `limit` bytes: the outer error is I/O (missing, unreadable,
/// or not a regular file), the inner one a file too large for its kind.
///
/// Bad files cost nothing: opening never waits (a FIFO is refused, not waited on, because the
/// open is non-blocking), a device, directory or FIFO is refused from its metadata, a file
/// larger than `limit` is refused from its size before any byte is read, and reading stops
/// after `limit + 1` bytes whatever the size said (a file that grows while it is read).
pub fn read_bounded(path: &Path, limit: u64) -> Result<Result<Vec<u8>, TooLarge>, FileError> {
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io("reading", path))?;
    let metadata = file.metadata().map_err(io("reading", path))?;
    if !metadata.is_file() {
        return Err(FileError::NotARegularFile {
            path: path.to_path_buf(),
        });
    }
    if metadata.len() > limit {
        return Ok(Err(TooLarge {
            len: metadata.len(),
            limit,
        }));
    }
    let capacity = usize::try_from(metadata.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    (&mut file)
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io("reading", path))?;
    let len = bytes.len() as u64;
    if len > limit {
        return Ok(Err(TooLarge { len, limit }));
    }
    Ok(Ok(bytes))
}

/// [`read_bounded`] for files whose size is not a property of the input being checked (keys
/// and shapes an operator gives): too large is an I/O error, with the file named.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read_bounded(path, limit)?.map_err(|too_large| FileError::TooLarge {
        path: path.to_path_buf(),
        too_large,
    })
}

/// Reads a file of any kind of this format (at most the largest file, frame included): the
/// outer error is I/O, the inner one a file too large to be any.
pub fn read_any_file(path: &Path) -> Result<Result<Vec<u8>, DecodeError>, FileError> {
    let limit = witness_format::limits::MAX_FILE_BYTES + witness_format::frame::FRAME_HEADER_LEN;
    Ok(read_bounded(path, limit as u64)?.map_err(too_large))
}

/// Reads and decodes a file: the outer error is I/O, the inner one a decoding rejection
/// (including a file larger than any of its kind, refused before it is read).
pub fn read_value<T: FramedValue>(path: &Path) -> Result<Result<T, DecodeError>, FileError> {
    let limit = T::KIND.max_file_bytes() as u64;
    Ok(read_bounded(path, limit)?
        .map_err(too_large)
        .and_then(|bytes| decode_file(&bytes)))
}

fn too_large(e: TooLarge) -> DecodeError {
    DecodeError::TooLarge {
        len: usize::try_from(e.len).unwrap_or(usize::MAX),
        limit: usize::try_from(e.limit).unwrap_or(usize::MAX),
    }
}

/// Writes bytes atomically: to a temporary file first, then renamed over `path`, so a crash
/// leaves either the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io("creating", parent))?;
    }
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(io("writing", &tmp))?;
    fs::rename(&tmp, path).map_err(io("renaming to", path))
}

/// Encodes and writes a value atomically.
pub fn write_value<T: FramedValue>(path: &Path, value: &T) -> Result<(), FileError> {
    write_atomic(path, &encode_file(value))
}

/// The genesis file of a chain directory.
pub fn genesis_path(chain_dir: &Path) -> PathBuf {
    chain_dir.join("genesis.bin")
}

/// The file of block `height` under `dir/blocks` (a chain, or a workload model's directory).
pub fn block_path(dir: &Path, height: u64) -> PathBuf {
    dir.join("blocks").join(format!("{height:08}.bin"))
}

/// A chain directory's copy of the verifying key pinned for `batch`.
pub fn chain_key_path(chain_dir: &Path, batch: u16) -> PathBuf {
    chain_dir.join("keys").join(format!("batch-{batch:05}.vk"))
}

/// Every verifying key file `CHAIN_DIR/keys/*.vk`, in file name order (none without `keys/`).
pub fn chain_key_files(chain_dir: &Path) -> Result<Vec<PathBuf>, FileError> {
    let dir = chain_dir.join("keys");
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).map_err(io("reading", &dir))? {
        let path = entry.map_err(io("reading", &dir))?.path();
        if path.extension().is_some_and(|e| e == "vk") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The directory of `model`'s files in a workload directory.
pub fn model_dir(workload_dir: &Path, model: Model) -> PathBuf {
    workload_dir.join(model.name())
}

/// The allocation file of a model's directory in a workload.
pub fn allocation_path(model_dir: &Path) -> PathBuf {
    model_dir.join("allocation.bin")
}

/// The models a workload directory has files for, in ascending order; at least one.
pub fn workload_models(workload_dir: &Path) -> Result<Vec<Model>, FileError> {
    let models: Vec<Model> = Model::ALL
        .into_iter()
        .filter(|&model| model_dir(workload_dir, model).is_dir())
        .collect();
    if models.is_empty() {
        return Err(FileError::NotAWorkload {
            dir: workload_dir.to_path_buf(),
        });
    }
    Ok(models)
}

/// The block files under `dir/blocks` (`NNNNNNNN.bin`, the height in eight digits or more), as
/// (height, path), ascending by height. Any other `.bin` file there is an error: it belongs to no
/// layout this tool writes.
pub fn numbered_block_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, FileError> {
    let blocks = dir.join("blocks");
    let mut files: Vec<(u64, PathBuf)> = Vec::new();
    for entry in fs::read_dir(&blocks).map_err(io("reading", &blocks))? {
        let path = entry.map_err(io("reading", &blocks))?.path();
        if path.extension().is_none_or(|e| e != "bin") {
            continue;
        }
        let height = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .filter(|stem| stem.len() >= 8 && stem.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|stem| stem.parse::<u64>().ok())
            .filter(|&height| block_path(dir, height) == path);
        let Some(height) = height else {
            return Err(FileError::NotABlockFile {
                path,
                example: block_path(dir, 1),
            });
        };
        files.push((height, path));
    }
    files.sort();
    Ok(files)
}

/// The files of blocks 1, 2, 3, ... under `dir/blocks`, in height order; a gap is an error.
pub fn block_files(dir: &Path) -> Result<Vec<PathBuf>, FileError> {
    let files = numbered_block_files(dir)?;
    if let Some((expected, (_, file))) = (1u64..)
        .zip(&files)
        .find(|(expected, (height, _))| height != expected)
    {
        return Err(FileError::MissingBlock {
            missing: block_path(dir, expected),
            next: file.clone(),
        });
    }
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// Why a workload directory cannot be read for proving.
#[derive(Debug, Error)]
pub enum WorkloadError {
    /// A file could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// A file that does not decode as what its place holds.
    #[error("{}: {error}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// Why.
        error: DecodeError,
    },
    /// A file for another model than its directory's.
    #[error("{}: {what} for {found}, in the {expected} directory", path.display())]
    WrongModel {
        /// The file.
        path: PathBuf,
        /// What it holds ("an allocation", "transactions").
        what: &'static str,
        /// The model it is for.
        found: Model,
        /// The directory's model.
        expected: Model,
    },
}

/// A workload directory opened for proving: each model's allocation, read and checked at
/// once, and its transaction files by height, read one height at a time.
#[derive(Debug)]
pub struct WorkloadDir {
    parts: Vec<(Allocation, Vec<PathBuf>)>,
}

impl WorkloadDir {
    /// Reads the allocations of `workload_dir`'s models with numbered accounts and lists their
    /// transaction files (an `evm` part is read by `crate::evm_workload`).
    pub fn open(workload_dir: &Path) -> Result<Self, WorkloadError> {
        let mut parts = Vec::new();
        let models = workload_models(workload_dir)?;
        for model in models.into_iter().filter(|&m| m != Model::Evm) {
            let dir = model_dir(workload_dir, model);
            let path = allocation_path(&dir);
            let allocation: Allocation = decoded(&path)?;
            if allocation.model != model {
                return Err(WorkloadError::WrongModel {
                    path,
                    what: "an allocation",
                    found: allocation.model,
                    expected: model,
                });
            }
            parts.push((allocation, block_files(&dir)?));
        }
        Ok(Self { parts })
    }

    /// Every model's genesis allocation, in the directory's model order.
    pub fn allocations(&self) -> Vec<Allocation> {
        self.parts.iter().map(|(a, _)| a.clone()).collect()
    }

    /// The highest block any model has transactions for.
    pub fn heights(&self) -> u64 {
        let most = self.parts.iter().map(|(_, files)| files.len()).max();
        most.unwrap_or(0) as u64
    }

    /// The transactions submitted for block `height` (from 1), for each model that has a batch
    /// for it.
    pub fn batches(&self, height: u64) -> Result<Vec<TransactionBatch>, WorkloadError> {
        let mut batches = Vec::new();
        for (allocation, files) in &self.parts {
            let position = height.checked_sub(1).and_then(|i| usize::try_from(i).ok());
            let Some(path) = position.and_then(|i| files.get(i)) else {
                continue;
            };
            let batch: TransactionBatch = decoded(path)?;
            if batch.model != allocation.model {
                return Err(WorkloadError::WrongModel {
                    path: path.clone(),
                    what: "transactions",
                    found: batch.model,
                    expected: allocation.model,
                });
            }
            batches.push(batch);
        }
        Ok(batches)
    }
}

/// Writes one model's `workload` into `workload_dir`: its allocation and one transaction file
/// per block, where [`WorkloadDir::open`] reads them.
pub fn write_workload(workload_dir: &Path, workload: &Workload) -> Result<(), FileError> {
    let dir = model_dir(workload_dir, workload.allocation.model);
    write_value(&allocation_path(&dir), &workload.allocation)?;
    for (height, batch) in (1u64..).zip(&workload.batches) {
        write_value(&block_path(&dir, height), batch)?;
    }
    Ok(())
}

/// The value a workload or chain file holds.
pub(crate) fn decoded<T: FramedValue>(path: &Path) -> Result<T, WorkloadError> {
    read_value(path)?.map_err(|error| WorkloadError::Decode {
        path: path.to_path_buf(),
        error,
    })
}

/// Why a chain cannot be exported.
#[derive(Debug, Error)]
pub enum ExportError {
    /// The database failed, or lacks a block it has built.
    #[error("reading block {height} from the database: {message}")]
    Database {
        /// The block.
        height: u64,
        /// Why.
        message: String,
    },
    /// A file could not be written.
    #[error(transparent)]
    File(#[from] FileError),
}

/// Writes the prover's chain to `chain_dir`: the genesis, and the files of `blocks` read from
/// the database, which is the source of truth. A block file that already holds the same bytes
/// is left alone; any other is rewritten, so an export interrupted by a crash (between a block's
/// commit and its file) is completed by the next.
pub fn export_chain(
    state: &ProverState,
    chain_dir: &Path,
    blocks: std::ops::RangeInclusive<u64>,
) -> Result<(), ExportError> {
    write_value(&genesis_path(chain_dir), state.genesis())?;
    for height in blocks {
        let bytes = state
            .block_file(height)
            .map_err(|e| ExportError::Database {
                height,
                message: e.to_string(),
            })?
            .ok_or(ExportError::Database {
                height,
                message: "built block missing".into(),
            })?;
        let target = block_path(chain_dir, height);
        let limit = witness_format::FileKind::Block.max_file_bytes() as u64;
        if !matches!(read_bounded(&target, limit), Ok(Ok(ref current)) if *current == bytes) {
            write_atomic(&target, &bytes)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{WorkloadSpec, generate_for};

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            tree_depth: 4,
            accounts: 4,
            blocks: 2,
            txs_per_block: 2,
            ..WorkloadSpec::default()
        }
    }

    /// What is written is what is read back, height by height; past the last height, nothing.
    #[test]
    fn a_workload_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let workload = generate_for(&spec(), Model::Transfer);
        write_workload(dir.path(), &workload).unwrap();
        let read = WorkloadDir::open(dir.path()).unwrap();
        assert_eq!(
            read.allocations(),
            std::slice::from_ref(&workload.allocation)
        );
        assert_eq!(read.heights(), 2);
        for (height, batch) in (1u64..).zip(&workload.batches) {
            assert_eq!(read.batches(height).unwrap(), std::slice::from_ref(batch));
        }
        assert!(read.batches(3).unwrap().is_empty());
        assert!(read.batches(0).unwrap().is_empty());
    }

    /// A file in another model's directory, and a file that does not decode, are rejections
    /// naming the file.
    #[test]
    fn misplaced_and_undecodable_workload_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let zk = generate_for(&spec(), Model::ZkTransfer);
        let transfer_dir = model_dir(dir.path(), Model::Transfer);
        write_value(&allocation_path(&transfer_dir), &zk.allocation).unwrap();
        let error = WorkloadDir::open(dir.path()).unwrap_err();
        assert!(
            matches!(
                &error,
                WorkloadError::WrongModel {
                    what: "an allocation",
                    found: Model::ZkTransfer,
                    expected: Model::Transfer,
                    ..
                }
            ),
            "{error}"
        );

        let transfer = generate_for(&spec(), Model::Transfer);
        write_workload(dir.path(), &transfer).unwrap();
        write_value(&block_path(&transfer_dir, 2), &zk.batches[1]).unwrap();
        let read = WorkloadDir::open(dir.path()).unwrap();
        assert!(read.batches(1).is_ok());
        assert!(matches!(
            read.batches(2),
            Err(WorkloadError::WrongModel {
                what: "transactions",
                found: Model::ZkTransfer,
                ..
            })
        ));
        std::fs::write(block_path(&transfer_dir, 2), b"not a batch").unwrap();
        let error = read.batches(2).unwrap_err();
        assert!(
            matches!(&error, WorkloadError::Decode { path, .. } if path.ends_with("00000002.bin")),
            "{error}"
        );
    }
}
