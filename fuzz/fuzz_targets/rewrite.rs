//! Arbitrary bytes into the playlist rewriter (first byte: mode, extra hosts
//! and confinement; rest: the playlist). It must never panic, and a
//! successful rewrite must be lossless:
//! take the signing parameters it appended back out and undo the `._m3u8`
//! rename, and the input comes back byte for byte.
//!
//! The check below does not reuse the rewriter's own splitting code. It
//! rescans the output, compares the text between URIs byte for byte, and
//! takes each changed URI apart by hand.

#![no_main]

#[path = "shared/rewriters.rs"]
mod rewriters;

use rewriters::{Setup, APPENDABLE, KEY_PAIR_ID, NOW};

use std::sync::OnceLock;

use hls_edge_signer::hls::rewrite::{RewriteError, RewriteStats, Viewer};
use hls_edge_signer::hls::scan::scan;
use hls_edge_signer::uri::{is_plain_relative_path, resolve, AbsoluteUrl};
use libfuzzer_sys::fuzz_target;

const VIEWER_URL: &str = "https://d111111abcdef8.cloudfront.net/videos/index._m3u8";
/// The directory of `VIEWER_URL`, written out by hand.
const VIEWER_DIRECTORY: &str = "https://d111111abcdef8.cloudfront.net/videos/";
const SUFFIX: &str = "._m3u8";
/// Hosts named like playlists (the rewriter once panicked on them).
const EXTRA_HOSTS: [&str; 2] = ["media.m3u8", "cdn.example.net"];

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| Setup::new(VIEWER_URL, VIEWER_DIRECTORY, &EXTRA_HOSTS))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(playlist) = std::str::from_utf8(rest) else {
        return;
    };
    check_fast_path(playlist);
    let setup = setup();
    let rewriter = &setup.rewriters[usize::from(selector) % setup.rewriters.len()];
    let viewer = Viewer {
        url: &setup.viewer_url,
        grant: &setup.grant,
        client_ip: None,
    };
    match rewriter.rewrite(playlist, &viewer, NOW) {
        Ok(out) => {
            assert!(out.expires > NOW, "issued signatures already expired");
            check_lossless(playlist, &out.body, &out.stats);
        }
        // A scan error is the scanner's own verdict, unchanged.
        Err(RewriteError::Scan(e)) => assert_eq!(scan(playlist), Err(e)),
        Err(_) => assert!(scan(playlist).is_ok()),
    }
});

/// The rewriter resolves "plain relative paths" by concatenation instead of
/// full RFC 3986 resolution; both must agree on every URI the scanner finds.
fn check_fast_path(playlist: &str) {
    static BASE: OnceLock<AbsoluteUrl> = OnceLock::new();
    let base = BASE.get_or_init(|| AbsoluteUrl::parse(VIEWER_URL).expect("viewer URL parses"));
    let Ok(refs) = scan(playlist) else {
        return;
    };
    for r in refs {
        let reference = &playlist[r.range];
        if is_plain_relative_path(reference) {
            let resolved = resolve(base, reference).unwrap_or_else(|e| {
                panic!("plain relative path {reference:?} fails to resolve: {e}")
            });
            assert_eq!(
                resolved.as_str(),
                format!("{VIEWER_DIRECTORY}{reference}"),
                "plain relative path {reference:?} does not resolve by concatenation"
            );
        }
    }
}

fn check_lossless(input: &str, output: &str, stats: &RewriteStats) {
    let before = scan(input).expect("rewrite succeeded on a playlist the scanner rejects");
    let after = scan(output).unwrap_or_else(|e| panic!("the output no longer scans: {e}"));
    assert_eq!(
        before.len(),
        after.len(),
        "the output has a different number of URIs"
    );

    let (mut in_pos, mut out_pos) = (0, 0);
    let (mut changed, mut renamed) = (0, 0);
    for (i, (a, b)) in before.iter().zip(&after).enumerate() {
        assert_eq!(a.carrier, b.carrier, "URI #{i}: carrier changed");
        assert_eq!(a.line, b.line, "URI #{i}: line changed");
        assert!(
            input.as_bytes()[in_pos..a.range.start] == output.as_bytes()[out_pos..b.range.start],
            "the text before URI #{i} changed"
        );
        in_pos = a.range.end;
        out_pos = b.range.end;

        let original = &input[a.range.clone()];
        let rewritten = &output[b.range.clone()];
        if original != rewritten {
            changed += 1;
            if check_signed_uri(i, original, rewritten) {
                renamed += 1;
            }
        }
    }
    assert!(
        input.as_bytes()[in_pos..] == output.as_bytes()[out_pos..],
        "the text after the last URI changed"
    );

    assert_eq!(stats.uris, before.len(), "stats.uris");
    assert_eq!(
        stats.signed + stats.untouched + stats.unsigned,
        stats.uris,
        "stats.signed + stats.untouched + stats.unsigned"
    );
    assert_eq!(stats.signed, changed, "stats.signed vs URIs that changed");
    assert_eq!(stats.renamed, renamed, "stats.renamed vs URIs renamed");
}

