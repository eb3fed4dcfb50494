//! Schnorr-over-Jubjub verification in-circuit: [`verifier::zk_transfer::schnorr`]'s rule as constraints.
//!
//! Jubjub's base field is BLS12-381's scalar field `Fr`, the field of the circuit, so point
//! coordinates are native [`FpVar`]s and the curve arithmetic is `ark-ed-on-bls12-381`'s
//! [`EdwardsVar`] (complete twisted Edwards formulas: no exceptional cases on the curve).
//!
//! [`verify_gadget`] *enforces* the equation of [`verifier::zk_transfer::schnorr::verify`]: with
//! `e = hash_many(SCHNORR_CHALLENGE_DOMAIN, [R.x, R.y, A.x, A.y, msg])` and ẽ its canonical
//! 255-bit integer,
//!
//! ```text
//! [s]G − [ẽ]A = R,   s < r_J,   A ≠ 0,   R ≠ 0
//! ```
//!
//! so a bad signature makes the constraint system unsatisfiable, never a `false` to forget.
//!
//! # What is checked, and why that is enough
//!
//! - **A** must be on the curve and in the prime-order subgroup: a precondition, not checked
//!   here (a subgroup check after allocation costs about as much as a scalar multiplication).
//!   Allocate it with [`alloc_subgroup_point`] (which enforces both, for 21 constraints), or
//!   take its coordinates from something that binds natively validated coordinates, such as a
//!   leaf hash of a key that [`verifier::zk_transfer::schnorr::decode_point`] accepted. A ≠ 0 is checked
//!   here (for a subgroup point, x ≠ 0 exactly when it is not the identity).
//! - **R** needs no on-curve or subgroup check: the gadget computes `[s]G − [ẽ]A` from G and A,
//!   both in the subgroup, with complete formulas, and enforces R's coordinates equal to it, so
//!   R *is* a subgroup point. R ≠ 0 is checked (x ≠ 0), as the native decoding rejects it.
//!   R's coordinates go into the challenge as given, which is fine: they are then forced.
//! - **s**: the caller passes its bits, little-endian, as [`Boolean`]s (so each is 0 or 1);
//!   the gadget enforces that they encode an integer below r_J. Without it, s + r_J would
//!   verify too: harmless for soundness, but the native rule rejects it and the two must agree.
//! - **e**: decomposed into 255 bits that are enforced to recompose to e *and* to encode an
//!   integer below q (the same guarantee as arkworks' strict `FpVar::to_bits_le`, for 122
//!   fewer constraints). A non-strict decomposition would let the prover use ẽ + q instead of ẽ
//!   (both fit in 255 bits when ẽ < 2²⁵⁵ − q), a second challenge to choose from.
//!
//! Testing note: `EdwardsVar::value` debug-asserts that the point is in the prime-order
//! subgroup; to inspect a variable that may hold another point, read its coordinates.
//!
//! # Cost
//!
//! 4,964 constraints per [`verify_gadget`] call (`zk_schnorr_constraint_count` measures and
//! pins it; the design budget was about 6,000), in these parts:
//!
//! | part | how | constraints |
//! |---|---|---|
//! | `[ẽ]A` | table A, 2A, 3A (11); 2-bit windows from the top: double twice (10), look up (6), add (6) | 2,807 |
//! | `[s]G` | 84 windows of 3 bits in constant tables of `[v·8^j]G`: lookup (3), add (6) | 750 |
//! | challenge | `hash_many` of 5 elements: 3 permutations of 240 | 720 |
//! | e's bits | 255 booleans and their sum (256), then "at most q − 1" (190) | 446 |
//! | s's range | "at most r_J − 1" over s's 252 bits | 231 |
//! | the rest | A·R ≠ 0 (2), `[s]G − [ẽ]A` (6), equal to R (2) | 10 |
//!
//! Not included: the booleanity of s's 252 bits, which the caller pays when it allocates them
//! ([`alloc_signature`] does: 252), and [`alloc_subgroup_point`] for A (21) when A is allocated
//! with it. With both, 5,237.
//!
//! All additions use arkworks' complete twisted Edwards formulas (6 constraints an addition,
//! 5 a doubling), so no input on the curve hits an exceptional case.

use std::sync::LazyLock;

use ark_bls12_381::Fr;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ed_on_bls12_381::EdwardsProjective;
use ark_ed_on_bls12_381::constraints::EdwardsVar;
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField};
use ark_r1cs_std::GR1CSVar;
use ark_r1cs_std::alloc::{AllocVar, AllocationMode};
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::convert::ToBitsGadget;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::groups::CurveVar;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use verifier::zk_transfer::schnorr::{
    PUBLIC_KEY_BYTES, Point, SCALAR_BITS, SCHNORR_CHALLENGE_DOMAIN, SIGNATURE_BYTES, Scalar,
    decode_point, generator,
};

use crate::zk::poseidon::hash_many_gadget;

