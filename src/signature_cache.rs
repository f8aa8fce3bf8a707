//! A bounded cache of signatures, so a warm instance signs each (policy,
//! form) once per key.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::policy::Policy;
use crate::signed_url::UrlSigner;
use crate::signer::SignError;

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
