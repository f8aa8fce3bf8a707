//! The signing key: fetched from Secrets Manager (or a file), parsed once,
//! and cached across warm invocations.
//!
//! Why not `aws_secretsmanager_caching`: it caches the secret *string*, so
//! every cache hit would still parse the PEM and rebuild the RSA key (about
//! a millisecond), and its stale-on-error mode has no age limit. Here the
//! cache holds the parsed signer, refreshes after `refresh` with one fetch at
//! a time (concurrent requests keep using the current key meanwhile), keeps
//! serving the last good key while the source fails — but only up to
//! `stale_limit` past its refresh time, after which requests fail loudly
//! rather than sign with a key that may have been revoked.
//!
//! Secret formats: a PEM string, or JSON
//! `{"private_key": PEM, "key_pair_id": ID, "previous": {"private_key", "key_pair_id"}}`.
//! `previous` (during a rotation) is only used to *verify* viewer grants
//! issued with the old key. Key material never appears in errors or logs.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};
use zeroize::Zeroizing;

use crate::config::{Config, KeySourceConfig};
use crate::signed_url::UrlSigner;
use crate::verify::TrustedKeys;
use crate::{HashAlgorithm, PrivateKey, RsaBackend};

/// Why no key is available. Messages name the source, never the material.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeySourceError {
    #[error("secret {secret}: {reason}")]
    Fetch { secret: String, reason: String },
    #[error("key file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("the secret's content is not usable: {0}")]
    Content(String),
    #[error("no key pair id: set key_pair_id in the config or in the secret")]
    NoKeyPairId,
    #[error("signing key unavailable for {stale_for}s (limit {limit}s): {last_error}")]
    StaleLimit {
        stale_for: u64,
        limit: u64,
        last_error: String,
    },
}

/// A parsed key and what it is used for.
pub struct KeyMaterial {
    pub signer: UrlSigner,
    /// The keys whose grants are accepted: the configured key group plus
    /// the public halves of the current and previous keys in the secret.
    pub trusted: TrustedKeys,
    /// Changes whenever the key changes (rewriters are rebuilt then).
    pub generation: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretJson {
    private_key: Zeroizing<String>,
    key_pair_id: Option<String>,
    previous: Option<PreviousKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviousKey {
    private_key: Zeroizing<String>,
    key_pair_id: String,
}

/// Parses a secret (PEM or JSON) into key material.
pub fn parse_secret(
    text: &str,
    default_key_pair_id: Option<&str>,
    hash: Option<HashAlgorithm>,
    key_group: &TrustedKeys,
    generation: u64,
) -> Result<KeyMaterial, KeySourceError> {
    let content = |e: &dyn std::fmt::Display| KeySourceError::Content(e.to_string());
    let trimmed = text.trim_start();
    let (pem, key_pair_id, previous) = if trimmed.starts_with('{') {
        // serde_json's messages quote no input values, only positions.
        let json: SecretJson = serde_json::from_str(trimmed).map_err(|e| {
            KeySourceError::Content(format!("JSON secret: {}", e.classify_message()))
        })?;
        (json.private_key, json.key_pair_id, json.previous)
    } else {
        (Zeroizing::new(text.to_owned()), None, None)
    };
    let key = PrivateKey::from_pem(&pem).map_err(|e| content(&e))?;
    let key_pair_id = key_pair_id
        .or_else(|| default_key_pair_id.map(str::to_owned))
        .ok_or(KeySourceError::NoKeyPairId)?;
    let mut trusted = key_group.clone();
    trusted.insert(&key_pair_id, key.public_key().map_err(|e| content(&e))?);
    if let Some(previous) = previous {
        let old = PrivateKey::from_pem(&previous.private_key)
            .map_err(|e| KeySourceError::Content(format!("previous key: {e}")))?;
        let old = old
            .public_key()
            .map_err(|e| KeySourceError::Content(format!("previous key: {e}")))?;
        trusted.insert(&previous.key_pair_id, old);
    }
    let signer = UrlSigner::new(
        key.signer(RsaBackend::AwsLc).map_err(|e| content(&e))?,
        &key_pair_id,
        hash.unwrap_or_else(|| key.default_hash()),
    )
    .map_err(|e| content(&e))?;
    Ok(KeyMaterial {
        signer,
        trusted,
        generation,
    })
}

trait ClassifyMessage {
    fn classify_message(&self) -> String;
}

impl ClassifyMessage for serde_json::Error {
    /// The error's category and position, without the offending text.
    fn classify_message(&self) -> String {
        let what = match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "missing or unexpected field",
            serde_json::error::Category::Eof => "truncated",
        };
        format!("{what} at line {} column {}", self.line(), self.column())
    }
}

/// Where secrets come from.
pub enum KeySource {
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
    File(std::path::PathBuf),
}

impl KeySource {
    /// Builds the source; the AWS client (if any) is created once here.
    pub async fn from_config(config: &KeySourceConfig) -> KeySource {
        match config {
            KeySourceConfig::File(path) => KeySource::File(path.clone()),
            KeySourceConfig::SecretsManager {
                secret_id,
                region,
                endpoint,
            } => {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(region.clone()));
                if let Some(endpoint) = endpoint {
                    loader = loader.endpoint_url(endpoint);
                }
                let shared = loader.load().await;
                KeySource::SecretsManager {
                    client: aws_sdk_secretsmanager::Client::new(&shared),
                    secret_id: secret_id.clone(),
                }
            }
        }
    }

