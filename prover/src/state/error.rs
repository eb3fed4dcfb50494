//! Why the prover fails.

use thiserror::Error;
use witness_format::{Hash32, Model};

use verifier::VerifyError;
use witness_format::limits::MAX_FILE_BYTES;

use super::schema::FORMAT_VERSION;

/// Why the prover failed. None of these leaves the database half-written.
#[derive(Debug, Error)]
pub enum ProverError {
    /// The database refused (including: another process has it open).
    #[error("database: {0}")]
    Database(#[from] redb::Error),
    /// The database belongs to another chain than the one asked for.
    #[error("database holds chain {found}, not the workload's chain {expected}")]
    WrongChain {
        /// The genesis hash asked for.
        expected: Hash32,
        /// The genesis hash in the database.
        found: Hash32,
    },
    /// The database content is not what this prover wrote.
    #[error("database is corrupt: {0}")]
    Corrupt(String),
    /// A blob the prover built does not pass the verifier: a bug, never written.
    #[error("built an invalid blob: {0}")]
    InvalidBlob(VerifyError),
    /// The block would not fit in a file; nothing was committed.
    #[error(
        "block of {bytes} bytes exceeds the file limit of {MAX_FILE_BYTES}: submit fewer transactions per block"
    )]
    BlockTooLarge {
        /// The block's encoded size.
        bytes: usize,
    },
    /// The allocation is unusable.
    #[error("invalid allocation: {0}")]
    InvalidAllocation(String),
    /// The file is not a prover database: it holds no genesis.
    #[error("not a prover database (no genesis stored)")]
    NotInitialized,
    /// A history proof's tip must be a block built so far.
    #[error("tip {tip} is not a built block (built: 1..={height})")]
    TipOutOfRange {
        /// The tip asked for.
        tip: u64,
        /// The last block built.
        height: u64,
    },
    /// A history fact must be at or below the tip.
    #[error("height {height} is above the tip {tip}")]
    FactAboveTip {
        /// The fact's height.
        height: u64,
        /// The tip.
        tip: u64,
    },
    /// The block has no such blob.
    #[error("block {height} has {blobs} blobs, no blob {blob}")]
    NoSuchBlob {
        /// The block's height.
        height: u64,
        /// The blob asked for.
        blob: u64,
        /// Blobs in the block.
        blobs: u64,
    },
    /// The blob has no such transaction.
    #[error(
        "block {height}, blob {blob} has {transactions} transactions, no transaction {transaction}"
    )]
    NoSuchTransaction {
        /// The block's height.
        height: u64,
        /// The blob.
        blob: u64,
        /// The transaction asked for.
        transaction: u64,
        /// Transactions in the blob.
        transactions: u64,
    },
    /// The chain does not host the model.
    #[error("model {model} is not in this chain")]
    UnknownModel {
        /// The model.
        model: Model,
    },
    /// The account number does not fit the chain's tree.
    #[error("account {account} is outside a tree of depth {depth}")]
    AccountOutOfRange {
        /// The account.
        account: u64,
        /// The tree depth.
        depth: u8,
    },
    /// The state at that height is older than the history the prover keeps.
    #[error(
        "the state at height {height} is no longer kept: history is kept from height {oldest} on"
    )]
    HistoryPruned {
        /// The height asked for.
        height: u64,
        /// The lowest height whose state can be proven.
        oldest: u64,
    },
    /// The database was written in another layout version than this prover's.
    #[error(
        "database format {found} is not this prover's format {FORMAT_VERSION}: rebuild it from the workload with `stateless prove`"
    )]
    UnsupportedFormat {
        /// The version found (1 for a database from before versions were recorded).
        found: u64,
    },
    /// A history proof the prover built does not pass the verifier: a bug, never written.
    #[error("built an invalid history proof: {0}")]
    InvalidProof(VerifyError),
    /// The zk proving key cannot be used for this chain.
    #[error("zk proving key: {0}")]
    ZkKey(String),
    /// Building a zk witness or proof failed.
    #[error("zk proving: {0}")]
    ZkProving(String),
    /// The chain hosts several models: say which one the transactions are for.
    #[error("the chain hosts {models} models: give each batch of transactions its model")]
    ModelNotGiven {
        /// The number of models hosted.
        models: usize,
    },
    /// The request does not apply to this chain's model.
    #[error("{what} is not supported for model {model}")]
    Unsupported {
        /// What was asked.
        what: &'static str,
        /// The chain's model.
        model: Model,
    },
}

macro_rules! impl_from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for ProverError {
            fn from(error: $t) -> Self {
                Self::Database(error.into())
            }
        }
    )*};
}
impl_from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Block `height` of a run of [`ProverState::build_blocks`](crate::ProverState::build_blocks)
/// could not be built or committed.
#[derive(Debug, Error)]
#[error("building block {height}")]
pub struct BlockFailed {
    /// The block.
    pub height: u64,
    /// Why.
    #[source]
    pub source: Box<ProverError>,
}
