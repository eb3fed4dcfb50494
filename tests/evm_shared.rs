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
use prover::evm_produce::{ProduceError, build_shared_block};
use prover::evm_state::GenesisAccount;
use prover::evm_workload::{
    EvmAllocation, account_address, sign_transaction, signing_key, system_contracts,
};
use prover::workload::{WorkloadSpec, generate_numbered};
use prover::{BlockOptions, ProverError, ProverState};
use verifier::bridge::bridge;
use verifier::evm::bridge::{
    BRIDGE_ADDRESS, WEI_PER_UNIT, bridge_code, exit_calldata, registered_count_slot, registry_slot,
};
use verifier::{HistoryProofError, Reason};
use witness_format::{Block, Genesis, Model, Transaction, Witness};

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
    assert!(
        blocks
            .iter()
            .flat_map(|b| b.blobs.iter())
            .any(|blob| matches!(blob.witness, Witness::EvmCredits(_))),
        "exits to evm are paid in"
    );

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
    let witness = match &mut blob.witness {
        Witness::Evm(witness) => witness,
        Witness::EvmCredits(credits) => &mut credits.evm,
        _ => panic!("an evm blob carries an evm witness"),
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

/// Ether of each funded `evm` account.
const EVM_GENESIS_BALANCE: u64 = 10u64.pow(18);

/// Two `transfer` accounts and the genesis of a Cancun `evm` chain of two funded accounts,
/// both for chain `chain_id`.
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
    let mut accounts: Vec<GenesisAccount> = (0..2)
        .map(|n| GenesisAccount {
            address: account_address(0, n),
            balance: U256::from(EVM_GENESIS_BALANCE),
            ..GenesisAccount::default()
        })
        .collect();
    accounts.extend(system_contracts(witness_format::EvmSchedule::Cancun));
    if let Some(models) = bridge {
        // Accounts 0, 1 and 2 registered as evm accounts 0, 1 and 2 (2 holds no ether).
        let mut storage: Vec<(U256, U256)> = (0..3)
            .map(|n| {
                let address = account_address(0, n);
                (registry_slot(n), U256::from_be_slice(address.as_slice()))
            })
            .collect();
        storage.push((registered_count_slot(), U256::from(3)));
        accounts.push(GenesisAccount {
            address: BRIDGE_ADDRESS,
            nonce: 1,
            code: bridge_code(models).into(),
            storage,
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

/// A chain of `transfer` and `evm` with the bridge, proven by the prover's database at `db`.
fn bridged(dir: &tempfile::TempDir) -> (ProverState, EvmProducer) {
    let models = [Model::Transfer, Model::Evm];
    let (allocation, mut producer) = transfer_and_evm(dir, 7, Some(&models));
    producer.share_with(&models);
    let state = ProverState::open_chain_with_evm(
        &dir.path().join("db"),
        std::slice::from_ref(&allocation),
        &[],
        Some(producer.genesis()),
    )
    .unwrap();
    (state, producer)
}

/// The next block of `transfers` and `evm` transactions (`None`: no `evm` block unless it
/// has credits to pay).
fn next(
    state: &mut ProverState,
    producer: &mut EvmProducer,
    transfers: &[Transaction],
    evm: Option<Vec<TxEnvelope>>,
) -> (Block, prover::BlockReport) {
    build_shared_block(
        state,
        producer,
        &[(Model::Transfer, transfers)],
        evm,
        BlockOptions::default(),
    )
    .unwrap()
}

/// A signed `transfer` transaction from account `from` (nonce `nonce`) to leaf `to`.
fn transfer_tx(from: u64, to: u64, amount: u64, nonce: u64) -> Transaction {
    let spec = WorkloadSpec {
        chain_id: 7,
        ..WorkloadSpec::default()
    };
    common::transfer(&spec, from, to, amount, nonce, false)
}

/// Value goes from `transfer` to `evm` and back: a `transfer` exit names an `evm` account by
/// its number in the bridge's registry and is paid in as a withdrawal in the next block; an
/// `evm` exit through the bridge contract is credited to `transfer` in the next block. Each
/// credits once; an exit to an account number nobody registered waits, in flight, until
/// someone registers as it. Value is conserved at every height.
#[test]
fn value_goes_between_transfer_and_evm_both_ways() {
    let dir = tempdir();
    let (mut state, mut producer) = bridged(&dir);
    let params = verifier::ChainParams::from_genesis(state.genesis()).unwrap();
    let channels = bridge(&params, Model::Transfer).unwrap();
    let to_evm = |account| channels.channel_leaf(Model::Evm, account).unwrap();
    assert_eq!(to_evm(1), 9, "the upper half of a depth-4 tree");
    let genesis_total = transfer_total(&state);
    let evm_one = account_address(0, 1);
    let evm_balance = |producer: &EvmProducer| producer.balance(evm_one).unwrap();
    // What has crossed so far, in units: from transfer to evm, and back.
    let (mut to_evm_sent, mut to_transfer_sent) = (0u64, 0u64);
    let conserved = |state: &ProverState, producer: &EvmProducer, to_evm: u64, back: u64| {
        // transfer's accounts plus what is in flight either way, less what came from evm.
        let in_flight_out: u64 = (0..8)
            .map(|n| state.account(Model::Transfer, 8 + n).unwrap())
            .map(|leaf| leaf.balance)
            .sum();
        assert_eq!(
            in_flight_out, to_evm,
            "transfer's channels hold what it sent"
        );
        let bridge_ether = producer.balance(BRIDGE_ADDRESS).unwrap();
        assert_eq!(bridge_ether, U256::from(back * WEI_PER_UNIT));
        assert_eq!(
            transfer_total(state) + to_evm,
            genesis_total + credited_from_evm(state),
            "value is conserved"
        );
    };

    // Block 1: transfer 0 sends 5 to evm account 1; evm account 0 sends 3 gwei to transfer
    // account 1; transfer 0 sends 2 to evm account 5, which nobody registered.
    let exits = [
        transfer_tx(0, to_evm(1), 5, 0),
        transfer_tx(0, to_evm(5), 2, 1),
    ];
    let evm_exit = to_bridge(0, 3 * WEI_PER_UNIT, exit_calldata(Model::Transfer, 1));
    let (first, report) = next(&mut state, &mut producer, &exits, Some(vec![evm_exit]));
    assert_eq!((report.included, report.credited), (2, 0));
    to_evm_sent += 7;
    to_transfer_sent += 3;
    conserved(&state, &producer, to_evm_sent, to_transfer_sent);
    let before = evm_balance(&producer);

    // Block 2: both credited, without any transaction.
    let (second, report) = next(&mut state, &mut producer, &[], None);
    assert_eq!(report.credited, 1, "transfer account 1, from evm");
    assert_eq!(
        evm_balance(&producer),
        before + U256::from(5 * WEI_PER_UNIT),
        "evm account 1, from transfer (a withdrawal)"
    );
    let evm_blob = second
        .blobs
        .iter()
        .find(|b| b.model == Model::Evm)
        .unwrap()
        .clone();
    let Witness::EvmCredits(paid) = evm_blob.witness.clone() else {
        panic!("an evm blob paying credits carries their receipts");
    };
    assert_eq!(
        paid.receipts.len(),
        1,
        "account 5 is not registered: it waits"
    );
    conserved(&state, &producer, to_evm_sent, to_transfer_sent);

    // Block 3: nothing left to credit, so no evm block; evm account 0 registers again (as
    // account 3: numbers are handed out in order).
    let register = to_bridge(1, 0, Vec::new());
    let (third, report) = next(&mut state, &mut producer, &[], Some(vec![register]));
    assert_eq!(report.credited, 0);
    // Block 4: transfer 0 sends 4 to evm account 3, which is evm account 0's new number.
    let (fourth, _) = next(
        &mut state,
        &mut producer,
        &[transfer_tx(0, to_evm(3), 4, 2)],
        None,
    );
    to_evm_sent += 4;
    let evm_zero = account_address(0, 0);
    let zero_before = producer.balance(evm_zero).unwrap();
    let (fifth, _) = next(&mut state, &mut producer, &[], None);
    assert_eq!(
        producer.balance(evm_zero).unwrap(),
        zero_before + U256::from(4 * WEI_PER_UNIT)
    );
    conserved(&state, &producer, to_evm_sent, to_transfer_sent);
    let (sixth, report) = next(&mut state, &mut producer, &[], None);
    assert_eq!(report.credited, 0);
    assert!(
        sixth.blobs.iter().all(|b| b.model != Model::Evm),
        "nothing to pay, no evm block"
    );
    let blocks = [first, second, third, fourth, fifth, sixth];
    verifier::verify_chain(state.genesis(), &blocks).expect("the chain verifies");

    // The paying blob altered: without its receipts, its withdrawals are not its credits; a
    // receipt of another leaf is no channel with evm.
    let header = &blocks[1].header;
    let altered = |edit: &dyn Fn(&mut witness_format::Blob)| {
        let mut blob = evm_blob.clone();
        edit(&mut blob);
        let mut block = blocks[1].clone();
        let index = block
            .blobs
            .iter()
            .position(|b| b.model == Model::Evm)
            .unwrap();
        block.blobs[index] = blob;
        let mut chain = blocks.to_vec();
        chain[1] = block;
        common::reseal(state.genesis(), &mut chain);
        let error = verifier::verify_chain(state.genesis(), &chain).expect_err("rejected");
        assert_eq!(error.location.block, Some(2), "{error}");
        error.to_string()
    };
    let no_receipts = altered(&|blob| {
        blob.witness = Witness::Evm(paid.evm.clone());
    });
    assert!(
        no_receipts.contains("withdrawals are") && no_receipts.contains("its credits make them"),
        "{no_receipts}"
    );
    let other_leaf = state
        .history_proof(
            header.height,
            prover::FactQuery::Account {
                height: 1,
                model: Model::Transfer,
                account: 0,
            },
        )
        .unwrap();
    let not_a_channel = altered(&|blob| {
        let mut credits = paid.clone();
        credits.receipts[0] = other_leaf.clone();
        blob.witness = Witness::EvmCredits(credits);
    });
    assert!(
        not_a_channel.contains("transfer leaf 0, is not a channel with the evm model"),
        "{not_a_channel}"
    );
}

/// The credit rule's refusals, each on a real block of a shared chain checked with other
/// credits than its own: another bridge code, credits out of order, a credit to an account
/// nobody registered, a total already credited; and receipts for an `evm` chain of its own.
#[test]
fn the_credit_rule_refuses_each_wrong_credit() {
    use verifier::evm::bridge::{BridgeCredits, BridgeError, EvmCredit};
    use verifier::evm::{EvmError, decode_block, verify_block};
    let dir = tempdir();
    let (mut state, mut producer) = bridged(&dir);
    let params = verifier::ChainParams::from_genesis(state.genesis()).unwrap();
    let to_evm = bridge(&params, Model::Transfer)
        .unwrap()
        .channel_leaf(Model::Evm, 1)
        .unwrap();
    let (first, _) = next(
        &mut state,
        &mut producer,
        &[transfer_tx(0, to_evm, 5, 0)],
        None,
    );
    let (second, _) = next(&mut state, &mut producer, &[], None);
    let (third, _) = next(&mut state, &mut producer, &[], Some(Vec::new()));
    // A block without credits in the form that pays them: one form each.
    let mut chain = vec![first, second.clone(), third.clone()];
    let plain = chain[2]
        .blobs
        .iter_mut()
        .find(|b| b.model == Model::Evm)
        .unwrap();
    let evm = plain.witness.evm().unwrap().clone();
    plain.witness = Witness::EvmCredits(witness_format::EvmCreditWitness {
        evm,
        receipts: Default::default(),
    });
    common::reseal(state.genesis(), &mut chain);
    assert_eq!(
        verifier::verify_chain(state.genesis(), &chain)
            .unwrap_err()
            .reason,
        Reason::NoEvmCredits
    );
    let ethereum = |block: &Block| {
        let blob = block.blobs.iter().find(|b| b.model == Model::Evm).unwrap();
        let witness = blob.witness.evm().unwrap();
        (decode_block(&witness.block).unwrap(), blob.pre_state_root)
    };
    let spec = producer.spec().clone();
    let models = [Model::Transfer, Model::Evm];
    // Each checked over the producer's whole store, so every slot can be read.
    let refusal = |block: &Block, models: &[Model], credits: &[EvmCredit]| {
        let (ethereum, pre) = ethereum(block);
        let db = producer
            .state()
            .full_db(ethereum.header.number, &[])
            .unwrap();
        let credits = Some(BridgeCredits { models, credits });
        match verify_block(&spec, &ethereum, pre.0.into(), db, credits) {
            Err(EvmError::Bridge(error)) => error,
            other => panic!("expected a bridge error, got {other:?}"),
        }
    };
    let paid = EvmCredit {
        model: Model::Transfer,
        account: 1,
        sent: 5,
    };
    assert!(matches!(
        refusal(&second, &Model::ALL, &[paid]),
        BridgeError::NotTheBridge { code_hash: Some(_) }
    ));
    assert_eq!(
        refusal(&second, &models, &[paid, paid]),
        BridgeError::OutOfOrder { index: 1 }
    );
    assert_eq!(
        refusal(&second, &models, &[EvmCredit { account: 5, ..paid }]),
        BridgeError::Unregistered { account: 5 }
    );
    // After block 2 paid it, the same total has nothing left.
    assert_eq!(
        refusal(&third, &models, &[paid]),
        BridgeError::AlreadyCredited {
            model: Model::Transfer,
            account: 1,
            sent: 5,
            credited: U256::from(5)
        }
    );

    // Receipts on an `evm` chain of its own: no bridge to credit through.
    let own = tempdir();
    let (_, mut alone) = transfer_beside_evm(&own, 7);
    alone.produce(Vec::new()).unwrap();
    let mut blocks = alone.blocks().to_vec();
    let genesis = alone.genesis().clone();
    let evm = blocks[0].blobs[0].witness.evm().unwrap().clone();
    blocks[0].blobs[0].witness = Witness::EvmCredits(witness_format::EvmCreditWitness {
        evm,
        receipts: Default::default(),
    });
    common::reseal(&genesis, &mut blocks);
    assert_eq!(
        verifier::verify_chain(&genesis, &blocks)
            .unwrap_err()
            .reason,
        Reason::NoBridge
    );
}

/// What `transfer` credited from `evm` so far: its channel leaves with `evm` accounts keep it
/// in their nonces.
fn credited_from_evm(state: &ProverState) -> u64 {
    (0..8)
        .map(|n| state.account(Model::Transfer, 8 + n).unwrap())
        .filter(|leaf| !leaf.is_empty())
        .map(|leaf| leaf.nonce)
        .sum()
}

/// An `evm` blob that does not follow the chain's `evm` root is refused before anything is
/// written.
#[test]
fn an_evm_blob_must_follow_the_chains_evm_root() {
    let dir = tempdir();
    let (mut state, mut producer) = bridged(&dir);
    let mut skipped = producer.produce_blob(Vec::new(), &[], Vec::new()).unwrap();
    skipped.pre_state_root = witness_format::Hash32::from([3; 32]);
    assert!(matches!(
        state.build_block_with_evm(&[], Some(skipped), None, BlockOptions::default()),
        Err(ProverError::InvalidBlob(error))
            if matches!(error.reason, Reason::BlobDoesNotFollow { model: Model::Evm, .. })
    ));
    assert_eq!(state.height(), 0);
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
    let (mut state, mut producer) = bridged(&dir);
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
    let (first, _) = next(&mut state, &mut producer, &[], Some(exits));
    assert_eq!(
        producer.balance(BRIDGE_ADDRESS).unwrap(),
        U256::from(8 * WEI_PER_UNIT),
        "the contract holds what it accepted, and only that"
    );
    // Credited in the next block, once.
    let (second, report) = next(&mut state, &mut producer, &[], None);
    assert_eq!(report.credited, 2);
    assert_eq!(transfer_total(&state), genesis_total + 8);
    let (third, report) = next(&mut state, &mut producer, &[], Some(Vec::new()));
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
    producer.share_with(&[Model::Transfer, Model::Evm]);
    let mut state = ProverState::open_chain_with_evm(
        &dir.path().join("db"),
        std::slice::from_ref(&allocation),
        &[],
        Some(producer.genesis()),
    )
    .unwrap();
    let exit = to_bridge(0, 5 * WEI_PER_UNIT, exit_calldata(Model::Transfer, 1));
    next(&mut state, &mut producer, &[], Some(vec![exit]));
    let refused = build_shared_block(
        &mut state,
        &mut producer,
        &[],
        None,
        BlockOptions::default(),
    );
    assert!(
        matches!(
            &refused,
            Err(ProduceError::Shared(error))
                if matches!(&**error, ProverError::InvalidBlob(error)
                    if matches!(error.reason, Reason::ReceiptNotFromBridge { .. }))
        ),
        "{:?}",
        refused.err()
    );
    assert_eq!(state.height(), 1, "nothing was committed");
}

/// A generated workload of the three models with exits every way, built block by block: after
/// every block, value is conserved. On the numbered side, accounts plus what their channels
/// sent less what they credited is the genesis total; on the `evm` side, the bridge contract
/// holds exactly what its channels record as sent; and the chain verifies.
#[test]
fn value_is_conserved_across_the_three_models_at_every_height() {
    use prover::evm_workload::{EvmBridgeSpec, EvmWorkloadSpec, generate};
    use verifier::evm::bridge::channel_slot;
    let dir = tempdir();
    let spec = WorkloadSpec {
        chain_id: 7,
        tree_depth: 6,
        accounts: 8,
        blocks: 4,
        txs_per_block: 6,
        ..WorkloadSpec::default()
    };
    let numbered = generate_numbered(&spec, &Model::ALL, 40);
    let evm = generate(&EvmWorkloadSpec {
        chain_id: 7,
        accounts: 8,
        blocks: 4,
        txs_per_block: 6,
        token_percent: 20,
        bridge: EvmBridgeSpec::of(&Model::ALL, 8, 40),
        ..EvmWorkloadSpec::default()
    })
    .unwrap();
    let allocations: Vec<_> = numbered.iter().map(|w| w.allocation.clone()).collect();
    let db = dir.path().join("db");
    let mut producer =
        EvmProducer::create(&prover::prove_dir::evm_store_path(&db), &evm.allocation).unwrap();
    producer.share_with(&Model::ALL);
    let mut state =
        ProverState::open_chain_with_evm(&db, &allocations, &[], Some(producer.genesis())).unwrap();
    let leaves = 1u64 << spec.tree_depth;
    // Accounts plus sent less credited, over every leaf of both numbered trees.
    let numbered_total = |state: &ProverState| -> u128 {
        Model::NUMBERED
            .iter()
            .flat_map(|&model| (0..leaves).map(move |leaf| (model, leaf)))
            .map(|(model, leaf)| {
                let value = state.account(model, leaf).unwrap();
                let is_channel = leaf >= leaves / 4;
                match (value.is_empty(), is_channel) {
                    (true, _) => 0i128,
                    (false, false) => i128::from(value.balance),
                    (false, true) => i128::from(value.balance) - i128::from(value.nonce),
                }
            })
            .sum::<i128>() as u128
    };
    let genesis_total = numbered_total(&state);
    let mut blocks = Vec::new();
    let (mut crossed_from_evm, mut crossed_to_evm) = (0u64, 0u64);
    for height in 0..=spec.blocks + 1 {
        let batches: Vec<(Model, &[Transaction])> = numbered
            .iter()
            .filter_map(|w| {
                w.batches
                    .get(height)
                    .map(|b| (w.allocation.model, b.transactions.as_ref()))
            })
            .collect();
        let (block, report) = build_shared_block(
            &mut state,
            &mut producer,
            &batches,
            evm.blocks.get(height).cloned(),
            BlockOptions::default(),
        )
        .unwrap();
        assert!(report.dropped.is_empty(), "{:?}", report.dropped);
        blocks.push(block);
        assert_eq!(
            numbered_total(&state),
            genesis_total,
            "numbered value after block {}",
            height + 1
        );
        let sent_from_evm: u64 = Model::NUMBERED
            .iter()
            .flat_map(|&model| (0..leaves / 4).map(move |n| channel_slot(model, n)))
            .map(|slot| u64::try_from(producer.bridge_slot(slot).unwrap()).unwrap())
            .sum();
        assert_eq!(
            producer.balance(BRIDGE_ADDRESS).unwrap(),
            U256::from(sent_from_evm) * U256::from(WEI_PER_UNIT),
            "the bridge holds what left evm, after block {}",
            height + 1
        );
        crossed_from_evm = sent_from_evm;
        crossed_to_evm += blocks
            .last()
            .unwrap()
            .blobs
            .iter()
            .filter_map(|b| match &b.witness {
                Witness::EvmCredits(credits) => Some(credits),
                _ => None,
            })
            .map(|credits| {
                let ethereum = verifier::evm::decode_block(&credits.evm.block).unwrap();
                ethereum
                    .body
                    .withdrawals
                    .unwrap()
                    .iter()
                    .map(|w| w.amount)
                    .sum::<u64>()
            })
            .sum::<u64>();
    }
    assert!(
        crossed_from_evm > 0 && crossed_to_evm > 0,
        "value crossed both ways"
    );
    verifier::verify_chain(state.genesis(), &blocks).expect("the chain verifies");
}

/// A credit into `evm` is paid in at the start of its block: an account that holds no ether
/// spends what it is credited in the same block.
#[test]
fn a_credit_into_evm_is_spendable_in_its_own_block() {
    let dir = tempdir();
    let (mut state, mut producer) = bridged(&dir);
    let params = verifier::ChainParams::from_genesis(state.genesis()).unwrap();
    let to_evm = bridge(&params, Model::Transfer)
        .unwrap()
        .channel_leaf(Model::Evm, 2)
        .unwrap();
    let penniless = account_address(0, 2);
    assert_eq!(producer.balance(penniless).unwrap(), U256::ZERO);
    // 0.01 ether, in gwei.
    let amount = 10_000_000;
    next(
        &mut state,
        &mut producer,
        &[transfer_tx(0, to_evm, amount, 0)],
        None,
    );
    let spend = sign_transaction(
        &signing_key(0, 2),
        TxEip1559 {
            chain_id: 7,
            nonce: 0,
            gas_limit: 21_000,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(account_address(0, 1)),
            value: U256::from(WEI_PER_UNIT),
            ..TxEip1559::default()
        },
    );
    let (block, report) = next(&mut state, &mut producer, &[], Some(vec![spend]));
    assert_eq!(report.height, 2);
    let balance = producer.balance(penniless).unwrap();
    assert!(
        balance > U256::ZERO && balance < U256::from(amount - 1) * U256::from(WEI_PER_UNIT),
        "credited, then spent a gwei and the gas: {balance}"
    );
    assert!(matches!(
        block
            .blobs
            .iter()
            .find(|b| b.model == Model::Evm)
            .unwrap()
            .witness,
        Witness::EvmCredits(_)
    ));
}
