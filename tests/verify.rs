//! Sign → verify round trips for every backend and hash, and one test per
//! CloudFront rejection code. Keys are generated at test time, so these run
//! on any checkout.

mod common;

use std::net::IpAddr;

use common::generated_key;
use hls_edge_signer::signed_url::UrlError;
use hls_edge_signer::signer::SignError;
use hls_edge_signer::verify::GrantSource;
use hls_edge_signer::{
    verify_request, Condition, ErrorCode, HashAlgorithm, KeyAlgorithm, Policy, PrivateKey,
    PublicKey, RsaBackend, TrustedKeys, UrlSigner,
};
use proptest::prelude::*;

const HOST: &str = "https://d111111abcdef8.cloudfront.net";
const NOW: u64 = 1_800_000_000;

/// Every (key, backend, hash) combination CloudFront accepts.
fn signers() -> Vec<(UrlSigner, TrustedKeys)> {
    let mut out = Vec::new();
    for algorithm in [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcdsaP256] {
        let (private, public) = generated_key(algorithm);
        let key = PrivateKey::from_pem(private).unwrap();
        let mut trusted = TrustedKeys::new();
        trusted.insert("KTEST", PublicKey::from_pem(public).unwrap());
        let backends: &[RsaBackend] = match algorithm {
            KeyAlgorithm::Rsa2048 => &[RsaBackend::AwsLc, RsaBackend::RsaCrate],
            KeyAlgorithm::EcdsaP256 => &[RsaBackend::AwsLc],
        };
        let hashes: &[HashAlgorithm] = match algorithm {
            KeyAlgorithm::Rsa2048 => &[HashAlgorithm::Sha1, HashAlgorithm::Sha256],
            KeyAlgorithm::EcdsaP256 => &[HashAlgorithm::Sha256],
        };
        for &backend in backends {
            for &hash in hashes {
                let signer = UrlSigner::new(key.signer(backend).unwrap(), "KTEST", hash).unwrap();
                out.push((signer, trusted.clone()));
            }
        }
    }
    out
}

fn rsa_signer() -> (UrlSigner, TrustedKeys) {
    signers().remove(0)
}

fn code(url: &str, trusted: &TrustedKeys, at: u64, ip: Option<&str>) -> ErrorCode {
    let ip: Option<IpAddr> = ip.map(|ip| ip.parse().unwrap());
    verify_request(url, &[], trusted, at, ip).unwrap_err().code
}

#[test]
fn every_backend_round_trips_canned_and_custom() {
    let combos = signers();
    assert_eq!(combos.len(), 5);
    for (signer, trusted) in &combos {
        let url = format!("{HOST}/videos/seg-1.ts?session=a&lang=en");
        let canned = signer
            .sign_url(&url, &Policy::canned(&url, NOW + 60))
            .unwrap();
        assert!(canned.contains("Expires="), "{canned}");
        let grant = verify_request(&canned, &[], trusted, NOW, None).unwrap();
        assert!(grant.canned());
        assert_eq!(grant.hash(), signer.hash());

        let policy = Policy::custom(&format!("{HOST}/videos/*"), NOW + 60)
            .with(Condition::IpAddress("192.0.2.0/24".parse().unwrap()))
            .with(Condition::DateGreaterThan(NOW - 60));
        let custom = signer.sign_url(&url, &policy).unwrap();
        assert!(custom.contains("Policy="));
        let ip = Some("192.0.2.7".parse().unwrap());
        let grant = verify_request(&custom, &[], trusted, NOW, ip).unwrap();
        assert_eq!(grant.policy(), &policy);
        assert_eq!(
            grant.params().to_query(),
            custom.split_once("lang=en&").unwrap().1
        );

        // The custom grant covers siblings, including LL-HLS reload queries.
        let sibling = format!(
            "{HOST}/videos/low/index._m3u8?_HLS_msn=3&_HLS_part=1&{}",
            grant.params().to_query()
        );
        verify_request(&sibling, &[], trusted, NOW, ip).unwrap();

        let cookies = signer.sign_cookies(&policy).unwrap().cookies;
        let grant =
            verify_request(&format!("{HOST}/videos/a.ts"), &cookies, trusted, NOW, ip).unwrap();
        assert_eq!(grant.source(), GrantSource::Cookies);
    }
}

#[test]
fn players_re_encoding_tilde_still_verify() {
    let (signer, trusted) = rsa_signer();
    for attempt in 0..20 {
        let url = format!("{HOST}/v/{attempt}.ts");
        let signed = signer
            .sign_url(&url, &Policy::canned(&url, NOW + 1))
            .unwrap();
        let reencoded = signed.replace('~', "%7E");
        verify_request(&reencoded, &[], &trusted, NOW, None).unwrap();
    }
}

#[test]
fn missing_key() {
    let (signer, trusted) = rsa_signer();
    let url = format!("{HOST}/a.ts");
    let signed = signer
        .sign_url(&url, &Policy::canned(&url, NOW + 1))
        .unwrap();
    assert_eq!(code(&url, &trusted, NOW, None), ErrorCode::MissingKey);
    let without_id = signed.replace("&Key-Pair-Id=KTEST", "");
    assert_eq!(
        code(&without_id, &trusted, NOW, None),
        ErrorCode::MissingKey
    );
}

