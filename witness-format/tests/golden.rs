//! Golden vectors: files assembled by hand from `docs/FORMAT.md`, field by field, compared with
//! what `encode_file` writes and what `decode_file` reads. FORMAT.md lists the same bytes.
//!
//! Nothing here asks the encoder what the bytes should be: every integer is written out
//! little-endian, every offset is counted by hand, and a long run of one byte is written with
//! `fill`.

use std::fmt::Debug;

use witness_format::frame::FramedValue;
use witness_format::ssz_types::{BitList, VariableList};
use witness_format::{
    AccountLeaf, Allocation, Blob, Block, Bytes, DecodeError, Genesis, Header, MerkleWitness,
    Model, ModelRoot, Transaction, TransactionBatch, Witness, ZkKeyPin, ZkWitness, decode_file,
    encode_file,
};

/// Bytes from hex, ignoring spaces.
fn h(text: &str) -> Vec<u8> {
    let digits: String = text.split_whitespace().collect();
    hex::decode(digits).expect("test hex is valid")
}

/// `n` copies of `byte`.
fn fill(byte: u8, n: usize) -> Vec<u8> {
    vec![byte; n]
}

/// The encoder writes exactly `expected`, and the decoder reads it back as `value`.
fn check<T: FramedValue + PartialEq + Debug>(value: &T, expected: &[u8]) {
    assert_eq!(hex::encode(encode_file(value)), hex::encode(expected));
    assert_eq!(decode_file::<T>(expected).as_ref(), Ok(value));
}

fn tx0() -> Transaction {
    Transaction {
        from: 1,
        to: 2,
        amount: 5,
        nonce: 0,
        new_account_key: Bytes([0x11; 32]),
        signature: Bytes([0x22; 64]),
    }
}

fn tx1() -> Transaction {
    Transaction {
        from: 2,
        to: 1,
        amount: 3,
        nonce: 1,
        new_account_key: Bytes([0x00; 32]),
        signature: Bytes([0x33; 64]),
    }
}

/// The 128 bytes of [`tx0`].
fn tx0_bytes() -> Vec<u8> {
    [
        h("01 00 00 00 00 00 00 00"), //   0  from = 1
        h("02 00 00 00 00 00 00 00"), //   8  to = 2
        h("05 00 00 00 00 00 00 00"), //  16  amount = 5
        h("00 00 00 00 00 00 00 00"), //  24  nonce = 0
        fill(0x11, 32),               //  32  new_account_key
        fill(0x22, 64),               //  64  signature
    ]
    .concat()
}

/// The 128 bytes of [`tx1`].
fn tx1_bytes() -> Vec<u8> {
    [
        h("02 00 00 00 00 00 00 00"), //   0  from = 2
        h("01 00 00 00 00 00 00 00"), //   8  to = 1
        h("03 00 00 00 00 00 00 00"), //  16  amount = 3
        h("01 00 00 00 00 00 00 00"), //  24  nonce = 1
        fill(0x00, 32),               //  32  new_account_key: none
        fill(0x33, 64),               //  64  signature
    ]
    .concat()
}

fn batch() -> TransactionBatch {
    TransactionBatch {
        model: Model::Transfer,
        transactions: VariableList::new(vec![tx0(), tx1()]).expect("within limit"),
    }
}

/// Vector A: a `TransactionBatch` file with two transactions, 271 bytes.
fn batch_file() -> Vec<u8> {
    [
        // Frame.
        h("53 54 4c 53"), // magic "STLS"
        h("07"),          // version 7
        h("04"),          // kind 4: TransactionBatch
        h("05 01 00 00"), // payload length 261 = 5 + 2 * 128
        // TransactionBatch, fixed part (5 bytes).
        h("00"),          // 0  model: Transfer
        h("05 00 00 00"), // 1  offset of transactions = 5
        // Variable part: the list of fixed-size items is their concatenation.
        tx0_bytes(), //   5  transactions[0]
        tx1_bytes(), // 133  transactions[1]
    ]
    .concat()
}

#[test]
fn a_transaction_batch() {
    let file = batch_file();
    assert_eq!(file.len(), 271);
    check(&batch(), &file);
}

