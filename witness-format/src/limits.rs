//! Every bound the decoder enforces. Each is checked before the allocation it bounds: a list's
//! claimed length is compared with its maximum before any element is decoded, and a file's length
//! with [`MAX_FILE_BYTES`] before anything inside it is read.

use ssz_types::typenum;

/// Largest payload of any file (the frame header adds 10 bytes). Checked before decoding.
pub const MAX_FILE_BYTES: usize = 128 << 20;

/// Largest payload of a genesis file. A genesis with every list full (16 models, 16 pinned keys,
/// an `evm` anchor with 256 ancestor hashes and a 1 KiB header) is 10,396 bytes; a test builds
/// it.
pub const MAX_GENESIS_BYTES: usize = 16 << 10;

/// Largest payload of a history proof file. The largest proof (an account fact anchored at the
/// fullest genesis) is 16,640 bytes; a test builds it.
pub const MAX_HISTORY_PROOF_BYTES: usize = 32 << 10;
/// The largest aggregate span file payload: three history proofs, the aggregate (at most
/// 64 KiB) and the keys.
pub const MAX_AGGREGATE_SPAN_BYTES: usize = 3 * MAX_HISTORY_PROOF_BYTES + (64 << 10) + 4096;

/// Largest payload of a transaction batch file: 2^18 transactions of 128 bytes, and the
/// batch's model and list offset.
pub const MAX_BATCH_FILE_BYTES: usize = (MAX_BATCH_TRANSACTIONS * 128) + 64;

/// Transactions in one blob. A blob of 1,024 transfers is the design point; 4x leaves headroom.
pub type MaxTransactionsPerBlob = typenum::U4096;
/// [`MaxTransactionsPerBlob`] as a number.
pub const MAX_TRANSACTIONS_PER_BLOB: usize = 4096;

/// Pre-state leaves in one Merkle witness: at most two accounts per transaction.
pub type MaxWitnessLeaves = typenum::U8192;
/// [`MaxWitnessLeaves`] as a number.
pub const MAX_WITNESS_LEAVES: usize = 8192;

/// Sibling positions (and so sibling hashes) in one multiproof: every leaf needs at most one
/// sibling per level, and trees are at most [`MAX_TREE_DEPTH`] deep.
pub type MaxSiblings = typenum::U524288;
/// [`MaxSiblings`] as a number.
pub const MAX_SIBLINGS: usize = 524_288;

/// Deepest state tree: account numbers are `u64`.
pub const MAX_TREE_DEPTH: u8 = 64;

/// Blobs in one block.
pub type MaxBlobsPerBlock = typenum::U256;
/// [`MaxBlobsPerBlock`] as a number.
pub const MAX_BLOBS_PER_BLOCK: usize = 256;

/// Credits in one blob, each carrying the history proof of the receipt it credits (a few
/// kilobytes each).
pub type MaxCreditsPerBlob = typenum::U1024;
/// [`MaxCreditsPerBlob`] as a number.
pub const MAX_CREDITS_PER_BLOB: usize = 1024;

/// Execution models on one chain.
pub type MaxModels = typenum::U16;
/// [`MaxModels`] as a number.
pub const MAX_MODELS: usize = 16;

/// Pinned zk verifying keys in a genesis (one per batch size).
pub type MaxZkKeys = typenum::U16;
/// [`MaxZkKeys`] as a number.
pub const MAX_ZK_KEYS: usize = 16;

/// Accounts in a genesis allocation (prover input): 2^21 accounts of 48 bytes fit in a file.
pub type MaxAllocationAccounts = typenum::U2097152;
/// [`MaxAllocationAccounts`] as a number.
pub const MAX_ALLOCATION_ACCOUNTS: usize = 2_097_152;

/// Transactions in one block of a workload (prover input).
pub type MaxBatchTransactions = typenum::U262144;
/// [`MaxBatchTransactions`] as a number.
pub const MAX_BATCH_TRANSACTIONS: usize = 262_144;

/// Sibling hashes on the path from a leaf of the history accumulator up to its peak. The
/// accumulator's count is a `u64`, so no peak is 64 levels high.
pub type MaxMmrPathHashes = typenum::U64;
/// [`MaxMmrPathHashes`] as a number.
pub const MAX_MMR_PATH_HASHES: usize = 64;

/// Peaks of the history accumulator other than the one a proof walks up: one per binary digit of
/// the `u64` count, at most.
pub type MaxMmrPeaks = typenum::U64;
/// [`MaxMmrPeaks`] as a number.
pub const MAX_MMR_PEAKS: usize = 64;

/// Sibling hashes on the path from an item of a list root (a block's blobs, a blob's
/// transactions) up to its tree root. The count is a `u64`, so the padded tree is at most 64
/// levels high.
pub type MaxListPathHashes = typenum::U64;
/// [`MaxListPathHashes`] as a number.
pub const MAX_LIST_PATH_HASHES: usize = 64;

/// Sibling positions (bits) and carried sibling hashes on one account's path in a state tree:
/// one per level, and trees are at most [`MAX_TREE_DEPTH`] deep.
pub type MaxAccountPathSiblings = typenum::U64;
/// [`MaxAccountPathSiblings`] as a number.
pub const MAX_ACCOUNT_PATH_SIBLINGS: usize = 64;

/// Steps (zk-transfer blobs: a 290-byte proven step, or a whole blob executed) in one span
/// proof. 2^16 proven steps are 19 MiB, well within a file, and about a minute of pairing work
/// to check; executed steps are as large as their blobs, and the file limit bounds them all. A
/// longer stretch of history is proven as consecutive spans, each one's *B* the next one's *A*.
pub type MaxSpanSteps = typenum::U65536;
/// Bytes of an aggregate proof: at most 16 rounds (2^16 proofs) take 50,216; the bound is
/// 64 KiB.
pub type MaxAggregateBytes = typenum::U65536;
/// [`MaxSpanSteps`] as a number.
pub const MAX_SPAN_STEPS: usize = 65_536;