#[test]
fn invalid_key() {
    let (signer, trusted) = rsa_signer();
    let url = format!("{HOST}/a.ts");
    let signed = signer
        .sign_url(&url, &Policy::canned(&url, NOW + 1))
        .unwrap();
    let other_id = signed.replace("Key-Pair-Id=KTEST", "Key-Pair-Id=KOTHER");
    assert_eq!(code(&other_id, &trusted, NOW, None), ErrorCode::InvalidKey);
}

#[test]
fn malformed_signature() {
    let (signer, trusted) = rsa_signer();
    let url = format!("{HOST}/a.ts");
    let signed = signer
        .sign_url(&url, &Policy::canned(&url, NOW + 1))
        .unwrap();
    let sig = signed
        .split("Signature=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    for bad in ["!!!", "abc", "a+b/"] {
        let url = signed.replace(sig, bad);
        assert_eq!(
            code(&url, &trusted, NOW, None),
            ErrorCode::MalformedSignature,
            "{bad}"
        );
    }
    let no_sig = signed.replace(&format!("Signature={sig}&"), "");
    assert_eq!(
        code(&no_sig, &trusted, NOW, None),
        ErrorCode::MalformedSignature
    );
    let bad_hash = format!("{signed}&Hash-Algorithm=MD5");
    assert_eq!(
        code(&bad_hash, &trusted, NOW, None),
        ErrorCode::MalformedSignature
    );
}

#[test]
fn malformed_policy() {
    let (signer, trusted) = rsa_signer();
    let url = format!("{HOST}/a.ts");
    let policy = Policy::custom(&format!("{HOST}/*"), NOW + 1);
    let signed = signer.sign_url(&url, &policy).unwrap();
    let encoded = signed
        .split("Policy=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    for bad in [
        "***",
        "eyJTdGF0ZW1lbnQiOltdfQ__", /* {"Statement":[]} */
    ] {
        let url = signed.replace(encoded, bad);
        assert_eq!(
            code(&url, &trusted, NOW, None),
            ErrorCode::MalformedPolicy,
            "{bad}"
        );
    }
    let both = format!("{signed}&Expires={}", NOW + 1);
    assert_eq!(code(&both, &trusted, NOW, None), ErrorCode::MalformedPolicy);
    let neither = signed.replace(&format!("Policy={encoded}&"), "");
    assert_eq!(
        code(&neither, &trusted, NOW, None),
        ErrorCode::MalformedPolicy
    );
}

#[test]
fn access_denied_for_every_broken_condition() {
    let (signer, trusted) = rsa_signer();
    let url = format!("{HOST}/live/a.ts");
    let policy = Policy::custom(&format!("{HOST}/live/*"), NOW + 60)
        .with(Condition::IpAddress("198.51.100.0/24".parse().unwrap()))
        .with(Condition::DateGreaterThan(NOW - 60));
    let signed = signer.sign_url(&url, &policy).unwrap();
    let ok_ip = Some("198.51.100.1");
    assert!(verify_request(
        &signed,
        &[],
        &trusted,
        NOW,
        ok_ip.map(|i| i.parse().unwrap())
    )
    .is_ok());
    // expired, not yet valid, wrong IP, unknown IP, IPv6 viewer
    assert_eq!(
        code(&signed, &trusted, NOW + 60, ok_ip),
        ErrorCode::AccessDenied
    );
    assert_eq!(
        code(&signed, &trusted, NOW - 61, ok_ip),
        ErrorCode::AccessDenied
    );
    assert_eq!(
        code(&signed, &trusted, NOW, Some("198.51.101.1")),
        ErrorCode::AccessDenied
    );
    assert_eq!(code(&signed, &trusted, NOW, None), ErrorCode::AccessDenied);
    assert_eq!(
        code(&signed, &trusted, NOW, Some("2001:db8::1")),
        ErrorCode::AccessDenied
    );
    // another path, and a tampered query on a canned URL
    let elsewhere = signed.replace("/live/a.ts", "/vod/a.ts");
    assert_eq!(
        code(&elsewhere, &trusted, NOW, ok_ip),
        ErrorCode::AccessDenied
    );
    let canned = signer
        .sign_url(&url, &Policy::canned(&url, NOW + 60))
        .unwrap();
    let tampered = canned.replace("a.ts?", "a.ts?x=1&");
    assert_eq!(
        code(&tampered, &trusted, NOW, None),
        ErrorCode::AccessDenied
    );
    let later = canned.replace(
        &format!("Expires={}", NOW + 60),
        &format!("Expires={}", NOW + 61),
    );
    assert_eq!(code(&later, &trusted, NOW, None), ErrorCode::AccessDenied);
}

