//! The handler: one code path from every entry point (Lambda@Edge event,
//! function-URL event, `hls-sign invoke`, the emulator) into the core.
//!
//! Request → checks (route, method, path safety, host) → key → the viewer's
//! verified grant ([`super::viewer_grant`]; none, no signatures) → origin
//! fetch → rewrite → response (headers, CORS, gzip, size guard) and one
//! structured log record ([`super::log`]).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, Method, StatusCode};

use crate::config::Config;
use crate::delivery::{self, Fallback};
use crate::hls::rewrite::{Rewriter, Viewer};
use crate::manifest::{Route, Routes};
use crate::origin::{Origin, OriginError};
use crate::policy::Policy;
use crate::secrets::{KeyCache, KeyMaterial};
use crate::signed_url::UrlParts;

use super::deliver::{CookieSettings, Job};
use super::log::LogRecord;
use super::request::{response_size, Body, Outcome, PlaylistRequest, PlaylistResponse, Trigger};
use super::response::{cors_headers, encode, Refusal};
use super::viewer_grant::{verified_viewer, GrantHeaders, GrantRefusal};

/// The function, built once per instance.
pub struct Handler {
    config: Config,
    keys: KeyCache,
    origin: Origin,
    /// The rewriter for the current key generation (its signature cache
    /// lives as long as the key does).
    rewriter: Mutex<Option<(u64, Arc<Rewriter>)>>,
}

