//! Rejections: where (block, blob, transaction) and why.

use thiserror::Error;
use witness_format::{DecodeError, Hash32, Model};

use witness_format::limits::MAX_TREE_DEPTH;

use crate::accumulator::MmrProofError;
use crate::evm::{EvmError, LinkError};
use crate::hash::ListPathError;
use crate::zk_transfer::groth16::ZkVerifyError;

/// Where in a chain a rejection happened. Unset parts are not known or not relevant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// Block height.
    pub block: Option<u64>,
    /// Blob index within the block.
    pub blob: Option<usize>,
    /// Transaction index within the blob.
    pub transaction: Option<usize>,
}

/// A rejection of a chain, block, blob or transaction.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{}{reason}", location_prefix(.location))]
pub struct VerifyError {
    /// Where.
    pub location: Location,
    /// Why.
    pub reason: Reason,
}

fn location_prefix(location: &Location) -> String {
    let mut parts = Vec::new();
    if let Some(block) = location.block {
        parts.push(format!("block {block}"));
    }
    if let Some(blob) = location.blob {
        parts.push(format!("blob {blob}"));
    }
    if let Some(transaction) = location.transaction {
        parts.push(format!("transaction {transaction}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{}: ", parts.join(", "))
    }
}

impl VerifyError {
    /// A rejection with no location yet; callers add what they know with the `at_*` methods.
    pub fn new(reason: Reason) -> Self {
        Self {
            location: Location::default(),
            reason,
        }
    }

    /// Sets the block height.
    pub fn at_block(mut self, height: u64) -> Self {
        self.location.block = Some(height);
        self
    }

    /// Sets the blob index.
    pub fn at_blob(mut self, index: usize) -> Self {
        self.location.blob = Some(index);
        self
    }

    /// Sets the transaction index.
    pub fn at_transaction(mut self, index: usize) -> Self {
        self.location.transaction = Some(index);
        self
    }
}

impl From<Reason> for VerifyError {
    fn from(reason: Reason) -> Self {
        Self::new(reason)
    }
}

/// Why something was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Reason {
    // --- Bytes ---
    /// The bytes do not decode.
    #[error("undecodable: {0}")]
    Decode(#[from] DecodeError),

    // --- Transactions ---
    /// An account number does not fit the tree.
    #[error("account {account} is outside a tree of depth {depth}")]
    AccountOutOfRange {
        /// The account number.
        account: u64,
        /// The tree depth.
        depth: u8,
    },
    /// The signature does not verify under the sender's key for this chain and model.
    #[error("invalid signature")]
    BadSignature,
    /// The sender's slot is empty.
    #[error("sender account {account} does not exist")]
    SenderMissing {
        /// The sender's account number.
        account: u64,
    },
    /// The nonce is not the sender's current nonce.
    #[error("nonce {found} does not match the sender's nonce {expected}")]
    NonceMismatch {
        /// The account's nonce.
        expected: u64,
        /// The transaction's nonce.
        found: u64,
    },
    /// The sender cannot pay.
    #[error("amount {amount} exceeds the sender's balance {balance}")]
    InsufficientBalance {
        /// The sender's balance.
        balance: u64,
        /// The amount.
        amount: u64,
    },
    /// Crediting the receiver overflows its balance.
    #[error("receiver balance {balance} plus amount {amount} overflows")]
    BalanceOverflow {
        /// The receiver's balance.
        balance: u64,
        /// The amount.
        amount: u64,
    },
    /// The sender's nonce is at its maximum.
    #[error("sender nonce overflows")]
    NonceOverflow,
    /// A transfer to an empty slot does not carry the new owner's key.
    #[error("transfer to empty account {account} carries no key for the new owner")]
    MissingNewAccountKey {
        /// The receiver's account number.
        account: u64,
    },
    /// A transfer to an existing account carries a new-owner key.
    #[error("transfer to existing account {account} carries a new-owner key")]
    UnexpectedNewAccountKey {
        /// The receiver's account number.
        account: u64,
    },

    // --- Blobs and witnesses ---
    /// The blob has no transactions.
    #[error("blob has no transactions")]
    EmptyBlob,
    /// The model is not hosted by this chain.
    #[error("model {model} is not in the genesis")]
    UnknownModel {
        /// The model.
        model: Model,
    },
    /// The witness does not carry one leaf per touched account.
    #[error("witness carries {found} leaves, the transactions touch {expected} accounts")]
    LeafCountMismatch {
        /// Accounts touched.
        expected: usize,
        /// Leaves carried.
        found: usize,
    },
    /// An empty leaf (zero key) with a non-zero balance or nonce.
    #[error("witness leaf {index} has no owner but a non-zero balance or nonce")]
    NonCanonicalEmptyLeaf {
        /// Index among the witness leaves.
        index: usize,
    },
    /// The sibling bitmap does not have one bit per needed sibling.
    #[error("witness marks {found} sibling positions, the proof needs {expected}")]
    SiblingPositionsMismatch {
        /// Positions needed.
        expected: usize,
        /// Positions marked.
        found: usize,
    },
    /// The bitmap and the sibling list disagree on how many hashes are carried.
    #[error("witness carries {found} sibling hashes, its bitmap promises {expected}")]
    SiblingCountMismatch {
        /// Hashes promised by the bitmap.
        expected: usize,
        /// Hashes carried.
        found: usize,
    },
    /// A carried sibling equals the default hash it could have been left out for.
    #[error("sibling {position} is an empty-subtree hash and must be left out")]
    DefaultSiblingCarried {
        /// Position among the needed siblings.
        position: usize,
    },
    /// The witness does not prove the claimed pre-state root.
    #[error("witness proves pre-state root {computed}, blob claims {claimed}")]
    PreStateRootMismatch {
        /// Root computed from the witness.
        computed: Hash32,
        /// Root in the blob.
        claimed: Hash32,
    },
    /// Applying the transactions does not give the claimed post-state root.
    #[error("transactions give post-state root {computed}, blob claims {claimed}")]
    PostStateRootMismatch {
        /// Root computed after applying the transactions.
        computed: Hash32,
        /// Root in the blob.
        claimed: Hash32,
    },

    // --- zk-transfer ---
    /// The model does not take this kind of witness.
    #[error("model {model} does not take {witness} witnesses")]
    WitnessNotSupported {
        /// The blob's model.
        model: Model,
        /// The witness kind (`merkle`, `zk`).
        witness: &'static str,
    },
    /// A transaction carries a non-zero new-owner key that is not a valid public key of its
    /// model: not the canonical encoding of a curve point of prime order (Ed25519 for
    /// `transfer`, Jubjub for `zk-transfer`). A key of small order could be signed for by anyone.
    #[error("the new-owner key is not a valid public key (a canonical point of prime order)")]
    InvalidNewAccountKey,
    /// A `zk-transfer` witness leaf holds a key that is not a valid Jubjub public key.
    #[error("witness leaf {index}: the key is not a valid Jubjub public key")]
    InvalidLeafKey {
        /// Index among the witness leaves.
        index: usize,
    },
    /// 32 bytes that must encode a field element of BLS12-381's scalar field do not.
    #[error("{what} is not a canonical field element")]
    NonCanonicalFieldElement {
        /// What the bytes were.
        what: &'static str,
    },
    /// No verifying key pinned in the genesis takes a batch of this many transactions.
    #[error("no pinned zk verifying key takes a batch of {transactions} transactions")]
    NoZkKeyForBatch {
        /// Transactions in the blob.
        transactions: usize,
    },
    /// The genesis pins a verifying key for this blob, but the verifier was not given it.
    #[error("the verifying key {vk_hash} (batch {batch}) pinned in the genesis was not loaded")]
    ZkKeyNotLoaded {
        /// The key's batch size.
        batch: u16,
        /// The pinned hash.
        vk_hash: Hash32,
    },
    /// A verifying key offered to the verifier is not pinned in the genesis.
    #[error("verifying key {vk_hash} is not pinned in the genesis")]
    UnpinnedZkKey {
        /// The key's hash.
        vk_hash: Hash32,
    },
    /// A verifying key is unusable.
    #[error("zk verifying key: {0}")]
    ZkKey(ZkVerifyError),
    /// The zk proof does not decode or does not verify.
    #[error("zk proof: {0}")]
    ZkProof(ZkVerifyError),

    // --- Cross-model messages (docs/CROSS_MODEL.md) ---
    /// A bridge leaf (the upper half of a two-model chain's tree) named as a sender outside a
    /// blob of credits.
    #[error("account {account} is a bridge leaf: it only receives exits and records credits")]
    BridgeAccountSends {
        /// The bridge account.
        account: u64,
    },
    /// A zk blob touches a bridge leaf: exits and credits need Merkle witnesses.
    #[error("account {account} is a bridge leaf: a zk blob cannot exit or credit")]
    BridgeInZkBlob {
        /// The bridge account.
        account: u64,
    },
    /// A blob of credits checked without its block: its receipts need the block's history root.
    #[error("a blob of credits is checked within its block")]
    CreditsOutsideBlock,
    /// A blob of credits on a chain without a bridge (one that hosts a single model).
    #[error("credits need a chain of several models")]
    NoBridge,
    /// An `evm` blob of the form that pays in credits, with none (such a block is a plain
    /// `evm` blob: one form each).
    #[error("an evm blob with credits carries at least one receipt")]
    NoEvmCredits,
    /// A receipt of a credit into `evm` that is not a numbered model's channel leaf with an
    /// `evm` account.
    #[error("the receipt, {model} leaf {account}, is not a channel with the evm model")]
    ReceiptNotToEvm {
        /// The receipt's model.
        model: Model,
        /// Its leaf.
        account: u64,
    },
    /// A receipt from the `evm` model read from an account that does not hold the chain's
    /// bridge contract: its storage may have been written by anything.
    #[error(
        "the receipt's account at the bridge address holds code {code_hash:?}, not the chain's bridge contract"
    )]
    ReceiptNotFromBridge {
        /// The account's code hash (none: no account).
        code_hash: Option<Hash32>,
    },
    /// A receipt from the `evm` model of the channel with another account (or model) than the
    /// credit's.
    #[error(
        "the receipt is of the evm bridge's channel with {model} account {account}, not the credit's"
    )]
    ReceiptForOtherChannel {
        /// The model the receipt's channel is with.
        model: Model,
        /// The account.
        account: u64,
    },
    /// A leaf above the accounts that is no channel: its region belongs to no model.
    #[error("leaf {account} is in a region of no model: no exit or credit goes through it")]
    NoChannel {
        /// The leaf.
        account: u64,
    },
    /// A transaction of a blob of credits that is not a credit (its sender is no bridge leaf).
    #[error("account {account} is not a bridge leaf: a blob of credits holds only credits")]
    NotACredit {
        /// The sender.
        account: u64,
    },
    /// A credit's bridge leaf and receiver do not name the same account.
    #[error("bridge leaf {bridge_account} does not record credits to account {account}")]
    CreditToOtherAccount {
        /// The credit's sender (a bridge leaf).
        bridge_account: u64,
        /// The credit's receiver.
        account: u64,
    },
    /// A credit carries a new-owner key or a signature: credits have neither.
    #[error("a credit carries no new-owner key and no signature")]
    NonCanonicalCredit,
    /// The credit claims no more than what was already credited.
    #[error("receipt already consumed: {received} credited so far, the receipt says {sent} sent")]
    ReceiptAlreadyConsumed {
        /// The total the receipt shows sent.
        sent: u64,
        /// The total credited so far.
        received: u64,
    },
    /// A credit's amount is not what its receipt leaves to credit.
    #[error("credit of {found}, the receipt leaves {expected} to credit")]
    CreditAmountMismatch {
        /// Sent total less credited total.
        expected: u64,
        /// The credit's amount.
        found: u64,
    },
    /// A credit to an account that does not exist (credits create no account).
    #[error("account {account} does not exist: credits create no account")]
    CreditToEmptyAccount {
        /// The receiver.
        account: u64,
    },
    /// The blob of credits does not carry one receipt per credit.
    #[error("{found} receipts for {expected} credits")]
    ReceiptCountMismatch {
        /// Credits in the blob.
        expected: usize,
        /// Receipts carried.
        found: usize,
    },
    /// A receipt that proves something other than a bridge leaf's value.
    #[error("a receipt proves the value of an account: this one proves another fact")]
    ReceiptNotAnAccount,
    /// A receipt from another model than the one the credit's channel leaf is with.
    #[error("the credit's channel is with {model}, the receipt is of {found}")]
    ReceiptFromWrongModel {
        /// The model the channel leaf is with.
        model: Model,
        /// The receipt's model.
        found: Model,
    },
    /// A receipt not from a block before the crediting one.
    #[error("receipt of height {height}: a credit in block {block} needs an earlier one")]
    ReceiptNotEarlier {
        /// The receipt's height.
        height: u64,
        /// The crediting block's height.
        block: u64,
    },
    /// A receipt from an earlier block than the one just before the crediting block: a credit
    /// proves its receipt at the latest height, so each credit has one form.
    #[error(
        "receipt of height {height}: a credit in block {block} proves its receipt at height {expected}"
    )]
    ReceiptNotLatest {
        /// The receipt's height.
        height: u64,
        /// The crediting block's height.
        block: u64,
        /// The one height a receipt may have: the block before.
        expected: u64,
    },
    /// The credits of a blob are not in strictly ascending order of their bridge leaf: each
    /// account is credited at most once per blob, in one order.
    #[error("credits are not in strictly ascending order of their bridge leaf (account {account})")]
    CreditsOutOfOrder {
        /// The bridge leaf of the credit out of order.
        account: u64,
    },
    /// A receipt of another bridge leaf than the one the credit names.
    #[error("receipt of account {receipt_account}, credited as account {credit_account}")]
    ReceiptForOtherAccount {
        /// The account the receipt proves.
        receipt_account: u64,
        /// The credit's sender (the bridge leaf).
        credit_account: u64,
    },
    /// A credit whose nonce is not the sent total its receipt proves.
    #[error("credit claims {credit} sent in all, the receipt proves {receipt}")]
    ReceiptSentMismatch {
        /// The receipt's sent total.
        receipt: u64,
        /// The credit's nonce.
        credit: u64,
    },

    // --- Blocks and chains ---
    /// The genesis is unusable.
    #[error("invalid genesis: {0}")]
    InvalidGenesis(String),
    /// Heights do not count up by one from genesis.
    #[error("height {found}, expected {expected}")]
    HeightMismatch {
        /// The next height.
        expected: u64,
        /// The header's height.
        found: u64,
    },
    /// The header does not name the previous header as its parent.
    #[error("parent hash {found} is not the previous header's hash {expected}")]
    ParentHashMismatch {
        /// The previous header's hash.
        expected: Hash32,
        /// The header's parent hash.
        found: Hash32,
    },
    /// The history root is not the accumulator over all earlier headers.
    #[error("history root {found}, expected {expected}")]
    HistoryRootMismatch {
        /// Computed accumulator root.
        expected: Hash32,
        /// The header's history root.
        found: Hash32,
    },
    /// The blob root does not commit to the block's blobs.
    #[error("blob root {found}, the blobs commit to {expected}")]
    BlobsRootMismatch {
        /// Root over the blobs.
        expected: Hash32,
        /// The header's blob root.
        found: Hash32,
    },
    /// A blob does not start from its model's current state root.
    #[error("blob starts from {found}, the {model} state root is {expected}")]
    BlobDoesNotFollow {
        /// The model.
        model: Model,
        /// The model's current root.
        expected: Hash32,
        /// The blob's pre-state root.
        found: Hash32,
    },
    /// The header's state roots are not each model's root after the block.
    #[error("header state roots do not match the models' roots after the block")]
    HeaderStateRootsMismatch,

    // --- The evm model ---
    /// An `evm` block is invalid, or its witness lacks what it needs.
    #[error("{0}")]
    Evm(Box<EvmError>),
    /// An `evm` block does not follow the chain's last (header, ancestor hashes).
    #[error("{0}")]
    EvmLink(Box<LinkError>),
    /// An `evm` blob checked on its own: an Ethereum block is checked in its chain, after its
    /// header is linked to its parent's (which also bounds its gas, and so its execution).
    #[error("an evm block is checked in its chain, after its header is linked to its parent's")]
    EvmBlockNotLinked,
    /// An `evm` blob lists transactions of its own: its transactions are its block's.
    #[error("an evm blob's transactions are its block's; its transaction list must be empty")]
    TransactionsOutsideBlock,
    /// History proofs of account values are offered for numbered-account models only.
    #[error("history proofs of {model} account values are not supported")]
    AccountFactNotSupported {
        /// The model.
        model: Model,
    },

    // --- History proofs ---
    /// A history proof does not prove its fact against the tip.
    #[error("history proof: {0}")]
    HistoryProof(HistoryProofError),
}

