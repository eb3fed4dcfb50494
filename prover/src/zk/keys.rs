//! The keys directory `stateless zk setup` writes and `prove` and `bench --zk` read:
//!
//! ```text
//! KEYS_DIR/pk.bin       proving key (arkworks uncompressed; holds the verifying key)
//! KEYS_DIR/vk.bin       verifying key (arkworks compressed); its SHA3-256 is what a genesis pins
//! KEYS_DIR/shape.json   {"depth": D, "batch": B, "chain_id": N, "shared_levels": L}
//! ```
//!
//! Every read is bounded by the file's kind, as every input file is (`crate::files`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use verifier::zk_transfer::groth16::{
    decode_verifying_key, encode_verifying_key, verifying_key_hash,
};
use witness_format::ZK_VERIFYING_KEY_BYTES;

use crate::files::{FileError, read_limited, write_atomic};
use crate::zk::groth16::{ProvingKey, VerifyingKey, decode_proving_key, encode_proving_key};

/// Largest proving key file read: a depth-32, batch-64 key is 1.6 GB, and the key is held in
/// memory whole, so a file past this is not one this machine class could use.
const MAX_PROVING_KEY_FILE_BYTES: u64 = 64 << 30;

/// Largest `shape.json` (four small numbers).
const MAX_SHAPE_FILE_BYTES: u64 = 4 << 10;

/// The circuit shape a key pair is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// The state tree's depth.
    pub depth: u8,
    /// Transactions per proof.
    pub batch: u16,
    /// The chain id (a constant of the circuit).
    pub chain_id: u64,
    /// The top tree levels a proof computes once for its whole blob instead of once per path
    /// (0: none, every path goes up to the root). With L shared levels, a blob can be proven
    /// only when all its accounts lie in one aligned subtree of 2^(depth − L) leaves
    /// ([`Shape::subtree_of`]); the prover gives any other blob a Merkle witness. Absent in
    /// a `shape.json` written before there was a choice: 0.
    #[serde(default)]
    pub shared_levels: u8,
}

impl Shape {
    /// The shape of a circuit whose paths all go up to the root.
    pub fn new(depth: u8, batch: u16, chain_id: u64) -> Self {
        Self {
            depth,
            batch,
            chain_id,
            shared_levels: 0,
        }
    }

    /// Transactions per proof, as a count.
    pub fn batch(&self) -> usize {
        usize::from(self.batch)
    }

    /// The depth of the subtree whose root a slot's paths reach: `depth − shared_levels`.
    pub fn subtree_depth(&self) -> u8 {
        self.depth.saturating_sub(self.shared_levels)
    }

    /// The subtree that holds `account`: its index among the subtrees of
    /// [`Shape::subtree_depth`] (0 without shared levels: the tree).
    pub fn subtree(&self, account: u64) -> u64 {
        account
            .checked_shr(self.subtree_depth().into())
            .unwrap_or(0)
    }

    /// The one subtree that holds every account of `accounts` ([`Shape::subtree`]), or `None`
    /// when they span two (or there are none).
    pub fn subtree_of(&self, accounts: &[u64]) -> Option<u64> {
        let first = self.subtree(*accounts.first()?);
        accounts
            .iter()
            .all(|&account| self.subtree(account) == first)
            .then_some(first)
    }

    /// Why no circuit has this shape, if none does: the shared levels must leave a path of at
    /// least one level under them.
    pub fn check(&self) -> Result<(), String> {
        if self.depth == 0 || self.shared_levels >= self.depth {
            return Err(format!(
                "{} shared levels leave no path in a tree of depth {}",
                self.shared_levels, self.depth
            ));
        }
        Ok(())
    }
}

/// A key pair and the shape it is for.
#[derive(Clone)]
pub struct Keys {
    /// The circuit's shape.
    pub shape: Shape,
    /// The proving key.
    pub pk: ProvingKey,
    /// The verifying key.
    pub vk: VerifyingKey,
}

/// Why a keys directory cannot be read or written.
#[derive(Debug, Error)]
pub enum KeysError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A file that does not hold what its name says.
    #[error("{}: {why}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// `pk.bin` and `vk.bin` hold keys of two different setups.
    #[error("{}: pk.bin and vk.bin are not one key pair", dir.display())]
    NotOnePair {
        /// The keys directory.
        dir: PathBuf,
    },
}

