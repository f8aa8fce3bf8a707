//! The `hls-sign` binary, run as a user runs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{query_params, shared_testdata};

const HOST: &str = "https://d111111abcdef8.cloudfront.net";

fn hls_sign(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hls-sign"))
        .args(args)
        .output()
        .expect("run hls-sign")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// A scratch directory with a freshly generated key pair made by `keygen`.
fn keys(algorithm: &str) -> (tempdir::Dir, PathBuf, PathBuf) {
    let dir = tempdir::Dir::new(algorithm);
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    let out = hls_sign(&[
        "keygen",
        "--algorithm",
        algorithm,
        "--private-out",
        private.to_str().unwrap(),
        "--public-out",
        public.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    (dir, private, public)
}

mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A directory under the target dir, removed on drop.
    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(name: &str) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("cli-{name}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn verify(url: &str, public: &Path, extra: &[&str]) -> Output {
    let key = format!("KTEST={}", public.display());
    let mut args = vec!["verify", url, "--public-key", &key];
    args.extend_from_slice(extra);
    hls_sign(&args)
}

#[test]
fn url_then_verify_for_both_key_types() {
    for algorithm in ["rsa", "ecdsa"] {
        let (_dir, private, public) = keys(algorithm);
        let url = format!("{HOST}/videos/index._m3u8");
        let out = hls_sign(&[
            "url",
            &url,
            "--key",
            private.to_str().unwrap(),
            "--key-pair-id",
            "KTEST",
            "--ttl",
            "300",
            "--resource",
            &format!("{HOST}/videos/*"),
            "--ip",
            "192.0.2.0/24",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let signed = stdout(&out).trim().to_owned();
        assert!(signed.starts_with(&format!("{url}?Policy=")), "{signed}");
        assert_eq!(
            algorithm == "ecdsa",
            signed.contains("Hash-Algorithm=SHA256")
        );

        let ok = verify(&signed, &public, &["--ip", "192.0.2.9"]);
        assert!(ok.status.success(), "{}", stdout(&ok));
        assert!(stdout(&ok).contains("OK: CloudFront would accept"));

        let denied = verify(&signed, &public, &["--ip", "192.0.3.9"]);
        assert_eq!(denied.status.code(), Some(1));
        assert!(
            stdout(&denied).contains("403 AccessDenied"),
            "{}",
            stdout(&denied)
        );
        assert!(stdout(&denied).contains("outside 192.0.2.0/24"));
    }
}

#[test]
fn cookies_json_and_set_cookie_lines() {
    let (_dir, private, public) = keys("rsa");
    let base = [
        "cookies",
        "--resource",
        "https://d111111abcdef8.cloudfront.net/videos/*",
        "--key",
        private.to_str().unwrap(),
        "--key-pair-id",
        "KTEST",
        "--expires",
        "4000000000",
    ];
    let out = hls_sign(&base);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines
        .iter()
        .all(|l| l.starts_with("Set-Cookie: CloudFront-")
            && l.ends_with("; Path=/; Secure; HttpOnly")));

    let mut json_args = base.to_vec();
    json_args.push("--json");
    let out = hls_sign(&json_args);
    let cookies: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(cookies.len(), 3);
    let header = cookies
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
        .collect::<Vec<_>>()
        .join("; ");
    let ok = verify(
        &format!("{HOST}/videos/a.ts"),
        &public,
        &["--cookie", &header],
    );
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("signed cookies"));
}

#[test]
fn matches_botocore_through_the_cli() {
    let Some(dir) = shared_testdata("matches_botocore_through_the_cli") else {
        return;
    };
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("vectors/cloudfront-signing.json")).unwrap(),
    )
    .unwrap();
    let key = dir.join("keys/test-private-key.pkcs8.pem");
    for case in vectors["canned"].as_array().unwrap() {
        let expires = case["expires"].to_string();
        let out = hls_sign(&[
            "url",
            case["url"].as_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--key-pair-id",
            "K2JCJMDEHXQW5F",
            "--expires",
            &expires,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            query_params(stdout(&out).trim()),
            query_params(case["signed_url"].as_str().unwrap())
        );
    }
}

#[test]
fn errors_are_clear_and_exit_non_zero() {
    let (dir, private, _) = keys("rsa");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a key").unwrap();
    let key = private.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "url",
                "https://h/a",
                "--key",
                "/nonexistent.pem",
                "--key-pair-id",
                "K",
                "--ttl",
                "1",
            ],
            "/nonexistent.pem",
        ),
        (
            vec![
                "url",
                "https://h/a",
                "--key",
                garbage.to_str().unwrap(),
                "--key-pair-id",
                "K",
                "--ttl",
                "1",
            ],
            "no PEM block",
        ),
        (
            vec![
                "url",
                "https://h/a",
                "--key",
                key,
                "--key-pair-id",
                "K",
                "--ttl",
                "1",
                "--ip",
                "2001:db8::1",
            ],
            "IPv4 ranges only",
        ),
        (
            vec![
                "url",
                "https://h/a?Expires=1",
                "--key",
                key,
                "--key-pair-id",
                "K",
                "--ttl",
                "1",
            ],
            "already carries the CloudFront parameter `Expires`",
        ),
        (
            vec![
                "url",
                "https://h/a",
                "--key",
                key,
                "--key-pair-id",
                "K",
                "--expires",
                "10",
                "--not-before",
                "20",
            ],
            "not earlier than expiry",
        ),
        (
            vec!["url", "https://h/a", "--key", key, "--key-pair-id", "K"],
            "--expires",
        ),
    ];
    for (args, expected) in cases {
        let out = hls_sign(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("panicked"));
    }
}

