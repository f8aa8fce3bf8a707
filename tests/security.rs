//! The security suite: every attack on the grant transformer we know of,
//! each stated with the answer CloudFront (or DESIGN §5) requires, run
//! against the real handler on every entry point:
//!
//! * `viewer-request` and `origin-request` Lambda@Edge events;
//! * function-URL events, with the grant in the headers the CloudFront
//!   Function sets (and the signing parameters gone from the query, as
//!   CloudFront strips them);
//! * the emulator (`hls-sign serve`) over HTTP.
//!
//! Every 200 is also checked independently (`common::independent`): each
//! issued grant expires no later than the viewer's, carries the viewer's IP
//! range or a narrower one and its not-before time, uses no `*` but the
//! trailing one of a child playlist, and matches none of the URLs the
//! scenario says must stay out of reach.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use base64::Engine;
use common::emulator::EmulatorProcess;
use common::generated_key;
use common::independent::{
    cidr_within, cloudfront_matches, issued, issued_grants, Issued, SIGNING,
};
use hls_edge_signer::config::RawConfig;
use hls_edge_signer::edge::lambda::handle_event;
use hls_edge_signer::edge::{Handler, LogRecord};
use hls_edge_signer::keys::generate_pem;
use hls_edge_signer::{Condition, KeyAlgorithm, Policy, PrivateKey, RsaBackend, UrlSigner};
use serde_json::{json, Value};

const DIST: &str = "d111111abcdef8.cloudfront.net";
/// The viewer's IPv4 address in events (the emulator's is 127.0.0.1).
const EVENT_IP: &str = "203.0.113.9";
const EVENT_IPV6: &str = "2001:db8::9";

// ------------------------------------------------------------------ keys

/// The function's own key (A, RSA, signs and is trusted), the key group's
/// other key (B, the rotation slot, trusted), and a key nobody trusts (C).
struct Keys {
    dir: PathBuf,
    a: UrlSigner,
    b: UrlSigner,
    c: UrlSigner,
}

fn signer(pem: &str, id: &str) -> UrlSigner {
    let key = PrivateKey::from_pem(pem).unwrap();
    let hash = key.default_hash();
    UrlSigner::new(key.signer(RsaBackend::AwsLc).unwrap(), id, hash).unwrap()
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("security-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a_private, _) = generated_key(KeyAlgorithm::Rsa2048);
        let (b_private, b_public) = generated_key(KeyAlgorithm::EcdsaP256);
        let (c_private, _) = generate_pem(KeyAlgorithm::EcdsaP256).unwrap();
        std::fs::write(dir.join("a.pem"), a_private).unwrap();
        std::fs::write(dir.join("b.pub.pem"), b_public).unwrap();
        write_origin(&dir.join("origin"));
        Keys {
            a: signer(a_private, "KA"),
            b: signer(b_private, "KB"),
            c: signer(&c_private, "KA"),
            dir,
        }
    })
}

// ------------------------------------------------------------------ origin

/// The origin's playlists: an ordinary master and media playlist, a
/// root-level playlist, a hostile user's playlist, and one sharing a key
/// folder with other streams.
fn write_origin(root: &Path) {
    let files: &[(&str, &str)] = &[
        (
            "v/index.m3u8",
            "#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"keys/k.key\"\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1\nhd/index.m3u8\n\
             #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"hd/iframes.m3u8\"\n",
        ),
        (
            "v/hd/index.m3u8",
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"init.mp4\"\n\
             #EXT-X-KEY:METHOD=AES-128,URI=\"../keys/stream.key\"\n\
             #EXTINF:4,\nseg-00000.ts\n#EXTINF:4,\nseg-00001.ts\n#EXTINF:4,\nseg-00002.ts\n",
        ),
        (
            "index.m3u8",
            "#EXTM3U\n#EXTINF:4,\nseg-0.ts\n#EXTINF:4,\nseg-1.ts\n",
        ),
        (
            "u/mallory/v1/index.m3u8",
            "#EXTM3U\n#EXTINF:4,\n../../*/seg.ts\n#EXTINF:4,\nseg*.ts\n\
             #EXTINF:4,\na.ts?x=?\n#EXTINF:4,\n../../../../../../etc/passwd.ts\n\
             #EXT-X-KEY:METHOD=AES-128,URI=\"%2e%2e/k.key\"\n\
             #EXT-X-KEY:METHOD=AES-128,URI=\"..;/k.key\"\n\
             #EXTINF:4,\n../../alice/private-movie/seg-00000.ts\n\
             #EXTINF:4,\n../v2/seg-00000.ts\n#EXTINF:4,\nok-00001.ts\n",
        ),
        (
            "live/ch1/index.m3u8",
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n1732400000.ts\n#EXTINF:4,\n1732400004.ts\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1\nAlt.M3U8\n",
        ),
        (
            "live/ch1/abc.m3u8",
            "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"premium.key\"\n#EXTINF:4,\npremium-00001.ts\n",
        ),
        (
            "v/stream.mpd",
            "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" \
             mediaPresentationDuration=\"PT40S\"><Period>\
             <AdaptationSet><Representation id=\"hd\" bandwidth=\"1\">\
             <SegmentTemplate duration=\"2\" media=\"chunk-$Number$.m4s\" initialization=\"init.mp4\"/>\
             </Representation><Representation id=\"sd\" bandwidth=\"2\">\
             <SegmentTemplate duration=\"2\" media=\"$RepresentationID$/$Number$.m4s\"/>\
             </Representation><Representation id=\"up\" bandwidth=\"3\">\
             <SegmentTemplate duration=\"2\" media=\"../../x-$Number$.m4s\"/>\
             </Representation></AdaptationSet></Period></MPD>\n",
        ),
        (
            "shared/videos/a/index.m3u8",
            "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"../../keys/stream.key\"\n\
             #EXTINF:4,\nseg-00000.ts\n",
        ),
    ];
    for (path, body) in files {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
}

// ------------------------------------------------------------------ configs

/// The function configurations the scenarios run under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Cfg {
    Default,
    PinClient,
    PinClientUnpinnedV6,
    Confine2,
    Directory,
    PropagatePinned,
}