/// A signature in-circuit: R's coordinates (unchecked: [`verify_gadget`] forces them) and the
/// bits of s, little-endian.
#[derive(Debug, Clone)]
pub struct SignatureVar {
    /// The nonce point R.
    pub r: EdwardsVar,
    /// s, [`SCALAR_BITS`] bits, least significant first.
    pub s_bits: Vec<Boolean<Fr>>,
}

/// Bits per window of the fixed-base multiplication `[s]G`.
const FIXED_WINDOW: usize = 3;
/// Number of windows of `[s]G`: [`SCALAR_BITS`] = 252 = 84 · 3.
const FIXED_WINDOWS: usize = SCALAR_BITS.div_ceil(FIXED_WINDOW);

/// For window j of `[s]G`, the polynomial coefficients of the lookup of `[v·8^j]G`, v in 0..8,
/// as a function of the window's bits: entry `m` of the array is the coefficient of the
/// monomial `Π_{i ∈ m} b_i` (m a 3-bit mask; m = 0 is the constant term), for x and for y.
///
/// The table value at v is `Σ_{m ⊆ v} c_m`, so `c_m = Σ_{t ⊆ m} (−1)^{|m∖t|} T[t]` (Möbius
/// inversion over the subsets of the three bits).
type WindowCoefficients = ([Fr; 8], [Fr; 8]);

fn fixed_base_tables() -> &'static [WindowCoefficients] {
    static TABLES: LazyLock<Vec<WindowCoefficients>> = LazyLock::new(|| {
        let mut base = generator().into_group();
        (0..FIXED_WINDOWS)
            .map(|_| {
                // T[v] = [v]·base, v in 0..8 (T[0] is the identity (0, 1)).
                let mut multiples = [EdwardsProjective::default(); 8];
                let mut acc = EdwardsProjective::default();
                for m in multiples.iter_mut() {
                    *m = acc;
                    acc += base;
                }
                let table = EdwardsProjective::normalize_batch(&multiples);
                let mut xs = [Fr::ZERO; 8];
                let mut ys = [Fr::ZERO; 8];
                for mask in 0..8usize {
                    for (t, point) in table.iter().enumerate() {
                        if t & !mask != 0 {
                            continue;
                        }
                        let sign_negative = (mask ^ t).count_ones() % 2 == 1;
                        let (x, y) = if sign_negative {
                            (-point.x, -point.y)
                        } else {
                            (point.x, point.y)
                        };
                        xs[mask] += x;
                        ys[mask] += y;
                    }
                }
                for _ in 0..FIXED_WINDOW {
                    base.double_in_place();
                }
                (xs, ys)
            })
            .collect()
    });
    &TABLES
}

/// Enforces a Schnorr signature (R, s) of `msg` under the public key A: `[s]G − [ẽ]A = R` with
/// the Poseidon challenge e, s below r_J, A and R not the identity. See the module
/// documentation for what the caller must guarantee about A (on the curve, in the prime-order
/// subgroup) and why R needs no check.
///
/// `s_bits` are s's bits, least significant first; any length (missing high bits are zero,
/// extra high bits must be zero).
pub fn verify_gadget(
    cs: ConstraintSystemRef<Fr>,
    public_key: &EdwardsVar,
    r: &EdwardsVar,
    s_bits: &[Boolean<Fr>],
    msg: &FpVar<Fr>,
) -> Result<(), SynthesisError> {
    let mut r_minus_one = Scalar::MODULUS;
    // r_J is odd, so subtracting 1 borrows nothing.
    r_minus_one.sub_with_borrow(&1u64.into());
    enforce_at_most(s_bits, r_minus_one)?;
    enforce_nonzero_product(cs, &public_key.x, &r.x)?;

    let domain = FpVar::Constant(SCHNORR_CHALLENGE_DOMAIN);
    let e = hash_many_gadget(
        &domain,
        &[
            r.x.clone(),
            r.y.clone(),
            public_key.x.clone(),
            public_key.y.clone(),
            msg.clone(),
        ],
    )?;
    let e_bits = strict_bits(&e)?;

    let s_g = fixed_base_mul(s_bits)?;
    let e_a = variable_base_mul(public_key, &e_bits)?;
    let expected_r = s_g - e_a;
    expected_r.enforce_equal(r)
}

/// The 255 little-endian bits of the canonical integer of `x`: the bits are enforced to
/// recompose to x and to encode an integer below q, so they are unique.
fn strict_bits(x: &FpVar<Fr>) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    let bits = x.to_non_unique_bits_le()?;
    let mut q_minus_one = Fr::MODULUS;
    q_minus_one.sub_with_borrow(&1u64.into());
    enforce_at_most(&bits, q_minus_one)?;
    Ok(bits)
}

