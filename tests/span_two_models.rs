//! Span validity on a chain of both models with exits and credits, and its invariant: for
//! every chain, span validity says valid only if `verify` says valid.
//!
//! The chain (depth 4, batch 2, four blocks, half the transfers exits) has `zk-transfer`
//! blobs with proofs and, where they exit or credit, without: its span has proven and executed
//! steps. Each tampering of a `zk-transfer` blob below is applied to a copy, the headers are
//! re-linked as someone rewriting the chain would ([`common::reseal`]), and then both `verify`
//! and span validity (the span built from the tampered chain by the library's builder) must
//! reject it.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::{block_file, gen_tiny, ok, path, prove_workload, reseal, stateless, zk_setup_tiny};
use prover::SpanBuilder;
use prover::zk::groth16::VerifyingKey;
use verifier::zk_transfer::groth16::{ZkVerifyError, decode_verifying_key};
use verifier::{ProvenSpan, SpanError, verify_span};
use verifier::{Reason, VerifyError, verify_chain_with_zk_keys};
use witness_format::ssz_types::VariableList;
use witness_format::{Block, Genesis, Model, SpanStep, Transaction, Witness, decode_file};

struct Fixture {
    _dir: tempfile::TempDir,
    chain: PathBuf,
    genesis: Genesis,
    blocks: Vec<Block>,
    key: VerifyingKey,
}

const BLOCKS: u64 = 4;

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (workload, keys, chain) = (
            dir.path().join("w"),
            dir.path().join("keys"),
            dir.path().join("c"),
        );
        gen_tiny("both", "4", &workload, &["--exit-percent", "50"]);
        zk_setup_tiny(&keys, "1");
        prove_workload(
            &workload,
            &dir.path().join("p.redb"),
            &chain,
            &["--witness", "zk", "--keys", path(&keys)],
        );
        let read = |file: PathBuf| std::fs::read(file).unwrap();
        let genesis = decode_file(&read(chain.join("genesis.bin"))).unwrap();
        let blocks = (1..=BLOCKS)
            .map(|h| decode_file(&read(block_file(&chain, h))).unwrap())
            .collect();
        let key = decode_verifying_key(&read(keys.join("vk.bin"))).unwrap();
        Fixture {
            _dir: dir,
            chain,
            genesis,
            blocks,
            key,
        }
    })
}

/// `verify`'s verdict on the chain of `blocks`.
fn verified(blocks: &[Block]) -> Result<(), VerifyError> {
    let f = fixture();
    verify_chain_with_zk_keys(&f.genesis, std::slice::from_ref(&f.key), blocks).map(|_| ())
}

/// Span validity's verdict on the chain of `blocks`, from the genesis to its last block: the
/// span the library builds from those blocks, checked against the last header. A span that
/// cannot be built (the builder finds the chain invalid) is a rejection too.
fn span_verdict(blocks: &[Block]) -> Result<ProvenSpan, String> {
    let f = fixture();
    let tip = blocks.len() as u64;
    let mut builder =
        SpanBuilder::new(f.genesis.clone(), 0, tip, tip).map_err(|e| e.to_string())?;
    for block in blocks {
        builder.push(block.clone()).map_err(|e| e.to_string())?;
    }
    let span = builder
        .finish(std::slice::from_ref(&f.key))
        .map_err(|e| e.to_string())?;
    let last = &blocks.last().unwrap().header;
    verify_span(&span, last).map_err(|e| e.to_string())
}

/// Blobs of `zk-transfer` with a zk witness (`proven`) or without, as (block index, blob index).
fn zk_transfer_blobs(proven: bool) -> Vec<(usize, usize)> {
    fixture()
        .blocks
        .iter()
        .enumerate()
        .flat_map(|(b, block)| {
            block.blobs.iter().enumerate().filter_map(move |(i, blob)| {
                (blob.model == Model::ZkTransfer
                    && matches!(blob.witness, Witness::Zk(_)) == proven)
                    .then_some((b, i))
            })
        })
        .collect()
}

