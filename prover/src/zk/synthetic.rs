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
//! - the proving key's A and B queries have the identity for every variable that appears in
//!   no row's A (respectively B), and an identity base costs nothing. B is also proven in G2,
//!   about three times the cost of G1, so how many variables appear in B matters.
//!
//! So [`SyntheticCircuit::matching`] copies a real circuit's [`WitnessProfile`]: the same
//! number of constraints, of public inputs (the real circuit's [`PUBLIC_INPUTS`]), of witness
//! variables, of witness values that are zero, ±1, small (up to 64 bits either side of zero)
//! and full-size, and of witness variables that appear in A and in B (to within the last few of
//! the chain). What it does not copy is the matrices' density (the real circuit's inlined
//! Poseidon rounds have longer linear combinations than the two or three terms per row here):
//! that part of the witness map is linear in the non-zero entries, and is counted as the real
//! circuit's overhead.
//!
//! ```text
//! public:  x, y_1 … y_4                       (PUBLIC_INPUTS inputs, full-size values)
//! full:    f_i = a · (b + x), one row each: a the oldest earlier f still owed an appearance
//!          in A (else x; the first such row's A is x + y_1 + … + y_4, so each y is in a
//!          row), b the oldest owed one in B (else the row's B is x alone); each f is owed
//!          one in A and B, in A only, or none, in the profile's proportions
//! small:   b · b = b  (0 or 1),   s · 1 = s  (up to 64 bits, or minus that)
//!          grouped as (s_1 + … + s_k) · 1 = s_1 + … + s_k when rows run short
//! extra:   rows past one per variable repeat the chain's rows
//! ```

use ark_bls12_381::{Bls12_381, Fr};
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField, UniformRand, Zero};
use ark_groth16::Groth16;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable,
};
use ark_std::rand::{Rng, SeedableRng, rngs::StdRng};

use verifier::zk_transfer::PUBLIC_INPUTS;

use crate::zk::groth16::synthesize_for_proving;

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
    /// Witness variables with a non-zero coefficient in some row's A (their bases in the
    /// proving key's A query are not the identity: each costs an addition in the A
    /// multi-scalar multiplication).
    pub in_a: usize,
    /// Witness variables with a non-zero coefficient in some row's B (each costs an addition in
    /// both B multi-scalar multiplications, one of them in G2).
    pub in_b: usize,
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
    let cs = synthesize_for_proving(circuit)?;
    let witness = cs.witness_assignment()?;
    let instance = cs.num_instance_variables();
    let (in_a, in_b) = {
        let system = cs.borrow().ok_or(SynthesisError::MissingCS)?;
        let matrices = system.to_matrices()?;
        let mut used = [vec![false; witness.len()], vec![false; witness.len()]];
        for per_predicate in matrices.values() {
            for (flags, matrix) in used.iter_mut().zip(per_predicate) {
                for &(_, column) in matrix.iter().flatten() {
                    if let Some(flag) = column.checked_sub(instance).and_then(|w| flags.get_mut(w))
                    {
                        *flag = true;
                    }
                }
            }
        }
        let [a, b] = used.map(|flags| flags.iter().filter(|&&f| f).count());
        (a, b)
    };
    let mut profile = WitnessProfile {
        constraints: cs.num_constraints(),
        public_inputs: instance.saturating_sub(1),
        witness_variables: witness.len(),
        in_a,
        in_b,
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

/// Plain R1CS with a given [`WitnessProfile`] and [`PUBLIC_INPUTS`] public inputs, so that its
/// keys have the real circuit's shape (see the module documentation for its rows). Satisfied by
/// construction for any seed.
#[derive(Clone, Copy, Debug)]
pub struct SyntheticCircuit {
    /// The sizes to reproduce (`public_inputs` is always [`PUBLIC_INPUTS`] here).
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
                public_inputs: PUBLIC_INPUTS,
                witness_variables: constraints,
                in_a: constraints,
                in_b: constraints,
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
                public_inputs: PUBLIC_INPUTS,
                ..profile
            },
            seed,
        }
    }

    /// The public inputs its proofs are for.
    pub fn public_inputs(&self) -> [Fr; PUBLIC_INPUTS] {
        input_values(&mut StdRng::seed_from_u64(self.seed))
    }
}

/// The public inputs: the first values drawn from the seed.
fn input_values(rng: &mut StdRng) -> [Fr; PUBLIC_INPUTS] {
    std::array::from_fn(|_| Fr::rand(rng))
}

