//! An `evm` chain's blocks linked in order: each block's header against its parent's, and the
//! ancestor hashes its witness carries against the chain's own. Blocks are executed apart (in
//! parallel); this is the cheap, ordered part.

use std::collections::VecDeque;

use alloy_consensus::Header;
use alloy_primitives::B256;
use alloy_rlp::Decodable;
use thiserror::Error;
use witness_format::limits::{MAX_EVM_ANCESTORS, MAX_EVM_GAS_LIMIT};
use witness_format::{EvmAnchor, Hash32};

use super::{ChainSpec, EvmError, check_against_parent};

/// Why an `evm` chain's anchor or a block's place in it is rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LinkError {
    /// The anchor's parts disagree.
    #[error("evm anchor: {0}")]
    Anchor(&'static str),
    /// The block's header does not follow the chain's last header.
    #[error(transparent)]
    Header(#[from] EvmError),
    /// An ancestor hash the witness carries is not the chain's.
    #[error("ancestor hash {index} (block {number}) is {carried}, the chain's is {chain}")]
    AncestorMismatch {
        /// Its index in the witness (0 the parent).
        index: usize,
        /// The ancestor's block number.
        number: u64,
        /// The hash the witness carries.
        carried: B256,
        /// The chain's hash of that block.
        chain: B256,
    },
    /// The witness carries more ancestor hashes than the chain knows.
    #[error("the witness carries {carried} ancestor hashes, the chain knows {known}")]
    TooManyAncestors {
        /// Hashes carried.
        carried: usize,
        /// Hashes the chain knows.
        known: usize,
    },
}

/// The header of an `evm` block, decoded from the block's bytes without its body.
pub fn block_header(block_rlp: &[u8]) -> Result<Header, EvmError> {
    let mut rest = block_rlp;
    let list = alloy_rlp::Header::decode(&mut rest).map_err(EvmError::Decode)?;
    if !list.list {
        return Err(EvmError::Decode(alloy_rlp::Error::UnexpectedString));
    }
    Header::decode(&mut rest).map_err(EvmError::Decode)
}

/// An Ethereum header from its RLP; trailing bytes are refused.
pub fn decode_header(rlp: &[u8]) -> Result<Header, EvmError> {
    alloy_rlp::decode_exact(rlp).map_err(EvmError::Decode)
}

/// The head of an `evm` chain, as its blocks link in order.
#[derive(Clone, Debug)]
pub struct HeaderChain {
    spec: ChainSpec,
    /// The last header, when known (the anchor's may not be).
    parent: Option<Header>,
    number: u64,
    hash: B256,
    /// Hashes of the last blocks, newest (the head) first; at most [`MAX_EVM_ANCESTORS`].
    recent: VecDeque<B256>,
}

impl HeaderChain {
    /// The chain at its anchor, whose state root is `state_root`. The anchor's parts must agree:
    /// its ancestor hashes start with its hash, and its header, when given, hashes to it and
    /// holds its number and state root.
    pub fn new(spec: ChainSpec, anchor: &EvmAnchor, state_root: B256) -> Result<Self, LinkError> {
        let hash = B256::from(anchor.hash.0);
        let mut recent: VecDeque<B256> = anchor
            .ancestor_hashes
            .iter()
            .map(|h| B256::from(h.0))
            .collect();
        match recent.front() {
            None => recent.push_front(hash),
            Some(first) if *first != hash => {
                return Err(LinkError::Anchor(
                    "its ancestor hashes do not start with its hash",
                ));
            }
            Some(_) => {}
        }
        let parent = if anchor.header.is_empty() {
            None
        } else {
            let header = decode_header(&anchor.header)
                .map_err(|_| LinkError::Anchor("its header does not decode"))?;
            if header.hash_slow() != hash {
                return Err(LinkError::Anchor("its header does not hash to its hash"));
            }
            if header.number != anchor.number {
                return Err(LinkError::Anchor("its header has another number"));
            }
            if header.state_root != state_root {
                return Err(LinkError::Anchor(
                    "its header's state root is not the genesis state root",
                ));
            }
            Some(header)
        };
        Ok(Self {
            spec,
            parent,
            number: anchor.number,
            hash,
            recent,
        })
    }

    /// The chain's fork schedule.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// Whether the next block can be checked against its parent's header (not when the chain is
    /// at an anchor given without its header).
    pub fn parent_header_known(&self) -> bool {
        self.parent.is_some()
    }

    /// Links the next block, of header `header`, whose witness carries `ancestors` (parent
    /// first).
    pub fn follow(&mut self, header: &Header, ancestors: &[Hash32]) -> Result<(), LinkError> {
        match &self.parent {
            Some(parent) => {
                check_against_parent(parent, header, self.spec.blob_params(header.timestamp)?)?
            }
            None => {
                if header.parent_hash != self.hash {
                    return Err(mismatch("parent hash", header.parent_hash, self.hash));
                }
                let number = self.number.checked_add(1);
                if Some(header.number) != number {
                    return Err(mismatch("number", header.number, format!("{number:?}")));
                }
                // No parent header bounds its gas limit, and so the work of executing it.
                if header.gas_limit > MAX_EVM_GAS_LIMIT {
                    return Err(LinkError::Header(EvmError::GasLimitAboveCap {
                        gas_limit: header.gas_limit,
                    }));
                }
            }
        }
        if ancestors.len() > self.recent.len() {
            return Err(LinkError::TooManyAncestors {
                carried: ancestors.len(),
                known: self.recent.len(),
            });
        }
        for (index, (carried, chain)) in ancestors.iter().zip(&self.recent).enumerate() {
            if carried.0 != chain.0 {
                return Err(LinkError::AncestorMismatch {
                    index,
                    number: header.number.saturating_sub(1).saturating_sub(index as u64),
                    carried: B256::from(carried.0),
                    chain: *chain,
                });
            }
        }
        let hash = header.hash_slow();
        self.recent.push_front(hash);
        self.recent.truncate(MAX_EVM_ANCESTORS);
        self.number = header.number;
        self.hash = hash;
        self.parent = Some(header.clone());
        Ok(())
    }
}

fn mismatch(field: &'static str, header: impl ToString, expected: impl ToString) -> LinkError {
    LinkError::Header(EvmError::ParentMismatch {
        field,
        header: header.to_string(),
        expected: expected.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use witness_format::EvmSchedule;
    use witness_format::ssz_types::VariableList;

    fn spec() -> ChainSpec {
        ChainSpec::new(1, EvmSchedule::Cancun).unwrap()
    }

    fn anchor_header() -> Header {
        Header {
            number: 7,
            timestamp: 100,
            gas_limit: 30_000_000,
            gas_used: 15_000_000,
            base_fee_per_gas: Some(7),
            withdrawals_root: Some(B256::ZERO),
            excess_blob_gas: Some(0),
            blob_gas_used: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            ..Header::default()
        }
    }

    fn anchor(header: &Header, with_header: bool) -> EvmAnchor {
        let hash = Hash32::from(header.hash_slow().0);
        EvmAnchor {
            schedule: EvmSchedule::Cancun,
            number: header.number,
            hash,
            ancestor_hashes: VariableList::new(vec![hash]).unwrap(),
            header: VariableList::new(if with_header {
                alloy_rlp::encode(header)
            } else {
                Vec::new()
            })
            .unwrap(),
        }
    }

    fn child(parent: &Header) -> Header {
        Header {
            parent_hash: parent.hash_slow(),
            number: parent.number + 1,
            timestamp: parent.timestamp + 12,
            ..parent.clone()
        }
    }

    #[test]
    fn an_anchor_whose_parts_disagree_is_refused() {
        let header = anchor_header();
        let root = header.state_root;
        HeaderChain::new(spec(), &anchor(&header, true), root).unwrap();
        let mut wrong_first = anchor(&header, true);
        wrong_first.ancestor_hashes[0] = Hash32::from([9; 32]);
        let mut wrong_hash = anchor(&header, true);
        wrong_hash.hash = Hash32::from([9; 32]);
        wrong_hash.ancestor_hashes = VariableList::empty();
        let mut wrong_number = anchor(&header, true);
        wrong_number.number = 8;
        let mut garbled = anchor(&header, true);
        garbled.header = VariableList::new(vec![0xc0, 0x01]).unwrap();
        for (bad, why) in [
            (
                wrong_first,
                "its ancestor hashes do not start with its hash",
            ),
            (wrong_hash, "its header does not hash to its hash"),
            (wrong_number, "its header has another number"),
            (garbled, "its header does not decode"),
        ] {
            assert_eq!(
                HeaderChain::new(spec(), &bad, root).unwrap_err(),
                LinkError::Anchor(why)
            );
        }
        assert_eq!(
            HeaderChain::new(spec(), &anchor(&header, true), B256::repeat_byte(1)).unwrap_err(),
            LinkError::Anchor("its header's state root is not the genesis state root")
        );
    }

    #[test]
    fn blocks_link_to_their_parent_and_carry_only_the_chains_hashes() {
        let parent = anchor_header();
        let mut chain =
            HeaderChain::new(spec(), &anchor(&parent, true), parent.state_root).unwrap();
        let block = child(&parent);
        let hash = Hash32::from(parent.hash_slow().0);
        assert_eq!(
            chain.clone().follow(&block, &[hash, hash]).unwrap_err(),
            LinkError::TooManyAncestors {
                carried: 2,
                known: 1
            }
        );
        assert!(matches!(
            chain.clone().follow(&block, &[Hash32::from([9; 32])]),
            Err(LinkError::AncestorMismatch {
                index: 0,
                number: 7,
                ..
            })
        ));
        let mut late = block.clone();
        late.timestamp = parent.timestamp;
        assert!(matches!(
            chain.clone().follow(&late, &[hash]),
            Err(LinkError::Header(EvmError::ParentMismatch {
                field: "timestamp",
                ..
            }))
        ));
        chain.follow(&block, &[hash]).unwrap();
        // The next block may read both hashes the chain now knows.
        let next = child(&block);
        let both = [Hash32::from(block.hash_slow().0), hash];
        chain.follow(&next, &both).unwrap();
    }

    #[test]
    fn without_the_anchor_header_the_first_block_is_capped_and_linked_by_hash() {
        let parent = anchor_header();
        let chain = HeaderChain::new(spec(), &anchor(&parent, false), B256::ZERO).unwrap();
        assert!(!chain.parent_header_known());
        let block = child(&parent);
        chain.clone().follow(&block, &[]).unwrap();
        let mut big = block.clone();
        big.gas_limit = MAX_EVM_GAS_LIMIT + 1;
        assert_eq!(
            chain.clone().follow(&big, &[]).unwrap_err(),
            LinkError::Header(EvmError::GasLimitAboveCap {
                gas_limit: MAX_EVM_GAS_LIMIT + 1
            })
        );
        let mut orphan = block.clone();
        orphan.parent_hash = B256::repeat_byte(3);
        assert!(matches!(
            chain.clone().follow(&orphan, &[]),
            Err(LinkError::Header(EvmError::ParentMismatch {
                field: "parent hash",
                ..
            }))
        ));
        let mut skip = block;
        skip.number += 1;
        assert!(matches!(
            chain.clone().follow(&skip, &[]),
            Err(LinkError::Header(EvmError::ParentMismatch {
                field: "number",
                ..
            }))
        ));
    }
}