/// Why a history proof is rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HistoryProofError {
    /// The `evm` state records another sent total for the channel than the fact.
    #[error("the evm bridge contract records {recorded} sent through the channel, the fact {fact}")]
    EvmChannelMismatch {
        /// What the state holds.
        recorded: String,
        /// What the fact claims.
        fact: u64,
    },
    /// The proof was made for a tip of another height.
    #[error("proof is for a tip at height {proof}, the tip given is at height {tip}")]
    TipHeightMismatch {
        /// The proof's tip height.
        proof: u64,
        /// The given tip's height.
        tip: u64,
    },
    /// The anchor's height is above the tip's, or a header claims height 0 (the genesis's).
    #[error("height {height} is not in the history of a tip at height {tip}")]
    NotInHistory {
        /// The anchor's height.
        height: u64,
        /// The tip's height.
        tip: u64,
    },
    /// An anchor at the tip's own height is not the tip.
    #[error("anchor hash {found} at the tip's height is not the tip's hash {expected}")]
    NotTheTip {
        /// The tip's hash.
        expected: Hash32,
        /// The anchor's hash.
        found: Hash32,
    },
    /// The ancestry proof has the wrong shape.
    #[error("ancestry proof: {0}")]
    AncestryShape(#[from] MmrProofError),
    /// The anchor and the ancestry proof do not lead to the tip's history root: the anchor is
    /// not an ancestor of the tip (another chain, a fork) or the proof was altered.
    #[error("ancestry proof leads to history root {computed}, the tip commits to {expected}")]
    NotAnAncestor {
        /// The tip's history root.
        expected: Hash32,
        /// The root the proof leads to.
        computed: Hash32,
    },
    /// The blob's path has the wrong shape or its index is out of range.
    #[error("blob path: {0}")]
    BlobPath(ListPathError),
    /// The blob and its path do not lead to the header's blob root.
    #[error("blob path leads to blob root {computed}, the header commits to {expected}")]
    BlobsRootMismatch {
        /// The header's blob root.
        expected: Hash32,
        /// The root the path leads to.
        computed: Hash32,
    },
    /// The transaction's path has the wrong shape or its index is out of range.
    #[error("transaction path: {0}")]
    TransactionPath(ListPathError),
    /// The transaction and its path do not lead to the blob's transaction root.
    #[error(
        "transaction path leads to transaction root {computed}, the blob commits to {expected}"
    )]
    TransactionsRootMismatch {
        /// The blob's transaction root.
        expected: Hash32,
        /// The root the path leads to.
        computed: Hash32,
    },
    /// The account path's bitmap does not have one bit per level of a valid tree.
    #[error("account path has {found} levels, not 1..={MAX_TREE_DEPTH}")]
    AccountPathDepth {
        /// Bits in the bitmap.
        found: usize,
    },
    /// A carried sibling of a `zk-transfer` path is not the canonical encoding of a field
    /// element (it is at or above the modulus).
    #[error("account path sibling {index} is not a canonical field element")]
    NonCanonicalSibling {
        /// Its index among the carried siblings.
        index: usize,
    },
    /// The leaf and its path do not lead to the anchor's state root.
    #[error("account path leads to state root {computed}, the anchor commits to {expected}")]
    StateRootMismatch {
        /// The anchor's state root for the model.
        expected: Hash32,
        /// The root the path leads to.
        computed: Hash32,
    },
}

impl From<HistoryProofError> for VerifyError {
    fn from(error: HistoryProofError) -> Self {
        VerifyError::new(Reason::HistoryProof(error))
    }
}
