//! Groth16 over BLS12-381 for the `zk-transfer` circuit: key generation and proving.
//! Verification is the verifier's ([`verifier::zk_transfer::groth16`]).
//!
//! [`setup`] is a *local, insecure* trusted setup: whoever runs it knows the toxic waste and
//! can forge proofs. It is for tests, benchmarks and development chains; a real deployment needs
//! a multi-party ceremony (see `docs/ZK.md`).

use ark_bls12_381::{Bls12_381, Fr};
use ark_ff::AdditiveGroup;
use ark_groth16::{Groth16, prepare_verifying_key};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, Matrix, OptimizationGoal,
    R1CS_PREDICATE_LABEL, SynthesisError, SynthesisMode,
};
use ark_std::rand::{Rng, SeedableRng, rngs::StdRng};
use std::sync::OnceLock;

use crate::zk::circuit::TransferBatchCircuit;
use crate::zk::shape::Shape;

/// A proving key for the `zk-transfer` circuit.
pub type ProvingKey = ark_groth16::ProvingKey<Bls12_381>;
/// A verifying key for the `zk-transfer` circuit.
pub type VerifyingKey = ark_groth16::VerifyingKey<Bls12_381>;
/// A Groth16 proof.
pub type Proof = ark_groth16::Proof<Bls12_381>;

/// [`setup`] with [`rng_from_seed`], compiled here (callers in unoptimized crates would
/// otherwise instantiate the generic setup themselves, about ten times slower).
pub fn setup_from_seed(
    shape: Shape,
    seed: [u8; 32],
) -> Result<(ProvingKey, VerifyingKey), SynthesisError> {
    setup(shape, &mut rng_from_seed(seed))
}

/// The uncompressed encoding of a proving key (it holds its verifying key).
pub fn encode_proving_key(pk: &ProvingKey) -> Vec<u8> {
    use ark_serialize::CanonicalSerialize;
    let mut out = Vec::with_capacity(pk.uncompressed_size());
    // Writing to a Vec cannot fail.
    let _ = pk.serialize_uncompressed(&mut out);
    out
}

/// Decodes a proving key written by [`encode_proving_key`]; the bytes must be exactly one key.
///
/// The points are not validated (subgroup checks over the whole key take seconds even for
/// tiny circuits): a proving key is the prover's own file, and a wrong one can only make
/// proofs that fail, which the prover's check of every blob with the verifier catches before
/// anything is committed. The verifying key it holds is checked against the genesis pin.
pub fn decode_proving_key(bytes: &[u8]) -> Option<ProvingKey> {
    use ark_serialize::CanonicalDeserialize;
    let mut reader = bytes;
    let pk = ProvingKey::deserialize_uncompressed_unchecked(&mut reader).ok()?;
    reader.is_empty().then_some(pk)
}

/// A random number generator for [`setup`] from a 32-byte seed (draw the seed from the
/// operating system for real keys; fix it for reproducible tests).
pub fn rng_from_seed(seed: [u8; 32]) -> StdRng {
    StdRng::from_seed(seed)
}

/// Generates the keys of the circuit of `shape`. Local and insecure: see the module
/// documentation.
pub fn setup(
    shape: Shape,
    rng: &mut impl Rng,
) -> Result<(ProvingKey, VerifyingKey), SynthesisError> {
    let circuit = TransferBatchCircuit::without_witness(shape);
    let pk = Groth16::<Bls12_381>::generate_random_parameters_with_reduction(circuit, rng)?;
    let vk = pk.vk.clone();
    Ok((pk, vk))
}

/// Proves `circuit` (which must carry a witness) with `pk`: [`KeyedProver::prove`], its
/// circuit's matrices built for this one proof.
pub fn prove(pk: &ProvingKey, circuit: TransferBatchCircuit) -> Result<Proof, SynthesisError> {
    let matrices = ShapeMatrices::new(circuit.shape)?;
    prove_with_matrices(pk, &matrices, circuit)
}

/// The constraint matrices of a circuit's shape, as ark-groth16's key generation and prover
/// build them (constraints optimised, linear combinations inlined). They do not depend on the
/// witness, and building them is serial work that grows with the circuit (inlining every
/// linear combination: a tenth of a proof's time at depth 32, batch 64), so a prover builds
/// them once per key ([`KeyedProver`]).
pub struct ShapeMatrices {
    shape: Shape,
    /// A, B and C.
    matrices: Vec<Matrix<Fr>>,
    instance_variables: usize,
    constraints: usize,
}

