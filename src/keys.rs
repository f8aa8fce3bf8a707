//! PEM keys in, signers and verifiers out — parsed once, with precise errors.
//!
//! CloudFront accepts RSA-2048 and ECDSA P-256 public keys only, so anything
//! else is refused here, at load time, with a message that names the problem
//! (a 4096-bit key would otherwise sign happily and fail at the edge with a
//! bare 403). Error messages never contain key material.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING, RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
    RSA_PKCS1_2048_8192_SHA256,
};
use der::asn1::ObjectIdentifier;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use crate::signer::{
    AwsLcRsaSigner, EcdsaP256Signer, HashAlgorithm, KeyAlgorithm, RsaBackend, RsaCrateSigner,
    Signer,
};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The RSA modulus size CloudFront requires.
pub const CLOUDFRONT_RSA_BITS: usize = 2048;

/// Why a key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("no PEM block found (expected -----BEGIN ... KEY-----)")]
    NotPem,
    /// The reason is one of a fixed set of phrases: a damaged PEM must
    /// never have its text (the key itself) quoted back.
    #[error("the PEM block is damaged: {0}")]
    BadPem(&'static str),
    #[error("encrypted private keys are not supported; decrypt it first (openssl pkey -in KEY -out PLAIN)")]
    Encrypted,
    #[error("expected a private key but found a `{0}` block")]
    NotPrivate(String),
    #[error("expected a public key but found a `{0}` block")]
    NotPublic(String),
    #[error("unsupported PEM block `{0}`")]
    UnsupportedLabel(String),
    #[error("unsupported key algorithm {0}: CloudFront accepts RSA-2048 and ECDSA P-256")]
    UnsupportedAlgorithm(String),
    #[error("EC key is not on P-256 (prime256v1), the only curve CloudFront accepts")]
    WrongCurve,
    #[error("RSA key is {0} bits; CloudFront requires 2048-bit keys")]
    WrongRsaSize(usize),
    #[error("the key's contents are invalid: {0}")]
    Invalid(&'static str),
}

/// A parsed private key, ready to build signers from.
pub struct PrivateKey {
    inner: PrivateInner,
}

enum PrivateInner {
    Rsa {
        key: Box<RsaPrivateKey>,
        pkcs1_der: Zeroizing<Vec<u8>>,
    },
    EcP256 {
        der: Zeroizing<Vec<u8>>,
    },
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, even in debug output.
        write!(f, "PrivateKey({:?})", self.algorithm())
    }
}

