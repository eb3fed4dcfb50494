//! Poseidon2 in-circuit: the permutation and hashes of [`verifier::zk_transfer::poseidon`] over `FpVar<Fr>`.
//!
//! Same instance, the same round schedule, constants and linear layers (taken from
//! [`verifier::zk_transfer::poseidon`]), same hash definitions; the tests check every gadget
//! against its native function.
//!
//! Cost: an S-box x⁵ is three multiplication constraints (x², x⁴, x⁴·x), and everything else
//! (round constants, the two linear layers, absorbing) is a linear combination and costs
//! nothing. A permutation of three variables is therefore (8 · 3 + 56) · 3 = 240 constraints,
//! [`hash2_gadget`] too (the first linear layer mixes a constant domain into every element, so
//! no S-box input is a constant). [`hash_many_gadget`] costs one permutation per pair of inputs
//! (and one for no input).

use ark_bls12_381::Fr;
use ark_ff::{AdditiveGroup, Field};
use ark_r1cs_std::GR1CSVar;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::SynthesisError;
use verifier::zk_transfer::poseidon::{WIDTH, permute_with, sponge_capacity};

/// The Poseidon2 permutation, in place, as constraints ([`verifier::zk_transfer::poseidon::permute`],
/// whose round schedule this runs with a constraint-making S-box).
pub fn permute_gadget(state: &mut [FpVar<Fr>; WIDTH]) -> Result<(), SynthesisError> {
    permute_with(state, sbox)
}

/// [`verifier::zk_transfer::poseidon::hash2`] as constraints: permute `[domain, left, right]`, output
/// element 1. Pass a constant domain (`FpVar::Constant`) for the usual, cheapest case.
pub fn hash2_gadget(
    domain: &FpVar<Fr>,
    left: &FpVar<Fr>,
    right: &FpVar<Fr>,
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut state = [domain.clone(), left.clone(), right.clone()];
    permute_gadget(&mut state)?;
    let [_, out, _] = state;
    Ok(out)
}

/// [`verifier::zk_transfer::poseidon::hash_many`] as constraints: the rate-2 sponge whose capacity starts at
/// `domain + (len + 1) · 2⁶⁴`, padding with zeros, one permutation per pair (at least one).
pub fn hash_many_gadget(
    domain: &FpVar<Fr>,
    inputs: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    // `sponge_capacity` is `domain + (len + 1) · 2⁶⁴`: with domain 0, the length term alone.
    let capacity = domain + sponge_capacity(Fr::ZERO, inputs.len());
    let mut state = [capacity, FpVar::zero(), FpVar::zero()];
    if inputs.is_empty() {
        permute_gadget(&mut state)?;
    }
    for pair in inputs.chunks(2) {
        match pair {
            [a, b] => absorb_gadget(&mut state, [a, b])?,
            [a] => absorb_gadget(&mut state, [a, &FpVar::zero()])?,
            _ => {}
        }
    }
    let [_, out, _] = state;
    Ok(out)
}

/// [`verifier::zk_transfer::poseidon::Sponge::absorb`] as constraints: add the pair to the
/// rate elements, permute (240 constraints).
pub fn absorb_gadget(
    state: &mut [FpVar<Fr>; WIDTH],
    [a, b]: [&FpVar<Fr>; 2],
) -> Result<(), SynthesisError> {
    let [_, s1, s2] = state;
    *s1 += a;
    *s2 += b;
    permute_gadget(state)
}