impl ShapeMatrices {
    /// The matrices of `shape`'s circuit.
    pub fn new(shape: Shape) -> Result<Self, SynthesisError> {
        let cs = shape_system(shape)?;
        cs.finalize();
        let matrices = cs
            .to_matrices()?
            .remove(R1CS_PREDICATE_LABEL)
            .ok_or(SynthesisError::MissingCS)?;
        Ok(Self {
            shape,
            matrices,
            instance_variables: cs.num_instance_variables(),
            constraints: cs.num_constraints(),
        })
    }
}

/// A proving key and, from its first proof on, its circuit's matrices: what proves blob after
/// blob under one key.
pub struct KeyedProver {
    pk: ProvingKey,
    shape: Shape,
    matrices: OnceLock<ShapeMatrices>,
}

impl KeyedProver {
    /// A prover with `pk`, a key for `shape`.
    pub fn new(pk: ProvingKey, shape: Shape) -> Self {
        Self {
            pk,
            shape,
            matrices: OnceLock::new(),
        }
    }

    /// The key's shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Proves `circuit`, which must carry a witness and have the key's shape.
    pub fn prove(&self, circuit: TransferBatchCircuit) -> Result<Proof, SynthesisError> {
        let matrices = match self.matrices.get() {
            Some(matrices) => matrices,
            None => {
                let built = ShapeMatrices::new(self.shape)?;
                self.matrices.get_or_init(|| built)
            }
        };
        prove_with_matrices(&self.pk, matrices, circuit)
    }
}

/// Proves `circuit` with `pk` and the matrices of its shape. The public inputs are
/// `circuit.public_inputs()`.
///
/// An unsatisfied circuit, or one of another shape than the matrices', is
/// `SynthesisError::Unsatisfiable`, never a proof that fails later: the new proof is verified
/// under `pk`'s verifying key before it is returned. That costs a few milliseconds, where
/// checking every constraint before proving (what ark-groth16's debug builds do) is a second
/// pass over the whole constraint system, single-threaded: 4% of a proof's time. Otherwise
/// this is ark-groth16's `create_proof_with_reduction` with the witness synthesised alone: no
/// constraint or linear combination is stored, the matrices are given.
///
/// The proof has no randomizers (r = s = 0): a function of the key and the witness, the same
/// bytes wherever it is proven, and B's G1 multi-scalar multiplication skipped. Why that is
/// sound here: docs/DECISIONS.md, "Proofs without randomizers".
fn prove_with_matrices(
    pk: &ProvingKey,
    matrices: &ShapeMatrices,
    circuit: TransferBatchCircuit,
) -> Result<Proof, SynthesisError> {
    if circuit.shape != matrices.shape {
        return Err(SynthesisError::Unsatisfiable);
    }
    let public_inputs = circuit
        .public_inputs()
        .ok_or(SynthesisError::AssignmentMissing)?;
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: false,
        generate_lc_assignments: false,
    });
    circuit.generate_constraints(cs.clone())?;
    let full_assignment = {
        let system = cs.borrow().ok_or(SynthesisError::MissingCS)?;
        let instance = system
            .instance_assignment()
            .map_err(|_| SynthesisError::AssignmentMissing)?;
        let witness = system
            .witness_assignment()
            .map_err(|_| SynthesisError::AssignmentMissing)?;
        [instance, witness].concat()
    };
    let proof = Groth16::<Bls12_381>::create_proof_with_reduction_and_matrices(
        pk,
        Fr::ZERO,
        Fr::ZERO,
        &matrices.matrices,
        matrices.instance_variables,
        matrices.constraints,
        &full_assignment,
    )?;
    let prepared = prepare_verifying_key(&pk.vk);
    match Groth16::<Bls12_381>::verify_proof(&prepared, &proof, &public_inputs) {
        Ok(true) => Ok(proof),
        _ => Err(SynthesisError::Unsatisfiable),
    }
}

/// Synthesises `circuit` with its witness as ark-groth16's prover does: constraints optimised,
/// matrices built, linear combinations inlined.
pub fn synthesize_for_proving<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
) -> Result<ConstraintSystemRef<Fr>, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
        generate_lc_assignments: false,
    });
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    Ok(cs)
}

/// Whether the circuit's witness satisfies every constraint.
pub fn is_satisfied(circuit: TransferBatchCircuit) -> Result<bool, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    circuit.generate_constraints(cs.clone())?;
    cs.is_satisfied()
}

