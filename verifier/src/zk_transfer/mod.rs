//! The `zk-transfer` model's native rules: the Poseidon tree, the transaction message, the
//! commitment to a blob's transactions, the Groth16 public inputs, and the execution of a blob
//! with a Merkle witness.
//!
//! The transaction rules are the `transfer` model's, applied by the same code
//! ([`TouchedState::apply`]); only the hashes and the signature scheme differ. The circuit in the
//! prover (`prover::zk::circuit`) restates these rules as constraints; its tests run both on the
//! same valid and invalid batches.
//!
//! # Field elements on the wire
//!
//! Every hash of this model is an element of BLS12-381's scalar field `Fr`. As a [`Hash32`] it is
//! the canonical 32-byte little-endian encoding of its integer in `[0, p)` ([`fr_to_hash`]);
//! decoding ([`hash_to_fr`]) rejects every value at or above p, so each element has exactly one
//! encoding.
//!
//! # Domains
//!
//! Each Poseidon use has its own domain constant (the capacity element, see
//! [`crate::zk_transfer::poseidon`]): the integer whose big-endian bytes are an 8-character ASCII tag, below
//! 2⁶⁴ as `poseidon` requires and distinct from Schnorr's `"schnorr1"`.
//!
//! | constant | tag | use |
//! |---|---|---|
//! | [`LEAF_DOMAIN`] | `zkleaf01` | account leaf |
//! | [`NODE_DOMAIN`] | `zknode01` | inner tree node |
//! | [`TX_DOMAIN`] | `zktxmsg1` | a transaction's signing message |
//! | [`TX_COMMITMENT_DOMAIN`] | `zktxcom1` | one step of the transaction commitment |
//!
//! # The tree
//!
//! The `transfer` tree's shape (fixed depth, account number = leaf index, bit `l` of the number
//! picks the side at level `l`), with Poseidon:
//!
//! - leaf: the empty slot (all-zero key) hashes to 0; an account with key A (decoded and
//!   validated as in [`crate::zk_transfer::schnorr::decode_point`]) hashes to
//!   `hash_many(LEAF_DOMAIN, [A.x, A.y, balance, nonce])` ([`leaf_hash`]). A leaf whose key does
//!   not decode has no hash: no such leaf can be in a tree, so every key in a tree is a valid
//!   subgroup point (which the circuit relies on: it takes the sender's key from the leaf).
//! - node: `hash2(NODE_DOMAIN, left, right)` ([`node_hash`]);
//! - defaults: `DEFAULT[0] = 0`, `DEFAULT[l+1] = node_hash(DEFAULT[l], DEFAULT[l])`
//!   (the tree's empty-subtree table, [`crate::tree::SparseTree`]).
//!
//! Multiproofs are exactly the `transfer` model's: the same walk ([`crate::tree::walk`]), the
//! same canonical sibling order, the same bitmap with carried defaults rejected.
//!
//! # The signing message
//!
//! ```text
//! message = hash_many(TX_DOMAIN, [chain_id, MODEL_TAG, from + 2⁶⁴·to, amount + 2⁶⁴·nonce])
//!                                                    (no new-owner key)
//! message = hash_many(TX_DOMAIN, [chain_id, MODEL_TAG, from + 2⁶⁴·to, amount + 2⁶⁴·nonce, K.x, K.y])
//!                                                    (a new-owner key K)
//! ```
//!
//! with the integers as field elements (two `u64` fields to an element, [`pack_pair`]: below
//! 2¹²⁸, so each pair reads back uniquely) and K the new-owner key's validated affine
//! coordinates when `new_account_key` is non-zero. The sponge's capacity binds the length, so
//! the two forms never share a permutation input. Most transactions create no account, so most
//! messages cost one permutation after the constant first one; the circuit computes both
//! permutations and takes the first's output when the slot creates no account (the same cost
//! as one fixed form with the key). Internally an absent key is written (0, 0), which is not a
//! curve point (the identity is (0, 1)), so no key has those coordinates. A non-zero key that
//! does not decode makes the transaction invalid ([`crate::Reason::InvalidNewAccountKey`]): it
//! has no message. The sender signs the message with [`crate::zk_transfer::schnorr::sign`].
//! Chain id and model tag come first so that the circuit, where both are constants, absorbs
//! them for free, and a verifier computes that first permutation once per blob, not once per
//! transaction ([`MessageHasher`]).
//!
//! # The transaction commitment
//!
//! One rate-2 Poseidon2 sponge over the blob's n transactions, in order ([`TxCommitment`]):
//!
//! ```text
//! capacity_0 = sponge_capacity(TX_COMMITMENT_DOMAIN, n)
//! per transaction: absorb [from + 2⁶⁴·to + 2¹²⁸·k, amount + 2⁶⁴·nonce], absorb [σr, σs],
//!                  and when k = 1 (it carries a new-owner key) absorb [nx, ny]
//! commitment = the sponge's output after the last transaction
//! ```
//!
//! It absorbs the transaction's fields, not its message: the message adds only the chain id
//! and the model tag, constants of the circuit, so a verifier checking a proof computes no
//! message (two permutations a transaction, three with a key, where a message and a chained
//! step over it took three). Every packed value is below the gap to the next weight and k
//! says whether a key pair follows, so the absorbed sequence reads back uniquely.
//!
//! It covers exactly the blob's n transactions: the circuit's padding slots leave the sponge
//! unchanged, so a proof for a batch of B ≥ n slots commits to the same value the verifier
//! computes from the blob. The fields bind the transaction but its signature;
//! (σr, σs) bind the signature's 64 bytes exactly ([`signature_elements`]), and the circuit
//! checks the signature they encode, so the signature bytes a zk blob carries are the ones the
//! proof checked. A zk blob carries no sender keys, so the verifier cannot check a signature
//! itself; it checks that each is a canonical encoding (R's y below q and not the y of a point
//! of small order, s below r_J) and names the transaction when it is not
//! ([`Reason::BadSignature`]); a well-formed signature that does not verify makes the proof
//! fail.
//!
//! # The public inputs
//!
//! ```text
//! public_inputs = [pre_state_root, post_state_root, commitment, n, reserved_bits]
//! ```
//!
//! ([`public_inputs`], [`blob_public_inputs`]; indices [`INPUT_PRE_ROOT`] …
//! [`INPUT_RESERVED_BITS`]): five field elements, each a value the circuit enforces, so a
//! verifier can combine the inputs of many proofs linearly (blob i's post root is blob i+1's pre
//! root). n is the number of transactions (the circuit's real slots), so a count reported
//! without the transactions (a span step) is bound to the proof. `reserved_bits` is the number
//! of top index bits the chain's bridge reserves for its channel leaves ([`crate::bridge`]: 1
//! on a chain of two models, the upper half of the tree; 0 on a chain of one), which the
//! circuit keeps zero in every slot's accounts. The chain id and [`MODEL_TAG`] are not inputs:
//! they are constants of the circuit, in every transaction's message, and a key is made for one
//! chain (the genesis pins it).

