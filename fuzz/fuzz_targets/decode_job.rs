//! Arbitrary bytes as a proving farm's `ProvingJob` (what a worker takes off the network):
//! decoding must not panic and must be canonical, and a job that decodes goes through the
//! check a worker runs before it proves (`checks::fuzz_job`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use stateless_fuzz::checks::fuzz_job;

fuzz_target!(|bytes: &[u8]| {
    let _ = fuzz_job(bytes);
});
