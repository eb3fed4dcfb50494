//! Files that are not what they claim: every file the CLI reads is checked to be a regular file
//! and read with a bound that fits its kind, so a huge, endless or blocking file is refused
//! quickly, by name, without the memory its size claims. Also the trust anchor `verify` prints
//! and can be told to require, missing blocks, and a closed stdout.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{block_file, gen_tiny, ok, path, prove_workload, stateless, stderr};
use witness_format::ZK_VERIFYING_KEY_BYTES;

/// Runs the binary and fails the test if it does not end within `limit` (a FIFO or an endless
/// file must not hang it).
fn run_within(args: &[&str], limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stateless"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the stateless binary");
    while child.try_wait().expect("waiting for the child").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("`stateless {}` ran past {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (
        child.wait_with_output().expect("collecting output"),
        start.elapsed(),
    )
}

/// A tiny `transfer` chain of three blocks; returns its directory.
fn chain(dir: &Path) -> PathBuf {
    let (workload, db, chain) = (dir.join("w"), dir.join("p.redb"), dir.join("c"));
    gen_tiny("transfer", "3", &workload, &[]);
    prove_workload(&workload, &db, &chain, &[]);
    chain
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

/// A 1.5 GB block file (sparse: it costs no disk) is refused from its size: quickly, naming the
/// file, exit 1, with the process's peak memory far below the size the file claims.
#[test]
fn an_oversized_block_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let chain = chain(dir.path());
    let file = block_file(&chain, 2);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(1_500_000_000)
        .unwrap();
    let (out, took) = run_within(&["verify", path(&chain), "--json"], Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["valid"], false);
    assert_eq!(report["height"], 1, "block 1 was checked first");
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("00000002.bin"), "{error}");
    assert!(error.contains("over the limit"), "{error}");
    let peak = report["peak_memory_bytes"].as_u64().unwrap();
    assert!(peak < 100 << 20, "peak memory {peak} bytes");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// A block that is a symlink to /dev/zero (endless), a FIFO (blocks a reader forever) and a
/// directory are not regular files: refused at once, by name, as I/O errors (exit 2).
#[test]
fn block_files_that_are_not_regular_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let chain = chain(dir.path());
    let file = block_file(&chain, 3);
    type Make<'a> = &'a dyn Fn(&Path);
    let make: [(&str, Make); 3] = [
        ("a symlink to /dev/zero", &|p| {
            std::os::unix::fs::symlink("/dev/zero", p).unwrap()
        }),
        ("a FIFO", &|p| mkfifo(p)),
        ("a directory", &|p| std::fs::create_dir(p).unwrap()),
    ];
    for (what, make) in make {
        std::fs::remove_file(&file)
            .or_else(|_| std::fs::remove_dir(&file))
            .unwrap();
        make(&file);
        let (out, _) = run_within(&["verify", path(&chain)], Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("00000003.bin is not a regular file"),
            "{what}: {}",
            stderr(&out)
        );
    }
}

