//! Every playlist of the corpus, rewritten in every mode and checked by an
//! independent verifier.
//!
//! The verifier shares no code with the rewriter: it finds URIs with its own
//! line-based reading of RFC 8216, resolves them with its own RFC 3986
//! resolver, and checks each signed URI the way CloudFront would (signature,
//! resource match, expiry) through the crate's verifier, which is itself
//! held to the official signers' vectors. It also checks that nothing else
//! changed and that no URI the viewer will fetch from the distribution was
//! left unsigned.

mod common;

use std::path::{Path, PathBuf};

use common::independent::{climbs, resolve, split_absolute, unsafe_path, uris_in_line, SIGNING};
use common::{generated_key, shared_testdata};
use hls_edge_signer::grant::{round_up, Expiry, IpPinning};
use hls_edge_signer::hls::rewrite::{Mode, RewriteOptions, Rewriter, Viewer};
use hls_edge_signer::live::LiveTiming;
use hls_edge_signer::{
    verify_request, HashAlgorithm, KeyAlgorithm, Policy, PrivateKey, PublicKey, RsaBackend,
    TrustedKeys, UrlSigner,
};

const DIST: &str = "d111111abcdef8.cloudfront.net";
const NOW: u64 = 1_800_000_000;
const TTL: u64 = 3600;
const BUCKET: u64 = 60;

/// Corpus files that are not playlists as RFC 8216 defines them, with why.
const NOT_PLAYLISTS: &[(&str, &str)] = &[
    ("SOURCES", "corpus notes"),
    ("fragments/", "playlist fragments without #EXTM3U"),
    ("master-with-hlsv7", "comment lines before #EXTM3U"),
    (
        "media-playlist-with-discontinuity",
        "comment lines before #EXTM3U",
    ),
    (
        "master-with-framerate.m3u8",
        "a quoted URI broken across two lines",
    ),
];

// ------------------------------------------------------------------ checking

struct Setup {
    mode: Mode,
    rewriter: Rewriter,
    trusted: TrustedKeys,
    /// The viewer's own grant, as the query of the URL it fetched.
    viewer_grant: ViewerGrant,
    expected_expiry: u64,
}

/// What the viewer itself holds when it fetches the playlist.
enum ViewerGrant {
    /// A canned signature for exactly the playlist URL, ending at this time.
    CannedUntil(u64),
    /// A custom policy query, the same for every playlist.
    Custom(String),
}

fn setup(mode: Mode) -> Setup {
    // Canned mode makes one signature per URI: ECDSA keeps that quick.
    let (algorithm, hash) = match mode {
        Mode::Canned => (KeyAlgorithm::EcdsaP256, HashAlgorithm::Sha256),
        _ => (KeyAlgorithm::Rsa2048, HashAlgorithm::Sha1),
    };
    let (private, public) = generated_key(algorithm);
    let key = PrivateKey::from_pem(private).unwrap();
    let signer = UrlSigner::new(key.signer(RsaBackend::AwsLc).unwrap(), "KTEST", hash).unwrap();
    let mut trusted = TrustedKeys::new();
    trusted.insert("KTEST", PublicKey::from_pem(public).unwrap());
    let ours = round_up(NOW + TTL, BUCKET);
    let (viewer_grant, expected_expiry) = match mode {
        // A canned viewer grant that outlives our TTL.
        Mode::Canned => (ViewerGrant::CannedUntil(NOW + 7200), ours),
        // A canned viewer grant that ends before our TTL: it caps the expiry.
        Mode::Wildcard | Mode::Directory => (ViewerGrant::CannedUntil(NOW + 1800), NOW + 1800),
        // A custom viewer grant over the corpus folder: propagated as is.
        Mode::Propagate => {
            let policy = Policy::custom(&format!("https://{DIST}/corpus/*"), NOW + 7200);
            let query = signer.sign_policy(&policy, false).unwrap().to_query();
            (ViewerGrant::Custom(query), ours)
        }
    };
    let options = RewriteOptions {
        mode,
        expiry: Expiry::Ttl {
            ttl: TTL,
            bucket: BUCKET,
        },
        ip_pinning: IpPinning::Inherit,
        suffix: "._m3u8".to_owned(),
        ..RewriteOptions::default()
    };
    Setup {
        mode,
        rewriter: Rewriter::new(signer, options, 4096),
        trusted,
        viewer_grant,
        expected_expiry,
    }
}

