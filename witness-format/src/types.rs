//! The wire types. Field order is encoding order; `docs/FORMAT.md` gives the bytes.

use serde::{Deserialize, Serialize};
use ssz_derive::{Decode, Encode};
use ssz_types::{BitList, VariableList};

use crate::bytes::{Bytes, Hash32, PublicKey, Signature};
use crate::limits::{
    MaxAccountPathSiblings, MaxAggregateBytes, MaxAllocationAccounts, MaxBatchTransactions,
    MaxBlobsPerBlock, MaxCreditsPerBlob, MaxEvmAncestors, MaxEvmBlockBytes, MaxEvmCodeBytes,
    MaxEvmCodes, MaxEvmHeaderBytes, MaxEvmNodeBytes, MaxEvmNodes, MaxEvmProofNodes,
    MaxListPathHashes, MaxMmrPathHashes, MaxMmrPeaks, MaxModels, MaxSiblings, MaxSpanSteps,
    MaxTransactionsPerBlob, MaxWitnessLeaves, MaxZkKeys,
};

/// An execution model: one kind of state with its own rules and state root.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Serialize, Deserialize,
)]
#[ssz(enum_behaviour = "tag")]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// Accounts in a SHA3-256 sparse Merkle tree, Ed25519 signatures, Merkle witnesses.
    Transfer,
    /// Accounts in a Poseidon sparse Merkle tree, Schnorr signatures over Jubjub, Merkle or zk
    /// (Groth16) witnesses.
    ZkTransfer,
    /// Ethereum: Merkle Patricia tries, secp256k1 signatures, blocks executed by an EVM against
    /// a witness of trie nodes and codes.
    Evm,
}

impl Model {
    /// Every model, in ascending (genesis) order.
    pub const ALL: [Model; 3] = [Model::Transfer, Model::ZkTransfer, Model::Evm];

    /// The models whose accounts are numbered leaves of a sparse tree (the prover's workloads,
    /// the bridge), in ascending order.
    pub const NUMBERED: [Model; 2] = [Model::Transfer, Model::ZkTransfer];

    /// The model's name as users type it.
    pub fn name(self) -> &'static str {
        match self {
            Model::Transfer => "transfer",
            Model::ZkTransfer => "zk-transfer",
            Model::Evm => "evm",
        }
    }
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A signed transfer of `amount` from account `from` to account `to`.
///
/// Fixed size: 128 bytes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct Transaction {
    /// Sender's account number.
    pub from: u64,
    /// Receiver's account number.
    pub to: u64,
    /// Value moved.
    pub amount: u64,
    /// The sender's nonce before this transaction.
    pub nonce: u64,
    /// The receiver's public key when this transaction creates the receiver's account, and all
    /// zero otherwise.
    pub new_account_key: PublicKey,
    /// The sender's signature over the transaction's signing message.
    pub signature: Signature,
}

/// One account as stored in a tree leaf. An all-zero public key means the slot is empty.
///
/// Fixed size: 48 bytes on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct AccountLeaf {
    /// The owner's public key; all zero for an empty slot.
    pub public_key: PublicKey,
    /// Balance.
    pub balance: u64,
    /// Number of transactions the owner has sent.
    pub nonce: u64,
}

impl AccountLeaf {
    /// The empty slot: no owner, no balance, no nonce.
    pub const EMPTY: Self = Self {
        public_key: PublicKey::ZERO,
        balance: 0,
        nonce: 0,
    };

    /// Whether this slot holds no account.
    pub fn is_empty(&self) -> bool {
        self.public_key.is_zero()
    }
}

/// A Merkle multiproof of the pre-state of every account a blob touches.
///
/// The touched accounts are the senders and receivers of the blob's transactions, sorted and
/// deduplicated; `leaves` holds their pre-state in that order. `sibling_present` has one bit per
/// sibling the verifier needs, in canonical order (level by level from the leaves up, left to
/// right in each level): 1 when the hash is carried in `siblings`, 0 when it is the default hash
/// of an empty subtree.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct MerkleWitness {
    /// Pre-state of each touched account, in ascending account order.
    pub leaves: VariableList<AccountLeaf, MaxWitnessLeaves>,
    /// Which needed siblings are carried (1) and which are empty subtrees (0).
    pub sibling_present: BitList<MaxSiblings>,
    /// The carried sibling hashes, in canonical order.
    pub siblings: VariableList<Hash32, MaxSiblings>,
}

