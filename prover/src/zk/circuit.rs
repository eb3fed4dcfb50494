//! The `zk-transfer` circuit: a batch of B transfer slots on a Poseidon tree of depth D, with
//! five public inputs.
//!
//! The rules are [`verifier::zk_transfer`]'s (and the shared [`verifier::transfer`] rules),
//! restated as constraints; the tests run both on the same valid and invalid batches.
//!
//! # Public inputs
//!
//! [`verifier::zk_transfer::public_inputs`], allocated in this order: the pre-state root (the
//! root the first slot starts from: the input itself), the root after the last slot, the
//! commitment sponge over the real slots' transactions and signatures, the number of real slots, and
//! the number of top index bits the chain's bridge reserves (the sum of monotone boolean
//! flags); the circuit enforces each of the last four equal to the value it computes. No hash
//! of them: a verifier can combine the inputs of consecutive proofs linearly. Chain id and model
//! tag are constants of the circuit (a key is made for one chain, and both are in every
//! message).
//!
//! # Layout of a slot
//!
//! Every slot has the same constraints; a boolean `is_real` says whether it holds a transfer:
//!
//! 1. `from`, `to`: D index bits each (their sums are the account numbers, so both are below
//!    2^D); `amount`: 64 bits; the transaction's nonce, the new-owner key (nx, ny), the
//!    signature (R, bits of s). The top `reserved_bits` index bits of both are 0: no slot
//!    touches a channel leaf of the bridge (on a chain of two models, the upper half of the
//!    tree), as natively a zk blob may not (`BridgeInZkBlob`), so a channel leaf can never be
//!    spent in-circuit. The flags `f_j = [j < reserved_bits]`, `j < MAX_RESERVED_BITS`, are
//!    booleans with `f_j ≤ f_{j-1}`, so their sum (a public input) says exactly which
//!    bits are cleared.
//! 2. message = `hash_many(TX_DOMAIN, [chain_id, MODEL_TAG, from + 2⁶⁴·to, amount + 2⁶⁴·nonce])`,
//!    or with `nx, ny` appended when the slot creates its receiver (`empty`, which step 4 ties
//!    to the key's presence): both forms computed from their constant first permutation, one
//!    selected. Each pair reads back uniquely because all four are below 2⁶⁴: `from` and `to`
//!    have D ≤ 64 bits, `amount` 64, and a real slot's nonce is its sender leaf's, a `u64` in
//!    every valid tree. The Schnorr gadget enforces the
//!    signature under the sender's key (A = the sender leaf's coordinates).
//! 3. Sender: leaf (x, y, balance, nonce); the transaction's nonce equals the leaf's; new
//!    balance = balance − amount and new nonce = nonce + 1, each range-checked to 64 bits (no
//!    overdraft, no nonce overflow). Old and new leaf hashes share the sponge's first
//!    permutation (it absorbs only x, y, which do not change). One path of D siblings: the old
//!    leaf must give the current root (when `is_real`), the new leaf gives the next root.
//! 4. Receiver, under the root after the sender's update (so `to == from` just works, as
//!    natively): leaf (x, y, balance, nonce) and a boolean `empty`. Empty ⇒ all four are 0;
//!    creation ⇔ new key present: `(1 − empty)·nx = (1 − empty)·ny = 0` and `nx · inv = empty`
//!    (a valid key has x ≠ 0), and a created key is a point of the prime-order subgroup:
//!    `empty · (K − (nx, ny)) = 0` for a point K allocated in the subgroup (21 constraints), as
//!    natively a new key must decode ([`verifier::zk_transfer::schnorr::decode_point`]); a key of small
//!    order could otherwise be signed for by anyone. The receiver's key after the transfer is
//!    `(x + nx, y + ny)`.
//!    Old leaf hash = `(1 − empty) · H(key, balance, nonce)` (0 for the empty slot), new leaf
//!    hash = `H(key, balance + amount, nonce)`, new balance range-checked to 64 bits. One path.
//! 5. Commitment ([`verifier::zk_transfer::TxCommitment`]): the blob's one sponge, its capacity
//!    starting at `TX_COMMITMENT_DOMAIN + (n + 1)·2⁶⁴` with n the count input, absorbs
//!    `[from + 2⁶⁴·to + 2¹²⁸·empty, amount + 2⁶⁴·nonce]`, then `[σr, σs]` with `σr = R.y` and
//!    `σs = s + 2²⁵²·b`, b the sign bit of R's encoding (enforced from R.x, about 445
//!    constraints): exactly the elements the verifier reads from the signature bytes
//!    ([`verifier::zk_transfer::signature_elements`]), so the bytes a blob carries are those of
//!    the signature the slot verified; then `[nx, ny]`, whose state is kept only when `empty`
//!    (the key is present). A padding slot keeps the whole state (`is_real` selects it).
//!
//! A path computes the old and the new root from the same siblings, each level one
//! conditional swap (one constraint) and one `hash2` (240), so 2·D·241 per leaf.
//!
//! # Shared levels
//!
//! With L = `shape.shared_levels` > 0, every account of the blob lies in one subtree of 2^S
//! leaves, S = D − L: the top L index bits of every `from` and `to` are the same L boolean
//! witnesses (the subtree's index), and the slots' paths go up S levels, chaining the subtree's
//! root where they would chain the tree's. Once per blob, one path of L levels (the subtree
//! root's siblings, unchanged by the blob, since every update is inside the subtree) takes the
//! subtree's first root to the pre-state root input and its last to the post-state root input.
//! With L = 0 the circuit is exactly the one without the option: the slots start from the
//! pre-state root input and the last root is the post-state root.
//!
//! # Padding
//!
//! The first slot is real (no blob is empty, `EmptyBlob`). A padding slot (`is_real = 0`) changes neither the root nor the commitment: its membership
//! checks are disabled (`is_real · (old_root − root) = 0`) and the next root is
//! `root + is_real · (new_root − root)`. Everything else is still enforced, so the prover fills
//! it with a well-formed dummy: a transfer of 0 from the subtree's first account (0 without
//! shared levels) to itself, signed by a fixed
//! padding key ([`crate::zk::witness::PADDING_KEY_SEED`]). Because padding leaves the commitment unchanged, the
//! commitment covers exactly the real transactions, in order, which is what the verifier
//! computes from the blob ([`verifier::zk_transfer::tx_commitment`]); a prover cannot pad
//! differently from what the verifier computes, nor drop or add a transaction.
//!
//! # Why the pre-state values need no more checks
//!
//! Balances and nonces read from leaves are below 2^64 because every leaf of a valid tree is:
//! genesis leaves are `u64`s, and every update (native or in-circuit) is range-checked. Keys
//! read from leaves are valid subgroup points for the same reason (a leaf's hash needs a key
//! that decodes). The sender's key therefore needs no subgroup check in-circuit.

use ark_bls12_381::Fr;
use ark_ec::AffineRepr;
use ark_ed_on_bls12_381::constraints::EdwardsVar;
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField};
use ark_r1cs_std::GR1CSVar;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use verifier::accounts::touched_accounts;
use verifier::tree::{leaf_nodes, read_multiproof, witness_state};
use verifier::zk_transfer::poseidon::{LENGTH_WEIGHT, WIDTH, sponge_capacity};
use verifier::zk_transfer::schnorr::{self, SCALAR_BITS, SIGNATURE_BYTES};
use verifier::zk_transfer::{
    INPUT_COMMITMENT, INPUT_POST_ROOT, INPUT_PRE_ROOT, INPUT_RESERVED_BITS, INPUT_TRANSACTIONS,
    KEY_FLAG_WEIGHT, LEAF_DOMAIN, MessageHasher, NODE_DOMAIN, PAIR_SHIFT, PUBLIC_INPUTS,
    R_SIGN_WEIGHT, TX_COMMITMENT_DOMAIN, ZK_TRANSFER_TREE,
};
use verifier::{Reason, VerifyError};
use witness_format::{Blob, Model, Witness};

use crate::zk::poseidon::{absorb_gadget, hash2_gadget, permute_gadget};
use crate::zk::schnorr::{alloc_subgroup_point, enforce_not_both, sign_bit, verify_gadget};
use crate::zk::shape::Shape;
use crate::zk::witness::{BatchWitness, SlotWitness, WitnessError, build_witness};

