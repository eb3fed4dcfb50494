//! Schnorr signatures over Jubjub with a Poseidon2 challenge: the signature scheme of the
//! `zk-transfer` model.
//!
//! The in-circuit check lives in the prover (`prover::zk::schnorr`) and uses the constants and
//! the generator from here, so each definition exists once.
//!
//! # The group
//!
//! Jubjub is the twisted Edwards curve `-x² + y² = 1 + d·x²·y²`, `d = -10240/10241`, over the
//! BLS12-381 scalar field `Fr` (here also called q, 255 bits), as implemented by
//! `ark-ed-on-bls12-381`. Its order is 8·r_J, where r_J, the order of the prime-order subgroup
//! and the modulus of [`Scalar`], is the 252-bit prime
//! `6554484396890773809930967563523245729705921265872317281365359162392183254199`.
//! Every key and every signature point lies in that subgroup (the decoding rules below).
//!
//! The generator G ([`generator`]) is `ark-ed-on-bls12-381`'s `JubjubConfig::GENERATOR`, the
//! affine point
//!
//! - x = `8076246640662884909881801758704306714034609987455869804520522091855516602923`,
//! - y = `13262374693698910701929044844600465831413122818447359594527400194675274060458`,
//!
//! which generates the prime-order subgroup (a test checks `[r_J]G = 0` and `G ≠ 0`). It is
//! arkworks' generator, not one of Zcash Sapling's generators.
//!
//! # Keys
//!
//! - **Seed**: 32 bytes ([`SEED_BYTES`]), the only secret a user stores.
//! - **Secret key** sk: the [`Scalar`] `SHA3-512(KEY_DERIVATION_DOMAIN ‖ seed) mod r_J`, the
//!   64-byte digest read as a little-endian integer ([`SigningKey::from_seed`]).
//! - **Public key** A = \[sk\]G, on the wire as a 32-byte point encoding ([`public_key`]).
//!
//! # Point encoding (32 bytes, [`PUBLIC_KEY_BYTES`])
//!
//! arkworks' canonical compressed encoding of a twisted Edwards point (x, y):
//!
//! - bytes 0..32: y as a 256-bit little-endian integer (y < q < 2²⁵⁵, so bit 255 is free);
//! - bit 7 of byte 31 (bit 255 of the integer): 1 when x, as an integer in `[0, q)`, is the
//!   larger of x and q − x (x > (q − 1)/2), else 0.
//!
//! Decoding ([`decode_point`]) accepts the 32 bytes only when all of these hold, and otherwise
//! rejects them:
//!
//! 1. y (bit 255 cleared) is below q;
//! 2. some x satisfies the curve equation with that y (the point is on the curve);
//! 3. the point is in the prime-order subgroup (`[r_J]P = 0`): this rejects every point of
//!    order 2, 4 or 8 and every point with a small-order component;
//! 4. the point is not the identity (0, 1);
//! 5. encoding the decoded point gives back the same 32 bytes. The only other encodings that
//!    pass 1–3 are those of points with x = 0 and the sign bit set, which are the identity and
//!    the point (0, −1) of order 2 again; this rule states canonicality outright.
//!
//! Public keys and the signature's R follow the same rules.
//!
//! # Signature (64 bytes, [`SIGNATURE_BYTES`])
//!
//! - bytes 0..32: R, a point in the encoding above, decoded with the same rules;
//! - bytes 32..64: s, a little-endian integer that must be below r_J (canonical; the top four
//!   bits are then always 0). A value at or above r_J is rejected, not reduced, so that a
//!   signature has exactly one valid encoding of s.
//!
//! # Message and challenge
//!
//! The message is one `Fr` element; the caller hashes whatever it signs (a transaction, with its
//! chain id and model) into it with Poseidon. The challenge is
//!
//! ```text
//! e = poseidon::hash_many(SCHNORR_CHALLENGE_DOMAIN, [R.x, R.y, A.x, A.y, msg])   (an Fr element)
//! ```
//!
//! with affine coordinates of the decoded points ([`challenge`]). e is used as the integer
//! ẽ ∈ [0, q), its canonical representative, 255 bits: **a signature is valid when
//! `[s]G = R + [ẽ]A`**. Because A has order r_J, `[ẽ]A = [ẽ mod r_J]A`, so this is the textbook
//! Schnorr equation with challenge `ẽ mod r_J`; stating it with the integer lets the circuit use
//! the 255 bits of e directly, with no reduction modulo r_J (a non-native modulus there).
//!
//! [`SCHNORR_CHALLENGE_DOMAIN`] is the integer whose big-endian bytes are the ASCII of
//! `"schnorr1"` (`0x7363686e6f727231`): below 2⁶⁴ as [`crate::zk_transfer::poseidon`] requires, and far from
//! the small integers other Poseidon uses pick, so the challenge hash shares no domain with a
//! leaf or node hash.
//!
//! # Signing
//!
//! Deterministic, no randomness needed ([`sign`]):
//!
//! ```text
//! k = SHA3-512(NONCE_DOMAIN ‖ sk ‖ msg) mod r_J   (sk, msg: 32 bytes little-endian each)
//! R = [k]G,  e = challenge(R, A, msg),  s = k + ẽ·sk mod r_J
//! ```
//!
//! A 512-bit digest is reduced, rather than a 256-bit one, because 2²⁵⁶ is only about 17.7·r_J:
//! a 256-bit digest reduced mod r_J is biased by several percent, and biased Schnorr nonces leak
//! the key over many signatures (lattice attacks). 512 bits leave a bias of about 2⁻²⁶⁰. How k is
//! chosen is not a validity rule: a verifier never sees it.
//!
//! A seed whose derived sk is 0, or a (sk, msg) whose k is 0, would give the identity as A or R,
//! which decoding rejects; each happens with probability about 2⁻²⁵².
//!
//! Signing is not constant-time (arkworks' arithmetic is not): it is meant for the prover and
//! for generated workloads, not for keys on a shared machine.

