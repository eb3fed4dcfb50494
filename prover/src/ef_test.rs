//! Ethereum's own test suite (`BlockchainTests`) through our prover and verifier
//! (`stateless evm ef-test`). For each test: its `pre` state goes into the prover's redb store;
//! the prover executes each block with the verifier's checks over its full state and takes the
//! minimal witness they used; the block becomes an `evm` blob of a chain whose genesis is the
//! test's genesis block; the chain verifier then checks it statelessly. A valid block must be
//! accepted, then the next builds on it; a block with `expectException` must be rejected by the
//! verifier (from the witness the prover built as far as the block's execution got) for a
//! reason of the kind the exception names ([`matches_exception`]), and the next builds on the
//! last valid one. At the end, the last block's hash must be
//! `lastblockhash` and the state root the one of `postState` (or `postStateHash`).
//!
//! Skipped, with the reason in the report: networks other than `Cancun` and `Prague` (forks
//! before Cancun are not supported: the suite's pre-merge `TransitionTests`), and the files of
//! [`SKIPPED_FILES`]. Blocks off the canonical chain (side chains) are not run: only the chain
//! `lastblockhash` ends is followed.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};
use verifier::ChainVerifier;
use verifier::evm::{ChainSpec, block_header, decode_block};
use witness_format::EvmSchedule;

use crate::evm_import::{EvmChainBuilder, ImportedChain, anchored_genesis};
use crate::evm_state::{EvmState, GenesisAccount, state_of};
use crate::files::read_limited;

/// Test files skipped by name, with why: the tests other Ethereum clients skip too (reth's
/// ef-tests list the same files). Each creates a contract at an address that already holds
/// storage but no code and no nonce: EIP-7610 makes that creation fail, but no real chain can
/// hold such an account (it takes a hash collision), and telling needs the account's storage
/// root, which the EVM's database interface (revm's, as every client's) does not carry.
pub const SKIPPED_FILES: [(&str, &str); 5] = [
    ("InitCollisionParis", COLLISION),
    ("create2collisionStorageParis", COLLISION),
    ("RevertInCreateInInit_Paris", COLLISION),
    ("RevertInCreateInInitCreate2Paris", COLLISION),
    ("dynamicAccountOverwriteEmpty_Paris", COLLISION),
];

const COLLISION: &str = "a contract created over an account with storage only (EIP-7610): \
     impossible on a real chain, skipped by other clients too";

/// The largest test file read.
const MAX_TEST_FILE_BYTES: u64 = 256 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestCase {
    network: String,
    #[serde(rename = "genesisRLP")]
    genesis_rlp: Bytes,
    blocks: Vec<TestBlock>,
    pre: BTreeMap<Address, TestAccount>,
    #[serde(default)]
    post_state: Option<BTreeMap<Address, TestAccount>>,
    #[serde(default)]
    post_state_hash: Option<B256>,
    lastblockhash: B256,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestBlock {
    rlp: Bytes,
    #[serde(default)]
    expect_exception: Option<String>,
}

#[derive(Deserialize)]
struct TestAccount {
    balance: U256,
    nonce: U256,
    code: Bytes,
    storage: BTreeMap<U256, U256>,
}

impl TestAccount {
    fn genesis(&self, address: Address) -> GenesisAccount {
        GenesisAccount {
            address,
            nonce: self.nonce.saturating_to(),
            balance: self.balance,
            code: self.code.clone(),
            storage: self.storage.iter().map(|(k, v)| (*k, *v)).collect(),
        }
    }
}

/// What happened to one test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum TestOutcome {
    /// Every check agreed.
    Passed,
    /// Something disagreed: what.
    Failed(String),
    /// Not run: why.
    Skipped(String),
}

/// One test's name and outcome.
#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    /// The file.
    pub file: PathBuf,
    /// The test's name in it.
    pub name: String,
    /// The outcome.
    pub outcome: TestOutcome,
    /// Blocks run through prover and verifier.
    pub blocks_run: usize,
    /// Blocks not run: off the chain `lastblockhash` ends (side chains).
    pub blocks_off_chain: usize,
}

/// Blocks run and not run in one test.
#[derive(Default)]
struct BlockCounts {
    run: usize,
    off_chain: usize,
}

/// Runs every test of the JSON files under `paths` (files, or directories searched
/// recursively), in file and name order.
pub fn run_paths(paths: &[PathBuf]) -> Result<Vec<TestResult>, std::io::Error> {
    let mut files = Vec::new();
    for path in paths {
        collect_json(path, &mut files)?;
    }
    files.sort();
    let mut results = Vec::new();
    for file in files {
        results.extend(run_file(&file));
    }
    Ok(results)
}

