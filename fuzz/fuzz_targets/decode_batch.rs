//! Arbitrary bytes as a `TransactionBatch` file: decoding must not panic, and a file that decodes
//! must be the canonical encoding of its value (re-encoding gives back exactly the input). Then
//! the same with the frame header made valid, so that mutations reach the payload decoder.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stateless_fuzz::checks::fuzz_decode;
use witness_format::TransactionBatch;

fuzz_target!(|bytes: &[u8]| {
    let _ = fuzz_decode::<TransactionBatch>(bytes);
});
