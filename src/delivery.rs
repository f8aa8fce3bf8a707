//! How the URIs of a manifest reach their grants.
//!
//! - [`Delivery::Rewrite`] (the default): every URI gets its own signed
//!   query, as the signing mode says.
//! - [`Delivery::Cookies`]: the response sets CloudFront signed cookies for
//!   the manifest's tree (its directory); URIs inside the tree stay as they
//!   are, child playlists there go straight to the origin, and only URIs
//!   outside the tree are rewritten.
//! - [`Delivery::Query`]: the viewer's own signed query travels to every
//!   URI by the player's standard mechanism — HLS `EXT-X-DEFINE:QUERYPARAM`
//!   (protocol version 11) with `{$Policy}` and `{$Signature}` placeholders
//!   (the key pair id, shared by every viewer of a key, written as it is),
//!   DASH `UrlQueryInfo` (`urn:mpeg:dash:urlparam:2014`). No signature is
//!   made and the manifest is the same bytes for every viewer of a key.
//!
//! Security: a delivery never widens the viewer's grant. `Query` issues
//! nothing. `Cookies` issues a policy over the tree, under the request's
//! limits (expiry, not-before, IP range); when a viewer asks for it (the
//! [`PARAMETER`]), only if the viewer's own grant already covers the whole
//! tree — an operator who configures `cookies` for the distribution opts
//! into tree-wide cookies, as `directory` mode opts into directory grants.
//! A viewer whose grant is a cookie over the tree is served as it is: its
//! cookies already travel, and a second set would clash with them.
//!
//! Pure: no I/O, no clock.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::hls::rewrite::Carry;
use crate::manifest::ManifestFormat;
use crate::signer::HashAlgorithm;
use crate::uri::{self, AbsoluteUrl};
use crate::verify::{GrantSource, VerifiedGrant};

/// The query parameter by which the application chooses a delivery for one
/// viewer when it signs the master URL (`…/index._m3u8?hls-delivery=query`).
/// It never reaches the origin.
pub const PARAMETER: &str = "hls-delivery";

/// How a manifest's URIs reach their grants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Every URI signed in the manifest.
    #[default]
    Rewrite,
    /// Signed cookies for the manifest's tree.
    Cookies,
    /// The viewer's query, carried by the player (`define` in HLS,
    /// `urlquery` in DASH).
    Query,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rewrite => "rewrite",
            Self::Cookies => "cookies",
            Self::Query => "query",
        }
    }

    /// The name the log uses for a format: `query` is `define` in HLS and
    /// `urlquery` in DASH.
    pub fn name_for(self, format: ManifestFormat) -> &'static str {
        match (self, format) {
            (Self::Query, ManifestFormat::Hls) => "define",
            (Self::Query, ManifestFormat::Dash) => "urlquery",
            _ => self.as_str(),
        }
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Delivery {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "rewrite" => Ok(Self::Rewrite),
            "cookies" => Ok(Self::Cookies),
            "query" | "define" | "urlquery" => Ok(Self::Query),
            other => Err(format!(
                "unknown delivery `{}` (rewrite, cookies, query; define and urlquery name query)",
                other.chars().take(32).collect::<String>()
            )),
        }
    }
}

/// Whether a query pair is the delivery choice ([`PARAMETER`]).
pub fn is_choice(pair: &str) -> bool {
    pair.split_once('=').map_or(pair, |(name, _)| name) == PARAMETER
}

/// The delivery a URL's query asks for, with its pair as written; an
/// unknown value, or two different ones, is an error (a clear refusal, not
/// a silent default).
///
/// ```
/// use hls_edge_signer::delivery::{requested, Delivery};
/// assert_eq!(requested("a=1&hls-delivery=define"), Ok(Some((Delivery::Query, "hls-delivery=define"))));
/// assert_eq!(requested("a=1"), Ok(None));
/// assert!(requested("hls-delivery=all").is_err());
/// ```
pub fn requested(query: &str) -> Result<Option<(Delivery, &str)>, String> {
    let mut found = None;
    for pair in query.split('&').filter(|pair| is_choice(pair)) {
        let value = pair.split_once('=').map_or("", |(_, value)| value);
        let delivery: Delivery = value.parse()?;
        if found.is_some_and(|(seen, _)| seen != delivery) {
            return Err(format!("{PARAMETER} given twice"));
        }
        found = Some((delivery, pair));
    }
    Ok(found)
}

