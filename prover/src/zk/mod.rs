//! Zero-knowledge proving: circuits and their gadgets.
//!
//! - [`poseidon`]: the Poseidon permutation and hashes of `verifier::poseidon` as constraints.

pub mod poseidon;
