//! One small proof that a span's `zk-transfer` blobs are all valid: their Groth16 proofs
//! aggregated with SnarkPack (Gailly, Maller, Nitulescu 2021: TIPP and MIPP, O(log n) size and
//! verification), and their statements *chained*, so that the verifier reads only the span's
//! first pre-state root and last post-state root, never the n − 1 roots in between.
//!
//! The statement of blob i is its five public inputs `(pre_i, post_i, c_i, t_i, k)`
//! (`docs/ZK.md`). The aggregate proves, for the verifier's `(n, pre, post, k)`, that there are
//! valid Groth16 proofs for statements with `pre_0 = pre`, `pre_{i+1} = post_i`,
//! `post_{n−1} = post`, and reports `Σ t_i` and a commitment to `(c_i)`. The argument
//! (`docs/ZK.md`, "Aggregated spans", has it in full):
//!
//! 1. The prover commits to the proofs' A, B, C (pair commitments under the SRS keys v, w)
//!    and, with KZG, to the polynomials `P(X) = Σ post_i·X^i`, `K(X) = Σ c_i·X^i`,
//!    `T(X) = Σ t_i·X^i`. Challenge r.
//! 2. `Σ r^i·e(A_i, B_i) = e(α,β)^S · e(V, γ) · e(Σ r^i·C_i, δ)` with `S = Σ_{i<n} r^i` and
//!    `V = Σ r^i·IC(x_i)`, whose coefficients the verifier computes from openings at r:
//!    `Σ r^i·pre_i = pre + r·(P(r) − r^{n−1}·post)` (the chain), `Σ r^i·post_i = P(r)`,
//!    `Σ r^i·c_i = K(r)`, `Σ r^i·t_i = T(r)`, `Σ r^i·k = k·S`. `T(1)` is the transaction count.
//! 3. TIPP proves the pairing product `Z_AB = Π e(A_i, B_i)^{r^i}` and MIPP the sum
//!    `Z_C = Σ r^i·C_i` against the commitments, in `log n` GIPA rounds; the final commitment
//!    keys are checked by KZG openings at a last challenge z.
//!
//! Every check ends in one multi-pairing and one GT multi-exponentiation (the equations
//! combined with powers of a last challenge ρ); when it fails, the groups are checked apart to
//! name the one that fails.

use ark_bls12_381::{Bls12_381, Fq12, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::short_weierstrass::{Affine, SWCurveConfig};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{Field, One};
use ark_groth16::VerifyingKey;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use rayon::prelude::*;
use sha3::{Digest, Sha3_256};
use thiserror::Error;
use witness_format::Hash32;

use crate::zk_transfer::groth16::{PUBLIC_INPUTS, verifying_key_hash};

pub mod gt;
pub mod transcript;

use gt::{GT_BYTES, compress, decompress_unchecked, is_in_gt, multi_exp};
use transcript::Transcript;

/// The most GIPA rounds: aggregates of up to 2^16 proofs.
pub const MAX_ROUNDS: usize = 16;
/// The most proofs in one aggregate.
pub const MAX_PROOFS: u32 = 1 << MAX_ROUNDS;

/// Domain of the aggregate's transcript.
const DOMAIN: &[u8] = b"stateless/zk/snarkpack-chained/v1";
/// Domain of an SRS key's hash.
const SRS_DOMAIN: &[u8] = b"stateless/zk/snarkpack-srs/v1";

const G1_BYTES: usize = 48;
const G2_BYTES: usize = 96;
const FR_BYTES: usize = 32;

/// Bytes of an encoded [`SrsKey`].
pub const SRS_KEY_BYTES: usize = 4 + 3 * G1_BYTES + 3 * G2_BYTES;

/// Why an aggregate (or its key) is rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AggregateError {
    /// The verifying key does not expect the blob circuit's public inputs.
    #[error("verifying key expects {found} public inputs, the aggregate needs {PUBLIC_INPUTS}")]
    PublicInputCount {
        /// What the key expects.
        found: usize,
    },
    /// An aggregate of no proof.
    #[error("an aggregate holds at least one proof")]
    NoProofs,
    /// More proofs than the SRS (or the format) allows.
    #[error("{proofs} proofs exceed the {max} the SRS allows")]
    TooManyProofs {
        /// Proofs claimed.
        proofs: u64,
        /// The limit.
        max: u64,
    },
    /// The bytes are not an aggregate of that many proofs (wrong length).
    #[error("an aggregate of {rounds} rounds is {expected} bytes, found {found}")]
    Length {
        /// Rounds the proof count implies.
        rounds: usize,
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// A group element or scalar does not decode: not canonical, not on the curve, or not in
    /// its prime-order subgroup (GT elements included).
    #[error("{what} does not decode to a valid element")]
    Undecodable {
        /// Which element.
        what: &'static str,
    },
    /// The SRS key bytes do not decode or describe no usable key.
    #[error("SRS key: {0}")]
    SrsKey(&'static str),
    /// A Fiat-Shamir challenge came out zero (probability 2^-255).
    #[error("challenge {0} is zero")]
    ZeroChallenge(&'static str),
    /// The aggregate does not verify; the group of equations that fails is named.
    #[error("aggregate rejected: {0}")]
    Rejected(AggregateCheck),
}

/// The groups of equations an aggregate is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateCheck {
    /// The GIPA folds: the final A, B, C and keys against the commitments, `Z_AB`, `Z_C`.
    Commitments,
    /// The aggregated Groth16 equation over the chained statements.
    Groth16,
    /// The KZG openings of the final commitment keys.
    KeyOpenings,
    /// The KZG openings of the instance polynomials (at r, and the count at 1).
    InstanceOpenings,
}

impl std::fmt::Display for AggregateCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Commitments => "the inner-product arguments do not open the commitments",
            Self::Groth16 => "the aggregated Groth16 equation fails for the chained statements",
            Self::KeyOpenings => "the final commitment keys do not open",
            Self::InstanceOpenings => "the instance polynomials do not open",
        })
    }
}

