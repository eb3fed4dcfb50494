//! The file envelope and the decoding entry point.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "STLS"
//! 4       1     format version (4)
//! 5       1     kind (see FileKind)
//! 6       4     payload length, little-endian u32
//! 10      n     payload: the SSZ encoding of one value of that kind
//! ```
//!
//! A file is exactly one value: the length must match the bytes that follow, and the payload must
//! re-encode to itself (which rules out every non-canonical SSZ form, such as odd offsets).

use ssz::{Decode, Encode};
use thiserror::Error;

use crate::limits::{
    MAX_AGGREGATE_SPAN_BYTES, MAX_BATCH_FILE_BYTES, MAX_FILE_BYTES, MAX_GENESIS_BYTES,
    MAX_HISTORY_PROOF_BYTES,
};
use crate::types::{
    AggregateSpanProof, Allocation, Block, Genesis, HistoryProof, ProvingJob, SpanProof,
    TransactionBatch,
};

/// The four bytes every file starts with.
pub const MAGIC: [u8; 4] = *b"STLS";
/// The format version this code reads and writes.
pub const FORMAT_VERSION: u8 = 7;
/// Bytes before the payload.
pub const FRAME_HEADER_LEN: usize = 10;

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A [`Genesis`].
    Genesis = 1,
    /// A [`Block`].
    Block = 2,
    /// An [`Allocation`] (prover input).
    Allocation = 3,
    /// A [`TransactionBatch`] (prover input).
    TransactionBatch = 4,
    /// A [`HistoryProof`].
    HistoryProof = 5,
    /// A [`SpanProof`].
    SpanProof = 6,
    /// An [`AggregateSpanProof`].
    AggregateSpanProof = 7,
    /// A [`ProvingJob`] (a proving farm's message).
    ProvingJob = 8,
}

impl FileKind {
    /// The largest payload a file of this kind may have: its values' largest encoding, or
    /// [`MAX_FILE_BYTES`] when that is larger. A reader can stop after this many bytes (plus the
    /// frame header) and reject the file as too large.
    pub const fn max_payload_bytes(self) -> usize {
        match self {
            Self::Genesis => MAX_GENESIS_BYTES,
            Self::HistoryProof => MAX_HISTORY_PROOF_BYTES,
            // Three history proofs, the key, the SRS key, the count and the aggregate.
            Self::AggregateSpanProof => MAX_AGGREGATE_SPAN_BYTES,
            Self::TransactionBatch => MAX_BATCH_FILE_BYTES,
            Self::Block | Self::Allocation | Self::SpanProof | Self::ProvingJob => MAX_FILE_BYTES,
        }
    }

    /// The largest file of this kind, frame header included.
    pub const fn max_file_bytes(self) -> usize {
        self.max_payload_bytes().saturating_add(FRAME_HEADER_LEN)
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Genesis),
            2 => Some(Self::Block),
            3 => Some(Self::Allocation),
            4 => Some(Self::TransactionBatch),
            5 => Some(Self::HistoryProof),
            6 => Some(Self::SpanProof),
            7 => Some(Self::AggregateSpanProof),
            8 => Some(Self::ProvingJob),
            _ => None,
        }
    }
}

/// A value that has its own kind of file.
pub trait FramedValue: Encode + Decode {
    /// The kind byte of files holding this type.
    const KIND: FileKind;
}

impl FramedValue for Genesis {
    const KIND: FileKind = FileKind::Genesis;
}
impl FramedValue for Block {
    const KIND: FileKind = FileKind::Block;
}
impl FramedValue for Allocation {
    const KIND: FileKind = FileKind::Allocation;
}
impl FramedValue for TransactionBatch {
    const KIND: FileKind = FileKind::TransactionBatch;
}
impl FramedValue for HistoryProof {
    const KIND: FileKind = FileKind::HistoryProof;
}
impl FramedValue for SpanProof {
    const KIND: FileKind = FileKind::SpanProof;
}
impl FramedValue for AggregateSpanProof {
    const KIND: FileKind = FileKind::AggregateSpanProof;
}
impl FramedValue for ProvingJob {
    const KIND: FileKind = FileKind::ProvingJob;
}