/// Why the delivery asked for was not used (the manifest is rewritten).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Cookies for the tree would cover more than the viewer's grant.
    CookiesWouldWiden,
    /// The viewer's grant is canned (one exact URL): it cannot travel.
    CannedGrant,
    /// The viewer's grant does not cover the manifest's tree.
    GrantDoesNotCoverTree,
    /// Some URI the viewer's grant does not cover: signed, it would hold
    /// this viewer's signature in a manifest meant to be the same for every
    /// viewer (and in DASH the player would add the query to it too).
    NotAllCovered,
    /// Configured pinning differs from the viewer's own IP condition.
    PinningDiffers,
    /// The manifest names a URL on another host: the player would send the
    /// viewer's query (its grant) there.
    ForeignHost,
    /// The tree's path has characters a cookie `Path` cannot carry safely.
    UnsafeCookiePath,
    /// A child playlist would reach the player without the function (not
    /// renamed, another host): it could import the declared variables.
    ChildPlaylistDirect,
    /// Content steering: a pathway clone moves URLs, query and all, to
    /// another host.
    ContentSteering,
    /// Remote elements (`xlink:href`): their contents are not checked.
    RemoteElements,
    /// Configured cookies for a manifest at the distribution's root would
    /// open the whole distribution.
    TreeIsRoot,
}

impl Fallback {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CookiesWouldWiden => "cookies_would_widen",
            Self::CannedGrant => "canned_grant",
            Self::GrantDoesNotCoverTree => "grant_does_not_cover_tree",
            Self::NotAllCovered => "not_all_covered",
            Self::PinningDiffers => "pinning_differs",
            Self::ForeignHost => "foreign_host",
            Self::UnsafeCookiePath => "unsafe_cookie_path",
            Self::ChildPlaylistDirect => "child_playlist_direct",
            Self::ContentSteering => "content_steering",
            Self::RemoteElements => "remote_elements",
            Self::TreeIsRoot => "tree_is_root",
        }
    }
}

/// What the handler does for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Rewrite every URI; `fallback` says why another delivery was not used.
    Rewrite { fallback: Option<Fallback> },
    /// The viewer's own cookies cover the tree: URIs they cover stay.
    ViewerCookies,
    /// Set cookies for the manifest's tree (`https://host/dir/`, the policy
    /// covering it with a final `*`) and leave what they cover.
    IssueCookies { tree: String },
    /// The viewer's query travels (placeholders / `UrlQueryInfo`).
    Query,
}

/// The manifest's tree: its URL up to and including the last `/` of the
/// path (`https://host/a/b/` for `https://host/a/b/index._m3u8?x`).
pub fn tree(url: &str) -> &str {
    let path_end = url.find(['?', '#']).unwrap_or(url.len());
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[..path_end].rfind('/') {
        Some(slash) if slash >= after_scheme => &url[..=slash],
        _ => &url[..path_end],
    }
}

/// Whether `resource` (a CloudFront pattern) matches every URL that starts
/// with `tree`: it is a literal prefix of `tree` followed by one final `*`.
///
/// ```
/// use hls_edge_signer::delivery::covers_tree;
/// assert!(covers_tree("https://d.net/v/*", "https://d.net/v/hd/"));
/// assert!(!covers_tree("https://d.net/v/index._m3u8*", "https://d.net/v/"));
/// assert!(!covers_tree("https://d.net/?/*", "https://d.net/v/"));
/// ```
pub fn covers_tree(resource: &str, tree: &str) -> bool {
    resource
        .strip_suffix('*')
        .is_some_and(|prefix| !prefix.contains(['*', '?']) && tree.starts_with(prefix))
}

