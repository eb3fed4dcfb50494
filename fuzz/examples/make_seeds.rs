//! Regenerates the committed seed corpora and the `verify_block` genesis from one small honest
//! chain built by the prover:
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds
//! ```
//!
//! The chain: 16 genesis accounts in a tree of depth 32, two blocks of 4 signed transfers (a
//! quarter of them creating an account), cut into blobs of 2 transfers. It writes
//!
//! - `fixtures/genesis.bin`: the genesis `verify_block` checks blocks against;
//! - `seeds/decode_genesis/genesis.bin`, `seeds/decode_allocation/allocation.bin`;
//! - `seeds/decode_batch/batch-{1,2}.bin`, `seeds/decode_block/block-{1,2}.bin`;
//! - `seeds/verify_block/block-1.bin`: the block that follows the fixture genesis.
//!
//! And one synthetic `evm` chain (chain id 1, Cancun from the first block): an anchor block with
//! an empty state and its header, then a block whose one withdrawal creates an account, imported
//! with `prover::evm_import` as `stateless evm import` would:
//!
//! - `fixtures/evm-genesis.bin`: the genesis `verify_evm_block` checks blocks against;
//! - `seeds/decode_genesis/evm-genesis.bin`, `seeds/decode_block/evm-block-1.bin`,
//!   `seeds/verify_evm_block/block-1.bin`.
//!
//! And one proving job (`seeds/decode_job/job.bin`): the first blob of a `zk-transfer` chain of
//! depth 4 and chain id 7, with its Merkle witness, as a farm's coordinator publishes it.
//!
//! Everything is derived from fixed seeds, so running it again without a format change rewrites
//! the same bytes.

use std::fs;
use std::path::Path;

use prover::workload::{self, WorkloadSpec};
use prover::{BlockOptions, ProverState};
use verifier::verify_chain;
use witness_format::{FramedValue, encode_file};

fn write<T: FramedValue>(dir: &Path, name: &str, value: &T) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().expect("a file in a folder")).expect("create the folder");
    let bytes = encode_file(value);
    fs::write(&path, &bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    println!("{:>6} bytes  {}", bytes.len(), path.display());
}

fn main() {
    let spec = WorkloadSpec {
        chain_id: 7,
        tree_depth: 32,
        accounts: 16,
        blocks: 2,
        txs_per_block: 4,
        seed: 1,
        new_account_percent: 25,
    };
    let options = BlockOptions {
        txs_per_blob: 2,
        ..BlockOptions::default()
    };
    let workload = workload::generate(&spec);

    let dir = tempfile::tempdir().expect("create a temporary directory");
    let mut prover = ProverState::open(&dir.path().join("state.redb"), &workload.allocation)
        .expect("open the prover");
    let blocks: Vec<_> = workload
        .batches
        .iter()
        .map(|batch| {
            let (block, report) = prover
                .build_block(&batch.transactions, options)
                .expect("build a block");
            assert!(
                report.dropped.is_empty(),
                "the prover left out honest transactions: {:?}",
                report.dropped
            );
            block
        })
        .collect();
    let genesis = prover.genesis().clone();
    drop(prover);
    verify_chain(&genesis, &blocks).expect("the seed chain verifies");
    let created = workload
        .batches
        .iter()
        .flat_map(|batch| batch.transactions.iter())
        .filter(|tx| !tx.new_account_key.is_zero())
        .count();
    assert!(created > 0, "some seed transfer creates an account");

    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    write(&fuzz.join("fixtures"), "genesis.bin", &genesis);
    let seeds = fuzz.join("seeds");
    write(&seeds.join("decode_genesis"), "genesis.bin", &genesis);
    write(
        &seeds.join("decode_allocation"),
        "allocation.bin",
        &workload.allocation,
    );
    for (height, (batch, block)) in (1..).zip(workload.batches.iter().zip(&blocks)) {
        write(
            &seeds.join("decode_batch"),
            &format!("batch-{height}.bin"),
            batch,
        );
        write(
            &seeds.join("decode_block"),
            &format!("block-{height}.bin"),
            block,
        );
        assert_eq!(block.blobs.len(), 2, "two blobs per seed block");
    }
    write(&seeds.join("verify_block"), "block-1.bin", &blocks[0]);

    write(&seeds.join("decode_job"), "job.bin", &proving_job());

    let evm = evm_chain();
    verify_chain(&evm.genesis, &evm.blocks).expect("the evm seed chain verifies");
    write(&fuzz.join("fixtures"), "evm-genesis.bin", &evm.genesis);
    write(
        &seeds.join("decode_genesis"),
        "evm-genesis.bin",
        &evm.genesis,
    );
    write(
        &seeds.join("decode_block"),
        "evm-block-1.bin",
        &evm.blocks[0],
    );
    write(
        &seeds.join("verify_evm_block"),
        "block-1.bin",
        &evm.blocks[0],
    );
}