/// Why bytes are not a valid file.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer bytes than the frame header.
    #[error("file is {len} bytes, shorter than the {FRAME_HEADER_LEN}-byte frame header")]
    Truncated {
        /// Bytes present.
        len: usize,
    },
    /// The magic bytes are wrong.
    #[error("not a stateless file (bad magic bytes)")]
    BadMagic,
    /// A format version this code does not read.
    #[error("unsupported format version {found} (this build reads version {FORMAT_VERSION})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u8,
    },
    /// The kind byte names no known kind.
    #[error("unknown file kind {found}")]
    UnknownKind {
        /// The kind byte.
        found: u8,
    },
    /// The file holds another kind than the one asked for.
    #[error("expected a {expected:?} file, found a {found:?} file")]
    WrongKind {
        /// The kind asked for.
        expected: FileKind,
        /// The kind in the file.
        found: FileKind,
    },
    /// The file is larger than any valid file (of its kind, where the kind is known).
    #[error("file is {len} bytes, over the limit of {limit}")]
    TooLarge {
        /// The size found or claimed.
        len: usize,
        /// The limit it exceeds.
        limit: usize,
    },
    /// The length field disagrees with the bytes present.
    #[error("frame says {claimed} payload bytes but {actual} follow")]
    LengthMismatch {
        /// Bytes the frame claims.
        claimed: usize,
        /// Bytes present.
        actual: usize,
    },
    /// The payload is not a valid encoding of the value (including a list over its limit).
    #[error("invalid payload: {0}")]
    Payload(String),
    /// The payload decodes, but is not the one canonical encoding of what it decodes to.
    #[error("payload is not canonically encoded")]
    NonCanonical,
}

/// Encodes `value` as a complete file.
///
/// Encoding does not enforce [`MAX_FILE_BYTES`]: list limits alone allow larger values, so
/// writers that build values check the size ([`fits_in_file`]) before relying on the file being
/// readable.
pub fn encode_file<T: FramedValue>(value: &T) -> Vec<u8> {
    let payload = value.as_ssz_bytes();
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN.saturating_add(payload.len()));
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(T::KIND as u8);
    // A payload over 4 GiB gets a length that `decode_file` rejects; see `fits_in_file`.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Whether `value` encodes within [`MAX_FILE_BYTES`], so that [`decode_file`] can read it back.
pub fn fits_in_file<T: FramedValue>(value: &T) -> bool {
    value.ssz_bytes_len() <= MAX_FILE_BYTES
}

/// Reads the frame header and returns the kind and the payload. Checks everything but the payload.
pub fn read_frame(bytes: &[u8]) -> Result<(FileKind, &[u8]), DecodeError> {
    if bytes.len() > MAX_FILE_BYTES.saturating_add(FRAME_HEADER_LEN) {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit: MAX_FILE_BYTES.saturating_add(FRAME_HEADER_LEN),
        });
    }
    let (Some(magic), Some(&version), Some(&kind), Some(len_bytes), Some(payload)) = (
        bytes.get(0..4),
        bytes.get(4),
        bytes.get(5),
        bytes.get(6..FRAME_HEADER_LEN),
        bytes.get(FRAME_HEADER_LEN..),
    ) else {
        return Err(DecodeError::Truncated { len: bytes.len() });
    };
    if magic != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion { found: version });
    }
    let kind = FileKind::from_byte(kind).ok_or(DecodeError::UnknownKind { found: kind })?;
    let mut len = [0u8; 4];
    len.copy_from_slice(len_bytes);
    let claimed = u32::from_le_bytes(len) as usize;
    if claimed > kind.max_payload_bytes() {
        return Err(DecodeError::TooLarge {
            len: claimed,
            limit: kind.max_payload_bytes(),
        });
    }
    if claimed != payload.len() {
        return Err(DecodeError::LengthMismatch {
            claimed,
            actual: payload.len(),
        });
    }
    Ok((kind, payload))
}

