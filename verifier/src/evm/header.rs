//! The checks of an `evm` block's header against its parent's that need no state: the link,
//! the number, the timestamp, the gas limit's bounds, the base fee (EIP-1559) and the excess
//! blob gas (EIP-4844, with the child's blob parameters, as EIP-7691 has it). All arithmetic is
//! checked: header fields are input.

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header};
use alloy_eips::eip1559::BaseFeeParams;
use alloy_eips::eip1559::calc_next_block_base_fee;
use alloy_eips::eip7840::BlobParams;

use super::EvmError;

/// The gas limit moves by less than `parent / 1024` a block.
const GAS_LIMIT_BOUND_DIVISOR: u64 = 1024;
/// No block's gas limit is below this.
const MINIMUM_GAS_LIMIT: u64 = 5000;

fn mismatch(field: &'static str, header: impl ToString, expected: impl ToString) -> EvmError {
    EvmError::ParentMismatch {
        field,
        header: header.to_string(),
        expected: expected.to_string(),
    }
}

/// The largest gas limit a header may hold (EIP-1985: 2^63 - 1).
const MAX_GAS_LIMIT: u64 = i64::MAX as u64;

/// Most bytes of `extra_data`.
const MAX_EXTRA_DATA_BYTES: usize = 32;

/// Checks what a header must hold on its own in every supported fork (all after the merge):
/// no ommers, zero difficulty and nonce, at most 32 bytes of extra data, a gas limit of at most
/// 2^63 - 1 and gas used within it.
pub(super) fn check_header(header: &Header, ommers: &[Header]) -> Result<(), EvmError> {
    let invalid = |field, why: String| Err(EvmError::InvalidHeader { field, why });
    if !ommers.is_empty() || header.ommers_hash != EMPTY_OMMER_ROOT_HASH {
        return invalid("ommers", "a block after the merge has none".into());
    }
    if !header.difficulty.is_zero() {
        return invalid(
            "difficulty",
            format!("{}, not 0 after the merge", header.difficulty),
        );
    }
    if !header.nonce.is_zero() {
        return invalid("nonce", format!("{}, not 0 after the merge", header.nonce));
    }
    if header.extra_data.len() > MAX_EXTRA_DATA_BYTES {
        return invalid(
            "extra data",
            format!(
                "{} bytes, over {MAX_EXTRA_DATA_BYTES}",
                header.extra_data.len()
            ),
        );
    }
    if header.gas_limit > MAX_GAS_LIMIT {
        return invalid("gas limit", format!("{}, over 2^63 - 1", header.gas_limit));
    }
    if header.gas_used > header.gas_limit {
        return invalid(
            "gas used",
            format!(
                "{}, over the gas limit {}",
                header.gas_used, header.gas_limit
            ),
        );
    }
    Ok(())
}

/// The base fee (EIP-1559) and excess blob gas (EIP-4844) a child of `parent` carries, under
/// the child's `blob_params`; `None` where the parent gives none.
pub fn inherited_fees(parent: &Header, blob_params: BlobParams) -> (Option<u64>, Option<u64>) {
    // The base fee formula divides by the gas target and multiplies gas figures; a parent
    // whose gas used exceeds its limit is not a block.
    let base_fee = match parent.base_fee_per_gas {
        Some(fee) if parent.gas_used <= parent.gas_limit && parent.gas_limit > 1 => {
            Some(calc_next_block_base_fee(
                parent.gas_used,
                parent.gas_limit,
                fee,
                BaseFeeParams::ethereum(),
            ))
        }
        _ => None,
    };
    let excess = match (parent.excess_blob_gas, parent.blob_gas_used) {
        (Some(excess), Some(used)) => excess
            .checked_add(used)
            .map(|total| total.saturating_sub(blob_params.target_blob_gas_per_block())),
        // The first block of Cancun: its parent has no blob gas yet.
        _ => Some(0),
    };
    (base_fee, excess)
}