    /// Fetches the secret's text.
    async fn fetch(&self) -> Result<Zeroizing<String>, KeySourceError> {
        match self {
            KeySource::File(path) => {
                std::fs::read_to_string(path)
                    .map(Zeroizing::new)
                    .map_err(|e| KeySourceError::File {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })
            }
            KeySource::SecretsManager { client, secret_id } => {
                let fail = |reason: String| KeySourceError::Fetch {
                    secret: secret_id.clone(),
                    reason,
                };
                let output = client
                    .get_secret_value()
                    .secret_id(secret_id)
                    .send()
                    .await
                    .map_err(|e| {
                        fail(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())
                    })?;
                output.secret_string.map(Zeroizing::new).ok_or_else(|| {
                    fail("the secret has no SecretString (binary secrets are not supported)".into())
                })
            }
        }
    }
}

struct Cached {
    key: Arc<KeyMaterial>,
    /// When (epoch seconds) the key should be fetched again.
    refresh_at: u64,
    /// While the source fails: when to try again (0 when fresh).
    retry_at: u64,
}

/// The warm-instance key cache.
pub struct KeyCache {
    source: KeySource,
    default_key_pair_id: Option<String>,
    hash: Option<HashAlgorithm>,
    key_group: TrustedKeys,
    refresh: Duration,
    stale_limit: Duration,
    current: RwLock<Option<Cached>>,
    /// Held by the one request that refreshes.
    refreshing: Mutex<()>,
    /// The last refresh error while a stale key is served (for logs); a
    /// plain lock, so reading it never waits for a fetch in progress.
    degraded: std::sync::Mutex<Option<String>>,
}

/// While the source fails, how long a stale key is served before the
/// next fetch attempt (so an outage costs one failing fetch per interval,
/// not one per request).
const RETRY_SECONDS: u64 = 5;

impl KeyCache {
    pub fn new(source: KeySource, config: &Config) -> Self {
        Self {
            source,
            default_key_pair_id: config.key_pair_id.clone(),
            hash: config.hash,
            key_group: config.trusted_keys.clone(),
            refresh: config.key_refresh,
            stale_limit: config.key_stale_limit,
            current: RwLock::new(None),
            refreshing: Mutex::new(()),
            degraded: std::sync::Mutex::new(None),
        }
    }

    /// The cached key if it may be used at `now` without a fetch: fresh, or
    /// stale within the limit and waiting for its next retry.
    async fn usable(&self, now: u64, allow_stale: bool) -> Option<Arc<KeyMaterial>> {
        let current = self.current.read().await;
        let cached = current.as_ref()?;
        let within_limit = now.saturating_sub(cached.refresh_at) <= self.stale_limit.as_secs();
        let usable =
            now < cached.refresh_at || (within_limit && (now < cached.retry_at || allow_stale));
        usable.then(|| cached.key.clone())
    }