use ark_bls12_381::Fr;
use ark_ec::twisted_edwards::TECurveConfig;
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup};
use ark_ed_on_bls12_381::{EdwardsAffine, EdwardsProjective, JubjubConfig};
use ark_ff::{BigInt, BigInteger, MontFp, PrimeField};
use ark_serialize::CanonicalDeserialize;
use sha3::{Digest, Sha3_512};
use std::sync::LazyLock;

use crate::zk_transfer::poseidon;

/// The scalar field of Jubjub's prime-order subgroup: integers modulo r_J.
pub type Scalar = ark_ed_on_bls12_381::Fr;

/// The affine points of Jubjub, as `ark-ed-on-bls12-381` defines them.
pub type Point = EdwardsAffine;

/// Length of a signing key's seed.
pub const SEED_BYTES: usize = 32;
/// Length of an encoded public key (one compressed point).
pub const PUBLIC_KEY_BYTES: usize = 32;
/// Length of an encoded scalar s.
pub const SCALAR_BYTES: usize = 32;
/// Length of a signature: R (a compressed point) then s (a scalar).
pub const SIGNATURE_BYTES: usize = PUBLIC_KEY_BYTES + SCALAR_BYTES;
/// Bit length of r_J, hence of every canonical s.
pub const SCALAR_BITS: usize = 252;

/// The y coordinates of Jubjub's eight points of small order: 1 (the identity), −1 (order 2), 0
/// (the two points of order 4) and ±y₈ (the four of order 8; y₈ + (−y₈) = q). A point whose y is
/// one of these is of small order; a test recomputes them from the curve.
pub const SMALL_ORDER_Y: [Fr; 5] = [
    MontFp!("1"),
    MontFp!("-1"),
    MontFp!("0"),
    MontFp!("33175629719884006543435607313513638533300198751199617432860030069151083304669"),
    MontFp!("-33175629719884006543435607313513638533300198751199617432860030069151083304669"),
];

/// Poseidon domain of the challenge hash: ASCII `"schnorr1"` read as a big-endian integer.
pub const SCHNORR_CHALLENGE_DOMAIN: Fr = Fr::new(BigInt::new([0x7363_686e_6f72_7231, 0, 0, 0]));

