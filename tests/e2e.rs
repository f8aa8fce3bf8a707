//! End to end over the deployed chain with real clients: the emulator
//! (CloudFront's check, the template's CloudFront Function in node, the
//! origin request policy) in front of the real `hls-edge-signer` bootstrap
//! under `cargo lambda watch`, serving the committed AES-128 sample stream
//! to ffmpeg and to headless Chromium running hls.js — for a viewer with a
//! signed URL and for one with signed cookies — and CloudFront's rejection
//! codes for the viewers it must turn away. The Lambda@Edge viewer-request
//! path is played too.
//!
//! ffmpeg, Chromium, node, cargo-lambda and the npm packages are installed
//! by `.ci/run` and `scripts/tools.sh`; where they are missing these tests
//! say so and skip, unless `HLS_REQUIRE_E2E` is set (CI), where a missing
//! client is a failure.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::emulator::{code_of, get, get_with};
use common::generated_key;
use common::stack::{have, key_file, players_ready, Backend, Stack};
use hls_edge_signer::{
    Condition, HashAlgorithm, KeyAlgorithm, Policy, PrivateKey, RsaBackend, UrlSigner,
};

const KEY_PAIR_ID: &str = "KE2E";

const HLS: &str = "/sample/index._m3u8";
const DASH: &str = "/sample-dash/stream._mpd";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The chain, or `None` (after a note) without node, which runs the
/// CloudFront Function.
fn stack(name: &str, backend: Backend) -> Option<Stack> {
    if backend != Backend::ViewerRequest && !have("node", &["--version"]) {
        return None;
    }
    Some(Stack::start(
        backend,
        &key_file(&format!("e2e-{name}")),
        KEY_PAIR_ID,
    ))
}

fn signer() -> UrlSigner {
    let key = PrivateKey::from_pem(&generated_key(KeyAlgorithm::Rsa2048).0).unwrap();
    UrlSigner::new(
        key.signer(RsaBackend::AwsLc).unwrap(),
        KEY_PAIR_ID,
        HashAlgorithm::Sha1,
    )
    .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A signed URL for `path`: the policy is checked against the https form,
/// as CloudFront sees it; the request goes to the emulator.
fn signed(stack: &Stack, path: &str, policy: impl FnOnce(&str) -> Policy) -> String {
    let https = format!("https://{}{path}", stack.emulator.host());
    let signed = signer().sign_url(&https, &policy(&https)).unwrap();
    format!("http://{}", &signed["https://".len()..])
}

/// A `Cookie` header with signed cookies for `policy`.
fn cookie_header(policy: &Policy) -> String {
    signer()
        .sign_cookies(policy)
        .unwrap()
        .cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn rejections_carry_cloudfront_codes_over_the_deployed_chain() {
    let Some(stack) = stack("codes", Backend::Bootstrap) else {
        return;
    };
    let path = "/sample/index._m3u8";
    let t = now();
    let good = signed(&stack, path, |url| Policy::canned(url, t + 600));
    let (status, body) = get(&good);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("360p/index._m3u8?"), "{body}");

    let base = &stack.emulator.base;
    let unsigned = format!("{base}{path}");
    // Same length, one character changed: a well-formed, wrong signature.
    let tampered = {
        let at = good.find("Signature=").unwrap() + "Signature=".len();
        let flipped = if &good[at..at + 1] == "A" { "B" } else { "A" };
        format!("{}{flipped}{}", &good[..at], &good[at + 1..])
    };
    let expired = signed(&stack, path, |url| Policy::canned(url, t - 10));
    let not_yet = signed(&stack, path, |url| {
        Policy::custom(url, t + 600).with(Condition::DateGreaterThan(t + 300))
    });
    let wrong_ip = signed(&stack, path, |url| {
        Policy::custom(url, t + 600).with(Condition::IpAddress("198.51.100.0/24".parse().unwrap()))
    });
    let unknown_key = good.replace("Key-Pair-Id=KE2E", "Key-Pair-Id=KOTHER");
    let other_key = {
        let (pem, _) = hls_edge_signer::keys::generate_pem(KeyAlgorithm::EcdsaP256).unwrap();
        let key = PrivateKey::from_pem(&pem).unwrap();
        let other = UrlSigner::new(
            key.signer(RsaBackend::AwsLc).unwrap(),
            KEY_PAIR_ID,
            HashAlgorithm::Sha256,
        )
        .unwrap();
        let https = format!("https://{}{path}", stack.emulator.host());
        let signed = other
            .sign_url(&https, &Policy::canned(&https, t + 600))
            .unwrap();
        format!("http://{}", &signed["https://".len()..])
    };
    let bad_policy = format!("{unsigned}?Policy=bm90LWpzb24_&Signature=AAAA&Key-Pair-Id=KE2E");
    let bad_signature = good.replace("Signature=", "Signature=%%%");
    let cases = [
        (unsigned.clone(), "MissingKey"),
        (tampered, "AccessDenied"),
        (expired, "AccessDenied"),
        (not_yet, "AccessDenied"),
        (wrong_ip, "AccessDenied"),
        (unknown_key, "InvalidKey"),
        (other_key, "AccessDenied"),
        (bad_policy, "MalformedPolicy"),
        (bad_signature, "MalformedSignature"),
    ];
    for (url, code) in cases {
        let (status, body) = get(&url);
        assert_eq!((status, code_of(&body)), (403, code), "{url}\n{body}");
    }
    // Cookie viewers: an expired cookie, and one pinned to another address.
    let tree = format!("https://{}/sample/*", stack.emulator.host());
    for (policy, code) in [
        (Policy::custom(&tree, t - 1), "AccessDenied"),
        (
            Policy::custom(&tree, t + 600)
                .with(Condition::IpAddress("198.51.100.7/32".parse().unwrap())),
            "AccessDenied",
        ),
    ] {
        let answer = get_with(&unsigned, &[("cookie", &cookie_header(&policy))]);
        assert_eq!((answer.status, code_of(&answer.body)), (403, code));
    }

    // A child playlist from the rewritten master still validates when an
    // LL-HLS player appends its reload parameters.
    let child = body
        .lines()
        .find(|l| l.starts_with("360p/"))
        .expect("variant line");
    for reload in [
        "",
        "&_HLS_msn=1",
        "&_HLS_msn=1&_HLS_part=0",
        "&_HLS_skip=YES",
    ] {
        let url = format!("{base}/sample/{child}{reload}");
        assert_eq!(get(&url).0, 200, "{url}");
    }
    let log = stack.emulator.log_lines();
    assert!(log.iter().any(|l| l.contains("403 MissingKey")), "{log:?}");
    // The function fetched the plain playlist back through the distribution.
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /sample/index.m3u8 200")),
        "{log:?}"
    );
}

