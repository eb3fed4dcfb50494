//! The twelve Ed25519 edge-case vectors of "Taming the many EdDSAs", run through
//! `verifier::transfer::ed25519`.
//!
//! The verifier splits a blob's signatures into batches whose size depends on the thread count,
//! re-checking a failed batch one signature at a time. The verdict must therefore not depend on
//! how signatures are grouped: a batch must accept exactly when every one of its signatures passes
//! the single-signature check, and `first_invalid` must name the same signature whatever the
//! batching. These vectors are the inputs on which Ed25519 implementations are known to disagree
//! (small-order and mixed-order points, `s >= L`, non-canonical encodings of `R` and `A`), so they
//! are where batch and single checks would drift apart. The tests check that
//!
//! 1. a batch of one agrees with the single check on every vector;
//! 2. a vector mixed into a batch of valid signatures decides the batch exactly as it decides its
//!    single check, and `first_invalid` finds it exactly when it is rejected;
//! 3. the single verdict on every vector is the one ZIP-215 prescribes.

use ed25519_zebra::SigningKey;
use verifier::transfer::ed25519::{
    SIGNATURE_BATCH_SIZE, SignatureCheck, first_invalid, verify_batch, verify_single,
};

/// One edge-case vector, hex encoded, with its expected verdict under ZIP-215.
struct EdgeCase {
    /// What the vector exercises, from the condition table of the ed25519-speccheck README.
    condition: &'static str,
    message: &'static str,
    public_key: &'static str,
    signature: &'static str,
    /// The verdict of the "Zebra" row of the ed25519-speccheck results table.
    zip215_accepts: bool,
}

/// The twelve vectors of Chalkias, Garillot and Nikolaenko, "Taming the many EdDSAs" (SSR 2020,
/// <https://eprint.iacr.org/2020/1244>), as published in
/// <https://github.com/novifinancial/ed25519-speccheck> (`cases.txt`, generated together with
/// `cases.json` by the repository's `cargo run`; the same twelve triples also appear in an earlier
/// 15-vector `cases.json` of that repository), in the published order.
///
/// `zip215_accepts` is copied from the "Zebra" row of the "Results" table in that repository's
/// README (`V V V V V V X X X V V V`): ZIP-215 accepts small-order and mixed-order `A` and `R`
/// (0-5), rejects `s >= L` (6, 7), accepts non-canonical encodings of `R` and `A` but hashes them
/// as given, so of the pair 8/9 (non-canonical small `R`) only 9, built without reducing `R`
/// before hashing, passes, while both 10 and 11 (non-canonical small `A`, which the cofactored
/// equation makes irrelevant) pass.
const EDGE_CASES: [EdgeCase; 12] = [
    EdgeCase {
        condition: "0: S = 0, small-order A, small-order R",
        message: "8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6",
        public_key: "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        signature: "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a\
                    0000000000000000000000000000000000000000000000000000000000000000",
        zip215_accepts: true,
    },
    EdgeCase {
        condition: "1: 0 < S < L, small-order A, mixed-order R",
        message: "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        public_key: "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        signature: "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43\
                    a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
        zip215_accepts: true,
    },
    EdgeCase {
        condition: "2: 0 < S < L, mixed-order A, small-order R",
        message: "aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab",
        public_key: "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        signature: "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa\
                    8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e",
        zip215_accepts: true,
    },
    EdgeCase {
        condition: "3: 0 < S < L, mixed-order A, mixed-order R, passes cofactorless too",
        message: "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        public_key: "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        signature: "9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f\
                    87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009",
        zip215_accepts: true,
    },
    EdgeCase {
        condition: "4: 0 < S < L, mixed-order A, mixed-order R, passes cofactored only",
        message: "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        public_key: "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        signature: "160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed512\
                    5ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09",
        zip215_accepts: true,
    },
    EdgeCase {
        condition: "5: 0 < S < L, mixed-order A, L-order R, fails if 8h is pre-reduced",
        message: "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        public_key: "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        signature: "21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7\
                    e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405",
        zip215_accepts: true,
    },
    EdgeCase {
        condition: "6: S > L, L-order A, L-order R",
        message: "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        public_key: "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        signature: "e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e\
                    547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514",
        zip215_accepts: false,
    },
    EdgeCase {
        condition: "7: S >> L (high bit set), L-order A, L-order R",
        message: "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        public_key: "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        signature: "8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa1942\
                    7e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22",
        zip215_accepts: false,
    },
    EdgeCase {
        condition: "8: mixed-order A, non-canonical small R, reduced before hashing",
        message: "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        public_key: "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        signature: "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
                    03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f",
        zip215_accepts: false,
    },
    EdgeCase {
        condition: "9: mixed-order A, non-canonical small R, not reduced before hashing",
        message: "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        public_key: "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        signature: "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
                    ca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908",
        zip215_accepts: true,
    },
    EdgeCase {
        condition: "10: non-canonical small A, mixed-order R, reduced before hashing",
        message: "e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b",
        public_key: "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        signature: "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dc\
                    a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
        zip215_accepts: true,
    },
    EdgeCase {
        condition: "11: non-canonical small A, mixed-order R, not reduced before hashing",
        message: "39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f",
        public_key: "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        signature: "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dc\
                    a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
        zip215_accepts: true,
    },
];