/// Length of a zk proof: a Groth16 proof over BLS12-381, uncompressed (A and C in G1, 96 bytes
/// each, B in G2, 192 bytes): a verifier decodes it without square roots.
pub const ZK_PROOF_BYTES: usize = 384;

/// A Groth16 proof that the blob's transactions move its pre-state root to its post-state root
/// (`zk-transfer`). Its public inputs are computed by the verifier from the blob itself.
///
/// Fixed size: 384 bytes on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ZkWitness {
    /// The proof: A (G1), B (G2), C (G1), arkworks' canonical uncompressed encoding.
    pub proof: Bytes<ZK_PROOF_BYTES>,
}

/// The witness of a blob of credits (cross-model messages, `docs/CROSS_MODEL.md`): every
/// transaction of the blob is a credit, and each comes with the history proof of the receipt it
/// credits: the other model's bridge leaf at an earlier height.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct CreditWitness {
    /// Pre-state leaves plus a multiproof, as for any Merkle witness.
    pub merkle: MerkleWitness,
    /// One history proof per transaction, in order.
    pub receipts: VariableList<HistoryProof, MaxCreditsPerBlob>,
}

/// What a blob carries to let a stateless verifier check it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[ssz(enum_behaviour = "union")]
#[serde(rename_all = "snake_case")]
pub enum Witness {
    /// Pre-state leaves plus a multiproof.
    Merkle(MerkleWitness),
    /// A zk proof (Groth16).
    Zk(ZkWitness),
    /// Pre-state leaves plus a multiproof, and the receipts a blob of credits credits.
    Credits(CreditWitness),
    /// An Ethereum block with the trie nodes, codes and ancestor hashes it reads (`evm`).
    Evm(EvmWitness),
    /// An Ethereum block that pays in credits from numbered models, with its receipts (`evm`
    /// on a chain it shares with them).
    EvmCredits(EvmCreditWitness),
}

/// The witness of an `evm` blob whose block pays in credits from numbered models (its
/// withdrawals): the block's witness, and one receipt per credit, in the withdrawals' order,
/// each the source model's channel leaf with the credited `evm` account at the height before.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct EvmCreditWitness {
    /// The block and what executing it reads.
    pub evm: EvmWitness,
    /// One history proof per credit, in order.
    pub receipts: VariableList<HistoryProof, MaxCreditsPerBlob>,
}

/// A byte string of at most `N` bytes (an RLP item, a contract code), hex in JSON.
pub type ByteList<N> = VariableList<u8, N>;

/// One Ethereum block and what a stateless client needs to execute it (`evm`): the blob's
/// transactions are the block's own, so the blob's `transactions` list is empty.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct EvmWitness {
    /// The block, RLP-encoded as Ethereum's network encodes it (header, transactions, ommers,
    /// withdrawals).
    #[serde(with = "ssz_types::serde_utils::hex_var_list")]
    pub block: ByteList<MaxEvmBlockBytes>,
    /// Trie nodes (RLP) of the account trie and the storage tries, together, in any order.
    #[serde(with = "ssz_types::serde_utils::list_of_hex_var_list")]
    pub nodes: VariableList<ByteList<MaxEvmNodeBytes>, MaxEvmNodes>,
    /// Contract codes the block runs, in any order.
    #[serde(with = "ssz_types::serde_utils::list_of_hex_var_list")]
    pub codes: VariableList<ByteList<MaxEvmCodeBytes>, MaxEvmCodes>,
    /// Hashes of the block's ancestors, parent first, as far back as `BLOCKHASH` reads.
    pub ancestor_hashes: VariableList<Hash32, MaxEvmAncestors>,
}

impl Witness {
    /// The Ethereum block's witness of an `evm` blob's witness (with credits or not).
    pub fn evm(&self) -> Option<&EvmWitness> {
        match self {
            Witness::Evm(witness) => Some(witness),
            Witness::EvmCredits(witness) => Some(&witness.evm),
            _ => None,
        }
    }

    /// The witness kind's name as users type it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Witness::Merkle(_) => "merkle",
            Witness::Zk(_) => "zk",
            Witness::Credits(_) => "credits",
            Witness::Evm(_) => "evm",
            Witness::EvmCredits(_) => "evm-credits",
        }
    }
}

