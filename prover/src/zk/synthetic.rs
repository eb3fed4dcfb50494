//! A synthetic baseline for Groth16 proving cost: plain R1CS of a requested size, proven with
//! plain ark-groth16, so that the `zk-transfer` prover's time can be read as a ratio against
//! the cost of Groth16 itself for the same number of constraints.
//!
//! Groth16 proving time is set by the circuit's size and by its witness values, not by what
//! the constraints mean:
//!
//! - one FFT domain of the next power of two above constraints plus public inputs (seven
//!   FFTs of that size compute the quotient polynomial);
//! - multi-scalar multiplications over every variable (A and B queries, the L query over the
//!   witness) and over the domain (H query). ark-ec sorts scalars by size first: a zero costs
//!   nothing, ±1 one addition, and a value of up to 64 bits (or p minus one) about a quarter
//!   of a full-size scalar. A circuit full of bits proves faster than one of the same size
//!   full of field elements.
//!
//! So [`SyntheticCircuit::matching`] copies a real circuit's [`WitnessProfile`]: the same
//! number of constraints, of public inputs (one), of witness variables, and of witness values
//! that are zero, ±1, small (up to 64 bits either side of zero) and full-size. What it does
//! not copy is the constraint matrices' density (the real circuit's inlined Poseidon rounds
//! have longer linear combinations than the two or three terms per row here): that part of
//! the witness map is linear in the non-zero entries, and is counted as the real circuit's
//! overhead.
//!
//! ```text
//! public:  x                                   (one input, a full-size value)
//! full:    f_1 = x · x,  f_i = f_(i-1) · (f_(i-2) + x)              one row each
//! small:   b · b = b  (0 or 1),   s · 1 = s  (up to 64 bits, or minus that)
//!          grouped as (s_1 + … + s_k) · 1 = s_1 + … + s_k when rows run short
//! extra:   rows past one per variable repeat the chain's rows
//! ```

use ark_bls12_381::{Bls12_381, Fr};
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField, UniformRand, Zero};
use ark_groth16::Groth16;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, LinearCombination,
    OptimizationGoal, SynthesisError, SynthesisMode, Variable,
};
use ark_std::rand::{Rng, SeedableRng, rngs::StdRng};

/// How many constraints and witness variables a circuit has, and how its witness values fall
/// into the size classes that multi-scalar multiplication treats differently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WitnessProfile {
    /// Constraints after the prover's synthesis (linear combinations inlined).
    pub constraints: usize,
    /// Public inputs, the constant 1 aside.
    pub public_inputs: usize,
    /// Witness variables.
    pub witness_variables: usize,
    /// Witness values equal to zero.
    pub zeros: usize,
    /// Witness values equal to 1 or −1.
    pub units: usize,
    /// Other witness values of at most 64 bits, or whose negation is.
    pub small: usize,
}

impl WitnessProfile {
    /// Witness values of full size (neither zero, ±1 nor small).
    pub fn full(&self) -> usize {
        self.witness_variables
            .saturating_sub(self.zeros)
            .saturating_sub(self.units)
            .saturating_sub(self.small)
    }
}

/// Size classes of a witness value, as ark-ec's multi-scalar multiplication sorts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SizeClass {
    Zero,
    Unit,
    Small,
    Full,
}

fn size_class(value: &Fr) -> SizeClass {
    if value.is_zero() {
        return SizeClass::Zero;
    }
    let bits = value
        .into_bigint()
        .num_bits()
        .min((-*value).into_bigint().num_bits());
    match bits {
        0..=1 => SizeClass::Unit,
        2..=64 => SizeClass::Small,
        _ => SizeClass::Full,
    }
}

/// Synthesizes `circuit` as the Groth16 prover does (constraints optimised, linear combinations
/// inlined) and counts its variables and witness value classes. The circuit must carry a
/// witness.
pub fn witness_profile<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
) -> Result<WitnessProfile, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    // Without matrices the system does not count its constraints.
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
        generate_lc_assignments: false,
    });
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    let witness = cs.witness_assignment()?;
    let mut profile = WitnessProfile {
        constraints: cs.num_constraints(),
        public_inputs: cs.num_instance_variables().saturating_sub(1),
        witness_variables: witness.len(),
        ..WitnessProfile::default()
    };
    for value in &witness {
        match size_class(value) {
            SizeClass::Zero => profile.zeros += 1,
            SizeClass::Unit => profile.units += 1,
            SizeClass::Small => profile.small += 1,
            SizeClass::Full => {}
        }
    }
    Ok(profile)
}