impl Cfg {
    fn json(self) -> Value {
        let k = keys();
        let mut config = json!({
            "key_pair_id": "KA",
            "trusted_keys": {"KB": format!("@{}", k.dir.join("b.pub.pem").display())},
            "distribution_host": DIST,
        });
        match self {
            Cfg::Default => {}
            Cfg::PinClient => config["ip_pinning"] = json!("client"),
            Cfg::PinClientUnpinnedV6 => {
                config["ip_pinning"] = json!("client");
                config["ipv6_viewers"] = json!("unpinned");
            }
            Cfg::Confine2 => config["confine_segments"] = json!(2),
            Cfg::Directory => config["mode"] = json!("directory"),
            Cfg::PropagatePinned => {
                config["mode"] = json!("propagate");
                config["ip_pinning"] = json!("client");
            }
        }
        config
    }
}

async fn handler(cfg: Cfg) -> Handler {
    let k = keys();
    let mut config = cfg.json();
    config["key"] = json!({"file": k.dir.join("a.pem")});
    let raw = RawConfig::from_json(&config.to_string()).unwrap();
    Handler::from_config(raw.validate().unwrap(), Some(k.dir.join("origin")))
        .await
        .unwrap()
}

/// One emulator per configuration, started on first use and stopped by
/// [`StopEmulators`] when the test ends.
static EMULATORS: std::sync::Mutex<Vec<(Cfg, Arc<EmulatorProcess>)>> =
    std::sync::Mutex::new(Vec::new());

fn emulator(cfg: Cfg) -> Arc<EmulatorProcess> {
    let mut all = EMULATORS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, e)) = all.iter().find(|(c, _)| *c == cfg) {
        return e.clone();
    }
    let k = keys();
    let config_file = k.dir.join(format!("emulator-{cfg:?}.json"));
    let mut config = cfg.json();
    config.as_object_mut().unwrap().remove("distribution_host");
    std::fs::write(&config_file, config.to_string()).unwrap();
    let origin = k.dir.join("origin");
    let key = k.dir.join("a.pem");
    let e = Arc::new(EmulatorProcess::start(
        &k.dir,
        &[
            "--origin",
            origin.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--key-pair-id",
            "KA",
            "--config",
            config_file.to_str().unwrap(),
        ],
    ));
    all.push((cfg, e.clone()));
    e
}

/// Stops the emulators when dropped (also when a test panics).
struct StopEmulators;

impl Drop for StopEmulators {
    fn drop(&mut self) {
        EMULATORS.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

// ------------------------------------------------------------------ requests

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    ViewerRequest,
    OriginRequest,
    FunctionUrl,
    Emulator,
}

const ALL: &[Entry] = &[
    Entry::ViewerRequest,
    Entry::OriginRequest,
    Entry::FunctionUrl,
    Entry::Emulator,
];
/// Scenarios whose client address the emulator cannot take (it listens on
/// 127.0.0.1 only).
const EVENTS: &[Entry] = &[
    Entry::ViewerRequest,
    Entry::OriginRequest,
    Entry::FunctionUrl,
];

/// What a scenario knows of the entry point: the host signatures are made
/// for, the viewer's address, and the time.
struct Ctx {
    host: String,
    ip: IpAddr,
    now: u64,
}

impl Ctx {
    fn url(&self, path_and_query: &str) -> String {
        format!("https://{}{path_and_query}", self.host)
    }

    /// `path_and_query` signed canned (the query holds the own part too).
    fn canned(&self, signer: &UrlSigner, path_and_query: &str, expires: u64) -> String {
        let url = self.url(path_and_query);
        let signed = signer
            .sign_url(&url, &Policy::canned(&url, expires))
            .unwrap();
        signed.split_once('?').unwrap().1.to_owned()
    }

    /// `path_and_query` signed with a custom policy.
    fn custom(&self, signer: &UrlSigner, path_and_query: &str, policy: &Policy) -> String {
        let signed = signer.sign_url(&self.url(path_and_query), policy).unwrap();
        signed.split_once('?').unwrap().1.to_owned()
    }

    fn cookies(&self, signer: &UrlSigner, policy: &Policy) -> Vec<(String, String)> {
        signer.sign_cookies(policy).unwrap().cookies
    }

    fn tree(&self, dir: &str) -> String {
        format!("https://{}{dir}*", self.host)
    }
}

/// A request as the viewer sends it.
struct Req {
    method: &'static str,
    path: String,
    /// The whole query: the viewer's own pairs and the signing parameters.
    query: String,
    cookies: Vec<(String, String)>,
    ip: Option<IpAddr>,
}

fn req(path: &str, query: String) -> Req {
    Req {
        method: "GET",
        path: path.to_owned(),
        query,
        cookies: Vec::new(),
        ip: None,
    }
}

/// The function's answer.
struct Answer {
    status: u16,
    body: String,
    log: Option<LogRecord>,
}

fn is_signing(pair: &str) -> bool {
    SIGNING.contains(&pair.split('=').next().unwrap())
}

async fn send(entry: Entry, cfg: Cfg, ctx: &Ctx, r: &Req) -> Answer {
    let ip = r.ip.unwrap_or(ctx.ip);
    let cookie_header = r
        .cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let event = match entry {
        Entry::Emulator => {
            let e = emulator(cfg);
            let url = if r.query.is_empty() {
                format!("{}{}", e.base, r.path)
            } else {
                format!("{}{}?{}", e.base, r.path, r.query)
            };
            let headers: Vec<(&str, &str)> = if cookie_header.is_empty() {
                Vec::new()
            } else {
                vec![("cookie", cookie_header.as_str())]
            };
            let answer = common::emulator::request(r.method, &url, &headers);
            return Answer {
                status: answer.status,
                body: answer.body,
                log: None,
            };
        }
        Entry::ViewerRequest | Entry::OriginRequest => {
            let event_type = if entry == Entry::ViewerRequest {
                "viewer-request"
            } else {
                "origin-request"
            };
            let mut headers = json!({"host": [{"key": "Host", "value": DIST}]});
            if !cookie_header.is_empty() {
                headers["cookie"] = json!([{"key": "Cookie", "value": cookie_header}]);
            }
            json!({"Records": [{"cf": {
                "config": {"distributionDomainName": DIST, "eventType": event_type, "requestId": "sec"},
                "request": {"clientIp": ip.to_string(), "method": r.method, "uri": r.path,
                            "querystring": r.query, "headers": headers}
            }}]})
        }
        Entry::FunctionUrl => {
            // What reaches the function URL: CloudFront stripped the signing
            // parameters; the CloudFront Function copied them (or, when there
            // were none, the CloudFront-* cookies) into headers; the origin
            // request policy forwards no cookies.
            let (grant, own): (Vec<&str>, Vec<&str>) = r
                .query
                .split('&')
                .filter(|p| !p.is_empty())
                .partition(|p| is_signing(p));
            let mut headers = json!({
                "x-hls-viewer-host": DIST,
                "cloudfront-viewer-address": format!("{}:40000", match ip {
                    IpAddr::V6(v6) => format!("[{v6}]"),
                    v4 => v4.to_string(),
                }),
            });
            if !grant.is_empty() {
                headers["x-hls-viewer-grant"] = json!(grant.join("&"));
            } else {
                let cookies: Vec<String> = r
                    .cookies
                    .iter()
                    .filter(|(n, _)| n.starts_with("CloudFront-"))
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect();
                if !cookies.is_empty() {
                    headers["x-hls-viewer-cookies"] = json!(cookies.join("; "));
                }
            }
            let text = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("events/function-url.json"),
            )
            .unwrap();
            let mut event: Value = serde_json::from_str(&text).unwrap();
            event["rawPath"] = json!(r.path);
            event["rawQueryString"] = json!(own.join("&"));
            event["headers"] = headers;
            event["requestContext"]["http"]["method"] = json!(r.method);
            event["requestContext"]["http"]["path"] = json!(r.path);
            event
        }
    };
    let h = handler(cfg).await;
    let (response, log) = handle_event(&h, event, ctx.now).await.unwrap();
    let status = response["status"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| response["statusCode"].as_u64().map(|s| s as u16))
        .unwrap();
    let mut body = response["body"].as_str().unwrap_or("").to_owned();
    if response["bodyEncoding"] == "base64" || response["isBase64Encoded"] == true {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&body)
            .unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .unwrap();
        body = text;
    }
    Answer {
        status,
        body,
        log: Some(log),
    }
}

