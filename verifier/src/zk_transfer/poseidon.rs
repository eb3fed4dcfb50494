//! Poseidon over the BLS12-381 scalar field: the hash of the `zk-transfer` model.
//!
//! # The instance
//!
//! This is the Poseidon authors' reference instance `poseidonperm_x5_255_3` (the hadeshash
//! reference implementation): state width t = 3 field elements of BLS12-381's scalar field
//! `Fr` (a 255-bit prime), S-box x ↦ x⁵, [`FULL_ROUNDS`] = 8 full rounds (4 before and 4 after
//! the partial ones) and [`PARTIAL_ROUNDS`] = 57 partial rounds. Every round r is
//!
//! 1. add the round constants `round_constants[r]` to the three state elements,
//! 2. the S-box on all three elements (full round) or on element 0 only (partial round),
//! 3. multiply the state, as a column vector, by the 3×3 MDS matrix: `s' = M · s`.
//!
//! [`permute`] reproduces the reference's published known-answer vector (the permutation of
//! `[0, 1, 2]`), which the tests check.
//!
//! # Where the constants come from
//!
//! They are derived here, not pasted: [`constants`] runs the authors' Grain LFSR procedure
//! (`generate_parameters_grain.sage 1 0 255 3 8 57 <p>`) once, on first use. The 80-bit LFSR
//! is seeded with the bits of field type 1 (prime field, 2 bits), S-box type 0 (x^α, 4 bits),
//! field size n = 255 (12 bits), t = 3 (12 bits), R_F = 8 (10 bits), R_P = 57 (10 bits) and
//! thirty 1 bits; it is clocked 160 times with the feedback taps 62, 51, 38, 23, 13 and 0 and
//! then self-shrunk (of each pair of bits, the second is kept when the first is 1). A field
//! element is n = 255 consecutive output bits, most significant first.
//!
//! - Round constants: (R_F + R_P) · t = 195 elements by rejection sampling (a 255-bit value
//!   at or above p is discarded and the next one drawn), in order round by round, element by
//!   element.
//! - MDS matrix: the Cauchy matrix `M[i][j] = 1 / (x_i + y_j)` from the next 2t = 6 elements,
//!   each reduced mod p (no rejection): x_0, x_1, x_2, y_0, y_1, y_2. A draw with a repeated
//!   element, or with some x_i + y_j = 0, is discarded and 6 new elements are drawn, as the
//!   reference does. The reference script also runs three security checks on the matrix
//!   (invariant subspace trails, its "algorithms 1–3") and draws again if one fails; those
//!   checks are not re-implemented here: the first draw passes them for this instance, which
//!   the known-answer test confirms (a later draw would give a different permutation).
//!
//! arkworks' generator was checked against this one: `ark_crypto_primitives::sponge::poseidon::
//! find_poseidon_ark_and_mds::<Fr>(255, 2, 8, 57, 0)` (ark-crypto-primitives 0.6) returns the
//! same 195 round constants and the same MDS matrix, and arkworks' `PoseidonSponge` with them and
//! α = 5 computes the same permutation (the known-answer vector). Like this generator, it does
//! not run the security checks (its `skip_matrices` argument exists to skip a failing draw by
//! hand). It is not used here only to keep ark-crypto-primitives out of the verifier's
//! dependencies; the generator below is about a hundred lines.
//!
//! # The hashes
//!
//! State element 0 is the capacity; elements 1 and 2 are the rate. The capacity starts at a
//! caller-chosen domain constant, so that leaves, tree nodes and every other use hash in
//! separate domains. Domains must be integers below 2⁶⁴ for the separation below to hold.
//!
//! - [`hash2`]`(d, a, b)`: permute `[d, a, b]` and output element 1.
//! - [`hash_many`]`(d, [m_0, …, m_{L-1}])`: a sponge with rate 2 and capacity 1. The state
//!   starts as `[d + (L + 1)·2⁶⁴, 0, 0]` ([`sponge_capacity`]), binding the length L. The inputs
//!   are padded with one zero when L is odd, and with two zeros when L = 0, then absorbed two at
//!   a time: add the pair into elements 1 and 2, then permute. The output is element 1 after
//!   the last permutation, so there are max(1, ⌈L/2⌉) permutations.
//!
//! With domains below 2⁶⁴, every (domain, length) pair of `hash_many` starts from its own
//! capacity, and none of them is a capacity `hash2` starts from (the `+ 1` sees to that, even
//! for L = 0), so padding never makes two inputs of different lengths, or a `hash_many` and a
//! `hash2`, share a permutation input.
//!
//! The in-circuit versions live in the prover (`prover::zk::poseidon`) and use [`constants`]
//! and [`sponge_capacity`] from here, so each definition exists once.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use ark_bls12_381::Fr;
use ark_ff::{AdditiveGroup, Field, PrimeField};