/// Writes `keys` into `dir`.
pub fn write_keys(dir: &Path, keys: &Keys) -> Result<(), KeysError> {
    let shape = serde_json::to_string(&keys.shape).map_err(|e| KeysError::Malformed {
        path: dir.join("shape.json"),
        why: e.to_string(),
    })?;
    write_atomic(&dir.join("pk.bin"), &encode_proving_key(&keys.pk))?;
    write_atomic(&dir.join("vk.bin"), &encode_verifying_key(&keys.vk))?;
    write_atomic(&dir.join("shape.json"), shape.as_bytes())?;
    Ok(())
}

/// Reads the key pair and shape in `dir`; the two keys must be one pair.
pub fn read_keys(dir: &Path) -> Result<Keys, KeysError> {
    let (shape, vk) = read_verifying_key(dir)?;
    let pk_file = dir.join("pk.bin");
    let pk = decode_proving_key(&read_limited(&pk_file, MAX_PROVING_KEY_FILE_BYTES)?).ok_or(
        KeysError::Malformed {
            path: pk_file,
            why: "not a proving key".into(),
        },
    )?;
    if verifying_key_hash(&pk.vk) != verifying_key_hash(&vk) {
        return Err(KeysError::NotOnePair {
            dir: dir.to_path_buf(),
        });
    }
    Ok(Keys { shape, pk, vk })
}

/// Reads the shape and verifying key in `dir`, not the proving key: what a coordinator that
/// farms its proofs out needs.
pub fn read_verifying_key(dir: &Path) -> Result<(Shape, VerifyingKey), KeysError> {
    let malformed = |path: PathBuf, why: String| KeysError::Malformed { path, why };
    let shape_file = dir.join("shape.json");
    let shape: Shape = serde_json::from_slice(&read_limited(&shape_file, MAX_SHAPE_FILE_BYTES)?)
        .map_err(|e| malformed(shape_file.clone(), e.to_string()))?;
    shape
        .check()
        .map_err(|why| malformed(shape_file.clone(), why))?;
    let vk_file = dir.join("vk.bin");
    let vk = decode_verifying_key(&read_limited(&vk_file, ZK_VERIFYING_KEY_BYTES as u64)?)
        .map_err(|e| malformed(vk_file.clone(), e.to_string()))?;
    Ok((shape, vk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zk::groth16::setup_from_seed;

    /// What is written reads back; a junk shape, and keys of two setups, are refused by name.
    #[test]
    fn keys_read_back_and_a_mixed_pair_is_refused() {
        let shape = Shape::new(3, 1, 7);
        let (pk, vk) = setup_from_seed(shape, [1; 32]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_keys(
            dir.path(),
            &Keys {
                shape,
                pk,
                vk: vk.clone(),
            },
        )
        .unwrap();
        let read = read_keys(dir.path()).unwrap();
        assert_eq!(read.shape, shape);
        assert_eq!(verifying_key_hash(&read.vk), verifying_key_hash(&vk));

        let (_, other) = setup_from_seed(shape, [2; 32]).unwrap();
        std::fs::write(dir.path().join("vk.bin"), encode_verifying_key(&other)).unwrap();
        assert!(matches!(
            read_keys(dir.path()),
            Err(KeysError::NotOnePair { .. })
        ));
        // A shape written before shared levels existed has none; shared levels that leave no
        // path are refused.
        let old = r#"{"depth":3,"batch":1,"chain_id":7}"#;
        std::fs::write(dir.path().join("shape.json"), old).unwrap();
        assert_eq!(read_verifying_key(dir.path()).unwrap().0, shape);
        let no_path = r#"{"depth":3,"batch":1,"chain_id":7,"shared_levels":3}"#;
        std::fs::write(dir.path().join("shape.json"), no_path).unwrap();
        assert!(matches!(
            read_keys(dir.path()),
            Err(KeysError::Malformed { path, why })
                if path.ends_with("shape.json") && why.contains("leave no path")
        ));
        std::fs::write(dir.path().join("shape.json"), b"{").unwrap();
        assert!(matches!(
            read_keys(dir.path()),
            Err(KeysError::Malformed { path, .. }) if path.ends_with("shape.json")
        ));
    }
}