fn collect_json(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), std::io::Error> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            collect_json(&entry?.path(), out)?;
        }
    } else if path.extension().is_some_and(|e| e == "json") {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Runs the tests of one file; a file that does not parse is one failed result.
pub fn run_file(file: &Path) -> Vec<TestResult> {
    let result = |name: String, outcome, counts: BlockCounts| TestResult {
        file: file.to_path_buf(),
        name,
        outcome,
        blocks_run: counts.run,
        blocks_off_chain: counts.off_chain,
    };
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
    if let Some((_, why)) = SKIPPED_FILES
        .iter()
        .find(|(name, _)| stem.as_deref() == Some(*name))
    {
        return vec![result(
            String::new(),
            TestOutcome::Skipped((*why).into()),
            BlockCounts::default(),
        )];
    }
    let tests: BTreeMap<String, TestCase> = match read_limited(file, MAX_TEST_FILE_BYTES)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
    {
        Ok(tests) => tests,
        Err(e) => {
            return vec![result(
                String::new(),
                TestOutcome::Failed(e),
                BlockCounts::default(),
            )];
        }
    };
    tests
        .into_iter()
        .map(|(name, test)| {
            let mut counts = BlockCounts::default();
            let outcome =
                run_test(&test, &mut None, &mut counts).unwrap_or_else(TestOutcome::Failed);
            result(name, outcome, counts)
        })
        .collect()
}

/// The chains (genesis and blocks, with the prover's witnesses) of the tests of `file` that
/// pass, by test name: for tests of the witnesses themselves.
pub fn proven_chains(file: &Path) -> Result<Vec<(String, ImportedChain)>, String> {
    let bytes = read_limited(file, MAX_TEST_FILE_BYTES).map_err(|e| e.to_string())?;
    let tests: BTreeMap<String, TestCase> =
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let mut chains = Vec::new();
    for (name, test) in tests {
        let mut proven = None;
        if run_test(&test, &mut proven, &mut BlockCounts::default())? == TestOutcome::Passed
            && let Some(chain) = proven
        {
            chains.push((name, chain));
        }
    }
    Ok(chains)
}

/// One test, start to end; a passed test's chain goes into `proven`.
fn run_test(
    test: &TestCase,
    proven: &mut Option<ImportedChain>,
    counts: &mut BlockCounts,
) -> Result<TestOutcome, String> {
    let schedule = match test.network.as_str() {
        "Cancun" => EvmSchedule::Cancun,
        "Prague" => EvmSchedule::Prague,
        other => {
            return Ok(TestOutcome::Skipped(format!(
                "network {other}: forks before Cancun are not supported"
            )));
        }
    };
    let spec = ChainSpec::new(1, schedule).map_err(|e| e.to_string())?;
    let genesis_header = block_header(&test.genesis_rlp).map_err(|e| format!("genesis: {e}"))?;
    let accounts: Vec<GenesisAccount> = test
        .pre
        .iter()
        .map(|(address, account)| account.genesis(*address))
        .collect();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (state, root) =
        EvmState::create(&dir.path().join("evm.redb"), &accounts).map_err(|e| e.to_string())?;
    if root != genesis_header.state_root {
        return Err(format!(
            "the pre state's root is {root}, the genesis header's {}",
            genesis_header.state_root
        ));
    }
    let genesis = anchored_genesis(1, schedule, &genesis_header).map_err(|e| e.to_string())?;
    let mut verifier = ChainVerifier::new(&genesis).map_err(|e| format!("genesis: {e}"))?;
    let mut chain = EvmChainBuilder::new(genesis).map_err(|e| e.to_string())?;

    // The canonical chain: from `lastblockhash` back through the test's blocks.
    let headers: Vec<Option<B256>> = test
        .blocks
        .iter()
        .map(|b| block_header(&b.rlp).ok().map(|h| h.hash_slow()))
        .collect();
    let canonical = canonical_hashes(test, &headers);
    let mut head = genesis_header.hash_slow();
    for (index, block) in test.blocks.iter().enumerate() {
        let at = |what: String| format!("block {}: {what}", index + 1);
        let parent = block_header(&block.rlp).ok().map(|h| h.parent_hash);
        match (
            &block.expect_exception,
            headers.get(index).copied().flatten(),
        ) {
            // Side chains: not the chain `lastblockhash` ends.
            (None, Some(hash)) if !canonical.contains(&hash) => {
                counts.off_chain += 1;
                continue;
            }
            (Some(_), _) if parent.is_some_and(|p| p != head) => {
                counts.off_chain += 1;
                continue;
            }
            _ => counts.run += 1,
        }
        let ancestors: Vec<B256> = chain.ancestors().iter().map(|h| B256::from(h.0)).collect();
        let pre_root = B256::from(chain.state_root().0);
        let (proven, used_ancestors) = match decode_block(&block.rlp) {
            Ok(decoded) => {
                let proven = state
                    .execute(&spec, &decoded, pre_root, &ancestors)
                    .map_err(|e| e.to_string())?;
                let count = proven.ancestors_used(decoded.header.number);
                (Some(proven), count)
            }
            Err(_) => (None, 0),
        };
        let used = proven.as_ref().map(|p| p.used.clone()).unwrap_or_default();
        let mut candidate = chain.clone();
        let built = candidate
            .push(&block.rlp, used.nodes, used.codes, used_ancestors)
            .map_err(|e| at(e.to_string()))?
            .clone();
        let mut next = verifier.clone();
        let verdict = next.verify_blocks(std::slice::from_ref(&built));
        match (&block.expect_exception, verdict) {
            (Some(exception), Err(e)) if is_missing_witness(&e) => {
                return Ok(TestOutcome::Failed(at(format!(
                    "rejected for a missing witness ({e}), not for the rule it breaks \
                     ({exception})"
                ))));
            }
            (Some(exception), Err(e)) if !matches_exception(exception, &e) => {
                return Ok(TestOutcome::Failed(at(format!(
                    "rejected for another reason than {exception}: {e}"
                ))));
            }
            (Some(_), Err(_)) => {}
            (Some(exception), Ok(())) => {
                return Ok(TestOutcome::Failed(at(format!(
                    "accepted, but the test expects {exception}"
                ))));
            }
            (None, Err(e)) => return Ok(TestOutcome::Failed(at(format!("rejected: {e}")))),
            (None, Ok(())) => {
                let proven = proven.ok_or_else(|| at("accepted without decoding".into()))?;
                if let Err(e) = &proven.verdict {
                    return Ok(TestOutcome::Failed(at(format!(
                        "the verifier accepts what the prover's run rejects: {e}"
                    ))));
                }
                state.commit(&proven).map_err(|e| e.to_string())?;
                chain = candidate;
                verifier = next;
                head = headers
                    .get(index)
                    .copied()
                    .flatten()
                    .ok_or_else(|| at("no header".into()))?;
            }
        }
    }
    if head != test.lastblockhash {
        return Ok(TestOutcome::Failed(format!(
            "the chain ends at {head}, the test at {}",
            test.lastblockhash
        )));
    }
    let expected_root = match (&test.post_state, test.post_state_hash) {
        (Some(post), _) => {
            let accounts: Vec<GenesisAccount> = post
                .iter()
                .map(|(address, account)| account.genesis(*address))
                .collect();
            state_of(&accounts).map_err(|e| e.to_string())?.0
        }
        (None, Some(hash)) => hash,
        (None, None) => return Err("no postState nor postStateHash".into()),
    };
    let root = B256::from(chain.state_root().0);
    if root != expected_root {
        return Ok(TestOutcome::Failed(format!(
            "post-state root {root}, the test's {expected_root}"
        )));
    }
    *proven = Some(chain.finish());
    Ok(TestOutcome::Passed)
}

/// What a rejection is about: a decoding failure, a transaction, or a header field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Decode,
    Transaction,
    Field(&'static str),
}

/// The kind of the test suite's exception name (`BlockException.X` or
/// `TransactionException.X`); `None` for a name this runner does not know.
fn exception_kind(name: &str) -> Option<Kind> {
    let (scope, what) = name.split_once('.')?;
    if what.starts_with("RLP_") {
        return Some(Kind::Decode);
    }
    if scope == "TransactionException" {
        return Some(Kind::Transaction);
    }
    let field = match what {
        "IMPORT_IMPOSSIBLE_UNCLES_OVER_PARIS" => "ommers",
        "IMPORT_IMPOSSIBLE_DIFFICULTY_OVER_PARIS" => "difficulty",
        "EXTRA_DATA_TOO_BIG" => "extra data",
        "INVALID_GASLIMIT" | "GASLIMIT_TOO_BIG" => "gas limit",
        "INVALID_BLOCK_TIMESTAMP_OLDER_THAN_PARENT" => "timestamp",
        "INVALID_BLOCK_NUMBER" => "number",
        "UNKNOWN_PARENT" | "UNKNOWN_PARENT_ZERO" => "parent hash",
        "INVALID_BASEFEE_PER_GAS" => "base fee",
        "INVALID_STATE_ROOT" => "state root",
        "INVALID_WITHDRAWALS_ROOT" => "withdrawals root",
        "INVALID_TRANSACTIONS_ROOT" => "transactions root",
        "INVALID_RECEIPTS_ROOT" => "receipts root",
        "INVALID_LOG_BLOOM" => "logs bloom",
        "INVALID_GAS_USED" | "GAS_USED_OVERFLOW" => "gas used",
        _ => return None,
    };
    Some(Kind::Field(field))
}

/// The kind of a rejection by the verifier.
fn rejection_kind(error: &verifier::VerifyError) -> Option<Kind> {
    use verifier::evm::{EvmError, LinkError};
    let evm = match &error.reason {
        verifier::Reason::Evm(e) => &**e,
        verifier::Reason::EvmLink(e) => match &**e {
            LinkError::Header(e) => e,
            _ => return None,
        },
        _ => return None,
    };
    Some(match evm {
        EvmError::Decode(_) => Kind::Decode,
        EvmError::BadSignature { .. } | EvmError::Execution(_) => Kind::Transaction,
        EvmError::HeaderMismatch { field, .. }
        | EvmError::ParentMismatch { field, .. }
        | EvmError::InvalidHeader { field, .. } => Kind::Field(field),
        _ => return None,
    })
}

/// Whether `error` is a rejection of the kind one of the test's exceptions (`A|B`) names. A
/// transaction the decoder already refuses (a blob transaction without a recipient cannot be
/// encoded as one) is a transaction exception rejected at decoding; a block that runs out of
/// gas is a transaction exception reported as gas used.
fn matches_exception(exceptions: &str, error: &verifier::VerifyError) -> bool {
    let Some(ours) = rejection_kind(error) else {
        return false;
    };
    exceptions
        .split('|')
        .any(|name| match exception_kind(name) {
            Some(Kind::Transaction) => matches!(ours, Kind::Transaction | Kind::Decode),
            Some(Kind::Field("gas used")) => {
                matches!(ours, Kind::Field("gas used") | Kind::Transaction)
            }
            Some(kind) => kind == ours,
            None => false,
        })
}

/// Whether the verifier rejected for want of witness data rather than for a rule.
fn is_missing_witness(error: &verifier::VerifyError) -> bool {
    use verifier::evm::{EvmError, WitnessError};
    matches!(&error.reason, verifier::Reason::Evm(e) if matches!(
        **e,
        EvmError::Witness(
            WitnessError::Account { .. }
                | WitnessError::Storage { .. }
                | WitnessError::MissingCode(_)
                | WitnessError::MissingBlockHash(_)
        )
    ))
}

/// The hashes of the blocks on the chain `lastblockhash` ends, walking parent hashes back
/// through the test's blocks.
fn canonical_hashes(test: &TestCase, hashes: &[Option<B256>]) -> HashSet<B256> {
    let parents: BTreeMap<B256, B256> = test
        .blocks
        .iter()
        .zip(hashes)
        .filter_map(|(block, hash)| {
            let header = block_header(&block.rlp).ok()?;
            Some(((*hash)?, header.parent_hash))
        })
        .collect();
    let mut canonical = HashSet::new();
    let mut at = test.lastblockhash;
    while let Some(parent) = parents.get(&at) {
        if !canonical.insert(at) {
            break;
        }
        at = *parent;
    }
    canonical
}

#[cfg(test)]
mod tests {
    use super::*;
    use verifier::evm::{EvmError, WitnessError};
    use verifier::{Reason, VerifyError};

    fn evm(error: EvmError) -> VerifyError {
        VerifyError::new(Reason::Evm(Box::new(error)))
    }

    #[test]
    fn a_rejection_counts_only_for_the_kind_the_exception_names() {
        let state_root = evm(EvmError::HeaderMismatch {
            field: "state root",
            header: String::new(),
            computed: String::new(),
        });
        let execution = evm(EvmError::Execution("nonce too high".into()));
        let missing = evm(EvmError::Witness(WitnessError::MissingCode(B256::ZERO)));
        assert!(matches_exception(
            "BlockException.INVALID_STATE_ROOT",
            &state_root
        ));
        assert!(!matches_exception(
            "BlockException.INVALID_GAS_USED",
            &state_root
        ));
        assert!(!matches_exception(
            "TransactionException.NONCE_MISMATCH_TOO_HIGH",
            &state_root
        ));
        assert!(matches_exception(
            "TransactionException.INTRINSIC_GAS_TOO_LOW|BlockException.INVALID_GAS_USED",
            &execution
        ));
        assert!(!matches_exception(
            "BlockException.INVALID_STATE_ROOT",
            &execution
        ));
        assert!(!matches_exception("BlockException.UNHEARD_OF", &state_root));
        for exception in [
            "TransactionException.INSUFFICIENT_ACCOUNT_FUNDS",
            "BlockException.INVALID_STATE_ROOT",
        ] {
            assert!(!matches_exception(exception, &missing), "{exception}");
            assert!(is_missing_witness(&missing));
        }
    }
}
