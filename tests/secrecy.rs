//! No key material in anything the product says (DESIGN §5.6): damaged keys
//! and secrets, in every way we know of, through every entry point — the
//! library's errors, the handler's log record, metrics line and response,
//! the CLI's stdout and stderr, and the emulator's access log — and then
//! every byte captured is scanned for any 16-character run of the keys'
//! base64 bodies.
//!
//! The keys are the shared test keys when `../shared` is present, else keys
//! generated here (the scan works the same on both).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{generated_key, shared_testdata};
use hls_edge_signer::config::RawConfig;
use hls_edge_signer::edge::lambda::handle_event;
use hls_edge_signer::edge::Handler;
use hls_edge_signer::secrets::parse_secret;
use hls_edge_signer::{KeyAlgorithm, PrivateKey, PublicKey, TrustedKeys};
use serde_json::json;

/// The private keys whose bodies must never appear.
fn private_keys() -> Vec<String> {
    let mut keys = vec![generated_key(KeyAlgorithm::Rsa2048).0.clone()];
    keys.push(generated_key(KeyAlgorithm::EcdsaP256).0.clone());
    if let Some(data) = shared_testdata("secrecy (shared test keys)") {
        for name in [
            "test-private-key.pem",
            "test-private-key.pkcs8.pem",
            "test-private-key-2.pem",
        ] {
            keys.push(std::fs::read_to_string(data.join("keys").join(name)).unwrap());
        }
    }
    keys
}

/// The base64 body of a PEM (every line between BEGIN and END, joined).
fn body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && !l.contains(':'))
        .collect::<String>()
}

/// Every way a PEM gets damaged in storage, transit or copy-paste.
fn damaged(pem: &str) -> Vec<(&'static str, String)> {
    let lines: Vec<&str> = pem.lines().collect();
    let begin = lines[0];
    let end = lines[lines.len() - 1];
    let middle = &lines[1..lines.len() - 1];
    let join = |ls: &[&str]| ls.join("\n") + "\n";
    let mut out = vec![
        // The finding: the BEGIN line lost its closing dashes.
        (
            "BEGIN without closing dashes",
            pem.replacen(begin, begin.trim_end_matches('-'), 1),
        ),
        ("END line missing", join(&lines[..lines.len() - 1])),
        (
            "BEGIN and END labels differ",
            pem.replacen(end, "-----END SOMETHING ELSE-----", 1),
        ),
        (
            "body truncated",
            join(&[&[begin], &middle[..middle.len() / 2], &[end]].concat()),
        ),
        (
            "a character outside base64",
            pem.replacen(&middle[1][..4], "!!!!", 1),
        ),
        ("one byte flipped", {
            let mut bytes = pem.as_bytes().to_vec();
            let at = begin.len() + 40;
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            String::from_utf8(bytes).unwrap()
        }),
        ("labels stripped", join(middle)),
        (
            "line breaks lost",
            format!("{begin}{}{end}", middle.concat()),
        ),
        (
            "literal \\n instead of line breaks",
            pem.trim_end().replace('\n', "\\n"),
        ),
        (
            "no END dashes",
            pem.replacen(end, end.trim_end_matches('-'), 1),
        ),
        (
            "BEGIN label in lower case",
            pem.replacen(begin, &begin.to_ascii_lowercase(), 1),
        ),
        (
            "encrypted header",
            pem.replacen(
                begin,
                &format!("{begin}\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00"),
                1,
            ),
        ),
    ];
    // Secret-shaped JSON around a damaged key, and broken JSON around a good one.
    let broken = out[0].1.clone();
    out.push((
        "JSON secret holding the damaged key",
        json!({"private_key": broken, "key_pair_id": "K"}).to_string(),
    ));
    out.push((
        "JSON secret cut short",
        json!({"private_key": pem, "key_pair_id": "K"}).to_string()[..200].to_owned(),
    ));
    out.push((
        "JSON secret with an unknown field",
        json!({"private_key": pem, "key_pair_id": "K", "privatekey": pem}).to_string(),
    ));
    out.push((
        "JSON secret whose previous key is damaged",
        json!({"private_key": pem, "key_pair_id": "K",
               "previous": {"private_key": broken, "key_pair_id": "O"}})
        .to_string(),
    ));
    out
}

