//! SHA3-256 of several short inputs at once: one Keccak-f[1600] permutation over [`LANES`]
//! independent states, each state's word `i` in lane `k` of the `i`-th vector.
//!
//! A tree level's nodes are independent, so their hashes need not wait on one another; one
//! permutation is a fixed sequence of 64-bit XOR, AND-NOT and rotations, so the same sequence
//! on arrays of [`LANES`] words compiles to vector instructions, one per operation for all
//! lanes. Plain Rust (no intrinsics, no `unsafe`): the compiler vectorises the loops over the
//! lanes for the target the build names. With AVX-512 (8 words to a register, 32 registers:
//! the state and its temporaries stay in registers) that is 2.9x the scalar assembly's
//! throughput; narrower vectors spill the state and lose to it (docs/PERFORMANCE.md), so
//! builds without AVX-512 hash one input at a time with `keccak-asm`.

use witness_format::Hash32;

/// Inputs hashed by one permutation: a 512-bit vector's 64-bit words.
const LANES: usize = 8;

/// Whether the build targets AVX-512, where the lanes pay.
const LANES_PAY: bool = cfg!(target_feature = "avx512f");

/// SHA3-256's rate: the bytes of input one permutation absorbs.
pub(crate) const RATE: usize = 136;

/// One word of every lane.
type Word = [u64; LANES];

/// The Keccak-f[1600] state of every lane: 25 words, `x + 5y`.
type State = [Word; 25];

/// The round constants of Keccak-f[1600] (FIPS 202, 3.2.5).
const ROUND_CONSTANTS: [u64; 24] = [
    0x0000_0000_0000_0001,
    0x0000_0000_0000_8082,
    0x8000_0000_0000_808a,
    0x8000_0000_8000_8000,
    0x0000_0000_0000_808b,
    0x0000_0000_8000_0001,
    0x8000_0000_8000_8081,
    0x8000_0000_0000_8009,
    0x0000_0000_0000_008a,
    0x0000_0000_0000_0088,
    0x0000_0000_8000_8009,
    0x0000_0000_8000_000a,
    0x0000_0000_8000_808b,
    0x8000_0000_0000_008b,
    0x8000_0000_0000_8089,
    0x8000_0000_0000_8003,
    0x8000_0000_0000_8002,
    0x8000_0000_0000_0080,
    0x0000_0000_0000_800a,
    0x8000_0000_8000_000a,
    0x8000_0000_8000_8081,
    0x8000_0000_0000_8080,
    0x0000_0000_8000_0001,
    0x8000_0000_8000_8008,
];

/// The rotation of word `x + 5y` in the ρ step (FIPS 202, 3.2.2).
const RHO: [u32; 25] = [
    0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14,
];

#[inline(always)]
fn xor(mut a: Word, b: Word) -> Word {
    for (a, b) in a.iter_mut().zip(b) {
        *a ^= b;
    }
    a
}

/// `!a & b` in every lane: χ's nonlinear term.
#[inline(always)]
fn and_not(mut a: Word, b: Word) -> Word {
    for (a, b) in a.iter_mut().zip(b) {
        *a = !*a & b;
    }
    a
}

#[inline(always)]
fn rotate(mut a: Word, by: u32) -> Word {
    for a in &mut a {
        *a = a.rotate_left(by);
    }
    a
}

/// Keccak-f[1600] on every lane (FIPS 202, 3.3: θ, ρ and π, χ, ι for 24 rounds).
// Every index is `x + 5y` with `x, y < 5`, into arrays of 25: in range by construction, and
// none depends on the input.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
#[inline(always)]
fn permute(state: &mut State) {
    for round_constant in ROUND_CONSTANTS {
        let mut parity = [[0u64; LANES]; 5];
        for (x, column) in parity.iter_mut().enumerate() {
            *column = xor(
                xor(
                    xor(state[x], state[x + 5]),
                    xor(state[x + 10], state[x + 15]),
                ),
                state[x + 20],
            );
        }
        for x in 0..5 {
            let effect = xor(parity[(x + 4) % 5], rotate(parity[(x + 1) % 5], 1));
            for y in 0..5 {
                state[x + 5 * y] = xor(state[x + 5 * y], effect);
            }
        }
        // ρ and π: word (x, y) rotated moves to (y, 2x + 3y).
        let mut moved = [[0u64; LANES]; 25];
        for x in 0..5 {
            for y in 0..5 {
                moved[y + 5 * ((2 * x + 3 * y) % 5)] = rotate(state[x + 5 * y], RHO[x + 5 * y]);
            }
        }
        for y in 0..5 {
            for x in 0..5 {
                let row = 5 * y;
                state[x + row] = xor(
                    moved[x + row],
                    and_not(moved[(x + 1) % 5 + row], moved[(x + 2) % 5 + row]),
                );
            }
        }
        state[0] = xor(state[0], [round_constant; LANES]);
    }
}