/// Plain R1CS with a given [`WitnessProfile`] and one public input (see the module
/// documentation for its rows). Satisfied by construction for any seed.
#[derive(Clone, Copy, Debug)]
pub struct SyntheticCircuit {
    /// The sizes to reproduce (`public_inputs` is always 1 here).
    pub profile: WitnessProfile,
    /// Seed of the input and the small values.
    pub seed: u64,
}

impl SyntheticCircuit {
    /// A circuit of `constraints` rows whose witness is all full-size values, one per row.
    pub fn of_size(constraints: usize, seed: u64) -> Self {
        Self {
            profile: WitnessProfile {
                constraints,
                public_inputs: 1,
                witness_variables: constraints,
                ..WitnessProfile::default()
            },
            seed,
        }
    }

    /// A circuit with `profile`'s constraint count, witness variable count and witness value
    /// classes.
    pub fn matching(profile: WitnessProfile, seed: u64) -> Self {
        Self {
            profile: WitnessProfile {
                public_inputs: 1,
                ..profile
            },
            seed,
        }
    }

    /// The public input its proofs are for.
    pub fn public_input(&self) -> Fr {
        Fr::rand(&mut StdRng::seed_from_u64(self.seed))
    }
}

impl ConstraintSynthesizer<Fr> for SyntheticCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let p = self.profile;
        let rows = p.constraints.max(1);
        let mut rng = StdRng::seed_from_u64(self.seed);
        let x_value = Fr::rand(&mut rng);
        let x = cs.new_input_variable(|| Ok(x_value))?;

        // Small variables first: they are allocated and constrained the same way in every mode.
        let mut small: Vec<(Variable, bool)> = Vec::new();
        for (count, make) in [(p.zeros, 0u8), (p.units, 1), (p.small, 2)] {
            for _ in 0..count {
                let (value, boolean) = match make {
                    0 => (Fr::ZERO, true),
                    1 => (Fr::ONE, true),
                    _ => {
                        let v = Fr::from(rng.gen_range(2..=u64::MAX));
                        (if rng.r#gen::<bool>() { v } else { -v }, false)
                    }
                };
                small.push((cs.new_witness_variable(|| Ok(value))?, boolean));
            }
        }

        // The chain of full-size values takes one row each, leaving at least one row for the
        // small variables when there are any.
        let reserve = usize::from(!small.is_empty());
        let full = p.full().min(rows.saturating_sub(reserve));
        let mut chain: Vec<(Variable, LinearCombination<Fr>, Variable)> = Vec::with_capacity(full);
        let (mut prev2, mut prev) = (Fr::ZERO, x_value);
        let (mut prev2_var, mut prev_var) = (None::<Variable>, x);
        for _ in 0..full {
            // f_1 = x · x; f_i = f_(i-1) · (f_(i-2) + x).
            let (factor, b) = match prev2_var {
                Some(v) => (prev2 + x_value, LinearCombination::from(v) + x),
                None => (x_value, LinearCombination::from(x)),
            };
            let value = prev * factor;
            let var = cs.new_witness_variable(|| Ok(value))?;
            cs.enforce_r1cs_constraint(
                || LinearCombination::from(prev_var),
                || b.clone(),
                || LinearCombination::from(var),
            )?;
            chain.push((prev_var, b, var));
            (prev2, prev) = (prev, value);
            (prev2_var, prev_var) = (Some(prev_var), var);
        }

        // Small variables share the rows left, in groups as even as possible.
        let left = rows.saturating_sub(full);
        let mut used = full;
        if left > 0 && !small.is_empty() {
            let per_group = small.len().div_ceil(left.min(small.len()));
            for group in small.chunks(per_group) {
                let (a, b, c) = match group {
                    [(v, true)] => (
                        LinearCombination::from(*v),
                        LinearCombination::from(*v),
                        LinearCombination::from(*v),
                    ),
                    _ => {
                        let sum = group
                            .iter()
                            .fold(LinearCombination::zero(), |lc, (v, _)| lc + *v);
                        (sum.clone(), LinearCombination::from(Variable::One), sum)
                    }
                };
                cs.enforce_r1cs_constraint(|| a, || b, || c)?;
                used += 1;
            }
        }

        // Rows past one per variable (or per group) repeat the chain's rows.
        for i in 0..rows.saturating_sub(used) {
            let (a, b, c) = match chain.get(i % chain.len().max(1)) {
                Some((a, b, c)) => (LinearCombination::from(*a), b.clone(), *c),
                None => (
                    LinearCombination::from(x),
                    LinearCombination::from(Variable::One),
                    x,
                ),
            };
            cs.enforce_r1cs_constraint(|| a, || b, || LinearCombination::from(c))?;
        }
        Ok(())
    }
}