/// Enforces that the little-endian `bits` encode an integer at most `bound`.
///
/// Bits above the bound's length must be 0 (one constraint for all of them). Below, scanning
/// from the top: `eq` says whether the bits so far equal the bound's; at each 0 bit of the
/// bound, the bit must be 0 if `eq` still holds (one constraint), and at a run of 1 bits `eq`
/// is ANDed with them (at most two constraints per run). This is arkworks'
/// `enforce_smaller_or_equal_than_le` with one constraint per 0 bit instead of two.
fn enforce_at_most(bits: &[Boolean<Fr>], bound: impl BigInteger) -> Result<(), SynthesisError> {
    let n = bound.num_bits() as usize;
    let (low, high) = bits.split_at(bits.len().min(n));
    if !high.is_empty() {
        let sum: FpVar<Fr> = high.iter().map(|b| FpVar::from(b.clone())).sum();
        sum.enforce_equal(&FpVar::zero())?;
    }
    let mut eq = Boolean::TRUE;
    let mut run: Vec<Boolean<Fr>> = Vec::new();
    for i in (0..n).rev() {
        let bit = low.get(i).cloned().unwrap_or(Boolean::FALSE);
        if bound.get_bit(i) {
            run.push(bit);
            continue;
        }
        if !run.is_empty() {
            run.push(eq);
            eq = Boolean::kary_and(&run)?;
            run.clear();
        }
        enforce_not_both(&eq, &bit)?;
    }
    Ok(())
}

/// The sign bit of a point encoding ([`verifier::zk_transfer::schnorr::encode_point`]) with x coordinate
/// `x`: 1 when x, as an integer in `[0, q)`, is above `(q − 1)/2`.
///
/// Enforced (about 445 constraints): the bit is boolean and `x·(1 − 2b)`, which is x or −x, is at
/// most `(q − 1)/2` as an integer (its 255 bits, `enforce_at_most`). For x ≠ 0 exactly one bit
/// passes; for x = 0 both do, so callers must exclude x = 0 (no subgroup point but the identity
/// has it, and [`verify_gadget`] rejects R = 0).
pub fn sign_bit(cs: ConstraintSystemRef<Fr>, x: &FpVar<Fr>) -> Result<Boolean<Fr>, SynthesisError> {
    let bit = Boolean::new_witness(cs, || {
        let x = x.value()?;
        Ok(x > -x)
    })?;
    let small = x - FpVar::from(bit.clone()) * x.double()?;
    let bits = small.to_non_unique_bits_le()?;
    enforce_at_most(&bits, Fr::MODULUS_MINUS_ONE_DIV_TWO)?;
    Ok(bit)
}

/// Enforces `¬(a ∧ b)` with at most one constraint: `a · b = 0`.
pub(crate) fn enforce_not_both(a: &Boolean<Fr>, b: &Boolean<Fr>) -> Result<(), SynthesisError> {
    match (a, b) {
        (Boolean::Constant(false), _) | (_, Boolean::Constant(false)) => Ok(()),
        (Boolean::Constant(true), other) | (other, Boolean::Constant(true)) => {
            other.enforce_equal(&Boolean::FALSE)
        }
        _ => FpVar::from(a.clone()).mul_equals(&FpVar::from(b.clone()), &FpVar::zero()),
    }
}

/// `[s]G` from s's little-endian bits: windows of three bits, each looking up `[v·8^j]G` in a
/// constant table (three constraints: b0·b1, and one product by b2 per coordinate) and adding
/// it (six). Only the first [`SCALAR_BITS`] bits are used: [`verify_gadget`] enforces the others
/// to be 0.
fn fixed_base_mul(s_bits: &[Boolean<Fr>]) -> Result<EdwardsVar, SynthesisError> {
    let bit = |i: usize| s_bits.get(i).cloned().unwrap_or(Boolean::FALSE);
    let mut acc: Option<EdwardsVar> = None;
    for (j, (xs, ys)) in fixed_base_tables().iter().enumerate() {
        let [b0, b1, b2] = [0, 1, 2].map(|k| bit(j * FIXED_WINDOW + k));
        let b01 = &b0 & &b1;
        let monomials = [&b0, &b1, &b01].map(|b| FpVar::from(b.clone()));
        // A polynomial in (b0, b1, b2) with coefficients c (indexed by monomial mask): split as
        // low(b0, b1) + b2 · high(b0, b1), both linear in the monomials 1, b0, b1, b0·b1.
        let eval = |c: &[Fr; 8]| {
            let [c0, c1, c2, c3, c4, c5, c6, c7] = *c;
            let linear = |k: [Fr; 4]| {
                let [k0, k1, k2, k3] = k;
                FpVar::Constant(k0)
                    + monomials
                        .iter()
                        .zip([k1, k2, k3])
                        .map(|(m, k)| m * k)
                        .sum::<FpVar<Fr>>()
            };
            let low = linear([c0, c1, c2, c3]);
            let high = linear([c4, c5, c6, c7]);
            low + high * FpVar::from(b2.clone())
        };
        let point = EdwardsVar::new(eval(xs), eval(ys));
        acc = Some(match acc {
            None => point,
            Some(a) => a + point,
        });
    }
    Ok(acc.unwrap_or_else(EdwardsVar::zero))
}

