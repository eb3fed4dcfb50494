//! Aggregating a span's Groth16 proofs into one proof ([`verifier::zk_transfer::aggregate`]
//! has the argument and its check), and the development SRS it needs.

use ark_bls12_381::{Bls12_381, Fq12, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::pairing::{MillerLoopOutput, Pairing};
use ark_ec::scalar_mul::BatchMulPreprocessing;
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::{Field, One, UniformRand, Zero};
use ark_groth16::{Proof, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use ark_std::rand::Rng;
use rayon::prelude::*;
use thiserror::Error;

use verifier::zk_transfer::aggregate::{
    Aggregate, AggregateError, Claims, Commitments, Finals, MAX_PROOFS, Openings, Round, SrsKey,
    Statement, eta_challenge, r_challenge, rho_challenge, round_challenge, statement_transcript,
    verify_aggregate, z_challenge,
};
use verifier::zk_transfer::groth16::{
    INPUT_COMMITMENT, INPUT_POST_ROOT as INPUT_POST, INPUT_PRE_ROOT as INPUT_PRE,
    INPUT_RESERVED_BITS as INPUT_RESERVED, INPUT_TRANSACTIONS, PUBLIC_INPUTS, verifying_key_hash,
};

/// Pairs per Miller loop call: bounds the memory of prepared G2 points.
const PAIRING_CHUNK: usize = 512;

/// The prover's aggregation SRS: powers of two independent secrets a and b, `2N` in G1 and
/// `N` in G2 (N = `max_proofs`).
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Srs {
    /// `a^i·g`, i < 2N.
    pub g_a: Vec<G1Affine>,
    /// `b^i·g`, i < 2N.
    pub g_b: Vec<G1Affine>,
    /// `a^i·h`, i < N.
    pub h_a: Vec<G2Affine>,
    /// `b^i·h`, i < N.
    pub h_b: Vec<G2Affine>,
}

/// Why an aggregate cannot be made.
#[derive(Debug, Error)]
pub enum AggregateProveError {
    /// No proofs, or more than the SRS serves.
    #[error("cannot aggregate {proofs} proofs with an SRS for at most {max}")]
    Size {
        /// Proofs given.
        proofs: usize,
        /// The SRS's limit.
        max: usize,
    },
    /// Step `step`'s pre-state root is not the previous step's post-state root.
    #[error("step {step} does not start where step {} ends", step.saturating_sub(1))]
    BrokenChain {
        /// The step.
        step: usize,
    },
    /// Step `step` has another reserved-bits input than step 0.
    #[error("step {step} has other reserved bits than the first step")]
    ReservedBits {
        /// The step.
        step: usize,
    },
    /// A transaction count is not a small integer.
    #[error("step {step}: the transaction count input is not a u16")]
    Count {
        /// The step.
        step: usize,
    },
    /// The SRS is malformed (its vectors' lengths disagree).
    #[error("the SRS is malformed")]
    MalformedSrs,
    /// The aggregate made does not verify (a proof that does not verify for its inputs).
    #[error("the aggregate does not verify: {0}")]
    SelfCheck(AggregateError),
}

impl Srs {
    /// An SRS from secrets drawn from `rng`. INSECURE: whoever knows the rng's seed knows
    /// a and b and can forge aggregates. For tests and development chains only.
    pub fn insecure<R: Rng>(max_proofs: usize, rng: &mut R) -> Result<Self, AggregateProveError> {
        if !max_proofs.is_power_of_two() || max_proofs > MAX_PROOFS as usize {
            return Err(AggregateProveError::Size {
                proofs: max_proofs,
                max: MAX_PROOFS as usize,
            });
        }
        let (a, b) = (Fr::rand(rng), Fr::rand(rng));
        let powers = |s: Fr, len: usize| -> Vec<Fr> {
            std::iter::successors(Some(Fr::one()), |p| Some(*p * s))
                .take(len)
                .collect()
        };
        let g1 = BatchMulPreprocessing::new(G1Projective::generator(), 2 * max_proofs);
        let g2 = BatchMulPreprocessing::new(G2Projective::generator(), max_proofs);
        let ((g_a, g_b), (h_a, h_b)) = rayon::join(
            || {
                rayon::join(
                    || g1.batch_mul(&powers(a, 2 * max_proofs)),
                    || g1.batch_mul(&powers(b, 2 * max_proofs)),
                )
            },
            || {
                rayon::join(
                    || g2.batch_mul(&powers(a, max_proofs)),
                    || g2.batch_mul(&powers(b, max_proofs)),
                )
            },
        );
        Ok(Self { g_a, g_b, h_a, h_b })
    }

    /// The most proofs it serves.
    pub fn max_proofs(&self) -> usize {
        self.h_a.len()
    }

    fn check(&self) -> Result<(), AggregateProveError> {
        let n = self.h_a.len();
        let ok = n.is_power_of_two()
            && n <= MAX_PROOFS as usize
            && self.h_b.len() == n
            && self.g_a.len() == 2 * n
            && self.g_b.len() == 2 * n;
        ok.then_some(()).ok_or(AggregateProveError::MalformedSrs)
    }

    /// The verifier's key.
    pub fn key(&self) -> Result<SrsKey, AggregateProveError> {
        self.check()?;
        let first = |v: &[G1Affine], i: usize| v.get(i).copied().unwrap_or_default();
        let first2 = |v: &[G2Affine], i: usize| v.get(i).copied().unwrap_or_default();
        Ok(SrsKey {
            max_proofs: u32::try_from(self.max_proofs())
                .map_err(|_| AggregateProveError::MalformedSrs)?,
            g: first(&self.g_a, 0),
            h: first2(&self.h_a, 0),
            g_a: first(&self.g_a, 1),
            g_b: first(&self.g_b, 1),
            h_a: first2(&self.h_a, 1),
            h_b: first2(&self.h_b, 1),
        })
    }

    /// The prover's file: uncompressed, read back without point checks (it is the prover's
    /// own file, and every aggregate it makes is verified before it is returned; the
    /// verifier's key is checked against the genesis pin).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = self.serialize_uncompressed(&mut out);
        out
    }

    /// Reads [`Srs::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AggregateProveError> {
        let srs = Self::deserialize_with_mode(bytes, Compress::No, Validate::No)
            .map_err(|_| AggregateProveError::MalformedSrs)?;
        srs.check()?;
        Ok(srs)
    }
}