// ------------------------------------------------------------------ checks

/// What the viewer holds, for checking what was issued.
struct Held {
    expires: u64,
    not_before: Option<u64>,
    ip: Option<&'static str>,
}

fn held(expires: u64) -> Held {
    Held {
        expires,
        not_before: None,
        ip: None,
    }
}

/// The invariants of DESIGN §5 on every grant a 200 issued, plus URLs that
/// must stay out of reach.
fn check_issued(
    cfg: Cfg,
    ctx: &Ctx,
    r: &Req,
    answer: &Answer,
    viewer: &Held,
    unreachable: &[&str],
) {
    let base = ctx.url(&r.path);
    let dash = answer.body.trim_start().starts_with('<');
    let grants = if dash {
        issued_mpd_grants(&answer.body, &base)
    } else {
        issued_grants(&answer.body, &base)
    };
    assert!(!grants.is_empty(), "nothing issued:\n{}", answer.body);
    for (uri, g) in &grants {
        assert!(
            g.expires <= viewer.expires,
            "{uri}: {g:?} outlives the viewer"
        );
        if let Some(nb) = viewer.not_before {
            assert!(g.not_before >= Some(nb), "{uri}: valid before the viewer");
        }
        match (viewer.ip, &g.ip) {
            (Some(outer), Some(inner)) => assert!(cidr_within(inner, outer), "{uri}: {inner}"),
            (Some(outer), None) => panic!("{uri}: the viewer's range {outer} was dropped"),
            _ => {}
        }
        let stars = g.resource.matches('*').count();
        let child = g.url.split('?').next().unwrap().ends_with("._m3u8");
        let trailing = stars == 1 && g.resource.ends_with('*');
        // A DASH template's `*` only after a literal part of its file name.
        let in_file_name = g.resource.find('*').is_some_and(|star| {
            let name = &g.resource[g.resource[..star].rfind('/').unwrap() + 1..];
            !g.resource[star..].contains('/')
                && name.split('*').next().unwrap().chars().any(|c| c != '?')
        });
        assert!(
            stars == 0 || (trailing && (child || cfg == Cfg::Directory)) || (dash && in_file_name),
            "{uri}: wildcard in {}",
            g.resource
        );
        assert!(
            cloudfront_matches(&g.resource, &g.url),
            "{uri}: {} does not cover {}",
            g.resource,
            g.url
        );
        for probe in unreachable {
            let probe = ctx.url(probe);
            assert!(
                !cloudfront_matches(&g.resource, &probe),
                "{uri}: {} reaches {probe}",
                g.resource
            );
        }
    }
}

// ------------------------------------------------------------------ scenarios

/// What a scenario expects.
enum Expect {
    /// Refused with this status; nothing signed.
    Refused(u16),
    /// Answered 200; the grants checked against what the viewer holds and
    /// the URLs that must stay out of reach.
    Served {
        viewer: fn(&Ctx) -> Held,
        unreachable: &'static [&'static str],
        extra: fn(&Ctx, &Req, &Answer),
    },
}

struct Scenario {
    name: &'static str,
    /// The rule that decides the answer.
    rule: &'static str,
    cfg: Cfg,
    entries: &'static [Entry],
    request: Build,
    expect: Expect,
}

