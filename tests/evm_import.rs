//! `stateless evm import` then `stateless verify` on the real Holesky blocks of
//! `../shared/fixtures/real-blocks/` (provenance in its README): they verify, an unused extra
//! node changes nothing, and each tampering is exit 1 with one line naming the block and the
//! reason. Without the fixtures this test skips, except under CI (`CI=true`), where their
//! absence fails it.

mod common;

use std::path::{Path, PathBuf};

use alloy_consensus::{Block, TxEnvelope};
use alloy_rlp::{Decodable, Encodable};
use common::{block_file, ok, path, stateless, stderr};
use serde_json::{Value, json};
use witness_format::{Witness, decode_file, encode_file};

fn fixture(name: &str) -> Option<Value> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/real-blocks")
        .join(name);
    let Ok(text) = std::fs::read_to_string(&file) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing under CI",
            file.display()
        );
        eprintln!("skipping: {} is missing", file.display());
        return None;
    };
    Some(serde_json::from_str(&text).expect("JSON"))
}

fn unhex(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex").trim_start_matches("0x")).expect("hex")
}

fn block_of(input: &Value) -> Block<TxEnvelope> {
    Block::decode(&mut unhex(&input["blocks"][0]["rlp"]).as_slice()).expect("a block")
}

fn set_block(input: &mut Value, block: &Block<TxEnvelope>) {
    let mut rlp = Vec::new();
    block.encode(&mut rlp);
    input["blocks"][0]["rlp"] = json!(format!("0x{}", hex::encode(rlp)));
}

/// Imports `input` into `dir/chain`; the chain directory.
fn import(dir: &Path, input: &Value) -> PathBuf {
    let file = dir.join("input.json");
    std::fs::write(&file, serde_json::to_vec(input).unwrap()).unwrap();
    let chain = dir.join("chain");
    ok(
        &stateless(&["evm", "import", path(&file), "--out", path(&chain)]),
        "import",
    );
    chain
}

/// Verifying the chain is rejected: exit 1, one line naming block 1 and containing `reason`.
fn assert_rejected(chain: &Path, reason: &str, what: &str) {
    let out = stateless(&["verify", path(chain)]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
    assert!(err.contains("block 1, blob 0: "), "{what}: {err}");
    assert!(err.contains(reason), "{what}: expected {reason:?} in {err}");
}

#[test]
fn real_blocks_import_and_verify_and_report_each_block() {
    for name in ["holesky-2927143.json", "holesky-2971844.json"] {
        let Some(input) = fixture(name) else { return };
        let dir = tempfile::tempdir().unwrap();
        let chain = import(dir.path(), &input);
        let out = ok(&stateless(&["verify", path(&chain), "--json"]), name);
        let report: Value = serde_json::from_str(&out).unwrap();
        let header = block_of(&input).header;
        assert_eq!(report["valid"], true, "{name}");
        let reported = &report["evm_blocks"][0];
        assert_eq!(reported["number"], header.number, "{name}");
        assert_eq!(reported["hash"], header.hash_slow().to_string(), "{name}");
        assert_eq!(
            reported["state_root"],
            header.state_root.to_string(),
            "{name}"
        );
        assert_eq!(report["state_roots"][0]["model"], "evm");
        // The fixtures' anchors carry no header: verify says what it could not check.
        assert!(
            report["notes"][0]
                .as_str()
                .unwrap()
                .contains("carries no header"),
            "{report}"
        );
    }
}

#[test]
fn an_unused_extra_node_still_verifies() {
    let Some(mut input) = fixture("holesky-2971844.json") else {
        return;
    };
    // A well-formed leaf node no path of this block reaches.
    let stray = {
        let mut node = Vec::new();
        vec![vec![0x20u8, 0x01], vec![0x2a]].encode(&mut node);
        node
    };
    input["blocks"][0]["witness"]["state"]
        .as_array_mut()
        .unwrap()
        .push(json!(format!("0x{}", hex::encode(stray))));
    let dir = tempfile::tempdir().unwrap();
    let chain = import(dir.path(), &input);
    ok(&stateless(&["verify", path(&chain)]), "an extra node");
}

#[test]
fn tampered_real_blocks_are_rejected_naming_block_and_reason() {
    let Some(input) = fixture("holesky-2971844.json") else {
        return;
    };
    let tampered = |change: &dyn Fn(&mut Value), reason: &str, what: &str| {
        let mut copy = input.clone();
        change(&mut copy);
        let dir = tempfile::tempdir().unwrap();
        let chain = import(dir.path(), &copy);
        assert_rejected(&chain, reason, what);
    };
    let root = unhex(&input["anchor"]["state_root"]);
    tampered(
        &|input| {
            let nodes = input["blocks"][0]["witness"]["state"]
                .as_array_mut()
                .unwrap();
            // The account trie's root node: every read needs it.
            let at = nodes
                .iter()
                .position(|n| verifier::mpt::keccak(&unhex(n)).as_slice() == root.as_slice())
                .expect("the root node is in the witness");
            nodes.remove(at);
        },
        "the witness lacks trie node",
        "a dropped needed node",
    );
    tampered(
        &|input| input["blocks"][0]["witness"]["codes"] = json!([]),
        "the witness lacks the code of hash",
        "a dropped code",
    );
    tampered(
        &|input| input["anchor"]["state_root"] = json!(format!("0x{}", "11".repeat(32))),
        "the witness lacks trie node 0x1111111111111111111111111111111111111111111111111111111111111111 (the root)",
        "a wrong anchor state root",
    );
    let header_change = |field: &'static str, change: fn(&mut alloy_consensus::Header)| {
        tampered(
            &|input| {
                let mut block = block_of(input);
                change(&mut block.header);
                set_block(input, &block);
            },
            &format!("{field}: the header has"),
            field,
        );
    };
    header_change("state root", |h| h.state_root.0[0] ^= 1);
    header_change("gas used", |h| h.gas_used -= 1);
    header_change("receipts root", |h| h.receipts_root.0[0] ^= 1);
    tampered(
        &|input| {
            let mut block = block_of(input);
            block.body.transactions.swap(0, 1);
            set_block(input, &block);
        },
        "nonce 6474 too high, expected 6473",
        "swapped transactions",
    );

    // A wrong ancestor hash in the block's witness: the chain knows better.
    let dir = tempfile::tempdir().unwrap();
    let chain = import(dir.path(), &input);
    let file = block_file(&chain, 1);
    let mut block: witness_format::Block = decode_file(&std::fs::read(&file).unwrap()).unwrap();
    let Witness::Evm(witness) = &mut block.blobs[0].witness else {
        panic!("an evm blob");
    };
    witness.ancestor_hashes[1].0[0] ^= 1;
    std::fs::write(&file, encode_file(&block)).unwrap();
    assert_rejected(
        &chain,
        "ancestor hash 1 (block 2971842)",
        "a wrong ancestor hash",
    );
}