/// The first bytes of an SRS file.
const SRS_MAGIC: &[u8; 8] = b"STLSSRS1";

/// The largest SRS file read: 2^16 proofs, uncompressed (about 50 MB), and the lengths.
const MAX_SRS_FILE_BYTES: u64 = 56 << 20;

/// Writes an SRS file (atomically): a magic, then [`Srs::to_bytes`].
pub fn write_srs(path: &std::path::Path, srs: &Srs) -> Result<(), crate::files::FileError> {
    let mut bytes = SRS_MAGIC.to_vec();
    bytes.extend(srs.to_bytes());
    crate::files::write_atomic(path, &bytes)
}

/// Why an SRS file cannot be used.
#[derive(Debug, Error)]
pub enum SrsFileError {
    /// Reading failed.
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    /// It is not an SRS file.
    #[error("{0}: not an SRS file (written by `stateless zk srs`)")]
    NotAnSrs(std::path::PathBuf),
}

/// Reads an SRS file written by [`write_srs`].
pub fn read_srs(path: &std::path::Path) -> Result<Srs, SrsFileError> {
    let bytes = crate::files::read_limited(path, MAX_SRS_FILE_BYTES)?;
    bytes
        .strip_prefix(SRS_MAGIC.as_slice())
        .and_then(|rest| Srs::from_bytes(rest).ok())
        .ok_or_else(|| SrsFileError::NotAnSrs(path.to_path_buf()))
}

/// One blob's proof and its five public inputs.
#[derive(Clone, Debug)]
pub struct Step {
    /// The proof.
    pub proof: Proof<Bls12_381>,
    /// `(pre, post, commitment, count, reserved bits)`.
    pub inputs: [Fr; PUBLIC_INPUTS],
}

/// Aggregates the proofs of a chain of steps: each step must start where the previous one
/// ends, and all must have the same reserved bits. Returns the statement the aggregate
/// proves and its bytes, verified.
pub fn aggregate(
    srs: &Srs,
    vk: &VerifyingKey<Bls12_381>,
    steps: &[Step],
) -> Result<(Statement, Vec<u8>), AggregateProveError> {
    let (first, last) = match (steps.first(), steps.last()) {
        (Some(first), Some(last)) => (first, last),
        _ => {
            return Err(AggregateProveError::Size {
                proofs: 0,
                max: srs.max_proofs(),
            });
        }
    };
    for (index, pair) in steps.windows(2).enumerate() {
        if let [previous, next] = pair
            && next.inputs[INPUT_PRE] != previous.inputs[INPUT_POST]
        {
            return Err(AggregateProveError::BrokenChain { step: index + 1 });
        }
    }
    let reserved = first.inputs[INPUT_RESERVED];
    if let Some(step) = steps
        .iter()
        .position(|s| s.inputs[INPUT_RESERVED] != reserved)
    {
        return Err(AggregateProveError::ReservedBits { step });
    }
    let reserved_bits = u8::try_from(reserved.into_bigint_u64().unwrap_or(u64::MAX))
        .map_err(|_| AggregateProveError::ReservedBits { step: 0 })?;
    let statement = Statement {
        proofs: u32::try_from(steps.len()).map_err(|_| AggregateProveError::Size {
            proofs: steps.len(),
            max: srs.max_proofs(),
        })?,
        pre_state_root: first.inputs[INPUT_PRE],
        post_state_root: last.inputs[INPUT_POST],
        reserved_bits,
    };
    let bytes = prove_statement(srs, vk, &statement, steps)?.encode();
    verify_aggregate(vk, &srs.key()?, &statement, &bytes)
        .map_err(AggregateProveError::SelfCheck)?;
    Ok((statement, bytes))
}

trait SmallInt {
    fn into_bigint_u64(self) -> Option<u64>;
}

impl SmallInt for Fr {
    fn into_bigint_u64(self) -> Option<u64> {
        use ark_ff::{BigInteger, PrimeField};
        let big = self.into_bigint();
        let limbs = big.as_ref();
        (limbs.iter().skip(1).all(|l| *l == 0) && big.num_bits() <= 64)
            .then(|| limbs.first().copied().unwrap_or(0))
    }
}