/// One model's transactions, the state roots they move between, and the witness.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct Blob {
    /// The execution model whose rules apply.
    pub model: Model,
    /// The model's state root before the blob.
    pub pre_state_root: Hash32,
    /// The model's state root after the blob.
    pub post_state_root: Hash32,
    /// Transactions, applied in order.
    pub transactions: VariableList<Transaction, MaxTransactionsPerBlob>,
    /// Evidence that the transactions move `pre_state_root` to `post_state_root`.
    pub witness: Witness,
}

/// A model's state root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ModelRoot {
    /// The model.
    pub model: Model,
    /// Its state root.
    pub root: Hash32,
}

/// A block header.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct Header {
    /// Distance from genesis; the first block has height 1.
    pub height: u64,
    /// Hash of the previous header (of the genesis for height 1).
    pub parent_hash: Hash32,
    /// Root of the Merkle Mountain Range over the hashes of all earlier headers, genesis first.
    pub history_root: Hash32,
    /// Merkle root over the commitments of this block's blobs.
    pub blobs_root: Hash32,
    /// Each model's state root after this block, in the genesis order of models.
    pub state_roots: VariableList<ModelRoot, MaxModels>,
}

/// A header and its blobs.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The blobs, in order.
    pub blobs: VariableList<Blob, MaxBlobsPerBlock>,
}

/// The chain's trust anchor: its parameters and each model's initial state root.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct Genesis {
    /// Separates signatures of this chain from every other chain's.
    pub chain_id: u64,
    /// Depth of every model's state tree.
    pub tree_depth: u8,
    /// The models hosted, each with its initial state root.
    pub state_roots: VariableList<ModelRoot, MaxModels>,
    /// The verifying keys zk proofs may be checked under, by hash; empty when the chain takes no
    /// zk witnesses.
    pub zk_keys: VariableList<ZkKeyPin, MaxZkKeys>,
    /// Where an `evm` model's chain starts; `None` on a chain without one.
    pub evm: Option<EvmAnchor>,
    /// The aggregation SRS spans of this chain may be aggregated under, by the hash of its
    /// verifier's key (`docs/ZK.md`, "Aggregated spans"); `None` when the chain pins none.
    pub zk_srs: Option<Hash32>,
}

/// The fork schedule an `evm` chain executes under.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Serialize, Deserialize,
)]
#[ssz(enum_behaviour = "tag")]
#[serde(rename_all = "kebab-case")]
pub enum EvmSchedule {
    /// The published schedule of the genesis' chain id (mainnet 1, Sepolia 11155111, Holesky
    /// 17000): imported real chains.
    Published,
    /// Every fork up to Cancun active from the first block (Ethereum's test suite, `Cancun`).
    Cancun,
    /// Every fork up to Prague active from the first block (`Prague`).
    Prague,
}

/// The Ethereum block an `evm` chain starts from: its state root is the model's genesis root.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct EvmAnchor {
    /// The fork schedule.
    pub schedule: EvmSchedule,
    /// The anchor block's number; the chain's first block is the next.
    pub number: u64,
    /// The anchor block's hash.
    pub hash: Hash32,
    /// Hashes of the anchor and its ancestors, the anchor first (what `BLOCKHASH` may read from
    /// the first blocks); empty or starting with `hash`.
    pub ancestor_hashes: VariableList<Hash32, MaxEvmAncestors>,
    /// The anchor's header (RLP), or empty when not known: then the first block's checks
    /// against its parent header are skipped.
    #[serde(with = "ssz_types::serde_utils::hex_var_list")]
    pub header: ByteList<MaxEvmHeaderBytes>,
}

/// A pinned `zk-transfer` verifying key: the circuit for batches of up to `batch` transactions
/// on the chain's tree depth, and the hash of its verifying key.
///
/// Fixed size: 34 bytes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ZkKeyPin {
    /// Transaction slots of the circuit (a blob may have fewer; the proof pads them).
    pub batch: u16,
    /// SHA3-256 of the verifying key's canonical compressed encoding.
    pub vk_hash: Hash32,
}

