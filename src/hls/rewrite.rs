//! The playlist rewriter: every URI a viewer will request becomes a signed one.
//!
//! Pure: the playlist, the URL the viewer fetched it from, the viewer's
//! verified grant, the signer and the time go in; the rewritten playlist
//! comes out. The scanner ([`super::scan`]) finds the byte range of every
//! URI; the rewriter copies every other byte unchanged and, for each URI it
//! may sign, keeps the reference as written (relative stays relative — bytes
//! count under the 40 KB edge limit), renames a child playlist's final
//! `.m3u8` to the routing suffix, and appends the signing parameters before
//! any fragment.
//!
//! What each grant covers is decided by [`crate::scope`]; the limits every
//! grant shares (expiry, not-before, IP range) by [`crate::grant`], from the
//! viewer's [`VerifiedGrant`] — there is no rewriting without one.
//!
//! Left byte for byte: `data:`, `skd:` and other non-HTTP URIs, URIs on hosts
//! other than the distribution's (and the configured extra hosts), URIs using
//! `{$variable}` substitution (their final form is only known to the player),
//! URIs that already carry CloudFront signing parameters, and URIs the scope
//! rules refuse (counted, with the first reason, in the stats).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use crate::grant::{GrantError, IssueLimits, LimitOptions};
use crate::hls::scan::{scan, Carrier, ScanError};
use crate::live::LiveTiming;
use crate::policy::wildcard_match;
use crate::scope::{self, Confinement, Unsigned};
use crate::signature_cache::SignatureCache;
use crate::signed_url::{UrlParts, UrlSigner};
use crate::signer::SignError;
use crate::uri::{self, AbsoluteUrl, UriError};
use crate::verify::VerifiedGrant;

pub use crate::grant::{Expiry, IpPinning, Ipv6Viewers};
pub use crate::scope::Mode;

/// Settings that stay the same across requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewriteOptions {
    pub mode: Mode,
    pub expiry: Expiry,
    pub ip_pinning: IpPinning,
    pub ipv6_viewers: Ipv6Viewers,
    /// Replaces a child playlist's `.m3u8`; empty means no rename.
    pub suffix: String,
    /// Replaces an MPD's `.mpd` (DASH `Location`); empty means no rename.
    pub dash_suffix: String,
    /// Hosts besides the viewer's own whose URIs are signed too (lowercase).
    pub extra_hosts: Vec<String>,
    /// Keeps every issued Resource under a prefix of the requested path.
    pub confinement: Option<Confinement>,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Wildcard,
            expiry: Expiry::Ttl {
                ttl: 3600,
                bucket: 60,
            },
            ip_pinning: IpPinning::Inherit,
            ipv6_viewers: Ipv6Viewers::Refuse,
            suffix: "._m3u8".to_owned(),
            dash_suffix: "._mpd".to_owned(),
            extra_hosts: Vec::new(),
            confinement: None,
        }
    }
}

impl RewriteOptions {
    /// Whether URLs on `target`'s host may be signed for a manifest fetched
    /// from `base`: the manifest's own origin or a configured extra host.
    pub(crate) fn signable_host(&self, base: &AbsoluteUrl, target: &AbsoluteUrl) -> bool {
        target.same_origin(base)
            || self
                .extra_hosts
                .iter()
                .any(|host| host.eq_ignore_ascii_case(target.host()))
    }

    pub(crate) fn limit_options(&self) -> LimitOptions {
        LimitOptions {
            expiry: self.expiry,
            ip_pinning: self.ip_pinning,
            ipv6_viewers: self.ipv6_viewers,
        }
    }
}

/// The request a playlist is rewritten for.
#[derive(Clone, Copy, Debug)]
pub struct Viewer<'a> {
    /// The URL the viewer fetched, e.g. `https://dist/videos/index._m3u8?…`.
    pub url: &'a str,
    /// The viewer's grant, verified for that URL.
    pub grant: &'a VerifiedGrant,
    pub client_ip: Option<IpAddr>,
}