pub mod aggregate;
pub mod batch;
mod commitment;
pub mod groth16;
pub mod poseidon;
pub mod schnorr;
pub mod state;

pub use commitment::*;
pub use groth16::{
    INPUT_COMMITMENT, INPUT_POST_ROOT, INPUT_PRE_ROOT, INPUT_RESERVED_BITS, INPUT_TRANSACTIONS,
    PUBLIC_INPUTS,
};
pub use state::*;

use rayon::prelude::*;

use witness_format::{Blob, Hash32, Header, MerkleWitness, Model, PublicKey, Transaction, Witness};

use crate::accounts::{AccountRules, Bridge, TouchedState, touched_accounts};
use crate::bridge::check_credit_blob;
use crate::bridge::{bridge, check_zk_blob_avoids_bridge, reserved_bits};
use crate::error::{Reason, VerifyError};
use crate::model::ExecutionModel;
use crate::model::{PendingProof, StateCommitment, unsupported};
use crate::params::ChainParams;
use crate::tree::{witness_roots, witness_state};
use crate::zk_transfer::groth16::PROOF_BYTES;

/// Applies `transactions` in order to `state` under every rule, signatures included: for each
/// transaction, its new-owner key must decode, the sender must have signed its message, and
/// [`TouchedState::apply`] must accept it.
///
/// Errors: the first failing transaction; a bad signature counts before another rule of the
/// same transaction (signatures are checked in parallel, the smallest failing index wins). On
/// error, `state` holds the transactions before the failing one (and is not to be used).
pub fn execute(
    chain_id: u64,
    state: &mut TouchedState,
    transactions: &[Transaction],
) -> Result<(), VerifyError> {
    let mut checks = Vec::with_capacity(transactions.len());
    let mut failure = None;
    let hasher = MessageHasher::new(chain_id);
    for (index, tx) in transactions.iter().enumerate() {
        let Some(message) = hasher.message(tx) else {
            failure = Some(VerifyError::new(Reason::InvalidNewAccountKey).at_transaction(index));
            break;
        };
        if let Some(sender) = state.get(tx.from).filter(|leaf| !leaf.is_empty()) {
            checks.push((index, sender.public_key, message));
        }
        if let Err(reason) = state.apply(tx) {
            failure = Some(VerifyError::new(reason).at_transaction(index));
            break;
        }
    }
    let bad_signature = checks
        .par_iter()
        .filter(|(index, key, message)| {
            transactions
                .get(*index)
                .is_none_or(|tx| !schnorr::verify(&key.0, &tx.signature.0, *message))
        })
        .map(|(index, _, _)| *index)
        .min();
    if let Some(index) = bad_signature {
        return Err(VerifyError::new(Reason::BadSignature).at_transaction(index));
    }
    failure.map_or(Ok(()), Err)
}

