//! Property tests of the rewriter: whatever the playlist, rewriting only
//! appends signing parameters and renames child playlists.

mod common;

use std::sync::OnceLock;

use common::generated_key;
use hls_edge_signer::grant::{Expiry, IpPinning};
use hls_edge_signer::hls::rewrite::{Mode, RewriteOptions, Rewriter, Viewer};
use hls_edge_signer::{
    verify_request, HashAlgorithm, KeyAlgorithm, Policy, PrivateKey, PublicKey, RsaBackend,
    TrustedKeys, UrlSigner, VerifiedGrant,
};
use proptest::prelude::*;

const VIEWER: &str = "https://d111111abcdef8.cloudfront.net/videos/show/index._m3u8";
const SIGNING: [&str; 5] = [
    "Expires",
    "Policy",
    "Signature",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

const MODES: [Mode; 4] = [
    Mode::Canned,
    Mode::Wildcard,
    Mode::Directory,
    Mode::Propagate,
];

fn rewriter(mode: Mode) -> &'static Rewriter {
    static REWRITERS: OnceLock<[Rewriter; 4]> = OnceLock::new();
    let all = REWRITERS.get_or_init(|| {
        MODES.map(|mode| {
            let (private, _) = generated_key(KeyAlgorithm::EcdsaP256);
            let key = PrivateKey::from_pem(private).unwrap();
            let signer = UrlSigner::new(
                key.signer(RsaBackend::AwsLc).unwrap(),
                "KPROP",
                HashAlgorithm::Sha256,
            )
            .unwrap();
            let options = RewriteOptions {
                mode,
                expiry: Expiry::Ttl {
                    ttl: 600,
                    bucket: 60,
                },
                ip_pinning: IpPinning::Inherit,
                suffix: "._m3u8".to_owned(),
                extra_hosts: vec!["media.example.net".to_owned()],
                ..RewriteOptions::default()
            };
            Rewriter::new(signer, options, 64)
        })
    });
    &all[MODES.iter().position(|m| *m == mode).unwrap()]
}

fn trusted() -> TrustedKeys {
    let (_, public) = generated_key(KeyAlgorithm::EcdsaP256);
    let mut trusted = TrustedKeys::new();
    trusted.insert("KPROP", PublicKey::from_pem(public).unwrap());
    trusted
}

/// The viewer's own grant: a custom policy over the distribution's
/// `/videos/` tree, valid for a long time, verified.
fn viewer_grant(now: u64) -> VerifiedGrant {
    let policy = Policy::custom(
        "https://d111111abcdef8.cloudfront.net/videos/*",
        2_000_000_000,
    );
    let signed = rewriter(Mode::Canned)
        .signer()
        .sign_url(VIEWER, &policy)
        .unwrap();
    verify_request(&signed, &[], &trusted(), now, None).unwrap()
}

/// Removes every block of signing parameters (`?Expires=…&Signature=…` or
/// `&Policy=…&…`) and turns `._m3u8` back into `.m3u8`, with no knowledge of
/// which URIs were signed.
fn strip(output: &str) -> String {
    let mut out = String::with_capacity(output.len());
    let mut rest = output;
    while let Some(i) = rest.find(['?', '&']) {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let after = &from[1..];
        let is_signing = SIGNING
            .iter()
            .any(|name| after.starts_with(name) && after[name.len()..].starts_with('='));
        if is_signing {
            // Skip `name=value` pairs while they are signing parameters.
            let mut tail = after;
            loop {
                let end = tail.find(['&', '#', '"', '\r', '\n']).unwrap_or(tail.len());
                tail = &tail[end..];
                let next = tail.strip_prefix('&');
                match next {
                    Some(n)
                        if SIGNING.iter().any(|name| {
                            n.starts_with(name) && n[name.len()..].starts_with('=')
                        }) =>
                    {
                        tail = n;
                    }
                    _ => break,
                }
            }
            rest = tail;
        } else {
            out.push_str(&from[..1]);
            rest = after;
        }
    }
    out.push_str(rest);
    out.replace("._m3u8", ".m3u8")
}

/// A URI reference of the kinds players meet.
fn reference() -> impl Strategy<Value = String> {
    let name = "[a-z0-9]{1,8}";
    let dir = prop_oneof![
        Just(String::new()),
        Just("../".to_owned()),
        Just("hd/".to_owned()),
        Just("/videos/other/".to_owned()),
        Just("//d111111abcdef8.cloudfront.net/x/".to_owned()),
        Just("https://d111111abcdef8.cloudfront.net/videos/".to_owned()),
        Just("https://media.example.net/cdn/".to_owned()),
        Just("https://elsewhere.example.com/".to_owned()),
        Just("http://d111111abcdef8.cloudfront.net/plain/".to_owned()),
    ];
    let ext = prop_oneof![
        Just(".ts"),
        Just(".m4s"),
        Just(".m3u8"),
        Just(".key"),
        Just(".m3u8.ts"),
        Just(""),
    ];
    let query = prop_oneof![
        3 => Just(String::new()),
        1 => "[a-z]{1,4}=[a-z0-9~%.]{0,6}".prop_map(|q| format!("?{q}")),
        1 => "[a-z]{1,4}=[0-9]{1,3}&[a-z]{1,3}".prop_map(|q| format!("?{q}")),
    ];
    let fragment = prop_oneof![4 => Just(String::new()), 1 => Just("#t=10".to_owned())];
    let special = prop_oneof![
        Just("data:text/plain;base64,AAAA".to_owned()),
        Just("skd://key-id-1".to_owned()),
        Just("seg-{$n}.ts".to_owned()),
        Just("signed.ts?Expires=1&Signature=x&Key-Pair-Id=K".to_owned()),
    ];
    prop_oneof![
        8 => (dir, name, ext, query, fragment).prop_map(|(d, n, e, q, f)| format!("{d}{n}{e}{q}{f}")),
        1 => special,
    ]
}