/// Why a URI on the distribution may be left unsigned on purpose (the scope
/// rules): a wildcard character, an unsafe path, climbing above the root.
fn refused_by_scope(uri: &str, viewer_url: &str) -> bool {
    let target = resolve(viewer_url, uri);
    let (_, authority, path, query) = split_absolute(&target);
    authority.contains(['*', '?'])
        || path.contains(['*', '?'])
        || query.is_some_and(|q| q.contains(['*', '?']))
        || unsafe_path(&path)
        || climbs(viewer_url, uri)
}

/// Why a URI may legitimately stay as it was.
fn may_stay_unsigned(uri: &str, viewer_url: &str) -> bool {
    let has_scheme = uri
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && !s.contains(['/', '?', '#']));
    if uri.contains("{$") {
        return true;
    }
    if has_scheme && !uri.to_ascii_lowercase().starts_with("http") {
        return true; // data:, skd:, ...
    }
    let target = resolve(viewer_url, uri);
    let (scheme, authority, _, query) = split_absolute(&target);
    let pre_signed = query.is_some_and(|q| {
        q.split('&')
            .any(|p| SIGNING.contains(&p.split('=').next().unwrap()))
    });
    scheme != "https" || authority != DIST || pre_signed || refused_by_scope(uri, viewer_url)
}

