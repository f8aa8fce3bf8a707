//! Every MPD — the shared corpus and the fixtures of our own — rewritten in
//! every mode and checked by an independent, player-like reading
//! (`common::dash_reading`): its own XML parser, its own BaseURL resolution,
//! templates expanded for several segment numbers and times and for every
//! Representation. Each URL a player will request from the distribution must
//! be accepted by CloudFront's verification with the expected expiry and a
//! grant no wider than the mode allows; everything but the URL values must
//! be byte-for-byte unchanged; a value left alone must have a reason to be.

mod common;

use std::path::{Path, PathBuf};

use common::dash_reading::{read, Reading, Request, UrlValue};
use common::independent::{climbs, cloudfront_matches, split_absolute, unsafe_path, SIGNING};
use common::{generated_key, shared_testdata};
use hls_edge_signer::grant::{round_up, Expiry, IpPinning};
use hls_edge_signer::hls::rewrite::{Mode, RewriteOptions, Rewriter, Viewer};
use hls_edge_signer::{
    verify_request, HashAlgorithm, KeyAlgorithm, Policy, PrivateKey, PublicKey, RsaBackend,
    TrustedKeys, UrlSigner,
};

const DIST: &str = "d111111abcdef8.cloudfront.net";
const NOW: u64 = 1_800_000_000;
const TTL: u64 = 3600;
const BUCKET: u64 = 60;
const MODES: [Mode; 4] = [
    Mode::Wildcard,
    Mode::Canned,
    Mode::Directory,
    Mode::Propagate,
];

struct Setup {
    mode: Mode,
    rewriter: Rewriter,
    signer: UrlSigner,
    trusted: TrustedKeys,
    /// Hosts whose URLs are signed: the distribution and the extra hosts.
    hosts: Vec<String>,
    expected_expiry: u64,
}

fn signer() -> (UrlSigner, TrustedKeys) {
    let (private, public) = generated_key(KeyAlgorithm::Rsa2048);
    let key = PrivateKey::from_pem(private).unwrap();
    let signer = UrlSigner::new(
        key.signer(RsaBackend::AwsLc).unwrap(),
        "KTEST",
        HashAlgorithm::Sha1,
    )
    .unwrap();
    let mut trusted = TrustedKeys::new();
    trusted.insert("KTEST", PublicKey::from_pem(public).unwrap());
    (signer, trusted)
}

fn setup(mode: Mode, extra_hosts: &[String]) -> Setup {
    let (signer, trusted) = signer();
    let options = RewriteOptions {
        mode,
        expiry: Expiry::Ttl {
            ttl: TTL,
            bucket: BUCKET,
        },
        ip_pinning: IpPinning::Inherit,
        extra_hosts: extra_hosts.to_vec(),
        ..RewriteOptions::default()
    };
    let expected_expiry = match mode {
        // A viewer grant ending before our TTL caps the expiry.
        Mode::Wildcard | Mode::Directory => NOW + 1800,
        _ => round_up(NOW + TTL, BUCKET),
    };
    let mut hosts = vec![DIST.to_owned()];
    hosts.extend(extra_hosts.iter().cloned());
    Setup {
        mode,
        rewriter: Rewriter::new(signer.clone(), options, 4096),
        signer,
        trusted,
        hosts,
        expected_expiry,
    }
}

impl Setup {
    /// The query the viewer fetched the MPD with: canned for exactly its URL
    /// (until `NOW + 1800` or `+ 7200`), or, for `propagate`, a custom policy
    /// over `https://DIST/v/*` that the rewriter may hand on.
    fn viewer_query(&self, url: &str) -> String {
        let policy = match self.mode {
            Mode::Wildcard | Mode::Directory => Policy::canned(url, NOW + 1800),
            Mode::Canned => Policy::canned(url, NOW + 7200),
            Mode::Propagate => Policy::custom(&format!("https://{DIST}/v/*"), NOW + 7200),
        };
        let canned = self.mode != Mode::Propagate;
        self.signer.sign_policy(&policy, canned).unwrap().to_query()
    }
}

/// Counts of one checked MPD.
#[derive(Default, Debug, Clone, Copy)]
struct Checked {
    values_signed: usize,
    requests_verified: usize,
    requests_left: usize,
}