/// Checks a `zk-transfer` blob with a Merkle witness: the same steps as
/// [`crate::blob::verify_blob`] for `transfer` (touched accounts, canonical leaves, the
/// multiproof recomputes `pre_state_root`, the transactions apply under [`execute`], the new
/// leaves with the same siblings recompute `post_state_root`), with this model's hashes and
/// signatures. Carried siblings must be canonical field elements.
pub fn verify_merkle_blob(
    chain_id: u64,
    depth: u8,
    bridge: Option<Bridge>,
    pre_state_root: &Hash32,
    post_state_root: &Hash32,
    transactions: &[Transaction],
    witness: &MerkleWitness,
) -> Result<(), VerifyError> {
    if transactions.is_empty() {
        return Err(Reason::EmptyBlob.into());
    }
    let accounts = touched_accounts(transactions, depth)?;
    let pre_state = witness_state(accounts, witness)?.with_bridge(bridge);
    let mut post_state = pre_state.clone();
    let executed = execute(chain_id, &mut post_state, transactions);
    let (pre_root, post_root) = merkle_roots(depth, &pre_state, &post_state, witness)?;
    if pre_root != *pre_state_root {
        return Err(Reason::PreStateRootMismatch {
            computed: pre_root,
            claimed: *pre_state_root,
        }
        .into());
    }
    executed?;
    if post_root != *post_state_root {
        return Err(Reason::PostStateRootMismatch {
            computed: post_root,
            claimed: *post_state_root,
        }
        .into());
    }
    Ok(())
}

/// The roots a Merkle witness gives a touched state before and after its blob
/// ([`crate::tree::witness_roots`] in this model's tree): a carried sibling must be a canonical
/// field element.
pub fn merkle_roots(
    depth: u8,
    pre: &TouchedState,
    post: &TouchedState,
    witness: &MerkleWitness,
) -> Result<(Hash32, Hash32), VerifyError> {
    witness_roots(&ZK_TRANSFER_TREE, depth, pre, post, witness, |bytes| {
        hash_to_fr(bytes).ok_or_else(|| {
            Reason::NonCanonicalFieldElement {
                what: "a witness sibling",
            }
            .into()
        })
    })
}

/// The `zk-transfer` model: accounts by number in a Poseidon sparse tree, Schnorr signatures
/// over Jubjub, Merkle witnesses or Groth16 proofs (and, on a chain of several models, blobs
/// of credits).
pub struct ZkTransferModel;

/// The `zk-transfer` model's implementation.
pub static ZK_TRANSFER_MODEL: ZkTransferModel = ZkTransferModel;

impl ExecutionModel for ZkTransferModel {
    fn tag(&self) -> Model {
        Model::ZkTransfer
    }