/// The verifier's part of an aggregation SRS: the generators and the first power of each
/// secret, in both groups, and the most proofs the whole SRS serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrsKey {
    /// The most proofs an aggregate under this SRS may hold (a power of two).
    pub max_proofs: u32,
    /// G1 generator.
    pub g: G1Affine,
    /// G2 generator.
    pub h: G2Affine,
    /// `a·g`.
    pub g_a: G1Affine,
    /// `b·g`.
    pub g_b: G1Affine,
    /// `a·h`.
    pub h_a: G2Affine,
    /// `b·h`.
    pub h_b: G2Affine,
}

impl SrsKey {
    /// The canonical encoding: `max_proofs` (u32 LE), then g, g_a, g_b (G1) and h, h_a, h_b
    /// (G2), compressed.
    pub fn encode(&self) -> [u8; SRS_KEY_BYTES] {
        let mut out = Writer::default();
        out.bytes(&self.max_proofs.to_le_bytes());
        for p in [self.g, self.g_a, self.g_b] {
            out.g1(&p);
        }
        for p in [self.h, self.h_a, self.h_b] {
            out.g2(&p);
        }
        let mut bytes = [0u8; SRS_KEY_BYTES];
        let written = out.0;
        if let Some(target) = bytes.get_mut(..written.len()) {
            target.copy_from_slice(written.get(..target.len()).unwrap_or_default());
        }
        bytes
    }

    /// Decodes a key: points validated, none the identity, `max_proofs` a power of two of at
    /// most [`MAX_PROOFS`].
    pub fn decode(bytes: &[u8]) -> Result<Self, AggregateError> {
        let mut r = Reader::new(bytes);
        let undecodable = |_| AggregateError::SrsKey("a point does not decode");
        let max_proofs = r
            .array::<4>("SRS size")
            .map(u32::from_le_bytes)
            .map_err(|_| AggregateError::SrsKey("too short"))?;
        let key = Self {
            max_proofs,
            g: r.g1("g").map_err(undecodable)?,
            g_a: r.g1("g_a").map_err(undecodable)?,
            g_b: r.g1("g_b").map_err(undecodable)?,
            h: r.g2("h").map_err(undecodable)?,
            h_a: r.g2("h_a").map_err(undecodable)?,
            h_b: r.g2("h_b").map_err(undecodable)?,
        };
        if !r.is_empty() {
            return Err(AggregateError::SrsKey("trailing bytes"));
        }
        if !max_proofs.is_power_of_two() || max_proofs > MAX_PROOFS {
            return Err(AggregateError::SrsKey(
                "size is not a power of two up to 2^16",
            ));
        }
        if [key.g, key.g_a, key.g_b].iter().any(|p| p.is_zero())
            || [key.h, key.h_a, key.h_b].iter().any(|p| p.is_zero())
        {
            return Err(AggregateError::SrsKey("a point is the identity"));
        }
        Ok(key)
    }

    /// The hash a genesis pins: SHA3-256 of a domain tag and the encoding.
    pub fn hash(&self) -> Hash32 {
        let mut hasher = Sha3_256::new();
        hasher.update(SRS_DOMAIN);
        hasher.update(self.encode());
        Hash32::from(<[u8; 32]>::from(hasher.finalize()))
    }
}

