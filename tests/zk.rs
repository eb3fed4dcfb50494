//! `zk-transfer` end to end through the CLI: gen, zk setup, prove with zk witnesses, verify;
//! and each zk-specific rejection (exit 1, with its reason). Tiny shapes: depth 4, batch 2.

mod common;

use common::{
    block_file, gen_tiny, ok, path, prove_workload, stateless, zk_setup_tiny, zk_setup_tiny_with,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use verifier::zk_transfer::groth16::decode_verifying_key;
use verifier::{ChainVerifier, Reason};
use witness_format::{Block, Genesis, Witness, ZK_PROOF_BYTES, decode_file, encode_file};

/// gen → zk setup → prove --witness zk; returns (chain dir, keys dir).
fn zk_chain(dir: &Path) -> (PathBuf, PathBuf) {
    let (workload, db, chain, keys) = (
        dir.join("w"),
        dir.join("p.redb"),
        dir.join("c"),
        dir.join("keys"),
    );
    gen_tiny("zk-transfer", "2", &workload, &[]);
    let vk_hash = zk_setup_tiny(&keys, "1");
    assert!(
        vk_hash.starts_with("0x") && vk_hash.len() == 66,
        "{vk_hash}"
    );
    prove_workload(
        &workload,
        &db,
        &chain,
        &["--witness", "zk", "--keys", path(&keys)],
    );
    (chain, keys)
}

/// Keys with shared levels through the CLI: `zk setup --shared-levels` writes them, `prove`
/// proves every blob whose accounts share a subtree and says how many it could not, and the
/// chain verifies.
#[test]
fn zk_chain_with_shared_levels() {
    let dir = tempfile::tempdir().unwrap();
    let (workload, db, chain, keys) = (
        dir.path().join("w"),
        dir.path().join("p.redb"),
        dir.path().join("c"),
        dir.path().join("keys"),
    );
    gen_tiny("zk-transfer", "4", &workload, &[]);
    zk_setup_tiny_with(&keys, "1", &["--shared-levels", "1"]);
    let shape: serde_json::Value =
        serde_json::from_slice(&std::fs::read(keys.join("shape.json")).unwrap()).unwrap();
    assert_eq!(shape["shared_levels"], 1, "{shape}");
    let stderr = prove_workload(
        &workload,
        &db,
        &chain,
        &["--witness", "zk", "--keys", path(&keys)],
    );
    let (mut proven, mut merkle) = (0, 0);
    for height in 1..=4 {
        let block: Block =
            decode_file(&std::fs::read(block_file(&chain, height)).unwrap()).unwrap();
        for blob in block.blobs.iter() {
            match blob.witness {
                Witness::Zk(_) => proven += 1,
                Witness::Merkle(_) => merkle += 1,
                _ => panic!("a {} witness", blob.witness.kind_name()),
            }
        }
    }
    // The workload's accounts fit the lower half of the tree, one subtree.
    assert!(
        proven > 0 && proven + merkle >= 4,
        "{proven} proven, {merkle} Merkle"
    );
    assert_eq!(
        stderr.contains(&format!("{merkle} zk-transfer blobs kept Merkle witnesses")),
        merkle > 0,
        "{stderr}"
    );
    ok(&stateless(&["verify", path(&chain)]), "verify");
}

fn edit_block(chain: &Path, height: u64, edit: impl FnOnce(&mut Block)) {
    let file = block_file(chain, height);
    let mut block: Block = decode_file(&std::fs::read(&file).unwrap()).unwrap();
    edit(&mut block);
    std::fs::write(&file, encode_file(&block)).unwrap();
}

fn rejected(chain: &Path, extra: &[&str]) -> String {
    let mut args = vec!["verify", path(chain)];
    args.extend_from_slice(extra);
    let out = stateless(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn zk_chain_end_to_end_and_every_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, keys) = zk_chain(dir.path());

    // Valid: with the chain's own key copy, and with --keys too.
    ok(&stateless(&["verify", path(&chain)]), "verify");
    ok(
        &stateless(&["verify", path(&chain), "--keys", path(&keys)]),
        "verify --keys",
    );
    for height in [1, 2] {
        let block: Block =
            decode_file(&std::fs::read(block_file(&chain, height)).unwrap()).unwrap();
        assert_eq!(block.blobs.len(), 1);
        assert!(matches!(block.blobs[0].witness, Witness::Zk(_)));
    }

    let fresh = |name: &str| {
        let copy = dir.path().join(name);
        copy_dir(&chain, &copy);
        copy
    };

    // A proof moved to another blob (block 2's proof in block 1's blob).
    let moved = fresh("moved");
    let second: Block = decode_file(&std::fs::read(block_file(&chain, 2)).unwrap()).unwrap();
    edit_block(&moved, 1, |block| {
        block.blobs[0].witness = second.blobs[0].witness.clone();
    });
    let stderr = rejected(&moved, &[]);
    assert!(
        stderr.contains("block 1, blob 0: zk proof: proof does not verify"),
        "{stderr}"
    );

    // Two bad proofs in one window, the later one undecodable: the blocks' proofs are checked
    // in one batch, and its failure is reported as one-by-one checking would, at block 1.
    let both = fresh("both");
    edit_block(&both, 1, |block| {
        block.blobs[0].witness = second.blobs[0].witness.clone();
    });
    edit_block(&both, 2, |block| {
        if let Witness::Zk(w) = &mut block.blobs[0].witness {
            w.proof.0 = [0xff; ZK_PROOF_BYTES];
        }
    });
    let stderr = rejected(&both, &[]);
    assert!(
        stderr.contains("block 1, blob 0: zk proof: proof does not verify"),
        "{stderr}"
    );
    // Block 2's alone: named with its own reason, the proof does not decode.
    let undecodable = fresh("undecodable");
    edit_block(&undecodable, 2, |block| {
        if let Witness::Zk(w) = &mut block.blobs[0].witness {
            w.proof.0 = [0xff; ZK_PROOF_BYTES];
        }
    });
    let stderr = rejected(&undecodable, &[]);
    assert!(
        stderr.contains("block 2, blob 0: zk proof: proof bytes do not decode"),
        "{stderr}"
    );

    // A tampered proof byte.
    let tampered = fresh("tampered");
    edit_block(&tampered, 2, |block| {
        if let Witness::Zk(w) = &mut block.blobs[0].witness {
            w.proof.0[100] ^= 0x01;
        }
    });
    let stderr = rejected(&tampered, &[]);
    assert!(stderr.contains("block 2, blob 0: zk proof: "), "{stderr}");

    // Tampered transaction data.
    let data = fresh("data");
    edit_block(&data, 1, |block| {
        let mut txs = block.blobs[0].transactions.to_vec();
        txs[0].amount += 1;
        block.blobs[0].transactions = witness_format::ssz_types::VariableList::new(txs).unwrap();
    });
    let stderr = rejected(&data, &[]);
    assert!(
        stderr.contains("block 1, blob 0: zk proof: proof does not verify"),
        "{stderr}"
    );

    // A key the genesis does not pin: refused, whether given with --keys or in CHAIN_DIR/keys.
    let other_keys = dir.path().join("other-keys");
    let other_hash = zk_setup_tiny(&other_keys, "2");
    let stderr = rejected(&chain, &["--keys", path(&other_keys)]);
    assert!(
        stderr.contains(&format!(
            "verifying key {other_hash} is not pinned in the genesis"
        )),
        "{stderr}"
    );
    let swapped = fresh("swapped");
    std::fs::copy(
        other_keys.join("vk.bin"),
        swapped.join("keys").join("batch-00002.vk"),
    )
    .unwrap();
    let stderr = rejected(&swapped, &[]);
    assert!(stderr.contains("is not pinned in the genesis"), "{stderr}");

    // Proofs made under another key, checked with the pinned one: a chain proven with the
    // other keys, its blocks put under this chain's genesis and key copy.
    let other_chain = dir.path().join("other");
    let out = stateless(&[
        "prove",
        "--workload",
        path(&dir.path().join("w")),
        "--db",
        path(&dir.path().join("other.redb")),
        "--out",
        path(&other_chain),
        "--witness",
        "zk",
        "--keys",
        path(&other_keys),
    ]);
    ok(&out, "prove with other keys");
    let forged = fresh("forged");
    edit_block(&forged, 1, |block| {
        let theirs: Block =
            decode_file(&std::fs::read(block_file(&other_chain, 1)).unwrap()).unwrap();
        for (mine, theirs) in block.blobs.iter_mut().zip(theirs.blobs.iter()) {
            mine.witness = theirs.witness.clone();
        }
    });
    let stderr = rejected(&forged, &[]);
    assert!(
        stderr.contains("block 1, blob 0: zk proof: proof does not verify"),
        "{stderr}"
    );

    // No key at all: the zk blobs cannot be checked.
    let keyless = fresh("keyless");
    std::fs::remove_dir_all(keyless.join("keys")).unwrap();
    let stderr = rejected(&keyless, &[]);
    assert!(stderr.contains("was not loaded"), "{stderr}");

    // The prover database is pinned: re-running with other keys is refused.
    let out = stateless(&[
        "prove",
        "--workload",
        path(&dir.path().join("w")),
        "--db",
        path(&dir.path().join("p.redb")),
        "--out",
        path(&chain),
        "--witness",
        "zk",
        "--keys",
        path(&other_keys),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("database holds chain"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zk_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let workload = dir.path().join("w");
    ok(
        &stateless(&[
            "gen",
            "--depth",
            "4",
            "--accounts",
            "4",
            "--blocks",
            "1",
            "--txs-per-block",
            "2",
            "--out",
            path(&workload),
        ]),
        "gen",
    );
    // --witness zk without keys, and a transfer workload with zk keys.
    let (db, chain) = (dir.path().join("p.redb"), dir.path().join("c"));
    let prove = |extra: &[&str]| {
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
        stateless(&args)
    };
    assert_eq!(prove(&["--witness", "zk"]).status.code(), Some(2));
    let keys = dir.path().join("keys");
    zk_setup_tiny(&keys, "3");
    let out = prove(&["--witness", "zk", "--keys", path(&keys)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("needs a workload with the zk-transfer model"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stateless(&["zk", "setup", "--batch", "0", "--out", path(&keys)])
            .status
            .code(),
        Some(2)
    );
    let no_path = stateless(&[
        "zk",
        "setup",
        "--depth",
        "4",
        "--batch",
        "1",
        "--shared-levels",
        "4",
        "--out",
        path(&keys),
    ]);
    assert_eq!(no_path.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&no_path.stderr).contains("4 shared levels leave no path"),
        "{}",
        String::from_utf8_lossy(&no_path.stderr)
    );
}

/// The name of the enum variant at the start of a `Debug` rendering.
fn variant(debug: &str) -> String {
    debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// What a mutated block file comes to: the decoder's or the verifier's reason, or `None` if it
/// verifies. zk proof failures keep their inner kind, to tell points that do not decode from
/// points that decode into a proof that fails.
fn mutation_outcome(verifier: &ChainVerifier, bytes: &[u8]) -> Option<String> {
    let block = match decode_file::<Block>(bytes) {
        Err(error) => return Some(format!("decode {}", variant(&format!("{error:?}")))),
        Ok(block) => block,
    };
    let mut verifier = verifier.clone();
    match verifier.verify_blocks(&[block]) {
        Ok(()) => None,
        Err(error) => Some(match &error.reason {
            Reason::ZkProof(inner) => format!("verify ZkProof({})", variant(&format!("{inner:?}"))),
            reason => format!("verify {}", variant(&format!("{reason:?}"))),
        }),
    }
}

/// Equihash's `all_bits_matter` for a zk block file: every single-bit flip and every whole-byte
/// flip of a proven `zk-transfer` block is undecodable or rejected. The prover's own block, with
/// its real predecessor already verified, so that only the mutation can fail.
///
/// A flip of the proof's 384 bytes leaves a point off the curve or outside the subgroup, or sets
/// a flag the uncompressed encoding forbids: the decoder refuses it. Flips of the public inputs'
/// sources (the roots) decode and must fail the pairing check. The test asserts that both kinds
/// occur.
#[test]
fn no_single_bit_or_byte_flip_of_a_zk_block_file_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, _) = zk_chain(dir.path());
    let genesis: Genesis = decode_file(&std::fs::read(chain.join("genesis.bin")).unwrap()).unwrap();
    let key =
        decode_verifying_key(&std::fs::read(chain.join("keys").join("batch-00002.vk")).unwrap())
            .unwrap();
    let first: Block = decode_file(&std::fs::read(block_file(&chain, 1)).unwrap()).unwrap();
    let mut verifier = ChainVerifier::with_zk_keys(&genesis, &[key]).unwrap();
    verifier.verify_blocks(&[first]).unwrap();

    let file = std::fs::read(block_file(&chain, 2)).unwrap();
    let honest: Block = decode_file(&file).unwrap();
    assert_eq!(honest.blobs.len(), 1);
    assert_eq!(honest.blobs[0].transactions.len(), 2);
    assert!(matches!(honest.blobs[0].witness, Witness::Zk(_)));
    assert_eq!(mutation_outcome(&verifier, &file), None, "the honest file");

    let start = Instant::now();
    let outcomes: Vec<(usize, u8, Option<String>)> = (0..file.len())
        .into_par_iter()
        .flat_map_iter(|position| {
            // Every single bit, and the whole byte.
            [1u8, 2, 4, 8, 16, 32, 64, 128, 0xff].map(|mask| (position, mask))
        })
        .map(|(position, mask)| {
            let mut bytes = file.clone();
            bytes[position] ^= mask;
            (position, mask, mutation_outcome(&verifier, &bytes))
        })
        .collect();
    let elapsed = start.elapsed();

    let accepted: Vec<(usize, u8)> = outcomes
        .iter()
        .filter(|(_, _, outcome)| outcome.is_none())
        .map(|&(position, mask, _)| (position, mask))
        .collect();
    assert!(
        accepted.is_empty(),
        "mutated files that verify (position, xor mask): {accepted:?}"
    );
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, outcome) in &outcomes {
        *tally
            .entry(outcome.as_deref().unwrap_or_default())
            .or_default() += 1;
    }
    eprintln!(
        "{} bytes, {} mutations in {elapsed:?}: {tally:#?}",
        file.len(),
        outcomes.len()
    );
    // The flips reach every kind of check: frame, decoder, linkage, the public inputs' field
    // elements and keys, and the proof both as points and as a proof. (A flipped pre-state root
    // is caught by the proof, whose public inputs bind it, before the linkage pass could; and a
    // flipped transaction changes the blob's commitment, so the header's blob root rejects it
    // first: errors are reported in chain order, header before blobs.)
    for expected in [
        "decode BadMagic",
        "decode UnsupportedVersion",
        "decode LengthMismatch",
        "decode Payload",
        "verify HeightMismatch",
        "verify ParentHashMismatch",
        "verify HistoryRootMismatch",
        "verify BlobsRootMismatch",
        "verify HeaderStateRootsMismatch",
        "verify NonCanonicalFieldElement",
        "verify InvalidNewAccountKey",
        "verify ZkProof(UndecodableProof)",
        "verify ZkProof(ProofRejected)",
    ] {
        assert!(tally.contains_key(expected), "no mutation gave {expected}");
    }
}
