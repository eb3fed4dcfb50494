//! Ethereum blocks with witnesses made elsewhere, turned into a chain directory
//! (`stateless evm import`): the anchor becomes the genesis, each block one block of one `evm`
//! blob. Nothing is executed here: `stateless verify` checks the chain like any other.
//!
//! The input (JSON; unknown keys, such as a `source` note, are ignored):
//! ```text
//! {"chain_id": 1,
//!  "schedule": "published",                      // optional; or "cancun", "prague"
//!  "anchor": {"number": N, "hash": "0x..", "state_root": "0x..",
//!             "ancestor_hashes": ["0x.." ...],   // up to 256, the anchor's own hash first
//!             "header": "0x.."},                 // optional: the anchor's header, RLP
//!  "blocks": [{"rlp": "0x..",                    // block N+1, then N+2, ...
//!              "witness": {"state": ["0x.."], "codes": ["0x.."],
//!                          "keys": [...], "headers": [...]}}]}   // keys, headers optional
//! ```
//! `witness` is also the shape `debug_executionWitness` returns: `headers`, when present, are
//! ancestor headers (RLP), from which the block's ancestor hashes are taken when the anchor
//! lists none; `keys` are not needed.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;
use verifier::accumulator::{HistoryAccumulator, blobs_root};
use verifier::hash::{blob_commitment, genesis_hash, header_hash};
use witness_format::limits::MAX_EVM_ANCESTORS;
use witness_format::ssz_types::VariableList;
use witness_format::{
    Blob, Block, EvmAnchor, EvmSchedule, EvmWitness, Genesis, Hash32, Header, Model, ModelRoot,
};

use crate::files::{FileError, block_path, genesis_path, read_limited, write_value};

/// The largest input file read: real blocks with witnesses are a few megabytes each.
pub const MAX_IMPORT_BYTES: u64 = 1 << 30;

/// Why an input cannot be imported.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file could not be read or the chain written.
    #[error(transparent)]
    File(#[from] FileError),
    /// The input is not the import format.
    #[error("not an import file: {0}")]
    Json(#[from] serde_json::Error),
    /// A value of the input is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// Hex bytes, `0x` prefix optional.
#[derive(Clone, Debug, Default)]
struct Hex(Vec<u8>);

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let digits = text.strip_prefix("0x").unwrap_or(&text);
        hex::decode(digits)
            .map(Hex)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Deserialize)]
struct Input {
    chain_id: u64,
    /// The fork schedule; by default the published one of `chain_id`.
    #[serde(default = "published")]
    schedule: EvmSchedule,
    anchor: AnchorInput,
    blocks: Vec<BlockInput>,
}

#[derive(Deserialize)]
struct AnchorInput {
    number: u64,
    hash: Hex,
    state_root: Hex,
    #[serde(default)]
    ancestor_hashes: Vec<Hex>,
    #[serde(default)]
    header: Option<Hex>,
}

#[derive(Deserialize)]
struct BlockInput {
    rlp: Hex,
    witness: WitnessInput,
}

#[derive(Deserialize)]
struct WitnessInput {
    #[serde(default)]
    state: Vec<Hex>,
    #[serde(default)]
    codes: Vec<Hex>,
    #[serde(default)]
    headers: Vec<Hex>,
}

/// An imported chain: its genesis and blocks.
#[derive(Clone, Debug)]
pub struct ImportedChain {
    /// The genesis: the anchor.
    pub genesis: Genesis,
    /// One block per Ethereum block, in order.
    pub blocks: Vec<Block>,
}

fn published() -> EvmSchedule {
    EvmSchedule::Published
}

fn invalid(what: impl Into<String>) -> ImportError {
    ImportError::Invalid(what.into())
}

fn hash32(hex: &Hex, what: &str) -> Result<Hash32, ImportError> {
    <[u8; 32]>::try_from(hex.0.as_slice())
        .map(Hash32::from)
        .map_err(|_| invalid(format!("{what} is {} bytes, not 32", hex.0.len())))
}

fn bounded<T, N: witness_format::ssz_types::typenum::Unsigned>(
    items: Vec<T>,
    what: &str,
) -> Result<VariableList<T, N>, ImportError> {
    let len = items.len();
    VariableList::new(items).map_err(|_| invalid(format!("{what}: {len} is over {}", N::USIZE)))
}

/// Reads the import file at `path` ([`MAX_IMPORT_BYTES`] at most).
pub fn read_import(path: &Path) -> Result<ImportedChain, ImportError> {
    let bytes = read_limited(path, MAX_IMPORT_BYTES)?;
    import(&bytes)
}