#[test]
fn a_empty_transaction_batch() {
    let value = TransactionBatch {
        model: Model::Transfer,
        transactions: VariableList::empty(),
    };
    let file = [
        h("53 54 4c 53 07 04"), // magic, version 7, kind 4
        h("05 00 00 00"),       // payload length 5
        h("00"),                // model: Transfer
        h("05 00 00 00"),       // offset of transactions = 5, and nothing after it
    ]
    .concat();
    check(&value, &file);
}

fn genesis() -> Genesis {
    Genesis {
        chain_id: 7,
        tree_depth: 4,
        state_roots: VariableList::new(vec![ModelRoot {
            model: Model::Transfer,
            root: Bytes([0xaa; 32]),
        }])
        .expect("within limit"),
        zk_keys: VariableList::empty(),
        evm: None,
        zk_srs: None,
    }
}

/// Vector B: a `Genesis` file with one model root, no zk key and no `evm` anchor, 65 bytes.
fn genesis_file() -> Vec<u8> {
    [
        // Frame.
        h("53 54 4c 53"), // magic "STLS"
        h("07"),          // version 7
        h("01"),          // kind 1: Genesis
        h("3c 00 00 00"), // payload length 60 = 25 + 33 + 1 + 1
        // Genesis, fixed part (25 bytes).
        h("07 00 00 00 00 00 00 00"), //  0  chain_id = 7
        h("04"),                      //  8  tree_depth = 4
        h("19 00 00 00"),             //  9  offset of state_roots = 25
        h("3a 00 00 00"),             // 13  offset of zk_keys = 58 = 25 + 33
        h("3a 00 00 00"),             // 17  offset of evm = 58 (zk_keys is empty)
        h("3b 00 00 00"),             // 21  offset of zk_srs = 59
        // state_roots[0]: a ModelRoot (33 bytes).
        h("00"),        // 25  model: Transfer
        fill(0xaa, 32), // 26  root
        // zk_keys: empty (no bytes).
        h("00"), // 58  evm: union selector 0, None
        h("00"), // 59  zk_srs: union selector 0, None
    ]
    .concat()
}

#[test]
fn b_genesis() {
    let file = genesis_file();
    assert_eq!(file.len(), 70);
    check(&genesis(), &file);
}

fn leaf1() -> AccountLeaf {
    AccountLeaf {
        public_key: Bytes([0x55; 32]),
        balance: 100,
        nonce: 0,
    }
}

/// The 48 bytes of [`leaf1`].
fn leaf1_bytes() -> Vec<u8> {
    [
        fill(0x55, 32),               //  0  public_key
        h("64 00 00 00 00 00 00 00"), // 32  balance = 100
        h("00 00 00 00 00 00 00 00"), // 40  nonce = 0
    ]
    .concat()
}

fn block() -> Block {
    // Four sibling positions (a depth-4 tree, accounts 1 and 2): only the last is carried.
    let mut sibling_present = BitList::with_capacity(4).expect("within limit");
    sibling_present.set(3, true).expect("in range");
    Block {
        header: Header {
            height: 1,
            parent_hash: Bytes([0xa1; 32]),
            history_root: Bytes([0xa2; 32]),
            blobs_root: Bytes([0xa3; 32]),
            state_roots: VariableList::new(vec![ModelRoot {
                model: Model::Transfer,
                root: Bytes([0xb2; 32]),
            }])
            .expect("within limit"),
        },
        blobs: VariableList::new(vec![Blob {
            model: Model::Transfer,
            pre_state_root: Bytes([0xb1; 32]),
            post_state_root: Bytes([0xb2; 32]),
            transactions: VariableList::new(vec![tx0()]).expect("within limit"),
            witness: Witness::Merkle(MerkleWitness {
                leaves: VariableList::new(vec![leaf1(), AccountLeaf::EMPTY]).expect("within limit"),
                sibling_present,
                siblings: VariableList::new(vec![Bytes([0xcc; 32])]).expect("within limit"),
            }),
        }])
        .expect("within limit"),
    }
}