/// ffmpeg decodes the whole stream; returns the emulator's log.
fn ffmpeg_decodes(stack: &Stack, url: &str, cookies: Option<&str>) {
    ffmpeg_decodes_fetching(
        stack,
        url,
        cookies,
        &[
            "/sample/360p/index._m3u8",
            "/sample/240p/index._m3u8",
            "/sample/keys/",
            "segment-",
        ],
    );
}

/// ffmpeg decodes the stream at `url` with no error and no 403, and the
/// emulator's log shows each of `fetched`.
fn ffmpeg_decodes_fetching(stack: &Stack, url: &str, cookies: Option<&str>, fetched: &[&str]) {
    let mut command = Command::new("ffmpeg");
    command.args(["-nostdin", "-v", "error", "-rw_timeout", "10000000"]);
    if let Some(cookies) = cookies {
        // ffmpeg takes Set-Cookie lines. No domain: ffmpeg compares it with
        // `host:port`, and a cookie without one applies to the request's host.
        let lines: String = cookies
            .split("; ")
            .map(|c| format!("{c}; path=/sample/\n"))
            .collect();
        command.arg("-cookies").arg(lines);
    }
    let out = command
        .arg("-i")
        .arg(url)
        .args(["-map", "0", "-f", "null", "-"])
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && errors.trim().is_empty(), "{errors}");
    let log = stack.emulator.log_lines();
    assert!(!log.iter().any(|l| l.contains(" 403")), "{log:#?}");
    for fetched in fetched {
        assert!(
            log.iter().any(|l| l.contains(fetched)),
            "{fetched} never fetched: {log:#?}"
        );
    }
}

#[test]
fn ffmpeg_decodes_the_stream_for_a_signed_url_viewer() {
    if !have("ffmpeg", &["-version"]) {
        return;
    }
    let Some(stack) = stack("ffmpeg-url", Backend::Bootstrap) else {
        return;
    };
    let master = signed(&stack, "/sample/index._m3u8", |url| {
        Policy::canned(url, now() + 600)
    });
    ffmpeg_decodes(&stack, &master, None);
}

#[test]
fn ffmpeg_decodes_the_stream_for_a_signed_cookie_viewer() {
    if !have("ffmpeg", &["-version"]) {
        return;
    }
    let Some(stack) = stack("ffmpeg-cookies", Backend::Bootstrap) else {
        return;
    };
    let tree = format!("https://{}/sample/*", stack.emulator.host());
    let cookies = cookie_header(&Policy::custom(&tree, now() + 600));
    let master = format!("{}/sample/index._m3u8", stack.emulator.base);
    ffmpeg_decodes(&stack, &master, Some(&cookies));
}

