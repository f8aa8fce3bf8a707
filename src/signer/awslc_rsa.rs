//! RSA signing through AWS-LC's C API — the crate's only `unsafe` code.
//!
//! Why C: `aws-lc-rs` (like `ring`) refuses SHA-1 *signing* in its safe API,
//! and SHA-1 is CloudFront's default. AWS-LC itself, already linked through
//! the AWS SDK's TLS stack, signs PKCS#1 v1.5 with any digest through
//! `RSA_sign`. Its private-key operation is constant-time (Montgomery
//! exponentiation in fixed windows) and blinded, which is what the `rsa`
//! crate's Marvin advisory (RUSTSEC-2023-0071) is about.
//!
//! Safety argument, in one place:
//! - the `RSA*` is created by `RSA_private_key_from_bytes`, checked non-null,
//!   checked by `RSA_check_key`, owned by exactly one [`AwsLcRsaSigner`] and
//!   freed exactly once in `Drop`;
//! - AWS-LC documents the signing functions as non-mutating for thread-safety
//!   purposes ("may be used concurrently", `rsa.h`), so sharing the pointer
//!   across threads (`Send + Sync`) is sound;
//! - every buffer passed in is a live Rust slice with its true length, and the
//!   output buffer is `RSA_size` bytes, the maximum `RSA_sign` writes.

use std::ptr::NonNull;

use aws_lc_sys as ffi;
use sha1::Digest;

use super::{HashAlgorithm, KeyAlgorithm, SignError, Signer};

/// RSA PKCS#1 v1.5 signer backed by AWS-LC.
pub struct AwsLcRsaSigner {
    rsa: NonNull<ffi::RSA>,
}

// SAFETY: see the module comment — AWS-LC's RSA signing is safe to call
// concurrently on one key, and the key is never mutated after construction.
unsafe impl Send for AwsLcRsaSigner {}
unsafe impl Sync for AwsLcRsaSigner {}

impl AwsLcRsaSigner {
    /// Builds a signer from a PKCS#1 `RSAPrivateKey` DER document.
    ///
    /// Returns `None` if AWS-LC cannot parse it or its consistency check fails;
    /// callers parse and size-check keys first and report precise errors.
    pub fn from_pkcs1_der(der: &[u8]) -> Option<Self> {
        // SAFETY: `der` is a valid slice for the duration of the call; AWS-LC
        // copies what it needs and returns an owned object or null.
        let raw = unsafe { ffi::RSA_private_key_from_bytes(der.as_ptr(), der.len()) };
        let rsa = NonNull::new(raw)?;
        let signer = Self { rsa };
        // SAFETY: `rsa` is a valid, owned RSA object.
        let valid = unsafe { ffi::RSA_check_key(signer.rsa.as_ptr()) } == 1;
        // On failure `signer` drops here and frees the object.
        valid.then_some(signer)
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> u32 {
        // SAFETY: `self.rsa` is valid for the lifetime of `self`.
        unsafe { ffi::RSA_bits(self.rsa.as_ptr()) }
    }
}

impl Drop for AwsLcRsaSigner {
    fn drop(&mut self) {
        // SAFETY: the pointer is owned by this value and freed only here.
        unsafe { ffi::RSA_free(self.rsa.as_ptr()) }
    }
}

impl Signer for AwsLcRsaSigner {
    fn sign(&self, message: &[u8], hash: HashAlgorithm) -> Result<Vec<u8>, SignError> {
        let sha1;
        let sha256;
        let (nid, digest): (i32, &[u8]) = match hash {
            HashAlgorithm::Sha1 => {
                sha1 = sha1::Sha1::digest(message);
                (ffi::NID_sha1, sha1.as_slice())
            }
            HashAlgorithm::Sha256 => {
                sha256 = sha2::Sha256::digest(message);
                (ffi::NID_sha256, sha256.as_slice())
            }
        };
        // SAFETY: `self.rsa` is valid.
        let size = unsafe { ffi::RSA_size(self.rsa.as_ptr()) } as usize;
        let mut signature = vec![0u8; size];
        let mut written: std::os::raw::c_uint = 0;
        // SAFETY: `digest` is a live slice of its stated length; `signature`
        // has `RSA_size` bytes, the most `RSA_sign` writes; `written` is a
        // valid out-pointer; `self.rsa` is valid and signing does not mutate it.
        let ok = unsafe {
            ffi::RSA_sign(
                nid,
                digest.as_ptr(),
                digest.len(),
                signature.as_mut_ptr(),
                &mut written,
                self.rsa.as_ptr(),
            )
        };
        if ok != 1 {
            return Err(SignError::Backend("AWS-LC RSA_sign failed"));
        }
        signature.truncate(written as usize);
        Ok(signature)
    }

    fn key_algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::Rsa2048
    }

    fn backend_name(&self) -> &'static str {
        "aws-lc-rsa"
    }
}
