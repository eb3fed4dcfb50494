//! `evm` chains the prover produces itself: the generated ERC-20 workload (every token
//! transfer succeeds and logs, a short balance reverts), verified statelessly; and Prague on
//! our own blocks (no Prague test is among the shared fixtures), where the producer and the
//! verifier must agree and the specifications decide: EIP-7702 delegations, EIP-2935's
//! history contract, EIP-7002 withdrawal requests with EIP-7685's requests hash, and a block
//! whose request contracts have no code.

mod common;

use common::{block_file, gen_tiny, ok, path, stateless, stderr};

use alloy_consensus::{Block, SignableTransaction, Transaction, TxEip1559, TxEip7702, TxEnvelope};
use alloy_eips::eip2935::HISTORY_STORAGE_ADDRESS;
use alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS;
use alloy_eips::eip7702::Authorization;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use prover::evm_produce::{EvmProducer, ProduceError};
use prover::evm_state::GenesisAccount;
use prover::evm_workload::{
    EvmAllocation, EvmWorkloadSpec, TOKEN_ADDRESS, account_address, generate, sign_hash,
    sign_transaction, signing_key, system_contracts, transfer_calldata,
};
use verifier::evm::EvmError;
use verifier::{ChainVerifier, Reason, VerifyError};
use witness_format::{EvmSchedule, EvmWitness, Witness};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// A producer of a fresh chain under `schedule` holding `accounts`.
fn producer(
    dir: &tempfile::TempDir,
    schedule: EvmSchedule,
    accounts: &[GenesisAccount],
) -> EvmProducer {
    let allocation = EvmAllocation {
        chain_id: 1,
        schedule,
        gas_limit: 30_000_000,
        accounts: accounts.to_vec(),
    };
    EvmProducer::create(&dir.path().join("evm.redb"), &allocation).expect("a producer")
}

/// Funded accounts 0..n under seed 0, and the system contracts of `schedule`.
fn funded(n: u64, schedule: EvmSchedule) -> Vec<GenesisAccount> {
    let mut accounts: Vec<GenesisAccount> = (0..n)
        .map(|i| GenesisAccount {
            address: account_address(0, i),
            balance: U256::from(10u128.pow(21)),
            ..GenesisAccount::default()
        })
        .collect();
    accounts.extend(system_contracts(schedule));
    accounts
}

/// An EIP-1559 call from account `from` (seed 0) with nonce `nonce`.
fn call(from: u64, nonce: u64, to: Address, value: u64, input: Vec<u8>) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit: 500_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(to),
        value: U256::from(value),
        input: input.into(),
        ..TxEip1559::default()
    };
    sign_transaction(&signing_key(0, from), tx)
}

fn verify(
    genesis: &witness_format::Genesis,
    blocks: &[witness_format::Block],
) -> Result<(), VerifyError> {
    ChainVerifier::new(genesis)
        .expect("the genesis is valid")
        .verify_blocks(blocks)
}

/// The chain's Ethereum blocks, each with its witness.
fn ethereum_blocks(blocks: &[witness_format::Block]) -> Vec<(Block<TxEnvelope>, EvmWitness)> {
    blocks
        .iter()
        .map(|block| match &block.blobs[0].witness {
            Witness::Evm(witness) => (
                verifier::evm::decode_block(&witness.block).expect("a block"),
                witness.clone(),
            ),
            other => panic!("not an evm witness: {other:?}"),
        })
        .collect()
}

/// The chain rebuilt with block `index` (from 0) changed by `tamper`, each block with the
/// witness the producer built for it.
fn tampered(
    chain: &prover::evm_import::ImportedChain,
    index: usize,
    tamper: impl Fn(&mut Block<TxEnvelope>),
) -> Vec<witness_format::Block> {
    let mut builder = prover::evm_import::EvmChainBuilder::new(chain.genesis.clone()).unwrap();
    for (i, (mut block, witness)) in ethereum_blocks(&chain.blocks).into_iter().enumerate() {
        if i == index {
            tamper(&mut block);
        }
        builder
            .push(
                &alloy_rlp::encode(&block),
                witness.nodes.iter().map(|n| n.to_vec()).collect(),
                witness.codes.iter().map(|c| c.to_vec()).collect(),
                witness.ancestor_hashes.len(),
            )
            .unwrap();
    }
    builder.finish().blocks
}

fn evm_reason(error: VerifyError) -> EvmError {
    match error.reason {
        Reason::Evm(error) => *error,
        other => panic!("not an evm rejection: {other:?}"),
    }
}