#[test]
fn ffmpeg_decodes_the_stream_over_the_viewer_request_trigger() {
    if !have("ffmpeg", &["-version"]) {
        return;
    }
    let Some(stack) = stack("ffmpeg-edge", Backend::ViewerRequest) else {
        return;
    };
    let master = signed(&stack, "/sample/index._m3u8", |url| {
        Policy::canned(url, now() + 600)
    });
    ffmpeg_decodes(&stack, &master, None);
}

/// A player in headless Chromium plays the page's stream (`path`) to the end.
fn chromium_plays(name: &str, path: &str, player: &str, grant: &str) {
    chromium_plays_with(name, path, player, grant, None);
}

/// The URLs the page saw the player request (as `player.mjs` lists them).
fn requested(result: &serde_json::Value) -> Vec<String> {
    result["urls"]
        .as_array()
        .map(|urls| {
            urls.iter()
                .filter_map(|u| u.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// [`chromium_plays`], the application choosing the viewer's `delivery`
/// (its signed master URL carries `hls-delivery`).
fn chromium_plays_with(
    name: &str,
    path: &str,
    player: &str,
    grant: &str,
    delivery: Option<&str>,
) -> Option<serde_json::Value> {
    let e2e = repo().join("tests/e2e");
    if !players_ready() {
        return None;
    }
    let stack = stack(name, Backend::Bootstrap)?;
    let screenshot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"));
    let out = Command::new("node")
        .arg(e2e.join("player.mjs"))
        .arg(format!(
            "{}/?path={path}&player={player}&grant={grant}{}",
            stack.emulator.base,
            delivery.map_or(String::new(), |d| format!("&delivery={d}"))
        ))
        .arg(&screenshot)
        .arg("90000")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "player failed: {stdout}\n{stderr}");
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(result["ok"], true, "{result}");
    assert!(result["currentTime"].as_f64().unwrap() >= result["duration"].as_f64().unwrap() - 0.5);
    assert!(result["fatalError"].is_null(), "{result}");
    assert!(result["requests"].as_u64().unwrap() > 4, "{result}");
    if grant == "sign" && delivery != Some("cookies") {
        assert_eq!(result["unsigned"], 0, "every request signed: {result}");
    }
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 1000,
        "screenshot written"
    );
    let log = stack.emulator.log_lines();
    assert!(!log.iter().any(|l| l.contains(" 403")), "{log:#?}");
    println!("screenshot ({:?}): {}", stack.backend, screenshot.display());
    Some(result)
}

#[test]
fn chromium_plays_the_stream_for_a_signed_url_viewer() {
    chromium_plays("e2e-player-signed-url", HLS, "hls.js", "sign");
}

#[test]
fn chromium_plays_the_stream_for_a_signed_cookie_viewer() {
    chromium_plays("e2e-player-signed-cookies", HLS, "hls.js", "cookies");
}

#[test]
fn dash_js_plays_the_dash_stream_for_a_signed_url_viewer() {
    chromium_plays("e2e-dashjs-signed-url", DASH, "dash.js", "sign");
}

#[test]
fn shaka_plays_the_dash_stream_for_a_signed_url_viewer() {
    chromium_plays("e2e-shaka-signed-url", DASH, "shaka", "sign");
}

#[test]
fn dash_js_plays_the_dash_stream_for_a_signed_cookie_viewer() {
    chromium_plays("e2e-dashjs-signed-cookies", DASH, "dash.js", "cookies");
}

/// Segment requests among `urls` (`.ts` / `.m4s`).
fn segments(urls: &[String]) -> Vec<&String> {
    urls.iter()
        .filter(|u| {
            let path = u.split('?').next().unwrap_or("");
            path.ends_with(".ts") || path.ends_with(".m4s")
        })
        .collect()
}

/// An HLS player substituted the master URL's own parameters into every
/// segment URI (`define`).
fn substituted_the_query(result: Option<serde_json::Value>) {
    let Some(result) = result else {
        return;
    };
    let urls = requested(&result);
    let segments = segments(&urls);
    assert!(!segments.is_empty(), "{urls:#?}");
    for url in segments {
        assert!(
            url.contains("Policy=") && url.contains("&hls-delivery=define"),
            "{url}"
        );
        assert!(!url.contains("{$") && !url.contains("%7B%24"), "{url}");
    }
}

#[test]
fn hls_js_plays_with_the_query_carried_by_ext_x_define() {
    substituted_the_query(chromium_plays_with(
        "e2e-hlsjs-define",
        HLS,
        "hls.js",
        "sign",
        Some("define"),
    ));
}

#[test]
fn shaka_plays_hls_with_the_query_carried_by_ext_x_define() {
    substituted_the_query(chromium_plays_with(
        "e2e-shaka-define",
        HLS,
        "shaka",
        "sign",
        Some("define"),
    ));
}

#[test]
fn hls_js_plays_with_cookies_the_function_sets() {
    let Some(result) = chromium_plays_with(
        "e2e-hlsjs-cookies-delivery",
        HLS,
        "hls.js",
        "sign",
        Some("cookies"),
    ) else {
        return;
    };
    // Children and segments as the origin names them, carried by cookies.
    let urls = requested(&result);
    assert!(
        urls.iter()
            .any(|u| u.split('?').next().unwrap().ends_with("/index.m3u8")),
        "a child playlist straight from the origin: {urls:#?}"
    );
    let segments = segments(&urls);
    assert!(!segments.is_empty(), "{urls:#?}");
    for url in segments {
        assert!(!url.contains("Signature="), "{url}");
    }
}

/// A DASH player carried the MPD URL's query to every segment.
fn carried_the_mpd_query(result: Option<serde_json::Value>) {
    let Some(result) = result else {
        return;
    };
    let urls = requested(&result);
    let segments = segments(&urls);
    assert!(!segments.is_empty(), "{urls:#?}");
    for url in segments {
        assert!(
            url.contains("hls-delivery=urlquery") && url.contains("Signature="),
            "{url}"
        );
    }
}

#[test]
fn shaka_plays_with_the_query_carried_by_url_query_info() {
    carried_the_mpd_query(chromium_plays_with(
        "e2e-shaka-urlquery",
        DASH,
        "shaka",
        "sign",
        Some("urlquery"),
    ));
}

#[test]
fn dash_js_plays_with_the_query_carried_by_url_query_info() {
    carried_the_mpd_query(chromium_plays_with(
        "e2e-dashjs-urlquery",
        DASH,
        "dash.js",
        "sign",
        Some("urlquery"),
    ));
}

#[test]
fn ffmpeg_decodes_the_dash_stream_for_a_signed_url_viewer() {
    if !have("ffmpeg", &["-version"]) {
        return;
    }
    let Some(stack) = stack("ffmpeg-dash", Backend::Bootstrap) else {
        return;
    };
    let mpd = signed(&stack, DASH, |url| Policy::canned(url, now() + 600));
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "info", "-rw_timeout", "10000000", "-i"])
        .arg(&mpd)
        .args(["-map", "0", "-f", "null", "-"])
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{errors}");
    // All 8 s decoded (200 frames at 25 fps).
    assert!(
        errors.contains("frame=  200") && errors.contains("time=00:00:08.00"),
        "{errors}"
    );
    let log = stack.emulator.log_lines();
    assert!(!log.iter().any(|l| l.contains(" 403")), "{log:#?}");
    // ffmpeg's DASH reader asks for one segment past the end of a static
    // presentation (it does so from a plain HTTP server too): those 404s,
    // from the origin, are the only failures.
    for line in log
        .iter()
        .filter(|l| !l.contains(" 200") && !l.contains(" 206"))
    {
        assert!(
            line.contains("-00005.m4s 404 no such file"),
            "{line}: {log:#?}"
        );
    }
    for fetched in [
        "/sample-dash/stream._mpd",
        "init-0.m4s",
        "chunk-0-00004.m4s",
        "chunk-2-",
    ] {
        assert!(
            log.iter().any(|l| l.contains(fetched)),
            "{fetched} never fetched: {log:#?}"
        );
    }
}

/// ffmpeg keeps the cookies a response sets for the requests that follow:
/// it plays the `cookies` delivery (children and segments straight from the
/// origin). It does not implement `EXT-X-DEFINE` substitution nor DASH
/// `UrlQueryInfo`, so the `query` delivery is not for ffmpeg (README).
#[test]
fn ffmpeg_decodes_the_stream_with_cookies_the_function_sets() {
    if !have("ffmpeg", &["-version"]) {
        return;
    }
    let Some(stack) = stack("ffmpeg-cookies-delivery", Backend::Bootstrap) else {
        return;
    };
    let path = "/sample/index._m3u8?hls-delivery=cookies";
    let master = signed(&stack, path, |url| {
        let directory = &url[..=url[..url.find('?').unwrap()].rfind('/').unwrap()];
        Policy::custom(&format!("{directory}*"), now() + 600)
    });
    ffmpeg_decodes_fetching(
        &stack,
        &master,
        None,
        &[
            "/sample/360p/index.m3u8",
            "/sample/keys/",
            "/sample/240p/segment-",
        ],
    );
    let log = stack.emulator.log_lines();
    assert!(
        !log.iter().any(|l| l.contains("360p/index._m3u8")),
        "{log:#?}"
    );
}