/// Vector C: a `Block` file with one blob, 506 bytes. Offsets in the comments are relative to
/// the start of the enclosing value.
fn block_file() -> Vec<u8> {
    [
        // Frame.
        h("53 54 4c 53"), // magic "STLS"
        h("07"),          // version 7
        h("02"),          // kind 2: Block
        h("f0 01 00 00"), // payload length 496 = 8 + 141 + 347
        // Block, fixed part (8 bytes).
        h("08 00 00 00"), // 0  offset of header = 8
        h("95 00 00 00"), // 4  offset of blobs = 149 = 8 + 141
        // Block.header: a Header (141 bytes), fixed part 108 bytes.
        h("01 00 00 00 00 00 00 00"), //   0  height = 1
        fill(0xa1, 32),               //   8  parent_hash
        fill(0xa2, 32),               //  40  history_root
        fill(0xa3, 32),               //  72  blobs_root
        h("6c 00 00 00"),             // 104  offset of state_roots = 108
        h("00"),                      // 108  state_roots[0].model: Transfer
        fill(0xb2, 32),               // 109  state_roots[0].root
        // Block.blobs: a list of variable-size items (347 bytes): offset table, then items.
        h("04 00 00 00"), // 0  offset of blobs[0] = 4 (one item)
        // blobs[0]: a Blob (343 bytes), fixed part 73 bytes.
        h("00"),          //   0  model: Transfer
        fill(0xb1, 32),   //   1  pre_state_root
        fill(0xb2, 32),   //  33  post_state_root
        h("49 00 00 00"), //  65  offset of transactions = 73
        h("c9 00 00 00"), //  69  offset of witness = 201 = 73 + 128
        tx0_bytes(),      //  73  transactions[0]
        // blobs[0].witness: a union (142 bytes): selector, then the value.
        h("00"), // 201  selector 0: Merkle
        // The MerkleWitness (141 bytes), fixed part 12 bytes.
        h("0c 00 00 00"), //   0  offset of leaves = 12
        h("6c 00 00 00"), //   4  offset of sibling_present = 108 = 12 + 2 * 48
        h("6d 00 00 00"), //   8  offset of siblings = 109 = 108 + 1
        leaf1_bytes(),    //  12  leaves[0]
        fill(0x00, 48),   //  60  leaves[1]: the empty slot
        h("18"),          // 108  sibling_present: bits 0..=3 = 0,0,0,1; delimiter bit 4
        fill(0xcc, 32),   // 109  siblings[0]
    ]
    .concat()
}

/// Where, in [`block_file`], the fields that the non-canonical variants patch lie.
const BLOCK_PAYLOAD_LEN_AT: usize = 6;
/// Frame (10) + Block fixed part and header (149) + offset table (4).
const BLOB_AT: usize = 10 + 149 + 4;
/// The Blob's model byte.
const BLOB_MODEL_AT: usize = BLOB_AT;
/// The union selector.
const SELECTOR_AT: usize = BLOB_AT + 201;
/// The MerkleWitness's offset of `siblings`.
const SIBLINGS_OFFSET_AT: usize = SELECTOR_AT + 1 + 8;
/// The one byte of `sibling_present`.
const BITLIST_AT: usize = SELECTOR_AT + 1 + 108;

#[test]
fn c_block() {
    let file = block_file();
    assert_eq!(file.len(), 506);
    assert_eq!(
        (
            file[BLOB_MODEL_AT],
            file[SELECTOR_AT],
            file[SIBLINGS_OFFSET_AT],
            file[BITLIST_AT]
        ),
        (0x00, 0x00, 0x6d, 0x18)
    );
    check(&block(), &file);
}

fn allocation() -> Allocation {
    Allocation {
        chain_id: 7,
        tree_depth: 4,
        model: Model::Transfer,
        accounts: VariableList::new(vec![leaf1()]).expect("within limit"),
    }
}

/// Vector D: an `Allocation` file with one account, 72 bytes.
fn allocation_file() -> Vec<u8> {
    [
        // Frame.
        h("53 54 4c 53"), // magic "STLS"
        h("07"),          // version 7
        h("03"),          // kind 3: Allocation
        h("3e 00 00 00"), // payload length 62 = 14 + 48
        // Allocation, fixed part (14 bytes).
        h("07 00 00 00 00 00 00 00"), //  0  chain_id = 7
        h("04"),                      //  8  tree_depth = 4
        h("00"),                      //  9  model: Transfer
        h("0e 00 00 00"),             // 10  offset of accounts = 14
        leaf1_bytes(),                // 14  accounts[0]
    ]
    .concat()
}

#[test]
fn d_allocation() {
    let file = allocation_file();
    assert_eq!(file.len(), 72);
    check(&allocation(), &file);
}

