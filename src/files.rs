//! Directory layouts on disk, and reading and writing their files.
//!
//! ```text
//! WORKLOAD_DIR/MODEL/allocation.bin        MODEL's genesis accounts (prover input)
//! WORKLOAD_DIR/MODEL/blocks/00000001.bin   MODEL's transactions submitted for block 1, ...
//! CHAIN_DIR/genesis.bin                    the trust anchor
//! CHAIN_DIR/blocks/00000001.bin            block 1, ...
//! ```
//!
//! `MODEL` is a model's name (`transfer`, `zk-transfer`): a workload holds one directory per
//! model its chain hosts.

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use witness_format::{DecodeError, FramedValue, Model, decode_file, encode_file};

/// Largest proving key file `prove` reads: a depth-32, batch-64 key is 1.6 GB, and the key is
/// held in memory whole, so a file past this is not one this machine class could use.
pub(crate) const MAX_PROVING_KEY_FILE_BYTES: u64 = 64 << 30;

/// Largest `shape.json` (three small numbers).
pub(crate) const MAX_SHAPE_FILE_BYTES: u64 = 4 << 10;

/// A file larger than its kind may be: refused from its size, before it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooLarge {
    /// The file's size (or the bytes read before giving up).
    pub(crate) len: u64,
    /// The largest size its kind may have.
    pub(crate) limit: u64,
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
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Result<Vec<u8>, TooLarge>> {
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let metadata = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?;
    anyhow::ensure!(
        metadata.is_file(),
        "{} is not a regular file",
        path.display()
    );
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
        .with_context(|| format!("reading {}", path.display()))?;
    let len = bytes.len() as u64;
    if len > limit {
        return Ok(Err(TooLarge { len, limit }));
    }
    Ok(Ok(bytes))
}

/// [`read_bounded`] for files whose size is not a property of the input being checked (keys
/// and shapes the operator gives): too large is an I/O error, with the file named.
pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    read_bounded(path, limit)?.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The genesis file of a chain directory.
pub(crate) fn genesis_path(chain_dir: &Path) -> PathBuf {
    chain_dir.join("genesis.bin")
}

/// The directory of `model`'s files in a workload directory.
pub(crate) fn model_dir(workload_dir: &Path, model: Model) -> PathBuf {
    workload_dir.join(model.name())
}

/// The models a workload directory has files for, in ascending order; at least one.
pub(crate) fn workload_models(workload_dir: &Path) -> Result<Vec<Model>> {
    let models: Vec<Model> = Model::ALL
        .into_iter()
        .filter(|&model| model_dir(workload_dir, model).is_dir())
        .collect();
    if models.is_empty() {
        anyhow::bail!(
            "{} has no model directory (transfer/ or zk-transfer/): not a workload written by `stateless gen`",
            workload_dir.display()
        );
    }
    Ok(models)
}

/// The allocation file of a model's directory in a workload.
pub(crate) fn allocation_path(model_dir: &Path) -> PathBuf {
    model_dir.join("allocation.bin")
}

/// The file of block `height` under `dir/blocks`.
pub(crate) fn block_path(dir: &Path, height: u64) -> PathBuf {
    dir.join("blocks").join(format!("{height:08}.bin"))
}

/// The block files under `dir/blocks` (`NNNNNNNN.bin`, the height in eight digits or more), as
/// (height, path), ascending by height. Any other `.bin` file there is an error: it belongs to no
/// layout this tool writes.
pub(crate) fn numbered_block_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let blocks = dir.join("blocks");
    let mut files: Vec<(u64, PathBuf)> = Vec::new();
    for entry in fs::read_dir(&blocks).with_context(|| format!("reading {}", blocks.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", blocks.display()))?
            .path();
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
            anyhow::bail!(
                "{} is not a block file (blocks are named by height, e.g. {})",
                path.display(),
                block_path(dir, 1).display()
            );
        };
        files.push((height, path));
    }
    files.sort();
    Ok(files)
}

/// The files of blocks 1, 2, 3, ... under `dir/blocks`, in height order; a gap is an error.
pub(crate) fn block_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let files = numbered_block_files(dir)?;
    if let Some((expected, (_, file))) = (1u64..)
        .zip(&files)
        .find(|(expected, (height, _))| height != expected)
    {
        anyhow::bail!(
            "{} is missing (the next file is {})",
            block_path(dir, expected).display(),
            file.display()
        );
    }
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// Reads a file of any kind of this format (at most the largest file, frame included): the
/// outer error is I/O, the inner one a file too large to be any.
pub(crate) fn read_any_file(path: &Path) -> Result<Result<Vec<u8>, DecodeError>> {
    let limit = witness_format::limits::MAX_FILE_BYTES + witness_format::frame::FRAME_HEADER_LEN;
    Ok(read_bounded(path, limit as u64)?.map_err(too_large))
}

/// Reads and decodes a file: the outer error is I/O, the inner one a decoding rejection
/// (including a file larger than any of its kind, refused before it is read).
pub(crate) fn read_value<T: FramedValue>(path: &Path) -> Result<Result<T, DecodeError>> {
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
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// Encodes and writes a value atomically.
pub(crate) fn write_value<T: FramedValue>(path: &Path, value: &T) -> Result<()> {
    write_atomic(path, &encode_file(value))
}
