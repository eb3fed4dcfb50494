//! Verifying a chain directory statelessly, in windows of blocks: what `stateless verify` and
//! `stateless demo` run. It reads only the directory's files (genesis, blocks, keys), never a
//! prover database; memory follows the window, not the chain.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use verifier::hash::genesis_hash;
use verifier::{ChainParams, ChainVerifier};
use witness_format::{
    Block, Genesis, Hash32, ModelRoot, SszEncode, Witness, ZK_VERIFYING_KEY_BYTES,
};

use crate::files::{
    FileError, block_path, chain_key_files, genesis_path, numbered_block_files, read_bounded,
    read_value,
};
use crate::zk::groth16::VerifyingKey;

/// Blocks decoded and verified together by default: memory is bounded by a window, not by the
/// chain, and a window holds enough blobs to keep every core busy.
pub const VERIFY_WINDOW_BLOCKS: usize = 32;

/// What a chain is checked against besides its own genesis file.
#[derive(Clone, Copy, Debug, Default)]
pub struct Trust<'a> {
    /// A keys directory whose `vk.bin` is offered too.
    pub keys: Option<&'a Path>,
    /// The only genesis hash to accept.
    pub genesis_hash: Option<Hash32>,
}

/// The result of verifying a chain directory. A rejection of the chain (its genesis, a key
/// file, a block, a missing block) is a report with `error` set and the height reached.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// Whether every check passed.
    pub valid: bool,
    /// The first rejection, in chain order, as one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The trust anchor's chain id (absent when the genesis is unreadable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// The trust anchor's hash (absent when the genesis is unreadable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genesis_hash: Option<String>,
    /// Blocks accepted.
    pub blocks: u64,
    /// Blobs accepted.
    pub blobs: u64,
    /// Transactions accepted.
    pub txs: u64,
    /// The height of the last block accepted (0: none, only the genesis).
    pub height: u64,
    /// The hash of the last header accepted (empty when the genesis is unusable).
    pub tip_hash: String,
    /// Each model's state root after the last block accepted.
    pub state_roots: Vec<ModelRoot>,
    /// Witness bytes of the blocks read.
    pub witness_bytes: u64,
    /// Blob bytes of the blocks read.
    pub blob_bytes: u64,
    /// Witness bytes per transaction.
    pub witness_bytes_per_tx: f64,
    /// Seconds taken.
    pub seconds: f64,
    /// Transactions verified per second.
    pub verify_tx_per_s: f64,
    /// Worker threads.
    pub threads: usize,
    /// The process's peak resident memory, where the platform tells (Linux).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
    /// The Ethereum blocks of an `evm` chain accepted, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evm_blocks: Vec<EvmBlockReport>,
    /// Checks the chain's trust anchor left out (an `evm` anchor given without its header).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One Ethereum block an `evm` chain accepted.
#[derive(Clone, Debug, Serialize)]
pub struct EvmBlockReport {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: String,
    /// Its post-state root.
    pub state_root: String,
    /// Its transactions.
    pub transactions: u64,
}

/// `numerator / denominator`, 0 for a zero denominator.
pub fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