/// The state width t, in field elements: one capacity element and two rate elements.
pub const WIDTH: usize = 3;
/// Number of full rounds R_F, half before and half after the partial rounds.
pub const FULL_ROUNDS: usize = 8;
/// Number of partial rounds R_P (S-box on state element 0 only).
pub const PARTIAL_ROUNDS: usize = 57;
/// Total number of rounds, R_F + R_P.
pub const ROUNDS: usize = FULL_ROUNDS + PARTIAL_ROUNDS;

/// The first partial round.
const PARTIAL_START: usize = FULL_ROUNDS / 2;
/// The first full round after the partial ones.
const PARTIAL_END: usize = PARTIAL_START + PARTIAL_ROUNDS;

/// Bit length n of the field elements the Grain LFSR draws (BLS12-381's `Fr` has 255 bits).
const FIELD_BITS: usize = 255;

/// The round constants and MDS matrix of the permutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoseidonConstants {
    round_constants: [[Fr; WIDTH]; ROUNDS],
    mds: [[Fr; WIDTH]; WIDTH],
}

impl PoseidonConstants {
    /// The constants added at the start of each round, one array per round, in round order.
    pub fn round_constants(&self) -> &[[Fr; WIDTH]; ROUNDS] {
        &self.round_constants
    }

    /// The MDS matrix, row by row: the linear layer maps `s` to `M · s`.
    pub fn mds(&self) -> &[[Fr; WIDTH]; WIDTH] {
        &self.mds
    }

    /// Whether round `round` (counted from 0) applies the S-box to the whole state.
    pub fn is_full_round(round: usize) -> bool {
        !(PARTIAL_START..PARTIAL_END).contains(&round)
    }
}

static CONSTANTS: LazyLock<PoseidonConstants> = LazyLock::new(generate_constants);

/// The constants of `poseidonperm_x5_255_3`, generated by the Grain LFSR on first use.
pub fn constants() -> &'static PoseidonConstants {
    &CONSTANTS
}

/// The Poseidon permutation, in place.
///
/// Computed in the equivalent form of `Optimized` (the partial rounds' dense matrix
/// multiplications replaced by sparse ones), which gives exactly the reference's output with
/// about a quarter fewer field multiplications; the tests check both forms against each other
/// and against the known-answer vector.
pub fn permute(state: &mut [Fr; WIDTH]) {
    let c = constants();
    let o = optimized();
    let full = |state: &mut [Fr; WIDTH], rc: &[Fr; WIDTH]| {
        for (s, k) in state.iter_mut().zip(rc) {
            *s = sbox(*s + k);
        }
        *state = mds_mul(&c.mds, state);
    };
    for rc in &o.full_constants[..PARTIAL_START] {
        full(state, rc);
    }
    for (k, sparse) in o.partial_constants.iter().zip(&o.sparse) {
        let [s0, s1, s2] = state;
        *s0 = sbox(*s0 + k);
        let x0 = *s0;
        *s0 = sparse.first_row[0] * x0 + sparse.first_row[1] * *s1 + sparse.first_row[2] * *s2;
        *s1 += sparse.first_column[0] * x0;
        *s2 += sparse.first_column[1] * x0;
    }
    let [_, s1, s2] = state;
    let (x1, x2) = (*s1, *s2);
    let [[a, b], [cc, d]] = o.last_block;
    *s1 = a * x1 + b * x2;
    *s2 = cc * x1 + d * x2;
    for rc in &o.full_constants[PARTIAL_START..] {
        full(state, rc);
    }
}

