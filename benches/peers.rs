//! Peers, side by side: our multiproof against a `rustreexo` (Utreexo) batch proof, for the same
//! number of touched leaves K over the same number of leaves N.
//!
//! Versions: this workspace's `verifier` (SHA3-256 sparse Merkle tree, depth 32) and
//! `rustreexo` 0.7.0 from crates.io (default `BitcoinNodeHash`, SHA-512/256), measured with
//! criterion 0.8.
//!
//! What is measured, one criterion group per N (`peers_<N>_leaves`), throughput in targets:
//!
//! - `multiproof_sha3_256/K`: the verifier's pre-state check of a [`MerkleWitness`] without its
//!   leaves. One multiproof walk (`read_multiproof`) at depth 32 over K `(account, leaf hash)` pairs, whose
//!   sibling closure does what `verifier::blob`'s `root_from_witness` does: read the next bit of
//!   `sibling_present`, take the next carried hash or the level's default, reject a carried
//!   default, then check that bitmap and list were used up, and compare with the root.
//! - `rustreexo_sha512_256/K`: [`Stump::verify`] of the `MemForest::prove` batch proof for the
//!   same K leaves, against a `Stump` holding the forest's roots (here one root, N being a power
//!   of two).
//!
//! The state: N leaves at positions 0..N, the same 32-byte leaf hashes in both (our
//! [`leaf_hash`] of a synthetic account per position); ours sits in a depth-32 tree, so above
//! level log2(N) every sibling is an empty subtree (a bitmap bit, no hash carried). The targets:
//! K distinct positions drawn uniformly with a fixed seed, the same for both. Leaf hashes are an
//! input of both measurements; hashing the leaves' data is not measured, nor is decoding.
//!
//! Proof bytes per target, printed once to stderr as a table before the measurements (criterion
//! measures time only):
//!
//! - ours, `hashes+bitmap`: (carried siblings × 32 + ⌈bitmap bits / 8⌉) / K; `ssz`: the SSZ
//!   encoding of the `MerkleWitness` with its `leaves` list empty (3 × 4 offset bytes, bitmap
//!   with its delimiter bit, siblings) / K. The leaves' own data (the touched accounts) is left
//!   out of both, and so are the account indices, which the verifier derives from the
//!   transactions.
//! - rustreexo, `hashes`: proof hashes × 32 / K; `serialized`: the length `Proof::serialize`
//!   writes / K, which is 8 + 8·K target positions + 8 + 33 per hash (each `BitcoinNodeHash`
//!   is written with a one-byte tag), so the 8-byte positions are counted there. Leaf data is
//!   left out here too (Utreexo's leaf hash commits to the UTXO, which travels separately).
//!
//! Results (`cargo bench --bench peers`, three runs on a shared 2-core x86-64 container with
//! other jobs running, load average 2–4; the median per-target time of the three, then the
//! range; criterion's point estimate per run). Bytes are exact and the same on every run.
//!
//! ```text
//!                    verification µs per target            proof bytes per target
//!                  ours (SHA3)     rustreexo (SHA-512/256)  ours             rustreexo         hashes
//!      N      K    median range    median range             hashes+bitmap ssz hashes serialized per target
//!   2^16     64    4.4  4.0–5.4    4.4  4.3–5.0             295.2  295.4     294.0  311.4       10.4
//!   2^16    512    2.9  2.9–3.6    3.7  3.2–4.2             197.0  197.0     196.2  210.3        7.2
//!   2^16   2048    2.6  2.3–3.6    3.1  2.4–4.4             135.6  135.6     135.1  147.3        5.2
//!   2^20     64    7.8  6.5–8.3    6.6  6.2–10.7            417.2  417.3     415.5  436.7       14.2
//!   2^20    512    4.6  4.2–7.3    8.1  5.0–8.1             324.8  324.9     323.6  341.7       11.1
//!   2^20   2048    7.4  5.3–9.2    7.4  4.3–7.8             259.8  259.8     258.8  274.9        9.1
//!
//!   one node hash: SHA3-256 of 65 bytes 0.37–0.42 µs, SHA-512/256 of 64 bytes 0.46–0.56 µs
//! ```
//!
//! `hashes per target`: node hashes one verification of ours computes, over K; rustreexo's
//! computes 32 − log2(N) fewer in all. Carried siblings equal rustreexo's proof hashes exactly
//! (588, 3,139, 8,647 at 2^16; 831, 5,177, 16,561 at 2^20): with the leaves packed at 0..N both
//! proofs hold the same subtree hashes, so ours is larger only by the bitmap (32 − log2(N) bits
//! more than it carries, one per sibling) and rustreexo's serialized form by 8-byte positions, a
//! tag byte per hash and two length prefixes. The times are hash count × hash cost to within
//! this machine's noise, which is as large as the difference between the two; read the byte
//! columns as exact and the time columns as "the same order, neither clearly ahead here".
//!
//! Caveats: the hash functions differ. A node of ours is SHA3-256 of 65 bytes (domain byte, two
//! children: one Keccak-f\[1600\] permutation); a rustreexo node is SHA-512/256 of 64 bytes (one
//! SHA-512 compression, `bitcoin_hashes` 1.2's portable code); measured here, the SHA-512/256
//! node is the slower of the two (`peers_node_hash`); to compare the walks rather than the
//! hashes, divide each time by its side's hash cost. Our walk also hashes the
//! 32 − log2(N) levels above the filled subtree (once, shared by all targets). rustreexo's
//! verify sorts and allocates its node list; ours walks level by level. Both run single-threaded.
//!
//! Run it with:
//!
//! ```sh
//! cargo bench --bench peers
//! ```
//!
//! Smoke mode, `cargo bench --bench peers -- --test` (also `cargo test --benches`, or any run
//! with `STATELESS_BENCH_QUICK=1`), uses N = 2^16 only and runs each benchmark once.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rayon::prelude::*;
use rustreexo::mem_forest::MemForest;
use rustreexo::node_hash::{AccumulatorHash, BitcoinNodeHash};
use rustreexo::proof::Proof;
use rustreexo::stump::Stump;
use verifier::hash::{leaf_hash, node_hash};
use verifier::transfer::{TRANSFER_TREE, TransferTree};
use verifier::tree::{SparseTree, read_multiproof, write_multiproof};
use witness_format::{AccountLeaf, Hash32, MerkleWitness, PublicKey, SszEncode};

