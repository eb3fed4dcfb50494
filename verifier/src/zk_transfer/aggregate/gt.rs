//! Elements of BLS12-381's target group GT (the order-r subgroup of `Fq12*`): compressed
//! encoding, a fast and sound subgroup check, and multi-exponentiation.
//!
//! **Encoding (torus compression).** An element of GT has norm 1 over `Fq6`: writing
//! `g = g0 + g1·w` (`Fq12 = Fq6[w]/(w² − v)`), `g·ḡ = g0² − v·g1² = 1`. Every such `g ≠ 1`
//! is `(c + w)/(c − w)` for exactly one `c = (1 + g0)/g1` in `Fq6` (the algebraic torus
//! `T2(Fq6)`), so 288 bytes (`c`, six 48-byte coordinates) instead of 576. The identity
//! has no `c`; it is written as `c = 0`, which otherwise would decode to `−1`, never an
//! element of GT (its order 2 does not divide r). Decoding computes
//! `g = (c² + v + 2c·w)/(c² − v)` (`c² − v ≠ 0`: v is not a square in `Fq6`), so every
//! decoded value has norm 1, and then checks membership in GT ([`is_in_gt`]).
//!
//! **Subgroup check.** For a BLS12 curve with parameter u (`r = u⁴ − u² + 1`,
//! `p ≡ u mod r`), an element `g` of the norm-1 torus `T2(Fq6)` is in GT if and only if
//! `g^p = g^u`: the order of `g` divides `p⁶ + 1`, and
//! `gcd(p⁶ + 1, p − u) = gcd(u⁶ + 1, p − u) = r·gcd(u² + 1, (u − 1)²/3) = r` (every
//! common prime divisor of `u² + 1` and `u − 1` divides 2, and `u − 1` is odd). `g^p` is a
//! Frobenius map, `g^u` 63 cyclotomic squarings and 5 multiplications: about an eighth of
//! the generic check `g^r = 1`. Cyclotomic squaring is only valid inside the cyclotomic
//! subgroup (order dividing `p⁴ − p² + 1`), so that is checked first, with two Frobenius maps
//! (`g^(p⁴) · g = g^(p²)`); the tests compare the whole check with `g^r = 1` on elements
//! inside and outside GT.

use ark_bls12_381::{Fq6, Fq12, Fr};
use ark_ff::{AdditiveGroup, BigInteger, CyclotomicMultSubgroup, Field, One, PrimeField, Zero};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rayon::prelude::*;

/// Bytes of a compressed GT element: one `Fq6` element.
pub const GT_BYTES: usize = 288;

/// |u| for BLS12-381 (u = −0xd201000000010000).
const U_ABS: u64 = 0xd201_0000_0001_0000;

/// `v`, the non-residue with `w² = v`.
fn v() -> Fq6 {
    Fq6::new(
        ark_bls12_381::Fq2::ZERO,
        ark_bls12_381::Fq2::ONE,
        ark_bls12_381::Fq2::ZERO,
    )
}

/// Whether `g` (of norm 1) lies in GT: cyclotomic, then `g^p = g^u` (module documentation).
pub fn is_in_gt(g: &Fq12) -> bool {
    if g.is_zero() {
        return false;
    }
    // Norm 1 over Fq6, so that the conjugate is the inverse: decoded elements always are, but
    // the check stands on its own for any caller.
    if (*g * g.cyclotomic_inverse().unwrap_or_default()) != Fq12::one() {
        return false;
    }
    // Cyclotomic: g^(p^4 - p^2 + 1) = 1.
    if g.frobenius_map(4) * g != g.frobenius_map(2) {
        return false;
    }
    // g^u with u negative: the inverse (conjugate) of g^|u|.
    let mut g_u = g.cyclotomic_exp([U_ABS]);
    g_u.conjugate_in_place();
    g.frobenius_map(1) == g_u
}

/// The compressed encoding of a GT element (module documentation).
pub fn compress(g: &Fq12) -> [u8; GT_BYTES] {
    let c = if g.c1.is_zero() {
        // Only the identity (and -1, never in GT) has g1 = 0.
        Fq6::ZERO
    } else {
        (Fq6::one() + g.c0) * g.c1.inverse().unwrap_or_default()
    };
    let mut out = [0u8; GT_BYTES];
    // An Fq6 element always serializes to exactly GT_BYTES bytes.
    let _ = c.serialize_compressed(out.as_mut_slice());
    out
}

/// Decodes a compressed GT element: canonical coordinates, then membership in GT. `None` for
/// any other bytes.
pub fn decompress(bytes: &[u8; GT_BYTES]) -> Option<Fq12> {
    decompress_unchecked(bytes).filter(is_in_gt)
}

/// Decodes the torus element a compressed GT element stands for, without the subgroup check
/// (the caller runs [`is_in_gt`], e.g. many in parallel). `None` for non-canonical
/// coordinates.
pub fn decompress_unchecked(bytes: &[u8; GT_BYTES]) -> Option<Fq12> {
    let c = Fq6::deserialize_compressed(bytes.as_slice()).ok()?;
    if c.is_zero() {
        return Some(Fq12::one());
    }
    let c2 = c.square();
    let t = (c2 - v()).inverse()?;
    Some(Fq12::new((c2 + v()) * t, c.double() * t))
}

