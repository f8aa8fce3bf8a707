//! Live streams end to end, over the deployed chain (emulator, the
//! template's CloudFront Function and live behaviours, the real bootstrap
//! under `cargo lambda watch`), with real players watching a playlist that
//! changes under them:
//!
//! * a sliding-window stream that ffmpeg encodes in real time, watched by
//!   hls.js for 90 s across several expiry buckets (no stall, no 403, every
//!   segment URI identical between reloads within a bucket), while a second
//!   viewer whose grant ends mid-stream is cut off at that second and ffmpeg
//!   records the stream;
//! * the LL-HLS origin (`hls-sign live-origin`), watched by hls.js in
//!   low-latency mode: blocking reloads reach the origin with their
//!   directives, parts and preload hints are signed and fetched, rendition
//!   reports come back signed.
//!
//! The two run one after the other (each holds a browser, an encoder or an
//! origin, and the machine may have two cores). Tools that are missing skip
//! with a note, except under CI.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::emulator::EmulatorProcess;
use common::independent::{issued, resolve, uris};
use common::stack::{have, key_file, players_ready, Backend, Killed, Stack};
use serde_json::Value;

const KEY_PAIR_ID: &str = "KLIVE";
/// One live test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Everything the live tests need, or `false` after a note.
fn ready() -> bool {
    players_ready() && have("ffmpeg", &["-version"])
}

/// hls.js on the development page, watching `path` for `seconds` of
/// playback (`ttl`: a viewer grant that ends that many seconds from now).
fn watch(stack: &Stack, name: &str, path: &str, seconds: u64, ttl: Option<u64>) -> Child {
    let page = format!(
        "{}/?path={path}&player=hls.js{}",
        stack.emulator.base,
        ttl.map_or(String::new(), |t| format!("&ttl={t}"))
    );
    Command::new("node")
        .arg(repo().join("tests/e2e/player.mjs"))
        .arg(page)
        .arg(scratch("live-shots").join(format!("{name}.png")))
        .arg(((seconds + 60) * 1000).to_string())
        .env("WATCH_S", seconds.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start player.mjs")
}

/// The player's JSON line and whether it exited successfully.
fn result_of(name: &str, player: Child) -> (bool, Value, String) {
    let out = player.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let line = stdout.lines().last().unwrap_or("null");
    let result: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("player output is not JSON ({e}): {stdout}\n{stderr}"));
    // Kept for a look after a failure.
    let _ = std::fs::write(scratch("live-shots").join(format!("{name}.json")), line);
    (out.status.success(), result, stderr)
}

/// Asserts that no segment, part or key URI changed between two reloads of
/// the same playlist within one expiry bucket; returns the buckets seen.
fn assert_stable_within_buckets(result: &Value) -> BTreeSet<u64> {
    // (playlist path, bucket) -> media path -> the URI it was written as.
    let mut seen: HashMap<(String, u64), HashMap<String, String>> = HashMap::new();
    let mut buckets = BTreeSet::new();
    let mut compared = 0;
    for reload in result["playlists"].as_array().unwrap() {
        let body = reload["body"].as_str().unwrap_or("");
        if reload["status"] != 200 || !body.contains("#EXTINF") {
            continue;
        }
        let url = reload["url"].as_str().unwrap();
        let playlist = url.split('?').next().unwrap().to_owned();
        for uri in uris(body) {
            let absolute = resolve(url, &uri);
            let media = absolute.split('?').next().unwrap().to_owned();
            if media.ends_with("._m3u8") {
                continue; // rendition reports: a child playlist's own grant
            }
            let grant = issued(&absolute).unwrap_or_else(|| panic!("unsigned: {uri}"));
            buckets.insert(grant.expires);
            let written = seen.entry((playlist.clone(), grant.expires)).or_default();
            match written.get(&media) {
                Some(before) => {
                    compared += 1;
                    assert_eq!(before, &uri, "{media} changed within a bucket");
                }
                None => {
                    written.insert(media, uri);
                }
            }
        }
    }
    assert!(compared > 20, "too few reloads compared: {compared}");
    buckets
}

/// What a viewer's requests got, after `t` (epoch seconds).
fn statuses_after(result: &Value, t: f64) -> Vec<(f64, u64, String)> {
    result["requestLog"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            let at = r["at"].as_f64()?;
            (at >= t).then(|| {
                let url = r["url"].as_str().unwrap_or("");
                (
                    at,
                    r["status"].as_u64().unwrap_or(0),
                    url.split('?').next().unwrap().to_owned(),
                )
            })
        })
        .collect()
}

