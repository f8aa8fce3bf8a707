//! End to end with real clients: the `hls-sign serve` emulator (a local
//! CloudFront with the real handler behind it) serving the committed
//! AES-128 sample stream to ffmpeg and to headless Chromium running hls.js;
//! and every CloudFront rejection code for bad requests.
//!
//! ffmpeg, Chromium and the npm packages are installed by `.ci/run` and the
//! Makefile; where they are missing these tests say so and skip, unless
//! `HLS_REQUIRE_E2E` is set (CI), where a missing client is a failure.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use common::generated_key;
use hls_edge_signer::{
    Condition, HashAlgorithm, KeyAlgorithm, Policy, PrivateKey, RsaBackend, UrlSigner,
};

const KEY_PAIR_ID: &str = "KE2E";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Skips (returns false) when `tool` is missing, unless CI requires it.
fn have(tool: &str, probe: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("HLS_REQUIRE_E2E").is_none(),
            "{tool} is required here"
        );
        println!("skipped: {tool} not installed");
    }
    ok
}

/// A running emulator; its access log is collected for assertions.
struct Emulator {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
    _key_dir: PathBuf,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulator {
    fn start(name: &str) -> Emulator {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("private.pem");
        std::fs::write(&key, generated_key(KeyAlgorithm::Rsa2048).0.as_bytes()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hls-sign"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--origin",
                "events/origin",
            ])
            .arg("--key")
            .arg(&key)
            .args(["--key-pair-id", KEY_PAIR_ID])
            .current_dir(repo())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hls-sign serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("emulator output").unwrap();
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Emulator {
            child,
            base,
            log,
            _key_dir: dir,
        }
    }

    fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// A signed URL for `path`: the policy is checked against the https
    /// form, as CloudFront sees it; the request goes to the emulator.
    fn signed(&self, path: &str, policy: impl FnOnce(&str) -> Policy) -> String {
        let https = format!("https://{}{path}", self.host());
        let signed = signer().sign_url(&https, &policy(&https)).unwrap();
        format!("http://{}", &signed["https://".len()..])
    }

    fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
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

/// GET over plain HTTP/1.1 on loopback: (status, body).
fn get(url: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

fn code_of(body: &str) -> &str {
    body.split("<Code>")
        .nth(1)
        .and_then(|b| b.split("</Code>").next())
        .unwrap_or("")
}

#[test]
fn rejections_carry_cloudfront_codes() {
    let emulator = Emulator::start("codes");
    let path = "/sample/index._m3u8";
    let t = now();
    let good = emulator.signed(path, |url| Policy::canned(url, t + 600));
    assert_eq!(get(&good).0, 200);

    let unsigned = format!("{}{path}", emulator.base);
    // Same length, one character changed: a well-formed, wrong signature.
    let tampered = {
        let at = good.find("Signature=").unwrap() + "Signature=".len();
        let flipped = if &good[at..at + 1] == "A" { "B" } else { "A" };
        format!("{}{flipped}{}", &good[..at], &good[at + 1..])
    };
    let expired = emulator.signed(path, |url| Policy::canned(url, t - 10));
    let not_yet = emulator.signed(path, |url| {
        Policy::custom(url, t + 600).with(Condition::DateGreaterThan(t + 300))
    });
    let wrong_ip = emulator.signed(path, |url| {
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
        let https = format!("https://{}{path}", emulator.host());
        let signed = other
            .sign_url(&https, &Policy::canned(&https, t + 600))
            .unwrap();
        format!("http://{}", &signed["https://".len()..])
    };
    let bad_policy = format!("{unsigned}?Policy=bm90LWpzb24_&Signature=AAAA&Key-Pair-Id=KE2E");
    let bad_signature = good.replace("Signature=", "Signature=%%%");
    let cases = [
        (unsigned, "MissingKey"),
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

    // A child playlist from the rewritten master still validates when an
    // LL-HLS player appends its reload parameters.
    let (_, master) = get(&good);
    let child = master
        .lines()
        .find(|l| l.starts_with("360p/"))
        .expect("variant line");
    for reload in [
        "",
        "&_HLS_msn=1",
        "&_HLS_msn=1&_HLS_part=0",
        "&_HLS_skip=YES",
    ] {
        let url = format!("{}/sample/{child}{reload}", emulator.base);
        assert_eq!(get(&url).0, 200, "{url}");
    }
    let log = emulator.log_lines();
    assert!(log.iter().any(|l| l.contains("403 MissingKey")), "{log:?}");
}

#[test]
fn ffmpeg_decodes_the_signed_stream() {
    if !have("ffmpeg", &["-version"]) {
        return;
    }
    let emulator = Emulator::start("ffmpeg");
    let master = emulator.signed("/sample/index._m3u8", |url| {
        Policy::canned(url, now() + 600)
    });
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-rw_timeout", "10000000", "-i"])
        .arg(&master)
        .args(["-map", "0", "-f", "null", "-"])
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && errors.trim().is_empty(), "{errors}");
    let log = emulator.log_lines();
    assert!(!log.iter().any(|l| l.contains(" 403")), "{log:#?}");
    for fetched in [
        "/sample/360p/index._m3u8",
        "/sample/240p/index._m3u8",
        "/sample/keys/",
        "segment-",
    ] {
        assert!(
            log.iter().any(|l| l.contains(fetched)),
            "{fetched} never fetched: {log:#?}"
        );
    }
}

#[test]
fn chromium_plays_the_signed_stream_with_hls_js() {
    let e2e = repo().join("tests/e2e");
    if !have("node", &["--version"]) || !have("/usr/bin/chromium", &["--version"]) {
        return;
    }
    if !e2e.join("node_modules/playwright-core").is_dir()
        || !e2e.join("node_modules/hls.js").is_dir()
    {
        assert!(
            std::env::var_os("HLS_REQUIRE_E2E").is_none(),
            "npm packages missing: npm ci --prefix tests/e2e"
        );
        println!("skipped: npm ci --prefix tests/e2e has not been run");
        return;
    }
    let emulator = Emulator::start("chromium");
    let screenshot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-player.png");
    let out = Command::new("node")
        .arg(e2e.join("player.mjs"))
        .arg(format!("{}/?path=/sample/index._m3u8", emulator.base))
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
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 1000,
        "screenshot written"
    );
    let log = emulator.log_lines();
    assert!(!log.iter().any(|l| l.contains(" 403")), "{log:#?}");
    println!("screenshot: {}", screenshot.display());
}