/// What the verifier knows of a span: how many blobs, its two state roots, the chain's
/// reserved bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Statement {
    /// Blobs (proofs) in the span, at least one.
    pub proofs: u32,
    /// The first blob's pre-state root.
    pub pre_state_root: Fr,
    /// The last blob's post-state root.
    pub post_state_root: Fr,
    /// The reserved-bits input every blob of the chain has.
    pub reserved_bits: u8,
}

/// What a valid aggregate establishes besides the chain of roots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Transactions in the span's blobs (`T(1)`).
    pub transactions: u64,
    /// The KZG commitment to the blobs' transaction commitments, `K(a)·g`, compressed.
    pub commitments: [u8; G1_BYTES],
}

/// The prover's first messages: commitments to the proofs and to the instance polynomials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commitments {
    /// `(T, U)` of the pairs `(A, B)` under the keys `(v₁, w₁)` and `(v₂, w₂)`.
    pub ab: [Fq12; 2],
    /// `(T, U)` of C under `v₁` and `v₂`.
    pub c: [Fq12; 2],
    /// KZG commitments to `P` (post roots), `K` (transaction commitments), `T` (counts).
    pub instances: [G1Affine; 3],
}

/// The claimed values, after r.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// `Π e(A_i, B_i)^{r^i}`.
    pub z_ab: Fq12,
    /// `Σ r^i·C_i`.
    pub z_c: G1Affine,
    /// `P(r)`, `K(r)`, `T(r)`.
    pub evaluations: [Fr; 3],
    /// `T(1)`: the transaction count.
    pub transactions: u64,
}

/// One GIPA round's cross terms: left ones are raised to x, right ones to x⁻¹.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    /// `(T, U, Z)` of `(A_R, B_L)` against `(v_L, w_R)`, and `Π e(A_R, B_L)`.
    pub ab_left: [Fq12; 3],
    /// `(T, U, Z)` of `(A_L, B_R)` against `(v_R, w_L)`, and `Π e(A_L, B_R)`.
    pub ab_right: [Fq12; 3],
    /// `(T, U)` of `C_R` against `v_L`.
    pub c_left: [Fq12; 2],
    /// `(T, U)` of `C_L` against `v_R`.
    pub c_right: [Fq12; 2],
    /// `σ·ΣC_R` and `σ·ΣC_L` (σ the folded all-ones vector's value).
    pub z_c: [G1Affine; 2],
}

/// The vectors and keys folded to one element each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finals {
    /// A, B, C.
    pub a: G1Affine,
    /// B.
    pub b: G2Affine,
    /// C.
    pub c: G1Affine,
    /// `v₁`, `v₂`.
    pub v: [G2Affine; 2],
    /// `w₁`, `w₂`.
    pub w: [G1Affine; 2],
}

/// The KZG opening proofs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Openings {
    /// Of `v₁`, `v₂` at z.
    pub v: [G2Affine; 2],
    /// Of `w₁`, `w₂` at z.
    pub w: [G1Affine; 2],
    /// Of `P + η·K + η²·T` at r.
    pub instances: G1Affine,
    /// Of `T` at 1.
    pub transactions: G1Affine,
}

/// An aggregate proof, in the order its messages are sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aggregate {
    /// First messages.
    pub commitments: Commitments,
    /// Claims after r.
    pub claims: Claims,
    /// GIPA rounds, `⌈log₂ n⌉` of them.
    pub rounds: Vec<Round>,
    /// Folded values.
    pub finals: Finals,
    /// Openings.
    pub openings: Openings,
}

/// The challenges of an aggregate, in transcript order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenges {
    /// After the commitments.
    pub r: Fr,
    /// After the claims: combines the instance openings.
    pub eta: Fr,
    /// One per round.
    pub x: Vec<Fr>,
    /// After the finals: the KZG point of the keys.
    pub z: Fr,
    /// After the openings: combines every equation.
    pub rho: Fr,
}

/// Rounds for `proofs` proofs: `⌈log₂ proofs⌉`.
pub fn rounds_for(proofs: u32) -> usize {
    proofs.next_power_of_two().trailing_zeros() as usize
}

/// Bytes of an encoded aggregate of `rounds` rounds.
pub const fn aggregate_bytes(rounds: usize) -> usize {
    const FIXED: usize = 4 * GT_BYTES
        + 3 * G1_BYTES
        + GT_BYTES
        + G1_BYTES
        + 3 * FR_BYTES
        + 8
        + (4 * G1_BYTES + 3 * G2_BYTES)
        + (2 * G2_BYTES + 4 * G1_BYTES);
    const ROUND: usize = 10 * GT_BYTES + 2 * G1_BYTES;
    // At most MAX_ROUNDS rounds are ever asked for: no overflow.
    FIXED.saturating_add(rounds.saturating_mul(ROUND))
}

