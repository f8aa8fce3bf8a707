//! The grant invariants of DESIGN §5 as properties over generated playlists,
//! viewer grants and configurations. For every grant the rewriter issues:
//!
//! * its expiry is no later than the viewer's, and its not-before no earlier;
//! * its IP range lies inside the viewer's (when the viewer had one);
//! * its Resource matches no URL outside what the playlist lists, plus the
//!   pattern's own intended members (a child playlist's reload queries; a
//!   segment pattern's same-shape names; a directory in `directory` mode) —
//!   decided by an independent CloudFront matcher over the listed URLs and
//!   hostile neighbours of them.
//!
//! The playlists mix ordinary references with every hostile shape the
//! security review found: `*` and `?` in URIs, `..` climbing out, encoded
//! dots, path parameters, other hosts, child playlists and queries.

mod common;

use std::net::IpAddr;
use std::sync::OnceLock;

use common::generated_key;
use common::independent::{cidr_within, cloudfront_matches, issued_grants, resolve, Issued};
use hls_edge_signer::delivery::{self, Delivery};
use hls_edge_signer::edge::deliver::{CookieSettings, Job};
use hls_edge_signer::grant::{round_up, Expiry, IpPinning, Ipv6Viewers};
use hls_edge_signer::hls::rewrite::{Mode, RewriteOptions, Rewriter, Viewer};
use hls_edge_signer::live::{LiveTiming, MAX_LIFETIME};
use hls_edge_signer::manifest::ManifestFormat;
use hls_edge_signer::scope::Confinement;
use hls_edge_signer::{
    verify_request, Condition, HashAlgorithm, KeyAlgorithm, Policy, PrivateKey, PublicKey,
    RsaBackend, TrustedKeys, UrlSigner,
};
use proptest::prelude::*;

const HOST: &str = "https://d111111abcdef8.cloudfront.net";
const CLIENT: &str = "203.0.113.77";

fn signer() -> &'static UrlSigner {
    static SIGNER: OnceLock<UrlSigner> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let key = PrivateKey::from_pem(&generated_key(KeyAlgorithm::EcdsaP256).0).unwrap();
        UrlSigner::new(
            key.signer(RsaBackend::AwsLc).unwrap(),
            "KPROPS",
            HashAlgorithm::Sha256,
        )
        .unwrap()
    })
}

fn trusted() -> TrustedKeys {
    let mut keys = TrustedKeys::new();
    keys.insert(
        "KPROPS",
        PublicKey::from_pem(&generated_key(KeyAlgorithm::EcdsaP256).1).unwrap(),
    );
    keys
}

/// A path segment, sometimes hostile.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z]{1,3}".prop_map(String::from),
        1 => Just("..".to_owned()),
        1 => Just("*".to_owned()),
        1 => Just("%2e%2e".to_owned()),
        1 => Just("..;x".to_owned()),
        1 => Just("alice".to_owned()),
    ]
}

/// A file name: runs of segments with sequence numbers, keys, maps, child
/// playlists, hostile characters.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u32..200, prop_oneof![Just(3usize), Just(5)])
            .prop_map(|(n, w)| format!("seg-{n:0w$}.ts")),
        2 => (0u32..50).prop_map(|n| format!("part{n}.m4s")),
        1 => Just("init.mp4".to_owned()),
        1 => Just("stream.key".to_owned()),
        2 => "[a-z]{1,4}".prop_map(|n| format!("{n}.m3u8")),
        1 => Just("seg*.ts".to_owned()),
        1 => Just("a?b.ts".to_owned()),
    ]
}

fn reference() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        4 => Just(String::new()),
        2 => prop::collection::vec(segment(), 1..4).prop_map(|s| format!("{}/", s.join("/"))),
        1 => Just("/".to_owned()),
        1 => Just(format!("{HOST}/")),
        1 => Just("https://elsewhere.example/".to_owned()),
    ];
    let query = prop_oneof![
        6 => Just(String::new()),
        1 => Just("?v=1".to_owned()),
        1 => Just("?x=?".to_owned()),
        1 => Just("?a=*".to_owned()),
    ];
    (prefix, name(), query).prop_map(|(p, n, q)| format!("{p}{n}{q}"))
}