fn edit_transactions(
    blocks: &mut [Block],
    (b, i): (usize, usize),
    edit: impl FnOnce(&mut Vec<Transaction>),
) {
    let blob = &mut blocks[b].blobs[i];
    let mut txs = blob.transactions.to_vec();
    edit(&mut txs);
    blob.transactions = VariableList::new(txs).unwrap();
}

#[test]
fn an_honest_span_of_both_models_with_exits_and_credits_verifies() {
    let f = fixture();
    verified(&f.blocks).unwrap();
    let proven = span_verdict(&f.blocks).unwrap();
    assert!(proven.proofs >= 1, "{proven:?}");
    assert!(proven.executed >= 1, "{proven:?}");
    assert!(
        f.blocks.iter().any(|b| b
            .blobs
            .iter()
            .any(|blob| blob.model == Model::ZkTransfer
                && matches!(blob.witness, Witness::Credits(_)))),
        "the chain credits zk-transfer"
    );
    // Through the CLI, as `demo`'s round trip would be proven.
    let out = fixture_path("span.bin");
    ok(
        &stateless(&[
            "history",
            "span",
            "--chain",
            path(&f.chain),
            "--from",
            "0",
            "--to",
            "4",
            "--out",
            path(&out),
        ]),
        "history span",
    );
    let json = ok(
        &stateless(&[
            "history",
            "verify",
            path(&out),
            "--tip",
            path(&block_file(&f.chain, BLOCKS)),
            "--json",
        ]),
        "history verify",
    );
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["span"]["proofs"], proven.proofs);
    assert_eq!(json["span"]["executed"], proven.executed);
}

fn fixture_path(name: &str) -> PathBuf {
    fixture().chain.parent().unwrap().join(name)
}

/// A span step built for another model's blob is refused: span validity vouches for the
/// `zk-transfer` state only.
#[test]
fn an_executed_step_of_the_other_model_is_refused() {
    use witness_format::HistoryFact;
    let f = fixture();
    let tip = f.blocks.len() as u64;
    let mut builder = SpanBuilder::new(f.genesis.clone(), 0, tip, tip).unwrap();
    for block in &f.blocks {
        builder.push(block.clone()).unwrap();
    }
    let mut span = builder.finish(std::slice::from_ref(&f.key)).unwrap();
    let mut steps = span.steps.to_vec();
    let (index, mut step) = steps
        .iter()
        .enumerate()
        .find_map(|(n, s)| match s {
            SpanStep::Executed(e) => Some((n, e.as_ref().clone())),
            SpanStep::Proven(_) => None,
        })
        .unwrap();
    let HistoryFact::Blob(fact) = &mut step.inclusion.fact else {
        panic!("a blob fact")
    };
    let block = &f.blocks[fact.header.height as usize - 1];
    let other = block
        .blobs
        .iter()
        .position(|blob| blob.model == Model::Transfer)
        .unwrap();
    fact.blob = prover::blob_inclusion(block, other as u64).unwrap();
    let height = fact.header.height;
    steps[index] = SpanStep::Executed(std::sync::Arc::new(step));
    span.steps = VariableList::new(steps).unwrap();
    assert_eq!(
        verify_span(&span, &f.blocks.last().unwrap().header).unwrap_err(),
        SpanError::StepOfOtherModel {
            step: index,
            height,
            blob: other as u64,
            model: Model::Transfer
        }
    );
}

type Tamper = Box<dyn Fn(&mut Vec<Block>)>;