/// The depth of the `transfer` model's tree.
const DEPTH: u8 = 32;

/// log2 of the leaf counts of a real run.
const LOG2_LEAVES: &[u32] = &[16, 20];

/// log2 of the leaf counts in smoke mode.
const LOG2_LEAVES_QUICK: &[u32] = &[16];

/// Touched leaves per proof.
const TARGETS: &[usize] = &[64, 512, 2048];

/// Fixed, so every run measures the same targets.
const SEED: u64 = 0x5eed_9ee2;

/// Whether to run the small configuration only: `STATELESS_BENCH_QUICK=1`, or criterion's test
/// mode (`-- --test`, or no `--bench` flag as under `cargo test --benches`).
fn quick() -> bool {
    let env = std::env::var("STATELESS_BENCH_QUICK").is_ok_and(|v| v == "1");
    let test = std::env::args().any(|a| a == "--test");
    let bench = std::env::args().any(|a| a == "--bench");
    env || test || !bench
}

/// The leaf hash of position `i`: a synthetic, non-empty account.
fn leaf(i: u64) -> Hash32 {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&i.to_le_bytes());
    key[31] = 1;
    leaf_hash(&AccountLeaf {
        public_key: PublicKey::from(key),
        balance: i + 1,
        nonce: i % 7,
    })
}

/// Our multiproof for one target set, ready to verify.
struct Ours {
    /// `(account, leaf hash)`, ascending.
    leaves: Vec<(u64, Hash32)>,
    /// The witness without its leaves: bitmap and carried siblings.
    witness: MerkleWitness,
    root: Hash32,
}

/// rustreexo's batch proof for the same target set.
struct Theirs {
    /// The targets' leaf hashes, in the proof's target order.
    del_hashes: Vec<BitcoinNodeHash>,
    proof: Proof,
    stump: Stump,
}

/// One (N, K) pair, both sides.
struct Case {
    log2_leaves: u32,
    k: usize,
    ours: Ours,
    theirs: Theirs,
}

/// One row of the proof size table.
struct Sizes {
    log2_leaves: u32,
    k: usize,
    carried: usize,
    bitmap_bits: usize,
    /// Node hashes one verification of ours computes.
    hashes: usize,
    ours_ssz: usize,
    rx_hashes: usize,
    rx_serialized: usize,
}

