//! `stateless bench --zk`: the report of `prover::bench::zk`, as a table.

use prover::bench::zk::{ZkReport, goals};

/// The report as a table on stdout.
pub(super) fn print_table(r: &ZkReport) {
    let yes = |met: bool| if met { "yes" } else { "no" };
    outln!(
        "zk-transfer, depth {}, batch {}, {} accounts, {} threads; medians of {} proofs, \
         {} verification rounds of {} blobs",
        r.depth,
        r.batch,
        r.accounts,
        r.threads,
        r.proofs,
        r.repetitions,
        r.verify_blobs
    );
    outln!("{:<26} {:>14}  {:<30} met", "key", "value", "goal");
    let rows = [
        (
            "zk_constraints_per_tx",
            r.zk_constraints_per_tx,
            format!("<= {}", goals::CONSTRAINTS_PER_TX),
            Some(r.goals_met.zk_constraints_per_tx),
        ),
        (
            "zk_prove_s_per_tx",
            r.zk_prove_s_per_tx,
            String::new(),
            None,
        ),
        (
            "zk_prove_overhead",
            r.zk_prove_overhead,
            format!("<= {}", goals::PROVE_OVERHEAD),
            Some(r.goals_met.zk_prove_overhead),
        ),
        (
            "zk_bytes_per_tx",
            r.zk_bytes_per_tx,
            format!("<= {} x merkle_bytes_per_tx", goals::BYTES_SHARE),
            Some(r.goals_met.zk_bytes_per_tx),
        ),
        (
            "merkle_bytes_per_tx",
            r.merkle_bytes_per_tx,
            String::new(),
            None,
        ),
        (
            "zk_verify_tx_per_s",
            r.zk_verify_tx_per_s,
            ">= transfer_verify_tx_per_s".into(),
            Some(r.goals_met.zk_verify_tx_per_s),
        ),
        (
            "transfer_verify_tx_per_s",
            r.transfer_verify_tx_per_s,
            String::new(),
            None,
        ),
        (
            "zk_over_transfer_verify",
            r.zk_over_transfer_verify,
            "(median of each round's ratio)".into(),
            None,
        ),
        (
            "zk_merkle_verify_tx_per_s",
            r.zk_merkle_verify_tx_per_s,
            String::new(),
            None,
        ),
        ("zk_prove_s", r.zk_prove_s, String::new(), None),
        ("baseline_prove_s", r.baseline_prove_s, String::new(), None),
    ];
    for (key, value, goal, met) in rows {
        outln!(
            "{key:<26} {value:>14.3}  {goal:<30} {}",
            met.map(yes).unwrap_or("")
        );
    }
    let mib = |bytes: Option<u64>| bytes.map_or("n/a".to_string(), |b| format!("{} MiB", b >> 20));
    let setup = r
        .setup_s
        .map_or("keys loaded".to_string(), |s| format!("{s:.1} s"));
    outln!(
        "setup: {setup}, peak memory {}; proving peak memory {}; baseline setup {:.1} s",
        mib(r.setup_peak_memory_bytes),
        mib(r.prove_peak_memory_bytes),
        r.baseline_setup_s
    );
}
