//! Every limit the decoder and the verifier enforce, against a hostile input that claims more:
//! each is rejected at once, with the specific error, and without allocating for the claim.
//!
//! One test function on purpose: the peak-memory reading is per process, so nothing else may
//! run beside it in this binary.

use std::time::{Duration, Instant};

use verifier::{ChainVerifier, Reason};
use witness_format::frame::{FORMAT_VERSION, MAGIC};
use witness_format::limits::*;
use witness_format::{Allocation, Block, DecodeError, FileKind, Genesis, TransactionBatch};
use witness_format::{FramedValue, decode_file};

const MIB: u64 = 1 << 20;

fn frame(kind: FileKind, payload: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.push(FORMAT_VERSION);
    out.push(kind as u8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn offset(value: usize) -> [u8; 4] {
    (value as u32).to_le_bytes()
}

/// A Merkle witness with `leaves` leaves, `bitmap_bytes` of bit list and `siblings` hashes.
fn witness(leaves: usize, bitmap_bytes: usize, siblings: usize) -> Vec<u8> {
    let leaves_len = leaves * 48;
    let mut out = vec![0u8]; // union selector: Merkle
    out.extend(offset(12));
    out.extend(offset(12 + leaves_len));
    out.extend(offset(12 + leaves_len + bitmap_bytes));
    out.resize(out.len() + leaves_len, 0);
    out.resize(out.len() + bitmap_bytes.saturating_sub(1), 0);
    if bitmap_bytes > 0 {
        out.push(1); // the delimiting bit
    }
    out.resize(out.len() + siblings * 32, 0);
    out
}

/// A blob of `txs` all-zero transactions and the given witness.
fn blob(txs: usize, witness: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8]; // model: transfer
    out.resize(1 + 64, 0); // roots
    out.extend(offset(73));
    out.extend(offset(73 + txs * 128));
    out.resize(out.len() + txs * 128, 0);
    out.extend_from_slice(witness);
    out
}

/// A list of byte strings of the given lengths: offset table, then the strings.
fn byte_lists(lengths: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 4 * lengths.len();
    for len in lengths {
        out.extend(offset(at));
        at += len;
    }
    for &len in lengths {
        out.resize(out.len() + len, 0);
    }
    out
}

/// An `evm` witness (union selector 3): a block of `block` bytes, nodes and codes of the given
/// lengths, `ancestors` hashes.
fn evm_witness(block: usize, nodes: &[usize], codes: &[usize], ancestors: usize) -> Vec<u8> {
    let nodes = byte_lists(nodes);
    let codes = byte_lists(codes);
    let mut out = vec![3u8];
    out.extend(offset(16));
    out.extend(offset(16 + block));
    out.extend(offset(16 + block + nodes.len()));
    out.extend(offset(16 + block + nodes.len() + codes.len()));
    out.resize(out.len() + block, 0);
    out.extend(nodes);
    out.extend(codes);
    out.resize(out.len() + ancestors * 32, 0);
    out
}

/// An `evm` blob (no transactions of its own) with the given witness.
fn evm_blob(witness: &[u8]) -> Vec<u8> {
    let mut out = blob(0, witness);
    out[0] = 2; // model: evm
    out
}

/// A genesis payload: chain 7, depth `depth`, `roots` model roots, `pins` zk key pins, no `evm`
/// anchor.
fn genesis_payload(depth: u8, roots: usize, pins: usize) -> Vec<u8> {
    let mut out = 7u64.to_le_bytes().to_vec();
    out.push(depth);
    out.extend(offset(25));
    out.extend(offset(25 + roots * 33));
    out.extend(offset(25 + roots * 33 + pins * 34));
    out.extend(offset(25 + roots * 33 + pins * 34 + 1));
    for i in 0..roots {
        out.push(i as u8);
        out.extend([0u8; 32]);
    }
    out.resize(out.len() + pins * 34, 0);
    out.push(0); // evm: none
    out.push(0); // zk_srs: none
    out
}

/// A header with `roots` model roots.
fn header(roots: usize) -> Vec<u8> {
    let mut out = vec![0u8; 8 + 32 * 3];
    out.extend(offset(108));
    out.resize(out.len() + roots * 33, 0);
    out
}

/// A block file whose blob list is `blobs_list` (offset table and blobs, raw).
fn block(blobs_list: &[u8]) -> Vec<u8> {
    let header = header(1);
    let mut payload = offset(8).to_vec();
    payload.extend(offset(8 + header.len()));
    payload.extend(header);
    payload.extend_from_slice(blobs_list);
    frame(FileKind::Block, &payload)
}

/// A block with one blob.
fn block_with_blob(blob: &[u8]) -> Vec<u8> {
    let mut list = offset(4).to_vec();
    list.extend_from_slice(blob);
    block(&list)
}

fn rss_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// Decodes `bytes` as a `T`, and checks it is rejected quickly and with little memory.
fn rejected<T: FramedValue + std::fmt::Debug>(name: &str, bytes: &[u8]) -> DecodeError {
    // Writing 5 to clear_refs resets the peak resident size to the current one.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = rss_bytes("VmRSS:");
    let start = Instant::now();
    let result = decode_file::<T>(bytes);
    let elapsed = start.elapsed();
    let peak = rss_bytes("VmHWM:").saturating_sub(before);
    let error = result.expect_err(name);
    assert!(elapsed < Duration::from_secs(1), "{name}: took {elapsed:?}");
    assert!(peak < 64 * MIB, "{name}: peak grew by {} MiB", peak / MIB);
    eprintln!("{name}: {error} ({elapsed:?}, peak +{} KiB)", peak / 1024);
    error
}

fn over_limit(error: &DecodeError) -> bool {
    matches!(error, DecodeError::Payload(message) if message.contains("exceeds maximum"))
}

#[test]
fn every_limit_rejects_a_claim_past_it() {
    // The file: a claimed length past MAX_FILE_BYTES, in a 10-byte file.
    let mut claim = frame(FileKind::Block, &[]);
    claim[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = rejected::<Block>("file length claim", &claim);
    assert!(matches!(e, DecodeError::TooLarge { .. }), "{e}");

    // Blobs per block: an offset table claiming 2^20 blobs, in a few bytes.
    let e = rejected::<Block>("blobs per block claim", &block(&offset(4 << 20)));
    assert!(matches!(e, DecodeError::Payload(_)), "{e}");
    let mut list = Vec::new();
    let one = blob(1, &witness(1, 1, 0));
    let count = MAX_BLOBS_PER_BLOCK + 1;
    for i in 0..count {
        list.extend(offset(4 * count + i * one.len()));
    }
    for _ in 0..count {
        list.extend_from_slice(&one);
    }
    let e = rejected::<Block>("blobs per block", &block(&list));
    assert!(over_limit(&e), "{e}");

    // Transactions per blob.
    let bytes = block_with_blob(&blob(MAX_TRANSACTIONS_PER_BLOB + 1, &witness(1, 1, 0)));
    let e = rejected::<Block>("transactions per blob", &bytes);
    assert!(over_limit(&e), "{e}");

    // Witness leaves, sibling bits and sibling hashes.
    let bytes = block_with_blob(&blob(1, &witness(MAX_WITNESS_LEAVES + 1, 1, 0)));
    let e = rejected::<Block>("witness leaves", &bytes);
    assert!(over_limit(&e), "{e}");
    let bytes = block_with_blob(&blob(1, &witness(1, MAX_SIBLINGS / 8 + 2, 0)));
    let e = rejected::<Block>("sibling bits", &bytes);
    assert!(matches!(e, DecodeError::Payload(_)), "{e}");
    let bytes = block_with_blob(&blob(1, &witness(1, 1, MAX_SIBLINGS + 1)));
    let e = rejected::<Block>("sibling hashes", &bytes);
    assert!(over_limit(&e), "{e}");

    // Models in a genesis and in a header.
    let genesis = genesis_payload(4, MAX_MODELS + 1, 0);
    let e = rejected::<Genesis>("models in genesis", &frame(FileKind::Genesis, &genesis));
    assert!(over_limit(&e), "{e}");

    // Pinned zk keys in a genesis.
    let genesis = genesis_payload(4, 1, MAX_ZK_KEYS + 1);
    let e = rejected::<Genesis>("zk keys in genesis", &frame(FileKind::Genesis, &genesis));
    assert!(over_limit(&e), "{e}");
    let mut payload = offset(8).to_vec();
    let big_header = header(MAX_MODELS + 1);
    payload.extend(offset(8 + big_header.len()));
    payload.extend(big_header);
    let e = rejected::<Block>("models in header", &frame(FileKind::Block, &payload));
    assert!(over_limit(&e), "{e}");

    // Prover inputs: accounts in an allocation, transactions in a batch.
    let mut allocation = vec![0u8; 10];
    allocation.extend(offset(14));
    allocation.resize(allocation.len() + (MAX_ALLOCATION_ACCOUNTS + 1) * 48, 0);
    let bytes = frame(FileKind::Allocation, &allocation);
    let e = rejected::<Allocation>("allocation accounts", &bytes);
    assert!(over_limit(&e), "{e}");
    let mut batch = vec![0u8];
    batch.extend(offset(5));
    batch.resize(batch.len() + (MAX_BATCH_TRANSACTIONS + 1) * 128, 0);
    let bytes = frame(FileKind::TransactionBatch, &batch);
    // One transaction past the list limit is past the batch file's own size limit too, which
    // the frame header shows first.
    let e = rejected::<TransactionBatch>("batch transactions", &bytes);
    assert!(matches!(e, DecodeError::TooLarge { .. }), "{e}");

    // Tree depth: decodes (it is a byte), and the verifier refuses it before building anything.
    let genesis = genesis_payload(MAX_TREE_DEPTH + 1, 1, 0);
    let genesis: Genesis = decode_file(&frame(FileKind::Genesis, &genesis)).unwrap();
    let error = ChainVerifier::new(&genesis).unwrap_err();
    assert!(matches!(error.reason, Reason::InvalidGenesis(_)), "{error}");

    // An evm blob: block bytes, nodes and their bytes, codes and their bytes, ancestor hashes.
    let honest = block_with_blob(&evm_blob(&evm_witness(8, &[4], &[4], 1)));
    decode_file::<Block>(&honest).expect("an evm blob within every limit decodes");
    let claims: [(&str, Vec<u8>); 6] = [
        (
            "evm block bytes",
            evm_witness(MAX_EVM_BLOCK_BYTES + 1, &[], &[], 0),
        ),
        (
            "evm nodes",
            evm_witness(1, &vec![1; MAX_EVM_NODES + 1], &[], 0),
        ),
        (
            "evm node bytes",
            evm_witness(1, &[MAX_EVM_NODE_BYTES + 1], &[], 0),
        ),
        (
            "evm codes",
            evm_witness(1, &[], &vec![1; MAX_EVM_CODES + 1], 0),
        ),
        (
            "evm code bytes",
            evm_witness(1, &[], &[MAX_EVM_CODE_BYTES + 1], 0),
        ),
        (
            "evm ancestor hashes",
            evm_witness(1, &[], &[], MAX_EVM_ANCESTORS + 1),
        ),
    ];
    for (name, witness) in claims {
        let e = rejected::<Block>(name, &block_with_blob(&evm_blob(&witness)));
        assert!(over_limit(&e), "{name}: {e}");
    }
}