    fn state(&self) -> &'static dyn StateCommitment {
        &ZK_TRANSFER_TREE
    }

    fn account_rules(&self) -> Option<&'static dyn AccountRules> {
        Some(&ZK_TRANSFER_MODEL)
    }

    fn check_blob<'a>(
        &self,
        params: &ChainParams,
        header: Option<&Header>,
        blob: &'a Blob,
        _linked: bool,
    ) -> Result<Option<PendingProof<'a>>, VerifyError> {
        match &blob.witness {
            Witness::Zk(witness) => pending_zk_transfer(params, blob, &witness.proof.0).map(Some),
            Witness::Merkle(witness) => verify_merkle_blob(
                params.chain_id,
                params.tree_depth,
                bridge(params, Model::ZkTransfer),
                &blob.pre_state_root,
                &blob.post_state_root,
                &blob.transactions,
                witness,
            )
            .map(|()| None),
            Witness::Credits(witness) => {
                check_credit_blob(params, header, blob, witness, |pre, post| {
                    merkle_roots(params.tree_depth, pre, post, &witness.merkle)
                })
            }
            Witness::Evm(_) | Witness::EvmCredits(_) => Err(unsupported(blob)),
        }
    }
}

/// Schnorr keys and signatures over Jubjub, checked in parallel.
impl AccountRules for ZkTransferModel {
    /// A canonical encoding of a Jubjub point of the prime-order subgroup
    /// ([`schnorr::decode_point`]).
    fn check_new_account_key(&self, key: &PublicKey) -> Result<(), Reason> {
        if key.is_zero() || schnorr::decode_point(&key.0).is_some() {
            Ok(())
        } else {
            Err(Reason::InvalidNewAccountKey)
        }
    }

    fn invalid_signatures(
        &self,
        chain_id: u64,
        signers: &[PublicKey],
        transactions: &[Transaction],
    ) -> Vec<usize> {
        let hasher = MessageHasher::new(chain_id);
        signers
            .par_iter()
            .zip(transactions)
            .enumerate()
            .filter(|(_, (key, tx))| {
                hasher
                    .message(tx)
                    .is_none_or(|message| !schnorr::verify(&key.0, &tx.signature.0, message))
            })
            .map(|(index, _)| index)
            .collect()
    }
}