/// Chooses the delivery for a request: `requested` (the [`PARAMETER`], when
/// the viewer's URL carries it) or the configured one, narrowed to what
/// the viewer's grant allows. `tree` is from [`tree`].
pub fn choose(
    configured: Delivery,
    requested: Option<Delivery>,
    grant: &VerifiedGrant,
    tree: &str,
) -> Plan {
    let wanted = requested.unwrap_or(configured);
    let covers = covers_tree(grant.policy().resource(), tree);
    let from_cookies = grant.source() == GrantSource::Cookies;
    let rewrite = |fallback| Plan::Rewrite {
        fallback: Some(fallback),
    };
    match wanted {
        Delivery::Rewrite => Plan::Rewrite { fallback: None },
        Delivery::Cookies | Delivery::Query if from_cookies => {
            if covers {
                Plan::ViewerCookies
            } else {
                rewrite(Fallback::GrantDoesNotCoverTree)
            }
        }
        Delivery::Cookies if !is_cookie_path(tree) => rewrite(Fallback::UnsafeCookiePath),
        Delivery::Cookies => {
            // Asked for by the viewer: only within its own grant. Configured
            // by the operator: the tree, as documented.
            let opted_in = configured == Delivery::Cookies && requested.is_none();
            if opted_in && !covers && is_root(tree) {
                return rewrite(Fallback::TreeIsRoot);
            }
            if covers || opted_in {
                Plan::IssueCookies {
                    tree: tree.to_owned(),
                }
            } else {
                rewrite(Fallback::CookiesWouldWiden)
            }
        }
        Delivery::Query if grant.canned() => rewrite(Fallback::CannedGrant),
        Delivery::Query if !covers => rewrite(Fallback::GrantDoesNotCoverTree),
        Delivery::Query => Plan::Query,
    }
}

/// The path of a tree (`/v/hd/` for `https://host/v/hd/`).
pub fn tree_path(tree: &str) -> Option<String> {
    AbsoluteUrl::parse(tree)
        .ok()
        .map(|url| url.path().to_owned())
}

/// Whether the tree is the distribution's root (`https://host/`).
fn is_root(tree: &str) -> bool {
    tree_path(tree).as_deref() == Some("/")
}

/// The signing parameters, as players' variable names (case-sensitive).
const SIGNING_NAMES: [&str; 5] = [
    "Policy",
    "Signature",
    "Expires",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

/// Why a manifest from the origin must not be served at all, in any
/// delivery: it tells the player to copy the query of a URL it fetched —
/// which holds the viewer's grant — into URLs its author chose. In HLS, a
/// variable named like a signing parameter (`{$Signature}`, or an
/// `EXT-X-DEFINE` of that name: `QUERYPARAM` reads the viewer's own URL);
/// in DASH, URL query instructions of its own (`urn:mpeg:dash:urlparam:`,
/// which can send the MPD's query to segments, or to a steering server).
pub fn refusal(format: ManifestFormat, manifest: &str) -> Option<&'static str> {
    match format {
        ManifestFormat::Hls => {
            // Runs on every playlist: one scan for each marker, no allocation.
            let signing_name = |text: &str, end: char| {
                SIGNING_NAMES.iter().any(|name| {
                    text.strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with(end))
                })
            };
            let referenced = manifest
                .match_indices("{$")
                .any(|(at, _)| signing_name(&manifest[at + 2..], '}'));
            let defined = manifest.contains("#EXT-X-DEFINE:")
                && manifest.lines().any(|line| {
                    line.trim_start().starts_with("#EXT-X-DEFINE:")
                        && ["NAME=\"", "QUERYPARAM=\"", "IMPORT=\""].iter().any(|key| {
                            line.match_indices(key)
                                .any(|(at, _)| signing_name(&line[at + key.len()..], '"'))
                        })
                });
            (referenced || defined).then_some("uses a signing parameter's name as a variable")
        }
        ManifestFormat::Dash => manifest
            .contains("urn:mpeg:dash:urlparam:")
            .then_some("carries URL query instructions of its own"),
    }
}

/// Whether an HLS playlist uses content steering.
pub fn steers(manifest: &str) -> bool {
    manifest.contains("#EXT-X-CONTENT-STEERING")
}

/// Whether the tree's URL can become a cookie `Path` as it is: nothing
/// that ends or splits the attribute (`;`, `,`, spaces, quotes, controls).
fn is_cookie_path(tree: &str) -> bool {
    tree.bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'"' | b'\\'))
}

