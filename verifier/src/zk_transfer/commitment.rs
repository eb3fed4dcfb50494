//! What a `zk-transfer` proof binds: the signing message, a signature's field elements, the
//! commitment to a blob's transactions and the proof's public inputs. See the model's module
//! documentation.

use ark_bls12_381::Fr;
use ark_ff::{AdditiveGroup, BigInt, MontFp, PrimeField};
use ark_serialize::CanonicalDeserialize;

use witness_format::{Hash32, Transaction};

use crate::error::{Reason, VerifyError};
use crate::zk_transfer::groth16::PUBLIC_INPUTS;
use crate::zk_transfer::poseidon::{Sponge, WIDTH};
use crate::zk_transfer::schnorr::{self, SIGNATURE_BYTES, SigningKey};

use super::state::*;

/// The coordinates a transaction's new-owner key contributes to its message: (0, 0) when the
/// key is all zero (absent), its validated affine coordinates otherwise, `None` when it does not
/// decode.
pub fn new_key_coordinates(tx: &Transaction) -> Option<(Fr, Fr)> {
    if tx.new_account_key.is_zero() {
        return Some((Fr::ZERO, Fr::ZERO));
    }
    schnorr::public_key_coordinates(&tx.new_account_key.0)
}

/// The signing message of a transaction from its parts (see the module documentation);
/// `new_key` is (0, 0) when there is none.
pub fn message_of(
    chain_id: u64,
    from: u64,
    to: u64,
    amount: u64,
    nonce: u64,
    new_key: (Fr, Fr),
) -> Fr {
    MessageHasher::new(chain_id).message_of(from, to, amount, nonce, new_key)
}

/// The signing message of a transaction; `None` when its new-owner key does not decode.
pub fn message_hash(chain_id: u64, tx: &Transaction) -> Option<Fr> {
    MessageHasher::new(chain_id).message(tx)
}

/// Number of field elements a signing message absorbs without a new-owner key: the chain id,
/// the model tag and the two packed pairs. A new-owner key adds its two coordinates.
const MESSAGE_LEN: usize = 4;

/// 2⁶⁴: two `u64` fields share one message element as `low + 2⁶⁴ · high`.
pub const PAIR_SHIFT: Fr = MontFp!("18446744073709551616");

/// `low + 2⁶⁴ · high`: below 2¹²⁸ < p, so the pair is read back uniquely from the element.
pub fn pack_pair(low: u64, high: u64) -> Fr {
    Fr::from(low) + PAIR_SHIFT * Fr::from(high)
}

/// Signing messages of one chain. The message sponge's first permutation absorbs only the
/// chain id and the model tag, so it is computed once here (for each of the two lengths) and a
/// message costs one permutation, or two with a new-owner key.
#[derive(Clone, Debug)]
pub struct MessageHasher {
    /// The sponge after absorbing `[chain_id, MODEL_TAG]`, for a message without a new-owner
    /// key and for one with it (the capacity binds the length, so they differ).
    prefixes: [Sponge; 2],
}

impl MessageHasher {
    /// The hasher of `chain_id`'s messages.
    pub fn new(chain_id: u64) -> Self {
        let prefixes = [MESSAGE_LEN, MESSAGE_LEN + 2].map(|len| {
            let mut prefix = Sponge::new(TX_DOMAIN, len);
            prefix.absorb(Fr::from(chain_id), Fr::from(MODEL_TAG));
            prefix
        });
        Self { prefixes }
    }

    /// The sponge states after the constant prefix, without and with a new-owner key: where
    /// the circuit starts a message.
    pub fn prefix_states(&self) -> [[Fr; WIDTH]; 2] {
        self.prefixes.each_ref().map(|prefix| *prefix.state())
    }

    /// [`message_of`] for this hasher's chain.
    pub fn message_of(&self, from: u64, to: u64, amount: u64, nonce: u64, new_key: (Fr, Fr)) -> Fr {
        let with_key = new_key != (Fr::ZERO, Fr::ZERO);
        let [without, with] = &self.prefixes;
        let mut sponge = if with_key { with } else { without }.clone();
        sponge.absorb(pack_pair(from, to), pack_pair(amount, nonce));
        if with_key {
            sponge.absorb(new_key.0, new_key.1);
        }
        sponge.output()
    }

