//! `stateless bench --zk`: the quick run reports every key with a sane value, and its flags are
//! checked before any work.

mod common;

use common::{path, stateless};
use serde_json::Value;
use verifier::zk_transfer::groth16::PROOF_BYTES;

/// The keys of the benchmark issue, then the figures they are computed from.
const KEYS: [&str; 13] = [
    "zk_constraints_per_tx",
    "zk_prove_s_per_tx",
    "zk_verify_tx_per_s",
    "zk_bytes_per_tx",
    "merkle_bytes_per_tx",
    "zk_prove_overhead",
    "transfer_verify_tx_per_s",
    "zk_over_transfer_verify",
    "zk_merkle_verify_tx_per_s",
    "zk_prove_s",
    "baseline_prove_s",
    "baseline_setup_s",
    "setup_s",
];

fn number(report: &Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {report}"))
}

#[test]
fn bench_zk_quick_reports_every_key() {
    let out = stateless(&["bench", "--zk", "--quick", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    for key in KEYS {
        let value = number(&report, key);
        assert!(value.is_finite() && value > 0.0, "{key} = {value}");
    }

    // The per-transaction figures are the batch's, divided by its size.
    let batch = number(&report, "batch");
    assert!(batch >= 1.0);
    assert_eq!(
        number(&report, "zk_constraints_per_tx") * batch,
        number(&report, "constraints")
    );
    let per_batch = number(&report, "zk_prove_s_per_tx") * batch;
    assert!((per_batch - number(&report, "zk_prove_s")).abs() < 1e-9 * per_batch.max(1.0));
    let overhead = number(&report, "zk_prove_s") / number(&report, "baseline_prove_s");
    assert!((overhead - number(&report, "zk_prove_overhead")).abs() < 1e-9);
    // A zk witness is one proof (and its union tag), whatever the batch.
    let zk_bytes = number(&report, "zk_bytes_per_tx") * batch;
    assert!(
        zk_bytes >= PROOF_BYTES as f64 && zk_bytes < PROOF_BYTES as f64 + 8.0,
        "{zk_bytes}"
    );
    assert!(number(&report, "witness_variables") > 0.0);

    // Each goal's verdict is its comparison.
    let met = &report["goals_met"];
    assert_eq!(
        met["zk_constraints_per_tx"].as_bool(),
        Some(number(&report, "zk_constraints_per_tx") <= 40_000.0)
    );
    assert_eq!(
        met["zk_verify_tx_per_s"].as_bool(),
        Some(number(&report, "zk_verify_tx_per_s") >= number(&report, "transfer_verify_tx_per_s"))
    );
    assert_eq!(
        met["zk_bytes_per_tx"].as_bool(),
        Some(number(&report, "zk_bytes_per_tx") <= 0.1 * number(&report, "merkle_bytes_per_tx"))
    );
    assert_eq!(met["zk_prove_overhead"].as_bool(), Some(overhead <= 1.15));

    // Peak memory per phase, where the platform can reset the peak.
    if cfg!(target_os = "linux") {
        for key in ["setup_peak_memory_bytes", "prove_peak_memory_bytes"] {
            assert!(number(&report, key) > 0.0, "{key}");
        }
    }
    assert!(stderr.contains("bench --zk"), "progress goes to stderr");
}

#[test]
fn bench_zk_flags_are_checked_first() {
    // zk-only flags without --zk.
    let out = stateless(&["bench", "--depth", "8"]);
    assert_eq!(out.status.code(), Some(2));

    // Keys for another shape than the one asked for: refused before any work.
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let setup = stateless(&[
        "zk",
        "setup",
        "--depth",
        "6",
        "--batch",
        "1",
        "--seed",
        "1",
        "--out",
        path(&keys),
    ]);
    assert!(setup.status.success());
    // `bench --zk --quick --depth 6` with `extra` flags: refused before any work, saying `why`.
    let refused = |extra: &[&str], why: &str| {
        let mut args = vec!["bench", "--zk", "--quick", "--depth", "6"];
        args.extend_from_slice(extra);
        let out = stateless(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{extra:?}: {stderr}");
        assert!(out.stdout.is_empty());
    };
    refused(
        &["--batch", "2", "--keys", path(&keys)],
        "holds keys for depth 6, batch 1",
    );
    // The right shape, but shared levels other than the keys'.
    refused(
        &[
            "--batch",
            "1",
            "--shared-levels",
            "2",
            "--keys",
            path(&keys),
        ],
        "holds keys with 0 shared levels",
    );
    // Keys generated here with shared levels that leave no path.
    refused(&["--shared-levels", "6"], "6 shared levels leave no path");
}