/// What keeps an MPD from the `urlquery` delivery, if anything: a player
/// copies the MPD's query (the viewer's grant) to the URLs it requests, so
/// every URL must resolve to the MPD's own host. A reference changes host
/// only by being absolute or `//host…`, so resolving each value against
/// the document's URL is enough. Remote elements (`xlink:href`) are merged
/// by the player unchecked, and content steering clones pathways onto
/// other hosts: both keep the MPD from it too.
pub fn url_query_obstacle(mpd: &str, mpd_url: &str) -> Option<Fallback> {
    let (Ok(base), Ok(found)) = (AbsoluteUrl::parse(mpd_url), crate::dash::scan::scan(mpd)) else {
        return Some(Fallback::NotAllCovered);
    };
    if mpd.contains("ContentSteering") {
        return Some(Fallback::ContentSteering);
    }
    if found
        .slots
        .iter()
        .any(|slot| slot.kind == crate::dash::scan::SlotKind::XlinkHref)
    {
        return Some(Fallback::RemoteElements);
    }
    let on_host = found.slots.iter().all(|slot| {
        slot.value.trim().is_empty()
            || crate::uri::scheme_of(&slot.value)
                .is_some_and(|scheme| scheme != "http" && scheme != "https")
            || uri::resolve(&base, slot.value.trim()).is_ok_and(|t| t.same_origin(&base))
    });
    (!on_host).then_some(Fallback::ForeignHost)
}

/// The signing parameters of a viewer's URL grant that differ per viewer
/// and travel as variables (`Policy` or `Expires`, and `Signature`).
pub fn grant_variables(grant: &VerifiedGrant) -> Vec<&'static str> {
    vec![
        if grant.canned() { "Expires" } else { "Policy" },
        "Signature",
    ]
}

/// The signing parameters every viewer of one key shares, written as they
/// are: `Key-Pair-Id` (not secret) and `Hash-Algorithm` when the grant used
/// SHA-256. Writing them literally keeps the variables to names without
/// `-`, which players that restrict variable names (Shaka) substitute too.
pub fn grant_constants(grant: &VerifiedGrant) -> String {
    let mut out = format!("Key-Pair-Id={}", grant.key_pair_id());
    if grant.hash() == HashAlgorithm::Sha256 {
        out.push_str("&Hash-Algorithm=SHA256");
    }
    out
}

/// `Policy={$Policy}&Signature={$Signature}` then `constants`: the query
/// each URI gets in HLS `query` delivery; the player substitutes the values
/// of its own URL. `extra` pairs (the [`PARAMETER`] a viewer chose) follow.
pub fn placeholders(names: &[&str], constants: &str, extra: Option<&str>) -> Arc<str> {
    let mut out = names
        .iter()
        .map(|name| format!("{name}={{${name}}}"))
        .collect::<Vec<_>>()
        .join("&");
    for literal in [Some(constants), extra].into_iter().flatten() {
        if !literal.is_empty() {
            out.push('&');
            out.push_str(literal);
        }
    }
    Arc::from(out)
}

/// The carry for `query` delivery: the viewer's policy, and what each URI
/// it covers gets (placeholders in HLS, nothing in DASH).
pub fn query_carry(grant: &VerifiedGrant, params: Arc<str>) -> Carry {
    Carry {
        resource: grant.policy().resource().to_owned(),
        ip_range: grant.policy().ip_range(),
        params,
        rename: true,
    }
}

/// The carry for cookie deliveries: what the cookies cover stays as it is.
pub fn cookie_carry(resource: &str, ip_range: Option<crate::policy::Ipv4Cidr>) -> Carry {
    Carry {
        resource: resource.to_owned(),
        ip_range,
        params: Arc::from(""),
        rename: false,
    }
}

/// Why an HLS playlist cannot declare the variables.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeclareError {
    #[error("the playlist does not start with #EXTM3U")]
    NotAPlaylist,
    #[error("the playlist already defines the variable `{0}`")]
    Taken(String),
}

/// The HLS protocol version that introduced `EXT-X-DEFINE:QUERYPARAM`.
pub const QUERYPARAM_VERSION: u32 = 11;