/// Prefix of the hash that derives a secret key from its seed.
pub const KEY_DERIVATION_DOMAIN: &[u8] = b"stateless/jubjub-schnorr/key/v1";
/// Prefix of the hash that derives a signature's nonce.
pub const NONCE_DOMAIN: &[u8] = b"stateless/jubjub-schnorr/nonce/v1";

/// A secret key: a Jubjub scalar derived from a 32-byte seed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    secret: Scalar,
    public: Point,
}

impl SigningKey {
    /// The key whose secret scalar is `SHA3-512(KEY_DERIVATION_DOMAIN ‖ seed) mod r_J`.
    pub fn from_seed(seed: &[u8; SEED_BYTES]) -> Self {
        let secret = wide_hash_to_scalar(&[KEY_DERIVATION_DOMAIN, seed]);
        let public = generator().mul_bigint(secret.into_bigint()).into_affine();
        SigningKey { secret, public }
    }

    /// The public key as a point, A = \[sk\]G.
    pub fn public_point(&self) -> Point {
        self.public
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("SigningKey")
            .field("public_key", &hex_bytes(&encode_point(&self.public)))
            .finish_non_exhaustive()
    }
}

/// The generator G of the prime-order subgroup: `ark-ed-on-bls12-381`'s `JubjubConfig::GENERATOR`.
pub fn generator() -> Point {
    JubjubConfig::GENERATOR
}

/// The 32-byte public key of a signing key: the encoding of \[sk\]G.
pub fn public_key(key: &SigningKey) -> [u8; PUBLIC_KEY_BYTES] {
    encode_point(&key.public)
}

/// Signs a message (one field element): R = \[k\]G with the deterministic nonce k of the module
/// documentation, s = k + ẽ·sk mod r_J; returns R ‖ s.
pub fn sign(key: &SigningKey, msg: Fr) -> [u8; SIGNATURE_BYTES] {
    let k = wide_hash_to_scalar(&[NONCE_DOMAIN, &scalar_bytes(&key.secret), &fr_bytes(&msg)]);
    let r = generator().mul_bigint(k.into_bigint()).into_affine();
    let e = challenge(&r, &key.public, msg);
    let s = k + challenge_scalar(e) * key.secret;
    let mut out = [0u8; SIGNATURE_BYTES];
    let encoded = encode_point(&r).into_iter().chain(scalar_bytes(&s));
    for (byte, value) in out.iter_mut().zip(encoded) {
        *byte = value;
    }
    out
}

/// Whether `signature` is a valid signature of `msg` under `public_key`: both points decode
/// under the rules of the module documentation, s is canonical, and `[s]G = R + [ẽ]A`.
///
/// Never panics, whatever the bytes.
pub fn verify(
    public_key: &[u8; PUBLIC_KEY_BYTES],
    signature: &[u8; SIGNATURE_BYTES],
    msg: Fr,
) -> bool {
    let Some(a) = decode_point(public_key) else {
        return false;
    };
    let (Some(r_bytes), Some(s_bytes)) = (
        signature.first_chunk::<PUBLIC_KEY_BYTES>(),
        signature.last_chunk::<SCALAR_BYTES>(),
    ) else {
        return false;
    };
    let (Some(r), Some(s)) = (decode_point(r_bytes), decode_scalar(s_bytes)) else {
        return false;
    };
    let e = challenge(&r, &a, msg);
    // [ẽ]A with ẽ the 255-bit integer, exactly as the circuit computes it.
    let lhs = generator().mul_bigint(s.into_bigint());
    let rhs = a.mul_bigint(e.into_bigint()) + r;
    lhs == rhs
}

/// The validated affine coordinates (x, y) of a public key, for hashing it into a leaf; `None`
/// when the bytes do not decode (see [`decode_point`]).
pub fn public_key_coordinates(public_key: &[u8; PUBLIC_KEY_BYTES]) -> Option<(Fr, Fr)> {
    decode_point(public_key).map(|p| (p.x, p.y))
}

