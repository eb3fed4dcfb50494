//! Arbitrary bytes as the first block after a fixed `evm` genesis (`fixtures/evm-genesis.bin`:
//! an Ethereum anchor with its header, Cancun): decoding must not panic and must be canonical,
//! and when the bytes decode, the chain verifier (the Ethereum block decoded, executed against
//! its witness's partial tries, its header checked and linked to the anchor's) must not panic.
//! The same again with the frame header made valid.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use stateless_fuzz::checks::{evm_genesis_verifier, fuzz_verify};
use verifier::ChainVerifier;

/// Decoded once; each input gets a clone.
static START: LazyLock<ChainVerifier> = LazyLock::new(evm_genesis_verifier);

fuzz_target!(|bytes: &[u8]| {
    let _ = fuzz_verify(&START, bytes);
});