impl ConstraintSynthesizer<Fr> for SyntheticCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let p = self.profile;
        let rows = p.constraints.max(1);
        let mut rng = StdRng::seed_from_u64(self.seed);
        let [x_value, others @ ..] = input_values(&mut rng);
        let x = cs.new_input_variable(|| Ok(x_value))?;
        // x + y_1 + … + y_4: the A of the first row that has no earlier variable for it.
        let mut first_a = Some((LinearCombination::from(x), x_value));
        for value in others {
            let y = cs.new_input_variable(|| Ok(value))?;
            first_a = first_a.map(|(lc, sum)| (lc + y, sum + value));
        }

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
        // small variables when there are any; the small variables share the rows left, in
        // groups as even as possible.
        let reserve = usize::from(!small.is_empty());
        let full = p.full().min(rows.saturating_sub(reserve));
        let left = rows.saturating_sub(full);
        let per_group = small.len().div_ceil(left.min(small.len()).max(1)).max(1);

        // Which full-size variables appear in A and B rows: as many as in the profile, less
        // those the small variables' rows give (b · b = b: A and B; s · 1 = s and sums: A).
        let (small_ab, small_a) = if per_group == 1 {
            let booleans = p.zeros + p.units;
            (booleans, small.len() - booleans)
        } else {
            (0, small.len())
        };
        let ab = p.in_b.saturating_sub(small_ab).min(full);
        let a_only = p
            .in_a
            .saturating_sub(p.in_b)
            .saturating_sub(small_a)
            .min(full - ab);
        let roles = spread(&[
            (Role::AB, ab),
            (Role::A, a_only),
            (Role::Output, full - ab - a_only),
        ]);

        // Row i: f_i = a · (b + x), a the oldest variable still owed an appearance in A (x if
        // none), b the oldest owed one in B (none: the row's B is x alone).
        let mut owed_a = std::collections::VecDeque::new();
        let mut owed_b = std::collections::VecDeque::new();
        let mut chain: Vec<(LinearCombination<Fr>, LinearCombination<Fr>, Variable)> =
            Vec::with_capacity(full);
        for role in roles {
            let (a, a_value) = match owed_a.pop_front() {
                Some((v, value)) => (LinearCombination::from(v), value),
                None => first_a
                    .take()
                    .unwrap_or((LinearCombination::from(x), x_value)),
            };
            let (b, b_value) = match owed_b.pop_front() {
                Some((v, value)) => (LinearCombination::from(v) + x, value + x_value),
                None => (LinearCombination::from(x), x_value),
            };
            let value = a_value * b_value;
            let var = cs.new_witness_variable(|| Ok(value))?;
            cs.enforce_r1cs_constraint(
                || a.clone(),
                || b.clone(),
                || LinearCombination::from(var),
            )?;
            chain.push((a, b, var));
            if role != Role::Output {
                owed_a.push_back((var, value));
            }
            if role == Role::AB {
                owed_b.push_back((var, value));
            }
        }

        let mut used = full;
        if left > 0 {
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
                Some((a, b, c)) => (a.clone(), b.clone(), *c),
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

/// Where a full-size variable of the synthetic chain appears besides its own row's C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// In a later row's A and another's B.
    AB,
    /// In a later row's A only.
    A,
    /// Nowhere else: an output.
    Output,
}

/// `count` copies of each role, interleaved evenly (so that the chain's queues stay short).
fn spread(counts: &[(Role, usize)]) -> Vec<Role> {
    let mut keyed: Vec<(f64, Role)> = counts
        .iter()
        .flat_map(|&(role, count)| (0..count).map(move |k| ((k as f64 + 0.5) / count as f64, role)))
        .collect();
    keyed.sort_by(|x, y| x.0.total_cmp(&y.0));
    keyed.into_iter().map(|(_, role)| role).collect()
}

/// Key generation for a synthetic circuit: the same ark-groth16 call as
/// [`crate::zk::groth16::setup`] makes for the real one.
pub fn setup(
    circuit: SyntheticCircuit,
    rng: &mut impl Rng,
) -> Result<crate::zk::groth16::ProvingKey, SynthesisError> {
    Groth16::<Bls12_381>::generate_random_parameters_with_reduction(circuit, rng)
}