/// Prover input: the initial accounts of a model, numbered from 0.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct Allocation {
    /// The chain these accounts belong to.
    pub chain_id: u64,
    /// Depth of the state tree.
    pub tree_depth: u8,
    /// The model whose state this is.
    pub model: Model,
    /// Account `i` is `accounts[i]`.
    pub accounts: VariableList<AccountLeaf, MaxAllocationAccounts>,
}

/// Prover input: the transactions submitted for one block, in order.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct TransactionBatch {
    /// The model the transactions are for.
    pub model: Model,
    /// The transactions.
    pub transactions: VariableList<Transaction, MaxBatchTransactions>,
}

/// A fact about a chain's past and the evidence that one trusted header, the *tip*, commits to
/// it: checkable with the tip alone, with no other header and no replayed history.
///
/// Every fact rests on an anchor: the genesis or a header at some height `i`. The tip's
/// `history_root` is the Merkle Mountain Range over leaves `0 .. tip_height` (leaf 0 is the
/// genesis hash, leaf `h` the hash of header `h`), so an anchor below the tip is shown by the
/// path from its leaf up to its peak plus the other peaks. An anchor at the tip's own height must
/// be the tip itself, and then both lists are empty. From the anchor, the fact goes down by
/// ordinary Merkle paths: to a blob, a transaction, or an account leaf.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct HistoryProof {
    /// The tip's height: the number of leaves its history root covers.
    pub tip_height: u64,
    /// Sibling hashes from the anchor's leaf up to its peak, bottom up.
    pub peak_path: VariableList<Hash32, MaxMmrPathHashes>,
    /// The hashes of every other peak, highest first.
    pub other_peaks: VariableList<Hash32, MaxMmrPeaks>,
    /// What is proven, with what it needs below the anchor.
    pub fact: HistoryFact,
}

/// The point of the chain a history fact hangs from: the genesis (height 0) or a header.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[ssz(enum_behaviour = "union")]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// The genesis: leaf 0 of the history accumulator, and the state at height 0.
    Genesis(Genesis),
    /// The header at its height: leaf `height` of the history accumulator.
    Header(Header),
}

/// What a [`HistoryProof`] proves.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[ssz(enum_behaviour = "union")]
#[serde(rename_all = "snake_case")]
pub enum HistoryFact {
    /// The anchor itself is in the tip's chain: an ancestor (or the tip).
    Anchor(Anchor),
    /// A blob of a block, by its commitment.
    Blob(BlobFact),
    /// A transaction of a blob of a block.
    Transaction(TransactionFact),
    /// The leaf of an account in a model's state after a block (or at genesis).
    Account(AccountFact),
    /// What the `evm` model's bridge contract recorded as sent to an account of another model,
    /// after a block (or at genesis): the receipt of a credit from `evm`.
    EvmChannel(EvmChannelFact),
}

/// The commitment of one blob of a block and its path under the header's `blobs_root`.
///
/// The commitment is not sent: its pre-image is, so the verifier learns the blob's model, state
/// roots and transaction root, and hashes them itself.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct BlobInclusion {
    /// Index of the blob in its block.
    pub index: u64,
    /// Number of blobs in the block (the count the blob root commits to).
    pub count: u64,
    /// The blob's model.
    pub model: Model,
    /// The model's state root before the blob.
    pub pre_state_root: Hash32,
    /// The model's state root after the blob.
    pub post_state_root: Hash32,
    /// The root over the blob's transactions.
    pub transactions_root: Hash32,
    /// Sibling hashes from the commitment up to the blob tree's root, bottom up.
    pub path: VariableList<Hash32, MaxListPathHashes>,
}

/// A blob of the block of `header`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct BlobFact {
    /// The block's header: the anchor (blocks have blobs, the genesis has none).
    pub header: Header,
    /// The blob.
    pub blob: BlobInclusion,
}

/// One transaction of a blob and its path under the blob's `transactions_root`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct TransactionInclusion {
    /// Index of the transaction in its blob.
    pub index: u64,
    /// Number of transactions in the blob (the count the transaction root commits to).
    pub count: u64,
    /// The transaction.
    pub transaction: Transaction,
    /// Sibling hashes from the transaction's hash up to the transaction tree's root, bottom up.
    pub path: VariableList<Hash32, MaxListPathHashes>,
}

/// A transaction of a blob of the block of `header`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct TransactionFact {
    /// The block's header: the anchor.
    pub header: Header,
    /// The blob holding the transaction.
    pub blob: BlobInclusion,
    /// The transaction.
    pub transaction: TransactionInclusion,
}