/// The challenge `e = hash_many(SCHNORR_CHALLENGE_DOMAIN, [R.x, R.y, A.x, A.y, msg])`.
pub fn challenge(r: &Point, a: &Point, msg: Fr) -> Fr {
    poseidon::hash_many(SCHNORR_CHALLENGE_DOMAIN, &[r.x, r.y, a.x, a.y, msg])
}

/// Decodes a point under the rules of the module documentation: canonical, on the curve, in
/// the prime-order subgroup, not the identity. `None` otherwise.
pub fn decode_point(bytes: &[u8; PUBLIC_KEY_BYTES]) -> Option<Point> {
    // y must be below q and have an x on the curve; the subgroup is checked below, faster than
    // arkworks' validation does it.
    let point = Point::deserialize_compressed_unchecked(bytes.as_slice()).ok()?;
    if point.is_zero()
        || !point.is_on_curve()
        || !in_prime_order_subgroup(&point)
        || encode_point(&point) != *bytes
    {
        return None;
    }
    Some(point)
}

/// Width of the signed window in which [`in_prime_order_subgroup`] writes r_J: digits are odd,
/// in ±1 … ±(2^(w−1) − 1), and each is followed by at least w − 1 zeros.
const ORDER_WINDOW: u32 = 4;

/// r_J in width-[`ORDER_WINDOW`] non-adjacent form, least significant digit first: about one
/// digit in five is non-zero, against one bit in two of its binary form.
static ORDER_DIGITS: LazyLock<Vec<i8>> = LazyLock::new(|| {
    let window = 1i64 << ORDER_WINDOW;
    let mut n = Scalar::MODULUS;
    let mut digits = Vec::with_capacity(SCALAR_BITS + 1);
    while !n.is_zero() {
        let mut digit = 0;
        if n.is_odd() {
            // n mod 2^w, taken into (−2^(w−1), 2^(w−1)), then subtracted: n becomes a
            // multiple of 2^w.
            let low = (n.0[0] & (window as u64 - 1)) as i64;
            digit = if low >= window / 2 { low - window } else { low };
            if digit > 0 {
                n.sub_with_borrow(&BigInt::from(digit.unsigned_abs()));
            } else {
                n.add_with_carry(&BigInt::from(digit.unsigned_abs()));
            }
        }
        digits.push(digit as i8);
        n.div2();
    }
    digits
});

/// Whether a point of the curve is in the prime-order subgroup: `[r_J]P = 0`, as arkworks'
/// validation decides it (a test compares the two), with r_J in windowed non-adjacent form
/// ([`ORDER_DIGITS`]): the same 252 doublings, about 50 additions instead of about 125.
fn in_prime_order_subgroup(point: &Point) -> bool {
    let base = point.into_group();
    let double = base.double();
    // base · 1, 3, 5, 7.
    let mut next = base;
    let odd: [EdwardsProjective; 1 << (ORDER_WINDOW - 2)] = std::array::from_fn(|_| {
        let entry = next;
        next += double;
        entry
    });
    let mut acc = EdwardsProjective::ZERO;
    for &digit in ORDER_DIGITS.iter().rev() {
        acc.double_in_place();
        let entry = odd.get(usize::from(digit.unsigned_abs() / 2));
        match (digit.signum(), entry) {
            (1, Some(entry)) => acc += entry,
            (-1, Some(entry)) => acc -= entry,
            _ => {}
        }
    }
    acc == EdwardsProjective::ZERO
}

/// Encodes a point: y little-endian, bit 255 set when x > (q − 1)/2 (arkworks' compressed form).
pub fn encode_point(point: &Point) -> [u8; PUBLIC_KEY_BYTES] {
    let mut out = fr_bytes(&point.y);
    let x_is_larger = point.x > -point.x;
    if let Some(last) = out.last_mut() {
        *last |= u8::from(x_is_larger) << 7;
    }
    out
}

/// Decodes a canonical scalar: 32 bytes little-endian, below r_J. `None` otherwise.
pub fn decode_scalar(bytes: &[u8; SCALAR_BYTES]) -> Option<Scalar> {
    Scalar::deserialize_compressed(bytes.as_slice()).ok()
}

