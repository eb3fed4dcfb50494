//! The proving farm end to end (`docs/FARM.md`): a `nats-server` of the test's own (127.0.0.1,
//! a free port, JetStream files in a temporary directory, NKey authentication on), workers and
//! the prover as `stateless` processes, and hostile clients written here. Every farmed chain
//! must be byte-identical to the one proven in-process, whatever is killed on the way.
//!
//! Needs `nats-server` (Debian's package; `.ci/run` installs it): skipped without it, except
//! under CI, where its absence fails.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use common::{block_file, ok, path, stateless};
use futures_util::StreamExt;
use prover::BlockOptions;
use prover::farm::server::{LocalNats, nats_server_available};
use prover::farm::{FarmConfig, FarmProofs, encode_job, jobs_subject, result_subject};
use prover::prove_dir::prove_workload_dir;
use prover::zk::keys::read_verifying_key;
use prover::zk::proofs::ZkProving;
use verifier::zk_transfer::groth16::verifying_key_hash;
use witness_format::{
    Block, Hash32, ProvingJob, Witness, ZK_PROOF_BYTES, decode_file, encode_file,
};

/// A workload of 3 blocks of 4 `zk-transfer` transfers (two blobs of 2 each: 6 jobs), its keys,
/// and the chain proven in-process, made once for every test.
struct Reference {
    _dir: tempfile::TempDir,
    workload: PathBuf,
    keys: PathBuf,
    chain: PathBuf,
    vk_hash: Hash32,
}

fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (workload, keys, chain) = (
            dir.path().join("w"),
            dir.path().join("k"),
            dir.path().join("c"),
        );
        ok(
            &stateless(&[
                "gen",
                "--model",
                "zk-transfer",
                "--depth",
                "4",
                "--chain-id",
                "7",
                "--accounts",
                "6",
                "--blocks",
                "3",
                "--txs-per-block",
                "4",
                "--out",
                path(&workload),
            ]),
            "gen",
        );
        ok(
            &stateless(&[
                "zk",
                "setup",
                "--depth",
                "4",
                "--batch",
                "2",
                "--chain-id",
                "7",
                "--seed",
                "5",
                "--out",
                path(&keys),
            ]),
            "zk setup",
        );
        let db = dir.path().join("local.redb");
        ok(
            &stateless(&[
                "prove",
                "--workload",
                path(&workload),
                "--db",
                path(&db),
                "--out",
                path(&chain),
                "--witness",
                "zk",
                "--keys",
                path(&keys),
                "--txs-per-blob",
                "2",
            ]),
            "local prove",
        );
        let (_, vk) = read_verifying_key(&keys).unwrap();
        Reference {
            vk_hash: verifying_key_hash(&vk),
            _dir: dir,
            workload,
            keys,
            chain,
        }
    })
}

/// The number of zk proofs in the reference chain, and each blob's proof by its pre-state root.
fn reference_proofs() -> HashMap<Hash32, [u8; ZK_PROOF_BYTES]> {
    let mut proofs = HashMap::new();
    for height in 1..=3 {
        let bytes = std::fs::read(block_file(&reference().chain, height)).unwrap();
        let block: Block = decode_file(&bytes).unwrap();
        for blob in block.blobs.iter() {
            let Witness::Zk(zk) = &blob.witness else {
                panic!("a reference blob without a proof")
            };
            proofs.insert(blob.pre_state_root, zk.proof.0);
        }
    }
    proofs
}

/// One farm test at a time: each runs a server, workers and a prover on the machine's cores.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A test's farm: its server, its processes, its files.
struct Farm {
    dir: tempfile::TempDir,
    nats: LocalNats,
    children: Vec<Child>,
}

