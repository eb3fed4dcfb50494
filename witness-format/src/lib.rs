//! Wire types of the stateless chain: their canonical binary encoding and their JSON form.
//!
//! This crate is pure data. It knows how bytes map to values and back, and nothing about hashing
//! or validity rules (those live in `verifier`).
//!
//! - [`types`]: genesis, blocks, headers, blobs, transactions, witnesses, history and span proofs,
//!   and the prover's inputs.
//! - [`limits`]: every bound the decoder enforces, each a named constant.
//! - [`frame`]: the file envelope (magic, version, kind, length) and the one decoding entry point,
//!   [`decode_file`], which never panics and rejects non-canonical bytes.
//! - [`bytes`]: fixed-size byte strings (hashes, keys, signatures) shown as hex in JSON.
//!
//! The encoding inside a frame is SSZ, as implemented by `ethereum_ssz`. `docs/FORMAT.md`
//! describes every byte.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod bytes;
pub mod frame;
pub mod limits;
pub mod types;

pub use bytes::{Bytes, Hash32, PublicKey, Signature};
pub use frame::{DecodeError, FileKind, FramedValue, decode_file, encode_file};
pub use ssz::{Decode as SszDecode, Encode as SszEncode};
pub use ssz_types;
pub use types::{
    AGGREGATION_SRS_KEY_BYTES, AccountFact, AccountLeaf, AggregateSpanProof, Allocation, Anchor,
    Blob, BlobFact, BlobInclusion, Block, ByteList, CreditWitness, EvmAnchor, EvmChannelFact,
    EvmCreditWitness, EvmSchedule, EvmWitness, ExecutedStep, Genesis, Header, HistoryFact,
    HistoryProof, MerkleWitness, Model, ModelRoot, ProvenStep, ProvingJob, SpanProof, SpanStep,
    Transaction, TransactionBatch, TransactionFact, TransactionInclusion, Witness, ZK_PROOF_BYTES,
    ZK_VERIFYING_KEY_BYTES, ZkKeyPin, ZkVerifyingKey, ZkWitness,
};