/// Builds the aggregate for `statement` from the steps as given, checking nothing: the
/// honest prover ([`aggregate`]) checks the chain first; tests use this to build aggregates of
/// broken chains, which the verifier must reject.
pub fn prove_statement(
    srs: &Srs,
    vk: &VerifyingKey<Bls12_381>,
    statement: &Statement,
    steps: &[Step],
) -> Result<Aggregate, AggregateProveError> {
    srs.check()?;
    let n = steps.len();
    let size = n.next_power_of_two();
    if n == 0 || size > srs.max_proofs() {
        return Err(AggregateProveError::Size {
            proofs: n,
            max: srs.max_proofs(),
        });
    }
    let key = srs.key()?;
    let slice1 =
        |v: &[G1Affine], range: std::ops::Range<usize>| v.get(range).unwrap_or_default().to_vec();
    let slice2 =
        |v: &[G2Affine], range: std::ops::Range<usize>| v.get(range).unwrap_or_default().to_vec();
    let mut v1 = slice2(&srs.h_a, 0..size);
    let mut v2 = slice2(&srs.h_b, 0..size);
    let mut w1 = slice1(&srs.g_a, size..2 * size);
    let mut w2 = slice1(&srs.g_b, size..2 * size);
    let pad = size - n;
    let mut a: Vec<G1Affine> = steps
        .iter()
        .map(|s| s.proof.a)
        .chain(std::iter::repeat_n(G1Affine::zero(), pad))
        .collect();
    let mut b: Vec<G2Affine> = steps
        .iter()
        .map(|s| s.proof.b)
        .chain(std::iter::repeat_n(G2Affine::zero(), pad))
        .collect();
    let mut c: Vec<G1Affine> = steps
        .iter()
        .map(|s| s.proof.c)
        .chain(std::iter::repeat_n(G1Affine::zero(), pad))
        .collect();

    let column = |index: usize| -> Vec<Fr> { steps.iter().map(|s| s.inputs[index]).collect() };
    let polys = [
        column(INPUT_POST),
        column(INPUT_COMMITMENT),
        column(INPUT_TRANSACTIONS),
    ];
    let powers_a = slice1(&srs.g_a, 0..n);
    let commitments = Commitments {
        ab: [
            pairing_product(&[&a[..], &w1[..]].concat(), &[&v1[..], &b[..]].concat()),
            pairing_product(&[&a[..], &w2[..]].concat(), &[&v2[..], &b[..]].concat()),
        ],
        c: [pairing_product(&c, &v1), pairing_product(&c, &v2)],
        instances: polys.each_ref().map(|p| msm1(&powers_a, p)),
    };
    let mut t = statement_transcript(&verifying_key_hash(vk), &key, statement);
    let r = r_challenge(&mut t, &commitments).map_err(AggregateProveError::SelfCheck)?;
    let r_inv = r.inverse().unwrap_or_default();
    let r_powers = powers(r, size);
    let r_inv_powers = powers(r_inv, size);

    // Rescale: A'_i = r^i·A_i, C'_i = r^i·C_i under the keys v'_i = r^-i·v_i.
    a = scale1(&a, &r_powers);
    c = scale1(&c, &r_powers);
    v1 = scale2(&v1, &r_inv_powers);
    v2 = scale2(&v2, &r_inv_powers);
    let transactions: u64 = polys[2]
        .iter()
        .map(|t| t.into_bigint_u64().unwrap_or(u64::MAX))
        .fold(0u64, u64::saturating_add);
    let claims = Claims {
        z_ab: pairing_product(&a, &b),
        z_c: c
            .iter()
            .map(|p| G1Projective::from(*p))
            .sum::<G1Projective>()
            .into_affine(),
        evaluations: polys.each_ref().map(|p| evaluate(p, r)),
        transactions,
    };
    let eta = eta_challenge(&mut t, &claims).map_err(AggregateProveError::SelfCheck)?;

    let mut rounds = Vec::new();
    let mut xs = Vec::new();
    let mut sigma = Fr::one();
    while a.len() > 1 {
        let half = a.len() / 2;
        let (al, ar) = a.split_at(half);
        let (bl, br) = b.split_at(half);
        let (cl, cr) = c.split_at(half);
        let (v1l, v1r) = v1.split_at(half);
        let (v2l, v2r) = v2.split_at(half);
        let (w1l, w1r) = w1.split_at(half);
        let (w2l, w2r) = w2.split_at(half);
        let sum = |v: &[G1Affine]| {
            (v.iter()
                .map(|p| G1Projective::from(*p))
                .sum::<G1Projective>()
                * sigma)
                .into_affine()
        };
        let round = Round {
            ab_left: [
                pairing_product(&[ar, w1r].concat(), &[v1l, bl].concat()),
                pairing_product(&[ar, w2r].concat(), &[v2l, bl].concat()),
                pairing_product(ar, bl),
            ],
            ab_right: [
                pairing_product(&[al, w1l].concat(), &[v1r, br].concat()),
                pairing_product(&[al, w2l].concat(), &[v2r, br].concat()),
                pairing_product(al, br),
            ],
            c_left: [pairing_product(cr, v1l), pairing_product(cr, v2l)],
            c_right: [pairing_product(cl, v1r), pairing_product(cl, v2r)],
            z_c: [sum(cr), sum(cl)],
        };
        let x = round_challenge(&mut t, &round).map_err(AggregateProveError::SelfCheck)?;
        let x_inv = x.inverse().unwrap_or_default();
        a = fold1(al, ar, x);
        c = fold1(cl, cr, x);
        w1 = fold1(w1l, w1r, x);
        w2 = fold1(w2l, w2r, x);
        b = fold2(bl, br, x_inv);
        v1 = fold2(v1l, v1r, x_inv);
        v2 = fold2(v2l, v2r, x_inv);
        sigma *= Fr::one() + x_inv;
        rounds.push(round);
        xs.push(x);
    }
    let first1 = |v: &[G1Affine]| v.first().copied().unwrap_or_default();
    let first2 = |v: &[G2Affine]| v.first().copied().unwrap_or_default();
    let finals = Finals {
        a: first1(&a),
        b: first2(&b),
        c: first1(&c),
        v: [first2(&v1), first2(&v2)],
        w: [first1(&w1), first1(&w2)],
    };
    let z = z_challenge(&mut t, &finals).map_err(AggregateProveError::SelfCheck)?;

    // The folded keys' polynomials: coefficient i of f_v is r^-i·Π_{j: bit m−1−j of i} x_j⁻¹,
    // of F_w (shifted by N) Π x_j.
    let m = xs.len();
    let mut x_inv = xs.clone();
    ark_ff::batch_inversion(&mut x_inv);
    let fold_coefficients = |challenges: &[Fr]| -> Vec<Fr> {
        (0..size)
            .map(|i| {
                (0..m)
                    .filter(|j| i >> (m - 1 - j) & 1 == 1)
                    .map(|j| challenges[j])
                    .product()
            })
            .collect()
    };
    let f_v: Vec<Fr> = fold_coefficients(&x_inv)
        .into_iter()
        .zip(&r_inv_powers)
        .map(|(c, p)| c * p)
        .collect();
    let f_w: Vec<Fr> = std::iter::repeat_n(Fr::zero(), size)
        .chain(fold_coefficients(&xs))
        .collect();
    let q_v = quotient(&f_v, z);
    let q_w = quotient(&f_w, z);
    let instance: Vec<Fr> = (0..n)
        .map(|i| polys[0][i] + eta * polys[1][i] + eta.square() * polys[2][i])
        .collect();
    let q_instance = quotient(&instance, r);
    let q_count = quotient(&polys[2], Fr::one());
    let openings = Openings {
        v: [
            msm2(&slice2(&srs.h_a, 0..q_v.len()), &q_v),
            msm2(&slice2(&srs.h_b, 0..q_v.len()), &q_v),
        ],
        w: [
            msm1(&slice1(&srs.g_a, 0..q_w.len()), &q_w),
            msm1(&slice1(&srs.g_b, 0..q_w.len()), &q_w),
        ],
        instances: msm1(&slice1(&srs.g_a, 0..q_instance.len()), &q_instance),
        transactions: msm1(&slice1(&srs.g_a, 0..q_count.len()), &q_count),
    };
    let _ = rho_challenge(&mut t, &openings);
    Ok(Aggregate {
        commitments,
        claims,
        rounds,
        finals,
        openings,
    })
}