/// Peak resident set size of this process, from `/proc/self/status` (Linux only).
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Verifies a chain directory in windows of `window` blocks, from its genesis, with the
/// verifying keys of `CHAIN_DIR/keys` (and `trust.keys`); `progress(done, total)` is told after
/// each window. Only I/O conditions are errors; every rejection of the chain is in the report.
pub fn verify_chain_dir(
    chain_dir: &Path,
    window: usize,
    trust: Trust<'_>,
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, FileError> {
    let start = Instant::now();
    let mut report = VerifyReport {
        valid: true,
        error: None,
        chain_id: None,
        genesis_hash: None,
        blocks: 0,
        blobs: 0,
        txs: 0,
        height: 0,
        tip_hash: String::new(),
        state_roots: Vec::new(),
        witness_bytes: 0,
        blob_bytes: 0,
        witness_bytes_per_tx: 0.0,
        seconds: 0.0,
        verify_tx_per_s: 0.0,
        threads: rayon::current_num_threads(),
        peak_memory_bytes: None,
        evm_blocks: Vec::new(),
        notes: Vec::new(),
    };
    let (verifier, verdict) =
        check_chain_dir(chain_dir, window.max(1), trust, &mut report, &mut progress)?;
    if let Some(verifier) = verifier {
        let summary = verifier.summary();
        report.blocks = summary.blocks;
        report.blobs = summary.blobs;
        // An evm blob's transactions are inside its block, not in the blob's list.
        let evm_txs: u64 = report.evm_blocks.iter().map(|b| b.transactions).sum();
        report.txs = summary.transactions.saturating_add(evm_txs);
        report.height = summary.height;
        report.tip_hash = summary.tip_hash.to_string();
        report.state_roots = summary.state_roots.clone();
    }
    report.valid = verdict.is_ok();
    report.error = verdict.err();
    report.seconds = start.elapsed().as_secs_f64();
    report.witness_bytes_per_tx = ratio(report.witness_bytes as f64, report.txs as f64);
    report.verify_tx_per_s = ratio(report.txs as f64, report.seconds);
    report.peak_memory_bytes = peak_memory_bytes();
    Ok(report)
}

/// The checks of [`verify_chain_dir`]: the verifier as far as it got (none when the genesis is
/// unusable) and the verdict; witness and blob bytes and the trust anchor go into `report`.
fn check_chain_dir(
    chain_dir: &Path,
    window: usize,
    trust: Trust<'_>,
    report: &mut VerifyReport,
    progress: &mut impl FnMut(u64, u64),
) -> Result<(Option<ChainVerifier>, Result<(), String>), FileError> {
    let genesis_file = genesis_path(chain_dir);
    let genesis: Genesis = match read_value(&genesis_file)? {
        Ok(genesis) => genesis,
        Err(e) => return Ok((None, Err(format!("{}: {e}", genesis_file.display())))),
    };
    let anchor = genesis_hash(&genesis);
    if let Some(evm) = &genesis.evm
        && evm.header.is_empty()
    {
        report.notes.push(format!(
            "the evm anchor (block {}) carries no header: the first block was checked against \
             its parent's hash and number only (gas limit, base fee, timestamp and blob gas \
             against the parent header skipped)",
            evm.number
        ));
    }
    report.chain_id = Some(genesis.chain_id);
    report.genesis_hash = Some(anchor.to_string());
    if let Some(trusted) = trust.genesis_hash
        && trusted != anchor
    {
        return Ok((
            None,
            Err(format!(
                "{}: genesis {anchor} is not the trusted genesis {trusted}",
                genesis_file.display()
            )),
        ));
    }
    let params = match ChainParams::from_genesis(&genesis) {
        Ok(params) => params,
        Err(e) => return Ok((None, Err(format!("genesis: {e}")))),
    };
    let vks = match load_verifying_keys(chain_dir, trust.keys, &params)? {
        Ok(vks) => vks,
        Err(rejection) => return Ok((None, Err(rejection))),
    };
    let mut verifier = match ChainVerifier::with_zk_keys(&genesis, &vks) {
        Ok(verifier) => verifier,
        Err(e) => return Ok((None, Err(format!("genesis: {e}")))),
    };
    let files = numbered_block_files(chain_dir)?;
    let total = files.len() as u64;
    let mut expected = 1u64;
    for window in files.chunks(window) {
        let mut blocks = Vec::with_capacity(window.len());
        let mut stop = None;
        for (height, path) in window {
            if *height != expected {
                stop = Some(format!(
                    "block {expected} is missing: {} does not exist (the next file is {})",
                    block_path(chain_dir, expected).display(),
                    path.display()
                ));
                break;
            }
            match read_value::<Block>(path)? {
                Ok(block) => blocks.push(block),
                Err(e) => {
                    stop = Some(format!("{}: {e}", path.display()));
                    break;
                }
            }
            expected = expected.saturating_add(1);
        }
        for blob in blocks.iter().flat_map(|b| b.blobs.iter()) {
            report.witness_bytes += match &blob.witness {
                Witness::Merkle(witness) => witness.ssz_bytes_len(),
                Witness::Zk(witness) => witness.ssz_bytes_len(),
                Witness::Credits(witness) => witness.ssz_bytes_len(),
                Witness::Evm(witness) => witness.ssz_bytes_len(),
                Witness::EvmCredits(witness) => witness.ssz_bytes_len(),
            } as u64;
            report.blob_bytes += blob.ssz_bytes_len() as u64;
        }
        // A block that fails before a later undecodable or missing one is reported first.
        if let Err(e) = verifier.verify_blocks(&blocks) {
            return Ok((Some(verifier), Err(e.to_string())));
        }
        report.evm_blocks.extend(
            blocks
                .iter()
                .flat_map(|b| b.blobs.iter())
                .filter_map(|blob| evm_block_report(&blob.witness.evm()?.block)),
        );
        if let Some(stop) = stop {
            return Ok((Some(verifier), Err(stop)));
        }
        progress(expected.saturating_sub(1), total);
    }
    Ok((Some(verifier), Ok(())))
}

/// What the report says of an `evm` block the verifier accepted (so it decodes).
fn evm_block_report(rlp: &[u8]) -> Option<EvmBlockReport> {
    let block = verifier::evm::decode_block(rlp).ok()?;
    Some(EvmBlockReport {
        number: block.header.number,
        hash: block.header.hash_slow().to_string(),
        state_root: block.header.state_root.to_string(),
        transactions: block.body.transactions.len() as u64,
    })
}

/// The verifying keys a chain is checked with: every `CHAIN_DIR/keys/*.vk`, and `extra` (a
/// keys directory's `vk.bin`) when given. A key file is input to be checked like a block: one
/// larger than a key, whose hash the genesis does not pin, or that does not decode, is a
/// rejection (the inner error) naming the file; its hash is checked before it is decoded.
pub fn load_verifying_keys(
    chain_dir: &Path,
    extra: Option<&Path>,
    params: &ChainParams,
) -> Result<Result<Vec<VerifyingKey>, String>, FileError> {
    let mut files = chain_key_files(chain_dir)?;
    files.extend(extra.map(|dir| dir.join("vk.bin")));
    let mut keys = Vec::with_capacity(files.len());
    for path in files {
        let key = read_bounded(&path, ZK_VERIFYING_KEY_BYTES as u64)?
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                params
                    .pinned_verifying_key(&bytes)
                    .map_err(|e| e.to_string())
            });
        match key {
            Ok(key) => keys.push(key),
            Err(reason) => return Ok(Err(format!("{}: {reason}", path.display()))),
        }
    }
    Ok(Ok(keys))
}
