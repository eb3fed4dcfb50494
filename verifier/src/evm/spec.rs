//! The fork schedule an `evm` chain executes under, as its genesis records it: the published
//! schedule of a real chain's id, or one fork active from the first block (Ethereum's test suite
//! names a fork, with chain id 1 and timestamps near zero, so the chain id alone cannot decide).

use alloy_eips::eip6110::MAINNET_DEPOSIT_CONTRACT_ADDRESS;
use alloy_eips::eip7840::BlobParams;
use alloy_evm::eth::spec::{EthExecutorSpec, EthSpec};
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::Address;
use witness_format::EvmSchedule;

use super::EvmError;

/// The hardforks of one `evm` chain, and what its blocks' forks need.
#[derive(Clone, Debug)]
pub struct ChainSpec {
    chain_id: u64,
    forks: Forks,
}

#[derive(Clone, Debug)]
enum Forks {
    Published(EthSpec),
    Fixed(EthereumChainHardforks),
}

impl ChainSpec {
    /// The schedule `schedule` of chain `chain_id`; a published schedule must be known.
    pub fn new(chain_id: u64, schedule: EvmSchedule) -> Result<Self, EvmError> {
        let forks = match schedule {
            EvmSchedule::Published => Forks::Published(match chain_id {
                1 => EthSpec::mainnet(),
                11_155_111 => EthSpec::sepolia(),
                17_000 => EthSpec::holesky(),
                _ => {
                    return Err(EvmError::Fork(
                        "no published fork schedule for this chain id",
                    ));
                }
            }),
            EvmSchedule::Cancun => Forks::Fixed(up_to(EthereumHardfork::Cancun)),
            EvmSchedule::Prague => Forks::Fixed(up_to(EthereumHardfork::Prague)),
        };
        Ok(Self { chain_id, forks })
    }

    /// The chain id transactions are signed for.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The blob parameters of the fork at `timestamp`; an error for a fork not supported
    /// (before Cancun, or Osaka and later).
    pub fn blob_params(&self, timestamp: u64) -> Result<BlobParams, EvmError> {
        if self.is_osaka_active_at_timestamp(timestamp) {
            Err(EvmError::Fork("Osaka and later are not supported"))
        } else if self.is_prague_active_at_timestamp(timestamp) {
            Ok(BlobParams::prague())
        } else if self.is_cancun_active_at_timestamp(timestamp) {
            Ok(BlobParams::cancun())
        } else {
            Err(EvmError::Fork("forks before Cancun are not supported"))
        }
    }
}

/// Every fork from Frontier to `last` (the DAO fork's irregular change left out) at the first
/// block; the merge done at genesis.
fn up_to(last: EthereumHardfork) -> EthereumChainHardforks {
    EthereumChainHardforks::new(EthereumHardfork::devnet().into_iter().filter_map(
        |(fork, condition)| {
            (fork <= last && fork != EthereumHardfork::Dao).then_some((fork, condition))
        },
    ))
}

impl EthereumHardforks for ChainSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        match &self.forks {
            Forks::Published(spec) => spec.ethereum_fork_activation(fork),
            Forks::Fixed(forks) => forks.ethereum_fork_activation(fork),
        }
    }
}

impl EthExecutorSpec for ChainSpec {
    fn deposit_contract_address(&self) -> Option<Address> {
        match &self.forks {
            Forks::Published(spec) => spec.deposit_contract_address(),
            // Ethereum's test suite deploys mainnet's deposit contract.
            Forks::Fixed(_) => Some(MAINNET_DEPOSIT_CONTRACT_ADDRESS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_schedule_has_its_fork_and_not_the_next() {
        let cancun = ChainSpec::new(1, EvmSchedule::Cancun).unwrap();
        assert!(cancun.is_cancun_active_at_timestamp(0));
        assert!(!cancun.is_prague_active_at_timestamp(u64::MAX));
        assert_eq!(cancun.blob_params(0).unwrap(), BlobParams::cancun());
        let prague = ChainSpec::new(1, EvmSchedule::Prague).unwrap();
        assert_eq!(prague.blob_params(0).unwrap(), BlobParams::prague());
        assert!(!prague.is_osaka_active_at_timestamp(u64::MAX));
    }

    #[test]
    fn a_published_schedule_needs_a_known_chain_id() {
        assert!(matches!(
            ChainSpec::new(5, EvmSchedule::Published),
            Err(EvmError::Fork(_))
        ));
        let holesky = ChainSpec::new(17_000, EvmSchedule::Published).unwrap();
        assert!(matches!(holesky.blob_params(0), Err(EvmError::Fork(_))));
    }
}
