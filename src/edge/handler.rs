//! The handler: one code path from every entry point (Lambda@Edge event,
//! function-URL event, `hls-sign invoke`, the emulator) into the core.
//!
//! Request → checks (method, path safety, route) → viewer grant → key →
//! origin fetch → rewrite → response (headers, CORS, gzip, size guard) and
//! one structured log record.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::config::Config;
use crate::hls::rewrite::{Rewriter, Viewer};
use crate::origin::{Origin, OriginError};
use crate::policy::Policy;
use crate::secrets::{KeyCache, KeyMaterial};
use crate::signed_url::{parse_cookie_header, read_grant, verify_request, Grant, UrlParts};

/// Which entry point a request came through; it sets the response limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    ViewerRequest,
    OriginRequest,
    FunctionUrl,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::ViewerRequest => "viewer-request",
            Trigger::OriginRequest => "origin-request",
            Trigger::FunctionUrl => "function-url",
        }
    }

    /// The largest generated response (headers + body) CloudFront accepts
    /// from this trigger; a larger one becomes CloudFront's own 502.
    pub fn response_limit(self) -> usize {
        match self {
            Trigger::ViewerRequest => 40 * 1024,
            Trigger::OriginRequest => 1024 * 1024,
            // Lambda's synchronous response payload limit.
            Trigger::FunctionUrl => 6 * 1024 * 1024,
        }
    }
}

/// A request in the shape the handler needs, whatever the entry point.
#[derive(Clone, Debug)]
pub struct PlaylistRequest {
    pub trigger: Trigger,
    pub request_id: String,
    pub method: String,
    /// The path as received (percent-encoded), e.g. `/videos/index._m3u8`.
    pub path: String,
    /// The query without `?` (may be empty).
    pub query: String,
    /// The distribution's host name, when the entry point knows it.
    pub host: Option<String>,
    pub client_ip: Option<IpAddr>,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
}

impl PlaylistRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A generated response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaylistResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Empty,
    Text(String),
    /// gzip bytes (sent base64-encoded where the transport needs text).
    Gzip(Vec<u8>),
}

impl Body {
    pub fn len(&self) -> usize {
        match self {
            Body::Empty => 0,
            Body::Text(text) => text.len(),
            Body::Gzip(bytes) => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What to do with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not ours (not the routing suffix): let CloudFront carry on.
    PassThrough,
    Respond(PlaylistResponse),
}

/// One structured log record per request (no keys, no signatures).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LogRecord {
    pub request_id: String,
    pub trigger: &'static str,
    pub path: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub mode: &'static str,
    pub uris: usize,
    pub signed: usize,
    pub propagated: usize,
    pub signatures: usize,
    pub cache_hits: usize,
    pub origin_cache_hit: bool,
    pub origin_ms: f64,
    pub sign_ms: f64,
    pub bytes: usize,
    pub gzip: bool,
    pub oversize: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_degraded: Option<String>,
}

impl LogRecord {
    /// The JSON log line.
    pub fn json_line(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            let level = if self.status >= 500 { "error" } else { "info" };
            map.insert("level".into(), level.into());
            map.insert("msg".into(), "playlist request".into());
        }
        value.to_string()
    }

    /// One CloudWatch embedded-metric-format line.
    pub fn emf_line(&self, timestamp_ms: u64) -> String {
        serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "hls-edge-signer",
                    "Dimensions": [["Trigger"]],
                    "Metrics": [
                        {"Name": "Requests", "Unit": "Count"},
                        {"Name": "Errors", "Unit": "Count"},
                        {"Name": "Oversize", "Unit": "Count"},
                        {"Name": "Signatures", "Unit": "Count"},
                        {"Name": "SignatureCacheHits", "Unit": "Count"},
                        {"Name": "OriginMs", "Unit": "Milliseconds"},
                        {"Name": "SignMs", "Unit": "Milliseconds"},
                        {"Name": "ResponseBytes", "Unit": "Bytes"}
                    ]
                }]
            },
            "Trigger": self.trigger,
            "Requests": 1,
            "Errors": u8::from(self.status >= 500),
            "Oversize": u8::from(self.oversize),
            "Signatures": self.signatures,
            "SignatureCacheHits": self.cache_hits,
            "OriginMs": self.origin_ms,
            "SignMs": self.sign_ms,
            "ResponseBytes": self.bytes,
        })
        .to_string()
    }
}