/// The delimiting bit alone fixes a BitList's length: `0x08` is the canonical encoding of the
/// three bits 0,0,0 (delimiter at bit 3), a different but valid value.
#[test]
fn c_bitlist_length_comes_from_its_delimiter() {
    let mut file = block_file();
    file[BITLIST_AT] = 0x08;
    let block = decode_file::<Block>(&file).expect("a valid encoding");
    let Witness::Merkle(witness) = &block.blobs[0].witness else {
        panic!("expected a Merkle witness");
    };
    assert_eq!(witness.sibling_present.len(), 3);
    assert_eq!(witness.sibling_present.num_set_bits(), 0);
}

fn is_payload_error<T: Debug>(result: Result<T, DecodeError>) -> bool {
    matches!(result, Err(DecodeError::Payload(_)))
}

#[test]
fn e_bitlist_with_an_extra_zero_byte_is_rejected() {
    // `18 00`: the delimiter is not in the last byte. Everything after it moves by one byte.
    let mut file = block_file();
    file.insert(BITLIST_AT + 1, 0x00);
    file[BLOCK_PAYLOAD_LEN_AT] = 0xf1; // payload length 497
    file[SIBLINGS_OFFSET_AT] = 0x6e; // offset of siblings = 110
    assert!(is_payload_error(decode_file::<Block>(&file)));
}

#[test]
fn e_bitlist_without_delimiter_is_rejected() {
    let mut file = block_file();
    file[BITLIST_AT] = 0x00;
    assert!(is_payload_error(decode_file::<Block>(&file)));
}

#[test]
fn e_unknown_union_selector_and_model_tag_are_rejected() {
    let mut file = block_file();
    file[SELECTOR_AT] = 0x02;
    assert!(is_payload_error(decode_file::<Block>(&file)));

    // Selector 1 is a zk witness: exactly 384 bytes, not the 141 of the Merkle witness.
    let mut file = block_file();
    file[SELECTOR_AT] = 0x01;
    assert!(is_payload_error(decode_file::<Block>(&file)));

    // Selector 4 is an evm witness with credits: the Merkle witness's bytes are not one.
    let mut file = block_file();
    file[SELECTOR_AT] = 0x04;
    assert!(is_payload_error(decode_file::<Block>(&file)));

    let mut file = block_file();
    file[SELECTOR_AT] = 0x05;
    assert!(is_payload_error(decode_file::<Block>(&file)));

    let mut file = block_file();
    file[BLOB_MODEL_AT] = 0x03;
    assert!(is_payload_error(decode_file::<Block>(&file)));
}

#[test]
fn e_wrong_offsets_are_rejected() {
    // TransactionBatch's offset of transactions is at file byte 11; its only valid value is 5.
    for offset in [0x00, 0x04, 0x06, 0xff] {
        let mut file = batch_file();
        file[11] = offset;
        assert!(is_payload_error(decode_file::<TransactionBatch>(&file)));
    }
    // MerkleWitness: `siblings` starting where `sibling_present` does (an empty BitList slice).
    let mut file = block_file();
    file[SIBLINGS_OFFSET_AT] = 0x6c;
    assert!(is_payload_error(decode_file::<Block>(&file)));
}

#[test]
fn e_list_not_a_whole_number_of_items_is_rejected() {
    // One extra byte after the two transactions, with the frame length counting it.
    let mut file = batch_file();
    file.push(0x00);
    file[6] = 0x06; // payload length 262
    assert!(is_payload_error(decode_file::<TransactionBatch>(&file)));
}