/// Decodes a complete file holding a `T`.
///
/// Never panics, for any input. Every list length is checked against its limit before the list
/// is allocated, and the whole file is bounded by [`MAX_FILE_BYTES`].
pub fn decode_file<T: FramedValue>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (kind, payload) = read_frame(bytes)?;
    if kind != T::KIND {
        return Err(DecodeError::WrongKind {
            expected: T::KIND,
            found: kind,
        });
    }
    let value = T::from_ssz_bytes(payload).map_err(|e| DecodeError::Payload(format!("{e:?}")))?;
    // Cheaper than reasoning about every corner of SSZ: the canonical encoding is the one our
    // encoder writes, so a payload that does not re-encode to itself is not canonical.
    if value.ssz_bytes_len() != payload.len() || value.as_ssz_bytes() != payload {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{
        MAX_ACCOUNT_PATH_SIBLINGS, MAX_LIST_PATH_HASHES, MAX_MMR_PATH_HASHES, MAX_MMR_PEAKS,
        MAX_MODELS, MAX_ZK_KEYS,
    };
    use crate::limits::{MAX_EVM_ANCESTORS, MAX_EVM_HEADER_BYTES};
    use crate::types::{
        AccountFact, Anchor, BlobFact, BlobInclusion, EvmAnchor, EvmSchedule, Header, HistoryFact,
        Model, ModelRoot, Transaction, TransactionFact, TransactionInclusion, ZkKeyPin,
    };
    use crate::{AccountLeaf, Hash32, PublicKey, Signature};
    use ssz_types::{BitList, VariableList};

    fn hashes<N: ssz_types::typenum::Unsigned>(n: usize) -> VariableList<Hash32, N> {
        VariableList::new(vec![Hash32::from([7; 32]); n]).unwrap()
    }

    fn full_genesis() -> Genesis {
        Genesis {
            chain_id: u64::MAX,
            tree_depth: 64,
            state_roots: VariableList::new(vec![
                ModelRoot {
                    model: Model::Transfer,
                    root: Hash32::from([1; 32]),
                };
                MAX_MODELS
            ])
            .unwrap(),
            zk_keys: VariableList::new(vec![
                ZkKeyPin {
                    batch: u16::MAX,
                    vk_hash: Hash32::from([2; 32]),
                };
                MAX_ZK_KEYS
            ])
            .unwrap(),
            evm: Some(EvmAnchor {
                schedule: EvmSchedule::Prague,
                number: u64::MAX,
                hash: Hash32::from([6; 32]),
                ancestor_hashes: hashes(MAX_EVM_ANCESTORS),
                header: VariableList::new(vec![0xf9; MAX_EVM_HEADER_BYTES]).unwrap(),
            }),
            zk_srs: Some(Hash32::from([8; 32])),
        }
    }

    fn full_header() -> Header {
        Header {
            height: u64::MAX,
            parent_hash: Hash32::from([3; 32]),
            history_root: Hash32::from([4; 32]),
            blobs_root: Hash32::from([5; 32]),
            state_roots: full_genesis().state_roots,
        }
    }

    fn full_blob() -> BlobInclusion {
        BlobInclusion {
            index: 0,
            count: 1,
            model: Model::ZkTransfer,
            pre_state_root: Hash32::ZERO,
            post_state_root: Hash32::ZERO,
            transactions_root: Hash32::ZERO,
            path: hashes(MAX_LIST_PATH_HASHES),
        }
    }

    fn proof(fact: HistoryFact) -> HistoryProof {
        HistoryProof {
            tip_height: u64::MAX,
            peak_path: hashes(MAX_MMR_PATH_HASHES),
            other_peaks: hashes(MAX_MMR_PEAKS),
            fact,
        }
    }

    /// Every kind with a limit of its own: its largest value (every list full) fits the limit.
    #[test]
    fn the_largest_value_of_each_kind_fits_its_limit() {
        let genesis = full_genesis();
        println!("largest genesis: {} bytes", genesis.ssz_bytes_len());
        assert!(genesis.ssz_bytes_len() <= FileKind::Genesis.max_payload_bytes());
        let mut bits = BitList::with_capacity(MAX_ACCOUNT_PATH_SIBLINGS).unwrap();
        bits.set(0, true).unwrap();
        let facts = [
            HistoryFact::Anchor(Anchor::Genesis(genesis.clone())),
            HistoryFact::Blob(BlobFact {
                header: full_header(),
                blob: full_blob(),
            }),
            HistoryFact::Transaction(TransactionFact {
                header: full_header(),
                blob: full_blob(),
                transaction: TransactionInclusion {
                    index: 0,
                    count: 1,
                    transaction: Transaction {
                        from: 0,
                        to: 0,
                        amount: 0,
                        nonce: 0,
                        new_account_key: PublicKey::ZERO,
                        signature: Signature::ZERO,
                    },
                    path: hashes(MAX_LIST_PATH_HASHES),
                },
            }),
            HistoryFact::Account(AccountFact {
                anchor: Anchor::Genesis(genesis),
                model: Model::Transfer,
                account: 0,
                leaf: AccountLeaf::EMPTY,
                sibling_present: bits,
                siblings: hashes(MAX_ACCOUNT_PATH_SIBLINGS),
            }),
        ];
        let largest = facts
            .into_iter()
            .map(|fact| proof(fact).ssz_bytes_len())
            .max()
            .unwrap();
        println!("largest history proof: {largest} bytes");
        assert!(largest <= FileKind::HistoryProof.max_payload_bytes());
        assert!(MAX_BATCH_TRANSACTIONS_BYTES <= FileKind::TransactionBatch.max_payload_bytes());
        for kind in [
            FileKind::Genesis,
            FileKind::Block,
            FileKind::Allocation,
            FileKind::TransactionBatch,
            FileKind::HistoryProof,
            FileKind::SpanProof,
            FileKind::AggregateSpanProof,
            FileKind::ProvingJob,
        ] {
            assert!(kind.max_payload_bytes() <= MAX_FILE_BYTES, "{kind:?}");
        }
    }

    /// A full transaction batch: the model byte, the list offset, 2^18 transactions.
    const MAX_BATCH_TRANSACTIONS_BYTES: usize = 1 + 4 + crate::limits::MAX_BATCH_TRANSACTIONS * 128;

    /// A frame claiming more than its kind may hold is refused from the header alone.
    #[test]
    fn a_kind_limit_is_checked_from_the_frame_header() {
        let mut file = encode_file(&full_genesis());
        let claim = FileKind::Genesis.max_payload_bytes() + 1;
        file[6..10].copy_from_slice(&(claim as u32).to_le_bytes());
        assert_eq!(
            decode_file::<Genesis>(&file),
            Err(DecodeError::TooLarge {
                len: claim,
                limit: MAX_GENESIS_BYTES
            })
        );
    }
}