/// The pattern an independent reading of the scope rules allows for a
/// segment URL: the last digit run of the file name's stem as `?`s.
fn segment_pattern(url: &str) -> Option<String> {
    let (directory, name) = url.split_at(url.rfind('/').unwrap() + 1);
    let stem_end = name.rfind('.').unwrap_or(name.len());
    let chars: Vec<char> = name.chars().collect();
    let stem: Vec<char> = name[..stem_end].chars().collect();
    let end = stem.iter().rposition(|c| c.is_ascii_digit())? + 1;
    let start = stem[..end]
        .iter()
        .rposition(|c| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let mut pattern: String = chars[..start].iter().collect();
    pattern.push_str(&"?".repeat(end - start));
    pattern.extend(&chars[end..]);
    Some(format!("{directory}{pattern}"))
}

/// Checks one signed URI pair; returns whether its viewer parameters were
/// propagated.
/// The expiries a signed URI may carry.
#[derive(Clone, Copy)]
struct Expected {
    /// An issued grant's.
    expected: u64,
    /// The viewer's own (routed child playlists).
    viewer_cap: u64,
}

fn check_signed(
    s: &Setup,
    viewer_url: &str,
    viewer_query: Option<&str>,
    (input, output): (&str, &str),
    expiry: Expected,
    context: &str,
) {
    let (in_main, in_fragment) = input.split_once('#').unwrap_or((input, ""));
    let (out_main, out_fragment) = output.split_once('#').unwrap_or((output, ""));
    assert_eq!(in_fragment, out_fragment, "{context}: fragment changed");
    let (in_path, in_query) = in_main.split_once('?').unwrap_or((in_main, ""));
    let (out_path, out_query) = out_main.split_once('?').unwrap_or((out_main, ""));
    let child = in_path.to_ascii_lowercase().ends_with(".m3u8");
    if child {
        assert_eq!(
            out_path,
            format!("{}._m3u8", &in_path[..in_path.len() - 5]),
            "{context}"
        );
    } else {
        assert_eq!(in_path, out_path, "{context}: path changed");
    }
    let (signing, rest): (Vec<&str>, Vec<&str>) = out_query
        .split('&')
        .filter(|p| !p.is_empty())
        .partition(|p| SIGNING.contains(&p.split('=').next().unwrap()));
    let in_pairs: Vec<&str> = in_query.split('&').filter(|p| !p.is_empty()).collect();
    assert_eq!(in_pairs, rest, "{context}: query changed");

    let absolute = resolve(viewer_url, out_main);
    let grant = verify_request(&absolute, &[], &s.trusted, NOW, None)
        .unwrap_or_else(|r| panic!("{context}: {absolute}: {r}"));
    if child {
        let sep = if absolute.contains('?') { '&' } else { '?' };
        let reload = format!("{absolute}{sep}_HLS_msn=12&_HLS_part=3");
        verify_request(&reload, &[], &s.trusted, NOW, None)
            .unwrap_or_else(|r| panic!("{context}: LL-HLS reload {reload}: {r}"));
    }
    let propagated = viewer_query.is_some_and(|q| signing.join("&") == q);
    // A child playlist comes back through the function: its own grant
    // lasts as the viewer's (which, in wildcard, ends at +1800); a directory
    // grant covers segments too and keeps the issued lifetime.
    let routed = target_is_routed(&absolute) && s.mode != Mode::Directory;
    match s.mode {
        Mode::Propagate if propagated => {
            assert_eq!(grant.policy().expires(), NOW + 7200);
        }
        _ if routed => assert_eq!(grant.policy().expires(), expiry.viewer_cap, "{context}"),
        _ => assert_eq!(grant.policy().expires(), expiry.expected, "{context}"),
    }
    // What each mode may grant, read independently (DESIGN §5.4).
    let resource = grant.policy().resource().to_owned();
    let target = absolute.split('?').next().unwrap().to_owned();
    let exact = absolute
        .split_once('?')
        .map(|(base, q)| {
            let own: Vec<&str> = q
                .split('&')
                .filter(|p| !p.is_empty() && !SIGNING.contains(&p.split('=').next().unwrap()))
                .collect();
            if own.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{}", own.join("&"))
            }
        })
        .unwrap_or(absolute.clone());
    match s.mode {
        _ if propagated => {}
        Mode::Canned if child => {
            assert_eq!(resource, format!("{exact}*"), "{context}")
        }
        Mode::Canned => {
            assert!(grant.canned(), "{context}");
            assert_eq!(resource, exact, "{context}");
        }
        Mode::Wildcard | Mode::Propagate if child => {
            assert_eq!(resource, format!("{exact}*"), "{context}")
        }
        Mode::Wildcard | Mode::Propagate => {
            let pattern = (exact == target)
                .then(|| segment_pattern(&target))
                .flatten();
            assert!(
                resource == exact || Some(&resource) == pattern.as_ref(),
                "{context}: {resource} is neither {exact} nor its segment pattern"
            );
        }
        Mode::Directory => {
            let directory = &target[..target.rfind('/').unwrap() + 1];
            assert_eq!(resource, format!("{directory}*"), "{context}")
        }
    }
    if s.mode == Mode::Propagate {
        let covered = absolute.starts_with(&format!("https://{DIST}/corpus/"));
        assert_eq!(propagated, covered, "{context}: {absolute}");
    }
}