/// `[k]P` for a variable point P on the curve and k given by little-endian bits: a table of
/// P, 2P, 3P (eleven constraints), then, from the top, two bits at a time: double twice (ten),
/// look up 0, P, 2P or 3P (six) and add (six). The formulas are complete, so this is exact for
/// every k and every point on the curve.
fn variable_base_mul(p: &EdwardsVar, bits: &[Boolean<Fr>]) -> Result<EdwardsVar, SynthesisError> {
    let p2 = p.double()?;
    let p3 = &p2 + p;
    // Coordinates relative to the identity (0, 1): entry v is ([v]P.x, [v]P.y − 1).
    let table = [p, &p2, &p3].map(|q| (q.x.clone(), &q.y - Fr::ONE));
    let mut acc: Option<EdwardsVar> = None;
    for window in bits.chunks(2).rev() {
        let b0 = window.first().cloned().unwrap_or(Boolean::FALSE);
        let b1 = window.get(1).cloned().unwrap_or(Boolean::FALSE);
        let (f0, f1) = (FpVar::from(b0), FpVar::from(b1));
        // v = b0 + 2·b1 picks entry v (entry 0 is the identity, all zeros here):
        // b0 · (t1 + b1 · (t3 − t1 − t2)) + b1 · t2, three products per coordinate.
        let pick = |t1: &FpVar<Fr>, t2: &FpVar<Fr>, t3: &FpVar<Fr>| {
            let top = &f1 * (t3 - t1 - t2);
            &f0 * (t1 + top) + &f1 * t2
        };
        let [(x1, y1), (x2, y2), (x3, y3)] = &table;
        let point = EdwardsVar::new(pick(x1, x2, x3), pick(y1, y2, y3) + Fr::ONE);
        acc = Some(match acc {
            None => point,
            Some(mut a) => {
                a.double_in_place()?;
                a.double_in_place()?;
                a + point
            }
        });
    }
    Ok(acc.unwrap_or_else(EdwardsVar::zero))
}

/// Allocates a witness point and enforces that it is on the curve and in the prime-order
/// subgroup (21 constraints): `EdwardsVar::new_witness`, which allocates P' = \[8⁻¹ mod r_J\]P,
/// checks it is on the curve (3) and returns \[8\]P' (three doublings and an addition to the
/// constant identity, 18), always a subgroup point, and equal to P exactly when P is one. Use it for public keys that nothing else binds to validated coordinates.
pub fn alloc_subgroup_point(
    cs: ConstraintSystemRef<Fr>,
    f: impl FnOnce() -> Result<Point, SynthesisError>,
) -> Result<EdwardsVar, SynthesisError> {
    EdwardsVar::new_witness(cs, f)
}

/// Allocates a public key given as its 32 bytes, with [`alloc_subgroup_point`]. Bytes that do
/// not decode ([`decode_point`]) give `SynthesisError::Unsatisfiable` when the value is asked
/// for.
pub fn alloc_public_key(
    cs: ConstraintSystemRef<Fr>,
    f: impl FnOnce() -> Result<[u8; PUBLIC_KEY_BYTES], SynthesisError>,
) -> Result<EdwardsVar, SynthesisError> {
    alloc_subgroup_point(cs, || {
        decode_point(&f()?).ok_or(SynthesisError::Unsatisfiable)
    })
}