/// Bytes of one `evm` block (RLP). A 60M-gas block of calldata at 4 gas per zero byte is 15 MB,
/// but real blocks are under 2 MB: 4 MiB leaves headroom and keeps a block file small.
pub type MaxEvmBlockBytes = typenum::U4194304;
/// [`MaxEvmBlockBytes`] as a number.
pub const MAX_EVM_BLOCK_BYTES: usize = 4 << 20;

/// Bytes of one trie node (RLP): a full branch node is at most 532 bytes.
pub type MaxEvmNodeBytes = typenum::U1024;
/// [`MaxEvmNodeBytes`] as a number.
pub const MAX_EVM_NODE_BYTES: usize = 1024;

/// Trie nodes proving one `evm` storage slot (an account's path, then the slot's): a path of
/// a 32-byte key has at most 64 nodes below the root, and real tries are under 10 deep.
pub type MaxEvmProofNodes = typenum::U128;
/// [`MaxEvmProofNodes`] as a number.
pub const MAX_EVM_PROOF_NODES: usize = 128;

/// Trie nodes in one `evm` witness: mainnet blocks need a few thousand.
pub type MaxEvmNodes = typenum::U131072;
/// [`MaxEvmNodes`] as a number.
pub const MAX_EVM_NODES: usize = 131_072;

/// Bytes of one contract code: 24,576 since EIP-170; a genesis may hold larger ones, so 64 KiB.
pub type MaxEvmCodeBytes = typenum::U65536;
/// [`MaxEvmCodeBytes`] as a number.
pub const MAX_EVM_CODE_BYTES: usize = 65_536;

/// Contract codes in one `evm` witness.
pub type MaxEvmCodes = typenum::U4096;
/// [`MaxEvmCodes`] as a number.
pub const MAX_EVM_CODES: usize = 4096;

/// Ancestor hashes `BLOCKHASH` may read: the last 256 blocks.
pub type MaxEvmAncestors = typenum::U256;
/// [`MaxEvmAncestors`] as a number.
pub const MAX_EVM_ANCESTORS: usize = 256;

/// Bytes of one Ethereum header (RLP): a Prague header is about 600 bytes.
pub type MaxEvmHeaderBytes = typenum::U1024;
/// [`MaxEvmHeaderBytes`] as a number.
pub const MAX_EVM_HEADER_BYTES: usize = 1024;

/// Highest gas limit of an `evm` block whose parent header is not known (the first block after
/// an anchor given without its header): execution is bounded by gas, and no parent bounds its
/// gas limit, so this bounds its work (mainnet's is 45M in 2026; 2^30 leaves headroom). Every
/// other block's gas limit is bounded by its parent's, checked before it is executed.
pub const MAX_EVM_GAS_LIMIT: u64 = 1 << 30;

#[cfg(test)]
mod tests {
    use super::*;
    use ssz_types::typenum::Unsigned;

    #[test]
    fn type_level_limits_match_their_numbers() {
        assert_eq!(MaxTransactionsPerBlob::USIZE, MAX_TRANSACTIONS_PER_BLOB);
        assert_eq!(MaxWitnessLeaves::USIZE, MAX_WITNESS_LEAVES);
        assert_eq!(MaxSiblings::USIZE, MAX_SIBLINGS);
        assert_eq!(MaxBlobsPerBlock::USIZE, MAX_BLOBS_PER_BLOCK);
        assert_eq!(MaxCreditsPerBlob::USIZE, MAX_CREDITS_PER_BLOB);
        assert_eq!(MaxModels::USIZE, MAX_MODELS);
        assert_eq!(MaxZkKeys::USIZE, MAX_ZK_KEYS);
        assert_eq!(MaxAllocationAccounts::USIZE, MAX_ALLOCATION_ACCOUNTS);
        assert_eq!(MaxBatchTransactions::USIZE, MAX_BATCH_TRANSACTIONS);
        assert_eq!(MAX_SIBLINGS, MAX_WITNESS_LEAVES * MAX_TREE_DEPTH as usize);
        assert_eq!(MaxMmrPathHashes::USIZE, MAX_MMR_PATH_HASHES);
        assert_eq!(MaxMmrPeaks::USIZE, MAX_MMR_PEAKS);
        assert_eq!(MaxListPathHashes::USIZE, MAX_LIST_PATH_HASHES);
        assert_eq!(MaxAccountPathSiblings::USIZE, MAX_ACCOUNT_PATH_SIBLINGS);
        assert_eq!(MAX_ACCOUNT_PATH_SIBLINGS, MAX_TREE_DEPTH as usize);
        assert_eq!(MaxSpanSteps::USIZE, MAX_SPAN_STEPS);
        assert_eq!(MaxEvmBlockBytes::USIZE, MAX_EVM_BLOCK_BYTES);
        assert_eq!(MaxEvmNodeBytes::USIZE, MAX_EVM_NODE_BYTES);
        assert_eq!(MaxEvmProofNodes::USIZE, MAX_EVM_PROOF_NODES);
        assert_eq!(MaxEvmNodes::USIZE, MAX_EVM_NODES);
        assert_eq!(MaxEvmCodeBytes::USIZE, MAX_EVM_CODE_BYTES);
        assert_eq!(MaxEvmCodes::USIZE, MAX_EVM_CODES);
        assert_eq!(MaxEvmAncestors::USIZE, MAX_EVM_ANCESTORS);
        assert_eq!(MaxEvmHeaderBytes::USIZE, MAX_EVM_HEADER_BYTES);
    }
}
