//! One structured log record per request, and its CloudWatch metrics line.
//!
//! Nothing here ever holds a key, a secret value or a complete signature:
//! reasons are built from fixed phrases and from errors that quote neither
//! (see [`crate::keys`] and [`crate::verify`]).

/// One structured log record per request.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LogRecord {
    pub request_id: String,
    pub trigger: &'static str,
    pub path: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub mode: &'static str,
    /// How the URIs reach their grants (`rewrite`, `cookies`, `define`,
    /// `urlquery`), and why another asked for was not used.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub delivery: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_fallback: Option<&'static str>,
    /// Signed cookies set (never their values).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cookies_set: bool,
    /// The manifest format routed to (`hls`, `dash`), once known.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub format: &'static str,
    /// Where the viewer's verified grant came from (`query`, `cookies`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<&'static str>,
    /// The key pair id the viewer's grant was signed with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_key: Option<String>,
    pub uris: usize,
    pub signed: usize,
    pub propagated: usize,
    /// URIs the scope rules left unsigned, and the first reason.
    pub unsigned: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsigned_reason: Option<&'static str>,
    pub signatures: usize,
    pub cache_hits: usize,
    /// Whether the issued grants are pinned to the client's address.
    pub ip_pinned: bool,
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
            map.insert("msg".into(), "manifest request".into());
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
                        {"Name": "Refused", "Unit": "Count"},
                        {"Name": "Oversize", "Unit": "Count"},
                        {"Name": "Signatures", "Unit": "Count"},
                        {"Name": "SignatureCacheHits", "Unit": "Count"},
                        {"Name": "UnsignedUris", "Unit": "Count"},
                        {"Name": "OriginMs", "Unit": "Milliseconds"},
                        {"Name": "SignMs", "Unit": "Milliseconds"},
                        {"Name": "ResponseBytes", "Unit": "Bytes"}
                    ]
                }]
            },
            "Trigger": self.trigger,
            "Requests": 1,
            "Errors": u8::from(self.status >= 500),
            "Refused": u8::from(self.status == 403),
            "Oversize": u8::from(self.oversize),
            "Signatures": self.signatures,
            "SignatureCacheHits": self.cache_hits,
            "UnsignedUris": self.unsigned,
            "OriginMs": self.origin_ms,
            "SignMs": self.sign_ms,
            "ResponseBytes": self.bytes,
        })
        .to_string()
    }
}