fn playlist() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            reference(),
            prop_oneof![
                4 => Just("segment"),
                1 => Just("key"),
                1 => Just("map"),
                1 => Just("part"),
                1 => Just("variant"),
            ],
        ),
        1..25,
    )
    .prop_map(|lines| {
        let mut text = String::from("#EXTM3U\n");
        for (uri, kind) in lines {
            match kind {
                "key" => text.push_str(&format!("#EXT-X-KEY:METHOD=AES-128,URI=\"{uri}\"\n")),
                "map" => text.push_str(&format!("#EXT-X-MAP:URI=\"{uri}\"\n")),
                "part" => text.push_str(&format!("#EXT-X-PART:DURATION=1,URI=\"{uri}\"\n")),
                "variant" => text.push_str(&format!("#EXT-X-STREAM-INF:BANDWIDTH=1\n{uri}\n")),
                _ => text.push_str(&format!("#EXTINF:4,\n{uri}\n")),
            }
        }
        text
    })
}

/// The viewer's grant: expiry, optional IP range around the client,
/// optional not-before in the past.
#[derive(Debug, Clone)]
struct ViewerSpec {
    lifetime: u64,
    prefix: Option<u8>,
    not_before_ago: Option<u64>,
    custom: bool,
}

impl ViewerSpec {
    /// The viewer's policy at `now`: custom over `resource` with the spec's
    /// conditions, or canned for exactly `url`.
    fn policy(&self, resource: &str, url: &str, now: u64) -> Policy {
        let expires = now + self.lifetime;
        if !self.custom {
            return Policy::canned(url, expires);
        }
        let mut policy = Policy::custom(resource, expires);
        if let Some(prefix) = self.prefix {
            let range = format!("{CLIENT}/{prefix}");
            policy = policy.with(Condition::IpAddress(range.parse().unwrap()));
        }
        if let Some(ago) = self.not_before_ago {
            policy = policy.with(Condition::DateGreaterThan(now - ago));
        }
        policy
    }
}

fn viewer_spec() -> impl Strategy<Value = ViewerSpec> {
    (
        1u64..20_000,
        proptest::option::of(8u8..=32),
        proptest::option::of(1u64..5000),
        any::<bool>(),
    )
        .prop_map(|(lifetime, prefix, not_before_ago, custom)| ViewerSpec {
            lifetime,
            prefix,
            not_before_ago,
            custom: custom || prefix.is_some() || not_before_ago.is_some(),
        })
}

fn options() -> impl Strategy<Value = RewriteOptions> {
    (
        prop::sample::select(vec![
            Mode::Canned,
            Mode::Wildcard,
            Mode::Directory,
            Mode::Propagate,
        ]),
        1u64..10_000,
        prop::sample::select(vec![1u64, 10, 60, 600]),
        prop_oneof![
            Just(IpPinning::Inherit),
            Just(IpPinning::ClientAddress),
            Just(IpPinning::Range("203.0.113.0/24".parse().unwrap())),
            Just(IpPinning::Range("0.0.0.0/0".parse().unwrap())),
        ],
        proptest::option::of(0usize..4),
    )
        .prop_map(|(mode, ttl, bucket, ip_pinning, confine)| RewriteOptions {
            mode,
            expiry: Expiry::Ttl {
                ttl,
                bucket: bucket.min(ttl),
            },
            ip_pinning,
            ipv6_viewers: Ipv6Viewers::Refuse,
            confinement: confine.map(|segments| Confinement { segments }),
            ..RewriteOptions::default()
        })
}

/// Whether `candidate` is one of the pattern's intended members for the
/// listed URL `listed` (independent of the crate's own pattern code): the
/// same text but for the last digit run of the file name's stem, each of its
/// characters free.
fn same_shape(listed: &str, candidate: &str) -> bool {
    let split = listed.rfind('/').unwrap() + 1;
    let (directory, name) = listed.split_at(split);
    if !candidate.starts_with(directory) {
        return false;
    }
    let stem_end = name.rfind('.').unwrap_or(name.len());
    let bytes = name.as_bytes();
    let Some(last) = bytes[..stem_end].iter().rposition(u8::is_ascii_digit) else {
        return false;
    };
    let first = bytes[..last]
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let rest: Vec<char> = candidate[split..].chars().collect();
    let prefix: Vec<char> = name[..first].chars().collect();
    let suffix: Vec<char> = name[last + 1..].chars().collect();
    rest.len() == prefix.len() + (last + 1 - first) + suffix.len()
        && rest[..prefix.len()] == prefix[..]
        && rest[rest.len() - suffix.len()..] == suffix[..]
}

