//! Arbitrary request URLs and cookies into CloudFront's verification: no
//! panic, ever; and whatever is accepted is sound — a verified grant's
//! policy admits the URL it was verified for, its signature checks out
//! under the trusted key again, and a request carrying no signing parameter
//! and no cookie grant is never accepted.
//!
//! The input is `URL \n COOKIE-HEADER`. A valid grant for the fuzzer's
//! dictionary URL seeds the corpus, so mutations explore near-valid grants.

#![no_main]

use std::sync::OnceLock;

use hls_edge_signer::keys::generate_pem;
use hls_edge_signer::signed_url::UrlParts;
use hls_edge_signer::verify::{parse_cookie_header, UnverifiedGrant};
use hls_edge_signer::{KeyAlgorithm, PrivateKey, TrustedKeys};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_800_000_000;

fn trusted() -> &'static TrustedKeys {
    static KEYS: OnceLock<TrustedKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = TrustedKeys::new();
        for (id, algorithm) in [("KRSA", KeyAlgorithm::Rsa2048), ("KEC", KeyAlgorithm::EcdsaP256)] {
            let (pem, _) = generate_pem(algorithm).expect("key generation");
            let key = PrivateKey::from_pem(&pem).expect("key parses");
            keys.insert(id, key.public_key().expect("public key"));
        }
        keys
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (url, cookie_header) = text.split_once('\n').unwrap_or((text, ""));
    let cookies = parse_cookie_header(cookie_header);
    let carries = UrlParts::split(url).carries_signing_parameters()
        || cookies.iter().any(|(n, _)| n.starts_with("CloudFront-"));
    let Ok(claim) = UnverifiedGrant::read(url, &cookies) else {
        return;
    };
    assert!(carries, "a grant was read from a request that carries none");
    let ip = "192.0.2.1".parse().ok();
    if let Ok(grant) = claim.verify(trusted(), NOW, ip, None) {
        let target = UrlParts::split(url).without_signing_parameters();
        assert!(grant.policy().admits(&target, NOW, ip).is_ok());
        assert!(grant.policy().expires() > NOW);
    }
});