/// Why a request may go out without a grant (or with one it cannot use).
fn may_stay(s: &Setup, request: &Request, value: &UrlValue) -> Option<&'static str> {
    if value.opaque {
        return Some("CDATA or markup in the value");
    }
    if request.alternative > 0 {
        return Some("a failover BaseURL alternative (only the first is granted)");
    }
    let lower = request.url.to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return Some("not http(s)");
    }
    let (_, authority, path, query) = split_absolute(&request.url);
    if !s.hosts.iter().any(|h| *h == host_of(&authority)) {
        return Some("another host");
    }
    if query.as_deref().is_some_and(|q| {
        q.split('&')
            .any(|p| SIGNING.contains(&p.split('=').next().unwrap()))
    }) {
        return Some("already signed");
    }
    if request.reference.contains('*')
        || path.contains(['*', '?'])
        || query.is_some_and(|q| q.contains(['*', '?']))
    {
        return Some("wildcard character");
    }
    if unsafe_path(&path) || climbs(&request.base, &request.reference) {
        return Some("path leaves its tree");
    }
    if request.template && !template_has_extension(&value.text) {
        return Some("template without a literal extension");
    }
    if request.template && s.mode != Mode::Directory && may_reach_directory(&value.text) {
        return Some("template pattern would reach a directory");
    }
    None
}

/// Whether a template's pattern may need a `*` that reaches a directory: a
/// variable before its last `/` (a number, a time, or an identifier shared
/// by Representations), or a file name starting with a variable.
fn may_reach_directory(template: &str) -> bool {
    let path = template.split(['?', '#']).next().unwrap();
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    path[..name_start].contains('$') || path[name_start..].starts_with('$')
}

/// Whether a template's text after its last `$…$` identifier names a file
/// extension (a number or time pattern then stops at the extension). A
/// template without `$Number$`, `$Time$` or `$SubNumber$` is exact.
fn template_has_extension(template: &str) -> bool {
    let path = template.split(['?', '#']).next().unwrap();
    if !["$Number", "$Time", "$SubNumber"]
        .iter()
        .any(|v| path.contains(v))
    {
        return true;
    }
    let tail = path.rsplit('$').next().unwrap();
    tail.rfind('.')
        .is_some_and(|dot| dot + 1 < tail.len() && !tail[dot..].contains('/'))
}

/// The value's text as the rewriter writes it before its parameters: a
/// `Location` naming an MPD renamed to the routing suffix.
fn renamed(value: &UrlValue) -> String {
    if value.kind != "Location" {
        return value.text.clone();
    }
    let end = value.text.find(['?', '#']).unwrap_or(value.text.len());
    match value.text[..end].strip_suffix(".mpd") {
        Some(stem) => format!("{stem}._mpd{}", &value.text[end..]),
        None => value.text.clone(),
    }
}

/// `url` without its signing parameters.
fn exact(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let own: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !SIGNING.contains(&p.split('=').next().unwrap()))
        .collect();
    if own.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", own.join("&"))
    }
}

