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
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use witness_format::{DecodeError, FramedValue, Model, decode_file, encode_file};

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

/// The numbered files under `dir/blocks`, in height order. Heights must run 1, 2, 3, ...
pub(crate) fn block_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let blocks = dir.join("blocks");
    let mut files: Vec<PathBuf> = fs::read_dir(&blocks)
        .with_context(|| format!("reading {}", blocks.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", blocks.display()))?;
    files.retain(|p| p.extension().is_some_and(|e| e == "bin"));
    files.sort();
    for (expected, file) in (1u64..).zip(&files) {
        if *file != block_path(dir, expected) {
            anyhow::bail!(
                "{} is not the expected {}",
                file.display(),
                block_path(dir, expected).display()
            );
        }
    }
    Ok(files)
}

/// Reads a file's bytes.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Reads and decodes a file: the outer error is I/O, the inner one a decoding rejection.
pub(crate) fn read_value<T: FramedValue>(path: &Path) -> Result<Result<T, DecodeError>> {
    Ok(decode_file(&read(path)?))
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
