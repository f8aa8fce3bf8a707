//! What the rewritten URIs may grant: expiry, IP pinning, and a cache of
//! signatures.
//!
//! The rule is that a viewer never gets more than it already holds: the URIs
//! in a rewritten playlist expire no later than the viewer's own signed URL,
//! and stay pinned to the viewer's IP range when it had one.
//!
//! Expiries are rounded up to a bucket boundary so that every request inside a
//! bucket produces identical output: a live playlist keeps each segment's URI
//! stable across reloads (RFC 8216 §6.3.4 expects that), and a warm instance
//! signs each (resource, bucket) once.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::policy::{Condition, Ipv4Cidr, Policy};
use crate::signed_url::{Grant, UrlSigner};
use crate::signer::SignError;

/// When the signatures we issue expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// `now + ttl`, rounded up to a multiple of `bucket` seconds (0 or 1 = no rounding).
    Ttl { ttl: u64, bucket: u64 },
    /// A fixed epoch second.
    At(u64),
}

/// How to restrict the issued signatures by viewer address, beyond the
/// viewer's own restriction (which is always inherited).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpPinning {
    /// Only what the viewer's policy already says.
    #[default]
    Inherit,
    /// Pin to the requesting client's IPv4 address (`/32`).
    ClientAddress,
    /// Pin to a fixed range.
    Range(Ipv4Cidr),
}

/// Why no grant could be computed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrantError {
    #[error("the viewer's signed URL expired at {expires} (now {now})")]
    ViewerExpired { expires: u64, now: u64 },
    #[error("the fixed expiry {expires} is not in the future (now {now})")]
    ExpiryInPast { expires: u64, now: u64 },
}

/// The limits every signature issued for one request shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IssueLimits {
    pub expires: u64,
    pub ip_range: Option<Ipv4Cidr>,
}

impl IssueLimits {
    /// Computes the limits for a request at `now`.
    ///
    /// `viewer` is the grant the viewer presented (already verified by
    /// CloudFront or by us); its expiry caps ours and its IP range is kept.
    pub fn compute(
        expiry: Expiry,
        pinning: IpPinning,
        viewer: Option<&Grant>,
        client_ip: Option<IpAddr>,
        now: u64,
    ) -> Result<Self, GrantError> {
        let ours = match expiry {
            Expiry::Ttl { ttl, bucket } => round_up(now.saturating_add(ttl.max(1)), bucket),
            Expiry::At(expires) if expires > now => expires,
            Expiry::At(expires) => return Err(GrantError::ExpiryInPast { expires, now }),
        };
        let expires = match viewer.map(|g| g.policy.expires()) {
            Some(cap) if cap <= now => return Err(GrantError::ViewerExpired { expires: cap, now }),
            Some(cap) => ours.min(cap),
            None => ours,
        };
        let inherited = viewer.and_then(|g| g.policy.ip_range());
        let pinned = match (pinning, client_ip) {
            (IpPinning::Range(range), _) => Some(range),
            (IpPinning::ClientAddress, Some(IpAddr::V4(v4))) => Some(Ipv4Cidr::host(v4)),
            _ => None,
        };
        // The narrower of the two when both exist and nest; the viewer's own
        // range otherwise, so pinning can never widen what the viewer holds.
        let ip_range = match (inherited, pinned) {
            (Some(viewer_range), Some(pin)) if viewer_range.contains_range(&pin) => Some(pin),
            (Some(viewer_range), _) => Some(viewer_range),
            (None, pin) => pin,
        };
        Ok(Self { expires, ip_range })
    }

    /// A policy for `resource` under these limits.
    pub fn policy(&self, resource: &str) -> Policy {
        let policy = Policy::custom(resource, self.expires);
        match self.ip_range {
            Some(range) => policy.with(Condition::IpAddress(range)),
            None => policy,
        }
    }
}

/// Rounds `t` up to the next multiple of `bucket`.
pub fn round_up(t: u64, bucket: u64) -> u64 {
    if bucket <= 1 {
        return t;
    }
    t.div_ceil(bucket).saturating_mul(bucket)
}

/// A bounded cache of signing parameters, keyed by the policy (resource,
/// expiry, IP range) and its form. Belongs to one signer: a new key means a
/// new cache.
///
/// First in, first out: eviction order does not matter much when a bucket's
/// entries all age out together, and FIFO needs no bookkeeping on hits.
pub struct SignatureCache {
    entries: Mutex<CacheEntries>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Default)]