/// What a grant on `url` may cover in `mode`, read independently.
fn check_scope(
    mode: Mode,
    request: &Request,
    kind: &str,
    resource: &str,
    url: &str,
    context: &str,
) {
    let exact = exact(url);
    let (scheme, authority, path, _) = split_absolute(&exact);
    let origin = format!("{scheme}://{authority}/");
    assert!(
        resource.starts_with(&origin) && !resource[..origin.len()].contains(['*', '?']),
        "{context}: {resource} does not keep its host literal"
    );
    let directory = &exact[..exact.rfind('/').unwrap() + 1];
    if mode == Mode::Directory {
        let prefix = resource
            .strip_suffix('*')
            .unwrap_or_else(|| panic!("{context}: {resource}"));
        assert!(
            prefix.ends_with('/') && !prefix.contains(['*', '?']) && exact.starts_with(prefix),
            "{context}: {resource} is not a directory of {exact}"
        );
        return;
    }
    // Probes no grant for this URL may cover: another extension in its
    // directory, a manifest reached through a query, the same name in
    // another top-level directory, a key at the root.
    let name = &exact[directory.len()..];
    let stem = name.split(['?']).next().unwrap();
    let other_extension = match stem.rfind('.') {
        Some(dot) => format!("{directory}{}.key", &stem[..dot]),
        None => format!("{directory}{stem}.key"),
    };
    let segments: Vec<&str> = path.split('/').collect();
    let mut probes = vec![
        format!("{origin}secret.key"),
        other_extension,
        format!("{directory}x._mpd?a=/{stem}"),
        format!("{directory}x._m3u8?a=/{stem}"),
    ];
    if segments.len() > 2 {
        probes.push(format!("{origin}zz-elsewhere/{}", segments[2..].join("/")));
    }
    for probe in probes {
        assert!(
            !cloudfront_matches(resource, &probe),
            "{context}: {resource} (for {exact}) also covers {probe}"
        );
    }
    if request.template {
        // A pattern: the probes bound it, and a `*` (which reaches into
        // the query) only after a literal part of the file name.
        if let Some(star) = resource.find('*') {
            let name_start = resource[..star].rfind('/').unwrap() + 1;
            assert!(
                !resource[star..].contains('/')
                    && resource[name_start..star].chars().any(|c| c != '?'),
                "{context}: {resource} reaches a whole directory"
            );
        }
        return;
    }
    // One URL: exact; a SegmentURL in a run may share its digit pattern; a
    // value applying to several Representations or base alternatives gets
    // one grant over them, differing only in `?` positions.
    let same_shape = resource.len() == exact.len()
        && !resource.contains('*')
        && cloudfront_matches(resource, &exact);
    match mode {
        Mode::Canned => assert!(same_shape, "{context}: {resource} for {exact}"),
        _ => {
            let pattern = kind == "media" && digit_pattern(&exact).as_deref() == Some(resource);
            assert!(
                resource == exact || same_shape || pattern,
                "{context}: {resource} is neither {exact} nor a pattern of its run"
            );
        }
    }
}

/// The last digit run of the file name's stem as `?`s (needs a literal
/// prefix and an extension).
fn digit_pattern(url: &str) -> Option<String> {
    let (directory, name) = url.split_at(url.rfind('/').unwrap() + 1);
    let stem_end = name.rfind('.')?;
    let stem: Vec<char> = name[..stem_end].chars().collect();
    let end = stem.iter().rposition(|c| c.is_ascii_digit())? + 1;
    let start = stem[..end]
        .iter()
        .rposition(|c| !c.is_ascii_digit())
        .map(|i| i + 1)?;
    let head: String = stem[..start].iter().collect();
    Some(format!(
        "{directory}{head}{}{}",
        "?".repeat(end - start),
        &name[stem_end..]
    ))
}

