//! The CLI contract: exit codes, JSON keys, one-line rejections, and a prover that resumes.

mod common;

use common::{path, stateless};

use std::path::Path;

/// Generates a tiny workload and proves it; returns the chain directory.
fn small_chain(dir: &Path) -> std::path::PathBuf {
    let (workload, db, chain) = (dir.join("w"), dir.join("p.redb"), dir.join("c"));
    let out = stateless(&[
        "gen",
        "--out",
        path(&workload),
        "--accounts",
        "64",
        "--blocks",
        "3",
        "--txs-per-block",
        "20",
    ]);
    assert!(
        out.status.success(),
        "gen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = stateless(&[
        "prove",
        "--workload",
        path(&workload),
        "--db",
        path(&db),
        "--out",
        path(&chain),
        "--txs-per-blob",
        "8",
    ]);
    assert!(
        out.status.success(),
        "prove: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    chain
}

#[test]
fn honest_chain_verifies_with_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let chain = small_chain(dir.path());
    let out = stateless(&["verify", path(&chain), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["blocks"], 3);
    assert_eq!(report["txs"], 60);
    assert!(
        report["blobs"].as_u64().unwrap() >= 9,
        "20 txs in blobs of 8 make 3 blobs a block"
    );
    assert!(report["witness_bytes_per_tx"].as_f64().unwrap() > 0.0);
    assert!(report["verify_tx_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn one_thread_and_many_agree() {
    let dir = tempfile::tempdir().unwrap();
    let chain = small_chain(dir.path());
    let summary = |threads: &str| {
        let out = stateless(&["verify", path(&chain), "--json", "--threads", threads]);
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for timing in ["seconds", "verify_tx_per_s", "threads", "peak_memory_bytes"] {
            v.as_object_mut().unwrap().remove(timing);
        }
        v
    };
    assert_eq!(summary("1"), summary("4"));
}

#[test]
fn tampered_block_exits_1_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let chain = small_chain(dir.path());
    let block = chain.join("blocks").join("00000002.bin");
    let mut bytes = std::fs::read(&block).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01; // the last carried sibling hash of the last blob
    std::fs::write(&block, bytes).unwrap();
    let out = stateless(&["verify", path(&chain)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("block 2") && lines[0].contains("blob 2"),
        "{stderr}"
    );
    assert!(lines[0].contains("pre-state root"), "{stderr}");
}

#[test]
fn truncated_block_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let chain = small_chain(dir.path());
    let block = chain.join("blocks").join("00000003.bin");
    let bytes = std::fs::read(&block).unwrap();
    std::fs::write(&block, &bytes[..bytes.len() / 2]).unwrap();
    let out = stateless(&["verify", path(&chain)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("00000003.bin"));
}

#[test]
fn missing_directory_and_bad_flag_exit_2() {
    let out = stateless(&["verify", "/nonexistent/chain"]);
    assert_eq!(out.status.code(), Some(2));
    let out = stateless(&["verify", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn inspect_prints_json_of_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let chain = small_chain(dir.path());
    let out = stateless(&[
        "inspect",
        path(&chain.join("blocks/00000001.bin")),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let block: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(block["header"]["height"], 1);
    assert_eq!(block["blobs"][0]["model"], "transfer");
    let out = stateless(&["inspect", path(&chain.join("genesis.bin"))]);
    assert_eq!(out.status.code(), Some(0));
    let genesis: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(genesis["tree_depth"], 32);
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"not a file of ours").unwrap();
    assert_eq!(stateless(&["inspect", path(&junk)]).status.code(), Some(1));
}

#[test]
fn prove_resumes_and_reproduces_the_same_chain() {
    let dir = tempfile::tempdir().unwrap();
    let chain = small_chain(dir.path());
    let first: Vec<Vec<u8>> = (1..=3)
        .map(|h| std::fs::read(chain.join(format!("blocks/{h:08}.bin"))).unwrap())
        .collect();
    // Lose an exported file and run again on the same database: it is rewritten identically
    // from the database, and nothing is built twice.
    std::fs::remove_file(chain.join("blocks/00000002.bin")).unwrap();
    let out = stateless(&[
        "prove",
        "--workload",
        path(&dir.path().join("w")),
        "--db",
        path(&dir.path().join("p.redb")),
        "--out",
        path(&chain),
        "--txs-per-blob",
        "8",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("built 0 blocks"));
    for (h, bytes) in (1..=3).zip(&first) {
        assert_eq!(
            &std::fs::read(chain.join(format!("blocks/{h:08}.bin"))).unwrap(),
            bytes
        );
    }
    // A fresh database over the same workload builds the same bytes.
    let chain2 = dir.path().join("c2");
    let out = stateless(&[
        "prove",
        "--workload",
        path(&dir.path().join("w")),
        "--db",
        path(&dir.path().join("p2.redb")),
        "--out",
        path(&chain2),
        "--txs-per-blob",
        "8",
    ]);
    assert!(out.status.success());
    for (h, bytes) in (1..=3).zip(&first) {
        assert_eq!(
            &std::fs::read(chain2.join(format!("blocks/{h:08}.bin"))).unwrap(),
            bytes
        );
    }
}

#[test]
fn demo_json_has_the_promised_keys() {
    let out = stateless(&[
        "demo",
        "--json",
        "--accounts",
        "256",
        "--blocks",
        "2",
        "--txs-per-block",
        "64",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "valid",
        "blocks",
        "blobs",
        "txs",
        "witness_bytes_per_tx",
        "verify_tx_per_s",
    ] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
    assert_eq!(report["valid"], true);
    assert_eq!(report["txs"], 128);
    // The round trip: out of transfer, credited in zk-transfer, part of it on to evm, paid in
    // there, part of that back to transfer, credited.
    let trip = &report["round_trip"];
    assert_eq!(trip["valid"], true, "{trip}");
    assert_eq!(trip["value_conserved"], true);
    assert_eq!(trip["blocks"], 4);
    let steps = trip["steps"].as_array().unwrap();
    let column = |key: &str| -> Vec<i128> {
        steps
            .iter()
            .map(|s| s[key].as_i64().unwrap() as i128 - steps[0][key].as_i64().unwrap() as i128)
            .collect()
    };
    assert_eq!(
        column("transfer_balance"),
        [0, -250_000, -250_000, -250_000, -210_000]
    );
    assert_eq!(
        column("zk_transfer_balance"),
        [0, 0, 150_000, 150_000, 150_000]
    );
    assert_eq!(column("in_flight"), [0, 250_000, 100_000, 40_000, 0]);
    // The evm account: +100,000 gwei paid in, -40,000 gwei sent back, less its gas fees.
    let wei = |s: &serde_json::Value, key: &str| s[key].as_str().unwrap().parse::<u128>().unwrap();
    let (first, last) = (&steps[0], &steps[4]);
    assert_eq!(
        wei(last, "evm_balance_wei") + wei(last, "evm_fees_wei"),
        wei(first, "evm_balance_wei") + 60_000 * 1_000_000_000
    );
    assert!(wei(last, "evm_fees_wei") > 0, "an exit from evm pays gas");
    for (step, event) in [
        (2, "zk-transfer #2 credited 250000"),
        (3, "evm #0 paid in 100000 gwei"),
        (4, "transfer #1 credited 40000"),
    ] {
        assert!(
            steps[step]["event"].as_str().unwrap().contains(event),
            "{}",
            steps[step]["event"]
        );
    }
}

/// `bench --json` reports the main figures, the prover database's growth per transaction among
/// them, each a positive number.
#[test]
fn bench_json_reports_the_database_growth_per_transaction() {
    let out = stateless(&[
        "bench",
        "--quick",
        "--json",
        "--accounts",
        "4096",
        "--txs-per-blob",
        "64",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "verify_tx_per_s",
        "prove_tx_per_s",
        "floor_ratio",
        "thread_speedup",
        "db_bytes_per_tx",
        "history_bytes_per_tx",
    ] {
        let value = report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {report}"));
        assert!(value.is_finite() && value > 0.0, "{key} = {value}");
    }
}
