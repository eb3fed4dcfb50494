//! Zero-knowledge proving: circuits and their gadgets.
//!
//! - [`poseidon`]: the Poseidon permutation and hashes of `verifier::poseidon` as constraints.
//! - [`schnorr`]: Schnorr-over-Jubjub verification of `verifier::schnorr` as constraints.

pub mod poseidon;
pub mod schnorr;