/// Number of times each batch is checked: the batch verifier draws fresh random coefficients on
/// every call, so one lucky draw must not hide a disagreement.
const BATCH_REPEATS: usize = 8;

/// A signature with owned bytes, from which a [`SignatureCheck`] can be borrowed.
struct OwnedCheck {
    public_key: [u8; 32],
    signature: [u8; 64],
    message: Vec<u8>,
}

impl OwnedCheck {
    fn check(&self) -> SignatureCheck<'_> {
        SignatureCheck {
            public_key: &self.public_key,
            signature: &self.signature,
            message: &self.message,
        }
    }
}

fn decode_hex<const N: usize>(hex_string: &str) -> [u8; N] {
    hex::decode(hex_string)
        .expect("test vector is valid hex")
        .try_into()
        .unwrap_or_else(|bytes: Vec<u8>| panic!("expected {N} bytes, got {}", bytes.len()))
}

fn edge_case(case: &EdgeCase) -> OwnedCheck {
    OwnedCheck {
        public_key: decode_hex(case.public_key),
        signature: decode_hex(case.signature),
        message: hex::decode(case.message).expect("test vector is valid hex"),
    }
}

/// A valid signature by the key with secret `[seed; 32]`, over a message naming the seed.
fn valid_signature(seed: u8) -> OwnedCheck {
    let signing_key = SigningKey::from([seed; 32]);
    let message = format!("valid message number {seed}").into_bytes();
    OwnedCheck {
        public_key: signing_key.verification_key().into(),
        signature: signing_key.sign(&message).to_bytes(),
        message,
    }
}

/// `count` distinct valid signatures, checked to pass singly so that they cannot mask anything.
fn valid_signatures(count: usize) -> Vec<OwnedCheck> {
    let valid: Vec<OwnedCheck> = (0..count)
        .map(|seed| valid_signature(u8::try_from(seed).expect("at most 256 seeds")))
        .collect();
    for (index, signature) in valid.iter().enumerate() {
        assert!(
            verify_single(&signature.check()),
            "generated signature {index} does not verify"
        );
    }
    valid
}

/// `first_invalid`'s answer if the only signature that can fail is the one at `position`.
fn expected_first_invalid(edge: &SignatureCheck<'_>, position: usize) -> Option<usize> {
    (!verify_single(edge)).then_some(position)
}

