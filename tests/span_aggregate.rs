//! Aggregate spans (`history span --aggregate`): a span's zk proofs in one SnarkPack
//! aggregate with chained statements, checked knowing only the span's two state roots.
//!
//! The chain (`zk-transfer`, depth 4, batch 2, four blocks) is proven with an SRS pinned in
//! its genesis. The tests: the CLI round trip; the invariant that an aggregate span never says
//! valid where `verify` says invalid, over the tamperings of `span_two_models`; every part of
//! an aggregate span file altered and rejected by name; and the builder's refusals.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::{block_file, gen_tiny, ok, path, prove_workload, reseal, stateless, zk_setup_tiny};
use prover::SpanBuilder;
use prover::zk::aggregate::{Srs, read_srs};
use prover::zk::groth16::VerifyingKey;
use verifier::zk_transfer::aggregate::AggregateError;
use verifier::zk_transfer::groth16::decode_verifying_key;
use verifier::{AggregatedSpan, SpanError, verify_aggregate_span, verify_chain_with_zk_keys};
use witness_format::ssz_types::VariableList;
use witness_format::{
    AggregateSpanProof, Block, Bytes, Genesis, Transaction, Witness, decode_file,
};

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    chain: PathBuf,
    genesis: Genesis,
    blocks: Vec<Block>,
    key: VerifyingKey,
    srs: Srs,
}

const BLOCKS: u64 = 4;

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (workload, keys, chain, srs) = (
            dir.path().join("w"),
            dir.path().join("keys"),
            dir.path().join("c"),
            dir.path().join("srs"),
        );
        gen_tiny("zk-transfer", "4", &workload, &[]);
        zk_setup_tiny(&keys, "1");
        ok(
            &stateless(&[
                "zk",
                "srs",
                "--size",
                "16",
                "--seed",
                "3",
                "--out",
                path(&srs),
            ]),
            "zk srs",
        );
        prove_workload(
            &workload,
            &dir.path().join("p.redb"),
            &chain,
            &[
                "--witness",
                "zk",
                "--keys",
                path(&keys),
                "--srs",
                path(&srs),
            ],
        );
        let read = |file: PathBuf| std::fs::read(file).unwrap();
        let genesis = decode_file(&read(chain.join("genesis.bin"))).unwrap();
        let blocks = (1..=BLOCKS)
            .map(|h| decode_file(&read(block_file(&chain, h))).unwrap())
            .collect();
        let key = decode_verifying_key(&read(keys.join("vk.bin"))).unwrap();
        Fixture {
            dir: dir.path().to_path_buf(),
            _dir: dir,
            chain,
            genesis,
            blocks,
            key,
            srs: read_srs(&srs).unwrap(),
        }
    })
}

/// The aggregate span the library builds from the genesis to the last of `blocks`.
fn build(genesis: &Genesis, blocks: &[Block], srs: &Srs) -> Result<AggregateSpanProof, String> {
    let f = fixture();
    let tip = blocks.len() as u64;
    let mut builder = SpanBuilder::new(genesis.clone(), 0, tip, tip).map_err(|e| e.to_string())?;
    for block in blocks {
        builder.push(block.clone()).map_err(|e| e.to_string())?;
    }
    builder
        .finish_aggregate(std::slice::from_ref(&f.key), srs)
        .map_err(|e| e.to_string())
}

/// Aggregate span validity's verdict on the chain of `blocks`: built, then checked against the
/// last header. A span that cannot be built is a rejection too.
fn aggregate_verdict(blocks: &[Block]) -> Result<AggregatedSpan, String> {
    let f = fixture();
    let span = build(&f.genesis, blocks, &f.srs)?;
    verify_aggregate_span(&span, &blocks.last().unwrap().header).map_err(|e| e.to_string())
}

fn honest_span() -> AggregateSpanProof {
    let f = fixture();
    build(&f.genesis, &f.blocks, &f.srs).unwrap()
}

/// A second development SRS, pinned by no chain here.
fn other_srs() -> Srs {
    Srs::insecure(16, &mut prover::zk::groth16::rng_from_seed([9; 32])).unwrap()
}

/// The honest aggregate span with the genesis and checkpoints of another chain's plain span
/// (built with `keys`), checked against that chain's last block: its rejection, if any.
fn with_ends_of(chain: &std::path::Path, blocks: u64, keys: &[VerifyingKey]) -> Option<SpanError> {
    let read = |file: PathBuf| std::fs::read(file).unwrap();
    let genesis: Genesis = decode_file(&read(chain.join("genesis.bin"))).unwrap();
    let mut builder = SpanBuilder::new(genesis, 0, blocks, blocks).unwrap();
    let mut last = None;
    for h in 1..=blocks {
        let block: Block = decode_file(&read(block_file(chain, h))).unwrap();
        last = Some(block.header.clone());
        builder.push(block).unwrap();
    }
    let plain = builder.finish(keys).unwrap();
    let span = AggregateSpanProof {
        genesis: plain.genesis,
        from: plain.from,
        to: plain.to,
        ..honest_span()
    };
    verify_aggregate_span(&span, &last.unwrap()).err()
}

