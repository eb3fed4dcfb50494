//! The `evm` model on one chain with the numbered models: `gen --model all`, `prove` (the
//! `evm` producer makes each height's blob before the block's one commit) and `verify`, a
//! resumed run giving the same bytes, a tampered `evm` blob rejected by name, and the `evm`
//! model's bridge channels closed until its side of the bridge exists.

mod common;

use std::path::Path;

use alloy_consensus::{TxEip1559, TxEnvelope};
use alloy_primitives::TxKind;
use alloy_primitives::U256;
use common::{block_file, ok, path, prove_workload, reseal, stateless, stderr};
use prover::evm_produce::EvmProducer;
use prover::evm_state::GenesisAccount;
use prover::evm_workload::{
    EvmAllocation, account_address, sign_transaction, signing_key, system_contracts,
};
use prover::workload::{WorkloadSpec, generate_numbered, model_public_key};
use prover::{BlockOptions, ProverError, ProverState};
use verifier::bridge::bridge;
use verifier::evm::bridge::{BRIDGE_ADDRESS, WEI_PER_UNIT, bridge_code, exit_calldata};
use verifier::{HistoryProofError, Reason};
use witness_format::{Block, Genesis, Model, PublicKey, Signature, Transaction, Witness};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// `stateless gen` of the three models on one chain: depth 6 (four regions of 16 leaves), 6
/// accounts a model, `blocks` blocks of 4 transactions, half the numbered models' transfers
/// exiting to the other numbered model.
fn gen_three(out: &Path, blocks: &str) {
    ok(
        &stateless(&[
            "gen",
            "--model",
            "all",
            "--depth",
            "6",
            "--chain-id",
            "7",
            "--accounts",
            "6",
            "--blocks",
            blocks,
            "--txs-per-block",
            "4",
            "--exit-percent",
            "50",
            "--out",
            path(out),
        ]),
        "gen",
    );
}

fn read_chain(chain: &Path, heights: u64) -> (Genesis, Vec<Block>) {
    let genesis = witness_format::decode_file(&std::fs::read(chain.join("genesis.bin")).unwrap())
        .expect("the genesis decodes");
    let blocks = (1..=heights)
        .map(|height| {
            witness_format::decode_file(&std::fs::read(block_file(chain, height)).unwrap())
                .expect("a block decodes")
        })
        .collect();
    (genesis, blocks)
}

