//! The prover: the full state in an embedded database, and the blocks it builds from it.
//!
//! - [`state`]: the redb database (accounts, tree nodes, blocks, headers, history) and block
//!   building: transactions are applied with the verifier's rules, each blob gets its multiproof,
//!   every blob passes the verifier before it is kept, and each block is one durable commit.
//! - [`files`]: the workload and chain directory layouts, the one bounded reader of their
//!   files, atomic writes, and the chain export.
//! - [`verify_dir`]: verifying a chain directory statelessly, window by window, into a report.
//! - [`fact_proofs`]: history proofs of past headers, blobs, transactions and account values, from
//!   the stored history accumulator and state versions.
//! - [`span`]: span proofs of the `zk-transfer` state between two checkpoints, from a chain's
//!   blocks (no database).
//! - [`tree_hash`]: each model's leaf, node and default hashes over the shared tree walk.
//! - [`workload`]: synthetic workloads (a genesis allocation and signed transfers) for demos,
//!   tests and benchmarks.
//! - [`zk`]: zero-knowledge proving: circuits and their gadgets (Poseidon in-circuit).

pub mod fact_proofs;
pub mod files;
pub mod span;
pub mod state;
pub mod tree_hash;
pub mod verify_dir;
pub mod workload;
pub mod zk;

pub use fact_proofs::FactQuery;
pub use state::{BlockOptions, BlockReport, ProverError, ProverState};