#[test]
fn keygen_refuses_to_overwrite() {
    let (_dir, private, public) = keys("ecdsa");
    let out = hls_sign(&[
        "keygen",
        "--private-out",
        private.to_str().unwrap(),
        "--public-out",
        public.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("exists"));
}

#[test]
fn help_lists_every_command() {
    let out = hls_sign(&["--help"]);
    let text = stdout(&out);
    for command in ["url", "cookies", "verify", "keygen"] {
        assert!(text.contains(command), "{text}");
    }
    let out = hls_sign(&["url", "--help"]);
    for flag in [
        "--key",
        "--key-pair-id",
        "--expires",
        "--ttl",
        "--resource",
        "--not-before",
        "--ip",
        "--hash",
    ] {
        assert!(stdout(&out).contains(flag), "{flag}");
    }
}

const MASTER: &str = "#EXTM3U\r\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"audio/en.m3u8\"\r\n\
#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO=\"aud\"\r\n\
low/index.m3u8?v=2\r\n\
#EXT-X-STREAM-INF:BANDWIDTH=2000000,AUDIO=\"aud\"\r\n\
https://cdn.example.org/high/index.m3u8\r\n";

/// Signs `playlist` through the CLI and returns the output lines.
fn manifest(dir: &Path, private: &Path, playlist: &str, extra: &[&str]) -> Output {
    let input = dir.join("in.m3u8");
    std::fs::write(&input, playlist).unwrap();
    let url = format!("{HOST}/videos/index._m3u8");
    let mut args = vec![
        "manifest",
        "--url",
        &url,
        "--key",
        private.to_str().unwrap(),
        "--key-pair-id",
        "KTEST",
        "--ttl",
        "600",
        "--now",
        "1800000000",
    ];
    args.extend_from_slice(extra);
    args.push(input.to_str().unwrap());
    hls_sign(&args)
}

#[test]
fn manifest_signs_every_uri_on_the_distribution() {
    let (dir, private, public) = keys("ecdsa");
    for mode in ["canned", "wildcard", "directory", "propagate"] {
        let out = manifest(dir.path(), &private, MASTER, &["--mode", mode]);
        assert!(out.status.success(), "{mode}: {}", stderr(&out));
        let body = stdout(&out);
        let lines: Vec<&str> = body.split("\r\n").collect();
        assert_eq!(lines.len(), 7, "{mode}: CRLF kept, nothing added");
        assert_eq!(lines[0], "#EXTM3U");
        assert_eq!(lines[5], "https://cdn.example.org/high/index.m3u8");
        let audio = lines[1]
            .split("URI=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        assert!(audio.starts_with("audio/en._m3u8?"), "{mode}: {audio}");
        assert!(lines[3].starts_with("low/index._m3u8?v=2&"), "{lines:?}");
        for relative in [audio, lines[3]] {
            let absolute = format!("{HOST}/videos/{relative}");
            let reload = format!("{absolute}&_HLS_msn=4&_HLS_part=1");
            for url in [&absolute, &reload] {
                let verdict = verify(url, &public, &["--now", "1800000100"]);
                assert!(
                    verdict.status.success(),
                    "{mode}: {url}: {}",
                    stdout(&verdict)
                );
                let late = verify(url, &public, &["--now", "1800000700"]);
                assert_eq!(late.status.code(), Some(1), "{mode}: expired");
            }
        }
    }
}

#[test]
fn manifest_refuses_what_is_not_a_playlist() {
    let (dir, private, _) = keys("ecdsa");
    let not_utf8 = dir.path().join("binary.m3u8");
    std::fs::write(&not_utf8, b"#EXTM3U\n\xff\xfe.ts\n").unwrap();
    let cases: [(&str, &str); 3] = [
        (
            "<html>not a playlist</html>\n",
            "does not start with #EXTM3U",
        ),
        (
            "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\n",
            "line 2: EXT-X-KEY has a malformed attribute list",
        ),
        (
            "#EXTM3U\n#EXT-X-MAP:URI=\"\"\n",
            "line 2: EXT-X-MAP has an empty URI attribute",
        ),
    ];
    for (playlist, expected) in cases {
        let out = manifest(dir.path(), &private, playlist, &[]);
        assert_eq!(out.status.code(), Some(2), "{playlist:?}");
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
        assert!(stdout(&out).is_empty(), "nothing printed on error");
    }
    let url = format!("{HOST}/videos/index._m3u8");
    let out = hls_sign(&[
        "manifest",
        "--url",
        &url,
        "--key",
        private.to_str().unwrap(),
        "--key-pair-id",
        "KTEST",
        "--ttl",
        "60",
        not_utf8.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not UTF-8 text (byte 8)"),
        "{}",
        stderr(&out)
    );
}

/// Regression (security review, finding 9): a URI whose *host* ends in
/// `.m3u8` made the rename decision and the slice disagree, and the rewriter
/// panicked. No input may panic it: every odd shape is rewritten or refused.
#[test]
fn manifest_does_not_panic_on_a_host_named_like_a_playlist() {
    let (dir, private, _) = keys("ecdsa");
    let playlist =
        "#EXTM3U\n#EXTINF:4,\nhttps://media.m3u8\n#EXTINF:4,\nhttps://media.m3u8/x.m3u8\n\
                    #EXTINF:4,\n//media.m3u8\n#EXTINF:4,\nhttps://media.m3u8?x=1.m3u8\n";
    let out = manifest(
        dir.path(),
        &private,
        playlist,
        &["--extra-host", "media.m3u8"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let body = stdout(&out);
    assert!(body.contains("\nhttps://media.m3u8?"), "{body}");
    assert!(body.contains("\nhttps://media.m3u8/x._m3u8?"), "{body}");
    assert!(!stderr(&out).contains("panicked"));
}

/// Regression (finding 10): `Expires=+N` and `Expires=%2B0N` were accepted.
/// CloudFront's canned policy is rebuilt from the text as a plain epoch
/// second, so anything else is refused (MalformedPolicy).
#[test]
fn verify_refuses_signed_or_padded_expires() {
    let (_dir, private, public) = keys("rsa");
    let url = format!("{HOST}/videos/a.ts");
    let out = hls_sign(&[
        "url",
        &url,
        "--key",
        private.to_str().unwrap(),
        "--key-pair-id",
        "KTEST",
        "--expires",
        "1800000600",
    ]);
    let signed = stdout(&out).trim().to_owned();
    let good = verify(&signed, &public, &["--now", "1800000000"]);
    assert!(good.status.success(), "{}", stdout(&good));
    for bad in [
        "Expires=+1800000600",
        "Expires=%2B01800000600",
        "Expires=01800000600",
    ] {
        let forged = signed.replace("Expires=1800000600", bad);
        let out = verify(&forged, &public, &["--now", "1800000000"]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", stdout(&out));
        assert!(stdout(&out).contains("MalformedPolicy"), "{}", stdout(&out));
    }
    // A second, different Signature is refused rather than "last one wins".
    let doubled = format!("{signed}&Signature=AAAA");
    let out = verify(&doubled, &public, &["--now", "1800000000"]);
    assert!(
        stdout(&out).contains("403 MalformedSignature"),
        "{}",
        stdout(&out)
    );
}

/// A manifest run without a grant in --url is the key holder granting itself
/// --url; a grant that does not verify is refused before anything is signed.
#[test]
fn manifest_verifies_the_grant_in_its_url() {
    let (dir, private, _) = keys("ecdsa");
    let input = dir.path().join("in.m3u8");
    std::fs::write(&input, "#EXTM3U\n#EXTINF:4,\nseg-1.ts\n").unwrap();
    let forged =
        format!("{HOST}/videos/index._m3u8?Expires=1800000600&Signature=AAAA&Key-Pair-Id=KTEST");
    let out = hls_sign(&[
        "manifest",
        "--url",
        &forged,
        "--key",
        private.to_str().unwrap(),
        "--key-pair-id",
        "KTEST",
        "--now",
        "1800000000",
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the grant does not verify"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

/// `manifest` builds its configuration like the function: a bad field in
/// `--config` (or the environment) is refused with the field named.
#[test]
fn manifest_validates_its_configuration() {
    let (dir, private, _) = keys("ecdsa");
    let config = dir.path().join("bad.json");
    std::fs::write(&config, r#"{"suffix": "_m3u8"}"#).unwrap();
    let out = manifest(
        dir.path(),
        &private,
        "#EXTM3U\n#EXTINF:4,\nseg-1.ts\n",
        &["--config", config.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`suffix`"), "{}", stderr(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_hls-sign"))
        .args([
            "manifest",
            "--url",
            "https://d.example/v/index._m3u8",
            "--key",
        ])
        .arg(&private)
        .args(["--key-pair-id", "KTEST", "-"])
        .env("HLS_IP_PINNING", "2001:db8::/32")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`ip_pinning`"), "{}", stderr(&out));
}

#[test]
fn manifest_rewrites_an_mpd_by_the_url_suffix_or_format() {
    let (dir, private, _) = keys("ecdsa");
    let mpd = r#"<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S">
  <!-- kept -->
  <Period><AdaptationSet><Representation id="v" bandwidth="1">
    <SegmentTemplate duration="2" media="v-$Number$.m4s" initialization="v-init.mp4"/>
  </Representation></AdaptationSet></Period>
</MPD>
"#;
    let input = dir.path().join("in.mpd");
    std::fs::write(&input, mpd).unwrap();
    for (url, format) in [
        (format!("{HOST}/videos/stream._mpd"), "auto"),
        (format!("{HOST}/videos/stream"), "dash"),
    ] {
        let out = hls_sign(&[
            "manifest",
            "--url",
            &url,
            "--key",
            private.to_str().unwrap(),
            "--key-pair-id",
            "KTEST",
            "--now",
            "1800000000",
            "--format",
            format,
            input.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        let body = stdout(&out);
        assert!(body.contains("<!-- kept -->"), "{body}");
        assert!(body.contains(r#"media="v-$Number$.m4s?Policy="#), "{body}");
        assert!(body.contains("&amp;Signature="), "{body}");
        assert!(
            body.contains(r#"initialization="v-init.mp4?Expires="#),
            "{body}"
        );
    }
    // Malformed XML: a clear error, nothing printed.
    std::fs::write(&input, "<MPD><Period></MPD>").unwrap();
    let url = format!("{HOST}/videos/stream._mpd");
    let out = hls_sign(&[
        "manifest",
        "--url",
        &url,
        "--key",
        private.to_str().unwrap(),
        "--key-pair-id",
        "KTEST",
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("malformed XML"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

/// `manifest --delivery` goes through the function's delivery path: cookies
/// (Set-Cookie lines on standard error, the playlist as it is), a choice the
/// grant cannot carry falling back to rewriting, and an unknown value refused.
#[test]
fn manifest_delivers_as_the_function_does() {
    let (dir, private, _) = keys("ecdsa");
    let media = "#EXTM3U\n#EXTINF:4,\nseg-1.ts\n#EXTINF:4,\nseg-2.ts\n";
    let out = manifest(dir.path(), &private, media, &["--delivery", "cookies"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), media);
    let cookies: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.starts_with("Set-Cookie: CloudFront-"))
        .map(str::to_owned)
        .collect();
    assert_eq!(cookies.len(), 4, "{}", stderr(&out));
    for cookie in &cookies {
        assert!(
            cookie.ends_with("; Path=/videos/; Secure; HttpOnly; SameSite=Lax"),
            "{cookie}"
        );
    }
    // The key holder's own grant for --url is canned: it cannot travel.
    let out = manifest(dir.path(), &private, media, &["--delivery", "query"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not used: canned_grant"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("seg-1.ts?Policy=") && !stdout(&out).contains("EXT-X-DEFINE"),
        "{}",
        stdout(&out)
    );
    let out = manifest(dir.path(), &private, media, &["--delivery", "everything"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("delivery"), "{}", stderr(&out));
}

/// The emulator forwards viewers' grants to `--function-url` in headers:
/// only over https or to a loopback address.
#[test]
fn serve_refuses_a_function_url_a_grant_should_not_travel_to() {
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "node is required under CI"
        );
        println!("skipped: node is not installed");
        return;
    }
    let (_dir, private, _) = keys("ecdsa");
    let out = hls_sign(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--key",
        private.to_str().unwrap(),
        "--key-pair-id",
        "KTEST",
        "--function-url",
        "http://192.0.2.10:9000/lambda-url/_",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--function-url"), "{}", stderr(&out));
    assert!(stderr(&out).contains("loopback"), "{}", stderr(&out));
}