/// The leaf of `account` in `model`'s state tree as the anchor's state root commits to it.
///
/// The path has the same compression as a multiproof: one bit per level, bottom up (the tree's
/// depth is the bitmap's length), 1 when the sibling hash is carried in `siblings`, 0 when it is
/// the default hash of an empty subtree; a carried default is invalid.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct AccountFact {
    /// The genesis (state at height 0) or the header (state after its block).
    pub anchor: Anchor,
    /// The model whose state root is used.
    pub model: Model,
    /// The account number.
    pub account: u64,
    /// The account's leaf; 48 zero bytes for an empty slot.
    pub leaf: AccountLeaf,
    /// One bit per level: whether the sibling is carried (1) or an empty subtree (0).
    pub sibling_present: BitList<MaxAccountPathSiblings>,
    /// The carried sibling hashes, bottom up.
    pub siblings: VariableList<Hash32, MaxAccountPathSiblings>,
}

/// The total the `evm` model's bridge contract recorded as sent to `account` of `model`, in the
/// `evm` state after the anchor: the contract's storage slot for that channel, proven by the
/// trie nodes from the `evm` state root down (the contract account's path in the account trie,
/// then the slot's in its storage trie), in any order.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct EvmChannelFact {
    /// The genesis (state at height 0) or the header (state after its block).
    pub anchor: Anchor,
    /// The model the value was sent to.
    pub model: Model,
    /// The account of that model.
    pub account: u64,
    /// The sent total, in units of that model (gwei of ether).
    pub sent: u64,
    /// The trie nodes (RLP) proving it.
    #[serde(with = "ssz_types::serde_utils::list_of_hex_var_list")]
    pub nodes: VariableList<ByteList<MaxEvmNodeBytes>, MaxEvmProofNodes>,
}

/// Length of a `zk-transfer` verifying key in arkworks' canonical compressed encoding: alpha
/// (G1, 48 bytes), beta, gamma and delta (G2, 96 bytes each), then the public-input bases as a
/// list (an 8-byte length and six G1 points: the circuit has exactly five public inputs, and
/// the list holds one base more): 48 + 3·96 + 8 + 6·48.
pub const ZK_VERIFYING_KEY_BYTES: usize = 632;

/// A `zk-transfer` verifying key, carried so that a [`SpanProof`] needs no other file. It is
/// trusted only through its hash, which the genesis pins.
///
/// Fixed size: 632 bytes on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ZkVerifyingKey {
    /// The key: arkworks' canonical compressed encoding.
    pub key: Bytes<ZK_VERIFYING_KEY_BYTES>,
}

/// One `zk-transfer` blob of a span with a zk witness, reduced to what its proof's public inputs
/// need: the roots it moves between, the commitment to its transactions and their number, not
/// the transactions.
///
/// Fixed size: 290 bytes on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ProvenStep {
    /// The `zk-transfer` state root before the blob (a canonical field element).
    pub pre_state_root: Hash32,
    /// The `zk-transfer` state root after the blob (a canonical field element).
    pub post_state_root: Hash32,
    /// The Poseidon commitment to the blob's transactions and signatures (a canonical field
    /// element), a public input of the proof.
    pub transaction_commitment: Hash32,
    /// The number of the blob's transactions: a public input of the proof, and it picks the
    /// pinned key the proof is checked under, as for the blob itself.
    pub transactions: u16,
    /// The blob's Groth16 proof.
    pub proof: Bytes<ZK_PROOF_BYTES>,
}

/// One `zk-transfer` blob of a span with no proof to carry (a Merkle witness, or a blob of
/// credits): the blob whole, shown to be a blob of a block in the tip's history, checked with
/// the model's native rules in the context of that block (a credit's receipt is checked against
/// that block's history).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ExecutedStep {
    /// The blob as an ancestor's blob (fact: a blob): its block's header, its model, roots and
    /// transaction root.
    pub inclusion: HistoryProof,
    /// The blob's transactions (their root must be the one `inclusion` proves).
    pub transactions: VariableList<Transaction, MaxTransactionsPerBlob>,
    /// The blob's witness.
    pub witness: Witness,
}

