//! Byte-for-byte agreement with the official signers (botocore for SHA-1,
//! the JavaScript SDK for SHA-256), for every RSA backend.

mod common;

use std::collections::BTreeMap;

use common::{query_params, shared_testdata};
use hls_edge_signer::policy::IpError;
use hls_edge_signer::{
    verify_request, Condition, ErrorCode, HashAlgorithm, Ipv4Cidr, Policy, PrivateKey, PublicKey,
    RsaBackend, TrustedKeys, UrlSigner,
};
use serde_json::Value;

const BACKENDS: [RsaBackend; 2] = [RsaBackend::AwsLc, RsaBackend::RsaCrate];

struct Fixture {
    vectors: Value,
    key: PrivateKey,
    trusted: TrustedKeys,
    key_pair_id: String,
}

fn fixture(test: &str) -> Option<Fixture> {
    let dir = shared_testdata(test)?;
    let vectors: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("vectors/cloudfront-signing.json")).unwrap(),
    )
    .unwrap();
    let key_pair_id = vectors["key_pair_id"].as_str().unwrap().to_owned();
    let key_path = dir.join(vectors["private_key"].as_str().unwrap());
    let key = PrivateKey::from_pem(&std::fs::read_to_string(key_path).unwrap()).unwrap();
    let public_path = dir.join(vectors["public_key"].as_str().unwrap());
    let public = PublicKey::from_pem(&std::fs::read_to_string(public_path).unwrap()).unwrap();
    assert_eq!(key.public_key().unwrap(), public);
    let mut trusted = TrustedKeys::new();
    trusted.insert(&key_pair_id, public);
    Some(Fixture {
        vectors,
        key,
        trusted,
        key_pair_id,
    })
}

impl Fixture {
    fn signer(&self, backend: RsaBackend, hash: HashAlgorithm) -> UrlSigner {
        UrlSigner::new(self.key.signer(backend).unwrap(), &self.key_pair_id, hash).unwrap()
    }

    fn cases(&self, name: &str) -> &Vec<Value> {
        self.vectors[name].as_array().unwrap()
    }
}

fn string(case: &Value, field: &str) -> String {
    case[field].as_str().unwrap().to_owned()
}

/// Builds the policy of a vector case with conditions in the given order.
fn case_policy(case: &Value, resource_field: &str, js_order: bool) -> Result<Policy, IpError> {
    let mut policy = Policy::custom(
        case[resource_field].as_str().unwrap(),
        case["expires"].as_u64().unwrap(),
    );
    let ip = match case["ip"].as_str() {
        Some(ip) => Some(Condition::IpAddress(ip.parse::<Ipv4Cidr>()?)),
        None => None,
    };
    let not_before = case["not_before"].as_u64().map(Condition::DateGreaterThan);
    let order = if js_order {
        [not_before, ip]
    } else {
        [ip, not_before]
    };
    for condition in order.into_iter().flatten() {
        policy = policy.with(condition);
    }
    Ok(policy)
}

fn assert_verifies(f: &Fixture, url: &str, at: u64, ip: Option<&str>) {
    let ip = ip.map(|ip| ip.split('/').next().unwrap().parse().unwrap());
    let grant = verify_request(url, &[], &f.trusted, at, ip)
        .unwrap_or_else(|r| panic!("{url} rejected: {r}"));
    assert_eq!(grant.key_pair_id(), f.key_pair_id);
}

#[test]
fn canned_urls_match_botocore() {
    let Some(f) = fixture("canned_urls_match_botocore") else {
        return;
    };
    for case in f.cases("canned") {
        let url = string(case, "url");
        let expires = case["expires"].as_u64().unwrap();
        let policy = Policy::canned(&url, expires);
        assert_eq!(policy.to_json(), string(case, "policy"), "{url}");
        for backend in BACKENDS {
            let signed = f
                .signer(backend, HashAlgorithm::Sha1)
                .sign_url(&url, &policy)
                .unwrap();
            assert_eq!(
                query_params(&signed),
                query_params(&string(case, "signed_url")),
                "{url} with {backend:?}"
            );
            assert!(signed.starts_with(&url));
        }
        assert_verifies(&f, &string(case, "signed_url"), expires - 1, None);
        let expired = verify_request(&string(case, "signed_url"), &[], &f.trusted, expires, None)
            .unwrap_err();
        assert_eq!(expired.code, ErrorCode::AccessDenied);
    }
}