#[test]
fn e_frame_errors() {
    let file = batch_file();

    let mut bad = file.clone();
    bad[0] = b's';
    assert_eq!(
        decode_file::<TransactionBatch>(&bad),
        Err(DecodeError::BadMagic)
    );

    // The versions before (files whose zk proofs hash their public inputs into one, whose
    // genesis has no `evm` anchor, whose zk proofs bind other public inputs, whose
    // `zk-transfer` values are Poseidon's, not Poseidon2's, whose transaction commitment
    // chains signing messages, or whose zk proofs are compressed) and after.
    for version in [1, 2, 3, 4, 5, 6, 8] {
        let mut bad = file.clone();
        bad[4] = version;
        assert_eq!(
            decode_file::<TransactionBatch>(&bad),
            Err(DecodeError::UnsupportedVersion { found: version })
        );
    }

    // Far from the kinds in use, so that a new kind does not turn this into a wrong-kind case.
    for kind in [0, 0x7f, 0xff] {
        let mut bad = file.clone();
        bad[5] = kind;
        assert_eq!(
            decode_file::<TransactionBatch>(&bad),
            Err(DecodeError::UnknownKind { found: kind })
        );
    }

    assert_eq!(
        decode_file::<Block>(&file),
        Err(DecodeError::WrongKind {
            expected: witness_format::FileKind::Block,
            found: witness_format::FileKind::TransactionBatch,
        })
    );

    assert_eq!(
        decode_file::<TransactionBatch>(&file[..9]),
        Err(DecodeError::Truncated { len: 9 })
    );

    // A trailing byte the length does not count, and a missing byte.
    let mut bad = file.clone();
    bad.push(0);
    assert_eq!(
        decode_file::<TransactionBatch>(&bad),
        Err(DecodeError::LengthMismatch {
            claimed: 261,
            actual: 262
        })
    );
    assert_eq!(
        decode_file::<TransactionBatch>(&file[..270]),
        Err(DecodeError::LengthMismatch {
            claimed: 261,
            actual: 260
        })
    );

    // A claimed length over MAX_FILE_BYTES (128 MiB = 0x0800_0000) is refused before reading,
    // and so is one over the transaction batch's own limit (32 MiB + 64 = 0x0200_0040).
    let mut bad = file.clone();
    bad[6..10].copy_from_slice(&h("01 00 00 08"));
    assert_eq!(
        decode_file::<TransactionBatch>(&bad),
        Err(DecodeError::TooLarge {
            len: 0x0800_0001,
            limit: 0x0200_0040
        })
    );
    bad[6..10].copy_from_slice(&h("41 00 00 02"));
    assert_eq!(
        decode_file::<TransactionBatch>(&bad),
        Err(DecodeError::TooLarge {
            len: 0x0200_0041,
            limit: 0x0200_0040
        })
    );
}

fn zk_genesis() -> Genesis {
    Genesis {
        chain_id: 7,
        tree_depth: 4,
        state_roots: VariableList::new(vec![
            ModelRoot {
                model: Model::Transfer,
                root: Bytes([0xaa; 32]),
            },
            ModelRoot {
                model: Model::ZkTransfer,
                root: Bytes([0x2b; 32]),
            },
        ])
        .expect("within limit"),
        zk_keys: VariableList::new(vec![
            ZkKeyPin {
                batch: 2,
                vk_hash: Bytes([0xd2; 32]),
            },
            ZkKeyPin {
                batch: 256,
                vk_hash: Bytes([0xd3; 32]),
            },
        ])
        .expect("within limit"),
        evm: None,
        zk_srs: Some(Bytes([0xe5; 32])),
    }
}

/// Vector G: a `Genesis` file with both models and two pinned zk keys, 166 bytes.
fn zk_genesis_file() -> Vec<u8> {
    [
        // Frame.
        h("53 54 4c 53"), // magic "STLS"
        h("07"),          // version 7
        h("01"),          // kind 1: Genesis
        h("c1 00 00 00"), // payload length 193 = 25 + 2 * 33 + 2 * 34 + 1 + 33
        // Genesis, fixed part (25 bytes).
        h("07 00 00 00 00 00 00 00"), //  0  chain_id = 7
        h("04"),                      //  8  tree_depth = 4
        h("19 00 00 00"),             //  9  offset of state_roots = 25
        h("5b 00 00 00"),             // 13  offset of zk_keys = 91 = 25 + 2 * 33
        h("9f 00 00 00"),             // 17  offset of evm = 159 = 91 + 2 * 34
        h("a0 00 00 00"),             // 21  offset of zk_srs = 160
        // state_roots: two ModelRoots (33 bytes each), in tag order.
        h("00"),        //  25  state_roots[0].model: Transfer
        fill(0xaa, 32), //  26  state_roots[0].root
        h("01"),        //  58  state_roots[1].model: ZkTransfer
        fill(0x2b, 32), //  59  state_roots[1].root
        // zk_keys: two ZkKeyPins (34 bytes each), ascending by batch.
        h("02 00"),     //  91  zk_keys[0].batch = 2 (u16 LE)
        fill(0xd2, 32), //  93  zk_keys[0].vk_hash
        h("00 01"),     // 125  zk_keys[1].batch = 256 (u16 LE: low byte first)
        fill(0xd3, 32), // 127  zk_keys[1].vk_hash
        h("00"),        // 159  evm: union selector 0, None
        h("01"),        // 160  zk_srs: union selector 1, Some
        fill(0xe5, 32), // 161  zk_srs: the SRS key's hash
    ]
    .concat()
}