/// How long the signature on an origin request (origin = the distribution)
/// stays valid: long enough for the fetch (at least this, at most this plus
/// the bucket).
const ORIGIN_SIGNATURE_SECONDS: u64 = 60;
/// Its expiry is rounded to this, so one signature serves a bucket's fetches.
const ORIGIN_SIGNATURE_BUCKET: u64 = 10;

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

    /// The routing suffixes requests end with (`._m3u8`, `._mpd`; the
    /// origin extension when renaming is off).
    pub fn routes(&self) -> Routes<'_> {
        Routes {
            hls: &self.config.rewrite.suffix,
            dash: &self.config.rewrite.dash_suffix,
        }
    }

    /// Handles one request at `now` (epoch seconds).
    pub async fn handle(&self, request: &PlaylistRequest, now: u64) -> (Outcome, LogRecord) {
        let mut log = LogRecord {
            request_id: request.request_id.chars().take(128).collect(),
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
            log.status = response.status.as_u16();
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
        let routes = self.routes();
        let Some(route) = routes.route(&request.path) else {
            return match request.trigger {
                Trigger::FunctionUrl => Err(Refusal::new(
                    StatusCode::NOT_FOUND,
                    "not a playlist route",
                    log,
                )),
                _ => Ok(None),
            };
        };
        log.format = route.format.as_str();
        if request.method != Method::GET && request.method != Method::HEAD {
            return Err(Refusal::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "only GET and HEAD",
                log,
            ));
        }
        let requested = delivery::requested(&request.query).map_err(|reason| {
            Refusal::new(StatusCode::BAD_REQUEST, "unknown delivery", log).with_detail(reason, log)
        })?;
        crate::paths::check_path(&request.path).map_err(|reason| {
            Refusal::new(StatusCode::BAD_REQUEST, "unsafe path", log).with_detail(reason, log)
        })?;
        // A child playlist's grant ends in `*` (for LL-HLS reload queries);
        // a path that goes on past a routing suffix (`…/index._m3u8/x._m3u8`)
        // would let that `*` open another manifest.
        if routes.continues_past_a_route(route.stem) {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "path continues past a playlist",
                log,
            ));
        }
        let host = self.distribution_host(request).ok_or_else(|| {
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "distribution host unknown",
                log,
            )
        })?;
        let key = self.keys.get(now).await.map_err(|e| {
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "signing key unavailable",
                log,
            )
            .with_detail(e, log)
        })?;
        let viewer = verified_viewer(
            request,
            &format!("https://{host}{}", request.path),
            GrantHeaders {
                query: self.config.grant_header.as_deref(),
                cookies: self.config.grant_cookie_header.as_deref(),
            },
            &key.trusted,
            now,
            None,
        )
        .map_err(|refusal| {
            let message = match refusal {
                GrantRefusal::Missing => "no viewer grant",
                GrantRefusal::Rejected(_) => "viewer grant rejected",
                GrantRefusal::WildcardOnly => "viewer grant does not open manifests",
            };
            Refusal::new(StatusCode::FORBIDDEN, message, log).with_detail(refusal, log)
        })?;
        log.grant = Some(viewer.source_name());
        log.grant_key = Some(viewer.grant.key_pair_id().chars().take(64).collect());

        let fetched = self
            .fetch_origin(request, &route, &host, &key, now, log)
            .await?;

        let started = Instant::now();
        let rewriter = self.rewriter_for(&key);
        let plan = delivery::choose(
            self.config.delivery,
            requested.map(|(delivery, _)| delivery),
            &viewer.grant,
            delivery::tree(&viewer.url),
        );
        let job = Job {
            rewriter: &rewriter,
            format: route.format,
            body: &fetched.body,
            viewer: Viewer {
                url: &viewer.url,
                grant: &viewer.grant,
                client_ip: request.client_ip,
            },
            now,
            requested_pair: requested.map(|(_, pair)| pair),
            cookies: CookieSettings {
                domain: self.config.cookie_domain.as_deref(),
                same_site: &self.config.cookie_same_site,
            },
        };
        let delivered = job.run(plan).map_err(|e| {
            let (status, message) = match e {
                crate::hls::rewrite::RewriteError::Grant(_) => {
                    (StatusCode::FORBIDDEN, "no grant can be issued")
                }
                _ => (StatusCode::BAD_GATEWAY, "origin manifest not rewritable"),
            };
            Refusal::new(status, message, log).with_detail(e, log)
        })?;
        log.sign_ms = started.elapsed().as_secs_f64() * 1000.0;
        log.delivery = delivered.name;
        log.delivery_fallback = delivered.fallback.map(Fallback::as_str);
        log.cookies_set = !delivered.set_cookies.is_empty();
        let rewritten = delivered.rewritten;
        let stats = rewritten.stats;
        log.uris = stats.uris;
        log.signed = stats.signed;
        log.propagated = stats.propagated;
        log.unsigned = stats.unsigned;
        log.unsigned_reason = stats.unsigned_reason.map(|r| r.as_str());
        log.signatures = stats.signatures;
        log.cache_hits = stats.cache_hits;
        log.ip_pinned = rewritten.pinned;

        // Never longer than the signatures inside, than the origin keeps its
        // own, or (live) than half a reload interval: a rewritten live
        // playlist is stale as soon as the origin's is (crate::live).
        let max_age = [
            Some(rewritten.expires.saturating_sub(now)),
            fetched.max_age,
            rewritten.live_max_age,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(0);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(route.format.content_type()),
        );
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_str(&format!("private, max-age={max_age}"))
                .unwrap_or(HeaderValue::from_static("no-store")),
        );
        for cookie in &delivered.set_cookies {
            if let Ok(value) = HeaderValue::from_str(cookie) {
                headers.append(SET_COOKIE, value);
            }
        }
        // Cookies only reach a player on another origin when its requests
        // carry credentials, which CORS allows only for an explicit origin.
        cors_headers(
            &self.config.cors_allowed_origins,
            delivered.name == "cookies",
            request,
            &mut headers,
        );
        let body = encode(self.config.gzip, request, rewritten.body, &mut headers, log);
        let body = if request.method == Method::HEAD {
            Body::Empty
        } else {
            body
        };
        let response = PlaylistResponse {
            status: StatusCode::OK,
            headers,
            body,
        };
        let size = response_size(&response, request.trigger);
        if size > request.trigger.response_limit() {
            log.oversize = true;
            return Err(Refusal::new(
                StatusCode::BAD_GATEWAY,
                "rewritten manifest exceeds the response limit",
                log,
            )
            .with_detail(
                format!(
                    "{size} bytes > {} for {}",
                    request.trigger.response_limit(),
                    request.trigger.as_str()
                ),
                log,
            ));
        }
        Ok(Some(response))
    }

    /// The distribution's host: from the event, else the configured header
    /// (set by the CloudFront Function), else the configuration.
    fn distribution_host(&self, request: &PlaylistRequest) -> Option<String> {
        request
            .host
            .clone()
            .or_else(|| request.header(&self.config.host_header).map(str::to_owned))
            .or_else(|| self.config.distribution_host.clone())
            .map(|h| h.to_ascii_lowercase())
            .filter(|h| is_host_name(h))
    }

    /// Fetches the origin manifest: the same path with the routing suffix
    /// mapped back to `.m3u8` / `.mpd`, the viewer's own query kept.
    async fn fetch_origin(
        &self,
        request: &PlaylistRequest,
        route: &Route<'_>,
        host: &str,
        key: &Arc<KeyMaterial>,
        now: u64,
        log: &mut LogRecord,
    ) -> Result<crate::origin::Fetched, Refusal> {
        let origin_path = route.origin_path();
        let mut origin_url = match &self.config.origin {
            Some(origin) => format!("{origin}{origin_path}"),
            None => format!("https://{host}{origin_path}"),
        };
        let own_query: Vec<&str> = UrlParts::query_only(&request.query)
            .own_pairs()
            .filter(|pair| !delivery::is_choice(pair))
            .collect();
        if !own_query.is_empty() {
            origin_url.push('?');
            origin_url.push_str(&own_query.join("&"));
        }
        if self.config.origin.is_none() && matches!(self.origin, Origin::Http(_)) {
            // The origin is the distribution, whose `.m3u8` / `.mpd`
            // behavior requires
            // a signature too: a short canned one, just for this fetch,
            // made for the URL as CloudFront sees it.
            // The expiry is rounded so the signature is made once per bucket
            // and then comes from the signature cache (keyed by the whole
            // URL, the viewer's own query included).
            let expires =
                crate::grant::round_up(now + ORIGIN_SIGNATURE_SECONDS, ORIGIN_SIGNATURE_BUCKET);
            let policy = Policy::canned(&origin_url, expires);
            let (params, _) = self
                .rewriter_for(key)
                .cache()
                .get_or_sign(&key.signer, &policy, true)
                .map_err(|e| {
                    Refusal::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "origin URL not signable",
                        log,
                    )
                    .with_detail(e, log)
                })?;
            origin_url.push(if own_query.is_empty() { '?' } else { '&' });
            origin_url.push_str(&params);
            if let Some(endpoint) = &self.config.distribution_endpoint {
                let https = format!("https://{host}");
                origin_url = format!("{endpoint}{}", &origin_url[https.len()..]);
            }
        }
        let started = Instant::now();
        let fetched = self.origin.fetch(&origin_url, &origin_path).await;
        log.origin_ms = started.elapsed().as_secs_f64() * 1000.0;
        let fetched = fetched.map_err(|e: OriginError| {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY);
            Refusal::new(status, "origin error", log).with_detail(e, log)
        })?;
        log.origin_cache_hit = fetched.from_cache;
        Ok(fetched)
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
}

/// A DNS name or IPv4 address, optionally with a port.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
}
