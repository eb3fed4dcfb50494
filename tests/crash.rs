//! Prover crash safety: killed at random points with SIGKILL and restarted on the same database,
//! it ends with the same chain as an uninterrupted run and a database that passes its checks.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prover::ProverState;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use witness_format::{Allocation, decode_file};

fn stateless() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stateless"))
}

fn prove_command(workload: &Path, db: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut command = stateless();
    command
        .args(["prove", "--txs-per-blob", "16"])
        .args(extra)
        .arg("--workload")
        .arg(workload)
        .arg("--db")
        .arg(db)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Every `.bin` file of a chain directory, by name, with its bytes.
fn chain_files(chain: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = vec![chain.join("genesis.bin")];
    let mut blocks: Vec<PathBuf> = std::fs::read_dir(chain.join("blocks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    blocks.sort();
    files.extend(blocks);
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(chain).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

#[test]
fn killed_prover_resumes_to_the_identical_chain() {
    let chain = crash_and_resume(
        &[
            "--accounts",
            "256",
            "--blocks",
            "60",
            "--txs-per-block",
            "48",
        ],
        20,
    );
    assert_eq!(chain.height, 60);
}

/// The same with a checkpoint every 3 blocks and 5 blocks of history: kills land while the
/// state tables are rewritten and while history is dropped too.
#[test]
fn killed_prover_with_checkpoints_and_a_history_window_resumes_to_the_identical_chain() {
    let chain = crash_and_resume_proving_with(
        &[
            "--accounts",
            "256",
            "--blocks",
            "40",
            "--txs-per-block",
            "48",
        ],
        &["--checkpoint-every", "3", "--keep-history", "5"],
        12,
    );
    assert_eq!(chain.height, 40);
}

/// The same on a chain of both models with cross-model messages: blocks that credit exits carry
/// account history proofs built from the state history (undo log), so a crash that lost or
/// doubled part of it would show up as a different or invalid later block.
#[test]
fn killed_prover_of_both_models_with_credits_resumes_to_the_identical_chain() {
    let chain = crash_and_resume(
        &[
            "--model",
            "both",
            "--exit-percent",
            "30",
            "--depth",
            "8",
            "--accounts",
            "32",
            "--blocks",
            "16",
            "--txs-per-block",
            "24",
        ],
        8,
    );
    assert_eq!(chain.height, 16);
    let genesis = std::fs::read(chain.chain.join("genesis.bin")).unwrap();
    let genesis: witness_format::Genesis = decode_file(&genesis).unwrap();
    assert_eq!(genesis.state_roots.len(), 2);
    let credit_blocks = chain_files(&chain.chain)
        .iter()
        .filter(|(name, _)| name.starts_with("blocks"))
        .filter(|(_, bytes)| {
            let block: witness_format::Block = decode_file(bytes).unwrap();
            block
                .blobs
                .iter()
                .any(|b| matches!(b.witness, witness_format::Witness::Credits(_)))
        })
        .count();
    assert!(
        credit_blocks > 8,
        "only {credit_blocks} blocks credit exits"
    );
}

/// The same on a chain of the three models with exits every way: each block's `evm` blob is
/// made (its state kept in the `evm` store) before the prover's one durable commit, so a kill
/// between the two leaves an `evm` store ahead of the chain, which the restart must make good
/// byte for byte.
#[test]
fn killed_prover_of_three_models_with_credits_every_way_resumes_to_the_identical_chain() {
    let chain = crash_and_resume(
        &[
            "--model",
            "all",
            "--exit-percent",
            "30",
            "--depth",
            "8",
            "--accounts",
            "32",
            "--blocks",
            "12",
            "--txs-per-block",
            "16",
        ],
        6,
    );
    assert_eq!(chain.height, 12);
    let paying = chain_files(&chain.chain)
        .iter()
        .filter(|(name, _)| name.starts_with("blocks"))
        .filter(|(_, bytes)| {
            let block: witness_format::Block = decode_file(bytes).unwrap();
            block
                .blobs
                .iter()
                .any(|b| matches!(b.witness, witness_format::Witness::EvmCredits(_)))
        })
        .count();
    assert!(paying > 3, "only {paying} blocks pay credits into evm");
}

/// A resumed chain: its directory and its prover's height.
struct Resumed {
    chain: PathBuf,
    height: u64,
    _dir: tempfile::TempDir,
}

/// Generates a workload with `gen_args`, proves it once without
/// interruption, then again with at least `kills` SIGKILLs landing mid-run, each followed by a
/// restart on the same database. Checks that both runs wrote identical files, that the
/// database passes its integrity check, and that the chain verifies.
fn crash_and_resume(gen_args: &[&str], kills: usize) -> Resumed {
    crash_and_resume_proving_with(gen_args, &[], kills)
}

/// [`crash_and_resume`] with `prove_args` added to every `prove` run.
fn crash_and_resume_proving_with(gen_args: &[&str], prove_args: &[&str], kills: usize) -> Resumed {
    let dir = tempfile::tempdir().unwrap();
    let workload = dir.path().join("workload");
    let status = stateless()
        .arg("gen")
        .args(gen_args)
        .arg("--out")
        .arg(&workload)
        .status()
        .unwrap();
    assert!(status.success());

    // The reference: one uninterrupted run.
    let reference = dir.path().join("reference");
    let start = Instant::now();
    let out = prove_command(
        &workload,
        &dir.path().join("reference.redb"),
        &reference,
        prove_args,
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full_run = start.elapsed();

    // Kill at random points until enough kills landed while the prover was running.
    let (db, chain) = (dir.path().join("crashy.redb"), dir.path().join("crashy"));
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let mut landed = 0;
    let mut runs = 0;
    while landed < kills {
        runs += 1;
        assert!(
            runs < 400,
            "the prover kept finishing before it could be killed"
        );
        let mut child = prove_command(&workload, &db, &chain, prove_args)
            .spawn()
            .unwrap();
        let delay = full_run.mul_f64(rng.random_range(0.0..1.0));
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on Unix.
            landed += 1;
        }
        let status = child.wait().unwrap();
        if status.success() {
            // It finished first: start over on a fresh database, so kills keep landing in
            // the middle of the work rather than on an already finished chain.
            std::fs::remove_file(&db).unwrap();
            std::fs::remove_dir_all(&chain).unwrap();
        }
    }
    let out = prove_command(&workload, &db, &chain, prove_args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(
        chain_files(&chain),
        chain_files(&reference),
        "after {landed} kills"
    );
    let allocations: Vec<Allocation> = ["transfer", "zk-transfer"]
        .iter()
        .map(|model| workload.join(model).join("allocation.bin"))
        .filter(|path| path.exists())
        .map(|path| decode_file(&std::fs::read(path).unwrap()).unwrap())
        .collect();
    // A chain with `evm` has its genesis from the `evm` allocation too: open it as it is (its
    // files equal the reference's, above).
    let mut state = if workload.join("evm").exists() {
        ProverState::open_existing(&db).unwrap()
    } else {
        ProverState::open_chain(&db, &allocations, &[]).unwrap()
    };
    state.check_integrity().unwrap();
    let height = state.height();
    drop(state);
    let status = stateless()
        .arg("verify")
        .arg(&chain)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    Resumed {
        chain,
        height,
        _dir: dir,
    }
}

#[test]
fn second_prover_on_an_open_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let workload = dir.path().join("workload");
    let status = stateless()
        .args([
            "gen",
            "--accounts",
            "16",
            "--blocks",
            "1",
            "--txs-per-block",
            "4",
            "--out",
        ])
        .arg(&workload)
        .status()
        .unwrap();
    assert!(status.success());
    let allocation: Allocation =
        decode_file(&std::fs::read(workload.join("transfer/allocation.bin")).unwrap()).unwrap();
    let db = dir.path().join("p.redb");
    let holder = ProverState::open(&db, &allocation).unwrap();
    let before = std::fs::read(&db).unwrap();

    let out = prove_command(&workload, &db, &dir.path().join("chain"), &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already open"), "{stderr}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the refused run changed nothing"
    );
    drop(holder);
    std::thread::sleep(Duration::from_millis(10));
    assert!(
        prove_command(&workload, &db, &dir.path().join("chain"), &[])
            .status()
            .unwrap()
            .success()
    );
}
