//! The prover: the full state in an embedded database, and the blocks it builds from it.
//!
//! The API, at the crate root: [`ProverState`], the redb database (accounts, tree nodes, blocks,
//! headers, history) and block building (transactions applied with the verifier's rules, each
//! blob with its witness, every blob passing the verifier before it is kept, each block one
//! durable commit); history proofs of past facts from it ([`FactQuery`]); span proofs of the
//! `zk-transfer` state between two checkpoints from a chain's blocks ([`SpanBuilder`]).
//!
//! Public modules:
//! - [`files`]: the workload and chain directory layouts, the one bounded reader of their
//!   files, atomic writes, workload directories written and read, and the chain export.
//! - [`prove_dir`]: proving a workload directory into a chain directory, block by block.
//! - [`verify_dir`]: verifying a chain directory statelessly, window by window, into a report.
//! - [`round_trip`]: the demo's cross-model round trip, value conserved and the chain verified.
//! - [`workload`]: generated workloads (a genesis allocation and signed transfers) for the
//!   demo, tests and benchmarks.
//! - [`zk`]: zero-knowledge proving: the `zk-transfer` circuit, its witness and gadgets.
//!
//! Feature `bench`: [`bench`], the measurements behind `stateless bench`.
//!
//! Feature `testing`: builders of synthetic data for tests and benchmarks (the synthetic
//! circuit, a blob's inclusion path on its own), not part of the API.

#[cfg(feature = "bench")]
pub mod bench;
pub mod ef_test;
pub mod evm_import;
pub mod evm_produce;
pub mod evm_state;
pub mod evm_workload;
pub mod farm;
pub mod files;
pub mod prove_dir;
pub mod round_trip;
pub mod verify_dir;
pub mod workload;
pub mod zk;

mod fact_proofs;
mod models;
mod span;
mod state;
mod tree_hash;

pub use fact_proofs::FactQuery;
#[cfg(feature = "testing")]
pub use fact_proofs::blob_inclusion;
pub use span::{SpanBuildError, SpanBuilder};
pub use state::{
    BlockFailed, BlockOptions, BlockReport, CHECKPOINT_BLOCKS, EvmChannels, ProverError,
    ProverState, Storage,
};