/// The function, built once per instance.
pub struct Handler {
    config: Config,
    keys: KeyCache,
    origin: Origin,
    /// The rewriter for the current key generation (its signature cache
    /// lives as long as the key does).
    rewriter: Mutex<Option<(u64, Arc<Rewriter>)>>,
}

/// Longest request path accepted (CloudFront allows 8 KB of URL; playlists
/// live at short paths).
const MAX_PATH: usize = 1024;

/// How long the signature on an origin request (origin = the distribution)
/// stays valid: just long enough for the fetch.
const ORIGIN_SIGNATURE_SECONDS: u64 = 60;

impl Handler {
    pub fn new(config: Config, keys: KeyCache, origin: Origin) -> Self {
        Self {
            config,
            keys,
            origin,
            rewriter: Mutex::new(None),
        }
    }

    /// Builds the handler's clients once (cold start): the key source and
    /// the origin (`origin_dir` serves playlists from a folder instead).
    pub async fn from_config(
        config: Config,
        origin_dir: Option<std::path::PathBuf>,
    ) -> Result<Self, OriginError> {
        let source = crate::secrets::KeySource::from_config(&config.key_source).await;
        let keys = KeyCache::new(source, &config);
        let origin = match origin_dir {
            Some(dir) => Origin::Dir(crate::origin::FolderOrigin::new(dir)),
            None => Origin::Http(crate::origin::HttpOrigin::new(
                config.connect_timeout,
                config.timeout,
                config.max_playlist_bytes,
                config.playlist_cache_size,
            )?),
        };
        Ok(Self::new(config, keys, origin))
    }

    /// Loads the key and signs once, so the first viewer does not pay for
    /// the key fetch and the crypto library's first-use setup.
    pub async fn warm_up(&self, now: u64) -> Result<(), crate::secrets::KeySourceError> {
        let key = self.keys.get(now).await?;
        let policy = Policy::canned("https://warm-up.invalid/", now + 60);
        key.signer
            .sign_policy(&policy, true)
            .map(drop)
            .map_err(|e| crate::secrets::KeySourceError::Content(e.to_string()))
    }

