//! `stateless zk setup`: local Groth16 keys for the `zk-transfer` circuit, written as a keys
//! directory (`prover::zk::keys`: `pk.bin`, `vk.bin`, `shape.json`); `stateless zk srs`: a
//! local SRS for aggregating span proofs.
//!
//! The setup is local and single-party: whoever runs it can forge proofs. A real deployment
//! needs a multi-party ceremony (`docs/ZK.md`).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use prover::zk::keys::Shape;
use prover::zk::keys::{Keys, write_keys};
use verifier::zk_transfer::groth16::verifying_key_hash;

use crate::Failure;

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
    /// Generate a structured reference string for aggregating span proofs (local, insecure:
    /// for tests and development chains only; a deployment imports a public powers-of-tau).
    Srs(SrsArgs),
}

/// Arguments of `stateless zk srs`.
#[derive(Args)]
pub(crate) struct SrsArgs {
    /// The most proofs one aggregate may hold: a power of two up to 65536.
    #[arg(long)]
    size: u32,
    /// Where to write the SRS file.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the secrets (default: drawn from the operating system).
    #[arg(long)]
    seed: Option<u64>,
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
    /// Top tree levels a proof computes once for its whole blob instead of for every path:
    /// fewer constraints, but only a blob whose accounts all lie in one subtree of
    /// 2^(depth - shared-levels) leaves can be proven (any other gets a Merkle witness).
    #[arg(long, default_value_t = 0)]
    shared_levels: u8,
    /// Output directory for pk.bin, vk.bin and shape.json.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the setup's randomness (default: drawn from the operating system).
    #[arg(long)]
    seed: Option<u64>,
}

/// `stateless zk ...`.
pub(crate) fn zk(args: ZkArgs) -> Result<(), Failure> {
    match args.command {
        ZkCommand::Setup(args) => setup(args),
        ZkCommand::Srs(args) => srs(args),
    }
}

fn seed_bytes(seed: Option<u64>) -> [u8; 32] {
    match seed {
        Some(seed) => {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            bytes
        }
        None => rand::random(),
    }
}

/// `stateless zk srs`: prints the SRS key's hash (what `prove --srs` pins in a genesis).
fn srs(args: SrsArgs) -> Result<(), Failure> {
    use prover::zk::aggregate::{Srs, write_srs};
    let size = args.size;
    if !size.is_power_of_two() || size > verifier::zk_transfer::aggregate::MAX_PROOFS {
        return Err(anyhow::anyhow!(
            "--size must be a power of two up to {}",
            verifier::zk_transfer::aggregate::MAX_PROOFS
        )
        .into());
    }
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!("zk srs: {size} proofs (local, insecure)"));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut rng = prover::zk::groth16::rng_from_seed(seed_bytes(args.seed));
    let srs = Srs::insecure(size as usize, &mut rng).map_err(|e| anyhow::anyhow!("srs: {e}"))?;
    let key = srs.key().map_err(|e| anyhow::anyhow!("srs: {e}"))?;
    write_srs(&args.out, &srs).map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    eprintln!(
        "wrote {}; WARNING: INSECURE development SRS: whoever knows its seed can forge \
         aggregates. A deployment imports a public powers-of-tau transcript (docs/ZK.md)",
        args.out.display()
    );
    outln!("{}", key.hash());
    Ok(())
}

fn setup(args: SetupArgs) -> Result<(), Failure> {
    use witness_format::limits::MAX_TREE_DEPTH;
    if args.depth == 0 || args.depth > MAX_TREE_DEPTH {
        return Err(anyhow::anyhow!("--depth must be in 1..={MAX_TREE_DEPTH}").into());
    }
    if args.batch == 0 {
        return Err(anyhow::anyhow!("--batch must be at least 1").into());
    }
    let shape = Shape {
        shared_levels: args.shared_levels,
        ..Shape::new(args.depth, args.batch, args.chain_id)
    };
    shape
        .check()
        .map_err(|e| anyhow::anyhow!("--shared-levels: {e}"))?;
    let seed = seed_bytes(args.seed);
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!(
        "zk setup: depth {}, batch {}, {} shared levels (local single-party setup)",
        args.depth, args.batch, args.shared_levels
    ));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let (pk, vk) = prover::zk::groth16::setup_from_seed(shape, seed)
        .map_err(|e| anyhow::anyhow!("setup: {e}"))?;
    bar.finish_and_clear();
    let keys = Keys { shape, pk, vk };
    write_keys(&args.out, &keys).map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!(
        "wrote {}/pk.bin and vk.bin; WARNING: a local setup lets its runner forge proofs, a real \
         deployment needs a multi-party ceremony",
        args.out.display()
    );
    outln!("{}", verifying_key_hash(&keys.vk));
    Ok(())
}