#[test]
fn three_models_share_a_chain_on_the_command_line() {
    let dir = tempdir();
    let (workload, db, chain) = (
        dir.path().join("w"),
        dir.path().join("db"),
        dir.path().join("c"),
    );
    gen_three(&workload, "3");
    for model in ["transfer", "zk-transfer", "evm"] {
        assert!(workload.join(model).is_dir(), "no {model} workload");
    }
    prove_workload(&workload, &db, &chain, &[]);
    assert!(
        dir.path().join("db.evm").is_file(),
        "the evm store sits beside the prover's database"
    );
    let report: serde_json::Value = serde_json::from_str(&ok(
        &stateless(&["verify", path(&chain), "--json"]),
        "verify",
    ))
    .unwrap();
    assert_eq!(report["valid"], true, "{report}");
    let models: Vec<&str> = report["state_roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["transfer", "zk-transfer", "evm"]);
    let evm_blocks = report["evm_blocks"].as_array().unwrap();
    assert_eq!(evm_blocks.len(), 3);
    assert_eq!(evm_blocks[2]["number"], 3);
    // 3 blocks of 4 transactions for each model, and the credits of the exits on top.
    assert!(report["txs"].as_u64().unwrap() > 36, "{report}");
    let (genesis, blocks) = read_chain(&chain, 3);
    assert!(genesis.evm.is_some() && genesis.tree_depth == 6);
    let credits = blocks
        .iter()
        .flat_map(|b| b.blobs.iter())
        .filter(|blob| matches!(blob.witness, Witness::Credits(_)))
        .count();
    assert!(credits > 0, "the exits are credited");

    // A run stopped after block 1 (its workload cut there), then resumed on the whole
    // workload, gives the same chain byte for byte: the evm producer follows the blocks the
    // database holds.
    let (short, db2, chain2) = (
        dir.path().join("w-short"),
        dir.path().join("db2"),
        dir.path().join("c2"),
    );
    gen_three(&short, "1");
    prove_workload(&short, &db2, &chain2, &[]);
    prove_workload(&workload, &db2, &chain2, &[]);
    for height in 1..=3 {
        assert!(
            std::fs::read(block_file(&chain, height)).unwrap()
                == std::fs::read(block_file(&chain2, height)).unwrap(),
            "block {height} differs after a resumed run"
        );
    }

    // An evm blob missing a trie node its block needs is rejected, named, even with every
    // header re-linked around the edit.
    let (genesis, mut blocks) = read_chain(&chain, 3);
    let blob = blocks[1]
        .blobs
        .iter_mut()
        .find(|blob| blob.model == Model::Evm)
        .unwrap();
    let Witness::Evm(witness) = &mut blob.witness else {
        panic!("an evm blob carries an evm witness");
    };
    let mut nodes = witness.nodes.to_vec();
    nodes.remove(0);
    witness.nodes = nodes.try_into().unwrap();
    reseal(&genesis, &mut blocks);
    std::fs::write(
        block_file(&chain, 2),
        witness_format::encode_file(&blocks[1]),
    )
    .unwrap();
    let rejected = stateless(&["verify", path(&chain)]);
    assert_eq!(rejected.status.code(), Some(1), "{}", stderr(&rejected));
    let why = stderr(&rejected);
    assert!(
        why.contains("block 2") && why.contains("the witness lacks trie node"),
        "{why}"
    );

    // Three models at depth 4 leave a region of 4 accounts: 6 are refused.
    let crowded = stateless(&[
        "gen",
        "--model",
        "all",
        "--depth",
        "4",
        "--accounts",
        "6",
        "--out",
        path(&dir.path().join("crowded")),
    ]);
    assert_eq!(crowded.status.code(), Some(2));
    assert!(
        stderr(&crowded).contains("a chain of 3 models keeps its accounts below"),
        "{}",
        stderr(&crowded)
    );
}

/// A `transfer` account and the genesis of a Cancun `evm` chain of one funded account, both
/// for chain `chain_id`.
fn transfer_beside_evm(
    dir: &tempfile::TempDir,
    chain_id: u64,
) -> (witness_format::Allocation, EvmProducer) {
    transfer_and_evm(dir, chain_id, None)
}

/// [`transfer_beside_evm`], with the bridge contract for `bridge` models at its address.
fn transfer_and_evm(
    dir: &tempfile::TempDir,
    chain_id: u64,
    bridge: Option<&[Model]>,
) -> (witness_format::Allocation, EvmProducer) {
    let spec = WorkloadSpec {
        chain_id: 7,
        tree_depth: 4,
        accounts: 2,
        blocks: 0,
        ..WorkloadSpec::default()
    };
    let numbered = generate_numbered(&spec, &[Model::Transfer, Model::Evm], 0);
    let [transfer] = numbered.as_slice() else {
        panic!("one numbered model");
    };
    let mut accounts = vec![GenesisAccount {
        address: account_address(0, 0),
        balance: U256::from(10u64.pow(18)),
        ..GenesisAccount::default()
    }];
    accounts.extend(system_contracts(witness_format::EvmSchedule::Cancun));
    if let Some(models) = bridge {
        accounts.push(GenesisAccount {
            address: BRIDGE_ADDRESS,
            nonce: 1,
            code: bridge_code(models).into(),
            ..GenesisAccount::default()
        });
    }
    let allocation = EvmAllocation {
        chain_id,
        schedule: witness_format::EvmSchedule::Cancun,
        gas_limit: 30_000_000,
        accounts,
    };
    let producer = EvmProducer::create(&dir.path().join("db.evm"), &allocation).unwrap();
    (transfer.allocation.clone(), producer)
}

#[test]
fn exits_to_the_evm_model_are_refused_until_its_bridge_exists() {
    let dir = tempdir();
    let (allocation, mut producer) = transfer_beside_evm(&dir, 7);
    let mut state = ProverState::open_chain_with_evm(
        &dir.path().join("db"),
        std::slice::from_ref(&allocation),
        &[],
        Some(producer.genesis()),
    )
    .unwrap();
    // The transfer tree keeps the lower half for accounts; the upper half is the channel
    // with the evm model, closed.
    let params = verifier::ChainParams::from_genesis(state.genesis()).unwrap();
    let channels = bridge(&params, Model::Transfer).unwrap();
    let leaf = channels.channel_leaf(Model::Evm, 1).unwrap();
    assert_eq!(leaf, 9);
    let mut exit = Transaction {
        from: 0,
        to: leaf,
        amount: 5,
        nonce: 0,
        new_account_key: PublicKey::ZERO,
        signature: Signature::ZERO,
    };
    prover::workload::sign_for(Model::Transfer, 7, 0, &mut exit);
    let mut ordinary = Transaction { to: 1, ..exit };
    prover::workload::sign_for(Model::Transfer, 7, 0, &mut ordinary);
    let evm_blob = producer.produce_blob(Vec::new()).unwrap();
    let (block, report) = state
        .build_block_with_evm(
            &[(Model::Transfer, &[exit, ordinary])],
            Some(evm_blob),
            Some(&producer),
            BlockOptions::default(),
        )
        .unwrap();
    assert_eq!(
        report.dropped,
        [(
            0,
            Reason::ChannelClosed {
                account: 9,
                model: Model::Evm
            }
        )]
    );
    assert_eq!(report.included, 1);
    assert_eq!(block.blobs.last().map(|b| b.model), Some(Model::Evm));
    verifier::verify_chain(state.genesis(), &[block]).expect("the block verifies");
    // The account key of the workload is the model's.
    assert_eq!(
        allocation.accounts[0].public_key,
        model_public_key(Model::Transfer, 0, 0)
    );

    // An evm blob that does not follow the chain's evm root is refused before anything is
    // written.
    let stale = producer.produce_blob(Vec::new()).unwrap();
    let mut skipped = stale.clone();
    skipped.pre_state_root = witness_format::Hash32::from([3; 32]);
    assert!(matches!(
        state.build_block_with_evm(&[], Some(skipped), None, BlockOptions::default()),
        Err(ProverError::InvalidBlob(error))
            if matches!(error.reason, Reason::BlobDoesNotFollow { model: Model::Evm, .. })
    ));
    assert_eq!(state.height(), 1);
}

#[test]
fn an_evm_chain_of_another_chain_id_is_not_shared() {
    let dir = tempdir();
    let (allocation, producer) = transfer_beside_evm(&dir, 8);
    let refused = ProverState::open_chain_with_evm(
        &dir.path().join("db"),
        std::slice::from_ref(&allocation),
        &[],
        Some(producer.genesis()),
    );
    assert!(
        matches!(&refused, Err(ProverError::InvalidAllocation(why)) if why.contains("chain 8")),
        "{:?}",
        refused.err()
    );
}

/// A call from evm account 0 (seed 0) with nonce `nonce` to the bridge contract.
fn to_bridge(nonce: u64, value: u64, input: Vec<u8>) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: 7,
        nonce,
        gas_limit: 100_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(BRIDGE_ADDRESS),
        value: U256::from(value),
        input: input.into(),
        ..TxEip1559::default()
    };
    sign_transaction(&signing_key(0, 0), tx)
}