/// The circuit: `shape.batch` transfer slots on a tree of `shape.depth` levels for chain
/// `shape.chain_id`, the top `shape.shared_levels` levels computed once for the blob.
/// `witness` is `None` for key generation, which needs only the shape.
#[derive(Clone, Debug)]
pub struct TransferBatchCircuit {
    /// Depth, batch, chain id and shared levels.
    pub shape: Shape,
    /// The assignment, for proving.
    pub witness: Option<BatchWitness>,
}

impl TransferBatchCircuit {
    /// The shape alone, for key generation.
    pub fn without_witness(shape: Shape) -> Self {
        Self {
            shape,
            witness: None,
        }
    }

    /// The public inputs the witness proves, if there is a witness.
    pub fn public_inputs(&self) -> Option<[Fr; PUBLIC_INPUTS]> {
        self.witness.as_ref().map(|witness| witness.public_inputs())
    }
}

/// The circuit proving a `zk-transfer` blob that carries a Merkle witness, its witness built
/// from that witness: the pre-state leaves, and the multiproof's siblings in the order it
/// carries them ([`build_witness`]). This is how a blob the prover has built with a Merkle
/// witness is proven instead, and what `stateless bench --zk` times.
pub fn merkle_blob_circuit(
    shape: Shape,
    reserved_bits: u8,
    blob: &Blob,
) -> Result<TransferBatchCircuit, WitnessError<VerifyError>> {
    let Witness::Merkle(merkle) = &blob.witness else {
        return Err(WitnessError::NotAMerkleWitness);
    };
    let depth = shape.depth;
    let checked = touched_accounts(&blob.transactions, depth)
        .and_then(|accounts| Ok(witness_state(accounts, merkle)?))
        .and_then(|pre_state| {
            let leaves = leaf_nodes(&ZK_TRANSFER_TREE, &pre_state)
                .map_err(|index| VerifyError::from(Reason::InvalidLeafKey { index }))?;
            let (_, siblings) =
                read_multiproof(&ZK_TRANSFER_TREE, depth, leaves, merkle, |bytes| {
                    verifier::zk_transfer::hash_to_fr(bytes).ok_or_else(|| {
                        VerifyError::from(Reason::NonCanonicalFieldElement {
                            what: "a witness sibling",
                        })
                    })
                })?;
            Ok((pre_state, siblings))
        });
    let (pre_state, siblings) = checked.map_err(WitnessError::Sibling)?;
    let mut replay = siblings.into_iter();
    let witness = build_witness(
        shape,
        reserved_bits,
        &pre_state,
        &blob.transactions,
        // The build walks the same accounts, so it asks for the same siblings in the same
        // order: the replay never runs short.
        |_, _| Ok(replay.next().unwrap_or(Fr::ZERO)),
    )?;
    Ok(TransferBatchCircuit {
        shape,
        witness: Some(witness),
    })
}

impl ConstraintSynthesizer<Fr> for TransferBatchCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let values = self.public_inputs();
        synthesize_batch(&self, cs, values)
    }
}

/// The circuit's constraints, with `values` assigned to its public inputs (the witness's own,
/// [`TransferBatchCircuit::public_inputs`], except in tests that claim other ones).
fn synthesize_batch(
    circuit: &TransferBatchCircuit,
    cs: ConstraintSystemRef<Fr>,
    values: Option<[Fr; PUBLIC_INPUTS]>,
) -> Result<(), SynthesisError> {
    // The public inputs, in the order of `verifier::zk_transfer::public_inputs`; the pre-state
    // root is the root the first slot starts from.
    let input = |index: usize| {
        FpVar::new_input(cs.clone(), || {
            values
                .and_then(|values| values.get(index).copied())
                .ok_or(SynthesisError::AssignmentMissing)
        })
    };
    let pre_root = input(INPUT_PRE_ROOT)?;
    let post_input = input(INPUT_POST_ROOT)?;
    let commitment_input = input(INPUT_COMMITMENT)?;
    let count_input = input(INPUT_TRANSACTIONS)?;
    let reserved_input = input(INPUT_RESERVED_BITS)?;
    let witness = circuit.witness.as_ref();
    let shape = circuit.shape;
    shape.check().map_err(|_| SynthesisError::Unsatisfiable)?;
    let reserved = reserved_flags(&cs, shape.depth, witness.map(|w| w.reserved_bits))?;
    // The blob's subtree: the top index bits every account of the blob shares, and the siblings
    // of its root's path, once for all slots. The slots' paths end at the subtree's root.
    let shared = usize::from(shape.shared_levels);
    let missing = SynthesisError::AssignmentMissing;
    let subtree_bits = witness_bits(
        &cs,
        shared,
        witness.map(|w| u64_bits(w.subtree, shared)).ok_or(missing),
    )?;
    let top_siblings = (0..shared)
        .map(|level| {
            FpVar::new_witness(cs.clone(), || {
                witness
                    .and_then(|w| w.subtree_siblings.get(level).copied())
                    .ok_or(missing)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let first_root = if shared == 0 {
        pre_root.clone()
    } else {
        FpVar::new_witness(cs.clone(), || {
            witness.map(|w| w.pre_subtree_root).ok_or(missing)
        })?
    };
    let mut root = first_root.clone();
    // The commitment sponge; its capacity binds the transaction count (`TxCommitment::new`).
    let mut commitment = [
        &count_input * LENGTH_WEIGHT + sponge_capacity(TX_COMMITMENT_DOMAIN, 0),
        FpVar::zero(),
        FpVar::zero(),
    ];
    let mut count = FpVar::Constant(Fr::ZERO);
    let slot_shape = SlotShape {
        path_levels: usize::from(shape.subtree_depth()),
        subtree_bits: &subtree_bits,
        message_prefixes: MessageHasher::new(shape.chain_id).prefix_states(),
        reserved: &reserved,
    };
    for index in 0..shape.batch() {
        let slot = witness.and_then(|w| w.slots.get(index));
        let out = synthesize_slot(&cs, &slot_shape, slot, &root, &commitment)?;
        if index == 0 {
            // No blob is empty: the first slot holds a transaction.
            out.real.enforce_equal(&FpVar::one())?;
        }
        (root, commitment) = (out.root, out.commitment);
        count += out.real;
    }
    if shared == 0 {
        root.enforce_equal(&post_input)?;
    } else {
        // The levels above the subtree change only through its root: the same siblings take
        // the subtree's first root to the pre-state root and its last to the post-state root.
        let (old_root, new_root) = update_path(&subtree_bits, &top_siblings, first_root, root)?;
        old_root.enforce_equal(&pre_root)?;
        new_root.enforce_equal(&post_input)?;
    }
    let [_, commitment, _] = commitment;
    commitment.enforce_equal(&commitment_input)?;
    count.enforce_equal(&count_input)?;
    reserved
        .iter()
        .fold(FpVar::zero(), |sum, flag| sum + FpVar::from(flag.clone()))
        .enforce_equal(&reserved_input)
}

/// A witness value of the slot, or `AssignmentMissing` (key generation).
fn value<T>(
    slot: Option<&SlotWitness>,
    f: impl FnOnce(&SlotWitness) -> T,
) -> Result<T, SynthesisError> {
    slot.map(f).ok_or(SynthesisError::AssignmentMissing)
}

fn witness_fr(
    cs: &ConstraintSystemRef<Fr>,
    slot: Option<&SlotWitness>,
    f: impl FnOnce(&SlotWitness) -> Fr,
) -> Result<FpVar<Fr>, SynthesisError> {
    FpVar::new_witness(cs.clone(), || value(slot, f))
}

/// `n` boolean witnesses, the low bits of an integer, least significant first.
fn witness_bits(
    cs: &ConstraintSystemRef<Fr>,
    n: usize,
    bits: Result<Vec<bool>, SynthesisError>,
) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    (0..n)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                bits.as_ref()
                    .map(|b| b.get(i).copied().unwrap_or(false))
                    .map_err(|e| *e)
            })
        })
        .collect()
}

fn u64_bits(x: u64, n: usize) -> Vec<bool> {
    (0..n).map(|i| i < 64 && (x >> i) & 1 == 1).collect()
}

