//! Span validity end to end: `stateless history span` writes the zk proofs between two
//! checkpoints of a `zk-transfer` chain, `stateless history verify` checks them against the
//! tip's header alone, and every kind of tampering is rejected for its specific reason.
//!
//! One small chain is built once (depth 4, batch 2, three blocks of one two-transaction zk
//! blob each), with a twin proven under other keys from the same workload: same roots and
//! commitments, other proofs, other genesis. Every tampering starts from a span that
//! verifies, so a rejection can only come from the change.

mod common;

use common::{block_file, gen_tiny, ok, path, stateless, zk_setup_tiny};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use verifier::HistoryProofError;
use verifier::accumulator::MmrProofError;
use verifier::ancestry::AncestryTree;
use verifier::hash::{genesis_hash, header_hash};
use verifier::zk_transfer::groth16::{ZkVerifyError, decode_verifying_key, verifying_key_hash};
use verifier::{Reason, VerifyError};
use verifier::{SpanError, SpanPart, verify_span};
use witness_format::ssz_types::VariableList;
use witness_format::{
    Anchor, Block, Bytes, Genesis, Hash32, Header, Model, ModelRoot, ProvenStep, SpanProof,
    SpanStep, ZK_PROOF_BYTES, ZkVerifyingKey, decode_file,
};

struct Fixture {
    dir: tempfile::TempDir,
    chain: PathBuf,
    other_chain: PathBuf,
    merkle_chain: PathBuf,
}

fn prove(fixture_dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let chain = fixture_dir.join(name);
    let db = fixture_dir.join(format!("{name}.redb"));
    let workload = fixture_dir.join("w");
    let mut args = vec![
        "prove",
        "--workload",
        path(&workload),
        "--db",
        path(&db),
        "--out",
        path(&chain),
    ];
    args.extend_from_slice(extra);
    ok(&stateless(&args), name);
    chain
}

/// The chains, built once for every test of this file.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        gen_tiny("zk-transfer", "3", &dir.path().join("w"), &[]);
        for (keys, seed) in [("keys", "1"), ("other-keys", "2")] {
            zk_setup_tiny(&dir.path().join(keys), seed);
        }
        let keys = dir.path().join("keys");
        let other_keys = dir.path().join("other-keys");
        let chain = prove(dir.path(), "c", &["--witness", "zk", "--keys", path(&keys)]);
        let other_chain = prove(
            dir.path(),
            "other",
            &["--witness", "zk", "--keys", path(&other_keys)],
        );
        let merkle_chain = prove(dir.path(), "merkle", &[]);
        Fixture {
            dir,
            chain,
            other_chain,
            merkle_chain,
        }
    })
}

fn tip(chain: &Path, height: u64) -> Header {
    let block: Block = decode_file(&std::fs::read(block_file(chain, height)).unwrap()).unwrap();
    block.header
}

/// `history span` over `chain`; returns the file.
fn span_file(chain: &Path, from: u64, to: u64, tip: Option<u64>) -> PathBuf {
    let name = format!(
        "span-{}-{from}-{to}-{}.bin",
        chain.file_name().unwrap().to_str().unwrap(),
        tip.unwrap_or(to)
    );
    let out = fixture().dir.path().join(name);
    let (from, to) = (from.to_string(), to.to_string());
    let tip = tip.map(|t| t.to_string());
    let mut args = vec![
        "history",
        "span",
        "--chain",
        path(chain),
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        path(&out),
    ];
    if let Some(tip) = &tip {
        args.extend(["--tip", tip.as_str()]);
    }
    ok(&stateless(&args), "history span");
    out
}

fn span(chain: &Path, from: u64, to: u64) -> SpanProof {
    decode_file(&std::fs::read(span_file(chain, from, to, None)).unwrap()).unwrap()
}

/// The steps of a span of proven steps only (as every span of this file's zk chains is).
fn steps(span: &mut SpanProof) -> Vec<ProvenStep> {
    span.steps
        .iter()
        .map(|step| match step {
            SpanStep::Proven(proven) => proven.clone(),
            SpanStep::Executed(_) => panic!("a zk chain's span has proven steps only"),
        })
        .collect()
}