#[test]
fn a_generated_workload_proves_and_verifies_under_each_fork() {
    for schedule in [EvmSchedule::Cancun, EvmSchedule::Prague] {
        let spec = EvmWorkloadSpec {
            schedule,
            accounts: 16,
            blocks: 3,
            txs_per_block: 24,
            ..EvmWorkloadSpec::default()
        };
        let workload = generate(&spec).unwrap();
        let dir = tempdir();
        let mut producer =
            EvmProducer::create(&dir.path().join("evm.redb"), &workload.allocation).unwrap();
        let (mut tokens, mut ether) = (0, 0);
        for transactions in &workload.blocks {
            let receipts = producer.produce(transactions.clone()).unwrap();
            assert_eq!(receipts.len(), transactions.len());
            for (tx, receipt) in transactions.iter().zip(&receipts) {
                assert!(receipt.status(), "{schedule:?}: a transaction failed");
                if tx.to() == Some(TOKEN_ADDRESS) {
                    // The token's Transfer event, from the token.
                    assert_eq!(receipt.logs().len(), 1);
                    assert_eq!(receipt.logs()[0].address, TOKEN_ADDRESS);
                    tokens += 1;
                } else {
                    assert!(receipt.logs().is_empty());
                    ether += 1;
                }
            }
        }
        assert!(tokens > 0 && ether > 0, "the workload mixes both kinds");
        let chain = producer.finish();
        assert_eq!(chain.blocks.len(), 3);
        verify(&chain.genesis, &chain.blocks).expect("the produced chain verifies");
    }
}

#[test]
fn a_token_transfer_beyond_the_balance_reverts_and_the_block_stays_valid() {
    let spec = EvmWorkloadSpec {
        accounts: 2,
        blocks: 0,
        ..EvmWorkloadSpec::default()
    };
    let allocation = generate(&spec).unwrap().allocation;
    let dir = tempdir();
    let mut producer = producer(&dir, spec.schedule, &allocation.accounts);
    let too_much = U256::from(10u128.pow(30));
    let enough = U256::from(5u64);
    let receipts = producer
        .produce(vec![
            call(
                0,
                0,
                TOKEN_ADDRESS,
                0,
                transfer_calldata(account_address(0, 1), too_much).to_vec(),
            ),
            call(
                0,
                1,
                TOKEN_ADDRESS,
                0,
                transfer_calldata(account_address(0, 1), enough).to_vec(),
            ),
        ])
        .unwrap();
    assert!(!receipts[0].status() && receipts[0].logs().is_empty());
    assert!(receipts[1].status());
    let chain = producer.finish();
    verify(&chain.genesis, &chain.blocks).unwrap();
}

/// Code that asks EIP-2935's history contract for the hash of the block number in its calldata
/// and logs the answer as a topic.
fn history_probe() -> Bytes {
    // PUSH1 0 CALLDATALOAD PUSH1 0 MSTORE; STATICCALL's return size 32 and offset 0, argument
    // size 32 and offset 0, then the address:
    let mut code = hex::decode("6000356000526020600060206000").unwrap();
    code.push(0x73); // PUSH20
    code.extend_from_slice(HISTORY_STORAGE_ADDRESS.as_slice());
    // GAS STATICCALL POP; PUSH1 0 MLOAD (the answer); LOG1 of no data with it; STOP.
    code.extend(hex::decode("5afa5060005160006000a100").unwrap());
    code.into()
}

#[test]
fn prague_history_contract_serves_the_parent_hashes() {
    // EIP-2935: from Prague, each block's system call stores its parent's hash in the history
    // contract, which returns it for a block number in its calldata.
    let probe = Address::new([0xb0; 20]);
    let mut accounts = funded(1, EvmSchedule::Prague);
    accounts.push(GenesisAccount {
        address: probe,
        code: history_probe(),
        ..GenesisAccount::default()
    });
    let dir = tempdir();
    let mut producer = producer(&dir, EvmSchedule::Prague, &accounts);
    let genesis_hash = producer.head().hash_slow();
    producer.produce(Vec::new()).unwrap();
    let first_hash = producer.head().hash_slow();
    let ask = |number: u64| B256::from(U256::from(number)).to_vec();
    let receipts = producer
        .produce(vec![
            call(0, 0, probe, 0, ask(0)),
            call(0, 1, probe, 0, ask(1)),
        ])
        .unwrap();
    let answers: Vec<B256> = receipts.iter().map(|r| r.logs()[0].topics()[0]).collect();
    assert_eq!(answers, [genesis_hash, first_hash]);
    let chain = producer.finish();
    verify(&chain.genesis, &chain.blocks).unwrap();
}