/// The chain the import file's bytes describe.
pub fn import(json: &[u8]) -> Result<ImportedChain, ImportError> {
    let input: Input = serde_json::from_slice(json)?;
    let anchor = &input.anchor;
    let anchor_hash = hash32(&anchor.hash, "anchor hash")?;
    let state_root = hash32(&anchor.state_root, "anchor state root")?;
    let mut ancestors = anchor
        .ancestor_hashes
        .iter()
        .map(|h| hash32(h, "an ancestor hash"))
        .collect::<Result<Vec<_>, _>>()?;
    if ancestors.is_empty()
        && let Some(first) = input.blocks.first()
    {
        ancestors = hashes_from_headers(anchor_hash, &first.witness.headers)?;
    }
    let genesis = Genesis {
        chain_id: input.chain_id,
        tree_depth: 0,
        state_roots: bounded(
            vec![ModelRoot {
                model: Model::Evm,
                root: state_root,
            }],
            "models",
        )?,
        zk_keys: VariableList::empty(),
        evm: Some(EvmAnchor {
            schedule: input.schedule,
            number: anchor.number,
            hash: anchor_hash,
            ancestor_hashes: bounded(ancestors.clone(), "anchor ancestor hashes")?,
            header: bounded(
                anchor.header.clone().unwrap_or_default().0,
                "anchor header bytes",
            )?,
        }),
        zk_srs: None,
    };

    let mut chain = EvmChainBuilder::new(genesis)?;
    for block in &input.blocks {
        chain.push(
            &block.rlp.0,
            block.witness.state.iter().map(|n| n.0.clone()).collect(),
            block.witness.codes.iter().map(|c| c.0.clone()).collect(),
            MAX_EVM_ANCESTORS,
        )?;
    }
    Ok(chain.finish())
}

/// The genesis of an `evm` chain anchored at the Ethereum block `header` (with its header, so
/// the first block gets every check against its parent) under `schedule`.
pub fn anchored_genesis(
    chain_id: u64,
    schedule: EvmSchedule,
    header: &alloy_consensus::Header,
) -> Result<Genesis, ImportError> {
    let hash = Hash32::from(header.hash_slow().0);
    Ok(Genesis {
        chain_id,
        tree_depth: 0,
        state_roots: bounded(
            vec![ModelRoot {
                model: Model::Evm,
                root: Hash32::from(header.state_root.0),
            }],
            "models",
        )?,
        zk_keys: VariableList::empty(),
        evm: Some(EvmAnchor {
            schedule,
            number: header.number,
            hash,
            ancestor_hashes: bounded(vec![hash], "anchor ancestor hashes")?,
            header: bounded(alloy_rlp::encode(header), "anchor header bytes")?,
        }),
        zk_srs: None,
    })
}

/// An `evm` chain assembled block by block: each Ethereum block becomes one block of one `evm`
/// blob, with the header fields our chain needs (height, parent, history root, blobs root,
/// state root) and the ancestor hashes its witness carries.
#[derive(Clone, Debug)]
pub struct EvmChainBuilder {
    genesis: Genesis,
    blocks: Vec<Block>,
    history: HistoryAccumulator,
    tip: Hash32,
    root: Hash32,
    /// The last Ethereum blocks' hashes, newest first.
    ancestors: Vec<Hash32>,
}

impl EvmChainBuilder {
    /// A chain at `genesis`, which must anchor an `evm` chain.
    pub fn new(genesis: Genesis) -> Result<Self, ImportError> {
        let anchor = genesis
            .evm
            .as_ref()
            .ok_or_else(|| invalid("the genesis has no evm anchor"))?;
        let mut ancestors = anchor.ancestor_hashes.to_vec();
        if ancestors.is_empty() {
            ancestors.push(anchor.hash);
        }
        let root = genesis
            .state_roots
            .iter()
            .find(|r| r.model == Model::Evm)
            .map(|r| r.root)
            .ok_or_else(|| invalid("the genesis has no evm state root"))?;
        let tip = genesis_hash(&genesis);
        let mut history = HistoryAccumulator::new();
        history.append(tip);
        Ok(Self {
            genesis,
            blocks: Vec::new(),
            history,
            tip,
            root,
            ancestors,
        })
    }

    /// The chain's genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The `evm` state root after the last block.
    pub fn state_root(&self) -> Hash32 {
        self.root
    }

    /// The hashes of the last Ethereum blocks, newest first (the anchor's and its ancestors'
    /// before any block).
    pub fn ancestors(&self) -> &[Hash32] {
        &self.ancestors
    }