/// The sum of the `transfer` accounts' balances (the genesis's two and none above).
fn transfer_total(state: &ProverState) -> u64 {
    (0..2)
        .map(|n| state.account(Model::Transfer, n).unwrap().balance)
        .sum()
}

/// Value leaves `evm` through the bridge contract and is credited to `transfer` once, and
/// only what the contract accepts: whole gwei, to a model the chain hosts, in 64 bytes of
/// calldata. Value is conserved: what left `evm` is held by the contract, and is in flight or
/// in `transfer`'s accounts. A receipt altered in the block is rejected, named.
#[test]
fn value_exits_evm_through_the_bridge_and_is_credited_once() {
    let dir = tempdir();
    let models = [Model::Transfer, Model::Evm];
    let (allocation, mut producer) = transfer_and_evm(&dir, 7, Some(&models));
    let mut state = ProverState::open_chain_with_evm(
        &dir.path().join("db"),
        std::slice::from_ref(&allocation),
        &[],
        Some(producer.genesis()),
    )
    .unwrap();
    let genesis_total = transfer_total(&state);
    let exits = vec![
        to_bridge(0, 5 * WEI_PER_UNIT, exit_calldata(Model::Transfer, 1)),
        to_bridge(1, 3 * WEI_PER_UNIT, exit_calldata(Model::Transfer, 0)),
        // Refused by the contract: part of a gwei, a model the chain lacks, short calldata,
        // no value.
        to_bridge(2, WEI_PER_UNIT + 1, exit_calldata(Model::Transfer, 1)),
        to_bridge(3, WEI_PER_UNIT, exit_calldata(Model::ZkTransfer, 1)),
        to_bridge(4, WEI_PER_UNIT, vec![0; 32]),
        to_bridge(5, 0, exit_calldata(Model::Transfer, 1)),
    ];
    let (first, _) = {
        let blob = producer.produce_blob(exits).unwrap();
        state
            .build_block_with_evm(&[], Some(blob), Some(&producer), BlockOptions::default())
            .unwrap()
    };
    assert_eq!(
        producer.balance(BRIDGE_ADDRESS).unwrap(),
        U256::from(8 * WEI_PER_UNIT),
        "the contract holds what it accepted, and only that"
    );
    // Credited in the next block, once.
    let blob = producer.produce_blob(Vec::new()).unwrap();
    let (second, report) = state
        .build_block_with_evm(&[], Some(blob), Some(&producer), BlockOptions::default())
        .unwrap();
    assert_eq!(report.credited, 2);
    assert_eq!(transfer_total(&state), genesis_total + 8);
    let blob = producer.produce_blob(Vec::new()).unwrap();
    let (third, report) = state
        .build_block_with_evm(&[], Some(blob), Some(&producer), BlockOptions::default())
        .unwrap();
    assert_eq!(report.credited, 0, "a receipt credits once");
    assert_eq!(transfer_total(&state), genesis_total + 8);
    let blocks = [first, second, third];
    verifier::verify_chain(state.genesis(), &blocks).expect("the chain verifies");

    // The credits' blob, its receipts altered one way at a time.
    let params = verifier::ChainParams::from_genesis(state.genesis()).unwrap();
    let header = &blocks[1].header;
    let credits = blocks[1]
        .blobs
        .iter()
        .find(|blob| matches!(blob.witness, Witness::Credits(_)))
        .expect("a blob of credits")
        .clone();
    let rejection = |edit: &dyn Fn(&mut witness_format::CreditWitness)| {
        let mut blob = credits.clone();
        let Witness::Credits(witness) = &mut blob.witness else {
            unreachable!()
        };
        edit(witness);
        verifier::verify_blob_in_block(&params, header, &blob)
            .expect_err("an altered receipt is rejected")
            .reason
    };
    let channel =
        |witness: &mut witness_format::CreditWitness, i: usize| match &mut witness.receipts[i].fact
        {
            witness_format::HistoryFact::EvmChannel(fact) => fact.clone(),
            _ => panic!("a receipt from evm is an evm channel fact"),
        };
    // Credits go in ascending channel order: account 0's, then account 1's.
    assert_eq!(
        rejection(&|w| w.receipts.swap(0, 1)),
        Reason::ReceiptForOtherChannel {
            model: Model::Transfer,
            account: 1
        }
    );
    assert_eq!(
        rejection(&|w| {
            let mut fact = channel(w, 1);
            fact.sent = 6;
            w.receipts[1].fact = witness_format::HistoryFact::EvmChannel(fact);
        }),
        Reason::HistoryProof(HistoryProofError::EvmChannelMismatch {
            recorded: "5".into(),
            fact: 6
        })
    );
    let missing = rejection(&|w| {
        let mut fact = channel(w, 1);
        let mut nodes = fact.nodes.to_vec();
        nodes.pop();
        fact.nodes = nodes.try_into().unwrap();
        w.receipts[1].fact = witness_format::HistoryFact::EvmChannel(fact);
    });
    assert!(
        missing.to_string().contains("the witness lacks trie node"),
        "{missing}"
    );
}