/// The permutation's rounds rewritten so that each partial round costs one constant addition,
/// one S-box and a sparse matrix (5 multiplications instead of 9), the standard optimisation
/// of the Poseidon paper's appendix, derived here from [`constants`] once:
///
/// 1. A partial round adds constants `(c0, c1, c2)` but applies the S-box to element 0 only, so
///    `M · S(s + c) = M · S(s + c0·e0) + M · (0, c1, c2)`: the second term moves into the next
///    round's constants, and every partial round adds a constant to element 0 only (the last
///    one's carry lands in the first full round after them).
/// 2. A matrix `N = [[1, 0], [0, N̂]]` (element 0 untouched) commutes with such a round's S-box
///    and constant. Each partial round's dense matrix `A` (the MDS matrix times what the round
///    before left over) factors as `A = N · W` with `N = [[1, 0], [0, Â]]` and the sparse
///    `W = [[a00, a0·], [Â⁻¹ a·0, I]]` (`Â`, the lower-right 2x2 block of `A`, is invertible
///    because every square submatrix of an MDS matrix is); `W` stays in the round and `N` moves
///    on to the next. After the last partial round one `N̂` (2x2) is applied.
struct Optimized {
    /// Round constants of the full rounds, before and after the partial ones (the first after
    /// them includes the partial rounds' carry).
    full_constants: [[Fr; WIDTH]; FULL_ROUNDS],
    /// The constant each partial round adds to element 0.
    partial_constants: [Fr; PARTIAL_ROUNDS],
    /// Each partial round's sparse matrix.
    sparse: [Sparse; PARTIAL_ROUNDS],
    /// `N̂` left over after the last partial round, applied to elements 1 and 2.
    last_block: [[Fr; 2]; 2],
}

/// `W = [[r0, r1, r2], [c0, 1, 0], [c1, 0, 1]]`.
#[derive(Clone, Copy)]
struct Sparse {
    first_row: [Fr; WIDTH],
    first_column: [Fr; 2],
}

static OPTIMIZED: LazyLock<Optimized> = LazyLock::new(|| optimize(constants()));

fn optimized() -> &'static Optimized {
    &OPTIMIZED
}

fn optimize(c: &PoseidonConstants) -> Optimized {
    let m = &c.mds;
    let rc = &c.round_constants;
    // 1. Constants: carry the partial rounds' additions to elements 1 and 2 forward.
    let mut full_constants = [[Fr::ZERO; WIDTH]; FULL_ROUNDS];
    full_constants[..PARTIAL_START].copy_from_slice(&rc[..PARTIAL_START]);
    full_constants[PARTIAL_START..].copy_from_slice(&rc[PARTIAL_END..]);
    let mut partial_constants = [Fr::ZERO; PARTIAL_ROUNDS];
    let mut carry = [Fr::ZERO; WIDTH];
    for (k, round) in partial_constants
        .iter_mut()
        .zip(&rc[PARTIAL_START..PARTIAL_END])
    {
        let ([r0, r1, r2], [k0, k1, k2]) = (*round, carry);
        *k = r0 + k0;
        carry = mds_mul(m, &[Fr::ZERO, r1 + k1, r2 + k2]);
    }
    for (k, extra) in full_constants[PARTIAL_START].iter_mut().zip(carry) {
        *k += extra;
    }
    // 2. Matrices: A = M · N_prev = N · W, round after round.
    let mut block = [[Fr::ONE, Fr::ZERO], [Fr::ZERO, Fr::ONE]];
    let sparse = std::array::from_fn(|_| {
        let [[b00, b01], [b10, b11]] = block;
        let a = m.map(|[m0, m1, m2]| [m0, m1 * b00 + m2 * b10, m1 * b01 + m2 * b11]);
        let [[a00, a01, a02], [a10, a11, a12], [a20, a21, a22]] = a;
        block = [[a11, a12], [a21, a22]];
        let [[i00, i01], [i10, i11]] = invert2(&block);
        Sparse {
            first_row: [a00, a01, a02],
            first_column: [i00 * a10 + i01 * a20, i10 * a10 + i11 * a20],
        }
    });
    Optimized {
        full_constants,
        partial_constants,
        sparse,
        last_block: block,
    }
}

