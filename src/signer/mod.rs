//! Signature backends behind one trait.
//!
//! CloudFront checks an RSA-2048 PKCS#1 v1.5 or an ECDSA P-256 signature over
//! the policy bytes, hashed with SHA-1 (the default) or SHA-256 (when the URL
//! carries `Hash-Algorithm=SHA256`). Three backends implement [`Signer`]:
//!
//! - [`RsaCrateSigner`]: the pure-Rust `rsa` crate, always blinded;
//! - [`AwsLcRsaSigner`]: AWS-LC's constant-time RSA, about five times faster,
//!   and the default for RSA keys;
//! - [`EcdsaP256Signer`]: ECDSA P-256 over SHA-256 through AWS-LC.
//!
//! RSA PKCS#1 v1.5 is deterministic, so both RSA backends produce the same
//! bytes as botocore and the JavaScript SDK; ECDSA is randomised and is checked
//! by verification instead.

mod awslc_rsa;
mod ecdsa;
mod rsa_crate;

pub use awslc_rsa::AwsLcRsaSigner;
pub use ecdsa::EcdsaP256Signer;
pub use rsa_crate::RsaCrateSigner;

use std::fmt;
use std::str::FromStr;

/// The digest a signature is computed over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// CloudFront's default, used when no `Hash-Algorithm` is given.
    #[default]
    Sha1,
    /// Selected with `Hash-Algorithm=SHA256` / `CloudFront-Hash-Algorithm=SHA256`.
    Sha256,
}

impl HashAlgorithm {
    /// The value of the `Hash-Algorithm` parameter, or `None` for the default,
    /// which official signers leave out of the URL.
    pub fn parameter_value(self) -> Option<&'static str> {
        match self {
            Self::Sha1 => None,
            Self::Sha256 => Some("SHA256"),
        }
    }

    /// Reads a `Hash-Algorithm` parameter value as CloudFront does.
    pub fn from_parameter(value: &str) -> Option<Self> {
        match value {
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            _ => None,
        }
    }
}

impl FromStr for HashAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "sha1" | "sha-1" => Ok(Self::Sha1),
            "sha256" | "sha-256" => Ok(Self::Sha256),
            _ => Err(format!("unknown hash algorithm `{text}` (sha1 or sha256)")),
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        })
    }
}

/// The kind of key a signer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    Rsa2048,
    EcdsaP256,
}

/// Why a signature could not be produced.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    #[error("ECDSA keys sign with SHA-256 only; use the sha256 hash algorithm")]
    EcdsaNeedsSha256,
    #[error("the signing library failed: {0}")]
    Backend(&'static str),
}

/// Produces CloudFront signatures over policy bytes.
///
/// Implementations hold a parsed private key and are shared across threads
/// and requests, so the key is parsed once per process.
pub trait Signer: Send + Sync {
    /// Signs `message` (the policy JSON) and returns the raw signature bytes.
    fn sign(&self, message: &[u8], hash: HashAlgorithm) -> Result<Vec<u8>, SignError>;

    /// The kind of key behind this signer.
    fn key_algorithm(&self) -> KeyAlgorithm;

    /// A short name for logs and benchmarks.
    fn backend_name(&self) -> &'static str;
}

/// Which implementation signs with an RSA key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RsaBackend {
    /// AWS-LC: constant-time and fast.
    #[default]
    AwsLc,
    /// The pure-Rust `rsa` crate (blinded).
    RsaCrate,
}
