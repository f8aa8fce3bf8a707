//! CloudFront's URL-safe Base64 variant.
//!
//! CloudFront does not use RFC 4648 `base64url`: it takes standard Base64 and
//! swaps the three characters that are unsafe in a query string, `+` → `-`,
//! `=` → `_`, `/` → `~`. Padding is kept (as `_`), so the output length is the
//! standard one. Every official signer does this, and CloudFront decodes the
//! values the same way before checking them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Encodes `bytes` as CloudFront-safe Base64.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = STANDARD.encode(bytes).into_bytes();
    swap(&mut out, b"+=/", b"-_~");
    // The standard alphabet and its three replacements are all ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Decodes CloudFront-safe Base64. Returns `None` for a character outside the
/// alphabet (including the standard `+`, `/`, `=` that CloudFront never emits)
/// or a wrong length; the verifier reports that as a malformed value.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut standard = text.as_bytes().to_vec();
    if standard.iter().any(|b| b"+=/".contains(b)) {
        return None;
    }
    swap(&mut standard, b"-_~", b"+=/");
    STANDARD.decode(&standard).ok()
}

/// Replaces each byte of `from` with the byte at the same index in `to`.
fn swap(text: &mut [u8], from: &[u8; 3], to: &[u8; 3]) {
    for byte in text.iter_mut() {
        if let Some(i) = from.iter().position(|f| f == byte) {
            *byte = to[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_the_three_unsafe_characters() {
        // 0xfb 0xff encodes to "+/8=" in standard Base64.
        assert_eq!(encode(&[0xfb, 0xff]), "-~8_");
        assert_eq!(decode("-~8_").unwrap(), vec![0xfb, 0xff]);
    }

    #[test]
    fn rejects_foreign_characters() {
        assert!(decode("ab+c").is_none());
        assert!(decode("a").is_none());
    }
}