/// `Π bases[i]^scalars[i]` for elements of GT: signed windows with the squarings shared by
/// all terms (Straus), split over threads. Inverses are conjugates, so each base needs a
/// table of its odd powers only.
pub fn multi_exp(terms: &[(Fq12, Fr)]) -> Fq12 {
    const WINDOW: usize = 5;
    let chunk = terms
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(1);
    terms
        .par_chunks(chunk)
        .map(|part| {
            // Odd powers g, g^3, ..., g^(2^(WINDOW-1) - 1) and the wNAF digits of each term.
            let tables: Vec<Vec<Fq12>> = part
                .iter()
                .map(|(g, _)| {
                    let square = g.cyclotomic_square();
                    let mut table = Vec::with_capacity(1 << (WINDOW - 2));
                    let mut power = *g;
                    for _ in 0..(1usize << (WINDOW - 2)) {
                        table.push(power);
                        power *= square;
                    }
                    table
                })
                .collect();
            let digits: Vec<Vec<i64>> = part
                .iter()
                .map(|(_, e)| e.into_bigint().find_wnaf(WINDOW).unwrap_or_default())
                .collect();
            let longest = digits.iter().map(Vec::len).max().unwrap_or(0);
            let mut acc = Fq12::one();
            for bit in (0..longest).rev() {
                acc.cyclotomic_square_in_place();
                for (table, digits) in tables.iter().zip(&digits) {
                    let Some(&digit) = digits.get(bit) else {
                        continue;
                    };
                    let index = usize::try_from(digit.unsigned_abs() / 2).unwrap_or(0);
                    let Some(entry) = table.get(index) else {
                        continue;
                    };
                    if digit > 0 {
                        acc *= entry;
                    } else if digit < 0 {
                        let mut inverse = *entry;
                        inverse.conjugate_in_place();
                        acc *= inverse;
                    }
                }
            }
            acc
        })
        .reduce(Fq12::one, |a, b| a * b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bls12_381::{Bls12_381, G1Projective, G2Projective};
    use ark_ec::pairing::Pairing;
    use ark_ff::UniformRand;
    use ark_std::rand::{SeedableRng, rngs::StdRng};

    fn random_gt(rng: &mut StdRng) -> Fq12 {
        Bls12_381::pairing(G1Projective::rand(rng), G2Projective::rand(rng)).0
    }

    /// A random element of the norm-1 torus: `f^(p^6 - 1)` for a random `f`.
    fn random_torus(rng: &mut StdRng) -> Fq12 {
        let f = Fq12::rand(rng);
        let mut conj = f;
        conj.conjugate_in_place();
        conj * f.inverse().unwrap()
    }

    fn generic_in_gt(g: &Fq12) -> bool {
        g.pow(Fr::MODULUS) == Fq12::one()
    }

    #[test]
    fn w_squared_is_v() {
        let w = Fq12::new(Fq6::ZERO, Fq6::one());
        assert_eq!(w.square(), Fq12::new(v(), Fq6::ZERO));
    }

    #[test]
    fn compression_round_trips_gt_elements_and_the_identity() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..8 {
            let g = random_gt(&mut rng);
            assert!(is_in_gt(&g));
            assert_eq!(decompress(&compress(&g)), Some(g));
        }
        assert_eq!(compress(&Fq12::one()), [0u8; GT_BYTES]);
        assert_eq!(decompress(&[0u8; GT_BYTES]), Some(Fq12::one()));
    }

    #[test]
    fn the_fast_check_agrees_with_the_generic_one_inside_and_outside_gt() {
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..6 {
            let gt = random_gt(&mut rng);
            // A torus element; raised to p^2 + 1 it is cyclotomic (so the check reaches the
            // g^p = g^u test); raised to r it has order prime to r.
            let t = random_torus(&mut rng);
            let cyclotomic = t.frobenius_map(2) * t;
            let cofactor_order = cyclotomic.pow(Fr::MODULUS);
            let cases = [
                (gt, true),
                (gt.frobenius_map(1), true),
                (t, false),
                (cyclotomic, false),
                (cofactor_order, false),
                (gt * cofactor_order, false),
            ];
            for (g, expected) in cases {
                assert_eq!(generic_in_gt(&g), expected);
                assert_eq!(is_in_gt(&g), expected);
            }
        }
    }

    #[test]
    fn bytes_of_elements_outside_gt_do_not_decode() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut rejected = 0;
        for _ in 0..8 {
            let t = random_torus(&mut rng);
            if generic_in_gt(&t) {
                continue;
            }
            assert_eq!(decompress(&compress(&t)), None);
            rejected += 1;
        }
        assert!(rejected > 0);
        // Non-canonical coordinates (all 0xff) are refused before any arithmetic.
        assert_eq!(decompress(&[0xff; GT_BYTES]), None);
    }

    #[test]
    fn multi_exp_is_the_product_of_exponentiations() {
        let mut rng = StdRng::seed_from_u64(4);
        for n in [0usize, 1, 2, 7, 33] {
            let terms: Vec<(Fq12, Fr)> = (0..n)
                .map(|_| (random_gt(&mut rng), Fr::rand(&mut rng)))
                .collect();
            let expected = terms
                .iter()
                .fold(Fq12::one(), |acc, (g, e)| acc * g.pow(e.into_bigint()));
            assert_eq!(multi_exp(&terms), expected);
        }
    }
}