#[test]
fn a_live_window_plays_for_90_s_and_an_expired_viewer_is_cut_off() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !ready() {
        return;
    }
    // ffmpeg encodes in real time into the live origin's folder.
    let origin = scratch("live-window-origin");
    let stream = origin.join("live/ff");
    // Nothing left from an earlier run may pass for the new stream.
    let _ = std::fs::remove_dir_all(&stream);
    let encoder = Killed(
        Command::new(repo().join("scripts/live-source.sh"))
            .args(["window", stream.to_str().unwrap(), "150"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start ffmpeg"),
    );
    // Bounded wait for three segments in the window.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(stream.join("index.m3u8"))
        .map_or(true, |p| p.matches("#EXTINF").count() < 3)
    {
        assert!(Instant::now() < deadline, "ffmpeg wrote no live playlist");
        std::thread::sleep(Duration::from_millis(200));
    }
    // 30 s expiry buckets: 90 s of watching crosses at least two.
    let stack = Stack::start_with(
        Backend::Bootstrap,
        &key_file("live-window"),
        KEY_PAIR_ID,
        &["--live-origin", origin.to_str().unwrap()],
        &[("HLS_TTL", 60), ("HLS_BUCKET", 30)],
    );
    let path = "/live/ff/master._m3u8";
    let started = now();
    let viewer = watch(&stack, "live-window", path, 90, None);
    // A second viewer whose grant ends 25 s from now.
    let ends = started + 25.0;
    let expiring = watch(&stack, "live-expiring", path, 50, Some(25));
    // ffmpeg records 20 s of the stream through the chain.
    let recording = scratch("live-window").join("recording.ts");
    let signed: Value = serde_json::from_str(
        &common::emulator::get(&format!("{}/dev/sign?path={path}", stack.emulator.base)).1,
    )
    .unwrap();
    let recorder = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(signed["url"].as_str().unwrap())
        .args(["-t", "20", "-c", "copy"])
        .arg(&recording)
        .output()
        .unwrap();
    assert!(
        recorder.status.success(),
        "ffmpeg recording: {}",
        String::from_utf8_lossy(&recorder.stderr)
    );
    let decoded = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(&recording)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        decoded.status.success() && decoded.stderr.is_empty(),
        "{decoded:?}"
    );
    assert!(std::fs::metadata(&recording).unwrap().len() > 100_000);

    // The expiring viewer: everything worked until its grant ended; after
    // that, CloudFront's 403 and nothing more.
    let (_, cut, stderr) = result_of("live-expiring", expiring);
    // The grant's own end, as signed into the master URL the page used.
    let ends = cut["requestLog"][0]["url"]
        .as_str()
        .and_then(|url| {
            url.split(['?', '&'])
                .find_map(|p| p.strip_prefix("Expires="))
        })
        .and_then(|e| e.parse::<f64>().ok())
        .unwrap_or(ends);
    let before: Vec<_> = statuses_after(&cut, 0.0)
        .into_iter()
        .filter(|(at, _, _)| *at < ends - 1.0)
        .collect();
    assert!(before.len() > 5, "{cut}");
    assert!(
        before
            .iter()
            .all(|(_, status, _)| (200..300).contains(status)),
        "{before:?}"
    );
    let after = statuses_after(&cut, ends + 1.0);
    assert!(
        after
            .iter()
            .all(|(_, status, _)| !(200..300).contains(status)),
        "served after the grant ended: {after:?}\n{stderr}"
    );
    // Within one bucket of its end, the viewer met the 403.
    assert!(
        statuses_after(&cut, ends - 1.0)
            .iter()
            .any(|(at, status, _)| *status == 403 && *at <= ends + 30.0),
        "{cut}"
    );

    // The viewer with a valid grant watched all the way.
    let (ok, result, stderr) = result_of("live-window", viewer);
    drop(encoder);
    assert!(ok, "{result}\n{stderr}");
    assert!(result["advanced"].as_f64().unwrap() >= 85.0, "{result}");
    assert!(
        result["longestFreeze"].as_f64().unwrap() < 3.0,
        "stalled: {result}"
    );
    assert_eq!(result["unsigned"], 0);
    let statuses: BTreeSet<u64> = statuses_after(&result, 0.0).iter().map(|s| s.1).collect();
    assert_eq!(statuses, BTreeSet::from([200]), "{statuses:?}");
    let buckets = assert_stable_within_buckets(&result);
    assert!(buckets.len() >= 2, "{buckets:?}");
    // The only 403s in the access log are the expired viewer's.
    let log = stack.emulator.log_lines();
    assert!(log.iter().any(|l| l.contains(" 403")));
    println!(
        "watched {:.0} s, {} reloads, {} buckets; cut off at {:.0}",
        result["watched"].as_f64().unwrap(),
        result["playlists"].as_array().unwrap().len(),
        buckets.len(),
        ends
    );
}

