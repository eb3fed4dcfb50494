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

use thiserror::Error;
use verifier::zk_transfer::groth16::{
    decode_verifying_key, encode_verifying_key, verifying_key_hash,
};
use witness_format::ZK_VERIFYING_KEY_BYTES;

pub use crate::zk::shape::Shape;

use crate::files::{FileError, read_limited, write_atomic};
use crate::zk::groth16::{ProvingKey, VerifyingKey, decode_proving_key, encode_proving_key};

/// Largest proving key file read: a depth-32, batch-64 key is 1.6 GB, and the key is held in
/// memory whole, so a file past this is not one this machine class could use.
const MAX_PROVING_KEY_FILE_BYTES: u64 = 64 << 30;

/// Largest `shape.json` (four small numbers).
const MAX_SHAPE_FILE_BYTES: u64 = 4 << 10;

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
