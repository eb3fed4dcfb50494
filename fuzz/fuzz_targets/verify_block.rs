//! Arbitrary bytes as the first block after a fixed, honest genesis (`fixtures/genesis.bin`):
//! decoding must not panic and must be canonical, and when the bytes decode, checking the block
//! with the chain verifier (every blob, then the linkage) must not panic. The same again with the
//! frame header made valid, so that mutations reach the payload decoder and the verifier.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use stateless_fuzz::checks::{fuzz_verify, genesis_verifier};
use verifier::ChainVerifier;

/// Decoded once; each input gets a clone.
static START: LazyLock<ChainVerifier> = LazyLock::new(genesis_verifier);

fuzz_target!(|bytes: &[u8]| {
    let _ = fuzz_verify(&START, bytes);
});