/// Every tampering of a `zk-transfer` blob: `verify` rejects the chain, and so does span
/// validity. Signature edits of a proven blob are checked for the reason `verify` gives.
#[test]
fn span_validity_accepts_only_what_verify_accepts() {
    let f = fixture();
    let proven = zk_transfer_blobs(true);
    let executed = zk_transfer_blobs(false);
    assert!(!proven.is_empty() && !executed.is_empty());
    let p = proven[0];
    let other_proven = *proven.last().unwrap();
    assert_ne!(p, other_proven, "two proven blobs");
    let e = executed[0];
    let credits = *executed
        .iter()
        .find(|&&(b, i)| matches!(f.blocks[b].blobs[i].witness, Witness::Credits(_)))
        .unwrap();

    let tampers: Vec<(&str, Tamper)> = vec![
        (
            "zeroed signature",
            Box::new(move |blocks| {
                edit_transactions(blocks, p, |txs| txs[0].signature.0 = [0; 64])
            }),
        ),
        (
            "garbled signature",
            Box::new(move |blocks| {
                edit_transactions(blocks, p, |txs| {
                    for byte in txs[1].signature.0.iter_mut() {
                        *byte ^= 0xa5;
                    }
                })
            }),
        ),
        (
            "every signature zeroed",
            Box::new(move |blocks| {
                edit_transactions(blocks, p, |txs| {
                    for tx in txs.iter_mut() {
                        tx.signature.0 = [0; 64];
                    }
                })
            }),
        ),
        (
            "valid signature of another transaction",
            Box::new(move |blocks| {
                let other = blocks[other_proven.0].blobs[other_proven.1].transactions[0].signature;
                edit_transactions(blocks, p, |txs| txs[0].signature = other)
            }),
        ),
        (
            "signatures swapped",
            Box::new(move |blocks| {
                edit_transactions(blocks, p, |txs| {
                    let first = txs[0].signature;
                    txs[0].signature = txs[1].signature;
                    txs[1].signature = first;
                })
            }),
        ),
        (
            "amount",
            Box::new(move |blocks| edit_transactions(blocks, p, |txs| txs[0].amount += 1)),
        ),
        (
            "nonce",
            Box::new(move |blocks| edit_transactions(blocks, p, |txs| txs[1].nonce += 1)),
        ),
        (
            "receiver",
            Box::new(move |blocks| edit_transactions(blocks, p, |txs| txs[0].to ^= 1)),
        ),
        (
            "sender",
            Box::new(move |blocks| edit_transactions(blocks, p, |txs| txs[0].from ^= 1)),
        ),
        (
            "receiver a bridge leaf",
            Box::new(move |blocks| edit_transactions(blocks, p, |txs| txs[0].to |= 8)),
        ),
        (
            "transaction dropped (count)",
            Box::new(move |blocks| {
                edit_transactions(blocks, p, |txs| {
                    txs.pop();
                })
            }),
        ),
        (
            "transactions reordered",
            Box::new(move |blocks| edit_transactions(blocks, p, |txs| txs.swap(0, 1))),
        ),
        (
            "post-state root",
            Box::new(move |blocks| blocks[p.0].blobs[p.1].post_state_root.0[0] ^= 1),
        ),
        (
            "proof byte",
            Box::new(move |blocks| {
                if let Witness::Zk(w) = &mut blocks[p.0].blobs[p.1].witness {
                    w.proof.0[100] ^= 1;
                }
            }),
        ),
        (
            "proof of another blob",
            Box::new(move |blocks| {
                let other = blocks[other_proven.0].blobs[other_proven.1].witness.clone();
                blocks[p.0].blobs[p.1].witness = other;
            }),
        ),
        (
            "executed: signature",
            Box::new(move |blocks| edit_transactions(blocks, e, |txs| txs[0].signature.0[40] ^= 1)),
        ),
        (
            "executed: witness leaf",
            Box::new(move |blocks| {
                if let Witness::Merkle(w) = &mut blocks[e.0].blobs[e.1].witness {
                    let mut leaves = w.leaves.to_vec();
                    leaves[0].balance += 1;
                    w.leaves = VariableList::new(leaves).unwrap();
                }
            }),
        ),
        (
            "executed: credit inflated",
            Box::new(move |blocks| {
                edit_transactions(blocks, credits, |txs| {
                    txs[0].amount += 1;
                    txs[0].nonce += 1;
                })
            }),
        ),
        (
            "executed: receipt dropped",
            Box::new(move |blocks| {
                if let Witness::Credits(w) = &mut blocks[credits.0].blobs[credits.1].witness {
                    w.receipts = VariableList::empty();
                }
            }),
        ),
    ];
    for (what, tamper) in tampers {
        let mut blocks = f.blocks.clone();
        tamper(&mut blocks);
        reseal(&f.genesis, &mut blocks);
        assert!(verified(&blocks).is_err(), "{what}: verify accepted");
        let span = span_verdict(&blocks);
        assert!(span.is_err(), "{what}: span validity accepted {span:?}");
    }

    // A failing proof is named by its step among all steps, executed ones included.
    let step = f.blocks[..p.0]
        .iter()
        .flat_map(|b| b.blobs.iter())
        .chain(f.blocks[p.0].blobs[..p.1].iter())
        .filter(|blob| blob.model == Model::ZkTransfer)
        .count();
    assert!(step > 0, "executed steps come first");
    let mut blocks = f.blocks.clone();
    edit_transactions(&mut blocks, p, |txs| txs[0].amount += 1);
    reseal(&f.genesis, &mut blocks);
    assert_eq!(
        span_verdict(&blocks).unwrap_err(),
        format!("step {step}: zk proof: proof does not verify")
    );
}