/// Every check of a zk blob but the pairing check: no bridge leaf, a pinned key for its size,
/// canonical roots and decodable new-owner keys (the public inputs).
fn pending_zk_transfer<'a>(
    params: &ChainParams,
    blob: &Blob,
    proof: &'a [u8; PROOF_BYTES],
) -> Result<PendingProof<'a>, VerifyError> {
    check_zk_blob_avoids_bridge(params, blob)?;
    let (key_batch, _) = params.zk_key_for(blob.transactions.len())?;
    let public_inputs = blob_public_inputs(
        reserved_bits(params, blob.model),
        &blob.pre_state_root,
        &blob.post_state_root,
        &blob.transactions,
    )?;
    Ok(PendingProof {
        key_batch,
        public_inputs,
        proof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::SparseTree;
    use crate::tree::write_multiproof;
    use crate::zk_transfer::poseidon::{hash_many, hash2, permute};
    use crate::zk_transfer::schnorr::SigningKey;
    use crate::zk_transfer::schnorr::public_key;
    use ark_bls12_381::Fr;
    use ark_ff::{AdditiveGroup, BigInteger, PrimeField};
    use std::collections::BTreeMap;
    use witness_format::AccountLeaf;
    use witness_format::ssz_types::VariableList;
    use witness_format::{PublicKey, Signature};

    const CHAIN: u64 = 9;
    const DEPTH: u8 = 3;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed(&[n; 32])
    }

    fn account(n: u8, balance: u64) -> AccountLeaf {
        AccountLeaf {
            public_key: PublicKey::from(public_key(&key(n))),
            balance,
            nonce: 0,
        }
    }

    fn signed(mut tx: Transaction, signer: u8) -> Transaction {
        tx.signature = Signature::from(sign_transaction(&key(signer), CHAIN, &tx).unwrap());
        tx
    }

    fn transfer(from: u64, to: u64, amount: u64, nonce: u64) -> Transaction {
        signed(
            crate::accounts::tests::transfer(from, to, amount, nonce),
            from as u8,
        )
    }

    /// Every node of the full tree over `state`.
    fn node(state: &BTreeMap<u64, AccountLeaf>, level: u8, index: u64) -> Fr {
        if level == 0 {
            return state
                .get(&index)
                .map_or(Fr::ZERO, |l| leaf_hash(l).unwrap());
        }
        node_hash(
            &node(state, level - 1, index * 2),
            &node(state, level - 1, index * 2 + 1),
        )
    }

    fn merkle_witness(state: &BTreeMap<u64, AccountLeaf>, txs: &[Transaction]) -> MerkleWitness {
        let accounts = touched_accounts(txs, DEPTH).unwrap_or_default();
        let leaves: Vec<AccountLeaf> = accounts
            .iter()
            .map(|a| state.get(a).copied().unwrap_or(AccountLeaf::EMPTY))
            .collect();
        let hashes = accounts
            .iter()
            .zip(&leaves)
            .map(|(a, l)| (*a, leaf_hash(l).unwrap()))
            .collect();
        write_multiproof::<_, ()>(&ZK_TRANSFER_TREE, DEPTH, hashes, |l, i| {
            Ok(node(state, l, i))
        })
        .unwrap()
        .witness(leaves)
        .unwrap()
    }

    fn genesis() -> BTreeMap<u64, AccountLeaf> {
        [
            (0u64, account(0, 100)),
            (1, account(1, 5)),
            (6, account(6, u64::MAX)),
        ]
        .into_iter()
        .collect()
    }

    fn root(state: &BTreeMap<u64, AccountLeaf>) -> Hash32 {
        let list: Vec<_> = state.iter().map(|(a, l)| (*a, *l)).collect();
        fr_to_hash(&root_of_accounts(DEPTH, &list).unwrap())
    }

    fn check(txs: &[Transaction], post: &Hash32) -> Result<(), VerifyError> {
        let state = genesis();
        verify_merkle_blob(
            CHAIN,
            DEPTH,
            None,
            &root(&state),
            post,
            txs,
            &merkle_witness(&state, txs),
        )
    }

    #[test]
    fn model_tag_is_the_wire_tag() {
        use witness_format::{Model, SszEncode};
        assert_eq!(Model::ZkTransfer.as_ssz_bytes(), vec![MODEL_TAG as u8]);
        assert_eq!(Model::ZkTransfer as u64, MODEL_TAG);
    }

    #[test]
    fn zk_transfer_domains_and_encoding() {
        assert_eq!(LEAF_DOMAIN, Fr::from(u64::from_be_bytes(*b"zkleaf01")));
        let all = [
            LEAF_DOMAIN,
            NODE_DOMAIN,
            TX_DOMAIN,
            TX_COMMITMENT_DOMAIN,
            schnorr::SCHNORR_CHALLENGE_DOMAIN,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|b| a != b));
        }
        let x = -Fr::from(5u64);
        assert_eq!(hash_to_fr(&fr_to_hash(&x)), Some(x));
        // p itself, and all ones, are not canonical.
        let mut p = [0u8; 32];
        p.copy_from_slice(&Fr::MODULUS.to_bytes_le());
        assert_eq!(hash_to_fr(&Hash32::from(p)), None);
        assert_eq!(hash_to_fr(&Hash32::from([0xff; 32])), None);
        p[0] -= 1;
        assert_eq!(hash_to_fr(&Hash32::from(p)), Some(-Fr::from(1u64)));
    }

    #[test]
    fn zk_transfer_known_structure() {
        assert_eq!(leaf_hash(&AccountLeaf::EMPTY), Some(Fr::ZERO));
        let leaf = account(3, 77);
        let (x, y) = schnorr::public_key_coordinates(&leaf.public_key.0).unwrap();
        assert_eq!(
            leaf_hash(&leaf),
            Some(hash_many(LEAF_DOMAIN, &[x, y, Fr::from(77u64), Fr::ZERO]))
        );
        let mut bad = leaf;
        bad.public_key.0[0] ^= 1;
        assert_eq!(leaf_hash(&bad), None);
        let default_hash = |level| ZK_TRANSFER_TREE.empty(level);
        assert_eq!(default_hash(0), Fr::ZERO);
        assert_eq!(
            default_hash(2),
            node_hash(&default_hash(1), &default_hash(1))
        );
        assert_eq!(node_hash(&x, &y), hash2(NODE_DOMAIN, x, y));
        assert_eq!(root_of_accounts(DEPTH, &[]).unwrap(), default_hash(DEPTH));
        assert_eq!(
            hash_to_fr(&root(&genesis())).unwrap(),
            node(&genesis(), DEPTH, 0)
        );

        // The message: absent key is (0, 0); a present key its coordinates.
        let tx = transfer(0, 1, 5, 0);
        let two_64 = Fr::from(u64::MAX) + Fr::from(1u64);
        let expected = hash_many(
            TX_DOMAIN,
            &[
                Fr::from(CHAIN),
                Fr::from(MODEL_TAG),
                Fr::from(0u64) + two_64 * Fr::from(1u64),
                Fr::from(5u64),
            ],
        );
        assert_eq!(message_hash(CHAIN, &tx), Some(expected));
        let mut creating = tx;
        creating.new_account_key = leaf.public_key;
        let m = message_hash(CHAIN, &creating).unwrap();
        assert_eq!(
            m,
            hash_many(
                TX_DOMAIN,
                &[
                    Fr::from(CHAIN),
                    Fr::from(MODEL_TAG),
                    two_64,
                    Fr::from(5u64),
                    x,
                    y
                ]
            )
        );
        assert_ne!(message_hash(CHAIN + 1, &tx), Some(expected));
        let created = creating;
        creating.new_account_key = bad.public_key;
        assert_eq!(message_hash(CHAIN, &creating), None);

        // The commitment: one sponge over the fields, the signature's elements and the key.
        let t2 = transfer(1, 0, 1, 0);
        let c = tx_commitment(&[tx, t2]).unwrap();
        let s1 = signature_elements(&tx.signature.0).unwrap();
        let s2 = signature_elements(&t2.signature.0).unwrap();
        let absorb = |[c0, c1, c2]: [Fr; 3], a: Fr, b: Fr| {
            let mut state = [c0, c1 + a, c2 + b];
            permute(&mut state);
            state
        };
        let start = |n: u64| {
            [
                TX_COMMITMENT_DOMAIN + Fr::from(n + 1) * two_64,
                Fr::ZERO,
                Fr::ZERO,
            ]
        };
        let output = |[_, out, _]: [Fr; 3]| out;
        // tx: 0 → 1, amount 5, nonce 0; t2: 1 → 0, amount 1, nonce 0.
        let state = absorb(start(2), two_64, Fr::from(5u64));
        let state = absorb(state, s1.0, s1.1);
        let state = absorb(state, Fr::from(1u64), Fr::from(1u64));
        assert_eq!(c, output(absorb(state, s2.0, s2.1)));
        assert_ne!(c, tx_commitment(&[t2, tx]).unwrap());
        assert_ne!(c, tx_commitment(&[tx]).unwrap());
        // A new-owner key sets the flag (2¹²⁸) and adds its pair.
        let state = absorb(start(1), two_64 + KEY_FLAG_WEIGHT, Fr::from(5u64));
        let state = absorb(state, s1.0, s1.1);
        assert_eq!(
            tx_commitment(&[created]).unwrap(),
            output(absorb(state, x, y))
        );
        assert_eq!(KEY_FLAG_WEIGHT, two_64 * two_64);
        assert_eq!(
            tx_commitment(&[tx, creating]),
            Err(VerifyError::new(Reason::InvalidNewAccountKey).at_transaction(1))
        );
        let (pre, post) = (Fr::from(11u64), Fr::from(12u64));
        let data = PublicData {
            pre_state_root: pre,
            post_state_root: post,
            commitment: c,
            transactions: 2,
            reserved_bits: 1,
        };
        let inputs = public_inputs(&data);
        assert_eq!(
            inputs,
            [pre, post, c, Fr::from(2u64), Fr::from(1u64)],
            "in the documented order"
        );
        assert_eq!(
            [
                INPUT_PRE_ROOT,
                INPUT_POST_ROOT,
                INPUT_COMMITMENT,
                INPUT_TRANSACTIONS,
                INPUT_RESERVED_BITS
            ],
            [0, 1, 2, 3, 4]
        );
        assert_eq!(inputs[INPUT_PRE_ROOT], pre);
        assert_eq!(inputs[INPUT_POST_ROOT], post);
        assert_eq!(inputs[INPUT_COMMITMENT], c);
        assert_eq!(inputs[INPUT_TRANSACTIONS], Fr::from(2u64));
        assert_eq!(inputs[INPUT_RESERVED_BITS], Fr::from(1u64));
        assert_eq!(inputs.len(), PUBLIC_INPUTS);
        // The count and the bridge flag are bound.
        for other in [
            PublicData {
                transactions: 3,
                ..data
            },
            PublicData {
                reserved_bits: 0,
                ..data
            },
        ] {
            assert_ne!(public_inputs(&other), inputs);
        }
        assert_eq!(
            blob_public_inputs(1, &fr_to_hash(&pre), &fr_to_hash(&post), &[tx, t2]),
            Ok(inputs)
        );
        assert!(matches!(
            blob_public_inputs(1, &Hash32::from([0xff; 32]), &fr_to_hash(&post), &[tx]),
            Err(VerifyError {
                reason: Reason::NonCanonicalFieldElement { .. },
                ..
            })
        ));
    }

    /// The signature's bytes are bound exactly: each byte change gives other elements or a
    /// rejection, and the encodings the verifier refuses (before any proof) name the
    /// transaction.
    #[test]
    fn zk_transfer_signature_elements_bind_the_bytes() {
        use ark_ff::Field;
        assert_eq!(R_SIGN_WEIGHT, Fr::from(2u64).pow([252]));
        let tx = transfer(0, 1, 5, 0);
        let sig = tx.signature.0;
        let (r, s) = signature_elements(&sig).unwrap();
        let point = schnorr::decode_point(sig.first_chunk::<32>().unwrap()).unwrap();
        assert_eq!(r, point.y);
        let sign = Fr::from(u64::from(point.x > -point.x));
        let scalar = schnorr::decode_scalar(sig.last_chunk::<32>().unwrap()).unwrap();
        assert_eq!(
            s,
            Fr::from_le_bytes_mod_order(&scalar.into_bigint().to_bytes_le()) + R_SIGN_WEIGHT * sign
        );
        // Every single-bit flip changes the elements or is refused.
        for bit in 0..512 {
            let mut flipped = sig;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_ne!(signature_elements(&flipped), Some((r, s)), "bit {bit}");
        }
        // Refused encodings: all zero (R of order 4), R the identity or of order 2 or 8, y at
        // or above q, s at or above r_J.
        let mut refused: Vec<(&str, [u8; 64])> = vec![("all zero", [0; 64])];
        for y in schnorr::SMALL_ORDER_Y {
            let mut bad = sig;
            bad[..32].copy_from_slice(&fr_to_hash(&y).0);
            refused.push(("small-order R", bad));
        }
        let mut bad = sig;
        bad[..32].copy_from_slice(&[0xff; 32]);
        refused.push(("y above q", bad));
        let mut bad = sig;
        bad[32..].copy_from_slice(&schnorr::Scalar::MODULUS.to_bytes_le());
        refused.push(("s = r_J", bad));
        for (what, bytes) in refused {
            assert_eq!(signature_elements(&bytes), None, "{what}");
            let mut tx = tx;
            tx.signature = Signature::from(bytes);
            let error = tx_commitment(&[transfer(1, 0, 1, 0), tx]).unwrap_err();
            assert_eq!(
                error,
                VerifyError::new(Reason::BadSignature).at_transaction(1),
                "{what}"
            );
        }
    }

    #[test]
    fn zk_transfer_merkle_blob_accepts_and_rejects_each_rule() {
        let mut after = genesis();
        let create = signed(
            Transaction {
                from: 0,
                to: 4,
                amount: 30,
                nonce: 1,
                new_account_key: account(4, 0).public_key,
                signature: Signature::ZERO,
            },
            0,
        );
        let txs = [transfer(0, 1, 10, 0), create, transfer(1, 1, 15, 0)];
        after.insert(
            0,
            AccountLeaf {
                balance: 60,
                nonce: 2,
                ..account(0, 0)
            },
        );
        after.insert(
            1,
            AccountLeaf {
                balance: 15,
                nonce: 1,
                ..account(1, 0)
            },
        );
        after.insert(4, account(4, 30));
        check(&txs, &root(&after)).unwrap();
        let wrong_post = root(&genesis());
        assert!(matches!(
            check(&txs, &wrong_post),
            Err(VerifyError {
                reason: Reason::PostStateRootMismatch { .. },
                ..
            })
        ));

        let reason = |txs: &[Transaction]| match check(txs, &root(&after)) {
            Err(e) => Some((e.location.transaction, e.reason)),
            _ => None,
        };
        let mut bad_sig = transfer(0, 1, 10, 0);
        bad_sig.signature.0[33] ^= 1;
        assert_eq!(reason(&[bad_sig]), Some((Some(0), Reason::BadSignature)));
        let other_chain = {
            let mut tx = transfer(0, 1, 10, 0);
            tx.signature = Signature::from(schnorr::sign(
                &key(0),
                message_hash(CHAIN + 1, &tx).unwrap(),
            ));
            tx
        };
        assert_eq!(
            reason(&[other_chain]),
            Some((Some(0), Reason::BadSignature))
        );
        assert_eq!(
            reason(&[transfer(0, 1, 10, 1)]),
            Some((
                Some(0),
                Reason::NonceMismatch {
                    expected: 0,
                    found: 1
                }
            ))
        );
        assert_eq!(
            reason(&[transfer(1, 0, 6, 0)]),
            Some((
                Some(0),
                Reason::InsufficientBalance {
                    balance: 5,
                    amount: 6
                }
            ))
        );
        assert_eq!(
            reason(&[transfer(0, 6, 1, 0)]),
            Some((
                Some(0),
                Reason::BalanceOverflow {
                    balance: u64::MAX,
                    amount: 1
                }
            ))
        );
        assert_eq!(
            reason(&[transfer(0, 5, 1, 0)]),
            Some((Some(0), Reason::MissingNewAccountKey { account: 5 }))
        );
        let mut unexpected = transfer(0, 1, 1, 0);
        unexpected.new_account_key = account(9, 0).public_key;
        let unexpected = signed(unexpected, 0);
        assert_eq!(
            reason(&[unexpected]),
            Some((Some(0), Reason::UnexpectedNewAccountKey { account: 1 }))
        );
        assert_eq!(
            reason(&[transfer(2, 1, 0, 0)]),
            Some((Some(0), Reason::SenderMissing { account: 2 }))
        );
        assert_eq!(
            reason(&[transfer(0, 8, 1, 0)]),
            Some((
                Some(0),
                Reason::AccountOutOfRange {
                    account: 8,
                    depth: DEPTH
                }
            ))
        );
        // A bad signature on the second transaction counts before its other rules.
        let mut second = transfer(0, 1, 1000, 1);
        second.signature.0[40] ^= 1;
        assert_eq!(
            reason(&[transfer(0, 1, 10, 0), second]),
            Some((Some(1), Reason::BadSignature))
        );
        let mut bad_key = transfer(0, 5, 1, 0);
        bad_key.new_account_key = PublicKey::from([0xff; 32]);
        assert_eq!(
            check(&[bad_key], &root(&after)),
            Err(VerifyError::new(Reason::InvalidNewAccountKey).at_transaction(0))
        );

        // Witness tampering: a wrong pre-leaf, a non-canonical sibling.
        let state = genesis();
        let good = [transfer(0, 1, 10, 0)];
        let mut w = merkle_witness(&state, &good);
        let mut leaves = w.leaves.to_vec();
        leaves[0].balance += 1;
        w.leaves = VariableList::new(leaves).unwrap();
        assert!(matches!(
            verify_merkle_blob(CHAIN, DEPTH, None, &root(&state), &root(&after), &good, &w),
            Err(VerifyError {
                reason: Reason::PreStateRootMismatch { .. },
                ..
            })
        ));
        let mut w = merkle_witness(&state, &good);
        let mut siblings = w.siblings.to_vec();
        siblings[0] = Hash32::from([0xff; 32]);
        w.siblings = VariableList::new(siblings).unwrap();
        assert!(matches!(
            verify_merkle_blob(CHAIN, DEPTH, None, &root(&state), &root(&after), &good, &w),
            Err(VerifyError {
                reason: Reason::NonCanonicalFieldElement { .. },
                ..
            })
        ));
    }
}