fn set_steps(span: &mut SpanProof, steps: Vec<ProvenStep>) {
    span.steps = VariableList::new(steps.into_iter().map(SpanStep::Proven).collect()).unwrap();
}

/// The rejection of `span` against the main chain's block 3.
fn rejection(span: &SpanProof) -> SpanError {
    let tip = tip(&fixture().chain, 3);
    match verify_span(span, &tip) {
        Ok(proven) => panic!("tampered span accepted: {proven:?}"),
        Err(error) => error,
    }
}

/// The history-proof reason inside an ancestry rejection of `part`.
fn ancestry(error: SpanError, part: SpanPart) -> HistoryProofError {
    match error {
        SpanError::Ancestry {
            part: found,
            error:
                VerifyError {
                    reason: Reason::HistoryProof(error),
                    ..
                },
        } if found == part => error,
        other => panic!("not an ancestry rejection of {part}: {other}"),
    }
}

#[test]
fn valid_spans_verify_through_the_cli() {
    let f = fixture();
    let tip3 = block_file(&f.chain, 3);
    for (from, to, tip_at, proofs) in [(1, 3, None, 2), (0, 3, None, 3), (0, 2, Some(3), 2)] {
        let file = span_file(&f.chain, from, to, tip_at);
        let out = stateless(&[
            "history",
            "verify",
            path(&file),
            "--tip",
            path(&tip3),
            "--json",
        ]);
        let json: serde_json::Value = serde_json::from_str(&ok(&out, "verify")).unwrap();
        assert_eq!(json["valid"], true, "{json}");
        assert_eq!(json["kind"], "span");
        assert_eq!(json["tip_height"], 3);
        assert_eq!(json["span"]["chain_id"], 7);
        assert_eq!(json["span"]["from"]["height"], from);
        assert_eq!(json["span"]["to"]["height"], to);
        assert_eq!(json["span"]["proofs"], proofs);
        assert_eq!(json["span"]["transactions"], 2 * proofs);
        let to_header = tip(&f.chain, to);
        assert_eq!(
            json["span"]["to"]["hash"],
            header_hash(&to_header).to_string()
        );
        assert_eq!(
            json["span"]["to"]["zk_root"],
            to_header.state_roots[0].root.to_string()
        );
    }
    // Without --json: one line for people; inspect reads the file.
    let file = span_file(&f.chain, 1, 3, None);
    let text = ok(
        &stateless(&["history", "verify", path(&file), "--tip", path(&tip3)]),
        "verify",
    );
    assert!(
        text.starts_with("valid: zk-transfer state of height 3"),
        "{text}"
    );
    assert!(
        text.contains("by 2 proofs and 0 executed blobs of 4 transactions"),
        "{text}"
    );
    let inspected = ok(&stateless(&["inspect", path(&file), "--json"]), "inspect");
    let json: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    assert_eq!(json["steps"].as_array().unwrap().len(), 2);
}

