//! The Fiat-Shamir transcript of an aggregate: one running SHA3-512 over every message in the
//! order it is sent, each with a label; a challenge is the hash of everything absorbed so far
//! (and its label), reduced modulo r, and is absorbed in turn. So each challenge depends on
//! every message before it: none can be chosen after the challenge it should precede.

use ark_bls12_381::Fr;
use ark_ff::{PrimeField, Zero};
use sha3::{Digest, Sha3_512};

/// A running transcript.
#[derive(Clone)]
pub struct Transcript {
    hasher: Sha3_512,
}

impl Transcript {
    /// A transcript for one protocol, named by `domain`.
    pub fn new(domain: &[u8]) -> Self {
        let mut transcript = Self {
            hasher: Sha3_512::new(),
        };
        transcript.absorb(b"domain", domain);
        transcript
    }

    /// Absorbs one message: its label and bytes, each length-prefixed (so no two sequences
    /// of messages absorb the same bytes).
    pub fn absorb(&mut self, label: &[u8], bytes: &[u8]) {
        for part in [label, bytes] {
            self.hasher.update((part.len() as u64).to_le_bytes());
            self.hasher.update(part);
        }
    }

    /// A challenge: 64 bytes of hash reduced modulo r (a bias below 2^-250), absorbed back.
    /// `None` if it is zero (probability 2^-255; the caller rejects, as the prover cannot
    /// steer it).
    pub fn challenge(&mut self, label: &[u8]) -> Option<Fr> {
        let mut fork = self.hasher.clone();
        fork.update(b"challenge");
        fork.update(label);
        let digest = fork.finalize();
        self.absorb(b"challenge", &digest);
        let value = Fr::from_le_bytes_mod_order(&digest);
        (!value.is_zero()).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_depend_on_every_message_and_its_label() {
        let run = |messages: &[(&[u8], &[u8])]| {
            let mut t = Transcript::new(b"test");
            for (label, bytes) in messages {
                t.absorb(label, bytes);
            }
            t.challenge(b"x")
        };
        let base = run(&[(b"a", b"1"), (b"b", b"2")]);
        assert_ne!(base, run(&[(b"a", b"1"), (b"b", b"3")]));
        assert_ne!(base, run(&[(b"a", b"1"), (b"c", b"2")]));
        assert_ne!(base, run(&[(b"a", b"12"), (b"b", b"")]));
        assert_ne!(base, run(&[(b"b", b"2"), (b"a", b"1")]));
        assert_eq!(base, run(&[(b"a", b"1"), (b"b", b"2")]));
        let mut t = Transcript::new(b"test");
        assert_ne!(t.challenge(b"x"), t.challenge(b"x"), "challenges ratchet");
    }
}
