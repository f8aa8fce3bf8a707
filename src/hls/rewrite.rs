//! The playlist rewriter: every URI a viewer will request becomes a signed one.
//!
//! Pure: the playlist, the URL the viewer fetched it from, the viewer's grant,
//! the signer and the time go in; the rewritten playlist comes out. The
//! scanner ([`super::scan`]) finds the byte range of every URI; the rewriter
//! copies every other byte unchanged and, for each URI it may sign, keeps the
//! reference as written (relative stays relative — bytes count under the
//! 40 KB edge limit), renames a child playlist's final `.m3u8` to the routing
//! suffix, and appends the signing parameters before any fragment.
//!
//! Left byte for byte: `data:`, `skd:` and other non-HTTP URIs, URIs on hosts
//! other than the distribution's (and the configured extra hosts), URIs using
//! `{$variable}` substitution (their final form is only known to the player),
//! and URIs that already carry CloudFront signing parameters.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use crate::grant::{Expiry, GrantError, IpPinning, IssueLimits, SignatureCache};
use crate::hls::scan::{scan, ScanError};
use crate::policy::wildcard_match;
use crate::signed_url::{Grant, UrlParts, UrlSigner};
use crate::signer::SignError;
use crate::uri::{self, AbsoluteUrl, UriError};

/// How URIs are signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mode {
    /// One canned signature per URI (child playlists get a custom policy
    /// ending in `*`, so LL-HLS reload parameters still validate).
    Canned,
    /// One custom policy per directory (`https://host/dir/*`), shared by
    /// every URI under it.
    #[default]
    Wildcard,
    /// Re-use the viewer's own custom policy when it covers a URI (no new
    /// signature); otherwise as `wildcard`.
    Propagate,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Canned => "canned",
            Self::Wildcard => "wildcard",
            Self::Propagate => "propagate",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "canned" => Ok(Self::Canned),
            "wildcard" => Ok(Self::Wildcard),
            "propagate" => Ok(Self::Propagate),
            _ => Err(format!(
                "unknown mode `{text}` (canned, wildcard or propagate)"
            )),
        }
    }
}

/// Settings that stay the same across requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewriteOptions {
    pub mode: Mode,
    pub expiry: Expiry,
    pub ip_pinning: IpPinning,
    /// Replaces a child playlist's `.m3u8`; empty means no rename.
    pub suffix: String,
    /// Hosts besides the viewer's own whose URIs are signed too (lowercase).
    pub extra_hosts: Vec<String>,
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
            suffix: "._m3u8".to_owned(),
            extra_hosts: Vec::new(),
        }
    }
}

/// The request a playlist is rewritten for.
#[derive(Clone, Copy, Debug)]
pub struct Viewer<'a> {
    /// The URL the viewer fetched, e.g. `https://dist/videos/index._m3u8?…`.
    pub url: &'a str,
    /// The viewer's verified grant, if the request carried one.
    pub grant: Option<&'a Grant>,
    pub client_ip: Option<IpAddr>,
}

/// Why a playlist could not be rewritten.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RewriteError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("the viewer URL is not usable as a base: {0}")]
    ViewerUrl(UriError),
    #[error("line {line}: URI `{uri}` is not a valid URL reference: {reason}")]
    BadUri {
        line: usize,
        uri: String,
        reason: UriError,
    },
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// Counts for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RewriteStats {
    /// URIs the scanner found.
    pub uris: usize,
    /// URIs that got signing parameters (new or propagated).
    pub signed: usize,
    /// Of those, how many re-used the viewer's own parameters.
    pub propagated: usize,
    /// Child playlists renamed to the routing suffix.
    pub renamed: usize,
    /// URIs left byte for byte (other hosts, data:, skd:, variables, pre-signed).
    pub untouched: usize,
    /// Signatures computed for this playlist.
    pub signatures: usize,
    /// Signatures found in the cache.
    pub cache_hits: usize,
}

