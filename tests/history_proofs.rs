//! History proofs end to end: the prover proves facts about a chain's past, the verifier checks
//! them against one header, and every kind of tampering is rejected for its specific reason.
//!
//! Accept and reject sit side by side: every tampering starts from a proof that verifies, so a
//! rejection can only come from the change.

mod common;

use common::{ok, path, stateless};

use std::process::Output;
use std::sync::OnceLock;

use prover::workload::{WorkloadSpec, generate};
use prover::{BlockOptions, FactQuery, ProverState};
use verifier::HistoryProofError as E;
use verifier::accumulator::MmrProofError;
use verifier::hash::{ListPathError, header_hash, list_tree_height};
use verifier::transfer::TRANSFER_TREE;
use verifier::tree::SparseTree;
use verifier::{Location, ProvenFact, Reason, VerifyError, verify_history_proof};
use witness_format::limits::{
    MAX_ACCOUNT_PATH_SIBLINGS, MAX_LIST_PATH_HASHES, MAX_MMR_PEAKS, MAX_TREE_DEPTH,
};
use witness_format::ssz_types::{BitList, VariableList};
use witness_format::{
    AccountFact, AccountLeaf, Anchor, BlobFact, BlobInclusion, Block, DecodeError, FileKind,
    Hash32, Header, HistoryFact, HistoryProof, Model, SszEncode, TransactionFact, decode_file,
    encode_file,
};

// ---------------------------------------------------------------------------------------------
// Chains
// ---------------------------------------------------------------------------------------------

/// The tip most proofs are checked against: 13 = 8 + 4 + 1, three peaks.
const TIP: u64 = 13;
/// The fork shares blocks 1..=FORK_AT with the main chain and differs after.
const FORK_AT: u64 = 7;
/// Depth of the test chains' state trees.
const DEPTH: u8 = 16;

/// A chain built by a prover that stays open, so it can prove facts about it.
struct Chain {
    _dir: tempfile::TempDir,
    state: ProverState,
    blocks: Vec<Block>,
}

impl Chain {
    fn header(&self, height: u64) -> &Header {
        &self.blocks[height as usize - 1].header
    }

    fn proof(&self, tip: u64, query: FactQuery) -> HistoryProof {
        self.state
            .history_proof(tip, query)
            .unwrap_or_else(|e| panic!("proving {query:?} against {tip}: {e}"))
    }
}

fn spec(seed: u64, chain_id: u64) -> WorkloadSpec {
    WorkloadSpec {
        chain_id,
        tree_depth: DEPTH,
        accounts: 32,
        blocks: TIP as usize,
        txs_per_block: 9,
        seed,
        new_account_percent: 25,
    }
}

/// Builds the workload's blocks; block `h` gets blobs of `txs_per_blob(h)` transactions.
fn build(spec: &WorkloadSpec, txs_per_blob: impl Fn(u64) -> usize) -> Chain {
    let dir = tempfile::tempdir().unwrap();
    let workload = generate(spec);
    let mut state = ProverState::open(&dir.path().join("p.redb"), &workload.allocation).unwrap();
    let blocks = (1u64..)
        .zip(&workload.batches)
        .map(|(height, batch)| {
            let options = BlockOptions {
                txs_per_blob: txs_per_blob(height),
                ..BlockOptions::default()
            };
            let (block, report) = state.build_block(&batch.transactions, options).unwrap();
            assert!(report.dropped.is_empty());
            block
        })
        .collect();
    Chain {
        _dir: dir,
        state,
        blocks,
    }
}

/// The main chain: blobs of 4 transactions, so blocks of 9 have 3 blobs (4, 4, 1).
fn chain() -> &'static Chain {
    static CHAIN: OnceLock<Chain> = OnceLock::new();
    CHAIN.get_or_init(|| build(&spec(11, 5), |_| 4))
}

/// The same genesis and transactions, cut into other blobs after [`FORK_AT`]: a fork.
fn fork() -> &'static Chain {
    static CHAIN: OnceLock<Chain> = OnceLock::new();
    CHAIN.get_or_init(|| build(&spec(11, 5), |h| if h <= FORK_AT { 4 } else { 3 }))
}

/// Another chain altogether.
fn other() -> &'static Chain {
    static CHAIN: OnceLock<Chain> = OnceLock::new();
    CHAIN.get_or_init(|| build(&spec(12, 6), |_| 4))
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn tip() -> &'static Header {
    chain().header(TIP)
}

/// The rejection of `proof` against `tip`, which must be a history-proof reason.
fn rejection(proof: &HistoryProof, tip: &Header) -> (E, Location) {
    match verify_history_proof(proof, tip) {
        Ok(fact) => panic!("tampered proof accepted as {fact:?}"),
        Err(VerifyError {
            reason: Reason::HistoryProof(error),
            location,
        }) => (error, location),
        Err(other) => panic!("not a history-proof rejection: {other}"),
    }
}

fn reason(proof: &HistoryProof, tip: &Header) -> E {
    rejection(proof, tip).0
}

fn at(block: u64, blob: Option<usize>, transaction: Option<usize>) -> Location {
    Location {
        block: Some(block),
        blob,
        transaction,
    }
}

fn flip(hash: &mut Hash32) {
    hash.0[7] ^= 0x10;
}

fn header_proof(height: u64) -> HistoryProof {
    chain().proof(TIP, FactQuery::Header { height })
}

fn blob_proof() -> HistoryProof {
    chain().proof(TIP, FactQuery::Blob { height: 6, blob: 1 })
}

fn tx_proof() -> HistoryProof {
    chain().proof(
        TIP,
        FactQuery::Transaction {
            height: 9,
            blob: 1,
            transaction: 2,
        },
    )
}

fn account_proof(height: u64, account: u64) -> HistoryProof {
    chain().proof(
        TIP,
        FactQuery::Account {
            height,
            model: Model::Transfer,
            account,
        },
    )
}

