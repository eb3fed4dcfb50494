//! The properties the fuzz targets check, in one place.
//!
//! The fuzz targets call these through the `stateless_fuzz` library, and the root package's
//! `tests/fuzz_regressions.rs` compiles this same file (with `#[path]`), so every committed seed
//! and every minimized crash replays under `cargo test` through exactly the code the fuzzer ran.
//!
//! The properties come from the project's promise that no input bytes may panic the decoder or
//! the verifier: a check either returns or panics, and a panic is a bug in the library crates.

use verifier::{ChainVerifier, VerifyError};
use witness_format::frame::{FORMAT_VERSION, FRAME_HEADER_LEN, MAGIC};
use witness_format::{Block, FramedValue, Genesis, ProvingJob, Witness, decode_file, encode_file};

/// The genesis file that `verify_block` checks every fuzzed block against: the honest chain that
/// `examples/make_seeds.rs` builds (16 accounts, tree depth 32), whose first block is the seed of
/// `verify_block`.
pub const GENESIS_FILE: &[u8] = include_bytes!("../fixtures/genesis.bin");

/// The genesis file that `verify_evm_block` checks every fuzzed block against: the synthetic
/// `evm` chain of `examples/make_seeds.rs` (an anchor with its header, Cancun), whose first
/// block (a withdrawal to a new account) is the seed of `verify_evm_block`.
pub const EVM_GENESIS_FILE: &[u8] = include_bytes!("../fixtures/evm-genesis.bin");

/// The depth and chain id of the proving jobs `decode_job` checks: those of its seed
/// (`examples/make_seeds.rs`).
pub const JOB_SHAPE: (u8, u64) = (4, 7);

/// Decodes `bytes` as a proving farm's job (what a worker takes off the network) and runs the
/// check a worker runs before it proves: the blob as the verifier checks a `zk-transfer` blob
/// with a Merkle witness ([`JOB_SHAPE`]). Then the same with the frame header made valid.
/// Returns whether `bytes` decode to a job that passes that check.
pub fn fuzz_job(bytes: &[u8]) -> bool {
    let accepted = job_passes(bytes);
    if let Some(fixed) = with_valid_header::<ProvingJob>(bytes) {
        let _ = job_passes(&fixed);
    }
    accepted
}

fn job_passes(bytes: &[u8]) -> bool {
    let Some(job) = decode_canonical::<ProvingJob>(bytes) else {
        return false;
    };
    let blob = &job.blob;
    let Witness::Merkle(merkle) = &blob.witness else {
        return false;
    };
    let (depth, chain_id) = JOB_SHAPE;
    verifier::zk_transfer::verify_merkle_blob(
        chain_id,
        depth,
        None,
        &blob.pre_state_root,
        &blob.post_state_root,
        &blob.transactions,
        merkle,
    )
    .is_ok()
}

/// Decodes `bytes` as a file holding a `T`. Decoding must not panic; when it succeeds, encoding
/// the value again must give back exactly `bytes` (every valid file is the one canonical
/// encoding of its value). Returns the value, or `None` when the bytes are rejected.
pub fn decode_canonical<T: FramedValue>(bytes: &[u8]) -> Option<T> {
    let value = decode_file::<T>(bytes).ok()?;
    let encoded = encode_file(&value);
    assert!(
        encoded == bytes,
        "{} input bytes decode, but the value re-encodes to {} other bytes (first difference at \
         byte {})",
        bytes.len(),
        encoded.len(),
        encoded
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(encoded.len().min(bytes.len())),
    );
    Some(value)
}

/// `bytes` with its 10-byte frame header made valid for a `T` file: the magic, the version, `T`'s
/// kind and the length of the bytes that follow. `None` when `bytes` is shorter than a header or
/// its header is already exactly that.
///
/// Almost every mutation of a file changes its length, and the frame then rejects it before the
/// payload decoder sees it; fixing the header up lets those mutations reach the payload decoder.
pub fn with_valid_header<T: FramedValue>(bytes: &[u8]) -> Option<Vec<u8>> {
    let payload = bytes.get(FRAME_HEADER_LEN..)?;
    let mut fixed = Vec::with_capacity(bytes.len());
    fixed.extend_from_slice(&MAGIC);
    fixed.push(FORMAT_VERSION);
    fixed.push(T::KIND as u8);
    fixed.extend_from_slice(&u32::try_from(payload.len()).ok()?.to_le_bytes());
    fixed.extend_from_slice(payload);
    (fixed != bytes).then_some(fixed)
}

/// What the `decode_*` targets run: [`decode_canonical`] on `bytes`, then on `bytes` with a valid
/// header ([`with_valid_header`]). Returns whether `bytes` themselves decode.
pub fn fuzz_decode<T: FramedValue>(bytes: &[u8]) -> bool {
    let accepted = decode_canonical::<T>(bytes).is_some();
    if let Some(fixed) = with_valid_header::<T>(bytes) {
        let _ = decode_canonical::<T>(&fixed);
    }
    accepted
}

/// What the `verify_block` target runs: [`verify_block`] on `bytes`, then on `bytes` with a valid
/// block header ([`with_valid_header`]). Returns whether `bytes` themselves are a block file that
/// the verifier accepts after `start`.
pub fn fuzz_verify(start: &ChainVerifier, bytes: &[u8]) -> bool {
    let accepted = matches!(verify_block(start, bytes), Some(Ok(())));
    if let Some(fixed) = with_valid_header::<Block>(bytes) {
        let _ = verify_block(start, &fixed);
    }
    accepted
}

/// A verifier positioned at [`GENESIS_FILE`], ready for block 1.
///
/// # Panics
/// If the embedded genesis does not decode or is not a valid genesis (regenerate it with
/// `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`).
pub fn genesis_verifier() -> ChainVerifier {
    verifier_at(GENESIS_FILE, "fuzz/fixtures/genesis.bin")
}

/// A verifier positioned at [`EVM_GENESIS_FILE`], ready for block 1.
///
/// # Panics
/// As [`genesis_verifier`].
pub fn evm_genesis_verifier() -> ChainVerifier {
    verifier_at(EVM_GENESIS_FILE, "fuzz/fixtures/evm-genesis.bin")
}

fn verifier_at(file: &[u8], name: &str) -> ChainVerifier {
    let genesis = decode_canonical::<Genesis>(file)
        .unwrap_or_else(|| panic!("{name} is not a canonical genesis file"));
    ChainVerifier::new(&genesis).unwrap_or_else(|error| panic!("{name} is rejected: {error}"))
}

/// Decodes `bytes` as a block file (with [`decode_canonical`]'s checks) and, when it decodes,
/// checks it as the first block after `start`'s genesis. Neither step may panic. Returns `None`
/// when the bytes are not a block file, otherwise the verifier's verdict.
pub fn verify_block(start: &ChainVerifier, bytes: &[u8]) -> Option<Result<(), VerifyError>> {
    let block = decode_canonical::<Block>(bytes)?;
    let mut verifier = start.clone();
    let verdict = verifier.verify_blocks(std::slice::from_ref(&block));
    if verdict.is_ok() {
        // An accepted block is where the chain now stands.
        let summary = verifier.summary();
        assert_eq!(summary.height, block.header.height, "accepted height");
        assert_eq!(summary.blocks, 1, "accepted block count");
        assert_eq!(
            summary.state_roots.as_slice(),
            block.header.state_roots.as_ref(),
            "accepted state roots"
        );
    }
    Some(verdict)
}