/// The 32-byte little-endian encoding of a scalar.
pub fn scalar_bytes(s: &Scalar) -> [u8; SCALAR_BYTES] {
    to_32_bytes(&s.into_bigint().to_bytes_le())
}

/// The 32-byte little-endian encoding of an `Fr` element.
fn fr_bytes(x: &Fr) -> [u8; 32] {
    to_32_bytes(&x.into_bigint().to_bytes_le())
}

fn to_32_bytes(le: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(le) {
        *o = *b;
    }
    out
}

/// The challenge as a scalar: ẽ mod r_J (for signing; verification uses the integer ẽ).
fn challenge_scalar(e: Fr) -> Scalar {
    Scalar::from_le_bytes_mod_order(&e.into_bigint().to_bytes_le())
}

/// SHA3-512 of the concatenated parts, read as a little-endian integer and reduced mod r_J.
fn wide_hash_to_scalar(parts: &[&[u8]]) -> Scalar {
    let mut hasher = Sha3_512::new();
    for part in parts {
        hasher.update(part);
    }
    Scalar::from_le_bytes_mod_order(&hasher.finalize())
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::PrimeGroup;
    use ark_ed_on_bls12_381::{EdwardsProjective, Fq};
    use ark_ff::{AdditiveGroup, Field, Zero};
    use ark_serialize::CanonicalSerialize;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed(&[n; 32])
    }

    fn msg(n: u64) -> Fr {
        Fr::from(n)
    }

    /// r_J as little-endian bytes.
    fn r_j_bytes() -> [u8; 32] {
        to_32_bytes(&Scalar::MODULUS.to_bytes_le())
    }

    fn ark_encode(p: &Point) -> [u8; 32] {
        let mut out = [0u8; 32];
        p.serialize_compressed(&mut out[..]).unwrap();
        out
    }

    /// Points of order 8, 4 and 2: the torsion part of a curve point whose torsion has order 8,
    /// then its doubles.
    fn small_order_points() -> Vec<Point> {
        let mut y = Fq::from(3u64);
        let t = loop {
            y += Fq::ONE;
            let Some(p) = Point::get_point_from_y_unchecked(y, false) else {
                continue;
            };
            // [r_J]P kills the prime-order part, leaving the torsion part, of order dividing 8.
            let t = p.mul_bigint(Scalar::MODULUS).into_affine();
            if !t.mul_bigint([4u64]).is_zero() {
                break t;
            }
        };
        let t2 = (t + t).into_affine();
        let t4 = (t2 + t2).into_affine();
        assert!((t4 + t4).into_affine().is_zero());
        vec![t, t2, t4]
    }

    #[test]
    fn schnorr_generator_is_in_the_prime_order_subgroup() {
        let g = generator();
        assert!(g.is_on_curve());
        assert!(!g.is_zero());
        assert!(g.mul_bigint(Scalar::MODULUS).is_zero());
        assert_eq!(g, EdwardsProjective::generator().into_affine());
        assert_eq!(Scalar::MODULUS_BIT_SIZE as usize, SCALAR_BITS);
        assert_eq!(
            Scalar::MODULUS.to_string(),
            "6554484396890773809930967563523245729705921265872317281365359162392183254199"
        );
    }

    #[test]
    fn small_order_y_are_those_of_the_eight_torsion_points() {
        let t = small_order_points()[0];
        let mut ys = Vec::new();
        let mut acc = Point::zero().into_group();
        for _ in 0..8 {
            let p = acc.into_affine();
            assert!(p.mul_bigint([8u64]).is_zero());
            if !ys.contains(&p.y) {
                ys.push(p.y);
            }
            acc += t;
        }
        assert_eq!(ys.len(), SMALL_ORDER_Y.len());
        for y in ys {
            assert!(SMALL_ORDER_Y.contains(&y), "{y}");
        }
    }

    #[test]
    fn schnorr_domain_constant() {
        assert_eq!(
            SCHNORR_CHALLENGE_DOMAIN,
            Fr::from(u64::from_be_bytes(*b"schnorr1"))
        );
    }

    #[test]
    fn schnorr_sign_verify_round_trip() {
        for n in 0..8u8 {
            let k = key(n);
            let pk = public_key(&k);
            for m in [0u64, 1, 42, u64::MAX] {
                let sig = sign(&k, msg(m));
                assert!(verify(&pk, &sig, msg(m)), "key {n} msg {m}");
                // Deterministic.
                assert_eq!(sig, sign(&k, msg(m)));
            }
            let big = -Fr::ONE;
            assert!(verify(&pk, &sign(&k, big), big));
        }
        assert_ne!(public_key(&key(1)), public_key(&key(2)));
        assert_ne!(sign(&key(1), msg(1)), sign(&key(1), msg(2)));
    }

    #[test]
    fn schnorr_debug_hides_secret() {
        let s = format!("{:?}", key(1));
        assert!(s.contains(&hex_bytes(&public_key(&key(1)))));
        assert!(!s.contains(&hex_bytes(&scalar_bytes(&key(1).secret))));
    }

    #[test]
    fn schnorr_encoding_matches_arkworks() {
        for n in 0..16u8 {
            let p = key(n).public_point();
            assert_eq!(encode_point(&p), ark_encode(&p));
            assert_eq!(public_key(&key(n)), ark_encode(&p));
            assert_eq!(decode_point(&encode_point(&p)), Some(p));
            let neg = -p;
            assert_eq!(encode_point(&neg), ark_encode(&neg));
            assert_eq!(decode_point(&encode_point(&neg)), Some(neg));
            let (x, y) = public_key_coordinates(&public_key(&key(n))).unwrap();
            assert_eq!((x, y), (p.x, p.y));
        }
    }

    #[test]
    fn schnorr_rejects_wrong_message_and_key() {
        let (k1, k2) = (key(1), key(2));
        let sig = sign(&k1, msg(7));
        assert!(!verify(&public_key(&k1), &sig, msg(8)));
        assert!(!verify(&public_key(&k2), &sig, msg(7)));
    }

    #[test]
    fn schnorr_rejects_every_flipped_bit() {
        let k = key(3);
        let pk = public_key(&k);
        let sig = sign(&k, msg(5));
        for byte in 0..SIGNATURE_BYTES {
            for bit in 0..8 {
                let mut bad = sig;
                bad[byte] ^= 1 << bit;
                assert!(!verify(&pk, &bad, msg(5)), "byte {byte} bit {bit}");
            }
        }
        for byte in 0..PUBLIC_KEY_BYTES {
            let mut bad = pk;
            bad[byte] ^= 0x01;
            assert!(!verify(&bad, &sig, msg(5)), "key byte {byte}");
        }
    }

    #[test]
    fn schnorr_rejects_non_canonical_s() {
        let k = key(4);
        let pk = public_key(&k);
        let m = msg(9);
        let sig = sign(&k, m);
        let s = decode_scalar(sig.last_chunk::<32>().unwrap()).unwrap();
        // s + r_J is the same scalar mod r_J, and fits in 32 bytes: rejected, not reduced.
        let mut big = s.into_bigint();
        assert!(!big.add_with_carry(&Scalar::MODULUS));
        let mut bad = sig;
        bad[32..].copy_from_slice(&big.to_bytes_le());
        assert!(generator().mul_bigint(big) == generator().mul_bigint(s.into_bigint()));
        assert!(!verify(&pk, &bad, m));
        // r_J itself, and all ones.
        assert_eq!(decode_scalar(&r_j_bytes()), None);
        assert_eq!(decode_scalar(&[0xff; 32]), None);
        let mut r_minus_1 = r_j_bytes();
        r_minus_1[0] -= 1;
        assert_eq!(decode_scalar(&r_minus_1), Some(-Scalar::ONE));
    }

    #[test]
    fn schnorr_rejects_points_off_the_curve() {
        let k = key(5);
        let m = msg(1);
        let sig = sign(&k, m);
        let pk = public_key(&k);
        // y values with no x on the curve, with both sign bits.
        let mut found = 0;
        for y in 2..200u64 {
            let y = Fq::from(y);
            if Point::get_xs_from_y_unchecked(y).is_some() {
                continue;
            }
            for sign_bit in [0u8, 0x80] {
                let mut bytes = fr_bytes(&y);
                bytes[31] |= sign_bit;
                assert_eq!(decode_point(&bytes), None);
                assert!(!verify(&bytes, &sig, m));
                let mut bad_sig = sig;
                bad_sig[..32].copy_from_slice(&bytes);
                assert!(!verify(&pk, &bad_sig, m));
            }
            found += 1;
        }
        assert!(found > 10);
        // y at or above q (non-canonical field element): y = q + 1 encodes the same y as 1.
        let mut q_plus_1 = Fq::MODULUS;
        q_plus_1.add_with_carry(&BigInt::one());
        assert_eq!(decode_point(&to_32_bytes(&q_plus_1.to_bytes_le())), None);
        assert_eq!(decode_point(&[0xff; 32]), None);
    }

    #[test]
    fn schnorr_rejects_small_order_and_mixed_points() {
        let k = key(6);
        let m = msg(2);
        let sig = sign(&k, m);
        let pk = public_key(&k);
        // (0, -1) has order 2; its canonical encoding is y = q - 1 with the sign bit clear.
        let order_2 = Point::new_unchecked(Fq::ZERO, -Fq::ONE);
        assert!(order_2.is_on_curve());
        assert!((order_2 + order_2).into_affine().is_zero());
        let smalls = small_order_points();
        assert!(smalls.iter().all(|t| t.is_on_curve() && !t.is_zero()));
        assert!(smalls.contains(&order_2));
        for t in &smalls {
            for bytes in [encode_point(t), ark_encode(t)] {
                assert_eq!(decode_point(&bytes), None);
                assert!(!verify(&bytes, &sig, m));
                let mut bad_sig = sig;
                bad_sig[..32].copy_from_slice(&bytes);
                assert!(!verify(&pk, &bad_sig, m));
            }
            // A valid key plus a torsion point: on the curve, not in the subgroup.
            let mixed = (k.public_point() + t).into_affine();
            assert!(mixed.is_on_curve());
            assert_eq!(decode_point(&encode_point(&mixed)), None);
            assert!(!verify(&encode_point(&mixed), &sig, m));
            let r = decode_point(sig.first_chunk::<32>().unwrap()).unwrap();
            let mut bad_sig = sig;
            bad_sig[..32].copy_from_slice(&encode_point(&(r + t).into_affine()));
            assert!(!verify(&pk, &bad_sig, m));
        }
        // (0, -1) with the sign bit set: the non-canonical twin encoding.
        let mut twin = encode_point(&order_2);
        twin[31] |= 0x80;
        assert_eq!(decode_point(&twin), None);
    }

    #[test]
    fn schnorr_order_digits_are_r_j_in_non_adjacent_form() {
        let mut n = BigInt::<4>::zero();
        let mut since_nonzero = usize::MAX;
        for &digit in ORDER_DIGITS.iter().rev() {
            n.mul2();
            if digit > 0 {
                n.add_with_carry(&BigInt::from(digit.unsigned_abs()));
            } else {
                n.sub_with_borrow(&BigInt::from(digit.unsigned_abs()));
            }
            if digit != 0 {
                assert!(digit % 2 != 0 && digit.unsigned_abs() < 1 << (ORDER_WINDOW - 1));
                assert!(
                    since_nonzero >= ORDER_WINDOW as usize - 1,
                    "{since_nonzero}"
                );
                since_nonzero = 0;
            } else {
                since_nonzero = since_nonzero.saturating_add(1);
            }
        }
        assert_eq!(n, Scalar::MODULUS);
        assert!(ORDER_DIGITS.iter().filter(|d| **d != 0).count() < 60);
    }

    /// The windowed subgroup check decides as arkworks' `[r_J]P = 0` does, for points of the
    /// subgroup, with every torsion component, and for points from arbitrary y coordinates.
    #[test]
    fn schnorr_subgroup_check_matches_arkworks() {
        let mut torsion = small_order_points();
        torsion.push(Point::zero());
        let mut checked = 0;
        for k in 1..12u64 {
            let p = (generator() * Scalar::from(k * 0x1234_5678_9abc + 7)).into_affine();
            for t in &torsion {
                let q = (p + t).into_affine();
                assert_eq!(in_prime_order_subgroup(&q), t.is_zero());
                assert_eq!(
                    in_prime_order_subgroup(&q),
                    JubjubConfig::is_in_correct_subgroup_assuming_on_curve(&q)
                );
                checked += 1;
            }
        }
        let mut y = Fq::from(1000u64);
        for _ in 0..40 {
            y += Fq::ONE;
            let Some(p) = Point::get_point_from_y_unchecked(y, false) else {
                continue;
            };
            assert_eq!(
                in_prime_order_subgroup(&p),
                JubjubConfig::is_in_correct_subgroup_assuming_on_curve(&p)
            );
            // Cleared of its torsion, the point is in the subgroup.
            let cleared = p.mul_by_cofactor();
            assert!(in_prime_order_subgroup(&cleared));
            checked += 1;
        }
        assert!(checked >= 60, "{checked}");
        assert!(in_prime_order_subgroup(&Point::zero()));
    }

    #[test]
    fn schnorr_rejects_identity() {
        let identity = encode_point(&Point::zero());
        assert_eq!(identity, ark_encode(&Point::zero()));
        assert_eq!(identity, fr_bytes(&Fr::ONE));
        assert_eq!(decode_point(&identity), None);
        let mut twin = identity;
        twin[31] |= 0x80;
        assert_eq!(decode_point(&twin), None);
        assert_eq!(public_key_coordinates(&identity), None);
        // With A = 0 anyone could sign: s = k, R = [k]G. Rejected.
        let k = Scalar::from(12345u64);
        let r = generator().mul_bigint(k.into_bigint()).into_affine();
        let mut forged = [0u8; 64];
        forged[..32].copy_from_slice(&encode_point(&r));
        forged[32..].copy_from_slice(&scalar_bytes(&k));
        assert!(!verify(&identity, &forged, msg(1)));
        // R = 0 is rejected too.
        let kk = key(7);
        let mut sig = sign(&kk, msg(1));
        sig[..32].copy_from_slice(&identity);
        assert!(!verify(&public_key(&kk), &sig, msg(1)));
    }

    #[test]
    fn schnorr_challenge_uses_the_integer() {
        // ẽ reduced mod r_J and the 255-bit integer give the same [e]A for A in the subgroup,
        // and the verification equation holds with the reduced challenge too.
        let k = key(8);
        let m = msg(77);
        let sig = sign(&k, m);
        let r = decode_point(sig.first_chunk::<32>().unwrap()).unwrap();
        let s = decode_scalar(sig.last_chunk::<32>().unwrap()).unwrap();
        let e = challenge(&r, &k.public_point(), m);
        assert_eq!(
            e,
            poseidon::hash_many(
                SCHNORR_CHALLENGE_DOMAIN,
                &[r.x, r.y, k.public.x, k.public.y, m]
            )
        );
        let a = k.public_point();
        assert_eq!(
            a.mul_bigint(e.into_bigint()),
            a.mul_bigint(challenge_scalar(e).into_bigint())
        );
        assert_eq!(
            generator().mul_bigint(s.into_bigint()),
            r + a.mul_bigint(challenge_scalar(e).into_bigint())
        );
    }

    #[test]
    fn schnorr_never_panics_on_garbage() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let mut pk = [0u8; 32];
            let mut sig = [0u8; 64];
            for b in pk.iter_mut().chain(sig.iter_mut()) {
                *b = next() as u8;
            }
            assert!(!verify(&pk, &sig, msg(next())));
        }
        for fill in [0x00u8, 0x01, 0x7f, 0x80, 0xff] {
            assert!(!verify(&[fill; 32], &[fill; 64], Fr::ZERO));
        }
    }
}
