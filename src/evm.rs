//! `stateless evm import`: Ethereum blocks with witnesses made elsewhere, as a chain directory
//! that `stateless verify` checks (`prover::evm_import` has the input format).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use prover::evm_import::{ImportError, read_import, write_chain};
use verifier::hash::genesis_hash;

use crate::Failure;

/// Arguments of `stateless evm`.
#[derive(Args)]
pub(crate) struct EvmArgs {
    #[command(subcommand)]
    command: EvmCommand,
}

#[derive(Subcommand)]
enum EvmCommand {
    /// Turn Ethereum blocks with their witnesses (JSON) into a chain directory; its genesis is
    /// the anchor block. Nothing is executed: `stateless verify CHAIN` checks it.
    Import(ImportArgs),
}

/// Arguments of `stateless evm import`.
#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The blocks and witnesses: {"chain_id", "anchor", "blocks": [{"rlp", "witness"}]}.
    input: PathBuf,
    /// The chain directory to write (genesis.bin, blocks/).
    #[arg(long)]
    out: PathBuf,
}

/// `stateless evm ...`.
pub(crate) fn evm(args: EvmArgs) -> Result<(), Failure> {
    match args.command {
        EvmCommand::Import(args) => import(args),
    }
}

fn import(args: ImportArgs) -> Result<(), Failure> {
    let chain = read_import(&args.input).map_err(|error| match error {
        ImportError::File(error) => Failure::from(error),
        rejected => Failure::Rejected(format!("{}: {rejected}", args.input.display())),
    })?;
    write_chain(&args.out, &chain)?;
    let anchor = chain.genesis.evm.as_ref().map_or(0, |anchor| anchor.number);
    outln!(
        "imported {} evm block(s) after block {anchor} of chain {} into {}",
        chain.blocks.len(),
        chain.genesis.chain_id,
        args.out.display()
    );
    outln!("genesis hash {}", genesis_hash(&chain.genesis));
    Ok(())
}
