//! What every check of one chain needs, prepared once from its genesis: [`ChainParams`].

use std::sync::Arc;

use ark_bls12_381::Bls12_381;
use ark_groth16::VerifyingKey;
use sha3::Digest;
use witness_format::limits::MAX_TREE_DEPTH;
use witness_format::{Genesis, Hash32, Model, ZkKeyPin};

use crate::error::{Reason, VerifyError};
use crate::evm::{ChainSpec, HeaderChain};
use crate::zk_transfer::groth16::{PreparedKey, decode_verifying_key, verifying_key_hash};

/// What every check of one chain needs, prepared once from its genesis.
#[derive(Clone, Debug)]
pub struct ChainParams {
    /// Separates this chain's signatures from every other chain's.
    pub chain_id: u64,
    /// Depth of every state tree.
    pub tree_depth: u8,
    /// The models the chain hosts, in genesis order.
    pub models: Vec<Model>,
    /// The `zk-transfer` verifying keys pinned in the genesis, ascending by batch size.
    pub zk_pins: Vec<ZkKeyPin>,
    /// The pinned keys this verifier was given, prepared once, by batch size.
    pub zk_keys: Vec<(u16, Arc<PreparedKey>)>,
    /// The `evm` model's chain at its anchor (fork schedule, anchor header and hashes), when
    /// the chain hosts it.
    pub evm: Option<HeaderChain>,
}

impl ChainParams {
    /// Checks the genesis parameters and prepares the shared tables.
    pub fn from_genesis(genesis: &Genesis) -> Result<Self, VerifyError> {
        let models: Vec<Model> = genesis.state_roots.iter().map(|r| r.model).collect();
        if models.is_empty() {
            return Err(Reason::InvalidGenesis("no models".into()).into());
        }
        // The tree depth is the numbered-account models' (an `evm` chain has none: 0).
        let numbered = models.iter().any(|m| Model::NUMBERED.contains(m));
        let depths = if numbered { 1..=MAX_TREE_DEPTH } else { 0..=0 };
        if !depths.contains(&genesis.tree_depth) {
            return Err(Reason::InvalidGenesis(format!(
                "tree depth {} is not in {}..={}",
                genesis.tree_depth,
                depths.start(),
                depths.end()
            ))
            .into());
        }
        if models.windows(2).any(|pair| pair.first() >= pair.get(1)) {
            return Err(Reason::InvalidGenesis("models not in ascending order".into()).into());
        }
        let zk_pins: Vec<ZkKeyPin> = genesis.zk_keys.to_vec();
        if !zk_pins.is_empty() && !models.contains(&Model::ZkTransfer) {
            return Err(Reason::InvalidGenesis(
                "zk verifying keys pinned, but no zk-transfer model".into(),
            )
            .into());
        }
        if zk_pins.iter().any(|pin| pin.batch == 0) {
            return Err(Reason::InvalidGenesis("a zk key pinned for batch 0".into()).into());
        }
        if zk_pins
            .windows(2)
            .any(|pair| pair.first().map(|p| p.batch) >= pair.get(1).map(|p| p.batch))
        {
            return Err(Reason::InvalidGenesis(
                "zk keys not in strictly ascending order of batch size".into(),
            )
            .into());
        }
        let evm = evm_chain(genesis)?;
        Ok(Self {
            chain_id: genesis.chain_id,
            tree_depth: genesis.tree_depth,
            models,
            zk_pins,
            zk_keys: Vec::new(),
            evm,
        })
    }

    /// Decodes a verifying key file that must be one of the pinned keys: its bytes are hashed
    /// and looked up among the pins *before* they are decoded, so a file that is not a pinned
    /// key costs one hash, however large or malformed ([`Reason::UnpinnedZkKey`]). A pinned
    /// key's bytes are its canonical encoding (its hash is the pin), so they decode.
    pub fn pinned_verifying_key(
        &self,
        bytes: &[u8],
    ) -> Result<VerifyingKey<Bls12_381>, VerifyError> {
        let vk_hash = Hash32::from(<[u8; 32]>::from(sha3::Sha3_256::digest(bytes)));
        if !self.zk_pins.iter().any(|pin| pin.vk_hash == vk_hash) {
            return Err(Reason::UnpinnedZkKey { vk_hash }.into());
        }
        decode_verifying_key(bytes).map_err(|e| Reason::ZkKey(e).into())
    }

    /// Adds verifying keys: each must be pinned in the genesis (by its hash) and expect the
    /// circuit's public inputs ([`crate::zk_transfer::PUBLIC_INPUTS`]); each is prepared once
    /// here.
    pub fn add_zk_keys(&mut self, keys: &[VerifyingKey<Bls12_381>]) -> Result<(), VerifyError> {
        for vk in keys {
            let vk_hash = verifying_key_hash(vk);
            let Some(pin) = self.zk_pins.iter().find(|pin| pin.vk_hash == vk_hash) else {
                return Err(Reason::UnpinnedZkKey { vk_hash }.into());
            };
            let batch = pin.batch;
            if self.zk_keys.iter().any(|(b, _)| *b == batch) {
                continue;
            }
            let prepared = PreparedKey::new(vk).map_err(Reason::ZkKey)?;
            self.zk_keys.push((batch, Arc::new(prepared)));
        }
        self.zk_keys.sort_by_key(|(batch, _)| *batch);
        Ok(())
    }