/// x⁵ with three constraints (x·x = x², x²·x² = x⁴, x⁴·x = x⁵); free for a constant.
fn sbox(x: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    let FpVar::Var(_) = x else {
        return Ok(FpVar::Constant(x.value()?.pow([5])));
    };
    let cs = x.cs();
    let x2 = FpVar::new_witness(cs.clone(), || Ok(x.value()?.square()))?;
    x.mul_equals(x, &x2)?;
    let x4 = FpVar::new_witness(cs.clone(), || Ok(x2.value()?.square()))?;
    x2.mul_equals(&x2, &x4)?;
    let x5 = FpVar::new_witness(cs, || Ok(x4.value()? * x.value()?))?;
    x4.mul_equals(x, &x5)?;
    Ok(x5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::PrimeField;
    use ark_r1cs_std::eq::EqGadget;
    use ark_relations::gr1cs::{ConstraintSystem, ConstraintSystemRef, SynthesisMode};
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};
    use verifier::zk_transfer::poseidon::{hash_many, hash2, permute};

    fn random_fr(rng: &mut ChaCha8Rng) -> Fr {
        Fr::from_le_bytes_mod_order(&rng.random::<[u8; 32]>())
    }

    fn witness(cs: &ConstraintSystemRef<Fr>, x: Fr) -> FpVar<Fr> {
        FpVar::new_witness(cs.clone(), || Ok(x)).unwrap()
    }

    fn check_permutation(input: [Fr; 3]) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let mut state = input.map(|x| witness(&cs, x));
        permute_gadget(&mut state).unwrap();
        let mut native = input;
        permute(&mut native);
        assert_eq!(state.map(|v| v.value().unwrap()), native);
        assert!(cs.is_satisfied().unwrap());
        assert_eq!(cs.num_constraints(), (8 * 3 + 56) * 3);
    }

    #[test]
    fn zk_poseidon_gadget_known_answer() {
        check_permutation([Fr::from(0u64), Fr::from(1u64), Fr::from(2u64)]);
    }

    #[test]
    fn zk_poseidon_gadget_matches_native_on_random_inputs() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..4 {
            check_permutation([
                random_fr(&mut rng),
                random_fr(&mut rng),
                random_fr(&mut rng),
            ]);
        }
        for _ in 0..4 {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let (d, l, r) = (
                random_fr(&mut rng),
                random_fr(&mut rng),
                random_fr(&mut rng),
            );
            let out = hash2_gadget(&witness(&cs, d), &witness(&cs, l), &witness(&cs, r)).unwrap();
            assert_eq!(out.value().unwrap(), hash2(d, l, r));
            assert!(cs.is_satisfied().unwrap());
        }
    }

    #[test]
    fn zk_poseidon_hash2_constraint_count() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let domain = FpVar::Constant(Fr::from(1u64));
        let (l, r) = (Fr::from(5u64), Fr::from(6u64));
        let out = hash2_gadget(&domain, &witness(&cs, l), &witness(&cs, r)).unwrap();
        assert_eq!(out.value().unwrap(), hash2(Fr::from(1u64), l, r));
        assert!(cs.is_satisfied().unwrap());
        let n = cs.num_constraints();
        println!("constraints per hash2 (constant domain): {n}");
        assert!(n <= 250, "{n} constraints");
        assert_eq!(n, 240);
    }

    #[test]
    fn zk_poseidon_constants_are_free() {
        // All-constant inputs give a constant output and no constraint at all.
        let cs = ConstraintSystem::<Fr>::new_ref();
        let k = |x: u64| FpVar::Constant(Fr::from(x));
        let out = hash2_gadget(&k(1), &k(2), &k(3)).unwrap();
        assert!(matches!(out, FpVar::Constant(_)));
        assert_eq!(
            out.value().unwrap(),
            hash2(Fr::from(1u64), Fr::from(2u64), Fr::from(3u64))
        );
        assert_eq!(cs.num_constraints(), 0);
    }

    #[test]
    fn zk_poseidon_hash_many_matches_native() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for len in 0..=5usize {
            let domain = Fr::from(3u64);
            let inputs: Vec<Fr> = (0..len).map(|_| random_fr(&mut rng)).collect();
            let expected = hash_many(domain, &inputs);
            for witness_domain in [false, true] {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let domain_var = if witness_domain {
                    witness(&cs, domain)
                } else {
                    FpVar::Constant(domain)
                };
                let vars: Vec<FpVar<Fr>> = inputs.iter().map(|x| witness(&cs, *x)).collect();
                let out = hash_many_gadget(&domain_var, &vars).unwrap();
                assert_eq!(out.value().unwrap(), expected, "len {len}");
                assert!(cs.is_satisfied().unwrap());
                let perms = len.div_ceil(2).max(1);
                assert!(cs.num_constraints() <= perms * 240);
            }
        }
    }

    #[test]
    fn zk_poseidon_wrong_output_is_unsatisfied() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let domain = FpVar::Constant(Fr::from(1u64));
        let out = hash2_gadget(
            &domain,
            &witness(&cs, Fr::from(5u64)),
            &witness(&cs, Fr::from(6u64)),
        )
        .unwrap();
        let claimed = FpVar::new_input(cs.clone(), || Ok(Fr::from(42u64))).unwrap();
        out.enforce_equal(&claimed).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }

    #[test]
    fn zk_poseidon_setup_mode_needs_no_values() {
        // Key generation synthesises without assignments: the gadget must not ask for values.
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_mode(SynthesisMode::Setup);
        let l = FpVar::new_witness(cs.clone(), || -> Result<Fr, _> {
            Err(SynthesisError::AssignmentMissing)
        })
        .unwrap();
        let r = l.clone();
        let out = hash2_gadget(&FpVar::Constant(Fr::from(1u64)), &l, &r).unwrap();
        assert!(matches!(out, FpVar::Var(_)));
        assert_eq!(cs.num_constraints(), 240);
    }
}
