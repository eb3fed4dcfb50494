//! Zero-knowledge proving: circuits and their gadgets.
//!
//! - [`poseidon`]: the Poseidon permutation and hashes of `verifier::zk_transfer::poseidon` as constraints.
//! - [`schnorr`]: Schnorr-over-Jubjub verification of `verifier::zk_transfer::schnorr` as constraints.
//! - [`shape`]: a circuit's shape (depth, batch, chain id, shared levels).
//! - [`circuit`]: the `zk-transfer` batch circuit (five public inputs).
//! - [`witness`]: its witness, built from the pre-state and the paths' siblings.
//! - [`groth16`]: key generation and proving for that circuit.
//! - [`keys`]: the keys directory (a key pair and the shape it is for), written and read.
//! - [`proofs`]: where a block's proofs come from (this process, or a farm of workers).
//! - [`aggregate`]: a span's proofs aggregated into one (SnarkPack, chained statements), and the
//!   development SRS it needs.
//! - `synthetic` (feature `testing`): plain R1CS of a given size, the baseline that proving cost
//!   is compared with.

pub mod poseidon;
pub mod schnorr;

pub mod aggregate;
pub mod circuit;
pub mod groth16;
pub mod keys;
pub mod proofs;
pub mod shape;
#[cfg(feature = "testing")]
pub mod synthetic;
pub mod witness;
