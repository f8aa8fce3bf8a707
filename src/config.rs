//! The function's configuration: compiled-in JSON, an optional file beside
//! the binary, then environment variables — validated once at cold start.
//!
//! Lambda@Edge has no environment variables, so the edge build carries its
//! configuration inside the binary (`HLS_EDGE_CONFIG=path cargo build` picks
//! the file; see `build.rs`). The regional deployment sets `HLS_*`
//! environment variables, which override individual fields. Every field is
//! checked here, so a typo fails the cold start with a message naming the
//! field instead of failing requests later.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::delivery::Delivery;
use crate::grant::{Expiry, IpPinning, Ipv6Viewers};
use crate::hls::rewrite::{Mode, RewriteOptions};
use crate::scope::Confinement;
use crate::verify::TrustedKeys;
use crate::{HashAlgorithm, PublicKey};

/// The configuration compiled into the binary (`{}` unless `HLS_EDGE_CONFIG`
/// named a file at build time).
pub const COMPILED_IN: &str = include_str!(concat!(env!("OUT_DIR"), "/compiled-config.json"));

/// The file read from beside the binary when present.
pub const FILE_BESIDE_BINARY: &str = "hls-edge-signer.json";

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config JSON: {0}")]
    Json(String),
    #[error("config field `{field}`: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("config file {path}: {reason}")]
    File { path: String, reason: String },
}

fn field(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Field {
        field,
        reason: reason.into(),
    }
}

/// Where the private key comes from.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct KeyConfig {
    /// Secrets Manager secret id or ARN.
    pub secret_id: Option<String>,
    /// Region of the secret (default `us-east-1`).
    pub region: Option<String>,
    /// Endpoint override (a local Secrets Manager for development and tests).
    pub endpoint: Option<String>,
    /// A PEM file (or a secret-shaped JSON file) instead of Secrets Manager.
    pub file: Option<PathBuf>,
    /// How long a fetched key is used before it is fetched again (rotation
    /// is picked up within this time).
    pub refresh_seconds: Option<u64>,
    /// How long past its refresh time a key keeps serving while the source
    /// is failing.
    pub stale_limit_seconds: Option<u64>,
}

/// Configuration as written (JSON / environment), before validation.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub mode: Option<String>,
    pub ttl_seconds: Option<u64>,
    pub bucket_seconds: Option<u64>,
    pub suffix: Option<String>,
    pub dash_suffix: Option<String>,
    pub key_pair_id: Option<String>,
    pub hash: Option<String>,
    pub key: KeyConfig,
    pub origin: Option<String>,
    pub distribution_host: Option<String>,
    pub distribution_endpoint: Option<String>,
    pub host_header: Option<String>,
    pub grant_header: Option<String>,
    pub extra_hosts: Option<Vec<String>>,
    pub ip_pinning: Option<String>,
    pub ipv6_viewers: Option<String>,
    pub confine_segments: Option<usize>,
    pub delivery: Option<String>,
    pub cookie_domain: Option<String>,
    pub cookie_same_site: Option<String>,
    /// The key group's public keys: key pair id → PEM (or `@path` to a PEM
    /// file).
    pub trusted_keys: Option<std::collections::BTreeMap<String, String>>,
    pub grant_cookie_header: Option<String>,
    pub cors_allowed_origins: Option<Vec<String>>,
    pub signature_cache_size: Option<usize>,
    pub playlist_cache_size: Option<usize>,
    pub connect_timeout_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub max_playlist_bytes: Option<usize>,
    pub gzip: Option<bool>,
}

/// Where the key comes from, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySourceConfig {
    SecretsManager {
        secret_id: String,
        region: String,
        endpoint: Option<String>,
    },
    File(PathBuf),
}

