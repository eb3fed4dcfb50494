//! Replays the fuzz inputs that are committed to the repository through the fuzz targets' own
//! checks (`fuzz/src/checks.rs`, compiled here unchanged), as an ordinary `cargo test`:
//!
//! - `fuzz/seeds/<target>/*`: the honest seed corpora. Each must be accepted: it decodes, it is
//!   canonical, and for `verify_block` the block verifies against the fixture genesis. This keeps
//!   the seeds honest, so fuzzing starts deep in the code, and the test never replays nothing.
//! - `fuzz/regressions/<target>-<name>.bin`: minimized inputs that once crashed, hung or ran out
//!   of memory in `<target>`. Each must go through the target's check without panicking; whether
//!   it is accepted or rejected is the library's business.
//!
//! `fuzz/README.md` says how a crash found by `cargo fuzz` becomes a file here.

#[allow(unreachable_pub, dead_code)]
#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::fs;
use std::path::{Path, PathBuf};

use checks::{
    evm_genesis_verifier, fuzz_decode, fuzz_job, fuzz_verify, genesis_verifier, verify_block,
};
use witness_format::{Allocation, Block, Genesis, TransactionBatch};

/// Every fuzz target, as named in `fuzz/Cargo.toml`.
const TARGETS: [&str; 7] = [
    "decode_genesis",
    "decode_block",
    "decode_allocation",
    "decode_batch",
    "decode_job",
    "verify_block",
    "verify_evm_block",
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files directly in `dir`, sorted; none if it does not exist.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("read a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs what fuzz target `target` runs on `bytes`; whether the input was accepted as it is
/// (decoded and, for `verify_block`, verified).
fn replay(target: &str, bytes: &[u8]) -> bool {
    match target {
        "decode_genesis" => fuzz_decode::<Genesis>(bytes),
        "decode_block" => fuzz_decode::<Block>(bytes),
        "decode_allocation" => fuzz_decode::<Allocation>(bytes),
        "decode_batch" => fuzz_decode::<TransactionBatch>(bytes),
        "decode_job" => fuzz_job(bytes),
        "verify_block" => fuzz_verify(&genesis_verifier(), bytes),
        "verify_evm_block" => fuzz_verify(&evm_genesis_verifier(), bytes),
        other => panic!("no fuzz target named {other}"),
    }
}

#[test]
fn seeds_are_accepted_by_their_targets() {
    let seeds = fuzz_dir().join("seeds");
    let stray = files_in(&seeds);
    assert!(
        stray.is_empty(),
        "files outside a target's seed folder: {stray:?}"
    );
    let mut replayed = 0;
    for target in TARGETS {
        let files = files_in(&seeds.join(target));
        assert!(!files.is_empty(), "no seeds for fuzz target {target}");
        for file in files {
            let bytes = fs::read(&file).expect("read a seed");
            if !replay(target, &bytes) {
                // Say why: the decoder's or the verifier's reason.
                let reason = if target == "verify_block" {
                    format!("{:?}", verify_block(&genesis_verifier(), &bytes))
                } else if target == "verify_evm_block" {
                    format!("{:?}", verify_block(&evm_genesis_verifier(), &bytes))
                } else {
                    String::from("it does not decode")
                };
                panic!(
                    "seed {} is rejected by {target} ({reason}); regenerate the seeds with \
                     `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`",
                    file.display()
                );
            }
            replayed += 1;
        }
    }
    assert!(replayed >= TARGETS.len(), "replayed {replayed} seeds");
}

#[test]
fn seed_folders_are_named_after_targets() {
    let entries = fs::read_dir(fuzz_dir().join("seeds")).expect("fuzz/seeds exists");
    for entry in entries {
        let name = entry.expect("read a directory entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            TARGETS.contains(&name.as_ref()),
            "fuzz/seeds/{name} is named after no fuzz target"
        );
    }
}

#[test]
fn regressions_replay_without_panicking() {
    let mut replayed = 0;
    for file in files_in(&fuzz_dir().join("regressions")) {
        let name = file
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        let Some(stem) = name.strip_suffix(".bin") else {
            // README.md and the like.
            continue;
        };
        let target = TARGETS
            .into_iter()
            .find(|target| {
                stem.strip_prefix(target)
                    .is_some_and(|rest| rest.starts_with('-'))
            })
            .unwrap_or_else(|| panic!("fuzz/regressions/{name} is not named <target>-<name>.bin"));
        let bytes = fs::read(&file).expect("read a regression input");
        // Catch the panic so that the failure names the input; the panic's own message and
        // location are printed above it.
        let outcome = std::panic::catch_unwind(|| replay(target, &bytes));
        assert!(
            outcome.is_ok(),
            "fuzz/regressions/{name} panics in {target} again"
        );
        replayed += 1;
    }
    println!("replayed {replayed} fuzz regression inputs");
}