/// The inverse of a 2x2 matrix. Every block inverted here is invertible (a 2x2 block of an MDS
/// matrix, or a product of such blocks); were one not, its zero inverse would make the
/// optimized form differ from the reference, which the tests would catch.
fn invert2(m: &[[Fr; 2]; 2]) -> [[Fr; 2]; 2] {
    let [[a, b], [c, d]] = *m;
    let det = (a * d - b * c).inverse().unwrap_or(Fr::ZERO);
    [[d * det, -b * det], [-c * det, a * det]]
}

/// Hash of two elements under a domain: permute `[domain, left, right]`, output element 1.
pub fn hash2(domain: Fr, left: Fr, right: Fr) -> Fr {
    let mut state = [domain, left, right];
    permute(&mut state);
    let [_, out, _] = state;
    out
}

/// Hash of any number of elements under a domain: the rate-2 sponge described in the module
/// documentation, whose capacity starts at [`sponge_capacity`]`(domain, inputs.len())`.
pub fn hash_many(domain: Fr, inputs: &[Fr]) -> Fr {
    let mut sponge = Sponge::new(domain, inputs.len());
    if inputs.is_empty() {
        sponge.absorb(Fr::ZERO, Fr::ZERO);
    }
    for pair in inputs.chunks(2) {
        match *pair {
            [a, b] => sponge.absorb(a, b),
            [a] => sponge.absorb(a, Fr::ZERO),
            _ => {}
        }
    }
    sponge.output()
}

/// [`hash_many`] one pair at a time, for a caller that knows the input length up front. A
/// sponge that absorbed a common prefix can be cloned to hash many inputs that share it, for
/// the cost of their suffixes.
#[derive(Clone, Debug)]
pub struct Sponge {
    state: [Fr; WIDTH],
}

impl Sponge {
    /// A sponge for `len` inputs under `domain`.
    pub fn new(domain: Fr, len: usize) -> Self {
        Self {
            state: [sponge_capacity(domain, len), Fr::ZERO, Fr::ZERO],
        }
    }

    /// Absorbs the next two inputs (the last of an odd number pairs with zero).
    pub fn absorb(&mut self, a: Fr, b: Fr) {
        let [_, s1, s2] = &mut self.state;
        *s1 += a;
        *s2 += b;
        permute(&mut self.state);
    }

    /// The hash, once every input is absorbed.
    pub fn output(&self) -> Fr {
        self.state[1]
    }
}

/// The initial capacity element of [`hash_many`]: `domain + (len + 1) · 2⁶⁴`.
pub fn sponge_capacity(domain: Fr, len: usize) -> Fr {
    // usize has at most 64 bits on every supported target, so the cast is lossless.
    let two_64 = Fr::from(u64::MAX) + Fr::ONE;
    domain + (Fr::from(len as u64) + Fr::ONE) * two_64
}