/// Plain ark-groth16 proving of a synthetic circuit: one synthesis, no witness check and no
/// witness building (the baseline that [`crate::zk::groth16::prove`] is compared with). Without
/// randomizers (r = s = 0), as the real circuit is proven, so that the two do the same
/// multi-scalar multiplications. Not generic, so it is compiled here, optimised, as the real
/// circuit's proving is (see [`setup_from_seed`]).
pub fn prove(
    pk: &crate::zk::groth16::ProvingKey,
    circuit: SyntheticCircuit,
) -> Result<crate::zk::groth16::Proof, SynthesisError> {
    Groth16::<Bls12_381>::create_proof_with_reduction(circuit, pk, Fr::ZERO, Fr::ZERO)
}

/// [`setup`] with [`crate::zk::groth16::rng_from_seed`]. Not generic, so it is compiled here,
/// optimised, as the real circuit's proving is: a caller in an unoptimised crate would
/// otherwise instantiate the generic one itself, several times slower, and a comparison with
/// the real circuit would not be fair.
pub fn setup_from_seed(
    circuit: SyntheticCircuit,
    seed: [u8; 32],
) -> Result<crate::zk::groth16::ProvingKey, SynthesisError> {
    setup(circuit, &mut crate::zk::groth16::rng_from_seed(seed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zk::circuit::tests::{CHAIN, DEPTH, World, circuit};
    use ark_relations::gr1cs::ConstraintSystem;
    use verifier::zk_transfer::groth16::{PreparedKey, encode_proof, verify_zk_blob};

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

    /// Whether two counts of appearances agree to within the chain's last few variables.
    fn close(measured: usize, wanted: usize) -> bool {
        measured.abs_diff(wanted) <= 2
    }

    #[test]
    fn zk_synthetic_has_the_requested_shape_and_is_satisfied() {
        let of_size = SyntheticCircuit::of_size(500, 1);
        assert_eq!(counts(of_size), (500, PUBLIC_INPUTS, 500, true));
        for profile in [
            WitnessProfile {
                constraints: 1000,
                witness_variables: 1000,
                in_a: 800,
                in_b: 600,
                ..WitnessProfile::default()
            },
            // More rows than variables, fewer rows than variables, all small.
            WitnessProfile {
                constraints: 1200,
                witness_variables: 900,
                zeros: 100,
                units: 200,
                small: 50,
                in_a: 850,
                in_b: 700,
                ..WitnessProfile::default()
            },
            WitnessProfile {
                constraints: 700,
                witness_variables: 900,
                zeros: 100,
                units: 300,
                small: 50,
                in_a: 800,
                in_b: 300,
                ..WitnessProfile::default()
            },
            WitnessProfile {
                constraints: 10,
                witness_variables: 40,
                units: 40,
                in_a: 40,
                ..WitnessProfile::default()
            },
        ] {
            let synthetic = SyntheticCircuit::matching(profile, 5);
            assert_eq!(
                counts(synthetic),
                (
                    profile.constraints,
                    PUBLIC_INPUTS,
                    profile.witness_variables,
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
            assert!(
                close(measured.in_a, profile.in_a) && close(measured.in_b, profile.in_b),
                "{profile:?}: {measured:?}"
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
        assert_eq!(real.public_inputs, PUBLIC_INPUTS);
        assert!(real.zeros + real.units + real.small > 0 && real.full() > 0);
        assert!(real.in_b < real.in_a && real.in_a < real.witness_variables);
        println!("depth {DEPTH} batch 2 chain {CHAIN}: {real:?}");

        let synthetic = SyntheticCircuit::matching(real, 9);
        let twin = witness_profile(synthetic).unwrap();
        assert_eq!(
            WitnessProfile {
                in_a: real.in_a,
                in_b: real.in_b,
                ..twin
            },
            real
        );
        assert!(close(twin.in_a, real.in_a) && close(twin.in_b, real.in_b));

        let pk = setup_from_seed(synthetic, [1; 32]).unwrap();
        let proof = prove(&pk, synthetic).unwrap();
        let key = PreparedKey::new(&pk.vk).unwrap();
        let inputs = synthetic.public_inputs();
        verify_zk_blob(&key, &inputs, &encode_proof(&proof)).unwrap();
        for index in 0..PUBLIC_INPUTS {
            let mut wrong = inputs;
            wrong[index] += Fr::ONE;
            assert!(
                verify_zk_blob(&key, &wrong, &encode_proof(&proof)).is_err(),
                "input {index}"
            );
        }
    }
}
