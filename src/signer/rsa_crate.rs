//! RSA signing with the pure-Rust `rsa` crate.
//!
//! Always the blinded path (`sign_with_rng`): the crate's unblinded `sign()`
//! leaks timing about the private key (RUSTSEC-2023-0071, "Marvin"), and an
//! edge function signs attacker-chosen policies all day. Blinding randomises
//! the exponentiation input, which hides most of that signal; the advisory has
//! no fix, so [`super::AwsLcRsaSigner`] (constant-time) is the default and this
//! backend stays for users who want no C in their signing path.

use rand_core::OsRng;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::RsaPrivateKey;

use super::{HashAlgorithm, KeyAlgorithm, SignError, Signer};

/// RSA PKCS#1 v1.5 signer backed by the `rsa` crate.
pub struct RsaCrateSigner {
    sha1: SigningKey<sha1::Sha1>,
    sha256: SigningKey<sha2::Sha256>,
}

impl RsaCrateSigner {
    /// Wraps a parsed key; precomputed CRT values make each signature cheaper.
    pub fn new(key: RsaPrivateKey) -> Self {
        Self {
            sha1: SigningKey::new(key.clone()),
            sha256: SigningKey::new(key),
        }
    }
}

impl Signer for RsaCrateSigner {
    fn sign(&self, message: &[u8], hash: HashAlgorithm) -> Result<Vec<u8>, SignError> {
        let signature = match hash {
            HashAlgorithm::Sha1 => self.sha1.try_sign_with_rng(&mut OsRng, message),
            HashAlgorithm::Sha256 => self.sha256.try_sign_with_rng(&mut OsRng, message),
        };
        signature
            .map(|s| s.to_vec())
            .map_err(|_| SignError::Backend("rsa crate signing failed"))
    }

    fn key_algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::Rsa2048
    }

    fn backend_name(&self) -> &'static str {
        "rsa-crate"
    }
}
