//! Every rule of the stateless chain, and the checks that apply them with no stored state.
//!
//! The API, at the crate root:
//! - checking a chain ([`verify_chain`], [`ChainVerifier`] for windows of blocks), one blob
//!   ([`verify_blob`], [`verify_blob_in_block`]), a history proof ([`verify_history_proof`]) and
//!   a span of zk blobs ([`verify_span`]); what a rejection says ([`VerifyError`]);
//! - the execution models behind one interface ([`ExecutionModel`], [`StateCommitment`],
//!   looked up by wire tag with [`model`] and [`state_of`], the only places a tag is mapped).
//!
//! Public modules, for the prover's mirror image of each model and for tools:
//! - [`transfer`], [`zk_transfer`]: one home per execution model (state commitment, witness
//!   check, signature scheme, transaction rules);
//! - [`accounts`]: what the models with numbered accounts share (touched state, transfer and
//!   credit rules); [`bridge`]: cross-model messages between them;
//! - [`tree`]: the sparse-tree toolkit (the one multiproof reader and, beside it, the writer);
//! - [`hash`]: SHA3-256 with a domain byte per use; header, blob and genesis hashes;
//! - [`mpt`]: a partial Merkle Patricia trie over witness nodes; [`evm`]: an Ethereum block
//!   executed and checked against its witness (the `evm` model, in progress);
//! - [`accumulator`]: the history accumulator and the blob root; [`ancestry`]: an in-memory
//!   accumulator that keeps every node (tools and benchmarks).
//!
//! Nothing here keeps state, opens a file or depends on the prover. The prover calls these
//! functions, so each rule has exactly one definition.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod accounts;
pub mod accumulator;
pub mod ancestry;
pub mod bridge;
pub mod evm;
pub mod hash;
pub mod mpt;
pub mod transfer;
pub mod tree;
pub mod zk_transfer;

mod blob;
mod chain;
mod error;
mod history_proof;
mod keccak_lanes;
mod model;
mod models;
mod params;
mod span;
mod states;

pub use blob::{verify_blob, verify_blob_in_block};
pub use chain::{
    BlobCheck, ChainSummary, ChainVerifier, check_blobs, verify_chain, verify_chain_with_zk_keys,
};
pub use error::{HistoryProofError, Location, Reason, VerifyError};
pub use history_proof::{ProvenFact, verify_history_proof};
pub use model::{ExecutionModel, PendingProof, StateCommitment};
pub use models::model;
pub use params::ChainParams;
pub use span::{
    AggregatedSpan, Checkpoint, ProvenSpan, SpanError, SpanPart, verify_aggregate_span, verify_span,
};
pub use states::state_of;