/// Declares `names` as `#EXT-X-DEFINE:QUERYPARAM="…"` right after
/// `#EXTM3U` and raises `#EXT-X-VERSION` to 11 (adding it when missing);
/// every other byte stays. Line endings follow the playlist's first line.
///
/// ```
/// use hls_edge_signer::delivery::declare_query_params;
/// let out = declare_query_params("#EXTM3U\n#EXT-X-VERSION:3\nseg.ts\n", &["Policy"]).unwrap();
/// assert_eq!(
///     out,
///     "#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"Policy\"\n#EXT-X-VERSION:11\nseg.ts\n"
/// );
/// ```
pub fn declare_query_params(playlist: &str, names: &[&str]) -> Result<String, DeclareError> {
    let bom = if playlist.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    if !playlist[bom..].starts_with("#EXTM3U") {
        return Err(DeclareError::NotAPlaylist);
    }
    let first_end = playlist.find('\n').map_or(playlist.len(), |i| i + 1);
    let newline = if playlist[..first_end].ends_with("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    // Every line start, to find existing tags.
    let mut version_at: Option<(usize, usize)> = None;
    let mut start = 0;
    while start < playlist.len() {
        let end = playlist[start..]
            .find('\n')
            .map_or(playlist.len(), |i| start + i);
        let line = playlist[start..end].trim_end_matches('\r');
        if line.starts_with("#EXT-X-VERSION:") {
            version_at.get_or_insert((start + "#EXT-X-VERSION:".len(), start + line.len()));
        } else if let Some(attributes) = line.strip_prefix("#EXT-X-DEFINE:") {
            for name in names {
                for key in ["NAME", "QUERYPARAM", "IMPORT"] {
                    if attributes.contains(&format!("{key}=\"{name}\"")) {
                        return Err(DeclareError::Taken((*name).to_owned()));
                    }
                }
            }
        }
        start = end + 1;
    }
    let mut out = String::with_capacity(playlist.len() + 48 * (names.len() + 1));
    let mut header_end = first_end;
    if first_end == playlist.len() && !playlist.ends_with('\n') {
        // `#EXTM3U` alone without a newline.
        out.push_str(playlist);
        out.push_str(newline);
        header_end = out.len();
    } else {
        out.push_str(&playlist[..first_end]);
    }
    for name in names {
        out.push_str("#EXT-X-DEFINE:QUERYPARAM=\"");
        out.push_str(name);
        out.push('"');
        out.push_str(newline);
    }
    let rest = &playlist[header_end.min(playlist.len())..];
    match version_at {
        Some((value_start, value_end)) => {
            let (value_start, value_end) = (value_start - header_end, value_end - header_end);
            let current: u32 = rest[value_start..value_end].trim().parse().unwrap_or(0);
            if current < QUERYPARAM_VERSION {
                out.push_str(&rest[..value_start]);
                out.push_str(&QUERYPARAM_VERSION.to_string());
                out.push_str(&rest[value_end..]);
            } else {
                out.push_str(rest);
            }
        }
        None => {
            out.push_str("#EXT-X-VERSION:");
            out.push_str(&QUERYPARAM_VERSION.to_string());
            out.push_str(newline);
            out.push_str(rest);
        }
    }
    Ok(out)
}

/// The DASH scheme of `UrlQueryInfo` (ISO/IEC 23009-1 Annex I).
pub const URLPARAM_SCHEME: &str = "urn:mpeg:dash:urlparam:2014";

/// Adds to every `AdaptationSet` an essential property telling the player to
/// copy the MPD URL's query to each segment request (dash.js ≥ 5, Shaka
/// ≥ 4.11 read it there); every other byte stays. A player that does not
/// know the scheme skips the AdaptationSet rather than request segments
/// without their grant. `None` when the document has no AdaptationSet to
/// carry it, or does not read as XML.
pub fn add_url_query_info(mpd: &str) -> Option<String> {
    let mut reader = Reader::from_str(mpd);
    let mut inserts: Vec<(usize, String)> = Vec::new();
    loop {
        match reader.read_event().ok()? {
            Event::Eof => break,
            Event::Start(element) => {
                let name = element.name();
                let raw: &str = name.as_ref();
                let (prefix, local) = match raw.rsplit_once(':') {
                    Some((p, l)) => (format!("{p}:"), l),
                    None => (String::new(), raw),
                };
                if local == "AdaptationSet" {
                    let at = usize::try_from(reader.buffer_position()).ok()?;
                    inserts.push((
                        at,
                        format!(
                            "<{prefix}EssentialProperty schemeIdUri=\"{URLPARAM_SCHEME}\" \
                             xmlns:up=\"urn:mpeg:dash:schema:urlparam:2014\">\
                             <up:UrlQueryInfo queryTemplate=\"$querypart$\" \
                             useMPDUrlQuery=\"true\"/></{prefix}EssentialProperty>"
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    if inserts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(mpd.len() + inserts.len() * 220);
    let mut copied = 0;
    for (at, text) in inserts {
        out.push_str(mpd.get(copied..at)?);
        out.push_str(&text);
        copied = at;
    }
    out.push_str(&mpd[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees() {
        assert_eq!(
            tree("https://d.net/a/b/index._m3u8?x=1"),
            "https://d.net/a/b/"
        );
        assert_eq!(tree("https://d.net/index._m3u8"), "https://d.net/");
        assert_eq!(tree("https://d.net/a/?q=/x"), "https://d.net/a/");
    }

    #[test]
    fn tree_coverage_needs_a_literal_prefix_and_one_final_star() {
        let tree = "https://d.net/v/hd/";
        for (resource, covers) in [
            ("https://d.net/v/*", true),
            ("https://d.net/v/hd/*", true),
            ("https://d.net/*", true),
            ("https://d.net/v/hd/index._m3u8", false),
            ("https://d.net/v/hd/seg-*.ts", false),
            ("https://d.net/v/h?/*", false),
            ("https://d.net/*/hd/*", false),
            ("https://d.net/v/hd/sub/*", false),
        ] {
            assert_eq!(covers_tree(resource, tree), covers, "{resource}");
        }
    }

    #[test]
    fn what_keeps_an_mpd_from_url_query() {
        let url = "https://d.net/v/stream._mpd?x=1";
        let on = "<MPD><BaseURL>a/</BaseURL><Period><AdaptationSet>\
                  <SegmentTemplate media=\"https://d.net/v/s-$Number$.m4s\"/>\
                  </AdaptationSet></Period></MPD>";
        assert_eq!(url_query_obstacle(on, url), None);
        for (mpd, why) in [
            (
                "<MPD><BaseURL>https://cdn.example/</BaseURL></MPD>",
                Fallback::ForeignHost,
            ),
            (
                "<MPD><BaseURL>a/</BaseURL><BaseURL>//cdn.example/a/</BaseURL></MPD>",
                Fallback::ForeignHost,
            ),
            (
                "<MPD><Period><SegmentList><SegmentURL media=\"http://d.net/v/a.m4s\"/>\
                 </SegmentList></Period></MPD>",
                Fallback::ForeignHost,
            ),
            (
                "<MPD><Period xlink:href=\"https://d.net/v/p.xml\"/></MPD>",
                Fallback::RemoteElements,
            ),
            (
                "<MPD><ContentSteering>https://d.net/steer</ContentSteering></MPD>",
                Fallback::ContentSteering,
            ),
            ("<MPD><BaseURL>", Fallback::NotAllCovered),
        ] {
            assert_eq!(url_query_obstacle(mpd, url), Some(why), "{mpd}");
        }
    }

    #[test]
    fn manifests_that_would_copy_the_viewers_query_are_refused() {
        use ManifestFormat::{Dash, Hls};
        for hostile in [
            "#EXTM3U\nhttps://evil/x?s={$Signature}\n",
            "#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"Policy\"\n",
            "#EXTM3U\n#EXT-X-DEFINE:IMPORT=\"Key-Pair-Id\"\n",
            "#EXTM3U\n  #EXT-X-DEFINE:NAME=\"Expires\",VALUE=\"1\"\n",
        ] {
            assert!(refusal(Hls, hostile).is_some(), "{hostile}");
        }
        assert_eq!(
            refusal(
                Hls,
                "#EXTM3U\n#EXT-X-DEFINE:NAME=\"a\",VALUE=\"b\"\n{$a}.ts\n"
            ),
            None
        );
        let own = "<MPD><SupplementalProperty schemeIdUri=\"urn:mpeg:dash:urlparam:2016\"/></MPD>";
        assert!(refusal(Dash, own).is_some());
        assert_eq!(refusal(Dash, "<MPD/>"), None);
    }

    #[test]
    fn configured_cookies_never_open_the_root() {
        assert!(is_root("https://d.net/"));
        assert!(!is_root("https://d.net/v/"));
    }

    #[test]
    fn cookies_are_not_issued_for_a_path_that_would_split_the_attribute() {
        assert!(is_cookie_path("https://d.net/v/hd/"));
        for bad in [
            "https://d.net/a;Domain=evil/",
            "https://d.net/a b/",
            "https://d.net/a,b/",
        ] {
            assert!(!is_cookie_path(bad), "{bad}");
        }
    }

    #[test]
    fn delivery_names() {
        for (text, delivery) in [
            ("rewrite", Delivery::Rewrite),
            ("cookies", Delivery::Cookies),
            ("query", Delivery::Query),
            ("define", Delivery::Query),
            ("urlquery", Delivery::Query),
        ] {
            assert_eq!(text.parse::<Delivery>(), Ok(delivery));
        }
        assert!("COOKIES".parse::<Delivery>().is_err());
        assert_eq!(Delivery::Query.name_for(ManifestFormat::Hls), "define");
        assert_eq!(Delivery::Query.name_for(ManifestFormat::Dash), "urlquery");
    }

    #[test]
    fn placeholders_name_each_parameter() {
        assert_eq!(
            &*placeholders(&["Policy", "Signature"], "Key-Pair-Id=K1", None),
            "Policy={$Policy}&Signature={$Signature}&Key-Pair-Id=K1"
        );
        assert_eq!(
            &*placeholders(&["Policy"], "", Some("hls-delivery=query")),
            "Policy={$Policy}&hls-delivery=query"
        );
    }

    #[test]
    fn declaring_raises_the_version_and_keeps_every_other_byte() {
        let names = ["Policy", "Signature"];
        let out = declare_query_params("#EXTM3U\r\n#EXT-X-VERSION:12\r\na.ts\r\n", &names);
        assert_eq!(
            out.unwrap(),
            "#EXTM3U\r\n#EXT-X-DEFINE:QUERYPARAM=\"Policy\"\r\n\
             #EXT-X-DEFINE:QUERYPARAM=\"Signature\"\r\n#EXT-X-VERSION:12\r\na.ts\r\n"
        );
        let out = declare_query_params("\u{feff}#EXTM3U\n#EXTINF:4,\na.ts", &names).unwrap();
        assert_eq!(
            out,
            "\u{feff}#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"Policy\"\n\
             #EXT-X-DEFINE:QUERYPARAM=\"Signature\"\n#EXT-X-VERSION:11\n#EXTINF:4,\na.ts"
        );
        assert_eq!(
            declare_query_params("#EXTM3U", &["Policy"]).unwrap(),
            "#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"Policy\"\n#EXT-X-VERSION:11\n"
        );
        assert_eq!(
            declare_query_params(
                "#EXTM3U\n#EXT-X-DEFINE:NAME=\"Policy\",VALUE=\"x\"\n",
                &names
            ),
            Err(DeclareError::Taken("Policy".into()))
        );
        assert_eq!(
            declare_query_params("<MPD/>", &names),
            Err(DeclareError::NotAPlaylist)
        );
    }

    #[test]
    fn url_query_info_goes_into_each_adaptation_set() {
        let mpd = "<?xml version=\"1.0\"?>\n<MPD><Period><AdaptationSet id=\"1\">\
                   <Representation id=\"a\"/></AdaptationSet><x:AdaptationSet>\
                   </x:AdaptationSet></Period></MPD>";
        let out = add_url_query_info(mpd).unwrap();
        assert_eq!(out.matches("useMPDUrlQuery=\"true\"").count(), 2);
        assert!(out.contains("<AdaptationSet id=\"1\"><EssentialProperty schemeIdUri"));
        assert!(out.contains("<x:AdaptationSet><x:EssentialProperty schemeIdUri"));
        let stripped = out
            .split("<EssentialProperty")
            .map(|part| {
                part.split_once("</EssentialProperty>")
                    .map_or(part, |(_, r)| r)
            })
            .collect::<String>();
        let stripped = stripped
            .split("<x:EssentialProperty")
            .map(|part| {
                part.split_once("</x:EssentialProperty>")
                    .map_or(part, |(_, r)| r)
            })
            .collect::<String>();
        assert_eq!(stripped, mpd);
        assert_eq!(add_url_query_info("<MPD><Period/></MPD>"), None);
        assert_eq!(add_url_query_info("<MPD><AdaptationSet></MPD>"), None);
    }
}
