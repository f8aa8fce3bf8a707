//! Arbitrary bytes into the MPD rewriter (first byte: mode, extra hosts and
//! confinement; rest: the document). It must never panic; malformed XML
//! must be an error (never a partial document); and a successful rewrite
//! must be lossless: take the signing parameters it appended back out of
//! each URL value and undo the `._mpd` rename, and the input comes back
//! byte for byte.

#![no_main]

#[path = "shared/rewriters.rs"]
mod rewriters;

use rewriters::{Setup, APPENDABLE, NOW};

use std::sync::OnceLock;

use hls_edge_signer::dash::scan::{scan, SlotKind};
use hls_edge_signer::hls::rewrite::{RewriteError, Viewer};
use libfuzzer_sys::fuzz_target;

const VIEWER_URL: &str = "https://d111111abcdef8.cloudfront.net/videos/stream._mpd";
const VIEWER_DIRECTORY: &str = "https://d111111abcdef8.cloudfront.net/videos/";
const EXTRA_HOSTS: [&str; 2] = ["media.mpd", "cdn.example.net"];

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| Setup::new(VIEWER_URL, VIEWER_DIRECTORY, &EXTRA_HOSTS))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let setup = setup();
    let rewriter = &setup.rewriters[usize::from(selector) % setup.rewriters.len()];
    let viewer = Viewer {
        url: &setup.viewer_url,
        grant: &setup.grant,
        client_ip: None,
    };
    match rewriter.rewrite_mpd(text, &viewer, NOW) {
        Ok(out) => check_lossless(text, &out.body),
        Err(RewriteError::Mpd(e)) => assert_eq!(scan(text).err(), Some(e)),
        Err(_) => assert!(scan(text).is_ok()),
    }
});

fn check_lossless(input: &str, output: &str) {
    let before = scan(input).expect("rewrite succeeded on a document the scanner rejects");
    let after = scan(output).unwrap_or_else(|e| panic!("the output no longer reads: {e}"));
    assert_eq!(
        before.slots.len(),
        after.slots.len(),
        "URL values added or lost"
    );
    let (mut in_pos, mut out_pos) = (0, 0);
    for (i, (a, b)) in before.slots.iter().zip(&after.slots).enumerate() {
        assert_eq!(a.kind, b.kind, "value #{i}: kind changed");
        assert!(
            input.as_bytes()[in_pos..a.range.start] == output.as_bytes()[out_pos..b.range.start],
            "the text before value #{i} changed"
        );
        in_pos = a.range.end;
        out_pos = b.range.end;
        let original = &input[a.range.clone()];
        let rewritten = &output[b.range.clone()];
        if original != rewritten {
            check_signed_value(i, a.kind, original, rewritten);
        }
    }
    assert!(
        input.as_bytes()[in_pos..] == output.as_bytes()[out_pos..],
        "the text after the last value changed"
    );
}

/// `rewritten` is `original` (a `Location`'s `.mpd` possibly renamed) with
/// signing parameters appended, `&` written `&amp;`, before any fragment.
fn check_signed_value(i: usize, kind: SlotKind, original: &str, rewritten: &str) {
    let ctx = || format!("value #{i}: {original:?} became {rewritten:?}");
    let fragment_at = |s: &str| {
        s.char_indices()
            .find(|&(j, c)| c == '#' && !s[..j].ends_with('&'))
            .map_or(s.len(), |(j, _)| j)
    };
    let (a, a_fragment) = original.split_at(fragment_at(original));
    let (b, b_fragment) = rewritten.split_at(fragment_at(rewritten));
    assert_eq!(a_fragment, b_fragment, "fragment changed; {}", ctx());
    let a_path_end = a.find('?').unwrap_or(a.len());
    let head = if kind == SlotKind::Location
        && b.starts_with(&format!(
            "{}._mpd",
            a[..a_path_end].strip_suffix(".mpd").unwrap_or("\u{0}")
        )) {
        format!("{}._mpd{}", &a[..a_path_end - 4], &a[a_path_end..])
    } else {
        a.to_owned()
    };
    let rest = b
        .strip_prefix(head.as_str())
        .unwrap_or_else(|| panic!("original value not kept; {}", ctx()));
    let appended = if !head.contains('?') {
        rest.strip_prefix('?')
    } else if head.ends_with('?') || head.ends_with('&') || head.ends_with("&amp;") {
        Some(rest)
    } else {
        rest.strip_prefix("&amp;")
    }
    .unwrap_or_else(|| panic!("parameters not separated; {}", ctx()));
    let mut names = Vec::new();
    for pair in appended.split("&amp;") {
        let (name, value) = pair
            .split_once('=')
            .unwrap_or_else(|| panic!("appended {pair:?}; {}", ctx()));
        assert!(APPENDABLE.contains(&name), "appended {name:?}; {}", ctx());
        assert!(!names.contains(&name), "{name} twice; {}", ctx());
        assert!(
            !value.is_empty()
                && value
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'~')),
            "{name}={value:?}; {}",
            ctx()
        );
        names.push(name);
    }
    for required in ["Signature", "Key-Pair-Id", "Hash-Algorithm"] {
        assert!(names.contains(&required), "{required} missing; {}", ctx());
    }
}
