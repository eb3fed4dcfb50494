//! Ethereum's own test suite (the `BlockchainTests` subset in
//! `../shared/fixtures/ethereum-tests/`, provenance in its README) through our prover and
//! verifier: every test passes but a short, documented skip list; and the prover's witnesses
//! are minimal: on a sample of tests, removing any one node or code a block's witness carries
//! makes the chain verifier reject that block for the missing piece. Without the fixtures these
//! tests skip, except under CI (`CI=true`), where their absence fails them.

use std::path::PathBuf;

use prover::ef_test::{SKIPPED_FILES, TestOutcome, proven_chains, run_paths};
use verifier::ChainVerifier;
use verifier::evm::{EvmError, WitnessError};
use verifier::{Reason, VerifyError};
use witness_format::{Block, Witness};

fn suite() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/ethereum-tests/BlockchainTests");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing under CI",
        dir.display()
    );
    eprintln!("skipping: {} is missing", dir.display());
    None
}

#[test]
fn the_shared_ethereum_tests_pass_through_prover_and_verifier() {
    let Some(dir) = suite() else { return };
    let results = run_paths(&[dir]).expect("read the suite");
    let mut passed = 0;
    let mut failures = Vec::new();
    for result in &results {
        match &result.outcome {
            TestOutcome::Passed => passed += 1,
            TestOutcome::Failed(reason) => failures.push(format!(
                "{} {}: {reason}",
                result.file.display(),
                result.name
            )),
            TestOutcome::Skipped(reason) => {
                // Only the documented skips: pre-merge networks and the listed files.
                let stem = result.file.file_stem().unwrap().to_string_lossy();
                let listed = SKIPPED_FILES.iter().any(|(name, _)| *name == stem);
                assert!(
                    listed || reason.contains("forks before Cancun"),
                    "{}: skipped for {reason}",
                    result.file.display()
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The subset holds about 2,700 tests: a run that found few did not run the suite.
    assert!(passed >= 2_600, "only {passed} tests passed");
}

/// A block's witness with one node or code left out.
fn without(block: &Block, node: Option<usize>, code: Option<usize>) -> Block {
    let mut block = block.clone();
    let Witness::Evm(witness) = &mut block.blobs[0].witness else {
        panic!("an evm blob");
    };
    if let Some(i) = node {
        let mut nodes = witness.nodes.to_vec();
        nodes.remove(i);
        witness.nodes = nodes.try_into().unwrap();
    }
    if let Some(i) = code {
        let mut codes = witness.codes.to_vec();
        codes.remove(i);
        witness.codes = codes.try_into().unwrap();
    }
    block
}

fn is_missing(error: &VerifyError) -> bool {
    matches!(&error.reason, Reason::Evm(e) if matches!(
        **e,
        EvmError::Witness(
            WitnessError::Account { .. } | WitnessError::Storage { .. } | WitnessError::MissingCode(_)
        )
    ))
}

#[test]
fn prover_witnesses_are_minimal_on_a_sample() {
    let Some(dir) = suite() else { return };
    let sample = [
        "ValidBlocks/bcStateTests/suicideStorageCheck.json",
        "ValidBlocks/bcStateTests/refundReset.json",
        "ValidBlocks/bcStateTests/blockhashTests.json",
        "ValidBlocks/bcWalletTest/wallet2outOf3txs.json",
        "GeneralStateTests/stSStoreTest/sstore_0to0.json",
    ];
    let mut removals = 0;
    for file in sample {
        let chains = proven_chains(&dir.join(file)).expect("the sample runs");
        assert!(!chains.is_empty(), "{file}: no test passed");
        for (name, chain) in chains {
            let mut verifier = ChainVerifier::new(&chain.genesis).unwrap();
            for (height, block) in (1..).zip(&chain.blocks) {
                let Witness::Evm(witness) = &block.blobs[0].witness else {
                    panic!("an evm blob");
                };
                let drops = (0..witness.nodes.len())
                    .map(|i| (Some(i), None))
                    .chain((0..witness.codes.len()).map(|i| (None, Some(i))));
                for (node, code) in drops {
                    let error = verifier
                        .clone()
                        .verify_blocks(&[without(block, node, code)])
                        .expect_err("a witness without one of its pieces is rejected");
                    assert!(
                        is_missing(&error),
                        "{file} {name}, block {height}, dropping node {node:?} code {code:?}: \
                         {error}"
                    );
                    removals += 1;
                }
                verifier
                    .verify_blocks(std::slice::from_ref(block))
                    .unwrap_or_else(|e| panic!("{file} {name}: {e}"));
            }
        }
    }
    assert!(removals >= 50, "only {removals} removals tried");
}

#[test]
fn ef_test_cli_counts_and_fails_a_tampered_test() {
    let Some(dir) = suite() else { return };
    let file = dir.join("ValidBlocks/bcStateTests/refundReset.json");
    let run = |path: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_stateless"))
            .args(["evm", "ef-test", path.to_str().unwrap(), "--json"])
            .output()
            .unwrap()
    };
    let out = run(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["passed"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["failed"], 0, "{report}");

    // The same test expecting another last block: it fails, exit 1, and the report says why.
    let mut tests: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for test in tests.as_object_mut().unwrap().values_mut() {
        test["lastblockhash"] = serde_json::json!(format!("0x{}", "ab".repeat(32)));
    }
    let tmp = tempfile::tempdir().unwrap();
    let tampered = tmp.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&tests).unwrap()).unwrap();
    let out = run(&tampered);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], 0, "{report}");
    assert!(
        report["failures"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("the chain ends at"),
        "{report}"
    );
}