#[test]
fn wrong_key_is_access_denied() {
    let (signer, _) = rsa_signer();
    let (_, ec_public) = generated_key(KeyAlgorithm::EcdsaP256);
    let mut wrong = TrustedKeys::new();
    wrong.insert("KTEST", PublicKey::from_pem(ec_public).unwrap());
    let url = format!("{HOST}/a.ts");
    let signed = signer
        .sign_url(&url, &Policy::canned(&url, NOW + 1))
        .unwrap();
    assert_eq!(code(&signed, &wrong, NOW, None), ErrorCode::AccessDenied);
}

#[test]
fn signed_url_wins_over_cookies() {
    let (signer, trusted) = rsa_signer();
    let url = format!("{HOST}/a.ts");
    let cookies = signer
        .sign_cookies(&Policy::custom(&format!("{HOST}/*"), NOW + 60))
        .unwrap()
        .cookies;
    // Valid cookies, but a (broken) signed URL: CloudFront judges the URL.
    let broken = format!(
        "{url}?Expires={}&Signature=AAAA&Key-Pair-Id=KTEST",
        NOW + 60
    );
    let rejection = verify_request(&broken, &cookies, &trusted, NOW, None).unwrap_err();
    assert_eq!(rejection.code, ErrorCode::AccessDenied);
    assert!(verify_request(&url, &cookies, &trusted, NOW, None).is_ok());
}

#[test]
fn refuses_urls_it_must_not_sign() {
    let (signer, _) = rsa_signer();
    let policy = |u: &str| Policy::canned(u, NOW);
    for reserved in [
        "Expires",
        "Policy",
        "Signature",
        "Key-Pair-Id",
        "Hash-Algorithm",
    ] {
        let url = format!("{HOST}/a.ts?x=1&{reserved}=2");
        assert_eq!(
            signer.sign_url(&url, &policy(&url)),
            Err(UrlError::ReservedParameter(reserved.to_owned()))
        );
    }
    assert_eq!(
        signer.sign_url("/relative.ts", &policy("/relative.ts")),
        Err(UrlError::NotAbsolute("/relative.ts".to_owned()))
    );
    let with_fragment = format!("{HOST}/a.ts#t=1");
    assert_eq!(
        signer.sign_url(&with_fragment, &policy(&with_fragment)),
        Err(UrlError::HasFragment)
    );
    let url = format!("{HOST}/a.ts?x=1");
    assert!(signer
        .sign_url(&url, &policy(&url))
        .unwrap()
        .starts_with(&format!("{url}&Expires=")));
}

#[test]
fn ecdsa_refuses_sha1() {
    let key = PrivateKey::from_pem(&generated_key(KeyAlgorithm::EcdsaP256).0).unwrap();
    let signer = key.signer(RsaBackend::AwsLc).unwrap();
    assert_eq!(
        UrlSigner::new(signer.clone(), "K", HashAlgorithm::Sha1).unwrap_err(),
        SignError::EcdsaNeedsSha256
    );
    assert_eq!(
        signer.sign(b"x", HashAlgorithm::Sha1),
        Err(SignError::EcdsaNeedsSha256)
    );
    assert_eq!(key.default_hash(), HashAlgorithm::Sha256);
}

#[test]
fn ecdsa_signatures_are_short() {
    let (signer, _) = signers().pop().unwrap();
    let url = format!("{HOST}/a.ts");
    let signed = signer.sign_url(&url, &Policy::canned(&url, NOW)).unwrap();
    let sig = signed
        .split("Signature=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(sig.len() <= 96, "{} chars", sig.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random paths, queries, expiries and ranges: what is signed verifies,
    /// and the grant reports exactly the policy that was signed.
    #[test]
    fn random_requests_round_trip(
        path in "[a-zA-Z0-9_.~%-]{1,30}(/[a-zA-Z0-9_.-]{1,12}){0,3}",
        query in proptest::option::of("[a-z]{1,5}=[a-z0-9%]{0,8}(&[a-z]{1,5}=[a-z0-9]{0,8}){0,2}"),
        ttl in 1u64..1_000_000,
        prefix in 0u8..=32,
        combo in 0usize..5,
    ) {
        let (signer, trusted) = &signers()[combo];
        let mut url = format!("{HOST}/{path}");
        if let Some(query) = &query {
            url = format!("{url}?{query}");
        }
        let canned = Policy::canned(&url, NOW + ttl);
        let signed = signer.sign_url(&url, &canned).unwrap();
        let grant = verify_request(&signed, &[], trusted, NOW, None).unwrap();
        prop_assert_eq!(grant.policy(), &canned);

        let range = format!("203.0.113.9/{prefix}").parse().unwrap();
        let custom = Policy::custom(&format!("{HOST}/*"), NOW + ttl).with(Condition::IpAddress(range));
        let signed = signer.sign_url(&url, &custom).unwrap();
        let grant = verify_request(&signed, &[], trusted, NOW, Some("203.0.113.9".parse().unwrap())).unwrap();
        prop_assert_eq!(grant.policy(), &custom);
        prop_assert_eq!(
            verify_request(&signed, &[], trusted, NOW + ttl, Some("203.0.113.9".parse().unwrap())).unwrap_err().code,
            ErrorCode::AccessDenied
        );
    }
}