/// Checks `header` against `parent`, under `blob_params` (the child's fork's).
pub fn check_against_parent(
    parent: &Header,
    header: &Header,
    blob_params: BlobParams,
) -> Result<(), EvmError> {
    let parent_hash = parent.hash_slow();
    if header.parent_hash != parent_hash {
        return Err(mismatch("parent hash", header.parent_hash, parent_hash));
    }
    let number = parent.number.checked_add(1);
    if Some(header.number) != number {
        return Err(mismatch("number", header.number, format!("{number:?}")));
    }
    if header.timestamp <= parent.timestamp {
        return Err(mismatch(
            "timestamp",
            header.timestamp,
            format!("above {}", parent.timestamp),
        ));
    }
    let bound = parent.gas_limit / GAS_LIMIT_BOUND_DIVISOR;
    if header.gas_limit.abs_diff(parent.gas_limit) >= bound || header.gas_limit < MINIMUM_GAS_LIMIT
    {
        return Err(mismatch(
            "gas limit",
            header.gas_limit,
            format!(
                "within {bound} of {} and at least {MINIMUM_GAS_LIMIT}",
                parent.gas_limit
            ),
        ));
    }
    let (base_fee, excess) = inherited_fees(parent, blob_params);
    if header.base_fee_per_gas != base_fee {
        return Err(mismatch(
            "base fee",
            format!("{:?}", header.base_fee_per_gas),
            format!("{base_fee:?}"),
        ));
    }
    if header.excess_blob_gas != excess {
        return Err(mismatch(
            "excess blob gas",
            format!("{:?}", header.excess_blob_gas),
            format!("{excess:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    fn parent() -> Header {
        Header {
            number: 100,
            timestamp: 1_720_000_000,
            gas_limit: 30_000_000,
            gas_used: 20_000_000,
            base_fee_per_gas: Some(1_000_000_000),
            excess_blob_gas: Some(400_000),
            blob_gas_used: Some(262_144),
            parent_beacon_block_root: Some(B256::ZERO),
            ..Header::default()
        }
    }

    fn child(parent: &Header) -> Header {
        let params = BlobParams::cancun();
        Header {
            parent_hash: parent.hash_slow(),
            number: parent.number + 1,
            timestamp: parent.timestamp + 12,
            gas_limit: parent.gas_limit,
            base_fee_per_gas: parent.next_block_base_fee(BaseFeeParams::ethereum()),
            excess_blob_gas: parent.next_block_excess_blob_gas(params),
            ..Header::default()
        }
    }

    fn field(change: impl Fn(&mut Header)) -> &'static str {
        let parent = parent();
        let mut header = child(&parent);
        change(&mut header);
        match check_against_parent(&parent, &header, BlobParams::cancun()) {
            Err(EvmError::ParentMismatch { field, .. }) => field,
            other => panic!("a changed header was not refused: {other:?}"),
        }
    }

    /// A child as the formulas make it passes; each field changed is refused by name.
    #[test]
    fn a_header_must_follow_its_parent() {
        let parent = parent();
        let header = child(&parent);
        assert_eq!(header.base_fee_per_gas, Some(1_041_666_666));
        assert_eq!(header.excess_blob_gas, Some(400_000 + 262_144 - 393_216));
        assert!(check_against_parent(&parent, &header, BlobParams::cancun()).is_ok());

        assert_eq!(
            field(|h| h.parent_hash = B256::repeat_byte(1)),
            "parent hash"
        );
        assert_eq!(field(|h| h.number += 1), "number");
        assert_eq!(field(|h| h.timestamp = parent.timestamp), "timestamp");
        assert_eq!(
            field(|h| h.gas_limit += parent.gas_limit / 1024),
            "gas limit"
        );
        assert_eq!(
            field(|h| h.gas_limit -= parent.gas_limit / 1024),
            "gas limit"
        );
        assert_eq!(field(|h| h.gas_limit = 4999), "gas limit");
        assert_eq!(field(|h| h.base_fee_per_gas = Some(1)), "base fee");
        assert_eq!(field(|h| h.excess_blob_gas = Some(0)), "excess blob gas");
        // Just within the gas limit's bound passes.
        let mut within = child(&parent);
        within.gas_limit += parent.gas_limit / 1024 - 1;
        assert!(check_against_parent(&parent, &within, BlobParams::cancun()).is_ok());
    }

    /// Hostile parent fields end in a refusal, not an overflow.
    #[test]
    fn extreme_parents_do_not_overflow() {
        let mut parent = parent();
        parent.number = u64::MAX;
        parent.excess_blob_gas = Some(u64::MAX);
        parent.gas_used = u64::MAX;
        let header = child(&self::parent());
        assert!(check_against_parent(&parent, &header, BlobParams::cancun()).is_err());
        let mut huge = self::parent();
        huge.excess_blob_gas = Some(u64::MAX);
        huge.blob_gas_used = Some(u64::MAX);
        let mut h = child(&self::parent());
        h.parent_hash = huge.hash_slow();
        assert!(matches!(
            check_against_parent(&huge, &h, BlobParams::cancun()),
            Err(EvmError::ParentMismatch {
                field: "excess blob gas",
                ..
            })
        ));
    }
}
