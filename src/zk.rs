//! `stateless zk setup`: local Groth16 keys for the `zk-transfer` circuit, and the key files.
//!
//! ```text
//! KEYS_DIR/pk.bin       proving key (arkworks uncompressed; holds the verifying key)
//! KEYS_DIR/vk.bin       verifying key (arkworks compressed); its SHA3-256 is what a genesis pins
//! KEYS_DIR/shape.json   {"depth": D, "batch": B, "chain_id": N}
//! CHAIN_DIR/keys/batch-BBBBB.vk   copies of the pinned verifying keys, written by `prove`
//! ```
//!
//! The setup is local and single-party: whoever runs it can forge proofs. A real deployment
//! needs a multi-party ceremony (`docs/ZK.md`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use prover::zk::groth16::{ProvingKey, VerifyingKey, decode_proving_key, encode_proving_key};
use serde::{Deserialize, Serialize};
use verifier::zk_transfer::groth16::{
    decode_verifying_key, encode_verifying_key, verifying_key_hash,
};

use crate::Failure;
use prover::files::{read_limited, write_atomic};
use witness_format::ZK_VERIFYING_KEY_BYTES;

/// Largest proving key file `prove` reads: a depth-32, batch-64 key is 1.6 GB, and the key is
/// held in memory whole, so a file past this is not one this machine class could use.
const MAX_PROVING_KEY_FILE_BYTES: u64 = 64 << 30;

/// Largest `shape.json` (three small numbers).
const MAX_SHAPE_FILE_BYTES: u64 = 4 << 10;

/// Arguments of `stateless zk`.
#[derive(Args)]
pub(crate) struct ZkArgs {
    #[command(subcommand)]
    command: ZkCommand,
}

#[derive(Subcommand)]
enum ZkCommand {
    /// Generate proving and verifying keys for the zk-transfer circuit (local, insecure
    /// single-party setup: for tests and development chains only).
    Setup(SetupArgs),
}

/// Arguments of `stateless zk setup`.
#[derive(Args)]
pub(crate) struct SetupArgs {
    /// State tree depth (the chain's).
    #[arg(long, default_value_t = 32)]
    depth: u8,
    /// Transactions per proof (a blob may have fewer).
    #[arg(long)]
    batch: u16,
    /// Chain id (a constant of the circuit).
    #[arg(long, default_value_t = 1)]
    chain_id: u64,
    /// Output directory for pk.bin, vk.bin and shape.json.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the setup's randomness (default: drawn from the operating system).
    #[arg(long)]
    seed: Option<u64>,
}

/// The circuit shape a key pair is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Shape {
    pub(crate) depth: u8,
    pub(crate) batch: u16,
    pub(crate) chain_id: u64,
}

/// `stateless zk ...`.
pub(crate) fn zk(args: ZkArgs) -> Result<(), Failure> {
    match args.command {
        ZkCommand::Setup(args) => setup(args),
    }
}

fn setup(args: SetupArgs) -> Result<(), Failure> {
    use witness_format::limits::MAX_TREE_DEPTH;
    if args.depth == 0 || args.depth > MAX_TREE_DEPTH {
        return Err(anyhow::anyhow!("--depth must be in 1..={MAX_TREE_DEPTH}").into());
    }
    if args.batch == 0 {
        return Err(anyhow::anyhow!("--batch must be at least 1").into());
    }
    let seed = match args.seed {
        Some(seed) => {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            bytes
        }
        None => rand::random(),
    };
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!(
        "zk setup: depth {}, batch {} (local single-party setup)",
        args.depth, args.batch
    ));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let (pk, vk) = prover::zk::groth16::setup_from_seed(
        args.depth,
        usize::from(args.batch),
        args.chain_id,
        seed,
    )
    .map_err(|e| anyhow::anyhow!("setup: {e}"))?;
    bar.finish_and_clear();
    let shape = Shape {
        depth: args.depth,
        batch: args.batch,
        chain_id: args.chain_id,
    };
    write_atomic(&args.out.join("pk.bin"), &encode_proving_key(&pk))?;
    write_atomic(&args.out.join("vk.bin"), &encode_verifying_key(&vk))?;
    write_atomic(
        &args.out.join("shape.json"),
        serde_json::to_string(&shape)
            .context("encoding the shape")?
            .as_bytes(),
    )?;
    eprintln!(
        "wrote {}/pk.bin and vk.bin; WARNING: a local setup lets its runner forge proofs, a real \
         deployment needs a multi-party ceremony",
        args.out.display()
    );
    outln!("{}", verifying_key_hash(&vk));
    Ok(())
}

/// Reads a keys directory written by `zk setup`: shape, proving key, verifying key. These are
/// the operator's own files (`prove` checks every blob it proves), so a bad one is an I/O error.
pub(crate) fn read_keys(dir: &Path) -> Result<(Shape, ProvingKey, VerifyingKey)> {
    let shape_file = dir.join("shape.json");
    let shape: Shape = serde_json::from_slice(&read_limited(&shape_file, MAX_SHAPE_FILE_BYTES)?)
        .with_context(|| format!("reading {}", shape_file.display()))?;
    let pk = decode_proving_key(&read_limited(
        &dir.join("pk.bin"),
        MAX_PROVING_KEY_FILE_BYTES,
    )?)
    .with_context(|| format!("{}/pk.bin is not a proving key", dir.display()))?;
    let vk_file = dir.join("vk.bin");
    let vk = decode_verifying_key(&read_limited(&vk_file, ZK_VERIFYING_KEY_BYTES as u64)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", vk_file.display()))?;
    anyhow::ensure!(
        verifying_key_hash(&pk.vk) == verifying_key_hash(&vk),
        "{}: pk.bin and vk.bin are not one key pair",
        dir.display()
    );
    Ok((shape, pk, vk))
}