/// The LL-HLS parts, made once per build folder.
fn parts() -> PathBuf {
    let dir = scratch("live-parts");
    if !dir.join("parts.m3u8").is_file() {
        let status = Command::new(repo().join("scripts/live-source.sh"))
            .args(["parts", dir.to_str().unwrap(), "60"])
            .status()
            .unwrap();
        assert!(status.success(), "scripts/live-source.sh parts");
    }
    dir
}

/// `hls-sign live-origin` on loopback, its access log collected.
fn ll_origin(source: &Path) -> EmulatorProcess {
    EmulatorProcess::spawn(
        &repo(),
        &[
            "live-origin",
            "--source",
            source.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    )
}

#[test]
fn ll_hls_plays_with_blocking_reloads_parts_and_rendition_reports() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !ready() {
        return;
    }
    let origin = ll_origin(&parts());
    let base = origin
        .base
        .trim_end_matches("/live/ll/master.m3u8")
        .to_owned();
    let stack = Stack::start_with(
        Backend::Bootstrap,
        &key_file("live-ll"),
        KEY_PAIR_ID,
        &["--live-origin", &base],
        &[("HLS_TTL", 60), ("HLS_BUCKET", 10)],
    );
    let (ok, result, stderr) = result_of(
        "live-ll",
        watch(&stack, "live-ll", "/live/ll/master._m3u8", 30, None),
    );
    assert!(ok, "{result}\n{stderr}");
    assert!(result["advanced"].as_f64().unwrap() >= 25.0, "{result}");
    assert!(
        result["longestFreeze"].as_f64().unwrap() < 2.0,
        "stalled: {result}"
    );
    assert_eq!(result["unsigned"], 0, "{result}");
    let requests = statuses_after(&result, 0.0);
    assert!(
        requests.iter().all(|(_, s, _)| *s == 200 || *s == 0),
        "{requests:?}"
    );
    // Parts were signed and fetched.
    let parts = requests
        .iter()
        .filter(|(_, s, url)| {
            *s == 200 && url.rsplit('/').next().unwrap().matches('.').count() == 2
        })
        .count();
    assert!(parts >= 30, "parts fetched: {parts}");
    // Blocking reloads reached the origin with their directives.
    let log = origin.log_lines();
    let blocking: Vec<_> = log
        .iter()
        .filter(|l| l.contains("index.m3u8?") && l.contains("_HLS_msn=") && l.contains(" 200 "))
        .collect();
    assert!(blocking.len() >= 20, "{log:#?}");
    assert!(blocking.iter().any(|l| l.contains("_HLS_part=")));
    // Rendition reports and preload hints came back signed.
    let bodies: Vec<&str> = result["playlists"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["body"].as_str())
        .collect();
    assert!(bodies.iter().any(|b| b
        .contains("#EXT-X-RENDITION-REPORT:URI=\"../b/index._m3u8?Policy=")
        || b.contains("#EXT-X-RENDITION-REPORT:URI=\"../a/index._m3u8?Policy=")));
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s")
                && b.contains(".m4s?Policy="))
    );
    // Delta updates, when asked for, were delta updates.
    let asked_skip = result["playlists"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["url"].as_str().unwrap_or("").contains("_HLS_skip=YES"))
        .collect::<Vec<_>>();
    if !asked_skip.is_empty() {
        assert!(asked_skip.iter().any(|p| p["body"]
            .as_str()
            .unwrap_or("")
            .contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=")));
    }
    let buckets = assert_stable_within_buckets(&result);
    assert!(buckets.len() >= 2, "{buckets:?}");
    let log = stack.emulator.log_lines();
    assert!(!log.iter().any(|l| l.contains(" 403")), "{log:#?}");
    println!(
        "LL-HLS: {} blocking reloads at the origin, {parts} parts, {} buckets",
        blocking.len(),
        buckets.len()
    );
}