/// SHA3-256 of `count` inputs of `LEN` bytes each (one block: `LEN` < [`RATE`]), appended to
/// `out` in order; `fill(i, bytes)` writes input `i`. In vector lanes where they pay, else one
/// at a time.
pub(crate) fn sha3_256_each<const LEN: usize>(
    count: usize,
    fill: impl Fn(usize, &mut [u8; LEN]),
    out: &mut Vec<Hash32>,
) {
    if LANES_PAY {
        in_lanes(count, fill, out);
    } else {
        one_at_a_time(count, fill, out);
    }
}

/// [`sha3_256_each`] by `keccak-asm`, one input after the other.
fn one_at_a_time<const LEN: usize>(
    count: usize,
    fill: impl Fn(usize, &mut [u8; LEN]),
    out: &mut Vec<Hash32>,
) {
    out.extend((0..count).map(|i| {
        let mut input = [0u8; LEN];
        fill(i, &mut input);
        Hash32::from(<[u8; 32]>::from(keccak_asm::Sha3_256::digest(input)))
    }));
}

/// [`sha3_256_each`] by [`LANES`] permutations at once.
fn in_lanes<const LEN: usize>(
    count: usize,
    fill: impl Fn(usize, &mut [u8; LEN]),
    out: &mut Vec<Hash32>,
) {
    const { assert!(LEN < RATE, "one block per input") };
    out.reserve(count);
    let mut next = 0;
    while next < count {
        let mut blocks = [[0u8; RATE]; LANES];
        let mut filled = 0usize;
        for block in &mut blocks {
            if next == count {
                break;
            }
            if let Some(input) = block.first_chunk_mut::<LEN>() {
                fill(next, input);
            }
            // SHA-3's domain bits and the pad10*1 of one block.
            if let Some(byte) = block.get_mut(LEN) {
                *byte ^= 0x06;
            }
            if let Some(byte) = block.last_mut() {
                *byte ^= 0x80;
            }
            next = next.saturating_add(1);
            filled = filled.saturating_add(1);
        }
        let mut state: State = [[0u64; LANES]; 25];
        for (lane, block) in blocks.iter().enumerate() {
            for (word, bytes) in state.iter_mut().zip(block.as_chunks::<8>().0) {
                if let Some(word) = word.get_mut(lane) {
                    *word = u64::from_le_bytes(*bytes);
                }
            }
        }
        permute(&mut state);
        for lane in 0..filled {
            let mut digest = [0u8; 32];
            for (bytes, word) in digest.as_chunks_mut::<8>().0.iter_mut().zip(&state) {
                *bytes = word.get(lane).copied().unwrap_or_default().to_le_bytes();
            }
            out.push(Hash32::from(digest));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha3::Digest;

    fn input(index: usize, len: usize) -> Vec<u8> {
        (0..len)
            .map(|byte| (index.wrapping_mul(31) ^ byte.wrapping_mul(7)) as u8)
            .collect()
    }

    /// Both ways, whichever this build uses, for every count of lanes filled: each output is
    /// the portable SHA3-256 of its input, appended after what `out` held.
    fn check<const LEN: usize>() {
        let fill = |i: usize, bytes: &mut [u8; LEN]| bytes.copy_from_slice(&input(i, LEN));
        for count in [0, 1, LANES - 1, LANES, LANES + 1, 3 * LANES + 1] {
            let mut lanes = vec![Hash32::ZERO];
            in_lanes(count, fill, &mut lanes);
            let mut scalar = vec![Hash32::ZERO];
            one_at_a_time(count, fill, &mut scalar);
            let expected: Vec<Hash32> =
                std::iter::once(Hash32::ZERO)
                    .chain((0..count).map(|i| {
                        Hash32::from(<[u8; 32]>::from(sha3::Sha3_256::digest(input(i, LEN))))
                    }))
                    .collect();
            assert_eq!(lanes, expected, "{count} inputs of {LEN} bytes in lanes");
            assert_eq!(
                scalar, expected,
                "{count} inputs of {LEN} bytes one at a time"
            );
        }
    }

    #[test]
    fn each_output_is_sha3_256_of_its_input() {
        check::<0>();
        check::<1>();
        check::<8>();
        check::<33>();
        check::<49>();
        check::<65>();
        check::<97>();
        check::<128>();
        check::<135>();
    }
}