impl Farm {
    /// A farm with its server up; `None` (the test skips) where `nats-server` is missing,
    /// except under CI.
    fn start() -> Option<Self> {
        if !nats_server_available() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "nats-server is missing under CI (.ci/run installs it)"
            );
            eprintln!("skipping: nats-server is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let nats = LocalNats::start(&dir.path().join("nats")).unwrap();
        Some(Self {
            dir,
            nats,
            children: Vec::new(),
        })
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    fn read_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log(name)).unwrap_or_default()
    }

    /// Starts `stateless worker` named `name` (one thread); its stderr goes to `name.log`.
    fn worker(&mut self, name: &str) -> usize {
        let log = std::fs::File::create(self.log(name)).unwrap();
        let credentials = self.nats.worker_credentials();
        let child = Command::new(env!("CARGO_BIN_EXE_stateless"))
            .args([
                "worker",
                "--nats",
                &self.nats.url(),
                "--keys",
                path(&reference().keys),
                "--credentials",
                path(&credentials),
                "--name",
                name,
                "--threads",
                "1",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children.push(child);
        self.children.len() - 1
    }

    fn kill(&mut self, child: usize) {
        let child = &mut self.children[child];
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// The `prove --farm` command line into `chain` with database `db`, and `extra` flags.
    fn prove_command(&self, db: &str, chain: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stateless"));
        command.args([
            "prove",
            "--workload",
            path(&reference().workload),
            "--db",
            path(&self.dir.path().join(db)),
            "--out",
            path(&self.dir.path().join(chain)),
            "--witness",
            "zk",
            "--keys",
            path(&reference().keys),
            "--txs-per-blob",
            "2",
            "--farm",
            &self.nats.url(),
        ]);
        command.args(extra);
        command
    }

    /// Runs `prove --farm` with the coordinator's credentials to the end.
    fn prove(&self, db: &str, chain: &str, extra: &[&str]) -> Output {
        let credentials = self.nats.coordinator_credentials();
        let mut args = vec!["--credentials", path(&credentials)];
        args.extend_from_slice(extra);
        self.prove_command(db, chain, &args).output().unwrap()
    }

    /// Starts `prove --farm` with the coordinator's credentials; stderr to `prover.log`.
    fn spawn_prove(&mut self, db: &str, chain: &str, extra: &[&str]) -> usize {
        let credentials = self.nats.coordinator_credentials();
        let mut args = vec!["--credentials", path(&credentials)];
        args.extend_from_slice(extra);
        let log = std::fs::File::create(self.log("prover")).unwrap();
        let child = self
            .prove_command(db, chain, &args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children.push(child);
        self.children.len() - 1
    }

    /// Waits for process `child` to end; returns whether it succeeded.
    fn wait(&mut self, child: usize) -> bool {
        self.children[child].wait().unwrap().success()
    }

    fn chain(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self) -> FarmConfig {
        FarmConfig::new(self.nats.url(), Some(self.nats.coordinator_credentials()))
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        for child in &mut self.children {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Waits until `done` holds, for at most two minutes.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "waited too long for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that `chain` holds exactly the files of the chain proven in-process.
fn assert_identical(chain: &Path) {
    let files = |root: &Path| {
        let mut found = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap().path();
                if entry.is_dir() {
                    stack.push(entry);
                } else {
                    let name = entry.strip_prefix(root).unwrap().to_path_buf();
                    found.push((name, std::fs::read(&entry).unwrap()));
                }
            }
        }
        found.sort();
        found
    };
    let (ours, local) = (files(chain), files(&reference().chain));
    let names = |f: &[(PathBuf, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&local));
    for ((name, a), (_, b)) in ours.iter().zip(&local) {
        assert!(
            a == b,
            "{} differs from the in-process chain's",
            name.display()
        );
    }
}

/// The per-worker proof counts of the prover's farm report (`farm: N proofs from W workers
/// (a: 1, b: 2), proven here: 0; ...`), and the report line.
fn farm_report(stderr: &str) -> (HashMap<String, u64>, String) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("farm: "))
        .unwrap_or_else(|| panic!("no farm report in: {stderr}"))
        .to_string();
    assert!(line.contains("proven here: 0"), "{line}");
    let inside = &line[line.find('(').unwrap() + 1..line.find(')').unwrap()];
    let counts = inside
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(|entry| {
            let (name, count) = entry.split_once(": ").unwrap();
            (name.to_string(), count.parse().unwrap())
        })
        .collect();
    (counts, line)
}

/// Proofs a worker's log says it made.
fn proofs_made(log: &str) -> usize {
    log.lines().filter(|l| l.starts_with("proved job ")).count()
}

/// Two workers prove every one of the six jobs (both some, the prover none), and the chain is
/// the in-process one, byte for byte.
#[test]
fn two_workers_prove_the_chain_the_prover_would() {
    let _serial = serial();
    let Some(mut farm) = Farm::start() else {
        return;
    };
    farm.worker("wa");
    farm.worker("wb");
    let out = farm.prove("p.redb", "c", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert_identical(&farm.chain("c"));
    let (counts, line) = farm_report(&stderr);
    assert_eq!(counts.len(), 2, "{line}");
    assert!(counts["wa"] > 0 && counts["wb"] > 0, "{line}");
    assert_eq!(counts.values().sum::<u64>(), 6, "{line}");
    let made = proofs_made(&farm.read_log("wa")) + proofs_made(&farm.read_log("wb"));
    assert_eq!(made, 6);
}

/// A worker killed mid-proof (SIGKILL): its job is delivered again after the ack wait and
/// proven by another; the chain is the same.
#[test]
fn a_worker_killed_mid_proof_leaves_its_job_to_another() {
    let _serial = serial();
    let Some(mut farm) = Farm::start() else {
        return;
    };
    let doomed = farm.worker("doomed");
    let prover = farm.spawn_prove("p.redb", "c", &["--ack-wait", "2"]);
    wait_for("the first job to be taken", || {
        farm.read_log("doomed").contains("proving job ")
    });
    farm.kill(doomed);
    assert_eq!(proofs_made(&farm.read_log("doomed")), 0);
    farm.worker("survivor");
    assert!(farm.wait(prover), "{}", farm.read_log("prover"));
    assert_identical(&farm.chain("c"));
    let (counts, line) = farm_report(&farm.read_log("prover"));
    assert_eq!(counts.get("survivor"), Some(&6), "{line}");
}

/// The prover killed mid-run (SIGKILL, after block 1, while block 2's jobs are out) resumes
/// from its database and the streams: the chain is the same, and no job is proven twice.
#[test]
fn a_prover_killed_mid_run_resumes_without_proving_again() {
    let _serial = serial();
    let Some(mut farm) = Farm::start() else {
        return;
    };
    farm.worker("wa");
    farm.worker("wb");
    let prover = farm.spawn_prove("p.redb", "c", &[]);
    let first = block_file(&farm.chain("c"), 1);
    wait_for("block 1", || first.exists());
    farm.kill(prover);
    assert!(!block_file(&farm.chain("c"), 3).exists());
    let out = farm.prove("p.redb", "c", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert_identical(&farm.chain("c"));
    // Every job was proven once: the resumed prover took the proofs made meanwhile and did not
    // hand out again the jobs still queued.
    wait_for("the workers' logs", || {
        proofs_made(&farm.read_log("wa")) + proofs_made(&farm.read_log("wb")) >= 6
    });
    std::thread::sleep(Duration::from_secs(1));
    let made = proofs_made(&farm.read_log("wa")) + proofs_made(&farm.read_log("wb"));
    assert_eq!(made, 6, "{stderr}");
}

/// The NATS server killed (SIGKILL) and restarted mid-run, with its files: no job or proof is
/// lost, clients reconnect, the chain is the same.
#[test]
fn a_nats_server_restart_loses_no_job() {
    let _serial = serial();
    let Some(mut farm) = Farm::start() else {
        return;
    };
    farm.worker("wa");
    farm.worker("wb");
    let prover = farm.spawn_prove("p.redb", "c", &[]);
    let first = block_file(&farm.chain("c"), 1);
    wait_for("block 1", || first.exists());
    farm.nats.kill();
    std::thread::sleep(Duration::from_secs(1));
    farm.nats.restart().unwrap();
    assert!(farm.wait(prover), "{}", farm.read_log("prover"));
    assert_identical(&farm.chain("c"));
}

/// How a lying worker answers a job.
#[derive(Clone, Copy)]
enum Answer {
    /// The job's right proof with one byte changed.
    ChangedByte,
    /// Another blob's right proof.
    AnotherBlobs,
    /// The right proof, published twice.
    RightTwice,
    /// No proof: the job terminated, as if it could never be proven.
    Refuse,
}

/// Takes one job per answer of `answers`, as a worker would, answers it so (as worker "liar")
/// and acks it.
fn lie(farm: &Farm, answers: &[Answer]) {
    let proofs = reference_proofs();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let seed = prover::farm::read_credentials(&farm.nats.worker_credentials()).unwrap();
        let client = async_nats::ConnectOptions::new()
            .nkey(seed)
            .connect(farm.nats.url())
            .await
            .unwrap();
        let js = jetstream::new(client);
        let consumer: jetstream::consumer::Consumer<jetstream::consumer::pull::Config> = loop {
            let found = async {
                let stream = js.get_stream(prover::farm::JOBS_STREAM).await.ok()?;
                let name = prover::farm::workers_consumer(&reference().vk_hash);
                stream.get_consumer(&name).await.ok()
            };
            if let Some(consumer) = found.await {
                break consumer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut answers = answers.iter();
        let mut next = answers.next();
        while let Some(answer) = next {
            let mut batch = consumer.fetch().max_messages(1).messages().await.unwrap();
            while let Some(Ok(message)) = batch.next().await {
                let job: ProvingJob = decode_file(&message.payload).unwrap();
                let (_, id) = encode_job(&job);
                let right = proofs[&job.blob.pre_state_root];
                if matches!(answer, Answer::Refuse) {
                    message
                        .double_ack_with(jetstream::AckKind::Term)
                        .await
                        .unwrap();
                    next = answers.next();
                    continue;
                }
                let (proof, times) = match answer {
                    Answer::ChangedByte => {
                        let mut proof = right;
                        proof[5] ^= 1;
                        (proof, 1)
                    }
                    Answer::AnotherBlobs => {
                        let other = proofs
                            .iter()
                            .find(|(root, _)| **root != job.blob.pre_state_root)
                            .unwrap();
                        (*other.1, 1)
                    }
                    Answer::RightTwice => (right, 2),
                    Answer::Refuse => unreachable!("answered above"),
                };
                for _ in 0..times {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert(prover::farm::WORKER_HEADER, "liar");
                    js.publish_with_headers(result_subject(&id), headers, proof.to_vec().into())
                        .await
                        .unwrap()
                        .await
                        .unwrap();
                }
                message.double_ack().await.unwrap();
                next = answers.next();
            }
        }
    });
}

/// A worker that returns wrong proofs (a changed byte, another blob's proof) never gets one
/// into a block: each is counted, ignored and its job handed out again. A right proof sent
/// twice is taken once; a job the worker refuses (terminates) is handed out again.
#[test]
fn a_wrong_proof_never_gets_into_a_block() {
    let _serial = serial();
    let Some(mut farm) = Farm::start() else {
        return;
    };
    let prover = farm.spawn_prove("p.redb", "c", &[]);
    lie(
        &farm,
        &[
            Answer::ChangedByte,
            Answer::AnotherBlobs,
            Answer::RightTwice,
            Answer::Refuse,
        ],
    );
    farm.worker("honest");
    assert!(farm.wait(prover), "{}", farm.read_log("prover"));
    assert_identical(&farm.chain("c"));
    let log = farm.read_log("prover");
    let (counts, line) = farm_report(&log);
    assert_eq!(counts.get("liar"), Some(&1), "{line}");
    assert_eq!(counts.get("honest"), Some(&5), "{line}");
    assert!(line.contains("2 wrong proofs ignored"), "{line}");
    assert!(line.contains("1 duplicates ignored"), "{line}");
    assert!(line.contains("1 jobs refused by workers"), "{line}");
    assert!(line.contains("3 jobs republished"), "{line}");
}

/// A job that gets only wrong proofs, past the limit, ends the run with an error naming it,
/// and nothing of its block is committed.
#[test]
fn a_job_with_only_wrong_proofs_is_named() {
    let _serial = serial();
    let Some(farm) = Farm::start() else { return };
    let config = FarmConfig {
        max_wrong_proofs: 1,
        ..farm.config()
    };
    let (shape, vk) = read_verifying_key(&reference().keys).unwrap();
    let error = std::thread::scope(|scope| {
        let proving = scope.spawn(|| {
            let proofs = FarmProofs::connect(config, reference().vk_hash).unwrap();
            let zk = ZkProving {
                shape,
                vk,
                proofs: Box::new(proofs),
            };
            prove_workload_dir(
                &reference().workload,
                &farm.dir.path().join("p.redb"),
                &farm.chain("c"),
                BlockOptions {
                    txs_per_blob: 2,
                    ..BlockOptions::default()
                },
                Some(zk),
                None,
                |_, _, _| {},
            )
        });
        // Two jobs in block 1, both answered wrongly, then the first republished one again.
        lie(&farm, &[Answer::ChangedByte; 3]);
        proving.join().unwrap().unwrap_err()
    });
    let text = format!("{:#}", anyhow::Error::from(error));
    assert!(
        text.contains("2 wrong proofs and no right one") && text.contains("job "),
        "{text}"
    );
    assert!(!block_file(&farm.chain("c"), 1).exists());
}

/// A job no worker ever finishes (a client takes it and goes silent, every time) ends the run
/// with an error naming the job, after the delivery limit.
#[test]
fn a_job_that_is_never_finished_is_named() {
    let _serial = serial();
    let Some(mut farm) = Farm::start() else {
        return;
    };
    let prover = farm.spawn_prove("p.redb", "c", &["--ack-wait", "1", "--max-deliveries", "2"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let silent = async {
        let seed = prover::farm::read_credentials(&farm.nats.worker_credentials()).unwrap();
        let client = async_nats::ConnectOptions::new()
            .nkey(seed)
            .connect(farm.nats.url())
            .await
            .unwrap();
        let js = jetstream::new(client);
        loop {
            let found = async {
                let stream = js.get_stream(prover::farm::JOBS_STREAM).await.ok()?;
                let name = prover::farm::workers_consumer(&reference().vk_hash);
                let consumer: jetstream::consumer::Consumer<jetstream::consumer::pull::Config> =
                    stream.get_consumer(&name).await.ok()?;
                let mut batch = consumer.fetch().max_messages(10).messages().await.ok()?;
                while let Some(Ok(_held)) = batch.next().await {}
                Some(())
            };
            found.await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    runtime.block_on(async {
        tokio::select! {
            () = silent => {}
            () = tokio::time::sleep(Duration::from_secs(20)) => {}
        }
    });
    assert!(!farm.wait(prover));
    let log = farm.read_log("prover");
    assert!(
        log.contains("was delivered 2 times and no worker returned a proof"),
        "{log}"
    );
    assert!(log.contains("job "), "{log}");
}

/// The farm admits only its keys: a prover or worker without credentials is refused; a worker's
/// key cannot publish jobs, nor the coordinator's proofs; a worker refuses a job for another
/// key than its own.
#[test]
fn the_farm_admits_only_its_keys_and_workers_only_their_jobs() {
    let _serial = serial();
    let Some(mut farm) = Farm::start() else {
        return;
    };
    let no_credentials = farm.prove_command("p.redb", "c", &[]).output().unwrap();
    assert_eq!(no_credentials.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&no_credentials.stderr).to_lowercase();
    assert!(stderr.contains("authorization"), "{stderr}");
    let worker = stateless(&[
        "worker",
        "--nats",
        &farm.nats.url(),
        "--keys",
        path(&reference().keys),
        "--max-jobs",
        "1",
    ]);
    assert_eq!(worker.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&worker.stderr)
            .to_lowercase()
            .contains("authorization")
    );

    // The coordinator creates the streams; then each key tries what the other may do.
    let vk_hash = reference().vk_hash;
    drop(FarmProofs::connect(farm.config(), vk_hash).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let job = ProvingJob {
        vk_hash: Hash32::from([9; 32]),
        reserved_bits: 0,
        blob: decode_file::<Block>(&std::fs::read(block_file(&reference().chain, 1)).unwrap())
            .unwrap()
            .blobs[0]
            .clone(),
    };
    let (worker_seed, coordinator_seed) = (
        prover::farm::read_credentials(&farm.nats.worker_credentials()).unwrap(),
        prover::farm::read_credentials(&farm.nats.coordinator_credentials()).unwrap(),
    );
    let messages = runtime.block_on(async {
        let connect = |seed: String| async {
            async_nats::ConnectOptions::new()
                .nkey(seed)
                .connect(farm.nats.url())
                .await
                .unwrap()
        };
        let as_worker = connect(worker_seed).await;
        as_worker
            .publish(jobs_subject(&vk_hash), encode_file(&job).into())
            .await
            .unwrap();
        as_worker.flush().await.unwrap();
        let as_coordinator = connect(coordinator_seed).await;
        as_coordinator
            .publish(result_subject("forged"), vec![0u8; ZK_PROOF_BYTES].into())
            .await
            .unwrap();
        as_coordinator.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let js = jetstream::new(as_coordinator.clone());
        let mut counts = Vec::new();
        for name in [prover::farm::JOBS_STREAM, prover::farm::RESULTS_STREAM] {
            let mut stream = js.get_stream(name).await.unwrap();
            counts.push(stream.info().await.unwrap().state.messages);
        }
        // A job for another key, published on this key's subject: the worker refuses it.
        js.publish(jobs_subject(&vk_hash), encode_file(&job).into())
            .await
            .unwrap()
            .await
            .unwrap();
        counts
    });
    assert_eq!(messages, [0, 0], "a key published what it may not");
    farm.worker("w");
    wait_for("the refusal", || {
        farm.read_log("w").contains("refused job ")
    });
    let log = farm.read_log("w");
    assert!(
        log.contains(&format!("the job is for key {}", Hash32::from([9; 32]))),
        "{log}"
    );
}

/// `bench --farm --quick --json` reports every figure, each a positive number, and the farm
/// made every proof of its runs.
#[test]
fn bench_farm_reports_every_figure() {
    let _serial = serial();
    let Some(_farm) = Farm::start() else { return };
    let out = stateless(&["bench", "--farm", "--quick", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "local_proofs_per_s",
        "local_tx_per_s",
        "farm_1_workers_proofs_per_s",
        "farm_1_workers_tx_per_s",
        "farm_2_workers_proofs_per_s",
        "farm_2_workers_tx_per_s",
        "coordinator_cpu_ms_per_job",
        "coordinator_bytes_per_job",
        "worker_bytes_per_job",
        "job_bytes",
    ] {
        let value = report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {report}"));
        assert!(value.is_finite() && value > 0.0, "{key} = {value}");
    }
}