/// A grant that reaches the URIs it covers by itself, so they are not
/// signed one by one: the viewer's own grant handed on (`propagate`, the
/// `query` delivery) or the signed cookies the response sets (`cookies`).
///
/// Security: a carry never adds access. Its `resource` is the viewer's own
/// policy or a policy issued under the request's [`IssueLimits`]; it is
/// used only when its IP range is the one those limits require, so
/// configured pinning is never bypassed by carrying an unpinned grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Carry {
    /// What the carried grant covers (a CloudFront pattern).
    pub resource: String,
    /// Its IP range condition.
    pub ip_range: Option<crate::policy::Ipv4Cidr>,
    /// Appended to each covered URI's query; empty: nothing is appended
    /// (the grant travels as cookies, or the player adds the query).
    pub params: Arc<str>,
    /// Whether covered child playlists still get the routing suffix (they
    /// need the function: `query` delivery); otherwise they go straight to
    /// the origin (`cookies`).
    pub rename: bool,
}

/// Why a playlist could not be rewritten.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RewriteError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Mpd(#[from] crate::dash::scan::MpdError),
    #[error("the viewer URL is not usable as a base: {0}")]
    ViewerUrl(UriError),
    #[error("line {line}: URI `{uri}` (query not shown) is not a valid URL reference: {reason}")]
    BadUri {
        line: usize,
        uri: String,
        reason: UriError,
    },
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The manifest asks the player to copy the viewer's query somewhere
    /// (see [`crate::delivery::refusal`]); served, it would hand the
    /// viewer's signature to URLs its author chose.
    #[error("the manifest {0}")]
    Unsafe(&'static str),
}

/// Counts for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RewriteStats {
    /// URIs the scanner found.
    pub uris: usize,
    /// URIs that got signing parameters (new or propagated).
    pub signed: usize,
    /// Of those, how many were left to a carried grant (the viewer's own
    /// parameters, placeholders, or cookies) instead of a new signature.
    pub propagated: usize,
    /// Child playlists renamed to the routing suffix.
    pub renamed: usize,
    /// URIs left byte for byte (other hosts, data:, skd:, variables, pre-signed).
    pub untouched: usize,
    /// URIs on a signable host that the scope rules refused to sign.
    pub unsigned: usize,
    /// The first such refusal's reason.
    pub unsigned_reason: Option<Unsigned>,
    /// Signatures computed for this playlist.
    pub signatures: usize,
    /// With a carry that rides in the query (placeholders): URIs that may
    /// name a playlist (variants, renditions, I-frame and image playlists,
    /// interstitial assets, unknown tags, any `.m3u8` or `.m3u`) and are not
    /// routed back through the function. Not counted otherwise.
    pub direct_playlists: usize,
    /// Signatures found in the cache.
    pub cache_hits: usize,
}

/// A rewritten playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewritten {
    pub body: String,
    /// When the issued signatures expire (for `Cache-Control`).
    pub expires: u64,
    /// Whether the grants are pinned to the client's address.
    pub pinned: bool,
    /// For a live manifest, the longest it may be cached
    /// ([`LiveTiming::max_age`]); `None` for VOD.
    pub live_max_age: Option<u64>,
    pub stats: RewriteStats,
}

/// Rewrites playlists with one signer; holds the signature cache that makes
/// warm requests cheap.
pub struct Rewriter {
    signer: UrlSigner,
    options: RewriteOptions,
    cache: SignatureCache,
}

impl Rewriter {
    pub fn new(signer: UrlSigner, options: RewriteOptions, cache_capacity: usize) -> Self {
        Self {
            signer,
            options,
            cache: SignatureCache::new(cache_capacity),
        }
    }

    pub fn options(&self) -> &RewriteOptions {
        &self.options
    }

    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    pub fn cache(&self) -> &SignatureCache {
        &self.cache
    }

    /// The viewer's custom grant and its parameters in query form, when the
    /// mode hands it on. Propagation hands the viewer's own grant on only
    /// when it already carries the limits configured for this request (a
    /// pinned address, in particular), so configured pinning holds.
    pub(crate) fn propagatable(&self, grant: &VerifiedGrant) -> Option<Carry> {
        (self.options.mode == Mode::Propagate && !grant.canned()).then(|| Carry {
            resource: grant.policy().resource().to_owned(),
            ip_range: grant.policy().ip_range(),
            params: Arc::from(grant.params().to_query()),
            rename: true,
        })
    }