/// One `zk-transfer` blob of a span, in chain order.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[ssz(enum_behaviour = "union")]
#[serde(rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "proven steps, the common case, are stored inline; executed ones are large and rare"
)]
pub enum SpanStep {
    /// A blob with a zk witness: its proof, checked with the others in one batched pairing
    /// check, executing nothing.
    Proven(ProvenStep),
    /// A blob without a proof: executed with the native rules. Behind a pointer so that a list
    /// of mostly proven steps costs each step the size of a proven one.
    Executed(std::sync::Arc<ExecutedStep>),
}

/// One blob to prove, as a proving farm's coordinator hands it to a worker
/// (`docs/FARM.md`): the blob with its Merkle witness (everything the circuit's witness is
/// built from), the verifying key the proof must be under and the model's reserved bits (a
/// public input). The worker replaces the Merkle witness by a proof; the coordinator checks
/// that proof with the verifier before it goes into a block.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ProvingJob {
    /// SHA3-256 of the verifying key (as the genesis pins it) the proof must be under.
    pub vk_hash: Hash32,
    /// The high bits of account numbers reserved to the bridge (a public input of the proof).
    pub reserved_bits: u8,
    /// The `zk-transfer` blob, with a Merkle witness of its pre-state.
    pub blob: Blob,
}

/// Length of an aggregation SRS's verifier key: the most proofs it serves (u32 LE), then
/// `g, a·g, b·g` (G1, 48 bytes each) and `h, a·h, b·h` (G2, 96 bytes each), compressed.
pub const AGGREGATION_SRS_KEY_BYTES: usize = 436;

/// The validity of a chain's `zk-transfer` state from a checkpoint *A* to a later header *B*
/// in one aggregate proof: every `zk-transfer` blob in between has a zk proof, all under the
/// one key the genesis pins, and the aggregate shows that their statements chain from *A*'s
/// root to *B*'s (`docs/ZK.md`, "Aggregated spans"), without the roots in between.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct AggregateSpanProof {
    /// The genesis as an ancestor of the tip (fact: the genesis anchor).
    pub genesis: HistoryProof,
    /// Checkpoint *A* as an ancestor of the tip (fact: the genesis or a header anchor).
    pub from: HistoryProof,
    /// *B* as the tip or an ancestor of it (fact: a header anchor).
    pub to: HistoryProof,
    /// The verifying key every proof is under: the genesis pins exactly this one.
    pub zk_key: ZkVerifyingKey,
    /// The aggregation SRS's verifier key, pinned by hash in the genesis.
    pub srs_key: Bytes<AGGREGATION_SRS_KEY_BYTES>,
    /// The number of blobs (proofs) aggregated, at least 1.
    pub proofs: u32,
    /// The aggregate proof (`docs/FORMAT.md` section 12): its length is fixed by `proofs`.
    #[serde(with = "ssz_types::serde_utils::hex_var_list")]
    pub aggregate: VariableList<u8, MaxAggregateBytes>,
}

/// The validity of a chain's `zk-transfer` state from a checkpoint *A* to a later header *B*:
/// every `zk-transfer` blob in between, as a proof and its public data (a blob with a zk
/// witness) or as the blob itself (one without), checked without any other file than one
/// trusted header, the tip, and without executing a proven blob's transactions.
///
/// The three history proofs hang the genesis (chain id and pinned keys), *A* (the genesis or a
/// header) and *B* (a header) from the tip's history; *B* may be the tip itself. The steps are
/// the `zk-transfer` blobs of blocks `A.height + 1 ..= B.height`, in chain order: their roots
/// must chain from *A*'s `zk-transfer` root to *B*'s.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct SpanProof {
    /// The genesis as an ancestor of the tip (fact: the genesis anchor).
    pub genesis: HistoryProof,
    /// Checkpoint *A* as an ancestor of the tip (fact: the genesis or a header anchor).
    pub from: HistoryProof,
    /// *B* as the tip or an ancestor of it (fact: a header anchor).
    pub to: HistoryProof,
    /// The verifying keys the steps are checked under, each pinned in the genesis, ascending
    /// by the batch size they are pinned for.
    pub zk_keys: VariableList<ZkVerifyingKey, MaxZkKeys>,
    /// The `zk-transfer` blobs after *A* up to *B*, in chain order.
    pub steps: VariableList<SpanStep, MaxSpanSteps>,
}
