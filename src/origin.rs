//! Fetching the origin playlist: one reqwest client per instance, bounded
//! time and size, no redirects off the origin, and a small cache that
//! honours `Cache-Control: max-age` and revalidates with ETag /
//! `If-Modified-Since` (live playlists change every few seconds, VOD never).
//!
//! The request path was validated by the handler before it reaches here;
//! the origin base comes from configuration only, so the function can fetch
//! nothing but its origin.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::{
    HeaderMap, CACHE_CONTROL, CONTENT_LENGTH, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    LAST_MODIFIED, LOCATION,
};
use reqwest::StatusCode;

/// Why the origin gave no playlist; each maps to a status at the edge.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OriginError {
    #[error("origin answered {0} (no such playlist)")]
    NotFound(u16),
    #[error("origin answered {0}")]
    Status(u16),
    #[error("origin redirected off the origin (to {0}, query not shown)")]
    Redirect(String),
    #[error("origin did not answer within {0} ms")]
    Timeout(u128),
    #[error("origin playlist exceeds {0} bytes")]
    TooLarge(usize),
    #[error("origin playlist is not UTF-8 text")]
    NotText,
    #[error("origin unreachable: {0}")]
    Unreachable(String),
}

impl OriginError {
    /// The status the viewer gets: a missing playlist is a 404; anything
    /// else the origin did wrong is the gateway's problem (502 / 504).
    pub fn status(&self) -> u16 {
        match self {
            OriginError::NotFound(_) => 404,
            OriginError::Timeout(_) => 504,
            _ => 502,
        }
    }
}

/// A fetched playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub body: std::sync::Arc<str>,
    /// `max-age` from the origin, if any (caps our own `Cache-Control`).
    pub max_age: Option<u64>,
    /// Whether the body came from the cache (fresh or revalidated).
    pub from_cache: bool,
}

struct CacheEntry {
    body: std::sync::Arc<str>,
    etag: Option<String>,
    last_modified: Option<String>,
    max_age: Option<u64>,
    fresh_until: Instant,
    used: u64,
}

/// A folder, with file contents kept in memory (checked against the
/// file's modification time, so a regenerated sample is picked up).
pub struct FolderOrigin {
    root: PathBuf,
    files: std::sync::Mutex<
        std::collections::HashMap<PathBuf, (std::time::SystemTime, hyper::body::Bytes)>,
    >,
}

/// Files larger than this are read on every request, not kept in memory.
const MAX_CACHED_FILE: u64 = 8 << 20;

impl FolderOrigin {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            files: Default::default(),
        }
    }

    /// The file's bytes, or `None` when it does not exist.
    pub fn read(&self, relative: &str) -> Option<hyper::body::Bytes> {
        let path = self.root.join(relative);
        let metadata = std::fs::metadata(&path).ok().filter(|m| m.is_file())?;
        let modified = metadata.modified().ok()?;
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, bytes)) = files.get(&path) {
            if *at == modified {
                return Some(bytes.clone());
            }
        }
        let bytes = hyper::body::Bytes::from(std::fs::read(&path).ok()?);
        if metadata.len() <= MAX_CACHED_FILE && files.len() < 4096 {
            files.insert(path, (modified, bytes.clone()));
        }
        Some(bytes)
    }
}

/// Where playlists come from.
pub enum Origin {
    /// An HTTP(S) origin, fetched with reqwest.
    Http(HttpOrigin),
    /// A local folder (`hls-sign invoke --origin-dir`, the emulator).
    Dir(FolderOrigin),
}

impl Origin {
    /// Fetches `url` (for `Dir`, only its path is used).
    pub async fn fetch(&self, url: &str, path: &str) -> Result<Fetched, OriginError> {
        match self {
            Origin::Http(http) => http.fetch(url).await,
            Origin::Dir(folder) => {
                let bytes = folder
                    .read(path.trim_start_matches('/'))
                    .ok_or(OriginError::NotFound(404))?;
                let body = std::str::from_utf8(&bytes).map_err(|_| OriginError::NotText)?;
                Ok(Fetched {
                    body: body.into(),
                    max_age: None,
                    from_cache: false,
                })
            }
        }
    }
}

/// An HTTP origin with its client and cache.
pub struct HttpOrigin {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
    cache: Mutex<HashMap<String, CacheEntry>>,
    cache_size: usize,
    uses: std::sync::atomic::AtomicU64,
}