/// What the verifier does with a witness, leaves hashed already: the multiproof reader.
fn verify_ours(ours: &Ours) -> Result<Hash32, verifier::Reason> {
    read_multiproof(
        &TRANSFER_TREE,
        DEPTH,
        ours.leaves.clone(),
        &ours.witness,
        |hash| Ok::<_, verifier::Reason>(*hash),
    )
    .map(|(root, _)| root)
}

fn setup(log2_leaves: u32, defaults: &TransferTree) -> Vec<(Case, Sizes)> {
    let n = 1u64 << log2_leaves;
    let started = Instant::now();

    // Ours: every level of the filled subtree, in memory; above it, defaults.
    let mut levels: Vec<Vec<Hash32>> = vec![(0..n).into_par_iter().map(leaf).collect()];
    while levels.last().is_some_and(|l| l.len() > 1) {
        let below = levels.last().expect("a level");
        let next = below
            .par_chunks(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
        levels.push(next);
    }
    let mut root = levels[log2_leaves as usize][0];
    for level in log2_leaves..u32::from(DEPTH) {
        root = node_hash(&root, &defaults.empty(level as u8));
    }
    let node = |level: u8, index: u64| -> Hash32 {
        levels
            .get(usize::from(level))
            .and_then(|l| l.get(index as usize))
            .copied()
            .unwrap_or(defaults.empty(level))
    };
    eprintln!(
        "setup: 2^{log2_leaves} leaves, our tree built in {:.1?}",
        started.elapsed()
    );

    // rustreexo: the same leaf hashes, added in position order.
    let started = Instant::now();
    let rx_leaves: Vec<BitcoinNodeHash> = levels[0]
        .iter()
        .map(|h| BitcoinNodeHash::new(h.0))
        .collect();
    let mut forest = MemForest::new();
    forest
        .modify(&rx_leaves, &[])
        .expect("adding leaves succeeds");
    let stump = Stump {
        leaves: forest.leaves,
        roots: forest.get_roots().iter().map(|r| r.get_data()).collect(),
    };
    eprintln!(
        "setup: 2^{log2_leaves} leaves, rustreexo MemForest built in {:.1?} ({} root)",
        started.elapsed(),
        stump.roots.len()
    );

    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ u64::from(log2_leaves));
    let mut cases = Vec::new();
    for &k in TARGETS {
        let mut targets: Vec<u64> = rand::seq::index::sample(&mut rng, n as usize, k)
            .into_iter()
            .map(|i| i as u64)
            .collect();
        targets.sort_unstable();

        // Ours: the prover's walk, recording every sibling asked for.
        let leaves: Vec<(u64, Hash32)> = targets
            .iter()
            .map(|&i| (i, levels[0][i as usize]))
            .collect();
        let Ok(proof) =
            write_multiproof::<_, Infallible>(defaults, DEPTH, leaves.clone(), |level, index| {
                Ok(node(level, index))
            });
        assert_eq!(
            proof.root, root,
            "the multiproof walk gives the tree's root"
        );
        let hashes = proof.inner_nodes;
        let witness = proof.witness(Vec::new()).expect("the witness fits");
        let ours = Ours {
            leaves,
            witness,
            root,
        };
        assert_eq!(verify_ours(&ours), Ok(root), "our proof verifies");
        let mut tampered = ours.leaves.clone();
        tampered[0].1 = leaf(n);
        assert_ne!(
            verify_ours(&Ours {
                leaves: tampered,
                witness: ours.witness.clone(),
                root
            }),
            Ok(root),
            "a wrong leaf does not verify"
        );

        // rustreexo: a batch proof for the same leaves.
        let del_hashes: Vec<BitcoinNodeHash> =
            targets.iter().map(|&i| rx_leaves[i as usize]).collect();
        let proof = forest
            .prove(&del_hashes)
            .expect("the targets are in the forest");
        assert_eq!(proof.n_targets(), k);
        assert_eq!(
            stump.verify(&proof, &del_hashes),
            Ok(true),
            "rustreexo verifies"
        );
        let mut wrong = del_hashes.clone();
        wrong[0] = BitcoinNodeHash::new(leaf(n).0);
        assert_ne!(
            stump.verify(&proof, &wrong),
            Ok(true),
            "a wrong leaf does not"
        );
        let mut serialized = Vec::new();
        proof.serialize(&mut serialized).expect("serializes");

        let sizes = Sizes {
            log2_leaves,
            k,
            carried: ours.witness.siblings.len(),
            bitmap_bits: ours.witness.sibling_present.len(),
            hashes,
            ours_ssz: ours.witness.as_ssz_bytes().len(),
            rx_hashes: proof.hashes.len(),
            rx_serialized: serialized.len(),
        };
        let theirs = Theirs {
            del_hashes,
            proof,
            stump: stump.clone(),
        };
        cases.push((
            Case {
                log2_leaves,
                k,
                ours,
                theirs,
            },
            sizes,
        ));
    }
    cases
}