impl PrivateKey {
    /// Parses a PEM private key: PKCS#1 or PKCS#8 RSA, PKCS#8 or SEC1 EC.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = first_key_block(pem)?;
        match label.as_str() {
            "RSA PRIVATE KEY" => Self::rsa_from_pkcs1(&der),
            "PRIVATE KEY" => {
                let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice())
                    .map_err(|_| KeyError::BadPem("not a PKCS#8 structure"))?;
                if info.algorithm.oid == RSA_ENCRYPTION {
                    Self::rsa_from_pkcs1(info.private_key)
                } else if info.algorithm.oid == EC_PUBLIC_KEY {
                    if info.algorithm.parameters_oid().ok() != Some(PRIME256V1) {
                        return Err(KeyError::WrongCurve);
                    }
                    Self::ec_from_der(der)
                } else {
                    Err(KeyError::UnsupportedAlgorithm(
                        info.algorithm.oid.to_string(),
                    ))
                }
            }
            "EC PRIVATE KEY" => Self::ec_from_der(der),
            "ENCRYPTED PRIVATE KEY" => Err(KeyError::Encrypted),
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => Err(KeyError::NotPrivate(label)),
            _ => Err(KeyError::UnsupportedLabel(label)),
        }
    }

    fn rsa_from_pkcs1(der: &[u8]) -> Result<Self, KeyError> {
        let key = RsaPrivateKey::from_pkcs1_der(der)
            .map_err(|_| KeyError::Invalid("not a PKCS#1 RSA private key"))?;
        let bits = key.size() * 8;
        if bits != CLOUDFRONT_RSA_BITS {
            return Err(KeyError::WrongRsaSize(bits));
        }
        key.validate()
            .map_err(|_| KeyError::Invalid("RSA key fails its consistency check"))?;
        Ok(Self {
            inner: PrivateInner::Rsa {
                key: Box::new(key),
                pkcs1_der: Zeroizing::new(der.to_vec()),
            },
        })
    }

    fn ec_from_der(der: Zeroizing<Vec<u8>>) -> Result<Self, KeyError> {
        EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
            .map_err(|_| KeyError::Invalid("not a valid P-256 EC private key"))?;
        Ok(Self {
            inner: PrivateInner::EcP256 { der },
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.inner {
            PrivateInner::Rsa { .. } => KeyAlgorithm::Rsa2048,
            PrivateInner::EcP256 { .. } => KeyAlgorithm::EcdsaP256,
        }
    }

    /// The hash to use when the caller does not choose one: CloudFront's SHA-1
    /// default for RSA, SHA-256 for ECDSA (the only one this crate signs with).
    pub fn default_hash(&self) -> HashAlgorithm {
        match self.algorithm() {
            KeyAlgorithm::Rsa2048 => HashAlgorithm::Sha1,
            KeyAlgorithm::EcdsaP256 => HashAlgorithm::Sha256,
        }
    }

    /// Builds a signer; `rsa_backend` picks the RSA implementation and is
    /// ignored for EC keys.
    pub fn signer(&self, rsa_backend: RsaBackend) -> Result<Arc<dyn Signer>, KeyError> {
        Ok(match (&self.inner, rsa_backend) {
            (PrivateInner::Rsa { pkcs1_der, .. }, RsaBackend::AwsLc) => Arc::new(
                AwsLcRsaSigner::from_pkcs1_der(pkcs1_der)
                    .ok_or(KeyError::Invalid("AWS-LC refused the RSA key"))?,
            ),
            (PrivateInner::Rsa { key, .. }, RsaBackend::RsaCrate) => {
                Arc::new(RsaCrateSigner::new(RsaPrivateKey::clone(key)))
            }
            (PrivateInner::EcP256 { der }, _) => Arc::new(
                EcdsaP256Signer::from_der(der)
                    .ok_or(KeyError::Invalid("not a valid P-256 EC private key"))?,
            ),
        })
    }

    /// The matching public key.
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        match &self.inner {
            PrivateInner::Rsa { key, .. } => {
                let der =
                    rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(&RsaPublicKey::from(key.as_ref()))
                        .map_err(|_| KeyError::Invalid("cannot encode RSA public key"))?;
                Ok(PublicKey {
                    algorithm: KeyAlgorithm::Rsa2048,
                    der: der.as_bytes().to_vec(),
                })
            }
            PrivateInner::EcP256 { der } => {
                let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, der)
                    .map_err(|_| KeyError::Invalid("not a valid P-256 EC private key"))?;
                Ok(PublicKey {
                    algorithm: KeyAlgorithm::EcdsaP256,
                    der: pair.public_key().as_ref().to_vec(),
                })
            }
        }
    }
}

/// A parsed public key that checks CloudFront signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    /// PKCS#1 `RSAPublicKey` for RSA, the uncompressed point for EC: the raw
    /// forms AWS-LC's verifiers take.
    der: Vec<u8>,
}