    /// The blocks so far.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Appends the Ethereum block `rlp` with the witness `nodes` and `codes` and the newest
    /// `ancestors` hashes the chain knows; returns our block.
    pub fn push(
        &mut self,
        rlp: &[u8],
        nodes: Vec<Vec<u8>>,
        codes: Vec<Vec<u8>>,
        ancestors: usize,
    ) -> Result<&Block, ImportError> {
        let height = self.blocks.len() as u64 + 1;
        let blob = self
            .next_blob(rlp, nodes, codes, ancestors)
            .map_err(|e| invalid(format!("block {height}: {e}")))?;
        let header = Header {
            height,
            parent_hash: self.tip,
            history_root: self.history.root(),
            blobs_root: blobs_root(&[blob_commitment(&blob)]),
            state_roots: bounded(
                vec![ModelRoot {
                    model: Model::Evm,
                    root: blob.post_state_root,
                }],
                "models",
            )?,
        };
        self.tip = header_hash(&header);
        self.history.append(self.tip);
        self.blocks.push(Block {
            header,
            blobs: bounded(vec![blob], "blobs")?,
        });
        self.blocks
            .last()
            .ok_or_else(|| invalid("a block was just pushed"))
    }

    /// The `evm` blob of the Ethereum block `rlp` with the witness `nodes` and `codes` and the
    /// newest `ancestors` hashes the chain knows, on top of the last one: the blob a block of
    /// this chain carries ([`EvmChainBuilder::push`]), or of a chain the `evm` model shares
    /// with others, whose blocks the caller assembles.
    pub fn next_blob(
        &mut self,
        rlp: &[u8],
        nodes: Vec<Vec<u8>>,
        codes: Vec<Vec<u8>>,
        ancestors: usize,
    ) -> Result<Blob, ImportError> {
        // A block whose header does not decode still becomes a blob (its check rejects it).
        let ethereum = verifier::evm::block_header(rlp).ok();
        let post = ethereum
            .as_ref()
            .map_or(self.root, |header| Hash32::from(header.state_root.0));
        let carried = self.ancestors.iter().take(ancestors).copied().collect();
        let nodes = nodes
            .into_iter()
            .map(|node| bounded(node, "node bytes"))
            .collect::<Result<Vec<_>, _>>()?;
        let codes = codes
            .into_iter()
            .map(|code| bounded(code, "code bytes"))
            .collect::<Result<Vec<_>, _>>()?;
        let blob = Blob {
            model: Model::Evm,
            pre_state_root: self.root,
            post_state_root: post,
            transactions: VariableList::empty(),
            witness: witness_format::Witness::Evm(EvmWitness {
                block: bounded(rlp.to_vec(), "block bytes")?,
                nodes: bounded(nodes, "trie nodes")?,
                codes: bounded(codes, "codes")?,
                ancestor_hashes: bounded(carried, "ancestor hashes")?,
            }),
        };
        self.root = post;
        if let Some(ethereum) = ethereum {
            self.ancestors
                .insert(0, Hash32::from(ethereum.hash_slow().0));
            self.ancestors.truncate(MAX_EVM_ANCESTORS);
        }
        Ok(blob)
    }

    /// The genesis and the blocks.
    pub fn finish(self) -> ImportedChain {
        ImportedChain {
            genesis: self.genesis,
            blocks: self.blocks,
        }
    }
}

/// The ancestor hashes `headers` (RLP, any order) give from `parent` back: `parent`, then each
/// header's parent hash while the header of the last hash is among them.
fn hashes_from_headers(parent: Hash32, headers: &[Hex]) -> Result<Vec<Hash32>, ImportError> {
    let mut by_hash = HashMap::new();
    for (i, bytes) in headers.iter().enumerate() {
        let header = verifier::evm::decode_header(&bytes.0)
            .map_err(|e| invalid(format!("witness header {i}: {e}")))?;
        by_hash.insert(Hash32::from(header.hash_slow().0), header);
    }
    let mut hashes = vec![parent];
    while hashes.len() < MAX_EVM_ANCESTORS {
        let Some(header) = hashes.last().and_then(|last| by_hash.get(last)) else {
            break;
        };
        hashes.push(Hash32::from(header.parent_hash.0));
    }
    Ok(hashes)
}

/// Writes `chain` as a chain directory at `dir`: `genesis.bin` and `blocks/`.
pub fn write_chain(dir: &Path, chain: &ImportedChain) -> Result<(), FileError> {
    write_value(&genesis_path(dir), &chain.genesis)?;
    for block in &chain.blocks {
        write_value(&block_path(dir, block.header.height), block)?;
    }
    Ok(())
}