#[test]
fn batch_of_one_agrees_with_single() {
    for case in &EDGE_CASES {
        let owned = edge_case(case);
        let check = owned.check();
        let single = verify_single(&check);
        for _ in 0..BATCH_REPEATS {
            assert_eq!(
                verify_batch(&[check]),
                single,
                "vector {}: batch of one disagrees with single check",
                case.condition
            );
        }
        assert_eq!(
            first_invalid(&[check]),
            expected_first_invalid(&check, 0),
            "vector {}: first_invalid disagrees with single check",
            case.condition
        );
    }
}

#[test]
fn edge_case_among_valid_signatures_decides_the_batch() {
    const VALID_COUNT: usize = 7;
    let valid = valid_signatures(VALID_COUNT);
    for case in &EDGE_CASES {
        let owned = edge_case(case);
        let edge = owned.check();
        for position in [0, VALID_COUNT / 2, VALID_COUNT] {
            let mut checks: Vec<SignatureCheck<'_>> = valid.iter().map(OwnedCheck::check).collect();
            checks.insert(position, edge);
            let all_singles_valid = checks.iter().all(verify_single);
            for _ in 0..BATCH_REPEATS {
                assert_eq!(
                    verify_batch(&checks),
                    all_singles_valid,
                    "vector {} at position {position}: batch disagrees with single checks",
                    case.condition
                );
            }
            assert_eq!(
                first_invalid(&checks),
                expected_first_invalid(&edge, position),
                "vector {} at position {position}: wrong first invalid signature",
                case.condition
            );
        }
    }
}

#[test]
fn edge_case_across_batch_boundaries_is_found() {
    // Long enough that `first_invalid` splits it into several batches; the edge case goes at the
    // start, the end, and on either side of the first batch boundary.
    let valid_count = 2 * SIGNATURE_BATCH_SIZE;
    let valid = valid_signatures(valid_count);
    let positions = [
        0,
        SIGNATURE_BATCH_SIZE - 1,
        SIGNATURE_BATCH_SIZE,
        valid_count,
    ];
    for case in &EDGE_CASES {
        let owned = edge_case(case);
        let edge = owned.check();
        for position in positions {
            let mut checks: Vec<SignatureCheck<'_>> = valid.iter().map(OwnedCheck::check).collect();
            checks.insert(position, edge);
            assert_eq!(
                first_invalid(&checks),
                expected_first_invalid(&edge, position),
                "vector {} at position {position}: wrong first invalid signature",
                case.condition
            );
        }
    }
}

#[test]
fn all_edge_cases_in_one_batch_agree_with_singles() {
    let owned: Vec<OwnedCheck> = EDGE_CASES.iter().map(edge_case).collect();
    let checks: Vec<SignatureCheck<'_>> = owned.iter().map(OwnedCheck::check).collect();
    let accepted: Vec<SignatureCheck<'_>> = checks
        .iter()
        .copied()
        .filter(|check| verify_single(check))
        .collect();
    assert!(
        accepted.len() < checks.len(),
        "some vector must be rejected for this test to mean anything"
    );
    for _ in 0..BATCH_REPEATS {
        assert!(
            !verify_batch(&checks),
            "a batch holding rejected vectors passed"
        );
        assert!(
            verify_batch(&accepted),
            "the singly accepted vectors fail as one batch"
        );
    }
    assert_eq!(
        first_invalid(&checks),
        checks.iter().position(|check| !verify_single(check))
    );
    assert_eq!(first_invalid(&accepted), None);
}

#[test]
fn single_verdicts_match_zip215() {
    let mismatches: Vec<String> = EDGE_CASES
        .iter()
        .filter_map(|case| {
            let owned = edge_case(case);
            let verdict = verify_single(&owned.check());
            (verdict != case.zip215_accepts).then(|| {
                format!(
                    "vector {}: accepted = {verdict}, ZIP-215 expects {}",
                    case.condition, case.zip215_accepts
                )
            })
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "verdicts differ from ZIP-215:\n{}",
        mismatches.join("\n")
    );
}