    /// The key cache (the emulator verifies requests with its public keys).
    pub fn keys(&self) -> &KeyCache {
        &self.keys
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The routing suffix requests must end with (`.m3u8` when renaming is off).
    pub fn route_suffix(&self) -> &str {
        match self.config.rewrite.suffix.as_str() {
            "" => ".m3u8",
            suffix => suffix,
        }
    }

    /// Handles one request at `now` (epoch seconds).
    pub async fn handle(&self, request: &PlaylistRequest, now: u64) -> (Outcome, LogRecord) {
        let mut log = LogRecord {
            request_id: request.request_id.clone(),
            trigger: request.trigger.as_str(),
            path: request.path.chars().take(256).collect(),
            mode: self.config.rewrite.mode.as_str(),
            ..LogRecord::default()
        };
        let outcome = match self.respond(request, now, &mut log).await {
            Ok(Some(response)) => Outcome::Respond(response),
            Ok(None) => Outcome::PassThrough,
            Err(refusal) => Outcome::Respond(refusal.response(request)),
        };
        if let Outcome::Respond(response) = &outcome {
            log.status = response.status;
            log.bytes = response.body.len();
        }
        log.key_degraded = self.keys.degraded();
        (outcome, log)
    }

    async fn respond(
        &self,
        request: &PlaylistRequest,
        now: u64,
        log: &mut LogRecord,
    ) -> Result<Option<PlaylistResponse>, Refusal> {
        if !request.path.ends_with(self.route_suffix()) {
            return match request.trigger {
                Trigger::FunctionUrl => Err(Refusal::new(404, "not a playlist route", log)),
                _ => Ok(None),
            };
        }
        if request.method != "GET" && request.method != "HEAD" {
            return Err(Refusal::new(405, "only GET and HEAD", log));
        }
        check_path(&request.path).map_err(|reason| Refusal::new(400, reason, log))?;
        let host = request
            .host
            .clone()
            .or_else(|| request.header(&self.config.host_header).map(str::to_owned))
            .or_else(|| self.config.distribution_host.clone())
            .map(|h| h.to_ascii_lowercase())
            .filter(|h| is_host_name(h))
            .ok_or_else(|| Refusal::new(500, "distribution host unknown", log))?;
        let key = self.keys.get(now).await.map_err(|e| {
            Refusal::new(500, "signing key unavailable", log).with_detail(e.to_string(), log)
        })?;
        let viewer_query = UrlParts::query_only(&request.query);
        let own_query: Vec<&str> = viewer_query.own_pairs().collect();
        let carries_grant = viewer_query.carries_signing_parameters();
        let base_url = format!("https://{host}{}", request.path);
        let (viewer_url, grant) = self.viewer_grant(
            request,
            &base_url,
            &own_query,
            carries_grant,
            &key,
            now,
            log,
        )?;

        // Origin fetch: the same path with the routing suffix mapped back.
        let origin_path = format!(
            "{}.m3u8",
            &request.path[..request.path.len() - self.route_suffix().len()]
        );
        let mut origin_url = match &self.config.origin {
            Some(origin) => format!("{origin}{origin_path}"),
            None => format!("https://{host}{origin_path}"),
        };
        if !own_query.is_empty() {
            origin_url.push('?');
            origin_url.push_str(&own_query.join("&"));
        }
        if self.config.origin.is_none() && matches!(self.origin, Origin::Http(_)) {
            // The origin is the distribution, whose `.m3u8` behavior requires
            // a signature too: a short canned one, just for this fetch.
            let policy = Policy::canned(&origin_url, now + ORIGIN_SIGNATURE_SECONDS);
            origin_url = key.signer.sign_url(&origin_url, &policy).map_err(|e| {
                Refusal::new(500, "origin URL not signable", log).with_detail(e.to_string(), log)
            })?;
        }
        let started = Instant::now();
        let fetched = self.origin.fetch(&origin_url, &origin_path).await;
        log.origin_ms = started.elapsed().as_secs_f64() * 1000.0;
        let fetched = fetched.map_err(|e: OriginError| {
            Refusal::new(e.status(), "origin error", log).with_detail(e.to_string(), log)
        })?;
        log.origin_cache_hit = fetched.from_cache;

        let started = Instant::now();
        let rewriter = self.rewriter_for(&key);
        let viewer = Viewer {
            url: &viewer_url,
            grant: grant.as_ref(),
            client_ip: request.client_ip,
        };
        let rewritten = rewriter.rewrite(&fetched.body, &viewer, now).map_err(|e| {
            Refusal::new(502, "origin playlist not rewritable", log).with_detail(e.to_string(), log)
        })?;
        log.sign_ms = started.elapsed().as_secs_f64() * 1000.0;
        let stats = rewritten.stats;
        (
            log.uris,
            log.signed,
            log.propagated,
            log.signatures,
            log.cache_hits,
        ) = (
            stats.uris,
            stats.signed,
            stats.propagated,
            stats.signatures,
            stats.cache_hits,
        );

        let mut max_age = rewritten.expires.saturating_sub(now);
        if let Some(origin_max_age) = fetched.max_age {
            max_age = max_age.min(origin_max_age);
        }
        let mut headers = vec![
            (
                "content-type".to_owned(),
                "application/vnd.apple.mpegurl".to_owned(),
            ),
            (
                "cache-control".to_owned(),
                format!("private, max-age={max_age}"),
            ),
        ];
        self.cors_headers(request, &mut headers);
        let body = self.encode(request, rewritten.body, &mut headers, log);
        let body = if request.method == "HEAD" {
            Body::Empty
        } else {
            body
        };
        let response = PlaylistResponse {
            status: 200,
            headers,
            body,
        };
        let size = response_size(&response, request.trigger);
        if size > request.trigger.response_limit() {
            log.oversize = true;
            return Err(
                Refusal::new(502, "rewritten playlist exceeds the response limit", log)
                    .with_detail(
                        format!(
                            "{size} bytes > {} for {}",
                            request.trigger.response_limit(),
                            request.trigger.as_str()
                        ),
                        log,
                    ),
            );
        }
        Ok(Some(response))
    }

    /// The URL the viewer fetched (as the rewriter's base) and its grant.
    ///
    /// Lambda@Edge events carry the query (and cookies) CloudFront already
    /// verified. Behind a function URL CloudFront has stripped them, so the
    /// grant arrives in a header set by the distribution's CloudFront
    /// Function — and is verified here with the trusted keys before use,
    /// since it only proves something once its signature checks out.
    #[allow(clippy::too_many_arguments)]
    fn viewer_grant(
        &self,
        request: &PlaylistRequest,
        base_url: &str,
        own_query: &[&str],
        carries_grant: bool,
        key: &KeyMaterial,
        now: u64,
        log: &mut LogRecord,
    ) -> Result<(String, Option<Grant>), Refusal> {
        let cookies = request
            .header("cookie")
            .map(parse_cookie_header)
            .unwrap_or_default();
        let has_cookie_grant = cookies.iter().any(|(n, _)| n.starts_with("CloudFront-"));
        let header_grant = self
            .config
            .grant_header
            .as_deref()
            .and_then(|name| request.header(name))
            .filter(|v| !v.is_empty());
        if request.trigger != Trigger::FunctionUrl && (carries_grant || has_cookie_grant) {
            let url = with_query(base_url, &[&request.query]);
            let grant = read_grant(&url, &cookies).map_err(|r| {
                Refusal::new(403, "malformed viewer grant", log).with_detail(r.to_string(), log)
            })?;
            return Ok((url, Some(grant)));
        }
        if let Some(header) = header_grant {
            let mut parts: Vec<&str> = own_query.to_vec();
            parts.push(header);
            let url = with_query(base_url, &parts);
            let grant = verify_request(&url, &cookies, &key.trusted, now, request.client_ip)
                .map_err(|r| {
                    Refusal::new(403, "viewer grant rejected", log).with_detail(r.to_string(), log)
                })?;
            return Ok((url, Some(grant)));
        }
        if has_cookie_grant {
            let url = with_query(base_url, own_query);
            let grant = verify_request(&url, &cookies, &key.trusted, now, request.client_ip)
                .map_err(|r| {
                    Refusal::new(403, "viewer grant rejected", log).with_detail(r.to_string(), log)
                })?;
            return Ok((url, Some(grant)));
        }
        Ok((with_query(base_url, own_query), None))
    }

    /// The rewriter for this key; rebuilt (with a fresh signature cache)
    /// when the key changes.
    fn rewriter_for(&self, key: &Arc<KeyMaterial>) -> Arc<Rewriter> {
        let mut slot = self.rewriter.lock().unwrap_or_else(|e| e.into_inner());
        match &*slot {
            Some((generation, rewriter)) if *generation == key.generation => rewriter.clone(),
            _ => {
                let rewriter = Arc::new(Rewriter::new(
                    key.signer.clone(),
                    self.config.rewrite.clone(),
                    self.config.signature_cache_size,
                ));
                *slot = Some((key.generation, rewriter.clone()));
                rewriter
            }
        }
    }

    fn cors_headers(&self, request: &PlaylistRequest, headers: &mut Vec<(String, String)>) {
        let allowed = &self.config.cors_allowed_origins;
        if allowed.is_empty() {
            return;
        }
        if allowed.iter().any(|o| o == "*") {
            headers.push(("access-control-allow-origin".into(), "*".into()));
            return;
        }
        headers.push(("vary".into(), "Origin".into()));
        if let Some(origin) = request.header("origin") {
            if allowed.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
                headers.push(("access-control-allow-origin".into(), origin.to_owned()));
            }
        }
    }

