//! "Invoke locally with the sample events", as the README tells users to:
//! the real `hls-edge-signer` bootstrap under `cargo lambda watch`, and
//! `cargo lambda invoke --data-file` for every file in `events/`. Each
//! answer is checked: its status, and for a rewritten playlist that every
//! issued grant verifies and stays within the event's own grant (expiry,
//! scope), read independently.

mod common;

use std::path::PathBuf;

use base64::Engine;
use common::generated_key;
use common::http_origin::HttpOrigin;
use common::independent::{cloudfront_matches, issued_grants};
use common::stack::LocalLambda;
use hls_edge_signer::{verify_request, KeyAlgorithm, PublicKey, TrustedKeys};
use serde_json::Value;

const DIST: &str = "d111111abcdef8.cloudfront.net";
/// The sample events' grants end on 2100-01-01 (scripts/make-events.py).
const EVENT_GRANT_EXPIRES: u64 = 4_102_444_800;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What each sample event must be answered with.
fn expected(name: &str) -> &'static str {
    match name {
        "function-url.json" | "function-url-cookies.json" => "200",
        "function-url-no-grant.json" => "403",
        "viewer-request-master.json" | "viewer-request-media.json" | "origin-request.json" => "200",
        "viewer-request-segment.json" => "pass-through",
        "viewer-request-malformed.json" => "400",
        other => panic!("events/{other}: no expectation; add one here"),
    }
}

/// The body of a function-URL or Lambda@Edge response, un-gzipped.
fn body(response: &Value) -> String {
    let text = response["body"].as_str().unwrap_or("");
    if response["isBase64Encoded"] == true || response["bodyEncoding"] == "base64" {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
            .unwrap();
        out
    } else {
        text.to_owned()
    }
}

#[test]
fn every_sample_event_through_cargo_lambda_invoke() {
    let Some(mut lambda) = LocalLambda::start_runtime() else {
        return;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lambda-local");
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("private.pem");
    let (private, public) = generated_key(KeyAlgorithm::EcdsaP256);
    std::fs::write(&key, private).unwrap();
    let origin = HttpOrigin::start_serving(&repo().join("events/origin"));
    lambda.start_bootstrap(&[
        ("HLS_KEY_FILE", key.display().to_string()),
        ("HLS_KEY_PAIR_ID", "KLOCAL".to_owned()),
        (
            "HLS_TRUSTED_KEYS",
            "KSAMPLEEVENTS=@events/sample-events-public.pem".to_owned(),
        ),
        ("HLS_ORIGIN", origin.base.clone()),
    ]);
    let mut trusted = TrustedKeys::new();
    trusted.insert("KLOCAL", PublicKey::from_pem(public).unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();

    let mut names: Vec<String> = std::fs::read_dir(repo().join("events"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for name in &names {
        let file = repo().join("events").join(name);
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let response = lambda.invoke(&file);
        let status = response["statusCode"]
            .as_u64()
            .map(|s| s.to_string())
            .or_else(|| response["status"].as_str().map(str::to_owned));
        match expected(name) {
            "pass-through" => {
                assert_eq!(response, event["Records"][0]["cf"]["request"], "{name}");
                continue;
            }
            want => assert_eq!(status.as_deref(), Some(want), "{name}: {response}"),
        }
        if status.as_deref() != Some("200") {
            assert!(!body(&response).contains("Signature="), "{name}");
            continue;
        }
        // The playlist's URL, as the event names it.
        let path = event["rawPath"]
            .as_str()
            .or_else(|| event["Records"][0]["cf"]["request"]["uri"].as_str())
            .unwrap();
        let base = format!("https://{DIST}{path}");
        let text = body(&response);
        let grants = issued_grants(&text, &base);
        assert!(!grants.is_empty(), "{name}: nothing signed:\n{text}");
        for (uri, grant) in grants {
            assert!(grant.expires <= EVENT_GRANT_EXPIRES, "{name}: {uri}");
            assert!(grant.expires > now, "{name}: {uri} already expired");
            assert!(
                cloudfront_matches(&grant.resource, &grant.url),
                "{name}: {uri}: {} does not cover {}",
                grant.resource,
                grant.url
            );
            // The events' grants cover /videos/ at most.
            assert!(
                grant
                    .resource
                    .starts_with(&format!("https://{DIST}/videos/")),
                "{name}: {uri}"
            );
            let absolute = common::independent::resolve(&base, &uri);
            verify_request(&absolute, &[], &trusted, now, None)
                .unwrap_or_else(|r| panic!("{name}: {absolute}: {r}"));
        }
    }
    // The origin was asked for the plain playlists only.
    assert!(!origin.requests_for("/videos/").is_empty());
    assert!(origin
        .requests_for("/videos/")
        .iter()
        .all(|t| t.contains(".m3u8")));
}