/// A rewritten playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewritten {
    pub body: String,
    /// When the earliest issued signature expires (for `Cache-Control`).
    pub expires: u64,
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

    /// Rewrites `playlist` for `viewer` at `now` (epoch seconds).
    pub fn rewrite(
        &self,
        playlist: &str,
        viewer: &Viewer<'_>,
        now: u64,
    ) -> Result<Rewritten, RewriteError> {
        let uris = scan(playlist)?;
        let base_text = UrlParts::split(viewer.url).without_signing_parameters();
        let base = AbsoluteUrl::parse(&base_text).map_err(RewriteError::ViewerUrl)?;
        let limits = IssueLimits::compute(
            self.options.expiry,
            self.options.ip_pinning,
            viewer.grant,
            viewer.client_ip,
            now,
        )?;
        let base_origin = format!("{}://{}", base.scheme(), base.authority());
        let mut job = Job {
            rewriter: self,
            base: &base,
            limits,
            viewer_params: viewer
                .grant
                .filter(|g| self.options.mode == Mode::Propagate && !g.canned)
                .map(|g| (g, Arc::from(g.params.to_query()))),
            base_origin: &base_origin,
            stats: RewriteStats {
                uris: uris.len(),
                ..RewriteStats::default()
            },
            last_directory: None,
        };
        let mut body = String::with_capacity(playlist.len() + uris.len() * 200);
        let mut copied = 0;
        for found in &uris {
            let reference = &playlist[found.range.clone()];
            body.push_str(&playlist[copied..found.range.start]);
            copied = found.range.end;
            match job.sign_reference(reference) {
                Ok(Some(signed)) => signed.write_to(reference, &mut body),
                Ok(None) => {
                    job.stats.untouched += 1;
                    body.push_str(reference);
                }
                Err(reason) => {
                    return Err(match reason {
                        SignRefError::Uri(reason) => RewriteError::BadUri {
                            line: found.line,
                            uri: reference.to_owned(),
                            reason,
                        },
                        SignRefError::Sign(e) => RewriteError::Sign(e),
                    })
                }
            }
        }
        body.push_str(&playlist[copied..]);
        Ok(Rewritten {
            body,
            expires: limits.expires,
            stats: job.stats,
        })
    }
}

/// One rewrite in progress.
struct Job<'a> {
    rewriter: &'a Rewriter,
    base: &'a AbsoluteUrl,
    limits: IssueLimits,
    /// The viewer's custom grant and its parameters in query form, when
    /// there is one to propagate.
    viewer_params: Option<(&'a Grant, Arc<str>)>,
    /// `scheme://authority` of the viewer URL.
    base_origin: &'a str,
    stats: RewriteStats,
    /// Wildcard mode: the last directory signed and its parameters. Segments
    /// of one playlist share a directory, so this skips the cache lookup for
    /// nearly every URI.
    last_directory: Option<(String, Arc<str>)>,
}

enum SignRefError {
    Uri(UriError),
    Sign(SignError),
}

impl From<SignError> for SignRefError {
    fn from(e: SignError) -> Self {
        Self::Sign(e)
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
        match self.rename {
            Some(suffix) => {
                out.push_str(&path[..path.len() - M3U8.len()]);
                out.push_str(suffix);
            }
            None => out.push_str(path),
        }
        let (query, fragment) = rest.split_at(rest.find('#').unwrap_or(rest.len()));
        out.push_str(query);
        // `?` starts a query; an empty one (`a.ts?`) or one ending in `&`
        // needs no separator; anything else (including `??`) gets `&`.
        if query.is_empty() {
            out.push('?');
        } else if query != "?" && !query.ends_with('&') {
            out.push('&');
        }
        out.push_str(&self.params);
        out.push_str(fragment);
    }
}

const M3U8: &str = ".m3u8";

/// Whether `path` ends in `.m3u8`, in any case.
fn ends_with_m3u8(path: &str) -> bool {
    path.len() >= M3U8.len()
        && path.as_bytes()[path.len() - M3U8.len()..].eq_ignore_ascii_case(M3U8.as_bytes())
}

/// Query appended by LL-HLS players when reloading a child playlist; a
/// signature on a child playlist must still cover it.
const LL_HLS_RELOAD: &str = "_HLS_msn=1&_HLS_part=0&_HLS_skip=YES";