/// The constraint system of `shape`'s circuit without a witness, as key generation synthesises
/// it (constraints optimised; linear combinations not yet inlined).
fn shape_system(shape: Shape) -> Result<ConstraintSystemRef<Fr>, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    TransferBatchCircuit::without_witness(shape).generate_constraints(cs.clone())?;
    Ok(cs)
}

/// The number of constraints and of public inputs (instance variables, the constant 1 aside)
/// of the circuit's shape, without a witness.
pub fn shape_counts(shape: Shape) -> Result<(usize, usize), SynthesisError> {
    let cs = shape_system(shape)?;
    Ok((
        cs.num_constraints(),
        cs.num_instance_variables().saturating_sub(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zk::circuit::tests::{CHAIN, DEPTH, World, circuit};
    use ark_r1cs_std::alloc::AllocVar;
    use ark_r1cs_std::fields::fp::FpVar;
    use ark_relations::gr1cs::ConstraintSystemRef;
    use std::time::Instant;
    use verifier::zk_transfer::groth16::{
        PROOF_BYTES, PreparedKey, ZkVerifyError, decode_verifying_key, encode_proof,
        encode_verifying_key, verify_zk_blob, verifying_key_hash,
    };
    use verifier::zk_transfer::{
        INPUT_POST_ROOT, PUBLIC_INPUTS, blob_public_inputs, fr_to_hash, hash_to_fr,
    };
    use witness_format::{Hash32, SszDecode, SszEncode, Transaction};

    const BATCH: usize = 2;

    /// A prover that keeps its key's matrices proves the same bytes as a proof that builds them
    /// itself, proof after proof, and proving is a function of the witness (no randomizers): the
    /// same witness twice gives the same bytes, another witness other bytes. A circuit of
    /// another shape is refused.
    #[test]
    fn zk_keyed_prover_proves_what_a_fresh_synthesis_proves() {
        let world = World::new();
        let shape = Shape::new(DEPTH, BATCH as u16, CHAIN);
        let (pk, _) = setup(shape, &mut rng_from_seed([5; 32])).unwrap();
        let keyed = KeyedProver::new(pk.clone(), shape);
        let mut proofs = Vec::new();
        for txs in [
            [world.tx(0, 1, 100)],
            [world.tx(0, 1, 100)],
            [world.tx(1, 0, 7)],
        ] {
            let witness = world.witness(&txs, BATCH);
            let fresh = prove(&pk, circuit(witness.clone(), BATCH)).unwrap();
            let kept = keyed.prove(circuit(witness, BATCH)).unwrap();
            assert_eq!(encode_proof(&fresh), encode_proof(&kept));
            proofs.push(encode_proof(&kept));
        }
        assert_eq!(proofs[0], proofs[1], "the same witness, the same proof");
        assert_ne!(proofs[0], proofs[2], "another witness, another proof");
        let other = TransferBatchCircuit {
            shape: Shape::new(DEPTH, 1, CHAIN),
            witness: Some(world.witness(&[world.tx(0, 1, 100)], 1)),
        };
        assert!(matches!(
            keyed.prove(other),
            Err(SynthesisError::Unsatisfiable)
        ));
    }

    #[test]
    fn zk_groth16_round_trip_and_rejections() {
        let world = World::new();
        let txs = [world.tx(0, 1, 100), world.tx(5, 9, 2)];
        let witness = world.witness(&txs, BATCH);
        let input = witness.public_inputs();
        assert_eq!(
            input,
            blob_public_inputs(
                0,
                &fr_to_hash(&witness.pre_state_root),
                &fr_to_hash(&witness.post_state_root),
                &txs
            )
            .unwrap()
        );
        let mut rng = rng_from_seed([1; 32]);
        let start = Instant::now();
        let (pk, vk) = setup(Shape::new(DEPTH, BATCH as u16, CHAIN), &mut rng).unwrap();
        let setup_time = start.elapsed();
        let start = Instant::now();
        let proof = prove(&pk, circuit(witness.clone(), BATCH)).unwrap();
        let prove_time = start.elapsed();
        let bytes = encode_proof(&proof);
        let key = PreparedKey::new(&vk).unwrap();
        let start = Instant::now();
        verify_zk_blob(&key, &input, &bytes).unwrap();
        println!(
            "groth16 depth {DEPTH} batch {BATCH}: setup {setup_time:?}, prove {prove_time:?}, \
             verify {:?}",
            start.elapsed()
        );

        // Any one public input wrong.
        for index in 0..PUBLIC_INPUTS {
            let mut wrong = input;
            wrong[index] += Fr::from(1u64);
            assert_eq!(
                verify_zk_blob(&key, &wrong, &bytes),
                Err(ZkVerifyError::ProofRejected),
                "input {index}"
            );
        }
        // Tampered bytes: every byte position flipped is rejected, as undecodable or invalid.
        for position in (0..PROOF_BYTES).step_by(7) {
            let mut bad = bytes;
            bad[position] ^= 0x01;
            assert!(
                matches!(
                    verify_zk_blob(&key, &input, &bad),
                    Err(ZkVerifyError::UndecodableProof | ZkVerifyError::ProofRejected)
                ),
                "byte {position}"
            );
        }
        assert_eq!(
            verify_zk_blob(&key, &input, &[0xff; PROOF_BYTES]),
            Err(ZkVerifyError::UndecodableProof)
        );
        // Under another key with as many public inputs (a tiny circuit's: a second setup of
        // this circuit would double the test's time and prove the same thing).
        let other_pk =
            Groth16::<Bls12_381>::generate_random_parameters_with_reduction(FiveInputs, &mut rng)
                .unwrap();
        assert_ne!(verifying_key_hash(&other_pk.vk), verifying_key_hash(&vk));
        assert_eq!(
            verify_zk_blob(&PreparedKey::new(&other_pk.vk).unwrap(), &input, &bytes),
            Err(ZkVerifyError::ProofRejected)
        );
        // The key survives its encoding.
        let decoded = decode_verifying_key(&encode_verifying_key(&vk)).unwrap();
        assert_eq!(decoded, vk);
        let mut long = encode_verifying_key(&vk);
        long.push(0);
        assert_eq!(
            decode_verifying_key(&long),
            Err(ZkVerifyError::UndecodableKey)
        );
        // The post root claimed is the one the slots compute.
        assert_eq!(input[INPUT_POST_ROOT], witness.post_state_root);
        // An unsatisfied witness (a tampered post-root claim) gives no proof.
        let mut bad = witness;
        bad.post_state_root += Fr::from(1u64);
        assert!(matches!(
            prove(&pk, circuit(bad, BATCH)),
            Err(SynthesisError::Unsatisfiable)
        ));
    }

    /// A circuit with as many public inputs as the real one: x_j · x_j = 4 for each.
    struct FiveInputs;

    impl ConstraintSynthesizer<Fr> for FiveInputs {
        fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
            for _ in 0..PUBLIC_INPUTS {
                let x = FpVar::new_input(cs.clone(), || Ok(Fr::from(2u64)))?;
                x.mul_equals(&x, &FpVar::Constant(Fr::from(4u64)))?;
            }
            Ok(())
        }
    }

    /// A circuit with two public inputs: x · y = 1.
    struct TwoInputs;

    impl ConstraintSynthesizer<Fr> for TwoInputs {
        fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
            let x = FpVar::new_input(cs.clone(), || Ok(Fr::from(2u64)))?;
            let y = FpVar::new_input(cs.clone(), || Ok(Fr::from(2u64).inverse().unwrap()))?;
            x.mul_equals(&y, &FpVar::Constant(Fr::from(1u64)))
        }
    }

    use ark_ff::Field;
    use ark_r1cs_std::fields::FieldVar;

    #[test]
    fn zk_groth16_rejects_a_key_with_another_input_count() {
        let mut rng = rng_from_seed([3; 32]);
        let pk =
            Groth16::<Bls12_381>::generate_random_parameters_with_reduction(TwoInputs, &mut rng)
                .unwrap();
        assert_eq!(pk.vk.gamma_abc_g1.len(), 3);
        assert_eq!(
            PreparedKey::new(&pk.vk).map(|_| ()),
            Err(ZkVerifyError::PublicInputCount { found: 2 })
        );
        // ark-groth16 alone would accept the proof with only the first input given.
        let proof =
            Groth16::<Bls12_381>::create_random_proof_with_reduction(TwoInputs, &pk, &mut rng)
                .unwrap();
        let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
        assert!(
            Groth16::<Bls12_381>::verify_proof(
                &pvk,
                &proof,
                &[Fr::from(2u64), Fr::from(2u64).inverse().unwrap()]
            )
            .unwrap()
        );
        let (_, inputs) = shape_counts(Shape::new(DEPTH, BATCH as u16, CHAIN)).unwrap();
        assert_eq!(inputs, PUBLIC_INPUTS);
    }

    const PINNED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/zk_pinned_d4_b2.txt"
    );
    const REGENERATE: &str = "STATELESS_REGENERATE_PINNED";

    struct Pinned {
        pre: Hash32,
        post: Hash32,
        transactions: Vec<Transaction>,
        vk: Vec<u8>,
        proof: [u8; PROOF_BYTES],
        inputs: Vec<Hash32>,
        vk_hash: Hash32,
    }

    fn hex32(s: &str) -> Hash32 {
        Hash32::from(<[u8; 32]>::try_from(hex::decode(s).unwrap().as_slice()).unwrap())
    }

    fn read_pinned() -> Option<Pinned> {
        let text = std::fs::read_to_string(PINNED).ok()?;
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .map(str::to_owned)
        };
        Some(Pinned {
            pre: hex32(&field("pre_state_root")?),
            post: hex32(&field("post_state_root")?),
            transactions: field("transactions")?
                .split(',')
                .map(|t| Transaction::from_ssz_bytes(&hex::decode(t).unwrap()).unwrap())
                .collect(),
            vk: hex::decode(field("verifying_key")?).ok()?,
            proof: hex::decode(field("proof")?).ok()?.try_into().ok()?,
            inputs: field("public_inputs")?.split(',').map(hex32).collect(),
            vk_hash: hex32(&field("verifying_key_sha3")?),
        })
    }

    fn regenerate() {
        let world = World::new();
        let txs = [world.tx(0, 1, 100), world.tx(1, 12, 3)];
        let witness = world.witness(&txs, BATCH);
        let mut rng = rng_from_seed([42; 32]);
        let (pk, vk) = setup(Shape::new(DEPTH, BATCH as u16, CHAIN), &mut rng).unwrap();
        let inputs = witness.public_inputs();
        let proof = prove(&pk, circuit(witness.clone(), BATCH)).unwrap();
        let text = format!(
            "# zk-transfer pinned proof: chain {CHAIN}, depth {DEPTH}, batch {BATCH}.\n\
             # Regenerate with {REGENERATE}=1 cargo test -p prover zk_groth16_pinned_proof\n\
             chain_id={CHAIN}\ndepth={DEPTH}\nbatch={BATCH}\n\
             pre_state_root={}\npost_state_root={}\ntransactions={}\n\
             public_inputs={}\nverifying_key_sha3={}\nverifying_key={}\nproof={}\n",
            hex::encode(fr_to_hash(&witness.pre_state_root).0),
            hex::encode(fr_to_hash(&witness.post_state_root).0),
            txs.iter()
                .map(|t| hex::encode(t.as_ssz_bytes()))
                .collect::<Vec<_>>()
                .join(","),
            inputs
                .iter()
                .map(|x| hex::encode(fr_to_hash(x).0))
                .collect::<Vec<_>>()
                .join(","),
            hex::encode(verifying_key_hash(&vk).0),
            hex::encode(encode_verifying_key(&vk)),
            hex::encode(encode_proof(&proof)),
        );
        std::fs::create_dir_all(std::path::Path::new(PINNED).parent().unwrap()).unwrap();
        std::fs::write(PINNED, text).unwrap();
    }

    fn check_pinned(p: &Pinned) -> Result<(), String> {
        let inputs =
            blob_public_inputs(0, &p.pre, &p.post, &p.transactions).map_err(|e| e.to_string())?;
        let pinned: Vec<Option<Fr>> = p.inputs.iter().map(hash_to_fr).collect();
        if inputs.iter().map(fr_to_hash).ne(p.inputs.iter().copied()) || pinned != inputs.map(Some)
        {
            return Err("the public inputs computed from the pinned blob changed".into());
        }
        let vk = decode_verifying_key(&p.vk).map_err(|e| e.to_string())?;
        if verifying_key_hash(&vk) != p.vk_hash {
            return Err("the verifying key hash changed".into());
        }
        let key = PreparedKey::new(&vk).map_err(|e| e.to_string())?;
        verify_zk_blob(&key, &inputs, &p.proof).map_err(|e| e.to_string())
    }

    /// A committed proof, key and public inputs verify on every run: a change of the circuit,
    /// the hashes or the encodings that breaks old proofs fails here. Regenerated only with
    /// `STATELESS_REGENERATE_PINNED=1`.
    #[test]
    fn zk_groth16_pinned_proof() {
        let regenerate_asked = std::env::var(REGENERATE).is_ok_and(|v| v == "1");
        if regenerate_asked {
            regenerate();
        }
        let pinned = read_pinned().unwrap_or_else(|| {
            panic!("{PINNED} is missing or malformed; regenerate with {REGENERATE}=1")
        });
        if let Err(e) = check_pinned(&pinned) {
            panic!("pinned zk proof no longer verifies ({e}); if intended, {REGENERATE}=1");
        }
    }
}
