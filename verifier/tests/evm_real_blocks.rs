//! Real Holesky blocks with their witnesses (`../shared/fixtures/real-blocks/`, provenance in
//! its README) executed and checked statelessly, and tampered copies rejected for the reason
//! the tampering breaks. The fixtures stay outside the repository: without them this test skips,
//! except under CI (`CI=true`), where their absence fails it.

use std::path::PathBuf;

use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::B256;
use alloy_rlp::{Decodable, Encodable};
use verifier::evm::{ChainSpec, EvmError, WitnessDb, WitnessError, decode_block, verify_block};
use witness_format::EvmSchedule;

/// Verifies the block `rlp` of chain `chain_id` (its published schedule); its post-state root.
fn verify_rlp(chain_id: u64, rlp: &[u8], root: B256, db: WitnessDb) -> Result<B256, EvmError> {
    let spec = ChainSpec::new(chain_id, EvmSchedule::Published)?;
    let block = decode_block(rlp)?;
    verify_block(&spec, &block, root, db, None).map(|checked| checked.header.state_root)
}
use verifier::mpt::{TrieError, keccak};

struct Fixture {
    chain_id: u64,
    anchor_number: u64,
    anchor_state_root: B256,
    ancestor_hashes: Vec<B256>,
    rlp: Vec<u8>,
    nodes: Vec<Vec<u8>>,
    codes: Vec<Vec<u8>>,
}

fn hex(value: &serde_json::Value) -> Vec<u8> {
    let text = value.as_str().expect("a hex string");
    hex::decode(text.trim_start_matches("0x")).expect("hex")
}

fn hash(value: &serde_json::Value) -> B256 {
    B256::from_slice(&hex(value))
}

fn fixture(name: &str) -> Option<Fixture> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/real-blocks")
        .join(name);
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing under CI",
            path.display()
        );
        eprintln!("skipping: {} is missing", path.display());
        return None;
    };
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let anchor = &json["anchor"];
    let block = &json["blocks"][0];
    let list = |value: &serde_json::Value| -> Vec<Vec<u8>> {
        value.as_array().expect("a list").iter().map(hex).collect()
    };
    Some(Fixture {
        chain_id: json["chain_id"].as_u64().expect("chain id"),
        anchor_number: anchor["number"].as_u64().expect("number"),
        anchor_state_root: hash(&anchor["state_root"]),
        ancestor_hashes: anchor["ancestor_hashes"]
            .as_array()
            .expect("hashes")
            .iter()
            .map(hash)
            .collect(),
        rlp: hex(&block["rlp"]),
        nodes: list(&block["witness"]["state"]),
        codes: list(&block["witness"]["codes"]),
    })
}

impl Fixture {
    /// Verifies `rlp` against this fixture's witness, with `nodes` and `codes` as given.
    fn check(
        &self,
        rlp: &[u8],
        nodes: &[Vec<u8>],
        codes: &[Vec<u8>],
        root: B256,
    ) -> Result<B256, EvmError> {
        // The anchor is the block's parent: its own hash first, then its ancestors.
        let db = WitnessDb::new(
            nodes.iter().map(Vec::as_slice),
            codes.iter().map(Vec::as_slice),
            self.anchor_number + 1,
            self.ancestor_hashes.iter().copied(),
        );
        verify_rlp(self.chain_id, rlp, root, db)
    }

    fn verify(&self) -> Result<B256, EvmError> {
        self.check(&self.rlp, &self.nodes, &self.codes, self.anchor_state_root)
    }

    fn block(&self) -> Block<TxEnvelope> {
        Block::decode(&mut self.rlp.as_slice()).expect("a block")
    }
}

fn encode(block: &Block<TxEnvelope>) -> Vec<u8> {
    let mut out = Vec::new();
    block.encode(&mut out);
    out
}

#[test]
fn real_holesky_blocks_verify_from_their_witnesses() {
    for name in ["holesky-2927143.json", "holesky-2971844.json"] {
        let Some(f) = fixture(name) else { return };
        let root = f.verify().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(root, f.block().header.state_root, "{name}");
    }
}