/// Storage a contract other than the chain's bridge wrote is no receipt: the prover's own
/// check refuses the credit it would make from it, naming the code.
#[test]
fn a_receipt_from_another_contract_is_refused() {
    let dir = tempdir();
    // The contract of a chain of all three models, on a chain of `transfer` and `evm`.
    let (allocation, mut producer) = transfer_and_evm(&dir, 7, Some(&Model::ALL));
    let mut state = ProverState::open_chain_with_evm(
        &dir.path().join("db"),
        std::slice::from_ref(&allocation),
        &[],
        Some(producer.genesis()),
    )
    .unwrap();
    let exit = to_bridge(0, 5 * WEI_PER_UNIT, exit_calldata(Model::Transfer, 1));
    let blob = producer.produce_blob(vec![exit]).unwrap();
    state
        .build_block_with_evm(&[], Some(blob), Some(&producer), BlockOptions::default())
        .unwrap();
    let blob = producer.produce_blob(Vec::new()).unwrap();
    let refused =
        state.build_block_with_evm(&[], Some(blob), Some(&producer), BlockOptions::default());
    assert!(
        matches!(
            &refused,
            Err(ProverError::InvalidBlob(error))
                if matches!(error.reason, Reason::ReceiptNotFromBridge { .. })
        ),
        "{:?}",
        refused.err()
    );
    assert_eq!(state.height(), 1, "nothing was committed");
}