/// `Π e(g1_i, g2_i)`: Miller loops over chunks (ark-ec runs each chunk's pairs in parallel;
/// a parallel loop over chunks too would nest joins, a stack's depth per chunk), one final
/// exponentiation.
pub fn pairing_product(g1: &[G1Affine], g2: &[G2Affine]) -> Fq12 {
    let product = g1
        .chunks(PAIRING_CHUNK)
        .zip(g2.chunks(PAIRING_CHUNK))
        .map(|(p, q)| Bls12_381::multi_miller_loop(p.iter().copied(), q.iter().copied()).0)
        .fold(Fq12::one(), |x, y| x * y);
    Bls12_381::final_exponentiation(MillerLoopOutput(product))
        .map(|out| out.0)
        .unwrap_or_default()
}

fn powers(base: Fr, len: usize) -> Vec<Fr> {
    std::iter::successors(Some(Fr::one()), |p| Some(*p * base))
        .take(len)
        .collect()
}

fn evaluate(coefficients: &[Fr], point: Fr) -> Fr {
    coefficients
        .iter()
        .rev()
        .fold(Fr::zero(), |acc, c| acc * point + c)
}

/// `q` with `p(X) − p(z) = (X − z)·q(X)` (synthetic division; `q` has one coefficient less).
fn quotient(p: &[Fr], z: Fr) -> Vec<Fr> {
    let mut q = vec![Fr::zero(); p.len().saturating_sub(1)];
    let mut carry = Fr::zero();
    for k in (1..p.len()).rev() {
        carry = p[k] + z * carry;
        q[k - 1] = carry;
    }
    q
}

fn msm1(bases: &[G1Affine], scalars: &[Fr]) -> G1Affine {
    G1Projective::msm(bases, scalars)
        .unwrap_or_default()
        .into_affine()
}

fn msm2(bases: &[G2Affine], scalars: &[Fr]) -> G2Affine {
    G2Projective::msm(bases, scalars)
        .unwrap_or_default()
        .into_affine()
}

fn scale1(points: &[G1Affine], scalars: &[Fr]) -> Vec<G1Affine> {
    let scaled: Vec<G1Projective> = points
        .par_iter()
        .zip(scalars)
        .map(|(p, s)| *p * s)
        .collect();
    G1Projective::normalize_batch(&scaled)
}

fn scale2(points: &[G2Affine], scalars: &[Fr]) -> Vec<G2Affine> {
    let scaled: Vec<G2Projective> = points
        .par_iter()
        .zip(scalars)
        .map(|(p, s)| *p * s)
        .collect();
    G2Projective::normalize_batch(&scaled)
}

fn fold1(left: &[G1Affine], right: &[G1Affine], x: Fr) -> Vec<G1Affine> {
    let folded: Vec<G1Projective> = left
        .par_iter()
        .zip(right)
        .map(|(l, r)| *r * x + l)
        .collect();
    G1Projective::normalize_batch(&folded)
}

fn fold2(left: &[G2Affine], right: &[G2Affine], x: Fr) -> Vec<G2Affine> {
    let folded: Vec<G2Projective> = left
        .par_iter()
        .zip(right)
        .map(|(l, r)| *r * x + l)
        .collect();
    G2Projective::normalize_batch(&folded)
}

/// A circuit with the blob circuit's five public inputs and one constraint,
/// `post = pre + commitment·count + reserved`: what aggregation tests and large-n benchmarks
/// prove, since an aggregate's size and verification cost depend on the proof count and the
/// key's shape, not on the circuit's size.
#[cfg(any(test, feature = "testing"))]
pub mod chained {
    use ark_bls12_381::{Bls12_381, Fr};
    use ark_ff::UniformRand;
    use ark_groth16::{Groth16, ProvingKey};
    use ark_relations::gr1cs::{
        ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError,
    };
    use ark_relations::lc;
    use ark_std::rand::{Rng, RngCore, SeedableRng, rngs::StdRng};