#[test]
fn prague_set_code_transactions_delegate_an_account_to_a_contract() {
    // EIP-7702: account 0 authorises the token's code for itself; account 1 sends the
    // transaction. Calls to account 0 then run the token's code in account 0's own context:
    // its Transfer events come from account 0.
    let mut accounts = funded(2, EvmSchedule::Prague);
    accounts.push(GenesisAccount {
        address: TOKEN_ADDRESS,
        code: prover::evm_workload::token_code(),
        ..GenesisAccount::default()
    });
    let authority = account_address(0, 0);
    let authorization = Authorization {
        chain_id: U256::from(1),
        address: TOKEN_ADDRESS,
        nonce: 0,
    };
    let signature = sign_hash(&signing_key(0, 0), authorization.signature_hash());
    let set_code = TxEip7702 {
        chain_id: 1,
        nonce: 0,
        gas_limit: 200_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1,
        to: authority,
        value: U256::ZERO,
        input: transfer_calldata(account_address(0, 1), U256::ZERO),
        access_list: Default::default(),
        authorization_list: vec![authorization.into_signed(signature)],
    };
    let signature = sign_hash(&signing_key(0, 1), set_code.signature_hash());
    let set_code: TxEnvelope = set_code.into_signed(signature).into();

    let dir = tempdir();
    let mut producer = producer(&dir, EvmSchedule::Prague, &accounts);
    let receipts = producer.produce(vec![set_code]).unwrap();
    assert!(receipts[0].status());
    assert_eq!(receipts[0].logs()[0].address, authority);
    // The delegation stays: a plain call to account 0 in the next block runs the token code.
    let receipts = producer
        .produce(vec![call(
            1,
            1,
            authority,
            0,
            transfer_calldata(account_address(0, 1), U256::ZERO).to_vec(),
        )])
        .unwrap();
    assert!(receipts[0].status());
    assert_eq!(receipts[0].logs()[0].address, authority);
    let chain = producer.finish();
    verify(&chain.genesis, &chain.blocks).unwrap();
    // The delegate's code is part of the witness: without it, the block cannot be checked.
    let token_hash = alloy_primitives::keccak256(prover::evm_workload::token_code());
    let mut blocks = chain.blocks.clone();
    if let Witness::Evm(witness) = &mut blocks[1].blobs[0].witness {
        let codes: Vec<_> = witness
            .codes
            .iter()
            .filter(|c| alloy_primitives::keccak256(c.as_ref()) != token_hash)
            .cloned()
            .collect();
        assert_eq!(
            codes.len() + 1,
            witness.codes.len(),
            "block 2 carries the token's code"
        );
        witness.codes = codes.try_into().unwrap();
    }
    let error = verify(&chain.genesis, &blocks).unwrap_err();
    assert!(
        matches!(evm_reason(error), EvmError::Witness(verifier::evm::WitnessError::MissingCode(h)) if h == token_hash)
    );
}