#[test]
fn custom_urls_match_botocore() {
    let Some(f) = fixture("custom_urls_match_botocore") else {
        return;
    };
    let mut checked = 0;
    for case in f.cases("custom") {
        let url = string(case, "url");
        let policy = match case_policy(case, "resource", false) {
            Ok(policy) => policy,
            Err(IpError::Ipv6(_)) => {
                // botocore writes IPv6 ranges, but CloudFront policies are IPv4
                // only: we refuse to build them and report viewers' as malformed.
                let rejection =
                    verify_request(&string(case, "signed_url"), &[], &f.trusted, 0, None)
                        .unwrap_err();
                assert_eq!(rejection.code, ErrorCode::MalformedPolicy, "{rejection}");
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        assert_eq!(policy.to_json(), string(case, "policy"), "{url}");
        for backend in BACKENDS {
            let signer = f.signer(backend, HashAlgorithm::Sha1);
            let params = signer.sign_policy(&policy, false).unwrap();
            assert_eq!(params.policy.as_deref(), case["policy_b64"].as_str());
            assert_eq!(params.signature, string(case, "signature"), "{url}");
            let signed = signer.sign_url(&url, &policy).unwrap();
            assert_eq!(
                query_params(&signed),
                query_params(&string(case, "signed_url"))
            );
        }
        let at = case["not_before"]
            .as_u64()
            .unwrap_or(case["expires"].as_u64().unwrap() - 1);
        assert_verifies(&f, &string(case, "signed_url"), at, case["ip"].as_str());
        checked += 1;
    }
    assert_eq!(checked, f.cases("custom").len() - 1);
}

fn cookie_map(cookies: &[(String, String)]) -> BTreeMap<String, String> {
    cookies.iter().cloned().collect()
}

fn expected_cookies(case: &Value) -> BTreeMap<String, String> {
    case["cookies"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn cookies_match_official_signers() {
    let Some(f) = fixture("cookies_match_official_signers") else {
        return;
    };
    for (name, hash) in [
        ("cookies", HashAlgorithm::Sha1),
        ("sha256_cookies", HashAlgorithm::Sha256),
    ] {
        for case in f.cases(name) {
            let policy = case_policy(case, "resource", false).unwrap();
            assert_eq!(policy.to_json(), string(case, "policy"));
            for backend in BACKENDS {
                let cookies = f.signer(backend, hash).sign_cookies(&policy).unwrap();
                assert_eq!(cookie_map(&cookies.cookies), expected_cookies(case));
            }
            // CloudFront accepts the cookies for a URL the resource covers.
            let url = string(case, "resource").replace('*', "seg-1.ts");
            let cookies: Vec<(String, String)> = expected_cookies(case).into_iter().collect();
            let at = case["not_before"].as_u64().unwrap_or(1767225599);
            verify_request(&url, &cookies, &f.trusted, at, None)
                .unwrap_or_else(|r| panic!("{url}: {r}"));
        }
    }
}

#[test]
fn sha256_urls_match_the_javascript_sdk() {
    let Some(f) = fixture("sha256_urls_match_the_javascript_sdk") else {
        return;
    };
    for case in f.cases("sha256") {
        let url = string(case, "url");
        // The JavaScript SDK writes DateGreaterThan before IpAddress.
        let policy = case_policy(case, "url", true).unwrap();
        for backend in BACKENDS {
            let signed = f
                .signer(backend, HashAlgorithm::Sha256)
                .sign_url(&url, &policy)
                .unwrap();
            assert_eq!(
                query_params(&signed),
                query_params(&string(case, "signed_url")),
                "{url} with {backend:?}"
            );
        }
        let at = case["not_before"].as_u64().unwrap_or(1767225599);
        assert_verifies(&f, &string(case, "signed_url"), at, case["ip"].as_str());
    }
}

#[test]
fn pkcs8_and_pkcs1_give_the_same_signatures() {
    let Some(dir) = shared_testdata("pkcs8_and_pkcs1_give_the_same_signatures") else {
        return;
    };
    let pkcs1 = PrivateKey::from_pem(
        &std::fs::read_to_string(dir.join("keys/test-private-key.pem")).unwrap(),
    )
    .unwrap();
    let pkcs8 = PrivateKey::from_pem(
        &std::fs::read_to_string(dir.join("keys/test-private-key.pkcs8.pem")).unwrap(),
    )
    .unwrap();
    let message = b"{\"Statement\":[]}";
    for backend in BACKENDS {
        for hash in [HashAlgorithm::Sha1, HashAlgorithm::Sha256] {
            assert_eq!(
                pkcs1.signer(backend).unwrap().sign(message, hash).unwrap(),
                pkcs8.signer(backend).unwrap().sign(message, hash).unwrap()
            );
        }
    }
}
