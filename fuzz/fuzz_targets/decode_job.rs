//! Arbitrary bytes as a proving farm's `ProvingJob` (what a worker takes off the network):
//! decoding must not panic and must be canonical, and a job that decodes goes through the
//! check a worker runs before it proves (its blob as the verifier checks a `zk-transfer` blob
//! with a Merkle witness, at the seed's depth and chain id). Then the same with the frame
//! header made valid.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stateless_fuzz::checks::{decode_canonical, with_valid_header};
use witness_format::{ProvingJob, Witness};

fn check(bytes: &[u8]) {
    let Some(job) = decode_canonical::<ProvingJob>(bytes) else {
        return;
    };
    let blob = &job.blob;
    if let Witness::Merkle(merkle) = &blob.witness {
        let _ = verifier::zk_transfer::verify_merkle_blob(
            7,
            4,
            None,
            &blob.pre_state_root,
            &blob.post_state_root,
            &blob.transactions,
            merkle,
        );
    }
}

fuzz_target!(|bytes: &[u8]| {
    check(bytes);
    if let Some(fixed) = with_valid_header::<ProvingJob>(bytes) {
        check(&fixed);
    }
});