/// x⁵.
fn sbox(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

/// `M · s`.
fn mds_mul(m: &[[Fr; WIDTH]; WIDTH], s: &[Fr; WIDTH]) -> [Fr; WIDTH] {
    m.map(|[a, b, c]| a * s[0] + b * s[1] + c * s[2])
}

/// The Grain LFSR in self-shrinking mode, as in the reference `generate_parameters_grain.sage`.
struct Grain {
    /// The 80-bit register; bit i is the i-th element of the reference's bit list (bit 0 is the
    /// oldest and leaves first).
    bits: u128,
}

impl Grain {
    fn new(field: u128, sbox: u128, n: u128, t: u128, r_f: u128, r_p: u128) -> Self {
        // The seed fields, each most significant bit first, then thirty 1 bits.
        let seed = [
            (field, 2),
            (sbox, 4),
            (n, 12),
            (t, 12),
            (r_f, 10),
            (r_p, 10),
            (u128::MAX, 30),
        ]
        .into_iter()
        .flat_map(|(value, width)| (0..width).rev().map(move |k| (value >> k) & 1));
        let mut bits = 0u128;
        for (pos, bit) in seed.enumerate() {
            bits |= bit << pos;
        }
        let mut grain = Grain { bits };
        for _ in 0..160 {
            grain.clock();
        }
        grain
    }

    /// One step of the register; returns the new bit.
    fn clock(&mut self) -> bool {
        let b = self.bits;
        let new = ((b >> 62) ^ (b >> 51) ^ (b >> 38) ^ (b >> 23) ^ (b >> 13) ^ b) & 1;
        self.bits = (b >> 1) | (new << 79);
        new == 1
    }

    /// One output bit of the self-shrinking generator.
    fn next_bit(&mut self) -> bool {
        loop {
            let keep = self.clock();
            let bit = self.clock();
            if keep {
                return bit;
            }
        }
    }

    /// The next `FIELD_BITS` output bits as a big-endian 32-byte integer.
    fn next_bytes(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // Shift each bit in at the least significant end: the first bit ends up the most
        // significant of the FIELD_BITS, and the top 256 - FIELD_BITS bits stay 0.
        for _ in 0..FIELD_BITS {
            let mut carry = u8::from(self.next_bit());
            for byte in out.iter_mut().rev() {
                let next_carry = *byte >> 7;
                *byte = (*byte << 1) | carry;
                carry = next_carry;
            }
        }
        out
    }

    /// A field element by rejection sampling (values at or above p are skipped).
    fn field_element_rejection(&mut self) -> Fr {
        loop {
            let bytes = self.next_bytes();
            let reduced = Fr::from_be_bytes_mod_order(&bytes);
            // The value was below p exactly when reducing it changed nothing.
            if reduced.into_bigint().to_bytes_be_array() == bytes {
                return reduced;
            }
        }
    }

    /// A field element reduced mod p.
    fn field_element_mod_p(&mut self) -> Fr {
        Fr::from_be_bytes_mod_order(&self.next_bytes())
    }
}

/// Big-endian bytes of a 256-bit integer.
trait ToBytesBeArray {
    fn to_bytes_be_array(&self) -> [u8; 32];
}

impl ToBytesBeArray for ark_ff::BigInt<4> {
    fn to_bytes_be_array(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, limb) in out.chunks_exact_mut(8).zip(self.0.iter().rev()) {
            chunk.copy_from_slice(&limb.to_be_bytes());
        }
        out
    }
}

fn generate_constants() -> PoseidonConstants {
    let mut grain = Grain::new(
        1,
        0,
        FIELD_BITS as u128,
        WIDTH as u128,
        FULL_ROUNDS as u128,
        PARTIAL_ROUNDS as u128,
    );
    // `from_fn` calls its closure in index order, so the draws go round by round.
    let round_constants: [[Fr; WIDTH]; ROUNDS] =
        std::array::from_fn(|_| std::array::from_fn(|_| grain.field_element_rejection()));
    let mds = loop {
        let xs: [Fr; WIDTH] = std::array::from_fn(|_| grain.field_element_mod_p());
        let ys: [Fr; WIDTH] = std::array::from_fn(|_| grain.field_element_mod_p());
        if let Some(m) = cauchy(&xs, &ys) {
            break m;
        }
    };
    PoseidonConstants {
        round_constants,
        mds,
    }
}

