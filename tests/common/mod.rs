//! Shared helpers for the root package's integration tests: small honest chains built in-process
//! by the prover, and the workload keys that tests use to re-sign transactions they tamper with.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use ed25519_zebra::VerificationKey;
use prover::workload::{self, WorkloadSpec, signing_key};
use prover::{BlockOptions, ProverState};
use verifier::ChainParams;
use verifier::transfer::signing_message;
use witness_format::ssz_types::VariableList;
use witness_format::{
    AccountLeaf, Allocation, Block, Genesis, Model, PublicKey, Signature, Transaction, encode_file,
};

/// The workload of [`small_chain`]: 3 blocks of 32 transfers over 64 accounts (in a tree of the
/// default depth, 32), a fifth of them creating an account.
pub(crate) fn small_spec() -> WorkloadSpec {
    WorkloadSpec {
        chain_id: 7,
        accounts: 64,
        blocks: 3,
        txs_per_block: 32,
        seed: 42,
        new_account_percent: 20,
        ..WorkloadSpec::default()
    }
}

/// Blobs of at most `txs_per_blob` transfers, otherwise the prover's defaults.
pub(crate) fn blob_options(txs_per_blob: usize) -> BlockOptions {
    BlockOptions {
        txs_per_blob,
        ..BlockOptions::default()
    }
}

/// Small blobs, so that every block of [`small_chain`] has several (four, of 8 transfers).
pub(crate) fn small_options() -> BlockOptions {
    blob_options(8)
}

/// A chain built by the prover, with what it was built from.
#[derive(Clone, Debug)]
pub(crate) struct TestChain {
    /// The workload parameters: chain id and seed give every account's signing key.
    pub(crate) spec: WorkloadSpec,
    /// The genesis accounts.
    pub(crate) allocation: Allocation,
    /// The trust anchor.
    pub(crate) genesis: Genesis,
    /// Blocks at heights 1, 2, ...
    pub(crate) blocks: Vec<Block>,
}

impl TestChain {
    /// The chain's parameters, as the verifier prepares them.
    pub(crate) fn params(&self) -> ChainParams {
        ChainParams::from_genesis(&self.genesis).expect("the test genesis is valid")
    }

    /// The block at `height` (1-based).
    pub(crate) fn block(&self, height: u64) -> &Block {
        &self.blocks[height as usize - 1]
    }

    /// The block file at `height`, as the prover exports it.
    pub(crate) fn block_file(&self, height: u64) -> Vec<u8> {
        encode_file(self.block(height))
    }

    /// Re-signs `tx` with its sender's workload key for this chain.
    pub(crate) fn sign(&self, tx: &mut Transaction) {
        workload::sign(self.spec.chain_id, self.spec.seed, tx);
    }

    /// A signed transfer, with the receiver's workload key when it creates the receiver.
    pub(crate) fn transfer(
        &self,
        from: u64,
        to: u64,
        amount: u64,
        nonce: u64,
        creates: bool,
    ) -> Transaction {
        transfer(&self.spec, from, to, amount, nonce, creates)
    }
}

/// Builds the chain of a generated workload. Every generated transfer is valid, so the prover
/// must include them all.
pub(crate) fn build_chain(spec: &WorkloadSpec, options: BlockOptions) -> TestChain {
    let workload = workload::generate(spec);
    let batches: Vec<Vec<Transaction>> = workload
        .batches
        .iter()
        .map(|batch| batch.transactions.to_vec())
        .collect();
    build_from(spec, workload.allocation, &batches, options)
}

/// Builds one block per batch on top of `allocation`, in a fresh prover database that is deleted
/// afterwards. Panics if the prover leaves out any transaction: callers pass only valid ones.
pub(crate) fn build_from(
    spec: &WorkloadSpec,
    allocation: Allocation,
    batches: &[Vec<Transaction>],
    options: BlockOptions,
) -> TestChain {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let mut prover =
        ProverState::open(&dir.path().join("state.redb"), &allocation).expect("open the prover");
    let blocks = batches
        .iter()
        .map(|transactions| {
            let (block, report) = prover
                .build_block(transactions, options)
                .expect("build a block");
            assert!(
                report.dropped.is_empty(),
                "the prover left out transactions of an honest batch: {:?}",
                report.dropped
            );
            block
        })
        .collect();
    let genesis = prover.genesis().clone();
    drop(prover);
    TestChain {
        spec: *spec,
        allocation,
        genesis,
        blocks,
    }
}

/// The chain of [`small_spec`] cut into blobs by [`small_options`], built once per test binary.
pub(crate) fn small_chain() -> &'static TestChain {
    static CHAIN: OnceLock<TestChain> = OnceLock::new();
    CHAIN.get_or_init(|| build_chain(&small_spec(), small_options()))
}

/// The workload public key of `account` under `seed`.
pub(crate) fn public_key(seed: u64, account: u64) -> PublicKey {
    PublicKey::from(<[u8; 32]>::from(VerificationKey::from(&signing_key(
        seed, account,
    ))))
}