/// Key generation for a synthetic circuit: the same ark-groth16 call as
/// [`crate::zk::groth16::setup`] makes for the real one (compiled here, optimised, like it).
pub fn setup(
    circuit: SyntheticCircuit,
    rng: &mut impl Rng,
) -> Result<crate::zk::groth16::ProvingKey, SynthesisError> {
    Groth16::<Bls12_381>::generate_random_parameters_with_reduction(circuit, rng)
}

/// Plain ark-groth16 proving of a synthetic circuit: one synthesis, no witness check and no
/// witness building (the baseline that [`crate::zk::groth16::prove`] is compared with).
pub fn prove(
    pk: &crate::zk::groth16::ProvingKey,
    circuit: SyntheticCircuit,
    rng: &mut impl Rng,
) -> Result<crate::zk::groth16::Proof, SynthesisError> {
    Groth16::<Bls12_381>::create_random_proof_with_reduction(circuit, pk, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zk::circuit::tests::{CHAIN, DEPTH, World, circuit};
    use verifier::zk_verify::{PreparedKey, encode_proof, verify_zk_blob};

    fn counts(circuit: SyntheticCircuit) -> (usize, usize, usize, bool) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        circuit.generate_constraints(cs.clone()).unwrap();
        (
            cs.num_constraints(),
            cs.num_instance_variables() - 1,
            cs.num_witness_variables(),
            cs.is_satisfied().unwrap(),
        )
    }

    #[test]
    fn zk_synthetic_has_the_requested_shape_and_is_satisfied() {
        for profile in [
            WitnessProfile {
                constraints: 1000,
                witness_variables: 1000,
                ..WitnessProfile::default()
            },
            // More rows than variables, fewer rows than variables, all small, all full.
            WitnessProfile {
                constraints: 1200,
                witness_variables: 900,
                zeros: 100,
                units: 200,
                small: 50,
                ..WitnessProfile::default()
            },
            WitnessProfile {
                constraints: 700,
                witness_variables: 900,
                zeros: 100,
                units: 300,
                small: 50,
                ..WitnessProfile::default()
            },
            WitnessProfile {
                constraints: 10,
                witness_variables: 40,
                units: 40,
                ..WitnessProfile::default()
            },
        ] {
            let synthetic = SyntheticCircuit::matching(profile, 5);
            assert_eq!(
                counts(synthetic),
                (
                    profile.constraints,
                    1,
                    profile.witness_variables.min(
                        // Full values beyond the rows cannot each get their row.
                        profile.zeros + profile.units + profile.small + profile.constraints
                    ),
                    true
                ),
                "{profile:?}"
            );
            let measured = witness_profile(synthetic).unwrap();
            assert_eq!(
                (measured.zeros, measured.units, measured.small),
                (profile.zeros, profile.units, profile.small),
                "{profile:?}"
            );
        }
    }

    /// The synthetic twin of a real batch has the real batch's sizes, and both prove and verify
    /// through the same plain ark-groth16 calls.
    #[test]
    fn zk_synthetic_matches_a_real_batch_and_proves() {
        let world = World::new();
        let txs = [world.tx(0, 1, 100), world.tx(5, 9, 2)];
        let real = witness_profile(circuit(world.witness(&txs, 2), 2)).unwrap();
        assert_eq!(real.public_inputs, 1);
        assert!(real.zeros + real.units + real.small > 0 && real.full() > 0);
        println!("depth {DEPTH} batch 2 chain {CHAIN}: {real:?}");

        let synthetic = SyntheticCircuit::matching(real, 9);
        assert_eq!(witness_profile(synthetic).unwrap(), real);

        let mut rng = StdRng::seed_from_u64(1);
        let pk = setup(synthetic, &mut rng).unwrap();
        let proof = prove(&pk, synthetic, &mut rng).unwrap();
        let key = PreparedKey::new(&pk.vk).unwrap();
        verify_zk_blob(&key, synthetic.public_input(), &encode_proof(&proof)).unwrap();
        assert!(
            verify_zk_blob(
                &key,
                synthetic.public_input() + Fr::ONE,
                &encode_proof(&proof)
            )
            .is_err()
        );
    }
}