fn anchor_header(proof: &mut HistoryProof) -> &mut Header {
    match &mut proof.fact {
        HistoryFact::Anchor(Anchor::Header(header))
        | HistoryFact::Account(AccountFact {
            anchor: Anchor::Header(header),
            ..
        })
        | HistoryFact::Blob(BlobFact { header, .. })
        | HistoryFact::Transaction(TransactionFact { header, .. }) => header,
        other => panic!("no header anchor in {other:?}"),
    }
}

fn blob_of(proof: &mut HistoryProof) -> &mut BlobInclusion {
    match &mut proof.fact {
        HistoryFact::Blob(fact) => &mut fact.blob,
        HistoryFact::Transaction(fact) => &mut fact.blob,
        other => panic!("no blob in {other:?}"),
    }
}

fn tx_of(proof: &mut HistoryProof) -> &mut witness_format::TransactionInclusion {
    match &mut proof.fact {
        HistoryFact::Transaction(fact) => &mut fact.transaction,
        other => panic!("no transaction in {other:?}"),
    }
}

fn account_of(proof: &mut HistoryProof) -> &mut AccountFact {
    match &mut proof.fact {
        HistoryFact::Account(fact) => fact,
        other => panic!("no account in {other:?}"),
    }
}

fn list<T, N: witness_format::ssz_types::typenum::Unsigned>(items: Vec<T>) -> VariableList<T, N> {
    VariableList::new(items).unwrap()
}