    /// gzip when the viewer accepts it and it makes the response smaller.
    fn encode(
        &self,
        request: &PlaylistRequest,
        text: String,
        headers: &mut Vec<(String, String)>,
        log: &mut LogRecord,
    ) -> Body {
        let accepts_gzip = request
            .header("accept-encoding")
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
        if !self.config.gzip || !accepts_gzip || text.len() < 1024 {
            return Body::Text(text);
        }
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(text.len() / 4),
            flate2::Compression::new(6),
        );
        if encoder.write_all(text.as_bytes()).is_err() {
            return Body::Text(text);
        }
        match encoder.finish() {
            // Base64 (for the edge) costs 4/3: only worth it if still smaller.
            Ok(gzip) if gzip.len() * 4 / 3 + 4 < text.len() => {
                headers.push(("content-encoding".into(), "gzip".into()));
                headers.push(("vary".into(), "Accept-Encoding".into()));
                log.gzip = true;
                Body::Gzip(gzip)
            }
            _ => Body::Text(text),
        }
    }
}

/// `url` with the non-empty query parts joined by `&`.
fn with_query(url: &str, parts: &[&str]) -> String {
    let parts: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        url.to_owned()
    } else {
        format!("{url}?{}", parts.join("&"))
    }
}

/// The response size as CloudFront counts it for a generated response:
/// header names and values plus the body as sent (base64 at the edge).
pub fn response_size(response: &PlaylistResponse, trigger: Trigger) -> usize {
    let headers: usize = response
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    let body = match (&response.body, trigger) {
        (Body::Gzip(bytes), Trigger::ViewerRequest | Trigger::OriginRequest) => {
            bytes.len().div_ceil(3) * 4
        }
        (body, _) => body.len(),
    };
    headers + body
}