/// The document with every URL value replaced by a marker.
fn masked(text: &str, reading: &Reading) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut ranges: Vec<_> = reading.values.iter().map(|v| v.range.clone()).collect();
    ranges.sort_by_key(|r| r.start);
    for range in ranges {
        out.push_str(&text[at..range.start]);
        out.push('\u{0}');
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Rewrites one MPD fetched from `https://DIST{path}` and checks it.
fn check_mpd(s: &Setup, name: &str, input: &str, path: &str) -> Result<Checked, String> {
    let url = format!("https://{DIST}{path}");
    let query = s.viewer_query(&url);
    let viewer_url = format!("{url}?{query}");
    let grant = verify_request(&viewer_url, &[], &s.trusted, NOW, None).unwrap();
    let viewer = Viewer {
        url: &viewer_url,
        grant: &grant,
        client_ip: None,
    };
    let output = s
        .rewriter
        .rewrite_mpd(input, &viewer, NOW)
        .map_err(|e| e.to_string())?
        .body;
    let context = format!("{name} [{}]", s.mode);
    let before = read(input, &url).map_err(|e| format!("{context}: input: {e}"))?;
    let after = read(&output, &url).unwrap_or_else(|e| panic!("{context}: output: {e}"));
    assert_eq!(
        masked(input, &before),
        masked(&output, &after),
        "{context}: text outside the URL values changed"
    );
    assert_eq!(before.values.len(), after.values.len(), "{context}");
    let mut checked = Checked::default();
    let mut changed = vec![false; before.values.len()];
    for (i, (a, b)) in before.values.iter().zip(&after.values).enumerate() {
        if a.text == b.text {
            continue;
        }
        changed[i] = true;
        checked.values_signed += 1;
        let head = renamed(a);
        let rest = b
            .text
            .strip_prefix(&head)
            .unwrap_or_else(|| panic!("{context}: `{}` became `{}`", a.text, b.text));
        let params = if head.contains('?') && (head.ends_with('?') || head.ends_with('&')) {
            rest
        } else if head.contains('?') {
            rest.strip_prefix('&')
                .unwrap_or_else(|| panic!("{context}: {}", b.text))
        } else {
            rest.strip_prefix('?')
                .unwrap_or_else(|| panic!("{context}: {}", b.text))
        };
        assert!(
            params
                .split('&')
                .all(|p| SIGNING.contains(&p.split('=').next().unwrap())),
            "{context}: `{}` gained more than signing parameters",
            a.text
        );
    }
    assert_eq!(before.requests.len(), after.requests.len(), "{context}");
    let mut served = vec![false; before.values.len()];
    for (a, b) in before.requests.iter().zip(&after.requests) {
        let value = &before.values[a.value];
        let context = format!("{context}: {} `{}` → {}", value.kind, value.text, a.url);
        let reason = may_stay(s, a, value);
        if !changed[a.value] {
            assert!(reason.is_some(), "{context}: left unsigned");
            checked.requests_left += 1;
            continue;
        }
        let verified = verify_request(&b.url, &[], &s.trusted, NOW, None);
        let grant = match (reason, verified) {
            (_, Ok(grant)) => grant,
            (None, Err(r)) => panic!("{context}: {} refused: {r}", b.url),
            // A value signed for another of its requests (an alternative on
            // another host, say): this one has no use for the grant.
            (Some(_), Err(_)) => {
                checked.requests_left += 1;
                continue;
            }
        };
        served[a.value] = true;
        let propagated = b.url.contains(&s.viewer_query(&b.url)) && s.mode == Mode::Propagate;
        // An MPD that comes back through the function lasts as the viewer's grant.
        // (Its own exact grant; a directory grant keeps the issued lifetime.)
        let routed =
            b.url.split('?').next().unwrap_or("").ends_with("._mpd") && s.mode != Mode::Directory;
        if routed {
            let viewer = match s.mode {
                Mode::Wildcard => NOW + 1800,
                _ => NOW + 7200,
            };
            assert_eq!(grant.policy().expires(), viewer, "{context}");
        } else if propagated {
            assert_eq!(grant.policy().expires(), NOW + 7200, "{context}");
        } else {
            assert_eq!(grant.policy().expires(), s.expected_expiry, "{context}");
            check_scope(
                s.mode,
                b,
                &value.kind,
                grant.policy().resource(),
                &b.url,
                &context,
            );
        }
        checked.requests_verified += 1;
    }
    // A signed value is one a player requests from a signable host (a
    // BaseURL naming a file that no Representation requests as it is may
    // be signed too: an exact grant on its own URL).
    for (i, value) in before.values.iter().enumerate() {
        if changed[i] && !served[i] {
            assert!(
                value.kind == "BaseURL" || value.kind == "xlink:href",
                "{context}: `{}` ({}) was signed but nothing requests it",
                value.text,
                value.kind
            );
        }
    }
    Ok(checked)
}

/// The host of an authority (its port removed).
fn host_of(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// Every host an absolute URL in the document names.
fn hosts_in(reading: &Reading) -> Vec<String> {
    let mut hosts: Vec<String> = reading
        .values
        .iter()
        .filter(|v| v.text.starts_with("http://") || v.text.starts_with("https://"))
        .map(|v| host_of(&split_absolute(&v.text).1).to_owned())
        .filter(|h| h != DIST && !h.is_empty())
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("mpd" | "mpp" | "xml")
        ) {
            out.push(path);
        }
    }
}

/// Checks every file under `root` in every mode, twice: with the
/// distribution alone, and with every host the document names as an extra
/// host. Returns (documents, values signed, requests verified).
fn check_tree(root: &Path) -> (usize, usize, usize) {
    let mut paths = Vec::new();
    files(root, &mut paths);
    assert!(!paths.is_empty(), "no MPDs under {}", root.display());
    let (mut documents, mut signed, mut verified) = (0, 0, 0);
    for file in &paths {
        let name = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let input = std::fs::read_to_string(file).unwrap();
        let flat = name.replace(['/', ' '], "_").replace(".mpd", "");
        let path = format!("/v/{flat}._mpd");
        let reading = read(&input, &format!("https://{DIST}{path}"));
        let is_mpd = reading.is_ok();
        let extra = reading.as_ref().map(hosts_in).unwrap_or_default();
        for mode in MODES {
            for hosts in [&[][..], &extra[..]] {
                let s = setup(mode, hosts);
                match check_mpd(&s, &name, &input, &path) {
                    Ok(c) => {
                        assert!(is_mpd, "{name}: rewritten, but it is not an MPD");
                        signed += c.values_signed;
                        verified += c.requests_verified;
                    }
                    Err(e) => assert!(!is_mpd, "{name} [{mode}]: {e}"),
                }
            }
        }
        documents += usize::from(is_mpd);
    }
    (documents, signed, verified)
}