impl<'a> Job<'a> {
    /// Decides what to do with one reference: `None` leaves it untouched.
    fn sign_reference(
        &mut self,
        reference: &str,
    ) -> Result<Option<SignedReference<'a>>, SignRefError> {
        if reference.contains("{$") {
            return Ok(None);
        }
        // Where the reference points, as origin (`scheme://authority`), path
        // and query. Plain relative paths — nearly every segment — resolve
        // by concatenation and need none of the checks below.
        let resolved;
        let (origin, path, query): (Cow<'_, str>, Cow<'_, str>, Option<&str>) =
            if uri::is_plain_relative_path(reference) {
                let directory = self.base.directory();
                let mut path = String::with_capacity(directory.len() + reference.len());
                path.push_str(directory);
                path.push_str(reference);
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
                let origin = format!("{}://{}", resolved.scheme(), resolved.authority());
                (
                    Cow::Owned(origin),
                    Cow::Borrowed(resolved.path()),
                    resolved.query(),
                )
            };
        let path_len = reference.find(['?', '#']).unwrap_or(reference.len());
        let options = &self.rewriter.options;
        let rename = (!options.suffix.is_empty() && ends_with_m3u8(&reference[..path_len]))
            .then_some(options.suffix.as_str());
        let child_playlist = ends_with_m3u8(&path);
        let path = match rename {
            Some(suffix) => Cow::Owned(format!("{}{suffix}", &path[..path.len() - M3U8.len()])),
            None => path,
        };
        // The URL as CloudFront will match it: signing parameters removed,
        // empty query pairs (`a=1&&b=2`, a trailing `&`) dropped.
        let target_url = || {
            let mut url = format!("{origin}{path}");
            if let Some(query) = query {
                url.push('?');
                url.push_str(query);
            }
            UrlParts::split(&url).without_signing_parameters()
        };
        let params = match options.mode {
            Mode::Propagate => match self.propagated(&target_url(), child_playlist) {
                Some(params) => {
                    self.stats.propagated += 1;
                    params
                }
                None => self.wildcard(&origin, &path)?,
            },
            Mode::Wildcard => self.wildcard(&origin, &path)?,
            Mode::Canned if child_playlist => self.signed(&format!("{}*", target_url()), false)?,
            Mode::Canned => {
                let canned = self.limits.ip_range.is_none();
                self.signed(&target_url(), canned)?
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

    /// Whether URIs on `target`'s host may be signed: the viewer's own origin
    /// or a configured extra host.
    fn signable_host(&self, target: &AbsoluteUrl) -> bool {
        target.same_origin(self.base)
            || self
                .rewriter
                .options
                .extra_hosts
                .iter()
                .any(|host| host.eq_ignore_ascii_case(target.host()))
    }

    /// The viewer's own parameters, when its custom policy covers the target
    /// (including LL-HLS reload queries for child playlists).
    fn propagated(&self, target_url: &str, child_playlist: bool) -> Option<Arc<str>> {
        let (grant, params) = self.viewer_params.as_ref()?;
        let resource = grant.policy.resource();
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

    /// The shared parameters of the target's directory (`origin/dir/*`).
    fn wildcard(&mut self, origin: &str, path: &str) -> Result<Arc<str>, SignError> {
        let directory = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        if let Some((last, params)) = &self.last_directory {
            if last.len() == origin.len() + directory.len()
                && last.starts_with(origin)
                && last.ends_with(directory)
            {
                self.stats.cache_hits += 1;
                return Ok(params.clone());
            }
        }
        let resource = format!("{origin}{directory}*");
        let params = self.signed(&resource, false)?;
        self.last_directory = Some((resource[..resource.len() - 1].to_owned(), params.clone()));
        Ok(params)
    }

    /// Parameters for a policy on `resource` under this request's limits.
    fn signed(&mut self, resource: &str, canned: bool) -> Result<Arc<str>, SignError> {
        let policy = self.limits.policy(resource);
        let (params, hit) =
            self.rewriter
                .cache
                .get_or_sign(&self.rewriter.signer, &policy, canned)?;
        if hit {
            self.stats.cache_hits += 1;
        } else {
            self.stats.signatures += 1;
        }
        Ok(params)
    }
}