/// Allocates a signature given as its 64 bytes: R's coordinates as two witnesses (no
/// constraint), s as [`SCALAR_BITS`] boolean witnesses (one constraint each).
///
/// R must decode ([`decode_point`]) and s must fit in [`SCALAR_BITS`] bits, or the values are
/// `SynthesisError::Unsatisfiable` when asked for. An s in `[r_J, 2²⁵²)` is allocated as it
/// is, and [`verify_gadget`] rejects it.
pub fn alloc_signature(
    cs: ConstraintSystemRef<Fr>,
    f: impl FnOnce() -> Result<[u8; SIGNATURE_BYTES], SynthesisError>,
) -> Result<SignatureVar, SynthesisError> {
    let decoded = f().and_then(|bytes| {
        let (Some(r_bytes), Some(s_bytes)) = (
            bytes.first_chunk::<PUBLIC_KEY_BYTES>(),
            bytes.last_chunk::<32>(),
        ) else {
            return Err(SynthesisError::Unsatisfiable);
        };
        let r = decode_point(r_bytes).ok_or(SynthesisError::Unsatisfiable)?;
        let s = <Scalar as PrimeField>::BigInt::from_bits_le(
            &s_bytes
                .iter()
                .flat_map(|byte| (0..8).map(move |i| (byte >> i) & 1 == 1))
                .collect::<Vec<_>>(),
        );
        if s.num_bits() as usize > SCALAR_BITS {
            return Err(SynthesisError::Unsatisfiable);
        }
        Ok((r, s))
    });
    let r = EdwardsVar::new_variable_omit_on_curve_check(
        cs.clone(),
        || decoded.map(|(r, _)| r),
        AllocationMode::Witness,
    )?;
    let s_bits = (0..SCALAR_BITS)
        .map(|i| Boolean::new_witness(cs.clone(), || decoded.map(|(_, s)| s.get_bit(i))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SignatureVar { r, s_bits })
}

/// Enforces `a · b ≠ 0` with two constraints: `a · b = p` and `p · p⁻¹ = 1`.
fn enforce_nonzero_product(
    cs: ConstraintSystemRef<Fr>,
    a: &FpVar<Fr>,
    b: &FpVar<Fr>,
) -> Result<(), SynthesisError> {
    let product = a * b;
    let inverse = FpVar::new_witness(cs, || Ok(product.value()?.inverse().unwrap_or(Fr::ZERO)))?;
    product.mul_equals(&inverse, &FpVar::one())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;
    use ark_relations::gr1cs::{ConstraintSystem, SynthesisMode};
    use verifier::zk_transfer::schnorr::{
        SigningKey, decode_scalar, encode_point, public_key, public_key_coordinates, sign,
    };

    struct Built {
        cs: ConstraintSystemRef<Fr>,
        /// Constraints of `verify_gadget` alone.
        gadget: usize,
    }

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed(&[n; 32])
    }

    /// Builds a circuit verifying (pk, R, s bits, msg), the parts allocated as the caller would.
    fn build_with(pk: [u8; 32], r: (Fr, Fr), s_bits: Vec<bool>, msg: Fr) -> Built {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = alloc_public_key(cs.clone(), || Ok(pk)).unwrap();
        let r = EdwardsVar::new(
            FpVar::new_witness(cs.clone(), || Ok(r.0)).unwrap(),
            FpVar::new_witness(cs.clone(), || Ok(r.1)).unwrap(),
        );
        let s_bits: Vec<Boolean<Fr>> = s_bits
            .into_iter()
            .map(|b| Boolean::new_witness(cs.clone(), || Ok(b)).unwrap())
            .collect();
        let m = FpVar::new_witness(cs.clone(), || Ok(msg)).unwrap();
        let before = cs.num_constraints();
        verify_gadget(cs.clone(), &a, &r, &s_bits, &m).unwrap();
        let gadget = cs.num_constraints() - before;
        Built { cs, gadget }
    }

    fn parts(sig: &[u8; 64]) -> ((Fr, Fr), Scalar) {
        let r = decode_point(sig.first_chunk::<32>().unwrap()).unwrap();
        let s = decode_scalar(sig.last_chunk::<32>().unwrap()).unwrap();
        ((r.x, r.y), s)
    }

    fn bits_of<B: BigInteger>(s: B, n: usize) -> Vec<bool> {
        (0..n).map(|i| s.get_bit(i)).collect()
    }

    fn build(pk: [u8; 32], sig: [u8; 64], msg: Fr) -> Built {
        let (r, s) = parts(&sig);
        build_with(pk, r, bits_of(s.into_bigint(), SCALAR_BITS), msg)
    }

    /// The measured cost of `verify_gadget`, and the bound the tests hold it to.
    const GADGET_CONSTRAINTS: usize = 4_964;

    #[test]
    fn zk_schnorr_valid_signature_is_satisfied() {
        for n in 0..4u8 {
            let k = key(n);
            let msg = Fr::from(1000u64 + u64::from(n));
            let sig = sign(&k, msg);
            assert!(verifier::zk_transfer::schnorr::verify(
                &public_key(&k),
                &sig,
                msg
            ));
            let built = build(public_key(&k), sig, msg);
            assert!(built.cs.is_satisfied().unwrap(), "key {n}");
            assert_eq!(built.gadget, GADGET_CONSTRAINTS);
        }
        // A message at the top of the field.
        let k = key(9);
        let msg = -Fr::ONE;
        let built = build(public_key(&k), sign(&k, msg), msg);
        assert!(built.cs.is_satisfied().unwrap());
    }

    #[test]
    fn zk_schnorr_constraint_count() {
        let k = key(1);
        let msg = Fr::from(5u64);
        let sig = sign(&k, msg);
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = alloc_public_key(cs.clone(), || Ok(public_key(&k))).unwrap();
        let alloc_key = cs.num_constraints();
        let sig_var = alloc_signature(cs.clone(), || Ok(sig)).unwrap();
        let alloc_sig = cs.num_constraints() - alloc_key;
        let m = FpVar::new_witness(cs.clone(), || Ok(msg)).unwrap();
        let before = cs.num_constraints();
        verify_gadget(cs.clone(), &a, &sig_var.r, &sig_var.s_bits, &m).unwrap();
        let gadget = cs.num_constraints() - before;
        assert!(cs.is_satisfied().unwrap());
        println!(
            "schnorr: verify_gadget {gadget} constraints; alloc_public_key {alloc_key}; \
             alloc_signature {alloc_sig}; total {}",
            cs.num_constraints()
        );
        assert!(gadget <= 6_000, "{gadget} constraints");
        assert_eq!(gadget, GADGET_CONSTRAINTS);
        assert_eq!(alloc_key, 21);
        assert_eq!(alloc_sig, SCALAR_BITS);
    }

    #[test]
    fn zk_schnorr_wrong_message_is_unsatisfied() {
        let k = key(2);
        let sig = sign(&k, Fr::from(7u64));
        let built = build(public_key(&k), sig, Fr::from(8u64));
        assert!(!built.cs.is_satisfied().unwrap());
    }

    #[test]
    fn zk_schnorr_wrong_key_is_unsatisfied() {
        let msg = Fr::from(7u64);
        let sig = sign(&key(2), msg);
        let built = build(public_key(&key(3)), sig, msg);
        assert!(!built.cs.is_satisfied().unwrap());
    }

    #[test]
    fn zk_schnorr_wrong_r_is_unsatisfied() {
        let k = key(4);
        let msg = Fr::from(11u64);
        let sig = sign(&k, msg);
        let (r, s) = parts(&sig);
        let s_bits = bits_of(s.into_bigint(), SCALAR_BITS);
        // Another valid point (the R of another signature).
        let (other_r, _) = parts(&sign(&k, Fr::from(12u64)));
        for bad in [
            other_r,
            (-r.0, r.1),
            (r.0, r.1 + Fr::ONE),
            (r.0 + Fr::ONE, r.1),
            (Fr::ZERO, Fr::ONE),
        ] {
            let built = build_with(public_key(&k), bad, s_bits.clone(), msg);
            assert!(!built.cs.is_satisfied().unwrap(), "{bad:?}");
        }
        // R plus a torsion point: on the curve, not in the subgroup.
        let t = Point::new_unchecked(Fr::ZERO, -Fr::ONE);
        let rp = Point::new_unchecked(r.0, r.1);
        let mixed = (rp + t).into_affine();
        let built = build_with(public_key(&k), (mixed.x, mixed.y), s_bits, msg);
        assert!(!built.cs.is_satisfied().unwrap());
    }

    #[test]
    fn zk_schnorr_wrong_s_is_unsatisfied() {
        let k = key(5);
        let msg = Fr::from(13u64);
        let sig = sign(&k, msg);
        let (r, s) = parts(&sig);
        // s + 1, and single flipped bits.
        let built = build_with(
            public_key(&k),
            r,
            bits_of((s + Scalar::ONE).into_bigint(), SCALAR_BITS),
            msg,
        );
        assert!(!built.cs.is_satisfied().unwrap());
        for i in [0, 1, 100, 250, 251] {
            let mut bits = bits_of(s.into_bigint(), SCALAR_BITS);
            bits[i] = !bits[i];
            let built = build_with(public_key(&k), r, bits, msg);
            assert!(!built.cs.is_satisfied().unwrap(), "bit {i}");
        }
        // s + r_J: the same point [s]G, but not canonical. Fits in 253 bits.
        let mut big = s.into_bigint();
        assert!(!big.add_with_carry(&Scalar::MODULUS));
        let built = build_with(public_key(&k), r, bits_of(big, 256), msg);
        assert!(!built.cs.is_satisfied().unwrap());
        // The only failure there is the range check: with the raw equation it would hold.
        assert_eq!(
            generator().mul_bigint(big),
            generator().mul_bigint(s.into_bigint())
        );
        // Padding with high zero bits, or passing fewer bits, changes nothing for a valid s.
        let built = build_with(public_key(&k), r, bits_of(s.into_bigint(), 256), msg);
        assert!(built.cs.is_satisfied().unwrap());
    }

    #[test]
    fn zk_schnorr_s_range_check_edges() {
        // The range check alone, at r_J - 1 (accepted) and r_J, r_J + 1, 2^252 - 1 (rejected).
        let check = |value: <Scalar as PrimeField>::BigInt, n: usize| {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let bits: Vec<Boolean<Fr>> = bits_of(value, n)
                .into_iter()
                .map(|b| Boolean::new_witness(cs.clone(), || Ok(b)).unwrap())
                .collect();
            let mut bound = Scalar::MODULUS;
            bound.sub_with_borrow(&1u64.into());
            enforce_at_most(&bits, bound).unwrap();
            cs.is_satisfied().unwrap()
        };
        let r = Scalar::MODULUS;
        let mut r_minus_1 = r;
        r_minus_1.sub_with_borrow(&1u64.into());
        let mut r_plus_1 = r;
        r_plus_1.add_with_carry(&1u64.into());
        let mut all_ones = <Scalar as PrimeField>::BigInt::from(1u64) << 252;
        all_ones.sub_with_borrow(&1u64.into());
        assert!(check(r_minus_1, 252));
        assert!(check(r_minus_1, 256));
        assert!(check(0u64.into(), 252));
        assert!(check(5u64.into(), 3));
        assert!(!check(r, 252));
        assert!(!check(r_plus_1, 252));
        assert!(!check(all_ones, 252));
        assert!(!check(
            <Scalar as PrimeField>::BigInt::from(1u64) << 252,
            253
        ));
    }

    fn witness_bits(cs: &ConstraintSystemRef<Fr>, bits: Vec<bool>) -> Vec<Boolean<Fr>> {
        bits.into_iter()
            .map(|b| Boolean::new_witness(cs.clone(), || Ok(b)).unwrap())
            .collect()
    }

    #[test]
    fn zk_schnorr_fixed_base_mul_matches_native() {
        let mut r_minus_1 = Scalar::MODULUS;
        r_minus_1.sub_with_borrow(&1u64.into());
        let mut cases: Vec<<Scalar as PrimeField>::BigInt> = vec![
            0u64.into(),
            1u64.into(),
            7u64.into(),
            8u64.into(),
            r_minus_1,
        ];
        for n in 0..6u8 {
            let k = key(n);
            cases.push(parts(&sign(&k, Fr::from(u64::from(n)))).1.into_bigint());
        }
        for s in cases {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let bits = witness_bits(&cs, bits_of(s, SCALAR_BITS));
            let p = fixed_base_mul(&bits).unwrap();
            assert_eq!(p.value().unwrap(), generator().mul_bigint(s), "{s}");
            assert!(cs.is_satisfied().unwrap());
            // 84 windows of three constraints, 83 additions of six.
            assert_eq!(cs.num_constraints() - SCALAR_BITS, 84 * 3 + 83 * 6);
        }
        // Constant bits cost nothing.
        let bits: Vec<Boolean<Fr>> = bits_of(<Fr as PrimeField>::BigInt::from(12345u64), 20)
            .into_iter()
            .map(Boolean::constant)
            .collect();
        let p = fixed_base_mul(&bits).unwrap();
        assert_eq!(p.value().unwrap(), generator().mul_bigint([12345u64]));
    }

    #[test]
    fn zk_schnorr_variable_base_mul_matches_native() {
        let a = key(3).public_point();
        let mut q_minus_1 = Fr::MODULUS;
        q_minus_1.sub_with_borrow(&1u64.into());
        let mut cases: Vec<<Fr as PrimeField>::BigInt> = vec![
            0u64.into(),
            1u64.into(),
            2u64.into(),
            3u64.into(),
            4u64.into(),
            q_minus_1,
            Scalar::MODULUS,
        ];
        for n in 0..4u64 {
            cases.push(
                verifier::zk_transfer::poseidon::hash2(Fr::from(n), Fr::ONE, Fr::ONE).into_bigint(),
            );
        }
        for e in cases {
            for n in [255usize, 256, 8] {
                if e.num_bits() as usize > n {
                    continue;
                }
                let cs = ConstraintSystem::<Fr>::new_ref();
                let p = EdwardsVar::new_witness(cs.clone(), || Ok(a)).unwrap();
                let bits = witness_bits(&cs, bits_of(e, n));
                let out = variable_base_mul(&p, &bits).unwrap();
                assert_eq!(out.value().unwrap(), a.mul_bigint(e), "{e} in {n} bits");
                assert!(cs.is_satisfied().unwrap());
            }
        }
        // Also exact on a point outside the subgroup (the formulas are complete on the curve).
        let t = Point::new_unchecked(Fr::ZERO, -Fr::ONE);
        let mixed = (a + t).into_affine();
        let cs = ConstraintSystem::<Fr>::new_ref();
        let p = EdwardsVar::new_variable_omit_on_curve_check(
            cs.clone(),
            || Ok(mixed),
            AllocationMode::Witness,
        )
        .unwrap();
        let bits = witness_bits(
            &cs,
            bits_of(<Fr as PrimeField>::BigInt::from(12345u64), 255),
        );
        let out = variable_base_mul(&p, &bits).unwrap();
        // (`EdwardsVar::value` debug-asserts subgroup membership: compare coordinates.)
        let expected = mixed.mul_bigint([12345u64]).into_affine();
        assert_eq!(
            (out.x.value().unwrap(), out.y.value().unwrap()),
            (expected.x, expected.y)
        );
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn zk_schnorr_strict_bits_reject_the_second_representation() {
        // x = 5: the bits of 5 pass; the bits of 5 + q (which fit in 255 bits) recompose to
        // the same field element but are rejected.
        let x = Fr::from(5u64);
        let mut alias = x.into_bigint();
        assert!(!alias.add_with_carry(&Fr::MODULUS));
        assert!(alias.num_bits() <= 255);
        for (value, ok) in [(x.into_bigint(), true), (alias, false)] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let bits = witness_bits(&cs, bits_of(value, 255));
            let packed = Boolean::le_bits_to_fp(&bits).unwrap();
            assert_eq!(packed.value().unwrap(), x);
            let mut q_minus_1 = Fr::MODULUS;
            q_minus_1.sub_with_borrow(&1u64.into());
            enforce_at_most(&bits, q_minus_1).unwrap();
            assert_eq!(cs.is_satisfied().unwrap(), ok);
        }
        // strict_bits itself, at the top of the field.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let v = FpVar::new_witness(cs.clone(), || Ok(-Fr::ONE)).unwrap();
        let bits = strict_bits(&v).unwrap();
        assert_eq!(bits.len(), 255);
        assert!(cs.is_satisfied().unwrap());
    }

    #[test]
    fn zk_schnorr_identity_key_cannot_sign() {
        // With A = 0, s = k and R = [k]G satisfy [s]G - [e]A = R for any message: the A ≠ 0
        // check is what rejects it.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = EdwardsVar::new_witness(cs.clone(), || Ok(Point::zero())).unwrap();
        let k = Scalar::from(4242u64);
        let r = generator().mul_bigint(k.into_bigint()).into_affine();
        let r_var = EdwardsVar::new_witness(cs.clone(), || Ok(r)).unwrap();
        let s_bits: Vec<Boolean<Fr>> = bits_of(k.into_bigint(), SCALAR_BITS)
            .into_iter()
            .map(|b| Boolean::new_witness(cs.clone(), || Ok(b)).unwrap())
            .collect();
        let m = FpVar::new_witness(cs.clone(), || Ok(Fr::from(1u64))).unwrap();
        verify_gadget(cs.clone(), &a, &r_var, &s_bits, &m).unwrap();
        assert!(!cs.is_satisfied().unwrap());
        assert!(cs.which_is_unsatisfied().unwrap().is_some());
    }

    #[test]
    fn zk_schnorr_small_order_key_is_cleared_by_allocation() {
        // A key with a torsion component, allocated with `alloc_subgroup_point`, becomes its
        // prime-order part: its coordinates are no longer the key's, so a leaf hash of the
        // key's coordinates would not match, and a signature made for it fails.
        let k = key(6);
        let t = Point::new_unchecked(Fr::ZERO, -Fr::ONE);
        let mixed = (k.public_point() + t).into_affine();
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = alloc_subgroup_point(cs.clone(), || Ok(mixed)).unwrap();
        assert_eq!(a.value().unwrap().into_affine(), k.public_point());
        assert!(cs.is_satisfied().unwrap());
        // The order-2 point alone becomes the identity, which `verify_gadget` rejects.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = alloc_subgroup_point(cs.clone(), || Ok(t)).unwrap();
        assert!(a.value().unwrap().into_affine().is_zero());
        // A point off the curve makes the allocation itself unsatisfied (or, for points where
        // the doubling formula divides by zero, fail outright).
        for (x, y) in [(2u64, 3u64), (5, 7), (1, 1)] {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let off = Point::new_unchecked(Fr::from(x), Fr::from(y));
            assert!(!off.is_on_curve());
            if alloc_subgroup_point(cs.clone(), || Ok(off)).is_ok() {
                assert!(!cs.is_satisfied().unwrap(), "({x}, {y})");
            }
        }
    }

    #[test]
    fn zk_schnorr_alloc_public_key_matches_coordinates() {
        let k = key(8);
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = alloc_public_key(cs.clone(), || Ok(public_key(&k))).unwrap();
        let (x, y) = public_key_coordinates(&public_key(&k)).unwrap();
        assert_eq!((a.x.value().unwrap(), a.y.value().unwrap()), (x, y));
        assert_eq!(
            encode_point(&a.value().unwrap().into_affine()),
            public_key(&k)
        );
        assert!(cs.is_satisfied().unwrap());
        // Undecodable bytes cannot be allocated in proving mode.
        let cs = ConstraintSystem::<Fr>::new_ref();
        assert!(alloc_public_key(cs.clone(), || Ok([0xff; 32])).is_err());
        let cs = ConstraintSystem::<Fr>::new_ref();
        assert!(alloc_signature(cs.clone(), || Ok([0xff; 64])).is_err());
    }

    #[test]
    fn zk_schnorr_setup_mode_needs_no_values() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_mode(SynthesisMode::Setup);
        let a = alloc_public_key(cs.clone(), || Err(SynthesisError::AssignmentMissing)).unwrap();
        let sig = alloc_signature(cs.clone(), || Err(SynthesisError::AssignmentMissing)).unwrap();
        let m = FpVar::new_witness(cs.clone(), || -> Result<Fr, _> {
            Err(SynthesisError::AssignmentMissing)
        })
        .unwrap();
        let before = cs.num_constraints();
        verify_gadget(cs.clone(), &a, &sig.r, &sig.s_bits, &m).unwrap();
        assert_eq!(cs.num_constraints() - before, GADGET_CONSTRAINTS);
        assert_eq!(before, 21 + SCALAR_BITS);
    }
}