impl PublicKey {
    /// Parses a PEM public key: SPKI (`PUBLIC KEY`, what CloudFront stores)
    /// or PKCS#1 (`RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = first_key_block(pem)?;
        match label.as_str() {
            "PUBLIC KEY" => {
                let info = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice())
                    .map_err(|_| KeyError::BadPem("not a SubjectPublicKeyInfo structure"))?;
                let raw = info.subject_public_key.raw_bytes();
                if info.algorithm.oid == RSA_ENCRYPTION {
                    Self::rsa_from_pkcs1(raw)
                } else if info.algorithm.oid == EC_PUBLIC_KEY {
                    if info.algorithm.parameters_oid().ok() != Some(PRIME256V1) {
                        return Err(KeyError::WrongCurve);
                    }
                    // Reject points that are not on the curve now, not at verification.
                    aws_lc_rs::signature::ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, raw)
                        .map_err(|_| KeyError::Invalid("not a valid P-256 public point"))?;
                    Ok(Self {
                        algorithm: KeyAlgorithm::EcdsaP256,
                        der: raw.to_vec(),
                    })
                } else {
                    Err(KeyError::UnsupportedAlgorithm(
                        info.algorithm.oid.to_string(),
                    ))
                }
            }
            "RSA PUBLIC KEY" => Self::rsa_from_pkcs1(&der),
            label if label.contains("PRIVATE KEY") => Err(KeyError::NotPublic(label.to_owned())),
            _ => Err(KeyError::UnsupportedLabel(label)),
        }
    }

    fn rsa_from_pkcs1(der: &[u8]) -> Result<Self, KeyError> {
        let key = RsaPublicKey::from_pkcs1_der(der)
            .map_err(|_| KeyError::Invalid("not a PKCS#1 RSA public key"))?;
        let bits = key.size() * 8;
        if bits != CLOUDFRONT_RSA_BITS {
            return Err(KeyError::WrongRsaSize(bits));
        }
        Ok(Self {
            algorithm: KeyAlgorithm::Rsa2048,
            der: der.to_vec(),
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The raw key bytes verification uses (public; for fingerprints).
    pub(crate) fn der_bytes(&self) -> &[u8] {
        &self.der
    }

    /// Whether `signature` is this key's signature of `message` under `hash`.
    pub fn verify(&self, message: &[u8], signature: &[u8], hash: HashAlgorithm) -> bool {
        let algorithm: &'static dyn VerificationAlgorithm = match (self.algorithm, hash) {
            (KeyAlgorithm::Rsa2048, HashAlgorithm::Sha1) => {
                &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            (KeyAlgorithm::Rsa2048, HashAlgorithm::Sha256) => &RSA_PKCS1_2048_8192_SHA256,
            (KeyAlgorithm::EcdsaP256, HashAlgorithm::Sha256) => &ECDSA_P256_SHA256_ASN1,
            (KeyAlgorithm::EcdsaP256, HashAlgorithm::Sha1) => return false,
        };
        UnparsedPublicKey::new(algorithm, &self.der)
            .verify(message, signature)
            .is_ok()
    }
}

/// A freshly generated key pair as PEM text (private, public SPKI).
///
/// Used for development keys (`make run`) and for tests on a machine that has
/// no fixture keys.
pub fn generate_pem(algorithm: KeyAlgorithm) -> Result<(Zeroizing<String>, String), KeyError> {
    let failed = |_| KeyError::Invalid("key generation failed");
    match algorithm {
        KeyAlgorithm::Rsa2048 => {
            let key = RsaPrivateKey::new(&mut rand_core::OsRng, CLOUDFRONT_RSA_BITS)
                .map_err(|_| KeyError::Invalid("key generation failed"))?;
            let private = key
                .to_pkcs1_pem(LineEnding::LF)
                .map_err(|_| KeyError::Invalid("key encoding failed"))?;
            let public = RsaPublicKey::from(&key)
                .to_public_key_pem(LineEnding::LF)
                .map_err(|_| KeyError::Invalid("key encoding failed"))?;
            Ok((private, public))
        }
        KeyAlgorithm::EcdsaP256 => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(failed)?;
            let pkcs8 = pair.to_pkcs8v1().map_err(failed)?;
            let private = der::pem::encode_string("PRIVATE KEY", LineEnding::LF, pkcs8.as_ref())
                .map_err(|_| KeyError::Invalid("key encoding failed"))?;
            let spki = pair.public_key().as_der().map_err(failed)?;
            let public = der::pem::encode_string("PUBLIC KEY", LineEnding::LF, spki.as_ref())
                .map_err(|_| KeyError::Invalid("key encoding failed"))?;
            Ok((Zeroizing::new(private), public))
        }
    }
}

/// The longest PEM label accepted (`ENCRYPTED PRIVATE KEY` is 21 bytes).
const MAX_LABEL: usize = 40;

/// Finds the first PEM block that is not `EC PARAMETERS` (which
/// `openssl ecparam -genkey` writes before the key) and decodes it.
///
/// Every error names the problem without quoting the input: the text of a
/// damaged private key is the key. A label is only echoed once it is known
/// to be a short run of capitals, digits and spaces on the BEGIN line itself.
fn first_key_block(pem: &str) -> Result<(String, Zeroizing<Vec<u8>>), KeyError> {
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let line_end = block.find(['\n', '\r']).unwrap_or(block.len());
        let begin_line = &block[..line_end];
        let label = begin_line[11..]
            .strip_suffix("-----")
            .filter(|label| {
                !label.is_empty()
                    && label.len() <= MAX_LABEL
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
            })
            .ok_or(KeyError::BadPem(
                "the BEGIN line is not `-----BEGIN <LABEL>-----` on a line of its own",
            ))?;
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .ok_or(KeyError::BadPem("the block has no matching END line"))?
            + end_marker.len();
        if label == "EC PARAMETERS" {
            rest = &block[end..];
            continue;
        }
        if block[..end].contains("Proc-Type: 4,ENCRYPTED") {
            return Err(KeyError::Encrypted);
        }
        let (decoded_label, der) = der::Document::from_pem(&block[..end])
            .map_err(|_| KeyError::BadPem("the base64 body does not decode to DER"))?;
        return Ok((decoded_label.to_owned(), Zeroizing::new(der.into_vec())));
    }
    Err(KeyError::NotPem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_cloudfront_would_refuse() {
        assert_eq!(PrivateKey::from_pem("hello").unwrap_err(), KeyError::NotPem);
        assert!(matches!(
            PrivateKey::from_pem(
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
            ),
            Err(KeyError::Invalid(_)) | Err(KeyError::BadPem(_))
        ));
        assert!(matches!(
            PrivateKey::from_pem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"),
            Err(KeyError::Encrypted) | Err(KeyError::BadPem(_))
        ));
        let small = RsaPrivateKey::new(&mut rand_core::OsRng, 1024).unwrap();
        let pem = small.to_pkcs1_pem(LineEnding::LF).unwrap();
        assert_eq!(
            PrivateKey::from_pem(&pem).unwrap_err(),
            KeyError::WrongRsaSize(1024)
        );
        let public = RsaPublicKey::from(&small)
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        assert_eq!(
            PublicKey::from_pem(&public).unwrap_err(),
            KeyError::WrongRsaSize(1024)
        );
        assert!(matches!(
            PrivateKey::from_pem(&public),
            Err(KeyError::NotPrivate(_))
        ));
        assert!(matches!(
            PublicKey::from_pem(&pem),
            Err(KeyError::NotPublic(_))
        ));
    }

    #[test]
    fn refuses_other_curves() {
        let p384 =
            EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING).unwrap();
        let pem = der::pem::encode_string(
            "PRIVATE KEY",
            LineEnding::LF,
            p384.to_pkcs8v1().unwrap().as_ref(),
        )
        .unwrap();
        assert_eq!(
            PrivateKey::from_pem(&pem).unwrap_err(),
            KeyError::WrongCurve
        );
        let spki = p384.public_key().as_der().unwrap();
        let pem = der::pem::encode_string("PUBLIC KEY", LineEnding::LF, spki.as_ref()).unwrap();
        assert_eq!(PublicKey::from_pem(&pem).unwrap_err(), KeyError::WrongCurve);
    }

    #[test]
    fn generated_keys_round_trip() {
        for algorithm in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
            let (private, public) = generate_pem(algorithm).unwrap();
            let key = PrivateKey::from_pem(&private).unwrap();
            assert_eq!(key.algorithm(), algorithm);
            assert_eq!(
                key.public_key().unwrap(),
                PublicKey::from_pem(&public).unwrap()
            );
            assert!(!format!("{key:?}").contains("BEGIN"));
        }
    }
}