/// A URI reference cut at its first `#` (fragment, `#` kept) and at the first
/// `?` before that (query, `?` dropped).
struct Parts<'a> {
    path: &'a str,
    query: Option<&'a str>,
    fragment: &'a str,
}

fn parts(reference: &str) -> Parts<'_> {
    let (rest, fragment) = reference.split_at(reference.find('#').unwrap_or(reference.len()));
    let (path, query) = match rest.find('?') {
        Some(q) => (&rest[..q], Some(&rest[q + 1..])),
        None => (rest, None),
    };
    Parts {
        path,
        query,
        fragment,
    }
}

fn pair_name(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(name, _)| name)
}

/// Checks that `rewritten` is `original` with its path possibly renamed and
/// signing parameters appended to its query; returns whether it was renamed.
fn check_signed_uri(i: usize, original: &str, rewritten: &str) -> bool {
    let ctx = || format!("URI #{i}: {original:?} became {rewritten:?}");
    let a = parts(original);
    let b = parts(rewritten);

    assert_eq!(a.fragment, b.fragment, "fragment changed; {}", ctx());

    // A reference already carrying signing parameters must be left alone.
    assert!(
        !a.query
            .unwrap_or("")
            .split('&')
            .any(|p| APPENDABLE.contains(&pair_name(p))),
        "an already signed URI was changed; {}",
        ctx()
    );

    // The path: unchanged, or a final `.m3u8` (any case) replaced by the
    // suffix — unless the `.m3u8` ends a host name (`https://media.m3u8`),
    // where there is no path to rename.
    let authority_only = a.path.split_once("//").is_some_and(|(scheme, rest)| {
        (scheme.is_empty() || scheme.ends_with(':')) && !scheme.contains('/') && !rest.contains('/')
    });
    // Only the lowercase spelling is renamed (it must round-trip through the
    // function's `._m3u8` → `.m3u8` mapping).
    let playlist = !authority_only && a.path.ends_with(".m3u8");
    let renamed = if playlist {
        let expected = format!("{}{SUFFIX}", &a.path[..a.path.len() - 5]);
        assert_eq!(b.path, expected, "child playlist not renamed; {}", ctx());
        true
    } else {
        assert_eq!(b.path, a.path, "path changed; {}", ctx());
        false
    };

    // The query: the original one, then the appended pairs as pairs of
    // their own (after `&`, unless the original query is empty or already
    // ends with `&`).
    let query = b
        .query
        .unwrap_or_else(|| panic!("signed URI has no query; {}", ctx()));
    let appended = match a.query {
        None => query,
        Some(q) => {
            let rest = query
                .strip_prefix(q)
                .unwrap_or_else(|| panic!("original query not kept; {}", ctx()));
            if q.is_empty() || q.ends_with('&') {
                rest
            } else {
                rest.strip_prefix('&').unwrap_or_else(|| {
                    panic!("appended parameters not separated by '&'; {}", ctx())
                })
            }
        }
    };

    let mut names = Vec::new();
    for pair in appended.split('&') {
        let (name, value) = pair
            .split_once('=')
            .unwrap_or_else(|| panic!("appended pair {pair:?} without '='; {}", ctx()));
        assert!(APPENDABLE.contains(&name), "appended {name:?}; {}", ctx());
        assert!(!names.contains(&name), "{name} appended twice; {}", ctx());
        assert!(
            !value.is_empty()
                && value
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'~')),
            "{name} has value {value:?}; {}",
            ctx()
        );
        names.push(name);
        match name {
            "Key-Pair-Id" => assert_eq!(value, KEY_PAIR_ID, "{}", ctx()),
            "Hash-Algorithm" => assert_eq!(value, "SHA256", "{}", ctx()),
            "Expires" => assert!(value.parse::<u64>().is_ok_and(|t| t > NOW), "{}", ctx()),
            _ => {}
        }
    }
    for required in ["Signature", "Key-Pair-Id", "Hash-Algorithm"] {
        assert!(names.contains(&required), "{required} missing; {}", ctx());
    }
    assert!(
        names.contains(&"Expires") != names.contains(&"Policy"),
        "need exactly one of Expires and Policy; {}",
        ctx()
    );
    renamed
}