#[test]
fn g_genesis_with_zk_pins() {
    let file = zk_genesis_file();
    assert_eq!(file.len(), 203);
    check(&zk_genesis(), &file);
}

/// The placeholder proof of vector H: A (G1, 96 bytes) ‖ B (G2, 192 bytes) ‖ C (G1, 96 bytes),
/// each part a run of its own byte. Not a proof (not even curve points): the format layer
/// carries the 384 bytes as they are, and only the verifier decodes them.
fn placeholder_proof() -> Vec<u8> {
    [fill(0xe1, 96), fill(0xe2, 192), fill(0xe3, 96)].concat()
}

fn zk_block() -> Block {
    let proof: [u8; 384] = placeholder_proof().try_into().expect("384 bytes");
    Block {
        header: Header {
            height: 1,
            parent_hash: Bytes([0xa1; 32]),
            history_root: Bytes([0xa2; 32]),
            blobs_root: Bytes([0xa3; 32]),
            state_roots: VariableList::new(vec![ModelRoot {
                model: Model::ZkTransfer,
                root: Bytes([0x42; 32]),
            }])
            .expect("within limit"),
        },
        blobs: VariableList::new(vec![Blob {
            model: Model::ZkTransfer,
            pre_state_root: Bytes([0x41; 32]),
            post_state_root: Bytes([0x42; 32]),
            transactions: VariableList::new(vec![tx0(), tx1()]).expect("within limit"),
            witness: Witness::Zk(ZkWitness {
                proof: Bytes(proof),
            }),
        }])
        .expect("within limit"),
    }
}

/// Vector H: a `Block` file with one `zk-transfer` blob of two transactions and a zk witness,
/// 877 bytes. Offsets in the comments are relative to the start of the enclosing value.
fn zk_block_file() -> Vec<u8> {
    [
        // Frame.
        h("53 54 4c 53"), // magic "STLS"
        h("07"),          // version 7
        h("02"),          // kind 2: Block
        h("63 03 00 00"), // payload length 867 = 8 + 141 + 718
        // Block, fixed part (8 bytes).
        h("08 00 00 00"), // 0  offset of header = 8
        h("95 00 00 00"), // 4  offset of blobs = 149 = 8 + 141
        // Block.header: a Header (141 bytes), fixed part 108 bytes.
        h("01 00 00 00 00 00 00 00"), //   0  height = 1
        fill(0xa1, 32),               //   8  parent_hash
        fill(0xa2, 32),               //  40  history_root
        fill(0xa3, 32),               //  72  blobs_root
        h("6c 00 00 00"),             // 104  offset of state_roots = 108
        h("01"),                      // 108  state_roots[0].model: ZkTransfer
        fill(0x42, 32),               // 109  state_roots[0].root
        // Block.blobs: a list of variable-size items (718 bytes): offset table, then items.
        h("04 00 00 00"), // 0  offset of blobs[0] = 4 (one item)
        // blobs[0]: a Blob (714 bytes), fixed part 73 bytes.
        h("01"),          //   0  model: ZkTransfer
        fill(0x41, 32),   //   1  pre_state_root
        fill(0x42, 32),   //  33  post_state_root
        h("49 00 00 00"), //  65  offset of transactions = 73
        h("49 01 00 00"), //  69  offset of witness = 329 = 73 + 2 * 128
        tx0_bytes(),      //  73  transactions[0]
        tx1_bytes(),      // 201  transactions[1]
        // blobs[0].witness: a union (385 bytes): selector, then the value.
        h("01"), // 329  selector 1: Zk
        // The ZkWitness (384 bytes): one fixed-size field, so no offset.
        fill(0xe1, 96),  //   0  proof: A (G1, uncompressed: x, y)
        fill(0xe2, 192), //  96  proof: B (G2, uncompressed: x, y)
        fill(0xe3, 96),  // 288  proof: C (G1, uncompressed: x, y)
    ]
    .concat()
}