    /// The carry to use under `limits`: `given`, else the mode's own; only
    /// one whose IP range is the one the limits require.
    pub(crate) fn carry_for(
        &self,
        given: Option<Carry>,
        grant: &VerifiedGrant,
        limits: &IssueLimits,
    ) -> Option<Carry> {
        given
            .or_else(|| self.propagatable(grant))
            .filter(|carry| carry.ip_range == limits.ip_range)
    }

    /// The limits of everything issued for `viewer` at `now`: the
    /// configured ones, lasting at least a live manifest's window plus its
    /// hold-back ([`crate::live`]), never past the viewer's own grant.
    pub(crate) fn issue_limits(
        &self,
        live: Option<&LiveTiming>,
        viewer: &Viewer<'_>,
        now: u64,
    ) -> Result<IssueLimits, GrantError> {
        let mut options = self.options.limit_options();
        if let Some(timing) = live {
            options = options.lasting_at_least(timing.min_lifetime());
        }
        IssueLimits::compute(options, viewer.grant, viewer.client_ip, now)
    }

    /// What a rewrite for `viewer` starts from: the base its references
    /// resolve against (the viewer's URL without its signing parameters)
    /// and the limits of everything it issues.
    pub(crate) fn start(
        &self,
        viewer: &Viewer<'_>,
        live: Option<&LiveTiming>,
        now: u64,
    ) -> Result<(AbsoluteUrl, IssueLimits), RewriteError> {
        let base_text = UrlParts::split(viewer.url).without_signing_parameters();
        let base = AbsoluteUrl::parse(&base_text).map_err(RewriteError::ViewerUrl)?;
        Ok((base, self.issue_limits(live, viewer, now)?))
    }

    /// Rewrites `playlist` for `viewer` at `now` (epoch seconds).
    pub fn rewrite(
        &self,
        playlist: &str,
        viewer: &Viewer<'_>,
        now: u64,
    ) -> Result<Rewritten, RewriteError> {
        self.rewrite_carrying(playlist, viewer, now, None)
    }

    /// [`Rewriter::rewrite`], leaving the URIs that `carry` covers to it
    /// (see [`Carry`]); the others are signed as the mode says.
    pub fn rewrite_carrying(
        &self,
        playlist: &str,
        viewer: &Viewer<'_>,
        now: u64,
        carry: Option<Carry>,
    ) -> Result<Rewritten, RewriteError> {
        let uris = scan(playlist)?;
        let live = LiveTiming::of_hls(playlist);
        let (base, limits) = self.start(viewer, live.as_ref(), now)?;
        let base_origin = format!("{}://{}", base.scheme(), base.authority());
        // The base directory is checked once; plain relative references
        // below it then only need their own text checked.
        let base_directory_safe = crate::paths::check_path(base.directory()).is_ok();
        let viewer_params = self.carry_for(carry, viewer.grant, &limits);
        // A carry over the whole base directory (`…/dir/*` or above) covers
        // every plain relative reference below it: decided once here.
        let carry_covers_directory = viewer_params.as_ref().is_some_and(|carry| {
            base_directory_safe
                && crate::delivery::covers_tree(
                    &carry.resource,
                    &format!("{base_origin}{}", base.directory()),
                )
        });
        let mut job = Job {
            rewriter: self,
            carry_covers_directory,
            base: &base,
            base_directory_safe,
            limits,
            confinement: self.options.confinement.map(|c| c.prefix(base.path())),
            viewer_params,
            base_origin: &base_origin,
            stats: RewriteStats {
                uris: uris.len(),
                ..RewriteStats::default()
            },
            last: None,
            last_segment: None,
        };
        // Only a grant riding in the query needs every child playlist back
        // through the function (a direct one could import the variables).
        let counts_direct_playlists = job
            .viewer_params
            .as_ref()
            .is_some_and(|carry| carry.rename && !carry.params.is_empty());
        let mut body = String::with_capacity(playlist.len() + uris.len() * 200);
        let mut copied = 0;
        for found in &uris {
            let reference = &playlist[found.range.clone()];
            body.push_str(&playlist[copied..found.range.start]);
            copied = found.range.end;
            let result = job.sign_reference(reference, found.carrier);
            if counts_direct_playlists
                && !matches!(&result, Ok(Some(s)) if s.rename.is_some())
                && may_be_playlist(found.carrier, reference)
            {
                job.stats.direct_playlists += 1;
            }
            match result {
                Ok(Some(signed)) => signed.write_to(reference, &mut body),
                Ok(None) => {
                    job.stats.untouched += 1;
                    body.push_str(reference);
                }
                Err(SignRefError::Unsigned(reason)) => {
                    job.stats.unsigned += 1;
                    job.stats.unsigned_reason.get_or_insert(reason);
                    body.push_str(reference);
                }
                Err(SignRefError::Uri(reason)) => {
                    // Quoted without its query: a pre-signed URI's query
                    // holds a signature, which never goes to a log.
                    let shown = reference.split(['?', '#']).next().unwrap_or("");
                    return Err(RewriteError::BadUri {
                        line: found.line,
                        uri: shown.chars().take(200).collect(),
                        reason,
                    });
                }
                Err(SignRefError::Sign(e)) => return Err(RewriteError::Sign(e)),
            }
        }
        body.push_str(&playlist[copied..]);
        Ok(Rewritten {
            body,
            expires: limits.expires,
            pinned: limits.pinned,
            live_max_age: live.map(|timing| timing.max_age()),
            stats: job.stats,
        })
    }
}