fn print_sizes(rows: &[Sizes]) {
    eprintln!();
    eprintln!("proof bytes per target (leaf data excluded; see the bench's doc comment)");
    eprintln!(
        "{:>6} {:>6} | {:>8} {:>8} {:>8} {:>15} {:>8} | {:>8} {:>10} {:>12}",
        "N",
        "K",
        "hashed",
        "carried",
        "bits",
        "hashes+bitmap",
        "ssz",
        "rx count",
        "rx hashes",
        "rx serialized"
    );
    for r in rows {
        let k = r.k as f64;
        let ours = (r.carried * 32 + r.bitmap_bits.div_ceil(8)) as f64 / k;
        eprintln!(
            "{:>6} {:>6} | {:>8} {:>8} {:>8} {:>15.1} {:>8.1} | {:>8} {:>10.1} {:>12.1}",
            format!("2^{}", r.log2_leaves),
            r.k,
            r.hashes,
            r.carried,
            r.bitmap_bits,
            ours,
            r.ours_ssz as f64 / k,
            r.rx_hashes,
            (r.rx_hashes * 32) as f64 / k,
            r.rx_serialized as f64 / k,
        );
    }
    eprintln!(
        "hashed: node hashes one verification of ours computes; rustreexo's computes \
         32 - log2(N) fewer (no levels above its root)"
    );
    eprintln!();
}

/// The cost of one node hash on each side, to put the verification times in proportion.
fn bench_node_hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("peers_node_hash");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    let (left, right) = (leaf(1), leaf(2));
    group.bench_function("sha3_256_65_bytes", |b| {
        b.iter(|| node_hash(black_box(&left), black_box(&right)));
    });
    let (left, right) = (BitcoinNodeHash::new(left.0), BitcoinNodeHash::new(right.0));
    group.bench_function("sha512_256_64_bytes", |b| {
        b.iter(|| BitcoinNodeHash::parent_hash(black_box(&left), black_box(&right)));
    });
    group.finish();
}

fn bench_peers(c: &mut Criterion) {
    let defaults = &TRANSFER_TREE;
    let log2s = if quick() {
        LOG2_LEAVES_QUICK
    } else {
        LOG2_LEAVES
    };
    let (cases, sizes): (Vec<Case>, Vec<Sizes>) =
        log2s.iter().flat_map(|&l| setup(l, defaults)).unzip();
    print_sizes(&sizes);

    for log2_leaves in log2s {
        // Plain digits: criterion would rewrite `^` in the directory name of its results.
        let mut group = c.benchmark_group(format!("peers_{}_leaves", 1u64 << log2_leaves));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for case in cases.iter().filter(|c| c.log2_leaves == *log2_leaves) {
            group.throughput(Throughput::Elements(case.k as u64));
            group.bench_with_input(
                BenchmarkId::new("multiproof_sha3_256", case.k),
                &case.ours,
                |b, ours| {
                    b.iter(|| {
                        let root = verify_ours(black_box(ours));
                        assert_eq!(root, Ok(ours.root));
                    });
                },
            );
            group.bench_with_input(
                BenchmarkId::new("rustreexo_sha512_256", case.k),
                &case.theirs,
                |b, theirs| {
                    b.iter(|| {
                        let valid = theirs
                            .stump
                            .verify(black_box(&theirs.proof), black_box(&theirs.del_hashes));
                        assert_eq!(valid, Ok(true));
                    });
                },
            );
        }
        group.finish();
    }
}

criterion_group!(benches, bench_node_hash, bench_peers);
criterion_main!(benches);