#[test]
fn every_corpus_mpd_in_every_mode() {
    let Some(data) = shared_testdata("dash corpus") else {
        return;
    };
    let (documents, signed, verified) = check_tree(&data.join("dash-corpus"));
    println!("dash corpus: {documents} MPDs, {signed} values signed, {verified} requests verified");
    assert!(documents >= 25, "{documents} MPDs");
    assert!(verified > 500, "{verified} requests verified");
}

#[test]
fn every_fixture_in_every_mode() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dash");
    let (documents, signed, verified) = check_tree(&root);
    println!(
        "dash fixtures: {documents} MPDs, {signed} values signed, {verified} requests verified"
    );
    assert_eq!(documents, 6);
    assert!(verified > 200, "{verified} requests verified");
}

/// Rewrites a fixture in `mode` for a viewer at `/v/stream._mpd` at `now`.
fn rewrite_fixture(mode: Mode, name: &str, now: u64) -> (String, String) {
    let s = setup(mode, &[]);
    let input = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/dash")
            .join(name),
    )
    .unwrap();
    let url = format!("https://{DIST}/v/stream._mpd");
    let viewer_url = format!("{url}?{}", s.viewer_query(&url));
    let grant = verify_request(&viewer_url, &[], &s.trusted, now, None).unwrap();
    let viewer = Viewer {
        url: &viewer_url,
        grant: &grant,
        client_ip: None,
    };
    let output = s.rewriter.rewrite_mpd(&input, &viewer, now).unwrap().body;
    (input, output)
}

/// (value text without its signing parameters, Resource) of every signed
/// value.
fn resources(output: &str) -> Vec<(String, String)> {
    let reading = read(output, &format!("https://{DIST}/v/stream._mpd")).unwrap();
    reading
        .values
        .iter()
        .filter_map(|v| {
            let absolute = format!("https://{DIST}/v/{}", v.text);
            let grant = common::independent::issued(&absolute)?;
            let text = v.text[..v.text.find(['?', '#']).unwrap_or(v.text.len())].to_owned();
            // A canned grant names the URL the player expands: the corpus
            // check verifies it; here it is only marked.
            let resource = if grant.canned {
                "canned".to_owned()
            } else {
                grant.resource
            };
            Some((text, resource))
        })
        .collect()
}