/// One rewrite in progress.
struct Job<'a> {
    rewriter: &'a Rewriter,
    base: &'a AbsoluteUrl,
    base_directory_safe: bool,
    limits: IssueLimits,
    /// The confinement prefix for this request, when configured.
    confinement: Option<String>,
    /// The grant carried to the URIs it covers, when there is one.
    viewer_params: Option<Carry>,
    /// Whether that carry covers everything under the base directory.
    carry_covers_directory: bool,
    /// `scheme://authority` of the viewer URL.
    base_origin: &'a str,
    stats: RewriteStats,
    /// The last Resource signed and its parameters: a run of segments shares
    /// one, so this skips the cache lookup for nearly every URI.
    last: Option<(String, Arc<str>)>,
    /// The last plain segment reference granted by a pattern, and its
    /// parameters: the next segments of its run reuse them directly.
    last_segment: Option<(String, Arc<str>)>,
}

enum SignRefError {
    Uri(UriError),
    Sign(SignError),
    Unsigned(Unsigned),
}

impl From<SignError> for SignRefError {
    fn from(e: SignError) -> Self {
        Self::Sign(e)
    }
}

impl From<Unsigned> for SignRefError {
    fn from(e: Unsigned) -> Self {
        Self::Unsigned(e)
    }
}

/// How one reference is to be written out.
struct SignedReference<'s> {
    /// Byte length of the path part of the reference (before `?` / `#`).
    path_len: usize,
    /// The suffix replacing the path's final `.m3u8`, when renamed.
    rename: Option<&'s str>,
    params: Arc<str>,
}

impl SignedReference<'_> {
    /// Appends the reference, renamed and with the parameters added to its
    /// query, to `out`; the fragment (if any) stays last.
    fn write_to(&self, reference: &str, out: &mut String) {
        let (path, rest) = reference.split_at(self.path_len);
        match (self.rename, path.len().checked_sub(M3U8.len())) {
            (Some(suffix), Some(stem)) if path.is_char_boundary(stem) => {
                out.push_str(&path[..stem]);
                out.push_str(suffix);
            }
            _ => out.push_str(path),
        }
        let (query, fragment) = rest.split_at(rest.find('#').unwrap_or(rest.len()));
        out.push_str(query);
        // `?` starts a query; an empty one (`a.ts?`) or one ending in `&`
        // needs no separator; anything else (including `??`) gets `&`.
        if self.params.is_empty() {
            // Carried by cookies or by the player: nothing to add.
        } else if query.is_empty() {
            out.push('?');
        } else if query != "?" && !query.ends_with('&') {
            out.push('&');
        }
        out.push_str(&self.params);
        out.push_str(fragment);
    }
}