    /// [`message_hash`] for this hasher's chain.
    pub fn message(&self, tx: &Transaction) -> Option<Fr> {
        let new_key = new_key_coordinates(tx)?;
        Some(self.message_of(tx.from, tx.to, tx.amount, tx.nonce, new_key))
    }
}

/// Signs `tx` for `chain_id` with the sender's key: returns the signature to put in
/// `tx.signature`, or `None` when the new-owner key does not decode.
pub fn sign_transaction(
    key: &SigningKey,
    chain_id: u64,
    tx: &Transaction,
) -> Option<[u8; SIGNATURE_BYTES]> {
    message_hash(chain_id, tx).map(|message| schnorr::sign(key, message))
}

/// 2²⁵²: where σs keeps the sign bit of R's encoding, above s's [`schnorr::SCALAR_BITS`] bits.
pub const R_SIGN_WEIGHT: Fr =
    MontFp!("7237005577332262213973186563042994240829374041602535252466099000494570602496");

/// A signature's 64 bytes as the two field elements the commitment absorbs:
///
/// - σr = y, R's y coordinate: bytes 0..32 with bit 255 cleared, as a little-endian integer;
/// - σs = s + 2²⁵²·b, with s the integer of bytes 32..64 and b bit 255 of R's encoding.
///
/// The bytes are accepted only when y < q, y is not the y of a point of small order
/// ([`schnorr::SMALL_ORDER_Y`]: so an all-zero signature is refused here) and s < r_J; then the
/// map is one to one (s < 2²⁵² leaves b its own bit), so the two elements bind the exact bytes.
/// `None` otherwise. Whether R is on the curve and the signature verifies is the proof's to
/// check: the circuit computes σr and σs from the R and s it verifies.
pub fn signature_elements(signature: &[u8; SIGNATURE_BYTES]) -> Option<(Fr, Fr)> {
    let (r_bytes, s_bytes) = signature.split_first_chunk::<32>()?;
    let s_bytes = <&[u8; 32]>::try_from(s_bytes).ok()?;
    let mut y_bytes = *r_bytes;
    let sign = y_bytes.last().map_or(0, |byte| byte >> 7);
    if let Some(last) = y_bytes.last_mut() {
        *last &= 0x7f;
    }
    let y = Fr::deserialize_compressed(y_bytes.as_slice()).ok()?;
    if schnorr::SMALL_ORDER_Y.contains(&y) {
        return None;
    }
    // s < r_J < 2²⁵² < q, so its integer is an element of Fr as it is.
    let s = Fr::from_bigint(BigInt::new(
        schnorr::decode_scalar(s_bytes)?.into_bigint().0,
    ))?;
    Some((y, s + R_SIGN_WEIGHT * Fr::from(sign)))
}

/// 2¹²⁸: the weight of the new-owner-key flag in a transaction's first commitment element,
/// above the 128 bits of `from + 2⁶⁴·to`.
pub const KEY_FLAG_WEIGHT: Fr = MontFp!("340282366920938463463374607431768211456");

/// The commitment to a blob's transactions: one rate-2 sponge over all of them, in order, its
/// capacity starting at `sponge_capacity(TX_COMMITMENT_DOMAIN, n)` for n transactions. Each
/// transaction absorbs, a pair per permutation,
///
/// ```text
/// [from + 2⁶⁴·to + 2¹²⁸·k,  amount + 2⁶⁴·nonce],  [σr, σs],  and, when k = 1, [nx, ny]
/// ```
///
/// with k = 1 exactly when it carries a new-owner key (nx, ny), and (σr, σs) its signature's
/// elements ([`signature_elements`]). The fields themselves, not the signing message: the
/// message adds only the chain id and the model tag, constants of the circuit, so a verifier
/// need not compute it (two permutations a transaction, three with a key). The absorbed
/// sequence reads back uniquely: each value is below its weight's gap (four `u64`s, k a bit),
/// and k says whether a key pair follows.
#[derive(Clone, Debug)]
pub struct TxCommitment {
    sponge: Sponge,
}

impl TxCommitment {
    /// The commitment to no transaction yet, for a blob of `transactions`.
    pub fn new(transactions: usize) -> Self {
        Self {
            sponge: Sponge::new(TX_COMMITMENT_DOMAIN, transactions),
        }
    }