/// Refuses paths that could make the origin fetch leave the playlist tree:
/// dot segments (plain or percent-encoded), encoded slashes or
/// backslashes, NUL, control characters, and absolute-form or overlong
/// paths. The origin path is built from what passes.
pub fn check_path(path: &str) -> Result<(), &'static str> {
    if path.len() > MAX_PATH {
        return Err("path too long");
    }
    if !path.starts_with('/') || path.starts_with("//") {
        return Err("path must be origin-relative");
    }
    if path
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b == b'\\' || b >= 0x80)
    {
        return Err("path holds a forbidden character");
    }
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c", "%00", "%25"]
        .iter()
        .any(|encoded| lower.contains(encoded))
    {
        return Err("path holds an encoded dot, slash, backslash or percent");
    }
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err("path holds a dot segment");
    }
    Ok(())
}

/// A DNS name or IPv4 address, optionally with a port.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
}

/// A refusal: status, short body, and the log fields it sets.
struct Refusal {
    status: u16,
    message: &'static str,
}

impl Refusal {
    fn new(status: u16, message: &'static str, log: &mut LogRecord) -> Self {
        log.reason = Some(message.to_owned());
        Self { status, message }
    }

    /// Adds detail to the log only (the viewer sees the short message).
    fn with_detail(self, detail: String, log: &mut LogRecord) -> Self {
        log.reason = Some(format!("{}: {detail}", self.message));
        self
    }

    fn response(&self, request: &PlaylistRequest) -> PlaylistResponse {
        let mut headers = vec![
            (
                "content-type".to_owned(),
                "text/plain; charset=utf-8".to_owned(),
            ),
            ("cache-control".to_owned(), "no-store".to_owned()),
        ];
        if self.status == 405 {
            headers.push(("allow".to_owned(), "GET, HEAD".to_owned()));
        }
        let body = if request.method == "HEAD" {
            Body::Empty
        } else {
            Body::Text(format!("{} {}\n", self.status, self.message))
        };
        PlaylistResponse {
            status: self.status,
            headers,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in [
            "/../etc/passwd._m3u8",
            "/a/%2e%2e/b._m3u8",
            "/a/%2E%2e/b._m3u8",
            "/a%2fb._m3u8",
            "/a\\b._m3u8",
            "//evil.example/x._m3u8",
            "https://evil.example/x._m3u8",
            "/a/./b._m3u8",
            "/a%00._m3u8",
            "/a%252e%252e/b._m3u8",
            "/a b._m3u8",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert!(check_path(&format!("/{}._m3u8", "a".repeat(MAX_PATH))).is_err());
        for good in ["/videos/index._m3u8", "/v/a..b/x-1_2._m3u8", "/v/%41._m3u8"] {
            assert_eq!(check_path(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn edge_size_counts_base64() {
        let response = PlaylistResponse {
            status: 200,
            headers: vec![("a".into(), "bc".into())],
            body: Body::Gzip(vec![0; 30]),
        };
        assert_eq!(response_size(&response, Trigger::ViewerRequest), 3 + 40);
        assert_eq!(response_size(&response, Trigger::FunctionUrl), 3 + 30);
    }
}