    /// The prepared key a zk blob of `transactions` transactions is checked under: the pinned
    /// key with the smallest batch that fits them.
    pub fn zk_key_for(&self, transactions: usize) -> Result<(u16, &PreparedKey), Reason> {
        let pin = self
            .zk_pins
            .iter()
            .find(|pin| usize::from(pin.batch) >= transactions)
            .ok_or(Reason::NoZkKeyForBatch { transactions })?;
        self.zk_keys
            .iter()
            .find(|(batch, _)| *batch == pin.batch)
            .map(|(batch, key)| (*batch, key.as_ref()))
            .ok_or(Reason::ZkKeyNotLoaded {
                batch: pin.batch,
                vk_hash: pin.vk_hash,
            })
    }
}

/// The `evm` chain a genesis anchors: an `evm` model's root needs an anchor, and an anchor
/// needs the model. The `evm` model may share the chain with the numbered models (their tree
/// depth is then the genesis's); its Ethereum blocks link among themselves, one blob each.
fn evm_chain(genesis: &Genesis) -> Result<Option<HeaderChain>, VerifyError> {
    let invalid = |why: String| -> VerifyError { Reason::InvalidGenesis(why).into() };
    let root = genesis.state_roots.iter().find(|r| r.model == Model::Evm);
    match (&genesis.evm, root) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(invalid("an evm model without an evm anchor".into())),
        (Some(_), None) => Err(invalid("an evm anchor without an evm model".into())),
        (Some(anchor), Some(root)) => {
            let spec = ChainSpec::new(genesis.chain_id, anchor.schedule)
                .map_err(|e| invalid(e.to_string()))?;
            HeaderChain::new(spec, anchor, root.root.0.into())
                .map(Some)
                .map_err(|e| invalid(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use witness_format::ssz_types::VariableList;
    use witness_format::{
        Blob, EvmAnchor, EvmSchedule, EvmWitness, ModelRoot, Transaction, Witness,
    };

    fn roots(models: &[Model]) -> VariableList<ModelRoot, witness_format::limits::MaxModels> {
        VariableList::new(
            models
                .iter()
                .map(|&model| ModelRoot {
                    model,
                    root: Hash32::ZERO,
                })
                .collect(),
        )
        .unwrap()
    }

    fn evm_genesis(depth: u8, models: &[Model], anchor: bool) -> Genesis {
        Genesis {
            chain_id: 1,
            tree_depth: depth,
            state_roots: roots(models),
            zk_keys: VariableList::empty(),
            evm: anchor.then(|| EvmAnchor {
                schedule: EvmSchedule::Cancun,
                number: 0,
                hash: Hash32::from([1; 32]),
                ancestor_hashes: VariableList::empty(),
                header: VariableList::empty(),
            }),
            zk_srs: None,
        }
    }

    fn invalid(genesis: &Genesis) -> String {
        match ChainParams::from_genesis(genesis).unwrap_err().reason {
            Reason::InvalidGenesis(why) => why,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn an_evm_genesis_has_its_anchor_and_the_numbered_models_tree_depth() {
        assert!(ChainParams::from_genesis(&evm_genesis(0, &[Model::Evm], true)).is_ok());
        assert!(invalid(&evm_genesis(0, &[Model::Evm], false)).contains("without an evm anchor"));
        assert!(
            invalid(&evm_genesis(4, &[Model::Transfer], true)).contains("without an evm model")
        );
        // Shared with numbered models, the chain has their tree depth.
        let shared = [Model::Transfer, Model::ZkTransfer, Model::Evm];
        assert!(ChainParams::from_genesis(&evm_genesis(4, &shared, true)).is_ok());
        assert!(invalid(&evm_genesis(0, &shared, true)).contains("not in 1..=64"));
        assert!(invalid(&evm_genesis(4, &[Model::Evm], true)).contains("not in 0..=0"));
        assert!(invalid(&evm_genesis(0, &[Model::Transfer], false)).contains("not in 1..=64"));
    }

    #[test]
    fn an_evm_blob_is_checked_only_in_its_chain_and_carries_no_transactions_of_its_own() {
        let params = ChainParams::from_genesis(&evm_genesis(0, &[Model::Evm], true)).unwrap();
        let mut blob = Blob {
            model: Model::Evm,
            pre_state_root: Hash32::ZERO,
            post_state_root: Hash32::ZERO,
            transactions: VariableList::empty(),
            witness: Witness::Evm(EvmWitness {
                block: VariableList::empty(),
                nodes: VariableList::empty(),
                codes: VariableList::empty(),
                ancestor_hashes: VariableList::empty(),
            }),
        };
        let reason = |blob: &Blob| crate::verify_blob(&params, blob).unwrap_err().reason;
        assert_eq!(reason(&blob), Reason::EvmBlockNotLinked);
        let tx = Transaction {
            from: 0,
            to: 0,
            amount: 0,
            nonce: 0,
            new_account_key: witness_format::PublicKey::ZERO,
            signature: witness_format::Signature::ZERO,
        };
        blob.transactions = VariableList::new(vec![tx]).unwrap();
        assert_eq!(reason(&blob), Reason::TransactionsOutsideBlock);
    }
}