/// The first blob of a small `zk-transfer` chain (depth 4, chain 7), with its Merkle witness,
/// as a proving job.
fn proving_job() -> witness_format::ProvingJob {
    let spec = WorkloadSpec {
        chain_id: 7,
        tree_depth: 4,
        accounts: 4,
        blocks: 1,
        txs_per_block: 2,
        seed: 1,
        new_account_percent: 0,
    };
    let workload = workload::generate_for(&spec, witness_format::Model::ZkTransfer);
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let mut prover = ProverState::open(&dir.path().join("zk.redb"), &workload.allocation)
        .expect("open the prover");
    let (block, _) = prover
        .build_block(&workload.batches[0].transactions, BlockOptions::default())
        .expect("build a block");
    witness_format::ProvingJob {
        vk_hash: witness_format::Hash32::ZERO,
        reserved_bits: 0,
        blob: block.blobs[0].clone(),
    }
}

/// The synthetic `evm` chain: an anchor (number 0, empty state, its header known) and block 1,
/// whose one withdrawal of 1,000 gwei creates the account `0x42…42`.
fn evm_chain() -> prover::evm_import::ImportedChain {
    use alloy_consensus::proofs::calculate_withdrawals_root;
    use alloy_consensus::{Block, BlockBody, EMPTY_OMMER_ROOT_HASH, Header, TxEnvelope};
    use alloy_eips::eip4895::{Withdrawal, Withdrawals};
    use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256, keccak256};
    use alloy_trie::{EMPTY_ROOT_HASH, HashBuilder, Nibbles, TrieAccount};

    let hex = |bytes: &[u8]| format!("0x{}", hex::encode(bytes));
    // Gas used at the target: the child's base fee is the parent's.
    let anchor = Header {
        number: 0,
        timestamp: 1,
        gas_limit: 30_000_000,
        gas_used: 15_000_000,
        base_fee_per_gas: Some(7),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        state_root: EMPTY_ROOT_HASH,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        ..Header::default()
    };
    let recipient = Address::repeat_byte(0x42);
    let withdrawal = Withdrawal {
        index: 0,
        validator_index: 1,
        address: recipient,
        amount: 1_000,
    };
    let account = TrieAccount {
        nonce: 0,
        balance: U256::from(1_000u64) * U256::from(1_000_000_000u64),
        storage_root: EMPTY_ROOT_HASH,
        code_hash: KECCAK256_EMPTY,
    };
    let mut trie = HashBuilder::default();
    trie.add_leaf(
        Nibbles::unpack(keccak256(recipient)),
        &alloy_rlp::encode(account),
    );
    let header = Header {
        parent_hash: anchor.hash_slow(),
        number: 1,
        timestamp: 13,
        gas_limit: 30_000_000,
        gas_used: 0,
        base_fee_per_gas: Some(7),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        state_root: trie.root(),
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        withdrawals_root: Some(calculate_withdrawals_root(&[withdrawal])),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::repeat_byte(1)),
        ..Header::default()
    };
    let block = Block::<TxEnvelope> {
        header,
        body: BlockBody {
            transactions: Vec::new(),
            ommers: Vec::new(),
            withdrawals: Some(Withdrawals::new(vec![withdrawal])),
        },
    };
    let input = serde_json::json!({
        "chain_id": 1,
        "schedule": "cancun",
        "anchor": {
            "number": 0,
            "hash": hex(anchor.hash_slow().as_slice()),
            "state_root": hex(EMPTY_ROOT_HASH.as_slice()),
            "ancestor_hashes": [hex(anchor.hash_slow().as_slice())],
            "header": hex(&alloy_rlp::encode(&anchor)),
        },
        "blocks": [{
            "rlp": hex(&alloy_rlp::encode(&block)),
            "witness": {"state": [], "codes": []},
        }],
    });
    prover::evm_import::import(input.to_string().as_bytes()).expect("import the evm seed chain")
}