/// One playlist line (without its terminator).
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => reference(),
        1 => Just(String::new()),
        1 => Just("# a comment, with URI=\"not-a-uri.ts\"".to_owned()),
        1 => Just("#EXTINF:4.0,".to_owned()),
        1 => Just("#EXT-X-UNKNOWN-TAG:URI=\"kept.ts\"".to_owned()),
        2 => (
            prop_oneof![
                Just("EXT-X-KEY:METHOD=AES-128,"),
                Just("EXT-X-MAP:"),
                Just("EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x,y\","),
                Just("EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,"),
                Just("EXT-X-PART:DURATION=0.5,"),
                Just("EXT-X-PRELOAD-HINT:TYPE=PART,"),
                Just("EXT-X-RENDITION-REPORT:LAST-MSN=4,"),
                Just("EXT-X-SESSION-DATA:DATA-ID=\"d\","),
            ],
            reference(),
            prop_oneof![Just(""), Just(",IV=0x0123456789abcdef0123456789abcdef")],
        )
            .prop_map(|(tag, uri, tail)| format!("#{tag}URI=\"{uri}\"{tail}")),
        1 => reference().prop_map(|uri| format!(
            "#EXT-X-DATERANGE:ID=\"ad\",START-DATE=\"2026-01-01T00:00:00Z\",X-ASSET-URI=\"{uri}\""
        )),
    ]
}

fn playlist() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop_oneof![Just("\n"), Just("\r\n")],
        prop::collection::vec(line(), 0..40),
        any::<bool>(),
    )
        .prop_map(|(bom, eol, lines, final_eol)| {
            let mut text = String::new();
            if bom {
                text.push('\u{feff}');
            }
            text.push_str("#EXTM3U");
            for line in lines {
                text.push_str(eol);
                text.push_str(&line);
            }
            if final_eol {
                text.push_str(eol);
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn stripping_the_signatures_gives_back_the_input(
        input in playlist(),
        mode in prop::sample::select(MODES.to_vec()),
        now in 1_700_000_000u64..1_900_000_000,
    ) {
        let grant = viewer_grant(now);
        let viewer = Viewer { url: VIEWER, grant: &grant, client_ip: None };
        let rewritten = rewriter(mode).rewrite(&input, &viewer, now).unwrap();
        // Pre-signed input URIs are stripped on both sides.
        prop_assert_eq!(strip(&rewritten.body), strip(&input));
        // Same inputs in the same expiry bucket: identical output.
        let again = rewriter(mode).rewrite(&input, &viewer, now).unwrap();
        prop_assert_eq!(&again.body, &rewritten.body);
        prop_assert!(rewritten.expires <= now + 600 + 60);
        let stats = rewritten.stats;
        prop_assert_eq!(stats.uris, stats.signed + stats.untouched + stats.unsigned);
    }
}

#[test]
fn strip_removes_only_signing_blocks() {
    assert_eq!(
        strip("a._m3u8?v=1&Policy=p&Signature=s&Key-Pair-Id=k#f\nb.ts?Expires=1&x=2"),
        "a.m3u8?v=1#f\nb.ts&x=2"
    );
}

/// Queries with odd shapes (found by fuzzing: `??`): the signing parameters
/// must still start a pair of their own, and the signature must verify for
/// the URL a player will request.
#[test]
fn odd_queries_keep_parameters_separate() {
    let trusted = trusted();
    let now = 1_800_000_000;
    let grant = viewer_grant(now);
    for reference in ["a.ts?", "a.ts?x=1&", "?", "a.ts?x=1&&", "b.m3u8?#f"] {
        for mode in [Mode::Canned, Mode::Wildcard] {
            let input = format!("#EXTM3U\n{reference}\n");
            let viewer = Viewer {
                url: VIEWER,
                grant: &grant,
                client_ip: None,
            };
            let output = rewriter(mode).rewrite(&input, &viewer, now).unwrap().body;
            let line = output.lines().nth(1).unwrap();
            let at = line
                .find("Expires=")
                .or_else(|| line.find("Policy="))
                .unwrap();
            assert!(matches!(&line[at - 1..at], "?" | "&"), "{mode}: {line}");
            // (A bare trailing `?` becomes the parameters' own `?`, so
            // `strip` cannot give these inputs back byte for byte.)
            let main = line.split('#').next().unwrap();
            let url = format!("https://d111111abcdef8.cloudfront.net/videos/show/{main}");
            let url = url.replace("/show/?", "/show/index._m3u8?");
            verify_request(&url, &[], &trusted, now, None)
                .unwrap_or_else(|r| panic!("{mode}: {url}: {r}"));
        }
    }
    // A `?` inside the query would act as a wildcard in the Resource
    // (found by fuzzing as `??`): such URIs are left unsigned.
    for reference in ["a.ts??", "??", "a.ts?x=?"] {
        let input = format!("#EXTM3U\n{reference}\n");
        let viewer = Viewer {
            url: VIEWER,
            grant: &grant,
            client_ip: None,
        };
        let rewritten = rewriter(Mode::Wildcard)
            .rewrite(&input, &viewer, now)
            .unwrap();
        assert_eq!(rewritten.body, input, "{reference}");
        assert_eq!(rewritten.stats.unsigned, 1, "{reference}");
    }
}