    /// Absorbs the next transaction; `new_key` is (0, 0) when there is none.
    pub fn absorb(
        &mut self,
        [from, to, amount, nonce]: [u64; 4],
        new_key: (Fr, Fr),
        signature: (Fr, Fr),
    ) {
        let with_key = new_key != (Fr::ZERO, Fr::ZERO);
        self.sponge.absorb(
            pack_pair(from, to) + KEY_FLAG_WEIGHT * Fr::from(with_key),
            pack_pair(amount, nonce),
        );
        self.sponge.absorb(signature.0, signature.1);
        if with_key {
            self.sponge.absorb(new_key.0, new_key.1);
        }
    }

    /// The commitment, once every transaction is absorbed.
    pub fn value(&self) -> Fr {
        self.sponge.output()
    }
}

/// The commitment to a list of transactions ([`TxCommitment`]). Rejects, at the first
/// offending transaction, a signature that is not a canonical encoding
/// ([`Reason::BadSignature`]: it is checked first, as for every blob) and a new-owner key that
/// does not decode.
pub fn tx_commitment(transactions: &[Transaction]) -> Result<Fr, VerifyError> {
    let mut commitment = TxCommitment::new(transactions.len());
    for (index, tx) in transactions.iter().enumerate() {
        let at = |reason| VerifyError::new(reason).at_transaction(index);
        let signature =
            signature_elements(&tx.signature.0).ok_or_else(|| at(Reason::BadSignature))?;
        let new_key = new_key_coordinates(tx).ok_or_else(|| at(Reason::InvalidNewAccountKey))?;
        commitment.absorb([tx.from, tx.to, tx.amount, tx.nonce], new_key, signature);
    }
    Ok(commitment.value())
}

/// What a proof's public inputs are: the roots it moves between, the commitment to its
/// transactions and their number, and the top index bits the chain's bridge reserves. The chain
/// id and the model tag are not among them: they are constants of the circuit (a key is made
/// for one chain, and both are in every transaction's message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicData {
    /// The pre-state root.
    pub pre_state_root: Fr,
    /// The post-state root.
    pub post_state_root: Fr,
    /// The transaction commitment ([`tx_commitment`]).
    pub commitment: Fr,
    /// The number of transactions.
    pub transactions: u64,
    /// Top index bits no slot may set: the chain's bridge regions ([`crate::bridge`]), out of
    /// a zk blob's reach (1 on a chain of two models, 0 on a chain of one).
    pub reserved_bits: u8,
}

/// The proof's public inputs, in the order of the `INPUT_*` indices
/// ([`crate::zk_transfer::groth16::INPUT_PRE_ROOT`] …): pre-state root, post-state root,
/// commitment, transaction count, reserved bits. Each is a value the circuit enforces, not a
/// hash of them, so a verifier can combine the inputs of consecutive proofs linearly (the post
/// root of one blob is the pre root of the next).
pub fn public_inputs(data: &PublicData) -> [Fr; PUBLIC_INPUTS] {
    [
        data.pre_state_root,
        data.post_state_root,
        data.commitment,
        Fr::from(data.transactions),
        Fr::from(data.reserved_bits),
    ]
}

/// The public inputs of a blob, computed from its bytes as a verifier does: both roots must be
/// canonical field elements, every signature a canonical encoding and every new-owner key must
/// decode.
pub fn blob_public_inputs(
    reserved_bits: u8,
    pre_state_root: &Hash32,
    post_state_root: &Hash32,
    transactions: &[Transaction],
) -> Result<[Fr; PUBLIC_INPUTS], VerifyError> {
    let pre = hash_to_fr(pre_state_root).ok_or(Reason::NonCanonicalFieldElement {
        what: "pre-state root",
    })?;
    let post = hash_to_fr(post_state_root).ok_or(Reason::NonCanonicalFieldElement {
        what: "post-state root",
    })?;
    let commitment = tx_commitment(transactions)?;
    let data = PublicData {
        pre_state_root: pre,
        post_state_root: post,
        commitment,
        transactions: transactions.len() as u64,
        reserved_bits,
    };
    Ok(public_inputs(&data))
}