struct CacheEntries {
    map: HashMap<(Policy, bool), Arc<str>>,
    order: VecDeque<(Policy, bool)>,
}

impl SignatureCache {
    /// A cache holding at most `capacity` signatures (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(CacheEntries::default()),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The query-string signing parameters for `policy`, signed on a miss.
    /// Returns whether it was a cache hit.
    pub fn get_or_sign(
        &self,
        signer: &UrlSigner,
        policy: &Policy,
        canned: bool,
    ) -> Result<(Arc<str>, bool), SignError> {
        let key = (policy.clone(), canned);
        if let Some(found) = self.lock().map.get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok((found.clone(), true));
        }
        // Sign outside the lock: a signature costs far more than a lookup.
        let query: Arc<str> = signer.sign_policy(policy, canned)?.to_query().into();
        self.misses.fetch_add(1, Ordering::Relaxed);
        if self.capacity > 0 {
            let mut entries = self.lock();
            if entries.map.len() >= self.capacity {
                if let Some(oldest) = entries.order.pop_front() {
                    entries.map.remove(&oldest);
                }
            }
            if entries.map.insert(key.clone(), query.clone()).is_none() {
                entries.order.push_back(key);
            }
        }
        Ok((query, false))
    }

    /// Number of cached signatures.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lifetime (hits, misses).
    pub fn counters(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheEntries> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (each operation is a single insert/remove), so poisoning is ignored.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signed_url::read_grant;

    #[test]
    fn rounding() {
        assert_eq!(round_up(101, 60), 120);
        assert_eq!(round_up(120, 60), 120);
        assert_eq!(round_up(101, 0), 101);
        assert_eq!(round_up(u64::MAX, 60), u64::MAX);
    }

    fn viewer(query: &str) -> Grant {
        read_grant(&format!("https://h/v/i._m3u8?{query}"), &[]).unwrap()
    }

    #[test]
    fn expiry_is_capped_by_the_viewer() {
        let ttl = Expiry::Ttl {
            ttl: 300,
            bucket: 60,
        };
        let none = IssueLimits::compute(ttl, IpPinning::Inherit, None, None, 1000).unwrap();
        assert_eq!(none.expires, 1320);
        let v = viewer("Expires=1200&Signature=AAAA&Key-Pair-Id=K");
        let capped = IssueLimits::compute(ttl, IpPinning::Inherit, Some(&v), None, 1000).unwrap();
        assert_eq!(capped.expires, 1200);
        assert_eq!(
            IssueLimits::compute(ttl, IpPinning::Inherit, Some(&v), None, 1200),
            Err(GrantError::ViewerExpired {
                expires: 1200,
                now: 1200
            })
        );
        assert_eq!(
            IssueLimits::compute(Expiry::At(5), IpPinning::Inherit, None, None, 5),
            Err(GrantError::ExpiryInPast { expires: 5, now: 5 })
        );
    }

    #[test]
    fn ip_pinning_never_widens() {
        let ttl = Expiry::Ttl { ttl: 60, bucket: 1 };
        let policy =
            Policy::custom("*", 5000).with(Condition::IpAddress("10.0.0.0/8".parse().unwrap()));
        let encoded = crate::cf_base64::encode(policy.to_json().as_bytes());
        let v = viewer(&format!("Policy={encoded}&Signature=AAAA&Key-Pair-Id=K"));
        let client: IpAddr = "10.1.2.3".parse().unwrap();
        let outside: IpAddr = "11.1.2.3".parse().unwrap();
        let limits = |pin, ip| IssueLimits::compute(ttl, pin, Some(&v), Some(ip), 0).unwrap();
        assert_eq!(
            limits(IpPinning::Inherit, client).ip_range,
            policy.ip_range()
        );
        assert_eq!(
            limits(IpPinning::ClientAddress, client).ip_range,
            Some("10.1.2.3/32".parse().unwrap())
        );
        assert_eq!(
            limits(IpPinning::ClientAddress, outside).ip_range,
            policy.ip_range()
        );
        let wide = IpPinning::Range("0.0.0.0/0".parse().unwrap());
        assert_eq!(limits(wide, client).ip_range, policy.ip_range());
        let v6 = IssueLimits::compute(
            ttl,
            IpPinning::ClientAddress,
            None,
            Some("::1".parse().unwrap()),
            0,
        );
        assert_eq!(v6.unwrap().ip_range, None);
    }
}