    use super::Step;
    use verifier::zk_transfer::batch::BatchEntry;
    use verifier::zk_transfer::groth16::{PROOF_BYTES, encode_proof};

    /// The circuit, with its inputs when proving.
    #[derive(Clone)]
    pub struct ChainStep {
        /// `(pre, post, commitment, count, reserved)`.
        pub inputs: Option<[Fr; 5]>,
    }

    impl ConstraintSynthesizer<Fr> for ChainStep {
        fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
            let get = |i: usize| {
                self.inputs
                    .and_then(|x| x.get(i).copied())
                    .ok_or(SynthesisError::AssignmentMissing)
            };
            let [pre, post, commitment, count, reserved] =
                [0, 1, 2, 3, 4].map(|i| cs.new_input_variable(|| get(i)));
            let (pre, post, commitment, count, reserved) =
                (pre?, post?, commitment?, count?, reserved?);
            cs.enforce_r1cs_constraint(
                || lc!() + commitment,
                || lc!() + count,
                || LinearCombination::from(post) - pre - reserved,
            )
        }
    }

    /// A proving key for [`ChainStep`].
    pub fn keys(seed: u64) -> ProvingKey<Bls12_381> {
        let mut rng = StdRng::seed_from_u64(seed);
        Groth16::<Bls12_381>::generate_random_parameters_with_reduction(
            ChainStep { inputs: None },
            &mut rng,
        )
        .unwrap_or_else(|e| unreachable!("one constraint always sets up: {e}"))
    }

    /// One proven step from `pre`, with a random commitment and 1 to 3 transactions.
    pub fn step<R: Rng>(pk: &ProvingKey<Bls12_381>, pre: Fr, rng: &mut R) -> Step {
        let commitment = Fr::rand(rng);
        let count = Fr::from(1 + u64::from(rng.next_u32() % 3));
        let reserved = Fr::from(1u64);
        let inputs = [
            pre,
            pre + commitment * count + reserved,
            commitment,
            count,
            reserved,
        ];
        let proof = Groth16::<Bls12_381>::create_random_proof_with_reduction(
            ChainStep {
                inputs: Some(inputs),
            },
            pk,
            rng,
        )
        .unwrap_or_else(|e| unreachable!("a satisfied circuit always proves: {e}"));
        Step { proof, inputs }
    }

    /// The steps' proofs encoded, for a batched check of the same proofs.
    pub fn encoded_proofs(steps: &[Step]) -> Vec<[u8; PROOF_BYTES]> {
        steps.iter().map(|s| encode_proof(&s.proof)).collect()
    }

    /// The batch entries (one key, index 0) of `steps` with their `encoded` proofs.
    pub fn batch_entries<'a>(
        steps: &[Step],
        encoded: &'a [[u8; PROOF_BYTES]],
    ) -> Vec<BatchEntry<'a>> {
        steps
            .iter()
            .zip(encoded)
            .map(|(step, proof)| BatchEntry {
                key: 0,
                public_inputs: step.inputs,
                proof,
            })
            .collect()
    }

    /// `n` chained steps (each starts where the previous ends), proven in parallel.
    pub fn chain(pk: &ProvingKey<Bls12_381>, n: usize, seed: u64) -> Vec<Step> {
        use rayon::prelude::*;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut pre = Fr::rand(&mut rng);
        let mut plans = Vec::with_capacity(n);
        for index in 0..n {
            let commitment = Fr::rand(&mut rng);
            let count = Fr::from(1 + u64::from(rng.next_u32() % 3));
            let reserved = Fr::from(1u64);
            let post = pre + commitment * count + reserved;
            plans.push((index, [pre, post, commitment, count, reserved]));
            pre = post;
        }
        // One chunk per thread, proven in order inside it: ark-groth16 is parallel inside
        // each proof, and a job per proof would let a waiting worker steal proof after proof
        // onto its stack (nested joins) until it overflows.
        let chunk = n.div_ceil(rayon::current_num_threads().max(1)).max(1);
        plans
            .par_chunks(chunk)
            .flat_map_iter(|part| {
                part.iter().map(|&(index, inputs)| {
                    let mut rng = StdRng::seed_from_u64(seed ^ ((index as u64) << 20));
                    let proof = Groth16::<Bls12_381>::create_random_proof_with_reduction(
                        ChainStep {
                            inputs: Some(inputs),
                        },
                        pk,
                        &mut rng,
                    )
                    .unwrap_or_else(|e| unreachable!("a satisfied circuit always proves: {e}"));
                    Step { proof, inputs }
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bls12_381::{Bls12_381, Fr};
    use ark_ff::Field;
    use ark_groth16::{ProvingKey, VerifyingKey};
    use ark_std::rand::{SeedableRng, rngs::StdRng};
    use verifier::zk_transfer::aggregate::*;

    fn keys(seed: u64) -> (ProvingKey<Bls12_381>, VerifyingKey<Bls12_381>) {
        let pk = chained::keys(seed);
        let vk = pk.vk.clone();
        (pk, vk)
    }

    fn step(pk: &ProvingKey<Bls12_381>, pre: Fr, rng: &mut StdRng) -> Step {
        chained::step(pk, pre, rng)
    }

    fn chain(pk: &ProvingKey<Bls12_381>, n: usize, seed: u64) -> Vec<Step> {
        chained::chain(pk, n, seed)
    }

    struct World {
        pk: ProvingKey<Bls12_381>,
        vk: VerifyingKey<Bls12_381>,
        srs: Srs,
        key: SrsKey,
    }

    fn world() -> World {
        let (pk, vk) = keys(1);
        let srs = Srs::insecure(8, &mut StdRng::seed_from_u64(2)).unwrap();
        let key = srs.key().unwrap();
        World { pk, vk, srs, key }
    }

    #[test]
    fn aggregates_of_one_to_eight_proofs_verify() {
        let w = world();
        for n in 1..=8 {
            let steps = chain(&w.pk, n, n as u64);
            let (statement, bytes) = aggregate(&w.srs, &w.vk, &steps).unwrap();
            assert_eq!(bytes.len(), aggregate_bytes(rounds_for(n as u32)));
            let outcome = verify_aggregate(&w.vk, &w.key, &statement, &bytes).unwrap();
            let total: u64 = steps
                .iter()
                .map(|s| s.inputs[3])
                .map(|t| t.to_string().parse::<u64>().unwrap())
                .sum();
            assert_eq!(outcome.transactions, total);
        }
    }

    #[test]
    fn a_changed_statement_is_rejected() {
        let w = world();
        let steps = chain(&w.pk, 5, 9);
        let (statement, bytes) = aggregate(&w.srs, &w.vk, &steps).unwrap();
        let one = Fr::from(1u64);
        for changed in [
            Statement {
                pre_state_root: statement.pre_state_root + one,
                ..statement
            },
            Statement {
                post_state_root: statement.post_state_root + one,
                ..statement
            },
            Statement {
                reserved_bits: 0,
                ..statement
            },
            Statement {
                proofs: 6,
                ..statement
            },
            Statement {
                proofs: 4,
                ..statement
            },
        ] {
            let err = verify_aggregate(&w.vk, &w.key, &changed, &bytes).unwrap_err();
            assert!(
                matches!(
                    err,
                    AggregateError::Rejected(_) | AggregateError::Length { .. }
                ),
                "{err:?}"
            );
        }
        // Same rounds, changed count: every equation is still checked, and the Groth16 one fails.
        let err = verify_aggregate(
            &w.vk,
            &w.key,
            &Statement {
                proofs: 7,
                ..statement
            },
            &bytes,
        )
        .unwrap_err();
        assert!(matches!(err, AggregateError::Rejected(_)), "{err:?}");
    }

    fn assert_broken(w: &World, steps: &[Step], statement: &Statement) {
        let aggregate = prove_statement(&w.srs, &w.vk, statement, steps).unwrap();
        assert_eq!(
            verify_aggregate(&w.vk, &w.key, statement, &aggregate.encode()),
            Err(AggregateError::Rejected(AggregateCheck::Groth16))
        );
    }

    #[test]
    fn dropped_duplicated_reordered_and_foreign_proofs_are_rejected() {
        let w = world();
        let steps = chain(&w.pk, 4, 11);
        let (statement, _) = aggregate(&w.srs, &w.vk, &steps).unwrap();
        // Dropped: three proofs claimed to go from the first pre root to the last post root.
        let dropped = vec![steps[0].clone(), steps[2].clone(), steps[3].clone()];
        assert!(matches!(
            aggregate(&w.srs, &w.vk, &dropped),
            Err(AggregateProveError::BrokenChain { step: 1 })
        ));
        assert_broken(
            &w,
            &dropped,
            &Statement {
                proofs: 3,
                ..statement
            },
        );
        // Duplicated.
        let duplicated = vec![
            steps[0].clone(),
            steps[1].clone(),
            steps[1].clone(),
            steps[2].clone(),
            steps[3].clone(),
        ];
        assert_broken(
            &w,
            &duplicated,
            &Statement {
                proofs: 5,
                ..statement
            },
        );
        // Reordered.
        let reordered = vec![
            steps[0].clone(),
            steps[2].clone(),
            steps[1].clone(),
            steps[3].clone(),
        ];
        assert_broken(&w, &reordered, &statement);
        // A public input changed under a valid proof.
        let mut changed = steps.clone();
        changed[2].inputs[2] += Fr::from(1u64);
        assert_broken(&w, &changed, &statement);
        // A proof under another verifying key.
        let (other_pk, _) = keys(77);
        let mut foreign = steps.clone();
        foreign[1].proof = step(&other_pk, steps[1].inputs[0], &mut StdRng::seed_from_u64(5)).proof;
        assert_broken(&w, &foreign, &statement);
        // The whole aggregate checked under another key.
        let (_, other_vk) = keys(78);
        let (statement, bytes) = aggregate(&w.srs, &w.vk, &steps).unwrap();
        assert!(verify_aggregate(&other_vk, &w.key, &statement, &bytes).is_err());
    }

    #[test]
    fn shapes_and_keys_outside_the_rules_are_rejected_by_name() {
        let w = world();
        let steps = chain(&w.pk, 3, 21);
        let (statement, bytes) = aggregate(&w.srs, &w.vk, &steps).unwrap();
        // No proof, more than the SRS serves, a key with another input count.
        let none = Statement {
            proofs: 0,
            ..statement
        };
        assert_eq!(
            verify_aggregate(&w.vk, &w.key, &none, &bytes),
            Err(AggregateError::NoProofs)
        );
        let many = Statement {
            proofs: 9,
            ..statement
        };
        assert_eq!(
            verify_aggregate(&w.vk, &w.key, &many, &bytes),
            Err(AggregateError::TooManyProofs { proofs: 9, max: 8 })
        );
        let mut short_key = w.vk.clone();
        short_key.gamma_abc_g1.pop();
        assert_eq!(
            verify_aggregate(&short_key, &w.key, &statement, &bytes),
            Err(AggregateError::PublicInputCount { found: 4 })
        );
        // SRS keys: short, trailing bytes, a size that is no power of two, an identity point.
        let encoded = w.key.encode();
        assert_eq!(SrsKey::decode(&encoded), Ok(w.key.clone()));
        assert!(matches!(
            SrsKey::decode(&encoded[..3]),
            Err(AggregateError::SrsKey(_))
        ));
        let mut trailing = encoded.to_vec();
        trailing.push(0);
        assert_eq!(
            SrsKey::decode(&trailing),
            Err(AggregateError::SrsKey("trailing bytes"))
        );
        let mut odd = encoded;
        odd[..4].copy_from_slice(&6u32.to_le_bytes());
        assert_eq!(
            SrsKey::decode(&odd),
            Err(AggregateError::SrsKey(
                "size is not a power of two up to 2^16"
            ))
        );
        let identity = SrsKey {
            g_a: G1Affine::zero(),
            ..w.key.clone()
        };
        assert_eq!(
            SrsKey::decode(&identity.encode()),
            Err(AggregateError::SrsKey("a point is the identity"))
        );
        // The prover: no steps, too many for the SRS, mixed reserved bits, an SRS size that is
        // no power of two, a file that is not an SRS.
        assert!(matches!(
            aggregate(&w.srs, &w.vk, &[]),
            Err(AggregateProveError::Size { proofs: 0, .. })
        ));
        let nine = chain(&w.pk, 9, 22);
        assert!(matches!(
            aggregate(&w.srs, &w.vk, &nine),
            Err(AggregateProveError::Size { proofs: 9, max: 8 })
        ));
        let mut mixed = steps.clone();
        mixed[2].inputs[4] = Fr::from(0u64);
        assert!(matches!(
            aggregate(&w.srs, &w.vk, &mixed),
            Err(AggregateProveError::ReservedBits { step: 2 })
        ));
        assert!(matches!(
            Srs::insecure(6, &mut StdRng::seed_from_u64(1)),
            Err(AggregateProveError::Size { proofs: 6, .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("srs");
        std::fs::write(&file, b"not an srs").unwrap();
        assert!(matches!(read_srs(&file), Err(SrsFileError::NotAnSrs(_))));
        write_srs(&file, &w.srs).unwrap();
        assert_eq!(read_srs(&file).unwrap(), w.srs);
    }

    #[test]
    fn broken_bytes_are_rejected_by_name() {
        let w = world();
        let steps = chain(&w.pk, 3, 12);
        let (statement, bytes) = aggregate(&w.srs, &w.vk, &steps).unwrap();
        let short = &bytes[..bytes.len() - 1];
        assert!(matches!(
            verify_aggregate(&w.vk, &w.key, &statement, short),
            Err(AggregateError::Length { .. })
        ));
        // The first GT element with its last coordinate byte changed: almost surely outside GT.
        let mut outside = bytes.clone();
        outside[100] ^= 1;
        assert_eq!(
            verify_aggregate(&w.vk, &w.key, &statement, &outside),
            Err(AggregateError::Undecodable {
                what: "commitment T_AB"
            })
        );
        // The claimed transaction count.
        let mut count = Aggregate::decode(&bytes, 3).unwrap();
        count.claims.transactions += 1;
        // (It is in the transcript, so every challenge moves.)
        assert!(matches!(
            verify_aggregate(&w.vk, &w.key, &statement, &count.encode()),
            Err(AggregateError::Rejected(_))
        ));
    }

    /// The flaw of the published ark 0.4 port (legogroth16 0.18): the first round's messages are
    /// not in the transcript before its challenge. A prover that knows x_0 before choosing them
    /// forges an aggregate of arbitrary (here: no valid) proofs. The forgery verifies under the
    /// flawed challenges, and must fail under ours.
    #[test]
    fn a_forgery_against_an_unbound_first_round_is_rejected() {
        let w = world();
        let steps = chain(&w.pk, 2, 13);
        let (statement, _) = aggregate(&w.srs, &w.vk, &steps).unwrap();
        // A false statement: the chain ends somewhere else.
        let false_statement = Statement {
            post_state_root: Fr::from(12345u64),
            ..statement
        };
        let forged = forge(&w, &false_statement);
        let vk_hash = verifying_key_hash(&w.vk);
        // Under the flawed transcript the forgery passes every check.
        let flawed = flawed_challenges(&vk_hash, &w.key, &false_statement, &forged);
        assert_eq!(
            check_with_challenges(&w.vk, &w.key, &false_statement, &forged, &flawed),
            Ok(())
        );
        // Ours binds the round: rejected.
        assert_eq!(
            verify_aggregate(&w.vk, &w.key, &false_statement, &forged.encode()),
            Err(AggregateError::Rejected(AggregateCheck::Commitments))
        );
    }

    /// Challenges as a transcript that skips round 0's messages derives them.
    fn flawed_challenges(
        vk_hash: &witness_format::Hash32,
        key: &SrsKey,
        s: &Statement,
        a: &Aggregate,
    ) -> Challenges {
        let mut t = statement_transcript(vk_hash, key, s);
        let r = r_challenge(&mut t, &a.commitments).unwrap();
        let eta = eta_challenge(&mut t, &a.claims).unwrap();
        let x0 = t.challenge(b"x").unwrap();
        let z = z_challenge(&mut t, &a.finals).unwrap();
        let rho = rho_challenge(&mut t, &a.openings).unwrap();
        Challenges {
            r,
            eta,
            x: vec![x0],
            z,
            rho,
        }
    }

    /// The forgery for two proofs (one round), from public data only.
    fn forge(w: &World, s: &Statement) -> Aggregate {
        use ark_bls12_381::{G1Affine, G1Projective, G2Affine};
        use ark_ec::{AffineRepr, CurveGroup, PrimeGroup, pairing::Pairing};
        let steps = chain(&w.pk, 2, 14);
        let honest = prove_statement(&w.srs, &w.vk, s, &steps).unwrap();
        let mut a = honest.clone();
        let vk_hash = verifying_key_hash(&w.vk);
        // r and eta as the verifier will derive them.
        let mut t = statement_transcript(&vk_hash, &w.key, s);
        let r = r_challenge(&mut t, &a.commitments).unwrap();
        // Z_C arbitrary; Z_AB chosen so that the Groth16 equation holds for the false statement.
        a.claims.z_c = G1Affine::from(G1Projective::generator());
        let ic = &w.vk.gamma_abc_g1;
        let [y_post, y_com, y_count] = a.claims.evaluations;
        let s_sum = Fr::from(1u64) + r;
        let pre_sum = s.pre_state_root + r * (y_post - r * s.post_state_root);
        let v = ic[0] * s_sum
            + ic[1] * pre_sum
            + ic[2] * y_post
            + ic[3] * y_com
            + ic[4] * y_count
            + ic[5] * (s_sum * Fr::from(s.reserved_bits));
        let e = |p: G1Projective, q: G2Affine| Bls12_381::pairing(p.into_affine(), q).0;
        a.claims.z_ab = Bls12_381::pairing(w.vk.alpha_g1, w.vk.beta_g2)
            .0
            .pow(ark_ff::PrimeField::into_bigint(s_sum))
            * e(v, w.vk.gamma_g2)
            * e(a.claims.z_c.into(), w.vk.delta_g2);
        let eta = eta_challenge(&mut t, &a.claims).unwrap();
        // The instance polynomials are linear: the opening at r is their top coefficient.
        let top = steps[1].inputs[1] + eta * steps[1].inputs[2] + eta.square() * steps[1].inputs[3];
        a.openings.instances = (w.srs.g_a[0] * top).into_affine();
        // x_0 before the round's messages (the flaw).
        let x = t.challenge(b"x").unwrap();
        let x_inv = x.inverse().unwrap();
        // Honest final keys for x, arbitrary A_f, B_f, C_f.
        let v1 = &w.srs.h_a;
        let v2 = &w.srs.h_b;
        let rinv = r.inverse().unwrap();
        let fold2 = |v: &[G2Affine]| (v[0].into_group() + v[1] * (rinv * x_inv)).into_affine();
        let fold1 = |g: &[G1Affine]| (g[2].into_group() + g[3] * x).into_affine();
        a.finals.v = [fold2(v1), fold2(v2)];
        a.finals.w = [fold1(&w.srs.g_a), fold1(&w.srs.g_b)];
        a.finals.a = G1Affine::from(G1Projective::generator() * Fr::from(3u64));
        a.finals.b = G2Affine::from(ark_bls12_381::G2Projective::generator() * Fr::from(5u64));
        a.finals.c = G1Affine::from(G1Projective::generator() * Fr::from(7u64));
        // Each folded value must equal its target: base · L^x · R^{1/x} = target, R = 1.
        let solve = |base: ark_bls12_381::Fq12, target: ark_bls12_381::Fq12| {
            (target * base.inverse().unwrap()).pow(ark_ff::PrimeField::into_bigint(x_inv))
        };
        let one = ark_bls12_381::Fq12::ONE;
        let (fa, fb, fc) = (a.finals.a, a.finals.b, a.finals.c);
        let t_ab = e(fa.into(), a.finals.v[0]) * e(a.finals.w[0].into(), fb);
        let u_ab = e(fa.into(), a.finals.v[1]) * e(a.finals.w[1].into(), fb);
        let z_ab = e(fa.into(), fb);
        let t_c = e(fc.into(), a.finals.v[0]);
        let u_c = e(fc.into(), a.finals.v[1]);
        let round = &mut a.rounds[0];
        round.ab_left = [
            solve(a.commitments.ab[0], t_ab),
            solve(a.commitments.ab[1], u_ab),
            solve(a.claims.z_ab, z_ab),
        ];
        round.ab_right = [one, one, one];
        round.c_left = [
            solve(a.commitments.c[0], t_c),
            solve(a.commitments.c[1], u_c),
        ];
        round.c_right = [one, one];
        // MIPP: Z_C + x·L + x⁻¹·R = σ·C_f with R = 0.
        let sigma = Fr::from(1u64) + x_inv;
        round.z_c = [
            ((fc * sigma - a.claims.z_c) * x_inv).into_affine(),
            G1Affine::default(),
        ];
        // Honest openings for the honest keys at the flawed z.
        let _ = honest;
        let mut t2 = t.clone();
        let z = z_challenge(&mut t2, &a.finals).unwrap();
        a.openings = open_keys(w, r, x, z, a.openings.clone());
        a
    }

    fn open_keys(w: &World, r: Fr, x: Fr, z: Fr, mut o: Openings) -> Openings {
        use ark_bls12_381::G1Projective;
        use ark_ec::CurveGroup;
        // N = 2: f_v(X) = 1 + x⁻¹·X/r: quotient the constant x⁻¹/r.
        let q_v = x.inverse().unwrap() * r.inverse().unwrap();
        o.v = [
            (w.srs.h_a[0] * q_v).into_affine(),
            (w.srs.h_b[0] * q_v).into_affine(),
        ];
        // F_w(X) = X^2 + x·X^3: quotient of degree 2: [x z^2 + z... ] by synthetic division.
        let p = [Fr::from(0u64), Fr::from(0u64), Fr::from(1u64), x];
        let mut q = [Fr::from(0u64); 3];
        let mut carry = Fr::from(0u64);
        for k in (1..4).rev() {
            carry = p[k] + z * carry;
            q[k - 1] = carry;
        }
        let msm = |g: &[ark_bls12_381::G1Affine]| {
            (0..3)
                .map(|i| g[i] * q[i])
                .sum::<G1Projective>()
                .into_affine()
        };
        o.w = [msm(&w.srs.g_a), msm(&w.srs.g_b)];
        o
    }
}
