//! One chain hosting both models, through the CLI: `gen --model both`, `zk setup`, `prove
//! --witness zk` (zk proofs for `zk-transfer` blobs, Merkle witnesses for `transfer` blobs in
//! the same blocks), `verify`; and the workload mistakes `prove` refuses. Tiny shapes: depth 4,
//! batch 2.

mod common;

use common::{block_file, gen_tiny, ok, path, prove_workload, stateless, stderr, zk_setup_tiny};

use std::path::Path;

use witness_format::{Block, Genesis, Model, TransactionBatch, decode_file, encode_file};

fn gen_both(workload: &Path, exit_percent: &str) {
    gen_tiny("both", "2", workload, &["--exit-percent", exit_percent]);
}

#[test]
fn both_models_prove_and_verify_end_to_end_with_zk_witnesses() {
    let dir = tempfile::tempdir().unwrap();
    let (workload, db, chain, keys) = (
        dir.path().join("w"),
        dir.path().join("p.redb"),
        dir.path().join("c"),
        dir.path().join("keys"),
    );
    gen_both(&workload, "0");
    for model in Model::NUMBERED {
        let batch: TransactionBatch = decode_file(
            &std::fs::read(workload.join(model.name()).join("blocks/00000001.bin")).unwrap(),
        )
        .unwrap();
        assert_eq!((batch.model, batch.transactions.len()), (model, 2));
    }
    zk_setup_tiny(&keys, "1");
    prove_workload(
        &workload,
        &db,
        &chain,
        &["--witness", "zk", "--keys", path(&keys)],
    );
    let genesis: Genesis = decode_file(&std::fs::read(chain.join("genesis.bin")).unwrap()).unwrap();
    let models: Vec<Model> = genesis.state_roots.iter().map(|r| r.model).collect();
    assert_eq!(models, Model::NUMBERED);
    for height in 1..=2 {
        let file = block_file(&chain, height);
        let block: Block = decode_file(&std::fs::read(file).unwrap()).unwrap();
        let kinds: Vec<(Model, &str)> = block
            .blobs
            .iter()
            .map(|b| (b.model, b.witness.kind_name()))
            .collect();
        assert_eq!(
            kinds,
            [(Model::Transfer, "merkle"), (Model::ZkTransfer, "zk")]
        );
    }
    let out = stateless(&["verify", "--json", path(&chain)]);
    let report: serde_json::Value = serde_json::from_str(&ok(&out, "verify")).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["blobs"], 4);
    assert_eq!(report["txs"], 8);
    let roots = report["state_roots"].as_array().unwrap();
    assert_eq!(roots.len(), 2);
    assert_eq!(roots[0]["model"], "transfer");
    assert_eq!(roots[1]["model"], "zk-transfer");

    // The zk blob's proof checks the zk-transfer state only: swap the two blobs' roots and the
    // chain is rejected.
    let file = chain.join("blocks/00000002.bin");
    let mut block: Block = decode_file(&std::fs::read(&file).unwrap()).unwrap();
    let zk_blob = &mut block.blobs[1];
    std::mem::swap(&mut zk_blob.pre_state_root, &mut zk_blob.post_state_root);
    std::fs::write(&file, encode_file(&block)).unwrap();
    let out = stateless(&["verify", path(&chain)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("block 2, blob 1"), "{}", stderr(&out));
}

#[test]
fn prove_refuses_workloads_that_do_not_make_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let workload = dir.path().join("w");
    gen_both(&workload, "50");
    let prove = |name: &str| {
        stateless(&[
            "prove",
            "--workload",
            path(&workload),
            "--db",
            path(&dir.path().join(format!("{name}.redb"))),
            "--out",
            path(&dir.path().join(name)),
        ])
    };
    // A batch file in the wrong model's directory: checked input, exit 1.
    let transfer_batch = workload.join("transfer/blocks/00000002.bin");
    let zk_batch = workload.join("zk-transfer/blocks/00000002.bin");
    let saved = std::fs::read(&transfer_batch).unwrap();
    std::fs::copy(&zk_batch, &transfer_batch).unwrap();
    let out = prove("swapped");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("transactions for zk-transfer, in the transfer directory"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&transfer_batch, saved).unwrap();

    // Allocations of two chains: exit 2, nothing built.
    let transfer_allocation = workload.join("transfer/allocation.bin");
    let saved = std::fs::read(&transfer_allocation).unwrap();
    let other = dir.path().join("other");
    ok(
        &stateless(&[
            "gen",
            "--model",
            "transfer",
            "--depth",
            "4",
            "--chain-id",
            "8",
            "--accounts",
            "6",
            "--blocks",
            "1",
            "--out",
            path(&other),
        ]),
        "gen",
    );
    std::fs::copy(other.join("transfer/allocation.bin"), &transfer_allocation).unwrap();
    let out = prove("chains");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("for chain 7"), "{}", stderr(&out));
    std::fs::write(&transfer_allocation, saved).unwrap();

    // No model directory at all.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = stateless(&[
        "prove",
        "--workload",
        path(&empty),
        "--db",
        path(&dir.path().join("e.redb")),
        "--out",
        path(&dir.path().join("e")),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has no model directory"),
        "{}",
        stderr(&out)
    );

    // Restored, the workload proves (Merkle witnesses for both models) and verifies.
    let out = prove("good");
    ok(&out, "prove");
    ok(
        &stateless(&["verify", path(&dir.path().join("good"))]),
        "verify",
    );
}
