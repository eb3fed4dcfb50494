//! Table entries of [`GROUP`] neighbours: `MODEL/nodes` keeps 16 nodes of one level per entry,
//! `MODEL/accounts` 16 consecutive accounts' leaves. A checkpoint rewrites most of a large
//! state, and a redb insert costs about a microsecond whatever its size, so one insert per 16
//! items instead of one per item (docs/DECISIONS.md).
//!
//! An entry's bytes: a little-endian `u16` whose bit `i` says slot `i` is stored, then the
//! stored slots' values (`N` bytes each) in slot order.

/// Items per entry: indices `16g .. 16g + 15` under group `g`.
pub(super) const GROUP: u64 = 16;

/// The values of one entry, by slot (`index % GROUP`); `None`: not stored.
pub(super) type Group<const N: usize> = [Option<[u8; N]>; GROUP as usize];

/// The slot of `index` in its group (`index / GROUP`).
pub(super) fn slot(index: u64) -> usize {
    // Below GROUP (16): the cast keeps it.
    (index % GROUP) as usize
}

/// The first index of group `group`; `None` for a group no index lies in.
pub(super) fn first_index(group: u64) -> Option<u64> {
    group.checked_mul(GROUP)
}

pub(super) fn encode<const N: usize>(group: &Group<N>) -> Vec<u8> {
    let mut present = 0u16;
    let mut bytes = vec![0; 2];
    for (slot, value) in group.iter().enumerate() {
        if let Some(value) = value {
            present |= 1 << slot;
            bytes.extend_from_slice(value);
        }
    }
    bytes[..2].copy_from_slice(&present.to_le_bytes());
    bytes
}

/// The group `bytes` encode; `None` if the bitmap and the length disagree.
pub(super) fn decode<const N: usize>(bytes: &[u8]) -> Option<Group<N>> {
    let (present, mut values) = bytes.split_first_chunk::<2>()?;
    let present = u16::from_le_bytes(*present);
    let mut group: Group<N> = [None; GROUP as usize];
    for (slot, stored) in group.iter_mut().enumerate() {
        if present & (1 << slot) != 0 {
            let (value, rest) = values.split_first_chunk::<N>()?;
            *stored = Some(*value);
            values = rest;
        }
    }
    values.is_empty().then_some(group)
}

/// Slot `slot`'s value in the entry `bytes`, without copying the others: `None` if the bitmap
/// and the length disagree, `Some(None)` if the slot is not stored.
pub(super) fn decode_slot<const N: usize>(bytes: &[u8], slot: usize) -> Option<Option<[u8; N]>> {
    let (present, values) = bytes.split_first_chunk::<2>()?;
    let present = u16::from_le_bytes(*present);
    let stored = usize::try_from(present.count_ones()).ok()?;
    if values.len() != stored.checked_mul(N)? {
        return None;
    }
    if slot >= GROUP as usize || present & (1 << slot) == 0 {
        return Some(None);
    }
    let before = usize::try_from((present & ((1 << slot) - 1)).count_ones()).ok()?;
    let value = values.get(before * N..)?.first_chunk::<N>()?;
    Some(Some(*value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries round-trip; a bitmap that disagrees with the length is refused.
    #[test]
    fn entries_round_trip_and_refuse_bad_lengths() {
        let group: Group<3> =
            std::array::from_fn(|slot| [0, 5, 15].contains(&slot).then_some([slot as u8; 3]));
        let bytes = encode(&group);
        assert_eq!(bytes.len(), 2 + 3 * 3);
        assert_eq!(bytes[..2], [0b0010_0001, 0b1000_0000]);
        assert_eq!(decode::<3>(&bytes), Some(group));
        for (slot, value) in group.iter().enumerate() {
            assert_eq!(decode_slot::<3>(&bytes, slot), Some(*value));
            assert_eq!(decode_slot::<3>(&bytes[..bytes.len() - 1], slot), None);
        }
        assert_eq!(decode::<3>(&[0, 0]), Some([None; 16]));
        assert_eq!(decode::<3>(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode::<3>(&[bytes.as_slice(), &[0]].concat()), None);
        assert_eq!(decode::<3>(&[1]), None);
        assert_eq!(decode::<3>(&[]), None);
    }
}