#[test]
fn fixture_grants_are_as_tight_as_the_listing_allows() {
    let d = format!("https://{DIST}/v");
    let cases: &[(&str, &[(&str, String)])] = &[
        (
            "multi-period.mpd",
            &[
                // Identifiers of one length merge in `?`; padded numbers over
                // a bounded period keep their width.
                (
                    "$RepresentationID$/init.mp4",
                    format!("{d}/intro/v??0/init.mp4"),
                ),
                (
                    "$RepresentationID$/seg-$Number%05d$.m4s",
                    format!("{d}/intro/v??0/seg-?????.m4s"),
                ),
                ("audio/$Bandwidth$/init.mp4", "canned".to_owned()),
                (
                    "audio/$Bandwidth$/$Number$.m4a",
                    format!("{d}/intro/audio/128000/?.m4a"),
                ),
                ("v360-init.mp4", "canned".to_owned()),
                ("v360-$Number%03d$.m4s", format!("{d}/main/v360-???.m4s")),
                ("v720-$Number%03d$.m4s", format!("{d}/main/v720-???.m4s")),
            ],
        ),
        (
            "nested-base.mpd",
            &[
                // The first BaseURL alternative only; a query on a BaseURL is
                // not inherited.
                (
                    "chunk-$Number$.mp4",
                    format!("https://{DIST}/library/title-42/video/720p/chunk-*.mp4"),
                ),
                ("init.mp4", "canned".to_owned()),
                ("1080p/movie.mp4", "canned".to_owned()),
                ("aac.sidx", "canned".to_owned()),
            ],
        ),
        (
            "segment-timeline.mpd",
            &[
                (
                    "v/$RepresentationID$/t-$Time$.m4s",
                    format!("{d}/v/??/t-???????.m4s"),
                ),
                (
                    "v/$RepresentationID$/init.m4s",
                    format!("{d}/v/??/init.m4s"),
                ),
            ],
        ),
        (
            "dynamic.mpd",
            &[
                ("live._mpd", "canned".to_owned()),
                ("live-patch.mpp", "canned".to_owned()),
                (
                    "live/audio-$RepresentationID$-$Number$.m4a",
                    format!("{d}/live/audio-a??-*.m4a"),
                ),
                (
                    "live/audio-$RepresentationID$-init.mp4",
                    format!("{d}/live/audio-a??-init.mp4"),
                ),
            ],
        ),
        (
            "segment-list.mpd",
            &[
                ("init.mp4", "canned".to_owned()),
                ("sd/a.m4s", "canned".to_owned()),
            ],
        ),
    ];
    for (file, expected) in cases {
        let (_, output) = rewrite_fixture(Mode::Wildcard, file, NOW);
        let found = resources(&output);
        for (text, resource) in *expected {
            let hit = found.iter().find(|(t, _)| t == text);
            assert_eq!(
                hit.map(|(_, r)| r),
                Some(resource),
                "{file}: `{text}` (found {found:#?})"
            );
        }
    }
}