/// Σ bits_i · 2^i: a linear combination, no constraint.
fn pack(bits: &[Boolean<Fr>]) -> FpVar<Fr> {
    let mut acc = FpVar::Constant(Fr::ZERO);
    let mut coefficient = Fr::ONE;
    for bit in bits {
        acc += FpVar::from(bit.clone()) * coefficient;
        coefficient.double_in_place();
    }
    acc
}

/// Enforces `0 ≤ x < 2^64` (as an integer in [0, p)): 64 boolean witnesses and their sum
/// (65 constraints).
fn range_check_64(cs: &ConstraintSystemRef<Fr>, x: &FpVar<Fr>) -> Result<(), SynthesisError> {
    let bits = x.value().map(|v| {
        let bigint = v.into_bigint();
        (0..64).map(|i| bigint.get_bit(i)).collect::<Vec<_>>()
    });
    let bits = witness_bits(cs, 64, bits)?;
    pack(&bits).enforce_equal(x)
}

/// The Poseidon sponge state of a leaf hash after absorbing the key (x, y): shared by the old
/// and new hashes of the same key.
fn leaf_prefix(x: &FpVar<Fr>, y: &FpVar<Fr>) -> Result<[FpVar<Fr>; 3], SynthesisError> {
    let mut state = [
        FpVar::Constant(sponge_capacity(LEAF_DOMAIN, 4)),
        x.clone(),
        y.clone(),
    ];
    permute_gadget(&mut state)?;
    Ok(state)
}

/// Finishes a leaf hash from its prefix: absorbs (balance, nonce), permutes, outputs element 1.
fn leaf_finish(
    prefix: &[FpVar<Fr>; 3],
    balance: &FpVar<Fr>,
    nonce: &FpVar<Fr>,
) -> Result<FpVar<Fr>, SynthesisError> {
    let [s0, s1, s2] = prefix.clone();
    let mut state = [s0, s1 + balance, s2 + nonce];
    permute_gadget(&mut state)?;
    let [_, out, _] = state;
    Ok(out)
}

/// The old and new roots of a path from the old and new leaf hashes and the shared siblings,
/// one level per sibling; `bits` pick the side at each level (1: the node is the right child),
/// and those past the siblings (the subtree's, above a slot's path) are not read.
fn update_path(
    bits: &[Boolean<Fr>],
    siblings: &[FpVar<Fr>],
    old_leaf: FpVar<Fr>,
    new_leaf: FpVar<Fr>,
) -> Result<(FpVar<Fr>, FpVar<Fr>), SynthesisError> {
    let domain = FpVar::Constant(NODE_DOMAIN);
    let mut old = old_leaf;
    let mut new = new_leaf;
    for (bit, sibling) in bits.iter().zip(siblings) {
        let b = FpVar::from(bit.clone());
        for node in [&mut old, &mut new] {
            // left = node + b·(sibling − node), right = sibling − b·(sibling − node).
            let delta = &b * (sibling - &*node);
            let left = &*node + &delta;
            let right = sibling - &delta;
            *node = hash2_gadget(&domain, &left, &right)?;
        }
    }
    Ok((old, new))
}

/// `real · (a − b) = 0`.
fn enforce_equal_if(real: &FpVar<Fr>, a: &FpVar<Fr>, b: &FpVar<Fr>) -> Result<(), SynthesisError> {
    real.mul_equals(&(a - b), &FpVar::zero())
}

/// `real ? a : b` as `b + real · (a − b)`.
fn select(real: &FpVar<Fr>, a: &FpVar<Fr>, b: &FpVar<Fr>) -> FpVar<Fr> {
    b + real * (a - b)
}

/// The most top index bits a bridge can reserve: regions for up to 8 models.
pub const MAX_RESERVED_BITS: u8 = 3;
const _: () = assert!(Model::ALL.len() <= 1 << MAX_RESERVED_BITS);

/// The flags `f_j = [j < reserved_bits]` for `j < MAX_RESERVED_BITS` (flag j clears index bit
/// `depth - 1 - j`): booleans, each at most the one before (so their sum names them), and none
/// set for a bit that would leave no account below (`j ≥ depth - 1`, as natively).
fn reserved_flags(
    cs: &ConstraintSystemRef<Fr>,
    depth: u8,
    reserved_bits: Option<u8>,
) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    let mut flags: Vec<Boolean<Fr>> = Vec::with_capacity(usize::from(MAX_RESERVED_BITS));
    for j in 0..MAX_RESERVED_BITS {
        let flag = if j.saturating_add(1) >= depth {
            Boolean::FALSE
        } else {
            Boolean::new_witness(cs.clone(), || {
                reserved_bits
                    .map(|bits| j < bits)
                    .ok_or(SynthesisError::AssignmentMissing)
            })?
        };
        if let Some(previous) = flags.last() {
            enforce_not_both(&flag, &!previous)?;
        }
        flags.push(flag);
    }
    Ok(flags)
}

/// What every slot of a circuit shares.
struct SlotShape<'a> {
    /// Levels of a slot's paths: from the leaf to the subtree's root.
    path_levels: usize,
    /// The subtree's index bits, the top bits of every account of the blob.
    subtree_bits: &'a [Boolean<Fr>],
    /// The message sponge's states after its constant prefix, without and with a new-owner key
    /// ([`MessageHasher::prefix_states`]), computed once for all slots.
    message_prefixes: [[Fr; WIDTH]; 2],
    /// The reserved-bit flags, from the top bit down ([`reserved_flags`]).
    reserved: &'a [Boolean<Fr>],
}

/// What a slot leaves for the next: the root and the commitment after it, and `is_real` as a
/// field element (the count of real slots is its sum).
struct SlotOutput {
    root: FpVar<Fr>,
    commitment: [FpVar<Fr>; WIDTH],
    real: FpVar<Fr>,
}