impl Commitments {
    fn write(&self, out: &mut Writer) {
        self.ab.iter().chain(&self.c).for_each(|g| out.gt(g));
        self.instances.iter().for_each(|p| out.g1(p));
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, AggregateError> {
        Ok(Self {
            ab: [r.gt("commitment T_AB")?, r.gt("commitment U_AB")?],
            c: [r.gt("commitment T_C")?, r.gt("commitment U_C")?],
            instances: [
                r.g1("post-root commitment")?,
                r.g1("transaction-commitment commitment")?,
                r.g1("count commitment")?,
            ],
        })
    }
}

impl Claims {
    fn write(&self, out: &mut Writer) {
        out.gt(&self.z_ab);
        out.g1(&self.z_c);
        self.evaluations.iter().for_each(|e| out.fr(e));
        out.bytes(&self.transactions.to_le_bytes());
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, AggregateError> {
        Ok(Self {
            z_ab: r.gt("Z_AB")?,
            z_c: r.g1("Z_C")?,
            evaluations: [r.fr("P(r)")?, r.fr("K(r)")?, r.fr("T(r)")?],
            transactions: u64::from_le_bytes(r.array::<8>("transaction count")?),
        })
    }
}

impl Round {
    fn write(&self, out: &mut Writer) {
        self.ab_left
            .iter()
            .chain(&self.ab_right)
            .chain(&self.c_left)
            .chain(&self.c_right)
            .for_each(|g| out.gt(g));
        self.z_c.iter().for_each(|p| out.g1(p));
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, AggregateError> {
        Ok(Self {
            ab_left: [r.gt("round T_L")?, r.gt("round U_L")?, r.gt("round Z_L")?],
            ab_right: [r.gt("round T_R")?, r.gt("round U_R")?, r.gt("round Z_R")?],
            c_left: [r.gt("round T_C,L")?, r.gt("round U_C,L")?],
            c_right: [r.gt("round T_C,R")?, r.gt("round U_C,R")?],
            z_c: [r.g1("round Z_C,L")?, r.g1("round Z_C,R")?],
        })
    }
}

impl Finals {
    fn write(&self, out: &mut Writer) {
        out.g1(&self.a);
        out.g2(&self.b);
        out.g1(&self.c);
        self.v.iter().for_each(|p| out.g2(p));
        self.w.iter().for_each(|p| out.g1(p));
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, AggregateError> {
        Ok(Self {
            a: r.g1("final A")?,
            b: r.g2("final B")?,
            c: r.g1("final C")?,
            v: [r.g2("final v1")?, r.g2("final v2")?],
            w: [r.g1("final w1")?, r.g1("final w2")?],
        })
    }
}

impl Openings {
    fn write(&self, out: &mut Writer) {
        self.v.iter().for_each(|p| out.g2(p));
        self.w.iter().for_each(|p| out.g1(p));
        out.g1(&self.instances);
        out.g1(&self.transactions);
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, AggregateError> {
        Ok(Self {
            v: [r.g2("opening of v1")?, r.g2("opening of v2")?],
            w: [r.g1("opening of w1")?, r.g1("opening of w2")?],
            instances: r.g1("opening of the instances")?,
            transactions: r.g1("opening of the count")?,
        })
    }
}

impl Aggregate {
    /// The canonical encoding: the parts in order, every element compressed.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Writer(Vec::with_capacity(aggregate_bytes(self.rounds.len())));
        self.commitments.write(&mut out);
        self.claims.write(&mut out);
        self.rounds.iter().for_each(|round| round.write(&mut out));
        self.finals.write(&mut out);
        self.openings.write(&mut out);
        out.0
    }