/// The validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub rewrite: RewriteOptions,
    /// Used when the secret does not name its key pair.
    pub key_pair_id: Option<String>,
    /// `None`: the key's own default (SHA-1 for RSA, SHA-256 for ECDSA).
    pub hash: Option<HashAlgorithm>,
    pub key_source: KeySourceConfig,
    pub key_refresh: Duration,
    pub key_stale_limit: Duration,
    /// Base URL of the origin (`scheme://host[:port]`); `None` means the
    /// distribution itself (the origin URL is then signed).
    pub origin: Option<String>,
    /// The distribution's host when the event does not carry it (function URL).
    pub distribution_host: Option<String>,
    /// Where the distribution is reached for the function's own origin fetch
    /// when `origin` is unset (`scheme://host[:port]`; default
    /// `https://<distribution host>`). The fetch is still signed for
    /// `https://<distribution host>/…`, as CloudFront sees it; the local
    /// emulator, listening on plain HTTP on loopback, sets this.
    pub distribution_endpoint: Option<String>,
    /// Header carrying the viewer's host in the function-URL deployment.
    pub host_header: String,
    /// Header carrying the viewer's signing parameters in the function-URL
    /// deployment (verified before use); `None` disables it.
    pub grant_header: Option<String>,
    /// Header carrying the viewer's `CloudFront-*` cookies in the
    /// function-URL deployment (verified before use); `None` disables it.
    pub grant_cookie_header: Option<String>,
    /// Public keys whose grants the function accepts (the key group), besides
    /// the ones derived from the secret.
    pub trusted_keys: TrustedKeys,
    pub cors_allowed_origins: Vec<String>,
    /// How URIs reach their grants unless a viewer's URL chooses
    /// (see [`crate::delivery`]).
    pub delivery: Delivery,
    /// `Domain` of the cookies the `cookies` delivery sets (none: the
    /// distribution's host only).
    pub cookie_domain: Option<String>,
    /// `SameSite` of those cookies: `Strict`, `Lax` (default) or `None`
    /// (a player page on another site; the cookies are always `Secure`).
    pub cookie_same_site: String,
    pub signature_cache_size: usize,
    pub playlist_cache_size: usize,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub max_playlist_bytes: usize,
    pub gzip: bool,
}