/// Where, in [`zk_block_file`], the fields that the rejected variants patch lie.
const ZK_BLOCK_PAYLOAD_LEN_AT: usize = 6;
/// Frame (10) + Block fixed part and header (149) + offset table (4).
const ZK_BLOB_AT: usize = 10 + 149 + 4;
/// The union selector: after the blob's fixed part and its two transactions.
const ZK_SELECTOR_AT: usize = ZK_BLOB_AT + 73 + 2 * 128;
/// The first byte of the proof.
const ZK_PROOF_AT: usize = ZK_SELECTOR_AT + 1;

#[test]
fn h_block_with_zk_witness() {
    let file = zk_block_file();
    assert_eq!(file.len(), 877);
    assert_eq!(
        (ZK_BLOB_AT, ZK_SELECTOR_AT, ZK_PROOF_AT),
        (0x0a3, 0x1ec, 0x1ed)
    );
    assert_eq!(
        (file[ZK_BLOB_AT], file[ZK_SELECTOR_AT], file[ZK_PROOF_AT]),
        (0x01, 0x01, 0xe1)
    );
    assert_eq!(&file[ZK_PROOF_AT..], placeholder_proof().as_slice());
    check(&zk_block(), &file);
}

#[test]
fn e_zk_variants_are_rejected() {
    // Selector 0: the 384 proof bytes read as a MerkleWitness, whose first offset would be
    // `e1 e1 e1 e1` instead of 12.
    let mut file = zk_block_file();
    file[ZK_SELECTOR_AT] = 0x00;
    assert!(is_payload_error(decode_file::<Block>(&file)));

    let mut file = zk_block_file();
    file[ZK_SELECTOR_AT] = 0x02;
    assert!(is_payload_error(decode_file::<Block>(&file)));

    // A proof one byte short or one byte long, with the frame length adjusted: the union is the
    // blob's last field and runs to the end, so only the fixed size of ZkWitness rejects it.
    let mut file = zk_block_file();
    file.pop();
    file[ZK_BLOCK_PAYLOAD_LEN_AT] = 0x62; // payload length 866
    assert!(is_payload_error(decode_file::<Block>(&file)));
    let mut file = zk_block_file();
    file.push(0xe3);
    file[ZK_BLOCK_PAYLOAD_LEN_AT] = 0x64; // payload length 868
    assert!(is_payload_error(decode_file::<Block>(&file)));

    // Genesis: one byte less of the last pin, 67 bytes of `zk_keys` (not a whole number of
    // 34-byte pins); and `zk_keys` starting one byte late, 67 bytes of `state_roots`.
    let mut file = zk_genesis_file();
    file.remove(10 + 158);
    file[6] = 0xc0; // payload length 192
    file[10 + 17] = 0x9e; // offset of evm = 158
    file[10 + 21] = 0x9f; // offset of zk_srs = 159
    assert!(is_payload_error(decode_file::<Genesis>(&file)));
    let mut file = zk_genesis_file();
    file[10 + 13] = 0x5c; // offset of zk_keys = 92
    assert!(is_payload_error(decode_file::<Genesis>(&file)));
}

/// The hex dump under a `### <heading>` of `docs/FORMAT.md`: lines `OOOO  xx xx …`.
fn doc_dump(heading: &str) -> Vec<u8> {
    let doc = include_str!("../../docs/FORMAT.md");
    let section = doc
        .split("\n### ")
        .find(|section| section.starts_with(heading))
        .expect("FORMAT.md has the section");
    let mut bytes = Vec::new();
    for line in section.lines() {
        let Some((offset, data)) = line.split_once("  ") else {
            continue;
        };
        let Ok(offset) = usize::from_str_radix(offset, 16) else {
            continue;
        };
        assert_eq!(offset, bytes.len(), "dump offsets in {heading}");
        bytes.extend(h(data));
    }
    bytes
}

#[test]
fn format_md_lists_the_same_vectors() {
    assert_eq!(doc_dump("A."), batch_file());
    assert_eq!(doc_dump("B."), genesis_file());
    assert_eq!(doc_dump("C."), block_file());
    assert_eq!(doc_dump("D."), allocation_file());
    assert_eq!(doc_dump("G."), zk_genesis_file());
    assert_eq!(doc_dump("H."), zk_block_file());
}