/// The same for the other files the CLI reads: the genesis, a history proof or span, a file
/// to inspect, a workload's allocation and a keys directory's proving key.
#[test]
fn every_file_the_cli_reads_is_refused_when_not_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let chain = chain(dir.path());
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let zero = dir.path().join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let tip = block_file(&chain, 3);
    for bad in [&fifo, &zero] {
        let runs: Vec<Vec<&str>> = vec![
            vec!["inspect", path(bad)],
            vec!["history", "verify", path(bad), "--tip", path(&tip)],
            vec!["history", "verify", path(&tip), "--tip", path(bad)],
        ];
        for args in runs {
            let (out, _) = run_within(&args, Duration::from_secs(20));
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
            assert!(
                stderr(&out).contains("is not a regular file"),
                "{args:?}: {}",
                stderr(&out)
            );
        }
    }
    // The genesis of a chain to verify.
    let genesis = chain.join("genesis.bin");
    std::fs::remove_file(&genesis).unwrap();
    mkfifo(&genesis);
    let (out, _) = run_within(&["verify", path(&chain)], Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("genesis.bin is not a regular file"));
    // A workload's allocation, and a keys directory's proving key.
    let workload = dir.path().join("w");
    let allocation = workload.join("transfer").join("allocation.bin");
    let allocation_bytes = std::fs::read(&allocation).unwrap();
    std::fs::remove_file(&allocation).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &allocation).unwrap();
    let (out, _) = run_within(
        &[
            "prove",
            "--workload",
            path(&workload),
            "--db",
            path(&dir.path().join("other.redb")),
            "--out",
            path(&dir.path().join("other")),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("allocation.bin is not a regular file"));
    std::fs::remove_file(&allocation).unwrap();
    std::fs::write(&allocation, allocation_bytes).unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    mkfifo(&keys.join("shape.json"));
    let (out, _) = run_within(
        &[
            "prove",
            "--workload",
            path(&workload),
            "--db",
            path(&dir.path().join("other.redb")),
            "--out",
            path(&dir.path().join("other")),
            "--witness",
            "zk",
            "--keys",
            path(&keys),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("shape.json is not a regular file"));
}

/// A verifying key file is hashed and checked against the genesis's pins before it is
/// decoded, and never read past a key's size: a 9.6 MB junk key and a key-sized junk key are
/// both rejected at once (exit 1), by name.
#[test]
fn junk_verifying_keys_are_refused_by_size_and_pin_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let chain = chain(dir.path());
    let keys = chain.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let junk = keys.join("junk.vk");
    std::fs::write(&junk, vec![0x5a; 9_600_000]).unwrap();
    let (out, took) = run_within(&["verify", path(&chain)], Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "junk.vk: file is 9600000 bytes, over the limit of {ZK_VERIFYING_KEY_BYTES}"
        )),
        "{}",
        stderr(&out)
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    std::fs::write(&junk, vec![0x5a; ZK_VERIFYING_KEY_BYTES]).unwrap();
    let out = stateless(&["verify", path(&chain)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("junk.vk: verifying key 0x") && stderr(&out).contains("not pinned"),
        "{}",
        stderr(&out)
    );
    // The same key file is the same rejection, with the same exit class, in `history span`.
    let span = dir.path().join("span.bin");
    let out = stateless(&[
        "history",
        "span",
        "--chain",
        path(&chain),
        "--from",
        "0",
        "--to",
        "3",
        "--out",
        path(&span),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("junk.vk: verifying key 0x") && stderr(&out).contains("not pinned"),
        "{}",
        stderr(&out)
    );
    assert!(!span.exists());
}

/// `verify` prints its trust anchor (chain id and genesis hash) and, given `--genesis-hash`,
/// refuses a chain directory with any other genesis: a substituted chain is rejected.
#[test]
fn verify_names_its_trust_anchor_and_can_require_one() {
    let dir = tempfile::tempdir().unwrap();
    let chain = chain(dir.path());
    let out = stateless(&["verify", path(&chain), "--json"]);
    let report = json(&out);
    assert_eq!(report["valid"], true);
    assert_eq!(report["chain_id"], 7);
    let genesis_hash = report["genesis_hash"].as_str().unwrap().to_string();
    let table = ok(&stateless(&["verify", path(&chain)]), "verify");
    assert!(table.contains(&genesis_hash), "{table}");
    assert!(table.contains("chain id"), "{table}");
    ok(
        &stateless(&["verify", path(&chain), "--genesis-hash", &genesis_hash]),
        "verify with the right genesis",
    );

    // Another chain (another seed, so another genesis) under the same trust anchor.
    let other = dir.path().join("other");
    gen_tiny("transfer", "2", &dir.path().join("w2"), &["--seed", "99"]);
    prove_workload(
        &dir.path().join("w2"),
        &dir.path().join("p2.redb"),
        &other,
        &[],
    );
    let out = stateless(&[
        "verify",
        path(&other),
        "--json",
        "--genesis-hash",
        &genesis_hash,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["valid"], false);
    assert_eq!(report["height"], 0);
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains(&format!("is not the trusted genesis {genesis_hash}")),
        "{report}"
    );
    let out = stateless(&["verify", path(&chain), "--genesis-hash", "abcd"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a malformed hash is a usage error"
    );
}

/// A missing block is a property of the chain checked: rejected (exit 1) with JSON naming the
/// height reached and the block missing, not an I/O error.
#[test]
fn a_gap_in_block_numbering_is_a_rejection_with_the_height_reached() {
    let dir = tempfile::tempdir().unwrap();
    let chain = chain(dir.path());
    std::fs::remove_file(block_file(&chain, 2)).unwrap();
    let out = stateless(&["verify", path(&chain), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["valid"], false);
    assert_eq!(report["height"], 1);
    assert_eq!(report["blocks"], 1);
    let error = report["error"].as_str().unwrap();
    assert!(error.starts_with("block 2 is missing"), "{error}");
    assert!(stderr(&out).contains("rejected: block 2 is missing"));
}

/// A reader that closes stdout early (`| head`) ends every verb quietly: no panic, no
/// backtrace, the status of a program ended by SIGPIPE (141).
#[test]
fn a_closed_stdout_ends_each_verb_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let chain = chain(dir.path());
    let tip = block_file(&chain, 3);
    let runs: Vec<Vec<&str>> = vec![
        vec!["inspect", path(&tip)],
        vec!["verify", path(&chain), "--json"],
        vec!["verify", path(&chain)],
    ];
    for args in runs {
        // The read end is closed before the child starts, so its first write finds no reader
        // (closing it after the spawn races with a child that writes into the pipe's buffer).
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut child = Command::new(env!("CARGO_BIN_EXE_stateless"))
            .args(&args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
        assert_eq!(status.code(), Some(141), "{args:?}: {err}");
    }
}
