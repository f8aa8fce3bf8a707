//! Building responses: the playlist's headers (content type, caching, CORS),
//! gzip where it helps, and short refusals.

use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW,
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, VARY,
};
use http::{HeaderMap, Method, StatusCode};

use super::log::LogRecord;
use super::request::{Body, PlaylistRequest, PlaylistResponse};

/// A refusal: status, short body, and the log reason it sets.
pub struct Refusal {
    status: StatusCode,
    message: &'static str,
}

impl Refusal {
    pub fn new(status: StatusCode, message: &'static str, log: &mut LogRecord) -> Self {
        log.reason = Some(message.to_owned());
        Self { status, message }
    }

    /// Adds detail to the log only (the viewer sees the short message).
    pub fn with_detail(self, detail: impl std::fmt::Display, log: &mut LogRecord) -> Self {
        log.reason = Some(format!("{}: {detail}", self.message));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn response(&self, request: &PlaylistRequest) -> PlaylistResponse {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        let body = if request.method == Method::HEAD {
            Body::Empty
        } else {
            Body::Text(format!("{} {}\n", self.status.as_u16(), self.message))
        };
        PlaylistResponse {
            status: self.status,
            headers,
            body,
        }
    }
}

/// CORS for the configured player origins: the request's `Origin` echoed
/// when allowed (never `*` when credentials are allowed), with `Vary`.
pub fn cors_headers(
    allowed: &[String],
    credentials: bool,
    request: &PlaylistRequest,
    headers: &mut HeaderMap,
) {
    if allowed.is_empty() {
        return;
    }
    if allowed.iter().any(|o| o == "*") && !credentials {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        return;
    }
    headers.append(VARY, HeaderValue::from_static("Origin"));
    let Some(origin) = request.header("origin") else {
        return;
    };
    if allowed.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
        if let Ok(value) = HeaderValue::from_str(origin) {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
            if credentials {
                headers.insert(
                    ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
        }
    }
}

/// gzip when the viewer accepts it and it makes the response smaller.
pub fn encode(
    enabled: bool,
    request: &PlaylistRequest,
    text: String,
    headers: &mut HeaderMap,
    log: &mut LogRecord,
) -> Body {
    let accepts_gzip = request
        .joined_header("accept-encoding", ",")
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    if !enabled || !accepts_gzip || text.len() < 1024 {
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
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            headers.append(VARY, HeaderValue::from_static("Accept-Encoding"));
            log.gzip = true;
            Body::Gzip(gzip)
        }
        _ => Body::Text(text),
    }
}