/// Hostile neighbours of a listed URL: what a widened grant would reach.
fn neighbours(url: &str) -> Vec<String> {
    let split = url.rfind('/').unwrap() + 1;
    let (directory, name) = url.split_at(split);
    let parent = directory[..directory.len() - 1]
        .rfind('/')
        .map_or(directory, |i| &directory[..i + 1]);
    let mut out = vec![
        format!("{directory}other.ts"),
        format!("{directory}{name}.key"),
        format!("{directory}x/{name}"),
        format!("{parent}secret.key"),
        format!("{parent}zz/{name}"),
        format!("{HOST}/u/alice/private/{name}"),
        format!("{HOST}/{name}"),
        format!("{directory}{}", name.replace(".ts", ".mp4")),
        url.replacen('/', "//", 3),
    ];
    // A `?` inside the query acting as a wildcard would reach these; the
    // query's own separator reaching `a.ts/x=1` is CloudFront's syntax
    // (see `intended`).
    if let Some((main, query)) = url.split_once('?') {
        out.push(format!("{main}?{}", query.replace('?', "Z")));
        out.push(format!("{main}/{query}"));
    }
    out
}

/// Whether `candidate` is `listed` with its query separator replaced by one
/// other character: the one widening CloudFront's Resource syntax forces on
/// any URL with a query (it has no escape for `?`).
fn separator_variant(listed: &str, candidate: &str) -> bool {
    match listed.find('?') {
        Some(at) => {
            candidate.len() == listed.len()
                && candidate[..at] == listed[..at]
                && candidate[at + 1..] == listed[at + 1..]
        }
        None => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn issued_grants_never_exceed_the_viewers(
        text in playlist(),
        spec in viewer_spec(),
        options in options(),
        now in 1_700_000_000u64..1_900_000_000,
        dir in prop::collection::vec("[a-z]{1,3}", 0..4),
    ) {
        let path = format!("/{}index._m3u8", dir.iter().map(|d| format!("{d}/")).collect::<String>());
        let base = format!("{HOST}{path}");
        let client: IpAddr = CLIENT.parse().unwrap();
        // The viewer's own grant, signed and verified.
        let expires = now + spec.lifetime;
        let range = spec.prefix.map(|p| format!("{CLIENT}/{p}"));
        let policy = spec.policy(&format!("{HOST}/*"), &base, now);
        let viewer_url = signer().sign_url(&base, &policy).unwrap();
        let grant = verify_request(&viewer_url, &[], &trusted(), now, Some(client)).unwrap();
        let rewriter = Rewriter::new(signer().clone(), options.clone(), 256);
        let viewer = Viewer { url: &viewer_url, grant: &grant, client_ip: Some(client) };
        let out = match rewriter.rewrite(&text, &viewer, now) {
            Ok(out) => out,
            // Unusable references are refused as a whole, never half-signed.
            Err(e) => { prop_assert!(!e.to_string().is_empty()); return Ok(()); }
        };

        // What the playlist lists, resolved independently (renamed children).
        let listed: Vec<String> = common::independent::uris(&text)
            .iter()
            .map(|uri| resolve(&base, uri))
            .map(|u| {
                let (main, query) = u.split_once('?').map_or((u.as_str(), None), |(m, q)| (m, Some(q)));
                let main = match main.strip_suffix(".m3u8") {
                    Some(stem) => format!("{stem}._m3u8"),
                    None => main.to_owned(),
                };
                match query { Some(q) => format!("{main}?{q}"), None => main }
            })
            .collect();
        let intended = |candidate: &str| -> bool {
            listed.iter().any(|l| {
                l == candidate
                    || separator_variant(l, candidate)
                    || (l.split('?').next().unwrap().ends_with("._m3u8") && candidate.starts_with(l.as_str()))
                    || (!l.contains('?') && same_shape(l, candidate))
                    || (options.mode == Mode::Directory
                        && candidate.starts_with(&l[..l.rfind('/').unwrap() + 1]))
                    || (options.mode == Mode::Propagate && spec.custom)
            })
        };

        for (uri, issued) in issued_grants(&out.body, &base) {
            let Issued { resource, expires: issued_expires, not_before, ip, url, .. } = issued;
            // Time.
            prop_assert!(issued_expires <= expires, "{uri}: {issued_expires} > {expires}");
            if let Some(ago) = spec.not_before_ago {
                prop_assert!(not_before >= Some(now - ago), "{uri}: valid before the viewer");
            }
            // Past the configured lifetime (or a live window's floor) lasts
            // only the viewer's own grant handed on, or a child playlist's
            // own grant, routed back through the function: never an issued
            // one that covers segments (a directory).
            if let Expiry::Ttl { ttl, bucket } = options.expiry {
                let floor = LiveTiming::of_hls(&text).map_or(0, |t| t.min_lifetime());
                let lifetime = ttl.max(round_up(floor, bucket).min(MAX_LIFETIME));
                let bound = round_up(now + lifetime, bucket);
                if issued_expires > bound && resource != policy.resource() {
                    let routed = url.split('?').next().unwrap().ends_with("._m3u8");
                    prop_assert!(
                        routed && resource == format!("{url}*"),
                        "{uri}: {resource} lasts until {issued_expires} > {bound}"
                    );
                }
            }
            // Place.
            if let Some(outer) = &range {
                let inner = ip.as_deref().unwrap_or("0.0.0.0/0");
                prop_assert!(cidr_within(inner, outer), "{uri}: {inner} not within {outer}");
            }
            // Scope: the resource covers its URL…
            prop_assert!(cloudfront_matches(&resource, &url), "{resource} !~ {url}");
            // …holds no wildcard character from a URI…
            prop_assert!(!uri.contains('*') || (options.mode == Mode::Propagate && spec.custom), "{uri} was signed");
            // …and reaches nothing beyond the listing and its own members.
            if options.mode == Mode::Propagate && spec.custom && resource == format!("{HOST}/*") {
                continue; // the viewer's own grant, handed on unchanged
            }
            for probe in listed.iter().flat_map(|l| neighbours(l)) {
                if cloudfront_matches(&resource, &probe) {
                    prop_assert!(intended(&probe), "{uri}: {resource} reaches {probe}");
                }
            }
            if let Some(c) = options.confinement {
                let prefix_dirs: Vec<&str> = path.split('/').skip(1).collect();
                let keep = c.segments.min(prefix_dirs.len() - 1);
                let prefix = format!("{HOST}/{}", prefix_dirs[..keep].iter().map(|d| format!("{d}/")).collect::<String>());
                prop_assert!(resource.starts_with(&prefix), "{resource} escapes {prefix}");
            }
        }
        let stats = out.stats;
        prop_assert_eq!(stats.uris, stats.signed + stats.untouched + stats.unsigned);
    }
}

fn delivery_choice() -> impl Strategy<Value = Delivery> {
    prop::sample::select(vec![Delivery::Rewrite, Delivery::Cookies, Delivery::Query])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The deliveries under the same invariants: cookies the function sets,
    /// and grants in the body, never outlive the viewer's grant nor leave
    /// its IP range; cookies a viewer asked for never reach past the
    /// viewer's own Resource (only the operator's configured `cookies` may
    /// cover the manifest's tree beyond it); the `query` delivery never
    /// writes the viewer's signature into the manifest.
    #[test]
    fn deliveries_never_exceed_the_viewers(
        text in playlist(),
        spec in viewer_spec(),
        options in options(),
        now in 1_700_000_000u64..1_900_000_000,
        dir in prop::collection::vec("[a-z]{1,3}", 1..4),
        reach in 0usize..4,
        configured in delivery_choice(),
        requested in proptest::option::of(delivery_choice()),
    ) {
        let path = format!("/{}index._m3u8", dir.iter().map(|d| format!("{d}/")).collect::<String>());
        let base = format!("{HOST}{path}");
        let tree = format!("{HOST}/{}", dir.iter().map(|d| format!("{d}/")).collect::<String>());
        let client: IpAddr = CLIENT.parse().unwrap();
        let expires = now + spec.lifetime;
        let range = spec.prefix.map(|p| format!("{CLIENT}/{p}"));
        let viewer_base = match requested {
            Some(d) => format!("{base}?{}={d}", delivery::PARAMETER),
            None => base.clone(),
        };
        let viewer_resource = match reach {
            0 => format!("{HOST}/*"),
            1 => format!("{}*", &tree[..tree[..tree.len() - 1].rfind('/').unwrap() + 1]),
            2 => format!("{tree}*"),
            _ => format!("{base}*"),
        };
        let policy = spec.policy(&viewer_resource, &viewer_base, now);
        let viewer_url = signer().sign_url(&viewer_base, &policy).unwrap();
        let viewer_signature = viewer_url.split("Signature=").nth(1).unwrap().split('&').next().unwrap().to_owned();
        let grant = verify_request(&viewer_url, &[], &trusted(), now, Some(client)).unwrap();
        let rewriter = Rewriter::new(signer().clone(), options.clone(), 256);
        let plan = delivery::choose(configured, requested, &grant, delivery::tree(&viewer_url));
        let pair = requested.map(|d| format!("{}={d}", delivery::PARAMETER));
        let job = Job {
            rewriter: &rewriter,
            format: ManifestFormat::Hls,
            body: &text,
            viewer: Viewer { url: &viewer_url, grant: &grant, client_ip: Some(client) },
            now,
            requested_pair: pair.as_deref(),
            cookies: CookieSettings { domain: None, same_site: "Lax" },
        };
        let out = match job.run(plan) {
            Ok(out) => out,
            Err(e) => { prop_assert!(!e.to_string().is_empty()); return Ok(()); }
        };
        let check = |what: &str, issued: &Issued| -> Result<(), TestCaseError> {
            prop_assert!(issued.expires <= expires, "{what}: {} > {expires}", issued.expires);
            if let Some(ago) = spec.not_before_ago {
                prop_assert!(issued.not_before >= Some(now - ago), "{what}: valid before the viewer");
            }
            if let Some(outer) = &range {
                let inner = issued.ip.as_deref().unwrap_or("0.0.0.0/0");
                prop_assert!(cidr_within(inner, outer), "{what}: {inner} not within {outer}");
            }
            Ok(())
        };
        // Cookies.
        if !out.set_cookies.is_empty() {
            let query: Vec<String> = out.set_cookies.iter().map(|c| {
                let pair = c.split(';').next().unwrap();
                pair.strip_prefix("CloudFront-").unwrap().to_owned()
            }).collect();
            let issued = common::independent::issued(&format!("{HOST}/x?{}", query.join("&"))).unwrap();
            check("cookies", &issued)?;
            prop_assert!(out.set_cookies.iter().all(|c| c.contains("; Secure; HttpOnly")));
            let opted_in = configured == Delivery::Cookies && requested.is_none();
            if opted_in {
                prop_assert_eq!(&issued.resource, &format!("{tree}*"));
            } else {
                let viewer_prefix = viewer_resource.strip_suffix('*').unwrap();
                prop_assert!(spec.custom, "cookies for a canned viewer it did not opt into");
                prop_assert!(issued.resource.starts_with(viewer_prefix) && issued.resource.ends_with('*'),
                    "{} wider than {viewer_resource}", issued.resource);
            }
        }
        // Grants in the body.
        for (uri, issued) in issued_grants(&out.rewritten.body, &base) {
            check(&uri, &issued)?;
        }
        if out.name == "define" {
            prop_assert!(!out.rewritten.body.contains(&viewer_signature), "viewer's signature written");
            // Nothing signed for this viewer in a manifest meant for all.
            prop_assert!(issued_grants(&out.rewritten.body, &base).is_empty(), "a grant in a define manifest");
            prop_assert!(out.rewritten.body.contains("#EXT-X-DEFINE:QUERYPARAM=\"Signature\""));
        }
    }
}

#[test]
fn same_shape_reads_only_the_sequence_number() {
    assert!(same_shape(
        &format!("{HOST}/v/seg-001.ts"),
        &format!("{HOST}/v/seg-999.ts")
    ));
    assert!(!same_shape(
        &format!("{HOST}/v/seg-001.ts"),
        &format!("{HOST}/v/seg-0001.ts")
    ));
    assert!(!same_shape(
        &format!("{HOST}/v/seg-001.ts"),
        &format!("{HOST}/w/seg-001.ts")
    ));
    assert!(!same_shape(
        &format!("{HOST}/v/init.mp4"),
        &format!("{HOST}/v/init.mp5")
    ));
}