    /// Decodes an aggregate of `proofs` proofs: the exact length first, then every element
    /// validated (GT elements checked for membership in GT).
    pub fn decode(bytes: &[u8], proofs: u32) -> Result<Self, AggregateError> {
        let rounds = rounds_for(proofs);
        let expected = aggregate_bytes(rounds);
        if bytes.len() != expected {
            return Err(AggregateError::Length {
                rounds,
                expected,
                found: bytes.len(),
            });
        }
        let mut r = Reader::new(bytes);
        let commitments = Commitments::read(&mut r)?;
        let claims = Claims::read(&mut r)?;
        let rounds = (0..rounds)
            .map(|_| Round::read(&mut r))
            .collect::<Result<Vec<_>, _>>()?;
        let aggregate = Self {
            commitments,
            claims,
            rounds,
            finals: Finals::read(&mut r)?,
            openings: Openings::read(&mut r)?,
        };
        // The subgroup checks, in parallel; the first failing element in encoding order is
        // named.
        let failed = r
            .subgroup_checks
            .par_iter()
            .position_first(|(_, element)| !element.in_subgroup());
        match failed.and_then(|index| r.subgroup_checks.get(index)) {
            Some((what, _)) => Err(AggregateError::Undecodable { what }),
            None => Ok(aggregate),
        }
    }
}

/// The transcript after the public statement: the domain, the verifying key's and SRS key's
/// hashes, the proof count, both roots and the reserved bits.
pub fn statement_transcript(vk_hash: &Hash32, srs: &SrsKey, statement: &Statement) -> Transcript {
    let mut t = Transcript::new(DOMAIN);
    t.absorb(b"verifying key", vk_hash.as_ref());
    t.absorb(b"srs key", srs.hash().as_ref());
    t.absorb(b"proofs", &statement.proofs.to_le_bytes());
    let mut roots = Writer::default();
    roots.fr(&statement.pre_state_root);
    roots.fr(&statement.post_state_root);
    t.absorb(b"roots", &roots.0);
    t.absorb(b"reserved bits", &[statement.reserved_bits]);
    t
}

/// Absorbs one part of an aggregate (its canonical bytes) under `label`.
pub fn absorb_part(t: &mut Transcript, label: &[u8], write: impl FnOnce(&mut Writer)) {
    let mut out = Writer::default();
    write(&mut out);
    t.absorb(label, &out.0);
}

/// Absorbs a round's messages and draws its challenge: the prover and the verifier call
/// this same sequence ([`challenges`]).
pub fn round_challenge(t: &mut Transcript, round: &Round) -> Result<Fr, AggregateError> {
    absorb_part(t, b"round", |out| round.write(out));
    t.challenge(b"x").ok_or(AggregateError::ZeroChallenge("x"))
}

/// Absorbs the commitments and draws r.
pub fn r_challenge(t: &mut Transcript, c: &Commitments) -> Result<Fr, AggregateError> {
    absorb_part(t, b"commitments", |out| c.write(out));
    t.challenge(b"r").ok_or(AggregateError::ZeroChallenge("r"))
}

/// Absorbs the claims and draws η.
pub fn eta_challenge(t: &mut Transcript, c: &Claims) -> Result<Fr, AggregateError> {
    absorb_part(t, b"claims", |out| c.write(out));
    t.challenge(b"eta")
        .ok_or(AggregateError::ZeroChallenge("eta"))
}

/// Absorbs the finals and draws z.
pub fn z_challenge(t: &mut Transcript, f: &Finals) -> Result<Fr, AggregateError> {
    absorb_part(t, b"finals", |out| f.write(out));
    t.challenge(b"z").ok_or(AggregateError::ZeroChallenge("z"))
}

/// Absorbs the openings and draws ρ.
pub fn rho_challenge(t: &mut Transcript, o: &Openings) -> Result<Fr, AggregateError> {
    absorb_part(t, b"openings", |out| o.write(out));
    t.challenge(b"rho")
        .ok_or(AggregateError::ZeroChallenge("rho"))
}

/// Every challenge of an aggregate, each after the messages it must follow.
pub fn challenges(
    vk_hash: &Hash32,
    srs: &SrsKey,
    statement: &Statement,
    aggregate: &Aggregate,
) -> Result<Challenges, AggregateError> {
    let mut t = statement_transcript(vk_hash, srs, statement);
    let r = r_challenge(&mut t, &aggregate.commitments)?;
    let eta = eta_challenge(&mut t, &aggregate.claims)?;
    let x = aggregate
        .rounds
        .iter()
        .map(|round| round_challenge(&mut t, round))
        .collect::<Result<Vec<_>, _>>()?;
    let z = z_challenge(&mut t, &aggregate.finals)?;
    let rho = rho_challenge(&mut t, &aggregate.openings)?;
    Ok(Challenges { r, eta, x, z, rho })
}

/// Verifies an aggregate of `statement.proofs` proofs under `vk` and the SRS key.
pub fn verify_aggregate(
    vk: &VerifyingKey<Bls12_381>,
    srs: &SrsKey,
    statement: &Statement,
    bytes: &[u8],
) -> Result<Outcome, AggregateError> {
    check_shape(vk, srs, statement)?;
    let aggregate = Aggregate::decode(bytes, statement.proofs)?;
    let challenges = challenges(&verifying_key_hash(vk), srs, statement, &aggregate)?;
    check_with_challenges(vk, srs, statement, &aggregate, &challenges)?;
    let mut commitments = [0u8; G1_BYTES];
    let _ = aggregate.commitments.instances[1].serialize_compressed(commitments.as_mut_slice());
    Ok(Outcome {
        transactions: aggregate.claims.transactions,
        commitments,
    })
}

/// The checks that need no proof bytes: the key's input count, and `1 ≤ proofs ≤` the SRS's.
pub fn check_shape(
    vk: &VerifyingKey<Bls12_381>,
    srs: &SrsKey,
    statement: &Statement,
) -> Result<(), AggregateError> {
    if vk.gamma_abc_g1.len() != PUBLIC_INPUTS.saturating_add(1) {
        return Err(AggregateError::PublicInputCount {
            found: vk.gamma_abc_g1.len().saturating_sub(1),
        });
    }
    if statement.proofs == 0 {
        return Err(AggregateError::NoProofs);
    }
    let max = srs.max_proofs.min(MAX_PROOFS);
    if statement.proofs > max {
        return Err(AggregateError::TooManyProofs {
            proofs: statement.proofs.into(),
            max: max.into(),
        });
    }
    Ok(())
}

/// One equation `Π gt_i^{e_i} · Π e(P_j, Q_j) = 1`.
#[derive(Default)]
struct Equation {
    gt: Vec<(Fq12, Fr)>,
    pairs: Vec<(G1Projective, G2Affine)>,
}

impl Equation {
    /// A GIPA-folded GT value: `base · Π left_j^{x_j} · right_j^{x_j⁻¹}`.
    fn folded(
        base: Fq12,
        steps: impl Iterator<Item = (Fq12, Fq12)>,
        x: &[Fr],
        x_inv: &[Fr],
    ) -> Self {
        let mut gt = vec![(base, Fr::one())];
        for ((left, right), (x, x_inv)) in steps.zip(x.iter().zip(x_inv)) {
            gt.push((left, *x));
            gt.push((right, *x_inv));
        }
        Self {
            gt,
            pairs: Vec::new(),
        }
    }