fn bits(values: &[bool]) -> BitList<witness_format::limits::MaxAccountPathSiblings> {
    let mut out = BitList::with_capacity(values.len()).unwrap();
    for (i, &bit) in values.iter().enumerate() {
        out.set(i, bit).unwrap();
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

/// Every height against tips of every peak shape (1, 2, 3 = 2 + 1, 8, 12 = 8 + 4, 13), with
/// facts at 0, 1, tip - 1 and the tip itself among them.
#[test]
fn every_kind_of_fact_round_trips() {
    let chain = chain();
    for tip in [1, 2, 3, 8, 12, TIP] {
        let tip_header = chain.header(tip);
        for height in 0..=tip {
            let proof = chain.proof(tip, FactQuery::Header { height });
            let fact = verify_history_proof(&proof, tip_header).unwrap();
            match fact {
                ProvenFact::Genesis { genesis, .. } => {
                    assert_eq!(height, 0);
                    assert_eq!(&genesis, chain.state.genesis());
                }
                ProvenFact::Header { header, hash } => {
                    assert_eq!(&header, chain.header(height));
                    assert_eq!(hash, header_hash(&header));
                }
                other => panic!("{other:?}"),
            }
            for account in [0, 7, 40] {
                let query = FactQuery::Account {
                    height,
                    model: Model::Transfer,
                    account,
                };
                let proof = chain.proof(tip, query);
                let fact = verify_history_proof(&proof, tip_header).unwrap();
                let ProvenFact::Account {
                    height: h,
                    account: a,
                    state_root,
                    ..
                } = fact
                else {
                    panic!("{fact:?}");
                };
                assert_eq!((h, a), (height, account));
                let expected = match height {
                    0 => chain.state.genesis().state_roots[0].root,
                    _ => chain.header(height).state_roots[0].root,
                };
                assert_eq!(state_root, expected);
            }
            if height == 0 {
                continue;
            }
            let block = &chain.blocks[height as usize - 1];
            assert_eq!(block.blobs.len(), 3);
            for blob in 0..3u64 {
                let proof = chain.proof(tip, FactQuery::Blob { height, blob });
                let fact = verify_history_proof(&proof, tip_header).unwrap();
                assert!(
                    matches!(fact, ProvenFact::Blob { height: h, index, .. } if h == height && index == blob)
                );
                let count = block.blobs[blob as usize].transactions.len() as u64;
                for transaction in [0, count - 1] {
                    let query = FactQuery::Transaction {
                        height,
                        blob,
                        transaction,
                    };
                    let proof = chain.proof(tip, query);
                    let fact = verify_history_proof(&proof, tip_header).unwrap();
                    let ProvenFact::Transaction {
                        transaction: tx, ..
                    } = fact
                    else {
                        panic!("{fact:?}");
                    };
                    assert_eq!(
                        tx,
                        block.blobs[blob as usize].transactions[transaction as usize]
                    );
                }
            }
        }
    }
}

/// The account values a proof shows are the state's at that height: the prover's current
/// leaf at the last height, and at genesis the allocation's.
#[test]
fn account_values_are_those_of_their_height() {
    let chain = chain();
    let workload = generate(&spec(11, 5));
    for account in 0..32u64 {
        let proof = account_proof(0, account);
        let Ok(ProvenFact::Account { leaf, .. }) = verify_history_proof(&proof, tip()) else {
            panic!("genesis account {account}");
        };
        assert_eq!(leaf, workload.allocation.accounts[account as usize]);
        let proof = account_proof(TIP, account);
        let Ok(ProvenFact::Account { leaf, .. }) = verify_history_proof(&proof, tip()) else {
            panic!("account {account} at the tip");
        };
        assert_eq!(leaf, chain.state.account(Model::Transfer, account).unwrap());
    }
    // An empty slot is provable too: its leaf is the empty one.
    let proof = account_proof(3, (1 << DEPTH) - 1);
    let Ok(ProvenFact::Account { leaf, .. }) = verify_history_proof(&proof, tip()) else {
        panic!("empty slot");
    };
    assert_eq!(leaf, AccountLeaf::EMPTY);
}

/// O(log n + depth) hashes: the ancestry part is at most two hashes per bit of the tip height,
/// a list path one per level of its tree, an account path at most the depth.
#[test]
fn proof_sizes_are_logarithmic() {
    let chain = chain();
    let bits = 64 - TIP.leading_zeros() as usize;
    for height in 0..TIP {
        let proof = header_proof(height);
        let hashes = proof.peak_path.len() + proof.other_peaks.len();
        assert!(hashes <= 2 * bits, "header {height}: {hashes} hashes");
        assert!(encode_file(&proof).len() <= 300 + 32 * hashes);
    }
    let mut proof = tx_proof();
    let hashes = proof.peak_path.len() + proof.other_peaks.len();
    let blob_path = blob_of(&mut proof).path.len();
    assert_eq!(blob_path, list_tree_height(3) as usize);
    assert_eq!(tx_of(&mut proof).path.len(), list_tree_height(4) as usize);
    assert!(encode_file(&proof).len() <= 600 + 32 * (hashes + blob_path + 2));
    let mut proof = account_proof(10, 3);
    let siblings = account_of(&mut proof).siblings.len();
    assert!(siblings <= DEPTH as usize);
    assert_eq!(account_of(&mut proof).sibling_present.len(), DEPTH as usize);
    assert!(encode_file(&proof).len() <= 400 + 32 * (hashes + siblings));
    // The tip itself needs no ancestry hashes.
    let proof = chain.proof(TIP, FactQuery::Header { height: TIP });
    assert!(proof.peak_path.is_empty() && proof.other_peaks.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Tampering: tip and ancestry
// ---------------------------------------------------------------------------------------------

#[test]
fn proof_against_another_tip_is_rejected() {
    let proof = header_proof(5);
    assert!(verify_history_proof(&proof, tip()).is_ok());
    // Another height.
    assert_eq!(
        reason(&proof, chain().header(TIP - 1)),
        E::TipHeightMismatch {
            proof: TIP,
            tip: TIP - 1
        }
    );
    // The same height on another chain.
    let other_tip = other().header(TIP);
    assert_eq!(
        rejection(&proof, other_tip),
        (
            E::NotAnAncestor {
                expected: other_tip.history_root,
                computed: tip().history_root,
            },
            at(5, None, None)
        )
    );
    // The claimed count.
    let mut wrong = proof.clone();
    wrong.tip_height += 1;
    assert_eq!(
        reason(&wrong, tip()),
        E::TipHeightMismatch {
            proof: TIP + 1,
            tip: TIP
        }
    );
}

/// A fork shares its headers up to the fork point: those are ancestors of both tips; a header
/// after it is an ancestor of its own tip only.
#[test]
fn headers_of_a_fork_are_not_ancestors() {
    let (main, fork) = (chain(), fork());
    assert_eq!(main.header(FORK_AT), fork.header(FORK_AT));
    assert_ne!(main.header(FORK_AT + 1), fork.header(FORK_AT + 1));
    // The shared header is an ancestor of both tips, each proving it with its own peaks.
    let shared = fork.proof(TIP, FactQuery::Header { height: FORK_AT });
    assert!(matches!(
        verify_history_proof(&shared, fork.header(TIP)),
        Ok(ProvenFact::Header { header, .. }) if &header == main.header(FORK_AT)
    ));
    // The main chain's proof of it does not fit the fork's tip: the later peaks differ.
    let main_proof = main.proof(TIP, FactQuery::Header { height: FORK_AT });
    assert!(verify_history_proof(&main_proof, main.header(TIP)).is_ok());
    assert!(matches!(
        reason(&main_proof, fork.header(TIP)),
        E::NotAnAncestor { .. }
    ));
    for height in FORK_AT + 1..TIP {
        let proof = main.proof(TIP, FactQuery::Header { height });
        assert!(verify_history_proof(&proof, main.header(TIP)).is_ok());
        assert!(matches!(
            rejection(&proof, fork.header(TIP)),
            (E::NotAnAncestor { .. }, location) if location == at(height, None, None)
        ));
        // Nor is the fork's header, carried with the main chain's path.
        let mut swapped = proof.clone();
        *anchor_header(&mut swapped) = fork.header(height).clone();
        assert!(matches!(
            reason(&swapped, main.header(TIP)),
            E::NotAnAncestor { .. }
        ));
    }
    // The fork's tip, carried as the main tip's "self" proof, is not the tip.
    let mut itself = main.proof(TIP, FactQuery::Header { height: TIP });
    *anchor_header(&mut itself) = fork.header(TIP).clone();
    assert_eq!(
        reason(&itself, main.header(TIP)),
        E::NotTheTip {
            expected: header_hash(main.header(TIP)),
            found: header_hash(fork.header(TIP)),
        }
    );
}

#[test]
fn tampered_anchor_headers_are_rejected() {
    let proof = header_proof(5);
    assert!(verify_history_proof(&proof, tip()).is_ok());
    let not_ancestor = |proof: &HistoryProof| {
        assert!(
            matches!(reason(proof, tip()), E::NotAnAncestor { expected, .. } if expected == tip().history_root)
        )
    };
    let changes: [fn(&mut Header); 6] = [
        |h| flip(&mut h.parent_hash),
        |h| flip(&mut h.history_root),
        |h| flip(&mut h.blobs_root),
        |h| flip(&mut h.state_roots[0].root),
        |h| h.state_roots = list(vec![]),
        // The leaf index is the height: 6 sits in the same peak, so the path has the same shape.
        |h| h.height = 6,
    ];
    for change in changes {
        let mut wrong = proof.clone();
        change(anchor_header(&mut wrong));
        not_ancestor(&wrong);
    }
    // Heights whose leaf is in another peak, past the tip, at the tip, or the genesis's.
    let with_height = |height| {
        let mut wrong = proof.clone();
        anchor_header(&mut wrong).height = height;
        reason(&wrong, tip())
    };
    assert_eq!(
        with_height(9),
        E::AncestryShape(MmrProofError::PathLength {
            expected: 2,
            found: 3
        })
    );
    assert_eq!(
        with_height(12),
        E::AncestryShape(MmrProofError::PathLength {
            expected: 0,
            found: 3
        })
    );
    assert_eq!(
        with_height(TIP + 1),
        E::NotInHistory {
            height: TIP + 1,
            tip: TIP
        }
    );
    assert_eq!(
        with_height(u64::MAX),
        E::NotInHistory {
            height: u64::MAX,
            tip: TIP
        }
    );
    assert_eq!(
        with_height(0),
        E::NotInHistory {
            height: 0,
            tip: TIP
        }
    );
    assert_eq!(
        with_height(TIP),
        E::AncestryShape(MmrProofError::PathLength {
            expected: 0,
            found: 3
        })
    );
}

#[test]
fn tampered_ancestry_paths_are_rejected() {
    let proof = header_proof(5);
    assert_eq!((proof.peak_path.len(), proof.other_peaks.len()), (3, 2));
    for i in 0..3 {
        let mut wrong = proof.clone();
        flip(&mut wrong.peak_path[i]);
        assert!(matches!(reason(&wrong, tip()), E::NotAnAncestor { .. }));
    }
    for i in 0..2 {
        let mut wrong = proof.clone();
        flip(&mut wrong.other_peaks[i]);
        assert!(matches!(reason(&wrong, tip()), E::NotAnAncestor { .. }));
    }
    let mut swapped = proof.clone();
    swapped.other_peaks = list(vec![proof.other_peaks[1], proof.other_peaks[0]]);
    assert!(matches!(reason(&swapped, tip()), E::NotAnAncestor { .. }));
    let mut reordered = proof.clone();
    reordered.peak_path = list(vec![
        proof.peak_path[1],
        proof.peak_path[0],
        proof.peak_path[2],
    ]);
    assert!(matches!(reason(&reordered, tip()), E::NotAnAncestor { .. }));

    let mut short = proof.clone();
    short.peak_path = list(proof.peak_path[..2].to_vec());
    assert_eq!(
        reason(&short, tip()),
        E::AncestryShape(MmrProofError::PathLength {
            expected: 3,
            found: 2
        })
    );
    let mut long = proof.clone();
    long.peak_path.push(Hash32::ZERO).unwrap();
    assert_eq!(
        reason(&long, tip()),
        E::AncestryShape(MmrProofError::PathLength {
            expected: 3,
            found: 4
        })
    );
    let mut fewer = proof.clone();
    fewer.other_peaks = list(proof.other_peaks[..1].to_vec());
    assert_eq!(
        reason(&fewer, tip()),
        E::AncestryShape(MmrProofError::PeakCount {
            expected: 2,
            found: 1
        })
    );
    let mut more = proof.clone();
    more.other_peaks.push(proof.other_peaks[0]).unwrap();
    assert_eq!(
        reason(&more, tip()),
        E::AncestryShape(MmrProofError::PeakCount {
            expected: 2,
            found: 3
        })
    );
    // The tip's own proof carries nothing.
    let itself = chain().proof(TIP, FactQuery::Header { height: TIP });
    assert!(verify_history_proof(&itself, tip()).is_ok());
    let mut extra = itself.clone();
    extra.other_peaks.push(Hash32::ZERO).unwrap();
    assert_eq!(
        reason(&extra, tip()),
        E::AncestryShape(MmrProofError::PeakCount {
            expected: 0,
            found: 1
        })
    );
    let mut extra = itself;
    extra.peak_path.push(Hash32::ZERO).unwrap();
    assert_eq!(
        reason(&extra, tip()),
        E::AncestryShape(MmrProofError::PathLength {
            expected: 0,
            found: 1
        })
    );
}

#[test]
fn tampered_genesis_anchors_are_rejected() {
    let proof = header_proof(0);
    assert!(matches!(
        verify_history_proof(&proof, tip()),
        Ok(ProvenFact::Genesis { .. })
    ));
    let HistoryFact::Anchor(Anchor::Genesis(genesis)) = &proof.fact else {
        panic!("not a genesis proof");
    };
    let mut wrong = proof.clone();
    let mut changed = genesis.clone();
    changed.chain_id += 1;
    wrong.fact = HistoryFact::Anchor(Anchor::Genesis(changed));
    assert!(matches!(
        rejection(&wrong, tip()),
        (E::NotAnAncestor { expected, .. }, location)
            if expected == tip().history_root && location == at(0, None, None)
    ));
    // Another chain's genesis.
    let mut foreign = proof.clone();
    foreign.fact = HistoryFact::Anchor(Anchor::Genesis(other().state.genesis().clone()));
    assert!(matches!(reason(&foreign, tip()), E::NotAnAncestor { .. }));
    // Header 1 in the genesis's place (leaf 1 instead of leaf 0).
    let mut header = proof.clone();
    header.fact = HistoryFact::Anchor(Anchor::Header(chain().header(1).clone()));
    assert!(matches!(reason(&header, tip()), E::NotAnAncestor { .. }));
}

// ---------------------------------------------------------------------------------------------
// Tampering: blobs and transactions
// ---------------------------------------------------------------------------------------------

#[test]
fn tampered_blob_proofs_are_rejected() {
    let proof = blob_proof();
    assert!(verify_history_proof(&proof, tip()).is_ok());
    let blob_root = chain().header(6).blobs_root;
    let root_mismatch = |change: &dyn Fn(&mut BlobInclusion)| {
        let mut wrong = proof.clone();
        change(blob_of(&mut wrong));
        let (error, location) = rejection(&wrong, tip());
        assert!(
            matches!(error, E::BlobsRootMismatch { expected, .. } if expected == blob_root),
            "{error}"
        );
        assert_eq!(location.block, Some(6));
    };
    root_mismatch(&|b| b.index = 0);
    root_mismatch(&|b| b.index = 2);
    root_mismatch(&|b| b.count = 4);
    root_mismatch(&|b| flip(&mut b.pre_state_root));
    root_mismatch(&|b| flip(&mut b.post_state_root));
    root_mismatch(&|b| flip(&mut b.transactions_root));
    root_mismatch(&|b| flip(&mut b.path[0]));
    root_mismatch(&|b| flip(&mut b.path[1]));

    let shape = |change: &dyn Fn(&mut BlobInclusion)| {
        let mut wrong = proof.clone();
        change(blob_of(&mut wrong));
        rejection(&wrong, tip())
    };
    assert_eq!(
        shape(&|b| b.index = 3),
        (
            E::BlobPath(ListPathError::IndexOutOfRange { index: 3, count: 3 }),
            at(6, Some(3), None)
        )
    );
    assert_eq!(
        shape(&|b| b.count = 5).0,
        E::BlobPath(ListPathError::PathLength {
            expected: 3,
            found: 2
        })
    );
    assert_eq!(
        shape(&|b| b.count = 0).0,
        E::BlobPath(ListPathError::IndexOutOfRange { index: 1, count: 0 })
    );
    assert_eq!(
        shape(&|b| {
            b.path = list(b.path[..b.path.len() - 1].to_vec());
        })
        .0,
        E::BlobPath(ListPathError::PathLength {
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        shape(&|b| b.path.push(Hash32::ZERO).unwrap()).0,
        E::BlobPath(ListPathError::PathLength {
            expected: 2,
            found: 3
        })
    );
    // The header: not an ancestor any more.
    let mut wrong = proof.clone();
    flip(&mut anchor_header(&mut wrong).blobs_root);
    assert!(matches!(reason(&wrong, tip()), E::NotAnAncestor { .. }));
    // A blob of another block, carried under this header.
    let mut moved = chain().proof(TIP, FactQuery::Blob { height: 7, blob: 1 });
    *anchor_header(&mut moved) = chain().header(6).clone();
    moved.peak_path = proof.peak_path.clone();
    moved.other_peaks = proof.other_peaks.clone();
    assert!(matches!(reason(&moved, tip()), E::BlobsRootMismatch { .. }));
    // No header has height 0, so no blob sits there.
    let mut genesis = proof.clone();
    anchor_header(&mut genesis).height = 0;
    assert_eq!(
        reason(&genesis, tip()),
        E::NotInHistory {
            height: 0,
            tip: TIP
        }
    );
}

#[test]
fn tampered_transaction_proofs_are_rejected() {
    let proof = tx_proof();
    assert!(verify_history_proof(&proof, tip()).is_ok());
    let HistoryFact::Transaction(fact) = &proof.fact else {
        panic!("not a transaction proof");
    };
    let tx_root = fact.blob.transactions_root;
    let count = fact.transaction.count;
    assert_eq!(count, 4);
    let mismatch = |change: &dyn Fn(&mut witness_format::TransactionInclusion)| {
        let mut wrong = proof.clone();
        change(tx_of(&mut wrong));
        let (error, location) = rejection(&wrong, tip());
        assert!(
            matches!(error, E::TransactionsRootMismatch { expected, .. } if expected == tx_root),
            "{error}"
        );
        assert_eq!((location.block, location.blob), (Some(9), Some(1)));
    };
    mismatch(&|t| t.transaction.amount += 1);
    mismatch(&|t| t.transaction.nonce += 1);
    mismatch(&|t| t.transaction.from ^= 1);
    mismatch(&|t| t.transaction.to ^= 1);
    mismatch(&|t| t.transaction.signature.0[63] ^= 1);
    mismatch(&|t| t.transaction.new_account_key.0[0] ^= 1);
    mismatch(&|t| t.index = 3);
    mismatch(&|t| t.count = 3);
    mismatch(&|t| flip(&mut t.path[0]));
    mismatch(&|t| flip(&mut t.path[1]));
    // Another transaction of the same blob in this one's place.
    let other_tx = chain().blocks[8].blobs[1].transactions[3];
    mismatch(&|t| t.transaction = other_tx);

    let mut wrong = proof.clone();
    tx_of(&mut wrong).index = 4;
    assert_eq!(
        rejection(&wrong, tip()),
        (
            E::TransactionPath(ListPathError::IndexOutOfRange { index: 4, count: 4 }),
            at(9, Some(1), Some(4))
        )
    );
    let mut wrong = proof.clone();
    let path = &mut tx_of(&mut wrong).path;
    *path = list(path[..path.len() - 1].to_vec());
    assert_eq!(
        reason(&wrong, tip()),
        E::TransactionPath(ListPathError::PathLength {
            expected: 2,
            found: 1
        })
    );
    let mut wrong = proof.clone();
    tx_of(&mut wrong).count = 5;
    assert_eq!(
        reason(&wrong, tip()),
        E::TransactionPath(ListPathError::PathLength {
            expected: 3,
            found: 2
        })
    );
    // The blob it claims to be in: the blob check comes first.
    let mut wrong = proof.clone();
    flip(&mut blob_of(&mut wrong).transactions_root);
    assert!(matches!(
        rejection(&wrong, tip()),
        (E::BlobsRootMismatch { .. }, location) if location == at(9, Some(1), None)
    ));
    let mut wrong = proof.clone();
    blob_of(&mut wrong).index = 0;
    assert!(matches!(reason(&wrong, tip()), E::BlobsRootMismatch { .. }));
}

// ---------------------------------------------------------------------------------------------
// Tampering: accounts
// ---------------------------------------------------------------------------------------------

#[test]
fn tampered_account_proofs_are_rejected() {
    let proof = account_proof(10, 3);
    let Ok(ProvenFact::Account { leaf, .. }) = verify_history_proof(&proof, tip()) else {
        panic!("honest account proof");
    };
    assert!(!leaf.is_empty());
    let state_root = chain().header(10).state_roots[0].root;
    let mismatch = |change: &dyn Fn(&mut AccountFact)| {
        let mut wrong = proof.clone();
        change(account_of(&mut wrong));
        let (error, location) = rejection(&wrong, tip());
        assert!(
            matches!(error, E::StateRootMismatch { expected, .. } if expected == state_root),
            "{error}"
        );
        assert_eq!(location, at(10, None, None));
    };
    mismatch(&|a| a.leaf.balance += 1);
    mismatch(&|a| a.leaf.nonce += 1);
    mismatch(&|a| a.leaf.public_key.0[5] ^= 1);
    mismatch(&|a| a.leaf = AccountLeaf::EMPTY);
    mismatch(&|a| a.account = 2);
    mismatch(&|a| a.account = 3 + (1 << 8));
    mismatch(&|a| flip(&mut a.siblings[0]));
    let carried = match &proof.fact {
        HistoryFact::Account(fact) => fact.siblings.len(),
        _ => unreachable!(),
    };
    mismatch(&|a| flip(&mut a.siblings[carried - 1]));
    // A path one level shorter, from the same bits and hashes (a state of depth 15).
    mismatch(&|a| {
        let present: Vec<bool> = (0..DEPTH as usize - 1)
            .map(|i| a.sibling_present.get(i).unwrap())
            .collect();
        let keep = present.iter().filter(|&&b| b).count();
        a.sibling_present = bits(&present);
        a.siblings = list(a.siblings[..keep].to_vec());
    });

    // The account's range is the transaction rule's, with its reason, at the block.
    let out_of_range = |account: u64| {
        let mut wrong = proof.clone();
        account_of(&mut wrong).account = account;
        let error = verify_history_proof(&wrong, tip()).expect_err("tampered");
        assert_eq!(error.location, at(10, None, None));
        error.reason
    };
    assert_eq!(
        out_of_range(1 << DEPTH),
        Reason::AccountOutOfRange {
            account: 1 << DEPTH,
            depth: DEPTH
        }
    );
    assert_eq!(
        out_of_range(u64::MAX),
        Reason::AccountOutOfRange {
            account: u64::MAX,
            depth: DEPTH
        }
    );
    // The bitmap rules are the multiproof's (one reader for both): their reasons, at the block.
    let multiproof = |change: &dyn Fn(&mut AccountFact)| {
        let mut wrong = proof.clone();
        change(account_of(&mut wrong));
        let error = verify_history_proof(&wrong, tip()).expect_err("tampered");
        assert_eq!(error.location, at(10, None, None));
        error.reason
    };
    assert_eq!(
        multiproof(&|a| {
            a.siblings = list(a.siblings[..a.siblings.len() - 1].to_vec());
        }),
        Reason::SiblingCountMismatch {
            expected: carried,
            found: carried - 1
        }
    );
    assert_eq!(
        multiproof(&|a| a.siblings.push(Hash32::ZERO).unwrap()),
        Reason::SiblingCountMismatch {
            expected: carried,
            found: carried + 1
        }
    );
    // A carried bit cleared: one hash too many for the bitmap.
    let first_carried = (0..DEPTH as usize)
        .find(|&i| match &proof.fact {
            HistoryFact::Account(f) => f.sibling_present.get(i).unwrap(),
            _ => unreachable!(),
        })
        .unwrap();
    assert_eq!(
        multiproof(&|a| a.sibling_present.set(first_carried, false).unwrap()),
        Reason::SiblingCountMismatch {
            expected: carried - 1,
            found: carried
        }
    );
}

/// Split from the test above: a carried default, the depth limits, an empty leaf with a
/// balance, and a model the anchor has no root for.
#[test]
fn non_canonical_account_proofs_are_rejected() {
    let proof = account_proof(10, 3);
    assert!(verify_history_proof(&proof, tip()).is_ok());
    let shape = |change: &dyn Fn(&mut AccountFact)| {
        let mut wrong = proof.clone();
        change(account_of(&mut wrong));
        reason(&wrong, tip())
    };
    let defaults = &TRANSFER_TREE;
    let top = DEPTH - 1;
    let mut wrong = proof.clone();
    let fact = account_of(&mut wrong);
    assert!(!fact.sibling_present.get(usize::from(top)).unwrap());
    fact.sibling_present.set(usize::from(top), true).unwrap();
    fact.siblings.push(defaults.empty(top)).unwrap();
    assert_eq!(
        verify_history_proof(&wrong, tip()),
        Err(VerifyError {
            reason: Reason::DefaultSiblingCarried {
                position: usize::from(top)
            },
            location: at(10, None, None),
        })
    );
    assert_eq!(
        shape(&|a| {
            a.sibling_present = bits(&[]);
            a.siblings = list(vec![]);
        }),
        E::AccountPathDepth { found: 0 }
    );
    // The bitmap cannot exceed 64 bits: that is a decoding limit.
    assert_eq!(usize::from(MAX_TREE_DEPTH), 64);

    // An empty slot with a balance hashes like the empty slot: rejected, one encoding each.
    let empty = account_proof(10, (1 << DEPTH) - 2);
    assert!(verify_history_proof(&empty, tip()).is_ok());
    let mut wrong = empty.clone();
    account_of(&mut wrong).leaf.balance = 1;
    assert_eq!(
        verify_history_proof(&wrong, tip()).map_err(|e| e.reason),
        Err(Reason::NonCanonicalEmptyLeaf { index: 0 })
    );

    // An anchor with no root for the model: only reachable at the tip itself, by a tip header
    // that has none (any other change to an ancestor breaks the ancestry first).
    let mut at_tip = account_proof(TIP, 3);
    let mut bare_tip = tip().clone();
    bare_tip.state_roots = list(vec![]);
    *anchor_header(&mut at_tip) = bare_tip.clone();
    assert_eq!(
        verify_history_proof(&at_tip, &bare_tip).map_err(|e| e.reason),
        Err(Reason::UnknownModel {
            model: Model::Transfer
        })
    );

    // The genesis state: the value at height 0 binds too.
    let genesis = account_proof(0, 3);
    assert!(verify_history_proof(&genesis, tip()).is_ok());
    let mut wrong = genesis.clone();
    account_of(&mut wrong).leaf.balance -= 1;
    assert!(matches!(
        rejection(&wrong, tip()),
        (E::StateRootMismatch { .. }, location) if location == at(0, None, None)
    ));
    // The leaf and path of height 9 under the anchor of height 10 (every block changes the
    // state, so the roots differ).
    let mut moved = account_proof(9, 3);
    account_of(&mut moved).anchor = Anchor::Header(chain().header(10).clone());
    moved.peak_path = proof.peak_path.clone();
    moved.other_peaks = proof.other_peaks.clone();
    assert!(matches!(reason(&moved, tip()), E::StateRootMismatch { .. }));
}

// ---------------------------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------------------------

/// Flipping any single bit of a proof file makes it undecodable or a proof that fails, never
/// a different valid proof.
#[test]
fn every_bit_of_a_proof_file_matters() {
    let proofs = [
        header_proof(0),
        header_proof(5),
        blob_proof(),
        tx_proof(),
        account_proof(10, 3),
        chain().proof(TIP, FactQuery::Header { height: TIP }),
    ];
    for proof in proofs {
        let file = encode_file(&proof);
        assert_eq!(decode_file::<HistoryProof>(&file).unwrap(), proof);
        let mut bad = file.clone();
        for bit in 0..file.len() * 8 {
            bad[bit / 8] ^= 1 << (bit % 8);
            if let Ok(decoded) = decode_file::<HistoryProof>(&bad) {
                assert!(
                    decoded == proof || verify_history_proof(&decoded, tip()).is_err(),
                    "flipping bit {bit} gives another valid proof"
                );
            }
            bad[bit / 8] ^= 1 << (bit % 8);
        }
    }
}

#[test]
fn proof_files_are_framed_and_bounded() {
    let proof = header_proof(5);
    let file = encode_file(&proof);
    assert_eq!(file[5], FileKind::HistoryProof as u8);
    assert_eq!(file[5], 5);
    assert!(matches!(
        decode_file::<Block>(&file),
        Err(DecodeError::WrongKind {
            expected: FileKind::Block,
            found: FileKind::HistoryProof
        })
    ));
    // The fixed parts of docs/FORMAT.md section 3 (each type's first offset).
    let first_offset =
        |bytes: &[u8], at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(first_offset(&proof.as_ssz_bytes(), 8), 20);
    let mut tx = tx_proof();
    let HistoryFact::Transaction(fact) = &tx.fact else {
        panic!("not a transaction proof");
    };
    assert_eq!(first_offset(&fact.as_ssz_bytes(), 0), 12);
    assert_eq!(first_offset(&fact.blob.as_ssz_bytes(), 113), 117);
    assert_eq!(first_offset(&fact.transaction.as_ssz_bytes(), 144), 148);
    assert_eq!(first_offset(&blob_proof().fact.as_ssz_bytes(), 1), 8);
    assert_eq!(
        first_offset(&account_of(&mut account_proof(1, 1)).as_ssz_bytes(), 0),
        69
    );
    assert_eq!(tx_of(&mut tx).transaction.as_ssz_bytes().len(), 128);
    // More peaks than any u64 count has: a decoding error, before verification.
    let mut many = proof.clone();
    many.other_peaks = list(vec![Hash32::ZERO; MAX_MMR_PEAKS]);
    let mut bytes = many.as_ssz_bytes();
    // Splice one more hash into the peak list by hand: the list runs from its offset (bytes
    // 12..16) to the fact's offset (bytes 16..20), so grow it and shift the fact's offset.
    let fact_offset = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    bytes.splice(fact_offset..fact_offset, [0u8; 32]);
    let shifted = (fact_offset as u32 + 32).to_le_bytes();
    bytes[16..20].copy_from_slice(&shifted);
    let mut framed = file[..10].to_vec();
    framed[6..10].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    framed.extend_from_slice(&bytes);
    assert!(matches!(
        decode_file::<HistoryProof>(&framed),
        Err(DecodeError::Payload(_))
    ));
    // And the same with exactly the limit decodes.
    assert!(decode_file::<HistoryProof>(&encode_file(&many)).is_ok());
}

/// The last list of a blob, transaction or account proof runs to the end of the payload, so
/// appending hashes grows it: up to its limit the file decodes (and the proof fails), one past
/// it the file is a decoding error.
#[test]
fn nested_path_lists_are_bounded_by_their_limits() {
    let grown = |proof: &HistoryProof, hashes: usize| {
        let mut file = encode_file(proof);
        file.extend(std::iter::repeat_n(0x5a, 32 * hashes));
        let len = (file.len() - 10) as u32;
        file[6..10].copy_from_slice(&len.to_le_bytes());
        decode_file::<HistoryProof>(&file)
    };
    let cases = [
        (blob_proof(), MAX_LIST_PATH_HASHES),
        (tx_proof(), MAX_LIST_PATH_HASHES),
        (account_proof(10, 3), MAX_ACCOUNT_PATH_SIBLINGS),
    ];
    for (proof, limit) in cases {
        let mut probe = proof.clone();
        let carried = match &mut probe.fact {
            HistoryFact::Blob(fact) => fact.blob.path.len(),
            HistoryFact::Transaction(fact) => fact.transaction.path.len(),
            HistoryFact::Account(fact) => fact.siblings.len(),
            HistoryFact::Anchor(_) | HistoryFact::EvmChannel(_) => unreachable!(),
        };
        let full = grown(&proof, limit - carried).expect("a list at its limit decodes");
        assert!(verify_history_proof(&full, tip()).is_err());
        assert!(matches!(
            grown(&proof, limit - carried + 1),
            Err(DecodeError::Payload(_))
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

fn one_line_rejection(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn cli_proves_and_verifies_every_kind_of_fact() {
    let dir = tempfile::tempdir().unwrap();
    let (workload, db, chain_dir) = (
        dir.path().join("w"),
        dir.path().join("p.redb"),
        dir.path().join("c"),
    );
    ok(
        &stateless(&[
            "gen",
            "--out",
            path(&workload),
            "--accounts",
            "40",
            "--blocks",
            "5",
            "--txs-per-block",
            "12",
        ]),
        "gen",
    );
    ok(
        &stateless(&[
            "prove",
            "--workload",
            path(&workload),
            "--db",
            path(&db),
            "--out",
            path(&chain_dir),
            "--txs-per-blob",
            "5",
        ]),
        "prove",
    );
    let tip = chain_dir.join("blocks/00000005.bin");
    let cases: [(&str, Option<&str>, &str); 7] = [
        ("header:0", None, "genesis"),
        ("header:3", None, "header"),
        ("header:5", None, "header"),
        ("blob:4:2", None, "blob"),
        ("tx:1:1:4", None, "transaction"),
        ("account:transfer:7", Some("0"), "account"),
        ("account:transfer:7", Some("4"), "account"),
    ];
    for (i, (fact, at, kind)) in cases.iter().enumerate() {
        let out_file = dir.path().join(format!("proof{i}.bin"));
        let mut args = vec![
            "history",
            "prove",
            "--db",
            path(&db),
            "--chain",
            path(&chain_dir),
            "--fact",
            fact,
            "--tip",
            "5",
            "--out",
            path(&out_file),
        ];
        if let Some(at) = at {
            args.extend(["--at", at]);
        }
        ok(&stateless(&args), fact);
        let out = stateless(&[
            "history",
            "verify",
            path(&out_file),
            "--tip",
            path(&tip),
            "--json",
        ]);
        ok(&out, fact);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["valid"], true);
        assert_eq!(report["tip_height"], 5);
        assert_eq!(report["fact"]["kind"], *kind, "{report}");
        if *kind == "account" {
            assert_eq!(report["fact"]["account"], 7);
            assert_eq!(
                report["fact"]["height"],
                at.unwrap().parse::<u64>().unwrap()
            );
            assert!(report["fact"]["leaf"]["balance"].as_u64().unwrap() > 0);
        }
        if *kind == "transaction" {
            assert_eq!(report["fact"]["index"], 4);
        }
        // Without --json: a line on stdout, exit 0.
        let out = stateless(&["history", "verify", path(&out_file), "--tip", path(&tip)]);
        ok(&out, fact);
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("valid: "));
        // `inspect` reads proof files too.
        ok(
            &stateless(&["inspect", path(&out_file), "--json"]),
            "inspect",
        );
    }

    // Tampering: a flipped hash in the ancestry path, against the right tip: exit 1.
    let proof_file = dir.path().join("proof1.bin");
    let mut proof: HistoryProof = decode_file(&std::fs::read(&proof_file).unwrap()).unwrap();
    flip(&mut proof.peak_path[0]);
    let tampered = dir.path().join("tampered.bin");
    std::fs::write(&tampered, encode_file(&proof)).unwrap();
    let out = stateless(&[
        "history",
        "verify",
        path(&tampered),
        "--tip",
        path(&tip),
        "--json",
    ]);
    let line = one_line_rejection(&out);
    assert!(
        line.contains("not") || line.contains("history root"),
        "{line}"
    );
    assert!(line.contains("block 3"), "{line}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    // Against another tip: exit 1.
    let older = chain_dir.join("blocks/00000004.bin");
    let line = one_line_rejection(&stateless(&[
        "history",
        "verify",
        path(&proof_file),
        "--tip",
        path(&older),
    ]));
    assert!(
        line.contains("height 5") && line.contains("height 4"),
        "{line}"
    );
    // Undecodable proof bytes: exit 1.
    let mut bytes = std::fs::read(&proof_file).unwrap();
    bytes.push(0);
    std::fs::write(&tampered, &bytes).unwrap();
    one_line_rejection(&stateless(&[
        "history",
        "verify",
        path(&tampered),
        "--tip",
        path(&tip),
    ]));
    // A proof file given as the tip: exit 1 (wrong kind).
    one_line_rejection(&stateless(&[
        "history",
        "verify",
        path(&proof_file),
        "--tip",
        path(&proof_file),
    ]));

    // Usage and I/O errors: exit 2.
    let missing = dir.path().join("missing.bin");
    let usage = |args: &[&str]| {
        let out = stateless(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    usage(&["history", "verify", path(&missing), "--tip", path(&tip)]);
    usage(&[
        "history",
        "verify",
        path(&proof_file),
        "--tip",
        path(&missing),
    ]);
    usage(&["history", "verify", path(&proof_file)]);
    let out_file = dir.path().join("x.bin");
    let prove_at = |tip: &str, fact: &str, extra: &[&str]| {
        let mut args = vec![
            "history",
            "prove",
            "--db",
            path(&db),
            "--chain",
            path(&chain_dir),
            "--fact",
            fact,
            "--tip",
            tip,
            "--out",
            path(&out_file),
        ];
        args.extend_from_slice(extra);
        stateless(&args)
    };
    let prove = |fact: &str, extra: &[&str]| prove_at("5", fact, extra);
    for (fact, extra) in [
        ("header:6", &[][..]),
        ("block:1", &[][..]),
        ("blob:1:99", &[][..]),
        ("tx:1:0:99", &[][..]),
        ("header:1", &["--at", "1"][..]),
        ("account:transfer:1", &[][..]),
        ("account:nope:1", &["--at", "1"][..]),
        ("account:transfer:1", &["--at", "6"][..]),
        ("account:transfer:99999999999", &["--at", "1"][..]),
    ] {
        let out = prove(fact, extra);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{fact}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for tip in ["0", "9", "x"] {
        assert_eq!(
            prove_at(tip, "header:0", &[]).status.code(),
            Some(2),
            "tip {tip}"
        );
    }
    assert!(!out_file.exists());
    // The database is held by another process (here, this one): refused, exit 2.
    let held = ProverState::open_existing(&db).unwrap();
    let out = prove("header:1", &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(held);
    ok(&prove("header:1", &[]), "after release");
    // A chain directory of another chain than the database's: exit 2.
    let other_dir = dir.path().join("other");
    ok(
        &stateless(&[
            "gen",
            "--out",
            path(&dir.path().join("w2")),
            "--accounts",
            "8",
            "--blocks",
            "1",
            "--txs-per-block",
            "2",
            "--seed",
            "3",
        ]),
        "gen 2",
    );
    ok(
        &stateless(&[
            "prove",
            "--workload",
            path(&dir.path().join("w2")),
            "--db",
            path(&dir.path().join("p2.redb")),
            "--out",
            path(&other_dir),
        ]),
        "prove 2",
    );
    let mut args = vec![
        "history",
        "prove",
        "--db",
        path(&db),
        "--chain",
        path(&other_dir),
        "--fact",
        "header:1",
        "--tip",
        "5",
        "--out",
        path(&out_file),
    ];
    let out = stateless(&args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    args[3] = "/nonexistent/p.redb";
    assert_eq!(stateless(&args).status.code(), Some(2));
}