impl HttpOrigin {
    pub fn new(
        connect_timeout: Duration,
        timeout: Duration,
        max_bytes: usize,
        cache_size: usize,
    ) -> Result<Self, OriginError> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            // Redirects are reported, never followed: following one could
            // leave the origin.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hls-edge-signer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OriginError::Unreachable(e.to_string()))?;
        Ok(Self {
            client,
            timeout,
            max_bytes,
            cache: Mutex::new(HashMap::new()),
            cache_size,
            uses: Default::default(),
        })
    }

    async fn fetch(&self, url: &str) -> Result<Fetched, OriginError> {
        // Keyed by everything the body depends on (DESIGN §5.5): the whole
        // URL, the viewer's own query included (a token, an LL-HLS
        // `_HLS_msn`), without only the short-lived signing parameters of
        // our own fetch through the distribution.
        let key = crate::signed_url::UrlParts::split(url).without_signing_parameters();
        let now = Instant::now();
        let mut request = self.client.get(url);
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = cache.get(&key) {
                if now < entry.fresh_until {
                    return Ok(Fetched {
                        body: entry.body.clone(),
                        max_age: entry.max_age,
                        from_cache: true,
                    });
                }
                if let Some(etag) = &entry.etag {
                    request = request.header(IF_NONE_MATCH, etag);
                }
                if let Some(date) = &entry.last_modified {
                    request = request.header(IF_MODIFIED_SINCE, date);
                }
            }
        }
        let mut response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status == StatusCode::NOT_MODIFIED {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = cache.get_mut(&key) {
                let max_age = freshness(&headers).or(entry.max_age);
                entry.fresh_until = now + Duration::from_secs(max_age.unwrap_or(0));
                entry.max_age = max_age;
                return Ok(Fetched {
                    body: entry.body.clone(),
                    max_age,
                    from_cache: true,
                });
            }
            return Err(OriginError::Status(304));
        }
        if status.is_redirection() {
            // The target without its query: a redirect echoing our own
            // fetch's signature must not carry it into a log.
            let to = headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| {
                    l.split(['?', '#'])
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take(200)
                        .collect()
                })
                .unwrap_or_else(|| "?".to_owned());
            return Err(OriginError::Redirect(to));
        }
        if matches!(status.as_u16(), 403 | 404 | 410) {
            return Err(OriginError::NotFound(status.as_u16()));
        }
        if !status.is_success() {
            return Err(OriginError::Status(status.as_u16()));
        }
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > self.max_bytes) {
            return Err(OriginError::TooLarge(self.max_bytes));
        }
        let mut bytes = Vec::with_capacity(declared.unwrap_or(16 * 1024));
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            if bytes.len() + chunk.len() > self.max_bytes {
                return Err(OriginError::TooLarge(self.max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        let body: std::sync::Arc<str> = String::from_utf8(bytes)
            .map_err(|_| OriginError::NotText)?
            .into();
        let max_age = freshness(&headers);
        self.store(key, &headers, body.clone(), max_age, now);
        Ok(Fetched {
            body,
            max_age,
            from_cache: false,
        })
    }

    fn store(
        &self,
        key: String,
        headers: &HeaderMap,
        body: std::sync::Arc<str>,
        max_age: Option<u64>,
        now: Instant,
    ) {
        if self.cache_size == 0 {
            return;
        }
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let (etag, last_modified) = (text(ETAG), text(LAST_MODIFIED));
        let no_store = headers
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("no-store"));
        if no_store || (max_age.is_none() && etag.is_none() && last_modified.is_none()) {
            return;
        }
        let used = self.uses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= self.cache_size && !cache.contains_key(&key) {
            // Evict the least recently stored entry.
            if let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            {
                cache.remove(&oldest);
            }
        }
        cache.insert(
            key,
            CacheEntry {
                body,
                etag,
                last_modified,
                max_age,
                fresh_until: now + Duration::from_secs(max_age.unwrap_or(0)),
                used,
            },
        );
    }

    fn transport(&self, error: reqwest::Error) -> OriginError {
        if error.is_timeout() {
            OriginError::Timeout(self.timeout.as_millis())
        } else if error.is_connect() {
            OriginError::Unreachable("connection failed".to_owned())
        } else {
            OriginError::Unreachable("transfer failed".to_owned())
        }
    }
}

/// How long a response stays fresh from now: its `max-age` less the `Age`
/// a cache in between (the distribution) already kept it for. A live
/// playlist fetched through the distribution is never kept past what the
/// origin allowed.
fn freshness(headers: &HeaderMap) -> Option<u64> {
    let age = headers
        .get(reqwest::header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    max_age(headers).map(|max_age| max_age.saturating_sub(age))
}

/// `max-age` (or `s-maxage`) from `Cache-Control`; `no-cache`/`no-store`
/// mean zero.
fn max_age(headers: &HeaderMap) -> Option<u64> {
    let mut found = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-cache" || lower == "no-store" {
                return Some(0);
            }
            if let Some(n) = lower
                .strip_prefix("s-maxage=")
                .or_else(|| lower.strip_prefix("max-age="))
            {
                if let Ok(n) = n.trim_matches('"').parse::<u64>() {
                    found = Some(found.map_or(n, |f: u64| f.min(n)));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn max_age_reads_cache_control() {
        let mut headers = HeaderMap::new();
        assert_eq!(max_age(&headers), None);
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=6"));
        assert_eq!(max_age(&headers), Some(6));
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("max-age=60, s-maxage=2"),
        );
        assert_eq!(max_age(&headers), Some(2));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        assert_eq!(max_age(&headers), Some(0));
    }

    #[test]
    fn freshness_counts_the_age_already_spent_in_a_cache() {
        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=6"));
        assert_eq!(freshness(&headers), Some(6));
        headers.insert(reqwest::header::AGE, HeaderValue::from_static("4"));
        assert_eq!(freshness(&headers), Some(2));
        headers.insert(reqwest::header::AGE, HeaderValue::from_static("60"));
        assert_eq!(freshness(&headers), Some(0));
        headers.insert(reqwest::header::AGE, HeaderValue::from_static("x"));
        assert_eq!(freshness(&headers), Some(6));
        headers.remove(CACHE_CONTROL);
        assert_eq!(freshness(&headers), None);
    }
}