#[test]
fn templates_that_would_grant_a_directory_are_left_unsigned_outside_directory_mode() {
    for mode in [Mode::Wildcard, Mode::Canned] {
        let (_, output) = rewrite_fixture(mode, "dynamic.mpd", NOW);
        assert!(
            output.contains(r#"media="live/$RepresentationID$/$Number%06d$.m4s""#),
            "{mode}"
        );
        let (_, output) = rewrite_fixture(mode, "segment-timeline.mpd", NOW);
        assert!(output.contains(r#"media="a/$Time$.m4a""#), "{mode}");
    }
    let (_, output) = rewrite_fixture(Mode::Directory, "dynamic.mpd", NOW);
    let found = resources(&output);
    assert!(
        found.contains(&(
            "live/$RepresentationID$/$Number%06d$.m4s".to_owned(),
            format!("https://{DIST}/v/live/*")
        )),
        "{found:#?}"
    );
}

#[test]
fn live_urls_stay_the_same_across_refreshes_within_a_bucket() {
    let (input, first) = rewrite_fixture(Mode::Wildcard, "dynamic.mpd", NOW);
    let (_, later) = rewrite_fixture(Mode::Wildcard, "dynamic.mpd", NOW + 30);
    assert_eq!(first, later, "same bucket, same document: same bytes");
    // A refresh that adds segments and moves the publish time: every signed
    // value is unchanged.
    let refreshed = input
        .replace(
            "publishTime=\"2026-11-23T10:00:00Z\"",
            "publishTime=\"2026-11-23T10:00:04Z\"",
        )
        .replace(
            r#"<S t="0" d="192000" r="-1"/>"#,
            r#"<S t="192000" d="192000" r="-1"/>"#,
        );
    assert_ne!(refreshed, input);
    let s = setup(Mode::Wildcard, &[]);
    let url = format!("https://{DIST}/v/stream._mpd");
    let viewer_url = format!("{url}?{}", s.viewer_query(&url));
    let grant = verify_request(&viewer_url, &[], &s.trusted, NOW, None).unwrap();
    let viewer = Viewer {
        url: &viewer_url,
        grant: &grant,
        client_ip: None,
    };
    let again = s
        .rewriter
        .rewrite_mpd(&refreshed, &viewer, NOW + 4)
        .unwrap()
        .body;
    let values = |text: &str| -> Vec<String> {
        read(text, &url)
            .unwrap()
            .values
            .into_iter()
            .map(|v| v.text)
            .collect()
    };
    // Signatures differ only if the key or the limits do: compare the
    // Resources and expiry, which decide the URL a cache sees.
    assert_eq!(resources(&first), resources(&again));
    assert_eq!(
        values(&first),
        values(&rewrite_fixture(Mode::Wildcard, "dynamic.mpd", NOW + 4).1)
    );
}

#[test]
fn malformed_mpds_are_refused_whole() {
    let s = setup(Mode::Wildcard, &[]);
    let url = format!("https://{DIST}/v/stream._mpd");
    let viewer_url = format!("{url}?{}", s.viewer_query(&url));
    let grant = verify_request(&viewer_url, &[], &s.trusted, NOW, None).unwrap();
    let viewer = Viewer {
        url: &viewer_url,
        grant: &grant,
        client_ip: None,
    };
    for (bad, why) in [
        ("", "empty"),
        ("<MPD><Period>", "unclosed"),
        (
            "<MPD><BaseURL>a/</BaseURL></Period></MPD>",
            "mismatched end tag",
        ),
        (
            "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"><BaseURL>&bogus;</BaseURL></MPD>",
            "unknown entity",
        ),
        ("<html><body>404</body></html>", "not an MPD"),
        ("#EXTM3U\n#EXTINF:4,\nseg.ts\n", "a playlist"),
        ("<MPD a=\"1\" a=\"2\"/>", "duplicate attribute"),
        (
            "<MPD><SegmentURL media=\"a<b\"/></MPD>",
            "< in an attribute",
        ),
    ] {
        let result = s.rewriter.rewrite_mpd(bad, &viewer, NOW);
        assert!(result.is_err(), "{why}: {result:?}");
        let message = result.unwrap_err().to_string();
        assert!(!message.contains("Signature="), "{why}: {message}");
    }
}

#[test]
fn absurd_template_widths_are_left_unsigned_never_expanded() {
    // Found by fuzzing: `%0<huge>d` asked for a pattern of that many `?`.
    let s = setup(Mode::Wildcard, &[]);
    let url = format!("https://{DIST}/v/stream._mpd");
    let viewer_url = format!("{url}?{}", s.viewer_query(&url));
    let grant = verify_request(&viewer_url, &[], &s.trusted, NOW, None).unwrap();
    let viewer = Viewer {
        url: &viewer_url,
        grant: &grant,
        client_ip: None,
    };
    for width in [
        "21",
        "99999999999",
        "000000000000000000000000000000071737338064426034",
    ] {
        let mpd = format!(
            "<MPD type=\"static\" mediaPresentationDuration=\"PT8S\"><Period>\
             <AdaptationSet><Representation id=\"a\" bandwidth=\"1000\">\
             <SegmentTemplate duration=\"2\" startNumber=\"18446744073709551615\" \
             initialization=\"init-$Bandwidth%0{width}d$.m4s\" \
             media=\"chunk-$RepresentationID$-$Number%0{width}d$.m4s\"/>\
             </Representation></AdaptationSet></Period></MPD>"
        );
        let out = s.rewriter.rewrite_mpd(&mpd, &viewer, NOW).unwrap();
        assert_eq!(out.body, mpd, "width {width}");
        assert_eq!(out.stats.signatures, 0, "width {width}");
    }
}

/// Rewrites `mpd` at `https://DIST/v/stream._mpd` in `mode`.
fn rewrite_inline(mode: Mode, mpd: &str) -> String {
    let s = setup(mode, &[]);
    let url = format!("https://{DIST}/v/stream._mpd");
    let viewer_url = format!("{url}?{}", s.viewer_query(&url));
    let grant = verify_request(&viewer_url, &[], &s.trusted, NOW, None).unwrap();
    let viewer = Viewer {
        url: &viewer_url,
        grant: &grant,
        client_ip: None,
    };
    s.rewriter.rewrite_mpd(mpd, &viewer, NOW).unwrap().body
}

#[test]
fn patterns_never_reach_past_their_own_file_names() {
    // A file name made only of wildcards covers `k.ts?.m4s` (S3: `k.ts`).
    let numbered = "<MPD type=\"static\" mediaPresentationDuration=\"PT60S\"><Period>\
        <AdaptationSet><Representation id=\"a\" bandwidth=\"1\">\
        <SegmentTemplate duration=\"2\" media=\"$Number%05d$.m4s\"/>\
        </Representation></AdaptationSet></Period></MPD>";
    // Targets merged across Representations with a `*` in a directory name
    // (`…/v/*00/init.mp4` covers `…/v/secret.mp4?x=00/init.mp4`).
    let merged = "<MPD type=\"static\"><Period><AdaptationSet>\
        <SegmentList><Initialization sourceURL=\"init.mp4\"/></SegmentList>\
        <Representation id=\"a\" bandwidth=\"1\"><BaseURL>800/</BaseURL></Representation>\
        <Representation id=\"b\" bandwidth=\"2\"><BaseURL>1000/</BaseURL></Representation>\
        </AdaptationSet></Period></MPD>";
    for mode in [Mode::Wildcard, Mode::Canned, Mode::Propagate] {
        for mpd in [numbered, merged] {
            for (text, resource) in resources(&rewrite_inline(mode, mpd)) {
                let name = &resource[resource.rfind('/').unwrap() + 1..];
                assert!(!name.starts_with("??"), "{mode} {text}: {resource}");
                let star = resource.find('*');
                assert!(
                    star.is_none_or(|at| !resource[at..].contains('/')),
                    "{mode} {text}: {resource}"
                );
            }
        }
    }
}

#[test]
fn a_segment_list_merged_across_representations_is_not_a_run() {
    // Canned mode merges `a80/a1.m4s` and `a90/a1.m4s` into `a?0/a1.m4s`: a
    // pattern, but not one that covers the next entry `a2.m4s`.
    let mpd = "<MPD type=\"static\"><Period><AdaptationSet>\
        <SegmentList><SegmentURL media=\"a1.m4s\"/><SegmentURL media=\"a2.m4s\"/></SegmentList>\
        <Representation id=\"a\" bandwidth=\"1\"><BaseURL>a80/</BaseURL></Representation>\
        <Representation id=\"b\" bandwidth=\"2\"><BaseURL>a90/</BaseURL></Representation>\
        </AdaptationSet></Period></MPD>";
    let s = setup(Mode::Canned, &[]);
    let out = rewrite_inline(Mode::Canned, mpd);
    let reading = read(&out, &format!("https://{DIST}/v/stream._mpd")).unwrap();
    assert_eq!(reading.requests.len(), 4, "{out}");
    for request in &reading.requests {
        verify_request(&request.url, &[], &s.trusted, NOW + 1, None)
            .unwrap_or_else(|r| panic!("{}: {r}", request.url));
    }
}

#[test]
fn base_url_alternatives_do_not_multiply_without_bound() {
    // 60 alternatives at each of four levels would be 60^4 resolved bases.
    let bases: String = (0..60)
        .map(|i| format!("<BaseURL>b{i}/</BaseURL>"))
        .collect();
    let mpd = format!(
        "<MPD type=\"static\">{bases}<Period>{bases}<AdaptationSet>{bases}\
         <Representation id=\"a\" bandwidth=\"1\">{bases}\
         <SegmentList><SegmentURL media=\"s-1.m4s\"/></SegmentList>\
         </Representation></AdaptationSet></Period></MPD>"
    );
    let out = rewrite_inline(Mode::Wildcard, &mpd);
    assert!(
        out.contains("s-1.m4s?Expires=") || out.contains("s-1.m4s?Policy="),
        "the first alternative is still granted"
    );
}

#[test]
fn a_representations_own_start_number_overrides_the_inherited_one() {
    // The AdaptationSet's template starts at 1 (one digit for 1..9); the
    // Representation's own starts at 100: its segments have three digits.
    let mpd = "<MPD type=\"static\" mediaPresentationDuration=\"PT16S\"><Period>\
        <AdaptationSet>\
        <SegmentTemplate duration=\"2\" startNumber=\"1\" media=\"seg-$Number$.m4s\"/>\
        <Representation id=\"a\" bandwidth=\"1\"><SegmentTemplate startNumber=\"100\"/>\
        </Representation></AdaptationSet></Period></MPD>";
    let s = setup(Mode::Wildcard, &[]);
    let out = rewrite_inline(Mode::Wildcard, mpd);
    let reading = read(&out, &format!("https://{DIST}/v/stream._mpd")).unwrap();
    assert!(!reading.requests.is_empty(), "{out}");
    for request in &reading.requests {
        verify_request(&request.url, &[], &s.trusted, NOW + 1, None)
            .unwrap_or_else(|r| panic!("{}: {r}", request.url));
    }
}