fn tip() -> &'static witness_format::Header {
    &fixture().blocks.last().unwrap().header
}

#[test]
fn the_cli_writes_and_checks_an_aggregate_span() {
    let f = fixture();
    let span = f.dir.join("span.agg");
    let tip = block_file(&f.chain, BLOCKS);
    let srs = f.dir.join("srs");
    ok(
        &stateless(&[
            "history",
            "span",
            "--aggregate",
            "--srs",
            path(&srs),
            "--chain",
            path(&f.chain),
            "--from",
            "0",
            "--to",
            "4",
            "--out",
            path(&span),
        ]),
        "history span --aggregate",
    );
    let out = ok(
        &stateless(&[
            "history",
            "verify",
            path(&span),
            "--tip",
            path(&tip),
            "--json",
        ]),
        "history verify",
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["kind"], "aggregate-span");
    let blobs: usize = f.blocks.iter().map(|b| b.blobs.len()).sum();
    let transactions: usize = f
        .blocks
        .iter()
        .flat_map(|b| b.blobs.iter())
        .map(|blob| blob.transactions.len())
        .sum();
    assert_eq!(report["span"]["proofs"], blobs as u64);
    assert_eq!(report["span"]["transactions"], transactions as u64);
    assert_eq!(report["span"]["to"]["height"], BLOCKS);
    assert_eq!(report["blocks"], BLOCKS);
    assert!(report["aggregate_bytes"].as_u64().unwrap() > 0);

    // A byte of the aggregate flipped: exit 1, one line naming the aggregate.
    let mut bytes = std::fs::read(&span).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 1;
    let broken = f.dir.join("broken.agg");
    std::fs::write(&broken, &bytes).unwrap();
    let out = stateless(&["history", "verify", path(&broken), "--tip", path(&tip)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        common::stderr(&out).contains("aggregate"),
        "{}",
        common::stderr(&out)
    );

    // Without --srs, --aggregate is a usage error.
    let out = stateless(&[
        "history",
        "span",
        "--aggregate",
        "--chain",
        path(&f.chain),
        "--from",
        "0",
        "--to",
        "4",
        "--out",
        path(&span),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

type Tamper = Box<dyn Fn(&mut Vec<Block>)>;

fn edit(blocks: &mut [Block], (b, i): (usize, usize), edit: impl FnOnce(&mut Vec<Transaction>)) {
    let blob = &mut blocks[b].blobs[i];
    let mut txs = blob.transactions.to_vec();
    edit(&mut txs);
    blob.transactions = VariableList::new(txs).unwrap();
}

#[test]
fn an_aggregate_span_accepts_only_what_verify_accepts() {
    let f = fixture();
    let honest = aggregate_verdict(&f.blocks).unwrap();
    assert_eq!(honest.span.executed, 0);
    verify_chain_with_zk_keys(&f.genesis, std::slice::from_ref(&f.key), &f.blocks).unwrap();
    // A blob of two transactions in block 2, and one of another block.
    let p = (
        1,
        f.blocks[1]
            .blobs
            .iter()
            .position(|b| b.transactions.len() == 2)
            .unwrap(),
    );
    let other = (2, 0);
    let tampers: Vec<(&str, Tamper)> = vec![
        (
            "zeroed signature",
            Box::new(move |b| edit(b, p, |t| t[0].signature.0 = [0; 64])),
        ),
        (
            "amount",
            Box::new(move |b| edit(b, p, |t| t[0].amount += 1)),
        ),
        ("nonce", Box::new(move |b| edit(b, p, |t| t[1].nonce += 1))),
        ("receiver", Box::new(move |b| edit(b, p, |t| t[0].to ^= 1))),
        (
            "transaction dropped",
            Box::new(move |b| {
                edit(b, p, |t| {
                    t.pop();
                })
            }),
        ),
        (
            "transactions reordered",
            Box::new(move |b| edit(b, p, |t| t.swap(0, 1))),
        ),
        (
            "post-state root",
            Box::new(move |b| b[p.0].blobs[p.1].post_state_root.0[0] ^= 1),
        ),
        (
            "proof byte",
            Box::new(move |b| {
                if let Witness::Zk(w) = &mut b[p.0].blobs[p.1].witness {
                    w.proof.0[100] ^= 1;
                }
            }),
        ),
        (
            "proof of another blob",
            Box::new(move |b| {
                let w = b[other.0].blobs[other.1].witness.clone();
                b[p.0].blobs[p.1].witness = w;
            }),
        ),
        (
            "blob dropped",
            Box::new(move |b| {
                let mut blobs = b[p.0].blobs.to_vec();
                blobs.remove(p.1);
                b[p.0].blobs = VariableList::new(blobs).unwrap();
            }),
        ),
    ];
    for (name, tamper) in tampers {
        let mut blocks = f.blocks.clone();
        tamper(&mut blocks);
        reseal(&f.genesis, &mut blocks);
        let verdict = verify_chain_with_zk_keys(&f.genesis, std::slice::from_ref(&f.key), &blocks);
        assert!(
            verdict.is_err(),
            "{name}: verify accepts the tampered chain"
        );
        let aggregate = aggregate_verdict(&blocks);
        assert!(
            aggregate.is_err(),
            "{name}: the aggregate span accepts what verify rejects"
        );
    }
}

#[test]
fn every_part_of_an_aggregate_span_is_checked() {
    let f = fixture();
    let span = honest_span();
    let proven = verify_aggregate_span(&span, tip()).unwrap();
    assert_eq!(proven.span.from.height, 0);
    assert_eq!(proven.span.to.height, BLOCKS);

    // Another SRS's key (a second development SRS, unpinned).
    let other_srs = other_srs();
    let mut s = span.clone();
    s.srs_key = Bytes::from(other_srs.key().unwrap().encode());
    assert!(matches!(
        verify_aggregate_span(&s, tip()),
        Err(SpanError::UnpinnedSrs { .. })
    ));

    // A key the genesis does not pin.
    let mut s = span.clone();
    s.zk_key.key.0[60] ^= 1;
    assert!(matches!(
        verify_aggregate_span(&s, tip()),
        Err(SpanError::UnpinnedKey { index: 0, .. })
    ));

    // One proof more or fewer claimed than aggregated.
    for proofs in [span.proofs + 1, span.proofs - 1] {
        let mut s = span.clone();
        s.proofs = proofs;
        assert!(
            matches!(
                verify_aggregate_span(&s, tip()),
                Err(SpanError::Aggregate(_))
            ),
            "{proofs} proofs"
        );
    }

    // The aggregate's first GT element altered: outside GT, named.
    let mut s = span.clone();
    let mut bytes = s.aggregate.to_vec();
    bytes[10] ^= 1;
    s.aggregate = VariableList::new(bytes).unwrap();
    assert_eq!(
        verify_aggregate_span(&s, tip()),
        Err(SpanError::Aggregate(AggregateError::Undecodable {
            what: "commitment T_AB"
        }))
    );

    // Checkpoint B moved back one block (a span to height 3 checked against block 3, carrying
    // the aggregate of the four blocks): the chain of statements does not end at B's root.
    let tip3 = &f.blocks[2].header;
    let mut moved = build(&f.genesis, &f.blocks[..3], &f.srs).unwrap();
    verify_aggregate_span(&moved, tip3).unwrap();
    moved.aggregate = span.aggregate.clone();
    moved.proofs = span.proofs;
    assert!(matches!(
        verify_aggregate_span(&moved, tip3),
        Err(SpanError::Aggregate(AggregateError::Rejected(_)))
    ));
}

#[test]
fn the_builder_refuses_what_it_cannot_aggregate() {
    let f = fixture();
    // A genesis without the SRS pin is another chain; with the pin of another SRS, refused.
    let other_srs = other_srs();
    let error = build(&f.genesis, &f.blocks, &other_srs).unwrap_err();
    assert!(error.contains("does not pin this SRS"), "{error}");

    // A zk-transfer blob with a Merkle witness (a chain proven without --witness zk).
    let dir = tempfile::tempdir().unwrap();
    let (workload, chain) = (dir.path().join("w"), dir.path().join("c"));
    gen_tiny("zk-transfer", "1", &workload, &[]);
    prove_workload(&workload, &dir.path().join("p.redb"), &chain, &[]);
    let out = stateless(&[
        "history",
        "span",
        "--aggregate",
        "--srs",
        path(&f.dir.join("srs")),
        "--chain",
        path(&chain),
        "--from",
        "0",
        "--to",
        "1",
        "--out",
        path(&dir.path().join("s")),
    ]);
    assert_ne!(out.status.code(), Some(0));
    let message = common::stderr(&out);
    assert!(
        message.contains("verifying key") || message.contains("no zk proof"),
        "{message}"
    );
    // The verifier, given that chain's ends: it pins no key.
    assert_eq!(
        with_ends_of(&chain, 1, &[]),
        Some(SpanError::AggregateKeyCount { pinned: 0 })
    );

    // A chain proven with the key but without --srs: the verifier finds no SRS pin.
    let (workload, chain) = (dir.path().join("w2"), dir.path().join("c2"));
    gen_tiny("zk-transfer", "1", &workload, &[]);
    prove_workload(
        &workload,
        &dir.path().join("p2.redb"),
        &chain,
        &["--witness", "zk", "--keys", path(&f.dir.join("keys"))],
    );
    assert_eq!(
        with_ends_of(&chain, 1, std::slice::from_ref(&f.key)),
        Some(SpanError::NoSrsPin)
    );
}