impl RawConfig {
    /// Parses a JSON configuration (unknown fields are refused).
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))
    }

    /// Fields set in `other` replace ours.
    pub fn merge(mut self, other: RawConfig) -> Self {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(
            mode,
            ttl_seconds,
            bucket_seconds,
            suffix,
            dash_suffix,
            key_pair_id,
            hash,
            origin,
            distribution_host,
            distribution_endpoint,
            host_header,
            grant_header,
            extra_hosts,
            ip_pinning,
            ipv6_viewers,
            confine_segments,
            delivery,
            cookie_domain,
            cookie_same_site,
            grant_cookie_header,
            cors_allowed_origins,
            signature_cache_size,
            playlist_cache_size,
            connect_timeout_ms,
            timeout_ms,
            max_playlist_bytes,
            gzip
        );
        // Trusted keys accumulate: each layer adds keys of the key group.
        if let Some(keys) = other.trusted_keys {
            self.trusted_keys
                .get_or_insert_with(Default::default)
                .extend(keys);
        }
        let key = other.key;
        macro_rules! take_key {
            ($($f:ident),*) => { $( if key.$f.is_some() { self.key.$f = key.$f; } )* };
        }
        take_key!(
            secret_id,
            region,
            endpoint,
            file,
            refresh_seconds,
            stale_limit_seconds
        );
        self
    }

    /// Reads `HLS_*` variables through `lookup` (normally `std::env::var`).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let number = |name: &'static str| -> Result<Option<u64>, ConfigError> {
            text(name)
                .map(|v| {
                    v.trim()
                        .parse()
                        .map_err(|_| field(name, format!("`{v}` is not a number")))
                })
                .transpose()
        };
        let list = |name: &str| {
            lookup(name).map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
        };
        let gzip = match text("HLS_GZIP").as_deref() {
            None => None,
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(other) => return Err(field("HLS_GZIP", format!("`{other}` is not true/false"))),
        };
        Ok(Self {
            mode: text("HLS_MODE"),
            ttl_seconds: number("HLS_TTL")?,
            bucket_seconds: number("HLS_BUCKET")?,
            // An empty suffix is meaningful (no rename).
            suffix: lookup("HLS_SUFFIX"),
            dash_suffix: lookup("HLS_DASH_SUFFIX"),
            key_pair_id: text("HLS_KEY_PAIR_ID"),
            hash: text("HLS_HASH"),
            key: KeyConfig {
                secret_id: text("HLS_SECRET_ID"),
                region: text("HLS_SECRET_REGION"),
                endpoint: text("HLS_SECRET_ENDPOINT"),
                file: text("HLS_KEY_FILE").map(PathBuf::from),
                refresh_seconds: number("HLS_KEY_REFRESH")?,
                stale_limit_seconds: number("HLS_KEY_STALE_LIMIT")?,
            },
            origin: text("HLS_ORIGIN"),
            distribution_host: text("HLS_DISTRIBUTION_HOST"),
            distribution_endpoint: text("HLS_DISTRIBUTION_ENDPOINT"),
            host_header: text("HLS_HOST_HEADER"),
            grant_header: lookup("HLS_GRANT_HEADER"),
            grant_cookie_header: lookup("HLS_GRANT_COOKIE_HEADER"),
            extra_hosts: list("HLS_EXTRA_HOSTS"),
            ip_pinning: text("HLS_IP_PINNING"),
            ipv6_viewers: text("HLS_IPV6_VIEWERS"),
            confine_segments: number("HLS_CONFINE_SEGMENTS")?.map(|n| n as usize),
            delivery: text("HLS_DELIVERY"),
            cookie_domain: text("HLS_COOKIE_DOMAIN"),
            cookie_same_site: text("HLS_COOKIE_SAME_SITE"),
            trusted_keys: text("HLS_TRUSTED_KEYS")
                .map(|v| parse_trusted_keys_env(&v))
                .transpose()?,
            cors_allowed_origins: list("HLS_CORS_ORIGINS"),
            signature_cache_size: number("HLS_SIGNATURE_CACHE_SIZE")?.map(|n| n as usize),
            playlist_cache_size: number("HLS_PLAYLIST_CACHE_SIZE")?.map(|n| n as usize),
            connect_timeout_ms: number("HLS_CONNECT_TIMEOUT_MS")?,
            timeout_ms: number("HLS_TIMEOUT_MS")?,
            max_playlist_bytes: number("HLS_MAX_PLAYLIST_BYTES")?.map(|n| n as usize),
            gzip,
        })
    }

    /// Checks every field and fills in defaults.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let mode = match self.mode.as_deref() {
            None => Mode::Wildcard,
            Some(text) => text.parse().map_err(|e: String| field("mode", e))?,
        };
        let ttl = self.ttl_seconds.unwrap_or(3600);
        if ttl == 0 || ttl > 7 * 24 * 3600 {
            return Err(field("ttl_seconds", "must be between 1 and 604800"));
        }
        let bucket = self.bucket_seconds.unwrap_or(60);
        if bucket > ttl {
            return Err(field("bucket_seconds", "must not exceed ttl_seconds"));
        }
        let check_suffix = |name: &'static str, suffix: String| {
            if !suffix.is_empty()
                && (!suffix.starts_with('.')
                    || !suffix[1..]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
            {
                return Err(field(
                    name,
                    format!(
                        "`{suffix}` must be empty or `.` followed by letters, digits, `_` or `-`"
                    ),
                ));
            }
            Ok(suffix)
        };
        let suffix = check_suffix("suffix", self.suffix.unwrap_or_else(|| "._m3u8".to_owned()))?;
        let dash_suffix = check_suffix(
            "dash_suffix",
            self.dash_suffix.unwrap_or_else(|| "._mpd".to_owned()),
        )?;
        // Compared as routed: an empty suffix routes the origin extension.
        let routes = crate::manifest::Routes {
            hls: &suffix,
            dash: &dash_suffix,
        };
        let same_route = routes.suffix(crate::manifest::ManifestFormat::Hls)
            == routes.suffix(crate::manifest::ManifestFormat::Dash);
        if same_route || (!dash_suffix.is_empty() && dash_suffix == ".mpd") {
            return Err(field(
                "dash_suffix",
                "must differ from the HLS suffix and from .mpd itself",
            ));
        }
        let hash = match self.hash.as_deref() {
            None => None,
            Some("sha1" | "SHA1") => Some(HashAlgorithm::Sha1),
            Some("sha256" | "SHA256") => Some(HashAlgorithm::Sha256),
            Some(other) => return Err(field("hash", format!("`{other}` is not sha1 or sha256"))),
        };
        let ipv6_viewers = match self.ipv6_viewers.as_deref().unwrap_or("refuse") {
            "refuse" => Ipv6Viewers::Refuse,
            "unpinned" => Ipv6Viewers::Unpinned,
            other => {
                return Err(field(
                    "ipv6_viewers",
                    format!("`{other}` is not refuse or unpinned"),
                ))
            }
        };
        let delivery = match self.delivery.as_deref() {
            None => Delivery::Rewrite,
            Some(text) => text.parse().map_err(|e: String| field("delivery", e))?,
        };
        let cookie_same_site = match self.cookie_same_site.as_deref().unwrap_or("Lax") {
            value @ ("Strict" | "Lax" | "None") => value.to_owned(),
            other => {
                return Err(field(
                    "cookie_same_site",
                    format!(
                        "`{}` is not Strict, Lax or None",
                        other.chars().take(32).collect::<String>()
                    ),
                ))
            }
        };
        let cookie_domain = match self.cookie_domain {
            Some(domain) if domain.is_empty() || !is_cookie_domain(&domain) => {
                return Err(field(
                    "cookie_domain",
                    "must be a host name of two or more labels (letters, digits and `-`, joined by `.`)",
                ))
            }
            other => other,
        };
        let confinement = match self.confine_segments {
            None => None,
            Some(n) if n <= 32 => Some(Confinement { segments: n }),
            Some(_) => return Err(field("confine_segments", "must be between 0 and 32")),
        };
        let mut trusted_keys = TrustedKeys::new();
        for (id, pem) in self.trusted_keys.unwrap_or_default() {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(field(
                    "trusted_keys",
                    "a key pair id must be letters and digits",
                ));
            }
            let pem = match pem.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| field("trusted_keys", format!("key `{id}`: {path}: {e}")))?,
                None => pem.replace("\\n", "\n"),
            };
            let key = PublicKey::from_pem(&pem)
                .map_err(|e| field("trusted_keys", format!("key `{id}`: {e}")))?;
            trusted_keys.insert(&id, key);
        }
        let ip_pinning = match self.ip_pinning.as_deref().unwrap_or("inherit") {
            "inherit" => IpPinning::Inherit,
            "client" => IpPinning::ClientAddress,
            range => IpPinning::Range(
                range
                    .parse()
                    .map_err(|e| field("ip_pinning", format!("`{range}`: {e}")))?,
            ),
        };
        let key = self.key;
        let key_source = match (key.secret_id, key.file) {
            (Some(_), Some(_)) => {
                return Err(field("key", "set either secret_id or file, not both"));
            }
            (Some(secret_id), None) => KeySourceConfig::SecretsManager {
                secret_id,
                region: key.region.unwrap_or_else(|| "us-east-1".to_owned()),
                endpoint: key
                    .endpoint
                    .map(|e| check_loopback_or_https("key.endpoint", e))
                    .transpose()?,
            },
            (None, Some(file)) => KeySourceConfig::File(file),
            (None, None) => {
                return Err(field(
                    "key",
                    "no key source: set key.secret_id (HLS_SECRET_ID) or key.file (HLS_KEY_FILE)",
                ));
            }
        };
        let origin = self.origin.map(check_origin).transpose()?;
        let distribution_endpoint = self
            .distribution_endpoint
            .map(|e| check_loopback_or_https("distribution_endpoint", e))
            .transpose()?
            .map(|e| e.trim_end_matches('/').to_owned());
        let extra_hosts = self
            .extra_hosts
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let header = |name: &'static str, value: Option<String>, default: &str| {
            let value = value
                .unwrap_or_else(|| default.to_owned())
                .to_ascii_lowercase();
            if value.is_empty()
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                Err(field(name, format!("`{value}` is not a header name")))
            } else {
                Ok(value)
            }
        };
        let grant_header = match self.grant_header {
            Some(h) if h.is_empty() => None,
            other => Some(header("grant_header", other, "x-hls-viewer-grant")?),
        };
        let grant_cookie_header = match self.grant_cookie_header {
            Some(h) if h.is_empty() => None,
            other => Some(header(
                "grant_cookie_header",
                other,
                "x-hls-viewer-cookies",
            )?),
        };
        let timeout = Duration::from_millis(self.timeout_ms.unwrap_or(3000));
        let connect_timeout = Duration::from_millis(self.connect_timeout_ms.unwrap_or(1000));
        if timeout.is_zero() || connect_timeout.is_zero() || connect_timeout > timeout {
            return Err(field(
                "timeout_ms",
                "timeouts must be positive and connect_timeout_ms ≤ timeout_ms",
            ));
        }
        Ok(Config {
            rewrite: RewriteOptions {
                mode,
                expiry: Expiry::Ttl { ttl, bucket },
                ip_pinning,
                ipv6_viewers,
                suffix,
                dash_suffix,
                extra_hosts,
                confinement,
            },
            key_pair_id: self.key_pair_id,
            hash,
            key_source,
            key_refresh: Duration::from_secs(key.refresh_seconds.unwrap_or(300)),
            key_stale_limit: Duration::from_secs(key.stale_limit_seconds.unwrap_or(3600)),
            origin,
            distribution_host: self.distribution_host.map(|h| h.to_ascii_lowercase()),
            distribution_endpoint,
            host_header: header("host_header", self.host_header, "x-hls-viewer-host")?,
            grant_header,
            grant_cookie_header,
            trusted_keys,
            cors_allowed_origins: self.cors_allowed_origins.unwrap_or_default(),
            delivery,
            cookie_domain,
            cookie_same_site,
            signature_cache_size: self.signature_cache_size.unwrap_or(4096).max(1),
            playlist_cache_size: self.playlist_cache_size.unwrap_or(64),
            connect_timeout,
            timeout,
            max_playlist_bytes: self.max_playlist_bytes.unwrap_or(2 << 20),
            gzip: self.gzip.unwrap_or(true),
        })
    }
}