    fn pair(mut self, p: G1Projective, q: G2Affine) -> Self {
        self.pairs.push((p, q));
        self
    }

    /// Whether the equations hold, combined with the weights `ρ^1, ρ^2, …`.
    fn hold(equations: &[&Equation], rho: Fr) -> bool {
        let mut gt = Vec::new();
        let mut pairs: Vec<(G1Projective, G2Affine)> = Vec::new();
        let mut weight = Fr::one();
        for eq in equations {
            weight *= rho;
            gt.extend(eq.gt.iter().map(|(g, e)| (*g, *e * weight)));
            for (p, q) in &eq.pairs {
                let scaled = *p * weight;
                match pairs.iter_mut().find(|(_, known)| known == q) {
                    Some((sum, _)) => *sum += scaled,
                    None => pairs.push((scaled, *q)),
                }
            }
        }
        let (g1, g2): (Vec<G1Affine>, Vec<G2Affine>) =
            pairs.iter().map(|(p, q)| (p.into_affine(), *q)).unzip();
        let (gt_product, pairing) =
            rayon::join(|| multi_exp(&gt), || Bls12_381::multi_pairing(g1, g2).0);
        gt_product * pairing == Fq12::one()
    }
}

/// The algebraic checks of an aggregate under given challenges (decoding done).
pub fn check_with_challenges(
    vk: &VerifyingKey<Bls12_381>,
    srs: &SrsKey,
    statement: &Statement,
    aggregate: &Aggregate,
    ch: &Challenges,
) -> Result<(), AggregateError> {
    let Aggregate {
        commitments,
        claims,
        rounds,
        finals,
        openings,
    } = aggregate;
    let [ic0, ic_pre, ic_post, ic_com, ic_count, ic_reserved] = vk.gamma_abc_g1.as_slice() else {
        return Err(AggregateError::PublicInputCount {
            found: vk.gamma_abc_g1.len().saturating_sub(1),
        });
    };
    let n = u64::from(statement.proofs);
    let x = &ch.x;
    let mut x_inv = x.clone();
    ark_ff::batch_inversion(&mut x_inv);
    let r_inv = ch.r.inverse().ok_or(AggregateError::ZeroChallenge("r"))?;
    let g = G1Projective::from(srs.g);

    // MIPP: Z_C folded equals σ·C_f, σ = Π (1 + x_j⁻¹).
    let sigma: Fr = x_inv.iter().map(|xi| Fr::one() + xi).product();
    let mut bases = vec![claims.z_c];
    let mut scalars = vec![Fr::one()];
    for (round, (xj, xj_inv)) in rounds.iter().zip(x.iter().zip(&x_inv)) {
        bases.extend(round.z_c);
        scalars.extend([*xj, *xj_inv]);
    }
    let folded_z_c = G1Projective::msm(&bases, &scalars).unwrap_or_default();
    let mipp_holds = folded_z_c == finals.c * sigma;

    // The key polynomials at z: f_v(X) = Π (1 + x_j⁻¹·(X/r)^{2^(m−1−j)}),
    // F_w(X) = X^N · Π (1 + x_j·X^{2^(m−1−j)}).
    let (mut f_v, mut f_w) = (Fr::one(), Fr::one());
    let (mut z_over_r, mut z_pow) = (ch.z * r_inv, ch.z);
    for (xj, xj_inv) in x.iter().zip(&x_inv).rev() {
        f_v *= Fr::one() + *xj_inv * z_over_r;
        f_w *= Fr::one() + *xj * z_pow;
        z_over_r.square_in_place();
        z_pow.square_in_place();
    }
    // After the loop z_pow = z^N.
    let f_w = f_w * z_pow;

    // The chained statement: S = Σ_{i<n} r^i and the coefficients of V.
    let r_n = ch.r.pow([n]);
    let s = if ch.r.is_one() {
        Fr::from(n)
    } else {
        (r_n - Fr::one()) * (ch.r - Fr::one()).inverse().unwrap_or_default()
    };
    let [y_post, y_com, y_count] = claims.evaluations;
    let r_last = ch.r.pow([n.saturating_sub(1)]);
    let pre_sum = statement.pre_state_root + ch.r * (y_post - r_last * statement.post_state_root);
    let v = G1Projective::msm(
        &[*ic0, *ic_pre, *ic_post, *ic_com, *ic_count, *ic_reserved],
        &[
            s,
            pre_sum,
            y_post,
            y_com,
            y_count,
            s * Fr::from(statement.reserved_bits),
        ],
    )
    .unwrap_or_default();
    let [com_post, com_com, com_count] = commitments.instances;
    let instance_commitment = com_post + com_com * ch.eta + com_count * ch.eta.square();
    let instance_value = y_post + ch.eta * y_com + ch.eta.square() * y_count;
    let transactions = Fr::from(claims.transactions);

    let (a, b, c) = (
        G1Projective::from(finals.a),
        finals.b,
        G1Projective::from(finals.c),
    );
    let [v1, v2] = finals.v;
    let [w1, w2] = finals.w.map(G1Projective::from);
    let ab =
        |k: fn(&[Fq12; 3]) -> Fq12| rounds.iter().map(move |r| (k(&r.ab_left), k(&r.ab_right)));
    let cc = |k: fn(&[Fq12; 2]) -> Fq12| rounds.iter().map(move |r| (k(&r.c_left), k(&r.c_right)));
    let [t_ab, u_ab] = commitments.ab;
    let [t_c, u_c] = commitments.c;
    let gipa = [
        Equation::folded(t_ab, ab(|[t, _, _]| *t), x, &x_inv)
            .pair(-a, v1)
            .pair(-w1, b),
        Equation::folded(u_ab, ab(|[_, u, _]| *u), x, &x_inv)
            .pair(-a, v2)
            .pair(-w2, b),
        Equation::folded(claims.z_ab, ab(|[_, _, z]| *z), x, &x_inv).pair(-a, b),
        Equation::folded(t_c, cc(|[t, _]| *t), x, &x_inv).pair(-c, v1),
        Equation::folded(u_c, cc(|[_, u]| *u), x, &x_inv).pair(-c, v2),
    ];
    let alpha_beta = Bls12_381::pairing(vk.alpha_g1, vk.beta_g2).0;
    let groth16 = Equation {
        gt: vec![(claims.z_ab, Fr::one()), (alpha_beta, -s)],
        pairs: vec![
            (-v, vk.gamma_g2),
            (-G1Projective::from(claims.z_c), vk.delta_g2),
        ],
    };
    let h = srs.h;
    let keys = [
        Equation::default()
            .pair(g, v1)
            .pair(-(g * f_v), h)
            .pair(-(G1Projective::from(srs.g_a) - g * ch.z), openings.v[0]),
        Equation::default()
            .pair(g, v2)
            .pair(-(g * f_v), h)
            .pair(-(G1Projective::from(srs.g_b) - g * ch.z), openings.v[1]),
        Equation::default()
            .pair(w1 - g * f_w + openings.w[0] * ch.z, h)
            .pair(-G1Projective::from(openings.w[0]), srs.h_a),
        Equation::default()
            .pair(w2 - g * f_w + openings.w[1] * ch.z, h)
            .pair(-G1Projective::from(openings.w[1]), srs.h_b),
    ];
    let instances = [
        Equation::default()
            .pair(
                instance_commitment - g * instance_value + openings.instances * ch.r,
                h,
            )
            .pair(-G1Projective::from(openings.instances), srs.h_a),
        Equation::default()
            .pair(com_count - g * transactions + openings.transactions, h)
            .pair(-G1Projective::from(openings.transactions), srs.h_a),
    ];

    let all: Vec<&Equation> = gipa
        .iter()
        .chain([&groth16])
        .chain(&keys)
        .chain(&instances)
        .collect();
    if mipp_holds && Equation::hold(&all, ch.rho) {
        return Ok(());
    }
    // Name the failing group (only on rejection, so its cost does not matter).
    let groups: [(AggregateCheck, Vec<&Equation>); 4] = [
        (AggregateCheck::Commitments, gipa.iter().collect()),
        (AggregateCheck::Groth16, vec![&groth16]),
        (AggregateCheck::KeyOpenings, keys.iter().collect()),
        (AggregateCheck::InstanceOpenings, instances.iter().collect()),
    ];
    if !mipp_holds {
        return Err(AggregateError::Rejected(AggregateCheck::Commitments));
    }
    for (check, equations) in groups {
        if !Equation::hold(&equations, ch.rho) {
            return Err(AggregateError::Rejected(check));
        }
    }
    // Each group holds alone but not together: only with probability about 2^-250.
    Err(AggregateError::Rejected(AggregateCheck::Groth16))
}

/// Canonical bytes, written in order.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn gt(&mut self, g: &Fq12) {
        self.bytes(&compress(g));
    }
    fn g1(&mut self, p: &G1Affine) {
        let _ = p.serialize_compressed(&mut self.0);
    }
    fn g2(&mut self, p: &G2Affine) {
        let _ = p.serialize_compressed(&mut self.0);
    }
    fn fr(&mut self, e: &Fr) {
        let _ = e.serialize_compressed(&mut self.0);
    }
}

/// An element decoded (canonical coordinates, on its curve or torus) whose subgroup check is
/// still to come.
#[allow(
    clippy::large_enum_variant,
    reason = "a few hundred short-lived values, one pass"
)]
enum Unchecked {
    Gt(Fq12),
    G1(G1Affine),
    G2(G2Affine),
}