/// One grant to issue.
struct Issue {
    resource: String,
    /// The canned form applies (exactly the URL, no condition but the expiry).
    canned: bool,
    /// A segment pattern (`seg-?????.ts`).
    pattern: bool,
    /// A grant on one child playlist and its reload queries only: when the
    /// playlist comes back through the function it may last as the
    /// viewer's grant ([`IssueLimits::routed`]). A directory grant never
    /// does, since it covers the directory's segments too.
    playlist_only: bool,
}

const M3U8: &str = ".m3u8";

/// Whether `path` ends in `.m3u8`. Only this spelling is a child playlist
/// routed through the function: the function maps the routing suffix back
/// to `.m3u8`, so another case (`Alt.M3U8`) would not round-trip on a
/// case-sensitive origin; such a URI is granted as a plain file.
fn ends_with_m3u8(path: &str) -> bool {
    path.ends_with(M3U8)
}

/// Whether a URI may name a playlist, which a player loads and reads
/// (variables included) without the function when it is not renamed.
fn may_be_playlist(carrier: Carrier, reference: &str) -> bool {
    let path = reference.split(['?', '#']).next().unwrap_or("").as_bytes();
    let ends_with = |suffix: &[u8]| {
        path.len() >= suffix.len() && path[path.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    ends_with(b".m3u8")
        || ends_with(b".m3u")
        || matches!(
            carrier,
            Carrier::VariantStream
                | Carrier::OtherAttribute
                | Carrier::Attribute {
                    tag: "EXT-X-MEDIA"
                        | "EXT-X-I-FRAME-STREAM-INF"
                        | "EXT-X-IMAGE-STREAM-INF"
                        | "EXT-X-RENDITION-REPORT"
                        | "EXT-X-DATERANGE",
                    ..
                }
        )
}

/// Whether a carrier names a media segment or part: the URIs that come in
/// runs and share a pattern.
fn is_segment(carrier: Carrier) -> bool {
    matches!(
        carrier,
        Carrier::Segment
            | Carrier::Attribute {
                tag: "EXT-X-PART" | "EXT-X-PRELOAD-HINT",
                ..
            }
    )
}

/// The URL as CloudFront will match it: signing parameters removed, empty
/// query pairs (`a=1&&b=2`, a trailing `&`) dropped.
fn target_url(origin: &str, path: &str, query: Option<&str>) -> String {
    match query {
        None => format!("{origin}{path}"),
        Some(query) => {
            UrlParts::split(&format!("{origin}{path}?{query}")).without_signing_parameters()
        }
    }
}

/// Query appended by LL-HLS players when reloading a child playlist; a
/// signature on a child playlist must still cover it.
const LL_HLS_RELOAD: &str = "_HLS_msn=1&_HLS_part=0&_HLS_skip=YES";

impl<'a> Job<'a> {
    /// Decides what to do with one reference: `None` leaves it untouched.
    fn sign_reference(
        &mut self,
        reference: &str,
        carrier: Carrier,
    ) -> Result<Option<SignedReference<'a>>, SignRefError> {
        if reference.contains("{$") {
            return Ok(None);
        }
        // A carry over the base directory: a plain relative reference below
        // it (not a child playlist that must be renamed) is covered as is.
        if self.carry_covers_directory
            && uri::is_plain_relative_path(reference)
            && !reference.contains('*')
            && check_relative(reference).is_ok()
        {
            if let Some(carry) = &self.viewer_params {
                if !(carry.rename && ends_with_m3u8(reference)) {
                    self.stats.signed += 1;
                    self.stats.propagated += 1;
                    return Ok(Some(SignedReference {
                        path_len: reference.len(),
                        rename: None,
                        params: carry.params.clone(),
                    }));
                }
            }
        }
        // A run of segments: the previous segment of the same shape (same
        // text but for the sequence number) shares its pattern grant. Every
        // check below would come out the same for it, except the reference's
        // own text, which is checked here.
        if let Some((last, params)) = &self.last_segment {
            if is_segment(carrier)
                && scope::same_pattern(last, reference)
                && uri::is_plain_relative_path(reference)
                && check_relative(reference).is_ok()
            {
                let params = params.clone();
                self.stats.cache_hits += 1;
                self.stats.signed += 1;
                return Ok(Some(SignedReference {
                    path_len: reference.len(),
                    rename: None,
                    params,
                }));
            }
        }
        // Where the reference points, as origin (`scheme://authority`), path
        // and query. Plain relative paths — nearly every segment — resolve
        // by concatenation.
        let resolved;
        let (origin, path, query): (Cow<'_, str>, Cow<'_, str>, Option<&str>) =
            if uri::is_plain_relative_path(reference) {
                if reference.contains('*') {
                    return Err(Unsigned::WildcardCharacter.into());
                }
                let directory = self.base.directory();
                let mut path = String::with_capacity(directory.len() + reference.len());
                path.push_str(directory);
                path.push_str(reference);
                if !self.base_directory_safe {
                    crate::paths::check_path(&path).map_err(Unsigned::UnsafePath)?;
                } else {
                    check_relative(reference)?;
                }
                (Cow::Borrowed(self.base_origin), Cow::Owned(path), None)
            } else {
                if let Some(scheme) = uri::scheme_of(reference) {
                    if scheme != "http" && scheme != "https" {
                        return Ok(None);
                    }
                }
                resolved = uri::resolve(self.base, reference).map_err(SignRefError::Uri)?;
                if !self.signable_host(&resolved) {
                    return Ok(None);
                }
                if UrlParts::split(reference).carries_signing_parameters() {
                    return Ok(None);
                }
                // A `*` anywhere in the reference, even in a segment that
                // resolution removes: the URI is not signed at all.
                if reference.contains('*') {
                    return Err(Unsigned::WildcardCharacter.into());
                }
                if uri::climbs_above_root(self.base, reference) {
                    return Err(Unsigned::ClimbsAboveRoot.into());
                }
                let origin = format!("{}://{}", resolved.scheme(), resolved.authority());
                scope::check_target(&origin, resolved.path(), resolved.query())?;
                (
                    Cow::Owned(origin),
                    Cow::Borrowed(resolved.path()),
                    resolved.query(),
                )
            };
        if let Some(prefix) = &self.confinement {
            if origin != self.base_origin || !scope::within(prefix, &path) {
                return Err(Unsigned::OutsideConfinement.into());
            }
        }
        let path_len = reference.find(['?', '#']).unwrap_or(reference.len());
        // A grant that travels by itself (cookies): a URI it covers, as
        // written, stays as it is (a child playlist then goes straight to
        // the origin).
        if let Some(carry) = self.viewer_params.as_ref().filter(|c| !c.rename) {
            if origin == self.base_origin
                && wildcard_match(&carry.resource, &target_url(&origin, &path, query))
            {
                self.stats.signed += 1;
                self.stats.propagated += 1;
                return Ok(Some(SignedReference {
                    path_len,
                    rename: None,
                    params: carry.params.clone(),
                }));
            }
        }
        let options = &self.rewriter.options;
        let child_playlist = ends_with_m3u8(&path);
        let rename = (!options.suffix.is_empty()
            && child_playlist
            && ends_with_m3u8(&reference[..path_len]))
        .then_some(options.suffix.as_str());
        let path = match rename {
            Some(suffix) => Cow::Owned(format!("{}{suffix}", &path[..path.len() - M3U8.len()])),
            None => path,
        };
        let target_url = target_url(&origin, &path, query);
        // A carried grant stays on the playlist's own origin (never handed
        // to an extra host).
        let propagated = if origin == self.base_origin {
            self.propagated(&target_url, child_playlist)
        } else {
            None
        };
        let params = match propagated {
            Some(params) => {
                self.stats.propagated += 1;
                params
            }
            None => {
                let grant = self.resource(&origin, &path, &target_url, child_playlist, carrier);
                let routed = grant.playlist_only && rename.is_some();
                let params = self.signed(grant.resource, grant.canned, routed)?;
                if grant.pattern
                    && self.viewer_params.is_none()
                    && uri::is_plain_relative_path(reference)
                {
                    self.last_segment = Some((reference.to_owned(), params.clone()));
                }
                params
            }
        };
        self.stats.signed += 1;
        self.stats.renamed += usize::from(rename.is_some());
        Ok(Some(SignedReference {
            path_len,
            rename,
            params,
        }))
    }

    /// The grant to issue for a target (see [`crate::scope`]).
    fn resource(
        &self,
        origin: &str,
        path: &str,
        target_url: &str,
        child_playlist: bool,
        carrier: Carrier,
    ) -> Issue {
        let mode = self.rewriter.options.mode;
        let split = path.rfind('/').map_or(0, |i| i + 1);
        let (directory, name) = path.split_at(split);
        let custom = |resource: String| Issue {
            resource,
            canned: false,
            pattern: false,
            playlist_only: false,
        };
        if mode == Mode::Directory {
            return custom(format!("{origin}{directory}*"));
        }
        if child_playlist {
            // LL-HLS players append `_HLS_msn`, `_HLS_part`, `_HLS_skip`.
            return Issue {
                playlist_only: true,
                ..custom(format!("{target_url}*"))
            };
        }
        let exact_is_target = target_url.len() == origin.len() + path.len();
        if mode != Mode::Canned && is_segment(carrier) && exact_is_target {
            if let Some(pattern) = scope::digit_pattern(name) {
                return Issue {
                    resource: format!("{origin}{directory}{pattern}"),
                    canned: false,
                    pattern: true,
                    playlist_only: false,
                };
            }
        }
        Issue {
            resource: target_url.to_owned(),
            canned: self.limits.allows_canned(),
            pattern: false,
            playlist_only: false,
        }
    }

    /// Whether URIs on `target`'s host may be signed: the viewer's own origin
    /// or a configured extra host.
    fn signable_host(&self, target: &AbsoluteUrl) -> bool {
        self.rewriter.options.signable_host(self.base, target)
    }

    /// The viewer's own parameters, when its custom policy covers the target
    /// (including LL-HLS reload queries for child playlists).
    fn propagated(&self, target_url: &str, child_playlist: bool) -> Option<Arc<str>> {
        let carry = self.viewer_params.as_ref()?;
        let (resource, params) = (carry.resource.as_str(), &carry.params);
        if !wildcard_match(resource, target_url) {
            return None;
        }
        if child_playlist {
            let separator = if target_url.contains('?') { '&' } else { '?' };
            let reload = format!("{target_url}{separator}{LL_HLS_RELOAD}");
            if !wildcard_match(resource, &reload) {
                return None;
            }
        }
        Some(params.clone())
    }

    /// Parameters for a grant on `resource` under this request's limits
    /// (`routed`: a child playlist that comes back through the function,
    /// which lasts as the viewer's grant; see [`IssueLimits::routed`]).
    fn signed(
        &mut self,
        resource: String,
        canned: bool,
        routed: bool,
    ) -> Result<Arc<str>, SignError> {
        if let Some((last, params)) = &self.last {
            if *last == resource && !canned {
                self.stats.cache_hits += 1;
                return Ok(params.clone());
            }
        }
        let policy = match routed {
            true => self.limits.routed().policy(&resource),
            false => self.limits.policy(&resource),
        };
        let (params, hit) =
            self.rewriter
                .cache
                .get_or_sign(&self.rewriter.signer, &policy, canned)?;
        if hit {
            self.stats.cache_hits += 1;
        } else {
            self.stats.signatures += 1;
        }
        if !canned {
            self.last = Some((resource, params.clone()));
        }
        Ok(params)
    }
}

/// Checks a plain relative reference (no dot segments, no `?`, `#` or
/// scheme) appended to an already-checked directory: what is left to refuse
/// is what an origin could still decode into a delimiter or dot segment.
pub(crate) fn check_relative(reference: &str) -> Result<(), Unsigned> {
    let bytes = reference.as_bytes();
    let simple = bytes
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'~'))
        && !reference.contains("//")
        && !reference
            .split('/')
            .any(|segment| !segment.is_empty() && segment.bytes().all(|b| b == b'.'));
    if simple {
        return Ok(());
    }
    crate::paths::check_path(&format!("/{reference}")).map_err(Unsigned::UnsafePath)
}