    /// The key to sign with at `now` (epoch seconds).
    pub async fn get(&self, now: u64) -> Result<Arc<KeyMaterial>, KeySourceError> {
        if let Some(key) = self.usable(now, false).await {
            return Ok(key);
        }
        // Refresh: one request fetches. Others keep using the current key
        // while it is within the stale limit, or wait for the fetch.
        let _refreshing = match self.refreshing.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                if let Some(key) = self.usable(now, true).await {
                    return Ok(key);
                }
                self.refreshing.lock().await
            }
        };
        if let Some(key) = self.usable(now, false).await {
            return Ok(key); // someone else refreshed meanwhile
        }
        let previous = self
            .current
            .read()
            .await
            .as_ref()
            .map(|c| (c.key.clone(), c.refresh_at));
        let generation = previous.as_ref().map_or(0, |(k, _)| k.generation + 1);
        let fetched = match self.source.fetch().await {
            Ok(text) => parse_secret(
                &text,
                self.default_key_pair_id.as_deref(),
                self.hash,
                &self.key_group,
                generation,
            ),
            Err(e) => Err(e),
        };
        let degraded = |error: Option<String>| {
            *self.degraded.lock().unwrap_or_else(|e| e.into_inner()) = error;
        };
        match fetched {
            Ok(key) => {
                let key = Arc::new(key);
                *self.current.write().await = Some(Cached {
                    key: key.clone(),
                    refresh_at: now + self.refresh.as_secs(),
                    retry_at: 0,
                });
                degraded(None);
                Ok(key)
            }
            Err(error) => {
                let Some((key, refresh_at)) = previous else {
                    return Err(error);
                };
                let stale_for = now.saturating_sub(refresh_at);
                if stale_for <= self.stale_limit.as_secs() {
                    if let Some(cached) = self.current.write().await.as_mut() {
                        cached.retry_at = now + RETRY_SECONDS;
                    }
                    degraded(Some(error.to_string()));
                    Ok(key)
                } else {
                    Err(KeySourceError::StaleLimit {
                        stale_for,
                        limit: self.stale_limit.as_secs(),
                        last_error: error.to_string(),
                    })
                }
            }
        }
    }

    /// The last refresh error while a stale key is being served, for logs.
    pub fn degraded(&self) -> Option<String> {
        self.degraded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_pem;
    use crate::KeyAlgorithm;

    #[test]
    fn secret_formats() {
        let (pem, _) = generate_pem(KeyAlgorithm::EcdsaP256).unwrap();
        let (old, _) = generate_pem(KeyAlgorithm::EcdsaP256).unwrap();
        let plain = parse_secret(
            &pem,
            Some("KCONF"),
            Some(HashAlgorithm::Sha256),
            &TrustedKeys::new(),
            0,
        )
        .unwrap();
        assert_eq!(plain.signer.key_pair_id(), "KCONF");
        let json = serde_json::json!({
            "private_key": pem.as_str(),
            "key_pair_id": "KNEW",
            "previous": {"private_key": old.as_str(), "key_pair_id": "KOLD"},
        })
        .to_string();
        let rotated = parse_secret(
            &json,
            Some("KCONF"),
            Some(HashAlgorithm::Sha256),
            &TrustedKeys::new(),
            3,
        )
        .unwrap();
        assert_eq!(rotated.signer.key_pair_id(), "KNEW");
        assert!(rotated.trusted.get("KOLD").is_some());
        assert!(rotated.trusted.get("KNEW").is_some());
        assert_eq!(rotated.generation, 3);
    }

    #[test]
    fn bad_secrets_say_why_without_quoting_them() {
        let secret_text = "{\"private_key\": \"-----BEGIN PRIVATE KEY-----SECRETSTUFF\"";
        let error = parse_secret(secret_text, Some("K"), None, &TrustedKeys::new(), 0)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("truncated"), "{error}");
        assert!(!error.contains("SECRETSTUFF"));
        let garbage = parse_secret("SECRETSTUFF", Some("K"), None, &TrustedKeys::new(), 0)
            .err()
            .unwrap()
            .to_string();
        assert!(!garbage.contains("SECRETSTUFF"), "{garbage}");
        let (pem, _) = generate_pem(KeyAlgorithm::EcdsaP256).unwrap();
        assert_eq!(
            parse_secret(&pem, None, None, &TrustedKeys::new(), 0).err(),
            Some(KeySourceError::NoKeyPairId)
        );
    }
}