impl Unchecked {
    fn in_subgroup(&self) -> bool {
        match self {
            Self::Gt(g) => is_in_gt(g),
            Self::G1(p) => p.is_in_correct_subgroup_assuming_on_curve(),
            Self::G2(p) => p.is_in_correct_subgroup_assuming_on_curve(),
        }
    }
}

/// Reads canonical elements; the subgroup checks, the costly part, are collected for one
/// parallel pass.
struct Reader<'a> {
    bytes: &'a [u8],
    subgroup_checks: Vec<(&'static str, Unchecked)>,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            subgroup_checks: Vec::new(),
        }
    }
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], AggregateError> {
        if self.bytes.len() < len {
            return Err(AggregateError::Undecodable { what });
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], AggregateError> {
        self.take(N, what)?
            .try_into()
            .map_err(|_| AggregateError::Undecodable { what })
    }
    fn gt(&mut self, what: &'static str) -> Result<Fq12, AggregateError> {
        let g = decompress_unchecked(&self.array::<GT_BYTES>(what)?)
            .ok_or(AggregateError::Undecodable { what })?;
        self.subgroup_checks.push((what, Unchecked::Gt(g)));
        Ok(g)
    }
    fn g1(&mut self, what: &'static str) -> Result<G1Affine, AggregateError> {
        self.point(G1_BYTES, what, Unchecked::G1)
    }
    fn g2(&mut self, what: &'static str) -> Result<G2Affine, AggregateError> {
        self.point(G2_BYTES, what, Unchecked::G2)
    }
    /// A compressed point: canonical and on the curve now, its subgroup check queued.
    fn point<C: SWCurveConfig>(
        &mut self,
        len: usize,
        what: &'static str,
        queued: fn(Affine<C>) -> Unchecked,
    ) -> Result<Affine<C>, AggregateError> {
        let p =
            Affine::<C>::deserialize_with_mode(self.take(len, what)?, Compress::Yes, Validate::No)
                .ok()
                .filter(Affine::is_on_curve)
                .ok_or(AggregateError::Undecodable { what })?;
        self.subgroup_checks.push((what, queued(p)));
        Ok(p)
    }
    fn fr(&mut self, what: &'static str) -> Result<Fr, AggregateError> {
        Fr::deserialize_compressed(self.take(FR_BYTES, what)?)
            .map_err(|_| AggregateError::Undecodable { what })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aggregate_of_two_to_the_sixteen_proofs_fits_in_64_kilobytes() {
        assert_eq!(rounds_for(1), 0);
        assert_eq!(rounds_for(3), 2);
        assert_eq!(rounds_for(MAX_PROOFS), MAX_ROUNDS);
        assert_eq!(aggregate_bytes(0), 2_600);
        assert_eq!(aggregate_bytes(MAX_ROUNDS), 50_216);
        assert!(aggregate_bytes(MAX_ROUNDS) <= 64_000);
    }
}