/// `M[i][j] = 1 / (x_i + y_j)`, or `None` when the 2t elements are not distinct or some
/// `x_i + y_j` is 0 (the reference then draws again).
fn cauchy(xs: &[Fr; WIDTH], ys: &[Fr; WIDTH]) -> Option<[[Fr; WIDTH]; WIDTH]> {
    let distinct: BTreeSet<&Fr> = xs.iter().chain(ys).collect();
    if distinct.len() != 2 * WIDTH {
        return None;
    }
    let mut m = [[Fr::ZERO; WIDTH]; WIDTH];
    for (row, x) in m.iter_mut().zip(xs) {
        for (entry, y) in row.iter_mut().zip(ys) {
            *entry = (*x + y).inverse()?;
        }
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::Zero;

    fn fr_hex(s: &str) -> Fr {
        let bytes = hex::decode(s.trim_start_matches("0x")).unwrap();
        let fr = Fr::from_be_bytes_mod_order(&bytes);
        assert_eq!(
            fr.into_bigint().to_bytes_be_array().to_vec(),
            bytes,
            "{s} is not below p"
        );
        fr
    }

    fn to_hex(x: &Fr) -> String {
        format!("0x{}", hex::encode(x.into_bigint().to_bytes_be_array()))
    }

    /// The permutation exactly as the reference states it, round by round with the dense
    /// matrix: the oracle of the optimized [`permute`].
    fn permute_reference(state: &mut [Fr; WIDTH]) {
        let c = constants();
        for (round, rc) in c.round_constants.iter().enumerate() {
            for (s, k) in state.iter_mut().zip(rc) {
                *s += k;
            }
            if PoseidonConstants::is_full_round(round) {
                for s in state.iter_mut() {
                    *s = sbox(*s);
                }
            } else {
                state[0] = sbox(state[0]);
            }
            *state = mds_mul(&c.mds, state);
        }
    }

    /// The published test vector of `poseidonperm_x5_255_3`, by both forms.
    #[test]
    fn poseidon_known_answer() {
        let mut reference = [Fr::from(0u64), Fr::from(1u64), Fr::from(2u64)];
        permute_reference(&mut reference);
        let mut state = [Fr::from(0u64), Fr::from(1u64), Fr::from(2u64)];
        permute(&mut state);
        assert_eq!(state, reference);
        let expected = [
            "0x28ce19420fc246a05553ad1e8c98f5c9d67166be2c18e9e4cb4b4e317dd2a78a",
            "0x51f3e312c95343a896cfd8945ea82ba956c1118ce9b9859b6ea56637b4b1ddc4",
            "0x3b2b69139b235626a0bfb56c9527ae66a7bf486ad8c11c14d1da0c69bbe0f79a",
        ];
        assert_eq!(state.map(|x| to_hex(&x)), expected);
        assert_eq!(state, expected.map(fr_hex));
    }

    /// The optimized form is the reference permutation on many inputs: chained outputs, zeros,
    /// and values near the modulus.
    #[test]
    fn poseidon_optimized_form_is_the_reference() {
        let mut state = [Fr::from(7u64), -Fr::ONE, Fr::from(u64::MAX)];
        for _ in 0..200 {
            let mut expected = state;
            permute_reference(&mut expected);
            permute(&mut state);
            assert_eq!(state, expected);
        }
        for input in [
            [Fr::ZERO; WIDTH],
            [-Fr::ONE; WIDTH],
            [Fr::ONE, Fr::ZERO, -Fr::ONE],
        ] {
            let (mut a, mut b) = (input, input);
            permute(&mut a);
            permute_reference(&mut b);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn poseidon_sponge_is_hash_many_and_clones_share_a_prefix() {
        let d = Fr::from(9u64);
        let inputs: Vec<Fr> = (1..=6u64).map(Fr::from).collect();
        let mut prefix = Sponge::new(d, inputs.len());
        prefix.absorb(inputs[0], inputs[1]);
        for tail in [[inputs[2], inputs[3]], [Fr::from(50u64), Fr::from(51u64)]] {
            let mut sponge = prefix.clone();
            sponge.absorb(tail[0], tail[1]);
            sponge.absorb(inputs[4], inputs[5]);
            let whole = [inputs[0], inputs[1], tail[0], tail[1], inputs[4], inputs[5]];
            assert_eq!(sponge.output(), hash_many(d, &whole));
        }
    }

    /// Shape of the generated constants (the KAT above is the arbiter of their values).
    #[test]
    fn poseidon_constants_shape() {
        let c = constants();
        assert_eq!(c.round_constants().len(), 65);
        let full = (0..ROUNDS)
            .filter(|&r| PoseidonConstants::is_full_round(r))
            .count();
        assert_eq!(full, FULL_ROUNDS);
        // The MDS matrix is a Cauchy matrix: every entry is nonzero and it is invertible.
        assert!(c.mds().iter().flatten().all(|e| !e.is_zero()));
        let [[a, b, cc], [d, e, f], [g, h, i]] = *c.mds();
        let det = a * (e * i - f * h) - b * (d * i - f * g) + cc * (d * h - e * g);
        assert!(!det.is_zero());
    }

    #[test]
    fn poseidon_hash2_deterministic_and_sensitive() {
        let (d, l, r) = (Fr::from(1u64), Fr::from(7u64), Fr::from(9u64));
        let h = hash2(d, l, r);
        assert_eq!(h, hash2(d, l, r));
        assert_ne!(h, hash2(Fr::from(2u64), l, r));
        assert_ne!(h, hash2(d, Fr::from(8u64), r));
        assert_ne!(h, hash2(d, l, Fr::from(10u64)));
        assert_ne!(h, hash2(d, r, l));
        // It is exactly element 1 of the permutation of [d, l, r].
        let mut s = [d, l, r];
        permute(&mut s);
        assert_eq!(h, s[1]);
    }

    #[test]
    fn poseidon_hash_many_deterministic_and_sensitive() {
        let d = Fr::from(3u64);
        let inputs: Vec<Fr> = (1..=5u64).map(Fr::from).collect();
        let h = hash_many(d, &inputs);
        assert_eq!(h, hash_many(d, &inputs));
        assert_ne!(h, hash_many(Fr::from(4u64), &inputs));
        for i in 0..inputs.len() {
            let mut changed = inputs.clone();
            changed[i] += Fr::ONE;
            assert_ne!(h, hash_many(d, &changed), "input {i}");
        }
        // The length is bound: a trailing zero (the padding value) changes the hash.
        let mut padded = inputs.clone();
        padded.push(Fr::ZERO);
        assert_ne!(h, hash_many(d, &padded));
        // Every length from 0 to 6 gives a distinct hash, and none is the plain capacity.
        let all: Vec<Fr> = (0..=6).map(|n| hash_many(d, &vec![Fr::ZERO; n])).collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_ne!(hash_many(d, &[]), hash_many(Fr::from(5u64), &[]));
    }

    #[test]
    fn poseidon_hash_many_definition() {
        // Spelled out for three inputs: two permutations, the second pair padded with zero.
        let d = Fr::from(11u64);
        let m = [Fr::from(21u64), Fr::from(22u64), Fr::from(23u64)];
        let two_64 = Fr::from(1u64 << 32) * Fr::from(1u64 << 32);
        let mut s = [d + Fr::from(4u64) * two_64, m[0], m[1]];
        permute(&mut s);
        s[1] += m[2];
        permute(&mut s);
        assert_eq!(hash_many(d, &m), s[1]);
        assert_eq!(sponge_capacity(d, 3), d + Fr::from(4u64) * two_64);
        // Not hash2 under the same domain, whatever the padding: the capacity differs.
        assert_ne!(hash_many(d, &m[..2]), hash2(d, m[0], m[1]));
        assert_ne!(hash_many(d, &m[..1]), hash2(d, m[0], Fr::ZERO));
        assert_ne!(hash_many(d, &[]), hash2(d, Fr::ZERO, Fr::ZERO));
    }

    #[test]
    fn poseidon_grain_first_bits_follow_the_reference_seed() {
        // Seed of `generate_parameters_grain.sage 1 0 255 3 8 57`: 01 0000 000011111111
        // 000000000011 0000001000 0000111001 then thirty 1s; the register holds it bit by bit.
        let seed = "01000000001111111100000000001100000010000000111001";
        let mut expected = 0u128;
        for (i, ch) in seed.chars().chain(std::iter::repeat_n('1', 30)).enumerate() {
            if ch == '1' {
                expected |= 1 << i;
            }
        }
        let g = Grain::new(1, 0, 255, 3, 8, 57);
        let mut fresh = Grain { bits: expected };
        for _ in 0..160 {
            fresh.clock();
        }
        assert_eq!(g.bits, fresh.bits);
    }
}
