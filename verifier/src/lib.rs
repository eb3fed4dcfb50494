//! Every rule of the stateless chain, and the checks that apply them with no stored state.
//!
//! - [`hash`]: SHA3-256 with a domain byte per use; leaf, node, header, blob and genesis hashes.
//! - [`poseidon`]: the Poseidon permutation and hashes over BLS12-381's scalar field (`zk-transfer`).
//! - [`tree`]: the fixed-depth sparse Merkle tree: default hashes and the one root computation that
//!   both multiproof verification and multiproof generation (in `prover`) walk.
//! - [`transfer`]: the `transfer` model's transaction rules and signing message.
//! - [`signature`]: Ed25519 under ZIP-215, in parallel batches.
//! - [`schnorr`]: Schnorr signatures over Jubjub with a Poseidon challenge (`zk-transfer`).
//! - [`zk_transfer`]: the `zk-transfer` model's rules: Poseidon tree, signing message, transaction
//!   commitment, the proof's public input, and blobs with a Merkle witness.
//! - [`zk_verify`]: Groth16 verification of `zk-transfer` proofs, and the verifying key's hash.
//! - [`blob`]: checks one blob against its witness.
//! - [`accumulator`]: the Merkle Mountain Range over header hashes (with its inclusion proofs) and
//!   the blob root.
//! - [`history_proof`]: checks a proof of a past header, blob, transaction or account value
//!   against one trusted header.
//! - [`span`]: checks a span of `zk-transfer` blobs between two checkpoints, all proofs in one
//!   batched pairing check, executing nothing.
//! - [`ancestry`]: an in-memory history accumulator that keeps every node, to prove ancestry
//!   without a database (tools and benchmarks).
//! - [`chain`]: checks a chain of blocks from its genesis: all blobs in parallel, then linkage.
//! - [`error`]: what a rejection says and where it happened.
//! - [`model`]: the execution models, by wire tag: the one place a model is chosen.
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
pub mod blob;
pub mod bridge;
pub mod chain;
pub mod error;
pub mod hash;
pub mod history_proof;
pub mod model;
pub mod models;
pub mod params;
pub mod span;
pub mod states;
pub mod transfer;
pub mod tree;
pub mod zk_transfer;

pub use blob::{verify_blob, verify_blob_in_block};
pub use chain::{
    BlobCheck, ChainSummary, ChainVerifier, check_blobs, verify_chain, verify_chain_with_zk_keys,
};
pub use error::{HistoryProofError, Location, Reason, VerifyError};
pub use history_proof::{ProvenFact, verify_history_proof};
pub use params::ChainParams;