/// A cookie `Domain`: a host name of at least two labels (browsers refuse
/// a single label, and a public suffix would share the cookies with every
/// site under it), nothing that could end the attribute.
fn is_cookie_domain(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The one way every entry point — the Lambda binary, `hls-sign manifest`,
/// `invoke` and `serve` — builds its configuration: the same layers in the
/// same order, each merged onto the previous (fields a layer sets replace
/// earlier ones; trusted keys accumulate), then one validation with the same
/// defaults.
///
/// 1. the JSON compiled into the binary;
/// 2. a file: `--config FILE` for the CLI, else `HLS_CONFIG_FILE`, else
///    `hls-edge-signer.json` beside the binary;
/// 3. `HLS_*` environment variables;
/// 4. the command line's own options.
///
/// ```
/// use hls_edge_signer::config::{ConfigBuilder, RawConfig};
/// let mut flags = RawConfig::default();
/// flags.key.file = Some("key.pem".into());
/// flags.mode = Some("canned".into());
/// let config = ConfigBuilder::compiled_in()
///     .unwrap()
///     .environment(|_| None)
///     .unwrap()
///     .layer(flags)
///     .build()
///     .unwrap();
/// assert_eq!(config.rewrite.mode.as_str(), "canned");
/// ```
#[derive(Clone, Debug)]
pub struct ConfigBuilder {
    raw: RawConfig,
}

impl ConfigBuilder {
    /// Starts from the compiled-in JSON.
    pub fn compiled_in() -> Result<Self, ConfigError> {
        Ok(Self {
            raw: RawConfig::from_json(COMPILED_IN)?,
        })
    }

    /// Merges the file layer: `explicit` when given, else `HLS_CONFIG_FILE`,
    /// else `hls-edge-signer.json` beside the running binary when present.
    pub fn file(mut self, explicit: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let path = explicit
            .map(std::path::Path::to_path_buf)
            .or_else(|| std::env::var_os("HLS_CONFIG_FILE").map(PathBuf::from))
            .or_else(|| {
                let beside = std::env::current_exe()
                    .ok()?
                    .with_file_name(FILE_BESIDE_BINARY);
                beside.is_file().then_some(beside)
            });
        if let Some(path) = path {
            self.raw = self.raw.merge(read_file(&path)?);
        }
        Ok(self)
    }

    /// Merges `HLS_*` variables read through `lookup` (normally
    /// `std::env::var`).
    pub fn environment(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        self.raw = self.raw.merge(RawConfig::from_env(lookup)?);
        Ok(self)
    }

    /// Uses the private key in `path` (a PEM or secret-shaped JSON file)
    /// instead of any key source an earlier layer named.
    pub fn key_file(mut self, path: PathBuf, key_pair_id: Option<String>) -> Self {
        self.raw.key = KeyConfig {
            file: Some(path),
            refresh_seconds: self.raw.key.refresh_seconds,
            stale_limit_seconds: self.raw.key.stale_limit_seconds,
            ..KeyConfig::default()
        };
        if key_pair_id.is_some() {
            self.raw.key_pair_id = key_pair_id;
        }
        self
    }

    /// Merges a layer of explicit settings (a command line's options).
    pub fn layer(mut self, raw: RawConfig) -> Self {
        self.raw = self.raw.merge(raw);
        self
    }

    /// Validates the merged layers and fills in the defaults.
    pub fn build(self) -> Result<Config, ConfigError> {
        self.raw.validate()
    }
}

impl Config {
    /// The Lambda binary's configuration: every layer but the command line.
    pub fn load() -> Result<Config, ConfigError> {
        ConfigBuilder::compiled_in()?
            .file(None)?
            .environment(|name| std::env::var(name).ok())?
            .build()
    }
}

/// `HLS_TRUSTED_KEYS`: `ID=PEM` entries separated by commas; a PEM may be
/// written on one line with literal `\n` sequences (as the template passes
/// it), or as `@path` to a PEM file. Empty entries are skipped.
fn parse_trusted_keys_env(
    text: &str,
) -> Result<std::collections::BTreeMap<String, String>, ConfigError> {
    let mut keys = std::collections::BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (id, pem) = entry.split_once('=').ok_or_else(|| {
            field(
                "HLS_TRUSTED_KEYS",
                "entries must be KEY_PAIR_ID=PEM, separated by commas",
            )
        })?;
        keys.insert(id.trim().to_owned(), pem.trim().to_owned());
    }
    Ok(keys)
}