/// How a scenario's request is made.
enum Build {
    With(fn(&Ctx) -> Req),
    /// A validly signed request for this exact (unsafe) path.
    SignedPath(&'static str),
}

impl Build {
    fn request(&self, ctx: &Ctx) -> Req {
        match self {
            Build::With(f) => f(ctx),
            Build::SignedPath(path) => req(path, ctx.canned(&keys().a, path, ctx.now + 600)),
        }
    }
}

fn nothing(_: &Ctx, _: &Req, _: &Answer) {}

fn long(ctx: &Ctx) -> Held {
    held(ctx.now + 7200)
}

const MASTER: &str = "/v/index._m3u8";
const MEDIA: &str = "/v/hd/index._m3u8";
const MPD: &str = "/v/stream._mpd";

/// A canned grant for the master, valid two hours.
fn master_canned(ctx: &Ctx) -> String {
    ctx.canned(&keys().a, MASTER, ctx.now + 7200)
}

fn scenarios() -> Vec<Scenario> {
    use Entry::*;
    let _ = (ViewerRequest, OriginRequest, FunctionUrl, Emulator);
    vec![
        // ---------------------------------------------------- grant presence
        Scenario {
            name: "no grant at all",
            rule: "§5.1: no verified grant, no signatures (CloudFront: MissingKey)",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|_| req(MASTER, String::new())),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "own query only, no grant",
            rule: "§5.1: a query without signing parameters is no grant",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|_| req(MASTER, "lang=en".into())),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "valid canned URL grant",
            rule: "CloudFront accepts; issued grants within it",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| req(MASTER, master_canned(ctx))),
            expect: Expect::Served {
                viewer: long,
                unreachable: &["/v/other/index._m3u8", "/keys/k.key", "/v/keys/other.key"],
                extra: nothing,
            },
        },
        Scenario {
            name: "valid custom URL grant over the tree",
            rule: "CloudFront accepts; issued grants within it",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&ctx.tree("/v/"), ctx.now + 600);
                req(MEDIA, ctx.custom(&keys().a, MEDIA, &policy))
            }),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 600),
                unreachable: &[
                    "/v/hd/private.ts",
                    "/v/keys/other.key",
                    "/v/hd/seg-00000.mp4",
                ],
                extra: nothing,
            },
        },
        Scenario {
            name: "valid custom signed cookies",
            rule: "signed cookies are grants (§5.1); CloudFront accepts them",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&ctx.tree("/v/"), ctx.now + 120).with(
                    Condition::IpAddress(format!("{}/32", ctx.ip).parse().unwrap()),
                );
                let mut r = req(MASTER, String::new());
                r.cookies = ctx.cookies(&keys().a, &policy);
                r
            }),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 120),
                unreachable: &["/v/other/index._m3u8"],
                extra: |ctx, _, answer| {
                    // The cookie's IP pin carries over to every issued grant.
                    let grants = issued_grants(&answer.body, &ctx.url(MASTER));
                    let pin = format!("{}/32", ctx.ip);
                    assert!(grants
                        .iter()
                        .all(|(_, g)| g.ip.as_deref() == Some(pin.as_str())));
                },
            },
        },
        Scenario {
            name: "valid canned signed cookie",
            rule: "CloudFront-Expires cookies are grants for the exact URL",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let policy = Policy::canned(&ctx.url(MASTER), ctx.now + 300);
                let mut r = req(MASTER, String::new());
                r.cookies = ctx.cookies(&keys().a, &policy);
                r
            }),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 300),
                unreachable: &[],
                extra: nothing,
            },
        },
        Scenario {
            name: "cookie grant only for another path",
            rule: "the cookie's policy must cover the URL (AccessDenied)",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&ctx.tree("/other/"), ctx.now + 300);
                let mut r = req(MASTER, String::new());
                r.cookies = ctx.cookies(&keys().a, &policy);
                r
            }),
            expect: Expect::Refused(403),
        },
        // ---------------------------------------------------- forged grants
        Scenario {
            name: "forged signature",
            rule: "AccessDenied: the signature does not verify",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let q = master_canned(ctx);
                let at = q.find("Signature=").unwrap() + 10;
                let flip = if &q[at..at + 1] == "A" { "B" } else { "A" };
                req(MASTER, format!("{}{flip}{}", &q[..at], &q[at + 1..]))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "truncated signature",
            rule: "MalformedSignature / AccessDenied",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let q = master_canned(ctx);
                let at = q.find("&Key-Pair-Id").unwrap();
                req(MASTER, format!("{}{}", &q[..at - 8], &q[at..]))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "signature of another policy spliced in",
            rule: "AccessDenied: the signature covers other bytes",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let mine = ctx.custom(
                    &keys().a,
                    MASTER,
                    &Policy::custom(&ctx.url(MASTER), ctx.now + 60),
                );
                let wide = Policy::custom(&ctx.tree("/"), ctx.now + 60);
                let forged_policy = hls_edge_signer::cf_base64::encode(wide.to_json().as_bytes());
                let signature = mine.split("Signature=").nth(1).unwrap();
                req(
                    MASTER,
                    format!("Policy={forged_policy}&Signature={signature}"),
                )
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "signature re-encoded by a player (~ as %7E)",
            rule: "CloudFront decodes the value: accepted (hls.js does this)",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| req(MASTER, master_canned(ctx).replace('~', "%7E"))),
            expect: Expect::Served {
                viewer: long,
                unreachable: &[],
                extra: nothing,
            },
        },
        Scenario {
            name: "policy in standard Base64 (+ / =)",
            rule: "MalformedPolicy: CloudFront's alphabet is - ~ _",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let q = ctx.custom(
                    &keys().a,
                    MASTER,
                    &Policy::custom(&ctx.tree("/v/"), ctx.now + 60),
                );
                req(
                    MASTER,
                    q.replace('-', "+").replace('~', "/").replace('_', "="),
                )
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "expired grant",
            rule: "AccessDenied: expired",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| req(MASTER, ctx.canned(&keys().a, MASTER, ctx.now - 1))),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "expires this very second",
            rule: "AccessDenied: DateLessThan is exclusive",
            cfg: Cfg::Default,
            entries: EVENTS,
            request: Build::With(|ctx| req(MASTER, ctx.canned(&keys().a, MASTER, ctx.now))),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "not yet valid",
            rule: "AccessDenied: DateGreaterThan in the future",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&ctx.url(MASTER), ctx.now + 600)
                    .with(Condition::DateGreaterThan(ctx.now + 300));
                req(MASTER, ctx.custom(&keys().a, MASTER, &policy))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "not-before in the past is carried over",
            rule: "§5.2: nothing issued is valid before the viewer's grant is",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&ctx.tree("/v/"), ctx.now + 600)
                    .with(Condition::DateGreaterThan(ctx.now - 30));
                req(MASTER, ctx.custom(&keys().a, MASTER, &policy))
            }),
            expect: Expect::Served {
                viewer: |ctx| Held {
                    expires: ctx.now + 600,
                    not_before: Some(ctx.now - 30),
                    ip: None,
                },
                unreachable: &[],
                extra: nothing,
            },
        },
        Scenario {
            name: "signed with an untrusted key under a trusted id",
            rule: "AccessDenied: wrong key",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| req(MASTER, ctx.canned(&keys().c, MASTER, ctx.now + 600))),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "unknown key pair id",
            rule: "InvalidKey",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                req(
                    MASTER,
                    master_canned(ctx).replace("Key-Pair-Id=KA", "Key-Pair-Id=KEVIL"),
                )
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "missing Key-Pair-Id",
            rule: "MissingKey",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                req(MASTER, master_canned(ctx).replace("&Key-Pair-Id=KA", ""))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "grant from the key group's other (rotated) key",
            rule: "§5.1: every key of the key group is trusted, as by CloudFront",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| req(MASTER, ctx.canned(&keys().b, MASTER, ctx.now + 900))),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 900),
                unreachable: &[],
                extra: |_, _, answer| {
                    // Issued with the function's own key.
                    assert!(answer.body.contains("Key-Pair-Id=KA"));
                    assert!(!answer.body.contains("Key-Pair-Id=KB"));
                },
            },
        },
        Scenario {
            name: "Hash-Algorithm switched to SHA256 on a SHA-1 signature",
            rule: "AccessDenied: the signature is checked under the named hash",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                req(
                    MASTER,
                    format!("{}&Hash-Algorithm=SHA256", master_canned(ctx)),
                )
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "unknown Hash-Algorithm",
            rule: "MalformedSignature",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                req(MASTER, format!("{}&Hash-Algorithm=MD5", master_canned(ctx)))
            }),
            expect: Expect::Refused(403),
        },
        // ---------------------------------------------------- malformed values
        Scenario {
            name: "Expires with a plus sign",
            rule: "refused: not a plain epoch second (MalformedPolicy)",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                req(
                    MASTER,
                    master_canned(ctx).replace("Expires=", "Expires=%2B"),
                )
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "Expires with a leading zero",
            rule: "refused: not a plain epoch second (MalformedPolicy)",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                req(MASTER, master_canned(ctx).replace("Expires=", "Expires=0"))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "Expires and Policy both present",
            rule: "MalformedPolicy",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let custom = ctx.custom(
                    &keys().a,
                    MASTER,
                    &Policy::custom(&ctx.tree("/v/"), ctx.now + 60),
                );
                let policy = custom.split('&').next().unwrap().to_owned();
                req(MASTER, format!("{policy}&{}", master_canned(ctx)))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "two different Signature values",
            rule: "refused, never last-one-wins (MalformedSignature)",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                req(MASTER, format!("{}&Signature=AAAA", master_canned(ctx)))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "two different Key-Pair-Id values",
            rule: "refused, never last-one-wins",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                req(MASTER, format!("{}&Key-Pair-Id=KB", master_canned(ctx)))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "policy that is not JSON",
            rule: "MalformedPolicy",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|_| {
                req(
                    MASTER,
                    "Policy=bm90LWpzb24_&Signature=AAAA&Key-Pair-Id=KA".into(),
                )
            }),
            expect: Expect::Refused(403),
        },
        // ---------------------------------------------------- place
        Scenario {
            name: "IP-restricted grant from another address",
            rule: "AccessDenied: the viewer is outside the policy's range",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&ctx.tree("/v/"), ctx.now + 600)
                    .with(Condition::IpAddress("198.51.100.0/24".parse().unwrap()));
                req(MASTER, ctx.custom(&keys().a, MASTER, &policy))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "IP-restricted grant from inside the range",
            rule: "§5.3: every issued grant keeps the viewer's range",
            cfg: Cfg::Default,
            entries: EVENTS,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&ctx.tree("/v/"), ctx.now + 600)
                    .with(Condition::IpAddress("203.0.113.0/24".parse().unwrap()));
                req(MASTER, ctx.custom(&keys().a, MASTER, &policy))
            }),
            expect: Expect::Served {
                viewer: |ctx| Held {
                    expires: ctx.now + 600,
                    not_before: None,
                    ip: Some("203.0.113.0/24"),
                },
                unreachable: &[],
                extra: nothing,
            },
        },
        Scenario {
            name: "client pinning narrows the viewer's range to its address",
            rule: "§5.3: pinned ⊆ viewer's range",
            cfg: Cfg::PinClient,
            entries: EVENTS,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&ctx.tree("/v/"), ctx.now + 600)
                    .with(Condition::IpAddress("203.0.113.0/24".parse().unwrap()));
                req(MASTER, ctx.custom(&keys().a, MASTER, &policy))
            }),
            expect: Expect::Served {
                viewer: |ctx| Held {
                    expires: ctx.now + 600,
                    not_before: None,
                    ip: Some("203.0.113.9/32"),
                },
                unreachable: &[],
                extra: nothing,
            },
        },
        Scenario {
            name: "client pinning on the emulator's loopback viewer",
            rule: "§5.3: grants pinned to the client address",
            cfg: Cfg::PinClient,
            entries: &[Entry::Emulator],
            request: Build::With(|ctx| req(MASTER, master_canned(ctx))),
            expect: Expect::Served {
                viewer: |ctx| Held {
                    expires: ctx.now + 7200,
                    not_before: None,
                    ip: Some("127.0.0.1/32"),
                },
                unreachable: &[],
                extra: nothing,
            },
        },
        Scenario {
            name: "IPv6 viewer under client pinning (default: refuse)",
            rule: "§5.3: never a silent unpinned grant",
            cfg: Cfg::PinClient,
            entries: EVENTS,
            request: Build::With(|ctx| {
                let mut r = req(MASTER, master_canned(ctx));
                r.ip = Some(EVENT_IPV6.parse().unwrap());
                r
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "IPv6 viewer under client pinning, unpinned by choice",
            rule: "§5.3: the operator's explicit choice, logged as ip_pinned=false",
            cfg: Cfg::PinClientUnpinnedV6,
            entries: EVENTS,
            request: Build::With(|ctx| {
                let mut r = req(MASTER, master_canned(ctx));
                r.ip = Some(EVENT_IPV6.parse().unwrap());
                r
            }),
            expect: Expect::Served {
                viewer: long,
                unreachable: &[],
                extra: |_, _, answer| {
                    let log = answer.log.as_ref().unwrap();
                    assert!(!log.ip_pinned, "{log:?}");
                    assert!(log.json_line().contains("\"ip_pinned\":false"));
                },
            },
        },
        Scenario {
            name: "IPv6 viewer with an IPv4-restricted grant",
            rule: "AccessDenied: an IPv6 address is in no IPv4 range",
            cfg: Cfg::Default,
            entries: EVENTS,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&ctx.tree("/v/"), ctx.now + 600)
                    .with(Condition::IpAddress("0.0.0.0/0".parse().unwrap()));
                let mut r = req(MASTER, ctx.custom(&keys().a, MASTER, &policy));
                r.ip = Some(EVENT_IPV6.parse().unwrap());
                r
            }),
            expect: Expect::Refused(403),
        },
        // ---------------------------------------------------- URL beats cookie
        Scenario {
            name: "bad URL grant, valid cookies",
            rule: "a signed URL takes precedence: the cookies are not consulted",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let mut r = req(
                    MASTER,
                    master_canned(ctx).replace("Key-Pair-Id=KA", "Key-Pair-Id=KX"),
                );
                r.cookies =
                    ctx.cookies(&keys().a, &Policy::custom(&ctx.tree("/v/"), ctx.now + 600));
                r
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "valid URL grant, bad cookies",
            rule: "a signed URL takes precedence",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let mut r = req(MASTER, master_canned(ctx));
                r.cookies = vec![
                    ("CloudFront-Expires".into(), "1".into()),
                    ("CloudFront-Signature".into(), "AAAA".into()),
                    ("CloudFront-Key-Pair-Id".into(), "KEVIL".into()),
                ];
                r
            }),
            expect: Expect::Served {
                viewer: long,
                unreachable: &[],
                extra: nothing,
            },
        },
        Scenario {
            name: "a lone Hash-Algorithm in the query hides the cookies",
            rule: "any signing parameter in the URL makes it the grant",
            cfg: Cfg::Default,
            entries: EVENTS,
            request: Build::With(|ctx| {
                let mut r = req(MASTER, "Hash-Algorithm=SHA1".into());
                r.cookies =
                    ctx.cookies(&keys().a, &Policy::custom(&ctx.tree("/v/"), ctx.now + 600));
                r
            }),
            expect: Expect::Refused(403),
        },
        // ---------------------------------------------------- altered requests
        Scenario {
            name: "canned grant used for another playlist",
            rule: "AccessDenied: the canned Resource is the exact URL",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| req(MEDIA, master_canned(ctx))),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "canned grant with an altered own query",
            rule: "AccessDenied: the query is part of the canned Resource",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let q = ctx.canned(&keys().a, &format!("{MASTER}?lang=en"), ctx.now + 600);
                req(MASTER, q.replace("lang=en", "lang=fr"))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "canned grant with an added own query",
            rule: "AccessDenied: the query is part of the canned Resource",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| req(MASTER, format!("token=x&{}", master_canned(ctx)))),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "custom grant over another tree",
            rule: "AccessDenied: Resource does not match",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&ctx.tree("/w/"), ctx.now + 600);
                req(MASTER, ctx.custom(&keys().a, MASTER, &policy))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "grant for another host",
            rule: "AccessDenied: the host is part of the Resource",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let url = format!("https://other.example{MASTER}");
                let signed = keys()
                    .a
                    .sign_url(&url, &Policy::canned(&url, ctx.now + 600))
                    .unwrap();
                req(MASTER, signed.split_once('?').unwrap().1.to_owned())
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "POST with a valid grant",
            rule: "405: only GET and HEAD reach the signer",
            cfg: Cfg::Default,
            entries: EVENTS,
            request: Build::With(|ctx| {
                let mut r = req(MASTER, master_canned(ctx));
                r.method = "POST";
                r
            }),
            expect: Expect::Refused(405),
        },
        // ---------------------------------------------------- traversal
        traversal("dot-dot", "/v/../index._m3u8"),
        traversal("encoded dot-dot", "/v/%2e%2e/index._m3u8"),
        traversal("mixed-case encoded dot-dot", "/v/%2E%2e/index._m3u8"),
        traversal("half-encoded dot-dot", "/v/.%2e/index._m3u8"),
        traversal("Tomcat path parameter", "/v/..;/index._m3u8"),
        traversal(
            "Tomcat path parameter with value",
            "/v/..;jsessionid=1/index._m3u8",
        ),
        traversal("IIS %u escape", "/v/%u002e%u002e/index._m3u8"),
        traversal("overlong UTF-8", "/v/%c0%ae%c0%ae/index._m3u8"),
        traversal("full-width dots", "/v/%ef%bc%8e%ef%bc%8e/index._m3u8"),
        traversal("double encoding", "/v/%252e%252e/index._m3u8"),
        traversal("encoded slash", "/v%2f..%2findex._m3u8"),
        traversal("encoded backslash", "/v%5c..%5cindex._m3u8"),
        traversal("triple dot (Windows)", "/v/.../index._m3u8"),
        traversal("dot-dot with trailing space", "/v/..%20/index._m3u8"),
        traversal("doubled slash", "/v//index._m3u8"),
        traversal("single dot", "/v/./index._m3u8"),
        traversal("a * in the path", "/v/x*/index._m3u8"),
        // ---------------------------------------------------- playlist scope
        Scenario {
            name: "single-object grant on a root-level playlist",
            rule: "§5.4: segments get a pattern, never https://host/*",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                req(
                    "/index._m3u8",
                    ctx.canned(&keys().a, "/index._m3u8", ctx.now + 600),
                )
            }),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 600),
                unreachable: &[
                    "/secret.ts",
                    "/v/index._m3u8",
                    "/v/hd/seg-00000.ts",
                    "/seg-10.ts",
                    "/keys/k.key",
                ],
                extra: nothing,
            },
        },
        Scenario {
            name: "key in a shared key folder",
            rule: "§5.4: a lone key gets an exact grant, not the folder",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let path = "/shared/videos/a/index._m3u8";
                req(path, ctx.canned(&keys().a, path, ctx.now + 600))
            }),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 600),
                unreachable: &[
                    "/shared/keys/other-stream.key",
                    "/shared/keys/",
                    "/shared/videos/b/seg-00000.ts",
                ],
                extra: nothing,
            },
        },
        Scenario {
            name: "hostile playlist from a user folder",
            rule: "§5.4: URI characters never act as wildcards; unsafe paths stay unsigned",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let path = "/u/mallory/v1/index._m3u8";
                req(path, ctx.canned(&keys().a, path, ctx.now + 600))
            }),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 600),
                unreachable: &[
                    "/u/alice/other-movie/seg.ts",
                    "/u/bob/x/seg.ts",
                    "/u/mallory/v1/segX.ts",
                    "/u/mallory/v1/a.tsXx=1",
                    "/u/mallory/k.key",
                    "/u/mallory/v1/k.key",
                    "/etc/passwd.ts",
                ],
                extra: |ctx, r, answer| {
                    let body = &answer.body;
                    for untouched in [
                        "\n../../*/seg.ts\n",
                        "\nseg*.ts\n",
                        "\na.ts?x=?\n",
                        "\n../../../../../../etc/passwd.ts\n",
                        "URI=\"%2e%2e/k.key\"",
                        "URI=\"..;/k.key\"",
                    ] {
                        assert!(body.contains(untouched), "{untouched} was signed:\n{body}");
                    }
                    if let Some(log) = &answer.log {
                        assert_eq!(log.unsigned, 6, "{log:?}");
                        assert!(log.unsigned_reason.is_some());
                    }
                    // Without confinement, what the playlist lists exactly is
                    // still granted exactly.
                    let grants = issued_grants(body, &ctx.url(&r.path));
                    assert!(grants.iter().any(|(u, _)| u.starts_with("../../alice/")));
                },
            },
        },
        Scenario {
            name: "hostile playlist under confinement",
            rule: "§5.4: nothing outside the request's first two segments is signed",
            cfg: Cfg::Confine2,
            entries: ALL,
            request: Build::With(|ctx| {
                let path = "/u/mallory/v1/index._m3u8";
                req(path, ctx.canned(&keys().a, path, ctx.now + 600))
            }),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 600),
                unreachable: &[
                    "/u/alice/private-movie/seg-00000.ts",
                    "/u/alice/x.ts",
                    "/u/bob/x.ts",
                ],
                extra: |ctx, r, answer| {
                    let grants = issued_grants(&answer.body, &ctx.url(&r.path));
                    let prefix = ctx.url("/u/mallory/");
                    assert!(grants.iter().all(|(_, g)| g.resource.starts_with(&prefix)));
                    assert!(grants.iter().any(|(u, _)| u.starts_with("../v2/")));
                },
            },
        },
        Scenario {
            name: "segments share a pattern of their own shape only",
            rule: "§5.4: seg-?????.ts, not the directory",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                req(
                    MEDIA,
                    ctx.custom(
                        &keys().a,
                        MEDIA,
                        &Policy::custom(&ctx.tree("/v/"), ctx.now + 600),
                    ),
                )
            }),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 600),
                unreachable: &[
                    "/v/hd/seg-0000.ts",
                    "/v/hd/seg-00000.mp4",
                    "/v/hd/other.ts",
                    "/v/hd/seg-00000.ts.key",
                    "/v/keys/other.key",
                ],
                extra: |ctx, r, answer| {
                    let grants = issued_grants(&answer.body, &ctx.url(&r.path));
                    let pattern = ctx.url("/v/hd/seg-?????.ts");
                    let segments = grants.iter().filter(|(u, _)| u.starts_with("seg-")).count();
                    assert_eq!(segments, 3);
                    assert!(grants
                        .iter()
                        .filter(|(u, _)| u.starts_with("seg-"))
                        .all(|(_, g)| g.resource == pattern));
                },
            },
        },
        Scenario {
            name: "directory scope only when opted in",
            rule: "§5.4: dir/* as an explicit configuration",
            cfg: Cfg::Directory,
            entries: EVENTS,
            request: Build::With(|ctx| {
                req(
                    MEDIA,
                    ctx.custom(
                        &keys().a,
                        MEDIA,
                        &Policy::custom(&ctx.tree("/v/"), ctx.now + 600),
                    ),
                )
            }),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 600),
                unreachable: &["/v/other/seg.ts", "/w/hd/seg-00000.ts"],
                extra: |ctx, r, answer| {
                    let grants = issued_grants(&answer.body, &ctx.url(&r.path));
                    let dir = ctx.url("/v/hd/*");
                    assert!(grants.iter().any(|(_, g)| g.resource == dir));
                },
            },
        },
        Scenario {
            name: "short viewer grant caps every issued grant",
            rule: "§5.2: issued expiry ≤ the viewer's",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| req(MASTER, ctx.canned(&keys().a, MASTER, ctx.now + 45))),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 45),
                unreachable: &[],
                extra: nothing,
            },
        },
        Scenario {
            name: "digit-first segment names get exact grants",
            rule: "§5.4: a `?` run with no literal prefix would reach every short name in the directory",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let path = "/live/ch1/index._m3u8";
                req(path, ctx.canned(&keys().a, path, ctx.now + 600))
            }),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 600),
                unreachable: &["/live/ch1/full.mp4?x.ts", "/live/ch1/k/aes.key?.ts", "/live/ch1/abc._m3u8?.ts"],
                extra: |_, _, answer| {
                    // A child spelled `.M3U8` is granted as the plain file it
                    // names (only `.m3u8` round-trips through the function).
                    assert!(answer.body.contains("\nAlt.M3U8?"), "{}", answer.body);
                },
            },
        },
        Scenario {
            name: "a segment-pattern grant replayed on an unlisted playlist",
            rule: "a `?` pattern never opens a playlist (it is read literally there)",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let resource = ctx.url("/live/ch1/??????????.ts");
                let policy = Policy::custom(&resource, ctx.now + 600);
                let path = "/live/ch1/abc._m3u8";
                req(path, ctx.custom(&keys().a, &format!("{path}?.ts"), &policy))
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "a path going on past a playlist",
            rule: "a child grant's trailing `*` never opens another playlist (400)",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let path = "/v/hd/index._m3u8/x._m3u8";
                req(path, ctx.canned(&keys().a, path, ctx.now + 600))
            }),
            expect: Expect::Refused(400),
        },
        Scenario {
            name: "propagate mode under client pinning",
            rule: "§5.3: the viewer's unpinned grant is not handed on when pinning is configured",
            cfg: Cfg::PropagatePinned,
            entries: EVENTS,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&ctx.tree("/v/"), ctx.now + 600);
                req(MEDIA, ctx.custom(&keys().a, MEDIA, &policy))
            }),
            expect: Expect::Served {
                viewer: |ctx| Held {
                    expires: ctx.now + 600,
                    not_before: None,
                    ip: Some("203.0.113.9/32"),
                },
                unreachable: &[],
                extra: |_, _, answer| {
                    let log = answer.log.as_ref().unwrap();
                    assert_eq!(log.propagated, 0, "{log:?}");
                    assert!(log.ip_pinned);
                },
            },
        },
        Scenario {
            name: "LL-HLS reload query on a child playlist",
            rule: "the viewer's own query is kept; the grant still verifies",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                let policy = Policy::custom(&format!("{}*", ctx.url(MEDIA)), ctx.now + 600);
                req(
                    MEDIA,
                    format!(
                        "_HLS_msn=3&_HLS_part=1&{}",
                        ctx.custom(&keys().a, MEDIA, &policy)
                    ),
                )
            }),
            expect: Expect::Served {
                viewer: |ctx| held(ctx.now + 600),
                unreachable: &[],
                extra: nothing,
            },
        },
        // ---------------------------------------------------------- DASH
        Scenario {
            name: "valid canned URL grant on an MPD",
            rule: "§5 applies to DASH unchanged: issued grants within the viewer's",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| req(MPD, ctx.canned(&keys().a, MPD, ctx.now + 7200))),
            expect: Expect::Served {
                viewer: long,
                unreachable: &[
                    "/v/keys/k.key",
                    "/v/hd/index.m3u8",
                    "/v/chunk/secret.key",
                    "/other/chunk-1.m4s",
                    "/v/sd/private.mp4",
                ],
                extra: |_, _, answer| {
                    // Templates that would need a directory grant, or that
                    // climb out of the tree, stay unsigned.
                    assert!(answer.body.contains(r#"media="$RepresentationID$/$Number$.m4s""#));
                    assert!(answer.body.contains(r#"media="../../x-$Number$.m4s""#));
                    assert!(answer.body.contains(r#"media="chunk-$Number$.m4s?Policy="#));
                },
            },
        },
        Scenario {
            name: "a segment-template grant opens no MPD",
            rule: "a `*` that reaches into the query never opens a manifest",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::With(|ctx| {
                // The grant the function issues for `chunk-$Number$.m4s`,
                // used on a manifest URL its `*` reaches through the query.
                let policy = Policy::custom(&ctx.url("/v/chunk-*.m4s"), ctx.now + 600);
                let path_and_query = "/v/chunk-x._mpd?a=.m4s";
                let grant = ctx.custom(&keys().a, path_and_query, &policy);
                req("/v/chunk-x._mpd", grant)
            }),
            expect: Expect::Refused(403),
        },
        Scenario {
            name: "an MPD path continuing past a routing suffix",
            rule: "a path never goes on past `._mpd/` (a `*` grant would open another manifest)",
            cfg: Cfg::Default,
            entries: ALL,
            request: Build::SignedPath("/v/stream._mpd/x._m3u8"),
            expect: Expect::Refused(400),
        },
        Scenario {
            name: "an MPD grant under IP pinning",
            rule: "§5.3: every issued grant carries the viewer's address",
            cfg: Cfg::PinClient,
            entries: EVENTS,
            request: Build::With(|ctx| req(MPD, ctx.canned(&keys().a, MPD, ctx.now + 600))),
            expect: Expect::Served {
                viewer: |ctx| Held {
                    expires: ctx.now + 600,
                    not_before: None,
                    ip: Some("203.0.113.9/32"),
                },
                unreachable: &["/v/keys/k.key"],
                extra: nothing,
            },
        },
    ]
}

/// Every grant issued in an MPD fetched from `base`, read the way a player
/// reads it (templates expanded), with the value it sits on.
fn issued_mpd_grants(mpd: &str, base: &str) -> Vec<(String, Issued)> {
    let reading = common::dash_reading::read(mpd, base).unwrap();
    reading
        .requests
        .iter()
        .filter_map(|r| Some((reading.values[r.value].text.clone(), issued(&r.url)?)))
        .collect()
}

fn traversal(name: &'static str, path: &'static str) -> Scenario {
    Scenario {
        name,
        rule: "§5.7: dot segments in any spelling are refused before any fetch (400)",
        cfg: Cfg::Default,
        entries: ALL,
        request: Build::SignedPath(path),
        expect: Expect::Refused(400),
    }
}

// ------------------------------------------------------------------ runner

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn ctx_for(entry: Entry, cfg: Cfg) -> Ctx {
    let now = now();
    match entry {
        Entry::Emulator => Ctx {
            host: emulator(cfg).host().to_owned(),
            ip: "127.0.0.1".parse().unwrap(),
            now,
        },
        _ => Ctx {
            host: DIST.to_owned(),
            ip: EVENT_IP.parse().unwrap(),
            now,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_on_every_entry_point() {
    let _stop = StopEmulators;
    // The emulator runs the template's CloudFront Function in node.
    let with_emulator = common::stack::have("node", &["--version"]);
    let scenarios = scenarios();
    let mut runs = 0;
    let mut failures = Vec::new();
    for s in &scenarios {
        for &entry in s.entries {
            if entry == Entry::Emulator && !with_emulator {
                continue;
            }
            let ctx = ctx_for(entry, s.cfg);
            let r = s.request.request(&ctx);
            let answer = send(entry, s.cfg, &ctx, &r).await;
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &s.expect {
                    Expect::Refused(status) => {
                        assert_eq!(answer.status, *status, "{}", answer.body);
                        assert!(
                            !answer.body.contains("Signature="),
                            "a refusal carried signatures"
                        );
                        if let Some(log) = &answer.log {
                            assert_eq!(log.signatures, 0);
                        }
                    }
                    Expect::Served {
                        viewer,
                        unreachable,
                        extra,
                    } => {
                        assert_eq!(answer.status, 200, "{}", answer.body);
                        check_issued(s.cfg, &ctx, &r, &answer, &viewer(&ctx), unreachable);
                        extra(&ctx, &r, &answer);
                    }
                }));
            runs += 1;
            if let Err(panic) = outcome {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{} [{entry:?}] ({}): {message}", s.name, s.rule));
            }
        }
    }
    println!(
        "security suite: {} scenarios, {runs} runs across the entry points",
        scenarios.len()
    );
    assert!(scenarios.len() >= 60, "only {} scenarios", scenarios.len());
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