/// One slot's constraints (module documentation, "Layout of a slot").
fn synthesize_slot(
    cs: &ConstraintSystemRef<Fr>,
    shape: &SlotShape<'_>,
    slot: Option<&SlotWitness>,
    root: &FpVar<Fr>,
    commitment: &[FpVar<Fr>; WIDTH],
) -> Result<SlotOutput, SynthesisError> {
    let levels = shape.path_levels;
    let is_real = Boolean::new_witness(cs.clone(), || value(slot, |s| s.is_real))?;
    let real = FpVar::from(is_real);

    // 1. The transaction. An account's index bits: its own below the subtree, the subtree's
    //    above.
    let account_bits = |account: Result<u64, SynthesisError>| {
        let mut bits = witness_bits(cs, levels, account.map(|a| u64_bits(a, levels)))?;
        bits.extend_from_slice(shape.subtree_bits);
        Ok::<_, SynthesisError>(bits)
    };
    let from_bits = account_bits(value(slot, |s| s.from))?;
    let to_bits = account_bits(value(slot, |s| s.to))?;
    // Under a bridge, neither account is a channel leaf (the reserved top bits are 0).
    for bits in [&from_bits, &to_bits] {
        for (flag, bit) in shape.reserved.iter().zip(bits.iter().rev()) {
            enforce_not_both(flag, bit)?;
        }
    }
    let amount = pack(&witness_bits(
        cs,
        64,
        value(slot, |s| u64_bits(s.amount, 64)),
    )?);
    let tx_nonce = witness_fr(cs, slot, |s| Fr::from(s.nonce))?;
    let nx = witness_fr(cs, slot, |s| s.new_key.0)?;
    let ny = witness_fr(cs, slot, |s| s.new_key.1)?;
    // The receiver is empty exactly when the transaction creates it with a new key (step 4).
    let empty = Boolean::new_witness(cs.clone(), || value(slot, |s| s.receiver_empty))?;
    let signature = value(slot, |s| decode_signature(&s.signature));
    let r = EdwardsVar::new(
        FpVar::new_witness(cs.clone(), || {
            signature.as_ref().map(|(x, _, _)| *x).map_err(|e| *e)
        })?,
        FpVar::new_witness(cs.clone(), || {
            signature.as_ref().map(|(_, y, _)| *y).map_err(|e| *e)
        })?,
    );
    let s_bits = witness_bits(cs, SCALAR_BITS, signature.map(|(_, _, bits)| bits))?;

    // 2. Message and signature.
    let from_to = pack(&from_bits) + pack(&to_bits) * PAIR_SHIFT;
    let amount_nonce = &amount + &tx_nonce * PAIR_SHIFT;
    let message = message_gadget(
        &shape.message_prefixes,
        &empty,
        [from_to.clone(), amount_nonce.clone()],
        [&nx, &ny],
    )?;
    let sx = witness_fr(cs, slot, |s| s.sender.x)?;
    let sy = witness_fr(cs, slot, |s| s.sender.y)?;
    let sender_key = EdwardsVar::new(sx.clone(), sy.clone());
    verify_gadget(cs.clone(), &sender_key, &r, &s_bits, &message)?;

    // 3. Sender.
    let s_balance = witness_fr(cs, slot, |s| s.sender.balance)?;
    let s_nonce = witness_fr(cs, slot, |s| s.sender.nonce)?;
    tx_nonce.enforce_equal(&s_nonce)?;
    let s_new_balance = &s_balance - &amount;
    let s_new_nonce = &s_nonce + Fr::ONE;
    range_check_64(cs, &s_new_balance)?;
    range_check_64(cs, &s_new_nonce)?;
    let s_prefix = leaf_prefix(&sx, &sy)?;
    let s_old = leaf_finish(&s_prefix, &s_balance, &s_nonce)?;
    let s_new = leaf_finish(&s_prefix, &s_new_balance, &s_new_nonce)?;
    let s_siblings = (0..levels)
        .map(|level| {
            witness_fr(cs, slot, |s| {
                s.sender_siblings.get(level).copied().unwrap_or(Fr::ZERO)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (old_root, new_root) = update_path(&from_bits, &s_siblings, s_old, s_new)?;
    enforce_equal_if(&real, &old_root, root)?;
    let root = select(&real, &new_root, root);

    // 4. Receiver.
    let e = FpVar::from(empty.clone());
    let not_e = FpVar::one() - &e;
    let rx = witness_fr(cs, slot, |s| s.receiver.x)?;
    let ry = witness_fr(cs, slot, |s| s.receiver.y)?;
    let r_balance = witness_fr(cs, slot, |s| s.receiver.balance)?;
    let r_nonce = witness_fr(cs, slot, |s| s.receiver.nonce)?;
    for v in [&rx, &ry, &r_balance, &r_nonce] {
        e.mul_equals(v, &FpVar::zero())?;
    }
    not_e.mul_equals(&nx, &FpVar::zero())?;
    not_e.mul_equals(&ny, &FpVar::zero())?;
    let nx_inverse =
        FpVar::new_witness(cs.clone(), || Ok(nx.value()?.inverse().unwrap_or(Fr::ZERO)))?;
    nx.mul_equals(&nx_inverse, &e)?;
    // A created key is a point of the prime-order subgroup.
    let subgroup_key = alloc_subgroup_point(cs.clone(), || value(slot, creation_key_point))?;
    e.mul_equals(&(&subgroup_key.x - &nx), &FpVar::zero())?;
    e.mul_equals(&(&subgroup_key.y - &ny), &FpVar::zero())?;
    let kx = &rx + &nx;
    let ky = &ry + &ny;
    let r_new_balance = &r_balance + &amount;
    range_check_64(cs, &r_new_balance)?;
    let r_prefix = leaf_prefix(&kx, &ky)?;
    let r_old = &not_e * leaf_finish(&r_prefix, &r_balance, &r_nonce)?;
    let r_new = leaf_finish(&r_prefix, &r_new_balance, &r_nonce)?;
    let r_siblings = (0..levels)
        .map(|level| {
            witness_fr(cs, slot, |s| {
                s.receiver_siblings.get(level).copied().unwrap_or(Fr::ZERO)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (old_root, new_root) = update_path(&to_bits, &r_siblings, r_old, r_new)?;
    enforce_equal_if(&real, &old_root, &root)?;
    let root = select(&real, &new_root, &root);

    // 5. Commitment (`TxCommitment::absorb`): the transaction's fields with the key flag, the
    //    signature's elements as the verifier reads them from its bytes, then the new-owner key
    //    when there is one (`empty`, tied to the key's presence in step 4).
    let r_sign = sign_bit(cs.clone(), &r.x)?;
    let s_packed = pack(&s_bits) + FpVar::from(r_sign) * R_SIGN_WEIGHT;
    let mut absorbed = commitment.clone();
    absorb_gadget(
        &mut absorbed,
        [&(from_to + &e * KEY_FLAG_WEIGHT), &amount_nonce],
    )?;
    absorb_gadget(&mut absorbed, [&r.y, &s_packed])?;
    let mut with_key = absorbed.clone();
    absorb_gadget(&mut with_key, [&nx, &ny])?;
    let commitment: [FpVar<Fr>; WIDTH] = std::array::from_fn(|i| {
        let absorbed = select(&e, &with_key[i], &absorbed[i]);
        select(&real, &absorbed, &commitment[i])
    });
    Ok(SlotOutput {
        root,
        commitment,
        real,
    })
}

/// The signing message ([`verifier::zk_transfer::MessageHasher`]): from the constant prefix of
/// the form with a new-owner key when `with_key`, else of the form without, absorb the two
/// packed pairs and permute; the form without a key ends there, the other absorbs the key and
/// permutes again. Both permutations are computed and one output selected (481 constraints).
fn message_gadget(
    prefixes: &[[Fr; WIDTH]; 2],
    with_key: &Boolean<Fr>,
    pairs: [FpVar<Fr>; 2],
    key: [&FpVar<Fr>; 2],
) -> Result<FpVar<Fr>, SynthesisError> {
    let [without, with] = prefixes;
    let with_key_fp = FpVar::from(with_key.clone());
    let mut state: [FpVar<Fr>; 3] = std::array::from_fn(|i| {
        FpVar::Constant(without[i]) + &with_key_fp * (with[i] - without[i])
    });
    let [p1, p2] = pairs;
    state[1] += p1;
    state[2] += p2;
    permute_gadget(&mut state)?;
    let short = state[1].clone();
    state[1] += key[0];
    state[2] += key[1];
    permute_gadget(&mut state)?;
    with_key.select(&state[1], &short)
}

/// The point a slot's created key must equal: the new-owner key when the receiver is empty and
/// the key is a point of the prime-order subgroup, otherwise the generator (which then fails
/// the equality when the receiver is empty, and is not used when it is not).
fn creation_key_point(slot: &SlotWitness) -> schnorr::Point {
    let (x, y) = slot.new_key;
    let key = schnorr::Point::new_unchecked(x, y);
    if slot.receiver_empty
        && key.is_on_curve()
        && key.is_in_correct_subgroup_assuming_on_curve()
        && !key.is_zero()
    {
        key
    } else {
        schnorr::generator()
    }
}

/// R's coordinates and s's [`SCALAR_BITS`] bits. Bytes that are not a valid encoding give
/// values that fail the signature check: R = (0, 1) (the identity, rejected), or s = all ones
/// (at least r_J, rejected), rather than an error, so that a bad signature makes the circuit
/// unsatisfied.
fn decode_signature(bytes: &[u8; SIGNATURE_BYTES]) -> (Fr, Fr, Vec<bool>) {
    let (r_bytes, s_bytes) = bytes.split_at(32);
    let r = <[u8; 32]>::try_from(r_bytes)
        .ok()
        .and_then(|b| schnorr::decode_point(&b))
        .map_or((Fr::ZERO, Fr::ONE), |p| (p.x, p.y));
    let bits: Vec<bool> = s_bytes
        .iter()
        .flat_map(|byte| (0..8).map(move |i| (byte >> i) & 1 == 1))
        .collect();
    let bits = if bits.iter().skip(SCALAR_BITS).any(|b| *b) {
        vec![true; SCALAR_BITS]
    } else {
        bits.into_iter().take(SCALAR_BITS).collect()
    };
    (r.0, r.1, bits)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::zk::groth16::{is_satisfied, shape_counts};
    use ark_ec::CurveGroup;
    use std::collections::{BTreeMap, HashMap};
    use verifier::accounts::TouchedState;
    use verifier::accounts::touched_accounts;
    use verifier::bridge::check_zk_blob_avoids_bridge;
    use verifier::tree::{leaf_nodes, write_multiproof};
    use verifier::zk_transfer::blob_public_inputs;
    use verifier::zk_transfer::schnorr::SigningKey;
    use verifier::zk_transfer::schnorr::public_key;
    use verifier::zk_transfer::{
        fr_to_hash, leaf_hash, root_of_accounts, sign_transaction, verify_merkle_blob,
    };
    use verifier::zk_transfer::{message_of, node_hash};
    use verifier::{ChainParams, Reason, VerifyError, verify_blob};
    use witness_format::Transaction;
    use witness_format::ssz_types::BitList;
    use witness_format::{
        AccountLeaf, Blob, Genesis, Hash32, MerkleWitness, Model, ModelRoot, PublicKey, Signature,
        Witness,
    };

    /// Jubjub's points of small order other than the identity: one of order 8, its multiples.
    fn small_order_points() -> Vec<schnorr::Point> {
        let mut y = Fr::from(3u64);
        let t = loop {
            y += Fr::ONE;
            let Some(p) = schnorr::Point::get_point_from_y_unchecked(y, false) else {
                continue;
            };
            let t = p.mul_bigint(schnorr::Scalar::MODULUS).into_affine();
            if !t.mul_bigint([4u64]).into_affine().is_zero() {
                break t;
            }
        };
        let mut points = Vec::new();
        let mut acc = t.into_group();
        for _ in 1..8 {
            points.push(acc.into_affine());
            acc += t;
        }
        points
    }

    pub(crate) const CHAIN: u64 = 7;
    pub(crate) const DEPTH: u8 = 4;

    pub(crate) fn key(n: u8) -> SigningKey {
        SigningKey::from_seed(&[n; 32])
    }

    /// A full tiny state: account → leaf (non-empty ones only).
    #[derive(Clone)]
    pub(crate) struct World {
        pub(crate) accounts: BTreeMap<u64, AccountLeaf>,
    }

    impl World {
        pub(crate) fn new() -> Self {
            let mut accounts = BTreeMap::new();
            for (n, balance) in [
                (0u8, 1_000u64),
                (1, 500),
                (2, u64::MAX - 10),
                (3, 0),
                (5, 42),
            ] {
                accounts.insert(
                    u64::from(n),
                    AccountLeaf {
                        public_key: PublicKey::from(public_key(&key(n))),
                        balance,
                        nonce: u64::from(n),
                    },
                );
            }
            Self { accounts }
        }

        fn leaf(&self, account: u64) -> AccountLeaf {
            self.accounts
                .get(&account)
                .copied()
                .unwrap_or(AccountLeaf::EMPTY)
        }

        /// Every node of the full tree, by (level, index).
        fn nodes(&self) -> HashMap<(u8, u64), Fr> {
            let mut nodes = HashMap::new();
            let mut level: Vec<Fr> = (0..1u64 << DEPTH)
                .map(|i| leaf_hash(&self.leaf(i)).unwrap())
                .collect();
            for l in 0..=DEPTH {
                for (i, h) in level.iter().enumerate() {
                    nodes.insert((l, i as u64), *h);
                }
                if l < DEPTH {
                    level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
                }
            }
            nodes
        }

        pub(crate) fn root(&self) -> Fr {
            let list: Vec<(u64, AccountLeaf)> =
                self.accounts.iter().map(|(a, l)| (*a, *l)).collect();
            root_of_accounts(DEPTH, &list).unwrap()
        }

        pub(crate) fn tx(&self, from: u64, to: u64, amount: u64) -> Transaction {
            let nonce = self.leaf(from).nonce;
            let creates = self.leaf(to).is_empty();
            let mut tx = Transaction {
                from,
                to,
                amount,
                nonce,
                new_account_key: if creates {
                    PublicKey::from(public_key(&key(100 + to as u8)))
                } else {
                    PublicKey::ZERO
                },
                signature: Signature::ZERO,
            };
            resign(&mut tx, signer(from));
            tx
        }

        /// Applies valid transactions natively (for chaining batches).
        pub(crate) fn apply(&mut self, txs: &[Transaction]) {
            let accounts = touched_accounts(txs, DEPTH).unwrap();
            let leaves = accounts.iter().map(|a| self.leaf(*a)).collect();
            let mut state = TouchedState::new(accounts, leaves).unwrap();
            verifier::zk_transfer::execute(CHAIN, &mut state, txs).unwrap();
            for (a, l) in state.accounts().iter().zip(state.leaves()) {
                self.accounts.insert(*a, *l);
            }
        }

        pub(crate) fn pre_state(&self, txs: &[Transaction]) -> TouchedState {
            let accounts = touched_accounts(txs, DEPTH).unwrap();
            let leaves = accounts.iter().map(|a| self.leaf(*a)).collect();
            TouchedState::new(accounts, leaves).unwrap()
        }

        pub(crate) fn witness(&self, txs: &[Transaction], batch: usize) -> BatchWitness {
            self.witness_on(txs, batch, false)
        }

        /// [`Self::witness`] on a chain with a bridge (`bridge`) or without.
        pub(crate) fn witness_on(
            &self,
            txs: &[Transaction],
            batch: usize,
            bridge: bool,
        ) -> BatchWitness {
            self.witness_reserving(txs, batch, u8::from(bridge))
        }

        /// [`Self::witness`] with `reserved_bits` top index bits kept clear.
        pub(crate) fn witness_reserving(
            &self,
            txs: &[Transaction],
            batch: usize,
            reserved_bits: u8,
        ) -> BatchWitness {
            self.witness_of_shape(txs, shape(batch), reserved_bits)
                .unwrap()
        }

        /// The witness of `txs` for a circuit of `shape`, or why there is none.
        pub(crate) fn witness_of_shape(
            &self,
            txs: &[Transaction],
            shape: Shape,
            reserved_bits: u8,
        ) -> Result<BatchWitness, WitnessError<()>> {
            let nodes = self.nodes();
            build_witness(shape, reserved_bits, &self.pre_state(txs), txs, |l, i| {
                Ok::<_, ()>(nodes[&(l, i)])
            })
        }

        /// The Merkle witness of `txs` against this state.
        pub(crate) fn merkle_witness(&self, txs: &[Transaction]) -> MerkleWitness {
            let nodes = self.nodes();
            let state = self.pre_state(txs);
            let leaves = leaf_nodes(&ZK_TRANSFER_TREE, &state).unwrap();
            write_multiproof::<_, ()>(&ZK_TRANSFER_TREE, DEPTH, leaves, |l, i| Ok(nodes[&(l, i)]))
                .unwrap()
                .witness(state.leaves().to_vec())
                .unwrap()
        }

        /// The native verdict on `txs` with a Merkle witness, claiming `post`.
        pub(crate) fn native(&self, txs: &[Transaction], post: Fr) -> Result<(), VerifyError> {
            verify_merkle_blob(
                CHAIN,
                DEPTH,
                None,
                &fr_to_hash(&self.root()),
                &fr_to_hash(&post),
                txs,
                &self.merkle_witness(txs),
            )
        }

        /// Every native rule these transactions are held to as a zk blob claiming `post`, on a
        /// chain with a bridge or without: first what `verify` checks of a zk blob before its
        /// proof (no bridge leaf touched; canonical signatures and keys, in the public inputs),
        /// then the transaction rules themselves (the same transactions executed against a
        /// Merkle witness), which the proof stands for.
        pub(crate) fn native_as_zk_blob(
            &self,
            txs: &[Transaction],
            post: Fr,
            bridged: bool,
        ) -> Result<(), VerifyError> {
            let mut state_roots = vec![ModelRoot {
                model: Model::ZkTransfer,
                root: fr_to_hash(&self.root()),
            }];
            if bridged {
                state_roots.insert(
                    0,
                    ModelRoot {
                        model: Model::Transfer,
                        root: Hash32::ZERO,
                    },
                );
            }
            let genesis = Genesis {
                chain_id: CHAIN,
                tree_depth: DEPTH,
                state_roots: state_roots.try_into().unwrap(),
                zk_keys: Default::default(),
                evm: None,
                zk_srs: None,
            };
            let params = ChainParams::from_genesis(&genesis).unwrap();
            // Accounts outside the tree have no witness (the rules refuse them first).
            let witness = match touched_accounts(txs, DEPTH) {
                Ok(_) => self.merkle_witness(txs),
                Err(_) => MerkleWitness {
                    leaves: Default::default(),
                    sibling_present: BitList::with_capacity(0).unwrap(),
                    siblings: Default::default(),
                },
            };
            let blob = Blob {
                model: Model::ZkTransfer,
                pre_state_root: fr_to_hash(&self.root()),
                post_state_root: fr_to_hash(&post),
                transactions: txs.to_vec().try_into().unwrap(),
                witness: Witness::Merkle(witness),
            };
            check_zk_blob_avoids_bridge(&params, &blob)?;
            blob_public_inputs(
                u8::from(bridged),
                &blob.pre_state_root,
                &blob.post_state_root,
                txs,
            )?;
            verify_blob(&params, &blob)
        }
    }

    /// The key seed of an account: the genesis accounts' own number, created accounts 100 + it.
    pub(crate) fn signer(account: u64) -> u8 {
        if [0, 1, 2, 3, 5].contains(&account) {
            account as u8
        } else {
            100 + account as u8
        }
    }

    pub(crate) fn resign(tx: &mut Transaction, signer: u8) {
        tx.signature = Signature::from(sign_transaction(&key(signer), CHAIN, tx).unwrap());
    }

    /// The test chain's shape for `batch` slots, without shared levels.
    pub(crate) fn shape(batch: usize) -> Shape {
        Shape::new(DEPTH, u16::try_from(batch).unwrap(), CHAIN)
    }

    pub(crate) fn circuit(witness: BatchWitness, batch: usize) -> TransferBatchCircuit {
        TransferBatchCircuit {
            shape: shape(batch),
            witness: Some(witness),
        }
    }

    fn satisfied(witness: BatchWitness, batch: usize) -> bool {
        is_satisfied(circuit(witness, batch)).unwrap()
    }

    /// A valid batch: native accepts with the circuit's post root, the circuit is satisfied,
    /// and the roots agree.
    fn check_valid(world: &World, txs: &[Transaction], batch: usize) {
        let w = world.witness(txs, batch);
        assert_eq!(w.pre_state_root, world.root());
        let mut after = world.clone();
        after.apply(txs);
        assert_eq!(
            w.post_state_root,
            after.root(),
            "circuit and native post roots"
        );
        world.native(txs, w.post_state_root).unwrap();
        assert_eq!(
            w.public_inputs(),
            verifier::zk_transfer::blob_public_inputs(
                0,
                &fr_to_hash(&world.root()),
                &fr_to_hash(&after.root()),
                txs
            )
            .unwrap()
        );
        assert!(satisfied(w, batch));
    }

    #[test]
    fn zk_circuit_valid_batches_agree_with_native() {
        let world = World::new();
        // Plain transfer, creation, padding.
        check_valid(&world, &[world.tx(0, 1, 100)], 2);
        check_valid(&world, &[world.tx(1, 9, 7)], 1);
        // Two transfers touching the same accounts, in order; a self-transfer; an exact drain.
        let mut w2 = world.clone();
        let t1 = w2.tx(0, 4, 10);
        w2.apply(&[t1]);
        let t2 = w2.tx(4, 0, 10);
        check_valid(&world, &[t1, t2], 2);
        check_valid(&world, &[world.tx(5, 5, 42)], 2);
        check_valid(&world, &[world.tx(1, 3, 500)], 2);
        // A receiver at exactly u64::MAX after the credit.
        check_valid(&world, &[world.tx(0, 2, 10)], 2);
        // Random valid batches.
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64_compat(3);
        for _ in 0..3 {
            let mut w = world.clone();
            let mut txs = Vec::new();
            for _ in 0..2 {
                let from = [0u64, 1, 5][rng.next() as usize % 3];
                let to = rng.next() % 16;
                let amount = rng.next() % (w.leaf(from).balance.min(1000) + 1);
                if w.leaf(to).balance.checked_add(amount).is_none() {
                    continue;
                }
                let tx = w.tx(from, to, amount);
                w.apply(&[tx]);
                txs.push(tx);
            }
            check_valid(&world, &txs, 3);
        }
    }

    /// A tiny deterministic generator, so the tests need no rand API beyond this file.
    trait SeedCompat {
        fn seed_from_u64_compat(seed: u64) -> XorShift;
    }
    impl SeedCompat for rand::rngs::ChaCha8Rng {
        fn seed_from_u64_compat(seed: u64) -> XorShift {
            XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
    }
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// An invalid batch: rejected natively as a zk blob for `reason` (whatever post root is
    /// claimed: the circuit's own) and the circuit unsatisfied.
    fn check_invalid(world: &World, txs: &[Transaction], bridged: bool, reason: Reason) {
        check_invalid_witness(
            world,
            txs,
            world.witness_on(txs, 2, bridged),
            bridged,
            reason,
        );
    }

    /// [`check_invalid`] with the circuit's witness given.
    fn check_invalid_witness(
        world: &World,
        txs: &[Transaction],
        w: BatchWitness,
        bridged: bool,
        reason: Reason,
    ) {
        let native = world.native_as_zk_blob(txs, w.post_state_root, bridged);
        assert_eq!(native.map_err(|e| e.reason), Err(reason.clone()));
        assert!(!satisfied(w, 2), "{reason:?}: circuit satisfied");
    }

    /// Each native rejection of a zk batch is also unsatisfiable in the circuit: span validity
    /// has nothing but the proof, so the circuit must hold every rule `verify` holds a zk blob
    /// to. The cases are listed by reason; `PreStateRootMismatch` and `PostStateRootMismatch`
    /// are in [`zk_circuit_rejects_tampered_witnesses`], and the empty blob below.
    #[test]
    fn zk_circuit_holds_every_native_rule_of_a_zk_blob() {
        let world = World::new();
        let ok = |txs: &[Transaction]| {
            let w = world.witness(txs, 2);
            world
                .native_as_zk_blob(txs, w.post_state_root, false)
                .unwrap();
            assert!(satisfied(w, 2));
        };
        let tx = world.tx(0, 1, 5);
        ok(&[tx]);

        // BadSignature: signed by someone else, or another account's owner, or for another
        // chain; a flipped bit; all zero; garbled; a valid signature of another transaction.
        let mut by_other = tx;
        resign(&mut by_other, 3);
        let mut owner_of_other = world.tx(5, 0, 1);
        resign(&mut owner_of_other, 1);
        let mut other_chain = tx;
        other_chain.signature = Signature::from(schnorr::sign(
            &key(0),
            message_of(CHAIN + 1, 0, 1, 5, 0, (Fr::ZERO, Fr::ZERO)),
        ));
        let mut flipped = tx;
        flipped.signature.0[40] ^= 1;
        let mut zeroed = tx;
        zeroed.signature = Signature::ZERO;
        let mut garbled = tx;
        for (i, byte) in garbled.signature.0.iter_mut().enumerate() {
            *byte = byte.wrapping_mul(31).wrapping_add(i as u8);
        }
        let other_tx = world.tx(1, 0, 2);
        let mut swapped = tx;
        swapped.signature = other_tx.signature;
        for bad in [
            by_other,
            owner_of_other,
            other_chain,
            flipped,
            zeroed,
            garbled,
            swapped,
        ] {
            check_invalid(&world, &[bad], false, Reason::BadSignature);
        }

        // NonceMismatch (correctly signed).
        let mut tx = world.tx(1, 0, 5);
        tx.nonce += 1;
        resign(&mut tx, 1);
        check_invalid(
            &world,
            &[tx],
            false,
            Reason::NonceMismatch {
                expected: 1,
                found: 2,
            },
        );
        // InsufficientBalance, also after a debit earlier in the batch.
        check_invalid(
            &world,
            &[world.tx(1, 0, 501)],
            false,
            Reason::InsufficientBalance {
                balance: 500,
                amount: 501,
            },
        );
        let t1 = world.tx(1, 0, 400);
        let mut after = world.clone();
        after.apply(&[t1]);
        check_invalid(
            &world,
            &[t1, after.tx(1, 0, 200)],
            false,
            Reason::InsufficientBalance {
                balance: 100,
                amount: 200,
            },
        );
        // BalanceOverflow, NonceOverflow.
        check_invalid(
            &world,
            &[world.tx(0, 2, 11)],
            false,
            Reason::BalanceOverflow {
                balance: u64::MAX - 10,
                amount: 11,
            },
        );
        let mut full = world.clone();
        full.accounts.get_mut(&5).unwrap().nonce = u64::MAX;
        check_invalid(&full, &[full.tx(5, 0, 1)], false, Reason::NonceOverflow);
        // MissingNewAccountKey, UnexpectedNewAccountKey.
        let mut tx = world.tx(0, 9, 5);
        tx.new_account_key = PublicKey::ZERO;
        resign(&mut tx, 0);
        check_invalid(
            &world,
            &[tx],
            false,
            Reason::MissingNewAccountKey { account: 9 },
        );
        let mut tx = world.tx(0, 1, 5);
        tx.new_account_key = PublicKey::from(public_key(&key(77)));
        resign(&mut tx, 0);
        check_invalid(
            &world,
            &[tx],
            false,
            Reason::UnexpectedNewAccountKey { account: 1 },
        );
        // SenderMissing.
        let mut tx = world.tx(0, 1, 0);
        tx.from = 8;
        resign(&mut tx, 0);
        check_invalid(&world, &[tx], false, Reason::SenderMissing { account: 8 });
        // AccountOutOfRange: the circuit's D index bits cannot hold the account, so no
        // assignment encodes the transaction the commitment binds. The witness closest to one:
        // the in-range transfer's, with the out-of-range account and its signature.
        let mut tx = world.tx(0, 1, 1);
        tx.to = 1 << DEPTH;
        resign(&mut tx, 0);
        let mut w = world.witness(&[world.tx(0, 1, 1)], 2);
        w.slots[0].to = tx.to;
        w.slots[0].signature = tx.signature.0;
        check_invalid_witness(
            &world,
            &[tx],
            w,
            false,
            Reason::AccountOutOfRange {
                account: 1 << DEPTH,
                depth: DEPTH,
            },
        );
        // InvalidNewAccountKey: each point of small order with x ≠ 0 (the identity and the
        // point of order 2 have x = 0, which the circuit refuses outright; one point of order
        // 4 encodes as 32 zero bytes, which is no key at all) and a point of mixed order, each
        // of which would let anyone (or not only the owner) sign for the account.
        let torsion = small_order_points();
        let mut bad_keys: Vec<schnorr::Point> = torsion
            .iter()
            .copied()
            .filter(|p| p.x != Fr::ZERO && schnorr::encode_point(p) != [0; 32])
            .collect();
        bad_keys.push((schnorr::generator() + torsion[0]).into_affine());
        assert_eq!(bad_keys.len(), 6);
        for point in bad_keys {
            let mut tx = world.tx(0, 9, 5);
            tx.new_account_key = PublicKey::from(schnorr::encode_point(&point));
            // Signed over the key's coordinates, as the circuit reads them.
            let message = message_of(CHAIN, 0, 9, 5, 0, (point.x, point.y));
            tx.signature = Signature::from(schnorr::sign(&key(0), message));
            check_invalid(&world, &[tx], false, Reason::InvalidNewAccountKey);
        }

        // Under a bridge (upper half: accounts 8..16), a zk blob touches no bridge leaf: an
        // exit, and a bridge leaf that someone can sign for spending (natively, as a Merkle
        // blob, `BridgeAccountSends`; as a zk blob, `BridgeInZkBlob` first). Without a bridge
        // both are ordinary transfers that the circuit accepts.
        let exit = world.tx(0, 9, 5);
        ok(&[exit]);
        check_invalid(&world, &[exit], true, Reason::BridgeInZkBlob { account: 9 });
        let mut leaf = world.clone();
        leaf.accounts.insert(
            10,
            AccountLeaf {
                public_key: PublicKey::from(public_key(&key(signer(10)))),
                balance: 50,
                nonce: 0,
            },
        );
        let spend = leaf.tx(10, 0, 50);
        let w = leaf.witness_on(&[spend], 2, false);
        assert!(satisfied(w, 2));
        check_invalid(
            &leaf,
            &[spend],
            true,
            Reason::BridgeInZkBlob { account: 10 },
        );
        let w = leaf.witness_on(&[spend], 2, true);
        let bridge = verifier::accounts::Bridge::new(
            DEPTH,
            &[Model::Transfer],
            verifier::bridge::bridge_key(Model::ZkTransfer).unwrap(),
        );
        let merkle = verify_merkle_blob(
            CHAIN,
            DEPTH,
            bridge,
            &fr_to_hash(&leaf.root()),
            &fr_to_hash(&w.post_state_root),
            &[spend],
            &leaf.merkle_witness(&[spend]),
        );
        assert!(
            matches!(&merkle, Err(e) if e.reason == Reason::BridgeAccountSends { account: 10 }),
            "{merkle:?}"
        );

        // EmptyBlob: no transaction. The verifier rejects it before anything; the circuit's
        // first slot must be real, so an all-padding batch has no proof either.
        let empty = world.witness(&[], 2);
        assert!(empty.slots.iter().all(|slot| !slot.is_real));
        assert!(!satisfied(empty, 2));
    }

    #[test]
    fn zk_circuit_rejects_tampered_witnesses() {
        let world = World::new();
        let txs = [world.tx(0, 1, 100), world.tx(5, 9, 1)];
        let good = world.witness(&txs, 2);
        assert!(satisfied(good.clone(), 2));
        let tamper = |f: &dyn Fn(&mut BatchWitness)| {
            let mut w = good.clone();
            f(&mut w);
            satisfied(w, 2)
        };
        assert!(
            !tamper(&|w| w.slots[0].sender_siblings[1] += Fr::ONE),
            "sibling"
        );
        assert!(
            !tamper(&|w| w.slots[1].receiver_siblings[3] += Fr::ONE),
            "receiver sibling"
        );
        assert!(
            !tamper(&|w| w.slots[0].sender.balance += Fr::ONE),
            "pre-leaf balance"
        );
        assert!(
            !tamper(&|w| w.slots[0].receiver.balance += Fr::ONE),
            "receiver pre-leaf"
        );
        assert!(
            !tamper(&|w| w.post_state_root += Fr::ONE),
            "post-root claim"
        );
        assert!(!tamper(&|w| w.pre_state_root += Fr::ONE), "pre-root claim");
        // Dropping a real transaction (padding it) changes the commitment... and the root.
        assert!(
            !tamper(&|w| w.slots[1].is_real = false),
            "real slot as padding"
        );
        // Claiming the empty receiver is not empty, or an existing one is.
        assert!(
            !tamper(&|w| w.slots[1].receiver_empty = false),
            "creation denied"
        );
        assert!(
            !tamper(&|w| w.slots[0].receiver_empty = true),
            "existing as empty"
        );
        // A padding slot claimed real.
        let one = world.witness(&txs[..1], 2);
        let mut w = one.clone();
        w.slots[1].is_real = true;
        assert!(!satisfied(w, 2), "padding as real");
        assert!(satisfied(one, 2));
        // Tampered post-root claim natively too.
        assert!(world.native(&txs, good.post_state_root + Fr::ONE).is_err());
    }

    /// Each public input is enforced: the witness's own inputs satisfy the circuit, and any one
    /// of them changed does not (the pre-state root is where the first slot starts, the others
    /// must equal what the slots compute).
    #[test]
    fn zk_circuit_enforces_each_public_input() {
        let world = World::new();
        let txs = [world.tx(0, 1, 100)];
        let batch = circuit(world.witness_reserving(&txs, 2, 1), 2);
        let claim = |values| claims(&batch, values);
        let inputs = batch.public_inputs().unwrap();
        assert!(claim(inputs));
        for index in 0..PUBLIC_INPUTS {
            let mut other = inputs;
            other[index] += Fr::ONE;
            assert!(!claim(other), "input {index}");
        }
    }

    /// With shared levels, a batch whose accounts lie in one subtree proves exactly the public
    /// inputs it proves without them, in fewer constraints (padding slots sit in the same
    /// subtree); a batch across two subtrees has no witness, naming the account outside; and
    /// the path above the subtree is bound: a wrong sibling, subtree or first subtree root, or
    /// any public input changed, leaves the circuit unsatisfied.
    #[test]
    fn shared_levels_prove_one_subtree_and_bind_the_path_above() {
        let world = World::new();
        let with_levels = |batch: usize, shared_levels: u8| Shape {
            shared_levels,
            ..shape(batch)
        };
        let mut chained = world.clone();
        let first = chained.tx(0, 1, 100);
        chained.apply(&[first]);
        let two_in_subtree_0 = [first, chained.tx(1, 2, 5)];
        let creation_in_subtree_1 = [world.tx(5, 6, 7)];
        let in_a_pair = [world.tx(0, 1, 3)];
        for (txs, batch, shared_levels) in [
            (&two_in_subtree_0[..], 3, 2),
            (&creation_in_subtree_1[..], 2, 2),
            (&in_a_pair[..], 2, 3),
        ] {
            let shared = with_levels(batch, shared_levels);
            let w = world.witness_of_shape(txs, shared, 0).unwrap();
            assert_eq!(
                w.public_inputs(),
                world.witness(txs, batch).public_inputs(),
                "{shared_levels} shared levels, {} transactions",
                txs.len()
            );
            let padding = w.slots.last().unwrap();
            assert!(!padding.is_real);
            assert_eq!(padding.from >> shared.subtree_depth(), w.subtree);
            let proven = |w: BatchWitness| {
                is_satisfied(TransferBatchCircuit {
                    shape: shared,
                    witness: Some(w),
                })
                .unwrap()
            };
            assert!(proven(w.clone()));
            let (fewer, _) = shape_counts(shared).unwrap();
            let (all, _) = shape_counts(shape(batch)).unwrap();
            assert!(fewer < all, "{fewer} constraints against {all}");

            let mut wrong = w.clone();
            wrong.subtree_siblings[0] += Fr::ONE;
            assert!(!proven(wrong), "a wrong sibling above the subtree");
            let mut wrong = w.clone();
            wrong.subtree ^= 1;
            assert!(!proven(wrong), "another subtree");
            let mut wrong = w.clone();
            wrong.pre_subtree_root += Fr::ONE;
            assert!(!proven(wrong), "another first subtree root");
            let batch = TransferBatchCircuit {
                shape: shared,
                witness: Some(w),
            };
            let inputs = batch.public_inputs().unwrap();
            for index in 0..PUBLIC_INPUTS {
                let mut other = inputs;
                other[index] += Fr::ONE;
                assert!(!claims(&batch, other), "input {index}");
            }
        }
        assert!(matches!(
            world.witness_of_shape(&[world.tx(0, 5, 1)], with_levels(2, 2), 0),
            Err(WitnessError::OutsideSubtree {
                account: 5,
                subtree: 0,
                subtree_depth: 2,
                shared_levels: 2
            })
        ));
        assert!(
            TransferBatchCircuit::without_witness(with_levels(1, DEPTH))
                .generate_constraints(ark_relations::gr1cs::ConstraintSystem::new_ref())
                .is_err(),
            "a shape whose shared levels leave no path"
        );
    }

    /// Whether `batch`'s witness satisfies the circuit with `values` as its public inputs.
    fn claims(batch: &TransferBatchCircuit, values: [Fr; PUBLIC_INPUTS]) -> bool {
        let cs = ark_relations::gr1cs::ConstraintSystem::<Fr>::new_ref();
        synthesize_batch(batch, cs.clone(), Some(values)).unwrap();
        cs.is_satisfied().unwrap()
    }

    /// A slot that creates its receiver binds the new key in the commitment: the commitment of
    /// the same fields and signature without the key, or with the key's pair but not its flag,
    /// is refused.
    #[test]
    fn zk_circuit_commitment_binds_the_new_key() {
        use verifier::zk_transfer::poseidon::Sponge;
        use verifier::zk_transfer::{new_key_coordinates, pack_pair, signature_elements};

        let world = World::new();
        let tx = world.tx(1, 9, 7);
        let key = new_key_coordinates(&tx).unwrap();
        assert_ne!(key, (Fr::ZERO, Fr::ZERO), "the transfer creates account 9");
        let batch = circuit(world.witness(&[tx], 2), 2);
        let inputs = batch.public_inputs().unwrap();
        assert!(claims(&batch, inputs));

        let signature = signature_elements(&tx.signature.0).unwrap();
        let fields = (pack_pair(tx.from, tx.to), pack_pair(tx.amount, tx.nonce));
        let mut without_key = Sponge::new(TX_COMMITMENT_DOMAIN, 1);
        without_key.absorb(fields.0, fields.1);
        without_key.absorb(signature.0, signature.1);
        let mut without_flag = without_key.clone();
        without_flag.absorb(key.0, key.1);
        for (what, commitment) in [
            ("without the key", without_key.output()),
            ("without the flag", without_flag.output()),
        ] {
            let mut other = inputs;
            other[INPUT_COMMITMENT] = commitment;
            assert_ne!(other, inputs, "{what}");
            assert!(!claims(&batch, other), "{what}");
        }
    }

    #[test]
    fn zk_circuit_has_five_public_inputs_and_counts() {
        for (depth, batch) in [(4u8, 1usize), (4, 2), (8, 1), (8, 2)] {
            let (n, inputs) =
                shape_counts(Shape::new(depth, u16::try_from(batch).unwrap(), CHAIN)).unwrap();
            assert_eq!(inputs, PUBLIC_INPUTS);
            println!("depth {depth} batch {batch}: {n} constraints");
        }
        let (one, _) = shape_counts(Shape::new(32, 1, CHAIN)).unwrap();
        let (two, _) = shape_counts(Shape::new(32, 2, CHAIN)).unwrap();
        let per_tx = two - one;
        let fixed = one - per_tx;
        let at_64 = (fixed + 64 * per_tx) / 64;
        println!(
            "depth 32: {per_tx} constraints per slot, {fixed} per batch; \
             batch 64: {} total, {at_64} per tx",
            fixed + 64 * per_tx
        );
        assert!(at_64 <= 40_000, "{at_64} constraints per tx at depth 32");
        // 15 shared levels: a slot's four paths end 17 levels up, and the blob's two paths
        // above the subtree are shared by its 64 slots.
        let shared = |batch| Shape {
            shared_levels: 15,
            ..Shape::new(32, batch, CHAIN)
        };
        let (one, _) = shape_counts(shared(1)).unwrap();
        let (two, _) = shape_counts(shared(2)).unwrap();
        let at_64_shared = (one + 63 * (two - one)) / 64;
        println!("depth 32, 15 shared levels: batch 64, {at_64_shared} per tx");
        assert!(
            at_64_shared <= 26_000,
            "{at_64_shared} constraints per tx at depth 32, 15 shared levels"
        );
    }

    #[test]
    fn zk_circuit_setup_and_proving_shapes_agree() {
        let world = World::new();
        let txs = [world.tx(0, 1, 1)];
        let cs = ark_relations::gr1cs::ConstraintSystem::<Fr>::new_ref();
        circuit(world.witness(&txs, 2), 2)
            .generate_constraints(cs.clone())
            .unwrap();
        assert_eq!(
            (cs.num_constraints(), cs.num_instance_variables() - 1),
            shape_counts(shape(2)).unwrap()
        );
    }

    /// Two reserved bits (the regions of a chain of three or four models): no slot reaches the
    /// second quarter of the tree either, which one reserved bit (two models) leaves to
    /// accounts; the count of reserved bits is a public input, so a proof made under one count
    /// does not verify under another.
    #[test]
    fn reserved_bits_keep_every_slot_below_the_channel_regions() {
        let world = World::new();
        // Account 5 (0b0101) is in the second quarter of a depth-4 tree.
        for tx in [world.tx(0, 5, 1), world.tx(5, 0, 1)] {
            assert!(satisfied(world.witness_reserving(&[tx], 2, 1), 2));
            assert!(!satisfied(world.witness_reserving(&[tx], 2, 2), 2));
        }
        let inside = [world.tx(0, 1, 1)];
        let two = world.witness_reserving(&inside, 2, 2);
        assert!(satisfied(two.clone(), 2));
        assert_ne!(
            two.public_inputs(),
            world.witness_reserving(&inside, 2, 1).public_inputs()
        );
        // More bits than the tree can spare (depth 4 leaves at most 3): unsatisfiable.
        assert!(!satisfied(world.witness_reserving(&inside, 2, 4), 2));
    }
}