/// Reads a JSON configuration file.
pub fn read_file(path: &std::path::Path) -> Result<RawConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    RawConfig::from_json(&text).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// An origin is `http(s)://host[:port]` with no path, query or userinfo:
/// the function appends the request path itself and must never be steered
/// elsewhere.
fn check_origin(origin: String) -> Result<String, ConfigError> {
    let trimmed = origin.trim_end_matches('/');
    let url = crate::uri::AbsoluteUrl::parse(trimmed)
        .map_err(|e| field("origin", format!("`{origin}`: {e}")))?;
    if url.path() != "/" || url.query().is_some() || url.authority().contains('@') {
        return Err(field(
            "origin",
            format!("`{origin}` must be scheme://host[:port] without path, query or user"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// An endpoint override (Secrets Manager, the distribution) must be HTTPS,
/// or plain HTTP on a loopback address (a local emulator): keys and
/// signatures never cross a network in clear.
/// `endpoint` when it is https, or http on a loopback address: where the
/// viewer's grant may travel.
pub fn check_loopback_or_https(
    name: &'static str,
    endpoint: String,
) -> Result<String, ConfigError> {
    let url = crate::uri::AbsoluteUrl::parse(&endpoint)
        .map_err(|e| field(name, format!("`{endpoint}`: {e}")))?;
    let host = url.host().trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if url.scheme() == "https" || loopback {
        Ok(endpoint)
    } else {
        Err(field(
            name,
            format!("`{endpoint}` must be https, or http on a loopback address"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults_need_only_a_key_source() {
        let config = RawConfig::from_json(r#"{"key": {"file": "k.pem"}}"#)
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(config.rewrite, RewriteOptions::default());
        assert_eq!(config.hash, None);
        assert_eq!(config.grant_header.as_deref(), Some("x-hls-viewer-grant"));
        assert_eq!(config.host_header, "x-hls-viewer-host");
        assert!(config.origin.is_none());
        let none = RawConfig::default().validate().unwrap_err();
        assert!(none.to_string().contains("no key source"), "{none}");
    }

    #[test]
    fn environment_overrides_json() {
        let json = RawConfig::from_json(
            r#"{"mode": "canned", "ttl_seconds": 100, "bucket_seconds": 10, "key": {"file": "k.pem"}}"#,
        )
        .unwrap();
        let vars = env(&[
            ("HLS_MODE", "propagate"),
            (
                "HLS_SECRET_ID",
                "arn:aws:secretsmanager:eu-west-1:1:secret:k",
            ),
            ("HLS_SECRET_REGION", "eu-west-1"),
            ("HLS_CORS_ORIGINS", "https://a.example, https://b.example"),
            ("HLS_SUFFIX", ""),
            ("HLS_ORIGIN", "http://127.0.0.1:9000/"),
        ]);
        let mut merged = json.merge(RawConfig::from_env(vars).unwrap());
        merged.key.file = None;
        let config = merged.validate().unwrap();
        assert_eq!(config.rewrite.mode, Mode::Propagate);
        assert_eq!(
            config.rewrite.expiry,
            Expiry::Ttl {
                ttl: 100,
                bucket: 10
            }
        );
        assert_eq!(config.rewrite.suffix, "");
        assert_eq!(config.origin.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(
            config.cors_allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert!(matches!(
            config.key_source,
            KeySourceConfig::SecretsManager { ref region, .. } if region == "eu-west-1"
        ));
    }

    #[test]
    fn every_entry_point_layers_the_same_way() {
        let dir = std::env::temp_dir().join(format!("hls-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.json");
        std::fs::write(
            &file,
            r#"{"mode": "canned", "ttl_seconds": 600, "trusted_keys": {"KA": "@a.pem"}}"#,
        )
        .unwrap();
        let builder = ConfigBuilder {
            raw: RawConfig::from_json(r#"{"bucket_seconds": 30, "gzip": false}"#).unwrap(),
        };
        let merged = builder
            .file(Some(&file))
            .unwrap()
            .environment(env(&[
                ("HLS_TTL", "900"),
                ("HLS_TRUSTED_KEYS", "KB=@b.pem"),
            ]))
            .unwrap()
            .key_file("k.pem".into(), Some("KFLAG".into()))
            .layer(RawConfig {
                mode: Some("directory".into()),
                ..RawConfig::default()
            });
        // The file merges over the compiled-in layer instead of replacing it.
        assert_eq!(merged.raw.bucket_seconds, Some(30));
        assert_eq!(merged.raw.gzip, Some(false));
        // Environment over file, flags over everything.
        assert_eq!(merged.raw.ttl_seconds, Some(900));
        assert_eq!(merged.raw.mode.as_deref(), Some("directory"));
        assert_eq!(merged.raw.key_pair_id.as_deref(), Some("KFLAG"));
        // Trusted keys accumulate across layers.
        let keys: Vec<&String> = merged.raw.trusted_keys.as_ref().unwrap().keys().collect();
        assert_eq!(keys, ["KA", "KB"]);
        // And one validation: the named key files must exist.
        let error = merged.build().unwrap_err().to_string();
        assert!(error.contains("`trusted_keys`"), "{error}");
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (r#"{"mode": "fast"}"#, "`mode`"),
            (r#"{"ttl_seconds": 0}"#, "`ttl_seconds`"),
            (r#"{"hash": "md5"}"#, "`hash`"),
            (r#"{"suffix": "_m3u8"}"#, "`suffix`"),
            (r#"{"ip_pinning": "2001:db8::/32"}"#, "`ip_pinning`"),
            (r#"{"origin": "https://o.example/path"}"#, "`origin`"),
            (r#"{"origin": "https://u@o.example"}"#, "`origin`"),
            (r#"{"host_header": "x y"}"#, "`host_header`"),
            (
                r#"{"key": {"secret_id": "s", "endpoint": "http://10.0.0.1:4566"}}"#,
                "`key.endpoint`",
            ),
            (r#"{"key": {"secret_id": "s", "file": "f"}}"#, "`key`"),
            (r#"{"suffix": "", "dash_suffix": ".m3u8"}"#, "`dash_suffix`"),
            (
                r#"{"suffix": "._x", "dash_suffix": "._x"}"#,
                "`dash_suffix`",
            ),
            (r#"{"cookie_domain": "com"}"#, "`cookie_domain`"),
            (r#"{"cookie_domain": "a..example"}"#, "`cookie_domain`"),
            (r#"{"cookie_domain": ".example.com"}"#, "`cookie_domain`"),
            (r#"{"cookie_domain": "a;b.example"}"#, "`cookie_domain`"),
            (r#"{"delivery": "all"}"#, "`delivery`"),
            (r#"{"cookie_same_site": "lax"}"#, "`cookie_same_site`"),
        ];
        for (json, expected) in cases {
            let mut raw = RawConfig::from_json(json).unwrap();
            if raw.key == KeyConfig::default() {
                raw.key.file = Some("k.pem".into());
            }
            let error = raw.validate().unwrap_err().to_string();
            assert!(error.contains(expected), "{json}: {error}");
        }
        let unknown = RawConfig::from_json(r#"{"ttl": 5}"#).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `ttl`"),
            "{unknown}"
        );
        let env_error = RawConfig::from_env(env(&[("HLS_TTL", "ten")])).unwrap_err();
        assert!(env_error.to_string().contains("HLS_TTL"), "{env_error}");
    }
}