#[test]
fn tampered_real_blocks_are_rejected_for_what_was_changed() {
    let Some(f) = fixture("holesky-2971844.json") else {
        return;
    };
    // Dropping a node the block needs is a missing node naming it, never a wrong root; a node
    // it does not need (real witnesses carry a few) changes nothing.
    let state_root = f.block().header.state_root;
    let mut needed = 0;
    for dropped in 0..f.nodes.len() {
        let mut nodes = f.nodes.clone();
        let node = nodes.remove(dropped);
        match f.check(&f.rlp, &nodes, &f.codes, f.anchor_state_root) {
            Err(EvmError::Witness(
                WitnessError::Account {
                    error: TrieError::MissingNode { hash, .. },
                    ..
                }
                | WitnessError::Storage {
                    error: TrieError::MissingNode { hash, .. },
                    ..
                },
            )) => {
                assert_eq!(hash, keccak(&node), "node {dropped}");
                needed += 1;
            }
            Ok(root) => assert_eq!(root, state_root, "node {dropped} unused"),
            other => panic!("node {dropped} dropped: {other:?}"),
        }
    }
    eprintln!("{needed} of {} witness nodes needed", f.nodes.len());
    assert!(
        needed > f.nodes.len() / 2,
        "{needed} of {} nodes needed",
        f.nodes.len()
    );
    // The code the block runs.
    let code_hash = B256::from(keccak(&f.codes[0]));
    assert!(matches!(
        f.check(&f.rlp, &f.nodes, &[], f.anchor_state_root),
        Err(EvmError::Witness(WitnessError::MissingCode(hash))) if hash == code_hash
    ));
    // An extra node nobody needs is harmless.
    let mut extra = f.nodes.clone();
    extra.push(vec![0xc2, 0x80, 0x80]);
    assert!(
        f.check(&f.rlp, &extra, &f.codes, f.anchor_state_root)
            .is_ok()
    );
    // A wrong anchor state root: its node is not in the witness.
    let wrong = B256::repeat_byte(0x11);
    assert!(matches!(
        f.check(&f.rlp, &f.nodes, &f.codes, wrong),
        Err(EvmError::Witness(WitnessError::Account { error: TrieError::MissingNode { hash, .. }, .. })) if hash == wrong.0
    ));
    // Header fields that execution decides.
    let field = |change: &dyn Fn(&mut Block<TxEnvelope>)| {
        let mut block = f.block();
        change(&mut block);
        match f.check(&encode(&block), &f.nodes, &f.codes, f.anchor_state_root) {
            Err(EvmError::HeaderMismatch { field, .. }) => field,
            other => panic!("tampered header accepted or rejected otherwise: {other:?}"),
        }
    };
    assert_eq!(
        field(&|b| b.header.state_root = B256::repeat_byte(1)),
        "state root"
    );
    assert_eq!(field(&|b| b.header.gas_used -= 1), "gas used");
    assert_eq!(
        field(&|b| b.header.receipts_root = B256::repeat_byte(2)),
        "receipts root"
    );
    // Two transactions swapped: the transaction root no longer matches (or a nonce breaks).
    let mut swapped = f.block();
    swapped.body.transactions.swap(0, 1);
    assert!(
        f.check(&encode(&swapped), &f.nodes, &f.codes, f.anchor_state_root)
            .is_err()
    );
}

/// The rejections before execution, and an ancestor hash the block reads: each by name.
#[test]
fn unknown_chains_undecodable_blocks_and_missing_ancestors_are_rejected() {
    let Some(f) = fixture("holesky-2971844.json") else {
        return;
    };
    let db = || {
        WitnessDb::new(
            f.nodes.iter().map(Vec::as_slice),
            f.codes.iter().map(Vec::as_slice),
            f.anchor_number + 1,
            [],
        )
    };
    assert!(matches!(
        verify_rlp(424_242, &f.rlp, f.anchor_state_root, db()),
        Err(EvmError::Fork(_))
    ));
    assert!(matches!(
        verify_rlp(
            f.chain_id,
            &f.rlp[..f.rlp.len() / 2],
            f.anchor_state_root,
            db()
        ),
        Err(EvmError::Decode(_))
    ));
    // Without the ancestor hashes: if the block reads one, the witness lacks it (by number);
    // if it reads none, it verifies all the same.
    match verify_rlp(f.chain_id, &f.rlp, f.anchor_state_root, db()) {
        Err(EvmError::Witness(WitnessError::MissingBlockHash(number))) => {
            assert!(
                number <= f.anchor_number && number + 256 > f.anchor_number,
                "{number}"
            );
        }
        Ok(root) => assert_eq!(root, f.block().header.state_root),
        other => panic!("{other:?}"),
    }
}
