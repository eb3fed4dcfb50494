//! `stateless verify` streams a chain: its memory is bounded by the window of blocks it holds,
//! not by the length of the chain.

mod common;

use common::{path, stateless};

use std::path::Path;

/// Verifies with a window of 4 blocks; returns (blocks, peak memory bytes).
fn verify(chain: &Path) -> (u64, u64) {
    let out = stateless(&[
        "verify",
        path(chain),
        "--json",
        "--window",
        "4",
        "--threads",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["verify_tx_per_s"].as_f64().unwrap() > 0.0);
    (
        report["blocks"].as_u64().unwrap(),
        report["peak_memory_bytes"]
            .as_u64()
            .expect("peak memory is reported on Linux"),
    )
}

#[test]
fn memory_is_bounded_by_the_window_not_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (workload, chain) = (dir.path().join("w"), dir.path().join("long"));
    let out = stateless(&[
        "gen",
        "--out",
        path(&workload),
        "--accounts",
        "4096",
        "--blocks",
        "240",
        "--txs-per-block",
        "32",
    ]);
    assert!(out.status.success());
    let out = stateless(&[
        "prove",
        "--workload",
        path(&workload),
        "--db",
        path(&dir.path().join("db")),
        "--out",
        path(&chain),
        "--txs-per-blob",
        "32",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same chain cut to its first 24 blocks: a tenth of the data.
    let short = dir.path().join("short");
    std::fs::create_dir_all(short.join("blocks")).unwrap();
    std::fs::copy(chain.join("genesis.bin"), short.join("genesis.bin")).unwrap();
    let mut chain_bytes = 0u64;
    for height in 1..=240u64 {
        let name = format!("blocks/{height:08}.bin");
        chain_bytes += std::fs::metadata(chain.join(&name)).unwrap().len();
        if height <= 24 {
            std::fs::copy(chain.join(&name), short.join(&name)).unwrap();
        }
    }

    let (long_blocks, long_peak) = verify(&chain);
    let (short_blocks, short_peak) = verify(&short);
    assert_eq!((long_blocks, short_blocks), (240, 24));
    // Holding the whole chain would add at least nine tenths of its bytes to the peak.
    let growth = long_peak.saturating_sub(short_peak);
    assert!(
        growth < chain_bytes / 4,
        "peak grew by {growth} bytes for a chain of {chain_bytes} bytes ({long_peak} vs {short_peak})"
    );
}