/// A zk blob's signatures are bound to its proof: zeroed or garbled bytes are rejected naming
/// the transaction (they are no signature encoding at all), a valid signature taken from
/// another transaction by the proof, naming the blob (a zk blob carries no sender keys, so
/// only the proof can tell that the signature is not the sender's). Exit 1 through the CLI.
#[test]
fn a_zk_blob_carries_exactly_the_signatures_its_proof_checked() {
    let f = fixture();
    let (b, i) = zk_transfer_blobs(true)[0];
    let height = b as u64 + 1;
    let reject = |edit: &dyn Fn(&mut Vec<Transaction>)| {
        let mut blocks = f.blocks.clone();
        edit_transactions(&mut blocks, (b, i), edit);
        reseal(&f.genesis, &mut blocks);
        (verified(&blocks).unwrap_err(), blocks)
    };
    let (zeroed, _) = reject(&|txs| txs[1].signature.0 = [0; 64]);
    assert_eq!(zeroed.reason, Reason::BadSignature);
    assert_eq!(
        (
            zeroed.location.block,
            zeroed.location.blob,
            zeroed.location.transaction
        ),
        (Some(height), Some(i), Some(1))
    );
    let (garbled, _) = reject(&|txs| {
        for byte in txs[0].signature.0.iter_mut() {
            *byte ^= 0xa5;
        }
    });
    assert_eq!(garbled.reason, Reason::BadSignature);
    assert_eq!(garbled.location.transaction, Some(0));
    let other = f.blocks[b].blobs[i].transactions[1].signature;
    let (swapped, blocks) = reject(&|txs| txs[0].signature = other);
    assert_eq!(
        swapped.reason,
        Reason::ZkProof(ZkVerifyError::ProofRejected)
    );
    assert_eq!(
        (swapped.location.block, swapped.location.blob),
        (Some(height), Some(i))
    );

    // The CLI: exit 1, one line naming block, blob and transaction.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("c");
    copy_chain(&f.chain, &copy);
    let (_, zeroed_blocks) = reject(&|txs| txs[1].signature.0 = [0; 64]);
    for (h, block) in zeroed_blocks.iter().enumerate() {
        std::fs::write(
            block_file(&copy, h as u64 + 1),
            witness_format::encode_file(block),
        )
        .unwrap();
    }
    let out = stateless(&["verify", path(&copy)]);
    assert_eq!(out.status.code(), Some(1));
    let line = common::stderr(&out);
    assert!(
        line.contains(&format!("block {height}")) && line.contains("transaction 1"),
        "{line}"
    );
    drop(blocks);
}

fn copy_chain(from: &std::path::Path, to: &std::path::Path) {
    for dir in ["", "blocks", "keys"] {
        std::fs::create_dir_all(to.join(dir)).unwrap();
        for entry in std::fs::read_dir(from.join(dir)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), to.join(dir).join(entry.file_name())).unwrap();
            }
        }
    }
}