#[test]
fn prague_requests_are_collected_and_hashed_into_the_header() {
    // EIP-7002 and EIP-7251: a withdrawal request and a consolidation request sent to their
    // contracts in a block come out of the end-of-block system calls as that block's
    // requests; EIP-7685: the header commits to them by type.
    use alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS;
    let pubkey = [0x11u8; 48];
    let amount = 32_000_000_000u64.to_be_bytes();
    let withdrawal: Vec<u8> = [&pubkey[..], &amount[..]].concat();
    let consolidation: Vec<u8> = [[0x22u8; 48], [0x33u8; 48]].concat();
    let dir = tempdir();
    let mut producer = producer(&dir, EvmSchedule::Prague, &funded(1, EvmSchedule::Prague));
    let receipts = producer
        .produce(vec![
            call(
                0,
                0,
                WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
                1,
                withdrawal.clone(),
            ),
            call(
                0,
                1,
                CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
                1,
                consolidation.clone(),
            ),
        ])
        .unwrap();
    assert!(receipts.iter().all(|r| r.status()));
    let sender = account_address(0, 0);
    // The contract takes the amount big-endian and gives it out little-endian, as the
    // consensus layer's SSZ encoding of the request has it.
    let withdrawal_out: Vec<u8> = [&pubkey[..], &32_000_000_000u64.to_le_bytes()[..]].concat();
    let expected = alloy_eips::eip7685::Requests::new(vec![
        [&[0x01][..], sender.as_slice(), &withdrawal_out]
            .concat()
            .into(),
        [&[0x02][..], sender.as_slice(), &consolidation]
            .concat()
            .into(),
    ]);
    assert_eq!(
        producer.head().requests_hash,
        Some(expected.requests_hash())
    );
    let chain = producer.finish();
    verify(&chain.genesis, &chain.blocks).unwrap();

    // A header that commits to other requests is rejected.
    let blocks = tampered(&chain, 0, |block| {
        block.header.requests_hash = Some(alloy_eips::eip7685::EMPTY_REQUESTS_HASH);
    });
    let error = evm_reason(verify(&chain.genesis, &blocks).unwrap_err());
    assert!(
        matches!(
            error,
            EvmError::HeaderMismatch {
                field: "requests hash",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_prague_block_whose_request_contracts_have_no_code_is_invalid() {
    // EIP-7002 and EIP-7251: without code at a request contract, the block is invalid (the
    // system call itself would succeed on an empty account).
    let without = |missing: Address| -> Vec<GenesisAccount> {
        funded(1, EvmSchedule::Prague)
            .into_iter()
            .filter(|a| a.address != missing)
            .collect()
    };
    for (missing, eip) in [
        (WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, "EIP-7002"),
        (
            alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
            "EIP-7251",
        ),
    ] {
        let dir = tempdir();
        let mut producer = producer(&dir, EvmSchedule::Prague, &without(missing));
        match producer.produce(Vec::new()) {
            Err(ProduceError::Invalid {
                number: 1,
                error:
                    EvmError::MissingSystemContract {
                        eip: named,
                        address,
                    },
            }) => assert_eq!((named, address), (eip, missing)),
            other => panic!("{eip}: {other:?}"),
        }
    }
    // Under Cancun the same accounts make a valid chain: the contracts are Prague's.
    let dir = tempdir();
    let mut producer = producer(
        &dir,
        EvmSchedule::Cancun,
        &without(WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS),
    );
    producer.produce(Vec::new()).unwrap();
    let chain = producer.finish();
    verify(&chain.genesis, &chain.blocks).unwrap();
}

#[test]
fn gen_prove_and_verify_an_evm_workload_on_the_command_line() {
    let dir = tempdir();
    let (workload, db, chain) = (
        dir.path().join("workload"),
        dir.path().join("evm.redb"),
        dir.path().join("chain"),
    );
    gen_tiny("evm", "3", &workload, &["--fork", "cancun"]);
    let prove = |db: &std::path::Path| {
        stateless(&[
            "prove",
            "--workload",
            path(&workload),
            "--db",
            path(db),
            "--out",
            path(&chain),
        ])
    };
    ok(&prove(&db), "prove");
    let report: serde_json::Value = serde_json::from_str(&ok(
        &stateless(&["verify", path(&chain), "--json"]),
        "verify",
    ))
    .unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["txs"], 6);
    assert_eq!(report["evm_blocks"].as_array().unwrap().len(), 3);
    assert_eq!(report["evm_blocks"][2]["number"], 3);

    // A re-run on the same database resumes: nothing left to build.
    let third = std::fs::read(block_file(&chain, 3)).unwrap();
    let again = prove(&db);
    ok(&again, "prove again");
    assert!(
        stderr(&again).contains("built 0 blocks"),
        "{}",
        stderr(&again)
    );
    // Stopped between a block's commit and its file: the file comes back, byte for byte.
    std::fs::remove_file(block_file(&chain, 3)).unwrap();
    let resumed = prove(&db);
    ok(&resumed, "resume");
    assert!(
        stderr(&resumed).contains("built 1 blocks"),
        "{}",
        stderr(&resumed)
    );
    assert!(
        std::fs::read(block_file(&chain, 3)).unwrap() == third,
        "the rebuilt block differs"
    );
    ok(
        &stateless(&["verify", path(&chain)]),
        "verify the resumed chain",
    );
    // Another workload's run into the same database and chain directory is refused.
    let other = dir.path().join("other-workload");
    gen_tiny("evm", "3", &other, &["--fork", "cancun", "--seed", "5"]);
    let mixed = stateless(&[
        "prove",
        "--workload",
        path(&other),
        "--db",
        path(&db),
        "--out",
        path(&chain),
    ]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(
        stderr(&mixed).contains("holds other transactions than the workload's"),
        "{}",
        stderr(&mixed)
    );

    // A chain directory of another genesis (the allocation's gas limit changed) is refused.
    let allocation_file = workload.join("evm").join("allocation.json");
    let original = std::fs::read(&allocation_file).unwrap();
    let mut allocation: serde_json::Value = serde_json::from_slice(&original).unwrap();
    allocation["gas_limit"] = serde_json::json!(29_000_000);
    std::fs::write(&allocation_file, serde_json::to_vec(&allocation).unwrap()).unwrap();
    let other_genesis = prove(&db);
    assert_eq!(other_genesis.status.code(), Some(2));
    assert!(
        stderr(&other_genesis).contains("genesis is not this workload's"),
        "{}",
        stderr(&other_genesis)
    );
    std::fs::write(&allocation_file, &original).unwrap();
    // A chain directory whose block no longer verifies is refused, named.
    let second = block_file(&chain, 2);
    let good = std::fs::read(&second).unwrap();
    let mut block: witness_format::Block = witness_format::decode_file(&good).unwrap();
    block.header.state_roots[0].root = witness_format::Hash32::from([7; 32]);
    std::fs::write(&second, witness_format::encode_file(&block)).unwrap();
    let tampered = prove(&db);
    assert_eq!(tampered.status.code(), Some(2));
    assert!(
        stderr(&tampered).contains("cannot resume: the chain directory: block 2"),
        "{}",
        stderr(&tampered)
    );
    std::fs::write(&second, good).unwrap();
    // An allocation that is not one is a rejection naming the file.
    std::fs::write(&allocation_file, b"{}").unwrap();
    let no_allocation = prove(&dir.path().join("fourth.redb"));
    assert_eq!(no_allocation.status.code(), Some(1));
    assert!(
        stderr(&no_allocation).contains("allocation.json"),
        "{}",
        stderr(&no_allocation)
    );
    std::fs::write(&allocation_file, &original).unwrap();

    // A block file that is not a list of transactions is a rejection naming the file.
    let file = block_file(&workload.join("evm"), 2);
    std::fs::write(&file, b"not rlp").unwrap();
    let bad = prove(&dir.path().join("other.redb"));
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("00000002.bin: not an RLP list of transactions"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn gen_refuses_evm_blocks_over_the_gas_limit_and_exits_for_evm() {
    let dir = tempdir();
    let out = dir.path().join("w");
    let too_many = stateless(&[
        "gen",
        "--model",
        "evm",
        "--txs-per-block",
        "100000",
        "--out",
        path(&out),
    ]);
    assert_eq!(too_many.status.code(), Some(2));
    assert!(
        stderr(&too_many).contains("transactions fit an evm block"),
        "{}",
        stderr(&too_many)
    );
    let exits = stateless(&[
        "gen",
        "--model",
        "evm",
        "--exit-percent",
        "5",
        "--out",
        path(&out),
    ]);
    assert_eq!(exits.status.code(), Some(2));
    assert!(
        stderr(&exits).contains("--exit-percent needs a chain of several models"),
        "{}",
        stderr(&exits)
    );
}

#[test]
fn bench_evm_reports_the_workload_and_the_given_real_blocks() {
    let mut args = vec!["bench", "--evm", "--quick", "--json", "--accounts", "50"];
    let real = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/real-blocks/holesky-2971844.json");
    let have_real = real.exists();
    assert!(
        have_real || std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing under CI",
        real.display()
    );
    if have_real {
        args.extend(["--real-blocks", path(&real)]);
    }
    let report: serde_json::Value =
        serde_json::from_str(&ok(&stateless(&args), "bench --evm")).unwrap();
    let chains = report["chains"].as_array().unwrap();
    assert_eq!(chains.len(), 1 + usize::from(have_real));
    let workload = &chains[0];
    assert_eq!(workload["chain"], "workload");
    assert_eq!(workload["transactions"], 4 * 200);
    for key in [
        "verify_tx_per_s_1_thread",
        "verify_tx_per_s",
        "thread_speedup",
        "prove_tx_per_s",
    ] {
        assert!(workload[key].as_f64().unwrap() > 0.0, "{key}");
    }
    assert!(workload["witness_bytes_per_tx"].as_f64().unwrap() > 0.0);
    if have_real {
        assert_eq!(chains[1]["chain"], "holesky-2971844.json");
        assert_eq!(chains[1]["transactions"], 42);
        assert!(chains[1].get("prove_tx_per_s").is_none());
    }
}

#[test]
fn a_generated_chain_is_the_same_bytes_every_run() {
    let spec = EvmWorkloadSpec {
        accounts: 8,
        blocks: 2,
        txs_per_block: 12,
        ..EvmWorkloadSpec::default()
    };
    let workload = generate(&spec).unwrap();
    let run = || {
        let dir = tempdir();
        let allocation = &workload.allocation;
        let mut producer = EvmProducer::create(&dir.path().join("evm.redb"), allocation).unwrap();
        for transactions in &workload.blocks {
            producer.produce(transactions.clone()).unwrap();
        }
        let chain = producer.finish();
        chain
            .blocks
            .iter()
            .map(witness_format::encode_file)
            .collect::<Vec<_>>()
    };
    assert!(run() == run(), "two runs produced different blocks");
}
