//! ECDSA P-256 signing through `aws-lc-rs`.
//!
//! CloudFront has accepted ECDSA P-256 public keys since 2025-09. The
//! signature is the ASN.1 DER `ECDSA-Sig-Value` (about 72 bytes, 96 Base64
//! characters instead of RSA's 344), which matters when every URI of a
//! playlist carries one under a 40 KB response limit. Signatures are
//! randomised, so tests check them by verification rather than by bytes.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

use super::{HashAlgorithm, KeyAlgorithm, SignError, Signer};

/// ECDSA P-256 / SHA-256 signer.
pub struct EcdsaP256Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl EcdsaP256Signer {
    /// Parses a PKCS#8 or SEC1 (RFC 5915) P-256 private key in DER form.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let key = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, der).ok()?;
        Some(Self {
            key,
            rng: SystemRandom::new(),
        })
    }
}

impl Signer for EcdsaP256Signer {
    fn sign(&self, message: &[u8], hash: HashAlgorithm) -> Result<Vec<u8>, SignError> {
        if hash != HashAlgorithm::Sha256 {
            return Err(SignError::EcdsaNeedsSha256);
        }
        self.key
            .sign(&self.rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| SignError::Backend("AWS-LC ECDSA signing failed"))
    }

    fn key_algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::EcdsaP256
    }

    fn backend_name(&self) -> &'static str {
        "aws-lc-ecdsa-p256"
    }
}