/// Fails when `text` holds any 16-character run of any key body.
fn assert_no_key_material(text: &str, keys: &[String], context: &str) {
    for key in keys {
        let body = body(key);
        let chars: Vec<char> = body.chars().collect();
        for window in chars.windows(16).step_by(4) {
            let run: String = window.iter().collect();
            if let Some(line) = text.lines().position(|l| l.contains(&run)) {
                // The line itself is not printed: it holds key material.
                panic!("{context}: key material in captured output line {line}");
            }
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("secrecy-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn damaged_keys_never_leak_through_the_library_or_the_handler() {
    let keys = private_keys();
    let dir = scratch("handler");
    let mut captured = String::new();
    let mut cases = 0;
    for key in &keys {
        for (what, text) in damaged(key) {
            cases += 1;
            // The library's own errors.
            if let Err(e) = PrivateKey::from_pem(&text) {
                captured.push_str(&format!("{what}: {e} / {e:?}\n"));
            }
            if let Err(e) = PublicKey::from_pem(&text) {
                captured.push_str(&format!("{what}: {e} / {e:?}\n"));
            }
            match parse_secret(&text, Some("K"), None, &TrustedKeys::new(), 0) {
                Err(e) => captured.push_str(&format!("{what}: {e} / {e:?}\n")),
                Ok(material) => captured.push_str(&format!("{what}: {:?}\n", material.signer)),
            }
            // The handler, whose key file holds the damaged text: its
            // response, log line, metrics line and degradation note.
            let file = dir.join("key.pem");
            std::fs::write(&file, &text).unwrap();
            let config = json!({"key": {"file": file}, "key_pair_id": "K",
                                "trusted_keys": {"KSAMPLEEVENTS": "@events/sample-events-public.pem"}});
            let config = RawConfig::from_json(&config.to_string())
                .unwrap()
                .validate()
                .unwrap();
            let handler = Handler::from_config(config, Some(repo().join("events/origin")))
                .await
                .unwrap();
            let event: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(repo().join("events/function-url.json")).unwrap(),
            )
            .unwrap();
            let (response, log) = handle_event(&handler, event, 1_800_000_000).await.unwrap();
            captured.push_str(&format!(
                "{what}: {response}\n{}\n{}\n{:?}\n",
                log.json_line(),
                log.emf_line(0),
                log.key_degraded
            ));
            if !matches!(
                what,
                "one byte flipped" | "JSON secret with an unknown field"
            ) {
                // Every other damage is detected at load: a clear 500.
                assert_eq!(response["statusCode"], 500, "{what}: {response}");
            }
            // A damaged trusted key in the configuration names the field,
            // never the text.
            let bad_group = json!({"key": {"file": "k.pem"}, "trusted_keys": {"KBAD": text}});
            if let Err(e) = RawConfig::from_json(&bad_group.to_string())
                .unwrap()
                .validate()
            {
                captured.push_str(&format!("{what}: {e}\n"));
            }
        }
    }
    assert!(cases >= 16, "{cases}");
    assert_no_key_material(&captured, &keys, "library and handler");
}

#[test]
fn damaged_keys_never_leak_through_the_cli() {
    let keys = private_keys();
    let dir = scratch("cli");
    let playlist = dir.join("in.m3u8");
    std::fs::write(&playlist, "#EXTM3U\n#EXTINF:4,\nseg-1.ts\n").unwrap();
    let mut captured = String::new();
    for key in &keys {
        for (what, text) in damaged(key) {
            let file = dir.join("key.pem");
            std::fs::write(&file, &text).unwrap();
            let file = file.to_str().unwrap();
            let runs: [&[&str]; 4] = [
                &[
                    "url",
                    "https://d.example/a.ts",
                    "--key",
                    file,
                    "--key-pair-id",
                    "K",
                    "--ttl",
                    "60",
                ],
                &[
                    "cookies",
                    "--resource",
                    "https://d.example/*",
                    "--key",
                    file,
                    "--key-pair-id",
                    "K",
                    "--ttl",
                    "60",
                ],
                &[
                    "manifest",
                    "--url",
                    "https://d.example/v/index._m3u8",
                    "--key",
                    file,
                    "--key-pair-id",
                    "K",
                    playlist.to_str().unwrap(),
                ],
                &[
                    "invoke",
                    "events/function-url.json",
                    "--origin-dir",
                    "events/origin",
                    "--key",
                    file,
                    "--key-pair-id",
                    "K",
                    "--public-key",
                    "KSAMPLEEVENTS=events/sample-events-public.pem",
                ],
            ];
            for args in runs {
                let out = Command::new(env!("CARGO_BIN_EXE_hls-sign"))
                    .args(args)
                    .current_dir(repo())
                    .output()
                    .unwrap();
                captured.push_str(&format!(
                    "{what} {}: {}\n{}\n",
                    args[0],
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            // A damaged --public-key is named, not quoted.
            let out = Command::new(env!("CARGO_BIN_EXE_hls-sign"))
                .args([
                    "verify",
                    "https://d.example/a.ts?Expires=1&Signature=AAAA&Key-Pair-Id=K",
                    "--public-key",
                    &format!("K={file}"),
                ])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{what}");
            captured.push_str(&String::from_utf8_lossy(&out.stderr));
        }
    }
    assert!(captured.contains("PEM block is damaged"), "{captured}");
    assert_no_key_material(&captured, &keys, "CLI");
}

#[test]
fn damaged_keys_never_leak_through_the_emulator() {
    if !common::stack::have("node", &["--version"]) {
        return;
    }
    let keys = private_keys();
    let dir = scratch("emulator");
    let pem = &keys[0];
    let mut captured = String::new();
    for (what, text) in damaged(pem).into_iter().take(4) {
        let file = dir.join("key.pem");
        std::fs::write(&file, &text).unwrap();
        let emulator = common::emulator::EmulatorProcess::start(
            repo(),
            &[
                "--origin",
                "events/origin",
                "--key",
                file.to_str().unwrap(),
                "--key-pair-id",
                "K",
            ],
        );
        for path in [
            "/sample/index._m3u8?Expires=1&Signature=AAAA&Key-Pair-Id=K",
            "/dev/sign",
        ] {
            let answer = common::emulator::get_with(&format!("{}{path}", emulator.base), &[]);
            captured.push_str(&format!("{what}: {} {}\n", answer.status, answer.body));
            assert_eq!(answer.status, 500, "{what}: {}", answer.body);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        captured.push_str(&emulator.log_lines().join("\n"));
    }
    assert!(captured.contains("no key"), "{captured}");
    assert_no_key_material(&captured, &keys, "emulator");
}