/// A hand-made allocation: account `i` holds `accounts[i] = (balance, nonce)` under its workload
/// key.
pub(crate) fn allocation(spec: &WorkloadSpec, accounts: &[(u64, u64)]) -> Allocation {
    let leaves = (0u64..)
        .zip(accounts)
        .map(|(account, &(balance, nonce))| AccountLeaf {
            public_key: public_key(spec.seed, account),
            balance,
            nonce,
        })
        .collect();
    Allocation {
        chain_id: spec.chain_id,
        tree_depth: spec.tree_depth,
        model: Model::Transfer,
        accounts: VariableList::new(leaves).expect("allocation within its limit"),
    }
}

/// A transfer signed with the sender's workload key; `creates` gives it the receiver's workload
/// key as the new account's key.
pub(crate) fn transfer(
    spec: &WorkloadSpec,
    from: u64,
    to: u64,
    amount: u64,
    nonce: u64,
    creates: bool,
) -> Transaction {
    let mut tx = Transaction {
        from,
        to,
        amount,
        nonce,
        new_account_key: if creates {
            public_key(spec.seed, to)
        } else {
            PublicKey::ZERO
        },
        signature: Signature::ZERO,
    };
    workload::sign(spec.chain_id, spec.seed, &mut tx);
    tx
}

/// A signature over `tx` for `chain_id` by the workload key of `signer` (who need not be the
/// sender).
pub(crate) fn signature_by(
    spec: &WorkloadSpec,
    chain_id: u64,
    signer: u64,
    tx: &Transaction,
) -> Signature {
    let message = signing_message(chain_id, Model::Transfer, tx);
    Signature::from(signing_key(spec.seed, signer).sign(&message).to_bytes())
}

/// Runs the `stateless` binary with `args` and collects its output.
pub(crate) fn stateless(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stateless"))
        .args(args)
        .output()
        .expect("running the stateless binary")
}

/// A path as a command-line argument.
pub(crate) fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Asserts that a run of the binary succeeded; returns its stdout.
pub(crate) fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A run's stderr, as text.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The block file at `height` of a chain (or workload model) directory.
pub(crate) fn block_file(dir: &Path, height: u64) -> std::path::PathBuf {
    dir.join("blocks").join(format!("{height:08}.bin"))
}

/// `stateless gen` of the CLI tests' tiny shape (depth 4, chain 7, 6 accounts, blocks of two
/// transfers), for `model`, with `extra` flags.
pub(crate) fn gen_tiny(model: &str, blocks: &str, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "gen",
        "--model",
        model,
        "--depth",
        "4",
        "--chain-id",
        "7",
        "--accounts",
        "6",
        "--blocks",
        blocks,
        "--txs-per-block",
        "2",
        "--out",
        path(out),
    ];
    args.extend_from_slice(extra);
    ok(&stateless(&args), "gen");
}

/// `stateless zk setup` for [`gen_tiny`]'s shape and batches of 2; returns the printed
/// verifying-key hash.
pub(crate) fn zk_setup_tiny(keys: &Path, seed: &str) -> String {
    zk_setup_tiny_with(keys, seed, &[])
}

/// [`zk_setup_tiny`] with `extra` flags (`--shared-levels L`).
pub(crate) fn zk_setup_tiny_with(keys: &Path, seed: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "zk",
        "setup",
        "--depth",
        "4",
        "--batch",
        "2",
        "--chain-id",
        "7",
        "--seed",
        seed,
        "--out",
        path(keys),
    ];
    args.extend_from_slice(extra);
    ok(&stateless(&args), "zk setup").trim().to_string()
}

/// Re-links every header after its blobs were edited, as someone rewriting a chain would: each
/// header's blob root, state roots (its blobs' post-state roots), parent hash and history root
/// are recomputed, so what the verifier then rejects is the edit itself, not a stale header.
pub(crate) fn reseal(genesis: &Genesis, blocks: &mut [Block]) {
    use verifier::accumulator::{HistoryAccumulator, blobs_root};
    use verifier::hash::{blob_commitment, genesis_hash, header_hash};
    let mut history = HistoryAccumulator::new();
    let mut parent = genesis_hash(genesis);
    history.append(parent);
    let mut roots = genesis.state_roots.clone();
    for block in blocks {
        for blob in block.blobs.iter() {
            if let Some(root) = roots.iter_mut().find(|r| r.model == blob.model) {
                root.root = blob.post_state_root;
            }
        }
        let commitments: Vec<_> = block.blobs.iter().map(blob_commitment).collect();
        let header = &mut block.header;
        header.blobs_root = blobs_root(&commitments);
        header.state_roots = roots.clone();
        header.parent_hash = parent;
        header.history_root = history.root();
        parent = header_hash(header);
        history.append(parent);
    }
}

/// `stateless prove` of `workload` into the database `db` and the chain directory `chain`,
/// with `extra` flags (`--witness zk --keys KEYS`, `--txs-per-blob N`); asserts it succeeds
/// and returns what it printed on stderr.
pub(crate) fn prove_workload(workload: &Path, db: &Path, chain: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "prove",
        "--workload",
        path(workload),
        "--db",
        path(db),
        "--out",
        path(chain),
    ];
    args.extend_from_slice(extra);
    let out = stateless(&args);
    ok(&out, "prove");
    stderr(&out)
}