/// Rewrites one playlist and checks the result; returns the number of URIs
/// signed.
fn check_playlist(s: &Setup, name: &str, input: &str) -> Result<usize, String> {
    let viewer_path = format!(
        "/corpus/{}",
        name.replace(".m3u8", "._m3u8").replace(' ', "%20")
    );
    let base = format!("https://{DIST}{viewer_path}");
    let viewer_query = match &s.viewer_grant {
        ViewerGrant::CannedUntil(expires) => s
            .rewriter
            .signer()
            .sign_policy(&Policy::canned(&base, *expires), true)
            .unwrap()
            .to_query(),
        ViewerGrant::Custom(query) => query.clone(),
    };
    let viewer_url = format!("{base}?{viewer_query}");
    let grant = verify_request(&viewer_url, &[], &s.trusted, NOW, None).unwrap();
    let viewer = Viewer {
        url: &viewer_url,
        grant: &grant,
        client_ip: None,
    };
    let viewer_query = Some(viewer_query);
    let rewritten = s
        .rewriter
        .rewrite(input, &viewer, NOW)
        .map_err(|e| e.to_string())?;
    let output = &rewritten.body;
    // A live playlist (no end) gets grants that last its window plus the
    // hold-back, still capped by the viewer's grant; a routed child
    // playlist lasts as the viewer's grant.
    let viewer_cap = match s.mode {
        Mode::Wildcard | Mode::Directory => NOW + 1800,
        _ => NOW + 7200,
    };
    let expected = match LiveTiming::of_hls(input) {
        Some(live) => s
            .expected_expiry
            .max(round_up(NOW + live.min_lifetime(), BUCKET))
            .min(viewer_cap),
        None => s.expected_expiry,
    };
    let in_lines: Vec<&str> = input.split_inclusive('\n').collect();
    let out_lines: Vec<&str> = output.split_inclusive('\n').collect();
    assert_eq!(in_lines.len(), out_lines.len(), "{name}: line count");
    let mut signed = 0;
    for (number, (a, b)) in in_lines.iter().zip(&out_lines).enumerate() {
        let context = format!("{name}:{} [{}]", number + 1, s.mode);
        let in_uris = uris_in_line(a);
        let out_uris = uris_in_line(b);
        assert_eq!(in_uris.len(), out_uris.len(), "{context}: URI count");
        let (mut at_a, mut at_b) = (0, 0);
        for (&(sa, ea), &(sb, eb)) in in_uris.iter().zip(&out_uris) {
            assert_eq!(a[at_a..sa], b[at_b..sb], "{context}: text changed");
            let (uri_in, uri_out) = (&a[sa..ea], &b[sb..eb]);
            if uri_in == uri_out {
                assert!(
                    may_stay_unsigned(uri_in, &base),
                    "{context}: `{uri_in}` was left unsigned"
                );
            } else {
                assert!(
                    !may_stay_unsigned(uri_in, &base),
                    "{context}: `{uri_in}` changed"
                );
                let query = viewer_query.as_deref();
                let expiry = Expected {
                    expected,
                    viewer_cap,
                };
                check_signed(s, &base, query, (uri_in, uri_out), expiry, &context);
                signed += 1;
            }
            (at_a, at_b) = (ea, eb);
        }
        assert_eq!(a[at_a..], b[at_b..], "{context}: text changed");
    }
    Ok(signed)
}

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            corpus_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn run_mode(mode: Mode) {
    let Some(data) = shared_testdata(&format!("hls corpus ({mode})")) else {
        return;
    };
    let root = data.join("hls-corpus");
    let mut files = Vec::new();
    corpus_files(&root, &mut files);
    let s = setup(mode);
    let (mut playlists, mut uris, mut refused) = (0, 0, Vec::new());
    for path in &files {
        let name = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let Ok(input) = std::fs::read_to_string(path) else {
            refused.push(name);
            continue;
        };
        match check_playlist(&s, &name, &input) {
            Ok(signed) => {
                playlists += 1;
                uris += signed;
            }
            Err(error) => {
                let expected = NOT_PLAYLISTS.iter().any(|(part, _)| name.contains(part));
                assert!(expected, "{name}: unexpected refusal: {error}");
                refused.push(name);
            }
        }
    }
    println!(
        "{mode}: {playlists} playlists rewritten and verified, {uris} URIs signed, {} files refused as not playlists",
        refused.len()
    );
    assert!(playlists >= 270, "only {playlists} playlists");
    assert!(refused.len() <= 12, "{refused:?}");
}

#[test]
fn corpus_canned() {
    run_mode(Mode::Canned);
}

#[test]
fn corpus_wildcard() {
    run_mode(Mode::Wildcard);
}

#[test]
fn corpus_directory() {
    run_mode(Mode::Directory);
}

#[test]
fn corpus_propagate() {
    run_mode(Mode::Propagate);
}

/// Whether `url` names a playlist routed back through the function.
fn target_is_routed(url: &str) -> bool {
    url.split(['?', '#'])
        .next()
        .unwrap_or("")
        .ends_with("._m3u8")
}