#[test]
fn the_cli_rejects_an_altered_span_with_exit_1() {
    let f = fixture();
    let file = span_file(&f.chain, 0, 3, None);
    let mut bytes = std::fs::read(&file).unwrap();
    // The last step's proof is the file's last 384 bytes: alter its C point.
    let at = bytes.len() - 10;
    bytes[at] ^= 0x01;
    let altered = f.dir.path().join("altered.bin");
    std::fs::write(&altered, &bytes).unwrap();
    let out = stateless(&[
        "history",
        "verify",
        path(&altered),
        "--tip",
        path(&block_file(&f.chain, 3)),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("step 2: zk proof: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn links_and_ends_are_checked() {
    let f = fixture();
    let valid = span(&f.chain, 0, 3);
    let tip3 = tip(&f.chain, 3);
    let proven = verify_span(&valid, &tip3).unwrap();
    assert_eq!(proven.proofs, 3);
    let original = steps(&mut valid.clone());
    let genesis_root = proven.from.zk_root;

    // Broken link: a step's root changed (to another canonical field element).
    let mut s = valid.clone();
    let mut list = steps(&mut s);
    list[1].pre_state_root = original[0].pre_state_root;
    set_steps(&mut s, list);
    assert_eq!(
        rejection(&s),
        SpanError::BrokenLink {
            step: 1,
            expected: original[0].post_state_root,
            found: original[0].pre_state_root,
        }
    );
    let mut s = valid.clone();
    let mut list = steps(&mut s);
    list[0].post_state_root = original[2].post_state_root;
    set_steps(&mut s, list);
    assert_eq!(
        rejection(&s),
        SpanError::BrokenLink {
            step: 1,
            expected: original[2].post_state_root,
            found: original[1].pre_state_root,
        }
    );

    // Missing step: the first, a middle one, the last.
    let without = |index: usize| {
        let mut s = valid.clone();
        let mut list = original.clone();
        list.remove(index);
        set_steps(&mut s, list);
        rejection(&s)
    };
    assert_eq!(
        without(0),
        SpanError::BrokenLink {
            step: 0,
            expected: genesis_root,
            found: original[1].pre_state_root,
        }
    );
    assert_eq!(
        without(1),
        SpanError::BrokenLink {
            step: 1,
            expected: original[0].post_state_root,
            found: original[2].pre_state_root,
        }
    );
    assert_eq!(
        without(2),
        SpanError::EndMismatch {
            expected: proven.to.zk_root,
            found: original[1].post_state_root,
        }
    );

    // Reordered steps.
    let mut s = valid.clone();
    let mut list = original.clone();
    list.swap(1, 2);
    set_steps(&mut s, list);
    assert_eq!(
        rejection(&s),
        SpanError::BrokenLink {
            step: 1,
            expected: original[0].post_state_root,
            found: original[2].pre_state_root,
        }
    );

    // Wrong B root: steps that end elsewhere than B (B at height 2, the steps up to 3).
    let mut s = valid.clone();
    let below: SpanProof =
        decode_file(&std::fs::read(span_file(&f.chain, 0, 2, Some(3))).unwrap()).unwrap();
    s.to = below.to;
    assert_eq!(
        verify_span(&s, &tip3),
        Err(SpanError::EndMismatch {
            expected: tip(&f.chain, 2).state_roots[0].root,
            found: original[2].post_state_root,
        })
    );

    // A step's values must be canonical field elements.
    for (what, edit) in [
        (
            "pre-state root",
            (|s: &mut ProvenStep| s.pre_state_root = Hash32::from([0xff; 32]))
                as fn(&mut ProvenStep),
        ),
        ("post-state root", |s| {
            s.post_state_root = Hash32::from([0xff; 32])
        }),
        ("transaction commitment", |s| {
            s.transaction_commitment = Hash32::from([0xff; 32])
        }),
    ] {
        let mut s = valid.clone();
        let mut list = original.clone();
        edit(&mut list[1]);
        set_steps(&mut s, list);
        assert_eq!(
            rejection(&s),
            SpanError::NonCanonicalFieldElement { step: 1, what }
        );
    }

    // An altered commitment (canonical) breaks the proof, not a link.
    let mut s = valid.clone();
    let mut list = original.clone();
    list[2].transaction_commitment = original[1].transaction_commitment;
    set_steps(&mut s, list);
    assert_eq!(
        rejection(&s),
        SpanError::StepProof {
            step: 2,
            error: ZkVerifyError::ProofRejected
        }
    );
}

#[test]
fn proofs_are_checked_in_one_batch_and_the_bad_one_named() {
    let f = fixture();
    let valid = span(&f.chain, 0, 3);
    let original = steps(&mut valid.clone());

    // Altered proof bytes, at a few positions of each point (A: 0..96, B: 96..288, C: 288..384).
    for (step, position) in [(0, 5), (1, 95), (2, 120), (0, 287), (1, 300), (2, 383)] {
        let mut s = valid.clone();
        let mut list = original.clone();
        list[step].proof.0[position] ^= 0x04;
        set_steps(&mut s, list);
        match rejection(&s) {
            SpanError::StepProof {
                step: found,
                error: ZkVerifyError::UndecodableProof | ZkVerifyError::ProofRejected,
            } => assert_eq!(found, step, "byte {position}"),
            other => panic!("byte {position} of step {step}: {other}"),
        }
    }

    // Valid proofs swapped between steps: each decodes, the batch fails, step 0 is named.
    let mut s = valid.clone();
    let mut list = original.clone();
    let first = list[0].proof;
    list[0].proof = list[1].proof;
    list[1].proof = first;
    set_steps(&mut s, list);
    assert_eq!(
        rejection(&s),
        SpanError::StepProof {
            step: 0,
            error: ZkVerifyError::ProofRejected
        }
    );

    // Proofs of the same statements under another key: rejected under the pinned key, and the
    // other key itself is refused.
    let other_span = span(&f.other_chain, 0, 3);
    let other = steps(&mut other_span.clone());
    assert_eq!(
        other.iter().map(|s| s.pre_state_root).collect::<Vec<_>>(),
        original
            .iter()
            .map(|s| s.pre_state_root)
            .collect::<Vec<_>>()
    );
    let mut s = valid.clone();
    let mut list = original.clone();
    list[1].proof = other[1].proof;
    set_steps(&mut s, list);
    assert_eq!(
        rejection(&s),
        SpanError::StepProof {
            step: 1,
            error: ZkVerifyError::ProofRejected
        }
    );
    let mut s = valid.clone();
    s.zk_keys = other_span.zk_keys.clone();
    let vk = decode_verifying_key(&other_span.zk_keys[0].key.0).unwrap();
    assert_eq!(
        rejection(&s),
        SpanError::UnpinnedKey {
            index: 0,
            vk_hash: verifying_key_hash(&vk)
        }
    );
}

#[test]
fn keys_and_step_counts_are_checked() {
    let f = fixture();
    let valid = span(&f.chain, 1, 3);
    let original = steps(&mut valid.clone());
    let pin = tip(&f.chain, 3);
    let genesis: Genesis =
        decode_file(&std::fs::read(f.chain.join("genesis.bin")).unwrap()).unwrap();
    let pinned = genesis.zk_keys[0];
    assert_eq!(verify_span(&valid, &pin).unwrap().proofs, 2);

    // No key carried; a key repeated; a key that does not decode.
    let mut s = valid.clone();
    s.zk_keys = VariableList::empty();
    assert_eq!(
        rejection(&s),
        SpanError::StepKey {
            step: 0,
            reason: Reason::ZkKeyNotLoaded {
                batch: 2,
                vk_hash: pinned.vk_hash
            }
        }
    );
    let mut s = valid.clone();
    s.zk_keys = VariableList::new(vec![valid.zk_keys[0].clone(); 2]).unwrap();
    assert_eq!(
        rejection(&s),
        SpanError::KeysOutOfOrder { index: 1, batch: 2 }
    );
    // Junk key bytes: refused by their hash before anything decodes them.
    let junk = [0u8; witness_format::ZK_VERIFYING_KEY_BYTES];
    let mut s = valid.clone();
    s.zk_keys = VariableList::new(vec![ZkVerifyingKey {
        key: Bytes::from(junk),
    }])
    .unwrap();
    let junk_hash = Hash32::from(<[u8; 32]>::from(<sha3::Sha3_256 as sha3::Digest>::digest(
        junk,
    )));
    assert_eq!(
        rejection(&s),
        SpanError::UnpinnedKey {
            index: 0,
            vk_hash: junk_hash
        }
    );
    // A genesis that pins those very bytes: they are decoded then, and do not decode.
    let root = ModelRoot {
        model: Model::ZkTransfer,
        root: Hash32::ZERO,
    };
    let genesis = Genesis {
        chain_id: 9,
        tree_depth: 4,
        state_roots: VariableList::new(vec![root]).unwrap(),
        zk_keys: VariableList::new(vec![witness_format::ZkKeyPin {
            batch: 2,
            vk_hash: junk_hash,
        }])
        .unwrap(),
        evm: None,
        zk_srs: None,
    };
    let (mut s, synthetic_tip) = synthetic_span(genesis, vec![root]);
    s.zk_keys = VariableList::new(vec![ZkVerifyingKey {
        key: Bytes::from(junk),
    }])
    .unwrap();
    assert_eq!(
        verify_span(&s, &synthetic_tip),
        Err(SpanError::Key {
            index: 0,
            error: ZkVerifyError::UndecodableKey
        })
    );

    // Transaction counts: none, more than any pinned key takes, and one the same key takes but
    // the proof was not made for (the count is bound to the proof as a public input).
    for (count, expected) in [
        (0, SpanError::EmptyStep { step: 1 }),
        (
            1,
            SpanError::StepProof {
                step: 1,
                error: ZkVerifyError::ProofRejected,
            },
        ),
        (
            3,
            SpanError::StepKey {
                step: 1,
                reason: Reason::NoZkKeyForBatch { transactions: 3 },
            },
        ),
    ] {
        let mut s = valid.clone();
        let mut list = original.clone();
        list[1].transactions = count;
        set_steps(&mut s, list);
        assert_eq!(rejection(&s), expected);
    }

    // An empty span (A = B): valid without keys, a carried key is unused.
    let mut s = valid.clone();
    s.from = s.to.clone();
    set_steps(&mut s, Vec::new());
    assert_eq!(rejection(&s), SpanError::UnusedKey { batch: 2 });
    s.zk_keys = VariableList::empty();
    let proven = verify_span(&s, &pin).unwrap();
    assert_eq!((proven.from, proven.proofs), (proven.to, 0));
}

#[test]
fn checkpoints_must_be_ancestors_of_the_tip() {
    let f = fixture();
    let valid = span(&f.chain, 1, 3);
    let tip3 = tip(&f.chain, 3);

    // A not an ancestor: the twin chain's header 1 (same height, other chain).
    let other = span(&f.other_chain, 1, 3);
    let mut s = valid.clone();
    s.from = other.from.clone();
    assert!(matches!(
        ancestry(rejection(&s), SpanPart::From),
        HistoryProofError::NotAnAncestor { .. }
    ));
    // B not the tip: the twin chain's header 3.
    let mut s = valid.clone();
    s.to = other.to.clone();
    assert_eq!(
        ancestry(rejection(&s), SpanPart::To),
        HistoryProofError::NotTheTip {
            expected: header_hash(&tip3),
            found: header_hash(&tip(&f.other_chain, 3)),
        }
    );
    // Another genesis.
    let mut s = valid.clone();
    s.genesis = other.genesis.clone();
    assert!(matches!(
        ancestry(rejection(&s), SpanPart::Genesis),
        HistoryProofError::NotAnAncestor { .. }
    ));
    // An altered ancestry path.
    let mut s = valid.clone();
    s.from.peak_path = VariableList::empty();
    assert!(matches!(
        ancestry(rejection(&s), SpanPart::From),
        HistoryProofError::AncestryShape(MmrProofError::PathLength { .. })
    ));
    // Checked against another tip.
    let tip2 = tip(&f.chain, 2);
    assert!(matches!(
        ancestry(verify_span(&valid, &tip2).unwrap_err(), SpanPart::Genesis),
        HistoryProofError::TipHeightMismatch { proof: 3, tip: 2 }
    ));

    // Each proof must prove its kind of anchor.
    let mut s = valid.clone();
    s.genesis = valid.from.clone();
    assert_eq!(
        rejection(&s),
        SpanError::WrongAnchor {
            part: SpanPart::Genesis,
            expected: "the genesis"
        }
    );
    let mut s = valid.clone();
    s.to = valid.genesis.clone();
    assert_eq!(
        rejection(&s),
        SpanError::WrongAnchor {
            part: SpanPart::To,
            expected: "a header"
        }
    );
    // A above B.
    let mut s = valid.clone();
    std::mem::swap(&mut s.from, &mut s.to);
    assert_eq!(rejection(&s), SpanError::FromAfterTo { from: 3, to: 1 });
}

/// A one-block synthetic chain whose genesis is `genesis`, and an empty span over it.
fn synthetic_span(genesis: Genesis, block_models: Vec<ModelRoot>) -> (SpanProof, Header) {
    let mut tree = AncestryTree::new();
    tree.append(genesis_hash(&genesis));
    let tip = Header {
        height: 1,
        parent_hash: genesis_hash(&genesis),
        history_root: tree.root(),
        blobs_root: Hash32::ZERO,
        state_roots: VariableList::new(block_models).unwrap(),
    };
    let span = SpanProof {
        genesis: tree.anchor_proof(Anchor::Genesis(genesis.clone())).unwrap(),
        from: tree.anchor_proof(Anchor::Genesis(genesis)).unwrap(),
        to: tree.anchor_proof(Anchor::Header(tip.clone())).unwrap(),
        zk_keys: VariableList::empty(),
        steps: VariableList::empty(),
    };
    (span, tip)
}

#[test]
fn genesis_and_models_are_checked() {
    let root = |model| ModelRoot {
        model,
        root: Hash32::ZERO,
    };
    let genesis = |depth, model| Genesis {
        chain_id: 9,
        tree_depth: depth,
        state_roots: VariableList::new(vec![root(model)]).unwrap(),
        zk_keys: VariableList::empty(),
        evm: None,
        zk_srs: None,
    };
    // A span of nothing on a zk-transfer chain is valid: the synthetic chain is honest.
    let (span, tip) = synthetic_span(genesis(4, Model::ZkTransfer), vec![root(Model::ZkTransfer)]);
    assert_eq!(verify_span(&span, &tip).unwrap().proofs, 0);
    // No zk-transfer model.
    let (span, tip) = synthetic_span(genesis(4, Model::Transfer), vec![root(Model::Transfer)]);
    assert_eq!(
        verify_span(&span, &tip),
        Err(SpanError::NoZkModel {
            part: SpanPart::From,
            height: 0
        })
    );
    // An invalid genesis.
    let (span, tip) = synthetic_span(genesis(0, Model::ZkTransfer), vec![root(Model::ZkTransfer)]);
    assert!(matches!(
        verify_span(&span, &tip),
        Err(SpanError::InvalidGenesis(VerifyError {
            reason: Reason::InvalidGenesis(_),
            ..
        }))
    ));
}

#[test]
fn spans_that_cannot_be_expressed_are_refused() {
    let f = fixture();
    let out_file = f.dir.path().join("refused.bin");
    let run = |chain: &Path, from: &str, to: &str| {
        stateless(&[
            "history",
            "span",
            "--chain",
            path(chain),
            "--from",
            from,
            "--to",
            to,
            "--out",
            path(&out_file),
        ])
    };
    // A above B, B = 0, B past the chain.
    for (from, to) in [("2", "1"), ("0", "0"), ("0", "9")] {
        let out = run(&f.chain, from, to);
        assert_eq!(out.status.code(), Some(2), "{from} {to}");
    }
    assert!(!out_file.exists());
}

/// The span of a chain whose `zk-transfer` blobs carry Merkle witnesses: no proofs, every blob
/// an executed step, checked as `verify` checks it in its block.
fn merkle_span(from: u64, to: u64) -> SpanProof {
    span(&fixture().merkle_chain, from, to)
}

fn executed(span: &SpanProof, index: usize) -> witness_format::ExecutedStep {
    match &span.steps[index] {
        SpanStep::Executed(step) => step.as_ref().clone(),
        SpanStep::Proven(_) => panic!("a Merkle chain's span has executed steps only"),
    }
}

fn with_executed(span: &SpanProof, index: usize, step: witness_format::ExecutedStep) -> SpanProof {
    let mut span = span.clone();
    let mut list = span.steps.to_vec();
    list[index] = SpanStep::Executed(std::sync::Arc::new(step));
    span.steps = VariableList::new(list).unwrap();
    span
}

/// The rejection of `span` against the Merkle chain's block `height`.
fn merkle_rejection(span: &SpanProof, height: u64) -> SpanError {
    match verify_span(span, &tip(&fixture().merkle_chain, height)) {
        Ok(proven) => panic!("tampered span accepted: {proven:?}"),
        Err(error) => error,
    }
}

#[test]
fn blobs_without_proofs_are_executed_steps_checked_as_verify_checks_them() {
    use witness_format::{HistoryFact, Witness, ZkWitness};
    let f = fixture();
    let span = merkle_span(0, 2);
    let proven = verify_span(&span, &tip(&f.merkle_chain, 2)).unwrap();
    assert_eq!((proven.proofs, proven.executed), (0, 2));
    assert_eq!(proven.transactions, 4);
    // Through the CLI too.
    let file = span_file(&f.merkle_chain, 0, 3, None);
    let tip3 = block_file(&f.merkle_chain, 3);
    let text = ok(
        &stateless(&["history", "verify", path(&file), "--tip", path(&tip3)]),
        "verify",
    );
    assert!(
        text.contains("by 0 proofs and 3 executed blobs of 6 transactions"),
        "{text}"
    );

    // Transactions other than the block's.
    let mut step = executed(&span, 1);
    let mut txs = step.transactions.to_vec();
    txs[0].amount += 1;
    step.transactions = VariableList::new(txs).unwrap();
    assert_eq!(
        merkle_rejection(&with_executed(&span, 1, step), 2),
        SpanError::StepTransactionsMismatch {
            step: 1,
            height: 2,
            blob: 0
        }
    );
    // A witness that does not hold: the blob is rejected as `verify` rejects it.
    let mut step = executed(&span, 0);
    let Witness::Merkle(witness) = &mut step.witness else {
        panic!("a Merkle witness")
    };
    let mut leaves = witness.leaves.to_vec();
    leaves[0].balance += 1;
    witness.leaves = VariableList::new(leaves).unwrap();
    assert!(matches!(
        merkle_rejection(&with_executed(&span, 0, step), 2),
        SpanError::StepRejected(VerifyError {
            reason: Reason::PreStateRootMismatch { .. },
            location: verifier::Location {
                block: Some(1),
                blob: Some(0),
                transaction: None
            }
        })
    ));
    // A forged signature: the transaction root covers signatures, so the step no longer
    // matches its block.
    let mut step = executed(&span, 0);
    let mut txs = step.transactions.to_vec();
    txs[1].signature.0[40] ^= 1;
    step.transactions = VariableList::new(txs).unwrap();
    assert!(matches!(
        merkle_rejection(&with_executed(&span, 0, step), 2),
        SpanError::StepTransactionsMismatch { step: 0, .. }
    ));
    // A zk witness in an executed step.
    let mut step = executed(&span, 0);
    step.witness = Witness::Zk(ZkWitness {
        proof: Bytes::from([0u8; ZK_PROOF_BYTES]),
    });
    assert_eq!(
        merkle_rejection(&with_executed(&span, 0, step), 2),
        SpanError::ExecutedZkWitness { step: 0 }
    );
    // An inclusion that is not an ancestor's, or not of a blob.
    let mut step = executed(&span, 0);
    let HistoryFact::Blob(fact) = &mut step.inclusion.fact else {
        panic!("a blob fact")
    };
    fact.header.blobs_root.0[0] ^= 1;
    assert!(matches!(
        merkle_rejection(&with_executed(&span, 0, step), 2),
        SpanError::StepInclusion { step: 0, .. }
    ));
    let mut step = executed(&span, 0);
    step.inclusion = span.to.clone();
    assert_eq!(
        merkle_rejection(&with_executed(&span, 0, step), 2),
        SpanError::StepNotABlob { step: 0 }
    );
    // A step of a block outside (A, B]: block 1's blob in the span from 1 to 2.
    let later = merkle_span(1, 2);
    let mut list = later.steps.to_vec();
    list.insert(0, span.steps[0].clone());
    let mut outside = later.clone();
    outside.steps = VariableList::new(list).unwrap();
    assert_eq!(
        merkle_rejection(&outside, 2),
        SpanError::StepOutsideSpan {
            step: 0,
            height: 1,
            from: 1,
            to: 2
        }
    );
    // Dropped or reordered steps break the root chain.
    let mut reordered = span.clone();
    let mut list = span.steps.to_vec();
    list.swap(0, 1);
    reordered.steps = VariableList::new(list).unwrap();
    assert!(matches!(
        merkle_rejection(&reordered, 2),
        SpanError::BrokenLink { step: 0, .. }
    ));
}
